//! The architecture layer. Cerne runs on AArch64 only; the indirection keeps
//! arch names out of the generic kernel code.

mod aarch64;
pub use aarch64::*;
