//! Cerne's boot loader for QEMU's `virt` board (AArch64).
//!
//! QEMU loads this ELF and enters it at EL1 or EL2 with the MMU off. The
//! loader carries the kernel and root-task ELF images, places them as seL4's
//! elfloader does (kernel at its physical addresses from the start of RAM,
//! then the DTB, then the root task and a page of its program headers),
//! turns the MMU on with the kernel's 1 GiB slot mapped through TTBR1, and
//! enters the kernel with the elfloader's hand-off registers
//! (docs/sel4-abi.md §10). See docs/boot.md.
//!
//! The binary holds the machine-facing parts (entry, MMU, console, the
//! boot sequence); the pure decisions (device-tree reading, ELF parsing,
//! layout) are in the library, `cerne_loader`, which is host-tested. Only
//! [`arch`] may use `unsafe`.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

#[allow(unsafe_code)]
mod arch;
mod boot;
mod console;
mod images;
