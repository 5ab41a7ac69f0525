//! The register save area of a user thread, as the exception-entry assembly
//! stores it.
//!
//! The layout is shared with `cerne_objects` (each TCB holds one); the
//! offsets used by `vectors.rs` are checked here at compile time. The
//! FP/SIMD registers (V0..V31, FPSR, FPCR) are saved in two areas of the TCB
//! that the object model leaves free, also checked here.

pub use cerne_objects::UserContext;

/// Byte offset of x0 in [`UserContext`].
pub const CTX_X0: usize = 0;
/// Byte offset of SP_EL0.
pub const CTX_SP_EL0: usize = 31 * 8;
/// Byte offset of ELR_EL1.
pub const CTX_ELR: usize = 32 * 8;
/// Byte offset of SPSR_EL1.
pub const CTX_SPSR: usize = 33 * 8;
/// Byte offset of TPIDR_EL0.
pub const CTX_TPIDR: usize = 34 * 8;
/// Byte offset of TPIDRRO_EL0.
pub const CTX_TPIDRRO: usize = 35 * 8;

/// Byte offset, from the context, of the thread's FPSR and FPCR (two words
/// in the gap between the register save area and the TCB's fields).
pub const CTX_FPSR_FPCR: usize = 288;
/// Byte offset, from the context, of the thread's V0..V31 (512 bytes at the
/// end of the TCB, after the thread name).
pub const CTX_FP_REGS: usize = 1536;

// The FP/SIMD save area is the arch layer's part of the TCB: it must not
// overlap anything the object model keeps there.
const _: () = {
    use cerne_objects::layout::*;
    assert!(TCB_CONTEXT_OFFSET == 0);
    assert!(CTX_FPSR_FPCR >= core::mem::size_of::<UserContext>());
    assert!(CTX_FPSR_FPCR + 16 <= TCB_FIELDS_OFFSET as usize);
    assert!(CTX_FP_REGS >= TCB_NAME_OFFSET as usize + TCB_NAME_LEN);
    assert!(CTX_FP_REGS + 32 * 16 <= 1 << cerne_abi::object::TCB_BITS);
};

const _: () = {
    assert!(core::mem::offset_of!(UserContext, x) == CTX_X0);
    assert!(core::mem::offset_of!(UserContext, sp_el0) == CTX_SP_EL0);
    assert!(core::mem::offset_of!(UserContext, elr_el1) == CTX_ELR);
    assert!(core::mem::offset_of!(UserContext, spsr_el1) == CTX_SPSR);
    assert!(core::mem::offset_of!(UserContext, tpidr_el0) == CTX_TPIDR);
    assert!(core::mem::offset_of!(UserContext, tpidrro_el0) == CTX_TPIDRRO);
    assert!(core::mem::size_of::<UserContext>() == 36 * 8);
};
