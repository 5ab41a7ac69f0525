//! Making a fresh FAT32 volume on a block device.
//!
//! [`format`] picks the largest cluster size from 4 KiB down to 512 bytes
//! that still gives the volume the 65 525 clusters FAT32 needs at least, so
//! large disks get clusters that match the cache's 4 KiB pages and small
//! disks can still be FAT32. The layout is fatfs's: 32 reserved sectors
//! (boot sector, FSInfo, backup boot sector), two FAT copies, the root
//! directory in cluster 2. Only the metadata is written (a quick format).
//!
//! Smallest devices (512-byte sectors), see [`min_sectors`]:
//!
//! | cluster size | smallest FAT32 volume |
//! |---|---|
//! | 512 B | 66 557 sectors (34 077 184 bytes, 32.5 MiB) |
//! | 1 KiB | 132 082 sectors (67 625 984 bytes, 64.5 MiB) |
//! | 2 KiB | 263 132 sectors (134 723 584 bytes, 128.5 MiB) |
//! | 4 KiB | 525 232 sectors (268 918 784 bytes, 256.5 MiB) |

use crate::cache::BlockCache;
use crate::device::BlockDevice;
use crate::error::Fat;
use crate::FsError;

/// Cluster sizes [`format`] tries, largest first.
pub const CLUSTER_SIZES: [u32; 4] = [4096, 2048, 1024, 512];

/// The smallest device, in 512-byte sectors, that holds a FAT32 volume with
/// clusters of `bytes_per_cluster` bytes (one of [`CLUSTER_SIZES`]), or
/// `None` for another size. Found by asking fatfs's layout code, so it is
/// exact for this version of it; the table in the module doc lists them.
#[must_use]
pub fn min_sectors(bytes_per_cluster: u32) -> Option<u64> {
    match bytes_per_cluster {
        512 => Some(66_557),
        1024 => Some(132_082),
        2048 => Some(263_132),
        4096 => Some(525_232),
        _ => None,
    }
}

/// Turns a label into the 11 space-padded upper-case bytes FAT stores.
fn label_bytes(label: &str) -> Result<Option<[u8; 11]>, FsError> {
    if label.is_empty() {
        return Ok(None);
    }
    if label.len() > 11 {
        return Err(FsError::InvalidArgument);
    }
    let mut out = [b' '; 11];
    for (dst, c) in out.iter_mut().zip(label.bytes()) {
        let ok = c.is_ascii_alphanumeric() || b" !#$%&'()-@^_`{}~".contains(&c);
        if !ok {
            return Err(FsError::InvalidArgument);
        }
        *dst = c.to_ascii_uppercase();
    }
    Ok(Some(out))
}

/// Formats `device` as one FAT32 volume filling it, labelled `label` (up
/// to 11 ASCII letters, digits, spaces or `!#$%&'()-@^_`{}~`, stored in
/// upper case; empty for no label), with the cluster size chosen as the
/// module doc says. Everything written is synced and flushed.
///
/// # Errors
/// [`FsError::InvalidArgument`] for a bad label or a device too small for
/// FAT32 (under [`min_sectors`]`(512)` sectors) or too large (over 2^32
/// sectors); [`FsError::Io`] if the device fails.
pub fn format(device: &mut impl BlockDevice, label: &str) -> Result<(), FsError> {
    format_with_cluster_size(device, label, None)
}

/// [`format`] with a given cluster size (one of [`CLUSTER_SIZES`]) instead
/// of the automatic choice.
///
/// # Errors
/// As [`format`]; also [`FsError::InvalidArgument`] if the cluster size is
/// not one of [`CLUSTER_SIZES`] or leaves too few clusters.
pub fn format_with_cluster_size(
    device: &mut impl BlockDevice,
    label: &str,
    bytes_per_cluster: Option<u32>,
) -> Result<(), FsError> {
    let label = label_bytes(label)?;
    let sectors = u32::try_from(device.sector_count()).map_err(|_| FsError::InvalidArgument)?;
    let sizes: &[u32] = match bytes_per_cluster {
        Some(cs) => {
            let i = CLUSTER_SIZES
                .iter()
                .position(|&c| c == cs)
                .ok_or(FsError::InvalidArgument)?;
            CLUSTER_SIZES.get(i..=i).ok_or(FsError::InvalidArgument)?
        }
        None => &CLUSTER_SIZES,
    };
    let mut cache = BlockCache::new(&mut *device, 64);
    for &cs in sizes {
        let mut options = fatfs::FormatVolumeOptions::new()
            .fat_type(fatfs::FatType::Fat32)
            .bytes_per_cluster(cs)
            .total_sectors(sectors);
        if let Some(l) = label {
            options = options.volume_label(l);
        }
        match fatfs::format_volume(&mut cache, options) {
            Ok(()) => {
                cache.sync()?;
                return Ok(());
            }
            // The layout does not fit this cluster size: nothing was written.
            Err(fatfs::Error::InvalidInput) => {}
            Err(e) => return Err(FsError::from(Fat(e))),
        }
    }
    Err(FsError::InvalidArgument)
}
