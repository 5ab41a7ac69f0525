//! The loader's own handling of the device tree blob: how much of QEMU's
//! padded blob is really used, so that only that is copied. What the board
//! is (RAM, console, PSCI) is read with `cerne_plat::memmap::Platform`, the
//! same reader the kernel uses.

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
    use cerne_plat::memmap::Platform;
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
    fn reads_the_padded_blob_and_packs_it() {
        for packed in [VIRT_512M, VIRT_2G_EL2, VIRT_256M_GICV3] {
            let blob = as_qemu_leaves_it(packed);
            assert!(Platform::from_dtb(&blob).is_ok());
            let size = packed_size(&blob).unwrap();
            // The blocks end within the packed blob, 8-byte aligned.
            assert!(size as usize <= totalsize(packed).next_multiple_of(8));
            assert!(size as usize + 8 > totalsize(packed));
            assert_eq!(size % 8, 0);
            // The packed prefix, with totalsize rewritten, is a whole DTB.
            let mut copy = blob[..size as usize].to_vec();
            copy[TOTALSIZE_OFFSET as usize..TOTALSIZE_OFFSET as usize + 4]
                .copy_from_slice(&(size as u32).to_be_bytes());
            let board = Platform::from_dtb(&copy).unwrap();
            assert_eq!(
                board.ram.as_slice(),
                Platform::from_dtb(packed).unwrap().ram.as_slice()
            );
            assert!(board.psci.is_some());
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!(Platform::from_dtb(&[0u8; 64]).is_err());
        let mut short = VIRT_512M.to_vec();
        short.truncate(100);
        assert!(Platform::from_dtb(&short).is_err());
        assert_eq!(packed_size(&short), None);
        assert_eq!(packed_size(&[0u8; 8]), None);
    }
}
