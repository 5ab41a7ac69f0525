//! Reading the guest console: which lines are the kernel's markers (from
//! `cerne_abi::console`), and how a run ended, judged from the markers seen
//! and the way QEMU stopped.

use cerne_abi::console::{
    CAPDL_ERROR_PREFIX, HALT_FAILURE, HALT_SUCCESS, KERNEL_EXCEPTION_PREFIX, PANIC_PREFIX,
};

/// The markers that mean the run failed, whatever QEMU's exit status.
pub const FAILURE_MARKERS: [&str; 4] = [
    PANIC_PREFIX,
    KERNEL_EXCEPTION_PREFIX,
    HALT_FAILURE,
    CAPDL_ERROR_PREFIX,
];

/// What a console line tells about the end of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// The kernel reported a clean halt.
    Success,
    /// The kernel reported a panic, a fatal exception or a failed halt.
    Failure,
}

/// The marker a console line carries, if any.
pub fn marker(line: &str) -> Option<Marker> {
    if FAILURE_MARKERS.iter().any(|m| line.contains(m)) {
        Some(Marker::Failure)
    } else if line.contains(HALT_SUCCESS) {
        Some(Marker::Success)
    } else {
        None
    }
}

/// The markers seen so far in a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// HALT_SUCCESS was printed.
    pub success: bool,
    /// The first line that carried a failure marker.
    pub failure: Option<String>,
}

impl Scan {
    /// Takes in one console line; returns the marker it carries.
    pub fn feed(&mut self, line: &str) -> Option<Marker> {
        let m = marker(line);
        match m {
            Some(Marker::Success) => self.success = true,
            Some(Marker::Failure) if self.failure.is_none() => {
                self.failure = Some(line.trim().to_owned());
            }
            _ => {}
        }
        m
    }
}

/// How QEMU stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// QEMU exited by itself with this status (`None`: killed by a signal).
    Exited(Option<i32>),
    /// The time limit ran out and the harness stopped QEMU.
    TimedOut,
    /// The harness stopped QEMU: after a final marker the guest did not power
    /// off, or the caller had seen what it waited for.
    Stopped,
}

/// How a run ended, as `cargo xtask run` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// HALT_SUCCESS was printed and nothing failed.
    Halted,
    /// The guest powered off (QEMU exited 0) without a marker.
    PoweredOff,
    /// The time limit ran out with no marker: the system was still running.
    StillRunning,
    /// The harness stopped the run on the caller's request, no marker seen.
    Stopped,
    /// A failure marker was printed, or QEMU failed.
    Failed(String),
}

impl Outcome {
    /// Judges a run from its markers and the way QEMU stopped.
    pub fn judge(scan: &Scan, end: End) -> Outcome {
        if let Some(line) = &scan.failure {
            return Outcome::Failed(format!("the guest printed `{line}`"));
        }
        match end {
            End::Exited(Some(0)) if scan.success => Outcome::Halted,
            End::Exited(Some(0)) => Outcome::PoweredOff,
            End::Exited(Some(code)) => Outcome::Failed(format!("QEMU exited with status {code}")),
            End::Exited(None) => Outcome::Failed("QEMU was killed by a signal".into()),
            End::TimedOut | End::Stopped if scan.success => Outcome::Halted,
            End::TimedOut => Outcome::StillRunning,
            End::Stopped => Outcome::Stopped,
        }
    }

    /// Whether the run counts as good (exit status 0).
    pub fn is_ok(&self) -> bool {
        !matches!(self, Outcome::Failed(_))
    }

    /// A sentence for the user.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Halted => "the system halted cleanly".into(),
            Outcome::PoweredOff => {
                "QEMU exited with status 0 without a halt marker (guest powered off, or QEMU was quit)"
                    .into()
            }
            Outcome::StillRunning => {
                "time limit reached; the guest was still running (no failure seen)".into()
            }
            Outcome::Stopped => "stopped by the harness (no failure seen)".into(),
            Outcome::Failed(why) => format!("FAILED: {why}"),
        }
    }
}

/// Everything a run printed, line by line (carriage returns removed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    /// Lines of the guest console (QEMU's stdout).
    pub console: Vec<String>,
    /// Lines QEMU itself printed on stderr.
    pub stderr: Vec<String>,
}

impl Transcript {
    /// Index of the first console line at or after `from` that contains `s`.
    pub fn find_from(&self, from: usize, s: &str) -> Option<usize> {
        self.console
            .iter()
            .skip(from)
            .position(|l| l.contains(s))
            .map(|i| i + from)
    }

    /// Index of the first console line that contains `s`.
    pub fn find(&self, s: &str) -> Option<usize> {
        self.find_from(0, s)
    }

    /// The last `n` console lines, then QEMU's stderr, for a failure report.
    pub fn tail(&self, n: usize) -> String {
        let skip = self.console.len().saturating_sub(n);
        let mut out: Vec<&str> = self.console[skip..].iter().map(|s| s.as_str()).collect();
        if !self.stderr.is_empty() {
            out.push("--- QEMU stderr ---");
            out.extend(self.stderr.iter().map(|s| s.as_str()));
        }
        out.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers() {
        assert_eq!(marker(HALT_SUCCESS), Some(Marker::Success));
        assert_eq!(
            marker(&format!("x {PANIC_PREFIX} at a.rs:1")),
            Some(Marker::Failure)
        );
        assert_eq!(marker(HALT_FAILURE), Some(Marker::Failure));
        assert_eq!(marker(KERNEL_EXCEPTION_PREFIX), Some(Marker::Failure));
        assert_eq!(marker("[rootserver] hello from EL0"), None);
    }

    fn scan(lines: &[&str]) -> Scan {
        let mut scan = Scan::default();
        for l in lines {
            scan.feed(l);
        }
        scan
    }

    #[test]
    fn success_and_power_off_is_halted() {
        let s = scan(&["hi", HALT_SUCCESS]);
        assert_eq!(Outcome::judge(&s, End::Exited(Some(0))), Outcome::Halted);
        assert_eq!(Outcome::judge(&s, End::Stopped), Outcome::Halted);
    }

    #[test]
    fn failure_marker_wins_over_exit_status_zero() {
        let s = scan(&[PANIC_PREFIX, HALT_FAILURE]);
        let o = Outcome::judge(&s, End::Exited(Some(0)));
        assert!(!o.is_ok());
        assert!(o.describe().contains(PANIC_PREFIX));
        let s = scan(&[HALT_SUCCESS, HALT_FAILURE]);
        assert!(!Outcome::judge(&s, End::Exited(Some(0))).is_ok());
    }

    #[test]
    fn timeout_without_markers_is_a_running_guest() {
        let s = scan(&["booting"]);
        assert_eq!(Outcome::judge(&s, End::TimedOut), Outcome::StillRunning);
        assert!(Outcome::judge(&s, End::TimedOut).is_ok());
        let s = scan(&[KERNEL_EXCEPTION_PREFIX]);
        assert!(!Outcome::judge(&s, End::TimedOut).is_ok());
    }

    #[test]
    fn qemu_failure_is_a_failure() {
        let s = scan(&[HALT_SUCCESS]);
        assert!(!Outcome::judge(&s, End::Exited(Some(1))).is_ok());
        assert!(!Outcome::judge(&Scan::default(), End::Exited(None)).is_ok());
        assert_eq!(
            Outcome::judge(&Scan::default(), End::Exited(Some(0))),
            Outcome::PoweredOff
        );
    }
}
