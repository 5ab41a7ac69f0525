//! The refinement property tests of `proofs/` (`cargo xtask proofs`), and
//! the one setting they share with `cargo xtask test`: the number of cases.

use crate::cargo;
use crate::error::Result;

/// The environment variable the proofs read for their number of cases.
pub const CASES_ENV: &str = "CERNE_PROOF_CASES";
/// Cases per property with `--long`.
pub const LONG_CASES: u32 = 200_000;
/// The package of the refinement tests.
pub const PACKAGE: &str = "cerne-proofs";

/// Sets the number of cases on `cmd` for a `--long` run; otherwise leaves the
/// proofs' own default.
pub fn set_cases(cmd: &mut std::process::Command, long: bool) {
    if long {
        cmd.env(CASES_ENV, LONG_CASES.to_string());
    }
}

/// `cargo test --release -p cerne-proofs`.
pub fn run(long: bool) -> Result<()> {
    let mut cmd = cargo::cargo();
    cmd.args(["test", "--release", "-p", PACKAGE]);
    set_cases(&mut cmd, long);
    cargo::run(&mut cmd)
}
