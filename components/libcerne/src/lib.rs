//! The user-level runtime every Cerne program links: entry and stack
//! (`start`), seL4 system calls (`syscalls`), the debug console (`debug`),
//! BootInfo access for root tasks (`bootinfo`), and the complete seL4 user
//! API — every syscall and invocation, typed caps, the IPC buffer — in
//! `sel4` (aarch64 only).
//!
//! A program defines `#[unsafe(no_mangle)] fn cerne_main(arg: usize, bench: u64) -> !`... see
//! [`entry!`].
#![no_std]

/// Declares the plain-data request and reply types of a protocol (files,
/// procs, policy): `#[repr(C)]` structs with the zerocopy derives the
/// interface mechanism views as message words. One definition for every
/// protocol of this crate.
macro_rules! wire {
    ($($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $field:ident : $ty:ty),* $(,)? })*) => {
        $(
            $(#[$m])*
            #[derive(
                Clone, Copy, Debug, Default, PartialEq, Eq,
                zerocopy::FromBytes, zerocopy::IntoBytes, zerocopy::Immutable, zerocopy::KnownLayout,
            )]
            #[repr(C)]
            pub struct $name { $($(#[$fm])* pub $field: $ty),* }
        )*
    };
}

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
pub mod supervision;
pub mod supervisor;
pub mod syscalls;
pub mod time;

pub use cerne_abi as abi;
