//! Cerne system descriptions (docs/design.md §6, docs/systems.md): a TOML file
//! names components, the channels, notifications and shared memory between
//! them, and the devices and IRQs they drive. This crate
//!
//! - reads it ([`parse()`], [`load()`]) into a [`System`], checking the schema
//!   and every cross-reference, with each problem a [`Diagnostic`]
//!   `file:line:col: message`;
//! - expands it to a capDL [`capdl::Spec`] that the root task's initializer
//!   builds ([`expand()`]), with the programs' ELF images as frame fills;
//! - generates each component's `caps` / `addrs` / `badges` constants
//!   ([`caps_module()`]) for its build.rs to `include!`;
//! - generates the supervisor's table of the components it restarts
//!   ([`supervisor_module()`]);
//! - draws the authority graph ([`dot()`], [`svg()`]).
#![forbid(unsafe_code)]

pub mod caps;
pub mod check;
pub mod elf;
pub mod expand;
pub mod graph;
pub mod layout;
pub mod model;
pub mod parse;
pub mod supervised;

pub use capdl::Diagnostic;
pub use caps::caps_module;
pub use expand::{expand, Expanded};
pub use graph::{dot, svg};
pub use model::System;
pub use parse::{load, parse};
pub use supervised::supervisor_module;
