//! The register save area of a user thread, as the exception-entry assembly
//! stores it.
//!
//! The layout is shared with `cerne_objects` (each TCB holds one); the
//! offsets used by `vectors.rs` are checked here at compile time.

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

const _: () = {
    assert!(core::mem::offset_of!(UserContext, x) == CTX_X0);
    assert!(core::mem::offset_of!(UserContext, sp_el0) == CTX_SP_EL0);
    assert!(core::mem::offset_of!(UserContext, elr_el1) == CTX_ELR);
    assert!(core::mem::offset_of!(UserContext, spsr_el1) == CTX_SPSR);
    assert!(core::mem::offset_of!(UserContext, tpidr_el0) == CTX_TPIDR);
    assert!(core::mem::offset_of!(UserContext, tpidrro_el0) == CTX_TPIDRRO);
    assert!(core::mem::size_of::<UserContext>() == 36 * 8);
};
