//! Initial slots of the root task's CNode (docs/sel4-abi.md §8.5).

/// Always null.
pub const CAP_NULL: usize = 0;
/// The root task's TCB.
pub const CAP_INIT_THREAD_TCB: usize = 1;
/// The root CNode itself (guard size 64 − radix).
pub const CAP_INIT_THREAD_CNODE: usize = 2;
/// The root task's VSpace (ASID 1).
pub const CAP_INIT_THREAD_VSPACE: usize = 3;
/// IRQControl.
pub const CAP_IRQ_CONTROL: usize = 4;
/// ASIDControl.
pub const CAP_ASID_CONTROL: usize = 5;
/// ASID pool 0.
pub const CAP_INIT_THREAD_ASID_POOL: usize = 6;
/// Null on this platform (x86 only).
pub const CAP_IO_PORT_CONTROL: usize = 7;
/// Null on this platform (no IOMMU).
pub const CAP_IO_SPACE: usize = 8;
/// The BootInfo frame, mapped.
pub const CAP_BOOT_INFO_FRAME: usize = 9;
/// The root task's IPC buffer frame, mapped.
pub const CAP_INIT_THREAD_IPC_BUFFER: usize = 10;
/// DomainSet.
pub const CAP_DOMAIN: usize = 11;
/// Null (no SMMU).
pub const CAP_SMMU_SID_CONTROL: usize = 12;
/// Null (no SMMU).
pub const CAP_SMMU_CB_CONTROL: usize = 13;
/// Null (non-MCS).
pub const CAP_INIT_THREAD_SC: usize = 14;
/// Null (SMC calls disabled).
pub const CAP_SMC: usize = 15;
/// First slot the kernel fills dynamically at boot.
pub const NUM_INITIAL_CAPS: usize = 16;

/// Default log2 of the root CNode's slot count (ROOT_CNODE_SIZE_BITS).
pub const DEFAULT_ROOT_CNODE_SIZE_BITS: usize = 12;

/// What each initial slot holds in this configuration (docs/sel4-abi.md §8.5),
/// as the cap type tag DebugCapIdentify returns.
pub const INITIAL_CAP_TAGS: [(usize, crate::object::CapTag); NUM_INITIAL_CAPS] = {
    use crate::object::CapTag;
    [
        (CAP_NULL, CapTag::Null),
        (CAP_INIT_THREAD_TCB, CapTag::Thread),
        (CAP_INIT_THREAD_CNODE, CapTag::CNode),
        (CAP_INIT_THREAD_VSPACE, CapTag::VSpace),
        (CAP_IRQ_CONTROL, CapTag::IrqControl),
        (CAP_ASID_CONTROL, CapTag::AsidControl),
        (CAP_INIT_THREAD_ASID_POOL, CapTag::AsidPool),
        (CAP_IO_PORT_CONTROL, CapTag::Null),
        (CAP_IO_SPACE, CapTag::Null),
        (CAP_BOOT_INFO_FRAME, CapTag::Frame),
        (CAP_INIT_THREAD_IPC_BUFFER, CapTag::Frame),
        (CAP_DOMAIN, CapTag::Domain),
        (CAP_SMMU_SID_CONTROL, CapTag::Null),
        (CAP_SMMU_CB_CONTROL, CapTag::Null),
        (CAP_INIT_THREAD_SC, CapTag::Null),
        (CAP_SMC, CapTag::Null),
    ]
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_cap_table_is_in_slot_order() {
        for (i, (slot, _)) in INITIAL_CAP_TAGS.iter().enumerate() {
            assert_eq!(*slot, i);
        }
    }
}
