//! The programs the process manager loads at run time (`components/programs`,
//! package `user-programs`, docs/programs.md): built for aarch64 in release
//! like the component programs, put on every disk image at `/bin/<name>`
//! stripped (no debug information, no section headers), and kept as built
//! next to a system's component programs
//! (`target/images/parts/<system>/programs/`) so that the addresses of
//! their fault reports can be named (crate::symbolize).

use std::path::Path;

use crate::cargo::{self, TARGET};
use crate::error::{Context, Error, Result};

/// The package of the programs.
pub const PACKAGE: &str = "user-programs";

/// Its programs, as its Cargo.toml names its `[[bin]]`s.
pub const NAMES: [&str; 11] = [
    "hello", "cat", "wc", "hog", "crashme", "lat", "fstest", "big", "true", "proctest", "bigfile",
];

/// The directory of the disk image that holds them.
pub const BIN_DIR: &str = "/bin";

/// `/bin/<name>`.
pub fn disk_path(name: &str) -> String {
    format!("{BIN_DIR}/{name}")
}

/// Builds every program (release, aarch64).
pub fn build() -> Result<()> {
    crate::setup::ensure_target()?;
    let mut cmd = cargo::cargo();
    // The package alone, for the reason sysimage::build_programs gives.
    cmd.args([
        "build",
        "--release",
        "--target",
        TARGET,
        "-p",
        PACKAGE,
        "--bins",
    ]);
    cargo::run(&mut cmd)
}

/// Builds the programs; each as the disk carries it: `("/bin/<name>",
/// stripped ELF)`.
pub fn disk_files() -> Result<Vec<(String, Vec<u8>)>> {
    build()?;
    NAMES
        .iter()
        .map(|name| {
            let bytes = crate::sysimage::load_program(name).map_err(Error::new)?;
            Ok((disk_path(name), bytes))
        })
        .collect()
}

/// Copies the programs as built (with their symbols and line tables) into
/// `dir`, which a system image's component programs share.
pub fn keep_unstripped(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))?;
    for name in NAMES {
        let from = cargo::aarch64_release_dir().join(name);
        let to = dir.join(name);
        std::fs::copy(&from, &to)
            .context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `[[bin]]` names of the package's Cargo.toml.
    fn manifest_bins() -> Vec<String> {
        let path = cargo::workspace_root().join("components/programs/Cargo.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut bins = Vec::new();
        let mut in_bin = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                in_bin = line == "[[bin]]";
            } else if let Some(value) = line.strip_prefix("name = ").filter(|_| in_bin) {
                bins.push(value.trim_matches('"').to_owned());
            }
        }
        bins
    }

    #[test]
    fn names_are_the_packages_bins() {
        let mut want = manifest_bins();
        want.sort();
        let mut have: Vec<String> = NAMES.iter().map(|&n| n.to_owned()).collect();
        have.sort();
        assert_eq!(have, want);
    }

    #[test]
    fn names_do_not_clash_with_component_programs() {
        // One release directory holds both packages' binaries.
        let components =
            std::fs::read_to_string(cargo::workspace_root().join("components/system/Cargo.toml"))
                .unwrap();
        for name in NAMES {
            assert!(
                !components.contains(&format!("name = \"{name}\"")),
                "{name} is also a component program"
            );
        }
    }

    /// The real thing: the default disk built with the programs lists each
    /// at /bin/<name>, stripped, and passes the image check. It builds the
    /// programs (cargo, incremental) into its own target directory, so it
    /// never waits for the lock of the `cargo test` that runs it.
    #[test]
    fn the_default_disk_holds_the_programs() {
        let t = std::env::temp_dir().join(format!("xtask-programs-{}", std::process::id()));
        std::fs::create_dir_all(&t).unwrap();
        let target = cargo::workspace_root().join("target/xtask-tests");
        let status = cargo::cargo()
            .args(["build", "--release", "--target", TARGET, "-p", PACKAGE])
            .arg("--bins")
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .unwrap();
        assert!(status.success());
        let release = target.join(TARGET).join("release");
        let mut files = Vec::new();
        for name in NAMES {
            let built = std::fs::read(release.join(name)).unwrap();
            let len = cerne_plat::elf::stripped_len(&built).unwrap();
            let mut bytes = built[..len].to_vec();
            cerne_plat::elf::clear_section_headers(&mut bytes);
            assert!(bytes.len() < built.len(), "{name} was not stripped");
            files.push((disk_path(name), bytes));
        }
        let img = t.join("default.img");
        super::super::build_image(super::super::DEFAULT_SYSTEM, &img, &files).unwrap();
        super::super::check_image(&img).unwrap();
        let listed = super::super::list_image(&img).unwrap();
        for (path, bytes) in &files {
            let e = listed
                .iter()
                .find(|e| &e.path == path)
                .unwrap_or_else(|| panic!("{path} is not on the image"));
            assert_eq!(e.size, bytes.len() as u64, "{path}");
            assert_eq!(e.crc32, Some(crc32fast::hash(bytes)), "{path}");
        }
        let big = files.iter().find(|(p, _)| p == "/bin/big").unwrap();
        assert!(big.1.len() > 1 << 20, "big is {} bytes", big.1.len());
        std::fs::remove_dir_all(&t).unwrap();
    }
}
