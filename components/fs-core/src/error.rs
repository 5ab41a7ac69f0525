//! The file server's error codes ([`FsError`]) and how starry-fatfs's
//! errors map onto them.
//!
//! The numeric codes are part of the IPC protocol: they never change and
//! are never reused. Code 0 is not an error (IPC replies use it for
//! success), so [`FsError::from_code`] rejects it.

use crate::cache::CacheError;

/// Why a file server operation failed: the file protocol's error type,
/// defined once in `libcerne::files` (its codes travel in replies).
pub use libcerne::files::FsError;

/// The server's errors from fatfs's: a local wrapper, because the
/// conversion into the protocol's type cannot be a `From` impl here.
pub(crate) struct Fat(pub(crate) fatfs::Error<CacheError>);

impl From<fatfs::Error<CacheError>> for Fat {
    fn from(e: fatfs::Error<CacheError>) -> Self {
        Fat(e)
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

impl From<Fat> for FsError {
    fn from(Fat(e): Fat) -> Self {
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
        assert_eq!(FsError::from_code(20), None);
        assert_eq!(FsError::from_code(u16::MAX), None);
    }
}
