//! Corrections to what fatfs 0.3.6 writes, made before the image is checked.
//!
//! The independent check found two departures from the FAT specification in
//! every directory fatfs 0.3.6 creates (docs/disk.md):
//!
//! - it writes `.` and `..` each after a long-name entry of its own, so they
//!   are entries 1 and 3 of the directory instead of the first two;
//! - the `..` of a directory in the root names the root by its cluster (2),
//!   where the specification says 0.
//!
//! (rust-fatfs 0.4, which the guest runs as starry-fatfs, fixed both.)
//!
//! And it leaves FSInfo's free-cluster count "unknown". Here each new
//! directory's first entries are rewritten to `.`, `..` (pointing to 0 for a
//! child of the root), then the two long-name slots marked deleted; and
//! FSInfo gets the true free count (its next-free hint, which fatfs keeps,
//! stays). The rewrite only
//! touches a directory whose first entries are exactly that pattern, so a
//! fatfs that did not make the mistake would be left alone; the check that
//! follows judges the result either way.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::fat;
use crate::error::{Context, Error, Result};

const ENTRY: usize = 32;
const DELETED: u8 = 0xE5;
const ATTR_LONG_NAME: u8 = 0x0F;

/// Applies the corrections to the image at `img`.
pub fn apply(img: &Path) -> Result<()> {
    let scan = fat::scan(img).context(|| format!("cannot read {}", img.display()))?;
    let Some(geo) = scan.geometry.clone() else {
        return Err(Error::new(format!(
            "{}: fatfs wrote no readable boot sector: {}",
            img.display(),
            scan.faults
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )));
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(img)
        .context(|| format!("cannot open {}", img.display()))?;
    let what = || format!("cannot fix up {}", img.display());
    for dir in scan
        .nodes
        .iter()
        .filter(|n| n.is_dir && n.first_cluster >= 2)
    {
        if dir.first_cluster > geo.max_cluster() {
            continue;
        }
        let offset = geo.cluster_offset(dir.first_cluster);
        let mut head = [0u8; 4 * ENTRY];
        file.read_exact_at(&mut head, offset).context(what)?;
        let e = |i: usize| &head[i * ENTRY..(i + 1) * ENTRY];
        let is_long = |i: usize| e(i)[11] & 0x3F == ATTR_LONG_NAME && e(i)[0] != DELETED;
        if !(is_long(0)
            && &e(1)[..11] == b".          "
            && is_long(2)
            && &e(3)[..11] == b"..         ")
        {
            continue;
        }
        let mut fixed = [0u8; 4 * ENTRY];
        fixed[..ENTRY].copy_from_slice(e(1));
        fixed[ENTRY..2 * ENTRY].copy_from_slice(e(3));
        fixed[2 * ENTRY..].copy_from_slice(&head[..2 * ENTRY]);
        fixed[2 * ENTRY] = DELETED;
        fixed[3 * ENTRY] = DELETED;
        let in_root = dir.path.matches('/').count() == 1;
        let dotdot = &mut fixed[ENTRY..2 * ENTRY];
        let parent = (u32::from(u16::from_le_bytes([dotdot[20], dotdot[21]])) << 16)
            | u32::from(u16::from_le_bytes([dotdot[26], dotdot[27]]));
        if in_root && parent == geo.root_cluster {
            dotdot[20..22].fill(0);
            dotdot[26..28].fill(0);
        }
        file.write_all_at(&fixed, offset).context(what)?;
    }
    if let Some(sector) = geo.fs_info_sector {
        let offset = u64::from(sector) * u64::from(geo.bytes_per_sector);
        let mut info = [0u8; 512];
        file.read_exact_at(&mut info, offset).context(what)?;
        if info[0..4] == 0x4161_5252u32.to_le_bytes()
            && info[484..488] == 0x6141_7272u32.to_le_bytes()
        {
            info[488..492].copy_from_slice(&scan.free_clusters.to_le_bytes());
            file.write_all_at(&info, offset).context(what)?;
        }
    }
    file.sync_all().context(what)
}
