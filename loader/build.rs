//! Build script of the loader: embeds the kernel and root-task ELF images
//! named by `CERNE_KERNEL_ELF` and `CERNE_ROOTTASK_ELF` (absolute paths) and
//! links the loader with `loader.ld` at its fixed physical address.
//!
//! `cargo clippy` may run without the two variables (there is nothing to
//! embed when only linting): it then embeds empty placeholders and warns.
//! Host builds (`cargo test -p cerne-loader --lib`) need neither. Every
//! real build needs both.

use std::env;
use std::path::PathBuf;

/// Environment variables naming the embedded images, and the names the
/// loader's source reads them under (`env!`).
const IMAGES: [(&str, &str); 2] = [
    ("CERNE_KERNEL_ELF", "CERNE_LOADER_KERNEL_PATH"),
    ("CERNE_ROOTTASK_ELF", "CERNE_LOADER_ROOTTASK_PATH"),
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets it"));
    let linting = env::var("RUSTC_WORKSPACE_WRAPPER")
        .map(|w| w.contains("clippy-driver"))
        .unwrap_or(false);
    // Built for the host, the package is only its library's tests: the
    // binary (and so the embedded images) is for aarch64-unknown-none only.
    let bare_metal = env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none");

    for (var, embed_as) in IMAGES {
        println!("cargo:rerun-if-env-changed={var}");
        let path = match env::var_os(var) {
            Some(value) => PathBuf::from(value),
            None if !bare_metal => continue,
            None if linting => {
                let placeholder = out_dir.join(format!("{var}.placeholder"));
                std::fs::write(&placeholder, []).expect("write placeholder image");
                println!("cargo:warning={var} is not set: embedding an empty image (lint only)");
                placeholder
            }
            None => fail(&format!(
                "{var} is not set. The loader embeds the kernel and root-task ELF images: set \
                 CERNE_KERNEL_ELF and CERNE_ROOTTASK_ELF to their absolute paths (cargo xtask \
                 does this)."
            )),
        };
        if !path.is_absolute() {
            fail(&format!("{var}={} is not an absolute path", path.display()));
        }
        if !path.is_file() {
            fail(&format!("{var}={} does not name a file", path.display()));
        }
        println!("cargo:rerun-if-changed={}", path.display());
        println!("cargo:rustc-env={embed_as}={}", path.display());
    }

    let script = manifest_dir.join("loader.ld");
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rerun-if-changed=build.rs");
    if bare_metal {
        println!("cargo:rustc-link-arg-bins=-T{}", script.display());
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
