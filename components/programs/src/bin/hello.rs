//! `hello [ARG...]`: greets with its pid and prints its arguments, one a
//! line; exits 0. The smallest program, and the first a process manager
//! spawns.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use libcerne::program::{println, Env};

fn main(env: &Env) -> i32 {
    println!("hello from pid {}", env.pid());
    for (i, arg) in env.args().iter().enumerate() {
        println!(
            "  arg {i}: {}",
            core::str::from_utf8(arg).unwrap_or("<not UTF-8>")
        );
    }
    0
}

libcerne::program!(main);
