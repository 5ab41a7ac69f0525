//! The exception vector table and the assembly that saves and restores
//! register state around every kernel entry.
//!
//! Entries from EL0 save the user registers straight into the current
//! thread's [`UserContext`](super::context::UserContext), whose address the
//! kernel keeps in TPIDR_EL1, and start on an empty kernel stack. Entries
//! taken at EL1 push a [`KernelFrame`] on the kernel stack: they are either
//! an interrupt while the kernel idles, or a kernel bug that gets reported.
//!
//! No entry or exit saves or restores FP/SIMD registers: the kernel is
//! built without FP/SIMD code, so they stay the FPU owner's, and
//! [`fpu_save`] / [`fpu_restore`] switch them on a trapped first use
//! (`crate::fpu`).

use super::context::{CTX_ELR, CTX_SPSR, CTX_SP_EL0, CTX_TPIDR, CTX_TPIDRRO};

/// What kind of exception a vector entry saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum ExceptionKind {
    /// Synchronous (SVC, abort, undefined instruction, ...).
    Synchronous = 0,
    /// IRQ.
    Irq = 1,
    /// FIQ.
    Fiq = 2,
    /// System error.
    SError = 3,
}

impl ExceptionKind {
    /// Decodes the value the vector stubs pass.
    pub fn from_raw(raw: u64) -> Self {
        match raw & 3 {
            0 => Self::Synchronous,
            1 => Self::Irq,
            2 => Self::Fiq,
            _ => Self::SError,
        }
    }
}

/// Registers an exception at EL1 pushed on the kernel stack.
#[repr(C)]
pub struct KernelFrame {
    /// x0..x30.
    pub x: [u64; 31],
    /// The interrupted stack pointer.
    pub sp: u64,
    /// ELR_EL1.
    pub elr: u64,
    /// SPSR_EL1.
    pub spsr: u64,
}

/// Bytes of a [`KernelFrame`] (kept a multiple of 16).
pub const KERNEL_FRAME_SIZE: usize = 34 * 8;
const _: () = assert!(core::mem::size_of::<KernelFrame>() == KERNEL_FRAME_SIZE);

core::arch::global_asm!(
    r#"
.macro KERNEL_VECTOR source, kind
    .balign 0x80
    // A kernel stack overflow lands in the guard page below the stack:
    // then the report is made from the emergency stack. TPIDRRO_EL0 and
    // TPIDR_EL0 serve as scratch (the thread's values are in its context
    // and every return to EL0 restores them).
    msr     tpidrro_el0, x0
    msr     tpidr_el0, x1
    mov     x0, sp
    sub     x0, x0, #{frame}
    lsr     x0, x0, #12
    adrp    x1, __stack_guard
    cmp     x0, x1, lsr #12
    b.ne    1f
    adrp    x1, EMERGENCY_STACK
    add     x1, x1, :lo12:EMERGENCY_STACK
    add     x1, x1, #{emergency}
    mov     sp, x1
1:  mrs     x0, tpidrro_el0
    mrs     x1, tpidr_el0
    sub     sp, sp, #{frame}
    stp     x0, x1, [sp, #0]
    mov     x0, #\source
    mov     x1, #\kind
    b       kernel_entry_common
.endm

.macro USER_VECTOR kind
    .balign 0x80
    stp     x0, x1, [sp, #-16]!
    mov     x1, #\kind
    b       user_entry_common
.endm

    .section .text.vectors, "ax"
    .balign 0x800
    .global cerne_vector_table
cerne_vector_table:
    KERNEL_VECTOR 0, 0
    KERNEL_VECTOR 0, 1
    KERNEL_VECTOR 0, 2
    KERNEL_VECTOR 0, 3
    KERNEL_VECTOR 1, 0
    KERNEL_VECTOR 1, 1
    KERNEL_VECTOR 1, 2
    KERNEL_VECTOR 1, 3
    USER_VECTOR 0
    USER_VECTOR 1
    USER_VECTOR 2
    USER_VECTOR 3
    KERNEL_VECTOR 2, 0
    KERNEL_VECTOR 2, 1
    KERNEL_VECTOR 2, 2
    KERNEL_VECTOR 2, 3

    .text
kernel_entry_common:
    // x0 = source, x1 = kind; the interrupted x0/x1 are at [sp].
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    add     x2, sp, #{frame}
    stp     x30, x2, [sp, #240]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x2, x3, [sp, #256]
    mov     x2, sp
    bl      handle_kernel_entry
    // Returns only for an interrupt taken while idling: resume there.
    ldp     x2, x3, [sp, #256]
    msr     elr_el1, x2
    msr     spsr_el1, x3
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    ldr     x30, [sp, #240]
    ldp     x0, x1, [sp, #0]
    add     sp, sp, #{frame}
    eret

user_entry_common:
    // x1 = kind; the user's x0/x1 are on the kernel stack.
    mrs     x0, tpidr_el1
    stp     x2, x3, [x0, #16]
    stp     x4, x5, [x0, #32]
    stp     x6, x7, [x0, #48]
    stp     x8, x9, [x0, #64]
    stp     x10, x11, [x0, #80]
    stp     x12, x13, [x0, #96]
    stp     x14, x15, [x0, #112]
    stp     x16, x17, [x0, #128]
    stp     x18, x19, [x0, #144]
    stp     x20, x21, [x0, #160]
    stp     x22, x23, [x0, #176]
    stp     x24, x25, [x0, #192]
    stp     x26, x27, [x0, #208]
    stp     x28, x29, [x0, #224]
    str     x30, [x0, #240]
    ldp     x2, x3, [sp], #16
    stp     x2, x3, [x0, #0]
    mrs     x2, sp_el0
    str     x2, [x0, #{sp_el0}]
    mrs     x2, elr_el1
    str     x2, [x0, #{elr}]
    mrs     x2, spsr_el1
    str     x2, [x0, #{spsr}]
    mrs     x2, tpidr_el0
    str     x2, [x0, #{tpidr}]
    mrs     x2, tpidrro_el0
    str     x2, [x0, #{tpidrro}]
    bl      handle_user_entry
    b       .

    .global cerne_restore_user_context
cerne_restore_user_context:
    // Resets the kernel stack and returns to the thread whose context
    // TPIDR_EL1 names.
    adrp    x1, KERNEL_STACK
    add     x1, x1, :lo12:KERNEL_STACK
    add     x1, x1, #{stack_size}
    mov     sp, x1
    mrs     x0, tpidr_el1
    ldr     x2, [x0, #{sp_el0}]
    msr     sp_el0, x2
    ldr     x2, [x0, #{elr}]
    msr     elr_el1, x2
    ldr     x2, [x0, #{spsr}]
    msr     spsr_el1, x2
    ldr     x2, [x0, #{tpidr}]
    msr     tpidr_el0, x2
    ldr     x2, [x0, #{tpidrro}]
    msr     tpidrro_el0, x2
    ldp     x2, x3, [x0, #16]
    ldp     x4, x5, [x0, #32]
    ldp     x6, x7, [x0, #48]
    ldp     x8, x9, [x0, #64]
    ldp     x10, x11, [x0, #80]
    ldp     x12, x13, [x0, #96]
    ldp     x14, x15, [x0, #112]
    ldp     x16, x17, [x0, #128]
    ldp     x18, x19, [x0, #144]
    ldp     x20, x21, [x0, #160]
    ldp     x22, x23, [x0, #176]
    ldp     x24, x25, [x0, #192]
    ldp     x26, x27, [x0, #208]
    ldp     x28, x29, [x0, #224]
    ldr     x30, [x0, #240]
    ldp     x0, x1, [x0, #0]
    eret

    // FP/SIMD state, switched lazily (arch::fpu): the kernel is built
    // without FP/SIMD code, so these two routines are the only kernel code
    // that touches V0..V31, FPSR and FPCR. x0 = a thread's UserContext.
    .arch_extension fp
    .arch_extension simd
    .global cerne_fpu_save
cerne_fpu_save:
    add     x1, x0, #{fp_regs}
    stp     q0, q1, [x1, #0]
    stp     q2, q3, [x1, #32]
    stp     q4, q5, [x1, #64]
    stp     q6, q7, [x1, #96]
    stp     q8, q9, [x1, #128]
    stp     q10, q11, [x1, #160]
    stp     q12, q13, [x1, #192]
    stp     q14, q15, [x1, #224]
    stp     q16, q17, [x1, #256]
    stp     q18, q19, [x1, #288]
    stp     q20, q21, [x1, #320]
    stp     q22, q23, [x1, #352]
    stp     q24, q25, [x1, #384]
    stp     q26, q27, [x1, #416]
    stp     q28, q29, [x1, #448]
    stp     q30, q31, [x1, #480]
    mrs     x1, fpsr
    mrs     x2, fpcr
    stp     x1, x2, [x0, #{fpsr_fpcr}]
    ret

    .global cerne_fpu_restore
cerne_fpu_restore:
    ldp     x1, x2, [x0, #{fpsr_fpcr}]
    msr     fpsr, x1
    msr     fpcr, x2
    add     x1, x0, #{fp_regs}
    ldp     q0, q1, [x1, #0]
    ldp     q2, q3, [x1, #32]
    ldp     q4, q5, [x1, #64]
    ldp     q6, q7, [x1, #96]
    ldp     q8, q9, [x1, #128]
    ldp     q10, q11, [x1, #160]
    ldp     q12, q13, [x1, #192]
    ldp     q14, q15, [x1, #224]
    ldp     q16, q17, [x1, #256]
    ldp     q18, q19, [x1, #288]
    ldp     q20, q21, [x1, #320]
    ldp     q22, q23, [x1, #352]
    ldp     q24, q25, [x1, #384]
    ldp     q26, q27, [x1, #416]
    ldp     q28, q29, [x1, #448]
    ldp     q30, q31, [x1, #480]
    ret
"#,
    frame = const KERNEL_FRAME_SIZE,
    sp_el0 = const CTX_SP_EL0,
    elr = const CTX_ELR,
    spsr = const CTX_SPSR,
    tpidr = const CTX_TPIDR,
    tpidrro = const CTX_TPIDRRO,
    stack_size = const super::entry::KERNEL_STACK_SIZE,
    fp_regs = const super::context::CTX_FP_REGS,
    emergency = const super::entry::EMERGENCY_STACK_SIZE,
    fpsr_fpcr = const super::context::CTX_FPSR_FPCR,
);

unsafe extern "C" {
    static cerne_vector_table: u8;
    fn cerne_restore_user_context() -> !;
    fn cerne_fpu_save(context: usize);
    fn cerne_fpu_restore(context: usize);
}

/// Saves the CPU's FP/SIMD registers (V0..V31, FPSR, FPCR) into the save
/// area of the thread whose context is at `context` (kernel address).
///
/// # Safety
///
/// `context` must be the address of a live TCB's UserContext in the kernel
/// window (the save area lies in that TCB, `context::CTX_FP_REGS`), and
/// EL1 FP/SIMD access must be enabled (CPACR_EL1.FPEN bit 20, always set).
pub unsafe fn fpu_save(context: usize) {
    // SAFETY: as the caller guarantees; the routine writes only the TCB's
    // FP save area and clobbers x1, x2 (caller-saved).
    unsafe { cerne_fpu_save(context) }
}

/// Loads the CPU's FP/SIMD registers from the save area of the thread
/// whose context is at `context`.
///
/// # Safety
///
/// As [`fpu_save`]; the routine only reads the TCB.
pub unsafe fn fpu_restore(context: usize) {
    // SAFETY: as the caller guarantees; clobbers x1, x2 and the FP/SIMD
    // registers, which the kernel itself never uses.
    unsafe { cerne_fpu_restore(context) }
}

/// Points VBAR_EL1 at the kernel's vector table.
pub fn install() {
    let base = core::ptr::addr_of!(cerne_vector_table) as u64;
    // SAFETY: the table is 2 KiB aligned, lives for the whole run, and its
    // handlers follow the contract above.
    unsafe {
        core::arch::asm!("msr vbar_el1, {0}", "isb", in(reg) base);
    }
}

/// Makes `context` the one restored on the next return to user mode.
pub fn set_current_context(context: *mut super::context::UserContext) {
    // SAFETY: TPIDR_EL1 is the kernel's own scratch register; the pointer is
    // only dereferenced by the entry/exit assembly, which callers guarantee
    // by keeping the context alive while it is current.
    unsafe {
        core::arch::asm!("msr tpidr_el1, {0}", in(reg) context as u64);
    }
}

/// Returns to user mode in the current context; never comes back here.
pub fn return_to_user() -> ! {
    // SAFETY: TPIDR_EL1 names a live UserContext (see set_current_context),
    // and the routine resets the kernel stack before restoring it.
    unsafe { cerne_restore_user_context() }
}
