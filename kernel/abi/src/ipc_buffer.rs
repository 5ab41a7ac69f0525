//! The 1024-byte IPC buffer (docs/sel4-abi.md §3.3).

use crate::{CPtr, Word};
use static_assertions::{const_assert, const_assert_eq};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// log2 of the IPC buffer size; the buffer must be aligned to its size.
pub const IPC_BUFFER_SIZE_BITS: u32 = 10;
/// Size of the IPC buffer in bytes.
pub const IPC_BUFFER_SIZE: usize = 1 << IPC_BUFFER_SIZE_BITS;

/// seL4_IPCBuffer, exactly as libsel4 lays it out.
#[derive(Clone, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C, align(1024))]
pub struct IpcBuffer {
    /// Copy of the MessageInfo (the kernel does not read it).
    pub tag: Word,
    /// Message registers MR0..MR119; MRi at byte 8·(i+1).
    pub msg: [Word; crate::message::MSG_MAX_LENGTH],
    /// Free for user data; the kernel never touches it.
    pub user_data: Word,
    /// Outgoing extra-cap cptrs, or incoming unwrapped badges.
    pub caps_or_badges: [Word; crate::message::MSG_MAX_EXTRA_CAPS],
    /// CNode in which a received cap lands (resolved at depth 64).
    pub receive_cnode: CPtr,
    /// Slot index relative to `receive_cnode`.
    pub receive_index: CPtr,
    /// Depth at which `receive_index` is resolved (1..=64).
    pub receive_depth: Word,
}

const_assert_eq!(core::mem::size_of::<IpcBuffer>(), IPC_BUFFER_SIZE);
const_assert_eq!(core::mem::align_of::<IpcBuffer>(), IPC_BUFFER_SIZE);
const_assert_eq!(core::mem::offset_of!(IpcBuffer, tag), 0);
const_assert_eq!(core::mem::offset_of!(IpcBuffer, msg), 8);
const_assert_eq!(core::mem::offset_of!(IpcBuffer, user_data), 968);
const_assert_eq!(core::mem::offset_of!(IpcBuffer, caps_or_badges), 976);
const_assert_eq!(core::mem::offset_of!(IpcBuffer, receive_cnode), 1000);
const_assert_eq!(core::mem::offset_of!(IpcBuffer, receive_index), 1008);
const_assert_eq!(core::mem::offset_of!(IpcBuffer, receive_depth), 1016);
const_assert!(IPC_BUFFER_SIZE <= 4096);

/// Word index of message register `i` inside the buffer (MRi is word i+1).
pub const fn msg_word_index(i: usize) -> usize {
    i + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::FromZeros;

    #[test]
    fn message_register_byte_offsets() {
        let mut buf = IpcBuffer::new_zeroed();
        buf.msg[4] = 0x1122_3344_5566_7788;
        buf.receive_depth = 64;
        let bytes = buf.as_bytes();
        assert_eq!(&bytes[40..48], &0x1122_3344_5566_7788u64.to_le_bytes());
        assert_eq!(&bytes[1016..1024], &64u64.to_le_bytes());
        assert_eq!(msg_word_index(119) * 8, 960);
    }
}
