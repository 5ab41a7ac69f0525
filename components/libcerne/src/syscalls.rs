//! seL4 system calls on the `svc #0` register convention (docs/sel4-abi.md §2.2).

#[cfg(target_arch = "aarch64")]
use cerne_abi::syscall::Syscall;

/// DebugPutChar: the kernel writes one byte to its console.
pub fn debug_put_char(c: u8) {
    #[cfg(target_arch = "aarch64")]
    // SAFETY: DebugPutChar reads x0 and x7 and writes no register or memory.
    unsafe {
        core::arch::asm!("svc #0", in("x0") u64::from(c), in("x7") Syscall::DebugPutChar.word(), options(nostack));
    }
    #[cfg(not(target_arch = "aarch64"))]
    let _ = c;
}

/// DebugHalt: the kernel stops the machine (a clean power-off on Cerne).
pub fn debug_halt() -> ! {
    #[cfg(target_arch = "aarch64")]
    // SAFETY: DebugHalt does not return; no state of this program matters.
    unsafe {
        core::arch::asm!("svc #0", in("x7") Syscall::DebugHalt.word(), options(noreturn, nostack));
    }
    #[cfg(not(target_arch = "aarch64"))]
    loop {
        core::hint::spin_loop();
    }
}

/// DebugCapIdentify: the type tag of the cap at `cptr` in the caller's
/// CSpace (resolved at depth 64), 0 if the lookup fails or the slot is empty.
pub fn debug_cap_identify(cptr: u64) -> u64 {
    #[cfg(target_arch = "aarch64")]
    {
        let tag: u64;
        // SAFETY: DebugCapIdentify reads x0 and x7 and writes only x0.
        unsafe {
            core::arch::asm!("svc #0", inout("x0") cptr => tag, in("x7") Syscall::DebugCapIdentify.word(), options(nostack));
        }
        tag
    }
    #[cfg(not(target_arch = "aarch64"))]
    {
        let _ = cptr;
        0
    }
}
