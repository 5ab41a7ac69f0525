//! `wc FILE...`: prints `lines words bytes FILE` for each file, as POSIX
//! `wc` counts them: newlines, maximal runs of non-space bytes, bytes. A
//! file that cannot be read prints `wc: FILE: <error>` and makes the exit
//! code 1.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use libcerne::files::{flags, FsError};
use libcerne::interface::Error;
use libcerne::program::{println, Env};

/// Counts of one file.
#[derive(Default)]
struct Counts {
    lines: u64,
    words: u64,
    bytes: u64,
    in_word: bool,
}

impl Counts {
    /// Counts `chunk`, carrying a word across chunk boundaries.
    fn add(&mut self, chunk: &[u8]) {
        for &b in chunk {
            let space = matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
            if b == b'\n' {
                self.lines += 1;
            }
            if !space && !self.in_word {
                self.words += 1;
            }
            self.in_word = !space;
        }
        self.bytes += chunk.len() as u64;
    }
}

/// Counts `path`.
fn count(env: &Env, path: &str) -> Result<Counts, Error<FsError>> {
    let fs = env.files();
    let handle = fs.open(path, flags::READ)?;
    let mut counts = Counts::default();
    let mut chunk = [0u8; 4096];
    let result = loop {
        match fs.read(handle, &mut chunk) {
            Ok(0) => break Ok(counts),
            Ok(n) => counts.add(&chunk[..n]),
            Err(e) => break Err(e),
        }
    };
    let _ = fs.close(handle);
    result
}

fn main(env: &Env) -> i32 {
    let mut code = 0;
    for i in 1..env.args().len() {
        let path = env.arg(i).unwrap_or("<not UTF-8>");
        match count(env, path) {
            Ok(c) => println!("{} {} {} {path}", c.lines, c.words, c.bytes),
            Err(Error::Server(e)) => {
                println!("wc: {path}: {e}");
                code = 1;
            }
            Err(e) => {
                println!("wc: {path}: {e:?}");
                code = 1;
            }
        }
    }
    code
}

libcerne::program!(main);
