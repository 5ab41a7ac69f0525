//! A tiny ELF64 writer for the tests: a file header, the program header
//! table right after it, then each segment's bytes in turn.

use alloc::vec::Vec;

/// `PT_LOAD`.
pub const PT_LOAD: u32 = 1;
/// `PT_NOTE`.
pub const PT_NOTE: u32 = 4;
/// `PT_GNU_STACK`.
pub const PT_GNU_STACK: u32 = 0x6474_e551;
/// `PF_X`, `PF_W`, `PF_R`.
pub const PF_X: u32 = 1;
/// Writable.
pub const PF_W: u32 = 2;
/// Readable.
pub const PF_R: u32 = 4;

/// Offsets of the file header's fields.
pub mod header {
    /// `e_ident[EI_CLASS]`.
    pub const CLASS: usize = 4;
    /// `e_ident[EI_DATA]`.
    pub const DATA: usize = 5;
    /// `e_type` (u16).
    pub const TYPE: usize = 16;
    /// `e_machine` (u16).
    pub const MACHINE: usize = 18;
    /// `e_entry` (u64).
    pub const ENTRY: usize = 24;
    /// `e_phoff` (u64).
    pub const PHOFF: usize = 32;
    /// `e_phentsize` (u16).
    pub const PHENTSIZE: usize = 54;
    /// `e_phnum` (u16).
    pub const PHNUM: usize = 56;
}

/// Offsets of a program header's fields, from the entry's start.
pub mod phdr {
    /// `p_type` (u32).
    pub const TYPE: usize = 0;
    /// `p_flags` (u32).
    pub const FLAGS: usize = 4;
    /// `p_offset` (u64).
    pub const OFFSET: usize = 8;
    /// `p_vaddr` (u64).
    pub const VADDR: usize = 16;
    /// `p_filesz` (u64).
    pub const FILESZ: usize = 32;
    /// `p_memsz` (u64).
    pub const MEMSZ: usize = 40;
}

/// Where the program header table starts.
pub const PHDR_TABLE: usize = 64;
/// The size of a program header.
pub const PHDR_SIZE: usize = 56;

/// One program header and the bytes it takes from the file.
#[derive(Clone, Debug)]
pub struct SegmentSpec {
    pub kind: u32,
    pub flags: u32,
    pub vaddr: u64,
    pub memsz: u64,
    pub bytes: Vec<u8>,
}

impl SegmentSpec {
    /// A `PT_LOAD` segment.
    pub fn load(flags: u32, vaddr: u64, memsz: u64, bytes: Vec<u8>) -> Self {
        SegmentSpec {
            kind: PT_LOAD,
            flags,
            vaddr,
            memsz,
            bytes,
        }
    }
}

/// What to write: an AArch64 `ET_EXEC` with these segments.
#[derive(Clone, Debug)]
pub struct ElfSpec {
    pub entry: u64,
    pub segments: Vec<SegmentSpec>,
}

impl ElfSpec {
    /// The file, and where each segment's bytes start in it.
    pub fn write(&self) -> (Vec<u8>, Vec<u64>) {
        let mut file = Vec::new();
        file.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
        file.resize(16, 0);
        file.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        file.extend_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
        file.extend_from_slice(&1u32.to_le_bytes()); // EV_CURRENT
        file.extend_from_slice(&self.entry.to_le_bytes());
        file.extend_from_slice(&(PHDR_TABLE as u64).to_le_bytes());
        file.extend_from_slice(&0u64.to_le_bytes()); // no section headers
        file.extend_from_slice(&0u32.to_le_bytes()); // e_flags
        file.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
        file.extend_from_slice(&(PHDR_SIZE as u16).to_le_bytes());
        file.extend_from_slice(&(self.segments.len() as u16).to_le_bytes());
        file.extend_from_slice(&[0; 6]); // e_shentsize, e_shnum, e_shstrndx
        assert_eq!(file.len(), PHDR_TABLE);
        let mut offset = (PHDR_TABLE + PHDR_SIZE * self.segments.len()) as u64;
        let mut offsets = Vec::new();
        for segment in &self.segments {
            offsets.push(offset);
            file.extend_from_slice(&segment.kind.to_le_bytes());
            file.extend_from_slice(&segment.flags.to_le_bytes());
            file.extend_from_slice(&offset.to_le_bytes());
            file.extend_from_slice(&segment.vaddr.to_le_bytes()); // p_vaddr
            file.extend_from_slice(&segment.vaddr.to_le_bytes()); // p_paddr
            file.extend_from_slice(&(segment.bytes.len() as u64).to_le_bytes());
            file.extend_from_slice(&segment.memsz.to_le_bytes());
            file.extend_from_slice(&0x1000u64.to_le_bytes()); // p_align
            offset += segment.bytes.len() as u64;
        }
        for segment in &self.segments {
            file.extend_from_slice(&segment.bytes);
        }
        (file, offsets)
    }
}

/// Overwrites `bytes.len()` bytes at `at`.
pub fn patch(file: &mut [u8], at: usize, bytes: &[u8]) {
    file[at..at + bytes.len()].copy_from_slice(bytes);
}

/// Overwrites a field of program header `index`.
pub fn patch_phdr(file: &mut [u8], index: usize, field: usize, bytes: &[u8]) {
    patch(file, PHDR_TABLE + index * PHDR_SIZE + field, bytes);
}
