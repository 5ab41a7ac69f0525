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
//! - a process that ran but used less than half a quantum blocked (waited
//!   for input, a server, a child): it regains `max` at once;
//! - a process that did not run at all for [`STARVED_PERIODS`] periods in
//!   a row was either asleep or starved by higher priorities (the counters
//!   cannot tell which): it rises one level, never above `max`, so that
//!   none starves for long. (Rising at once would make two CPU-bound
//!   programs a level apart swap levels every period instead of meeting at
//!   one level and sharing it.)
//! - anything between keeps its level.
//!
//! So CPU-bound programs sink below interactive ones, which then get the
//! CPU as soon as they are woken; a program that changes behaviour moves
//! back within one period. The kernel's mechanism (fixed priorities, round
//! robin within one) is unchanged.

/// Levels a process may drop below its highest priority.
pub const SPAN: u8 = 8;

/// Periods without running after which a process rises a level.
pub const STARVED_PERIODS: u32 = 4;

/// The lowest priority the policy ever gives.
pub const FLOOR: u8 = 1;

/// A reading of a process's counters (the kernel's thread utilisation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    /// CPU time it has used.
    pub time: u64,
    /// Times it was switched to.
    pub schedules: u64,
}

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
    /// Its count of being switched to, at the last sample.
    pub last_schedules: u64,
    /// Periods in a row it did not run.
    pub idle_periods: u32,
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
            last_schedules: 0,
            idle_periods: 0,
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

    /// Applies the rule to a new [`Sample`] of the process's counters
    /// after a period in which the kernel's quantum is `quantum` (in the
    /// unit of the time counter); the priority it should now run at.
    pub fn sample(&mut self, now: Sample, quantum: u64) -> u8 {
        let used = now.time.saturating_sub(self.last_time);
        let ran = now.schedules != self.last_schedules;
        self.last_time = now.time;
        self.last_schedules = now.schedules;
        self.last_used = used;
        if used >= quantum {
            if self.current > self.min {
                self.current -= 1;
                self.demotions += 1;
            }
        } else if ran && used < quantum / 2 {
            self.current = self.max;
        }
        if ran {
            self.idle_periods = 0;
        } else {
            self.idle_periods += 1;
            if self.idle_periods >= STARVED_PERIODS {
                self.idle_periods = 0;
                self.current = (self.current + 1).min(self.max);
            }
        }
        self.current
    }
}

/// One period: samples every entry with its new counter reading and
/// calls `changed(pid, new priority)` for each process whose priority
/// moved. (No allocation: the policy server has no heap.)
pub fn period(
    entries: &mut [Entry],
    samples: &[Sample],
    quantum: u64,
    mut changed: impl FnMut(u64, u8),
) {
    for (e, &t) in entries.iter_mut().zip(samples) {
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

    /// A reading after `time` of CPU time over `schedules` switches.
    fn at(time: u64, schedules: u64) -> Sample {
        Sample { time, schedules }
    }

    #[test]
    fn a_cpu_bound_process_sinks_to_its_floor_and_no_further() {
        let mut e = Entry::new(1, 60, 0);
        let mut t = 0;
        for (k, expected) in (52..60).rev().enumerate() {
            t += 2 * Q;
            assert_eq!(e.sample(at(t, k as u64 + 1), Q), expected);
        }
        t += 2 * Q;
        assert_eq!(e.sample(at(t, 99), Q), 52);
        assert_eq!(e.demotions, 8);
    }

    #[test]
    fn a_process_that_blocks_regains_its_priority_at_once() {
        let mut e = Entry::new(1, 60, 0);
        for (k, t) in [Q, 2 * Q, 3 * Q].into_iter().enumerate() {
            e.sample(at(t, k as u64 + 1), Q);
        }
        assert_eq!(e.current, 57);
        // Half a quantum or more but less than one: stays.
        assert_eq!(e.sample(at(3 * Q + Q / 2, 4), Q), 57);
        // Ran, but less than half: back to the top.
        assert_eq!(e.sample(at(3 * Q + Q / 2 + 1, 5), Q), 60);
    }

    #[test]
    fn a_process_that_did_not_run_rises_one_level_a_period() {
        let mut e = Entry::new(1, 60, 0);
        e.sample(at(3 * Q, 3), Q);
        e.sample(at(6 * Q, 6), Q);
        assert_eq!(e.current, 58);
        // Starved (or asleep): no switch to it at all, a level every
        // STARVED_PERIODS periods.
        for level in [59, 60, 60] {
            for _ in 1..STARVED_PERIODS {
                e.sample(at(6 * Q, 6), Q);
            }
            assert_eq!(e.sample(at(6 * Q, 6), Q), level);
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
        assert_eq!(e.sample(at(100, 1), Q), FLOOR);
    }

    #[test]
    fn a_counter_that_went_backwards_counts_as_idle() {
        // A reset of the kernel's counters reads lower than before.
        let mut e = Entry::new(1, 60, 1000);
        e.sample(at(5000, 1), Q);
        assert_eq!(e.current, 59);
        assert_eq!(e.sample(at(10, 2), Q), 60);
        assert_eq!(e.last_time, 10);
    }

    /// Two hogs and a process that blocks, on a model of the kernel's
    /// scheduler: the highest runnable priority gets the period, shared
    /// round robin.
    #[test]
    fn hogs_sink_below_an_interactive_process_and_share_the_floor() {
        let mut entries = vec![
            Entry::new(1, 60, 0),
            Entry::new(2, 60, 0),
            Entry::new(3, 60, 0),
        ];
        let mut samples = [Sample::default(); 3];
        let period_len = 4 * Q;
        let mut first = Vec::new();
        for round in 0..40 {
            // The interactive process runs briefly whatever the hogs do.
            samples[2].time += 1;
            samples[2].schedules += 1;
            let top = entries[0].current.max(entries[1].current);
            let sharing: Vec<usize> = (0..2).filter(|&i| entries[i].current == top).collect();
            for &i in &sharing {
                samples[i].time += period_len / sharing.len() as u64;
                samples[i].schedules += 2;
            }
            let mut changes = Vec::new();
            period(&mut entries, &samples, Q, |pid, prio| {
                changes.push((pid, prio))
            });
            if round == 0 {
                first = changes;
            }
            assert_eq!(entries[2].current, 60, "round {round}");
            assert!(entries[0].current < 60 || entries[1].current < 60);
        }
        assert_eq!(first, vec![(1, 59), (2, 59)]);
        // In the end both hogs sit at the floor and share it.
        assert_eq!(entries[0].current, entries[1].current);
        assert_eq!(
            entries.iter().map(|e| e.current).collect::<Vec<_>>(),
            vec![52, 52, 60]
        );
    }

    /// A hog admitted while another has sunk: they meet at one level and
    /// share it instead of swapping levels.
    #[test]
    fn hogs_a_level_apart_meet() {
        let mut entries = vec![Entry::new(1, 60, 0), Entry::new(2, 60, 0)];
        entries[0].current = 55;
        entries[1].current = 56;
        let mut samples = [Sample::default(); 2];
        for _ in 0..20 {
            let top = entries[0].current.max(entries[1].current);
            let sharing: Vec<usize> = (0..2).filter(|&i| entries[i].current == top).collect();
            for &i in &sharing {
                samples[i].time += 4 * Q / sharing.len() as u64;
                samples[i].schedules += 1;
            }
            period(&mut entries, &samples, Q, |_, _| {});
        }
        assert_eq!(entries[0].current, entries[1].current);
        assert_eq!(entries[0].current, entries[0].min);
    }
}
