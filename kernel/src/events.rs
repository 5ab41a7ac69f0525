//! Carrying out what the object model asks of the hardware after a kernel
//! entry: console output, halting, interrupt-controller changes, TLB and
//! cache maintenance, and reports of faults nobody handles.

use crate::arch::mmu;
use crate::{console, irq, sched};
use cerne_objects::syscall::Event;

/// Performs `event`.
pub fn carry_out(event: Event) {
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
        Event::UnmaskIrq(n) => irq::unmask(u32::from(n)),
        Event::SetIrqTrigger { irq: n, edge } => irq::set_trigger(u32::from(n), edge),
        Event::FlushAsid(asid) => mmu::flush_asid(asid),
        Event::CacheOp { label, paddr, len } => mmu::cache_maintenance(label, paddr, len),
        Event::DoubleFault { tcb, fault } => {
            sched::with_kernel(|k| crate::trap::report_unhandled_fault(k, tcb, fault))
        }
    }
}
