//! seL4_BootInfo and the extra-bootinfo chunks (docs/sel4-abi.md §8.7–8.8).
//!
//! The kernel writes one [`BootInfo`] into the BootInfo frame; the root task
//! reads it at the address it receives in x0.

use crate::Word;
use static_assertions::const_assert_eq;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Most untyped descriptors BootInfo can list (MAX_NUM_BOOTINFO_UNTYPED_CAPS).
pub const MAX_BOOTINFO_UNTYPED_CAPS: usize = 230;
/// Size of the BootInfo frame.
pub const BOOTINFO_FRAME_SIZE: usize = 4096;

/// A half-open range of CNode slots, `[start, end)`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct SlotRegion {
    /// First slot.
    pub start: Word,
    /// One past the last slot.
    pub end: Word,
}

impl SlotRegion {
    /// Number of slots in the region.
    pub const fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
    /// True when the region holds no slot.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// seL4_UntypedDesc: one boot untyped.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct UntypedDesc {
    /// Physical base address (aligned to 2^size_bits).
    pub paddr: Word,
    /// log2 of the size in bytes.
    pub size_bits: u8,
    /// 1 for device memory (never zeroed; frames and untypeds only).
    pub is_device: u8,
    /// Zero.
    pub padding: [u8; 6],
}

/// seL4_BootInfo (non-MCS).
#[derive(Clone, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct BootInfo {
    /// Bytes of extra bootinfo following the BootInfo frame (0 if none).
    pub extra_len: Word,
    /// 0 on a uniprocessor.
    pub node_id: Word,
    /// 1 on a uniprocessor.
    pub num_nodes: Word,
    /// 0: no IOMMU.
    pub num_io_pt_levels: Word,
    /// Virtual address of the root task's IPC buffer.
    pub ipc_buffer: Word,
    /// Free slots of the root CNode.
    pub empty: SlotRegion,
    /// Always empty on a uniprocessor.
    pub shared_frames: SlotRegion,
    /// One frame cap per 4 KiB page of the root task image.
    pub user_image_frames: SlotRegion,
    /// Page-table caps covering the root task image.
    pub user_image_paging: SlotRegion,
    /// Always empty here.
    pub io_space_caps: SlotRegion,
    /// Frame caps backing the extra bootinfo.
    pub extra_bi_pages: SlotRegion,
    /// log2 of the root CNode's slot count.
    pub init_thread_cnode_size_bits: Word,
    /// Domain of the root task (0).
    pub init_thread_domain: Word,
    /// Untyped caps, described by `untyped_list`.
    pub untyped: SlotRegion,
    /// Entry k describes the untyped in slot `untyped.start + k`.
    pub untyped_list: [UntypedDesc; MAX_BOOTINFO_UNTYPED_CAPS],
}

const_assert_eq!(core::mem::size_of::<UntypedDesc>(), 16);
const_assert_eq!(core::mem::offset_of!(UntypedDesc, size_bits), 8);
const_assert_eq!(core::mem::offset_of!(UntypedDesc, is_device), 9);
const_assert_eq!(core::mem::size_of::<SlotRegion>(), 16);
const_assert_eq!(core::mem::offset_of!(BootInfo, extra_len), 0);
const_assert_eq!(core::mem::offset_of!(BootInfo, node_id), 8);
const_assert_eq!(core::mem::offset_of!(BootInfo, num_nodes), 16);
const_assert_eq!(core::mem::offset_of!(BootInfo, num_io_pt_levels), 24);
const_assert_eq!(core::mem::offset_of!(BootInfo, ipc_buffer), 32);
const_assert_eq!(core::mem::offset_of!(BootInfo, empty), 40);
const_assert_eq!(core::mem::offset_of!(BootInfo, shared_frames), 56);
const_assert_eq!(core::mem::offset_of!(BootInfo, user_image_frames), 72);
const_assert_eq!(core::mem::offset_of!(BootInfo, user_image_paging), 88);
const_assert_eq!(core::mem::offset_of!(BootInfo, io_space_caps), 104);
const_assert_eq!(core::mem::offset_of!(BootInfo, extra_bi_pages), 120);
const_assert_eq!(
    core::mem::offset_of!(BootInfo, init_thread_cnode_size_bits),
    136
);
const_assert_eq!(core::mem::offset_of!(BootInfo, init_thread_domain), 144);
const_assert_eq!(core::mem::offset_of!(BootInfo, untyped), 152);
const_assert_eq!(core::mem::offset_of!(BootInfo, untyped_list), 168);
const_assert_eq!(core::mem::size_of::<BootInfo>(), 3848);
static_assertions::const_assert!(core::mem::size_of::<BootInfo>() <= BOOTINFO_FRAME_SIZE);

/// Identifier of an extra-bootinfo chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum BootInfoHeaderId {
    /// Filler; skip it.
    Padding = 0,
    /// x86 only.
    X86Vbe = 1,
    /// x86 only.
    X86MbMmap = 2,
    /// x86 only.
    X86AcpiRsdp = 3,
    /// x86 only.
    X86Framebuffer = 4,
    /// x86 only.
    X86TscFreq = 5,
    /// The flattened device tree the loader passed.
    Fdt = 6,
}

/// Header of one extra-bootinfo chunk; `len` includes the header.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct BootInfoHeader {
    /// A [`BootInfoHeaderId`] value.
    pub id: Word,
    /// Bytes of the chunk, header included.
    pub len: Word,
}

const_assert_eq!(core::mem::size_of::<BootInfoHeader>(), 16);

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::FromZeros;

    #[test]
    fn untyped_list_entry_k_is_at_168_plus_16k() {
        let mut bi = BootInfo::new_zeroed();
        bi.untyped_list[3] = UntypedDesc {
            paddr: 0x4000_0000,
            size_bits: 30,
            is_device: 1,
            padding: [0; 6],
        };
        let bytes = bi.as_bytes();
        let at = 168 + 16 * 3;
        assert_eq!(&bytes[at..at + 8], &0x4000_0000u64.to_le_bytes());
        assert_eq!(bytes[at + 8], 30);
        assert_eq!(bytes[at + 9], 1);
    }

    #[test]
    fn slot_region_len() {
        assert_eq!(
            SlotRegion {
                start: 16,
                end: 4096
            }
            .len(),
            4080
        );
        assert!(SlotRegion { start: 5, end: 5 }.is_empty());
    }
}
