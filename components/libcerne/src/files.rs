//! The file protocol between the file server and its clients
//! (docs/file-server.md), defined with [`crate::interface!`]. Paths, data
//! and directory listings travel through the buffer each client shares
//! with the server alone (the `files` channel's `buffer`); requests name
//! ranges of it ([`BufRange`]).
//!
//! Each operation says whether it is idempotent (carrying it out twice has
//! the effect of once), so that the interface client may re-issue it by
//! itself when the server restarted before answering: the positional
//! `read_at` / `write_at` (`write_at` writes at its position even on an
//! `APPEND` handle), `stat`, `fstat`, `read_dir`, `truncate` (to a length),
//! `fsync`, `statfs`, `stats` and `close_all` are; `open` (it may create or
//! truncate, and `EXCLUSIVE` fails the second time), `close`, `read`,
//! `write` (which move the handle's position, or append), `seek` (relative
//! to the position), `mkdir`, `unlink` and `rename` are not, and their
//! callers get `Error::Protocol(ProtocolError::Restarted)` to act on.
//!
//! Handles do not survive a restart of the server: each carries the
//! server's incarnation, and one from an earlier incarnation is answered
//! with [`FsError::Stale`] (so a re-issued `read_at` on such a handle gets
//! `Stale`, never another file's bytes).
//!
//! Error replies carry [`FsError`]s, as labels `FIRST_SERVER_CODE - 1 +
//! code`; a request the server cannot decode gets the mechanism's
//! [`crate::interface::ProtocolError`].

pub use crate::interface::BufRange;
use crate::interface::{ServerError, Word, FIRST_SERVER_CODE};

/// The longest path, in bytes.
pub const MAX_PATH: usize = 255;

/// Why a file server operation failed. `code()` gives the stable number
/// sent over IPC; see docs/file-server.md for the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u16)]
pub enum FsError {
    /// The handle is not open, was closed, or belongs to another client.
    UnknownHandle = 1,
    /// The path is longer than [`MAX_PATH`] bytes.
    PathTooLong = 2,
    /// The path is malformed or names something FAT cannot store: not
    /// absolute, an empty component, a NUL or other forbidden character,
    /// `..` above the root, a component that fatfs cannot encode.
    InvalidName = 3,
    /// A component of the path does not exist, or the handle's file was
    /// removed.
    NotFound = 4,
    /// The target of an exclusive create, `mkdir` or `rename` exists.
    AlreadyExists = 5,
    /// A directory was required (a path prefix, a directory open, a
    /// `read_dir`) and a file was found.
    NotADirectory = 6,
    /// A file was required (open without the directory flag, read, write,
    /// seek, truncate) and a directory was found.
    IsADirectory = 7,
    /// `unlink` of a directory that still has entries.
    DirectoryNotEmpty = 8,
    /// The volume has no free cluster for the data or the directory entry.
    NoSpace = 9,
    /// A read at a position beyond the end of the file. Reading exactly at
    /// the end is not an error: it returns 0 bytes (end of file).
    PastEnd = 10,
    /// Write or truncate through a handle opened without write access.
    NotWritable = 11,
    /// Read through a handle opened without read access.
    NotReadable = 12,
    /// The client, or the server as a whole, has its maximum of open
    /// handles.
    TooManyHandles = 13,
    /// A malformed request: contradictory open flags, a negative or
    /// overflowing seek, an operation on the root that makes no sense, a
    /// rename of a directory into itself.
    InvalidArgument = 14,
    /// The block device failed.
    Io = 15,
    /// The volume is not a valid FAT32 volume, or its structures point
    /// outside the disk.
    Corrupt = 16,
    /// The file would grow past FAT's 4 GiB − 1 byte limit.
    FileTooLarge = 17,
    /// A range of the request lies outside the buffer the client shares
    /// with the server (or the client has none).
    BadBuffer = 18,
    /// The file server restarted since this handle was opened: handles do
    /// not survive a restart (the server's table of them is gone, and a
    /// handle must never name another file afterwards). Open the file
    /// again; data that was fsync'd before the restart is there.
    Stale = 19,
}

impl FsError {
    /// Every error, in code order.
    pub const ALL: [FsError; 19] = [
        FsError::UnknownHandle,
        FsError::PathTooLong,
        FsError::InvalidName,
        FsError::NotFound,
        FsError::AlreadyExists,
        FsError::NotADirectory,
        FsError::IsADirectory,
        FsError::DirectoryNotEmpty,
        FsError::NoSpace,
        FsError::PastEnd,
        FsError::NotWritable,
        FsError::NotReadable,
        FsError::TooManyHandles,
        FsError::InvalidArgument,
        FsError::Io,
        FsError::Corrupt,
        FsError::FileTooLarge,
        FsError::BadBuffer,
        FsError::Stale,
    ];

    /// The stable numeric code (1..=19).
    #[must_use]
    pub const fn code(self) -> u16 {
        self as u16
    }

    /// The error with code `code`, or `None` for 0 (success) and unknown
    /// codes.
    #[must_use]
    pub fn from_code(code: u16) -> Option<FsError> {
        FsError::ALL.iter().copied().find(|e| e.code() == code)
    }

    /// A short name for logs.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            FsError::UnknownHandle => "UnknownHandle",
            FsError::PathTooLong => "PathTooLong",
            FsError::InvalidName => "InvalidName",
            FsError::NotFound => "NotFound",
            FsError::AlreadyExists => "AlreadyExists",
            FsError::NotADirectory => "NotADirectory",
            FsError::IsADirectory => "IsADirectory",
            FsError::DirectoryNotEmpty => "DirectoryNotEmpty",
            FsError::NoSpace => "NoSpace",
            FsError::PastEnd => "PastEnd",
            FsError::NotWritable => "NotWritable",
            FsError::NotReadable => "NotReadable",
            FsError::TooManyHandles => "TooManyHandles",
            FsError::InvalidArgument => "InvalidArgument",
            FsError::Io => "Io",
            FsError::Corrupt => "Corrupt",
            FsError::FileTooLarge => "FileTooLarge",
            FsError::BadBuffer => "BadBuffer",
            FsError::Stale => "Stale",
        }
    }
}

impl core::fmt::Display for FsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl ServerError for FsError {
    fn code(self) -> Word {
        FIRST_SERVER_CODE - 1 + Word::from(FsError::code(self))
    }
    fn from_code(code: Word) -> Option<Self> {
        let own = code.checked_sub(FIRST_SERVER_CODE - 1)?;
        FsError::from_code(u16::try_from(own).ok()?)
    }
}

/// Open flags (bits of [`Open::flags`]).
pub mod flags {
    /// Allow reads.
    pub const READ: u32 = 1;
    /// Allow writes and truncate.
    pub const WRITE: u32 = 1 << 1;
    /// Create the file if it does not exist (needs `WRITE`).
    pub const CREATE: u32 = 1 << 2;
    /// Cut an existing file to 0 bytes (needs `WRITE`).
    pub const TRUNCATE: u32 = 1 << 3;
    /// With `CREATE`: fail with `AlreadyExists` if the name exists.
    pub const EXCLUSIVE: u32 = 1 << 4;
    /// Every write goes to the end of the file.
    pub const APPEND: u32 = 1 << 5;
    /// Open a directory (for `read_dir` by handle).
    pub const DIRECTORY: u32 = 1 << 6;
}

/// Seek origins (`Seek::whence`).
pub mod whence {
    /// From the start (offset must not be negative).
    pub const START: u32 = 0;
    /// From the current position.
    pub const CURRENT: u32 = 1;
    /// From the end.
    pub const END: u32 = 2;
}

wire! {
    /// No data.
    pub struct Empty {}

    /// `open`: the path's range and the flags.
    pub struct Open {
        /// The path (UTF-8, absolute) in the buffer.
        pub path: BufRange,
        /// [`flags`] bits.
        pub flags: u32,
        /// Zero.
        pub reserved: u32,
    }

    /// A request about one handle.
    pub struct HandleOnly {
        /// The handle.
        pub handle: u64,
    }

    /// `read` / `write`: the handle and the data's range.
    pub struct Transfer {
        /// The handle.
        pub handle: u64,
        /// Where the data is (write) or goes (read).
        pub buf: BufRange,
    }

    /// `read_at` / `write_at`: the same at a given file position.
    pub struct TransferAt {
        /// The handle.
        pub handle: u64,
        /// The file position.
        pub position: u64,
        /// Where the data is or goes.
        pub buf: BufRange,
    }

    /// `seek`.
    pub struct Seek {
        /// The handle.
        pub handle: u64,
        /// The offset, signed.
        pub offset: i64,
        /// A [`whence`] value.
        pub whence: u32,
        /// Zero.
        pub reserved: u32,
    }

    /// `truncate`.
    pub struct Truncate {
        /// The handle.
        pub handle: u64,
        /// The new length.
        pub len: u64,
    }

    /// A request about one path.
    pub struct PathOnly {
        /// The path in the buffer.
        pub path: BufRange,
    }

    /// `rename`.
    pub struct Rename {
        /// The old path.
        pub from: BufRange,
        /// The new path.
        pub to: BufRange,
    }

    /// `read_dir`: a directory by path (when `handle` is 0) or handle,
    /// entries from `start`, written to `out` as records.
    pub struct ReadDir {
        /// A directory handle, or 0 to use `path`.
        pub handle: u64,
        /// The directory's path (when `handle` is 0).
        pub path: BufRange,
        /// Where the records go.
        pub out: BufRange,
        /// Index of the first entry.
        pub start: u32,
        /// Most entries.
        pub max: u32,
    }

    /// A new handle.
    pub struct Opened {
        /// The handle.
        pub handle: u64,
    }

    /// A byte count.
    pub struct Count {
        /// Bytes.
        pub bytes: u64,
    }

    /// A file position.
    pub struct Position {
        /// Bytes from the start.
        pub offset: u64,
    }

    /// `stat` / `fstat`.
    pub struct Stat {
        /// Bytes.
        pub size: u64,
        /// 1 for a directory.
        pub is_dir: u32,
        /// Zero.
        pub reserved: u32,
    }

    /// `read_dir`'s answer.
    pub struct Listed {
        /// Records written.
        pub entries: u32,
        /// 1 when the directory has no entries past these.
        pub end: u32,
        /// Bytes of records written.
        pub bytes: u32,
        /// Zero.
        pub reserved: u32,
    }

    /// `stats`: what the server has done and holds, for `mem`-style
    /// reports and benchmarks. Cycle counts are 0 unless the system was
    /// built to measure them (the `storage-bench` system).
    pub struct ServerStats {
        /// Requests served.
        pub requests: u64,
        /// PMU cycles the server spent on requests, not counting its waits
        /// for the block driver.
        pub busy_cycles: u64,
        /// PMU cycles the block driver spent handling requests and
        /// interrupts (it publishes them in the queue page).
        pub driver_cycles: u64,
        /// Block cache hits.
        pub cache_hits: u64,
        /// Block cache misses.
        pub cache_misses: u64,
        /// Heap bytes in use.
        pub heap_used: u64,
        /// Heap bytes free.
        pub heap_free: u64,
        /// Bytes free on the volume.
        pub free_bytes: u64,
    }

    /// `statfs`.
    pub struct FsInfo {
        /// Bytes of the volume.
        pub total_bytes: u64,
        /// Bytes free.
        pub free_bytes: u64,
    }
}

/// A `read_dir` record: size (8 bytes LE), is_dir (1 byte), name length
/// (1 byte), the name; records are packed back to back.
pub const RECORD_HEADER: usize = 10;

/// Appends the record of one entry to `out` at `at`; returns the new end,
/// or `None` when it does not fit.
pub fn put_record(out: &mut [u8], at: usize, size: u64, is_dir: bool, name: &str) -> Option<usize> {
    let name = name.as_bytes();
    let len = u8::try_from(name.len()).ok()?;
    let end = at.checked_add(RECORD_HEADER + name.len())?;
    let dst = out.get_mut(at..end)?;
    dst[..8].copy_from_slice(&size.to_le_bytes());
    dst[8] = u8::from(is_dir);
    dst[9] = len;
    dst[RECORD_HEADER..].copy_from_slice(name);
    Some(end)
}

/// One entry decoded from `read_dir` records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// Bytes.
    pub size: u64,
    /// A directory.
    pub is_dir: bool,
    /// The name (UTF-8 from the server; shown lossily if not).
    pub name: &'a [u8],
}

/// The records in `bytes`, in order; stops at the first malformed one.
pub fn records(bytes: &[u8]) -> impl Iterator<Item = Record<'_>> {
    let mut at = 0;
    core::iter::from_fn(move || {
        let head = bytes.get(at..at + RECORD_HEADER)?;
        let mut size = [0u8; 8];
        size.copy_from_slice(&head[..8]);
        let len = usize::from(head[9]);
        let name = bytes.get(at + RECORD_HEADER..at + RECORD_HEADER + len)?;
        let r = Record {
            size: u64::from_le_bytes(size),
            is_dir: head[8] != 0,
            name,
        };
        at += RECORD_HEADER + len;
        Some(r)
    })
}

crate::interface! {
    /// The file interface.
    pub interface protocol: FsError {
        /// Opens (or creates) a file or directory.
        1 => Open: fn open(Open) -> Opened, once;
        /// Closes a handle.
        2 => Close: fn close(HandleOnly) -> Empty, once;
        /// Reads at the handle's position, advancing it.
        3 => Read: fn read(Transfer) -> Count, once;
        /// Writes at the handle's position (or the end, for append).
        4 => Write: fn write(Transfer) -> Count, once;
        /// Reads at a position; the handle's position is not used.
        5 => ReadAt: fn read_at(TransferAt) -> Count, idempotent;
        /// Writes at a position (also on an `APPEND` handle); the handle's
        /// position is not used.
        6 => WriteAt: fn write_at(TransferAt) -> Count, idempotent;
        /// Moves the handle's position.
        7 => Seek: fn seek(Seek) -> Position, once;
        /// Facts about a path.
        8 => Stat: fn stat(PathOnly) -> Stat, idempotent;
        /// Facts about an open handle.
        9 => Fstat: fn fstat(HandleOnly) -> Stat, idempotent;
        /// Lists a directory.
        10 => ReadDir: fn read_dir(ReadDir) -> Listed, idempotent;
        /// Makes a directory.
        11 => Mkdir: fn mkdir(PathOnly) -> Empty, once;
        /// Removes a file or an empty directory.
        12 => Unlink: fn unlink(PathOnly) -> Empty, once;
        /// Renames or moves.
        13 => Rename: fn rename(Rename) -> Empty, once;
        /// Sets a file's length (zeros when it grows).
        14 => Truncate: fn truncate(Truncate) -> Empty, idempotent;
        /// Returns once the file's data and metadata are on the device.
        15 => Fsync: fn fsync(HandleOnly) -> Empty, idempotent;
        /// The volume's size and free space.
        16 => Statfs: fn statfs(Empty) -> FsInfo, idempotent;
        /// What the server has done and holds.
        17 => Stats: fn stats(Empty) -> ServerStats, idempotent;
        /// Closes every handle the caller holds (a session handed to a new
        /// process starts with none); how many were open.
        18 => CloseAll: fn close_all(Empty) -> Count, idempotent;
    }
}

/// What a [`Files`] call ends in besides success.
pub type FilesError = crate::interface::Error<FsError>;

/// A client's handle on the file server: the typed client and the buffer
/// shared with the server. Paths and data are copied through the buffer;
/// longer data moves in buffer-sized pieces.
pub struct Files<T: crate::interface::Transport> {
    client: protocol::Client<T>,
    buffer: crate::interface::SharedBuffer,
}

impl<T: crate::interface::Transport> Files<T> {
    /// The file server behind `transport`, sharing `buffer`.
    pub fn new(transport: T, buffer: crate::interface::SharedBuffer) -> Self {
        Self {
            client: protocol::Client::new(transport),
            buffer,
        }
    }

    /// The typed client, for requests built by hand.
    pub fn raw(&self) -> &protocol::Client<T> {
        &self.client
    }

    /// The shared buffer.
    pub fn buffer(&self) -> crate::interface::SharedBuffer {
        self.buffer
    }

    /// Puts `path` at the start of the buffer; its range.
    fn put_path(&self, at: usize, path: &str) -> Result<BufRange, FilesError> {
        self.buffer.write(at, path.as_bytes())?;
        Ok(BufRange::new(at as u32, path.len() as u32))
    }

    /// Opens `path` with [`flags`] bits; the handle.
    pub fn open(&self, path: &str, flags: u32) -> Result<u64, FilesError> {
        let path = self.put_path(0, path)?;
        let r = self.client.open(Open {
            path,
            flags,
            reserved: 0,
        })?;
        Ok(r.handle)
    }

    /// Closes `handle`.
    pub fn close(&self, handle: u64) -> Result<(), FilesError> {
        self.client.close(HandleOnly { handle }).map(|_| ())
    }

    /// Closes every handle this client holds; how many were open.
    pub fn close_all(&self) -> Result<u64, FilesError> {
        self.client.close_all(Empty {}).map(|c| c.bytes)
    }

    /// Writes all of `data` at the handle's position; the bytes written.
    pub fn write(&self, handle: u64, mut data: &[u8]) -> Result<usize, FilesError> {
        let mut total = 0;
        while !data.is_empty() {
            let n = data.len().min(self.buffer.len());
            self.buffer.write(0, &data[..n])?;
            let done = self.client.write(Transfer {
                handle,
                buf: BufRange::new(0, n as u32),
            })?;
            let done = (done.bytes as usize).min(n);
            total += done;
            if done < n {
                break;
            }
            data = &data[n..];
        }
        Ok(total)
    }

    /// Reads into `out` from the handle's position until `out` is full or
    /// the file ends; the bytes read.
    pub fn read(&self, handle: u64, out: &mut [u8]) -> Result<usize, FilesError> {
        let mut total = 0;
        while total < out.len() {
            let n = (out.len() - total).min(self.buffer.len());
            let got = self.client.read(Transfer {
                handle,
                buf: BufRange::new(0, n as u32),
            })?;
            let got = (got.bytes as usize).min(n);
            self.buffer.read(0, &mut out[total..total + got])?;
            total += got;
            if got == 0 {
                break;
            }
        }
        Ok(total)
    }

    /// Facts about `path`.
    pub fn stat(&self, path: &str) -> Result<Stat, FilesError> {
        let path = self.put_path(0, path)?;
        self.client.stat(PathOnly { path })
    }

    /// Makes directory `path`.
    pub fn mkdir(&self, path: &str) -> Result<(), FilesError> {
        let path = self.put_path(0, path)?;
        self.client.mkdir(PathOnly { path }).map(|_| ())
    }

    /// Removes `path`.
    pub fn unlink(&self, path: &str) -> Result<(), FilesError> {
        let path = self.put_path(0, path)?;
        self.client.unlink(PathOnly { path }).map(|_| ())
    }

    /// Renames `from` to `to`.
    pub fn rename(&self, from: &str, to: &str) -> Result<(), FilesError> {
        let from_range = self.put_path(0, from)?;
        let to_range = self.put_path(from.len(), to)?;
        self.client
            .rename(Rename {
                from: from_range,
                to: to_range,
            })
            .map(|_| ())
    }

    /// Returns once `handle`'s file is on the device.
    pub fn fsync(&self, handle: u64) -> Result<(), FilesError> {
        self.client.fsync(HandleOnly { handle }).map(|_| ())
    }

    /// Sets `handle`'s file length.
    pub fn truncate(&self, handle: u64, len: u64) -> Result<(), FilesError> {
        self.client.truncate(Truncate { handle, len }).map(|_| ())
    }

    /// Moves the handle's position; the new one.
    pub fn seek(&self, handle: u64, offset: i64, whence: u32) -> Result<u64, FilesError> {
        self.client
            .seek(Seek {
                handle,
                offset,
                whence,
                reserved: 0,
            })
            .map(|p| p.offset)
    }

    /// Calls `f` for each entry of directory `path` (name, size, is_dir),
    /// paging through it; the number of entries.
    pub fn list(
        &self,
        path: &str,
        mut f: impl FnMut(&[u8], u64, bool),
    ) -> Result<usize, FilesError> {
        let path_range = self.put_path(0, path)?;
        let out_at = path.len().next_multiple_of(8);
        let out_len = self.buffer.len().saturating_sub(out_at);
        let mut start = 0u32;
        let mut records = [0u8; 512];
        loop {
            let want = out_len.min(records.len());
            let listed = self.client.read_dir(ReadDir {
                handle: 0,
                path: path_range,
                out: BufRange::new(out_at as u32, want as u32),
                start,
                max: 16,
            })?;
            let bytes = (listed.bytes as usize).min(want);
            self.buffer.read(out_at, &mut records[..bytes])?;
            for r in self::records(&records[..bytes]) {
                f(r.name, r.size, r.is_dir);
            }
            start += listed.entries;
            if listed.end != 0 || listed.entries == 0 {
                return Ok(start as usize);
            }
        }
    }

    /// The volume's size and free bytes.
    pub fn statfs(&self) -> Result<FsInfo, FilesError> {
        self.client.statfs(Empty {})
    }

    /// The server's statistics.
    pub fn stats(&self) -> Result<ServerStats, FilesError> {
        self.client.stats(Empty {})
    }
}

/// The file server of the component being built, from its generated
/// constants (`caps::FILES`, `addrs::FILES_BUFFER`,
/// `addrs::FILES_BUFFER_SIZE`).
#[cfg(target_arch = "aarch64")]
#[macro_export]
macro_rules! files {
    () => {
        $crate::files::Files::new(
            $crate::sel4::Cap::<$crate::sel4::Endpoint>::from_cptr(caps::FILES),
            // SAFETY: the description maps the channel's buffer read-write
            // for the whole run; the program reaches it only through Files.
            unsafe {
                $crate::interface::SharedBuffer::new(addrs::FILES_BUFFER, addrs::FILES_BUFFER_SIZE)
            },
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_labels_are_distinct_and_above_the_mechanism() {
        let mut seen = [false; 64];
        for e in FsError::ALL {
            let label = ServerError::code(e);
            assert!(label >= FIRST_SERVER_CODE);
            assert!(!seen[label as usize], "{e:?}");
            seen[label as usize] = true;
            assert_eq!(<FsError as ServerError>::from_code(label), Some(e));
        }
        assert_eq!(<FsError as ServerError>::from_code(3), None);
    }

    #[test]
    fn records_round_trip_and_refuse_what_does_not_fit() {
        let mut out = [0u8; 40];
        let a = put_record(&mut out, 0, 7, false, "a.txt").unwrap();
        let b = put_record(&mut out, a, 0, true, "dir").unwrap();
        assert_eq!(
            put_record(&mut out, b, 0, false, "much-too-long-name"),
            None
        );
        let got: [Record<'_>; 2] = {
            let mut it = records(&out[..b]);
            [it.next().unwrap(), it.next().unwrap()]
        };
        assert_eq!(got[0].name, b"a.txt");
        assert_eq!(got[0].size, 7);
        assert!(got[1].is_dir);
        assert_eq!(records(&out[..b - 1]).count(), 1);
    }

    #[test]
    fn idempotence_is_explicit() {
        assert!(protocol::Op::ReadAt.idempotent());
        assert!(!protocol::Op::Write.idempotent());
        assert!(protocol::Op::Fsync.idempotent());
        assert!(!protocol::Op::Rename.idempotent());
    }

    #[test]
    fn idempotence_of_every_operation() {
        use protocol::Op;
        let idempotent = [
            Op::ReadAt,
            Op::WriteAt,
            Op::Stat,
            Op::Fstat,
            Op::ReadDir,
            Op::Truncate,
            Op::Fsync,
            Op::Statfs,
            Op::Stats,
            Op::CloseAll,
        ];
        for op in Op::ALL {
            assert_eq!(op.idempotent(), idempotent.contains(op), "{op:?}");
        }
    }
}
