//! Faults (docs/sel4-abi.md §7): CapFault, UnknownSyscall, UserException and
//! VMFault messages to a handler, the handler's reply restarting the thread
//! or rewriting its registers, badges, unusable handlers, threads with no
//! handler restarted through WriteRegisters, and the FPU flag.

use crate::framework::*;
use crate::{check, check_eq, check_ok, tests};
use cerne_abi::fault::FaultType;
use cerne_abi::lookup::{LOOKUP_GUARD_MISMATCH, LOOKUP_MISSING_CAPABILITY};
use cerne_abi::rights::CapRights;
use cerne_abi::syscall::Syscall;
use cerne_abi::Word;
use libcerne::sel4::syscall::raw_syscall;
use libcerne::sel4::*;

/// ESR_EL1 exception class field (bits 31..26), an Arm architecture fact.
pub fn exception_class(esr: Word) -> Word {
    (esr >> 26) & 0x3f
}
/// EC: unknown reason (UDF).
const EC_UNKNOWN: Word = 0x00;
/// EC: trapped FP/SIMD access.
const EC_FP: Word = 0x07;
/// EC: instruction abort from EL0.
pub const EC_IABT_LOWER: Word = 0x20;
/// EC: data abort from EL0.
pub const EC_DABT_LOWER: Word = 0x24;
/// ESR data-abort ISS bit: the access was a write.
const ESR_WNR: Word = 1 << 6;
/// The encodings of `svc #0` and `udf #0`.
const SVC_0: u32 = 0xd400_0001;
const UDF_0: u32 = 0;

/// The 32-bit instruction at `pc`.
pub fn insn_at(pc: Word) -> u32 {
    let w = peek(pc & !7);
    if pc.is_multiple_of(8) {
        w as u32
    } else {
        (w >> 32) as u32
    }
}

/// A guard-mismatch cptr in the root CNode (its 52-bit guard is 0).
pub const BAD_CPTR: Word = 1 << 60;

pub fn read_addr(addr: Word) {
    set_shared(0, peek(addr));
    set_shared(1, 1);
}

pub fn write_addr(addr: Word) {
    poke(addr, 0x5a5a);
    set_shared(1, 1);
}

pub fn jump_to(addr: Word) {
    // SAFETY: the address is unmapped or not executable on purpose: the
    // instruction fetch faults and the thread never returns here.
    unsafe { core::arch::asm!("br {}", in(reg) addr, options(noreturn)) }
}

fn udf_then_mark(_: Word) {
    // SAFETY: `udf` only raises an exception, which the kernel turns into a
    // UserException fault; the handler decides where the thread goes on.
    unsafe { core::arch::asm!("udf #0", options(nostack)) };
    set_shared(1, 1);
}

fn unknown_syscall(number: Word) {
    let r = raw_syscall(number, [1, 2, 3, 4, 5, 6]);
    set_shared(0, r[0]);
    set_shared(1, 1);
}

fn recv_on(cptr: Word) {
    let m = ipc::recv(cptr);
    set_shared(0, m.badge);
    set_shared(1, 1);
}

fn send_to(cptr: Word) {
    ipc::send(cptr, 0, &[], &[]);
    set_shared(1, 1);
}

fn vm_fault_read_and_restart(env: &mut Env) -> TestResult {
    let addr = env.va() + 0x10;
    let (_t, ep) = env.faulter(read_addr, addr, 150)?;
    let m = ep.recv();
    check_eq!(m.label(), FaultType::VmFault.word());
    check_eq!(m.len(), 4);
    check_eq!(m.mr(1), addr);
    check_eq!(m.mr(2), 0);
    check_eq!(exception_class(m.mr(3)), EC_DABT_LOWER);
    check_eq!(m.mr(3) & ESR_WNR, 0);
    // Map a frame there and let the thread retry the load.
    env.mapped_frame(addr & !0xfff)?;
    poke(addr, 0x1234);
    ipc::reply(0, &[], &[]);
    check_eq!(shared(1), 1);
    check_eq!(shared(0), 0x1234);
    Ok(())
}

fn vm_fault_pc_matches_registers(env: &mut Env) -> TestResult {
    let addr = env.va();
    let (t, ep) = env.faulter(read_addr, addr, 150)?;
    let m = ep.recv();
    let ctx = check_ok!(t.tcb.read_registers(false, 0, 1));
    check_eq!(ctx.pc(), m.mr(0));
    Ok(())
}

fn vm_fault_write_read_only(env: &mut Env) -> TestResult {
    let va = env.va();
    let f = env.frame()?;
    env.map(f, va, CapRights::READ, cerne_abi::vm::DEFAULT_VM_ATTRIBUTES)?;
    let (_t, ep) = env.faulter(write_addr, va + 8, 150)?;
    let m = ep.recv();
    check_eq!(m.label(), FaultType::VmFault.word());
    check_eq!(m.mr(1), va + 8);
    check_eq!(m.mr(2), 0);
    check_eq!(exception_class(m.mr(3)), EC_DABT_LOWER);
    check!(
        m.mr(3) & ESR_WNR != 0,
        "ESR {:#x} does not say write",
        m.mr(3)
    );
    check_eq!(shared(1), 0);
    // Remap read-write at the same address; the retried store succeeds.
    check_ok!(f.map(
        env.boot.vspace,
        va,
        CapRights::READ_WRITE,
        cerne_abi::vm::DEFAULT_VM_ATTRIBUTES
    ));
    ipc::reply(0, &[], &[]);
    check_eq!(shared(1), 1);
    check_eq!(peek(va + 8), 0x5a5a);
    Ok(())
}

fn vm_fault_instruction_fetch(env: &mut Env) -> TestResult {
    let addr = env.va() + 0x40;
    let (_t, ep) = env.faulter(jump_to, addr, 150)?;
    let m = ep.recv();
    check_eq!(m.label(), FaultType::VmFault.word());
    check_eq!(m.mr(0), addr);
    check_eq!(m.mr(1), addr);
    check_eq!(m.mr(2), 1);
    check_eq!(exception_class(m.mr(3)), EC_IABT_LOWER);
    Ok(())
}

fn unknown_syscall_message(env: &mut Env) -> TestResult {
    let number = 0x1234;
    let (_t, ep) = env.faulter(unknown_syscall, number, 150)?;
    let m = ep.recv();
    check_eq!(m.label(), FaultType::UnknownSyscall.word());
    check_eq!(m.len(), cerne_abi::fault::UNKNOWN_SYSCALL_LENGTH);
    check_eq!(
        [m.mr(0), m.mr(1), m.mr(2), m.mr(3), m.mr(4), m.mr(5)],
        [1, 2, 3, 4, 5, 6]
    );
    check_eq!(m.mr(7), number);
    check_eq!(m.mr(cerne_abi::fault::UNKNOWN_SYSCALL_SYSCALL), number);
    let fault_ip = m.mr(cerne_abi::fault::UNKNOWN_SYSCALL_FAULT_IP);
    check_eq!(insn_at(fault_ip), SVC_0);
    check_eq!(m.mr(cerne_abi::fault::UNKNOWN_SYSCALL_LR), fault_ip + 4);
    check_eq!(m.mr(cerne_abi::fault::UNKNOWN_SYSCALL_SPSR) & 0xf, 0);
    Ok(())
}

fn unknown_syscall_reply_sets_registers(env: &mut Env) -> TestResult {
    let (_t, ep) = env.faulter(unknown_syscall, 0x99, 150)?;
    let m = ep.recv();
    let mut regs = [0; 12];
    for (i, r) in regs.iter_mut().enumerate() {
        *r = m.mr(i);
    }
    regs[0] = 0xaa;
    regs[8] += 4; // skip the svc
    ipc::reply(0, &regs, &[]);
    check_eq!(shared(1), 1);
    check_eq!(shared(0), 0xaa);
    Ok(())
}

fn unknown_syscall_reply_label_stops(env: &mut Env) -> TestResult {
    let (t, ep) = env.faulter(unknown_syscall, 0x99, 150)?;
    let m = ep.recv();
    let fault_ip = m.mr(8);
    ipc::reply(1, &[], &[]);
    check_eq!(shared(1), 0);
    // Inactive, not re-faulting: nothing new arrives.
    check_eq!(ep.nb_recv().badge, 0);
    let ctx = check_ok!(t.tcb.read_registers(false, 0, 1));
    check_eq!(ctx.pc(), fault_ip);
    Ok(())
}

fn negative_unknown_syscall(env: &mut Env) -> TestResult {
    // -15 (DebugSendIPI, absent here) and 0 are unknown too.
    for number in [(-15i64) as Word, 0] {
        let (_t, ep) = env.faulter(unknown_syscall, number, 150)?;
        let m = ep.recv();
        check_eq!(m.label(), FaultType::UnknownSyscall.word());
        check_eq!(m.mr(12), number);
    }
    Ok(())
}

fn user_exception_message(env: &mut Env) -> TestResult {
    let (t, ep) = env.faulter(udf_then_mark, 0, 150)?;
    let m = ep.recv();
    check_eq!(m.label(), FaultType::UserException.word());
    check_eq!(m.len(), cerne_abi::fault::USER_EXCEPTION_LENGTH);
    check_eq!(insn_at(m.mr(0)), UDF_0);
    let ctx = check_ok!(t.tcb.read_registers(false, 0, 3));
    check_eq!(m.mr(1), ctx.sp());
    check_eq!(exception_class(m.mr(3)), EC_UNKNOWN);
    check_eq!(m.mr(4), 0);
    Ok(())
}

fn user_exception_reply_resumes(env: &mut Env) -> TestResult {
    let (_t, ep) = env.faulter(udf_then_mark, 0, 150)?;
    let m = ep.recv();
    ipc::reply(0, &[m.mr(0) + 4, m.mr(1), m.mr(2)], &[]);
    check_eq!(shared(1), 1);
    Ok(())
}

fn user_exception_reply_label_stops(env: &mut Env) -> TestResult {
    let (_t, ep) = env.faulter(udf_then_mark, 0, 150)?;
    let m = ep.recv();
    ipc::reply(7, &[m.mr(0) + 4, m.mr(1), m.mr(2)], &[]);
    check_eq!(shared(1), 0);
    check_eq!(ep.nb_recv().badge, 0);
    Ok(())
}

fn user_exception_restart_same_pc(env: &mut Env) -> TestResult {
    // Replying with no words restarts at the udf: a second fault comes.
    let (_t, ep) = env.faulter(udf_then_mark, 0, 150)?;
    let first = ep.recv();
    let second = ep.reply_recv(0, &[], &[]);
    check_eq!(second.label(), FaultType::UserException.word());
    check_eq!(second.mr(0), first.mr(0));
    Ok(())
}

fn cap_fault_send_message(env: &mut Env) -> TestResult {
    let (_t, ep) = env.faulter(send_to, BAD_CPTR, 150)?;
    let m = ep.recv();
    check_eq!(m.label(), FaultType::CapFault.word());
    check_eq!(m.len(), 7);
    check_eq!(insn_at(m.mr(0)), SVC_0);
    check_eq!([m.mr(1), m.mr(2)], [BAD_CPTR, 0]);
    check_eq!(
        [m.mr(3), m.mr(4), m.mr(5), m.mr(6)],
        [LOOKUP_GUARD_MISMATCH, 64, 0, 52]
    );
    Ok(())
}

fn cap_fault_recv_empty_slot(env: &mut Env) -> TestResult {
    let s = env.slot();
    let (_t, ep) = env.faulter(recv_on, s, 150)?;
    let m = ep.recv();
    check_eq!(m.label(), FaultType::CapFault.word());
    check_eq!(m.len(), 5);
    check_eq!(
        [m.mr(1), m.mr(2), m.mr(3), m.mr(4)],
        [s, 1, LOOKUP_MISSING_CAPABILITY, 0]
    );
    Ok(())
}

fn cap_fault_restart_after_fix(env: &mut Env) -> TestResult {
    let s = env.slot();
    let n = env.notification()?;
    let b = env.mint(n, CapRights::ALL, 0x3)?;
    let (_t, ep) = env.faulter(recv_on, s, 150)?;
    let m = ep.recv();
    check_eq!(m.label(), FaultType::CapFault.word());
    check_ok!(env
        .root()
        .copy(s, 64, env.root(), n.cptr(), 64, CapRights::ALL));
    b.signal();
    ipc::reply(0, &[], &[]);
    check_eq!(shared(1), 1);
    check_eq!(shared(0), 0x3);
    Ok(())
}

fn cap_fault_recv_without_read(env: &mut Env) -> TestResult {
    let e = env.endpoint()?;
    let w = env.copy(e, CapRights::WRITE)?;
    let (_t, ep) = env.faulter(recv_on, w.cptr(), 150)?;
    let m = ep.recv();
    check_eq!(m.label(), FaultType::CapFault.word());
    check_eq!(
        [m.mr(1), m.mr(2), m.mr(3), m.mr(4)],
        [w.cptr(), 1, LOOKUP_MISSING_CAPABILITY, 0]
    );
    Ok(())
}

fn cap_fault_recv_on_other_bound_notification(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    let other = env.tcb()?;
    check_ok!(other.bind_notification(n));
    let (_t, ep) = env.faulter(recv_on, n.cptr(), 150)?;
    let m = ep.recv();
    check_eq!(m.label(), FaultType::CapFault.word());
    check_eq!(
        [m.mr(1), m.mr(2), m.mr(3), m.mr(4)],
        [n.cptr(), 1, LOOKUP_MISSING_CAPABILITY, 0]
    );
    Ok(())
}

fn cap_fault_recv_on_frame(env: &mut Env) -> TestResult {
    let f = env.frame()?;
    let (_t, ep) = env.faulter(recv_on, f.cptr(), 150)?;
    let m = ep.recv();
    check_eq!(m.label(), FaultType::CapFault.word());
    check_eq!([m.mr(1), m.mr(2)], [f.cptr(), 1]);
    Ok(())
}

fn call_with_bad_extra_cap(ep: Word) {
    ipc::call(ep, 0, &[], &[BAD_CPTR]);
    set_shared(1, 1);
}

fn cap_fault_bad_extra_cap(env: &mut Env) -> TestResult {
    let target = env.endpoint()?;
    let (_t, ep) = env.faulter(call_with_bad_extra_cap, target.cptr(), 150)?;
    let m = ep.recv();
    check_eq!(m.label(), FaultType::CapFault.word());
    check_eq!(
        [m.mr(1), m.mr(2), m.mr(3)],
        [BAD_CPTR, 0, LOOKUP_GUARD_MISMATCH]
    );
    // Nothing reached the target endpoint.
    check_eq!(target.nb_recv().badge, 0);
    Ok(())
}

fn fault_carries_handler_badge(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let b = env.mint(ep, CapRights::ALL, 0x77)?;
    let t = env.thread(udf_then_mark, 0, 150, b.cptr())?;
    check_ok!(t.tcb.resume());
    let m = ep.recv();
    check_eq!(m.badge, 0x77);
    check_eq!(m.label(), FaultType::UserException.word());
    Ok(())
}

fn handler_with_grant_reply_only(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let h = env.copy(
        ep,
        cerne_abi::rights::CapRights::from_word(
            CapRights::WRITE.word() | CapRights::GRANT_REPLY.word(),
        ),
    )?;
    let t = env.thread(udf_then_mark, 0, 150, h.cptr())?;
    check_ok!(t.tcb.resume());
    let m = ep.recv();
    check_eq!(m.label(), FaultType::UserException.word());
    ipc::reply(0, &[m.mr(0) + 4, m.mr(1), m.mr(2)], &[]);
    check_eq!(shared(1), 1);
    Ok(())
}

fn handler_without_grant_is_double_fault(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let h = env.mint(ep, CapRights::WRITE, 9)?;
    let t = env.thread(udf_then_mark, 0, 150, h.cptr())?;
    check_ok!(t.tcb.resume());
    check_eq!(ep.nb_recv().badge, 0);
    check_eq!(shared(1), 0);
    Ok(())
}

fn no_handler_stops_thread(env: &mut Env) -> TestResult {
    let t = env.spawn(udf_then_mark, 0, 150)?;
    check_eq!(shared(1), 0);
    let ctx = check_ok!(t.tcb.read_registers(false, 0, 1));
    check_eq!(insn_at(ctx.pc()), UDF_0);
    Ok(())
}

fn restart_through_write_registers(env: &mut Env) -> TestResult {
    let t = env.spawn(udf_then_mark, 0, 150)?;
    let mut ctx = check_ok!(t.tcb.read_registers(false, 0, 36));
    check_eq!(insn_at(ctx.pc()), UDF_0);
    ctx.set_pc(ctx.pc() + 4);
    check_ok!(t.tcb.write_registers(true, 0, 36, &ctx));
    check_eq!(shared(1), 1);
    Ok(())
}

fn handler_lookup_failure_is_double_fault(env: &mut Env) -> TestResult {
    // The handler cptr names an empty slot: the thread just stops.
    let empty = env.slot();
    let t = env.thread(udf_then_mark, 0, 150, empty)?;
    check_ok!(t.tcb.resume());
    check_eq!(shared(1), 0);
    Ok(())
}

fn fp_instruction(_: Word) {
    // SAFETY: moves zero into d0, which is declared clobbered; with FP
    // disabled it traps instead, which is the point.
    unsafe { core::arch::asm!("fmov d0, xzr", out("v0") _, options(nostack)) };
    set_shared(1, 1);
}

fn fpu_disabled_traps(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let t = env.thread(fp_instruction, 0, 150, ep.cptr())?;
    check_ok!(t.tcb.set_flags(0, 1));
    check_ok!(t.tcb.resume());
    // It runs at once (above the driver): it must have trapped.
    check!(
        shared(1) == 0,
        "an FP instruction ran with seL4_TCBFlag_fpuDisabled set"
    );
    let m = ep.recv();
    check_eq!(m.label(), FaultType::UserException.word());
    check_eq!(exception_class(m.mr(3)), EC_FP);
    // Enable it again and restart: the instruction now runs.
    check_ok!(t.tcb.set_flags(1, 0));
    ipc::reply(0, &[m.mr(0), m.mr(1), m.mr(2)], &[]);
    check_eq!(shared(1), 1);
    Ok(())
}

/// Puts `value` in d8, yields, and records what d8 holds afterwards.
fn fp_keeper(value: Word) {
    let after: Word;
    // SAFETY: d8 is declared clobbered; the svc is a Yield, which writes no
    // register (x0..x5 declared clobbered all the same).
    unsafe {
        core::arch::asm!(
            "fmov d8, {v}",
            "svc #0",
            "fmov {a}, d8",
            v = in(reg) value,
            a = out(reg) after,
            in("x7") Syscall::Yield.word(),
            out("x0") _, out("x1") _, out("x2") _, out("x3") _, out("x4") _, out("x5") _,
            out("v8") _,
            options(nostack),
        );
    }
    set_shared(value as usize, after);
}

fn fpu_state_is_per_thread(env: &mut Env) -> TestResult {
    // Two threads at one priority put different values in d8 and yield to
    // each other: each must find its own value.
    env.spawn(fp_keeper, 3, crate::runner::DRIVER_PRIORITY)?;
    env.spawn(fp_keeper, 4, crate::runner::DRIVER_PRIORITY)?;
    for _ in 0..3 {
        libcerne::sel4::syscall::yield_now();
    }
    check_eq!([shared(3), shared(4)], [3, 4]);
    Ok(())
}

fn syscall_preserves_registers(env: &mut Env) -> TestResult {
    // x6 and x8..x30 (here x6, x8, x9, x20, x28) survive a system call (a
    // Call on a TCB), and so does x7, the syscall number.
    let t = env.tcb()?;
    let out: [Word; 6];
    // SAFETY: a TCB_SetFlags Call: reads x0..x5, x7, writes x0..x5 (declared
    // clobbered); the other registers named hold sentinels the kernel must
    // preserve, and are declared as in/out so the compiler expects them to
    // come back.
    unsafe {
        let (mut x6, mut x7, mut x8) = (0x6666u64, Syscall::Call.word(), 0x8888u64);
        let (mut a, mut b, mut c) = (0x9999u64, 0x2020u64, 0x2828u64);
        core::arch::asm!(
            "svc #0",
            inout("x0") t.cptr() => _,
            inout("x1") cerne_abi::message::MessageInfo::new(cerne_abi::invocation::InvocationLabel::TcbSetFlags.word(), 0, 0, 2).word() => _,
            inout("x2") 0u64 => _, inout("x3") 0u64 => _, out("x4") _, out("x5") _,
            inout("x6") x6, inout("x7") x7, inout("x8") x8,
            inout("x9") a, inout("x20") b, inout("x28") c,
            options(nostack),
        );
        x6 = core::hint::black_box(x6);
        x7 = core::hint::black_box(x7);
        x8 = core::hint::black_box(x8);
        a = core::hint::black_box(a);
        b = core::hint::black_box(b);
        c = core::hint::black_box(c);
        out = [x6, x7, x8, a, b, c];
    }
    check_eq!(
        out,
        [0x6666, Syscall::Call.word(), 0x8888, 0x9999, 0x2020, 0x2828]
    );
    Ok(())
}

fn fault_endpoint_looked_up_at_fault_time(env: &mut Env) -> TestResult {
    // The handler cptr names an empty slot at Configure time and an
    // endpoint by the time the thread faults.
    let slot = env.slot();
    let t = env.thread(udf_then_mark, 0, 150, slot)?;
    let ep = env.endpoint()?;
    check_ok!(env
        .root()
        .copy(slot, 64, env.root(), ep.cptr(), 64, CapRights::ALL));
    check_ok!(t.tcb.resume());
    let m = ep.recv();
    check_eq!(m.label(), FaultType::UserException.word());
    Ok(())
}

fn reply_to_fault_through_saved_cap(env: &mut Env) -> TestResult {
    let (_t, ep) = env.faulter(udf_then_mark, 0, 150)?;
    let m = ep.recv();
    let s = env.slot();
    check_ok!(env.root().save_caller(s, 64));
    check_eq!(
        Cap::<Unknown>::from_cptr(s).identify(),
        cerne_abi::object::CapTag::Reply.word()
    );
    Cap::<Reply>::from_cptr(s).send(0, &[m.mr(0) + 4, m.mr(1), m.mr(2)], &[]);
    check_eq!(shared(1), 1);
    Ok(())
}

/// A fault handler without an IPC buffer: records the length of the fault
/// message it gets.
fn bufferless_handler(ep: Word) {
    let r = libcerne::sel4::syscall::recv(ep, [0; 4]);
    set_shared(5, r.info.length());
    set_shared(6, r.info.label());
    set_shared(7, 1);
}

fn fault_to_handler_without_buffer(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let h = env.thread(bufferless_handler, ep.cptr(), 160, 0)?;
    check_ok!(h.tcb.set_ipc_buffer(0, Cap::from_cptr(0)));
    check_ok!(h.tcb.resume());
    let t = env.thread(unknown_syscall, 0x55, 150, ep.cptr())?;
    check_ok!(t.tcb.resume());
    check_eq!(shared(7), 1);
    check_eq!(shared(6), FaultType::UnknownSyscall.word());
    check_eq!(shared(5), 4);
    Ok(())
}

fn vm_fault_reply_ignores_words(env: &mut Env) -> TestResult {
    // A VMFault reply's words do not touch registers: the thread retries
    // the same access.
    let addr = env.va();
    let (_t, ep) = env.faulter(read_addr, addr, 150)?;
    let first = ep.recv();
    let second = ep.reply_recv(0, &[0xdead, 0xbeef, 0, 0], &[]);
    check_eq!(second.label(), FaultType::VmFault.word());
    check_eq!([second.mr(0), second.mr(1)], [first.mr(0), first.mr(1)]);
    Ok(())
}

fn delete_endpoint_restarts_receiver(env: &mut Env) -> TestResult {
    // A receiver whose endpoint goes re-executes its Recv, on an empty
    // slot now: a cap fault in the receive phase.
    let e = env.endpoint()?;
    let (_t, ep) = env.faulter(recv_on, e.cptr(), 150)?;
    check_eq!(shared(1), 0);
    check_ok!(env.root().delete(e.cptr(), 64));
    let m = ep.recv();
    check_eq!(m.label(), FaultType::CapFault.word());
    check_eq!(
        [m.mr(1), m.mr(2), m.mr(3)],
        [e.cptr(), 1, LOOKUP_MISSING_CAPABILITY]
    );
    Ok(())
}

fn unknown_syscall_short_reply(env: &mut Env) -> TestResult {
    // A reply of one word sets x0 only: FaultIP stays at the svc, so the
    // thread raises the same fault again, now with the new x0.
    let (_t, ep) = env.faulter(unknown_syscall, 0x99, 150)?;
    let first = ep.recv();
    let second = ep.reply_recv(0, &[0x42], &[]);
    check_eq!(second.label(), FaultType::UnknownSyscall.word());
    check_eq!(second.mr(0), 0x42);
    check_eq!(second.mr(1), first.mr(1));
    check_eq!(second.mr(8), first.mr(8));
    Ok(())
}

fn user_exception_reply_sets_pc_only(env: &mut Env) -> TestResult {
    // One reply word: FaultIP. The thread goes on past the udf.
    let (_t, ep) = env.faulter(udf_then_mark, 0, 150)?;
    let m = ep.recv();
    ipc::reply(0, &[m.mr(0) + 4], &[]);
    check_eq!(shared(1), 1);
    Ok(())
}

/// Records `v`, then blocks for good on the endpoint in x1.
extern "C" fn park(v: Word, ep: Word) -> ! {
    set_shared(0, v);
    loop {
        ipc::recv(ep);
    }
}

fn fault_reply_redirects_thread(env: &mut Env) -> TestResult {
    // The handler's reply rewrites x0, x1 and the pc: the thread runs
    // `park(0x31, ep)` instead of going on after its svc.
    let (_t, ep) = env.faulter(unknown_syscall, 0x99, 150)?;
    let m = ep.recv();
    let dead_end = env.endpoint()?;
    let mut regs = [0; 12];
    for (i, r) in regs.iter_mut().enumerate() {
        *r = m.mr(i);
    }
    regs[0] = 0x31;
    regs[1] = dead_end.cptr();
    regs[8] = park as *const () as usize as Word;
    ipc::reply(0, &regs, &[]);
    check_eq!(shared(0), 0x31);
    check_eq!(shared(1), 0);
    Ok(())
}

fn cap_fault_reply_restarts_same_call(env: &mut Env) -> TestResult {
    // A CapFault reply changes nothing: the same lookup fails again.
    let (_t, ep) = env.faulter(send_to, BAD_CPTR, 150)?;
    let first = ep.recv();
    let second = ep.reply_recv(0, &[1, 2, 3], &[]);
    check_eq!(second.label(), FaultType::CapFault.word());
    check_eq!([second.mr(0), second.mr(1)], [first.mr(0), first.mr(1)]);
    Ok(())
}

fn delete_notification_restarts_waiter(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    let (_t, ep) = env.faulter(recv_on, n.cptr(), 150)?;
    check_ok!(env.root().delete(n.cptr(), 64));
    let m = ep.recv();
    check_eq!(m.label(), FaultType::CapFault.word());
    check_eq!(
        [m.mr(1), m.mr(2), m.mr(3)],
        [n.cptr(), 1, LOOKUP_MISSING_CAPABILITY]
    );
    Ok(())
}

/// ESR exception classes of the other synchronous exceptions tested here
/// (Arm architecture facts).
const EC_MSR_MRS: Word = 0x18;
const EC_PC_ALIGN: Word = 0x22;
const EC_BRK: Word = 0x3c;

fn brk_then_mark(_: Word) {
    // SAFETY: `brk` only raises a debug exception, reported as a
    // UserException; the handler decides where the thread goes on.
    unsafe { core::arch::asm!("brk #7", options(nostack)) };
    set_shared(1, 1);
}

fn read_kernel_timer(_: Word) {
    let v: Word;
    // SAFETY: reads the virtual timer's control register; EL0 has no
    // access to the kernel's timer (CNTKCTL_EL1.EL0VTEN clear), so it
    // traps, which is what the test wants.
    unsafe { core::arch::asm!("mrs {}, cntv_ctl_el0", out(reg) v, options(nomem, nostack)) };
    set_shared(0, v);
    set_shared(1, 1);
}

fn expect_user_exception(env: &mut Env, entry: fn(Word), arg: Word, class: Word) -> TestResult {
    let (_t, ep) = env.faulter(entry, arg, 150)?;
    check_eq!(shared(1), 0);
    let m = ep.recv();
    check_eq!(m.label(), FaultType::UserException.word());
    check_eq!(exception_class(m.mr(3)), class);
    Ok(())
}

fn brk_is_user_exception(env: &mut Env) -> TestResult {
    expect_user_exception(env, brk_then_mark, 0, EC_BRK)
}

fn kernel_timer_access_traps(env: &mut Env) -> TestResult {
    // EL0 may read the counters and program the physical timer
    // (el0_timer tests), but the virtual timer is the kernel's tick.
    expect_user_exception(env, read_kernel_timer, 0, EC_MSR_MRS)
}

fn misaligned_pc_is_user_exception(env: &mut Env) -> TestResult {
    let target = udf_then_mark as *const () as usize as Word + 2;
    let (_t, ep) = env.faulter(jump_to, target, 150)?;
    let m = ep.recv();
    check_eq!(m.label(), FaultType::UserException.word());
    check_eq!(exception_class(m.mr(3)), EC_PC_ALIGN);
    check_eq!(m.mr(0), target);
    Ok(())
}

fn svc_immediate_is_ignored(env: &mut Env) -> TestResult {
    // `svc #5` is the same system call as `svc #0`.
    let ep = env.endpoint()?;
    let tag: Word;
    // SAFETY: DebugCapIdentify reads x0 and x7 and writes only x0.
    unsafe {
        core::arch::asm!(
            "svc #5",
            inout("x0") ep.cptr() => tag,
            in("x7") Syscall::DebugCapIdentify.word(),
            options(nostack),
        );
    }
    check_eq!(tag, cerne_abi::object::CapTag::Endpoint.word());
    Ok(())
}

fn fault_reply_sanitises_spsr(env: &mut Env) -> TestResult {
    // A handler cannot send the thread to EL1: the SPSR it writes keeps only
    // NZCV, and the thread goes on at EL0.
    let (t, ep) = env.faulter(unknown_syscall, 0x99, 150)?;
    let m = ep.recv();
    let mut regs = [0; 12];
    for (i, r) in regs.iter_mut().enumerate() {
        *r = m.mr(i);
    }
    regs[8] += 4;
    regs[11] = 0xffff_ffff;
    ipc::reply(0, &regs, &[]);
    check_eq!(shared(1), 1);
    let ctx = check_ok!(t.tcb.read_registers(false, 0, 3));
    check_eq!(ctx.0[UserContext::SPSR] & !0xf000_0000, 0x40);
    Ok(())
}

fn user_exception_reply_sanitises_spsr(env: &mut Env) -> TestResult {
    let (t, ep) = env.faulter(udf_then_mark, 0, 150)?;
    let m = ep.recv();
    ipc::reply(0, &[m.mr(0) + 4, m.mr(1), 0xffff_ffff], &[]);
    check_eq!(shared(1), 1);
    let ctx = check_ok!(t.tcb.read_registers(false, 0, 3));
    check_eq!(ctx.0[UserContext::SPSR] & !0xf000_0000, 0x40);
    Ok(())
}

tests![
    vm_fault_read_and_restart,
    vm_fault_pc_matches_registers,
    vm_fault_write_read_only,
    vm_fault_instruction_fetch,
    unknown_syscall_message,
    unknown_syscall_reply_sets_registers,
    unknown_syscall_reply_label_stops,
    negative_unknown_syscall,
    user_exception_message,
    user_exception_reply_resumes,
    user_exception_reply_label_stops,
    user_exception_restart_same_pc,
    cap_fault_send_message,
    cap_fault_recv_empty_slot,
    cap_fault_restart_after_fix,
    cap_fault_recv_without_read,
    cap_fault_recv_on_other_bound_notification,
    cap_fault_recv_on_frame,
    cap_fault_bad_extra_cap,
    fault_carries_handler_badge,
    handler_with_grant_reply_only,
    handler_without_grant_is_double_fault,
    no_handler_stops_thread,
    restart_through_write_registers,
    handler_lookup_failure_is_double_fault,
    fpu_disabled_traps,
    fpu_state_is_per_thread,
    syscall_preserves_registers,
    fault_endpoint_looked_up_at_fault_time,
    reply_to_fault_through_saved_cap,
    fault_to_handler_without_buffer,
    vm_fault_reply_ignores_words,
    delete_endpoint_restarts_receiver,
    unknown_syscall_short_reply,
    user_exception_reply_sets_pc_only,
    fault_reply_redirects_thread,
    cap_fault_reply_restarts_same_call,
    delete_notification_restarts_waiter,
    brk_is_user_exception,
    kernel_timer_access_traps,
    misaligned_pc_is_user_exception,
    svc_immediate_is_ignored,
    fault_reply_sanitises_spsr,
    user_exception_reply_sanitises_spsr,
];
