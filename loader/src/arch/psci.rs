//! PSCI SYSTEM_OFF through the conduit the device tree names.

use core::arch::asm;

use cerne_plat::memmap::PsciConduit;

/// PSCI 0.2+ SYSTEM_OFF function id (SMC32 fast call).
const SYSTEM_OFF: u64 = 0x8400_0008;

/// Asks PSCI firmware to power the machine off; halts if it returns.
pub fn system_off(conduit: PsciConduit) -> ! {
    match conduit {
        // SAFETY: a PSCI call through HVC; the device tree says the
        // hypervisor (QEMU) implements PSCI on this conduit.
        PsciConduit::Hvc => unsafe {
            asm!("hvc #0", inout("x0") SYSTEM_OFF => _, options(nostack))
        },
        // SAFETY: as above, through SMC.
        PsciConduit::Smc => unsafe {
            asm!("smc #0", inout("x0") SYSTEM_OFF => _, options(nostack))
        },
    }
    super::cpu::halt()
}
