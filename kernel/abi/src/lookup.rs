//! Lookup-failure encoding (docs/sel4-abi.md §6.2, §8.1): the type word and the
//! words that follow it in a FailedLookup error or a CapFault message.

use crate::Word;

/// Type word of InvalidRoot (no further words).
pub const LOOKUP_INVALID_ROOT: Word = 1;
/// Type word of MissingCapability (then bitsLeft).
pub const LOOKUP_MISSING_CAPABILITY: Word = 2;
/// Type word of DepthMismatch (then bitsLeft, bitsFound).
pub const LOOKUP_DEPTH_MISMATCH: Word = 3;
/// Type word of GuardMismatch (then bitsLeft, guardFound, bitsFound).
pub const LOOKUP_GUARD_MISMATCH: Word = 4;

/// First message register of the lookup failure inside a FailedLookup error.
pub const FAILED_LOOKUP_MR_OFFSET: usize = 1;
/// First message register of the lookup failure inside a CapFault message.
pub const CAP_FAULT_LOOKUP_MR_OFFSET: usize = 3;

/// Bits of the CNode guard-size field in cap data (seL4_GuardSizeBits).
pub const GUARD_SIZE_BITS: u32 = 6;
/// Bits of the CNode guard field in cap data (seL4_GuardBits).
pub const GUARD_BITS: u32 = 58;
/// Bits of a badge (seL4_BadgeBits).
pub const BADGE_BITS: u32 = 64;
/// Depth at which invocation cptrs and extra caps are resolved.
pub const WORD_BITS: Word = 64;

/// A lookup failure, as the kernel reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LookupFailure {
    /// The root of the lookup is not a CNode cap.
    InvalidRoot,
    /// No cap at the resolved slot (or a non-CNode cap with bits left).
    MissingCapability {
        /// Bits of the cptr not yet resolved.
        bits_left: Word,
    },
    /// The remaining bits do not fit the CNode's guard and radix.
    DepthMismatch {
        /// Bits of the cptr not yet resolved.
        bits_left: Word,
        /// Guard size + radix of the CNode, or 0 for an early stop.
        bits_found: Word,
    },
    /// The guard of a CNode does not match the cptr.
    GuardMismatch {
        /// Bits of the cptr not yet resolved.
        bits_left: Word,
        /// The CNode's guard.
        guard_found: Word,
        /// The CNode's guard size.
        bits_found: Word,
    },
}

impl LookupFailure {
    /// Number of words in the encoding (type word included).
    pub const fn len(&self) -> usize {
        match self {
            Self::InvalidRoot => 1,
            Self::MissingCapability { .. } => 2,
            Self::DepthMismatch { .. } => 3,
            Self::GuardMismatch { .. } => 4,
        }
    }

    /// Never empty; present for clippy's `len_without_is_empty`.
    pub const fn is_empty(&self) -> bool {
        false
    }

    /// The encoding: type word then its operands; unused words are 0.
    pub const fn words(&self) -> [Word; 4] {
        match *self {
            Self::InvalidRoot => [LOOKUP_INVALID_ROOT, 0, 0, 0],
            Self::MissingCapability { bits_left } => [LOOKUP_MISSING_CAPABILITY, bits_left, 0, 0],
            Self::DepthMismatch {
                bits_left,
                bits_found,
            } => [LOOKUP_DEPTH_MISMATCH, bits_left, bits_found, 0],
            Self::GuardMismatch {
                bits_left,
                guard_found,
                bits_found,
            } => [LOOKUP_GUARD_MISMATCH, bits_left, guard_found, bits_found],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(LookupFailure::InvalidRoot.words()[..1], [1]);
        let g = LookupFailure::GuardMismatch {
            bits_left: 64,
            guard_found: 3,
            bits_found: 2,
        };
        assert_eq!(g.words(), [4, 64, 3, 2]);
        assert_eq!(g.len(), 4);
        let d = LookupFailure::DepthMismatch {
            bits_left: 5,
            bits_found: 0,
        };
        assert_eq!(d.words(), [3, 5, 0, 0]);
        assert_eq!(d.len(), 3);
        assert_eq!(LookupFailure::MissingCapability { bits_left: 7 }.len(), 2);
    }
}
