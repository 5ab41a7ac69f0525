//! ELF load plans: checking an executable against the address-space layout
//! a process gets, and turning it into the pages to map.
//!
//! [`plan`] accepts only what the process manager can load as it is: a
//! 64-bit little-endian AArch64 executable linked at a fixed address
//! (`ET_EXEC`), with 1 to [`MAX_LOAD_SEGMENTS`] `PT_LOAD` segments. Each
//! segment's pages must lie inside the user range, off every reserved range
//! (the stack and its guard page, the IPC buffer), and apart from every
//! other segment's pages, because a page has one set of permissions. No
//! segment may be both writable and executable, the entry point must be in
//! an executable segment, and all the pages together must fit the budget.
//! Other program headers (`PT_GNU_STACK`, `PT_NOTE`, ...) are ignored.
//!
//! `xmas-elf` reads the headers, but only after this module has checked
//! everything it would index or assert on, and from an aligned copy (its
//! readers assert alignment): a malformed file is a [`LoadError`], never a
//! panic.

use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;

use xmas_elf::header::{Machine, Type as FileType};
use xmas_elf::program::{Type as SegmentType, FLAG_W, FLAG_X};
use xmas_elf::ElfFile;
use zerocopy::IntoBytes;

/// The size of a page: segments are mapped in pages of this size.
pub const PAGE_SIZE: u64 = 1 << cerne_abi::object::PAGE_BITS;

/// The most `PT_LOAD` segments a program may have.
pub const MAX_LOAD_SEGMENTS: usize = 16;

/// The ELF magic number, the file's first four bytes.
const MAGIC: [u8; 4] = [0x7f, b'E', b'L', b'F'];
/// `e_ident[EI_CLASS]`: 32- or 64-bit.
const EI_CLASS: usize = 4;
/// `e_ident[EI_DATA]`: the byte order.
const EI_DATA: usize = 5;
/// `ELFCLASS64`.
const ELFCLASS64: u8 = 2;
/// `ELFDATA2LSB`: little-endian.
const ELFDATA2LSB: u8 = 1;
/// `ET_EXEC`: an executable linked at a fixed address.
const ET_EXEC: u16 = 2;
/// `ET_DYN`: a shared object or a position-independent executable.
const ET_DYN: u16 = 3;
/// `EM_AARCH64`.
const EM_AARCH64: u16 = 183;
/// The size of an ELF64 file header.
const ELF_HEADER_SIZE: usize = 64;
/// The size of an ELF64 program header.
const PROGRAM_HEADER_SIZE: usize = 56;
/// The offset of `e_machine` in the file header.
const E_MACHINE: usize = 18;
/// The offset of `e_phoff` (program header table offset) in the file header.
const E_PHOFF: usize = 32;
/// The offset of `e_phnum` (program header count) in the file header.
const E_PHNUM: usize = 56;
/// The alignment xmas-elf asserts on its 64-bit structures.
const HEADER_ALIGN: u64 = 8;

/// Where a program may be placed.
#[derive(Clone, Copy, Debug)]
pub struct Limits<'a> {
    /// The lowest user address a segment's pages may start at.
    pub user_base: u64,
    /// The end (exclusive) of the user range.
    pub user_end: u64,
    /// Address ranges no segment's page may touch: the stack and its guard
    /// page, the IPC buffer, ...
    pub reserved: &'a [Range<u64>],
    /// The most memory, in whole pages, all segments together may take.
    pub max_bytes: u64,
}

/// A segment's access rights; every segment is readable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Perms {
    /// The pages are writable.
    pub write: bool,
    /// The pages are executable.
    pub execute: bool,
}

/// One `PT_LOAD` segment of a checked program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Where the segment starts in the process (need not be page aligned).
    pub vaddr: u64,
    /// The segment's size in memory (never 0).
    pub memsz: u64,
    /// Where the segment's bytes start in the file.
    pub file_offset: u64,
    /// How many bytes come from the file (at most `memsz`); the rest of
    /// the segment is zero.
    pub filesz: u64,
    /// The rights its pages are mapped with.
    pub perms: Perms,
}

impl Segment {
    /// The pages the segment takes: its extent rounded out to whole pages.
    pub fn mapped_range(&self) -> Range<u64> {
        let start = page_down(self.vaddr);
        let end = self
            .vaddr
            .checked_add(self.memsz)
            .and_then(page_up)
            .unwrap_or(u64::MAX);
        start..end
    }

    /// The segment's extent in memory, `vaddr..vaddr + memsz`.
    pub fn memory_range(&self) -> Range<u64> {
        self.vaddr..self.vaddr.saturating_add(self.memsz)
    }
}

/// A checked program: where it starts and what to map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadPlan {
    /// The entry point, inside an executable segment.
    pub entry: u64,
    /// The segments, in ascending address order; no two share a page.
    pub segments: Vec<Segment>,
}

/// One page to map, with the file bytes to copy into it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// The page's address, page aligned.
    pub vaddr: u64,
    /// The rights to map it with.
    pub perms: Perms,
    /// If some of the page comes from the file: the offset in the page and
    /// the bytes of the file copied there. The rest of the page is zero.
    pub copy: Option<(usize, Range<usize>)>,
}

impl LoadPlan {
    /// Every page of every segment, in ascending address order.
    pub fn pages(&self) -> impl Iterator<Item = Page> + '_ {
        self.segments.iter().flat_map(|segment| {
            let pages = segment.mapped_range();
            let page_count = (pages.end - pages.start) / PAGE_SIZE;
            (0..page_count).map(move |index| {
                let vaddr = pages.start + index * PAGE_SIZE;
                let copy = file_bytes_in_page(segment, vaddr);
                Page {
                    vaddr,
                    perms: segment.perms,
                    copy,
                }
            })
        })
    }

    /// The memory the segments take, in whole pages.
    pub fn bytes(&self) -> u64 {
        self.segments
            .iter()
            .map(|segment| {
                let pages = segment.mapped_range();
                pages.end - pages.start
            })
            .fold(0, u64::saturating_add)
    }
}

/// The part of `segment`'s file bytes that lands in the page at `page`.
fn file_bytes_in_page(segment: &Segment, page: u64) -> Option<(usize, Range<usize>)> {
    let file_end = segment.vaddr.saturating_add(segment.filesz);
    let start = page.max(segment.vaddr);
    let end = page.saturating_add(PAGE_SIZE).min(file_end);
    if start >= end {
        return None;
    }
    let in_file = segment.file_offset.saturating_add(start - segment.vaddr);
    // A plan's file ranges lie inside the file, so they fit a usize.
    let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    Some((
        to_usize(start - page),
        to_usize(in_file)..to_usize(in_file.saturating_add(end - start)),
    ))
}

/// Why a file cannot be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// The file does not start with the ELF magic number.
    NotElf,
    /// The file is not a 64-bit ELF file.
    NotSixtyFourBit {
        /// `e_ident[EI_CLASS]`.
        class: u8,
    },
    /// The file is not little-endian.
    NotLittleEndian {
        /// `e_ident[EI_DATA]`.
        data: u8,
    },
    /// The file is not an executable linked at a fixed address.
    NotExecutable {
        /// `e_type`.
        file_type: u16,
    },
    /// The file is for another machine than AArch64.
    WrongMachine {
        /// `e_machine`.
        machine: u16,
    },
    /// The file is shorter than its ELF header.
    TruncatedHeader {
        /// The file's length.
        file_len: usize,
    },
    /// The program header table is not one xmas-elf can read: entries not
    /// 56 bytes, or a table that does not start 8-byte aligned after the
    /// file header.
    BadProgramHeaderTable {
        /// `e_phoff`.
        offset: u64,
        /// `e_phentsize`.
        entry_size: u16,
    },
    /// The program header table runs past the end of the file.
    TruncatedProgramHeaders {
        /// `e_phoff`.
        offset: u64,
        /// `e_phnum`.
        count: u16,
        /// The file's length.
        file_len: usize,
    },
    /// A segment's file bytes run past the end of the file.
    TruncatedSegment {
        /// The segment's address.
        vaddr: u64,
        /// Where its bytes start in the file.
        file_offset: u64,
        /// How many bytes it takes from the file.
        filesz: u64,
        /// The file's length.
        file_len: usize,
    },
    /// There is no (non-empty) `PT_LOAD` segment.
    NoLoadSegment,
    /// There are more than [`MAX_LOAD_SEGMENTS`] `PT_LOAD` segments.
    TooManySegments {
        /// How many there are.
        count: usize,
    },
    /// A segment takes more bytes from the file than it has in memory.
    FileSizeExceedsMemSize {
        /// The segment's address.
        vaddr: u64,
        /// Its size in the file.
        filesz: u64,
        /// Its size in memory.
        memsz: u64,
    },
    /// A segment's pages are not all inside the user range (or its end
    /// does not fit 64 bits).
    OutsideUserRange {
        /// The segment's address.
        vaddr: u64,
        /// Its size in memory.
        memsz: u64,
        /// The range's start.
        user_base: u64,
        /// The range's end (exclusive).
        user_end: u64,
    },
    /// A segment's pages touch a reserved range.
    TouchesReserved {
        /// The segment's address.
        vaddr: u64,
        /// Its size in memory.
        memsz: u64,
        /// The reserved range it touches.
        reserved: Range<u64>,
    },
    /// Two segments share a page, which can have only one set of rights.
    SharedPage {
        /// The lower segment's address.
        first: u64,
        /// The higher segment's address.
        second: u64,
        /// The first page they share.
        page: u64,
    },
    /// A segment is both writable and executable (W^X).
    WritableAndExecutable {
        /// The segment's address.
        vaddr: u64,
    },
    /// The entry point is not inside an executable segment.
    EntryNotExecutable {
        /// The entry point.
        entry: u64,
    },
    /// The segments take more memory than allowed.
    TooLarge {
        /// The memory they take, in whole pages.
        bytes: u64,
        /// The most allowed.
        max_bytes: u64,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotElf => write!(f, "not an ELF file: it does not start with 7f 45 4c 46"),
            Self::NotSixtyFourBit { class } => write!(
                f,
                "not a 64-bit ELF file: EI_CLASS is {class}, expected {ELFCLASS64} (ELFCLASS64)"
            ),
            Self::NotLittleEndian { data } => write!(
                f,
                "not a little-endian ELF file: EI_DATA is {data}, expected {ELFDATA2LSB} \
                 (ELFDATA2LSB)"
            ),
            Self::NotExecutable { file_type: ET_DYN } => write!(
                f,
                "a position-independent executable or shared object (ET_DYN) cannot be \
                 loaded: link the program at a fixed address (ET_EXEC, -no-pie)"
            ),
            Self::NotExecutable { file_type } => write!(
                f,
                "not an executable: e_type is {file_type}, expected {ET_EXEC} (ET_EXEC)"
            ),
            Self::WrongMachine { machine } => write!(
                f,
                "built for another machine: e_machine is {machine}, expected {EM_AARCH64} \
                 (AArch64)"
            ),
            Self::TruncatedHeader { file_len } => write!(
                f,
                "truncated: the file is {file_len} bytes, shorter than the \
                 {ELF_HEADER_SIZE}-byte ELF header"
            ),
            Self::BadProgramHeaderTable { offset, entry_size } => write!(
                f,
                "malformed program header table at file offset {offset:#x} with \
                 {entry_size}-byte entries: expected {PROGRAM_HEADER_SIZE}-byte entries in a \
                 table 8-byte aligned after the {ELF_HEADER_SIZE}-byte ELF header"
            ),
            Self::TruncatedProgramHeaders {
                offset,
                count,
                file_len,
            } => write!(
                f,
                "truncated: {count} program headers at file offset {offset:#x} run past the \
                 end of the file ({file_len:#x} bytes)"
            ),
            Self::TruncatedSegment {
                vaddr,
                file_offset,
                filesz,
                file_len,
            } => write!(
                f,
                "truncated: the segment at {vaddr:#x} takes {filesz:#x} bytes from file offset \
                 {file_offset:#x}, past the end of the file ({file_len:#x} bytes)"
            ),
            Self::NoLoadSegment => write!(f, "no PT_LOAD segment: there is nothing to load"),
            Self::TooManySegments { count } => write!(
                f,
                "{count} PT_LOAD segments, more than the {MAX_LOAD_SEGMENTS} a program may have"
            ),
            Self::FileSizeExceedsMemSize {
                vaddr,
                filesz,
                memsz,
            } => write!(
                f,
                "the segment at {vaddr:#x} has {filesz:#x} bytes in the file but only {memsz:#x} \
                 in memory"
            ),
            Self::OutsideUserRange {
                vaddr,
                memsz,
                user_base,
                user_end,
            } => {
                match vaddr.checked_add(*memsz) {
                    Some(end) => write!(f, "the segment at {vaddr:#x}..{end:#x}")?,
                    None => write!(f, "the segment at {vaddr:#x} of {memsz:#x} bytes")?,
                }
                write!(
                    f,
                    " is not inside the user range {user_base:#x}..{user_end:#x}"
                )
            }
            Self::TouchesReserved {
                vaddr,
                memsz,
                reserved,
            } => write!(
                f,
                "the segment at {vaddr:#x}..{:#x} touches the reserved range {:#x}..{:#x}",
                vaddr.saturating_add(*memsz),
                reserved.start,
                reserved.end
            ),
            Self::SharedPage {
                first,
                second,
                page,
            } => write!(
                f,
                "the segments at {first:#x} and {second:#x} share the page at {page:#x}, \
                 which can have only one set of permissions"
            ),
            Self::WritableAndExecutable { vaddr } => write!(
                f,
                "the segment at {vaddr:#x} is both writable and executable (W^X forbids it)"
            ),
            Self::EntryNotExecutable { entry } => write!(
                f,
                "the entry point {entry:#x} is not inside an executable segment"
            ),
            Self::TooLarge { bytes, max_bytes } => write!(
                f,
                "the program takes {bytes:#x} bytes of memory, more than the {max_bytes:#x} \
                 allowed"
            ),
        }
    }
}

/// Checks `file` against `limits` and plans how to load it.
///
/// # Errors
/// The first [`LoadError`] found: the file's identity and header first,
/// then the program header table, then each segment in file order, then
/// the segments together (shared pages, entry point, size).
pub fn plan(file: &[u8], limits: &Limits) -> Result<LoadPlan, LoadError> {
    let header = read_file_header(file)?;
    let load_count = (0..header.ph_count)
        .filter(|&index| read_program_header(&header, file, index).kind == Ok(SegmentType::Load))
        .count();
    if load_count > MAX_LOAD_SEGMENTS {
        return Err(LoadError::TooManySegments { count: load_count });
    }
    let mut segments = Vec::with_capacity(load_count);
    for index in 0..header.ph_count {
        let raw = read_program_header(&header, file, index);
        if raw.kind != Ok(SegmentType::Load) {
            continue;
        }
        if let Some(segment) = check_segment(&raw, file.len(), limits)? {
            segments.push(segment);
        }
    }
    segments.sort_unstable_by_key(|segment| segment.vaddr);
    for pair in segments.windows(2) {
        let (lower, upper) = (&pair[0], &pair[1]);
        if lower.mapped_range().end > upper.mapped_range().start {
            return Err(LoadError::SharedPage {
                first: lower.vaddr,
                second: upper.vaddr,
                page: upper.mapped_range().start,
            });
        }
    }
    if segments.is_empty() {
        return Err(LoadError::NoLoadSegment);
    }
    let entry = header.entry;
    if !segments
        .iter()
        .any(|segment| segment.perms.execute && segment.memory_range().contains(&entry))
    {
        return Err(LoadError::EntryNotExecutable { entry });
    }
    let load_plan = LoadPlan { entry, segments };
    let bytes = load_plan.bytes();
    if bytes > limits.max_bytes {
        return Err(LoadError::TooLarge {
            bytes,
            max_bytes: limits.max_bytes,
        });
    }
    Ok(load_plan)
}

/// An ELF header followed by one program header, 8-byte aligned for
/// xmas-elf.
type AlignedHeaders = [u64; (ELF_HEADER_SIZE + PROGRAM_HEADER_SIZE) / 8];

/// The file header's fields that matter, checked.
struct FileHeader {
    /// An aligned copy of the file header, with room for one program header
    /// after it.
    aligned: AlignedHeaders,
    entry: u64,
    ph_offset: u64,
    ph_count: u16,
}

/// Checks the identity bytes and the file header, and that the program
/// header table lies inside the file.
fn read_file_header(file: &[u8]) -> Result<FileHeader, LoadError> {
    let magic_len = file.len().min(MAGIC.len());
    if file[..magic_len] != MAGIC[..magic_len] {
        return Err(LoadError::NotElf);
    }
    let truncated = LoadError::TruncatedHeader {
        file_len: file.len(),
    };
    match file.get(EI_CLASS) {
        None => return Err(truncated),
        Some(&ELFCLASS64) => {}
        Some(&class) => return Err(LoadError::NotSixtyFourBit { class }),
    }
    match file.get(EI_DATA) {
        None => return Err(truncated),
        Some(&ELFDATA2LSB) => {}
        Some(&data) => return Err(LoadError::NotLittleEndian { data }),
    }
    let Some(header_bytes) = file.get(..ELF_HEADER_SIZE) else {
        return Err(truncated);
    };
    let mut aligned = AlignedHeaders::default();
    aligned.as_mut_bytes()[..ELF_HEADER_SIZE].copy_from_slice(header_bytes);
    // 64 aligned bytes with the magic and ELFCLASS64: xmas-elf cannot fail.
    let elf = ElfFile::new(&aligned.as_bytes()[..ELF_HEADER_SIZE]).map_err(|_| truncated)?;
    let pt2 = &elf.header.pt2;
    let file_type = pt2.type_().0;
    if pt2.type_().as_type() != FileType::Executable {
        return Err(LoadError::NotExecutable { file_type });
    }
    if pt2.machine().as_machine() != Machine::AArch64 {
        let machine = u16::from_le_bytes([header_bytes[E_MACHINE], header_bytes[E_MACHINE + 1]]);
        return Err(LoadError::WrongMachine { machine });
    }
    let (entry, ph_offset, entry_size, ph_count) = (
        pt2.entry_point(),
        pt2.ph_offset(),
        pt2.ph_entry_size(),
        pt2.ph_count(),
    );
    if ph_count == 0 {
        return Err(LoadError::NoLoadSegment);
    }
    if usize::from(entry_size) != PROGRAM_HEADER_SIZE
        || ph_offset < ELF_HEADER_SIZE as u64
        || ph_offset % HEADER_ALIGN != 0
    {
        return Err(LoadError::BadProgramHeaderTable {
            offset: ph_offset,
            entry_size,
        });
    }
    let table_size = u64::from(ph_count) * PROGRAM_HEADER_SIZE as u64;
    if ph_offset
        .checked_add(table_size)
        .is_none_or(|end| end > file.len() as u64)
    {
        return Err(LoadError::TruncatedProgramHeaders {
            offset: ph_offset,
            count: ph_count,
            file_len: file.len(),
        });
    }
    // From now on the copy describes a table of one entry right after the
    // header, where read_program_header puts each entry in turn.
    let bytes = aligned.as_mut_bytes();
    bytes[E_PHOFF..E_PHOFF + 8].copy_from_slice(&(ELF_HEADER_SIZE as u64).to_le_bytes());
    bytes[E_PHNUM..E_PHNUM + 2].copy_from_slice(&1u16.to_le_bytes());
    Ok(FileHeader {
        aligned,
        entry,
        ph_offset,
        ph_count,
    })
}

/// A program header's fields, as the file has them.
struct RawSegment {
    /// `p_type`; xmas-elf reports types it does not know as errors.
    kind: Result<SegmentType, &'static str>,
    flags: u32,
    file_offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
}

/// Reads program header `index`, which [`read_file_header`] has checked
/// lies inside the file.
fn read_program_header(header: &FileHeader, file: &[u8], index: u16) -> RawSegment {
    let unreadable = RawSegment {
        kind: Err("unreadable"),
        flags: 0,
        file_offset: 0,
        vaddr: 0,
        filesz: 0,
        memsz: 0,
    };
    let start = usize::try_from(header.ph_offset)
        .unwrap_or(usize::MAX)
        .saturating_add(usize::from(index) * PROGRAM_HEADER_SIZE);
    let Some(entry) = file.get(start..start.saturating_add(PROGRAM_HEADER_SIZE)) else {
        return unreadable;
    };
    let mut aligned = header.aligned;
    aligned.as_mut_bytes()[ELF_HEADER_SIZE..].copy_from_slice(entry);
    let Ok(elf) = ElfFile::new(aligned.as_bytes()) else {
        return unreadable;
    };
    let Ok(ph) = elf.program_header(0) else {
        return unreadable;
    };
    RawSegment {
        kind: ph.get_type(),
        flags: ph.flags().0,
        file_offset: ph.offset(),
        vaddr: ph.virtual_addr(),
        filesz: ph.file_size(),
        memsz: ph.mem_size(),
    }
}

/// Checks one `PT_LOAD` segment on its own; an empty one (`memsz` 0) takes
/// no memory and is dropped.
fn check_segment(
    raw: &RawSegment,
    file_len: usize,
    limits: &Limits,
) -> Result<Option<Segment>, LoadError> {
    let RawSegment {
        vaddr,
        memsz,
        filesz,
        file_offset,
        ..
    } = *raw;
    if filesz > memsz {
        return Err(LoadError::FileSizeExceedsMemSize {
            vaddr,
            filesz,
            memsz,
        });
    }
    if file_offset
        .checked_add(filesz)
        .is_none_or(|end| end > file_len as u64)
    {
        return Err(LoadError::TruncatedSegment {
            vaddr,
            file_offset,
            filesz,
            file_len,
        });
    }
    if memsz == 0 {
        return Ok(None);
    }
    let pages = vaddr
        .checked_add(memsz)
        .and_then(page_up)
        .map(|end| page_down(vaddr)..end)
        .filter(|pages| pages.start >= limits.user_base && pages.end <= limits.user_end)
        .ok_or(LoadError::OutsideUserRange {
            vaddr,
            memsz,
            user_base: limits.user_base,
            user_end: limits.user_end,
        })?;
    if let Some(reserved) = limits
        .reserved
        .iter()
        .find(|reserved| reserved.start < pages.end && pages.start < reserved.end)
    {
        return Err(LoadError::TouchesReserved {
            vaddr,
            memsz,
            reserved: reserved.clone(),
        });
    }
    let perms = Perms {
        write: raw.flags & FLAG_W != 0,
        execute: raw.flags & FLAG_X != 0,
    };
    if perms.write && perms.execute {
        return Err(LoadError::WritableAndExecutable { vaddr });
    }
    Ok(Some(Segment {
        vaddr,
        memsz,
        file_offset,
        filesz,
        perms,
    }))
}

/// `address` rounded down to a page boundary.
fn page_down(address: u64) -> u64 {
    address & !(PAGE_SIZE - 1)
}

/// `address` rounded up to a page boundary, if that fits 64 bits.
fn page_up(address: u64) -> Option<u64> {
    address.checked_next_multiple_of(PAGE_SIZE)
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod writer;
