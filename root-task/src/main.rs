//! The root task: the first user program. With a system bundle embedded
//! (`CERNE_SYSTEM_BUNDLE` at build time, packed by `cargo xtask system`) it is
//! the capDL initializer ([`initializer`]): it builds the whole system the
//! bundle's spec describes, starts it, and suspends itself. Without one it
//! reports what the kernel handed over (the BootInfo checks of the boot
//! tests) and halts.
#![no_std]
#![no_main]

use cerne_abi::bootinfo::{BootInfo, SlotRegion};
use cerne_abi::console::CAPDL_ERROR_PREFIX;
use cerne_abi::object::CapTag;
use cerne_abi::slots::*;
use libcerne::syscalls::debug_cap_identify;
use libcerne::{bootinfo, println};

mod initializer;

/// The system bundle, empty when none was embedded.
static BUNDLE: &[u8] = include_bytes!(env!("CERNE_SYSTEM_BUNDLE_PATH"));

/// Asks the kernel for the type of every cap BootInfo describes and counts
/// the slots holding what they should. Returns (matching, checked).
fn check_caps(bi: &BootInfo) -> (u64, u64) {
    let mut ok = 0;
    let mut checked = 0;
    let mut expect = |slot: u64, tag: CapTag| {
        checked += 1;
        let found = debug_cap_identify(slot);
        if found == tag as u64 {
            ok += 1;
        } else {
            println!(
                "[rootserver] slot {slot}: expected {tag:?} ({}), found tag {found}",
                tag as u64
            );
        }
    };
    for (slot, tag) in INITIAL_CAP_TAGS {
        expect(slot as u64, tag);
    }
    let regions: [(SlotRegion, CapTag); 4] = [
        (bi.user_image_paging, CapTag::PageTable),
        (bi.extra_bi_pages, CapTag::Frame),
        (bi.user_image_frames, CapTag::Frame),
        (bi.untyped, CapTag::Untyped),
    ];
    for (region, tag) in regions {
        for slot in region.start..region.end {
            expect(slot, tag);
        }
    }
    // The first and last empty slots really are empty.
    if !bi.empty.is_empty() {
        expect(bi.empty.start, CapTag::Null);
        expect(bi.empty.end - 1, CapTag::Null);
    }
    (ok, checked)
}

fn main(bootinfo_addr: usize, cycles_at_entry: u64) -> ! {
    println!("[rootserver] hello from EL0");
    if cfg!(feature = "boot-bench") {
        println!("[rootserver] boot: PMCCNTR at first instruction = {cycles_at_entry}");
    }
    // SAFETY: this is the address the kernel passed in x0 at entry.
    let bi = unsafe { bootinfo::from_entry_arg(bootinfo_addr) };
    if !BUNDLE.is_empty() {
        build_system(bi)
    }
    report_boot(bi)
}

/// Builds the embedded system, then suspends this thread for good.
fn build_system(bi: &BootInfo) -> ! {
    // SAFETY: BootInfo's ipc_buffer is this thread's IPC buffer, mapped by
    // the kernel for the root task's whole life.
    unsafe { libcerne::sel4::ipc_buffer::set_ipc_buffer(bi.ipc_buffer as *mut _) };
    match initializer::build(bi, BUNDLE) {
        Ok(_) => {
            let me: libcerne::sel4::Cap<libcerne::sel4::Tcb> =
                libcerne::sel4::Cap::from_cptr(CAP_INIT_THREAD_TCB as u64);
            let _ = me.suspend();
            println!("{CAPDL_ERROR_PREFIX} the initializer could not suspend itself");
            libcerne::syscalls::debug_halt()
        }
        Err((error, spec)) => {
            println!("{CAPDL_ERROR_PREFIX} {}", initializer::Report(&error, spec));
            libcerne::syscalls::debug_halt()
        }
    }
}

/// Prints the untyped summary and checks every boot cap, then halts.
fn report_boot(bi: &BootInfo) -> ! {
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
    let (ok, checked) = check_caps(bi);
    println!("[rootserver] caps: {ok} of {checked} slots hold the cap BootInfo names");
    libcerne::syscalls::debug_halt()
}

libcerne::entry!(main);
