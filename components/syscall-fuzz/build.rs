//! Links with libcerne's user-program linker script on the bare-metal
//! target, and rebuilds when a build-time fuzzing setting changes
//! (`src/config.rs` reads them with `option_env!`).
fn main() {
    if std::env::var("TARGET").is_ok_and(|t| t.ends_with("-none")) {
        println!("cargo:rustc-link-arg-bins=-Tcerne-user.ld");
    }
    for var in [
        "CERNE_FUZZ_SEED",
        "CERNE_FUZZ_SYSCALLS",
        "CERNE_FUZZ_EPOCH",
        "CERNE_FUZZ_TRACE_FROM",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
}
