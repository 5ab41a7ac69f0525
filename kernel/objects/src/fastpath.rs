//! The IPC fast path (the idea of seL4's `fastpath.c`): Call and ReplyRecv
//! of short messages (at most four words, no caps) between threads that can
//! switch to each other directly.
//!
//! [`Kernel::fastpath`] checks every condition first and changes nothing
//! unless all hold; then it makes exactly the changes the slow path
//! (`handle_syscall` followed by `schedule_and_activate`) would make, in
//! fewer steps: no decoding, no extra-cap lookup, no generic scheduler
//! action. That equivalence is what the differential tests check: the same
//! scenarios run on two kernels, one with the fast path and one without,
//! must leave byte-identical object memory and kernel state.
//!
//! As in seL4, it reads and writes object memory in place: the words of
//! the caps it checks (`cap::raw`, never a decoded [`crate::Cap`]), the TCB
//! fields it needs, and the reply cap moved with the few slot-word writes
//! that `cdt::insert` and `cteDeleteOne` amount to for a reply cap.
#![forbid(unsafe_code)]

use crate::cap::raw;
use crate::cspace;
use crate::ipc::Fault;
use crate::layout::{
    SLOT_SIZE, TCB_CALLER, TCB_CONTEXT_OFFSET, TCB_CTABLE, TCB_REPLY, TCB_SLOTS_OFFSET, UC_ELR_EL1,
};
use crate::mem::PhysMem;
use crate::queue::{self, EpState, NtfnState};
use crate::state::{SchedulerAction, NUM_PRIORITIES};
use crate::tcb::{self, tcb_slot, Field, TcbObj, ThreadState, BLOCK_CAN_GRANT};
use crate::Kernel;
use cerne_abi::message::{MessageInfo, FAST_MESSAGE_REGISTERS};
use cerne_abi::syscall::Syscall;

/// Byte offset of register x`n` in a TCB's saved context.
const fn reg_offset(n: u64) -> u64 {
    TCB_CONTEXT_OFFSET + 8 * n
}

/// Byte offset, in a TCB, of word `w` of its slot `idx`: 0 and 1 the cap,
/// 2 `prev | revocable`, 3 `next | first_badged` (`layout::RawSlot`).
const fn slot_word(idx: u64, w: u64) -> u64 {
    TCB_SLOTS_OFFSET + idx * SLOT_SIZE as u64 + 8 * w
}

/// The address bits of a derivation-list link word.
const LINK: u64 = !31;
/// Offsets of the link words in any slot.
const PREV: u64 = 16;
const NEXT: u64 = 24;

/// `cdt::insert` of `Reply { tcb: caller.paddr(), master: false, grant }`
/// from `caller`'s master reply slot into `callee`'s empty caller slot,
/// word by word: the new cap is not revocable (so not first-badged
/// either), and goes right after the master in the list.
fn insert_reply(mem: &PhysMem<'_>, caller: &TcbObj<'_>, callee: &TcbObj<'_>, grant: bool) {
    let master = tcb_slot(caller.paddr(), TCB_REPLY);
    let slot = tcb_slot(callee.paddr(), TCB_CALLER);
    let master_next = caller.word(slot_word(TCB_REPLY, 3));
    let next = master_next & LINK;
    callee.set_word(
        slot_word(TCB_CALLER, 0),
        raw::reply_word0(caller.paddr(), false, grant),
    );
    callee.set_word(slot_word(TCB_CALLER, 1), 0);
    callee.set_word(slot_word(TCB_CALLER, 2), master);
    callee.set_word(slot_word(TCB_CALLER, 3), next);
    if next != 0 {
        let w = mem.read_word(next + PREV);
        mem.write_word(next + PREV, slot | (w & 1));
    }
    caller.set_word(slot_word(TCB_REPLY, 3), slot | (master_next & 1));
}

/// `cteDeleteOne` of the reply cap in `t`'s caller slot, word by word: a
/// reply cap has nothing to finalise, so it is `cdt::unlink_and_clear`
/// (the next entry inherits `first_badged`).
fn delete_reply(mem: &PhysMem<'_>, t: &TcbObj<'_>) {
    let prev = t.word(slot_word(TCB_CALLER, 2)) & LINK;
    let next_w = t.word(slot_word(TCB_CALLER, 3));
    let next = next_w & LINK;
    if prev != 0 {
        let w = mem.read_word(prev + NEXT);
        mem.write_word(prev + NEXT, next | (w & 1));
    }
    if next != 0 {
        let p = mem.read_word(next + PREV);
        let n = mem.read_word(next + NEXT);
        mem.write_word(next + PREV, prev | (p & 1));
        mem.write_word(next + NEXT, (n & LINK) | (n & 1) | (next_w & 1));
    }
    for w in 0..4 {
        t.set_word(slot_word(TCB_CALLER, w), 0);
    }
}

/// The endpoint cap that cptr x0 of `me` names, as (slot, paddr, badge,
/// rights), if the lookup succeeds and finds one.
fn lookup_endpoint(
    mem: &PhysMem<'_>,
    me: &TcbObj<'_>,
) -> Option<(u64, u64, u64, cerne_abi::rights::CapRights)> {
    let root = [
        me.word(slot_word(TCB_CTABLE, 0)),
        me.word(slot_word(TCB_CTABLE, 1)),
    ];
    let slot = cspace::lookup_slot_raw(mem, root, me.word(reg_offset(0)))?;
    let (ep, badge, rights) = raw::endpoint(mem.read::<[u64; 2]>(slot))?;
    Some((slot, ep, badge, rights))
}

impl Kernel<'_> {
    /// Handles syscall `x7` of the current thread on the fast path if it is
    /// a Call or ReplyRecv that qualifies. Returns false, having changed
    /// nothing, when the slow path must run instead.
    pub fn fastpath(&mut self, x7: u64) -> bool {
        let t = self.state.current;
        if t == 0 || self.state.action != SchedulerAction::ResumeCurrent {
            return false;
        }
        match Syscall::from_word(x7) {
            Some(Syscall::Call) => self.fastpath_call(t),
            Some(Syscall::ReplyRecv) => self.fastpath_reply_recv(t),
            _ => false,
        }
    }

    /// The message of the thread `me` if it fits the fast path:
    /// (info, length).
    fn short_message(me: &TcbObj<'_>) -> Option<(MessageInfo, usize)> {
        let info = MessageInfo::from_word(me.word(reg_offset(1)));
        let len = info.length() as usize;
        (len <= FAST_MESSAGE_REGISTERS && info.extra_caps() == 0).then_some((info, len))
    }

    /// Copies `len` message registers and the tag from `sender` to
    /// `receiver`, as `doNormalTransfer` does for a short message.
    fn transfer_short(
        sender: &TcbObj<'_>,
        receiver: &TcbObj<'_>,
        info: MessageInfo,
        len: usize,
        badge: u64,
    ) {
        let mut words = [0u64; FAST_MESSAGE_REGISTERS];
        for (i, w) in words.iter_mut().enumerate().take(len) {
            *w = sender.word(reg_offset(2 + i as u64));
        }
        for (i, w) in words.iter().enumerate().take(len) {
            receiver.set_word(reg_offset(2 + i as u64), *w);
        }
        let tag = MessageInfo::new(info.label(), 0, 0, len as u64).word();
        receiver.set_word(reg_offset(1), tag);
        receiver.set_word(reg_offset(0), badge);
    }

    /// Records the `svc` address as the thread's restart point, as every
    /// syscall entry does.
    fn record_fault_ip(me: &TcbObj<'_>) {
        let elr = me.word(TCB_CONTEXT_OFFSET + UC_ELR_EL1 as u64);
        Field::FAULT_IP.set(me, elr.wrapping_sub(4));
    }

    /// True when the fault slot of the thread holds a fault (what
    /// `pending_fault(t).is_some()` says, from the handle).
    fn has_fault(t: &TcbObj<'_>) -> bool {
        Field::FAULT_TYPE.of(t) != 0 && Fault::decode(tcb::fault_words_of(t)).is_some()
    }

    fn fastpath_call(&mut self, t: u64) -> bool {
        // One check of the current thread's TCB (its address is the
        // kernel's own), then field reads with no check each.
        let me = tcb::obj(&self.mem, t);
        let Some((info, len)) = Self::short_message(&me) else {
            return false;
        };
        if Self::has_fault(&me) {
            return false;
        }
        let Some((invoked_slot, ep, badge, rights)) = lookup_endpoint(&self.mem, &me) else {
            return false;
        };
        if !rights.write() || !(rights.grant() || rights.grant_reply()) {
            return false;
        }
        let (EpState::Recv, q) = queue::ep(&self.mem, ep) else {
            return false;
        };
        let dest = tcb::obj(&self.mem, q.head);
        if Field::DOMAIN.of(&dest) != self.state.current_domain
            || priority_of(&dest) < priority_of(&me)
            || !matches!(
                raw::reply(me.word(slot_word(TCB_REPLY, 0))),
                Some((_, true, _))
            )
            || !raw::is_null(dest.word(slot_word(TCB_CALLER, 0)))
        {
            return false;
        }

        // Everything holds: do what the slow path does.
        self.state.invoked_slot = invoked_slot;
        Self::record_fault_ip(&me);
        let q = queue::dequeue(&self.mem, dest.paddr(), q);
        queue::set_ep(&self.mem, ep, EpState::Recv, q);
        Self::transfer_short(&me, &dest, info, len, badge);
        let reply_grant = Field::BLOCKING_FLAGS.of(&dest) & BLOCK_CAN_GRANT != 0;
        Field::STATE.set(&dest, ThreadState::Running as u64);
        Field::STATE.set(&me, ThreadState::BlockedOnReply as u64);
        insert_reply(&self.mem, &me, &dest, reply_grant);
        let dest = dest.paddr();
        self.switch_to_thread(dest);
        true
    }

    fn fastpath_reply_recv(&mut self, t: u64) -> bool {
        let me = tcb::obj(&self.mem, t);
        let Some((info, len)) = Self::short_message(&me) else {
            return false;
        };
        if Self::has_fault(&me) {
            return false;
        }
        let Some((_, ep, _, rights)) = lookup_endpoint(&self.mem, &me) else {
            return false;
        };
        if !rights.read() {
            return false;
        }
        let bound = Field::BOUND_NOTIFICATION.of(&me);
        if bound != 0 && queue::ntfn(&self.mem, bound).state == NtfnState::Active {
            return false;
        }
        let (state, q) = queue::ep(&self.mem, ep);
        if state == EpState::Send {
            return false;
        }
        let Some((caller, false, _)) = raw::reply(me.word(slot_word(TCB_CALLER, 0))) else {
            return false;
        };
        let callee = tcb::obj(&self.mem, caller);
        if ThreadState::from_code(Field::STATE.of(&callee)) != ThreadState::BlockedOnReply
            || Self::has_fault(&callee)
            || Field::DOMAIN.of(&callee) != self.state.current_domain
            || priority_of(&callee) < priority_of(&me)
        {
            return false;
        }

        // Everything holds: reply, then wait, as the slow path does.
        Self::record_fault_ip(&me);
        Self::transfer_short(&me, &callee, info, len, 0);
        delete_reply(&self.mem, &me);
        Field::STATE.set(&callee, ThreadState::Running as u64);
        let grant = rights.grant();
        Field::BLOCKING_OBJECT.set(&me, ep);
        Field::BLOCKING_FLAGS.set(&me, grant as u64 * BLOCK_CAN_GRANT);
        Field::STATE.set(&me, ThreadState::BlockedOnReceive as u64);
        let q = queue::append(&self.mem, t, q);
        queue::set_ep(&self.mem, ep, EpState::Recv, q);
        self.switch_to_thread(caller);
        true
    }
}

/// A thread's priority, as the scheduler reads it.
fn priority_of(t: &TcbObj<'_>) -> u64 {
    Field::PRIORITY.of(t) & (NUM_PRIORITIES as u64 - 1)
}

#[cfg(test)]
mod tests {
    //! Differential tests: the same scenario on a kernel that takes the fast
    //! path and on one that never does must leave identical object memory
    //! and kernel state after every step.
    use crate::hostboot::{self, BootLayout, ARENA_BASE};
    use crate::{invariants, Kernel, KernelState, PhysMem};
    use cerne_abi::invocation::InvocationLabel as L;
    use cerne_abi::message::MessageInfo;
    use cerne_abi::object::ObjectType;
    use cerne_abi::slots::*;
    use cerne_abi::syscall::Syscall;
    use std::format;
    use std::vec;
    use std::vec::Vec;

    const ARENA_WORDS: usize = (1 << 20) / 8;

    /// A tiny deterministic generator (splitmix64).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// The current thread issues `sys` with x0 = `cptr`, x1 = `info`,
    /// x2..x5 = `mrs`; `fast` lets the fast path try first. Returns whether
    /// the fast path took it.
    fn step(
        k: &mut Kernel<'_>,
        fast: bool,
        sys: Syscall,
        cptr: u64,
        info: u64,
        mrs: [u64; 4],
    ) -> bool {
        let t = k.current_thread().expect("a current thread");
        {
            let ctx = k.user_context_mut(t);
            ctx.x[0] = cptr;
            ctx.x[1] = info;
            ctx.x[2..6].copy_from_slice(&mrs);
            ctx.elr_el1 += 4;
        }
        let took = fast && k.fastpath(sys.word());
        if !took {
            k.handle_syscall(sys.word());
            k.take_tlb_flushes();
        }
        k.schedule_and_activate();
        took
    }

    fn invoke(k: &mut Kernel<'_>, cptr: u64, label: L, args: &[u64], caps: &[u64]) {
        let t = k.current_thread().unwrap();
        let buf = k.ipc_buffer(t, false);
        for (i, c) in caps.iter().enumerate() {
            k.mem.write_word(buf.unwrap() + 976 + 8 * i as u64, *c);
        }
        for (i, a) in args.iter().enumerate() {
            k.set_mr(t, buf, i, *a);
        }
        let info = MessageInfo::new(label.word(), 0, caps.len() as u64, args.len() as u64).word();
        let mrs = [0; 4].map(|_| 0);
        let mut regs = mrs;
        for (i, a) in args.iter().take(4).enumerate() {
            regs[i] = *a;
        }
        step(k, false, Syscall::Call, cptr, info, regs);
        let reply = MessageInfo::from_word(k.user_context_mut(t).x[1]);
        assert_eq!(reply.label(), 0, "{label:?} failed: {reply:?}");
    }

    /// One kind of scenario: the client threads' priorities (the root
    /// thread, a server, has 255; so has the first client, the other
    /// server) and whether every other client runs in an address space of
    /// its own.
    struct Scenario {
        priorities: &'static [u64],
        other_vspace: bool,
    }

    const SCENARIOS: &[Scenario] = &[
        // Equal priorities: every qualifying Call and ReplyRecv is fast.
        Scenario {
            priorities: &[255, 255],
            other_vspace: false,
        },
        // Mixed priorities: some switches to a lower-priority thread must
        // take the slow path.
        Scenario {
            priorities: &[100, 200, 255],
            other_vspace: false,
        },
        Scenario {
            priorities: &[50, 50, 50],
            other_vspace: false,
        },
        // Clients in two address spaces.
        Scenario {
            priorities: &[255, 255, 255],
            other_vspace: true,
        },
        // Servers below their clients: Calls into the second server and
        // replies to the clients above it go the slow way.
        Scenario {
            priorities: &[10, 254, 254],
            other_vspace: true,
        },
        // Many clients for two servers: senders queue on the endpoint, and
        // a ReplyRecv that finds a sender queued is slow.
        Scenario {
            priorities: &[255, 255, 255, 255, 255, 255],
            other_vspace: false,
        },
    ];

    /// Root makes endpoints, a notification, badged caps with different
    /// rights, and `threads` client threads at the given priorities (every
    /// other one in a second address space with `other_vspace`); returns
    /// the slots the scenario addresses.
    fn setup(k: &mut Kernel<'_>, l: &BootLayout, sc: &Scenario) -> Vec<u64> {
        let priorities = sc.priorities;
        let d = l.first_free_slot;
        let root = CAP_INIT_THREAD_CNODE as u64;
        let ut = (0..l.untypeds.len())
            .max_by_key(|i| l.untypeds[*i].2)
            .unwrap();
        let ut_cptr = (l.untypeds[ut].0 - l.root_cnode) >> 5;
        let retype = |k: &mut Kernel<'_>, ty: ObjectType, dest: u64, n: u64| {
            invoke(
                k,
                ut_cptr,
                L::UntypedRetype,
                &[ty.word(), 0, 0, 0, dest, n],
                &[root],
            );
        };
        retype(k, ObjectType::Endpoint, d, 2);
        retype(k, ObjectType::Notification, d + 2, 1);
        // Badged copies of endpoint d: all rights, no grant, grant-reply only, read only.
        for (i, (rights, badge)) in [(0xf, 1), (0x3, 2), (0x9, 3), (0x2, 4)].iter().enumerate() {
            invoke(
                k,
                root,
                L::CNodeMint,
                &[d + 3 + i as u64, 64, d, 64, *rights, *badge],
                &[root],
            );
        }
        let tcbs = d + 7;
        retype(k, ObjectType::Tcb, tcbs, priorities.len() as u64);
        // The second address space (in the slot after the threads).
        let vspace = tcbs + priorities.len() as u64;
        retype(k, ObjectType::VSpace, vspace, 1);
        invoke(
            k,
            CAP_INIT_THREAD_ASID_POOL as u64,
            L::ArmAsidPoolAssign,
            &[],
            &[vspace],
        );
        for (i, p) in priorities.iter().enumerate() {
            let t = tcbs + i as u64;
            let vs = if sc.other_vspace && i % 2 == 1 {
                vspace
            } else {
                CAP_INIT_THREAD_VSPACE as u64
            };
            invoke(
                k,
                t,
                L::TcbConfigure,
                &[0, 0, 0, l.ipc_buffer.1],
                &[root, vs, CAP_INIT_THREAD_IPC_BUFFER as u64],
            );
            invoke(
                k,
                t,
                L::TcbSetPriority,
                &[*p],
                &[CAP_INIT_THREAD_TCB as u64],
            );
            invoke(k, t, L::TcbResume, &[], &[]);
        }
        (d..tcbs + priorities.len() as u64).collect()
    }

    fn snapshot(k: &Kernel<'_>) -> (Vec<u64>, std::string::String) {
        let words = (0..ARENA_WORDS as u64)
            .map(|i| k.mem.read_word(ARENA_BASE + 8 * i))
            .collect();
        (words, format!("{:?}", k.state))
    }

    /// The stretch of two Debug dumps around their first difference.
    fn state_context<'a>(a: &'a str, b: &'a str) -> (&'a str, &'a str) {
        let Some(at) = a.bytes().zip(b.bytes()).position(|(x, y)| x != y) else {
            return ("same", "same");
        };
        let from = at.saturating_sub(120);
        (
            &a[from..(at + 80).min(a.len())],
            &b[from..(at + 80).min(b.len())],
        )
    }

    /// Runs `steps` random steps of scenario `sc` on both kernels; returns
    /// how often the fast path took the step, and how often a Call or
    /// ReplyRecv that fitted its message rules went the slow way.
    fn run(seed: u64, sc: &Scenario, steps: usize) -> (usize, usize) {
        let mut rng = Rng(seed);
        let mut words_a = vec![0u64; ARENA_WORDS];
        let mut words_b = vec![0u64; ARENA_WORDS];
        let (mut sa, mut sb) = (KernelState::new(), KernelState::new());
        let mut a = Kernel::new(
            PhysMem::from_words(&mut words_a, ARENA_BASE).unwrap(),
            &mut sa,
        );
        let mut b = Kernel::new(
            PhysMem::from_words(&mut words_b, ARENA_BASE).unwrap(),
            &mut sb,
        );
        let la = hostboot::boot(&mut a, 8, 18);
        let lb = hostboot::boot(&mut b, 8, 18);
        let slots = setup(&mut a, &la, sc);
        setup(&mut b, &lb, sc);
        assert_eq!(snapshot(&a), snapshot(&b), "setup diverged");
        let server_tcb = match a.slot_cap(crate::cspace::cnode_slot(la.root_cnode, slots[7])) {
            crate::cap::Cap::Thread { tcb } => Some(tcb),
            _ => None,
        };
        let (mut fast, mut slow) = (0, 0);
        for n in 0..steps {
            if a.current_thread().is_none() {
                break;
            }
            // Servers (the root thread and the first client thread) mostly
            // answer on endpoint `ep`; the other threads mostly Call it
            // through its badged copies; now and then anything goes.
            let ep = slots[0];
            let current = a.current_thread().unwrap();
            let is_server = current == la.tcb || Some(current) == server_tcb;
            let (sys, cptr) = match (rng.below(10), is_server) {
                (0, _) => {
                    let sys = [
                        Syscall::Call,
                        Syscall::ReplyRecv,
                        Syscall::Recv,
                        Syscall::Reply,
                        Syscall::Yield,
                        Syscall::Send,
                    ][rng.below(6) as usize];
                    let cptr = if rng.below(4) == 0 {
                        rng.next()
                    } else {
                        slots[rng.below(slots.len() as u64) as usize]
                    };
                    (sys, cptr)
                }
                (1, true) => (Syscall::Recv, ep),
                (_, true) => (Syscall::ReplyRecv, ep),
                (_, false) => (Syscall::Call, slots[3 + rng.below(4) as usize]),
            };
            let length = [0, 1, 4, 4, 4, 5, 120][rng.below(7) as usize];
            let caps = u64::from(rng.below(12) == 0);
            let info = MessageInfo::new(rng.below(1 << 20), 0, caps, length).word();
            let mrs = [rng.next(), rng.next(), rng.next(), rng.next()];
            let took = step(&mut a, true, sys, cptr, info, mrs);
            step(&mut b, false, sys, cptr, info, mrs);
            fast += usize::from(took);
            slow += usize::from(
                !took
                    && matches!(sys, Syscall::Call | Syscall::ReplyRecv)
                    && length <= 4
                    && caps == 0,
            );
            let (sa_, sb_) = (snapshot(&a), snapshot(&b));
            if sa_ != sb_ {
                let diffs: Vec<_> = (0..ARENA_WORDS)
                    .filter(|i| sa_.0[*i] != sb_.0[*i])
                    .take(6)
                    .map(|i| {
                        format!(
                            "{:#x}: fast {:#x} slow {:#x}",
                            ARENA_BASE + 8 * i as u64,
                            sa_.0[i],
                            sb_.0[i]
                        )
                    })
                    .collect();
                panic!(
                    "seed {seed}, step {n}: {sys:?} cptr {cptr:#x} info {:?} left different states (fast path taken: {took})\nmemory: {diffs:?}\nstate fast: {}\nstate slow: {}",
                    MessageInfo::from_word(info),
                    state_context(&sa_.1, &sb_.1).0,
                    state_context(&sa_.1, &sb_.1).1,
                );
            }
            // The exit's raw VSpace read agrees with the decoded cap.
            if let Some(t) = a.current_thread() {
                let decoded = match a.tcb_cap(t, crate::layout::TCB_VTABLE) {
                    crate::cap::Cap::VSpace {
                        paddr,
                        asid: Some(asid),
                    } if a.find_vspace_for_asid(asid) == Some(paddr) => Some((paddr, asid)),
                    _ => None,
                };
                assert_eq!(a.user_vspace(t), decoded, "seed {seed}, step {n}");
                assert!(decoded.is_some(), "every thread here has an address space");
            }
            if let Err(e) = invariants::check(&a, &hostboot::root_slots(&la)) {
                panic!("seed {seed}, step {n}: invariant violated: {e}");
            }
        }
        (fast, slow)
    }

    #[test]
    #[cfg_attr(miri, ignore = "240 seeds on two 1 MiB arenas take hours under Miri")]
    fn fast_and_slow_paths_leave_identical_states() {
        let mut per = vec![(0, 0); SCENARIOS.len()];
        for seed in 0..240 {
            let i = seed as usize % SCENARIOS.len();
            let (f, s) = run(seed, &SCENARIOS[i], 200);
            per[i].0 += f;
            per[i].1 += s;
        }
        std::println!("(fast, short Call/ReplyRecv on the slow path) per scenario: {per:?}");
        for (i, (f, s)) in per.iter().enumerate() {
            assert!(*f >= 20, "scenario {i} took the fast path only {f} times");
            assert!(
                *s >= 20,
                "scenario {i} sent only {s} short Calls/ReplyRecvs the slow way"
            );
        }
    }
}
