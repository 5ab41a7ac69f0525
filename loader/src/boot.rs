//! The loader's sequence, from a running CPU at EL1 with the MMU off to the
//! jump into the kernel: find the DTB and the console, plan the layout,
//! move the DTB, load the kernel and the root task, build the boot
//! translation tables, turn the MMU on, and hand over (docs/sel4-abi.md §10).

use cerne_loader::dtb;
use cerne_loader::elf::Image;
use cerne_loader::error::Error;
use cerne_loader::layout::{self, Layout};
use cerne_plat::memmap::Platform;
use cerne_plat::memmap::PsciConduit;
use cerne_plat::pagetable::{self, Attributes, TableMemory as _, PAGE_SIZE};
use cerne_plat::region::Region;

use crate::arch::memory::{loader_image, loader_writable, PhysicalMemory, TablePool};
use crate::arch::{self, cpu, pl011};
use crate::{console, images, println};

/// Where QEMU's virt board leaves the DTB for an ELF image: the start of
/// RAM. QEMU passes no pointer (x0 = 0), so this one address cannot come
/// from the DTB itself; a non-zero x0 from another boot stage wins.
const QEMU_VIRT_DTB: u64 = 0x4000_0000;

/// Largest block the identity map of RAM may use (1 GiB).
const IDENTITY_LARGEST_LEVEL: usize = 1;
/// Largest block the kernel's slot is mapped with (2 MiB, as seL4's
/// elfloader does).
const KERNEL_LARGEST_LEVEL: usize = 2;

/// Runs the loader; never returns (the kernel is entered, or the machine
/// powers off with an error).
pub fn main(boot_x0: u64) -> ! {
    match run(boot_x0) {
        Ok(never) => match never {},
        Err(error) => console::fail(error),
    }
}

fn run(boot_x0: u64) -> Result<core::convert::Infallible, Error> {
    let dtb_from = if boot_x0 != 0 { boot_x0 } else { QEMU_VIRT_DTB };
    let loader = loader_image();

    // Until the DTB names RAM, the window is [DTB, loader).
    let mut memory = PhysicalMemory::take(Region::from_bounds(dtb_from, loader.base))
        .ok_or(Error::Internal("physical memory taken twice"))?;
    let header = memory.bytes(dtb_from, 8)?;
    let Some(dtb_size) = cerne_plat::memmap::dtb_total_size(header) else {
        // No DTB, so no console to say so: halt (the harness times out).
        cpu::halt();
    };
    let blob = memory.bytes(dtb_from, dtb_size as u64)?;
    let board = Platform::from_dtb(blob).map_err(Error::Platform)?;
    let dtb_packed = dtb::packed_size(blob).ok_or(Error::DeviceTree("blocks overrun totalsize"))?;

    let console_ok = pl011::install(board.uart.base, board.ram.as_slice());
    if !console_ok {
        cpu::halt();
    }
    console::set_psci(board.psci);

    let entry_el = arch::entry_exception_level();
    println!(
        "Cerne loader: entered at EL{entry_el}{}",
        if entry_el == 2 {
            ", dropped to EL1"
        } else {
            ""
        }
    );
    if entry_el != 1 && entry_el != 2 {
        return Err(Error::UnsupportedExceptionLevel(entry_el));
    }
    for bank in board.ram.as_slice() {
        println!(
            "RAM {:#x}..{:#x} ({} MiB)",
            bank.base,
            bank.end(),
            bank.size >> 20
        );
    }
    println!(
        "DTB at {dtb_from:#x}, {dtb_size} bytes ({dtb_packed} used); console PL011 at {:#x}; PSCI {}",
        pl011::base().unwrap_or(0),
        match board.psci {
            Some(PsciConduit::Hvc) => "via hvc",
            Some(PsciConduit::Smc) => "via smc",
            None => "absent",
        }
    );
    println!("loader {:#x}..{:#x}", loader.base, loader.end());

    let bank = board
        .bank_holding(dtb_from, dtb_size as u64)
        .ok_or(Error::DtbOutsideRam(dtb_from))?;
    memory.retarget(bank);

    let kernel = Image::parse("kernel", images::kernel())?;
    let root_task = Image::parse("root task", images::root_task())?;
    let layout = layout::plan(memory.window(), dtb_from, dtb_packed, &kernel, &root_task)?;
    print_layout(&layout, &root_task);

    load(&mut memory, &layout, &kernel, &root_task)?;
    let (ttbr0, ttbr1, tables) = build_tables(&layout, &board)?;
    println!(
        "page tables: TTBR1 {ttbr1:#x} (kernel slot), TTBR0 {ttbr0:#x} (identity: RAM, UART), {} tables at {:#x}..{:#x}",
        tables.size / PAGE_SIZE,
        tables.base,
        tables.end()
    );

    // Everything handed to the kernel, from its image to the program-header
    // page, is one range.
    let placed = Region::from_bounds(layout.kernel.base, layout.program_headers.end());
    cpu::enable_mmu(ttbr0, ttbr1, &[placed, loader_writable()]);
    let args = [
        layout.root_task.base,
        layout.root_task.end(),
        layout.pv_offset,
        layout.root_task_entry,
        layout.dtb.base,
        layout.dtb.size,
    ];
    println!(
        "MMU on; entering the kernel at {:#x} (x0 {:#x} x1 {:#x} x2 {:#x} x3 {:#x} x4 {:#x} x5 {:#x}); PMCCNTR_EL0 {} (instructions since reset under -icount shift=0)",
        layout.kernel_entry,
        args[0],
        args[1],
        args[2],
        args[3],
        args[4],
        args[5],
        cpu::cycle_counter()
    );
    cpu::enter_kernel(layout.kernel_entry, args, &[placed, tables])
}

fn print_layout(layout: &Layout, root_task: &Image<'_>) {
    println!(
        "kernel    paddr {:#x}..{:#x} vaddr {:#x}..{:#x} entry {:#x}",
        layout.kernel.base,
        layout.kernel.end(),
        layout.kernel_virtual.base,
        layout.kernel_virtual.end(),
        layout.kernel_entry
    );
    println!(
        "dtb       paddr {:#x}..{:#x} (moved from {:#x})",
        layout.dtb.base,
        layout.dtb.end(),
        layout.dtb_from
    );
    println!(
        "root task paddr {:#x}..{:#x} vaddr {:#x}..{:#x} entry {:#x} pv_offset {:#x}",
        layout.root_task.base,
        layout.root_task.end(),
        layout.root_task_virtual,
        layout.root_task_virtual + layout.root_task.size,
        layout.root_task_entry,
        layout.pv_offset
    );
    if let Ok((count, size, _)) = root_task.program_headers() {
        println!(
            "root task program headers paddr {:#x}..{:#x} ({count} x {size} bytes)",
            layout.program_headers.base,
            layout.program_headers.end()
        );
    }
}

/// Moves the DTB (packed: without QEMU's trailing free space), then places the kernel, the root task and its program
/// headers (the DTB first: QEMU's copy overlaps where the kernel goes).
fn load(
    memory: &mut PhysicalMemory,
    layout: &Layout,
    kernel: &Image<'_>,
    root_task: &Image<'_>,
) -> Result<(), Error> {
    memory.move_within(layout.dtb.base, layout.dtb_from, layout.dtb.size)?;
    // The copy is packed: its header's totalsize becomes what it uses.
    let packed = u32::try_from(layout.dtb.size).map_err(|_| Error::DeviceTree("DTB too large"))?;
    memory.write(
        layout.dtb.base + dtb::TOTALSIZE_OFFSET,
        &packed.to_be_bytes(),
    )?;

    for segment in kernel.segments() {
        let file = segment.file.len() as u64;
        memory.write(segment.paddr, segment.file)?;
        memory.zero(segment.paddr + file, segment.mem_size - file)?;
    }

    memory.zero(layout.root_task.base, layout.root_task.size)?;
    for segment in root_task.segments() {
        let at = layout.root_task.base + (segment.vaddr - layout.root_task_virtual);
        memory.write(at, segment.file)?;
    }

    let (count, entry_size, headers) = root_task.program_headers()?;
    let page = layout.program_headers.base;
    memory.zero(page, PAGE_SIZE)?;
    memory.write(page, &count.to_le_bytes())?;
    memory.write(page + 4, &entry_size.to_le_bytes())?;
    memory.write(page + 8, headers)?;
    Ok(())
}

/// TTBR1: the kernel's 1 GiB slot from its first 2 MiB block to the end of
/// the slot, with 2 MiB Normal blocks. TTBR0: identity map of every RAM
/// bank (Normal) and of the UART (Device), so the loader keeps running and
/// printing after the MMU is on. Returns (TTBR0, TTBR1, the tables used).
fn build_tables(layout: &Layout, board: &Platform) -> Result<(u64, u64, Region), Error> {
    let mut pool = TablePool::take().ok_or(Error::Internal("table pool taken twice"))?;
    let no_table = |what| Error::PageTables(what, pagetable::MapError::OutOfTables);
    let ttbr1 = pool.allocate_table().ok_or(no_table("the kernel"))?;
    let ttbr0 = pool.allocate_table().ok_or(no_table("the identity map"))?;

    pagetable::map_range(
        &mut pool,
        ttbr1,
        layout.kernel_map_virtual,
        layout.kernel_map_physical,
        layout.kernel_map_size,
        &Attributes::KERNEL_IMAGE,
        KERNEL_LARGEST_LEVEL,
    )
    .map_err(|e| Error::PageTables("the kernel", e))?;

    for bank in board.ram.as_slice() {
        let bank = bank.aligned_out(PAGE_SIZE);
        pagetable::map_range(
            &mut pool,
            ttbr0,
            bank.base,
            bank.base,
            bank.size,
            &Attributes::KERNEL_IMAGE,
            IDENTITY_LARGEST_LEVEL,
        )
        .map_err(|e| Error::PageTables("RAM", e))?;
    }
    if let Some(uart) = Some(board.uart) {
        let registers = uart.aligned_out(PAGE_SIZE);
        pagetable::map_range(
            &mut pool,
            ttbr0,
            registers.base,
            registers.base,
            registers.size.max(PAGE_SIZE),
            &Attributes::KERNEL_DEVICE,
            pagetable::LAST_LEVEL,
        )
        .map_err(|e| Error::PageTables("the UART", e))?;
    }
    Ok((ttbr0, ttbr1, pool.used_region()))
}
