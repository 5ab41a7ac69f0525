//! The victim's CSpace (which its partner thread shares) as each epoch
//! starts: one CNode of 2^6 slots whose
//! cap carries a 58-bit zero guard, so cptrs 0..63 name its slots at depth
//! 64 and anything larger fails the guard. Which cap sits in which slot,
//! and the object sizes the root task carves for the victim.

use cerne_abi::Word;

/// log2 of the victim CNode's slot count.
pub const CNODE_BITS: Word = 6;
/// Slots of the victim CNode.
pub const CNODE_SLOTS: Word = 1 << CNODE_BITS;
/// Guard size of the victim's CSpace root cap (guard value 0): radix plus
/// guard make a full 64-bit cptr.
pub const CNODE_GUARD_BITS: Word = 64 - CNODE_BITS;
/// The cap data that puts that guard on a CNode cap (docs/sel4-abi.md §8.2).
pub const CNODE_GUARD_DATA: Word = CNODE_GUARD_BITS;

/// The victim's own TCB (a copy of the root task's cap).
pub const TCB: Word = 1;
/// The victim's own CNode (minted with the guard above).
pub const CNODE: Word = 2;
/// A scratch VSpace with an ASID, not the one the victim runs in.
pub const VSPACE: Word = 3;
/// An endpoint with all rights.
pub const ENDPOINT: Word = 4;
/// A notification with all rights.
pub const NOTIFICATION: Word = 5;
/// A 4 KiB frame, unmapped.
pub const FRAME: Word = 6;
/// A small untyped the victim may retype.
pub const UNTYPED: Word = 7;
/// Its fault endpoint: the root task's endpoint, badged, Write+GrantReply.
pub const FAULT_EP: Word = 8;
/// A page table, unmapped (retyped straight into this slot: an unmapped
/// page table cap cannot be copied).
pub const PAGE_TABLE: Word = 9;
/// An ASID pool of its own (when the kernel could make one).
pub const ASID_POOL: Word = 10;
/// The endpoint again, badged.
pub const BADGED_ENDPOINT: Word = 11;
/// The partner thread's fault endpoint: the root task's endpoint with
/// another badge.
pub const PARTNER_FAULT_EP: Word = 12;
/// Two more page tables (with [`PAGE_TABLE`], enough to map a 4 KiB
/// frame into the scratch VSpace).
pub const MORE_PAGE_TABLES: Word = 13;
/// A small device untyped (unbacked physical addresses near the top of
/// the physical address space): device frames, and the rules that keep
/// them out of IPC buffers and away from other object types.
pub const DEVICE_UNTYPED: Word = 15;
/// First slot that starts empty.
pub const FIRST_FREE: Word = 16;

/// log2 of the victim's untyped size (64 KiB), and of its device untyped.
pub const UNTYPED_BITS: Word = 16;
/// Badge of the victim's fault endpoint cap: fault messages arrive with it.
pub const FAULT_BADGE: Word = 0xfa17;
/// Badge of the partner's fault endpoint cap.
pub const PARTNER_FAULT_BADGE: Word = 0xfa18;
/// Badge of [`BADGED_ENDPOINT`].
pub const ENDPOINT_BADGE: Word = 0xbad6e;

/// Priority of the victim: above the root task, so the root task runs only
/// when the victim cannot.
pub const VICTIM_PRIORITY: Word = 200;
/// Priority of the partner thread: below the victim, above the root task,
/// so it runs exactly when the victim is blocked.
pub const PARTNER_PRIORITY: Word = 150;
/// The victim's MCP: 0, so neither it nor any thread it makes can rise
/// above the root task.
pub const VICTIM_MCP: Word = 0;
/// Priority of the root task while fuzzing.
pub const ROOT_PRIORITY: Word = 100;
