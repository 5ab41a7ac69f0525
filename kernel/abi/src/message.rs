//! seL4_MessageInfo, the one-word message descriptor in x1 (docs/sel4-abi.md §3.1–3.2).

use crate::Word;

/// Most message words a message can carry.
pub const MSG_MAX_LENGTH: usize = 120;
/// Most extra caps a message can carry.
pub const MSG_MAX_EXTRA_CAPS: usize = 3;
/// Message registers passed in x2..x5.
pub const FAST_MESSAGE_REGISTERS: usize = 4;
/// Bits of the length field.
pub const MSG_LENGTH_BITS: u32 = 7;
/// Bits of the extraCaps field.
pub const MSG_EXTRA_CAP_BITS: u32 = 2;

/// `label:52 | capsUnwrapped:3 | extraCaps:2 | length:7`, as a typed word.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MessageInfo(Word);

impl MessageInfo {
    /// Encodes the four fields; each is truncated to its width.
    pub const fn new(label: u64, caps_unwrapped: u64, extra_caps: u64, length: u64) -> Self {
        Self(
            (label << 12)
                | ((caps_unwrapped & 0x7) << 9)
                | ((extra_caps & 0x3) << 7)
                | (length & 0x7f),
        )
    }
    /// Wraps a raw word as received in x1.
    pub const fn from_word(word: Word) -> Self {
        Self(word)
    }
    /// The raw word for x1.
    pub const fn word(self) -> Word {
        self.0
    }
    /// User label, invocation label, error code or fault type.
    pub const fn label(self) -> u64 {
        self.0 >> 12
    }
    /// Bit i set: extra cap i was unwrapped to a badge.
    pub const fn caps_unwrapped(self) -> u64 {
        (self.0 >> 9) & 0x7
    }
    /// Number of extra caps (0..=3).
    pub const fn extra_caps(self) -> u64 {
        (self.0 >> 7) & 0x3
    }
    /// Raw length field (0..=127).
    pub const fn length(self) -> u64 {
        self.0 & 0x7f
    }
    /// Length as the kernel uses it: values above 120 are clamped to 120.
    pub const fn clamped_length(self) -> usize {
        let l = self.length() as usize;
        if l > MSG_MAX_LENGTH {
            MSG_MAX_LENGTH
        } else {
            l
        }
    }
}

impl core::fmt::Debug for MessageInfo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MessageInfo")
            .field("label", &self.label())
            .field("caps_unwrapped", &self.caps_unwrapped())
            .field("extra_caps", &self.extra_caps())
            .field("length", &self.length())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_matches_abi_formula() {
        let info = MessageInfo::new(0xabc, 5, 3, 120);
        assert_eq!(info.word(), (0xabc << 12) | (5 << 9) | (3 << 7) | 120);
        assert_eq!(info.label(), 0xabc);
        assert_eq!(info.caps_unwrapped(), 5);
        assert_eq!(info.extra_caps(), 3);
        assert_eq!(info.length(), 120);
    }

    #[test]
    fn length_is_clamped_to_120() {
        assert_eq!(MessageInfo::new(0, 0, 0, 127).clamped_length(), 120);
        assert_eq!(MessageInfo::new(0, 0, 0, 7).clamped_length(), 7);
    }
}
