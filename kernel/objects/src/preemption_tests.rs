//! Host tests of preemptible long operations: a reset of a large untyped and
//! a revoke of many caps stop at preemption points while an interrupt is
//! "pending", keep their progress in the objects, and finish when the
//! invoking thread re-executes its system call, with the same result as an
//! uninterrupted run.
#![forbid(unsafe_code)]

use crate::cap::Cap;
use crate::cspace::cnode_slot;
use crate::hostboot::{self, ARENA_BASE};
use crate::tcb::ThreadState;
use crate::{Kernel, KernelState, PhysMem};
use cerne_abi::invocation::InvocationLabel as L;
use cerne_abi::message::MessageInfo;
use cerne_abi::object::ObjectType;
use cerne_abi::slots::*;
use cerne_abi::syscall::Syscall;
use std::vec;

const ARENA_WORDS: usize = (4 << 20) / 8;

fn always_pending() -> bool {
    true
}

/// The root thread invokes `cptr` with a Call.
fn call(k: &mut Kernel<'_>, cptr: u64, label: L, args: &[u64], caps: &[u64]) -> u64 {
    let t = k.current_thread().unwrap();
    let buf = k.ipc_buffer(t, false);
    for (i, c) in caps.iter().enumerate() {
        k.mem.write_word(buf.unwrap() + 976 + 8 * i as u64, *c);
    }
    for (i, a) in args.iter().enumerate() {
        k.set_mr(t, buf, i, *a);
    }
    let ctx = k.user_context_mut(t);
    ctx.x[0] = cptr;
    ctx.x[1] = MessageInfo::new(label.word(), 0, caps.len() as u64, args.len() as u64).word();
    reenter(k)
}

/// Executes the thread's `svc` with its registers as they are (also the
/// restart of a preempted call); returns the reply label.
fn reenter(k: &mut Kernel<'_>) -> u64 {
    let t = k.current_thread().unwrap();
    k.user_context_mut(t).elr_el1 += 4;
    k.handle_syscall(Syscall::Call.word());
    k.take_tlb_flushes();
    k.schedule_and_activate();
    MessageInfo::from_word(k.user_context_mut(t).x[1]).label()
}

/// Boots a kernel, then runs `f` on it with preemption always requested.
fn with_preemptible(f: impl FnOnce(&mut Kernel<'_>, &hostboot::BootLayout)) {
    let mut words = vec![0u64; ARENA_WORDS];
    let mut st = KernelState::new();
    let mem = PhysMem::from_words(&mut words, ARENA_BASE).unwrap();
    let mut k = Kernel::new(mem, &mut st).with_preemption(always_pending);
    let l = hostboot::boot(&mut k, 8, 21);
    f(&mut k, &l);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "zeroes megabytes of a 4 MiB arena: far too slow under Miri"
)]
fn untyped_reset_is_preemptible_and_resumes() {
    with_preemptible(|k, l| {
        let root = CAP_INIT_THREAD_CNODE as u64;
        let &(ut_slot, ut_paddr, ut_bits) = l.untypeds.iter().max_by_key(|u| u.2).unwrap();
        assert!(ut_bits >= 20, "need a large untyped, got 2^{ut_bits}");
        // Dirty the untyped so the reset has something to zero.
        for i in 0..(1u64 << ut_bits) / 8 {
            k.mem.write_word(ut_paddr + 8 * i, 0xdead_beef);
        }
        let ut_cptr = (ut_slot - l.root_cnode) >> 5;
        let dest = l.first_free_slot;
        let args = [ObjectType::Endpoint.word(), 0, 0, 0, dest, 1];
        let t = l.tcb;
        let mut label = call(k, ut_cptr, L::UntypedRetype, &args, &[root]);
        let mut entries = 1;
        while k.was_preempted() {
            assert_eq!(
                k.thread_state(t),
                ThreadState::Running,
                "restarted to re-execute"
            );
            match k.slot_cap(ut_slot) {
                Cap::Untyped { free_index, .. } => {
                    assert!(free_index > 0 && free_index < 1 << ut_bits)
                }
                c => panic!("{c:?}"),
            }
            assert!(k.slot_cap(cnode_slot(l.root_cnode, dest)).is_null());
            label = reenter(k);
            entries += 1;
            assert!(entries < 100_000, "the reset never finished");
        }
        assert!(
            entries > 2,
            "a 2^{ut_bits}-byte reset must stop more than once ({entries})"
        );
        assert_eq!(label, 0);
        assert!(matches!(
            k.slot_cap(cnode_slot(l.root_cnode, dest)),
            Cap::Endpoint { .. }
        ));
        assert!(k.mem.is_zero(ut_paddr + 16, (1 << ut_bits) - 16));
    });
}

#[test]
fn revoke_is_preemptible_and_resumes() {
    with_preemptible(|k, l| {
        let root = CAP_INIT_THREAD_CNODE as u64;
        let &(ut_slot, _, _) = l.untypeds.iter().max_by_key(|u| u.2).unwrap();
        let ut_cptr = (ut_slot - l.root_cnode) >> 5;
        let ep = l.first_free_slot;
        let args = [ObjectType::Endpoint.word(), 0, 0, 0, ep, 1];
        let mut label = call(k, ut_cptr, L::UntypedRetype, &args, &[root]);
        while k.was_preempted() {
            label = reenter(k);
        }
        assert_eq!(label, 0, "retype failed");
        let copies = 150u64;
        for i in 1..=copies {
            let label = call(k, root, L::CNodeCopy, &[ep + i, 64, ep, 64, 0xf], &[root]);
            assert_eq!(label, 0, "copy {i}");
        }
        let remaining = |k: &Kernel<'_>| {
            (1..=copies)
                .filter(|i| !k.slot_cap(cnode_slot(l.root_cnode, ep + i)).is_null())
                .count()
        };
        call(k, root, L::CNodeRevoke, &[ep, 64], &[]);
        assert!(
            k.was_preempted(),
            "150 deletions must reach a preemption point"
        );
        let left = remaining(k);
        assert!(
            left > 0 && left < copies as usize,
            "{left} copies left after the first entry"
        );
        let mut entries = 1;
        while k.was_preempted() {
            reenter(k);
            entries += 1;
            assert!(entries < 10, "revoke never finished");
        }
        assert_eq!(remaining(k), 0);
        assert!(matches!(
            k.slot_cap(cnode_slot(l.root_cnode, ep)),
            Cap::Endpoint { .. }
        ));
    });
}
