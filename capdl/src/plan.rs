//! Where every object of a spec comes from: the allocation plan, shared by
//! the root task (which carries it out with Untyped_Retype at boot) and the
//! build tools (which run it against the untypeds the kernel will hand out,
//! so a spec that does not fit is rejected before it is ever booted).
//!
//! The plan is pure and deterministic, needs no heap, and models seL4's
//! retype exactly (docs/sel4-abi.md §4.3): each untyped has a free index that
//! only grows, and an object of 2^n bytes goes at the free index rounded up
//! to 2^n.
//!
//! 1. Objects with a fixed `paddr` (device frames, placed RAM frames) come
//!    first, in address order. The untyped holding the address is advanced
//!    to it with *filler* untypeds — the largest naturally aligned blocks
//!    that fit below the address — and the object is made there.
//! 2. Every other object is made largest first (a 1 GiB frame before a
//!    2 MiB one before a TCB before an endpoint), each in the first RAM
//!    untyped with room, so no alignment padding is ever wasted between
//!    objects of one untyped.

use cerne_abi::object::{
    ObjectType, ASID_POOL_BITS, ENDPOINT_BITS, MAX_UNTYPED_BITS, MIN_UNTYPED_BITS,
    NOTIFICATION_BITS, PAGE_TABLE_BITS, SLOT_BITS, TCB_BITS, VSPACE_BITS,
};

use crate::compact::{object_flags, ObjectKindCode, ObjectView, SpecView};

/// Most untypeds a plan tracks (BootInfo's untyped list is shorter).
pub const MAX_UNTYPEDS: usize = 256;

/// One untyped capability the kernel handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UntypedRegion {
    /// Its physical base.
    pub paddr: u64,
    /// log2 of its size.
    pub size_bits: u8,
    /// A device untyped (frames and untypeds only, never zeroed).
    pub is_device: bool,
}

impl UntypedRegion {
    fn end(&self) -> u64 {
        self.paddr.saturating_add(1u64 << self.size_bits.min(63))
    }
}

/// How one spec object is made by Untyped_Retype.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retype {
    /// The seL4 type to retype into (an ASID pool is made from a 4 KiB
    /// Untyped, then ASIDControl_MakePool).
    pub object_type: ObjectType,
    /// Untyped_Retype's `size_bits` argument (CNode radix, untyped size,
    /// otherwise 0).
    pub size_arg: u64,
    /// log2 of the bytes the object takes.
    pub bits: u8,
}

/// Why an object cannot be made by Untyped_Retype.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotRetyped {
    /// IRQ handlers and SGI signals come from IRQControl.
    FromIrqControl,
    /// An untyped object without a size.
    UnsizedUntyped,
    /// A size the kernel does not make (a CNode radix or untyped size out of
    /// range, a frame of another size).
    BadSize,
}

/// How `object` is made, or why it is not made from untyped memory.
pub fn retype_of(object: &ObjectView<'_>) -> Result<Retype, NotRetyped> {
    let r = object.record;
    let fixed = |object_type, bits: u32| {
        Ok(Retype {
            object_type,
            size_arg: 0,
            bits: bits as u8,
        })
    };
    match object.kind() {
        ObjectKindCode::Tcb => fixed(ObjectType::Tcb, TCB_BITS),
        ObjectKindCode::Endpoint => fixed(ObjectType::Endpoint, ENDPOINT_BITS),
        ObjectKindCode::Notification => fixed(ObjectType::Notification, NOTIFICATION_BITS),
        ObjectKindCode::PageTable => fixed(ObjectType::PageTable, PAGE_TABLE_BITS),
        ObjectKindCode::VSpace => fixed(ObjectType::VSpace, VSPACE_BITS),
        ObjectKindCode::AsidPool => Ok(Retype {
            object_type: ObjectType::Untyped,
            size_arg: ASID_POOL_BITS as u64,
            bits: ASID_POOL_BITS as u8,
        }),
        ObjectKindCode::CNode => {
            let radix = r.size_bits as u32;
            if radix == 0 || radix + SLOT_BITS > MAX_UNTYPED_BITS {
                return Err(NotRetyped::BadSize);
            }
            Ok(Retype {
                object_type: ObjectType::CapTable,
                size_arg: radix as u64,
                bits: (radix + SLOT_BITS) as u8,
            })
        }
        ObjectKindCode::Frame => {
            let object_type = object
                .kind()
                .object_type(r.size_bits)
                .ok_or(NotRetyped::BadSize)?;
            fixed(object_type, r.size_bits as u32)
        }
        ObjectKindCode::Untyped => {
            if r.flags & object_flags::HAS_SIZE_BITS == 0 {
                return Err(NotRetyped::UnsizedUntyped);
            }
            let bits = r.size_bits as u32;
            if !(MIN_UNTYPED_BITS..=MAX_UNTYPED_BITS).contains(&bits) {
                return Err(NotRetyped::BadSize);
            }
            Ok(Retype {
                object_type: ObjectType::Untyped,
                size_arg: bits as u64,
                bits: bits as u8,
            })
        }
        ObjectKindCode::Irq | ObjectKindCode::SgiSignal => Err(NotRetyped::FromIrqControl),
    }
}

/// The fixed physical address of a frame or untyped, if it has one.
pub fn fixed_paddr(object: &ObjectView<'_>) -> Option<u64> {
    let placeable = matches!(
        object.kind(),
        ObjectKindCode::Frame | ObjectKindCode::Untyped
    );
    (placeable && object.record.flags & object_flags::HAS_PADDR != 0)
        .then(|| object.record.paddr.get())
}

/// One step of a plan, in the order it must be carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Retype an untyped of `bits` from untyped `untyped` at `paddr`, only to
    /// move that untyped's free index up to a fixed address. The cap must be
    /// kept (deleting the last child of an untyped resets its free index).
    Filler {
        /// Index in the untyped list.
        untyped: usize,
        /// log2 of its size.
        bits: u8,
        /// Where it lands.
        paddr: u64,
    },
    /// Make an object.
    Create {
        /// Index in the untyped list.
        untyped: usize,
        /// The spec object's index, or `None` for one of the initializer's
        /// own page tables (see [`plan`]'s `scratch_tables`).
        object: Option<usize>,
        /// How.
        retype: Retype,
        /// Where it lands.
        paddr: u64,
    },
}

/// Why a plan fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanError<E> {
    /// More untypeds than [`MAX_UNTYPEDS`].
    TooManyUntypeds(usize),
    /// Object `object` cannot be made (see [`NotRetyped`]).
    Unmakeable {
        /// The object.
        object: usize,
        /// Why.
        why: NotRetyped,
    },
    /// No untyped covers the fixed address of `object`.
    NoUntypedAt {
        /// The object.
        object: usize,
        /// Its address.
        paddr: u64,
    },
    /// The untyped covering `object`'s address is already used past it
    /// (two objects claim the same memory, or one lies below another).
    AddressTaken {
        /// The object.
        object: usize,
        /// Its address.
        paddr: u64,
    },
    /// No RAM untyped has room for `object` (`None`: a scratch table).
    NoRoom {
        /// The object.
        object: Option<usize>,
        /// log2 of its size.
        bits: u8,
    },
    /// The step sink failed (the root task's retype returned an error).
    Sink(E),
}

/// What a finished plan used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Objects made from untyped memory (spec objects and scratch tables).
    pub objects: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Filler untypeds made to reach fixed addresses.
    pub fillers: u64,
    /// Bytes of RAM the objects take (device frames excluded).
    pub ram_bytes: u64,
}

struct State<'u> {
    untypeds: &'u [UntypedRegion],
    free: [u64; MAX_UNTYPEDS],
    totals: Totals,
}

impl State<'_> {
    fn place<E>(
        &mut self,
        untyped: usize,
        object: Option<usize>,
        retype: Retype,
        paddr: u64,
        sink: &mut impl FnMut(Step) -> Result<(), E>,
    ) -> Result<(), PlanError<E>> {
        sink(Step::Create {
            untyped,
            object,
            retype,
            paddr,
        })
        .map_err(PlanError::Sink)?;
        let u = self.untypeds[untyped];
        self.free[untyped] = paddr - u.paddr + (1u64 << retype.bits);
        self.totals.objects += 1;
        self.totals.bytes += 1u64 << retype.bits;
        if !u.is_device {
            self.totals.ram_bytes += 1u64 << retype.bits;
        }
        Ok(())
    }

    /// The first RAM untyped with room for 2^bits, and the address there.
    fn first_fit(&self, bits: u8) -> Option<(usize, u64)> {
        let size = 1u64 << bits;
        self.untypeds.iter().enumerate().find_map(|(i, u)| {
            if u.is_device || u.size_bits < bits {
                return None;
            }
            let at = (u.paddr + self.free[i]).checked_next_multiple_of(size)?;
            (at.checked_add(size)? <= u.end()).then_some((i, at))
        })
    }
}

/// Computes the plan for `spec` over `untypeds` and hands each step to
/// `sink` in order; `scratch_tables` extra page tables for the initializer's
/// own use are planned with the other 4 KiB objects.
pub fn plan<E>(
    spec: &SpecView<'_>,
    untypeds: &[UntypedRegion],
    scratch_tables: usize,
    mut sink: impl FnMut(Step) -> Result<(), E>,
) -> Result<Totals, PlanError<E>> {
    if untypeds.len() > MAX_UNTYPEDS {
        return Err(PlanError::TooManyUntypeds(untypeds.len()));
    }
    let mut state = State {
        untypeds,
        free: [0; MAX_UNTYPEDS],
        totals: Totals::default(),
    };
    // Every object must be makeable before anything is made.
    for o in spec.iter_objects() {
        match retype_of(&o) {
            Ok(_) | Err(NotRetyped::FromIrqControl) => {}
            Err(why) => {
                return Err(PlanError::Unmakeable {
                    object: o.index,
                    why,
                })
            }
        }
    }

    // 1. Fixed addresses, ascending (ties by index).
    let mut last: Option<(u64, usize)> = None;
    loop {
        let next = spec
            .iter_objects()
            .filter_map(|o| Some((fixed_paddr(&o)?, o.index)))
            .filter(|key| last.is_none_or(|l| *key > l))
            .min();
        let Some((paddr, index)) = next else { break };
        last = Some((paddr, index));
        let Some(object) = spec.object(index) else {
            break;
        };
        let retype =
            retype_of(&object).map_err(|why| PlanError::Unmakeable { object: index, why })?;
        let size = 1u64 << retype.bits;
        let untyped = untypeds
            .iter()
            .position(|u| u.paddr <= paddr && paddr.saturating_add(size) <= u.end())
            .ok_or(PlanError::NoUntypedAt {
                object: index,
                paddr,
            })?;
        let base = untypeds[untyped].paddr;
        let mut at = base + state.free[untyped];
        if at > paddr || !paddr.is_multiple_of(size) {
            return Err(PlanError::AddressTaken {
                object: index,
                paddr,
            });
        }
        while at < paddr {
            let align = if at == 0 { 63 } else { at.trailing_zeros() };
            let fit = 63 - (paddr - at).leading_zeros();
            let bits = align.min(fit).min(MAX_UNTYPED_BITS) as u8;
            sink(Step::Filler {
                untyped,
                bits,
                paddr: at,
            })
            .map_err(PlanError::Sink)?;
            state.totals.fillers += 1;
            at += 1u64 << bits;
            state.free[untyped] = at - base;
        }
        state.place(untyped, Some(index), retype, paddr, &mut sink)?;
    }

    // 2. Everything else, largest first.
    for bits in (MIN_UNTYPED_BITS as u8..=MAX_UNTYPED_BITS as u8).rev() {
        if bits as u32 == PAGE_TABLE_BITS {
            for _ in 0..scratch_tables {
                let retype = Retype {
                    object_type: ObjectType::PageTable,
                    size_arg: 0,
                    bits,
                };
                let (untyped, at) = state
                    .first_fit(bits)
                    .ok_or(PlanError::NoRoom { object: None, bits })?;
                state.place(untyped, None, retype, at, &mut sink)?;
            }
        }
        for o in spec.iter_objects() {
            let Ok(retype) = retype_of(&o) else { continue };
            if retype.bits != bits || fixed_paddr(&o).is_some() {
                continue;
            }
            let (untyped, at) = state.first_fit(bits).ok_or(PlanError::NoRoom {
                object: Some(o.index),
                bits,
            })?;
            state.place(untyped, Some(o.index), retype, at, &mut sink)?;
        }
    }
    Ok(state.totals)
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    fn spec(text: &str) -> Vec<u8> {
        crate::encode(&crate::parse("t.cdl", text).unwrap()).unwrap()
    }

    fn run(bytes: &[u8], untypeds: &[UntypedRegion]) -> Result<Vec<Step>, PlanError<()>> {
        let view = SpecView::new(bytes).unwrap();
        let mut steps = Vec::new();
        plan(&view, untypeds, 1, |s| {
            steps.push(s);
            Ok::<(), ()>(())
        })?;
        Ok(steps)
    }

    const RAM: UntypedRegion = UntypedRegion {
        paddr: 0x4100_0000,
        size_bits: 24,
        is_device: false,
    };
    const DEVICE: UntypedRegion = UntypedRegion {
        paddr: 0x0800_0000,
        size_bits: 27,
        is_device: true,
    };

    #[test]
    fn largest_first_without_padding() {
        let bytes = spec(
            "arch aarch64 objects { e = ep t = tcb c = cnode (4 bits) f = frame (2M) p = frame (4k) }",
        );
        let steps = run(&bytes, &[RAM]).unwrap();
        let order: Vec<(Option<usize>, u64)> = steps
            .iter()
            .map(|s| match s {
                Step::Create { object, paddr, .. } => (*object, *paddr),
                Step::Filler { .. } => panic!("no filler expected"),
            })
            .collect();
        // 2 MiB frame, then the scratch table and the 4 KiB frame, the TCB,
        // the 512-byte CNode, the endpoint: each right after the previous.
        assert_eq!(
            order,
            vec![
                (Some(3), 0x4100_0000),
                (None, 0x4120_0000),
                (Some(4), 0x4120_1000),
                (Some(1), 0x4120_2000),
                (Some(2), 0x4120_2800),
                (Some(0), 0x4120_2a00),
            ]
        );
    }

    #[test]
    fn fixed_addresses_use_fillers_in_the_device_untyped() {
        let bytes = spec(
            "arch aarch64 objects { uart = frame (4k, paddr: 0x9000000) rtc = frame (4k, paddr: 0x9010000) }",
        );
        let steps = run(&bytes, &[RAM, DEVICE]).unwrap();
        let mut next = 0x0800_0000u64;
        let mut made = Vec::new();
        for s in &steps {
            match *s {
                Step::Filler {
                    untyped,
                    bits,
                    paddr,
                } => {
                    assert_eq!(untyped, 1);
                    assert_eq!(paddr, next);
                    assert_eq!(paddr % (1 << bits), 0, "fillers are naturally aligned");
                    next += 1 << bits;
                }
                Step::Create {
                    untyped,
                    object,
                    paddr,
                    ..
                } => {
                    if object.is_some() {
                        assert_eq!(untyped, 1);
                        assert_eq!(paddr, next);
                        next += 0x1000;
                        made.push(paddr);
                    } else {
                        assert_eq!(untyped, 0, "scratch tables come from RAM");
                    }
                }
            }
        }
        assert_eq!(made, vec![0x0900_0000, 0x0901_0000]);
    }

    #[test]
    fn reports_what_does_not_fit() {
        let bytes = spec("arch aarch64 objects { big = frame (1024M) }");
        assert_eq!(
            run(&bytes, &[RAM]).unwrap_err(),
            PlanError::NoRoom {
                object: Some(0),
                bits: 30
            }
        );
        let bytes = spec("arch aarch64 objects { f = frame (4k, paddr: 0x1000) }");
        assert_eq!(
            run(&bytes, &[RAM, DEVICE]).unwrap_err(),
            PlanError::NoUntypedAt {
                object: 0,
                paddr: 0x1000
            }
        );
        let bytes = spec(
            "arch aarch64 objects { a = frame (4k, paddr: 0x9000000) b = frame (4k, paddr: 0x9000000) }",
        );
        assert_eq!(
            run(&bytes, &[RAM, DEVICE]).unwrap_err(),
            PlanError::AddressTaken {
                object: 1,
                paddr: 0x0900_0000
            }
        );
    }

    #[test]
    fn every_object_gets_disjoint_memory_inside_its_untyped() {
        let bytes = spec(
            "arch aarch64 objects { t[5] = tcb e[7] = ep n[3] = notification c[2] = cnode (6 bits) \
             f[9] = frame (4k) g[2] = frame (2M) pt[4] = pt d = frame (4k, paddr: 0x9000000) }",
        );
        let small = UntypedRegion {
            paddr: 0x4000_0000,
            size_bits: 22,
            is_device: false,
        };
        let steps = run(&bytes, &[small, RAM, DEVICE]).unwrap();
        let mut ranges: Vec<(u64, u64)> = steps
            .iter()
            .map(|s| match *s {
                Step::Filler { paddr, bits, .. } => (paddr, paddr + (1 << bits)),
                Step::Create { paddr, retype, .. } => (paddr, paddr + (1 << retype.bits)),
            })
            .collect();
        ranges.sort();
        for w in ranges.windows(2) {
            assert!(w[0].1 <= w[1].0, "{w:x?} overlap");
        }
        let created = steps
            .iter()
            .filter(|s| {
                matches!(
                    s,
                    Step::Create {
                        object: Some(_),
                        ..
                    }
                )
            })
            .count();
        assert_eq!(created, 5 + 7 + 3 + 2 + 9 + 2 + 4 + 1);
    }
}
