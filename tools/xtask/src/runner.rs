//! Running QEMU: the console is echoed as it comes (when asked), scanned for
//! the kernel's markers, and the run is bounded in time. QEMU is stopped with
//! SIGTERM first, so an interactive terminal is restored.
//!
//! Input is either typed at once ([`Options::input`]: QEMU holds it until
//! the UART takes it) or scripted ([`run_scripted`]): each [`Step`] is typed
//! when the console has shown what it waits for since the step before, so
//! that a session can wait for a shell's prompt between commands. The
//! run's time limit bounds a script that stalls like any other run.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use crate::cargo;
use crate::console::{End, Outcome, Scan, Transcript};
use crate::error::{Context, Result};
use crate::qemu::{self, Machine};
use crate::setup;

/// How long the guest may take to power off after a final marker.
const GRACE: Duration = Duration::from_secs(5);
/// How long QEMU may take to exit after SIGTERM before it gets SIGKILL.
const TERM_WAIT: Duration = Duration::from_secs(3);

/// How to run an image.
pub struct Options<'a> {
    /// The virtual machine.
    pub machine: Machine,
    /// Stop QEMU after this long.
    pub timeout: Option<Duration>,
    /// Pass our stdin to the guest console (else the guest gets none).
    pub interactive: bool,
    /// Copy the console to our stdout as it comes.
    pub echo: bool,
    /// Write the whole transcript here afterwards.
    pub log: Option<PathBuf>,
    /// Stop QEMU as soon as a console line satisfies this.
    pub stop_when: Option<&'a dyn Fn(&str) -> bool>,
    /// Bytes to type into the guest's serial console (stdin), as soon as
    /// QEMU starts; QEMU holds them until the UART can take them.
    pub input: Option<&'a [u8]>,
}

/// One step of a scripted session.
#[derive(Debug, Clone)]
pub struct Step {
    /// Texts that must all have appeared on the console since the step
    /// before was typed (since QEMU started, for the first step); a text
    /// may lie within a line, or in a line not yet ended (a prompt); a
    /// text ending in `\n` must end a line.
    pub after: Vec<String>,
    /// What to type then.
    pub send: Vec<u8>,
    /// When set, what to type is made from the console text seen since
    /// the step before (e.g. a pid a command printed) instead of `send`.
    pub make: Option<fn(&str) -> Vec<u8>>,
}

impl Step {
    /// Types `line` and Enter once every text of `after` was seen.
    pub fn line(after: &[&str], line: &str) -> Self {
        Step {
            after: after.iter().map(|s| s.to_string()).collect(),
            send: format!("{line}\r").into_bytes(),
            make: None,
        }
    }

    /// Types what `make` makes of the text seen since the step before
    /// (it ends its line itself), once every text of `after` was seen.
    pub fn made(after: &[&str], make: fn(&str) -> Vec<u8>) -> Self {
        Step {
            make: Some(make),
            ..Step::line(after, "")
        }
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct Run {
    /// Everything printed.
    pub transcript: Transcript,
    /// How QEMU stopped.
    pub end: End,
    /// The verdict.
    pub outcome: Outcome,
    /// Wall-clock time of the run.
    pub elapsed: Duration,
    /// Steps of the script typed (0 without a script).
    pub steps_typed: usize,
    /// When (since QEMU started) each typed step was typed.
    pub typed_at: Vec<Duration>,
}

enum Event {
    Console(String),
    /// The bytes of a line not yet ended, so far.
    Partial(String),
    Stderr(String),
    Eof,
}

/// Boots `image` under QEMU with `opts`, and waits for the run to end.
pub fn run(image: &Path, opts: &Options<'_>) -> Result<Run> {
    run_scripted(image, opts, &[])
}

/// Types a scripted session: each step once the console has shown what it
/// waits for.
struct Script<'s> {
    steps: &'s [Step],
    next: usize,
    /// Console text since the last step was typed.
    seen: String,
    /// The line not yet ended.
    partial: String,
    /// Bytes of that line that came before the last step was typed.
    skip: usize,
    stdin: Option<ChildStdin>,
    typed_at: Vec<Duration>,
    /// What was typed, step by step.
    sent: Vec<Vec<u8>>,
}

impl Script<'_> {
    /// Takes one event and types every step now due.
    fn take(&mut self, event: &Event, start: Instant) {
        match event {
            Event::Console(line) => {
                self.seen.push_str(line.get(self.skip..).unwrap_or(""));
                self.seen.push('\n');
                self.partial.clear();
                self.skip = 0;
            }
            Event::Partial(text) => self.partial.clone_from(text),
            Event::Stderr(_) | Event::Eof => return,
        }
        while let Some(step) = self.steps.get(self.next) {
            let fresh = self.partial.get(self.skip..).unwrap_or("");
            let due = step
                .after
                .iter()
                .all(|a| self.seen.contains(a.as_str()) || fresh.contains(a.as_str()));
            if !due {
                break;
            }
            let send = match step.make {
                Some(make) => make(&format!("{}{fresh}", self.seen)),
                None => step.send.clone(),
            };
            if let Some(stdin) = self.stdin.as_mut() {
                // A QEMU that stopped reading has ended; the run ends too.
                let _ = stdin.write_all(&send).and_then(|()| stdin.flush());
            }
            self.sent.push(send);
            self.typed_at.push(start.elapsed());
            self.next += 1;
            self.seen.clear();
            self.skip = self.partial.len();
        }
    }
}

/// Boots `image` under QEMU with `opts`, types `script` step by step (see
/// [`Step`]), and waits for the run to end.
pub fn run_scripted(image: &Path, opts: &Options<'_>, script: &[Step]) -> Result<Run> {
    setup::ensure_qemu()?;
    let mut cmd = qemu::command(image, &opts.machine);
    let line = cargo::display(&cmd);
    if opts.echo {
        eprintln!("+ {line}");
    }
    cmd.stdin(if opts.interactive {
        Stdio::inherit()
    } else if opts.input.is_some() || !script.is_empty() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().context(|| format!("cannot start `{line}`"))?;

    let mut script = Script {
        steps: script,
        next: 0,
        seen: String::new(),
        partial: String::new(),
        skip: 0,
        stdin: None,
        typed_at: Vec::new(),
        sent: Vec::new(),
    };
    if !script.steps.is_empty() {
        script.stdin = child.stdin.take();
        if let (Some(input), Some(stdin)) = (opts.input, script.stdin.as_mut()) {
            let _ = stdin.write_all(input).and_then(|()| stdin.flush());
        }
    } else if let (Some(input), Some(mut stdin)) = (opts.input, child.stdin.take()) {
        let input = input.to_vec();
        // The pipe stays open (QEMU must not see end of input) until the
        // thread ends with the run.
        thread::spawn(move || {
            let _ = stdin.write_all(&input);
            let _ = stdin.flush();
            thread::sleep(Duration::from_secs(3600));
            drop(stdin);
        });
    }
    let (tx, rx) = mpsc::channel();
    let readers = [
        child.stdout.take().map(|out| {
            let tx = tx.clone();
            let echo = opts.echo;
            thread::spawn(move || pump(out, echo, false, tx))
        }),
        child.stderr.take().map(|err| {
            let tx = tx.clone();
            let echo = opts.echo;
            thread::spawn(move || pump(err, echo, true, tx))
        }),
    ];
    drop(tx);

    let mut state = State::default();
    let time_limit = opts.timeout.map(|t| start + t);
    let end = loop {
        let deadline = [time_limit, state.grace].into_iter().flatten().min();
        let event = match deadline {
            Some(d) => rx.recv_timeout(d.saturating_duration_since(Instant::now())),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match event {
            Ok(event) => {
                script.take(&event, start);
                if state.take(event, opts.stop_when) {
                    terminate(&mut child);
                    break End::Stopped;
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                let grace_over = state.grace.is_some_and(|g| Instant::now() >= g);
                if opts.echo {
                    eprintln!(
                        "\n[xtask] {}; stopping QEMU",
                        if grace_over {
                            "the guest did not power off after its final message"
                        } else {
                            "time limit reached"
                        }
                    );
                }
                terminate(&mut child);
                break if grace_over {
                    End::Stopped
                } else {
                    End::TimedOut
                };
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = child.wait().context(|| "cannot wait for QEMU".to_owned())?;
                break End::Exited(status.code());
            }
        }
    };
    // Whatever was still in the pipes after QEMU stopped.
    drain(&rx, &mut state);
    for reader in readers.into_iter().flatten() {
        let _ = reader.join();
    }

    drop(script.stdin.take());
    let run = Run {
        outcome: Outcome::judge(&state.scan, end),
        transcript: state.transcript,
        end,
        elapsed: start.elapsed(),
        steps_typed: script.next,
        typed_at: script.typed_at,
    };
    if let Some(log) = &opts.log {
        write_log(log, &line, &run)?;
    }
    Ok(run)
}

#[derive(Default)]
struct State {
    transcript: Transcript,
    scan: Scan,
    grace: Option<Instant>,
}

impl State {
    /// Records one event; true if the caller's stop condition was met.
    fn take(&mut self, event: Event, stop_when: Option<&dyn Fn(&str) -> bool>) -> bool {
        match event {
            Event::Console(line) => {
                if self.scan.feed(&line).is_some() && self.grace.is_none() {
                    self.grace = Some(Instant::now() + GRACE);
                }
                let stop = stop_when.is_some_and(|f| f(&line));
                self.transcript.console.push(line);
                stop
            }
            Event::Stderr(line) => {
                self.transcript.stderr.push(line);
                false
            }
            Event::Partial(_) | Event::Eof => false,
        }
    }
}

fn drain(rx: &Receiver<Event>, state: &mut State) {
    while let Ok(event) = rx.recv_timeout(TERM_WAIT) {
        state.take(event, None);
    }
}

/// Copies a pipe to our terminal (if `echo`) and sends it on line by line.
fn pump(mut from: impl Read, echo: bool, is_stderr: bool, tx: Sender<Event>) {
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    let send_line = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim_end_matches(['\r', '\n']).to_owned();
        let _ = tx.send(if is_stderr {
            Event::Stderr(text)
        } else {
            Event::Console(text)
        });
    };
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if echo {
            // A closed terminal must not stop the scan; ignore write errors.
            let _ = if is_stderr {
                let mut e = std::io::stderr().lock();
                e.write_all(&buf[..n]).and_then(|()| e.flush())
            } else {
                let mut o = std::io::stdout().lock();
                o.write_all(&buf[..n]).and_then(|()| o.flush())
            };
        }
        pending.extend_from_slice(&buf[..n]);
        while let Some(i) = pending.iter().position(|&b| b == b'\n') {
            send_line(&pending[..=i]);
            pending.drain(..=i);
        }
        if !is_stderr && !pending.is_empty() {
            let _ = tx.send(Event::Partial(
                String::from_utf8_lossy(&pending).into_owned(),
            ));
        }
    }
    if !pending.is_empty() {
        send_line(&pending);
    }
    let _ = tx.send(Event::Eof);
}

/// Stops QEMU: SIGTERM (QEMU then restores the terminal), SIGKILL if it
/// lingers.
fn terminate(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        signal::term(pid);
        let until = Instant::now() + TERM_WAIT;
        while Instant::now() < until {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

mod signal {
    //! SIGTERM for a child process (std only offers SIGKILL).

    const SIGTERM: i32 = 15;

    extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }

    /// Sends SIGTERM to `pid`.
    pub fn term(pid: i32) {
        // SAFETY: kill(2) takes plain integers and touches no memory of ours;
        // `pid` is our own child, which we have not yet reaped, so the id
        // cannot have been reused by another process.
        unsafe {
            kill(pid, SIGTERM);
        }
    }
}

fn write_log(path: &Path, command: &str, run: &Run) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut text = format!("+ {command}\n");
    for line in &run.transcript.console {
        text.push_str(line);
        text.push('\n');
    }
    if !run.transcript.stderr.is_empty() {
        text.push_str("--- QEMU stderr ---\n");
        for line in &run.transcript.stderr {
            text.push_str(line);
            text.push('\n');
        }
    }
    text.push_str(&format!(
        "--- {:?} after {:.1} s: {}\n",
        run.end,
        run.elapsed.as_secs_f64(),
        run.outcome.describe()
    ));
    std::fs::write(path, text).context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(steps: &[Step]) -> Script<'_> {
        Script {
            steps,
            next: 0,
            seen: String::new(),
            partial: String::new(),
            skip: 0,
            stdin: None,
            typed_at: Vec::new(),
            sent: Vec::new(),
        }
    }

    #[test]
    fn steps_wait_for_fresh_text_even_in_an_unended_line() {
        let steps = [
            Step::line(&["$ ", "ready"], "one"),
            Step::line(&["$ "], "two"),
            Step::made(&["$ "], |seen| {
                let pid = seen.split("pid ").nth(1).unwrap_or("?").trim();
                format!("kill {}\r", pid.split_whitespace().next().unwrap_or("?")).into_bytes()
            }),
        ];
        let mut s = script(&steps);
        let t = Instant::now();
        let console = |s: &mut Script<'_>, l: &str| s.take(&Event::Console(l.into()), t);
        let partial = |s: &mut Script<'_>, l: &str| s.take(&Event::Partial(l.into()), t);
        // The prompt alone is not enough: `ready` is missing.
        partial(&mut s, "$ ");
        assert_eq!(s.next, 0);
        console(&mut s, "[x] ready");
        assert_eq!(s.next, 0, "the prompt came before `ready`, not since");
        partial(&mut s, "$ ");
        assert_eq!(s.next, 1, "both texts were seen");
        // The old prompt, now with the echo, does not count again.
        partial(&mut s, "$ on");
        partial(&mut s, "$ one");
        console(&mut s, "$ one");
        assert_eq!(s.next, 1);
        console(&mut s, "pid 7 started");
        partial(&mut s, "$ ");
        assert_eq!(s.next, 2);
        console(&mut s, "$ two");
        console(&mut s, "pid 9 exit 0");
        partial(&mut s, "$ ");
        assert_eq!(s.next, 3);
        assert_eq!(
            s.sent,
            [b"one\r".to_vec(), b"two\r".to_vec(), b"kill 9\r".to_vec()]
        );
        assert_eq!(s.typed_at.len(), 3);
    }
}
