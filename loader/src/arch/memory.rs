//! Physical memory with the MMU off (and later identity-mapped): the
//! loader's own image bounds, a checked window onto the RAM below the
//! loader where images are placed, and the pool of translation tables.

use core::sync::atomic::{AtomicBool, Ordering};

use cerne_loader::error::OutsideWindow;
use cerne_plat::pagetable::{Table, TableMemory, ENTRIES, PAGE_SIZE};
use cerne_plat::region::Region;

extern "C" {
    static __loader_start: u8;
    static __loader_data: u8;
    static __loader_end: u8;
}

/// The loader's image in memory (code, data, BSS, stack): `[__loader_start,
/// __loader_end)` from the linker script.
pub fn loader_image() -> Region {
    let start = core::ptr::addr_of!(__loader_start) as u64;
    let end = core::ptr::addr_of!(__loader_end) as u64;
    Region::from_bounds(start, end)
}

/// The part of the loader's image it writes: data, BSS (with the table
/// pool) and stack.
pub fn loader_writable() -> Region {
    let start = core::ptr::addr_of!(__loader_data) as u64;
    let end = core::ptr::addr_of!(__loader_end) as u64;
    Region::from_bounds(start, end)
}

/// The RAM the loader may read and write: one RAM bank, cut off below the
/// loader's own image. No Rust object lives there (the loader's code,
/// statics, stack and embedded images are all in its image), so handing
/// out references into it is sound as long as only one `PhysicalMemory`
/// exists; `&self` / `&mut self` then keep reads and writes apart.
pub struct PhysicalMemory {
    window: Region,
}

static MEMORY_TAKEN: AtomicBool = AtomicBool::new(false);

/// The part of `ram` below the loader's image.
fn below_loader(ram: Region) -> Region {
    let loader = loader_image();
    let end = if ram.base < loader.base {
        ram.end().min(loader.base)
    } else {
        ram.base
    };
    Region::from_bounds(ram.base, end)
}

impl PhysicalMemory {
    /// The window onto `ram` below the loader, once; `None` the second time.
    /// `ram` must be RAM (from the device tree, or where the boot protocol
    /// puts the DTB).
    pub fn take(ram: Region) -> Option<Self> {
        // Single CPU, interrupts masked: load + store is enough (and avoids
        // exclusives on Device memory while the MMU is off).
        if MEMORY_TAKEN.load(Ordering::Relaxed) {
            return None;
        }
        MEMORY_TAKEN.store(true, Ordering::Relaxed);
        Some(Self {
            window: below_loader(ram),
        })
    }

    /// Moves the window onto the RAM bank `ram` (cut off below the loader).
    /// Taking `&mut self` ends every borrow of the old window.
    pub fn retarget(&mut self, ram: Region) {
        self.window = below_loader(ram);
    }

    /// The window.
    pub fn window(&self) -> Region {
        self.window
    }

    fn check(&self, base: u64, size: u64) -> Result<(), OutsideWindow> {
        let range = Region { base, size };
        let fits = base.checked_add(size).is_some() && self.window.contains(&range);
        // Address 0 never backs a reference.
        if fits && (size == 0 || base != 0) {
            Ok(())
        } else {
            Err(OutsideWindow {
                range,
                window: self.window,
            })
        }
    }

    /// Reads `[base, base + size)`.
    pub fn bytes(&self, base: u64, size: u64) -> Result<&[u8], OutsideWindow> {
        self.check(base, size)?;
        if size == 0 {
            return Ok(&[]);
        }
        // SAFETY: the range is inside the window (checked), which is RAM
        // holding no Rust object; no `&mut` to it exists while `self` is
        // borrowed shared.
        Ok(unsafe { core::slice::from_raw_parts(base as *const u8, size as usize) })
    }

    /// Copies `data` to `base`.
    pub fn write(&mut self, base: u64, data: &[u8]) -> Result<(), OutsideWindow> {
        self.check(base, data.len() as u64)?;
        // SAFETY: destination inside the window (checked), exclusively
        // borrowed; `data` cannot point into the window because every
        // reference into it borrows `self`.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), base as *mut u8, data.len()) };
        Ok(())
    }

    /// Zeroes `[base, base + size)`.
    pub fn zero(&mut self, base: u64, size: u64) -> Result<(), OutsideWindow> {
        self.check(base, size)?;
        // SAFETY: inside the window (checked), exclusively borrowed.
        unsafe { core::ptr::write_bytes(base as *mut u8, 0, size as usize) };
        Ok(())
    }

    /// Moves `size` bytes from `from` to `to`; the ranges may overlap.
    pub fn move_within(&mut self, to: u64, from: u64, size: u64) -> Result<(), OutsideWindow> {
        self.check(from, size)?;
        self.check(to, size)?;
        // SAFETY: both ranges inside the window (checked), exclusively
        // borrowed; `copy` is memmove.
        unsafe { core::ptr::copy(from as *const u8, to as *mut u8, size as usize) };
        Ok(())
    }
}

/// Translation tables the loader can build: TTBR1 needs 3 (root, level 1,
/// level 2), TTBR0 a few per RAM bank and device; the rest is headroom for
/// RAM banks that are not 2 MiB aligned.
pub const POOL_TABLES: usize = 16;

#[repr(C, align(4096))]
struct Pool([Table; POOL_TABLES]);

static mut POOL: Pool = Pool([[0; ENTRIES]; POOL_TABLES]);
static POOL_TAKEN: AtomicBool = AtomicBool::new(false);

/// The loader's translation tables, in its BSS, reached by identity
/// (MMU off: physical = virtual). They stay in use after the hand-off until
/// the kernel switches to its own tables (§10.2), which it must do before
/// it reuses the loader's memory.
pub struct TablePool {
    tables: &'static mut [Table; POOL_TABLES],
    used: usize,
}

impl TablePool {
    /// The pool, once; `None` the second time.
    pub fn take() -> Option<Self> {
        if POOL_TAKEN.load(Ordering::Relaxed) {
            return None;
        }
        POOL_TAKEN.store(true, Ordering::Relaxed);
        // SAFETY: POOL is only ever reached through this function, which
        // hands out its one `&mut` once (POOL_TAKEN).
        let pool = unsafe { &mut *core::ptr::addr_of_mut!(POOL) };
        Some(Self {
            tables: &mut pool.0,
            used: 0,
        })
    }

    /// The tables handed out so far, as one physical range.
    pub fn used_region(&self) -> Region {
        Region {
            base: self.base(),
            size: self.used as u64 * PAGE_SIZE,
        }
    }

    /// Physical (= virtual, identity) address of the pool's first table.
    fn base(&self) -> u64 {
        self.tables.as_ptr() as u64
    }
}

impl TableMemory for TablePool {
    fn table_mut(&mut self, table_paddr: u64) -> &mut Table {
        let index = table_paddr.wrapping_sub(self.base()) / PAGE_SIZE;
        &mut self.tables[index as usize]
    }

    fn allocate_table(&mut self) -> Option<u64> {
        let table = self.tables.get_mut(self.used)?;
        table.fill(0);
        self.used += 1;
        Some(self.base() + (self.used as u64 - 1) * PAGE_SIZE)
    }
}
