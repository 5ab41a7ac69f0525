//! syscall-fuzz: a hostile program. A victim thread ([`victim`]) issues
//! random system calls — numbers, argument registers, MessageInfo words,
//! cap pointers and IPC buffer contents drawn from a seeded PRNG
//! ([`plan`], [`rng`]) — while the root task, its fault handler, keeps it
//! going and checks that no authority leaks ([`audit`]). A partner thread
//! in the victim's CSpace ([`partner`]) sits at the other end of the
//! victim's endpoint, so that IPC with cap transfer happens too.
//!
//! How the root task keeps control without a timer: the victim runs at
//! priority 200 with MCP 0, its partner at 150, the root task at 100. So
//! the root task runs exactly when neither can: the victim faulted (the
//! fault message waits on the fault endpoint), blocked (Recv on something
//! nobody signals, a Send nobody takes), suspended itself, lowered its own
//! priority, or reached a stop mark, and the partner blocked too. Each
//! time, the root task takes any fault message with a non-blocking receive
//! and either replies (an UnknownSyscall reply that skips the `svc`; a
//! CapFault after TCB_WriteRegisters moved the restart PC past it) or
//! restarts the victim: Suspend, Configure, its fault endpoint cap minted
//! again, WriteRegisters to its entry, its priority, Resume
//! ([`world::Root::restart`]). Threads the victim makes can run at
//! priority 0 at most, below the root task, so they never run. What this
//! cannot break — a victim spinning without system calls — the victim's
//! code never does; the one way the kernel could make it loop for ever at
//! its priority (TCB_CopyRegisters onto itself) is avoided
//! ([`victim`]).
//!
//! The run is cut in epochs ([`config::EPOCH`] calls). Each starts with
//! fresh objects from one arena untyped ([`world`]) and ends with the
//! authority checks, a progress line, and a revoke of the arena. After the
//! last one the root task checks that the rest of the system works (an
//! IPC round trip with a new thread, a retype), prints
//! `[syscall-fuzz] N syscalls issued, seed S, M faults handled, authority
//! checks passed` and halts.
#![no_std]
#![no_main]

mod audit;
mod config;
mod layout;
mod partner;
mod plan;
mod rng;
mod victim;
mod world;

use cerne_abi::ipc_buffer::IpcBuffer;
use cerne_abi::message::MessageInfo;
use cerne_abi::object::{CapTag, ObjectType};
use cerne_abi::rights::CapRights;
use cerne_abi::slots::CAP_INIT_THREAD_VSPACE;
use cerne_abi::Word;
use core::sync::atomic::Ordering::SeqCst;
use libcerne::println;
use libcerne::sel4::syscall::{self, RecvRegs};
use libcerne::sel4::{ipc, ipc_buffer, Cap, Endpoint, Frame, Tcb, Unknown, UserContext};
use world::{fatal, must, root_cnode, root_tcb, Root, World, FULL_DEPTH};

/// What the root task has seen.
#[derive(Clone, Copy, Debug, Default)]
struct Stats {
    cap_faults: Word,
    unknown_syscalls: Word,
    user_exceptions: Word,
    vm_faults: Word,
    /// Messages the victim sent to its fault endpoint itself.
    messages: Word,
    /// Restarts of a victim that blocked, stopped or faulted.
    restarts: Word,
    /// Faults of the partner thread.
    partner_faults: Word,
    /// Fault messages whose contents disagree with what the victim did.
    anomalies: Word,
    /// Fault-format messages of a valid call (a stale fault, see
    /// [`check_fault_message`]).
    stale_faults: Word,
}

impl Stats {
    fn faults(&self) -> Word {
        self.cap_faults
            + self.unknown_syscalls
            + self.user_exceptions
            + self.vm_faults
            + self.partner_faults
    }
}

/// The restart PC of `tcb` (its `svc` when it is blocked in one).
fn pc_of(tcb: Cap<Tcb>) -> Word {
    must(
        "read a thread's PC",
        tcb.read_registers(false, 0, 1).map(|c| c.pc()),
    )
}

/// Message register `i` of a message just received.
fn mr(r: &RecvRegs, i: usize) -> Word {
    if i < 4 {
        r.mrs[i]
    } else {
        ipc_buffer::mr(i)
    }
}

/// The faulting PC a fault message names, if it has a fault's label and
/// length.
fn fault_pc(r: &RecvRegs) -> Option<Word> {
    use cerne_abi::fault::*;
    let (label, len) = (r.info.label(), r.info.clamped_length());
    if label == FaultType::CapFault.word() && (4..=7).contains(&len) {
        Some(mr(r, CAP_FAULT_IP))
    } else if label == FaultType::UnknownSyscall.word() && len == UNKNOWN_SYSCALL_LENGTH {
        Some(mr(r, UNKNOWN_SYSCALL_FAULT_IP))
    } else if (label == FaultType::UserException.word() && len == USER_EXCEPTION_LENGTH)
        || (label == FaultType::VmFault.word() && len == VM_FAULT_LENGTH)
    {
        Some(mr(r, 0))
    } else {
        None
    }
}

/// Checks a fault of the victim at its `svc` against the call it made
/// (docs/sel4-abi.md §7.2): the UnknownSyscall fault of an unknown number
/// carries x0..x7 as issued.
///
/// A fault message at the `svc` of a *valid* call is no fault of that
/// call: it is seL4's non-MCS behaviour for a thread whose fault IPC was
/// cancelled (the root task restarted it while it waited to send a fault):
/// the kernel keeps its `tcbFault`, and its next send is transferred as a
/// fault message built from its current registers. Those are counted, not
/// checked (docs/fuzz-findings.md).
fn check_fault_message(r: &RecvRegs, stats: &mut Stats) {
    use cerne_abi::fault::*;
    if r.info.label() != FaultType::UnknownSyscall.word() {
        return;
    }
    let got: [Word; 8] = core::array::from_fn(|i| mr(r, i));
    let number = mr(r, UNKNOWN_SYSCALL_SYSCALL);
    if cerne_abi::syscall::Syscall::from_word(got[7]).is_some() {
        stats.stale_faults += 1;
        return;
    }
    let regs: [Word; 8] = core::array::from_fn(|i| victim::LAST_REGS[i].load(SeqCst));
    // The message may be of an earlier call than the last one (the victim
    // ran on after a stale-fault send was taken): compare with the last
    // call only when it is the one the message names.
    if got[7] != number || (number == regs[7] && got != regs) {
        stats.anomalies += 1;
        println!(
            "\n[syscall-fuzz] ANOMALY: UnknownSyscall fault with MR0..MR7 {got:x?}, MR12 {number:#x}, for the call x0..x7 {regs:x?} (call #{})",
            victim::ISSUED.load(SeqCst) - 1
        );
    }
}

/// Handles one message from the fault endpoint while the epoch runs.
///
/// Badges do not say who sent it: the victim may point its own fault
/// endpoint at either badged cap, and may send to both itself. A message
/// is a fault of a thread when it names that thread's restart PC; the
/// victim's CapFaults and UnknownSyscalls at its `svc` are answered so
/// that it goes on past the `svc`, any other fault of the victim restarts
/// it, a fault of the partner parks the partner (and restarts the
/// victim, which is blocked too), and anything else is a message the
/// victim sent (it is blocked in that send: restart it).
fn handle_message(root: &Root, w: &World, r: &RecvRegs, stats: &mut Stats) {
    use cerne_abi::fault::*;
    let svc = victim::svc_address();
    let label = r.info.label();
    let fault_pc = fault_pc(r);
    let pc = pc_of(w.tcb);
    if config::traced(victim::ISSUED.load(SeqCst)) {
        println!(
            "[syscall-fuzz]   root: badge {:#x} info {:#x} MR0..3 {:x?}, victim pc {pc:#x}, partner pc {:#x}",
            r.badge,
            r.info.word(),
            r.mrs,
            pc_of(w.partner)
        );
    }
    if fault_pc == Some(pc) {
        if pc == svc {
            check_fault_message(r, stats);
        }
        if label == FaultType::CapFault.word() && pc == svc {
            // Replying restarts the victim at FaultIP: move FaultIP past the
            // `svc` first.
            stats.cap_faults += 1;
            let mut ctx = UserContext::default();
            ctx.set_pc(svc + 4);
            must(
                "skip the victim's svc",
                w.tcb.write_registers(false, 0, 1, &ctx),
            );
            syscall::reply(MessageInfo::new(0, 0, 0, 0), [0; 4]);
            return;
        }
        if label == FaultType::UnknownSyscall.word()
            && pc == svc
            && mr(r, UNKNOWN_SYSCALL_SYSCALL) == victim::LAST_REGS[7].load(SeqCst)
        {
            // The reply sets x0..x7, FaultIP, SP, ELR and SPSR: give back
            // what the message holds, with FaultIP past the `svc`.
            stats.unknown_syscalls += 1;
            let mut words = [0; UNKNOWN_SYSCALL_REPLY_REGS];
            for (i, w) in words.iter_mut().enumerate() {
                *w = mr(r, i);
            }
            words[UNKNOWN_SYSCALL_FAULT_IP] = svc + 4;
            ipc::reply(0, &words, &[]);
            return;
        }
        match label {
            l if l == FaultType::VmFault.word() => stats.vm_faults += 1,
            l if l == FaultType::UserException.word() => stats.user_exceptions += 1,
            l if l == FaultType::CapFault.word() => stats.cap_faults += 1,
            _ => stats.unknown_syscalls += 1,
        }
    } else if fault_pc.is_some() && fault_pc == Some(pc_of(w.partner)) {
        stats.partner_faults += 1;
        must("park the partner", w.partner.suspend());
    } else {
        stats.messages += 1;
    }
    stats.restarts += 1;
    root.restart(w);
}

/// Ends an epoch with both threads alive: the partner blocked in its IPC
/// on the epoch's endpoint, the victim blocked sending the fault of its
/// stop mark to the root task's endpoint. Revoking the arena deletes them
/// in those states; afterwards no message of theirs may be left queued.
fn teardown_live(root: &Root, w: &World) {
    root.restart_partner(w);
    root.restart(w);
    root.teardown();
    let r = syscall::nb_recv(root.fault_ep.cptr(), [0; 4]);
    if r.badge != 0 {
        println!(
            "[syscall-fuzz] after the revoke the fault endpoint still delivered badge {:#x}, label {}",
            r.badge,
            r.info.label()
        );
        fatal("a deleted thread's fault message stayed queued", &r.badge);
    }
}

/// Runs one epoch until the victim reaches its stop mark.
fn run_epoch(root: &Root, w: &World, stats: &mut Stats) {
    root.restart_partner(w);
    root.restart(w);
    loop {
        // The root task only runs when neither the victim nor its partner
        // can.
        let r = syscall::nb_recv(root.fault_ep.cptr(), [0; 4]);
        if victim::ISSUED.load(SeqCst) >= victim::STOP_AT.load(SeqCst) {
            return;
        }
        if r.badge == layout::FAULT_BADGE || r.badge == layout::PARTNER_FAULT_BADGE {
            handle_message(root, w, &r, stats);
        } else {
            // Both blocked (or the victim lowered its priority): start
            // both afresh, the partner first (it runs until it blocks).
            if config::traced(victim::ISSUED.load(SeqCst)) {
                println!(
                    "[syscall-fuzz]   root: nothing queued; restart both (victim pc {:#x}, partner pc {:#x})",
                    pc_of(w.tcb),
                    pc_of(w.partner)
                );
            }
            stats.restarts += 1;
            root.restart_partner(w);
            root.restart(w);
        }
    }
}

const HELPER_STACK: usize = 16 * 1024;
#[repr(C, align(16))]
struct Stack([u8; HELPER_STACK]);
static mut HELPER_STACK_MEM: Stack = Stack([0; HELPER_STACK]);
#[repr(C, align(4096))]
struct Page([u8; 4096]);
static mut HELPER_IPC: Page = Page([0; 4096]);

/// The echo server of the final IPC check: replies to each call with
/// label + 1 and (MR0 + 1, length, badge).
extern "C" fn helper_entry(ep: Word) -> ! {
    let ep = Cap::<Endpoint>::from_cptr(ep);
    let mut m = ep.recv();
    loop {
        let words = [m.mr(0) + 1, m.len() as Word, m.badge];
        m = ep.reply_recv(m.label() + 1, &words, &[]);
    }
}

/// After fuzzing: an IPC round trip with a new thread, then a retype.
fn afterwards(root: &mut Root) {
    const BADGE: Word = 0xbeef;
    let base = root.take_slots(3);
    let (tcb, ep, badged) = (
        Cap::<Tcb>::from_cptr(base),
        Cap::<Endpoint>::from_cptr(base + 1),
        Cap::<Endpoint>::from_cptr(base + 2),
    );
    must(
        "retype the helper TCB",
        root.private
            .retype(ObjectType::Tcb, 0, root_cnode(), 0, 0, tcb.cptr(), 1),
    );
    must(
        "retype the helper endpoint",
        root.private
            .retype(ObjectType::Endpoint, 0, root_cnode(), 0, 0, ep.cptr(), 1),
    );
    must(
        "mint a badged endpoint",
        root_cnode().mint(
            badged.cptr(),
            FULL_DEPTH,
            root_cnode(),
            ep.cptr(),
            FULL_DEPTH,
            CapRights::ALL,
            BADGE,
        ),
    );
    let buffer = (&raw const HELPER_IPC) as Word;
    must(
        "configure the helper",
        tcb.configure(
            0,
            root_cnode(),
            0,
            Cap::from_cptr(CAP_INIT_THREAD_VSPACE as Word),
            0,
            buffer,
            world::image_frame(root.bi, buffer),
        ),
    );
    let mut ctx = UserContext::default();
    ctx.set_pc(helper_entry as *const () as Word);
    ctx.set_sp((&raw const HELPER_STACK_MEM) as Word + HELPER_STACK as Word);
    ctx.set_x(0, ep.cptr());
    ctx.0[UserContext::TPIDR_EL0] = buffer;
    must(
        "write the helper's registers",
        tcb.write_registers(false, 0, ctx.0.len() as Word, &ctx),
    );
    must(
        "set the helper's priority",
        tcb.set_priority(root_tcb(), layout::ROOT_PRIORITY + 50),
    );
    must("resume the helper", tcb.resume());
    let reply = badged.call(0x41, &[41, 1, 2, 3, 4, 5], &[]);
    let got = [reply.mr(0), reply.mr(1), reply.mr(2)];
    if reply.label() != 0x42 || reply.len() != 3 || got != [42, 6, BADGE] {
        println!(
            "[syscall-fuzz] IPC round trip: label {:#x}, {} words {got:x?}; expected 0x42, 3 words [2a, 6, beef]",
            reply.label(),
            reply.len()
        );
        fatal("the IPC round trip after fuzzing failed", &reply.info);
    }
    println!(
        "[syscall-fuzz] after fuzzing: IPC round trip ok (label 0x41 -> {:#x}, MR0 41 -> {}, badge {:#x})",
        reply.label(),
        got[0],
        got[2]
    );
    must("suspend the helper", tcb.suspend());

    const N: Word = 8;
    let objs = root.take_slots(N + 2);
    must(
        "retype endpoints after fuzzing",
        root.private
            .retype(ObjectType::Endpoint, 0, root_cnode(), 0, 0, objs, N),
    );
    must(
        "retype a notification after fuzzing",
        root.private
            .retype(ObjectType::Notification, 0, root_cnode(), 0, 0, objs + N, 1),
    );
    must(
        "retype a frame after fuzzing",
        root.private.retype(
            ObjectType::SmallPage,
            0,
            root_cnode(),
            0,
            0,
            objs + N + 1,
            1,
        ),
    );
    for (i, want) in (0..N)
        .map(|_| CapTag::Endpoint)
        .chain([CapTag::Notification, CapTag::Frame])
        .enumerate()
    {
        let got = Cap::<Unknown>::from_cptr(objs + i as Word).identify();
        if got != want.word() {
            println!(
                "[syscall-fuzz] retyped slot {}: tag {got}, expected {want:?}",
                objs + i as Word
            );
            fatal("a retype after fuzzing gave the wrong caps", &got);
        }
    }
    let pa = must(
        "GetAddress of the new frame",
        Cap::<Frame>::from_cptr(objs + N + 1).get_address(),
    );
    if pa == 0 || pa & 0xfff != 0 {
        fatal("the new frame has a bad address", &pa);
    }
    println!(
        "[syscall-fuzz] after fuzzing: retype ok ({N} endpoints, 1 notification, 1 frame at {pa:#x})"
    );
}

fn main(bootinfo: usize, _cycles: u64) -> ! {
    // SAFETY: the address the kernel passed in x0.
    let bi = unsafe { libcerne::bootinfo::from_entry_arg(bootinfo) };
    // SAFETY: BootInfo names this thread's IPC buffer, used by nobody else.
    unsafe { ipc_buffer::set_ipc_buffer(bi.ipc_buffer as *mut IpcBuffer) };
    println!(
        "[syscall-fuzz] {} syscalls, seed {:#x}, epochs of {}, trace from {:?}",
        config::SYSCALLS,
        config::SEED,
        config::EPOCH,
        config::TRACE_FROM
    );
    let boot = audit::check_boot_caps(bi);
    println!("[syscall-fuzz] boot caps: {boot} root CNode slots as BootInfo describes them");
    must(
        "lower the root task's priority",
        root_tcb().set_priority(root_tcb(), layout::ROOT_PRIORITY),
    );
    let mut root = Root::new(bi);
    let mut stats = Stats::default();
    let mut epoch: Word = 0;
    let mut checked: Word = 0;
    while victim::ISSUED.load(SeqCst) < config::SYSCALLS {
        let issued = victim::ISSUED.load(SeqCst);
        victim::STOP_AT.store((issued + config::EPOCH).min(config::SYSCALLS), SeqCst);
        let w = root.setup();
        audit::snapshot(root.used_end());
        run_epoch(&root, &w, &mut stats);
        must("suspend the victim", w.tcb.suspend());
        must("suspend the partner", w.partner.suspend());
        let last = victim::ISSUED.load(SeqCst) >= config::SYSCALLS;
        let full = last || epoch.is_multiple_of(config::FULL_SCAN_EVERY);
        let slots = audit::check_root(bi, root.used_end(), full);
        let held = audit::check_victim(&w, root.scratch);
        checked += 1;
        println!(
            "\n[syscall-fuzz] epoch {epoch}: {}/{} syscalls, faults: {} cap, {} unknown-syscall, {} user-exception, {} vm; {} messages, {} stale-fault messages, {} restarts; partner: {} received, {} faults; authority ok ({} root slots, victim holds {} caps, {} frames)",
            victim::ISSUED.load(SeqCst),
            config::SYSCALLS,
            stats.cap_faults,
            stats.unknown_syscalls,
            stats.user_exceptions,
            stats.vm_faults,
            stats.messages,
            stats.stale_faults,
            stats.restarts,
            partner::RECEIVED.load(SeqCst),
            stats.partner_faults,
            slots,
            held.caps,
            held.frames
        );
        teardown_live(&root, &w);
        epoch += 1;
    }
    if stats.anomalies != 0 {
        fatal(
            "fault messages disagreed with the calls that raised them",
            &stats.anomalies,
        );
    }
    afterwards(&mut root);
    println!(
        "[syscall-fuzz] {} syscalls issued, seed {:#x}, {} faults handled, authority checks passed ({checked} audits)",
        victim::ISSUED.load(SeqCst),
        config::SEED,
        stats.faults()
    );
    syscall::debug_halt()
}

libcerne::entry!(main);
