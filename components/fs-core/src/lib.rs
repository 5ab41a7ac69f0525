//! The host-testable core of Cerne's file server: a FAT32 volume (through
//! the `starry-fatfs` crate) on a [`BlockDevice`], behind a write-back
//! [`BlockCache`], served to clients identified by their badge through
//! [`FileServer`]. Nothing here knows about IPC; the server component wraps
//! these calls in messages.
//!
//! * [`device`]: the [`BlockDevice`] trait and the in-memory [`MemDisk`];
//! * [`cache`]: the write-back page cache and its fsync guarantee;
//! * [`server`]: sessions, handles and every operation;
//! * [`path`]: which paths are accepted;
//! * `repair`: making a volume consistent after an unclean stop;
//! * [`error`]: the stable error codes;
//! * [`service`]: the file protocol served on top of [`FileServer`];
//! * [`format`](mod@format): making a fresh volume.
//!
//! `docs/file-server.md` explains the design as a whole.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;

pub mod cache;
mod chain;
pub mod device;
pub mod error;
pub mod format;
pub mod path;
mod repair;
pub mod server;
pub mod service;

pub use cache::{BlockCache, CacheError, CacheStats, SharedCache, PAGE_SIZE};
pub use device::{BlockDevice, DiskCounters, Faults, IoError, MemDisk, SECTOR_SIZE};
pub use error::FsError;
pub use format::{format, format_with_cluster_size, min_sectors};
pub use path::{parse_path, path_from_bytes, MAX_PATH};
pub use repair::Repaired;
pub use server::{
    DirEntryInfo, FileServer, FsStats, Handle, Limits, OpenFlags, SeekFrom, Stat, Timestamp,
    MAX_FILE_SIZE,
};
pub use service::FileService;
