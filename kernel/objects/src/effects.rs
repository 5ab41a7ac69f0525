//! What a kernel entry leaves for the kernel binary to do to the hardware.
//!
//! The object model executes no instruction that touches the machine; it
//! records what must happen and the binary carries it out before it
//! returns to user level. There are two kinds of effect:
//!
//! * at most one [`Event`] (console output, halting, the interrupt
//!   controller, cache maintenance, the report of an unhandled fault):
//!   each comes from one invocation or one debug call, and an entry
//!   performs one system call or takes one fault. `handle_syscall` and
//!   `handle_user_fault` return it;
//! * a set of TLB invalidations, [`TlbFlushes`], which accumulates: one
//!   Revoke or Delete can unmap frames and page tables in many address
//!   spaces and free ASIDs, and every ASID touched must be invalidated.
//!   The binary takes it with [`Kernel::take_tlb_flushes`] after each of
//!   those calls. (A separate 16-byte value, returned in two registers,
//!   rather than a bigger return value: the slow path would pay for
//!   copying that on every system call.)
//!
//! The set has a fixed capacity (no heap); when it overflows it becomes
//! "invalidate every ASID", which is always correct, only slower.
//!
//! The IPC fast path changes no mapping and records nothing, so it never
//! looks at these.
#![forbid(unsafe_code)]

use crate::ipc::Fault;
use crate::Kernel;

/// What the kernel binary must do after a kernel entry, beyond scheduling
/// and TLB maintenance (which [`TlbFlushes`] carries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Nothing.
    None,
    /// DebugPutChar: print this byte.
    PutChar(u8),
    /// DebugDumpScheduler: print the thread list.
    DumpScheduler,
    /// DebugHalt, or a DebugNameThread misuse: halt the machine.
    Halt,
    /// DebugSnapshot: print a capDL dump.
    Snapshot,
    /// BenchmarkDumpAllThreadsUtilisation: print the CPU-time counters.
    DumpUtilisation,
    /// IRQHandler_Ack: unmask this IRQ in the interrupt controller.
    UnmaskIrq(u16),
    /// IRQControl_GetTrigger: set the IRQ's trigger mode (true = edge).
    SetIrqTrigger {
        /// The IRQ.
        irq: u16,
        /// Edge (true) or level (false).
        edge: bool,
    },
    /// Cache maintenance (label = the Page/VSpace cache invocation) over a
    /// physical range.
    CacheOp {
        /// The invocation label naming the operation.
        label: u64,
        /// First physical byte.
        paddr: u64,
        /// Length in bytes.
        len: u64,
    },
    /// The thread faulted and has no usable handler: print the fault (the
    /// thread is already Inactive).
    DoubleFault {
        /// The thread.
        tcb: u64,
        /// Its fault.
        fault: Fault,
    },
}

/// How many distinct ASIDs [`TlbFlushes`] names before it degrades to
/// invalidating every ASID (7 keeps the set at 16 bytes).
pub const TLB_FLUSH_CAPACITY: usize = 7;

/// The ASIDs whose TLB entries must be invalidated before user code runs
/// again: a set of at most [`TLB_FLUSH_CAPACITY`] ASIDs, or "all of them".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlbFlushes {
    /// The first `len` entries are the ASIDs (distinct), unless `all`.
    asids: [u16; TLB_FLUSH_CAPACITY],
    len: u8,
    /// Every ASID: the set overflowed, or an operation asked for it.
    all: bool,
}

impl TlbFlushes {
    /// Nothing to invalidate.
    pub const NONE: Self = Self {
        asids: [0; TLB_FLUSH_CAPACITY],
        len: 0,
        all: false,
    };

    /// Adds `asid` (a mapping of it changed, or it was freed). A full set
    /// turns into "every ASID".
    pub fn add(&mut self, asid: u16) {
        if self.all || self.asids().contains(&asid) {
            return;
        }
        let n = self.len as usize;
        if n == TLB_FLUSH_CAPACITY {
            self.add_all();
        } else {
            self.asids[n] = asid;
            self.len += 1;
        }
    }

    /// Asks for every ASID's entries to be invalidated.
    pub fn add_all(&mut self) {
        *self = Self {
            all: true,
            ..Self::NONE
        };
    }

    /// True when nothing needs invalidating.
    #[inline]
    pub fn is_empty(&self) -> bool {
        !self.all && self.len == 0
    }

    /// True when every ASID must be invalidated (then [`Self::asids`] is
    /// empty).
    #[inline]
    pub fn is_all(&self) -> bool {
        self.all
    }

    /// The ASIDs to invalidate one by one (empty when [`Self::is_all`]).
    #[inline]
    pub fn asids(&self) -> &[u16] {
        &self.asids[..self.len as usize]
    }

    /// True if carrying out the set invalidates `asid`'s entries.
    pub fn covers(&self, asid: u16) -> bool {
        self.all || self.asids().contains(&asid)
    }
}

impl Default for TlbFlushes {
    fn default() -> Self {
        Self::NONE
    }
}

impl Kernel<'_> {
    /// Records that `asid`'s TLB entries must be invalidated.
    pub(crate) fn flush_asid(&mut self, asid: u16) {
        self.state.tlb_flushes.add(asid);
    }

    /// Records the entry's event (one per entry).
    pub(crate) fn request(&mut self, event: Event) {
        debug_assert_eq!(self.state.event, Event::None, "two events");
        self.state.event = event;
    }

    /// The entry's event: `event` (what the syscall or fault handler
    /// returned) unless it is [`Event::None`], else the one an invocation
    /// recorded; the state is left with none.
    pub(crate) fn take_event(&mut self, event: Event) -> Event {
        // Nearly every entry has neither: answer without moving the
        // 56-byte value (a memcpy each way).
        if event == Event::None && self.state.event == Event::None {
            return Event::None;
        }
        let recorded = core::mem::replace(&mut self.state.event, Event::None);
        if event == Event::None {
            recorded
        } else {
            debug_assert_eq!(recorded, Event::None, "two events in one entry");
            event
        }
    }

    /// Hands over the TLB invalidations recorded since the last call and
    /// clears them. The kernel calls it after every
    /// [`Kernel::handle_syscall`] and [`Kernel::handle_user_fault`] and
    /// carries the set out before user code runs again.
    #[inline]
    pub fn take_tlb_flushes(&mut self) -> TlbFlushes {
        core::mem::replace(&mut self.state.tlb_flushes, TlbFlushes::NONE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlb_set_keeps_distinct_asids_then_degrades_to_all() {
        let mut s = TlbFlushes::NONE;
        assert!(s.is_empty());
        s.add(5);
        s.add(5);
        s.add(9);
        assert_eq!(s.asids(), &[5, 9]);
        assert!(s.covers(5) && s.covers(9) && !s.covers(1));
        for a in 100..100 + TLB_FLUSH_CAPACITY as u16 - 2 {
            s.add(a);
        }
        assert_eq!(s.asids().len(), TLB_FLUSH_CAPACITY);
        assert!(!s.is_all());
        s.add(5);
        assert!(!s.is_all(), "a repeat does not overflow");
        s.add(7);
        assert!(s.is_all() && s.asids().is_empty());
        assert!(s.covers(1) && s.covers(u16::MAX));
        s.add(8);
        assert!(s.is_all());
        assert_eq!(core::mem::size_of::<TlbFlushes>(), 16);
    }
}
