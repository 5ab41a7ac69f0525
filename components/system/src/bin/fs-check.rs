//! The client that proves the storage stack: it checks the files a
//! previous boot left (their list is `/check/manifest.txt`), then writes
//! files of several sizes (0 B, 1 B, 4 KiB, 1 MiB + 7), reads them back
//! and compares checksums, renames one, removes another, fsyncs each, and
//! reports every file it left with its size and CRC-32, so that the host
//! can open the disk image and find exactly those bytes (docs/testing.md,
//! the storage checks).
//!
//! Built with the `halt-when-done` feature (the storage test system), it
//! then waits until `fs-abuse` has finished and halts the machine.
#![no_std]
#![no_main]

use core::fmt::Write;

use libcerne::console::Console;
use libcerne::files::{self, flags, FilesError, FsError};
use libcerne::interface::{BufRange, Error};
use libcerne::sel4::{Cap, Notification, Tcb};

include!(concat!(env!("OUT_DIR"), "/fs-check.rs"));

/// Where the checks keep their files.
const DIR: &str = "/check";
/// The list of files a boot left, for the next one.
const MANIFEST: &str = "/check/manifest.txt";

/// The files written: name and size.
const FILES: [(&str, usize); 5] = [
    ("/check/empty.bin", 0),
    ("/check/one.bin", 1),
    ("/check/page.bin", 4096),
    ("/check/big.bin", (1 << 20) + 7),
    ("/check/gone.bin", 5000),
];
/// Removed again after it was checked.
const REMOVED: &str = "/check/gone.bin";
/// Written under a temporary name and renamed.
const RENAMED_FROM: &str = "/check/draft.txt";
const RENAMED_TO: &str = "/check/notes.txt";
const NOTES: &[u8] = b"Written by fs-check under another name, then renamed.\n";

/// Byte `i` of a file of `len` bytes.
fn pattern(len: usize, i: usize) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 9) ^ len) as u8
}

type Fs = libcerne::files::Files<Cap<libcerne::sel4::Endpoint>>;

struct Checker {
    fs: Fs,
    console: Console,
    failures: u32,
}

impl Checker {
    fn fail(&mut self, what: core::fmt::Arguments<'_>) {
        self.failures += 1;
        let _ = writeln!(self.console, "[fscheck] FAIL: {what}");
    }

    /// Writes a file of `len` bytes of the pattern; its CRC-32.
    fn write_file(&mut self, path: &str, len: usize) -> Result<u32, FilesError> {
        let h = self.fs.open(
            path,
            flags::READ | flags::WRITE | flags::CREATE | flags::TRUNCATE,
        )?;
        let mut crc = crc32fast::Hasher::new();
        let mut chunk = [0u8; 8192];
        let mut at = 0;
        while at < len {
            let n = (len - at).min(chunk.len());
            for (k, b) in chunk[..n].iter_mut().enumerate() {
                *b = pattern(len, at + k);
            }
            crc.update(&chunk[..n]);
            let written = self.fs.write(h, &chunk[..n])?;
            if written != n {
                let _ = self.fs.close(h);
                return Err(Error::Server(FsError::NoSpace));
            }
            at += n;
        }
        self.fs.fsync(h)?;
        self.fs.close(h)?;
        Ok(crc.finalize())
    }

    /// Reads a whole file; (size, CRC-32).
    fn read_file(&mut self, path: &str) -> Result<(usize, u32), FilesError> {
        let h = self.fs.open(path, flags::READ)?;
        let mut crc = crc32fast::Hasher::new();
        let mut chunk = [0u8; 8192];
        let mut size = 0;
        loop {
            let n = self.fs.read(h, &mut chunk)?;
            crc.update(&chunk[..n]);
            size += n;
            if n < chunk.len() {
                break;
            }
        }
        self.fs.close(h)?;
        Ok((size, crc.finalize()))
    }

    /// Checks the files the manifest of a previous boot lists; how many.
    fn previous_boot(&mut self) -> u32 {
        let mut text = [0u8; 1024];
        let len = match self.fs.open(MANIFEST, flags::READ) {
            Ok(h) => {
                let n = self.fs.read(h, &mut text).unwrap_or(0);
                let _ = self.fs.close(h);
                n
            }
            Err(Error::Server(FsError::NotFound)) => {
                let _ = writeln!(self.console, "[fscheck] no files from a previous boot");
                return 0;
            }
            Err(e) => {
                self.fail(format_args!("cannot open {MANIFEST}: {e:?}"));
                return 0;
            }
        };
        let mut verified = 0;
        let text = core::str::from_utf8(&text[..len]).unwrap_or("");
        for line in text.lines() {
            let mut words = line.split_whitespace();
            let (Some(path), Some(size), Some(crc)) = (words.next(), words.next(), words.next())
            else {
                continue;
            };
            let size: usize = size.parse().unwrap_or(usize::MAX);
            let crc = u32::from_str_radix(crc.trim_start_matches("0x"), 16).unwrap_or(0);
            match self.read_file(path) {
                Ok(got) if got == (size, crc) => verified += 1,
                Ok((s, c)) => self.fail(format_args!(
                    "{path} from the previous boot: {s} bytes crc32 {c:#010x}, expected {size} bytes crc32 {crc:#010x}"
                )),
                Err(e) => self.fail(format_args!("{path} from the previous boot: {e:?}")),
            }
        }
        let _ = writeln!(
            self.console,
            "[fscheck] previous boot: {verified} files verified"
        );
        verified
    }

    fn run(&mut self) {
        self.previous_boot();
        match self.fs.mkdir(DIR) {
            Ok(()) | Err(Error::Server(FsError::AlreadyExists)) => {}
            Err(e) => self.fail(format_args!("mkdir {DIR}: {e:?}")),
        }
        let mut kept: [(&str, usize, u32); 6] = [("", 0, 0); 6];
        let mut n_kept = 0;
        for (path, len) in FILES {
            let written = match self.write_file(path, len) {
                Ok(crc) => crc,
                Err(e) => {
                    self.fail(format_args!("write {path}: {e:?}"));
                    continue;
                }
            };
            match self.read_file(path) {
                Ok((size, crc)) if size == len && crc == written => {}
                Ok((size, crc)) => self.fail(format_args!(
                    "{path} read back as {size} bytes crc32 {crc:#010x}, written {len} bytes crc32 {written:#010x}"
                )),
                Err(e) => self.fail(format_args!("read {path}: {e:?}")),
            }
            if path == REMOVED {
                if let Err(e) = self.fs.unlink(path) {
                    self.fail(format_args!("unlink {path}: {e:?}"));
                }
                match self.fs.stat(path) {
                    Err(Error::Server(FsError::NotFound)) => {}
                    other => self.fail(format_args!("{path} after unlink: {other:?}")),
                }
            } else {
                kept[n_kept] = (path, len, written);
                n_kept += 1;
            }
        }
        // Rename: write under one name, move it, find it under the other.
        let _ = self.fs.unlink(RENAMED_TO);
        let notes = self
            .fs
            .open(RENAMED_FROM, flags::WRITE | flags::CREATE | flags::TRUNCATE);
        let renamed = notes
            .and_then(|h| {
                self.fs.write(h, NOTES)?;
                self.fs.fsync(h)?;
                self.fs.close(h)
            })
            .and_then(|()| self.fs.rename(RENAMED_FROM, RENAMED_TO));
        match (renamed, self.read_file(RENAMED_TO)) {
            (Ok(()), Ok((size, crc))) if size == NOTES.len() && crc == crc32fast::hash(NOTES) => {
                kept[n_kept] = (RENAMED_TO, size, crc);
                n_kept += 1;
            }
            (r, back) => self.fail(format_args!("rename: {r:?}, then {back:?}")),
        }
        self.write_manifest(&kept[..n_kept]);
        for (path, size, crc) in &kept[..n_kept] {
            let _ = writeln!(
                self.console,
                "[fscheck] file {path} {size} bytes crc32 {crc:#010x}"
            );
        }
        let _ = writeln!(self.console, "[fscheck] removed {REMOVED}");
        let listed = self.fs.list(DIR, |_, _, _| {});
        match listed {
            Ok(n) if n == n_kept + 1 => {}
            other => self.fail(format_args!(
                "{DIR} lists {other:?} entries, expected {} (the files and the manifest)",
                n_kept + 1
            )),
        }
    }

    fn write_manifest(&mut self, kept: &[(&str, usize, u32)]) {
        let mut text = [0u8; 1024];
        let mut w = Cursor {
            buf: &mut text,
            len: 0,
        };
        for (path, size, crc) in kept {
            let _ = writeln!(w, "{path} {size} {crc:#010x}");
        }
        let len = w.len;
        let r = self
            .fs
            .open(MANIFEST, flags::WRITE | flags::CREATE | flags::TRUNCATE)
            .and_then(|h| {
                self.fs.write(h, &text[..len])?;
                self.fs.fsync(h)?;
                self.fs.close(h)
            });
        if let Err(e) = r {
            self.fail(format_args!("write {MANIFEST}: {e:?}"));
        }
    }
}

/// The storage benchmark (the `storage-bench` build): 16 MiB written and
/// read back sequentially in requests as large as the shared buffer, then
/// 4 KiB reads at random places; for each phase the guest instructions in
/// all, in the file server and in the block driver (their own counts),
/// and the rest (this client and the kernel's IPC). `cargo xtask bench`
/// reads the lines and times the phases on the host.
mod bench {
    use super::*;
    use libcerne::files::ServerStats;
    use libcerne::pmu::cycles;

    /// Bytes of the sequential phases.
    const TOTAL: usize = 16 << 20;
    /// Random 4 KiB reads.
    const RANDOM_READS: usize = 1024;
    /// Bytes of a random read.
    const PAGE: usize = 4096;

    fn stats(c: &Checker) -> ServerStats {
        c.fs.stats().unwrap_or_default()
    }

    fn phase(
        c: &mut Checker,
        name: &str,
        requests: usize,
        bytes: usize,
        f: impl FnOnce(&mut Checker),
    ) {
        let _ = writeln!(c.console, "[fsbench] {name} start");
        let before = stats(c);
        let start = cycles();
        f(c);
        let total = cycles().wrapping_sub(start);
        let after = stats(c);
        let fs = after.busy_cycles.wrapping_sub(before.busy_cycles);
        let driver = after.driver_cycles.wrapping_sub(before.driver_cycles);
        let rest = total.saturating_sub(fs).saturating_sub(driver);
        let _ = writeln!(
            c.console,
            "[fsbench] {name} done: {bytes} bytes in {requests} requests; instructions total {total} fs {fs} driver {driver} client+kernel {rest}; cache hits {} misses {}",
            after.cache_hits.wrapping_sub(before.cache_hits),
            after.cache_misses.wrapping_sub(before.cache_misses),
        );
    }

    pub fn run(c: &mut Checker) {
        let _ = c.fs.mkdir("/bench");
        let handle = c.fs.open(
            "/bench/seq.bin",
            flags::READ | flags::WRITE | flags::CREATE | flags::TRUNCATE,
        );
        let Ok(h) = handle else {
            c.fail(format_args!("cannot create /bench/seq.bin: {handle:?}"));
            return;
        };
        let chunk_len = addrs::FILES_BUFFER_SIZE;
        let mut chunk = [0u8; 8192];
        for (i, b) in chunk.iter_mut().enumerate() {
            *b = pattern(TOTAL, i);
        }
        let requests = TOTAL / chunk_len;
        phase(c, "seq-write", requests, TOTAL, |c| {
            let mut at = 0;
            while at < TOTAL {
                // The client's buffer is filled 8 KiB at a time, then sent
                // as one request of the buffer's size.
                let n = chunk_len.min(TOTAL - at);
                let mut filled = 0;
                while filled < n {
                    let k = chunk.len().min(n - filled);
                    let _ = c.fs.buffer().write(filled, &chunk[..k]);
                    filled += k;
                }
                let r = c.fs.raw().write(files::Transfer {
                    handle: h,
                    buf: BufRange::new(0, n as u32),
                });
                if r.is_err() {
                    c.fail(format_args!("bench write at {at}: {r:?}"));
                    return;
                }
                at += n;
            }
            if let Err(e) = c.fs.fsync(h) {
                c.fail(format_args!("bench fsync: {e:?}"));
            }
        });
        let _ = c.fs.seek(h, 0, libcerne::files::whence::START);
        phase(c, "seq-read", requests, TOTAL, |c| {
            let mut at = 0;
            while at < TOTAL {
                let n = chunk_len.min(TOTAL - at);
                let r = c.fs.raw().read(files::Transfer {
                    handle: h,
                    buf: BufRange::new(0, n as u32),
                });
                if !matches!(r, Ok(got) if got.bytes as usize == n) {
                    c.fail(format_args!("bench read at {at}: {r:?}"));
                    return;
                }
                at += n;
            }
        });
        phase(c, "rand-read-4k", RANDOM_READS, RANDOM_READS * PAGE, |c| {
            let mut x: u64 = 0x2545_f491_4f6c_dd1d;
            let pages = (TOTAL / PAGE) as u64;
            for _ in 0..RANDOM_READS {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let r = c.fs.raw().read_at(files::TransferAt {
                    handle: h,
                    position: (x % pages) * PAGE as u64,
                    buf: BufRange::new(0, PAGE as u32),
                });
                if r.is_err() {
                    c.fail(format_args!("bench random read: {r:?}"));
                    return;
                }
            }
        });
        let _ = c.fs.close(h);
        let _ = c.fs.unlink("/bench/seq.bin");
    }
}

/// A `fmt::Write` into a byte array.
struct Cursor<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(core::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

fn main(_arg: usize, cycles_at_entry: u64) -> ! {
    let mut checker = Checker {
        fs: libcerne::files!(),
        console: libcerne::console!(),
        failures: 0,
    };
    if cfg!(feature = "boot-bench") {
        let _ = writeln!(
            checker.console,
            "[fscheck] first instruction at cycle {cycles_at_entry}"
        );
    }
    let _ = writeln!(checker.console, "[fscheck] start");
    if cfg!(feature = "storage-bench") {
        bench::run(&mut checker);
        let _ = writeln!(
            checker.console,
            "[fsbench] done: {} failures",
            checker.failures
        );
        libcerne::syscalls::debug_halt();
    }
    // Hold a file open while fs-abuse tries to use other clients' handles.
    let held = checker
        .fs
        .open("/motd.txt", flags::READ)
        .or_else(|_| checker.fs.open("/", flags::READ | flags::DIRECTORY));
    Cap::<Notification>::from_cptr(caps::CHECK_HOLDS).signal();
    checker.run();
    if let Ok(h) = held {
        let _ = checker.fs.close(h);
    }
    let free = checker
        .fs
        .statfs()
        .map(|i| i.free_bytes / 1024)
        .unwrap_or(0);
    let _ = writeln!(
        checker.console,
        "[fscheck] done: {} failures, {free} KiB free",
        checker.failures
    );
    // Tell fs-abuse it may fill the disk now: nothing of this client's is
    // in flight any more.
    Cap::<Notification>::from_cptr(caps::CHECK_HOLDS).signal();
    if cfg!(feature = "halt-when-done") {
        // fs-abuse signals when it has finished.
        let _ = Cap::<Notification>::from_cptr(caps::NOTIFICATION).wait();
        libcerne::syscalls::debug_halt();
    }
    let _ = Cap::<Tcb>::from_cptr(caps::TCB).suspend();
    unreachable!("a suspended thread does not run")
}

// The spec gives the stack (the description's `stack`): no static one.
libcerne::entry!(main, static_stack = 0);
