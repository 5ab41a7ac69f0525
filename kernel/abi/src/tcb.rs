//! TCB flags (seL4_TCBFlag, set with TCB_SetFlags, docs/sel4-abi.md §5.4).

/// seL4_TCBFlag_fpuDisabled: FP/SIMD access by the thread traps
/// (UserException with exception class 0x07).
pub const TCB_FLAG_FPU_DISABLED: u64 = 1 << 0;
/// Every flag this configuration knows; TCB_SetFlags ignores other bits.
pub const TCB_FLAGS_ALL: u64 = TCB_FLAG_FPU_DISABLED;

/// CONFIG_TIME_SLICE: the kernel ticks a thread runs before the round
/// robin moves it to the back of its priority's queue (seL4's default).
/// With the default tick (TIMER_TICK_MS = 2, `CERNE_TIMER_TICK_US`) that
/// is [`DEFAULT_QUANTUM_US`]; user-level schedulers (the policy server)
/// reason in it.
pub const TIME_SLICE: u64 = 5;
/// The kernel's default tick in microseconds (seL4's TIMER_TICK_MS = 2).
pub const DEFAULT_TIMER_TICK_US: u64 = 2_000;
/// The round-robin quantum with the default tick, in microseconds.
pub const DEFAULT_QUANTUM_US: u64 = TIME_SLICE * DEFAULT_TIMER_TICK_US;
