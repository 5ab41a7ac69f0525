//! System call numbers (docs/sel4-abi.md §2.1) and the `svc #0` register roles.
//!
//! The number goes in x7. Anything outside the present set raises an
//! UnknownSyscall fault carrying the full x7 value. Of seL4's benchmark
//! calls only the thread-utilisation ones (−23 … −26) are present
//! ([`crate::benchmark`]).

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
}

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
        assert_eq!(Syscall::from_word(1), None);
        // Only the low bits matching is not enough: the full word is compared.
        assert_eq!(Syscall::from_word(0x0000_0000_ffff_ffff), None);
    }
}
