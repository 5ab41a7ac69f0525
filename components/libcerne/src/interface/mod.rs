//! One way to define an interface between components (docs/interfaces.md).
//!
//! An interface is a list of operations, each with a label, a request type
//! and a reply type. Both types are plain structs that `zerocopy` can view
//! as bytes (`FromBytes + IntoBytes + Immutable + KnownLayout`, a size that
//! is a multiple of 8): they travel as message words, the request in the
//! Call and the reply in the answer. From one [`interface!`] invocation come
//!
//! * `Request`, an enum of every operation's request, with `decode` (label
//!   and words to a request, or a [`ProtocolError`]) and `encode`;
//! * `Op`, the labels, with `Op::idempotent()` per operation: an operation
//!   is idempotent when carrying it out twice has the effect of once, so a
//!   client may re-issue it to a restarted server;
//! * `Server`, a trait with one method per operation, and `dispatch`, which
//!   decodes a message, calls the method and encodes its answer;
//! * `Client`, with one method per operation that calls the server through
//!   a [`Transport`] and returns `Result<Reply, Error<E>>`.
//!
//! Reply label 0 means success and carries the reply struct. Labels
//! 1..[`FIRST_SERVER_CODE`] are the mechanism's own [`ProtocolError`]s (a
//! request that cannot be decoded); labels from [`FIRST_SERVER_CODE`] up
//! are the interface's error type `E` ([`ServerError`]).
//!
//! Request and reply types must also be `Clone + Copy + Debug + PartialEq`.
//!
//! Bulk data never travels in message words: the two parties share a
//! buffer (a channel's `buffer` in the system description, mapped by the
//! server and that client alone), and requests name a [`BufRange`] of it,
//! which the server checks against the buffer's size before it copies a
//! byte ([`SharedBuffer`]).

use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};

pub use zerocopy;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// A message word.
pub type Word = u64;

/// Most words a request or a reply may take: 4 travel in registers, the
/// rest in the IPC buffer.
pub const MAX_WORDS: usize = 16;

/// The first reply label that carries an interface's own error.
pub const FIRST_SERVER_CODE: Word = 16;

/// Why a server could not even decode a request. These are reply labels
/// 1..=15, the same for every interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum ProtocolError {
    /// No operation has this label.
    BadLabel = 1,
    /// The message is not as long as the operation's request.
    BadLength = 2,
    /// A range of the shared buffer runs outside it.
    BadBuffer = 3,
    /// The server shares no buffer with this client.
    NoBuffer = 4,
    /// The server answered with a label this client does not know.
    UnknownReply = 5,
    /// The server failed and was restarted before it answered: the request
    /// may or may not have been carried out (docs/supervisor.md). The
    /// client re-issues an idempotent operation itself; this reaches the
    /// caller only for the others, or when the server kept restarting.
    Restarted = 6,
    /// The server is held stopped after failing too often: its supervisor
    /// answers for it.
    Unavailable = 7,
}

impl ProtocolError {
    /// The reply label.
    pub const fn code(self) -> Word {
        self as Word
    }

    /// The error of reply label `code`, if it is one of the mechanism's.
    pub const fn from_code(code: Word) -> Option<Self> {
        Some(match code {
            1 => Self::BadLabel,
            2 => Self::BadLength,
            3 => Self::BadBuffer,
            4 => Self::NoBuffer,
            5 => Self::UnknownReply,
            6 => Self::Restarted,
            7 => Self::Unavailable,
            _ => return None,
        })
    }
}

/// An interface's own error type: each value has a stable reply label of
/// [`FIRST_SERVER_CODE`] or more.
pub trait ServerError: Sized + Copy {
    /// The reply label (at least [`FIRST_SERVER_CODE`]).
    fn code(self) -> Word;
    /// The error of reply label `code`.
    fn from_code(code: Word) -> Option<Self>;
}

/// What a client's call can end in besides success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error<E> {
    /// The server could not decode the request (or the answer was not
    /// understood).
    Protocol(ProtocolError),
    /// The server carried the request out and refused it.
    Server(E),
}

impl<E> From<ProtocolError> for Error<E> {
    fn from(e: ProtocolError) -> Self {
        Self::Protocol(e)
    }
}

/// Words a value of `bytes` bytes takes.
pub const fn words_for(bytes: usize) -> usize {
    bytes.div_ceil(8)
}

/// A request or reply type: viewable as bytes, at most [`MAX_WORDS`] words.
pub trait Wire: FromBytes + IntoBytes + Immutable + KnownLayout + Sized {}
impl<T: FromBytes + IntoBytes + Immutable + KnownLayout + Sized> Wire for T {}

/// Encodes `value` into `out`; returns the words used.
pub fn encode<T: Wire>(value: &T, out: &mut [Word; MAX_WORDS]) -> usize {
    let bytes = value.as_bytes();
    let used = words_for(bytes.len()).min(MAX_WORDS);
    for (i, word) in out.iter_mut().take(used).enumerate() {
        let mut w = [0u8; 8];
        let start = i * 8;
        let end = (start + 8).min(bytes.len());
        w[..end - start].copy_from_slice(&bytes[start..end]);
        *word = Word::from_le_bytes(w);
    }
    used
}

/// Decodes a `T` from exactly its number of words.
pub fn decode<T: Wire>(words: &[Word]) -> Result<T, ProtocolError> {
    let size = core::mem::size_of::<T>();
    if words.len() != words_for(size) {
        return Err(ProtocolError::BadLength);
    }
    let mut bytes = [0u8; MAX_WORDS * 8];
    for (i, w) in words.iter().enumerate() {
        bytes[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    T::read_from_bytes(&bytes[..size]).map_err(|_| ProtocolError::BadLength)
}

/// A server's answer: the label (0 for success) and the reply words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    /// 0, a [`ProtocolError`] code, or a server error code.
    pub label: Word,
    /// The reply struct's words (for label 0).
    pub words: [Word; MAX_WORDS],
    /// How many of `words` are sent.
    pub len: usize,
}

impl Reply {
    /// A successful reply carrying `value`.
    pub fn ok<T: Wire>(value: &T) -> Self {
        let mut words = [0; MAX_WORDS];
        let len = encode(value, &mut words);
        Self {
            label: 0,
            words,
            len,
        }
    }

    /// A reply of error label `label` and no words.
    pub const fn error(label: Word) -> Self {
        Self {
            label,
            words: [0; MAX_WORDS],
            len: 0,
        }
    }

    /// The reply for a server method's result.
    pub fn of<T: Wire, E: ServerError>(result: Result<T, E>) -> Self {
        match result {
            Ok(v) => Self::ok(&v),
            Err(e) => Self::error(e.code()),
        }
    }

    /// The words to send.
    pub fn message(&self) -> &[Word] {
        &self.words[..self.len.min(MAX_WORDS)]
    }
}

/// Turns a reply (label, words) into a client's result.
pub fn reply_result<T: Wire, E: ServerError>(label: Word, words: &[Word]) -> Result<T, Error<E>> {
    if label == 0 {
        return decode(words).map_err(|_| Error::Protocol(ProtocolError::UnknownReply));
    }
    if let Some(p) = ProtocolError::from_code(label) {
        return Err(Error::Protocol(p));
    }
    match E::from_code(label) {
        Some(e) => Err(Error::Server(e)),
        None => Err(Error::Protocol(ProtocolError::UnknownReply)),
    }
}

/// How many times a client re-issues an idempotent operation whose server
/// restarted before answering, before it reports
/// [`ProtocolError::Restarted`]: a server that fails on the same request
/// each time is held by its supervisor long before.
pub const RESTART_RETRIES: usize = 8;

/// Calls `op` through `transport`, re-issuing it while the answer is
/// [`ProtocolError::Restarted`] and `idempotent` holds (at most
/// [`RESTART_RETRIES`] times). Returns the last answer's label and length.
pub fn call_surviving_restarts<T: Transport + ?Sized>(
    transport: &T,
    label: Word,
    idempotent: bool,
    words: &[Word],
    reply: &mut [Word; MAX_WORDS],
) -> (Word, usize) {
    let mut answer = transport.call(label, words, reply);
    let mut retries = 0;
    while idempotent && answer.0 == ProtocolError::Restarted.code() && retries < RESTART_RETRIES {
        retries += 1;
        answer = transport.call(label, words, reply);
    }
    answer
}

/// How a client reaches its server: one Call.
pub trait Transport {
    /// Sends `words` with `label` and waits for the answer; returns the
    /// reply label and the number of reply words written into `reply`.
    fn call(&self, label: Word, words: &[Word], reply: &mut [Word; MAX_WORDS]) -> (Word, usize);
}

/// A range of a shared buffer: `len` bytes from `offset`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct BufRange {
    /// Bytes from the buffer's start.
    pub offset: u32,
    /// Bytes.
    pub len: u32,
}

impl BufRange {
    /// `len` bytes from `offset`.
    pub const fn new(offset: u32, len: u32) -> Self {
        Self { offset, len }
    }
}

/// Memory shared with exactly one other component, through this
/// component's mapping of it. The other side may write it at any time, so
/// it is never borrowed as a Rust slice: bytes are copied in and out with
/// relaxed atomic loads and stores (plain `ldr`/`str` on AArch64), and a
/// racing writer can only change the bytes copied, never this program's
/// memory safety.
#[derive(Clone, Copy, Debug)]
pub struct SharedBuffer {
    base: usize,
    len: usize,
}

impl SharedBuffer {
    /// The buffer of `len` bytes mapped at `base`.
    ///
    /// # Safety
    ///
    /// `base..base + len` must be mapped readable and writable for as long
    /// as the value (and its copies) are used, and must not overlap memory
    /// that this program accesses in any other way than through
    /// [`SharedBuffer`]s (the description's shared regions satisfy this).
    pub const unsafe fn new(base: usize, len: usize) -> Self {
        Self { base, len }
    }

    /// Its size in bytes.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// True for a buffer of no bytes.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The byte range `range` names, if it lies inside the buffer.
    pub fn check(&self, range: BufRange) -> Result<core::ops::Range<usize>, ProtocolError> {
        let start = range.offset as usize;
        let end = start
            .checked_add(range.len as usize)
            .ok_or(ProtocolError::BadBuffer)?;
        if end > self.len {
            return Err(ProtocolError::BadBuffer);
        }
        Ok(start..end)
    }

    fn byte(&self, i: usize) -> &AtomicU8 {
        debug_assert!(i < self.len);
        // SAFETY: i < len (every caller checked the range), and `new`'s
        // contract makes base..base+len mapped and only accessed through
        // atomics of this type.
        unsafe { &*((self.base + i) as *const AtomicU8) }
    }

    fn word(&self, i: usize) -> &AtomicU64 {
        debug_assert!(i + 8 <= self.len && (self.base + i).is_multiple_of(8));
        // SAFETY: as in `byte`, and the address is 8-aligned.
        unsafe { &*((self.base + i) as *const AtomicU64) }
    }

    /// Copies `out.len()` bytes from `offset` into `out`.
    pub fn read(&self, offset: usize, out: &mut [u8]) -> Result<(), ProtocolError> {
        let range = self.check(range_of(offset, out.len())?)?;
        let mut i = range.start;
        let mut o = 0;
        while o < out.len() {
            if (self.base + i).is_multiple_of(8) && out.len() - o >= 8 {
                let w = self.word(i).load(Ordering::Relaxed).to_le_bytes();
                out[o..o + 8].copy_from_slice(&w);
                i += 8;
                o += 8;
            } else {
                out[o] = self.byte(i).load(Ordering::Relaxed);
                i += 1;
                o += 1;
            }
        }
        Ok(())
    }

    /// Copies `data` into the buffer at `offset`.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<(), ProtocolError> {
        let range = self.check(range_of(offset, data.len())?)?;
        let mut i = range.start;
        let mut d = 0;
        while d < data.len() {
            if (self.base + i).is_multiple_of(8) && data.len() - d >= 8 {
                let mut w = [0u8; 8];
                w.copy_from_slice(&data[d..d + 8]);
                self.word(i).store(u64::from_le_bytes(w), Ordering::Relaxed);
                i += 8;
                d += 8;
            } else {
                self.byte(i).store(data[d], Ordering::Relaxed);
                i += 1;
                d += 1;
            }
        }
        Ok(())
    }
}

fn range_of(offset: usize, len: usize) -> Result<BufRange, ProtocolError> {
    Ok(BufRange {
        offset: u32::try_from(offset).map_err(|_| ProtocolError::BadBuffer)?,
        len: u32::try_from(len).map_err(|_| ProtocolError::BadBuffer)?,
    })
}

/// Whether an operation may be carried out again by a restarted server.
#[doc(hidden)]
#[macro_export]
macro_rules! __interface_idempotent {
    (idempotent) => {
        true
    };
    (once) => {
        false
    };
}

/// Defines an interface (see the [module documentation](self)):
///
/// ```ignore
/// libcerne::interface! {
///     /// The echo protocol.
///     pub interface echo: EchoError {
///         /// Answers with its argument plus one.
///         1 => Bump: fn bump(Number) -> Number, idempotent;
///         /// Prints a range of the shared buffer.
///         2 => Print: fn print(BufRange) -> Number, once;
///     }
/// }
/// ```
///
/// Each operation: label (1 and up), variant name, method name, request
/// type, reply type, and `idempotent` or `once`.
#[macro_export]
macro_rules! interface {
    (
        $(#[$meta:meta])*
        $vis:vis interface $module:ident : $err:ty {
            $(
                $(#[$op_meta:meta])*
                $label:literal => $variant:ident : fn $method:ident ( $req:ty ) -> $rep:ty , $kind:ident ;
            )*
        }
    ) => {
        $(#[$meta])*
        $vis mod $module {
            #[allow(unused_imports)]
            use super::*;
            use $crate::interface::{
                decode, encode, reply_result, Error, ProtocolError, Reply, ServerError, Transport,
                Word, MAX_WORDS,
            };

            $(
                const _: () = assert!(
                    core::mem::size_of::<$req>() <= MAX_WORDS * 8
                        && core::mem::size_of::<$rep>() <= MAX_WORDS * 8,
                    "a request or reply longer than MAX_WORDS words"
                );
            )*

            /// The operations, by label.
            #[derive(Clone, Copy, Debug, PartialEq, Eq)]
            #[repr(u64)]
            pub enum Op {
                $( $(#[$op_meta])* $variant = $label, )*
            }

            impl Op {
                /// Every operation.
                pub const ALL: &'static [Op] = &[$(Op::$variant),*];

                /// The operation of `label`.
                pub fn from_label(label: Word) -> Option<Self> {
                    Self::ALL.iter().copied().find(|op| *op as Word == label)
                }

                /// Its label.
                pub const fn label(self) -> Word {
                    self as Word
                }

                /// True when carrying it out twice has the effect of once,
                /// so that it may be re-issued to a restarted server.
                pub const fn idempotent(self) -> bool {
                    match self {
                        $( Op::$variant => $crate::__interface_idempotent!($kind), )*
                    }
                }

                /// Words of its request.
                pub const fn request_words(self) -> usize {
                    match self {
                        $( Op::$variant => $crate::interface::words_for(core::mem::size_of::<$req>()), )*
                    }
                }
            }

            /// A decoded request.
            #[derive(Clone, Copy, Debug, PartialEq, Eq)]
            pub enum Request {
                $( $(#[$op_meta])* $variant($req), )*
            }

            impl Request {
                /// Decodes the request of a message with `label` and `words`.
                pub fn decode(label: Word, words: &[Word]) -> Result<Self, ProtocolError> {
                    match Op::from_label(label) {
                        $( Some(Op::$variant) => decode::<$req>(words).map(Request::$variant), )*
                        None => Err(ProtocolError::BadLabel),
                    }
                }

                /// Its operation.
                pub fn op(&self) -> Op {
                    match self {
                        $( Request::$variant(_) => Op::$variant, )*
                    }
                }

                /// Encodes it into `out`; returns (label, words used).
                pub fn encode(&self, out: &mut [Word; MAX_WORDS]) -> (Word, usize) {
                    match self {
                        $( Request::$variant(r) => (Op::$variant.label(), encode(r, out)), )*
                    }
                }
            }

            /// What a server of this interface does, one method per
            /// operation; `badge` names the calling client.
            pub trait Server {
                $(
                    $(#[$op_meta])*
                    fn $method(&mut self, badge: Word, request: $req) -> Result<$rep, $err>;
                )*
            }

            /// Carries out a request on `server`: decodes it (answering a
            /// [`ProtocolError`] when it cannot), calls the method, and
            /// encodes the answer.
            pub fn dispatch<S: Server + ?Sized>(
                server: &mut S,
                badge: Word,
                label: Word,
                words: &[Word],
            ) -> Reply {
                match Request::decode(label, words) {
                    Err(e) => Reply::error(e.code()),
                    $( Ok(Request::$variant(r)) => Reply::of(server.$method(badge, r)), )*
                }
            }

            /// A client of this interface.
            #[derive(Clone, Copy, Debug)]
            pub struct Client<T> {
                transport: T,
            }

            #[allow(dead_code)]
            impl<T: Transport> Client<T> {
                /// The client that calls through `transport`.
                pub const fn new(transport: T) -> Self {
                    Self { transport }
                }

                /// The transport.
                pub fn transport(&self) -> &T {
                    &self.transport
                }

                $(
                    $(#[$op_meta])*
                    pub fn $method(&self, request: $req) -> Result<$rep, Error<$err>> {
                        let mut words = [0; MAX_WORDS];
                        let used = encode(&request, &mut words);
                        let mut reply = [0; MAX_WORDS];
                        let (label, len) = $crate::interface::call_surviving_restarts(
                            &self.transport,
                            Op::$variant.label(),
                            Op::$variant.idempotent(),
                            &words[..used],
                            &mut reply,
                        );
                        reply_result::<$rep, $err>(label, &reply[..len.min(MAX_WORDS)])
                    }
                )*
            }

            #[allow(dead_code)]
            fn _error_type_is_a_server_error(e: $err) -> Word {
                ServerError::code(e)
            }
        }
    };
}

#[cfg(target_arch = "aarch64")]
impl Transport for crate::sel4::Cap<crate::sel4::Endpoint> {
    fn call(&self, label: Word, words: &[Word], reply: &mut [Word; MAX_WORDS]) -> (Word, usize) {
        let answer = (*self).call(label, words, &[]);
        match message_words(&answer, reply) {
            Ok(len) => (answer.label(), len),
            Err(e) => (e.code(), 0),
        }
    }
}

/// Copies a received message's words into `out`; returns how many, or
/// [`ProtocolError::BadLength`] for a message longer than any request.
#[cfg(target_arch = "aarch64")]
pub fn message_words(
    message: &crate::sel4::Message,
    out: &mut [Word; MAX_WORDS],
) -> Result<usize, ProtocolError> {
    let len = message.len();
    if len > MAX_WORDS {
        return Err(ProtocolError::BadLength);
    }
    for (i, w) in out.iter_mut().take(len).enumerate() {
        *w = message.mr(i);
    }
    Ok(len)
}

#[cfg(test)]
mod tests;
