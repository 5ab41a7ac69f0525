//! The host-testable core of Cerne's process manager, which spawns ELF
//! programs at run time out of untyped memory. Nothing here makes a system
//! call: these are the decisions, and the process manager carries them out.
//!
//! * [`elf`]: checking an ELF executable against the address-space layout
//!   and turning it into a [`LoadPlan`] of pages to map;
//! * [`buddy`]: which power-of-two block of the untyped pool each process
//!   gets, and the retype and revoke steps that make and unmake it;
//! * [`budget`]: how many untyped bytes a set of objects takes;
//! * [`policy`]: the priority policy the policy server applies.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod buddy;
pub mod budget;
pub mod elf;
pub mod policy;

pub use buddy::{Action, Block, Buddy, OutOfMemory};
pub use budget::bytes_for;
pub use elf::{plan, Limits, LoadError, LoadPlan, Page, Perms, Segment, PAGE_SIZE};
