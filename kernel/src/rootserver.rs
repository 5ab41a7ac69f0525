//! Building the root task from the boot image (docs/sel4-abi.md §8.5–8.9): its
//! VSpace with the image, IPC buffer, BootInfo and extra-bootinfo frames,
//! its CNode and TCB, and the untyped capabilities for everything left.

use crate::arch::mmu;
use crate::boot::HandOff;
use crate::{config, kprintln, sched};
use cerne_abi::bootinfo::{
    BootInfo, BootInfoHeader, BootInfoHeaderId, SlotRegion, UntypedDesc, MAX_BOOTINFO_UNTYPED_CAPS,
};
use cerne_abi::slots::NUM_INITIAL_CAPS;
use cerne_plat::memmap::Platform;
use cerne_plat::pagetable::{self, Descriptor, LAST_LEVEL};
use cerne_plat::region::{Region, RegionSet};
use cerne_plat::untyped;

const PAGE: u64 = 4096;
/// The root task's ASID (pool 0, index 1).
const ROOT_ASID: u16 = 1;
/// Priority and MCP of the root task (seL4_MaxPrio).
const ROOT_PRIORITY: u8 = 255;
/// Initial SPSR of every thread: EL0t, AArch64, FIQ masked.
const INITIAL_SPSR: u64 = 0x40;

/// Ranges of free memory tracked while carving out the root task.
type FreeSet = RegionSet<64>;

/// Takes naturally aligned RAM for an object. Frames and page tables are
/// zeroed here; objects the object model creates (CNode, TCB, ASID pool,
/// IRQ node) are zeroed by it.
fn allocate(free: &mut FreeSet, size_bits: u32, what: &str, zero: bool) -> u64 {
    match free.allocate_aligned(size_bits) {
        Some(paddr) => {
            if zero {
                mmu::zero_phys(paddr, 1 << size_bits);
            }
            paddr
        }
        None => panic!("not enough free RAM for the root task's {what} (2^{size_bits} bytes)"),
    }
}

/// One page table of the root task's VSpace, for userImagePaging.
#[derive(Clone, Copy, Default)]
struct PagingTable {
    paddr: u64,
    vaddr: u64,
}

/// Page tables the root task's VSpace uses (tiny images need 3; the bound
/// leaves room for large images and the extra-bootinfo range).
const MAX_PAGING_TABLES: usize = 32;

fn collect_tables(root: u64, out: &mut [PagingTable; MAX_PAGING_TABLES]) -> usize {
    let mut n = 0;
    // Breadth-first by level: all level-1 tables, then level 2, then 3.
    for want in 1..=LAST_LEVEL {
        let mut stack = [(root, 0usize, 0u64); 8];
        let mut depth = 1;
        while depth > 0 {
            depth -= 1;
            let (table, level, base) = stack[depth];
            let entries = mmu::read_table(table);
            for (i, e) in entries.iter().enumerate() {
                let d = Descriptor(*e);
                if !d.is_table(level) {
                    continue;
                }
                let vaddr = base | ((i as u64) << pagetable::coverage_bits(level));
                if level + 1 == want {
                    if n < MAX_PAGING_TABLES {
                        out[n] = PagingTable {
                            paddr: d.output_address(),
                            vaddr,
                        };
                        n += 1;
                    }
                } else if depth < stack.len() {
                    stack[depth] = (d.output_address(), level + 1, vaddr);
                    depth += 1;
                }
            }
        }
    }
    n
}

/// Creates the root task and starts it. Never returns.
pub fn create(platform: &Platform, hand_off: &HandOff, kernel: Region, dtb: Region) -> ! {
    let ui = Region::from_bounds(hand_off.ui_p_start, hand_off.ui_p_end);
    let mut free = FreeSet::new();
    for r in platform.ram.as_slice() {
        free.insert(*r).expect("few RAM banks");
    }
    for reserved in [kernel, dtb.aligned_out(PAGE), ui] {
        free.remove(reserved).expect("few reserved ranges");
    }

    let ui_v_start = hand_off.ui_p_start.wrapping_sub(hand_off.pv_offset);
    let ui_v_end = hand_off.ui_p_end.wrapping_sub(hand_off.pv_offset);
    let ipc_buffer_vaddr = ui_v_end;
    let bootinfo_vaddr = ipc_buffer_vaddr + PAGE;
    let extra_bi_vaddr = bootinfo_vaddr + PAGE;
    let extra_len = core::mem::size_of::<BootInfoHeader>() as u64 + dtb.size;
    let extra_pages = extra_len.div_ceil(PAGE);

    // Objects, largest first, as seL4 does.
    let radix = config::ROOT_CNODE_SIZE_BITS;
    let cnode = allocate(
        &mut free,
        radix + cerne_abi::object::SLOT_BITS,
        "CNode",
        false,
    );
    let vspace = allocate(&mut free, 12, "VSpace", true);
    let asid_pool = allocate(&mut free, 12, "ASID pool", false);
    let ipc_buffer = allocate(&mut free, 12, "IPC buffer", true);
    let bootinfo_frame = allocate(&mut free, 12, "BootInfo frame", true);
    let mut extra_frames = [0u64; 512];
    if extra_pages as usize > extra_frames.len() {
        panic!(
            "the DTB is too large for extra bootinfo ({} bytes)",
            dtb.size
        );
    }
    for f in extra_frames.iter_mut().take(extra_pages as usize) {
        *f = allocate(&mut free, 12, "extra bootinfo", true);
    }
    let tcb = allocate(&mut free, cerne_abi::object::TCB_BITS, "TCB", false);
    let irq_node = allocate(
        &mut free,
        cerne_objects::state::IRQ_NODE_BITS,
        "IRQ node",
        false,
    );

    // The VSpace: image pages RWX, IPC buffer and BootInfo RW + XN, extra
    // bootinfo RW + X (docs/sel4-abi.md §8.9).
    let mut tables = mmu::WindowTableMemory {
        allocate: || {
            free.allocate_aligned(12)
                .inspect(|p| mmu::zero_phys(*p, PAGE))
        },
    };
    let rwx = mmu::user_attributes(true, true, true);
    let rw = mmu::user_attributes(true, false, true);
    let map = |tables: &mut _, v, p, size, attrs: &_| {
        if let Err(e) = pagetable::map_range(tables, vspace, v, p, size, attrs, 3) {
            panic!("mapping the root task at {v:#x}: {e:?}");
        }
    };
    map(&mut tables, ui_v_start, ui.base, ui.size, &rwx);
    map(&mut tables, ipc_buffer_vaddr, ipc_buffer, PAGE, &rw);
    map(&mut tables, bootinfo_vaddr, bootinfo_frame, PAGE, &rw);
    for (i, f) in extra_frames.iter().take(extra_pages as usize).enumerate() {
        map(
            &mut tables,
            extra_bi_vaddr + i as u64 * PAGE,
            *f,
            PAGE,
            &rwx,
        );
    }
    let mut paging = [PagingTable::default(); MAX_PAGING_TABLES];
    let n_paging = collect_tables(vspace, &mut paging);

    // Extra bootinfo: one FDT chunk.
    let header = BootInfoHeader {
        id: BootInfoHeaderId::Fdt as u64,
        len: extra_len,
    };
    mmu::copy_to_phys_frames(
        &extra_frames[..extra_pages as usize],
        0,
        zerocopy::IntoBytes::as_bytes(&header),
    );
    mmu::copy_phys_to_phys_frames(
        &extra_frames[..extra_pages as usize],
        16,
        dtb.base,
        dtb.size,
    );

    // Slots (docs/sel4-abi.md §8.5): fixed caps, then paging, extra BI frames,
    // image frames, untypeds, and the empty rest.
    let mut slot = NUM_INITIAL_CAPS as u64;
    let user_image_paging = SlotRegion {
        start: slot,
        end: slot + n_paging as u64,
    };
    slot = user_image_paging.end;
    let extra_bi_pages = SlotRegion {
        start: slot,
        end: slot + extra_pages,
    };
    slot = extra_bi_pages.end;
    let user_image_frames = SlotRegion {
        start: slot,
        end: slot + ui.size / PAGE,
    };
    slot = user_image_frames.end;

    // Untypeds: device regions first, then free RAM.
    let device = untyped::device_regions(
        platform
            .ram
            .as_slice()
            .iter()
            .chain(platform.gic.all_regions.as_slice()),
        PAGE,
    )
    .expect("few device holes");
    let mut untyped_list = [UntypedDesc::default(); MAX_BOOTINFO_UNTYPED_CAPS];
    let mut n_untyped = 0usize;
    let mut dropped = 0usize;
    let slots_end = 1u64 << radix;
    for (set, is_device) in [(device.as_slice(), 1u8), (free.as_slice(), 0u8)] {
        for r in set {
            for b in untyped::blocks(*r) {
                if n_untyped < MAX_BOOTINFO_UNTYPED_CAPS && slot + (n_untyped as u64) < slots_end {
                    untyped_list[n_untyped] = UntypedDesc {
                        paddr: b.base,
                        size_bits: b.size_bits as u8,
                        is_device,
                        padding: [0; 6],
                    };
                    n_untyped += 1;
                } else {
                    dropped += 1;
                }
            }
        }
    }
    if dropped > 0 {
        kprintln!("[cerne] warning: {dropped} untyped blocks did not fit in BootInfo and are not handed out");
    }
    let untyped_region = SlotRegion {
        start: slot,
        end: slot + n_untyped as u64,
    };
    let empty = SlotRegion {
        start: untyped_region.end,
        end: slots_end,
    };

    let bi = mmu::phys_as_mut::<BootInfo>(bootinfo_frame);
    bi.extra_len = extra_len;
    bi.node_id = 0;
    bi.num_nodes = 1;
    bi.num_io_pt_levels = 0;
    bi.ipc_buffer = ipc_buffer_vaddr;
    bi.empty = empty;
    bi.shared_frames = SlotRegion::default();
    bi.user_image_frames = user_image_frames;
    bi.user_image_paging = user_image_paging;
    bi.io_space_caps = SlotRegion::default();
    bi.extra_bi_pages = extra_bi_pages;
    bi.init_thread_cnode_size_bits = u64::from(radix);
    bi.init_thread_domain = 0;
    bi.untyped = untyped_region;
    bi.untyped_list = untyped_list;

    kprintln!(
        "[cerne] root task: {} image pages, {} page tables, {} untypeds, slots {}..{} free",
        ui.size / PAGE,
        n_paging,
        n_untyped,
        empty.start,
        empty.end
    );
    install_caps(&RootObjects {
        cnode,
        radix,
        vspace,
        asid_pool,
        tcb,
        irq_node,
        ipc_buffer: (ipc_buffer, ipc_buffer_vaddr),
        bootinfo: (bootinfo_frame, bootinfo_vaddr),
        extra_frames: &extra_frames[..extra_pages as usize],
        extra_bi_vaddr,
        paging: &paging[..n_paging],
        image: ui,
        image_vaddr: ui_v_start,
        untypeds: &untyped_list[..n_untyped],
        untyped_slot: untyped_region.start,
        entry: hand_off.v_entry,
    });
    mmu::sync_caches_for_execution(mmu::phys_to_window(ui.base), ui.size);
    sched::start_accounting();
    sched::schedule_and_return()
}

/// Everything boot made for the root task, for [`install_caps`].
struct RootObjects<'a> {
    cnode: u64,
    radix: u32,
    vspace: u64,
    asid_pool: u64,
    tcb: u64,
    irq_node: u64,
    ipc_buffer: (u64, u64),
    bootinfo: (u64, u64),
    extra_frames: &'a [u64],
    extra_bi_vaddr: u64,
    paging: &'a [PagingTable],
    image: Region,
    image_vaddr: u64,
    untypeds: &'a [UntypedDesc],
    untyped_slot: u64,
    entry: u64,
}

/// Turns the root task's memory into objects of the object model, writes
/// their caps into the root CNode in seL4's slot order (docs/sel4-abi.md §8.5),
/// and makes the root thread current.
fn install_caps(o: &RootObjects<'_>) {
    use cerne_abi::slots::*;
    use cerne_abi::vm::VmRights;
    use cerne_objects::cap::FrameSize;
    use cerne_objects::{BootThreadConfig, Cap};

    sched::with_kernel(|k| {
        k.boot_init_irq_node(o.irq_node);
        let cnode_cap = k.boot_create_cnode(o.cnode, o.radix as u8);
        let slot = |k: &cerne_objects::Kernel<'_>, i: u64| k.cnode_slot(o.cnode, i);
        let put = |k: &mut cerne_objects::Kernel<'_>, i: usize, cap: Cap| {
            let s = slot(k, i as u64);
            k.write_root_cap(s, cap);
        };
        let frame = |paddr: u64, vaddr: u64| {
            Cap::frame(
                paddr,
                FrameSize::Small,
                VmRights::ReadWrite,
                false,
                Some((ROOT_ASID, vaddr)),
            )
        };

        let tcb_cap = k.boot_create_tcb(o.tcb);
        put(k, CAP_INIT_THREAD_TCB, tcb_cap);
        put(k, CAP_INIT_THREAD_CNODE, cnode_cap);
        // The VSpace's tables were written by boot already; the object model
        // only records the object and its ASID.
        put(
            k,
            CAP_INIT_THREAD_VSPACE,
            Cap::vspace(o.vspace, Some(ROOT_ASID)),
        );
        put(k, CAP_IRQ_CONTROL, Cap::IrqControl);
        put(k, CAP_ASID_CONTROL, Cap::AsidControl);
        let pool_cap = k.boot_create_asid_pool(o.asid_pool, 0);
        put(k, CAP_INIT_THREAD_ASID_POOL, pool_cap);
        if !k.boot_assign_asid(ROOT_ASID, o.vspace) {
            panic!("could not assign ASID {ROOT_ASID} to the root VSpace");
        }
        put(k, CAP_BOOT_INFO_FRAME, frame(o.bootinfo.0, o.bootinfo.1));
        put(
            k,
            CAP_INIT_THREAD_IPC_BUFFER,
            frame(o.ipc_buffer.0, o.ipc_buffer.1),
        );
        put(k, CAP_DOMAIN, Cap::Domain);

        let mut next = NUM_INITIAL_CAPS;
        for t in o.paging {
            put(
                k,
                next,
                Cap::page_table(t.paddr, Some((ROOT_ASID, t.vaddr))),
            );
            next += 1;
        }
        for (i, f) in o.extra_frames.iter().enumerate() {
            put(k, next, frame(*f, o.extra_bi_vaddr + i as u64 * PAGE));
            next += 1;
        }
        for page in 0..o.image.size / PAGE {
            put(
                k,
                next,
                frame(o.image.base + page * PAGE, o.image_vaddr + page * PAGE),
            );
            next += 1;
        }
        debug_assert_eq!(next as u64, o.untyped_slot);
        for u in o.untypeds {
            put(
                k,
                next,
                Cap::boot_untyped(u.paddr, u.size_bits, u.is_device != 0),
            );
            next += 1;
        }

        let config = BootThreadConfig {
            cspace_slot: slot(k, CAP_INIT_THREAD_CNODE as u64),
            vspace_slot: slot(k, CAP_INIT_THREAD_VSPACE as u64),
            ipc_buffer_vaddr: o.ipc_buffer.1,
            buffer_frame_slot: slot(k, CAP_INIT_THREAD_IPC_BUFFER as u64),
            priority: ROOT_PRIORITY,
            mcp: ROOT_PRIORITY,
        };
        k.boot_configure_tcb(o.tcb, &config);
        k.set_thread_name(o.tcb, b"rootserver");
        let context = k.user_context_mut(o.tcb);
        context.elr_el1 = o.entry;
        context.spsr_el1 = INITIAL_SPSR;
        context.x[0] = o.bootinfo.1;
        k.boot_start_thread(o.tcb);
    });
}
