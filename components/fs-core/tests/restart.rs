//! The file server restarted in place by its supervisor: handles from
//! before the restart are `Stale` and never name a file afterwards, the
//! interface client re-issues only idempotent operations, and data that
//! was fsync'd before the restart is there after it.

mod common;

use std::cell::{Cell, RefCell};

use cerne_fs::{FileServer, FileService, MemDisk};
use libcerne::files::{flags, Files, FsError};
use libcerne::interface::{Error, ProtocolError, SharedBuffer, Transport, Word, MAX_WORDS};

/// The server of some incarnation, and a switch that restarts it (on the
/// durable bytes of its disk, its cache lost) before it answers the next
/// call, which then gets `Restarted` as the supervisor's orphan answer.
struct Restartable {
    service: RefCell<FileService<MemDisk>>,
    incarnation: Cell<u64>,
    restart_before_next: Cell<bool>,
    buffer: SharedBuffer,
}

impl Restartable {
    fn new(buffer: SharedBuffer) -> Self {
        let fs = FileServer::mount(common::fresh_disk(), 64).unwrap();
        Restartable {
            service: RefCell::new(FileService::new(fs, vec![(1, buffer)])),
            incarnation: Cell::new(0),
            restart_before_next: Cell::new(false),
            buffer,
        }
    }

    /// The server fails and is restarted: what its device holds is all
    /// that survives.
    fn restart(&self) {
        let bytes = self
            .service
            .borrow_mut()
            .fs()
            .with_device(|d| d.durable_bytes().to_vec())
            .unwrap();
        let n = self.incarnation.get() + 1;
        let mut fs = FileServer::mount(MemDisk::from_bytes(bytes), 64).unwrap();
        fs.set_incarnation(n);
        *self.service.borrow_mut() = FileService::new(fs, vec![(1, self.buffer)]);
        self.incarnation.set(n);
    }
}

struct Via<'a>(&'a Restartable);

impl Transport for Via<'_> {
    fn call(&self, label: Word, words: &[Word], reply: &mut [Word; MAX_WORDS]) -> (Word, usize) {
        if self.0.restart_before_next.replace(false) {
            // The request was received and the server failed before it
            // answered: the new incarnation answers it with Restarted.
            self.0.restart();
            return (ProtocolError::Restarted.code(), 0);
        }
        let r = self.0.service.borrow_mut().dispatch(1, label, words);
        reply[..r.len].copy_from_slice(r.message());
        (r.label, r.len)
    }
}

fn leaked_buffer(len: usize) -> SharedBuffer {
    let memory: &'static mut [u64] = vec![0u64; len / 8].leak();
    // SAFETY: leaked memory, used only through this buffer.
    unsafe { SharedBuffer::new(memory.as_mut_ptr() as usize, len) }
}

#[test]
fn handles_from_before_a_restart_are_stale_and_fsyncd_data_stays() {
    let server = Restartable::new(leaked_buffer(16 << 10));
    let files = Files::new(Via(&server), server.buffer);
    let h = files
        .open("/kept", flags::READ | flags::WRITE | flags::CREATE)
        .unwrap();
    assert_eq!(files.write(h, b"durable").unwrap(), 7);
    files.fsync(h).unwrap();
    let lost = files
        .open("/lost", flags::READ | flags::WRITE | flags::CREATE)
        .unwrap();
    files.write(lost, b"never synced").unwrap();

    // An idempotent request on an old handle is re-issued to the new
    // incarnation, which answers Stale.
    server.restart_before_next.set(true);
    let mut out = [0u8; 7];
    server.buffer.write(0, &[0; 7]).unwrap();
    let r = files.raw().read_at(libcerne::files::TransferAt {
        handle: h,
        position: 0,
        buf: libcerne::files::BufRange::new(0, 7),
    });
    assert_eq!(r, Err(Error::Server(FsError::Stale)));
    assert_eq!(server.incarnation.get(), 1);
    // The fsync'd file is there; its handle, and every other, is stale.
    for old in [h, lost] {
        assert_eq!(files.fsync(old), Err(Error::Server(FsError::Stale)));
        assert_eq!(files.close(old), Err(Error::Server(FsError::Stale)));
    }
    let again = files.open("/kept", flags::READ).unwrap();
    assert_eq!(files.read(again, &mut out).unwrap(), 7);
    assert_eq!(&out, b"durable");
    // The new handle has the old one's slot and generation; only the
    // incarnation tells them apart, and the old one still names nothing.
    assert_eq!(again & 0xFFFF_FFFF_FFFF, h & 0xFFFF_FFFF_FFFF);
    assert_ne!(again, h);
    assert_eq!(files.read(h, &mut out), Err(Error::Server(FsError::Stale)));

    // An operation that happens once is not re-issued: the caller learns
    // that the server restarted and decides.
    server.restart_before_next.set(true);
    assert_eq!(
        files.mkdir("/d"),
        Err(Error::Protocol(ProtocolError::Restarted))
    );
    assert_eq!(
        files.read(again, &mut out),
        Err(Error::Server(FsError::Stale))
    );
    files.mkdir("/d").unwrap();
    // A made-up handle of this incarnation is still just unknown.
    let made_up = (server.incarnation.get() << 48) | 0x7777_0005;
    assert_eq!(
        files.fsync(made_up),
        Err(Error::Server(FsError::UnknownHandle))
    );
}

#[test]
fn write_at_is_idempotent_also_on_an_append_handle() {
    let mut s = common::fresh_server();
    let h = s
        .open(1, "/log", common::CREATE.union(cerne_fs::OpenFlags::APPEND))
        .unwrap();
    s.write(1, h, b"0123456789").unwrap();
    for _ in 0..2 {
        assert_eq!(s.write_at(1, h, 2, b"ab").unwrap(), 2);
    }
    assert_eq!(common::get(&mut s, 1, "/log"), b"01ab456789");
    s.write(1, h, b"!").unwrap();
    assert_eq!(common::get(&mut s, 1, "/log"), b"01ab456789!");
}
