//! fsync: when it returns, the device has flushed and the durable bytes
//! alone hold the file.

mod common;
use cerne_fs::{Faults, FileServer, FsError, MemDisk};
use common::*;

fn volatile_server() -> FileServer<MemDisk> {
    let mut d = fresh_disk();
    d.set_volatile_cache(true);
    d.reset_counters();
    let mut s = FileServer::mount(d, 256).unwrap();
    // The mount's own write: the dirty flag, made durable first.
    let k = s.with_device(|d| d.counters()).unwrap();
    assert_eq!((k.write_batches, k.sectors_written, k.flushes), (1, 1, 1));
    s.with_device(MemDisk::reset_counters).unwrap();
    s
}

#[test]
fn fsync_makes_the_file_durable() {
    let mut s = volatile_server();
    let data = pattern(200_000, 8);
    let h = s.open(1, "/durable.bin", CREATE).unwrap();
    s.write(1, h, &data).unwrap();
    let before = s.with_device(|d| d.counters()).unwrap();
    s.fsync(1, h).unwrap();
    let after = s.with_device(|d| d.counters()).unwrap();
    // The data region, a flush, the FATs, a flush.
    assert_eq!(after.flushes, before.flushes + 2);
    assert!(after.write_batches > before.write_batches);
    // Only what was flushed: the durable image, no further sync.
    let durable = s.with_device(|d| d.durable_bytes().to_vec()).unwrap();
    check_volume(&durable).unwrap();
    let mut copy = FileServer::mount(MemDisk::from_bytes(durable), 64).unwrap();
    assert_eq!(get(&mut copy, 9, "/durable.bin"), data);
    s.close(1, h).unwrap();
}

#[test]
fn without_fsync_nothing_is_durable_yet() {
    // The control for the test above: the write alone reaches neither the
    // durable image nor (with this cache size) the device at all.
    let mut s = volatile_server();
    put(&mut s, 1, "/volatile.bin", &pattern(20_000, 1));
    let k = s.with_device(|d| d.counters()).unwrap();
    assert_eq!(k.write_batches, 0);
    let durable = s.with_device(|d| d.durable_bytes().to_vec()).unwrap();
    let copy = FileServer::mount(MemDisk::from_bytes(durable), 64).unwrap();
    assert_eq!(copy.stat(1, "/volatile.bin"), Err(FsError::NotFound));
    drop(copy);
    s.sync().unwrap();
    let durable = s.with_device(|d| d.durable_bytes().to_vec()).unwrap();
    let mut copy = FileServer::mount(MemDisk::from_bytes(durable), 64).unwrap();
    assert_eq!(get(&mut copy, 1, "/volatile.bin"), pattern(20_000, 1));
}

#[test]
fn fsync_sends_all_dirty_pages_in_one_batch_per_region() {
    let mut s = volatile_server();
    for i in 0..30 {
        put(&mut s, 1, &format!("/f{i}"), &pattern(3000, i));
    }
    let h = s.open(1, "/f0", RW).unwrap();
    s.with_device(MemDisk::reset_counters).unwrap();
    s.fsync(1, h).unwrap();
    let k = s.with_device(|d| d.counters()).unwrap();
    // Data and directories first, a flush, then the FATs, a flush.
    assert_eq!((k.write_batches, k.flushes), (2, 2), "{k:?}");
    assert!(k.write_entries > 1 && k.sectors_written >= 30 * 6, "{k:?}");
    assert_eq!(s.stats().unwrap().cache.dirty_pages, 0);
    // Nothing dirty: fsync still flushes, and writes nothing.
    s.fsync(1, h).unwrap();
    let k2 = s.with_device(|d| d.counters()).unwrap();
    assert_eq!((k2.write_batches, k2.flushes), (2, 3));
}

#[test]
fn failed_fsync_loses_nothing() {
    let mut s = volatile_server();
    let h = s.open(1, "/retry", CREATE).unwrap();
    s.write(1, h, b"must survive").unwrap();
    for faults in [
        Faults {
            fail_writes: true,
            ..Faults::default()
        },
        Faults {
            fail_flushes: true,
            ..Faults::default()
        },
    ] {
        s.with_device(|d| d.set_faults(faults)).unwrap();
        assert_eq!(s.fsync(1, h), Err(FsError::Io));
        s.with_device(MemDisk::clear_faults).unwrap();
        // Another client is served meanwhile.
        put(&mut s, 2, "/other", b"other");
        assert_eq!(get(&mut s, 2, "/retry"), b"must survive");
    }
    s.fsync(1, h).unwrap();
    let durable = s.with_device(|d| d.durable_bytes().to_vec()).unwrap();
    let mut copy = FileServer::mount(MemDisk::from_bytes(durable), 64).unwrap();
    assert_eq!(get(&mut copy, 1, "/retry"), b"must survive");
    assert_eq!(get(&mut copy, 1, "/other"), b"other");
}
