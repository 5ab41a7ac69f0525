//! `big`: a program whose image is about 1 MiB, for the spawn benchmark
//! (how long loading a large program from the disk takes). Its 1 MiB
//! array is initialised data written by build.rs; it checksums the array
//! and prints the sum, exiting 0 when it is the one build.rs computed and
//! 1 otherwise (the loader copied the image wrong).
//!
//! `big hold` then stays alive until it is killed, yielding the processor
//! rather than burning it (`proctest` fills the process manager's memory
//! with these; a `big` that exits frees its memory at once).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use libcerne::program::{println, Env};

include!(concat!(env!("OUT_DIR"), "/big.rs"));

/// The data the image carries.
static BIG: [u8; BIG_BYTES] = *include_bytes!(concat!(env!("OUT_DIR"), "/big.bin"));

fn main(env: &Env) -> i32 {
    // Read the array at run time, not the compiler's copy of it.
    let data: &[u8] = core::hint::black_box(&BIG[..]);
    let sum = data
        .iter()
        .fold(0u64, |s, &b| s.wrapping_mul(31).wrapping_add(u64::from(b)));
    let verdict = if sum == EXPECTED { "ok" } else { "WRONG" };
    println!(
        "big: {} bytes, checksum {sum:#018x} (expected {EXPECTED:#018x}): {verdict}",
        data.len()
    );
    if env.arg(1) == Some("hold") {
        loop {
            libcerne::sel4::syscall::yield_now();
        }
    }
    i32::from(sum != EXPECTED)
}

libcerne::program!(main);
