//! Helpers shared by the integration tests: fresh volumes, data patterns,
//! checksums and an independent FAT32 consistency checker.
#![allow(dead_code)]

use std::collections::BTreeMap;

use cerne_fs::{format, min_sectors, FileServer, MemDisk, OpenFlags};

/// Sectors of the smallest FAT32 volume (512-byte clusters).
pub fn small_sectors() -> u64 {
    min_sectors(512).unwrap()
}

/// A freshly formatted smallest FAT32 volume.
pub fn fresh_disk() -> MemDisk {
    let mut d = MemDisk::new(small_sectors());
    format(&mut d, "CERNE").unwrap();
    d
}

/// A server on a fresh smallest volume with a 256-page cache.
pub fn fresh_server() -> FileServer<MemDisk> {
    FileServer::mount(fresh_disk(), 256).unwrap()
}

/// Unmounts and mounts again on the same bytes.
pub fn remount(s: FileServer<MemDisk>) -> FileServer<MemDisk> {
    let disk = s.unmount().unwrap();
    check_volume(disk.durable_bytes()).unwrap();
    FileServer::mount(disk, 256).unwrap()
}

/// Deterministic pseudo-random bytes.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// FNV-1a 64 of `data`.
pub fn checksum(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

pub const RW: OpenFlags = OpenFlags::READ.union(OpenFlags::WRITE);
pub const CREATE: OpenFlags = RW.union(OpenFlags::CREATE);

/// Writes `data` to a new file at `path` as `client`.
pub fn put(s: &mut FileServer<MemDisk>, client: u64, path: &str, data: &[u8]) {
    let h = s
        .open(client, path, CREATE.union(OpenFlags::TRUNCATE))
        .unwrap();
    let mut done = 0;
    while done < data.len() {
        let n = s.write(client, h, &data[done..]).unwrap();
        assert!(n > 0);
        done += n;
    }
    s.close(client, h).unwrap();
}

/// Reads the whole file at `path` as `client`, in 64 KiB reads.
pub fn get(s: &mut FileServer<MemDisk>, client: u64, path: &str) -> Vec<u8> {
    let h = s.open(client, path, OpenFlags::READ).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0; 65536];
    loop {
        let n = s.read(client, h, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    s.close(client, h).unwrap();
    out
}

/// What the checker found on a consistent volume.
#[derive(Debug, Default)]
pub struct VolumeReport {
    pub files: BTreeMap<String, u64>,
    pub dirs: Vec<String>,
    pub used_clusters: u64,
    pub free_clusters: u64,
}

fn le16(b: &[u8], at: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[at], b[at + 1]]))
}
fn le32(b: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]))
}

/// An independent FAT32 checker (does not use fatfs): both FAT copies
/// agree; every file's and directory's chain is well formed, in range and
/// not shared; a file's chain has exactly the clusters its size needs;
/// `.` and `..` of every directory point at itself and its parent; no
/// cluster is allocated but unreachable (no leaks).
pub fn check_volume(img: &[u8]) -> Result<VolumeReport, String> {
    let bps = le16(img, 11);
    let spc = u64::from(img[13]);
    let reserved = le16(img, 14);
    let fats = u64::from(img[16]);
    let total = if le16(img, 19) != 0 {
        le16(img, 19)
    } else {
        le32(img, 32)
    };
    let spf = le32(img, 36);
    let root = le32(img, 44);
    if bps != 512 || fats != 2 {
        return Err(format!("unexpected geometry bps={bps} fats={fats}"));
    }
    let cs = bps * spc;
    let fat_start = (reserved * bps) as usize;
    let fat_len = (spf * bps) as usize;
    let fat1 = &img[fat_start..fat_start + fat_len];
    let fat2 = &img[fat_start + fat_len..fat_start + 2 * fat_len];
    if fat1 != fat2 {
        return Err("FAT copies differ".into());
    }
    let data_start = (reserved + fats * spf) * bps;
    let clusters = (total - reserved - fats * spf) / spc;
    let max_cluster = clusters + 1;
    let entry = |c: u64| le32(fat1, (c * 4) as usize) & 0x0FFF_FFFF;
    let mut owner: BTreeMap<u64, String> = BTreeMap::new();
    let mut chain = |first: u64, who: &str| -> Result<Vec<u64>, String> {
        let mut out = Vec::new();
        let mut c = first;
        loop {
            if c < 2 || c > max_cluster {
                return Err(format!("{who}: cluster {c} out of range"));
            }
            if let Some(o) = owner.insert(c, who.to_string()) {
                return Err(format!("{who}: cluster {c} shared with {o}"));
            }
            out.push(c);
            let next = entry(c);
            if next >= 0x0FFF_FFF8 {
                return Ok(out);
            }
            if next == 0 {
                return Err(format!("{who}: chain reaches free cluster after {c}"));
            }
            c = next;
        }
    };
    let mut report = VolumeReport::default();
    // (path, first cluster, parent cluster as '..' should store it)
    let mut todo = vec![(String::from("/"), root, 0u64)];
    while let Some((path, first, parent_ref)) = todo.pop() {
        let cl = chain(first, &path)?;
        report.dirs.push(path.clone());
        let mut bytes = Vec::new();
        for c in &cl {
            let off = (data_start + (c - 2) * cs) as usize;
            bytes.extend_from_slice(&img[off..off + cs as usize]);
        }
        let self_ref = if first == root { 0 } else { first };
        let mut lfn: Vec<u16> = Vec::new();
        for (at, e) in bytes.chunks_exact(32).enumerate() {
            if e[0] == 0 {
                break;
            }
            if e[0] == 0xE5 {
                lfn.clear();
                continue;
            }
            let attr = e[11];
            if attr == 0x0F {
                let mut units = Vec::new();
                for r in [1..11, 14..26, 28..32] {
                    for p in e[r].chunks_exact(2) {
                        units.push(u16::from_le_bytes([p[0], p[1]]));
                    }
                }
                if e[0] & 0x40 != 0 {
                    lfn.clear();
                }
                let mut part: Vec<u16> = units
                    .into_iter()
                    .take_while(|&u| u != 0 && u != 0xFFFF)
                    .collect();
                part.extend_from_slice(&lfn);
                lfn = part;
                continue;
            }
            if attr & 0x08 != 0 {
                lfn.clear();
                continue;
            }
            let short = String::from_utf8_lossy(&e[..11]).trim_end().to_string();
            let name = if lfn.is_empty() {
                short.clone()
            } else {
                String::from_utf16_lossy(&lfn)
            };
            lfn.clear();
            let first_c = (le16(e, 20) << 16) | le16(e, 26);
            let size = le32(e, 28);
            let is_dir = attr & 0x10 != 0;
            if first != root && at < 2 {
                let (want_name, want_ref) = if at == 0 {
                    (".", self_ref)
                } else {
                    ("..", parent_ref)
                };
                if short != want_name || !is_dir || first_c != want_ref {
                    return Err(format!(
                        "{path}: entry {at} is {short:?} -> {first_c}, want {want_name:?} -> {want_ref}"
                    ));
                }
                continue;
            }
            let child = if path == "/" {
                format!("/{name}")
            } else {
                format!("{path}/{name}")
            };
            if is_dir {
                if first_c == 0 {
                    return Err(format!("{child}: directory without cluster"));
                }
                todo.push((child, first_c, self_ref));
            } else {
                let got = if first_c == 0 {
                    0
                } else {
                    chain(first_c, &child)?.len() as u64
                };
                let want = size.div_ceil(cs);
                if got != want {
                    return Err(format!(
                        "{child}: size {size} needs {want} clusters, chain has {got}"
                    ));
                }
                report.files.insert(child, size);
            }
        }
    }
    let mut free = 0;
    for c in 2..=max_cluster {
        let v = entry(c);
        if v == 0 {
            free += 1;
        } else if !owner.contains_key(&c) {
            return Err(format!("cluster {c} allocated ({v:#x}) but unreachable"));
        }
    }
    report.used_clusters = owner.len() as u64;
    report.free_clusters = free;
    Ok(report)
}

/// Fills the volume with `/fill` (1 MiB writes); returns the bytes placed
/// and checks that the end came as a short write and then `NoSpace`.
pub fn fill_volume(s: &mut FileServer<MemDisk>, client: u64) -> u64 {
    let chunk = pattern(1 << 20, 77);
    let h = s.open(client, "/fill", CREATE).unwrap();
    let mut total = 0u64;
    loop {
        match s.write(client, h, &chunk) {
            Ok(n) => {
                total += n as u64;
                if n < chunk.len() {
                    break;
                }
            }
            Err(e) => {
                assert_eq!(e, cerne_fs::FsError::NoSpace);
                break;
            }
        }
    }
    assert_eq!(s.write(client, h, &chunk), Err(cerne_fs::FsError::NoSpace));
    assert_eq!(s.write(client, h, b"x"), Err(cerne_fs::FsError::NoSpace));
    s.close(client, h).unwrap();
    assert_eq!(s.stat(client, "/fill").unwrap().size, total);
    total
}

/// Random cases for the property-style tests. `CERNE_FS_CASES` gives the
/// number exactly; otherwise `CERNE_PROOF_CASES` (the knob of `proofs/`,
/// 2000 by default there, 200000 for `cargo xtask test --long`) is divided
/// by 40, because one file-server sequence (a fresh 32.5 MiB volume and
/// dozens of requests) costs about as much as forty refinement sequences;
/// with neither set, 48.
pub fn cases() -> u32 {
    let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok());
    if let Some(n) = var("CERNE_FS_CASES") {
        return n;
    }
    var("CERNE_PROOF_CASES").map_or(48, |n| (n / 40).max(1))
}
