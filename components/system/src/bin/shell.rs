//! The shell (docs/shell.md): a prompt on the console that lists, prints,
//! writes and removes files through the file server, runs programs from
//! `/bin` through the process manager, and shows processes, priorities,
//! memory and time since boot, and every thread of the system (the
//! kernel's DebugThreadInfo).
//!
//! Line editing and parsing are `cerne-shell`'s (tested on the host); this
//! program only moves bytes between the console and the servers. It reads
//! the console only while no foreground program runs, so that a program
//! it waits for may read what is typed (the console serves one reader at a
//! time).
#![no_std]
#![no_main]

use core::fmt::{self, Display, Write};

use cerne_shell::{parse, Command, LineEditor, Path, Run, HELP, MAX_LINE};
use libcerne::console::Console;
use libcerne::files::{flags, Files};
use libcerne::interface::{BufRange, Error, SharedBuffer};
use libcerne::policy::{self, PrioInfo};
use libcerne::procs::{self, how, ProcessRecord};
use libcerne::sel4::{Cap, Endpoint};
use libcerne::supervisor::{self, Injection};
use zerocopy::FromBytes;

include!(concat!(env!("OUT_DIR"), "/shell.rs"));

/// What the shell prints before each line.
const PROMPT: &str = "cerne> ";
/// Most processes `ps` shows.
const MAX_LISTED: usize = 64;
/// Most threads `threads` lists (the default system has 13, and the
/// process manager at most 64 processes).
const MAX_THREADS: usize = 96;
/// Bytes of a [`ProcessRecord`].
const RECORD: usize = core::mem::size_of::<ProcessRecord>();
/// Bytes in a KiB.
const KIB: u64 = 1024;

type Ep = Cap<Endpoint>;

/// A client call's error as the shell prints it: the server's own error by
/// name, a protocol error by its variant.
struct Why<E>(Error<E>);

impl<E: Display> Display for Why<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Error::Server(e) => e.fmt(f),
            Error::Protocol(p) => write!(f, "{p:?}"),
        }
    }
}

/// Console output, gathered so that a line costs one call to the driver.
struct Out {
    console: Console,
    bytes: [u8; 512],
    len: usize,
}

impl Out {
    fn put(&mut self, data: &[u8]) {
        for &b in data {
            if self.len == self.bytes.len() {
                self.flush();
            }
            self.bytes[self.len] = b;
            self.len += 1;
        }
    }

    fn flush(&mut self) {
        self.console.write(&self.bytes[..self.len]);
        self.len = 0;
    }
}

impl Write for Out {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.put(s.as_bytes());
        Ok(())
    }
}

struct Shell {
    out: Out,
    files: Files<Ep>,
    procs: procs::protocol::Client<Ep>,
    procs_buffer: SharedBuffer,
    policy: policy::protocol::Client<Ep>,
    supervisor: supervisor::protocol::Client<Ep>,
    supervisor_buffer: SharedBuffer,
}

impl Shell {
    /// Carries out one command.
    fn run(&mut self, command: Command<'_>) {
        match command {
            Command::Empty => {}
            Command::Help => self.out.put(HELP.as_bytes()),
            Command::Ls(dir) => self.ls(&dir),
            Command::Cat(file) => self.cat(&file),
            Command::Write(file, text) => self.write(&file, text),
            Command::Rm(path) => match self.files.unlink(path.as_str()) {
                Ok(()) => self.make_durable("rm"),
                Err(e) => {
                    let _ = writeln!(self.out, "rm: {path}: {}", Why(e));
                }
            },
            Command::Mkdir(path) => match self.files.mkdir(path.as_str()) {
                Ok(()) => self.make_durable("mkdir"),
                Err(e) => {
                    let _ = writeln!(self.out, "mkdir: {path}: {}", Why(e));
                }
            },
            Command::Run(run) => self.spawn(&run),
            Command::Ps => self.ps(),
            Command::Kill(pid) => match self.procs.kill(procs::PidOnly { pid: pid.into() }) {
                Ok(_) => {
                    let _ = writeln!(self.out, "killed {pid}");
                }
                Err(e) => {
                    let _ = writeln!(self.out, "kill: {pid}: {}", Why(e));
                }
            },
            Command::Prio(pid, max) => self.prio(pid, max),
            Command::Mem => self.mem(),
            Command::Uptime => self.uptime(),
            Command::Crash(component, how) => self.crash(component, how),
            Command::Caps(component) => self.caps(component),
            Command::Restarts => self.restarts(),
            Command::Threads => self.threads(),
            Command::Policy(on) => self.set_policy(on),
        }
    }

    /// Makes a change of the namespace durable before the prompt comes
    /// back, as `write` does for a file: the file server keeps changes in
    /// its cache until an fsync (docs/file-server.md), and an fsync of any
    /// handle writes back everything, so the shell fsyncs the root.
    fn make_durable(&mut self, what: &str) {
        let synced = self
            .files
            .open(
                "/",
                libcerne::files::flags::READ | libcerne::files::flags::DIRECTORY,
            )
            .and_then(|h| {
                let r = self.files.fsync(h);
                let _ = self.files.close(h);
                r
            });
        if let Err(e) = synced {
            let _ = writeln!(
                self.out,
                "{what}: done, but not yet on the disk: {}",
                Why(e)
            );
        }
    }

    fn ls(&mut self, dir: &Path) {
        let out = &mut self.out;
        let listed = self.files.list(dir.as_str(), |name, size, is_dir| {
            let name = core::str::from_utf8(name).unwrap_or("?");
            let slash = if is_dir { "/" } else { "" };
            let _ = writeln!(out, "{size:>10}  {name}{slash}");
        });
        if let Err(e) = listed {
            let _ = writeln!(self.out, "ls: {dir}: {}", Why(e));
        }
    }

    fn cat(&mut self, file: &Path) {
        let handle = match self.files.open(file.as_str(), flags::READ) {
            Ok(h) => h,
            Err(e) => {
                let _ = writeln!(self.out, "cat: {file}: {}", Why(e));
                return;
            }
        };
        let mut chunk = [0u8; 512];
        let mut last = b'\n';
        loop {
            match self.files.read(handle, &mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    self.out.put(&chunk[..n]);
                    last = chunk[n - 1];
                    if n < chunk.len() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = writeln!(self.out, "\ncat: {file}: {}", Why(e));
                    break;
                }
            }
        }
        if last != b'\n' {
            self.out.put(b"\n");
        }
        let _ = self.files.close(handle);
    }

    fn write(&mut self, file: &Path, text: &str) {
        let mut data = [0u8; MAX_LINE + 1];
        data[..text.len()].copy_from_slice(text.as_bytes());
        data[text.len()] = b'\n';
        let data = &data[..text.len() + 1];
        let written = self
            .files
            .open(
                file.as_str(),
                flags::WRITE | flags::CREATE | flags::TRUNCATE,
            )
            .and_then(|h| {
                let r = self.files.write(h, data).and_then(|_| self.files.fsync(h));
                let closed = self.files.close(h);
                r.and(closed)
            });
        if let Err(e) = written {
            let _ = writeln!(self.out, "write: {file}: {}", Why(e));
        }
    }

    /// `run`: spawns the program, and waits for it unless it runs in the
    /// background.
    fn spawn(&mut self, run: &Run<'_>) {
        let path = run.path.as_str();
        let args_at = path.len().next_multiple_of(8);
        let mut args = [0u8; MAX_LINE + 1];
        let request = run
            .encode_args(&mut args)
            .ok_or(Error::Server(procs::ProcError::BadArguments))
            .and_then(|n| {
                self.procs_buffer.write(0, path.as_bytes())?;
                self.procs_buffer.write(args_at, &args[..n])?;
                Ok(procs::Spawn {
                    path: BufRange::new(0, path.len() as u32),
                    args: BufRange::new(args_at as u32, n as u32),
                })
            });
        let pid = match request.and_then(|r| self.procs.spawn(r)) {
            Ok(spawned) => spawned.pid,
            Err(e) => {
                let _ = writeln!(self.out, "run: {}: {}", run.name, Why(e));
                return;
            }
        };
        if run.background {
            let _ = writeln!(self.out, "[pid {pid}] started");
            return;
        }
        // The program may print: what the shell has to say goes first.
        self.out.flush();
        match self.procs.wait(procs::PidOnly { pid }) {
            Ok(status) => self.ended(&status),
            Err(e) => {
                let _ = writeln!(self.out, "run: {}: wait: {}", run.name, Why(e));
            }
        }
    }

    /// How a waited-for process ended.
    fn ended(&mut self, s: &procs::Status) {
        let pid = s.pid;
        let _ = match s.how {
            how::EXITED => writeln!(self.out, "[pid {pid}] exit {}", s.code),
            how::KILLED => writeln!(self.out, "[pid {pid}] killed"),
            how::FAULTED => writeln!(
                self.out,
                "[pid {pid}] fault {} at {:#x}",
                cerne_shell::fault_name(s.code),
                s.address
            ),
            other => writeln!(self.out, "[pid {pid}] ended (how {other})"),
        };
    }

    fn ps(&mut self) {
        let room = (MAX_LISTED * RECORD).min(self.procs_buffer.len());
        let listed = self.procs.list(procs::List {
            out: BufRange::new(0, room as u32),
        });
        let entries = match listed {
            Ok(l) => (l.entries as usize).min(room / RECORD),
            Err(e) => {
                let _ = writeln!(self.out, "ps: {}", Why(e));
                return;
            }
        };
        let _ = writeln!(self.out, "  PID PRIO      BYTES NAME");
        for i in 0..entries {
            let mut bytes = [0u8; RECORD];
            if self.procs_buffer.read(i * RECORD, &mut bytes).is_err() {
                break;
            }
            let Ok(r) = ProcessRecord::read_from_bytes(&bytes) else {
                break;
            };
            // The policy moves priorities; without its answer, the one the
            // process was spawned at.
            let prio = self
                .policy
                .get(policy::PidOnly { pid: r.pid.into() })
                .map_or(u64::from(r.priority), |info| info.current);
            let _ = writeln!(
                self.out,
                "{:>5} {prio:>4} {:>10} {}",
                r.pid,
                r.bytes,
                r.name()
            );
        }
    }

    fn prio(&mut self, pid: u32, max: Option<u64>) {
        let pid = u64::from(pid);
        let info = match max {
            None => self.policy.get(policy::PidOnly { pid }),
            Some(max) => self.policy.set(policy::SetPrio { pid, max }),
        };
        match info {
            Ok(i) => self.prio_info(&i),
            Err(e) => {
                let _ = writeln!(self.out, "prio: {pid}: {}", Why(e));
            }
        }
    }

    fn set_policy(&mut self, on: bool) {
        let r = self.policy.enable(policy::Enable { on: u64::from(on) });
        let _ = match r {
            Ok(_) if on => writeln!(self.out, "policy on"),
            Ok(_) => writeln!(
                self.out,
                "policy off: every process at its highest priority"
            ),
            Err(e) => writeln!(self.out, "policy: {}", Why(e)),
        };
    }

    /// Puts `name` at the start of the supervisor buffer.
    fn supervisor_name(&mut self, name: &str) -> BufRange {
        let len = name.len().min(32);
        let _ = self.supervisor_buffer.write(0, &name.as_bytes()[..len]);
        BufRange::new(0, len as u32)
    }

    fn crash(&mut self, component: &str, how: &str) {
        let Some(injection) = Injection::parse(how) else {
            let mut names = [""; Injection::ALL.len()];
            for (n, i) in names.iter_mut().zip(Injection::ALL) {
                *n = i.name();
            }
            let _ = writeln!(
                self.out,
                "crash: no such way to fail: '{how}'; one of {names:?}"
            );
            return;
        };
        let name = self.supervisor_name(component);
        let seed = libcerne::generic_timer::physical_count();
        match self.supervisor.inject(supervisor::Inject {
            name,
            how: injection as u64,
            seed,
            deadline_ms: 0,
        }) {
            Ok(done) => {
                let _ = writeln!(
                    self.out,
                    "crash: {} injected into {component} (incarnation {}, at {:#x}); the supervisor reports the restart",
                    injection.name(),
                    done.incarnation,
                    done.address
                );
            }
            Err(e) => {
                let _ = writeln!(self.out, "crash: {component}: {}", Why(e));
            }
        }
    }

    /// Prints the text the supervisor wrote after the name.
    fn supervisor_text(&mut self, len: u64) {
        let mut bytes = [0u8; 256];
        let mut at = 64usize;
        let end = 64 + len as usize;
        while at < end {
            let n = (end - at).min(bytes.len());
            if self.supervisor_buffer.read(at, &mut bytes[..n]).is_err() {
                break;
            }
            self.out.put(&bytes[..n]);
            at += n;
        }
    }

    fn text_range(&self) -> BufRange {
        BufRange::new(64, (self.supervisor_buffer.len() - 64) as u32)
    }

    fn caps(&mut self, component: &str) {
        let name = self.supervisor_name(component);
        let out = self.text_range();
        match self.supervisor.caps(supervisor::CapsOf { name, out }) {
            Ok(w) => self.supervisor_text(w.len),
            Err(e) => {
                let _ = writeln!(self.out, "caps: {component}: {}", Why(e));
            }
        }
    }

    fn restarts(&mut self) {
        let out = self.text_range();
        match self.supervisor.report(supervisor::Out { out }) {
            Ok(w) => self.supervisor_text(w.len),
            Err(e) => {
                let _ = writeln!(self.out, "restarts: {}", Why(e));
            }
        }
    }

    /// `threads`: every thread of the kernel's list, read with
    /// DebugThreadInfo one at a time (the first [`MAX_THREADS`] listed).
    fn threads(&mut self) {
        use cerne_shell::threads::{Line, Summary, Thread, HEADER};
        use libcerne::sel4::syscall::{debug_thread_info, ThreadInfo};
        let mut infos = [None::<ThreadInfo>; MAX_THREADS];
        let mut n = 0;
        let mut more = 0;
        while let Some(info) = debug_thread_info((n + more) as u64) {
            match infos.get_mut(n) {
                Some(slot) => {
                    *slot = Some(info);
                    n += 1;
                }
                None => more += 1,
            }
        }
        let mut all = [Thread {
            name: "",
            tcb: 0,
            state: 0,
            priority: 0,
            mcp: 0,
            blocked_on: 0,
        }; MAX_THREADS];
        for (t, info) in all.iter_mut().zip(infos.iter().flatten()) {
            *t = Thread {
                name: info.name(),
                tcb: info.tcb,
                state: info.state,
                priority: info.priority,
                mcp: info.mcp,
                blocked_on: info.blocked_on,
            };
        }
        let all = &all[..n];
        let _ = writeln!(self.out, "{HEADER}");
        for thread in all {
            let _ = writeln!(self.out, "{}", Line { thread, all });
        }
        let _ = writeln!(self.out, "{}", Summary { all, more });
    }

    fn prio_info(&mut self, i: &PrioInfo) {
        let _ = writeln!(
            self.out,
            "pid {}: priority {} (min {}, max {}), cpu {} permille",
            i.pid, i.current, i.min, i.max, i.cpu_permille
        );
    }

    fn mem(&mut self) {
        match self.procs.stats(procs::Empty {}) {
            Ok(m) => {
                let _ = writeln!(
                    self.out,
                    "procs: {} KiB free of {} KiB, largest {} KiB; {} process{}",
                    m.free_bytes / KIB,
                    m.total_bytes / KIB,
                    m.largest_free / KIB,
                    m.processes,
                    if m.processes == 1 { "" } else { "es" }
                );
            }
            Err(e) => {
                let _ = writeln!(self.out, "mem: procs: {}", Why(e));
            }
        }
        match self.files.stats() {
            Ok(s) => {
                let _ = writeln!(
                    self.out,
                    "files: heap {} KiB free, {} KiB used; volume {} KiB free",
                    s.heap_free / KIB,
                    s.heap_used / KIB,
                    s.free_bytes / KIB
                );
            }
            Err(e) => {
                let _ = writeln!(self.out, "mem: files: {}", Why(e));
            }
        }
    }

    fn uptime(&mut self) {
        let hz = libcerne::time::ticks_per_second();
        if hz == 0 {
            let _ = writeln!(self.out, "uptime: the timer has no frequency");
            return;
        }
        let ms = libcerne::time::ticks_to_millis(libcerne::time::now_ticks(), hz);
        let _ = writeln!(self.out, "up {}.{:03} s", ms / 1000, ms % 1000);
    }

    /// Reads, edits and runs lines, forever.
    fn serve(&mut self, editor: &mut LineEditor) -> ! {
        let _ = write!(self.out, "{PROMPT}");
        self.out.flush();
        let mut busy_reported = false;
        loop {
            let mut typed = [0u8; 64];
            let n = match self.out.console.read(&mut typed) {
                Ok(n) => n,
                Err(Error::Server(libcerne::console::ConsoleError::Busy)) => {
                    // A background program is waiting for input: let it
                    // have the keyboard and try again later.
                    if !busy_reported {
                        busy_reported = true;
                        let _ = writeln!(self.out, "\n[shell] another program reads the console");
                        self.out.flush();
                    }
                    libcerne::sel4::syscall::yield_now();
                    continue;
                }
                Err(e) => {
                    let _ = writeln!(self.out, "\n[shell] the console refused a read: {e:?}");
                    self.out.flush();
                    libcerne::sel4::syscall::yield_now();
                    continue;
                }
            };
            busy_reported = false;
            for &b in &typed[..n] {
                let fed = editor.feed(b);
                for e in fed.echo.bytes() {
                    self.out.put(&[e]);
                }
                let Some(line) = fed.line else { continue };
                // The editor keeps the line until the next byte; the
                // command borrows a copy while the shell runs it.
                let mut copy = [0u8; MAX_LINE];
                copy[..line.len()].copy_from_slice(line.as_bytes());
                let line = core::str::from_utf8(&copy[..line.len()]).unwrap_or("");
                self.out.flush();
                match parse(line) {
                    Ok(command) => self.run(command),
                    Err(usage) => {
                        let _ = writeln!(self.out, "{usage}");
                    }
                }
                let _ = write!(self.out, "{PROMPT}");
            }
            self.out.flush();
        }
    }
}

fn main(_arg: usize, cycles_at_entry: u64) -> ! {
    let mut shell = Shell {
        out: Out {
            console: libcerne::console!(),
            bytes: [0; 512],
            len: 0,
        },
        files: libcerne::files!(),
        procs: procs::protocol::Client::new(Cap::from_cptr(caps::PROCS)),
        // SAFETY: the description maps the procs channel's buffer
        // read-write for the whole run; the shell reaches it only through
        // this SharedBuffer.
        procs_buffer: unsafe { SharedBuffer::new(addrs::PROCS_BUFFER, addrs::PROCS_BUFFER_SIZE) },
        policy: policy::protocol::Client::new(Cap::from_cptr(caps::POLICY)),
        supervisor: supervisor::protocol::Client::new(Cap::from_cptr(caps::SUPERVISOR)),
        // SAFETY: the description maps the supervisor channel's buffer
        // read-write for the whole run; reached only through this value.
        supervisor_buffer: unsafe {
            SharedBuffer::new(addrs::SUPERVISOR_BUFFER, addrs::SUPERVISOR_BUFFER_SIZE)
        },
    };
    if cfg!(feature = "boot-bench") {
        let _ = writeln!(
            shell.out,
            "[shell] first instruction at cycle {cycles_at_entry}"
        );
    }
    let _ = writeln!(shell.out, "\nCerne shell: type help for the commands");
    shell.serve(&mut LineEditor::new())
}

// The spec gives the stack (the description's `stack`): no static one.
libcerne::entry!(main, static_stack = 0);
