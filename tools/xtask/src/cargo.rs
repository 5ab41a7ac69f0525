//! Where the workspace is, and how to run cargo (and other tools) inside it
//! with their output shown as it comes.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Context, Error, Result};

/// The bare-metal target every aarch64 crate but the kernel is built for.
pub const TARGET: &str = "aarch64-unknown-none";

/// The kernel's target: the same without FP/SIMD code, so that the kernel
/// never touches the FP/SIMD registers and can switch them lazily (they
/// stay the FPU owner's across kernel entries; docs/kernel.md).
pub const KERNEL_TARGET: &str = "aarch64-unknown-none-softfloat";

/// Every target the aarch64 builds need (rust-toolchain.toml lists them).
pub const TARGETS: [&str; 2] = [TARGET, KERNEL_TARGET];

/// The root of the workspace (two levels above this package).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .unwrap_or(manifest)
        .to_path_buf()
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` if set, else `target/`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => workspace_root().join(dir),
        _ => workspace_root().join("target"),
    }
}

/// Where cargo leaves release binaries for the aarch64 target.
pub fn aarch64_release_dir() -> PathBuf {
    target_dir().join(TARGET).join("release")
}

/// The cargo profile the kernel binary is built with (root Cargo.toml).
pub const KERNEL_PROFILE: &str = "kernel";

/// Where cargo leaves the kernel binary, built with [`KERNEL_PROFILE`].
pub fn aarch64_kernel_dir() -> PathBuf {
    target_dir().join(KERNEL_TARGET).join(KERNEL_PROFILE)
}

/// A `cargo` command run at the workspace root, with the toolchain that runs
/// this xtask (`$CARGO`, so rust-toolchain.toml's pin holds).
pub fn cargo() -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(program);
    cmd.current_dir(workspace_root());
    cmd
}

/// A `cargo +<toolchain>` command through rustup's proxy, for tools that need
/// another toolchain than the pinned one (Miri needs nightly).
pub fn cargo_with_toolchain(toolchain: &str) -> Command {
    let mut cmd = Command::new("cargo");
    cmd.arg(format!("+{toolchain}"));
    cmd.current_dir(workspace_root());
    // The outer cargo's choices must not leak into the other toolchain.
    for var in [
        "RUSTUP_TOOLCHAIN",
        "RUSTC",
        "RUSTDOC",
        "CARGO",
        "RUSTC_WRAPPER",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// The command as a shell-like line, for logs and error messages.
pub fn display(cmd: &Command) -> String {
    let mut line = String::new();
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            line.push_str(&format!("{}={} ", quote(key), quote(value)));
        }
    }
    let program = Path::new(cmd.get_program());
    // `$CARGO` is a full path into the toolchain; show it as plain `cargo`.
    let program = if program.file_name() == Some(OsStr::new("cargo")) {
        OsStr::new("cargo")
    } else {
        program.as_os_str()
    };
    line.push_str(&quote(program));
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&quote(arg));
    }
    line
}

fn quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_=+./,:@%".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Runs `cmd` with its output going straight to the terminal; an error if it
/// cannot start or exits non-zero.
pub fn run(cmd: &mut Command) -> Result<()> {
    let line = display(cmd);
    eprintln!("+ {line}");
    let status = cmd.status().context(|| format!("cannot run `{line}`"))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::new(format!("`{line}` failed ({status})")))
    }
}

/// Like [`run`], but with the command line and the output appended to
/// `log` when one is given.
pub fn run_logged(cmd: &mut Command, log: Option<&Path>) -> Result<()> {
    let Some(log) = log else {
        return run(cmd);
    };
    let line = display(cmd);
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .context(|| format!("cannot open {}", log.display()))?;
    std::io::Write::write_all(&mut file, format!("+ {line}\n").as_bytes())
        .context(|| format!("cannot write {}", log.display()))?;
    let err = file
        .try_clone()
        .context(|| format!("cannot open {}", log.display()))?;
    let status = cmd
        .stdin(std::process::Stdio::null())
        .stdout(file)
        .stderr(err)
        .status()
        .context(|| format!("cannot run `{line}`"))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::new(format!("`{line}` failed ({status})")))
    }
}

/// Whether `program` is an executable file on `$PATH`.
pub fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        std::fs::metadata(dir.join(program))
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_holds_the_workspace_manifest() {
        assert!(workspace_root().join("Cargo.toml").is_file());
        assert!(workspace_root().join("tools/xtask").is_dir());
    }

    #[test]
    fn display_quotes_what_needs_it() {
        let mut cmd = Command::new("qemu");
        cmd.arg("-m").arg("512M").arg("a b").env("X", "1");
        assert_eq!(display(&cmd), "X=1 qemu -m 512M 'a b'");
    }
}
