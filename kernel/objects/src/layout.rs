//! In-memory layouts of the kernel objects that hold state: the TCB (with the
//! register save area the exception entry writes), endpoints and
//! notifications, and CNode slots. Compile-time checks show each fits in
//! its object size (2^size_bits bytes, docs/sel4-abi.md §4.1).
#![forbid(unsafe_code)]

use cerne_abi::object::{ENDPOINT_BITS, NOTIFICATION_BITS, SLOT_BITS, TCB_BITS};
use core::mem::{offset_of, size_of};
use static_assertions::{const_assert, const_assert_eq};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// The register save area of a thread, written by the kernel's exception
/// entry and read back on exit. The layout is fixed: assembly uses the
/// offsets below.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct UserContext {
    /// x0..x30.
    pub x: [u64; 31],
    /// SP_EL0.
    pub sp_el0: u64,
    /// ELR_EL1: the address execution resumes at.
    pub elr_el1: u64,
    /// SPSR_EL1.
    pub spsr_el1: u64,
    /// TPIDR_EL0 (the TLS register).
    pub tpidr_el0: u64,
    /// TPIDRRO_EL0.
    pub tpidrro_el0: u64,
}

/// Offset of `x` in [`UserContext`].
pub const UC_X: usize = 0;
/// Offset of `sp_el0`.
pub const UC_SP_EL0: usize = 248;
/// Offset of `elr_el1`.
pub const UC_ELR_EL1: usize = 256;
/// Offset of `spsr_el1`.
pub const UC_SPSR_EL1: usize = 264;
/// Offset of `tpidr_el0`.
pub const UC_TPIDR_EL0: usize = 272;
/// Offset of `tpidrro_el0`.
pub const UC_TPIDRRO_EL0: usize = 280;
/// Size of [`UserContext`] (36 words).
pub const UC_SIZE: usize = 288;

const_assert_eq!(offset_of!(UserContext, x), UC_X);
const_assert_eq!(offset_of!(UserContext, sp_el0), UC_SP_EL0);
const_assert_eq!(offset_of!(UserContext, elr_el1), UC_ELR_EL1);
const_assert_eq!(offset_of!(UserContext, spsr_el1), UC_SPSR_EL1);
const_assert_eq!(offset_of!(UserContext, tpidr_el0), UC_TPIDR_EL0);
const_assert_eq!(offset_of!(UserContext, tpidrro_el0), UC_TPIDRRO_EL0);
const_assert_eq!(size_of::<UserContext>(), UC_SIZE);

/// Scheduling, IPC and fault state of a TCB (everything but the registers,
/// the TCB's own slots and its name).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct TcbFields {
    /// `ThreadState` code.
    pub state: u64,
    /// Endpoint or notification the thread is blocked on (0 = none).
    pub blocking_object: u64,
    /// Badge of the cap used for a blocked send.
    pub blocking_badge: u64,
    /// Blocked-IPC flags: bit0 can_grant, bit1 can_grant_reply, bit2 is_call.
    pub blocking_flags: u64,
    /// FaultIP: the restart PC (address of the `svc` for a syscall).
    pub fault_ip: u64,
    /// Fault handler cptr.
    pub fault_handler: u64,
    /// IPC buffer virtual address.
    pub ipc_buffer: u64,
    /// Priority (0..=255).
    pub priority: u64,
    /// Maximum controlled priority.
    pub mcp: u64,
    /// Scheduling domain.
    pub domain: u64,
    /// Remaining time slice in ticks.
    pub time_slice: u64,
    /// Next TCB in the ready queue (0 = none).
    pub sched_next: u64,
    /// Previous TCB in the ready queue (0 = none).
    pub sched_prev: u64,
    /// Non-zero while in a ready queue.
    pub queued: u64,
    /// Next TCB in an endpoint/notification queue.
    pub ep_next: u64,
    /// Previous TCB in an endpoint/notification queue.
    pub ep_prev: u64,
    /// Bound notification (0 = none).
    pub bound_notification: u64,
    /// TCB flags (bit 0 fpuDisabled).
    pub flags: u64,
    /// Pending fault: type word then up to six words (see `fault.rs`).
    pub fault: [u64; 7],
}

/// A thread's CPU-time accounting (seL4's `benchmark_util_t`, kept apart
/// from [`TcbFields`] so that the paths that never account pay nothing for
/// it). Times are counter ticks. The counters belong to reset generation
/// `epoch`: when the kernel's generation has moved on
/// (ResetAllThreadsUtilisation), they read as zero.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct UtilisationCounters {
    /// Reset generation the counters below belong to.
    pub epoch: u64,
    /// Counter value when the thread was last switched to.
    pub schedule_start: u64,
    /// Time scheduled, summed at each switch away from the thread.
    pub cpu_time: u64,
    /// Times the thread was switched to.
    pub schedules: u64,
    /// Time in the kernel on the thread's entries.
    pub kernel_time: u64,
    /// Kernel entries the thread made.
    pub kernel_entries: u64,
}

/// Offset of the register save area in a TCB.
pub const TCB_CONTEXT_OFFSET: u64 = 0;
/// Offset of [`TcbFields`] in a TCB.
pub const TCB_FIELDS_OFFSET: u64 = 512;
/// Offset of the two links of the kernel's list of every TCB (next, then
/// previous; `crate::threads`).
pub const TCB_DEBUG_LINKS_OFFSET: u64 = 944;
/// Offset of [`UtilisationCounters`] in a TCB.
pub const TCB_UTILISATION_OFFSET: u64 = 960;
/// Offset of the TCB's own slots (CTable, VTable, Reply, Caller, Buffer).
pub const TCB_SLOTS_OFFSET: u64 = 1024;
/// Number of slots inside a TCB.
pub const TCB_SLOT_COUNT: u64 = 5;
/// Offset of the thread name (NUL-terminated) in a TCB.
pub const TCB_NAME_OFFSET: u64 = 1280;
/// Bytes reserved for the thread name.
pub const TCB_NAME_LEN: usize = 256;

/// Slot index of the CSpace root inside a TCB.
pub const TCB_CTABLE: u64 = 0;
/// Slot index of the VSpace root inside a TCB.
pub const TCB_VTABLE: u64 = 1;
/// Slot index of the master reply cap inside a TCB.
pub const TCB_REPLY: u64 = 2;
/// Slot index of the caller (reply) cap inside a TCB.
pub const TCB_CALLER: u64 = 3;
/// Slot index of the IPC buffer frame cap inside a TCB.
pub const TCB_BUFFER: u64 = 4;

const_assert!(TCB_CONTEXT_OFFSET as usize + UC_SIZE <= TCB_FIELDS_OFFSET as usize);
const_assert!(
    TCB_FIELDS_OFFSET as usize + size_of::<TcbFields>() <= TCB_DEBUG_LINKS_OFFSET as usize
);
const_assert!(TCB_DEBUG_LINKS_OFFSET as usize + 16 <= TCB_UTILISATION_OFFSET as usize);
const_assert!(
    TCB_UTILISATION_OFFSET as usize + size_of::<UtilisationCounters>() <= TCB_SLOTS_OFFSET as usize
);
const_assert!(
    TCB_SLOTS_OFFSET as usize + (TCB_SLOT_COUNT as usize) * SLOT_SIZE <= TCB_NAME_OFFSET as usize
);
const_assert!(TCB_NAME_OFFSET as usize + TCB_NAME_LEN <= 1 << TCB_BITS);

/// One CNode slot: a two-word cap and two words of derivation-tree links.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct RawSlot {
    /// The capability's two words.
    pub cap: [u64; 2],
    /// Previous slot in the derivation list | bit 0 revocable.
    pub prev: u64,
    /// Next slot in the derivation list | bit 0 firstBadged.
    pub next: u64,
}

/// Size of a slot in bytes.
pub const SLOT_SIZE: usize = 1 << SLOT_BITS;
const_assert_eq!(size_of::<RawSlot>(), SLOT_SIZE);

/// An endpoint: queue head | state (bits 1..0), queue tail.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct RawEndpoint {
    /// First queued TCB | state (0 idle, 1 send, 2 receive).
    pub head_state: u64,
    /// Last queued TCB.
    pub tail: u64,
}
const_assert!(size_of::<RawEndpoint>() <= 1 << ENDPOINT_BITS);

/// A notification: queue head | state, tail, signal word, bound TCB.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct RawNotification {
    /// First waiting TCB | state (0 idle, 1 waiting, 2 active).
    pub head_state: u64,
    /// Last waiting TCB.
    pub tail: u64,
    /// Accumulated badge word (active state).
    pub msg: u64,
    /// Bound TCB (0 = none).
    pub bound_tcb: u64,
}
const_assert!(size_of::<RawNotification>() <= 1 << NOTIFICATION_BITS);

/// An ASID pool: 512 VSpace addresses (0 = free), one per ASID of the pool.
pub const ASID_POOL_ENTRY_BYTES: u64 = 8;
const_assert!(
    (cerne_abi::vm::ASID_POOL_SIZE as u64) * ASID_POOL_ENTRY_BYTES
        <= 1 << cerne_abi::object::ASID_POOL_BITS
);

/// Entries of a VSpace or page table (8 bytes each, 4 KiB objects).
pub const PT_ENTRIES: usize = 512;
const_assert!(PT_ENTRIES * 8 <= 1 << cerne_abi::object::PAGE_TABLE_BITS);
const_assert!(PT_ENTRIES * 8 <= 1 << cerne_abi::object::VSPACE_BITS);
