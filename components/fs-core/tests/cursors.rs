//! The data path's per-handle state: a cursor into the file's cluster
//! chain and the remembered place of its directory entry. Every way it
//! could go stale is provoked here: another handle (or the same one)
//! truncates, regrows or rewrites the file, a `TRUNCATE` open, renames with
//! a new file taking the old name and the freed directory slot, writes past
//! the end, a write undone after `NoSpace`, damaged chains. The free
//! cluster count the data path keeps beside fatfs's is checked against the
//! independent checker and the FSInfo sector.

mod common;
use cerne_fs::{FileServer, FsError, Handle, MemDisk, OpenFlags, SeekFrom};
use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// 512-byte clusters: 64 KiB is 128 clusters, two cursor strides.
const K: usize = 1024;

fn write_at(s: &mut FileServer<MemDisk>, c: u64, h: Handle, pos: u64, data: &[u8]) {
    s.seek(c, h, SeekFrom::Start(pos)).unwrap();
    let mut done = 0;
    while done < data.len() {
        done += s.write(c, h, &data[done..]).unwrap();
    }
}

fn read_at(s: &mut FileServer<MemDisk>, c: u64, h: Handle, pos: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    let n = s.read_at(c, h, pos, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

/// Syncs and checks the volume, and that the reported free count is the
/// checker's.
fn check(s: &mut FileServer<MemDisk>) -> VolumeReport {
    s.sync().unwrap();
    let bytes = s.with_device(|d| d.current_bytes()).unwrap();
    let report = check_volume(&bytes).unwrap();
    assert_eq!(s.stats().unwrap().free_clusters, report.free_clusters);
    report
}

#[test]
fn another_handle_truncates_and_regrows() {
    let mut s = fresh_server();
    let a = s.open(1, "/f", CREATE).unwrap();
    let b = s.open(2, "/f", RW).unwrap();
    let old = pattern(200 * K, 1);
    write_at(&mut s, 1, a, 0, &old);
    // a learns the whole chain.
    assert_eq!(read_at(&mut s, 1, a, 190_000, 4096), old[190_000..194_096]);
    assert_eq!(read_at(&mut s, 1, a, 70_000, 100), old[70_000..70_100]);
    s.truncate(2, b, 10 * K as u64).unwrap();
    assert_eq!(s.read_at(1, a, 70_000, &mut [0; 4]), Err(FsError::PastEnd));
    // Other files take clusters; b regrows /f with new ones.
    put(&mut s, 3, "/g", &pattern(50 * K, 2));
    let new = pattern(190 * K, 3);
    write_at(&mut s, 2, b, 10 * K as u64, &new);
    let mut want = old[..10 * K].to_vec();
    want.extend_from_slice(&new);
    for pos in [190_000usize, 70_000, 10 * K - 100, 131_072, 0, 199 * K] {
        assert_eq!(
            read_at(&mut s, 1, a, pos as u64, 3000),
            want[pos..(pos + 3000).min(want.len())]
        );
    }
    // a writes deep in the regrown part; b sees it.
    write_at(&mut s, 1, a, 150_000, b"from a");
    want[150_000..150_006].copy_from_slice(b"from a");
    assert_eq!(read_at(&mut s, 2, b, 149_998, 10), want[149_998..150_008]);
    assert_eq!(get(&mut s, 4, "/f"), want);
    check(&mut s);
}

#[test]
fn the_same_handle_shrinks_grows_and_reads() {
    let mut s = fresh_server();
    let h = s.open(1, "/f", CREATE).unwrap();
    write_at(&mut s, 1, h, 0, &pattern(100 * K, 1));
    assert_eq!(
        read_at(&mut s, 1, h, 99 * K as u64, K),
        pattern(100 * K, 1)[99 * K..]
    );
    // Shrink into the first stride, grow with zeros, then data.
    s.truncate(1, h, 700).unwrap();
    s.truncate(1, h, 80 * K as u64).unwrap();
    write_at(&mut s, 1, h, 90 * K as u64, &pattern(10 * K, 2));
    let mut want = pattern(100 * K, 1)[..700].to_vec();
    want.resize(90 * K, 0);
    want.extend_from_slice(&pattern(10 * K, 2));
    assert_eq!(read_at(&mut s, 1, h, 0, 100 * K), want);
    assert_eq!(
        read_at(&mut s, 1, h, 95 * K as u64, 10),
        want[95 * K..95 * K + 10]
    );
    // Down to nothing and up again: a new first cluster.
    s.truncate(1, h, 0).unwrap();
    write_at(&mut s, 1, h, 0, &pattern(70 * K, 3));
    assert_eq!(
        read_at(&mut s, 1, h, 65 * K as u64, 5 * K),
        pattern(70 * K, 3)[65 * K..]
    );
    check(&mut s);
}

#[test]
fn truncating_open_cuts_every_cursor() {
    let mut s = fresh_server();
    put(&mut s, 1, "/f", &pattern(150 * K, 1));
    let a = s.open(1, "/f", OpenFlags::READ).unwrap();
    assert_eq!(
        read_at(&mut s, 1, a, 140 * K as u64, 10),
        pattern(150 * K, 1)[140 * K..140 * K + 10]
    );
    let w = s.open(2, "/f", CREATE | OpenFlags::TRUNCATE).unwrap();
    put(&mut s, 3, "/g", &pattern(150 * K, 2));
    write_at(&mut s, 2, w, 0, &pattern(150 * K, 3));
    assert_eq!(
        read_at(&mut s, 1, a, 140 * K as u64, 10),
        pattern(150 * K, 3)[140 * K..140 * K + 10]
    );
    check(&mut s);
}

#[test]
fn rename_then_read_and_write_follow_the_file() {
    let mut s = fresh_server();
    s.mkdir(1, "/d").unwrap();
    put(&mut s, 1, "/a", &pattern(40 * K, 1));
    let h = s.open(1, "/a", RW).unwrap();
    assert_eq!(
        read_at(&mut s, 1, h, 39 * K as u64, 10),
        pattern(40 * K, 1)[39 * K..39 * K + 10]
    );
    s.rename(2, "/a", "/d/b").unwrap();
    // A new /a, probably in the slot /a left.
    put(&mut s, 2, "/a", &pattern(40 * K, 2));
    assert_eq!(
        read_at(&mut s, 1, h, 39 * K as u64, 10),
        pattern(40 * K, 1)[39 * K..39 * K + 10]
    );
    write_at(&mut s, 1, h, 40 * K as u64, b"tail");
    assert_eq!(s.stat(3, "/d/b").unwrap().size, 40 * K as u64 + 4);
    assert_eq!(get(&mut s, 3, "/a"), pattern(40 * K, 2));
    s.rename(2, "/d", "/e").unwrap();
    write_at(&mut s, 1, h, 0, b"head");
    let back = get(&mut s, 3, "/e/b");
    assert_eq!(&back[..4], b"head");
    assert_eq!(&back[40 * K..], b"tail");
    check(&mut s);
}

#[test]
fn renamed_empty_file_and_a_new_one_in_its_slot() {
    // Two empty files share everything but their directory entry: the
    // handle must write the renamed one, not the new one that took its
    // name and, fatfs permitting, its slot.
    let mut s = fresh_server();
    let h = s.open(1, "/x", CREATE).unwrap();
    assert_eq!(read_at(&mut s, 1, h, 0, 10), b"");
    s.rename(2, "/x", "/y").unwrap();
    let other = s.open(2, "/x", CREATE).unwrap();
    write_at(&mut s, 1, h, 0, b"mine");
    assert_eq!(get(&mut s, 3, "/y"), b"mine");
    assert_eq!(get(&mut s, 3, "/x"), b"");
    write_at(&mut s, 2, other, 0, b"theirs");
    assert_eq!(get(&mut s, 3, "/y"), b"mine");
    assert_eq!(get(&mut s, 3, "/x"), b"theirs");
    check(&mut s);
}

#[test]
fn write_past_the_end_then_read() {
    let mut s = fresh_server();
    let a = s.open(1, "/f", CREATE).unwrap();
    let b = s.open(2, "/f", OpenFlags::READ).unwrap();
    write_at(&mut s, 1, a, 70 * K as u64 + 3, b"far");
    assert_eq!(s.stat(3, "/f").unwrap().size, 70 * K as u64 + 6);
    assert_eq!(read_at(&mut s, 2, b, 0, 70 * K + 3), vec![0u8; 70 * K + 3]);
    assert_eq!(read_at(&mut s, 2, b, 70 * K as u64, 10), b"\0\0\0far");
    // Past the end again, from the other end of a stride.
    write_at(&mut s, 1, a, 200 * K as u64, b"farther");
    assert_eq!(read_at(&mut s, 2, b, 70 * K as u64 + 3, 5), b"far\0\0");
    assert_eq!(read_at(&mut s, 2, b, 200 * K as u64 - 1, 100), b"\0farther");
    check(&mut s);
}

#[test]
fn a_write_undone_after_no_space_leaves_cursors_right() {
    let mut s = fresh_server();
    let data = pattern(300 * K, 1);
    put(&mut s, 1, "/f", &data);
    let a = s.open(1, "/f", RW).unwrap();
    let b = s.open(2, "/f", OpenFlags::READ).unwrap();
    assert_eq!(
        read_at(&mut s, 2, b, 299 * K as u64, 10),
        data[299 * K..299 * K + 10]
    );
    fill_volume(&mut s, 3);
    let free = s.stats().unwrap().free_bytes;
    // The gap alone does not fit: nothing is written, the size stays.
    s.seek(1, a, SeekFrom::Start(300 * K as u64 + free + 4096))
        .unwrap();
    assert_eq!(s.write(1, a, b"x"), Err(FsError::NoSpace));
    assert_eq!(s.stat(1, "/f").unwrap().size, 300 * K as u64);
    assert_eq!(
        s.truncate(1, a, 300 * K as u64 + free + 4096),
        Err(FsError::NoSpace)
    );
    assert_eq!(s.stat(1, "/f").unwrap().size, 300 * K as u64);
    assert_eq!(read_at(&mut s, 2, b, 299 * K as u64, K), data[299 * K..]);
    check(&mut s);
    // Room again: the file grows where the undone write had been.
    s.unlink(3, "/fill").unwrap();
    write_at(&mut s, 1, a, 300 * K as u64, &pattern(40 * K, 5));
    assert_eq!(
        read_at(&mut s, 2, b, 330 * K as u64, 10),
        pattern(40 * K, 5)[30 * K..30 * K + 10]
    );
    check(&mut s);
}

#[test]
fn interleaved_files_read_at_random_positions() {
    // Two files growing in turns: their chains interleave, so the cursor
    // meets a new run every three clusters.
    let mut s = fresh_server();
    let x = s.open(1, "/x", CREATE).unwrap();
    let y = s.open(1, "/y", CREATE).unwrap();
    let (mut wx, mut wy) = (Vec::new(), Vec::new());
    for i in 0..120u64 {
        let px = pattern(1536, i);
        let py = pattern(1536 + (i as usize % 5) * 100, i + 1000);
        write_at(&mut s, 1, x, wx.len() as u64, &px);
        write_at(&mut s, 1, y, wy.len() as u64, &py);
        wx.extend_from_slice(&px);
        wy.extend_from_slice(&py);
    }
    let mut r = 7u64;
    for _ in 0..400 {
        r = r.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let (h, want) = if r >> 63 == 0 { (x, &wx) } else { (y, &wy) };
        let pos = (r >> 20) as usize % want.len();
        let len = (r >> 8) as usize % 5000;
        let end = (pos + len).min(want.len());
        assert_eq!(read_at(&mut s, 1, h, pos as u64, len), want[pos..end]);
    }
    let mut s = remount(s);
    assert_eq!(get(&mut s, 1, "/x"), wx);
    assert_eq!(get(&mut s, 1, "/y"), wy);
    check(&mut s);
}

#[test]
fn free_count_survives_unmount_in_fsinfo() {
    let mut s = fresh_server();
    put(&mut s, 1, "/a", &pattern(123 * K, 1));
    put(&mut s, 1, "/b", &pattern(45 * K, 2));
    let h = s.open(1, "/a", RW).unwrap();
    s.truncate(1, h, 1000).unwrap();
    s.close(1, h).unwrap();
    s.unlink(1, "/b").unwrap();
    let report = check(&mut s);
    let disk = s.unmount().unwrap();
    let img = disk.durable_bytes();
    let info = usize::from(u16::from_le_bytes([img[48], img[49]])) * 512;
    let stored = u32::from_le_bytes(img[info + 488..info + 492].try_into().unwrap());
    assert_eq!(u64::from(stored), report.free_clusters);
    assert_eq!(img[0x41] & 1, 0, "clean after unmount");
    let s = FileServer::mount(disk, 64).unwrap();
    assert_eq!(s.stats().unwrap().free_clusters, report.free_clusters);
}

#[test]
fn writing_an_old_file_marks_the_volume_dirty() {
    // After a remount, fatfs writes nothing when an existing file is
    // written in place; the data path marks the volume dirty itself, so
    // that a crash makes the next mount recount the free clusters.
    let mut s = fresh_server();
    put(&mut s, 1, "/a", &pattern(10 * K, 1));
    let mut s = remount(s);
    let h = s.open(1, "/a", RW).unwrap();
    write_at(&mut s, 1, h, 20 * K as u64, b"grown");
    s.fsync(1, h).unwrap();
    let img = s.with_device(|d| d.durable_bytes().to_vec()).unwrap();
    assert_eq!(img[0x41] & 1, 1, "dirty while mounted");
    let report = check_volume(&img).unwrap();
    let crashed = FileServer::mount(MemDisk::from_bytes(img), 64).unwrap();
    assert_eq!(crashed.stats().unwrap().free_clusters, report.free_clusters);
    let disk = s.unmount().unwrap();
    assert_eq!(disk.durable_bytes()[0x41] & 1, 0);
}

/// The FAT and the data area of a server's image.
fn layout(img: &[u8]) -> (usize, usize, usize) {
    let fat = usize::from(u16::from_le_bytes([img[14], img[15]])) * 512;
    let spf = u32::from_le_bytes(img[36..40].try_into().unwrap()) as usize * 512;
    (fat, spf, fat + 2 * spf)
}

#[test]
fn a_broken_chain_is_corrupt_at_any_position() {
    let mut s = fresh_server();
    put(&mut s, 1, "/short", &pattern(100 * K, 1));
    put(&mut s, 1, "/free", &pattern(100 * K, 2));
    put(&mut s, 1, "/outside", b"fine");
    let mut img = s.unmount().unwrap().into_bytes();
    let (fat, spf, root) = layout(&img);
    let first_of = |img: &[u8], name: &[u8]| {
        let at = (root..root + 512)
            .step_by(32)
            .find(|&at| &img[at..at + name.len()] == name)
            .unwrap();
        usize::from(u16::from_le_bytes([img[at + 26], img[at + 27]]))
    };
    let walk = |img: &[u8], mut c: usize, n: usize| {
        for _ in 0..n {
            c = u32::from_le_bytes(img[fat + 4 * c..fat + 4 * c + 4].try_into().unwrap()) as usize;
        }
        c
    };
    // /short's chain ends after 100 clusters of its 200; /free's 150th
    // entry says free.
    let c = walk(&img, first_of(&img, b"SHORT"), 99);
    let d = walk(&img, first_of(&img, b"FREE"), 149);
    for copy in [fat, fat + spf] {
        img[copy + 4 * c..copy + 4 * c + 4].copy_from_slice(&0x0FFF_FFFFu32.to_le_bytes());
        img[copy + 4 * d..copy + 4 * d + 4].copy_from_slice(&0u32.to_le_bytes());
    }
    let mut s = FileServer::mount(MemDisk::from_bytes(img), 64).unwrap();
    for path in ["/short", "/free"] {
        let h = s.open(1, path, RW).unwrap();
        let mut buf = [0u8; 100];
        assert_eq!(s.read_at(1, h, 10, &mut buf), Ok(100));
        assert_eq!(
            s.read_at(1, h, 99 * K as u64, &mut buf),
            Err(FsError::Corrupt)
        );
        assert_eq!(s.read_at(1, h, 10, &mut buf), Ok(100));
        s.seek(1, h, SeekFrom::Start(99 * K as u64)).unwrap();
        assert_eq!(s.write(1, h, b"x"), Err(FsError::Corrupt));
        s.seek(1, h, SeekFrom::End(0)).unwrap();
        assert_eq!(s.write(1, h, b"x"), Err(FsError::Corrupt));
        assert_eq!(s.stat(1, path).unwrap().size, 100 * K as u64);
    }
    assert_eq!(get(&mut s, 2, "/outside"), b"fine");
}

// ----- a property test: several handles on one file -----

#[derive(Clone, Debug)]
enum Op {
    ReadAt {
        h: usize,
        pos: u64,
        len: usize,
    },
    WriteAt {
        h: usize,
        pos: u64,
        len: usize,
        seed: u64,
    },
    Truncate {
        h: usize,
        len: u64,
    },
    /// Closes handle `h` and opens it again with `TRUNCATE`.
    Reopen {
        h: usize,
    },
    /// Appends to another file, taking free clusters.
    Other {
        len: usize,
    },
    /// Removes the other file, freeing its clusters.
    DropOther,
    /// Renames the file between two names; handles follow.
    Rename,
}

const HANDLES: usize = 3;
const MAX_POS: u64 = 160_000;

fn op() -> impl Strategy<Value = Op> {
    let h = 0..HANDLES;
    prop_oneof![
        6 => (h.clone(), 0..MAX_POS, 0..9000usize).prop_map(|(h, pos, len)| Op::ReadAt { h, pos, len }),
        5 => (h.clone(), 0..MAX_POS, 1..12_000usize, any::<u64>())
            .prop_map(|(h, pos, len, seed)| Op::WriteAt { h, pos, len, seed }),
        3 => (h.clone(), 0..MAX_POS).prop_map(|(h, len)| Op::Truncate { h, len }),
        1 => h.prop_map(|h| Op::Reopen { h }),
        2 => (1..40_000usize).prop_map(|len| Op::Other { len }),
        1 => Just(Op::DropOther),
        1 => Just(Op::Rename),
    ]
}

struct World {
    s: FileServer<MemDisk>,
    handles: Vec<Handle>,
    file: Vec<u8>,
    other: Vec<u8>,
    name: &'static str,
}

impl World {
    fn new() -> World {
        let mut s = fresh_server();
        let handles = (0..HANDLES)
            .map(|i| s.open(i as u64 + 1, "/f", CREATE).unwrap())
            .collect();
        World {
            s,
            handles,
            file: Vec::new(),
            other: Vec::new(),
            name: "/f",
        }
    }

    fn step(&mut self, op: &Op) -> Result<(), String> {
        match *op {
            Op::ReadAt { h, pos, len } => {
                let mut buf = vec![0u8; len];
                let got = self
                    .s
                    .read_at(h as u64 + 1, self.handles[h], pos, &mut buf)
                    .map(|n| buf[..n].to_vec());
                let p = pos as usize;
                let want = if p > self.file.len() {
                    Err(FsError::PastEnd)
                } else {
                    Ok(self.file[p..(p + len).min(self.file.len())].to_vec())
                };
                if got != want {
                    return Err(format!("read_at {pos}+{len}: {:?}", got.map(|v| v.len())));
                }
            }
            Op::WriteAt { h, pos, len, seed } => {
                let data = pattern(len, seed);
                let c = h as u64 + 1;
                self.s
                    .seek(c, self.handles[h], SeekFrom::Start(pos))
                    .unwrap();
                let n = self
                    .s
                    .write(c, self.handles[h], &data)
                    .map_err(|e| format!("write: {e}"))?;
                if n != len {
                    return Err(format!("short write {n}"));
                }
                let p = pos as usize;
                if self.file.len() < p + len {
                    self.file.resize(p + len, 0);
                }
                self.file[p..p + len].copy_from_slice(&data);
            }
            Op::Truncate { h, len } => {
                self.s
                    .truncate(h as u64 + 1, self.handles[h], len)
                    .map_err(|e| format!("truncate: {e}"))?;
                self.file.resize(len as usize, 0);
            }
            Op::Reopen { h } => {
                let c = h as u64 + 1;
                self.s.close(c, self.handles[h]).unwrap();
                self.handles[h] = self
                    .s
                    .open(c, self.name, CREATE | OpenFlags::TRUNCATE)
                    .map_err(|e| format!("reopen: {e}"))?;
                self.file.clear();
            }
            Op::Other { len } => {
                let h = self
                    .s
                    .open(9, "/other", CREATE | OpenFlags::APPEND)
                    .unwrap();
                let data = pattern(len, len as u64);
                let n = self
                    .s
                    .write(9, h, &data)
                    .map_err(|e| format!("other: {e}"))?;
                self.s.close(9, h).unwrap();
                self.other.extend_from_slice(&data[..n]);
            }
            Op::DropOther => {
                let _ = self.s.unlink(9, "/other");
                self.other.clear();
            }
            Op::Rename => {
                let to = if self.name == "/f" { "/g" } else { "/f" };
                self.s
                    .rename(9, self.name, to)
                    .map_err(|e| format!("rename: {e}"))?;
                // A new file under the old name, in the freed slot.
                put(&mut self.s, 9, self.name, b"decoy");
                self.s.unlink(9, self.name).unwrap();
                self.name = to;
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), String> {
        if get(&mut self.s, 9, self.name) != self.file {
            return Err("file differs".into());
        }
        if !self.other.is_empty() && get(&mut self.s, 9, "/other") != self.other {
            return Err("other file differs".into());
        }
        self.s.sync().unwrap();
        let bytes = self.s.with_device(|d| d.current_bytes()).unwrap();
        let report = check_volume(&bytes)?;
        let free = self.s.stats().unwrap().free_clusters;
        if free != report.free_clusters {
            return Err(format!("free {free}, checker {}", report.free_clusters));
        }
        Ok(())
    }
}

#[test]
fn handles_on_one_file_refine_a_byte_vector() {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = proptest::collection::vec(op(), 1..=60);
    let result = runner.run(&strategy, |ops| {
        let mut w = World::new();
        for (i, o) in ops.iter().enumerate() {
            w.step(o)
                .map_err(|e| TestCaseError::fail(format!("step {i} {o:?}: {e}")))?;
        }
        w.finish()
            .map_err(|e| TestCaseError::fail(format!("finish: {e}")))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
