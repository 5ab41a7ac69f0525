//! The seL4 user-kernel ABI for AArch64, non-MCS, uniprocessor, kernel at EL1,
//! as Rust constants and `repr(C)` layouts.
//!
//! Every number here is an ABI fact from `docs/sel4-abi.md` (the seL4 commit it was
//! read from is named there). The kernel, the object model, user space and the
//! host tools all take their numbers from this crate, so a number is written
//! once. Layouts carry compile-time checks of their offsets against the ABI
//! tables.
#![no_std]
#![forbid(unsafe_code)]

pub mod benchmark;
pub mod bootinfo;
pub mod console;
pub mod error;
pub mod fault;
pub mod invocation;
pub mod ipc_buffer;
pub mod lookup;
pub mod message;
pub mod object;
pub mod rights;
pub mod slots;
pub mod syscall;
pub mod tcb;
pub mod vm;

/// A machine word: every register and message register is 64 bits.
pub type Word = u64;
/// A capability pointer, resolved through the caller's CSpace.
pub type CPtr = u64;
