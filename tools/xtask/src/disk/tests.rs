//! Tests of the disk images: round trips through fatfs and the independent
//! reader, each corruption the check must name, and the comparisons.

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::fat::{self, Geometry, Node};
use super::*;

/// A directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("cerne-disk-test-{}-{n}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Bytes that are not all the same, so a misplaced cluster changes the CRC.
fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// The files of the sample tree, by image path.
fn sample_files() -> Vec<(String, Vec<u8>)> {
    vec![
        ("/HELLO.TXT".into(), b"hello, disk\n".to_vec()),
        ("/big.bin".into(), noise(3000, 1)),
        ("/exact.bin".into(), noise(1024, 2)),
        ("/empty.txt".into(), Vec::new()),
        ("/docs/notes.txt".into(), b"notes\n".to_vec()),
        (
            "/docs/deeper/a rather long file name, for VFAT.text".into(),
            noise(700, 3),
        ),
    ]
}

/// Writes the sample tree into `dir` (with an empty directory too).
fn write_sample(dir: &Path) {
    for (path, data) in sample_files() {
        let p = dir.join(&path[1..]);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }
    fs::create_dir_all(dir.join("emptydir")).unwrap();
}

/// A temporary directory holding `src/` (the sample) and `disk.img` built
/// from it.
fn sample_image(name: &str) -> (TempDir, PathBuf) {
    let t = TempDir::new(name);
    write_sample(&t.join("src"));
    let img = t.join("disk.img");
    build_image_from(&t.join("src"), &img, &[]).unwrap();
    (t, img)
}

fn want(files: &[(String, Vec<u8>)]) -> Vec<(String, u64, u32)> {
    files.iter().map(|(p, d)| expected_file(p, d)).collect()
}

fn geometry(img: &Path) -> Geometry {
    fat::scan(img).unwrap().geometry.unwrap()
}

fn node(img: &Path, path: &str) -> Node {
    let scan = fat::scan(img).unwrap();
    scan.nodes
        .into_iter()
        .find(|n| n.path == path)
        .unwrap_or_else(|| panic!("{path} not on the image"))
}

fn poke(img: &Path, offset: u64, bytes: &[u8]) {
    let f = fs::OpenOptions::new().write(true).open(img).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

fn peek(img: &Path, offset: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    fs::File::open(img)
        .unwrap()
        .read_exact_at(&mut buf, offset)
        .unwrap();
    buf
}

/// Sets the FAT entry of `cluster` in every copy, so that only the fault
/// meant is made (not also "FAT copies differ").
fn set_fat(img: &Path, geo: &Geometry, cluster: u32, value: u32) {
    for copy in 0..geo.fats {
        poke(
            img,
            geo.fat_offset(copy) + u64::from(cluster) * 4,
            &value.to_le_bytes(),
        );
    }
}

const EOC: u32 = 0x0FFF_FFFF;

/// The byte offset of the directory entry with this 11-byte short name in
/// the first cluster of the root directory.
fn root_entry(img: &Path, short: &[u8; 11]) -> u64 {
    let geo = geometry(img);
    let base = geo.cluster_offset(geo.root_cluster);
    let data = peek(img, base, geo.cluster_bytes() as usize);
    let at = data
        .chunks_exact(32)
        .position(|e| &e[..11] == short)
        .unwrap_or_else(|| panic!("no entry {:?}", String::from_utf8_lossy(short)));
    base + at as u64 * 32
}

/// The highest cluster of the volume, free in every sample image.
fn a_free_cluster(geo: &Geometry) -> u32 {
    geo.max_cluster()
}

fn assert_fault(report: &CheckReport, kind: FaultKind, words: &[&str]) {
    let hit = report
        .faults
        .iter()
        .any(|f| f.kind == kind && words.iter().all(|w| f.message.contains(w)));
    assert!(
        hit,
        "expected a {kind:?} fault mentioning {words:?}; the report:\n{}",
        report.describe()
    );
    // check_image fails, naming it.
    let err = check_image(&report.image).unwrap_err().to_string();
    assert!(words.iter().all(|w| err.contains(w)), "{err}");
}

#[test]
fn build_list_check_round_trip() {
    let t = TempDir::new("round-trip");
    write_sample(&t.join("src"));
    let img = t.join("out/disk.img");
    let report = build_image_from(&t.join("src"), &img, &[]).unwrap();
    assert_eq!(report.path, img);
    assert_eq!(report.files, 6);
    assert_eq!(report.dirs, 3, "{:?}", report.entries);
    assert_eq!(report.bytes, 12 + 3000 + 1024 + 6 + 700);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(fs::metadata(&img).unwrap().len(), IMAGE_BYTES);

    let listed = list_image(&img).unwrap();
    let paths: Vec<&str> = listed.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/HELLO.TXT",
            "/big.bin",
            "/docs",
            "/docs/deeper",
            "/docs/deeper/a rather long file name, for VFAT.text",
            "/docs/notes.txt",
            "/empty.txt",
            "/emptydir",
            "/exact.bin",
        ]
    );
    assert_eq!(listed, report.entries);
    expect_exact(&img, &want(&sample_files())).unwrap();
    expect_exact(&img, &report.expected()).unwrap();

    let check = check_image(&img).unwrap();
    assert!(check.is_clean());
    assert!(check.warnings.is_empty(), "{:?}", check.warnings);
    assert_eq!((check.files, check.dirs), (6, 3));
    let g = check.geometry.unwrap();
    assert_eq!(g.cluster_bytes(), u64::from(CLUSTER_BYTES));
    assert_eq!(g.volume_bytes(), IMAGE_BYTES);
    assert!(g.clusters >= fat::FAT32_MIN_CLUSTERS, "{}", g.clusters);
    assert_eq!(g.label, "CERNE");
    assert!(g.mirrored && g.fats == 2);
    // Files: 1 + 6 + 2 + 0 + 1 + 2 clusters; directories: root, docs,
    // deeper, emptydir one each.
    assert_eq!(check.used_clusters, 12 + 4);
    assert_eq!(check.used_clusters + check.free_clusters, g.clusters);
}

#[test]
fn the_same_files_make_the_same_image() {
    let t = TempDir::new("reproducible");
    write_sample(&t.join("src"));
    build_image_from(&t.join("src"), &t.join("a.img"), &[]).unwrap();
    build_image_from(&t.join("src"), &t.join("b.img"), &[]).unwrap();
    assert!(fs::read(t.join("a.img")).unwrap() == fs::read(t.join("b.img")).unwrap());
    fs::write(t.join("src/HELLO.TXT"), b"changed\n").unwrap();
    build_image_from(&t.join("src"), &t.join("c.img"), &[]).unwrap();
    assert_ne!(
        geometry(&t.join("a.img")).volume_id,
        geometry(&t.join("c.img")).volume_id
    );
}

#[test]
fn extra_files_land_under_their_directories() {
    let t = TempDir::new("extra");
    write_sample(&t.join("src"));
    let img = t.join("disk.img");
    let extra = vec![
        ("/bin/hello".to_owned(), noise(5000, 9)),
        ("docs/added.txt".to_owned(), b"added\n".to_vec()),
    ];
    let report = build_image_from(&t.join("src"), &img, &extra).unwrap();
    assert_eq!(report.files, 8);
    let listed = list_image(&img).unwrap();
    assert!(listed.iter().any(|e| e.path == "/bin" && e.is_dir));
    let mut all = sample_files();
    all.extend(extra);
    expect_exact(&img, &want(&all)).unwrap();
    assert!(check_image(&img).unwrap().is_clean());
}

#[test]
fn what_fat_cannot_hold_is_refused() {
    let t = TempDir::new("refused");
    write_sample(&t.join("src"));
    let img = t.join("disk.img");
    for bad in [
        "/a:b",
        "/bin/",
        "/x/../y",
        "/trailing.",
        "/ space",
        "/q?",
        "/HELLO.TXT",
        "/hello.txt",
        "/HELLO.TXT/inside",
        "/docs",
    ] {
        let err = build_image_from(&t.join("src"), &img, &[(bad.to_owned(), b"x".to_vec())]);
        assert!(err.is_err(), "`{bad}` should be refused");
        assert!(!img.exists());
    }
    // Two host names that FAT would take for one.
    fs::write(t.join("src/Hello.txt"), b"x").unwrap();
    let err = build_image_from(&t.join("src"), &img, &[]).unwrap_err();
    assert!(err.to_string().contains("differ only in case"), "{err}");
    // Symbolic links have no FAT form.
    fs::remove_file(t.join("src/Hello.txt")).unwrap();
    std::os::unix::fs::symlink("HELLO.TXT", t.join("src/link")).unwrap();
    assert!(build_image_from(&t.join("src"), &img, &[]).is_err());
}

#[test]
fn a_failed_build_leaves_no_image() {
    let t = TempDir::new("failed");
    write_sample(&t.join("src"));
    let img = t.join("disk.img");
    fs::write(&img, b"the old image").unwrap();
    let too_big = vec![("/huge.bin".to_owned(), vec![0u8; 70 << 20])];
    let err = build_image_from(&t.join("src"), &img, &too_big).unwrap_err();
    assert!(err.to_string().contains("do not fit"), "{err}");
    assert_eq!(fs::read(&img).unwrap(), b"the old image");
    let left: Vec<_> = fs::read_dir(&t.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "a temporary file was left: {left:?}");
}

#[test]
fn the_default_disk_builds_clean() {
    let t = TempDir::new("default");
    let img = t.join("default.img");
    let report = build_image(DEFAULT_SYSTEM, &img, &[]).unwrap();
    let paths: Vec<&str> = report.entries.iter().map(|e| e.path.as_str()).collect();
    for p in ["/README.TXT", "/motd.txt", "/docs"] {
        assert!(paths.contains(&p), "{p} missing from {paths:?}");
    }
    let readme = fs::read(disk_dir(DEFAULT_SYSTEM).join("README.TXT")).unwrap();
    expect_files(&img, &[expected_file("/README.TXT", &readme)]).unwrap();
    assert!(check_image(&img).unwrap().is_clean());

    let err = build_image("no-such-system", &img, &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("default"), "{err}");
    assert!(build_image("../tools", &img, &[]).is_err());
}

/// The library that wrote the image reads back what the independent reader
/// lists: names (long and short), sizes and contents agree.
#[test]
fn fatfs_reads_what_the_checker_lists() {
    use std::io::Read;
    let (_t, img) = sample_image("fatfs-reads");
    let mut file = fs::File::open(&img).unwrap();
    let fs = fatfs::FileSystem::new(&mut file, fatfs::FsOptions::new()).unwrap();
    let mut seen = Vec::new();
    let mut dirs = vec![("".to_owned(), fs.root_dir())];
    while let Some((prefix, dir)) = dirs.pop() {
        for e in dir.iter() {
            let e = e.unwrap();
            let name = e.file_name();
            if name == "." || name == ".." {
                continue;
            }
            let path = format!("{prefix}/{name}");
            if e.is_dir() {
                seen.push(ImageEntry {
                    path: path.clone(),
                    is_dir: true,
                    size: 0,
                    crc32: None,
                });
                dirs.push((path, e.to_dir()));
            } else {
                let mut data = Vec::new();
                e.to_file().read_to_end(&mut data).unwrap();
                seen.push(ImageEntry {
                    path,
                    is_dir: false,
                    size: e.len(),
                    crc32: Some(crc32fast::hash(&data)),
                });
            }
        }
    }
    seen.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(seen, list_image(&img).unwrap());
}

#[test]
fn cross_linked_chains_are_named() {
    let (_t, img) = sample_image("cross");
    let geo = geometry(&img);
    let big = node(&img, "/big.bin");
    let exact = node(&img, "/exact.bin");
    // exact.bin's first cluster now leads into big.bin's chain.
    set_fat(&img, &geo, exact.clusters[0], big.clusters[3]);
    let report = inspect_image(&img).unwrap();
    assert_fault(
        &report,
        FaultKind::CrossLinked,
        &["/exact.bin", "/big.bin", "cross-linked"],
    );
}

#[test]
fn a_looping_chain_is_named() {
    let (_t, img) = sample_image("loop");
    let geo = geometry(&img);
    let big = node(&img, "/big.bin");
    set_fat(&img, &geo, big.clusters[5], big.clusters[1]);
    let report = inspect_image(&img).unwrap();
    assert_fault(&report, FaultKind::Loop, &["/big.bin", "loops"]);
}

#[test]
fn a_truncated_chain_is_named() {
    let (_t, img) = sample_image("short");
    let geo = geometry(&img);
    let big = node(&img, "/big.bin");
    set_fat(&img, &geo, big.clusters[2], EOC);
    let report = inspect_image(&img).unwrap();
    assert_fault(
        &report,
        FaultKind::ChainTooShort,
        &["/big.bin", "3 clusters", "3000 bytes"],
    );
    // The clusters cut off are lost.
    assert!(report.has(FaultKind::LostClusters));
}

#[test]
fn an_overlong_chain_is_named() {
    let (_t, img) = sample_image("long");
    let geo = geometry(&img);
    let exact = node(&img, "/exact.bin");
    let spare = a_free_cluster(&geo);
    set_fat(&img, &geo, exact.clusters[1], spare);
    set_fat(&img, &geo, spare, EOC);
    let report = inspect_image(&img).unwrap();
    assert_fault(
        &report,
        FaultKind::ChainTooLong,
        &["/exact.bin", "3 clusters", "1024 bytes"],
    );
    assert!(!report.has(FaultKind::LostClusters));
}

#[test]
fn an_empty_file_with_a_cluster_is_named() {
    let (_t, img) = sample_image("empty-with-cluster");
    let geo = geometry(&img);
    let spare = a_free_cluster(&geo);
    set_fat(&img, &geo, spare, EOC);
    let entry = root_entry(&img, b"EMPTY   TXT");
    poke(&img, entry + 20, &((spare >> 16) as u16).to_le_bytes());
    poke(&img, entry + 26, &(spare as u16).to_le_bytes());
    let report = inspect_image(&img).unwrap();
    assert_fault(
        &report,
        FaultKind::ChainTooLong,
        &["/empty.txt", "1 clusters for 0 bytes"],
    );
}

#[test]
fn lost_clusters_are_named() {
    let (_t, img) = sample_image("lost");
    let geo = geometry(&img);
    let spare = a_free_cluster(&geo);
    set_fat(&img, &geo, spare - 1, spare);
    set_fat(&img, &geo, spare, EOC);
    let report = inspect_image(&img).unwrap();
    assert_fault(
        &report,
        FaultKind::LostClusters,
        &["2 lost clusters", &format!("{}-{}", spare - 1, spare)],
    );
    assert_eq!(report.faults.len(), 1, "{}", report.describe());
    // list_image refuses an inconsistent image; expect_exact with it.
    assert!(list_image(&img).is_err());
    assert!(expect_exact(&img, &want(&sample_files())).is_err());
}

#[test]
fn a_chain_into_a_free_cluster_is_named() {
    let (_t, img) = sample_image("into-free");
    let geo = geometry(&img);
    let big = node(&img, "/big.bin");
    set_fat(&img, &geo, big.clusters[4], 0);
    let report = inspect_image(&img).unwrap();
    assert_fault(
        &report,
        FaultKind::BrokenChain,
        &[
            "/big.bin",
            &format!("cluster {}", big.clusters[4]),
            "marked free",
        ],
    );
    // And a FAT entry that points outside the volume.
    set_fat(&img, &geo, big.clusters[4], geo.max_cluster() + 1);
    let report = inspect_image(&img).unwrap();
    assert_fault(
        &report,
        FaultKind::BrokenChain,
        &["/big.bin", "no cluster of the volume"],
    );
}

#[test]
fn a_broken_boot_signature_is_named() {
    let (_t, img) = sample_image("signature");
    poke(&img, 510, &[0x00, 0x00]);
    let report = inspect_image(&img).unwrap();
    assert_fault(&report, FaultKind::BootSector, &["signature", "55 AA"]);
    assert!(report.geometry.is_none());
    assert!(list_image(&img).is_err());
}

#[test]
fn bad_boot_sector_fields_are_named() {
    for (offset, bytes, words) in [
        (11u64, &[0x00u8, 0x03][..], &["bytes per sector is 768"][..]),
        (13, &[3], &["not a power of two"]),
        (16, &[0], &["number of FATs is 0"]),
        (44, &[0xFF, 0xFF, 0xFF, 0x0F], &["root directory's cluster"]),
        (36, &[1, 0, 0, 0], &["holds 128 entries"]),
        (36, &[0xFF, 0xFF, 0xFF, 0xFF], &["no data area"]),
    ] {
        let (_t, img) = sample_image("bpb");
        poke(&img, offset, bytes);
        let report = inspect_image(&img).unwrap();
        assert_fault(&report, FaultKind::BootSector, words);
    }
}

#[test]
fn fat12_or_fat16_is_not_taken_for_fat32() {
    let t = TempDir::new("fat16");
    let img = t.join("fat16.img");
    let mut f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&img)
        .unwrap();
    f.set_len(32 << 20).unwrap();
    fatfs::format_volume(
        &mut f,
        fatfs::FormatVolumeOptions::new().fat_type(fatfs::FatType::Fat16),
    )
    .unwrap();
    drop(f);
    let report = inspect_image(&img).unwrap();
    assert_fault(&report, FaultKind::BootSector, &["not FAT32"]);
}

#[test]
fn a_truncated_image_file_is_named() {
    let (t, img) = sample_image("truncated");
    fs::OpenOptions::new()
        .write(true)
        .open(&img)
        .unwrap()
        .set_len(IMAGE_BYTES / 2)
        .unwrap();
    let report = inspect_image(&img).unwrap();
    assert_fault(
        &report,
        FaultKind::Truncated,
        &["33554432 bytes", "67108864"],
    );
    // Less than a boot sector, and nothing at all.
    let tiny = t.join("tiny.img");
    fs::write(&tiny, b"FAT").unwrap();
    assert_fault(
        &inspect_image(&tiny).unwrap(),
        FaultKind::BootSector,
        &["3 bytes"],
    );
    // A file that does not exist cannot be read: an error, not a report.
    assert!(inspect_image(&t.join("absent.img")).is_err());
    assert!(list_image(&t.join("absent.img")).is_err());
}

#[test]
fn fsinfo_disagreeing_is_only_a_warning() {
    let (_t, img) = sample_image("fsinfo");
    let geo = geometry(&img);
    let sector = u64::from(geo.fs_info_sector.unwrap()) * u64::from(geo.bytes_per_sector);
    let before = u32::from_le_bytes(peek(&img, sector + 488, 4).try_into().unwrap());
    let report = check_image(&img).unwrap();
    assert_eq!(
        before, report.free_clusters,
        "the build writes the true count"
    );
    poke(&img, sector + 488, &1234u32.to_le_bytes());
    let report = check_image(&img).unwrap();
    assert!(report.is_clean());
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("FSInfo says 1234 free clusters")),
        "{:?}",
        report.warnings
    );
}

#[test]
fn differing_fat_copies_are_named() {
    let (_t, img) = sample_image("copies");
    let geo = geometry(&img);
    let spare = a_free_cluster(&geo);
    // Only the second copy says the cluster is used.
    poke(
        &img,
        geo.fat_offset(1) + u64::from(spare) * 4,
        &EOC.to_le_bytes(),
    );
    let report = inspect_image(&img).unwrap();
    assert_fault(
        &report,
        FaultKind::FatCopies,
        &["copy 2", &format!("cluster {spare}")],
    );
}

#[test]
fn bad_directory_entries_are_named() {
    // A character short names may not hold.
    let (_t, img) = sample_image("bad-name");
    let entry = root_entry(&img, b"EXACT   BIN");
    poke(&img, entry + 2, b"*");
    let report = inspect_image(&img).unwrap();
    assert_fault(&report, FaultKind::BadEntry, &["invalid short name", "'*'"]);

    // A long name whose checksum does not match its short entry.
    let (_t, img) = sample_image("bad-checksum");
    let entry = root_entry(&img, b"BIG     BIN");
    let sum = peek(&img, entry - 32 + 13, 1)[0];
    poke(&img, entry - 32 + 13, &[sum.wrapping_add(1)]);
    let report = inspect_image(&img).unwrap();
    assert_fault(&report, FaultKind::BadEntry, &["checksum"]);

    // The same name twice in one directory.
    let (_t, img) = sample_image("duplicate");
    let geo = geometry(&img);
    let entry = root_entry(&img, b"HELLO   TXT");
    let copy = peek(&img, entry, 32);
    let base = geo.cluster_offset(geo.root_cluster);
    let root = peek(&img, base, geo.cluster_bytes() as usize);
    let free = root.chunks_exact(32).position(|e| e[0] == 0).unwrap();
    poke(&img, base + free as u64 * 32, &copy);
    let report = inspect_image(&img).unwrap();
    assert_fault(
        &report,
        FaultKind::BadEntry,
        &["/HELLO.TXT", "second entry"],
    );

    // A subdirectory whose `..` is wrong.
    let (_t, img) = sample_image("dotdot");
    let geo = geometry(&img);
    let deeper = node(&img, "/docs/deeper");
    poke(
        &img,
        geo.cluster_offset(deeper.first_cluster) + 32 + 26,
        &[0x77, 0],
    );
    let report = inspect_image(&img).unwrap();
    assert_fault(
        &report,
        FaultKind::BadEntry,
        &["/docs/deeper", "`..`", "cluster 119"],
    );

    // A directory entry pointing into the directory itself: walked once.
    let (_t, img) = sample_image("self-link");
    let geo = geometry(&img);
    let docs = node(&img, "/docs");
    let base = geo.cluster_offset(docs.first_cluster);
    let mut own = peek(&img, base, 32); // its `.` entry, a directory
    own[..11].copy_from_slice(b"SELF       ");
    let dir = peek(&img, base, geo.cluster_bytes() as usize);
    let free = dir.chunks_exact(32).position(|e| e[0] == 0).unwrap();
    poke(&img, base + free as u64 * 32, &own);
    let report = inspect_image(&img).unwrap();
    assert_fault(&report, FaultKind::CrossLinked, &["/docs/SELF", "/docs"]);
}

/// Random bytes written over the boot sector, the FATs' first entries and
/// the directories never make the check panic or loop.
#[test]
fn corrupt_metadata_gives_reports_not_panics() {
    let (_t, img) = sample_image("fuzz");
    let geo = geometry(&img);
    let docs = node(&img, "/docs");
    let regions = [
        (0u64, 512u64),
        (512, 512),
        (geo.fat_offset(0), 128),
        (geo.fat_offset(1), 128),
        (geo.cluster_offset(geo.root_cluster), 512),
        (geo.cluster_offset(docs.first_cluster), 512),
    ];
    let mut x = 0x1234_5678u32;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    let mut faulty = 0;
    for _ in 0..300 {
        let (start, len) = regions[next() as usize % regions.len()];
        let at = start + u64::from(next()) % len;
        let old = peek(&img, at, 4);
        poke(&img, at, &next().to_le_bytes());
        let report = inspect_image(&img).unwrap();
        faulty += usize::from(!report.is_clean());
        let _ = report.describe();
        poke(&img, at, &old);
    }
    assert!(faulty > 50, "only {faulty} of 300 corruptions were noticed");
    assert!(check_image(&img).unwrap().is_clean(), "restored");
}

#[test]
fn expect_exact_names_every_difference() {
    let (_t, img) = sample_image("expect");
    let mut expected = want(&sample_files());
    expected.retain(|(p, _, _)| p != "/empty.txt"); // extra on the image
    expected.push(expected_file("/missing.txt", b"nowhere")); // missing
    for e in &mut expected {
        if e.0 == "/big.bin" {
            e.1 = 2999; // wrong size
        }
        if e.0 == "/HELLO.TXT" {
            e.2 ^= 1; // wrong checksum
        }
    }
    let err = expect_exact(&img, &expected).unwrap_err().to_string();
    for words in [
        "missing: /missing.txt",
        "extra: /empty.txt",
        "/big.bin: 3000 bytes, expected 2999",
        "/HELLO.TXT: crc32",
    ] {
        assert!(err.contains(words), "`{words}` not in:\n{err}");
    }
    assert_eq!(err.lines().count(), 5, "{err}");
    // Paths without the leading slash mean the same.
    let relative: Vec<_> = want(&sample_files())
        .into_iter()
        .map(|(p, s, c)| (p[1..].to_owned(), s, c))
        .collect();
    expect_exact(&img, &relative).unwrap();
    // A directory is not a file.
    let err = expect_exact(&img, &[("/docs".into(), 0, 0)]).unwrap_err();
    assert!(err.to_string().contains("is a directory"), "{err}");
}

#[test]
fn expect_files_allows_other_files() {
    let (_t, img) = sample_image("expect-some");
    expect_files(&img, &[expected_file("/HELLO.TXT", b"hello, disk\n")]).unwrap();
    let err = expect_files(
        &img,
        &[
            expected_file("/HELLO.TXT", b"hello, DISK\n"),
            expected_file("/bin/none", b""),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("/HELLO.TXT: crc32") && err.contains("missing: /bin/none"),
        "{err}"
    );
    assert!(!err.contains("extra"), "{err}");
}

#[test]
fn fsck_verdicts_are_read_from_its_exit_status() {
    use std::os::unix::fs::PermissionsExt;
    let t = TempDir::new("fsck");
    let script = |name: &str, body: &str| {
        let p = t.join(name);
        fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        p
    };
    let img = t.join("x.img");
    let clean = script("clean", "test \"$1\" = -n || exit 2; echo ok; exit 0");
    assert_eq!(run_fsck(&clean, &img), Fsck::Clean);
    let faulty = script(
        "faulty",
        "echo 'Free cluster summary wrong'; echo 'Leaving filesystem unchanged.'; exit 1",
    );
    let Fsck::Faulty(what) = run_fsck(&faulty, &img) else {
        panic!("a non-zero exit is a faulty verdict")
    };
    assert!(
        what.contains("Free cluster summary wrong | Leaving"),
        "{what}"
    );
    assert!(matches!(
        run_fsck(&t.join("absent"), &img),
        Fsck::Skipped(_)
    ));
    assert!(Fsck::Skipped("fsck.fat not present, skipped".into())
        .describe()
        .contains("not present"));
}

#[test]
fn the_listing_table() {
    let (_t, img) = sample_image("table");
    let text = table(&list_image(&img).unwrap());
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("PATH") && lines[0].ends_with("CRC32"));
    let hello = crc32fast::hash(b"hello, disk\n");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("/HELLO.TXT ") && l.ends_with(&format!("{hello:08x}"))),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("/docs/ ") && l.ends_with('-')),
        "{text}"
    );
}

#[test]
fn timestamps_are_fixed_and_invalid_ones_are_warnings() {
    let (_t, img) = sample_image("timestamps");
    let entry = root_entry(&img, b"HELLO   TXT");
    // 1980-01-01 00:00:00: date 0x0021, time 0, written and created.
    assert_eq!(peek(&img, entry + 22, 4), [0, 0, 0x21, 0]);
    assert_eq!(peek(&img, entry + 14, 4), [0, 0, 0x21, 0]);
    poke(&img, entry + 24, &((13u16 << 5) | 1).to_le_bytes()); // month 13
    let report = check_image(&img).unwrap();
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("invalid modification date")),
        "{:?}",
        report.warnings
    );
}

#[test]
fn the_verbs_exit_status() {
    use crate::cli::DiskArgs;
    let (t, img) = sample_image("verbs");
    let out = t.join("built.img");
    let build = DiskArgs::Build {
        system: DEFAULT_SYSTEM.into(),
        out: Some(out.clone()),
    };
    assert_eq!(command(&build), Ok(true));
    assert_eq!(command(&DiskArgs::Check { image: Some(out) }), Ok(true));
    assert_eq!(
        command(&DiskArgs::List {
            image: Some(img.clone())
        }),
        Ok(true)
    );
    // A fault: exit 1 (Ok(false)); an unreadable file: exit 2 (Err).
    poke(&img, 510, &[0, 0]);
    assert_eq!(
        command(&DiskArgs::Check {
            image: Some(img.clone())
        }),
        Ok(false)
    );
    assert_eq!(command(&DiskArgs::List { image: Some(img) }), Ok(false));
    let absent = Some(t.join("absent.img"));
    assert!(command(&DiskArgs::Check {
        image: absent.clone()
    })
    .is_err());
    assert!(command(&DiskArgs::List { image: absent }).is_err());
    let nowhere = DiskArgs::Build {
        system: "no-such-system".into(),
        out: Some(t.join("x.img")),
    };
    assert!(command(&nowhere).is_err());
}
