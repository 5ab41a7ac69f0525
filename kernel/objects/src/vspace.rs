//! VSpace, page-table and frame invocations (docs/sel4-abi.md §5.8–5.10, §9).
//!
//! Translation tables are real AArch64 stage-1 tables (4 KiB granule, four
//! levels, 9 index bits per level): the object model writes descriptors
//! into the VSpace and PageTable objects, and adds to the entry's TLB
//! invalidation set ([`crate::effects::TlbFlushes`]) every ASID whose
//! mappings it changes. Cache maintenance is requested with
//! [`Event::CacheOp`]. No instruction is executed here.
#![forbid(unsafe_code)]

use crate::cap::{Cap, FrameSize, Mapping};
use crate::cdt;
use crate::error::{SysResult, SyscallError};
use crate::syscall::{Event, Reply};
use crate::Kernel;
use cerne_abi::invocation::InvocationLabel as L;
use cerne_abi::lookup::LookupFailure;
use cerne_abi::object::PAGE_TABLE_BITS;
use cerne_abi::rights::CapRights;
use cerne_abi::vm::{VmRights, EXECUTE_NEVER, PAGE_CACHEABLE, PT_INDEX_BITS, USER_TOP};

/// Descriptor bits [1:0] of a table (levels 0–2) or page (level 3) entry.
pub const PTE_TABLE_OR_PAGE: u64 = 0b11;
/// Descriptor bits [1:0] of a block entry (levels 1–2).
pub const PTE_BLOCK: u64 = 0b01;
/// Output / next-table address bits [47:12].
pub const PTE_ADDR_MASK: u64 = 0x0000_FFFF_FFFF_F000;
/// MAIR index of Normal write-back memory.
pub const MAIR_NORMAL_WB: u64 = 4;
/// MAIR index of Device-nGnRnE memory.
pub const MAIR_DEVICE_NGNRNE: u64 = 0;
const PTE_AF: u64 = 1 << 10;
const PTE_NG: u64 = 1 << 11;
const PTE_UXN: u64 = 1 << 54;

/// Where a table walk stopped (seL4 `lookupPTSlot`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PtSlot {
    /// Physical address of the entry.
    pub slot: u64,
    /// Bits of address covered by that entry (39, 30, 21 or 12).
    pub bits_left: u32,
}

/// A user page/block descriptor for `paddr` (seL4 `makeUserPagePTE`).
pub fn make_user_pte(paddr: u64, rights: VmRights, attr: u64, size: FrameSize) -> u64 {
    let ap = match rights {
        VmRights::KernelOnly => 0b00,
        VmRights::ReadWrite => 0b01,
        VmRights::ReadOnly => 0b11,
    };
    let idx = if attr & PAGE_CACHEABLE != 0 {
        MAIR_NORMAL_WB
    } else {
        MAIR_DEVICE_NGNRNE
    };
    let kind = if size == FrameSize::Small {
        PTE_TABLE_OR_PAGE
    } else {
        PTE_BLOCK
    };
    let uxn = if attr & EXECUTE_NEVER != 0 {
        PTE_UXN
    } else {
        0
    };
    (paddr & PTE_ADDR_MASK) | kind | (idx << 2) | (ap << 6) | PTE_AF | PTE_NG | uxn
}

impl Kernel<'_> {
    /// seL4 `lookupPTSlot`: walks from the VSpace at `root` through table
    /// entries towards `vaddr`.
    pub fn lookup_pt_slot(&self, root: u64, vaddr: u64) -> PtSlot {
        let mut bits = 3 * PT_INDEX_BITS + PAGE_TABLE_BITS;
        let idx = |b: u32| ((vaddr >> b) & ((1 << PT_INDEX_BITS) - 1)) * 8;
        let mut slot = root + idx(bits);
        loop {
            let pte = self.mem.read_word(slot);
            if bits == PAGE_TABLE_BITS || pte & 0b11 != PTE_TABLE_OR_PAGE {
                return PtSlot {
                    slot,
                    bits_left: bits,
                };
            }
            bits -= PT_INDEX_BITS;
            slot = (pte & PTE_ADDR_MASK) + idx(bits);
        }
    }

    /// The word at user address `vaddr` of thread `t`'s address space, as
    /// EL0 would read it, or `None` when `t` has no assigned VSpace, the
    /// address is unaligned or above user space, no page maps it, the page
    /// denies EL0 reads, or it is not normal write-back RAM the kernel
    /// holds (device registers are never read). The kernel's fault report
    /// walks a faulting thread's frame records with it.
    pub fn read_user_word(&self, t: u64, vaddr: u64) -> Option<u64> {
        const PTE_AP_EL0: u64 = 1 << 6;
        if !vaddr.is_multiple_of(8) || vaddr >= USER_TOP {
            return None;
        }
        let Cap::VSpace {
            paddr: root,
            asid: Some(_),
        } = self.tcb_cap(t, crate::layout::TCB_VTABLE)
        else {
            return None;
        };
        let PtSlot { slot, bits_left } = self.lookup_pt_slot(root, vaddr);
        let pte = self.mem.read_word(slot);
        let leaf = match bits_left {
            PAGE_TABLE_BITS => PTE_TABLE_OR_PAGE,
            21 | 30 => PTE_BLOCK,
            _ => return None,
        };
        if pte & 0b11 != leaf || pte & PTE_AP_EL0 == 0 || (pte >> 2) & 0b111 != MAIR_NORMAL_WB {
            return None;
        }
        let offset_mask = (1u64 << bits_left) - 1;
        let paddr = (pte & PTE_ADDR_MASK & !offset_mask) | (vaddr & offset_mask);
        self.mem
            .contains(paddr, 8)
            .then(|| self.mem.read_word(paddr))
    }

    fn vspace_of(&self, asid: u16) -> SysResult<u64> {
        self.find_vspace_for_asid(asid)
            .ok_or(SyscallError::FailedLookup {
                source: false,
                failure: LookupFailure::InvalidRoot,
            })
    }

    fn valid_root(&self, c: Option<&Cap>) -> SysResult<(u64, u16)> {
        match c {
            Some(Cap::VSpace {
                paddr,
                asid: Some(asid),
            }) => Ok((*paddr, *asid)),
            _ => Err(SyscallError::InvalidCapability(1)),
        }
    }

    /// seL4 `unmapPage`: removes the mapping of the frame at `paddr` from
    /// `asid` + `vaddr` if the entry still maps it.
    pub fn unmap_page(&mut self, size: FrameSize, asid: u16, vaddr: u64, paddr: u64) {
        let Some(root) = self.find_vspace_for_asid(asid) else {
            return;
        };
        let s = self.lookup_pt_slot(root, vaddr);
        if s.bits_left != size.bits() {
            return;
        }
        let pte = self.mem.read_word(s.slot);
        let expected = if size == FrameSize::Small {
            PTE_TABLE_OR_PAGE
        } else {
            PTE_BLOCK
        };
        if pte & 0b11 == expected && pte & PTE_ADDR_MASK == paddr & PTE_ADDR_MASK {
            self.mem.write_word(s.slot, 0);
            self.flush_asid(asid);
        }
    }

    /// seL4 `unmapPageTable`: unlinks the table at `pt` from `asid` + `vaddr`.
    pub fn unmap_page_table(&mut self, asid: u16, vaddr: u64, pt: u64) {
        let Some(root) = self.find_vspace_for_asid(asid) else {
            return;
        };
        let mut table = root;
        let mut bits = 3 * PT_INDEX_BITS + PAGE_TABLE_BITS;
        while bits > PAGE_TABLE_BITS {
            let slot = table + ((vaddr >> bits) & ((1 << PT_INDEX_BITS) - 1)) * 8;
            let pte = self.mem.read_word(slot);
            if pte & 0b11 != PTE_TABLE_OR_PAGE {
                return;
            }
            if pte & PTE_ADDR_MASK == pt {
                self.mem.write_word(slot, 0);
                self.flush_asid(asid);
                return;
            }
            table = pte & PTE_ADDR_MASK;
            bits -= PT_INDEX_BITS;
        }
    }

    /// Invocations of frame, page-table and VSpace caps.
    pub(crate) fn invoke_vm(
        &mut self,
        label: u64,
        slot: u64,
        cap: Cap,
        mrs: &[u64],
        extra: &[Cap],
        _slots: &[u64],
    ) -> SysResult<Reply> {
        let label = L::from_word(label);
        let cur = self.state.current;
        match cap {
            Cap::PageTable { paddr, mapping } => match label {
                Some(L::ArmPageTableUnmap) => {
                    if !cdt::is_final(&self.mem, slot) {
                        return Err(SyscallError::RevokeFirst);
                    }
                    self.set_thread_state(cur, crate::ThreadState::Restart);
                    if let Some(m) = mapping {
                        self.unmap_page_table(m.asid, m.vaddr, paddr);
                        self.mem.zero(paddr, 1 << PAGE_TABLE_BITS);
                    }
                    cdt::set_cap(
                        &self.mem,
                        slot,
                        Cap::PageTable {
                            paddr,
                            mapping: None,
                        },
                    );
                    Ok(Reply::Empty)
                }
                Some(L::ArmPageTableMap) => {
                    if mrs.len() < 2 || extra.is_empty() {
                        return Err(SyscallError::TruncatedMessage);
                    }
                    if mapping.is_some() {
                        return Err(SyscallError::InvalidCapability(0));
                    }
                    let vaddr = mrs[0];
                    let (root, asid) = self.valid_root(extra.first())?;
                    if vaddr > USER_TOP {
                        return Err(SyscallError::InvalidArgument(0));
                    }
                    if self.vspace_of(asid)? != root {
                        return Err(SyscallError::InvalidCapability(1));
                    }
                    let s = self.lookup_pt_slot(root, vaddr);
                    if s.bits_left == PAGE_TABLE_BITS || self.mem.read_word(s.slot) & 1 != 0 {
                        return Err(SyscallError::DeleteFirst);
                    }
                    self.set_thread_state(cur, crate::ThreadState::Restart);
                    self.mem
                        .write_word(s.slot, (paddr & PTE_ADDR_MASK) | PTE_TABLE_OR_PAGE);
                    let m = Mapping {
                        asid,
                        vaddr: vaddr & !((1u64 << s.bits_left) - 1),
                    };
                    cdt::set_cap(
                        &self.mem,
                        slot,
                        Cap::PageTable {
                            paddr,
                            mapping: Some(m),
                        },
                    );
                    Ok(Reply::Empty)
                }
                _ => Err(SyscallError::IllegalOperation),
            },
            Cap::Frame {
                paddr,
                size,
                rights,
                is_device,
                mapping,
            } => {
                let bytes = 1u64 << size.bits();
                match label {
                    Some(L::ArmPageMap) => {
                        if mrs.len() < 3 || extra.is_empty() {
                            return Err(SyscallError::TruncatedMessage);
                        }
                        let (vaddr, mask, attr) = (mrs[0], CapRights::from_word(mrs[1]), mrs[2]);
                        let vm = rights.mask(mask);
                        let (root, asid) = self.valid_root(extra.first())?;
                        if self.vspace_of(asid)? != root {
                            return Err(SyscallError::InvalidCapability(1));
                        }
                        if vaddr & (bytes - 1) != 0 {
                            return Err(SyscallError::AlignmentError);
                        }
                        match mapping {
                            Some(m) if m.asid != asid => {
                                return Err(SyscallError::InvalidCapability(1))
                            }
                            Some(m) if m.vaddr != vaddr => {
                                return Err(SyscallError::InvalidArgument(0))
                            }
                            Some(_) => {}
                            None => {
                                if vaddr
                                    .checked_add(bytes - 1)
                                    .is_none_or(|top| top > USER_TOP)
                                {
                                    return Err(SyscallError::InvalidArgument(0));
                                }
                            }
                        }
                        let s = self.lookup_pt_slot(root, vaddr);
                        if s.bits_left != size.bits() {
                            return Err(SyscallError::FailedLookup {
                                source: false,
                                failure: LookupFailure::MissingCapability {
                                    bits_left: s.bits_left as u64,
                                },
                            });
                        }
                        self.set_thread_state(cur, crate::ThreadState::Restart);
                        let flush = self.mem.read_word(s.slot) & 1 != 0;
                        self.mem
                            .write_word(s.slot, make_user_pte(paddr, vm, attr, size));
                        if flush {
                            self.flush_asid(asid);
                        }
                        cdt::set_cap(
                            &self.mem,
                            slot,
                            Cap::Frame {
                                paddr,
                                size,
                                rights,
                                is_device,
                                mapping: Some(Mapping { asid, vaddr }),
                            },
                        );
                        Ok(Reply::Empty)
                    }
                    Some(L::ArmPageUnmap) => {
                        self.set_thread_state(cur, crate::ThreadState::Restart);
                        if let Some(m) = mapping {
                            self.unmap_page(size, m.asid, m.vaddr, paddr);
                        }
                        cdt::set_cap(
                            &self.mem,
                            slot,
                            Cap::Frame {
                                paddr,
                                size,
                                rights,
                                is_device,
                                mapping: None,
                            },
                        );
                        Ok(Reply::Empty)
                    }
                    Some(
                        op @ (L::ArmPageCleanData
                        | L::ArmPageInvalidateData
                        | L::ArmPageCleanInvalidateData
                        | L::ArmPageUnifyInstruction),
                    ) => {
                        if mrs.len() < 2 {
                            return Err(SyscallError::TruncatedMessage);
                        }
                        let Some(m) = mapping else {
                            return Err(SyscallError::IllegalOperation);
                        };
                        let root = self.vspace_of(m.asid)?;
                        let (start, end) = (mrs[0], mrs[1]);
                        if end <= start {
                            return Err(SyscallError::InvalidArgument(1));
                        }
                        if start >= bytes || end > bytes {
                            return Err(SyscallError::InvalidArgument(0));
                        }
                        let s = self.lookup_pt_slot(root, m.vaddr);
                        let pte = self.mem.read_word(s.slot);
                        if s.bits_left != size.bits()
                            || pte & 1 == 0
                            || pte & PTE_ADDR_MASK != paddr
                        {
                            return Err(SyscallError::InvalidCapability(0));
                        }
                        if op == L::ArmPageInvalidateData && (pte >> 6) & 0b11 != 0b01 {
                            return Err(SyscallError::IllegalOperation);
                        }
                        self.set_thread_state(cur, crate::ThreadState::Restart);
                        self.request(Event::CacheOp {
                            label: op.word(),
                            paddr: paddr + start,
                            len: end - start,
                        });
                        Ok(Reply::Empty)
                    }
                    Some(L::ArmPageGetAddress) => {
                        self.set_thread_state(cur, crate::ThreadState::Restart);
                        let mut w = [0u64; 36];
                        w[0] = paddr;
                        Ok(Reply::Words(w, 1))
                    }
                    _ => Err(SyscallError::IllegalOperation),
                }
            }
            Cap::VSpace { paddr, asid } => {
                let Some(
                    op @ (L::ArmVSpaceCleanData
                    | L::ArmVSpaceInvalidateData
                    | L::ArmVSpaceCleanInvalidateData
                    | L::ArmVSpaceUnifyInstruction),
                ) = label
                else {
                    return Err(SyscallError::IllegalOperation);
                };
                if mrs.len() < 2 {
                    return Err(SyscallError::TruncatedMessage);
                }
                let (start, end) = (mrs[0], mrs[1]);
                if end <= start {
                    return Err(SyscallError::InvalidArgument(1));
                }
                if end > USER_TOP {
                    return Err(SyscallError::IllegalOperation);
                }
                let Some(asid) = asid else {
                    return Err(SyscallError::InvalidCapability(0));
                };
                if self.vspace_of(asid)? != paddr {
                    return Err(SyscallError::InvalidCapability(0));
                }
                let s = self.lookup_pt_slot(paddr, start);
                let pte = self.mem.read_word(s.slot);
                let is_leaf =
                    pte & 1 != 0 && (s.bits_left == PAGE_TABLE_BITS || pte & 0b11 == PTE_BLOCK);
                // Restart (the success path) only once every check has
                // passed: an error must reach the caller as it is.
                if !is_leaf {
                    self.set_thread_state(cur, crate::ThreadState::Restart);
                    return Ok(Reply::Empty);
                }
                let page_mask = (1u64 << s.bits_left) - 1;
                let page_end = (start & !page_mask) + page_mask;
                if end - 1 > page_end {
                    return Err(SyscallError::RangeError(start, page_end));
                }
                if op == L::ArmVSpaceInvalidateData && (pte >> 6) & 0b11 != 0b01 {
                    return Err(SyscallError::IllegalOperation);
                }
                self.set_thread_state(cur, crate::ThreadState::Restart);
                self.request(Event::CacheOp {
                    label: op.word(),
                    paddr: (pte & PTE_ADDR_MASK & !page_mask) + (start & page_mask),
                    len: end - start,
                });
                Ok(Reply::Empty)
            }
            _ => Err(SyscallError::IllegalOperation),
        }
    }
}
