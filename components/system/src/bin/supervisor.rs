//! The supervisor (docs/supervisor.md): the fault handler of every
//! component the description marks `restart = "always"`, and the system's
//! clock.
//!
//! It starts each supervised component itself (the spec leaves them
//! suspended) after reading its initial registers. On a fault, a panic
//! (a fault with libcerne's panic mark) or a missed heartbeat it stops the
//! component and, after MINIX 3's back-off (at once, then doubling,
//! capped), rebuilds it in place from the spec: every private page back to
//! the original image (from the pristine copies the spec gives this
//! component) or to zeros, every CSpace slot emptied and copied again from
//! the component's template CNode (reply caps it had saved are answered
//! `Restarted` first), its registers as at boot with x0 = its incarnation.
//! A component that fails `restart_limit` times in a row is held: its
//! clients' calls are answered `Unavailable` by this component.
//!
//! It owns the EL1 physical timer: a tick every [`TICK_US`], which drives
//! back-offs and heartbeats and is passed on to the policy server every
//! [`POLICY_EVERY`] ticks.
//!
//! Requests on the `supervisor` channel (libcerne::supervisor: inject,
//! status, caps, report) are served between events: the channel is polled
//! at every wake-up, so an answer waits at most one tick.
#![no_std]
#![no_main]

use core::fmt::Write;

use libcerne::abi::console::REQUEST_LOST_MARK;
use libcerne::abi::rights::CapRights;
use libcerne::generic_timer;
use libcerne::interface::{message_words, ProtocolError, Reply, SharedBuffer, MAX_WORDS};
use libcerne::sel4::benchmark::benchmark_get_thread_utilisation;
use libcerne::sel4::{self, ipc, CNode, Cap, Endpoint, IrqHandler, Notification, Tcb, UserContext};
use libcerne::supervision::{
    HELD, INJECT_REQUEST_AT, PANIC_MARK, PANIC_MESSAGE_AT, PANIC_MESSAGE_MAX,
};
use libcerne::supervisor::{
    fault_cause, protocol, Backoff, CapsOf, Decision, Inject, Injected, Injection, Named, Out,
    Settle, State, Status, SupervisorError, Written,
};

include!(concat!(env!("OUT_DIR"), "/supervisor.rs"));

use supervised::{Run, Supervised, COMPONENTS};

/// The clock's period.
const TICK_US: u64 = 10_000;
/// The policy server's period, in ticks.
const POLICY_EVERY: u64 = libcerne::policy::PERIOD_US / TICK_US;
/// Heartbeats missed in a row, while the component got the CPU, that make
/// it hung (it runs but does not come back to its loop).
const MISSES: u32 = 2;
/// Heartbeats missed in a row without using the CPU that make it hung
/// (blocked for good). Fewer would blame a component that a hung one of a
/// higher priority starves.
const IDLE_MISSES: u32 = 8;
/// Supervised components at most.
const MAX_CHILDREN: usize = 16;
/// The 36 registers of a UserContext.
const REGISTERS: u64 = 36;
/// Runs of image pages of one component at most (its PT_LOAD segments
/// cut where rights or fills change).
const MAX_IMAGE_RUNS: usize = 16;
/// Every component's own VSpace cap is in its slot 3 (docs/systems.md).
const VSPACE_SLOT: u64 = 3;
/// A free slot of this CSpace for caps moved out of a component's.
const SCRATCH: u64 = caps::FIRST_FREE;
/// Every bit of this component's bound notification: its clock and the
/// heartbeat answers (all above the badges of its clients).
const SIGNAL_BITS: u64 = {
    let mut bits = badges::SUPERVISOR_TICK;
    let mut i = 0;
    while i < COMPONENTS.len() {
        bits |= COMPONENTS[i].alive;
        i += 1;
    }
    bits
};

/// Where the reply cap of a waiting `settle` is kept.
const SETTLE_SLOT: u64 = caps::FIRST_FREE + 1;
/// seL4_DebugCapIdentify's number for a reply cap.
const REPLY_CAP_TYPE: u64 = libcerne::abi::object::CapTag::Reply as u64;

/// Why a component is being restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cause {
    /// A fault message: its cause, address and pc.
    Fault(&'static str, u64, u64),
    /// A panic (the message is printed when it is found).
    Panic,
    /// No heartbeat answer for this many ms.
    Hang(u64),
    /// Its clients got no answer within an injection's watchdog.
    Stuck(u64),
}

impl core::fmt::Display for Cause {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Fault(what, address, pc) => write!(f, "{what} at {address:#x}, pc {pc:#x}"),
            Self::Panic => f.write_str("panic"),
            Self::Hang(ms) => write!(f, "hang (no heartbeat for {ms} ms)"),
            Self::Stuck(ms) => write!(f, "stuck (its clients got no answer for {ms} ms)"),
        }
    }
}

/// One supervised component, as this supervisor follows it.
struct Child {
    spec: &'static Supervised,
    /// Its ELF image's pages, as mirrored here (from its program headers).
    image: [Run; MAX_IMAGE_RUNS],
    image_len: usize,
    initial: UserContext,
    state: State,
    incarnation: u64,
    failures: u64,
    stuck: u64,
    backoff: Backoff,
    /// When a Restarting child restarts (ms).
    restart_at: u64,
    /// The generic-timer count of the last failure.
    failed_at: u64,
    cause: Cause,
    /// Restarted, and no heartbeat answer yet.
    awaiting_ready: bool,
    last_recovery_ticks: u64,
    /// Heartbeat: the last ping answered, misses in a row, next ping (ms).
    answered: bool,
    missed: u32,
    idle_missed: u32,
    next_ping: u64,
    /// Its CPU time when it was last pinged.
    cpu_at_ping: u64,
}

impl Child {
    /// Every run of its private pages: stack, IPC buffer and heap, then
    /// its image.
    fn runs(&self) -> impl Iterator<Item = &Run> {
        self.spec
            .runs
            .iter()
            .chain(self.image[..self.image_len].iter())
    }
    fn tcb(&self) -> Cap<Tcb> {
        Cap::from_cptr(self.spec.tcb)
    }
    fn cnode(&self) -> Cap<CNode> {
        Cap::from_cptr(self.spec.cnode)
    }
    fn template(&self) -> Cap<CNode> {
        Cap::from_cptr(self.spec.template)
    }
    fn cpu_time(&self) -> u64 {
        benchmark_get_thread_utilisation(self.tcb())
            .map(|u| u.thread_time)
            .unwrap_or(0)
    }
    fn ping(&mut self, now_ms: u64) {
        self.cpu_at_ping = self.cpu_time();
        Cap::<Notification>::from_cptr(self.spec.heartbeat).signal();
        self.answered = false;
        self.next_ping = now_ms + self.spec.heartbeat_ms.max(1);
    }
}

/// The console (a client of the console driver, which is not supervised).
struct Log(libcerne::console::Console);

impl Log {
    fn line(&mut self, args: core::fmt::Arguments<'_>) {
        let _ = self.0.write_fmt(args);
        let _ = self.0.write_str("\n");
    }
}

/// A `settle` waiting for its answer.
#[derive(Clone, Copy)]
struct Settling {
    child: usize,
    incarnation: u64,
    deadline_ms: u64,
}

/// An injection's watchdog.
#[derive(Clone, Copy)]
struct Watch {
    child: usize,
    set_ms: u64,
    deadline_ms: u64,
    /// Already fired once: the component was restarted as stuck.
    restarted: bool,
}

struct Supervisor {
    watch: Option<Watch>,
    /// Signal words of the bound notification that a receive on another
    /// endpoint took (seL4 completes a pending bound notification on any
    /// Recv of the thread): handled like those of the main receive.
    swallowed: u64,
    /// The clock: its period and next deadline in counter ticks.
    period: u64,
    deadline: u64,
    settling: Option<Settling>,
    children: heapless_children::Children,
    log: Log,
    own_cnode: Cap<CNode>,
    per_ms: u64,
    ticks: u64,
}

/// A fixed array of children (no heap in this component).
mod heapless_children {
    use super::{Child, MAX_CHILDREN};

    pub struct Children {
        slots: [Option<Child>; MAX_CHILDREN],
        len: usize,
    }

    impl Children {
        pub fn new() -> Self {
            Self {
                slots: [const { None }; MAX_CHILDREN],
                len: 0,
            }
        }
        pub fn push(&mut self, c: Child) {
            if self.len < MAX_CHILDREN {
                self.slots[self.len] = Some(c);
                self.len += 1;
            }
        }
        pub fn iter(&self) -> impl Iterator<Item = &Child> {
            self.slots[..self.len].iter().flatten()
        }
        pub fn get_mut(&mut self, i: usize) -> Option<&mut Child> {
            self.slots.get_mut(i).and_then(Option::as_mut)
        }
        pub fn len(&self) -> usize {
            self.len
        }
    }
}

impl Supervisor {
    fn now_ms(&self) -> u64 {
        generic_timer::physical_count() / self.per_ms.max(1)
    }

    fn index_of_badge(&self, badge: u64) -> Option<usize> {
        self.children.iter().position(|c| c.spec.index == badge)
    }

    fn index_of_name(&self, name: &str) -> Option<usize> {
        self.children.iter().position(|c| c.spec.name == name)
    }

    /// A failure of child `i`: stop it, then restart or hold it.
    fn failed(&mut self, i: usize, cause: Cause) {
        let now = self.now_ms();
        let count = generic_timer::physical_count();
        let Some(c) = self.children.get_mut(i) else {
            return;
        };
        let _ = c.tcb().suspend();
        c.failures += 1;
        c.cause = cause;
        c.failed_at = count;
        c.awaiting_ready = false;
        let (name, incarnation) = (c.spec.name, c.incarnation);
        let message = if cause == Cause::Panic {
            panic_message(c)
        } else {
            PanicText::empty()
        };
        let decision = c.backoff.on_failure(now);
        let in_row = c.backoff.in_row();
        match decision {
            Decision::Hold => c.state = State::Held,
            Decision::RestartAt(t) => {
                c.state = State::Restarting;
                c.restart_at = t;
            }
        }
        if cause == Cause::Panic {
            self.log.line(format_args!(
                "[super] {name} failed: panic: {} (incarnation {incarnation})",
                message.as_str()
            ));
        } else {
            self.log.line(format_args!(
                "[super] {name} failed: {cause} (incarnation {incarnation})"
            ));
        }
        match decision {
            Decision::Hold => {
                self.log.line(format_args!(
                    "[super] {name} held: {in_row} failures in a row; it stays stopped and its clients get `unavailable`"
                ));
                self.start_held(i);
            }
            Decision::RestartAt(t) if t <= now => self.restart(i),
            Decision::RestartAt(t) => self.log.line(format_args!(
                "[super] {name} restarts in {} ms (failure {in_row} in a row)",
                t - now
            )),
        }
    }

    /// Rebuilds held child `i` and starts it once as incarnation
    /// [`HELD`]: it answers its unanswered request `Unavailable` and
    /// suspends itself.
    fn start_held(&mut self, i: usize) {
        let own = self.own_cnode;
        let Some(c) = self.children.get_mut(i) else {
            return;
        };
        restore_memory(c);
        restore_cspace(c, own);
        let _ = restore_tcb(c, own);
        let mut regs = c.initial;
        regs.set_x(0, HELD);
        let _ = c.tcb().write_registers(true, 0, REGISTERS, &regs);
    }

    /// Rebuilds child `i` from the spec and starts it.
    fn restart(&mut self, i: usize) {
        let now = self.now_ms();
        let own = self.own_cnode;
        let Some(c) = self.children.get_mut(i) else {
            return;
        };
        let _ = c.tcb().suspend();
        restore_memory(c);
        restore_cspace(c, own);
        if let Err(what) = restore_tcb(c, own) {
            let name = c.spec.name;
            self.log.line(format_args!(
                "[super] {name}: its thread's settings could not be set again: {what}"
            ));
        }
        let Some(c) = self.children.get_mut(i) else {
            return;
        };
        c.incarnation += 1;
        let mut regs = c.initial;
        regs.set_x(0, c.incarnation);
        if let Err(e) = c.tcb().write_registers(true, 0, REGISTERS, &regs) {
            let name = c.spec.name;
            c.state = State::Held;
            self.log.line(format_args!(
                "[super] {name} cannot be restarted: WriteRegisters: {e:?}; held"
            ));
            return;
        }
        c.state = State::Running;
        c.backoff.restarted(now);
        c.awaiting_ready = true;
        c.missed = 0;
        c.idle_missed = 0;
        c.ping(now);
    }

    /// A heartbeat answer from child `i`.
    fn alive(&mut self, i: usize) {
        let per_ms = self.per_ms;
        let count = generic_timer::physical_count();
        let Some(c) = self.children.get_mut(i) else {
            return;
        };
        c.answered = true;
        c.missed = 0;
        c.idle_missed = 0;
        if c.awaiting_ready {
            c.awaiting_ready = false;
            let ticks = count.wrapping_sub(c.failed_at);
            c.last_recovery_ticks = ticks;
            let (name, cause, incarnation) = (c.spec.name, c.cause, c.incarnation);
            // Under `-icount shift=0` a guest instruction takes 1 ns.
            let micros = ticks * 1000 / per_ms.max(1);
            self.log.line(format_args!(
                "[super] restarted {name}: cause {cause}; restart {incarnation}; recovered in {}.{:03} ms",
                micros / 1000,
                micros % 1000
            ));
        }
    }

    /// A signal word of the bound notification: the clock, heartbeat
    /// answers.
    fn signals(&mut self, word: u64, timer: Cap<IrqHandler>) {
        if word & badges::SUPERVISOR_TICK != 0 {
            // The level interrupt drops once the timer is stopped; then the
            // next deadline (skipping any missed), and the ack.
            generic_timer::stop_physical_timer();
            let now = generic_timer::physical_count();
            while self.deadline <= now {
                self.deadline += self.period;
            }
            generic_timer::arm_physical_timer(self.deadline);
            let _ = timer.ack();
            self.tick();
        }
        for i in 0..self.children.len() {
            let alive = self.children.get_mut(i).map_or(0, |c| c.spec.alive);
            if word & alive != 0 {
                self.alive(i);
            }
        }
    }

    /// Every tick: restarts due, heartbeats, the policy's period, and the
    /// calls waiting on held components.
    fn tick(&mut self) {
        self.ticks += 1;
        if self.ticks.is_multiple_of(POLICY_EVERY) {
            Cap::<Notification>::from_cptr(caps::POLICY_TICK).signal();
        }
        let now = self.now_ms();
        if let Some(w) = self.watch {
            if now >= w.deadline_ms {
                self.watch_expired(w, now);
            }
        }
        for i in 0..self.children.len() {
            let Some(c) = self.children.get_mut(i) else {
                continue;
            };
            match c.state {
                State::Restarting if now >= c.restart_at => self.restart(i),
                State::Running if c.spec.heartbeat_ms > 0 && now >= c.next_ping => {
                    if !c.answered {
                        if c.cpu_time() > c.cpu_at_ping {
                            c.missed += 1;
                        } else {
                            c.idle_missed += 1;
                        }
                    }
                    if c.missed >= MISSES || c.idle_missed >= IDLE_MISSES {
                        let silent = c.spec.heartbeat_ms * u64::from(c.missed + c.idle_missed);
                        self.failed(i, Cause::Hang(silent));
                    } else {
                        c.ping(now);
                    }
                }
                State::Held => self.swallowed |= answer_for_held(c.spec),
                _ => {}
            }
        }
    }

    /// An injection's watchdog expired: its clients got no answer. The
    /// first time the component is restarted as stuck, and the watch set
    /// again; the restart answers the request left in its reply slot, so
    /// a second expiry means the failed incarnation had dropped a request
    /// it took (a reply cap discarded, e.g. by a receive with the caller
    /// still unanswered). seL4's non-MCS model leaves that caller blocked
    /// for good: it is reported, not restarted again.
    fn watch_expired(&mut self, w: Watch, now: u64) {
        self.watch = None;
        let Some(c) = self.children.get_mut(w.child) else {
            return;
        };
        let span = w.deadline_ms - w.set_ms;
        match (c.state, w.restarted) {
            (State::Running, false) => {
                c.stuck += 1;
                self.failed(w.child, Cause::Stuck(now - w.set_ms));
                self.watch = Some(Watch {
                    deadline_ms: now + span,
                    restarted: true,
                    ..w
                });
            }
            (State::Running, true) => {
                let name = c.spec.name;
                self.log.line(format_args!(
                    "[super] {name}: its clients got no answer for {} ms, {} ms after its restart too: {REQUEST_LOST_MARK} (incarnation {})",
                    now - w.set_ms,
                    span,
                    c.incarnation
                ));
            }
            // Restarting: wait for the restart to run.
            (State::Restarting, _) => {
                self.watch = Some(Watch {
                    deadline_ms: now + span,
                    ..w
                })
            }
            _ => {}
        }
    }

    fn status_of(&self, i: usize) -> Status {
        self.children
            .iter()
            .nth(i)
            .map_or(Status::default(), |c| Status {
                state: c.state as u64,
                incarnation: c.incarnation,
                failures_in_row: c.backoff.in_row(),
                last_recovery_ticks: c.last_recovery_ticks,
                failures: c.failures,
                stuck: c.stuck,
            })
    }

    /// Answers the waiting `settle` once its component has settled.
    fn answer_settle(&mut self) {
        let Some(w) = self.settling else {
            return;
        };
        let now = self.now_ms();
        let Some(c) = self.children.iter().nth(w.child) else {
            return;
        };
        let settled = match c.state {
            State::Held => true,
            State::Running if c.incarnation > w.incarnation => !c.awaiting_ready,
            State::Running => now >= w.deadline_ms,
            _ => false,
        };
        if settled {
            let reply = Reply::ok(&self.status_of(w.child));
            Cap::<sel4::Reply>::from_cptr(SETTLE_SLOT).send(reply.label, reply.message(), &[]);
            self.settling = None;
        }
    }

    fn child(
        &self,
        buffer: &SharedBuffer,
        name: libcerne::interface::BufRange,
    ) -> Result<usize, SupervisorError> {
        let mut bytes = [0u8; 32];
        let range = buffer.check(name).map_err(|_| SupervisorError::BadBuffer)?;
        let len = range.len().min(bytes.len());
        buffer
            .read(range.start, &mut bytes[..len])
            .map_err(|_| SupervisorError::BadBuffer)?;
        let name =
            core::str::from_utf8(&bytes[..len]).map_err(|_| SupervisorError::NoSuchComponent)?;
        match self.index_of_name(name) {
            Some(i) => Ok(i),
            None if supervised::ALL.iter().any(|(n, _)| *n == name) => {
                Err(SupervisorError::NotSupervised)
            }
            None => Err(SupervisorError::NoSuchComponent),
        }
    }
}

/// Copies every private page of `spec` back from its pristine copy, or
/// zeroes it; makes instruction fetch see restored text.
fn restore_memory(c: &Child) {
    for run in c.runs() {
        for page in 0..run.pages {
            let mirror = run.mirror + page * PAGE;
            if run.pristine != 0 {
                copy_page(run.pristine + page * PAGE, mirror);
            } else {
                zero_page(mirror);
            }
        }
        if run.executable {
            sync_instructions(run.mirror, run.pages * PAGE);
        }
    }
}

const PAGE: u64 = 4096;

fn copy_page(from: u64, to: u64) {
    for w in 0..PAGE / 8 {
        // SAFETY: `from` and `to` are pages of this component's mirror and
        // pristine windows, mapped (R and RW) for the whole run as the spec
        // gives them; the supervised component is suspended while they are
        // rewritten, and nothing here borrows that memory.
        unsafe {
            let v = core::ptr::read_volatile((from + w * 8) as *const u64);
            core::ptr::write_volatile((to + w * 8) as *mut u64, v);
        }
    }
}

fn zero_page(to: u64) {
    for w in 0..PAGE / 8 {
        // SAFETY: as in `copy_page`.
        unsafe { core::ptr::write_volatile((to + w * 8) as *mut u64, 0) };
    }
}

/// Cleans the data cache to the point of unification and invalidates the
/// instruction cache over `len` bytes from `start` (EL0 may: the kernel
/// sets SCTLR_EL1.UCI and UCT), so the component fetches what was written.
fn sync_instructions(start: u64, len: u64) {
    let ctr: u64;
    // SAFETY: reading CTR_EL0 (allowed at EL0 with SCTLR_EL1.UCT).
    unsafe { core::arch::asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack)) };
    let dline = 4u64 << ((ctr >> 16) & 0xf);
    let iline = 4u64 << (ctr & 0xf);
    let mut a = start & !(dline - 1);
    while a < start + len {
        // SAFETY: cache maintenance by VA of this component's own mapped
        // mirror; it changes no memory contents.
        unsafe { core::arch::asm!("dc cvau, {}", in(reg) a, options(nostack)) };
        a += dline;
    }
    // SAFETY: a barrier.
    unsafe { core::arch::asm!("dsb ish", options(nostack)) };
    let mut a = start & !(iline - 1);
    while a < start + len {
        // SAFETY: as above, for the instruction cache.
        unsafe { core::arch::asm!("ic ivau, {}", in(reg) a, options(nostack)) };
        a += iline;
    }
    // SAFETY: barriers.
    unsafe { core::arch::asm!("dsb ish", "isb", options(nostack)) };
}

/// Empties every slot of the child's CSpace and copies the spec's caps
/// back from its template. A cap the spec does not give (a reply cap the
/// component saved, a cap it made) is moved out first; a reply cap is
/// answered `Restarted`, so its caller does not wait for ever.
fn restore_cspace(c: &Child, own: Cap<CNode>) {
    let slots = 1u64 << c.spec.cnode_bits;
    let mut spec = c.spec.spec_caps.iter().peekable();
    for slot in 0..slots {
        while spec.peek().is_some_and(|s| s.slot < slot) {
            spec.next();
        }
        let in_spec = spec.peek().is_some_and(|s| s.slot == slot);
        if !in_spec {
            if own.move_(SCRATCH, 64, c.cnode(), slot, 64).is_ok() {
                if sel4::syscall::debug_cap_identify(SCRATCH) == REPLY_CAP_TYPE {
                    ipc::send(SCRATCH, ProtocolError::Restarted.code(), &[], &[]);
                }
                let _ = own.delete(SCRATCH, 64);
            }
            continue;
        }
        let _ = c.cnode().delete(slot, 64);
        let _ = c
            .cnode()
            .copy(slot, 64, c.template(), slot, 64, CapRights::ALL);
    }
}

/// Sets the thread's settings back to the spec's: the component holds its
/// own TCB cap, so it could have changed its fault endpoint, CSpace and
/// VSpace roots, bound notification and priorities. (Its IPC buffer
/// address would need its IPC buffer's frame cap, which this component
/// does not hold.)
fn restore_tcb(c: &Child, own: Cap<CNode>) -> Result<(), &'static str> {
    let slot_of = |name: &str| {
        c.spec
            .spec_caps
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.slot)
    };
    let tcb = c.tcb();
    let _ = own.delete(SCRATCH, 64);
    own.copy(SCRATCH, 64, c.template(), VSPACE_SLOT, 64, CapRights::ALL)
        .map_err(|_| "no VSpace cap in the template")?;
    let fault_ep = slot_of("FAULT_EP").unwrap_or(0);
    let space = tcb.set_space(fault_ep, c.cnode(), 0, Cap::from_cptr(SCRATCH), 0);
    let _ = own.delete(SCRATCH, 64);
    space.map_err(|_| "TCB_SetSpace")?;
    tcb.set_sched_params(Cap::from_cptr(caps::TCB), c.spec.mcp, c.spec.priority)
        .map_err(|_| "TCB_SetSchedParams")?;
    if let Some(n) = slot_of("NOTIFICATION") {
        let _ = tcb.unbind_notification();
        own.copy(SCRATCH, 64, c.template(), n, 64, CapRights::ALL)
            .map_err(|_| "no notification cap in the template")?;
        let bound = tcb.bind_notification(Cap::from_cptr(SCRATCH));
        let _ = own.delete(SCRATCH, 64);
        bound.map_err(|_| "TCB_BindNotification")?;
    }
    Ok(())
}

/// Answers every call waiting on a held component's endpoints.
/// Returns the signal words of the bound notification the receives took.
fn answer_for_held(spec: &Supervised) -> u64 {
    let mut swallowed = 0;
    for &(_, slot) in spec.endpoints {
        let ep: Cap<Endpoint> = Cap::from_cptr(slot);
        loop {
            let m = ep.nb_recv();
            if m.badge == 0 && m.label() == 0 && m.is_empty() {
                break;
            }
            if m.label() == 0 && m.badge & SIGNAL_BITS != 0 {
                swallowed |= m.badge;
                continue;
            }
            ipc::reply(ProtocolError::Unavailable.code(), &[], &[]);
        }
    }
    swallowed
}

/// A panic message read from a child's IPC buffer.
struct PanicText {
    bytes: [u8; PANIC_MESSAGE_MAX],
    len: usize,
}

impl PanicText {
    const fn empty() -> Self {
        Self {
            bytes: [0; PANIC_MESSAGE_MAX],
            len: 0,
        }
    }
    fn as_str(&self) -> &str {
        match core::str::from_utf8(&self.bytes[..self.len]) {
            Ok(s) => s,
            Err(e) => core::str::from_utf8(&self.bytes[..e.valid_up_to()]).unwrap_or(""),
        }
    }
}

/// Where the child's IPC buffer is mirrored here.
fn ipc_mirror(c: &Child) -> Option<u64> {
    c.runs()
        .find(|r| {
            r.vaddr <= addrs_of::IPC_BUFFER && addrs_of::IPC_BUFFER < r.vaddr + r.pages * PAGE
        })
        .map(|r| r.mirror + (addrs_of::IPC_BUFFER - r.vaddr))
}

/// The supervised components' IPC buffer address (the same in every
/// component: docs/systems.md).
mod addrs_of {
    pub const IPC_BUFFER: u64 = super::addrs::IPC_BUFFER as u64;
}

fn panic_message(c: &Child) -> PanicText {
    let mut text = PanicText::empty();
    let Ok(regs) = c.tcb().read_registers(false, 0, REGISTERS) else {
        return text;
    };
    let Some(ipc) = ipc_mirror(c) else {
        return text;
    };
    let len = (regs.x(1) as usize).min(PANIC_MESSAGE_MAX);
    for i in 0..len {
        // SAFETY: the child's IPC buffer page is mirrored here read-write
        // for the whole run; PANIC_MESSAGE_AT + PANIC_MESSAGE_MAX lies in it;
        // the child is suspended.
        text.bytes[i] =
            unsafe { core::ptr::read_volatile((ipc + (PANIC_MESSAGE_AT + i) as u64) as *const u8) };
    }
    text.len = len;
    text
}

/// Whether a UserException fault is libcerne's panic.
fn is_panic(c: &Child) -> bool {
    c.tcb()
        .read_registers(false, 0, REGISTERS)
        .is_ok_and(|r| r.x(0) == PANIC_MARK)
}

fn main(_arg: usize, _cycles: u64) -> ! {
    let per_second = generic_timer::frequency();
    let mut sup = Supervisor {
        children: heapless_children::Children::new(),
        log: Log(libcerne::console!()),
        own_cnode: Cap::from_cptr(caps::CNODE),
        per_ms: per_second / 1000,
        ticks: 0,
        settling: None,
        swallowed: 0,
        watch: None,
        period: per_second * TICK_US / 1_000_000,
        deadline: 0,
    };
    let now = sup.now_ms();
    let mut image_base = supervised::IMAGES;
    for spec in COMPONENTS {
        // SAFETY: the spec maps the first page of the component's program
        // file here, read-only, for the whole run; nothing writes it.
        let elf = unsafe { core::slice::from_raw_parts(spec.elf as *const u8, PAGE as usize) };
        let mut image = [Run {
            vaddr: 0,
            pages: 0,
            mirror: 0,
            pristine: 0,
            executable: false,
            writable: false,
        }; MAX_IMAGE_RUNS];
        let image_len = match supervised::image_runs(elf, image_base, &mut image) {
            Some((n, next)) => {
                image_base = next;
                n
            }
            None => {
                sup.log.line(format_args!(
                    "[super] {}: its program headers do not give its image; not restartable",
                    spec.name
                ));
                0
            }
        };
        let tcb: Cap<Tcb> = Cap::from_cptr(spec.tcb);
        let initial = tcb.read_registers(false, 0, REGISTERS).unwrap_or_default();
        let mut child = Child {
            spec,
            image,
            image_len,
            initial,
            state: State::Running,
            incarnation: 0,
            failures: 0,
            stuck: 0,
            backoff: Backoff::new(
                spec.backoff_ms,
                spec.backoff_max_ms,
                spec.limit,
                spec.stable_ms,
            ),
            restart_at: 0,
            failed_at: 0,
            cause: Cause::Panic,
            awaiting_ready: false,
            last_recovery_ticks: 0,
            answered: true,
            missed: 0,
            idle_missed: 0,
            next_ping: 0,
            cpu_at_ping: 0,
        };
        child.backoff.restarted(now);
        child.next_ping = now + spec.heartbeat_ms;
        let _ = tcb.resume();
        sup.children.push(child);
    }
    let mut names = [""; MAX_CHILDREN];
    for (n, c) in names.iter_mut().zip(sup.children.iter()) {
        *n = c.spec.name;
    }
    sup.log.line(format_args!(
        "[super] supervising {} components: {:?}; a tick every {} ms",
        sup.children.len(),
        &names[..sup.children.len()],
        TICK_US / 1000
    ));

    let timer: Cap<IrqHandler> = Cap::from_cptr(caps::SUPERVISOR_TICK);
    sup.deadline = generic_timer::physical_count() + sup.period;
    generic_timer::arm_physical_timer(sup.deadline);
    let _ = timer.ack();
    let faults: Cap<Endpoint> = Cap::from_cptr(caps::FAULTS);
    let requests: Cap<Endpoint> = Cap::from_cptr(caps::SUPERVISOR);
    let mut words = [0; MAX_WORDS];
    loop {
        let message = faults.recv();
        let badge = message.badge;
        if message.label() == 0 {
            sup.signals(badge, timer);
        }
        if message.label() != 0 {
            if let Some(i) = sup.index_of_badge(badge) {
                let n = message_words(&message, &mut words).unwrap_or(0);
                let (what, address, pc) = fault_cause(message.label(), &words[..n]);
                let panicked =
                    message.label() == 3 && sup.children.get_mut(i).is_some_and(|c| is_panic(c));
                let cause = if panicked {
                    Cause::Panic
                } else {
                    Cause::Fault(what, address, pc)
                };
                sup.failed(i, cause);
            }
        }
        serve_requests(&mut sup, requests, &mut words);
        while sup.swallowed != 0 {
            let word = core::mem::take(&mut sup.swallowed);
            sup.signals(word, timer);
            serve_requests(&mut sup, requests, &mut words);
        }
        sup.answer_settle();
    }
}

/// Answers every request waiting on the supervisor channel.
fn serve_requests(sup: &mut Supervisor, requests: Cap<Endpoint>, words: &mut [u64; MAX_WORDS]) {
    loop {
        let m = requests.nb_recv();
        if m.badge == 0 {
            return;
        }
        if m.label() == 0 && m.badge & SIGNAL_BITS != 0 {
            sup.swallowed |= m.badge;
            continue;
        }
        let reply = match (message_words(&m, words), buffer_of(m.badge)) {
            (Ok(len), Some(buffer)) if m.label() == protocol::Op::Settle.label() => {
                match wait_to_settle(sup, &buffer, &words[..len]) {
                    Ok(()) => continue,
                    Err(e) => Reply::error(libcerne::interface::ServerError::code(e)),
                }
            }
            (Ok(len), Some(buffer)) => {
                let mut server = Server { sup, buffer };
                protocol::dispatch(&mut server, m.badge, m.label(), &words[..len])
            }
            (Err(e), _) => Reply::error(e.code()),
            (_, None) => Reply::error(ProtocolError::NoBuffer.code()),
        };
        ipc::reply(reply.label, reply.message(), &[]);
    }
}

/// Keeps a `settle` request's reply cap until its component settles.
fn wait_to_settle(
    sup: &mut Supervisor,
    buffer: &SharedBuffer,
    words: &[u64],
) -> Result<(), SupervisorError> {
    let r: Settle = libcerne::interface::decode(words).map_err(|_| SupervisorError::BadBuffer)?;
    let child = sup.child(buffer, r.name)?;
    if sup.settling.is_some() {
        return Err(SupervisorError::Busy);
    }
    if sup.watch.is_some_and(|w| w.child == child) {
        sup.watch = None;
    }
    let _ = sup.own_cnode.delete(SETTLE_SLOT, 64);
    sup.own_cnode
        .save_caller(SETTLE_SLOT, 64)
        .map_err(|_| SupervisorError::Busy)?;
    sup.settling = Some(Settling {
        child,
        incarnation: r.incarnation,
        deadline_ms: sup.now_ms() + r.quiet_ms,
    });
    sup.answer_settle();
    Ok(())
}

fn buffer_of(badge: u64) -> Option<SharedBuffer> {
    buffers::SUPERVISOR
        .iter()
        .find(|(b, _)| *b == badge)
        // SAFETY: each client's buffer is mapped read-write here for the
        // whole run and reached only through SharedBuffer.
        .map(|&(_, vaddr)| unsafe { SharedBuffer::new(vaddr, buffers::SUPERVISOR_SIZE) })
}

struct Server<'a> {
    sup: &'a mut Supervisor,
    buffer: SharedBuffer,
}

/// A text sink over a range of the shared buffer.
struct TextOut {
    buffer: SharedBuffer,
    start: usize,
    end: usize,
    at: usize,
}

impl Write for TextOut {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.end - self.at);
        let _ = self.buffer.write(self.at, &s.as_bytes()[..n]);
        self.at += n;
        Ok(())
    }
}

impl TextOut {
    fn new(
        buffer: SharedBuffer,
        out: libcerne::interface::BufRange,
    ) -> Result<Self, SupervisorError> {
        let range = buffer.check(out).map_err(|_| SupervisorError::BadBuffer)?;
        Ok(Self {
            buffer,
            start: range.start,
            end: range.end,
            at: range.start,
        })
    }
    fn written(&self) -> Written {
        Written {
            len: (self.at - self.start) as u64,
        }
    }
}

impl protocol::Server for Server<'_> {
    fn inject(&mut self, _badge: u64, r: Inject) -> Result<Injected, SupervisorError> {
        let i = self.sup.child(&self.buffer, r.name)?;
        let how = Injection::from_number(r.how).ok_or(SupervisorError::BadInjection)?;
        let c = self
            .sup
            .children
            .get_mut(i)
            .ok_or(SupervisorError::NoSuchComponent)?;
        if c.state != State::Running {
            return Err(SupervisorError::NotRunning);
        }
        let address = inject(c, how, r.seed);
        let incarnation = c.incarnation;
        let name = c.spec.name;
        if r.deadline_ms > 0 {
            let now = self.sup.now_ms();
            self.sup.watch = Some(Watch {
                child: i,
                set_ms: now,
                deadline_ms: now + r.deadline_ms,
                restarted: false,
            });
        }
        self.sup.log.line(format_args!(
            "[super] injecting {} into {name} (seed {:#x}, at {address:#x})",
            how.name(),
            r.seed
        ));
        Ok(Injected {
            incarnation,
            address,
        })
    }

    fn status(&mut self, _badge: u64, r: Named) -> Result<Status, SupervisorError> {
        match self.sup.child(&self.buffer, r.name) {
            Ok(i) => Ok(self.sup.status_of(i)),
            Err(SupervisorError::NotSupervised) => Ok(Status {
                state: State::Unsupervised as u64,
                ..Status::default()
            }),
            Err(e) => Err(e),
        }
    }

    fn settle(&mut self, _badge: u64, r: Settle) -> Result<Status, SupervisorError> {
        // Only reached when the settle could not wait (see serve_requests).
        let i = self.sup.child(&self.buffer, r.name)?;
        Ok(self.sup.status_of(i))
    }

    fn caps(&mut self, _badge: u64, r: CapsOf) -> Result<Written, SupervisorError> {
        let mut out = TextOut::new(self.buffer, r.out)?;
        let name = match self.sup.child(&self.buffer, r.name) {
            Ok(i) => self.sup.children.get_mut(i).map(|c| c.spec.name),
            Err(SupervisorError::NotSupervised) => None,
            Err(e) => return Err(e),
        };
        match name {
            Some(name) => {
                let i = self
                    .sup
                    .index_of_name(name)
                    .ok_or(SupervisorError::NoSuchComponent)?;
                let own = self.sup.own_cnode;
                let c = self
                    .sup
                    .children
                    .get_mut(i)
                    .ok_or(SupervisorError::NoSuchComponent)?;
                live_caps(c, own, &mut out);
            }
            None => {
                // Unsupervised: what the spec gives (this component holds
                // no cap to its CSpace).
                let mut bytes = [0u8; 32];
                let range = self
                    .buffer
                    .check(r.name)
                    .map_err(|_| SupervisorError::BadBuffer)?;
                let len = range.len().min(32);
                let _ = self.buffer.read(range.start, &mut bytes[..len]);
                let wanted = core::str::from_utf8(&bytes[..len]).unwrap_or("");
                let (_, caps) = supervised::ALL
                    .iter()
                    .find(|(n, _)| *n == wanted)
                    .ok_or(SupervisorError::NoSuchComponent)?;
                for s in *caps {
                    let _ = writeln!(
                        out,
                        "{:>5}  {:<13} {:<24} {}{}",
                        s.slot,
                        s.kind,
                        s.object,
                        s.name,
                        badge_text(s.badge)
                    );
                }
                let _ = writeln!(
                    out,
                    "(spec only: the supervisor holds no cap to this CSpace)"
                );
            }
        }
        Ok(out.written())
    }

    fn report(&mut self, _badge: u64, r: Out) -> Result<Written, SupervisorError> {
        let mut out = TextOut::new(self.buffer, r.out)?;
        let per_ms = self.sup.per_ms.max(1);
        for c in self.sup.children.iter() {
            let _ = writeln!(
                out,
                "{:<10} {:<10} restarts {:<4} failures {:<4} last recovery {} ms",
                c.spec.name,
                c.state.name(),
                c.incarnation,
                c.failures,
                c.last_recovery_ticks / per_ms
            );
        }
        Ok(out.written())
    }
}

struct BadgeText(u64);

impl core::fmt::Display for BadgeText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.0 != 0 {
            write!(f, " badge {:#x}", self.0)
        } else {
            Ok(())
        }
    }
}

fn badge_text(badge: u64) -> BadgeText {
    BadgeText(badge)
}

/// seL4_DebugCapIdentify's cap types, named as the spec table names kinds.
fn cap_type_name(t: u64) -> &'static str {
    use libcerne::abi::object::CapTag;
    let tag = CapTag::ALL.into_iter().find(|c| *c as u64 == t);
    match tag {
        Some(CapTag::Null) | None => "empty",
        Some(CapTag::Frame) => "frame",
        Some(CapTag::Untyped) => "untyped",
        Some(CapTag::PageTable) => "page_table",
        Some(CapTag::Endpoint) => "endpoint",
        Some(CapTag::Notification) => "notification",
        Some(CapTag::Reply) => "reply",
        Some(CapTag::VSpace) => "vspace",
        Some(CapTag::CNode) => "cnode",
        Some(CapTag::AsidControl) => "asid_control",
        Some(CapTag::Thread) => "tcb",
        Some(CapTag::AsidPool) => "asid_pool",
        Some(CapTag::IrqControl) => "irq_control",
        Some(CapTag::IrqHandler) => "irq",
        Some(CapTag::Zombie) => "zombie",
        Some(CapTag::Domain) => "domain",
        Some(CapTag::SgiSignal) => "sgi_signal",
    }
}

/// The child's caps: every slot the spec gives, with what the slot holds
/// now, and every other slot that holds a cap.
fn live_caps(c: &Child, own: Cap<CNode>, out: &mut TextOut) {
    let slots = 1u64 << c.spec.cnode_bits;
    let mut spec = c.spec.spec_caps.iter().peekable();
    let mut extra = 0;
    for slot in 0..slots {
        while spec.peek().is_some_and(|s| s.slot < slot) {
            spec.next();
        }
        let live = match own.copy(SCRATCH, 64, c.cnode(), slot, 64, CapRights::ALL) {
            Ok(()) => {
                let t = sel4::syscall::debug_cap_identify(SCRATCH);
                let _ = own.delete(SCRATCH, 64);
                cap_type_name(t)
            }
            Err(e) if e.code() == Some(libcerne::abi::error::Error::FailedLookup) => "empty",
            Err(_) => "reply/uncopyable",
        };
        match spec.peek() {
            Some(s) if s.slot == slot => {
                let mark = if live == s.kind || (live == "frame" && s.kind.starts_with("frame")) {
                    ""
                } else {
                    "  <- differs"
                };
                let _ = writeln!(
                    out,
                    "{:>5}  {:<13} {:<24} {}{}  live: {live}{mark}",
                    slot,
                    s.kind,
                    s.object,
                    s.name,
                    badge_text(s.badge)
                );
            }
            _ if live != "empty" => {
                extra += 1;
                let _ = writeln!(out, "{slot:>5}  (not in the spec)  live: {live}");
            }
            _ => {}
        }
    }
    let _ = writeln!(
        out,
        "{} caps in the spec, {extra} more held now; incarnation {}",
        c.spec.spec_caps.len(),
        c.incarnation
    );
}

/// SplitMix64, for the injections' choices.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

/// The mirror address of the child's `vaddr`, if it is a private page.
fn mirror_of(c: &Child, vaddr: u64) -> Option<(u64, bool)> {
    c.runs()
        .find(|r| r.vaddr <= vaddr && vaddr < r.vaddr + r.pages * PAGE)
        .map(|r| (r.mirror + (vaddr - r.vaddr), r.executable))
}

/// A random byte address of the child's private pages matching `pick`.
fn random_address(c: &Child, random: &mut Random, pick: impl Fn(&Run) -> bool) -> Option<u64> {
    let total: u64 = c.runs().filter(|r| pick(r)).map(|r| r.pages).sum();
    let mut k = random.below(total * PAGE);
    for r in c.runs().filter(|r| pick(r)) {
        if k < r.pages * PAGE {
            return Some(r.vaddr + k);
        }
        k -= r.pages * PAGE;
    }
    None
}

/// Writes `word` (a 4-byte instruction) at the child's `pc`.
fn patch_instruction(c: &Child, pc: u64, words: &[u32]) -> bool {
    for (k, w) in words.iter().enumerate() {
        let Some((at, _)) = mirror_of(c, pc + 4 * k as u64) else {
            return false;
        };
        // SAFETY: a mirrored private page of the child, mapped read-write
        // here; the child is suspended while it is patched.
        unsafe { core::ptr::write_volatile(at as *mut u32, *w) };
        sync_instructions(at & !63, 64);
    }
    true
}

/// Carries out `how` on child `c`; returns the address it touched.
fn inject(c: &mut Child, how: Injection, seed: u64) -> u64 {
    let mut random = Random(seed);
    if how.done_by_the_component() {
        let Some(ipc) = ipc_mirror(c) else {
            return 0;
        };
        // SAFETY: the child's IPC buffer page, mirrored read-write here;
        // the words past seL4_IPCBuffer that libcerne::supervision reads.
        unsafe {
            core::ptr::write_volatile((ipc + INJECT_REQUEST_AT as u64 + 8) as *mut u64, seed);
            core::ptr::write_volatile((ipc + INJECT_REQUEST_AT as u64) as *mut u64, how as u64);
        }
        // The child carries it out when it answers this heartbeat.
        Cap::<Notification>::from_cptr(c.spec.heartbeat).signal();
        return addrs_of::IPC_BUFFER + INJECT_REQUEST_AT as u64;
    }
    let tcb = c.tcb();
    let _ = tcb.suspend();
    let Ok(mut regs) = tcb.read_registers(false, 0, REGISTERS) else {
        let _ = tcb.resume();
        return 0;
    };
    let pc = regs.pc();
    let address = match how {
        Injection::Fault => {
            // An address no component maps: below the image.
            regs.set_pc(0x10);
            let _ = tcb.write_registers(false, 0, REGISTERS, &regs);
            0x10
        }
        Injection::Hang => {
            // `b .`
            patch_instruction(c, pc, &[0x1400_0000]);
            pc
        }
        Injection::BadWrite => {
            // movz x16, #0xdead, lsl #16; str xzr, [x16]
            patch_instruction(c, pc, &[0xd2bb_d5b0, 0xf900_021f]);
            pc
        }
        Injection::FlipText | Injection::FlipData => {
            let text = how == Injection::FlipText;
            let mut last = 0;
            for _ in 0..1 + random.below(3) {
                let Some(v) = random_address(c, &mut random, |r| {
                    r.executable == text && (text || r.writable)
                }) else {
                    break;
                };
                if let Some((at, exec)) = mirror_of(c, v) {
                    let bit = 1u8 << random.below(8);
                    // SAFETY: a mirrored private page, mapped read-write
                    // here; the child is suspended.
                    unsafe {
                        let b = core::ptr::read_volatile(at as *const u8);
                        core::ptr::write_volatile(at as *mut u8, b ^ bit);
                    }
                    if exec {
                        sync_instructions(at & !63, 64);
                    }
                }
                last = v;
            }
            last
        }
        Injection::WildStore => {
            let v =
                random_address(c, &mut random, |r| r.writable && !r.executable).unwrap_or(0) & !7;
            if let Some((at, _)) = mirror_of(c, v) {
                // SAFETY: as above.
                unsafe { core::ptr::write_volatile(at as *mut u64, random.next()) };
            }
            v
        }
        Injection::Registers => {
            for _ in 0..1 + random.below(3) {
                let n = random.below(31) as u8;
                regs.set_x(n, random.next());
            }
            let _ = tcb.write_registers(false, 0, REGISTERS, &regs);
            pc
        }
        Injection::Panic | Injection::GarbageKernel | Injection::GarbagePeer => 0,
    };
    let _ = tcb.resume();
    address
}

// The spec gives the stack (the description's `stack`): no static one.
libcerne::entry!(main, static_stack = 0);
