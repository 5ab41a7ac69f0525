//! The kernel's debug console and the `kprint!` macros.
//!
//! The console is the PL011 the DTB names, until a user-level driver owns
//! it: while the UART's interrupt is bound to a notification (an
//! IRQHandler_SetNotification on that IRQ succeeded and is still in force),
//! the kernel never touches the UART's registers in normal operation, and
//! everything it would print — its own reports and DebugPutChar — goes to
//! an in-kernel log ring instead. When the binding goes (IRQHandler_Clear,
//! the last IRQHandler cap or the notification deleted) the kernel prints a
//! [`CONSOLE_RETURNED`] line, replays the ring, and prints directly again.
//! Halts, panics and kernel exceptions always take the UART back first
//! ([`take_back_for_halt`]), so the harness sees what was logged and then
//! its marker.
//!
//! The one flag read on every byte is [`Console::driver_owns_uart`].

use crate::arch::uart::Pl011;
use cerne_objects::state::IrqState;
use cerne_objects::{cdt, Cap, Kernel};
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Bytes the log ring keeps while a driver owns the UART; older ones are
/// overwritten (and counted as lost).
pub const LOG_BYTES: usize = 16 * 1024;

/// Start of the line printed when the kernel takes the UART back; the line
/// goes on `: N bytes logged while a driver owned it` (and
/// `, the oldest L lost` when the ring overflowed), then the logged bytes
/// follow. The irq-uart check of `cargo xtask test` reads it.
pub const CONSOLE_RETURNED: &str = "[cerne] console returned";

/// The bytes logged while a driver owns the UART.
struct LogRing {
    buf: [u8; LOG_BYTES],
    /// Bytes written since the ring was last emptied.
    written: u64,
}

impl LogRing {
    const fn new() -> Self {
        Self {
            buf: [0; LOG_BYTES],
            written: 0,
        }
    }

    fn push(&mut self, byte: u8) {
        self.buf[(self.written % LOG_BYTES as u64) as usize] = byte;
        self.written += 1;
    }

    /// The positions (counted since the ring was emptied) of the bytes
    /// still held, oldest first.
    fn kept(&self) -> core::ops::Range<u64> {
        self.written.saturating_sub(LOG_BYTES as u64)..self.written
    }

    fn byte(&self, i: u64) -> u8 {
        self.buf[(i % LOG_BYTES as u64) as usize]
    }
}

/// The console: the UART (once mapped), who owns it, and the log ring.
struct Console {
    uart: Option<Pl011>,
    /// True while a user-level driver owns the UART: output goes to `log`.
    driver_owns_uart: bool,
    log: LogRing,
}

static CONSOLE: spin::Mutex<Console> = spin::Mutex::new(Console {
    uart: None,
    driver_owns_uart: false,
    log: LogRing::new(),
});

/// Mirror of `Console::driver_owns_uart`, read without the lock after each
/// system call to see whether ownership changed.
static DRIVER_OWNS_UART: AtomicBool = AtomicBool::new(false);
/// The console UART's interrupt (INTID; `u32::MAX` before boot sets it).
static CONSOLE_IRQ: AtomicU32 = AtomicU32::new(u32::MAX);

fn emit(uart: &Pl011, byte: u8) {
    if byte == b'\n' {
        uart.put_byte(b'\r');
    }
    uart.put_byte(byte);
}

impl Console {
    /// The character output routine: the ring or the UART.
    fn put(&mut self, byte: u8) {
        if self.driver_owns_uart {
            self.log.push(byte);
        } else if let Some(uart) = self.uart.as_ref() {
            emit(uart, byte);
        }
    }

    /// A driver now owns the UART: log from here on.
    fn hand_over(&mut self) {
        self.log.written = 0;
        self.driver_owns_uart = true;
        DRIVER_OWNS_UART.store(true, Ordering::Relaxed);
    }

    /// Prints directly again, after the [`CONSOLE_RETURNED`] line and
    /// whatever the ring kept. `why` goes right after the prefix.
    fn take_back(&mut self, why: &str) {
        if !self.driver_owns_uart {
            return;
        }
        self.driver_owns_uart = false;
        DRIVER_OWNS_UART.store(false, Ordering::Relaxed);
        if let Some(uart) = self.uart.as_ref() {
            uart.reenable_transmit();
        }
        let written = self.log.written;
        let kept = self.log.kept();
        let _ = write!(
            self,
            "{CONSOLE_RETURNED}{why}: {written} bytes logged while a driver owned it"
        );
        if kept.start > 0 {
            let _ = write!(self, ", the oldest {} lost", kept.start);
        }
        self.put(b'\n');
        if let Some(uart) = self.uart.as_ref() {
            let mut last = b'\n';
            for i in kept {
                last = self.log.byte(i);
                emit(uart, last);
            }
            if last != b'\n' {
                emit(uart, b'\n');
            }
        }
        self.log.written = 0;
    }
}

impl Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for b in s.bytes() {
            self.put(b);
        }
        Ok(())
    }
}

/// Starts the console on the UART mapped at `vaddr`, whose interrupt is
/// `irq` (the INTID whose binding to a notification hands the UART over).
///
/// # Safety
/// As [`Pl011::new`]: `vaddr` maps the UART's registers for good.
pub unsafe fn init(vaddr: u64, irq: u32) {
    // SAFETY: forwarded from the caller.
    CONSOLE.lock().uart = Some(unsafe { Pl011::new(vaddr) });
    CONSOLE_IRQ.store(irq, Ordering::Relaxed);
}

/// Whether a user-level driver holds the console UART's interrupt: the
/// IRQ has a handler and its IRQ-node slot holds a notification cap.
pub fn driver_bound(k: &Kernel<'_>) -> bool {
    let Ok(irq) = u16::try_from(CONSOLE_IRQ.load(Ordering::Relaxed)) else {
        return false;
    };
    k.state.irq_state.get(usize::from(irq)) == Some(&IrqState::Signal)
        && k.irq_slot(irq)
            .is_some_and(|s| matches!(cdt::cap(&k.mem, s), Cap::Notification { .. }))
}

/// Follows the console IRQ's binding after a system call: hands the UART
/// to user level when it became bound, takes it back (replaying the ring)
/// when the binding went.
pub fn set_driver_owned(bound: bool) {
    if DRIVER_OWNS_UART.load(Ordering::Relaxed) == bound {
        return;
    }
    let mut console = CONSOLE.lock();
    if bound {
        console.hand_over();
    } else {
        console.take_back("");
    }
}

/// Takes the UART back for a halt, panic or kernel exception, even if the
/// lock is held (the holder will never run again): replays the ring so the
/// console shows what happened, before the caller prints its marker.
pub fn take_back_for_halt() {
    if CONSOLE.is_locked() {
        // SAFETY: we are halting on the only CPU with interrupts masked;
        // whoever held the lock was interrupted for good.
        unsafe { CONSOLE.force_unlock() };
    }
    CONSOLE.lock().take_back(" (halting)");
}

/// Writes formatted text; silently dropped before the console is up.
pub fn write_fmt(args: core::fmt::Arguments<'_>) {
    let _ = CONSOLE.lock().write_fmt(args);
}

/// Writes one raw byte (DebugPutChar).
pub fn put_byte(byte: u8) {
    CONSOLE.lock().put(byte);
}

/// Takes the UART back and writes even if the lock is held (halts and the
/// panic path only), then waits until the UART has sent everything.
pub fn write_fmt_panicking(args: core::fmt::Arguments<'_>) {
    take_back_for_halt();
    let mut console = CONSOLE.lock();
    let _ = console.write_fmt(args);
    if let Some(uart) = console.uart.as_ref() {
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
