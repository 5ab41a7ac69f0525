//! The ARM generic timer as EL0 sees it on Cerne, which exports it as
//! seL4's KernelArmExportVCNTUser, KernelArmExportPCNTUser and
//! KernelArmExportPTMRUser do (docs/kernel.md, "The generic timer at
//! EL0"): the two counters, their frequency, and the EL1 physical timer,
//! which a user-level timer driver programs and whose interrupt (INTID 30)
//! it receives through an IRQHandler. The virtual timer is the kernel's
//! tick and is not for EL0.

/// The physical timer's interrupt, a GIC PPI.
pub const PHYSICAL_TIMER_IRQ: u64 = 30;

/// CNTP_CTL_EL0.ENABLE.
const CTL_ENABLE: u64 = 1 << 0;
/// CNTP_CTL_EL0.IMASK.
const CTL_IMASK: u64 = 1 << 1;
/// CNTP_CTL_EL0.ISTATUS (read only): the condition is met.
const CTL_ISTATUS: u64 = 1 << 2;

#[cfg(target_arch = "aarch64")]
macro_rules! read_sysreg {
    ($name:literal) => {{
        let v: u64;
        // SAFETY: reads a system register that the kernel lets EL0 read
        // (CNTKCTL_EL1, module doc) into a general register; no memory is
        // touched. Should a kernel not export it, the read is an undefined
        // instruction: a fault of this thread only.
        unsafe {
            core::arch::asm!(concat!("mrs {0}, ", $name), out(reg) v, options(nomem, nostack))
        };
        v
    }};
}

#[cfg(target_arch = "aarch64")]
macro_rules! write_sysreg {
    ($name:literal, $value:expr) => {{
        let v: u64 = $value;
        // SAFETY: writes an EL1 physical timer register that the kernel
        // lets EL0 program (EL0PTEN); it changes when that timer fires and
        // nothing else, and the kernel does not use that timer.
        unsafe {
            core::arch::asm!(concat!("msr ", $name, ", {0}"), "isb", in(reg) v, options(nostack))
        };
    }};
}

/// The counters' frequency in Hz (CNTFRQ_EL0).
pub fn frequency() -> u64 {
    #[cfg(target_arch = "aarch64")]
    return read_sysreg!("cntfrq_el0");
    #[cfg(not(target_arch = "aarch64"))]
    0
}

/// The physical counter, CNTPCT_EL0.
pub fn physical_count() -> u64 {
    #[cfg(target_arch = "aarch64")]
    return read_sysreg!("cntpct_el0");
    #[cfg(not(target_arch = "aarch64"))]
    0
}

/// The virtual counter, CNTVCT_EL0 (what the kernel's CPU-time
/// accounting counts in).
pub fn virtual_count() -> u64 {
    #[cfg(target_arch = "aarch64")]
    return read_sysreg!("cntvct_el0");
    #[cfg(not(target_arch = "aarch64"))]
    0
}

/// Arms the physical timer to fire when the physical counter reaches
/// `deadline` (CNTP_CVAL_EL0), interrupt unmasked.
pub fn arm_physical_timer(deadline: u64) {
    #[cfg(target_arch = "aarch64")]
    {
        write_sysreg!("cntp_cval_el0", deadline);
        write_sysreg!("cntp_ctl_el0", CTL_ENABLE);
    }
    #[cfg(not(target_arch = "aarch64"))]
    let _ = (deadline, CTL_ENABLE);
}

/// Stops the physical timer and masks its output, so that its (level)
/// interrupt drops before IRQHandler_Ack unmasks it.
pub fn stop_physical_timer() {
    #[cfg(target_arch = "aarch64")]
    write_sysreg!("cntp_ctl_el0", CTL_IMASK);
    #[cfg(not(target_arch = "aarch64"))]
    let _ = CTL_IMASK;
}

/// True once the armed deadline has passed (CNTP_CTL_EL0.ISTATUS).
pub fn physical_timer_expired() -> bool {
    #[cfg(target_arch = "aarch64")]
    return read_sysreg!("cntp_ctl_el0") & CTL_ISTATUS != 0;
    #[cfg(not(target_arch = "aarch64"))]
    {
        let _ = CTL_ISTATUS;
        false
    }
}
