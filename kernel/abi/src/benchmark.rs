//! seL4's thread-utilisation benchmark interface
//! (`CONFIG_BENCHMARK_TRACK_UTILISATION`, libsel4's
//! `benchmark_utilisation_types.h`): the order of the words that
//! seL4_BenchmarkGetThreadUtilisation writes into the caller's IPC buffer,
//! from `msg[0]` on.
//!
//! Cerne enables this part of seL4's benchmark configuration only: the
//! system calls −23 … −26 (see [`crate::syscall::Syscall`]) keep seL4's
//! numbers and meaning, and times are counts of the generic timer
//! (CNTVCT_EL0; divide by CNTFRQ_EL0 for seconds). Nothing else of seL4's benchmark configuration (log buffer,
//! ResetLog / FinalizeLog, FlushCaches, NullSyscall) is present.

/// Time the named thread was scheduled (counter ticks).
pub const TCB_UTILISATION: usize = 0;
/// Times the named thread was switched to.
pub const TCB_NUMBER_SCHEDULES: usize = 1;
/// Time spent in the kernel on entries the named thread made.
pub const TCB_KERNEL_UTILISATION: usize = 2;
/// Kernel entries the named thread made.
pub const TCB_NUMBER_KERNEL_ENTRIES: usize = 3;
/// Time the idle thread of this CPU was scheduled.
pub const IDLE_LOCALCPU_UTILISATION: usize = 4;
/// Time the idle thread of the named thread's CPU was scheduled (on one
/// CPU the same as [`IDLE_LOCALCPU_UTILISATION`]).
pub const IDLE_TCBCPU_UTILISATION: usize = 5;
/// Times the idle thread was switched to.
pub const IDLE_NUMBER_SCHEDULES: usize = 6;
/// Time spent in the kernel on entries taken while idle.
pub const IDLE_KERNEL_UTILISATION: usize = 7;
/// Kernel entries taken while idle.
pub const IDLE_NUMBER_KERNEL_ENTRIES: usize = 8;
/// Time since the period began (Cerne: boot or the last
/// ResetAllThreadsUtilisation) up to this call's kernel entry.
pub const TOTAL_UTILISATION: usize = 9;
/// Thread switches in the period.
pub const TOTAL_NUMBER_SCHEDULES: usize = 10;
/// Time spent in the kernel in the period.
pub const TOTAL_KERNEL_UTILISATION: usize = 11;
/// Kernel entries in the period.
pub const TOTAL_NUMBER_KERNEL_ENTRIES: usize = 12;
/// Number of words seL4_BenchmarkGetThreadUtilisation writes.
pub const UTILISATION_WORDS: usize = 13;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_follow_sel4s_enum_order() {
        let order = [
            TCB_UTILISATION,
            TCB_NUMBER_SCHEDULES,
            TCB_KERNEL_UTILISATION,
            TCB_NUMBER_KERNEL_ENTRIES,
            IDLE_LOCALCPU_UTILISATION,
            IDLE_TCBCPU_UTILISATION,
            IDLE_NUMBER_SCHEDULES,
            IDLE_KERNEL_UTILISATION,
            IDLE_NUMBER_KERNEL_ENTRIES,
            TOTAL_UTILISATION,
            TOTAL_NUMBER_SCHEDULES,
            TOTAL_KERNEL_UTILISATION,
            TOTAL_NUMBER_KERNEL_ENTRIES,
        ];
        for (i, index) in order.iter().enumerate() {
            assert_eq!(i, *index);
        }
        assert_eq!(order.len(), UTILISATION_WORDS);
    }
}
