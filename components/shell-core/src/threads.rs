//! The `threads` listing (docs/shell.md): one line per thread of the
//! kernel's list of every TCB (Cerne's DebugThreadInfo), with its name (the
//! spec's component name, which the initializer gave it, or a process's
//! program), priority, MCP, state by seL4's name, and what it waits for;
//! then a count by kind of state.

use core::fmt::{self, Display};

/// One thread as DebugThreadInfo reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thread<'a> {
    /// DebugNameThread's name (empty when never named).
    pub name: &'a str,
    /// The TCB's physical address.
    pub tcb: u64,
    /// The `ThreadState` code.
    pub state: u64,
    /// Priority.
    pub priority: u64,
    /// Maximum controlled priority.
    pub mcp: u64,
    /// The endpoint or notification waited at, or for BlockedOnReply the TCB
    /// holding the reply cap; 0 for none.
    pub blocked_on: u64,
}

/// The column heads.
pub const HEADER: &str = "NAME             PRIO MCP  STATE                  WAITING FOR";

/// seL4's name of a `ThreadState` code.
pub fn state_name(code: u64) -> &'static str {
    match code {
        0 => "Inactive",
        1 => "Running",
        2 => "Restart",
        3 => "BlockedOnReceive",
        4 => "BlockedOnSend",
        5 => "BlockedOnReply",
        6 => "BlockedOnNotification",
        _ => "?",
    }
}

/// The line of `thread`, among `all` (which names the thread a
/// BlockedOnReply waits for).
pub struct Line<'a> {
    /// The thread.
    pub thread: &'a Thread<'a>,
    /// Every thread listed.
    pub all: &'a [Thread<'a>],
}

impl Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.thread;
        let name = if t.name.is_empty() {
            "(unnamed)"
        } else {
            t.name
        };
        write!(f, "{name:<16} {:>4} {:>4} ", t.priority, t.mcp)?;
        let state = state_name(t.state);
        let object = t.blocked_on;
        match t.state {
            3 => write!(f, "{state:<22} recv on endpoint {object:#x}"),
            4 => write!(f, "{state:<22} send to endpoint {object:#x}"),
            6 => write!(f, "{state:<22} wait on notification {object:#x}"),
            5 => match self.all.iter().find(|s| s.tcb == object && s.tcb != 0) {
                Some(s) if !s.name.is_empty() => write!(f, "{state:<22} reply from {}", s.name),
                Some(s) => write!(f, "{state:<22} reply from tcb {:#x}", s.tcb),
                None => write!(
                    f,
                    "{state:<22} reply (the reply cap is not in a caller slot)"
                ),
            },
            _ => write!(f, "{state}"),
        }
    }
}

/// The last line: how many threads, and of them how many may run, are
/// blocked, or are inactive; `more` threads were not listed.
pub struct Summary<'a> {
    /// The threads listed.
    pub all: &'a [Thread<'a>],
    /// Threads beyond the listing's room.
    pub more: usize,
}

impl Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = |p: fn(u64) -> bool| self.all.iter().filter(|t| p(t.state)).count();
        write!(
            f,
            "{} threads: {} runnable, {} blocked, {} inactive",
            self.all.len() + self.more,
            count(|s| s == 1 || s == 2),
            count(|s| (3..=6).contains(&s)),
            count(|s| s == 0),
        )?;
        if self.more > 0 {
            write!(f, " ({} more not listed)", self.more)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    fn t(name: &str, tcb: u64, state: u64, blocked_on: u64) -> Thread<'_> {
        Thread {
            name,
            tcb,
            state,
            priority: 95,
            mcp: 95,
            blocked_on,
        }
    }

    #[test]
    fn lines_name_the_state_and_what_is_waited_for() {
        let all = [
            t("pong", 0x1000, 3, 0x8000),
            t("ping", 0x2000, 5, 0x1000),
            t("console", 0x3000, 6, 0x9000),
            t("", 0x4000, 1, 0),
            t("shell", 0x5000, 5, 0),
            t("hog", 0x6000, 4, 0x8800),
        ];
        let line = |i: usize| {
            format!(
                "{}",
                Line {
                    thread: &all[i],
                    all: &all
                }
            )
        };
        assert_eq!(
            line(0),
            "pong               95   95 BlockedOnReceive       recv on endpoint 0x8000"
        );
        assert_eq!(
            line(1),
            "ping               95   95 BlockedOnReply         reply from pong"
        );
        assert!(line(2).ends_with("BlockedOnNotification  wait on notification 0x9000"));
        assert_eq!(line(3), "(unnamed)          95   95 Running");
        assert!(line(4).ends_with("reply (the reply cap is not in a caller slot)"));
        assert!(line(5).ends_with("send to endpoint 0x8800"));
        // The columns line up with the header.
        assert_eq!(
            HEADER.find("PRIO").unwrap() + 4,
            line(0).find("95").unwrap() + 2
        );
        assert_eq!(
            HEADER.find("STATE").unwrap(),
            line(0).find("BlockedOnReceive").unwrap()
        );
        assert_eq!(
            format!("{}", Summary { all: &all, more: 0 }),
            "6 threads: 1 runnable, 5 blocked, 0 inactive"
        );
        assert_eq!(
            format!(
                "{}",
                Summary {
                    all: &all[..1],
                    more: 2
                }
            ),
            "3 threads: 0 runnable, 1 blocked, 0 inactive (2 more not listed)"
        );
        assert_eq!(state_name(0), "Inactive");
        assert_eq!(state_name(7), "?");
    }
}
