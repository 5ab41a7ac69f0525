//! Links with libcerne's user-program linker script on the bare-metal target
//! and embeds the system bundle named by `CERNE_SYSTEM_BUNDLE` (an empty one
//! when unset: the root task then only reports its BootInfo).
use std::path::PathBuf;

fn main() {
    if std::env::var("TARGET").is_ok_and(|t| t.ends_with("-none")) {
        println!("cargo:rustc-link-arg-bins=-Tcerne-user.ld");
    }
    println!("cargo:rerun-if-env-changed=CERNE_SYSTEM_BUNDLE");
    let bundle = match std::env::var_os("CERNE_SYSTEM_BUNDLE") {
        Some(path) if !path.is_empty() => {
            let path = PathBuf::from(path);
            println!("cargo:rerun-if-changed={}", path.display());
            path.canonicalize()
                .unwrap_or_else(|e| panic!("CERNE_SYSTEM_BUNDLE={}: {e}", path.display()))
        }
        _ => {
            let empty = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("no-bundle");
            std::fs::write(&empty, []).expect("write the empty bundle");
            empty
        }
    };
    println!(
        "cargo:rustc-env=CERNE_SYSTEM_BUNDLE_PATH={}",
        bundle.display()
    );
}
