//! Cerne's console conventions. Not part of seL4's ABI: these are the lines
//! the kernel and the boot programs print that the host harness
//! (`cargo xtask run` / `test`) reads to decide how a run ended. Kernel and
//! harness both take them from here, so they cannot drift apart.

/// First words of the kernel banner, printed once the console is up.
pub const BANNER_PREFIX: &str = "Cerne ";
/// Printed before powering off after DebugHalt or a normal end of a test.
pub const HALT_SUCCESS: &str = "[cerne] system halted: success";
/// Printed before powering off after a kernel panic or fatal kernel fault.
pub const HALT_FAILURE: &str = "[cerne] system halted: failure";
/// Start of the line a kernel panic prints (location and message follow).
pub const PANIC_PREFIX: &str = "[cerne] KERNEL PANIC";
/// Start of the report for an unexpected exception taken in the kernel.
pub const KERNEL_EXCEPTION_PREFIX: &str = "[cerne] unexpected kernel exception";
/// Start of the report of a user fault that has no handler.
pub const USER_FAULT_PREFIX: &str = "[cerne] unhandled user fault";
/// Printed when a faulted thread with no handler has been suspended.
pub const THREAD_SUSPENDED: &str = "[cerne] thread suspended";
/// Start of each memory-map line (`RAM`, `kernel`, `dtb`, `root task`).
pub const MEMORY_PREFIX: &str = "[cerne] memory:";
/// Printed (in builds with idle-halt enabled) when nothing is left to run.
pub const IDLE_HALT: &str = "[cerne] idle: no runnable thread is left";
/// The capDL initializer (root task) could not build its system; what
/// follows names the object and the reason. A run that prints it failed.
pub const CAPDL_ERROR_PREFIX: &str = "[capdl] error:";
/// The process manager's report of a process that faulted:
/// `[procs] pid N (PROGRAM) faulted: CAUSE at ADDR, pc PC (seL4 fault label L); reaped`.
/// The harness names the PC through the program's ELF.
pub const PROCESS_FAULT_PREFIX: &str = "[procs] pid ";
/// What follows the program's name in that report.
pub const PROCESS_FAULT_MARK: &str = ") faulted: ";
/// The supervisor's report that a component's clients were still not
/// answered after it was restarted for not answering them: the failed
/// incarnation dropped a request it had taken (discarded the reply cap),
/// and in seL4's non-MCS model nothing can answer that caller any more
/// (docs/supervisor.md). `[super] NAME: REQUEST_LOST_MARK ...`; the
/// reliability campaign ends its boot on it and counts a hang.
pub const REQUEST_LOST_MARK: &str = "a request it had taken was dropped";
