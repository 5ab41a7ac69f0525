//! The seL4 object model of Cerne: capabilities, CNodes and CSpace
//! addressing, the derivation tree, untyped retype, TCBs, endpoints,
//! notifications, IPC, reply caps and the scheduler's queues, with seL4's
//! semantics as `docs/sel4-abi.md` gives them.
//!
//! No heap, no assembly, no architecture code: everything builds and is
//! tested on the host, where physical memory is a simulated arena. Objects
//! live in physical memory and are named by physical address; raw memory
//! is touched only in [`mem`], the one module allowed `unsafe`.
//!
//! # Kernel-facing API (what the kernel binary calls)
//!
//! * Memory: [`PhysMem::kernel_window`] (const, from the window offset);
//!   host: [`PhysMem::from_words`].
//! * State: one static [`KernelState`] (`KernelState::new()` is const);
//!   per kernel entry the kernel makes a [`Kernel`] `{ mem, state }`.
//! * Registers: [`UserContext`] (layout fixed, offsets `UC_*`,
//!   [`layout::TCB_CONTEXT_OFFSET`]); [`Kernel::user_context_mut`],
//!   [`Kernel::user_context_vaddr`].
//! * Boot: [`Kernel::boot_init_irq_node`], [`Kernel::boot_create_cnode`],
//!   [`Kernel::boot_create_tcb`], [`Kernel::boot_create_vspace`],
//!   [`Kernel::boot_create_page_table`], [`Kernel::boot_create_asid_pool`],
//!   [`Kernel::boot_assign_asid`], [`Kernel::write_root_cap`],
//!   [`Kernel::write_child_cap`], [`Kernel::cnode_slot`], cap constructors
//!   ([`Cap::boot_untyped`], [`Cap::cnode`], [`Cap::thread`], [`Cap::vspace`],
//!   [`Cap::page_table`], [`Cap::frame`], [`Cap::asid_pool`], and the
//!   variants `Cap::AsidControl`, `Cap::IrqControl`, `Cap::Domain`),
//!   [`Kernel::boot_configure_tcb`], [`Kernel::set_thread_name`],
//!   [`Kernel::boot_start_thread`], [`Kernel::boot_ready_thread`].
//! * Running: [`Kernel::handle_syscall`] (the current thread's `svc`),
//!   [`Kernel::handle_user_fault`] (aborts and other exceptions),
//!   [`Kernel::handle_interrupt`], [`Kernel::timer_tick`], then
//!   [`Kernel::schedule_and_activate`] and [`Kernel::current_thread`];
//!   [`Kernel::suspend`] for a thread whose fault has no handler.
//! * Accounting: [`Kernel::start_utilisation`] at boot, then
//!   [`Kernel::begin_entry`] / [`Kernel::end_entry`] with the counter's
//!   value around every entry.
//! * Checking: the `invariants` feature (host only) adds
//!   [`invariants::check`].
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "invariants"))]
extern crate std;

pub mod boot;
pub mod cap;
pub mod cdt;
pub mod cnode;
pub mod control;
pub mod cspace;
pub mod delete;
pub mod effects;
pub mod error;
pub mod fastpath;
#[cfg(any(test, feature = "invariants"))]
pub mod hostboot;
#[cfg(any(test, feature = "invariants"))]
pub mod invariants;
pub mod ipc;
pub mod layout;
#[allow(unsafe_code)]
pub mod mem;
pub mod queue;
pub mod retype;
pub mod sched;
pub mod state;
pub mod syscall;
pub mod tcb;
pub mod tcb_inv;
pub mod threads;
pub mod utilisation;
pub mod vspace;

#[cfg(test)]
mod preemption_tests;
#[cfg(test)]
mod tests;

pub use boot::BootThreadConfig;
pub use cap::Cap;
pub use effects::{Event, TlbFlushes};
pub use error::{SysResult, SyscallError};
pub use ipc::Fault;
pub use layout::UserContext;
pub use mem::PhysMem;
pub use state::KernelState;
pub use tcb::ThreadState;

/// The object model at one kernel entry: physical memory plus the global
/// state. Every operation is a method of this type.
pub struct Kernel<'a> {
    /// Object memory.
    pub mem: PhysMem<'a>,
    /// Global kernel state.
    pub state: &'a mut KernelState,
    /// How long operations learn that an interrupt is waiting.
    preemption: Preemption,
}

/// Work units (a reset chunk, a deleted cap) between two looks at the
/// interrupt controller (seL4's MAX_NUM_WORK_UNITS_PER_PREEMPTION).
pub const WORK_UNITS_PER_PREEMPTION: u32 = 100;

/// Preemption of long operations (seL4's `preemptionPoint`): revoke and the
/// reset of an untyped stop when an interrupt is pending, with their
/// progress kept in the objects, and the invoking thread re-executes its
/// system call once the interrupt is handled, carrying on where it stopped.
#[derive(Clone, Copy, Debug, Default)]
struct Preemption {
    /// Asks the hardware whether an interrupt is pending.
    pending: Option<fn() -> bool>,
    /// Work done since the last look.
    units: u32,
    /// This entry's operation stopped for an interrupt.
    preempted: bool,
}

impl<'a> Kernel<'a> {
    /// Bundles memory and state for one kernel entry. Long operations run to
    /// the end unless [`Kernel::with_preemption`] says how to detect
    /// interrupts.
    pub fn new(mem: PhysMem<'a>, state: &'a mut KernelState) -> Self {
        Self {
            mem,
            state,
            preemption: Preemption::default(),
        }
    }

    /// Lets long operations stop when `pending()` says an interrupt waits.
    pub fn with_preemption(mut self, pending: fn() -> bool) -> Self {
        self.preemption.pending = Some(pending);
        self
    }

    /// True if this entry's operation stopped for an interrupt (the thread
    /// will re-execute its system call).
    pub fn was_preempted(&self) -> bool {
        self.preemption.preempted
    }

    /// Counts `units` of work; every [`WORK_UNITS_PER_PREEMPTION`] units,
    /// looks for a pending interrupt. True means: stop now, progress saved.
    pub(crate) fn preemption_point(&mut self, units: u32) -> bool {
        let p = &mut self.preemption;
        p.units += units;
        if p.units < WORK_UNITS_PER_PREEMPTION {
            return false;
        }
        p.units = 0;
        if p.pending.is_some_and(|pending| pending()) {
            p.preempted = true;
        }
        p.preempted
    }
}
