//! The host-testable core of the Cerne shell (docs/shell.md): what the
//! shell program does between the console and the servers, without a
//! kernel.
//!
//! * [`editor`]: the [`LineEditor`], fed one typed byte at a time; it says
//!   what to echo and hands back the finished line on Enter.
//! * [`command`]: [`parse`] turns a line into a [`Command`] or a one-line
//!   [`Usage`] message; paths are made absolute ([`Path`]).
//! * [`threads`]: the lines of `threads`, from what the kernel's
//!   DebugThreadInfo says of each thread.
//! * [`fault_name`]: the name of an seL4 fault label, for
//!   `[pid N] fault <name> at <addr>`.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod command;
pub mod editor;
pub mod threads;

pub use command::{parse, Command, Path, Run, Usage, HELP};
pub use editor::{Echo, Fed, LineEditor, MAX_LINE};

use cerne_abi::fault::FaultType;

/// The name of the seL4 fault whose message label is `label` (docs/sel4-abi.md
/// §7.2), as the process manager reports it in a faulted process's
/// status; `"unknown"` for any other label.
pub fn fault_name(label: i64) -> &'static str {
    const NAMES: [(FaultType, &str); 4] = [
        (FaultType::CapFault, "CapFault"),
        (FaultType::UnknownSyscall, "UnknownSyscall"),
        (FaultType::UserException, "UserException"),
        (FaultType::VmFault, "VMFault"),
    ];
    NAMES
        .iter()
        .find(|(t, _)| i64::try_from(t.word()) == Ok(label))
        .map_or("unknown", |(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_names() {
        assert_eq!(fault_name(5), "VMFault");
        assert_eq!(fault_name(1), "CapFault");
        assert_eq!(fault_name(2), "UnknownSyscall");
        assert_eq!(fault_name(3), "UserException");
        assert_eq!(fault_name(0), "unknown");
        assert_eq!(fault_name(4), "unknown");
        assert_eq!(fault_name(-1), "unknown");
    }
}
