//! The fault-injection campaign (docs/supervisor.md, `cargo xtask
//! reliability`): in the style of MINIX 3's and the SWIFI studies, one
//! injection at a time into a running driver or server (blk, fs, pong),
//! many per boot, while a workload writes files, fsyncs them, and reads
//! back and checksums what was acknowledged.
//!
//! Built without the `reliability` feature it stops at once: the default
//! system carries it idle. With it, the seed and the number of injections
//! come from the build (`CERNE_CAMPAIGN_SEED`, `CERNE_CAMPAIGN_INJECTIONS`)
//! so that a seed reproduces a run exactly under `-icount`.
//!
//! Per injection it prints one `[campaign] inj ...` line; at the end one
//! `[campaign] acked <path> <len> <crc>` line per file whose last fsync
//! returned (the host checks those against the disk image) and the
//! summary, then halts the machine.
#![no_std]
#![no_main]

use core::fmt::Write;

use libcerne::files::{flags, Files, FsError};
use libcerne::interface::{BufRange, Error, ProtocolError, SharedBuffer};
use libcerne::sel4::{Cap, Endpoint, Notification, Tcb};
use libcerne::supervisor::{self, Injection, State, SupervisorError};

include!(concat!(env!("OUT_DIR"), "/campaign.rs"));

/// The components injected into.
const TARGETS: [&str; 3] = ["blk", "fs", "pong"];
/// Files of the workload.
const FILES: usize = 4;
/// Bytes of one file version.
const FILE_BYTES: usize = 24 * 1024;
/// How long an injection with no visible effect is watched (ms).
const QUIET_MS: u64 = 60;
/// The watchdog of each injection: a target whose clients got no answer
/// for this long is restarted as stuck (ms).
const DEADLINE_MS: u64 = 1000;
/// Longer than the targets' `restart_stable_ms` in systems/default.toml.
const STABLE_MS: u64 = 150;
/// Tries of one workload step before it counts as failed.
const TRIES: usize = 4;
/// Written by the host when it boots the campaign again after a hang
/// (`cargo xtask reliability`): the decimal number of the injection to
/// start from. The injections before it are drawn and skipped, so
/// injection k is the same in every boot.
const START_FILE: &str = "/campaign/start";

fn parse_u64(s: Option<&str>, default: u64) -> u64 {
    let Some(s) = s else { return default };
    let (digits, radix) = match s.strip_prefix("0x") {
        Some(h) => (h, 16),
        None => (s, 10),
    };
    u64::from_str_radix(digits, radix).unwrap_or(default)
}

/// SplitMix64.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// What the workload knows of one file: the checksum of the version whose
/// fsync returned, or nothing (never written, or a write of a newer
/// version failed, so its contents are not promised).
#[derive(Clone, Copy)]
struct Acked {
    len: usize,
    crc: u32,
}

struct Workload {
    files: Files<Cap<Endpoint>>,
    acked: [Option<Acked>; FILES],
    data: [u8; FILE_BYTES],
    ops: u64,
    errors: u64,
    lost: u64,
}

fn path(i: usize) -> &'static str {
    ["/rel/f0.bin", "/rel/f1.bin", "/rel/f2.bin", "/rel/f3.bin"][i % FILES]
}

/// Whether a failed call is one a client of a restarting server expects.
fn recoverable(e: &Error<FsError>) -> bool {
    matches!(
        e,
        Error::Protocol(ProtocolError::Restarted | ProtocolError::Unavailable)
            | Error::Server(FsError::Stale | FsError::UnknownHandle | FsError::Io)
    )
}

impl Workload {
    /// Writes a new version of file `i` and fsyncs it.
    fn write(&mut self, i: usize, seed: u64) -> Result<(), Error<FsError>> {
        let mut r = Random(seed);
        for chunk in self.data.chunks_mut(8) {
            let w = r.next().to_le_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
        let len = FILE_BYTES - (seed as usize % 4096);
        self.acked[i] = None;
        let h = self
            .files
            .open(path(i), flags::WRITE | flags::CREATE | flags::TRUNCATE)?;
        let written = self.files.write(h, &self.data[..len]);
        let synced = written.and_then(|_| self.files.fsync(h));
        let _ = self.files.close(h);
        synced?;
        self.acked[i] = Some(Acked {
            len,
            crc: crc32fast::hash(&self.data[..len]),
        });
        Ok(())
    }

    /// Reads file `i` back; false when an acknowledged version differs.
    fn verify(&mut self, i: usize) -> Result<bool, Error<FsError>> {
        let Some(a) = self.acked[i] else {
            return Ok(true);
        };
        let h = self.files.open(path(i), flags::READ)?;
        let mut crc = crc32fast::Hasher::new();
        let mut total = 0;
        let result = loop {
            match self.files.read(h, &mut self.data) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    crc.update(&self.data[..n]);
                    total += n;
                }
                Err(e) => break Err(e),
            }
        };
        let _ = self.files.close(h);
        result?;
        Ok(total == a.len && crc.finalize() == a.crc)
    }

    /// One step, tried again after the errors a restart causes.
    /// Each write is bracketed by `unacked` and `acked` lines, so that the
    /// host knows what must read back even if the boot ends mid-step.
    fn step(&mut self, console: &mut impl Write, k: u64, seed: u64) {
        let f = (k as usize) % FILES;
        for _ in 0..TRIES {
            self.ops += 1;
            self.acked[f] = None;
            self.report(console, f);
            match self.write(f, seed) {
                Ok(()) => {
                    self.report(console, f);
                    break;
                }
                Err(e) if recoverable(&e) => self.errors += 1,
                Err(_) => {
                    self.errors += 1;
                    break;
                }
            }
        }
        let g = (f + 2) % FILES;
        for _ in 0..TRIES {
            self.ops += 1;
            match self.verify(g) {
                Ok(true) => break,
                Ok(false) => {
                    self.lost += 1;
                    break;
                }
                Err(e) if recoverable(&e) => self.errors += 1,
                Err(_) => {
                    self.errors += 1;
                    break;
                }
            }
        }
    }
}

impl Workload {
    /// The injection to start from: [`START_FILE`], or 0.
    fn start(&mut self) -> u64 {
        let Ok(h) = self.files.open(START_FILE, flags::READ) else {
            return 0;
        };
        let mut text = [0u8; 20];
        let n = self.files.read(h, &mut text).unwrap_or(0);
        let _ = self.files.close(h);
        core::str::from_utf8(&text[..n])
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0)
    }

    /// One line for file `i`'s promise: what must read back, or nothing.
    fn report(&self, console: &mut impl Write, i: usize) {
        let _ = match self.acked[i] {
            Some(a) => writeln!(
                console,
                "[campaign] acked {} {} {:#010x}",
                path(i),
                a.len,
                a.crc
            ),
            None => writeln!(console, "[campaign] unacked {}", path(i)),
        };
    }
}

struct Supervisor {
    client: supervisor::protocol::Client<Cap<Endpoint>>,
    buffer: SharedBuffer,
}

impl Supervisor {
    fn name(&self, name: &str) -> BufRange {
        let _ = self.buffer.write(0, name.as_bytes());
        BufRange::new(0, name.len() as u32)
    }
}

fn main(_arg: usize, _cycles: u64) -> ! {
    if !cfg!(feature = "reliability") {
        let _ = Cap::<Tcb>::from_cptr(caps::TCB).suspend();
        unreachable!("a suspended thread does not run");
    }
    let seed = parse_u64(option_env!("CERNE_CAMPAIGN_SEED"), 1);
    let injections = parse_u64(option_env!("CERNE_CAMPAIGN_INJECTIONS"), 200);
    let mut console = libcerne::console!();
    let sup = Supervisor {
        client: supervisor::protocol::Client::new(Cap::from_cptr(caps::SUPERVISOR)),
        // SAFETY: the description maps the supervisor channel's buffer
        // read-write for the whole run; reached only through this value.
        buffer: unsafe {
            SharedBuffer::new(addrs::SUPERVISOR_BUFFER, addrs::SUPERVISOR_BUFFER_SIZE)
        },
    };
    let mut work = Workload {
        files: libcerne::files!(),
        acked: [None; FILES],
        data: [0; FILE_BYTES],
        ops: 0,
        errors: 0,
        lost: 0,
    };
    // The boot's file checks first: the file server is busy for seconds
    // while fsabuse fills the disk, which the watchdog would take for a
    // stuck target.
    let _ = Cap::<Notification>::from_cptr(caps::NOTIFICATION).wait();
    let _ = work.files.mkdir("/rel");
    let first = work.start();
    let _ = writeln!(
        console,
        "[campaign] start: seed {seed:#x}, {injections} injections into {TARGETS:?} from injection {first}"
    );
    let mut random = Random(seed);
    for k in 0..injections {
        let target = TARGETS[(random.next() % TARGETS.len() as u64) as usize];
        let how = Injection::ALL[(random.next() % Injection::ALL.len() as u64) as usize];
        let inj_seed = random.next();
        if k < first {
            continue;
        }
        let ops_before = work.ops;
        let name = sup.name(target);
        let stuck_before = sup
            .client
            .status(supervisor::Named { name })
            .map_or(0, |s| s.stuck);
        let name = sup.name(target);
        let injected = sup.client.inject(supervisor::Inject {
            name,
            how: how as u64,
            seed: inj_seed,
            deadline_ms: DEADLINE_MS,
        });
        let incarnation = match injected {
            Ok(done) => done.incarnation,
            Err(Error::Server(SupervisorError::NotRunning)) => {
                let _ = writeln!(
                    console,
                    "[campaign] inj {k} target {target} how {} seed {inj_seed:#x} outcome skipped",
                    how.name()
                );
                continue;
            }
            Err(e) => {
                let _ = writeln!(console, "[campaign] inject {target}: {e:?}");
                continue;
            }
        };
        // The workload runs into the fault.
        work.step(&mut console, k, inj_seed);
        let name = sup.name(target);
        let status = sup.client.settle(supervisor::Settle {
            name,
            incarnation,
            quiet_ms: QUIET_MS,
        });
        let (outcome, ticks) = match status {
            Ok(s) if State::from_code(s.state) == Some(State::Held) => ("held", 0),
            Ok(s) if s.stuck > stuck_before && s.incarnation > incarnation => {
                ("stuck-restarted", s.last_recovery_ticks)
            }
            Ok(s) if s.incarnation > incarnation => ("restarted", s.last_recovery_ticks),
            Ok(_) => ("no-effect", 0),
            Err(_) => ("unknown", 0),
        };
        if let Ok(s) = status {
            if s.incarnation > incarnation {
                // Let it run long enough to count as stable before the
                // next injection, so that one-at-a-time injections are not
                // taken for a component failing again and again.
                let name = sup.name(target);
                let _ = sup.client.settle(supervisor::Settle {
                    name,
                    incarnation: s.incarnation,
                    quiet_ms: STABLE_MS,
                });
            }
        }
        if outcome == "no-effect" {
            // Latent damage would carry over into the next injection: a
            // clean restart first (counted apart).
            let name = sup.name(target);
            if sup
                .client
                .inject(supervisor::Inject {
                    name,
                    how: Injection::Fault as u64,
                    seed: 0,
                    deadline_ms: 0,
                })
                .is_ok()
            {
                let name = sup.name(target);
                if let Ok(s) = sup.client.settle(supervisor::Settle {
                    name,
                    incarnation,
                    quiet_ms: 10_000,
                }) {
                    let name = sup.name(target);
                    let _ = sup.client.settle(supervisor::Settle {
                        name,
                        incarnation: s.incarnation,
                        quiet_ms: STABLE_MS,
                    });
                }
            }
        }
        let _ = writeln!(
            console,
            "[campaign] inj {k} target {target} how {} seed {inj_seed:#x} outcome {outcome} recovery_ticks {ticks} ops {}",
            how.name(),
            work.ops - ops_before
        );
    }
    // The end: everything acknowledged must read back.
    for i in 0..FILES {
        for _ in 0..TRIES {
            match work.verify(i) {
                Ok(true) => break,
                Ok(false) => {
                    work.lost += 1;
                    let _ = writeln!(console, "[campaign] lost {}", path(i));
                    break;
                }
                Err(_) => work.errors += 1,
            }
        }
        work.report(&mut console, i);
    }
    let _ = writeln!(
        console,
        "[campaign] done: {injections} injections, {} workload operations, {} errors recovered, {} acknowledged files lost",
        work.ops, work.errors, work.lost
    );
    libcerne::syscalls::debug_halt();
}

// The spec gives the stack (the description's `stack`): no static one.
libcerne::entry!(main, static_stack = 0);
