//! An invocation's error reply (docs/sel4-abi.md §6.1): the seL4_Error in the
//! reply label and the error message registers that come with it.

use cerne_abi::error::Error;
use cerne_abi::Word;

/// Most error words any seL4 error carries (FailedLookup: 1 + 4).
pub const MAX_ERROR_MRS: usize = 8;

/// A failed invocation: the reply label and its message registers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct InvocationError {
    /// The reply label (an seL4_Error value when the kernel is right).
    pub label: Word,
    len: usize,
    mrs: [Word; MAX_ERROR_MRS],
}

impl InvocationError {
    /// An error with `label` and the given words (at most
    /// [`MAX_ERROR_MRS`] are kept).
    pub fn new(label: Word, words: &[Word]) -> Self {
        let len = words.len().min(MAX_ERROR_MRS);
        let mut mrs = [0; MAX_ERROR_MRS];
        mrs[..len].copy_from_slice(&words[..len]);
        Self { label, len, mrs }
    }

    /// The seL4 error, `None` if the label is not one.
    pub fn code(&self) -> Option<Error> {
        Error::from_word(self.label)
    }

    /// The error message registers (as many as the reply's length).
    pub fn mrs(&self) -> &[Word] {
        &self.mrs[..self.len]
    }

    /// True when this is error `code` with exactly the words `mrs`.
    pub fn is(&self, code: Error, mrs: &[Word]) -> bool {
        self.label == code.word() && self.mrs() == mrs
    }
}

impl core::fmt::Debug for InvocationError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.code() {
            Some(e) => write!(f, "{e:?}")?,
            None => write!(f, "label {}", self.label)?,
        }
        write!(f, "{:?}", self.mrs())
    }
}

/// The result of an invocation.
pub type Result<T> = core::result::Result<T, InvocationError>;
