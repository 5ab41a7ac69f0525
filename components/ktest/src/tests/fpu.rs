//! FP/SIMD state under lazy switching (docs/kernel.md, "FP/SIMD"): every
//! thread's V0..V31, FPSR and FPCR are its own across yields, fast-path IPC,
//! suspend and resume, WriteRegisters, a fault on FP use, and the deletion
//! of the thread that owned the registers.
//!
//! The threads here load a pattern into all 32 V registers, FPSR and FPCR
//! and then make their system calls from inside one `asm!` block (compiled
//! Rust code between two calls could use the registers itself), touching
//! FP/SIMD between calls so that every switch between two such threads is
//! an FPU-owner switch; at the end they store the registers for the driver
//! to compare.

use crate::framework::*;
use crate::{check, check_eq, check_ok, tests};
use cerne_abi::fault::FaultType;
use cerne_abi::object::{ObjectType, TCB_BITS};
use cerne_abi::syscall::Syscall;
use cerne_abi::Word;
use core::cell::UnsafeCell;
use libcerne::sel4::*;

/// V0..V31, FPSR and FPCR as the asm below loads and stores them.
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FpState {
    v: [[u64; 2]; 32],
    fpsr: u64,
    fpcr: u64,
}

impl FpState {
    const ZERO: Self = Self {
        v: [[0; 2]; 32],
        fpsr: 0,
        fpcr: 0,
    };
}

/// Offset of FPSR (then FPCR) in [`FpState`].
const FP_CTL: usize = 512;
const _: () = assert!(core::mem::offset_of!(FpState, fpsr) == FP_CTL);

/// Thread `seed`'s pattern: distinct in every register and both halves,
/// FPSR cumulative flags (IOC..IXC, IDC, QC) and FPCR controls (AHP, DN,
/// FZ, RMode) that differ from thread to thread and from the reset value.
fn pattern(seed: u64) -> FpState {
    let mut s = FpState::ZERO;
    for (i, v) in s.v.iter_mut().enumerate() {
        let w = (seed << 40) | ((i as u64) << 8) | 0x5a;
        *v = [w, !w];
    }
    s.fpsr = [0x0800_0001, 0x12, 0x8c, 0x0800_0010][(seed % 4) as usize];
    s.fpcr = [0x0140_0000, 0x0280_0000, 0x04c0_0000, 0x0300_0000][(seed % 4) as usize];
    s
}

/// What a thread that started with `pattern(seed)` and touched FP/SIMD
/// `touches` times (each adds one to V30's low half) must end with.
fn expected(seed: u64, touches: u64) -> FpState {
    let mut s = pattern(seed);
    s.v[30][0] += touches;
    s
}

/// Per-thread buffers: the pattern each loads and what it stored.
struct Buffers(UnsafeCell<[(FpState, FpState); 16]>);
// SAFETY: one CPU; each thread writes only its own entry, and the driver
// reads an entry only after that thread said it was done (a shared word
// written after the store, read with SeqCst).
unsafe impl Sync for Buffers {}
static BUFFERS: Buffers = Buffers(UnsafeCell::new([(FpState::ZERO, FpState::ZERO); 16]));

/// Entry `i`'s pattern buffer (set to `pattern(seed)`) and result buffer
/// (cleared to a value no pattern has).
fn buffers(i: usize, seed: u64) -> (*const FpState, *mut FpState) {
    // SAFETY: entry `i` is only touched by the driver before its thread
    // starts and by that thread (see `Buffers`).
    unsafe {
        let e = &mut (*BUFFERS.0.get())[i];
        e.0 = pattern(seed);
        e.1 = FpState::ZERO;
        e.1.fpcr = u64::MAX;
        (&raw const e.0, &raw mut e.1)
    }
}

/// What thread `i` stored.
fn stored(i: usize) -> FpState {
    // SAFETY: read after thread `i` reported it was done (see `Buffers`).
    unsafe { core::ptr::read_volatile(&raw const (*BUFFERS.0.get())[i].1) }
}

/// Shared words: thread `i` is done at `DONE + i` (1), its count of
/// mismatches seen between calls at `ERRORS + i`; the endpoints at `EP`
/// and `EP + 1`.
const DONE: usize = 0;
const ERRORS: usize = 10;
const EP: usize = 20;

/// Loads [`FpState`] from the address in x9 (x8, x10 scratch).
macro_rules! fp_load {
    () => {
        concat!(
            "ldp q0, q1, [x9, #0]\n",
            "ldp q2, q3, [x9, #32]\n",
            "ldp q4, q5, [x9, #64]\n",
            "ldp q6, q7, [x9, #96]\n",
            "ldp q8, q9, [x9, #128]\n",
            "ldp q10, q11, [x9, #160]\n",
            "ldp q12, q13, [x9, #192]\n",
            "ldp q14, q15, [x9, #224]\n",
            "ldp q16, q17, [x9, #256]\n",
            "ldp q18, q19, [x9, #288]\n",
            "ldp q20, q21, [x9, #320]\n",
            "ldp q22, q23, [x9, #352]\n",
            "ldp q24, q25, [x9, #384]\n",
            "ldp q26, q27, [x9, #416]\n",
            "ldp q28, q29, [x9, #448]\n",
            "ldp q30, q31, [x9, #480]\n",
            "ldr x8, [x9, #512]\n",
            "ldr x10, [x9, #520]\n",
            "msr fpsr, x8\n",
            "msr fpcr, x10\n",
        )
    };
}

/// Stores [`FpState`] to the address in x11 (x8, x10 scratch).
macro_rules! fp_store {
    () => {
        concat!(
            "stp q0, q1, [x11, #0]\n",
            "stp q2, q3, [x11, #32]\n",
            "stp q4, q5, [x11, #64]\n",
            "stp q6, q7, [x11, #96]\n",
            "stp q8, q9, [x11, #128]\n",
            "stp q10, q11, [x11, #160]\n",
            "stp q12, q13, [x11, #192]\n",
            "stp q14, q15, [x11, #224]\n",
            "stp q16, q17, [x11, #256]\n",
            "stp q18, q19, [x11, #288]\n",
            "stp q20, q21, [x11, #320]\n",
            "stp q22, q23, [x11, #352]\n",
            "stp q24, q25, [x11, #384]\n",
            "stp q26, q27, [x11, #416]\n",
            "stp q28, q29, [x11, #448]\n",
            "stp q30, q31, [x11, #480]\n",
            "mrs x8, fpsr\n",
            "mrs x10, fpcr\n",
            "str x8, [x11, #512]\n",
            "str x10, [x11, #520]\n",
        )
    };
}

/// Touches FP/SIMD between two calls: counts a mismatch (x24) if D31 is
/// not x23, and adds one to V30's low half (INS keeps the high half).
macro_rules! fp_touch {
    () => {
        concat!(
            "fmov x8, d31\n",
            "cmp x8, x23\n",
            "cinc x24, x24, ne\n",
            "fmov x8, d30\n",
            "add x8, x8, #1\n",
            "mov v30.d[0], x8\n",
        )
    };
}

/// Runs `$asm` (which may use x0..x5, x7, x8, x10, x12 and every V
/// register) with x9/x11 the pattern and result buffers, x13 an endpoint,
/// x20..x22 syscall numbers, x23 the expected D31; returns the mismatch
/// count.
macro_rules! fp_run {
    ($asm:expr, $want:expr, $got:expr, $rounds:expr, $ep:expr, $s0:expr, $s1:expr, $s2:expr, $d31:expr) => {{
        let mut errors: u64 = 0;
        // SAFETY: the asm reads the pattern buffer and writes the result
        // buffer (both live, 16-byte aligned, 528 bytes), makes system
        // calls that write at most x0..x5 (declared clobbered), and
        // clobbers only the registers declared here.
        unsafe {
            core::arch::asm!(
                $asm,
                in("x9") $want,
                in("x11") $got,
                inout("x12") $rounds => _,
                in("x13") $ep,
                in("x20") $s0,
                in("x21") $s1,
                in("x22") $s2,
                in("x23") $d31,
                inout("x24") errors,
                out("x0") _, out("x1") _, out("x2") _, out("x3") _, out("x4") _, out("x5") _,
                out("x7") _, out("x8") _, out("x10") _,
                out("v0") _, out("v1") _, out("v2") _, out("v3") _, out("v4") _, out("v5") _,
                out("v6") _, out("v7") _, out("v8") _, out("v9") _, out("v10") _, out("v11") _,
                out("v12") _, out("v13") _, out("v14") _, out("v15") _, out("v16") _,
                out("v17") _, out("v18") _, out("v19") _, out("v20") _, out("v21") _,
                out("v22") _, out("v23") _, out("v24") _, out("v25") _, out("v26") _,
                out("v27") _, out("v28") _, out("v29") _, out("v30") _, out("v31") _,
                options(nostack),
            );
        }
        errors
    }};
}

/// Rounds of the yield and IPC loops.
const ROUNDS: u64 = 200;

/// Helper arguments: buffer index in the low byte, seed above.
fn arg(i: usize, seed: u64) -> Word {
    (seed << 8) | i as Word
}

fn split(a: Word) -> (usize, u64) {
    ((a & 0xff) as usize, a >> 8)
}

fn finish(i: usize, errors: u64) {
    set_shared(ERRORS + i, errors);
    set_shared(DONE + i, 1);
}

/// Loads its pattern, yields ROUNDS times touching FP/SIMD after each,
/// stores.
fn yielder(a: Word) {
    let (i, seed) = split(a);
    let (want, got) = buffers(i, seed);
    let d31 = pattern(seed).v[31][0];
    let errors = fp_run!(
        concat!(
            fp_load!(),
            "2: mov x7, x20\n",
            "svc #0\n",
            fp_touch!(),
            "subs x12, x12, #1\n",
            "b.ne 2b\n",
            fp_store!()
        ),
        want,
        got,
        ROUNDS,
        0u64,
        Syscall::Yield.word(),
        0u64,
        0u64,
        d31
    );
    finish(i, errors);
}

/// Loads its pattern, Calls the endpoint `shared(EP)` ROUNDS times
/// (length 0: the fast path), touching FP/SIMD after each, stores.
fn client(a: Word) {
    let (i, seed) = split(a);
    let (want, got) = buffers(i, seed);
    let d31 = pattern(seed).v[31][0];
    let errors = fp_run!(
        concat!(
            fp_load!(),
            "2: mov x0, x13\n",
            "mov x1, xzr\n",
            "mov x7, x20\n",
            "svc #0\n",
            fp_touch!(),
            "subs x12, x12, #1\n",
            "b.ne 2b\n",
            fp_store!()
        ),
        want,
        got,
        ROUNDS,
        shared(EP),
        Syscall::Call.word(),
        0u64,
        0u64,
        d31
    );
    finish(i, errors);
}

/// Loads its pattern, answers ROUNDS Calls on `shared(EP)` (Recv, then
/// ReplyRecv, the last one a Reply), touching FP/SIMD after each, stores.
fn server(a: Word) {
    let (i, seed) = split(a);
    let (want, got) = buffers(i, seed);
    let d31 = pattern(seed).v[31][0];
    let errors = fp_run!(
        concat!(
            fp_load!(),
            "mov x0, x13\n",
            "mov x7, x20\n",
            "svc #0\n",
            "2:\n",
            fp_touch!(),
            "subs x12, x12, #1\n",
            "b.eq 3f\n",
            "mov x0, x13\n",
            "mov x1, xzr\n",
            "mov x7, x21\n",
            "svc #0\n",
            "b 2b\n",
            "3: mov x1, xzr\n",
            "mov x7, x22\n",
            "svc #0\n",
            fp_store!()
        ),
        want,
        got,
        ROUNDS,
        shared(EP),
        Syscall::Recv.word(),
        Syscall::ReplyRecv.word(),
        Syscall::Reply.word(),
        d31
    );
    finish(i, errors);
}

/// Loads its pattern, waits once on `shared(EP)`, stores (no touch).
fn holder(a: Word) {
    let (i, seed) = split(a);
    let (want, got) = buffers(i, seed);
    let errors = fp_run!(
        concat!(
            fp_load!(),
            "mov x0, x13\n",
            "mov x7, x20\n",
            "svc #0\n",
            fp_store!()
        ),
        want,
        got,
        0u64,
        shared(EP),
        Syscall::Recv.word(),
        0u64,
        0u64,
        0u64
    );
    finish(i, errors);
}

core::arch::global_asm!(
    r#"
    .text
    .balign 4
    .global ktest_fp_dump
// A thread started here by WriteRegisters: x0 = where to store its FP/SIMD
// registers (an FpState), then the word after it is set to 1 (done); then
// it waits on endpoint x10 with syscall x11 (Recv) for good.
ktest_fp_dump:
    mov     x9, x0
    stp     q0, q1, [x9, #0]
    stp     q2, q3, [x9, #32]
    stp     q4, q5, [x9, #64]
    stp     q6, q7, [x9, #96]
    stp     q8, q9, [x9, #128]
    stp     q10, q11, [x9, #160]
    stp     q12, q13, [x9, #192]
    stp     q14, q15, [x9, #224]
    stp     q16, q17, [x9, #256]
    stp     q18, q19, [x9, #288]
    stp     q20, q21, [x9, #320]
    stp     q22, q23, [x9, #352]
    stp     q24, q25, [x9, #384]
    stp     q26, q27, [x9, #416]
    stp     q28, q29, [x9, #448]
    stp     q30, q31, [x9, #480]
    mrs     x1, fpsr
    mrs     x2, fpcr
    str     x1, [x9, #512]
    str     x2, [x9, #520]
    mov     x1, #1
    str     x1, [x9, #528]
    dmb     ish
1:  mov     x0, x10
    mov     x7, x11
    svc     #0
    b       1b
"#
);

unsafe extern "C" {
    fn ktest_fp_dump();
}

/// Where `ktest_fp_dump` stores, and its done word right after.
#[repr(C, align(16))]
struct Dump(UnsafeCell<(FpState, u64)>);
// SAFETY: written by the one dumping thread, read by the driver after the
// thread ran (it runs above the driver's priority) and said so.
unsafe impl Sync for Dump {}
static DUMP: Dump = Dump(UnsafeCell::new((FpState::ZERO, 0)));

/// Restarts `t` (blocked or not) at `ktest_fp_dump` with WriteRegisters:
/// it stores its FP/SIMD registers to [`DUMP`] and blocks on `park`.
fn dump_through_write_registers(
    t: &crate::threads::Thread,
    park: Cap<Endpoint>,
) -> core::result::Result<FpState, Fail> {
    // SAFETY: nobody else touches DUMP while no dumping thread runs.
    unsafe {
        let d = &mut *DUMP.0.get();
        d.0 = FpState::ZERO;
        d.0.fpcr = u64::MAX;
        d.1 = 0;
    }
    let mut ctx = t.context(|_| {}, 0);
    ctx.set_pc(ktest_fp_dump as *const () as usize as Word);
    ctx.set_x(0, DUMP.0.get() as usize as Word);
    ctx.set_x(10, park.cptr());
    ctx.set_x(11, Syscall::Recv.word());
    check_ok!(t.tcb.write_registers(true, 0, ctx.0.len() as Word, &ctx));
    // SAFETY: the thread ran (priority above the driver's) and set the
    // done word after its stores.
    let (state, done) = unsafe { core::ptr::read_volatile(DUMP.0.get()) };
    check_eq!(done, 1);
    Ok(state)
}

/// Priority of the helpers that must run at once (above the driver).
const HIGH: Word = 150;

fn fp_registers_are_per_thread_across_yields(env: &mut Env) -> TestResult {
    // Three threads at the driver's priority and the driver round-robin:
    // each switch is an FPU-owner switch.
    for i in 0..3 {
        env.spawn(
            yielder,
            arg(i, 1 + i as u64),
            crate::runner::DRIVER_PRIORITY,
        )?;
    }
    let mut spins = 0;
    while (0..3).any(|i| shared(DONE + i) == 0) && spins < 10 * ROUNDS {
        libcerne::sel4::syscall::yield_now();
        spins += 1;
    }
    for i in 0..3 {
        check_eq!(shared(DONE + i), 1);
        check_eq!(shared(ERRORS + i), 0);
        check_eq!(stored(i), expected(1 + i as u64, ROUNDS));
    }
    Ok(())
}

fn fp_registers_are_per_thread_across_fastpath_ipc(env: &mut Env) -> TestResult {
    // A server and a client at one priority, both using FP/SIMD between
    // every Call and ReplyRecv: every fast-path switch is followed by an
    // FPU-owner switch.
    let ep = env.endpoint()?;
    set_shared(EP, ep.cptr());
    env.spawn(server, arg(0, 4), HIGH)?;
    env.spawn(client, arg(1, 5), HIGH)?;
    for i in 0..2 {
        check_eq!(shared(DONE + i), 1);
        check_eq!(shared(ERRORS + i), 0);
    }
    check_eq!(stored(0), expected(4, ROUNDS));
    check_eq!(stored(1), expected(5, ROUNDS));
    Ok(())
}

fn fp_registers_kept_across_suspend_and_resume(env: &mut Env) -> TestResult {
    // The owner blocks, is suspended, another thread takes the registers,
    // the first is resumed and goes on: its own registers come back.
    let ep = env.endpoint()?;
    set_shared(EP, ep.cptr());
    let a = env.spawn(holder, arg(0, 6), HIGH)?;
    check_ok!(a.tcb.suspend());
    let other = env.endpoint()?;
    set_shared(EP, other.cptr());
    env.spawn(holder, arg(1, 7), HIGH)?;
    check_ok!(a.tcb.resume());
    // Resume restarts its Recv on `ep` (or it has gone past it).
    ep.nb_send(0, &[], &[]);
    check_eq!(shared(DONE), 1);
    check_eq!(stored(0), pattern(6));
    // The second holder still waits, and still has its registers.
    other.send(0, &[], &[]);
    check_eq!(stored(1), pattern(7));
    Ok(())
}

fn fp_registers_kept_across_write_registers(env: &mut Env) -> TestResult {
    // WriteRegisters restarts a thread elsewhere without touching its
    // FP/SIMD state: once while another thread owns the registers, once
    // while it owns them itself.
    let ep = env.endpoint()?;
    let park = env.endpoint()?;
    set_shared(EP, ep.cptr());
    let a = env.spawn(holder, arg(0, 8), HIGH)?;
    env.spawn(yielder, arg(1, 9), HIGH)?;
    check_eq!(shared(DONE + 1), 1);
    check_eq!(dump_through_write_registers(&a, park)?, pattern(8));
    let b = env.spawn(holder, arg(2, 10), HIGH)?;
    check_eq!(dump_through_write_registers(&b, park)?, pattern(10));
    Ok(())
}

/// Loads its pattern, Sends on endpoint x22 (`shared(EP + 1)`), waits on
/// `shared(EP)`, stores: it is the FPU owner when it blocks, and whoever
/// it woke runs next without an FP/SIMD instruction in between.
fn signalling_holder(a: Word) {
    let (i, seed) = split(a);
    let (want, got) = buffers(i, seed);
    let errors = fp_run!(
        concat!(
            fp_load!(),
            "mov x0, x22\n",
            "mov x1, xzr\n",
            "mov x7, x20\n",
            "svc #0\n",
            "mov x0, x13\n",
            "mov x7, x21\n",
            "svc #0\n",
            fp_store!()
        ),
        want,
        got,
        0u64,
        shared(EP),
        Syscall::Send.word(),
        Syscall::Recv.word(),
        shared(EP + 1),
        0u64
    );
    finish(i, errors);
}

/// Waits on `shared(EP + 1)`, then at once (no FP/SIMD instruction in
/// between) revokes the untyped whose cptr is in shared word 29, and
/// records the reply's label + 1 in shared word 28.
fn revoker(_: Word) {
    use cerne_abi::invocation::InvocationLabel;
    use cerne_abi::message::MessageInfo;
    let info = MessageInfo::new(InvocationLabel::CNodeRevoke.word(), 0, 0, 2).word();
    let reply: Word;
    // SAFETY: a Recv and then a CNode_Revoke Call, each writing at most
    // x0..x5 (declared); the inputs are in registers the kernel preserves.
    unsafe {
        core::arch::asm!(
            "mov x0, x13",
            "mov x7, x20",
            "svc #0",
            "mov x0, x21",
            "mov x1, x22",
            "mov x2, x23",
            "mov x3, #64",
            "mov x7, x14",
            "svc #0",
            in("x13") shared(EP + 1),
            in("x20") Syscall::Recv.word(),
            in("x21") crate::runner::boot_caps().cnode.cptr(),
            in("x22") info,
            in("x23") shared(29),
            in("x14") Syscall::Call.word(),
            out("x0") _, lateout("x1") reply, out("x2") _, out("x3") _, out("x4") _,
            out("x5") _, out("x7") _,
            options(nostack),
        );
    }
    set_shared(28, MessageInfo::from_word(reply).label() + 1);
}

fn fp_registers_of_a_deleted_owner_go_nowhere(env: &mut Env) -> TestResult {
    // The owner's TCB is deleted while it owns the registers (by a thread
    // that runs no FP/SIMD instruction before the deletion) and a new TCB
    // is made in the same memory: the new thread starts with zeroed
    // FP/SIMD state, not the old one's.
    let ut = env.untyped(TCB_BITS as Word)?;
    let slot = env.slot();
    let ep = env.endpoint()?;
    let go = env.endpoint()?;
    let park = env.endpoint()?;
    set_shared(EP, ep.cptr());
    set_shared(EP + 1, go.cptr());
    set_shared(29, ut.cptr());
    env.spawn(revoker, 0, HIGH)?;
    check_ok!(ut.retype(ObjectType::Tcb, 0, env.root(), 0, 0, slot, 1));
    let a = env.thread_on(Cap::from_cptr(slot), signalling_holder, arg(0, 11), HIGH, 0)?;
    check_ok!(a.tcb.resume());
    check_eq!(shared(28), 1);
    check_eq!(shared(DONE), 0);
    check_ok!(ut.retype(ObjectType::Tcb, 0, env.root(), 0, 0, slot, 1));
    let b = env.thread_on(Cap::from_cptr(slot), holder, 0, HIGH, 0)?;
    check_eq!(dump_through_write_registers(&b, park)?, FpState::ZERO);
    Ok(())
}

/// Touches FP/SIMD once, then marks shared word 30.
fn fp_touch_once(_: Word) {
    // SAFETY: moves zero into d0, which is declared clobbered.
    unsafe { core::arch::asm!("fmov d0, xzr", out("v0") _, options(nostack)) };
    set_shared(30, 1);
}

fn fp_fault_leaves_the_owner_alone(env: &mut Env) -> TestResult {
    // A thread with seL4_TCBFlag_fpuDisabled faults on FP use while
    // another owns the registers; its handler enables FP and restarts it,
    // it takes the registers; the first thread's are intact.
    let ep = env.endpoint()?;
    set_shared(EP, ep.cptr());
    env.spawn(holder, arg(0, 12), HIGH)?;
    let handler = env.endpoint()?;
    let t = env.thread(fp_touch_once, 0, HIGH, handler.cptr())?;
    check_ok!(t.tcb.set_flags(0, 1));
    check_ok!(t.tcb.resume());
    check_eq!(shared(30), 0);
    let m = handler.recv();
    check_eq!(m.label(), FaultType::UserException.word());
    check_eq!(crate::tests::fault::exception_class(m.mr(3)), 0x07);
    check_ok!(t.tcb.set_flags(1, 0));
    ipc::reply(0, &[m.mr(0), m.mr(1), m.mr(2)], &[]);
    check!(
        shared(30) == 1,
        "the restarted thread did not run its FP instruction"
    );
    ep.send(0, &[], &[]);
    check_eq!(shared(DONE), 1);
    check_eq!(stored(0), pattern(12));
    Ok(())
}

tests![
    fp_registers_are_per_thread_across_yields,
    fp_registers_are_per_thread_across_fastpath_ipc,
    fp_registers_kept_across_suspend_and_resume,
    fp_registers_kept_across_write_registers,
    fp_registers_of_a_deleted_owner_go_nowhere,
    fp_fault_leaves_the_owner_alone,
];
