//! Making sure the machine has what the other verbs need: QEMU for aarch64,
//! gdb-multiarch for `cargo xtask gdb`, and the `aarch64-unknown-none` and
//! `aarch64-unknown-none-softfloat` Rust targets. Installs them where it
//! can (QEMU and GDB through apt-get when running as root), else says what
//! to install.

use std::process::Command;
use std::sync::OnceLock;

use crate::cargo::{self, TARGETS};
use crate::error::{Error, Result};

/// The QEMU binary every run uses.
pub const QEMU: &str = "qemu-system-aarch64";
/// The Debian package that provides it.
const QEMU_DEBIAN_PACKAGE: &str = "qemu-system-arm";

/// Ensures `qemu-system-aarch64` is on `$PATH`, installing it with apt-get
/// when running as root on a Debian-like system.
pub fn ensure_qemu() -> Result<()> {
    static DONE: OnceLock<Result<()>> = OnceLock::new();
    DONE.get_or_init(find_or_install_qemu).clone()
}

fn find_or_install_qemu() -> Result<()> {
    find_or_install(
        QEMU,
        QEMU_DEBIAN_PACKAGE,
        &format!(
            "Debian/Ubuntu: sudo apt-get install -y {QEMU_DEBIAN_PACKAGE}\n  \
             Fedora:        sudo dnf install -y qemu-system-aarch64\n  \
             macOS:         brew install qemu"
        ),
    )
}

/// The Debian package of gdb-multiarch.
const GDB_DEBIAN_PACKAGE: &str = "gdb-multiarch";

/// Ensures `gdb-multiarch` is on `$PATH`, installing it with apt-get when
/// running as root on a Debian-like system.
pub fn ensure_gdb() -> Result<()> {
    static DONE: OnceLock<Result<()>> = OnceLock::new();
    DONE.get_or_init(|| {
        find_or_install(
            crate::gdb::GDB,
            GDB_DEBIAN_PACKAGE,
            &format!(
                "Debian/Ubuntu: sudo apt-get install -y {GDB_DEBIAN_PACKAGE}\n  \
                 Fedora:        sudo dnf install -y gdb (its gdb debugs aarch64; link it as gdb-multiarch)"
            ),
        )
    })
    .clone()
}

/// `binary` on `$PATH`, or installed from the Debian `package` with
/// apt-get (as root); `how` tells a user what to run otherwise.
fn find_or_install(binary: &str, package: &str, how: &str) -> Result<()> {
    if cargo::on_path(binary) {
        return Ok(());
    }
    let how =
        format!("{binary} is not installed. Install it, then run the command again:\n  {how}");
    if !is_root() || !cargo::on_path("apt-get") {
        return Err(Error::new(how));
    }
    eprintln!("==> {binary} is missing; installing {package} with apt-get");
    let mut update = Command::new("apt-get");
    update.arg("update");
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", package])
        .env("DEBIAN_FRONTEND", "noninteractive");
    cargo::run(&mut update)
        .and_then(|()| cargo::run(&mut install))
        .map_err(|e| Error::new(format!("{e}\n{how}")))?;
    if cargo::on_path(binary) {
        Ok(())
    } else {
        Err(Error::new(format!(
            "apt-get installed {package} but {binary} is still not on PATH\n{how}"
        )))
    }
}

/// Whether this process runs as root (the owner of `/proc/self`).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// Ensures the pinned toolchain has the aarch64 targets (`TARGETS`;
/// rust-toolchain.toml lists them; an older rustup may not have added them).
pub fn ensure_target() -> Result<()> {
    static DONE: OnceLock<Result<()>> = OnceLock::new();
    DONE.get_or_init(find_or_add_target).clone()
}

fn find_or_add_target() -> Result<()> {
    if !cargo::on_path("rustup") {
        // Without rustup the toolchain is managed by hand; let cargo report
        // a missing target itself.
        return Ok(());
    }
    let mut list = Command::new("rustup");
    list.args(["target", "list", "--installed"])
        .current_dir(cargo::workspace_root());
    let output = list
        .output()
        .map_err(|e| Error::new(format!("cannot run `rustup target list --installed`: {e}")))?;
    let installed = String::from_utf8_lossy(&output.stdout);
    for target in TARGETS {
        if output.status.success() && installed.lines().any(|l| l.trim() == target) {
            continue;
        }
        eprintln!("==> adding the Rust target {target}");
        let mut add = Command::new("rustup");
        add.args(["target", "add", target])
            .current_dir(cargo::workspace_root());
        cargo::run(&mut add).map_err(|e| {
            Error::new(format!(
                "{e}\nthe Rust target {target} is needed: run `rustup target add {target}` in {}",
                cargo::workspace_root().display()
            ))
        })?;
    }
    Ok(())
}
