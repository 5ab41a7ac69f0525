//! Damaged volumes: mounting or using one gives errors, never a panic.

mod common;
use std::panic::{catch_unwind, AssertUnwindSafe};

use cerne_fs::{FileServer, MemDisk, OpenFlags};
use common::*;

/// A small populated volume image.
fn image() -> Vec<u8> {
    let mut s = fresh_server();
    s.mkdir(1, "/dir").unwrap();
    for i in 0..20 {
        put(
            &mut s,
            1,
            &format!("/dir/file {i}.txt"),
            &pattern(i * 700, i as u64),
        );
    }
    put(&mut s, 1, "/top", &pattern(10_000, 99));
    s.unmount().unwrap().into_bytes()
}

/// Mounts `img` and runs a little of everything, ignoring errors.
fn exercise(img: Vec<u8>) {
    let Ok(mut s) = FileServer::mount(MemDisk::from_bytes(img), 32) else {
        return;
    };
    let _ = s.read_dir(1, "/", 0, 50);
    let _ = s.read_dir(1, "/dir", 0, 50);
    let mut buf = vec![0u8; 20_000];
    for path in ["/top", "/dir/file 3.txt", "/dir/file 19.txt"] {
        let _ = s.stat(1, path);
        if let Ok(h) = s.open(1, path, OpenFlags::READ | OpenFlags::WRITE) {
            let _ = s.read(1, h, &mut buf);
            let _ = s.write(1, h, b"more");
            let _ = s.truncate(1, h, 100);
            let _ = s.close(1, h);
        }
    }
    let _ = s.mkdir(1, "/new");
    if let Ok(h) = s.open(1, "/dir/created", CREATE) {
        let _ = s.write(1, h, &buf);
        let _ = s.close(1, h);
    }
    let _ = s.rename(1, "/top", "/dir/top");
    let _ = s.unlink(1, "/dir/file 5.txt");
    let _ = s.sync();
}

#[test]
fn damaged_volumes_do_not_panic() {
    let img = image();
    let fat = usize::from(u16::from_le_bytes([img[14], img[15]])) * 512;
    let spf = u32::from_le_bytes(img[36..40].try_into().unwrap()) as usize * 512;
    let data = fat + 2 * spf;
    // Regions worth damaging: boot sector, FSInfo, the start of both FATs,
    // the root directory and the start of the data area.
    let regions = [
        (0, 512),
        (512, 1024),
        (fat, fat + 4096),
        (fat + spf, fat + spf + 4096),
        (data, data + 16384),
    ];
    let cases = u64::from(cases());
    let mut panics = Vec::new();
    for case in 0..cases {
        let mut bad = img.clone();
        let noise = pattern(64, case + 1000);
        let (lo, hi) = regions[(case as usize) % regions.len()];
        for k in 0..1 + (noise[0] as usize % 8) {
            let at = lo
                + (u32::from_le_bytes(noise[4 * k + 4..4 * k + 8].try_into().unwrap()) as usize)
                    % (hi - lo);
            bad[at] = noise[40 + k];
        }
        if catch_unwind(AssertUnwindSafe(|| exercise(bad))).is_err() {
            panics.push(case);
        }
    }
    assert!(panics.is_empty(), "panicked in cases {panics:?}");
}

#[test]
fn looping_directory_is_corrupt_not_a_hang() {
    // /d with '.', '..' and 15 short names (each a long-name entry and a
    // short entry) fills exactly two 512-byte clusters, with no end marker.
    let mut s = fresh_server();
    s.mkdir(1, "/d").unwrap();
    for i in 0..15 {
        put(&mut s, 1, &format!("/d/f{i:02}"), b"x");
    }
    put(&mut s, 1, "/outside", b"fine");
    let mut img = s.unmount().unwrap().into_bytes();
    let fat = usize::from(u16::from_le_bytes([img[14], img[15]])) * 512;
    let spf = u32::from_le_bytes(img[36..40].try_into().unwrap()) as usize * 512;
    let data = fat + 2 * spf;
    let at = (data..img.len())
        .step_by(512)
        .find(|&at| &img[at..at + 11] == b".          ")
        .unwrap();
    let first = u32::from(u16::from_le_bytes([img[at + 26], img[at + 27]])) as usize;
    let second = u32::from_le_bytes(
        img[fat + 4 * first..fat + 4 * first + 4]
            .try_into()
            .unwrap(),
    ) as usize;
    assert!((2..0x0FFF_FFF8).contains(&second), "two clusters");
    let end = u32::from_le_bytes(
        img[fat + 4 * second..fat + 4 * second + 4]
            .try_into()
            .unwrap(),
    );
    assert!(end >= 0x0FFF_FFF8, "exactly two");
    for copy in [fat, fat + spf] {
        img[copy + 4 * second..copy + 4 * second + 4]
            .copy_from_slice(&(first as u32).to_le_bytes());
    }
    let mut s = FileServer::mount(MemDisk::from_bytes(img), 64).unwrap();
    assert_eq!(s.stat(1, "/d/missing"), Err(cerne_fs::FsError::Corrupt));
    assert_eq!(s.read_dir(1, "/d", 0, 10).unwrap().len(), 10);
    assert_eq!(
        s.read_dir(1, "/d", 70_000, 10),
        Err(cerne_fs::FsError::Corrupt)
    );
    assert_eq!(s.open(1, "/d/new", CREATE), Err(cerne_fs::FsError::Corrupt));
    assert_eq!(get(&mut s, 2, "/outside"), b"fine");
}

#[test]
fn looping_file_chain_is_corrupt_not_a_hang() {
    let mut s = fresh_server();
    put(&mut s, 1, "/loop", &pattern(2000, 1));
    put(&mut s, 1, "/outside", b"fine");
    let mut img = s.unmount().unwrap().into_bytes();
    let fat = usize::from(u16::from_le_bytes([img[14], img[15]])) * 512;
    let spf = u32::from_le_bytes(img[36..40].try_into().unwrap()) as usize * 512;
    // Find /loop's entry in the root directory (cluster 2, the data area's
    // first cluster) and its first cluster; point its last cluster back.
    let root = fat + 2 * spf;
    let at = (root..root + 512)
        .step_by(32)
        .find(|&at| &img[at..at + 4] == b"LOOP")
        .unwrap();
    let first = usize::from(u16::from_le_bytes([img[at + 26], img[at + 27]]));
    let mut last = first;
    for _ in 0..3 {
        last = u32::from_le_bytes(img[fat + 4 * last..fat + 4 * last + 4].try_into().unwrap())
            as usize;
    }
    for copy in [fat, fat + spf] {
        img[copy + 4 * last..copy + 4 * last + 4].copy_from_slice(&(first as u32).to_le_bytes());
    }
    let mut s = FileServer::mount(MemDisk::from_bytes(img), 64).unwrap();
    // Reading is bounded by the size; freeing would not be.
    assert_eq!(get(&mut s, 1, "/loop"), pattern(2000, 1));
    assert_eq!(s.unlink(1, "/loop"), Err(cerne_fs::FsError::Corrupt));
    let h = s.open(1, "/loop", RW).unwrap();
    assert_eq!(s.truncate(1, h, 10), Err(cerne_fs::FsError::Corrupt));
    s.close(1, h).unwrap();
    assert_eq!(
        s.open(1, "/loop", RW | OpenFlags::TRUNCATE),
        Err(cerne_fs::FsError::Corrupt)
    );
    assert_eq!(get(&mut s, 2, "/outside"), b"fine");
}
