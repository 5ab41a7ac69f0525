//! The supervisor's protocol (docs/supervisor.md): what the shell and the
//! fault-injection campaign ask the supervisor. Names of components and
//! text answers travel in the buffer each client shares with it.
//!
//! | label | operation | request | reply |
//! |---|---|---|---|
//! | 1 | `inject` | [`Inject`]: a component's name, an [`Injection`], a seed | [`Injected`] |
//! | 2 | `status` | [`Named`] | [`Status`] |
//! | 3 | `caps` | [`CapsOf`]: a name, where to write | [`Written`]: the lines of its caps |
//! | 4 | `report` | [`Out`] | [`Written`]: one line per supervised component |
//! | 5 | `settle` | [`Settle`]: a name, an incarnation, a quiet time | [`Status`], once the component recovered, was held, or stayed quiet |
//!
//! `settle` is answered late: the supervisor keeps the caller's reply cap
//! and answers at the first tick at which the component runs an
//! incarnation newer than the one named and has answered a heartbeat since
//! its restart, is held, or has run `quiet_ms` without failing (one
//! `settle` waits at a time; a second is answered [`SupervisorError::Busy`]).

use crate::interface::{BufRange, ServerError, Word, FIRST_SERVER_CODE};

/// What the supervisor refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SupervisorError {
    /// No component of that name.
    NoSuchComponent,
    /// The component is not supervised: nothing is injected into it.
    NotSupervised,
    /// The component is held or being restarted: inject once it runs.
    NotRunning,
    /// No injection of that number.
    BadInjection,
    /// A name or output range outside the shared buffer.
    BadBuffer,
    /// Another `settle` is waiting.
    Busy,
}

const ALL: [SupervisorError; 6] = [
    SupervisorError::NoSuchComponent,
    SupervisorError::NotSupervised,
    SupervisorError::NotRunning,
    SupervisorError::BadInjection,
    SupervisorError::BadBuffer,
    SupervisorError::Busy,
];

impl SupervisorError {
    /// A short name for messages.
    pub const fn name(self) -> &'static str {
        match self {
            Self::NoSuchComponent => "no such component",
            Self::NotSupervised => "not supervised",
            Self::NotRunning => "not running (restarting or held)",
            Self::BadInjection => "no such injection",
            Self::BadBuffer => "bad buffer range",
            Self::Busy => "another settle is waiting",
        }
    }
}

impl core::fmt::Display for SupervisorError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl ServerError for SupervisorError {
    fn code(self) -> Word {
        FIRST_SERVER_CODE + ALL.iter().position(|&e| e == self).unwrap_or(0) as Word
    }
    fn from_code(code: Word) -> Option<Self> {
        ALL.into_iter().find(|e| e.code() == code)
    }
}

/// A fault the supervisor injects into a running component. The first
/// four are the shell's `crash` kinds; the rest are the campaign's
/// (docs/supervisor.md says what each does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Injection {
    /// A jump to an unmapped address: the component takes an instruction
    /// abort where it stands.
    Fault = 1,
    /// The component panics (in its own code, on its next heartbeat).
    Panic = 2,
    /// An endless loop where it stands.
    Hang = 3,
    /// A store to an unmapped address where it stands.
    BadWrite = 4,
    /// Flipped bits in its text.
    FlipText = 5,
    /// Flipped bits in its data, bss, heap or stack.
    FlipData = 6,
    /// A random word stored at a random place of its writable memory.
    WildStore = 7,
    /// It makes system calls with random numbers and arguments.
    GarbageKernel = 8,
    /// It sends random messages on every endpoint cap it holds.
    GarbagePeer = 9,
    /// Random registers of its thread overwritten where it stands.
    Registers = 10,
}

impl Injection {
    /// Every injection, in number order.
    pub const ALL: [Injection; 10] = [
        Self::Fault,
        Self::Panic,
        Self::Hang,
        Self::BadWrite,
        Self::FlipText,
        Self::FlipData,
        Self::WildStore,
        Self::GarbageKernel,
        Self::GarbagePeer,
        Self::Registers,
    ];

    /// Its name, as the shell's `crash` takes it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Fault => "fault",
            Self::Panic => "panic",
            Self::Hang => "hang",
            Self::BadWrite => "bad-write",
            Self::FlipText => "flip-text",
            Self::FlipData => "flip-data",
            Self::WildStore => "wild-store",
            Self::GarbageKernel => "garbage-kernel",
            Self::GarbagePeer => "garbage-peer",
            Self::Registers => "registers",
        }
    }

    /// The injection called `name` (also `badwrite` and `bad_write`).
    pub fn parse(name: &str) -> Option<Self> {
        let canonical = |c: char| if c == '_' { '-' } else { c };
        Self::ALL.into_iter().find(|i| {
            let n = i.name();
            name.chars().map(canonical).eq(n.chars())
                || name.chars().eq(n.chars().filter(|&c| c != '-'))
        })
    }

    /// The injection of number `n`.
    pub fn from_number(n: u64) -> Option<Self> {
        Self::ALL.into_iter().find(|i| *i as u64 == n)
    }

    /// Whether the component carries it out itself when it answers its
    /// next heartbeat (the others the supervisor does to it from outside,
    /// wherever it is).
    pub const fn done_by_the_component(self) -> bool {
        matches!(self, Self::Panic | Self::GarbageKernel | Self::GarbagePeer)
    }
}

/// A supervised component's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum State {
    /// Running (from its start or its last restart).
    Running = 0,
    /// Failed; waiting for its back-off to end.
    Restarting = 1,
    /// Failed too often in a row: stopped, its clients answered
    /// [`crate::interface::ProtocolError::Unavailable`].
    Held = 2,
    /// Not supervised.
    Unsupervised = 3,
}

impl State {
    /// The state of code `n`.
    pub fn from_code(n: u64) -> Option<Self> {
        [
            Self::Running,
            Self::Restarting,
            Self::Held,
            Self::Unsupervised,
        ]
        .into_iter()
        .find(|s| *s as u64 == n)
    }
    /// Its name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Restarting => "restarting",
            Self::Held => "held",
            Self::Unsupervised => "unsupervised",
        }
    }
}

wire! {
    /// `inject`.
    pub struct Inject {
        /// The component's name in the shared buffer.
        pub name: BufRange,
        /// An [`Injection`] number.
        pub how: u64,
        /// Seeds the injection's random choices (bits, addresses).
        pub seed: u64,
        /// A watchdog (0: none): when the caller has not asked `settle`
        /// about this component within this many ms, the component counts
        /// as hung (its clients got no answer) and is restarted. This finds
        /// the failures a heartbeat cannot: a component that still answers
        /// heartbeats but no longer serves.
        pub deadline_ms: u64,
    }

    /// What an injection did.
    pub struct Injected {
        /// The component's incarnation when it was injected.
        pub incarnation: u64,
        /// The address the injection touched (0 for none): the patched or
        /// flipped byte, the stored word, the pc.
        pub address: u64,
    }

    /// A component named in the shared buffer.
    pub struct Named {
        /// Its name.
        pub name: BufRange,
    }

    /// A component's supervision state.
    pub struct Status {
        /// A [`State`] code.
        pub state: u64,
        /// 0 at boot, n after the n-th restart.
        pub incarnation: u64,
        /// Failures since the last stable run.
        pub failures_in_row: u64,
        /// Generic-timer ticks from the last failure to the first
        /// heartbeat answer after its restart (0 before any).
        pub last_recovery_ticks: u64,
        /// How many failures were detected in all.
        pub failures: u64,
        /// How many of them an injection's watchdog found.
        pub stuck: u64,
    }

    /// `caps`: a component and where to write its caps.
    pub struct CapsOf {
        /// Its name.
        pub name: BufRange,
        /// Where the lines go.
        pub out: BufRange,
    }

    /// Where a text answer goes.
    pub struct Out {
        /// The range of the shared buffer.
        pub out: BufRange,
    }

    /// `settle`: wait until the component has recovered from what was
    /// done to it at `incarnation`, or ran `quiet_ms` without failing.
    pub struct Settle {
        /// Its name.
        pub name: BufRange,
        /// Its incarnation when the fault was injected.
        pub incarnation: u64,
        /// How long a run without a failure counts as "no effect".
        pub quiet_ms: u64,
    }

    /// How many bytes of text were written.
    pub struct Written {
        /// Bytes.
        pub len: u64,
    }
}

crate::interface! {
    /// The supervisor interface.
    pub interface protocol: SupervisorError {
        /// Injects a fault into a supervised component.
        1 => Inject: fn inject(Inject) -> Injected, once;
        /// A component's supervision state.
        2 => Status: fn status(Named) -> Status, idempotent;
        /// The caps a component holds: the spec's, and for a supervised one
        /// what its CSpace holds now.
        3 => Caps: fn caps(CapsOf) -> Written, idempotent;
        /// One line per supervised component.
        4 => Report: fn report(Out) -> Written, idempotent;
        /// Waits until the component has recovered, was held, or stayed quiet.
        5 => Settle: fn settle(Settle) -> Status, idempotent;
    }
}

/// What a fault message says: a short cause, the address it names (the
/// faulting data or instruction address, the CPtr of a cap fault, the
/// pc), and the pc. `label` is the message's label (the seL4 fault type),
/// `mr` its words (docs/sel4-abi.md §7 layouts, `cerne_abi::fault`).
pub fn fault_cause(label: u64, mr: &[u64]) -> (&'static str, u64, u64) {
    use cerne_abi::fault as f;
    let at = |i: usize| mr.get(i).copied().unwrap_or(0);
    match label {
        1 => ("cap fault", at(f::CAP_FAULT_ADDR), at(f::CAP_FAULT_IP)),
        2 => (
            "unknown syscall",
            at(f::UNKNOWN_SYSCALL_FAULT_IP),
            at(f::UNKNOWN_SYSCALL_FAULT_IP),
        ),
        3 => ("user exception", at(0), at(0)),
        5 if at(f::VM_FAULT_PREFETCH) != 0 => (
            "instruction fault",
            at(f::VM_FAULT_ADDR),
            at(f::VM_FAULT_IP),
        ),
        5 => ("data fault", at(f::VM_FAULT_ADDR), at(f::VM_FAULT_IP)),
        _ => ("fault", 0, at(0)),
    }
}

/// What the supervisor does after a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Restart at this time (milliseconds, the supervisor's clock).
    RestartAt(u64),
    /// Keep it stopped: it failed `restart_limit` times in a row.
    Hold,
}

/// The restart back-off of one component, as MINIX 3's reincarnation
/// server does it: the first restart at once, then after a delay that
/// doubles with each quick failure in a row (from `base_ms`, capped at
/// `max_ms`); the `limit`-th failure in a row holds the component. A run
/// of `stable_ms` since the last restart forgets the failures before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    base_ms: u64,
    max_ms: u64,
    limit: u64,
    stable_ms: u64,
    in_row: u64,
    last_restart_ms: Option<u64>,
}

impl Backoff {
    /// The back-off of the description's settings.
    pub const fn new(base_ms: u64, max_ms: u64, limit: u64, stable_ms: u64) -> Self {
        Self {
            base_ms,
            max_ms,
            limit,
            stable_ms,
            in_row: 0,
            last_restart_ms: None,
        }
    }

    /// A failure at `now_ms`.
    pub fn on_failure(&mut self, now_ms: u64) -> Decision {
        if let Some(t) = self.last_restart_ms {
            if now_ms.saturating_sub(t) >= self.stable_ms {
                self.in_row = 0;
            }
        }
        self.in_row += 1;
        if self.in_row >= self.limit.max(1) {
            return Decision::Hold;
        }
        let delay = match self.in_row {
            1 => 0,
            k => self
                .base_ms
                .checked_shl((k - 2) as u32)
                .unwrap_or(u64::MAX)
                .min(self.max_ms),
        };
        Decision::RestartAt(now_ms.saturating_add(delay))
    }

    /// The component was restarted at `now_ms`.
    pub fn restarted(&mut self, now_ms: u64) {
        self.last_restart_ms = Some(now_ms);
    }

    /// Failures in a row so far.
    pub const fn in_row(&self) -> u64 {
        self.in_row
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_messages_are_described() {
        assert_eq!(
            fault_cause(5, &[0x1234, 0x10, 0, 0x92]),
            ("data fault", 0x10, 0x1234)
        );
        assert_eq!(
            fault_cause(5, &[0x1234, 0x1234, 1, 0x82]),
            ("instruction fault", 0x1234, 0x1234)
        );
        assert_eq!(fault_cause(1, &[0x40, 77]), ("cap fault", 77, 0x40));
        assert_eq!(fault_cause(3, &[0x50]), ("user exception", 0x50, 0x50));
        assert_eq!(fault_cause(9, &[]), ("fault", 0, 0));
    }

    #[test]
    fn restarts_back_off_doubling_then_hold() {
        let mut b = Backoff::new(10, 35, 5, 1000);
        let mut now = 0;
        let mut delays = [0u64; 0].to_vec();
        while let Decision::RestartAt(t) = b.on_failure(now) {
            delays.push(t - now);
            now = t + 1;
            b.restarted(t);
        }
        // At once, then 10, 20, then capped at 35; the 5th failure holds.
        assert_eq!(delays, [0, 10, 20, 35]);
        assert_eq!(b.in_row(), 5);
    }

    #[test]
    fn a_stable_run_forgets_earlier_failures() {
        let mut b = Backoff::new(10, 1000, 3, 500);
        assert_eq!(b.on_failure(0), Decision::RestartAt(0));
        b.restarted(0);
        assert_eq!(b.on_failure(100), Decision::RestartAt(110));
        b.restarted(110);
        // Ran 500 ms: the next failure is a first one again.
        assert_eq!(b.on_failure(610), Decision::RestartAt(610));
        b.restarted(610);
        assert_eq!(b.on_failure(620), Decision::RestartAt(630));
        b.restarted(630);
        assert_eq!(b.on_failure(640), Decision::Hold);
        // A limit of one holds at the first failure.
        assert_eq!(Backoff::new(1, 1, 1, 1).on_failure(0), Decision::Hold);
    }

    #[test]
    fn error_codes_are_distinct_and_round_trip() {
        for e in ALL {
            assert_eq!(SupervisorError::from_code(e.code()), Some(e));
        }
        assert_eq!(SupervisorError::from_code(0), None);
    }

    #[test]
    fn injections_parse_by_name_and_number() {
        for i in Injection::ALL {
            assert_eq!(Injection::parse(i.name()), Some(i));
            assert_eq!(Injection::from_number(i as u64), Some(i));
        }
        assert_eq!(Injection::parse("badwrite"), Some(Injection::BadWrite));
        assert_eq!(Injection::parse("bad_write"), Some(Injection::BadWrite));
        assert_eq!(Injection::parse("explode"), None);
        assert_eq!(Injection::from_number(0), None);
        for n in 0..5 {
            assert_eq!(State::from_code(n).map(|s| s as u64), (n < 4).then_some(n));
        }
    }
}
