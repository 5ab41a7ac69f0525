//! What happens on every kernel entry: system calls and user faults go to
//! the object model, interrupts to `irq`, and the chosen thread runs next.
//! Exceptions the kernel itself takes are bugs: they are reported in full
//! and the machine stops.

use crate::arch::{
    self, esr,
    vectors::{ExceptionKind, KernelFrame},
};
use crate::{config, console, events, kprint, kprintln, sched};
use cerne_abi::console::{KERNEL_EXCEPTION_PREFIX, THREAD_SUSPENDED, USER_FAULT_PREFIX};
use cerne_objects::{Fault, Kernel};

/// Entry from EL0; the thread's registers are in its saved context.
#[unsafe(no_mangle)]
extern "C" fn handle_user_entry(_context: u64, kind: u64) -> ! {
    match ExceptionKind::from_raw(kind) {
        ExceptionKind::Synchronous => {
            let (esr, far) = arch::fault_registers();
            // Set by the slow path only: it alone changes caps, so only it
            // can bind or unbind the console UART's IRQ. (A captured local
            // rather than a wider return value keeps the fast path's
            // hand-off to `carry_out` as it was.)
            let mut console_bound = None;
            let event = sched::with_kernel(|k| {
                k.begin_entry(arch::timer::counter());
                let Some(t) = k.current_thread() else {
                    return cerne_objects::syscall::Event::None;
                };
                match esr::exception_class(esr) {
                    esr::EC_SVC64 => {
                        let x7 = k.user_context_mut(t).x[7];
                        if config::FASTPATH && k.fastpath(x7) {
                            // The fast path changes no mapping: no TLB work.
                            cerne_objects::syscall::Event::None
                        } else {
                            let event = k.handle_syscall(x7);
                            events::flush_tlb(k.take_tlb_flushes());
                            console_bound = Some(console::driver_bound(k));
                            event
                        }
                    }
                    crate::fpu::EC_FP_TRAP if crate::fpu::enabled_for(k, t) => {
                        // The first FP/SIMD access since another thread
                        // owned the registers: switch them, then the same
                        // instruction runs again.
                        crate::fpu::take_ownership(k, t);
                        cerne_objects::syscall::Event::None
                    }
                    class => {
                        let elr = k.user_context_mut(t).elr_el1;
                        let event = k.handle_user_fault(decode_fault(class, esr, far, elr));
                        events::flush_tlb(k.take_tlb_flushes());
                        event
                    }
                }
            });
            events::carry_out(event);
            if let Some(bound) = console_bound {
                console::set_driver_owned(bound);
            }
        }
        ExceptionKind::Irq => {
            sched::begin_entry();
            crate::irq::handle_pending();
        }
        ExceptionKind::Fiq | ExceptionKind::SError => {
            let (esr, far) = arch::fault_registers();
            console::take_back_for_halt();
            kprintln!("{KERNEL_EXCEPTION_PREFIX}: {kind:?} from EL0: ESR {esr:#x} FAR {far:#x}");
            crate::panic::halt_failure();
        }
    }
    sched::schedule_and_return()
}

/// The seL4 fault an EL0 synchronous exception raises (docs/sel4-abi.md §7.2).
fn decode_fault(class: u64, esr: u64, far: u64, elr: u64) -> Fault {
    let fsr = esr & 0xffff_ffff;
    match class {
        esr::EC_DABT_LOWER => Fault::VmFault {
            addr: far,
            fsr,
            instruction: false,
        },
        esr::EC_IABT_LOWER => Fault::VmFault {
            addr: elr,
            fsr,
            instruction: true,
        },
        _ => Fault::UserException {
            number: fsr,
            code: 0,
        },
    }
}

/// Prints the decoded report of a fault that no handler takes; the object
/// model has already made the thread Inactive.
pub fn report_unhandled_fault(k: &mut Kernel<'_>, tcb: u64, fault: Fault) {
    let mut name = [0u8; 64];
    let n = sched::thread_name(k, tcb, &mut name);
    let name = core::str::from_utf8(&name[..n]).unwrap_or("?");
    let c = *k.user_context_mut(tcb);
    match fault {
        Fault::VmFault {
            addr,
            fsr,
            instruction,
        } => {
            kprintln!(
                "{USER_FAULT_PREFIX} in thread '{name}': {}",
                esr::class_name(fsr)
            );
            let access = match (instruction, esr::is_write(fsr)) {
                (true, _) => "on an instruction fetch",
                (false, true) => "on a write",
                (false, false) => "on a read",
            };
            kprintln!(
                "    cause: {} at level {}, {access}",
                esr::fault_status_name(fsr),
                esr::fault_level(fsr)
            );
            kprintln!("    ESR {fsr:#018x}  FAR {addr:#018x}");
        }
        Fault::UserException { number, .. } => {
            kprintln!(
                "{USER_FAULT_PREFIX} in thread '{name}': {}",
                esr::class_name(number)
            );
            kprintln!("    ESR {number:#018x}");
        }
        Fault::UnknownSyscall { number } => {
            kprintln!(
                "{USER_FAULT_PREFIX} in thread '{name}': unknown syscall {:#x}",
                number
            );
        }
        Fault::CapFault {
            addr,
            in_recv,
            lookup,
        } => {
            kprintln!(
                "{USER_FAULT_PREFIX} in thread '{name}': capability fault on cptr {addr:#x}{} ({lookup:?})",
                if in_recv { " while receiving" } else { "" }
            );
        }
        #[allow(unreachable_patterns)]
        other => kprintln!("{USER_FAULT_PREFIX} in thread '{name}': {other:?}"),
    }
    kprintln!(
        "    ELR {:#018x}  SPSR {:#018x}  SP_EL0 {:#018x}",
        c.elr_el1,
        c.spsr_el1,
        c.sp_el0
    );
    print_registers(&c.x);
    print_frame_records(k, tcb, c.x[29]);
    kprintln!("{THREAD_SUSPENDED}: '{name}'");
}

/// Most frame records a fault report walks.
const MAX_FRAME_RECORDS: usize = 16;

/// The frame records of the faulting thread's stack, from x29 (AAPCS64: a
/// record is the caller's x29, then the return address), read through the
/// thread's own page tables: `    frame N: fp 0x... lr 0x...` lines, up to
/// [`MAX_FRAME_RECORDS`]. The walk stops at a zero or unreadable record and
/// at one that does not lie above the last (a stack grows down), so a
/// corrupt chain ends it rather than looping. The host names each return
/// address (docs/debugging.md).
fn print_frame_records(k: &Kernel<'_>, tcb: u64, x29: u64) {
    let mut fp = x29;
    for n in 1..=MAX_FRAME_RECORDS {
        if fp == 0 {
            return;
        }
        let (Some(next), Some(lr)) = (
            k.read_user_word(tcb, fp),
            k.read_user_word(tcb, fp.wrapping_add(8)),
        ) else {
            kprintln!("    frame {n}: fp {fp:#018x} not readable");
            return;
        };
        if lr == 0 {
            return;
        }
        kprintln!("    frame {n}: fp {fp:#018x} lr {lr:#018x}");
        if next <= fp {
            return;
        }
        fp = next;
    }
}

fn print_registers(x: &[u64; 31]) {
    for (i, v) in x.iter().enumerate() {
        kprint!("    x{i:<2} {v:#018x}");
        if i % 4 == 3 || i == 30 {
            kprintln!();
        }
    }
}

/// Entry from EL1 (or from AArch32 EL0, which Cerne does not run).
#[unsafe(no_mangle)]
extern "C" fn handle_kernel_entry(source: u64, kind: u64, frame: &mut KernelFrame) {
    let kind = ExceptionKind::from_raw(kind);
    if source == 1 && kind == ExceptionKind::Irq && sched::is_idle() {
        sched::begin_entry();
        crate::irq::handle_pending();
        return;
    }
    let (esr, far) = arch::fault_registers();
    let origin = match source {
        0 => "EL1 with SP_EL0",
        1 => "EL1",
        _ => "AArch32 EL0 (not supported)",
    };
    console::take_back_for_halt();
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
        if arch::mmu::in_stack_guard(far) {
            kprintln!(
                "    the access hit the guard page below the kernel stack: kernel stack overflow"
            );
        }
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
