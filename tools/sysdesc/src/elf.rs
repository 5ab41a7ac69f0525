//! Reading a component's program: an AArch64 ELF64 executable's entry point
//! and PT_LOAD segments, through `xmas-elf`. Malformed files are errors,
//! never panics: the header and the program-header table are checked before
//! `xmas-elf` walks them, and the bytes are copied to an 8-byte aligned
//! buffer first (its readers assert alignment).

use xmas_elf::header::{Class, Data, Machine, Type};
use xmas_elf::program::{ProgramHeader, Type as SegmentType};
use xmas_elf::ElfFile;
use zerocopy::IntoBytes;

/// PF_W in a program header's flags.
const PF_W: u32 = 2;
/// PF_X in a program header's flags.
const PF_X: u32 = 1;
/// The size of an ELF64 file header.
const HEADER64_SIZE: usize = 64;
/// The size of an ELF64 program header.
const PHDR64_SIZE: u64 = 56;

/// One PT_LOAD segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Where it goes.
    pub vaddr: u64,
    /// Bytes in memory (file data, then zeros).
    pub memsz: u64,
    /// Where its file data starts in the file.
    pub offset: u64,
    /// Bytes of file data.
    pub filesz: u64,
    /// PF_W.
    pub writable: bool,
    /// PF_X.
    pub executable: bool,
}

/// What the expansion needs of a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// The entry point.
    pub entry: u64,
    /// The PT_LOAD segments with a non-zero size, in file order.
    pub segments: Vec<Segment>,
    /// One past the last byte of the program header table in the file (a
    /// supervisor reads the table from the file's first page).
    pub headers_end: u64,
}

/// Reads `bytes` as an AArch64 little-endian ELF64 executable. The error
/// says what is wrong, for a diagnostic.
pub fn read(bytes: &[u8]) -> Result<Program, String> {
    // xmas-elf (through `zero`) asserts that its structures are aligned.
    let mut words = vec![0u64; bytes.len().div_ceil(8)];
    words.as_mut_bytes()[..bytes.len()].copy_from_slice(bytes);
    let data = &words.as_bytes()[..bytes.len()];

    if data.len() < HEADER64_SIZE || data[..4] != [0x7f, b'E', b'L', b'F'] {
        return Err("it is not an ELF file (no ELF magic number, or shorter than a header)".into());
    }
    let elf = ElfFile::new(data).map_err(|e| format!("it is not a readable ELF file: {e}"))?;
    if elf.header.pt1.class() != Class::SixtyFour {
        return Err("it is not an ELF64 file (expected ELFCLASS64)".into());
    }
    if elf.header.pt1.data() != Data::LittleEndian {
        return Err("it is not little-endian (expected ELFDATA2LSB)".into());
    }
    let pt2 = &elf.header.pt2;
    if pt2.machine().as_machine() != Machine::AArch64 {
        return Err(format!(
            "it is not an AArch64 ELF (e_machine {:?}, expected AArch64)",
            pt2.machine().as_machine()
        ));
    }
    if pt2.type_().as_type() != Type::Executable {
        return Err(format!(
            "it is not an executable (e_type {:?}, expected ET_EXEC)",
            pt2.type_().as_type()
        ));
    }
    let count = u64::from(pt2.ph_count());
    let table_end = u64::from(pt2.ph_entry_size())
        .checked_mul(count)
        .and_then(|n| n.checked_add(pt2.ph_offset()));
    if count > 0
        && (u64::from(pt2.ph_entry_size()) != PHDR64_SIZE
            || !pt2.ph_offset().is_multiple_of(8)
            || pt2.ph_offset() == 0
            || table_end.is_none_or(|end| end > data.len() as u64))
    {
        return Err("its program header table is malformed or lies outside the file".into());
    }
    let mut segments = Vec::new();
    for ph in elf.program_iter() {
        let ProgramHeader::Ph64(ph) = ph else {
            return Err("it has a 32-bit program header".into());
        };
        if !matches!(ph.get_type(), Ok(SegmentType::Load)) || ph.mem_size == 0 {
            continue;
        }
        let s = Segment {
            vaddr: ph.virtual_addr,
            memsz: ph.mem_size,
            offset: ph.offset,
            filesz: ph.file_size,
            writable: ph.flags.0 & PF_W != 0,
            executable: ph.flags.0 & PF_X != 0,
        };
        if s.filesz > s.memsz {
            return Err(format!(
                "its PT_LOAD segment at {:#x} has more file bytes ({:#x}) than memory bytes ({:#x})",
                s.vaddr, s.filesz, s.memsz
            ));
        }
        if s.offset
            .checked_add(s.filesz)
            .is_none_or(|end| end > data.len() as u64)
        {
            return Err(format!(
                "its PT_LOAD segment at {:#x} has file data ({:#x}..+{:#x}) beyond the end of the file ({:#x} bytes)",
                s.vaddr,
                s.offset,
                s.filesz,
                data.len()
            ));
        }
        if s.vaddr.checked_add(s.memsz).is_none() {
            return Err(format!(
                "its PT_LOAD segment at {:#x} wraps around the address space",
                s.vaddr
            ));
        }
        segments.push(s);
    }
    if segments.is_empty() {
        return Err("it has no PT_LOAD segment".into());
    }
    for (i, a) in segments.iter().enumerate() {
        for b in &segments[i + 1..] {
            if a.vaddr < b.vaddr + b.memsz && b.vaddr < a.vaddr + a.memsz {
                return Err(format!(
                    "its PT_LOAD segments at {:#x} and {:#x} overlap",
                    a.vaddr, b.vaddr
                ));
            }
        }
    }
    let entry = pt2.entry_point();
    if !segments
        .iter()
        .any(|s| (s.vaddr..s.vaddr + s.memsz).contains(&entry))
    {
        return Err(format!(
            "its entry point {entry:#x} is in no PT_LOAD segment"
        ));
    }
    Ok(Program {
        entry,
        segments,
        headers_end: table_end
            .unwrap_or(HEADER64_SIZE as u64)
            .max(HEADER64_SIZE as u64),
    })
}
