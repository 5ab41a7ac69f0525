//! `proctest [bench]`: the process manager's own test, run from the shell
//! (`run proctest`) through this process's procs session
//! ([`Env::procs`]):
//!
//! 1. 1,000 spawn/wait cycles of `/bin/true`, each exiting 0, leave the
//!    kernel-reported free untyped bytes exactly as they were;
//! 2. `/bin/hog`s fill every process slot (64 with this one), `list` shows
//!    them, the next spawn is refused with `TooManyProcesses`, and each is
//!    killed and waited for;
//! 3. `/bin/big hold` processes fill the manager's memory until a spawn is
//!    refused with `OutOfMemory`; once they are killed a `big` spawns and
//!    exits 0 again and the free bytes are back to the first figure;
//! 4. bad programs (a missing path, a text file, a truncated ELF, an ELF
//!    for another machine — the last three written through the file
//!    session under `/tmp`) are refused, with nothing half-built.
//!
//! Each failure prints `proctest: FAIL <what>`; the end is `proctest: ok`
//! and exit 0, or exit 1.
//!
//! `proctest bench` instead measures, with the cycle counter (a kernel
//! built with `pmu-user`, run under `-icount` where a cycle is an
//! instruction), the instructions from the spawn call to the wait reply of
//! `/bin/true` and of `/bin/big`, the median of [`BENCH_ROUNDS`] each.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::fmt::{self, Display};

use libcerne::files::flags;
use libcerne::interface::Error;
use libcerne::procs::{how, ProcError, ProcsError, Status};
use libcerne::program::{println, Env, Procs, ProgramFiles};

/// Spawn/exit cycles of part 1.
const CYCLES: usize = 1000;
/// Processes alive at once the manager allows (this one included).
const MAX_PROCESSES: usize = 64;
/// Rounds of each benchmark figure.
const BENCH_ROUNDS: usize = 20;
/// Bytes of `/bin/hello` the truncated copy keeps.
const TRUNCATED_LEN: usize = 100;
/// The ELF header's `e_machine` (its low byte).
const E_MACHINE: usize = 18;
/// `EM_X86_64`: a machine this system cannot run.
const OTHER_MACHINE: u8 = 62;
/// Where the bad programs are written.
const TMP: &str = "/tmp";

/// A procs error as the shell prints one.
struct Why(ProcsError);

impl Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Error::Server(e) => e.fmt(f),
            Error::Protocol(p) => write!(f, "{p:?}"),
        }
    }
}

/// The test's state: the sessions and the failures counted so far.
struct Test<'a> {
    procs: Procs,
    files: ProgramFiles,
    env: &'a Env,
    failures: u32,
}

impl Test<'_> {
    /// Reports one failure.
    fn fail(&mut self, what: fmt::Arguments<'_>) {
        println!("proctest: FAIL {what}");
        self.failures += 1;
    }

    /// The kernel-reported free untyped bytes of the manager, or a failure.
    fn free_bytes(&mut self, when: impl Display) -> Option<u64> {
        match self.procs.stats() {
            Ok(s) => Some(s.free_bytes),
            Err(e) => {
                self.fail(format_args!("stats {when}: {}", Why(e)));
                None
            }
        }
    }

    /// Checks the free bytes are `want` again.
    fn same_free(&mut self, want: Option<u64>, when: impl Display) {
        let now = self.free_bytes(&when);
        if let (Some(want), Some(now)) = (want, now) {
            if want != now {
                self.fail(format_args!(
                    "free untyped {now} bytes {when}, expected {want}"
                ));
            }
        }
    }

    /// Waits for `pid` and checks it ended as `want_how` (with code 0 when
    /// it exited).
    fn expect_end(&mut self, pid: u64, name: &str, want_how: u64) -> bool {
        match self.procs.wait(pid) {
            Ok(Status { how: h, code, .. }) if h == want_how && (h != how::EXITED || code == 0) => {
                true
            }
            Ok(s) => {
                self.fail(format_args!(
                    "{name} pid {pid} ended with how {} code {}, expected how {want_how}",
                    s.how, s.code
                ));
                false
            }
            Err(e) => {
                self.fail(format_args!("wait for {name} pid {pid}: {}", Why(e)));
                false
            }
        }
    }

    /// Kills and waits for each of `pids`.
    fn kill_all(&mut self, pids: &[u64], name: &str) {
        for &pid in pids {
            if let Err(e) = self.procs.kill(pid) {
                self.fail(format_args!("kill {name} pid {pid}: {}", Why(e)));
                continue;
            }
            self.expect_end(pid, name, how::KILLED);
        }
    }

    /// Part 1: spawn and reap `/bin/true` [`CYCLES`] times.
    fn cycles(&mut self) -> Option<u64> {
        let before = self.free_bytes("before the cycles");
        let mut done = 0;
        while done < CYCLES {
            let pid = match self.procs.spawn("/bin/true", ["true"]) {
                Ok(pid) => pid,
                Err(e) => {
                    self.fail(format_args!("spawn of true number {done}: {}", Why(e)));
                    break;
                }
            };
            if !self.expect_end(pid, "true", how::EXITED) {
                break;
            }
            done += 1;
        }
        let after = self.free_bytes("after the cycles");
        match (before, after) {
            (Some(b), Some(a)) if a == b && done == CYCLES => {
                println!(
                    "proctest: {CYCLES} spawn/exit cycles, free untyped {b} bytes before and after"
                );
            }
            (Some(b), Some(a)) if a != b => self.fail(format_args!(
                "{done} spawn/exit cycles left {a} bytes free, {b} before"
            )),
            _ => {}
        }
        before
    }

    /// Part 2: fill every process slot with hogs.
    fn slots(&mut self) {
        let alive = match self.procs.stats() {
            Ok(s) => s.processes as usize,
            Err(e) => {
                self.fail(format_args!("stats before the hogs: {}", Why(e)));
                return;
            }
        };
        let mut pids = [0u64; MAX_PROCESSES];
        let mut n = 0;
        while alive + n < MAX_PROCESSES {
            match self.procs.spawn("/bin/hog", ["hog"]) {
                Ok(pid) => {
                    pids[n] = pid;
                    n += 1;
                }
                Err(e) => {
                    self.fail(format_args!(
                        "spawn of hog with {} processes alive: {}",
                        alive + n,
                        Why(e)
                    ));
                    break;
                }
            }
        }
        let hogs = &pids[..n];
        let (mut listed, mut listed_hogs) = (0, 0);
        let me = u64::from(self.env.pid());
        let mut listed_me = false;
        let list = self.procs.list(|r| {
            listed += 1;
            if r.name() == "hog" && hogs.contains(&u64::from(r.pid)) {
                listed_hogs += 1;
            }
            listed_me |= u64::from(r.pid) == me;
        });
        match list {
            Ok(()) if listed == MAX_PROCESSES && listed_hogs == n && listed_me => {}
            Ok(()) => self.fail(format_args!(
                "list shows {listed} processes, {listed_hogs} of the {n} hogs, this one: {listed_me}; expected {MAX_PROCESSES}"
            )),
            Err(e) => self.fail(format_args!("list: {}", Why(e))),
        }
        match self.procs.spawn("/bin/hog", ["hog"]) {
            Err(Error::Server(ProcError::TooManyProcesses)) => {}
            Ok(pid) => {
                self.fail(format_args!(
                    "spawn number {} was accepted (pid {pid}), expected too many processes",
                    MAX_PROCESSES + 1
                ));
                self.kill_all(&[pid], "hog");
            }
            Err(e) => self.fail(format_args!(
                "spawn with every slot used: {}, expected too many processes",
                Why(e)
            )),
        }
        self.kill_all(hogs, "hog");
        println!("proctest: {n} hogs filled the {MAX_PROCESSES} process slots; the next spawn was refused; all killed");
    }

    /// Part 3: fill the manager's memory with `big hold`s.
    fn memory(&mut self, first_free: Option<u64>) {
        let mut pids = [0u64; MAX_PROCESSES];
        let mut n = 0;
        let mut out_of_memory = false;
        while n < MAX_PROCESSES {
            match self.procs.spawn("/bin/big", ["big", "hold"]) {
                Ok(pid) => {
                    pids[n] = pid;
                    n += 1;
                }
                Err(Error::Server(ProcError::OutOfMemory)) => {
                    out_of_memory = true;
                    break;
                }
                Err(e) => {
                    self.fail(format_args!(
                        "spawn of big number {}: {}, expected out of memory at some point",
                        n + 1,
                        Why(e)
                    ));
                    break;
                }
            }
        }
        if out_of_memory {
            println!("proctest: {n} big processes fitted, then out of memory");
        }
        self.kill_all(&pids[..n], "big");
        match self.procs.spawn("/bin/big", ["big"]) {
            Ok(pid) => {
                self.expect_end(pid, "big", how::EXITED);
            }
            Err(e) => self.fail(format_args!(
                "spawn of big after the others were killed: {}",
                Why(e)
            )),
        }
        self.same_free(first_free, "after the big processes");
    }

    /// Writes `bytes` to `path` through the file session.
    fn write_file(&mut self, path: &str, bytes: &[u8]) -> bool {
        let fs = &self.files;
        let written = fs
            .open(path, flags::WRITE | flags::CREATE | flags::TRUNCATE)
            .and_then(|h| {
                let r = fs.write(h, bytes);
                let closed = fs.close(h);
                r.and_then(|n| closed.map(|()| n))
            });
        match written {
            Ok(n) if n == bytes.len() => true,
            Ok(n) => {
                self.fail(format_args!("wrote {n} of {} bytes to {path}", bytes.len()));
                false
            }
            Err(e) => {
                self.fail(format_args!("writing {path}: {e:?}"));
                false
            }
        }
    }

    /// Copies `/bin/hello` to `path`, with its machine changed.
    fn write_other_machine(&mut self, path: &str) -> bool {
        let fs = &self.files;
        let copied = fs.open("/bin/hello", flags::READ).and_then(|from| {
            let to = fs.open(path, flags::WRITE | flags::CREATE | flags::TRUNCATE);
            let r = to.and_then(|to| {
                let mut chunk = [0u8; 4096];
                let mut at = 0;
                let r = loop {
                    let n = match fs.read(from, &mut chunk) {
                        Ok(0) => break Ok(at),
                        Ok(n) => n,
                        Err(e) => break Err(e),
                    };
                    if (at..at + n).contains(&E_MACHINE) {
                        chunk[E_MACHINE - at] = OTHER_MACHINE;
                    }
                    if let Err(e) = fs.write(to, &chunk[..n]) {
                        break Err(e);
                    }
                    at += n;
                };
                let closed = fs.close(to);
                r.and_then(|n| closed.map(|()| n))
            });
            let _ = fs.close(from);
            r
        });
        match copied {
            Ok(n) if n > E_MACHINE => true,
            Ok(n) => {
                self.fail(format_args!("/bin/hello has only {n} bytes"));
                false
            }
            Err(e) => {
                self.fail(format_args!("copying /bin/hello to {path}: {e:?}"));
                false
            }
        }
    }

    /// The first [`TRUNCATED_LEN`] bytes of `/bin/hello`.
    fn hello_head(&mut self) -> Option<[u8; TRUNCATED_LEN]> {
        let fs = &self.files;
        let mut head = [0u8; TRUNCATED_LEN];
        let read = fs.open("/bin/hello", flags::READ).and_then(|h| {
            let r = fs.read(h, &mut head);
            let _ = fs.close(h);
            r
        });
        match read {
            Ok(TRUNCATED_LEN) => Some(head),
            other => {
                self.fail(format_args!(
                    "reading {TRUNCATED_LEN} bytes of /bin/hello: {other:?}"
                ));
                None
            }
        }
    }

    /// Asks to spawn `path`, which must be refused with `want`, leaving the
    /// free bytes at `free`.
    fn refused(&mut self, path: &str, what: &str, want: ProcError, free: Option<u64>) {
        match self.procs.spawn(path, ["bad"]) {
            Err(Error::Server(e)) if e == want => {}
            Ok(pid) => {
                self.fail(format_args!(
                    "{what} ({path}) was spawned as pid {pid}, expected: {want}"
                ));
                self.kill_all(&[pid], what);
            }
            Err(e) => self.fail(format_args!(
                "{what} ({path}) refused with {}, expected: {want}",
                Why(e)
            )),
        }
        self.same_free(free, format_args!("after {what}"));
    }

    /// Part 4: programs the manager must refuse.
    fn bad_programs(&mut self, free: Option<u64>) {
        let (text, short, other) = ("/tmp/notelf.txt", "/tmp/short", "/tmp/other");
        self.refused(
            "/bin/no-such-program",
            "a missing program",
            ProcError::NoSuchProgram,
            free,
        );
        match self.files.mkdir(TMP) {
            Ok(()) | Err(Error::Server(libcerne::files::FsError::AlreadyExists)) => {}
            Err(e) => self.fail(format_args!("mkdir {TMP}: {e:?}")),
        }
        if self.write_file(text, b"#!/bin/sh\necho not an ELF\n") {
            self.refused(text, "a text file", ProcError::BadProgram, free);
        }
        if let Some(head) = self.hello_head() {
            if self.write_file(short, &head) {
                self.refused(short, "a truncated ELF", ProcError::BadProgram, free);
            }
        }
        if self.write_other_machine(other) {
            self.refused(
                other,
                "an ELF for another machine",
                ProcError::BadProgram,
                free,
            );
        }
        for path in [text, short, other, TMP] {
            let _ = self.files.unlink(path);
        }
    }

    /// The whole test.
    fn run(&mut self) {
        let first_free = self.cycles();
        self.slots();
        self.same_free(first_free, "after the hogs");
        self.memory(first_free);
        self.bad_programs(first_free);
        match self.procs.stats() {
            Ok(s) if s.processes == 1 => {}
            Ok(s) => self.fail(format_args!(
                "{} processes alive at the end, expected this one alone",
                s.processes
            )),
            Err(e) => self.fail(format_args!("stats at the end: {}", Why(e))),
        }
    }
}

/// The instructions from spawning `path` to the wait reply, the median of
/// [`BENCH_ROUNDS`]; `None` (with the reason printed) on a failure.
fn spawn_and_reap(procs: &Procs, path: &str, name: &str) -> Option<u64> {
    let mut figures = [0u64; BENCH_ROUNDS];
    for figure in &mut figures {
        let start = libcerne::pmu::cycles();
        let ended = procs.spawn(path, [name]).and_then(|pid| procs.wait(pid));
        let end = libcerne::pmu::cycles();
        match ended {
            Ok(s) if s.how == how::EXITED && s.code == 0 => *figure = end - start,
            Ok(s) => {
                println!(
                    "proctest: FAIL bench: {name} ended with how {} code {}",
                    s.how, s.code
                );
                return None;
            }
            Err(e) => {
                println!("proctest: FAIL bench: {name}: {}", Why(e));
                return None;
            }
        }
    }
    figures.sort_unstable();
    Some(figures[BENCH_ROUNDS / 2])
}

/// `proctest bench`.
fn bench(env: &Env) -> i32 {
    let procs = env.procs();
    let mut code = 0;
    for (path, name) in [("/bin/true", "true"), ("/bin/big", "big")] {
        match spawn_and_reap(&procs, path, name) {
            Some(n) => println!("proctest: bench spawn+reap {name} {n} instructions"),
            None => code = 1,
        }
    }
    code
}

fn main(env: &Env) -> i32 {
    if env.arg(1) == Some("bench") {
        return bench(env);
    }
    let mut test = Test {
        procs: env.procs(),
        files: env.files(),
        env,
        failures: 0,
    };
    test.run();
    if test.failures == 0 {
        println!("proctest: ok");
        0
    } else {
        println!("proctest: {} failures", test.failures);
        1
    }
}

libcerne::program!(main);
