//! Thread control blocks: thread states, field and register access, and the
//! TCB's own slots (CTable, VTable, Reply, Caller, Buffer).
#![forbid(unsafe_code)]

use crate::cap::Cap;
use crate::layout::*;
use crate::mem::{Obj, PhysMem};
use crate::Kernel;
use cerne_abi::fault::INITIAL_SPSR;
use cerne_abi::object::TCB_BITS;
use core::mem::offset_of;

/// seL4 thread states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ThreadState {
    /// Not runnable; after creation, Suspend or an unhandled fault.
    Inactive = 0,
    /// Runnable.
    Running = 1,
    /// Runnable; re-executes its syscall / instruction at FaultIP.
    Restart = 2,
    /// Blocked in Recv on an endpoint.
    BlockedOnReceive = 3,
    /// Blocked in Send/Call on an endpoint.
    BlockedOnSend = 4,
    /// Waiting for a reply after Call or a fault.
    BlockedOnReply = 5,
    /// Blocked in Recv on a notification.
    BlockedOnNotification = 6,
}

impl ThreadState {
    /// Decodes a stored code (unknown codes read as Inactive).
    pub fn from_code(c: u64) -> Self {
        match c {
            1 => Self::Running,
            2 => Self::Restart,
            3 => Self::BlockedOnReceive,
            4 => Self::BlockedOnSend,
            5 => Self::BlockedOnReply,
            6 => Self::BlockedOnNotification,
            _ => Self::Inactive,
        }
    }
    /// True for the states the scheduler may run.
    pub fn is_runnable(self) -> bool {
        matches!(self, Self::Running | Self::Restart)
    }
    /// True for Inactive and every blocked state (what Resume acts on).
    pub fn is_stopped(self) -> bool {
        matches!(
            self,
            Self::Inactive
                | Self::BlockedOnReceive
                | Self::BlockedOnSend
                | Self::BlockedOnReply
                | Self::BlockedOnNotification
        )
    }
}

/// Blocked-IPC flag: sender's cap has Grant.
pub const BLOCK_CAN_GRANT: u64 = 1;
/// Blocked-IPC flag: sender's cap has GrantReply.
pub const BLOCK_CAN_GRANT_REPLY: u64 = 2;
/// Blocked-IPC flag: the send is a Call.
pub const BLOCK_IS_CALL: u64 = 4;

/// Address of slot `idx` (TCB_CTABLE..TCB_BUFFER) inside the TCB at `tcb`.
pub const fn tcb_slot(tcb: u64, idx: u64) -> u64 {
    tcb + TCB_SLOTS_OFFSET + idx * SLOT_SIZE as u64
}

/// One word of [`TcbFields`], named by its offset, for field-level access:
/// the hot paths read and write the words they need instead of copying the
/// whole 200-byte structure in and out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field(u64);

impl Field {
    const fn at(offset_in_fields: usize) -> Self {
        Self(TCB_FIELDS_OFFSET + offset_in_fields as u64)
    }
    /// [`TcbFields::state`].
    pub const STATE: Self = Self::at(offset_of!(TcbFields, state));
    /// [`TcbFields::blocking_object`].
    pub const BLOCKING_OBJECT: Self = Self::at(offset_of!(TcbFields, blocking_object));
    /// [`TcbFields::blocking_flags`].
    pub const BLOCKING_FLAGS: Self = Self::at(offset_of!(TcbFields, blocking_flags));
    /// [`TcbFields::blocking_badge`].
    pub const BLOCKING_BADGE: Self = Self::at(offset_of!(TcbFields, blocking_badge));
    /// [`TcbFields::fault_ip`].
    pub const FAULT_IP: Self = Self::at(offset_of!(TcbFields, fault_ip));
    /// [`TcbFields::fault_handler`].
    pub const FAULT_HANDLER: Self = Self::at(offset_of!(TcbFields, fault_handler));
    /// [`TcbFields::ipc_buffer`].
    pub const IPC_BUFFER: Self = Self::at(offset_of!(TcbFields, ipc_buffer));
    /// [`TcbFields::priority`].
    pub const PRIORITY: Self = Self::at(offset_of!(TcbFields, priority));
    /// [`TcbFields::domain`].
    pub const DOMAIN: Self = Self::at(offset_of!(TcbFields, domain));
    /// [`TcbFields::time_slice`].
    pub const TIME_SLICE: Self = Self::at(offset_of!(TcbFields, time_slice));
    /// [`TcbFields::sched_next`].
    pub const SCHED_NEXT: Self = Self::at(offset_of!(TcbFields, sched_next));
    /// [`TcbFields::sched_prev`].
    pub const SCHED_PREV: Self = Self::at(offset_of!(TcbFields, sched_prev));
    /// [`TcbFields::queued`].
    pub const QUEUED: Self = Self::at(offset_of!(TcbFields, queued));
    /// [`TcbFields::ep_next`].
    pub const EP_NEXT: Self = Self::at(offset_of!(TcbFields, ep_next));
    /// [`TcbFields::ep_prev`].
    pub const EP_PREV: Self = Self::at(offset_of!(TcbFields, ep_prev));
    /// [`TcbFields::bound_notification`].
    pub const BOUND_NOTIFICATION: Self = Self::at(offset_of!(TcbFields, bound_notification));
    /// [`TcbFields::flags`].
    pub const FLAGS: Self = Self::at(offset_of!(TcbFields, flags));
    /// [`TcbFields::fault`]'s first word, the fault type (0 = none).
    pub const FAULT_TYPE: Self = Self::at(offset_of!(TcbFields, fault));
}

impl Field {
    /// The field's value in the TCB behind `t`.
    #[inline(always)]
    pub fn of(self, t: &TcbObj<'_>) -> u64 {
        t.word(self.0)
    }
    /// Sets the field in the TCB behind `t`.
    #[inline(always)]
    pub fn set(self, t: &TcbObj<'_>, value: u64) {
        t.set_word(self.0, value);
    }
}

/// Bytes of a TCB object.
pub const TCB_BYTES: u64 = 1 << TCB_BITS;

/// A TCB's memory, checked once when the handle is made ([`obj`]); field
/// reads and writes through it need no further check.
pub type TcbObj<'m> = Obj<'m, TCB_BYTES>;

/// A handle on the TCB at `tcb` (checked: in range and aligned).
#[inline(always)]
pub fn obj<'m>(mem: &'m PhysMem<'_>, tcb: u64) -> TcbObj<'m> {
    mem.obj::<TCB_BYTES>(tcb)
}

/// Reads one field of the TCB at `tcb`.
#[inline]
pub fn get(mem: &PhysMem<'_>, tcb: u64, f: Field) -> u64 {
    f.of(&obj(mem, tcb))
}

/// Writes one field of the TCB at `tcb`.
#[inline]
pub fn set(mem: &PhysMem<'_>, tcb: u64, f: Field, value: u64) {
    f.set(&obj(mem, tcb), value);
}

/// The pending-fault words of the TCB at `tcb` ([`TcbFields::fault`]).
pub fn fault_words(mem: &PhysMem<'_>, tcb: u64) -> [u64; 7] {
    fault_words_of(&obj(mem, tcb))
}

/// The pending-fault words of the TCB behind `t`.
#[inline]
pub fn fault_words_of(t: &TcbObj<'_>) -> [u64; 7] {
    let at = TCB_FIELDS_OFFSET + offset_of!(TcbFields, fault) as u64;
    core::array::from_fn(|i| t.word(at + 8 * i as u64))
}

/// Reads a TCB's fields.
pub fn fields(mem: &PhysMem<'_>, tcb: u64) -> TcbFields {
    mem.read(tcb + TCB_FIELDS_OFFSET)
}

/// Writes a TCB's fields.
pub fn set_fields(mem: &PhysMem<'_>, tcb: u64, f: &TcbFields) {
    mem.write(tcb + TCB_FIELDS_OFFSET, f);
}

/// Read-modify-write of a TCB's fields.
pub fn update(mem: &PhysMem<'_>, tcb: u64, f: impl FnOnce(&mut TcbFields)) {
    let mut v = fields(mem, tcb);
    f(&mut v);
    set_fields(mem, tcb, &v);
}

/// A thread's saved registers.
pub fn context(mem: &PhysMem<'_>, tcb: u64) -> UserContext {
    mem.read(tcb + TCB_CONTEXT_OFFSET)
}

/// Overwrites a thread's saved registers.
pub fn set_context(mem: &PhysMem<'_>, tcb: u64, c: &UserContext) {
    mem.write(tcb + TCB_CONTEXT_OFFSET, c);
}

/// A thread's state.
pub fn state(mem: &PhysMem<'_>, tcb: u64) -> ThreadState {
    ThreadState::from_code(get(mem, tcb, Field::STATE))
}

/// Initialises the zeroed memory at `tcb` as a new thread (seL4's TCB
/// creation): Inactive, priority 0, MCP 0, the given domain, full time
/// slice, SPSR 0x40, no CSpace/VSpace/buffer/fault handler.
pub fn init(mem: &PhysMem<'_>, tcb: u64, domain: u64) {
    let c = UserContext {
        spsr_el1: INITIAL_SPSR,
        ..UserContext::default()
    };
    set_context(mem, tcb, &c);
    set_fields(
        mem,
        tcb,
        &TcbFields {
            domain,
            time_slice: crate::state::TIME_SLICE,
            ..TcbFields::default()
        },
    );
}

impl Kernel<'_> {
    /// A thread's state.
    pub fn thread_state(&self, tcb: u64) -> ThreadState {
        state(&self.mem, tcb)
    }

    /// A thread's fields (priority, MCP, IPC buffer, …).
    pub fn tcb_fields(&self, tcb: u64) -> TcbFields {
        fields(&self.mem, tcb)
    }

    /// A thread's TCB flags ([`TcbFields::flags`], bit 0 fpuDisabled),
    /// read as one word.
    pub fn tcb_flags(&self, tcb: u64) -> u64 {
        get(&self.mem, tcb, Field::FLAGS)
    }

    /// The thread whose FP/SIMD state the CPU's registers hold (0: none).
    pub fn fpu_owner(&self) -> u64 {
        self.state.fpu_owner
    }

    /// Records that the CPU's FP/SIMD registers now hold `tcb`'s state
    /// (the arch layer has saved the previous owner's and loaded `tcb`'s).
    pub fn set_fpu_owner(&mut self, tcb: u64) {
        self.state.fpu_owner = tcb;
    }

    /// The register save area of `tcb`, to read or change in place.
    pub fn user_context_mut(&mut self, tcb: u64) -> &mut UserContext {
        self.mem.user_context_mut(tcb)
    }

    /// Virtual address of the register save area of `tcb` (what the
    /// exception entry stores into).
    pub fn user_context_vaddr(&self, tcb: u64) -> usize {
        self.mem.virt_addr(tcb + TCB_CONTEXT_OFFSET)
    }

    /// The cap in one of the TCB's own slots.
    pub fn tcb_cap(&self, tcb: u64, idx: u64) -> Cap {
        crate::cdt::cap(&self.mem, tcb_slot(tcb, idx))
    }

    /// Sets the thread's name (truncated to 255 bytes, NUL-terminated).
    pub fn set_thread_name(&mut self, tcb: u64, name: &[u8]) {
        let mut buf = [0u8; TCB_NAME_LEN];
        let n = name.len().min(TCB_NAME_LEN - 1);
        buf[..n].copy_from_slice(&name[..n]);
        self.mem.write(tcb + TCB_NAME_OFFSET, &buf);
    }

    /// Copies the thread's name into `out`; returns its length.
    pub fn thread_name(&self, tcb: u64, out: &mut [u8]) -> usize {
        let buf: [u8; TCB_NAME_LEN] = self.mem.read(tcb + TCB_NAME_OFFSET);
        let n = buf.iter().position(|b| *b == 0).unwrap_or(TCB_NAME_LEN);
        let m = n.min(out.len());
        out[..m].copy_from_slice(&buf[..m]);
        m
    }
}
