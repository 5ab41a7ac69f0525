//! The loader's first instructions (`_start`), the drop from EL2 to EL1,
//! the exception vector table, and the two Rust functions the assembly
//! calls: the main entry and the exception report.

use core::sync::atomic::{AtomicU64, Ordering};

use cerne_plat::pagetable::SCTLR_EL1_RES1;

/// Exception level QEMU entered the loader at (1, 2 or 3).
static ENTRY_EL: AtomicU64 = AtomicU64::new(0);

/// The exception level the loader was entered at.
pub fn entry_exception_level() -> u64 {
    ENTRY_EL.load(Ordering::Relaxed)
}

// The entry sequence. QEMU jumps here with the MMU and caches off, at EL1
// (`-M virt`) or EL2 (`-M virt,virtualization=on`), x0 = 0 (or a DTB
// address from another boot stage).
//
// 1. The PMU cycle counter is enabled first (PMCR_EL0.E, C, LC;
//    PMCNTENSET_EL0.C; PMCCFILTR_EL0.NSH so EL2 counts too), so that
//    PMCCNTR_EL0 counts (under `-icount shift=0`) instructions since reset.
// 2. At EL2: EL1 becomes AArch64 with nothing trapped (HCR_EL2 = RW), EL1
//    gets the physical counter and timer (CNTHCTL_EL2.EL1PCTEN/EL1PCEN),
//    CNTVOFF_EL2 = 0, no FP/SIMD traps (CPTR_EL2 = RES1 only), no
//    CP15 traps (HSTR_EL2 = 0), the PMU and debug untrapped with all
//    counters for EL1/EL0 (MDCR_EL2.HPMN = PMCR_EL0.N), EL1 sees the real
//    MIDR/MPIDR, stage 2 off, SCTLR_EL1 sane; then ERET to EL1h with DAIF
//    masked.
// 3. DAIF masked, SP_EL1 selected, FP/SIMD untrapped at EL1
//    (CPACR_EL1.FPEN = 0b11: the compiler uses SIMD registers), the stack
//    set, BSS zeroed, then `loader_entry(x0, entry EL)`.
core::arch::global_asm!(
    r#"
    .section .text.entry, "ax"
    .global _start
_start:
    mrs     x9, pmcr_el0
    mov     x10, #0x45
    orr     x9, x9, x10
    msr     pmcr_el0, x9
    mov     x9, #0x80000000
    msr     pmcntenset_el0, x9
    mov     x9, #0x8000000
    msr     pmccfiltr_el0, x9
    isb

    mov     x19, x0
    mrs     x20, CurrentEL
    ubfx    x20, x20, #2, #2
    cmp     x20, #2
    b.ne    1f

    mov     x9, #0x80000000
    msr     hcr_el2, x9
    mrs     x9, cnthctl_el2
    orr     x9, x9, #3
    msr     cnthctl_el2, x9
    msr     cntvoff_el2, xzr
    mov     x9, #0x33ff
    msr     cptr_el2, x9
    msr     hstr_el2, xzr
    mrs     x9, pmcr_el0
    ubfx    x9, x9, #11, #5
    msr     mdcr_el2, x9
    mrs     x9, midr_el1
    msr     vpidr_el2, x9
    mrs     x9, mpidr_el1
    msr     vmpidr_el2, x9
    msr     vttbr_el2, xzr
    ldr     x9, ={sctlr}
    msr     sctlr_el1, x9
    adr     x9, 1f
    msr     elr_el2, x9
    mov     x9, #0x3c5
    msr     spsr_el2, x9
    isb
    eret

1:
    msr     daifset, #0xf
    msr     spsel, #1
    mov     x9, #0x300000
    msr     cpacr_el1, x9
    isb
    cmp     x20, #1
    b.ne    2f
    ldr     x9, ={sctlr}
    msr     sctlr_el1, x9
    isb
2:
    adrp    x9, __stack_top
    add     x9, x9, :lo12:__stack_top
    mov     sp, x9
    adrp    x9, __bss_start
    add     x9, x9, :lo12:__bss_start
    adrp    x10, __bss_end
    add     x10, x10, :lo12:__bss_end
3:
    cmp     x9, x10
    b.hs    4f
    stp     xzr, xzr, [x9], #16
    b       3b
4:
    mov     x0, x19
    mov     x1, x20
    bl      loader_entry
5:
    wfe
    b       5b
    .ltorg

    .section .text.vectors, "ax"
    .balign 2048
    .global loader_vectors
loader_vectors:
    .irp    kind, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
    .balign 128
    mov     x0, #\kind
    b       loader_exception_common
    .endr

loader_exception_common:
    mrs     x1, esr_el1
    mrs     x2, elr_el1
    mrs     x3, far_el1
    mrs     x4, spsr_el1
    adrp    x9, __stack_top
    add     x9, x9, :lo12:__stack_top
    mov     sp, x9
    bl      loader_exception
6:
    wfe
    b       6b
"#,
    sctlr = const SCTLR_EL1_RES1,
);

/// Called by `_start` at EL1 with a stack and zeroed BSS.
#[no_mangle]
extern "C" fn loader_entry(boot_x0: u64, entry_el: u64) -> ! {
    ENTRY_EL.store(entry_el, Ordering::Relaxed);
    super::cpu::install_vectors();
    crate::boot::main(boot_x0)
}

/// Called by the vector table for any exception taken at EL1 while the
/// loader's vectors are installed (also by the kernel before it installs
/// its own).
#[no_mangle]
extern "C" fn loader_exception(kind: u64, esr: u64, elr: u64, far: u64, spsr: u64) -> ! {
    crate::console::exception(kind, esr, elr, far, spsr)
}
