//! Choosing the thread that runs, and switching to it.
//!
//! Thread and queue state belongs to the object model (`cerne_objects`);
//! this module is the arch-facing glue: it installs the chosen thread's
//! address space and register context, and idles when nothing can run.

use crate::arch::{self, context::UserContext, mmu, vectors};
use crate::{config, kprintln};
use cerne_abi::console::IDLE_HALT;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The root task's thread until the object model's TCBs take over.
struct BootThread {
    context: UserContext,
    runnable: bool,
    vspace_root: u64,
    asid: u16,
    name: &'static str,
}

static mut ROOT_THREAD: BootThread = BootThread {
    context: UserContext {
        x: [0; 31],
        sp_el0: 0,
        elr_el1: 0,
        spsr_el1: 0,
        tpidr_el0: 0,
        tpidrro_el0: 0,
    },
    runnable: false,
    vspace_root: 0,
    asid: 0,
    name: "rootserver",
};

static IDLE: AtomicBool = AtomicBool::new(false);
static IDLE_TICKS: AtomicU64 = AtomicU64::new(0);

fn root() -> &'static mut BootThread {
    // SAFETY: single CPU, interrupts masked in the kernel: no two references
    // are live at once (callers never hold one across another call).
    unsafe { &mut *core::ptr::addr_of_mut!(ROOT_THREAD) }
}

/// Registers the root task's thread, ready to run.
pub fn start_root_thread(context: UserContext, vspace_root: u64, asid: u16) {
    let t = root();
    t.context = context;
    t.vspace_root = vspace_root;
    t.asid = asid;
    t.runnable = true;
}

/// Runs `f` on the current thread's saved registers.
pub fn with_current_context<R>(f: impl FnOnce(&mut UserContext) -> R) -> R {
    f(&mut root().context)
}

/// Name of the current thread.
pub fn current_name() -> &'static str {
    root().name
}

/// Stops the current thread (Inactive); it never runs again unless resumed.
pub fn suspend_current() {
    root().runnable = false;
}

/// True while the kernel idles waiting for an interrupt.
pub fn is_idle() -> bool {
    IDLE.load(Ordering::Relaxed)
}

/// Accounts one timer tick.
pub fn timer_tick() {
    if is_idle() {
        IDLE_TICKS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Picks the thread to run and returns to it; idles while there is none.
pub fn schedule_and_return() -> ! {
    loop {
        let t = root();
        if t.runnable {
            IDLE.store(false, Ordering::Relaxed);
            mmu::set_user_vspace(t.vspace_root, t.asid);
            vectors::set_current_context(&mut t.context);
            vectors::return_to_user();
        }
        if !IDLE.swap(true, Ordering::Relaxed) {
            IDLE_TICKS.store(0, Ordering::Relaxed);
        }
        if config::IDLE_HALT && IDLE_TICKS.load(Ordering::Relaxed) >= config::IDLE_HALT_TICKS {
            kprintln!(
                "{IDLE_HALT} (after {} idle ticks)",
                IDLE_TICKS.load(Ordering::Relaxed)
            );
            crate::panic::halt_success();
        }
        arch::wait_for_interrupt();
    }
}
