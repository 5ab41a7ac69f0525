//! What happens on every kernel entry: system calls, user faults, interrupts
//! from user mode and while idling, and reports of exceptions the kernel
//! itself took (which are bugs: the kernel stops).

use crate::arch::{
    self, esr,
    vectors::{ExceptionKind, KernelFrame},
};
use crate::{kprintln, sched};
use cerne_abi::console::{KERNEL_EXCEPTION_PREFIX, THREAD_SUSPENDED, USER_FAULT_PREFIX};
use cerne_abi::syscall::Syscall;

/// Entry from EL0; the thread's registers are in its saved context.
#[unsafe(no_mangle)]
extern "C" fn handle_user_entry(_context: u64, kind: u64) -> ! {
    match ExceptionKind::from_raw(kind) {
        ExceptionKind::Synchronous => handle_user_sync(),
        ExceptionKind::Irq => crate::irq::handle_pending(),
        ExceptionKind::Fiq | ExceptionKind::SError => {
            let (esr, far) = arch::fault_registers();
            report_user_fault("asynchronous FIQ/SError from user mode", esr, far);
            sched::suspend_current();
        }
    }
    sched::schedule_and_return()
}

fn handle_user_sync() {
    let (esr, far) = arch::fault_registers();
    match esr::exception_class(esr) {
        esr::EC_SVC64 => {
            let number = sched::with_current_context(|c| c.x[7]);
            match Syscall::from_word(number) {
                Some(syscall) => crate::syscall::handle(syscall),
                None => unknown_syscall(number, esr, far),
            }
        }
        _ => {
            report_user_fault(esr::class_name(esr), esr, far);
            sched::suspend_current();
        }
    }
}

fn unknown_syscall(number: u64, esr: u64, far: u64) {
    kprintln!("[cerne] unknown syscall number {:#x}", number);
    report_user_fault("unknown syscall", esr, far);
    sched::suspend_current();
}

/// Prints the decoded report of a fault no handler takes.
pub fn report_user_fault(what: &str, esr: u64, far: u64) {
    let name = sched::current_name();
    kprintln!("{USER_FAULT_PREFIX} in thread '{name}': {what}");
    if esr::is_abort(esr) {
        let access = if esr::exception_class(esr) == esr::EC_DABT_LOWER {
            if esr::is_write(esr) {
                ", on a write"
            } else {
                ", on a read"
            }
        } else {
            ""
        };
        kprintln!(
            "    cause: {} at level {}{access}",
            esr::fault_status_name(esr),
            esr::fault_level(esr)
        );
    }
    sched::with_current_context(|c| {
        kprintln!(
            "    ESR {esr:#018x}  FAR {far:#018x}  ELR {:#018x}  SPSR {:#018x}  SP_EL0 {:#018x}",
            c.elr_el1,
            c.spsr_el1,
            c.sp_el0
        );
        print_registers(&c.x);
    });
    kprintln!("{THREAD_SUSPENDED}: '{name}'");
}

fn print_registers(x: &[u64; 31]) {
    for row in 0..8 {
        let mut line = [(0usize, 0u64); 4];
        let mut n = 0;
        for col in 0..4 {
            let i = row * 4 + col;
            if i < 31 {
                line[n] = (i, x[i]);
                n += 1;
            }
        }
        for &(i, v) in &line[..n] {
            crate::kprint!("    x{i:<2} {v:#018x}");
        }
        kprintln!();
    }
}

/// Entry from EL1 (or from AArch32 EL0, which Cerne does not run).
#[unsafe(no_mangle)]
extern "C" fn handle_kernel_entry(source: u64, kind: u64, frame: &mut KernelFrame) {
    let kind = ExceptionKind::from_raw(kind);
    if source == 1 && kind == ExceptionKind::Irq && sched::is_idle() {
        crate::irq::handle_pending_while_idle();
        return;
    }
    let (esr, far) = arch::fault_registers();
    let origin = match source {
        0 => "EL1 with SP_EL0",
        1 => "EL1",
        _ => "AArch32 EL0 (not supported)",
    };
    kprintln!(
        "{KERNEL_EXCEPTION_PREFIX}: {kind:?} from {origin}: {}",
        esr::class_name(esr)
    );
    if esr::is_abort(esr) {
        kprintln!(
            "    cause: {} at level {}",
            esr::fault_status_name(esr),
            esr::fault_level(esr)
        );
    }
    kprintln!(
        "    ESR {esr:#018x}  FAR {far:#018x}  ELR {:#018x}  SPSR {:#018x}  SP {:#018x}",
        frame.elr,
        frame.spsr,
        frame.sp
    );
    print_registers(&frame.x);
    crate::panic::halt_failure()
}
