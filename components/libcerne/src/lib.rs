//! The user-level runtime every Cerne program links: entry and stack
//! (`start`), seL4 system calls (`syscalls`), the debug console (`debug`),
//! BootInfo access for root tasks (`bootinfo`), and the complete seL4 user
//! API — every syscall and invocation, typed caps, the IPC buffer — in
//! `sel4` (aarch64 only).
//!
//! A program defines `#[unsafe(no_mangle)] fn cerne_main(arg: usize, bench: u64) -> !`... see
//! [`entry!`].
#![no_std]

pub mod blk;
pub mod bootinfo;
pub mod console;
pub mod debug;
pub mod files;
pub mod generic_timer;
#[cfg(feature = "heap")]
pub mod heap;
pub mod interface;
pub mod pmu;
pub mod policy;
pub mod process;
pub mod procs;
pub mod program;
pub mod ring;
#[cfg(target_arch = "aarch64")]
pub mod sel4;
pub mod start;
pub mod syscalls;
pub mod time;

pub use cerne_abi as abi;
