//! seL4_Error: the error codes an invocation returns in the reply label
//! (docs/sel4-abi.md §6.1), and how many error message registers each carries.

use crate::Word;

/// seL4_Error. The value is the reply's MessageInfo label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u64)]
pub enum Error {
    /// seL4_NoError.
    NoError = 0,
    /// seL4_InvalidArgument; MR0 = offending argument index.
    InvalidArgument = 1,
    /// seL4_InvalidCapability; MR0 = cap index (0 = invoked cap).
    InvalidCapability = 2,
    /// seL4_IllegalOperation.
    IllegalOperation = 3,
    /// seL4_RangeError; MR0 = min, MR1 = max.
    RangeError = 4,
    /// seL4_AlignmentError.
    AlignmentError = 5,
    /// seL4_FailedLookup; MR0 = source flag, MR1.. = lookup failure.
    FailedLookup = 6,
    /// seL4_TruncatedMessage.
    TruncatedMessage = 7,
    /// seL4_DeleteFirst.
    DeleteFirst = 8,
    /// seL4_RevokeFirst.
    RevokeFirst = 9,
    /// seL4_NotEnoughMemory; MR0 = bytes available.
    NotEnoughMemory = 10,
}

/// seL4_NumErrors: first value that is not an error code.
pub const NUM_ERRORS: Word = 11;

impl Error {
    /// The label word of the reply.
    pub const fn word(self) -> Word {
        self as Word
    }

    /// Decodes a reply label; `None` for values ≥ seL4_NumErrors.
    pub const fn from_word(w: Word) -> Option<Self> {
        Some(match w {
            0 => Self::NoError,
            1 => Self::InvalidArgument,
            2 => Self::InvalidCapability,
            3 => Self::IllegalOperation,
            4 => Self::RangeError,
            5 => Self::AlignmentError,
            6 => Self::FailedLookup,
            7 => Self::TruncatedMessage,
            8 => Self::DeleteFirst,
            9 => Self::RevokeFirst,
            10 => Self::NotEnoughMemory,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for w in 0..NUM_ERRORS {
            assert_eq!(Error::from_word(w).map(Error::word), Some(w));
        }
        assert_eq!(Error::from_word(NUM_ERRORS), None);
        assert_eq!(Error::NotEnoughMemory.word(), 10);
    }
}
