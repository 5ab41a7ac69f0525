//! What the checks of the debugging tools assert (docs/debugging.md): the
//! shell's `threads` listing of the default system, the GDB session, and
//! the tutorial (docs/tutorial.md) read as a script: its commands, the
//! output it promises, its GDB session and the files it quotes.

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

/// One command of the tutorial, and the output lines it promises (each
/// block's lines in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TutorialCommand {
    /// The command line, without `$ ` (and without a trailing `&`).
    pub line: String,
    /// Run in the background (`&`), while the next ones run.
    pub background: bool,
    /// The promised output, one list per block.
    pub expected: Vec<Vec<String>>,
}

/// What the tutorial asks of the check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tutorial {
    /// The `$` commands of the `console` blocks, in order.
    pub commands: Vec<TutorialCommand>,
    /// The `(gdb)` lines of the `gdb` blocks, in order.
    pub gdb_commands: Vec<String>,
    /// The other lines of the `gdb` blocks: GDB's promised output, in order.
    pub gdb_expected: Vec<String>,
    /// Blocks marked `file=PATH`: the path and the text that must be in it.
    pub quoted: Vec<(String, String)>,
}

/// Reads the tutorial's fenced blocks (see docs/tutorial.md's first
/// section for the rules).
pub fn parse_tutorial(text: &str) -> Result<Tutorial, String> {
    let mut t = Tutorial::default();
    let mut lines = text.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let Some(info) = line.strip_prefix("```") else {
            continue;
        };
        let info = info.trim();
        let mut body = Vec::new();
        let mut closed = false;
        for (_, l) in lines.by_ref() {
            if l.starts_with("```") {
                closed = true;
                break;
            }
            body.push(l);
        }
        if !closed {
            return Err(format!("line {}: a ``` block that never ends", n + 1));
        }
        let mut words = info.split_whitespace();
        let lang = words.next().unwrap_or("");
        if let Some(path) = words.find_map(|w| w.strip_prefix("file=")) {
            t.quoted.push((path.to_string(), body.join("\n")));
            continue;
        }
        match lang {
            "console" => {
                let mut block: Option<Vec<String>> = None;
                for l in body {
                    if let Some(cmd) = l.strip_prefix("$ ") {
                        if let (Some(b), Some(last)) = (block.take(), t.commands.last_mut()) {
                            last.expected.push(b);
                        }
                        let cmd = cmd.trim();
                        let (line, background) = match cmd.strip_suffix('&') {
                            Some(c) => (c.trim_end().to_string(), true),
                            None => (cmd.to_string(), false),
                        };
                        t.commands.push(TutorialCommand {
                            line,
                            background,
                            expected: Vec::new(),
                        });
                        block = Some(Vec::new());
                    } else if !l.trim().is_empty() {
                        block
                            .get_or_insert_with(Vec::new)
                            .push(l.trim().to_string());
                    }
                }
                match (block, t.commands.last_mut()) {
                    (Some(b), Some(last)) => last.expected.push(b),
                    (Some(b), None) if !b.is_empty() => {
                        return Err(format!("line {}: output before the first command", n + 1))
                    }
                    _ => {}
                }
            }
            "gdb" => {
                for l in body {
                    match l.strip_prefix("(gdb) ") {
                        Some(c) => t.gdb_commands.push(c.trim().to_string()),
                        None if !l.trim().is_empty() => t.gdb_expected.push(l.trim().to_string()),
                        None => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(t)
}

/// A line as the tutorial's promises compare it: every hexadecimal number
/// is `0x_`, every run of white space one space.
fn normalized(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("0x") {
            let end = after
                .find(|c: char| !c.is_ascii_hexdigit())
                .unwrap_or(after.len());
            if end > 0 {
                out.push_str("0x_");
                rest = &after[end..];
                continue;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        if c.is_whitespace() {
            if !out.ends_with(' ') {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out.trim().to_string()
}

/// The promised lines of `expected` that `output` does not show, in order:
/// each must lie within a line after the line of the one before.
pub fn missing_lines(expected: &[String], output: &str) -> Vec<String> {
    let lines: Vec<String> = output.lines().map(normalized).collect();
    let mut at = 0;
    let mut missing = Vec::new();
    for want in expected {
        let w = normalized(want);
        match lines[at..].iter().position(|l| l.contains(&w)) {
            Some(i) => at += i + 1,
            None => missing.push(want.clone()),
        }
    }
    missing
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
    fn the_tutorial_is_read_as_a_script() {
        let text = "intro\n\
```console\n$ cargo xtask one\nfirst line\n$ cargo xtask two --x &\n```\n\
text\n```console\nlater output\n```\n\
```gdb\n(gdb) continue\nBreakpoint 1\n(gdb) kill\n```\n\
```rust file=a/b.rs\nfn x() {}\n```\n";
        let t = parse_tutorial(text).unwrap();
        assert_eq!(t.commands.len(), 2);
        assert_eq!(t.commands[0].line, "cargo xtask one");
        assert_eq!(t.commands[0].expected, [vec!["first line".to_string()]]);
        assert_eq!(
            (t.commands[1].line.as_str(), t.commands[1].background),
            ("cargo xtask two --x", true)
        );
        assert_eq!(
            t.commands[1].expected,
            [vec![], vec!["later output".to_string()]]
        );
        assert_eq!(t.gdb_commands, ["continue", "kill"]);
        assert_eq!(t.gdb_expected, ["Breakpoint 1"]);
        assert_eq!(t.quoted, [("a/b.rs".to_string(), "fn x() {}".to_string())]);
        assert!(parse_tutorial("```console\nno end\n").is_err());
        assert!(parse_tutorial("```console\noutput first\n```\n").is_err());
    }

    #[test]
    fn promised_lines_match_in_order_hex_and_spaces_aside() {
        let out = "a 0x40094c = f\nx0             0x4     4\nb\n";
        let want = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(missing_lines(&want(&["a 0x1 = f", "x0 0x4 4", "b"]), out).is_empty());
        assert_eq!(
            missing_lines(&want(&["b", "a 0x1 = f"]), out),
            ["a 0x1 = f"]
        );
        assert_eq!(missing_lines(&want(&["x0 0x4 5"]), out), ["x0 0x4 5"]);
        assert_eq!(normalized("  fp 0x00ff lr\t0xAB  "), "fp 0x_ lr 0x_");
    }

    #[test]
    fn the_tutorial_in_the_repository_reads() {
        let path = crate::cargo::workspace_root().join("docs/tutorial.md");
        let t = parse_tutorial(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert!(t
            .commands
            .iter()
            .any(|c| c.line.starts_with("cargo xtask run --system tutorial")));
        assert!(t
            .commands
            .iter()
            .any(|c| c.line.starts_with("cargo xtask gdb")));
        assert!(!t.gdb_commands.is_empty());
        assert!(!t.quoted.is_empty());
    }

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
