//! Everything that can stop the loader, each with the message it prints.

use core::fmt;

use cerne_plat::pagetable::MapError;
use cerne_plat::region::Region;

/// A physical access outside the loader's RAM window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutsideWindow {
    /// The range asked for.
    pub range: Region,
    /// The window at the time.
    pub window: Region,
}

/// Why the loader stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The CPU entered at an exception level the loader cannot run at.
    UnsupportedExceptionLevel(u64),
    /// The device tree could not be parsed.
    DeviceTree(&'static str),
    /// The device tree lacks something the kernel needs.
    Platform(cerne_plat::memmap::PlatformError),
    /// The DTB does not lie in a RAM bank its `/memory` node lists.
    DtbOutsideRam(u64),
    /// An embedded ELF image is malformed or unsuitable.
    Elf {
        /// `kernel` or `root task`.
        image: &'static str,
        /// What is wrong.
        what: &'static str,
    },
    /// The kernel's virtual range does not fit one 1 GiB slot.
    KernelSlot {
        /// Lowest virtual address.
        first: u64,
        /// One past the highest.
        end: u64,
    },
    /// Something would not fit where it must go.
    Placement {
        /// What was being placed.
        what: &'static str,
        /// Where it would go.
        range: Region,
        /// Where it had to fit (RAM below the loader).
        room: Region,
    },
    /// The root task's program headers do not fit the page after it.
    ProgramHeaders(u64),
    /// A physical access outside the loader's RAM window.
    Memory(OutsideWindow),
    /// Building the translation tables failed.
    PageTables(&'static str, MapError),
    /// A loader bug: an invariant of its own did not hold.
    Internal(&'static str),
}

impl From<OutsideWindow> for Error {
    fn from(e: OutsideWindow) -> Self {
        Error::Memory(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnsupportedExceptionLevel(el) => {
                write!(f, "entered at EL{el}; the loader runs from EL2 or EL1 only")
            }
            Error::DeviceTree(what) => write!(f, "device tree: {what}"),
            Error::Platform(e) => write!(f, "device tree: {e}"),
            Error::DtbOutsideRam(at) => write!(
                f,
                "the DTB at {at:#x} is not inside any RAM bank its /memory node lists"
            ),
            Error::Elf { image, what } => write!(f, "{image} ELF: {what}"),
            Error::KernelSlot { first, end } => write!(
                f,
                "kernel virtual range {first:#x}..{end:#x} is not inside one 1 GiB slot"
            ),
            Error::Placement { what, range, room } => write!(
                f,
                "{what} at {:#x}..{:#x} does not fit in {:#x}..{:#x}, the RAM below the \
                 loader (images too large, or too little RAM)",
                range.base,
                range.end(),
                room.base,
                room.end(),
            ),
            Error::ProgramHeaders(bytes) => write!(
                f,
                "root task program headers need {bytes} bytes, more than the 4 KiB page after it"
            ),
            Error::Memory(e) => write!(
                f,
                "physical access {:#x}..{:#x} outside the loader's window {:#x}..{:#x}",
                e.range.base,
                e.range.end(),
                e.window.base,
                e.window.end()
            ),
            Error::PageTables(what, e) => write!(f, "page tables for {what}: {e:?}"),
            Error::Internal(what) => write!(f, "internal: {what}"),
        }
    }
}
