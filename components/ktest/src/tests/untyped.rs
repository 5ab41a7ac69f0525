//! Untyped_Retype (docs/sel4-abi.md §4.3, §5.3): every object type, the error
//! checks in their order, memory accounting and reuse after revoke.

use crate::framework::*;
use crate::{check, check_eq, check_err, check_ok, tests};
use cerne_abi::invocation::InvocationLabel as L;
use cerne_abi::object::{CapTag, ObjectType};
use cerne_abi::rights::CapRights;
use cerne_abi::vm::DEFAULT_VM_ATTRIBUTES;
use cerne_abi::Word;
use libcerne::sel4::*;

fn retype_one(env: &mut Env, ty: ObjectType, bits: u64, tag: CapTag) -> TestResult {
    let slot = env.slot();
    check_ok!(env.pool.retype(ty, bits, env.root(), 0, 0, slot, 1));
    check_eq!(Cap::<Unknown>::from_cptr(slot).identify(), tag.word());
    Ok(())
}

fn retype_endpoint(env: &mut Env) -> TestResult {
    retype_one(env, ObjectType::Endpoint, 0, CapTag::Endpoint)
}

fn retype_notification(env: &mut Env) -> TestResult {
    retype_one(env, ObjectType::Notification, 0, CapTag::Notification)
}

fn retype_tcb(env: &mut Env) -> TestResult {
    retype_one(env, ObjectType::Tcb, 0, CapTag::Thread)
}

fn retype_cnode(env: &mut Env) -> TestResult {
    retype_one(env, ObjectType::CapTable, 6, CapTag::CNode)
}

fn retype_untyped(env: &mut Env) -> TestResult {
    retype_one(env, ObjectType::Untyped, 16, CapTag::Untyped)
}

fn retype_frames(env: &mut Env) -> TestResult {
    retype_one(env, ObjectType::SmallPage, 0, CapTag::Frame)?;
    retype_one(env, ObjectType::LargePage, 0, CapTag::Frame)
}

fn retype_tables(env: &mut Env) -> TestResult {
    retype_one(env, ObjectType::PageTable, 0, CapTag::PageTable)?;
    retype_one(env, ObjectType::VSpace, 0, CapTag::VSpace)
}

fn retype_many_consecutive(env: &mut Env) -> TestResult {
    let first = env.slots(8);
    check_ok!(env
        .pool
        .retype(ObjectType::Endpoint, 0, env.root(), 0, 0, first, 8));
    for s in first..first + 8 {
        check_eq!(
            Cap::<Unknown>::from_cptr(s).identify(),
            CapTag::Endpoint.word()
        );
    }
    Ok(())
}

fn retype_into_child_cnode(env: &mut Env) -> TestResult {
    let cn = env.cnode(4)?;
    // node_depth 64 resolves cn's slot in the root CNode: objects land in cn.
    check_ok!(env
        .pool
        .retype(ObjectType::Endpoint, 0, env.root(), cn.cptr(), 64, 3, 2));
    // Move one back out to see it.
    let dst = env.slot();
    check_ok!(env.root().move_(dst, 64, cn, 4, 4));
    check_eq!(
        Cap::<Unknown>::from_cptr(dst).identify(),
        CapTag::Endpoint.word()
    );
    // The other stayed in slot 3 of cn; slot 4 is now empty.
    check_err!(
        env.root().move_(env.slot(), 64, cn, 4, 4),
        FailedLookup,
        [1, 2, 4]
    );
    check_ok!(env.root().move_(env.slot(), 64, cn, 3, 4));
    Ok(())
}

fn retype_invalid_type(env: &mut Env) -> TestResult {
    let slot = env.slot();
    check_err!(
        env.pool.retype_raw(10, 0, env.root(), 0, 0, slot, 1),
        InvalidArgument,
        [0]
    );
    check_err!(
        env.pool.retype_raw(u64::MAX, 0, env.root(), 0, 0, slot, 1),
        InvalidArgument,
        [0]
    );
    check_eq!(Cap::<Unknown>::from_cptr(slot).identify(), 0);
    Ok(())
}

fn retype_size_too_big(env: &mut Env) -> TestResult {
    let slot = env.slot();
    check_err!(
        env.pool
            .retype(ObjectType::Untyped, 48, env.root(), 0, 0, slot, 1),
        RangeError,
        [0, 47]
    );
    check_err!(
        env.pool
            .retype(ObjectType::Untyped, 64, env.root(), 0, 0, slot, 1),
        RangeError,
        [0, 47]
    );
    check_err!(
        env.pool
            .retype(ObjectType::CapTable, 43, env.root(), 0, 0, slot, 1),
        RangeError,
        [0, 47]
    );
    // Fixed-size types ignore size_bits below 64 but not from 64 on.
    check_err!(
        env.pool
            .retype(ObjectType::Endpoint, 64, env.root(), 0, 0, slot, 1),
        RangeError,
        [0, 47]
    );
    check_ok!(env
        .pool
        .retype(ObjectType::Endpoint, 63, env.root(), 0, 0, slot, 1));
    Ok(())
}

fn retype_cnode_size_zero(env: &mut Env) -> TestResult {
    let slot = env.slot();
    check_err!(
        env.pool
            .retype(ObjectType::CapTable, 0, env.root(), 0, 0, slot, 1),
        InvalidArgument,
        [1]
    );
    Ok(())
}

fn retype_untyped_too_small(env: &mut Env) -> TestResult {
    let slot = env.slot();
    check_err!(
        env.pool
            .retype(ObjectType::Untyped, 3, env.root(), 0, 0, slot, 1),
        InvalidArgument,
        [1]
    );
    check_ok!(env
        .pool
        .retype(ObjectType::Untyped, 4, env.root(), 0, 0, slot, 1));
    Ok(())
}

fn retype_bad_node_depth(env: &mut Env) -> TestResult {
    let cn = env.cnode(4)?;
    check_err!(
        env.pool
            .retype(ObjectType::Endpoint, 0, env.root(), cn.cptr(), 65, 0, 1),
        RangeError,
        [1, 64]
    );
    Ok(())
}

fn retype_node_not_cnode(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    check_err!(
        env.pool
            .retype(ObjectType::Endpoint, 0, env.root(), ep.cptr(), 64, 0, 1),
        FailedLookup,
        [0, 2, 64]
    );
    Ok(())
}

fn retype_root_not_cnode(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    check_err!(
        env.pool
            .retype(ObjectType::Endpoint, 0, ep.cast(), 5, 64, 0, 1),
        FailedLookup,
        [0, 1]
    );
    Ok(())
}

fn retype_offset_out_of_range(env: &mut Env) -> TestResult {
    let cn = env.cnode(4)?;
    check_err!(
        env.pool.retype(ObjectType::Endpoint, 0, cn, 0, 0, 16, 1),
        RangeError,
        [0, 15]
    );
    Ok(())
}

fn retype_num_objects_range(env: &mut Env) -> TestResult {
    let cn = env.cnode(4)?;
    check_err!(
        env.pool.retype(ObjectType::Endpoint, 0, cn, 0, 0, 0, 0),
        RangeError,
        [1, 256]
    );
    check_err!(
        env.pool.retype(ObjectType::Endpoint, 0, cn, 0, 0, 0, 257),
        RangeError,
        [1, 256]
    );
    check_err!(
        env.pool.retype(ObjectType::Endpoint, 0, cn, 0, 0, 10, 7),
        RangeError,
        [1, 6]
    );
    check_ok!(env.pool.retype(ObjectType::Endpoint, 0, cn, 0, 0, 10, 6));
    Ok(())
}

fn retype_slot_occupied(env: &mut Env) -> TestResult {
    let first = env.slots(3);
    check_ok!(env
        .pool
        .retype(ObjectType::Endpoint, 0, env.root(), 0, 0, first + 2, 1));
    check_err!(
        env.pool
            .retype(ObjectType::Endpoint, 0, env.root(), 0, 0, first, 3),
        DeleteFirst
    );
    check_eq!(Cap::<Unknown>::from_cptr(first).identify(), 0);
    Ok(())
}

fn retype_not_enough_memory(env: &mut Env) -> TestResult {
    let ut = env.untyped(12)?;
    let first = env.slots(2);
    check_err!(
        ut.retype(ObjectType::SmallPage, 0, env.root(), 0, 0, first, 2),
        NotEnoughMemory,
        [4096]
    );
    check_err!(
        ut.retype(ObjectType::LargePage, 0, env.root(), 0, 0, first, 1),
        NotEnoughMemory,
        [4096]
    );
    check_ok!(ut.retype(ObjectType::SmallPage, 0, env.root(), 0, 0, first, 1));
    Ok(())
}

fn retype_until_full(env: &mut Env) -> TestResult {
    let ut = env.untyped(14)?;
    let first = env.slots(5);
    check_ok!(ut.retype(ObjectType::SmallPage, 0, env.root(), 0, 0, first, 2));
    check_ok!(ut.retype(ObjectType::SmallPage, 0, env.root(), 0, 0, first + 2, 2));
    check_err!(
        ut.retype(ObjectType::Endpoint, 0, env.root(), 0, 0, first + 4, 1),
        NotEnoughMemory,
        [0]
    );
    Ok(())
}

fn retype_free_index_alignment(env: &mut Env) -> TestResult {
    // An endpoint first, then a frame: the frame is rounded up to 4 KiB and
    // a 16 KiB untyped has room for exactly three more frames after it.
    let ut = env.untyped(14)?;
    let first = env.slots(5);
    check_ok!(ut.retype(ObjectType::Endpoint, 0, env.root(), 0, 0, first, 1));
    check_ok!(ut.retype(ObjectType::SmallPage, 0, env.root(), 0, 0, first + 1, 3));
    let f: Cap<Frame> = Cap::from_cptr(first + 1);
    let pa = check_ok!(f.get_address());
    check_eq!(pa % 4096, 0);
    check_err!(
        ut.retype(ObjectType::SmallPage, 0, env.root(), 0, 0, first + 4, 1),
        NotEnoughMemory,
        [0]
    );
    Ok(())
}

fn retype_device_untyped(env: &mut Env) -> TestResult {
    let bi = env.bi;
    let list = libcerne::bootinfo::untypeds(bi);
    let Some(i) = list
        .iter()
        .position(|d| d.is_device != 0 && d.size_bits >= 12)
    else {
        check!(false, "no device untyped of a page or more");
        return Ok(());
    };
    let dev: Cap<Untyped> = Cap::from_cptr(bi.untyped.start + i as u64);
    let slot = env.slot();
    check_err!(
        dev.retype(ObjectType::Tcb, 0, env.root(), 0, 0, slot, 1),
        InvalidArgument,
        [1]
    );
    check_err!(
        dev.retype(ObjectType::Endpoint, 0, env.root(), 0, 0, slot, 1),
        InvalidArgument,
        [1]
    );
    check_ok!(dev.retype(ObjectType::SmallPage, 0, env.root(), 0, 0, slot, 1));
    let pa = check_ok!(Cap::<Frame>::from_cptr(slot).get_address());
    check_eq!(pa, list[i].paddr);
    check_ok!(env.root().delete(slot, 64));
    Ok(())
}

fn retype_wrong_label(env: &mut Env) -> TestResult {
    check_err!(
        ipc::invoke(env.pool.cptr(), L::CNodeCopy, &[0; 6], &[env.root().cptr()]),
        IllegalOperation
    );
    check_err!(
        ipc::invoke_raw(env.pool.cptr(), 0, &[], &[]),
        IllegalOperation
    );
    Ok(())
}

fn retype_truncated(env: &mut Env) -> TestResult {
    let slot = env.slot();
    let args = [ObjectType::Endpoint.word(), 0, 0, 0, slot, 1];
    check_err!(
        ipc::invoke(
            env.pool.cptr(),
            L::UntypedRetype,
            &args[..5],
            &[env.root().cptr()]
        ),
        TruncatedMessage
    );
    check_err!(
        ipc::invoke(env.pool.cptr(), L::UntypedRetype, &args, &[]),
        TruncatedMessage
    );
    check_ok!(ipc::invoke(
        env.pool.cptr(),
        L::UntypedRetype,
        &args,
        &[env.root().cptr()]
    ));
    Ok(())
}

fn retype_label_on_other_object(env: &mut Env) -> TestResult {
    // Untyped_Retype sent to a TCB cap: the TCB does not know the label.
    let tcb = env.tcb()?;
    let slot = env.slot();
    check_err!(
        tcb.cast::<Untyped>()
            .retype(ObjectType::Endpoint, 0, env.root(), 0, 0, slot, 1),
        IllegalOperation
    );
    Ok(())
}

fn reuse_after_revoke_zeroes(env: &mut Env) -> TestResult {
    let ut = env.untyped(12)?;
    let slot = env.slot();
    let va = env.va();
    check_ok!(ut.retype(ObjectType::SmallPage, 0, env.root(), 0, 0, slot, 1));
    let f: Cap<Frame> = Cap::from_cptr(slot);
    env.map(f, va, CapRights::READ_WRITE, DEFAULT_VM_ATTRIBUTES)?;
    poke(va + 8, 0xfeed);
    check_eq!(peek(va + 8), 0xfeed);
    // Revoke the untyped: the frame goes (and is unmapped); retype again.
    check_ok!(env.root().revoke(ut.cptr(), 64));
    check_eq!(f.identify(), 0);
    check_ok!(ut.retype(ObjectType::SmallPage, 0, env.root(), 0, 0, slot, 1));
    check_ok!(f.map(
        env.boot.vspace,
        va,
        CapRights::READ_WRITE,
        DEFAULT_VM_ATTRIBUTES
    ));
    check_eq!(peek(va + 8), 0);
    Ok(())
}

fn copy_untyped_with_children(env: &mut Env) -> TestResult {
    let ut = env.untyped(12)?;
    let _ep = env.alloc_from::<Endpoint>(ut, ObjectType::Endpoint, 0)?;
    let slot = env.slot();
    check_err!(
        env.root()
            .copy(slot, 64, env.root(), ut.cptr(), 64, CapRights::ALL),
        RevokeFirst
    );
    Ok(())
}

fn copy_untyped_blocks_retype(env: &mut Env) -> TestResult {
    // A copy is a child: the original cannot be reset while it exists, and
    // the copy's free space is the copy's own.
    let ut = env.untyped(12)?;
    let copy = env.copy(ut, CapRights::ALL)?;
    let slot = env.slot();
    check_err!(
        ut.retype(ObjectType::SmallPage, 0, env.root(), 0, 0, slot, 1),
        NotEnoughMemory,
        [0]
    );
    check_ok!(copy.retype(ObjectType::SmallPage, 0, env.root(), 0, 0, slot, 1));
    Ok(())
}

fn pool_is_whole(env: &mut Env) -> TestResult {
    // The previous tests' objects were all reclaimed: the pool retypes
    // into one untyped of its full size.
    let bi = env.bi;
    let i = (env.pool.cptr() - bi.untyped.start) as usize;
    let bits = libcerne::bootinfo::untypeds(bi)[i].size_bits;
    let slot = env.slot();
    check_ok!(env.pool.retype(
        ObjectType::Untyped,
        Word::from(bits),
        env.root(),
        0,
        0,
        slot,
        1
    ));
    Ok(())
}

fn delete_children_resets_untyped(env: &mut Env) -> TestResult {
    // While any child lives, allocation goes on from the free index; once
    // the last is deleted the next retype starts over.
    let ut = env.untyped(14)?;
    let first = env.slots(4);
    check_ok!(ut.retype(ObjectType::SmallPage, 0, env.root(), 0, 0, first, 4));
    for s in first..first + 3 {
        check_ok!(env.root().delete(s, 64));
    }
    let extra = env.slot();
    check_err!(
        ut.retype(ObjectType::SmallPage, 0, env.root(), 0, 0, extra, 1),
        NotEnoughMemory,
        [0]
    );
    check_ok!(env.root().delete(first + 3, 64));
    check_ok!(ut.retype(ObjectType::SmallPage, 0, env.root(), 0, 0, first, 4));
    Ok(())
}

fn nested_untyped(env: &mut Env) -> TestResult {
    let outer = env.untyped(16)?;
    let inner: Cap<Untyped> = env.alloc_from(outer, ObjectType::Untyped, 14)?;
    let tcb: Cap<Tcb> = env.alloc_from(inner, ObjectType::Tcb, 0)?;
    // Revoking the outer one deletes the inner one and what came from it.
    check_ok!(env.root().revoke(outer.cptr(), 64));
    check_eq!(inner.identify(), 0);
    check_eq!(tcb.identify(), 0);
    Ok(())
}

fn retype_node_depth_short(env: &mut Env) -> TestResult {
    // 63 bits cannot cover the root CNode's guard (52) and radix (12).
    let cn = env.cnode(4)?;
    check_err!(
        env.pool
            .retype(ObjectType::Endpoint, 0, env.root(), cn.cptr(), 63, 0, 1),
        FailedLookup,
        [0, 3, 63, 64]
    );
    Ok(())
}

tests![
    retype_endpoint,
    retype_notification,
    retype_tcb,
    retype_cnode,
    retype_untyped,
    retype_frames,
    retype_tables,
    retype_many_consecutive,
    retype_into_child_cnode,
    retype_invalid_type,
    retype_size_too_big,
    retype_cnode_size_zero,
    retype_untyped_too_small,
    retype_bad_node_depth,
    retype_node_not_cnode,
    retype_root_not_cnode,
    retype_offset_out_of_range,
    retype_num_objects_range,
    retype_slot_occupied,
    retype_not_enough_memory,
    retype_until_full,
    retype_free_index_alignment,
    retype_device_untyped,
    retype_wrong_label,
    retype_truncated,
    retype_label_on_other_object,
    reuse_after_revoke_zeroes,
    copy_untyped_with_children,
    copy_untyped_blocks_retype,
    pool_is_whole,
    delete_children_resets_untyped,
    nested_untyped,
    retype_node_depth_short,
];
