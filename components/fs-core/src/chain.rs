//! The file server's own path to file data: it reads and writes a file's
//! clusters through the block cache without starry-fatfs, so that a
//! request costs the same at any position in the file.
//!
//! fatfs's `File::seek` walks the cluster chain from the file's first
//! cluster every time, one FAT entry per cluster, and a `File` cannot be
//! kept between requests (see `server`'s module doc). With 512-byte
//! clusters a request at 16 MiB walked 32,768 entries. This module keeps,
//! per handle, a [`Cursor`]: the cluster at every [`STRIDE`]-th index of
//! the chain learnt so far and the last cluster visited. A request starts
//! from the nearest known cluster at or before its position and walks at
//! most `STRIDE - 1` entries to reach it; the entries come from a one-sector
//! window of the FAT ([`Fat`]), so walking a run of neighbouring entries is
//! one cache access per 128 entries. Consecutive clusters are read or
//! written with one cache call.
//!
//! Writes allocate clusters here too ([`Alloc`]): fatfs can only append to
//! a file through a `File` positioned at its end, which again means a walk
//! from the start. fatfs keeps its own free-cluster count, which does not
//! see these allocations; [`Alloc::taken`] counts them, the server reports
//! fatfs's count minus `taken` and writes the true count into the FSInfo
//! sector at unmount. Everything that frees clusters (truncate, unlink)
//! still goes through fatfs, whose count then rises by exactly the clusters
//! freed, so the difference stays right.
//!
//! The directory entry (size, first cluster, modification time) is
//! rewritten here as well ([`Entry`]); its position is found by scanning
//! the parent directory once per handle ([`find_entry`]) and checked against
//! what fatfs's lookup reported on every use.
//!
//! A cursor is only a cache of the FAT: it is dropped when its file's first
//! cluster changes, cut when the file shrinks (the server does this for
//! every handle on the file), and cut to the file's current size on every
//! use. Appends never change what it knows.

use alloc::vec;
use alloc::vec::Vec;

use crate::cache::BlockCache;
use crate::device::BlockDevice;
use crate::FsError;

/// A known cluster every `STRIDE` clusters of a chain: a request walks at
/// most `STRIDE - 1` FAT entries before it reaches its first cluster.
pub(crate) const STRIDE: u32 = 64;

/// Bytes of the FAT held in a [`Fat`] window (128 entries).
const WINDOW: usize = 512;

/// Bytes of a directory entry.
pub(crate) const ENTRY_BYTES: usize = 32;

/// The 28 bits of a FAT32 entry that hold a cluster number.
const CLUSTER_MASK: u32 = 0x0FFF_FFFF;

/// Entries from here up mark the end of a chain.
const END_OF_CHAIN: u32 = 0x0FFF_FFF8;

/// The value written to end a chain.
const EOC: u32 = 0x0FFF_FFFF;

/// Cluster numbers start at 2.
const FIRST_CLUSTER: u32 = 2;

/// Where fatfs keeps the volume's status flags (dirty, I/O error) in the
/// FAT32 boot sector.
const FLAGS_OFFSET: u64 = 0x41;

/// The "dirty" status flag.
const DIRTY: u8 = 1;

/// A FAT directory holds at most this many entries.
const MAX_DIR_ENTRIES: u64 = 65_536;

/// Zeros for filling gaps.
const ZEROS: [u8; 4096] = [0; 4096];

fn le16(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .and_then(|s| <[u8; 2]>::try_from(s).ok())
        .map_or(0, u16::from_le_bytes)
}

fn le32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map_or(0, u32::from_le_bytes)
}

/// Reads exactly `buf.len()` bytes at `pos` (`Corrupt` if the disk ends).
fn read_exact<D: BlockDevice>(
    cache: &mut BlockCache<D>,
    pos: u64,
    buf: &mut [u8],
) -> Result<(), FsError> {
    if cache.read_at(pos, buf)? != buf.len() {
        return Err(FsError::Corrupt);
    }
    Ok(())
}

/// Writes all of `data` at `pos` (`Corrupt` if the disk ends).
fn write_all<D: BlockDevice>(
    cache: &mut BlockCache<D>,
    pos: u64,
    data: &[u8],
) -> Result<(), FsError> {
    if cache.write_at(pos, data)? != data.len() {
        return Err(FsError::Corrupt);
    }
    Ok(())
}

/// The layout of a FAT32 volume, read from its boot sector the way fatfs
/// reads it (after fatfs accepted the volume).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    /// log2 of the cluster size.
    shift: u32,
    /// Byte offset of the FAT that is read (the first, or the active one
    /// when mirroring is off).
    fat: u64,
    /// Bytes of one FAT.
    fat_len: u64,
    /// FATs written, `fat_len` apart from `fat` on (all of them when
    /// mirroring, else only the active one).
    fat_copies: u64,
    /// Byte offset of cluster 2.
    data: u64,
    /// One past the highest usable cluster number.
    end: u32,
    /// The root directory's first cluster.
    pub(crate) root: u32,
    /// Byte offset of the FSInfo sector.
    fs_info: u64,
    /// The status flags byte as found at mount.
    flags: u8,
}

impl Geometry {
    /// The layout described by `boot` (the first 512 bytes of the volume).
    ///
    /// # Errors
    /// `Corrupt` if it is not a FAT32 layout.
    pub(crate) fn parse(boot: &[u8; 512]) -> Result<Geometry, FsError> {
        let bps = u64::from(le16(boot, 11));
        let spc = u64::from(boot[13]);
        let reserved = u64::from(le16(boot, 14));
        let fats = u64::from(boot[16]);
        let root_entries = u64::from(le16(boot, 17));
        let total16 = u64::from(le16(boot, 19));
        let spf16 = le16(boot, 22);
        let total32 = u64::from(le32(boot, 32));
        let spf = u64::from(le32(boot, 36));
        let ext_flags = u64::from(le16(boot, 40));
        let root = le32(boot, 44);
        let fs_info = u64::from(le16(boot, 48));
        if spf16 != 0 || !bps.is_power_of_two() || bps < 512 || !spc.is_power_of_two() {
            return Err(FsError::Corrupt);
        }
        if fats == 0 || spf == 0 {
            return Err(FsError::Corrupt);
        }
        let cluster = bps * spc;
        let total = if total16 != 0 { total16 } else { total32 };
        let first_data = reserved + fats * spf + (root_entries * 32).div_ceil(bps);
        if total <= first_data {
            return Err(FsError::Corrupt);
        }
        let clusters = (total - first_data) / spc;
        let fat_len = spf * bps;
        let end = (clusters + u64::from(FIRST_CLUSTER))
            .min(fat_len / 4)
            .min(u64::from(END_OF_CHAIN - 8));
        let (fat, fat_copies) = if ext_flags & 0x80 == 0 {
            (reserved * bps, fats)
        } else {
            ((reserved + (ext_flags & 0x0F) * spf) * bps, 1)
        };
        Ok(Geometry {
            shift: cluster.trailing_zeros(),
            fat,
            fat_len,
            fat_copies,
            data: first_data * bps,
            end: u32::try_from(end).map_err(|_| FsError::Corrupt)?,
            root,
            fs_info: fs_info * bps,
            flags: boot[FLAGS_OFFSET as usize],
        })
    }

    /// Bytes per cluster.
    pub(crate) fn cluster_size(&self) -> u64 {
        1 << self.shift
    }

    /// Clusters a file of `size` bytes has.
    pub(crate) fn clusters(&self, size: u64) -> u64 {
        size.div_ceil(self.cluster_size())
    }

    /// Whether `c` is a cluster number of the volume.
    fn valid(&self, c: u32) -> bool {
        (FIRST_CLUSTER..self.end).contains(&c)
    }

    /// Byte offset of cluster `c`.
    fn offset(&self, c: u32) -> Result<u64, FsError> {
        if !self.valid(c) {
            return Err(FsError::Corrupt);
        }
        Ok(self.data + (u64::from(c - FIRST_CLUSTER) << self.shift))
    }
}

/// The FAT as the data path sees it: entries are read and written through
/// a window of one FAT sector, so walking or allocating neighbouring
/// entries costs one cache access per 128 of them. Changes reach the cache
/// (every FAT copy) when the window moves and at [`Fat::flush`], which
/// every writer calls before it returns.
pub(crate) struct Fat<'a, D: BlockDevice> {
    cache: &'a mut BlockCache<D>,
    geo: &'a Geometry,
    /// The FAT sector in `buf`, if any.
    at: Option<u64>,
    /// Whether `buf` holds changes not yet in the cache.
    dirty: bool,
    buf: [u8; WINDOW],
}

impl<'a, D: BlockDevice> Fat<'a, D> {
    pub(crate) fn new(cache: &'a mut BlockCache<D>, geo: &'a Geometry) -> Self {
        Fat {
            cache,
            geo,
            at: None,
            dirty: false,
            buf: [0; WINDOW],
        }
    }

    /// Writes the window's changes to every FAT copy.
    ///
    /// # Errors
    /// `Io` (the changes stay in the window), `Corrupt`.
    fn flush(&mut self) -> Result<(), FsError> {
        if let (true, Some(sector)) = (self.dirty, self.at) {
            for copy in 0..self.geo.fat_copies {
                let at = self.geo.fat + copy * self.geo.fat_len + sector * WINDOW as u64;
                write_all(self.cache, at, &self.buf)?;
            }
        }
        self.dirty = false;
        Ok(())
    }

    /// Puts the FAT sector holding cluster `c`'s entry in the window;
    /// returns the entry's offset in it.
    fn load(&mut self, c: u32) -> Result<usize, FsError> {
        if !self.geo.valid(c) {
            return Err(FsError::Corrupt);
        }
        let byte = u64::from(c) * 4;
        let sector = byte / WINDOW as u64;
        if self.at != Some(sector) {
            self.flush()?;
            self.at = None;
            read_exact(
                self.cache,
                self.geo.fat + sector * WINDOW as u64,
                &mut self.buf,
            )?;
            self.at = Some(sector);
        }
        Ok((byte % WINDOW as u64) as usize)
    }

    /// The raw 32-bit entry of cluster `c`.
    fn raw(&mut self, c: u32) -> Result<u32, FsError> {
        let i = self.load(c)?;
        Ok(le32(&self.buf, i))
    }

    /// The cluster after `c` in its chain, `None` at the end. A free or bad
    /// entry, or one pointing outside the volume, is `Corrupt`.
    fn next(&mut self, c: u32) -> Result<Option<u32>, FsError> {
        let v = self.raw(c)? & CLUSTER_MASK;
        if v >= END_OF_CHAIN {
            Ok(None)
        } else if self.geo.valid(v) {
            Ok(Some(v))
        } else {
            Err(FsError::Corrupt)
        }
    }

    /// Sets the entry of `c` to `value` (in the window), keeping its four
    /// reserved bits.
    fn set(&mut self, c: u32, value: u32) -> Result<(), FsError> {
        let i = self.load(c)?;
        let slot = self.buf.get_mut(i..i + 4).ok_or(FsError::Corrupt)?;
        let old = le32(slot, 0);
        let new = (old & !CLUSTER_MASK) | (value & CLUSTER_MASK);
        slot.copy_from_slice(&new.to_le_bytes());
        self.dirty = true;
        Ok(())
    }
}

/// The data path's cluster allocator and its bookkeeping for the volume.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Alloc {
    /// Where the next search for a free cluster starts.
    hint: u32,
    /// Clusters allocated here since the mount: fatfs's free count does not
    /// know them (see the module doc).
    pub(crate) taken: u32,
    /// Whether this path marked the volume dirty.
    marked: bool,
}

impl Alloc {
    /// Marks the volume dirty (as fatfs does before its first write), so
    /// that after a crash the free count is recounted. Once per mount.
    fn mark_dirty<D: BlockDevice>(
        &mut self,
        cache: &mut BlockCache<D>,
        geo: &Geometry,
    ) -> Result<(), FsError> {
        if self.marked || geo.flags & DIRTY != 0 {
            return Ok(());
        }
        write_all(cache, FLAGS_OFFSET, &[geo.flags | DIRTY])?;
        self.marked = true;
        Ok(())
    }

    /// A free cluster, marked as the end of a chain and linked after
    /// `prev`. `budget` is the number of free clusters, counted down.
    fn take<D: BlockDevice>(
        &mut self,
        fat: &mut Fat<'_, D>,
        budget: &mut u32,
        prev: Option<u32>,
    ) -> Result<u32, FsError> {
        if *budget == 0 {
            return Err(FsError::NoSpace);
        }
        let end = fat.geo.end;
        let start = if fat.geo.valid(self.hint) {
            self.hint
        } else {
            FIRST_CLUSTER
        };
        let mut found = None;
        for c in (start..end).chain(FIRST_CLUSTER..start) {
            if fat.raw(c)? & CLUSTER_MASK == 0 {
                found = Some(c);
                break;
            }
        }
        let c = found.ok_or(FsError::NoSpace)?;
        fat.set(c, EOC)?;
        if let Some(p) = prev {
            fat.set(p, c)?;
        }
        self.hint = c + 1;
        self.taken = self.taken.wrapping_add(1);
        *budget -= 1;
        Ok(c)
    }

    /// After fatfs unmounted: writes the true free count and the next free
    /// cluster into the FSInfo sector, and takes the dirty flag off again
    /// if this path set it. `free` is the true free count.
    pub(crate) fn unmount<D: BlockDevice>(
        &self,
        cache: &mut BlockCache<D>,
        geo: &Geometry,
        free: u32,
    ) -> Result<(), FsError> {
        if self.taken != 0 {
            let mut info = [0u8; 512];
            read_exact(cache, geo.fs_info, &mut info)?;
            let signed = le32(&info, 0) == 0x4161_5252
                && le32(&info, 484) == 0x6141_7272
                && le32(&info, 508) == 0xAA55_0000;
            if signed {
                write_all(cache, geo.fs_info + 488, &free.to_le_bytes())?;
                if geo.valid(self.hint) {
                    write_all(cache, geo.fs_info + 492, &self.hint.to_le_bytes())?;
                }
            }
        }
        if self.marked {
            write_all(cache, FLAGS_OFFSET, &[geo.flags])?;
        }
        Ok(())
    }
}

/// What a handle knows of its file's cluster chain (see the module doc).
#[derive(Clone, Debug)]
pub(crate) struct Cursor {
    /// `marks[j]` is the cluster at index `j * STRIDE`; `marks[0]` is the
    /// first cluster. Never empty.
    marks: Vec<u32>,
    /// The last cluster visited and its index.
    last: (u32, u32),
}

impl Cursor {
    fn new(first: u32) -> Cursor {
        Cursor {
            marks: vec![first],
            last: (0, first),
        }
    }

    /// The chain's first cluster.
    fn first(&self) -> Option<u32> {
        self.marks.first().copied()
    }

    /// Forgets everything from cluster index `keep` on (the chain was cut
    /// to `keep` clusters). Returns false if nothing is left.
    pub(crate) fn trim(&mut self, keep: u64) -> bool {
        if keep == 0 {
            return false;
        }
        let marks = usize::try_from((keep - 1) / u64::from(STRIDE) + 1).unwrap_or(usize::MAX);
        self.marks.truncate(marks);
        if u64::from(self.last.0) >= keep {
            self.last = (0, self.marks.first().copied().unwrap_or(self.last.1));
        }
        true
    }

    /// The known cluster nearest before or at index `k`.
    fn start(&self, k: u32) -> (u32, u32) {
        let j = (k / STRIDE) as usize;
        let (j, c) = match self.marks.get(j) {
            Some(&c) => (j, c),
            None => {
                let j = self.marks.len().saturating_sub(1);
                (j, self.marks.get(j).copied().unwrap_or(self.last.1))
            }
        };
        let mark = (j as u32 * STRIDE, c);
        if self.last.0 <= k && self.last.0 >= mark.0 {
            self.last
        } else {
            mark
        }
    }

    /// Notes that cluster index `i` is cluster `c` (the walk reached it
    /// from index `i - 1`).
    fn note(&mut self, i: u32, c: u32) {
        if i.is_multiple_of(STRIDE) && (i / STRIDE) as usize == self.marks.len() {
            self.marks.push(c);
        }
    }

    /// The cluster at index `k`, walking from the nearest known one.
    fn locate<D: BlockDevice>(&mut self, fat: &mut Fat<'_, D>, k: u32) -> Result<u32, FsError> {
        let (mut i, mut c) = self.start(k);
        while i < k {
            c = fat.next(c)?.ok_or(FsError::Corrupt)?;
            i += 1;
            self.note(i, c);
        }
        self.last = (i, c);
        Ok(c)
    }
}

/// The cursor in `slot` for a chain starting at `first` with `clusters`
/// clusters: the one there if it describes this chain (cut to its length),
/// else a new one.
fn cursor(slot: &mut Option<Cursor>, first: u32, clusters: u64) -> &mut Cursor {
    let keep = slot
        .as_mut()
        .is_some_and(|c| c.first() == Some(first) && c.trim(clusters.max(1)));
    if !keep {
        *slot = None;
    }
    slot.get_or_insert_with(|| Cursor::new(first))
}

/// A file's directory entry, where it is on the volume and its 32 bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    at: u64,
    raw: [u8; ENTRY_BYTES],
}

/// The 11 bytes of a short name as stored.
pub(crate) type RawName = [u8; 11];

impl Entry {
    /// The entry at `at` if it still is a file's entry with the stored
    /// short name `name`.
    pub(crate) fn read<D: BlockDevice>(
        cache: &mut BlockCache<D>,
        at: u64,
        name: &RawName,
    ) -> Result<Option<Entry>, FsError> {
        let mut raw = [0u8; ENTRY_BYTES];
        read_exact(cache, at, &mut raw)?;
        Ok((live_file(&raw) && raw.get(..11) == Some(&name[..])).then_some(Entry { at, raw }))
    }

    /// Where the entry is.
    pub(crate) fn at(&self) -> u64 {
        self.at
    }

    /// Its short name as stored.
    pub(crate) fn name(&self) -> RawName {
        let mut n = [0u8; 11];
        n.copy_from_slice(&self.raw[..11]);
        n
    }

    /// The file's size.
    pub(crate) fn size(&self) -> u64 {
        u64::from(le32(&self.raw, 28))
    }

    /// The file's first cluster (`None` for an empty file).
    pub(crate) fn first(&self) -> Option<u32> {
        let c = (u32::from(le16(&self.raw, 20)) << 16) | u32::from(le16(&self.raw, 26));
        (c != 0).then_some(c)
    }

    fn set_size(&mut self, size: u32) {
        self.raw[28..32].copy_from_slice(&size.to_le_bytes());
    }

    fn set_first(&mut self, c: u32) {
        let [lo0, lo1, hi0, hi1] = c.to_le_bytes();
        self.raw[20] = hi0;
        self.raw[21] = hi1;
        self.raw[26] = lo0;
        self.raw[27] = lo1;
    }

    /// Sets the modification time as fatfs encodes it.
    fn set_modified(&mut self, now: fatfs::DateTime) {
        let d = now.date;
        let t = now.time;
        let date = (d.year.saturating_sub(1980) << 9) | ((d.month & 0xF) << 5) | (d.day & 0x1F);
        let time = ((t.hour & 0x1F) << 11) | ((t.min & 0x3F) << 5) | ((t.sec / 2) & 0x1F);
        self.raw[22..24].copy_from_slice(&time.to_le_bytes());
        self.raw[24..26].copy_from_slice(&date.to_le_bytes());
    }
}

/// A short name as fatfs shows it: the name part, and `.` and the
/// extension if there is one; a leading 0x05 stands for 0xE5.
fn short_name(raw: &[u8; ENTRY_BYTES], out: &mut [u8; 12]) -> usize {
    let part = |r: core::ops::Range<usize>| {
        raw.get(r.clone())
            .and_then(|s| s.iter().rposition(|&b| b != b' '))
            .map_or(0, |p| p + 1)
    };
    let name = part(0..8);
    let ext = part(8..11);
    out[..name].copy_from_slice(&raw[..name]);
    let mut len = name;
    if ext > 0 {
        out[name] = b'.';
        out[name + 1..name + 1 + ext].copy_from_slice(&raw[8..8 + ext]);
        len += 1 + ext;
    }
    if out[0] == 0x05 {
        out[0] = 0xE5;
    }
    len
}

/// Whether `raw` is a live file entry: not free, deleted, a long-name
/// part, a volume label or a directory.
fn live_file(raw: &[u8; ENTRY_BYTES]) -> bool {
    let attr = raw[11];
    !(raw[0] == 0 || raw[0] == 0xE5 || attr & 0x0F == 0x0F || attr & 0x18 != 0)
}

/// Whether `raw` is a live file entry with short name `name` (as fatfs
/// shows it) and size `size`.
fn matches(raw: &[u8; ENTRY_BYTES], name: &[u8], size: u64) -> bool {
    if !live_file(raw) {
        return false;
    }
    let mut shown = [0u8; 12];
    let len = short_name(raw, &mut shown);
    shown.get(..len) == Some(name) && u64::from(le32(raw, 28)) == size
}

/// Finds the entry of the file with short name `name` and size `size` in
/// the directory whose chain starts at `dir`.
///
/// # Errors
/// `Corrupt` if it is not there (fatfs just found it) or the directory's
/// chain is broken or loops; `Io`.
pub(crate) fn find_entry<D: BlockDevice>(
    cache: &mut BlockCache<D>,
    geo: &Geometry,
    dir: u32,
    name: &[u8],
    size: u64,
) -> Result<Entry, FsError> {
    let mut fat = Fat::new(cache, geo);
    let per_cluster = geo.cluster_size() / ENTRY_BYTES as u64;
    let mut c = dir;
    let mut seen = 0u64;
    loop {
        let base = geo.offset(c)?;
        for i in 0..per_cluster {
            let at = base + i * ENTRY_BYTES as u64;
            let mut raw = [0u8; ENTRY_BYTES];
            read_exact(fat.cache, at, &mut raw)?;
            if raw[0] == 0 {
                return Err(FsError::Corrupt);
            }
            if matches(&raw, name, size) {
                return Ok(Entry { at, raw });
            }
            seen += 1;
            if seen >= MAX_DIR_ENTRIES {
                return Err(FsError::Corrupt);
            }
        }
        c = fat.next(c)?.ok_or(FsError::Corrupt)?;
    }
}

/// Reads `buf.len()` bytes at `pos` of the file of `entry`; the caller
/// checked that they lie inside the file.
///
/// # Errors
/// `Corrupt` if the chain is shorter than the size or broken; `Io`.
pub(crate) fn read<D: BlockDevice>(
    cache: &mut BlockCache<D>,
    geo: &Geometry,
    slot: &mut Option<Cursor>,
    entry: &Entry,
    pos: u64,
    buf: &mut [u8],
) -> Result<(), FsError> {
    if buf.is_empty() {
        return Ok(());
    }
    let first = entry.first().ok_or(FsError::Corrupt)?;
    let cur = cursor(slot, first, geo.clusters(entry.size()));
    let mut fat = Fat::new(cache, geo);
    let cs = geo.cluster_size();
    let mut k = u32::try_from(pos >> geo.shift).map_err(|_| FsError::Corrupt)?;
    let mut c = cur.locate(&mut fat, k)?;
    let mut off = pos & (cs - 1);
    let want = buf.len();
    let mut done = 0usize;
    // The run of disk-contiguous bytes not yet read: (disk offset, start
    // in buf, length).
    let mut run = (0u64, 0usize, 0usize);
    loop {
        let n = usize::try_from(cs - off)
            .unwrap_or(usize::MAX)
            .min(want - done);
        let disk = geo.offset(c)? + off;
        if run.2 > 0 && run.0 + run.2 as u64 == disk {
            run.2 += n;
        } else {
            if run.2 > 0 {
                read_exact(fat.cache, run.0, &mut buf[run.1..run.1 + run.2])?;
            }
            run = (disk, done, n);
        }
        done += n;
        if done >= want {
            break;
        }
        c = fat.next(c)?.ok_or(FsError::Corrupt)?;
        k += 1;
        cur.note(k, c);
        off = 0;
    }
    cur.last = (k, c);
    read_exact(fat.cache, run.0, &mut buf[run.1..run.1 + run.2])
}

/// Writes the bytes of file offsets `[from, from + len)` to the disk at
/// `disk`: zeros below `pos` (the gap before a write past the end), then
/// `data` (which starts at file offset `pos`).
fn put<D: BlockDevice>(
    cache: &mut BlockCache<D>,
    disk: u64,
    from: u64,
    len: u64,
    pos: u64,
    data: &[u8],
) -> Result<(), FsError> {
    let mut at = from;
    let end = from + len;
    while at < end {
        let (bytes, n): (&[u8], u64) = if at < pos {
            let n = (pos.min(end) - at).min(ZEROS.len() as u64);
            (&ZEROS[..n as usize], n)
        } else {
            let i = usize::try_from(at - pos).map_err(|_| FsError::Corrupt)?;
            let j = usize::try_from(end - pos).map_err(|_| FsError::Corrupt)?;
            let s = data.get(i..j).ok_or(FsError::Corrupt)?;
            (s, s.len() as u64)
        };
        write_all(cache, disk + (at - from), bytes)?;
        at += n;
    }
    Ok(())
}

/// What [`write`] needs besides the cache and the file.
pub(crate) struct WriteCtx<'a> {
    pub(crate) geo: &'a Geometry,
    pub(crate) alloc: &'a mut Alloc,
    /// Free clusters on the volume.
    pub(crate) free: u32,
    /// The time stamped on the entry.
    pub(crate) now: fatfs::DateTime,
}

/// Writes `data` at `pos` of the file of `entry`, first filling any gap
/// between its end and `pos` with zeros (with empty `data`: grows the file
/// to `pos`). Allocates clusters as needed, then rewrites the entry (size,
/// first cluster, modification time), also when it fails part way.
///
/// Returns the bytes of `data` written: all of them, or fewer if the
/// volume filled up after at least one was placed.
///
/// # Errors
/// `NoSpace` (no byte of `data` placed; the file may have grown by part of
/// the gap, which the caller undoes), `Corrupt`, `Io`.
pub(crate) fn write<D: BlockDevice>(
    cache: &mut BlockCache<D>,
    ctx: WriteCtx<'_>,
    slot: &mut Option<Cursor>,
    entry: &mut Entry,
    pos: u64,
    data: &[u8],
) -> Result<usize, FsError> {
    let WriteCtx {
        geo,
        alloc,
        mut free,
        now,
    } = ctx;
    let size = entry.size();
    let start = pos.min(size);
    let end = pos + data.len() as u64;
    if end <= start {
        return Ok(0);
    }
    let first = entry.first();
    if first.is_none() && size > 0 {
        return Err(FsError::Corrupt);
    }
    alloc.mark_dirty(cache, geo)?;
    let mut fat = Fat::new(cache, geo);
    let mut new_first = None;
    let mut placed = start;
    let result = (|| {
        let cs = geo.cluster_size();
        let mut k = u32::try_from(start >> geo.shift).map_err(|_| FsError::Corrupt)?;
        // The cluster holding `start`.
        let (mut c, cur) = match first {
            Some(f) => {
                let cur = cursor(slot, f, geo.clusters(size));
                let c = if k == 0 {
                    f
                } else {
                    let prev = cur.locate(&mut fat, k - 1)?;
                    match fat.next(prev)? {
                        Some(n) => n,
                        None => alloc.take(&mut fat, &mut free, Some(prev))?,
                    }
                };
                (c, cur)
            }
            None => {
                let c = alloc.take(&mut fat, &mut free, None)?;
                new_first = Some(c);
                *slot = None;
                (c, cursor(slot, c, 1))
            }
        };
        cur.note(k, c);
        let mut at = start;
        // The run of disk-contiguous bytes not yet written: (disk offset,
        // file offset, length).
        let mut run = (0u64, start, 0u64);
        let mut stop = None;
        loop {
            let off = at & (cs - 1);
            let n = (cs - off).min(end - at);
            let disk = geo.offset(c)? + off;
            if run.2 > 0 && run.0 + run.2 == disk {
                run.2 += n;
            } else {
                if run.2 > 0 {
                    put(fat.cache, run.0, run.1, run.2, pos, data)?;
                    placed = run.1 + run.2;
                }
                run = (disk, at, n);
            }
            at += n;
            if at >= end {
                break;
            }
            let next = match fat.next(c) {
                Ok(Some(n)) => Ok(n),
                Ok(None) => alloc.take(&mut fat, &mut free, Some(c)),
                Err(e) => Err(e),
            };
            match next {
                Ok(n) => {
                    c = n;
                    k += 1;
                    cur.note(k, c);
                }
                Err(e) => {
                    stop = Some(e);
                    break;
                }
            }
        }
        cur.last = (k, c);
        put(fat.cache, run.0, run.1, run.2, pos, data)?;
        placed = run.1 + run.2;
        stop.map_or(Ok(()), Err)
    })();
    // The FAT changes, then the entry, for whatever was placed. If the FAT
    // changes could not be written, the entry must not claim the clusters.
    let result = match fat.flush() {
        Ok(()) => result,
        Err(e) => return Err(e),
    };
    let grown = placed.max(size);
    if placed > start || new_first.is_some() {
        if let Some(c) = new_first {
            entry.set_first(c);
        }
        entry.set_size(u32::try_from(grown).map_err(|_| FsError::FileTooLarge)?);
        entry.set_modified(now);
        write_all(fat.cache, entry.at, &entry.raw)?;
    }
    match result {
        Ok(()) => Ok(data.len()),
        Err(FsError::NoSpace) if placed > pos => {
            Ok(usize::try_from(placed - pos).unwrap_or(usize::MAX))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_starts_from_the_nearest_known_cluster() {
        let mut c = Cursor::new(10);
        assert_eq!(c.start(5), (0, 10));
        for i in 1..=200u32 {
            c.note(i, 10 + i);
        }
        c.last = (200, 210);
        assert_eq!(c.marks, vec![10, 74, 138, 202]);
        assert_eq!(c.start(63), (0, 10));
        assert_eq!(c.start(64), (64, 74));
        assert_eq!(c.start(199), (192, 202));
        assert_eq!(c.start(250), (200, 210));
        assert!(c.trim(100));
        assert_eq!(c.marks, vec![10, 74]);
        assert_eq!(c.start(250), (64, 74));
        assert!(c.trim(1));
        assert_eq!(c.marks, vec![10]);
        assert!(!c.trim(0));
    }

    #[test]
    fn short_names_are_shown_as_fatfs_shows_them() {
        let mut raw = [b' '; ENTRY_BYTES];
        raw[..11].copy_from_slice(b"README  TXT");
        let mut out = [0u8; 12];
        let n = short_name(&raw, &mut out);
        assert_eq!(&out[..n], b"README.TXT");
        raw[..11].copy_from_slice(b"\x05BC        ");
        let n = short_name(&raw, &mut out);
        assert_eq!(&out[..n], b"\xE5BC");
    }
}
