//! The loader's console (`[loader] `-prefixed lines on the device tree's
//! PL011) and the two ways the loader stops on failure: an error message
//! plus the kernel's failure marker, then PSCI SYSTEM_OFF.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use cerne_abi::console::HALT_FAILURE;
use cerne_plat::memmap::PsciConduit;

use crate::arch::{self, cpu, pl011, psci};

/// Prints one `[loader] `-prefixed line.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {
        $crate::console::print_line(format_args!($($arg)*))
    };
}

/// Writes to the PL011 (a no-op until it is installed).
struct Uart;

impl Write for Uart {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        pl011::write_bytes(s.as_bytes());
        Ok(())
    }
}

/// Prints `[loader] <args>` and a newline.
pub fn print_line(args: fmt::Arguments<'_>) {
    // Writing to the UART cannot fail.
    let _ = writeln!(Uart, "[loader] {args}");
}

/// PSCI conduit from the DTB: 0 unknown, 1 HVC, 2 SMC.
static CONDUIT: AtomicU8 = AtomicU8::new(0);
/// Set once a failure is being reported, so a fault while reporting halts.
static FAILING: AtomicBool = AtomicBool::new(false);

/// Records the PSCI conduit the device tree names.
pub fn set_psci(conduit: Option<PsciConduit>) {
    let value = match conduit {
        None => 0,
        Some(PsciConduit::Hvc) => 1,
        Some(PsciConduit::Smc) => 2,
    };
    CONDUIT.store(value, Ordering::Relaxed);
}

/// The conduit to power off through: the DTB's, or else what QEMU's virt
/// board uses for the level the loader was entered at (EL2 entry means
/// `virtualization=on`, where PSCI is SMC; EL1 entry means HVC).
fn conduit() -> Option<PsciConduit> {
    match CONDUIT.load(Ordering::Relaxed) {
        1 => Some(PsciConduit::Hvc),
        2 => Some(PsciConduit::Smc),
        _ => match arch::entry_exception_level() {
            1 => Some(PsciConduit::Hvc),
            2 => Some(PsciConduit::Smc),
            _ => None,
        },
    }
}

/// Reports `what` as `[loader] error: <what>`, prints the kernel's failure
/// marker so the harness sees a failed run, and powers off. Without a
/// console nothing can be reported, so the CPU halts instead of powering
/// off (a silent power-off would look like success); the harness's timeout
/// catches that.
pub fn fail(what: impl fmt::Display) -> ! {
    if FAILING.load(Ordering::Relaxed) {
        cpu::halt();
    }
    FAILING.store(true, Ordering::Relaxed);
    if pl011::base().is_none() {
        cpu::halt();
    }
    print_line(format_args!("error: {what}"));
    let _ = writeln!(Uart, "{HALT_FAILURE}");
    match conduit() {
        Some(conduit) => psci::system_off(conduit),
        None => cpu::halt(),
    }
}

/// Reports an exception taken through the loader's vectors and fails.
pub fn exception(kind: u64, esr: u64, elr: u64, far: u64, spsr: u64) -> ! {
    const FROM: [&str; 4] = [
        "current EL with SP_EL0",
        "current EL with SP_ELx",
        "lower EL (AArch64)",
        "lower EL (AArch32)",
    ];
    const KIND: [&str; 4] = ["synchronous", "IRQ", "FIQ", "SError"];
    let class = (esr >> 26) & 0x3F;
    fail(format_args!(
        "unexpected {} exception from {}: {} (ESR {esr:#x}), ELR {elr:#x}, FAR {far:#x}, SPSR {spsr:#x}",
        KIND[(kind & 3) as usize],
        FROM[((kind >> 2) & 3) as usize],
        exception_class(class),
    ))
}

/// The ESR exception class in words.
fn exception_class(class: u64) -> &'static str {
    match class {
        0x00 => "unknown reason",
        0x01 => "trapped WFI/WFE",
        0x07 => "trapped FP/SIMD access",
        0x0E => "illegal execution state",
        0x15 => "SVC",
        0x16 => "HVC",
        0x17 => "SMC",
        0x18 => "trapped system register access",
        0x20 => "instruction abort from a lower EL",
        0x21 => "instruction abort",
        0x22 => "PC alignment fault",
        0x24 => "data abort from a lower EL",
        0x25 => "data abort",
        0x26 => "SP alignment fault",
        0x2F => "SError",
        0x3C => "BRK",
        _ => "other exception class",
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    fail(format_args!("panic: {info}"))
}
