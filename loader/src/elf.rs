//! The parts of an ELF image the loader uses: its loadable segments, their
//! physical and virtual bounds, the entry point and the program-header
//! table (parsed with `xmas-elf`).

use cerne_plat::region::Region;
use xmas_elf::header::{Class, Data, Machine};
use xmas_elf::program::Type;
use xmas_elf::ElfFile;

use crate::error::Error;

/// Most PT_LOAD segments an image may have.
pub const MAX_SEGMENTS: usize = 16;

/// One PT_LOAD segment.
#[derive(Clone, Copy, Debug, Default)]
pub struct Segment<'a> {
    /// p_vaddr.
    pub vaddr: u64,
    /// p_paddr.
    pub paddr: u64,
    /// The bytes the file holds (p_filesz of them).
    pub file: &'a [u8],
    /// p_memsz: bytes past `file.len()` are zero.
    pub mem_size: u64,
}

/// A parsed AArch64 ELF64 executable.
pub struct Image<'a> {
    name: &'static str,
    bytes: &'a [u8],
    segments: [Segment<'a>; MAX_SEGMENTS],
    count: usize,
    entry: u64,
    ph_offset: u64,
    ph_entry_size: u16,
    ph_count: u16,
}

impl<'a> Image<'a> {
    /// Parses `bytes` (`name` is for messages). The parser reads headers in
    /// place, so `bytes` must be 8-byte aligned.
    pub fn parse(name: &'static str, bytes: &'a [u8]) -> Result<Self, Error> {
        let err = |what| Error::Elf { image: name, what };
        if bytes.is_empty() {
            return Err(err("empty image (was the loader built for linting only?)"));
        }
        let elf = ElfFile::new(bytes).map_err(err)?;
        if elf.header.pt1.class() != Class::SixtyFour {
            return Err(err("not ELF64"));
        }
        if elf.header.pt1.data() != Data::LittleEndian {
            return Err(err("not little-endian"));
        }
        if elf.header.pt2.machine().as_machine() != Machine::AArch64 {
            return Err(err("not an AArch64 image"));
        }
        let mut image = Image {
            name,
            bytes,
            segments: [Segment::default(); MAX_SEGMENTS],
            count: 0,
            entry: elf.header.pt2.entry_point(),
            ph_offset: elf.header.pt2.ph_offset(),
            ph_entry_size: elf.header.pt2.ph_entry_size(),
            ph_count: elf.header.pt2.ph_count(),
        };
        for ph in elf.program_iter() {
            if ph.get_type().map_err(err)? != Type::Load {
                continue;
            }
            let offset = ph.offset() as usize;
            let file = offset
                .checked_add(ph.file_size() as usize)
                .and_then(|end| bytes.get(offset..end))
                .ok_or(err("segment extends past the end of the file"))?;
            if ph.mem_size() < ph.file_size() {
                return Err(err("segment memsz smaller than filesz"));
            }
            if ph.mem_size() == 0 {
                continue;
            }
            let slot = image
                .segments
                .get_mut(image.count)
                .ok_or(err("too many PT_LOAD segments"))?;
            *slot = Segment {
                vaddr: ph.virtual_addr(),
                paddr: ph.physical_addr(),
                file,
                mem_size: ph.mem_size(),
            };
            image.count += 1;
        }
        if image.count == 0 {
            return Err(err("no loadable segment"));
        }
        for s in image.segments() {
            if s.vaddr.checked_add(s.mem_size).is_none()
                || s.paddr.checked_add(s.mem_size).is_none()
            {
                return Err(err("segment wraps around the address space"));
            }
        }
        Ok(image)
    }

    /// The PT_LOAD segments with a non-zero memory size.
    pub fn segments(&self) -> &[Segment<'a>] {
        &self.segments[..self.count]
    }

    /// `[lowest p_vaddr, highest p_vaddr + p_memsz)`.
    pub fn virtual_bounds(&self) -> Region {
        bounds(self.segments().iter().map(|s| (s.vaddr, s.mem_size)))
    }

    /// `[lowest p_paddr, highest p_paddr + p_memsz)`.
    pub fn physical_bounds(&self) -> Region {
        bounds(self.segments().iter().map(|s| (s.paddr, s.mem_size)))
    }

    /// The entry point (virtual).
    pub fn entry(&self) -> u64 {
        self.entry
    }

    /// The program-header table: (count, entry size, raw bytes).
    pub fn program_headers(&self) -> Result<(u32, u32, &'a [u8]), Error> {
        let size = usize::from(self.ph_count) * usize::from(self.ph_entry_size);
        let start = self.ph_offset as usize;
        let table = start
            .checked_add(size)
            .and_then(|end| self.bytes.get(start..end))
            .ok_or(Error::Elf {
                image: self.name,
                what: "program headers extend past the end of the file",
            })?;
        Ok((
            u32::from(self.ph_count),
            u32::from(self.ph_entry_size),
            table,
        ))
    }
}

fn bounds(ranges: impl Iterator<Item = (u64, u64)>) -> Region {
    let (mut low, mut high) = (u64::MAX, 0);
    for (start, size) in ranges {
        low = low.min(start);
        high = high.max(start + size);
    }
    Region::from_bounds(low, high)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{elf, Seg};

    #[test]
    fn segments_bounds_entry_and_headers() {
        let text = [0xAAu8; 0x1800];
        let data = [0x55u8; 0x10];
        let bytes = elf(
            0x40_0010,
            &[
                Seg {
                    vaddr: 0x40_0000,
                    paddr: 0x40_0000,
                    data: &text,
                    mem_size: 0x1800,
                },
                Seg {
                    vaddr: 0x40_2000,
                    paddr: 0x40_2000,
                    data: &data,
                    mem_size: 0x3000,
                },
                Seg {
                    vaddr: 0x50_0000,
                    paddr: 0,
                    data: &[],
                    mem_size: 0,
                },
            ],
        );
        let image = Image::parse("root task", &bytes).unwrap();
        assert_eq!(image.segments().len(), 2, "empty segments skipped");
        assert_eq!(image.entry(), 0x40_0010);
        assert_eq!(
            image.virtual_bounds(),
            Region::from_bounds(0x40_0000, 0x40_5000)
        );
        assert_eq!(image.segments()[0].file, &text[..]);
        assert_eq!(image.segments()[1].file, &data[..]);
        assert_eq!(image.segments()[1].mem_size, 0x3000);
        let (count, size, table) = image.program_headers().unwrap();
        assert_eq!((count, size, table.len()), (3, 56, 3 * 56));
        assert_eq!(table, &bytes[64..64 + 3 * 56]);
    }

    #[test]
    fn rejects_bad_images() {
        let err = |bytes: &[u8]| match Image::parse("kernel", bytes) {
            Err(Error::Elf { what, .. }) => what,
            other => panic!("{:?}", other.map(|i| i.entry())),
        };
        assert!(err(&[]).contains("empty"));
        assert!(err(&[0u8; 128]).contains("magic"));
        let seg = |mem_size| Seg {
            vaddr: 0x1000,
            paddr: 0x1000,
            data: &[1, 2, 3, 4],
            mem_size,
        };
        let mut not_arm = elf(0x1000, &[seg(4)]);
        not_arm[18] = 62; // EM_X86_64
        assert_eq!(err(&not_arm), "not an AArch64 image");
        assert_eq!(
            err(&elf(0x1000, &[seg(2)])),
            "segment memsz smaller than filesz"
        );
        assert_eq!(err(&elf(0x1000, &[])), "no loadable segment");
        let mut truncated = elf(0x1000, &[seg(4)]);
        truncated.truncate(0x1002);
        assert_eq!(err(&truncated), "segment extends past the end of the file");
    }
}
