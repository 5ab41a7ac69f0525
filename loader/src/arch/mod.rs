//! Everything in the loader that touches the machine directly: the entry
//! point and the drop from EL2, exception vectors, system registers, caches
//! and the MMU, the PL011, PSCI, and raw physical memory. This is the only
//! module where `unsafe` is allowed; it offers safe interfaces whose checks
//! (address windows, take-once singletons) keep the rest of the loader safe.

pub mod cpu;
mod entry;
pub mod memory;
pub mod pl011;
pub mod psci;

pub use entry::entry_exception_level;
