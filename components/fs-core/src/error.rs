//! The file server's error codes ([`FsError`]) and how starry-fatfs's
//! errors map onto them.
//!
//! The numeric codes are part of the IPC protocol: they never change and
//! are never reused. Code 0 is not an error (IPC replies use it for
//! success), so [`FsError::from_code`] rejects it.

use crate::cache::CacheError;

/// Why a file server operation failed. `code()` gives the stable number
/// sent over IPC; see `docs/file-server.md` for the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u16)]
pub enum FsError {
    /// The handle is not open, was closed, or belongs to another client.
    UnknownHandle = 1,
    /// The path is longer than [`crate::MAX_PATH`] bytes.
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
}

impl FsError {
    /// Every error, in code order.
    pub const ALL: [FsError; 17] = [
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
    ];

    /// The stable numeric code (1..=17).
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
        }
    }
}

impl core::fmt::Display for FsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl From<CacheError> for FsError {
    fn from(e: CacheError) -> Self {
        match e {
            CacheError::Device(_) | CacheError::Busy => FsError::Io,
            // The volume's structures reach past the end of the disk.
            CacheError::UnexpectedEof | CacheError::WriteZero => FsError::Corrupt,
            CacheError::BadSeek => FsError::InvalidArgument,
        }
    }
}

impl From<fatfs::Error<CacheError>> for FsError {
    fn from(e: fatfs::Error<CacheError>) -> Self {
        use fatfs::Error as E;
        match e {
            E::Io(io) => io.into(),
            // fatfs reports a full FAT as NotEnoughSpace (from the cluster
            // allocator); WriteZero from a file means a write that placed no
            // byte, which the server only lets happen at the disk's end.
            E::NotEnoughSpace => FsError::NoSpace,
            E::NotFound => FsError::NotFound,
            E::AlreadyExists => FsError::AlreadyExists,
            E::DirectoryIsNotEmpty => FsError::DirectoryNotEmpty,
            E::InvalidFileNameLength | E::UnsupportedFileNameCharacter => FsError::InvalidName,
            E::InvalidInput => FsError::InvalidArgument,
            E::UnexpectedEof | E::WriteZero | E::CorruptedFileSystem => FsError::Corrupt,
            _ => FsError::Io,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_round_trip() {
        for (i, e) in FsError::ALL.iter().enumerate() {
            assert_eq!(usize::from(e.code()), i + 1);
            assert_eq!(FsError::from_code(e.code()), Some(*e));
        }
        assert_eq!(FsError::from_code(0), None);
        assert_eq!(FsError::from_code(18), None);
        assert_eq!(FsError::from_code(u16::MAX), None);
    }
}
