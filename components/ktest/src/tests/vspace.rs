//! Address spaces (docs/sel4-abi.md §5.8–5.11, §9): frames of every size and
//! page tables at every level, the Page_Map / PageTable_Map error checks,
//! rights and execute-never enforced (with TLB maintenance on remap and
//! unmap), cache maintenance on frames and VSpaces, GetAddress, ASID
//! control and pools.

use super::fault::{exception_class, jump_to, read_addr, write_addr, EC_DABT_LOWER, EC_IABT_LOWER};
use crate::framework::*;
use crate::{check, check_eq, check_err, check_ok, tests};
use cerne_abi::fault::FaultType;
use cerne_abi::invocation::InvocationLabel as L;
use cerne_abi::object::{CapTag, ObjectType, HUGE_PAGE_BITS, LARGE_PAGE_BITS, PAGE_BITS};
use cerne_abi::rights::CapRights;
use cerne_abi::vm::{DEFAULT_VM_ATTRIBUTES, EXECUTE_NEVER, USER_TOP};
use cerne_abi::Word;
use libcerne::sel4::*;

const PAGE: Word = 1 << PAGE_BITS;
const LARGE: Word = 1 << LARGE_PAGE_BITS;
const HUGE: Word = 1 << HUGE_PAGE_BITS;
const RW: CapRights = CapRights::READ_WRITE;
const ATTR: Word = DEFAULT_VM_ATTRIBUTES;

fn map_small_frame(env: &mut Env) -> TestResult {
    let va = env.va();
    env.mapped_frame(va)?;
    check_eq!(peek(va + 16), 0);
    poke(va + 16, 0xabcd);
    check_eq!(peek(va + 16), 0xabcd);
    Ok(())
}

fn one_frame_two_mappings(env: &mut Env) -> TestResult {
    let va = env.va();
    let f = env.mapped_frame(va)?;
    let f2 = env.copy(f, CapRights::ALL)?;
    check_ok!(f2.map(env.boot.vspace, va + 2 * PAGE, RW, ATTR));
    poke(va + 8, 0x77);
    check_eq!(peek(va + 2 * PAGE + 8), 0x77);
    Ok(())
}

fn map_unaligned(env: &mut Env) -> TestResult {
    let f = env.frame()?;
    check_err!(
        f.map(env.boot.vspace, env.va() + 0x800, RW, ATTR),
        AlignmentError
    );
    let l: Cap<Frame> = env.alloc(ObjectType::LargePage, 0)?;
    check_err!(
        l.map(env.boot.vspace, env.va() + PAGE, RW, ATTR),
        AlignmentError
    );
    Ok(())
}

fn map_walk_levels_fresh_vspace(env: &mut Env) -> TestResult {
    let vs = env.vspace()?;
    let f = env.frame()?;
    let va = env.va();
    for bits in [39, 30, 21] {
        check_err!(f.map(vs, va, RW, ATTR), FailedLookup, [0, 2, bits]);
        let pt = env.page_table()?;
        check_ok!(pt.map(vs, va, ATTR));
    }
    check_ok!(f.map(vs, va, RW, ATTR));
    Ok(())
}

fn map_walk_root_vspace(env: &mut Env) -> TestResult {
    // The root VSpace has its level-1 table; this window has nothing below.
    let f = env.frame()?;
    check_err!(
        f.map(env.boot.vspace, env.va(), RW, ATTR),
        FailedLookup,
        [0, 2, 30]
    );
    Ok(())
}

fn large_page(env: &mut Env) -> TestResult {
    let va = env.va() + 4 * LARGE;
    let l: Cap<Frame> = env.alloc(ObjectType::LargePage, 0)?;
    env.map(l, va, RW, ATTR)?;
    poke(va + LARGE / 2, 0x2222);
    check_eq!(peek(va + LARGE / 2), 0x2222);
    check_eq!(peek(va + LARGE - 8), 0);
    check_eq!(check_ok!(l.get_address()) % LARGE, 0);
    Ok(())
}

fn huge_page(env: &mut Env) -> TestResult {
    let Some(huge) = env.huge else {
        check!(false, "no RAM untyped of 1 GiB: boot with -m 2G");
        return Ok(());
    };
    let va = env.va();
    let h: Cap<Frame> = env.alloc_from(huge, ObjectType::HugePage, 0)?;
    // The root VSpace's level-1 table is there: the block goes right in.
    check_ok!(h.map(env.boot.vspace, va, RW, ATTR));
    poke(va + HUGE / 2, 0x3333);
    check_eq!(peek(va + HUGE / 2), 0x3333);
    check_eq!(peek(va + HUGE - 8), 0);
    check_eq!(check_ok!(h.get_address()) % HUGE, 0);
    check_err!(h.map(env.boot.vspace, va + LARGE, RW, ATTR), AlignmentError);
    // Mapped already: another (aligned) address is refused.
    check_err!(
        h.map(env.boot.vspace, va + HUGE, RW, ATTR),
        InvalidArgument,
        [0]
    );
    Ok(())
}

fn huge_page_needs_slot_free(env: &mut Env) -> TestResult {
    let Some(huge) = env.huge else {
        check!(false, "no RAM untyped of 1 GiB: boot with -m 2G");
        return Ok(());
    };
    let va = env.va();
    let pt = env.page_table()?;
    check_ok!(pt.map(env.boot.vspace, va, ATTR));
    let h: Cap<Frame> = env.alloc_from(huge, ObjectType::HugePage, 0)?;
    // A level-2 table occupies the 1 GiB slot: the walk goes past it.
    check_err!(
        h.map(env.boot.vspace, va, RW, ATTR),
        FailedLookup,
        [0, 2, 21]
    );
    Ok(())
}

fn remap_rules(env: &mut Env) -> TestResult {
    let va = env.va();
    let f = env.mapped_frame(va)?;
    check_err!(
        f.map(env.boot.vspace, va + PAGE, RW, ATTR),
        InvalidArgument,
        [0]
    );
    check_ok!(f.map(env.boot.vspace, va, CapRights::READ, ATTR));
    check_eq!(peek(va), 0);
    let vs = env.vspace()?;
    check_err!(f.map(vs, va, RW, ATTR), InvalidCapability, [1]);
    Ok(())
}

fn map_unassigned_vspace(env: &mut Env) -> TestResult {
    let vs: Cap<VSpace> = env.alloc(ObjectType::VSpace, 0)?;
    let f = env.frame()?;
    check_err!(f.map(vs, env.va(), RW, ATTR), InvalidCapability, [1]);
    let pt = env.page_table()?;
    check_err!(pt.map(vs, env.va(), ATTR), InvalidCapability, [1]);
    Ok(())
}

fn map_above_user_top(env: &mut Env) -> TestResult {
    let f = env.frame()?;
    check_err!(
        f.map(env.boot.vspace, USER_TOP + 1, RW, ATTR),
        InvalidArgument,
        [0]
    );
    check_err!(
        f.map(env.boot.vspace, !(PAGE - 1), RW, ATTR),
        InvalidArgument,
        [0]
    );
    let pt = env.page_table()?;
    check_err!(
        pt.map(env.boot.vspace, USER_TOP + 1, ATTR),
        InvalidArgument,
        [0]
    );
    Ok(())
}

fn map_into_non_vspace(env: &mut Env) -> TestResult {
    let f = env.frame()?;
    let pt = env.page_table()?;
    let ep = env.endpoint()?;
    check_err!(f.map(pt.cast(), env.va(), RW, ATTR), InvalidCapability, [1]);
    check_err!(f.map(ep.cast(), env.va(), RW, ATTR), InvalidCapability, [1]);
    check_err!(pt.map(ep.cast(), env.va(), ATTR), InvalidCapability, [1]);
    Ok(())
}

fn map_truncated(env: &mut Env) -> TestResult {
    let f = env.frame()?;
    let vs = env.boot.vspace.cptr();
    check_err!(
        ipc::invoke(f.cptr(), L::ArmPageMap, &[env.va(), 3], &[vs]),
        TruncatedMessage
    );
    check_err!(
        ipc::invoke(f.cptr(), L::ArmPageMap, &[env.va(), 3, ATTR], &[]),
        TruncatedMessage
    );
    let pt = env.page_table()?;
    check_err!(
        ipc::invoke(pt.cptr(), L::ArmPageTableMap, &[env.va()], &[vs]),
        TruncatedMessage
    );
    check_err!(
        ipc::invoke(pt.cptr(), L::ArmPageTableMap, &[env.va(), ATTR], &[]),
        TruncatedMessage
    );
    Ok(())
}

fn page_table_map_twice(env: &mut Env) -> TestResult {
    let pt = env.page_table()?;
    check_ok!(pt.map(env.boot.vspace, env.va(), ATTR));
    check_err!(
        pt.map(env.boot.vspace, env.va() + HUGE / 2, ATTR),
        InvalidCapability,
        [0]
    );
    Ok(())
}

fn page_table_map_all_present(env: &mut Env) -> TestResult {
    let va = env.va();
    env.mapped_frame(va)?;
    let pt = env.page_table()?;
    check_err!(pt.map(env.boot.vspace, va + PAGE, ATTR), DeleteFirst);
    Ok(())
}

fn page_table_map_over_block(env: &mut Env) -> TestResult {
    let va = env.va();
    let l: Cap<Frame> = env.alloc(ObjectType::LargePage, 0)?;
    env.map(l, va, RW, ATTR)?;
    let pt = env.page_table()?;
    check_err!(pt.map(env.boot.vspace, va, ATTR), DeleteFirst);
    Ok(())
}

fn page_table_unmap(env: &mut Env) -> TestResult {
    let va = env.va();
    let l2 = env.page_table()?;
    let l3 = env.page_table()?;
    check_ok!(l2.map(env.boot.vspace, va, ATTR));
    check_ok!(l3.map(env.boot.vspace, va, ATTR));
    let f = env.frame()?;
    check_ok!(f.map(env.boot.vspace, va, RW, ATTR));
    check_ok!(l3.unmap());
    let f2 = env.frame()?;
    check_err!(
        f2.map(env.boot.vspace, va + PAGE, RW, ATTR),
        FailedLookup,
        [0, 2, 21]
    );
    // Mapped again (at another address of the window) it is empty.
    check_ok!(l3.map(env.boot.vspace, va + LARGE, ATTR));
    check_ok!(f2.map(env.boot.vspace, va + LARGE + PAGE, RW, ATTR));
    Ok(())
}

fn delete_page_table_unmaps(env: &mut Env) -> TestResult {
    let va = env.va();
    let l2 = env.page_table()?;
    let l3 = env.page_table()?;
    check_ok!(l2.map(env.boot.vspace, va, ATTR));
    check_ok!(l3.map(env.boot.vspace, va, ATTR));
    check_ok!(env.root().delete(l3.cptr(), 64));
    // The level-3 table is gone from the walk.
    let f = env.frame()?;
    check_err!(
        f.map(env.boot.vspace, va + PAGE, RW, ATTR),
        FailedLookup,
        [0, 2, 21]
    );
    Ok(())
}

fn page_table_unmap_not_final(env: &mut Env) -> TestResult {
    let pt = env.page_table()?;
    check_ok!(pt.map(env.boot.vspace, env.va(), ATTR));
    let _copy = env.copy(pt, CapRights::ALL)?;
    check_err!(pt.unmap(), RevokeFirst);
    Ok(())
}

fn page_unmap(env: &mut Env) -> TestResult {
    let va = env.va();
    let f = env.frame()?;
    check_ok!(f.unmap());
    env.map(f, va, RW, ATTR)?;
    check_ok!(f.unmap());
    check_ok!(f.unmap());
    // Unmapped, the cap can go to another address.
    check_ok!(f.map(env.boot.vspace, va + PAGE, RW, ATTR));
    Ok(())
}

fn expect_data_fault(env: &mut Env, entry: fn(Word), addr: Word, write: bool) -> TestResult {
    let (_t, ep) = env.faulter(entry, addr, 150)?;
    check_eq!(shared(1), 0);
    let m = ep.recv();
    check_eq!(m.label(), FaultType::VmFault.word());
    check_eq!(m.mr(1), addr);
    check_eq!(exception_class(m.mr(3)), EC_DABT_LOWER);
    check_eq!(m.mr(3) & (1 << 6) != 0, write);
    Ok(())
}

fn unmap_flushes_tlb(env: &mut Env) -> TestResult {
    let va = env.va();
    let f = env.mapped_frame(va)?;
    poke(va, 1); // the translation is now in the TLB
    check_ok!(f.unmap());
    expect_data_fault(env, read_addr, va, false)
}

fn delete_frame_unmaps(env: &mut Env) -> TestResult {
    let va = env.va();
    let f = env.mapped_frame(va)?;
    poke(va, 1);
    check_ok!(env.root().delete(f.cptr(), 64));
    expect_data_fault(env, read_addr, va, false)
}

fn remap_read_only_flushes_tlb(env: &mut Env) -> TestResult {
    let va = env.va();
    let f = env.mapped_frame(va)?;
    poke(va + 8, 1);
    check_ok!(f.map(env.boot.vspace, va, CapRights::READ, ATTR));
    check_eq!(peek(va + 8), 1);
    expect_data_fault(env, write_addr, va + 8, true)
}

fn read_only_cap_maps_read_only(env: &mut Env) -> TestResult {
    let va = env.va();
    let f = env.frame()?;
    let ro = env.copy(f, CapRights::READ)?;
    env.map(ro, va, RW, ATTR)?;
    check_eq!(peek(va), 0);
    expect_data_fault(env, write_addr, va, true)
}

fn kernel_only_mapping(env: &mut Env) -> TestResult {
    let va = env.va();
    let f = env.frame()?;
    env.map(f, va, CapRights::WRITE, ATTR)?;
    expect_data_fault(env, read_addr, va, false)
}

fn get_address(env: &mut Env) -> TestResult {
    let f = env.frame()?;
    let c = env.copy(f, CapRights::ALL)?;
    let pa = check_ok!(f.get_address());
    check_eq!(pa % PAGE, 0);
    check_eq!(check_ok!(c.get_address()), pa);
    let g = env.frame()?;
    check!(check_ok!(g.get_address()) != pa);
    Ok(())
}

fn page_cache_ops(env: &mut Env) -> TestResult {
    let f = env.mapped_frame(env.va())?;
    check_ok!(f.clean_data(0, PAGE));
    check_ok!(f.invalidate_data(0, 64));
    check_ok!(f.clean_invalidate_data(64, 128));
    check_ok!(f.unify_instruction(0, PAGE));
    Ok(())
}

fn page_cache_ops_unmapped(env: &mut Env) -> TestResult {
    let f = env.frame()?;
    check_err!(f.clean_data(0, PAGE), IllegalOperation);
    check_err!(f.invalidate_data(0, PAGE), IllegalOperation);
    check_err!(f.clean_invalidate_data(0, PAGE), IllegalOperation);
    check_err!(f.unify_instruction(0, PAGE), IllegalOperation);
    Ok(())
}

fn page_cache_ranges(env: &mut Env) -> TestResult {
    let f = env.mapped_frame(env.va())?;
    check_err!(f.clean_data(8, 8), InvalidArgument, [1]);
    check_err!(f.clean_data(16, 8), InvalidArgument, [1]);
    check_err!(f.clean_data(0, PAGE + 1), InvalidArgument, [0]);
    check_err!(f.unify_instruction(PAGE, PAGE + 8), InvalidArgument, [0]);
    check_err!(
        ipc::invoke(f.cptr(), L::ArmPageCleanData, &[0], &[]),
        TruncatedMessage
    );
    Ok(())
}

fn page_invalidate_read_only(env: &mut Env) -> TestResult {
    let va = env.va();
    let f = env.frame()?;
    env.map(f, va, CapRights::READ, ATTR)?;
    check_err!(f.invalidate_data(0, PAGE), IllegalOperation);
    check_ok!(f.clean_data(0, PAGE));
    Ok(())
}

fn vspace_cache_ops(env: &mut Env) -> TestResult {
    let va = env.va();
    env.mapped_frame(va)?;
    let vs = env.boot.vspace;
    check_ok!(vs.clean_data(va, va + PAGE));
    check_ok!(vs.invalidate_data(va + 64, va + 128));
    check_ok!(vs.clean_invalidate_data(va, va + 8));
    check_ok!(vs.unify_instruction(va, va + PAGE));
    // Nothing mapped at the start: nothing to do, success.
    check_ok!(vs.clean_data(va + LARGE, va + LARGE + PAGE));
    Ok(())
}

fn vspace_cache_ranges(env: &mut Env) -> TestResult {
    let va = env.va();
    env.mapped_frame(va)?;
    let vs = env.boot.vspace;
    check_err!(vs.clean_data(va + 8, va + 8), InvalidArgument, [1]);
    check_err!(vs.clean_data(va, USER_TOP + 2), IllegalOperation);
    check_err!(
        vs.clean_data(va + 0x800, va + PAGE + 0x800),
        RangeError,
        [va + 0x800, va + PAGE - 1]
    );
    check_err!(
        ipc::invoke(vs.cptr(), L::ArmVSpaceCleanData, &[va], &[]),
        TruncatedMessage
    );
    Ok(())
}

fn vspace_invalidate_read_only(env: &mut Env) -> TestResult {
    let va = env.va();
    let f = env.frame()?;
    env.map(f, va, CapRights::READ, ATTR)?;
    check_err!(
        env.boot.vspace.invalidate_data(va, va + PAGE),
        IllegalOperation
    );
    check_ok!(env.boot.vspace.clean_data(va, va + PAGE));
    Ok(())
}

fn vspace_cache_unassigned(env: &mut Env) -> TestResult {
    let vs: Cap<VSpace> = env.alloc(ObjectType::VSpace, 0)?;
    check_err!(vs.clean_data(0x1000, 0x2000), InvalidCapability, [0]);
    Ok(())
}

fn asid_pool_make_and_assign(env: &mut Env) -> TestResult {
    let ut = env.untyped(12)?;
    let slot = env.slot();
    check_ok!(env.boot.asid_control.make_pool(ut, env.root(), slot, 64));
    check_eq!(
        Cap::<Unknown>::from_cptr(slot).identify(),
        CapTag::AsidPool.word()
    );
    let pool: Cap<AsidPool> = Cap::from_cptr(slot);
    let vs: Cap<VSpace> = env.alloc(ObjectType::VSpace, 0)?;
    check_ok!(pool.assign(vs));
    check_err!(pool.assign(vs), InvalidCapability, [1]);
    let ep = env.endpoint()?;
    check_err!(pool.assign(ep.cast()), InvalidCapability, [1]);
    check_err!(
        ipc::invoke(pool.cptr(), L::ArmAsidPoolAssign, &[], &[]),
        TruncatedMessage
    );
    // The assigned VSpace takes mappings.
    let f = env.frame()?;
    check_err!(f.map(vs, env.va(), RW, ATTR), FailedLookup, [0, 2, 39]);
    Ok(())
}

fn asid_make_pool_errors(env: &mut Env) -> TestResult {
    let ctl = env.boot.asid_control;
    let big = env.untyped(13)?;
    let slot = env.slot();
    check_err!(
        ctl.make_pool(big, env.root(), slot, 64),
        InvalidCapability,
        [1]
    );
    let ep = env.endpoint()?;
    check_err!(
        ctl.make_pool(ep.cast(), env.root(), slot, 64),
        InvalidCapability,
        [1]
    );
    let busy = env.untyped(12)?;
    let _child: Cap<Endpoint> = env.alloc_from(busy, ObjectType::Endpoint, 0)?;
    check_err!(ctl.make_pool(busy, env.root(), slot, 64), RevokeFirst);
    let ok = env.untyped(12)?;
    check_err!(ctl.make_pool(ok, env.root(), ep.cptr(), 64), DeleteFirst);
    check_err!(ctl.make_pool(ok, env.root(), slot, 0), RangeError, [1, 64]);
    check_err!(
        ipc::invoke(
            ctl.cptr(),
            L::ArmAsidControlMakePool,
            &[slot, 64],
            &[ok.cptr()]
        ),
        TruncatedMessage
    );
    check_err!(
        ipc::invoke(
            ctl.cptr(),
            L::ArmAsidControlMakePool,
            &[slot],
            &[ok.cptr(), env.root().cptr()]
        ),
        TruncatedMessage
    );
    check_ok!(ctl.make_pool(ok, env.root(), slot, 64));
    Ok(())
}

fn asid_pool_deleted_invalidates(env: &mut Env) -> TestResult {
    let ut = env.untyped(12)?;
    let slot = env.slot();
    check_ok!(env.boot.asid_control.make_pool(ut, env.root(), slot, 64));
    let pool: Cap<AsidPool> = Cap::from_cptr(slot);
    let vs: Cap<VSpace> = env.alloc(ObjectType::VSpace, 0)?;
    check_ok!(pool.assign(vs));
    check_ok!(env.root().delete(slot, 64));
    let f = env.frame()?;
    check_err!(f.map(vs, env.va(), RW, ATTR), FailedLookup, [0, 1]);
    Ok(())
}

/// `mov x0, #42; ret`.
const CODE: [u32; 2] = [0xd280_0540, 0xd65f_03c0];

fn write_code(va: Word) {
    poke(va, Word::from(CODE[0]) | (Word::from(CODE[1]) << 32));
}

fn execute_after_unify(env: &mut Env) -> TestResult {
    let va = env.va();
    let f = env.mapped_frame(va)?;
    write_code(va);
    check_ok!(f.unify_instruction(0, 8));
    // SAFETY: the page holds `mov x0, #42; ret`, made visible to
    // instruction fetch by Unify_Instruction, and is mapped executable.
    let code = unsafe { core::mem::transmute::<usize, extern "C" fn() -> Word>(va as usize) };
    check_eq!(code(), 42);
    Ok(())
}

fn execute_never(env: &mut Env) -> TestResult {
    let va = env.va();
    let f = env.mapped_frame(va)?;
    write_code(va);
    check_ok!(f.unify_instruction(0, 8));
    let xn = env.copy(f, CapRights::ALL)?;
    check_ok!(xn.map(env.boot.vspace, va + PAGE, RW, ATTR | EXECUTE_NEVER));
    let (_t, ep) = env.faulter(jump_to, va + PAGE, 150)?;
    let m = ep.recv();
    check_eq!(m.label(), FaultType::VmFault.word());
    check_eq!([m.mr(0), m.mr(1), m.mr(2)], [va + PAGE, va + PAGE, 1]);
    check_eq!(exception_class(m.mr(3)), EC_IABT_LOWER);
    Ok(())
}

fn frame_wrong_label(env: &mut Env) -> TestResult {
    let f = env.frame()?;
    check_err!(
        ipc::invoke(
            f.cptr(),
            L::ArmPageTableMap,
            &[env.va(), ATTR],
            &[env.boot.vspace.cptr()]
        ),
        IllegalOperation
    );
    let pt = env.page_table()?;
    check_err!(
        ipc::invoke(
            pt.cptr(),
            L::ArmPageMap,
            &[env.va(), 3, ATTR],
            &[env.boot.vspace.cptr()]
        ),
        IllegalOperation
    );
    check_err!(
        ipc::invoke(env.boot.vspace.cptr(), L::ArmPageGetAddress, &[], &[]),
        IllegalOperation
    );
    Ok(())
}

fn vspace_of_a_thread(env: &mut Env) -> TestResult {
    // A frame mapped only in the root VSpace is what a thread of the root
    // VSpace sees: a second mapping of the same frame, written by the
    // thread, shows at the driver's address.
    let va = env.va();
    let f = env.mapped_frame(va)?;
    let f2 = env.copy(f, CapRights::ALL)?;
    check_ok!(f2.map(env.boot.vspace, va + 4 * PAGE, RW, ATTR));
    env.spawn(write_addr, va + 4 * PAGE + 16, 150)?;
    check_eq!(peek(va + 16), 0x5a5a);
    Ok(())
}

fn asid_pool_full(env: &mut Env) -> TestResult {
    // A new pool holds 512 ASIDs; the next Assign finds none free.
    let ut = env.untyped(12)?;
    let slot = env.slot();
    check_ok!(env.boot.asid_control.make_pool(ut, env.root(), slot, 64));
    let pool: Cap<AsidPool> = Cap::from_cptr(slot);
    let n = cerne_abi::vm::ASID_POOL_SIZE as Word;
    let first = env.slots(n + 1);
    for chunk in (0..n + 1).step_by(256) {
        let count = (n + 1 - chunk).min(256);
        check_ok!(env.pool.retype(
            ObjectType::VSpace,
            0,
            env.root(),
            0,
            0,
            first + chunk,
            count
        ));
    }
    for i in 0..n {
        check_ok!(pool.assign(Cap::from_cptr(first + i)));
    }
    check_err!(pool.assign(Cap::from_cptr(first + n)), DeleteFirst);
    Ok(())
}

fn asid_control_exhausted(env: &mut Env) -> TestResult {
    // 128 pools in all: make pools until MakePool says DeleteFirst, then
    // deleting one frees its index.
    let mut made = Vec64::new();
    loop {
        let ut = env.untyped(12)?;
        let slot = env.slot();
        match env.boot.asid_control.make_pool(ut, env.root(), slot, 64) {
            Ok(()) => made.push(slot),
            Err(e) => {
                check!(
                    e.is(cerne_abi::error::Error::DeleteFirst, &[]),
                    "MakePool: {e:?}"
                );
                break;
            }
        }
        check!(
            made.len() < cerne_abi::vm::NUM_ASID_POOLS,
            "more than 128 pools"
        );
    }
    check!(!made.is_empty());
    check_ok!(env.root().delete(made.last(), 64));
    let ut = env.untyped(12)?;
    check_ok!(env
        .boot
        .asid_control
        .make_pool(ut, env.root(), made.last(), 64));
    Ok(())
}

/// A small fixed-capacity list of slots.
struct Vec64 {
    items: [Word; 128],
    len: usize,
}

impl Vec64 {
    fn new() -> Self {
        Self {
            items: [0; 128],
            len: 0,
        }
    }
    fn push(&mut self, v: Word) {
        self.items[self.len] = v;
        self.len += 1;
    }
    fn len(&self) -> usize {
        self.len
    }
    fn is_empty(&self) -> bool {
        self.len == 0
    }
    fn last(&self) -> Word {
        self.items[self.len - 1]
    }
}

fn frame_copy_maps_separately(env: &mut Env) -> TestResult {
    // A copy of a mapped frame cap starts unmapped; unmapping the copy
    // leaves the original's mapping alone.
    let va = env.va();
    let f = env.mapped_frame(va)?;
    let c = env.copy(f, CapRights::ALL)?;
    check_err!(c.clean_data(0, PAGE), IllegalOperation);
    check_ok!(c.map(env.boot.vspace, va + PAGE, RW, ATTR));
    check_ok!(c.unmap());
    poke(va, 5);
    check_eq!(peek(va), 5);
    Ok(())
}

fn frame_unmap_after_table_gone(env: &mut Env) -> TestResult {
    // The table under a mapped frame is unmapped; the frame cap's own Unmap
    // still succeeds and the frame maps elsewhere.
    let va = env.va();
    let l2 = env.page_table()?;
    let l3 = env.page_table()?;
    check_ok!(l2.map(env.boot.vspace, va, ATTR));
    check_ok!(l3.map(env.boot.vspace, va, ATTR));
    let f = env.frame()?;
    check_ok!(f.map(env.boot.vspace, va, RW, ATTR));
    check_ok!(l3.unmap());
    check_ok!(f.unmap());
    let l3b = env.page_table()?;
    check_ok!(l3b.map(env.boot.vspace, va + LARGE, ATTR));
    check_ok!(f.map(env.boot.vspace, va + LARGE, RW, ATTR));
    poke(va + LARGE, 8);
    check_eq!(peek(va + LARGE), 8);
    Ok(())
}

/// A thread like `env.faulter`'s, running in `vs`.
fn faulter_in(
    env: &mut Env,
    vs: Cap<VSpace>,
    entry: fn(Word),
    arg: Word,
) -> core::result::Result<(crate::threads::Thread, Cap<Endpoint>), Fail> {
    let ep = env.endpoint()?;
    let t = env.thread(entry, arg, 150, ep.cptr())?;
    check_ok!(t.tcb.set_space(ep.cptr(), env.root(), 0, vs, 0));
    check_ok!(t.tcb.resume());
    Ok((t, ep))
}

fn address_spaces_are_separate(env: &mut Env) -> TestResult {
    // One vaddr, two VSpaces, two frames: each thread sees its own, even
    // with the driver's translation already in the TLB.
    let va = env.va();
    env.mapped_frame(va)?;
    poke(va, 0x1111);
    let vs = env.image_vspace()?;
    let f = env.frame()?;
    env.map_in(vs, f, va, RW, ATTR)?;
    let shadow = env.copy(f, CapRights::ALL)?;
    env.map(shadow, va + PAGE, RW, ATTR)?;
    poke(va + PAGE, 0x2222);
    faulter_in(env, vs, read_addr, va)?;
    check_eq!(shared(1), 1);
    check_eq!(shared(0), 0x2222);
    check_eq!(peek(va), 0x1111);
    Ok(())
}

fn other_vspace_lacks_root_mappings(env: &mut Env) -> TestResult {
    let va = env.va();
    env.mapped_frame(va)?;
    let vs = env.image_vspace()?;
    let (_t, ep) = faulter_in(env, vs, read_addr, va)?;
    let m = ep.recv();
    check_eq!(m.label(), FaultType::VmFault.word());
    check_eq!(m.mr(1), va);
    Ok(())
}

fn thread_writes_through_its_vspace(env: &mut Env) -> TestResult {
    let va = env.va();
    let vs = env.image_vspace()?;
    let f = env.frame()?;
    env.map_in(vs, f, va + 3 * PAGE, RW, ATTR)?;
    faulter_in(env, vs, write_addr, va + 3 * PAGE + 24)?;
    check_eq!(shared(1), 1);
    let view = env.copy(f, CapRights::ALL)?;
    env.map(view, va, RW, ATTR)?;
    check_eq!(peek(va + 24), 0x5a5a);
    Ok(())
}

fn deleting_vspace_stops_its_thread(env: &mut Env) -> TestResult {
    // With every cap to its VSpace gone (so its ASID too) the thread runs in
    // an empty address space: its next instruction fetch is a VMFault.
    let vs = env.image_vspace()?;
    let ep = env.endpoint()?;
    let n = env.notification()?;
    set_shared(10, n.cptr());
    let t = env.thread(
        |_| {
            Cap::<Notification>::from_cptr(shared(10)).wait();
            set_shared(1, 1);
        },
        0,
        150,
        ep.cptr(),
    )?;
    check_ok!(t.tcb.set_space(ep.cptr(), env.root(), 0, vs, 0));
    check_ok!(t.tcb.resume());
    // The TCB holds a copy of the VSpace cap (a child of ours): deleting ours
    // alone would not be the last; revoke first.
    check_ok!(env.root().revoke(vs.cptr(), 64));
    check_ok!(env.root().delete(vs.cptr(), 64));
    n.signal();
    // It runs at once (above the driver): it must have faulted, not run on.
    check!(shared(1) == 0, "the thread ran on in its old address space");
    let m = ep.recv();
    check_eq!(m.label(), FaultType::VmFault.word());
    check_eq!(m.mr(2), 1);
    Ok(())
}

fn long_message_between_vspaces(env: &mut Env) -> TestResult {
    // 120 words from a thread of another VSpace: the kernel copies between
    // IPC buffers that live in different address spaces.
    let vs = env.image_vspace()?;
    let ep = env.endpoint()?;
    set_shared(10, ep.cptr());
    faulter_in(
        env,
        vs,
        |_| {
            let words: [Word; 120] = core::array::from_fn(|i| 0x7000 + i as Word);
            let r = ipc::call(shared(10), 3, &words, &[]);
            set_shared(0, r.mr(119));
            set_shared(1, 1);
        },
        0,
    )?;
    let m = ep.recv();
    check_eq!((m.label(), m.len()), (3, 120));
    check!((0..120).all(|i| m.mr(i) == 0x7000 + i as Word));
    let back: [Word; 120] = core::array::from_fn(|i| i as Word);
    ipc::reply(0, &back, &[]);
    check_eq!(shared(1), 1);
    check_eq!(shared(0), 119);
    Ok(())
}

fn deleting_asid_pool_stops_its_threads(env: &mut Env) -> TestResult {
    let ut = env.untyped(12)?;
    let slot = env.slot();
    check_ok!(env.boot.asid_control.make_pool(ut, env.root(), slot, 64));
    let vs = env.image_vspace_in(Cap::from_cptr(slot))?;
    let ep = env.endpoint()?;
    let n = env.notification()?;
    set_shared(10, n.cptr());
    let t = env.thread(
        |_| {
            Cap::<Notification>::from_cptr(shared(10)).wait();
            set_shared(1, 1);
        },
        0,
        150,
        ep.cptr(),
    )?;
    check_ok!(t.tcb.set_space(ep.cptr(), env.root(), 0, vs, 0));
    check_ok!(t.tcb.resume());
    check_ok!(env.root().delete(slot, 64));
    n.signal();
    // It runs at once (above the driver): it must have faulted, not run on.
    check!(shared(1) == 0, "the thread ran on in its old address space");
    let m = ep.recv();
    check_eq!(m.label(), FaultType::VmFault.word());
    check_eq!(m.mr(2), 1);
    Ok(())
}

fn frame_of_deleted_vspace(env: &mut Env) -> TestResult {
    // The frame cap still records a mapping in a VSpace that is gone: cache
    // operations find no VSpace for the ASID; Unmap clears the record.
    let va = env.va();
    let vs = env.vspace()?;
    let f = env.frame()?;
    env.map_in(vs, f, va, RW, ATTR)?;
    check_ok!(env.root().delete(vs.cptr(), 64));
    check_err!(f.clean_data(0, PAGE), FailedLookup, [0, 1]);
    check_ok!(f.unmap());
    check_err!(f.clean_data(0, PAGE), IllegalOperation);
    // Unmapped now, it maps anywhere.
    env.map(f, va, RW, ATTR)?;
    poke(va, 3);
    check_eq!(peek(va), 3);
    Ok(())
}

fn vspace_of_deleted_pool(env: &mut Env) -> TestResult {
    // Its ASID gone with the pool, the VSpace cap finds no VSpace: every
    // invocation that needs one says FailedLookup.
    let ut = env.untyped(12)?;
    let slot = env.slot();
    check_ok!(env.boot.asid_control.make_pool(ut, env.root(), slot, 64));
    let vs: Cap<VSpace> = env.alloc(ObjectType::VSpace, 0)?;
    check_ok!(Cap::<AsidPool>::from_cptr(slot).assign(vs));
    check_ok!(env.root().delete(slot, 64));
    check_err!(vs.clean_data(0x1000, 0x2000), FailedLookup, [0, 1]);
    let pt = env.page_table()?;
    check_err!(pt.map(vs, env.va(), ATTR), FailedLookup, [0, 1]);
    Ok(())
}

/// Reads `addr` (its translation is now in the TLB), deletes (shared 12
/// = 1) or revokes (0) root-CNode slot shared(11) through the root CNode
/// cap shared(10), then reads `addr` again, which must fault: shared 0 =
/// the first value, 2 = 1 if the operation succeeded, 3 = the second.
fn read_unmap_read(addr: Word) {
    set_shared(0, peek(addr));
    let root = Cap::<CNode>::from_cptr(shared(10));
    let r = if shared(12) == 1 {
        root.delete(shared(11), 64)
    } else {
        root.revoke(shared(11), 64)
    };
    set_shared(2, if r.is_ok() { 1 } else { 2 });
    set_shared(3, peek(addr));
    set_shared(1, 1);
}

/// One operation unmaps copies of one frame from `va` of two VSpaces: A
/// (ASID a, where the thread doing it runs) and B (ASID b), A's first. The
/// thread's next read of `va` must fault: the kernel invalidates every
/// ASID it unmapped from, not only the last one. (The thread itself does
/// the operation, so no switch of TTBR0's ASID — which QEMU answers with a
/// full TLB flush — comes between its two reads.)
fn unmap_in_two_asids(env: &mut Env, delete_cnode: bool) -> TestResult {
    const MARK: Word = 0x0a5e_0a5e;
    let va = env.va();
    let f = env.frame()?;
    env.map(f, va + PAGE, RW, ATTR)?;
    poke(va + PAGE, MARK);
    let vs_b = env.vspace()?;
    let vs_a = env.image_vspace()?;
    // B's copy first: the newest child comes first in the derivation
    // list, so a Revoke of `f` unmaps A's copy, then B's.
    let c_b = env.copy(f, CapRights::ALL)?;
    env.map_in(vs_b, c_b, va, RW, ATTR)?;
    let c_a = env.copy(f, CapRights::ALL)?;
    env.map_in(vs_a, c_a, va, RW, ATTR)?;
    let target = if delete_cnode {
        // A CNode holding both (A's in the higher slot, which its deletion
        // empties first), deleted with its only cap.
        let cn = env.cnode(1)?;
        check_ok!(cn.move_(0, 1, env.root(), c_b.cptr(), 64));
        check_ok!(cn.move_(1, 1, env.root(), c_a.cptr(), 64));
        cn.cptr()
    } else {
        f.cptr()
    };
    set_shared(10, env.root().cptr());
    set_shared(11, target);
    set_shared(12, Word::from(delete_cnode));
    let (_t, ep) = faulter_in(env, vs_a, read_unmap_read, va)?;
    // It runs at once (above the driver): it faulted or ran to the end.
    check_eq!(shared(0), MARK);
    check_eq!(shared(2), 1);
    check!(
        shared(1) == 0,
        "stale translation: after the unmap the thread still read {:#x} at {va:#x}",
        shared(3)
    );
    let m = ep.recv();
    check_eq!(m.label(), FaultType::VmFault.word());
    check_eq!(m.mr(1), va);
    check_eq!(exception_class(m.mr(3)), EC_DABT_LOWER);
    // B's mapping went too: its copy is gone, or unmapped in the CNode.
    if !delete_cnode {
        check_eq!(
            Cap::<Unknown>::from_cptr(c_b.cptr()).identify(),
            CapTag::Null.word()
        );
    }
    Ok(())
}

fn revoke_in_two_asids_flushes_both(env: &mut Env) -> TestResult {
    unmap_in_two_asids(env, false)
}

fn delete_in_two_asids_flushes_both(env: &mut Env) -> TestResult {
    unmap_in_two_asids(env, true)
}

fn large_page_cache_ranges(env: &mut Env) -> TestResult {
    let va = env.va();
    let l: Cap<Frame> = env.alloc(ObjectType::LargePage, 0)?;
    env.map(l, va, RW, ATTR)?;
    check_ok!(l.clean_data(0, LARGE));
    check_ok!(l.clean_invalidate_data(LARGE - 64, LARGE));
    check_err!(l.clean_data(0, LARGE + 1), InvalidArgument, [0]);
    let vs = env.boot.vspace;
    check_ok!(vs.clean_data(va + PAGE, va + 2 * PAGE));
    // The containing mapping is the 2 MiB block: crossing its end fails.
    check_err!(
        vs.clean_data(va + LARGE - 8, va + LARGE + 8),
        RangeError,
        [va + LARGE - 8, va + LARGE - 1]
    );
    Ok(())
}

fn remap_uncached(env: &mut Env) -> TestResult {
    // Same frame, same address, new attributes: still the same memory.
    let va = env.va();
    let f = env.mapped_frame(va)?;
    poke(va, 0x44);
    check_ok!(f.clean_data(0, PAGE));
    check_ok!(f.map(env.boot.vspace, va, RW, 0));
    check_eq!(peek(va), 0x44);
    check_ok!(f.map(env.boot.vspace, va, RW, ATTR));
    check_eq!(peek(va), 0x44);
    Ok(())
}

fn map_over_existing_mapping(env: &mut Env) -> TestResult {
    // Mapping another frame where one is mapped replaces it (and the TLB
    // forgets the old one).
    let va = env.va();
    env.mapped_frame(va)?;
    poke(va, 0xaaaa);
    let b = env.frame()?;
    let view = env.copy(b, CapRights::ALL)?;
    env.map(view, va + PAGE, RW, ATTR)?;
    poke(va + PAGE, 0xbbbb);
    check_ok!(b.map(env.boot.vspace, va, RW, ATTR));
    check_eq!(peek(va), 0xbbbb);
    Ok(())
}

tests![
    map_small_frame,
    one_frame_two_mappings,
    map_unaligned,
    map_walk_levels_fresh_vspace,
    map_walk_root_vspace,
    large_page,
    huge_page,
    huge_page_needs_slot_free,
    remap_rules,
    map_unassigned_vspace,
    map_above_user_top,
    map_into_non_vspace,
    map_truncated,
    page_table_map_twice,
    page_table_map_all_present,
    page_table_map_over_block,
    page_table_unmap,
    delete_page_table_unmaps,
    page_table_unmap_not_final,
    page_unmap,
    unmap_flushes_tlb,
    delete_frame_unmaps,
    remap_read_only_flushes_tlb,
    read_only_cap_maps_read_only,
    kernel_only_mapping,
    get_address,
    page_cache_ops,
    page_cache_ops_unmapped,
    page_cache_ranges,
    page_invalidate_read_only,
    vspace_cache_ops,
    vspace_cache_ranges,
    vspace_invalidate_read_only,
    vspace_cache_unassigned,
    asid_pool_make_and_assign,
    asid_make_pool_errors,
    asid_pool_deleted_invalidates,
    execute_after_unify,
    execute_never,
    frame_wrong_label,
    vspace_of_a_thread,
    asid_pool_full,
    asid_control_exhausted,
    frame_copy_maps_separately,
    frame_unmap_after_table_gone,
    address_spaces_are_separate,
    other_vspace_lacks_root_mappings,
    thread_writes_through_its_vspace,
    deleting_vspace_stops_its_thread,
    long_message_between_vspaces,
    deleting_asid_pool_stops_its_threads,
    frame_of_deleted_vspace,
    vspace_of_deleted_pool,
    large_page_cache_ranges,
    remap_uncached,
    map_over_existing_mapping,
    revoke_in_two_asids_flushes_both,
    delete_in_two_asids_flushes_both,
];
