//! The file server: a FAT32 volume on the block driver's disk, served to
//! the clients of the `files` channel (docs/file-server.md).
//!
//! Below it, the block driver, reached only through the rings of
//! `libcerne::blk` in the shared `blk_queues` page and the `blk_data`
//! region, with the `blk_request` notification to wake the driver and
//! `blk_done` (a bit of this server's bound notification) to be woken.
//! Above it, clients that Call on the `files` endpoint with the protocol of
//! `libcerne::files`; each shares a buffer with this server alone, which
//! carries paths, data and listings. Everything that decides an answer is
//! `cerne_fs::FileService`, tested on the host.
//!
//! It may be restarted in place by its supervisor (docs/file-server.md,
//! "Restart"): the new incarnation has the block driver forget what the old
//! one left in flight, mounts the volume (repairing what a crash can leave),
//! and hands out handles that carry its incarnation, so that the old ones
//! are answered `Stale`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::{AtomicU64, Ordering};

use cerne_fs::{BlockDevice, FileServer, FileService, IoError};
use libcerne::blk::{self, BlkError, Doorbell, Queues};
use libcerne::interface::{message_words, SharedBuffer, MAX_WORDS};
use libcerne::sel4::{Cap, Endpoint, Notification};
use libcerne::supervision::Supervision;

include!(concat!(env!("OUT_DIR"), "/fileserver.rs"));

/// Pages of 4 KiB the block cache keeps.
const CACHE_PAGES: usize = 512;

/// Cycles are measured in the benchmark build only (pmu-user kernel).
const MEASURE: bool = cfg!(feature = "storage-bench");
/// Cycles spent on requests, waits for the driver not counted.
static BUSY: AtomicU64 = AtomicU64::new(0);
/// Cycles spent waiting for the driver.
static WAITED: AtomicU64 = AtomicU64::new(0);
/// The driver's busy cycles, as last read from the queue page.
static DRIVER: AtomicU64 = AtomicU64::new(0);

fn now() -> u64 {
    if MEASURE {
        libcerne::pmu::cycles()
    } else {
        0
    }
}

/// What `stats` reports of this component.
fn usage() -> (u64, u64, u64, u64) {
    let (used, free) = libcerne::heap::usage();
    (
        BUSY.load(Ordering::Relaxed),
        DRIVER.load(Ordering::Relaxed),
        used as u64,
        free as u64,
    )
}

/// The driver's notifications.
struct Bell {
    driver: Cap<Notification>,
    own: Cap<Notification>,
    sup: Supervision,
}

impl Doorbell for Bell {
    fn notify_driver(&self) {
        self.driver.signal();
    }
    fn wait_for_driver(&self) {
        // The bound notification carries blk_done and, when supervised, the
        // heartbeat: that one is answered here and the wait goes on.
        let start = now();
        while self.sup.on_signal(self.own.wait()) == 0 {}
        WAITED.fetch_add(now().wrapping_sub(start), Ordering::Relaxed);
    }
}

/// This component's side of supervision, from its generated constants.
fn supervision(arg: usize) -> Supervision {
    libcerne::supervision!(arg)
}

/// The disk, through the block driver.
struct Disk(blk::Client<Bell>);

fn io(e: BlkError) -> IoError {
    match e {
        BlkError::OutOfRange => IoError::OutOfRange,
        BlkError::BadBuffer => IoError::BadBuffer,
        BlkError::Device(_) | BlkError::Ring | BlkError::Held => IoError::Device,
    }
}

impl BlockDevice for Disk {
    fn sector_count(&self) -> u64 {
        self.0.capacity()
    }
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.0.read(sector, buf).map_err(io)
    }
    fn write_batch(&mut self, writes: &[(u64, &[u8])]) -> Result<(), IoError> {
        self.0.write(writes).map_err(io)
    }
    fn flush(&mut self) -> Result<(), IoError> {
        self.0.flush().map_err(io)
    }
}

fn main(arg: usize, cycles_at_entry: u64) -> ! {
    // First: a restarted server answers the request its predecessor left
    // unanswered (Restarted), so that client does not wait for ever.
    let sup = supervision(arg);
    // SAFETY: the description gives this component its heap region, mapped
    // read-write and used by nothing else; this is the one call.
    unsafe { libcerne::heap::init(addrs::HEAP, addrs::HEAP_SIZE) };
    let mut console = libcerne::console!();
    if cfg!(feature = "boot-bench") {
        let _ = writeln!(console, "[fs] first instruction at cycle {cycles_at_entry}");
    }
    let bell = Bell {
        driver: Cap::from_cptr(caps::BLK_REQUEST),
        own: Cap::from_cptr(caps::NOTIFICATION),
        sup,
    };
    // SAFETY: blk_queues and blk_data are mapped read-write here and in the
    // driver only, and this server reaches them only through these values.
    let (queues, data) = unsafe {
        (
            Queues::new(addrs::BLK_QUEUES, addrs::BLK_QUEUES_SIZE),
            SharedBuffer::new(addrs::BLK_DATA, addrs::BLK_DATA_SIZE),
        )
    };
    let Some(queues) = queues else {
        panic!("[fs] the block queue region is too small");
    };
    let disk = Disk(blk::Client::new(queues, data, bell));
    let sectors = disk.sector_count();
    let fs = match FileServer::mount(disk, CACHE_PAGES) {
        Ok(fs) => fs,
        Err(e) => {
            let _ = writeln!(console, "[fs] cannot mount the disk: {}", e.name());
            panic!("[fs] cannot mount the disk: {}", e.name());
        }
    };
    if let Some(r) = fs.repaired() {
        let _ = writeln!(
            console,
            "[fs] volume repaired after an unclean stop: {} entries removed, {} files cut, {} dot entries fixed, {} lost clusters freed",
            r.entries_removed, r.files_cut, r.dots_fixed, r.clusters_freed
        );
    }
    let buffers: Vec<_> = buffers::FILES
        .iter()
        .map(|&(badge, vaddr)| {
            // SAFETY: each client's buffer is mapped read-write here for
            // the whole run and reached only through SharedBuffer.
            let buffer = unsafe { SharedBuffer::new(vaddr, buffers::FILES_SIZE) };
            (badge, buffer)
        })
        .collect();
    let clients = buffers.len();
    let mut service = FileService::new(fs, buffers);
    service.set_usage(usage);
    service.set_incarnation(sup.incarnation());
    let free = service.fs().stats().map(|s| s.free_bytes).unwrap_or(0);
    let _ = writeln!(
        console,
        "[fs] FAT32 volume mounted: {} MiB, {} KiB free; serving {clients} clients (incarnation {})",
        sectors / 2048,
        free / 1024,
        sup.incarnation()
    );
    let endpoint: Cap<Endpoint> = Cap::from_cptr(caps::FILES);
    let mut words = [0; MAX_WORDS];
    let mut message = endpoint.recv();
    loop {
        if message.badge & badges::BLK_DONE != 0 || sup.is_heartbeat(message.badge) {
            // A signal of the bound notification, not a client's request: a
            // completion that arrived while no request waited (nothing to
            // do), or the heartbeat (answered here).
            sup.on_signal(message.badge);
            message = endpoint.recv();
            continue;
        }
        let (start, waited) = (now(), WAITED.load(Ordering::Relaxed));
        if MEASURE {
            DRIVER.store(queues.driver_cycles(), Ordering::Relaxed);
        }
        let reply = match message_words(&message, &mut words) {
            Ok(len) => service.dispatch(message.badge, message.label(), &words[..len]),
            Err(e) => libcerne::interface::Reply::error(e.code()),
        };
        let spent = now().wrapping_sub(start);
        let waits = WAITED.load(Ordering::Relaxed).wrapping_sub(waited);
        BUSY.fetch_add(spent.saturating_sub(waits), Ordering::Relaxed);
        message = endpoint.reply_recv(reply.label, reply.message(), &[]);
    }
}

// The spec gives the stack (the description's `stack`): no static one.
libcerne::entry!(main, static_stack = 0);
