//! The PMU cycle counter, for benchmarks. Under QEMU's
//! `-icount shift=0` it counts one per guest instruction (docs/kernel.md).
//! EL0 may read it only on a kernel built with `pmu-user`: on any other
//! kernel the read is an undefined instruction, so programs call
//! [`cycles`] only in their benchmark builds.

/// PMCCNTR_EL0.
pub fn cycles() -> u64 {
    #[cfg(target_arch = "aarch64")]
    {
        let c: u64;
        // SAFETY: reads a system register into a general register; no
        // memory is touched. On a kernel without `pmu-user` it faults,
        // which the caller's build rules out (module doc).
        unsafe { core::arch::asm!("mrs {0}, pmccntr_el0", out(reg) c, options(nomem, nostack)) };
        c
    }
    #[cfg(not(target_arch = "aarch64"))]
    0
}
