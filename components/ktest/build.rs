//! Links with libcerne's user-program linker script on the bare-metal target.
fn main() {
    if std::env::var("TARGET").is_ok_and(|t| t.ends_with("-none")) {
        println!("cargo:rustc-link-arg-bins=-Tcerne-user.ld");
    }
}
