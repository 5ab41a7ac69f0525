//! System calls of the current thread (docs/sel4-abi.md §2, §5.2, §6): the
//! syscall dispatch, capability invocation with its error replies, Recv,
//! Reply, Yield, the debug calls, user faults and interrupts, and the
//! scheduling step that ends every kernel entry.
#![forbid(unsafe_code)]

use crate::cap::Cap;
use crate::cdt;
use crate::cspace;
use crate::error::{SysResult, SyscallError};
use crate::ipc::Fault;
use crate::layout::{TCB_CALLER, TCB_CONTEXT_OFFSET, TCB_CTABLE};
use crate::state::IrqState;
use crate::tcb::{self, tcb_slot, ThreadState};
use crate::Kernel;
use cerne_abi::lookup::LookupFailure;
use cerne_abi::message::{MessageInfo, FAST_MESSAGE_REGISTERS, MSG_MAX_EXTRA_CAPS, MSG_MAX_LENGTH};
use cerne_abi::syscall::{Syscall, DEBUG_NAME_THREAD_MAX};

pub use crate::effects::Event;

/// Result of a decoded invocation: either done, or done with reply words.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Reply {
    /// Success without data (or the thread blocked).
    Empty,
    /// Success with `len` result words.
    Words([u64; 36], usize),
}

impl Kernel<'_> {
    /// Handles `svc #0` of the current thread, whose registers are saved in
    /// its [`crate::UserContext`] (ELR = the instruction after the `svc`).
    /// Call [`Kernel::schedule_and_activate`] afterwards. Returns the
    /// call's event; its TLB invalidations are taken with
    /// [`Kernel::take_tlb_flushes`]. The kernel carries out both before
    /// user code runs again.
    pub fn handle_syscall(&mut self, x7: u64) -> Event {
        self.preemption.preempted = false;
        self.preemption.units = 0;
        let e = self.syscall_inner(x7);
        self.take_event(e)
    }

    fn syscall_inner(&mut self, x7: u64) -> Event {
        let t = self.state.current;
        if t == 0 {
            return Event::None;
        }
        let elr = tcb::context(&self.mem, t).elr_el1;
        tcb::update(&self.mem, t, |f| f.fault_ip = elr.wrapping_sub(4));
        let Some(sys) = Syscall::from_word(x7) else {
            return self.raise(t, Fault::UnknownSyscall { number: x7 });
        };
        match sys {
            Syscall::Send => self.handle_invocation(false, true),
            Syscall::NBSend => self.handle_invocation(false, false),
            Syscall::Call => self.handle_invocation(true, true),
            Syscall::Recv => self.handle_recv(true),
            Syscall::NBRecv => self.handle_recv(false),
            Syscall::Reply => {
                self.handle_reply();
                Event::None
            }
            Syscall::ReplyRecv => {
                self.handle_reply();
                self.handle_recv(true)
            }
            Syscall::Yield => {
                self.yield_current();
                Event::None
            }
            Syscall::DebugPutChar => Event::PutChar(tcb::context(&self.mem, t).x[0] as u8),
            Syscall::DebugDumpScheduler => Event::DumpScheduler,
            Syscall::DebugHalt => Event::Halt,
            Syscall::DebugSnapshot => Event::Snapshot,
            Syscall::DebugCapIdentify => {
                let cptr = tcb::context(&self.mem, t).x[0];
                let tag = match cspace::lookup_cap(&self.mem, self.cspace_root(t), cptr) {
                    Ok((_, c)) => c.tag().word(),
                    Err(_) => 0,
                };
                self.mem.user_context_mut(t).x[0] = tag;
                Event::None
            }
            Syscall::DebugNameThread => self.debug_name_thread(t),
            Syscall::DebugThreadInfo => {
                self.debug_thread_info(t);
                Event::None
            }
            Syscall::BenchmarkGetThreadUtilisation => {
                self.benchmark_get_thread_utilisation(t);
                Event::None
            }
            Syscall::BenchmarkResetThreadUtilisation => {
                self.benchmark_reset_thread_utilisation(t);
                Event::None
            }
            Syscall::BenchmarkDumpAllThreadsUtilisation => Event::DumpUtilisation,
            Syscall::BenchmarkResetAllThreadsUtilisation => {
                self.reset_all_threads_utilisation();
                Event::None
            }
        }
    }

    fn debug_name_thread(&mut self, t: u64) -> Event {
        let cptr = tcb::context(&self.mem, t).x[0];
        let Ok((_, Cap::Thread { tcb: target })) =
            cspace::lookup_cap(&self.mem, self.cspace_root(t), cptr)
        else {
            return Event::Halt;
        };
        let Some(buf) = self.ipc_buffer(t, true) else {
            return Event::Halt;
        };
        let mut name = [0u8; DEBUG_NAME_THREAD_MAX];
        for (i, b) in name.iter_mut().enumerate() {
            *b = self.mem.read::<u8>(buf + 8 + i as u64);
        }
        match name.iter().position(|b| *b == 0) {
            Some(n) => {
                self.set_thread_name(target, &name[..n]);
                Event::None
            }
            None => Event::Halt,
        }
    }

    /// The CSpace root cap of `t`.
    pub fn cspace_root(&self, t: u64) -> Cap {
        cdt::cap(&self.mem, tcb_slot(t, TCB_CTABLE))
    }

    /// Delivers a fault of `t` (or suspends it when nothing handles it).
    fn raise(&mut self, t: u64, fault: Fault) -> Event {
        if self.handle_fault(t, fault) {
            Event::None
        } else {
            Event::DoubleFault { tcb: t, fault }
        }
    }

    /// Handles a synchronous exception of the current thread other than
    /// `svc` (VM faults, undefined instructions, …). `fault_ip` is the
    /// address of the faulting instruction. Returns the entry's event;
    /// TLB invalidations as for [`Kernel::handle_syscall`].
    pub fn handle_user_fault(&mut self, fault: Fault) -> Event {
        let t = self.state.current;
        if t == 0 {
            return self.take_event(Event::None);
        }
        let elr = tcb::context(&self.mem, t).elr_el1;
        tcb::update(&self.mem, t, |f| f.fault_ip = elr);
        let e = self.raise(t, fault);
        self.take_event(e)
    }

    /// An IRQ fired: signals its notification (badge of the cap in the IRQ
    /// node). Returns true when the IRQ is handled by user space (the kernel
    /// then masks it until IRQHandler_Ack); the timer IRQ is the kernel's.
    pub fn handle_interrupt(&mut self, irq: u16) -> bool {
        let t = self.state.current;
        if t != 0 {
            // The interrupted thread resumes (or is read back) at ELR.
            let elr = tcb::context(&self.mem, t).elr_el1;
            tcb::update(&self.mem, t, |f| f.fault_ip = elr);
        }
        match self.state.irq_state.get(irq as usize) {
            Some(IrqState::Signal) => {
                if let Some(s) = self.irq_slot(irq) {
                    if let Cap::Notification {
                        paddr,
                        badge,
                        rights,
                    } = cdt::cap(&self.mem, s)
                    {
                        if rights.write() {
                            self.send_signal(paddr, badge);
                        }
                    }
                }
                true
            }
            Some(IrqState::Timer) => {
                self.timer_tick();
                false
            }
            _ => false,
        }
    }

    /// seL4 `schedule` + `activateThread`: picks the thread to run and
    /// makes a restarting thread re-execute at FaultIP.
    pub fn schedule_and_activate(&mut self) {
        self.schedule();
        let t = self.state.current;
        if t != 0 && tcb::state(&self.mem, t) == ThreadState::Restart {
            let pc = tcb::fields(&self.mem, t).fault_ip;
            self.mem.user_context_mut(t).elr_el1 = pc;
            self.set_thread_state(t, ThreadState::Running);
        }
    }

    /// Message words of the current thread's message (`len` of them).
    fn read_mrs(&self, t: u64, buf: Option<u64>, len: usize, out: &mut [u64; MSG_MAX_LENGTH]) {
        for (i, o) in out.iter_mut().enumerate().take(len) {
            *o = self.get_mr(t, buf, i);
        }
    }

    fn handle_invocation(&mut self, is_call: bool, blocking: bool) -> Event {
        let t = self.state.current;
        let (cptr, info) = {
            let o = tcb::obj(&self.mem, t);
            (
                o.word(TCB_CONTEXT_OFFSET),
                MessageInfo::from_word(o.word(TCB_CONTEXT_OFFSET + 8)),
            )
        };
        // The raw walk finds the slot of every lookup that succeeds; the
        // generic one runs only to name a failure.
        let root_words = self.mem.read::<[u64; 2]>(tcb_slot(t, TCB_CTABLE));
        let found = match cspace::lookup_slot_raw(&self.mem, root_words, cptr) {
            Some(s) => Ok((s, cdt::cap(&self.mem, s))),
            None => cspace::lookup_cap(&self.mem, self.cspace_root(t), cptr),
        };
        let (slot, cap) = match found {
            Ok(r) => r,
            Err(lookup) => {
                if blocking {
                    return self.raise(
                        t,
                        Fault::CapFault {
                            addr: cptr,
                            in_recv: false,
                            lookup,
                        },
                    );
                }
                return Event::None;
            }
        };
        let buf = self.ipc_buffer(t, false);
        let extra_slots = match self.lookup_extra_caps(t, buf, info) {
            Ok(s) => s,
            Err(f) => {
                if blocking {
                    return self.raise(t, f);
                }
                return Event::None;
            }
        };
        let mut len = info.clamped_length();
        if len > FAST_MESSAGE_REGISTERS && buf.is_none() {
            len = FAST_MESSAGE_REGISTERS;
        }
        let n_extra = extra_slots
            .iter()
            .take_while(|s| **s != 0)
            .count()
            .min(MSG_MAX_EXTRA_CAPS);
        let mut extra = [Cap::Null; MSG_MAX_EXTRA_CAPS];
        for i in 0..n_extra {
            extra[i] = cdt::cap(&self.mem, extra_slots[i]);
        }
        // IPC objects take no message words (the transfer reads them), so
        // only other invocations fill (and first zero) the 120-word array.
        let r = if matches!(
            cap,
            Cap::Null
                | Cap::Zombie { .. }
                | Cap::Endpoint { .. }
                | Cap::Notification { .. }
                | Cap::Reply { .. }
        ) {
            self.decode_invocation(
                info.label(),
                &[],
                slot,
                cap,
                &extra[..n_extra],
                &extra_slots[..n_extra],
                blocking,
                is_call,
            )
        } else {
            let mut mrs = [0u64; MSG_MAX_LENGTH];
            self.read_mrs(t, buf, len, &mut mrs);
            self.decode_invocation(
                info.label(),
                &mrs[..len],
                slot,
                cap,
                &extra[..n_extra],
                &extra_slots[..n_extra],
                blocking,
                is_call,
            )
        };
        match r {
            Err(e) => {
                if is_call {
                    self.reply_error(t, e);
                }
            }
            // Stopped for an interrupt: no reply; the thread stays in
            // Restart and re-executes the invocation, which goes on.
            Ok(_) if self.was_preempted() => {}
            Ok(reply) => {
                if tcb::state(&self.mem, t) == ThreadState::Restart {
                    if is_call {
                        self.reply_success(t, reply);
                    }
                    self.set_thread_state(t, ThreadState::Running);
                }
            }
        }
        Event::None
    }

    fn reply_error(&mut self, t: u64, e: SyscallError) {
        let buf = self.ipc_buffer(t, true);
        let (words, n) = e.message();
        let mut len = 0;
        for (i, w) in words.iter().enumerate().take(n) {
            len = self.set_mr(t, buf, i, *w);
        }
        let ctx = self.mem.user_context_mut(t);
        ctx.x[0] = 0;
        ctx.x[1] = MessageInfo::new(e.error().word(), 0, 0, len as u64).word();
    }

    fn reply_success(&mut self, t: u64, r: Reply) {
        let (words, n) = match r {
            Reply::Empty => ([0u64; 36], 0),
            Reply::Words(w, n) => (w, n),
        };
        let buf = self.ipc_buffer(t, true);
        let mut len = 0;
        for (i, w) in words.iter().enumerate().take(n) {
            len = self.set_mr(t, buf, i, *w);
        }
        let ctx = self.mem.user_context_mut(t);
        ctx.x[0] = 0;
        ctx.x[1] = MessageInfo::new(0, 0, 0, len as u64).word();
    }

    #[allow(clippy::too_many_arguments)]
    fn decode_invocation(
        &mut self,
        label: u64,
        mrs: &[u64],
        slot: u64,
        cap: Cap,
        extra: &[Cap],
        extra_slots: &[u64],
        blocking: bool,
        is_call: bool,
    ) -> SysResult<Reply> {
        let t = self.state.current;
        self.state.invoked_slot = slot;
        match cap {
            Cap::Null | Cap::Zombie { .. } => Err(SyscallError::InvalidCapability(0)),
            Cap::Endpoint {
                paddr,
                badge,
                rights,
            } => {
                if !rights.write() {
                    return Err(SyscallError::InvalidCapability(0));
                }
                self.set_thread_state(t, ThreadState::Restart);
                self.send_ipc(
                    blocking,
                    is_call,
                    badge,
                    rights.grant(),
                    rights.grant_reply(),
                    t,
                    paddr,
                );
                Ok(Reply::Empty)
            }
            Cap::Notification {
                paddr,
                badge,
                rights,
            } => {
                if !rights.write() {
                    return Err(SyscallError::InvalidCapability(0));
                }
                self.set_thread_state(t, ThreadState::Restart);
                self.send_signal(paddr, badge);
                Ok(Reply::Empty)
            }
            Cap::Reply {
                tcb: caller,
                master,
                grant,
            } => {
                if master {
                    return Err(SyscallError::InvalidCapability(0));
                }
                self.set_thread_state(t, ThreadState::Restart);
                self.do_reply_transfer(t, caller, slot, grant);
                Ok(Reply::Empty)
            }
            Cap::Thread { tcb: target } => {
                self.invoke_tcb(label, target, slot, mrs, extra, extra_slots)
            }
            Cap::CNode { .. } => {
                self.invoke_cnode(label, cap, mrs, extra)?;
                self.set_thread_state(t, ThreadState::Restart);
                Ok(Reply::Empty)
            }
            Cap::Untyped { .. } => {
                self.invoke_untyped(label, slot, mrs, extra, extra_slots)?;
                self.set_thread_state(t, ThreadState::Restart);
                Ok(Reply::Empty)
            }
            Cap::Domain => self.invoke_domain(label, mrs, extra),
            Cap::IrqControl => self.invoke_irq_control(label, mrs, extra),
            Cap::IrqHandler { irq } => {
                self.invoke_irq_handler(label, irq, slot, extra, extra_slots)
            }
            Cap::AsidControl => self.invoke_asid_control(label, mrs, extra, extra_slots),
            Cap::AsidPool { .. } => self.invoke_asid_pool(label, cap, extra, extra_slots),
            Cap::Frame { .. } | Cap::PageTable { .. } | Cap::VSpace { .. } => {
                self.invoke_vm(label, slot, cap, mrs, extra, extra_slots)
            }
            Cap::SgiSignal { .. } => {
                // Uniprocessor: an SGI to this CPU has nobody to signal.
                self.set_thread_state(t, ThreadState::Restart);
                Ok(Reply::Empty)
            }
        }
    }

    fn handle_recv(&mut self, blocking: bool) -> Event {
        let t = self.state.current;
        let cptr = tcb::context(&self.mem, t).x[0];
        let root = self.cspace_root(t);
        let missing = |addr| Fault::CapFault {
            addr,
            in_recv: true,
            lookup: LookupFailure::MissingCapability { bits_left: 0 },
        };
        let cap = match cspace::lookup_cap(&self.mem, root, cptr) {
            Ok((_, c)) => c,
            Err(lookup) => {
                return self.raise(
                    t,
                    Fault::CapFault {
                        addr: cptr,
                        in_recv: true,
                        lookup,
                    },
                )
            }
        };
        match cap {
            Cap::Endpoint { rights, .. } => {
                if !rights.read() {
                    return self.raise(t, missing(cptr));
                }
                self.delete_caller_cap(t);
                self.receive_ipc(t, cap, blocking);
            }
            Cap::Notification { paddr, rights, .. } => {
                let bound = crate::queue::ntfn(&self.mem, paddr).bound;
                if !rights.read() || (bound != 0 && bound != t) {
                    return self.raise(t, missing(cptr));
                }
                self.receive_signal(t, paddr, blocking);
            }
            _ => return self.raise(t, missing(cptr)),
        }
        Event::None
    }

    fn handle_reply(&mut self) {
        let t = self.state.current;
        let s = tcb_slot(t, TCB_CALLER);
        if let Cap::Reply {
            tcb: caller,
            master: false,
            grant,
        } = cdt::cap(&self.mem, s)
        {
            self.do_reply_transfer(t, caller, s, grant);
        }
    }
}
