//! Files of several sizes written, read back, checksummed, and still
//! there after a remount.

mod common;
use cerne_fs::OpenFlags;
use common::*;

const SIZES: [usize; 4] = [0, 1, 4096, 1024 * 1024 + 7];

#[test]
fn write_read_back_and_remount() {
    let mut s = fresh_server();
    let mut sums = Vec::new();
    for (i, &len) in SIZES.iter().enumerate() {
        let data = pattern(len, i as u64 + 1);
        let path = format!("/file-{len}.bin");
        put(&mut s, 1, &path, &data);
        let back = get(&mut s, 1, &path);
        assert_eq!(back.len(), len);
        assert_eq!(checksum(&back), checksum(&data), "{path}");
        assert_eq!(s.stat(1, &path).unwrap().size, len as u64);
        sums.push((path, len, checksum(&data)));
    }
    s.sync().unwrap();
    let mut s = remount(s);
    for (path, len, sum) in &sums {
        let back = get(&mut s, 2, path);
        assert_eq!(back.len(), *len, "{path}");
        assert_eq!(checksum(&back), *sum, "{path}");
    }
    // And from a copy of the bytes alone, after a sync.
    s.sync().unwrap();
    let copy = s.with_device(|d| d.current_bytes()).unwrap();
    let report = check_volume(&copy).unwrap();
    for (path, len, _) in &sums {
        assert_eq!(report.files.get(path), Some(&(*len as u64)), "{path}");
    }
    let mut s2 = cerne_fs::FileServer::mount(cerne_fs::MemDisk::from_bytes(copy), 64).unwrap();
    for (path, _, sum) in &sums {
        assert_eq!(checksum(&get(&mut s2, 3, path)), *sum);
    }
}

#[test]
fn small_reads_and_writes_in_pieces() {
    let mut s = fresh_server();
    let data = pattern(100_000, 9);
    let h = s.open(1, "/pieces", CREATE).unwrap();
    for chunk in data.chunks(777) {
        assert_eq!(s.write(1, h, chunk).unwrap(), chunk.len());
    }
    s.seek(1, h, cerne_fs::SeekFrom::Start(0)).unwrap();
    let mut back = Vec::new();
    let mut buf = [0u8; 333];
    loop {
        let n = s.read(1, h, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        back.extend_from_slice(&buf[..n]);
    }
    assert_eq!(back, data);
    // read_at does not move the position.
    let mut b = [0u8; 10];
    assert_eq!(s.read_at(1, h, 5, &mut b).unwrap(), 10);
    assert_eq!(&b, &data[5..15]);
    assert_eq!(s.read(1, h, &mut b).unwrap(), 0);
    s.close(1, h).unwrap();
    let _ = OpenFlags::READ;
}
