//! The seL4 object model of Cerne: capabilities, CNodes and CSpace
//! addressing, the derivation tree, untyped retype, TCBs, endpoints,
//! notifications, IPC, reply caps and the scheduler's queues, with seL4's
//! semantics as `SEL4-ABI.md` gives them.
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
pub mod vspace;

#[cfg(test)]
mod tests;

pub use boot::BootThreadConfig;
pub use cap::Cap;
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
}

impl<'a> Kernel<'a> {
    /// Bundles memory and state for one kernel entry.
    pub fn new(mem: PhysMem<'a>, state: &'a mut KernelState) -> Self {
        Self { mem, state }
    }
}
