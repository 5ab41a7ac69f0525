//! The kernel's own address space (TTBR1) and switching user address spaces
//! (TTBR0 with ASIDs).
//!
//! Layout (docs/sel4-abi.md §9.2): the physical window maps physical address `p`
//! at [`WINDOW_BASE`]` + p` (RAM as Normal memory, the kernel's devices as
//! Device memory); the kernel image lives at its link address in the last
//! 1 GiB slot. Translation tables for the kernel come from a small pool in
//! the kernel image; the descriptor logic is `cerne_plat::pagetable`.

use cerne_plat::pagetable::{self, Access, Attributes, MapError, MemoryType, Table, TableMemory};
use cerne_plat::region::Region;

/// Virtual address of physical address 0 in the kernel window.
pub const WINDOW_BASE: u64 = 0xFFFF_FF80_0000_0000;
/// Size of the window: physical addresses below this are reachable.
pub const WINDOW_SIZE: u64 = 0xFFFF_FFFF_C000_0000 - WINDOW_BASE;

/// Tables available for the kernel's own mappings.
const KERNEL_TABLE_POOL: usize = 24;

#[repr(C, align(4096))]
struct TablePool([Table; KERNEL_TABLE_POOL]);

/// The kernel's translation tables; index 0 is the TTBR1 root.
static mut KERNEL_TABLES: TablePool = TablePool([[0; pagetable::ENTRIES]; KERNEL_TABLE_POOL]);

unsafe extern "C" {
    static __kernel_start: u8;
    static __text_end: u8;
    static __kernel_end: u8;
    static __stack_guard: u8;
    static KERNEL_PHYS_BASE: u8;
}

/// Link-time addresses of the kernel image.
#[derive(Clone, Copy, Debug)]
pub struct KernelImage {
    /// First virtual address.
    pub virt_start: u64,
    /// End of the executable part.
    pub text_end: u64,
    /// One past the last virtual address (page aligned).
    pub virt_end: u64,
    /// Physical address of `virt_start`.
    pub phys_start: u64,
}

impl KernelImage {
    /// The image as the linker laid it out.
    pub fn get() -> Self {
        Self {
            virt_start: core::ptr::addr_of!(__kernel_start) as u64,
            text_end: core::ptr::addr_of!(__text_end) as u64,
            virt_end: core::ptr::addr_of!(__kernel_end) as u64,
            phys_start: core::ptr::addr_of!(KERNEL_PHYS_BASE) as u64,
        }
    }

    /// The physical range the image occupies.
    pub fn phys_region(&self) -> Region {
        Region {
            base: self.phys_start,
            size: self.virt_end - self.virt_start,
        }
    }

    fn phys_to_virt(&self, paddr: u64) -> u64 {
        paddr - self.phys_start + self.virt_start
    }
}

/// Physical address of a kernel-image virtual address (a static).
pub fn kernel_phys(vaddr: u64) -> u64 {
    let image = KernelImage::get();
    vaddr - image.virt_start + image.phys_start
}

/// Invalidates every TLB entry tagged with one of `asids`.
pub fn flush_asids(asids: &[u16]) {
    // SAFETY: a barrier only orders memory accesses: the page-table writes
    // before it become visible to the table walker before the TLBIs.
    unsafe { core::arch::asm!("dsb ishst") };
    for &asid in asids {
        let operand = u64::from(asid) << 48;
        // SAFETY: TLB maintenance cannot break memory safety; the kernel
        // runs from TTBR1, whose entries are global and not ASID-tagged.
        unsafe { core::arch::asm!("tlbi aside1, {0}", in(reg) operand) };
    }
    // SAFETY: barriers only: the invalidations complete before the next
    // instruction, and so before any return to user level.
    unsafe { core::arch::asm!("dsb ish", "isb") };
}

/// Invalidates every EL1&0 TLB entry, of every ASID and the kernel's (the
/// kernel's are walked again from TTBR1, whose tables do not change).
pub fn flush_all() {
    // SAFETY: TLB maintenance cannot break memory safety: every kernel
    // translation is still in TTBR1's tables and is refilled on use; the
    // barriers order it after the page-table writes and complete it before
    // the next instruction.
    unsafe { core::arch::asm!("dsb ishst", "tlbi vmalle1", "dsb ish", "isb") };
}

/// True if `vaddr` lies in the unmapped guard page below the kernel stack.
pub fn in_stack_guard(vaddr: u64) -> bool {
    let guard = core::ptr::addr_of!(__stack_guard) as u64;
    (guard..guard + 4096).contains(&vaddr)
}

/// Kernel virtual address of a physical address in the window.
pub const fn phys_to_window(paddr: u64) -> u64 {
    WINDOW_BASE + paddr
}

/// Table memory for the kernel's own tables: the static pool.
struct KernelTableMemory {
    image: KernelImage,
    used: usize,
}

impl KernelTableMemory {
    fn pool_base(&self) -> u64 {
        core::ptr::addr_of!(KERNEL_TABLES) as u64
    }
}

impl TableMemory for KernelTableMemory {
    fn table_mut(&mut self, table_paddr: u64) -> &mut Table {
        let vaddr = self.image.phys_to_virt(table_paddr);
        let index = ((vaddr - self.pool_base()) / 4096) as usize;
        assert!(index < KERNEL_TABLE_POOL, "kernel table outside the pool");
        // SAFETY: the index is inside the pool; the kernel is single-threaded
        // with interrupts masked, and the only references into the pool are
        // the ones this type hands out one at a time.
        unsafe { &mut (*core::ptr::addr_of_mut!(KERNEL_TABLES)).0[index] }
    }

    fn allocate_table(&mut self) -> Option<u64> {
        if self.used >= KERNEL_TABLE_POOL {
            return None;
        }
        let vaddr = self.pool_base() + (self.used as u64) * 4096;
        self.used += 1;
        Some(vaddr - self.image.virt_start + self.image.phys_start)
    }
}

static KERNEL_SPACE: spin::Mutex<Option<KernelTableMemory>> = spin::Mutex::new(None);

/// Attributes of RAM in the window: kernel read/write, never executable.
const WINDOW_RAM: Attributes = Attributes::KERNEL_NORMAL;
/// Attributes of device registers in the window.
const WINDOW_DEVICE: Attributes = Attributes::KERNEL_DEVICE;

/// Where the DTB is mapped read-only before the window exists (inside the
/// kernel's 1 GiB slot, above the image).
pub const DTB_EARLY_VADDR: u64 = 0xFFFF_FFFF_E000_0000;

/// Builds the kernel's TTBR1 tables (the image, and the DTB at
/// [`DTB_EARLY_VADDR`]) and switches to them. Runs once, first thing at boot.
/// Returns the virtual address of the DTB's first byte.
pub fn init_kernel_space(dtb: Region) -> Result<u64, MapError> {
    let image = KernelImage::get();
    let mut mem = KernelTableMemory { image, used: 0 };
    let root = mem.allocate_table().ok_or(MapError::OutOfTables)?;
    let text_size = image.text_end - image.virt_start;
    pagetable::map_range(
        &mut mem,
        root,
        image.virt_start,
        image.phys_start,
        text_size,
        &Attributes::KERNEL_CODE,
        3,
    )?;
    // Data, leaving the stack's guard page unmapped.
    let guard = core::ptr::addr_of!(__stack_guard) as u64;
    for (start, end) in [(image.text_end, guard), (guard + 4096, image.virt_end)] {
        pagetable::map_range(
            &mut mem,
            root,
            start,
            image.phys_start + (start - image.virt_start),
            end - start,
            &Attributes::KERNEL_NORMAL,
            3,
        )?;
    }
    let dtb_pages = dtb.aligned_out(4096);
    let dtb_attrs = Attributes {
        access: Access::KernelReadOnly,
        ..WINDOW_RAM
    };
    pagetable::map_range(
        &mut mem,
        root,
        DTB_EARLY_VADDR,
        dtb_pages.base,
        dtb_pages.size,
        &dtb_attrs,
        3,
    )?;
    // SAFETY: the new tables map the running kernel image at the same
    // addresses with compatible attributes, so execution continues; the TLB
    // is invalidated so no stale entry from the loader's tables survives.
    unsafe {
        core::arch::asm!(
            "dsb ish",
            "msr ttbr1_el1, {root}",
            "isb",
            "tlbi vmalle1",
            "dsb ish",
            "isb",
            root = in(reg) root,
        );
    }
    *KERNEL_SPACE.lock() = Some(mem);
    Ok(DTB_EARLY_VADDR + (dtb.base - dtb_pages.base))
}

fn map_window(region: Region, attrs: &Attributes) -> Result<(), MapError> {
    let r = region.aligned_out(4096);
    if r.end() > WINDOW_SIZE {
        return Err(MapError::Misaligned);
    }
    let mut guard = KERNEL_SPACE.lock();
    let mem = guard.as_mut().ok_or(MapError::OutOfTables)?;
    let root = mem.image.phys_start + (mem.pool_base() - mem.image.virt_start);
    pagetable::map_range(mem, root, phys_to_window(r.base), r.base, r.size, attrs, 1)?;
    // New entries replace invalid ones only: a barrier makes them visible.
    // SAFETY: barriers have no memory-safety effect.
    unsafe { core::arch::asm!("dsb ishst", "isb") };
    Ok(())
}

/// Maps a RAM range into the window as Normal memory.
pub fn map_window_ram(region: Region) -> Result<(), MapError> {
    map_window(region, &WINDOW_RAM)
}

/// Maps a device's registers into the window as Device memory.
pub fn map_window_device(region: Region) -> Result<(), MapError> {
    map_window(region, &WINDOW_DEVICE)
}

/// Attributes of a user mapping.
pub const fn user_attributes(writable: bool, executable: bool, cacheable: bool) -> Attributes {
    Attributes {
        memory: if cacheable {
            MemoryType::Normal
        } else {
            MemoryType::DeviceNgnrne
        },
        access: if writable {
            Access::UserReadWrite
        } else {
            Access::UserReadOnly
        },
        user_execute: executable,
        kernel_execute: false,
        global: false,
    }
}

/// Table memory for user page tables: objects in RAM reached through the
/// window, allocated by the caller's function.
pub struct WindowTableMemory<F: FnMut() -> Option<u64>> {
    /// Hands out zeroed, 4 KiB-aligned physical pages for new tables.
    pub allocate: F,
}

impl<F: FnMut() -> Option<u64>> TableMemory for WindowTableMemory<F> {
    fn table_mut(&mut self, table_paddr: u64) -> &mut Table {
        // SAFETY: user page tables are kernel objects in RAM, mapped in the
        // window; the object model guarantees one owner for each, and the
        // kernel runs single-threaded with interrupts masked.
        unsafe { &mut *(phys_to_window(table_paddr) as *mut Table) }
    }

    fn allocate_table(&mut self) -> Option<u64> {
        (self.allocate)()
    }
}

/// The TTBR0_EL1 value the kernel last wrote (none yet: `u64::MAX`, which
/// no root table | ASID can be). Only [`set_user_vspace`] writes TTBR0.
static TTBR0: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(u64::MAX);

/// Installs a user address space: TTBR0 = root table | ASID. An exit to the
/// address space already installed writes nothing (and needs no ISB):
/// rewriting the same value would not invalidate anything either, TLB
/// maintenance is done by address or ASID where mappings change.
pub fn set_user_vspace(root_paddr: u64, asid: u16) {
    use core::sync::atomic::Ordering;
    let ttbr0 = root_paddr | (u64::from(asid) << 48);
    if TTBR0.load(Ordering::Relaxed) == ttbr0 {
        return;
    }
    TTBR0.store(ttbr0, Ordering::Relaxed);
    // SAFETY: the kernel runs from TTBR1 only, so changing TTBR0 cannot
    // unmap anything the kernel uses; ASID-tagged TLB entries of other
    // spaces stay valid for those spaces.
    unsafe { core::arch::asm!("msr ttbr0_el1, {0}", "isb", in(reg) ttbr0) };
}

/// Cache maintenance a user invocation asked for, over a physical range the
/// object model checked to be a frame of the caller (RAM only: device
/// frames are not cacheable).
pub fn cache_maintenance(label: u64, paddr: u64, len: u64) {
    use cerne_abi::invocation::InvocationLabel as L;
    const LINE: u64 = 64;
    let start = phys_to_window(paddr) & !(LINE - 1);
    let end = phys_to_window(paddr) + len;
    let clean = label == L::ArmPageCleanData as u64 || label == L::ArmVSpaceCleanData as u64;
    let invalidate =
        label == L::ArmPageInvalidateData as u64 || label == L::ArmVSpaceInvalidateData as u64;
    let both = label == L::ArmPageCleanInvalidateData as u64
        || label == L::ArmVSpaceCleanInvalidateData as u64;
    let unify =
        label == L::ArmPageUnifyInstruction as u64 || label == L::ArmVSpaceUnifyInstruction as u64;
    let mut line = start;
    while line < end {
        // SAFETY: cache maintenance by VA over RAM mapped in the window;
        // invalidation only discards data the user asked to discard in its
        // own frame (the window's lines alias the user's).
        unsafe {
            if clean {
                core::arch::asm!("dc cvac, {0}", in(reg) line);
            } else if invalidate {
                core::arch::asm!("dc ivac, {0}", in(reg) line);
            } else if both {
                core::arch::asm!("dc civac, {0}", in(reg) line);
            } else if unify {
                core::arch::asm!("dc cvau, {0}", "ic ivau, {0}", in(reg) line);
            }
        }
        line += LINE;
    }
    // SAFETY: barriers only.
    unsafe { core::arch::asm!("dsb ish", "isb") };
}

/// Cleans a range of the data cache to the point of coherency and
/// invalidates the instruction cache, after writing code for EL0.
pub fn sync_caches_for_execution(vaddr: u64, size: u64) {
    let mut line = vaddr & !63;
    while line < vaddr + size {
        // SAFETY: cache maintenance by VA on mapped kernel addresses.
        unsafe { core::arch::asm!("dc cvau, {0}", in(reg) line) };
        line += 64;
    }
    // SAFETY: barriers and a global I-cache invalidate are side-effect free
    // for memory safety.
    unsafe { core::arch::asm!("dsb ish", "ic iallu", "dsb ish", "isb") };
}

/// Zeroes `size` bytes of RAM at `paddr` through the window, a cache line
/// at a time with `dc zva` where the range allows it.
pub fn zero_phys(paddr: u64, size: u64) {
    let start = phys_to_window(paddr);
    let end = start + size;
    let block = zva_block_size();
    let mut at = start;
    if let Some(block) = block {
        while !at.is_multiple_of(block) && at < end {
            // SAFETY: callers pass RAM they own, mapped read/write.
            unsafe { core::ptr::write_volatile(at as *mut u8, 0) };
            at += 1;
        }
        while at + block <= end {
            // SAFETY: a whole, aligned block inside the caller's RAM.
            unsafe { core::arch::asm!("dc zva, {0}", in(reg) at) };
            at += block;
        }
    }
    // SAFETY: the tail (or everything, without DC ZVA) is the caller's RAM.
    unsafe { core::ptr::write_bytes(at as *mut u8, 0, (end - at) as usize) };
}

/// Bytes `dc zva` zeroes, or `None` if it is prohibited.
fn zva_block_size() -> Option<u64> {
    let dczid: u64;
    // SAFETY: reading DCZID_EL0 has no side effects.
    unsafe { core::arch::asm!("mrs {0}, dczid_el0", out(reg) dczid) };
    let prohibited = dczid & (1 << 4) != 0;
    (!prohibited).then(|| 4u64 << (dczid & 0xf))
}

/// A copy of the 512 entries of a translation table in RAM.
pub fn read_table(table_paddr: u64) -> Table {
    // SAFETY: page tables are 4 KiB-aligned RAM objects mapped in the window.
    unsafe { core::ptr::read(phys_to_window(table_paddr) as *const Table) }
}

/// A typed view of an object in RAM through the window.
pub fn phys_as_mut<T: zerocopy::FromBytes>(paddr: u64) -> &'static mut T {
    assert!(
        paddr.is_multiple_of(core::mem::align_of::<T>() as u64),
        "misaligned object"
    );
    // SAFETY: the caller owns this RAM (a frame it just allocated); T is
    // valid for any bytes (FromBytes) and aligned as checked above.
    unsafe { &mut *(phys_to_window(paddr) as *mut T) }
}

/// Writes `bytes` at byte `offset` of the concatenation of 4 KiB `frames`.
pub fn copy_to_phys_frames(frames: &[u64], offset: u64, bytes: &[u8]) {
    let mut done = 0usize;
    while done < bytes.len() {
        let at = offset + done as u64;
        let in_frame = at % 4096;
        let chunk = ((4096 - in_frame) as usize).min(bytes.len() - done);
        let dest = phys_to_window(frames[(at / 4096) as usize] + in_frame) as *mut u8;
        // SAFETY: each frame is an owned, mapped 4 KiB RAM page and the chunk
        // stays inside it; the source is a distinct slice.
        unsafe { core::ptr::copy_nonoverlapping(bytes[done..].as_ptr(), dest, chunk) };
        done += chunk;
    }
}

/// Copies `size` bytes from physical `src` into `frames` at `offset`.
pub fn copy_phys_to_phys_frames(frames: &[u64], offset: u64, src: u64, size: u64) {
    // SAFETY: the source is the DTB (reserved RAM, mapped in the window).
    let bytes =
        unsafe { core::slice::from_raw_parts(phys_to_window(src) as *const u8, size as usize) };
    copy_to_phys_frames(frames, offset, bytes);
}
