//! System call numbers (docs/sel4-abi.md §2.1) and the `svc #0` register roles.
//!
//! The number goes in x7. Anything outside the present set raises an
//! UnknownSyscall fault carrying the full x7 value. Of seL4's benchmark
//! calls only the thread-utilisation ones (−23 … −26) are present
//! ([`crate::benchmark`]). Cerne's own debug calls start at
//! [`CERNE_DEBUG_BASE`] (−64), far below every number seL4 gives a
//! meaning in any configuration (its MCS numbering ends at −33).

/// A system call number as passed in x7 (negative, two's complement).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i64)]
pub enum Syscall {
    Call = -1,
    ReplyRecv = -2,
    Send = -3,
    NBSend = -4,
    Recv = -5,
    Reply = -6,
    Yield = -7,
    NBRecv = -8,
    DebugPutChar = -9,
    DebugDumpScheduler = -10,
    DebugHalt = -11,
    DebugCapIdentify = -12,
    DebugSnapshot = -13,
    DebugNameThread = -14,
    BenchmarkGetThreadUtilisation = -23,
    BenchmarkResetThreadUtilisation = -24,
    BenchmarkDumpAllThreadsUtilisation = -25,
    BenchmarkResetAllThreadsUtilisation = -26,
    /// Cerne's: the state of the n-th thread of the kernel's list of every
    /// TCB ([`thread_info`]; docs/kernel.md).
    DebugThreadInfo = -64,
}

/// The first of Cerne's own debug calls (numbers −64 and below).
pub const CERNE_DEBUG_BASE: i64 = -64;

/// Lowest number of the kernel's range check (`SYSCALL_MIN`).
pub const SYSCALL_MIN: i64 = -8;
/// Highest number of the kernel's range check (`SYSCALL_MAX`).
pub const SYSCALL_MAX: i64 = -1;

impl Syscall {
    /// Decodes the full 64-bit x7 value; `None` means UnknownSyscall.
    pub fn from_word(x7: u64) -> Option<Self> {
        use Syscall::*;
        Some(match x7 as i64 {
            -1 => Call,
            -2 => ReplyRecv,
            -3 => Send,
            -4 => NBSend,
            -5 => Recv,
            -6 => Reply,
            -7 => Yield,
            -8 => NBRecv,
            -9 => DebugPutChar,
            -10 => DebugDumpScheduler,
            -11 => DebugHalt,
            -12 => DebugCapIdentify,
            -13 => DebugSnapshot,
            -14 => DebugNameThread,
            -23 => BenchmarkGetThreadUtilisation,
            -24 => BenchmarkResetThreadUtilisation,
            -25 => BenchmarkDumpAllThreadsUtilisation,
            -26 => BenchmarkResetAllThreadsUtilisation,
            -64 => DebugThreadInfo,
            _ => return None,
        })
    }

    /// The word to place in x7.
    pub const fn word(self) -> u64 {
        self as i64 as u64
    }
}

/// Longest thread name DebugNameThread reads before it gives up (bytes).
pub const DEBUG_NAME_THREAD_MAX: usize = 960;

/// DebugThreadInfo (−64), Cerne's: x0 = n, an index into the kernel's
/// list of every TCB in the order they were made (seL4 debug builds keep
/// the same list, `ksDebugTCBs`). On return x0 is [`thread_info::FOUND`]
/// when there is an n-th thread, else 0 and nothing else is written;
/// x1 its `ThreadState` code, x2 its priority, x3 its MCP, x4 what it is
/// blocked on (the endpoint or notification it waits at, or for BlockedOnReply the TCB of the thread
/// that holds its reply cap, 0 for none) and x5 its TCB's physical
/// address. Its name, NUL-terminated and at most
/// [`thread_info::NAME_MAX`] bytes with the NUL, is written to the
/// caller's IPC buffer at `msg[0]` (byte offset 8), when the caller has a
/// writable one. The call never faults or halts.
pub mod thread_info {
    /// x0 when the n-th thread exists.
    pub const FOUND: u64 = 1;
    /// Bytes of the name written to the IPC buffer, the NUL included.
    pub const NAME_MAX: usize = 64;
    /// Byte offset of the name in the IPC buffer (`msg[0]`).
    pub const NAME_OFFSET: u64 = 8;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for n in (1..=14i64).chain(23..=26) {
            let s = Syscall::from_word((-n) as u64).expect("present syscall");
            assert_eq!(s.word(), (-n) as u64);
        }
        assert_eq!(Syscall::from_word(0), None);
        for n in 15..=22i64 {
            assert_eq!(Syscall::from_word((-n) as u64), None);
        }
        assert_eq!(Syscall::from_word((-27i64) as u64), None);
        assert_eq!(
            Syscall::from_word(CERNE_DEBUG_BASE as u64),
            Some(Syscall::DebugThreadInfo)
        );
        assert_eq!(Syscall::DebugThreadInfo.word(), (-64i64) as u64);
        for n in [30i64, 33, 63, 65] {
            assert_eq!(Syscall::from_word((-n) as u64), None);
        }
        assert_eq!(Syscall::from_word(1), None);
        // Only the low bits matching is not enough: the full word is compared.
        assert_eq!(Syscall::from_word(0x0000_0000_ffff_ffff), None);
    }
}
