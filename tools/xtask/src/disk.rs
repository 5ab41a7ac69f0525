//! Disk images for the user-level virtio-blk driver and the FAT32 file
//! server, made and checked on the host with nothing outside cargo
//! (`cargo xtask disk`, docs/disk.md).
//!
//! Two implementations of FAT meet here, and neither is the guest's: images
//! are *written* by the fatfs crate at 0.3.6 (the guest runs starry-fatfs, a
//! publish of rust-fatfs 0.4), and *read and checked* by this module's own
//! parser ([`fat`]), which trusts nothing but the FAT specification. A bug
//! in one of the three is then unlikely to be hidden by the same bug in the
//! one reading its output.
//!
//! An image is 64 MiB ([`IMAGE_BYTES`]) of 512-byte sectors with 512-byte
//! clusters ([`CLUSTER_BYTES`]): about 129,000 clusters, twice FAT32's
//! minimum of 65,525, so it is FAT32 by the specification's own count and
//! not by a forced type; and one cluster is one sector, one virtio-blk
//! request. It holds every file under `disk/<system>/` of the repository,
//! plus files the caller adds: the images the verbs, runs and checks make
//! carry the user programs at `/bin/<name>` ([`programs`]). fatfs runs
//! without a clock, so every timestamp is 1980-01-01 00:00 and the volume
//! serial number is a checksum of the contents: the same files give the
//! same image, byte for byte.
//!
//! The API, for the verbs and the QEMU checks:
//! - [`build_image`] / [`build_image_from`]: make an image (atomically, and
//!   checked before it is renamed into place);
//! - [`list_image`]: every file and directory with its size and CRC-32;
//! - [`check_image`] / [`inspect_image`]: the consistency check (and
//!   `fsck.fat -n` when it is installed);
//! - [`expect_exact`] / [`expect_files`]: compare an image's files with what
//!   a test expects, naming every difference.

mod build;
mod fat;
mod fixup;
pub mod programs;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use fat::{Fault, FaultKind, Geometry};

use crate::cli::DiskArgs;
use crate::error::{Context, Error, Result};

/// The size of every image: 64 MiB.
pub const IMAGE_BYTES: u64 = 64 << 20;
/// The sector size of every image.
pub const SECTOR_BYTES: u16 = 512;
/// The cluster size of every image: one sector.
pub const CLUSTER_BYTES: u32 = 512;
/// The volume label of every image (boot sector and root directory).
pub const VOLUME_LABEL: &[u8; 11] = b"CERNE      ";
/// The system whose disk the verbs use when none is named.
pub const DEFAULT_SYSTEM: &str = "default";

/// One file or directory on an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageEntry {
    /// Absolute, `/`-separated path (`/docs/notes.txt`).
    pub path: String,
    /// A directory?
    pub is_dir: bool,
    /// A file's size in bytes (0 for a directory).
    pub size: u64,
    /// A file's CRC-32 (IEEE, as `crc32fast` and zlib compute it); `None` for
    /// a directory.
    pub crc32: Option<u32>,
}

impl From<&fat::Node> for ImageEntry {
    fn from(n: &fat::Node) -> Self {
        ImageEntry {
            path: n.path.clone(),
            is_dir: n.is_dir,
            size: n.size,
            crc32: n.crc32,
        }
    }
}

/// What [`build_image`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReport {
    /// The image.
    pub path: PathBuf,
    /// Files on it.
    pub files: usize,
    /// Directories on it (not counting the root).
    pub dirs: usize,
    /// Bytes of file data on it.
    pub bytes: u64,
    /// The size of the image file.
    pub image_bytes: u64,
    /// Everything on it, sorted by path (read back from the image).
    pub entries: Vec<ImageEntry>,
    /// What the check of the new image warned about (it found no fault, or
    /// there would be no image).
    pub warnings: Vec<String>,
}

impl ImageReport {
    /// The image's files as `(path, size, crc32)`, for [`expect_exact`]: a
    /// test adds what the guest should have written and compares.
    #[allow(dead_code, reason = "API of the QEMU disk checks, which come next")]
    pub fn expected(&self) -> Vec<(String, u64, u32)> {
        self.entries
            .iter()
            .filter_map(|e| e.crc32.map(|crc| (e.path.clone(), e.size, crc)))
            .collect()
    }
}

/// `disk/<system>/` in the repository: what goes on the system's image.
pub fn disk_dir(system: &str) -> PathBuf {
    crate::cargo::workspace_root().join("disk").join(system)
}

/// Where `cargo xtask disk build` puts the system's image:
/// `target/disk/<system>.img`.
pub fn default_image(system: &str) -> PathBuf {
    crate::cargo::target_dir()
        .join("disk")
        .join(format!("{system}.img"))
}

/// The disk `cargo xtask run` boots `system` with: its image
/// `target/disk/<system>.img`, made from `disk/<files>/` and the programs
/// when there is none yet, so that what a run writes is still there on the
/// next run (`cargo xtask disk build --system <system>` starts afresh). An
/// image whose `/bin` holds other programs than those just built is kept,
/// with a warning that says how to refresh it.
pub fn image_of(system: &str, files: &str) -> Result<PathBuf> {
    let path = default_image(system);
    let programs = programs::disk_files()?;
    if !path.is_file() {
        let report = build_image(files, &path, &programs)?;
        eprintln!(
            "[xtask] made {} from disk/{files}/ and the programs ({} files)",
            path.display(),
            report.expected().len()
        );
    } else {
        let want: Vec<_> = programs
            .iter()
            .map(|(p, bytes)| expected_file(p, bytes))
            .collect();
        if expect_files(&path, &want).is_err() {
            eprintln!(
                "[xtask] warning: {} holds older programs in {}; `cargo xtask disk build --system {system}` makes it afresh (losing what runs wrote)",
                path.display(),
                programs::BIN_DIR
            );
        }
    }
    Ok(path)
}

/// A fresh image of `disk/<files>/` and the programs at
/// `target/disk/<name>.img` (for the checks, which must not depend on what
/// an earlier run left).
pub fn fresh_image(name: &str, files: &str) -> Result<(PathBuf, ImageReport)> {
    fresh_image_with(name, files, &[])
}

/// [`fresh_image`] with `extra` files besides the programs (`(path in the
/// image, contents)`).
pub fn fresh_image_with(
    name: &str,
    files: &str,
    extra: &[(String, Vec<u8>)],
) -> Result<(PathBuf, ImageReport)> {
    let path = default_image(name);
    let mut all = programs::disk_files()?;
    all.extend_from_slice(extra);
    let report = build_image(files, &path, &all)?;
    Ok((path, report))
}

/// Makes the FAT32 image of `system` at `out`: every file and directory
/// under `disk/<system>/` of the repository, at the same paths, plus
/// `extra_files` (`(path in the image, contents)`, e.g. `/bin/hello`; parent
/// directories are made as needed). The image is written to a temporary file
/// beside `out`, checked, compared with what was asked, and only then
/// renamed to `out`, so a failed build never leaves a partial image.
///
/// Errors: no `disk/<system>/`, a name FAT cannot hold, two paths differing
/// only in case, an extra file that is already there, files that do not
/// fit, an I/O error, or an image that fails its check.
pub fn build_image(
    system: &str,
    out: &Path,
    extra_files: &[(String, Vec<u8>)],
) -> Result<ImageReport> {
    if system.is_empty() || system.contains(['/', '\\']) || system.starts_with('.') {
        return Err(Error::new(format!("`{system}` is not a system name")));
    }
    let dir = disk_dir(system);
    if !dir.is_dir() {
        let known = systems_with_disks();
        return Err(Error::new(format!(
            "there is no {} for system `{system}`; the systems with disks are: {}",
            dir.display(),
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        )));
    }
    build_image_from(&dir, out, extra_files)
}

/// Like [`build_image`], from any directory `src` instead of
/// `disk/<system>/`.
pub fn build_image_from(
    src: &Path,
    out: &Path,
    extra_files: &[(String, Vec<u8>)],
) -> Result<ImageReport> {
    let mut tree = build::Tree::new();
    build::gather(src, &mut tree)?;
    for (path, data) in extra_files {
        build::add(&mut tree, path, build::Item::File(data.clone())).map_err(|e| {
            Error::new(format!(
                "extra file {path} (not added to the files of {}): {e}",
                src.display()
            ))
        })?;
    }
    build::write(&tree, out)
}

/// The systems that have a `disk/<system>/` directory.
pub fn systems_with_disks() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(crate::cargo::workspace_root().join("disk"))
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Every file and directory on the image (not the root), sorted by path,
/// read by the independent reader. An image the check finds inconsistent is
/// an error naming its faults: its listing could not be trusted.
#[allow(dead_code, reason = "API of the QEMU disk checks, which come next")]
pub fn list_image(img: &Path) -> Result<Vec<ImageEntry>> {
    let scan = read(img)?;
    if !scan.faults.is_empty() {
        return Err(Error::new(format!(
            "{} is inconsistent, so its files cannot be listed:\n  {}",
            img.display(),
            join_faults(&scan.faults)
        )));
    }
    Ok(scan.nodes.iter().map(ImageEntry::from).collect())
}

/// The verdict of `fsck.fat -n` on an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fsck {
    /// Not run; why (`fsck.fat not present, skipped`).
    Skipped(String),
    /// It exited 0.
    Clean,
    /// It exited non-zero; what it said.
    Faulty(String),
}

impl Fsck {
    /// One line for a report.
    pub fn describe(&self) -> String {
        match self {
            Fsck::Skipped(why) => why.clone(),
            Fsck::Clean => "fsck.fat -n: clean".into(),
            Fsck::Faulty(what) => format!("fsck.fat -n found faults: {what}"),
        }
    }
}

/// What [`inspect_image`] and [`check_image`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// The image checked.
    pub image: PathBuf,
    /// Its layout, if its boot sector could be read.
    pub geometry: Option<Geometry>,
    /// Files found.
    pub files: usize,
    /// Directories found (not counting the root).
    pub dirs: usize,
    /// Clusters the FAT marks used.
    pub used_clusters: u32,
    /// Clusters the FAT marks free.
    pub free_clusters: u32,
    /// Everything inconsistent; empty for a clean image.
    pub faults: Vec<Fault>,
    /// Advisory data that disagrees (FSInfo), and conventions bent.
    pub warnings: Vec<String>,
    /// The second opinion of `fsck.fat -n`, if installed. When it found
    /// faults, they are also in `faults` (as [`FaultKind::Fsck`]).
    pub fsck: Fsck,
}

impl CheckReport {
    /// No fault (warnings allowed).
    pub fn is_clean(&self) -> bool {
        self.faults.is_empty()
    }

    /// Whether a fault of this kind was found.
    #[allow(dead_code, reason = "API of the QEMU disk checks, which come next")]
    pub fn has(&self, kind: FaultKind) -> bool {
        self.faults.iter().any(|f| f.kind == kind)
    }

    /// The report for a person: faults, warnings, fsck's verdict, a summary.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for f in &self.faults {
            s.push_str(&format!("error: {f}\n"));
        }
        for w in &self.warnings {
            s.push_str(&format!("warning: {w}\n"));
        }
        s.push_str(&self.fsck.describe());
        s.push('\n');
        let shape = match &self.geometry {
            Some(g) => format!(
                "FAT32, {} MiB, {}-byte clusters, label `{}`, {} of {} clusters used; {} files, {} directories",
                g.volume_bytes() >> 20,
                g.cluster_bytes(),
                g.label,
                self.used_clusters,
                g.clusters,
                self.files,
                self.dirs
            ),
            None => "no readable FAT32 boot sector".into(),
        };
        if self.is_clean() {
            s.push_str(&format!("{}: clean ({shape})\n", self.image.display()));
        } else {
            s.push_str(&format!(
                "{}: {} faults ({shape})\n",
                self.image.display(),
                self.faults.len()
            ));
        }
        s
    }
}

/// Checks the consistency of a FAT32 image, and returns the report; `Err`
/// only when the file cannot be read at all. The check trusts no FAT
/// library: it parses the boot sector itself, walks every directory from the
/// root and follows every chain in the FAT, and reports as faults
/// cross-linked chains, looping chains, chains that do not match their
/// file's size (too short or too long), broken chains, lost clusters (used
/// but reached by nothing), FAT copies that differ, a bad boot sector, a
/// truncated image, and bad directory entries; as warnings, an FSInfo free
/// count that disagrees with the FAT (FSInfo is advisory) and other
/// oddities. Then it runs `fsck.fat -n` if that is on the PATH (or in
/// /usr/sbin, /sbin), and a complaint of fsck's is a fault too.
pub fn inspect_image(img: &Path) -> Result<CheckReport> {
    let scan = read(img)?;
    let mut report = report_of(img, scan);
    report.fsck = match fsck_program() {
        Some(program) => run_fsck(&program, img),
        None => Fsck::Skipped("fsck.fat not present, skipped".into()),
    };
    if let Fsck::Faulty(what) = &report.fsck {
        report.faults.push(Fault {
            kind: FaultKind::Fsck,
            message: format!("fsck.fat -n: {what}"),
        });
    }
    Ok(report)
}

/// [`inspect_image`], failing when the image has any fault: the error lists
/// every one.
#[allow(dead_code, reason = "API of the QEMU disk checks, which come next")]
pub fn check_image(img: &Path) -> Result<CheckReport> {
    let report = inspect_image(img)?;
    if report.is_clean() {
        Ok(report)
    } else {
        Err(Error::new(format!(
            "{} fails its check:\n  {}",
            img.display(),
            join_faults(&report.faults)
        )))
    }
}

fn read(img: &Path) -> Result<fat::Scan> {
    fat::scan(img).context(|| format!("cannot read {}", img.display()))
}

fn report_of(img: &Path, scan: fat::Scan) -> CheckReport {
    let files = scan.nodes.iter().filter(|n| !n.is_dir).count();
    CheckReport {
        image: img.to_path_buf(),
        geometry: scan.geometry,
        files,
        dirs: scan.nodes.len() - files,
        used_clusters: scan.used_clusters,
        free_clusters: scan.free_clusters,
        faults: scan.faults,
        warnings: scan.warnings,
        fsck: Fsck::Skipped("fsck.fat not run".into()),
    }
}

fn join_faults(faults: &[Fault]) -> String {
    faults
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n  ")
}

/// `fsck.fat` on the PATH, or where Debian puts it for root.
fn fsck_program() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join("fsck.fat"))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Runs `program -n img` (never repairing anything) and reads its verdict
/// from its exit status; its output, trimmed, says what it found.
fn run_fsck(program: &Path, img: &Path) -> Fsck {
    let output = match Command::new(program).arg("-n").arg(img).output() {
        Ok(o) => o,
        Err(e) => {
            return Fsck::Skipped(format!(
                "fsck.fat could not be run ({}: {e}), skipped",
                program.display()
            ))
        }
    };
    if output.status.success() {
        return Fsck::Clean;
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    const KEPT: usize = 20;
    let mut said = lines
        .iter()
        .take(KEPT)
        .copied()
        .collect::<Vec<_>>()
        .join(" | ");
    if lines.len() > KEPT {
        said.push_str(&format!(" | ... ({} more lines)", lines.len() - KEPT));
    }
    Fsck::Faulty(format!("{} ({said})", output.status))
}

/// `(path, size, crc32)` of a file with these contents, as [`expect_exact`]
/// wants it. The path gains a leading `/` if it has none.
pub fn expected_file(path: &str, data: &[u8]) -> (String, u64, u32) {
    (absolute(path), data.len() as u64, crc32fast::hash(data))
}

fn absolute(path: &str) -> String {
    format!("/{}", path.trim_start_matches('/'))
}

/// The differences between the image's files and `want`; with `exact`,
/// files the image has and `want` does not are differences too. Directories
/// are not compared: they follow from the files' paths.
fn compare(entries: &[ImageEntry], want: &[(String, u64, u32)], exact: bool) -> Vec<String> {
    let have: BTreeMap<&str, &ImageEntry> = entries.iter().map(|e| (e.path.as_str(), e)).collect();
    let mut wanted: BTreeMap<String, (u64, u32)> = BTreeMap::new();
    let mut differences = Vec::new();
    for (path, size, crc) in want {
        if wanted.insert(absolute(path), (*size, *crc)).is_some() {
            differences.push(format!("{path} is expected twice"));
        }
    }
    for (path, &(size, crc)) in &wanted {
        match have.get(path.as_str()) {
            None => differences.push(format!("missing: {path} ({size} bytes)")),
            Some(e) if e.is_dir => {
                differences.push(format!("{path} is a directory, not a file of {size} bytes"))
            }
            Some(e) => {
                if e.size != size {
                    differences.push(format!("{path}: {} bytes, expected {size}", e.size));
                }
                match e.crc32 {
                    Some(c) if c == crc => {}
                    Some(c) => {
                        differences.push(format!("{path}: crc32 {c:08x}, expected {crc:08x}"))
                    }
                    None => differences.push(format!("{path}: its contents could not be read")),
                }
            }
        }
    }
    if exact {
        for e in entries {
            if !e.is_dir && !wanted.contains_key(&e.path) {
                differences.push(format!("extra: {} ({} bytes)", e.path, e.size));
            }
        }
    }
    differences
}

/// The image holds exactly the files `expected` (`(path, size, crc32)`), no
/// more and no fewer; directories are not compared. The error names every
/// difference: missing files, extra files, wrong sizes, wrong checksums. An
/// inconsistent image is an error too (see [`list_image`]). To expect an
/// image's build-time files plus what a guest wrote, start from
/// [`ImageReport::expected`].
#[allow(dead_code, reason = "API of the QEMU disk checks, which come next")]
pub fn expect_exact(img: &Path, expected: &[(String, u64, u32)]) -> Result<()> {
    expect(img, expected, true)
}

/// The image holds the files `expected`, with these sizes and checksums;
/// other files may be there too. The error names every difference.
pub fn expect_files(img: &Path, expected: &[(String, u64, u32)]) -> Result<()> {
    expect(img, expected, false)
}

fn expect(img: &Path, expected: &[(String, u64, u32)], exact: bool) -> Result<()> {
    let entries = list_image(img)?;
    let differences = compare(&entries, expected, exact);
    if differences.is_empty() {
        Ok(())
    } else {
        Err(Error::new(format!(
            "{} does not hold the expected files:\n  {}",
            img.display(),
            differences.join("\n  ")
        )))
    }
}

/// `cargo xtask disk`: `Ok(false)` when the image has faults (exit 1).
pub fn command(args: &DiskArgs) -> Result<bool> {
    match args {
        DiskArgs::Build { system, out } => {
            let out = out.clone().unwrap_or_else(|| default_image(system));
            let report = build_image(system, &out, &programs::disk_files()?)?;
            for w in &report.warnings {
                eprintln!("warning: {w}");
            }
            println!(
                "{}: {} files in {} directories, {} bytes (FAT32, {} MiB, {}-byte clusters)",
                report.path.display(),
                report.files,
                report.dirs,
                report.bytes,
                report.image_bytes >> 20,
                CLUSTER_BYTES
            );
            Ok(true)
        }
        DiskArgs::List { image } => {
            let img = image
                .clone()
                .unwrap_or_else(|| default_image(DEFAULT_SYSTEM));
            let scan = read(&img)?;
            print!(
                "{}",
                table(&scan.nodes.iter().map(ImageEntry::from).collect::<Vec<_>>())
            );
            if scan.faults.is_empty() {
                Ok(true)
            } else {
                eprintln!(
                    "{} is inconsistent; the listing may be wrong:\n  {}",
                    img.display(),
                    join_faults(&scan.faults)
                );
                Ok(false)
            }
        }
        DiskArgs::Check { image } => {
            let img = image
                .clone()
                .unwrap_or_else(|| default_image(DEFAULT_SYSTEM));
            let report = inspect_image(&img)?;
            print!("{}", report.describe());
            Ok(report.is_clean())
        }
    }
}

/// The listing as a table: path, size, CRC-32 (`-` for directories).
pub fn table(entries: &[ImageEntry]) -> String {
    let width = entries
        .iter()
        .map(|e| e.path.chars().count() + usize::from(e.is_dir))
        .max()
        .unwrap_or(0)
        .max(4);
    let mut s = format!("{:<width$}  {:>10}  {:>8}\n", "PATH", "SIZE", "CRC32");
    for e in entries {
        let (path, crc) = if e.is_dir {
            (format!("{}/", e.path), "-".to_owned())
        } else {
            (
                e.path.clone(),
                e.crc32.map_or("?".to_owned(), |c| format!("{c:08x}")),
            )
        };
        let size = if e.is_dir {
            "-".to_owned()
        } else {
            e.size.to_string()
        };
        s.push_str(&format!("{path:<width$}  {size:>10}  {crc:>8}\n"));
    }
    s
}
