//! Sizes of an ELF image: the bytes its loadable segments occupy in memory
//! (sum of PT_LOAD `p_memsz`) and the size of the file; and how far its
//! virtual addresses lie from its physical ones (the GDB script reads the
//! kernel's statics through physical memory).

use std::path::Path;

use crate::error::{Context, Error, Result};

const PT_LOAD: u32 = 1;

/// What an ELF file costs: in memory when loaded, and on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    /// Sum of `p_memsz` over the PT_LOAD program headers.
    pub loaded: u64,
    /// Size of the ELF file itself.
    pub file: u64,
}

/// Reads the sizes of the ELF file at `path`.
pub fn sizes(path: &Path) -> Result<Sizes> {
    let bytes = std::fs::read(path).context(|| format!("cannot read {}", path.display()))?;
    let loaded = loaded_size(&bytes)
        .map_err(|e| Error::new(format!("{}: not a usable ELF file: {e}", path.display())))?;
    Ok(Sizes {
        loaded,
        file: bytes.len() as u64,
    })
}

/// Sum of `p_memsz` over the PT_LOAD segments of a 64-bit little-endian ELF.
pub fn loaded_size(elf: &[u8]) -> std::result::Result<u64, String> {
    if elf.get(..4) != Some(b"\x7fELF".as_slice()) {
        return Err("bad magic".into());
    }
    if elf.get(4) != Some(&2) || elf.get(5) != Some(&1) {
        return Err("not a 64-bit little-endian ELF".into());
    }
    let phoff = read_u64(elf, 0x20)?;
    let phentsize = u64::from(read_u16(elf, 0x36)?);
    let phnum = u64::from(read_u16(elf, 0x38)?);
    let mut total = 0u64;
    for i in 0..phnum {
        let at = phoff
            .checked_add(i * phentsize)
            .and_then(|a| usize::try_from(a).ok())
            .ok_or("program header offset overflows")?;
        if read_u32(elf, at)? == PT_LOAD {
            total = total
                .checked_add(read_u64(elf, at + 0x28)?)
                .ok_or("segment sizes overflow")?;
        }
    }
    Ok(total)
}

/// `p_vaddr - p_paddr` (wrapping) of the first PT_LOAD segment of a 64-bit
/// little-endian ELF: what to subtract from a virtual address of the image
/// to get its physical one.
pub fn load_offset(elf: &[u8]) -> std::result::Result<u64, String> {
    if elf.get(..4) != Some(b"\x7fELF".as_slice()) {
        return Err("bad magic".into());
    }
    let phoff = read_u64(elf, 0x20)?;
    let phentsize = u64::from(read_u16(elf, 0x36)?);
    let phnum = u64::from(read_u16(elf, 0x38)?);
    for i in 0..phnum {
        let at = phoff
            .checked_add(i * phentsize)
            .and_then(|a| usize::try_from(a).ok())
            .ok_or("program header offset overflows")?;
        if read_u32(elf, at)? == PT_LOAD {
            return Ok(read_u64(elf, at + 0x10)?.wrapping_sub(read_u64(elf, at + 0x18)?));
        }
    }
    Err("no PT_LOAD segment".into())
}

fn field<const N: usize>(elf: &[u8], at: usize) -> std::result::Result<[u8; N], String> {
    at.checked_add(N)
        .and_then(|end| elf.get(at..end))
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("truncated at offset {at:#x}"))
}

fn read_u16(elf: &[u8], at: usize) -> std::result::Result<u16, String> {
    field(elf, at).map(u16::from_le_bytes)
}

fn read_u32(elf: &[u8], at: usize) -> std::result::Result<u32, String> {
    field(elf, at).map(u32::from_le_bytes)
}

fn read_u64(elf: &[u8], at: usize) -> std::result::Result<u64, String> {
    field(elf, at).map(u64::from_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 header followed by the given (type, memsz) segments.
    fn elf(segments: &[(u32, u64)]) -> Vec<u8> {
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        b[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        b[0x38..0x3a].copy_from_slice(&(segments.len() as u16).to_le_bytes());
        for &(kind, memsz) in segments {
            let mut ph = [0u8; 56];
            ph[..4].copy_from_slice(&kind.to_le_bytes());
            ph[0x28..0x30].copy_from_slice(&memsz.to_le_bytes());
            b.extend_from_slice(&ph);
        }
        b
    }

    #[test]
    fn sums_only_load_segments() {
        let image = elf(&[(PT_LOAD, 0x1000), (4, 0x50), (PT_LOAD, 0x234)]);
        assert_eq!(loaded_size(&image), Ok(0x1234));
    }

    #[test]
    fn load_offset_is_vaddr_minus_paddr_of_the_first_load_segment() {
        let mut image = elf(&[(4, 0), (PT_LOAD, 0x1000), (PT_LOAD, 0x10)]);
        let ph = 64 + 56;
        image[ph + 0x10..ph + 0x18].copy_from_slice(&0xffff_ffff_c000_0000u64.to_le_bytes());
        image[ph + 0x18..ph + 0x20].copy_from_slice(&0x4000_0000u64.to_le_bytes());
        assert_eq!(load_offset(&image), Ok(0xffff_ffff_8000_0000));
        assert!(load_offset(&elf(&[(4, 0)])).is_err());
        assert!(load_offset(b"").is_err());
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert!(loaded_size(b"").is_err());
        assert!(loaded_size(b"\x7fELF\x02\x01").is_err());
        let mut image = elf(&[(PT_LOAD, 1)]);
        image.truncate(100);
        assert!(loaded_size(&image).is_err());
        let mut huge = elf(&[]);
        huge[0x20..0x28].copy_from_slice(&u64::MAX.to_le_bytes());
        huge[0x38] = 1;
        assert!(loaded_size(&huge).is_err());
    }
}
