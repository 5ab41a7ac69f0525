//! `hog [N]`: burns CPU without ever blocking, for the scheduling checks
//! (how soon an interactive process runs while hogs do). Prints one line
//! when it starts; with N, stops after N million iterations and exits 0,
//! else runs until it is killed. A bad N: a usage line, exit 2.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::hint::black_box;

use libcerne::program::{println, Env};

/// Iterations per unit of N.
const MILLION: u64 = 1_000_000;

fn main(env: &Env) -> i32 {
    let limit = match env.arg(1).map(str::parse::<u64>) {
        None => None,
        Some(Ok(n)) => Some(n.saturating_mul(MILLION)),
        Some(Err(_)) => {
            println!("usage: hog [MILLIONS]");
            return 2;
        }
    };
    match limit {
        Some(n) => println!("hog: pid {} burns {n} iterations", env.pid()),
        None => println!("hog: pid {} burns forever", env.pid()),
    }
    let mut x = 0u64;
    let mut done = 0u64;
    while limit.is_none_or(|n| done < n) {
        x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        done += 1;
    }
    println!("hog: pid {} done ({x:#x})", env.pid());
    0
}

libcerne::program!(main);
