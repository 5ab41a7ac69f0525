//! Build-time kernel options, defined in this one place (cargo features of
//! the kernel crate select them; SEL4-ABI.md §10.4 lists what seL4 programs
//! expect).

/// Length of a kernel tick in microseconds (seL4's TIMER_TICK_MS = 2).
pub const TIMER_TICK_US: u64 = 2_000;
/// log2 of the root CNode's slot count (seL4's ROOT_CNODE_SIZE_BITS).
pub const ROOT_CNODE_SIZE_BITS: usize = cerne_abi::slots::DEFAULT_ROOT_CNODE_SIZE_BITS;
/// EL0 may read the PMU cycle counter (seL4's KernelArmExportPMUUser).
pub const PMU_USER: bool = cfg!(feature = "pmu-user");
/// Power off cleanly once nothing can run (for test images).
pub const IDLE_HALT: bool = cfg!(feature = "idle-halt");
/// Idle ticks to wait before `IDLE_HALT` powers off, so that the timer is
/// seen to keep working after the last thread stopped.
pub const IDLE_HALT_TICKS: u64 = 10;
/// Panic on purpose once the memory map is printed (tests the panic path).
pub const BOOT_PANIC_TEST: bool = cfg!(feature = "boot-panic-test");
