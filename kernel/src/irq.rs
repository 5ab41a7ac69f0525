//! Interrupt dispatch: the kernel's timer tick, and delivery of user-handled
//! IRQs to their notifications through the object model.

use crate::arch::gic::{GicError, InterruptController};
use crate::arch::timer;
use crate::{config, sched};
use cerne_objects::state::IrqState;
use cerne_plat::memmap::Platform;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

static GIC: spin::Mutex<Option<InterruptController>> = spin::Mutex::new(None);
static TIMER_IRQ: AtomicU32 = AtomicU32::new(u32::MAX);
static COUNTS_PER_TICK: AtomicU64 = AtomicU64::new(0);

/// INTIDs at or above this are special (spurious) values.
const FIRST_SPECIAL_INTID: u32 = 1020;

/// Brings up the GIC, hands the timer IRQ to the kernel in the object
/// model's IRQ table, and starts the periodic tick.
pub fn init(platform: &Platform, window_offset: u64) -> Result<(), GicError> {
    // SAFETY: boot mapped the GIC windows into the kernel window as device
    // memory, and this is the only driver instance.
    let mut gic = unsafe { InterruptController::new(&platform.gic, window_offset)? };
    let timer_irq = platform.virtual_timer_irq;
    sched::with_kernel(|k| {
        for state in k.state.irq_state.iter_mut() {
            if *state == IrqState::Timer {
                *state = IrqState::Inactive;
            }
        }
        if let Some(state) = k.state.irq_state.get_mut(timer_irq as usize) {
            *state = IrqState::Timer;
        }
    });
    gic.enable(timer_irq);
    TIMER_IRQ.store(timer_irq, Ordering::Relaxed);
    *GIC.lock() = Some(gic);
    let counts = timer::ticks_per_kernel_tick(config::TIMER_TICK_US);
    COUNTS_PER_TICK.store(counts, Ordering::Relaxed);
    timer::arm(counts);
    Ok(())
}

/// Unmasks `irq` (IRQHandler_Ack, or a new handler).
pub fn unmask(irq: u32) {
    if let Some(g) = GIC.lock().as_mut() {
        g.enable(irq);
    }
}

/// Sets the trigger mode of `irq` (IRQControl_GetTrigger).
pub fn set_trigger(irq: u32, edge: bool) {
    if let Some(g) = GIC.lock().as_mut() {
        g.set_edge_triggered(irq, edge);
    }
}

fn dispatch_one() -> bool {
    let Some(irq) = GIC.lock().as_mut().and_then(|g| g.acknowledge()) else {
        return false;
    };
    if irq >= FIRST_SPECIAL_INTID {
        return false;
    }
    if irq == TIMER_IRQ.load(Ordering::Relaxed) {
        timer::arm(COUNTS_PER_TICK.load(Ordering::Relaxed));
        sched::idle_tick();
    }
    let user_handled = sched::with_kernel(|k| k.handle_interrupt(irq as u16));
    let mut gic = GIC.lock();
    if let Some(g) = gic.as_mut() {
        if user_handled || irq != TIMER_IRQ.load(Ordering::Relaxed) {
            // User-handled IRQs stay masked until IRQHandler_Ack; IRQs
            // nobody handles are masked for good.
            g.disable(irq);
        }
        g.end(irq);
    }
    true
}

/// Handles every pending interrupt.
pub fn handle_pending() {
    while dispatch_one() {}
}
