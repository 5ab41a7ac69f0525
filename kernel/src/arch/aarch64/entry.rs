//! The kernel's entry point and the one kernel stack.
//!
//! The loader (Cerne's or seL4's elfloader) jumps to `_start` at EL1 with the
//! MMU on, the kernel image mapped at its link address through TTBR1, and the
//! hand-off of docs/sel4-abi.md §10.1 in x0..x5. `_start` masks interrupts, selects
//! SP_EL1, zeroes BSS and calls [`crate::boot::kernel_init`] on the kernel
//! stack.

/// Size of the single kernel stack (uniprocessor: one is enough).
pub const KERNEL_STACK_SIZE: usize = 16 * 1024;

/// Size of the stack used to report a kernel stack overflow.
pub const EMERGENCY_STACK_SIZE: usize = 4096;

/// Where the exception vectors move SP when a kernel exception finds it in
/// the guard page below [`KERNEL_STACK`] (an overflow): enough to print the
/// report and halt.
#[unsafe(no_mangle)]
pub static mut EMERGENCY_STACK: KernelStackSmall = KernelStackSmall([0; EMERGENCY_STACK_SIZE]);

/// The emergency stack's storage.
#[repr(C, align(16))]
pub struct KernelStackSmall(pub [u8; EMERGENCY_STACK_SIZE]);

/// The kernel stack, 16-byte aligned as AArch64 requires.
#[repr(C, align(4096))]
pub struct KernelStack(pub [u8; KERNEL_STACK_SIZE]);

/// The stack itself, in its own section right above an unmapped guard page
/// (kernel.ld); the entry code points SP at its end.
#[unsafe(no_mangle)]
#[unsafe(link_section = ".kernel_stack")]
pub static mut KERNEL_STACK: KernelStack = KernelStack([0; KERNEL_STACK_SIZE]);

core::arch::global_asm!(
    r#"
    .section .text.boot, "ax"
    .global _start
_start:
    msr     daifset, #0xf
    msr     spsel, #1
    mov     x19, x0
    mov     x20, x1
    mov     x21, x2
    mov     x22, x3
    mov     x23, x4
    mov     x24, x5
    adrp    x9, __bss_start
    add     x9, x9, :lo12:__bss_start
    adrp    x10, __bss_end
    add     x10, x10, :lo12:__bss_end
    // BSS is 64-byte aligned at both ends (kernel.ld).
1:  cmp     x9, x10
    b.hs    2f
    stp     xzr, xzr, [x9]
    stp     xzr, xzr, [x9, #16]
    stp     xzr, xzr, [x9, #32]
    stp     xzr, xzr, [x9, #48]
    add     x9, x9, #64
    b       1b
2:  adrp    x9, KERNEL_STACK
    add     x9, x9, :lo12:KERNEL_STACK
    add     x9, x9, #{stack_size}
    mov     sp, x9
    mov     x0, x19
    mov     x1, x20
    mov     x2, x21
    mov     x3, x22
    mov     x4, x23
    mov     x5, x24
    bl      kernel_init
3:  wfe
    b       3b
"#,
    stack_size = const KERNEL_STACK_SIZE,
);
