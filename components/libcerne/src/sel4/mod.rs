//! The seL4 user API, as libsel4 offers it for AArch64 non-MCS:
//!
//! * [`syscall`]: the raw system calls on seL4's register convention;
//! * [`ipc_buffer`]: the thread's IPC buffer (MR4+, extra caps, receive
//!   slot), found through the TLS register;
//! * [`ipc`]: messages of any length and the generic invocation, with
//!   errors as [`error::InvocationError`];
//! * [`cap`]: typed capability pointers; [`objects`]: every invocation of
//!   docs/sel4-abi.md §5 as methods of the cap type it belongs to;
//! * [`benchmark`]: seL4's thread-utilisation (CPU-time) calls.

pub mod benchmark;
pub mod cap;
pub mod error;
pub mod ipc;
pub mod ipc_buffer;
pub mod objects;
pub mod syscall;

pub use cap::*;
pub use error::{InvocationError, Result};
pub use ipc::Message;
pub use objects::UserContext;
