//! Builders for the host tests: minimal AArch64 ELF64 executables.

use std::vec::Vec;

/// One PT_LOAD segment to put in a test ELF.
pub struct Seg<'a> {
    pub vaddr: u64,
    pub paddr: u64,
    pub data: &'a [u8],
    pub mem_size: u64,
}

/// `bytes`, checked to be 8-byte aligned: the ELF parser reads headers in
/// place (the system allocator gives 16-byte alignment to these sizes).
pub fn aligned(bytes: Vec<u8>) -> Vec<u8> {
    assert_eq!(bytes.as_ptr() as usize % 8, 0, "test buffer not 8-aligned");
    bytes
}

/// An ELF64 AArch64 executable with `segments` and entry `entry`.
pub fn elf(entry: u64, segments: &[Seg<'_>]) -> Vec<u8> {
    let phoff = 64u64;
    let phnum = segments.len() as u16;
    let mut out = Vec::with_capacity(0x10000);
    out.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    out.extend_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&entry.to_le_bytes());
    out.extend_from_slice(&phoff.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes()); // no sections
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&64u16.to_le_bytes());
    out.extend_from_slice(&56u16.to_le_bytes());
    out.extend_from_slice(&phnum.to_le_bytes());
    out.extend_from_slice(&64u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    assert_eq!(out.len(), 64);
    let mut offset = 0x1000u64;
    let mut data = Vec::new();
    for s in segments {
        out.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        out.extend_from_slice(&7u32.to_le_bytes()); // RWX
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&s.vaddr.to_le_bytes());
        out.extend_from_slice(&s.paddr.to_le_bytes());
        out.extend_from_slice(&(s.data.len() as u64).to_le_bytes());
        out.extend_from_slice(&s.mem_size.to_le_bytes());
        out.extend_from_slice(&0x1000u64.to_le_bytes());
        data.push((offset, s.data));
        offset += (s.data.len() as u64).div_ceil(0x1000).max(1) * 0x1000;
    }
    out.resize(offset as usize, 0);
    for (at, bytes) in data {
        out[at as usize..at as usize + bytes.len()].copy_from_slice(bytes);
    }
    aligned(out)
}
