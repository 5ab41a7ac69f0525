//! The kernel's debug console on the PL011, and the `kprint!` macros.

use crate::arch::uart::Pl011;
use core::fmt::Write;

static CONSOLE: spin::Mutex<Option<Pl011>> = spin::Mutex::new(None);

/// Starts the console on the UART mapped at `vaddr`.
///
/// # Safety
/// As [`Pl011::new`]: `vaddr` maps the UART's registers for good.
pub unsafe fn init(vaddr: u64) {
    // SAFETY: forwarded from the caller.
    *CONSOLE.lock() = Some(unsafe { Pl011::new(vaddr) });
}

/// Writes formatted text; silently dropped before the console is up.
pub fn write_fmt(args: core::fmt::Arguments<'_>) {
    if let Some(uart) = CONSOLE.lock().as_mut() {
        let _ = uart.write_fmt(args);
    }
}

/// Writes one raw byte (DebugPutChar).
pub fn put_byte(byte: u8) {
    if let Some(uart) = CONSOLE.lock().as_mut() {
        if byte == b'\n' {
            uart.put_byte(b'\r');
        }
        uart.put_byte(byte);
    }
}

/// Writes even if the lock is held (the panic path only: the holder will
/// never run again).
pub fn write_fmt_panicking(args: core::fmt::Arguments<'_>) {
    if CONSOLE.is_locked() {
        // SAFETY: we are panicking on the only CPU with interrupts masked;
        // whoever held the lock was interrupted for good.
        unsafe { CONSOLE.force_unlock() };
    }
    write_fmt(args);
    if let Some(uart) = CONSOLE.lock().as_ref() {
        uart.flush();
    }
}

/// Prints to the kernel console.
#[macro_export]
macro_rules! kprint {
    ($($arg:tt)*) => { $crate::console::write_fmt(format_args!($($arg)*)) };
}

/// Prints a line to the kernel console.
#[macro_export]
macro_rules! kprintln {
    () => { $crate::kprint!("\n") };
    ($($arg:tt)*) => { $crate::console::write_fmt(format_args!("{}\n", format_args!($($arg)*))) };
}
