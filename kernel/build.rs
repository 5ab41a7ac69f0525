//! Links the kernel with its linker script when building for the bare-metal
//! target (host builds of the crate, e.g. by clippy, need nothing).
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rerun-if-changed=kernel.ld");
    if std::env::var("TARGET").is_ok_and(|t| t.starts_with("aarch64") && t.ends_with("-none")) {
        println!("cargo:rustc-link-arg-bins=-T{dir}/kernel.ld");
    }
}
