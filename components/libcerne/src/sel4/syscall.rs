//! The raw seL4 system calls on the `svc #0` register convention
//! (docs/sel4-abi.md §2.2): x7 = number, x0 = cptr / badge, x1 = MessageInfo,
//! x2..x5 = MR0..MR3. These functions move registers only; the IPC buffer
//! (MR4 and up, extra caps, receive slot) is the business of
//! [`super::ipc_buffer`] and [`super::ipc`].
//!
//! This module and [`super::ipc_buffer`] hold the only `unsafe` code of the
//! seL4 layer.

use cerne_abi::message::{MessageInfo, FAST_MESSAGE_REGISTERS};
use cerne_abi::syscall::Syscall;
use cerne_abi::{CPtr, Word};

/// The four message registers that travel in x2..x5.
pub type FastMrs = [Word; FAST_MESSAGE_REGISTERS];

/// What a receiving system call leaves in x0..x5.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvRegs {
    /// x0: the sender's badge, the signal word of a notification, or 0.
    pub badge: Word,
    /// x1: the incoming MessageInfo.
    pub info: MessageInfo,
    /// x2..x5: MR0..MR3.
    pub mrs: FastMrs,
}

/// Any system call with x0..x5 as given and x7 = `number`; returns x0..x5
/// as the kernel leaves them. Used for the numbered syscalls below and to
/// issue numbers the kernel does not know (an UnknownSyscall fault).
pub fn raw_syscall(number: Word, regs: [Word; 6]) -> [Word; 6] {
    let [mut x0, mut x1, mut x2, mut x3, mut x4, mut x5] = regs;
    // SAFETY: `svc #0` enters the kernel, which reads x0..x7, may write
    // x0..x5 and this thread's IPC buffer (declared by the memory clobber
    // that the absence of `nomem` implies) and preserves every other
    // register, SP_EL0 and the flags it does not document as written.
    unsafe {
        core::arch::asm!(
            "svc #0",
            inout("x0") x0,
            inout("x1") x1,
            inout("x2") x2,
            inout("x3") x3,
            inout("x4") x4,
            inout("x5") x5,
            in("x7") number,
            options(nostack),
        );
    }
    [x0, x1, x2, x3, x4, x5]
}

fn sys(s: Syscall, x0: Word, info: MessageInfo, mrs: FastMrs) -> RecvRegs {
    let r = raw_syscall(s.word(), [x0, info.word(), mrs[0], mrs[1], mrs[2], mrs[3]]);
    RecvRegs {
        badge: r[0],
        info: MessageInfo::from_word(r[1]),
        mrs: [r[2], r[3], r[4], r[5]],
    }
}

/// seL4_Send: blocking send to `dest`.
pub fn send(dest: CPtr, info: MessageInfo, mrs: FastMrs) {
    sys(Syscall::Send, dest, info, mrs);
}

/// seL4_NBSend: send if a receiver waits, else drop the message.
pub fn nb_send(dest: CPtr, info: MessageInfo, mrs: FastMrs) {
    sys(Syscall::NBSend, dest, info, mrs);
}

/// seL4_Call: send to `dest` and wait for the reply.
pub fn call(dest: CPtr, info: MessageInfo, mrs: FastMrs) -> RecvRegs {
    sys(Syscall::Call, dest, info, mrs)
}

/// seL4_Recv: wait on an endpoint or notification. `mrs` are the values the
/// MR registers hold on entry (the kernel leaves untransferred ones alone).
pub fn recv(src: CPtr, mrs: FastMrs) -> RecvRegs {
    sys(Syscall::Recv, src, MessageInfo::new(0, 0, 0, 0), mrs)
}

/// seL4_NBRecv: as [`recv`], but returns at once (badge 0) if nothing waits.
pub fn nb_recv(src: CPtr, mrs: FastMrs) -> RecvRegs {
    sys(Syscall::NBRecv, src, MessageInfo::new(0, 0, 0, 0), mrs)
}

/// seL4_Reply: reply through the thread's caller slot.
pub fn reply(info: MessageInfo, mrs: FastMrs) {
    sys(Syscall::Reply, 0, info, mrs);
}

/// seL4_ReplyRecv: reply, then wait on `src`.
pub fn reply_recv(src: CPtr, info: MessageInfo, mrs: FastMrs) -> RecvRegs {
    sys(Syscall::ReplyRecv, src, info, mrs)
}

/// seL4_Yield: go to the tail of this priority's ready queue.
pub fn yield_now() {
    raw_syscall(Syscall::Yield.word(), [0; 6]);
}

/// seL4_DebugPutChar.
pub fn debug_put_char(c: u8) {
    raw_syscall(Syscall::DebugPutChar.word(), [Word::from(c), 0, 0, 0, 0, 0]);
}

/// seL4_DebugDumpScheduler: the kernel prints its thread list.
pub fn debug_dump_scheduler() {
    raw_syscall(Syscall::DebugDumpScheduler.word(), [0; 6]);
}

/// seL4_DebugSnapshot: the kernel prints a capDL dump.
pub fn debug_snapshot() {
    raw_syscall(Syscall::DebugSnapshot.word(), [0; 6]);
}

/// seL4_DebugCapIdentify: the type tag of the cap at `cptr` (0 if none).
pub fn debug_cap_identify(cptr: CPtr) -> Word {
    raw_syscall(Syscall::DebugCapIdentify.word(), [cptr, 0, 0, 0, 0, 0])[0]
}

/// seL4_DebugNameThread: names the thread `tcb`. The name travels in the
/// caller's IPC buffer from `msg[0]`, NUL-terminated; names longer than the
/// buffer's message area are cut.
pub fn debug_name_thread(tcb: CPtr, name: &str) {
    super::ipc_buffer::set_string(name);
    raw_syscall(Syscall::DebugNameThread.word(), [tcb, 0, 0, 0, 0, 0]);
}

/// What Cerne's DebugThreadInfo says of one thread (docs/kernel.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadInfo {
    /// The TCB's physical address (the kernel's name for it).
    pub tcb: Word,
    /// Its `ThreadState` code (0 Inactive ... 6 BlockedOnNotification).
    pub state: Word,
    /// Its priority.
    pub priority: Word,
    /// Its maximum controlled priority.
    pub mcp: Word,
    /// The endpoint or notification it waits at, or for BlockedOnReply the
    /// TCB holding its reply cap; 0 for none.
    pub blocked_on: Word,
    /// Its name (DebugNameThread's), NUL-padded.
    pub name: [u8; cerne_abi::syscall::thread_info::NAME_MAX],
}

impl ThreadInfo {
    /// The name as text (`?` if it is not UTF-8).
    pub fn name(&self) -> &str {
        let n = self
            .name
            .iter()
            .position(|b| *b == 0)
            .unwrap_or(self.name.len());
        core::str::from_utf8(&self.name[..n]).unwrap_or("?")
    }
}

/// Cerne's DebugThreadInfo (−64): the `n`-th thread of the kernel's list of
/// every TCB, in the order they were made; `None` past the end. The name
/// comes back in this thread's IPC buffer.
pub fn debug_thread_info(n: Word) -> Option<ThreadInfo> {
    use cerne_abi::syscall::thread_info::{FOUND, NAME_MAX, NAME_OFFSET};
    let r = raw_syscall(Syscall::DebugThreadInfo.word(), [n, 0, 0, 0, 0, 0]);
    if r[0] != FOUND {
        return None;
    }
    let mut name = [0u8; NAME_MAX];
    let first = (NAME_OFFSET / 8) as usize - 1;
    for (i, chunk) in name.chunks_mut(8).enumerate() {
        let word = super::ipc_buffer::mr(first + i).to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
    Some(ThreadInfo {
        state: r[1],
        priority: r[2],
        mcp: r[3],
        blocked_on: r[4],
        tcb: r[5],
        name,
    })
}

/// seL4_DebugHalt: stop the machine.
pub fn debug_halt() -> ! {
    raw_syscall(Syscall::DebugHalt.word(), [0; 6]);
    unreachable!("DebugHalt returned")
}
