//! `lat N [WORK]`: an interactive program for the scheduling checks. It
//! reads N lines from its console session; for each it does WORK million
//! iterations of computation (default 0) and prints
//! `lat: line K answered after U us`: the time from the line's first byte
//! reaching the console driver (the driver stamps each read's bytes with
//! the virtual counter when they arrived) to the answer being ready. While
//! CPU-bound programs run at the same priority, that answer waits for
//! their time slices; a priority policy that lets them sink removes the
//! wait (docs/processes.md). Exits 0 after line N; bad arguments: a usage
//! line, exit 2.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::hint::black_box;

use libcerne::generic_timer;
use libcerne::program::{println, Env, Lines};

/// The computation of one answer: `iterations` of a multiply-add.
fn work(iterations: u64) -> u64 {
    let mut x = 0u64;
    for _ in 0..iterations {
        x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
    }
    x
}

fn main(env: &Env) -> i32 {
    let n = env.arg(1).map(str::parse::<u64>);
    let millions = env.arg(2).map_or(Ok(0), str::parse::<u64>);
    let (Some(Ok(n)), Ok(millions)) = (n, millions) else {
        println!("usage: lat LINES [MILLIONS]");
        return 2;
    };
    println!("lat: pid {} reads {n} lines", env.pid());
    let per_second = generic_timer::frequency().max(1);
    let console = env.console();
    let mut lines = Lines::<128>::new();
    let mut seen = 0u64;
    let mut chunk = [0u8; 128];
    // When the line's first byte arrived.
    let mut line_start: Option<u64> = None;
    while seen < n {
        let (got, typed_at) = match console.read_timed(&mut chunk) {
            Ok(got) => got,
            Err(e) => {
                println!("lat: the console refused a read ({e:?})");
                return 1;
            }
        };
        if line_start.is_none() && got > 0 {
            line_start = Some(typed_at);
        }
        let mut finished = 0;
        lines.feed(&chunk[..got], |_| finished += 1);
        for _ in 0..finished {
            if seen == n {
                break;
            }
            seen += 1;
            let x = work(millions.saturating_mul(1_000_000));
            let start = line_start.take().unwrap_or(typed_at);
            let waited = generic_timer::virtual_count().saturating_sub(start);
            let us = u128::from(waited) * 1_000_000 / u128::from(per_second);
            println!("lat: line {seen} answered after {us} us ({x:#x})");
        }
    }
    0
}

libcerne::program!(main);
