//! ktest: Cerne's in-guest test suite, in the style of sel4test. The root
//! task is the supervisor ([`runner`]); each test ([`tests`]) runs in a
//! driver thread on fresh objects from untyped memory that are reclaimed
//! afterwards ([`framework`]), with helper threads as it needs
//! ([`threads`]). The last line is `N passed, M failed`, then DebugHalt.
#![no_std]
#![no_main]

mod framework;
mod runner;
mod tests;
mod threads;

use cerne_abi::ipc_buffer::IpcBuffer;

fn main(bootinfo: usize, _cycles: u64) -> ! {
    // SAFETY: this is the BootInfo address the kernel passed in x0.
    let bi = unsafe { libcerne::bootinfo::from_entry_arg(bootinfo) };
    // SAFETY: BootInfo names the root thread's IPC buffer, which the kernel
    // mapped read-write for it alone.
    unsafe { libcerne::sel4::ipc_buffer::set_ipc_buffer(bi.ipc_buffer as *mut IpcBuffer) };
    libcerne::println!("[ktest] Cerne in-guest test suite");
    runner::run(bootinfo)
}

libcerne::entry!(main);
