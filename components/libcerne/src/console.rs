//! The console protocol between a console driver and its clients, over an
//! endpoint with Call / ReplyRecv (docs/systems.md):
//!
//! | label | request words | reply words |
//! |---|---|---|
//! | [`WRITE`] | byte count, then the bytes packed 8 per word (little-endian) | bytes written |
//! | [`READ`] | (none) | byte count, then the bytes packed — blocks until at least one byte has arrived |
//!
//! A reply with a label other than 0 is an error: [`BUSY`] when another
//! client is already waiting to read.

use cerne_abi::Word;

/// Write bytes to the console.
pub const WRITE: Word = 1;
/// Read the bytes typed since the last read (blocking until one arrives).
pub const READ: Word = 2;
/// Reply label: another reader is already waiting.
pub const BUSY: Word = 1;
/// Reply label: the request's label or length is not valid.
pub const INVALID: Word = 2;
/// Most bytes in one message.
pub const CHUNK_BYTES: usize = 8 * CHUNK_WORDS;
/// Words of packed bytes in one message (after the count word).
pub const CHUNK_WORDS: usize = 15;

/// Packs up to [`CHUNK_BYTES`] of `bytes` into `words` (count first);
/// returns (bytes taken, words used).
pub fn pack(bytes: &[u8], words: &mut [Word; 1 + CHUNK_WORDS]) -> (usize, usize) {
    let n = bytes.len().min(CHUNK_BYTES);
    words[0] = n as Word;
    for (i, chunk) in bytes[..n].chunks(8).enumerate() {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        words[1 + i] = Word::from_le_bytes(w);
    }
    (n, 1 + n.div_ceil(8))
}

/// Unpacks a message whose word `i` is `word(i)` into `out`; returns the
/// bytes written (at most the count word, `out.len()` and [`CHUNK_BYTES`]).
pub fn unpack(word: impl Fn(usize) -> Word, out: &mut [u8]) -> usize {
    let n = (word(0) as usize).min(out.len()).min(CHUNK_BYTES);
    for (i, b) in out[..n].iter_mut().enumerate() {
        *b = word(1 + i / 8).to_le_bytes()[i % 8];
    }
    n
}

/// A client's handle on the console: an endpoint cap that may Call.
#[cfg(target_arch = "aarch64")]
#[derive(Clone, Copy)]
pub struct Console(pub crate::sel4::Cap<crate::sel4::Endpoint>);

#[cfg(target_arch = "aarch64")]
impl Console {
    /// The console behind the endpoint cap at `cptr`.
    pub const fn new(cptr: Word) -> Self {
        Self(crate::sel4::Cap::from_cptr(cptr))
    }

    /// Writes all of `bytes`.
    pub fn write(&self, mut bytes: &[u8]) {
        let mut words = [0; 1 + CHUNK_WORDS];
        while !bytes.is_empty() {
            let (taken, used) = pack(bytes, &mut words);
            let _ = self.0.call(WRITE, &words[..used], &[]);
            bytes = &bytes[taken..];
        }
    }

    /// Waits for typed bytes and copies them into `out`; returns how many.
    /// `Err(label)` when the driver refused (see [`BUSY`]).
    pub fn read(&self, out: &mut [u8]) -> Result<usize, Word> {
        let reply = self.0.call(READ, &[], &[]);
        if reply.label() != 0 {
            return Err(reply.label());
        }
        Ok(unpack(|i| reply.mr(i), out))
    }
}

#[cfg(target_arch = "aarch64")]
impl core::fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.write(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_unpack_round_trip() {
        for len in [0usize, 1, 7, 8, 9, 64, CHUNK_BYTES, CHUNK_BYTES + 5] {
            let mut all = [0u8; CHUNK_BYTES + 5];
            for (i, b) in all.iter_mut().enumerate() {
                *b = (i * 7 + 1) as u8;
            }
            let bytes = &all[..len];
            let mut words = [0; 1 + CHUNK_WORDS];
            let (taken, used) = pack(bytes, &mut words);
            assert_eq!(taken, len.min(CHUNK_BYTES));
            assert_eq!(used, 1 + taken.div_ceil(8));
            let mut out = [0u8; CHUNK_BYTES];
            let n = unpack(|i| words[i], &mut out);
            assert_eq!(&out[..n], &bytes[..taken]);
        }
    }

    #[test]
    fn unpack_never_trusts_the_count() {
        let mut out = [0u8; 4];
        assert_eq!(
            unpack(
                |i| if i == 0 { u64::MAX } else { 0x4142434445464748 },
                &mut out
            ),
            4
        );
        assert_eq!(&out, b"HGFE");
    }
}
