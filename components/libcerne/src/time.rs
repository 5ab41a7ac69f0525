//! Time since boot from the ARM generic timer: the virtual counter
//! CNTVCT_EL0 and its frequency CNTFRQ_EL0 (62.5 MHz on QEMU's `virt`).
//!
//! The registers are read by [`crate::generic_timer`]; Cerne's kernel lets
//! EL0 read them (docs/kernel.md). The counter
//! starts at (about) 0 when the machine is reset, so it measures time since
//! boot. On the host, both reads give 0 (the conversion is host-tested).

/// The virtual counter, CNTVCT_EL0: ticks since the machine started.
pub fn now_ticks() -> u64 {
    crate::generic_timer::virtual_count()
}

/// The counter's frequency, CNTFRQ_EL0, in ticks per second.
pub fn ticks_per_second() -> u64 {
    crate::generic_timer::frequency()
}

/// `ticks` at `per_second` ticks a second, in whole milliseconds (rounded
/// down); 0 for a frequency of 0. The product cannot overflow, and a
/// result past `u64::MAX` (a frequency under 1 kHz) saturates.
pub const fn ticks_to_millis(ticks: u64, per_second: u64) -> u64 {
    if per_second == 0 {
        return 0;
    }
    let ms = ticks as u128 * 1000 / per_second as u128;
    if ms > u64::MAX as u128 {
        u64::MAX
    } else {
        ms as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millis() {
        const QEMU: u64 = 62_500_000;
        assert_eq!(ticks_to_millis(0, QEMU), 0);
        assert_eq!(ticks_to_millis(62_499, QEMU), 0);
        assert_eq!(ticks_to_millis(62_500, QEMU), 1);
        assert_eq!(ticks_to_millis(QEMU * 90 + QEMU / 2, QEMU), 90_500);
        assert_eq!(ticks_to_millis(u64::MAX, 1000), u64::MAX);
        assert_eq!(ticks_to_millis(u64::MAX, QEMU), 295_147_905_179_352);
        assert_eq!(ticks_to_millis(5, 0), 0);
        assert_eq!(ticks_to_millis(3, 3000), 1);
        assert_eq!(ticks_to_millis(u64::MAX, 1), u64::MAX);
    }
}
