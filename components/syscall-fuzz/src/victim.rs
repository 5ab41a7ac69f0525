//! The victim thread: it draws one system call after another from the PRNG
//! ([`crate::plan`]) and issues it with every argument register and its IPC
//! buffer set as drawn, until the root task's stop mark is reached.
//!
//! It shares the root task's VSpace and image, but not its CSpace. All of
//! its state lives in statics (the PRNG state, the count of calls issued),
//! so the root task may restart it at [`victim_entry`] at any time and the
//! sequence carries on where it was: a run is reproduced from its seed.
//!
//! The system call itself is the assembly stub `fuzz_svc`, which saves the
//! callee-saved registers, SP and LR in a static before `svc #0` and
//! reloads them after it: the victim may rewrite its own registers
//! (TCB_CopyRegisters onto itself) and must still find its stack.
//! `fuzz_stop` is the `udf` the victim executes to hand control back at a
//! stop mark.

use crate::config;
use crate::plan::{self, Plan};
use crate::rng::Rng;
use cerne_abi::error::Error;
use cerne_abi::invocation::InvocationLabel as L;
use cerne_abi::ipc_buffer::IpcBuffer;
use cerne_abi::message::MessageInfo;
use cerne_abi::object::CapTag;
use cerne_abi::syscall::Syscall;
use cerne_abi::Word;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use libcerne::println;
use libcerne::sel4::syscall::{debug_cap_identify, raw_syscall};

/// System calls issued so far (incremented just before each `svc`).
pub static ISSUED: AtomicU64 = AtomicU64::new(0);
/// The victim stops (executes `fuzz_stop`) once `ISSUED` reaches this.
pub static STOP_AT: AtomicU64 = AtomicU64::new(0);
/// The PRNG state.
pub static RNG_STATE: AtomicU64 = AtomicU64::new(config::SEED);
/// True while the victim's TCB has the IPC buffer the root task gave it
/// (no Configure or SetIPCBuffer issued since): DebugNameThread is only
/// safe then.
pub static BUFFER_PRISTINE: AtomicBool = AtomicBool::new(false);
/// x0..x7 of the call in flight (the root task reads them to tell a fault
/// from a message the victim sent to the fault endpoint itself).
pub static LAST_REGS: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];

const STACK_SIZE: usize = 32 * 1024;
const PAGE_SIZE: usize = 4096;

#[repr(C, align(16))]
struct Stack([u8; STACK_SIZE]);
static mut STACK: Stack = Stack([0; STACK_SIZE]);

#[repr(C, align(4096))]
struct Page([u8; PAGE_SIZE]);
static mut IPC_PAGE: Page = Page([0; PAGE_SIZE]);

/// Where `fuzz_svc` keeps x18..x30 and SP across the system call.
#[unsafe(no_mangle)]
static mut FUZZ_SAVE: [Word; 14] = [0; 14];

/// x0..x5 as the last system call left them (for the trace).
#[unsafe(no_mangle)]
static mut FUZZ_RESULT: [Word; 6] = [0; 6];

core::arch::global_asm!(
    r#"
    .text
    .global fuzz_svc
    .global fuzz_svc_insn
    .global fuzz_stop
// fuzz_svc(regs: *const [u64; 8]): issues `svc #0` with x0..x7 = regs.
fuzz_svc:
    adrp    x9, FUZZ_SAVE
    add     x9, x9, :lo12:FUZZ_SAVE
    stp     x19, x20, [x9, #0]
    stp     x21, x22, [x9, #16]
    stp     x23, x24, [x9, #32]
    stp     x25, x26, [x9, #48]
    stp     x27, x28, [x9, #64]
    stp     x29, x30, [x9, #80]
    mov     x10, sp
    stp     x10, x18, [x9, #96]
    mov     x8, x0
    ldp     x0, x1, [x8, #0]
    ldp     x2, x3, [x8, #16]
    ldp     x4, x5, [x8, #32]
    ldp     x6, x7, [x8, #48]
fuzz_svc_insn:
    svc     #0
    adrp    x9, FUZZ_RESULT
    add     x9, x9, :lo12:FUZZ_RESULT
    stp     x0, x1, [x9, #0]
    stp     x2, x3, [x9, #16]
    stp     x4, x5, [x9, #32]
    adrp    x9, FUZZ_SAVE
    add     x9, x9, :lo12:FUZZ_SAVE
    ldp     x19, x20, [x9, #0]
    ldp     x21, x22, [x9, #16]
    ldp     x23, x24, [x9, #32]
    ldp     x25, x26, [x9, #48]
    ldp     x27, x28, [x9, #64]
    ldp     x29, x30, [x9, #80]
    ldp     x10, x18, [x9, #96]
    mov     sp, x10
    ret
// fuzz_stop(): an undefined instruction, the victim's way to stop.
fuzz_stop:
    udf     #0
    b       fuzz_stop
"#
);

unsafe extern "C" {
    fn fuzz_svc(regs: *const [Word; 8]);
    fn fuzz_stop();
    static fuzz_svc_insn: u8;
}

/// Address of the victim's one `svc` instruction.
pub fn svc_address() -> Word {
    (&raw const fuzz_svc_insn) as Word
}

/// Where the victim starts.
pub fn entry_address() -> Word {
    victim_entry as *const () as Word
}

/// Top of the victim's stack.
pub fn stack_top() -> Word {
    (&raw const STACK) as Word + STACK_SIZE as Word
}

/// The victim's IPC buffer vaddr (a page of the root task's image).
pub fn ipc_buffer() -> Word {
    (&raw const IPC_PAGE) as Word
}

/// Word `index` of the victim's IPC buffer.
fn buffer_word(index: usize) -> *mut Word {
    assert!(index < core::mem::size_of::<IpcBuffer>() / 8);
    ((&raw mut IPC_PAGE) as *mut Word).wrapping_add(index)
}

fn set_buffer_word(index: usize, value: Word) {
    // SAFETY: `buffer_word` stays inside the victim's IPC page, which only
    // the victim writes while it runs (the kernel writes it too, hence
    // volatile).
    unsafe { buffer_word(index).write_volatile(value) }
}

const MSG: usize = core::mem::offset_of!(IpcBuffer, msg) / 8;
const CAPS: usize = core::mem::offset_of!(IpcBuffer, caps_or_badges) / 8;
const RECV_CNODE: usize = core::mem::offset_of!(IpcBuffer, receive_cnode) / 8;

/// Puts the plan's message words, extra-cap cptrs and receive path in the
/// IPC buffer.
fn fill_buffer(p: &Plan) {
    for (i, w) in p.mrs.iter().enumerate().take(p.len) {
        set_buffer_word(MSG + i, *w);
    }
    for (i, c) in p.caps.iter().enumerate() {
        set_buffer_word(CAPS + i, *c);
    }
    for (i, r) in p.recv.iter().enumerate() {
        set_buffer_word(RECV_CNODE + i, *r);
    }
}

/// DebugNameThread halts the machine unless x0 names a TCB and the thread
/// has its IPC buffer with a NUL-terminated name in it: keep it only when
/// both hold, else issue DebugCapIdentify on the same cptr instead.
fn guard_name_thread(p: &mut Plan, rng: &mut Rng) {
    if p.number() != Syscall::DebugNameThread.word() {
        return;
    }
    if !BUFFER_PRISTINE.load(SeqCst) || debug_cap_identify(p.regs[0]) != CapTag::Thread.word() {
        p.regs[7] = Syscall::DebugCapIdentify.word();
        return;
    }
    // A name of 0..23 printable characters, NUL-terminated, from msg[0].
    let n = rng.below(24) as usize;
    let mut words = [0 as Word; 3];
    for i in 0..n {
        words[i / 8] |= (b'a' as Word + rng.below(26)) << (8 * (i % 8));
    }
    p.mrs[..3].copy_from_slice(&words);
    p.len = p.len.max(3);
}

/// TCB_CopyRegisters onto the calling thread itself with `transfer_frame`
/// sets its restart PC to its own `svc`, so it re-issues the same call
/// for ever at a priority above the root task: a livelock seL4 has too,
/// which would end the experiment. When the call is a CopyRegisters with
/// that bit to a TCB, probe the target with ReadRegisters (IllegalOperation
/// exactly when it is the caller) and clear the bit if it is this thread.
fn guard_copy_registers(p: &mut Plan) {
    const TRANSFER_FRAME: Word = 1 << 2;
    if !p.is_invocation()
        || p.info().label() != L::TcbCopyRegisters.word()
        || p.info().clamped_length() == 0
        || p.regs[2] & TRANSFER_FRAME == 0
        || debug_cap_identify(p.regs[0]) != CapTag::Thread.word()
    {
        return;
    }
    let probe = MessageInfo::new(L::TcbReadRegisters.word(), 0, 0, 2);
    let r = raw_syscall(Syscall::Call.word(), [p.regs[0], probe.word(), 0, 1, 0, 0]);
    if MessageInfo::from_word(r[1]).label() == Error::IllegalOperation.word() {
        p.regs[2] &= !TRANSFER_FRAME;
        p.mrs[0] = p.regs[2];
    }
}

/// Prints the call about to be issued (trace mode).
fn trace(n: Word, p: &Plan) {
    let r = &p.regs;
    println!(
        "[syscall-fuzz] #{n} x7 {:#x} x0 {:#x} x1 {:#x} x2 {:#x} x3 {:#x} x4 {:#x} x5 {:#x} x6 {:#x} buf msg[4..{}] {:x?} caps {:x?} recv {:x?}",
        r[7],
        r[0],
        r[1],
        r[2],
        r[3],
        r[4],
        r[5],
        r[6],
        p.len.max(4),
        &p.mrs[4.min(p.len)..p.len.min(12)],
        p.caps,
        p.recv
    );
}

/// The victim's main loop (also where every restart puts it).
pub extern "C" fn victim_entry() -> ! {
    let env = plan::Env {
        ipc_buffer: ipc_buffer(),
    };
    loop {
        let n = ISSUED.load(SeqCst);
        if n >= STOP_AT.load(SeqCst) {
            // SAFETY: `fuzz_stop` only executes `udf`; the root task takes
            // the fault and restarts this thread at `victim_entry`.
            unsafe { fuzz_stop() };
            continue;
        }
        let mut rng = Rng::new(RNG_STATE.load(SeqCst));
        let mut p = Plan::new();
        plan::generate(&mut rng, &env, &mut p);
        guard_name_thread(&mut p, &mut rng);
        guard_copy_registers(&mut p);
        RNG_STATE.store(rng.state(), SeqCst);
        let label = p.info().label();
        if p.is_invocation()
            && (label == L::TcbConfigure.word() || label == L::TcbSetIpcBuffer.word())
        {
            BUFFER_PRISTINE.store(false, SeqCst);
        }
        fill_buffer(&p);
        for (slot, r) in LAST_REGS.iter().zip(p.regs) {
            slot.store(r, SeqCst);
        }
        if config::traced(n) {
            trace(n, &p);
        }
        ISSUED.store(n + 1, SeqCst);
        // SAFETY: `fuzz_svc` issues the system call and restores every
        // callee-saved register, SP and LR from its own save area, so the
        // C ABI holds whatever the kernel does to this thread's registers.
        // The kernel may write the IPC page (`IPC_PAGE`), which this code
        // only reads and writes volatile.
        unsafe { fuzz_svc(&p.regs) };
        if config::traced(n) {
            // SAFETY: only this thread writes FUZZ_RESULT (in `fuzz_svc`,
            // which has returned); a plain copy of six words.
            let r = unsafe { (&raw const FUZZ_RESULT).read_volatile() };
            println!(
                "[syscall-fuzz]   -> x0 {:#x} x1 {:#x} x2 {:#x} x3 {:#x}",
                r[0], r[1], r[2], r[3]
            );
        }
    }
}
