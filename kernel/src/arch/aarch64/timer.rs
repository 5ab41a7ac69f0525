//! The EL1 virtual generic timer: the kernel's tick (the clock stays in the
//! kernel, as the seed text says), and the virtual counter, which stamps
//! kernel entries and exits for CPU-time accounting.

use aarch64_cpu::registers::{CNTFRQ_EL0, CNTVCT_EL0, CNTV_CTL_EL0, CNTV_TVAL_EL0};
use tock_registers::interfaces::{Readable, Writeable};

/// Counter frequency in Hz, as the firmware/QEMU set it.
pub fn frequency() -> u64 {
    CNTFRQ_EL0.get()
}

/// Counter ticks in one kernel tick of `tick_us` microseconds.
pub fn ticks_per_kernel_tick(tick_us: u64) -> u64 {
    (frequency() * tick_us / 1_000_000).max(1)
}

/// Arms the timer to fire `ticks` counter ticks from now, unmasked.
pub fn arm(ticks: u64) {
    CNTV_TVAL_EL0.set(ticks.min(u64::from(u32::MAX >> 1)));
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR);
}

/// The virtual counter, CNTVCT_EL0: 64 bits, counting at [`frequency`]
/// from reset (no overflow to handle), deterministic under `-icount`.
#[inline]
pub fn counter() -> u64 {
    CNTVCT_EL0.get()
}
