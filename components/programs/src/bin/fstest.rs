//! `fstest`: the storage check as a spawned program. Under `/fstest` it
//! creates a file, writes a few KiB of a known pattern in uneven pieces,
//! reads it back in other pieces and compares, renames it, checks that the
//! old name is gone and the new one has the size, removes it and the
//! directory. Prints `fstest: ok` and exits 0, or prints the first step
//! that went wrong and exits 1.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use libcerne::files::{flags, FilesError, FsError};
use libcerne::interface::Error;
use libcerne::program::{println, Env, ProgramFiles};

const DIR: &str = "/fstest";
const FILE: &str = "/fstest/data.bin";
const MOVED: &str = "/fstest/moved.bin";
/// Bytes written: a few KiB, not a whole number of clusters or pieces.
const LEN: usize = 6 * 1024 + 3;
/// The pieces the file is written and read in.
const WRITE_PIECE: usize = 1000;
const READ_PIECE: usize = 700;

/// Byte `i` of the file.
fn pattern(i: usize) -> u8 {
    (i.wrapping_mul(131) ^ (i >> 8)) as u8
}

/// Why the check stopped.
enum Failure {
    /// A call failed.
    Call(&'static str, FilesError),
    /// A check of the results failed.
    Check(&'static str, usize, usize),
}

fn step<T>(what: &'static str, r: Result<T, FilesError>) -> Result<T, Failure> {
    r.map_err(|e| Failure::Call(what, e))
}

fn expect(what: &'static str, got: usize, want: usize) -> Result<(), Failure> {
    if got == want {
        Ok(())
    } else {
        Err(Failure::Check(what, got, want))
    }
}

/// `path` no longer exists.
fn gone(fs: &ProgramFiles, what: &'static str, path: &str) -> Result<(), Failure> {
    match fs.stat(path) {
        Err(Error::Server(FsError::NotFound)) => Ok(()),
        Err(e) => Err(Failure::Call(what, e)),
        Ok(_) => Err(Failure::Check(what, 1, 0)),
    }
}

fn run(fs: &ProgramFiles) -> Result<(), Failure> {
    match fs.mkdir(DIR) {
        Ok(()) | Err(Error::Server(FsError::AlreadyExists)) => {}
        Err(e) => return Err(Failure::Call("mkdir /fstest", e)),
    }
    let h = step(
        "create",
        fs.open(
            FILE,
            flags::READ | flags::WRITE | flags::CREATE | flags::TRUNCATE,
        ),
    )?;
    let mut piece = [0u8; WRITE_PIECE];
    let mut at = 0;
    while at < LEN {
        let n = (LEN - at).min(WRITE_PIECE);
        for (k, b) in piece[..n].iter_mut().enumerate() {
            *b = pattern(at + k);
        }
        let written = step("write", fs.write(h, &piece[..n]))?;
        expect("bytes written", written, n)?;
        at += n;
    }
    step("fsync", fs.fsync(h))?;
    step("close after writing", fs.close(h))?;

    let h = step("open to read", fs.open(FILE, flags::READ))?;
    let mut piece = [0u8; READ_PIECE];
    let mut at = 0;
    loop {
        let n = step("read", fs.read(h, &mut piece))?;
        if let Some(k) = (0..n).find(|&k| piece[k] != pattern(at + k)) {
            let _ = fs.close(h);
            return Err(Failure::Check(
                "byte read back at offset",
                at + k,
                usize::from(pattern(at + k)),
            ));
        }
        at += n;
        if n < READ_PIECE {
            break;
        }
    }
    step("close after reading", fs.close(h))?;
    expect("bytes read back", at, LEN)?;

    step("rename", fs.rename(FILE, MOVED))?;
    gone(fs, "stat of the old name", FILE)?;
    let stat = step("stat of the new name", fs.stat(MOVED))?;
    expect("size after rename", stat.size as usize, LEN)?;
    step("unlink", fs.unlink(MOVED))?;
    gone(fs, "stat after unlink", MOVED)?;
    step("unlink /fstest", fs.unlink(DIR))?;
    Ok(())
}

fn main(env: &Env) -> i32 {
    match run(&env.files()) {
        Ok(()) => {
            println!("fstest: ok");
            0
        }
        Err(Failure::Call(what, Error::Server(e))) => {
            println!("fstest: {what} failed: {e}");
            1
        }
        Err(Failure::Call(what, e)) => {
            println!("fstest: {what} failed: {e:?}");
            1
        }
        Err(Failure::Check(what, got, want)) => {
            println!("fstest: {what}: got {got}, expected {want}");
            1
        }
    }
}

libcerne::program!(main);
