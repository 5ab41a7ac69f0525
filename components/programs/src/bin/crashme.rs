//! `crashme HOW`: faults on purpose, for the process manager's fault
//! handling. HOW is one of
//!
//! - `null`: reads address 0 (a VM fault on a data read);
//! - `write-text`: stores into its own code (a VM fault on a write);
//! - `exec-data`: branches into its stack (an instruction-fetch VM fault);
//! - `undefined`: an undefined instruction (a user exception);
//! - `align`: a misaligned exclusive load (an alignment fault);
//! - `stack`: unbounded recursion into the guard page below the stack;
//! - `panic`: a Rust panic (the runtime exits with 101);
//! - `exit N`: exits with code N, no fault.
//!
//! It prints what it is about to do first. Should a fault not happen (the
//! memory was mapped more permissively than the process ABI says), it
//! prints `crashme: HOW did not fault` and exits 3. Unknown HOW: a usage
//! line, exit 2.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::hint::black_box;

use libcerne::program::{crash, println, Env};

const USAGE: &str = "usage: crashme null|write-text|exec-data|undefined|align|stack|panic|exit N";

/// Recurses with a frame of 1 KiB until the stack runs out.
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 128]);
    // Never 0 in practice, but the compiler cannot know: no unconditional
    // recursion, and the work after the call keeps it from being a loop.
    if black_box(depth) == u64::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_add(frame[(depth % 128) as usize])
}

fn main(env: &Env) -> i32 {
    let Some(how) = env.arg(1) else {
        println!("{USAGE}");
        return 2;
    };
    if how == "exit" {
        return match env.arg(2).map(str::parse::<i32>) {
            Some(Ok(code)) => {
                println!("crashme: exit {code}");
                code
            }
            _ => {
                println!("{USAGE}");
                2
            }
        };
    }
    let known = [
        "null",
        "write-text",
        "exec-data",
        "undefined",
        "align",
        "stack",
        "panic",
    ];
    if !known.contains(&how) {
        println!("{USAGE}");
        return 2;
    }
    println!("crashme: pid {} faults: {how}", env.pid());
    match how {
        "null" => {
            black_box(crash::null_read());
        }
        "write-text" => crash::write_text(),
        "exec-data" => crash::exec_data(),
        "undefined" => crash::undefined(),
        "align" => {
            black_box(crash::misaligned());
        }
        "stack" => {
            black_box(recurse(0));
        }
        _ => panic!("crashme: a deliberate panic"),
    }
    println!("crashme: {how} did not fault");
    3
}

libcerne::program!(main);
