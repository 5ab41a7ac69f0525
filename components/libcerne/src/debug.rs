//! Printing through the kernel's debug console (DebugPutChar), and what a
//! panic does: print where and why, then fault so that a supervisor (or the
//! kernel's fault report) sees it.

use core::fmt::Write;

/// A `fmt::Write` that prints through DebugPutChar.
pub struct DebugConsole;

impl Write for DebugConsole {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for b in s.bytes() {
            crate::syscalls::debug_put_char(b);
        }
        Ok(())
    }
}

/// Prints to the kernel's debug console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = write!($crate::debug::DebugConsole, $($arg)*);
    }};
}

/// Prints a line to the kernel's debug console.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = writeln!($crate::debug::DebugConsole, $($arg)*);
    }};
}

/// Reports a panic and raises a fault (an undefined instruction), which the
/// thread's fault handler or the kernel's report then takes.
pub fn report_panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let _ = writeln!(DebugConsole, "panic: {info}");
    loop {
        #[cfg(target_arch = "aarch64")]
        // SAFETY: `udf` raises an UserException fault; nothing is accessed.
        unsafe {
            core::arch::asm!("udf #0", options(nostack));
        }
        core::hint::spin_loop();
    }
}
