//! The file server's logic, independent of IPC: sessions, handles and the
//! operations, on a FAT32 volume reached through the block cache.
//!
//! # Holding open files
//!
//! starry-fatfs's `File<'a>` borrows the `FileSystem` and carries its own
//! copy of the file's directory entry (size, first cluster), written back
//! when the `File` is flushed or dropped. Keeping such objects alive between
//! requests would need a `'static` file system and, worse, would let two
//! handles on one file hold two diverging copies of its entry, and would
//! make `unlink`/`rename` of an open file corrupt the volume (fatfs's own
//! documentation forbids both while a `File` exists).
//!
//! So a handle holds no fatfs object. It records the file's normalised path
//! (in the spelling stored on disk), its own position and its open flags;
//! every operation looks the path up again through fatfs (a read or write
//! goes straight to the file's directory entry once the handle knows where
//! it is, see below) and finishes by writing the directory entry into the
//! cache before returning. Consequences:
//! * two handles on one file always see each other's completed writes and
//!   size changes, and never overwrite each other's metadata;
//! * `rename` rewrites the path of every open handle on or under the
//!   renamed entry, so handles follow their file;
//! * `unlink` marks the handles on the removed entry as gone: they then
//!   fail with [`FsError::NotFound`] (until closed), even if a new file is
//!   created under the same name;
//! * the price is a path lookup, served from the block cache.
//!
//! # Reaching a position
//!
//! fatfs's `File::seek` walks the cluster chain from the file's first
//! cluster on every call, so a fresh `File` per request would make a
//! request's cost grow with its position (quadratic for sequential I/O).
//! Reads and writes of file data therefore bypass fatfs (`chain`): each
//! handle keeps a cursor into its file's cluster chain (a known cluster
//! every 64 and the last one visited), the data is read and written
//! through the cache directly, clusters for growth are allocated there,
//! and the directory entry is rewritten there. The cursor is a cache of
//! the FAT: it is checked against the file's first cluster and size on
//! every use, and cut for every handle on a file that shrinks. The entry's
//! place is remembered per handle with its short name (checked on every
//! use) and forgotten on `rename` and `unlink`, the only operations that
//! move or remove an entry. Namespace operations, shrinking and freeing
//! stay with fatfs.
//!
//! # Sessions and handles
//!
//! A client is identified by its badge (`u64`); its session is simply the
//! set of handles it owns. A [`Handle`] value is `incarnation << 48 |
//! generation << 16 | slot`: the slot's generation (32 bits) changes every
//! time the slot is freed, so a closed handle value is never valid again,
//! and every use checks that the caller owns the slot. A foreign, closed or
//! made-up handle gives [`FsError::UnknownHandle`]. The incarnation (16
//! bits) is the file server component's ([`FileServer::set_incarnation`]):
//! a handle from before a restart gives [`FsError::Stale`] and never names
//! a file of the new table. [`Limits`] caps handles per client and in
//! total.
//!
//! # Positions and sizes
//!
//! A handle's position may be set past the end of the file with `seek`.
//! Reading there fails with [`FsError::PastEnd`]; reading exactly at the
//! end returns 0 bytes. Writing there first fills the gap with zeros.
//! Files are limited to 4 GiB − 1 byte ([`MAX_FILE_SIZE`]).
//!
//! # Failures
//!
//! Every error leaves the volume consistent and the server usable:
//! * a write that runs out of space returns the bytes it placed (a short
//!   write; the next write then fails with [`FsError::NoSpace`]); a write
//!   or truncate that fails without placing anything gives the file back
//!   its old size;
//! * creating a name (`open` with create, `mkdir`, `rename`) first checks
//!   that enough free clusters remain for the parent directory to grow
//!   ([`FsError::NoSpace`] otherwise), because fatfs would otherwise leave
//!   a half-written entry or, for `rename`, lose the entry;
//! * device errors ([`FsError::Io`]) leave unsaved data in the cache; an
//!   operation interrupted by one may be partly applied.

use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::Cell;

use fatfs::{Read, Seek, Write};

use crate::cache::{BlockCache, CacheStats, SharedCache};
use crate::chain::{self, Alloc, Cursor, Geometry};
use crate::device::BlockDevice;
use crate::error::Fat;
use crate::path::{has_prefix, parse_path, same_path};
use crate::repair::{self, Repaired};
use crate::FsError;

/// The largest file FAT can hold, in bytes (4 GiB − 1).
pub const MAX_FILE_SIZE: u64 = u32::MAX as u64;

/// Bytes in one FAT directory entry.
const DIR_ENTRY: u64 = 32;

/// UTF-16 units of a long name held by one directory entry.
const LFN_UNITS: u64 = 13;

type Fs<D> = fatfs::FileSystem<SharedCache<D>, Clock, fatfs::LossyOemCpConverter>;
type FsDir<'a, D> = fatfs::Dir<'a, SharedCache<D>, Clock, fatfs::LossyOemCpConverter>;
type FsEntry<'a, D> = fatfs::DirEntry<'a, SharedCache<D>, Clock, fatfs::LossyOemCpConverter>;
type FsFile<'a, D> = fatfs::File<'a, SharedCache<D>, Clock, fatfs::LossyOemCpConverter>;

/// How a file is opened: a set of bits, also the IPC encoding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenFlags(u32);

impl OpenFlags {
    /// Allow `read`.
    pub const READ: OpenFlags = OpenFlags(1);
    /// Allow `write` and `truncate`.
    pub const WRITE: OpenFlags = OpenFlags(1 << 1);
    /// Create the file if it does not exist (needs `WRITE`).
    pub const CREATE: OpenFlags = OpenFlags(1 << 2);
    /// Cut an existing file to 0 bytes (needs `WRITE`).
    pub const TRUNCATE: OpenFlags = OpenFlags(1 << 3);
    /// With `CREATE`: fail with `AlreadyExists` if the name exists.
    pub const EXCLUSIVE: OpenFlags = OpenFlags(1 << 4);
    /// Every write goes to the current end of the file (needs `WRITE`).
    pub const APPEND: OpenFlags = OpenFlags(1 << 5);
    /// Open a directory (for `read_dir_handle`); excludes every flag but
    /// `READ`.
    pub const DIRECTORY: OpenFlags = OpenFlags(1 << 6);

    /// Every defined bit.
    const ALL: u32 = 0x7F;

    /// No flag.
    #[must_use]
    pub const fn empty() -> OpenFlags {
        OpenFlags(0)
    }

    /// The bits, for IPC.
    #[must_use]
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Flags from IPC bits.
    ///
    /// # Errors
    /// [`FsError::InvalidArgument`] if an undefined bit is set.
    pub const fn from_bits(bits: u32) -> Result<OpenFlags, FsError> {
        if bits & !Self::ALL != 0 {
            Err(FsError::InvalidArgument)
        } else {
            Ok(OpenFlags(bits))
        }
    }

    /// Whether every flag of `other` is set.
    #[must_use]
    pub const fn contains(self, other: OpenFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets of flags.
    #[must_use]
    pub const fn union(self, other: OpenFlags) -> OpenFlags {
        OpenFlags(self.0 | other.0)
    }

    /// Checks that the combination makes sense.
    fn validate(self) -> Result<(), FsError> {
        let has = |f| self.contains(f);
        if has(Self::DIRECTORY) {
            if self.0 & !(Self::DIRECTORY.0 | Self::READ.0) != 0 {
                return Err(FsError::InvalidArgument);
            }
            return Ok(());
        }
        let needs_write = has(Self::CREATE) || has(Self::TRUNCATE) || has(Self::APPEND);
        if !has(Self::READ) && !has(Self::WRITE) {
            return Err(FsError::InvalidArgument);
        }
        if (needs_write && !has(Self::WRITE)) || (has(Self::EXCLUSIVE) && !has(Self::CREATE)) {
            return Err(FsError::InvalidArgument);
        }
        Ok(())
    }
}

impl core::ops::BitOr for OpenFlags {
    type Output = OpenFlags;
    fn bitor(self, rhs: OpenFlags) -> OpenFlags {
        self.union(rhs)
    }
}

/// An open file or directory, as the client sees it (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Handle(u64);

impl Handle {
    /// The value sent over IPC.
    #[must_use]
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// A handle from an IPC value (checked on use, never trusted).
    #[must_use]
    pub const fn from_raw(raw: u64) -> Handle {
        Handle(raw)
    }
}

/// Where a `seek` counts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeekFrom {
    /// From the start of the file.
    Start(u64),
    /// From the handle's current position.
    Current(i64),
    /// From the current end of the file.
    End(i64),
}

/// A date and time as FAT stores it (2-second resolution, 1980–2107).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    /// 1980..=2107.
    pub year: u16,
    /// 1..=12.
    pub month: u8,
    /// 1..=31.
    pub day: u8,
    /// 0..=23.
    pub hour: u8,
    /// 0..=59.
    pub minute: u8,
    /// 0..=59.
    pub second: u8,
}

impl Timestamp {
    /// 1980-01-01 00:00:00, FAT's epoch and the clock's start value.
    pub const EPOCH: Timestamp = Timestamp {
        year: 1980,
        month: 1,
        day: 1,
        hour: 0,
        minute: 0,
        second: 0,
    };

    fn to_fat(self) -> Result<fatfs::DateTime, FsError> {
        let ok = (1980..=2107).contains(&self.year)
            && (1..=12).contains(&self.month)
            && (1..=31).contains(&self.day)
            && self.hour <= 23
            && self.minute <= 59
            && self.second <= 59;
        if !ok {
            return Err(FsError::InvalidArgument);
        }
        let date = fatfs::Date::new(self.year, self.month.into(), self.day.into());
        let time = fatfs::Time::new(self.hour.into(), self.minute.into(), self.second.into(), 0);
        Ok(fatfs::DateTime::new(date, time))
    }

    fn from_fat(dt: fatfs::DateTime) -> Timestamp {
        let byte = |v: u16| u8::try_from(v).unwrap_or(u8::MAX);
        Timestamp {
            year: dt.date.year,
            month: byte(dt.date.month),
            day: byte(dt.date.day),
            hour: byte(dt.time.hour),
            minute: byte(dt.time.min),
            second: byte(dt.time.sec),
        }
    }
}

/// The time source handed to fatfs: a cell the server sets.
#[derive(Clone, Debug)]
pub struct Clock(Rc<Cell<fatfs::DateTime>>);

impl fatfs::TimeProvider for Clock {
    fn get_current_date(&self) -> fatfs::Date {
        self.0.get().date
    }
    fn get_current_date_time(&self) -> fatfs::DateTime {
        self.0.get()
    }
}

/// What `stat`/`fstat` report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// Size in bytes (0 for directories).
    pub size: u64,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Last modification; `None` for the root, which has no entry.
    pub modified: Option<Timestamp>,
}

/// One entry of a `read_dir` page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntryInfo {
    /// The name as stored (long name, or the short name).
    pub name: String,
    /// Size in bytes (0 for directories).
    pub size: u64,
    /// Whether it is a directory.
    pub is_dir: bool,
}

/// Resource limits of a [`FileServer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Open handles over all clients (at most 65535).
    pub max_handles: usize,
    /// Open handles of one client.
    pub max_handles_per_client: usize,
    /// Entries returned by one `read_dir` call at most.
    pub max_dir_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_handles: 256,
            max_handles_per_client: 32,
            max_dir_entries: 128,
        }
    }
}

/// Figures for benchmarks and monitoring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsStats {
    /// Cluster size in bytes.
    pub cluster_size: u64,
    /// Clusters available for data on the volume.
    pub total_clusters: u64,
    /// Free clusters.
    pub free_clusters: u64,
    /// `total_clusters * cluster_size`.
    pub total_bytes: u64,
    /// `free_clusters * cluster_size`.
    pub free_bytes: u64,
    /// Open handles over all clients.
    pub open_handles: u64,
    /// The block cache's counters (hits, misses, device traffic).
    pub cache: CacheStats,
}

/// A handle's state.
#[derive(Clone, Debug)]
struct Open {
    owner: u64,
    /// Normalised path in on-disk spelling; empty for the root.
    path: Vec<String>,
    is_dir: bool,
    pos: u64,
    flags: OpenFlags,
    /// The entry was removed: every use but close fails with `NotFound`.
    gone: bool,
    /// Where the file's directory entry is on the volume and its short
    /// name, once found: later requests go there without a path lookup
    /// (the name is checked every time; forgotten on rename and unlink,
    /// the only operations that move or remove an entry).
    entry: Option<(u64, chain::RawName)>,
    /// What the handle knows of the file's cluster chain.
    chain: Option<Cursor>,
}

/// A handle table slot.
#[derive(Clone, Debug)]
struct Slot {
    generation: u64,
    open: Option<Open>,
}

/// Bits of a handle value used for the slot index.
const SLOT_BITS: u32 = 16;
/// Bits of the slot's generation, above the slot index.
const GEN_BITS: u32 = 32;
/// Mask of the generation (32 bits).
const GEN_MASK: u64 = (1 << GEN_BITS) - 1;
/// Where the server's incarnation (its low 16 bits) sits in a handle.
const INCARNATION_SHIFT: u32 = SLOT_BITS + GEN_BITS;
/// The bits of the incarnation a handle carries.
const INCARNATION_MASK: u64 = (1 << (64 - INCARNATION_SHIFT)) - 1;

/// The file server: a mounted FAT32 volume, its block cache, and every
/// client's handles. See the module doc.
pub struct FileServer<D: BlockDevice> {
    // Declared first: dropped before the last cache handle.
    fs: Fs<D>,
    cache: SharedCache<D>,
    clock: Rc<Cell<fatfs::DateTime>>,
    /// The volume's layout, for the data path.
    geo: Geometry,
    /// The data path's allocator.
    alloc: Alloc,
    slots: Vec<Slot>,
    per_client: BTreeMap<u64, usize>,
    open_count: usize,
    limits: Limits,
    /// The server's incarnation as handles carry it (see
    /// [`FileServer::set_incarnation`]).
    incarnation: u64,
    /// The boot sector's status flags with the dirty flag off, written
    /// back at unmount.
    clean_flags: u8,
    /// What the mount repaired, when the volume was not cleanly unmounted.
    repaired: Option<Repaired>,
}

impl<D: BlockDevice> core::fmt::Debug for FileServer<D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FileServer")
            .field("open_handles", &self.open_count)
            .field("clients", &self.per_client.len())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// A looked-up node.
enum Node<'a, D: BlockDevice> {
    Root,
    Entry(FsEntry<'a, D>),
}

fn is_dot<D: BlockDevice>(e: &FsEntry<'_, D>) -> bool {
    matches!(e.short_file_name_as_bytes(), b"." | b"..")
}

/// A FAT directory holds at most 65,536 entries; iterating more means its
/// cluster chain loops (a damaged volume), so iteration stops there.
const MAX_DIR_ENTRIES: usize = 65_536;

/// The entries of `dir`, at most [`MAX_DIR_ENTRIES`] of them (then
/// `Corrupt`).
fn entries<'a, D: BlockDevice>(
    dir: &FsDir<'a, D>,
) -> impl Iterator<Item = Result<FsEntry<'a, D>, FsError>> + 'a {
    dir.iter().enumerate().map(|(i, r)| {
        if i >= MAX_DIR_ENTRIES {
            Err(FsError::Corrupt)
        } else {
            r.map_err(|e| FsError::from(Fat(e)))
        }
    })
}

/// The entry called `name` in `dir`, if any.
fn find_in<'a, D: BlockDevice>(
    dir: &FsDir<'a, D>,
    name: &str,
) -> Result<Option<FsEntry<'a, D>>, FsError> {
    for r in entries(dir) {
        let e = r?;
        if !is_dot(&e) && e.eq_name(name) {
            return Ok(Some(e));
        }
    }
    Ok(None)
}

/// Walks `path` as directories; returns the last one and the canonical
/// spelling of the path.
fn open_dir_at<'a, D: BlockDevice>(
    fs: &'a Fs<D>,
    path: &[String],
) -> Result<(FsDir<'a, D>, Vec<String>), FsError> {
    let mut dir = fs.root_dir();
    let mut canon = Vec::with_capacity(path.len());
    for comp in path {
        let e = find_in(&dir, comp)?.ok_or(FsError::NotFound)?;
        if !e.is_dir() {
            return Err(FsError::NotADirectory);
        }
        canon.push(e.file_name());
        dir = e.to_dir();
    }
    Ok((dir, canon))
}

/// Looks up `path`; returns the node and the canonical spelling.
fn lookup<'a, D: BlockDevice>(
    fs: &'a Fs<D>,
    path: &[String],
) -> Result<(Node<'a, D>, Vec<String>), FsError> {
    let Some((last, parents)) = path.split_last() else {
        return Ok((Node::Root, Vec::new()));
    };
    let (dir, mut canon) = open_dir_at(fs, parents)?;
    let e = find_in(&dir, last)?.ok_or(FsError::NotFound)?;
    canon.push(e.file_name());
    Ok((Node::Entry(e), canon))
}

/// Opens the file at `path` (which must be a file).
fn open_file_at<'a, D: BlockDevice>(
    fs: &'a Fs<D>,
    path: &[String],
) -> Result<FsFile<'a, D>, FsError> {
    match lookup(fs, path)?.0 {
        Node::Root => Err(FsError::IsADirectory),
        Node::Entry(e) if e.is_dir() => Err(FsError::IsADirectory),
        Node::Entry(e) => Ok(e.to_file()),
    }
}

/// Walks `path` as directories, like [`open_dir_at`] but without the
/// canonical spelling.
fn dir_at<'a, D: BlockDevice>(fs: &'a Fs<D>, path: &[String]) -> Result<FsDir<'a, D>, FsError> {
    let mut dir = fs.root_dir();
    for comp in path {
        let e = find_in(&dir, comp)?.ok_or(FsError::NotFound)?;
        if !e.is_dir() {
            return Err(FsError::NotADirectory);
        }
        dir = e.to_dir();
    }
    Ok(dir)
}

/// Looks up the file (not directory) at `path`; returns its entry and its
/// parent directory.
fn lookup_file<'a, D: BlockDevice>(
    fs: &'a Fs<D>,
    path: &[String],
) -> Result<(FsEntry<'a, D>, FsDir<'a, D>), FsError> {
    let Some((last, parents)) = path.split_last() else {
        return Err(FsError::IsADirectory);
    };
    let dir = dir_at(fs, parents)?;
    let e = find_in(&dir, last)?.ok_or(FsError::NotFound)?;
    if e.is_dir() {
        return Err(FsError::IsADirectory);
    }
    Ok((e, dir))
}

/// The first cluster of `dir` (not the root), from its `.` entry: fatfs
/// shows no cluster of a directory.
fn dir_cluster<D: BlockDevice>(dir: &FsDir<'_, D>) -> Result<u32, FsError> {
    let mut p = dir.as_file().ok_or(FsError::Corrupt)?.clone();
    let mut dot = [0u8; 32];
    p.seek(fatfs::SeekFrom::Start(0)).map_err(Fat)?;
    p.read_exact(&mut dot).map_err(Fat)?;
    if &dot[..11] != b".          " {
        return Err(FsError::Corrupt);
    }
    Ok(entry_cluster(&dot))
}

/// The directory entry of the file `o` is open on, as it is now: where
/// `o` found it last time if it is still there, else looked up through
/// fatfs and then found on the volume by scanning the parent directory.
fn target<D: BlockDevice>(
    fs: &Fs<D>,
    cache: &SharedCache<D>,
    geo: &Geometry,
    o: &mut Open,
) -> Result<chain::Entry, FsError> {
    if let Some((at, name)) = o.entry {
        if let Some(found) = cache.with(|c| chain::Entry::read(c, at, &name))?? {
            return Ok(found);
        }
        o.entry = None;
    }
    let (e, dir) = lookup_file(fs, &o.path)?;
    let name = e.short_file_name_as_bytes();
    let size = e.len();
    let parent = if o.path.len() == 1 {
        geo.root
    } else {
        dir_cluster(&dir)?
    };
    let found = cache.with(|c| chain::find_entry(c, geo, parent, name, size))??;
    o.entry = Some((found.at(), found.name()));
    Ok(found)
}

/// Makes everything written so far durable, if anything is pending: the
/// barrier before and after an operation that frees clusters, so that the
/// clusters it frees are never given to another file in the same
/// write-back as the change that stops using them (see `repair`).
fn barrier<D: BlockDevice>(cache: &SharedCache<D>) -> Result<(), FsError> {
    cache.with(|c| if c.needs_sync() { c.sync() } else { Ok(()) })??;
    Ok(())
}

/// After the file at `path` was cut to `size` bytes: every handle on it
/// forgets the clusters past the new end.
fn cut(slots: &mut [Slot], geo: &Geometry, path: &[String], size: u64) {
    let keep = geo.clusters(size);
    for o in slots.iter_mut().filter_map(|s| s.open.as_mut()) {
        if same_path(&o.path, path) && !o.chain.as_mut().is_some_and(|c| c.trim(keep)) {
            o.chain = None;
        }
    }
}

/// Free clusters: fatfs's count less the clusters the data path took
/// (see `chain`), and the total.
fn free_clusters<D: BlockDevice>(fs: &Fs<D>, alloc: &Alloc) -> Result<(u32, u32), FsError> {
    let s = fs.stats().map_err(Fat)?;
    let total = s.total_clusters();
    Ok((
        s.free_clusters().wrapping_sub(alloc.taken).min(total),
        total,
    ))
}

fn stat_of<D: BlockDevice>(node: &Node<'_, D>) -> Stat {
    match node {
        Node::Root => Stat {
            size: 0,
            is_dir: true,
            modified: None,
        },
        Node::Entry(e) => Stat {
            size: if e.is_dir() { 0 } else { e.len() },
            is_dir: e.is_dir(),
            modified: Some(Timestamp::from_fat(e.modified())),
        },
    }
}

fn file_size<D: BlockDevice>(f: &FsFile<'_, D>) -> u64 {
    u64::from(f.size().unwrap_or(0))
}

/// Fails with `Corrupt` if the file's cluster chain has more clusters than
/// the volume (it loops), which fatfs would follow forever when freeing it.
fn check_chain<D: BlockDevice>(fs: &Fs<D>, f: &mut FsFile<'_, D>) -> Result<(), FsError> {
    let total = usize::try_from(fs.stats().map_err(Fat)?.total_clusters()).unwrap_or(usize::MAX);
    let mut n = 0usize;
    for r in f.extents().take(total.saturating_add(1)) {
        r.map_err(Fat)?;
        n += 1;
    }
    if n > total {
        return Err(FsError::Corrupt);
    }
    Ok(())
}

/// Cuts the file back to `size` bytes (used to undo growth); best effort.
fn shrink_to<D: BlockDevice>(f: &mut FsFile<'_, D>, size: u64) -> Result<(), FsError> {
    if file_size(f) > size {
        f.seek(fatfs::SeekFrom::Start(size)).map_err(Fat)?;
        f.truncate().map_err(Fat)?;
    }
    f.flush().map_err(Fat)?;
    Ok(())
}

/// Free clusters needed before a new entry called `name` may be written:
/// the entries it takes, rounded up to clusters, plus one in case they
/// straddle a cluster boundary.
fn entry_clusters(name: &str, cluster_size: u64) -> u64 {
    let units = name.encode_utf16().count() as u64;
    let entries = 1 + units.div_ceil(LFN_UNITS);
    (entries * DIR_ENTRY).div_ceil(cluster_size.max(1)) + 1
}

impl<D: BlockDevice> FileServer<D> {
    /// Mounts the FAT32 volume on `device` behind a cache of `cache_pages`
    /// 4 KiB pages, with the default [`Limits`].
    ///
    /// # Errors
    /// [`FsError::Corrupt`] if the device holds no valid FAT32 volume (or
    /// one larger than the device), [`FsError::Io`] if it cannot be read.
    pub fn mount(device: D, cache_pages: usize) -> Result<Self, FsError> {
        Self::mount_with(device, cache_pages, Limits::default())
    }

    /// [`FileServer::mount`] with explicit limits.
    ///
    /// # Errors
    /// As [`FileServer::mount`].
    pub fn mount_with(device: D, cache_pages: usize, limits: Limits) -> Result<Self, FsError> {
        let cache = SharedCache::new(BlockCache::new(device, cache_pages));
        let mut boot = check_boot_sector(&cache)?;
        // After an unclean stop the volume is repaired first; then it stays
        // marked dirty, durably, before anything else is written, until the
        // last write of `unmount`.
        let flags = boot[repair::FLAGS_OFFSET as usize];
        let mut repaired = None;
        if flags & repair::DIRTY != 0 {
            repaired = Some(cache.with(repair::repair)??);
        }
        if let Some(sector) = repair::data_start_sector(&boot) {
            cache.with(|c| c.set_data_start(sector))?;
        }
        if cache
            .with(|c| {
                c.write_at(repair::FLAGS_OFFSET, &[flags | repair::DIRTY])?;
                c.sync()
            })?
            .is_err()
        {
            // A read-only device: nothing will be written, nothing can be
            // left half-written. Forget the attempt.
            cache.with(BlockCache::drop_dirty)?;
        }
        boot[repair::FLAGS_OFFSET as usize] = flags | repair::DIRTY;
        let clock = Rc::new(Cell::new(Timestamp::EPOCH.to_fat()?));
        let options = fatfs::FsOptions::new()
            .update_accessed_date(false)
            .time_provider(Clock(Rc::clone(&clock)));
        let fs = fatfs::FileSystem::new(cache.clone(), options).map_err(Fat)?;
        if fs.fat_type() != fatfs::FatType::Fat32 {
            return Err(FsError::Corrupt);
        }
        // Count the free clusters now, so that later checks are cheap.
        fs.stats().map_err(Fat)?;
        let geo = Geometry::parse(&boot)?;
        let limits = Limits {
            max_handles: limits.max_handles.min((1 << SLOT_BITS) - 1),
            ..limits
        };
        Ok(FileServer {
            fs,
            cache,
            clock,
            geo,
            alloc: Alloc::default(),
            slots: Vec::new(),
            per_client: BTreeMap::new(),
            open_count: 0,
            limits,
            incarnation: 0,
            clean_flags: flags & !repair::DIRTY,
            repaired,
        })
    }

    /// What the mount repaired (`None`: the volume was cleanly unmounted,
    /// nothing to do).
    #[must_use]
    pub fn repaired(&self) -> Option<Repaired> {
        self.repaired
    }

    /// Writes the file system's summary (FSInfo), syncs the cache and gives
    /// the device back. Every handle is closed.
    ///
    /// # Errors
    /// [`FsError::Io`] if the final writes or the flush failed (the device
    /// is then dropped).
    pub fn unmount(self) -> Result<D, FsError> {
        let FileServer {
            fs,
            cache,
            geo,
            alloc,
            clean_flags,
            ..
        } = self;
        let (free, _) = free_clusters(&fs, &alloc)?;
        fs.unmount().map_err(Fat)?;
        let mut c = cache.try_into_inner().ok_or(FsError::Io)?;
        alloc.unmount(&mut c, &geo, free)?;
        c.sync()?;
        // Clean only once everything else is durable.
        c.write_at(repair::FLAGS_OFFSET, &[clean_flags])?;
        c.sync()?;
        Ok(c.into_device())
    }

    /// Sets the time stamped on entries created or modified from now on.
    ///
    /// # Errors
    /// [`FsError::InvalidArgument`] if `now` is outside FAT's range.
    pub fn set_time(&mut self, now: Timestamp) -> Result<(), FsError> {
        self.clock.set(now.to_fat()?);
        Ok(())
    }

    /// Tells the server which incarnation of the file server component it
    /// is (0 at boot, n after the n-th restart): every handle it gives out
    /// carries it (its low 16 bits), and a handle that carries an earlier
    /// one is answered with [`FsError::Stale`] (one that carries a later
    /// one is made up: `UnknownHandle`). Set it before the first `open`.
    pub fn set_incarnation(&mut self, incarnation: u64) {
        self.incarnation = incarnation;
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Volume, handle and cache figures.
    ///
    /// # Errors
    /// [`FsError::Io`] if the free cluster count had to be read and could
    /// not be.
    pub fn stats(&self) -> Result<FsStats, FsError> {
        let (free, total) = free_clusters(&self.fs, &self.alloc)?;
        let cs = self.geo.cluster_size();
        let cache = self.cache.with(|c| c.stats())?;
        Ok(FsStats {
            cluster_size: cs,
            total_clusters: total.into(),
            free_clusters: free.into(),
            total_bytes: u64::from(total) * cs,
            free_bytes: u64::from(free) * cs,
            open_handles: self.open_count as u64,
            cache,
        })
    }

    /// Writes every dirty cache page back and flushes the device.
    ///
    /// # Errors
    /// [`FsError::Io`].
    pub fn sync(&mut self) -> Result<(), FsError> {
        self.cache.with(BlockCache::sync)??;
        Ok(())
    }

    /// Forgets every clean cache page (for cold-cache measurements).
    pub fn drop_clean_cache(&mut self) {
        // Cannot be busy: no fatfs call is running.
        let _ = self.cache.with(BlockCache::drop_clean);
    }

    /// Runs `f` on the block device (counters, fault injection). `f` must
    /// not write to the device.
    ///
    /// # Errors
    /// [`FsError::Io`] if the cache is busy (never, between operations).
    pub fn with_device<R>(&mut self, f: impl FnOnce(&mut D) -> R) -> Result<R, FsError> {
        Ok(self.cache.with(|c| f(c.device_mut()))?)
    }

    // ----- handles -----

    /// The slot index in a handle value.
    fn slot_index(h: Handle) -> usize {
        usize::try_from(h.0 & ((1 << SLOT_BITS) - 1)).unwrap_or(usize::MAX)
    }

    /// The open state of `h` if `client` owns it; `Stale` for a handle of
    /// another incarnation of the server.
    fn get(
        slots: &mut [Slot],
        incarnation: u64,
        client: u64,
        h: Handle,
    ) -> Result<&mut Open, FsError> {
        let tag = h.0 >> INCARNATION_SHIFT;
        if tag != incarnation & INCARNATION_MASK {
            // An earlier incarnation's handle, or a made-up one.
            return Err(if tag < incarnation || incarnation > INCARNATION_MASK {
                FsError::Stale
            } else {
                FsError::UnknownHandle
            });
        }
        let index =
            usize::try_from(h.0 & ((1 << SLOT_BITS) - 1)).map_err(|_| FsError::UnknownHandle)?;
        let generation = (h.0 >> SLOT_BITS) & GEN_MASK;
        let slot = slots.get_mut(index).ok_or(FsError::UnknownHandle)?;
        if slot.generation != generation {
            return Err(FsError::UnknownHandle);
        }
        match slot.open.as_mut() {
            Some(o) if o.owner == client => Ok(o),
            _ => Err(FsError::UnknownHandle),
        }
    }

    /// Fails with `TooManyHandles` if `client` may not open another handle.
    fn check_room(&self, client: u64) -> Result<(), FsError> {
        let mine = self.per_client.get(&client).copied().unwrap_or(0);
        if self.open_count >= self.limits.max_handles || mine >= self.limits.max_handles_per_client
        {
            return Err(FsError::TooManyHandles);
        }
        Ok(())
    }

    /// Puts `open` in a free slot (room was checked).
    fn insert(&mut self, open: Open) -> Result<Handle, FsError> {
        let owner = open.owner;
        let index = match self.slots.iter().position(|s| s.open.is_none()) {
            Some(i) => i,
            None if self.slots.len() < self.limits.max_handles => {
                self.slots.push(Slot {
                    generation: 1,
                    open: None,
                });
                self.slots.len() - 1
            }
            None => return Err(FsError::TooManyHandles),
        };
        let slot = self.slots.get_mut(index).ok_or(FsError::TooManyHandles)?;
        slot.open = Some(open);
        let raw = ((self.incarnation & INCARNATION_MASK) << INCARNATION_SHIFT)
            | ((slot.generation & GEN_MASK) << SLOT_BITS)
            | index as u64;
        self.open_count += 1;
        *self.per_client.entry(owner).or_insert(0) += 1;
        Ok(Handle(raw))
    }

    /// Frees slot `index`.
    fn release(&mut self, index: usize) {
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        let Some(open) = slot.open.take() else {
            return;
        };
        slot.generation = (slot.generation + 1) & GEN_MASK;
        if slot.generation == 0 {
            slot.generation = 1;
        }
        self.open_count = self.open_count.saturating_sub(1);
        if let Some(n) = self.per_client.get_mut(&open.owner) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_client.remove(&open.owner);
            }
        }
    }

    /// Number of handles `client` has open.
    #[must_use]
    pub fn handles_of(&self, client: u64) -> usize {
        self.per_client.get(&client).copied().unwrap_or(0)
    }

    /// Checks that enough free clusters remain to add an entry `name`
    /// (plus `extra` clusters).
    fn reserve(&self, name: &str, extra: u64) -> Result<(), FsError> {
        let (free, _) = free_clusters(&self.fs, &self.alloc)?;
        let need = entry_clusters(name, self.geo.cluster_size()) + extra;
        if u64::from(free) < need {
            return Err(FsError::NoSpace);
        }
        Ok(())
    }

    // ----- operations -----

    /// Opens `path` for `client`.
    ///
    /// Flag rules: at least one of `READ`/`WRITE`; `CREATE`, `TRUNCATE`
    /// and `APPEND` need `WRITE`; `EXCLUSIVE` needs `CREATE`; `DIRECTORY`
    /// allows only `READ` besides, and opens a directory for
    /// [`FileServer::read_dir_handle`].
    ///
    /// # Errors
    /// `InvalidArgument` (flags), `PathTooLong`/`InvalidName` (path),
    /// `TooManyHandles`, `NotFound` (no such file without `CREATE`, or a
    /// missing parent), `NotADirectory`, `IsADirectory` (a directory without
    /// `DIRECTORY`), `AlreadyExists` (`CREATE|EXCLUSIVE`), `NoSpace`, `Io`.
    pub fn open(&mut self, client: u64, path: &str, flags: OpenFlags) -> Result<Handle, FsError> {
        flags.validate()?;
        let comps = parse_path(path)?;
        self.check_room(client)?;
        let want_dir = flags.contains(OpenFlags::DIRECTORY);
        let Some((last, parents)) = comps.split_last() else {
            if !want_dir {
                return Err(FsError::IsADirectory);
            }
            return self.insert(Open {
                owner: client,
                path: Vec::new(),
                is_dir: true,
                pos: 0,
                flags,
                gone: false,
                entry: None,
                chain: None,
            });
        };
        let (parent, mut canon) = open_dir_at(&self.fs, parents)?;
        let mut truncated = false;
        match find_in(&parent, last)? {
            Some(e) => {
                if flags.contains(OpenFlags::CREATE) && flags.contains(OpenFlags::EXCLUSIVE) {
                    return Err(FsError::AlreadyExists);
                }
                if e.is_dir() != want_dir {
                    return Err(if want_dir {
                        FsError::NotADirectory
                    } else {
                        FsError::IsADirectory
                    });
                }
                if flags.contains(OpenFlags::TRUNCATE) {
                    let mut f = e.to_file();
                    check_chain(&self.fs, &mut f)?;
                    if e.len() > 0 {
                        barrier(&self.cache)?;
                    }
                    f.truncate().map_err(Fat)?;
                    f.flush().map_err(Fat)?;
                    truncated = true;
                }
                canon.push(e.file_name());
            }
            None => {
                if !flags.contains(OpenFlags::CREATE) {
                    return Err(FsError::NotFound);
                }
                self.reserve(last, 0)?;
                let mut f = parent.create_file(last).map_err(Fat)?;
                f.flush().map_err(Fat)?;
                canon.push(last.clone());
            }
        }
        drop(parent);
        if truncated {
            barrier(&self.cache)?;
            cut(&mut self.slots, &self.geo, &canon, 0);
        }
        self.insert(Open {
            owner: client,
            path: canon,
            is_dir: want_dir,
            pos: 0,
            flags,
            gone: false,
            entry: None,
            chain: None,
        })
    }

    /// Closes `h`.
    ///
    /// # Errors
    /// `UnknownHandle`.
    pub fn close(&mut self, client: u64, h: Handle) -> Result<(), FsError> {
        Self::get(&mut self.slots, self.incarnation, client, h)?;
        self.release(usize::try_from(h.0 & ((1 << SLOT_BITS) - 1)).unwrap_or(usize::MAX));
        Ok(())
    }

    /// Closes every handle of `client` (the client went away); returns how
    /// many were open.
    pub fn close_session(&mut self, client: u64) -> usize {
        let mine: Vec<usize> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.open.as_ref().is_some_and(|o| o.owner == client))
            .map(|(i, _)| i)
            .collect();
        for &i in &mine {
            self.release(i);
        }
        mine.len()
    }

    /// Status of `path`.
    ///
    /// # Errors
    /// `PathTooLong`, `InvalidName`, `NotFound`, `NotADirectory`, `Io`.
    pub fn stat(&self, _client: u64, path: &str) -> Result<Stat, FsError> {
        let comps = parse_path(path)?;
        let (node, _) = lookup(&self.fs, &comps)?;
        Ok(stat_of(&node))
    }

    /// Status of the file or directory open as `h`.
    ///
    /// # Errors
    /// `UnknownHandle`, `NotFound` (removed), `Io`.
    pub fn fstat(&mut self, client: u64, h: Handle) -> Result<Stat, FsError> {
        let o = Self::get(&mut self.slots, self.incarnation, client, h)?;
        if o.gone {
            return Err(FsError::NotFound);
        }
        let (node, _) = lookup(&self.fs, &o.path)?;
        Ok(stat_of(&node))
    }

    /// Reads from `h`'s position into `buf`, advancing the position by the
    /// bytes read. Returns 0 at the end of the file (and for an empty
    /// `buf`).
    ///
    /// # Errors
    /// `UnknownHandle`, `IsADirectory`, `NotReadable`, `NotFound`
    /// (removed), `PastEnd` (position beyond the end), `Io`.
    pub fn read(&mut self, client: u64, h: Handle, buf: &mut [u8]) -> Result<usize, FsError> {
        self.read_file(client, h, None, buf)
    }

    /// Reads at `pos` without using or moving `h`'s position.
    ///
    /// # Errors
    /// As [`FileServer::read`].
    pub fn read_at(
        &mut self,
        client: u64,
        h: Handle,
        pos: u64,
        buf: &mut [u8],
    ) -> Result<usize, FsError> {
        self.read_file(client, h, Some(pos), buf)
    }

    /// Reads `h`'s file at `pos`, or at and then past its position.
    fn read_file(
        &mut self,
        client: u64,
        h: Handle,
        pos: Option<u64>,
        buf: &mut [u8],
    ) -> Result<usize, FsError> {
        let o = Self::get(&mut self.slots, self.incarnation, client, h)?;
        if o.is_dir {
            return Err(FsError::IsADirectory);
        }
        if !o.flags.contains(OpenFlags::READ) {
            return Err(FsError::NotReadable);
        }
        if o.gone {
            return Err(FsError::NotFound);
        }
        let entry = target(&self.fs, &self.cache, &self.geo, o)?;
        let at = pos.unwrap_or(o.pos);
        let size = entry.size();
        if at > size {
            return Err(FsError::PastEnd);
        }
        let want = usize::try_from(size - at)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        if want == 0 {
            return Ok(0);
        }
        let geo = &self.geo;
        let chain = &mut o.chain;
        let out = &mut buf[..want];
        self.cache
            .with(|c| chain::read(c, geo, chain, &entry, at, out))??;
        if pos.is_none() {
            o.pos = at + want as u64;
        }
        Ok(want)
    }

    /// Writes `data` at `pos` of the file of `o` (whose entry is `entry`)
    /// through the data path (an empty `data` grows the file to `pos`). On
    /// an error the file gets its old size back.
    fn write_entry(
        &mut self,
        slot: usize,
        mut entry: chain::Entry,
        pos: u64,
        data: &[u8],
    ) -> Result<usize, FsError> {
        let (free, _) = free_clusters(&self.fs, &self.alloc)?;
        let ctx = chain::WriteCtx {
            geo: &self.geo,
            alloc: &mut self.alloc,
            free,
            now: self.clock.get(),
        };
        let o = self
            .slots
            .get_mut(slot)
            .and_then(|s| s.open.as_mut())
            .ok_or(FsError::UnknownHandle)?;
        let chain = &mut o.chain;
        let size = entry.size();
        let result = self
            .cache
            .with(|c| chain::write(c, ctx, chain, &mut entry, pos, data))?;
        if result.is_err() {
            // Give the file its old size back; the original error is the
            // one to report even if this fails too.
            let path = o.path.clone();
            if let Ok(mut f) = open_file_at(&self.fs, &path) {
                let _ = shrink_to(&mut f, size);
            }
            cut(&mut self.slots, &self.geo, &path, size);
        }
        result
    }

    /// Writes `data` at `h`'s position (at the end with `APPEND`), first
    /// filling any gap past the end with zeros, and advances the position.
    /// Returns the bytes written: all of them, or fewer if the volume filled
    /// up part way.
    ///
    /// # Errors
    /// `UnknownHandle`, `IsADirectory`, `NotWritable`, `NotFound`
    /// (removed), `FileTooLarge`, `NoSpace` (nothing could be written), `Io`.
    pub fn write(&mut self, client: u64, h: Handle, data: &[u8]) -> Result<usize, FsError> {
        self.write_file(client, h, None, data)
    }

    /// Writes `data` at `pos` without using or moving `h`'s position, also
    /// on an `APPEND` handle (so that doing it twice has the effect of
    /// once: the file protocol's `write_at` is idempotent).
    ///
    /// # Errors
    /// As [`FileServer::write`].
    pub fn write_at(
        &mut self,
        client: u64,
        h: Handle,
        pos: u64,
        data: &[u8],
    ) -> Result<usize, FsError> {
        self.write_file(client, h, Some(pos), data)
    }

    /// Writes `h`'s file at `at`, or at its position (the end for `APPEND`)
    /// and then moves the position past what was written.
    fn write_file(
        &mut self,
        client: u64,
        h: Handle,
        at: Option<u64>,
        data: &[u8],
    ) -> Result<usize, FsError> {
        let o = Self::get(&mut self.slots, self.incarnation, client, h)?;
        if o.is_dir {
            return Err(FsError::IsADirectory);
        }
        if !o.flags.contains(OpenFlags::WRITE) {
            return Err(FsError::NotWritable);
        }
        if o.gone {
            return Err(FsError::NotFound);
        }
        let entry = target(&self.fs, &self.cache, &self.geo, o)?;
        let pos = match at {
            Some(at) => at,
            None if o.flags.contains(OpenFlags::APPEND) => entry.size(),
            None => o.pos,
        };
        if data.is_empty() {
            return Ok(0);
        }
        let end = pos
            .checked_add(data.len() as u64)
            .ok_or(FsError::FileTooLarge)?;
        if end > MAX_FILE_SIZE {
            return Err(FsError::FileTooLarge);
        }
        let slot = Self::slot_index(h);
        let n = self.write_entry(slot, entry, pos, data)?;
        if at.is_none() {
            if let Some(o) = self.slots.get_mut(slot).and_then(|s| s.open.as_mut()) {
                o.pos = pos + n as u64;
            }
        }
        Ok(n)
    }

    /// Moves `h`'s position; returns the new position. Positions past the
    /// end are allowed (see the module doc), up to [`MAX_FILE_SIZE`].
    ///
    /// # Errors
    /// `UnknownHandle`, `IsADirectory`, `NotFound` (removed),
    /// `InvalidArgument` (negative or too large), `Io`.
    pub fn seek(&mut self, client: u64, h: Handle, from: SeekFrom) -> Result<u64, FsError> {
        let o = Self::get(&mut self.slots, self.incarnation, client, h)?;
        if o.is_dir {
            return Err(FsError::IsADirectory);
        }
        if o.gone {
            return Err(FsError::NotFound);
        }
        let new = match from {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => o.pos.checked_add_signed(d),
            SeekFrom::End(d) => {
                let f = open_file_at(&self.fs, &o.path)?;
                file_size(&f).checked_add_signed(d)
            }
        };
        let new = new
            .filter(|&n| n <= MAX_FILE_SIZE)
            .ok_or(FsError::InvalidArgument)?;
        o.pos = new;
        Ok(new)
    }

    /// Sets the size of the file open as `h` to `len`: shrinking drops the
    /// tail, growing appends zeros. The position does not move.
    ///
    /// # Errors
    /// `UnknownHandle`, `IsADirectory`, `NotWritable`, `NotFound`
    /// (removed), `FileTooLarge`, `NoSpace` (the file keeps its old size),
    /// `Io`.
    pub fn truncate(&mut self, client: u64, h: Handle, len: u64) -> Result<(), FsError> {
        let o = Self::get(&mut self.slots, self.incarnation, client, h)?;
        if o.is_dir {
            return Err(FsError::IsADirectory);
        }
        if !o.flags.contains(OpenFlags::WRITE) {
            return Err(FsError::NotWritable);
        }
        if o.gone {
            return Err(FsError::NotFound);
        }
        if len > MAX_FILE_SIZE {
            return Err(FsError::FileTooLarge);
        }
        let entry = target(&self.fs, &self.cache, &self.geo, o)?;
        let size = entry.size();
        if len < size {
            let path = o.path.clone();
            let mut f = open_file_at(&self.fs, &path)?;
            check_chain(&self.fs, &mut f)?;
            barrier(&self.cache)?;
            f.seek(fatfs::SeekFrom::Start(len)).map_err(Fat)?;
            let cut_result = f.truncate().map_err(Fat);
            // Whatever fatfs freed is gone from every handle's cursor.
            cut(&mut self.slots, &self.geo, &path, len);
            cut_result?;
            f.flush().map_err(Fat)?;
            barrier(&self.cache)?;
        } else if len > size {
            self.write_entry(Self::slot_index(h), entry, len, &[])?;
        }
        Ok(())
    }

    /// Makes everything written so far durable, `h`'s file included: the
    /// file's entry is already in the cache after every operation, so this
    /// writes every dirty page back (one batch) and returns only after the
    /// device's flush returned.
    ///
    /// # Errors
    /// `UnknownHandle`, `Io`.
    pub fn fsync(&mut self, client: u64, h: Handle) -> Result<(), FsError> {
        Self::get(&mut self.slots, self.incarnation, client, h)?;
        self.sync()
    }

    /// Up to `max` entries (capped by [`Limits::max_dir_entries`]) of the
    /// directory `path`, skipping the first `start`; `.` and `..` are not
    /// listed. The cursor is stateless: call again with `start` advanced by
    /// the number received until fewer than asked come back. Entries added
    /// or removed between calls may shift the listing.
    ///
    /// # Errors
    /// `PathTooLong`, `InvalidName`, `NotFound`, `NotADirectory`, `Io`.
    pub fn read_dir(
        &self,
        _client: u64,
        path: &str,
        start: u64,
        max: usize,
    ) -> Result<Vec<DirEntryInfo>, FsError> {
        let comps = parse_path(path)?;
        self.list(&comps, start, max)
    }

    /// [`FileServer::read_dir`] on a handle opened with `DIRECTORY`.
    ///
    /// # Errors
    /// `UnknownHandle`, `NotADirectory` (a file handle), `NotFound`
    /// (removed), `Io`.
    pub fn read_dir_handle(
        &mut self,
        client: u64,
        h: Handle,
        start: u64,
        max: usize,
    ) -> Result<Vec<DirEntryInfo>, FsError> {
        let o = Self::get(&mut self.slots, self.incarnation, client, h)?;
        if !o.is_dir {
            return Err(FsError::NotADirectory);
        }
        if o.gone {
            return Err(FsError::NotFound);
        }
        let path = o.path.clone();
        self.list(&path, start, max)
    }

    fn list(&self, path: &[String], start: u64, max: usize) -> Result<Vec<DirEntryInfo>, FsError> {
        let (dir, _) = open_dir_at(&self.fs, path)?;
        let max = max.min(self.limits.max_dir_entries);
        let mut out = Vec::new();
        let mut index = 0u64;
        if max == 0 {
            return Ok(out);
        }
        for r in entries(&dir) {
            let e = r?;
            if is_dot(&e) {
                continue;
            }
            if index >= start {
                out.push(DirEntryInfo {
                    name: e.file_name(),
                    size: if e.is_dir() { 0 } else { e.len() },
                    is_dir: e.is_dir(),
                });
                if out.len() >= max {
                    break;
                }
            }
            index += 1;
        }
        Ok(out)
    }

    /// Creates the directory `path`.
    ///
    /// # Errors
    /// `PathTooLong`, `InvalidName`, `NotFound` (parent), `NotADirectory`,
    /// `AlreadyExists`, `NoSpace`, `Io`.
    pub fn mkdir(&mut self, _client: u64, path: &str) -> Result<(), FsError> {
        let comps = parse_path(path)?;
        let Some((last, parents)) = comps.split_last() else {
            return Err(FsError::AlreadyExists);
        };
        let (parent, _) = open_dir_at(&self.fs, parents)?;
        if find_in(&parent, last)?.is_some() {
            return Err(FsError::AlreadyExists);
        }
        self.reserve(last, 1)?;
        parent.create_dir(last).map_err(Fat)?;
        Ok(())
    }

    /// Removes the file or empty directory `path`. Handles open on it are
    /// marked gone.
    ///
    /// # Errors
    /// `PathTooLong`, `InvalidName`, `InvalidArgument` (the root),
    /// `NotFound`, `NotADirectory`, `DirectoryNotEmpty`, `Io`.
    pub fn unlink(&mut self, _client: u64, path: &str) -> Result<(), FsError> {
        let comps = parse_path(path)?;
        let Some((last, parents)) = comps.split_last() else {
            return Err(FsError::InvalidArgument);
        };
        let (parent, mut canon) = open_dir_at(&self.fs, parents)?;
        let e = find_in(&parent, last)?.ok_or(FsError::NotFound)?;
        canon.push(e.file_name());
        // fatfs frees chains and scans directories without a bound: check
        // first that neither loops.
        if e.is_dir() {
            for r in entries(&e.to_dir()) {
                if !is_dot(&r?) {
                    return Err(FsError::DirectoryNotEmpty);
                }
            }
        } else {
            check_chain(&self.fs, &mut e.to_file())?;
        }
        drop(e);
        barrier(&self.cache)?;
        parent.remove(last).map_err(Fat)?;
        drop(parent);
        barrier(&self.cache)?;
        for o in self.slots.iter_mut().filter_map(|s| s.open.as_mut()) {
            if same_path(&o.path, &canon) {
                o.gone = true;
                o.entry = None;
                o.chain = None;
            }
        }
        Ok(())
    }

    /// Renames or moves `from` to `to`. The target must not exist (a rename
    /// to the same entry, e.g. a change of case only, does nothing). A
    /// directory cannot move into itself. Open handles follow.
    ///
    /// # Errors
    /// `PathTooLong`, `InvalidName`, `InvalidArgument` (root, or a
    /// directory into itself), `NotFound`, `NotADirectory`, `AlreadyExists`,
    /// `NoSpace`, `Io`.
    pub fn rename(&mut self, _client: u64, from: &str, to: &str) -> Result<(), FsError> {
        let src = parse_path(from)?;
        let dst = parse_path(to)?;
        let (Some((src_last, src_parents)), Some((dst_last, dst_parents))) =
            (src.split_last(), dst.split_last())
        else {
            return Err(FsError::InvalidArgument);
        };
        let (src_dir, mut src_canon) = open_dir_at(&self.fs, src_parents)?;
        let e = find_in(&src_dir, src_last)?.ok_or(FsError::NotFound)?;
        src_canon.push(e.file_name());
        let moving_dir = e.is_dir();
        drop(e);
        let (dst_dir, dst_parent_canon) = open_dir_at(&self.fs, dst_parents)?;
        if moving_dir && has_prefix(&dst_parent_canon, &src_canon) {
            return Err(FsError::InvalidArgument);
        }
        if let Some(existing) = find_in(&dst_dir, dst_last)? {
            let mut existing_canon = dst_parent_canon.clone();
            existing_canon.push(existing.file_name());
            if same_path(&existing_canon, &src_canon) {
                return Ok(());
            }
            return Err(FsError::AlreadyExists);
        }
        self.reserve(dst_last, 0)?;
        // Crash-safe order: everything before the rename is made durable,
        // then the rename's sectors go out with those that remove the old
        // entry last, so a crash leaves the file under its old name, its
        // new one, or both (the repair keeps one), never neither.
        self.cache.with(BlockCache::sync)??;
        src_dir.rename(src_last, &dst_dir, dst_last).map_err(Fat)?;
        let mut dst_canon = dst_parent_canon;
        dst_canon.push(dst_last.clone());
        if moving_dir
            && !same_path(
                &dst_canon[..dst_canon.len() - 1],
                &src_canon[..src_canon.len() - 1],
            )
        {
            fix_dotdot(&self.fs, &dst_dir, &dst_canon)?;
        }
        drop(src_dir);
        drop(dst_dir);
        self.cache.with(|c| {
            let last = c.removal_sectors()?;
            c.sync_with_last(&last)
        })??;
        for o in self.slots.iter_mut().filter_map(|s| s.open.as_mut()) {
            if has_prefix(&o.path, &src_canon) {
                let mut path = dst_canon.clone();
                path.extend(o.path.drain(src_canon.len()..));
                o.path = path;
                // The entry moved; the clusters did not.
                o.entry = None;
            }
        }
        Ok(())
    }
}

/// The short-name fields of a directory entry that hold its first cluster.
fn entry_cluster(raw: &[u8; 32]) -> u32 {
    let hi = u32::from(u16::from_le_bytes([raw[20], raw[21]]));
    let lo = u32::from(u16::from_le_bytes([raw[26], raw[27]]));
    (hi << 16) | lo
}

/// After a directory moved to a new parent, points its `..` entry at the
/// new parent (fatfs's rename leaves it pointing at the old one). The
/// parent's cluster is read from its own `.` entry; the root is cluster 0.
fn fix_dotdot<D: BlockDevice>(
    fs: &Fs<D>,
    parent: &FsDir<'_, D>,
    moved: &[String],
) -> Result<(), FsError> {
    let parent_cluster = if moved.len() <= 1 {
        0
    } else {
        dir_cluster(parent)?
    };
    let (dir, _) = open_dir_at(fs, moved)?;
    let mut f = dir.as_file().ok_or(FsError::Corrupt)?.clone();
    let mut dotdot = [0u8; 32];
    f.seek(fatfs::SeekFrom::Start(DIR_ENTRY)).map_err(Fat)?;
    f.read_exact(&mut dotdot).map_err(Fat)?;
    if &dotdot[..11] != b"..         " {
        return Err(FsError::Corrupt);
    }
    let [lo0, lo1, hi0, hi1] = parent_cluster.to_le_bytes();
    dotdot[20] = hi0;
    dotdot[21] = hi1;
    dotdot[26] = lo0;
    dotdot[27] = lo1;
    f.seek(fatfs::SeekFrom::Start(DIR_ENTRY)).map_err(Fat)?;
    f.write_all(&dotdot).map_err(Fat)?;
    f.flush().map_err(Fat)?;
    Ok(())
}

/// Checks the boot sector enough that fatfs gets a sane volume: a FAT boot
/// signature and a volume no larger than the device. Returns it.
fn check_boot_sector<D: BlockDevice>(cache: &SharedCache<D>) -> Result<[u8; 512], FsError> {
    let mut boot = [0u8; 512];
    let (n, dev_bytes) = cache.with(|c| (c.read_at(0, &mut boot), c.len_bytes()))?;
    if n? != boot.len() {
        return Err(FsError::Corrupt);
    }
    if boot[510..512] != [0x55, 0xAA] {
        return Err(FsError::Corrupt);
    }
    let bytes_per_sector = u64::from(u16::from_le_bytes([boot[11], boot[12]]));
    let small = u64::from(u16::from_le_bytes([boot[19], boot[20]]));
    let large = u64::from(u32::from_le_bytes([boot[32], boot[33], boot[34], boot[35]]));
    let sectors = if small != 0 { small } else { large };
    if bytes_per_sector == 0 || sectors.saturating_mul(bytes_per_sector) > dev_bytes {
        return Err(FsError::Corrupt);
    }
    Ok(boot)
}
