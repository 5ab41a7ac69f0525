//! Names and directories: mkdir, rename, read_dir paging, unlink,
//! truncate, long and non-ASCII names, case, timestamps, odd disk sizes.

mod common;
use std::collections::BTreeSet;

use cerne_fs::{format, FileServer, FsError, MemDisk, OpenFlags, SeekFrom, Timestamp};
use common::*;

#[test]
fn mkdir_and_nested_files() {
    let mut s = fresh_server();
    s.mkdir(1, "/a").unwrap();
    s.mkdir(1, "/a/b").unwrap();
    s.mkdir(1, "/a/b/c").unwrap();
    put(&mut s, 1, "/a/b/c/deep.txt", b"deep");
    assert_eq!(get(&mut s, 2, "/a/./b/../b/c/deep.txt"), b"deep");
    let st = s.stat(1, "/a/b").unwrap();
    assert!(st.is_dir && st.size == 0);
    assert!(s.stat(1, "/").unwrap().is_dir);
    assert_eq!(s.stat(1, "/").unwrap().modified, None);
    assert_eq!(s.mkdir(1, "/a/missing/x"), Err(FsError::NotFound));
    assert_eq!(s.mkdir(1, "/a/b/c/deep.txt/x"), Err(FsError::NotADirectory));
    assert_eq!(s.mkdir(1, "/"), Err(FsError::AlreadyExists));
    remount(s);
}

#[test]
fn read_dir_pages_through_everything() {
    let mut s = fresh_server();
    s.mkdir(1, "/many").unwrap();
    let mut want = BTreeSet::new();
    for i in 0..53 {
        let name = format!("entry number {i}.txt");
        put(&mut s, 1, &format!("/many/{name}"), &pattern(i, i as u64));
        want.insert((name, i as u64, false));
    }
    s.mkdir(1, "/many/sub dir").unwrap();
    want.insert(("sub dir".to_string(), 0, true));
    let mut got = Vec::new();
    let mut start = 0;
    loop {
        let page = s.read_dir(2, "/many", start, 7).unwrap();
        assert!(page.len() <= 7);
        if page.is_empty() {
            break;
        }
        start += page.len() as u64;
        got.extend(page.into_iter().map(|e| (e.name, e.size, e.is_dir)));
    }
    assert_eq!(got.len(), want.len(), "no duplicates, nothing missed");
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want);
    assert!(s.read_dir(2, "/many", 1000, 7).unwrap().is_empty());
    assert!(s.read_dir(2, "/many", 0, 0).unwrap().is_empty());
    // The server caps a page at its limit.
    let cap = s.limits().max_dir_entries;
    assert_eq!(
        s.read_dir(2, "/many", 0, usize::MAX).unwrap().len(),
        want.len().min(cap)
    );
    // The same through a directory handle.
    let h = s.open(2, "/many", OpenFlags::DIRECTORY).unwrap();
    let all = s.read_dir_handle(2, h, 0, 100).unwrap();
    assert_eq!(all.len(), want.len());
    // Root listing has no '.' or '..'.
    let root: Vec<_> = s
        .read_dir(2, "/", 0, 10)
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(root, ["many"]);
    let sub = s.read_dir(2, "/many/sub dir", 0, 10).unwrap();
    assert!(sub.is_empty());
}

#[test]
fn unlink_files_and_directories() {
    let mut s = fresh_server();
    s.mkdir(1, "/d").unwrap();
    put(&mut s, 1, "/d/f", &pattern(5000, 1));
    let free = s.stats().unwrap().free_clusters;
    assert_eq!(s.unlink(1, "/d"), Err(FsError::DirectoryNotEmpty));
    assert_eq!(get(&mut s, 1, "/d/f"), pattern(5000, 1));
    s.unlink(1, "/d/f").unwrap();
    assert_eq!(s.stats().unwrap().free_clusters, free + 10);
    s.unlink(1, "/d").unwrap();
    assert_eq!(s.stat(1, "/d"), Err(FsError::NotFound));
    assert_eq!(s.unlink(1, "/d"), Err(FsError::NotFound));
    assert!(s.read_dir(1, "/", 0, 10).unwrap().is_empty());
    remount(s);
}

#[test]
fn rename_files_and_directories() {
    let mut s = fresh_server();
    put(&mut s, 1, "/one", b"1");
    s.rename(1, "/one", "/two").unwrap();
    assert_eq!(s.stat(1, "/one"), Err(FsError::NotFound));
    assert_eq!(get(&mut s, 1, "/two"), b"1");
    // Into a directory, then the directory somewhere else.
    s.mkdir(1, "/x").unwrap();
    s.mkdir(1, "/y").unwrap();
    s.rename(1, "/two", "/x/two").unwrap();
    s.mkdir(1, "/x/inner").unwrap();
    put(&mut s, 1, "/x/inner/leaf", b"leaf");
    s.rename(1, "/x", "/y/x moved").unwrap();
    assert_eq!(get(&mut s, 1, "/y/x moved/two"), b"1");
    assert_eq!(get(&mut s, 1, "/y/x moved/inner/leaf"), b"leaf");
    // And back up to the root.
    s.rename(1, "/y/x moved/inner", "/inner").unwrap();
    assert_eq!(get(&mut s, 1, "/inner/leaf"), b"leaf");
    // Refusals change nothing.
    put(&mut s, 1, "/taken", b"t");
    assert_eq!(
        s.rename(1, "/inner/leaf", "/taken"),
        Err(FsError::AlreadyExists)
    );
    assert_eq!(
        s.rename(1, "/y", "/y/x moved/y"),
        Err(FsError::InvalidArgument)
    );
    assert_eq!(s.rename(1, "/y", "/Y/sub"), Err(FsError::InvalidArgument));
    assert_eq!(s.rename(1, "/nothing", "/z"), Err(FsError::NotFound));
    assert_eq!(s.rename(1, "/taken", "/nodir/z"), Err(FsError::NotFound));
    assert_eq!(
        s.rename(1, "/taken", "/inner/leaf/z"),
        Err(FsError::NotADirectory)
    );
    // Same entry (only the case differs): nothing to do.
    s.rename(1, "/taken", "/TAKEN").unwrap();
    assert_eq!(get(&mut s, 1, "/taken"), b"t");
    assert_eq!(get(&mut s, 1, "/inner/leaf"), b"leaf");
    // '..' of every moved directory points at its new parent.
    s.sync().unwrap();
    let report = check_volume(&s.with_device(|d| d.current_bytes()).unwrap()).unwrap();
    assert!(report.dirs.contains(&"/y/x moved".to_string()));
    assert!(report.dirs.contains(&"/inner".to_string()));
    remount(s);
}

#[test]
fn truncate_shrinks_and_grows_with_zeros() {
    let mut s = fresh_server();
    let data = pattern(10_000, 6);
    put(&mut s, 1, "/t", &data);
    let h = s.open(1, "/t", RW).unwrap();
    s.truncate(1, h, 1234).unwrap();
    assert_eq!(s.fstat(1, h).unwrap().size, 1234);
    // Grow again: the old bytes must not come back.
    s.truncate(1, h, 20_000).unwrap();
    let mut back = vec![0xFF; 20_000];
    assert_eq!(s.read_at(1, h, 0, &mut back).unwrap(), 20_000);
    assert_eq!(&back[..1234], &data[..1234]);
    assert!(
        back[1234..].iter().all(|&b| b == 0),
        "grown bytes read as zero"
    );
    s.truncate(1, h, 0).unwrap();
    assert_eq!(s.fstat(1, h).unwrap().size, 0);
    s.truncate(1, h, 0).unwrap();
    s.truncate(1, h, 513).unwrap();
    assert_eq!(get(&mut s, 2, "/t"), vec![0; 513]);
    // The position is not moved by truncate; writing past the end fills
    // the gap with zeros.
    s.seek(1, h, SeekFrom::Start(2000)).unwrap();
    s.write(1, h, b"end").unwrap();
    let got = get(&mut s, 2, "/t");
    assert_eq!(got.len(), 2003);
    assert!(got[..2000].iter().all(|&b| b == 0));
    assert_eq!(&got[2000..], b"end");
    // Open with TRUNCATE empties the file.
    let h2 = s.open(2, "/t", RW | OpenFlags::TRUNCATE).unwrap();
    assert_eq!(s.fstat(2, h2).unwrap().size, 0);
    s.sync().unwrap();
    check_volume(&s.with_device(|d| d.current_bytes()).unwrap()).unwrap();
}

#[test]
fn long_unicode_and_case_insensitive_names() {
    let mut s = fresh_server();
    let long = format!("/{}", "n".repeat(200));
    put(&mut s, 1, &long, b"long");
    put(&mut s, 1, "/Grüße aus Köln.txt", b"unicode");
    put(&mut s, 1, "/a 日本語 name", b"cjk");
    put(&mut s, 1, "/MixedCase.Txt", b"case");
    assert_eq!(get(&mut s, 1, &long.to_uppercase()), b"long");
    assert_eq!(get(&mut s, 1, "/GRÜSSE AUS KÖLN.TXT"), b"unicode");
    assert_eq!(get(&mut s, 1, "/mixedcase.txt"), b"case");
    // One file, whatever the case used to open it.
    let h = s
        .open(1, "/MIXEDCASE.TXT", CREATE | OpenFlags::TRUNCATE)
        .unwrap();
    s.write(1, h, b"CASE").unwrap();
    s.close(1, h).unwrap();
    let names: BTreeSet<_> = s
        .read_dir(1, "/", 0, 10)
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    let want: BTreeSet<_> = [
        &long[1..],
        "Grüße aus Köln.txt",
        "a 日本語 name",
        "MixedCase.Txt",
    ]
    .map(String::from)
    .into();
    assert_eq!(names, want);
    let mut s = remount(s);
    assert_eq!(get(&mut s, 1, "/a 日本語 NAME"), b"cjk");
    assert_eq!(get(&mut s, 1, "/mixedCASE.txt"), b"CASE");
}

#[test]
fn timestamps_come_from_the_server_clock() {
    let mut s = fresh_server();
    let t = Timestamp {
        year: 2024,
        month: 5,
        day: 17,
        hour: 13,
        minute: 45,
        second: 30,
    };
    s.set_time(t).unwrap();
    put(&mut s, 1, "/stamped", b"x");
    assert_eq!(s.stat(1, "/stamped").unwrap().modified, Some(t));
    let bad = Timestamp { month: 13, ..t };
    assert_eq!(s.set_time(bad), Err(FsError::InvalidArgument));
    assert_eq!(
        s.set_time(Timestamp { year: 1979, ..t }),
        Err(FsError::InvalidArgument)
    );
}

#[test]
fn disk_size_not_a_multiple_of_a_page() {
    // The cache's last page holds only 5 sectors.
    let sectors = small_sectors() + 13;
    assert_ne!(sectors % 8, 0);
    let mut d = MemDisk::new(sectors);
    format(&mut d, "ODD").unwrap();
    let mut s = FileServer::mount(d, 16).unwrap();
    let big = pattern(3 << 20, 12);
    put(&mut s, 1, "/big", &big);
    assert_eq!(get(&mut s, 1, "/big"), big);
    let d = s.unmount().unwrap();
    assert_eq!(d.durable_bytes().len() as u64, sectors * 512);
    let mut s = FileServer::mount(d, 16).unwrap();
    assert_eq!(get(&mut s, 1, "/big"), big);
    // Formatting: too small, bad labels, the size table.
    assert_eq!(
        format(&mut MemDisk::new(small_sectors() - 1), "X"),
        Err(FsError::InvalidArgument)
    );
    assert_eq!(
        format(&mut MemDisk::new(small_sectors()), "TWELVE CHARS"),
        Err(FsError::InvalidArgument)
    );
    assert_eq!(
        format(&mut MemDisk::new(small_sectors()), "bad/label"),
        Err(FsError::InvalidArgument)
    );
}

#[test]
fn format_picks_the_largest_cluster_that_fits() {
    for (cs, sectors) in [
        (512, 66_557u64),
        (1024, 132_082),
        (2048, 263_132),
        (4096, 525_232),
    ] {
        assert_eq!(cerne_fs::min_sectors(cs), Some(sectors));
        let mut d = MemDisk::new(sectors);
        format(&mut d, "").unwrap();
        let s = FileServer::mount(d, 16).unwrap();
        let st = s.stats().unwrap();
        assert_eq!(st.cluster_size, u64::from(cs), "at {sectors} sectors");
        assert!(st.total_clusters >= 65_525);
        let mut d = MemDisk::new(sectors - 1);
        if cs == 512 {
            assert_eq!(format(&mut d, ""), Err(FsError::InvalidArgument));
            continue;
        }
        format(&mut d, "").unwrap();
        let s = FileServer::mount(d, 16).unwrap();
        assert_eq!(s.stats().unwrap().cluster_size, u64::from(cs / 2));
    }
}

#[test]
fn checker_catches_damage() {
    // The consistency checker used everywhere must be able to fail.
    let mut s = fresh_server();
    s.mkdir(1, "/d").unwrap();
    s.mkdir(1, "/d/e").unwrap();
    put(&mut s, 1, "/d/e/f", &pattern(3000, 1));
    let img = s.unmount().unwrap().into_bytes();
    check_volume(&img).unwrap();
    let fat = usize::from(u16::from_le_bytes([img[14], img[15]])) * 512;
    // A leaked cluster.
    let mut bad = img.clone();
    let spf = u32::from_le_bytes(bad[36..40].try_into().unwrap()) as usize * 512;
    for copy in 0..2 {
        let at = fat + copy * spf + 4 * 60_000;
        bad[at..at + 4].copy_from_slice(&0x0FFF_FFFFu32.to_le_bytes());
    }
    assert!(check_volume(&bad).unwrap_err().contains("unreachable"));
    // FAT copies that differ.
    let mut bad = img.clone();
    bad[fat + 4 * 60_000] = 1;
    assert!(check_volume(&bad).unwrap_err().contains("differ"));
    // A wrong '..': /d/e is the only directory whose '..' is not the root
    // (cluster 0); point it at the root.
    let mut bad = img.clone();
    let data = fat + 2 * spf;
    let e_dir = (data..img.len())
        .step_by(512)
        .find(|&at| {
            &img[at..at + 11] == b".          "
                && &img[at + 32..at + 43] == b"..         "
                && img[at + 32 + 26] != 0
        })
        .unwrap();
    bad[e_dir + 32 + 26] = 0;
    bad[e_dir + 32 + 27] = 0;
    assert!(check_volume(&bad).unwrap_err().contains("/d/e: entry 1"));
}
