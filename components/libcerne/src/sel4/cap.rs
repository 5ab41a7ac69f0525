//! Typed capability pointers (docs/design.md §5): `Cap<Endpoint>` offers only
//! what an endpoint cap can do. The type is a promise of the program, not
//! of the kernel: [`Cap::cast`] re-types a cptr, which is how one invokes a
//! cap as the wrong type on purpose (the kernel must then refuse).

use cerne_abi::{CPtr, Word};
use core::marker::PhantomData;

/// A cptr that names a cap of kind `T` in the caller's CSpace.
pub struct Cap<T> {
    cptr: CPtr,
    _kind: PhantomData<T>,
}

impl<T> Clone for Cap<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Cap<T> {}
impl<T> PartialEq for Cap<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cptr == other.cptr
    }
}
impl<T> Eq for Cap<T> {}
impl<T> core::fmt::Debug for Cap<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Cap({:#x})", self.cptr)
    }
}

impl<T> Cap<T> {
    /// The cap at `cptr`.
    pub const fn from_cptr(cptr: CPtr) -> Self {
        Self {
            cptr,
            _kind: PhantomData,
        }
    }

    /// Its cptr.
    pub const fn cptr(self) -> CPtr {
        self.cptr
    }

    /// The same cptr seen as a cap of another kind.
    pub const fn cast<U>(self) -> Cap<U> {
        Cap::from_cptr(self.cptr)
    }

    /// DebugCapIdentify: the type tag the kernel holds in that slot.
    pub fn identify(self) -> Word {
        super::syscall::debug_cap_identify(self.cptr)
    }
}

macro_rules! kinds {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        $($(#[$doc])* #[derive(Debug)] pub enum $name {})*
    };
}

kinds! {
    /// Untyped memory.
    Untyped,
    /// A CNode (seL4_CNode).
    CNode,
    /// A thread control block.
    Tcb,
    /// A synchronous endpoint.
    Endpoint,
    /// A notification.
    Notification,
    /// A saved reply cap.
    Reply,
    /// IRQControl.
    IrqControl,
    /// An IRQ handler.
    IrqHandler,
    /// An SGI signal.
    SgiSignal,
    /// The DomainSet cap.
    DomainSet,
    /// A top-level translation table (seL4_ARM_VSpace).
    VSpace,
    /// A non-root page table (seL4_ARM_PageTable).
    PageTable,
    /// A frame of any size (seL4_ARM_Page).
    Frame,
    /// ASIDControl.
    AsidControl,
    /// An ASID pool.
    AsidPool,
    /// A cap whose kind the program does not claim to know.
    Unknown,
}
