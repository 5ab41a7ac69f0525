//! Endpoint and notification objects: their states and FIFO thread queues
//! (linked through the TCBs' `ep_next` / `ep_prev`).
#![forbid(unsafe_code)]

use crate::layout::{RawEndpoint, RawNotification};
use crate::mem::PhysMem;
use crate::tcb::{self, Field};

/// Endpoint state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EpState {
    /// No queue.
    Idle = 0,
    /// Senders queued.
    Send = 1,
    /// Receivers queued.
    Recv = 2,
}

/// Notification state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NtfnState {
    /// Nothing pending, nobody waiting.
    Idle = 0,
    /// Threads waiting.
    Waiting = 1,
    /// Signal word pending.
    Active = 2,
}

/// A FIFO of TCBs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Queue {
    /// First TCB (0 = empty).
    pub head: u64,
    /// Last TCB.
    pub tail: u64,
}

/// Reads an endpoint.
pub fn ep(mem: &PhysMem<'_>, p: u64) -> (EpState, Queue) {
    let r: RawEndpoint = mem.read(p);
    let s = match r.head_state & 3 {
        1 => EpState::Send,
        2 => EpState::Recv,
        _ => EpState::Idle,
    };
    (
        s,
        Queue {
            head: r.head_state & !3,
            tail: r.tail,
        },
    )
}

/// Writes an endpoint; an empty queue makes it Idle.
pub fn set_ep(mem: &PhysMem<'_>, p: u64, s: EpState, q: Queue) {
    let s = if q.head == 0 { EpState::Idle } else { s };
    mem.write(
        p,
        &RawEndpoint {
            head_state: q.head | s as u64,
            tail: q.tail,
        },
    );
}

/// A notification's decoded state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ntfn {
    /// State.
    pub state: NtfnState,
    /// Waiting threads.
    pub queue: Queue,
    /// Pending signal word.
    pub msg: u64,
    /// Bound TCB (0 = none).
    pub bound: u64,
}

/// Reads a notification.
pub fn ntfn(mem: &PhysMem<'_>, p: u64) -> Ntfn {
    let r: RawNotification = mem.read(p);
    Ntfn {
        state: match r.head_state & 3 {
            1 => NtfnState::Waiting,
            2 => NtfnState::Active,
            _ => NtfnState::Idle,
        },
        queue: Queue {
            head: r.head_state & !3,
            tail: r.tail,
        },
        msg: r.msg,
        bound: r.bound_tcb,
    }
}

/// Writes a notification.
pub fn set_ntfn(mem: &PhysMem<'_>, p: u64, n: &Ntfn) {
    mem.write(
        p,
        &RawNotification {
            head_state: n.queue.head | n.state as u64,
            tail: n.queue.tail,
            msg: n.msg,
            bound_tcb: n.bound,
        },
    );
}

/// seL4 `tcbEPAppend` (field-level: only the queue links are touched).
pub fn append(mem: &PhysMem<'_>, t: u64, mut q: Queue) -> Queue {
    tcb::set(mem, t, Field::EP_PREV, q.tail);
    tcb::set(mem, t, Field::EP_NEXT, 0);
    if q.head == 0 {
        q.head = t;
    } else {
        tcb::set(mem, q.tail, Field::EP_NEXT, t);
    }
    q.tail = t;
    q
}

/// seL4 `tcbEPDequeue` (field-level: only the queue links are touched).
pub fn dequeue(mem: &PhysMem<'_>, t: u64, mut q: Queue) -> Queue {
    let prev = tcb::get(mem, t, Field::EP_PREV);
    let next = tcb::get(mem, t, Field::EP_NEXT);
    if prev == 0 {
        q.head = next;
    } else {
        tcb::set(mem, prev, Field::EP_NEXT, next);
    }
    if next == 0 {
        q.tail = prev;
    } else {
        tcb::set(mem, next, Field::EP_PREV, prev);
    }
    tcb::set(mem, t, Field::EP_NEXT, 0);
    tcb::set(mem, t, Field::EP_PREV, 0);
    q
}
