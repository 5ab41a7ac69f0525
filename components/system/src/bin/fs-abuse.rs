//! A bad client of the file server: it provokes every error the server can
//! be made to give from outside, sends requests the interface cannot
//! decode, and tries other clients' handles, checking each answer; once
//! fs-check has finished (its second signal of `check_holds`) it fills the
//! disk and checks every byte comes back; then it checks that the server
//! still serves it. One line per case; the storage
//! check of `cargo xtask test` reads them (docs/testing.md).
#![no_std]
#![no_main]

use core::fmt::Write;

use libcerne::console::Console;
use libcerne::files::{self, flags, protocol, whence, FsError};
use libcerne::interface::{BufRange, Error, ProtocolError, Transport, MAX_WORDS};
use libcerne::sel4::{Cap, Endpoint, Notification, Tcb};

include!(concat!(env!("OUT_DIR"), "/fs-abuse.rs"));

/// Where this client plays.
const DIR: &str = "/abuse";
/// The file it leaves there.
const FIVE: &str = "/abuse/five.txt";

type Fs = libcerne::files::Files<Cap<Endpoint>>;

struct Abuse {
    fs: Fs,
    console: Console,
    expected: u32,
    unexpected: u32,
}

impl Abuse {
    /// Records that `case` answered `got`, expecting error `want`.
    fn expect<T: core::fmt::Debug>(
        &mut self,
        case: &str,
        want: Error<FsError>,
        got: Result<T, Error<FsError>>,
    ) {
        match got {
            Err(e) if e == want => {
                self.expected += 1;
                let _ = writeln!(
                    self.console,
                    "[fsabuse] {case}: refused with {e:?}, as expected"
                );
            }
            other => {
                self.unexpected += 1;
                let _ = writeln!(
                    self.console,
                    "[fsabuse] UNEXPECTED {case}: {other:?}, expected {want:?}"
                );
            }
        }
    }

    fn server_errors(&mut self) {
        use Error::Server as S;
        let fs = &self.fs;
        let _ = fs.mkdir(DIR);
        let file = "/abuse/five.txt";
        let r = fs
            .open(
                file,
                flags::READ | flags::WRITE | flags::CREATE | flags::TRUNCATE,
            )
            .and_then(|h| fs.write(h, b"12345").and_then(|_| fs.close(h)));
        if let Err(e) = r {
            let _ = writeln!(self.console, "[fsabuse] UNEXPECTED setup: {e:?}");
            self.unexpected += 1;
        }

        let got = self.fs.read(0xdead_beef_0000_0007, &mut [0u8; 4]);
        self.expect("unknown handle", S(FsError::UnknownHandle), got);

        let long = [b'a'; 300];
        let got = self.put_and_open(&long);
        self.expect("path too long", S(FsError::PathTooLong), got);

        let got = self.put_and_open(b"/abuse/nul\0name.txt");
        self.expect("name with a NUL", S(FsError::InvalidName), got);

        let got = self.fs.open("/abuse/missing.txt", flags::READ);
        self.expect("open of a missing file", S(FsError::NotFound), got);

        let got = self.fs.mkdir(DIR);
        self.expect(
            "mkdir of an existing directory",
            S(FsError::AlreadyExists),
            got,
        );

        let got = self.fs.open("/abuse/five.txt/below", flags::READ);
        self.expect("a file used as a directory", S(FsError::NotADirectory), got);

        let got = self.fs.open(DIR, flags::READ);
        self.expect(
            "a directory opened as a file",
            S(FsError::IsADirectory),
            got,
        );

        let got = self.fs.unlink(DIR);
        self.expect(
            "unlink of a directory with files",
            S(FsError::DirectoryNotEmpty),
            got,
        );

        // Read past the end: position 100 of a 5-byte file.
        let got = self.fs.open(file, flags::READ).and_then(|h| {
            let r = self.fs.raw().read_at(files::TransferAt {
                handle: h,
                position: 100,
                buf: BufRange::new(0, 8),
            });
            let _ = self.fs.close(h);
            r
        });
        self.expect("read past the end", S(FsError::PastEnd), got);

        let got = self.fs.open(file, flags::READ).and_then(|h| {
            let r = self.fs.write(h, b"no");
            let _ = self.fs.close(h);
            r
        });
        self.expect("write to a read-only open", S(FsError::NotWritable), got);

        let got = self.fs.open(file, flags::WRITE).and_then(|h| {
            let r = self.fs.read(h, &mut [0u8; 4]);
            let _ = self.fs.close(h);
            r
        });
        self.expect("read from a write-only open", S(FsError::NotReadable), got);

        let got = self.fs.open(file, flags::READ).and_then(|h| {
            let r = self.fs.seek(h, 0, 7);
            let _ = self.fs.close(h);
            r
        });
        self.expect("seek with a bad whence", S(FsError::InvalidArgument), got);

        let got = self.fs.raw().stat(files::PathOnly {
            path: BufRange::new(u32::MAX - 2, 10),
        });
        self.expect(
            "a path range outside the buffer",
            S(FsError::BadBuffer),
            got,
        );

        // Open until the server refuses, then close them all.
        let mut handles = [0u64; 300];
        let mut n = 0;
        let got = loop {
            match self.fs.open(file, flags::READ) {
                Ok(h) if n < handles.len() => {
                    handles[n] = h;
                    n += 1;
                }
                Ok(h) => {
                    let _ = self.fs.close(h);
                    break Ok(n);
                }
                Err(e) => break Err(e),
            }
        };
        for h in &handles[..n] {
            let _ = self.fs.close(*h);
        }
        self.expect("too many open handles", S(FsError::TooManyHandles), got);
    }

    /// Fills the disk: a write far past the end of a new file makes the
    /// server fill the gap with zeros until no cluster is left. The write
    /// must be refused with NoSpace, and removing the file must give every
    /// byte back.
    fn disk_full(&mut self) {
        let path = "/abuse/full.bin";
        let before = self.fs.statfs().map(|i| i.free_bytes);
        let Ok(free) = before else {
            self.unexpected += 1;
            let _ = writeln!(self.console, "[fsabuse] UNEXPECTED statfs: {before:?}");
            return;
        };
        let got = self
            .fs
            .open(
                path,
                flags::READ | flags::WRITE | flags::CREATE | flags::TRUNCATE,
            )
            .and_then(|h| {
                let past = i64::try_from(free + (1 << 20)).unwrap_or(i64::MAX);
                let r = self.fs.seek(h, past, whence::START).and_then(|_| {
                    self.fs.raw().write(files::Transfer {
                        handle: h,
                        buf: BufRange::new(0, 1),
                    })
                });
                let _ = self.fs.close(h);
                r
            });
        self.expect("disk full", Error::Server(FsError::NoSpace), got);
        let removed = self.fs.unlink(path);
        // Make the removal durable (fsync writes back the whole cache), so
        // that the image holds no trace of the filled disk.
        let synced = self
            .fs
            .open(FIVE, flags::READ)
            .and_then(|h| self.fs.fsync(h).and_then(|()| self.fs.close(h)));
        if let Err(e) = synced {
            self.unexpected += 1;
            let _ = writeln!(
                self.console,
                "[fsabuse] UNEXPECTED fsync after the full disk: {e:?}"
            );
        }
        let after = self.fs.statfs().map(|i| i.free_bytes);
        if removed.is_ok() && after == Ok(free) {
            self.expected += 1;
            let _ = writeln!(
                self.console,
                "[fsabuse] space after the full disk: all {free} bytes free again, as expected"
            );
        } else {
            self.unexpected += 1;
            let _ = writeln!(
                self.console,
                "[fsabuse] UNEXPECTED space after the full disk: unlink {removed:?}, {after:?} bytes free, {free} before"
            );
        }
    }

    /// Opens the raw bytes `path` (which need not be UTF-8 or short).
    fn put_and_open(&self, path: &[u8]) -> Result<u64, Error<FsError>> {
        self.fs.buffer().write(0, path)?;
        self.fs
            .raw()
            .open(files::Open {
                path: BufRange::new(0, path.len() as u32),
                flags: flags::READ,
                reserved: 0,
            })
            .map(|o| o.handle)
    }

    /// Messages the interface cannot decode.
    fn garbage(&mut self) {
        let endpoint: Cap<Endpoint> = Cap::from_cptr(caps::FILES);
        let cases: [(&str, u64, &[u64], ProtocolError); 4] = [
            ("an unknown label", 999, &[1, 2], ProtocolError::BadLabel),
            ("label 0", 0, &[], ProtocolError::BadLabel),
            (
                "a request too short",
                protocol::Op::Open.label(),
                &[],
                ProtocolError::BadLength,
            ),
            (
                "a request too long",
                protocol::Op::Close.label(),
                &[1, 2, 3],
                ProtocolError::BadLength,
            ),
        ];
        for (case, label, words, want) in cases {
            let mut reply = [0; MAX_WORDS];
            let (got, _) = Transport::call(&endpoint, label, words, &mut reply);
            self.expect(case, Error::Protocol(want), Err::<(), _>(decode(got)));
        }
        // More words than any request.
        let long = [7u64; MAX_WORDS + 4];
        let answer = endpoint.call(protocol::Op::Stat.label(), &long, &[]);
        self.expect(
            "a message longer than any request",
            Error::Protocol(ProtocolError::BadLength),
            Err::<(), _>(decode(answer.label())),
        );
    }

    /// Handles of other clients: fs-check holds one open now.
    fn foreign_handles(&mut self) {
        let mut accepted = 0;
        let mut tried = 0;
        for slot in 0..64u64 {
            for generation in 0..4u64 {
                for handle in [slot | generation << 16, generation << 48 | slot, slot] {
                    tried += 1;
                    if self.fs.raw().fstat(files::HandleOnly { handle }).is_ok() {
                        accepted += 1;
                    }
                }
            }
        }
        if accepted == 0 {
            self.expected += 1;
            let _ = writeln!(
                self.console,
                "[fsabuse] other clients' handles: {tried} tried, none accepted, as expected"
            );
        } else {
            self.unexpected += 1;
            let _ = writeln!(
                self.console,
                "[fsabuse] UNEXPECTED other clients' handles: {accepted} of {tried} accepted"
            );
        }
    }
}

/// The error a reply label stands for.
fn decode(label: u64) -> Error<FsError> {
    match libcerne::interface::reply_result::<files::Empty, FsError>(label, &[]) {
        Err(e) => e,
        Ok(_) => Error::Protocol(ProtocolError::UnknownReply),
    }
}

fn main(_arg: usize, cycles_at_entry: u64) -> ! {
    let mut abuse = Abuse {
        fs: libcerne::files!(),
        console: libcerne::console!(),
        expected: 0,
        unexpected: 0,
    };
    if cfg!(feature = "boot-bench") {
        let _ = writeln!(
            abuse.console,
            "[fsabuse] first instruction at cycle {cycles_at_entry}"
        );
    }
    // Wait until fs-check holds a handle open.
    let _ = Cap::<Notification>::from_cptr(caps::NOTIFICATION).wait();
    abuse.garbage();
    abuse.foreign_handles();
    abuse.server_errors();
    // Fill the disk only once fs-check is done: its writes would change the
    // free space this case compares.
    let _ = Cap::<Notification>::from_cptr(caps::NOTIFICATION).wait();
    abuse.disk_full();
    // The server still serves this client properly.
    let still = abuse.fs.stat("/abuse/five.txt");
    match still {
        Ok(s) if s.size == 5 => {
            let _ = writeln!(
                abuse.console,
                "[fsabuse] the server still serves this client"
            );
        }
        other => {
            abuse.unexpected += 1;
            let _ = writeln!(
                abuse.console,
                "[fsabuse] UNEXPECTED stat afterwards: {other:?}"
            );
        }
    }
    let _ = writeln!(
        abuse.console,
        "[fsabuse] done: {} refused as expected, {} unexpected",
        abuse.expected, abuse.unexpected
    );
    Cap::<Notification>::from_cptr(caps::ABUSE_DONE).signal();
    Cap::<Notification>::from_cptr(caps::CHECKS_DONE).signal();
    let _ = Cap::<Tcb>::from_cptr(caps::TCB).suspend();
    unreachable!("a suspended thread does not run")
}

// The spec gives the stack (the description's `stack`): no static one.
libcerne::entry!(main, static_stack = 0);
