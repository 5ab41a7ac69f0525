//! Carrying out what the object model asks of the hardware after a kernel
//! entry: console output, halting, interrupt-controller changes, TLB and
//! cache maintenance, and reports of faults nobody handles.

use crate::arch::mmu;
use crate::{console, irq, sched};
use cerne_objects::syscall::Event;
use cerne_objects::TlbFlushes;

/// Invalidates every TLB entry the entry's set names: each ASID in it, or
/// all of them when the set overflowed. Called before [`carry_out`] and
/// before any return to user level.
#[inline]
pub fn flush_tlb(set: TlbFlushes) {
    if set.is_empty() {
        return;
    }
    if set.is_all() {
        mmu::flush_all();
    } else {
        mmu::flush_asids(set.asids());
    }
}

/// Performs `event` (the entry's TLB invalidations were done by
/// [`flush_tlb`]). Inline, so that the common case — no event, as after
/// every fast-path IPC — costs a compare rather than a call.
#[inline]
pub fn carry_out(event: Event) {
    if !matches!(event, Event::None) {
        perform(event);
    }
}

#[inline(never)]
fn perform(event: Event) {
    match event {
        Event::None => {}
        Event::PutChar(c) if crate::config::PRINTING => console::put_byte(c),
        Event::PutChar(_) => {}
        Event::Halt => crate::panic::halt_success(),
        Event::DumpScheduler => sched::with_kernel(|k| crate::debug::dump_scheduler(k)),
        Event::Snapshot => sched::with_kernel(|k| {
            if let Some(caller) = k.current_thread() {
                crate::debug::snapshot(k, caller);
            }
        }),
        Event::DumpUtilisation => sched::with_kernel(|k| {
            if let Some(caller) = k.current_thread() {
                crate::debug::dump_utilisation(k, caller);
            }
        }),
        Event::UnmaskIrq(n) => irq::unmask(u32::from(n)),
        Event::SetIrqTrigger { irq: n, edge } => irq::set_trigger(u32::from(n), edge),
        Event::CacheOp { label, paddr, len } => mmu::cache_maintenance(label, paddr, len),
        Event::DoubleFault { tcb, fault } => {
            sched::with_kernel(|k| crate::trap::report_unhandled_fault(k, tcb, fault))
        }
    }
}
