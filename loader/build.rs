//! Build script of the loader: embeds the kernel and root-task ELF images
//! named by `CERNE_KERNEL_ELF` and `CERNE_ROOTTASK_ELF` (absolute paths) and
//! links the loader with `loader.ld` at its fixed physical address.
//!
//! Each image is embedded stripped: cut after the last byte a program header
//! refers to, with the section-header fields cleared. Program headers,
//! offsets and segment bytes stay exactly as in the file (the root task's
//! program headers are handed on, §10.1); debug information, which release
//! builds keep and which would make the loader megabytes larger, does not
//! travel.
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
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())));
        let stripped = if bytes.is_empty() {
            bytes
        } else {
            strip(&bytes).unwrap_or_else(|e| fail(&format!("{var}={}: {e}", path.display())))
        };
        let embedded = out_dir.join(format!("{var}.stripped.elf"));
        std::fs::write(&embedded, stripped)
            .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", embedded.display())));
        println!("cargo:rustc-env={embed_as}={}", embedded.display());
    }

    let script = manifest_dir.join("loader.ld");
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rerun-if-changed=build.rs");
    if bare_metal {
        println!("cargo:rustc-link-arg-bins=-T{}", script.display());
    }
}

/// `elf` stripped for embedding (see `cerne_plat::elf`).
fn strip(elf: &[u8]) -> Result<Vec<u8>, String> {
    let len = cerne_plat::elf::stripped_len(elf)?;
    let mut out = elf[..len].to_vec();
    cerne_plat::elf::clear_section_headers(&mut out);
    Ok(out)
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
