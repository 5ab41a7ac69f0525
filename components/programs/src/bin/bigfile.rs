//! `bigfile <path> <KiB> [hold]`: writes a large file of a known pattern
//! in 16 KiB pieces (a line every 256 KiB), fsyncs it, reads it back and
//! checks every byte, and prints its size and CRC-32 so the host can check
//! the disk image too. With `hold` it stops half-way with the file open
//! until a line is typed.
//!
//! It is the client the supervisor's tests crash servers under
//! (docs/supervisor.md): when the file server restarts, its handle is
//! `Stale` (or a call is answered `Restarted`), and it writes the file
//! again from the start, saying so; a block-driver restart it does not even
//! see.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use libcerne::files::{flags, FilesError, FsError};
use libcerne::interface::{Error, ProtocolError};
use libcerne::program::{println, Env, ProgramFiles};

/// Bytes of one write.
const PIECE: usize = 16 * 1024;
/// Writes again after a restart at most.
const ATTEMPTS: usize = 5;

/// Byte `i` of the file.
fn pattern(i: usize) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ (i as u8)
}

/// An error a restart of the file server explains.
fn restarted(e: &FilesError) -> bool {
    matches!(
        e,
        Error::Protocol(ProtocolError::Restarted | ProtocolError::Unavailable)
            | Error::Server(FsError::Stale | FsError::UnknownHandle)
    )
}

/// Writes and checks the file once; the CRC-32 of what it wrote.
fn attempt(
    env: &Env,
    fs: &ProgramFiles,
    path: &str,
    len: usize,
    hold: bool,
) -> Result<u32, (&'static str, FilesError)> {
    let h = fs
        .open(
            path,
            flags::READ | flags::WRITE | flags::CREATE | flags::TRUNCATE,
        )
        .map_err(|e| ("open", e))?;
    let mut piece = [0u8; PIECE];
    let mut crc = crc32fast::Hasher::new();
    let mut at = 0;
    let mut held = !hold;
    while at < len {
        if !held && at >= len / 2 {
            held = true;
            println!(
                "bigfile: holding {path} open at {} KiB; type a line to go on",
                at / 1024
            );
            let mut line = [0u8; 64];
            let _ = env.console().read(&mut line);
        }
        let n = (len - at).min(PIECE);
        for (k, b) in piece[..n].iter_mut().enumerate() {
            *b = pattern(at + k);
        }
        crc.update(&piece[..n]);
        fs.write(h, &piece[..n]).map_err(|e| ("write", e))?;
        at += n;
        if at % (256 * 1024) == 0 {
            println!("bigfile: {} KiB written", at / 1024);
        }
    }
    fs.fsync(h).map_err(|e| ("fsync", e))?;
    let _ = fs.close(h);
    let h = fs
        .open(path, flags::READ)
        .map_err(|e| ("open to read", e))?;
    let mut at = 0;
    loop {
        let n = fs.read(h, &mut piece).map_err(|e| ("read", e))?;
        if n == 0 {
            break;
        }
        if let Some(k) = (0..n).find(|&k| piece[k] != pattern(at + k)) {
            println!("bigfile: byte {} reads back wrong", at + k);
            return Err(("verify", Error::Server(FsError::Corrupt)));
        }
        at += n;
    }
    let _ = fs.close(h);
    if at != len {
        println!("bigfile: {at} bytes read back of {len}");
        return Err(("verify", Error::Server(FsError::Corrupt)));
    }
    Ok(crc.finalize())
}

fn main(env: &Env) -> i32 {
    let (Some(path), Some(kib)) = (env.arg(1), env.arg(2).and_then(|k| k.parse::<usize>().ok()))
    else {
        println!("usage: bigfile <path> <KiB> [hold]");
        return 2;
    };
    let hold = env.arg(3) == Some("hold");
    let fs = env.files();
    let len = kib * 1024;
    for n in 1..=ATTEMPTS {
        match attempt(env, &fs, path, len, hold && n == 1) {
            Ok(crc) => {
                println!("bigfile: {path} {len} bytes crc32 {crc:#010x} verified");
                return 0;
            }
            Err((what, e)) if restarted(&e) => {
                println!("bigfile: {what}: {e:?}: the file server restarted; writing {path} again");
            }
            Err((what, e)) => {
                println!("bigfile: {what} failed: {e:?}");
                return 1;
            }
        }
    }
    println!("bigfile: gave up after {ATTEMPTS} attempts");
    1
}

libcerne::program!(main);
