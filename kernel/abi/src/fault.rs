//! Fault types and fault-message layouts (docs/sel4-abi.md §7).

use crate::Word;

/// Fault type labels (the MessageInfo label of a fault message).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum FaultType {
    /// seL4_Fault_NullFault (never delivered).
    Null = 0,
    /// seL4_Fault_CapFault.
    CapFault = 1,
    /// seL4_Fault_UnknownSyscall.
    UnknownSyscall = 2,
    /// seL4_Fault_UserException.
    UserException = 3,
    /// seL4_Fault_VMFault.
    VmFault = 5,
}

impl FaultType {
    /// The label word.
    pub const fn word(self) -> Word {
        self as Word
    }
}

/// CapFault: MR0 restart PC.
pub const CAP_FAULT_IP: usize = 0;
/// CapFault: MR1 faulting cptr.
pub const CAP_FAULT_ADDR: usize = 1;
/// CapFault: MR2 1 if in receive phase.
pub const CAP_FAULT_IN_RECV_PHASE: usize = 2;
/// CapFault: MR3 lookup-failure type word (then its operands).
pub const CAP_FAULT_LOOKUP_FAILURE_TYPE: usize = 3;

/// UnknownSyscall message length.
pub const UNKNOWN_SYSCALL_LENGTH: usize = 13;
/// UnknownSyscall: MR8 FaultIP.
pub const UNKNOWN_SYSCALL_FAULT_IP: usize = 8;
/// UnknownSyscall: MR9 SP_EL0.
pub const UNKNOWN_SYSCALL_SP: usize = 9;
/// UnknownSyscall: MR10 ELR_EL1.
pub const UNKNOWN_SYSCALL_LR: usize = 10;
/// UnknownSyscall: MR11 SPSR_EL1.
pub const UNKNOWN_SYSCALL_SPSR: usize = 11;
/// UnknownSyscall: MR12 syscall number.
pub const UNKNOWN_SYSCALL_SYSCALL: usize = 12;
/// Registers an UnknownSyscall reply may write.
pub const UNKNOWN_SYSCALL_REPLY_REGS: usize = 12;

/// UserException message length.
pub const USER_EXCEPTION_LENGTH: usize = 5;
/// Registers a UserException reply may write.
pub const USER_EXCEPTION_REPLY_REGS: usize = 3;

/// VMFault message length.
pub const VM_FAULT_LENGTH: usize = 4;
/// VMFault: MR0 restart PC.
pub const VM_FAULT_IP: usize = 0;
/// VMFault: MR1 fault address.
pub const VM_FAULT_ADDR: usize = 1;
/// VMFault: MR2 1 for an instruction fault.
pub const VM_FAULT_PREFETCH: usize = 2;
/// VMFault: MR3 FSR (ESR_EL1 low 32 bits).
pub const VM_FAULT_FSR: usize = 3;

/// Number of words in seL4_UserContext.
pub const USER_CONTEXT_WORDS: usize = 36;
/// Frame registers (indices 0..17 of seL4_UserContext).
pub const FRAME_REGISTERS: usize = 17;
/// Integer registers (indices 17..36 of seL4_UserContext).
pub const GP_REGISTERS: usize = 19;

/// Register named by each seL4_UserContext index: `Some(n)` = xn, otherwise
/// one of the special registers below.
pub const USER_CONTEXT_ORDER: [UserContextReg; USER_CONTEXT_WORDS] = {
    use UserContextReg::*;
    [
        Pc,
        Sp,
        Spsr,
        X(0),
        X(1),
        X(2),
        X(3),
        X(4),
        X(5),
        X(6),
        X(7),
        X(8),
        X(16),
        X(17),
        X(18),
        X(29),
        X(30),
        X(9),
        X(10),
        X(11),
        X(12),
        X(13),
        X(14),
        X(15),
        X(19),
        X(20),
        X(21),
        X(22),
        X(23),
        X(24),
        X(25),
        X(26),
        X(27),
        X(28),
        TpidrEl0,
        TpidrroEl0,
    ]
};

/// One register of seL4_UserContext (§7.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UserContextReg {
    /// Restart PC (FaultIP).
    Pc,
    /// SP_EL0.
    Sp,
    /// SPSR_EL1.
    Spsr,
    /// General register xn.
    X(u8),
    /// TPIDR_EL0.
    TpidrEl0,
    /// TPIDRRO_EL0.
    TpidrroEl0,
}

/// SPSR sanitisation on register writes: NZCV kept, EL0t AArch64, FIQ masked.
pub const fn sanitise_spsr(value: Word) -> Word {
    (value & 0xF000_0000) | 0x40
}

/// Initial SPSR of every thread.
pub const INITIAL_SPSR: Word = 0x40;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_covers_all_registers_once() {
        let mut seen = [false; 31];
        for r in USER_CONTEXT_ORDER {
            if let UserContextReg::X(n) = r {
                assert!(!seen[n as usize]);
                seen[n as usize] = true;
            }
        }
        assert!(seen.iter().all(|s| *s));
        assert_eq!(USER_CONTEXT_ORDER[15], UserContextReg::X(29));
        assert_eq!(sanitise_spsr(0xffff_ffff), 0xF000_0040);
        assert_eq!(FRAME_REGISTERS + GP_REGISTERS, USER_CONTEXT_WORDS);
        assert_eq!(FaultType::VmFault.word(), 5);
    }
}
