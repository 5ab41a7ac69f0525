//! Links the programs with libcerne's linker script (4 KiB segment
//! alignment), and writes `big`'s
//! 1 MiB data (a pattern) with its expected checksum.
use std::path::PathBuf;

/// Bytes of `big`'s static array.
const BIG_BYTES: usize = 1 << 20;

/// Byte `i` of `big`'s array.
fn pattern(i: usize) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 13) as u8
}

fn main() {
    if std::env::var("TARGET").is_ok_and(|t| t.ends_with("-none")) {
        println!("cargo:rustc-link-arg-bins=-Tcerne-user.ld");
        // Segments aligned to pages, not 64 KiB: the files on the disk
        // carry no padding up to 64 KiB boundaries.
        println!("cargo:rustc-link-arg-bins=-zmax-page-size=4096");
    }
    println!("cargo:rerun-if-changed=build.rs");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let data: Vec<u8> = (0..BIG_BYTES).map(pattern).collect();
    let sum = data
        .iter()
        .fold(0u64, |s, &b| s.wrapping_mul(31).wrapping_add(u64::from(b)));
    std::fs::write(out.join("big.bin"), &data).expect("write big.bin");
    std::fs::write(
        out.join("big.rs"),
        format!("/// The checksum build.rs computed.\nconst EXPECTED: u64 = {sum:#x};\n/// Bytes of the array.\nconst BIG_BYTES: usize = {BIG_BYTES};\n"),
    )
    .expect("write big.rs");
}
