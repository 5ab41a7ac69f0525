//! `true`: does nothing, prints nothing, exits 0. The cheapest program to
//! spawn, for the process manager's spawn/exit cycles (`proctest`) and its
//! spawn benchmark.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use libcerne::program::Env;

fn main(_env: &Env) -> i32 {
    0
}

libcerne::program!(main);
