//! The console protocol between a console driver and its clients
//! (docs/interfaces.md), defined with [`crate::interface!`]: the bytes
//! travel through the buffer each client shares with the driver alone (the
//! `console` channel's `buffer`), never in message words.
//!
//! | label | operation | request | reply |
//! |---|---|---|---|
//! | 1 | `write` | [`BufRange`] of the client's buffer to print | [`Count`]: bytes printed |
//! | 2 | `read` | [`BufRange`] to fill with typed bytes | [`Typed`]: bytes stored, and when the first of them arrived — the reply waits until at least one byte was typed |
//!
//! Errors: [`ConsoleError::Busy`] when too many clients are already waiting
//! to read, [`ConsoleError::BadBuffer`] for a range outside the client's
//! buffer (or a client with none).

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

pub use crate::interface::BufRange;
use crate::interface::{ServerError, Word, FIRST_SERVER_CODE};

/// A byte count.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Count {
    /// Bytes.
    pub bytes: u64,
}

/// `read`'s answer.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Typed {
    /// Bytes stored.
    pub bytes: u64,
    /// The virtual counter (CNTVCT_EL0, [`crate::generic_timer`]) when the
    /// driver received the first of them: how long the reader took to get
    /// the CPU after the key was pressed is the counter now minus this.
    pub typed_at: u64,
}

/// What the console driver refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleError {
    /// Another client is already waiting to read.
    Busy,
    /// The range is not inside the buffer this client shares with the
    /// driver, or the client has no buffer.
    BadBuffer,
}

impl ServerError for ConsoleError {
    fn code(self) -> Word {
        match self {
            Self::Busy => FIRST_SERVER_CODE,
            Self::BadBuffer => FIRST_SERVER_CODE + 1,
        }
    }
    fn from_code(code: Word) -> Option<Self> {
        [Self::Busy, Self::BadBuffer]
            .into_iter()
            .find(|e| e.code() == code)
    }
}

crate::interface! {
    /// The console interface.
    pub interface protocol: ConsoleError {
        /// Prints bytes from the client's buffer.
        1 => Write: fn write(BufRange) -> Count, once;
        /// Waits for typed bytes and stores them in the client's buffer.
        2 => Read: fn read(BufRange) -> Typed, once;
    }
}

/// A client's handle on the console: the endpoint and the buffer shared
/// with the driver.
#[cfg(target_arch = "aarch64")]
#[derive(Clone, Copy)]
pub struct Console {
    client: protocol::Client<crate::sel4::Cap<crate::sel4::Endpoint>>,
    buffer: crate::interface::SharedBuffer,
}

#[cfg(target_arch = "aarch64")]
impl Console {
    /// The console behind the endpoint cap at `cptr`, with the buffer of
    /// `size` bytes mapped at `buffer` (the generated
    /// `addrs::CONSOLE_BUFFER` and `addrs::CONSOLE_BUFFER_SIZE`).
    pub fn new(cptr: Word, buffer: usize, size: usize) -> Self {
        Self {
            client: protocol::Client::new(crate::sel4::Cap::from_cptr(cptr)),
            // SAFETY: the description maps the channel's buffer read-write
            // for the whole run, and a program reaches it only through its
            // Console.
            buffer: unsafe { crate::interface::SharedBuffer::new(buffer, size) },
        }
    }

    /// Writes all of `bytes` (nothing when the driver refuses).
    pub fn write(&self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let n = bytes.len().min(self.buffer.len());
            if n == 0 || self.buffer.write(0, &bytes[..n]).is_err() {
                return;
            }
            if self.client.write(BufRange::new(0, n as u32)).is_err() {
                return;
            }
            bytes = &bytes[n..];
        }
    }

    /// Waits for typed bytes and copies them into `out`; returns how many.
    pub fn read(&self, out: &mut [u8]) -> Result<usize, crate::interface::Error<ConsoleError>> {
        self.read_timed(out).map(|(n, _)| n)
    }

    /// As [`Console::read`], with the virtual counter when the first byte
    /// arrived at the driver.
    pub fn read_timed(
        &self,
        out: &mut [u8],
    ) -> Result<(usize, u64), crate::interface::Error<ConsoleError>> {
        let want = out.len().min(self.buffer.len()) as u32;
        let got = self.client.read(BufRange::new(0, want))?;
        let n = (got.bytes as usize).min(want as usize);
        self.buffer.read(0, &mut out[..n])?;
        Ok((n, got.typed_at))
    }
}

#[cfg(target_arch = "aarch64")]
impl core::fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        Console::write(self, s.as_bytes());
        Ok(())
    }
}

/// The console of the component being built, from its generated constants
/// (`caps::CONSOLE`, `addrs::CONSOLE_BUFFER`, `addrs::CONSOLE_BUFFER_SIZE`).
#[macro_export]
macro_rules! console {
    () => {
        $crate::console::Console::new(
            caps::CONSOLE,
            addrs::CONSOLE_BUFFER,
            addrs::CONSOLE_BUFFER_SIZE,
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interface::{ProtocolError, MAX_WORDS};

    #[test]
    fn requests_round_trip() {
        let r = protocol::Request::Write(BufRange::new(5, 77));
        let mut words = [0; MAX_WORDS];
        let (label, used) = r.encode(&mut words);
        assert_eq!((label, used), (1, 1));
        assert_eq!(protocol::Request::decode(label, &words[..used]), Ok(r));
        assert_eq!(
            protocol::Request::decode(3, &words[..used]),
            Err(ProtocolError::BadLabel)
        );
    }

    #[test]
    fn error_codes_are_distinct_and_round_trip() {
        for e in [ConsoleError::Busy, ConsoleError::BadBuffer] {
            assert!(e.code() >= FIRST_SERVER_CODE);
            assert_eq!(ConsoleError::from_code(e.code()), Some(e));
        }
        assert_ne!(ConsoleError::Busy.code(), ConsoleError::BadBuffer.code());
    }
}
