//! The runtime of a program the process manager spawns (docs/programs.md):
//! the other side of the process ABI ([`crate::process`]). It owns what a
//! program needs besides its own logic — entry, the [`Env`] handed to
//! `main`, buffered printing through the console session, reading typed
//! lines, the exit call, the panic report — and the deliberate faults of
//! [`crash`], so that programs themselves need no `unsafe`.
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! use libcerne::program::{println, Env};
//! fn main(env: &Env) -> i32 {
//!     println!("hello from pid {}", env.pid());
//!     0
//! }
//! libcerne::program!(main);
//! ```
//!
//! The process manager starts the program at `_start` with SP =
//! [`process::STACK_TOP`](crate::process::STACK_TOP) and x0 =
//! [`process::ARGS`](crate::process::ARGS); the runtime records its IPC
//! buffer, calls `main`, and reports `main`'s result with the process
//! protocol's `exit`, which does not return. A panic prints
//! `panic: <message> at <file>:<line>` on the console session and exits
//! with [`PANIC_EXIT_CODE`].
//!
//! The buffered writer ([`LineWriter`]), the line splitter ([`Lines`]) and
//! the panic line ([`write_panic`]) are plain code, tested on the host.

use core::fmt::{self, Write};

/// The exit code of a program that panicked.
pub const PANIC_EXIT_CODE: i32 = 101;

/// Bytes [`Out`] gathers before it sends them to the console.
pub const OUT_BUFFER: usize = 256;

/// Where a [`LineWriter`] sends its bytes.
pub trait Sink {
    /// Sends all of `bytes`.
    fn send(&mut self, bytes: &[u8]);
}

/// A `fmt::Write` that gathers text and sends it to its sink a line at a
/// time (or when `N` bytes are waiting, or when dropped), so that a
/// `println!` costs one console call, not one per formatted piece.
pub struct LineWriter<S: Sink, const N: usize> {
    sink: S,
    buf: [u8; N],
    len: usize,
}

impl<S: Sink, const N: usize> LineWriter<S, N> {
    /// An empty writer in front of `sink`.
    pub const fn new(sink: S) -> Self {
        Self {
            sink,
            buf: [0; N],
            len: 0,
        }
    }

    /// Sends what is waiting.
    pub fn flush(&mut self) {
        if self.len > 0 {
            self.sink.send(&self.buf[..self.len]);
            self.len = 0;
        }
    }

    /// Adds `bytes`, sending at each newline and whenever the buffer fills.
    pub fn write_bytes(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let room = N - self.len;
            let line_end = bytes.iter().position(|&b| b == b'\n').map(|i| i + 1);
            let take = line_end.unwrap_or(bytes.len()).min(room);
            self.buf[self.len..self.len + take].copy_from_slice(&bytes[..take]);
            self.len += take;
            bytes = &bytes[take..];
            if self.len == N || (line_end.is_some_and(|e| e <= take)) {
                self.flush();
            }
        }
    }
}

impl<S: Sink, const N: usize> Write for LineWriter<S, N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}

impl<S: Sink, const N: usize> Drop for LineWriter<S, N> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Splits typed input into lines: a line ends at `\r` or `\n`, and the
/// `\n` of a `\r\n` pair ends nothing more. The bytes of an unfinished
/// line are kept (the first `N` of them) until its end arrives.
pub struct Lines<const N: usize> {
    line: [u8; N],
    len: usize,
    after_cr: bool,
}

impl<const N: usize> Default for Lines<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Lines<N> {
    /// No input yet.
    pub const fn new() -> Self {
        Self {
            line: [0; N],
            len: 0,
            after_cr: false,
        }
    }

    /// Takes `bytes`; calls `on_line` with each line they finish (without
    /// its end, cut to `N` bytes).
    pub fn feed(&mut self, bytes: &[u8], mut on_line: impl FnMut(&[u8])) {
        for &b in bytes {
            let after_cr = core::mem::replace(&mut self.after_cr, b == b'\r');
            match b {
                b'\n' if after_cr => {}
                b'\r' | b'\n' => {
                    on_line(&self.line[..self.len]);
                    self.len = 0;
                }
                _ => {
                    if self.len < N {
                        self.line[self.len] = b;
                        self.len += 1;
                    }
                }
            }
        }
    }
}

/// Writes the panic report line: `panic: <message> at <file>:<line>`
/// (without `at ...` when the location is unknown), with a newline.
pub fn write_panic(
    out: &mut impl Write,
    message: &dyn fmt::Display,
    location: Option<(&str, u32)>,
) -> fmt::Result {
    match location {
        Some((file, line)) => writeln!(out, "panic: {message} at {file}:{line}"),
        None => writeln!(out, "panic: {message}"),
    }
}

#[cfg(target_arch = "aarch64")]
pub use self::target::*;

#[cfg(target_arch = "aarch64")]
mod target {
    use super::{LineWriter, Sink, OUT_BUFFER, PANIC_EXIT_CODE};
    use crate::console::Console;
    use crate::files::Files;
    use crate::process::{self, caps, Args};
    use crate::sel4::{Cap, Endpoint};
    use core::sync::atomic::{AtomicBool, Ordering};

    /// The file-server session's client.
    pub type ProgramFiles = Files<Cap<Endpoint>>;
    /// The process manager's client: the typed client and this process's
    /// buffer shared with the manager.
    pub type Procs = crate::procs::Procs<Cap<Endpoint>>;

    /// What a program's `main` gets: its arguments and its sessions. The
    /// runtime makes the one value; its sessions are the process ABI's
    /// fixed slots and buffers, so each accessor is cheap.
    pub struct Env {
        args: Args<'static>,
    }

    impl Env {
        /// The arguments, the program's name first.
        pub fn args(&self) -> Args<'static> {
            self.args
        }

        /// Argument `i` as text (0 is the program's name).
        pub fn arg(&self, i: usize) -> Option<&'static str> {
            self.args.str(i)
        }

        /// This process's pid.
        pub fn pid(&self) -> u32 {
            self.args.pid()
        }

        /// The console session.
        pub fn console(&self) -> Console {
            console()
        }

        /// A buffered writer on the console session (a line per call).
        pub fn out(&self) -> Out {
            out()
        }

        /// The file-server session.
        pub fn files(&self) -> ProgramFiles {
            Files::new(
                Cap::from_cptr(caps::FILES),
                // SAFETY: the process manager maps the file session's
                // buffer read-write at FILES_BUFFER for the process's life
                // (the process ABI), and the program reaches it only
                // through SharedBuffers.
                unsafe {
                    crate::interface::SharedBuffer::new(
                        process::FILES_BUFFER as usize,
                        process::FILES_BUFFER_SIZE as usize,
                    )
                },
            )
        }

        /// The process manager: spawn, wait, kill, list and stats through
        /// this process's session and its buffer.
        pub fn procs(&self) -> Procs {
            crate::procs::Procs::new(
                Cap::from_cptr(caps::PROCS),
                // SAFETY: the process manager maps the procs session's
                // buffer read-write at PROCS_BUFFER for the process's life
                // (the process ABI), and the program reaches it only
                // through SharedBuffers.
                unsafe {
                    crate::interface::SharedBuffer::new(
                        process::PROCS_BUFFER as usize,
                        process::PROCS_BUFFER_SIZE as usize,
                    )
                },
            )
        }

        /// Ends the process with `code` (what returning `code` from
        /// `main` does).
        pub fn exit(&self, code: i32) -> ! {
            exit(code)
        }
    }

    /// The console session of this process.
    pub fn console() -> Console {
        Console::new(
            caps::CONSOLE,
            process::CONSOLE_BUFFER as usize,
            process::CONSOLE_BUFFER_SIZE as usize,
        )
    }

    /// The process manager's typed client, for `exit` (which needs no
    /// buffer).
    fn procs_client() -> crate::procs::protocol::Client<Cap<Endpoint>> {
        crate::procs::protocol::Client::new(Cap::from_cptr(caps::PROCS))
    }

    /// The console as a [`Sink`].
    pub struct ConsoleSink(Console);

    impl Sink for ConsoleSink {
        fn send(&mut self, bytes: &[u8]) {
            self.0.write(bytes);
        }
    }

    /// What [`print!`](super::print) and [`Env::out`] write through.
    pub type Out = LineWriter<ConsoleSink, OUT_BUFFER>;

    /// A buffered writer on the console session.
    pub fn out() -> Out {
        LineWriter::new(ConsoleSink(console()))
    }

    /// Ends the process with `code`: the process protocol's `exit`. The
    /// process manager destroys the caller and never answers; should the
    /// call come back anyway, the program stops with a deliberate fault
    /// (an undefined instruction), which its fault handler reports.
    pub fn exit(code: i32) -> ! {
        let _ = procs_client().exit(crate::procs::ExitCode {
            code: i64::from(code),
        });
        crash::undefined()
    }

    /// Set while a panic is reported, so that a panic inside the report
    /// stops at once.
    static PANICKING: AtomicBool = AtomicBool::new(false);

    /// The runtime's `main`: records the IPC buffer, calls the program's
    /// `main` with its [`Env`], and exits with what it returns.
    pub fn run(main: fn(&Env) -> i32) -> ! {
        // SAFETY: the process ABI maps the IPC buffer read-write at
        // IPC_BUFFER and names it in this thread's TCB; the program has one
        // thread, so no other thread uses it.
        unsafe {
            crate::sel4::ipc_buffer::set_ipc_buffer(
                process::IPC_BUFFER as *mut cerne_abi::ipc_buffer::IpcBuffer,
            )
        };
        // SAFETY: the process ABI maps the arguments page read-only at ARGS
        // for the life of the process, and nothing writes it while the
        // process runs.
        let page: &'static [u8] =
            unsafe { core::slice::from_raw_parts(process::ARGS as *const u8, process::ARGS_SIZE) };
        let env = Env {
            args: Args::decode(page),
        };
        let code = main(&env);
        exit(code)
    }

    /// The panic handler of [`crate::program!`]: the report line on the
    /// console session, then exit code [`PANIC_EXIT_CODE`].
    pub fn report_panic(info: &core::panic::PanicInfo<'_>) -> ! {
        if PANICKING.swap(true, Ordering::Relaxed) {
            crash::undefined();
        }
        let mut out = out();
        let location = info.location().map(|l| (l.file(), l.line()));
        let _ = super::write_panic(&mut out, &info.message(), location);
        out.flush();
        exit(PANIC_EXIT_CODE)
    }

    /// Faults on purpose, for the fault-handling checks (`crashme`): each
    /// makes the kernel send this thread's fault to its handler.
    pub mod crash {
        /// Reads address 0: a VM fault on a data access (nothing is
        /// mapped below IMAGE_BASE).
        pub fn null_read() -> u8 {
            // SAFETY: a volatile read of address 0 is meant to fault; the
            // process ABI maps nothing there, so no memory is read.
            unsafe { core::ptr::read_volatile(core::ptr::null::<u8>()) }
        }

        /// Stores into the program's own code (mapped read and execute
        /// only): a VM fault on a write. The store targets the first word
        /// of [`undefined`] and writes 0, which is `udf #0` in A64, so
        /// should the store succeed (a writable text segment) `undefined`
        /// still does what it says; then this returns.
        pub fn write_text() {
            let code = undefined as fn() -> ! as usize as *mut u32;
            // SAFETY: the text segment is mapped without write permission,
            // so the store faults before it changes anything; were it
            // writable, the word becomes `udf #0`, an instruction with the
            // same effect as the one it replaces (see above).
            unsafe { core::ptr::write_volatile(code, 0) };
        }

        /// Branches to `ret` instructions placed on the stack (mapped
        /// non-executable): an instruction-fetch VM fault. Returns when
        /// the page turned out executable (then the `ret` came back).
        pub fn exec_data() {
            /// `ret`.
            const RET: u32 = 0xd65f_03c0;
            let code = core::hint::black_box([RET; 4]);
            // SAFETY: the words are `ret` instructions, so if the stack
            // were executable the branch would return at once having
            // changed no register the clobbers do not name.
            unsafe {
                core::arch::asm!(
                    "blr {0}",
                    in(reg) code.as_ptr(),
                    clobber_abi("C"),
                )
            };
        }

        /// An undefined instruction: a user exception, over and over
        /// should the handler resume it.
        pub fn undefined() -> ! {
            loop {
                // SAFETY: `udf` only raises an exception; no memory or
                // register is touched.
                unsafe { core::arch::asm!("udf #0", options(nomem, nostack)) };
            }
        }

        /// A load-exclusive from an odd address: an alignment fault
        /// whatever SCTLR_EL1.A says (exclusives must be aligned).
        pub fn misaligned() -> u64 {
            let word = core::hint::black_box([0u64; 2]);
            let odd = word.as_ptr() as usize + 1;
            let value: u64;
            // SAFETY: the address is inside `word`, a live local; the
            // exclusive load only reads, and faults because it is odd.
            unsafe {
                core::arch::asm!(
                    "ldxr {0}, [{1}]",
                    "clrex",
                    out(reg) value,
                    in(reg) odd,
                    options(nostack),
                )
            };
            value
        }
    }
}

/// Prints to the console session of a spawned program, like `std`'s
/// `print!` (one console call per line).
#[cfg(target_arch = "aarch64")]
#[doc(hidden)]
#[macro_export]
macro_rules! __program_print {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let mut out = $crate::program::out();
        let _ = write!(out, $($arg)*);
    }};
}

/// Prints a line to the console session of a spawned program, like `std`'s
/// `println!`.
#[cfg(target_arch = "aarch64")]
#[doc(hidden)]
#[macro_export]
macro_rules! __program_println {
    () => { $crate::program::print!("\n") };
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let mut out = $crate::program::out();
        let _ = writeln!(out, $($arg)*);
    }};
}

#[cfg(target_arch = "aarch64")]
pub use crate::{__program_print as print, __program_println as println};

/// Declares a spawned program's main: `program!(main)` with
/// `fn main(env: &libcerne::program::Env) -> i32`; the value returned is
/// the exit code. The program keeps the stack the process manager gave it
/// (SP is never zero), and panics go to [`report_panic`].
#[macro_export]
macro_rules! program {
    ($main:path) => {
        fn __cerne_program_start(_args: usize, _cycles_at_entry: u64) -> ! {
            $crate::program::run($main)
        }
        $crate::entry!(
            __cerne_program_start,
            static_stack = 0,
            panic = $crate::program::report_panic
        );
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    extern crate std;
    use std::string::String;
    use std::vec::Vec;

    /// Records each send.
    struct Record<'a>(&'a mut Vec<Vec<u8>>);
    impl Sink for Record<'_> {
        fn send(&mut self, bytes: &[u8]) {
            self.0.push(bytes.to_vec());
        }
    }

    #[test]
    fn writer_sends_a_line_at_a_time() {
        let mut sent = Vec::new();
        {
            let mut w = LineWriter::<_, 16>::new(Record(&mut sent));
            write!(w, "a{}b\nc", 1).unwrap();
            write!(w, "d").unwrap();
        }
        assert_eq!(sent, [b"a1b\n".to_vec(), b"cd".to_vec()]);
    }

    #[test]
    fn writer_sends_full_buffers_and_several_lines() {
        let mut sent = Vec::new();
        {
            let mut w = LineWriter::<_, 4>::new(Record(&mut sent));
            w.write_bytes(b"abcdefg\nh\ni");
        }
        assert_eq!(
            sent,
            [
                b"abcd".to_vec(),
                b"efg\n".to_vec(),
                b"h\n".to_vec(),
                b"i".to_vec()
            ]
        );
        let total: usize = sent.iter().map(Vec::len).sum();
        assert_eq!(total, 11);
    }

    #[test]
    fn writer_flushes_nothing_when_empty() {
        let mut sent = Vec::new();
        drop(LineWriter::<_, 8>::new(Record(&mut sent)));
        assert!(sent.is_empty());
    }

    fn lines_of(chunks: &[&[u8]]) -> Vec<String> {
        let mut lines = Lines::<8>::new();
        let mut got = Vec::new();
        for c in chunks {
            lines.feed(c, |l| got.push(String::from_utf8_lossy(l).into_owned()));
        }
        got
    }

    #[test]
    fn lines_end_at_cr_lf_and_crlf_once() {
        assert_eq!(
            lines_of(&[b"one\rtwo\nthree\r\nfour"]),
            ["one", "two", "three"]
        );
        // A pair split across reads still ends one line.
        assert_eq!(lines_of(&[b"a\r", b"\nb\n"]), ["a", "b"]);
        // Empty lines count.
        assert_eq!(lines_of(&[b"\n\n"]), ["", ""]);
        assert_eq!(lines_of(&[b"\r\r"]), ["", ""]);
    }

    #[test]
    fn long_lines_are_cut_not_lost() {
        assert_eq!(lines_of(&[b"0123456789\nx\n"]), ["01234567", "x"]);
    }

    #[test]
    fn panic_line() {
        let mut s = String::new();
        write_panic(
            &mut s,
            &format_args!("bad {}", 7),
            Some(("src/bin/x.rs", 12)),
        )
        .unwrap();
        assert_eq!(s, "panic: bad 7 at src/bin/x.rs:12\n");
        let mut s = String::new();
        write_panic(&mut s, &"why", None).unwrap();
        assert_eq!(s, "panic: why\n");
    }
}
