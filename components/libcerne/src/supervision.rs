//! What a supervised component does for its supervisor (docs/supervisor.md).
//!
//! A component the system description marks `restart = "always"` is
//! started, and restarted after a failure, by the supervisor, which tells
//! it in x0 (main's `arg`) which incarnation it is: 0 at boot, n after the
//! n-th restart. Three duties follow, all through [`Supervision`]:
//!
//! * at start, answer the request the previous incarnation received but
//!   never answered: it is still in this thread's reply slot (a restart
//!   keeps it), and its caller would otherwise wait for ever. The answer
//!   carries [`ProtocolError::Restarted`], so the caller's interface
//!   client re-issues an idempotent operation and reports any other;
//! * answer the supervisor's heartbeat: the `heartbeat` bit of the bound
//!   notification, answered by signalling `caps::ALIVE`, wherever the
//!   component waits (a component that stops answering is restarted as
//!   hung);
//! * know its incarnation, so that state it hands out (file handles) from
//!   before a restart can be told from state made after it.
//!
//! A panic (see [`crate::debug::report_panic`]) leaves its message in the
//! IPC buffer and faults with [`PANIC_MARK`] in x0, so the supervisor
//! reports it by name.

#[cfg(target_arch = "aarch64")]
use crate::interface::ProtocolError;

/// x0 of a thread that faulted in [`crate::debug::report_panic`]; x1 holds
/// the length of the message written at [`PANIC_MESSAGE_AT`] of its IPC
/// buffer.
pub const PANIC_MARK: u64 = u64::from_le_bytes(*b"CERNEPNC");
/// Where in the IPC buffer a panic leaves its message: the message
/// registers past MR0 (the buffer is not used again by the dying thread).
pub const PANIC_MESSAGE_AT: usize = 16;
/// Most bytes of a panic message kept in the IPC buffer.
pub const PANIC_MESSAGE_MAX: usize = 512;

/// A component's side of supervision.
#[derive(Clone, Copy, Debug)]
pub struct Supervision {
    supervised: bool,
    alive: u64,
    heartbeat: u64,
    incarnation: u64,
}

impl Supervision {
    /// The supervision of a component: `supervised` and the cap and bit
    /// its description gives (`caps::SUPERVISED`, `caps::ALIVE`,
    /// `badges::HEARTBEAT`), and main's `arg`. When this is a restart
    /// (incarnation > 0) it first answers the previous incarnation's
    /// unanswered request.
    pub fn start(supervised: bool, alive: u64, heartbeat: u64, arg: usize) -> Self {
        let s = Self::new(supervised, alive, heartbeat, arg);
        if s.incarnation > 0 {
            answer_orphaned_request();
        }
        s
    }

    /// The same without answering anything (for tests and tools).
    pub const fn new(supervised: bool, alive: u64, heartbeat: u64, arg: usize) -> Self {
        Self {
            supervised,
            alive,
            heartbeat: if supervised { heartbeat } else { 0 },
            incarnation: if supervised { arg as u64 } else { 0 },
        }
    }

    /// The cap the heartbeat is answered on (0 when unsupervised).
    pub const fn alive_cap(&self) -> u64 {
        self.alive
    }

    /// Whether a supervisor restarts this component.
    pub const fn supervised(&self) -> bool {
        self.supervised
    }

    /// 0 at boot, n after the n-th restart.
    pub const fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// The heartbeat bit of the bound notification (0 when unsupervised).
    pub const fn heartbeat_bit(&self) -> u64 {
        self.heartbeat
    }

    /// Whether `word` (a signal word of the bound notification, or the
    /// badge of a message received while bound) carries the heartbeat.
    pub const fn is_heartbeat(&self, word: u64) -> bool {
        word & self.heartbeat != 0
    }

    /// Answers the heartbeat when `word` carries it; returns `word` without
    /// the heartbeat bit, so callers handle what remains.
    pub fn on_signal(&self, word: u64) -> u64 {
        if self.is_heartbeat(word) {
            self.answer_heartbeat();
        }
        word & !self.heartbeat
    }

    /// Tells the supervisor this component is alive (and, after a restart,
    /// ready: the supervisor counts the recovery as done at the first one).
    pub fn answer_heartbeat(&self) {
        #[cfg(target_arch = "aarch64")]
        if self.supervised && self.alive != 0 {
            crate::sel4::Cap::<crate::sel4::Notification>::from_cptr(self.alive).signal();
        }
    }
}

/// Answers the request left in this thread's reply slot by an incarnation
/// that failed before it replied: label [`ProtocolError::Restarted`]. With
/// no such request the Reply does nothing (seL4 semantics).
pub fn answer_orphaned_request() {
    #[cfg(target_arch = "aarch64")]
    crate::sel4::ipc::reply(ProtocolError::Restarted.code(), &[], &[]);
}

/// The supervision of the component this program is, from its generated
/// constants: `let sup = libcerne::supervision!(arg);` first thing in main.
#[macro_export]
macro_rules! supervision {
    ($arg:expr) => {
        $crate::supervision::Supervision::start(
            caps::SUPERVISED != 0,
            caps::ALIVE,
            badges::HEARTBEAT,
            $arg,
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsupervised_component_has_no_heartbeat_and_incarnation_zero() {
        let s = Supervision::new(false, 9, 1 << 40, 3);
        assert_eq!(s.incarnation(), 0);
        assert!(!s.is_heartbeat(u64::MAX));
        assert_eq!(s.on_signal(u64::MAX), u64::MAX);
    }

    #[test]
    fn the_heartbeat_bit_is_taken_out_of_the_word() {
        let s = Supervision::new(true, 0, 1 << 40, 2);
        assert_eq!(s.incarnation(), 2);
        assert!(s.is_heartbeat(1 << 40 | 1));
        assert_eq!(s.on_signal(1 << 40 | 1 << 63), 1 << 63);
    }
}
