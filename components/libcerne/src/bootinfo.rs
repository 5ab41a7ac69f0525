//! The root task's view of BootInfo (docs/sel4-abi.md §8.7): typed access and
//! summaries of the untyped list.

use cerne_abi::bootinfo::{BootInfo, UntypedDesc};

/// Counts and bytes of a set of untypeds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UntypedTotals {
    /// Number of untyped caps.
    pub caps: u64,
    /// Bytes they cover.
    pub bytes: u128,
}

/// The untyped list broken down by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UntypedSummary {
    /// All untypeds.
    pub all: UntypedTotals,
    /// Device untypeds.
    pub device: UntypedTotals,
    /// RAM untypeds.
    pub ram: UntypedTotals,
}

/// The descriptors BootInfo lists (as many as `untyped` says, at most 230).
pub fn untypeds(bi: &BootInfo) -> &[UntypedDesc] {
    let n = (bi.untyped.len() as usize).min(bi.untyped_list.len());
    &bi.untyped_list[..n]
}

/// Sums the untyped list.
pub fn summarise(bi: &BootInfo) -> UntypedSummary {
    let mut s = UntypedSummary::default();
    for u in untypeds(bi) {
        let bytes = 1u128 << u.size_bits.min(127);
        let kind = if u.is_device != 0 {
            &mut s.device
        } else {
            &mut s.ram
        };
        kind.caps += 1;
        kind.bytes += bytes;
        s.all.caps += 1;
        s.all.bytes += bytes;
    }
    s
}

/// The BootInfo the kernel passed in x0.
///
/// # Safety
/// `addr` must be the BootInfo address a root task received at entry.
pub unsafe fn from_entry_arg(addr: usize) -> &'static BootInfo {
    // SAFETY: the kernel maps a BootInfo frame there for the task's life.
    unsafe { &*(addr as *const BootInfo) }
}
