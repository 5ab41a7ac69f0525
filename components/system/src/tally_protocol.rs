//! The tally interface of the tutorial (docs/tutorial.md), shared by its
//! server (`tally`) and its client (`adder`): one operation that adds an
//! amount to one of the server's slots and answers the slot's new total.

use libcerne::interface::{ServerError, Word, FIRST_SERVER_CODE};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// What the server refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TallyError {
    /// The server has no such slot.
    NoSuchSlot,
    /// The total would overflow.
    Overflow,
}

impl ServerError for TallyError {
    fn code(self) -> Word {
        match self {
            Self::NoSuchSlot => FIRST_SERVER_CODE,
            Self::Overflow => FIRST_SERVER_CODE + 1,
        }
    }
    fn from_code(code: Word) -> Option<Self> {
        [Self::NoSuchSlot, Self::Overflow]
            .into_iter()
            .find(|e| e.code() == code)
    }
}

/// `add`'s request.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Amount {
    /// Which slot.
    pub slot: u64,
    /// How much to add.
    pub amount: u64,
}

/// `add`'s answer.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Total {
    /// The slot's total after the addition.
    pub total: u64,
}

libcerne::interface! {
    /// Running totals kept by a server.
    pub interface tally: TallyError {
        /// Adds `amount` to slot `slot`; answers the new total.
        1 => Add: fn add(Amount) -> Total, once;
    }
}
