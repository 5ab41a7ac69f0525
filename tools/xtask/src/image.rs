//! Building a system's boot image: the kernel and the root task for the
//! aarch64 target, then the loader that embeds both, copied to
//! `target/images/<system>.elf`; for a system with a disk, also the user
//! programs its disk carries (kept unstripped with the parts).

use std::path::{Path, PathBuf};

use crate::cargo::{self, TARGET};
use crate::elf;
use crate::error::{Context, Result};
use crate::setup;
use crate::sysimage;
use crate::systems::{System, KERNEL_PACKAGE, LOADER_PACKAGE};

/// Environment variable naming the kernel ELF the loader embeds.
pub const KERNEL_ELF_ENV: &str = "CERNE_KERNEL_ELF";
/// Environment variable naming the root-task ELF the loader embeds.
pub const ROOTTASK_ELF_ENV: &str = "CERNE_ROOTTASK_ELF";
/// Environment variable naming the system bundle the root task embeds.
pub const SYSTEM_BUNDLE_ENV: &str = "CERNE_SYSTEM_BUNDLE";

/// A built system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The system it was built from.
    pub system: &'static System,
    /// The bootable image, `target/images/<system>.elf`.
    pub path: PathBuf,
    /// The kernel ELF the image carries.
    pub kernel: PathBuf,
    /// The root-task ELF the image carries.
    pub root_task: PathBuf,
}

/// `target/images`.
pub fn images_dir() -> PathBuf {
    cargo::target_dir().join("images")
}

/// Where the parts (kernel, root task) of `system` are kept.
pub fn parts_dir(system: &System) -> PathBuf {
    images_dir().join("parts").join(system.name)
}

/// The paths `system`'s image and parts have once built.
pub fn paths(system: &'static System) -> Image {
    let parts = parts_dir(system);
    Image {
        system,
        path: images_dir().join(format!("{}.elf", system.name)),
        kernel: parts.join("kernel.elf"),
        root_task: parts.join("rootserver.elf"),
    }
}

/// Builds `system` and prints the sizes of what it built.
pub fn build(system: &'static System) -> Result<Image> {
    setup::ensure_target()?;
    let image = paths(system);
    let parts = parts_dir(system);
    std::fs::create_dir_all(&parts).context(|| format!("cannot create {}", parts.display()))?;
    eprintln!("==> building system `{}`", system.name);

    let mut kernel = cargo::cargo();
    kernel.args([
        "build",
        "--profile",
        cargo::KERNEL_PROFILE,
        "--target",
        cargo::KERNEL_TARGET,
        "-p",
        KERNEL_PACKAGE,
    ]);
    features(&mut kernel, system.kernel_features);
    kernel.envs(system.kernel_env.iter().copied());
    cargo::run(&mut kernel)?;
    copy_if_changed(
        &cargo::aarch64_kernel_dir().join(KERNEL_PACKAGE),
        &image.kernel,
    )?;

    // A described system: programs, capDL, simulation, bundle; the root task
    // embeds the bundle (an empty name embeds none).
    let bundle = match system.description {
        Some(description) => {
            let kernel_bytes = elf::sizes(&image.kernel)?.loaded;
            let built = sysimage::build(
                &cargo::workspace_root().join(description),
                &parts,
                system.component_features,
                kernel_bytes,
            )?;
            eprintln!("{} (capDL: {})", built.summary, built.capdl.display());
            built.path.into_os_string()
        }
        None => std::ffi::OsString::new(),
    };
    // A system with a disk can run the user programs its image carries at
    // /bin (crate::disk::programs): build them, and keep them as built
    // beside the component programs for naming fault addresses.
    if system.disk.is_some() {
        crate::disk::programs::build()?;
        crate::disk::programs::keep_unstripped(&parts.join(sysimage::PROGRAMS_DIR))?;
    }
    let root = &system.root_task;
    let mut root_task = release_build(root.package);
    root_task.args(["--bin", root.bin]);
    features(&mut root_task, root.features);
    root_task.env(SYSTEM_BUNDLE_ENV, bundle);
    cargo::run(&mut root_task)?;
    copy_if_changed(
        &cargo::aarch64_release_dir().join(root.bin),
        &image.root_task,
    )?;

    cargo::run(&mut loader_command(&image, &["build"]))?;
    copy_if_changed(
        &cargo::aarch64_release_dir().join(LOADER_PACKAGE),
        &image.path,
    )?;

    report_sizes(&image)?;
    Ok(image)
}

/// A cargo command on the loader (`build`, `clippy`, ...) with the
/// environment that names the parts it embeds.
pub fn loader_command(image: &Image, verb: &[&str]) -> std::process::Command {
    let mut cmd = cargo::cargo();
    cmd.args(verb)
        .args(["--release", "--target", TARGET, "-p", LOADER_PACKAGE])
        .env(KERNEL_ELF_ENV, &image.kernel)
        .env(ROOTTASK_ELF_ENV, &image.root_task);
    cmd
}

fn release_build(package: &str) -> std::process::Command {
    let mut cmd = cargo::cargo();
    cmd.args(["build", "--release", "--target", TARGET, "-p", package]);
    cmd
}

/// Adds `--features a,b` when there are any.
pub fn features(cmd: &mut std::process::Command, features: &[&str]) {
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
}

/// Copies `from` to `to` unless `to` already holds the same bytes, so that
/// the loader's build script (which watches the parts) reruns only when a
/// part really changed.
fn copy_if_changed(from: &Path, to: &Path) -> Result<()> {
    let new = std::fs::read(from).context(|| format!("cannot read {}", from.display()))?;
    if std::fs::read(to).ok().as_deref() == Some(new.as_slice()) {
        return Ok(());
    }
    std::fs::copy(from, to)
        .map(drop)
        .context(|| format!("cannot copy {} to {}", from.display(), to.display()))
}

/// Prints the kernel image size and the sizes of the other parts.
pub fn report_sizes(image: &Image) -> Result<()> {
    let kernel = elf::sizes(&image.kernel)?;
    let root_task = elf::sizes(&image.root_task)?;
    let boot = elf::sizes(&image.path)?;
    eprintln!(
        "kernel image: {} bytes loaded (PT_LOAD memsz), {} bytes ELF file ({})",
        kernel.loaded,
        kernel.file,
        image.kernel.display()
    );
    eprintln!(
        "root task:    {} bytes loaded, {} bytes ELF file",
        root_task.loaded, root_task.file
    );
    eprintln!(
        "boot image:   {} bytes loaded, {} bytes ELF file -> {}",
        boot.loaded,
        boot.file,
        image.path.display()
    );
    Ok(())
}
