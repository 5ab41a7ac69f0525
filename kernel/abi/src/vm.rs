//! Virtual-memory ABI facts (docs/sel4-abi.md §9): attributes, frame VM rights,
//! ASID geometry and the user address limit.

use crate::rights::CapRights;
use crate::Word;

/// seL4_ARM_PageCacheable.
pub const PAGE_CACHEABLE: Word = 0x1;
/// seL4_ARM_ParityEnabled (ignored on AArch64).
pub const PARITY_ENABLED: Word = 0x2;
/// seL4_ARM_ExecuteNever.
pub const EXECUTE_NEVER: Word = 0x4;
/// seL4_ARM_Default_VMAttributes.
pub const DEFAULT_VM_ATTRIBUTES: Word = 0x3;

/// seL4_UserTop: last usable user byte.
pub const USER_TOP: Word = 0x0000_7FFF_FFFF_FFFF;

/// seL4_NumASIDPoolsBits.
pub const NUM_ASID_POOLS_BITS: u32 = 7;
/// seL4_ASIDPoolIndexBits.
pub const ASID_POOL_INDEX_BITS: u32 = 9;
/// Number of ASID pools.
pub const NUM_ASID_POOLS: usize = 1 << NUM_ASID_POOLS_BITS;
/// ASIDs per pool.
pub const ASID_POOL_SIZE: usize = 1 << ASID_POOL_INDEX_BITS;
/// The root task's ASID.
pub const INIT_THREAD_ASID: u16 = 1;

/// seL4_VSpaceIndexBits / seL4_PageTableIndexBits.
pub const PT_INDEX_BITS: u32 = 9;
/// seL4_PageTableEntryBits.
pub const PTE_BITS: u32 = 3;

/// The rights a frame cap carries (§9.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VmRights {
    /// No EL0 access (AP = 00).
    KernelOnly = 0,
    /// EL0 read-only (AP = 11).
    ReadOnly = 1,
    /// EL0 read/write (AP = 01).
    ReadWrite = 2,
}

impl VmRights {
    /// Effective rights when a cap with `self` is masked by `mask` (Map rights
    /// or Copy/Mint mask), per §9.4.
    pub const fn mask(self, mask: CapRights) -> Self {
        match self {
            Self::ReadWrite if mask.read() && mask.write() => Self::ReadWrite,
            Self::ReadWrite | Self::ReadOnly if mask.read() => Self::ReadOnly,
            _ => Self::KernelOnly,
        }
    }

    /// Decodes a 2-bit field; 3 reads as KernelOnly.
    pub const fn from_bits(b: Word) -> Self {
        match b & 3 {
            2 => Self::ReadWrite,
            1 => Self::ReadOnly,
            _ => Self::KernelOnly,
        }
    }

    /// The 2-bit field.
    pub const fn bits(self) -> Word {
        self as Word
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_masking() {
        use VmRights::*;
        assert_eq!(ReadWrite.mask(CapRights::ALL), ReadWrite);
        assert_eq!(ReadWrite.mask(CapRights::READ), ReadOnly);
        assert_eq!(ReadOnly.mask(CapRights::ALL), ReadOnly);
        assert_eq!(ReadWrite.mask(CapRights::WRITE), KernelOnly);
        assert_eq!(KernelOnly.mask(CapRights::ALL), KernelOnly);
        for v in [KernelOnly, ReadOnly, ReadWrite] {
            assert_eq!(VmRights::from_bits(v.bits()), v);
        }
    }
}
