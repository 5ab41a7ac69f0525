//! The operations of a random sequence, how they are generated, and how
//! they print (a shrunk failure reads as a list of these).
//!
//! Arguments are drawn the way a hostile user passes words: mostly small
//! values that name slots, depths, rights and badges of the test system,
//! mixed with boundary values and arbitrary 64-bit words.

use cerne_abi::invocation::InvocationLabel;
use cerne_abi::object::ObjectType;
use cerne_abi::syscall::Syscall;
use proptest::prelude::*;
use std::fmt;

/// System calls a step can make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SysKind {
    /// A numbered syscall.
    Known(Syscall),
    /// Any other x7 value (UnknownSyscall fault).
    Unknown(u64),
}

impl SysKind {
    /// The x7 word.
    pub fn word(self) -> u64 {
        match self {
            SysKind::Known(s) => s.word(),
            SysKind::Unknown(w) => w,
        }
    }
}

/// One step.
#[derive(Clone, PartialEq, Eq)]
pub enum Op {
    /// Let thread `n` (modulo the number of test threads) run now, if it
    /// can (a context switch both models perform identically).
    RunAs(u8),
    /// The supervisor resumes thread `n` (seL4 `restart`: a stopped or
    /// blocked thread has its IPC cancelled and restarts its syscall).
    Resume(u8),
    /// The current thread makes a system call.
    Sys {
        /// Which call.
        sys: SysKind,
        /// x0.
        cptr: u64,
        /// MessageInfo label.
        label: u64,
        /// MessageInfo length (0..=127).
        len: u64,
        /// MessageInfo extraCaps (0..=3).
        extra: u64,
        /// MR0..MR7.
        mrs: [u64; 8],
        /// caps_or_badges[0..3] cptrs in the IPC buffer.
        caps: [u64; 3],
        /// receiveCNode, receiveIndex, receiveDepth in the IPC buffer.
        recv: [u64; 3],
    },
    /// The current thread takes a VM fault.
    VmFault {
        /// Faulting address.
        addr: u64,
        /// Instruction fault.
        instruction: bool,
    },
    /// The current thread takes a user exception.
    UserException {
        /// ESR.
        number: u64,
    },
}

fn label_name(l: u64) -> String {
    match InvocationLabel::from_word(l) {
        Some(x) => format!("{x:?}"),
        None => format!("label {l:#x}"),
    }
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::RunAs(n) => write!(f, "RunAs(thread {n})"),
            Op::Resume(n) => write!(f, "Resume(thread {n})"),
            Op::VmFault { addr, instruction } => {
                write!(f, "VmFault(addr={addr:#x}, instruction={instruction})")
            }
            Op::UserException { number } => write!(f, "UserException({number:#x})"),
            Op::Sys {
                sys,
                cptr,
                label,
                len,
                extra,
                mrs,
                caps,
                recv,
            } => {
                let name = match sys {
                    SysKind::Known(s) => format!("{s:?}"),
                    SysKind::Unknown(w) => format!("Syscall({w:#x})"),
                };
                let w = |v: &u64| {
                    if *v < 0x1000 {
                        format!("{v}")
                    } else {
                        format!("{v:#x}")
                    }
                };
                let mrs: Vec<String> = mrs.iter().take(*len as usize).map(w).collect();
                write!(f, "{name}(cptr={}", w(cptr))?;
                if matches!(
                    sys,
                    SysKind::Known(Syscall::Call | Syscall::Send | Syscall::NBSend)
                ) {
                    write!(f, ", {}, mrs=[{}]", label_name(*label), mrs.join(", "))?;
                    if *extra > 0 {
                        let c: Vec<String> = caps.iter().take(*extra as usize).map(w).collect();
                        write!(f, ", caps=[{}]", c.join(", "))?;
                    }
                    if *len as usize > 8 {
                        write!(f, ", len={len}")?;
                    }
                } else if matches!(sys, SysKind::Known(Syscall::Reply | Syscall::ReplyRecv)) {
                    write!(f, ", reply label={label}, mrs=[{}]", mrs.join(", "))?;
                }
                if matches!(
                    sys,
                    SysKind::Known(Syscall::Recv | Syscall::ReplyRecv | Syscall::NBRecv)
                ) {
                    write!(
                        f,
                        ", recv slot=({}, {}, {})",
                        w(&recv[0]),
                        w(&recv[1]),
                        w(&recv[2])
                    )?;
                }
                write!(f, ")")
            }
        }
    }
}

/// A word as a hostile user chooses it: mostly small, sometimes a boundary,
/// sometimes anything.
pub fn word() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => 0u64..16,
        2 => Just(64u64),
        1 => prop::sample::select(vec![4u64, 6, 10, 58, 60, 63, 65, 255, 256, 0xfff, 1 << 12, u64::MAX]),
        1 => any::<u64>(),
    ]
}

fn depth() -> impl Strategy<Value = u64> {
    prop_oneof![6 => Just(64u64), 2 => Just(4u64), 1 => Just(6u64), 1 => word()]
}

fn rights() -> impl Strategy<Value = u64> {
    prop_oneof![3 => Just(0xfu64), 3 => 0u64..16, 1 => any::<u64>()]
}

fn label() -> impl Strategy<Value = u64> {
    use InvocationLabel as L;
    prop_oneof![
        4 => L::CNodeRevoke.word()..=L::CNodeSaveCaller.word(),
        2 => Just(L::UntypedRetype.word()),
        3 => L::TcbReadRegisters.word()..=L::TcbSetFlags.word(),
        2 => 0u64..4,
        1 => any::<u64>(),
    ]
}

fn object_type() -> impl Strategy<Value = u64> {
    prop_oneof![8 => 0u64..ObjectType::ALL.len() as u64, 1 => 10u64..12, 1 => any::<u64>()]
}

/// Message registers shaped for the invocation `label`.
fn mrs_for(label: u64) -> BoxedStrategy<[u64; 8]> {
    use InvocationLabel as L;
    let any8 = prop::array::uniform8(word());
    match InvocationLabel::from_word(label) {
        Some(L::UntypedRetype) => (
            object_type(),
            prop_oneof![0u64..14, word()],
            word(),
            prop_oneof![Just(0u64), depth()],
            0u64..16,
            prop_oneof![1u64..4, word()],
            word(),
            word(),
        )
            .prop_map(|(a, b, c, d, e, f, g, h)| [a, b, c, d, e, f, g, h])
            .boxed(),
        Some(L::CNodeCopy | L::CNodeMint | L::CNodeMove | L::CNodeMutate) => (
            0u64..16,
            depth(),
            0u64..16,
            depth(),
            rights(),
            prop_oneof![Just(0u64), 1u64..4, Just(60u64), any::<u64>()],
            word(),
            word(),
        )
            .prop_map(|(a, b, c, d, e, f, g, h)| [a, b, c, d, e, f, g, h])
            .boxed(),
        Some(L::CNodeRotate) => (
            0u64..16,
            depth(),
            word(),
            0u64..16,
            depth(),
            word(),
            0u64..16,
            depth(),
        )
            .prop_map(|(a, b, c, d, e, f, g, h)| [a, b, c, d, e, f, g, h])
            .boxed(),
        Some(L::CNodeRevoke | L::CNodeDelete | L::CNodeCancelBadgedSends | L::CNodeSaveCaller) => {
            (0u64..16, depth(), any8)
                .prop_map(|(a, b, r)| [a, b, r[2], r[3], r[4], r[5], r[6], r[7]])
                .boxed()
        }
        Some(L::TcbSetPriority | L::TcbSetMcPriority | L::TcbSetSchedParams) => (
            prop_oneof![0u64..256, word()],
            prop_oneof![0u64..256, word()],
            any8,
        )
            .prop_map(|(a, b, r)| [a, b, r[2], r[3], r[4], r[5], r[6], r[7]])
            .boxed(),
        Some(L::TcbReadRegisters | L::TcbWriteRegisters) => {
            (0u64..2, prop_oneof![0u64..8, 30u64..40, word()], any8)
                .prop_map(|(a, b, r)| [a, b, r[2], r[3], r[4], r[5], r[6], r[7]])
                .boxed()
        }
        _ => any8.boxed(),
    }
}

fn sys_kind() -> impl Strategy<Value = SysKind> {
    use Syscall::*;
    prop_oneof![
        14 => Just(SysKind::Known(Call)),
        3 => Just(SysKind::Known(Send)),
        2 => Just(SysKind::Known(NBSend)),
        3 => Just(SysKind::Known(Recv)),
        2 => Just(SysKind::Known(NBRecv)),
        2 => Just(SysKind::Known(Reply)),
        2 => Just(SysKind::Known(ReplyRecv)),
        2 => Just(SysKind::Known(Yield)),
        1 => prop_oneof![Just(0u64), Just((-15i64) as u64), any::<u64>()].prop_map(SysKind::Unknown),
    ]
}

/// Slots of a test thread's CNode (see `harness::World::setup`).
pub mod slot {
    /// ep0, badged with the thread number + 1.
    pub const EP0_BADGED: u64 = 1;
    /// ntfn0, badged 1 << thread number.
    pub const NTFN0_BADGED: u64 = 2;
    /// ep1 (the fault endpoint).
    pub const EP1: u64 = 3;
    /// The next thread's TCB (its only cap).
    pub const NEXT_TCB: u64 = 4;
    /// ntfn1, unbadged.
    pub const NTFN1: u64 = 5;
    /// The thread's own CNode (guard 60).
    pub const OWN_CNODE: u64 = 6;
    /// An untyped of 4 KiB.
    pub const UNTYPED: u64 = 7;
    /// ep0, unbadged.
    pub const EP0: u64 = 9;
}

fn ipc_cptr() -> impl Strategy<Value = u64> {
    prop::sample::select(vec![
        slot::EP0_BADGED,
        slot::NTFN0_BADGED,
        slot::EP1,
        slot::NTFN1,
        slot::EP0,
        10,
        11,
    ])
}

/// (syscall, invoked cptr, label) chosen with an intent: a CNode, untyped
/// or TCB invocation with a label of that object, IPC on an endpoint or
/// notification, a receive, or anything at all.
fn intent() -> impl Strategy<Value = (SysKind, u64, u64)> {
    use InvocationLabel as L;
    use Syscall::*;
    let call_or_send = prop_oneof![4 => Just(SysKind::Known(Call)), 1 => Just(SysKind::Known(Send)), 1 => Just(SysKind::Known(NBSend))];
    prop_oneof![
        4 => (Just(SysKind::Known(Call)), prop_oneof![5 => Just(slot::OWN_CNODE), 1 => 0u64..16], L::CNodeRevoke.word()..=L::CNodeSaveCaller.word()),
        2 => (Just(SysKind::Known(Call)), prop_oneof![5 => Just(slot::UNTYPED), 1 => 0u64..16], prop_oneof![5 => Just(L::UntypedRetype.word()), 1 => label()]),
        3 => (Just(SysKind::Known(Call)), prop_oneof![5 => Just(slot::NEXT_TCB), 1 => 0u64..16], L::TcbReadRegisters.word()..=L::TcbSetFlags.word()),
        5 => (call_or_send, ipc_cptr(), prop_oneof![0u64..4, any::<u64>()]),
        4 => (prop_oneof![Just(SysKind::Known(Recv)), Just(SysKind::Known(NBRecv)), Just(SysKind::Known(ReplyRecv))], ipc_cptr(), 0u64..4),
        2 => (prop_oneof![Just(SysKind::Known(Reply)), Just(SysKind::Known(Yield))], 0u64..16, 0u64..4),
        2 => (sys_kind(), word(), label()),
        1 => (prop_oneof![
            Just(SysKind::Known(BenchmarkGetThreadUtilisation)),
            Just(SysKind::Known(BenchmarkResetThreadUtilisation)),
            Just(SysKind::Known(BenchmarkResetAllThreadsUtilisation)),
        ], prop_oneof![3 => Just(slot::NEXT_TCB), 1 => 0u64..16], 0u64..4),
    ]
}

fn sys_op() -> impl Strategy<Value = Op> {
    intent().prop_flat_map(|(sys, cptr, label)| {
        (
            Just(sys),
            Just(cptr),
            Just(label),
            prop_oneof![8 => 0u64..9, 1 => 9u64..128],
            prop_oneof![6 => Just(0u64), 3 => 1u64..4],
            mrs_for(label),
            prop::array::uniform3(prop_oneof![3 => Just(6u64), 4 => 0u64..16, 1 => word()]),
            (
                prop_oneof![4 => Just(6u64), 1 => word()],
                prop_oneof![4 => 8u64..16, 1 => word()],
                prop_oneof![4 => Just(64u64), 1 => word()],
            ),
        )
            .prop_map(|(sys, cptr, label, len, extra, mrs, caps, (rc, ri, rd))| {
                // Invocations carry at least the words their label needs.
                let known = InvocationLabel::from_word(label).is_some();
                let len = if known && (cptr == slot::OWN_CNODE || cptr == slot::UNTYPED) {
                    len.max(8)
                } else {
                    len
                };
                let extra = if known && cptr == slot::OWN_CNODE {
                    extra.max(2)
                } else if known && (cptr == slot::UNTYPED || cptr == slot::NEXT_TCB) {
                    extra.max(1)
                } else {
                    extra
                };
                Op::Sys {
                    sys,
                    cptr,
                    label,
                    len,
                    extra,
                    mrs,
                    caps,
                    recv: [rc, ri, rd],
                }
            })
    })
}

/// Well-formed CNode and untyped invocations on the thread's own CSpace:
/// retype into free slots, copy / mint / delete / revoke of occupied slots.
fn targeted_op() -> impl Strategy<Value = Op> {
    use InvocationLabel as L;
    prop_oneof![
        (0u64..10, 0u64..8, 10u64..16, 1u64..3).prop_map(|(ty, bits, at, n)| call(
            slot::UNTYPED,
            L::UntypedRetype,
            &[ty, bits, 0, 0, at, n],
            &[slot::OWN_CNODE]
        )),
        (
            prop_oneof![Just(L::CNodeCopy), Just(L::CNodeMint)],
            10u64..16,
            1u64..10,
            0u64..16,
            0u64..4
        )
            .prop_map(|(l, dest, src, rights, badge)| call(
                slot::OWN_CNODE,
                l,
                &[dest, 64, src, 64, rights, badge],
                &[slot::OWN_CNODE]
            )),
        (
            prop_oneof![Just(L::CNodeDelete), Just(L::CNodeRevoke)],
            1u64..16
        )
            .prop_map(|(l, i)| call(slot::OWN_CNODE, l, &[i, 64], &[])),
    ]
}

/// Any step.
pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => targeted_op(),
        4 => (0u8..4).prop_map(Op::RunAs),
        2 => (1u8..4).prop_map(Op::Resume),
        14 => sys_op(),
        1 => (any::<u64>(), any::<bool>()).prop_map(|(addr, instruction)| Op::VmFault { addr, instruction }),
        1 => any::<u32>().prop_map(|n| Op::UserException { number: n as u64 }),
    ]
}

/// Convenience for setup steps: a Call with the given label and arguments.
pub fn call(cptr: u64, label: InvocationLabel, mrs: &[u64], caps: &[u64]) -> Op {
    let mut m = [0u64; 8];
    m[..mrs.len()].copy_from_slice(mrs);
    let mut c = [0u64; 3];
    c[..caps.len()].copy_from_slice(caps);
    Op::Sys {
        sys: SysKind::Known(Syscall::Call),
        cptr,
        label: label.word(),
        len: mrs.len() as u64,
        extra: caps.len() as u64,
        mrs: m,
        caps: c,
        recv: [0; 3],
    }
}
