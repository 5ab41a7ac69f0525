//! What the checks of the debugging tools assert (docs/debugging.md): the
//! shell's `threads` listing of the default system, and the shared pieces
//! of the GDB and tutorial checks.

use crate::console::Transcript;
use crate::expect::Findings;

/// The head of the shell's `threads` listing (shell-core's `HEADER`).
pub const THREADS_HEADER: &str = "NAME             PRIO MCP  STATE";
/// What `threads` is typed after, besides the prompt: ping's last line, so
/// that ping has suspended itself.
pub const THREADS_AFTER: &str = "[ping] 1000 calls to pong";
/// The listing's last line: `N threads: R runnable, B blocked, I inactive`.
pub const THREADS_SUMMARY: &str = "{} threads: {} runnable, {} blocked, {} inactive";

/// One line of the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadLine {
    /// The thread's name.
    pub name: String,
    /// Its priority.
    pub priority: u64,
    /// Its state, by seL4's name.
    pub state: String,
    /// What it waits for (may be empty).
    pub waiting: String,
}

/// Reads the listing that follows the last `THREADS_HEADER` line.
pub fn thread_lines(t: &Transcript) -> Option<(Vec<ThreadLine>, Option<Vec<u64>>)> {
    let head = t.console.iter().rposition(|l| {
        l.trim_start_matches(crate::expect::SHELL_PROMPT)
            .starts_with(THREADS_HEADER)
    })?;
    let mut lines = Vec::new();
    for l in &t.console[head + 1..] {
        if let Some(n) = crate::expect::match_numbers(l, THREADS_SUMMARY) {
            return Some((lines, Some(n)));
        }
        let w: Vec<&str> = l.split_whitespace().collect();
        let (Some(name), Some(priority), Some(state)) = (w.first(), w.get(1), w.get(3)) else {
            continue;
        };
        let Ok(priority) = priority.parse() else {
            continue;
        };
        lines.push(ThreadLine {
            name: name.to_string(),
            priority,
            state: state.to_string(),
            waiting: w.get(4..).map(|r| r.join(" ")).unwrap_or_default(),
        });
    }
    Some((lines, None))
}

/// The assertions on the default system's `threads`: a line for the root
/// task's thread and for every component of the description, once each and
/// at the description's priority; states that fit what the system does by
/// then (the shell running the command, ping done and suspended, pong
/// waiting for a call on its endpoint, the console driver blocked, every
/// other component blocked on an endpoint, a notification or a reply); no
/// unknown state; and the summary counting exactly the lines. Returns the
/// number of threads.
pub fn threads(t: &Transcript, components: &[(String, u64)]) -> Result<usize, Vec<String>> {
    let mut f = Findings::default();
    let Some((lines, summary)) = thread_lines(t) else {
        return Err(vec![format!("no `threads` listing (`{THREADS_HEADER}`)")]);
    };
    let blocked = |s: &str| s.starts_with("BlockedOn");
    for (name, priority) in components {
        let found: Vec<&ThreadLine> = lines.iter().filter(|l| &l.name == name).collect();
        let [line] = found.as_slice() else {
            f.expect(false, || {
                format!(
                    "component `{name}` should be listed once, it is listed {} times",
                    found.len()
                )
            });
            continue;
        };
        f.expect(line.priority == *priority, || {
            format!(
                "`{name}` is listed at priority {}, the description gives {priority}",
                line.priority
            )
        });
        let (ok, want) = match name.as_str() {
            "shell" => (line.state == "Running", "Running (it runs `threads`)"),
            "ping" => (line.state == "Inactive", "Inactive (it suspended itself)"),
            "pong" => (
                line.state == "BlockedOnReceive" && line.waiting.starts_with("recv on endpoint 0x"),
                "BlockedOnReceive, recv on endpoint 0x...",
            ),
            // Done, or (fs-abuse) still running its last case.
            "campaign" | "fscheck" | "fsabuse" => (true, ""),
            _ => (blocked(&line.state), "blocked on something"),
        };
        f.expect(ok, || {
            format!(
                "`{name}` is `{} {}`; it should be {want}",
                line.state, line.waiting
            )
        });
    }
    f.expect(lines.iter().any(|l| l.name == "rootserver"), || {
        "the root task's thread `rootserver` is not listed".into()
    });
    for l in &lines {
        f.expect(l.state != "?", || {
            format!("`{}` has an unknown state", l.name)
        });
        f.expect(!blocked(&l.state) || !l.waiting.is_empty(), || {
            format!("`{}` is {} but waits for nothing", l.name, l.state)
        });
    }
    match summary {
        Some(n) => {
            f.expect(n[0] as usize == lines.len(), || {
                format!(
                    "the summary counts {} threads, {} lines were listed",
                    n[0],
                    lines.len()
                )
            });
            f.expect(n[1] + n[2] + n[3] == n[0], || {
                format!("the summary's kinds {n:?} do not add up")
            });
        }
        None => f.expect(false, || {
            "no summary line `N threads: R runnable, B blocked, I inactive`".into()
        }),
    }
    f.finish(lines.len())
}

/// What the `gdb` check types into gdb-multiarch (batch mode, after the
/// generated script): a breakpoint in pong's main that must stop in pong's
/// thread though other components run the same address first; the thread
/// and backtrace there; then the next kernel entry (pong's first syscall or
/// an interrupt while it runs), where `cerne-bt` shows the kernel's frames
/// and pong's user frames.
pub const GDB_COMMANDS: &str = "\
cerne-break pong pong::main
continue
cerne-thread
bt
delete
hbreak handle_user_entry
continue
cerne-bt
kill
";

/// The assertions on the `gdb` check's output.
pub fn gdb_session(out: &str) -> Result<(), Vec<String>> {
    let mut f = Findings::default();
    let lines: Vec<&str> = out.lines().collect();
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    for (needle, why) in [
        (
            "breakpoint 1 at pong::main stops only in thread 'pong'",
            "cerne-break did not set its breakpoint",
        ),
        ("pong::main (", "the breakpoint in pong::main was not hit"),
        (
            "cerne: thread 'pong' (tcb 0x",
            "cerne-thread did not name pong's thread at the breakpoint",
        ),
        (
            "#0  pong::main",
            "the backtrace at the breakpoint does not start in pong::main",
        ),
        (
            "handle_user_entry (",
            "the backtrace in the kernel does not reach handle_user_entry",
        ),
        (
            "--- kernel entry from thread 'pong'",
            "cerne-bt did not find pong's thread behind the kernel entry",
        ),
    ] {
        f.expect(has(needle), || format!("{why} (no `{needle}`)"));
    }
    f.expect(
        lines
            .iter()
            .any(|l| l.starts_with("u#") && l.contains("pong::main")),
        || "cerne-bt's user frames do not name pong::main".into(),
    );
    f.expect(
        !lines
            .iter()
            .any(|l| l.contains("cerne: thread '") && !l.contains("'pong'")),
        || "a stop was in another thread than pong's".into(),
    );
    f.finish(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcript(text: &str) -> Transcript {
        Transcript {
            console: text.lines().map(str::to_owned).collect(),
            stderr: Vec::new(),
        }
    }

    const LISTING: &str = "\
cerne> threads
NAME             PRIO MCP  STATE                  WAITING FOR
rootserver        255  255 Inactive
shell             110  110 Running
ping               90   90 Inactive
pong               95   95 BlockedOnReceive       recv on endpoint 0x4a2b000
console           200  200 BlockedOnNotification  wait on notification 0x4a2c000
4 threads: 1 runnable, 3 blocked, 1 inactive
cerne> ";

    #[test]
    fn a_good_listing_passes_and_wrong_ones_fail() {
        let components: Vec<(String, u64)> =
            [("shell", 110), ("ping", 90), ("pong", 95), ("console", 200)]
                .iter()
                .map(|(n, p)| (n.to_string(), *p))
                .collect();
        // The summary says 4, five lines are listed: a failure.
        let e = threads(&transcript(LISTING), &components).unwrap_err();
        assert!(e[0].contains("counts 4 threads, 5 lines"), "{e:?}");
        let good = LISTING.replace(
            "4 threads: 1 runnable, 3 blocked, 1 inactive",
            "5 threads: 1 runnable, 2 blocked, 2 inactive",
        );
        assert_eq!(threads(&transcript(&good), &components), Ok(5));
        // A wrong priority, pong not waiting, a missing component.
        let bad = good.replace(
            "pong               95   95 BlockedOnReceive       recv on endpoint 0x4a2b000",
            "pong               96   95 Running",
        );
        let e = threads(&transcript(&bad), &components).unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        let missing = good.replace("ping               90   90 Inactive\n", "");
        assert!(threads(&transcript(&missing), &components).is_err());
        assert!(threads(&transcript("cerne> threads\n"), &components).is_err());
    }
}
