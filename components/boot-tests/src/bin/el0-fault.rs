//! A root task that makes a deliberate EL0 data abort. It has no fault
//! handler, so the kernel must print the decoded report, suspend it, and
//! keep running (the `idle-halt` kernel then powers off cleanly after a few
//! idle ticks, which shows the timer still works).
#![no_std]
#![no_main]

use libcerne::println;

/// An address no root task has mapped: the top of the user address space.
const UNMAPPED: usize = 0x0000_7fff_ffff_f000;

fn main(_bootinfo: usize, _cycles: u64) -> ! {
    println!("[el0-fault] writing to unmapped address {UNMAPPED:#x}");
    // SAFETY: deliberately unsound: the write must fault, which is the test.
    unsafe { core::ptr::write_volatile(UNMAPPED as *mut u64, 0xdead_beef) };
    println!("[el0-fault] ERROR: the write did not fault");
    libcerne::syscalls::debug_halt()
}

libcerne::entry!(main);
