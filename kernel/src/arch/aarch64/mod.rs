//! Everything specific to AArch64: entry, exception vectors and the register
//! save area, the MMU, the GIC, the generic timer, the PL011 and PSCI.
//!
//! This layer (with the syscall layer) is where the kernel's `unsafe` lives.

pub mod context;
pub mod entry;
pub mod esr;
pub mod gic;
pub mod mmu;
pub mod psci;
pub mod timer;
pub mod uart;
pub mod vectors;

/// CPACR_EL1.FPEN: FP/SIMD trapped at EL0, allowed at EL1 (the kernel's
/// own save and restore; the kernel emits no FP/SIMD code otherwise).
const CPACR_FPEN_EL1_ONLY: u64 = 0b01 << 20;
/// CPACR_EL1.FPEN: FP/SIMD allowed at EL0 and EL1.
const CPACR_FPEN_ALL: u64 = 0b11 << 20;

/// The CPACR_EL1 value last written (so an exit that changes nothing
/// writes nothing and needs no ISB).
static CPACR: core::sync::atomic::AtomicU64 =
    core::sync::atomic::AtomicU64::new(CPACR_FPEN_EL1_ONLY);

/// Lets EL0 use FP/SIMD (`enabled`: the thread about to run owns the
/// registers) or makes every EL0 FP/SIMD access trap (another thread owns
/// them, or seL4_TCBFlag_fpuDisabled). EL1 access stays enabled either
/// way, so the kernel can save and restore the registers. Writes CPACR_EL1
/// (and synchronises) only when the value changes.
pub fn set_user_fpu(enabled: bool) {
    use core::sync::atomic::Ordering;
    let cpacr = if enabled {
        CPACR_FPEN_ALL
    } else {
        CPACR_FPEN_EL1_ONLY
    };
    if CPACR.load(Ordering::Relaxed) != cpacr {
        CPACR.store(cpacr, Ordering::Relaxed);
        // SAFETY: only changes whether EL0 FP/SIMD accesses trap.
        unsafe { core::arch::asm!("msr cpacr_el1, {0}", "isb", in(reg) cpacr) };
    }
}

/// True if an interrupt is pending at this CPU, even while masked
/// (ISR_EL1.I): the test long operations make at their preemption points.
pub fn irq_pending() -> bool {
    let isr: u64;
    // SAFETY: reading ISR_EL1 has no side effects.
    unsafe { core::arch::asm!("mrs {0}, isr_el1", out(reg) isr) };
    isr & (1 << 7) != 0
}

/// Stops this CPU for good, with interrupts masked.
pub fn halt_cpu() -> ! {
    loop {
        // SAFETY: masking interrupts and waiting have no memory effects.
        unsafe { core::arch::asm!("msr daifset, #0xf", "wfi") };
    }
}

/// The exception level the CPU runs at (1 for the kernel).
pub fn current_el() -> u64 {
    let el: u64;
    // SAFETY: reading CurrentEL has no side effects.
    unsafe { core::arch::asm!("mrs {0}, CurrentEL", out(reg) el) };
    (el >> 2) & 3
}

/// Reads ESR_EL1, FAR_EL1 for the exception being handled.
pub fn fault_registers() -> (u64, u64) {
    let (esr, far): (u64, u64);
    // SAFETY: reading syndrome registers has no side effects.
    unsafe { core::arch::asm!("mrs {0}, esr_el1", "mrs {1}, far_el1", out(reg) esr, out(reg) far) };
    (esr, far)
}

/// Waits for an interrupt with IRQs unmasked at EL1, then masks them again.
/// An IRQ taken meanwhile goes through the EL1 vector and returns here.
pub fn wait_for_interrupt() {
    // SAFETY: the EL1 IRQ vector handles the interrupt and returns here; the
    // window in which IRQs are unmasked contains only `wfi`.
    unsafe { core::arch::asm!("msr daifclr, #2", "wfi", "msr daifset, #2") };
}

/// What of the generic timer EL0 may use (seL4's KernelArmExport*User).
#[derive(Clone, Copy, Debug)]
pub struct TimerExport {
    /// Read CNTVCT_EL0 (and CNTFRQ_EL0).
    pub virtual_counter: bool,
    /// Read CNTPCT_EL0 (and CNTFRQ_EL0).
    pub physical_counter: bool,
    /// Program the EL1 physical timer (CNTP_CTL_EL0, CNTP_CVAL_EL0,
    /// CNTP_TVAL_EL0).
    pub physical_timer: bool,
}

impl TimerExport {
    /// The CNTKCTL_EL1 value that grants this (EL0PCTEN bit 0, EL0VCTEN
    /// bit 1, EL0PTEN bit 9; EL0VTEN, bit 8, never: the virtual timer is
    /// the kernel's tick).
    pub const fn cntkctl(self) -> u64 {
        const EL0PCTEN: u64 = 1 << 0;
        const EL0VCTEN: u64 = 1 << 1;
        const EL0PTEN: u64 = 1 << 9;
        (if self.physical_counter { EL0PCTEN } else { 0 })
            | (if self.virtual_counter { EL0VCTEN } else { 0 })
            | (if self.physical_timer { EL0PTEN } else { 0 })
    }
}

/// Sets the EL1 system state the kernel wants: EL0 may use cache
/// maintenance by VA and read CTR_EL0 (UCT, UCI), alignment checks off,
/// EL0 gets the PMU only with `pmu_user` and the generic timer as `timers`
/// says, and FP/SIMD traps at EL0 until a thread becomes the FPU owner
/// (lazy switching, `crate::fpu`).
pub fn configure_cpu(pmu_user: bool, timers: TimerExport) {
    const SCTLR_UCI: u64 = 1 << 26;
    const SCTLR_UCT: u64 = 1 << 15;
    const SCTLR_A: u64 = 1 << 1;
    const SCTLR_SA0: u64 = 1 << 4;
    // SAFETY: these writes only change EL0 permissions and alignment
    // checking (CNTKCTL_EL1 only EL0's access to the generic timer); the
    // MMU and caches stay as the loader set them.
    unsafe {
        core::arch::asm!(
            "mrs {t}, sctlr_el1",
            "orr {t}, {t}, {set}",
            "bic {t}, {t}, {clear}",
            "msr sctlr_el1, {t}",
            "msr cpacr_el1, {cpacr}",
            "msr cntkctl_el1, {cntkctl}",
            "isb",
            t = out(reg) _,
            set = in(reg) SCTLR_UCI | SCTLR_UCT,
            clear = in(reg) SCTLR_A | SCTLR_SA0,
            cpacr = in(reg) CPACR_FPEN_EL1_ONLY,
            cntkctl = in(reg) timers.cntkctl(),
        );
    }
    CPACR.store(CPACR_FPEN_EL1_ONLY, core::sync::atomic::Ordering::Relaxed);
    if pmu_user {
        // PMUSERENR_EL0: EN (EL0 access) and CR (cycle counter reads).
        // SAFETY: only grants EL0 read access to the PMU.
        unsafe { core::arch::asm!("msr pmuserenr_el0, {0}", "isb", in(reg) 0b0101u64) };
    }
}
