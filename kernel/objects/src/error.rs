//! Invocation errors: a seL4_Error with its error message registers
//! (docs/sel4-abi.md §6.1), as invocations return them.
#![forbid(unsafe_code)]

use cerne_abi::error::Error;
use cerne_abi::lookup::LookupFailure;

/// An invocation error and its operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SyscallError {
    /// InvalidArgument(argument index).
    InvalidArgument(u64),
    /// InvalidCapability(cap index).
    InvalidCapability(u64),
    /// IllegalOperation.
    IllegalOperation,
    /// RangeError(min, max).
    RangeError(u64, u64),
    /// AlignmentError.
    AlignmentError,
    /// FailedLookup.
    FailedLookup {
        /// The failing lookup was a source / pivot lookup.
        source: bool,
        /// What went wrong.
        failure: LookupFailure,
    },
    /// TruncatedMessage.
    TruncatedMessage,
    /// DeleteFirst.
    DeleteFirst,
    /// RevokeFirst.
    RevokeFirst,
    /// NotEnoughMemory(bytes available).
    NotEnoughMemory(u64),
}

impl SyscallError {
    /// The seL4_Error code (the reply label).
    pub fn error(&self) -> Error {
        match self {
            Self::InvalidArgument(_) => Error::InvalidArgument,
            Self::InvalidCapability(_) => Error::InvalidCapability,
            Self::IllegalOperation => Error::IllegalOperation,
            Self::RangeError(..) => Error::RangeError,
            Self::AlignmentError => Error::AlignmentError,
            Self::FailedLookup { .. } => Error::FailedLookup,
            Self::TruncatedMessage => Error::TruncatedMessage,
            Self::DeleteFirst => Error::DeleteFirst,
            Self::RevokeFirst => Error::RevokeFirst,
            Self::NotEnoughMemory(_) => Error::NotEnoughMemory,
        }
    }

    /// The error message registers and how many there are.
    pub fn message(&self) -> ([u64; 5], usize) {
        match *self {
            Self::InvalidArgument(i) | Self::InvalidCapability(i) | Self::NotEnoughMemory(i) => {
                ([i, 0, 0, 0, 0], 1)
            }
            Self::RangeError(a, b) => ([a, b, 0, 0, 0], 2),
            Self::FailedLookup { source, failure } => {
                let w = failure.words();
                ([source as u64, w[0], w[1], w[2], w[3]], 1 + failure.len())
            }
            _ => ([0; 5], 0),
        }
    }
}

/// Shorthand for invocation results.
pub type SysResult<T> = Result<T, SyscallError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        assert_eq!(
            SyscallError::RangeError(1, 256).message(),
            ([1, 256, 0, 0, 0], 2)
        );
        let e = SyscallError::FailedLookup {
            source: true,
            failure: LookupFailure::DepthMismatch {
                bits_left: 3,
                bits_found: 0,
            },
        };
        assert_eq!(e.message(), ([1, 3, 3, 0, 0], 4));
        assert_eq!(e.error(), Error::FailedLookup);
        assert_eq!(SyscallError::DeleteFirst.message().1, 0);
        assert_eq!(
            SyscallError::NotEnoughMemory(16).message(),
            ([16, 0, 0, 0, 0], 1)
        );
    }
}
