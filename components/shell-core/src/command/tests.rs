//! Every command's parse and usage.

use super::*;

extern crate std;
use std::string::{String, ToString};

fn path(p: &Path) -> &str {
    p.as_str()
}

fn usage(line: &str) -> String {
    parse(line).expect_err(line).to_string()
}

#[test]
fn empty_and_blank_lines_are_no_command() {
    assert_eq!(parse(""), Ok(Command::Empty));
    assert_eq!(parse("   "), Ok(Command::Empty));
}

#[test]
fn unknown_commands() {
    assert_eq!(parse("foo"), Err(Usage::Unknown("foo")));
    assert_eq!(usage("foo bar"), "unknown command 'foo': type help");
    assert_eq!(usage("LS"), "unknown command 'LS': type help");
}

#[test]
fn commands_without_arguments() {
    for (line, cmd) in [
        ("help", Command::Help),
        ("ps", Command::Ps),
        ("mem", Command::Mem),
        ("uptime", Command::Uptime),
        ("  ps  ", Command::Ps),
    ] {
        assert_eq!(parse(line), Ok(cmd), "{line}");
    }
    assert_eq!(usage("help me"), "usage: help");
    assert_eq!(usage("ps -e"), "usage: ps");
    assert_eq!(usage("mem x"), "usage: mem");
    assert_eq!(usage("uptime now"), "usage: uptime");
}

#[test]
fn ls() {
    let Ok(Command::Ls(p)) = parse("ls") else {
        panic!()
    };
    assert_eq!(path(&p), "/");
    let Ok(Command::Ls(p)) = parse("ls bin") else {
        panic!()
    };
    assert_eq!(path(&p), "/bin");
    let Ok(Command::Ls(p)) = parse("ls /check/") else {
        panic!()
    };
    assert_eq!(path(&p), "/check");
    let Ok(Command::Ls(p)) = parse("ls /") else {
        panic!()
    };
    assert_eq!(path(&p), "/");
    assert_eq!(usage("ls a b"), "usage: ls [dir]");
}

#[test]
fn cat_rm_mkdir_take_one_path() {
    let Ok(Command::Cat(p)) = parse("cat motd.txt") else {
        panic!()
    };
    assert_eq!(path(&p), "/motd.txt");
    let Ok(Command::Cat(p)) = parse("cat /check/notes.txt") else {
        panic!()
    };
    assert_eq!(path(&p), "/check/notes.txt");
    let Ok(Command::Rm(p)) = parse("rm a/b") else {
        panic!()
    };
    assert_eq!(path(&p), "/a/b");
    let Ok(Command::Mkdir(p)) = parse("mkdir  /tmp ") else {
        panic!()
    };
    assert_eq!(path(&p), "/tmp");
    assert_eq!(usage("cat"), "usage: cat <file>");
    assert_eq!(usage("cat a b"), "usage: cat <file>");
    assert_eq!(usage("rm"), "usage: rm <path>");
    assert_eq!(usage("rm a b"), "usage: rm <path>");
    assert_eq!(usage("mkdir"), "usage: mkdir <path>");
    assert_eq!(usage("mkdir a b"), "usage: mkdir <path>");
}

#[test]
fn write_keeps_the_spaces_of_its_text() {
    let Ok(Command::Write(p, text)) = parse("write notes.txt hello   big  world ") else {
        panic!()
    };
    assert_eq!(path(&p), "/notes.txt");
    assert_eq!(text, "hello   big  world ");
    let Ok(Command::Write(p, text)) = parse("write   /a/b    x") else {
        panic!()
    };
    assert_eq!(path(&p), "/a/b");
    assert_eq!(text, "x");
    assert_eq!(usage("write"), "usage: write <file> <text...>");
    assert_eq!(usage("write f"), "usage: write <file> <text...>");
    assert_eq!(usage("write f   "), "usage: write <file> <text...>");
}

#[test]
fn run_finds_bare_names_in_bin() {
    let Ok(Command::Run(r)) = parse("run hello") else {
        panic!()
    };
    assert_eq!(path(&r.path), "/bin/hello");
    assert_eq!(r.name, "hello");
    assert_eq!(r.args, "");
    assert!(!r.background);
    let Ok(Command::Run(r)) = parse("run /x/y") else {
        panic!()
    };
    assert_eq!(path(&r.path), "/x/y");
    assert_eq!(r.name, "/x/y");
    let Ok(Command::Run(r)) = parse("run tools/wc") else {
        panic!()
    };
    assert_eq!(path(&r.path), "/tools/wc");
    assert_eq!(usage("run"), "usage: run <prog> [args...] [&]");
    assert_eq!(usage("run &"), "usage: run <prog> [args...] [&]");
}

#[test]
fn run_arguments_and_background() {
    let Ok(Command::Run(r)) = parse("run wc  /motd.txt -l") else {
        panic!()
    };
    assert!(!r.background);
    assert!(r.argv().eq(["wc", "/motd.txt", "-l"]));
    let Ok(Command::Run(r)) = parse("run spin 100 &") else {
        panic!()
    };
    assert!(r.background);
    assert_eq!(path(&r.path), "/bin/spin");
    assert!(r.argv().eq(["spin", "100"]));
    let Ok(Command::Run(r)) = parse("run spin&  ") else {
        panic!()
    };
    assert!(r.background);
    assert!(r.argv().eq(["spin"]));
    // An `&` that is not last is an argument.
    let Ok(Command::Run(r)) = parse("run echo a & b") else {
        panic!()
    };
    assert!(!r.background);
    assert!(r.argv().eq(["echo", "a", "&", "b"]));
}

#[test]
fn run_encodes_nul_separated_arguments_name_first() {
    let Ok(Command::Run(r)) = parse("run wc /motd.txt -l &") else {
        panic!()
    };
    let mut out = [0xAAu8; 64];
    let n = r.encode_args(&mut out).unwrap();
    assert_eq!(&out[..n], b"wc\0/motd.txt\0-l\0");
    assert_eq!(r.encode_args(&mut out[..n - 1]), None);
    assert_eq!(r.encode_args(&mut out[..n]), Some(n));
}

#[test]
fn kill() {
    assert_eq!(parse("kill 7"), Ok(Command::Kill(7)));
    assert_eq!(parse("kill  0012 "), Ok(Command::Kill(12)));
    for bad in [
        "kill",
        "kill x",
        "kill -1",
        "kill +3",
        "kill 1 2",
        "kill 99999999999",
    ] {
        assert_eq!(usage(bad), "usage: kill <pid>", "{bad}");
    }
}

#[test]
fn prio() {
    assert_eq!(parse("prio 3"), Ok(Command::Prio(3, None)));
    assert_eq!(parse("prio 3 40"), Ok(Command::Prio(3, Some(40))));
    for bad in ["prio", "prio x", "prio 3 x", "prio 3 -1", "prio 3 4 5"] {
        assert_eq!(usage(bad), "usage: prio <pid> [n]", "{bad}");
    }
}

#[test]
fn a_longest_line_still_makes_a_whole_path() {
    let mut line = String::from("run ");
    line.extend(core::iter::repeat_n('p', MAX_LINE - line.len()));
    let Ok(Command::Run(r)) = parse(&line) else {
        panic!()
    };
    assert_eq!(r.path.as_str().len(), BIN.len() + 1 + MAX_LINE - 4);
    assert!(r.path.as_str().starts_with("/bin/ppp"));
}

#[test]
fn policy_on_and_off() {
    assert_eq!(parse("policy on"), Ok(Command::Policy(true)));
    assert_eq!(parse("policy  off "), Ok(Command::Policy(false)));
    for bad in ["policy", "policy maybe", "policy on off"] {
        assert_eq!(usage(bad), "usage: policy on|off", "{bad}");
    }
}

#[test]
fn help_names_every_command() {
    for cmd in [
        "help", "ls", "cat", "write", "rm", "mkdir", "run", "ps", "kill", "prio", "mem", "uptime",
        "policy", "crash", "caps", "restarts",
    ] {
        assert!(
            HELP.lines()
                .any(|l| l.split_whitespace().next() == Some(cmd)),
            "{cmd}"
        );
    }
}

#[test]
fn supervision_commands() {
    assert_eq!(parse("crash blk"), Ok(Command::Crash("blk", "fault")));
    assert_eq!(parse("crash  fs panic "), Ok(Command::Crash("fs", "panic")));
    assert_eq!(parse("caps fs"), Ok(Command::Caps("fs")));
    assert_eq!(parse("restarts"), Ok(Command::Restarts));
    for bad in ["crash", "crash a b c"] {
        assert!(usage(bad).starts_with("usage: crash <component>"), "{bad}");
    }
    assert_eq!(usage("caps"), "usage: caps <component>");
    assert_eq!(usage("restarts now"), "usage: restarts");
    assert_eq!(parse(" threads "), Ok(Command::Threads));
    assert_eq!(usage("threads pong"), "usage: threads");
    assert!(HELP.lines().any(|l| l.starts_with("threads ")));
}
