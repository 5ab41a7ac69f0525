//! TCB invocations (docs/sel4-abi.md §5.4, §7.4): configuration, registers,
//! priorities and MCP, IPC buffer, notification binding, TLS and flags.

use super::fault::insn_at;
use crate::framework::*;
use crate::{check, check_eq, check_err, check_ok, tests};
use cerne_abi::invocation::InvocationLabel as L;
use cerne_abi::object::{CapTag, ObjectType};
use cerne_abi::rights::CapRights;
use cerne_abi::Word;
use libcerne::sel4::*;

fn set_word(v: Word) {
    set_shared(0, v);
}

fn configure_and_resume_runs(env: &mut Env) -> TestResult {
    env.spawn(set_word, 0xabc, 150)?;
    check_eq!(shared(0), 0xabc);
    Ok(())
}

fn new_thread_stays_inactive(env: &mut Env) -> TestResult {
    let t = env.thread(set_word, 5, 150, 0)?;
    libcerne::sel4::syscall::yield_now();
    check_eq!(shared(0), 0);
    check_ok!(t.tcb.resume());
    check_eq!(shared(0), 5);
    Ok(())
}

/// Counts messages on the endpoint `ep`.
fn counting_receiver(ep: Word) {
    loop {
        Cap::<Endpoint>::from_cptr(ep).recv();
        add_shared(0, 1);
    }
}

fn suspend_blocked_thread(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let t = env.spawn(counting_receiver, ep.cptr(), 150)?;
    ep.send(0, &[], &[]);
    check_eq!(shared(0), 1);
    check_ok!(t.tcb.suspend());
    // The suspended thread no longer waits: the NBSend finds nobody.
    ep.nb_send(0, &[], &[]);
    check_eq!(shared(0), 1);
    check_ok!(t.tcb.resume());
    ep.send(0, &[], &[]);
    check_eq!(shared(0), 2);
    Ok(())
}

fn resume_twice_is_harmless(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let t = env.spawn(counting_receiver, ep.cptr(), 150)?;
    check_ok!(t.tcb.resume());
    check_ok!(t.tcb.resume());
    ep.send(0, &[], &[]);
    ep.send(0, &[], &[]);
    check_eq!(shared(0), 2);
    Ok(())
}

fn read_registers_count_range(env: &mut Env) -> TestResult {
    let t = env.tcb()?;
    check_err!(t.read_registers(false, 0, 0), RangeError, [1, 36]);
    check_err!(t.read_registers(false, 0, 37), RangeError, [1, 36]);
    check_ok!(t.read_registers(false, 0, 36));
    Ok(())
}

fn read_registers_self(env: &mut Env) -> TestResult {
    check_err!(env.me.read_registers(false, 0, 4), IllegalOperation);
    Ok(())
}

fn write_registers_self(env: &mut Env) -> TestResult {
    let ctx = UserContext::default();
    check_err!(env.me.write_registers(false, 0, 36, &ctx), IllegalOperation);
    Ok(())
}

fn pattern() -> UserContext {
    let mut ctx = UserContext::default();
    for (i, w) in ctx.0.iter_mut().enumerate() {
        *w = 0x1000 + i as Word;
    }
    ctx.0[UserContext::SPSR] = 0x40;
    ctx
}

fn write_read_registers(env: &mut Env) -> TestResult {
    let t = env.tcb()?;
    let ctx = pattern();
    check_ok!(t.write_registers(false, 0, 36, &ctx));
    let back = check_ok!(t.read_registers(false, 0, 36));
    check_eq!(back, ctx);
    Ok(())
}

fn read_registers_length(env: &mut Env) -> TestResult {
    let t = env.tcb()?;
    let r = check_ok!(t.read_registers_reply(false, 5));
    check_eq!(r.len(), 5);
    let r = check_ok!(t.read_registers_reply(false, 36));
    check_eq!(r.len(), 36);
    Ok(())
}

fn write_registers_spsr_sanitised(env: &mut Env) -> TestResult {
    let t = env.tcb()?;
    let mut ctx = pattern();
    ctx.0[UserContext::SPSR] = 0xffff_ffff;
    check_ok!(t.write_registers(false, 0, 36, &ctx));
    let back = check_ok!(t.read_registers(false, 0, 3));
    check_eq!(back.0[UserContext::SPSR], 0xf000_0040);
    Ok(())
}

fn write_registers_partial(env: &mut Env) -> TestResult {
    let t = env.tcb()?;
    check_ok!(t.write_registers(false, 0, 36, &pattern()));
    let mut other = UserContext::default();
    other.0[UserContext::PC] = 0x4000;
    other.0[UserContext::SP] = 0x5000;
    other.0[UserContext::SPSR] = 0x40;
    check_ok!(t.write_registers(false, 0, 3, &other));
    let back = check_ok!(t.read_registers(false, 0, 36));
    check_eq!(back.pc(), 0x4000);
    check_eq!(back.sp(), 0x5000);
    check_eq!(back.x(0), pattern().x(0));
    check_eq!(back.0[35], pattern().0[35]);
    Ok(())
}

fn write_registers_truncated(env: &mut Env) -> TestResult {
    let t = env.tcb()?;
    check_err!(
        ipc::invoke(t.cptr(), L::TcbWriteRegisters, &[0], &[]),
        TruncatedMessage
    );
    // count 10 but only 3 register words: truncated.
    check_err!(
        ipc::invoke(t.cptr(), L::TcbWriteRegisters, &[0, 10, 1, 2, 3], &[]),
        TruncatedMessage
    );
    check_ok!(ipc::invoke(
        t.cptr(),
        L::TcbWriteRegisters,
        &[0, 3, 0x4000, 0x5000, 0x40],
        &[]
    ));
    let back = check_ok!(t.read_registers(false, 0, 2));
    check_eq!(back.pc(), 0x4000);
    Ok(())
}

fn read_registers_truncated(env: &mut Env) -> TestResult {
    let t = env.tcb()?;
    check_err!(
        ipc::invoke(t.cptr(), L::TcbReadRegisters, &[0], &[]),
        TruncatedMessage
    );
    Ok(())
}

fn read_registers_suspends(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let t = env.spawn(counting_receiver, ep.cptr(), 150)?;
    check_ok!(t.tcb.read_registers(true, 0, 1));
    ep.nb_send(0, &[], &[]);
    check_eq!(shared(0), 0);
    Ok(())
}

const SVC_0: u32 = 0xd400_0001;

fn blocked_pc_is_the_svc(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let t = env.spawn(counting_receiver, ep.cptr(), 150)?;
    let ctx = check_ok!(t.tcb.read_registers(false, 0, 36));
    let pc = ctx.pc();
    check_eq!(pc % 4, 0);
    check_eq!(insn_at(pc), SVC_0);
    check_eq!(ctx.x(7), cerne_abi::syscall::Syscall::Recv.word());
    Ok(())
}

fn copy_registers_all(env: &mut Env) -> TestResult {
    let src = env.tcb()?;
    let dst = env.tcb()?;
    check_ok!(src.write_registers(false, 0, 36, &pattern()));
    check_ok!(dst.copy_registers(src, false, false, true, true, 0));
    let back = check_ok!(dst.read_registers(false, 0, 36));
    check_eq!(back, pattern());
    Ok(())
}

fn copy_registers_frame_only(env: &mut Env) -> TestResult {
    let src = env.tcb()?;
    let dst = env.tcb()?;
    check_ok!(src.write_registers(false, 0, 36, &pattern()));
    check_ok!(dst.copy_registers(src, false, false, true, false, 0));
    let back = check_ok!(dst.read_registers(false, 0, 36));
    check_eq!(back.0[..17], pattern().0[..17]);
    check_eq!(back.0[17..34], [0; 17]);
    Ok(())
}

fn copy_registers_errors(env: &mut Env) -> TestResult {
    let dst = env.tcb()?;
    let ep = env.endpoint()?;
    check_err!(
        dst.copy_registers(ep.cast(), false, false, true, true, 0),
        InvalidCapability,
        [1]
    );
    check_err!(
        ipc::invoke(dst.cptr(), L::TcbCopyRegisters, &[0xc], &[]),
        TruncatedMessage
    );
    check_err!(
        ipc::invoke(dst.cptr(), L::TcbCopyRegisters, &[], &[dst.cptr()]),
        TruncatedMessage
    );
    Ok(())
}

fn copy_registers_resumes_target(env: &mut Env) -> TestResult {
    let src = env.thread(set_word, 0x77, 150, 0)?;
    let dst = env.thread(set_word, 0, 150, 0)?;
    // dst takes src's pc, sp and x0..x2 and is resumed: it runs set_word(0x77).
    check_ok!(dst.tcb.copy_registers(src.tcb, false, true, true, true, 0));
    check_eq!(shared(0), 0x77);
    Ok(())
}

fn set_priority_checks_mcp(env: &mut Env) -> TestResult {
    let t = env.tcb()?;
    let fresh = env.tcb()?;
    // A new TCB has MCP 0: as authority it allows priority 0 only.
    check_err!(t.set_priority(fresh, 1), RangeError, [0, 0]);
    check_ok!(t.set_priority(fresh, 0));
    check_ok!(t.set_priority(env.boot.tcb, 255));
    check_err!(t.set_priority(env.boot.tcb, 256), RangeError, [0, 255]);
    Ok(())
}

fn set_priority_authority_not_tcb(env: &mut Env) -> TestResult {
    let t = env.tcb()?;
    let ep = env.endpoint()?;
    check_err!(t.set_priority(ep.cast(), 1), InvalidCapability, [1]);
    check_err!(t.set_mc_priority(ep.cast(), 1), InvalidCapability, [1]);
    check_err!(t.set_sched_params(ep.cast(), 1, 1), InvalidCapability, [1]);
    Ok(())
}

fn set_priority_truncated(env: &mut Env) -> TestResult {
    let t = env.tcb()?;
    check_err!(
        ipc::invoke(t.cptr(), L::TcbSetPriority, &[1], &[]),
        TruncatedMessage
    );
    check_err!(
        ipc::invoke(t.cptr(), L::TcbSetPriority, &[], &[env.boot.tcb.cptr()]),
        TruncatedMessage
    );
    check_err!(
        ipc::invoke(t.cptr(), L::TcbSetSchedParams, &[1], &[env.boot.tcb.cptr()]),
        TruncatedMessage
    );
    check_err!(
        ipc::invoke(t.cptr(), L::TcbSetMcPriority, &[], &[env.boot.tcb.cptr()]),
        TruncatedMessage
    );
    Ok(())
}

fn mcp_limits_authority(env: &mut Env) -> TestResult {
    let auth = env.tcb()?;
    let t = env.tcb()?;
    check_ok!(auth.set_mc_priority(env.boot.tcb, 50));
    check_ok!(t.set_priority(auth, 50));
    check_err!(t.set_priority(auth, 51), RangeError, [0, 50]);
    check_ok!(t.set_mc_priority(auth, 50));
    check_err!(t.set_mc_priority(auth, 51), RangeError, [0, 50]);
    Ok(())
}

fn set_sched_params_checks(env: &mut Env) -> TestResult {
    let auth = env.tcb()?;
    let t = env.tcb()?;
    check_ok!(auth.set_mc_priority(env.boot.tcb, 40));
    check_err!(t.set_sched_params(auth, 41, 10), RangeError, [0, 40]);
    check_err!(t.set_sched_params(auth, 10, 41), RangeError, [0, 40]);
    check_ok!(t.set_sched_params(auth, 40, 40));
    // t's MCP is now 40: as authority it allows 40.
    check_ok!(auth.set_priority(t, 40));
    check_err!(auth.set_priority(t, 41), RangeError, [0, 40]);
    Ok(())
}

fn set_ipc_buffer_checks(env: &mut Env) -> TestResult {
    let t = env.tcb()?;
    let f = env.frame()?;
    let ep = env.endpoint()?;
    check_err!(t.set_ipc_buffer(0x1000_0008, f), AlignmentError);
    check_err!(t.set_ipc_buffer(0x1000_0000, ep.cast()), IllegalOperation);
    check_ok!(t.set_ipc_buffer(0x1000_0400, f));
    check_ok!(t.set_ipc_buffer(0, f));
    check_err!(
        ipc::invoke(t.cptr(), L::TcbSetIpcBuffer, &[0], &[]),
        TruncatedMessage
    );
    Ok(())
}

fn configure_checks(env: &mut Env) -> TestResult {
    let t = env.tcb()?;
    let f = env.frame()?;
    let ep = env.endpoint()?;
    let root = env.root();
    let vs = env.boot.vspace;
    check_err!(
        t.configure(0, root, 0, vs, 0, 0x1000_0010, f),
        AlignmentError
    );
    check_err!(
        t.configure(0, root, 0, vs, 0, 0x1000_0000, ep.cast()),
        IllegalOperation
    );
    check_err!(t.configure(0, ep.cast(), 0, vs, 0, 0, f), IllegalOperation);
    check_err!(t.configure(0, root, 0, f.cast(), 0, 0, f), IllegalOperation);
    let unassigned: Cap<VSpace> = env.alloc(ObjectType::VSpace, 0)?;
    check_err!(
        t.configure(0, root, 0, unassigned, 0, 0, f),
        IllegalOperation
    );
    check_ok!(t.configure(0, root, 0, vs, 0, 0x1000_0000, f));
    Ok(())
}

fn configure_truncated(env: &mut Env) -> TestResult {
    let t = env.tcb()?;
    let (root, vs) = (env.root().cptr(), env.boot.vspace.cptr());
    check_err!(
        ipc::invoke(t.cptr(), L::TcbConfigure, &[0, 0, 0, 0], &[root, vs]),
        TruncatedMessage
    );
    check_err!(
        ipc::invoke(t.cptr(), L::TcbConfigure, &[0, 0, 0], &[root, vs, 0]),
        TruncatedMessage
    );
    Ok(())
}

fn set_space_checks(env: &mut Env) -> TestResult {
    let t = env.tcb()?;
    let ep = env.endpoint()?;
    let root = env.root();
    check_ok!(t.set_space(ep.cptr(), root, 0, env.boot.vspace, 0));
    check_err!(
        t.set_space(0, ep.cast(), 0, env.boot.vspace, 0),
        IllegalOperation
    );
    check_err!(
        ipc::invoke(t.cptr(), L::TcbSetSpace, &[0, 0, 0], &[root.cptr()]),
        TruncatedMessage
    );
    check_err!(
        ipc::invoke(
            t.cptr(),
            L::TcbSetSpace,
            &[0, 0],
            &[root.cptr(), env.boot.vspace.cptr()]
        ),
        TruncatedMessage
    );
    Ok(())
}

/// Runs in a CSpace whose root is a 16-slot CNode with a 60-bit guard:
/// reports the type of its slot 3, then waits on its slot 5 for good.
fn foreign_cspace(_: Word) {
    set_shared(0, libcerne::sel4::syscall::debug_cap_identify(3));
    set_shared(1, 1);
    Cap::<Notification>::from_cptr(5).wait();
}

fn configure_cspace_root_data(env: &mut Env) -> TestResult {
    let cn = env.cnode(4)?;
    let ep = env.endpoint()?;
    let n = env.notification()?;
    check_ok!(cn.copy(3, 4, env.root(), ep.cptr(), 64, CapRights::ALL));
    check_ok!(cn.copy(5, 4, env.root(), n.cptr(), 64, CapRights::ALL));
    let t = env.thread(foreign_cspace, 0, 150, 0)?;
    let buf = crate::threads::ipc_buffer_addr(t.index);
    let frame = crate::threads::image_frame(env.bi, buf);
    // guard size 60 (+ radix 4 = 64 bits): cptr 3 is slot 3.
    check_ok!(t.tcb.configure(0, cn, 60, env.boot.vspace, 0, buf, frame));
    check_ok!(t.tcb.resume());
    check_eq!(shared(1), 1);
    check_eq!(shared(0), CapTag::Endpoint.word());
    Ok(())
}

fn bind_notification_checks(env: &mut Env) -> TestResult {
    let t = env.tcb()?;
    let t2 = env.tcb()?;
    let n = env.notification()?;
    let n2 = env.notification()?;
    let ep = env.endpoint()?;
    let write_only = env.copy(n2, CapRights::WRITE)?;
    check_err!(t.bind_notification(ep.cast()), IllegalOperation);
    check_err!(t.bind_notification(write_only), IllegalOperation);
    check_ok!(t.bind_notification(n));
    check_err!(t.bind_notification(n2), IllegalOperation);
    check_err!(t2.bind_notification(n), IllegalOperation);
    check_ok!(t.unbind_notification());
    check_err!(t.unbind_notification(), IllegalOperation);
    check_ok!(t2.bind_notification(n));
    check_err!(
        ipc::invoke(t.cptr(), L::TcbBindNotification, &[], &[]),
        TruncatedMessage
    );
    Ok(())
}

fn set_tls_base(env: &mut Env) -> TestResult {
    let t = env.tcb()?;
    check_ok!(t.set_tls_base(0x1234_5678));
    let ctx = check_ok!(t.read_registers(false, 0, 36));
    check_eq!(ctx.0[UserContext::TPIDR_EL0], 0x1234_5678);
    check_err!(
        ipc::invoke(t.cptr(), L::TcbSetTlsBase, &[], &[]),
        TruncatedMessage
    );
    Ok(())
}

fn set_flags(env: &mut Env) -> TestResult {
    let t = env.tcb()?;
    check_eq!(check_ok!(t.set_flags(0, 1)), 1);
    check_eq!(check_ok!(t.set_flags(0, 0)), 1);
    check_eq!(check_ok!(t.set_flags(1, 0)), 0);
    check_eq!(check_ok!(t.set_flags(0, 0xfe)), 0);
    check_err!(
        ipc::invoke(t.cptr(), L::TcbSetFlags, &[0], &[]),
        TruncatedMessage
    );
    Ok(())
}

fn tcb_wrong_label(env: &mut Env) -> TestResult {
    let t = env.tcb()?;
    check_err!(
        ipc::invoke(t.cptr(), L::CNodeCopy, &[0; 5], &[env.root().cptr()]),
        IllegalOperation
    );
    check_err!(
        ipc::invoke(t.cptr(), L::ArmPageMap, &[0; 3], &[env.boot.vspace.cptr()]),
        IllegalOperation
    );
    Ok(())
}

fn suspend_resume_inactive(env: &mut Env) -> TestResult {
    let t = env.tcb()?;
    check_ok!(t.suspend());
    check_ok!(t.suspend());
    check!(t.identify() == CapTag::Thread.word());
    Ok(())
}

fn delete_running_thread(env: &mut Env) -> TestResult {
    // Deleting the last cap of a blocked thread stops it: the endpoint no
    // longer has a receiver.
    let ep = env.endpoint()?;
    let t = env.spawn(counting_receiver, ep.cptr(), 150)?;
    check_ok!(env.root().delete(t.tcb.cptr(), 64));
    ep.nb_send(0, &[], &[]);
    check_eq!(shared(0), 0);
    Ok(())
}

fn write_registers_redirects_blocked_thread(env: &mut Env) -> TestResult {
    // A thread blocked in Recv, given a new pc with resume: it leaves the
    // endpoint and runs from there.
    let ep = env.endpoint()?;
    let t = env.spawn(counting_receiver, ep.cptr(), 150)?;
    let ctx = t.context(set_word, 0x5e7);
    check_ok!(t.tcb.write_registers(true, 0, 36, &ctx));
    check_eq!(shared(0), 0x5e7);
    // No longer a receiver.
    ep.nb_send(0, &[], &[]);
    check_eq!(shared(0), 0x5e7);
    Ok(())
}

/// Starts `entry` at `priority` with its own TCB cptr as argument.
fn start_with_self(
    env: &mut Env,
    entry: fn(Word),
    priority: Word,
) -> core::result::Result<crate::threads::Thread, Fail> {
    let t = env.thread(entry, 0, priority, 0)?;
    let ctx = t.context(entry, t.tcb.cptr());
    check_ok!(t.tcb.write_registers(true, 0, 36, &ctx));
    Ok(t)
}

fn thread_deletes_itself(env: &mut Env) -> TestResult {
    // The thread deletes the only cap to its own TCB: it never returns
    // from that call, and the kernel carries on.
    let t = start_with_self(
        env,
        |tcb| {
            let root = Cap::<CNode>::from_cptr(cerne_abi::slots::CAP_INIT_THREAD_CNODE as Word);
            let _ = root.delete(tcb, 64);
            set_shared(0, 1);
        },
        150,
    )?;
    check_eq!(shared(0), 0);
    check_eq!(t.tcb.identify(), 0);
    let other = env.tcb()?;
    check_ok!(other.set_flags(0, 0).map(|_| ()));
    Ok(())
}

fn thread_suspends_itself(env: &mut Env) -> TestResult {
    let t = start_with_self(
        env,
        |tcb| {
            let _ = Cap::<Tcb>::from_cptr(tcb).suspend();
            set_shared(0, 1);
        },
        150,
    )?;
    check_eq!(shared(0), 0);
    // It was in Restart (not Running) when it suspended, so its restart PC
    // is its svc: resumed, it suspends itself again (as seL4 does).
    check_ok!(t.tcb.resume());
    check_eq!(shared(0), 0);
    let mut ctx = check_ok!(t.tcb.read_registers(false, 0, 36));
    check_eq!(insn_at(ctx.pc()), SVC_0);
    // Moved past the svc, it goes on.
    ctx.set_pc(ctx.pc() + 4);
    check_ok!(t.tcb.write_registers(true, 0, 36, &ctx));
    check_eq!(shared(0), 1);
    Ok(())
}

fn deleting_tcb_unbinds_notification(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    let t = env.tcb()?;
    check_ok!(t.bind_notification(n));
    check_ok!(env.root().delete(t.cptr(), 64));
    let t2 = env.tcb()?;
    check_ok!(t2.bind_notification(n));
    Ok(())
}

fn read_tpidrro(_: Word) {
    let v: Word;
    // SAFETY: reading TPIDRRO_EL0 at EL0 is allowed and touches no memory.
    unsafe { core::arch::asm!("mrs {}, tpidrro_el0", out(reg) v, options(nomem, nostack)) };
    set_shared(0, v);
    set_shared(1, 1);
}

fn write_registers_sets_tpidrro(env: &mut Env) -> TestResult {
    let t = env.thread(read_tpidrro, 0, 150, 0)?;
    let mut ctx = t.context(read_tpidrro, 0);
    ctx.0[UserContext::TPIDRRO_EL0] = 0xab_cdef;
    check_ok!(t.tcb.write_registers(true, 0, 36, &ctx));
    check_eq!(shared(1), 1);
    check_eq!(shared(0), 0xab_cdef);
    Ok(())
}

fn configure_guard_too_big(env: &mut Env) -> TestResult {
    // cspace_root_data giving guard size 61 to a radix-4 CNode: no valid
    // root results.
    let t = env.tcb()?;
    let cn = env.cnode(4)?;
    let f = env.frame()?;
    check_err!(
        t.configure(0, cn, 61, env.boot.vspace, 0, 0, f),
        IllegalOperation
    );
    check_ok!(t.configure(0, cn, 60, env.boot.vspace, 0, 0, f));
    Ok(())
}

/// Without an IPC buffer, calls ReadRegisters(count 36) on the TCB in its
/// argument and records the reply's length.
fn bufferless_read_registers(tcb: Word) {
    let info = cerne_abi::message::MessageInfo::new(L::TcbReadRegisters.word(), 0, 0, 2);
    let r = libcerne::sel4::syscall::call(tcb, info, [0, 36, 0, 0]);
    set_shared(0, r.info.length());
    set_shared(1, r.info.label());
    set_shared(2, 1);
}

fn read_registers_without_buffer(env: &mut Env) -> TestResult {
    let target = env.tcb()?;
    let t = env.thread(bufferless_read_registers, target.cptr(), 150, 0)?;
    check_ok!(t.tcb.set_ipc_buffer(0, Cap::from_cptr(0)));
    check_ok!(t.tcb.resume());
    check_eq!(shared(2), 1);
    check_eq!((shared(1), shared(0)), (0, 4));
    Ok(())
}

fn device_frame_is_no_ipc_buffer(env: &mut Env) -> TestResult {
    let bi = env.bi;
    let list = libcerne::bootinfo::untypeds(bi);
    let Some(i) = list
        .iter()
        .position(|d| d.is_device != 0 && d.size_bits >= 12)
    else {
        check!(false, "no device untyped of a page or more");
        return Ok(());
    };
    let dev: Cap<Untyped> = Cap::from_cptr(bi.untyped.start + i as Word);
    let f: Cap<Frame> = env.alloc_from(dev, ObjectType::SmallPage, 0)?;
    let t = env.tcb()?;
    check_err!(t.set_ipc_buffer(0x1000_0000, f), IllegalOperation);
    check_err!(
        t.configure(0, env.root(), 0, env.boot.vspace, 0, 0x1000_0000, f),
        IllegalOperation
    );
    check_ok!(env.root().delete(f.cptr(), 64));
    Ok(())
}

fn thread_churn(env: &mut Env) -> TestResult {
    // Fifty threads, one after the other on the same stack and buffer, each
    // made from a fresh TCB that is deleted once it has run.
    let ut = env.untyped(16)?;
    let slot = env.slot();
    for i in 0..50 {
        check_ok!(ut.retype(ObjectType::Tcb, 0, env.root(), 0, 0, slot, 1));
        let t = crate::threads::Thread::new(Cap::from_cptr(slot), crate::threads::HELPER_BASE);
        check_ok!(t.configure(env.bi, &env.boot, 0));
        check_ok!(t.tcb.set_priority(env.boot.tcb, 150));
        check_ok!(t.prepare(
            |v| {
                add_shared(0, v);
            },
            i,
            true
        ));
        check_ok!(env.root().delete(slot, 64));
    }
    check_eq!(shared(0), (0..50).sum::<Word>());
    Ok(())
}

fn write_registers_count_clamped(env: &mut Env) -> TestResult {
    // 40 words with count 38: enough words, so the count is clamped to 36.
    let t = env.tcb()?;
    let mut words = [0; 40];
    words[1] = 38;
    for (i, w) in words[2..].iter_mut().enumerate() {
        *w = 0x500 + i as Word;
    }
    words[2 + UserContext::SPSR] = 0x40;
    check_ok!(ipc::invoke(t.cptr(), L::TcbWriteRegisters, &words, &[]));
    let back = check_ok!(t.read_registers(false, 0, 36));
    check_eq!(back.pc(), 0x500);
    check_eq!(back.0[35], 0x500 + 35);
    Ok(())
}

fn copy_registers_suspends_source(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let src = env.spawn(counting_receiver, ep.cptr(), 150)?;
    let dst = env.tcb()?;
    check_ok!(dst.copy_registers(src.tcb, true, false, true, true, 0));
    ep.nb_send(0, &[], &[]);
    check_eq!(shared(0), 0);
    // dst now holds src's registers: its pc is src's svc.
    let a = check_ok!(src.tcb.read_registers(false, 0, 36));
    let b = check_ok!(dst.read_registers(false, 0, 36));
    check_eq!(a.pc(), b.pc());
    check_eq!(a.sp(), b.sp());
    Ok(())
}

tests![
    configure_and_resume_runs,
    new_thread_stays_inactive,
    suspend_blocked_thread,
    resume_twice_is_harmless,
    read_registers_count_range,
    read_registers_self,
    write_registers_self,
    write_read_registers,
    read_registers_length,
    write_registers_spsr_sanitised,
    write_registers_partial,
    write_registers_truncated,
    read_registers_truncated,
    read_registers_suspends,
    blocked_pc_is_the_svc,
    copy_registers_all,
    copy_registers_frame_only,
    copy_registers_errors,
    copy_registers_resumes_target,
    set_priority_checks_mcp,
    set_priority_authority_not_tcb,
    set_priority_truncated,
    mcp_limits_authority,
    set_sched_params_checks,
    set_ipc_buffer_checks,
    configure_checks,
    configure_truncated,
    set_space_checks,
    configure_cspace_root_data,
    bind_notification_checks,
    set_tls_base,
    set_flags,
    tcb_wrong_label,
    suspend_resume_inactive,
    delete_running_thread,
    write_registers_redirects_blocked_thread,
    thread_deletes_itself,
    thread_suspends_itself,
    deleting_tcb_unbinds_notification,
    write_registers_sets_tpidrro,
    configure_guard_too_big,
    read_registers_without_buffer,
    device_frame_is_no_ipc_buffer,
    thread_churn,
    write_registers_count_clamped,
    copy_registers_suspends_source,
];
