//! The process protocol between the process manager and its clients
//! (docs/processes.md), defined with [`crate::interface!`]. Paths,
//! arguments and process listings travel through the buffer each client
//! shares with the process manager (the `procs` channel's `buffer`; a
//! spawned process gets one with its session, at
//! [`crate::process::PROCS_BUFFER`]).
//!
//! | label | operation | request | reply |
//! |---|---|---|---|
//! | 1 | `spawn` | [`Spawn`]: program path and arguments (NUL-separated) in the buffer | [`Spawned`]: the new pid |
//! | 2 | `exit` | [`ExitCode`] | none: the caller is destroyed |
//! | 3 | `wait` | [`PidOnly`] | [`Status`]: how the process ended — the reply waits until it has |
//! | 4 | `kill` | [`PidOnly`] | [`Empty`] |
//! | 5 | `list` | [`List`]: where the [`ProcessRecord`]s go | [`Listed`] |
//! | 6 | `stats` | [`Empty`] | [`MemStats`]: the manager's untyped memory |

use zerocopy::FromBytes;

pub use crate::interface::BufRange;
use crate::interface::{ServerError, Word, FIRST_SERVER_CODE};

/// What the process manager refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcError {
    /// No file at the program's path (or the file server refused it).
    NoSuchProgram,
    /// The file is not an AArch64 executable this system can load: not an
    /// ELF, wrong class or machine, truncated, or segments that overlap,
    /// leave the user range, touch the stack or are writable and
    /// executable. The manager prints the exact reason on the console.
    BadProgram,
    /// Not enough untyped memory left for the process.
    OutOfMemory,
    /// Every process slot (or session) is in use.
    TooManyProcesses,
    /// No process with that pid (or it was already waited for).
    NoSuchProcess,
    /// Someone already waits for that process.
    AlreadyWaiting,
    /// The arguments do not fit in the arguments page, or are malformed.
    BadArguments,
    /// A range outside the caller's buffer, or a caller without one.
    BadBuffer,
    /// The file server failed while the program was read.
    Io,
}

const ALL: [ProcError; 9] = [
    ProcError::NoSuchProgram,
    ProcError::BadProgram,
    ProcError::OutOfMemory,
    ProcError::TooManyProcesses,
    ProcError::NoSuchProcess,
    ProcError::AlreadyWaiting,
    ProcError::BadArguments,
    ProcError::BadBuffer,
    ProcError::Io,
];

impl ProcError {
    /// A short name for messages.
    pub const fn name(self) -> &'static str {
        match self {
            Self::NoSuchProgram => "no such program",
            Self::BadProgram => "not a program this system can load",
            Self::OutOfMemory => "out of memory",
            Self::TooManyProcesses => "too many processes",
            Self::NoSuchProcess => "no such process",
            Self::AlreadyWaiting => "someone already waits for it",
            Self::BadArguments => "bad arguments",
            Self::BadBuffer => "bad buffer",
            Self::Io => "file server error",
        }
    }
}

impl core::fmt::Display for ProcError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl ServerError for ProcError {
    fn code(self) -> Word {
        FIRST_SERVER_CODE + ALL.iter().position(|&e| e == self).unwrap_or(0) as Word
    }
    fn from_code(code: Word) -> Option<Self> {
        ALL.into_iter().find(|e| e.code() == code)
    }
}

wire! {
    /// No data.
    pub struct Empty {}

    /// `spawn`: where the path and the arguments are in the buffer.
    pub struct Spawn {
        /// The program's path on the file server (UTF-8, absolute).
        pub path: BufRange,
        /// The arguments, each followed by a NUL byte, the program's name
        /// first.
        pub args: BufRange,
    }

    /// `spawn`'s answer.
    pub struct Spawned {
        /// The new process's pid.
        pub pid: u64,
    }

    /// `exit`.
    pub struct ExitCode {
        /// The exit code (0: success).
        pub code: i64,
    }

    /// A request about one process.
    pub struct PidOnly {
        /// The pid.
        pub pid: u64,
    }

    /// How a process ended.
    pub struct Status {
        /// Its pid.
        pub pid: u64,
        /// One of [`how`].
        pub how: u64,
        /// The exit code ([`how::EXITED`]), or the seL4 fault label
        /// ([`how::FAULTED`]).
        pub code: i64,
        /// For a fault: the faulting address (a VM fault) or the
        /// instruction's address.
        pub address: u64,
    }

    /// `list`: where the records go.
    pub struct List {
        /// The range of the buffer to fill with [`ProcessRecord`]s.
        pub out: BufRange,
    }

    /// `list`'s answer.
    pub struct Listed {
        /// Records written.
        pub entries: u64,
    }

    /// One live process in a `list` answer.
    pub struct ProcessRecord {
        /// Its pid.
        pub pid: u32,
        /// The priority it was spawned at.
        pub priority: u32,
        /// Untyped bytes it takes (its block).
        pub bytes: u64,
        /// The program's name (argument 0), NUL-padded.
        pub name: [u8; 24],
    }

    /// `stats`: the process manager's memory and counts.
    pub struct MemStats {
        /// Bytes of the untyped memory processes are made from.
        pub total_bytes: u64,
        /// Bytes of it not in use by any process.
        pub free_bytes: u64,
        /// The largest process that could be made now, in bytes.
        pub largest_free: u64,
        /// Processes alive.
        pub processes: u64,
        /// Processes spawned since boot.
        pub spawned: u64,
        /// Processes reaped since boot.
        pub reaped: u64,
    }
}

/// [`Status::how`] values.
pub mod how {
    /// It called `exit`; `code` is the exit code.
    pub const EXITED: u64 = 0;
    /// It was killed.
    pub const KILLED: u64 = 1;
    /// It faulted; `code` is the fault's seL4 label.
    pub const FAULTED: u64 = 2;
}

impl ProcessRecord {
    /// The program's name.
    pub fn name(&self) -> &str {
        let end = self.name.iter().position(|&b| b == 0).unwrap_or(24);
        core::str::from_utf8(&self.name[..end]).unwrap_or("?")
    }
}

crate::interface! {
    /// The process interface.
    pub interface protocol: ProcError {
        /// Loads a program from the file server and starts it.
        1 => Spawn: fn spawn(Spawn) -> Spawned, once;
        /// Ends the calling process.
        2 => Exit: fn exit(ExitCode) -> Empty, once;
        /// Waits until a process ended; how.
        3 => Wait: fn wait(PidOnly) -> Status, once;
        /// Ends a process.
        4 => Kill: fn kill(PidOnly) -> Empty, once;
        /// Lists the live processes.
        5 => List: fn list(List) -> Listed, idempotent;
        /// The manager's memory.
        6 => Stats: fn stats(Empty) -> MemStats, idempotent;
    }
}

/// What a [`Procs`] call ends in besides success.
pub type ProcsError = crate::interface::Error<ProcError>;

/// A client's handle on the process manager: the typed client and the
/// buffer shared with it (paths, arguments and listings go through it).
pub struct Procs<T: crate::interface::Transport> {
    client: protocol::Client<T>,
    buffer: crate::interface::SharedBuffer,
}

impl<T: crate::interface::Transport> Procs<T> {
    /// The process manager behind `transport`, sharing `buffer`.
    pub fn new(transport: T, buffer: crate::interface::SharedBuffer) -> Self {
        Self {
            client: protocol::Client::new(transport),
            buffer,
        }
    }

    /// The typed client, for requests built by hand.
    pub fn raw(&self) -> &protocol::Client<T> {
        &self.client
    }

    /// Starts the program at `path` with `args` (the program's name first);
    /// its pid.
    pub fn spawn<'a>(
        &self,
        path: &str,
        args: impl IntoIterator<Item = &'a str>,
    ) -> Result<u64, ProcsError> {
        self.buffer.write(0, path.as_bytes())?;
        let mut at = path.len();
        for arg in args {
            self.buffer.write(at, arg.as_bytes())?;
            self.buffer.write(at + arg.len(), &[0])?;
            at += arg.len() + 1;
        }
        let r = self.client.spawn(Spawn {
            path: BufRange::new(0, path.len() as u32),
            args: BufRange::new(path.len() as u32, (at - path.len()) as u32),
        })?;
        Ok(r.pid)
    }

    /// Waits until process `pid` ended; how.
    pub fn wait(&self, pid: u64) -> Result<Status, ProcsError> {
        self.client.wait(PidOnly { pid })
    }

    /// Ends process `pid`.
    pub fn kill(&self, pid: u64) -> Result<(), ProcsError> {
        self.client.kill(PidOnly { pid }).map(|_| ())
    }

    /// The manager's memory and counts.
    pub fn stats(&self) -> Result<MemStats, ProcsError> {
        self.client.stats(Empty {})
    }

    /// Calls `each` with every live process (as many as the buffer holds).
    pub fn list(&self, mut each: impl FnMut(&ProcessRecord)) -> Result<(), ProcsError> {
        let size = core::mem::size_of::<ProcessRecord>();
        let n = self.client.list(List {
            out: BufRange::new(0, self.buffer.len() as u32),
        })?;
        for i in 0..n.entries as usize {
            let mut bytes = [0u8; core::mem::size_of::<ProcessRecord>()];
            self.buffer.read(i * size, &mut bytes)?;
            if let Ok(r) = ProcessRecord::read_from_bytes(&bytes) {
                each(&r);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_distinct_and_round_trip() {
        for (i, e) in ALL.iter().enumerate() {
            assert_eq!(e.code(), FIRST_SERVER_CODE + i as Word);
            assert_eq!(ProcError::from_code(e.code()), Some(*e));
        }
        assert_eq!(ProcError::from_code(FIRST_SERVER_CODE + 99), None);
    }

    #[test]
    fn record_names() {
        let mut r = ProcessRecord::default();
        r.name[..5].copy_from_slice(b"hello");
        assert_eq!(r.name(), "hello");
        assert_eq!(core::mem::size_of::<ProcessRecord>(), 40);
    }
}
