//! What the victim's next system call is: the syscall number, x0..x7, the
//! MessageInfo word and the IPC buffer contents (message words, extra-cap
//! cptrs, receive path), drawn from the PRNG.
//!
//! Mostly-valid beats uniformly random: numbers come mostly from seL4's
//! range −1…−14, labels mostly from the invocation labels, cptrs mostly
//! from the victim's 64 slots, and for a known label the message words
//! follow that invocation's argument layout (slot indices, depths, object
//! types, vaddrs...) — with a share of arbitrary 64-bit values everywhere.
//!
//! Excluded, because they would legitimately end the experiment: DebugHalt
//! (halts the machine) and DebugNameThread unless the victim can vouch
//! that it names a TCB and has its IPC buffer (seL4 halts otherwise). See
//! [`crate::victim`] for the second check.

use crate::layout;
use crate::rng::Rng;
use cerne_abi::invocation::InvocationLabel as L;
use cerne_abi::message::{MessageInfo, MSG_MAX_EXTRA_CAPS, MSG_MAX_LENGTH};
use cerne_abi::syscall::Syscall;
use cerne_abi::vm::USER_TOP;
use cerne_abi::Word;

/// One system call, ready to issue.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// x0..x7 (x7 = the number).
    pub regs: [Word; 8],
    /// Message words as the IPC buffer holds them (`msg[i]`); the first
    /// four also travel in x2..x5.
    pub mrs: [Word; MSG_MAX_LENGTH],
    /// How many of `mrs` to write to the buffer.
    pub len: usize,
    /// Extra-cap cptrs (`caps_or_badges`).
    pub caps: [Word; MSG_MAX_EXTRA_CAPS],
    /// receiveCNode, receiveIndex, receiveDepth.
    pub recv: [Word; 3],
}

impl Plan {
    /// An empty plan.
    pub const fn new() -> Self {
        Self {
            regs: [0; 8],
            mrs: [0; MSG_MAX_LENGTH],
            len: 0,
            caps: [0; MSG_MAX_EXTRA_CAPS],
            recv: [0; 3],
        }
    }

    /// The syscall number (x7).
    pub fn number(&self) -> Word {
        self.regs[7]
    }

    /// The MessageInfo word (x1).
    pub fn info(&self) -> MessageInfo {
        MessageInfo::from_word(self.regs[1])
    }

    /// True when this is a send-type call that invokes a cap (Call, Send,
    /// NBSend).
    pub fn is_invocation(&self) -> bool {
        matches!(
            Syscall::from_word(self.number()),
            Some(Syscall::Call | Syscall::Send | Syscall::NBSend)
        )
    }
}

impl Default for Plan {
    fn default() -> Self {
        Self::new()
    }
}

/// What the generator knows of the victim's address space.
#[derive(Clone, Copy, Debug)]
pub struct Env {
    /// The victim's IPC buffer vaddr (a good argument for SetIPCBuffer).
    pub ipc_buffer: Word,
}

/// The syscall numbers and their weights (per mille). DebugHalt is absent
/// on purpose.
const SYSCALL_WEIGHTS: &[(Pick, Word)] = &[
    (Pick::Number(Syscall::Call), 300),
    (Pick::Number(Syscall::Send), 110),
    (Pick::Number(Syscall::NBSend), 110),
    (Pick::Number(Syscall::Recv), 60),
    (Pick::Number(Syscall::NBRecv), 80),
    (Pick::Number(Syscall::Reply), 40),
    (Pick::Number(Syscall::ReplyRecv), 50),
    (Pick::Number(Syscall::Yield), 40),
    (Pick::Number(Syscall::DebugPutChar), 10),
    (Pick::Number(Syscall::DebugDumpScheduler), 5),
    (Pick::Number(Syscall::DebugCapIdentify), 50),
    (Pick::Number(Syscall::DebugSnapshot), 5),
    (Pick::Number(Syscall::DebugNameThread), 10),
    (Pick::NearUnknown, 60),
    (Pick::AnyWord, 70),
];

#[derive(Clone, Copy, Debug)]
enum Pick {
    Number(Syscall),
    /// A number just outside the present set: 0, small positive, −15…−64.
    NearUnknown,
    /// Any 64-bit value (except the excluded numbers).
    AnyWord,
}

/// What kind of value an argument word wants.
#[derive(Clone, Copy, Debug)]
enum Arg {
    Word,
    /// A slot that is likely empty (a destination).
    Dest,
    /// A slot that likely holds a cap (a source).
    Src,
    /// A slot whose cap the call destroys or moves away: mostly one the
    /// victim made, so that it does not lose its starting caps at once.
    Victim,
    Depth,
    /// Retype's node_depth: often 0 (the CNode cap itself).
    NodeDepth,
    ObjType,
    SizeBits,
    Count,
    Prio,
    Rights,
    Badge,
    Vaddr,
    Offset,
    Flags,
    CNodeData,
    Cptr,
    Irq,
}

/// The message words and extra caps of invocation `label`, in libsel4's
/// order (docs/sel4-abi.md §5); each extra cap is named by the slot that held
/// a cap of the right type when the epoch began.
fn shape(label: Word) -> (&'static [Arg], &'static [Word]) {
    use layout::{CNODE as C, FRAME as F, NOTIFICATION as N, TCB as T, UNTYPED as U, VSPACE as V};
    use Arg::*;
    const CNODE_OP: &[Arg] = &[Dest, Depth];
    let Some(l) = label_of(label) else {
        return (&[], &[]);
    };
    match l {
        L::UntypedRetype => (&[ObjType, SizeBits, Src, NodeDepth, Dest, Count], &[C]),
        L::TcbReadRegisters => (&[Flags, Count], &[]),
        L::TcbWriteRegisters => (&[Flags, Count, Vaddr, Vaddr, Word, Word, Word, Word], &[]),
        L::TcbCopyRegisters => (&[Flags], &[T]),
        L::TcbConfigure => (&[Cptr, CNodeData, Word, Vaddr], &[C, V, F]),
        L::TcbSetPriority | L::TcbSetMcPriority => (&[Prio], &[T]),
        L::TcbSetSchedParams => (&[Prio, Prio], &[T]),
        L::TcbSetIpcBuffer => (&[Vaddr], &[F]),
        L::TcbSetSpace => (&[Cptr, CNodeData, Word], &[C, V]),
        L::TcbSuspend | L::TcbResume | L::TcbUnbindNotification => (&[], &[]),
        L::TcbBindNotification => (&[], &[N]),
        L::TcbSetTlsBase => (&[Word], &[]),
        L::TcbSetFlags => (&[Flags, Flags], &[]),
        L::CNodeRevoke | L::CNodeDelete => (&[Victim, Depth], &[]),
        L::CNodeCancelBadgedSends => (&[Src, Depth], &[]),
        L::CNodeSaveCaller => (CNODE_OP, &[]),
        L::CNodeCopy => (&[Dest, Depth, Src, Depth, Rights], &[C]),
        L::CNodeMint => (&[Dest, Depth, Src, Depth, Rights, Badge], &[C]),
        L::CNodeMove => (&[Dest, Depth, Src, Depth], &[C]),
        L::CNodeMutate => (&[Dest, Depth, Src, Depth, CNodeData], &[C]),
        L::CNodeRotate => (
            &[Dest, Depth, Badge, Src, Depth, Badge, Src, Depth],
            &[C, C],
        ),
        L::IrqIssueIrqHandler => (&[Irq, Dest, Depth], &[C]),
        L::ArmIrqIssueIrqHandlerTrigger => (&[Irq, Flags, Dest, Depth], &[C]),
        L::ArmIrqIssueSgiSignal => (&[Irq, Count, Dest, Depth], &[C]),
        L::IrqAckIrq | L::IrqClearIrqHandler => (&[], &[]),
        L::IrqSetIrqHandler => (&[], &[N]),
        L::DomainSetSet => (&[Count], &[T]),
        L::DomainScheduleConfigure => (&[Count, Count, Word], &[]),
        L::DomainScheduleSetStart => (&[Count], &[]),
        L::ArmVSpaceCleanData
        | L::ArmVSpaceInvalidateData
        | L::ArmVSpaceCleanInvalidateData
        | L::ArmVSpaceUnifyInstruction => (&[Vaddr, Vaddr], &[]),
        L::ArmPageTableMap => (&[Vaddr, Flags], &[V]),
        L::ArmPageTableUnmap | L::ArmPageUnmap | L::ArmPageGetAddress => (&[], &[]),
        L::ArmPageMap => (&[Vaddr, Rights, Flags], &[V]),
        L::ArmPageCleanData
        | L::ArmPageInvalidateData
        | L::ArmPageCleanInvalidateData
        | L::ArmPageUnifyInstruction => (&[Offset, Offset], &[]),
        L::ArmAsidControlMakePool => (&[Dest, Depth], &[U, C]),
        L::ArmAsidPoolAssign => (&[], &[V]),
        _ => (&[], &[]),
    }
}

/// The invocation label `w` names, if any.
fn label_of(w: Word) -> Option<L> {
    L::from_word(w)
}

/// Highest invocation label of this configuration.
const MAX_LABEL: Word = cerne_abi::invocation::N_ARCH_INVOCATION_LABELS - 1;

/// A number from the weighted table.
fn syscall_number(rng: &mut Rng) -> Word {
    let total: Word = SYSCALL_WEIGHTS.iter().map(|(_, w)| w).sum();
    let mut r = rng.below(total);
    let mut pick = Pick::AnyWord;
    for (p, w) in SYSCALL_WEIGHTS {
        if r < *w {
            pick = *p;
            break;
        }
        r -= w;
    }
    match pick {
        Pick::Number(s) => s.word(),
        Pick::NearUnknown => match rng.below(3) {
            0 => rng.below(17),
            _ => (-(15 + rng.below(50) as i64)) as Word,
        },
        Pick::AnyWord => loop {
            let w = rng.next();
            // Excluded: DebugHalt stops the machine; DebugNameThread is only
            // issued through its guarded path.
            if !matches!(
                Syscall::from_word(w),
                Some(Syscall::DebugHalt | Syscall::DebugNameThread)
            ) {
                break w;
            }
        },
    }
}

/// A cptr: mostly a slot of the victim's CNode, some arbitrary.
pub fn cptr(rng: &mut Rng) -> Word {
    match rng.below(100) {
        0..75 => rng.below(layout::FIRST_FREE + 1),
        75..90 => rng.below(layout::CNODE_SLOTS),
        _ => word(rng),
    }
}

/// An "interesting" word: small numbers, slots, depths, powers of two and
/// their neighbours, extremes, vaddrs, and fully random values.
pub fn word(rng: &mut Rng) -> Word {
    match rng.below(100) {
        0..25 => rng.below(17),
        25..35 => rng.below(layout::CNODE_SLOTS),
        35..45 => rng.pick(&[1, 6, 8, 12, 32, 52, 58, 63, 64, 65]),
        45..60 => {
            let p = 1u64 << rng.below(64);
            match rng.below(3) {
                0 => p,
                1 => p.wrapping_sub(1),
                _ => p.wrapping_add(1),
            }
        }
        60..65 => Word::MAX - rng.below(4),
        65..75 => vaddr(rng, &Env { ipc_buffer: 0 }),
        _ => rng.next(),
    }
}

/// A virtual address: mostly aligned ones in an empty part of the address
/// space, some unaligned, some past the top of user space. The root
/// task's own image is never named: the victim shares its VSpace.
fn vaddr(rng: &mut Rng, env: &Env) -> Word {
    const BASE: Word = 0x10_0000_0000;
    match rng.below(100) {
        0..30 => BASE + (rng.below(512) << 12),
        30..45 => BASE + (rng.below(512) << 21),
        45..55 => BASE + (rng.below(64) << 30),
        55..65 if env.ipc_buffer != 0 => env.ipc_buffer,
        55..75 => BASE + rng.below(1 << 32),
        75..85 => USER_TOP.wrapping_add(1).wrapping_sub(rng.below(3) << 12),
        _ => rng.next(),
    }
}

fn arg(rng: &mut Rng, kind: Arg, env: &Env) -> Word {
    if rng.chance(10) {
        return word(rng);
    }
    match kind {
        Arg::Word => word(rng),
        Arg::Dest => match rng.below(10) {
            0..7 => layout::FIRST_FREE + rng.below(layout::CNODE_SLOTS - layout::FIRST_FREE),
            _ => rng.below(layout::CNODE_SLOTS),
        },
        Arg::Src => match rng.below(10) {
            0..7 => 1 + rng.below(layout::FIRST_FREE - 1),
            _ => rng.below(layout::CNODE_SLOTS),
        },
        Arg::Victim => match rng.below(10) {
            0..8 => layout::FIRST_FREE + rng.below(layout::CNODE_SLOTS - layout::FIRST_FREE),
            _ => rng.below(layout::CNODE_SLOTS),
        },
        Arg::NodeDepth => match rng.below(2) {
            0 => 0,
            _ => arg(rng, Arg::Depth, env),
        },
        Arg::Depth => match rng.below(10) {
            0..7 => 64,
            7 => layout::CNODE_BITS,
            8 => rng.below(9),
            _ => rng.pick(&[0, 63, 65, 128]),
        },
        Arg::ObjType => rng.below(12),
        Arg::SizeBits => match rng.below(4) {
            0 => 0,
            1 => rng.below(8),
            2 => rng.below(24),
            _ => rng.below(64),
        },
        Arg::Count => match rng.below(4) {
            0..2 => 1 + rng.below(4),
            2 => rng.below(40),
            _ => rng.below(300),
        },
        Arg::Prio => rng.below(256),
        Arg::Rights => rng.below(16),
        Arg::Badge => match rng.below(3) {
            0 => 0,
            1 => rng.below(256),
            _ => rng.next(),
        },
        Arg::Vaddr => vaddr(rng, env),
        Arg::Offset => match rng.below(3) {
            0 => rng.below(4097),
            1 => rng.below(64) << 6,
            _ => word(rng),
        },
        Arg::Flags => rng.below(16) | ((rng.below(2) * rng.below(256)) << 8),
        Arg::CNodeData => match rng.below(4) {
            0 => 0,
            1 => layout::CNODE_GUARD_DATA,
            2 => rng.below(64) | (rng.below(4) << 6),
            _ => rng.next(),
        },
        Arg::Cptr => cptr(rng),
        Arg::Irq => rng.below(170),
    }
}

/// The invocation labels that fit the cap the victim's CSpace held at
/// `cptr` when the epoch began (the cap may have moved since: it is a
/// bias, not a rule).
fn labels_for(cptr: Word) -> Option<(Word, Word)> {
    match cptr {
        layout::TCB => Some((L::TcbReadRegisters.word(), L::TcbSetFlags.word())),
        layout::CNODE => Some((L::CNodeRevoke.word(), L::CNodeSaveCaller.word())),
        layout::VSPACE => Some((
            L::ArmVSpaceCleanData.word(),
            L::ArmVSpaceUnifyInstruction.word(),
        )),
        layout::FRAME => Some((L::ArmPageMap.word(), L::ArmPageGetAddress.word())),
        layout::UNTYPED | layout::DEVICE_UNTYPED => {
            Some((L::UntypedRetype.word(), L::UntypedRetype.word()))
        }
        p if p == layout::PAGE_TABLE
            || (layout::MORE_PAGE_TABLES..layout::MORE_PAGE_TABLES + 2).contains(&p) =>
        {
            Some((L::ArmPageTableMap.word(), L::ArmPageTableUnmap.word()))
        }
        layout::ASID_POOL => Some((L::ArmAsidPoolAssign.word(), L::ArmAsidPoolAssign.word())),
        _ => None,
    }
}

/// The MessageInfo label for an invocation of `cptr`: often one that
/// fits the cap there, else mostly any invocation label.
fn label(rng: &mut Rng, cptr: Word) -> Word {
    if let Some((lo, hi)) = labels_for(cptr) {
        if rng.chance(60) {
            return lo + rng.below(hi - lo + 1);
        }
    }
    match rng.below(100) {
        0..70 => 1 + rng.below(MAX_LABEL),
        70..78 => 0,
        78..85 => MAX_LABEL + 1 + rng.below(14),
        _ => rng.next() >> 12,
    }
}

/// Draws the next system call into `plan`.
pub fn generate(rng: &mut Rng, env: &Env, plan: &mut Plan) {
    let number = syscall_number(rng);
    let x0 = match Syscall::from_word(number) {
        Some(Syscall::DebugPutChar) => {
            // Any high bits, but a printable character, so that the console
            // stays readable.
            (rng.next() & !0xff) | (b' ' as Word + rng.below(95))
        }
        Some(Syscall::Recv | Syscall::NBRecv | Syscall::ReplyRecv) if rng.chance(60) => {
            rng.pick(&[
                layout::ENDPOINT,
                layout::NOTIFICATION,
                layout::BADGED_ENDPOINT,
                layout::FAULT_EP,
            ])
        }
        _ => cptr(rng),
    };
    let label = label(rng, x0);
    let (shape, shape_caps) = shape(label);
    let shaped = rng.chance(80);
    let length = if shaped && !shape.is_empty() {
        match rng.below(10) {
            0 => rng.below(shape.len() as Word + 1),
            1 => shape.len() as Word + rng.below(4),
            _ => shape.len() as Word,
        }
    } else {
        match rng.below(4) {
            0..2 => rng.below(9),
            2 => rng.below(MSG_MAX_LENGTH as Word + 1),
            _ => rng.below(128),
        }
    };
    let extra_caps = if shaped && rng.chance(80) {
        shape_caps.len() as Word
    } else {
        rng.below(4)
    };
    let unwrapped = if rng.chance(10) { rng.below(8) } else { 0 };
    let info = if rng.chance(3) {
        rng.next()
    } else {
        MessageInfo::new(label, unwrapped, extra_caps, length).word()
    };

    let words = (length as usize).min(MSG_MAX_LENGTH);
    for i in 0..words {
        plan.mrs[i] = match shape.get(i) {
            Some(kind) if shaped => arg(rng, *kind, env),
            _ => word(rng),
        };
    }
    plan.len = words;
    if shaped && label == L::UntypedRetype.word() && words >= 2 && rng.chance(70) {
        // A size that suits the type: untypeds and CNodes are sized by it,
        // other objects ignore it.
        plan.mrs[1] = match plan.mrs[0] {
            0 => 4 + rng.below(layout::UNTYPED_BITS - 3),
            4 => 1 + rng.below(8),
            _ => 0,
        };
    }
    for (i, c) in plan.caps.iter_mut().enumerate() {
        *c = if shaped && i < shape_caps.len() && rng.chance(80) {
            shape_caps[i]
        } else if rng.chance(60) {
            rng.pick(&[
                layout::CNODE,
                layout::TCB,
                layout::VSPACE,
                layout::FRAME,
                layout::NOTIFICATION,
                layout::UNTYPED,
                layout::DEVICE_UNTYPED,
            ])
        } else {
            cptr(rng)
        };
    }
    plan.recv = [
        if rng.chance(70) {
            layout::CNODE
        } else {
            cptr(rng)
        },
        rng.below(layout::CNODE_SLOTS),
        if rng.chance(70) {
            64
        } else {
            arg(rng, Arg::Depth, env)
        },
    ];

    plan.regs = [
        x0,
        info,
        plan.mrs[0],
        plan.mrs[1],
        plan.mrs[2],
        plan.mrs[3],
        word(rng),
        number,
    ];
    // Short messages still carry random x2..x5.
    for i in words..4 {
        plan.regs[2 + i] = word(rng);
    }
}
