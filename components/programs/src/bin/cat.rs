//! `cat FILE...`: prints each file, read through the file server. A file
//! that cannot be opened or read prints `cat: FILE: <error>` and makes the
//! exit code 1; the other files are still printed.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use libcerne::files::{flags, FsError};
use libcerne::interface::Error;
use libcerne::program::{println, Env};

/// Prints `path`; the error's name when it fails.
fn cat(env: &Env, path: &str) -> Result<(), &'static str> {
    let fs = env.files();
    let console = env.console();
    let name = |e: Error<FsError>| match e {
        Error::Server(e) => e.name(),
        Error::Protocol(_) => "ProtocolError",
    };
    let handle = fs.open(path, flags::READ).map_err(name)?;
    let mut chunk = [0u8; 1024];
    let result = loop {
        match fs.read(handle, &mut chunk) {
            Ok(0) => break Ok(()),
            Ok(n) => console.write(&chunk[..n]),
            Err(e) => break Err(name(e)),
        }
    };
    let _ = fs.close(handle);
    result
}

fn main(env: &Env) -> i32 {
    let mut code = 0;
    for i in 1..env.args().len() {
        let path = env.arg(i).unwrap_or("<not UTF-8>");
        if let Err(why) = cat(env, path) {
            println!("cat: {path}: {why}");
            code = 1;
        }
    }
    code
}

libcerne::program!(main);
