//! Object types, their sizes and the capability type tags
//! (docs/sel4-abi.md §4.1, §8.6).

use crate::Word;

/// seL4_MinUntypedBits.
pub const MIN_UNTYPED_BITS: u32 = 4;
/// seL4_MaxUntypedBits.
pub const MAX_UNTYPED_BITS: u32 = 47;
/// seL4_SlotBits: a CNode slot is 32 bytes.
pub const SLOT_BITS: u32 = 5;
/// seL4_UntypedRetypeMaxObjects (RETYPE_FAN_OUT_LIMIT).
pub const UNTYPED_RETYPE_MAX_OBJECTS: Word = 256;
/// seL4_TCBBits.
pub const TCB_BITS: u32 = 11;
/// seL4_EndpointBits.
pub const ENDPOINT_BITS: u32 = 4;
/// seL4_NotificationBits.
pub const NOTIFICATION_BITS: u32 = 5;
/// seL4_VSpaceBits.
pub const VSPACE_BITS: u32 = 12;
/// seL4_PageTableBits.
pub const PAGE_TABLE_BITS: u32 = 12;
/// seL4_PageBits (small page).
pub const PAGE_BITS: u32 = 12;
/// seL4_LargePageBits.
pub const LARGE_PAGE_BITS: u32 = 21;
/// seL4_HugePageBits.
pub const HUGE_PAGE_BITS: u32 = 30;
/// seL4_ASIDPoolBits.
pub const ASID_POOL_BITS: u32 = 12;
/// Untyped free-index granularity in bytes (seL4_MinUntypedBits).
pub const UNTYPED_FREE_GRANULE: Word = 1 << MIN_UNTYPED_BITS;

/// The object type argument of Untyped_Retype.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u64)]
pub enum ObjectType {
    /// seL4_UntypedObject.
    Untyped = 0,
    /// seL4_TCBObject.
    Tcb = 1,
    /// seL4_EndpointObject.
    Endpoint = 2,
    /// seL4_NotificationObject.
    Notification = 3,
    /// seL4_CapTableObject (a CNode).
    CapTable = 4,
    /// seL4_ARM_HugePageObject (1 GiB frame).
    HugePage = 5,
    /// seL4_ARM_VSpaceObject (top-level table).
    VSpace = 6,
    /// seL4_ARM_SmallPageObject (4 KiB frame).
    SmallPage = 7,
    /// seL4_ARM_LargePageObject (2 MiB frame).
    LargePage = 8,
    /// seL4_ARM_PageTableObject.
    PageTable = 9,
}

/// seL4_ObjectTypeCount: first invalid type value.
pub const OBJECT_TYPE_COUNT: Word = 10;

impl ObjectType {
    /// Every type, in number order.
    pub const ALL: [ObjectType; 10] = [
        Self::Untyped,
        Self::Tcb,
        Self::Endpoint,
        Self::Notification,
        Self::CapTable,
        Self::HugePage,
        Self::VSpace,
        Self::SmallPage,
        Self::LargePage,
        Self::PageTable,
    ];

    /// Decodes the `type` argument; `None` for values ≥ seL4_ObjectTypeCount.
    pub const fn from_word(w: Word) -> Option<Self> {
        if w < OBJECT_TYPE_COUNT {
            Some(Self::ALL[w as usize])
        } else {
            None
        }
    }

    /// The word user space passes.
    pub const fn word(self) -> Word {
        self as Word
    }

    /// log2 of the object size; `user_size_bits` is only used by the
    /// variable-size types (Untyped, CapTable). May exceed 63 for a hostile
    /// `user_size_bits`, which is why it returns a `u64`.
    pub const fn size_bits(self, user_size_bits: Word) -> Word {
        match self {
            Self::Untyped => user_size_bits,
            Self::Tcb => TCB_BITS as Word,
            Self::Endpoint => ENDPOINT_BITS as Word,
            Self::Notification => NOTIFICATION_BITS as Word,
            Self::CapTable => user_size_bits.saturating_add(SLOT_BITS as Word),
            Self::HugePage => HUGE_PAGE_BITS as Word,
            Self::VSpace => VSPACE_BITS as Word,
            Self::SmallPage => PAGE_BITS as Word,
            Self::LargePage => LARGE_PAGE_BITS as Word,
            Self::PageTable => PAGE_TABLE_BITS as Word,
        }
    }

    /// True for the frame types (the only ones a device untyped may make,
    /// with Untyped).
    pub const fn is_frame(self) -> bool {
        matches!(self, Self::SmallPage | Self::LargePage | Self::HugePage)
    }
}

/// Capability type tags as DebugCapIdentify returns them (§8.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum CapTag {
    /// Null cap.
    Null = 0,
    /// Frame.
    Frame = 1,
    /// Untyped.
    Untyped = 2,
    /// Page table.
    PageTable = 3,
    /// Endpoint.
    Endpoint = 4,
    /// Notification.
    Notification = 6,
    /// Reply.
    Reply = 8,
    /// VSpace.
    VSpace = 9,
    /// CNode.
    CNode = 10,
    /// ASID control.
    AsidControl = 11,
    /// Thread (TCB).
    Thread = 12,
    /// ASID pool.
    AsidPool = 13,
    /// IRQ control.
    IrqControl = 14,
    /// IRQ handler.
    IrqHandler = 16,
    /// Zombie.
    Zombie = 18,
    /// Domain.
    Domain = 20,
    /// SGI signal.
    SgiSignal = 27,
}

impl CapTag {
    /// Every tag present in this configuration.
    pub const ALL: [CapTag; 17] = [
        Self::Null,
        Self::Frame,
        Self::Untyped,
        Self::PageTable,
        Self::Endpoint,
        Self::Notification,
        Self::Reply,
        Self::VSpace,
        Self::CNode,
        Self::AsidControl,
        Self::Thread,
        Self::AsidPool,
        Self::IrqControl,
        Self::IrqHandler,
        Self::Zombie,
        Self::Domain,
        Self::SgiSignal,
    ];

    /// The word DebugCapIdentify returns.
    pub const fn word(self) -> Word {
        self as Word
    }

    /// Decodes a tag word. (A search of [`CapTag::ALL`]: on the kernel's
    /// build it costs fewer instructions per cap read than a `match`, which
    /// was tried: ipc-bench's slow path 4,002 against 4,136.)
    pub fn from_word(w: Word) -> Option<Self> {
        Self::ALL.iter().copied().find(|t| t.word() == w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_sizes() {
        for (i, t) in ObjectType::ALL.iter().enumerate() {
            assert_eq!(ObjectType::from_word(i as u64), Some(*t));
        }
        assert_eq!(ObjectType::from_word(10), None);
        assert_eq!(ObjectType::from_word(u64::MAX), None);
        assert_eq!(ObjectType::Tcb.size_bits(99), 11);
        assert_eq!(ObjectType::CapTable.size_bits(3), 8);
        assert_eq!(ObjectType::CapTable.size_bits(u64::MAX), u64::MAX);
        assert_eq!(ObjectType::Untyped.size_bits(20), 20);
        assert!(ObjectType::LargePage.is_frame() && !ObjectType::VSpace.is_frame());
        assert_eq!(CapTag::from_word(27), Some(CapTag::SgiSignal));
        assert_eq!(CapTag::from_word(5), None);
    }
}
