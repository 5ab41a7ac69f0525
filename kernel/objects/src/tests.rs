//! Host tests of the object model through the kernel-facing API: the boot
//! sequence the kernel performs, and syscalls of the root task on top of it.
#![forbid(unsafe_code)]

use crate::cap::Cap;
use crate::cspace::{self, cnode_slot};
use crate::hostboot::{self, BootLayout, ARENA_BASE};
use crate::invariants;
use crate::layout::*;
use crate::tcb::ThreadState;
use crate::{Kernel, KernelState, PhysMem};
use cerne_abi::error::Error;
use cerne_abi::invocation::InvocationLabel as L;
use cerne_abi::message::MessageInfo;
use cerne_abi::object::ObjectType;
use cerne_abi::slots::*;
use cerne_abi::syscall::Syscall;
use std::vec;
use std::vec::Vec;

/// Arena size: small enough for Miri.
const ARENA_WORDS: usize = (1 << 20) / 8;

fn with_booted(radix: u8, f: impl FnOnce(&mut Kernel<'_>, &BootLayout)) {
    let mut words = vec![0u64; ARENA_WORDS];
    let mut st = KernelState::new();
    let mem = PhysMem::from_words(&mut words, ARENA_BASE).unwrap();
    let mut k = Kernel::new(mem, &mut st);
    let l = hostboot::boot(&mut k, radix, 18);
    check(&k, &l);
    f(&mut k, &l);
    check(&k, &l);
}

fn check(k: &Kernel<'_>, l: &BootLayout) {
    if let Err(e) = invariants::check(k, &hostboot::root_slots(l)) {
        panic!("invariant violated: {e}");
    }
}

/// Result of a Call from the current thread.
#[derive(Debug)]
#[allow(dead_code)]
struct Out {
    badge: u64,
    info: MessageInfo,
    mrs: Vec<u64>,
}

/// The current thread performs syscall `sys` with the given message.
fn syscall(
    k: &mut Kernel<'_>,
    sys: Syscall,
    cptr: u64,
    label: u64,
    mrs: &[u64],
    caps: &[u64],
) -> Out {
    let t = k.current_thread().expect("a current thread");
    let buf = k.ipc_buffer(t, false);
    for (i, c) in caps.iter().enumerate() {
        k.mem.write_word(buf.unwrap() + 976 + 8 * i as u64, *c);
    }
    for (i, m) in mrs.iter().enumerate() {
        k.set_mr(t, buf, i, *m);
    }
    {
        let ctx = k.user_context_mut(t);
        ctx.x[0] = cptr;
        ctx.x[1] = MessageInfo::new(label, 0, caps.len() as u64, mrs.len() as u64).word();
        ctx.elr_el1 += 4;
    }
    k.handle_syscall(sys.word());
    k.schedule_and_activate();
    let ctx = *k.user_context_mut(t);
    let info = MessageInfo::from_word(ctx.x[1]);
    let rbuf = k.ipc_buffer(t, true);
    let mrs = (0..info.length() as usize)
        .map(|i| k.get_mr(t, rbuf, i))
        .collect();
    Out {
        badge: ctx.x[0],
        info,
        mrs,
    }
}

/// Index of the largest boot untyped.
fn big(l: &BootLayout) -> usize {
    (0..l.untypeds.len())
        .max_by_key(|i| (l.untypeds[*i].2, usize::MAX - i))
        .unwrap()
}

fn call(k: &mut Kernel<'_>, cptr: u64, label: L, mrs: &[u64], caps: &[u64]) -> Out {
    syscall(k, Syscall::Call, cptr, label.word(), mrs, caps)
}

fn retype(
    k: &mut Kernel<'_>,
    l: &BootLayout,
    ut: usize,
    ty: impl TypeWord,
    bits: u64,
    dest: u64,
    n: u64,
) -> Out {
    let ut_cptr = (l.untypeds[ut].0 - l.root_cnode) >> 5;
    call(
        k,
        ut_cptr,
        L::UntypedRetype,
        &[ty.word(), bits, 0, 0, dest, n],
        &[CAP_INIT_THREAD_CNODE as u64],
    )
}

#[test]
fn user_context_layout_is_fixed() {
    assert_eq!(core::mem::size_of::<UserContext>(), 288);
    assert_eq!(UC_SP_EL0, 31 * 8);
    assert_eq!(UC_TPIDRRO_EL0, 35 * 8);
}

#[test]
fn boot_sequence_builds_the_root_task() {
    with_booted(12, |k, l| {
        let slot = |i: usize| cnode_slot(l.root_cnode, i as u64);
        assert_eq!(k.slot_cap(slot(CAP_INIT_THREAD_TCB)), Cap::thread(l.tcb));
        assert_eq!(
            k.slot_cap(slot(CAP_INIT_THREAD_CNODE)),
            Cap::cnode(l.root_cnode, 12, 0, 52)
        );
        assert_eq!(
            k.slot_cap(slot(CAP_INIT_THREAD_VSPACE)),
            Cap::vspace(l.vspace, Some(1))
        );
        assert_eq!(k.slot_cap(slot(CAP_IRQ_CONTROL)), Cap::IrqControl);
        assert_eq!(k.slot_cap(slot(CAP_ASID_CONTROL)), Cap::AsidControl);
        assert_eq!(k.slot_cap(slot(CAP_DOMAIN)), Cap::Domain);
        assert!(k.slot_cap(slot(CAP_IO_PORT_CONTROL)).is_null());
        assert!(k.slot_cap(slot(CAP_SMC)).is_null());
        assert_eq!(k.find_vspace_for_asid(1), Some(l.vspace));
        assert_eq!(k.current_thread(), Some(l.tcb));
        assert_eq!(k.thread_state(l.tcb), ThreadState::Running);
        let f = k.tcb_fields(l.tcb);
        assert_eq!((f.priority, f.mcp), (255, 255));
        let mut name = [0u8; 16];
        let n = k.thread_name(l.tcb, &mut name);
        assert_eq!(&name[..n], b"rootserver");
        // The TCB's CSpace root resolves the initial slots at depth 64.
        let root = k.cspace_root(l.tcb);
        for i in [1u64, 2, 3, 11] {
            assert_eq!(cspace::lookup_slot(&k.mem, root, i), Ok(slot(i as usize)));
        }
        assert_eq!(k.ipc_buffer(l.tcb, true), Some(l.ipc_buffer.0));
        assert!(!l.untypeds.is_empty());
        let vaddr = k.user_context_vaddr(l.tcb);
        assert_eq!(vaddr, k.mem.virt_addr(l.tcb));
        assert_eq!(k.user_context_mut(l.tcb).x[0], l.bootinfo.1);
    });
}

#[test]
fn retype_copy_mint_revoke() {
    with_booted(8, |k, l| {
        let d = l.first_free_slot;
        let r = retype(k, l, big(l), ObjectType::Endpoint, 0, d, 2);
        assert_eq!(r.info.label(), 0, "{r:?}");
        assert!(matches!(
            k.slot_cap(cnode_slot(l.root_cnode, d)),
            Cap::Endpoint { badge: 0, .. }
        ));
        check(k, l);
        // Mint a badged copy with Write only.
        let r = call(
            k,
            CAP_INIT_THREAD_CNODE as u64,
            L::CNodeMint,
            &[d + 2, 64, d, 64, 1, 0x55],
            &[2],
        );
        assert_eq!(r.info.label(), 0, "{r:?}");
        assert!(matches!(
            k.slot_cap(cnode_slot(l.root_cnode, d + 2)),
            Cap::Endpoint { badge: 0x55, .. }
        ));
        // Re-badging a badged cap is illegal.
        let r = call(
            k,
            CAP_INIT_THREAD_CNODE as u64,
            L::CNodeMint,
            &[d + 3, 64, d + 2, 64, 15, 7],
            &[2],
        );
        assert_eq!(
            Error::from_word(r.info.label()),
            Some(Error::IllegalOperation)
        );
        // Occupied destination.
        let r = retype(k, l, big(l), ObjectType::Endpoint, 0, d, 1);
        assert_eq!(Error::from_word(r.info.label()), Some(Error::DeleteFirst));
        check(k, l);
        // Revoke the untyped: every object goes.
        let ut_cptr = (l.untypeds[big(l)].0 - l.root_cnode) >> 5;
        let r = call(
            k,
            CAP_INIT_THREAD_CNODE as u64,
            L::CNodeRevoke,
            &[ut_cptr, 64],
            &[],
        );
        assert_eq!(r.info.label(), 0);
        for i in d..d + 3 {
            assert!(k.slot_cap(cnode_slot(l.root_cnode, i)).is_null());
        }
    });
}

#[test]
fn retype_errors_in_order() {
    with_booted(8, |k, l| {
        let d = l.first_free_slot;
        let err = |o: Out| (Error::from_word(o.info.label()), o.mrs);
        let r = retype(k, l, big(l), 10, 0, d, 1);
        let _ = r;
        let o = retype(k, l, big(l), ObjectType::Untyped, 64, d, 1);
        assert_eq!(err(o), (Some(Error::RangeError), vec![0, 47]));
        let o = retype(k, l, big(l), ObjectType::CapTable, 0, d, 1);
        assert_eq!(err(o), (Some(Error::InvalidArgument), vec![1]));
        let o = retype(k, l, big(l), ObjectType::Untyped, 3, d, 1);
        assert_eq!(err(o), (Some(Error::InvalidArgument), vec![1]));
        let o = retype(k, l, big(l), ObjectType::Endpoint, 0, 1 << 8, 1);
        assert_eq!(err(o), (Some(Error::RangeError), vec![0, 255]));
        let o = retype(k, l, big(l), ObjectType::Endpoint, 0, d, 0);
        assert_eq!(err(o), (Some(Error::RangeError), vec![1, 256]));
        let o = retype(k, l, big(l), ObjectType::Endpoint, 0, 255, 2);
        assert_eq!(err(o), (Some(Error::RangeError), vec![1, 1]));
        let size = 1u64 << l.untypeds[big(l)].2;
        let o = retype(
            k,
            l,
            big(l),
            ObjectType::Untyped,
            l.untypeds[big(l)].2 as u64 + 1,
            d,
            1,
        );
        assert_eq!(err(o), (Some(Error::NotEnoughMemory), vec![size]));
    });
}

trait TypeWord {
    fn word(self) -> u64;
}
impl TypeWord for u64 {
    fn word(self) -> u64 {
        self
    }
}
impl TypeWord for ObjectType {
    fn word(self) -> u64 {
        ObjectType::word(self)
    }
}

#[test]
fn ipc_call_reply_between_two_threads() {
    with_booted(8, |k, l| {
        let d = l.first_free_slot;
        let root = CAP_INIT_THREAD_CNODE as u64;
        // d: endpoint, d+1: TCB, d+2: badged endpoint copy for the client.
        assert_eq!(
            retype(k, l, big(l), ObjectType::Endpoint, 0, d, 1)
                .info
                .label(),
            0
        );
        assert_eq!(
            retype(k, l, big(l), ObjectType::Tcb, 0, d + 1, 1)
                .info
                .label(),
            0
        );
        let r = call(
            k,
            root,
            L::CNodeMint,
            &[d + 2, 64, d, 64, 0xf, 0x77],
            &[root],
        );
        assert_eq!(r.info.label(), 0);
        // Configure the client thread with the root CSpace / VSpace, no buffer.
        let r = call(
            k,
            d + 1,
            L::TcbConfigure,
            &[0, 0, 0, 0],
            &[
                root,
                CAP_INIT_THREAD_VSPACE as u64,
                CAP_INIT_THREAD_IPC_BUFFER as u64,
            ],
        );
        assert_eq!(r.info.label(), 0, "{r:?}");
        let r = call(
            k,
            d + 1,
            L::TcbSetPriority,
            &[200],
            &[CAP_INIT_THREAD_TCB as u64],
        );
        assert_eq!(r.info.label(), 0);
        let client = match k.slot_cap(cnode_slot(l.root_cnode, d + 1)) {
            Cap::Thread { tcb } => tcb,
            c => panic!("{c:?}"),
        };
        let r = call(k, d + 1, L::TcbResume, &[], &[]);
        assert_eq!(r.info.label(), 0);
        assert_eq!(k.thread_state(client), ThreadState::Restart);
        check(k, l);
        // The server (root) waits; the client runs and calls.
        let _ = syscall(k, Syscall::Recv, d, 0, &[], &[]);
        assert_eq!(k.current_thread(), Some(client));
        check(k, l);
        let r = syscall(k, Syscall::Call, d + 2, 9, &[1, 2, 3], &[]);
        let _ = r;
        // The server received the message and runs (higher priority).
        assert_eq!(k.current_thread(), Some(l.tcb));
        let ctx = *k.user_context_mut(l.tcb);
        assert_eq!(ctx.x[0], 0x77);
        let info = MessageInfo::from_word(ctx.x[1]);
        assert_eq!((info.label(), info.length()), (9, 3));
        assert_eq!(&ctx.x[2..5], &[1, 2, 3]);
        assert_eq!(k.thread_state(client), ThreadState::BlockedOnReply);
        check(k, l);
        // Reply; the client resumes with the reply.
        let t = l.tcb;
        k.user_context_mut(t).x[1] = MessageInfo::new(5, 0, 0, 1).word();
        k.user_context_mut(t).x[2] = 42;
        k.handle_syscall(Syscall::Reply.word());
        k.schedule_and_activate();
        assert_eq!(k.thread_state(client), ThreadState::Running);
        let c = *k.user_context_mut(client);
        assert_eq!((MessageInfo::from_word(c.x[1]).label(), c.x[2]), (5, 42));
        check(k, l);
        // Deleting the client while it waits on the endpoint restarts nothing
        // else and leaves no dangling queue entry.
        let r = call(k, root, L::CNodeDelete, &[d + 1, 64], &[]);
        assert_eq!(r.info.label(), 0);
        assert_eq!(k.thread_state(client), ThreadState::Inactive);
    });
}
