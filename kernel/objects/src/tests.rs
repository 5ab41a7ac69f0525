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

/// Arena size: 1 MiB natively, 256 KiB under Miri (which is ~1000× slower).
const ARENA_WORDS: usize = if cfg!(miri) {
    (256 << 10) / 8
} else {
    (1 << 20) / 8
};

fn with_booted(radix: u8, f: impl FnOnce(&mut Kernel<'_>, &BootLayout)) {
    let mut words = vec![0u64; ARENA_WORDS];
    let mut st = KernelState::new();
    let mem = PhysMem::from_words(&mut words, ARENA_BASE).unwrap();
    let mut k = Kernel::new(mem, &mut st);
    let l = hostboot::boot(&mut k, radix, 16);
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
    event: crate::syscall::Event,
    tlb: crate::TlbFlushes,
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
    let event = k.handle_syscall(sys.word());
    let tlb = k.take_tlb_flushes();
    k.schedule_and_activate();
    let ctx = *k.user_context_mut(t);
    let info = MessageInfo::from_word(ctx.x[1]);
    let rbuf = k.ipc_buffer(t, true);
    let mrs = (0..info.length() as usize)
        .map(|i| k.get_mr(t, rbuf, i))
        .collect();
    Out {
        event,
        tlb,
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
    // The kernel's 2^12-slot root CNode natively; 2^8 under Miri.
    let radix = if cfg!(miri) { 8 } else { 12 };
    with_booted(radix, |k, l| {
        let slot = |i: usize| cnode_slot(l.root_cnode, i as u64);
        assert_eq!(k.slot_cap(slot(CAP_INIT_THREAD_TCB)), Cap::thread(l.tcb));
        assert_eq!(
            k.slot_cap(slot(CAP_INIT_THREAD_CNODE)),
            Cap::cnode(l.root_cnode, radix, 0, 64 - radix)
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
        assert_eq!(
            k.tcb_cap(l.tcb, TCB_CTABLE),
            Cap::cnode(l.root_cnode, radix, 0, 64 - radix)
        );
        assert_eq!(k.tcb_cap(l.tcb, TCB_VTABLE), Cap::vspace(l.vspace, Some(1)));
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
        assert!(
            !crate::cdt::has_children(&k.mem, l.untypeds[big(l)].0),
            "revoke leaves no descendants"
        );
    });
}

#[test]
#[cfg_attr(
    miri,
    ignore = "slow under Miri; same code paths as the tests Miri runs"
)]
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

fn ok(o: &Out) {
    assert_eq!(o.info.label(), 0, "{o:?}");
}

fn err(o: &Out) -> (Option<Error>, Vec<u64>) {
    (Error::from_word(o.info.label()), o.mrs.clone())
}

#[test]
#[cfg_attr(
    miri,
    ignore = "slow under Miri; same code paths as the tests Miri runs"
)]
fn page_tables_and_frames_map_with_real_descriptors() {
    use crate::vspace::{PTE_ADDR_MASK, PTE_BLOCK, PTE_TABLE_OR_PAGE};
    with_booted(8, |k, l| {
        let d = l.first_free_slot;
        let vs = CAP_INIT_THREAD_VSPACE as u64;
        ok(&retype(k, l, big(l), ObjectType::PageTable, 0, d, 3));
        ok(&retype(k, l, big(l), ObjectType::SmallPage, 0, d + 3, 2));
        let pt = |i: u64| match k.slot_cap(cnode_slot(l.root_cnode, d + i)) {
            Cap::PageTable { paddr, .. } => paddr,
            c => panic!("{c:?}"),
        };
        let (pt1, pt2, pt3) = (pt(0), pt(1), pt(2));
        let va = 0x100_0000_0000u64; // level-0 entry 2, unused
                                     // A frame cannot be mapped before its tables exist: level 1 missing.
        let o = call(k, d + 3, L::ArmPageMap, &[va, 0xf, 3], &[vs]);
        assert_eq!(err(&o), (Some(Error::FailedLookup), vec![0, 2, 39]));
        ok(&call(k, d, L::ArmPageTableMap, &[va + 0x1234, 3], &[vs]));
        assert!(matches!(
            k.slot_cap(cnode_slot(l.root_cnode, d)),
            Cap::PageTable { mapping: Some(m), .. } if m.asid == 1 && m.vaddr == 0x100_0000_0000
        ));
        let l0 = k.mem.read_word(l.vspace + ((va >> 39) & 511) * 8);
        assert_eq!(l0, pt1 | PTE_TABLE_OR_PAGE);
        // Mapping the same table again: already mapped.
        let o = call(k, d, L::ArmPageTableMap, &[va, 3], &[vs]);
        assert_eq!(err(&o).0, Some(Error::InvalidCapability));
        let o = call(k, d + 3, L::ArmPageMap, &[va, 0xf, 3], &[vs]);
        assert_eq!(err(&o), (Some(Error::FailedLookup), vec![0, 2, 30]));
        ok(&call(k, d + 1, L::ArmPageTableMap, &[va, 3], &[vs]));
        ok(&call(k, d + 2, L::ArmPageTableMap, &[va, 3], &[vs]));
        // All levels present now: another table has nowhere to go.
        ok(&retype(k, l, big(l), ObjectType::PageTable, 0, d + 5, 1));
        let o = call(k, d + 5, L::ArmPageTableMap, &[va, 3], &[vs]);
        assert_eq!(err(&o).0, Some(Error::DeleteFirst));
        // Misaligned, then a good read-only, execute-never mapping.
        let o = call(k, d + 3, L::ArmPageMap, &[va + 8, 0xf, 3], &[vs]);
        assert_eq!(err(&o).0, Some(Error::AlignmentError));
        ok(&call(k, d + 3, L::ArmPageMap, &[va, 0x2, 0x5], &[vs]));
        let frame = match k.slot_cap(cnode_slot(l.root_cnode, d + 3)) {
            Cap::Frame {
                paddr,
                mapping: Some(m),
                ..
            } if m.vaddr == va => paddr,
            c => panic!("{c:?}"),
        };
        let e3 = pt3 + ((va >> 12) & 511) * 8;
        let pte = k.mem.read_word(e3);
        assert_eq!(pte & PTE_ADDR_MASK, frame);
        assert_eq!(pte & 3, PTE_TABLE_OR_PAGE);
        assert_eq!((pte >> 6) & 3, 0b11, "read-only for EL0");
        assert_eq!((pte >> 2) & 7, 4, "normal write-back");
        assert_ne!(pte & (1 << 54), 0, "UXN");
        assert_ne!(pte & (1 << 10), 0, "AF");
        assert_eq!(
            k.mem.read_word(pt2 + ((va >> 21) & 511) * 8),
            pt3 | PTE_TABLE_OR_PAGE
        );
        // Remapping elsewhere through a mapped cap is refused.
        let o = call(k, d + 3, L::ArmPageMap, &[va + 0x1000, 0xf, 3], &[vs]);
        assert_eq!(err(&o), (Some(Error::InvalidArgument), vec![0]));
        // The other frame cannot go to the occupied slot's neighbour at a
        // kernel address.
        let o = call(k, d + 4, L::ArmPageMap, &[0x8000_0000_0000, 0xf, 3], &[vs]);
        assert_eq!(err(&o), (Some(Error::InvalidArgument), vec![0]));
        let o = call(
            k,
            d + 4,
            L::ArmPageMap,
            &[va, 0xf, 3],
            &[CAP_INIT_THREAD_TCB as u64],
        );
        assert_eq!(err(&o), (Some(Error::InvalidCapability), vec![1]));
        // GetAddress.
        let o = call(k, d + 3, L::ArmPageGetAddress, &[], &[]);
        assert_eq!((o.info.label(), o.mrs.clone()), (0, vec![frame]));
        // Cache operations check their range.
        let o = call(k, d + 3, L::ArmPageCleanData, &[8, 8], &[]);
        assert_eq!(err(&o), (Some(Error::InvalidArgument), vec![1]));
        let o = call(k, d + 3, L::ArmPageCleanData, &[0, 0x1001], &[]);
        assert_eq!(err(&o), (Some(Error::InvalidArgument), vec![0]));
        let o = call(k, d + 3, L::ArmPageInvalidateData, &[0, 64], &[]);
        assert_eq!(
            err(&o).0,
            Some(Error::IllegalOperation),
            "read-only mapping"
        );
        ok(&call(k, d + 3, L::ArmPageCleanData, &[0, 64], &[]));
        let o = call(k, d + 4, L::ArmPageCleanData, &[0, 64], &[]);
        assert_eq!(err(&o).0, Some(Error::IllegalOperation), "unmapped");
        let o = call(
            k,
            vs,
            L::ArmVSpaceCleanData,
            &[va + 0xff0, va + 0x1010],
            &[],
        );
        assert_eq!(
            err(&o),
            (Some(Error::RangeError), vec![va + 0xff0, va + 0xfff])
        );
        let o = call(k, vs, L::ArmVSpaceCleanData, &[va, va + 0x100], &[]);
        ok(&o);
        assert_eq!(
            o.event,
            crate::syscall::Event::CacheOp {
                label: L::ArmVSpaceCleanData.word(),
                paddr: frame,
                len: 0x100
            }
        );
        let o = call(
            k,
            vs,
            L::ArmVSpaceCleanData,
            &[va + 0x20_0000, va + 0x20_0100],
            &[],
        );
        ok(&o);
        assert_eq!(
            o.event,
            crate::syscall::Event::None,
            "unmapped: nothing to do"
        );
        // An empty entry in a present level-3 table is not a page either.
        let o = call(
            k,
            vs,
            L::ArmVSpaceCleanData,
            &[va + 0x1000, va + 0x1100],
            &[],
        );
        ok(&o);
        assert_eq!(o.event, crate::syscall::Event::None);
        let o = call(k, vs, L::ArmVSpaceCleanData, &[va, va], &[]);
        assert_eq!(err(&o), (Some(Error::InvalidArgument), vec![1]));
        // Page-table unmap needs the last cap; page unmap clears the entry.
        ok(&call(
            k,
            CAP_INIT_THREAD_CNODE as u64,
            L::CNodeCopy,
            &[d + 6, 64, d + 2, 64, 0xf],
            &[2],
        ));
        let o = call(k, d + 2, L::ArmPageTableUnmap, &[], &[]);
        assert_eq!(err(&o).0, Some(Error::RevokeFirst));
        ok(&call(k, d + 3, L::ArmPageUnmap, &[], &[]));
        assert_eq!(k.mem.read_word(e3), 0);
        assert!(matches!(
            k.slot_cap(cnode_slot(l.root_cnode, d + 3)),
            Cap::Frame { mapping: None, .. }
        ));
        // A 2 MiB-aligned address in the level-2 table takes a block entry.
        let _ = PTE_BLOCK;
        ok(&call(
            k,
            CAP_INIT_THREAD_CNODE as u64,
            L::CNodeDelete,
            &[d + 6, 64],
            &[],
        ));
        ok(&call(k, d + 2, L::ArmPageTableUnmap, &[], &[]));
        assert_eq!(k.mem.read_word(pt2 + ((va >> 21) & 511) * 8), 0);
        // Deleting the last cap of a mapped table unlinks it too.
        ok(&call(
            k,
            CAP_INIT_THREAD_CNODE as u64,
            L::CNodeDelete,
            &[d + 1, 64],
            &[],
        ));
        assert_eq!(k.mem.read_word(pt1 + ((va >> 30) & 511) * 8), 0);
    });
}

#[test]
#[cfg_attr(
    miri,
    ignore = "slow under Miri; same code paths as the tests Miri runs"
)]
fn irq_control_handlers_and_interrupt_delivery() {
    use crate::state::IrqState;
    use crate::syscall::Event;
    with_booted(8, |k, l| {
        let d = l.first_free_slot;
        let root = CAP_INIT_THREAD_CNODE as u64;
        let irqc = CAP_IRQ_CONTROL as u64;
        ok(&retype(k, l, big(l), ObjectType::Notification, 0, d, 1));
        ok(&call(
            k,
            root,
            L::CNodeMint,
            &[d + 1, 64, d, 64, 0xf, 0x40],
            &[root],
        ));
        let o = call(k, irqc, L::IrqIssueIrqHandler, &[160, d + 2, 64], &[root]);
        assert_eq!(err(&o), (Some(Error::RangeError), vec![0, 159]));
        let o = call(k, irqc, L::IrqIssueIrqHandler, &[27, d + 2, 64], &[root]);
        assert_eq!(
            err(&o).0,
            Some(Error::RevokeFirst),
            "timer IRQ is the kernel's"
        );
        let o = call(k, irqc, L::IrqIssueIrqHandler, &[33, d + 1, 64], &[root]);
        assert_eq!(err(&o).0, Some(Error::DeleteFirst));
        let o = call(k, irqc, L::IrqIssueIrqHandler, &[33, d + 2], &[root]);
        assert_eq!(err(&o).0, Some(Error::TruncatedMessage));
        ok(&call(
            k,
            irqc,
            L::IrqIssueIrqHandler,
            &[33, d + 2, 64],
            &[root],
        ));
        assert_eq!(k.state.irq_state[33], IrqState::Signal);
        let o = call(k, irqc, L::IrqIssueIrqHandler, &[33, d + 3, 64], &[root]);
        assert_eq!(err(&o).0, Some(Error::RevokeFirst));
        check(k, l);
        // Not a notification → InvalidCapability(0).
        let o = call(
            k,
            d + 2,
            L::IrqSetIrqHandler,
            &[],
            &[CAP_INIT_THREAD_TCB as u64],
        );
        assert_eq!(err(&o), (Some(Error::InvalidCapability), vec![0]));
        ok(&call(k, d + 2, L::IrqSetIrqHandler, &[], &[d + 1]));
        check(k, l);
        // The IRQ fires: the notification gets the badge.
        assert!(k.handle_interrupt(33));
        assert!(!k.handle_interrupt(34));
        let n = match k.slot_cap(cnode_slot(l.root_cnode, d)) {
            Cap::Notification { paddr, .. } => paddr,
            c => panic!("{c:?}"),
        };
        assert_eq!(crate::queue::ntfn(&k.mem, n).msg, 0x40);
        let _ = syscall(k, Syscall::NBRecv, d, 0, &[], &[]);
        assert_eq!(k.user_context_mut(l.tcb).x[0], 0x40);
        // Ack reports the unmask.
        let t = l.tcb;
        k.user_context_mut(t).x[0] = d + 2;
        k.user_context_mut(t).x[1] = MessageInfo::new(L::IrqAckIrq.word(), 0, 0, 0).word();
        assert_eq!(k.handle_syscall(Syscall::Call.word()), Event::UnmaskIrq(33));
        k.schedule_and_activate();
        ok(&call(k, d + 2, L::IrqClearIrqHandler, &[], &[]));
        assert!(k.handle_interrupt(33));
        assert_eq!(crate::queue::ntfn(&k.mem, n).msg, 0);
        // Deleting the handler cap frees the IRQ.
        ok(&call(k, root, L::CNodeDelete, &[d + 2, 64], &[]));
        assert_eq!(k.state.irq_state[33], IrqState::Inactive);
        // Trigger variant and SGI signals.
        let o = call(
            k,
            irqc,
            L::ArmIrqIssueIrqHandlerTrigger,
            &[40, 1, d + 2, 64],
            &[root],
        );
        ok(&o);
        let o = call(
            k,
            irqc,
            L::ArmIrqIssueSgiSignal,
            &[16, 0, d + 3, 64],
            &[root],
        );
        assert_eq!(err(&o), (Some(Error::RangeError), vec![0, 15]));
        let o = call(
            k,
            irqc,
            L::ArmIrqIssueSgiSignal,
            &[1, 8, d + 3, 64],
            &[root],
        );
        assert_eq!(err(&o), (Some(Error::InvalidArgument), vec![1]));
        ok(&call(
            k,
            irqc,
            L::ArmIrqIssueSgiSignal,
            &[1, 0, d + 3, 64],
            &[root],
        ));
        assert_eq!(
            k.slot_cap(cnode_slot(l.root_cnode, d + 3)),
            Cap::SgiSignal { irq: 1, target: 0 }
        );
        // SGI 15 to CPU interface 7: both at their upper bounds.
        ok(&call(
            k,
            irqc,
            L::ArmIrqIssueSgiSignal,
            &[15, 7, d + 5, 64],
            &[root],
        ));
        assert_eq!(
            k.slot_cap(cnode_slot(l.root_cnode, d + 5)),
            Cap::SgiSignal { irq: 15, target: 7 }
        );
        // The highest IRQ is valid.
        ok(&call(
            k,
            irqc,
            L::IrqIssueIrqHandler,
            &[159, d + 4, 64],
            &[root],
        ));
        assert_eq!(
            k.slot_cap(cnode_slot(l.root_cnode, d + 4)),
            Cap::IrqHandler { irq: 159 }
        );
        let o = syscall(k, Syscall::Call, irqc, 99, &[1, 0, d + 3, 64], &[root]);
        assert_eq!(err(&o).0, Some(Error::IllegalOperation));
    });
}

#[test]
#[cfg_attr(
    miri,
    ignore = "slow under Miri; same code paths as the tests Miri runs"
)]
fn asid_pools_and_vspace_assignment() {
    with_booted(8, |k, l| {
        let d = l.first_free_slot;
        let root = CAP_INIT_THREAD_CNODE as u64;
        let ctl = CAP_ASID_CONTROL as u64;
        ok(&retype(k, l, big(l), ObjectType::Untyped, 12, d, 1));
        ok(&retype(k, l, big(l), ObjectType::Untyped, 13, d + 1, 1));
        ok(&retype(k, l, big(l), ObjectType::VSpace, 0, d + 2, 2));
        let o = call(
            k,
            ctl,
            L::ArmAsidControlMakePool,
            &[d + 3, 64],
            &[d + 1, root],
        );
        assert_eq!(err(&o), (Some(Error::InvalidCapability), vec![1]));
        let o = call(k, ctl, L::ArmAsidControlMakePool, &[d + 2, 64], &[d, root]);
        assert_eq!(err(&o).0, Some(Error::DeleteFirst));
        ok(&call(
            k,
            ctl,
            L::ArmAsidControlMakePool,
            &[d + 4, 64],
            &[d, root],
        ));
        let pool = match k.slot_cap(cnode_slot(l.root_cnode, d + 4)) {
            Cap::AsidPool { paddr, asid_base } => {
                assert_eq!(asid_base, 512);
                paddr
            }
            c => panic!("{c:?}"),
        };
        assert_eq!(k.state.asid_table[1], pool);
        let o = call(k, ctl, L::ArmAsidControlMakePool, &[d + 5, 64], &[d, root]);
        assert_eq!(err(&o).0, Some(Error::RevokeFirst));
        check(k, l);
        // Assign: lowest free ASID of the pool.
        ok(&call(k, d + 4, L::ArmAsidPoolAssign, &[], &[d + 2]));
        assert!(matches!(
            k.slot_cap(cnode_slot(l.root_cnode, d + 2)),
            Cap::VSpace {
                asid: Some(512),
                ..
            }
        ));
        let o = call(k, d + 4, L::ArmAsidPoolAssign, &[], &[d + 2]);
        assert_eq!(err(&o), (Some(Error::InvalidCapability), vec![1]));
        ok(&call(
            k,
            CAP_INIT_THREAD_ASID_POOL as u64,
            L::ArmAsidPoolAssign,
            &[],
            &[d + 3],
        ));
        assert!(matches!(
            k.slot_cap(cnode_slot(l.root_cnode, d + 3)),
            Cap::VSpace { asid: Some(2), .. }
        ));
        assert!(k.find_vspace_for_asid(512).is_some());
        // Unassigned VSpaces cannot be copied; assigned ones can.
        ok(&call(
            k,
            root,
            L::CNodeCopy,
            &[d + 5, 64, d + 2, 64, 0xf],
            &[root],
        ));
        // Deleting the pool unregisters it; assignment then fails.
        ok(&call(k, root, L::CNodeDelete, &[d + 4, 64], &[]));
        assert_eq!(k.state.asid_table[1], 0);
        ok(&call(k, root, L::CNodeDelete, &[d + 5, 64], &[]));
        ok(&call(k, root, L::CNodeDelete, &[d + 3, 64], &[]));
        assert_eq!(k.find_vspace_for_asid(2), None, "last VSpace cap gone");
        check(k, l);
    });
}

#[test]
#[cfg_attr(
    miri,
    ignore = "slow under Miri; same code paths as the tests Miri runs"
)]
fn domain_invocations() {
    with_booted(8, |k, _| {
        let dom = CAP_DOMAIN as u64;
        let tcb = CAP_INIT_THREAD_TCB as u64;
        assert_eq!(
            err(&call(k, dom, L::DomainSetSet, &[], &[tcb])).0,
            Some(Error::TruncatedMessage)
        );
        assert_eq!(
            err(&call(k, dom, L::DomainSetSet, &[1], &[tcb])),
            (Some(Error::InvalidArgument), vec![0])
        );
        assert_eq!(
            err(&call(k, dom, L::DomainSetSet, &[0], &[2])),
            (Some(Error::InvalidArgument), vec![1])
        );
        ok(&call(k, dom, L::DomainSetSet, &[0], &[tcb]));
        assert_eq!(
            err(&call(k, dom, L::DomainScheduleConfigure, &[1, 0, 5], &[])),
            (Some(Error::RangeError), vec![0, 0])
        );
        assert_eq!(
            err(&call(k, dom, L::DomainScheduleConfigure, &[0, 1, 5], &[])),
            (Some(Error::RangeError), vec![0, 0])
        );
        assert_eq!(
            err(&call(
                k,
                dom,
                L::DomainScheduleConfigure,
                &[0, 0, 1 << 56],
                &[]
            )),
            (Some(Error::InvalidArgument), vec![2])
        );
        assert_eq!(
            err(&call(k, dom, L::DomainScheduleConfigure, &[0, 0, 0], &[])),
            (Some(Error::InvalidArgument), vec![2])
        );
        ok(&call(k, dom, L::DomainScheduleConfigure, &[0, 0, 100], &[]));
        assert_eq!(k.state.domain_schedule[0].length, 100);
        assert_eq!(
            err(&call(k, dom, L::DomainScheduleSetStart, &[2], &[])),
            (Some(Error::RangeError), vec![0, 1])
        );
        assert_eq!(
            err(&call(k, dom, L::DomainScheduleSetStart, &[1], &[])),
            (Some(Error::InvalidArgument), vec![0])
        );
        ok(&call(k, dom, L::DomainScheduleSetStart, &[0], &[]));
        assert_eq!(k.state.domain_time, 100);
        assert_eq!(
            err(&syscall(k, Syscall::Call, dom, 5, &[0], &[])).0,
            Some(Error::IllegalOperation)
        );
    });
}

#[test]
#[cfg_attr(
    miri,
    ignore = "slow under Miri; same code paths as the tests Miri runs"
)]
fn unknown_syscall_and_faults_without_handler_suspend() {
    use crate::syscall::Event;
    with_booted(8, |k, l| {
        let t = l.tcb;
        k.user_context_mut(t).elr_el1 = 0x1000;
        let e = k.handle_syscall(0);
        assert!(
            matches!(e, Event::DoubleFault { tcb, fault: crate::Fault::UnknownSyscall { number: 0 } } if tcb == t)
        );
        assert_eq!(k.thread_state(t), ThreadState::Inactive);
        assert_eq!(k.tcb_fields(t).fault_ip, 0xffc);
        k.schedule_and_activate();
        assert_eq!(k.current_thread(), None);
        check(k, l);
    });
}

#[test]
#[cfg_attr(
    miri,
    ignore = "slow under Miri; same code paths as the tests Miri runs"
)]
fn debug_syscalls() {
    use crate::syscall::Event;
    with_booted(8, |k, l| {
        let t = l.tcb;
        k.user_context_mut(t).x[0] = b'x' as u64;
        assert_eq!(
            k.handle_syscall(Syscall::DebugPutChar.word()),
            Event::PutChar(b'x')
        );
        assert_eq!(k.handle_syscall(Syscall::DebugHalt.word()), Event::Halt);
        assert_eq!(
            k.handle_syscall(Syscall::DebugSnapshot.word()),
            Event::Snapshot
        );
        assert_eq!(
            k.handle_syscall(Syscall::DebugDumpScheduler.word()),
            Event::DumpScheduler
        );
        k.user_context_mut(t).x[0] = CAP_INIT_THREAD_CNODE as u64;
        k.handle_syscall(Syscall::DebugCapIdentify.word());
        assert_eq!(k.user_context_mut(t).x[0], 10);
        k.user_context_mut(t).x[0] = 1 << 40;
        k.handle_syscall(Syscall::DebugCapIdentify.word());
        assert_eq!(k.user_context_mut(t).x[0], 0);
        let b = l.ipc_buffer.0;
        for (i, c) in b"worker\0".iter().enumerate() {
            k.mem.write::<u8>(b + 8 + i as u64, c);
        }
        k.user_context_mut(t).x[0] = CAP_INIT_THREAD_TCB as u64;
        assert_eq!(
            k.handle_syscall(Syscall::DebugNameThread.word()),
            Event::None
        );
        let mut name = [0u8; 8];
        let n = k.thread_name(t, &mut name);
        assert_eq!(&name[..n], b"worker");
        k.user_context_mut(t).x[0] = CAP_INIT_THREAD_CNODE as u64;
        assert_eq!(
            k.handle_syscall(Syscall::DebugNameThread.word()),
            Event::Halt
        );
    });
}

#[test]
fn debug_thread_info_lists_every_thread_in_creation_order() {
    use cerne_abi::syscall::thread_info::{FOUND, NAME_MAX, NAME_OFFSET};
    with_booted(8, |k, l| {
        let t = l.tcb;
        let root = CAP_INIT_THREAD_CNODE as u64;
        // After boot: the root task's thread alone, running.
        let first = k.thread_info(0).expect("the root thread");
        assert_eq!((first.tcb, first.state), (t, ThreadState::Running));
        assert_eq!(k.thread_info(1), None);
        // Three new TCBs join the list in the order they were made.
        let d = l.first_free_slot;
        ok(&retype(k, l, big(l), ObjectType::Tcb, 0, d, 3));
        let made: Vec<u64> = (0..3)
            .map(|i| match k.slot_cap(cnode_slot(l.root_cnode, d + i)) {
                Cap::Thread { tcb } => tcb,
                c => panic!("{c:?}"),
            })
            .collect();
        let listed: Vec<u64> = k.all_threads().collect();
        assert_eq!(listed, [t, made[0], made[1], made[2]]);
        k.set_thread_name(made[1], b"pong");
        // The call from user space: x0 = n in; x0..x5 and the name out.
        let ask = |k: &mut Kernel<'_>, n: u64| {
            k.user_context_mut(t).x[0] = n;
            assert_eq!(
                k.handle_syscall(Syscall::DebugThreadInfo.word()),
                crate::syscall::Event::None
            );
            let x = k.user_context_mut(t).x;
            let name: [u8; NAME_MAX] = k.mem.read(l.ipc_buffer.0 + NAME_OFFSET);
            let len = name.iter().position(|b| *b == 0).unwrap();
            (x, name[..len].to_vec())
        };
        let (x, name) = ask(k, 2);
        assert_eq!(x[..6], [FOUND, 0, 0, 0, 0, made[1]]);
        assert_eq!(name, b"pong");
        let (x, _) = ask(k, 0);
        assert_eq!((x[0], x[1], x[5]), (FOUND, ThreadState::Running as u64, t));
        assert_eq!(x[2], k.tcb_fields(t).priority);
        let (x, _) = ask(k, 4);
        assert_eq!(x[0], 0);
        let (x, _) = ask(k, u64::MAX);
        assert_eq!(x[0], 0);
        // A long name is cut to NAME_MAX - 1 bytes and NUL-terminated.
        k.set_thread_name(made[0], &[b'a'; 200]);
        let (_, name) = ask(k, 1);
        assert_eq!(name.len(), NAME_MAX - 1);
        // Deleting the middle thread's only cap takes it off the list.
        ok(&call(k, root, L::CNodeDelete, &[d + 1, 64], &[]));
        let listed: Vec<u64> = k.all_threads().collect();
        assert_eq!(listed, [t, made[0], made[2]]);
        let (x, _) = ask(k, 2);
        assert_eq!((x[0], x[5]), (FOUND, made[2]));
        // First and last go too; the list stays linked.
        ok(&call(k, root, L::CNodeDelete, &[d + 2, 64], &[]));
        ok(&call(k, root, L::CNodeDelete, &[d, 64], &[]));
        assert_eq!(k.all_threads().collect::<Vec<_>>(), [t]);
        assert_eq!(k.state.all_threads, [t, t]);
        check(k, l);
    });
}

#[test]
fn user_words_are_read_through_the_threads_own_page_tables() {
    with_booted(8, |k, l| {
        let t = l.tcb;
        let d = l.first_free_slot;
        let vs = CAP_INIT_THREAD_VSPACE as u64;
        let va = 0x100_0000_0000u64;
        ok(&retype(k, l, big(l), ObjectType::PageTable, 0, d, 3));
        ok(&retype(k, l, big(l), ObjectType::SmallPage, 0, d + 3, 2));
        for i in 0..3 {
            ok(&call(k, d + i, L::ArmPageTableMap, &[va, 3], &[vs]));
        }
        // A cached read-write page, and an uncached one beside it.
        ok(&call(k, d + 3, L::ArmPageMap, &[va, 0x3, 0x1], &[vs]));
        ok(&call(
            k,
            d + 4,
            L::ArmPageMap,
            &[va + 0x1000, 0x3, 0x0],
            &[vs],
        ));
        let Cap::Frame { paddr, .. } = k.slot_cap(cnode_slot(l.root_cnode, d + 3)) else {
            panic!()
        };
        k.mem.write_word(paddr + 0x40, 0x1234_5678_9abc_def0);
        assert_eq!(k.read_user_word(t, va + 0x40), Some(0x1234_5678_9abc_def0));
        // Unaligned, uncached (as device registers are), unmapped, or above
        // user space: nothing read.
        assert_eq!(k.read_user_word(t, va + 0x41), None);
        assert_eq!(k.read_user_word(t, va + 0x1040), None);
        assert_eq!(k.read_user_word(t, va + 0x2000), None);
        assert_eq!(k.read_user_word(t, 0x7000_0000_0000), None);
        assert_eq!(k.read_user_word(t, 0xffff_0000_0000_0000), None);
        // A thread with no VSpace reads nothing.
        ok(&retype(k, l, big(l), ObjectType::Tcb, 0, d + 5, 1));
        let Cap::Thread { tcb: other } = k.slot_cap(cnode_slot(l.root_cnode, d + 5)) else {
            panic!()
        };
        assert_eq!(k.read_user_word(other, va + 0x40), None);
    });
}

#[test]
#[cfg_attr(
    miri,
    ignore = "slow under Miri; same code paths as the tests Miri runs"
)]
fn timer_ticks_round_robin_at_equal_priority() {
    with_booted(8, |k, l| {
        let d = l.first_free_slot;
        ok(&retype(k, l, big(l), ObjectType::Tcb, 0, d, 1));
        let other = match k.slot_cap(cnode_slot(l.root_cnode, d)) {
            Cap::Thread { tcb } => tcb,
            c => panic!("{c:?}"),
        };
        ok(&call(
            k,
            d,
            L::TcbSetMcPriority,
            &[255],
            &[CAP_INIT_THREAD_TCB as u64],
        ));
        ok(&call(
            k,
            d,
            L::TcbSetPriority,
            &[255],
            &[CAP_INIT_THREAD_TCB as u64],
        ));
        ok(&call(k, d, L::TcbResume, &[], &[]));
        assert_eq!(k.current_thread(), Some(l.tcb));
        for _ in 0..4 {
            assert!(!k.handle_interrupt(27));
            k.schedule_and_activate();
            assert_eq!(k.current_thread(), Some(l.tcb));
        }
        assert_eq!(k.tcb_fields(l.tcb).time_slice, 1);
        k.handle_interrupt(27);
        k.schedule_and_activate();
        assert_eq!(k.current_thread(), Some(other));
        assert_eq!(k.tcb_fields(l.tcb).time_slice, 5);
        check(k, l);
        let _ = syscall(k, Syscall::Yield, 0, 0, &[], &[]);
        assert_eq!(k.current_thread(), Some(l.tcb));
        check(k, l);
    });
}

#[test]
fn destroying_a_cnode_deletes_every_cap_inside() {
    with_booted(8, |k, l| {
        let d = l.first_free_slot;
        let root = CAP_INIT_THREAD_CNODE as u64;
        ok(&retype(k, l, big(l), ObjectType::CapTable, 2, d, 1));
        ok(&retype(k, l, big(l), ObjectType::Endpoint, 0, d + 1, 1));
        let cn = match k.slot_cap(cnode_slot(l.root_cnode, d)) {
            Cap::CNode { paddr, .. } => paddr,
            c => panic!("{c:?}"),
        };
        // Caps into the new CNode's slots 1 and 3 (its cap has no guard:
        // 2 bits address it).
        ok(&call(k, d, L::CNodeCopy, &[3, 2, d + 1, 64, 0xf], &[root]));
        ok(&call(
            k,
            d,
            L::CNodeMint,
            &[1, 2, d + 1, 64, 0xf, 9],
            &[root],
        ));
        assert!(matches!(
            k.slot_cap(cnode_slot(cn, 3)),
            Cap::Endpoint { .. }
        ));
        check(k, l);
        ok(&call(k, root, L::CNodeDelete, &[d, 64], &[]));
        for i in 0..4 {
            assert!(
                k.slot_cap(cnode_slot(cn, i)).is_null(),
                "slot {i} of the dead CNode"
            );
        }
        check(k, l);
        // The endpoint survives through the root's cap, alone now.
        assert!(crate::cdt::is_final(
            &k.mem,
            cnode_slot(l.root_cnode, d + 1)
        ));
    });
}

#[test]
#[cfg_attr(
    miri,
    ignore = "slow under Miri; same code paths as the tests Miri runs"
)]
fn bound_notification_and_deleted_notification() {
    with_booted(8, |k, l| {
        let d = l.first_free_slot;
        let root = CAP_INIT_THREAD_CNODE as u64;
        ok(&retype(k, l, big(l), ObjectType::Notification, 0, d, 1));
        ok(&retype(k, l, big(l), ObjectType::Endpoint, 0, d + 1, 1));
        ok(&call(
            k,
            root,
            L::CNodeMint,
            &[d + 2, 64, d, 64, 0xf, 0x21],
            &[root],
        ));
        // Bound to the root thread; a signal while it runs stays pending and
        // is collected by its next Recv on an endpoint, without blocking.
        ok(&call(
            k,
            CAP_INIT_THREAD_TCB as u64,
            L::TcbBindNotification,
            &[],
            &[d],
        ));
        let o = call(
            k,
            CAP_INIT_THREAD_TCB as u64,
            L::TcbBindNotification,
            &[],
            &[d],
        );
        assert_eq!(err(&o).0, Some(Error::IllegalOperation), "already bound");
        let _ = syscall(k, Syscall::Send, d + 2, 0, &[], &[]);
        let _ = syscall(k, Syscall::Recv, d + 1, 0, &[], &[]);
        assert_eq!(k.thread_state(l.tcb), ThreadState::Running);
        assert_eq!(k.user_context_mut(l.tcb).x[0], 0x21);
        let n = match k.slot_cap(cnode_slot(l.root_cnode, d)) {
            Cap::Notification { paddr, .. } => paddr,
            c => panic!("{c:?}"),
        };
        assert_eq!(
            crate::queue::ntfn(&k.mem, n).state,
            crate::queue::NtfnState::Idle
        );
        ok(&call(
            k,
            CAP_INIT_THREAD_TCB as u64,
            L::TcbUnbindNotification,
            &[],
            &[],
        ));
        check(k, l);
        // A second thread waits on the notification; deleting its last caps
        // restarts the waiter.
        ok(&retype(k, l, big(l), ObjectType::Tcb, 0, d + 3, 1));
        let t2 = match k.slot_cap(cnode_slot(l.root_cnode, d + 3)) {
            Cap::Thread { tcb } => tcb,
            c => panic!("{c:?}"),
        };
        ok(&call(k, d + 3, L::TcbResume, &[], &[]));
        // As if t2 ran and called Recv (a running thread is off its queue).
        k.sched_dequeue(t2);
        k.receive_signal(t2, n, true);
        assert_eq!(k.thread_state(t2), ThreadState::BlockedOnNotification);
        check(k, l);
        ok(&call(k, root, L::CNodeDelete, &[d + 2, 64], &[]));
        assert_eq!(
            k.thread_state(t2),
            ThreadState::BlockedOnNotification,
            "not the last cap"
        );
        ok(&call(k, root, L::CNodeDelete, &[d, 64], &[]));
        assert_eq!(k.thread_state(t2), ThreadState::Restart);
        check(k, l);
    });
}

#[test]
#[cfg_attr(
    miri,
    ignore = "slow under Miri; same code paths as the tests Miri runs"
)]
fn retype_after_revoke_reuses_zeroed_memory() {
    with_booted(8, |k, l| {
        let d = l.first_free_slot;
        let ut = (l.untypeds[big(l)].0 - l.root_cnode) >> 5;
        ok(&retype(k, l, big(l), ObjectType::Tcb, 0, d, 1));
        let tcb = match k.slot_cap(cnode_slot(l.root_cnode, d)) {
            Cap::Thread { tcb } => tcb,
            c => panic!("{c:?}"),
        };
        assert!(
            !k.mem.is_zero(tcb, 2048),
            "a new TCB is initialised (SPSR, time slice)"
        );
        assert_eq!(k.user_context_mut(tcb).spsr_el1, 0x40);
        assert_eq!(k.tcb_fields(tcb).time_slice, 5);
        ok(&call(
            k,
            CAP_INIT_THREAD_CNODE as u64,
            L::CNodeRevoke,
            &[ut, 64],
            &[],
        ));
        ok(&retype(k, l, big(l), ObjectType::Endpoint, 0, d, 1));
        assert!(
            matches!(k.slot_cap(cnode_slot(l.root_cnode, d)), Cap::Endpoint { paddr, .. } if paddr == tcb)
        );
        assert!(k.mem.is_zero(tcb, 2048), "the old TCB's memory was reset");
        check(k, l);
    });
}

#[test]
fn raw_lookup_finds_the_slots_the_generic_lookup_finds() {
    // Through the root CNode alone and through a second level with a guard
    // (and a cap that is not a CNode part way): `lookup_slot_raw` is
    // `lookup_slot(..).ok()` for every cptr.
    with_booted(8, |k, l| {
        let d = l.first_free_slot;
        ok(&retype(k, l, big(l), ObjectType::CapTable, 4, d, 1));
        let Cap::CNode { paddr, .. } = k.slot_cap(cnode_slot(l.root_cnode, d)) else {
            panic!("a CNode");
        };
        // A root that resolves 57 bits (guard 49 + radix 8), leaving 7 for
        // the guarded second level (guard 3 + radix 4) in slot d + 1.
        let root = Cap::CNode {
            paddr: l.root_cnode,
            radix: 8,
            guard_size: 49,
            guard: 0,
        };
        let root_words = root.encode();
        let level2 = cnode_slot(l.root_cnode, d + 1);
        let guarded = Cap::CNode {
            paddr,
            radix: 4,
            guard_size: 3,
            guard: 5,
        };
        crate::cdt::set_cap(&k.mem, level2, guarded);
        let mut x = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z ^ (z >> 27)
        };
        let mut two_levels = 0;
        let n = if cfg!(miri) { 2_000 } else { 20_000u64 };
        for i in 0..n {
            let cptr = match i % 4 {
                0 => next(),
                1 => next() & 0x7fff,
                // Slot d + 1, then its guard (5, or anything), 4 bits.
                2 => {
                    ((d + 1) << 7)
                        | ((if i & 4 == 0 { 5 } else { next() & 7 }) << 4)
                        | (next() & 15)
                }
                // A guard bit of the root set.
                _ => (1 << (15 + next() % 49)) | (next() & 0x7fff),
            };
            let generic = cspace::lookup_slot(&k.mem, root, cptr).ok();
            two_levels += usize::from(generic.is_some_and(|s| s >= paddr && s < paddr + 16 * 32));
            assert_eq!(
                cspace::lookup_slot_raw(&k.mem, root_words, cptr),
                generic,
                "cptr {cptr:#x}"
            );
        }
        assert!(
            two_levels as u64 > n / 20,
            "only {two_levels} lookups reached the second level"
        );
        crate::cdt::set_cap(&k.mem, level2, Cap::Null);
    });
}

#[test]
fn deleting_the_fpu_owner_releases_the_registers() {
    // seL4's fpuRelease: the registers of a deleted TCB belong to no one
    // (its memory may become another TCB, which must not inherit them);
    // deleting another thread leaves the owner as it is.
    with_booted(8, |k, l| {
        let d = l.first_free_slot;
        ok(&retype(k, l, big(l), ObjectType::Tcb, 0, d, 2));
        let tcb = |k: &Kernel<'_>, s: u64| match k.slot_cap(cnode_slot(l.root_cnode, s)) {
            Cap::Thread { tcb } => tcb,
            c => panic!("{c:?}"),
        };
        let (a, b) = (tcb(k, d), tcb(k, d + 1));
        assert_eq!(k.fpu_owner(), 0);
        k.set_fpu_owner(a);
        let root = CAP_INIT_THREAD_CNODE as u64;
        ok(&call(k, root, L::CNodeDelete, &[d + 1, 64], &[]));
        assert_eq!(k.fpu_owner(), a, "deleting another thread keeps the owner");
        ok(&call(k, root, L::CNodeDelete, &[d, 64], &[]));
        assert_eq!(
            k.fpu_owner(),
            0,
            "the deleted owner's registers belong to no one"
        );
        let _ = b;
        check(k, l);
    });
}

#[test]
#[cfg_attr(
    miri,
    ignore = "slow under Miri; same code paths as the tests Miri runs"
)]
fn boot_ready_threads_queue_behind_the_current_one() {
    with_booted(8, |k, l| {
        let d = l.first_free_slot;
        ok(&retype(k, l, big(l), ObjectType::Tcb, 0, d, 1));
        let t = match k.slot_cap(cnode_slot(l.root_cnode, d)) {
            Cap::Thread { tcb } => tcb,
            c => panic!("{c:?}"),
        };
        k.boot_ready_thread(t);
        k.make_ready(l.tcb);
        let mut q = vec![];
        k.for_each_ready(0, |x| q.push(x));
        assert_eq!(q, vec![t]);
        let mut top = vec![];
        k.for_each_ready(255, |x| top.push(x));
        assert!(top.is_empty(), "the current thread stays off the queues");
        check(k, l);
    });
}

#[test]
#[cfg_attr(
    miri,
    ignore = "slow under Miri; same code paths as the tests Miri runs"
)]
fn configure_refuses_to_drop_a_last_cspace_cap() {
    with_booted(8, |k, l| {
        let d = l.first_free_slot;
        let root = CAP_INIT_THREAD_CNODE as u64;
        let vs = CAP_INIT_THREAD_VSPACE as u64;
        ok(&retype(k, l, big(l), ObjectType::CapTable, 2, d, 1));
        ok(&retype(k, l, big(l), ObjectType::Tcb, 0, d + 1, 1));
        ok(&call(k, d + 1, L::TcbSetSpace, &[0, 0, 0], &[d, vs]));
        // The thread's CTable now holds the only cap to that CNode.
        ok(&call(k, root, L::CNodeDelete, &[d, 64], &[]));
        let o = call(k, d + 1, L::TcbSetSpace, &[0, 0, 0], &[root, vs]);
        assert_eq!(err(&o).0, Some(Error::IllegalOperation));
        let o = call(k, d + 1, L::TcbConfigure, &[0, 0, 0, 0], &[root, vs, 0]);
        assert_eq!(err(&o).0, Some(Error::IllegalOperation));
        check(k, l);
    });
}

/// Retypes from the untyped cap in root-CNode slot `ut`.
fn retype_from(k: &mut Kernel<'_>, ut: u64, ty: ObjectType, bits: u64, dest: u64, n: u64) -> Out {
    call(
        k,
        ut,
        L::UntypedRetype,
        &[ty.word(), bits, 0, 0, dest, n],
        &[CAP_INIT_THREAD_CNODE as u64],
    )
}

/// Retypes `n` VSpaces into slots `d..d + n` and assigns each an ASID from
/// `pool`; returns the ASIDs.
fn assigned_vspaces(k: &mut Kernel<'_>, l: &BootLayout, pool: u64, d: u64, n: u64) -> Vec<u16> {
    ok(&retype(k, l, big(l), ObjectType::VSpace, 0, d, n));
    (d..d + n)
        .map(|s| {
            ok(&call(k, pool, L::ArmAsidPoolAssign, &[], &[s]));
            match k.slot_cap(cnode_slot(l.root_cnode, s)) {
                Cap::VSpace { asid: Some(a), .. } => a,
                c => panic!("{c:?}"),
            }
        })
        .collect()
}

/// Copies the cap in slot `src` to slot `dest` with all rights.
fn copy_cap(k: &mut Kernel<'_>, dest: u64, src: u64) {
    let root = CAP_INIT_THREAD_CNODE as u64;
    ok(&call(
        k,
        root,
        L::CNodeCopy,
        &[dest, 64, src, 64, 0xf],
        &[root],
    ));
}

/// A frame-mapping vaddr whose level-0 entry the root VSpace does not use.
const EFFECTS_VA: u64 = 0x100_0000_0000;

#[test]
#[cfg_attr(
    miri,
    ignore = "slow under Miri; same code paths as the tests Miri runs"
)]
fn revoke_that_unmaps_in_two_asids_flushes_both() {
    with_booted(8, |k, l| {
        let d = l.first_free_slot;
        let pool = CAP_INIT_THREAD_ASID_POOL as u64;
        let asids = assigned_vspaces(k, l, pool, d, 2);
        let (a, b) = (asids[0], asids[1]);
        assert_ne!(a, b);
        // Three tables each, then a copy of one frame in each VSpace.
        ok(&retype(k, l, big(l), ObjectType::PageTable, 0, d + 2, 6));
        for (i, vs) in [(0, d), (3, d + 1)] {
            for j in 0..3 {
                ok(&call(
                    k,
                    d + 2 + i + j,
                    L::ArmPageTableMap,
                    &[EFFECTS_VA, 3],
                    &[vs],
                ));
            }
        }
        ok(&retype(k, l, big(l), ObjectType::SmallPage, 0, d + 8, 1));
        copy_cap(k, d + 9, d + 8);
        copy_cap(k, d + 10, d + 8);
        let o = call(k, d + 9, L::ArmPageMap, &[EFFECTS_VA, 0xf, 3], &[d]);
        ok(&o);
        assert!(o.tlb.is_empty(), "a new mapping needs no invalidation");
        ok(&call(
            k,
            d + 10,
            L::ArmPageMap,
            &[EFFECTS_VA, 0xf, 3],
            &[d + 1],
        ));
        // Remapping over a valid entry invalidates that ASID alone.
        let o = call(k, d + 10, L::ArmPageMap, &[EFFECTS_VA, 0x2, 3], &[d + 1]);
        ok(&o);
        assert_eq!(o.tlb.asids(), &[b]);
        // Revoking the frame unmaps both copies: both ASIDs are invalidated.
        let root = CAP_INIT_THREAD_CNODE as u64;
        let o = call(k, root, L::CNodeRevoke, &[d + 8, 64], &[]);
        ok(&o);
        assert!(!o.tlb.is_all());
        let mut got = o.tlb.asids().to_vec();
        got.sort_unstable();
        assert_eq!(got, vec![a.min(b), a.max(b)], "{:?}", o.tlb);
        assert!(k.slot_cap(cnode_slot(l.root_cnode, d + 9)).is_null());
        assert!(k.slot_cap(cnode_slot(l.root_cnode, d + 10)).is_null());
        // Deleting a frame cap that maps nothing: nothing to invalidate.
        let o = call(k, root, L::CNodeDelete, &[d + 8, 64], &[]);
        ok(&o);
        assert!(o.tlb.is_empty());
        // Revoking the untyped the tables and VSpaces came from unlinks the
        // tables and frees both ASIDs: both are invalidated.
        let ut = (l.untypeds[big(l)].0 - l.root_cnode) >> 5;
        let o = call(k, root, L::CNodeRevoke, &[ut, 64], &[]);
        ok(&o);
        assert!(o.tlb.covers(a) && o.tlb.covers(b), "{:?}", o.tlb);
        assert_eq!(k.find_vspace_for_asid(a), None);
        assert_eq!(k.find_vspace_for_asid(b), None);
    });
}

#[test]
#[cfg_attr(
    miri,
    ignore = "slow under Miri; same code paths as the tests Miri runs"
)]
fn deleting_a_vspace_flushes_its_asid_before_reuse() {
    with_booted(8, |k, l| {
        let d = l.first_free_slot;
        let root = CAP_INIT_THREAD_CNODE as u64;
        let pool = CAP_INIT_THREAD_ASID_POOL as u64;
        let a = assigned_vspaces(k, l, pool, d, 1)[0];
        // A copy is not the last cap: nothing is freed, nothing flushed.
        copy_cap(k, d + 1, d);
        let o = call(k, root, L::CNodeDelete, &[d + 1, 64], &[]);
        ok(&o);
        assert!(o.tlb.is_empty());
        // The last cap: the ASID is freed and its TLB entries invalidated.
        let o = call(k, root, L::CNodeDelete, &[d, 64], &[]);
        ok(&o);
        assert_eq!(o.tlb.asids(), &[a]);
        assert_eq!(k.find_vspace_for_asid(a), None);
        // The pool hands the same ASID to the next VSpace.
        assert_eq!(assigned_vspaces(k, l, pool, d + 2, 1)[0], a);
        // An unassigned VSpace has no ASID to invalidate.
        ok(&retype(k, l, big(l), ObjectType::VSpace, 0, d + 3, 1));
        let o = call(k, root, L::CNodeDelete, &[d + 3, 64], &[]);
        ok(&o);
        assert!(o.tlb.is_empty());
        check(k, l);
    });
}

#[test]
#[cfg_attr(
    miri,
    ignore = "slow under Miri; same code paths as the tests Miri runs"
)]
fn deleting_an_asid_pool_flushes_every_asid_it_assigned() {
    use crate::effects::TLB_FLUSH_CAPACITY;
    with_booted(8, |k, l| {
        let d = l.first_free_slot;
        let root = CAP_INIT_THREAD_CNODE as u64;
        let ctl = CAP_ASID_CONTROL as u64;
        ok(&retype(k, l, big(l), ObjectType::Untyped, 12, d, 2));
        ok(&call(
            k,
            ctl,
            L::ArmAsidControlMakePool,
            &[d + 2, 64],
            &[d, root],
        ));
        let asids = assigned_vspaces(k, l, d + 2, d + 3, 2);
        assert_eq!(asids, vec![512, 513]);
        let o = call(k, root, L::CNodeDelete, &[d + 2, 64], &[]);
        ok(&o);
        assert_eq!(o.tlb.asids(), &[512, 513]);
        assert_eq!(k.find_vspace_for_asid(512), None);
        // A new pool takes the same ASIDs; with more live VSpaces than the
        // set holds, deleting it invalidates every ASID.
        ok(&call(
            k,
            ctl,
            L::ArmAsidControlMakePool,
            &[d + 5, 64],
            &[d + 1, root],
        ));
        let n = TLB_FLUSH_CAPACITY as u64 + 1;
        let asids = assigned_vspaces(k, l, d + 5, d + 6, n);
        assert_eq!(asids[0], 512, "ASIDs are reused");
        let o = call(k, root, L::CNodeDelete, &[d + 5, 64], &[]);
        ok(&o);
        assert!(o.tlb.is_all(), "{:?}", o.tlb);
        // The VSpaces' own caps then find their ASIDs gone: no more work.
        let o = call(k, root, L::CNodeDelete, &[d + 6, 64], &[]);
        ok(&o);
        assert!(o.tlb.is_empty());
        check(k, l);
    });
}

#[test]
#[cfg_attr(
    miri,
    ignore = "slow under Miri; same code paths as the tests Miri runs"
)]
fn revoke_reaching_more_asids_than_the_set_holds_flushes_all() {
    use crate::effects::TLB_FLUSH_CAPACITY;
    with_booted(8, |k, l| {
        let d = l.first_free_slot;
        let root = CAP_INIT_THREAD_CNODE as u64;
        let pool = CAP_INIT_THREAD_ASID_POOL as u64;
        let n = TLB_FLUSH_CAPACITY as u64 + 1;
        // One level-1 table per VSpace, all from one untyped (2^15 bytes:
        // eight tables).
        let ut = d + n;
        ok(&retype(k, l, big(l), ObjectType::Untyped, 15, ut, 1));
        let asids = assigned_vspaces(k, l, pool, d, n);
        let pts = ut + 1;
        ok(&retype_from(k, ut, ObjectType::PageTable, 0, pts, n));
        for i in 0..n {
            ok(&call(
                k,
                pts + i,
                L::ArmPageTableMap,
                &[EFFECTS_VA, 3],
                &[d + i],
            ));
        }
        let o = call(k, root, L::CNodeRevoke, &[ut, 64], &[]);
        ok(&o);
        assert!(o.tlb.is_all(), "{:?}", o.tlb);
        for (i, a) in asids.iter().enumerate() {
            let vs = k.find_vspace_for_asid(*a).unwrap();
            assert_eq!(
                k.mem.read_word(vs + ((EFFECTS_VA >> 39) & 511) * 8),
                0,
                "VSpace {i}"
            );
        }
        check(k, l);
    });
}

/// A timer tick (IRQ 27) as a kernel entry at counter value `now` that
/// ends 10 counts later.
fn timed_tick(k: &mut Kernel<'_>, now: u64) {
    k.begin_entry(now);
    k.handle_interrupt(27);
    k.schedule_and_activate();
    k.end_entry(now + 10);
}

/// The current thread's system call `sys` (x0 = `cptr`) as an entry at
/// `now` that ends 10 counts later.
fn timed_syscall(k: &mut Kernel<'_>, now: u64, sys: Syscall, cptr: u64) -> Out {
    k.begin_entry(now);
    let o = syscall(k, sys, cptr, 0, &[], &[]);
    k.end_entry(now + 10);
    o
}

/// The utilisation words the current thread reads for `cptr`.
fn utilisation_of(k: &mut Kernel<'_>, l: &BootLayout, now: u64, cptr: u64) -> Vec<u64> {
    use cerne_abi::benchmark::UTILISATION_WORDS;
    timed_syscall(k, now, Syscall::BenchmarkGetThreadUtilisation, cptr);
    (0..UTILISATION_WORDS as u64)
        .map(|i| k.mem.read_word(l.ipc_buffer.0 + 8 * (i + 1)))
        .collect()
}

#[test]
fn thread_utilisation_is_charged_at_switches_and_reset() {
    use cerne_abi::benchmark::*;
    with_booted(8, |k, l| {
        k.start_utilisation(1000);
        let d = l.first_free_slot;
        ok(&retype(k, l, big(l), ObjectType::Tcb, 0, d, 1));
        let other = match k.slot_cap(cnode_slot(l.root_cnode, d)) {
            Cap::Thread { tcb } => tcb,
            c => panic!("{c:?}"),
        };
        let me = CAP_INIT_THREAD_TCB as u64;
        ok(&call(k, d, L::TcbSetMcPriority, &[255], &[me]));
        ok(&call(k, d, L::TcbSetPriority, &[255], &[me]));
        ok(&call(k, d, L::TcbResume, &[], &[]));
        // Ticks at 2000, 3000, …: the fifth moves the slice to `other`,
        // the tenth back to the root thread.
        for i in 0..10 {
            timed_tick(k, 2000 + 1000 * i);
            let expected = if (4..9).contains(&i) { other } else { l.tcb };
            assert_eq!(k.current_thread(), Some(expected));
        }
        let w = utilisation_of(k, l, 20_000, d);
        // `other` ran from the tick at 6000 to the one at 11000.
        assert_eq!(w[TCB_UTILISATION], 5000);
        assert_eq!(w[TCB_NUMBER_SCHEDULES], 1);
        assert_eq!(w[TCB_NUMBER_KERNEL_ENTRIES], 5);
        assert_eq!(w[TCB_KERNEL_UTILISATION], 50);
        assert_eq!(w[TOTAL_UTILISATION], 19_000);
        // Resume chose the root thread again, then the two slice ends.
        assert_eq!(w[TOTAL_NUMBER_SCHEDULES], 3);
        assert_eq!(w[IDLE_LOCALCPU_UTILISATION], w[IDLE_TCBCPU_UTILISATION]);
        let mine = utilisation_of(k, l, 21_000, me);
        // The root thread ran 1000..6000 (switched away) and has been
        // running since 11000, which is charged at its next switch.
        assert_eq!(mine[TCB_UTILISATION], 5000);
        assert!(mine[TCB_UTILISATION] + w[TCB_UTILISATION] <= mine[TOTAL_UTILISATION]);

        // A cptr that names no TCB changes nothing, as in seL4.
        let before = utilisation_of(k, l, 22_000, d);
        let o = timed_syscall(k, 23_000, Syscall::BenchmarkResetThreadUtilisation, 0);
        assert_eq!(o.badge, 0);
        k.mem.write_word(l.ipc_buffer.0 + 8, 0xdead);
        timed_syscall(k, 24_000, Syscall::BenchmarkGetThreadUtilisation, 1 << 40);
        assert_eq!(k.mem.read_word(l.ipc_buffer.0 + 8), 0xdead);
        assert_eq!(k.thread_state(l.tcb), ThreadState::Running);

        timed_syscall(k, 25_000, Syscall::BenchmarkResetThreadUtilisation, d);
        let after = utilisation_of(k, l, 26_000, d);
        assert_eq!(after[TCB_UTILISATION], 0);
        assert_eq!(after[TCB_NUMBER_SCHEDULES], 0);
        assert_eq!(after[TOTAL_UTILISATION], before[TOTAL_UTILISATION] + 4000);

        timed_syscall(k, 27_000, Syscall::BenchmarkResetAllThreadsUtilisation, 0);
        let mine = utilisation_of(k, l, 28_000, me);
        assert_eq!(mine[TCB_UTILISATION], 0);
        assert_eq!(mine[TCB_NUMBER_SCHEDULES], 0);
        assert_eq!(mine[TOTAL_UTILISATION], 1000);
        assert_eq!(mine[TOTAL_NUMBER_SCHEDULES], 0);
        // The reset's own exit and the Get's entry are this period's.
        assert_eq!(mine[TOTAL_NUMBER_KERNEL_ENTRIES], 1);
        assert_eq!(mine[IDLE_LOCALCPU_UTILISATION], 0);
        assert_eq!(
            k.handle_syscall(Syscall::BenchmarkDumpAllThreadsUtilisation.word()),
            crate::syscall::Event::DumpUtilisation
        );
    });
}

#[test]
#[cfg_attr(
    miri,
    ignore = "slow under Miri; same code paths as the tests Miri runs"
)]
fn idle_time_is_charged_to_the_idle_thread() {
    use cerne_abi::benchmark::*;
    with_booted(8, |k, l| {
        k.start_utilisation(0);
        let d = l.first_free_slot;
        ok(&retype(k, l, big(l), ObjectType::Notification, 0, d, 1));
        // The root thread waits on the notification: the kernel idles.
        k.begin_entry(100);
        let _ = syscall(k, Syscall::Recv, d, 0, &[], &[]);
        k.end_entry(110);
        assert_eq!(k.current_thread(), None);
        timed_tick(k, 1100);
        timed_tick(k, 2100);
        // A signal (as an IRQ would deliver it) wakes it.
        let Cap::Notification { paddr, .. } = k.slot_cap(cnode_slot(l.root_cnode, d)) else {
            panic!("not a notification");
        };
        k.begin_entry(3100);
        k.send_signal(paddr, 1);
        k.schedule_and_activate();
        k.end_entry(3110);
        assert_eq!(k.current_thread(), Some(l.tcb));
        let w = utilisation_of(k, l, 4000, CAP_INIT_THREAD_TCB as u64);
        assert_eq!(w[IDLE_LOCALCPU_UTILISATION], 3000);
        assert_eq!(w[IDLE_NUMBER_SCHEDULES], 1);
        assert_eq!(w[IDLE_NUMBER_KERNEL_ENTRIES], 3);
        assert_eq!(w[TCB_UTILISATION], 100);
        assert_eq!(w[TOTAL_NUMBER_SCHEDULES], 2);
        assert!(w[TCB_UTILISATION] + w[IDLE_LOCALCPU_UTILISATION] <= w[TOTAL_UTILISATION]);
    });
}
