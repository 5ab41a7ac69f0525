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
pub struct Segment {
    /// p_vaddr.
    pub vaddr: u64,
    /// p_paddr.
    pub paddr: u64,
    /// The bytes the file holds (p_filesz of them).
    pub file: &'static [u8],
    /// p_memsz: bytes past `file.len()` are zero.
    pub mem_size: u64,
}

/// A parsed AArch64 ELF64 executable.
pub struct Image {
    name: &'static str,
    bytes: &'static [u8],
    segments: [Segment; MAX_SEGMENTS],
    count: usize,
    entry: u64,
    ph_offset: u64,
    ph_entry_size: u16,
    ph_count: u16,
}

impl Image {
    /// Parses `bytes` (`name` is for messages).
    pub fn parse(name: &'static str, bytes: &'static [u8]) -> Result<Self, Error> {
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
    pub fn segments(&self) -> &[Segment] {
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
    pub fn program_headers(&self) -> Result<(u32, u32, &'static [u8]), Error> {
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
