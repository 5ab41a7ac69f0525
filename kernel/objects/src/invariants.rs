//! Invariant checkers for the object model (host only: feature
//! `invariants`, or tests). `check` discovers every reachable slot from a
//! set of root slots (following derivation-list links and the slots inside
//! CNodes and TCBs) and checks:
//!
//! * the derivation list is a well-formed doubly linked list, and the tree
//!   it encodes has rights that never grow from parent to child and badges
//!   that children keep;
//! * no two live objects overlap, and every object lies inside the untyped
//!   it was derived from;
//! * every cap names a live object of its type (no two caps name the same
//!   address as different types);
//! * non-device untyped memory above the free index is zero (so new objects
//!   start zeroed);
//! * endpoint and notification queues are well formed and agree with the
//!   thread states; bindings are mutual;
//! * the ready queues and their bitmap hold exactly the runnable threads
//!   other than the current one;
//! * a one-shot reply cap only exists for a thread waiting for a reply.
#![forbid(unsafe_code)]

use crate::cap::{Cap, ZombieKind};
use crate::cdt;
use crate::cspace::cnode_slot;
use crate::layout::TCB_SLOT_COUNT;
use crate::queue::{self, EpState, NtfnState};
use crate::state::{SchedulerAction, NUM_IRQS, NUM_PRIORITIES};
use crate::tcb::{self, tcb_slot, ThreadState};
use crate::Kernel;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::format;
use std::string::String;
use std::vec::Vec;

/// Every non-empty slot reachable from `roots` (plus the IRQ node and the
/// current thread), in address order.
pub fn reachable_slots(k: &Kernel<'_>, roots: &[u64]) -> BTreeSet<u64> {
    let mut seen = BTreeSet::new();
    let mut work: VecDeque<u64> = roots.iter().copied().collect();
    if k.state.irq_node != 0 {
        for i in 0..NUM_IRQS as u64 {
            work.push_back(cnode_slot(k.state.irq_node, i));
        }
    }
    if k.state.current != 0 {
        for i in 0..TCB_SLOT_COUNT {
            work.push_back(tcb_slot(k.state.current, i));
        }
    }
    let mut visited_objects = BTreeSet::new();
    while let Some(s) = work.pop_front() {
        if s == 0 || !seen.insert(s) {
            continue;
        }
        let m = cdt::mdb(&k.mem, s);
        work.push_back(m.prev);
        work.push_back(m.next);
        match cdt::cap(&k.mem, s) {
            Cap::CNode { paddr, radix, .. } if visited_objects.insert(paddr) => {
                for i in 0..(1u64 << radix) {
                    work.push_back(cnode_slot(paddr, i));
                }
            }
            Cap::Thread { tcb } if visited_objects.insert(tcb) => {
                for i in 0..TCB_SLOT_COUNT {
                    work.push_back(tcb_slot(tcb, i));
                }
            }
            Cap::Reply { tcb, .. } if visited_objects.insert(tcb) => {
                for i in 0..TCB_SLOT_COUNT {
                    work.push_back(tcb_slot(tcb, i));
                }
            }
            _ => {}
        }
    }
    seen.retain(|s| !cdt::cap(&k.mem, *s).is_null());
    seen
}

/// The derivation tree encoded by the list: parent of each occupied slot.
pub fn derivation_parents(
    k: &Kernel<'_>,
    slots: &BTreeSet<u64>,
) -> Result<BTreeMap<u64, Option<u64>>, String> {
    let mut parents = BTreeMap::new();
    let heads: Vec<u64> = slots
        .iter()
        .copied()
        .filter(|s| cdt::mdb(&k.mem, *s).prev == 0)
        .collect();
    for h in heads {
        let mut stack: Vec<u64> = Vec::new();
        let mut s = h;
        let mut steps = 0usize;
        while s != 0 {
            steps += 1;
            if steps > slots.len() + 1 {
                return Err(format!("derivation list from {h:#x} does not end"));
            }
            if !slots.contains(&s) {
                return Err(format!(
                    "derivation list reaches unknown or empty slot {s:#x}"
                ));
            }
            while let Some(&top) = stack.last() {
                if cdt::is_parent_of(&k.mem, top, s) {
                    break;
                }
                stack.pop();
            }
            parents.insert(s, stack.last().copied());
            stack.push(s);
            s = cdt::mdb(&k.mem, s).next;
        }
    }
    if parents.len() != slots.len() {
        return Err(format!(
            "derivation lists cover {} of {} occupied slots",
            parents.len(),
            slots.len()
        ));
    }
    Ok(parents)
}

fn region(c: &Cap) -> Option<(u64, u64)> {
    c.object_region().map(|(p, b)| (p, p + (1u64 << b)))
}

fn kind(c: &Cap) -> u64 {
    c.tag().word()
}

/// Runs every check; `roots` are slots from which all caps are reachable
/// (e.g. the root CNode's slots). Returns the first violation found.
pub fn check(k: &Kernel<'_>, roots: &[u64]) -> Result<(), String> {
    // Between entries nothing is left recorded: every effect an entry
    // recorded went to the kernel binary with the entry's result.
    if k.state.event != crate::Event::None || !k.state.tlb_flushes.is_empty() {
        return Err(format!(
            "hardware effects left behind: {:?}, {:?}",
            k.state.event, k.state.tlb_flushes
        ));
    }
    let slots = reachable_slots(k, roots);
    // Derivation list links.
    for &s in &slots {
        let m = cdt::mdb(&k.mem, s);
        if m.next != 0 && cdt::mdb(&k.mem, m.next).prev != s {
            return Err(format!(
                "slot {s:#x}: next {:#x} does not point back",
                m.next
            ));
        }
        if m.prev != 0 && cdt::mdb(&k.mem, m.prev).next != s {
            return Err(format!(
                "slot {s:#x}: prev {:#x} does not point forward",
                m.prev
            ));
        }
        if matches!(cdt::cap(&k.mem, s), Cap::Zombie { .. }) {
            return Err(format!("slot {s:#x}: zombie left behind"));
        }
    }
    let parents = derivation_parents(k, &slots)?;
    // Rights never grow; badges are kept; objects inside their untyped.
    for (&s, &p) in &parents {
        let c = cdt::cap(&k.mem, s);
        let mut anc = p;
        while let Some(a) = anc {
            let ac = cdt::cap(&k.mem, a);
            if let Cap::Untyped { .. } = ac {
                let (ub, ue) = region(&ac).unwrap_or((0, 0));
                if let Some((b, e)) = region(&c) {
                    if b < ub || e > ue {
                        return Err(format!("slot {s:#x}: object {b:#x}..{e:#x} outside its untyped {ub:#x}..{ue:#x}"));
                    }
                }
                break;
            }
            anc = parents.get(&a).copied().flatten();
        }
        if let Some(p) = p {
            let pc = cdt::cap(&k.mem, p);
            if kind(&pc) == kind(&c) && !pc.rights().contains(c.rights()) {
                return Err(format!("slot {s:#x}: rights grow from parent {p:#x}"));
            }
            if matches!(pc, Cap::Endpoint { .. } | Cap::Notification { .. })
                && pc.badge() != 0
                && pc.badge() != c.badge()
            {
                return Err(format!("slot {s:#x}: badge differs from parent's"));
            }
        }
    }
    // Objects: same address ⇒ same type and size; distinct objects disjoint.
    let mut objects: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    let mut untypeds: Vec<(u64, u64, bool, u64)> = Vec::new();
    for &s in &slots {
        let c = cdt::cap(&k.mem, s);
        if let Cap::Untyped {
            paddr,
            size_bits,
            is_device,
            free_index,
        } = c
        {
            if free_index > 1u64 << size_bits || free_index % 16 != 0 {
                return Err(format!("slot {s:#x}: bad free index {free_index:#x}"));
            }
            untypeds.push((paddr, 1u64 << size_bits, is_device, free_index));
            continue;
        }
        let Some((b, e)) = region(&c) else { continue };
        let t = kind(&c);
        match objects.get(&b) {
            Some(&(t2, e2)) if t2 != t || e2 != e => {
                return Err(format!("two objects at {b:#x}: tags {t} and {t2}"));
            }
            _ => {
                objects.insert(b, (t, e));
            }
        }
    }
    let mut last_end = 0;
    let mut last_start = 0;
    for (&b, &(_, e)) in &objects {
        if b < last_end {
            return Err(format!("objects at {last_start:#x} and {b:#x} overlap"));
        }
        last_start = b;
        last_end = e;
    }
    // Free untyped memory is zero.
    for &(b, size, dev, free) in &untypeds {
        if !dev && !k.mem.is_zero(b + free, size - free) {
            return Err(format!(
                "untyped {b:#x}: memory above free index {free:#x} not zero"
            ));
        }
    }
    // Threads: every TCB named by a cap.
    let tcbs: BTreeSet<u64> = slots
        .iter()
        .filter_map(|s| match cdt::cap(&k.mem, *s) {
            Cap::Thread { tcb } => Some(tcb),
            _ => None,
        })
        .chain((k.state.current != 0).then_some(k.state.current))
        .collect();
    // The FPU owner, if any, is a live thread (its deletion releases it).
    if k.state.fpu_owner != 0 && !tcbs.contains(&k.state.fpu_owner) {
        return Err(format!(
            "FPU owner {:#x} is not a live thread",
            k.state.fpu_owner
        ));
    }
    check_thread_list(k, &tcbs)?;
    check_threads(k, &tcbs, &slots)
}

/// The list of every TCB (`crate::threads`) is doubly linked end to end
/// and holds every thread a cap names.
fn check_thread_list(k: &Kernel<'_>, tcbs: &BTreeSet<u64>) -> Result<(), String> {
    use crate::layout::TCB_DEBUG_LINKS_OFFSET;
    let links = |t: u64| k.mem.read::<[u64; 2]>(t + TCB_DEBUG_LINKS_OFFSET);
    let mut on_list = BTreeSet::new();
    let (mut prev, mut t) = (0, k.state.all_threads[0]);
    while t != 0 {
        if !on_list.insert(t) {
            return Err(format!("thread list: {t:#x} twice"));
        }
        let [next, back] = links(t);
        if back != prev {
            return Err(format!(
                "thread list: {t:#x} links back to {back:#x}, not {prev:#x}"
            ));
        }
        (prev, t) = (t, next);
    }
    if k.state.all_threads[1] != prev {
        return Err(format!(
            "thread list ends at {prev:#x}, its tail says {:#x}",
            k.state.all_threads[1]
        ));
    }
    match tcbs.difference(&on_list).next() {
        Some(missing) => Err(format!("thread {missing:#x} is not on the thread list")),
        None => Ok(()),
    }
}

fn check_threads(
    k: &Kernel<'_>,
    tcbs: &BTreeSet<u64>,
    slots: &BTreeSet<u64>,
) -> Result<(), String> {
    let mut queued_on: BTreeMap<u64, u64> = BTreeMap::new();
    let mut objs: BTreeSet<(u64, bool)> = BTreeSet::new();
    for &s in slots {
        match cdt::cap(&k.mem, s) {
            Cap::Endpoint { paddr, .. } => {
                objs.insert((paddr, true));
            }
            Cap::Notification { paddr, .. } => {
                objs.insert((paddr, false));
            }
            _ => {}
        }
    }
    for &t in tcbs {
        let f = tcb::fields(&k.mem, t);
        if matches!(
            ThreadState::from_code(f.state),
            ThreadState::BlockedOnSend | ThreadState::BlockedOnReceive
        ) {
            objs.insert((f.blocking_object, true));
        }
        if ThreadState::from_code(f.state) == ThreadState::BlockedOnNotification {
            objs.insert((f.blocking_object, false));
        }
    }
    for &(o, is_ep) in &objs {
        let (state, q) = if is_ep {
            let (s, q) = queue::ep(&k.mem, o);
            (s as u64, q)
        } else {
            let n = queue::ntfn(&k.mem, o);
            if n.state == NtfnState::Active && n.queue.head != 0 {
                return Err(format!("notification {o:#x} active with waiters"));
            }
            if n.bound != 0 && tcb::fields(&k.mem, n.bound).bound_notification != o {
                return Err(format!(
                    "notification {o:#x} bound to {:#x}, which is not bound back",
                    n.bound
                ));
            }
            (n.state as u64, n.queue)
        };
        let idle = if is_ep {
            EpState::Idle as u64
        } else {
            NtfnState::Idle as u64
        };
        if (q.head == 0) != (q.tail == 0) {
            return Err(format!("queue of {o:#x}: head/tail disagree"));
        }
        if q.head == 0 && state != idle && (is_ep || state == NtfnState::Waiting as u64) {
            return Err(format!("{o:#x}: empty queue but not idle"));
        }
        if q.head != 0 && (state == idle || (!is_ep && state != NtfnState::Waiting as u64)) {
            return Err(format!("{o:#x}: queued threads but state {state}"));
        }
        let mut t = q.head;
        let mut prev = 0;
        let mut n = 0;
        while t != 0 {
            n += 1;
            if n > tcbs.len() + 1 {
                return Err(format!("queue of {o:#x} does not end"));
            }
            let f = tcb::fields(&k.mem, t);
            if f.ep_prev != prev {
                return Err(format!("queue of {o:#x}: bad prev link at {t:#x}"));
            }
            let st = ThreadState::from_code(f.state);
            let want = if !is_ep {
                ThreadState::BlockedOnNotification
            } else if state == EpState::Send as u64 {
                ThreadState::BlockedOnSend
            } else {
                ThreadState::BlockedOnReceive
            };
            if st != want || f.blocking_object != o {
                return Err(format!("thread {t:#x} queued on {o:#x} in state {st:?}"));
            }
            if queued_on.insert(t, o).is_some() {
                return Err(format!("thread {t:#x} in two IPC queues"));
            }
            prev = t;
            t = f.ep_next;
        }
        if prev != q.tail {
            return Err(format!("queue of {o:#x}: tail is not the last thread"));
        }
    }
    // Ready queues.
    let mut in_ready = BTreeSet::new();
    for p in 0..NUM_PRIORITIES {
        let head = k.state.ready_head[p];
        let bit = k.state.ready_l2[p / 64] >> (p % 64) & 1 == 1;
        if bit != (head != 0) {
            return Err(format!("bitmap disagrees with ready queue {p}"));
        }
        let mut t = head;
        let mut prev = 0;
        while t != 0 {
            let f = tcb::fields(&k.mem, t);
            if !in_ready.insert(t) {
                return Err(format!("thread {t:#x} twice in ready queues"));
            }
            if f.sched_prev != prev || f.priority as usize != p || f.queued == 0 {
                return Err(format!("ready queue {p}: bad entry {t:#x}"));
            }
            if !ThreadState::from_code(f.state).is_runnable() {
                return Err(format!("ready queue {p}: thread {t:#x} not runnable"));
            }
            prev = t;
            t = f.sched_next;
        }
        if prev != k.state.ready_tail[p] {
            return Err(format!("ready queue {p}: bad tail"));
        }
    }
    for i in 0..NUM_PRIORITIES / 64 {
        if (k.state.ready_l1 >> i & 1 == 1) != (k.state.ready_l2[i] != 0) {
            return Err(format!("level-1 bitmap bit {i} wrong"));
        }
    }
    let candidate = match k.state.action {
        SchedulerAction::SwitchTo(t) => t,
        _ => 0,
    };
    for &t in tcbs {
        let f = tcb::fields(&k.mem, t);
        let st = ThreadState::from_code(f.state);
        let queued = in_ready.contains(&t);
        if (f.queued != 0) != queued {
            return Err(format!("thread {t:#x}: queued flag wrong"));
        }
        if st.is_runnable() && !queued && t != k.state.current && t != candidate {
            return Err(format!("runnable thread {t:#x} not in a ready queue"));
        }
        if matches!(
            st,
            ThreadState::BlockedOnSend
                | ThreadState::BlockedOnReceive
                | ThreadState::BlockedOnNotification
        ) != queued_on.contains_key(&t)
        {
            return Err(format!(
                "thread {t:#x} in state {st:?} but IPC-queue membership disagrees"
            ));
        }
        if f.bound_notification != 0 && queue::ntfn(&k.mem, f.bound_notification).bound != t {
            return Err(format!("thread {t:#x}: binding not mutual"));
        }
    }
    if k.state.current != 0
        && k.state.action == SchedulerAction::ResumeCurrent
        && in_ready.contains(&k.state.current)
    {
        return Err("current thread is in a ready queue".into());
    }
    // Reply caps.
    let mut replies: BTreeMap<u64, u64> = BTreeMap::new();
    for &s in slots {
        if let Cap::Reply {
            tcb, master: false, ..
        } = cdt::cap(&k.mem, s)
        {
            if tcb::state(&k.mem, tcb) != ThreadState::BlockedOnReply {
                return Err(format!(
                    "reply cap in {s:#x} for thread {tcb:#x} not waiting for a reply"
                ));
            }
            if replies.insert(tcb, s).is_some() {
                return Err(format!("two reply caps for thread {tcb:#x}"));
            }
        }
        if let Cap::Zombie {
            kind: ZombieKind::Tcb,
            ..
        } = cdt::cap(&k.mem, s)
        {
            return Err(format!("zombie in {s:#x}"));
        }
    }
    Ok(())
}
