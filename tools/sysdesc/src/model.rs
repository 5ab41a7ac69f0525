//! The data model of a system description: the `[system]` table and its
//! components, channels, notifications, IRQs, devices and shared memory, as
//! [`crate::parse()`] reads them from TOML.
//!
//! Every item keeps the [`Origin`] of its `[[...]]` header and of each key it
//! was given ([`Spans`]), so that later checks and the expansion can point at
//! the line that caused a problem. Origins come from `capdl`, and like there
//! they never take part in equality.

use std::collections::BTreeMap;

pub use capdl::model::{IrqTrigger, Origin};

/// Where each key of an item was written (the position of its value).
/// Like an [`Origin`], always compares equal.
#[derive(Clone, Debug, Default, Eq)]
pub struct Spans {
    /// The item's `[[...]]` header (or `[system]`).
    pub header: Origin,
    /// Key name to the position of its value.
    pub keys: BTreeMap<String, Origin>,
}

impl PartialEq for Spans {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl Spans {
    /// The position of `key`'s value, or the header's when the key was not
    /// written (a default).
    pub fn at(&self, key: &str) -> Origin {
        self.keys.get(key).copied().unwrap_or(self.header)
    }
}

/// A whole system description.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct System {
    /// The file name it was read from, as given to [`crate::parse()`]; every
    /// diagnostic names it.
    pub file: String,
    /// `[system] name`.
    pub name: String,
    /// `[system] memory`: bytes of RAM the system is built for.
    pub memory: u64,
    /// Positions in the `[system]` table.
    pub spans: Spans,
    /// `[[component]]`s, in file order.
    pub components: Vec<Component>,
    /// `[[channel]]`s, in file order.
    pub channels: Vec<Channel>,
    /// `[[notification]]`s, in file order.
    pub notifications: Vec<Notification>,
    /// `[[irq]]`s, in file order.
    pub irqs: Vec<Irq>,
    /// `[[device]]`s, in file order.
    pub devices: Vec<Device>,
    /// `[[shared_memory]]` regions, in file order.
    pub shared_memory: Vec<SharedMemory>,
}

/// One program instance: a thread with its own CSpace and VSpace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Component {
    /// Unique, `[a-z][a-z0-9_]*`; prefixes its capDL objects.
    pub name: String,
    /// The ELF's name (a cargo bin built for aarch64).
    pub program: String,
    /// Scheduling priority, 0..=255.
    pub priority: u8,
    /// Maximum controlled priority, 0..=255 (default: `priority`).
    pub mcp: u8,
    /// Stack bytes, a multiple of 4 KiB (default 16 KiB).
    pub stack: u64,
    /// Heap bytes, a multiple of 4 KiB (default 0).
    pub heap: u64,
    /// The component that receives this one's faults.
    pub fault_handler: Option<String>,
    /// log2 of the CNode's slots, 4..=16 (default 8).
    pub cnode_bits: u8,
    /// `untyped`: bytes of untyped memory (a power of two) the component
    /// gets to make objects from at run time, with an ASID pool of its own
    /// for the address spaces it makes (0: none).
    pub untyped: u64,
    /// `supervisor = true`: this component restarts the system's supervised
    /// components (at most one per system).
    pub supervisor: bool,
    /// `restart = "always"`: the supervisor restarts this component when it
    /// fails, with this policy. `None` for `restart = "never"` (default).
    pub restart: Option<RestartPolicy>,
    /// Positions.
    pub spans: Spans,
}

/// How the supervisor restarts a component (`restart = "always"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestartPolicy {
    /// `restart_backoff_ms`: the delay before the second restart of a run
    /// of quick failures (the first is at once; each further one doubles).
    pub backoff_ms: u64,
    /// `restart_backoff_max_ms`: the longest delay, >= `backoff_ms`.
    pub backoff_max_ms: u64,
    /// `restart_limit`: quick failures in a row after which the component
    /// is held and not restarted, 1..=100.
    pub limit: u64,
    /// `restart_stable_ms`: a component that ran this long since its last
    /// restart has its failure count reset.
    pub stable_ms: u64,
    /// `heartbeat_ms`: how often the supervisor pings it (0: never; else
    /// 50..=60000).
    pub heartbeat_ms: u64,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            backoff_ms: 10,
            backoff_max_ms: 1000,
            limit: 5,
            stable_ms: 2000,
            heartbeat_ms: 500,
        }
    }
}

/// An endpoint between one server and its clients (call / reply).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// Unique among all item names.
    pub name: String,
    /// The component that receives.
    pub server: String,
    /// The components that call, each with its badge.
    pub clients: Vec<Client>,
    /// `buffer`: bytes of memory shared between the server and each client
    /// alone, for bulk data (0: none). Each client's buffer is a
    /// [`SharedMemory`] region of its own, made by [`crate::parse()`].
    pub buffer: u64,
    /// `mint`: the server gets the endpoint with every right, so that it
    /// can mint caps for clients it makes at run time (a process manager).
    /// Otherwise it may only receive.
    pub mint: bool,
    /// `grant`: clients' endpoint caps carry Grant, so that their calls
    /// may transfer caps to the server (the process manager hands the
    /// policy server each process's TCB cap). Otherwise they may not.
    pub grant: bool,
    /// Positions.
    pub spans: Spans,
}

/// One client of a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    /// The calling component.
    pub component: String,
    /// The badge the server sees, 1..2^32-1 (default: the 1-based position).
    pub badge: u64,
    /// `sessions`: when non-zero the client does not call itself but holds
    /// this many sessions to hand out (a process manager gives one to each
    /// process it makes): endpoint caps badged `badge`, `badge + 1`, …, and
    /// each session's buffer as unmapped frame caps. The server itself may
    /// hold sessions of its own channel.
    pub sessions: u64,
    /// Where the client was written.
    pub origin: Origin,
}

/// A notification bit of `waiter`'s bound notification that `signallers`
/// may set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// Unique among all item names.
    pub name: String,
    /// The component that waits.
    pub waiter: String,
    /// The components that signal.
    pub signallers: Vec<String>,
    /// Positions (`signallers.N` for element N of the list).
    pub spans: Spans,
}

/// An interrupt line delivered to a component's bound notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Irq {
    /// Unique among all item names; also the capDL IRQ object's name.
    pub name: String,
    /// The component that handles it.
    pub component: String,
    /// The GIC interrupt number, 16..=[`capdl::MAX_IRQ`] (PPIs and SPIs)
    /// except [`capdl::KERNEL_TIMER_IRQ`].
    pub irq: u64,
    /// Level (default) or edge.
    pub trigger: IrqTrigger,
    /// Positions.
    pub spans: Spans,
}

/// A device's MMIO region, mapped uncached into one component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// Unique among all item names.
    pub name: String,
    /// The component that drives it.
    pub component: String,
    /// Physical address, 4 KiB aligned.
    pub paddr: u64,
    /// Bytes, a multiple of 4 KiB.
    pub size: u64,
    /// Positions.
    pub spans: Spans,
}

/// A region of RAM mapped into several components.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedMemory {
    /// Unique among all item names.
    pub name: String,
    /// Bytes, a multiple of 4 KiB.
    pub size: u64,
    /// Who maps it, and how.
    pub mappings: Vec<SharedMapping>,
    /// `dma`: the component whose device reads and writes this memory. It
    /// learns the frames' physical addresses with
    /// seL4_ARM_Page_GetAddress on the frame caps it holds.
    pub dma: Option<String>,
    /// Set when this region is a channel's per-client buffer rather than a
    /// `[[shared_memory]]` of the file.
    pub buffer_of: Option<ChannelBuffer>,
    /// Positions.
    pub spans: Spans,
}

/// Which channel and client a per-client buffer belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelBuffer {
    /// The channel's name.
    pub channel: String,
    /// The client component.
    pub client: String,
    /// The client's badge on the channel (of this session, for one of a
    /// client's `sessions`).
    pub badge: u64,
    /// Which of the client's sessions this buffer is, if it has sessions.
    pub session: Option<u64>,
}

/// One component's mapping of a shared region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedMapping {
    /// The component.
    pub component: String,
    /// Read-only or read-write.
    pub perms: Perms,
    /// Where the mapping was written.
    pub origin: Origin,
}

/// Access to a shared region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Perms {
    /// `"r"`.
    Read,
    /// `"rw"`.
    ReadWrite,
}

impl Perms {
    /// `"r"` or `"rw"`.
    pub fn text(self) -> &'static str {
        match self {
            Self::Read => "r",
            Self::ReadWrite => "rw",
        }
    }
}

impl SharedMemory {
    /// The name of the per-client buffer of `client` on `channel`.
    pub fn buffer_name(channel: &str, client: &str) -> String {
        format!("{channel}_{client}_buf")
    }
    /// The name of session `session`'s buffer of `client` on `channel`.
    pub fn session_buffer_name(channel: &str, client: &str, session: u64) -> String {
        format!("{channel}_{client}_s{session}_buf")
    }
}

impl System {
    /// The component called `name`.
    pub fn component(&self, name: &str) -> Option<&Component> {
        self.components.iter().find(|c| c.name == name)
    }
    /// The system's supervisor (the first component with `supervisor = true`).
    pub fn supervisor(&self) -> Option<&Component> {
        self.components.iter().find(|c| c.supervisor)
    }
    /// The components the supervisor restarts (`restart = "always"`), in
    /// file order, with their 0-based indices.
    pub fn supervised(&self) -> impl Iterator<Item = (usize, &Component)> + '_ {
        self.components
            .iter()
            .enumerate()
            .filter(|(_, c)| c.restart.is_some())
    }
    /// Whether component `name` is supervised.
    pub fn is_supervised(&self, name: &str) -> bool {
        self.component(name).is_some_and(|c| c.restart.is_some())
    }
    /// The 1-based index of component `name` in file order.
    pub fn component_index(&self, name: &str) -> Option<usize> {
        self.components
            .iter()
            .position(|c| c.name == name)
            .map(|i| i + 1)
    }
}
