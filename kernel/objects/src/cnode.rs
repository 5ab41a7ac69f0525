//! CNode invocations (docs/sel4-abi.md §5.5) and the cap transformations they
//! use: rights masking, cap data (badge / guard, §8.2–8.3) and derivation
//! (§8.4).
#![forbid(unsafe_code)]

use crate::cap::Cap;
use crate::cdt;
use crate::cspace::lookup_slot_for_cnode_op;
use crate::error::{SysResult, SyscallError};
use crate::layout::TCB_CALLER;
use crate::tcb::tcb_slot;
use crate::Kernel;
use cerne_abi::invocation::InvocationLabel as L;
use cerne_abi::lookup::LookupFailure;
use cerne_abi::rights::CapRights;

/// A frame cap as a copy of it starts: unmapped.
pub fn frame_copy(c: Cap) -> Cap {
    match c {
        Cap::Frame {
            paddr,
            size,
            rights,
            is_device,
            ..
        } => Cap::Frame {
            paddr,
            size,
            rights,
            is_device,
            mapping: None,
        },
        other => other,
    }
}

/// seL4 `maskCapRights`.
pub fn mask_cap_rights(mask: CapRights, c: Cap) -> Cap {
    match c {
        Cap::Endpoint {
            paddr,
            badge,
            rights,
        } => Cap::Endpoint {
            paddr,
            badge,
            rights: rights.intersect(mask),
        },
        Cap::Notification {
            paddr,
            badge,
            rights,
        } => Cap::Notification {
            paddr,
            badge,
            rights: rights.intersect(mask).intersect(CapRights::READ_WRITE),
        },
        Cap::Reply { tcb, master, grant } => Cap::Reply {
            tcb,
            master,
            grant: grant && mask.grant(),
        },
        Cap::Frame {
            paddr,
            size,
            rights,
            is_device,
            mapping,
        } => Cap::Frame {
            paddr,
            size,
            rights: rights.mask(mask),
            is_device,
            mapping,
        },
        other => other,
    }
}

/// seL4 `updateCapData`: applies Mint / Mutate / Rotate data. `preserve`
/// (Mutate, Rotate) never badges; a result of `Cap::Null` means the
/// operation is illegal.
pub fn update_cap_data(preserve: bool, data: u64, c: Cap) -> Cap {
    match c {
        Cap::Endpoint {
            paddr,
            badge: 0,
            rights,
        } if !preserve => Cap::Endpoint {
            paddr,
            badge: data,
            rights,
        },
        Cap::Notification {
            paddr,
            badge: 0,
            rights,
        } if !preserve => Cap::Notification {
            paddr,
            badge: data,
            rights,
        },
        Cap::Endpoint { .. } | Cap::Notification { .. } => Cap::Null,
        Cap::CNode { paddr, radix, .. } => {
            let guard_size = data & 0x3f;
            if guard_size + radix as u64 > 64 {
                return Cap::Null;
            }
            let guard = (data >> 6) & ((1u64 << guard_size) - 1);
            Cap::CNode {
                paddr,
                radix,
                guard_size: guard_size as u8,
                guard,
            }
        }
        other => other,
    }
}

impl Kernel<'_> {
    /// seL4 `deriveCap`: the cap a copy of `c` (in slot `s`) gets, or the
    /// error that forbids the copy. `Ok(Cap::Null)` means "cannot be copied".
    pub fn derive_cap(&self, s: u64, c: Cap) -> SysResult<Cap> {
        Ok(match c {
            Cap::Zombie { .. } | Cap::IrqControl | Cap::Reply { .. } => Cap::Null,
            Cap::Untyped { .. } => {
                if cdt::has_children(&self.mem, s) {
                    return Err(SyscallError::RevokeFirst);
                }
                c
            }
            Cap::PageTable { mapping: None, .. } | Cap::VSpace { asid: None, .. } => {
                return Err(SyscallError::IllegalOperation)
            }
            Cap::Frame { .. } => frame_copy(c),
            other => other,
        })
    }

    /// Decodes and performs a CNode invocation on `cnode` (the invoked
    /// cap). `mrs` are the message words (length already applied), `extra`
    /// the caps of the resolved extra-cap slots.
    pub fn invoke_cnode(
        &mut self,
        label: u64,
        cnode: Cap,
        mrs: &[u64],
        extra: &[Cap],
    ) -> SysResult<()> {
        let label = match L::from_word(label) {
            Some(l) if (L::CNodeRevoke..=L::CNodeSaveCaller).contains(&l) => l,
            _ => return Err(SyscallError::IllegalOperation),
        };
        if mrs.len() < 2 {
            return Err(SyscallError::TruncatedMessage);
        }
        let dest = lookup_slot_for_cnode_op(&self.mem, false, cnode, mrs[0], mrs[1])?;
        let missing = |source: bool, depth: u64| SyscallError::FailedLookup {
            source,
            failure: LookupFailure::MissingCapability { bits_left: depth },
        };
        match label {
            L::CNodeCopy | L::CNodeMint | L::CNodeMove | L::CNodeMutate => {
                if mrs.len() < 4 || extra.is_empty() {
                    return Err(SyscallError::TruncatedMessage);
                }
                self.ensure_empty(dest)?;
                let src = lookup_slot_for_cnode_op(&self.mem, true, extra[0], mrs[2], mrs[3])?;
                let src_cap = cdt::cap(&self.mem, src);
                if src_cap.is_null() {
                    return Err(missing(true, mrs[3]));
                }
                let (new, is_move) = match label {
                    L::CNodeCopy => {
                        let rights = *mrs.get(4).ok_or(SyscallError::TruncatedMessage)?;
                        let masked = mask_cap_rights(CapRights::from_word(rights), src_cap);
                        (self.derive_cap(src, masked)?, false)
                    }
                    L::CNodeMint => {
                        if mrs.len() < 6 {
                            return Err(SyscallError::TruncatedMessage);
                        }
                        let masked = mask_cap_rights(CapRights::from_word(mrs[4]), src_cap);
                        (
                            self.derive_cap(src, update_cap_data(false, mrs[5], masked))?,
                            false,
                        )
                    }
                    L::CNodeMove => (src_cap, true),
                    _ => {
                        let data = *mrs.get(4).ok_or(SyscallError::TruncatedMessage)?;
                        (update_cap_data(true, data, src_cap), true)
                    }
                };
                if new.is_null() {
                    return Err(SyscallError::IllegalOperation);
                }
                if is_move {
                    cdt::move_cap(&self.mem, new, src, dest);
                } else {
                    cdt::insert(&self.mem, new, src, dest);
                }
            }
            L::CNodeRevoke => self.revoke_slot(dest),
            L::CNodeDelete => self.delete_slot(dest),
            L::CNodeSaveCaller => {
                self.ensure_empty(dest)?;
                let caller = tcb_slot(self.state.current, TCB_CALLER);
                if let c @ Cap::Reply { master: false, .. } = cdt::cap(&self.mem, caller) {
                    cdt::move_cap(&self.mem, c, caller, dest);
                }
            }
            L::CNodeCancelBadgedSends => match cdt::cap(&self.mem, dest) {
                Cap::Endpoint {
                    paddr,
                    badge,
                    rights,
                } if rights == CapRights::ALL => {
                    if badge != 0 {
                        self.cancel_badged_sends(paddr, badge);
                    }
                }
                _ => return Err(SyscallError::IllegalOperation),
            },
            _ => {
                // CNodeRotate.
                if mrs.len() < 8 || extra.len() < 2 {
                    return Err(SyscallError::TruncatedMessage);
                }
                let (pivot_data, pivot_index, pivot_depth) = (mrs[2], mrs[3], mrs[4]);
                let (src_data, src_index, src_depth) = (mrs[5], mrs[6], mrs[7]);
                let src =
                    lookup_slot_for_cnode_op(&self.mem, true, extra[1], src_index, src_depth)?;
                let pivot =
                    lookup_slot_for_cnode_op(&self.mem, true, extra[0], pivot_index, pivot_depth)?;
                if pivot == src || pivot == dest {
                    return Err(SyscallError::IllegalOperation);
                }
                if src != dest {
                    self.ensure_empty(dest)?;
                }
                let src_cap = cdt::cap(&self.mem, src);
                if src_cap.is_null() {
                    return Err(missing(true, src_depth));
                }
                let pivot_cap = cdt::cap(&self.mem, pivot);
                if pivot_cap.is_null() {
                    return Err(missing(false, pivot_depth));
                }
                let new_src = update_cap_data(true, src_data, src_cap);
                let new_pivot = update_cap_data(true, pivot_data, pivot_cap);
                if new_src.is_null() || new_pivot.is_null() {
                    return Err(SyscallError::IllegalOperation);
                }
                if src == dest {
                    cdt::swap(&self.mem, new_src, src, new_pivot, pivot);
                } else {
                    cdt::move_cap(&self.mem, new_pivot, pivot, dest);
                    cdt::move_cap(&self.mem, new_src, src, pivot);
                }
            }
        }
        Ok(())
    }

    /// seL4 `ensureEmptySlot`.
    pub fn ensure_empty(&self, s: u64) -> SysResult<()> {
        if cdt::cap(&self.mem, s).is_null() {
            Ok(())
        } else {
            Err(SyscallError::DeleteFirst)
        }
    }
}
