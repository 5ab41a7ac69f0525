//! Stripping an ELF image for embedding: the loader carries the kernel and
//! root task this way, and the system tools carry component programs this
//! way inside the root task's bundle. The image is cut after the last byte a
//! program header refers to and its section-header fields are cleared;
//! program headers, offsets and segment bytes stay exactly as in the file,
//! so a segment's file offset means the same in the stripped image.

/// The length of `elf`'s stripped image: up to the last byte that the ELF
/// header or a program header covers.
pub fn stripped_len(elf: &[u8]) -> Result<usize, &'static str> {
    let field = |at: usize, len: usize| -> Result<u64, &'static str> {
        let bytes = elf
            .get(at..at.checked_add(len).ok_or("truncated ELF header")?)
            .ok_or("truncated ELF header")?;
        let mut word = [0u8; 8];
        word[..len].copy_from_slice(bytes);
        Ok(u64::from_le_bytes(word))
    };
    if elf.get(..6) != Some(&[0x7f, b'E', b'L', b'F', 2, 1]) {
        return Err("not a little-endian ELF64 file");
    }
    let phoff = field(32, 8)?;
    let phentsize = field(54, 2)?;
    let phnum = field(56, 2)?;
    let overflow = "program headers out of range";
    let table_end = phentsize
        .checked_mul(phnum)
        .and_then(|t| t.checked_add(phoff))
        .ok_or(overflow)?;
    let mut end = table_end.max(64);
    for i in 0..phnum {
        let header = usize::try_from(phoff + i * phentsize).map_err(|_| overflow)?;
        let offset = field(header.checked_add(8).ok_or(overflow)?, 8)?;
        let file_size = field(header.checked_add(32).ok_or(overflow)?, 8)?;
        end = end.max(offset.checked_add(file_size).ok_or(overflow)?);
    }
    let end = usize::try_from(end).map_err(|_| overflow)?;
    if end > elf.len() {
        return Err("a program header points past the end of the file");
    }
    Ok(end)
}

/// Clears the section-header fields of a stripped image (`e_shoff`,
/// `e_shnum`, `e_shstrndx`), which would point past its end.
pub fn clear_section_headers(image: &mut [u8]) {
    if let Some(shoff) = image.get_mut(40..48) {
        shoff.fill(0);
    }
    if let Some(counts) = image.get_mut(60..64) {
        counts.fill(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elf_with_segment(offset: u64, size: u64, file_len: usize) -> Vec<u8> {
        let mut e = vec![0u8; file_len];
        e[..6].copy_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1]);
        e[32..40].copy_from_slice(&64u64.to_le_bytes()); // phoff
        e[40..48].copy_from_slice(&0x9999u64.to_le_bytes()); // shoff
        e[54..56].copy_from_slice(&56u16.to_le_bytes());
        e[56..58].copy_from_slice(&1u16.to_le_bytes());
        e[60..62].copy_from_slice(&7u16.to_le_bytes());
        e[64 + 8..64 + 16].copy_from_slice(&offset.to_le_bytes());
        e[64 + 32..64 + 40].copy_from_slice(&size.to_le_bytes());
        e
    }

    #[test]
    fn cuts_after_the_last_segment() {
        let e = elf_with_segment(0x200, 0x100, 0x1000);
        assert_eq!(stripped_len(&e), Ok(0x300));
        let mut cut = e[..0x300].to_vec();
        clear_section_headers(&mut cut);
        assert_eq!(&cut[40..48], &[0; 8]);
        assert_eq!(&cut[60..64], &[0; 4]);
    }

    #[test]
    fn rejects_what_is_not_a_whole_elf() {
        assert!(stripped_len(b"\x7fELF\x01\x01").is_err());
        assert!(stripped_len(&elf_with_segment(0x200, 0x100, 0x280)).is_err());
        assert!(stripped_len(&elf_with_segment(u64::MAX, 2, 0x280)).is_err());
        for len in 0..120 {
            let _ = stripped_len(&elf_with_segment(0x10, 0x10, 0x200)[..len]);
        }
    }
}
