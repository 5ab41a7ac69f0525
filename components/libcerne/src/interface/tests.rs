//! The mechanism on the host: a sample interface served in-process, encode
//! and decode round trips, and random requests that must never make the
//! server panic or answer anything but a well-formed reply.

extern crate std;

use core::cell::RefCell;
use std::vec::Vec;

use proptest::prelude::*;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SampleError {
    Odd,
    Full,
}

impl ServerError for SampleError {
    fn code(self) -> Word {
        match self {
            Self::Odd => FIRST_SERVER_CODE,
            Self::Full => FIRST_SERVER_CODE + 1,
        }
    }
    fn from_code(code: Word) -> Option<Self> {
        [Self::Odd, Self::Full]
            .into_iter()
            .find(|e| e.code() == code)
    }
}

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
struct Number {
    value: u64,
}

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
struct Triple {
    a: u64,
    b: u32,
    c: u16,
    d: u16,
}

crate::interface! {
    /// A sample interface.
    interface sample: SampleError {
        /// Plus one; odd numbers are refused.
        1 => Bump: fn bump(Number) -> Number, idempotent;
        /// Sums a triple.
        2 => Sum: fn sum(Triple) -> Number, idempotent;
        /// Stores bytes from the shared buffer; returns how many so far.
        7 => Store: fn store(BufRange) -> Number, once;
    }
}

struct SampleServer {
    buffer: SharedBuffer,
    stored: Vec<u8>,
}

impl sample::Server for SampleServer {
    fn bump(&mut self, _badge: Word, r: Number) -> Result<Number, SampleError> {
        if r.value % 2 == 1 {
            return Err(SampleError::Odd);
        }
        Ok(Number { value: r.value + 1 })
    }
    fn sum(&mut self, badge: Word, r: Triple) -> Result<Number, SampleError> {
        Ok(Number {
            value: r.a + u64::from(r.b) + u64::from(r.c) + u64::from(r.d) + badge,
        })
    }
    fn store(&mut self, _badge: Word, r: BufRange) -> Result<Number, SampleError> {
        // A bad range is the mechanism's error; the server maps it itself.
        let range = self.buffer.check(r).map_err(|_| SampleError::Full)?;
        let mut bytes = std::vec![0u8; range.len()];
        self.buffer
            .read(range.start, &mut bytes)
            .map_err(|_| SampleError::Full)?;
        self.stored.extend_from_slice(&bytes);
        Ok(Number {
            value: self.stored.len() as u64,
        })
    }
}

/// A transport that calls the server in-process.
struct Direct<'a> {
    server: &'a RefCell<SampleServer>,
    badge: Word,
}

impl Transport for Direct<'_> {
    fn call(&self, label: Word, words: &[Word], reply: &mut [Word; MAX_WORDS]) -> (Word, usize) {
        let r = sample::dispatch(&mut *self.server.borrow_mut(), self.badge, label, words);
        reply[..r.len].copy_from_slice(r.message());
        (r.label, r.len)
    }
}

fn leaked_buffer(len: usize) -> SharedBuffer {
    let memory: &'static mut [u64] = std::vec![0u64; len.div_ceil(8)].leak();
    // SAFETY: leaked, so mapped for ever, and used only through this buffer.
    unsafe { SharedBuffer::new(memory.as_mut_ptr() as usize, len) }
}

fn server(len: usize) -> RefCell<SampleServer> {
    RefCell::new(SampleServer {
        buffer: leaked_buffer(len),
        stored: Vec::new(),
    })
}

#[test]
fn client_calls_come_back_typed() {
    let s = server(64);
    let client = sample::Client::new(Direct {
        server: &s,
        badge: 5,
    });
    assert_eq!(client.bump(Number { value: 4 }), Ok(Number { value: 5 }));
    assert_eq!(
        client.bump(Number { value: 3 }),
        Err(Error::Server(SampleError::Odd))
    );
    let t = Triple {
        a: 1 << 40,
        b: 7,
        c: 9,
        d: 11,
    };
    assert_eq!(
        client.sum(t),
        Ok(Number {
            value: (1 << 40) + 7 + 9 + 11 + 5
        })
    );
}

#[test]
fn bulk_data_goes_through_the_shared_buffer() {
    let s = server(64);
    let buffer = s.borrow().buffer;
    buffer.write(3, b"hello, world").unwrap();
    let client = sample::Client::new(Direct {
        server: &s,
        badge: 1,
    });
    assert_eq!(client.store(BufRange::new(3, 12)), Ok(Number { value: 12 }));
    assert_eq!(s.borrow().stored, b"hello, world");
    // Out of the buffer: refused, nothing stored.
    assert_eq!(
        client.store(BufRange::new(60, 5)),
        Err(Error::Server(SampleError::Full))
    );
    assert_eq!(
        client.store(BufRange::new(u32::MAX, u32::MAX)),
        Err(Error::Server(SampleError::Full))
    );
    assert_eq!(s.borrow().stored.len(), 12);
}

#[test]
fn undecodable_requests_get_protocol_errors() {
    let s = server(8);
    let mut srv = s.borrow_mut();
    let r = sample::dispatch(&mut *srv, 1, 99, &[1]);
    assert_eq!(r.label, ProtocolError::BadLabel.code());
    let r = sample::dispatch(&mut *srv, 1, 1, &[]);
    assert_eq!(r.label, ProtocolError::BadLength.code());
    let r = sample::dispatch(&mut *srv, 1, 1, &[2, 0]);
    assert_eq!(r.label, ProtocolError::BadLength.code());
    let r = sample::dispatch(&mut *srv, 1, 0, &[2]);
    assert_eq!(r.label, ProtocolError::BadLabel.code());
}

#[test]
fn operations_say_whether_they_are_idempotent() {
    assert!(sample::Op::Bump.idempotent());
    assert!(sample::Op::Sum.idempotent());
    assert!(!sample::Op::Store.idempotent());
    assert_eq!(sample::Op::from_label(7), Some(sample::Op::Store));
    assert_eq!(sample::Op::from_label(3), None);
    assert_eq!(sample::Op::Sum.request_words(), 2);
}

#[test]
fn unknown_reply_labels_are_reported() {
    let r: Result<Number, Error<SampleError>> = reply_result(1000, &[]);
    assert_eq!(r, Err(Error::Protocol(ProtocolError::UnknownReply)));
    let r: Result<Number, Error<SampleError>> = reply_result(0, &[1, 2]);
    assert_eq!(r, Err(Error::Protocol(ProtocolError::UnknownReply)));
    let r: Result<Number, Error<SampleError>> = reply_result(3, &[]);
    assert_eq!(r, Err(Error::Protocol(ProtocolError::BadBuffer)));
}

fn cases() -> u32 {
    std::env::var("CERNE_PROOF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Encode then decode gives the value back, for every request.
    #[test]
    fn encode_decode_round_trip(a in any::<u64>(), b in any::<u32>(), c in any::<u16>(), d in any::<u16>(), off in any::<u32>(), len in any::<u32>()) {
        for request in [
            sample::Request::Bump(Number { value: a }),
            sample::Request::Sum(Triple { a, b, c, d }),
            sample::Request::Store(BufRange::new(off, len)),
        ] {
            let mut words = [0; MAX_WORDS];
            let (label, used) = request.encode(&mut words);
            prop_assert_eq!(sample::Request::decode(label, &words[..used]), Ok(request));
            prop_assert_eq!(used, request.op().request_words());
        }
    }

    /// Any label and any words: the server answers (never panics), with
    /// success only for a well-formed request, and a reply that fits.
    #[test]
    fn random_requests_never_break_the_server(label in 0u64..12, words in proptest::collection::vec(any::<u64>(), 0..=MAX_WORDS)) {
        let s = server(32);
        let decoded = sample::Request::decode(label, &words);
        let reply = sample::dispatch(&mut *s.borrow_mut(), 3, label, &words);
        prop_assert!(reply.len <= MAX_WORDS);
        match decoded {
            Err(e) => prop_assert_eq!(reply.label, e.code()),
            Ok(_) => prop_assert!(reply.label == 0 || reply.label >= FIRST_SERVER_CODE),
        }
        // The server still serves a good request afterwards.
        let good = sample::dispatch(&mut *s.borrow_mut(), 3, 1, &[8]);
        prop_assert_eq!(good.label, 0);
        prop_assert_eq!(good.message(), &[9u64][..]);
    }

    /// check() accepts exactly the ranges inside the buffer; read/write
    /// copy exactly those bytes.
    #[test]
    fn buffer_ranges(size in 0usize..200, offset in any::<u32>(), len in 0u32..300, seed in any::<u8>()) {
        let buffer = leaked_buffer(size);
        let inside = (offset as u64 + len as u64) <= size as u64;
        let r = BufRange::new(offset, len);
        prop_assert_eq!(buffer.check(r).is_ok(), inside);
        let data: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
        prop_assert_eq!(buffer.write(offset as usize, &data).is_ok(), inside);
        let mut back = std::vec![0u8; len as usize];
        prop_assert_eq!(buffer.read(offset as usize, &mut back).is_ok(), inside);
        if inside {
            prop_assert_eq!(back, data);
        }
    }
}

/// A transport whose server "restarts" before answering the first
/// `failures` calls: those answers are ProtocolError::Restarted, as the
/// restarted server's runtime gives them.
struct Restarting<'a> {
    inner: Direct<'a>,
    failures: core::cell::Cell<usize>,
    calls: core::cell::Cell<usize>,
}

impl Transport for Restarting<'_> {
    fn call(&self, label: Word, words: &[Word], reply: &mut [Word; MAX_WORDS]) -> (Word, usize) {
        self.calls.set(self.calls.get() + 1);
        if self.failures.get() > 0 {
            self.failures.set(self.failures.get() - 1);
            return (ProtocolError::Restarted.code(), 0);
        }
        self.inner.call(label, words, reply)
    }
}

#[test]
fn idempotent_operations_are_reissued_to_a_restarted_server_and_others_report_it() {
    let s = server(64);
    let restarting = |failures| Restarting {
        inner: Direct {
            server: &s,
            badge: 0,
        },
        failures: core::cell::Cell::new(failures),
        calls: core::cell::Cell::new(0),
    };
    // Idempotent: carried out by the restarted server, the caller sees
    // only the answer.
    let client = sample::Client::new(restarting(2));
    assert_eq!(client.bump(Number { value: 4 }), Ok(Number { value: 5 }));
    assert_eq!(client.transport().calls.get(), 3);
    // Not idempotent: reported, not re-issued, nothing stored.
    let client = sample::Client::new(restarting(1));
    assert_eq!(
        client.store(BufRange::new(0, 4)),
        Err(Error::Protocol(ProtocolError::Restarted))
    );
    assert_eq!(client.transport().calls.get(), 1);
    assert!(s.borrow().stored.is_empty());
    // A server that restarts on every try: reported after the retries.
    let client = sample::Client::new(restarting(usize::MAX));
    assert_eq!(
        client.bump(Number { value: 4 }),
        Err(Error::Protocol(ProtocolError::Restarted))
    );
    assert_eq!(
        client.transport().calls.get(),
        1 + crate::interface::RESTART_RETRIES
    );
    assert_eq!(
        ProtocolError::from_code(ProtocolError::Unavailable.code()),
        Some(ProtocolError::Unavailable)
    );
}
