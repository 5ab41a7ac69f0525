//! What the loader reads from the device tree: RAM banks (`/memory`), the
//! console (the first `arm,pl011` node) and the PSCI conduit
//! (`/psci` `method`). Nothing about the board is assumed beyond where QEMU
//! puts the DTB.

use cerne_plat::memmap::PsciConduit;
use cerne_plat::region::Region;

use crate::error::Error;

/// Most RAM banks the loader tracks.
pub const MAX_RAM_BANKS: usize = 8;

/// The board, as far as the loader needs it.
#[derive(Clone, Debug)]
pub struct Board {
    ram: [Region; MAX_RAM_BANKS],
    ram_banks: usize,
    /// The console UART's registers, if the tree has a PL011.
    pub uart: Option<Region>,
    /// The PSCI conduit, if the tree describes PSCI.
    pub psci: Option<PsciConduit>,
}

impl Board {
    /// Reads the board from a whole DTB (`totalsize` bytes).
    pub fn read(blob: &[u8]) -> Result<Self, Error> {
        let tree = fdt::Fdt::new(blob).map_err(|e| {
            Error::DeviceTree(match e {
                fdt::FdtError::BadMagic => "bad magic",
                fdt::FdtError::BadPtr => "bad pointer",
                fdt::FdtError::BufferTooSmall => "blob shorter than its header says",
            })
        })?;

        let mut board = Board {
            ram: [Region::default(); MAX_RAM_BANKS],
            ram_banks: 0,
            uart: None,
            psci: None,
        };
        // One pass over the tree (the fdt crate's lookups each walk it).
        for node in tree.all_nodes() {
            let mut device_type = None;
            let mut compatible = None;
            let mut method = None;
            for property in node.properties() {
                match property.name {
                    "device_type" => device_type = property.as_str(),
                    "compatible" => compatible = Some(property.value),
                    "method" => method = property.as_str(),
                    _ => {}
                }
            }
            let name = node.name.split('@').next().unwrap_or("");
            if name == "memory" && device_type == Some("memory") {
                for reg in node.reg().into_iter().flatten() {
                    let bank = Region {
                        base: reg.starting_address as u64,
                        size: reg.size.unwrap_or(0) as u64,
                    };
                    if bank.is_empty() {
                        continue;
                    }
                    let slot = board
                        .ram
                        .get_mut(board.ram_banks)
                        .ok_or(Error::DeviceTree("more RAM banks than the loader tracks"))?;
                    *slot = bank;
                    board.ram_banks += 1;
                }
            } else if board.uart.is_none()
                && compatible
                    .is_some_and(|list| list.split(|&b| b == 0).any(|entry| entry == b"arm,pl011"))
            {
                board.uart = node
                    .reg()
                    .and_then(|mut regs| regs.next())
                    .map(|reg| Region {
                        base: reg.starting_address as u64,
                        size: reg.size.unwrap_or(0) as u64,
                    });
            } else if name == "psci" {
                board.psci = match method {
                    Some("hvc") => Some(PsciConduit::Hvc),
                    Some("smc") => Some(PsciConduit::Smc),
                    _ => None,
                };
            }
        }
        if board.ram_banks == 0 {
            return Err(Error::DeviceTree("no /memory node with a reg property"));
        }
        board.ram[..board.ram_banks].sort_unstable_by_key(|r| r.base);
        Ok(board)
    }

    /// The RAM banks, sorted by address.
    pub fn ram(&self) -> &[Region] {
        &self.ram[..self.ram_banks]
    }

    /// The RAM bank holding `[base, base + size)`.
    pub fn bank_holding(&self, base: u64, size: u64) -> Option<Region> {
        let range = Region { base, size };
        self.ram()
            .iter()
            .copied()
            .find(|bank| bank.contains(&range))
    }
}

/// Offsets of the FDT header's big-endian u32 fields.
const TOTALSIZE: usize = 4;
const OFF_DT_STRUCT: usize = 8;
const OFF_DT_STRINGS: usize = 12;
const OFF_MEM_RSVMAP: usize = 16;
const SIZE_DT_STRINGS: usize = 32;
const SIZE_DT_STRUCT: usize = 36;

/// Offset of the `totalsize` field, for rewriting it in a packed copy.
pub const TOTALSIZE_OFFSET: u64 = TOTALSIZE as u64;

fn be32(blob: &[u8], at: usize) -> Option<usize> {
    let bytes = blob.get(at..at + 4)?;
    Some(u32::from_be_bytes(bytes.try_into().ok()?) as usize)
}

/// The DTB's size without the free space after its last block (what
/// `fdt_pack` leaves): QEMU's blob says `totalsize` 1 MiB but uses a few KiB.
/// `None` if the header's blocks do not fit in the blob.
pub fn packed_size(blob: &[u8]) -> Option<u64> {
    let struct_end = be32(blob, OFF_DT_STRUCT)?.checked_add(be32(blob, SIZE_DT_STRUCT)?)?;
    let strings_end = be32(blob, OFF_DT_STRINGS)?.checked_add(be32(blob, SIZE_DT_STRINGS)?)?;
    // The reservation map runs to its all-zero 16-byte terminator.
    let mut reservations_end = be32(blob, OFF_MEM_RSVMAP)?;
    loop {
        let entry = blob.get(reservations_end..reservations_end.checked_add(16)?)?;
        reservations_end += 16;
        if entry.iter().all(|&b| b == 0) {
            break;
        }
    }
    let end = struct_end.max(strings_end).max(reservations_end);
    let end = end.checked_add(7)? & !7;
    (end <= blob.len()).then_some(end as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// QEMU 7.2's DTBs, packed, kept with the platform crate's tests.
    const VIRT_512M: &[u8] = include_bytes!("../../kernel/plat/tests/dtb/virt-512m.dtb");
    const VIRT_2G_EL2: &[u8] =
        include_bytes!("../../kernel/plat/tests/dtb/virt-2g-virtualization.dtb");
    const VIRT_256M_GICV3: &[u8] =
        include_bytes!("../../kernel/plat/tests/dtb/virt-256m-gicv3.dtb");

    fn totalsize(blob: &[u8]) -> usize {
        u32::from_be_bytes(blob[4..8].try_into().unwrap()) as usize
    }

    /// The blob as QEMU hands it over: padded to 1 MiB, totalsize 1 MiB.
    fn as_qemu_leaves_it(packed: &[u8]) -> Vec<u8> {
        let mut blob = packed.to_vec();
        blob.resize(1 << 20, 0);
        blob[4..8].copy_from_slice(&(1u32 << 20).to_be_bytes());
        blob
    }

    #[test]
    fn reads_ram_uart_and_psci() {
        let board = Board::read(VIRT_512M).unwrap();
        assert_eq!(
            board.ram(),
            &[Region {
                base: 0x4000_0000,
                size: 512 << 20
            }]
        );
        assert_eq!(
            board.uart,
            Some(Region {
                base: 0x0900_0000,
                size: 0x1000
            })
        );
        assert_eq!(board.psci, Some(PsciConduit::Hvc));

        let board = Board::read(VIRT_2G_EL2).unwrap();
        assert_eq!(board.ram()[0].size, 2 << 30);
        assert_eq!(board.psci, Some(PsciConduit::Smc));

        let board = Board::read(VIRT_256M_GICV3).unwrap();
        assert_eq!(board.ram()[0].end(), 0x5000_0000);
        assert_eq!(board.uart.map(|u| u.base), Some(0x0900_0000));
    }

    #[test]
    fn bank_lookup() {
        let board = Board::read(VIRT_512M).unwrap();
        assert_eq!(
            board.bank_holding(0x4000_0000, 1 << 20).map(|b| b.base),
            Some(0x4000_0000)
        );
        assert_eq!(board.bank_holding(0x3FFF_F000, 0x2000), None);
        assert_eq!(board.bank_holding(0x5FFF_F000, 0x2000), None);
    }

    #[test]
    fn reads_the_padded_blob_and_packs_it() {
        for packed in [VIRT_512M, VIRT_2G_EL2, VIRT_256M_GICV3] {
            let blob = as_qemu_leaves_it(packed);
            assert!(Board::read(&blob).is_ok());
            let size = packed_size(&blob).unwrap();
            // The blocks end within the packed blob, 8-byte aligned.
            assert!(size as usize <= totalsize(packed).next_multiple_of(8));
            assert!(size as usize + 8 > totalsize(packed));
            assert_eq!(size % 8, 0);
            // The packed prefix, with totalsize rewritten, is a whole DTB.
            let mut copy = blob[..size as usize].to_vec();
            copy[TOTALSIZE_OFFSET as usize..TOTALSIZE_OFFSET as usize + 4]
                .copy_from_slice(&(size as u32).to_be_bytes());
            let board = Board::read(&copy).unwrap();
            assert_eq!(board.ram(), Board::read(packed).unwrap().ram());
            assert!(board.uart.is_some() && board.psci.is_some());
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(
            Board::read(&[0u8; 64]),
            Err(Error::DeviceTree("bad magic"))
        ));
        let mut short = VIRT_512M.to_vec();
        short.truncate(100);
        assert!(Board::read(&short).is_err());
        assert_eq!(packed_size(&short), None);
        assert_eq!(packed_size(&[0u8; 8]), None);
    }
}
