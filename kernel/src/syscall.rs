//! System-call dispatch on seL4's register convention (SEL4-ABI.md §2).

use crate::{console, sched};
use cerne_abi::syscall::Syscall;

/// Carries out `syscall` for the current thread.
pub fn handle(syscall: Syscall) {
    match syscall {
        Syscall::DebugPutChar => {
            let c = sched::with_current_context(|c| c.x[0]);
            console::put_byte(c as u8);
        }
        Syscall::DebugHalt => crate::panic::halt_success(),
        other => {
            crate::kprintln!("[cerne] syscall {other:?} is not implemented yet");
            let (esr, far) = crate::arch::fault_registers();
            crate::trap::report_user_fault("unimplemented syscall", esr, far);
            sched::suspend_current();
        }
    }
}
