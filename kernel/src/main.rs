//! Cerne: a capability-based microkernel for AArch64 implementing seL4's
//! user ABI. This crate is the kernel binary: the arch layer, boot, trap and
//! syscall dispatch, built on the object model in `cerne_objects`.
#![no_std]
#![no_main]

mod arch;
mod boot;
mod config;
mod console;
mod debug;
mod events;
mod fpu;
mod irq;
mod panic;
mod rootserver;
mod sched;
mod trap;
