//! What a supervised component does for its supervisor (docs/supervisor.md).
//!
//! A component the system description marks `restart = "always"` is
//! started, and restarted after a failure, by the supervisor, which tells
//! it in x0 (main's `arg`) which incarnation it is: 0 at boot, n after the
//! n-th restart. Three duties follow, all through [`Supervision`]:
//!
//! * at start, answer the request the previous incarnation received but
//!   never answered: it is still in this thread's reply slot (a restart
//!   keeps it), and its caller would otherwise wait for ever. The answer
//!   carries [`ProtocolError::Restarted`], so the caller's interface
//!   client re-issues an idempotent operation and reports any other;
//! * answer the supervisor's heartbeat: the `heartbeat` bit of the bound
//!   notification, answered by signalling `caps::ALIVE`, wherever the
//!   component waits (a component that stops answering is restarted as
//!   hung);
//! * know its incarnation, so that state it hands out (file handles) from
//!   before a restart can be told from state made after it.
//!
//! A panic (see [`crate::debug::report_panic`]) leaves its message in the
//! IPC buffer and faults with [`PANIC_MARK`] in x0, so the supervisor
//! reports it by name.
//!
//! Fault injection: most injections the supervisor does to a component
//! from outside (its text, data and registers are in the supervisor's
//! reach). Those that must happen in the component's own code — a panic,
//! garbage system calls, garbage sent to its peers — the supervisor asks
//! for by writing [`INJECT_REQUEST_AT`] of the component's IPC buffer (an
//! [`Injection`](crate::supervisor::Injection) number and a seed) before it
//! signals the heartbeat; [`Supervision::on_signal`] carries it out.

#[cfg(target_arch = "aarch64")]
use crate::interface::ProtocolError;

/// x0 of a thread that faulted in [`crate::debug::report_panic`]; x1 holds
/// the length of the message written at [`PANIC_MESSAGE_AT`] of its IPC
/// buffer.
pub const PANIC_MARK: u64 = u64::from_le_bytes(*b"CERNEPNC");
/// Where in the IPC buffer a panic leaves its message: the message
/// registers past MR0 (the buffer is not used again by the dying thread).
pub const PANIC_MESSAGE_AT: usize = 16;
/// Most bytes of a panic message kept in the IPC buffer.
pub const PANIC_MESSAGE_MAX: usize = 512;

/// The incarnation a held component is started with, once, only to answer
/// the request it left unanswered ([`ProtocolError::Unavailable`]) and stop
/// itself: its caller must not wait for ever either.
pub const HELD: u64 = u64::MAX;

/// Where in the IPC buffer the supervisor leaves an injection request:
/// past seL4's 1 KiB `seL4_IPCBuffer`, in bytes the kernel never writes.
/// The word holds the injection's number, the next one its seed.
pub const INJECT_REQUEST_AT: usize = 2048;

/// A component's side of supervision.
#[derive(Clone, Copy, Debug)]
pub struct Supervision {
    supervised: bool,
    alive: u64,
    heartbeat: u64,
    incarnation: u64,
}

impl Supervision {
    /// The supervision of a component: `supervised` and the cap and bit
    /// its description gives (`caps::SUPERVISED`, `caps::ALIVE`,
    /// `badges::HEARTBEAT`), and main's `arg`. When this is a restart
    /// (incarnation > 0) it first answers the previous incarnation's
    /// unanswered request.
    pub fn start(supervised: bool, alive: u64, heartbeat: u64, arg: usize) -> Self {
        let s = Self::new(supervised, alive, heartbeat, arg);
        if s.incarnation == HELD {
            stop_held();
        }
        if s.incarnation > 0 {
            answer_orphaned_request();
        }
        s
    }

    /// The same without answering anything (for tests and tools).
    pub const fn new(supervised: bool, alive: u64, heartbeat: u64, arg: usize) -> Self {
        Self {
            supervised,
            alive,
            heartbeat: if supervised { heartbeat } else { 0 },
            incarnation: if supervised { arg as u64 } else { 0 },
        }
    }

    /// The cap the heartbeat is answered on (0 when unsupervised).
    pub const fn alive_cap(&self) -> u64 {
        self.alive
    }

    /// Whether a supervisor restarts this component.
    pub const fn supervised(&self) -> bool {
        self.supervised
    }

    /// 0 at boot, n after the n-th restart.
    pub const fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// The heartbeat bit of the bound notification (0 when unsupervised).
    pub const fn heartbeat_bit(&self) -> u64 {
        self.heartbeat
    }

    /// Whether `word` (a signal word of the bound notification, or the
    /// badge of a message received while bound) carries the heartbeat.
    pub const fn is_heartbeat(&self, word: u64) -> bool {
        word & self.heartbeat != 0
    }

    /// Answers the heartbeat when `word` carries it; returns `word` without
    /// the heartbeat bit, so callers handle what remains.
    pub fn on_signal(&self, word: u64) -> u64 {
        if self.is_heartbeat(word) {
            self.carry_out_injection();
            self.answer_heartbeat();
        }
        word & !self.heartbeat
    }

    /// Carries out an injection the supervisor asked for, if any.
    fn carry_out_injection(&self) {
        #[cfg(target_arch = "aarch64")]
        if self.supervised {
            let (how, seed) = take_injection_request();
            if let Some(how) = crate::supervisor::Injection::from_number(how) {
                inject::carry_out(how, seed, self.incarnation);
            }
        }
    }

    /// Tells the supervisor this component is alive (and, after a restart,
    /// ready: the supervisor counts the recovery as done at the first one).
    pub fn answer_heartbeat(&self) {
        #[cfg(target_arch = "aarch64")]
        if self.supervised && self.alive != 0 {
            crate::sel4::Cap::<crate::sel4::Notification>::from_cptr(self.alive).signal();
        }
    }
}

/// Reads and clears the injection request in this thread's IPC buffer.
#[cfg(target_arch = "aarch64")]
fn take_injection_request() -> (u64, u64) {
    let buffer = crate::sel4::ipc_buffer::ipc_buffer() as usize;
    if buffer == 0 {
        return (0, 0);
    }
    let how = (buffer + INJECT_REQUEST_AT) as *mut u64;
    let seed = (buffer + INJECT_REQUEST_AT + 8) as *const u64;
    // SAFETY: the IPC buffer is this thread's own 4 KiB page (TPIDR_EL0
    // points at it, as the spec sets it); INJECT_REQUEST_AT + 16 lies
    // inside it, past the seL4_IPCBuffer the kernel writes, and is 8-aligned.
    // The supervisor writes these words through its own mapping only while
    // this thread is between heartbeats: volatile accesses, never borrowed.
    unsafe {
        let request = (
            core::ptr::read_volatile(how),
            core::ptr::read_volatile(seed),
        );
        core::ptr::write_volatile(how, 0);
        request
    }
}

/// The injections a component carries out itself.
#[cfg(target_arch = "aarch64")]
mod inject {
    use crate::sel4::{ipc, syscall};
    use crate::supervisor::Injection;

    /// SplitMix64: the injections' random numbers, from the seed.
    pub(super) struct Random(u64);

    impl Random {
        pub(super) fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
    }

    /// Slots past the component's own TCB, CNode and VSpace caps that
    /// garbage may name (a CNode of 2^8 slots by default).
    const SLOTS: u64 = 256;
    /// How many garbage system calls or messages one injection makes.
    const GARBAGE: usize = 64;

    pub(super) fn carry_out(how: Injection, seed: u64, incarnation: u64) {
        let mut random = Random(seed);
        match how {
            Injection::Panic => {
                panic!("injected panic (incarnation {incarnation}, seed {seed:#x})")
            }
            Injection::GarbageKernel => {
                for _ in 0..GARBAGE {
                    // Invocations of random caps with random labels and
                    // words, and non-blocking receives and sends: whatever
                    // the kernel makes of them, it must answer with an
                    // error or carry them out on this component's own
                    // authority.
                    let cptr = 4 + random.next() % SLOTS;
                    let label = random.next() % 64;
                    let words = [random.next(), random.next(), random.next(), random.next()];
                    match random.next() % 8 {
                        0 => {
                            let _ = ipc::nb_recv(cptr);
                        }
                        1..=3 => {
                            let _ = ipc::call(cptr, label, &words, &[]);
                        }
                        // An empty slot: a cap fault to the supervisor.
                        4 => ipc::send(cptr + SLOTS, label, &words, &[]),
                        5 => syscall::yield_now(),
                        _ => ipc::nb_send(cptr, label, &words, &[]),
                    }
                }
            }
            Injection::GarbagePeer => {
                for _ in 0..GARBAGE {
                    let cptr = 4 + random.next() % SLOTS;
                    let len = (random.next() % 8) as usize;
                    let words = [random.next(); 8];
                    ipc::nb_send(cptr, random.next() % 32, &words[..len], &[]);
                }
            }
            _ => {}
        }
    }
}

/// Answers the request left in this thread's reply slot by an incarnation
/// that failed before it replied: label [`ProtocolError::Restarted`]. With
/// no such request the Reply does nothing (seL4 semantics).
pub fn answer_orphaned_request() {
    #[cfg(target_arch = "aarch64")]
    crate::sel4::ipc::reply(ProtocolError::Restarted.code(), &[], &[]);
}

/// A held component's last act: answer the unanswered request
/// `Unavailable`, then suspend itself (slot 1 holds every component's own
/// TCB cap, docs/systems.md).
fn stop_held() -> ! {
    #[cfg(target_arch = "aarch64")]
    {
        crate::sel4::ipc::reply(ProtocolError::Unavailable.code(), &[], &[]);
        let _ = crate::sel4::Cap::<crate::sel4::Tcb>::from_cptr(1).suspend();
    }
    loop {
        core::hint::spin_loop();
    }
}

/// The supervision of the component this program is, from its generated
/// constants: `let sup = libcerne::supervision!(arg);` first thing in main.
#[macro_export]
macro_rules! supervision {
    ($arg:expr) => {
        $crate::supervision::Supervision::start(
            caps::SUPERVISED != 0,
            caps::ALIVE,
            badges::HEARTBEAT,
            $arg,
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsupervised_component_has_no_heartbeat_and_incarnation_zero() {
        let s = Supervision::new(false, 9, 1 << 40, 3);
        assert_eq!(s.incarnation(), 0);
        assert!(!s.is_heartbeat(u64::MAX));
        assert_eq!(s.on_signal(u64::MAX), u64::MAX);
    }

    #[test]
    fn the_heartbeat_bit_is_taken_out_of_the_word() {
        let s = Supervision::new(true, 0, 1 << 40, 2);
        assert_eq!(s.incarnation(), 2);
        assert!(s.is_heartbeat(1 << 40 | 1));
        assert_eq!(s.on_signal(1 << 40 | 1 << 63), 1 << 63);
    }
}
