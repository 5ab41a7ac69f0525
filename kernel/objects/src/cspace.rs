//! CSpace addressing: guarded-radix resolution of a cptr through CNode caps
//! (docs/sel4-abi.md §8.1) and the lookups built on it, with every lookup-failure
//! kind reported as seL4 reports it (§6.2).
#![forbid(unsafe_code)]

use crate::cap::Cap;
use crate::cdt;
use crate::error::{SysResult, SyscallError};
use crate::layout::SLOT_SIZE;
use crate::mem::PhysMem;
use cerne_abi::lookup::{LookupFailure, WORD_BITS};

/// Where a resolution stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The slot reached.
    pub slot: u64,
    /// Bits of the cptr left unresolved (non-zero only when a non-CNode cap
    /// stopped the walk).
    pub bits_left: u64,
}

fn mask(bits: u64) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    }
}

/// Address of slot `index` of the CNode at `cnode`.
pub const fn cnode_slot(cnode: u64, index: u64) -> u64 {
    cnode + index * SLOT_SIZE as u64
}

/// seL4 `resolveAddressBits`: resolves the low `n_bits` bits of `cptr`
/// starting at `root`.
pub fn resolve_address_bits(
    mem: &PhysMem<'_>,
    root: Cap,
    cptr: u64,
    mut n_bits: u64,
) -> Result<Resolved, LookupFailure> {
    let mut node = root;
    loop {
        let Cap::CNode {
            paddr,
            radix,
            guard_size,
            guard,
        } = node
        else {
            return Err(LookupFailure::InvalidRoot);
        };
        let (radix, guard_bits) = (radix as u64, guard_size as u64);
        let level_bits = radix + guard_bits;
        if guard_bits > n_bits
            || cptr.checked_shr((n_bits - guard_bits) as u32).unwrap_or(0) & mask(guard_bits)
                != guard
        {
            return Err(LookupFailure::GuardMismatch {
                bits_left: n_bits,
                guard_found: guard,
                bits_found: guard_bits,
            });
        }
        if level_bits > n_bits || level_bits == 0 {
            return Err(LookupFailure::DepthMismatch {
                bits_left: n_bits,
                bits_found: level_bits,
            });
        }
        let offset = (cptr >> (n_bits - level_bits)) & mask(radix);
        let slot = cnode_slot(paddr, offset);
        if n_bits == level_bits {
            return Ok(Resolved { slot, bits_left: 0 });
        }
        n_bits -= level_bits;
        node = cdt::cap(mem, slot);
        if !matches!(node, Cap::CNode { .. }) {
            return Ok(Resolved {
                slot,
                bits_left: n_bits,
            });
        }
    }
}

/// [`lookup_slot`] for the IPC fast path (seL4's `lookup_fp`): the same
/// slot from the CSpace root's two cap words, reading only the words of
/// the CNode caps on the way, or `None` where [`lookup_slot`] fails (the
/// fast path then leaves the syscall to the slow path, which reports the
/// failure).
#[inline]
pub fn lookup_slot_raw(mem: &PhysMem<'_>, root: [u64; 2], cptr: u64) -> Option<u64> {
    let mut node = root;
    let mut n_bits = WORD_BITS;
    loop {
        let (paddr, radix, guard_bits, guard) = crate::cap::raw::cnode(node)?;
        let level_bits = radix + guard_bits;
        if guard_bits > n_bits
            || cptr.checked_shr((n_bits - guard_bits) as u32).unwrap_or(0) & mask(guard_bits)
                != guard
            || level_bits > n_bits
            || level_bits == 0
        {
            return None;
        }
        let slot = cnode_slot(paddr, (cptr >> (n_bits - level_bits)) & mask(radix));
        if n_bits == level_bits {
            return Some(slot);
        }
        n_bits -= level_bits;
        node = mem.read::<[u64; 2]>(slot);
        if crate::cap::raw::cnode(node).is_none() {
            return Some(slot);
        }
    }
}

/// seL4 `lookupSlot` at full depth (invocations, extra caps, fault handler).
pub fn lookup_slot(mem: &PhysMem<'_>, root: Cap, cptr: u64) -> Result<u64, LookupFailure> {
    resolve_address_bits(mem, root, cptr, WORD_BITS).map(|r| r.slot)
}

/// seL4 `lookupCap`: the slot and the cap in it.
pub fn lookup_cap(mem: &PhysMem<'_>, root: Cap, cptr: u64) -> Result<(u64, Cap), LookupFailure> {
    let s = lookup_slot(mem, root, cptr)?;
    Ok((s, cdt::cap(mem, s)))
}

/// seL4 `lookupSlotForCNodeOp`: resolves exactly `depth` bits of `cptr`
/// from `root`, for CNode invocations and destination slots.
pub fn lookup_slot_for_cnode_op(
    mem: &PhysMem<'_>,
    is_source: bool,
    root: Cap,
    cptr: u64,
    depth: u64,
) -> SysResult<u64> {
    if !matches!(root, Cap::CNode { .. }) {
        return Err(SyscallError::FailedLookup {
            source: is_source,
            failure: LookupFailure::InvalidRoot,
        });
    }
    if !(1..=WORD_BITS).contains(&depth) {
        return Err(SyscallError::RangeError(1, WORD_BITS));
    }
    let r = resolve_address_bits(mem, root, cptr, depth).map_err(|failure| {
        SyscallError::FailedLookup {
            source: is_source,
            failure,
        }
    })?;
    if r.bits_left != 0 {
        return Err(SyscallError::FailedLookup {
            source: is_source,
            failure: LookupFailure::DepthMismatch {
                bits_left: r.bits_left,
                bits_found: 0,
            },
        });
    }
    Ok(r.slot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cdt;
    use crate::mem::PhysMem;
    use std::vec;

    /// A root CNode (radix 2, guard 0b101 of 3 bits) at 0x1000 whose slot 1
    /// holds a CNode (radix 3, no guard) at 0x2000, whose slot 5 holds an
    /// endpoint.
    fn world(words: &mut [u64]) -> (PhysMem<'_>, Cap) {
        let mem = PhysMem::from_words(words, 0x1000).unwrap();
        let root = Cap::cnode(0x1000, 2, 0b101, 3);
        cdt::insert_root(&mem, cnode_slot(0x1000, 1), Cap::cnode(0x2000, 3, 0, 0));
        cdt::insert_root(&mem, cnode_slot(0x2000, 5), Cap::endpoint(0x3000, 0));
        (mem, root)
    }

    #[test]
    fn resolution_and_every_failure_kind() {
        let mut words = vec![0u64; 0x3000 / 8];
        let (mem, root) = world(&mut words);
        // 3 guard bits + 2 radix bits + 3 radix bits = 8 bits.
        let cptr = (0b101 << 5) | (1 << 3) | 5;
        assert_eq!(
            resolve_address_bits(&mem, root, cptr, 8),
            Ok(Resolved {
                slot: cnode_slot(0x2000, 5),
                bits_left: 0
            })
        );
        // Stopping at the CNode cap after 5 bits.
        assert_eq!(
            resolve_address_bits(&mem, root, cptr >> 3, 5),
            Ok(Resolved {
                slot: cnode_slot(0x1000, 1),
                bits_left: 0
            })
        );
        // A non-CNode cap with bits left ends the walk (invocation lookups).
        let empty = (0b101 << 5) | (2 << 3) | 5;
        assert_eq!(
            resolve_address_bits(&mem, root, empty, 8),
            Ok(Resolved {
                slot: cnode_slot(0x1000, 2),
                bits_left: 3
            })
        );
        assert_eq!(
            resolve_address_bits(&mem, root, (0b100 << 5) | 5, 8),
            Err(LookupFailure::GuardMismatch {
                bits_left: 8,
                guard_found: 0b101,
                bits_found: 3
            })
        );
        assert_eq!(
            resolve_address_bits(&mem, root, 0b101, 2),
            Err(LookupFailure::GuardMismatch {
                bits_left: 2,
                guard_found: 0b101,
                bits_found: 3
            })
        );
        assert_eq!(
            resolve_address_bits(&mem, root, 0b1010, 4),
            Err(LookupFailure::DepthMismatch {
                bits_left: 4,
                bits_found: 5
            })
        );
        assert_eq!(
            resolve_address_bits(&mem, root, (0b101 << 7) | (1 << 5), 10),
            Ok(Resolved {
                slot: cnode_slot(0x2000, 0),
                bits_left: 2
            })
        );
        assert_eq!(
            resolve_address_bits(&mem, root, (0b101 << 4) | (1 << 2), 7),
            Err(LookupFailure::DepthMismatch {
                bits_left: 2,
                bits_found: 3
            })
        );
        assert_eq!(
            resolve_address_bits(&mem, Cap::endpoint(0x3000, 0), 0, 64),
            Err(LookupFailure::InvalidRoot)
        );
        // Full-depth lookups of a cptr whose high bits hit the guard.
        let top = Cap::cnode(0x1000, 2, 0, 62);
        assert_eq!(lookup_slot(&mem, top, 3), Ok(cnode_slot(0x1000, 3)));
        assert_eq!(
            lookup_slot(&mem, top, 1 << 63 | 3),
            Err(LookupFailure::GuardMismatch {
                bits_left: 64,
                guard_found: 0,
                bits_found: 62
            })
        );
        let zero_guard = Cap::cnode(0x1000, 2, 0, 0);
        // An empty slot with bits left is where an invocation lookup stops.
        assert_eq!(lookup_slot(&mem, zero_guard, 0), Ok(cnode_slot(0x1000, 0)));
    }

    #[test]
    fn cnode_op_lookups() {
        let mut words = vec![0u64; 0x3000 / 8];
        let (mem, root) = world(&mut words);
        let cptr = (0b101 << 5) | (1 << 3) | 5;
        assert_eq!(
            lookup_slot_for_cnode_op(&mem, false, root, cptr, 8),
            Ok(cnode_slot(0x2000, 5))
        );
        assert_eq!(
            lookup_slot_for_cnode_op(&mem, true, root, 0, 0),
            Err(SyscallError::RangeError(1, 64))
        );
        assert_eq!(
            lookup_slot_for_cnode_op(&mem, true, root, 0, 65),
            Err(SyscallError::RangeError(1, 64))
        );
        assert_eq!(
            lookup_slot_for_cnode_op(&mem, true, Cap::Null, 0, 8),
            Err(SyscallError::FailedLookup {
                source: true,
                failure: LookupFailure::InvalidRoot
            })
        );
        let empty = (0b101 << 5) | (2 << 3) | 5;
        assert_eq!(
            lookup_slot_for_cnode_op(&mem, false, root, empty, 8),
            Err(SyscallError::FailedLookup {
                source: false,
                failure: LookupFailure::DepthMismatch {
                    bits_left: 3,
                    bits_found: 0
                }
            })
        );
        assert_eq!(
            lookup_slot_for_cnode_op(&mem, true, root, 0, 8),
            Err(SyscallError::FailedLookup {
                source: true,
                failure: LookupFailure::GuardMismatch {
                    bits_left: 8,
                    guard_found: 0b101,
                    bits_found: 3
                }
            })
        );
        assert_eq!(
            lookup_cap(&mem, Cap::cnode(0x2000, 3, 0, 61), 5),
            Ok((cnode_slot(0x2000, 5), Cap::endpoint(0x3000, 0)))
        );
    }
}
