//! Diagnostics: one error of the parser or the validator, with the place in
//! the source it names (`file:line:col: message`).

use core::fmt;

use crate::model::Origin;

/// One error, printed as `file:line:col: message` (or `file: message` when
/// the item has no source position, e.g. a spec built by a tool).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file name the caller gave.
    pub file: String,
    /// 1-based line; 0 when unknown.
    pub line: u32,
    /// 1-based column (in characters); 0 when unknown.
    pub column: u32,
    /// What was expected, or what is wrong.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic at `origin` in `file`.
    pub fn at(file: &str, origin: Origin, message: impl Into<String>) -> Self {
        Self {
            file: file.to_string(),
            line: origin.line,
            column: origin.column,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

impl std::error::Error for Diagnostic {}
