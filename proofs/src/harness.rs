//! Runs operations on the implementation and the specification side by
//! side and compares them after every step.
//!
//! The implementation runs on a simulated physical arena, booted by the
//! same sequence the kernel uses (`cerne_objects::hostboot`). The spec's
//! initial state is the abstraction of that booted state; from then on
//! both evolve independently. After every step the harness compares the
//! observable state (every cap in every slot, the derivation tree, every
//! live thread's state and registers and IPC buffer, endpoint and
//! notification queues and words, ready queues, current thread), runs the
//! implementation's invariant checkers, and checks authority confinement.

use crate::ops::{call, Op};
use crate::spec::{self, Action, Node, SClock, SEp, SNtfn, SThread, SUtil, Spec};
use cerne_abi::invocation::InvocationLabel as L;
use cerne_abi::message::MessageInfo;
use cerne_abi::object::ObjectType;
use cerne_abi::slots::*;
use cerne_objects::cap::Cap;
use cerne_objects::hostboot::{self, BootLayout, ARENA_BASE};
use cerne_objects::layout::{TCB_BUFFER, TCB_CTABLE};
use cerne_objects::queue::{self, EpState, NtfnState};
use cerne_objects::state::SchedulerAction;
use cerne_objects::tcb::{self, tcb_slot};
use cerne_objects::{cdt, cspace, invariants, Fault, Kernel, KernelState, PhysMem, ThreadState};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

/// Bytes of simulated RAM.
pub const ARENA_BYTES: usize = 256 << 10;
/// log2 of the root CNode's slot count in the test system.
pub const ROOT_RADIX: u8 = 6;

/// Both models and what the harness knows about the test system.
pub struct World {
    words: Vec<u64>,
    state: KernelState,
    /// The specification.
    pub spec: Spec,
    /// Boot layout.
    pub layout: BootLayout,
    /// Root thread then the three test threads.
    pub threads: Vec<u64>,
    roots: Vec<u64>,
    /// The clock both models' entries are stamped with.
    clock: u64,
}

/// What is compared after each step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Obs {
    pub caps: BTreeMap<u64, Cap>,
    pub parents: BTreeMap<u64, Option<u64>>,
    pub threads: BTreeMap<u64, ThreadObs>,
    pub buffers: BTreeMap<u64, Vec<u64>>,
    pub eps: BTreeMap<u64, (EpState, Vec<u64>)>,
    pub ntfns: BTreeMap<u64, (NtfnState, Vec<u64>, u64, u64)>,
    pub ready: BTreeMap<usize, Vec<u64>>,
    pub current: u64,
    /// CPU-time accounting: the idle thread's counters, then the period's
    /// length so far, switches, kernel time and kernel entries.
    pub utilisation: ([u64; 4], [u64; 4]),
}

/// Observable state of one thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadObs {
    pub state: ThreadState,
    pub ctx: cerne_objects::UserContext,
    pub fault_ip: u64,
    pub prio: u64,
    pub mcp: u64,
    pub bound: u64,
    pub ipc_buffer: u64,
    pub fault: Option<Fault>,
    pub flags: u64,
    pub queued: bool,
    pub blocking: u64,
    pub send: Option<(u64, bool, bool, bool)>,
    /// CPU time, schedules, kernel time, kernel entries.
    pub util: [u64; 4],
}

fn diff<K: Debug + Ord, V: Debug + PartialEq>(
    what: &str,
    a: &BTreeMap<K, V>,
    b: &BTreeMap<K, V>,
) -> Option<String> {
    for (k, v) in a {
        match b.get(k) {
            None => {
                return Some(format!(
                    "{what} {k:x?}: implementation {v:x?}, spec has none"
                ))
            }
            Some(w) if w != v => {
                return Some(format!(
                    "{what} {k:x?}:\n  implementation {v:x?}\n  spec           {w:x?}"
                ))
            }
            _ => {}
        }
    }
    b.keys()
        .find(|k| !a.contains_key(k))
        .map(|k| format!("{what} {k:x?}: spec {:x?}, implementation has none", b[k]))
}

fn obs_diff(a: &Obs, b: &Obs) -> Option<String> {
    diff("slot", &a.caps, &b.caps)
        .or_else(|| diff("parent of slot", &a.parents, &b.parents))
        .or_else(|| diff("thread", &a.threads, &b.threads))
        .or_else(|| diff("IPC buffer of", &a.buffers, &b.buffers))
        .or_else(|| diff("endpoint", &a.eps, &b.eps))
        .or_else(|| diff("notification", &a.ntfns, &b.ntfns))
        .or_else(|| diff("ready queue", &a.ready, &b.ready))
        .or_else(|| {
            (a.current != b.current).then(|| {
                format!(
                    "current: implementation {:#x}, spec {:#x}",
                    a.current, b.current
                )
            })
        })
        .or_else(|| {
            (a.utilisation != b.utilisation).then(|| {
                format!(
                    "utilisation (idle; totals): implementation {:?}, spec {:?}",
                    a.utilisation, b.utilisation
                )
            })
        })
}

fn out_of_scope(c: &Cap) -> bool {
    matches!(
        c,
        Cap::Frame { .. }
            | Cap::PageTable { .. }
            | Cap::VSpace { .. }
            | Cap::AsidPool { .. }
            | Cap::AsidControl
            | Cap::IrqControl
            | Cap::IrqHandler { .. }
            | Cap::Domain
            | Cap::SgiSignal { .. }
    )
}

/// Objects (tag, address) reachable through the CSpace rooted at `root`.
pub fn reach(caps: &BTreeMap<u64, Cap>, root: Cap) -> BTreeSet<(u64, u64)> {
    let mut out = BTreeSet::new();
    let mut work = vec![root];
    let mut seen = BTreeSet::new();
    while let Some(c) = work.pop() {
        if let Some((t, p, _)) = spec::object_of(&c) {
            out.insert((t, p));
        }
        if let Cap::CNode { paddr, radix, .. } = c {
            if seen.insert(paddr) {
                for i in 0..1u64 << radix {
                    if let Some(x) = caps.get(&spec::cslot(paddr, i)) {
                        work.push(*x);
                    }
                }
            }
        }
    }
    out
}

impl World {
    /// Boots the implementation, abstracts the spec from it and runs the
    /// fixed setup (three configured threads with their own CSpaces).
    pub fn new() -> Result<World, String> {
        let mut words = vec![0u64; ARENA_BYTES / 8];
        let mut state = KernelState::new();
        let (layout, spec, roots) = {
            let mem = PhysMem::from_words(&mut words, ARENA_BASE).ok_or("arena")?;
            let mut k = Kernel::new(mem, &mut state);
            let layout = hostboot::boot(&mut k, ROOT_RADIX, 16);
            let roots = hostboot::root_slots(&layout);
            let spec = abstraction(&k, &roots);
            (layout, spec, roots)
        };
        let mut w = World {
            words,
            state,
            spec,
            threads: vec![layout.tcb],
            layout,
            roots,
            clock: 0,
        };
        w.compare()?;
        for op in w.setup() {
            w.step(&op).map_err(|e| format!("setup step {op:?}: {e}"))?;
        }
        for i in 0..3 {
            let cn = match w.spec.cap(spec::cslot(
                w.layout.root_cnode,
                w.layout.first_free_slot + 4 + (i + 2) % 3,
            )) {
                Cap::CNode { paddr, .. } => paddr,
                c => return Err(format!("setup did not create CNode {i}: {c:?}")),
            };
            match w.spec.cap(spec::cslot(cn, 4)) {
                Cap::Thread { tcb } => w.threads.push(tcb),
                c => return Err(format!("setup did not create thread {i}: {c:?}")),
            }
        }
        Ok(w)
    }

    fn kernel(&mut self) -> Kernel<'_> {
        Kernel::new(
            PhysMem::from_words(&mut self.words, ARENA_BASE).unwrap(),
            &mut self.state,
        )
    }

    /// The fixed setup steps, run by the root task.
    pub fn setup(&self) -> Vec<Op> {
        let l = &self.layout;
        let ut = (0..l.untypeds.len())
            .max_by_key(|i| (l.untypeds[*i].2, usize::MAX - i))
            .unwrap();
        let ut = (l.untypeds[ut].0 - l.root_cnode) / 32;
        let f = l.first_free_slot;
        let root = CAP_INIT_THREAD_CNODE as u64;
        let retype = |ty: ObjectType, bits: u64, at: u64, n: u64| {
            call(
                ut,
                L::UntypedRetype,
                &[ty.word(), bits, 0, 0, at, n],
                &[root],
            )
        };
        // f: ep0, f+1: ep1, f+2: ntfn0, f+3: ntfn1, f+4..6: CNodes,
        // f+7..9: TCBs, f+10..12: IPC buffer frames, f+13..15: untypeds,
        // f+16: ep2 (the root task's own, nobody else holds it).
        let mut ops = vec![
            retype(ObjectType::Endpoint, 0, f, 2),
            retype(ObjectType::Notification, 0, f + 2, 2),
            retype(ObjectType::CapTable, 4, f + 4, 3),
            retype(ObjectType::Tcb, 0, f + 7, 3),
            retype(ObjectType::SmallPage, 0, f + 10, 3),
            retype(ObjectType::Untyped, 12, f + 13, 3),
            retype(ObjectType::Endpoint, 0, f + 16, 1),
        ];
        for i in 0..3u64 {
            let cn = f + 4 + i;
            let tcb = f + 7 + i;
            let ep1_rights = if i == 0 { 0xf } else { 0x5 };
            ops.extend([
                call(cn, L::CNodeMint, &[1, 4, f, 64, 0xf, i + 1], &[root]),
                call(cn, L::CNodeMint, &[2, 4, f + 2, 64, 0xf, 1 << i], &[root]),
                call(cn, L::CNodeCopy, &[3, 4, f + 1, 64, ep1_rights], &[root]),
                call(cn, L::CNodeCopy, &[5, 4, f + 3, 64, 0xf], &[root]),
                call(cn, L::CNodeMint, &[6, 4, cn, 64, 0xf, 60], &[root]),
                call(cn, L::CNodeMove, &[7, 4, f + 13 + i, 64], &[root]),
                call(cn, L::CNodeCopy, &[9, 4, f, 64, 0xf], &[root]),
                call(
                    tcb,
                    L::TcbConfigure,
                    &[3, 60, 0, 0x10000 + 0x1000 * i],
                    &[cn, CAP_INIT_THREAD_VSPACE as u64, f + 10 + i],
                ),
                call(
                    tcb,
                    L::TcbSetMcPriority,
                    &[100],
                    &[CAP_INIT_THREAD_TCB as u64],
                ),
                call(
                    tcb,
                    L::TcbSetPriority,
                    &[if i == 2 { 50 } else { 100 }],
                    &[CAP_INIT_THREAD_TCB as u64],
                ),
                call(tcb, L::TcbResume, &[], &[]),
            ]);
        }
        // Hand thread i+1's only TCB cap to thread i (so threads can
        // destroy each other, also in the middle of IPC), and drop the root task's caps to ep1 and ntfn1 (so the
        // threads hold the last caps to them).
        for i in 0..3u64 {
            ops.push(call(
                f + 4 + i,
                L::CNodeMove,
                &[4, 4, f + 7 + (i + 1) % 3, 64],
                &[root],
            ));
        }
        ops.push(call(root, L::CNodeDelete, &[f + 1, 64], &[]));
        ops.push(call(root, L::CNodeDelete, &[f + 3, 64], &[]));
        // The root task steps aside: it waits on an endpoint nobody holds.
        ops.push(Op::Sys {
            sys: crate::ops::SysKind::Known(cerne_abi::syscall::Syscall::Recv),
            cptr: f + 16,
            label: 0,
            len: 0,
            extra: 0,
            mrs: [0; 8],
            caps: [0; 3],
            recv: [0; 3],
        });
        ops
    }

    fn write_user(&mut self, t: u64, a: u64, v: u64) {
        self.kernel().mem.write_word(a, v);
        let _ = t;
        if v == 0 {
            self.spec.mem.remove(&a);
        } else {
            self.spec.mem.insert(a, v);
        }
    }

    /// Runs one operation on both models and compares them.
    pub fn step(&mut self, op: &Op) -> Result<(), String> {
        self.step_observed(op).map(|_| ())
    }

    /// As [`World::step`], also returning the acting thread and the
    /// implementation's observations before and after (None if skipped).
    pub fn step_observed(&mut self, op: &Op) -> Result<Option<(u64, Obs, Obs)>, String> {
        let before = self.observe_impl();
        let actor = self.state.current;
        let skip = self.apply(op)?;
        if skip {
            return Ok(None);
        }
        self.compare()?;
        let after = self.observe_impl();
        self.check_authority(actor, &before, &after)?;
        Ok(Some((actor, before, after)))
    }

    /// Applies `op`; returns true when it was skipped (outside the spec).
    fn apply(&mut self, op: &Op) -> Result<bool, String> {
        match *op {
            Op::RunAs(n) => {
                let t = self.threads[n as usize % self.threads.len()];
                let mut k = self.kernel();
                if !k.thread_state(t).is_runnable() || k.state.current == t {
                    return Ok(true);
                }
                let cur = k.state.current;
                if cur != 0 && k.thread_state(cur).is_runnable() {
                    k.sched_enqueue(cur);
                }
                k.switch_to_thread(t);
                k.state.action = SchedulerAction::ResumeCurrent;
                if k.thread_state(t) == ThreadState::Restart {
                    let pc = k.tcb_fields(t).fault_ip;
                    k.user_context_mut(t).elr_el1 = pc;
                    tcb::update(&k.mem, t, |f| f.state = ThreadState::Running as u64);
                }
                self.spec.run_as(t);
            }
            Op::Resume(n) => {
                let t = self.threads[n as usize % self.threads.len()];
                if !self.observe_impl().threads.contains_key(&t) {
                    return Ok(true);
                }
                {
                    let mut k = self.kernel();
                    k.restart(t);
                    k.schedule_and_activate();
                }
                self.spec.restart(t);
                self.spec.schedule();
            }
            Op::Sys {
                sys,
                cptr,
                label,
                len,
                extra,
                mrs,
                caps,
                recv,
            } => {
                let t = self.state.current;
                if t == 0 {
                    return Ok(true);
                }
                if matches!(
                    sys,
                    crate::ops::SysKind::Known(
                        cerne_abi::syscall::Syscall::Call
                            | cerne_abi::syscall::Syscall::Send
                            | cerne_abi::syscall::Syscall::NBSend
                    )
                ) {
                    let k = self.kernel();
                    let root = k.cspace_root(t);
                    if let Ok((_, c)) = cspace::lookup_cap(&k.mem, root, cptr) {
                        if out_of_scope(&c) {
                            return Ok(true);
                        }
                    }
                }
                let buf = self.kernel().ipc_buffer(t, false);
                if let Some(b) = buf {
                    for (i, m) in mrs.iter().enumerate().skip(4) {
                        self.write_user(t, b + 8 * (i as u64 + 1), *m);
                    }
                    for (i, c) in caps.iter().enumerate() {
                        self.write_user(t, b + 976 + 8 * i as u64, *c);
                    }
                    for (i, r) in recv.iter().enumerate() {
                        self.write_user(t, b + 1000 + 8 * i as u64, *r);
                    }
                }
                let info = MessageInfo::new(label, 0, extra, len).word();
                let set = |c: &mut cerne_objects::UserContext| {
                    c.x[0] = cptr;
                    c.x[1] = info;
                    c.x[2..6].copy_from_slice(&mrs[..4]);
                    c.x[7] = sys.word();
                    c.elr_el1 = c.elr_el1.wrapping_add(4);
                };
                let (start, end) = self.tick();
                {
                    let mut k = self.kernel();
                    k.begin_entry(start);
                    set(k.user_context_mut(t));
                    k.handle_syscall(sys.word());
                    // The spec has no TLB; the kernel would carry these out.
                    k.take_tlb_flushes();
                    k.schedule_and_activate();
                    k.end_entry(end);
                }
                let th = self
                    .spec
                    .threads
                    .get_mut(&t)
                    .ok_or("spec lost the current thread")?;
                set(&mut th.ctx);
                self.spec.begin_entry(start);
                self.spec.handle_syscall(sys.word());
                self.spec.schedule();
                self.spec.end_entry(end);
            }
            Op::VmFault { addr, instruction } => {
                if self.state.current == 0 {
                    return Ok(true);
                }
                let f = Fault::VmFault {
                    addr,
                    fsr: 0x92000007,
                    instruction,
                };
                self.fault(f);
            }
            Op::UserException { number } => {
                if self.state.current == 0 {
                    return Ok(true);
                }
                self.fault(Fault::UserException { number, code: 0 });
            }
        }
        Ok(false)
    }

    fn fault(&mut self, f: Fault) {
        let (start, end) = self.tick();
        {
            let mut k = self.kernel();
            k.begin_entry(start);
            k.handle_user_fault(f);
            k.take_tlb_flushes();
            k.schedule_and_activate();
            k.end_entry(end);
        }
        self.spec.begin_entry(start);
        self.spec.user_fault(f);
        self.spec.schedule();
        self.spec.end_entry(end);
    }

    /// Advances the clock to the next kernel entry: its start and end
    /// (entries and the gaps between them of varying length).
    fn tick(&mut self) -> (u64, u64) {
        let start = self.clock + 1000 + (self.clock / 1000 % 7) * 131;
        let end = start + 37 + start % 5;
        self.clock = end;
        (start, end)
    }

    /// Compares the models and runs the invariant checkers.
    pub fn compare(&mut self) -> Result<(), String> {
        let a = self.observe_impl();
        let b = observe_spec(&self.spec);
        if let Some(d) = obs_diff(&a, &b) {
            return Err(format!("implementation and spec differ: {d}"));
        }
        let roots = self.roots.clone();
        let k = self.kernel();
        invariants::check(&k, &roots).map_err(|e| format!("invariant violated: {e}"))
    }

    /// Observation of the implementation.
    pub fn observe_impl(&mut self) -> Obs {
        let roots = self.roots.clone();
        let k = self.kernel();
        let slots = invariants::reachable_slots(&k, &roots);
        let caps: BTreeMap<u64, Cap> = slots.iter().map(|s| (*s, cdt::cap(&k.mem, *s))).collect();
        let parents = invariants::derivation_parents(&k, &slots).unwrap_or_default();
        let mut threads = BTreeMap::new();
        let mut buffers = BTreeMap::new();
        let mut eps = BTreeMap::new();
        let mut ntfns = BTreeMap::new();
        let live: BTreeSet<u64> = caps
            .values()
            .filter_map(|c| {
                if let Cap::Thread { tcb } = c {
                    Some(*tcb)
                } else {
                    None
                }
            })
            .chain((k.state.current != 0).then_some(k.state.current))
            .collect();
        for &t in &live {
            let f = tcb::fields(&k.mem, t);
            let st = ThreadState::from_code(f.state);
            let blocked = matches!(
                st,
                ThreadState::BlockedOnSend
                    | ThreadState::BlockedOnReceive
                    | ThreadState::BlockedOnNotification
            );
            threads.insert(
                t,
                ThreadObs {
                    state: st,
                    ctx: tcb::context(&k.mem, t),
                    fault_ip: f.fault_ip,
                    prio: f.priority,
                    mcp: f.mcp,
                    bound: f.bound_notification,
                    ipc_buffer: f.ipc_buffer,
                    fault: k.pending_fault(t),
                    flags: f.flags,
                    queued: f.queued != 0,
                    blocking: if blocked { f.blocking_object } else { 0 },
                    send: (st == ThreadState::BlockedOnSend).then_some((
                        f.blocking_badge,
                        f.blocking_flags & 1 != 0,
                        f.blocking_flags & 2 != 0,
                        f.blocking_flags & 4 != 0,
                    )),
                    util: util_words(spec_util(k.utilisation_counters(t))),
                },
            );
            if let Some(b) = k.ipc_buffer(t, false) {
                buffers.insert(t, (0..128).map(|i| k.mem.read_word(b + 8 * i)).collect());
            }
        }
        for c in caps.values() {
            match *c {
                Cap::Endpoint { paddr, .. } => {
                    let (s, q) = queue::ep(&k.mem, paddr);
                    eps.insert(paddr, (s, walk(&k, q.head)));
                }
                Cap::Notification { paddr, .. } => {
                    let n = queue::ntfn(&k.mem, paddr);
                    let word = if n.state == NtfnState::Active {
                        n.msg
                    } else {
                        0
                    };
                    ntfns.insert(paddr, (n.state, walk(&k, n.queue.head), word, n.bound));
                }
                _ => {}
            }
        }
        let mut ready = BTreeMap::new();
        for p in 0..256 {
            let mut v = vec![];
            k.for_each_ready(p, |t| v.push(t));
            if !v.is_empty() {
                ready.insert(p, v);
            }
        }
        Obs {
            caps,
            parents,
            threads,
            buffers,
            eps,
            ntfns,
            ready,
            current: k.state.current,
            utilisation: {
                let u = &k.state.utilisation;
                clock_words(&SClock {
                    entry: u.entry_time,
                    in_kernel: u.in_kernel,
                    period_start: u.period_start,
                    idle: spec_util(k.utilisation_counters(0)),
                    schedules: u.total_schedules,
                    kernel_time: u.total_kernel_time,
                    kernel_entries: u.total_kernel_entries,
                })
            },
        }
    }

    /// Authority confinement: every cap that appears in a slot names an
    /// object the acting thread could reach, a thread that could send it
    /// caps could reach, or that the step created; reply caps excepted.
    fn check_authority(&mut self, actor: u64, before: &Obs, after: &Obs) -> Result<(), String> {
        if actor == 0 {
            return Ok(());
        }
        let croot = |o: &Obs, t: u64| {
            o.caps
                .get(&tcb_slot(t, TCB_CTABLE))
                .copied()
                .unwrap_or(Cap::Null)
        };
        let mut auth = reach(&before.caps, croot(before, actor));
        for (&t, th) in &before.threads {
            if th.state == ThreadState::BlockedOnSend
                || th.state == ThreadState::BlockedOnReply
                || t == actor
            {
                auth.extend(reach(&before.caps, croot(before, t)));
                if let Some(Cap::Frame { paddr, .. }) = before.caps.get(&tcb_slot(t, TCB_BUFFER)) {
                    auth.insert((
                        Cap::Frame {
                            paddr: *paddr,
                            size: cerne_objects::cap::FrameSize::Small,
                            rights: cerne_abi::vm::VmRights::ReadWrite,
                            is_device: false,
                            mapping: None,
                        }
                        .tag()
                        .word(),
                        *paddr,
                    ));
                }
            }
        }
        let existed: BTreeSet<(u64, u64)> = before
            .caps
            .values()
            .filter_map(spec::object_of)
            .map(|o| (o.0, o.1))
            .collect();
        for (s, c) in &after.caps {
            if before.caps.get(s) == Some(c) || matches!(c, Cap::Reply { .. } | Cap::Untyped { .. })
            {
                continue;
            }
            if let Some((t, p, _)) = spec::object_of(c) {
                // Existing objects: moved/copied/transferred caps; the step
                // may also have changed a cap of an object it reached.
                if existed.contains(&(t, p)) && !auth.contains(&(t, p)) {
                    return Err(format!("authority leak: slot {s:#x} gained {c:x?}, which the acting thread {actor:#x} could not reach"));
                }
            }
        }
        Ok(())
    }
}

fn walk(k: &Kernel<'_>, mut t: u64) -> Vec<u64> {
    let mut v = vec![];
    while t != 0 && v.len() < 64 {
        v.push(t);
        t = tcb::fields(&k.mem, t).ep_next;
    }
    v
}

/// Observation of the spec.
pub fn observe_spec(s: &Spec) -> Obs {
    let caps = s.caps.clone();
    let parents = s.nodes.iter().map(|(k, n)| (*k, n.parent)).collect();
    let live: BTreeSet<u64> = caps
        .values()
        .filter_map(|c| {
            if let Cap::Thread { tcb } = c {
                Some(*tcb)
            } else {
                None
            }
        })
        .chain((s.current != 0).then_some(s.current))
        .collect();
    let mut threads = BTreeMap::new();
    let mut buffers = BTreeMap::new();
    for &t in &live {
        let th = s.threads.get(&t).cloned().unwrap_or_default();
        let blocked = matches!(
            th.state,
            ThreadState::BlockedOnSend
                | ThreadState::BlockedOnReceive
                | ThreadState::BlockedOnNotification
        );
        threads.insert(
            t,
            ThreadObs {
                state: th.state,
                ctx: th.ctx,
                fault_ip: th.fault_ip,
                prio: th.prio,
                mcp: th.mcp,
                bound: th.bound,
                ipc_buffer: th.ipc_buffer,
                fault: th.fault,
                flags: th.flags,
                queued: th.queued,
                blocking: if blocked { th.blocking } else { 0 },
                send: (th.state == ThreadState::BlockedOnSend).then_some((
                    th.badge,
                    th.can_grant,
                    th.can_grant_reply,
                    th.is_call,
                )),
                util: util_words(th.util),
            },
        );
        if let Some(b) = s.buffer(t, false) {
            buffers.insert(t, (0..128).map(|i| s.word(b + 8 * i)).collect());
        }
    }
    let mut eps = BTreeMap::new();
    let mut ntfns = BTreeMap::new();
    for c in caps.values() {
        match *c {
            Cap::Endpoint { paddr, .. } => {
                let e = s.eps.get(&paddr).cloned().unwrap_or_default();
                let st = match (e.queue.is_empty(), e.sending) {
                    (true, _) => EpState::Idle,
                    (false, true) => EpState::Send,
                    (false, false) => EpState::Recv,
                };
                eps.insert(paddr, (st, e.queue.iter().copied().collect()));
            }
            Cap::Notification { paddr, .. } => {
                let n = s.ntfns.get(&paddr).cloned().unwrap_or_default();
                let st = if n.active.is_some() {
                    NtfnState::Active
                } else if !n.queue.is_empty() {
                    NtfnState::Waiting
                } else {
                    NtfnState::Idle
                };
                ntfns.insert(
                    paddr,
                    (
                        st,
                        n.queue.iter().copied().collect(),
                        n.active.unwrap_or(0),
                        n.bound,
                    ),
                );
            }
            _ => {}
        }
    }
    let ready = (0..256)
        .filter(|p| !s.ready[*p].is_empty())
        .map(|p| (p, s.ready[p].iter().copied().collect()))
        .collect();
    Obs {
        caps,
        parents,
        threads,
        buffers,
        eps,
        ntfns,
        ready,
        current: s.current,
        utilisation: clock_words(&s.clock),
    }
}

/// The abstraction function: the spec state a booted implementation
/// represents.
fn spec_util(c: cerne_objects::layout::UtilisationCounters) -> SUtil {
    SUtil {
        start: c.schedule_start,
        cpu: c.cpu_time,
        schedules: c.schedules,
        kernel_time: c.kernel_time,
        kernel_entries: c.kernel_entries,
    }
}

fn util_words(u: SUtil) -> [u64; 4] {
    [u.cpu, u.schedules, u.kernel_time, u.kernel_entries]
}

/// The kernel-wide accounting as [`Obs::utilisation`] holds it.
fn clock_words(c: &SClock) -> ([u64; 4], [u64; 4]) {
    (
        util_words(c.idle),
        [
            c.entry.saturating_sub(c.period_start),
            c.schedules,
            c.kernel_time,
            c.kernel_entries,
        ],
    )
}

pub fn abstraction(k: &Kernel<'_>, roots: &[u64]) -> Spec {
    let mut s = Spec::new();
    let slots = invariants::reachable_slots(k, roots);
    let parents = invariants::derivation_parents(k, &slots).expect("boot state well formed");
    let mut order = BTreeMap::new();
    for &h in slots.iter().filter(|x| cdt::mdb(&k.mem, **x).prev == 0) {
        let mut x = h;
        while x != 0 {
            let n = order.len();
            order.insert(x, n);
            x = cdt::mdb(&k.mem, x).next;
        }
    }
    for &x in &slots {
        s.caps.insert(x, cdt::cap(&k.mem, x));
        let mut children: Vec<u64> = parents
            .iter()
            .filter(|(_, p)| **p == Some(x))
            .map(|(c, _)| *c)
            .collect();
        children.sort_by_key(|c| order[c]);
        s.nodes.insert(
            x,
            Node {
                parent: parents[&x],
                children,
                original: cdt::mdb(&k.mem, x).revocable,
            },
        );
    }
    for c in s.caps.clone().values() {
        match *c {
            Cap::Thread { tcb: t } => {
                let f = tcb::fields(&k.mem, t);
                s.threads.insert(
                    t,
                    SThread {
                        state: ThreadState::from_code(f.state),
                        ctx: tcb::context(&k.mem, t),
                        fault_ip: f.fault_ip,
                        prio: f.priority,
                        mcp: f.mcp,
                        bound: f.bound_notification,
                        ipc_buffer: f.ipc_buffer,
                        queued: f.queued != 0,
                        fault_handler: f.fault_handler,
                        flags: f.flags,
                        util: spec_util(k.utilisation_counters(t)),
                        ..SThread::new()
                    },
                );
            }
            Cap::Endpoint { paddr, .. } => {
                s.eps.insert(paddr, SEp::default());
            }
            Cap::Notification { paddr, .. } => {
                s.ntfns.insert(paddr, SNtfn::default());
            }
            Cap::Frame { paddr, size, .. } => {
                let bytes = 1u64 << spec_frame_bits(size);
                for a in (paddr..paddr + bytes).step_by(8) {
                    if k.mem.contains(a, 8) {
                        let v = k.mem.read_word(a);
                        if v != 0 {
                            s.mem.insert(a, v);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    for p in 0..256 {
        k.for_each_ready(p, |t| s.ready[p].push_back(t));
    }
    s.current = k.state.current;
    let u = &k.state.utilisation;
    s.clock = SClock {
        entry: u.entry_time,
        in_kernel: u.in_kernel,
        period_start: u.period_start,
        idle: spec_util(k.utilisation_counters(0)),
        schedules: u.total_schedules,
        kernel_time: u.total_kernel_time,
        kernel_entries: u.total_kernel_entries,
    };
    s.action = match k.state.action {
        SchedulerAction::ResumeCurrent => Action::Resume,
        SchedulerAction::ChooseNew => Action::Choose,
        SchedulerAction::SwitchTo(t) => Action::SwitchTo(t),
    };
    s
}

fn spec_frame_bits(s: cerne_objects::cap::FrameSize) -> u32 {
    s.bits()
}
