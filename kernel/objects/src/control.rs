//! Invocations of the control caps (docs/sel4-abi.md §5.6, §5.7, §5.11):
//! IRQControl / IRQHandler, DomainSet, ASIDControl and ASIDPool.
#![forbid(unsafe_code)]

use crate::cap::Cap;
use crate::cdt;
use crate::cspace::{cnode_slot, lookup_slot_for_cnode_op};
use crate::error::{SysResult, SyscallError};
use crate::layout::ASID_POOL_ENTRY_BYTES;
use crate::state::{DomainScheduleEntry, IrqState, MAX_IRQ, NUM_DOMAINS, NUM_DOMAIN_SCHEDULES};
use crate::syscall::{Event, Reply};
use crate::tcb::{self, ThreadState};
use crate::Kernel;
use cerne_abi::invocation::InvocationLabel as L;
use cerne_abi::lookup::LookupFailure;
use cerne_abi::object::ASID_POOL_BITS;
use cerne_abi::vm::{ASID_POOL_SIZE, NUM_ASID_POOLS};

/// Number of SGIs.
pub const NUM_SGIS: u64 = 16;
/// Highest GIC CPU interface number an SGI may target.
pub const MAX_SGI_TARGET: u64 = 7;

impl Kernel<'_> {
    fn restart_current(&mut self) {
        let cur = self.state.current;
        self.set_thread_state(cur, ThreadState::Restart);
    }

    /// DomainSet invocations.
    pub(crate) fn invoke_domain(
        &mut self,
        label: u64,
        mrs: &[u64],
        extra: &[Cap],
    ) -> SysResult<Reply> {
        match L::from_word(label) {
            Some(L::DomainSetSet) => {
                let Some(&domain) = mrs.first() else {
                    return Err(SyscallError::TruncatedMessage);
                };
                if domain >= NUM_DOMAINS {
                    return Err(SyscallError::InvalidArgument(0));
                }
                let Some(c) = extra.first() else {
                    return Err(SyscallError::TruncatedMessage);
                };
                let Cap::Thread { tcb: t } = *c else {
                    return Err(SyscallError::InvalidArgument(1));
                };
                self.restart_current();
                self.sched_dequeue(t);
                tcb::update(&self.mem, t, |f| f.domain = domain);
                if tcb::state(&self.mem, t).is_runnable() && t != self.state.current {
                    self.sched_enqueue(t);
                }
                if t == self.state.current {
                    self.reschedule_required();
                }
                Ok(Reply::Empty)
            }
            Some(L::DomainScheduleConfigure) => {
                if mrs.len() < 3 {
                    return Err(SyscallError::TruncatedMessage);
                }
                let (index, domain, duration) = (mrs[0], mrs[1], mrs[2]);
                let n = NUM_DOMAIN_SCHEDULES as u64;
                if index >= n - 1 {
                    return Err(SyscallError::RangeError(0, n - 2));
                }
                if domain >= NUM_DOMAINS {
                    return Err(SyscallError::RangeError(0, NUM_DOMAINS - 1));
                }
                if duration >= 1 << 56 {
                    return Err(SyscallError::InvalidArgument(2));
                }
                if duration == 0 && domain != 0 {
                    return Err(SyscallError::InvalidArgument(1));
                }
                if index == self.state.domain_schedule_start && duration == 0 {
                    return Err(SyscallError::InvalidArgument(2));
                }
                self.restart_current();
                self.state.domain_schedule[index as usize] = DomainScheduleEntry {
                    domain,
                    length: duration,
                };
                Ok(Reply::Empty)
            }
            Some(L::DomainScheduleSetStart) => {
                let Some(&index) = mrs.first() else {
                    return Err(SyscallError::TruncatedMessage);
                };
                let n = NUM_DOMAIN_SCHEDULES as u64;
                if index >= n {
                    return Err(SyscallError::RangeError(0, n - 1));
                }
                let e = self.state.domain_schedule[index as usize];
                if e.domain == 0 && e.length == 0 {
                    return Err(SyscallError::InvalidArgument(0));
                }
                self.restart_current();
                self.state.domain_schedule_start = index;
                self.state.domain_schedule_index = index;
                self.state.current_domain = e.domain;
                self.state.domain_time = e.length;
                self.reschedule_required();
                Ok(Reply::Empty)
            }
            _ => Err(SyscallError::IllegalOperation),
        }
    }

    /// IRQControl invocations (Get, GetTrigger, IssueSGISignal).
    pub(crate) fn invoke_irq_control(
        &mut self,
        label: u64,
        mrs: &[u64],
        extra: &[Cap],
    ) -> SysResult<Reply> {
        let control = self.state.invoked_slot;
        let label = L::from_word(label);
        let (irq, trigger, index, depth) = match label {
            Some(L::IrqIssueIrqHandler) => {
                if mrs.len() < 3 || extra.is_empty() {
                    return Err(SyscallError::TruncatedMessage);
                }
                (mrs[0], None, mrs[1], mrs[2])
            }
            Some(L::ArmIrqIssueIrqHandlerTrigger) => {
                if mrs.len() < 4 || extra.is_empty() {
                    return Err(SyscallError::TruncatedMessage);
                }
                (mrs[0], Some(mrs[1] != 0), mrs[2], mrs[3])
            }
            Some(L::ArmIrqIssueSgiSignal) => {
                if mrs.len() < 4 || extra.is_empty() {
                    return Err(SyscallError::TruncatedMessage);
                }
                if mrs[0] >= NUM_SGIS {
                    return Err(SyscallError::RangeError(0, NUM_SGIS - 1));
                }
                if mrs[1] > MAX_SGI_TARGET {
                    return Err(SyscallError::InvalidArgument(1));
                }
                let dest = lookup_slot_for_cnode_op(&self.mem, false, extra[0], mrs[2], mrs[3])?;
                self.ensure_empty(dest)?;
                self.restart_current();
                let c = Cap::SgiSignal {
                    irq: mrs[0] as u8,
                    target: mrs[1] as u8,
                };
                cdt::insert(&self.mem, c, control, dest);
                return Ok(Reply::Empty);
            }
            _ => return Err(SyscallError::IllegalOperation),
        };
        if irq > MAX_IRQ as u64 {
            return Err(SyscallError::RangeError(0, MAX_IRQ as u64));
        }
        if self.state.irq_state[irq as usize] != IrqState::Inactive {
            return Err(SyscallError::RevokeFirst);
        }
        let dest = lookup_slot_for_cnode_op(&self.mem, false, extra[0], index, depth)?;
        self.ensure_empty(dest)?;
        self.restart_current();
        if let Some(edge) = trigger {
            self.request(Event::SetIrqTrigger {
                irq: irq as u16,
                edge,
            });
        }
        self.state.irq_state[irq as usize] = IrqState::Signal;
        cdt::insert(
            &self.mem,
            Cap::IrqHandler { irq: irq as u16 },
            control,
            dest,
        );
        Ok(Reply::Empty)
    }

    /// IRQHandler invocations (Ack, SetNotification, Clear).
    pub(crate) fn invoke_irq_handler(
        &mut self,
        label: u64,
        irq: u16,
        _slot: u64,
        extra: &[Cap],
        slots: &[u64],
    ) -> SysResult<Reply> {
        match L::from_word(label) {
            Some(L::IrqAckIrq) => {
                self.restart_current();
                self.request(Event::UnmaskIrq(irq));
            }
            Some(L::IrqSetIrqHandler) => {
                let Some(c) = extra.first() else {
                    return Err(SyscallError::TruncatedMessage);
                };
                if !matches!(c, Cap::Notification { rights, .. } if rights.write()) {
                    return Err(SyscallError::InvalidCapability(0));
                }
                self.restart_current();
                if let Some(s) = self.irq_slot(irq) {
                    self.delete_one(s);
                    cdt::insert(&self.mem, *c, slots[0], s);
                }
            }
            Some(L::IrqClearIrqHandler) => {
                self.restart_current();
                if let Some(s) = self.irq_slot(irq) {
                    self.delete_one(s);
                }
            }
            _ => return Err(SyscallError::IllegalOperation),
        }
        Ok(Reply::Empty)
    }

    /// ASIDControl MakePool.
    pub(crate) fn invoke_asid_control(
        &mut self,
        label: u64,
        mrs: &[u64],
        extra: &[Cap],
        slots: &[u64],
    ) -> SysResult<Reply> {
        if label != L::ArmAsidControlMakePool.word() {
            return Err(SyscallError::IllegalOperation);
        }
        if mrs.len() < 2 || extra.len() < 2 {
            return Err(SyscallError::TruncatedMessage);
        }
        let Some(pool) = self.state.asid_table.iter().position(|p| *p == 0) else {
            return Err(SyscallError::DeleteFirst);
        };
        let Cap::Untyped {
            paddr,
            size_bits,
            is_device: false,
            ..
        } = extra[0]
        else {
            return Err(SyscallError::InvalidCapability(1));
        };
        if size_bits as u32 != ASID_POOL_BITS {
            return Err(SyscallError::InvalidCapability(1));
        }
        if cdt::has_children(&self.mem, slots[0]) {
            return Err(SyscallError::RevokeFirst);
        }
        let dest = lookup_slot_for_cnode_op(&self.mem, false, extra[1], mrs[0], mrs[1])?;
        self.ensure_empty(dest)?;
        self.restart_current();
        cdt::set_cap(
            &self.mem,
            slots[0],
            Cap::Untyped {
                paddr,
                size_bits,
                is_device: false,
                free_index: 1 << size_bits,
            },
        );
        self.mem.zero(paddr, 1 << ASID_POOL_BITS);
        let c = Cap::AsidPool {
            paddr,
            asid_base: (pool * ASID_POOL_SIZE) as u16,
        };
        cdt::insert(&self.mem, c, slots[0], dest);
        self.state.asid_table[pool] = paddr;
        Ok(Reply::Empty)
    }

    /// ASIDPool Assign.
    pub(crate) fn invoke_asid_pool(
        &mut self,
        label: u64,
        cap: Cap,
        extra: &[Cap],
        slots: &[u64],
    ) -> SysResult<Reply> {
        if label != L::ArmAsidPoolAssign.word() {
            return Err(SyscallError::IllegalOperation);
        }
        let Some(c) = extra.first() else {
            return Err(SyscallError::TruncatedMessage);
        };
        let Cap::VSpace {
            paddr: vspace,
            asid: None,
        } = *c
        else {
            return Err(SyscallError::InvalidCapability(1));
        };
        let Cap::AsidPool { paddr, asid_base } = cap else {
            return Err(SyscallError::InvalidCapability(0));
        };
        let pool = self.state.asid_table[asid_base as usize / ASID_POOL_SIZE % NUM_ASID_POOLS];
        if pool == 0 {
            return Err(SyscallError::FailedLookup {
                source: false,
                failure: LookupFailure::InvalidRoot,
            });
        }
        if pool != paddr {
            return Err(SyscallError::InvalidCapability(0));
        }
        let free = (0..ASID_POOL_SIZE as u64).find(|i| {
            asid_base as u64 + i != 0 && self.mem.read_word(pool + i * ASID_POOL_ENTRY_BYTES) == 0
        });
        let Some(i) = free else {
            return Err(SyscallError::DeleteFirst);
        };
        self.restart_current();
        let asid = asid_base + i as u16;
        self.mem
            .write_word(pool + i * ASID_POOL_ENTRY_BYTES, vspace);
        cdt::set_cap(
            &self.mem,
            slots[0],
            Cap::VSpace {
                paddr: vspace,
                asid: Some(asid),
            },
        );
        Ok(Reply::Empty)
    }
}

/// Slot of IRQ `irq` in an IRQ node at `node` (for checkers).
pub fn irq_node_slot(node: u64, irq: u64) -> u64 {
    cnode_slot(node, irq)
}
