//! Messages of any length (docs/sel4-abi.md §3): MR0..MR3 in registers, MR4 and
//! up and the extra caps in the IPC buffer, as libsel4's `seL4_Call` and
//! friends place them; and the generic kernel-object invocation with its
//! error reply.
//!
//! Unlike libsel4's `seL4_Call`, these never copy MR0..MR3 between the
//! registers and `msg[0..4]` of the IPC buffer: a received message's first
//! four words are in [`Message::regs`], and [`Message::mr`] reads any word
//! from the right place.

use super::error::{InvocationError, Result, MAX_ERROR_MRS};
use super::ipc_buffer;
use super::syscall::{self, FastMrs, RecvRegs};
use cerne_abi::message::{MessageInfo, FAST_MESSAGE_REGISTERS, MSG_MAX_EXTRA_CAPS, MSG_MAX_LENGTH};
use cerne_abi::{CPtr, Word};

/// A received message: badge, MessageInfo and MR0..MR3 from registers;
/// [`Message::mr`] reads the rest from the IPC buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message {
    /// Sender's badge (or signal word, or 0 for kernel replies).
    pub badge: Word,
    /// The incoming MessageInfo.
    pub info: MessageInfo,
    /// MR0..MR3 as the kernel left them in x2..x5.
    pub regs: FastMrs,
}

impl Message {
    fn from_regs(r: RecvRegs) -> Self {
        Self {
            badge: r.badge,
            info: r.info,
            regs: r.mrs,
        }
    }

    /// The label.
    pub fn label(&self) -> Word {
        self.info.label()
    }

    /// Number of message words.
    pub fn len(&self) -> usize {
        self.info.clamped_length()
    }

    /// True for a message of no words.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Message register `i`: from the registers below 4, else from the IPC
    /// buffer.
    pub fn mr(&self, i: usize) -> Word {
        if i < FAST_MESSAGE_REGISTERS {
            self.regs[i]
        } else {
            ipc_buffer::mr(i)
        }
    }
}

/// Places a message: words 4.. and the caps go to the IPC buffer; returns
/// the MessageInfo and the register words.
pub fn prepare(label: Word, words: &[Word], caps: &[CPtr]) -> (MessageInfo, FastMrs) {
    assert!(words.len() <= MSG_MAX_LENGTH && caps.len() <= MSG_MAX_EXTRA_CAPS);
    let mut regs = [0; FAST_MESSAGE_REGISTERS];
    for (i, w) in words.iter().enumerate() {
        if i < FAST_MESSAGE_REGISTERS {
            regs[i] = *w;
        } else {
            ipc_buffer::set_mr(i, *w);
        }
    }
    for (i, c) in caps.iter().enumerate() {
        ipc_buffer::set_cap(i, *c);
    }
    (
        MessageInfo::new(label, 0, caps.len() as u64, words.len() as u64),
        regs,
    )
}

/// seL4_Send of a whole message.
pub fn send(dest: CPtr, label: Word, words: &[Word], caps: &[CPtr]) {
    let (info, regs) = prepare(label, words, caps);
    syscall::send(dest, info, regs);
}

/// seL4_NBSend of a whole message.
pub fn nb_send(dest: CPtr, label: Word, words: &[Word], caps: &[CPtr]) {
    let (info, regs) = prepare(label, words, caps);
    syscall::nb_send(dest, info, regs);
}

/// seL4_Call of a whole message; returns the reply.
pub fn call(dest: CPtr, label: Word, words: &[Word], caps: &[CPtr]) -> Message {
    let (info, regs) = prepare(label, words, caps);
    Message::from_regs(syscall::call(dest, info, regs))
}

/// seL4_Recv.
pub fn recv(src: CPtr) -> Message {
    Message::from_regs(syscall::recv(src, [0; FAST_MESSAGE_REGISTERS]))
}

/// seL4_NBRecv.
pub fn nb_recv(src: CPtr) -> Message {
    Message::from_regs(syscall::nb_recv(src, [0; FAST_MESSAGE_REGISTERS]))
}

/// seL4_Reply of a whole message.
pub fn reply(label: Word, words: &[Word], caps: &[CPtr]) {
    let (info, regs) = prepare(label, words, caps);
    syscall::reply(info, regs);
}

/// seL4_ReplyRecv: reply with a whole message, then wait on `src`.
pub fn reply_recv(src: CPtr, label: Word, words: &[Word], caps: &[CPtr]) -> Message {
    let (info, regs) = prepare(label, words, caps);
    Message::from_regs(syscall::reply_recv(src, info, regs))
}

/// Calls a kernel object with the raw label word `label`: success is a
/// reply with label 0 (its words readable through [`Message::mr`]), any
/// other label an [`InvocationError`] with its error MRs.
pub fn invoke_raw(cptr: CPtr, label: Word, args: &[Word], caps: &[CPtr]) -> Result<Message> {
    let reply = call(cptr, label, args, caps);
    match error_of(&reply) {
        None => Ok(reply),
        Some(e) => Err(e),
    }
}

/// Calls a kernel object: [`invoke_raw`] with an invocation label.
pub fn invoke(
    cptr: CPtr,
    label: cerne_abi::invocation::InvocationLabel,
    args: &[Word],
    caps: &[CPtr],
) -> Result<Message> {
    invoke_raw(cptr, label.word(), args, caps)
}

/// As [`invoke`], for invocations that return no data.
pub fn invoke_unit(
    cptr: CPtr,
    label: cerne_abi::invocation::InvocationLabel,
    args: &[Word],
    caps: &[CPtr],
) -> Result<()> {
    invoke(cptr, label, args, caps).map(|_| ())
}

/// The error a reply describes, for callers that built the reply
/// themselves (e.g. by `Send` to a saved reply cap).
pub fn error_of(msg: &Message) -> Option<InvocationError> {
    (msg.label() != 0).then(|| {
        let n = msg.len().min(MAX_ERROR_MRS);
        let mut words = [0; MAX_ERROR_MRS];
        for (i, w) in words.iter_mut().enumerate().take(n) {
            *w = msg.mr(i);
        }
        InvocationError::new(msg.label(), &words[..n])
    })
}
