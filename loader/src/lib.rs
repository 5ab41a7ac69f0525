//! The loader's decisions, apart from the machine: what the device tree
//! says, what the ELF images contain, and where everything goes. No
//! hardware access and no `unsafe`, so all of it builds and is tested on the
//! host (`cargo test -p cerne-loader --lib`); the binary (`main.rs`) acts on
//! these decisions.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod dtb;
pub mod elf;
pub mod error;
pub mod layout;

#[cfg(test)]
mod test_support;
