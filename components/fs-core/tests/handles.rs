//! Handles belong to one client; sessions; several handles on one file;
//! handles across unlink and rename.

mod common;
use std::collections::BTreeSet;

use cerne_fs::{FsError, Handle, OpenFlags, SeekFrom};
use common::*;

#[test]
fn another_clients_handle_is_unknown_for_every_operation() {
    let mut s = fresh_server();
    put(&mut s, 1, "/a", b"secret");
    s.mkdir(1, "/d").unwrap();
    let h = s.open(1, "/a", RW).unwrap();
    let dh = s.open(1, "/d", OpenFlags::DIRECTORY).unwrap();
    let mut buf = [0u8; 6];
    let u = FsError::UnknownHandle;
    assert_eq!(s.read(2, h, &mut buf).unwrap_err(), u);
    assert_eq!(s.read_at(2, h, 0, &mut buf).unwrap_err(), u);
    assert_eq!(s.write(2, h, b"x").unwrap_err(), u);
    assert_eq!(s.seek(2, h, SeekFrom::Start(0)).unwrap_err(), u);
    assert_eq!(s.truncate(2, h, 0).unwrap_err(), u);
    assert_eq!(s.fstat(2, h).unwrap_err(), u);
    assert_eq!(s.fsync(2, h).unwrap_err(), u);
    assert_eq!(s.read_dir_handle(2, dh, 0, 10).unwrap_err(), u);
    assert_eq!(s.close(2, h).unwrap_err(), u);
    assert_eq!(s.close_session(2), 0);
    // Nothing happened to client 1's handle or file.
    assert_eq!(s.read(1, h, &mut buf).unwrap(), 6);
    assert_eq!(&buf, b"secret");
    assert_eq!(s.read_dir_handle(1, dh, 0, 10).unwrap().len(), 0);
    s.close(1, h).unwrap();
    s.close(1, dh).unwrap();
}

#[test]
fn handle_values_are_never_reused() {
    let mut s = fresh_server();
    put(&mut s, 1, "/a", b"x");
    let mut seen = BTreeSet::new();
    for round in 0..50u64 {
        for client in 1..=4u64 {
            let h = s.open(client, "/a", OpenFlags::READ).unwrap();
            assert!(seen.insert(h.raw()), "handle {h:?} reused in round {round}");
            if round % 2 == 0 {
                s.close(client, h).unwrap();
                assert_eq!(s.close(client, h), Err(FsError::UnknownHandle));
            }
        }
        if round % 2 == 1 {
            for client in 1..=4u64 {
                s.close_session(client);
            }
        }
    }
    // A closed value stays dead even though its slot is in use again.
    let first = Handle::from_raw(*seen.iter().next().unwrap());
    let mut b = [0u8; 1];
    for client in 1..=4u64 {
        assert_eq!(s.read(client, first, &mut b), Err(FsError::UnknownHandle));
    }
}

#[test]
fn close_session_frees_handles() {
    let mut s = fresh_server();
    put(&mut s, 1, "/a", b"x");
    let per = s.limits().max_handles_per_client;
    let hs: Vec<_> = (0..per)
        .map(|_| s.open(7, "/a", OpenFlags::READ).unwrap())
        .collect();
    assert_eq!(
        s.open(7, "/a", OpenFlags::READ),
        Err(FsError::TooManyHandles)
    );
    let other = s.open(8, "/a", OpenFlags::READ).unwrap();
    assert_eq!(s.handles_of(7), per);
    assert_eq!(s.close_session(7), per);
    assert_eq!(s.handles_of(7), 0);
    let mut b = [0u8; 1];
    for h in hs {
        assert_eq!(s.read(7, h, &mut b), Err(FsError::UnknownHandle));
    }
    // Client 8 is untouched; client 7 can open again.
    assert_eq!(s.read(8, other, &mut b).unwrap(), 1);
    let again: Vec<_> = (0..per)
        .map(|_| s.open(7, "/a", OpenFlags::READ).unwrap())
        .collect();
    assert_eq!(again.len(), per);
    assert_eq!(s.stats().unwrap().open_handles, per as u64 + 1);
}

#[test]
fn two_handles_on_one_file() {
    let mut s = fresh_server();
    let a = s.open(1, "/shared", CREATE).unwrap();
    let b = s.open(2, "/shared", RW).unwrap();
    let data = pattern(10_000, 4);
    assert_eq!(s.write(1, a, &data).unwrap(), data.len());
    // b sees a's write and size at once.
    assert_eq!(s.fstat(2, b).unwrap().size, 10_000);
    let mut back = vec![0; 10_000];
    assert_eq!(s.read(2, b, &mut back).unwrap(), 10_000);
    assert_eq!(back, data);
    // b overwrites the middle and extends; a sees both.
    s.seek(2, b, SeekFrom::Start(5000)).unwrap();
    s.write(2, b, &[0xAB; 8000]).unwrap();
    let mut whole = vec![0; 20_000];
    assert_eq!(s.read_at(1, a, 0, &mut whole).unwrap(), 13_000);
    assert_eq!(&whole[..5000], &data[..5000]);
    assert!(whole[5000..13_000].iter().all(|&x| x == 0xAB));
    // a shrinks the file; b's position is now past the end.
    s.truncate(1, a, 100).unwrap();
    assert_eq!(s.read(2, b, &mut whole), Err(FsError::PastEnd));
    s.seek(2, b, SeekFrom::End(0)).unwrap();
    assert_eq!(s.read(2, b, &mut whole).unwrap(), 0);
    s.close(1, a).unwrap();
    s.close(2, b).unwrap();
    assert_eq!(get(&mut s, 3, "/shared"), data[..100].to_vec());
    s.sync().unwrap();
    check_volume(&s.with_device(|d| d.current_bytes()).unwrap()).unwrap();
}

#[test]
fn append_handles_write_at_the_current_end() {
    let mut s = fresh_server();
    let a = s.open(1, "/log", CREATE | OpenFlags::APPEND).unwrap();
    let b = s.open(2, "/log", CREATE | OpenFlags::APPEND).unwrap();
    for i in 0..20u8 {
        let (c, h) = if i % 2 == 0 { (1, a) } else { (2, b) };
        s.write(c, h, &[i; 3]).unwrap();
    }
    let log = get(&mut s, 3, "/log");
    let want: Vec<u8> = (0..20u8).flat_map(|i| [i; 3]).collect();
    assert_eq!(log, want);
}

#[test]
fn unlinked_file_handles_are_gone() {
    let mut s = fresh_server();
    put(&mut s, 1, "/victim", b"old contents");
    let h = s.open(2, "/victim", RW).unwrap();
    s.unlink(1, "/victim").unwrap();
    let mut b = [0u8; 4];
    assert_eq!(s.read(2, h, &mut b), Err(FsError::NotFound));
    assert_eq!(s.write(2, h, b"x"), Err(FsError::NotFound));
    assert_eq!(s.fstat(2, h), Err(FsError::NotFound));
    // A new file with the same name is not reachable through the old handle.
    put(&mut s, 1, "/VICTIM", b"new");
    assert_eq!(s.read(2, h, &mut b), Err(FsError::NotFound));
    s.close(2, h).unwrap();
    assert_eq!(get(&mut s, 2, "/victim"), b"new");
}

#[test]
fn handles_follow_renames() {
    let mut s = fresh_server();
    s.mkdir(1, "/dir").unwrap();
    put(&mut s, 1, "/dir/file", b"payload");
    let fh = s.open(2, "/dir/file", RW).unwrap();
    let dh = s.open(2, "/dir", OpenFlags::DIRECTORY).unwrap();
    s.rename(1, "/dir/file", "/dir/renamed").unwrap();
    let mut b = [0u8; 7];
    assert_eq!(s.read(2, fh, &mut b).unwrap(), 7);
    assert_eq!(&b, b"payload");
    s.mkdir(1, "/other").unwrap();
    s.rename(1, "/dir", "/other/moved").unwrap();
    s.write(2, fh, b"+more").unwrap();
    assert_eq!(get(&mut s, 1, "/other/moved/renamed"), b"payload+more");
    let names: Vec<_> = s
        .read_dir_handle(2, dh, 0, 10)
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["renamed"]);
    assert_eq!(s.stat(1, "/dir"), Err(FsError::NotFound));
    s.sync().unwrap();
    check_volume(&s.with_device(|d| d.current_bytes()).unwrap()).unwrap();
}
