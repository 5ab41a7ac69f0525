//! Making an image: gather the files (from a directory of the repository and
//! from the caller), format a FAT32 volume with fatfs 0.3.6, copy them in,
//! and read the result back with the independent reader before it takes the
//! image's name.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use fatfs::{FatType, FileSystem, FormatVolumeOptions, FsOptions};

use super::{
    compare, fat, fixup, ImageEntry, ImageReport, CLUSTER_BYTES, IMAGE_BYTES, SECTOR_BYTES,
    VOLUME_LABEL,
};
use crate::error::{Context, Error, Result};

/// What goes at one path of the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A directory.
    Dir,
    /// A file with these contents.
    File(Vec<u8>),
}

/// The whole contents of an image, by absolute path (`/a/b`). A BTreeMap
/// sorts a directory before everything inside it, so walking it in order
/// creates parents first, and the image does not depend on the order the
/// host's file system lists a directory in.
pub type Tree = BTreeMap<String, Item>;

/// Why `name` cannot be one path component of a FAT long name, if it cannot.
pub fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("an empty name".into());
    }
    if name == "." || name == ".." {
        return Some(format!("`{name}` is not a name"));
    }
    if name.encode_utf16().count() > 255 {
        return Some("longer than FAT's 255 characters".into());
    }
    if let Some(c) = name
        .chars()
        .find(|&c| c < ' ' || c == '\u{7f}' || "\"*/:<>?\\|".contains(c))
    {
        return Some(format!("the character {c:?} is not allowed in FAT names"));
    }
    if name.ends_with('.') || name.ends_with(' ') || name.starts_with(' ') {
        return Some("FAT names may not start with a space or end with a space or dot".into());
    }
    None
}

/// Adds `path` (absolute or not; `/`-separated) with `item` to the tree,
/// with its parent directories. A path already there is an error, as is a
/// file where a directory is needed.
pub fn add(tree: &mut Tree, path: &str, item: Item) -> Result<()> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut at = String::new();
    for (i, part) in parts.iter().enumerate() {
        if let Some(problem) = name_problem(part) {
            return Err(Error::new(format!(
                "`{path}` cannot go on a FAT image: {problem}"
            )));
        }
        at.push('/');
        at.push_str(part);
        let last = i + 1 == parts.len();
        match tree.get(&at) {
            None if last => {}
            None => {
                tree.insert(at.clone(), Item::Dir);
            }
            Some(Item::Dir) if !last => {}
            Some(Item::Dir) if item == Item::Dir => return Ok(()),
            Some(_) if last => {
                return Err(Error::new(format!("`{at}` is on the image twice")));
            }
            Some(_) => {
                return Err(Error::new(format!(
                    "`{path}` needs `{at}` to be a directory, but it is a file"
                )));
            }
        }
    }
    tree.insert(at, item);
    Ok(())
}

/// Adds every file and directory under `dir` (recursively) to the tree, at
/// the same paths relative to `dir`. Symbolic links and special files are
/// refused (FAT has neither), as are names that are not UTF-8.
pub fn gather(dir: &Path, tree: &mut Tree) -> Result<()> {
    gather_under(dir, "", tree)
}

fn gather_under(dir: &Path, prefix: &str, tree: &mut Tree) -> Result<()> {
    let entries = fs::read_dir(dir).context(|| format!("cannot list {}", dir.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.context(|| format!("cannot list {}", dir.display()))?;
        names.push(entry.path());
    }
    names.sort();
    for path in names {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return Err(Error::new(format!(
                "{}: the name is not UTF-8",
                path.display()
            )));
        };
        let at = format!("{prefix}/{name}");
        let meta =
            fs::symlink_metadata(&path).context(|| format!("cannot read {}", path.display()))?;
        if meta.is_dir() {
            add(tree, &at, Item::Dir)
                .map_err(|e| Error::new(format!("{}: {e}", path.display())))?;
            gather_under(&path, &at, tree)?;
        } else if meta.is_file() {
            let data = fs::read(&path).context(|| format!("cannot read {}", path.display()))?;
            add(tree, &at, Item::File(data))
                .map_err(|e| Error::new(format!("{}: {e}", path.display())))?;
        } else {
            return Err(Error::new(format!(
                "{}: only plain files and directories go on a disk image (FAT has no links or devices)",
                path.display()
            )));
        }
    }
    Ok(())
}

/// Refuses two paths that differ only in case: FAT compares names without
/// case, so they would be the same file.
fn check_case(tree: &Tree) -> Result<()> {
    let mut folded: BTreeMap<String, &str> = BTreeMap::new();
    for path in tree.keys() {
        if let Some(other) = folded.insert(path.to_lowercase(), path) {
            return Err(Error::new(format!(
                "`{other}` and `{path}` differ only in case, and FAT names ignore case"
            )));
        }
    }
    Ok(())
}

/// The clusters the tree needs at least: each file's data, each directory's
/// entries (with long names) and its `.` and `..`.
fn clusters_needed(tree: &Tree) -> u64 {
    let cb = u64::from(CLUSTER_BYTES);
    let mut entries_in: BTreeMap<&str, u64> = BTreeMap::new();
    let mut clusters = 0u64;
    for (path, item) in tree {
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        // One short entry, one long entry per 13 characters, rounded up.
        let long = (name.encode_utf16().count() as u64).div_ceil(13);
        *entries_in.entry(parent).or_insert(0) += 1 + long;
        match item {
            Item::File(data) => clusters += (data.len() as u64).div_ceil(cb),
            Item::Dir => {
                entries_in.entry(path.as_str()).or_insert(0);
            }
        }
    }
    for (dir, n) in entries_in {
        let dots = if dir.is_empty() { 1 } else { 2 }; // root: the label
        clusters += ((n + dots) * 32).div_ceil(cb).max(1);
    }
    clusters
}

/// Writes the tree to a new image at `out`: formats and fills a temporary
/// file beside it, corrects what fatfs 0.3.6 gets wrong ([`fixup`]), checks it with [`fat::scan`] and compares its files with
/// the tree, and only then renames it to `out`. On any failure the temporary
/// file is removed and `out` is left as it was.
pub fn write(tree: &Tree, out: &Path) -> Result<ImageReport> {
    check_case(tree)?;
    let Some(file_name) = out.file_name().and_then(|n| n.to_str()) else {
        return Err(Error::new(format!("{}: not a file name", out.display())));
    };
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir).context(|| format!("cannot create {}", dir.display()))?;
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = fill(tree, &tmp)
        .and_then(|()| fixup::apply(&tmp))
        .and_then(|()| verify(tree, &tmp));
    match result {
        Ok(mut report) => {
            if let Err(e) = fs::rename(&tmp, out) {
                let _ = fs::remove_file(&tmp);
                return Err(Error::new(format!(
                    "cannot rename {} to {}: {e}",
                    tmp.display(),
                    out.display()
                )));
            }
            report.path = out.to_path_buf();
            Ok(report)
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// The volume serial number: a checksum of the contents, so the same files
/// always give the same image, byte for byte.
fn volume_id(tree: &Tree) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for (path, item) in tree {
        h.update(path.as_bytes());
        h.update(&[0]);
        if let Item::File(data) = item {
            h.update(&(data.len() as u64).to_le_bytes());
            h.update(data);
        }
    }
    h.finalize()
}

/// The clock of the build: always 1980-01-01 00:00:00, the first moment FAT
/// dates can hold, so that images do not depend on when they were made.
/// (Without a clock, fatfs 0.3.6 writes date and time fields of 0, which is
/// no valid date: month 0, day 0.)
#[derive(Debug)]
struct FixedTime;

static FIXED_TIME: FixedTime = FixedTime;

impl fatfs::TimeProvider for FixedTime {
    fn get_current_date(&self) -> fatfs::Date {
        fatfs::Date {
            year: 1980,
            month: 1,
            day: 1,
        }
    }

    fn get_current_date_time(&self) -> fatfs::DateTime {
        fatfs::DateTime {
            date: self.get_current_date(),
            time: fatfs::Time {
                hour: 0,
                min: 0,
                sec: 0,
                millis: 0,
            },
        }
    }
}

/// Formats `tmp` as FAT32 and copies the tree in with fatfs.
fn fill(tree: &Tree, tmp: &Path) -> Result<()> {
    let sectors = IMAGE_BYTES / u64::from(SECTOR_BYTES);
    // Data clusters after 8 reserved sectors and two FATs of 4-byte entries.
    let available = (sectors - 8 - 2 * (sectors * 4).div_ceil(u64::from(SECTOR_BYTES))) - 1;
    let need = clusters_needed(tree);
    if need > available {
        let bytes: u64 = tree
            .values()
            .map(|i| match i {
                Item::File(d) => d.len() as u64,
                Item::Dir => 0,
            })
            .sum();
        return Err(Error::new(format!(
            "the files ({bytes} bytes, {need} clusters of {CLUSTER_BYTES} bytes) do not fit in the {} MiB image ({available} clusters)",
            IMAGE_BYTES >> 20
        )));
    }
    let what = || format!("cannot write {}", tmp.display());
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp)
        .context(what)?;
    // Sparse: the unwritten data area costs no disk space on the host.
    file.set_len(IMAGE_BYTES).context(what)?;
    let options = FormatVolumeOptions::new()
        .fat_type(FatType::Fat32)
        .bytes_per_sector(SECTOR_BYTES)
        .bytes_per_cluster(CLUSTER_BYTES)
        .total_sectors(sectors as u32)
        .fats(2)
        .volume_id(volume_id(tree))
        .volume_label(*VOLUME_LABEL);
    fatfs::format_volume(&mut file, options)
        .context(|| format!("fatfs cannot format {}", tmp.display()))?;
    {
        let fs = FileSystem::new(&mut file, FsOptions::new().time_provider(&FIXED_TIME)).context(
            || {
                format!(
                    "fatfs cannot mount the volume it formatted in {}",
                    tmp.display()
                )
            },
        )?;
        fill_root(&fs.root_dir(), tree)?;
        fs.unmount()
            .context(|| format!("fatfs cannot unmount {}", tmp.display()))?;
    }
    file.sync_all().context(what)
}

/// Creates the tree's directories and files below the root, parents first.
fn fill_root<T: fatfs::ReadWriteSeek>(root: &fatfs::Dir<'_, T>, tree: &Tree) -> Result<()> {
    {
        for (path, item) in tree {
            let rel = &path[1..];
            match item {
                Item::Dir => {
                    root.create_dir(rel)
                        .context(|| format!("fatfs cannot create directory {path}"))?;
                }
                Item::File(data) => {
                    let mut f = root
                        .create_file(rel)
                        .context(|| format!("fatfs cannot create {path}"))?;
                    f.truncate()
                        .context(|| format!("fatfs cannot truncate {path}"))?;
                    f.write_all(data)
                        .context(|| format!("fatfs cannot write {path}"))?;
                    f.flush().context(|| format!("fatfs cannot write {path}"))?;
                }
            }
        }
    }
    Ok(())
}

/// Reads the new image back with the independent reader: it must be a
/// consistent FAT32 volume holding exactly the tree.
fn verify(tree: &Tree, tmp: &Path) -> Result<ImageReport> {
    let scan = fat::scan(tmp).context(|| format!("cannot read back {}", tmp.display()))?;
    if !scan.faults.is_empty() {
        return Err(Error::new(format!(
            "fatfs wrote an inconsistent image (the check found):\n  {}",
            scan.faults
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n  ")
        )));
    }
    let entries: Vec<ImageEntry> = scan.nodes.iter().map(ImageEntry::from).collect();
    let want: Vec<(String, u64, u32)> = tree
        .iter()
        .filter_map(|(path, item)| match item {
            Item::File(data) => Some(super::expected_file(path, data)),
            Item::Dir => None,
        })
        .collect();
    let mut differences = compare(&entries, &want, true);
    for (path, item) in tree {
        if *item == Item::Dir && !entries.iter().any(|e| e.is_dir && e.path == *path) {
            differences.push(format!("directory {path} is missing"));
        }
    }
    if !differences.is_empty() {
        return Err(Error::new(format!(
            "the image fatfs wrote does not hold the files it was given:\n  {}",
            differences.join("\n  ")
        )));
    }
    let files = entries.iter().filter(|e| !e.is_dir).count();
    Ok(ImageReport {
        path: tmp.to_path_buf(),
        files,
        dirs: entries.len() - files,
        bytes: entries.iter().map(|e| e.size).sum(),
        image_bytes: IMAGE_BYTES,
        entries,
        warnings: scan.warnings,
    })
}
