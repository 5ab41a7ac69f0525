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
//! - a process that used less than half a quantum blocked (waited for
//!   input, a server, a child): it regains `max` at once;
//! - anything between keeps its level.
//!
//! So CPU-bound programs sink below interactive ones, which then get the
//! CPU as soon as they are woken; a program that changes behaviour moves
//! back within one period. The kernel's mechanism (fixed priorities, round
//! robin within one) is unchanged.

use alloc::vec::Vec;

/// Levels a process may drop below its highest priority.
pub const SPAN: u8 = 8;

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
            if self.current > self.min {
                self.current -= 1;
                self.demotions += 1;
            }
        } else if used < quantum / 2 {
            self.current = self.max;
        }
        self.current
    }
}

/// The priority changes of one period: (pid, new priority) for each
/// process whose priority moved.
pub fn period(entries: &mut [Entry], times: &[u64], quantum: u64) -> Vec<(u64, u8)> {
    let mut changes = Vec::new();
    for (e, &t) in entries.iter_mut().zip(times) {
        let before = e.current;
        let now = e.sample(t, quantum);
        if now != before {
            changes.push((e.pid, now));
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

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
    fn a_process_that_blocks_regains_its_priority_at_once() {
        let mut e = Entry::new(1, 60, 0);
        for t in [Q, 2 * Q, 3 * Q] {
            e.sample(t, Q);
        }
        assert_eq!(e.current, 57);
        // Half a quantum or more but less than one: stays.
        assert_eq!(e.sample(3 * Q + Q / 2, Q), 57);
        // Less than half: back to the top.
        assert_eq!(e.sample(3 * Q + Q / 2 + 1, Q), 60);
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
        assert_eq!(e.sample(10, Q), 60);
        assert_eq!(e.last_time, 10);
    }

    #[test]
    fn hogs_sink_below_an_interactive_process() {
        let mut entries = vec![
            Entry::new(1, 60, 0),
            Entry::new(2, 60, 0),
            Entry::new(3, 60, 0),
        ];
        // Two hogs share the CPU; the third process blocks.
        let mut times = [0u64; 3];
        let mut first = Vec::new();
        for round in 0..3 {
            times[0] += 2 * Q;
            times[1] += 2 * Q;
            times[2] += 1;
            let changes = period(&mut entries, &times, Q);
            if round == 0 {
                first = changes;
            }
        }
        assert_eq!(first, vec![(1, 59), (2, 59)]);
        assert_eq!(
            entries.iter().map(|e| e.current).collect::<Vec<_>>(),
            vec![57, 57, 60]
        );
    }
}
