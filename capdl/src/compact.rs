//! The compact binary form of a spec and its heap-free reader.
//!
//! Layout (all integers little-endian, every record unaligned, so the bytes
//! can sit anywhere in the root task's image):
//!
//! ```text
//! Header   magic "CERNECDL", version, header size, 9 section descriptors
//!          (byte offset, record count), in the order of [`Section`]
//! objects  ObjectRecord[]   one per object, in spec order; ids are indices
//! caps     CapRecord[]      each object's caps are one contiguous run
//! tcbs     TcbRecord[]      referenced by a TCB object's `detail`
//! fills    FillRecord[]     a frame's fill entries: a run from `detail`
//! words    U64[]            TCB init arguments: a run from the TcbRecord
//! covers   CoverRecord[]    an untyped's covered objects: a run from `detail`
//! irqs     IrqRecord[]      the IRQ map
//! cdt      CdtRecord[]      derivation edges
//! strings  u8[]             names and fill texts (UTF-8), referenced by StrRef
//! ```
//!
//! [`SpecView::new`] checks every offset, count, index and string once, so
//! the accessors afterwards only return data already known to be in range;
//! they still use checked indexing and never panic.

use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// The first eight bytes.
pub const MAGIC: [u8; 8] = *b"CERNECDL";
/// The layout version this crate writes and reads.
pub const VERSION: u32 = 1;
/// `CapRecord::target` for caps with no object (see [`CapTargetCode`]).
pub const NO_OBJECT: u32 = u32::MAX;

/// The sections, in header order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Section {
    /// [`ObjectRecord`]s.
    Objects = 0,
    /// [`CapRecord`]s.
    Caps = 1,
    /// [`TcbRecord`]s.
    Tcbs = 2,
    /// [`FillRecord`]s.
    Fills = 3,
    /// 64-bit words (init arguments).
    Words = 4,
    /// [`CoverRecord`]s.
    Covers = 5,
    /// [`IrqRecord`]s.
    Irqs = 6,
    /// [`CdtRecord`]s.
    Cdt = 7,
    /// String bytes.
    Strings = 8,
}

/// Number of sections.
pub const SECTION_COUNT: usize = 9;

/// Where a section is.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct SectionDescriptor {
    /// Byte offset from the start of the header.
    pub offset: U32,
    /// Number of records (bytes, for strings).
    pub count: U32,
}

/// The header.
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Header {
    /// [`MAGIC`].
    pub magic: [u8; 8],
    /// [`VERSION`].
    pub version: U32,
    /// `size_of::<Header>()`.
    pub header_size: U32,
    /// Indexed by [`Section`].
    pub sections: [SectionDescriptor; SECTION_COUNT],
}

/// A string in the strings section.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct StrRef {
    /// Byte offset in the strings section.
    pub offset: U32,
    /// Length in bytes.
    pub len: U32,
}

/// Object type codes of [`ObjectRecord::kind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ObjectKindCode {
    /// Untyped; `size_bits` valid when [`object_flags::HAS_SIZE_BITS`].
    Untyped = 0,
    /// TCB; `detail` indexes the tcbs section.
    Tcb = 1,
    /// Endpoint.
    Endpoint = 2,
    /// Notification.
    Notification = 3,
    /// CNode; `size_bits` is its radix.
    CNode = 4,
    /// Frame; `size_bits` 12, 21 or 30; fills from `detail`.
    Frame = 5,
    /// Page table below the VSpace; `level` 1, 2 or 3.
    PageTable = 6,
    /// The VSpace (pgd).
    VSpace = 7,
    /// ASID pool; `paddr` holds asid_high when [`object_flags::HAS_ASID_HIGH`].
    AsidPool = 8,
    /// IRQ object; `extra` is the target core of an `arm_irq`.
    Irq = 9,
    /// SGI signal; `paddr` holds the SGI number, `extra` the target.
    SgiSignal = 10,
}

impl ObjectKindCode {
    /// Every code, by number.
    pub const ALL: [Self; 11] = [
        Self::Untyped,
        Self::Tcb,
        Self::Endpoint,
        Self::Notification,
        Self::CNode,
        Self::Frame,
        Self::PageTable,
        Self::VSpace,
        Self::AsidPool,
        Self::Irq,
        Self::SgiSignal,
    ];

    /// Decodes a byte.
    pub fn from_u8(b: u8) -> Option<Self> {
        Self::ALL.get(b as usize).copied()
    }

    /// The seL4 object type the root task retypes for this object, if it is
    /// made by Untyped_Retype (ASID pools come from ASIDControl, IRQ handlers
    /// and SGI signals from IRQControl).
    pub fn object_type(self, size_bits: u8) -> Option<cerne_abi::object::ObjectType> {
        use cerne_abi::object::{ObjectType, HUGE_PAGE_BITS, LARGE_PAGE_BITS, PAGE_BITS};
        Some(match self {
            Self::Untyped => ObjectType::Untyped,
            Self::Tcb => ObjectType::Tcb,
            Self::Endpoint => ObjectType::Endpoint,
            Self::Notification => ObjectType::Notification,
            Self::CNode => ObjectType::CapTable,
            Self::Frame if size_bits as u32 == PAGE_BITS => ObjectType::SmallPage,
            Self::Frame if size_bits as u32 == LARGE_PAGE_BITS => ObjectType::LargePage,
            Self::Frame if size_bits as u32 == HUGE_PAGE_BITS => ObjectType::HugePage,
            Self::PageTable => ObjectType::PageTable,
            Self::VSpace => ObjectType::VSpace,
            _ => return None,
        })
    }
}

/// Bits of [`ObjectRecord::flags`].
pub mod object_flags {
    /// `index` is meaningful (an array element).
    pub const HAS_INDEX: u8 = 1 << 0;
    /// `paddr` is a fixed physical address (untyped, frame).
    pub const HAS_PADDR: u8 = 1 << 1;
    /// An untyped's `size_bits` was given.
    pub const HAS_SIZE_BITS: u8 = 1 << 2;
    /// An `arm_irq` (trigger and target given).
    pub const ARM_IRQ: u8 = 1 << 3;
    /// The `arm_irq` is edge-triggered (else level).
    pub const EDGE_TRIGGERED: u8 = 1 << 4;
    /// An ASID pool's `asid_high` is given (in `paddr`).
    pub const HAS_ASID_HIGH: u8 = 1 << 5;
}

/// One object.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ObjectRecord {
    /// [`ObjectKindCode`].
    pub kind: u8,
    /// [`object_flags`].
    pub flags: u8,
    /// Page-table level (1 pud, 2 pd, 3 pt); 0 otherwise.
    pub level: u8,
    /// log2 size: untyped bytes, CNode slots, frame bytes.
    pub size_bits: u8,
    /// The name's base.
    pub name: StrRef,
    /// Array element index.
    pub index: U64,
    /// Physical address, or see [`ObjectKindCode`].
    pub paddr: U64,
    /// See [`ObjectKindCode`].
    pub extra: U64,
    /// First cap in the caps section.
    pub first_cap: U32,
    /// Number of caps.
    pub cap_count: U32,
    /// TCB record, first fill or first cover (by kind).
    pub detail: U32,
    /// Number of fills or covers.
    pub detail_count: U32,
}

/// What a cap points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum CapTargetCode {
    /// `target` is an object index.
    Object = 0,
    /// The IRQ control cap.
    IrqControl = 1,
    /// The ASID control cap.
    AsidControl = 2,
    /// The domain cap.
    Domain = 3,
}

impl CapTargetCode {
    /// Decodes a byte.
    pub fn from_u8(b: u8) -> Option<Self> {
        [
            Self::Object,
            Self::IrqControl,
            Self::AsidControl,
            Self::Domain,
        ]
        .get(b as usize)
        .copied()
    }
}

/// Bits of [`CapRecord::flags`].
pub mod cap_flags {
    /// The frame mapping is uncached (Device memory).
    pub const UNCACHED: u8 = 1 << 0;
    /// `mapping_table` / `mapping_slot` are given.
    pub const HAS_MAPPING: u8 = 1 << 1;
    /// `asid_high` / `asid_low` are given.
    pub const HAS_ASID: u8 = 1 << 2;
    /// A reply cap to the TCB.
    pub const REPLY: u8 = 1 << 3;
    /// A master reply cap to the TCB.
    pub const MASTER_REPLY: u8 = 1 << 4;
}

/// One cap in a slot.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct CapRecord {
    /// The slot in its container.
    pub slot: U64,
    /// Object index, or [`NO_OBJECT`].
    pub target: U32,
    /// [`CapTargetCode`].
    pub target_kind: u8,
    /// seL4_CapRights word (bit 0 W, 1 R, 2 G, 3 GR).
    pub rights: u8,
    /// [`cap_flags`].
    pub flags: u8,
    /// CNode guard size.
    pub guard_size: u8,
    /// Badge (endpoint, notification).
    pub badge: U64,
    /// Guard (CNode).
    pub guard: U64,
    /// Object index of the table that maps this frame.
    pub mapping_table: U32,
    /// Slot of that table.
    pub mapping_slot: U64,
    /// ASID pool index.
    pub asid_high: U16,
    /// ASID index in the pool.
    pub asid_low: U16,
}

/// Bits of [`TcbRecord::present`]: which optional fields were given.
pub mod tcb_fields {
    /// IPC buffer address.
    pub const IPC_BUFFER_ADDR: u16 = 1 << 0;
    /// ip.
    pub const IP: u16 = 1 << 1;
    /// sp.
    pub const SP: u16 = 1 << 2;
    /// prio.
    pub const PRIO: u16 = 1 << 3;
    /// max_prio.
    pub const MAX_PRIO: u16 = 1 << 4;
    /// affinity.
    pub const AFFINITY: u16 = 1 << 5;
    /// dom.
    pub const DOM: u16 = 1 << 6;
    /// fault_ep.
    pub const FAULT_EP: u16 = 1 << 7;
    /// resume.
    pub const RESUME: u16 = 1 << 8;
    /// fpu_disabled.
    pub const FPU_DISABLED: u16 = 1 << 9;
}

/// A TCB's configuration.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct TcbRecord {
    /// [`tcb_fields`].
    pub present: U16,
    /// resume value (0/1).
    pub resume: u8,
    /// fpu_disabled value (0/1).
    pub fpu_disabled: u8,
    /// IPC buffer vaddr.
    pub ipc_buffer_addr: U64,
    /// Initial PC.
    pub ip: U64,
    /// Initial SP.
    pub sp: U64,
    /// Priority.
    pub prio: U64,
    /// MCP.
    pub max_prio: U64,
    /// Core.
    pub affinity: U64,
    /// Domain.
    pub dom: U64,
    /// Fault endpoint CPtr.
    pub fault_ep: U64,
    /// First init argument in the words section.
    pub init_first: U32,
    /// Number of init arguments.
    pub init_count: U32,
}

/// One fill entry: its words joined by single spaces.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct FillRecord {
    /// The text.
    pub text: StrRef,
}

/// One covered object of an untyped.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct CoverRecord {
    /// Object index.
    pub object: U32,
}

/// One line of the IRQ map.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct IrqRecord {
    /// IRQ number.
    pub irq: U64,
    /// The IRQ object's index.
    pub object: U32,
}

/// One derivation edge.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct CdtRecord {
    /// Parent container's index.
    pub parent_object: U32,
    /// Parent slot.
    pub parent_slot: U64,
    /// Child container's index.
    pub child_object: U32,
    /// Child slot.
    pub child_slot: U64,
}

/// Why bytes are not a compact spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than the header.
    TooShort,
    /// The magic is wrong.
    BadMagic,
    /// Another layout version.
    UnsupportedVersion(u32),
    /// A section lies outside the bytes (section number).
    SectionOutOfBounds(usize),
    /// A record names a range or index outside its table (object index, or
    /// record index in its section).
    BadReference(u32),
    /// A string is outside the strings section or not UTF-8.
    BadString,
    /// An unknown object kind or cap target code.
    BadCode(u32),
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooShort => write!(f, "shorter than a compact spec header"),
            Self::BadMagic => write!(f, "not a compact spec (bad magic)"),
            Self::UnsupportedVersion(v) => {
                write!(f, "compact spec version {v}, expected {VERSION}")
            }
            Self::SectionOutOfBounds(s) => write!(f, "section {s} lies outside the bytes"),
            Self::BadReference(i) => write!(f, "record {i} refers outside its table"),
            Self::BadString => write!(f, "a string is out of bounds or not UTF-8"),
            Self::BadCode(i) => write!(f, "record {i} has an unknown type code"),
        }
    }
}

/// A checked view of a compact spec. Copyable, holds only slices.
#[derive(Clone, Copy, Debug)]
pub struct SpecView<'a> {
    /// Objects, by index.
    pub objects: &'a [ObjectRecord],
    /// Caps of all objects.
    pub caps: &'a [CapRecord],
    /// TCB records.
    pub tcbs: &'a [TcbRecord],
    /// Fill entries.
    pub fills: &'a [FillRecord],
    /// Init arguments.
    pub words: &'a [U64],
    /// Untyped covers.
    pub covers: &'a [CoverRecord],
    /// IRQ map.
    pub irqs: &'a [IrqRecord],
    /// Derivation edges.
    pub cdt: &'a [CdtRecord],
    strings: &'a [u8],
}

fn section<'a, T: FromBytes + KnownLayout + Immutable + Unaligned>(
    bytes: &'a [u8],
    header: &Header,
    which: Section,
) -> Result<&'a [T], DecodeError> {
    let d = header.sections[which as usize];
    let err = DecodeError::SectionOutOfBounds(which as usize);
    let start = d.offset.get() as usize;
    let len = (d.count.get() as usize)
        .checked_mul(core::mem::size_of::<T>())
        .ok_or(err)?;
    let end = start.checked_add(len).ok_or(err)?;
    let raw = bytes.get(start..end).ok_or(err)?;
    <[T]>::ref_from_bytes(raw).map_err(|_| err)
}

fn in_range(first: u32, count: u32, len: usize) -> bool {
    (first as u64) + (count as u64) <= len as u64
}

impl<'a> SpecView<'a> {
    /// Checks `bytes` and returns a view of them.
    pub fn new(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let (header, _) = Header::ref_from_prefix(bytes).map_err(|_| DecodeError::TooShort)?;
        if header.magic != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        if header.version.get() != VERSION {
            return Err(DecodeError::UnsupportedVersion(header.version.get()));
        }
        let view = Self {
            objects: section(bytes, header, Section::Objects)?,
            caps: section(bytes, header, Section::Caps)?,
            tcbs: section(bytes, header, Section::Tcbs)?,
            fills: section(bytes, header, Section::Fills)?,
            words: section(bytes, header, Section::Words)?,
            covers: section(bytes, header, Section::Covers)?,
            irqs: section(bytes, header, Section::Irqs)?,
            cdt: section(bytes, header, Section::Cdt)?,
            strings: section(bytes, header, Section::Strings)?,
        };
        view.check()?;
        Ok(view)
    }

    fn check(&self) -> Result<(), DecodeError> {
        let objects = self.objects.len();
        let object_ok = |i: u32| (i as usize) < objects;
        for (i, o) in self.objects.iter().enumerate() {
            let i = i as u32;
            let kind = ObjectKindCode::from_u8(o.kind).ok_or(DecodeError::BadCode(i))?;
            self.str(o.name)?;
            if !in_range(o.first_cap.get(), o.cap_count.get(), self.caps.len()) {
                return Err(DecodeError::BadReference(i));
            }
            let detail_ok = match kind {
                ObjectKindCode::Tcb => (o.detail.get() as usize) < self.tcbs.len(),
                ObjectKindCode::Frame => {
                    in_range(o.detail.get(), o.detail_count.get(), self.fills.len())
                }
                ObjectKindCode::Untyped => {
                    in_range(o.detail.get(), o.detail_count.get(), self.covers.len())
                }
                _ => true,
            };
            if !detail_ok {
                return Err(DecodeError::BadReference(i));
            }
        }
        for (i, c) in self.caps.iter().enumerate() {
            let i = i as u32;
            match CapTargetCode::from_u8(c.target_kind).ok_or(DecodeError::BadCode(i))? {
                CapTargetCode::Object if !object_ok(c.target.get()) => {
                    return Err(DecodeError::BadReference(i))
                }
                _ => {}
            }
            if c.flags & cap_flags::HAS_MAPPING != 0 && !object_ok(c.mapping_table.get()) {
                return Err(DecodeError::BadReference(i));
            }
        }
        for (i, t) in self.tcbs.iter().enumerate() {
            if !in_range(t.init_first.get(), t.init_count.get(), self.words.len()) {
                return Err(DecodeError::BadReference(i as u32));
            }
        }
        for f in self.fills {
            self.str(f.text)?;
        }
        for (i, c) in self.covers.iter().enumerate() {
            if !object_ok(c.object.get()) {
                return Err(DecodeError::BadReference(i as u32));
            }
        }
        for (i, r) in self.irqs.iter().enumerate() {
            if !object_ok(r.object.get()) {
                return Err(DecodeError::BadReference(i as u32));
            }
        }
        for (i, e) in self.cdt.iter().enumerate() {
            if !object_ok(e.parent_object.get()) || !object_ok(e.child_object.get()) {
                return Err(DecodeError::BadReference(i as u32));
            }
        }
        Ok(())
    }

    /// The text of a string reference.
    pub fn str(&self, r: StrRef) -> Result<&'a str, DecodeError> {
        let start = r.offset.get() as usize;
        let end = start
            .checked_add(r.len.get() as usize)
            .ok_or(DecodeError::BadString)?;
        let bytes = self.strings.get(start..end).ok_or(DecodeError::BadString)?;
        core::str::from_utf8(bytes).map_err(|_| DecodeError::BadString)
    }

    /// Number of objects.
    pub fn object_count(&self) -> usize {
        self.objects.len()
    }

    /// Object `index`.
    pub fn object(&self, index: usize) -> Option<ObjectView<'a>> {
        self.objects.get(index).map(|record| ObjectView {
            spec: *self,
            index,
            record,
        })
    }

    /// Every object, in spec order.
    pub fn iter_objects(&self) -> impl Iterator<Item = ObjectView<'a>> + 'a {
        let spec = *self;
        (0..self.objects.len()).filter_map(move |i| spec.object(i))
    }

    /// The object a cap points at (`None` for the control caps).
    pub fn target(&self, cap: &CapRecord) -> Option<ObjectView<'a>> {
        (cap.target_kind == CapTargetCode::Object as u8)
            .then(|| self.object(cap.target.get() as usize))
            .flatten()
    }

    /// Every table and frame mapped under the VSpace object `vspace`, with
    /// its virtual address (docs/sel4-abi.md §9.1: a level-n entry spans
    /// 2^(12 + 9·(3−n)) bytes).
    pub fn mappings(&self, vspace: usize) -> Mappings<'a> {
        let is_vspace = self
            .object(vspace)
            .is_some_and(|o| o.kind() == ObjectKindCode::VSpace);
        Mappings {
            spec: *self,
            stack: [(vspace, 0, 0); 4],
            depth: usize::from(is_vspace),
        }
    }

    /// The words of fill entry text, split at spaces.
    pub fn fill_words(&self, fill: &FillRecord) -> impl Iterator<Item = &'a str> {
        self.str(fill.text)
            .unwrap_or("")
            .split(' ')
            .filter(|w| !w.is_empty())
    }
}

/// One entry met while walking a VSpace: a cap in a slot of the VSpace or of
/// a page table below it, and the virtual address that slot maps.
#[derive(Clone, Copy, Debug)]
pub struct Mapping<'a> {
    /// The virtual address the slot maps.
    pub vaddr: u64,
    /// The level of the table holding the cap (0 = the VSpace, 3 = a `pt`).
    pub level: u8,
    /// The table's object index.
    pub table: usize,
    /// The cap (a frame cap, or a cap to the next table down).
    pub cap: &'a CapRecord,
    /// The object the cap points at.
    pub target: usize,
}

/// Iterator over a VSpace's tables and frames, depth first in slot order,
/// with a fixed four-level stack: no heap. Made by [`SpecView::mappings`].
#[derive(Clone, Debug)]
pub struct Mappings<'a> {
    spec: SpecView<'a>,
    /// (table object, next cap position, base vaddr) per level.
    stack: [(usize, usize, u64); 4],
    depth: usize,
}

impl<'a> Iterator for Mappings<'a> {
    type Item = Mapping<'a>;

    fn next(&mut self) -> Option<Mapping<'a>> {
        while self.depth > 0 {
            let (table, position, base) = self.stack[self.depth - 1];
            let Some(table_view) = self.spec.object(table) else {
                self.depth -= 1;
                continue;
            };
            let Some(cap) = table_view.caps().get(position) else {
                self.depth -= 1;
                continue;
            };
            self.stack[self.depth - 1].1 = position + 1;
            if cap.target_kind != CapTargetCode::Object as u8 {
                continue;
            }
            let level = match table_view.kind() {
                ObjectKindCode::VSpace => 0,
                ObjectKindCode::PageTable => table_view.record.level.min(3),
                _ => continue,
            };
            let span_bits = 12 + 9 * (3 - level as u32);
            let Some(vaddr) = cap
                .slot
                .get()
                .checked_shl(span_bits)
                .filter(|v| v >> span_bits == cap.slot.get())
                .and_then(|offset| base.checked_add(offset))
            else {
                continue;
            };
            let target = cap.target.get() as usize;
            let is_table = self
                .spec
                .object(target)
                .is_some_and(|t| t.kind() == ObjectKindCode::PageTable);
            if is_table && self.depth < self.stack.len() {
                self.stack[self.depth] = (target, 0, vaddr);
                self.depth += 1;
            }
            return Some(Mapping {
                vaddr,
                level,
                table,
                cap,
                target,
            });
        }
        None
    }
}

/// One object of a [`SpecView`].
#[derive(Clone, Copy, Debug)]
pub struct ObjectView<'a> {
    spec: SpecView<'a>,
    /// Its index.
    pub index: usize,
    /// Its record.
    pub record: &'a ObjectRecord,
}

impl<'a> ObjectView<'a> {
    /// Its kind (checked by [`SpecView::new`]).
    pub fn kind(&self) -> ObjectKindCode {
        ObjectKindCode::from_u8(self.record.kind).unwrap_or(ObjectKindCode::Untyped)
    }

    /// Its name's base (checked by [`SpecView::new`]).
    pub fn name(&self) -> &'a str {
        self.spec.str(self.record.name).unwrap_or("")
    }

    /// Its array index, for an element.
    pub fn index_in_array(&self) -> Option<u64> {
        (self.record.flags & object_flags::HAS_INDEX != 0).then(|| self.record.index.get())
    }

    /// Its caps.
    pub fn caps(&self) -> &'a [CapRecord] {
        let first = self.record.first_cap.get() as usize;
        let count = self.record.cap_count.get() as usize;
        self.spec
            .caps
            .get(first..first.saturating_add(count))
            .unwrap_or(&[])
    }

    /// Its TCB configuration, for a TCB.
    pub fn tcb(&self) -> Option<&'a TcbRecord> {
        (self.kind() == ObjectKindCode::Tcb)
            .then(|| self.spec.tcbs.get(self.record.detail.get() as usize))
            .flatten()
    }

    /// Init arguments of a TCB.
    pub fn init_arguments(&self) -> &'a [U64] {
        self.tcb()
            .and_then(|t| {
                let first = t.init_first.get() as usize;
                self.spec
                    .words
                    .get(first..first.saturating_add(t.init_count.get() as usize))
            })
            .unwrap_or(&[])
    }

    fn detail_run<T>(&self, table: &'a [T], kind: ObjectKindCode) -> &'a [T] {
        if self.kind() != kind {
            return &[];
        }
        let first = self.record.detail.get() as usize;
        table
            .get(first..first.saturating_add(self.record.detail_count.get() as usize))
            .unwrap_or(&[])
    }

    /// A frame's fill entries.
    pub fn fills(&self) -> &'a [FillRecord] {
        self.detail_run(self.spec.fills, ObjectKindCode::Frame)
    }

    /// The objects an untyped covers.
    pub fn covers(&self) -> &'a [CoverRecord] {
        self.detail_run(self.spec.covers, ObjectKindCode::Untyped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_sizes_are_fixed() {
        assert_eq!(
            core::mem::size_of::<Header>(),
            8 + 4 + 4 + 8 * SECTION_COUNT
        );
        assert_eq!(core::mem::size_of::<ObjectRecord>(), 52);
        assert_eq!(core::mem::size_of::<CapRecord>(), 48);
        assert_eq!(core::mem::align_of::<CapRecord>(), 1);
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(SpecView::new(&[]).unwrap_err(), DecodeError::TooShort);
        assert_eq!(
            SpecView::new(&[0u8; 200]).unwrap_err(),
            DecodeError::BadMagic
        );
    }
}
