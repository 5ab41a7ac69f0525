//! Kernel initialisation, from the loader's hand-off to the root task's
//! first instruction (docs/design.md §3, docs/sel4-abi.md §8.5–8.9 and §10).

use crate::arch::{self, mmu, psci};
use crate::{config, irq, kprintln, rootserver, sched};
use cerne_abi::console::{BANNER_PREFIX, MEMORY_PREFIX};
use cerne_plat::memmap::Platform;
use cerne_plat::region::Region;

/// A kernel address nothing maps: the bottom of the kernel half, below the
/// physical window.
const BOOT_FAULT_TEST_ADDRESS: u64 = 0xFFFF_0000_0000_0000;

/// Recurses until the kernel stack runs out (boot-stack-overflow-test).
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let frame = core::hint::black_box([depth; 32]);
    if depth == u64::MAX {
        return frame[0];
    }
    recurse(depth + 1) + core::hint::black_box(frame[1])
}

/// The loader's hand-off (docs/sel4-abi.md §10.1).
#[derive(Clone, Copy, Debug)]
pub struct HandOff {
    /// Physical start of the root-task image.
    pub ui_p_start: u64,
    /// Physical end (exclusive) of the root-task image.
    pub ui_p_end: u64,
    /// Physical minus virtual address of the root task.
    pub pv_offset: u64,
    /// Root task entry point (virtual).
    pub v_entry: u64,
    /// DTB physical address.
    pub dtb_paddr: u64,
    /// DTB size in bytes.
    pub dtb_size: u64,
}

/// Called by `_start` on the kernel stack with the loader's registers.
#[unsafe(no_mangle)]
extern "C" fn kernel_init(x0: u64, x1: u64, x2: u64, x3: u64, x4: u64, x5: u64) -> ! {
    let hand_off = HandOff {
        ui_p_start: x0,
        ui_p_end: x1,
        pv_offset: x2,
        v_entry: x3,
        dtb_paddr: x4,
        dtb_size: x5,
    };
    arch::vectors::install();
    arch::configure_cpu(
        config::PMU_USER,
        arch::TimerExport {
            virtual_counter: config::EXPORT_VCNT_USER,
            physical_counter: config::EXPORT_PCNT_USER,
            physical_timer: config::EXPORT_PTMR_USER,
        },
    );

    let dtb_region = Region {
        base: hand_off.dtb_paddr,
        size: hand_off.dtb_size,
    };
    let dtb_vaddr = match mmu::init_kernel_space(dtb_region) {
        Ok(v) => v,
        Err(_) => arch::halt_cpu(),
    };
    // SAFETY: init_kernel_space mapped exactly these bytes read-only at
    // dtb_vaddr, and nothing writes them while the kernel runs.
    let dtb =
        unsafe { core::slice::from_raw_parts(dtb_vaddr as *const u8, hand_off.dtb_size as usize) };
    let platform = match Platform::from_dtb(dtb) {
        Ok(p) => p,
        Err(_) => arch::halt_cpu(),
    };
    psci::set_conduit(platform.psci);
    for ram in platform.ram.as_slice() {
        if mmu::map_window_ram(*ram).is_err() {
            arch::halt_cpu();
        }
    }
    let devices_ok = mmu::map_window_device(platform.uart).is_ok()
        && platform
            .gic
            .all_regions
            .as_slice()
            .iter()
            .all(|r| mmu::map_window_device(*r).is_ok());
    if !devices_ok {
        arch::halt_cpu();
    }
    // SAFETY: the UART's registers were just mapped as device memory in the
    // window, and the console is the only user of the UART in the kernel.
    unsafe { crate::console::init(mmu::phys_to_window(platform.uart.base), platform.uart_irq) };

    kprintln!();
    kprintln!(
        "{BANNER_PREFIX}{}: a seL4-ABI microkernel for AArch64, running at EL{}",
        env!("CARGO_PKG_VERSION"),
        arch::current_el()
    );
    print_memory_map(&platform, &hand_off);
    if config::BOOT_PANIC_TEST {
        panic!("boot-panic-test: deliberate panic after the memory map");
    }
    if config::BOOT_STACK_OVERFLOW_TEST {
        kprintln!("[cerne] boot-stack-overflow-test: recursing without end");
        let depth = recurse(0);
        kprintln!("[cerne] boot-stack-overflow-test: returned from depth {depth}");
    }
    if config::BOOT_FAULT_TEST {
        kprintln!("[cerne] boot-fault-test: reading an unmapped kernel address");
        // SAFETY: deliberately unsound: the read must take a translation
        // fault at EL1, which is what this test build checks is reported.
        let value = unsafe { core::ptr::read_volatile(BOOT_FAULT_TEST_ADDRESS as *const u64) };
        kprintln!("[cerne] boot-fault-test: the read returned {value:#x}");
    }

    sched::set_object_memory(platform.ram_base(), platform.ram_end());
    if let Err(e) = irq::init(&platform, mmu::WINDOW_BASE) {
        panic!("interrupt controller: {e}");
    }
    kprintln!(
        "[cerne] timer: {} Hz counter, {} us tick, interrupt {}",
        arch::timer::frequency(),
        config::TIMER_TICK_US,
        platform.virtual_timer_irq
    );

    let image = mmu::KernelImage::get();
    rootserver::create(&platform, &hand_off, image.phys_region(), dtb_region)
}

fn print_memory_map(platform: &Platform, hand_off: &HandOff) {
    for ram in platform.ram.as_slice() {
        kprintln!(
            "{MEMORY_PREFIX} RAM {:#x}..{:#x} ({} MiB)",
            ram.base,
            ram.end(),
            ram.size >> 20
        );
    }
    let image = mmu::KernelImage::get();
    let k = image.phys_region();
    kprintln!(
        "{MEMORY_PREFIX} kernel {:#x}..{:#x} ({} KiB)",
        k.base,
        k.end(),
        k.size >> 10
    );
    kprintln!(
        "{MEMORY_PREFIX} dtb {:#x}..{:#x} ({} bytes)",
        hand_off.dtb_paddr,
        hand_off.dtb_paddr + hand_off.dtb_size,
        hand_off.dtb_size
    );
    kprintln!(
        "{MEMORY_PREFIX} root task {:#x}..{:#x} (entry {:#x})",
        hand_off.ui_p_start,
        hand_off.ui_p_end,
        hand_off.v_entry
    );
    kprintln!(
        "[cerne] devices: uart {:#x} (irq {}), gic {:?} dist {:#x} cpu {:#x}, psci {:?}",
        platform.uart.base,
        platform.uart_irq,
        platform.gic.version,
        platform.gic.distributor.base,
        platform.gic.cpu_interface.base,
        platform.psci
    );
}
