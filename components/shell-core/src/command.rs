//! The shell's commands: [`parse`] turns a line from the
//! [`LineEditor`](crate::LineEditor) into a [`Command`], or into a one-line
//! [`Usage`] message for an unknown command or bad arguments.
//!
//! Words are separated by spaces. There is no working directory: a
//! relative path is taken from `/` (`cat motd.txt` reads `/motd.txt`). A
//! program named without a `/` is looked up in `/bin` (`run hello` runs
//! `/bin/hello`); one with a `/` is a path like any other.

use core::fmt;

use crate::editor::MAX_LINE;

/// The directory `run` finds programs named without a `/` in.
pub const BIN: &str = "/bin";

/// Most bytes of a [`Path`]: a whole line under [`BIN`].
pub const MAX_PATH: usize = MAX_LINE + BIN.len() + 1;

/// What `help` prints, one command a line.
pub const HELP: &str = "\
help                      this list
ls [dir]                  list a directory (default /)
cat <file>                print a file
write <file> <text...>    replace a file with the text and a newline
rm <path>                 remove a file or an empty directory
mkdir <path>              make a directory
run <prog> [args...] [&]  run /bin/<prog> (or a path); & runs it in the background
ps                        list the processes
kill <pid>                end a process
prio <pid> [n]            show a process's priority, or set its highest to n
mem                       memory of the process manager and the file server
uptime                    time since boot
policy on|off             apply the priority policy, or fixed priorities
crash <component> [how]   make a supervised component fail: fault (default), panic, hang, bad-write
caps <component>          the caps a component holds: the spec's, and live if supervised
restarts                  every supervised component: state, restarts, last recovery
threads                   every thread: name, priority, state, what it waits for
";

/// An absolute path, made from what was typed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Path {
    bytes: [u8; MAX_PATH],
    len: usize,
}

impl Path {
    /// `/`.
    pub const fn root() -> Self {
        let mut bytes = [0; MAX_PATH];
        bytes[0] = b'/';
        Self { bytes, len: 1 }
    }

    /// The path of `word`: as it is when it starts with `/`, otherwise
    /// under `dir` (an absolute directory). Trailing `/`s are dropped (but
    /// `/` stays `/`).
    fn under(dir: &str, word: &str) -> Self {
        let mut p = Self {
            bytes: [0; MAX_PATH],
            len: 0,
        };
        if !word.starts_with('/') {
            p.push(dir.trim_end_matches('/'));
            p.push("/");
        }
        p.push(word);
        while p.len > 1 && p.bytes[p.len - 1] == b'/' {
            p.len -= 1;
        }
        p
    }

    fn push(&mut self, s: &str) {
        // A line is at most MAX_LINE bytes, so a word fits under BIN.
        let n = s.len().min(MAX_PATH - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        // Made only from whole `&str`s, so it is UTF-8.
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("/")
    }
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `run` command: which program, with which arguments, in the
/// foreground or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run<'a> {
    /// The program's path.
    pub path: Path,
    /// The program as typed: its argument 0.
    pub name: &'a str,
    /// The words after the name (without the `&`), separated by spaces.
    pub args: &'a str,
    /// A trailing `&`: start it and return to the prompt.
    pub background: bool,
}

impl Run<'_> {
    /// Every argument, the program's name first.
    pub fn argv(&self) -> impl Iterator<Item = &str> {
        core::iter::once(self.name).chain(words(self.args))
    }

    /// Writes the arguments as the process manager takes them, each
    /// followed by a NUL byte, the name first, into `out`; the bytes
    /// written, or `None` when they do not fit.
    pub fn encode_args(&self, out: &mut [u8]) -> Option<usize> {
        let mut at = 0;
        for arg in self.argv() {
            let end = at + arg.len() + 1;
            let dst = out.get_mut(at..end)?;
            dst[..arg.len()].copy_from_slice(arg.as_bytes());
            dst[arg.len()] = 0;
            at = end;
        }
        Some(at)
    }
}

/// A command line, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command<'a> {
    /// An empty (or blank) line: nothing to do.
    Empty,
    /// `help`.
    Help,
    /// `ls [dir]`.
    Ls(Path),
    /// `cat <file>`.
    Cat(Path),
    /// `write <file> <text...>`: the text is the rest of the line, its
    /// spaces kept.
    Write(Path, &'a str),
    /// `rm <path>`.
    Rm(Path),
    /// `mkdir <path>`.
    Mkdir(Path),
    /// `run <prog> [args...] [&]`.
    Run(Run<'a>),
    /// `ps`.
    Ps,
    /// `kill <pid>`.
    Kill(u32),
    /// `prio <pid> [n]`: show, or set the highest priority to `n`.
    Prio(u32, Option<u64>),
    /// `mem`.
    Mem,
    /// `uptime`.
    Uptime,
    /// `policy on|off`: turn the priority policy on, or hold every
    /// process at its highest priority.
    Policy(bool),
    /// `crash <component> [how]`: the component and how (default
    /// `fault`); the supervisor checks both.
    Crash(&'a str, &'a str),
    /// `caps <component>`.
    Caps(&'a str),
    /// `restarts`.
    Restarts,
    /// `threads`.
    Threads,
}

/// Why a line is not a command; its `Display` is the one-line message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage<'a> {
    /// A known command with bad arguments: its usage (`"kill <pid>"`).
    Of(&'static str),
    /// No such command.
    Unknown(&'a str),
}

impl fmt::Display for Usage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Usage::Of(usage) => write!(f, "usage: {usage}"),
            Usage::Unknown(name) => write!(f, "unknown command '{name}': type help"),
        }
    }
}

/// The words of `s`.
fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split_ascii_whitespace()
}

/// `s` after its first word and the spaces after it.
fn after_first_word(s: &str) -> &str {
    let s = s.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let end = s.find(|c: char| c.is_ascii_whitespace()).unwrap_or(s.len());
    s[end..].trim_start_matches(|c: char| c.is_ascii_whitespace())
}

/// The only word of `rest`, or the usage.
fn one<'a>(rest: &'a str, usage: &'static str) -> Result<&'a str, Usage<'static>> {
    let mut w = words(rest);
    match (w.next(), w.next()) {
        (Some(word), None) => Ok(word),
        _ => Err(Usage::Of(usage)),
    }
}

/// No words in `rest`, or the usage.
fn none(rest: &str, usage: &'static str) -> Result<(), Usage<'static>> {
    words(rest).next().map_or(Ok(()), |_| Err(Usage::Of(usage)))
}

/// A pid: a decimal number.
fn pid(word: &str, usage: &'static str) -> Result<u32, Usage<'static>> {
    number(word).ok_or(Usage::Of(usage))
}

/// A decimal number, digits only.
fn number<T: core::str::FromStr>(word: &str) -> Option<T> {
    if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    word.parse().ok()
}

/// Parses one line (see the [module documentation](self) and [`HELP`]).
pub fn parse(line: &str) -> Result<Command<'_>, Usage<'_>> {
    let Some(name) = words(line).next() else {
        return Ok(Command::Empty);
    };
    let rest = after_first_word(line);
    Ok(match name {
        "help" => none(rest, "help").map(|()| Command::Help)?,
        "ls" => {
            let mut w = words(rest);
            match (w.next(), w.next()) {
                (None, _) => Command::Ls(Path::root()),
                (Some(dir), None) => Command::Ls(Path::under("/", dir)),
                _ => return Err(Usage::Of("ls [dir]")),
            }
        }
        "cat" => Command::Cat(Path::under("/", one(rest, "cat <file>")?)),
        "write" => {
            const USAGE: &str = "write <file> <text...>";
            let file = words(rest).next().ok_or(Usage::Of(USAGE))?;
            let text = after_first_word(rest);
            if text.is_empty() {
                return Err(Usage::Of(USAGE));
            }
            Command::Write(Path::under("/", file), text)
        }
        "rm" => Command::Rm(Path::under("/", one(rest, "rm <path>")?)),
        "mkdir" => Command::Mkdir(Path::under("/", one(rest, "mkdir <path>")?)),
        "run" => {
            let rest = rest.trim_end_matches(|c: char| c.is_ascii_whitespace());
            let (rest, background) = match rest.strip_suffix('&') {
                Some(r) => (r.trim_end_matches(|c: char| c.is_ascii_whitespace()), true),
                None => (rest, false),
            };
            let name = words(rest)
                .next()
                .ok_or(Usage::Of("run <prog> [args...] [&]"))?;
            let path = if name.contains('/') {
                Path::under("/", name)
            } else {
                Path::under(BIN, name)
            };
            Command::Run(Run {
                path,
                name,
                args: after_first_word(rest),
                background,
            })
        }
        "ps" => none(rest, "ps").map(|()| Command::Ps)?,
        "kill" => Command::Kill(pid(one(rest, "kill <pid>")?, "kill <pid>")?),
        "prio" => {
            const USAGE: &str = "prio <pid> [n]";
            let mut w = words(rest);
            match (w.next(), w.next(), w.next()) {
                (Some(p), None, _) => Command::Prio(pid(p, USAGE)?, None),
                (Some(p), Some(n), None) => {
                    Command::Prio(pid(p, USAGE)?, Some(number(n).ok_or(Usage::Of(USAGE))?))
                }
                _ => return Err(Usage::Of(USAGE)),
            }
        }
        "mem" => none(rest, "mem").map(|()| Command::Mem)?,
        "uptime" => none(rest, "uptime").map(|()| Command::Uptime)?,
        "policy" => match one(rest, "policy on|off")? {
            "on" => Command::Policy(true),
            "off" => Command::Policy(false),
            _ => return Err(Usage::Of("policy on|off")),
        },
        "crash" => {
            const USAGE: &str = "crash <component> [fault|panic|hang|bad-write|...]";
            let mut w = words(rest);
            match (w.next(), w.next(), w.next()) {
                (Some(c), None, _) => Command::Crash(c, "fault"),
                (Some(c), Some(how), None) => Command::Crash(c, how),
                _ => return Err(Usage::Of(USAGE)),
            }
        }
        "caps" => Command::Caps(one(rest, "caps <component>")?),
        "restarts" => none(rest, "restarts").map(|()| Command::Restarts)?,
        "threads" => none(rest, "threads").map(|()| Command::Threads)?,
        other => return Err(Usage::Unknown(other)),
    })
}

#[cfg(test)]
mod tests;
