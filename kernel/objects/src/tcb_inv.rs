//! TCB invocations (docs/sel4-abi.md §5.4): registers, Configure / SetSpace /
//! SetIPCBuffer, priorities with the MCP rule (§11), Suspend / Resume,
//! notification binding, TLS base and flags.
#![forbid(unsafe_code)]

use crate::cap::Cap;
use crate::cdt;
use crate::cnode::update_cap_data;
use crate::error::{SysResult, SyscallError};
use crate::layout::{UserContext, TCB_BUFFER, TCB_CTABLE, TCB_VTABLE};
use crate::queue;
use crate::syscall::Reply;
use crate::tcb::{self, tcb_slot, ThreadState};
use crate::Kernel;
use cerne_abi::fault::{sanitise_spsr, UserContextReg, USER_CONTEXT_ORDER, USER_CONTEXT_WORDS};
use cerne_abi::invocation::InvocationLabel as L;
use cerne_abi::ipc_buffer::IPC_BUFFER_SIZE_BITS;

/// Register `i` of seL4_UserContext order for thread `t` (index 0 = restart PC).
pub fn read_reg(c: &UserContext, fault_ip: u64, i: usize) -> u64 {
    match USER_CONTEXT_ORDER[i % USER_CONTEXT_WORDS] {
        UserContextReg::Pc => fault_ip,
        UserContextReg::Sp => c.sp_el0,
        UserContextReg::Spsr => c.spsr_el1,
        UserContextReg::X(n) => c.x[n as usize],
        UserContextReg::TpidrEl0 => c.tpidr_el0,
        UserContextReg::TpidrroEl0 => c.tpidrro_el0,
    }
}

/// TCB flag bits user space may set (seL4_TCBFlag_MASK).
pub const TCB_FLAG_MASK: u64 = cerne_abi::tcb::TCB_FLAGS_ALL;

impl Kernel<'_> {
    fn write_reg(&mut self, t: u64, i: usize, v: u64) {
        match USER_CONTEXT_ORDER[i % USER_CONTEXT_WORDS] {
            UserContextReg::Pc => tcb::update(&self.mem, t, |f| f.fault_ip = v),
            r => {
                let c = self.mem.user_context_mut(t);
                match r {
                    UserContextReg::Sp => c.sp_el0 = v,
                    UserContextReg::Spsr => c.spsr_el1 = sanitise_spsr(v),
                    UserContextReg::X(n) => c.x[n as usize] = v,
                    UserContextReg::TpidrEl0 => c.tpidr_el0 = v,
                    _ => c.tpidrro_el0 = v,
                }
            }
        }
    }

    fn restart_pc_to_next(&mut self, t: u64) {
        let pc = tcb::fields(&self.mem, t).fault_ip;
        self.mem.user_context_mut(t).elr_el1 = pc;
    }

    /// seL4 `setPriority`.
    pub fn set_priority(&mut self, t: u64, prio: u64) {
        self.sched_dequeue(t);
        tcb::update(&self.mem, t, |f| f.priority = prio & 0xff);
        if tcb::state(&self.mem, t).is_runnable() {
            if t == self.state.current {
                self.reschedule_required();
            } else {
                self.possible_switch_to(t);
            }
        }
    }

    /// seL4 `setMCPriority`.
    pub fn set_mcp(&mut self, t: u64, mcp: u64) {
        tcb::update(&self.mem, t, |f| f.mcp = mcp & 0xff);
    }

    fn auth_mcp(&self, extra: &[Cap]) -> SysResult<u64> {
        match extra.first() {
            Some(Cap::Thread { tcb }) => Ok(tcb::fields(&self.mem, *tcb).mcp),
            Some(_) => Err(SyscallError::InvalidCapability(1)),
            None => Err(SyscallError::TruncatedMessage),
        }
    }

    fn check_prio(p: u64, mcp: u64) -> SysResult<()> {
        if p > mcp {
            Err(SyscallError::RangeError(0, mcp))
        } else {
            Ok(())
        }
    }

    /// seL4 `slotCapLongRunningDelete`.
    fn long_running_delete(&self, s: u64) -> bool {
        let c = cdt::cap(&self.mem, s);
        !c.is_null()
            && cdt::is_final(&self.mem, s)
            && matches!(
                c,
                Cap::Thread { .. } | Cap::Zombie { .. } | Cap::CNode { .. }
            )
    }

    /// Derives and checks an IPC buffer frame cap (Configure / SetIPCBuffer).
    fn check_buffer(&self, addr: u64, slot: u64, c: Cap) -> SysResult<Cap> {
        let d = self.derive_cap(slot, c)?;
        if !matches!(
            d,
            Cap::Frame {
                is_device: false,
                ..
            }
        ) {
            return Err(SyscallError::IllegalOperation);
        }
        if addr & ((1 << IPC_BUFFER_SIZE_BITS) - 1) != 0 {
            return Err(SyscallError::AlignmentError);
        }
        Ok(d)
    }

    /// Checks and derives new CSpace / VSpace roots (Configure / SetSpace).
    fn check_space(
        &self,
        target: u64,
        croot_data: u64,
        extra: &[Cap],
        slots: &[u64],
    ) -> SysResult<(Cap, Cap)> {
        if self.long_running_delete(tcb_slot(target, TCB_CTABLE))
            || self.long_running_delete(tcb_slot(target, TCB_VTABLE))
        {
            return Err(SyscallError::IllegalOperation);
        }
        let mut croot = extra[0];
        if croot_data != 0 {
            croot = update_cap_data(false, croot_data, croot);
        }
        let croot = self.derive_cap(slots[0], croot)?;
        if !matches!(croot, Cap::CNode { .. }) {
            return Err(SyscallError::IllegalOperation);
        }
        let vroot = self.derive_cap(slots[1], extra[1])?;
        if !matches!(vroot, Cap::VSpace { asid: Some(_), .. }) {
            return Err(SyscallError::IllegalOperation);
        }
        Ok((croot, vroot))
    }

    /// Replaces the cap in TCB slot `idx` of `target` by `new` derived from
    /// `src`, if the source and the invoked TCB cap are still in place.
    fn install_tcb_cap(&mut self, target: u64, tcb_cap_slot: u64, idx: u64, new: Cap, src: u64) {
        let dest = tcb_slot(target, idx);
        self.delete_slot(dest);
        let src_ok = !new.is_null() && new.same_object_as(&cdt::cap(&self.mem, src));
        let tcb_ok = Cap::Thread { tcb: target }.same_object_as(&cdt::cap(&self.mem, tcb_cap_slot));
        if src_ok && tcb_ok && cdt::cap(&self.mem, dest).is_null() {
            cdt::insert(&self.mem, new, src, dest);
        }
    }

    fn set_buffer(&mut self, target: u64, tcb_cap_slot: u64, addr: u64, new: Option<(Cap, u64)>) {
        self.delete_slot(tcb_slot(target, TCB_BUFFER));
        tcb::update(&self.mem, target, |f| f.ipc_buffer = addr);
        if let Some((c, src)) = new {
            self.install_tcb_cap(target, tcb_cap_slot, TCB_BUFFER, c, src);
        }
        if target == self.state.current {
            self.reschedule_required();
        }
    }

    /// Decodes and performs an invocation of the TCB cap to `target` held
    /// in `slot`.
    pub(crate) fn invoke_tcb(
        &mut self,
        label: u64,
        target: u64,
        slot: u64,
        mrs: &[u64],
        extra: &[Cap],
        slots: &[u64],
    ) -> SysResult<Reply> {
        let cur = self.state.current;
        let restart = |k: &mut Self| k.set_thread_state(cur, ThreadState::Restart);
        let Some(label) = L::from_word(label) else {
            return Err(SyscallError::IllegalOperation);
        };
        match label {
            L::TcbReadRegisters => {
                if mrs.len() < 2 {
                    return Err(SyscallError::TruncatedMessage);
                }
                let (flags, n) = (mrs[0], mrs[1]);
                if !(1..=USER_CONTEXT_WORDS as u64).contains(&n) {
                    return Err(SyscallError::RangeError(1, USER_CONTEXT_WORDS as u64));
                }
                if target == cur {
                    return Err(SyscallError::IllegalOperation);
                }
                restart(self);
                if flags & 1 != 0 {
                    self.suspend(target);
                }
                let c = tcb::context(&self.mem, target);
                let ip = tcb::fields(&self.mem, target).fault_ip;
                let mut w = [0u64; 36];
                for (i, o) in w.iter_mut().enumerate().take(n as usize) {
                    *o = read_reg(&c, ip, i);
                }
                Ok(Reply::Words(w, n as usize))
            }
            L::TcbWriteRegisters => {
                if mrs.len() < 2 {
                    return Err(SyscallError::TruncatedMessage);
                }
                let (flags, n) = (mrs[0], mrs[1]);
                if (mrs.len() as u64 - 2) < n {
                    return Err(SyscallError::TruncatedMessage);
                }
                if target == cur {
                    return Err(SyscallError::IllegalOperation);
                }
                restart(self);
                let n = n.min(USER_CONTEXT_WORDS as u64) as usize;
                for i in 0..n {
                    self.write_reg(target, i, mrs[i + 2]);
                }
                self.restart_pc_to_next(target);
                if flags & 1 != 0 {
                    self.restart(target);
                }
                Ok(Reply::Empty)
            }
            L::TcbCopyRegisters => {
                if mrs.is_empty() || extra.is_empty() {
                    return Err(SyscallError::TruncatedMessage);
                }
                let Cap::Thread { tcb: src } = extra[0] else {
                    return Err(SyscallError::InvalidCapability(1));
                };
                let flags = mrs[0];
                restart(self);
                if flags & 1 != 0 {
                    self.suspend(src);
                }
                if flags & 2 != 0 {
                    self.restart(target);
                }
                let c = tcb::context(&self.mem, src);
                let ip = tcb::fields(&self.mem, src).fault_ip;
                if flags & 4 != 0 {
                    for i in 0..17 {
                        self.write_reg(target, i, read_reg(&c, ip, i));
                    }
                    self.restart_pc_to_next(target);
                }
                if flags & 8 != 0 {
                    for i in 17..USER_CONTEXT_WORDS {
                        self.write_reg(target, i, read_reg(&c, ip, i));
                    }
                }
                if target == cur {
                    self.reschedule_required();
                }
                Ok(Reply::Empty)
            }
            L::TcbSuspend => {
                restart(self);
                self.suspend(target);
                Ok(Reply::Empty)
            }
            L::TcbResume => {
                restart(self);
                self.restart(target);
                Ok(Reply::Empty)
            }
            L::TcbConfigure => {
                if mrs.len() < 4 || extra.len() < 3 {
                    return Err(SyscallError::TruncatedMessage);
                }
                let (fault_ep, croot_data, addr) = (mrs[0], mrs[1], mrs[3]);
                let buffer = if addr == 0 {
                    None
                } else {
                    Some((self.check_buffer(addr, slots[2], extra[2])?, slots[2]))
                };
                let (croot, vroot) = self.check_space(target, croot_data, extra, slots)?;
                restart(self);
                tcb::update(&self.mem, target, |f| f.fault_handler = fault_ep);
                self.install_tcb_cap(target, slot, TCB_CTABLE, croot, slots[0]);
                self.install_tcb_cap(target, slot, TCB_VTABLE, vroot, slots[1]);
                self.set_buffer(target, slot, addr, buffer);
                Ok(Reply::Empty)
            }
            L::TcbSetSpace => {
                if mrs.len() < 3 || extra.len() < 2 {
                    return Err(SyscallError::TruncatedMessage);
                }
                let (croot, vroot) = self.check_space(target, mrs[1], extra, slots)?;
                restart(self);
                tcb::update(&self.mem, target, |f| f.fault_handler = mrs[0]);
                self.install_tcb_cap(target, slot, TCB_CTABLE, croot, slots[0]);
                self.install_tcb_cap(target, slot, TCB_VTABLE, vroot, slots[1]);
                Ok(Reply::Empty)
            }
            L::TcbSetIpcBuffer => {
                if mrs.is_empty() || extra.is_empty() {
                    return Err(SyscallError::TruncatedMessage);
                }
                let addr = mrs[0];
                let buffer = if addr == 0 {
                    None
                } else {
                    Some((self.check_buffer(addr, slots[0], extra[0])?, slots[0]))
                };
                restart(self);
                self.set_buffer(target, slot, addr, buffer);
                Ok(Reply::Empty)
            }
            L::TcbSetPriority | L::TcbSetMcPriority => {
                if mrs.is_empty() || extra.is_empty() {
                    return Err(SyscallError::TruncatedMessage);
                }
                let mcp = self.auth_mcp(extra)?;
                Self::check_prio(mrs[0], mcp)?;
                restart(self);
                if label == L::TcbSetPriority {
                    self.set_priority(target, mrs[0]);
                } else {
                    self.set_mcp(target, mrs[0]);
                }
                Ok(Reply::Empty)
            }
            L::TcbSetSchedParams => {
                if mrs.len() < 2 || extra.is_empty() {
                    return Err(SyscallError::TruncatedMessage);
                }
                let mcp = self.auth_mcp(extra)?;
                Self::check_prio(mrs[0], mcp)?;
                Self::check_prio(mrs[1], mcp)?;
                restart(self);
                self.set_mcp(target, mrs[0]);
                self.set_priority(target, mrs[1]);
                Ok(Reply::Empty)
            }
            L::TcbBindNotification => {
                let Some(c) = extra.first() else {
                    return Err(SyscallError::TruncatedMessage);
                };
                if tcb::fields(&self.mem, target).bound_notification != 0 {
                    return Err(SyscallError::IllegalOperation);
                }
                let Cap::Notification { paddr, rights, .. } = *c else {
                    return Err(SyscallError::IllegalOperation);
                };
                if !rights.read() {
                    return Err(SyscallError::IllegalOperation);
                }
                let n = queue::ntfn(&self.mem, paddr);
                if n.queue.head != 0 || n.bound != 0 {
                    return Err(SyscallError::IllegalOperation);
                }
                restart(self);
                self.bind_notification(target, paddr);
                Ok(Reply::Empty)
            }
            L::TcbUnbindNotification => {
                if tcb::fields(&self.mem, target).bound_notification == 0 {
                    return Err(SyscallError::IllegalOperation);
                }
                restart(self);
                self.unbind_notification(target);
                Ok(Reply::Empty)
            }
            L::TcbSetTlsBase => {
                let Some(&base) = mrs.first() else {
                    return Err(SyscallError::TruncatedMessage);
                };
                restart(self);
                self.mem.user_context_mut(target).tpidr_el0 = base;
                if target == cur {
                    self.reschedule_required();
                }
                Ok(Reply::Empty)
            }
            L::TcbSetFlags => {
                if mrs.len() < 2 {
                    return Err(SyscallError::TruncatedMessage);
                }
                restart(self);
                let mut flags = tcb::fields(&self.mem, target).flags;
                flags = (flags & !mrs[0]) | (mrs[1] & TCB_FLAG_MASK);
                tcb::update(&self.mem, target, |f| f.flags = flags);
                let mut w = [0u64; 36];
                w[0] = flags;
                Ok(Reply::Words(w, 1))
            }
            _ => Err(SyscallError::IllegalOperation),
        }
    }
}
