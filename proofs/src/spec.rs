//! The executable abstract specification of the object model.
//!
//! Written to be obviously right rather than fast: caps live in a map from
//! slot address to cap; the derivation tree is an explicit tree (parent and
//! ordered children per slot); queues are `VecDeque`s; deletion of CNodes
//! and threads is plain recursion; lookups are recursive functions. Slot and
//! object addresses are the same numbers the implementation uses, computed
//! here from seL4's placement rules, so every returned word can be compared.
//!
//! The spec covers: CSpace lookup, untyped retype of every type (devices
//! included), the CNode invocations, deletion with finalisation, revoke,
//! TCB invocations, endpoint IPC with badges, cap transfer, Grant rules and
//! unwrapping, non-MCS reply caps, notifications (signal, wait, poll,
//! binding), fault delivery, and the scheduler's queues. VM, IRQ, ASID and
//! domain invocations are outside it (the harness does not generate them).

use cerne_abi::fault::{sanitise_spsr, UserContextReg, USER_CONTEXT_ORDER};
use cerne_abi::invocation::InvocationLabel as L;
use cerne_abi::lookup::LookupFailure;
use cerne_abi::message::MessageInfo;
use cerne_abi::object::ObjectType;
use cerne_abi::rights::CapRights;
use cerne_abi::syscall::Syscall;
use cerne_abi::vm::VmRights;
use cerne_objects::cap::{FrameSize, ZombieKind};
use cerne_objects::layout::UserContext;
use cerne_objects::{Cap, Fault, SyscallError, ThreadState};
use std::collections::{BTreeMap, VecDeque};

type R<T> = Result<T, SyscallError>;

/// Offset of a TCB's slots; slot addresses are tcb + 1024 + 32·i.
const TCB_SLOTS: u64 = 1024;
const CTABLE: u64 = 0;
const VTABLE: u64 = 1;
const REPLY: u64 = 2;
const CALLER: u64 = 3;
const BUFFER: u64 = 4;

/// Address of slot `i` of the TCB at `t`.
pub fn tslot(t: u64, i: u64) -> u64 {
    t + TCB_SLOTS + 32 * i
}

/// Address of slot `i` of the CNode at `c`.
pub fn cslot(c: u64, i: u64) -> u64 {
    c + 32 * i
}

/// A node of the derivation tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Node {
    /// Parent slot.
    pub parent: Option<u64>,
    /// Children, in derivation-list order.
    pub children: Vec<u64>,
    /// The cap is an original.
    pub original: bool,
}

/// Endpoint queue state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SEp {
    /// True: the queue holds senders; false: receivers (when non-empty).
    pub sending: bool,
    /// Queued threads, in order.
    pub queue: VecDeque<u64>,
}

/// Notification state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SNtfn {
    /// Waiting threads.
    pub queue: VecDeque<u64>,
    /// Pending signal word (state Active).
    pub active: Option<u64>,
    /// Bound thread (0 = none).
    pub bound: u64,
}

/// A thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SThread {
    /// State.
    pub state: ThreadState,
    /// Registers.
    pub ctx: UserContext,
    /// Restart PC.
    pub fault_ip: u64,
    /// Blocked on this endpoint / notification.
    pub blocking: u64,
    /// Badge of a blocked send.
    pub badge: u64,
    /// Blocked send may grant.
    pub can_grant: bool,
    /// Blocked send may grant reply.
    pub can_grant_reply: bool,
    /// Blocked send is a call.
    pub is_call: bool,
    /// Priority.
    pub prio: u64,
    /// MCP.
    pub mcp: u64,
    /// Bound notification.
    pub bound: u64,
    /// IPC buffer vaddr.
    pub ipc_buffer: u64,
    /// Fault waiting to be handled.
    pub fault: Option<Fault>,
    /// TCB flags.
    pub flags: u64,
    /// In a ready queue.
    pub queued: bool,
    /// Fault handler cptr.
    pub fault_handler: u64,
    /// CPU-time accounting.
    pub util: SUtil,
}

/// A thread's CPU-time counters (seL4's thread utilisation), in the
/// harness's clock counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SUtil {
    /// Clock when last switched to.
    pub start: u64,
    /// Time scheduled, summed when switched away from.
    pub cpu: u64,
    /// Times switched to.
    pub schedules: u64,
    /// Kernel time of entries that ended with this thread current.
    pub kernel_time: u64,
    /// Kernel entries that ended with this thread current.
    pub kernel_entries: u64,
}

/// The kernel-wide side of CPU-time accounting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SClock {
    /// Clock at the current entry.
    pub entry: u64,
    /// Inside an entry.
    pub in_kernel: bool,
    /// Start of the period.
    pub period_start: u64,
    /// The idle thread's counters.
    pub idle: SUtil,
    /// Switches in the period.
    pub schedules: u64,
    /// Kernel time in the period.
    pub kernel_time: u64,
    /// Kernel entries in the period.
    pub kernel_entries: u64,
}

impl SThread {
    /// A freshly created thread.
    pub fn new() -> Self {
        SThread {
            state: ThreadState::Inactive,
            ctx: UserContext {
                spsr_el1: 0x40,
                ..UserContext::default()
            },
            fault_ip: 0,
            blocking: 0,
            badge: 0,
            can_grant: false,
            can_grant_reply: false,
            is_call: false,
            prio: 0,
            mcp: 0,
            bound: 0,
            ipc_buffer: 0,
            fault: None,
            flags: 0,
            queued: false,
            fault_handler: 0,
            util: SUtil::default(),
        }
    }
}

impl Default for SThread {
    fn default() -> Self {
        Self::new()
    }
}

/// Pending scheduler decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Keep the current thread.
    Resume,
    /// Choose the highest-priority thread.
    Choose,
    /// Switch to this thread if priorities allow.
    SwitchTo(u64),
}

/// The whole abstract state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// Non-null caps by slot.
    pub caps: BTreeMap<u64, Cap>,
    /// Derivation tree node of every occupied slot.
    pub nodes: BTreeMap<u64, Node>,
    /// Threads by TCB address.
    pub threads: BTreeMap<u64, SThread>,
    /// Endpoints.
    pub eps: BTreeMap<u64, SEp>,
    /// Notifications.
    pub ntfns: BTreeMap<u64, SNtfn>,
    /// Non-zero words of user memory (IPC buffers), by address.
    pub mem: BTreeMap<u64, u64>,
    /// Ready queues, one per priority.
    pub ready: Vec<VecDeque<u64>>,
    /// Current thread (0 = idle).
    pub current: u64,
    /// Scheduler action.
    pub action: Action,
    /// CPU-time accounting.
    pub clock: SClock,
}

fn mask(bits: u64) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    }
}

fn frame_bits(s: FrameSize) -> u64 {
    match s {
        FrameSize::Small => 12,
        FrameSize::Large => 21,
        FrameSize::Huge => 30,
    }
}

/// Object named by a cap: (kind tag, base, size in bytes).
pub fn object_of(c: &Cap) -> Option<(u64, u64, u64)> {
    let t = c.tag().word();
    Some(match *c {
        Cap::Untyped {
            paddr, size_bits, ..
        } => (t, paddr, 1 << size_bits),
        Cap::Endpoint { paddr, .. } => (t, paddr, 16),
        Cap::Notification { paddr, .. } => (t, paddr, 32),
        Cap::CNode { paddr, radix, .. } => (t, paddr, 32 << radix),
        Cap::Thread { tcb } => (t, tcb, 2048),
        Cap::Frame { paddr, size, .. } => (t, paddr, 1 << frame_bits(size)),
        Cap::PageTable { paddr, .. } | Cap::VSpace { paddr, .. } | Cap::AsidPool { paddr, .. } => {
            (t, paddr, 4096)
        }
        _ => return None,
    })
}

/// seL4 `sameRegionAs`, restated.
pub fn same_region(a: &Cap, b: &Cap) -> bool {
    use Cap::*;
    match (a, b) {
        (Untyped { .. }, Zombie { .. } | Reply { .. }) => false,
        (Untyped { .. }, _) => match (object_of(a), object_of(b)) {
            (Some((_, ab, asz)), Some((_, bb, bsz))) => ab <= bb && bb + bsz <= ab + asz,
            _ => false,
        },
        (
            Frame {
                paddr: pa,
                size: sa,
                ..
            },
            Frame {
                paddr: pb,
                size: sb,
                ..
            },
        ) => *pa <= *pb && *pb + (1 << frame_bits(*sb)) <= *pa + (1 << frame_bits(*sa)),
        (
            CNode {
                paddr: pa,
                radix: ra,
                ..
            },
            CNode {
                paddr: pb,
                radix: rb,
                ..
            },
        ) => pa == pb && ra == rb,
        (Reply { tcb: x, .. }, Reply { tcb: y, .. }) => x == y,
        (IrqControl, IrqControl | IrqHandler { .. }) => true,
        (IrqHandler { irq: x }, IrqHandler { irq: y }) => x == y,
        (AsidControl, AsidControl) | (Domain, Domain) => true,
        (
            SgiSignal {
                irq: a1,
                target: a2,
            },
            SgiSignal {
                irq: b1,
                target: b2,
            },
        ) => a1 == b1 && a2 == b2,
        (Endpoint { .. }, Endpoint { .. })
        | (Notification { .. }, Notification { .. })
        | (Thread { .. }, Thread { .. })
        | (PageTable { .. }, PageTable { .. })
        | (VSpace { .. }, VSpace { .. })
        | (AsidPool { .. }, AsidPool { .. }) => {
            object_of(a).map(|o| o.1) == object_of(b).map(|o| o.1)
        }
        _ => false,
    }
}

/// seL4 `sameObjectAs`, restated.
pub fn same_object(a: &Cap, b: &Cap) -> bool {
    match (a, b) {
        (Cap::Untyped { .. }, _) | (Cap::IrqControl, Cap::IrqHandler { .. }) => false,
        (
            Cap::Frame {
                paddr: pa,
                size: sa,
                is_device: da,
                ..
            },
            Cap::Frame {
                paddr: pb,
                size: sb,
                is_device: db,
                ..
            },
        ) => pa == pb && sa == sb && da == db,
        _ => same_region(a, b),
    }
}

fn revocable(new: &Cap, src: &Cap) -> bool {
    match new {
        Cap::Endpoint { badge, .. } | Cap::Notification { badge, .. } => *badge != src.badge(),
        Cap::IrqHandler { .. } | Cap::SgiSignal { .. } => matches!(src, Cap::IrqControl),
        Cap::Untyped { .. } => true,
        _ => false,
    }
}

/// seL4's abstract `should_be_parent_of`.
fn should_be_parent(src: &Cap, src_original: bool, new: &Cap, new_original: bool) -> bool {
    src_original
        && same_region(src, new)
        && match src {
            Cap::Endpoint { badge, .. } | Cap::Notification { badge, .. } if *badge != 0 => {
                new.badge() == *badge && !new_original
            }
            _ => true,
        }
}

fn mask_rights(m: CapRights, c: Cap) -> Cap {
    match c {
        Cap::Endpoint {
            paddr,
            badge,
            rights,
        } => Cap::Endpoint {
            paddr,
            badge,
            rights: rights.intersect(m),
        },
        Cap::Notification {
            paddr,
            badge,
            rights,
        } => Cap::Notification {
            paddr,
            badge,
            rights: rights.intersect(m).intersect(CapRights::READ_WRITE),
        },
        Cap::Reply { tcb, master, grant } => Cap::Reply {
            tcb,
            master,
            grant: grant && m.grant(),
        },
        Cap::Frame {
            paddr,
            size,
            rights,
            is_device,
            mapping,
        } => {
            let r = match rights {
                VmRights::ReadWrite if m.read() && m.write() => VmRights::ReadWrite,
                VmRights::ReadWrite | VmRights::ReadOnly if m.read() => VmRights::ReadOnly,
                _ => VmRights::KernelOnly,
            };
            Cap::Frame {
                paddr,
                size,
                rights: r,
                is_device,
                mapping,
            }
        }
        o => o,
    }
}

fn cap_data(preserve: bool, data: u64, c: Cap) -> Cap {
    match c {
        Cap::Endpoint {
            paddr,
            badge: 0,
            rights,
        } if !preserve => Cap::Endpoint {
            paddr,
            badge: data,
            rights,
        },
        Cap::Notification {
            paddr,
            badge: 0,
            rights,
        } if !preserve => Cap::Notification {
            paddr,
            badge: data,
            rights,
        },
        Cap::Endpoint { .. } | Cap::Notification { .. } => Cap::Null,
        Cap::CNode { paddr, radix, .. } => {
            let gs = data & 63;
            if gs + radix as u64 > 64 {
                Cap::Null
            } else {
                Cap::CNode {
                    paddr,
                    radix,
                    guard_size: gs as u8,
                    guard: (data >> 6) & mask(gs),
                }
            }
        }
        o => o,
    }
}

enum Fin {
    Done,
    Container(u64, ZombieKind),
}

impl Spec {
    /// An empty system.
    pub fn new() -> Self {
        Spec {
            caps: BTreeMap::new(),
            nodes: BTreeMap::new(),
            threads: BTreeMap::new(),
            eps: BTreeMap::new(),
            ntfns: BTreeMap::new(),
            mem: BTreeMap::new(),
            ready: vec![VecDeque::new(); 256],
            current: 0,
            action: Action::Resume,
            clock: SClock::default(),
        }
    }

    // ---- caps and the derivation tree ----

    /// The cap in slot `s`.
    pub fn cap(&self, s: u64) -> Cap {
        self.caps.get(&s).copied().unwrap_or(Cap::Null)
    }

    fn set_cap(&mut self, s: u64, c: Cap) {
        if c.is_null() {
            self.caps.remove(&s);
        } else {
            self.caps.insert(s, c);
        }
    }

    /// Puts a root cap (boot).
    pub fn insert_root(&mut self, s: u64, c: Cap) {
        self.caps.insert(s, c);
        self.nodes.insert(
            s,
            Node {
                parent: None,
                children: vec![],
                original: true,
            },
        );
    }

    /// A new original child of `parent` (retype).
    fn insert_new_child(&mut self, parent: u64, s: u64, c: Cap) {
        self.caps.insert(s, c);
        self.nodes.insert(
            s,
            Node {
                parent: Some(parent),
                children: vec![],
                original: true,
            },
        );
        self.nodes.get_mut(&parent).unwrap().children.insert(0, s);
    }

    /// seL4 `cteInsert`.
    fn insert(&mut self, new: Cap, src: u64, dest: u64) {
        let src_cap = self.cap(src);
        let orig = revocable(&new, &src_cap);
        if let (
            Cap::Untyped {
                paddr: a,
                size_bits: sa,
                is_device,
                ..
            },
            Cap::Untyped {
                paddr: b,
                size_bits: sb,
                ..
            },
        ) = (src_cap, new)
        {
            if a == b && sa == sb {
                self.set_cap(
                    src,
                    Cap::Untyped {
                        paddr: a,
                        size_bits: sa,
                        is_device,
                        free_index: 1 << sa,
                    },
                );
            }
        }
        let src_node = self.nodes[&src].clone();
        let parent = if should_be_parent(&src_cap, src_node.original, &new, orig) {
            self.nodes.get_mut(&src).unwrap().children.insert(0, dest);
            Some(src)
        } else {
            if let Some(p) = src_node.parent {
                let ch = &mut self.nodes.get_mut(&p).unwrap().children;
                let i = ch.iter().position(|x| *x == src).unwrap();
                ch.insert(i + 1, dest);
            }
            src_node.parent
        };
        self.caps.insert(dest, new);
        self.nodes.insert(
            dest,
            Node {
                parent,
                children: vec![],
                original: orig,
            },
        );
    }

    fn rename(&mut self, from: u64, to: u64) {
        let n = self.nodes.remove(&from).unwrap();
        if let Some(p) = n.parent {
            for c in self.nodes.get_mut(&p).unwrap().children.iter_mut() {
                if *c == from {
                    *c = to;
                }
            }
        }
        for c in &n.children {
            self.nodes.get_mut(c).unwrap().parent = Some(to);
        }
        self.nodes.insert(to, n);
    }

    /// seL4 `cteMove`.
    fn move_cap(&mut self, new: Cap, src: u64, dest: u64) {
        self.caps.remove(&src);
        self.rename(src, dest);
        self.caps.insert(dest, new);
    }

    /// seL4 `cteSwap`.
    fn swap(&mut self, c1: Cap, s1: u64, c2: Cap, s2: u64) {
        const TMP: u64 = u64::MAX;
        self.rename(s1, TMP);
        self.rename(s2, s1);
        self.rename(TMP, s2);
        self.caps.insert(s1, c2);
        self.caps.insert(s2, c1);
    }

    /// seL4 `emptySlot`: the slot's children take its place under its parent.
    fn empty(&mut self, s: u64) {
        let Some(n) = self.nodes.remove(&s) else {
            return;
        };
        self.caps.remove(&s);
        for c in &n.children {
            self.nodes.get_mut(c).unwrap().parent = n.parent;
        }
        if let Some(p) = n.parent {
            let ch = &mut self.nodes.get_mut(&p).unwrap().children;
            let i = ch.iter().position(|x| *x == s).unwrap();
            ch.splice(i..i + 1, n.children.iter().copied());
        }
    }

    fn is_final(&self, s: u64) -> bool {
        let c = self.cap(s);
        !self
            .caps
            .iter()
            .any(|(s2, c2)| *s2 != s && same_object(&c, c2))
    }

    fn has_children(&self, s: u64) -> bool {
        self.nodes.get(&s).is_some_and(|n| !n.children.is_empty())
    }

    // ---- lookups ----

    fn resolve(&self, node: Cap, cptr: u64, n: u64) -> Result<(u64, u64), LookupFailure> {
        let Cap::CNode {
            paddr,
            radix,
            guard_size,
            guard,
        } = node
        else {
            return Err(LookupFailure::InvalidRoot);
        };
        let (r, g) = (radix as u64, guard_size as u64);
        if g > n || cptr.checked_shr((n - g) as u32).unwrap_or(0) & mask(g) != guard {
            return Err(LookupFailure::GuardMismatch {
                bits_left: n,
                guard_found: guard,
                bits_found: g,
            });
        }
        if r + g > n || r + g == 0 {
            return Err(LookupFailure::DepthMismatch {
                bits_left: n,
                bits_found: r + g,
            });
        }
        let slot = cslot(paddr, (cptr >> (n - r - g)) & mask(r));
        let left = n - r - g;
        match self.cap(slot) {
            next @ Cap::CNode { .. } if left > 0 => self.resolve(next, cptr, left),
            _ => Ok((slot, left)),
        }
    }

    fn lookup(&self, root: Cap, cptr: u64) -> Result<u64, LookupFailure> {
        self.resolve(root, cptr, 64).map(|r| r.0)
    }

    fn lookup_op(&self, source: bool, root: Cap, cptr: u64, depth: u64) -> R<u64> {
        if !matches!(root, Cap::CNode { .. }) {
            return Err(SyscallError::FailedLookup {
                source,
                failure: LookupFailure::InvalidRoot,
            });
        }
        if !(1..=64).contains(&depth) {
            return Err(SyscallError::RangeError(1, 64));
        }
        match self.resolve(root, cptr, depth) {
            Err(failure) => Err(SyscallError::FailedLookup { source, failure }),
            Ok((_, left)) if left != 0 => Err(SyscallError::FailedLookup {
                source,
                failure: LookupFailure::DepthMismatch {
                    bits_left: left,
                    bits_found: 0,
                },
            }),
            Ok((s, _)) => Ok(s),
        }
    }

    fn croot(&self, t: u64) -> Cap {
        self.cap(tslot(t, CTABLE))
    }

    // ---- threads and scheduling ----

    fn th(&mut self, t: u64) -> &mut SThread {
        self.threads.entry(t).or_default()
    }

    fn state(&self, t: u64) -> ThreadState {
        self.threads
            .get(&t)
            .map_or(ThreadState::Inactive, |x| x.state)
    }

    fn prio(&self, t: u64) -> usize {
        self.threads.get(&t).map_or(0, |x| x.prio as usize)
    }

    fn enqueue(&mut self, t: u64) {
        if !self.th(t).queued {
            self.th(t).queued = true;
            let p = self.prio(t);
            self.ready[p].push_front(t);
        }
    }

    fn append(&mut self, t: u64) {
        if !self.th(t).queued {
            self.th(t).queued = true;
            let p = self.prio(t);
            self.ready[p].push_back(t);
        }
    }

    fn dequeue(&mut self, t: u64) {
        if self.threads.get(&t).is_some_and(|x| x.queued) {
            self.th(t).queued = false;
            let p = self.prio(t);
            self.ready[p].retain(|x| *x != t);
        }
    }

    fn highest(&self) -> Option<usize> {
        (0..256).rev().find(|p| !self.ready[*p].is_empty())
    }

    fn reschedule(&mut self) {
        if let Action::SwitchTo(t) = self.action {
            self.enqueue(t);
        }
        self.action = Action::Choose;
    }

    fn possible_switch(&mut self, t: u64) {
        if self.action != Action::Resume {
            self.reschedule();
            self.enqueue(t);
        } else {
            self.action = Action::SwitchTo(t);
        }
    }

    fn set_state(&mut self, t: u64, s: ThreadState) {
        self.th(t).state = s;
        if t == self.current && self.action == Action::Resume && !s.is_runnable() {
            self.reschedule();
        }
    }

    fn runnable(&self, t: u64) -> bool {
        t != 0 && self.state(t).is_runnable()
    }

    fn switch_to(&mut self, t: u64) {
        self.charge_switch(t);
        self.dequeue(t);
        self.current = t;
    }

    fn choose(&mut self) {
        match self.highest() {
            Some(p) => {
                let t = self.ready[p][0];
                self.switch_to(t);
            }
            None => {
                self.charge_switch(0);
                self.current = 0;
            }
        }
    }

    // ---- CPU-time accounting ----

    fn util_mut(&mut self, t: u64) -> Option<&mut SUtil> {
        if t == 0 {
            Some(&mut self.clock.idle)
        } else {
            self.threads.get_mut(&t).map(|th| &mut th.util)
        }
    }

    /// The counters of `t` (0 = idle).
    pub fn util(&self, t: u64) -> SUtil {
        if t == 0 {
            self.clock.idle
        } else {
            self.threads.get(&t).map(|th| th.util).unwrap_or_default()
        }
    }

    /// The current thread is switched away from, `to` switched to.
    fn charge_switch(&mut self, to: u64) {
        let now = self.clock.entry;
        let from = self.current;
        if let Some(u) = self.util_mut(from) {
            u.cpu += now.saturating_sub(u.start);
        }
        if let Some(u) = self.util_mut(to) {
            u.start = now;
            u.schedules += 1;
        }
        self.clock.schedules += 1;
    }

    /// A kernel entry begins at clock `now`.
    pub fn begin_entry(&mut self, now: u64) {
        self.clock.entry = now;
        self.clock.in_kernel = true;
    }

    /// The entry ends at `now`: charged to the thread current then.
    pub fn end_entry(&mut self, now: u64) {
        if !self.clock.in_kernel {
            return;
        }
        self.clock.in_kernel = false;
        let spent = now.saturating_sub(self.clock.entry);
        self.clock.kernel_entries += 1;
        self.clock.kernel_time += spent;
        let cur = self.current;
        if let Some(u) = self.util_mut(cur) {
            u.kernel_entries += 1;
            u.kernel_time += spent;
        }
    }

    /// The TCB the current thread's x0 names, if any.
    fn benchmark_target(&self, t: u64) -> Option<u64> {
        let cptr = self.threads[&t].ctx.x[0];
        match self.lookup(self.croot(t), cptr).map(|s| self.cap(s)) {
            Ok(Cap::Thread { tcb }) => Some(tcb),
            _ => None,
        }
    }

    /// seL4_BenchmarkGetThreadUtilisation: thirteen words from msg[0].
    fn benchmark_get(&mut self, t: u64) {
        let (Some(target), Some(buf)) = (self.benchmark_target(t), self.buffer(t, true)) else {
            return;
        };
        let (u, idle, c) = (self.util(target), self.clock.idle, self.clock);
        let words = [
            u.cpu,
            u.schedules,
            u.kernel_time,
            u.kernel_entries,
            idle.cpu,
            idle.cpu,
            idle.schedules,
            idle.kernel_time,
            idle.kernel_entries,
            c.entry.saturating_sub(c.period_start),
            c.schedules,
            c.kernel_time,
            c.kernel_entries,
        ];
        for (i, w) in words.iter().enumerate() {
            self.set_word(buf + 8 * (i as u64 + 1), *w);
        }
    }

    /// seL4_BenchmarkResetThreadUtilisation.
    fn benchmark_reset(&mut self, t: u64) {
        let now = self.clock.entry;
        if let Some(target) = self.benchmark_target(t) {
            self.th(target).util = SUtil {
                start: now,
                ..SUtil::default()
            };
        }
    }

    /// seL4_BenchmarkResetAllThreadsUtilisation: every thread (the spec
    /// zeroes each one; the implementation bumps a generation), the idle
    /// thread and the totals; a new period.
    fn benchmark_reset_all(&mut self) {
        let now = self.clock.entry;
        let fresh = SUtil {
            start: now,
            ..SUtil::default()
        };
        for th in self.threads.values_mut() {
            th.util = fresh;
        }
        self.clock.idle = fresh;
        self.clock.period_start = now;
        self.clock.schedules = 0;
        self.clock.kernel_time = 0;
        self.clock.kernel_entries = 0;
    }

    /// seL4 `schedule` + `activateThread`.
    pub fn schedule(&mut self) {
        if self.action != Action::Resume {
            let cur = self.current;
            let was = self.runnable(cur);
            if was {
                self.enqueue(cur);
            }
            if let Action::SwitchTo(c) = self.action {
                let cp = self.prio(c);
                let fastfail = cur == 0 || cp < self.prio(cur);
                if fastfail && self.highest().is_some_and(|h| cp < h) {
                    self.enqueue(c);
                    self.action = Action::Choose;
                    self.choose();
                } else if was && cp == self.prio(cur) {
                    self.append(c);
                    self.action = Action::Choose;
                    self.choose();
                } else {
                    self.switch_to(c);
                }
            } else {
                self.choose();
            }
        }
        self.action = Action::Resume;
        let t = self.current;
        if t != 0 && self.state(t) == ThreadState::Restart {
            let pc = self.threads[&t].fault_ip;
            self.th(t).ctx.elr_el1 = pc;
            self.set_state(t, ThreadState::Running);
        }
    }

    /// Test harness context switch: run `t` now (both models do the same).
    pub fn run_as(&mut self, t: u64) {
        let cur = self.current;
        if self.runnable(cur) {
            self.enqueue(cur);
        }
        self.switch_to(t);
        self.action = Action::Resume;
        if self.state(t) == ThreadState::Restart {
            let pc = self.threads[&t].fault_ip;
            self.th(t).ctx.elr_el1 = pc;
            self.th(t).state = ThreadState::Running;
        }
    }

    /// One timer tick is not modelled as time: `Yield` covers round robin.
    fn yield_cur(&mut self) {
        let c = self.current;
        if c != 0 {
            self.dequeue(c);
            self.append(c);
        }
        self.reschedule();
    }

    fn set_priority(&mut self, t: u64, p: u64) {
        self.dequeue(t);
        self.th(t).prio = p & 0xff;
        if self.state(t).is_runnable() {
            if t == self.current {
                self.reschedule();
            } else {
                self.possible_switch(t);
            }
        }
    }

    // ---- message registers and buffers ----

    /// Physical address of `t`'s usable IPC buffer.
    pub fn buffer(&self, t: u64, receiver: bool) -> Option<u64> {
        match self.cap(tslot(t, BUFFER)) {
            Cap::Frame {
                paddr,
                size,
                rights,
                is_device: false,
                ..
            } if rights == VmRights::ReadWrite || (!receiver && rights == VmRights::ReadOnly) => {
                Some(paddr + (self.threads.get(&t)?.ipc_buffer & mask(frame_bits(size))))
            }
            _ => None,
        }
    }

    /// Word of user memory.
    pub fn word(&self, a: u64) -> u64 {
        self.mem.get(&a).copied().unwrap_or(0)
    }

    fn set_word(&mut self, a: u64, v: u64) {
        if v == 0 {
            self.mem.remove(&a);
        } else {
            self.mem.insert(a, v);
        }
    }

    fn get_mr(&self, t: u64, buf: Option<u64>, i: usize) -> u64 {
        if i < 4 {
            self.threads[&t].ctx.x[2 + i]
        } else {
            buf.map_or(0, |b| self.word(b + 8 * (i as u64 + 1)))
        }
    }

    fn set_mr(&mut self, t: u64, buf: Option<u64>, i: usize, v: u64) -> usize {
        if i < 4 {
            self.th(t).ctx.x[2 + i] = v;
            i + 1
        } else if let Some(b) = buf {
            self.set_word(b + 8 * (i as u64 + 1), v);
            i + 1
        } else {
            4
        }
    }

    fn extra_caps(&self, t: u64, buf: Option<u64>, info: MessageInfo) -> Result<Vec<u64>, Fault> {
        let Some(b) = buf else { return Ok(vec![]) };
        let mut out = vec![];
        for i in 0..info.extra_caps() {
            let cptr = self.word(b + 976 + 8 * i);
            match self.lookup(self.croot(t), cptr) {
                Ok(s) => out.push(s),
                Err(lookup) => {
                    return Err(Fault::CapFault {
                        addr: cptr,
                        in_recv: false,
                        lookup,
                    })
                }
            }
        }
        Ok(out)
    }

    fn derive(&self, s: u64, c: Cap) -> R<Cap> {
        Ok(match c {
            Cap::Zombie { .. } | Cap::IrqControl | Cap::Reply { .. } => Cap::Null,
            Cap::Untyped { .. } if self.has_children(s) => return Err(SyscallError::RevokeFirst),
            Cap::PageTable { mapping: None, .. } | Cap::VSpace { asid: None, .. } => {
                return Err(SyscallError::IllegalOperation)
            }
            Cap::Frame {
                paddr,
                size,
                rights,
                is_device,
                ..
            } => Cap::Frame {
                paddr,
                size,
                rights,
                is_device,
                mapping: None,
            },
            o => o,
        })
    }

    // ---- IPC ----

    fn transfer(&mut self, sender: u64, ep: u64, badge: u64, grant: bool, recv: u64) {
        let rbuf = self.buffer(recv, true);
        if let Some(f) = self.threads[&sender].fault {
            self.fault_transfer(badge, sender, f, recv, rbuf);
            return;
        }
        let sbuf = self.buffer(sender, false);
        let tag = MessageInfo::from_word(self.threads[&sender].ctx.x[1]);
        let caps = if grant {
            self.extra_caps(sender, sbuf, tag).unwrap_or_default()
        } else {
            vec![]
        };
        let len = tag.clamped_length();
        let mut n = 0;
        while n < len && n < 4 {
            let v = self.threads[&sender].ctx.x[2 + n];
            self.th(recv).ctx.x[2 + n] = v;
            n += 1;
        }
        if let (Some(sb), Some(rb)) = (sbuf, rbuf) {
            while n < len {
                let v = self.word(sb + 8 * (n as u64 + 1));
                self.set_word(rb + 8 * (n as u64 + 1), v);
                n += 1;
            }
        }
        let (mut count, mut unwrapped) = (0u64, 0u64);
        if let (Some(rb), false) = (rbuf, caps.is_empty()) {
            let mut dest = self.recv_slot(recv, rb);
            for (i, &s) in caps.iter().enumerate() {
                let c = self.cap(s);
                match c {
                    Cap::Endpoint { paddr, badge, .. } if ep != 0 && paddr == ep => {
                        self.set_word(rb + 976 + 8 * i as u64, badge);
                        unwrapped |= 1 << i;
                    }
                    _ => {
                        let Some(d) = dest else { break };
                        let Ok(dc) = self.derive(s, c) else { break };
                        if dc.is_null() {
                            break;
                        }
                        self.insert(dc, s, d);
                        dest = None;
                    }
                }
                count += 1;
            }
        }
        let info = MessageInfo::new(tag.label(), unwrapped, count, n as u64);
        let r = self.th(recv);
        r.ctx.x[1] = info.word();
        r.ctx.x[0] = badge;
    }

    fn recv_slot(&self, t: u64, b: u64) -> Option<u64> {
        let cn = self.lookup(self.croot(t), self.word(b + 1000)).ok()?;
        let s = self
            .lookup_op(
                false,
                self.cap(cn),
                self.word(b + 1008),
                self.word(b + 1016),
            )
            .ok()?;
        self.cap(s).is_null().then_some(s)
    }

    fn fault_transfer(&mut self, badge: u64, sender: u64, f: Fault, recv: u64, rbuf: Option<u64>) {
        let st = &self.threads[&sender];
        let (ip, c) = (st.fault_ip, st.ctx);
        let words: Vec<u64> = match f {
            Fault::CapFault {
                addr,
                in_recv,
                lookup,
            } => {
                let mut w = vec![ip, addr, in_recv as u64];
                w.extend_from_slice(&lookup.words()[..lookup.len()]);
                w
            }
            Fault::UnknownSyscall { number } => {
                let mut w = c.x[..8].to_vec();
                w.extend_from_slice(&[ip, c.sp_el0, c.elr_el1, c.spsr_el1, number]);
                w
            }
            Fault::UserException { number, code } => vec![ip, c.sp_el0, c.spsr_el1, number, code],
            Fault::VmFault {
                addr,
                fsr,
                instruction,
            } => vec![ip, addr, instruction as u64, fsr],
        };
        let mut n = 0;
        for (i, w) in words.iter().enumerate() {
            n = self.set_mr(recv, rbuf, i, *w);
        }
        let r = self.th(recv);
        r.ctx.x[1] = MessageInfo::new(f.fault_type().word(), 0, 0, n as u64).word();
        r.ctx.x[0] = badge;
    }

    #[allow(clippy::too_many_arguments)]
    fn send(
        &mut self,
        blocking: bool,
        call: bool,
        badge: u64,
        grant: bool,
        grant_reply: bool,
        t: u64,
        ep: u64,
    ) {
        let e = self.eps.entry(ep).or_default();
        if e.queue.is_empty() || e.sending {
            if blocking {
                let th = self.th(t);
                th.blocking = ep;
                th.badge = badge;
                th.can_grant = grant;
                th.can_grant_reply = grant_reply;
                th.is_call = call;
                self.set_state(t, ThreadState::BlockedOnSend);
                let e = self.eps.get_mut(&ep).unwrap();
                e.sending = true;
                e.queue.push_back(t);
            }
            return;
        }
        let dest = e.queue.pop_front().unwrap();
        self.transfer(t, ep, badge, grant, dest);
        let reply_grant = self.threads[&dest].can_grant;
        self.set_state(dest, ThreadState::Running);
        self.possible_switch(dest);
        if call {
            if grant || grant_reply {
                self.caller_cap(t, dest, reply_grant);
            } else {
                self.set_state(t, ThreadState::Inactive);
            }
        }
    }

    fn caller_cap(&mut self, sender: u64, recv: u64, grant: bool) {
        self.set_state(sender, ThreadState::BlockedOnReply);
        let (r, c) = (tslot(sender, REPLY), tslot(recv, CALLER));
        if matches!(self.cap(r), Cap::Reply { master: true, .. }) && self.cap(c).is_null() {
            self.insert(
                Cap::Reply {
                    tcb: sender,
                    master: false,
                    grant,
                },
                r,
                c,
            );
        }
    }

    fn receive(&mut self, t: u64, ep: u64, rights: CapRights, blocking: bool) {
        let b = self.threads[&t].bound;
        if b != 0 && self.ntfns.get(&b).is_some_and(|n| n.active.is_some()) {
            let w = self.ntfns.get_mut(&b).unwrap().active.take().unwrap();
            self.th(t).ctx.x[0] = w;
            return;
        }
        let e = self.eps.entry(ep).or_default();
        if e.queue.is_empty() || !e.sending {
            if blocking {
                let th = self.th(t);
                th.blocking = ep;
                th.can_grant = rights.grant();
                self.set_state(t, ThreadState::BlockedOnReceive);
                let e = self.eps.get_mut(&ep).unwrap();
                e.sending = false;
                e.queue.push_back(t);
            } else {
                self.th(t).ctx.x[0] = 0;
            }
            return;
        }
        let s = e.queue.pop_front().unwrap();
        let st = self.threads[&s].clone();
        self.transfer(s, ep, st.badge, st.can_grant, t);
        if st.is_call {
            if st.can_grant || st.can_grant_reply {
                self.caller_cap(s, t, rights.grant());
            } else {
                self.set_state(s, ThreadState::Inactive);
            }
        } else {
            self.set_state(s, ThreadState::Running);
            self.possible_switch(s);
        }
    }

    fn reply_transfer(&mut self, sender: u64, recv: u64, slot: u64, grant: bool) {
        if self.state(recv) != ThreadState::BlockedOnReply {
            return;
        }
        match self.threads[&recv].fault {
            None => {
                self.transfer(sender, 0, 0, grant, recv);
                self.delete_one(slot);
                self.set_state(recv, ThreadState::Running);
                self.possible_switch(recv);
            }
            Some(f) => {
                self.delete_one(slot);
                let info = MessageInfo::from_word(self.threads[&sender].ctx.x[1]);
                let sbuf = self.buffer(sender, false);
                let n = match f {
                    Fault::UnknownSyscall { .. } => info.clamped_length().min(12),
                    Fault::UserException { .. } => info.clamped_length().min(3),
                    _ => 0,
                };
                let restart = matches!(f, Fault::CapFault { .. } | Fault::VmFault { .. })
                    || info.label() == 0;
                for i in 0..n {
                    let v = self.get_mr(sender, sbuf, i);
                    let sys = matches!(f, Fault::UnknownSyscall { .. });
                    let th = self.th(recv);
                    match (sys, i) {
                        (true, 0..=7) => th.ctx.x[i] = v,
                        (true, 8) | (false, 0) => th.fault_ip = v,
                        (true, 9) | (false, 1) => th.ctx.sp_el0 = v,
                        (true, 10) => th.ctx.elr_el1 = v,
                        _ => th.ctx.spsr_el1 = sanitise_spsr(v),
                    }
                }
                self.th(recv).fault = None;
                if restart {
                    self.set_state(recv, ThreadState::Restart);
                    self.possible_switch(recv);
                } else {
                    self.set_state(recv, ThreadState::Inactive);
                }
            }
        }
    }

    fn signal(&mut self, n: u64, badge: u64) {
        let nt = self.ntfns.entry(n).or_default();
        if let Some(w) = nt.active.as_mut() {
            *w |= badge;
            return;
        }
        if let Some(dest) = nt.queue.pop_front() {
            self.set_state(dest, ThreadState::Running);
            self.th(dest).ctx.x[0] = badge;
            self.possible_switch(dest);
            return;
        }
        let b = nt.bound;
        if b != 0 && self.state(b) == ThreadState::BlockedOnReceive {
            self.cancel_ipc(b);
            self.set_state(b, ThreadState::Running);
            self.th(b).ctx.x[0] = badge;
            self.possible_switch(b);
        } else {
            self.ntfns.get_mut(&n).unwrap().active = Some(badge);
        }
    }

    fn wait(&mut self, t: u64, n: u64, blocking: bool) {
        let nt = self.ntfns.entry(n).or_default();
        if let Some(w) = nt.active.take() {
            self.th(t).ctx.x[0] = w;
        } else if blocking {
            nt.queue.push_back(t);
            self.th(t).blocking = n;
            self.set_state(t, ThreadState::BlockedOnNotification);
        } else {
            self.th(t).ctx.x[0] = 0;
        }
    }

    fn unbind(&mut self, t: u64) {
        let n = self.threads.get(&t).map_or(0, |x| x.bound);
        if n != 0 {
            self.ntfns.entry(n).or_default().bound = 0;
            self.th(t).bound = 0;
        }
    }

    fn cancel_ipc(&mut self, t: u64) {
        let th = self.threads[&t].clone();
        match th.state {
            ThreadState::BlockedOnSend | ThreadState::BlockedOnReceive => {
                self.eps
                    .get_mut(&th.blocking)
                    .unwrap()
                    .queue
                    .retain(|x| *x != t);
                self.set_state(t, ThreadState::Inactive);
            }
            ThreadState::BlockedOnNotification => {
                self.ntfns
                    .get_mut(&th.blocking)
                    .unwrap()
                    .queue
                    .retain(|x| *x != t);
                self.set_state(t, ThreadState::Inactive);
            }
            ThreadState::BlockedOnReply => {
                self.th(t).fault = None;
                let caller = self
                    .caps
                    .iter()
                    .find(|(_, c)| matches!(c, Cap::Reply { tcb, master: false, .. } if *tcb == t))
                    .map(|(s, _)| *s);
                if let Some(s) = caller {
                    self.delete_one(s);
                }
            }
            _ => {}
        }
    }

    fn restart_all(&mut self, q: VecDeque<u64>) {
        for t in q {
            self.set_state(t, ThreadState::Restart);
            self.enqueue(t);
        }
        self.reschedule();
    }

    /// seL4 `suspend`.
    pub fn suspend(&mut self, t: u64) {
        self.cancel_ipc(t);
        if self.state(t) == ThreadState::Running {
            let pc = self.threads[&t].ctx.elr_el1;
            self.th(t).fault_ip = pc;
        }
        self.set_state(t, ThreadState::Inactive);
        self.dequeue(t);
    }

    /// seL4 `restart` (Resume).
    pub fn restart(&mut self, t: u64) {
        if self.state(t).is_stopped() {
            self.cancel_ipc(t);
            if self.cap(tslot(t, REPLY)).is_null() {
                self.caps.insert(
                    tslot(t, REPLY),
                    Cap::Reply {
                        tcb: t,
                        master: true,
                        grant: true,
                    },
                );
                self.nodes.insert(tslot(t, REPLY), Node::default());
            }
            self.set_state(t, ThreadState::Restart);
            self.enqueue(t);
            self.possible_switch(t);
        }
    }

    fn handle_fault(&mut self, t: u64, f: Fault) -> bool {
        let h = self.threads[&t].fault_handler;
        match self.lookup(self.croot(t), h).map(|s| self.cap(s)) {
            Ok(Cap::Endpoint {
                paddr,
                badge,
                rights,
            }) if rights.write() && (rights.grant() || rights.grant_reply()) => {
                self.th(t).fault = Some(f);
                self.send(true, true, badge, rights.grant(), true, t, paddr);
                true
            }
            _ => {
                self.set_state(t, ThreadState::Inactive);
                false
            }
        }
    }

    // ---- deletion ----

    fn finalise(&mut self, c: Cap, fin: bool) -> Fin {
        match c {
            Cap::Endpoint { paddr, .. } if fin => {
                let q = std::mem::take(&mut self.eps.entry(paddr).or_default().queue);
                self.restart_all(q);
            }
            Cap::Notification { paddr, .. } if fin => {
                let b = self.ntfns.entry(paddr).or_default().bound;
                if b != 0 {
                    self.unbind(b);
                }
                let q = std::mem::take(&mut self.ntfns.get_mut(&paddr).unwrap().queue);
                if !q.is_empty() {
                    self.restart_all(q);
                }
            }
            Cap::CNode { paddr, radix, .. } if fin => {
                return Fin::Container(paddr, ZombieKind::CNode { radix })
            }
            Cap::Thread { tcb } if fin => {
                self.unbind(tcb);
                self.suspend(tcb);
                return Fin::Container(tcb, ZombieKind::Tcb);
            }
            _ => {}
        }
        Fin::Done
    }

    fn delete_one(&mut self, s: u64) {
        let c = self.cap(s);
        if !c.is_null() {
            let fin = self.is_final(s);
            self.finalise(c, fin);
            self.empty(s);
        }
    }

    /// seL4 `cteDelete`: deletes the cap in `s`, destroying what it alone
    /// named.
    pub fn delete(&mut self, s: u64) {
        self.delete_rec(s, s);
    }

    fn delete_rec(&mut self, s: u64, top: u64) {
        let c = self.cap(s);
        if c.is_null() {
            return;
        }
        let fin = self.is_final(s);
        match self.finalise(c, fin) {
            Fin::Done => self.empty(s),
            Fin::Container(obj, kind) => {
                let n = match kind {
                    ZombieKind::Tcb => 5,
                    ZombieKind::CNode { radix } => 1u64 << radix,
                };
                self.set_cap(
                    s,
                    Cap::Zombie {
                        paddr: obj,
                        kind,
                        remaining: n,
                    },
                );
                for i in (0..n).rev() {
                    let e = match kind {
                        ZombieKind::Tcb => tslot(obj, i),
                        ZombieKind::CNode { .. } => cslot(obj, i),
                    };
                    if e != top {
                        self.delete_rec(e, top);
                    }
                }
                self.empty(s);
            }
        }
    }

    /// seL4 `cteRevoke`.
    pub fn revoke(&mut self, s: u64) {
        while let Some(&c) = self.nodes.get(&s).and_then(|n| n.children.first()) {
            self.delete(c);
        }
    }

    // ---- system calls ----

    /// The current thread's `svc` with x7 = `x7`. Returns false when the
    /// thread faulted with no handler.
    pub fn handle_syscall(&mut self, x7: u64) -> bool {
        let t = self.current;
        if t == 0 {
            return true;
        }
        let elr = self.threads[&t].ctx.elr_el1;
        self.th(t).fault_ip = elr.wrapping_sub(4);
        let Some(sys) = Syscall::from_word(x7) else {
            return self.handle_fault(t, Fault::UnknownSyscall { number: x7 });
        };
        match sys {
            Syscall::Send => self.invocation(false, true),
            Syscall::NBSend => self.invocation(false, false),
            Syscall::Call => self.invocation(true, true),
            Syscall::Recv => self.recv(true),
            Syscall::NBRecv => self.recv(false),
            Syscall::Reply => {
                self.reply();
                true
            }
            Syscall::ReplyRecv => {
                self.reply();
                self.recv(true)
            }
            Syscall::Yield => {
                self.yield_cur();
                true
            }
            Syscall::BenchmarkGetThreadUtilisation => {
                self.benchmark_get(t);
                true
            }
            Syscall::BenchmarkResetThreadUtilisation => {
                self.benchmark_reset(t);
                true
            }
            Syscall::BenchmarkResetAllThreadsUtilisation => {
                self.benchmark_reset_all();
                true
            }
            _ => true,
        }
    }

    /// A user fault of the current thread (FaultIP = ELR).
    pub fn user_fault(&mut self, f: Fault) -> bool {
        let t = self.current;
        if t == 0 {
            return true;
        }
        let elr = self.threads[&t].ctx.elr_el1;
        self.th(t).fault_ip = elr;
        self.handle_fault(t, f)
    }

    fn reply(&mut self) {
        let t = self.current;
        let s = tslot(t, CALLER);
        if let Cap::Reply {
            tcb,
            master: false,
            grant,
        } = self.cap(s)
        {
            self.reply_transfer(t, tcb, s, grant);
        }
    }

    fn recv(&mut self, blocking: bool) -> bool {
        let t = self.current;
        let cptr = self.threads[&t].ctx.x[0];
        let missing = Fault::CapFault {
            addr: cptr,
            in_recv: true,
            lookup: LookupFailure::MissingCapability { bits_left: 0 },
        };
        let s = match self.lookup(self.croot(t), cptr) {
            Ok(s) => s,
            Err(lookup) => {
                return self.handle_fault(
                    t,
                    Fault::CapFault {
                        addr: cptr,
                        in_recv: true,
                        lookup,
                    },
                )
            }
        };
        match self.cap(s) {
            Cap::Endpoint { paddr, rights, .. } if rights.read() => {
                self.delete_one(tslot(t, CALLER));
                self.receive(t, paddr, rights, blocking);
            }
            Cap::Notification { paddr, rights, .. }
                if rights.read()
                    && self
                        .ntfns
                        .get(&paddr)
                        .is_none_or(|n| n.bound == 0 || n.bound == t) =>
            {
                self.wait(t, paddr, blocking)
            }
            _ => return self.handle_fault(t, missing),
        }
        true
    }

    fn invocation(&mut self, call: bool, blocking: bool) -> bool {
        let t = self.current;
        let ctx = self.threads[&t].ctx;
        let info = MessageInfo::from_word(ctx.x[1]);
        let slot = match self.lookup(self.croot(t), ctx.x[0]) {
            Ok(s) => s,
            Err(lookup) => {
                return !blocking
                    || self.handle_fault(
                        t,
                        Fault::CapFault {
                            addr: ctx.x[0],
                            in_recv: false,
                            lookup,
                        },
                    )
            }
        };
        let buf = self.buffer(t, false);
        let extra = match self.extra_caps(t, buf, info) {
            Ok(e) => e,
            Err(f) => return !blocking || self.handle_fault(t, f),
        };
        let mut len = info.clamped_length();
        if len > 4 && buf.is_none() {
            len = 4;
        }
        let mrs: Vec<u64> = (0..len).map(|i| self.get_mr(t, buf, i)).collect();
        let r = self.decode(info.label(), &mrs, slot, &extra, blocking, call);
        match r {
            Err(e) => {
                if call {
                    let rb = self.buffer(t, true);
                    let (w, n) = e.message();
                    let mut l = 0;
                    for (i, v) in w.iter().enumerate().take(n) {
                        l = self.set_mr(t, rb, i, *v);
                    }
                    let th = self.th(t);
                    th.ctx.x[0] = 0;
                    th.ctx.x[1] = MessageInfo::new(e.error().word(), 0, 0, l as u64).word();
                }
            }
            Ok(words) => {
                if self.state(t) == ThreadState::Restart {
                    if call {
                        let rb = self.buffer(t, true);
                        let mut l = 0;
                        for (i, v) in words.iter().enumerate() {
                            l = self.set_mr(t, rb, i, *v);
                        }
                        let th = self.th(t);
                        th.ctx.x[0] = 0;
                        th.ctx.x[1] = MessageInfo::new(0, 0, 0, l as u64).word();
                    }
                    self.set_state(t, ThreadState::Running);
                }
            }
        }
        true
    }

    fn decode(
        &mut self,
        label: u64,
        mrs: &[u64],
        slot: u64,
        extra: &[u64],
        blocking: bool,
        call: bool,
    ) -> R<Vec<u64>> {
        let t = self.current;
        let cap = self.cap(slot);
        let ecaps: Vec<Cap> = extra.iter().map(|s| self.cap(*s)).collect();
        match cap {
            Cap::Null | Cap::Zombie { .. } => Err(SyscallError::InvalidCapability(0)),
            Cap::Endpoint {
                paddr,
                badge,
                rights,
            } => {
                if !rights.write() {
                    return Err(SyscallError::InvalidCapability(0));
                }
                self.set_state(t, ThreadState::Restart);
                self.send(
                    blocking,
                    call,
                    badge,
                    rights.grant(),
                    rights.grant_reply(),
                    t,
                    paddr,
                );
                Ok(vec![])
            }
            Cap::Notification {
                paddr,
                badge,
                rights,
            } => {
                if !rights.write() {
                    return Err(SyscallError::InvalidCapability(0));
                }
                self.set_state(t, ThreadState::Restart);
                self.signal(paddr, badge);
                Ok(vec![])
            }
            Cap::Reply { tcb, master, grant } => {
                if master {
                    return Err(SyscallError::InvalidCapability(0));
                }
                self.set_state(t, ThreadState::Restart);
                self.reply_transfer(t, tcb, slot, grant);
                Ok(vec![])
            }
            Cap::CNode { .. } => {
                self.cnode(label, cap, mrs, &ecaps)?;
                self.set_state(t, ThreadState::Restart);
                Ok(vec![])
            }
            Cap::Untyped { .. } => {
                self.retype(label, slot, mrs, &ecaps, extra)?;
                self.set_state(t, ThreadState::Restart);
                Ok(vec![])
            }
            Cap::Thread { tcb } => self.tcb(label, tcb, slot, mrs, &ecaps, extra),
            _ => panic!("invocation outside the spec's scope: {cap:?}"),
        }
    }

    fn ensure_empty(&self, s: u64) -> R<()> {
        if self.cap(s).is_null() {
            Ok(())
        } else {
            Err(SyscallError::DeleteFirst)
        }
    }

    fn cnode(&mut self, label: u64, cn: Cap, m: &[u64], ex: &[Cap]) -> R<()> {
        let Some(label) =
            L::from_word(label).filter(|l| (L::CNodeRevoke..=L::CNodeSaveCaller).contains(l))
        else {
            return Err(SyscallError::IllegalOperation);
        };
        if m.len() < 2 {
            return Err(SyscallError::TruncatedMessage);
        }
        let dest = self.lookup_op(false, cn, m[0], m[1])?;
        let missing = |source, d| SyscallError::FailedLookup {
            source,
            failure: LookupFailure::MissingCapability { bits_left: d },
        };
        match label {
            L::CNodeCopy | L::CNodeMint | L::CNodeMove | L::CNodeMutate => {
                if m.len() < 4 || ex.is_empty() {
                    return Err(SyscallError::TruncatedMessage);
                }
                self.ensure_empty(dest)?;
                let src = self.lookup_op(true, ex[0], m[2], m[3])?;
                let sc = self.cap(src);
                if sc.is_null() {
                    return Err(missing(true, m[3]));
                }
                let (new, mv) = match label {
                    L::CNodeCopy => {
                        let r = *m.get(4).ok_or(SyscallError::TruncatedMessage)?;
                        (
                            self.derive(src, mask_rights(CapRights::from_word(r), sc))?,
                            false,
                        )
                    }
                    L::CNodeMint => {
                        if m.len() < 6 {
                            return Err(SyscallError::TruncatedMessage);
                        }
                        let c = cap_data(false, m[5], mask_rights(CapRights::from_word(m[4]), sc));
                        (self.derive(src, c)?, false)
                    }
                    L::CNodeMove => (sc, true),
                    _ => (
                        cap_data(true, *m.get(4).ok_or(SyscallError::TruncatedMessage)?, sc),
                        true,
                    ),
                };
                if new.is_null() {
                    return Err(SyscallError::IllegalOperation);
                }
                if mv {
                    self.move_cap(new, src, dest);
                } else {
                    self.insert(new, src, dest);
                }
            }
            L::CNodeRevoke => self.revoke(dest),
            L::CNodeDelete => self.delete(dest),
            L::CNodeSaveCaller => {
                self.ensure_empty(dest)?;
                let c = tslot(self.current, CALLER);
                if let r @ Cap::Reply { master: false, .. } = self.cap(c) {
                    self.move_cap(r, c, dest);
                }
            }
            L::CNodeCancelBadgedSends => match self.cap(dest) {
                Cap::Endpoint {
                    paddr,
                    badge,
                    rights,
                } if rights == CapRights::ALL => {
                    if badge != 0 {
                        let e = self.eps.entry(paddr).or_default();
                        if e.sending && !e.queue.is_empty() {
                            let (go, stay): (VecDeque<u64>, VecDeque<u64>) =
                                e.queue.iter().partition(|t| self.threads[t].badge == badge);
                            self.eps.get_mut(&paddr).unwrap().queue = stay;
                            for t in go {
                                self.set_state(t, ThreadState::Restart);
                                self.enqueue(t);
                            }
                            self.reschedule();
                        }
                    }
                }
                _ => return Err(SyscallError::IllegalOperation),
            },
            _ => {
                if m.len() < 8 || ex.len() < 2 {
                    return Err(SyscallError::TruncatedMessage);
                }
                let src = self.lookup_op(true, ex[1], m[6], m[7])?;
                let pivot = self.lookup_op(true, ex[0], m[3], m[4])?;
                if pivot == src || pivot == dest {
                    return Err(SyscallError::IllegalOperation);
                }
                if src != dest {
                    self.ensure_empty(dest)?;
                }
                let sc = self.cap(src);
                if sc.is_null() {
                    return Err(missing(true, m[7]));
                }
                let pc = self.cap(pivot);
                if pc.is_null() {
                    return Err(missing(false, m[4]));
                }
                let (ns, np) = (cap_data(true, m[5], sc), cap_data(true, m[2], pc));
                if ns.is_null() || np.is_null() {
                    return Err(SyscallError::IllegalOperation);
                }
                if src == dest {
                    self.swap(ns, src, np, pivot);
                } else {
                    self.move_cap(np, pivot, dest);
                    self.move_cap(ns, src, pivot);
                }
            }
        }
        Ok(())
    }

    fn retype(&mut self, label: u64, slot: u64, m: &[u64], ex: &[Cap], exs: &[u64]) -> R<()> {
        if label != L::UntypedRetype.word() {
            return Err(SyscallError::IllegalOperation);
        }
        if m.len() < 6 || ex.is_empty() {
            return Err(SyscallError::TruncatedMessage);
        }
        let Some(ty) = ObjectType::from_word(m[0]) else {
            return Err(SyscallError::InvalidArgument(0));
        };
        let us = m[1];
        let bits = match ty {
            ObjectType::Untyped => us,
            ObjectType::CapTable => us.saturating_add(5),
            ObjectType::Tcb => 11,
            ObjectType::Endpoint => 4,
            ObjectType::Notification => 5,
            ObjectType::HugePage => 30,
            ObjectType::LargePage => 21,
            _ => 12,
        };
        if us >= 64 || bits > 47 {
            return Err(SyscallError::RangeError(0, 47));
        }
        if (ty == ObjectType::CapTable && us == 0) || (ty == ObjectType::Untyped && us < 4) {
            return Err(SyscallError::InvalidArgument(1));
        }
        let ds = if m[3] == 0 {
            exs[0]
        } else {
            self.lookup_op(false, ex[0], m[2], m[3])?
        };
        let Cap::CNode {
            paddr: cn, radix, ..
        } = self.cap(ds)
        else {
            return Err(SyscallError::FailedLookup {
                source: false,
                failure: LookupFailure::MissingCapability { bits_left: m[3] },
            });
        };
        let size = 1u64 << radix;
        let (off, n) = (m[4], m[5]);
        if off > size - 1 {
            return Err(SyscallError::RangeError(0, size - 1));
        }
        if !(1..=256).contains(&n) {
            return Err(SyscallError::RangeError(1, 256));
        }
        if n > size - off {
            return Err(SyscallError::RangeError(1, size - off));
        }
        for i in off..off + n {
            self.ensure_empty(cslot(cn, i))?;
        }
        let Cap::Untyped {
            paddr: base,
            size_bits,
            is_device,
            free_index,
        } = self.cap(slot)
        else {
            unreachable!()
        };
        let reset = !self.has_children(slot);
        let free = if reset { 0 } else { free_index };
        let avail = (1u64 << size_bits) - free;
        if avail >> bits < n {
            return Err(SyscallError::NotEnoughMemory(avail));
        }
        let is_frame = matches!(
            ty,
            ObjectType::SmallPage | ObjectType::LargePage | ObjectType::HugePage
        );
        if is_device && !is_frame && ty != ObjectType::Untyped {
            return Err(SyscallError::InvalidArgument(1));
        }
        let start = (base + free).next_multiple_of(1 << bits);
        if reset && free_index != 0 && !is_device {
            let len = if size_bits < 8 {
                1 << size_bits
            } else {
                free_index.next_multiple_of(256).min(1 << size_bits)
            };
            let gone: Vec<u64> = self.mem.range(base..base + len).map(|(a, _)| *a).collect();
            for a in gone {
                self.mem.remove(&a);
            }
        }
        self.set_cap(
            slot,
            Cap::Untyped {
                paddr: base,
                size_bits,
                is_device,
                free_index: start + (n << bits) - base,
            },
        );
        for i in 0..n {
            let p = start + (i << bits);
            let frame = |size| Cap::Frame {
                paddr: p,
                size,
                rights: VmRights::ReadWrite,
                is_device,
                mapping: None,
            };
            let c = match ty {
                ObjectType::Untyped => Cap::Untyped {
                    paddr: p,
                    size_bits: us as u8,
                    is_device,
                    free_index: 0,
                },
                ObjectType::Tcb => {
                    self.threads.insert(p, SThread::new());
                    Cap::Thread { tcb: p }
                }
                ObjectType::Endpoint => {
                    self.eps.insert(p, SEp::default());
                    Cap::Endpoint {
                        paddr: p,
                        badge: 0,
                        rights: CapRights::ALL,
                    }
                }
                ObjectType::Notification => {
                    self.ntfns.insert(p, SNtfn::default());
                    Cap::Notification {
                        paddr: p,
                        badge: 0,
                        rights: CapRights::READ_WRITE,
                    }
                }
                ObjectType::CapTable => Cap::CNode {
                    paddr: p,
                    radix: us as u8,
                    guard_size: 0,
                    guard: 0,
                },
                ObjectType::SmallPage => frame(FrameSize::Small),
                ObjectType::LargePage => frame(FrameSize::Large),
                ObjectType::HugePage => frame(FrameSize::Huge),
                ObjectType::PageTable => Cap::PageTable {
                    paddr: p,
                    mapping: None,
                },
                ObjectType::VSpace => Cap::VSpace {
                    paddr: p,
                    asid: None,
                },
            };
            self.insert_new_child(slot, cslot(cn, off + i), c);
        }
        Ok(())
    }

    fn long_running(&self, s: u64) -> bool {
        let c = self.cap(s);
        !c.is_null()
            && self.is_final(s)
            && matches!(
                c,
                Cap::Thread { .. } | Cap::CNode { .. } | Cap::Zombie { .. }
            )
    }

    fn install(&mut self, target: u64, tslot_of_cap: u64, idx: u64, new: Cap, src: u64) {
        let d = tslot(target, idx);
        self.delete(d);
        if !new.is_null()
            && same_object(&new, &self.cap(src))
            && same_object(&Cap::Thread { tcb: target }, &self.cap(tslot_of_cap))
            && self.cap(d).is_null()
        {
            self.insert(new, src, d);
        }
    }

    fn reg(&self, t: u64, i: usize) -> u64 {
        let th = &self.threads[&t];
        match USER_CONTEXT_ORDER[i] {
            UserContextReg::Pc => th.fault_ip,
            UserContextReg::Sp => th.ctx.sp_el0,
            UserContextReg::Spsr => th.ctx.spsr_el1,
            UserContextReg::X(n) => th.ctx.x[n as usize],
            UserContextReg::TpidrEl0 => th.ctx.tpidr_el0,
            UserContextReg::TpidrroEl0 => th.ctx.tpidrro_el0,
        }
    }

    fn set_reg(&mut self, t: u64, i: usize, v: u64) {
        let th = self.th(t);
        match USER_CONTEXT_ORDER[i] {
            UserContextReg::Pc => th.fault_ip = v,
            UserContextReg::Sp => th.ctx.sp_el0 = v,
            UserContextReg::Spsr => th.ctx.spsr_el1 = sanitise_spsr(v),
            UserContextReg::X(n) => th.ctx.x[n as usize] = v,
            UserContextReg::TpidrEl0 => th.ctx.tpidr_el0 = v,
            UserContextReg::TpidrroEl0 => th.ctx.tpidrro_el0 = v,
        }
    }

    fn space(&self, target: u64, data: u64, ex: &[Cap], exs: &[u64]) -> R<(Cap, Cap)> {
        if self.long_running(tslot(target, CTABLE)) || self.long_running(tslot(target, VTABLE)) {
            return Err(SyscallError::IllegalOperation);
        }
        let c = if data != 0 {
            cap_data(false, data, ex[0])
        } else {
            ex[0]
        };
        let c = self.derive(exs[0], c)?;
        if !matches!(c, Cap::CNode { .. }) {
            return Err(SyscallError::IllegalOperation);
        }
        let v = self.derive(exs[1], ex[1])?;
        if !matches!(v, Cap::VSpace { asid: Some(_), .. }) {
            return Err(SyscallError::IllegalOperation);
        }
        Ok((c, v))
    }

    fn buf_cap(&self, addr: u64, s: u64, c: Cap) -> R<Cap> {
        let d = self.derive(s, c)?;
        if !matches!(
            d,
            Cap::Frame {
                is_device: false,
                ..
            }
        ) {
            return Err(SyscallError::IllegalOperation);
        }
        if !addr.is_multiple_of(1024) {
            return Err(SyscallError::AlignmentError);
        }
        Ok(d)
    }

    fn set_buffer(&mut self, target: u64, tcap: u64, addr: u64, b: Option<(Cap, u64)>) {
        self.delete(tslot(target, BUFFER));
        self.th(target).ipc_buffer = addr;
        if let Some((c, s)) = b {
            self.install(target, tcap, BUFFER, c, s);
        }
        if target == self.current {
            self.reschedule();
        }
    }

    fn tcb(
        &mut self,
        label: u64,
        target: u64,
        tcap: u64,
        m: &[u64],
        ex: &[Cap],
        exs: &[u64],
    ) -> R<Vec<u64>> {
        let cur = self.current;
        let Some(label) = L::from_word(label) else {
            return Err(SyscallError::IllegalOperation);
        };
        let trunc = Err(SyscallError::TruncatedMessage);
        let auth = |s: &Self| match ex.first() {
            Some(Cap::Thread { tcb }) => Ok(s.threads[tcb].mcp),
            Some(_) => Err(SyscallError::InvalidCapability(1)),
            None => Err(SyscallError::TruncatedMessage),
        };
        let chk = |p: u64, mcp: u64| {
            if p > mcp {
                Err(SyscallError::RangeError(0, mcp))
            } else {
                Ok(())
            }
        };
        match label {
            L::TcbReadRegisters => {
                if m.len() < 2 {
                    return trunc;
                }
                if !(1..=36).contains(&m[1]) {
                    return Err(SyscallError::RangeError(1, 36));
                }
                if target == cur {
                    return Err(SyscallError::IllegalOperation);
                }
                self.set_state(cur, ThreadState::Restart);
                if m[0] & 1 != 0 {
                    self.suspend(target);
                }
                Ok((0..m[1] as usize).map(|i| self.reg(target, i)).collect())
            }
            L::TcbWriteRegisters => {
                if m.len() < 2 || (m.len() as u64 - 2) < m[1] {
                    return trunc;
                }
                if target == cur {
                    return Err(SyscallError::IllegalOperation);
                }
                self.set_state(cur, ThreadState::Restart);
                for i in 0..m[1].min(36) as usize {
                    self.set_reg(target, i, m[i + 2]);
                }
                let pc = self.threads[&target].fault_ip;
                self.th(target).ctx.elr_el1 = pc;
                if m[0] & 1 != 0 {
                    self.restart(target);
                }
                Ok(vec![])
            }
            L::TcbCopyRegisters => {
                if m.is_empty() || ex.is_empty() {
                    return trunc;
                }
                let Cap::Thread { tcb: src } = ex[0] else {
                    return Err(SyscallError::InvalidCapability(1));
                };
                self.set_state(cur, ThreadState::Restart);
                if m[0] & 1 != 0 {
                    self.suspend(src);
                }
                if m[0] & 2 != 0 {
                    self.restart(target);
                }
                let regs: Vec<u64> = (0..36).map(|i| self.reg(src, i)).collect();
                if m[0] & 4 != 0 {
                    for (i, r) in regs.iter().enumerate().take(17) {
                        self.set_reg(target, i, *r);
                    }
                    let pc = self.threads[&target].fault_ip;
                    self.th(target).ctx.elr_el1 = pc;
                }
                if m[0] & 8 != 0 {
                    for (i, r) in regs.iter().enumerate().skip(17) {
                        self.set_reg(target, i, *r);
                    }
                }
                if target == cur {
                    self.reschedule();
                }
                Ok(vec![])
            }
            L::TcbSuspend => {
                self.set_state(cur, ThreadState::Restart);
                self.suspend(target);
                Ok(vec![])
            }
            L::TcbResume => {
                self.set_state(cur, ThreadState::Restart);
                self.restart(target);
                Ok(vec![])
            }
            L::TcbConfigure => {
                if m.len() < 4 || ex.len() < 3 {
                    return trunc;
                }
                let b = if m[3] == 0 {
                    None
                } else {
                    Some((self.buf_cap(m[3], exs[2], ex[2])?, exs[2]))
                };
                let (c, v) = self.space(target, m[1], ex, exs)?;
                self.set_state(cur, ThreadState::Restart);
                self.th(target).fault_handler = m[0];
                self.install(target, tcap, CTABLE, c, exs[0]);
                self.install(target, tcap, VTABLE, v, exs[1]);
                self.set_buffer(target, tcap, m[3], b);
                Ok(vec![])
            }
            L::TcbSetSpace => {
                if m.len() < 3 || ex.len() < 2 {
                    return trunc;
                }
                let (c, v) = self.space(target, m[1], ex, exs)?;
                self.set_state(cur, ThreadState::Restart);
                self.th(target).fault_handler = m[0];
                self.install(target, tcap, CTABLE, c, exs[0]);
                self.install(target, tcap, VTABLE, v, exs[1]);
                Ok(vec![])
            }
            L::TcbSetIpcBuffer => {
                if m.is_empty() || ex.is_empty() {
                    return trunc;
                }
                let b = if m[0] == 0 {
                    None
                } else {
                    Some((self.buf_cap(m[0], exs[0], ex[0])?, exs[0]))
                };
                self.set_state(cur, ThreadState::Restart);
                self.set_buffer(target, tcap, m[0], b);
                Ok(vec![])
            }
            L::TcbSetPriority | L::TcbSetMcPriority => {
                if m.is_empty() || ex.is_empty() {
                    return trunc;
                }
                chk(m[0], auth(self)?)?;
                self.set_state(cur, ThreadState::Restart);
                if label == L::TcbSetPriority {
                    self.set_priority(target, m[0]);
                } else {
                    self.th(target).mcp = m[0] & 0xff;
                }
                Ok(vec![])
            }
            L::TcbSetSchedParams => {
                if m.len() < 2 || ex.is_empty() {
                    return trunc;
                }
                let mcp = auth(self)?;
                chk(m[0], mcp)?;
                chk(m[1], mcp)?;
                self.set_state(cur, ThreadState::Restart);
                self.th(target).mcp = m[0] & 0xff;
                self.set_priority(target, m[1]);
                Ok(vec![])
            }
            L::TcbBindNotification => {
                let Some(c) = ex.first() else { return trunc };
                if self.threads[&target].bound != 0 {
                    return Err(SyscallError::IllegalOperation);
                }
                let Cap::Notification { paddr, rights, .. } = *c else {
                    return Err(SyscallError::IllegalOperation);
                };
                let n = self.ntfns.entry(paddr).or_default();
                if !rights.read() || !n.queue.is_empty() || n.bound != 0 {
                    return Err(SyscallError::IllegalOperation);
                }
                n.bound = target;
                self.set_state(cur, ThreadState::Restart);
                self.th(target).bound = paddr;
                Ok(vec![])
            }
            L::TcbUnbindNotification => {
                if self.threads[&target].bound == 0 {
                    return Err(SyscallError::IllegalOperation);
                }
                self.set_state(cur, ThreadState::Restart);
                self.unbind(target);
                Ok(vec![])
            }
            L::TcbSetTlsBase => {
                let Some(&b) = m.first() else { return trunc };
                self.set_state(cur, ThreadState::Restart);
                self.th(target).ctx.tpidr_el0 = b;
                if target == cur {
                    self.reschedule();
                }
                Ok(vec![])
            }
            L::TcbSetFlags => {
                if m.len() < 2 {
                    return trunc;
                }
                self.set_state(cur, ThreadState::Restart);
                let f = (self.threads[&target].flags & !m[0]) | (m[1] & 1);
                self.th(target).flags = f;
                Ok(vec![f])
            }
            _ => Err(SyscallError::IllegalOperation),
        }
    }
}

impl Default for Spec {
    fn default() -> Self {
        Self::new()
    }
}
