//! Interrupt dispatch: the kernel's timer tick, and (with IRQ handlers from
//! user space) delivery to notifications.

use crate::arch::gic::{GicError, InterruptController};
use crate::arch::timer;
use crate::{config, kprintln, sched};
use cerne_plat::memmap::Platform;

static GIC: spin::Mutex<Option<InterruptController>> = spin::Mutex::new(None);
static TIMER_IRQ: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(u32::MAX);
static TICK_COUNTS: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Brings up the GIC and starts the periodic tick.
pub fn init(platform: &Platform, window_offset: u64) -> Result<(), GicError> {
    // SAFETY: boot mapped the GIC windows into the kernel window as device
    // memory, and this is the only driver instance.
    let mut gic = unsafe { InterruptController::new(&platform.gic, window_offset)? };
    gic.enable(platform.virtual_timer_irq);
    TIMER_IRQ.store(
        platform.virtual_timer_irq,
        core::sync::atomic::Ordering::Relaxed,
    );
    *GIC.lock() = Some(gic);
    let ticks = timer::ticks_per_kernel_tick(config::TIMER_TICK_US);
    TICK_COUNTS.store(ticks, core::sync::atomic::Ordering::Relaxed);
    timer::arm(ticks);
    Ok(())
}

fn dispatch_one() -> bool {
    let irq = match GIC.lock().as_mut().and_then(|g| g.acknowledge()) {
        Some(irq) => irq,
        None => return false,
    };
    if irq == TIMER_IRQ.load(core::sync::atomic::Ordering::Relaxed) {
        timer::arm(TICK_COUNTS.load(core::sync::atomic::Ordering::Relaxed));
        sched::timer_tick();
    } else if irq < 1020 {
        kprintln!("[cerne] interrupt {irq} has no handler; masking it");
        if let Some(g) = GIC.lock().as_mut() {
            g.disable(irq);
        }
    }
    if let Some(g) = GIC.lock().as_mut() {
        g.end(irq);
    }
    true
}

/// Handles the pending interrupt(s) after an IRQ exception from user mode.
pub fn handle_pending() {
    while dispatch_one() {}
}

/// Handles an IRQ that woke the idle loop; returns to it.
pub fn handle_pending_while_idle() {
    handle_pending();
}
