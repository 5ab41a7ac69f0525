//! The seL4_CapRights word (docs/sel4-abi.md §8.4): Write, Read, Grant, GrantReply.

use crate::Word;

/// seL4_CapRights as a word: bit0 Write, bit1 Read, bit2 Grant, bit3 GrantReply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct CapRights(u8);

impl CapRights {
    /// seL4_CanWrite.
    pub const WRITE: Self = Self(0x1);
    /// seL4_CanRead.
    pub const READ: Self = Self(0x2);
    /// seL4_CanGrant.
    pub const GRANT: Self = Self(0x4);
    /// seL4_CanGrantReply.
    pub const GRANT_REPLY: Self = Self(0x8);
    /// seL4_AllRights.
    pub const ALL: Self = Self(0xf);
    /// seL4_ReadWrite.
    pub const READ_WRITE: Self = Self(0x3);
    /// seL4_NoRights.
    pub const NONE: Self = Self(0);

    /// Takes the low four bits of a user word; higher bits are ignored.
    pub const fn from_word(w: Word) -> Self {
        Self((w & 0xf) as u8)
    }
    /// The word as user space passes it.
    pub const fn word(self) -> Word {
        self.0 as Word
    }
    /// Bitwise AND of two right sets.
    pub const fn intersect(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }
    /// True when every right of `other` is in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
    /// Write (send) right.
    pub const fn write(self) -> bool {
        self.0 & 1 != 0
    }
    /// Read (receive) right.
    pub const fn read(self) -> bool {
        self.0 & 2 != 0
    }
    /// Grant right.
    pub const fn grant(self) -> bool {
        self.0 & 4 != 0
    }
    /// GrantReply right.
    pub const fn grant_reply(self) -> bool {
        self.0 & 8 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits() {
        let r = CapRights::from_word(0xffff_fff6);
        assert_eq!(r.word(), 6);
        assert!(r.read() && r.grant() && !r.write() && !r.grant_reply());
        assert!(CapRights::ALL.contains(r));
        assert!(!r.contains(CapRights::ALL));
        assert_eq!(
            CapRights::ALL.intersect(CapRights::READ_WRITE),
            CapRights::READ_WRITE
        );
        assert!(CapRights::WRITE.write() && CapRights::GRANT_REPLY.grant_reply());
    }
}
