//! The kernel's list of every TCB, in the order they were made (seL4 debug
//! builds keep the same list, `ksDebugTCBs`), and Cerne's debug call
//! DebugThreadInfo (−64, `cerne_abi::syscall::thread_info`) that reads it:
//! a thread's name, state, priority and what it is blocked on, so that a
//! user-level shell can list the threads of the whole system.
//!
//! A TCB joins the list when it is made (boot or retype) and leaves it when
//! its last cap is deleted (`finaliseCap`); the links live in the TCB
//! ([`TCB_DEBUG_LINKS_OFFSET`]), the ends in
//! [`crate::KernelState::all_threads`].
#![forbid(unsafe_code)]

use crate::cap::Cap;
use crate::layout::{TCB_CALLER, TCB_DEBUG_LINKS_OFFSET, TCB_NAME_LEN, TCB_NAME_OFFSET};
use crate::tcb::{self, ThreadState};
use crate::Kernel;
use cerne_abi::syscall::thread_info::{FOUND, NAME_MAX, NAME_OFFSET};

/// Most threads a walk of the list visits: more TCBs than fit in RAM the
/// kernel covers would mean a corrupt list, and every walk stays bounded.
const MAX_THREADS: u64 = 1 << 20;

/// What DebugThreadInfo reports of one thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadInfo {
    /// The TCB's physical address.
    pub tcb: u64,
    /// Its state.
    pub state: ThreadState,
    /// Its priority.
    pub priority: u64,
    /// Its maximum controlled priority.
    pub mcp: u64,
    /// The endpoint or notification it waits at; for BlockedOnReply the TCB
    /// that holds its reply cap; 0 for none (or a reply cap moved out of
    /// the caller slot).
    pub blocked_on: u64,
}

impl Kernel<'_> {
    fn links(&self, t: u64) -> [u64; 2] {
        self.mem.read(t + TCB_DEBUG_LINKS_OFFSET)
    }

    fn set_links(&self, t: u64, links: [u64; 2]) {
        self.mem.write(t + TCB_DEBUG_LINKS_OFFSET, &links);
    }

    /// Appends the new TCB `t` to the list of every TCB.
    pub(crate) fn thread_list_add(&mut self, t: u64) {
        let [_, last] = self.state.all_threads;
        self.set_links(t, [0, last]);
        if last == 0 {
            self.state.all_threads[0] = t;
        } else {
            let [_, prev] = self.links(last);
            self.set_links(last, [t, prev]);
        }
        self.state.all_threads[1] = t;
    }

    /// Removes `t`, whose last cap is being deleted, from the list.
    pub(crate) fn thread_list_remove(&mut self, t: u64) {
        let [next, prev] = self.links(t);
        if prev == 0 {
            self.state.all_threads[0] = next;
        } else {
            let [_, pp] = self.links(prev);
            self.set_links(prev, [next, pp]);
        }
        if next == 0 {
            self.state.all_threads[1] = prev;
        } else {
            let [nn, _] = self.links(next);
            self.set_links(next, [nn, prev]);
        }
        self.set_links(t, [0, 0]);
    }

    /// The threads of the list, first made first (bounded by
    /// [`MAX_THREADS`]).
    pub fn all_threads(&self) -> impl Iterator<Item = u64> + '_ {
        let mut t = self.state.all_threads[0];
        let mut seen = 0;
        core::iter::from_fn(move || {
            if t == 0 || seen == MAX_THREADS {
                return None;
            }
            seen += 1;
            let this = t;
            t = self.links(t)[0];
            Some(this)
        })
    }

    /// The `n`-th thread of the list and what DebugThreadInfo says of it.
    pub fn thread_info(&self, n: u64) -> Option<ThreadInfo> {
        let t = self.all_threads().nth(usize::try_from(n).ok()?)?;
        let f = tcb::fields(&self.mem, t);
        let state = ThreadState::from_code(f.state);
        let blocked_on = match state {
            ThreadState::BlockedOnReceive
            | ThreadState::BlockedOnSend
            | ThreadState::BlockedOnNotification => f.blocking_object,
            ThreadState::BlockedOnReply => self
                .all_threads()
                .find(
                    |&s| matches!(self.tcb_cap(s, TCB_CALLER), Cap::Reply { tcb, .. } if tcb == t),
                )
                .unwrap_or(0),
            _ => 0,
        };
        Some(ThreadInfo {
            tcb: t,
            state,
            priority: f.priority,
            mcp: f.mcp,
            blocked_on,
        })
    }

    /// DebugThreadInfo from thread `caller`: x0 = n in, the n-th thread's
    /// info out in x0..x5 and its name in the caller's IPC buffer.
    pub(crate) fn debug_thread_info(&mut self, caller: u64) {
        let n = tcb::context(&self.mem, caller).x[0];
        let Some(info) = self.thread_info(n) else {
            self.mem.user_context_mut(caller).x[0] = 0;
            return;
        };
        if let Some(buf) = self.ipc_buffer(caller, true) {
            let name: [u8; TCB_NAME_LEN] = self.mem.read(info.tcb + TCB_NAME_OFFSET);
            let len = name.iter().position(|b| *b == 0).unwrap_or(TCB_NAME_LEN);
            let mut out = [0u8; NAME_MAX];
            let len = len.min(NAME_MAX - 1);
            out[..len].copy_from_slice(&name[..len]);
            self.mem.write(buf + NAME_OFFSET, &out);
        }
        let x = &mut self.mem.user_context_mut(caller).x;
        x[0] = FOUND;
        x[1] = info.state as u64;
        x[2] = info.priority;
        x[3] = info.mcp;
        x[4] = info.blocked_on;
        x[5] = info.tcb;
    }
}
