//! A file server that dies in the middle of its work: the device stops
//! taking writes after N sectors (a crash, a restart by the supervisor, a
//! power cut), and the next mount must find a volume that passes every
//! check `xtask disk check` makes (after its repair), with every file that
//! was fsync'd and not changed since exactly as it was.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use cerne_fs::{BlockDevice, FileServer, FsError, IoError, MemDisk, OpenFlags};
use common::{cases, check_volume, pattern};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// A disk that writes sectors in the order it is given them and stops
/// taking any after `budget` of them: the rest of that batch and every
/// later write or flush fails.
struct CrashDisk {
    bytes: Vec<u8>,
    budget: Option<u64>,
    written: u64,
}

impl BlockDevice for CrashDisk {
    fn sector_count(&self) -> u64 {
        self.bytes.len() as u64 / 512
    }
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let at = sector as usize * 512;
        let src = self
            .bytes
            .get(at..at + buf.len())
            .ok_or(IoError::OutOfRange)?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn write_batch(&mut self, writes: &[(u64, &[u8])]) -> Result<(), IoError> {
        for (sector, data) in writes {
            for (i, s) in data.chunks_exact(512).enumerate() {
                if self.budget.is_some_and(|b| self.written >= b) {
                    return Err(IoError::Device);
                }
                let at = (*sector as usize + i) * 512;
                self.bytes[at..at + 512].copy_from_slice(s);
                self.written += 1;
            }
        }
        Ok(())
    }
    fn flush(&mut self) -> Result<(), IoError> {
        if self.budget.is_some_and(|b| self.written >= b) {
            return Err(IoError::Device);
        }
        Ok(())
    }
}

/// A formatted smallest volume, made once.
fn template() -> &'static [u8] {
    static T: OnceLock<Vec<u8>> = OnceLock::new();
    T.get_or_init(|| common::fresh_disk().into_bytes())
}

const FILES: [&str; 6] = [
    "/a",
    "/b.txt",
    "/d1/c",
    "/d1/long name here.bin",
    "/d1/d2/e",
    "/d3/f",
];
const DIRS: [&str; 3] = ["/d1", "/d1/d2", "/d3"];

#[derive(Clone, Debug)]
enum Op {
    Create {
        file: usize,
        len: usize,
        seed: u64,
    },
    Append {
        file: usize,
        len: usize,
        seed: u64,
    },
    WriteAt {
        file: usize,
        pos: usize,
        len: usize,
        seed: u64,
    },
    Truncate {
        file: usize,
        len: usize,
    },
    Fsync,
    Rename {
        from: usize,
        to: usize,
    },
    Remove {
        file: usize,
    },
    Mkdir {
        dir: usize,
    },
    Rmdir {
        dir: usize,
    },
    /// A file whose bytes look like directory entries, one for every
    /// cluster from 2 on (what a reused cluster may hold).
    Forged {
        file: usize,
        clusters: usize,
    },
    /// `n` empty files in a directory (so that it grows by clusters).
    Many {
        dir: usize,
        n: usize,
    },
}

/// `clusters` clusters of 512 bytes of forged directory entries: file
/// `GARBAGE`, 512 bytes, first cluster 2, 3, 4, ...
fn forged(clusters: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for k in 0..clusters * 16 {
        let mut e = [0u8; 32];
        e[..11].copy_from_slice(b"GARBAGE TXT");
        e[11] = 0x20;
        let c = (k + 2) as u32;
        e[20..22].copy_from_slice(&((c >> 16) as u16).to_le_bytes());
        e[26..28].copy_from_slice(&(c as u16).to_le_bytes());
        e[28..32].copy_from_slice(&512u32.to_le_bytes());
        out.extend_from_slice(&e);
    }
    out
}

fn op() -> impl Strategy<Value = Op> {
    let file = 0..FILES.len();
    let len = prop_oneof![0usize..600, 0usize..20_000];
    prop_oneof![
        3 => (file.clone(), len.clone(), any::<u64>()).prop_map(|(file, len, seed)| Op::Create { file, len, seed }),
        2 => (file.clone(), len.clone(), any::<u64>()).prop_map(|(file, len, seed)| Op::Append { file, len, seed }),
        1 => (file.clone(), 0usize..30_000, 1usize..5000, any::<u64>()).prop_map(|(file, pos, len, seed)| Op::WriteAt { file, pos, len, seed }),
        1 => (file.clone(), 0usize..25_000).prop_map(|(file, len)| Op::Truncate { file, len }),
        2 => Just(Op::Fsync),
        1 => (file.clone(), file.clone()).prop_map(|(from, to)| Op::Rename { from, to }),
        1 => file.prop_map(|file| Op::Remove { file }),
        2 => (0..DIRS.len()).prop_map(|dir| Op::Mkdir { dir }),
        1 => (0..DIRS.len()).prop_map(|dir| Op::Rmdir { dir }),
    ]
}

/// What the workload knows: the files as they are, and as they were at
/// the last fsync that returned, with the names changed since.
#[derive(Default)]
struct Model {
    files: BTreeMap<&'static str, Vec<u8>>,
    synced: BTreeMap<&'static str, Vec<u8>>,
    touched: BTreeSet<&'static str>,
}

const RW: OpenFlags = OpenFlags::READ.union(OpenFlags::WRITE);
const C: u64 = 1;

fn write_all(
    s: &mut FileServer<CrashDisk>,
    path: &str,
    flags: OpenFlags,
    at: Option<u64>,
    data: &[u8],
) -> Result<(), FsError> {
    let h = s.open(C, path, flags)?;
    let r = (|| {
        let mut done = 0;
        while done < data.len() {
            let n = match at {
                Some(p) => s.write_at(C, h, p + done as u64, &data[done..])?,
                None => s.write(C, h, &data[done..])?,
            };
            if n == 0 {
                return Err(FsError::NoSpace);
            }
            done += n;
        }
        Ok(())
    })();
    s.close(C, h)?;
    r
}

/// Carries `op` out on the server and the model; `Err` is a device error
/// (the crash), any other refusal is checked against the model.
fn apply(s: &mut FileServer<CrashDisk>, m: &mut Model, op: &Op) -> Result<(), FsError> {
    let io = |r: Result<(), FsError>| match r {
        Err(FsError::Io) => Err(FsError::Io),
        _ => Ok(()),
    };
    let parent_ok = |m: &Model, dirs: &BTreeSet<&str>, p: &str| {
        let parent = &p[..p.rfind('/').unwrap()];
        let _ = m;
        parent.is_empty() || dirs.contains(parent)
    };
    let dirs: BTreeSet<&str> = DIRS
        .iter()
        .copied()
        .filter(|d| s.stat(C, d).is_ok_and(|st| st.is_dir))
        .collect();
    match *op {
        Op::Create { file, len, seed } => {
            let p = FILES[file];
            let data = pattern(len, seed);
            let r = write_all(
                s,
                p,
                RW.union(OpenFlags::CREATE).union(OpenFlags::TRUNCATE),
                None,
                &data,
            );
            if r.is_ok() {
                m.files.insert(p, data);
                m.touched.insert(p);
            } else if r != Err(FsError::Io) {
                assert!(!parent_ok(m, &dirs, p), "create {p}: {r:?}");
            } else {
                m.touched.insert(p);
            }
            io(r)
        }
        Op::Append { file, len, seed } => {
            let p = FILES[file];
            m.touched.insert(p);
            let data = pattern(len, seed);
            let r = write_all(s, p, RW.union(OpenFlags::APPEND), None, &data);
            if r.is_ok() {
                m.files
                    .get_mut(p)
                    .expect("append to a file the model lacks")
                    .extend_from_slice(&data);
            } else if r != Err(FsError::Io) {
                assert!(!m.files.contains_key(p), "append {p}: {r:?}");
            }
            io(r)
        }
        Op::WriteAt {
            file,
            pos,
            len,
            seed,
        } => {
            let p = FILES[file];
            m.touched.insert(p);
            let data = pattern(len, seed);
            let r = write_all(s, p, RW, Some(pos as u64), &data);
            if r.is_ok() {
                let f = m.files.get_mut(p).expect("write to a file the model lacks");
                if f.len() < pos + len {
                    f.resize(pos + len, 0);
                }
                f[pos..pos + len].copy_from_slice(&data);
            } else if r != Err(FsError::Io) {
                assert!(!m.files.contains_key(p), "write_at {p}: {r:?}");
            }
            io(r)
        }
        Op::Truncate { file, len } => {
            let p = FILES[file];
            m.touched.insert(p);
            let r = s.open(C, p, RW).and_then(|h| {
                let r = s.truncate(C, h, len as u64);
                s.close(C, h)?;
                r
            });
            if r.is_ok() {
                m.files.get_mut(p).unwrap().resize(len, 0);
            } else if r != Err(FsError::Io) {
                assert!(!m.files.contains_key(p), "truncate {p}: {r:?}");
            }
            io(r)
        }
        Op::Fsync => {
            s.sync()?;
            m.synced = m.files.clone();
            m.touched.clear();
            Ok(())
        }
        Op::Rename { from, to } => {
            let (a, b) = (FILES[from], FILES[to]);
            m.touched.insert(a);
            m.touched.insert(b);
            let r = s.rename(C, a, b);
            if r.is_ok() {
                if a != b {
                    let f = m.files.remove(a).unwrap();
                    m.files.insert(b, f);
                }
            } else if r != Err(FsError::Io) {
                assert!(
                    !m.files.contains_key(a) || m.files.contains_key(b) || !parent_ok(m, &dirs, b),
                    "rename {a} {b}: {r:?}"
                );
            }
            io(r)
        }
        Op::Remove { file } => {
            let p = FILES[file];
            m.touched.insert(p);
            let r = s.unlink(C, p);
            if r.is_ok() {
                m.files.remove(p).unwrap();
            } else if r != Err(FsError::Io) {
                assert!(!m.files.contains_key(p), "remove {p}: {r:?}");
            }
            io(r)
        }
        Op::Mkdir { dir } => io(s.mkdir(C, DIRS[dir])),
        Op::Many { dir, n } => {
            for i in 0..n {
                let p = format!("{}/n{i}", DIRS[dir]);
                let h = s.open(C, &p, RW.union(OpenFlags::CREATE));
                match h {
                    Ok(h) => s.close(C, h)?,
                    Err(FsError::Io) => return Err(FsError::Io),
                    Err(_) => {}
                }
            }
            Ok(())
        }
        Op::Forged { file, clusters } => {
            let p = FILES[file];
            let data = forged(clusters);
            let r = write_all(
                s,
                p,
                RW.union(OpenFlags::CREATE).union(OpenFlags::TRUNCATE),
                None,
                &data,
            );
            m.touched.insert(p);
            if r.is_ok() {
                m.files.insert(p, data);
            }
            io(r)
        }
        Op::Rmdir { dir } => {
            let d = DIRS[dir];
            let r = s.unlink(C, d);
            if r.is_ok() {
                assert!(!m.files.keys().any(|f| f.starts_with(&format!("{d}/"))));
            }
            io(r)
        }
    }
}

/// Runs `ops` on a fresh volume whose disk stops after `budget` sector
/// writes; returns the sectors written and the disk's bytes and the model.
fn run(ops: &[Op], budget: Option<u64>) -> (u64, Vec<u8>, Model) {
    let disk = CrashDisk {
        bytes: template().to_vec(),
        budget: None,
        written: 0,
    };
    let mut s = FileServer::mount(disk, 64).unwrap();
    s.with_device(|d| {
        d.budget = budget.map(|b| b + d.written);
    })
    .unwrap();
    let mut m = Model::default();
    for op in ops {
        if apply(&mut s, &mut m, op).is_err() {
            break;
        }
    }
    let (written, bytes) = s.with_device(|d| (d.written, d.bytes.clone())).unwrap();
    // The server dies: nothing of its cache reaches the disk.
    drop(s);
    (written, bytes, m)
}

fn le32(b: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]))
}

/// The checks after a crash: the volume as the next mount repairs it, the
/// FSInfo count, the fsync'd files, and a clean unmount.
fn check_after_crash(bytes: Vec<u8>, m: &Model) -> Result<(), String> {
    let mut s =
        FileServer::mount(MemDisk::from_bytes(bytes), 64).map_err(|e| format!("mount: {e:?}"))?;
    s.sync().map_err(|e| format!("sync: {e:?}"))?;
    let img = s.with_device(|d| d.current_bytes()).unwrap();
    let report =
        check_volume(&img).map_err(|e| format!("after repair ({:?}): {e}", s.repaired()))?;
    let fs_info = (u16::from_le_bytes([img[48], img[49]]) as usize) * 512;
    // Unknown (as formatted) or right; `xtask disk check` only warns about
    // a wrong one, this is stricter.
    let recorded = le32(&img, fs_info + 488);
    if recorded != 0xFFFF_FFFF && recorded != report.free_clusters {
        return Err(format!(
            "FSInfo free {} but {} free",
            le32(&img, fs_info + 488),
            report.free_clusters
        ));
    }
    for (path, data) in &m.synced {
        if m.touched.contains(path) {
            continue;
        }
        let h = s
            .open(C, path, OpenFlags::READ)
            .map_err(|e| format!("fsync'd {path}: {e:?}"))?;
        let mut back = vec![0u8; data.len() + 1];
        let n = s
            .read(C, h, &mut back)
            .map_err(|e| format!("read {path}: {e:?}"))?;
        if back[..n] != data[..] {
            return Err(format!(
                "fsync'd {path}: {n} bytes back, {} fsync'd, differ",
                data.len()
            ));
        }
        s.close(C, h).unwrap();
    }
    // Every file the checker found reads to its end.
    for (path, size) in &report.files {
        let h = s
            .open(C, path, OpenFlags::READ)
            .map_err(|e| format!("{path}: {e:?}"))?;
        let mut back = vec![0u8; *size as usize + 1];
        let n = s
            .read(C, h, &mut back)
            .map_err(|e| format!("read {path}: {e:?}"))?;
        if n as u64 != *size {
            return Err(format!("{path}: {n} of {size} bytes"));
        }
        s.close(C, h).unwrap();
    }
    let d = s.unmount().map_err(|e| format!("unmount: {e:?}"))?;
    let img = d.into_bytes();
    check_volume(&img).map_err(|e| format!("after unmount: {e}"))?;
    if img[0x41] & 1 != 0 {
        return Err("still marked dirty after unmount".into());
    }
    // A clean volume is not repaired again.
    let again = FileServer::mount(MemDisk::from_bytes(img), 64).unwrap();
    if again.repaired().is_some() {
        return Err("a cleanly unmounted volume was repaired".into());
    }
    Ok(())
}

/// Crash points for a run that writes `total` sectors: all of them when
/// few, else `points` spread over them with the first and the last.
fn crash_points(total: u64, points: u64, salt: u64) -> Vec<u64> {
    if total <= points {
        return (0..=total).collect();
    }
    let mut v: Vec<u64> = (0..points)
        .map(|i| (i * total / points + salt % (total / points).max(1)).min(total))
        .collect();
    v.push(0);
    v.push(total);
    v.sort_unstable();
    v.dedup();
    v
}

#[test]
fn a_crash_at_any_sector_write_leaves_a_repairable_volume() {
    let mut runner = TestRunner::new(Config {
        // Each case is a workload run 1 + up to 14 times.
        cases: (cases() / 4).max(4),
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (proptest::collection::vec(op(), 1..=30), any::<u64>());
    let result = runner.run(&strategy, |(ops, salt)| {
        let (total, _, _) = run(&ops, None);
        for n in crash_points(total, 12, salt) {
            let (_, bytes, m) = run(&ops, Some(n));
            check_after_crash(bytes, &m).map_err(|e| {
                TestCaseError::fail(format!("crash after {n} of {total} sectors: {e}"))
            })?;
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// One workload with every kind of operation, crashed after every single
/// sector write in turn.
#[test]
fn every_crash_point_of_one_workload() {
    let ops = vec![
        Op::Mkdir { dir: 0 },
        Op::Create {
            file: 0,
            len: 5000,
            seed: 1,
        },
        Op::Create {
            file: 2,
            len: 700,
            seed: 2,
        },
        Op::Fsync,
        Op::Append {
            file: 0,
            len: 3000,
            seed: 3,
        },
        Op::Mkdir { dir: 1 },
        Op::Create {
            file: 4,
            len: 100,
            seed: 4,
        },
        Op::Rename { from: 2, to: 3 },
        Op::Remove { file: 0 },
        Op::Create {
            file: 1,
            len: 9000,
            seed: 5,
        },
        Op::Truncate { file: 1, len: 1000 },
        Op::WriteAt {
            file: 3,
            pos: 300,
            len: 2000,
            seed: 6,
        },
        Op::Fsync,
        Op::Create {
            file: 0,
            len: 2000,
            seed: 7,
        },
        Op::Remove { file: 4 },
        Op::Rmdir { dir: 1 },
        Op::Mkdir { dir: 2 },
        Op::Rename { from: 1, to: 5 },
        Op::Fsync,
    ];
    let (total, _, m) = run(&ops, None);
    assert!(m.files.contains_key("/d3/f") && m.files.contains_key("/a"));
    for n in 0..=total {
        let (_, bytes, m) = run(&ops, Some(n));
        if let Err(e) = check_after_crash(bytes, &m) {
            panic!("crash after {n} of {total} sectors: {e}");
        }
    }
}

/// A directory made in the clusters of a removed file whose bytes look
/// like directory entries naming every cluster of the volume: a crash must
/// never let the repair take them for entries (the new directory's zeroed
/// cluster reaches the disk before the FAT gives it to the directory), or
/// the fsync'd file in the directory walked after it would lose its chain.
#[test]
fn a_new_directory_in_reused_clusters_is_never_read_as_old_bytes() {
    let ops = vec![
        Op::Mkdir { dir: 0 },
        Op::Create {
            file: 2,
            len: 8192,
            seed: 9,
        },
        Op::Fsync,
        Op::Mkdir { dir: 2 },
        Op::Forged {
            file: 0,
            clusters: 40,
        },
        Op::Fsync,
        Op::Remove { file: 0 },
        Op::Many { dir: 2, n: 40 },
        Op::Create {
            file: 5,
            len: 3000,
            seed: 10,
        },
        Op::Fsync,
    ];
    let (total, _, m) = run(&ops, None);
    assert!(m.synced.contains_key("/d1/c") && m.synced.contains_key("/d3/f"));
    for n in 0..=total {
        let (_, bytes, m) = run(&ops, Some(n));
        if let Err(e) = check_after_crash(bytes, &m) {
            panic!("crash after {n} of {total} sectors: {e}");
        }
    }
}

/// Reads `path` whole from a mounted volume, if it is there.
fn read_whole(s: &mut FileServer<MemDisk>, path: &str) -> Option<Vec<u8>> {
    let h = s.open(C, path, OpenFlags::READ).ok()?;
    let mut back = vec![0u8; 1 << 16];
    let n = s.read(C, h, &mut back).ok()?;
    s.close(C, h).unwrap();
    back.truncate(n);
    Some(back)
}

/// A rename of an fsync'd file, crashed after every sector write: after
/// the repair the file is there whole under exactly one of its two names,
/// never under neither (fatfs removes the old entry before it writes the
/// new one; the server writes the removal last).
#[test]
fn a_renamed_file_survives_a_crash_at_any_point() {
    let cases = [
        // To another directory.
        (1, 5, vec![Op::Mkdir { dir: 2 }]),
        // Within a directory that spans several sectors, so that the old
        // entry and the new one are in different sectors.
        (2, 3, vec![Op::Mkdir { dir: 0 }]),
    ];
    for (from, to, before) in cases {
        let mut ops = before;
        ops.push(Op::Create {
            file: from,
            len: 3000,
            seed: 11,
        });
        if from == 2 {
            ops.push(Op::Many { dir: 0, n: 40 });
        }
        ops.push(Op::Fsync);
        let (synced, _, _) = run(&ops, None);
        ops.push(Op::Rename { from, to });
        let data = pattern(3000, 11);
        let (total, _, m) = run(&ops, None);
        assert_eq!(m.files.get(FILES[to]), Some(&data), "the rename ran");
        assert!(total > synced + 1, "the rename wrote sectors");
        for n in synced..=total {
            let (_, bytes, _) = run(&ops, Some(n));
            let mut s = FileServer::mount(MemDisk::from_bytes(bytes), 64).unwrap();
            s.sync().unwrap();
            let img = s.with_device(|d| d.current_bytes()).unwrap();
            if let Err(e) = check_volume(&img) {
                panic!(
                    "{} -> {}, crash after {n} of {total}: {e}",
                    FILES[from], FILES[to]
                );
            }
            let found: Vec<&str> = [FILES[from], FILES[to]]
                .into_iter()
                .filter(|p| read_whole(&mut s, p).is_some_and(|b| b == data))
                .collect();
            assert_eq!(
                found.len(),
                1,
                "{} -> {}, crash after {n} of {total} sectors: whole under {found:?} (repaired: {:?})",
                FILES[from],
                FILES[to],
                s.repaired()
            );
        }
    }
}
