//! Transmit-only PL011 UART driver for the loader's console.

use core::sync::atomic::{AtomicU64, Ordering};

use cerne_plat::region::Region;

/// Data register.
const UARTDR: u64 = 0x00;
/// Flag register.
const UARTFR: u64 = 0x18;
/// UARTFR: transmit FIFO full.
const FR_TXFF: u32 = 1 << 5;
/// Size of the PL011's register block.
const REGISTER_BLOCK: u64 = 0x1000;

/// Base of the installed UART's registers, 0 while there is none.
static BASE: AtomicU64 = AtomicU64::new(0);

/// Installs the PL011 at `base` as the console. Refused (false) if its
/// registers would overlap `ram` or the loader's own image, so console
/// writes can never touch memory the loader uses.
pub fn install(base: u64, ram: &[Region]) -> bool {
    let registers = Region {
        base,
        size: REGISTER_BLOCK,
    };
    let loader = super::memory::loader_image();
    if base == 0
        || !base.is_multiple_of(4)
        || base.checked_add(REGISTER_BLOCK).is_none()
        || registers.overlaps(&loader)
        || ram.iter().any(|r| r.overlaps(&registers))
    {
        return false;
    }
    BASE.store(base, Ordering::Relaxed);
    true
}

/// Physical base of the installed UART, if any.
pub fn base() -> Option<u64> {
    match BASE.load(Ordering::Relaxed) {
        0 => None,
        base => Some(base),
    }
}

/// Writes `bytes`, turning `\n` into `\r\n`; does nothing before
/// [`install`].
pub fn write_bytes(bytes: &[u8]) {
    let Some(base) = base() else { return };
    for &byte in bytes {
        if byte == b'\n' {
            put(base, b'\r');
        }
        put(base, byte);
    }
}

fn put(base: u64, byte: u8) {
    let flags = (base + UARTFR) as *const u32;
    let data = (base + UARTDR) as *mut u32;
    // SAFETY: `base` passed `install`'s checks: it is the DTB's PL011,
    // outside RAM and the loader, and is identity-mapped as Device memory
    // (or the MMU is off), so these are plain MMIO accesses.
    unsafe {
        while flags.read_volatile() & FR_TXFF != 0 {}
        data.write_volatile(u32::from(byte));
    }
}
