//! Capabilities: the decoded [`Cap`] the object model computes with, and its
//! two-word in-memory encoding (what a slot stores).
//!
//! Word 0 holds the type tag (bits 63..59, the seL4 cap tag of docs/sel4-abi.md
//! §8.6) and the object address with small fields; word 1 holds the badge,
//! guard, free index or mapping. `decode(encode(c)) == c` for every cap the
//! kernel can make (checked by a property test).
#![forbid(unsafe_code)]

use cerne_abi::object::CapTag;
use cerne_abi::rights::CapRights;
use cerne_abi::vm::VmRights;

/// A frame's size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FrameSize {
    /// 4 KiB.
    Small,
    /// 2 MiB.
    Large,
    /// 1 GiB.
    Huge,
}

impl FrameSize {
    /// log2 of the frame size.
    pub const fn bits(self) -> u32 {
        match self {
            Self::Small => cerne_abi::object::PAGE_BITS,
            Self::Large => cerne_abi::object::LARGE_PAGE_BITS,
            Self::Huge => cerne_abi::object::HUGE_PAGE_BITS,
        }
    }
    const fn code(self) -> u64 {
        match self {
            Self::Small => 0,
            Self::Large => 1,
            Self::Huge => 2,
        }
    }
    const fn from_code(c: u64) -> Self {
        match c & 3 {
            1 => Self::Large,
            2 => Self::Huge,
            _ => Self::Small,
        }
    }
}

/// Where a frame or page table cap is mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Mapping {
    /// Address space (never 0).
    pub asid: u16,
    /// Virtual address of the mapping (below 2^48).
    pub vaddr: u64,
}

/// What a zombie is destroying.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ZombieKind {
    /// A CNode of 2^radix slots.
    CNode {
        /// log2 of its slot count.
        radix: u8,
    },
    /// A TCB (five slots).
    Tcb,
}

/// A capability, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Cap {
    /// The empty slot.
    #[default]
    Null,
    /// Untyped memory.
    Untyped {
        /// Base physical address (aligned to 2^size_bits).
        paddr: u64,
        /// log2 of the size (4..=47).
        size_bits: u8,
        /// Device memory: never zeroed, frames and untypeds only.
        is_device: bool,
        /// Bytes already used, from the base (multiple of 16).
        free_index: u64,
    },
    /// An endpoint.
    Endpoint {
        /// Object address.
        paddr: u64,
        /// Badge delivered to receivers (0 = unbadged).
        badge: u64,
        /// Write = send, Read = receive, Grant, GrantReply.
        rights: CapRights,
    },
    /// A notification.
    Notification {
        /// Object address.
        paddr: u64,
        /// Badge OR-ed into the word on signal.
        badge: u64,
        /// Write = signal, Read = wait.
        rights: CapRights,
    },
    /// A reply cap (master in the TCB's reply slot, or one-shot in a caller slot).
    Reply {
        /// The thread to reply to.
        tcb: u64,
        /// The master reply cap of the TCB (never user-visible).
        master: bool,
        /// Replies may transfer caps.
        grant: bool,
    },
    /// A CNode.
    CNode {
        /// Object address.
        paddr: u64,
        /// log2 of the slot count.
        radix: u8,
        /// Guard size in bits.
        guard_size: u8,
        /// Guard value (`guard_size` bits).
        guard: u64,
    },
    /// A thread.
    Thread {
        /// TCB address.
        tcb: u64,
    },
    /// A frame.
    Frame {
        /// Object address.
        paddr: u64,
        /// Page size.
        size: FrameSize,
        /// VM rights of this cap.
        rights: VmRights,
        /// Device frame (not usable as IPC buffer).
        is_device: bool,
        /// Mapping made through this cap.
        mapping: Option<Mapping>,
    },
    /// A (non-root) page table.
    PageTable {
        /// Object address.
        paddr: u64,
        /// Mapping made through this cap.
        mapping: Option<Mapping>,
    },
    /// A top-level page table.
    VSpace {
        /// Object address.
        paddr: u64,
        /// Assigned ASID.
        asid: Option<u16>,
    },
    /// An ASID pool.
    AsidPool {
        /// Object address.
        paddr: u64,
        /// First ASID of the pool (pool index · 512).
        asid_base: u16,
    },
    /// ASIDControl.
    AsidControl,
    /// IRQControl.
    IrqControl,
    /// IRQHandler for one IRQ.
    IrqHandler {
        /// The IRQ number (0..=159).
        irq: u16,
    },
    /// DomainSet.
    Domain,
    /// SGI signal.
    SgiSignal {
        /// SGI number (0..=15).
        irq: u8,
        /// Target CPU interface (0..=7).
        target: u8,
    },
    /// An object being destroyed; only transient inside one operation.
    Zombie {
        /// The object.
        paddr: u64,
        /// Its kind.
        kind: ZombieKind,
        /// Slots (from index 0) that may still hold caps.
        remaining: u64,
    },
}

const TAG_SHIFT: u32 = 59;
const ADDR_MASK: u64 = (1 << 52) - 1;

fn tag_word(tag: CapTag) -> u64 {
    tag.word() << TAG_SHIFT
}

/// The bits of a slot's two cap words that the IPC fast path checks, read
/// without decoding the whole [`Cap`] (seL4's `cap_get_capType` and
/// friends). Each function agrees with [`Cap::decode`] / [`Cap::encode`]
/// on every pair of words (`raw_views_agree_with_decode`).
pub mod raw {
    use super::{CapRights, CapTag, ADDR_MASK, TAG_SHIFT};

    /// The tag field of a cap's first word.
    #[inline(always)]
    const fn tag(w0: u64) -> u64 {
        w0 >> TAG_SHIFT
    }

    /// True when the words decode as the null cap (tag 0 or no tag).
    #[inline(always)]
    pub fn is_null(w0: u64) -> bool {
        matches!(CapTag::from_word(tag(w0)), None | Some(CapTag::Null))
    }

    /// `Cap::Endpoint { paddr, badge, rights }`, if the words are one.
    #[inline(always)]
    pub fn endpoint(w: [u64; 2]) -> Option<(u64, u64, CapRights)> {
        (tag(w[0]) == CapTag::Endpoint.word())
            .then(|| (w[0] & ADDR_MASK, w[1], CapRights::from_word(w[0] >> 52)))
    }

    /// `Cap::Reply { tcb, master, grant }`, if the words are one.
    #[inline(always)]
    pub fn reply(w0: u64) -> Option<(u64, bool, bool)> {
        (tag(w0) == CapTag::Reply.word()).then_some((
            w0 & ADDR_MASK,
            w0 & (1 << 58) != 0,
            w0 & (1 << 57) != 0,
        ))
    }

    /// The first word of `Cap::Reply { tcb, master, grant }` (its second
    /// is 0).
    #[inline(always)]
    pub fn reply_word0(tcb: u64, master: bool, grant: bool) -> u64 {
        (CapTag::Reply.word() << TAG_SHIFT)
            | ((master as u64) << 58)
            | ((grant as u64) << 57)
            | (tcb & ADDR_MASK)
    }

    /// `Cap::CNode { paddr, radix, guard_size, guard }`, if the words are
    /// one.
    #[inline(always)]
    pub fn cnode(w: [u64; 2]) -> Option<(u64, u64, u64, u64)> {
        (tag(w[0]) == CapTag::CNode.word()).then(|| {
            (
                (w[0] & ((1 << 46) - 1)) << 6,
                (w[0] >> 52) & 0x3f,
                (w[0] >> 46) & 0x3f,
                w[1],
            )
        })
    }

    /// `Cap::Frame { paddr, size, rights, is_device, .. }` (not its
    /// mapping), if the words are one.
    #[inline(always)]
    pub fn frame(w0: u64) -> Option<(u64, super::FrameSize, super::VmRights, bool)> {
        (tag(w0) == CapTag::Frame.word()).then(|| {
            (
                (w0 & ((1 << 40) - 1)) << 12,
                super::FrameSize::from_code(w0 >> 56),
                super::VmRights::from_bits(w0 >> 54),
                w0 & (1 << 53) != 0,
            )
        })
    }

    /// `Cap::VSpace { paddr, asid: Some(asid) }`, if the words are one
    /// with an ASID.
    #[inline(always)]
    pub fn vspace_with_asid(w: [u64; 2]) -> Option<(u64, u16)> {
        (tag(w[0]) == CapTag::VSpace.word() && w[1] as u16 != 0)
            .then(|| ((w[0] & ((1 << 40) - 1)) << 12, w[1] as u16))
    }
}

fn bit(b: bool, n: u32) -> u64 {
    (b as u64) << n
}

fn map_word(m: Option<Mapping>) -> u64 {
    match m {
        Some(m) => ((m.asid as u64) << 48) | (m.vaddr & ((1 << 48) - 1)),
        None => 0,
    }
}

fn map_from(w: u64) -> Option<Mapping> {
    let asid = (w >> 48) as u16;
    (asid != 0).then_some(Mapping {
        asid,
        vaddr: w & ((1 << 48) - 1),
    })
}

impl Cap {
    /// The seL4 cap type tag (what DebugCapIdentify reports).
    pub fn tag(&self) -> CapTag {
        match self {
            Cap::Null => CapTag::Null,
            Cap::Untyped { .. } => CapTag::Untyped,
            Cap::Endpoint { .. } => CapTag::Endpoint,
            Cap::Notification { .. } => CapTag::Notification,
            Cap::Reply { .. } => CapTag::Reply,
            Cap::CNode { .. } => CapTag::CNode,
            Cap::Thread { .. } => CapTag::Thread,
            Cap::Frame { .. } => CapTag::Frame,
            Cap::PageTable { .. } => CapTag::PageTable,
            Cap::VSpace { .. } => CapTag::VSpace,
            Cap::AsidPool { .. } => CapTag::AsidPool,
            Cap::AsidControl => CapTag::AsidControl,
            Cap::IrqControl => CapTag::IrqControl,
            Cap::IrqHandler { .. } => CapTag::IrqHandler,
            Cap::Domain => CapTag::Domain,
            Cap::SgiSignal { .. } => CapTag::SgiSignal,
            Cap::Zombie { .. } => CapTag::Zombie,
        }
    }

    /// True for the null cap.
    pub fn is_null(&self) -> bool {
        matches!(self, Cap::Null)
    }

    /// The two words stored in a slot.
    pub fn encode(&self) -> [u64; 2] {
        let t = tag_word(self.tag());
        match *self {
            Cap::Null => [0, 0],
            Cap::Untyped {
                paddr,
                size_bits,
                is_device,
                free_index,
            } => [
                t | bit(is_device, 58) | ((size_bits as u64 & 0x3f) << 52) | (paddr & ADDR_MASK),
                free_index,
            ],
            Cap::Endpoint {
                paddr,
                badge,
                rights,
            }
            | Cap::Notification {
                paddr,
                badge,
                rights,
            } => [t | (rights.word() << 52) | (paddr & ADDR_MASK), badge],
            Cap::Reply { tcb, master, grant } => {
                [t | bit(master, 58) | bit(grant, 57) | (tcb & ADDR_MASK), 0]
            }
            Cap::CNode {
                paddr,
                radix,
                guard_size,
                guard,
            } => [
                t | ((radix as u64 & 0x3f) << 52)
                    | ((guard_size as u64 & 0x3f) << 46)
                    | ((paddr & ADDR_MASK) >> 6),
                guard,
            ],
            Cap::Thread { tcb } => [t | (tcb & ADDR_MASK), 0],
            Cap::Frame {
                paddr,
                size,
                rights,
                is_device,
                mapping,
            } => [
                t | (size.code() << 56)
                    | (rights.bits() << 54)
                    | bit(is_device, 53)
                    | ((paddr & ADDR_MASK) >> 12),
                map_word(mapping),
            ],
            Cap::PageTable { paddr, mapping } => {
                [t | ((paddr & ADDR_MASK) >> 12), map_word(mapping)]
            }
            Cap::VSpace { paddr, asid } => {
                [t | ((paddr & ADDR_MASK) >> 12), asid.unwrap_or(0) as u64]
            }
            Cap::AsidPool { paddr, asid_base } => {
                [t | ((paddr & ADDR_MASK) >> 12), asid_base as u64]
            }
            Cap::AsidControl | Cap::IrqControl | Cap::Domain => [t, 0],
            Cap::IrqHandler { irq } => [t, irq as u64],
            Cap::SgiSignal { irq, target } => [t, irq as u64 | ((target as u64) << 8)],
            Cap::Zombie {
                paddr,
                kind,
                remaining,
            } => {
                let k = match kind {
                    ZombieKind::Tcb => 1 << 58,
                    ZombieKind::CNode { radix } => (radix as u64 & 0x3f) << 52,
                };
                [t | k | (paddr & ADDR_MASK), remaining]
            }
        }
    }

    /// Decodes the two words of a slot. Unknown tags read as null (slots are
    /// only ever written by `encode`).
    pub fn decode(w: [u64; 2]) -> Cap {
        let [w0, w1] = w;
        let addr = w0 & ADDR_MASK;
        let six = |s: u32| ((w0 >> s) & 0x3f) as u8;
        let flag = |s: u32| (w0 >> s) & 1 != 0;
        let Some(tag) = CapTag::from_word(w0 >> TAG_SHIFT) else {
            return Cap::Null;
        };
        match tag {
            CapTag::Null => Cap::Null,
            CapTag::Untyped => Cap::Untyped {
                paddr: addr,
                size_bits: six(52),
                is_device: flag(58),
                free_index: w1,
            },
            CapTag::Endpoint => Cap::Endpoint {
                paddr: addr,
                badge: w1,
                rights: CapRights::from_word(w0 >> 52),
            },
            CapTag::Notification => Cap::Notification {
                paddr: addr,
                badge: w1,
                rights: CapRights::from_word(w0 >> 52),
            },
            CapTag::Reply => Cap::Reply {
                tcb: addr,
                master: flag(58),
                grant: flag(57),
            },
            CapTag::CNode => Cap::CNode {
                paddr: (w0 & ((1 << 46) - 1)) << 6,
                radix: six(52),
                guard_size: six(46),
                guard: w1,
            },
            CapTag::Thread => Cap::Thread { tcb: addr },
            CapTag::Frame => Cap::Frame {
                paddr: (w0 & ((1 << 40) - 1)) << 12,
                size: FrameSize::from_code(w0 >> 56),
                rights: VmRights::from_bits(w0 >> 54),
                is_device: flag(53),
                mapping: map_from(w1),
            },
            CapTag::PageTable => Cap::PageTable {
                paddr: (w0 & ((1 << 40) - 1)) << 12,
                mapping: map_from(w1),
            },
            CapTag::VSpace => Cap::VSpace {
                paddr: (w0 & ((1 << 40) - 1)) << 12,
                asid: (w1 as u16 != 0).then_some(w1 as u16),
            },
            CapTag::AsidPool => Cap::AsidPool {
                paddr: (w0 & ((1 << 40) - 1)) << 12,
                asid_base: w1 as u16,
            },
            CapTag::AsidControl => Cap::AsidControl,
            CapTag::IrqControl => Cap::IrqControl,
            CapTag::IrqHandler => Cap::IrqHandler { irq: w1 as u16 },
            CapTag::Domain => Cap::Domain,
            CapTag::SgiSignal => Cap::SgiSignal {
                irq: w1 as u8,
                target: (w1 >> 8) as u8,
            },
            CapTag::Zombie => Cap::Zombie {
                paddr: addr,
                kind: if flag(58) {
                    ZombieKind::Tcb
                } else {
                    ZombieKind::CNode { radix: six(52) }
                },
                remaining: w1,
            },
        }
    }

    /// Physical address and size of the object this cap names, for caps that
    /// name memory (seL4's `cap_get_capPtr` / `cap_get_capSizeBits`).
    pub fn object_region(&self) -> Option<(u64, u32)> {
        use cerne_abi::object::*;
        Some(match *self {
            Cap::Untyped {
                paddr, size_bits, ..
            } => (paddr, size_bits as u32),
            Cap::Endpoint { paddr, .. } => (paddr, ENDPOINT_BITS),
            Cap::Notification { paddr, .. } => (paddr, NOTIFICATION_BITS),
            Cap::CNode { paddr, radix, .. } => (paddr, radix as u32 + SLOT_BITS),
            Cap::Thread { tcb } => (tcb, TCB_BITS),
            Cap::Frame { paddr, size, .. } => (paddr, size.bits()),
            Cap::PageTable { paddr, .. } => (paddr, PAGE_TABLE_BITS),
            Cap::VSpace { paddr, .. } => (paddr, VSPACE_BITS),
            Cap::AsidPool { paddr, .. } => (paddr, ASID_POOL_BITS),
            Cap::Zombie { paddr, kind, .. } => match kind {
                ZombieKind::Tcb => (paddr, TCB_BITS),
                ZombieKind::CNode { radix } => (paddr, radix as u32 + SLOT_BITS),
            },
            _ => return None,
        })
    }

    /// seL4 `sameRegionAs(self, other)`: `other` names (part of) what `self`
    /// names. Decides derivation-tree parenthood together with the
    /// revocable / firstBadged bits.
    pub fn same_region_as(&self, other: &Cap) -> bool {
        match (*self, *other) {
            (Cap::Untyped { .. }, _) => {
                let (Some((a, ab)), Some((b, bb))) = (self.object_region(), other.object_region())
                else {
                    return false;
                };
                if matches!(other, Cap::Zombie { .. } | Cap::Reply { .. }) {
                    return false;
                }
                let a_end = a + (1u64 << ab) - 1;
                let b_end = b + (1u64 << bb) - 1;
                a <= b && b_end <= a_end && b <= b_end
            }
            (Cap::Endpoint { paddr: a, .. }, Cap::Endpoint { paddr: b, .. })
            | (Cap::Notification { paddr: a, .. }, Cap::Notification { paddr: b, .. })
            | (Cap::Thread { tcb: a }, Cap::Thread { tcb: b })
            | (Cap::PageTable { paddr: a, .. }, Cap::PageTable { paddr: b, .. })
            | (Cap::VSpace { paddr: a, .. }, Cap::VSpace { paddr: b, .. })
            | (Cap::AsidPool { paddr: a, .. }, Cap::AsidPool { paddr: b, .. }) => a == b,
            (Cap::Reply { tcb: a, .. }, Cap::Reply { tcb: b, .. }) => a == b,
            (
                Cap::CNode {
                    paddr: a,
                    radix: ra,
                    ..
                },
                Cap::CNode {
                    paddr: b,
                    radix: rb,
                    ..
                },
            ) => a == b && ra == rb,
            (
                Cap::Frame {
                    paddr: a, size: sa, ..
                },
                Cap::Frame {
                    paddr: b, size: sb, ..
                },
            ) => {
                let a_end = a + (1u64 << sa.bits()) - 1;
                let b_end = b + (1u64 << sb.bits()) - 1;
                a <= b && b_end <= a_end
            }
            (Cap::IrqControl, Cap::IrqControl | Cap::IrqHandler { .. }) => true,
            (Cap::IrqHandler { irq: a }, Cap::IrqHandler { irq: b }) => a == b,
            (Cap::AsidControl, Cap::AsidControl) | (Cap::Domain, Cap::Domain) => true,
            (Cap::SgiSignal { irq: a, target: ta }, Cap::SgiSignal { irq: b, target: tb }) => {
                a == b && ta == tb
            }
            _ => false,
        }
    }

    /// seL4 `sameObjectAs`: both caps name the same object (used to decide
    /// whether a cap is the last one to its object).
    pub fn same_object_as(&self, other: &Cap) -> bool {
        match (*self, *other) {
            (Cap::Untyped { .. }, _) | (Cap::IrqControl, Cap::IrqHandler { .. }) => false,
            (
                Cap::Frame {
                    paddr: a,
                    size: sa,
                    is_device: da,
                    ..
                },
                Cap::Frame {
                    paddr: b,
                    size: sb,
                    is_device: db,
                    ..
                },
            ) => a == b && sa == sb && da == db,
            _ => self.same_region_as(other),
        }
    }

    /// The badge of an endpoint or notification cap (0 otherwise).
    pub fn badge(&self) -> u64 {
        match *self {
            Cap::Endpoint { badge, .. } | Cap::Notification { badge, .. } => badge,
            _ => 0,
        }
    }

    /// The rights word as the derivation invariants compare it: endpoint and
    /// notification rights, reply grant, frame VM rights (as CapRights),
    /// everything else "all rights".
    pub fn rights(&self) -> CapRights {
        match *self {
            Cap::Endpoint { rights, .. } | Cap::Notification { rights, .. } => rights,
            Cap::Reply { grant, .. } => {
                if grant {
                    CapRights::ALL
                } else {
                    CapRights::from_word(0xb)
                }
            }
            Cap::Frame { rights, .. } => match rights {
                VmRights::ReadWrite => CapRights::READ_WRITE,
                VmRights::ReadOnly => CapRights::READ,
                VmRights::KernelOnly => CapRights::NONE,
            },
            _ => CapRights::ALL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_round_trip() {
        let caps = [
            Cap::Null,
            Cap::Untyped {
                paddr: 0x4000_0000,
                size_bits: 30,
                is_device: true,
                free_index: 1 << 30,
            },
            Cap::Endpoint {
                paddr: 0x1230,
                badge: u64::MAX,
                rights: CapRights::ALL,
            },
            Cap::CNode {
                paddr: 0x8_0000,
                radix: 12,
                guard_size: 52,
                guard: 0,
            },
            Cap::Frame {
                paddr: 0x20_0000,
                size: FrameSize::Large,
                rights: VmRights::ReadOnly,
                is_device: false,
                mapping: Some(Mapping {
                    asid: 1,
                    vaddr: 0x40_0000,
                }),
            },
            Cap::VSpace {
                paddr: 0x5000,
                asid: Some(1),
            },
            Cap::SgiSignal { irq: 3, target: 7 },
            Cap::Zombie {
                paddr: 0x800,
                kind: ZombieKind::Tcb,
                remaining: 5,
            },
            Cap::Reply {
                tcb: 0x800,
                master: true,
                grant: false,
            },
        ];
        for c in caps {
            assert_eq!(Cap::decode(c.encode()), c, "{c:?}");
        }
        assert_eq!(Cap::decode([31 << 59, 0]), Cap::Null);
    }

    use proptest::prelude::*;
    use std::vec;

    fn any_cap() -> impl Strategy<Value = Cap> {
        let addr = |align: u32| (0u64..1 << (40 - align)).prop_map(move |a| a << align);
        let mapping = proptest::option::of((1u16.., 0u64..1 << 48).prop_map(|(asid, v)| Mapping {
            asid,
            vaddr: v & !0xfff,
        }));
        let size = prop_oneof![
            Just(FrameSize::Small),
            Just(FrameSize::Large),
            Just(FrameSize::Huge)
        ];
        let vm = prop_oneof![
            Just(VmRights::KernelOnly),
            Just(VmRights::ReadOnly),
            Just(VmRights::ReadWrite)
        ];
        let rights = (0u64..16).prop_map(CapRights::from_word);
        prop_oneof![
            Just(Cap::Null),
            (addr(4), 4u8..48, any::<bool>(), any::<u64>()).prop_map(
                |(paddr, size_bits, is_device, free_index)| Cap::Untyped {
                    paddr,
                    size_bits,
                    is_device,
                    free_index
                }
            ),
            (addr(4), any::<u64>(), rights.clone()).prop_map(|(paddr, badge, rights)| {
                Cap::Endpoint {
                    paddr,
                    badge,
                    rights,
                }
            }),
            (addr(5), any::<u64>(), rights).prop_map(|(paddr, badge, rights)| Cap::Notification {
                paddr,
                badge,
                rights
            }),
            (addr(11), any::<bool>(), any::<bool>()).prop_map(|(tcb, master, grant)| Cap::Reply {
                tcb,
                master,
                grant
            }),
            (addr(6), 1u8..43, 0u8..64, any::<u64>()).prop_map(
                |(paddr, radix, guard_size, guard)| Cap::CNode {
                    paddr,
                    radix,
                    guard_size,
                    guard
                }
            ),
            addr(11).prop_map(|tcb| Cap::Thread { tcb }),
            (addr(12), size, vm, any::<bool>(), mapping.clone()).prop_map(
                |(paddr, size, rights, is_device, mapping)| Cap::Frame {
                    paddr,
                    size,
                    rights,
                    is_device,
                    mapping
                }
            ),
            (addr(12), mapping).prop_map(|(paddr, mapping)| Cap::PageTable { paddr, mapping }),
            (addr(12), proptest::option::of(1u16..))
                .prop_map(|(paddr, asid)| Cap::VSpace { paddr, asid }),
            (addr(12), 0u16..128).prop_map(|(paddr, p)| Cap::AsidPool {
                paddr,
                asid_base: p * 512
            }),
            Just(Cap::AsidControl),
            Just(Cap::IrqControl),
            Just(Cap::Domain),
            (0u16..160).prop_map(|irq| Cap::IrqHandler { irq }),
            (0u8..16, 0u8..8).prop_map(|(irq, target)| Cap::SgiSignal { irq, target }),
            (addr(11), any::<bool>(), 1u8..43, any::<u64>()).prop_map(
                |(paddr, tcb, radix, remaining)| Cap::Zombie {
                    paddr,
                    kind: if tcb {
                        ZombieKind::Tcb
                    } else {
                        ZombieKind::CNode { radix }
                    },
                    remaining,
                }
            ),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 2000,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        #[cfg_attr(miri, ignore = "pure logic, and proptest is slow under Miri")]
        fn raw_views_agree_with_decode(
            w in prop_oneof![
                any_cap().prop_map(|c| c.encode()),
                any::<[u64; 2]>(),
                (0u64..32, any::<[u64; 2]>()).prop_map(|(t, [a, b])| [(t << 59) | (a >> 5), b]),
            ]
        ) {
            let c = Cap::decode(w);
            prop_assert_eq!(raw::is_null(w[0]), c.is_null());
            let ep = match c {
                Cap::Endpoint { paddr, badge, rights } => Some((paddr, badge, rights)),
                _ => None,
            };
            prop_assert_eq!(raw::endpoint(w), ep);
            let reply = match c {
                Cap::Reply { tcb, master, grant } => Some((tcb, master, grant)),
                _ => None,
            };
            prop_assert_eq!(raw::reply(w[0]), reply);
            if let Some((tcb, master, grant)) = reply {
                prop_assert_eq!([raw::reply_word0(tcb, master, grant), 0], c.encode());
            }
            let cnode = match c {
                Cap::CNode { paddr, radix, guard_size, guard } => {
                    Some((paddr, radix as u64, guard_size as u64, guard))
                }
                _ => None,
            };
            prop_assert_eq!(raw::cnode(w), cnode);
            let vspace = match c {
                Cap::VSpace { paddr, asid: Some(asid) } => Some((paddr, asid)),
                _ => None,
            };
            prop_assert_eq!(raw::vspace_with_asid(w), vspace);
            let frame = match c {
                Cap::Frame { paddr, size, rights, is_device, .. } => {
                    Some((paddr, size, rights, is_device))
                }
                _ => None,
            };
            prop_assert_eq!(raw::frame(w[0]), frame);
        }

        #[test]
        #[cfg_attr(miri, ignore = "pure logic, and proptest is slow under Miri")]
        fn two_words_round_trip(c in any_cap()) {
            prop_assert_eq!(Cap::decode(c.encode()), c);
            prop_assert_eq!(c.encode()[0] >> 59, c.tag().word());
        }

        #[test]
        #[cfg_attr(miri, ignore = "pure logic, and proptest is slow under Miri")]
        fn same_object_implies_same_region(a in any_cap(), b in any_cap()) {
            if a.same_object_as(&b) {
                prop_assert!(a.same_region_as(&b));
            }
        }
    }

    #[test]
    fn regions_and_objects() {
        let ut = Cap::Untyped {
            paddr: 0x10000,
            size_bits: 16,
            is_device: false,
            free_index: 0,
        };
        let ep = Cap::endpoint(0x10010, 0);
        let far = Cap::endpoint(0x20000, 0);
        assert!(ut.same_region_as(&ep));
        assert!(!ut.same_region_as(&far));
        assert!(!ut.same_object_as(&ep));
        assert!(!ep.same_region_as(&ut));
        assert!(ep.same_object_as(&Cap::endpoint(0x10010, 5)));
        let edge = Cap::Untyped {
            paddr: 0x1fff0,
            size_bits: 4,
            is_device: false,
            free_index: 0,
        };
        assert!(ut.same_region_as(&edge));
        let over = Cap::Untyped {
            paddr: 0x1fff0,
            size_bits: 5,
            is_device: false,
            free_index: 0,
        };
        assert!(!ut.same_region_as(&over));
        let f = |p, s, d| Cap::frame(p, s, VmRights::ReadWrite, d, None);
        let big = f(0x20_0000, FrameSize::Large, false);
        assert!(big.same_region_as(&f(0x20_1000, FrameSize::Small, false)));
        assert!(!big.same_object_as(&f(0x20_1000, FrameSize::Small, false)));
        assert!(big.same_object_as(&f(0x20_0000, FrameSize::Large, false)));
        assert!(!big.same_object_as(&f(0x20_0000, FrameSize::Large, true)));
        assert!(!f(0x20_1000, FrameSize::Small, false).same_region_as(&big));
        assert!(Cap::cnode(0x100, 2, 0, 0).same_region_as(&Cap::cnode(0x100, 2, 1, 3)));
        assert!(!Cap::cnode(0x100, 2, 0, 0).same_region_as(&Cap::cnode(0x100, 3, 0, 0)));
        assert!(Cap::IrqControl.same_region_as(&Cap::IrqHandler { irq: 3 }));
        assert!(!Cap::IrqControl.same_object_as(&Cap::IrqHandler { irq: 3 }));
        assert!(!Cap::IrqHandler { irq: 3 }.same_region_as(&Cap::IrqHandler { irq: 4 }));
        assert!(Cap::Domain.same_object_as(&Cap::Domain));
        assert!(Cap::AsidControl.same_object_as(&Cap::AsidControl));
        assert!(!Cap::Domain.same_object_as(&Cap::AsidControl));
        let r = |m| Cap::Reply {
            tcb: 0x800,
            master: m,
            grant: true,
        };
        assert!(r(true).same_object_as(&r(false)));
        assert!(!ut.same_region_as(&r(false)));
        assert_eq!(ep.badge(), 0);
        assert_eq!(Cap::notification(0x40, 7).badge(), 7);
        assert_eq!(ut.badge(), 0);
        assert_eq!(
            f(0, FrameSize::Small, false).rights(),
            CapRights::READ_WRITE
        );
        assert_eq!(r(false).rights(), CapRights::ALL);
        assert_eq!(
            Cap::Reply {
                tcb: 0,
                master: false,
                grant: false
            }
            .rights(),
            CapRights::from_word(0xb)
        );
        assert_eq!(ut.object_region(), Some((0x10000, 16)));
        assert_eq!(Cap::thread(0x800).object_region(), Some((0x800, 11)));
        assert_eq!(Cap::Domain.object_region(), None);
    }
}
