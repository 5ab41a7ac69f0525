//! Kernel panics and orderly halts: both print a marker the harness reads
//! (`cerne_abi::console`) and power the machine off.

use crate::arch;
use cerne_abi::console::{HALT_FAILURE, HALT_SUCCESS, PANIC_PREFIX};

/// Powers off after a successful run (DebugHalt, or idle-halt in tests).
pub fn halt_success() -> ! {
    crate::console::write_fmt_panicking(format_args!("{HALT_SUCCESS}\n"));
    arch::psci::system_off()
}

/// Powers off after a fatal kernel error that was already reported.
pub fn halt_failure() -> ! {
    crate::console::write_fmt_panicking(format_args!("{HALT_FAILURE}\n"));
    arch::psci::system_off()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    match info.location() {
        Some(loc) => crate::console::write_fmt_panicking(format_args!(
            "{PANIC_PREFIX} at {}:{}:{}: {}\n",
            loc.file(),
            loc.line(),
            loc.column(),
            info.message()
        )),
        None => crate::console::write_fmt_panicking(format_args!(
            "{PANIC_PREFIX}: {}\n",
            info.message()
        )),
    }
    halt_failure()
}
