//! TCB flags (seL4_TCBFlag, set with TCB_SetFlags, SEL4-ABI.md §5.4).

/// seL4_TCBFlag_fpuDisabled: FP/SIMD access by the thread traps
/// (UserException with exception class 0x07).
pub const TCB_FLAG_FPU_DISABLED: u64 = 1 << 0;
/// Every flag this configuration knows; TCB_SetFlags ignores other bits.
pub const TCB_FLAGS_ALL: u64 = TCB_FLAG_FPU_DISABLED;
