//! Filling a small volume: the error is `NoSpace`, and the volume stays
//! consistent, readable, and usable again once space is freed.

mod common;
use cerne_fs::{FileServer, FsError, OpenFlags};
use common::*;

#[test]
fn fill_with_one_file_then_recover() {
    let mut s = fresh_server();
    let keep = pattern(50_000, 1);
    put(&mut s, 1, "/keep.bin", &keep);
    s.mkdir(1, "/dir").unwrap();
    put(&mut s, 1, "/dir/small", b"small");
    let free_before = s.stats().unwrap().free_bytes;

    let total = fill_volume(&mut s, 2);
    assert!(total > 30 << 20, "filled only {total} bytes");
    let st = s.stats().unwrap();
    assert!(
        st.free_clusters <= 3,
        "{} clusters still free",
        st.free_clusters
    );
    assert!(total <= free_before && free_before - total <= 3 * st.cluster_size);

    // Another client reads the rest; creating names fails cleanly.
    assert_eq!(get(&mut s, 3, "/keep.bin"), keep);
    assert_eq!(s.mkdir(3, "/another"), Err(FsError::NoSpace));
    for i in 0..40 {
        match s.open(3, &format!("/new-{i}"), CREATE) {
            Ok(h) => {
                assert_eq!(s.write(3, h, b"data"), Err(FsError::NoSpace));
                s.close(3, h).unwrap();
            }
            Err(e) => assert_eq!(e, FsError::NoSpace),
        }
    }
    s.sync().unwrap();
    let bytes = s.with_device(|d| d.current_bytes()).unwrap();
    let report = check_volume(&bytes).unwrap();
    assert_eq!(report.files.get("/fill"), Some(&total));

    // Remount the full volume, check, delete, write again.
    let mut s = remount(s);
    assert_eq!(s.stat(1, "/fill").unwrap().size, total);
    assert_eq!(get(&mut s, 1, "/dir/small"), b"small");
    let fill = get(&mut s, 1, "/fill");
    let chunk = pattern(1 << 20, 77);
    for (i, piece) in fill.chunks(1 << 20).enumerate() {
        assert_eq!(piece, &chunk[..piece.len()], "MiB {i} of /fill");
    }
    s.unlink(1, "/fill").unwrap();
    let again = pattern(10 << 20, 5);
    put(&mut s, 1, "/again.bin", &again);
    assert_eq!(get(&mut s, 2, "/again.bin"), again);
    s.mkdir(1, "/another").unwrap();
    let s = remount(s);
    drop(s);
}

#[test]
fn fill_with_many_small_files() {
    let mut s = fresh_server();
    // 96 KiB files with long names: the root directory keeps growing too.
    let data = pattern(96 << 10, 2);
    let mut made = 0;
    let err = loop {
        let path = format!("/a-rather-long-file-name-number-{made:05}.dat");
        let h = match s.open(1, &path, CREATE) {
            Ok(h) => h,
            Err(e) => break e,
        };
        let r = s.write(1, h, &data);
        s.close(1, h).unwrap();
        match r {
            Ok(n) if n == data.len() => made += 1,
            Ok(_) => break FsError::NoSpace,
            Err(e) => break e,
        }
    };
    assert_eq!(err, FsError::NoSpace);
    assert!(made > 300, "only {made} files");
    s.sync().unwrap();
    let report = check_volume(&s.with_device(|d| d.current_bytes()).unwrap()).unwrap();
    assert!(report.files.len() >= made);
    // Free some, and the names can be reused.
    let mut s = remount(s);
    for i in 0..10 {
        s.unlink(1, &format!("/a-rather-long-file-name-number-{i:05}.dat"))
            .unwrap();
    }
    put(&mut s, 2, "/after", &pattern(20_000, 3));
    assert_eq!(get(&mut s, 2, "/after"), pattern(20_000, 3));
    let listed = s.read_dir(2, "/", 0, 5).unwrap();
    assert_eq!(listed.len(), 5);
    remount(s);
}

#[test]
fn grow_fails_whole_when_full() {
    let mut s = fresh_server();
    put(&mut s, 1, "/g", b"0123456789");
    fill_volume(&mut s, 1);
    let h = s.open(1, "/g", OpenFlags::READ | OpenFlags::WRITE).unwrap();
    // Growing by truncate fails and keeps the size.
    assert_eq!(s.truncate(1, h, 10 << 20), Err(FsError::NoSpace));
    assert_eq!(s.fstat(1, h).unwrap().size, 10);
    // So does a write far past the end (the zero gap cannot be placed).
    s.seek(1, h, cerne_fs::SeekFrom::Start(5 << 20)).unwrap();
    assert_eq!(s.write(1, h, b"x"), Err(FsError::NoSpace));
    assert_eq!(s.fstat(1, h).unwrap().size, 10);
    s.close(1, h).unwrap();
    assert_eq!(get(&mut s, 1, "/g"), b"0123456789");
    s.sync().unwrap();
    check_volume(&s.with_device(|d| d.current_bytes()).unwrap()).unwrap();
    let _ = FileServer::<cerne_fs::MemDisk>::mount;
}
