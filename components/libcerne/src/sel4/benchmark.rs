//! seL4's thread-utilisation calls (`CONFIG_BENCHMARK_TRACK_UTILISATION`,
//! system calls −23, −24 and −26; [`cerne_abi::benchmark`] holds the word
//! order): how much CPU time a thread, the idle thread and the whole
//! system used, in generic-timer counts (CNTVCT_EL0; CNTFRQ_EL0 per
//! second). What a user-level scheduling policy measures threads with.

use super::cap::{Cap, Tcb};
use super::ipc_buffer;
use super::syscall::raw_syscall;
use cerne_abi::benchmark::*;
use cerne_abi::error::Error;
use cerne_abi::syscall::Syscall;
use cerne_abi::Word;

/// What seL4_BenchmarkGetThreadUtilisation reports, word by word.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadUtilisation {
    /// Time the thread was scheduled, summed at each switch away from it
    /// (a running thread's current stretch is not in it yet).
    pub thread_time: u64,
    /// Times the thread was switched to.
    pub thread_schedules: u64,
    /// Time in the kernel on the thread's entries.
    pub thread_kernel_time: u64,
    /// Kernel entries the thread made.
    pub thread_kernel_entries: u64,
    /// Time the idle thread was scheduled.
    pub idle_time: u64,
    /// Times the idle thread was switched to.
    pub idle_schedules: u64,
    /// Time in the kernel on entries taken while idle.
    pub idle_kernel_time: u64,
    /// Kernel entries taken while idle.
    pub idle_kernel_entries: u64,
    /// Time since the period began (boot or the last reset of all threads).
    pub total_time: u64,
    /// Thread switches in the period.
    pub total_schedules: u64,
    /// Time in the kernel in the period.
    pub total_kernel_time: u64,
    /// Kernel entries in the period.
    pub total_kernel_entries: u64,
}

/// A value the kernel never reports for a thread's time (2^64 counts),
/// left in the buffer to see whether the kernel wrote it.
const NOT_WRITTEN: Word = Word::MAX;

/// seL4_BenchmarkGetThreadUtilisation of `tcb`. The kernel, like seL4,
/// does nothing for a cptr that names no TCB cap; that case is
/// `Err(Error::InvalidCapability)` here (found from a word the kernel did
/// not overwrite).
pub fn benchmark_get_thread_utilisation(tcb: Cap<Tcb>) -> Result<ThreadUtilisation, Error> {
    ipc_buffer::set_mr(TCB_UTILISATION, NOT_WRITTEN);
    raw_syscall(
        Syscall::BenchmarkGetThreadUtilisation.word(),
        [tcb.cptr(), 0, 0, 0, 0, 0],
    );
    let w = ipc_buffer::mr;
    if w(TCB_UTILISATION) == NOT_WRITTEN {
        return Err(Error::InvalidCapability);
    }
    Ok(ThreadUtilisation {
        thread_time: w(TCB_UTILISATION),
        thread_schedules: w(TCB_NUMBER_SCHEDULES),
        thread_kernel_time: w(TCB_KERNEL_UTILISATION),
        thread_kernel_entries: w(TCB_NUMBER_KERNEL_ENTRIES),
        idle_time: w(IDLE_LOCALCPU_UTILISATION),
        idle_schedules: w(IDLE_NUMBER_SCHEDULES),
        idle_kernel_time: w(IDLE_KERNEL_UTILISATION),
        idle_kernel_entries: w(IDLE_NUMBER_KERNEL_ENTRIES),
        total_time: w(TOTAL_UTILISATION),
        total_schedules: w(TOTAL_NUMBER_SCHEDULES),
        total_kernel_time: w(TOTAL_KERNEL_UTILISATION),
        total_kernel_entries: w(TOTAL_NUMBER_KERNEL_ENTRIES),
    })
}

/// seL4_BenchmarkResetThreadUtilisation: zeroes `tcb`'s counters (nothing
/// happens for a cptr that names no TCB cap, as in seL4).
pub fn benchmark_reset_thread_utilisation(tcb: Cap<Tcb>) {
    raw_syscall(
        Syscall::BenchmarkResetThreadUtilisation.word(),
        [tcb.cptr(), 0, 0, 0, 0, 0],
    );
}

/// seL4_BenchmarkResetAllThreadsUtilisation: zeroes every thread's
/// counters, the idle thread's and the totals, and starts a new period.
pub fn benchmark_reset_all_threads_utilisation() {
    raw_syscall(Syscall::BenchmarkResetAllThreadsUtilisation.word(), [0; 6]);
}

/// seL4_BenchmarkDumpAllThreadsUtilisation: the kernel prints the totals,
/// the idle thread and every thread the caller's CSpace reaches.
pub fn benchmark_dump_all_threads_utilisation() {
    raw_syscall(Syscall::BenchmarkDumpAllThreadsUtilisation.word(), [0; 6]);
}
