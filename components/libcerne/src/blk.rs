//! The block protocol between a block driver and its client
//! (docs/block.md): asynchronous, in the sDDF pattern. The client never
//! calls the driver; it pushes [`Request`]s on a ring in shared memory and
//! signals the driver's notification, and the driver pushes
//! [`Completion`]s on a second ring and signals back. Several requests may
//! be in flight; data moves through a second shared region (the *data
//! region*, which the driver's device reaches by DMA), named in a request
//! by its byte offset.
//!
//! The queue region (one 4 KiB page at least) holds:
//!
//! | offset | what |
//! |---|---|
//! | 0 | [`DeviceInfo`] words: magic, generation, capacity, flags (driver writes) |
//! | 32 | the driver's busy cycles, for benchmarks (driver writes) |
//! | [`REQUESTS_AT`] | the request ring (client pushes, driver pops) |
//! | [`COMPLETIONS_AT`] | the completion ring (driver pushes, client pops) |
//!
//! A driver that starts (or is restarted) empties both rings, writes the
//! device's capacity, then bumps `generation` and signals. A client that
//! sees a new generation pushes again every request it holds in
//! [`InFlight`] that was not acknowledged: reads, writes of data that
//! still sits unchanged in the data region, and flushes are all safe to
//! carry out twice.

use core::sync::atomic::{AtomicU64, Ordering};

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::ring::{ring_bytes, Ring, RingError};

/// Bytes of a sector.
pub const SECTOR_SIZE: usize = 512;
/// Entries of each ring.
pub const RING_CAPACITY: u32 = 64;
/// Where the request ring starts in the queue region.
pub const REQUESTS_AT: usize = 256;
/// Where the completion ring starts.
pub const COMPLETIONS_AT: usize =
    (REQUESTS_AT + ring_bytes::<Request>(RING_CAPACITY)).next_multiple_of(64);
/// The bytes of the queue region the protocol uses.
pub const QUEUE_BYTES: usize = COMPLETIONS_AT + ring_bytes::<Completion>(RING_CAPACITY);
/// `DeviceInfo::magic` once a driver has written it ("CERNEBLK").
pub const MAGIC: u64 = u64::from_le_bytes(*b"CERNEBLK");
/// `DeviceInfo::flags`: the device refuses writes.
pub const FLAG_READ_ONLY: u64 = 1;
/// `DeviceInfo::flags`: the device honours flushes (VIRTIO_BLK_F_FLUSH).
pub const FLAG_FLUSH: u64 = 2;
/// Most bytes one request moves.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// What a request asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Op {
    /// Read `sectors` sectors from `sector` into the data region at `offset`.
    Read = 1,
    /// Write them from the data region.
    Write = 2,
    /// Make every write completed before it durable.
    Flush = 3,
}

impl Op {
    /// The op of a request's `op` word.
    pub const fn from_word(word: u32) -> Option<Self> {
        Some(match word {
            1 => Self::Read,
            2 => Self::Write,
            3 => Self::Flush,
            _ => return None,
        })
    }
}

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Status {
    /// Done.
    Ok = 0,
    /// The device reported an error.
    IoError = 1,
    /// The request was malformed: an unknown op, sectors past the end of
    /// the device, a data range outside the data region, too many bytes.
    BadRequest = 2,
    /// The device cannot do it (a write to a read-only disk).
    Unsupported = 3,
}

impl Status {
    /// The status of a completion's `status` word (unknown words are
    /// I/O errors).
    pub const fn from_word(word: u32) -> Self {
        match word {
            0 => Self::Ok,
            2 => Self::BadRequest,
            3 => Self::Unsupported,
            _ => Self::IoError,
        }
    }
}

/// One request on the request ring.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Request {
    /// Chosen by the client; the completion carries it back.
    pub id: u64,
    /// An [`Op`] word.
    pub op: u32,
    /// Sectors to move (0 for a flush).
    pub sectors: u32,
    /// The first sector.
    pub sector: u64,
    /// Byte offset of the data in the data region.
    pub offset: u64,
}

impl Request {
    /// Bytes of data it moves.
    pub const fn bytes(&self) -> usize {
        self.sectors as usize * SECTOR_SIZE
    }
}

/// One completion on the completion ring.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Completion {
    /// The request's id.
    pub id: u64,
    /// A [`Status`] word.
    pub status: u32,
    /// Sectors moved.
    pub sectors: u32,
}

/// The device facts a driver publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Bumped by every start of a driver.
    pub generation: u64,
    /// Sectors on the device.
    pub capacity: u64,
    /// `FLAG_*` bits.
    pub flags: u64,
}

/// The queue region seen by either side.
#[derive(Clone, Copy)]
pub struct Queues {
    base: usize,
    /// Client pushes, driver pops.
    pub requests: Ring<Request>,
    /// Driver pushes, client pops.
    pub completions: Ring<Completion>,
}

impl Queues {
    /// The queues in the region mapped at `base`, of `len` bytes; `None`
    /// when it is too small or not 64-aligned.
    ///
    /// # Safety
    ///
    /// `base..base + len` stays mapped read-write, is shared with the
    /// other side only, and this program accesses it only through these
    /// queues.
    pub unsafe fn new(base: usize, len: usize) -> Option<Self> {
        if len < QUEUE_BYTES || !base.is_multiple_of(64) {
            return None;
        }
        // SAFETY: both rings lie inside base..base+len (QUEUE_BYTES <= len),
        // are 64-aligned, and the caller vouches for the region.
        let (requests, completions) = unsafe {
            (
                Ring::new(base + REQUESTS_AT, RING_CAPACITY),
                Ring::new(base + COMPLETIONS_AT, RING_CAPACITY),
            )
        };
        Some(Self {
            base,
            requests,
            completions,
        })
    }

    fn info_word(&self, i: usize) -> &AtomicU64 {
        debug_assert!(i < 5);
        // SAFETY: words 0..4 of the region, which `new` checked is at least
        // QUEUE_BYTES long and 64-aligned; accessed only atomically.
        unsafe { &*((self.base + i * 8) as *const AtomicU64) }
    }

    /// Driver, at start: empties both rings and publishes `capacity` and
    /// `flags` under a new generation. Returns the generation.
    pub fn publish(&self, capacity: u64, flags: u64) -> u64 {
        self.requests.reset();
        self.completions.reset();
        self.info_word(2).store(capacity, Ordering::Relaxed);
        self.info_word(3).store(flags, Ordering::Relaxed);
        self.info_word(0).store(MAGIC, Ordering::Relaxed);
        let generation = self.info_word(1).load(Ordering::Relaxed).wrapping_add(1);
        self.info_word(1).store(generation, Ordering::Release);
        generation
    }

    /// Driver: publishes the PMU cycles it has spent busy (benchmarks).
    pub fn set_driver_cycles(&self, cycles: u64) {
        self.info_word(4).store(cycles, Ordering::Relaxed);
    }

    /// The driver's busy cycles as it last published them.
    pub fn driver_cycles(&self) -> u64 {
        self.info_word(4).load(Ordering::Relaxed)
    }

    /// Client: the device facts, once a driver has published them.
    pub fn info(&self) -> Option<DeviceInfo> {
        let generation = self.info_word(1).load(Ordering::Acquire);
        if self.info_word(0).load(Ordering::Relaxed) != MAGIC || generation == 0 {
            return None;
        }
        Some(DeviceInfo {
            generation,
            capacity: self.info_word(2).load(Ordering::Relaxed),
            flags: self.info_word(3).load(Ordering::Relaxed),
        })
    }
}

/// Why a request could not be submitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubmitError {
    /// As many requests as the ring holds are in flight.
    Busy,
    /// The ring is corrupt.
    Ring(RingError),
}

/// The client's record of its requests in flight, so that none is lost:
/// each is kept until its completion arrives, and all are pushed again to
/// a restarted driver.
pub struct InFlight {
    slots: [Option<Request>; RING_CAPACITY as usize],
    next_id: u64,
    generation: u64,
}

impl Default for InFlight {
    fn default() -> Self {
        Self::new()
    }
}

impl InFlight {
    /// No request in flight.
    pub const fn new() -> Self {
        Self {
            slots: [None; RING_CAPACITY as usize],
            next_id: 1,
            generation: 0,
        }
    }

    /// How many are in flight.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// True when none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Pushes a request of `op` on `queues` (its id is chosen here) and
    /// keeps it until it completes; returns the id.
    pub fn submit(
        &mut self,
        queues: &Queues,
        op: Op,
        sector: u64,
        sectors: u32,
        offset: u64,
    ) -> Result<u64, SubmitError> {
        let Some(slot) = self.slots.iter().position(|s| s.is_none()) else {
            return Err(SubmitError::Busy);
        };
        let request = Request {
            id: self.next_id,
            op: op as u32,
            sectors,
            sector,
            offset,
        };
        queues.requests.push(&request).map_err(|e| match e {
            RingError::Full => SubmitError::Busy,
            e => SubmitError::Ring(e),
        })?;
        self.next_id += 1;
        self.slots[slot] = Some(request);
        Ok(request.id)
    }

    /// Takes the completions that arrived: `f(request, completion)` for
    /// each one of a request in flight (a completion of an unknown id, a
    /// repeat, is dropped). Returns how many were taken.
    pub fn complete(
        &mut self,
        queues: &Queues,
        mut f: impl FnMut(Request, Completion),
    ) -> Result<usize, RingError> {
        let mut taken = 0;
        while let Some(c) = queues.completions.pop()? {
            if let Some(slot) = self
                .slots
                .iter_mut()
                .find(|s| s.is_some_and(|r| r.id == c.id))
            {
                if let Some(r) = slot.take() {
                    f(r, c);
                    taken += 1;
                }
            }
        }
        Ok(taken)
    }

    /// When the driver published a generation this record has not seen,
    /// pushes every request in flight again, oldest first, and returns how
    /// many; 0 when nothing changed.
    pub fn reissue_if_restarted(&mut self, queues: &Queues) -> Result<usize, RingError> {
        let Some(info) = queues.info() else {
            return Ok(0);
        };
        if info.generation == self.generation {
            return Ok(0);
        }
        let first = self.generation == 0;
        self.generation = info.generation;
        if first {
            return Ok(0);
        }
        let mut pending: [Option<Request>; RING_CAPACITY as usize] = self.slots;
        pending.sort_unstable_by_key(|r| r.map_or(u64::MAX, |r| r.id));
        let mut pushed = 0;
        for r in pending.iter().flatten() {
            queues.requests.push(r)?;
            pushed += 1;
        }
        Ok(pushed)
    }
}

/// How a [`Client`] reaches its driver: a signal to it, and a wait for its
/// signal back (on Cerne: the `blk_request` and `blk_done` notifications).
pub trait Doorbell {
    /// Tells the driver that requests wait.
    fn notify_driver(&self);
    /// Sleeps until the driver signals (completions, or a restart).
    fn wait_for_driver(&self);
}

/// Why a transfer failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlkError {
    /// The driver completed a request with this status.
    Device(Status),
    /// Sectors past the end of the device.
    OutOfRange,
    /// A buffer that is not a whole number of sectors.
    BadBuffer,
    /// A ring is corrupt.
    Ring,
}

/// One request of a wave: where its data sits in the data region, and for
/// a read, where it goes in the caller's buffer.
#[derive(Clone, Copy)]
struct Part {
    id: u64,
    offset: usize,
    len: usize,
    /// For reads: the byte offset in the caller's buffer.
    dest: Option<usize>,
    done: bool,
    status: Status,
}

/// The client side of the block protocol: synchronous reads, batched
/// writes and flushes for its caller, carried out as several requests in
/// flight at once ("waves" that fill the data region or the ring), never
/// a Call on the driver. Every request stays in an [`InFlight`] record
/// until it completes, and is pushed again if the driver restarts.
pub struct Client<B: Doorbell> {
    queues: Queues,
    data: crate::interface::SharedBuffer,
    flight: InFlight,
    bell: B,
    capacity: u64,
    parts: [Option<Part>; RING_CAPACITY as usize],
}

impl<B: Doorbell> Client<B> {
    /// A client of the driver behind `queues`, moving data through `data`;
    /// waits until the driver has published its device.
    pub fn new(queues: Queues, data: crate::interface::SharedBuffer, bell: B) -> Self {
        let info = loop {
            if let Some(info) = queues.info() {
                break info;
            }
            bell.wait_for_driver();
        };
        let mut flight = InFlight::new();
        let _ = flight.reissue_if_restarted(&queues);
        Self {
            queues,
            data,
            flight,
            bell,
            capacity: info.capacity,
            parts: [None; RING_CAPACITY as usize],
        }
    }

    /// Sectors on the device.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// The device facts the driver published.
    pub fn info(&self) -> Option<DeviceInfo> {
        self.queues.info()
    }

    /// Largest piece of one request: a request's limit, and what the data
    /// region holds.
    fn chunk(&self) -> usize {
        let region = self.data.len() / SECTOR_SIZE * SECTOR_SIZE;
        MAX_REQUEST_BYTES.min(region)
    }

    fn check(&self, sector: u64, bytes: usize) -> Result<(), BlkError> {
        if !bytes.is_multiple_of(SECTOR_SIZE) {
            return Err(BlkError::BadBuffer);
        }
        let end = sector.checked_add((bytes / SECTOR_SIZE) as u64);
        if end.is_none_or(|e| e > self.capacity) {
            return Err(BlkError::OutOfRange);
        }
        Ok(())
    }

    /// Waits until every part of the wave completed; copies reads into
    /// `out`; the first failure, if any.
    fn finish_wave(&mut self, mut out: Option<&mut [u8]>) -> Result<(), BlkError> {
        let mut ring_broken = false;
        loop {
            let parts = &mut self.parts;
            let taken = self.flight.complete(&self.queues, |r, c| {
                if let Some(p) = parts.iter_mut().flatten().find(|p| p.id == r.id) {
                    p.done = true;
                    p.status = Status::from_word(c.status);
                }
            });
            if taken.is_err() {
                ring_broken = true;
                break;
            }
            if self.parts.iter().flatten().all(|p| p.done) {
                break;
            }
            if self
                .flight
                .reissue_if_restarted(&self.queues)
                .is_ok_and(|n| n > 0)
            {
                self.bell.notify_driver();
            }
            self.bell.wait_for_driver();
        }
        let mut result = if ring_broken {
            Err(BlkError::Ring)
        } else {
            Ok(())
        };
        for p in self.parts.iter_mut().filter_map(Option::take) {
            if p.status != Status::Ok {
                if result.is_ok() {
                    result = Err(BlkError::Device(p.status));
                }
                continue;
            }
            if let (Some(dest), Some(out)) = (p.dest, out.as_deref_mut()) {
                if self
                    .data
                    .read(p.offset, &mut out[dest..dest + p.len])
                    .is_err()
                {
                    result = Err(BlkError::BadBuffer);
                }
            }
        }
        result
    }

    /// Submits one part; `false` when the wave is full and must finish
    /// first.
    fn submit(
        &mut self,
        op: Op,
        sector: u64,
        offset: usize,
        len: usize,
        dest: Option<usize>,
    ) -> Result<bool, BlkError> {
        let Some(slot) = self.parts.iter().position(Option::is_none) else {
            return Ok(false);
        };
        let id = match self.flight.submit(
            &self.queues,
            op,
            sector,
            (len / SECTOR_SIZE) as u32,
            offset as u64,
        ) {
            Ok(id) => id,
            Err(SubmitError::Busy) => return Ok(false),
            Err(SubmitError::Ring(_)) => return Err(BlkError::Ring),
        };
        self.parts[slot] = Some(Part {
            id,
            offset,
            len,
            dest,
            done: false,
            status: Status::Ok,
        });
        Ok(true)
    }

    /// Reads `buf.len() / 512` sectors from `sector`.
    pub fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), BlkError> {
        self.check(sector, buf.len())?;
        let chunk = self.chunk();
        let mut done = 0;
        let mut result = Ok(());
        while done < buf.len() {
            let mut offset = 0;
            while done < buf.len() {
                let len = (buf.len() - done).min(chunk);
                if offset + len > self.data.len() {
                    break;
                }
                let at = sector + (done / SECTOR_SIZE) as u64;
                if !self.submit(Op::Read, at, offset, len, Some(done))? {
                    break;
                }
                offset += len;
                done += len;
            }
            self.bell.notify_driver();
            let wave = self.finish_wave(Some(buf));
            if result.is_ok() {
                result = wave;
            }
        }
        result
    }

    /// Writes every `(sector, data)`, as many at once as the data region
    /// and the ring allow; returns when all completed.
    pub fn write(&mut self, writes: &[(u64, &[u8])]) -> Result<(), BlkError> {
        for (sector, data) in writes {
            self.check(*sector, data.len())?;
        }
        let chunk = self.chunk();
        let mut pieces = writes.iter().flat_map(|(sector, data)| {
            data.chunks(chunk)
                .enumerate()
                .map(move |(i, piece)| (sector + (i * chunk / SECTOR_SIZE) as u64, piece))
        });
        let mut next = pieces.next();
        let mut result = Ok(());
        while next.is_some() {
            let mut offset = 0;
            while let Some((sector, piece)) = next {
                if offset + piece.len() > self.data.len() {
                    break;
                }
                if self.data.write(offset, piece).is_err() {
                    return Err(BlkError::BadBuffer);
                }
                if !self.submit(Op::Write, sector, offset, piece.len(), None)? {
                    break;
                }
                offset += piece.len();
                next = pieces.next();
            }
            self.bell.notify_driver();
            let wave = self.finish_wave(None);
            if result.is_ok() {
                result = wave;
            }
        }
        result
    }

    /// Returns once the driver reports every completed write durable.
    pub fn flush(&mut self) -> Result<(), BlkError> {
        if !self.submit(Op::Flush, 0, 0, 0, None)? {
            return Err(BlkError::Ring);
        }
        self.bell.notify_driver();
        self.finish_wave(None)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::collections::BTreeMap;
    use std::vec::Vec;

    use proptest::prelude::*;

    use super::*;

    fn leaked_queues() -> Queues {
        let memory: &'static mut [u64] = std::vec![0u64; 4096 / 8 + 8].leak();
        let base = (memory.as_mut_ptr() as usize).next_multiple_of(64);
        // SAFETY: leaked, aligned, big enough, used only through the queues.
        unsafe { Queues::new(base, 4096).unwrap() }
    }

    #[test]
    fn layout_fits_one_page() {
        const { assert!(QUEUE_BYTES <= 4096) };
        assert_eq!(core::mem::size_of::<Request>(), 32);
        assert_eq!(core::mem::size_of::<Completion>(), 16);
    }

    #[test]
    fn a_small_or_misaligned_region_is_refused() {
        // SAFETY: never dereferenced: `new` refuses before making a ring.
        unsafe {
            assert!(Queues::new(0x1000, QUEUE_BYTES - 1).is_none());
            assert!(Queues::new(0x1008, 4096).is_none());
        }
    }

    /// A simulated driver: pops requests, completes those `done` says.
    fn drive(q: &Queues, done: usize) -> Vec<Request> {
        let mut seen = Vec::new();
        while let Some(r) = q.requests.pop().unwrap() {
            seen.push(r);
        }
        for r in seen.iter().take(done) {
            q.completions
                .push(&Completion {
                    id: r.id,
                    status: Status::Ok as u32,
                    sectors: r.sectors,
                })
                .unwrap();
        }
        seen
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// A driver that dies after completing some requests and is
        /// restarted: every request is completed exactly once from the
        /// client's point of view, none lost.
        #[test]
        fn restarted_driver_loses_nothing(n in 1usize..40, done_first in 0usize..40, lose_completions in any::<bool>()) {
            let q = leaked_queues();
            q.publish(1000, FLAG_FLUSH);
            let mut flight = InFlight::new();
            prop_assert_eq!(flight.reissue_if_restarted(&q), Ok(0));
            let mut ids = Vec::new();
            for i in 0..n {
                ids.push(flight.submit(&q, Op::Write, i as u64, 1, (i * 512) as u64).unwrap());
            }
            drive(&q, done_first.min(n));
            let mut completed: BTreeMap<u64, usize> = BTreeMap::new();
            if !lose_completions {
                flight.complete(&q, |r, _| *completed.entry(r.id).or_default() += 1).unwrap();
            }
            // The driver dies; a new one starts and empties the rings.
            q.publish(1000, FLAG_FLUSH);
            let reissued = flight.reissue_if_restarted(&q).unwrap();
            prop_assert_eq!(reissued, n - completed.len());
            drive(&q, usize::MAX);
            flight.complete(&q, |r, _| *completed.entry(r.id).or_default() += 1).unwrap();
            prop_assert!(flight.is_empty());
            prop_assert_eq!(completed.keys().copied().collect::<Vec<_>>(), ids);
            prop_assert!(completed.values().all(|&k| k == 1));
        }
    }

    /// A driver simulated on the host: on each wait, it carries out every
    /// request on an in-memory disk.
    struct SimDriver {
        queues: Queues,
        data: crate::interface::SharedBuffer,
        disk: core::cell::RefCell<Vec<u8>>,
        flushes: core::cell::Cell<u32>,
        waits: core::cell::Cell<u32>,
        most_in_flight: core::cell::Cell<u32>,
    }

    impl Doorbell for &SimDriver {
        fn notify_driver(&self) {}
        fn wait_for_driver(&self) {
            self.waits.set(self.waits.get() + 1);
            let pending = self.queues.requests.len().unwrap();
            self.most_in_flight
                .set(self.most_in_flight.get().max(pending));
            while let Some(r) = self.queues.requests.pop().unwrap() {
                let mut disk = self.disk.borrow_mut();
                let at = r.sector as usize * SECTOR_SIZE;
                let len = r.bytes();
                let status = match Op::from_word(r.op) {
                    Some(Op::Read) => {
                        self.data
                            .write(r.offset as usize, &disk[at..at + len])
                            .unwrap();
                        Status::Ok
                    }
                    Some(Op::Write) => {
                        self.data
                            .read(r.offset as usize, &mut disk[at..at + len])
                            .unwrap();
                        Status::Ok
                    }
                    Some(Op::Flush) => {
                        self.flushes.set(self.flushes.get() + 1);
                        Status::Ok
                    }
                    None => Status::BadRequest,
                };
                self.queues
                    .completions
                    .push(&Completion {
                        id: r.id,
                        status: status as u32,
                        sectors: r.sectors,
                    })
                    .unwrap();
            }
        }
    }

    fn leaked_data(len: usize) -> crate::interface::SharedBuffer {
        let memory: &'static mut [u64] = std::vec![0u64; len / 8].leak();
        // SAFETY: leaked, used only through this buffer.
        unsafe { crate::interface::SharedBuffer::new(memory.as_mut_ptr() as usize, len) }
    }

    #[test]
    fn client_reads_back_what_it_wrote_with_requests_in_flight() {
        let queues = leaked_queues();
        queues.publish(4096, FLAG_FLUSH);
        let sim = SimDriver {
            queues,
            data: leaked_data(32 * 1024),
            disk: core::cell::RefCell::new(std::vec![0u8; 4096 * SECTOR_SIZE]),
            flushes: Default::default(),
            waits: Default::default(),
            most_in_flight: Default::default(),
        };
        let mut client = Client::new(queues, sim.data, &sim);
        assert_eq!(client.capacity(), 4096);
        let a: Vec<u8> = (0..100 * 1024).map(|i| (i % 251) as u8).collect();
        let b: Vec<u8> = (0..4096).map(|i| (i % 13) as u8).collect();
        client.write(&[(8, &a), (1000, &b)]).unwrap();
        client.flush().unwrap();
        assert_eq!(sim.flushes.get(), 1);
        assert!(sim.most_in_flight.get() > 1, "requests went one at a time");
        let mut back = std::vec![0u8; a.len()];
        client.read(8, &mut back).unwrap();
        assert_eq!(back, a);
        let mut back = std::vec![0u8; b.len()];
        client.read(1000, &mut back).unwrap();
        assert_eq!(back, b);
        assert_eq!(
            client.read(4095, &mut [0u8; 1024]),
            Err(BlkError::OutOfRange)
        );
        assert_eq!(client.read(0, &mut [0u8; 100]), Err(BlkError::BadBuffer));
    }

    #[test]
    fn repeated_completions_are_dropped() {
        let q = leaked_queues();
        q.publish(8, 0);
        let mut flight = InFlight::new();
        let id = flight.submit(&q, Op::Read, 0, 1, 0).unwrap();
        let c = Completion {
            id,
            status: 0,
            sectors: 1,
        };
        q.requests.pop().unwrap();
        q.completions.push(&c).unwrap();
        q.completions.push(&c).unwrap();
        let mut n = 0;
        assert_eq!(flight.complete(&q, |_, _| n += 1), Ok(1));
        assert_eq!(n, 1);
    }

    #[test]
    fn more_than_the_ring_holds_is_busy() {
        let q = leaked_queues();
        let mut flight = InFlight::new();
        for i in 0..RING_CAPACITY {
            flight.submit(&q, Op::Read, u64::from(i), 1, 0).unwrap();
        }
        assert_eq!(flight.submit(&q, Op::Read, 0, 1, 0), Err(SubmitError::Busy));
    }
}
