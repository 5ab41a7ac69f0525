//! The storage benchmark of `cargo xtask bench` on the host, for figures
//! that do not need the guest: a 64 MiB volume with 512-byte clusters (as
//! the default disk), a 512-page cache (as the file server), and the three
//! phases of `fs-check`'s benchmark: 16 MiB written in 64 KiB writes, read
//! back in 64 KiB reads, and 1,024 random 4 KiB `read_at` calls.
//!
//! Each phase prints its block-cache page accesses (hits + misses) per
//! request and its wall time. The counts are exact and the same on every
//! run; the times are only indicative. For instruction counts run the test
//! under callgrind and read the inclusive cost of `FileServer::write`,
//! `read` and `read_at` (docs/file-server.md, "Limits and figures").
//!
//! `cargo test -p cerne-fs --release --test bench -- --ignored --nocapture`
//! (ignored by default: it is a measurement, and slow in debug builds).
//! `CERNE_FS_BENCH_MIB` sets the file size in MiB (16 by default).

mod common;
use std::time::Instant;

use cerne_fs::{format_with_cluster_size, FileServer, MemDisk, OpenFlags};
use common::{check_volume, pattern, CREATE};

/// The default disk: 64 MiB.
const DISK_SECTORS: u64 = 64 * 1024 * 1024 / 512;
/// The file server's cache (`CACHE_PAGES` of the fileserver component).
const CACHE_PAGES: usize = 512;
/// The client buffer of the benchmark: one request moves 64 KiB.
const CHUNK: usize = 64 * 1024;
/// Random reads and their size.
const RANDOM_READS: usize = 1024;
const PAGE: usize = 4096;

/// Cache page accesses so far.
fn accesses(s: &FileServer<MemDisk>) -> u64 {
    let c = s.stats().unwrap().cache;
    c.hits + c.misses
}

struct Phase {
    name: &'static str,
    kib: usize,
    requests: usize,
    accesses: u64,
    seconds: f64,
}

fn measure(
    s: &mut FileServer<MemDisk>,
    name: &'static str,
    kib: usize,
    requests: usize,
    f: impl FnOnce(&mut FileServer<MemDisk>),
) -> Phase {
    let before = accesses(s);
    let start = Instant::now();
    f(s);
    let seconds = start.elapsed().as_secs_f64();
    Phase {
        name,
        kib,
        requests,
        accesses: accesses(s) - before,
        seconds,
    }
}

#[inline(never)]
fn seq_write(s: &mut FileServer<MemDisk>, h: cerne_fs::Handle, total: usize) {
    let chunk = pattern(CHUNK, 1);
    let mut at = 0;
    while at < total {
        let n = CHUNK.min(total - at);
        assert_eq!(s.write(1, h, &chunk[..n]).unwrap(), n);
        at += n;
    }
}

#[inline(never)]
fn seq_read(s: &mut FileServer<MemDisk>, h: cerne_fs::Handle, total: usize) {
    let chunk = pattern(CHUNK, 1);
    let mut buf = vec![0u8; CHUNK];
    let mut at = 0;
    while at < total {
        let n = CHUNK.min(total - at);
        assert_eq!(s.read(1, h, &mut buf[..n]).unwrap(), n);
        assert_eq!(buf[..n], chunk[..n]);
        at += n;
    }
}

#[inline(never)]
fn rand_read(s: &mut FileServer<MemDisk>, h: cerne_fs::Handle, total: usize) {
    let chunk = pattern(CHUNK, 1);
    let mut buf = vec![0u8; PAGE];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let pages = (total / PAGE) as u64;
    for _ in 0..RANDOM_READS {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let pos = (x % pages) * PAGE as u64;
        assert_eq!(s.read_at(1, h, pos, &mut buf).unwrap(), PAGE);
        let at = (pos as usize) % CHUNK;
        assert_eq!(buf[..], chunk[at..at + PAGE]);
    }
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture, preferably --release"]
fn storage_benchmark() {
    let mib: usize = std::env::var("CERNE_FS_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let total = mib << 20;
    let mut disk = MemDisk::new(DISK_SECTORS);
    format_with_cluster_size(&mut disk, "CERNE", Some(512)).unwrap();
    let mut s = FileServer::mount(disk, CACHE_PAGES).unwrap();
    assert_eq!(s.stats().unwrap().cluster_size, 512);
    s.mkdir(1, "/bench").unwrap();
    let h = s
        .open(1, "/bench/seq.bin", CREATE.union(OpenFlags::TRUNCATE))
        .unwrap();
    let requests = total.div_ceil(CHUNK);
    let phases = [
        measure(&mut s, "seq-write", total >> 10, requests, |s| {
            seq_write(s, h, total);
            s.fsync(1, h).unwrap();
        }),
        {
            s.seek(1, h, cerne_fs::SeekFrom::Start(0)).unwrap();
            measure(&mut s, "seq-read", total >> 10, requests, |s| {
                seq_read(s, h, total)
            })
        },
        measure(
            &mut s,
            "rand-read-4k",
            (RANDOM_READS * PAGE) >> 10,
            RANDOM_READS,
            |s| rand_read(s, h, total),
        ),
    ];
    println!();
    println!(
        "{:<13} {:>6} {:>8} {:>12} {:>12} {:>9}",
        "phase", "KiB", "requests", "accesses", "acc/req", "ms"
    );
    for p in &phases {
        println!(
            "{:<13} {:>6} {:>8} {:>12} {:>12.1} {:>9.1}",
            p.name,
            p.kib,
            p.requests,
            p.accesses,
            p.accesses as f64 / p.requests as f64,
            p.seconds * 1e3
        );
    }
    s.close(1, h).unwrap();
    let disk = s.unmount().unwrap();
    let report = check_volume(disk.durable_bytes()).unwrap();
    assert_eq!(report.files["/bench/seq.bin"], total as u64);
}
