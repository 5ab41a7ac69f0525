//! `lat N`: an interactive program for the scheduling checks. It reads N
//! lines from its console session and prints `lat: line K` as soon as line
//! K has arrived, so the time from a typed line to its answer is how long
//! a blocked, interactive process waits for the CPU (while hogs run).
//! Exits 0 after line N; a bad N: a usage line, exit 2.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use libcerne::program::{println, Env, Lines};

fn main(env: &Env) -> i32 {
    let Some(Ok(n)) = env.arg(1).map(str::parse::<u64>) else {
        println!("usage: lat LINES");
        return 2;
    };
    println!("lat: pid {} reads {n} lines", env.pid());
    let console = env.console();
    let mut lines = Lines::<128>::new();
    let mut seen = 0u64;
    let mut chunk = [0u8; 128];
    while seen < n {
        let got = match console.read(&mut chunk) {
            Ok(got) => got,
            Err(e) => {
                println!("lat: the console refused a read ({e:?})");
                return 1;
            }
        };
        lines.feed(&chunk[..got], |_| {
            if seen < n {
                seen += 1;
                println!("lat: line {seen}");
            }
        });
    }
    0
}

libcerne::program!(main);
