//! Shared by the tests: a tiny AArch64 ELF64 builder and the good systems.
#![allow(dead_code)]

use std::path::PathBuf;

/// Where the test files are.
pub fn dir(sub: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(sub)
}

/// The text of `tests/good/NAME`.
pub fn good(name: &str) -> String {
    std::fs::read_to_string(dir("good").join(name)).expect("good file")
}

/// One program header for [`elf`].
#[derive(Clone, Copy)]
pub struct Seg {
    pub vaddr: u64,
    pub offset: u64,
    pub filesz: u64,
    pub memsz: u64,
    /// PF_R = 4, PF_W = 2, PF_X = 1.
    pub flags: u32,
}

pub const ET_EXEC: u16 = 2;
pub const EM_AARCH64: u16 = 183;

/// An ELF64 little-endian file: header, program headers right after it,
/// file bytes up to `len` filled with a pattern (byte i = i % 251).
pub fn elf_with(machine: u16, kind: u16, entry: u64, segs: &[Seg], len: usize) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let mut h = Vec::new();
    h.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&kind.to_le_bytes());
    h.extend_from_slice(&machine.to_le_bytes());
    h.extend_from_slice(&1u32.to_le_bytes());
    h.extend_from_slice(&entry.to_le_bytes());
    h.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
    h.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    h.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    h.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
    h.extend_from_slice(&56u16.to_le_bytes()); // e_phentsize
    h.extend_from_slice(&(segs.len() as u16).to_le_bytes());
    h.extend_from_slice(&64u16.to_le_bytes()); // e_shentsize
    h.extend_from_slice(&0u16.to_le_bytes()); // e_shnum
    h.extend_from_slice(&0u16.to_le_bytes()); // e_shstrndx
    assert_eq!(h.len(), 64);
    for s in segs {
        h.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        h.extend_from_slice(&s.flags.to_le_bytes());
        h.extend_from_slice(&s.offset.to_le_bytes());
        h.extend_from_slice(&s.vaddr.to_le_bytes());
        h.extend_from_slice(&s.vaddr.to_le_bytes());
        h.extend_from_slice(&s.filesz.to_le_bytes());
        h.extend_from_slice(&s.memsz.to_le_bytes());
        h.extend_from_slice(&0x1000u64.to_le_bytes());
    }
    assert!(h.len() <= len);
    f[..h.len()].copy_from_slice(&h);
    f
}

/// The text segment (RX) of [`program`].
pub const TEXT: Seg = Seg {
    vaddr: 0x40_0000,
    offset: 0x1000,
    filesz: 0x1800,
    memsz: 0x1800,
    flags: 4 | 1,
};
/// The data segment (RW, with bss) of [`program`]: it starts in the text's
/// last page, so that page holds two fills.
pub const DATA: Seg = Seg {
    vaddr: 0x40_1800,
    offset: 0x2800,
    filesz: 0x100,
    memsz: 0x3000,
    flags: 4 | 2,
};
/// The entry point of [`program`].
pub const ENTRY: u64 = 0x40_0010;

/// A minimal program: two PT_LOAD segments, one RX, one RW with bss.
pub fn program() -> Vec<u8> {
    elf_with(EM_AARCH64, ET_EXEC, ENTRY, &[TEXT, DATA], 0x2900)
}

/// A loader that gives [`program`] for any name, remembering the names.
pub fn loader(asked: &mut Vec<String>) -> impl FnMut(&str) -> Result<Vec<u8>, String> + '_ {
    move |name: &str| {
        asked.push(name.to_string());
        Ok(program())
    }
}
