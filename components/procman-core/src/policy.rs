//! The priority policy the policy server applies (docs/processes.md), kept
//! here so that it is tested on the host: a feedback rule in the manner of
//! MINIX 3's scheduler.
//!
//! Every process has a highest priority `max` (the one it was admitted
//! with, or what `prio` set) and a lowest `min` ([`SPAN`] levels below).
//! Every period the server reads how much CPU time each process used in
//! it (the kernel's thread-utilisation counters):
//!
//! - a process that used at least a whole quantum (the kernel's time
//!   slice) kept the CPU until the kernel took it away: it drops one
//!   level, never below `min`;
//! - a process that used less for [`QUIET_PERIODS`] periods in a row
//!   blocked (waited for input, a server, a child) or was kept off the CPU
//!   by others: it rises one level, never above `max`.
//!
//! So CPU-bound programs sink below interactive ones, which then get the
//! CPU as soon as they are woken, and CPU-bound programs kept apart meet
//! again at one level and share it. Two choices keep it stable, both
//! because the counters cannot tell blocking from losing the CPU: a
//! process that used little does not get `max` back at once (a CPU-bound
//! program that merely lost the CPU to others would climb straight back
//! over the interactive ones), and it rises only after several quiet
//! periods (rising after one, two CPU-bound programs a level apart would
//! swap levels every period instead of meeting).

/// Levels a process may drop below its highest priority.
pub const SPAN: u8 = 8;

/// Periods in a row of less than a quantum after which a process rises a
/// level.
pub const QUIET_PERIODS: u32 = 4;

/// The lowest priority the policy ever gives.
pub const FLOOR: u8 = 1;

/// A process under the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its pid.
    pub pid: u64,
    /// The priority it runs at.
    pub current: u8,
    /// The highest the policy gives it.
    pub max: u8,
    /// The lowest it drops to.
    pub min: u8,
    /// Its CPU time counter at the last sample.
    pub last_time: u64,
    /// CPU time it used in the last period.
    pub last_used: u64,
    /// How many times the policy lowered it.
    pub demotions: u64,
    /// Periods in a row it used less than a quantum.
    pub quiet: u32,
}

impl Entry {
    /// A process admitted at `priority`, whose CPU time counter reads
    /// `time` now.
    pub fn new(pid: u64, priority: u8, time: u64) -> Self {
        let mut e = Self {
            pid,
            current: priority,
            max: priority,
            min: priority,
            last_time: time,
            last_used: 0,
            demotions: 0,
            quiet: 0,
        };
        e.set_max(priority);
        e
    }

    /// Sets the highest priority (and the lowest with it); the process
    /// runs at the new highest until the next sample.
    pub fn set_max(&mut self, max: u8) {
        self.max = max.max(FLOOR);
        self.min = self.max.saturating_sub(SPAN).max(FLOOR);
        self.current = self.max;
    }

    /// Applies the rule to a new reading `time` of the process's CPU time
    /// counter after a period in which the kernel's quantum is `quantum`
    /// (same unit); the priority it should now run at.
    pub fn sample(&mut self, time: u64, quantum: u64) -> u8 {
        let used = time.saturating_sub(self.last_time);
        self.last_time = time;
        self.last_used = used;
        if used >= quantum {
            self.quiet = 0;
            if self.current > self.min {
                self.current -= 1;
                self.demotions += 1;
            }
        } else {
            self.quiet += 1;
            if self.quiet >= QUIET_PERIODS {
                self.quiet = 0;
                self.current = (self.current + 1).min(self.max);
            }
        }
        self.current
    }
}

/// One period: samples every entry with its new CPU time reading and
/// calls `changed(pid, new priority)` for each process whose priority
/// moved. (No allocation: the policy server has no heap.)
pub fn period(
    entries: &mut [Entry],
    times: &[u64],
    quantum: u64,
    mut changed: impl FnMut(u64, u8),
) {
    for (e, &t) in entries.iter_mut().zip(times) {
        let before = e.current;
        let now = e.sample(t, quantum);
        if now != before {
            changed(e.pid, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    const Q: u64 = 10;

    #[test]
    fn a_cpu_bound_process_sinks_to_its_floor_and_no_further() {
        let mut e = Entry::new(1, 60, 0);
        let mut t = 0;
        for expected in (52..60).rev() {
            t += 2 * Q;
            assert_eq!(e.sample(t, Q), expected);
        }
        t += 2 * Q;
        assert_eq!(e.sample(t, Q), 52);
        assert_eq!(e.demotions, 8);
    }

    #[test]
    fn a_process_that_uses_less_than_a_quantum_climbs_back() {
        let mut e = Entry::new(1, 60, 0);
        for t in [Q, 2 * Q, 3 * Q] {
            e.sample(t, Q);
        }
        assert_eq!(e.current, 57);
        let mut t = 3 * Q;
        for expected in [58, 59, 60, 60] {
            let before = e.current;
            for _ in 1..QUIET_PERIODS {
                t += Q - 1;
                assert_eq!(e.sample(t, Q), before);
            }
            t += Q - 1;
            assert_eq!(e.sample(t, Q), expected);
        }
    }

    #[test]
    fn bounds_follow_the_highest_priority() {
        let mut e = Entry::new(1, 5, 0);
        assert_eq!((e.min, e.max), (FLOOR, 5));
        e.set_max(90);
        assert_eq!((e.min, e.current, e.max), (82, 90, 90));
        e.set_max(0);
        assert_eq!((e.min, e.current, e.max), (FLOOR, FLOOR, FLOOR));
        // At the floor a CPU-bound process stays there.
        assert_eq!(e.sample(100, Q), FLOOR);
    }

    #[test]
    fn a_counter_that_went_backwards_counts_as_idle() {
        // A reset of the kernel's counters reads lower than before.
        let mut e = Entry::new(1, 60, 1000);
        e.sample(5000, Q);
        assert_eq!(e.current, 59);
        assert_eq!(e.sample(10, Q), 59);
        assert_eq!(e.quiet, 1);
        assert_eq!(e.last_time, 10);
    }

    /// Runs `rounds` periods of `len` on a model of the kernel's scheduler
    /// (the highest priority present gets the period, shared round robin)
    /// with `hogs` CPU-bound processes and, last, one that wants `wants`
    /// of each period; returns the entries.
    fn simulate(
        mut entries: Vec<Entry>,
        hogs: usize,
        wants: u64,
        len: u64,
        rounds: usize,
    ) -> Vec<Entry> {
        for _ in 0..rounds {
            let mut times: Vec<u64> = entries.iter().map(|e| e.last_time).collect();
            let mut left = len;
            let top = entries[..hogs].iter().map(|e| e.current).max().unwrap_or(0);
            // The interactive process runs first when it is at least as
            // high as every hog (a woken thread goes to the head of its
            // queue); else it gets nothing.
            if entries.len() > hogs && entries[hogs].current >= top {
                times[hogs] += wants;
                left -= wants;
            }
            let sharing: Vec<usize> = (0..hogs).filter(|&i| entries[i].current == top).collect();
            for &i in &sharing {
                times[i] += left / sharing.len() as u64;
            }
            period(&mut entries, &times, Q, |_, _| {});
        }
        entries
    }

    #[test]
    fn hogs_sink_below_an_interactive_process() {
        let entries = vec![
            Entry::new(1, 60, 0),
            Entry::new(2, 60, 0),
            Entry::new(3, 60, 0),
        ];
        let end = simulate(entries, 2, 1, 4 * Q, 40);
        assert_eq!(
            end.iter().map(|e| e.current).collect::<Vec<_>>(),
            vec![52, 52, 60]
        );
    }

    /// A hog admitted while another has sunk: they meet at one level and
    /// share it rather than swapping levels.
    #[test]
    fn hogs_apart_meet() {
        for apart in 1..=8 {
            let mut entries = vec![Entry::new(1, 60, 0), Entry::new(2, 60, 0)];
            entries[0].current = 60 - apart;
            let end = simulate(entries, 2, 0, 4 * Q, 60);
            assert_eq!(end[0].current, end[1].current, "{apart} apart");
            assert_eq!(end[0].current, 52, "{apart} apart");
        }
    }

    /// Two hogs, then a third that runs for a while: once it is gone the
    /// two are still sunk (none climbed back while the third ran).
    #[test]
    fn a_third_hog_leaves_the_others_sunk() {
        let entries = vec![Entry::new(1, 60, 0), Entry::new(2, 60, 0)];
        let mut end = simulate(entries, 2, 0, 4 * Q, 1);
        end.insert(0, Entry::new(3, 60, 0));
        let end = simulate(end, 3, 0, 4 * Q, 25);
        assert!(end.iter().all(|e| e.current < 60), "{end:?}");
    }

    /// An interactive process that does a quantum and a half of work now
    /// and then stays above the hogs.
    #[test]
    fn bursts_of_work_keep_an_interactive_process_above_the_hogs() {
        let entries = vec![
            Entry::new(1, 60, 0),
            Entry::new(2, 60, 0),
            Entry::new(3, 60, 0),
        ];
        let mut end = simulate(entries, 2, 0, 4 * Q, 20);
        for _ in 0..5 {
            end = simulate(end, 2, Q + Q / 2, 4 * Q, 1);
            end = simulate(end, 2, 0, 4 * Q, 1);
            assert!(
                end[2].current > end[0].current.max(end[1].current),
                "{end:?}"
            );
        }
    }
}
