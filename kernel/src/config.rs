//! Build-time kernel options, all read here.
//!
//! Numeric options come from environment variables at build time, validated
//! against the table in `build.rs` (`CERNE_ROOT_CNODE_SIZE_BITS`,
//! `CERNE_TIMER_TICK_US`); boolean options are cargo features of this crate
//! (`pmu-user`, `export-vcnt-user`, `export-pcnt-user`, `export-ptmr-user`,
//! `printing`, `fastpath`, `idle-halt`, `boot-panic-test`,
//! `boot-fault-test`, `boot-stack-overflow-test`). The root task
//! learns what it needs from BootInfo (e.g. `initThreadCNodeSizeBits`).

mod generated {
    include!(concat!(env!("OUT_DIR"), "/options.rs"));
}

/// Length of a kernel tick in microseconds (seL4's TIMER_TICK_MS = 2).
pub const TIMER_TICK_US: u64 = generated::TIMER_TICK_US;
/// log2 of the root CNode's slot count (seL4's ROOT_CNODE_SIZE_BITS).
pub const ROOT_CNODE_SIZE_BITS: u32 = generated::ROOT_CNODE_SIZE_BITS as u32;
/// EL0 may read the PMU cycle counter (seL4's KernelArmExportPMUUser).
pub const PMU_USER: bool = cfg!(feature = "pmu-user");
/// EL0 may read the virtual counter CNTVCT_EL0 (seL4's
/// KernelArmExportVCNTUser; default on in Cerne).
pub const EXPORT_VCNT_USER: bool = cfg!(feature = "export-vcnt-user");
/// EL0 may read the physical counter CNTPCT_EL0 (seL4's
/// KernelArmExportPCNTUser; default on in Cerne).
pub const EXPORT_PCNT_USER: bool = cfg!(feature = "export-pcnt-user");
/// EL0 may program the EL1 physical timer (seL4's KernelArmExportPTMRUser;
/// default on in Cerne). The kernel's own tick is the virtual timer, which
/// stays the kernel's.
pub const EXPORT_PTMR_USER: bool = cfg!(feature = "export-ptmr-user");
/// DebugPutChar prints (seL4's PRINTING); without it, the kernel's own
/// messages still print but user output through the kernel is dropped.
pub const PRINTING: bool = cfg!(feature = "printing");
/// Short Call / ReplyRecv take the IPC fast path (seL4's FASTPATH).
pub const FASTPATH: bool = cfg!(feature = "fastpath") && !cfg!(feature = "no-fastpath");
/// Power off cleanly once nothing can run (for test images).
pub const IDLE_HALT: bool = cfg!(feature = "idle-halt");
/// Idle ticks to wait before `IDLE_HALT` powers off, so that the timer is
/// seen to keep working after the last thread stopped.
pub const IDLE_HALT_TICKS: u64 = 10;
/// Panic on purpose once the memory map is printed (tests the panic path).
pub const BOOT_PANIC_TEST: bool = cfg!(feature = "boot-panic-test");
/// Fault in the kernel on purpose once the memory map is printed (tests the
/// report of an unexpected kernel exception).
pub const BOOT_FAULT_TEST: bool = cfg!(feature = "boot-fault-test");
/// Overflow the kernel stack on purpose once the memory map is printed
/// (tests the guard page below it).
pub const BOOT_STACK_OVERFLOW_TEST: bool = cfg!(feature = "boot-stack-overflow-test");
