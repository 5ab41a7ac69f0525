//! A root task that makes a deliberate EL0 data abort. It has no fault
//! handler, so the kernel must print the decoded report, suspend it, and
//! keep running (the `idle-halt` kernel then powers off cleanly after a few
//! idle ticks, which shows the timer still works). The write is two calls
//! deep (`main` -> `outer` -> `inner`), so that the report's frame records
//! name both callers (docs/debugging.md).
#![no_std]
#![no_main]

use libcerne::println;

/// An address no root task has mapped: the top of the user address space.
const UNMAPPED: usize = 0x0000_7fff_ffff_f000;

fn main(_bootinfo: usize, _cycles: u64) -> ! {
    println!("[el0-fault] writing to unmapped address {UNMAPPED:#x}");
    outer(0xdead_beef);
    println!("[el0-fault] ERROR: the write did not fault");
    libcerne::syscalls::debug_halt()
}

/// The middle frame.
#[inline(never)]
fn outer(value: u64) {
    inner(core::hint::black_box(value));
    // Work after the call, so that it is not a tail call (which would
    // leave no frame of `outer` on the stack).
    core::hint::black_box(value);
}

/// The faulting frame.
#[inline(never)]
fn inner(value: u64) {
    // SAFETY: deliberately unsound: the write must fault, which is the test.
    unsafe { core::ptr::write_volatile(UNMAPPED as *mut u64, value) };
}

libcerne::entry!(main);
