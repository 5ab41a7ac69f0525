//! Invocation labels (docs/sel4-abi.md §5.1): the MessageInfo label of a call to
//! a kernel object, numbered as seL4's generator numbers them here.

use crate::Word;

/// An invocation label. `InvalidInvocation` (0) is never a valid method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u64)]
pub enum InvocationLabel {
    /// Label 0: no method.
    InvalidInvocation = 0,
    /// seL4 `UntypedRetype`.
    UntypedRetype = 1,
    /// seL4 `TCBReadRegisters`.
    TcbReadRegisters = 2,
    /// seL4 `TCBWriteRegisters`.
    TcbWriteRegisters = 3,
    /// seL4 `TCBCopyRegisters`.
    TcbCopyRegisters = 4,
    /// seL4 `TCBConfigure`.
    TcbConfigure = 5,
    /// seL4 `TCBSetPriority`.
    TcbSetPriority = 6,
    /// seL4 `TCBSetMCPriority`.
    TcbSetMcPriority = 7,
    /// seL4 `TCBSetSchedParams`.
    TcbSetSchedParams = 8,
    /// seL4 `TCBSetIPCBuffer`.
    TcbSetIpcBuffer = 9,
    /// seL4 `TCBSetSpace`.
    TcbSetSpace = 10,
    /// seL4 `TCBSuspend`.
    TcbSuspend = 11,
    /// seL4 `TCBResume`.
    TcbResume = 12,
    /// seL4 `TCBBindNotification`.
    TcbBindNotification = 13,
    /// seL4 `TCBUnbindNotification`.
    TcbUnbindNotification = 14,
    /// seL4 `TCBSetTLSBase`.
    TcbSetTlsBase = 15,
    /// seL4 `TCBSetFlags`.
    TcbSetFlags = 16,
    /// seL4 `CNodeRevoke`.
    CNodeRevoke = 17,
    /// seL4 `CNodeDelete`.
    CNodeDelete = 18,
    /// seL4 `CNodeCancelBadgedSends`.
    CNodeCancelBadgedSends = 19,
    /// seL4 `CNodeCopy`.
    CNodeCopy = 20,
    /// seL4 `CNodeMint`.
    CNodeMint = 21,
    /// seL4 `CNodeMove`.
    CNodeMove = 22,
    /// seL4 `CNodeMutate`.
    CNodeMutate = 23,
    /// seL4 `CNodeRotate`.
    CNodeRotate = 24,
    /// seL4 `CNodeSaveCaller`.
    CNodeSaveCaller = 25,
    /// seL4 `IRQIssueIRQHandler`.
    IrqIssueIrqHandler = 26,
    /// seL4 `IRQAckIRQ`.
    IrqAckIrq = 27,
    /// seL4 `IRQSetIRQHandler`.
    IrqSetIrqHandler = 28,
    /// seL4 `IRQClearIRQHandler`.
    IrqClearIrqHandler = 29,
    /// seL4 `DomainSetSet`.
    DomainSetSet = 30,
    /// seL4 `DomainScheduleConfigure`.
    DomainScheduleConfigure = 31,
    /// seL4 `DomainScheduleSetStart`.
    DomainScheduleSetStart = 32,
    /// seL4 `ARMVSpaceClean_Data`.
    ArmVSpaceCleanData = 33,
    /// seL4 `ARMVSpaceInvalidate_Data`.
    ArmVSpaceInvalidateData = 34,
    /// seL4 `ARMVSpaceCleanInvalidate_Data`.
    ArmVSpaceCleanInvalidateData = 35,
    /// seL4 `ARMVSpaceUnify_Instruction`.
    ArmVSpaceUnifyInstruction = 36,
    /// seL4 `ARMSMCCall`.
    ArmSmcCall = 37,
    /// seL4 `ARMPageTableMap`.
    ArmPageTableMap = 38,
    /// seL4 `ARMPageTableUnmap`.
    ArmPageTableUnmap = 39,
    /// seL4 `ARMPageMap`.
    ArmPageMap = 40,
    /// seL4 `ARMPageUnmap`.
    ArmPageUnmap = 41,
    /// seL4 `ARMPageClean_Data`.
    ArmPageCleanData = 42,
    /// seL4 `ARMPageInvalidate_Data`.
    ArmPageInvalidateData = 43,
    /// seL4 `ARMPageCleanInvalidate_Data`.
    ArmPageCleanInvalidateData = 44,
    /// seL4 `ARMPageUnify_Instruction`.
    ArmPageUnifyInstruction = 45,
    /// seL4 `ARMPageGetAddress`.
    ArmPageGetAddress = 46,
    /// seL4 `ARMASIDControlMakePool`.
    ArmAsidControlMakePool = 47,
    /// seL4 `ARMASIDPoolAssign`.
    ArmAsidPoolAssign = 48,
    /// seL4 `ARMIRQIssueIRQHandlerTrigger`.
    ArmIrqIssueIrqHandlerTrigger = 49,
    /// seL4 `ARMIRQIssueSGISignal`.
    ArmIrqIssueSgiSignal = 50,
}

/// nInvocationLabels: first arch label (ARMVSpaceClean_Data).
pub const N_INVOCATION_LABELS: Word = 33;
/// nArchInvocationLabels: first unused label.
pub const N_ARCH_INVOCATION_LABELS: Word = 51;

impl InvocationLabel {
    /// Every label, indexed by its number.
    pub const ALL: [InvocationLabel; 51] = [
        Self::InvalidInvocation,
        Self::UntypedRetype,
        Self::TcbReadRegisters,
        Self::TcbWriteRegisters,
        Self::TcbCopyRegisters,
        Self::TcbConfigure,
        Self::TcbSetPriority,
        Self::TcbSetMcPriority,
        Self::TcbSetSchedParams,
        Self::TcbSetIpcBuffer,
        Self::TcbSetSpace,
        Self::TcbSuspend,
        Self::TcbResume,
        Self::TcbBindNotification,
        Self::TcbUnbindNotification,
        Self::TcbSetTlsBase,
        Self::TcbSetFlags,
        Self::CNodeRevoke,
        Self::CNodeDelete,
        Self::CNodeCancelBadgedSends,
        Self::CNodeCopy,
        Self::CNodeMint,
        Self::CNodeMove,
        Self::CNodeMutate,
        Self::CNodeRotate,
        Self::CNodeSaveCaller,
        Self::IrqIssueIrqHandler,
        Self::IrqAckIrq,
        Self::IrqSetIrqHandler,
        Self::IrqClearIrqHandler,
        Self::DomainSetSet,
        Self::DomainScheduleConfigure,
        Self::DomainScheduleSetStart,
        Self::ArmVSpaceCleanData,
        Self::ArmVSpaceInvalidateData,
        Self::ArmVSpaceCleanInvalidateData,
        Self::ArmVSpaceUnifyInstruction,
        Self::ArmSmcCall,
        Self::ArmPageTableMap,
        Self::ArmPageTableUnmap,
        Self::ArmPageMap,
        Self::ArmPageUnmap,
        Self::ArmPageCleanData,
        Self::ArmPageInvalidateData,
        Self::ArmPageCleanInvalidateData,
        Self::ArmPageUnifyInstruction,
        Self::ArmPageGetAddress,
        Self::ArmAsidControlMakePool,
        Self::ArmAsidPoolAssign,
        Self::ArmIrqIssueIrqHandlerTrigger,
        Self::ArmIrqIssueSgiSignal,
    ];

    /// Decodes a MessageInfo label; `None` for unused numbers.
    pub const fn from_word(w: Word) -> Option<Self> {
        if w < N_ARCH_INVOCATION_LABELS {
            Some(Self::ALL[w as usize])
        } else {
            None
        }
    }

    /// The label word.
    pub const fn word(self) -> Word {
        self as Word
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_matches_the_abi_table() {
        for (i, l) in InvocationLabel::ALL.iter().enumerate() {
            assert_eq!(l.word(), i as u64);
            assert_eq!(InvocationLabel::from_word(i as u64), Some(*l));
        }
        assert_eq!(InvocationLabel::CNodeRevoke.word(), 17);
        assert_eq!(InvocationLabel::CNodeSaveCaller.word(), 25);
        assert_eq!(
            InvocationLabel::ArmVSpaceCleanData.word(),
            N_INVOCATION_LABELS
        );
        assert_eq!(InvocationLabel::ArmPageMap.word(), 40);
        assert_eq!(InvocationLabel::ArmAsidPoolAssign.word(), 48);
        assert_eq!(InvocationLabel::ArmIrqIssueSgiSignal.word(), 50);
        assert_eq!(InvocationLabel::from_word(51), None);
    }
}
