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
}

const ALL: [SupervisorError; 5] = [
    SupervisorError::NoSuchComponent,
    SupervisorError::NotSupervised,
    SupervisorError::NotRunning,
    SupervisorError::BadInjection,
    SupervisorError::BadBuffer,
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
