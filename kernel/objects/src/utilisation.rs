//! Thread CPU-time accounting: seL4's thread-utilisation benchmark
//! interface (`CONFIG_BENCHMARK_TRACK_UTILISATION`, docs/sel4-abi.md §2.1
//! numbers −23 … −26), the mechanism a user-level priority-policy server
//! measures threads with.
//!
//! The kernel binary stamps each entry and exit with the generic timer's
//! counter ([`Kernel::begin_entry`], [`Kernel::end_entry`]); the scheduler
//! charges the time between two thread switches to the thread switched
//! away from ([`Kernel::account_switch`], called by `switch_to_thread` and
//! on the switch to idle), as seL4's `benchmark_utilisation_switch` does
//! with `ksEnter`. The idle thread, which has no TCB here, keeps its
//! counters in [`UtilisationState`]. Nothing is decided from these counts.
//!
//! Where Cerne differs from seL4, and why:
//!
//! * seL4 counts only between BenchmarkResetLog and BenchmarkFinalizeLog;
//!   Cerne has neither call and counts from boot. Its period (the
//!   TOTAL_UTILISATION word) starts at boot and again at each
//!   ResetAllThreadsUtilisation, which in Cerne also zeroes the idle
//!   counters and the totals (seL4's ResetLog did that part).
//! * The kernel keeps no list of all TCBs, so ResetAll starts a new reset
//!   generation: counters of an older generation read as zero (O(1), and
//!   it reaches every TCB as seL4's walk of its debug list does).
//! * A reset sets the thread's start time to the reset's kernel entry, so a
//!   thread that resets itself is charged from then on (seL4 sets it to 0
//!   and relies on ResetLog to set it again).
//!
//! As in seL4, a cptr that does not name a TCB cap makes these calls do
//! nothing: no error, no fault, registers and IPC buffer unchanged (seL4
//! prints a `userError` line, which only debug builds with
//! `CONFIG_PRINTING` show; Cerne prints nothing).
#![forbid(unsafe_code)]

use crate::cap::Cap;
use crate::cspace;
use crate::layout::{UtilisationCounters, TCB_UTILISATION_OFFSET};
use crate::tcb::{self, TcbObj};
use crate::Kernel;
use core::mem::offset_of;

/// Offset, in a TCB, of the word of its [`UtilisationCounters`] at `off`.
const fn counter(off: usize) -> u64 {
    TCB_UTILISATION_OFFSET + off as u64
}
const U_EPOCH: u64 = counter(offset_of!(UtilisationCounters, epoch));
const U_SCHEDULE_START: u64 = counter(offset_of!(UtilisationCounters, schedule_start));
const U_CPU_TIME: u64 = counter(offset_of!(UtilisationCounters, cpu_time));
const U_SCHEDULES: u64 = counter(offset_of!(UtilisationCounters, schedules));
const U_KERNEL_TIME: u64 = counter(offset_of!(UtilisationCounters, kernel_time));
const U_KERNEL_ENTRIES: u64 = counter(offset_of!(UtilisationCounters, kernel_entries));
// Six words, all of them named above.
const _: () = assert!(core::mem::size_of::<UtilisationCounters>() == 48);
use cerne_abi::benchmark::*;

/// The kernel-wide side of the accounting: the current entry's time stamp,
/// the period, the idle thread's counters and the totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UtilisationState {
    /// Counter value at the current kernel entry (seL4's `ksEnter`).
    pub entry_time: u64,
    /// Between [`Kernel::begin_entry`] and [`Kernel::end_entry`].
    pub in_kernel: bool,
    /// Reset generation; TCB counters of another generation read as zero.
    pub epoch: u64,
    /// Counter value when the period began (boot, or ResetAll).
    pub period_start: u64,
    /// The idle thread's counters.
    pub idle: UtilisationCounters,
    /// Thread switches in the period.
    pub total_schedules: u64,
    /// Time in the kernel in the period.
    pub total_kernel_time: u64,
    /// Kernel entries in the period.
    pub total_kernel_entries: u64,
}

impl UtilisationState {
    /// Nothing counted yet (the period starts at time 0).
    pub const fn new() -> Self {
        Self {
            entry_time: 0,
            in_kernel: false,
            epoch: 0,
            period_start: 0,
            idle: UtilisationCounters {
                epoch: 0,
                schedule_start: 0,
                cpu_time: 0,
                schedules: 0,
                kernel_time: 0,
                kernel_entries: 0,
            },
            total_schedules: 0,
            total_kernel_time: 0,
            total_kernel_entries: 0,
        }
    }
}

impl Kernel<'_> {
    /// The counters of thread `t` (0 = the idle thread), zero if they
    /// belong to an older reset generation.
    pub fn utilisation_counters(&self, t: u64) -> UtilisationCounters {
        let u = &self.state.utilisation;
        let c = if t == 0 {
            u.idle
        } else {
            self.mem.read(t + TCB_UTILISATION_OFFSET)
        };
        if c.epoch == u.epoch {
            c
        } else {
            UtilisationCounters {
                epoch: u.epoch,
                schedule_start: u.period_start,
                ..UtilisationCounters::default()
            }
        }
    }

    fn update_utilisation(&mut self, t: u64, f: impl FnOnce(&mut UtilisationCounters)) {
        let mut c = self.utilisation_counters(t);
        f(&mut c);
        if t == 0 {
            self.state.utilisation.idle = c;
        } else {
            self.mem.write(t + TCB_UTILISATION_OFFSET, &c);
        }
    }

    /// Thread `t`'s counters (`t` != 0) as a handle on its TCB, first
    /// brought to the current epoch as [`Kernel::utilisation_counters`]
    /// would read them: the hot paths (every entry's end, every switch)
    /// then change only the words they need, leaving the same bytes as a
    /// whole-struct [`Kernel::update_utilisation`].
    #[inline(always)]
    fn current_counters(&self, t: u64) -> TcbObj<'_> {
        let o = tcb::obj(&self.mem, t);
        let u = &self.state.utilisation;
        if o.word(U_EPOCH) != u.epoch {
            o.set_word(U_EPOCH, u.epoch);
            o.set_word(U_SCHEDULE_START, u.period_start);
            for w in [U_CPU_TIME, U_SCHEDULES, U_KERNEL_TIME, U_KERNEL_ENTRIES] {
                o.set_word(w, 0);
            }
        }
        o
    }

    /// Starts the accounting at boot: the period begins at `now` and the
    /// thread about to run first is charged from `now`.
    pub fn start_utilisation(&mut self, now: u64) {
        self.state.utilisation.period_start = now;
        self.state.utilisation.entry_time = now;
        let cur = self.state.current;
        self.update_utilisation(cur, |c| c.schedule_start = now);
    }

    /// A kernel entry begins at counter value `now` (seL4's `c_entry_hook`).
    pub fn begin_entry(&mut self, now: u64) {
        self.state.utilisation.entry_time = now;
        self.state.utilisation.in_kernel = true;
    }

    /// The kernel entry ends at counter value `now`, about to run the
    /// current thread or to idle (seL4's `c_exit_hook`): the entry's time
    /// is charged to the thread that runs next. A second call without a new
    /// entry (an idle loop woken without an interrupt) counts nothing.
    pub fn end_entry(&mut self, now: u64) {
        let u = &mut self.state.utilisation;
        if !u.in_kernel {
            return;
        }
        u.in_kernel = false;
        let spent = now.saturating_sub(u.entry_time);
        u.total_kernel_entries += 1;
        u.total_kernel_time += spent;
        let cur = self.state.current;
        if cur == 0 {
            self.update_utilisation(0, |c| {
                c.kernel_entries += 1;
                c.kernel_time += spent;
            });
        } else {
            let o = self.current_counters(cur);
            o.set_word(U_KERNEL_ENTRIES, o.word(U_KERNEL_ENTRIES) + 1);
            o.set_word(U_KERNEL_TIME, o.word(U_KERNEL_TIME) + spent);
        }
    }

    /// The scheduler switches from `from` to `to` (0 = idle) at this
    /// entry's time: `from` is charged since it was switched to, and `to`
    /// starts being charged.
    pub(crate) fn account_switch(&mut self, from: u64, to: u64) {
        let now = self.state.utilisation.entry_time;
        if from == 0 {
            self.update_utilisation(0, |c| {
                c.cpu_time += now.saturating_sub(c.schedule_start);
            });
        } else {
            let o = self.current_counters(from);
            let ran = now.saturating_sub(o.word(U_SCHEDULE_START));
            o.set_word(U_CPU_TIME, o.word(U_CPU_TIME) + ran);
        }
        if to == 0 {
            self.update_utilisation(0, |c| {
                c.schedule_start = now;
                c.schedules += 1;
            });
        } else {
            let o = self.current_counters(to);
            o.set_word(U_SCHEDULE_START, now);
            o.set_word(U_SCHEDULES, o.word(U_SCHEDULES) + 1);
        }
        self.state.utilisation.total_schedules += 1;
    }

    /// The TCB that the cptr in x0 of the current thread names, if it names
    /// one (as seL4's `lookupCap` with a thread-cap check).
    fn utilisation_target(&self, t: u64) -> Option<u64> {
        let cptr = crate::tcb::context(&self.mem, t).x[0];
        match cspace::lookup_cap(&self.mem, self.cspace_root(t), cptr) {
            Ok((_, Cap::Thread { tcb })) => Some(tcb),
            _ => None,
        }
    }

    /// The words seL4_BenchmarkGetThreadUtilisation reports for `target`.
    pub fn utilisation_words(&self, target: u64) -> [u64; UTILISATION_WORDS] {
        let u = &self.state.utilisation;
        let tcb = self.utilisation_counters(target);
        let idle = self.utilisation_counters(0);
        let mut w = [0u64; UTILISATION_WORDS];
        w[TCB_UTILISATION] = tcb.cpu_time;
        w[TCB_NUMBER_SCHEDULES] = tcb.schedules;
        w[TCB_KERNEL_UTILISATION] = tcb.kernel_time;
        w[TCB_NUMBER_KERNEL_ENTRIES] = tcb.kernel_entries;
        w[IDLE_LOCALCPU_UTILISATION] = idle.cpu_time;
        w[IDLE_TCBCPU_UTILISATION] = idle.cpu_time;
        w[IDLE_NUMBER_SCHEDULES] = idle.schedules;
        w[IDLE_KERNEL_UTILISATION] = idle.kernel_time;
        w[IDLE_NUMBER_KERNEL_ENTRIES] = idle.kernel_entries;
        w[TOTAL_UTILISATION] = u.entry_time.saturating_sub(u.period_start);
        w[TOTAL_NUMBER_SCHEDULES] = u.total_schedules;
        w[TOTAL_KERNEL_UTILISATION] = u.total_kernel_time;
        w[TOTAL_NUMBER_KERNEL_ENTRIES] = u.total_kernel_entries;
        w
    }

    /// seL4_BenchmarkGetThreadUtilisation of thread `t`: the words go to
    /// its IPC buffer from `msg[0]`. Nothing happens when x0 names no TCB
    /// or `t` has no IPC buffer it may write.
    pub(crate) fn benchmark_get_thread_utilisation(&mut self, t: u64) {
        let Some(target) = self.utilisation_target(t) else {
            return;
        };
        let Some(buf) = self.ipc_buffer(t, true) else {
            return;
        };
        for (i, w) in self.utilisation_words(target).iter().enumerate() {
            self.mem.write(buf + 8 * (i as u64 + 1), w);
        }
    }

    /// seL4_BenchmarkResetThreadUtilisation of thread `t`: zeroes the
    /// counters of the TCB x0 names (nothing if it names none).
    pub(crate) fn benchmark_reset_thread_utilisation(&mut self, t: u64) {
        let Some(target) = self.utilisation_target(t) else {
            return;
        };
        self.reset_thread_utilisation(target);
    }

    /// Zeroes `target`'s counters; it is charged from this entry on.
    pub fn reset_thread_utilisation(&mut self, target: u64) {
        let u = &self.state.utilisation;
        let fresh = UtilisationCounters {
            epoch: u.epoch,
            schedule_start: u.entry_time,
            ..UtilisationCounters::default()
        };
        self.mem.write(target + TCB_UTILISATION_OFFSET, &fresh);
    }

    /// seL4_BenchmarkResetAllThreadsUtilisation: every thread's counters,
    /// the idle thread's and the totals restart from zero, and a new
    /// period begins at this entry.
    pub fn reset_all_threads_utilisation(&mut self) {
        let u = &mut self.state.utilisation;
        u.epoch += 1;
        u.period_start = u.entry_time;
        u.total_schedules = 0;
        u.total_kernel_time = 0;
        u.total_kernel_entries = 0;
    }
}
