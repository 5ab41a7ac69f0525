//! Repair of a volume after an unclean stop (a crash, a restart of the
//! file server, a power cut), before fatfs mounts it.
//!
//! The server keeps the volume's dirty flag set for as long as it has it
//! mounted, and clears it only after its last write at unmount; a volume
//! found dirty is repaired here. The order of the cache's write-backs
//! (`cache`: the data region first, a flush, then the FATs) and the sync
//! around every operation that frees clusters (`server`) make what a crash
//! can leave small: entries (sizes, first clusters, new directories) that
//! point further than the FAT gives them, FAT chains that end in a free
//! cluster, clusters allocated that no entry reaches, two entries on one
//! chain (a rename cut short), FAT copies that differ, a stale FSInfo free
//! count. This walks every directory from the root, the FAT in memory, and
//! makes all of it consistent again, in the checks' terms (`xtask disk
//! check`, `fsck.fat`): every chain is in range, ends with an end marker and
//! is reached by one entry only; a file's chain has exactly the clusters
//! its size needs; `.` and `..` point at the directory and its parent; no
//! cluster is allocated and unreachable; both FATs agree; FSInfo counts the
//! free clusters.
//!
//! What it does to each fault, in the order the walk meets them:
//! * a file whose chain is shorter than its size: the size is cut to the
//!   chain; longer: the chain is cut to the size;
//! * a chain that reaches a free, bad or out-of-range cluster, or one
//!   already reached from elsewhere: cut before it;
//! * a file whose first cluster is free or out of range: size 0, no
//!   cluster; a directory's: the entry is removed; an entry whose first
//!   cluster another entry already reached (the second of a rename's two
//!   entries): the entry is removed;
//! * a directory whose first cluster does not start with `.` and `..`: its
//!   entry is removed; `.` and `..` pointing elsewhere: rewritten;
//! * clusters allocated and reached by no entry: freed;
//! * then every FAT copy gets the repaired FAT, and FSInfo its free count.
//!
//! Entries are removed like fatfs removes them: the short entry and the
//! long-name entries before it marked deleted (0xE5).
//!
//! Nothing a durable `fsync` covered is touched: a file fsync'd and not
//! changed since has its entry and its whole chain on the device, and no
//! later write frees or reuses its clusters before the entry that stops
//! using them is durable.

use alloc::vec;
use alloc::vec::Vec;

use crate::cache::BlockCache;
use crate::device::BlockDevice;
use crate::FsError;

const MASK: u32 = 0x0FFF_FFFF;
const END: u32 = 0x0FFF_FFF8;
const BAD: u32 = 0x0FFF_FFF7;
const EOC: u32 = 0x0FFF_FFFF;
const DELETED: u8 = 0xE5;
const ATTR_LFN: u8 = 0x0F;
const ATTR_VOLUME: u8 = 0x08;
const ATTR_DIR: u8 = 0x10;
/// Byte of the boot sector with the status flags (bit 0: dirty).
pub(crate) const FLAGS_OFFSET: u64 = 0x41;
/// The dirty flag.
pub(crate) const DIRTY: u8 = 1;

/// What the repair changed, for the log line and the tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Repaired {
    /// Entries removed (directories without a valid cluster, duplicates).
    pub entries_removed: u32,
    /// Files whose size or chain was cut to agree.
    pub files_cut: u32,
    /// `.` or `..` entries rewritten.
    pub dots_fixed: u32,
    /// Allocated clusters no entry reached, freed.
    pub clusters_freed: u32,
    /// FAT sectors written (over every copy).
    pub fat_sectors_written: u32,
}

struct Volume {
    cs: u64,
    fat_start: u64,
    fat_len: u64,
    fats: u64,
    data_start: u64,
    max: u32,
    root: u32,
    fs_info: u64,
}

fn le16(b: &[u8], at: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn read<D: BlockDevice>(c: &mut BlockCache<D>, pos: u64, buf: &mut [u8]) -> Result<(), FsError> {
    if c.read_at(pos, buf)? != buf.len() {
        return Err(FsError::Corrupt);
    }
    Ok(())
}

fn write<D: BlockDevice>(c: &mut BlockCache<D>, pos: u64, data: &[u8]) -> Result<(), FsError> {
    if c.write_at(pos, data)? != data.len() {
        return Err(FsError::Corrupt);
    }
    Ok(())
}

impl Volume {
    fn parse(boot: &[u8; 512]) -> Option<Volume> {
        let bps = le16(boot, 11);
        let spc = u64::from(boot[13]);
        let reserved = le16(boot, 14);
        let fats = u64::from(boot[16]);
        let total = if le16(boot, 19) != 0 {
            le16(boot, 19)
        } else {
            u64::from(le32(boot, 32))
        };
        let spf = u64::from(le32(boot, 36));
        if bps != 512 || spc == 0 || fats == 0 || spf == 0 || le16(boot, 22) != 0 {
            return None;
        }
        let meta = reserved + fats * spf;
        let clusters = total.checked_sub(meta)? / spc;
        let max = u32::try_from(clusters + 1).ok()?.min(MASK - 16);
        // The FAT must hold an entry for every cluster.
        if (u64::from(max) + 1) * 4 > spf * bps {
            return None;
        }
        Some(Volume {
            cs: bps * spc,
            fat_start: reserved * bps,
            fat_len: spf * bps,
            fats,
            data_start: meta * bps,
            max,
            root: le32(boot, 44),
            fs_info: le16(boot, 48) * bps,
        })
    }

    fn valid(&self, c: u32) -> bool {
        (2..=self.max).contains(&c)
    }

    fn offset(&self, c: u32) -> u64 {
        self.data_start + u64::from(c - 2) * self.cs
    }
}

/// The walk's state: the FAT in memory and which clusters are reached.
struct Walk {
    fat: Vec<u32>,
    reached: Vec<bool>,
}

impl Walk {
    fn value(&self, c: u32) -> u32 {
        self.fat[c as usize] & MASK
    }

    fn set(&mut self, c: u32, v: u32) {
        let e = &mut self.fat[c as usize];
        *e = (*e & !MASK) | v;
    }

    /// Whether `c` may start or continue a chain.
    fn usable(&self, vol: &Volume, c: u32) -> bool {
        vol.valid(c) && !self.reached[c as usize] && !matches!(self.value(c), 0 | BAD)
    }

    /// Follows the chain from `first` (which must be usable), at most
    /// `limit` clusters, marking them reached and cutting it where it goes
    /// wrong or past `limit`.
    fn chain(&mut self, vol: &Volume, first: u32, limit: u64) -> Vec<u32> {
        let mut out = Vec::new();
        let mut c = first;
        loop {
            self.reached[c as usize] = true;
            out.push(c);
            let next = self.value(c);
            if out.len() as u64 >= limit {
                if next < END {
                    self.set(c, EOC);
                }
                return out;
            }
            if next >= END {
                return out;
            }
            if !self.usable(vol, next) {
                self.set(c, EOC);
                return out;
            }
            c = next;
        }
    }
}

/// One directory to look at: its first cluster (0 for the root), the
/// cluster its `..` must name.
struct Todo {
    first: u32,
    parent: u32,
}

fn first_cluster(e: &[u8]) -> u32 {
    ((le16(e, 20) as u32) << 16) | le16(e, 26) as u32
}

fn set_first_cluster(e: &mut [u8], c: u32) {
    let [lo0, lo1, hi0, hi1] = c.to_le_bytes();
    e[20] = hi0;
    e[21] = hi1;
    e[26] = lo0;
    e[27] = lo1;
}

/// The first sector of the data region of the volume whose boot sector is
/// `boot`, if the repair understands its geometry.
pub(crate) fn data_start_sector(boot: &[u8; 512]) -> Option<u64> {
    Volume::parse(boot).map(|v| v.data_start / 512)
}

/// Repairs the volume behind `cache` (see the module doc). A volume whose
/// geometry it does not understand is left alone (fatfs then judges it).
///
/// # Errors
/// `Io` if the device fails, `Corrupt` if a structure lies past its end.
pub(crate) fn repair<D: BlockDevice>(cache: &mut BlockCache<D>) -> Result<Repaired, FsError> {
    let mut boot = [0u8; 512];
    read(cache, 0, &mut boot)?;
    let Some(vol) = Volume::parse(&boot) else {
        return Ok(Repaired::default());
    };
    let mut done = Repaired::default();
    let mut raw = vec![0u8; vol.fat_len as usize];
    read(cache, vol.fat_start, &mut raw)?;
    let entries = vol.max as usize + 1;
    let mut walk = Walk {
        fat: (0..entries).map(|i| le32(&raw, i * 4)).collect(),
        reached: vec![false; entries],
    };
    if !walk.usable(&vol, vol.root) {
        return Err(FsError::Corrupt);
    }
    let mut todo = vec![Todo {
        first: vol.root,
        parent: 0,
    }];
    let root = vol.root;
    while let Some(dir) = todo.pop() {
        let clusters = walk.chain(&vol, dir.first, u64::MAX);
        let mut bytes = vec![0u8; clusters.len() * vol.cs as usize];
        for (i, &c) in clusters.iter().enumerate() {
            let at = i * vol.cs as usize;
            read(cache, vol.offset(c), &mut bytes[at..at + vol.cs as usize])?;
        }
        let place = |i: usize| {
            let byte = (i * 32) as u64;
            vol.offset(clusters[(byte / vol.cs) as usize]) + byte % vol.cs
        };
        let mut changed: Vec<usize> = Vec::new();
        let mut lfn_run: Vec<usize> = Vec::new();
        let count = bytes.len() / 32;
        for i in 0..count {
            let e = &mut bytes[i * 32..i * 32 + 32];
            if e[0] == 0 {
                break;
            }
            if e[0] == DELETED {
                lfn_run.clear();
                continue;
            }
            let attr = e[11];
            if attr == ATTR_LFN {
                lfn_run.push(i);
                continue;
            }
            let run = core::mem::take(&mut lfn_run);
            if attr & ATTR_VOLUME != 0 {
                continue;
            }
            let is_dir = attr & ATTR_DIR != 0;
            if dir.first != root && i < 2 {
                let want = if i == 0 { dir.first } else { dir.parent };
                if first_cluster(e) != want {
                    set_first_cluster(e, want);
                    changed.push(i);
                    done.dots_fixed += 1;
                }
                continue;
            }
            let first = first_cluster(e);
            let remove = |bytes: &mut [u8], changed: &mut Vec<usize>| {
                for &j in run.iter().chain(core::iter::once(&i)) {
                    bytes[j * 32] = DELETED;
                    changed.push(j);
                }
            };
            if is_dir {
                if !walk.usable(&vol, first) || !dot_entries(cache, &vol, first)? {
                    remove(&mut bytes, &mut changed);
                    done.entries_removed += 1;
                    continue;
                }
                let parent = if dir.first == root { 0 } else { dir.first };
                todo.push(Todo { first, parent });
                // The directory's chain is walked when it is taken off the
                // list; mark its first cluster now so that a second entry
                // on it is seen as one.
                walk.reached[first as usize] = true;
                continue;
            }
            let size = u64::from(le32(e, 28));
            let need = size.div_ceil(vol.cs);
            if first == 0 || need == 0 {
                if first != 0 || size != 0 {
                    set_first_cluster(e, 0);
                    e[28..32].copy_from_slice(&[0; 4]);
                    changed.push(i);
                    done.files_cut += 1;
                }
                continue;
            }
            if vol.valid(first) && walk.reached[first as usize] {
                // A second entry on a chain already reached: a rename cut
                // short between writing the new entry and removing the old.
                remove(&mut bytes, &mut changed);
                done.entries_removed += 1;
                continue;
            }
            if !walk.usable(&vol, first) {
                set_first_cluster(e, 0);
                e[28..32].copy_from_slice(&[0; 4]);
                changed.push(i);
                done.files_cut += 1;
                continue;
            }
            let chain = walk.chain(&vol, first, need);
            let fits = chain.len() as u64 * vol.cs;
            if fits < size {
                e[28..32].copy_from_slice(&(fits as u32).to_le_bytes());
                changed.push(i);
                done.files_cut += 1;
            }
        }
        // A directory's own first cluster was marked reached when its entry
        // was met; `chain` marks it again, harmlessly.
        changed.sort_unstable();
        changed.dedup();
        for i in changed {
            write(cache, place(i), &bytes[i * 32..i * 32 + 32])?;
        }
    }
    // Clusters allocated that nothing reached.
    for c in 2..=vol.max {
        let v = walk.value(c);
        if v != 0 && v != BAD && !walk.reached[c as usize] {
            walk.set(c, 0);
            done.clusters_freed += 1;
        }
    }
    let mut fixed = raw.clone();
    for (i, v) in walk.fat.iter().enumerate() {
        fixed[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
    }
    let mut copy = vec![0u8; vol.fat_len as usize];
    for n in 0..vol.fats {
        let at = vol.fat_start + n * vol.fat_len;
        if n == 0 {
            copy.copy_from_slice(&raw);
        } else {
            read(cache, at, &mut copy)?;
        }
        for (k, (have, want)) in copy.chunks(512).zip(fixed.chunks(512)).enumerate() {
            if have != want {
                write(cache, at + k as u64 * 512, want)?;
                done.fat_sectors_written += 1;
            }
        }
    }
    let free = (2..=vol.max).filter(|&c| walk.value(c) == 0).count() as u32;
    let hint = (2..=vol.max)
        .find(|&c| walk.value(c) == 0)
        .unwrap_or(0xFFFF_FFFF);
    let mut info = [0u8; 512];
    if vol.fs_info != 0 {
        read(cache, vol.fs_info, &mut info)?;
        let signed = le32(&info, 0) == 0x4161_5252
            && le32(&info, 484) == 0x6141_7272
            && le32(&info, 508) == 0xAA55_0000;
        if signed {
            write(cache, vol.fs_info + 488, &free.to_le_bytes())?;
            write(cache, vol.fs_info + 492, &hint.to_le_bytes())?;
        }
    }
    Ok(done)
}

/// Whether the directory starting at cluster `c` begins with `.` and `..`.
fn dot_entries<D: BlockDevice>(
    cache: &mut BlockCache<D>,
    vol: &Volume,
    c: u32,
) -> Result<bool, FsError> {
    let mut two = [0u8; 64];
    read(cache, vol.offset(c), &mut two)?;
    Ok(&two[..11] == b".          "
        && two[11] & ATTR_DIR != 0
        && &two[32..43] == b"..         "
        && two[43] & ATTR_DIR != 0)
}
