//! CNode invocations (docs/sel4-abi.md §5.5) and CSpace addressing (§8.1–8.4):
//! Copy, Mint, Move, Mutate, Rotate, Delete, Revoke, SaveCaller,
//! CancelBadgedSends, with rights, badges, guards and every lookup error.

use crate::framework::*;
use crate::{check, check_eq, check_err, check_ok, tests};
use cerne_abi::error::Error;
use cerne_abi::invocation::InvocationLabel as L;
use cerne_abi::object::{CapTag, ObjectType};
use cerne_abi::rights::CapRights;
use cerne_abi::Word;
use libcerne::sel4::*;

fn tag(slot: Word) -> Word {
    Cap::<Unknown>::from_cptr(slot).identify()
}

fn copy_endpoint(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let dst = env.slot();
    check_ok!(env
        .root()
        .copy(dst, 64, env.root(), ep.cptr(), 64, CapRights::ALL));
    check_eq!(tag(dst), CapTag::Endpoint.word());
    check_eq!(tag(ep.cptr()), CapTag::Endpoint.word());
    Ok(())
}

fn copy_dest_occupied(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let other = env.notification()?;
    check_err!(
        env.root()
            .copy(other.cptr(), 64, env.root(), ep.cptr(), 64, CapRights::ALL),
        DeleteFirst
    );
    check_eq!(tag(other.cptr()), CapTag::Notification.word());
    Ok(())
}

fn copy_src_empty(env: &mut Env) -> TestResult {
    let (src, dst) = (env.slot(), env.slot());
    check_err!(
        env.root()
            .copy(dst, 64, env.root(), src, 64, CapRights::ALL),
        FailedLookup,
        [1, 2, 64]
    );
    Ok(())
}

fn copy_bad_depth(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let dst = env.slot();
    check_err!(
        env.root()
            .copy(dst, 0, env.root(), ep.cptr(), 64, CapRights::ALL),
        RangeError,
        [1, 64]
    );
    check_err!(
        env.root()
            .copy(dst, 65, env.root(), ep.cptr(), 64, CapRights::ALL),
        RangeError,
        [1, 64]
    );
    check_err!(
        env.root()
            .copy(dst, 64, env.root(), ep.cptr(), 65, CapRights::ALL),
        RangeError,
        [1, 64]
    );
    Ok(())
}

fn copy_src_root_not_cnode(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let dst = env.slot();
    check_err!(
        env.root()
            .copy(dst, 64, ep.cast(), ep.cptr(), 64, CapRights::ALL),
        FailedLookup,
        [1, 1]
    );
    Ok(())
}

fn copy_truncated(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let dst = env.slot();
    let root = env.root().cptr();
    check_err!(
        ipc::invoke(root, L::CNodeCopy, &[dst, 64, ep.cptr()], &[root]),
        TruncatedMessage
    );
    check_err!(
        ipc::invoke(root, L::CNodeCopy, &[dst, 64, ep.cptr(), 64, 0xf], &[]),
        TruncatedMessage
    );
    // Four words pass the first check; the rights word is missing.
    check_err!(
        ipc::invoke(root, L::CNodeCopy, &[dst, 64, ep.cptr(), 64], &[root]),
        TruncatedMessage
    );
    check_eq!(tag(dst), 0);
    Ok(())
}

fn copy_irq_control_is_null(env: &mut Env) -> TestResult {
    let dst = env.slot();
    check_err!(
        env.root().copy(
            dst,
            64,
            env.root(),
            env.boot.irq_control.cptr(),
            64,
            CapRights::ALL
        ),
        IllegalOperation
    );
    check_eq!(tag(dst), 0);
    Ok(())
}

fn copy_rights_drop_write(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let ro = env.copy(ep, union(&[CapRights::READ, CapRights::GRANT]))?;
    // Calling an endpoint without Write: InvalidCapability(0).
    let reply = ipc::call(ro.cptr(), 0, &[], &[]);
    check_eq!(reply.label(), Error::InvalidCapability.word());
    check_eq!(reply.mr(0), 0);
    Ok(())
}

fn copy_unassigned_vspace(env: &mut Env) -> TestResult {
    let vs: Cap<VSpace> = env.alloc(ObjectType::VSpace, 0)?;
    let dst = env.slot();
    check_err!(
        env.root()
            .copy(dst, 64, env.root(), vs.cptr(), 64, CapRights::ALL),
        IllegalOperation
    );
    check_ok!(env.boot.asid_pool.assign(vs));
    check_ok!(env
        .root()
        .copy(dst, 64, env.root(), vs.cptr(), 64, CapRights::ALL));
    Ok(())
}

fn copy_unmapped_page_table(env: &mut Env) -> TestResult {
    let pt = env.page_table()?;
    let dst = env.slot();
    check_err!(
        env.root()
            .copy(dst, 64, env.root(), pt.cptr(), 64, CapRights::ALL),
        IllegalOperation
    );
    Ok(())
}

fn mint_badge_endpoint(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let b = env.mint(ep, CapRights::ALL, 0x1234)?;
    b.nb_send(99, &[1], &[]);
    // Nobody waited: the NBSend is dropped; now a real exchange.
    env.spawn(
        |cptr| Cap::<Endpoint>::from_cptr(cptr).send(7, &[1], &[]),
        b.cptr(),
        150,
    )?;
    let m = ep.recv();
    check_eq!(m.badge, 0x1234);
    check_eq!(m.label(), 7);
    Ok(())
}

fn mint_rebadge_fails(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let b = env.mint(ep, CapRights::ALL, 5)?;
    let dst = env.slot();
    check_err!(
        env.root()
            .mint(dst, 64, env.root(), b.cptr(), 64, CapRights::ALL, 6),
        IllegalOperation
    );
    // From the unbadged original a second badge is fine.
    check_ok!(env
        .root()
        .mint(dst, 64, env.root(), ep.cptr(), 64, CapRights::ALL, 6));
    Ok(())
}

fn mint_truncated(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let dst = env.slot();
    let root = env.root().cptr();
    check_err!(
        ipc::invoke(root, L::CNodeMint, &[dst, 64, ep.cptr(), 64, 0xf], &[root]),
        TruncatedMessage
    );
    Ok(())
}

fn mint_cnode_guard(env: &mut Env) -> TestResult {
    let cn = env.cnode(4)?;
    // guard 0b101 of 3 bits: data = (guard << 6) | size.
    let g = env.mint(cn, CapRights::ALL, (0b101 << 6) | 3)?;
    let ep = env.endpoint()?;
    // Slot 2 of cn through the guarded cap: index 0b101_0010 at depth 7.
    check_ok!(g.copy(0b101_0010, 7, env.root(), ep.cptr(), 64, CapRights::ALL));
    let out = env.slot();
    check_ok!(env.root().move_(out, 64, cn, 2, 4));
    check_eq!(tag(out), CapTag::Endpoint.word());
    Ok(())
}

fn mint_cnode_guard_too_big(env: &mut Env) -> TestResult {
    let cn = env.cnode(4)?;
    let dst = env.slot();
    // guard size 61 + radix 4 > 64: the new cap would be null.
    check_err!(
        env.root()
            .mint(dst, 64, env.root(), cn.cptr(), 64, CapRights::ALL, 61),
        IllegalOperation
    );
    check_ok!(env
        .root()
        .mint(dst, 64, env.root(), cn.cptr(), 64, CapRights::ALL, 60));
    Ok(())
}

fn guard_mismatch(env: &mut Env) -> TestResult {
    let cn = env.cnode(4)?;
    let g = env.mint(cn, CapRights::ALL, (0b101 << 6) | 3)?;
    let ep = env.endpoint()?;
    check_err!(
        g.copy(0b111_0010, 7, env.root(), ep.cptr(), 64, CapRights::ALL),
        FailedLookup,
        [0, 4, 7, 0b101, 3]
    );
    Ok(())
}

fn depth_mismatch_short(env: &mut Env) -> TestResult {
    let cn = env.cnode(4)?;
    let g = env.mint(cn, CapRights::ALL, (0b101 << 6) | 3)?;
    let ep = env.endpoint()?;
    // 5 bits cannot hold guard (3) + radix (4).
    check_err!(
        g.copy(0b101 << 2, 5, env.root(), ep.cptr(), 64, CapRights::ALL),
        FailedLookup,
        [0, 3, 5, 7]
    );
    Ok(())
}

fn depth_mismatch_long(env: &mut Env) -> TestResult {
    let cn = env.cnode(4)?;
    let ep = env.endpoint()?;
    // 6 bits: the slot is found after 4, 2 bits remain and the slot holds
    // no CNode.
    check_err!(
        cn.copy(
            (0b0010 << 2) | 0b11,
            6,
            env.root(),
            ep.cptr(),
            64,
            CapRights::ALL
        ),
        FailedLookup,
        [0, 3, 2, 0]
    );
    Ok(())
}

fn two_level_lookup(env: &mut Env) -> TestResult {
    // cn1 (radix 4) holds cn2 (radix 4) at slot 3; an 8-bit path reaches
    // slot 9 of cn2.
    let cn1 = env.cnode(4)?;
    let cn2 = env.cnode(4)?;
    check_ok!(cn1.copy(3, 4, env.root(), cn2.cptr(), 64, CapRights::ALL));
    let ep = env.endpoint()?;
    check_ok!(cn1.copy((3 << 4) | 9, 8, env.root(), ep.cptr(), 64, CapRights::ALL));
    let out = env.slot();
    check_ok!(env.root().move_(out, 64, cn2, 9, 4));
    check_eq!(tag(out), CapTag::Endpoint.word());
    Ok(())
}

fn depth_mismatch_midway(env: &mut Env) -> TestResult {
    let cn1 = env.cnode(4)?;
    let ep = env.endpoint()?;
    // Slot 3 of cn1 is empty: with 4 bits left the walk stops there.
    check_err!(
        cn1.copy((3 << 4) | 9, 8, env.root(), ep.cptr(), 64, CapRights::ALL),
        FailedLookup,
        [0, 3, 4, 0]
    );
    Ok(())
}

fn move_cap(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let dst = env.slot();
    check_ok!(env.root().move_(dst, 64, env.root(), ep.cptr(), 64));
    check_eq!(tag(dst), CapTag::Endpoint.word());
    check_eq!(tag(ep.cptr()), 0);
    Ok(())
}

fn move_errors(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let n = env.notification()?;
    let empty = env.slot();
    check_err!(
        env.root().move_(n.cptr(), 64, env.root(), ep.cptr(), 64),
        DeleteFirst
    );
    check_err!(
        env.root().move_(env.slot(), 64, env.root(), empty, 64),
        FailedLookup,
        [1, 2, 64]
    );
    Ok(())
}

fn move_keeps_children(env: &mut Env) -> TestResult {
    // Move keeps the CDT position: revoking the moved cap deletes the
    // children minted from it before the move.
    let ep = env.endpoint()?;
    let child = env.mint(ep, CapRights::ALL, 9)?;
    let dst = env.slot();
    check_ok!(env.root().move_(dst, 64, env.root(), ep.cptr(), 64));
    check_ok!(env.root().revoke(dst, 64));
    check_eq!(tag(child.cptr()), 0);
    check_eq!(tag(dst), CapTag::Endpoint.word());
    Ok(())
}

fn mutate_endpoint_is_null(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let dst = env.slot();
    check_err!(
        env.root().mutate(dst, 64, env.root(), ep.cptr(), 64, 5),
        IllegalOperation
    );
    check_eq!(tag(ep.cptr()), CapTag::Endpoint.word());
    Ok(())
}

fn mutate_cnode_guard(env: &mut Env) -> TestResult {
    let cn = env.cnode(4)?;
    let dst = env.slot();
    check_ok!(env
        .root()
        .mutate(dst, 64, env.root(), cn.cptr(), 64, (0b11 << 6) | 2));
    check_eq!(tag(cn.cptr()), 0);
    let g: Cap<CNode> = Cap::from_cptr(dst);
    let ep = env.endpoint()?;
    check_ok!(g.copy(0b11_0001, 6, env.root(), ep.cptr(), 64, CapRights::ALL));
    check_err!(
        g.copy(0b01_0001, 6, env.root(), ep.cptr(), 64, CapRights::ALL),
        FailedLookup,
        [0, 4, 6, 0b11, 2]
    );
    Ok(())
}

fn mutate_tcb_ignores_data(env: &mut Env) -> TestResult {
    let t = env.tcb()?;
    let dst = env.slot();
    check_ok!(env.root().mutate(dst, 64, env.root(), t.cptr(), 64, 0xdead));
    check_eq!(tag(dst), CapTag::Thread.word());
    Ok(())
}

fn rotate_three(env: &mut Env) -> TestResult {
    // src -> pivot -> dest with TCB, CNode caps (data ignored / kept).
    let a = env.tcb()?;
    let b = env.cnode(2)?;
    let dest = env.slot();
    let root = env.root();
    check_ok!(root.rotate(dest, 64, 0, root, b.cptr(), 64, 0, root, a.cptr(), 64));
    check_eq!(tag(dest), CapTag::CNode.word());
    check_eq!(tag(b.cptr()), CapTag::Thread.word());
    check_eq!(tag(a.cptr()), 0);
    Ok(())
}

fn rotate_swap(env: &mut Env) -> TestResult {
    let a = env.tcb()?;
    let b = env.cnode(2)?;
    let root = env.root();
    check_ok!(root.rotate(a.cptr(), 64, 0, root, b.cptr(), 64, 0, root, a.cptr(), 64));
    check_eq!(tag(a.cptr()), CapTag::CNode.word());
    check_eq!(tag(b.cptr()), CapTag::Thread.word());
    Ok(())
}

fn rotate_errors(env: &mut Env) -> TestResult {
    let a = env.tcb()?;
    let b = env.cnode(2)?;
    let c = env.frame()?;
    let empty = env.slot();
    let root = env.root();
    // pivot = src, pivot = dest
    check_err!(
        root.rotate(empty, 64, 0, root, a.cptr(), 64, 0, root, a.cptr(), 64),
        IllegalOperation
    );
    check_err!(
        root.rotate(b.cptr(), 64, 0, root, b.cptr(), 64, 0, root, a.cptr(), 64),
        IllegalOperation
    );
    // dest occupied
    check_err!(
        root.rotate(c.cptr(), 64, 0, root, b.cptr(), 64, 0, root, a.cptr(), 64),
        DeleteFirst
    );
    // src empty, pivot empty
    let e2 = env.slot();
    check_err!(
        root.rotate(e2, 64, 0, root, b.cptr(), 64, 0, root, empty, 64),
        FailedLookup,
        [1, 2, 64]
    );
    check_err!(
        root.rotate(e2, 64, 0, root, empty, 64, 0, root, a.cptr(), 64),
        FailedLookup,
        [0, 2, 64]
    );
    Ok(())
}

fn rotate_endpoint_is_null(env: &mut Env) -> TestResult {
    let a = env.endpoint()?;
    let b = env.endpoint()?;
    let dest = env.slot();
    let root = env.root();
    check_err!(
        root.rotate(dest, 64, 0, root, b.cptr(), 64, 0, root, a.cptr(), 64),
        IllegalOperation
    );
    Ok(())
}

fn rotate_truncated(env: &mut Env) -> TestResult {
    let root = env.root().cptr();
    // The destination is looked up first, so it must be valid.
    let dest = env.slot();
    let args = [dest, 64, 0, 0, 0, 0, 0, 0];
    check_err!(
        ipc::invoke(root, L::CNodeRotate, &args[..7], &[root, root]),
        TruncatedMessage
    );
    check_err!(
        ipc::invoke(root, L::CNodeRotate, &args, &[root]),
        TruncatedMessage
    );
    Ok(())
}

fn delete_cap(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    check_ok!(env.root().delete(ep.cptr(), 64));
    check_eq!(tag(ep.cptr()), 0);
    // Deleting an empty slot succeeds.
    check_ok!(env.root().delete(ep.cptr(), 64));
    Ok(())
}

fn delete_bad_depth(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    check_err!(env.root().delete(ep.cptr(), 0), RangeError, [1, 64]);
    check_err!(env.root().delete(ep.cptr(), 65), RangeError, [1, 64]);
    // Depth 12 leaves the root's 52-bit guard unmatched.
    check_err!(
        env.root().delete(ep.cptr(), 12),
        FailedLookup,
        [0, 4, 12, 0, 52]
    );
    check_eq!(tag(ep.cptr()), CapTag::Endpoint.word());
    Ok(())
}

fn revoke_children(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let c1 = env.mint(ep, CapRights::ALL, 1)?;
    let c2 = env.copy(ep, CapRights::ALL)?;
    let gc = env.copy(c1, CapRights::ALL)?;
    check_ok!(env.root().revoke(ep.cptr(), 64));
    check_eq!(tag(c1.cptr()), 0);
    check_eq!(tag(c2.cptr()), 0);
    check_eq!(tag(gc.cptr()), 0);
    check_eq!(tag(ep.cptr()), CapTag::Endpoint.word());
    Ok(())
}

fn revoke_untyped_deletes_objects(env: &mut Env) -> TestResult {
    let ut = env.untyped(16)?;
    let first = env.slots(4);
    check_ok!(ut.retype(ObjectType::Notification, 0, env.root(), 0, 0, first, 4));
    check_ok!(env.root().revoke(ut.cptr(), 64));
    for s in first..first + 4 {
        check_eq!(tag(s), 0);
    }
    check_eq!(tag(ut.cptr()), CapTag::Untyped.word());
    Ok(())
}

fn revoke_empty_slot(env: &mut Env) -> TestResult {
    let s = env.slot();
    check_ok!(env.root().revoke(s, 64));
    Ok(())
}

fn delete_last_cap_destroys_cnode_contents(env: &mut Env) -> TestResult {
    // Deleting a CNode deletes what it holds: a frame copied into it is gone
    // and its memory can be retyped afresh.
    let ut = env.untyped(14)?;
    let cn: Cap<CNode> = env.alloc_from(ut, ObjectType::CapTable, 2)?;
    let ep = env.endpoint()?;
    check_ok!(cn.copy(1, 2, env.root(), ep.cptr(), 64, CapRights::ALL));
    check_ok!(env.root().delete(cn.cptr(), 64));
    let slot = env.slot();
    check_ok!(ut.retype(ObjectType::Untyped, 14, env.root(), 0, 0, slot, 1));
    Ok(())
}

fn cnode_wrong_label(env: &mut Env) -> TestResult {
    let cn = env.cnode(2)?;
    check_err!(
        ipc::invoke(cn.cptr(), L::UntypedRetype, &[0; 6], &[env.root().cptr()]),
        IllegalOperation
    );
    check_err!(
        ipc::invoke(cn.cptr(), L::TcbSuspend, &[0, 2], &[]),
        IllegalOperation
    );
    Ok(())
}

fn cnode_truncated(env: &mut Env) -> TestResult {
    let cn = env.cnode(2)?;
    check_err!(
        ipc::invoke(cn.cptr(), L::CNodeDelete, &[1], &[]),
        TruncatedMessage
    );
    check_err!(
        ipc::invoke(cn.cptr(), L::CNodeRevoke, &[], &[]),
        TruncatedMessage
    );
    Ok(())
}

fn save_caller_without_caller(env: &mut Env) -> TestResult {
    let s = env.slot();
    check_ok!(env.root().save_caller(s, 64));
    check_eq!(tag(s), 0);
    let ep = env.endpoint()?;
    check_err!(env.root().save_caller(ep.cptr(), 64), DeleteFirst);
    Ok(())
}

fn client_call(ep: Word) {
    let r = Cap::<Endpoint>::from_cptr(ep).call(3, &[10, 20], &[]);
    set_shared(1, r.label());
    set_shared(2, r.mr(0));
    set_shared(3, 1);
}

fn save_caller_and_reply(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    env.spawn(client_call, ep.cptr(), 150)?;
    let m = ep.recv();
    check_eq!(m.label(), 3);
    check_eq!((m.mr(0), m.mr(1)), (10, 20));
    let s = env.slot();
    check_ok!(env.root().save_caller(s, 64));
    check_eq!(tag(s), CapTag::Reply.word());
    check_eq!(shared(3), 0);
    Cap::<Reply>::from_cptr(s).send(0, &[77], &[]);
    check_eq!(shared(3), 1);
    check_eq!(shared(1), 0);
    check_eq!(shared(2), 77);
    // The reply cap was consumed.
    check_eq!(tag(s), 0);
    Ok(())
}

fn sender(ep: Word) {
    Cap::<Endpoint>::from_cptr(ep).send(0, &[ep], &[]);
    add_shared(0, 1);
}

fn cancel_badged_sends(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let b1 = env.mint(ep, CapRights::ALL, 1)?;
    let b2 = env.mint(ep, CapRights::ALL, 2)?;
    // Two senders queue, badge 1 first.
    env.spawn(sender, b1.cptr(), 150)?;
    env.spawn(sender, b2.cptr(), 150)?;
    check_ok!(env.root().cancel_badged_sends(b1.cptr(), 64));
    // The badge-1 sender re-executes its Send and queues again behind 2.
    let m = ep.recv();
    check_eq!(m.badge, 2);
    let m = ep.recv();
    check_eq!(m.badge, 1);
    Ok(())
}

fn cancel_badged_sends_rights(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let b = env.mint(ep, CapRights::READ_WRITE, 1)?;
    check_err!(
        env.root().cancel_badged_sends(b.cptr(), 64),
        IllegalOperation
    );
    let n = env.notification()?;
    check_err!(
        env.root().cancel_badged_sends(n.cptr(), 64),
        IllegalOperation
    );
    // Unbadged with all rights: nothing to do, success.
    check_ok!(env.root().cancel_badged_sends(ep.cptr(), 64));
    Ok(())
}

fn copy_frame_rights_read_only(env: &mut Env) -> TestResult {
    let f = env.frame()?;
    let ro = env.copy(f, CapRights::READ)?;
    let va = env.va();
    // A read-only frame cap maps read-only even when RW is asked for; the
    // mapping works for reads.
    env.map(
        ro,
        va,
        CapRights::READ_WRITE,
        cerne_abi::vm::DEFAULT_VM_ATTRIBUTES,
    )?;
    check_eq!(peek(va), 0);
    check!(tag(ro.cptr()) == CapTag::Frame.word());
    Ok(())
}

fn revoke_many_children(env: &mut Env) -> TestResult {
    // A long revoke (the kernel may preempt and restart it) leaves every
    // child deleted and the parent intact.
    let ep = env.endpoint()?;
    let n = 600;
    let first = env.slots(n);
    for i in 0..n {
        check_ok!(env.root().mint(
            first + i,
            64,
            env.root(),
            ep.cptr(),
            64,
            CapRights::ALL,
            i + 1
        ));
    }
    check_ok!(env.root().revoke(ep.cptr(), 64));
    for i in (0..n).step_by(37) {
        check_eq!(tag(first + i), 0);
    }
    check_eq!(tag(first + n - 1), 0);
    check_eq!(tag(ep.cptr()), CapTag::Endpoint.word());
    Ok(())
}

fn cnode_holding_itself(env: &mut Env) -> TestResult {
    // A CNode that holds a cap to itself: deleting the outside cap leaves
    // it unreachable; revoking its untyped still reclaims everything.
    let ut = env.untyped(12)?;
    let cn: Cap<CNode> = env.alloc_from(ut, ObjectType::CapTable, 2)?;
    check_ok!(cn.copy(0, 2, env.root(), cn.cptr(), 64, CapRights::ALL));
    check_ok!(env.root().delete(cn.cptr(), 64));
    check_eq!(tag(cn.cptr()), 0);
    check_ok!(env.root().revoke(ut.cptr(), 64));
    let s = env.slot();
    check_ok!(ut.retype(ObjectType::Untyped, 12, env.root(), 0, 0, s, 1));
    Ok(())
}

fn rights_never_grow(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let ro = env.copy(ep, CapRights::READ)?;
    let again = env.copy(ro, CapRights::ALL)?;
    let minted = env.mint(ro, CapRights::ALL, 3)?;
    for c in [again, minted] {
        let r = ipc::call(c.cptr(), 0, &[], &[]);
        check_eq!((r.label(), r.mr(0)), (Error::InvalidCapability.word(), 0));
    }
    Ok(())
}

fn mint_zero_badge_stays_unbadged(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let z = env.mint(ep, CapRights::ALL, 0)?;
    let b = env.mint(z, CapRights::ALL, 5)?;
    env.spawn(|c| ipc::send(c, 0, &[], &[]), b.cptr(), 150)?;
    check_eq!(ep.recv().badge, 5);
    Ok(())
}

fn receive_with_read_only_cap(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let ro = env.copy(ep, CapRights::READ)?;
    env.spawn(|c| ipc::send(c, 4, &[], &[]), ep.cptr(), 150)?;
    check_eq!(ro.recv().label(), 4);
    Ok(())
}

fn object_outlives_deleted_original(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let c = env.copy(ep, CapRights::ALL)?;
    check_ok!(env.root().delete(ep.cptr(), 64));
    env.spawn(|c| ipc::send(c, 6, &[], &[]), c.cptr(), 150)?;
    check_eq!(c.recv().label(), 6);
    Ok(())
}

fn revoke_subtree_only(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let a = env.mint(ep, CapRights::ALL, 1)?;
    let b = env.mint(ep, CapRights::ALL, 2)?;
    let a1 = env.copy(a, CapRights::ALL)?;
    let a2 = env.copy(a1, CapRights::ALL)?;
    check_ok!(env.root().revoke(a.cptr(), 64));
    check_eq!([tag(a1.cptr()), tag(a2.cptr())], [0, 0]);
    check_eq!([tag(a.cptr()), tag(b.cptr())], [CapTag::Endpoint.word(); 2]);
    Ok(())
}

fn rights_ignored_on_other_caps(env: &mut Env) -> TestResult {
    // Only endpoint, notification, reply and frame caps have rights that
    // matter: a TCB, CNode or Untyped cap with none still works.
    let t = env.tcb()?;
    let t0 = env.copy(t, CapRights::NONE)?;
    check_ok!(t0.set_priority(env.boot.tcb, 7));
    let cn = env.cnode(2)?;
    let cn0 = env.copy(cn, CapRights::NONE)?;
    let ep = env.endpoint()?;
    check_ok!(cn0.copy(1, 2, env.root(), ep.cptr(), 64, CapRights::ALL));
    let ut = env.untyped(12)?;
    let ut0 = env.copy(ut, CapRights::NONE)?;
    let s = env.slot();
    check_ok!(ut0.retype(ObjectType::Endpoint, 0, env.root(), 0, 0, s, 1));
    Ok(())
}

fn src_guard_mismatch(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let dst = env.slot();
    // 32 bits are fewer than the root's 52-bit guard.
    check_err!(
        env.root()
            .copy(dst, 64, env.root(), ep.cptr(), 32, CapRights::ALL),
        FailedLookup,
        [1, 4, 32, 0, 52]
    );
    Ok(())
}

tests![
    copy_endpoint,
    copy_dest_occupied,
    copy_src_empty,
    copy_bad_depth,
    copy_src_root_not_cnode,
    copy_truncated,
    copy_irq_control_is_null,
    copy_rights_drop_write,
    copy_unassigned_vspace,
    copy_unmapped_page_table,
    copy_frame_rights_read_only,
    mint_badge_endpoint,
    mint_rebadge_fails,
    mint_truncated,
    mint_cnode_guard,
    mint_cnode_guard_too_big,
    guard_mismatch,
    depth_mismatch_short,
    depth_mismatch_long,
    two_level_lookup,
    depth_mismatch_midway,
    move_cap,
    move_errors,
    move_keeps_children,
    mutate_endpoint_is_null,
    mutate_cnode_guard,
    mutate_tcb_ignores_data,
    rotate_three,
    rotate_swap,
    rotate_errors,
    rotate_endpoint_is_null,
    rotate_truncated,
    delete_cap,
    delete_bad_depth,
    revoke_children,
    revoke_untyped_deletes_objects,
    revoke_empty_slot,
    delete_last_cap_destroys_cnode_contents,
    cnode_wrong_label,
    cnode_truncated,
    save_caller_without_caller,
    save_caller_and_reply,
    cancel_badged_sends,
    cancel_badged_sends_rights,
    revoke_many_children,
    cnode_holding_itself,
    rights_never_grow,
    mint_zero_badge_stays_unbadged,
    receive_with_read_only_cap,
    object_outlives_deleted_original,
    revoke_subtree_only,
    rights_ignored_on_other_caps,
    src_guard_mismatch,
];
