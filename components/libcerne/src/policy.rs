//! The priority-policy protocol (docs/processes.md): the policy server
//! holds the TCB caps of the processes the process manager admits and moves
//! their priorities within bounds; the shell's `prio` asks it, never the
//! kernel.
//!
//! | label | operation | request | reply |
//! |---|---|---|---|
//! | 1 | `admit` | [`Admit`], with the process's TCB cap transferred | [`Empty`] |
//! | 2 | `leave` | [`PidOnly`] | [`Empty`] |
//! | 3 | `get` | [`PidOnly`] | [`PrioInfo`] |
//! | 4 | `set` | [`SetPrio`]: a new highest priority | [`PrioInfo`] |
//! | 5 | `enable` | [`Enable`]: apply the policy, or hold every process at its highest | [`Empty`] |
//!
//! `admit` and `leave` are the process manager's alone (the server checks
//! the caller's badge and answers others [`PolicyError::NotPermitted`]).

use crate::interface::{ServerError, Word, FIRST_SERVER_CODE};

/// The policy's period in microseconds: the supervisor, which owns the
/// timer, signals the policy server's tick this often.
pub const PERIOD_US: u64 = 40_000;

/// What the policy server refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyError {
    /// No admitted process with that pid.
    NoSuchProcess,
    /// A priority outside what the server may give (above its MCP, or
    /// below its lowest level).
    BadPriority,
    /// `admit` without a TCB cap, or a full table.
    NoRoom,
    /// The caller may not do this (only the process manager admits).
    NotPermitted,
}

const ALL: [PolicyError; 4] = [
    PolicyError::NoSuchProcess,
    PolicyError::BadPriority,
    PolicyError::NoRoom,
    PolicyError::NotPermitted,
];

impl PolicyError {
    /// A short name for messages.
    pub const fn name(self) -> &'static str {
        match self {
            Self::NoSuchProcess => "no such process",
            Self::BadPriority => "priority out of range",
            Self::NoRoom => "no room",
            Self::NotPermitted => "not permitted",
        }
    }
}

impl core::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl ServerError for PolicyError {
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

    /// `admit`: a new process, its TCB cap transferred with the message.
    pub struct Admit {
        /// Its pid.
        pub pid: u64,
        /// The priority it runs at now, and the highest the policy gives it.
        pub priority: u64,
    }

    /// A request about one process.
    pub struct PidOnly {
        /// The pid.
        pub pid: u64,
    }

    /// `set`: a new highest priority.
    pub struct SetPrio {
        /// The pid.
        pub pid: u64,
        /// The highest priority the policy may give it.
        pub max: u64,
    }

    /// `enable`.
    pub struct Enable {
        /// 1: apply the policy every period; 0: stop, and give every
        /// process its highest priority (fixed priorities, round robin).
        pub on: u64,
    }

    /// A process's priority as the policy sees it.
    pub struct PrioInfo {
        /// The pid.
        pub pid: u64,
        /// The priority it runs at now.
        pub current: u64,
        /// The highest the policy gives it (when it blocks).
        pub max: u64,
        /// The lowest it drops to (when it keeps using its quantum).
        pub min: u64,
        /// Thousandths of the last period's CPU time it used.
        pub cpu_permille: u64,
        /// How many times the policy lowered it.
        pub demotions: u64,
    }
}

crate::interface! {
    /// The policy interface.
    pub interface protocol: PolicyError {
        /// Puts a process under the policy.
        1 => Admit: fn admit(Admit) -> Empty, once;
        /// Takes a process out (it ended).
        2 => Leave: fn leave(PidOnly) -> Empty, idempotent;
        /// A process's priority.
        3 => Get: fn get(PidOnly) -> PrioInfo, idempotent;
        /// Sets a process's highest priority.
        4 => Set: fn set(SetPrio) -> PrioInfo, idempotent;
        /// Turns the policy on or off.
        5 => Enable: fn enable(Enable) -> Empty, idempotent;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_distinct_and_round_trip() {
        for e in ALL {
            assert_eq!(PolicyError::from_code(e.code()), Some(e));
        }
        assert_eq!(PolicyError::from_code(0), None);
    }
}
