//! Miri on the object model: installs nightly's Miri and rust-src if they are
//! missing, then runs `cargo +nightly miri test -p cerne-objects`.
//!
//! Miri is a single-threaded interpreter and takes minutes, so the suite can
//! start it in the background, its output going to a log, while the other
//! checks use the remaining core.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::{self, JoinHandle};

use crate::cargo;

/// The crate whose tests run under Miri.
pub const PACKAGE: &str = "cerne-objects";
/// The toolchain that has Miri.
const TOOLCHAIN: &str = "nightly";

/// Installs Miri if needed and runs the object model's tests under it; the
/// output goes to `log` if given, else to the terminal.
pub fn run(log: Option<&Path>) -> Result<(), String> {
    if !cargo::on_path("rustup") {
        return Err(format!(
            "rustup is not on PATH; Miri needs `rustup toolchain install {TOOLCHAIN} --component miri,rust-src`"
        ));
    }
    let installed = Command::new("rustup")
        .args(["component", "list", "--installed", "--toolchain", TOOLCHAIN])
        .stderr(Stdio::null())
        .output();
    let have = |list: &str, c: &str| list.lines().any(|l| l.starts_with(c));
    match installed {
        Ok(out) if out.status.success() => {
            let list = String::from_utf8_lossy(&out.stdout);
            if !have(&list, "miri") || !have(&list, "rust-src") {
                let mut add = Command::new("rustup");
                add.args([
                    "component",
                    "add",
                    "miri",
                    "rust-src",
                    "--toolchain",
                    TOOLCHAIN,
                ]);
                cargo::run_logged(&mut add, log)
                    .map_err(|e| format!("cannot install Miri: {e}"))?;
            }
        }
        _ => {
            let mut install = Command::new("rustup");
            install.args([
                "toolchain",
                "install",
                TOOLCHAIN,
                "--profile",
                "minimal",
                "--component",
                "miri,rust-src",
            ]);
            cargo::run_logged(&mut install, log)
                .map_err(|e| format!("cannot install {TOOLCHAIN} with Miri: {e}"))?;
        }
    }
    let mut test = cargo::cargo_with_toolchain(TOOLCHAIN);
    test.args(["miri", "test", "-p", PACKAGE]);
    cargo::run_logged(&mut test, log).map_err(|e| e.0)
}

/// A Miri run going on in the background.
pub struct Background {
    handle: JoinHandle<Result<(), String>>,
    log: PathBuf,
}

/// Starts [`run`] on another thread, writing to `log`.
pub fn spawn(log: PathBuf) -> Background {
    let path = log.clone();
    let handle = thread::spawn(move || {
        let _ = std::fs::remove_file(&path);
        run(Some(&path))
    });
    Background { handle, log }
}

impl Background {
    /// Waits for the run, prints its output, and returns its result.
    pub fn finish(self) -> Result<(), String> {
        println!(
            "(started in the background at the beginning of the run; output from {})",
            self.log.display()
        );
        let result = self
            .handle
            .join()
            .unwrap_or_else(|_| Err("the Miri thread panicked".into()));
        match std::fs::read_to_string(&self.log) {
            Ok(text) => print!("{text}"),
            Err(e) => println!("(cannot read {}: {e})", self.log.display()),
        }
        result
    }
}
