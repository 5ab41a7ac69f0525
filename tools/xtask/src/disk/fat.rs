//! An independent reader of FAT32 volumes, written from the facts of the FAT
//! specification and sharing no code with the fatfs crate that writes the
//! images (nor with the guest's starry-fatfs). It reads the boot sector and
//! the FAT itself, walks every directory from the root, follows every cluster
//! chain, and collects what it finds wrong as [`Fault`]s (the image is
//! inconsistent) and warnings (advisory data disagrees, or a convention is
//! bent). Nothing here panics on a corrupt image: every offset is computed in
//! `u64` and checked against the image's length before it is read, every
//! chain walk is bounded by the cluster count, and a directory is walked at
//! most once.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The fewest clusters a FAT32 volume may have; with fewer it is FAT12/16.
pub const FAT32_MIN_CLUSTERS: u32 = 65_525;
/// The most clusters a FAT32 volume may have (cluster numbers 2..=0x0FFF_FFF6).
pub const FAT32_MAX_CLUSTERS: u32 = 0x0FFF_FFF5;
/// A FAT32 entry's 28 meaningful bits.
const ENTRY_MASK: u32 = 0x0FFF_FFFF;
/// The FAT entry of a cluster marked bad.
const BAD_CLUSTER: u32 = 0x0FFF_FFF7;
/// FAT entries at or above this end a chain.
const END_OF_CHAIN: u32 = 0x0FFF_FFF8;
/// The size of a directory entry.
const DIR_ENTRY: usize = 32;
/// A directory may hold at most 65536 entries (the FAT specification).
const MAX_DIR_BYTES: u64 = 65_536 * DIR_ENTRY as u64;

const ATTR_READ_ONLY: u8 = 0x01;
const ATTR_HIDDEN: u8 = 0x02;
const ATTR_SYSTEM: u8 = 0x04;
const ATTR_VOLUME_ID: u8 = 0x08;
const ATTR_DIRECTORY: u8 = 0x10;
const ATTR_LONG_NAME: u8 = ATTR_READ_ONLY | ATTR_HIDDEN | ATTR_SYSTEM | ATTR_VOLUME_ID;
const ATTR_RESERVED: u8 = 0xC0;

/// What kind of inconsistency a [`Fault`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// The boot sector / BIOS parameter block is missing, malformed, or not
    /// FAT32.
    BootSector,
    /// The image file is shorter than the volume its boot sector describes.
    Truncated,
    /// Mirrored FAT copies disagree.
    FatCopies,
    /// A cluster belongs to two chains.
    CrossLinked,
    /// A chain comes back to one of its own clusters.
    Loop,
    /// A chain runs into a free, bad, reserved or out-of-range cluster.
    BrokenChain,
    /// A file's chain has fewer clusters than its size needs.
    ChainTooShort,
    /// A file's chain has more clusters than its size needs.
    ChainTooLong,
    /// Clusters marked used in the FAT that no file or directory reaches.
    LostClusters,
    /// A malformed directory entry (name, attributes, `.`/`..`, long name,
    /// duplicate).
    BadEntry,
    /// `fsck.fat -n` found something wrong.
    Fsck,
}

/// One thing wrong with an image: its kind, and a message that names the
/// path and cluster where it can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// What kind of fault.
    pub kind: FaultKind,
    /// What is wrong, for a person.
    pub message: String,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The layout of a FAT32 volume, as its boot sector gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Geometry {
    /// Bytes per sector (512, 1024, 2048 or 4096).
    pub bytes_per_sector: u32,
    /// Sectors per cluster (a power of two).
    pub sectors_per_cluster: u32,
    /// Sectors before the first FAT (boot sector, FSInfo, backup boot sector).
    pub reserved_sectors: u32,
    /// Number of FAT copies.
    pub fats: u32,
    /// Sectors of one FAT copy.
    pub sectors_per_fat: u32,
    /// Sectors of the whole volume.
    pub total_sectors: u32,
    /// Data clusters (numbered 2 to `clusters + 1`).
    pub clusters: u32,
    /// The root directory's first cluster.
    pub root_cluster: u32,
    /// The FSInfo sector, if the volume has one.
    pub fs_info_sector: Option<u32>,
    /// The backup boot sector, if the volume has one.
    pub backup_boot_sector: Option<u32>,
    /// Whether every FAT copy is kept the same (ExtFlags bit 7 clear).
    pub mirrored: bool,
    /// The FAT copy in use when mirroring is off (0 when mirrored).
    pub active_fat: u32,
    /// The media descriptor byte.
    pub media: u8,
    /// The volume serial number (0 without an extended boot signature).
    pub volume_id: u32,
    /// The volume label in the boot sector, spaces trimmed.
    pub label: String,
}

impl Geometry {
    /// Bytes per cluster.
    pub fn cluster_bytes(&self) -> u64 {
        u64::from(self.bytes_per_sector) * u64::from(self.sectors_per_cluster)
    }

    /// The volume's size in bytes.
    pub fn volume_bytes(&self) -> u64 {
        u64::from(self.total_sectors) * u64::from(self.bytes_per_sector)
    }

    /// The highest valid cluster number.
    pub fn max_cluster(&self) -> u32 {
        self.clusters + 1
    }

    /// The byte offset of FAT copy `copy`.
    pub fn fat_offset(&self, copy: u32) -> u64 {
        (u64::from(self.reserved_sectors) + u64::from(copy) * u64::from(self.sectors_per_fat))
            * u64::from(self.bytes_per_sector)
    }

    /// The byte offset of data cluster `cluster` (2 or more).
    pub fn cluster_offset(&self, cluster: u32) -> u64 {
        let first_data = u64::from(self.reserved_sectors)
            + u64::from(self.fats) * u64::from(self.sectors_per_fat);
        (first_data + u64::from(cluster.saturating_sub(2)) * u64::from(self.sectors_per_cluster))
            * u64::from(self.bytes_per_sector)
    }
}

/// A file or directory found on the volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Absolute, `/`-separated path.
    pub path: String,
    /// A directory?
    pub is_dir: bool,
    /// The size in the directory entry (0 for directories).
    pub size: u64,
    /// CRC-32 of a file's contents, when its chain could be read whole.
    pub crc32: Option<u32>,
    /// The first cluster in the directory entry (0 for an empty file).
    pub first_cluster: u32,
    /// The clusters of its chain that belong to it, in order.
    pub clusters: Vec<u32>,
}

/// Everything one pass over an image found.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// The geometry, if the boot sector could be read.
    pub geometry: Option<Geometry>,
    /// Every file and directory below the root, sorted by path.
    pub nodes: Vec<Node>,
    /// What is inconsistent.
    pub faults: Vec<Fault>,
    /// What is advisory or merely unusual.
    pub warnings: Vec<String>,
    /// Clusters whose FAT entry is not free (including lost and bad ones).
    pub used_clusters: u32,
    /// Clusters whose FAT entry is free.
    pub free_clusters: u32,
    /// The free-cluster count FSInfo records, if it records one.
    pub fs_info_free: Option<u32>,
}

/// Reads an image and checks it. `Err` only when the file cannot be opened or
/// its length read; everything wrong inside it is in [`Scan::faults`].
pub fn scan(path: &Path) -> std::io::Result<Scan> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let image = Image { file, len };
    let mut scan = Scan::default();
    let boot = match image.read(0, 512) {
        Ok(b) => b,
        Err(_) => {
            scan.fault(
                FaultKind::BootSector,
                format!("the image is {len} bytes, smaller than one 512-byte boot sector"),
            );
            return Ok(scan);
        }
    };
    let geometry = match parse_boot_sector(&boot, &mut scan.warnings) {
        Ok(g) => g,
        Err(problems) => {
            for p in problems {
                scan.fault(FaultKind::BootSector, p);
            }
            return Ok(scan);
        }
    };
    if len < geometry.volume_bytes() {
        scan.fault(
            FaultKind::Truncated,
            format!(
                "the image is {len} bytes, but its boot sector describes a volume of {} bytes",
                geometry.volume_bytes()
            ),
        );
        scan.geometry = Some(geometry);
        return Ok(scan);
    }
    let Some(fat) = read_fats(&image, &geometry, &mut scan) else {
        scan.geometry = Some(geometry);
        return Ok(scan);
    };
    check_reserved_entries(&fat, &geometry, &mut scan.warnings);
    check_backup_boot_sector(&image, &geometry, &boot, &mut scan.warnings);

    let mut walker = Walker {
        image: &image,
        geo: &geometry,
        fat: &fat,
        owner: vec![0; fat.len()],
        owners: Vec::new(),
        scan: &mut scan,
        nodes: Vec::new(),
    };
    walker.walk();
    let Walker { owner, nodes, .. } = walker;
    scan.nodes = nodes;
    scan.nodes.sort_by(|a, b| a.path.cmp(&b.path));

    lost_and_free(&fat, &owner, &geometry, &mut scan);
    check_fs_info(&image, &geometry, &mut scan);
    scan.geometry = Some(geometry);
    Ok(scan)
}

impl Scan {
    fn fault(&mut self, kind: FaultKind, message: String) {
        self.faults.push(Fault { kind, message });
    }
}

/// The image file, read with bounds checks.
struct Image {
    file: File,
    len: u64,
}

impl Image {
    /// `len` bytes at `offset`, or a message if they are not all in the file.
    fn read(&self, offset: u64, len: usize) -> Result<Vec<u8>, String> {
        let end = offset.checked_add(len as u64);
        if end.is_none_or(|e| e > self.len) {
            return Err(format!(
                "{len} bytes at offset {offset} are past the end of the {}-byte image",
                self.len
            ));
        }
        let mut buf = vec![0; len];
        self.file
            .read_exact_at(&mut buf, offset)
            .map_err(|e| format!("cannot read {len} bytes at offset {offset}: {e}"))?;
        Ok(buf)
    }
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parses and validates a FAT32 boot sector (at least 512 bytes). Every
/// problem that makes the volume unreadable is returned; oddities that do not
/// go to `warnings`.
pub fn parse_boot_sector(b: &[u8], warnings: &mut Vec<String>) -> Result<Geometry, Vec<String>> {
    if b.len() < 512 {
        return Err(vec![format!(
            "the boot sector is {} bytes, not 512",
            b.len()
        )]);
    }
    let mut bad = Vec::new();
    if b[510] != 0x55 || b[511] != 0xAA {
        bad.push(format!(
            "boot sector signature is {:02X} {:02X} at offset 510, not 55 AA",
            b[510], b[511]
        ));
    }
    if !(b[0] == 0xEB && b[2] == 0x90 || b[0] == 0xE9) {
        warnings.push(format!(
            "the boot sector does not start with an x86 jump (EB xx 90 or E9 xx xx) but {:02X} {:02X} {:02X}",
            b[0], b[1], b[2]
        ));
    }
    let bytes_per_sector = u32::from(le16(b, 11));
    if !matches!(bytes_per_sector, 512 | 1024 | 2048 | 4096) {
        bad.push(format!(
            "bytes per sector is {bytes_per_sector}, not 512, 1024, 2048 or 4096"
        ));
    }
    let sectors_per_cluster = u32::from(b[13]);
    if !sectors_per_cluster.is_power_of_two() {
        bad.push(format!(
            "sectors per cluster is {sectors_per_cluster}, not a power of two"
        ));
    } else if bad.is_empty() && bytes_per_sector * sectors_per_cluster > 32 * 1024 {
        bad.push(format!(
            "clusters of {} bytes are larger than the 32 KiB the FAT specification allows",
            bytes_per_sector * sectors_per_cluster
        ));
    }
    let reserved_sectors = u32::from(le16(b, 14));
    if reserved_sectors == 0 {
        bad.push("there are 0 reserved sectors (the boot sector itself is one)".into());
    }
    let fats = u32::from(b[16]);
    if fats == 0 {
        bad.push("the number of FATs is 0".into());
    } else if fats > 2 {
        warnings.push(format!("{fats} FAT copies (2 is usual)"));
    }
    let root_entries = le16(b, 17);
    let total16 = le16(b, 19);
    let fat_size16 = le16(b, 22);
    if root_entries != 0 || fat_size16 != 0 {
        bad.push(format!(
            "not FAT32: the FAT12/16 fields are set (root entries {root_entries}, 16-bit FAT size {fat_size16})"
        ));
    }
    let total32 = le32(b, 32);
    if total16 != 0 {
        bad.push(format!(
            "the 16-bit total sector count is {total16}; FAT32 keeps it 0 and uses the 32-bit one"
        ));
    }
    let total_sectors = total32;
    if total_sectors == 0 {
        bad.push("the total sector count is 0".into());
    }
    let media = b[21];
    if media != 0xF0 && media < 0xF8 {
        warnings.push(format!("media byte {media:#04X} is not F0 or F8-FF"));
    }
    let sectors_per_fat = le32(b, 36);
    if sectors_per_fat == 0 {
        bad.push("the 32-bit FAT size is 0".into());
    }
    let ext_flags = le16(b, 40);
    let mirrored = ext_flags & 0x80 == 0;
    let active_fat = if mirrored {
        0
    } else {
        u32::from(ext_flags & 0x0F)
    };
    if active_fat >= fats.max(1) {
        bad.push(format!(
            "the active FAT is copy {active_fat}, but there are {fats} copies"
        ));
    }
    let version = le16(b, 42);
    if version != 0 {
        bad.push(format!(
            "FAT32 version {}.{} is not 0.0",
            version >> 8,
            version & 0xFF
        ));
    }
    let root_cluster = le32(b, 44);
    let fs_info = le16(b, 48);
    let backup = le16(b, 50);
    let fs_info_sector = match fs_info {
        0 | 0xFFFF => {
            warnings.push("the volume has no FSInfo sector".into());
            None
        }
        s if u32::from(s) >= reserved_sectors => {
            bad.push(format!(
                "the FSInfo sector {s} is outside the {reserved_sectors} reserved sectors"
            ));
            None
        }
        s => Some(u32::from(s)),
    };
    let backup_boot_sector = match backup {
        0 | 0xFFFF => None,
        s if u32::from(s) >= reserved_sectors => {
            bad.push(format!(
                "the backup boot sector {s} is outside the {reserved_sectors} reserved sectors"
            ));
            None
        }
        s => Some(u32::from(s)),
    };
    let (volume_id, label) = if b[66] == 0x29 {
        let label: String = b[71..82].iter().map(|&c| char::from(c)).collect();
        (le32(b, 67), label.trim_end().to_owned())
    } else {
        warnings.push(format!(
            "extended boot signature is {:#04X}, not 0x29: no volume id or label",
            b[66]
        ));
        (0, String::new())
    };
    if !bad.is_empty() {
        return Err(bad);
    }

    let overhead = u64::from(reserved_sectors) + u64::from(fats) * u64::from(sectors_per_fat);
    if overhead >= u64::from(total_sectors) {
        return Err(vec![format!(
            "reserved sectors and FATs ({overhead} sectors) leave no data area in {total_sectors} sectors"
        )]);
    }
    // Fits in u32: it is at most total_sectors.
    let clusters = ((u64::from(total_sectors) - overhead) / u64::from(sectors_per_cluster)) as u32;
    if clusters < FAT32_MIN_CLUSTERS {
        return Err(vec![format!(
            "{clusters} clusters: this is FAT12/FAT16, not FAT32 (FAT32 needs at least {FAT32_MIN_CLUSTERS})"
        )]);
    }
    if clusters > FAT32_MAX_CLUSTERS {
        return Err(vec![format!(
            "{clusters} clusters are more than FAT32's {FAT32_MAX_CLUSTERS}"
        )]);
    }
    let fat_entries = u64::from(sectors_per_fat) * u64::from(bytes_per_sector) / 4;
    if fat_entries < u64::from(clusters) + 2 {
        return Err(vec![format!(
            "a FAT of {sectors_per_fat} sectors holds {fat_entries} entries, fewer than the {} the {clusters} clusters need",
            u64::from(clusters) + 2
        )]);
    }
    if root_cluster < 2 || root_cluster > clusters + 1 {
        return Err(vec![format!(
            "the root directory's cluster {root_cluster} is outside the volume (2..={})",
            clusters + 1
        )]);
    }
    Ok(Geometry {
        bytes_per_sector,
        sectors_per_cluster,
        reserved_sectors,
        fats,
        sectors_per_fat,
        total_sectors,
        clusters,
        root_cluster,
        fs_info_sector,
        backup_boot_sector,
        mirrored,
        active_fat,
        media,
        volume_id,
        label,
    })
}

/// Reads the active FAT (entries 0..=max_cluster, masked to 28 bits), and
/// compares the other copies with it when they are mirrored.
fn read_fats(image: &Image, geo: &Geometry, scan: &mut Scan) -> Option<Vec<u32>> {
    let entries = geo.clusters as usize + 2;
    let read = |copy: u32| -> Result<Vec<u32>, String> {
        let bytes = image.read(geo.fat_offset(copy), entries * 4)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) & ENTRY_MASK)
            .collect())
    };
    let fat = match read(geo.active_fat) {
        Ok(f) => f,
        Err(e) => {
            scan.fault(
                FaultKind::Truncated,
                format!("cannot read FAT {}: {e}", geo.active_fat + 1),
            );
            return None;
        }
    };
    if geo.mirrored {
        for copy in 1..geo.fats {
            match read(copy) {
                Ok(other) => {
                    let differ: Vec<usize> = (0..entries).filter(|&i| fat[i] != other[i]).collect();
                    if let Some(&first) = differ.first() {
                        scan.fault(
                            FaultKind::FatCopies,
                            format!(
                                "FAT copy {} differs from copy 1 in {} entries (the first at cluster {first}: {:#x} against {:#x})",
                                copy + 1,
                                differ.len(),
                                other[first],
                                fat[first]
                            ),
                        );
                    }
                }
                Err(e) => scan.fault(
                    FaultKind::Truncated,
                    format!("cannot read FAT copy {}: {e}", copy + 1),
                ),
            }
        }
    }
    Some(fat)
}

/// FAT[0] holds the media byte, FAT[1] the end-of-chain mark and the
/// clean-shutdown and no-hard-error flags.
fn check_reserved_entries(fat: &[u32], geo: &Geometry, warnings: &mut Vec<String>) {
    let want0 = 0x0FFF_FF00 | u32::from(geo.media);
    if fat[0] != want0 {
        warnings.push(format!(
            "FAT entry 0 is {:#x}, not {want0:#x} (the media byte)",
            fat[0]
        ));
    }
    if fat[1] & 0x0800_0000 == 0 {
        warnings.push("the volume is marked dirty: it was not unmounted cleanly".into());
    }
    if fat[1] & 0x0400_0000 == 0 {
        warnings.push("the volume is marked as having had a disk I/O error".into());
    }
}

fn check_backup_boot_sector(
    image: &Image,
    geo: &Geometry,
    boot: &[u8],
    warnings: &mut Vec<String>,
) {
    let Some(sector) = geo.backup_boot_sector else {
        return;
    };
    match image.read(u64::from(sector) * u64::from(geo.bytes_per_sector), 512) {
        Ok(backup) if backup[..] != boot[..512] => warnings.push(format!(
            "the backup boot sector (sector {sector}) differs from the boot sector"
        )),
        Ok(_) => {}
        Err(e) => warnings.push(format!("cannot read the backup boot sector: {e}")),
    }
}

/// Counts free and used clusters, and reports used clusters nothing reaches.
fn lost_and_free(fat: &[u32], owner: &[u32], geo: &Geometry, scan: &mut Scan) {
    let mut lost: Vec<(u32, u32)> = Vec::new(); // runs of consecutive cluster numbers
    let mut lost_count = 0u32;
    let mut bad_count = 0u32;
    for c in 2..=geo.max_cluster() {
        let entry = fat[c as usize];
        if entry == 0 {
            scan.free_clusters += 1;
            continue;
        }
        scan.used_clusters += 1;
        if entry == BAD_CLUSTER {
            bad_count += 1;
            continue;
        }
        if owner[c as usize] == 0 {
            lost_count += 1;
            match lost.last_mut() {
                Some((_, end)) if *end + 1 == c => *end = c,
                _ => lost.push((c, c)),
            }
        }
    }
    if bad_count > 0 {
        scan.warnings
            .push(format!("{bad_count} clusters are marked bad"));
    }
    if lost_count > 0 {
        const SHOWN: usize = 8;
        let mut runs: Vec<String> = lost
            .iter()
            .take(SHOWN)
            .map(|&(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect();
        if lost.len() > SHOWN {
            runs.push(format!("and {} more runs", lost.len() - SHOWN));
        }
        scan.fault(
            FaultKind::LostClusters,
            format!(
                "{lost_count} lost clusters (marked used in the FAT, reached by no file or directory): {}",
                runs.join(", ")
            ),
        );
    }
}

/// FSInfo is advisory: a free count that disagrees is a warning.
fn check_fs_info(image: &Image, geo: &Geometry, scan: &mut Scan) {
    let Some(sector) = geo.fs_info_sector else {
        return;
    };
    let info = match image.read(u64::from(sector) * u64::from(geo.bytes_per_sector), 512) {
        Ok(i) => i,
        Err(e) => {
            scan.warnings
                .push(format!("cannot read the FSInfo sector: {e}"));
            return;
        }
    };
    if le32(&info, 0) != 0x4161_5252
        || le32(&info, 484) != 0x6141_7272
        || le32(&info, 508) != 0xAA55_0000
    {
        scan.warnings.push(format!(
            "the FSInfo sector (sector {sector}) has wrong signatures"
        ));
        return;
    }
    let free = le32(&info, 488);
    if free != 0xFFFF_FFFF {
        scan.fs_info_free = Some(free);
        if free != scan.free_clusters {
            scan.warnings.push(format!(
                "FSInfo says {free} free clusters; the FAT has {}",
                scan.free_clusters
            ));
        }
    }
    let next = le32(&info, 492);
    if next != 0xFFFF_FFFF && (next < 2 || next > geo.max_cluster()) {
        scan.warnings.push(format!(
            "FSInfo's next-free hint {next} is outside the volume"
        ));
    }
}

/// How a chain walk ended.
struct Chain {
    clusters: Vec<u32>,
    /// It reached an end-of-chain mark (no break, loop or cross-link).
    complete: bool,
}

/// A directory waiting to be read.
struct PendingDir {
    path: String,
    first: u32,
    /// The first cluster of its parent, `None` for the root.
    parent: Option<u32>,
    /// Its index in `Walker::nodes` (`None` for the root).
    node: Option<usize>,
}

struct Walker<'a> {
    image: &'a Image,
    geo: &'a Geometry,
    fat: &'a [u32],
    /// For each cluster, 1 + the index in `owners` of the chain that holds
    /// it, or 0.
    owner: Vec<u32>,
    owners: Vec<String>,
    scan: &'a mut Scan,
    nodes: Vec<Node>,
}

impl Walker<'_> {
    fn walk(&mut self) {
        let mut queue = VecDeque::new();
        queue.push_back(PendingDir {
            path: "/".into(),
            first: self.geo.root_cluster,
            parent: None,
            node: None,
        });
        while let Some(dir) = queue.pop_front() {
            let chain = self.follow(&dir.path, dir.first);
            if let Some(node) = dir.node.and_then(|i| self.nodes.get_mut(i)) {
                node.clusters.clone_from(&chain.clusters);
            }
            // A directory whose first cluster is another chain's (reported as
            // cross-linked) is not read: that is how a directory linked into
            // itself or into another is walked once.
            if !chain.clusters.is_empty() {
                self.read_dir(&dir, &chain.clusters, &mut queue);
            }
        }
    }

    /// Follows the chain starting at `first`, claiming its clusters for
    /// `path`, and reports breaks, loops and cross-links.
    fn follow(&mut self, path: &str, first: u32) -> Chain {
        let max = self.geo.max_cluster();
        let mut chain = Chain {
            clusters: Vec::new(),
            complete: false,
        };
        if first < 2 || first > max {
            self.scan.fault(
                FaultKind::BrokenChain,
                format!("{path}: first cluster {first} is outside the volume (2..={max})"),
            );
            return chain;
        }
        self.owners.push(path.to_owned());
        let me = self.owners.len() as u32;
        let mut c = first;
        loop {
            match self.owner[c as usize] {
                0 => {}
                o if o == me => {
                    let from = chain.clusters.last().copied().unwrap_or(c);
                    self.scan.fault(
                        FaultKind::Loop,
                        format!(
                            "{path}: the cluster chain loops (cluster {from} leads back to cluster {c}, after {} clusters)",
                            chain.clusters.len()
                        ),
                    );
                    return chain;
                }
                o => {
                    let other = &self.owners[o as usize - 1];
                    self.scan.fault(
                        FaultKind::CrossLinked,
                        format!(
                            "{path}: cross-linked with {other} at cluster {c} (the cluster is in both chains)"
                        ),
                    );
                    return chain;
                }
            }
            self.owner[c as usize] = me;
            chain.clusters.push(c);
            let next = self.fat[c as usize];
            match next {
                n if n >= END_OF_CHAIN => {
                    chain.complete = true;
                    return chain;
                }
                0 => {
                    self.scan.fault(
                        FaultKind::BrokenChain,
                        format!("{path}: cluster {c} is in its chain but marked free in the FAT"),
                    );
                    return chain;
                }
                BAD_CLUSTER => {
                    self.scan.fault(
                        FaultKind::BrokenChain,
                        format!("{path}: cluster {c} is in its chain but marked bad"),
                    );
                    return chain;
                }
                n if n < 2 || n > max => {
                    self.scan.fault(
                        FaultKind::BrokenChain,
                        format!("{path}: cluster {c} points to {n:#x}, which is no cluster of the volume"),
                    );
                    return chain;
                }
                n => c = n,
            }
        }
    }

    fn bad_entry(&mut self, message: String) {
        self.scan.fault(FaultKind::BadEntry, message);
    }

    /// Reads the entries of one directory, records its files (checking their
    /// chains) and queues its subdirectories.
    fn read_dir(&mut self, dir: &PendingDir, clusters: &[u32], queue: &mut VecDeque<PendingDir>) {
        let cb = self.geo.cluster_bytes();
        let mut data = Vec::new();
        for &c in clusters {
            if data.len() as u64 >= MAX_DIR_BYTES {
                self.bad_entry(format!(
                    "{}: the directory is larger than the 65536 entries FAT allows",
                    dir.path
                ));
                break;
            }
            match self.image.read(self.geo.cluster_offset(c), cb as usize) {
                Ok(bytes) => data.extend_from_slice(&bytes),
                Err(e) => {
                    self.scan
                        .fault(FaultKind::Truncated, format!("{}: {e}", dir.path));
                    break;
                }
            }
        }
        let is_root = dir.parent.is_none();
        let mut lfn: Option<LongName> = None;
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut dots = 0;
        for (index, e) in data.chunks_exact(DIR_ENTRY).enumerate() {
            let at = |what: &str| format!("{}: entry {index}{what}", dir.path);
            if e[0] == 0x00 {
                if lfn.take().is_some() {
                    self.bad_entry(at(": long-name entries with no short entry after them"));
                }
                break;
            }
            if e[0] == 0xE5 {
                if lfn.take().is_some() {
                    self.bad_entry(at(": long-name entries followed by a deleted entry"));
                }
                continue;
            }
            let attr = e[11];
            if attr & 0x3F == ATTR_LONG_NAME {
                self.long_name_part(e, &mut lfn, &at(""));
                continue;
            }
            let short: [u8; 11] = e[0..11].try_into().unwrap_or([b' '; 11]);
            let long = lfn.take();
            if attr & ATTR_VOLUME_ID != 0 {
                if long.is_some() {
                    self.bad_entry(at(": long-name entries before a volume label"));
                }
                if !is_root || attr & ATTR_DIRECTORY != 0 {
                    self.bad_entry(at(&format!(
                        ": a volume label (attributes {attr:#04x}) outside the root directory, or marked a directory"
                    )));
                }
                continue;
            }
            if attr & ATTR_RESERVED != 0 {
                self.scan
                    .warnings
                    .push(at(&format!(": reserved attribute bits set ({attr:#04x})")));
            }
            if let Some(problem) = timestamp_problem(e) {
                self.scan.warnings.push(at(&format!(": {problem}")));
            }
            let first = (u32::from(le16(e, 20)) << 16) | u32::from(le16(e, 26));
            let size = le32(e, 28);
            let is_dir = attr & ATTR_DIRECTORY != 0;
            if &short == b".          " || &short == b"..         " {
                let which = if short[1] == b'.' { ".." } else { "." };
                self.dot_entry(dir, index, which, is_dir, first, long.is_some());
                dots += 1;
                continue;
            }
            let Some(name) = self.entry_name(&short, e[12], long, &at("")) else {
                continue;
            };
            if !is_root && dots < 2 {
                self.bad_entry(format!(
                    "{}: `{name}` comes before the directory's `.` and `..` entries",
                    dir.path
                ));
                dots = 2;
            }
            let path = if is_root {
                format!("/{name}")
            } else {
                format!("{}/{name}", dir.path)
            };
            if let Some(earlier) = seen.insert(name.to_lowercase(), name.clone()) {
                self.bad_entry(format!(
                    "{path}: a second entry with the name `{earlier}` in the same directory"
                ));
                continue;
            }
            let short_key = format!("\u{0}{}", String::from_utf8_lossy(&short));
            if seen.insert(short_key, name.clone()).is_some() {
                self.bad_entry(format!(
                    "{path}: its short name `{}` is used twice in the directory",
                    String::from_utf8_lossy(&short).trim_end()
                ));
                continue;
            }
            if is_dir {
                if size != 0 {
                    self.bad_entry(format!(
                        "{path}: a directory whose entry says {size} bytes (must be 0)"
                    ));
                }
                self.nodes.push(Node {
                    path: path.clone(),
                    is_dir: true,
                    size: 0,
                    crc32: None,
                    first_cluster: first,
                    clusters: Vec::new(),
                });
                if first == 0 {
                    self.scan.fault(
                        FaultKind::BrokenChain,
                        format!("{path}: a directory with no cluster"),
                    );
                } else {
                    queue.push_back(PendingDir {
                        path,
                        first,
                        parent: Some(dir.first),
                        node: Some(self.nodes.len() - 1),
                    });
                }
            } else {
                let node = self.file(path, first, size, cb);
                self.nodes.push(node);
            }
        }
        if lfn.is_some() {
            self.bad_entry(format!(
                "{}: long-name entries at the end with no short entry after them",
                dir.path
            ));
        }
        if !is_root && dots < 2 {
            self.bad_entry(format!(
                "{}: the `.` and `..` entries are missing",
                dir.path
            ));
        }
    }

    /// Checks `.` (entry 0, its own cluster) and `..` (entry 1, the parent's
    /// cluster, 0 for the root).
    fn dot_entry(
        &mut self,
        dir: &PendingDir,
        index: usize,
        which: &str,
        is_dir: bool,
        first: u32,
        has_long: bool,
    ) {
        let Some(parent) = dir.parent else {
            self.bad_entry(format!("/: the root directory has a `{which}` entry"));
            return;
        };
        let want_index = if which == "." { 0 } else { 1 };
        if index != want_index || !is_dir || has_long {
            self.bad_entry(format!(
                "{}: the `{which}` entry is entry {index}{}{} (it must be entry {want_index}, a directory)",
                dir.path,
                if is_dir { "" } else { ", not a directory" },
                if has_long { ", with a long name" } else { "" }
            ));
        }
        let want = if which == "." {
            dir.first
        } else if parent == self.geo.root_cluster {
            0
        } else {
            parent
        };
        if first == want {
            return;
        }
        if which == ".." && want == 0 && first == self.geo.root_cluster {
            self.scan.warnings.push(format!(
                "{}: `..` names the root directory by its cluster {first}; the FAT specification says 0",
                dir.path
            ));
            return;
        }
        self.bad_entry(format!(
            "{}: the `{which}` entry points to cluster {first}, not {want}",
            dir.path
        ));
    }

    /// A file: its chain, its length against its size, and its checksum.
    fn file(&mut self, path: String, first: u32, size: u32, cb: u64) -> Node {
        let mut node = Node {
            path,
            is_dir: false,
            size: u64::from(size),
            crc32: None,
            first_cluster: first,
            clusters: Vec::new(),
        };
        if first == 0 {
            if size == 0 {
                node.crc32 = Some(crc32fast::hash(&[]));
            } else {
                self.scan.fault(
                    FaultKind::BrokenChain,
                    format!("{}: {size} bytes but no cluster", node.path),
                );
            }
            return node;
        }
        let chain = self.follow(&node.path, first);
        node.clusters = chain.clusters;
        let need = u64::from(size).div_ceil(cb);
        let have = node.clusters.len() as u64;
        if chain.complete {
            if have < need {
                self.scan.fault(
                    FaultKind::ChainTooShort,
                    format!(
                        "{}: the chain is too short: {have} clusters for {size} bytes, which need {need}",
                        node.path
                    ),
                );
            } else if have > need {
                self.scan.fault(
                    FaultKind::ChainTooLong,
                    format!(
                        "{}: the chain is too long: {have} clusters for {size} bytes, which need {need}",
                        node.path
                    ),
                );
            }
        }
        if have >= need {
            let mut hasher = crc32fast::Hasher::new();
            let mut left = u64::from(size);
            for &c in &node.clusters {
                if left == 0 {
                    break;
                }
                let n = left.min(cb);
                match self.image.read(self.geo.cluster_offset(c), n as usize) {
                    Ok(bytes) => hasher.update(&bytes),
                    Err(e) => {
                        self.scan
                            .fault(FaultKind::Truncated, format!("{}: {e}", node.path));
                        return node;
                    }
                }
                left -= n;
            }
            node.crc32 = Some(hasher.finalize());
        }
        node
    }

    /// Adds one long-name entry to the run being gathered.
    fn long_name_part(&mut self, e: &[u8], lfn: &mut Option<LongName>, at: &str) {
        let ord = e[0];
        let seq = ord & 0x1F;
        let mut units = [0u16; 13];
        for (i, off) in LFN_OFFSETS.iter().enumerate() {
            units[i] = le16(e, *off);
        }
        if le16(e, 26) != 0 || e[12] != 0 {
            self.bad_entry(format!(
                "{at}: a long-name entry with a cluster or type set"
            ));
        }
        if ord & 0x40 != 0 {
            if lfn.is_some() {
                self.bad_entry(format!(
                    "{at}: a long name starts before the previous one ended"
                ));
            }
            if seq == 0 || seq > 20 {
                self.bad_entry(format!(
                    "{at}: a long-name entry with sequence number {seq} (1 to 20)"
                ));
                *lfn = None;
                return;
            }
            *lfn = Some(LongName {
                checksum: e[13],
                next: seq - 1,
                parts: vec![units],
            });
            return;
        }
        match lfn {
            Some(run) if run.next == seq && seq != 0 && run.checksum == e[13] => {
                run.next -= 1;
                run.parts.push(units);
            }
            Some(_) => {
                self.bad_entry(format!(
                    "{at}: long-name entry {seq} is out of order or has another checksum"
                ));
                *lfn = None;
            }
            None => self.bad_entry(format!(
                "{at}: long-name entry {seq} without the entry that starts the name"
            )),
        }
    }

    /// The name of a short entry: its long name if that is whole and matches,
    /// else the short name. `None` (with a fault) for an invalid short name.
    fn entry_name(
        &mut self,
        short: &[u8; 11],
        nt_case: u8,
        long: Option<LongName>,
        at: &str,
    ) -> Option<String> {
        if let Some(problem) = short_name_problem(short) {
            self.bad_entry(format!(
                "{at}: invalid short name {:?}: {problem}",
                String::from_utf8_lossy(short)
            ));
            return None;
        }
        let short_name = format_short(short, nt_case);
        let Some(long) = long else {
            return Some(short_name);
        };
        if long.next != 0 {
            self.bad_entry(format!(
                "{at}: the long name of `{short_name}` is missing its entries 1 to {}",
                long.next
            ));
            return Some(short_name);
        }
        if long.checksum != short_checksum(short) {
            self.bad_entry(format!(
                "{at}: the long name before `{short_name}` has checksum {:#04x}, but the short name's is {:#04x}",
                long.checksum,
                short_checksum(short)
            ));
            return Some(short_name);
        }
        match long.decode() {
            Ok(name) => Some(name),
            Err(problem) => {
                self.bad_entry(format!("{at}: the long name of `{short_name}` {problem}"));
                Some(short_name)
            }
        }
    }
}

/// Where the 13 UTF-16 units of a long-name entry are.
const LFN_OFFSETS: [usize; 13] = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];

/// The long-name entries gathered before a short entry.
struct LongName {
    checksum: u8,
    /// The sequence number expected next (0 when the run is whole).
    next: u8,
    /// Parts in the order they were read (last part first).
    parts: Vec<[u16; 13]>,
}

impl LongName {
    fn decode(&self) -> Result<String, String> {
        let mut units: Vec<u16> = Vec::new();
        for part in self.parts.iter().rev() {
            units.extend_from_slice(part);
        }
        if let Some(end) = units.iter().position(|&u| u == 0) {
            units.truncate(end);
        } else {
            // A name of exactly 13*n units has neither terminator nor padding.
            while units.last() == Some(&0xFFFF) {
                units.pop();
            }
        }
        let name = String::from_utf16(&units).map_err(|_| "is not valid UTF-16".to_owned())?;
        if name.is_empty() || units.len() > 255 {
            return Err(format!("has {} characters (1 to 255)", units.len()));
        }
        if let Some(c) = name.chars().find(|&c| c < ' ' || "\"*/:<>?\\|".contains(c)) {
            return Err(format!(
                "holds the character {c:?}, which FAT names may not"
            ));
        }
        Ok(name)
    }
}

/// Why a short entry's dates and times are invalid, if they are. A field of
/// 0 means "not recorded" and is accepted.
fn timestamp_problem(e: &[u8]) -> Option<String> {
    let date_ok = |d: u16| d == 0 || ((1..=12).contains(&((d >> 5) & 0xF)) && d & 0x1F != 0);
    let time_ok = |t: u16| (t >> 11) < 24 && ((t >> 5) & 0x3F) < 60 && (t & 0x1F) < 30;
    let fields = [
        ("creation date", date_ok(le16(e, 16))),
        ("access date", date_ok(le16(e, 18))),
        ("modification date", date_ok(le16(e, 24))),
        ("creation time", time_ok(le16(e, 14)) && e[13] < 200),
        ("modification time", time_ok(le16(e, 22))),
    ];
    let bad: Vec<&str> = fields.iter().filter(|f| !f.1).map(|f| f.0).collect();
    (!bad.is_empty()).then(|| format!("invalid {}", bad.join(", ")))
}

/// The checksum of a short name that its long-name entries carry.
pub fn short_checksum(name: &[u8; 11]) -> u8 {
    name.iter().fold(0u8, |sum, &c| {
        ((sum & 1) << 7).wrapping_add(sum >> 1).wrapping_add(c)
    })
}

/// Why an 11-byte short name is invalid, if it is.
fn short_name_problem(name: &[u8; 11]) -> Option<String> {
    if name[0] == b' ' {
        return Some("it starts with a space".into());
    }
    for (i, &c) in name.iter().enumerate() {
        if i == 0 && c == 0x05 {
            continue; // stands for a leading 0xE5
        }
        if c < 0x20 || c == 0x7F {
            return Some(format!("control character {c:#04x}"));
        }
        if b"\"*+,./:;<=>?[\\]|".contains(&c) {
            return Some(format!("the character {:?}", char::from(c)));
        }
    }
    None
}

/// `BASE.EXT` from an 11-byte short name, lower-cased where the Windows NT
/// case bits (entry byte 12: 0x08 base, 0x10 extension) say so.
fn format_short(name: &[u8; 11], nt_case: u8) -> String {
    let conv = |bytes: &[u8], lower: bool| -> String {
        let s: String = bytes
            .iter()
            .enumerate()
            .map(|(i, &c)| if i == 0 && c == 0x05 { 0xE5 } else { c })
            .map(char::from)
            .collect();
        let s = s.trim_end().to_owned();
        if lower {
            s.to_ascii_lowercase()
        } else {
            s
        }
    };
    let base = conv(&name[0..8], nt_case & 0x08 != 0);
    let ext = conv(&name[8..11], nt_case & 0x10 != 0);
    if ext.is_empty() {
        base
    } else {
        format!("{base}.{ext}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        assert_eq!(format_short(b"README  TXT", 0), "README.TXT");
        assert_eq!(format_short(b"MOTD    TXT", 0x18), "motd.txt");
        assert_eq!(format_short(b"DOCS       ", 0x08), "docs");
        assert_eq!(format_short(b"\x05BC     TXT", 0), "\u{e5}BC.TXT");
        assert!(short_name_problem(b"A*B     TXT").is_some());
        assert!(short_name_problem(b" AB     TXT").is_some());
        assert!(short_name_problem(b"A\x01B     TXT").is_some());
        assert!(short_name_problem(b"README  TXT").is_none());
    }

    #[test]
    fn checksum_of_a_short_name() {
        // Worked by hand from the specification's rotate-right-and-add.
        let mut sum = 0u8;
        for &c in b"README  TXT" {
            sum = sum.rotate_right(1).wrapping_add(c);
        }
        assert_eq!(short_checksum(b"README  TXT"), sum);
    }

    #[test]
    fn a_short_or_garbage_boot_sector_is_refused_not_a_panic() {
        let mut w = Vec::new();
        assert!(parse_boot_sector(&[0; 100], &mut w).is_err());
        assert!(parse_boot_sector(&[0; 512], &mut w).is_err());
        assert!(parse_boot_sector(&[0xFF; 512], &mut w).is_err());
    }
}
