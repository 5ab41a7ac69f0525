//! The root task: the first user program. It reads the BootInfo the kernel
//! built and prints what it was handed; issue 5 turns it into the capDL
//! initializer.
#![no_std]
#![no_main]

use libcerne::{bootinfo, println};

fn main(bootinfo_addr: usize, cycles_at_entry: u64) -> ! {
    println!("[rootserver] hello from EL0");
    if cfg!(feature = "boot-bench") {
        println!("[rootserver] boot: PMCCNTR at first instruction = {cycles_at_entry}");
    }
    // SAFETY: this is the address the kernel passed in x0 at entry.
    let bi = unsafe { bootinfo::from_entry_arg(bootinfo_addr) };
    let s = bootinfo::summarise(bi);
    println!(
        "[rootserver] untyped: {} caps, {} bytes total",
        s.all.caps, s.all.bytes
    );
    println!(
        "[rootserver] untyped: device {} caps, {} bytes",
        s.device.caps, s.device.bytes
    );
    println!(
        "[rootserver] untyped: RAM {} caps, {} bytes",
        s.ram.caps, s.ram.bytes
    );
    println!(
        "[rootserver] cnode: 2^{} slots, empty {}..{}; image frames {}..{}; paging {}..{}; extra bootinfo {} bytes",
        bi.init_thread_cnode_size_bits,
        bi.empty.start,
        bi.empty.end,
        bi.user_image_frames.start,
        bi.user_image_frames.end,
        bi.user_image_paging.start,
        bi.user_image_paging.end,
        bi.extra_len
    );
    libcerne::syscalls::debug_halt()
}

libcerne::entry!(main);
