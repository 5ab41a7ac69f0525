//! Lazy FP/SIMD switching, seL4's FPU-owner scheme.
//!
//! The CPU's V0..V31, FPSR and FPCR hold the state of one thread, the FPU
//! owner (`Kernel::fpu_owner`, 0 for none); every other thread's state is
//! in its TCB (`arch::context::CTX_FP_REGS`, `CTX_FPSR_FPCR`). The kernel
//! is built for a target without FP/SIMD code (`aarch64-unknown-none-
//! softfloat`), so kernel entries leave the registers alone. A return to
//! EL0 lets the thread use FP/SIMD only if it is the owner (and its
//! seL4_TCBFlag_fpuDisabled is clear); any other thread traps (ESR class
//! 0x07) on its first FP/SIMD instruction, and [`take_ownership`] then
//! saves the owner's registers into the owner's TCB, loads the thread's
//! own, makes it the owner, and returns to the same instruction. A thread
//! that never touches FP/SIMD costs nothing on its switches.
//!
//! The object model releases ownership when it deletes the owner's TCB
//! (seL4's `fpuRelease`): its registers then belong to no one and are
//! never saved, and the next thread to trap loads its own. Suspend and
//! WriteRegisters do not touch FP/SIMD state: the registers stay the
//! owner's, live or saved.

use crate::arch::{self, vectors};
use cerne_abi::tcb::TCB_FLAG_FPU_DISABLED;
use cerne_objects::Kernel;

/// ESR_EL1 exception class: an FP/SIMD access trapped by CPACR_EL1.FPEN.
pub const EC_FP_TRAP: u64 = 0x07;

/// True when thread `t` may use FP/SIMD: its seL4_TCBFlag_fpuDisabled is
/// clear. (A thread with the flag set that traps gets a UserException
/// fault, as in seL4.)
pub fn enabled_for(k: &Kernel<'_>, t: u64) -> bool {
    k.tcb_flags(t) & TCB_FLAG_FPU_DISABLED == 0
}

/// Makes the current thread `t`, which trapped on an FP/SIMD access, the
/// FPU owner: the previous owner's registers go to its TCB, `t`'s come
/// from its own. EL0 access is enabled by the exit (`sched`), since `t` is
/// now the owner.
pub fn take_ownership(k: &mut Kernel<'_>, t: u64) {
    let owner = k.fpu_owner();
    if owner == t {
        return;
    }
    if owner != 0 {
        // SAFETY: `owner` is a live TCB (the object model clears the owner
        // when it deletes that TCB); its context address is in the kernel
        // window; EL1 FP/SIMD access is always enabled.
        unsafe { vectors::fpu_save(k.user_context_vaddr(owner)) };
    }
    // SAFETY: `t` is the current thread, a live TCB; as above.
    unsafe { vectors::fpu_restore(k.user_context_vaddr(t)) };
    k.set_fpu_owner(t);
}

/// Sets EL0's FP/SIMD access for running thread `t` (done on every exit;
/// the arch layer writes CPACR_EL1 only when the value changes).
pub fn prepare_exit(k: &Kernel<'_>, t: u64) {
    arch::set_user_fpu(k.fpu_owner() == t && enabled_for(k, t));
}
