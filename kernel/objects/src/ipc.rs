//! IPC at the object level (docs/sel4-abi.md §3, §7, §11): endpoint send and
//! receive, message-register copy, cap transfer with Grant and unwrapping,
//! non-MCS reply caps, notifications (signal, wait, poll, binding), fault
//! messages and fault replies, and cancelling a thread's IPC.
#![forbid(unsafe_code)]

use crate::cap::Cap;
use crate::cdt;
use crate::cspace;
use crate::layout::{TCB_BUFFER, TCB_CALLER, TCB_CONTEXT_OFFSET, TCB_CTABLE, TCB_REPLY};
use crate::queue::{self, EpState, NtfnState, Queue};
use crate::tcb::{
    self, tcb_slot, Field, ThreadState, BLOCK_CAN_GRANT, BLOCK_CAN_GRANT_REPLY, BLOCK_IS_CALL,
};
use crate::Kernel;
use cerne_abi::fault::*;
use cerne_abi::lookup::LookupFailure;
use cerne_abi::message::{MessageInfo, FAST_MESSAGE_REGISTERS, MSG_MAX_EXTRA_CAPS};
use cerne_abi::vm::VmRights;

/// A fault a thread took (what its handler receives).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Invalid cptr on Send/Call/Recv, or an unusable cap.
    CapFault {
        /// The cptr.
        addr: u64,
        /// During the receive phase.
        in_recv: bool,
        /// Why the lookup failed.
        lookup: LookupFailure,
    },
    /// A syscall number the kernel does not know.
    UnknownSyscall {
        /// The full x7 value.
        number: u64,
    },
    /// Any other synchronous exception from EL0.
    UserException {
        /// ESR_EL1 (low 32 bits).
        number: u64,
        /// Always 0 here.
        code: u64,
    },
    /// A data or instruction abort from EL0.
    VmFault {
        /// FAR_EL1 or the faulting PC.
        addr: u64,
        /// ESR_EL1 (low 32 bits).
        fsr: u64,
        /// Instruction (prefetch) abort.
        instruction: bool,
    },
}

impl Fault {
    /// The words stored in a TCB for this fault.
    pub fn encode(&self) -> [u64; 7] {
        match *self {
            Fault::CapFault {
                addr,
                in_recv,
                lookup,
            } => {
                let l = lookup.words();
                [1, addr, in_recv as u64, l[0], l[1], l[2], l[3]]
            }
            Fault::UnknownSyscall { number } => [2, number, 0, 0, 0, 0, 0],
            Fault::UserException { number, code } => [3, number, code, 0, 0, 0, 0],
            Fault::VmFault {
                addr,
                fsr,
                instruction,
            } => [5, addr, fsr, instruction as u64, 0, 0, 0],
        }
    }

    /// Decodes the stored fault words (`None`: no fault pending).
    pub fn decode(w: [u64; 7]) -> Option<Fault> {
        Some(match w[0] {
            1 => Fault::CapFault {
                addr: w[1],
                in_recv: w[2] != 0,
                lookup: match w[3] {
                    1 => LookupFailure::InvalidRoot,
                    2 => LookupFailure::MissingCapability { bits_left: w[4] },
                    3 => LookupFailure::DepthMismatch {
                        bits_left: w[4],
                        bits_found: w[5],
                    },
                    _ => LookupFailure::GuardMismatch {
                        bits_left: w[4],
                        guard_found: w[5],
                        bits_found: w[6],
                    },
                },
            },
            2 => Fault::UnknownSyscall { number: w[1] },
            3 => Fault::UserException {
                number: w[1],
                code: w[2],
            },
            5 => Fault::VmFault {
                addr: w[1],
                fsr: w[2],
                instruction: w[3] != 0,
            },
            _ => return None,
        })
    }

    /// The fault-type label of its message.
    pub fn fault_type(&self) -> FaultType {
        match self {
            Fault::CapFault { .. } => FaultType::CapFault,
            Fault::UnknownSyscall { .. } => FaultType::UnknownSyscall,
            Fault::UserException { .. } => FaultType::UserException,
            Fault::VmFault { .. } => FaultType::VmFault,
        }
    }
}

impl Kernel<'_> {
    /// seL4 `lookupIPCBuffer`: physical address of `t`'s IPC buffer, if it
    /// has a usable one (non-device frame; ReadWrite, or ReadOnly to send).
    pub fn ipc_buffer(&self, t: u64, is_receiver: bool) -> Option<u64> {
        let o = tcb::obj(&self.mem, t);
        let Some((paddr, size, rights, false)) =
            // The buffer slot's first word, at its offset in the TCB.
            crate::cap::raw::frame(o.word(tcb_slot(0, TCB_BUFFER)))
        else {
            return None;
        };
        let ok = rights == VmRights::ReadWrite || (!is_receiver && rights == VmRights::ReadOnly);
        ok.then(|| {
            paddr + (tcb::get(&self.mem, t, Field::IPC_BUFFER) & ((1u64 << size.bits()) - 1))
        })
    }

    /// `t`'s pending fault: `Fault::decode` of its fault words, read only
    /// when the type word says there is one (type 0 decodes as none).
    fn pending_fault_of(&self, t: u64) -> Option<Fault> {
        let o = tcb::obj(&self.mem, t);
        if Field::FAULT_TYPE.of(&o) == 0 {
            return None;
        }
        Fault::decode(tcb::fault_words_of(&o))
    }

    /// Message register `i` of `t` (x2..x5, then the IPC buffer at `buf`).
    pub fn get_mr(&self, t: u64, buf: Option<u64>, i: usize) -> u64 {
        if i < FAST_MESSAGE_REGISTERS {
            self.reg(t, 2 + i)
        } else {
            buf.map_or(0, |b| self.mem.read_word(b + 8 * (i as u64 + 1)))
        }
    }

    /// Sets message register `i` of `t`; returns the count stored so far
    /// (seL4 `setMR`).
    pub fn set_mr(&mut self, t: u64, buf: Option<u64>, i: usize, v: u64) -> usize {
        if i < FAST_MESSAGE_REGISTERS {
            self.mem.user_context_mut(t).x[2 + i] = v;
            i + 1
        } else if let Some(b) = buf {
            self.mem.write_word(b + 8 * (i as u64 + 1), v);
            i + 1
        } else {
            FAST_MESSAGE_REGISTERS
        }
    }

    fn set_reg(&mut self, t: u64, r: usize, v: u64) {
        self.mem.user_context_mut(t).x[r] = v;
    }

    /// Register x`r` of `t` (one word, not a copy of the whole context).
    fn reg(&self, t: u64, r: usize) -> u64 {
        tcb::obj(&self.mem, t).word(TCB_CONTEXT_OFFSET + 8 * r as u64)
    }

    /// seL4 `setupReplyMaster`: puts the master reply cap into an empty
    /// reply slot.
    pub fn setup_reply_master(&mut self, t: u64) {
        let s = tcb_slot(t, TCB_REPLY);
        if cdt::cap(&self.mem, s).is_null() {
            cdt::set_cap(
                &self.mem,
                s,
                Cap::Reply {
                    tcb: t,
                    master: true,
                    grant: true,
                },
            );
            cdt::set_mdb(&self.mem, s, cdt::Mdb::default());
        }
    }

    /// Resolves `t`'s extra-cap cptrs from its IPC buffer (seL4
    /// `lookupExtraCaps`). `Err` carries the CapFault.
    pub fn lookup_extra_caps(
        &self,
        t: u64,
        buf: Option<u64>,
        info: MessageInfo,
    ) -> Result<[u64; MSG_MAX_EXTRA_CAPS], Fault> {
        let mut out = [0u64; MSG_MAX_EXTRA_CAPS];
        let Some(b) = buf else {
            return Ok(out);
        };
        if info.extra_caps() == 0 {
            return Ok(out);
        }
        let root = cdt::cap(&self.mem, tcb_slot(t, TCB_CTABLE));
        for (i, o) in out.iter_mut().enumerate().take(info.extra_caps() as usize) {
            let cptr = self.mem.read_word(b + 976 + 8 * i as u64);
            match cspace::lookup_slot(&self.mem, root, cptr) {
                Ok(s) => *o = s,
                Err(lookup) => {
                    return Err(Fault::CapFault {
                        addr: cptr,
                        in_recv: false,
                        lookup,
                    })
                }
            }
        }
        Ok(out)
    }

    fn receive_slot(&self, t: u64, buf: u64) -> Option<u64> {
        let root = cdt::cap(&self.mem, tcb_slot(t, TCB_CTABLE));
        let cnode_cptr = self.mem.read_word(buf + 1000);
        let index = self.mem.read_word(buf + 1008);
        let depth = self.mem.read_word(buf + 1016);
        let (_, cnode) = cspace::lookup_cap(&self.mem, root, cnode_cptr).ok()?;
        let s = cspace::lookup_slot_for_cnode_op(&self.mem, false, cnode, index, depth).ok()?;
        cdt::cap(&self.mem, s).is_null().then_some(s)
    }

    /// seL4 `doIPCTransfer`: delivers `sender`'s message (or its fault) to
    /// `receiver`. `endpoint` is 0 for replies.
    fn do_ipc_transfer(
        &mut self,
        sender: u64,
        endpoint: u64,
        badge: u64,
        grant: bool,
        receiver: u64,
    ) {
        let rbuf = self.ipc_buffer(receiver, true);
        let fault = self.pending_fault_of(sender);
        match fault {
            None => {
                let sbuf = self.ipc_buffer(sender, false);
                self.do_normal_transfer(sender, sbuf, endpoint, badge, grant, receiver, rbuf);
            }
            Some(f) => self.do_fault_transfer(badge, sender, f, receiver, rbuf),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn do_normal_transfer(
        &mut self,
        sender: u64,
        sbuf: Option<u64>,
        endpoint: u64,
        badge: u64,
        grant: bool,
        receiver: u64,
        rbuf: Option<u64>,
    ) {
        let tag = MessageInfo::from_word(self.reg(sender, 1));
        let caps = if grant {
            self.lookup_extra_caps(sender, sbuf, tag).unwrap_or([0; 3])
        } else {
            [0; 3]
        };
        let len = tag.clamped_length();
        let mut sent = 0;
        while sent < len && sent < FAST_MESSAGE_REGISTERS {
            let v = self.reg(sender, 2 + sent);
            self.set_reg(receiver, 2 + sent, v);
            sent += 1;
        }
        if let (Some(sb), Some(rb)) = (sbuf, rbuf) {
            while sent < len {
                let v = self.mem.read_word(sb + 8 * (sent as u64 + 1));
                self.mem.write_word(rb + 8 * (sent as u64 + 1), v);
                sent += 1;
            }
        }
        let (extra, unwrapped) = self.transfer_caps(caps, endpoint, receiver, rbuf);
        let info = MessageInfo::new(tag.label(), unwrapped, extra, sent as u64);
        self.set_reg(receiver, 1, info.word());
        self.set_reg(receiver, 0, badge);
    }

    /// seL4 `transferCaps`; returns (extraCaps, capsUnwrapped).
    fn transfer_caps(
        &mut self,
        caps: [u64; 3],
        endpoint: u64,
        receiver: u64,
        rbuf: Option<u64>,
    ) -> (u64, u64) {
        let Some(rb) = rbuf else { return (0, 0) };
        if caps[0] == 0 {
            return (0, 0);
        }
        let mut dest = self.receive_slot(receiver, rb);
        let mut unwrapped = 0;
        let mut i = 0;
        while i < MSG_MAX_EXTRA_CAPS && caps[i] != 0 {
            let slot = caps[i];
            let c = cdt::cap(&self.mem, slot);
            match c {
                Cap::Endpoint { paddr, badge, .. } if endpoint != 0 && paddr == endpoint => {
                    self.mem.write_word(rb + 976 + 8 * i as u64, badge);
                    unwrapped |= 1 << i;
                }
                _ => {
                    let Some(d) = dest else { break };
                    let Ok(derived) = self.derive_cap(slot, c) else {
                        break;
                    };
                    if derived.is_null() {
                        break;
                    }
                    cdt::insert(&self.mem, derived, slot, d);
                    dest = None;
                }
            }
            i += 1;
        }
        (i as u64, unwrapped)
    }

    fn do_fault_transfer(
        &mut self,
        badge: u64,
        sender: u64,
        f: Fault,
        receiver: u64,
        rbuf: Option<u64>,
    ) {
        let ip = tcb::fields(&self.mem, sender).fault_ip;
        let ctx = tcb::context(&self.mem, sender);
        let mut words = [0u64; 13];
        let n = match f {
            Fault::CapFault {
                addr,
                in_recv,
                lookup,
            } => {
                words[0] = ip;
                words[1] = addr;
                words[2] = in_recv as u64;
                let l = lookup.words();
                words[3..7].copy_from_slice(&l);
                3 + lookup.len()
            }
            Fault::UnknownSyscall { number } => {
                words[..8].copy_from_slice(&ctx.x[..8]);
                words[UNKNOWN_SYSCALL_FAULT_IP] = ip;
                words[UNKNOWN_SYSCALL_SP] = ctx.sp_el0;
                words[UNKNOWN_SYSCALL_LR] = ctx.elr_el1;
                words[UNKNOWN_SYSCALL_SPSR] = ctx.spsr_el1;
                words[UNKNOWN_SYSCALL_SYSCALL] = number;
                UNKNOWN_SYSCALL_LENGTH
            }
            Fault::UserException { number, code } => {
                words[..5].copy_from_slice(&[ip, ctx.sp_el0, ctx.spsr_el1, number, code]);
                USER_EXCEPTION_LENGTH
            }
            Fault::VmFault {
                addr,
                fsr,
                instruction,
            } => {
                words[..4].copy_from_slice(&[ip, addr, instruction as u64, fsr]);
                VM_FAULT_LENGTH
            }
        };
        let mut sent = 0;
        for (i, w) in words.iter().enumerate().take(n) {
            sent = self.set_mr(receiver, rbuf, i, *w);
        }
        let info = MessageInfo::new(f.fault_type().word(), 0, 0, sent as u64);
        self.set_reg(receiver, 1, info.word());
        self.set_reg(receiver, 0, badge);
    }

    /// seL4 `sendIPC`.
    #[allow(clippy::too_many_arguments)]
    pub fn send_ipc(
        &mut self,
        blocking: bool,
        do_call: bool,
        badge: u64,
        can_grant: bool,
        can_grant_reply: bool,
        t: u64,
        ep: u64,
    ) {
        let (st, q) = queue::ep(&self.mem, ep);
        match st {
            EpState::Idle | EpState::Send => {
                if blocking {
                    let o = tcb::obj(&self.mem, t);
                    Field::BLOCKING_OBJECT.set(&o, ep);
                    Field::BLOCKING_BADGE.set(&o, badge);
                    Field::BLOCKING_FLAGS.set(
                        &o,
                        (can_grant as u64 * BLOCK_CAN_GRANT)
                            | (can_grant_reply as u64 * BLOCK_CAN_GRANT_REPLY)
                            | (do_call as u64 * BLOCK_IS_CALL),
                    );
                    self.set_thread_state(t, ThreadState::BlockedOnSend);
                    let q = queue::append(&self.mem, t, q);
                    queue::set_ep(&self.mem, ep, EpState::Send, q);
                }
            }
            EpState::Recv => {
                let dest = q.head;
                let q = queue::dequeue(&self.mem, dest, q);
                queue::set_ep(&self.mem, ep, EpState::Recv, q);
                self.do_ipc_transfer(t, ep, badge, can_grant, dest);
                let reply_grant =
                    tcb::get(&self.mem, dest, Field::BLOCKING_FLAGS) & BLOCK_CAN_GRANT != 0;
                self.set_thread_state(dest, ThreadState::Running);
                self.possible_switch_to(dest);
                if do_call {
                    if can_grant || can_grant_reply {
                        self.setup_caller_cap(t, dest, reply_grant);
                    } else {
                        self.set_thread_state(t, ThreadState::Inactive);
                    }
                }
            }
        }
    }

    /// seL4 `receiveIPC` on the endpoint cap `cap`.
    pub fn receive_ipc(&mut self, t: u64, cap: Cap, blocking: bool) {
        let Cap::Endpoint {
            paddr: ep, rights, ..
        } = cap
        else {
            return;
        };
        let bound = tcb::get(&self.mem, t, Field::BOUND_NOTIFICATION);
        if bound != 0 && queue::ntfn(&self.mem, bound).state == NtfnState::Active {
            self.complete_signal(bound, t);
            return;
        }
        let (st, q) = queue::ep(&self.mem, ep);
        match st {
            EpState::Idle | EpState::Recv => {
                if blocking {
                    let o = tcb::obj(&self.mem, t);
                    Field::BLOCKING_OBJECT.set(&o, ep);
                    Field::BLOCKING_FLAGS.set(&o, rights.grant() as u64 * BLOCK_CAN_GRANT);
                    self.set_thread_state(t, ThreadState::BlockedOnReceive);
                    let q = queue::append(&self.mem, t, q);
                    queue::set_ep(&self.mem, ep, EpState::Recv, q);
                } else {
                    self.set_reg(t, 0, 0);
                }
            }
            EpState::Send => {
                let sender = q.head;
                let q = queue::dequeue(&self.mem, sender, q);
                queue::set_ep(&self.mem, ep, EpState::Send, q);
                let (flags, badge) = {
                    let o = tcb::obj(&self.mem, sender);
                    (Field::BLOCKING_FLAGS.of(&o), Field::BLOCKING_BADGE.of(&o))
                };
                let can_grant = flags & BLOCK_CAN_GRANT != 0;
                let can_grant_reply = flags & BLOCK_CAN_GRANT_REPLY != 0;
                self.do_ipc_transfer(sender, ep, badge, can_grant, t);
                if flags & BLOCK_IS_CALL != 0 {
                    if can_grant || can_grant_reply {
                        self.setup_caller_cap(sender, t, rights.grant());
                    } else {
                        self.set_thread_state(sender, ThreadState::Inactive);
                    }
                } else {
                    self.set_thread_state(sender, ThreadState::Running);
                    self.possible_switch_to(sender);
                }
            }
        }
    }

    /// seL4 `setupCallerCap`: `sender` waits for a reply; `receiver` gets
    /// the one-shot reply cap in its caller slot.
    fn setup_caller_cap(&mut self, sender: u64, receiver: u64, can_grant: bool) {
        self.set_thread_state(sender, ThreadState::BlockedOnReply);
        let reply = tcb_slot(sender, TCB_REPLY);
        let caller = tcb_slot(receiver, TCB_CALLER);
        if !matches!(
            crate::cap::raw::reply(self.mem.read_word(reply)),
            Some((_, true, _))
        ) || !crate::cap::raw::is_null(self.mem.read_word(caller))
        {
            return;
        }
        cdt::insert_reply(&self.mem, reply, caller, sender, can_grant);
    }

    /// `cteDeleteOne` of the cap in `slot`, which a reply is sent through:
    /// for a reply cap (nothing to finalise) the slot-word unlink, else
    /// the generic deletion.
    fn delete_reply_slot(&mut self, slot: u64) {
        if crate::cap::raw::reply(self.mem.read_word(slot)).is_some() {
            cdt::delete_reply(&self.mem, slot);
        } else {
            self.delete_one(slot);
        }
    }

    /// seL4 `deleteCallerCap`: drops a reply cap left in `t`'s caller slot.
    pub fn delete_caller_cap(&mut self, t: u64) {
        self.delete_one(tcb_slot(t, TCB_CALLER));
    }

    /// seL4 `doReplyTransfer`: `sender` replies through the reply cap in
    /// `slot` to `receiver`.
    pub fn do_reply_transfer(&mut self, sender: u64, receiver: u64, slot: u64, grant: bool) {
        if tcb::state(&self.mem, receiver) != ThreadState::BlockedOnReply {
            return;
        }
        match self.pending_fault_of(receiver) {
            None => {
                self.do_ipc_transfer(sender, 0, 0, grant, receiver);
                self.delete_reply_slot(slot);
                self.set_thread_state(receiver, ThreadState::Running);
                self.possible_switch_to(receiver);
            }
            Some(f) => {
                self.delete_reply_slot(slot);
                let restart = self.handle_fault_reply(receiver, sender, f);
                tcb::update(&self.mem, receiver, |g| g.fault = [0; 7]);
                if restart {
                    self.set_thread_state(receiver, ThreadState::Restart);
                    self.possible_switch_to(receiver);
                } else {
                    self.set_thread_state(receiver, ThreadState::Inactive);
                }
            }
        }
    }

    fn handle_fault_reply(&mut self, receiver: u64, sender: u64, f: Fault) -> bool {
        let info = MessageInfo::from_word(self.reg(sender, 1));
        let label = info.label();
        let len = info.clamped_length();
        let sbuf = self.ipc_buffer(sender, false);
        let n = match f {
            Fault::CapFault { .. } | Fault::VmFault { .. } => return true,
            Fault::UnknownSyscall { .. } => len.min(UNKNOWN_SYSCALL_REPLY_REGS),
            Fault::UserException { .. } => len.min(USER_EXCEPTION_REPLY_REGS),
        };
        for i in 0..n {
            let v = self.get_mr(sender, sbuf, i);
            let is_syscall = matches!(f, Fault::UnknownSyscall { .. });
            let ctx = self.mem.user_context_mut(receiver);
            match (is_syscall, i) {
                (true, 0..=7) => ctx.x[i] = v,
                (true, 8) | (false, 0) => {
                    tcb::update(&self.mem, receiver, |g| g.fault_ip = v);
                }
                (true, 9) | (false, 1) => ctx.sp_el0 = v,
                (true, 10) => ctx.elr_el1 = v,
                _ => ctx.spsr_el1 = sanitise_spsr(v),
            }
        }
        label == 0
    }

    /// seL4 `sendSignal`: signals the notification at `n` with `badge`.
    pub fn send_signal(&mut self, n: u64, badge: u64) {
        let mut nt = queue::ntfn(&self.mem, n);
        match nt.state {
            NtfnState::Idle => {
                let t = nt.bound;
                if t != 0 && tcb::state(&self.mem, t) == ThreadState::BlockedOnReceive {
                    self.cancel_ipc(t);
                    self.set_thread_state(t, ThreadState::Running);
                    self.set_reg(t, 0, badge);
                    self.possible_switch_to(t);
                } else {
                    nt.state = NtfnState::Active;
                    nt.msg = badge;
                    queue::set_ntfn(&self.mem, n, &nt);
                }
            }
            NtfnState::Waiting => {
                let dest = nt.queue.head;
                nt.queue = queue::dequeue(&self.mem, dest, nt.queue);
                if nt.queue.head == 0 {
                    nt.state = NtfnState::Idle;
                }
                queue::set_ntfn(&self.mem, n, &nt);
                self.set_thread_state(dest, ThreadState::Running);
                self.set_reg(dest, 0, badge);
                self.possible_switch_to(dest);
            }
            NtfnState::Active => {
                nt.msg |= badge;
                queue::set_ntfn(&self.mem, n, &nt);
            }
        }
    }

    /// seL4 `receiveSignal`: Recv / NBRecv on a notification cap.
    pub fn receive_signal(&mut self, t: u64, n: u64, blocking: bool) {
        let mut nt = queue::ntfn(&self.mem, n);
        match nt.state {
            NtfnState::Idle | NtfnState::Waiting => {
                if blocking {
                    tcb::update(&self.mem, t, |f| f.blocking_object = n);
                    self.set_thread_state(t, ThreadState::BlockedOnNotification);
                    nt.queue = queue::append(&self.mem, t, nt.queue);
                    nt.state = NtfnState::Waiting;
                    queue::set_ntfn(&self.mem, n, &nt);
                } else {
                    self.set_reg(t, 0, 0);
                }
            }
            NtfnState::Active => {
                self.set_reg(t, 0, nt.msg);
                nt.msg = 0;
                nt.state = NtfnState::Idle;
                queue::set_ntfn(&self.mem, n, &nt);
            }
        }
    }

    /// seL4 `completeSignal`: a bound thread collects a pending signal.
    fn complete_signal(&mut self, n: u64, t: u64) {
        let mut nt = queue::ntfn(&self.mem, n);
        self.set_reg(t, 0, nt.msg);
        nt.msg = 0;
        nt.state = NtfnState::Idle;
        queue::set_ntfn(&self.mem, n, &nt);
    }

    /// seL4 `bindNotification`.
    pub fn bind_notification(&mut self, t: u64, n: u64) {
        let mut nt = queue::ntfn(&self.mem, n);
        nt.bound = t;
        queue::set_ntfn(&self.mem, n, &nt);
        tcb::update(&self.mem, t, |f| f.bound_notification = n);
    }

    /// seL4 `unbindNotification` (no-op when unbound).
    pub fn unbind_notification(&mut self, t: u64) {
        let n = tcb::fields(&self.mem, t).bound_notification;
        if n != 0 {
            let mut nt = queue::ntfn(&self.mem, n);
            nt.bound = 0;
            queue::set_ntfn(&self.mem, n, &nt);
            tcb::update(&self.mem, t, |f| f.bound_notification = 0);
        }
    }

    /// seL4 `unbindMaybeNotification`: unbinds whatever thread is bound to
    /// the notification at `n`.
    pub fn unbind_maybe_notification(&mut self, n: u64) {
        let t = queue::ntfn(&self.mem, n).bound;
        if t != 0 {
            self.unbind_notification(t);
        }
    }

    /// seL4 `cancelIPC`: takes `t` out of whatever IPC it is blocked in.
    pub fn cancel_ipc(&mut self, t: u64) {
        let f = tcb::fields(&self.mem, t);
        match ThreadState::from_code(f.state) {
            ThreadState::BlockedOnSend | ThreadState::BlockedOnReceive => {
                let ep = f.blocking_object;
                let (st, q) = queue::ep(&self.mem, ep);
                let q = queue::dequeue(&self.mem, t, q);
                queue::set_ep(&self.mem, ep, st, q);
                self.set_thread_state(t, ThreadState::Inactive);
            }
            ThreadState::BlockedOnNotification => {
                let n = f.blocking_object;
                let mut nt = queue::ntfn(&self.mem, n);
                nt.queue = queue::dequeue(&self.mem, t, nt.queue);
                if nt.queue.head == 0 {
                    nt.state = NtfnState::Idle;
                }
                queue::set_ntfn(&self.mem, n, &nt);
                self.set_thread_state(t, ThreadState::Inactive);
            }
            ThreadState::BlockedOnReply => {
                tcb::update(&self.mem, t, |g| g.fault = [0; 7]);
                let next = cdt::mdb(&self.mem, tcb_slot(t, TCB_REPLY)).next;
                if next != 0
                    && matches!(cdt::cap(&self.mem, next), Cap::Reply { master: false, tcb, .. } if tcb == t)
                {
                    self.delete_one(next);
                }
            }
            _ => {}
        }
    }

    /// seL4 `cancelAllIPC`: the endpoint at `ep` is going away; every queued
    /// thread restarts its syscall.
    pub fn cancel_all_ipc(&mut self, ep: u64) {
        let (_, q) = queue::ep(&self.mem, ep);
        queue::set_ep(&self.mem, ep, EpState::Idle, Queue::default());
        let mut t = q.head;
        while t != 0 {
            let next = tcb::fields(&self.mem, t).ep_next;
            tcb::update(&self.mem, t, |f| {
                f.ep_next = 0;
                f.ep_prev = 0;
            });
            self.set_thread_state(t, ThreadState::Restart);
            self.sched_enqueue(t);
            t = next;
        }
        self.reschedule_required();
    }

    /// seL4 `cancelAllSignals`.
    pub fn cancel_all_signals(&mut self, n: u64) {
        let mut nt = queue::ntfn(&self.mem, n);
        if nt.state != NtfnState::Waiting {
            return;
        }
        let mut t = nt.queue.head;
        nt.state = NtfnState::Idle;
        nt.queue = Queue::default();
        queue::set_ntfn(&self.mem, n, &nt);
        while t != 0 {
            let next = tcb::fields(&self.mem, t).ep_next;
            tcb::update(&self.mem, t, |f| {
                f.ep_next = 0;
                f.ep_prev = 0;
            });
            self.set_thread_state(t, ThreadState::Restart);
            self.sched_enqueue(t);
            t = next;
        }
        self.reschedule_required();
    }

    /// seL4 `cancelBadgedSends`: restarts the senders queued on `ep` with
    /// `badge`.
    pub fn cancel_badged_sends(&mut self, ep: u64, badge: u64) {
        let (st, mut q) = queue::ep(&self.mem, ep);
        if st != EpState::Send {
            return;
        }
        let mut t = q.head;
        while t != 0 {
            let f = tcb::fields(&self.mem, t);
            let next = f.ep_next;
            if f.blocking_badge == badge {
                self.set_thread_state(t, ThreadState::Restart);
                self.sched_enqueue(t);
                q = queue::dequeue(&self.mem, t, q);
            }
            t = next;
        }
        queue::set_ep(&self.mem, ep, EpState::Send, q);
        self.reschedule_required();
    }

    /// seL4 `suspend`: cancels IPC, makes `t` Inactive, takes it off the
    /// ready queue. Used for Suspend and for an unhandled fault.
    pub fn suspend(&mut self, t: u64) {
        self.cancel_ipc(t);
        if tcb::state(&self.mem, t) == ThreadState::Running {
            // A running thread resumes at its next instruction.
            let pc = tcb::context(&self.mem, t).elr_el1;
            tcb::update(&self.mem, t, |f| f.fault_ip = pc);
        }
        self.set_thread_state(t, ThreadState::Inactive);
        self.sched_dequeue(t);
    }

    /// seL4 `restart`: Resume of a stopped thread.
    pub fn restart(&mut self, t: u64) {
        if tcb::state(&self.mem, t).is_stopped() {
            self.cancel_ipc(t);
            self.setup_reply_master(t);
            self.set_thread_state(t, ThreadState::Restart);
            self.sched_enqueue(t);
            self.possible_switch_to(t);
        }
    }

    /// seL4 `handleFault`: sends `fault` of `t` to its fault handler, or
    /// (no usable handler) suspends it. Returns false when the thread was
    /// suspended (a "double fault": the kernel prints the cause).
    pub fn handle_fault(&mut self, t: u64, fault: Fault) -> bool {
        let handler = tcb::fields(&self.mem, t).fault_handler;
        let root = cdt::cap(&self.mem, tcb_slot(t, TCB_CTABLE));
        match cspace::lookup_cap(&self.mem, root, handler) {
            Ok((
                _,
                Cap::Endpoint {
                    paddr,
                    badge,
                    rights,
                },
            )) if rights.write() && (rights.grant() || rights.grant_reply()) => {
                tcb::update(&self.mem, t, |f| f.fault = fault.encode());
                self.send_ipc(true, true, badge, rights.grant(), true, t, paddr);
                true
            }
            _ => {
                self.set_thread_state(t, ThreadState::Inactive);
                false
            }
        }
    }

    /// The fault `t` is waiting to have handled, if any.
    pub fn pending_fault(&self, t: u64) -> Option<Fault> {
        if tcb::get(&self.mem, t, tcb::Field::FAULT_TYPE) == 0 {
            return None;
        }
        Fault::decode(tcb::fault_words(&self.mem, t))
    }
}
