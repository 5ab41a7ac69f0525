//! Pure, host-tested platform logic for the loader and the kernel: physical
//! ranges, the board as its device tree describes it, cutting free memory into
//! untyped blocks, and AArch64 translation-table descriptors.
//!
//! Nothing here touches hardware; the arch layers of the loader and the kernel
//! do that, and call into this crate for every decision they can hand off.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod elf;
pub mod memmap;
pub mod pagetable;
pub mod region;
pub mod untyped;
