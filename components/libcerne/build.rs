//! Publishes the user-program linker script: binaries that depend on
//! libcerne link with `-Tcerne-user.ld` (see their build.rs).
fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let script = include_str!("cerne-user.ld");
    std::fs::write(std::path::Path::new(&out).join("cerne-user.ld"), script)
        .expect("write linker script");
    println!("cargo:rustc-link-search={out}");
    println!("cargo:rerun-if-changed=cerne-user.ld");
}
