//! The glue between the object model and the CPU: one [`KernelState`], a
//! [`Kernel`] view of it per kernel entry, and activating the thread the
//! object model's scheduler chose (its address space and registers), or
//! idling when there is none.

use crate::arch::{self, mmu, vectors};
use crate::{config, kprintln};
use cerne_abi::console::IDLE_HALT;
use cerne_objects::{Kernel, KernelState, PhysMem};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The kernel's global object-model state (the big-kernel-lock site).
static STATE: spin::Mutex<KernelState> = spin::Mutex::new(KernelState::new());
/// Physical range of RAM that holds kernel objects (set once at boot).
static OBJECT_RAM_START: AtomicU64 = AtomicU64::new(0);
static OBJECT_RAM_END: AtomicU64 = AtomicU64::new(0);

static IDLE: AtomicBool = AtomicBool::new(false);
static IDLE_TICKS: AtomicU64 = AtomicU64::new(0);

/// An empty top-level table: threads without a usable VSpace run on it.
#[repr(C, align(4096))]
struct EmptyTable([u64; 512]);
static EMPTY_USER_TABLE: EmptyTable = EmptyTable([0; 512]);

/// Records where kernel objects may live: RAM as the DTB gave it.
pub fn set_object_memory(start: u64, end: u64) {
    OBJECT_RAM_START.store(start, Ordering::Relaxed);
    OBJECT_RAM_END.store(end, Ordering::Relaxed);
}

/// Runs `f` on the object model. The lock is where SMP would take the big
/// kernel lock; on one CPU with interrupts masked it is never contended.
pub fn with_kernel<R>(f: impl FnOnce(&mut Kernel<'_>) -> R) -> R {
    let mut state = STATE.lock();
    // SAFETY: boot mapped all RAM read/write at WINDOW_BASE + paddr before
    // setting the range; kernel objects hold no Rust values; and this is the
    // only PhysMem alive, since it is made under the state lock.
    let mem = unsafe {
        PhysMem::kernel_window(
            mmu::WINDOW_BASE,
            OBJECT_RAM_START.load(Ordering::Relaxed),
            OBJECT_RAM_END.load(Ordering::Relaxed),
        )
    };
    let mut kernel = Kernel::new(mem, &mut state).with_preemption(arch::irq_pending);
    f(&mut kernel)
}

/// Stamps the start of a kernel entry for CPU-time accounting (entries
/// that take the object model's lock anyway stamp it themselves).
pub fn begin_entry() {
    with_kernel(|k| k.begin_entry(arch::timer::counter()));
}

/// Starts CPU-time accounting at boot, once the root thread is current.
pub fn start_accounting() {
    with_kernel(|k| k.start_utilisation(arch::timer::counter()));
}

/// True while the kernel idles waiting for an interrupt.
pub fn is_idle() -> bool {
    IDLE.load(Ordering::Relaxed)
}

/// Accounts a timer tick seen while idling.
pub fn idle_tick() {
    if is_idle() {
        IDLE_TICKS.fetch_add(1, Ordering::Relaxed);
    }
}

/// The name of thread `tcb`, for reports.
pub fn thread_name(k: &Kernel<'_>, tcb: u64, buf: &mut [u8; 64]) -> usize {
    k.thread_name(tcb, buf)
}

/// Runs the object model's scheduler and returns to the chosen thread;
/// idles (interrupts enabled) while there is none.
pub fn schedule_and_return() -> ! {
    loop {
        let chosen = with_kernel(|k| {
            k.schedule_and_activate();
            k.end_entry(arch::timer::counter());
            let t = k.current_thread()?;
            // As seL4's setVMRoot: the VSpace cap's ASID must still name that
            // VSpace (its pool may be gone); otherwise the thread runs on an
            // empty table and its next access is a VMFault.
            let (root, asid) = k.user_vspace(t).unwrap_or_else(|| {
                (
                    mmu::kernel_phys(core::ptr::addr_of!(EMPTY_USER_TABLE) as u64),
                    0,
                )
            });
            crate::fpu::prepare_exit(k, t);
            Some((root, asid, k.user_context_vaddr(t)))
        });
        if let Some((root, asid, context)) = chosen {
            IDLE.store(false, Ordering::Relaxed);
            mmu::set_user_vspace(root, asid);
            vectors::set_current_context(context as *mut arch::context::UserContext);
            vectors::return_to_user();
        }
        if !IDLE.swap(true, Ordering::Relaxed) {
            IDLE_TICKS.store(0, Ordering::Relaxed);
        }
        let idle_ticks = IDLE_TICKS.load(Ordering::Relaxed);
        if config::IDLE_HALT && idle_ticks >= config::IDLE_HALT_TICKS {
            crate::console::take_back_for_halt();
            kprintln!("{IDLE_HALT} (after {idle_ticks} idle ticks)");
            crate::panic::halt_success();
        }
        arch::wait_for_interrupt();
    }
}
