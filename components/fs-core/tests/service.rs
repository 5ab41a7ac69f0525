//! The file protocol end to end on the host: `libcerne::files::Files`
//! clients calling [`FileService`] through an in-process transport, with
//! buffers shared by exactly one client and the server, on an in-memory
//! disk. And the server fed random requests: it always answers, and keeps
//! serving a well-behaved client correctly.

mod common;

use std::cell::RefCell;

use cerne_fs::{FileServer, FileService, MemDisk};
use libcerne::files::{self, flags, protocol, Files, FsError};
use libcerne::interface::{
    BufRange, Error, ProtocolError, SharedBuffer, Transport, Word, FIRST_SERVER_CODE, MAX_WORDS,
};
use proptest::prelude::*;

type Service = RefCell<FileService<MemDisk>>;

/// Calls the service directly, as the client of `badge`.
struct Direct<'a> {
    service: &'a Service,
    badge: Word,
}

impl Transport for Direct<'_> {
    fn call(&self, label: Word, words: &[Word], reply: &mut [Word; MAX_WORDS]) -> (Word, usize) {
        let r = self.service.borrow_mut().dispatch(self.badge, label, words);
        reply[..r.len].copy_from_slice(r.message());
        (r.label, r.len)
    }
}

fn leaked_buffer(len: usize) -> SharedBuffer {
    let memory: &'static mut [u64] = vec![0u64; len / 8].leak();
    // SAFETY: leaked memory, used only through this buffer.
    unsafe { SharedBuffer::new(memory.as_mut_ptr() as usize, len) }
}

/// A service with clients of badges 1 and 2, each with a 16 KiB buffer.
fn service() -> (Service, SharedBuffer, SharedBuffer) {
    let (a, b) = (leaked_buffer(16 << 10), leaked_buffer(16 << 10));
    let fs = FileServer::mount(common::fresh_disk(), 64).unwrap();
    (
        RefCell::new(FileService::new(fs, vec![(1, a), (2, b)])),
        a,
        b,
    )
}

fn client(service: &Service, badge: Word, buffer: SharedBuffer) -> Files<Direct<'_>> {
    Files::new(Direct { service, badge }, buffer)
}

#[test]
fn files_through_the_protocol() {
    let (s, a, b) = service();
    let one = client(&s, 1, a);
    let two = client(&s, 2, b);
    one.mkdir("/d").unwrap();
    let data = common::pattern(100_000, 7);
    let h = one
        .open("/d/big.bin", flags::READ | flags::WRITE | flags::CREATE)
        .unwrap();
    assert_eq!(one.write(h, &data).unwrap(), data.len());
    one.fsync(h).unwrap();
    assert_eq!(one.seek(h, 0, files::whence::START).unwrap(), 0);
    let mut back = vec![0u8; data.len() + 10];
    assert_eq!(one.read(h, &mut back).unwrap(), data.len());
    assert_eq!(&back[..data.len()], &data[..]);
    // The other client cannot use the handle, but sees the file.
    assert_eq!(
        two.read(h, &mut [0u8; 4]),
        Err(Error::Server(FsError::UnknownHandle))
    );
    assert_eq!(two.stat("/d/big.bin").unwrap().size, data.len() as u64);
    one.rename("/d/big.bin", "/d/moved.bin").unwrap();
    let mut names = Vec::new();
    two.list("/d", |name, size, _| names.push((name.to_vec(), size)))
        .unwrap();
    assert_eq!(names, vec![(b"moved.bin".to_vec(), data.len() as u64)]);
    one.truncate(h, 10).unwrap();
    assert_eq!(two.stat("/d/moved.bin").unwrap().size, 10);
    one.close(h).unwrap();
    two.unlink("/d/moved.bin").unwrap();
    two.unlink("/d").unwrap();
    assert!(one.statfs().unwrap().free_bytes > 0);
    assert!(one.stats().unwrap().requests > 10);
}

/// A session handed to a new process starts clean: `close_all` closes the
/// caller's handles and no one else's.
#[test]
fn close_all_closes_the_callers_handles_only() {
    let (s, a, b) = service();
    let one = client(&s, 1, a);
    let two = client(&s, 2, b);
    let flags = flags::READ | flags::WRITE | flags::CREATE;
    let h1 = one.open("/a", flags).unwrap();
    let h2 = one.open("/b", flags).unwrap();
    let theirs = two.open("/c", flags).unwrap();
    assert_eq!(one.close_all().unwrap(), 2);
    assert_eq!(one.close_all().unwrap(), 0);
    for h in [h1, h2] {
        assert_eq!(one.close(h), Err(Error::Server(FsError::UnknownHandle)));
    }
    two.close(theirs).unwrap();
}

#[test]
fn a_directory_of_many_entries_pages_through_read_dir() {
    let (s, a, _) = service();
    let one = client(&s, 1, a);
    one.mkdir("/many").unwrap();
    for i in 0..100 {
        let h = one
            .open(
                &format!("/many/file-{i:03}.txt"),
                flags::WRITE | flags::CREATE,
            )
            .unwrap();
        one.close(h).unwrap();
    }
    let mut seen = Vec::new();
    assert_eq!(
        one.list("/many", |name, _, _| seen
            .push(String::from_utf8(name.to_vec()).unwrap()))
            .unwrap(),
        100
    );
    seen.sort();
    assert_eq!(seen[0], "file-000.txt");
    assert_eq!(seen[99], "file-099.txt");
}

#[test]
fn a_client_without_a_buffer_and_ranges_outside_it_are_refused() {
    let (s, a, _) = service();
    let stranger = client(&s, 77, a);
    assert_eq!(stranger.stat("/"), Err(Error::Server(FsError::BadBuffer)));
    let one = client(&s, 1, a);
    let r = one.raw().stat(files::PathOnly {
        path: BufRange::new(16 << 10, 1),
    });
    assert_eq!(r, Err(Error::Server(FsError::BadBuffer)));
    let r = one.raw().open(files::Open {
        path: BufRange::new(0, 1),
        flags: 1 << 20,
        reserved: 0,
    });
    assert_eq!(r, Err(Error::Server(FsError::InvalidArgument)));
}

fn cases() -> u32 {
    std::env::var("CERNE_PROOF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Random requests from client 2 (any label, any words, garbage in its
    /// buffer): every one is answered with a well-formed reply, and client
    /// 1's file stays intact and usable throughout.
    #[test]
    fn random_requests_never_break_the_server(
        requests in proptest::collection::vec(
            (0u64..20, proptest::collection::vec(any::<u64>(), 0..=MAX_WORDS), any::<u8>()),
            1..40,
        )
    ) {
        let (s, a, b) = service();
        let good = client(&s, 1, a);
        let h = good.open("/keep.txt", flags::READ | flags::WRITE | flags::CREATE).unwrap();
        good.write(h, b"precious").unwrap();
        for (label, words, fill) in requests {
            b.write(0, &[fill; 512]).unwrap();
            let decoded = protocol::Request::decode(label, &words);
            let reply = s.borrow_mut().dispatch(2, label, &words);
            prop_assert!(reply.len <= MAX_WORDS);
            match decoded {
                Err(e) => prop_assert_eq!(reply.label, e.code()),
                Ok(_) => prop_assert!(
                    reply.label == 0 || reply.label >= FIRST_SERVER_CODE,
                    "label {}", reply.label
                ),
            }
            // The well-behaved client still reads its file.
            let mut back = [0u8; 8];
            let n = good.raw().read_at(files::TransferAt {
                handle: h,
                position: 0,
                buf: BufRange::new(0, 8),
            });
            prop_assert_eq!(n.map(|c| c.bytes), Ok(8));
            a.read(0, &mut back).unwrap();
            prop_assert_eq!(&back, b"precious");
        }
        // The undecodable ones never reached the server's code.
        let r = s.borrow_mut().dispatch(2, 999, &[]);
        prop_assert_eq!(r.label, ProtocolError::BadLabel.code());
    }
}
