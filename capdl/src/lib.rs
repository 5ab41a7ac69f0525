//! capDL for Cerne: seL4's capability distribution language, AArch64 non-MCS
//! subset (docs/design.md §6, docs/capdl.md).
//!
//! With the default `std` feature the crate holds the whole text tool chain:
//! the [`model`] of a spec, the [`parser`] for seL4's capDL text syntax, the
//! [`printer`] that writes a model back as text, the [`mod@validate`] checks, and
//! the [`mod@encode`] step that packs a validated spec into the compact binary
//! form. Without `std` the crate is `no_std` with no allocator and holds only
//! [`compact`]: the record layouts of that binary form and a reader that
//! walks objects, caps, mappings and IRQs straight out of a byte slice. The
//! root task embeds the bytes and reads them with that reader.
//!
//! Every error of the text tools is a [`Diagnostic`]: `file:line:col: what
//! was expected, and what was found` for the parser, `file:line:col: what is
//! wrong` for the validator.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]

pub mod bundle;
pub mod compact;
pub mod plan;

#[cfg(feature = "std")]
pub mod diagnostic;
#[cfg(feature = "std")]
pub mod encode;
#[cfg(feature = "std")]
mod lexer;
#[cfg(feature = "std")]
pub mod model;
#[cfg(feature = "std")]
pub mod parser;
#[cfg(feature = "std")]
pub mod printer;
#[cfg(feature = "std")]
pub mod validate;

#[cfg(feature = "std")]
pub use diagnostic::Diagnostic;
#[cfg(feature = "std")]
pub use encode::{decode, encode};
#[cfg(feature = "std")]
pub use model::Spec;
#[cfg(feature = "std")]
pub use parser::parse;
#[cfg(feature = "std")]
pub use printer::print;
#[cfg(feature = "std")]
pub use validate::{validate, Limits};

/// The highest IRQ number of this platform (qemu-arm-virt, GICv2: maxIRQ 159,
/// docs/sel4-abi.md §1). `cerne-abi` does not carry it because it is a platform
/// fact rather than an ABI one; [`validate::Limits`] lets a tool use another.
pub const MAX_IRQ: u64 = 159;

/// The kernel's own timer interrupt on this platform (the EL1 virtual
/// timer PPI), which IRQControl_Get refuses as seL4 refuses its timer IRQ:
/// a spec may not map it.
pub const KERNEL_TIMER_IRQ: u64 = 27;

/// Parses, then validates: the usual entry point for a `.cdl` file.
#[cfg(feature = "std")]
pub fn parse_and_validate(file: &str, text: &str) -> Result<Spec, Vec<Diagnostic>> {
    let spec = parse(file, text).map_err(|d| vec![d])?;
    validate(&spec, file, &Limits::default())?;
    Ok(spec)
}
