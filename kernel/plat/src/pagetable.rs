//! AArch64 translation tables: 4 KiB granule, 4 levels, 48-bit virtual
//! addresses (VMSAv8-64, stage 1, EL1&0 regime).
//!
//! This module owns the bit layout of descriptors, the MAIR_EL1 and TCR_EL1
//! values that loader and kernel share (docs/sel4-abi.md §10.2), and a generic
//! mapper that builds tables through the [`TableMemory`] trait. It knows
//! nothing about how a physical table address becomes a reference: the
//! loader (MMU off, identity), the kernel (tables reached through its kernel
//! window) and the host tests (a `Vec`) each implement [`TableMemory`].
//!
//! Levels are numbered as in the Arm ARM: level 0 is the root (512 GiB per
//! entry), level 3 holds 4 KiB pages. Blocks exist at levels 1 (1 GiB) and
//! 2 (2 MiB) only; level 0 has no blocks with the 4 KiB granule.
#![forbid(unsafe_code)]

/// Entries in one translation table (4 KiB of 8-byte descriptors).
pub const ENTRIES: usize = 512;

/// One translation table: 4 KiB, which its owner must align to 4 KiB.
pub type Table = [u64; ENTRIES];

/// Size in bytes of one translation table and of the smallest page.
pub const PAGE_SIZE: u64 = 1 << PAGE_BITS;

/// log2 of [`PAGE_SIZE`].
pub const PAGE_BITS: u32 = 12;

/// The deepest level (4 KiB pages).
pub const LAST_LEVEL: usize = 3;

/// Bits of virtual address each table level resolves.
const INDEX_BITS: u32 = 9;

/// The output-address field of block, page and table descriptors: bits
/// [47:12] (48-bit physical addresses, no FEAT_LPA2).
pub const OUTPUT_ADDRESS_MASK: u64 = 0x0000_FFFF_FFFF_F000;

/// Index of `vaddr`'s entry in a table at `level` (0..=3).
///
/// Only bits [47:12] of `vaddr` matter, so TTBR1 (upper-half) addresses
/// index the same way as TTBR0 ones.
pub const fn index(vaddr: u64, level: usize) -> usize {
    ((vaddr >> coverage_bits(level)) & (ENTRIES as u64 - 1)) as usize
}

/// log2 of the bytes one entry at `level` covers: 39, 30, 21, 12.
pub const fn coverage_bits(level: usize) -> u32 {
    PAGE_BITS + INDEX_BITS * (LAST_LEVEL - level) as u32
}

/// Bytes one entry at `level` covers.
pub const fn coverage(level: usize) -> u64 {
    1 << coverage_bits(level)
}

/// Memory types, by their index into MAIR_EL1 (the descriptor's AttrIndx).
///
/// The indices are seL4's (docs/sel4-abi.md §10.2); the loader programs
/// MAIR_EL1 with [`MAIR_VALUE`] and the kernel never rewrites it.
#[repr(u64)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MemoryType {
    /// Device-nGnRnE (MAIR attribute 0x00).
    DeviceNgnrne = 0,
    /// Device-nGnRE (MAIR attribute 0x04).
    DeviceNgnre = 1,
    /// Device-GRE (MAIR attribute 0x0C).
    DeviceGre = 2,
    /// Normal, inner and outer non-cacheable (MAIR attribute 0x44).
    NormalNonCacheable = 3,
    /// Normal, inner and outer write-back, read/write-allocate (0xFF).
    Normal = 4,
    /// Normal, inner and outer write-through, read-allocate (0xAA).
    NormalWriteThrough = 5,
}

impl MemoryType {
    /// The MAIR_EL1 attribute byte for this type.
    pub const fn mair_attribute(self) -> u8 {
        match self {
            MemoryType::DeviceNgnrne => 0x00,
            MemoryType::DeviceNgnre => 0x04,
            MemoryType::DeviceGre => 0x0C,
            MemoryType::NormalNonCacheable => 0x44,
            MemoryType::Normal => 0xFF,
            MemoryType::NormalWriteThrough => 0xAA,
        }
    }

    /// True for the Device types.
    pub const fn is_device(self) -> bool {
        matches!(
            self,
            MemoryType::DeviceNgnrne | MemoryType::DeviceNgnre | MemoryType::DeviceGre
        )
    }
}

/// The MAIR_EL1 value whose attribute `i` is [`MemoryType`] with
/// discriminant `i`: 0x0000_AAFF_440C_0400.
pub const MAIR_VALUE: u64 = mair_byte(MemoryType::DeviceNgnrne)
    | mair_byte(MemoryType::DeviceNgnre)
    | mair_byte(MemoryType::DeviceGre)
    | mair_byte(MemoryType::NormalNonCacheable)
    | mair_byte(MemoryType::Normal)
    | mair_byte(MemoryType::NormalWriteThrough);

const fn mair_byte(memory: MemoryType) -> u64 {
    (memory.mair_attribute() as u64) << (8 * memory as u64)
}

/// Data access permissions, the descriptor's AP[2:1].
///
/// Note that the architecture never lets EL1 execute memory that EL0 may
/// write ([`Access::UserReadWrite`]), whatever PXN says.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Access {
    /// AP = 0b00: EL1 read/write, no EL0 access.
    KernelReadWrite,
    /// AP = 0b10: EL1 read-only, no EL0 access.
    KernelReadOnly,
    /// AP = 0b01: EL1 and EL0 read/write.
    UserReadWrite,
    /// AP = 0b11: EL1 and EL0 read-only.
    UserReadOnly,
}

impl Access {
    /// The AP[2:1] field value (descriptor bits [7:6]).
    pub const fn ap_bits(self) -> u64 {
        match self {
            Access::KernelReadWrite => 0b00,
            Access::UserReadWrite => 0b01,
            Access::KernelReadOnly => 0b10,
            Access::UserReadOnly => 0b11,
        }
    }

    /// Decodes an AP[2:1] field value.
    pub const fn from_ap_bits(ap: u64) -> Self {
        match ap & 0b11 {
            0b00 => Access::KernelReadWrite,
            0b01 => Access::UserReadWrite,
            0b10 => Access::KernelReadOnly,
            _ => Access::UserReadOnly,
        }
    }
}

/// What a block or page descriptor grants, apart from its address.
///
/// Descriptors built from these always have AF = 1 (no access-flag faults)
/// and SH = 0b00 (non-shareable), as seL4's uniprocessor build
/// (docs/sel4-abi.md §9.3). Device memory ignores SH (it is always treated as
/// outer shareable).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Attributes {
    /// Memory type (selects the MAIR_EL1 index).
    pub memory: MemoryType,
    /// Data access permissions.
    pub access: Access,
    /// EL0 may execute (clear UXN).
    pub user_execute: bool,
    /// EL1 may execute (clear PXN).
    pub kernel_execute: bool,
    /// Global (nG = 0): the TLB entry matches every ASID. User mappings
    /// are non-global.
    pub global: bool,
}

impl Attributes {
    /// Kernel data: Normal write-back, EL1 read/write, never executable.
    pub const KERNEL_NORMAL: Self = Self {
        memory: MemoryType::Normal,
        access: Access::KernelReadWrite,
        user_execute: false,
        kernel_execute: false,
        global: true,
    };

    /// Kernel code: Normal write-back, EL1 read-only, EL1-executable (UXN
    /// only).
    pub const KERNEL_CODE: Self = Self {
        memory: MemoryType::Normal,
        access: Access::KernelReadOnly,
        user_execute: false,
        kernel_execute: true,
        global: true,
    };

    /// Kernel image at boot: Normal write-back, EL1 read/write and
    /// executable (UXN only). This is how seL4's elfloader maps the whole
    /// kernel slot, text and data alike, with 2 MiB blocks.
    pub const KERNEL_IMAGE: Self = Self {
        memory: MemoryType::Normal,
        access: Access::KernelReadWrite,
        user_execute: false,
        kernel_execute: true,
        global: true,
    };

    /// Device registers for the kernel: Device-nGnRnE, EL1 read/write,
    /// never executable (PXN and UXN).
    pub const KERNEL_DEVICE: Self = Self {
        memory: MemoryType::DeviceNgnrne,
        access: Access::KernelReadWrite,
        user_execute: false,
        kernel_execute: false,
        global: true,
    };

    /// The descriptor bits these attributes set (everything but the type
    /// bits [1:0] and the output address).
    pub const fn bits(&self) -> u64 {
        let mut bits = (self.memory as u64) << ATTR_INDEX_SHIFT
            | self.access.ap_bits() << AP_SHIFT
            | SH_NON_SHAREABLE << SH_SHIFT
            | AF;
        if !self.global {
            bits |= NG;
        }
        if !self.kernel_execute {
            bits |= PXN;
        }
        if !self.user_execute {
            bits |= UXN;
        }
        bits
    }
}

/// Descriptor bit 0: valid.
pub const VALID: u64 = 1 << 0;
/// Descriptor bit 1: table (levels 0–2) or page (level 3); clear for a block.
pub const TABLE_OR_PAGE: u64 = 1 << 1;
/// Shift of AttrIndx[2:0] (bits [4:2]).
pub const ATTR_INDEX_SHIFT: u32 = 2;
/// Shift of AP[2:1] (bits [7:6]).
pub const AP_SHIFT: u32 = 6;
/// Shift of SH[1:0] (bits [9:8]).
pub const SH_SHIFT: u32 = 8;
/// SH value: non-shareable.
pub const SH_NON_SHAREABLE: u64 = 0b00;
/// SH value: outer shareable.
pub const SH_OUTER_SHAREABLE: u64 = 0b10;
/// SH value: inner shareable.
pub const SH_INNER_SHAREABLE: u64 = 0b11;
/// Access flag (bit 10).
pub const AF: u64 = 1 << 10;
/// Not global (bit 11).
pub const NG: u64 = 1 << 11;
/// Privileged execute-never (bit 53).
pub const PXN: u64 = 1 << 53;
/// Unprivileged execute-never (bit 54).
pub const UXN: u64 = 1 << 54;

/// One translation-table entry.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Descriptor(pub u64);

impl Descriptor {
    /// An invalid (faulting) entry.
    pub const INVALID: Self = Self(0);

    /// A table descriptor pointing at the next-level table at
    /// `next_table_paddr` (4 KiB aligned; low bits are dropped). No
    /// hierarchical restrictions (APTable, XNTable, PXNTable all 0).
    pub fn table(next_table_paddr: u64) -> Self {
        debug_assert!(next_table_paddr & !OUTPUT_ADDRESS_MASK == 0);
        Self((next_table_paddr & OUTPUT_ADDRESS_MASK) | TABLE_OR_PAGE | VALID)
    }

    /// A block descriptor at `level` 1 (1 GiB) or 2 (2 MiB) mapping
    /// `paddr`, which must be aligned to the block size.
    pub fn block(paddr: u64, level: usize, attrs: &Attributes) -> Self {
        debug_assert!(level == 1 || level == 2);
        debug_assert!(paddr & (coverage(level) - 1) == 0);
        Self((paddr & OUTPUT_ADDRESS_MASK) | attrs.bits() | VALID)
    }

    /// A level-3 page descriptor mapping the 4 KiB page at `paddr`.
    pub fn page(paddr: u64, attrs: &Attributes) -> Self {
        debug_assert!(paddr & (PAGE_SIZE - 1) == 0);
        Self((paddr & OUTPUT_ADDRESS_MASK) | attrs.bits() | TABLE_OR_PAGE | VALID)
    }

    /// Bit 0 is set.
    pub fn is_valid(self) -> bool {
        self.0 & VALID != 0
    }

    /// A valid table descriptor, as read in a table at `level` (at level 3
    /// the same encoding is a page, so this is always false there).
    pub fn is_table(self, level: usize) -> bool {
        level < LAST_LEVEL && self.is_valid() && self.0 & TABLE_OR_PAGE != 0
    }

    /// A valid descriptor that maps memory (block or page) at `level`.
    pub fn is_leaf(self, level: usize) -> bool {
        match level {
            1 | 2 => self.is_valid() && self.0 & TABLE_OR_PAGE == 0,
            LAST_LEVEL => self.is_valid() && self.0 & TABLE_OR_PAGE != 0,
            _ => false,
        }
    }

    /// The output address: the next table, or the block's / page's base.
    pub fn output_address(self) -> u64 {
        self.0 & OUTPUT_ADDRESS_MASK
    }

    /// The MAIR index (AttrIndx) of a block or page.
    pub fn attr_index(self) -> u64 {
        (self.0 >> ATTR_INDEX_SHIFT) & 0b111
    }

    /// The access permissions of a block or page.
    pub fn access(self) -> Access {
        Access::from_ap_bits(self.0 >> AP_SHIFT)
    }

    /// The SH field of a block or page.
    pub fn shareability(self) -> u64 {
        (self.0 >> SH_SHIFT) & 0b11
    }
}

/// Where translation tables live, and how to get more.
///
/// The loader (MMU off, physical = virtual), the kernel (tables reached
/// through a virtual window) and host tests each implement this with their
/// own conversion from a table's physical address to a reference.
pub trait TableMemory {
    /// The table at `table_paddr` (4 KiB aligned, previously returned by
    /// [`TableMemory::allocate_table`] or the root given to the mapper).
    fn table_mut(&mut self, table_paddr: u64) -> &mut Table;

    /// A zeroed, 4 KiB-aligned table's physical address, or `None` when no
    /// more tables are available.
    fn allocate_table(&mut self) -> Option<u64>;
}

/// Why [`map_range`] failed.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum MapError {
    /// [`TableMemory::allocate_table`] returned `None`.
    OutOfTables,
    /// An address or the size is not 4 KiB aligned, or the range wraps
    /// around the end of the address space.
    Misaligned,
    /// Part of the range is already mapped.
    AlreadyMapped,
    /// `largest_level` is not 1, 2 or 3.
    InvalidLevel,
}

/// Maps `[vaddr, vaddr + size)` to `[paddr, paddr + size)` under the level-0
/// table at `root_paddr`, using the largest blocks that `largest_level`
/// (1 = 1 GiB blocks allowed, 2 = 2 MiB, 3 = pages only) and the alignment
/// of both addresses allow, allocating intermediate tables on demand.
///
/// A range may end exactly at the top of the address space (`vaddr + size
/// == 2^64`, as the kernel's TTBR1 slot does). Existing tables are shared;
/// any existing valid leaf in the range is an [`MapError::AlreadyMapped`]
/// error. On error, the part of the range mapped so far stays mapped.
pub fn map_range<M: TableMemory>(
    mem: &mut M,
    root_paddr: u64,
    vaddr: u64,
    paddr: u64,
    size: u64,
    attrs: &Attributes,
    largest_level: usize,
) -> Result<(), MapError> {
    if !(1..=LAST_LEVEL).contains(&largest_level) {
        return Err(MapError::InvalidLevel);
    }
    let page_mask = PAGE_SIZE - 1;
    if (vaddr | paddr | size) & page_mask != 0 {
        return Err(MapError::Misaligned);
    }
    if size == 0 {
        return Ok(());
    }
    if vaddr.checked_add(size - 1).is_none() || paddr.checked_add(size - 1).is_none() {
        return Err(MapError::Misaligned);
    }
    if paddr + (size - 1) > OUTPUT_ADDRESS_MASK | page_mask {
        return Err(MapError::Misaligned);
    }

    let (mut va, mut pa, mut remaining) = (vaddr, paddr, size);
    // The table the last run of leaves went into: the next run skips the
    // walk from the root when it belongs in the same table.
    let mut last: Option<LastTable> = None;
    while remaining != 0 {
        let mut level = largest_level;
        let count = loop {
            let block = coverage(level);
            if (va | pa) & (block - 1) == 0 && remaining >= block {
                let table = match last {
                    Some(t) if t.covers(va, level) => t.table,
                    _ => table_for(mem, root_paddr, va, level)?,
                };
                if let Some(count) = place_run(mem, table, va, pa, remaining / block, level, attrs)?
                {
                    last = Some(LastTable { table, level, va });
                    break count;
                }
                // A table already covers this slot: use smaller pieces.
            }
            level += 1;
        };
        let bytes = count * coverage(level);
        va = va.wrapping_add(bytes);
        pa += bytes;
        remaining -= bytes;
    }
    Ok(())
}

/// A table at `level` known to hold the leaves for `va`.
#[derive(Clone, Copy)]
struct LastTable {
    table: u64,
    level: usize,
    va: u64,
}

impl LastTable {
    /// True if a leaf for `va` at `level` belongs in this table.
    fn covers(&self, va: u64, level: usize) -> bool {
        // A table at `level` spans what one entry of the level above does.
        let span_mask = !(coverage(level - 1) - 1);
        level == self.level && va & span_mask == self.va & span_mask
    }
}

/// The table at `level` on the path to `va`, creating missing tables above
/// it; a block on the way is [`MapError::AlreadyMapped`].
fn table_for<M: TableMemory>(
    mem: &mut M,
    root_paddr: u64,
    va: u64,
    level: usize,
) -> Result<u64, MapError> {
    let mut table = root_paddr;
    for walk_level in 0..level {
        let slot = index(va, walk_level);
        let entry = Descriptor(mem.table_mut(table)[slot]);
        table = if entry.is_table(walk_level) {
            entry.output_address()
        } else if entry.is_valid() {
            return Err(MapError::AlreadyMapped);
        } else {
            let next = mem.allocate_table().ok_or(MapError::OutOfTables)?;
            mem.table_mut(table)[slot] = Descriptor::table(next).0;
            next
        };
    }
    Ok(table)
}

/// Writes up to `max` consecutive leaves at `level` into `table` (a table
/// at `level` on the path to `va`), mapping `va` to `pa` onwards, and stops
/// at the end of the table or at the first slot already in use. Returns
/// how many it wrote; `None` when the first slot holds a table (the caller
/// then maps with smaller pieces); [`MapError::AlreadyMapped`] when it
/// holds a leaf.
fn place_run<M: TableMemory>(
    mem: &mut M,
    table: u64,
    va: u64,
    pa: u64,
    max: u64,
    level: usize,
    attrs: &Attributes,
) -> Result<Option<u64>, MapError> {
    let first = index(va, level);
    let entries = &mut mem.table_mut(table)[first..];
    let head = Descriptor(entries[0]);
    if head.is_table(level) {
        return Ok(None);
    }
    if head.is_valid() {
        return Err(MapError::AlreadyMapped);
    }
    let leaf = if level == LAST_LEVEL {
        Descriptor::page(pa, attrs)
    } else {
        Descriptor::block(pa, level, attrs)
    };
    let block = coverage(level);
    let mut count = 0;
    for (slot, entry) in entries.iter_mut().enumerate() {
        if count == max || Descriptor(*entry).is_valid() {
            break;
        }
        // Output addresses stay below 2^48 (checked by map_range), so the
        // sum never carries into the attribute bits.
        *entry = leaf.0 + slot as u64 * block;
        count += 1;
    }
    Ok(Some(count))
}

/// Walks the tables under `root_paddr` for `vaddr` and returns the leaf
/// descriptor that maps it and its level, or `None` if it is unmapped.
pub fn walk<M: TableMemory>(
    mem: &mut M,
    root_paddr: u64,
    vaddr: u64,
) -> Option<(Descriptor, usize)> {
    let mut table = root_paddr;
    for level in 0..=LAST_LEVEL {
        let entry = Descriptor(mem.table_mut(table)[index(vaddr, level)]);
        if entry.is_table(level) {
            table = entry.output_address();
        } else if entry.is_leaf(level) {
            return Some((entry, level));
        } else {
            return None;
        }
    }
    None
}

/// Translates `vaddr` through the tables under `root_paddr`: the physical
/// address it maps to and the level of the leaf, or `None` if unmapped.
pub fn translate<M: TableMemory>(mem: &mut M, root_paddr: u64, vaddr: u64) -> Option<(u64, usize)> {
    let (leaf, level) = walk(mem, root_paddr, vaddr)?;
    Some((
        leaf.output_address() | (vaddr & (coverage(level) - 1)),
        level,
    ))
}

/// ID_AA64MMFR0_EL1.PARange value for 48-bit physical addresses, the most
/// these descriptors can hold.
pub const PA_RANGE_48_BITS: u64 = 0b101;

/// TCR_EL1 for the layout loader and kernel share (docs/sel4-abi.md §10.2):
/// T0SZ = T1SZ = 16 (48-bit VAs in both halves), TG0 = TG1 = 4 KiB,
/// IRGN/ORGN write-back write-allocate for both, SH = 0b00 (non-shareable
/// table walks, as seL4's uniprocessor build), A1 = 0 (the ASID comes from
/// TTBR0_EL1), AS = 1 (16-bit ASIDs), TBI off, and IPS = `pa_range_bits_field`
/// (ID_AA64MMFR0_EL1.PARange, bits [3:0]), capped at 48 bits because the
/// descriptors here hold 48-bit addresses.
pub const fn tcr_value(pa_range_bits_field: u64) -> u64 {
    const T0SZ_SHIFT: u32 = 0;
    const IRGN0_SHIFT: u32 = 8;
    const ORGN0_SHIFT: u32 = 10;
    const SH0_SHIFT: u32 = 12;
    const TG0_SHIFT: u32 = 14;
    const T1SZ_SHIFT: u32 = 16;
    const IRGN1_SHIFT: u32 = 24;
    const ORGN1_SHIFT: u32 = 26;
    const SH1_SHIFT: u32 = 28;
    const TG1_SHIFT: u32 = 30;
    const IPS_SHIFT: u32 = 32;
    const AS: u64 = 1 << 36;
    const TXSZ: u64 = 64 - 48;
    const WBWA: u64 = 0b01;
    const TG0_4K: u64 = 0b00;
    const TG1_4K: u64 = 0b10;

    let mut ips = pa_range_bits_field & 0xF;
    if ips > PA_RANGE_48_BITS {
        ips = PA_RANGE_48_BITS;
    }
    TXSZ << T0SZ_SHIFT
        | WBWA << IRGN0_SHIFT
        | WBWA << ORGN0_SHIFT
        | SH_NON_SHAREABLE << SH0_SHIFT
        | TG0_4K << TG0_SHIFT
        | TXSZ << T1SZ_SHIFT
        | WBWA << IRGN1_SHIFT
        | WBWA << ORGN1_SHIFT
        | SH_NON_SHAREABLE << SH1_SHIFT
        | TG1_4K << TG1_SHIFT
        | ips << IPS_SHIFT
        | AS
}

/// SCTLR_EL1.M: stage-1 translation on.
pub const SCTLR_M: u64 = 1 << 0;
/// SCTLR_EL1.C: data and unified caches on.
pub const SCTLR_C: u64 = 1 << 2;
/// SCTLR_EL1.I: instruction cache on.
pub const SCTLR_I: u64 = 1 << 12;

/// SCTLR_EL1 with the MMU and caches off, everything else in the
/// architecture's "reserved, set to 1" positions for ARMv8.0 (bits 11, 20,
/// 22, 23, 28, 29) and little-endian, no alignment checks. A sane value to
/// program before the MMU is configured, e.g. when dropping from EL2.
pub const SCTLR_EL1_RES1: u64 =
    (1 << 11) | (1 << 20) | (1 << 22) | (1 << 23) | (1 << 28) | (1 << 29);

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::boxed::Box;
    use std::vec::Vec;

    /// Tables in a Vec, at fake physical addresses from `BASE`.
    struct VecMemory {
        tables: Vec<Box<Table>>,
        limit: usize,
    }

    const BASE: u64 = 0x8000_0000;

    impl VecMemory {
        /// Root table plus room for `limit - 1` more.
        fn new(limit: usize) -> (Self, u64) {
            let mut mem = VecMemory {
                tables: Vec::new(),
                limit,
            };
            let root = mem.allocate_table().unwrap();
            (mem, root)
        }
    }

    impl TableMemory for VecMemory {
        fn table_mut(&mut self, table_paddr: u64) -> &mut Table {
            assert_eq!(table_paddr & 0xFFF, 0);
            &mut self.tables[((table_paddr - BASE) / PAGE_SIZE) as usize]
        }
        fn allocate_table(&mut self) -> Option<u64> {
            if self.tables.len() == self.limit {
                return None;
            }
            self.tables.push(Box::new([0; ENTRIES]));
            Some(BASE + (self.tables.len() as u64 - 1) * PAGE_SIZE)
        }
    }

    const GIB: u64 = 1 << 30;
    const MIB2: u64 = 1 << 21;
    const KERNEL_BASE: u64 = 0xFFFF_FFFF_C000_0000;

    #[test]
    fn geometry() {
        assert_eq!(
            [0, 1, 2, 3].map(coverage_bits),
            [39, 30, 21, 12],
            "coverage bits per level"
        );
        let va = 0x0000_1234_5678_9000u64 | (0x1AB << 12);
        assert_eq!(index(va, 3), 0x1AB);
        assert_eq!(index(KERNEL_BASE, 0), 511);
        assert_eq!(index(KERNEL_BASE, 1), 511);
        assert_eq!(index(KERNEL_BASE, 2), 0);
        assert_eq!(index(0x4000_0000, 1), 1);
        assert_eq!(index(0x4020_0000, 2), 1);
    }

    #[test]
    fn mair_matches_sel4() {
        assert_eq!(MAIR_VALUE, 0x0000_AAFF_440C_0400);
        for (i, m) in [
            MemoryType::DeviceNgnrne,
            MemoryType::DeviceNgnre,
            MemoryType::DeviceGre,
            MemoryType::NormalNonCacheable,
            MemoryType::Normal,
            MemoryType::NormalWriteThrough,
        ]
        .into_iter()
        .enumerate()
        {
            assert_eq!(m as usize, i);
            assert_eq!((MAIR_VALUE >> (8 * i)) as u8, m.mair_attribute());
        }
    }

    #[test]
    fn tcr_fields() {
        let tcr = tcr_value(0b0010); // 40-bit PA, as on cortex-a53
        assert_eq!(tcr & 0x3F, 16, "T0SZ");
        assert_eq!((tcr >> 16) & 0x3F, 16, "T1SZ");
        assert_eq!((tcr >> 14) & 3, 0b00, "TG0 4K");
        assert_eq!((tcr >> 30) & 3, 0b10, "TG1 4K");
        assert_eq!((tcr >> 8) & 3, 1, "IRGN0");
        assert_eq!((tcr >> 10) & 3, 1, "ORGN0");
        assert_eq!((tcr >> 24) & 3, 1, "IRGN1");
        assert_eq!((tcr >> 26) & 3, 1, "ORGN1");
        assert_eq!((tcr >> 12) & 3, 0, "SH0");
        assert_eq!((tcr >> 28) & 3, 0, "SH1");
        assert_eq!((tcr >> 32) & 7, 0b010, "IPS");
        assert_eq!((tcr >> 36) & 1, 1, "AS");
        assert_eq!((tcr >> 22) & 1, 0, "A1");
        assert_eq!((tcr >> 7) & 1, 0, "EPD0");
        assert_eq!((tcr >> 23) & 1, 0, "EPD1");
        assert_eq!((tcr >> 37) & 3, 0, "TBI");
        assert_eq!(tcr, 0x0000_0012_8510_0510);
        assert_eq!((tcr_value(0b0110) >> 32) & 7, 0b101, "IPS capped at 48");
    }

    #[test]
    fn descriptor_encodings() {
        let pa = 0x4020_0000;
        let d = Descriptor::block(pa, 2, &Attributes::KERNEL_NORMAL);
        assert!(d.is_valid());
        assert!(!d.is_table(2));
        assert!(d.is_leaf(2));
        assert_eq!(d.0 & 0b11, 0b01, "block type");
        assert_eq!(d.output_address(), pa);
        assert_eq!(d.attr_index(), 4);
        assert_eq!(d.access(), Access::KernelReadWrite);
        assert_eq!((d.0 >> 6) & 3, 0b00, "AP");
        assert_ne!(d.0 & AF, 0, "AF");
        assert_eq!(d.0 & NG, 0, "global");
        assert_ne!(d.0 & PXN, 0, "PXN");
        assert_ne!(d.0 & UXN, 0, "UXN");
        assert_eq!(d.shareability(), 0);
        assert_eq!(d.0, 0x0060_0000_4020_0411);

        let code = Descriptor::page(0x4000_1000, &Attributes::KERNEL_CODE);
        assert_eq!(code.0 & 0b11, 0b11, "page type");
        assert!(code.is_leaf(3));
        assert!(!code.is_table(3));
        assert_eq!(code.0 & PXN, 0);
        assert_ne!(code.0 & UXN, 0);
        assert_eq!((code.0 >> 6) & 3, 0b10, "AP kernel RO");
        assert_eq!(code.0, 0x0040_0000_4000_1493);

        let dev = Descriptor::page(0x0900_0000, &Attributes::KERNEL_DEVICE);
        assert_eq!(dev.attr_index(), 0);
        assert_ne!(dev.0 & (PXN | UXN), 0);
        assert_eq!(dev.0 & (PXN | UXN), PXN | UXN);

        let user = Attributes {
            memory: MemoryType::Normal,
            access: Access::UserReadOnly,
            user_execute: true,
            kernel_execute: false,
            global: false,
        };
        let u = Descriptor::page(0x4040_0000, &user);
        assert_eq!((u.0 >> 6) & 3, 0b11, "AP user RO");
        assert_ne!(u.0 & NG, 0, "nG");
        assert_eq!(u.0 & UXN, 0);
        assert_ne!(u.0 & PXN, 0);
        let urw = Attributes {
            access: Access::UserReadWrite,
            memory: MemoryType::DeviceGre,
            ..user
        };
        let u = Descriptor::page(0x4040_0000, &urw);
        assert_eq!((u.0 >> 6) & 3, 0b01, "AP user RW");
        assert_eq!(u.attr_index(), 2);
        for a in [
            Access::KernelReadWrite,
            Access::KernelReadOnly,
            Access::UserReadWrite,
            Access::UserReadOnly,
        ] {
            assert_eq!(Access::from_ap_bits(a.ap_bits()), a);
        }

        let t = Descriptor::table(0x4123_4000);
        assert!(t.is_table(0) && t.is_table(2));
        assert!(!t.is_leaf(0));
        assert_eq!(t.0, 0x4123_4003);
        assert_eq!(t.output_address(), 0x4123_4000);
        assert!(!Descriptor::INVALID.is_valid());
        assert!(!Descriptor::INVALID.is_table(1));
    }

    #[test]
    fn kernel_slot_with_2mib_blocks_to_the_top() {
        let (mut mem, root) = VecMemory::new(8);
        map_range(
            &mut mem,
            root,
            KERNEL_BASE,
            0x4000_0000,
            GIB,
            &Attributes::KERNEL_IMAGE,
            2,
        )
        .unwrap();
        // Root, one level-1 and one level-2 table.
        assert_eq!(mem.tables.len(), 3);
        assert_eq!(
            translate(&mut mem, root, KERNEL_BASE),
            Some((0x4000_0000, 2))
        );
        assert_eq!(
            translate(&mut mem, root, KERNEL_BASE + 0x12_3456),
            Some((0x4012_3456, 2))
        );
        assert_eq!(translate(&mut mem, root, u64::MAX), Some((0x7FFF_FFFF, 2)));
        assert_eq!(translate(&mut mem, root, KERNEL_BASE - 1), None);
        assert_eq!(translate(&mut mem, root, 0x4000_0000), None);
    }

    #[test]
    fn runs_of_blocks_cross_table_boundaries() {
        // 2 MiB blocks from 4 MiB below a 1 GiB boundary to 4 MiB above it:
        // two level-2 tables, each leaf in the right one.
        let (mut mem, root) = VecMemory::new(8);
        let va = GIB - 2 * MIB2;
        map_range(
            &mut mem,
            root,
            va,
            0x8000_0000,
            4 * MIB2,
            &Attributes::KERNEL_NORMAL,
            2,
        )
        .unwrap();
        assert_eq!(mem.tables.len(), 4, "root, level 1, two level-2 tables");
        for i in 0..4 {
            assert_eq!(
                translate(&mut mem, root, va + i * MIB2 + 8),
                Some((0x8000_0000 + i * MIB2 + 8, 2))
            );
        }
        // Pages across a 2 MiB boundary: two level-3 tables.
        let (mut mem, root) = VecMemory::new(8);
        let va = 0x4000_0000 + MIB2 - 0x2000;
        map_range(
            &mut mem,
            root,
            va,
            va,
            0x4000,
            &Attributes::KERNEL_NORMAL,
            3,
        )
        .unwrap();
        assert_eq!(mem.tables.len(), 5);
        for off in (0..0x4000).step_by(0x1000) {
            assert_eq!(translate(&mut mem, root, va + off), Some((va + off, 3)));
        }
        // Every block of the kernel slot.
        let (mut mem, root) = VecMemory::new(8);
        map_range(
            &mut mem,
            root,
            KERNEL_BASE,
            0x4000_0000,
            GIB,
            &Attributes::KERNEL_IMAGE,
            2,
        )
        .unwrap();
        for i in 0..512 {
            assert_eq!(
                translate(&mut mem, root, KERNEL_BASE + i * MIB2),
                Some((0x4000_0000 + i * MIB2, 2))
            );
        }
    }

    #[test]
    fn gib_blocks_when_allowed_and_aligned() {
        let (mut mem, root) = VecMemory::new(8);
        // 2 GiB of RAM at 1 GiB, identity.
        map_range(
            &mut mem,
            root,
            GIB,
            GIB,
            2 * GIB,
            &Attributes::KERNEL_NORMAL,
            1,
        )
        .unwrap();
        assert_eq!(mem.tables.len(), 2);
        assert_eq!(translate(&mut mem, root, GIB), Some((GIB, 1)));
        assert_eq!(
            translate(&mut mem, root, 3 * GIB - 8),
            Some((3 * GIB - 8, 1))
        );
        assert_eq!(translate(&mut mem, root, 3 * GIB), None);
    }

    #[test]
    fn mixed_blocks_and_pages() {
        let (mut mem, root) = VecMemory::new(16);
        // Starts 4 KiB below a 2 MiB boundary, ends 8 KiB after the next
        // one: page, 2 MiB block, 2 pages.
        let va = 0x4000_0000 + MIB2 - 0x1000;
        let pa = 0x8000_0000 + MIB2 - 0x1000;
        let size = 0x1000 + MIB2 + 0x2000;
        map_range(&mut mem, root, va, pa, size, &Attributes::KERNEL_NORMAL, 1).unwrap();
        assert_eq!(translate(&mut mem, root, va), Some((pa, 3)));
        assert_eq!(
            translate(&mut mem, root, va + 0x1000),
            Some((pa + 0x1000, 2))
        );
        assert_eq!(
            translate(&mut mem, root, va + 0x1000 + MIB2 + 0x1FFF),
            Some((pa + 0x1000 + MIB2 + 0x1FFF, 3))
        );
        assert_eq!(translate(&mut mem, root, va - 1), None);
        assert_eq!(translate(&mut mem, root, va + size), None);
        // Root, L1, L2, two L3 tables.
        assert_eq!(mem.tables.len(), 5);
    }

    #[test]
    fn pages_only_and_misaligned_phys_uses_pages() {
        let (mut mem, root) = VecMemory::new(16);
        map_range(
            &mut mem,
            root,
            0x4000_0000,
            0x4000_1000,
            4 * MIB2,
            &Attributes::KERNEL_NORMAL,
            1,
        )
        .unwrap();
        for off in (0..4 * MIB2).step_by(0x1000) {
            assert_eq!(
                translate(&mut mem, root, 0x4000_0000 + off),
                Some((0x4000_1000 + off, 3))
            );
        }
        let (mut mem, root) = VecMemory::new(16);
        map_range(&mut mem, root, 0, 0, MIB2, &Attributes::KERNEL_NORMAL, 3).unwrap();
        assert_eq!(translate(&mut mem, root, 0x1F_F000), Some((0x1F_F000, 3)));
    }

    #[test]
    fn pages_share_tables_and_block_goes_around_them() {
        let (mut mem, root) = VecMemory::new(16);
        let dev = 0x0900_0000;
        map_range(
            &mut mem,
            root,
            dev,
            dev,
            0x1000,
            &Attributes::KERNEL_DEVICE,
            1,
        )
        .unwrap();
        // A block-sized range over the same 2 MiB: falls back to pages
        // around the existing one, then collides with it.
        assert_eq!(
            map_range(
                &mut mem,
                root,
                dev + 0x1000,
                dev + 0x1000,
                0x1000,
                &Attributes::KERNEL_DEVICE,
                1
            ),
            Ok(())
        );
        assert_eq!(
            map_range(
                &mut mem,
                root,
                dev,
                dev,
                MIB2,
                &Attributes::KERNEL_DEVICE,
                2
            ),
            Err(MapError::AlreadyMapped)
        );
        let (d, level) = walk(&mut mem, root, dev).unwrap();
        assert_eq!(level, 3);
        assert_eq!(d.attr_index(), MemoryType::DeviceNgnrne as u64);
        // Mapping the rest of a 2 MiB region that already has a page table
        // uses pages, not a block over the table.
        map_range(
            &mut mem,
            root,
            dev + 0x2000,
            dev + 0x2000,
            MIB2 - 0x2000,
            &Attributes::KERNEL_DEVICE,
            2,
        )
        .unwrap();
        assert_eq!(
            translate(&mut mem, root, dev + MIB2 - 1),
            Some((dev + MIB2 - 1, 3))
        );
    }

    #[test]
    fn already_mapped_block() {
        let (mut mem, root) = VecMemory::new(16);
        map_range(&mut mem, root, 0, 0, GIB, &Attributes::KERNEL_NORMAL, 1).unwrap();
        assert_eq!(
            map_range(
                &mut mem,
                root,
                0x1000,
                0x1000,
                0x1000,
                &Attributes::KERNEL_NORMAL,
                3
            ),
            Err(MapError::AlreadyMapped)
        );
        assert_eq!(
            map_range(&mut mem, root, 0, 0, MIB2, &Attributes::KERNEL_NORMAL, 2),
            Err(MapError::AlreadyMapped)
        );
    }

    #[test]
    fn misalignment_and_bad_level() {
        let (mut mem, root) = VecMemory::new(16);
        let a = &Attributes::KERNEL_NORMAL;
        assert_eq!(
            map_range(&mut mem, root, 0x800, 0, 0x1000, a, 3),
            Err(MapError::Misaligned)
        );
        assert_eq!(
            map_range(&mut mem, root, 0, 0x10, 0x1000, a, 3),
            Err(MapError::Misaligned)
        );
        assert_eq!(
            map_range(&mut mem, root, 0, 0, 0x1001, a, 3),
            Err(MapError::Misaligned)
        );
        assert_eq!(
            map_range(&mut mem, root, u64::MAX - 0xFFF, 0, 0x2000, a, 3),
            Err(MapError::Misaligned),
            "wraps"
        );
        assert_eq!(
            map_range(&mut mem, root, 0, 1 << 48, 0x1000, a, 3),
            Err(MapError::Misaligned),
            "beyond 48-bit PA"
        );
        assert_eq!(
            map_range(&mut mem, root, 0, 0, 0x1000, a, 0),
            Err(MapError::InvalidLevel)
        );
        assert_eq!(
            map_range(&mut mem, root, 0, 0, 0x1000, a, 4),
            Err(MapError::InvalidLevel)
        );
        assert_eq!(map_range(&mut mem, root, 0, 0, 0, a, 3), Ok(()));
        assert_eq!(mem.tables.len(), 1, "nothing allocated");
    }

    #[test]
    fn out_of_tables() {
        // Root + L1 only: no room for the L2 table.
        let (mut mem, root) = VecMemory::new(2);
        assert_eq!(
            map_range(
                &mut mem,
                root,
                0x4000_0000,
                0x4000_0000,
                MIB2,
                &Attributes::KERNEL_NORMAL,
                2
            ),
            Err(MapError::OutOfTables)
        );
        // GiB blocks need only root + L1.
        assert_eq!(
            map_range(
                &mut mem,
                root,
                0x4000_0000,
                0x4000_0000,
                GIB,
                &Attributes::KERNEL_NORMAL,
                1
            ),
            Ok(())
        );
    }

    #[test]
    fn round_trip_many_ranges() {
        let (mut mem, root) = VecMemory::new(64);
        let ranges = [
            (0x0000_0000_0040_0000u64, 0x4100_0000u64, 0x3000u64),
            (0x0000_0000_0060_0000, 0x4200_0000, 3 * MIB2 + 0x5000),
            (0x0000_7FFF_FFE0_0000, 0x4300_0000, MIB2),
            (0xFFFF_FF80_0000_0000, 0x4000_0000, 2 * GIB),
        ];
        for &(va, pa, size) in &ranges {
            map_range(&mut mem, root, va, pa, size, &Attributes::KERNEL_NORMAL, 1).unwrap();
        }
        for &(va, pa, size) in &ranges {
            for off in (0..size).step_by(0x1000 * 7) {
                assert_eq!(
                    translate(&mut mem, root, va + off + 0x10).map(|t| t.0),
                    Some(pa + off + 0x10)
                );
            }
        }
    }
}
