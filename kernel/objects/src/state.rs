//! The kernel's global state, kept by the kernel as one static instance:
//! ready queues with their bitmap, the current thread and scheduler action,
//! the ASID table, the IRQ table, the domain schedule, and the kernel-wide
//! side of CPU-time accounting.
#![forbid(unsafe_code)]

use cerne_abi::vm::NUM_ASID_POOLS;

/// Number of priorities (seL4_MaxPrio + 1).
pub const NUM_PRIORITIES: usize = 256;
/// Highest IRQ number (maxIRQ).
pub const MAX_IRQ: usize = 159;
/// Number of IRQs.
pub const NUM_IRQS: usize = MAX_IRQ + 1;
/// The kernel's timer IRQ (EL1 virtual timer PPI).
pub const KERNEL_TIMER_IRQ: usize = 27;
/// Time slice in ticks (CONFIG_TIME_SLICE; its home is the ABI crate).
pub const TIME_SLICE: u64 = cerne_abi::tcb::TIME_SLICE;
/// Number of scheduling domains.
pub const NUM_DOMAINS: u64 = 1;
/// Entries of the domain schedule.
pub const NUM_DOMAIN_SCHEDULES: usize = 2;
/// Bytes of the IRQ node: one slot per IRQ, rounded up to a power of two.
pub const IRQ_NODE_BITS: u32 = 13;

/// State of one IRQ line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IrqState {
    /// No handler; masked.
    #[default]
    Inactive,
    /// An IRQHandler cap exists for it.
    Signal,
    /// Used by the kernel (the timer).
    Timer,
    /// Reserved.
    Reserved,
}

/// What the scheduler does at the end of the kernel entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchedulerAction {
    /// Keep running the current thread.
    ResumeCurrent,
    /// Pick the highest-priority runnable thread.
    ChooseNew,
    /// Switch to this TCB if priorities allow.
    SwitchTo(u64),
}

/// One domain schedule entry: domain and length in ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DomainScheduleEntry {
    /// Domain.
    pub domain: u64,
    /// Length in ticks (0 with domain 0 = end marker).
    pub length: u64,
}

/// The kernel's global state.
#[derive(Clone, Debug)]
pub struct KernelState {
    /// Head TCB of each ready queue (0 = empty).
    pub ready_head: [u64; NUM_PRIORITIES],
    /// Tail TCB of each ready queue.
    pub ready_tail: [u64; NUM_PRIORITIES],
    /// Bit i set: level-2 word i is non-zero.
    pub ready_l1: u64,
    /// Bit j of word i set: priority 64·i + j has a queued thread.
    pub ready_l2: [u64; NUM_PRIORITIES / 64],
    /// The running thread (0 = the idle thread).
    pub current: u64,
    /// Pending scheduler decision.
    pub action: SchedulerAction,
    /// Physical address of each registered ASID pool (0 = none).
    pub asid_table: [u64; NUM_ASID_POOLS],
    /// State of each IRQ.
    pub irq_state: [IrqState; NUM_IRQS],
    /// Physical address of the IRQ node (one slot per IRQ, holding the
    /// notification cap a handled IRQ signals); 0 until boot sets it.
    pub irq_node: u64,
    /// Current domain.
    pub current_domain: u64,
    /// Domain schedule.
    pub domain_schedule: [DomainScheduleEntry; NUM_DOMAIN_SCHEDULES],
    /// Index of the running domain schedule entry.
    pub domain_schedule_index: u64,
    /// Start index of the domain schedule.
    pub domain_schedule_start: u64,
    /// Ticks left in the current domain.
    pub domain_time: u64,
    /// Slot of the cap being invoked (set for the duration of a decode).
    pub invoked_slot: u64,
    /// Hardware work an invocation left for the kernel binary (handed over
    /// by `handle_syscall`).
    pub event: crate::effects::Event,
    /// TLB invalidations the current entry recorded (handed over by
    /// `take_tlb_flushes`).
    pub tlb_flushes: crate::effects::TlbFlushes,
    /// CPU-time accounting: entry time stamp, period, idle and totals.
    pub utilisation: crate::utilisation::UtilisationState,
    /// The thread whose FP/SIMD state is in the CPU's registers (seL4's
    /// `ksActiveFPUState`), 0 for none. Its own save area in the TCB is
    /// stale while it is the owner; the arch layer switches owners when
    /// another thread traps on its first FP/SIMD access.
    pub fpu_owner: u64,
    /// First and last TCB of the list of every TCB, in the order they were
    /// made (seL4 debug builds' `ksDebugTCBs`; `crate::threads`), 0 when
    /// empty.
    pub all_threads: [u64; 2],
}

impl KernelState {
    /// The state before boot: no threads, no pools, every IRQ inactive but
    /// the timer, the default domain schedule.
    pub const fn new() -> Self {
        let mut irq_state = [IrqState::Inactive; NUM_IRQS];
        irq_state[KERNEL_TIMER_IRQ] = IrqState::Timer;
        let mut domain_schedule = [DomainScheduleEntry {
            domain: 0,
            length: 0,
        }; NUM_DOMAIN_SCHEDULES];
        domain_schedule[0].length = (1 << 56) - 1;
        Self {
            ready_head: [0; NUM_PRIORITIES],
            ready_tail: [0; NUM_PRIORITIES],
            ready_l1: 0,
            ready_l2: [0; NUM_PRIORITIES / 64],
            current: 0,
            action: SchedulerAction::ResumeCurrent,
            asid_table: [0; NUM_ASID_POOLS],
            irq_state,
            irq_node: 0,
            current_domain: 0,
            domain_schedule,
            domain_schedule_index: 0,
            domain_schedule_start: 0,
            domain_time: (1 << 56) - 1,
            invoked_slot: 0,
            event: crate::effects::Event::None,
            tlb_flushes: crate::effects::TlbFlushes::NONE,
            utilisation: crate::utilisation::UtilisationState::new(),
            fpu_owner: 0,
            all_threads: [0; 2],
        }
    }
}

impl Default for KernelState {
    fn default() -> Self {
        Self::new()
    }
}
