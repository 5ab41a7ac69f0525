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
/// thread's fault handler or the kernel's report then takes. The message
/// is also left in the IPC buffer, and the fault raised with
/// [`PANIC_MARK`](crate::supervision::PANIC_MARK) in x0 and the message's
/// length in x1, so that a supervisor can tell a panic from a fault and
/// name it (docs/supervisor.md).
pub fn report_panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let _ = writeln!(DebugConsole, "panic: {info}");
    let len = leave_in_ipc_buffer(info);
    loop {
        #[cfg(target_arch = "aarch64")]
        // SAFETY: `udf` raises an UserException fault; nothing is accessed.
        unsafe {
            core::arch::asm!(
                "udf #0",
                in("x0") crate::supervision::PANIC_MARK,
                in("x1") len,
                options(nostack)
            );
        }
        #[cfg(not(target_arch = "aarch64"))]
        let _ = len;
        core::hint::spin_loop();
    }
}

/// Writes the panic's message into the IPC buffer's message registers from
/// byte [`PANIC_MESSAGE_AT`](crate::supervision::PANIC_MESSAGE_AT); returns
/// the bytes written (0 without an IPC buffer).
fn leave_in_ipc_buffer(info: &core::panic::PanicInfo<'_>) -> usize {
    #[cfg(target_arch = "aarch64")]
    {
        use crate::supervision::{PANIC_MESSAGE_AT, PANIC_MESSAGE_MAX};
        let buffer = crate::sel4::ipc_buffer::ipc_buffer();
        if buffer.is_null() {
            return 0;
        }
        let mut text = Truncated {
            bytes: [0; PANIC_MESSAGE_MAX],
            len: 0,
        };
        let _ = write!(text, "{info}");
        let base = buffer as usize + PANIC_MESSAGE_AT;
        for (i, &b) in text.bytes[..text.len].iter().enumerate() {
            // SAFETY: the IPC buffer is this thread's own mapped 4 KiB page
            // (TPIDR_EL0 points at it), and PANIC_MESSAGE_AT +
            // PANIC_MESSAGE_MAX lies inside it; nothing else of this dying
            // thread uses it any more.
            unsafe { core::ptr::write_volatile((base + i) as *mut u8, b) };
        }
        text.len
    }
    #[cfg(not(target_arch = "aarch64"))]
    {
        let _ = info;
        0
    }
}

/// The first bytes of a formatted message.
#[cfg(target_arch = "aarch64")]
struct Truncated {
    bytes: [u8; crate::supervision::PANIC_MESSAGE_MAX],
    len: usize,
}

#[cfg(target_arch = "aarch64")]
impl Write for Truncated {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = self.bytes.len() - self.len;
        let n = s.len().min(room);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}
