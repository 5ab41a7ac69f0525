//! Every invocation of docs/sel4-abi.md §5, marshalled as libsel4's generated
//! stubs do (§5.2): cap parameters become extra caps in declaration order,
//! every other parameter one message word in declaration order (the bool
//! flags of the register calls share word 0, arch flags in bits 8..15).

use super::cap::*;
use super::error::Result;
use super::ipc::{self, invoke, invoke_unit, Message};
use cerne_abi::fault::USER_CONTEXT_WORDS;
use cerne_abi::invocation::InvocationLabel as L;
use cerne_abi::object::ObjectType;
use cerne_abi::rights::CapRights;
use cerne_abi::{CPtr, Word};

impl Cap<Untyped> {
    /// seL4_Untyped_Retype.
    #[allow(clippy::too_many_arguments)]
    pub fn retype(
        self,
        object_type: ObjectType,
        size_bits: Word,
        root: Cap<CNode>,
        node_index: Word,
        node_depth: Word,
        node_offset: Word,
        num_objects: Word,
    ) -> Result<()> {
        self.retype_raw(
            object_type.word(),
            size_bits,
            root,
            node_index,
            node_depth,
            node_offset,
            num_objects,
        )
    }

    /// Retype with a raw type word (to pass invalid types).
    #[allow(clippy::too_many_arguments)]
    pub fn retype_raw(
        self,
        object_type: Word,
        size_bits: Word,
        root: Cap<CNode>,
        node_index: Word,
        node_depth: Word,
        node_offset: Word,
        num_objects: Word,
    ) -> Result<()> {
        invoke_unit(
            self.cptr(),
            L::UntypedRetype,
            &[
                object_type,
                size_bits,
                node_index,
                node_depth,
                node_offset,
                num_objects,
            ],
            &[root.cptr()],
        )
    }
}

fn cnode_op(cnode: Cap<CNode>, label: L, index: Word, depth: u8) -> Result<()> {
    invoke_unit(cnode.cptr(), label, &[index, Word::from(depth)], &[])
}

impl Cap<CNode> {
    /// seL4_CNode_Revoke.
    pub fn revoke(self, index: Word, depth: u8) -> Result<()> {
        cnode_op(self, L::CNodeRevoke, index, depth)
    }

    /// seL4_CNode_Delete.
    pub fn delete(self, index: Word, depth: u8) -> Result<()> {
        cnode_op(self, L::CNodeDelete, index, depth)
    }

    /// seL4_CNode_CancelBadgedSends.
    pub fn cancel_badged_sends(self, index: Word, depth: u8) -> Result<()> {
        cnode_op(self, L::CNodeCancelBadgedSends, index, depth)
    }

    /// seL4_CNode_SaveCaller.
    pub fn save_caller(self, index: Word, depth: u8) -> Result<()> {
        cnode_op(self, L::CNodeSaveCaller, index, depth)
    }

    /// seL4_CNode_Copy.
    #[allow(clippy::too_many_arguments)]
    pub fn copy(
        self,
        dest_index: Word,
        dest_depth: u8,
        src_root: Cap<CNode>,
        src_index: Word,
        src_depth: u8,
        rights: CapRights,
    ) -> Result<()> {
        invoke_unit(
            self.cptr(),
            L::CNodeCopy,
            &[
                dest_index,
                Word::from(dest_depth),
                src_index,
                Word::from(src_depth),
                rights.word(),
            ],
            &[src_root.cptr()],
        )
    }

    /// seL4_CNode_Mint.
    #[allow(clippy::too_many_arguments)]
    pub fn mint(
        self,
        dest_index: Word,
        dest_depth: u8,
        src_root: Cap<CNode>,
        src_index: Word,
        src_depth: u8,
        rights: CapRights,
        badge: Word,
    ) -> Result<()> {
        invoke_unit(
            self.cptr(),
            L::CNodeMint,
            &[
                dest_index,
                Word::from(dest_depth),
                src_index,
                Word::from(src_depth),
                rights.word(),
                badge,
            ],
            &[src_root.cptr()],
        )
    }

    /// seL4_CNode_Move.
    pub fn move_(
        self,
        dest_index: Word,
        dest_depth: u8,
        src_root: Cap<CNode>,
        src_index: Word,
        src_depth: u8,
    ) -> Result<()> {
        invoke_unit(
            self.cptr(),
            L::CNodeMove,
            &[
                dest_index,
                Word::from(dest_depth),
                src_index,
                Word::from(src_depth),
            ],
            &[src_root.cptr()],
        )
    }

    /// seL4_CNode_Mutate.
    #[allow(clippy::too_many_arguments)]
    pub fn mutate(
        self,
        dest_index: Word,
        dest_depth: u8,
        src_root: Cap<CNode>,
        src_index: Word,
        src_depth: u8,
        badge: Word,
    ) -> Result<()> {
        invoke_unit(
            self.cptr(),
            L::CNodeMutate,
            &[
                dest_index,
                Word::from(dest_depth),
                src_index,
                Word::from(src_depth),
                badge,
            ],
            &[src_root.cptr()],
        )
    }

    /// seL4_CNode_Rotate.
    #[allow(clippy::too_many_arguments)]
    pub fn rotate(
        self,
        dest_index: Word,
        dest_depth: u8,
        dest_badge: Word,
        pivot_root: Cap<CNode>,
        pivot_index: Word,
        pivot_depth: u8,
        pivot_badge: Word,
        src_root: Cap<CNode>,
        src_index: Word,
        src_depth: u8,
    ) -> Result<()> {
        invoke_unit(
            self.cptr(),
            L::CNodeRotate,
            &[
                dest_index,
                Word::from(dest_depth),
                dest_badge,
                pivot_index,
                Word::from(pivot_depth),
                pivot_badge,
                src_index,
                Word::from(src_depth),
            ],
            &[pivot_root.cptr(), src_root.cptr()],
        )
    }
}

/// seL4_UserContext: the 36 registers of ReadRegisters / WriteRegisters in
/// the ABI's order (docs/sel4-abi.md §7.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserContext(pub [Word; USER_CONTEXT_WORDS]);

impl Default for UserContext {
    fn default() -> Self {
        Self([0; USER_CONTEXT_WORDS])
    }
}

impl UserContext {
    /// Index of pc.
    pub const PC: usize = 0;
    /// Index of sp (SP_EL0).
    pub const SP: usize = 1;
    /// Index of spsr.
    pub const SPSR: usize = 2;
    /// Index of tpidr_el0.
    pub const TPIDR_EL0: usize = 34;
    /// Index of tpidrro_el0.
    pub const TPIDRRO_EL0: usize = 35;

    /// Index of general register x`n` in the ABI order.
    pub const fn x_index(n: u8) -> usize {
        use cerne_abi::fault::{UserContextReg, USER_CONTEXT_ORDER};
        let mut i = 0;
        while i < USER_CONTEXT_WORDS {
            if let UserContextReg::X(m) = USER_CONTEXT_ORDER[i] {
                if m == n {
                    return i;
                }
            }
            i += 1;
        }
        panic!("no such register")
    }
    /// x`n`.
    pub fn x(&self, n: u8) -> Word {
        self.0[Self::x_index(n)]
    }
    /// Sets x`n`.
    pub fn set_x(&mut self, n: u8, v: Word) {
        self.0[Self::x_index(n)] = v;
    }
    /// pc.
    pub fn pc(&self) -> Word {
        self.0[Self::PC]
    }
    /// Sets pc.
    pub fn set_pc(&mut self, v: Word) {
        self.0[Self::PC] = v;
    }
    /// sp.
    pub fn sp(&self) -> Word {
        self.0[Self::SP]
    }
    /// Sets sp.
    pub fn set_sp(&mut self, v: Word) {
        self.0[Self::SP] = v;
    }
}

fn flags(bits: &[bool], arch_flags: u8) -> Word {
    bits.iter()
        .enumerate()
        .fold(Word::from(arch_flags) << 8, |w, (i, b)| {
            w | (Word::from(*b) << i)
        })
}

impl Cap<Tcb> {
    /// seL4_TCB_ReadRegisters: the first `count` registers.
    pub fn read_registers(
        self,
        suspend_source: bool,
        arch_flags: u8,
        count: Word,
    ) -> Result<UserContext> {
        let r = invoke(
            self.cptr(),
            L::TcbReadRegisters,
            &[flags(&[suspend_source], arch_flags), count],
            &[],
        )?;
        let mut ctx = UserContext::default();
        for (i, w) in ctx.0.iter_mut().enumerate().take(r.len()) {
            *w = r.mr(i);
        }
        Ok(ctx)
    }

    /// seL4_TCB_ReadRegisters returning the raw reply (to check its length).
    pub fn read_registers_reply(self, suspend_source: bool, count: Word) -> Result<Message> {
        invoke(
            self.cptr(),
            L::TcbReadRegisters,
            &[flags(&[suspend_source], 0), count],
            &[],
        )
    }

    /// seL4_TCB_WriteRegisters (always a 38-word message, as libsel4 sends).
    pub fn write_registers(
        self,
        resume_target: bool,
        arch_flags: u8,
        count: Word,
        regs: &UserContext,
    ) -> Result<()> {
        let mut words = [0; 2 + USER_CONTEXT_WORDS];
        words[0] = flags(&[resume_target], arch_flags);
        words[1] = count;
        words[2..].copy_from_slice(&regs.0);
        invoke_unit(self.cptr(), L::TcbWriteRegisters, &words, &[])
    }

    /// seL4_TCB_CopyRegisters.
    #[allow(clippy::too_many_arguments)]
    pub fn copy_registers(
        self,
        source: Cap<Tcb>,
        suspend_source: bool,
        resume_target: bool,
        transfer_frame: bool,
        transfer_integer: bool,
        arch_flags: u8,
    ) -> Result<()> {
        invoke_unit(
            self.cptr(),
            L::TcbCopyRegisters,
            &[flags(
                &[
                    suspend_source,
                    resume_target,
                    transfer_frame,
                    transfer_integer,
                ],
                arch_flags,
            )],
            &[source.cptr()],
        )
    }

    /// seL4_TCB_Configure.
    #[allow(clippy::too_many_arguments)]
    pub fn configure(
        self,
        fault_ep: CPtr,
        cspace_root: Cap<CNode>,
        cspace_root_data: Word,
        vspace_root: Cap<VSpace>,
        vspace_root_data: Word,
        buffer: Word,
        buffer_frame: Cap<Frame>,
    ) -> Result<()> {
        invoke_unit(
            self.cptr(),
            L::TcbConfigure,
            &[fault_ep, cspace_root_data, vspace_root_data, buffer],
            &[cspace_root.cptr(), vspace_root.cptr(), buffer_frame.cptr()],
        )
    }

    /// seL4_TCB_SetPriority.
    pub fn set_priority(self, authority: Cap<Tcb>, priority: Word) -> Result<()> {
        invoke_unit(
            self.cptr(),
            L::TcbSetPriority,
            &[priority],
            &[authority.cptr()],
        )
    }

    /// seL4_TCB_SetMCPriority.
    pub fn set_mc_priority(self, authority: Cap<Tcb>, mcp: Word) -> Result<()> {
        invoke_unit(
            self.cptr(),
            L::TcbSetMcPriority,
            &[mcp],
            &[authority.cptr()],
        )
    }

    /// seL4_TCB_SetSchedParams.
    pub fn set_sched_params(self, authority: Cap<Tcb>, mcp: Word, priority: Word) -> Result<()> {
        invoke_unit(
            self.cptr(),
            L::TcbSetSchedParams,
            &[mcp, priority],
            &[authority.cptr()],
        )
    }

    /// seL4_TCB_SetIPCBuffer.
    pub fn set_ipc_buffer(self, buffer: Word, buffer_frame: Cap<Frame>) -> Result<()> {
        invoke_unit(
            self.cptr(),
            L::TcbSetIpcBuffer,
            &[buffer],
            &[buffer_frame.cptr()],
        )
    }

    /// seL4_TCB_SetSpace.
    pub fn set_space(
        self,
        fault_ep: CPtr,
        cspace_root: Cap<CNode>,
        cspace_root_data: Word,
        vspace_root: Cap<VSpace>,
        vspace_root_data: Word,
    ) -> Result<()> {
        invoke_unit(
            self.cptr(),
            L::TcbSetSpace,
            &[fault_ep, cspace_root_data, vspace_root_data],
            &[cspace_root.cptr(), vspace_root.cptr()],
        )
    }

    /// seL4_TCB_Suspend.
    pub fn suspend(self) -> Result<()> {
        invoke_unit(self.cptr(), L::TcbSuspend, &[], &[])
    }

    /// seL4_TCB_Resume.
    pub fn resume(self) -> Result<()> {
        invoke_unit(self.cptr(), L::TcbResume, &[], &[])
    }

    /// seL4_TCB_BindNotification.
    pub fn bind_notification(self, notification: Cap<Notification>) -> Result<()> {
        invoke_unit(
            self.cptr(),
            L::TcbBindNotification,
            &[],
            &[notification.cptr()],
        )
    }

    /// seL4_TCB_UnbindNotification.
    pub fn unbind_notification(self) -> Result<()> {
        invoke_unit(self.cptr(), L::TcbUnbindNotification, &[], &[])
    }

    /// seL4_TCB_SetTLSBase.
    pub fn set_tls_base(self, tls_base: Word) -> Result<()> {
        invoke_unit(self.cptr(), L::TcbSetTlsBase, &[tls_base], &[])
    }

    /// seL4_TCB_SetFlags: returns the new flags.
    pub fn set_flags(self, clear: Word, set: Word) -> Result<Word> {
        invoke(self.cptr(), L::TcbSetFlags, &[clear, set], &[]).map(|r| r.mr(0))
    }
}

impl Cap<IrqControl> {
    /// seL4_IRQControl_Get.
    pub fn get(self, irq: Word, root: Cap<CNode>, index: Word, depth: u8) -> Result<()> {
        invoke_unit(
            self.cptr(),
            L::IrqIssueIrqHandler,
            &[irq, index, Word::from(depth)],
            &[root.cptr()],
        )
    }

    /// seL4_IRQControl_GetTrigger.
    pub fn get_trigger(
        self,
        irq: Word,
        trigger: Word,
        root: Cap<CNode>,
        index: Word,
        depth: u8,
    ) -> Result<()> {
        invoke_unit(
            self.cptr(),
            L::ArmIrqIssueIrqHandlerTrigger,
            &[irq, trigger, index, Word::from(depth)],
            &[root.cptr()],
        )
    }
}

impl Cap<IrqControl> {
    /// seL4_IRQControl_IssueSGISignal: a cap that, invoked with any label,
    /// sends SGI `irq` to CPU interface `target`.
    pub fn issue_sgi_signal(
        self,
        irq: Word,
        target: Word,
        root: Cap<CNode>,
        index: Word,
        depth: u8,
    ) -> Result<()> {
        invoke_unit(
            self.cptr(),
            L::ArmIrqIssueSgiSignal,
            &[irq, target, index, Word::from(depth)],
            &[root.cptr()],
        )
    }
}

impl Cap<SgiSignal> {
    /// Sends the SGI (any invocation of the cap does).
    pub fn signal(self) {
        ipc::send(self.cptr(), 0, &[], &[])
    }
}

impl Cap<IrqHandler> {
    /// seL4_IRQHandler_Ack.
    pub fn ack(self) -> Result<()> {
        invoke_unit(self.cptr(), L::IrqAckIrq, &[], &[])
    }

    /// seL4_IRQHandler_SetNotification.
    pub fn set_notification(self, notification: Cap<Notification>) -> Result<()> {
        invoke_unit(
            self.cptr(),
            L::IrqSetIrqHandler,
            &[],
            &[notification.cptr()],
        )
    }

    /// seL4_IRQHandler_Clear.
    pub fn clear(self) -> Result<()> {
        invoke_unit(self.cptr(), L::IrqClearIrqHandler, &[], &[])
    }
}

impl Cap<DomainSet> {
    /// seL4_DomainSet_ScheduleConfigure: entry `index` of the domain
    /// schedule runs `domain` for `duration` kernel ticks.
    pub fn schedule_configure(self, index: Word, domain: u8, duration: Word) -> Result<()> {
        invoke_unit(
            self.cptr(),
            L::DomainScheduleConfigure,
            &[index, Word::from(domain), duration],
            &[],
        )
    }

    /// seL4_DomainSet_ScheduleSetStart: ends the current domain slot and
    /// goes on at schedule entry `index`.
    pub fn schedule_set_start(self, index: Word) -> Result<()> {
        invoke_unit(self.cptr(), L::DomainScheduleSetStart, &[index], &[])
    }

    /// seL4_DomainSet_Set.
    pub fn set(self, domain: u8, thread: Cap<Tcb>) -> Result<()> {
        invoke_unit(
            self.cptr(),
            L::DomainSetSet,
            &[Word::from(domain)],
            &[thread.cptr()],
        )
    }
}

fn range_op(cap: CPtr, label: L, start: Word, end: Word) -> Result<()> {
    invoke_unit(cap, label, &[start, end], &[])
}

impl Cap<VSpace> {
    /// seL4_ARM_VSpace_Clean_Data.
    pub fn clean_data(self, start: Word, end: Word) -> Result<()> {
        range_op(self.cptr(), L::ArmVSpaceCleanData, start, end)
    }
    /// seL4_ARM_VSpace_Invalidate_Data.
    pub fn invalidate_data(self, start: Word, end: Word) -> Result<()> {
        range_op(self.cptr(), L::ArmVSpaceInvalidateData, start, end)
    }
    /// seL4_ARM_VSpace_CleanInvalidate_Data.
    pub fn clean_invalidate_data(self, start: Word, end: Word) -> Result<()> {
        range_op(self.cptr(), L::ArmVSpaceCleanInvalidateData, start, end)
    }
    /// seL4_ARM_VSpace_Unify_Instruction.
    pub fn unify_instruction(self, start: Word, end: Word) -> Result<()> {
        range_op(self.cptr(), L::ArmVSpaceUnifyInstruction, start, end)
    }
}

impl Cap<PageTable> {
    /// seL4_ARM_PageTable_Map.
    pub fn map(self, vspace: Cap<VSpace>, vaddr: Word, attr: Word) -> Result<()> {
        invoke_unit(
            self.cptr(),
            L::ArmPageTableMap,
            &[vaddr, attr],
            &[vspace.cptr()],
        )
    }
    /// seL4_ARM_PageTable_Unmap.
    pub fn unmap(self) -> Result<()> {
        invoke_unit(self.cptr(), L::ArmPageTableUnmap, &[], &[])
    }
}

impl Cap<Frame> {
    /// seL4_ARM_Page_Map.
    pub fn map(
        self,
        vspace: Cap<VSpace>,
        vaddr: Word,
        rights: CapRights,
        attr: Word,
    ) -> Result<()> {
        invoke_unit(
            self.cptr(),
            L::ArmPageMap,
            &[vaddr, rights.word(), attr],
            &[vspace.cptr()],
        )
    }
    /// seL4_ARM_Page_Unmap.
    pub fn unmap(self) -> Result<()> {
        invoke_unit(self.cptr(), L::ArmPageUnmap, &[], &[])
    }
    /// seL4_ARM_Page_Clean_Data.
    pub fn clean_data(self, start: Word, end: Word) -> Result<()> {
        range_op(self.cptr(), L::ArmPageCleanData, start, end)
    }
    /// seL4_ARM_Page_Invalidate_Data.
    pub fn invalidate_data(self, start: Word, end: Word) -> Result<()> {
        range_op(self.cptr(), L::ArmPageInvalidateData, start, end)
    }
    /// seL4_ARM_Page_CleanInvalidate_Data.
    pub fn clean_invalidate_data(self, start: Word, end: Word) -> Result<()> {
        range_op(self.cptr(), L::ArmPageCleanInvalidateData, start, end)
    }
    /// seL4_ARM_Page_Unify_Instruction.
    pub fn unify_instruction(self, start: Word, end: Word) -> Result<()> {
        range_op(self.cptr(), L::ArmPageUnifyInstruction, start, end)
    }
    /// seL4_ARM_Page_GetAddress: the frame's physical address.
    pub fn get_address(self) -> Result<Word> {
        invoke(self.cptr(), L::ArmPageGetAddress, &[], &[]).map(|r| r.mr(0))
    }
}

impl Cap<AsidControl> {
    /// seL4_ARM_ASIDControl_MakePool.
    pub fn make_pool(
        self,
        untyped: Cap<Untyped>,
        root: Cap<CNode>,
        index: Word,
        depth: u8,
    ) -> Result<()> {
        invoke_unit(
            self.cptr(),
            L::ArmAsidControlMakePool,
            &[index, Word::from(depth)],
            &[untyped.cptr(), root.cptr()],
        )
    }
}

impl Cap<AsidPool> {
    /// seL4_ARM_ASIDPool_Assign.
    pub fn assign(self, vspace: Cap<VSpace>) -> Result<()> {
        invoke_unit(self.cptr(), L::ArmAsidPoolAssign, &[], &[vspace.cptr()])
    }
}

impl Cap<Endpoint> {
    /// seL4_Send.
    pub fn send(self, label: Word, words: &[Word], caps: &[CPtr]) {
        ipc::send(self.cptr(), label, words, caps)
    }
    /// seL4_NBSend.
    pub fn nb_send(self, label: Word, words: &[Word], caps: &[CPtr]) {
        ipc::nb_send(self.cptr(), label, words, caps)
    }
    /// seL4_Call.
    pub fn call(self, label: Word, words: &[Word], caps: &[CPtr]) -> Message {
        ipc::call(self.cptr(), label, words, caps)
    }
    /// seL4_Recv.
    pub fn recv(self) -> Message {
        ipc::recv(self.cptr())
    }
    /// seL4_NBRecv.
    pub fn nb_recv(self) -> Message {
        ipc::nb_recv(self.cptr())
    }
    /// seL4_ReplyRecv on this endpoint.
    pub fn reply_recv(self, label: Word, words: &[Word], caps: &[CPtr]) -> Message {
        ipc::reply_recv(self.cptr(), label, words, caps)
    }
}

impl Cap<Notification> {
    /// seL4_Signal (a Send with an empty message).
    pub fn signal(self) {
        ipc::send(self.cptr(), 0, &[], &[])
    }
    /// seL4_Wait: blocks until signalled; returns the signal word.
    pub fn wait(self) -> Word {
        ipc::recv(self.cptr()).badge
    }
    /// seL4_Poll: the signal word, 0 if none is pending.
    pub fn poll(self) -> Word {
        ipc::nb_recv(self.cptr()).badge
    }
}

impl Cap<Reply> {
    /// Replies through a saved reply cap (seL4_Send on it).
    pub fn send(self, label: Word, words: &[Word], caps: &[CPtr]) {
        ipc::send(self.cptr(), label, words, caps)
    }
}
