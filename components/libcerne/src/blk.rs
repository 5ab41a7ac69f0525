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
//! | 40 | `client_reset`: bumped by a client that starts (client writes) |
//! | 48 | `reset_ack`: the last `client_reset` the driver honoured (driver writes) |
//! | 56 | `joined`: the generation the client joined (client writes) |
//! | [`REQUESTS_AT`] | the request ring (client pushes, driver pops) |
//! | [`COMPLETIONS_AT`] | the completion ring (driver pushes, client pops) |
//!
//! # Sessions: either side may be restarted at any moment
//!
//! The driver serves a *generation*: it takes no request from the ring
//! until the client has *joined* that generation ([`InFlight::rejoin`]).
//! A driver that starts has reset its device (nothing of an earlier
//! incarnation is still in flight there), publishes the device under a new
//! generation and signals ([`DriverSession::start`]). A client that sees a
//! new generation first takes every completion already on the ring (they
//! are real: the device finished those requests), then empties both rings
//! (the driver touches neither until the join), pushes again every request
//! it still holds, oldest first, and writes `joined`. Each request is
//! therefore carried out by at most one incarnation after its last push,
//! and none is carried out after its completion was taken: the client may
//! reuse a request's data space as soon as it has its completion.
//!
//! A client that starts (a restarted file server) knows nothing of what
//! the previous one left on the rings or in the device. It bumps
//! `client_reset` and waits for `reset_ack` to match; the driver, seeing
//! the bump, stops taking requests, waits until the device has finished
//! everything in flight (dropping those completions), then bumps its
//! generation and acknowledges ([`DriverSession::poll_reset`],
//! [`DriverSession::finish_reset`]). The new client then joins like after a
//! driver restart, with request ids of its own (`client_reset << 32`), so no
//! completion of the previous client can be taken for one of its own, and
//! no write of the previous client lands after the new one starts.

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
/// `DeviceInfo::flags`: the driver is held by its supervisor (it failed
/// too often) and will not come back: every request in flight and every
/// later one fails with [`BlkError::Held`] at once, rather than waiting for
/// ever (docs/supervisor.md).
pub const FLAG_HELD: u64 = 4;
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
        debug_assert!(i < INFO_WORDS);
        // SAFETY: words 0..8 of the region (64 bytes, before REQUESTS_AT),
        // which `new` checked is at least QUEUE_BYTES long and 64-aligned;
        // accessed only atomically.
        unsafe { &*((self.base + i * 8) as *const AtomicU64) }
    }

    /// Driver, at start (its device reset, nothing in flight): publishes
    /// `capacity` and `flags` under a new generation and acknowledges any
    /// client reset asked so far. The rings are left alone: the client
    /// empties them when it joins. Returns the generation.
    pub fn publish(&self, capacity: u64, flags: u64) -> u64 {
        self.info_word(2).store(capacity, Ordering::Relaxed);
        self.info_word(3).store(flags, Ordering::Relaxed);
        self.info_word(0).store(MAGIC, Ordering::Relaxed);
        self.new_generation()
    }

    /// Driver, when its supervisor holds it (started once more only to say
    /// so): marks the device gone for good. Its client then fails what it
    /// waits for instead of waiting for ever.
    pub fn publish_held(&self) {
        self.info_word(3).fetch_or(FLAG_HELD, Ordering::Release);
    }

    /// Whether the driver said it is held.
    pub fn held(&self) -> bool {
        self.info_word(0).load(Ordering::Relaxed) == MAGIC
            && self.info_word(3).load(Ordering::Acquire) & FLAG_HELD != 0
    }

    /// Driver: bumps the generation and acknowledges the latest client
    /// reset (generation first, so a client that sees the acknowledgement
    /// sees the generation that goes with it). Returns the generation.
    fn new_generation(&self) -> u64 {
        let generation = self
            .info_word(1)
            .load(Ordering::Relaxed)
            .wrapping_add(1)
            .max(1);
        self.info_word(1).store(generation, Ordering::Release);
        let asked = self.info_word(5).load(Ordering::Acquire);
        self.info_word(6).store(asked, Ordering::Release);
        generation
    }

    /// Driver: the client reset asked for and not yet acknowledged, if any.
    fn reset_asked(&self) -> Option<u64> {
        let asked = self.info_word(5).load(Ordering::Acquire);
        (asked != self.info_word(6).load(Ordering::Relaxed)).then_some(asked)
    }

    /// The generation the client joined last.
    pub fn joined(&self) -> u64 {
        self.info_word(7).load(Ordering::Acquire)
    }

    /// Client, at start: asks the driver to forget the previous client;
    /// returns the value to wait for in [`Queues::reset_acked`].
    pub fn ask_reset(&self) -> u64 {
        let asked = self
            .info_word(5)
            .load(Ordering::Relaxed)
            .wrapping_add(1)
            .max(1);
        self.info_word(5).store(asked, Ordering::Release);
        asked
    }

    /// The last client reset the driver acknowledged.
    pub fn reset_acked(&self) -> u64 {
        self.info_word(6).load(Ordering::Acquire)
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

/// Words of the info area at the start of the queue region.
const INFO_WORDS: usize = 8;
const _: () = assert!(INFO_WORDS * 8 <= REQUESTS_AT);

/// The driver's side of the session protocol (see the module doc): which
/// generation it serves, and whether it is forgetting a previous client.
#[derive(Clone, Copy, Debug)]
pub struct DriverSession {
    generation: u64,
    draining: bool,
}

impl DriverSession {
    /// A driver that just started (its device reset): publishes the device
    /// under a new generation. Signal the client afterwards.
    pub fn start(queues: &Queues, capacity: u64, flags: u64) -> Self {
        Self {
            generation: queues.publish(capacity, flags),
            draining: false,
        }
    }

    /// The generation served.
    pub const fn generation(&self) -> u64 {
        self.generation
    }

    /// At every wake-up, before taking requests: true while a new client's
    /// reset is being honoured. Then the driver takes no request, forgets
    /// any it took but could not queue yet, and drops the completions of
    /// what the device still finishes.
    pub fn poll_reset(&mut self, queues: &Queues) -> bool {
        if !self.draining && queues.reset_asked().is_some() {
            self.draining = true;
        }
        self.draining
    }

    /// While draining, once the device has nothing in flight: acknowledges
    /// the reset under a new generation. True when it did (signal the
    /// client).
    pub fn finish_reset(&mut self, queues: &Queues, device_idle: bool) -> bool {
        if !self.draining || !device_idle {
            return false;
        }
        self.generation = queues.new_generation();
        self.draining = false;
        true
    }

    /// Whether requests may be taken from the ring: no reset under way and
    /// the client joined this generation.
    pub fn serving(&self, queues: &Queues) -> bool {
        !self.draining && queues.joined() == self.generation
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
    /// No request in flight; ids from 1.
    pub const fn new() -> Self {
        Self::with_ids_from(1)
    }

    /// No request in flight; ids from `first` (a client numbers its ids
    /// after its reset, so that no two clients' ids meet).
    pub const fn with_ids_from(first: u64) -> Self {
        Self {
            slots: [None; RING_CAPACITY as usize],
            next_id: first,
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

    /// The generation this record joined last (0: none yet).
    pub const fn generation(&self) -> u64 {
        self.generation
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
    /// repeat or the previous client's, is dropped). Returns how many were
    /// taken.
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

    /// When the driver published a generation this record has not joined:
    /// takes the completions already on the ring (`f` as in
    /// [`InFlight::complete`]), empties both rings, pushes every request
    /// still in flight again, oldest first, and joins. Returns how many
    /// were pushed, or `None` when nothing changed; after `Some` the driver
    /// must be signalled (it waits for the join).
    pub fn rejoin(
        &mut self,
        queues: &Queues,
        f: impl FnMut(Request, Completion),
    ) -> Result<Option<usize>, RingError> {
        let Some(info) = queues.info() else {
            return Ok(None);
        };
        if info.generation == self.generation && queues.joined() == info.generation {
            return Ok(None);
        }
        // The driver neither pops nor pushes until the join: what is on the
        // completion ring now is all there is of the earlier generation.
        // A corrupt ring is emptied all the same: its requests are redone.
        let drained = self.complete(queues, f);
        queues.requests.reset();
        queues.completions.reset();
        let mut pending: [Option<Request>; RING_CAPACITY as usize] = self.slots;
        pending.sort_unstable_by_key(|r| r.map_or(u64::MAX, |r| r.id));
        let mut pushed = 0;
        for r in pending.iter().flatten() {
            queues.requests.push(r)?;
            pushed += 1;
        }
        self.generation = info.generation;
        queues
            .info_word(7)
            .store(info.generation, Ordering::Release);
        let _ = drained;
        Ok(Some(pushed))
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
    /// The driver is held by its supervisor and will not come back.
    Held,
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

/// Marks the part of request `r` done with completion `c`.
fn mark(parts: &mut [Option<Part>], r: Request, c: Completion) {
    if let Some(p) = parts.iter_mut().flatten().find(|p| p.id == r.id) {
        p.done = true;
        p.status = Status::from_word(c.status);
    }
}

impl<B: Doorbell> Client<B> {
    /// A client of the driver behind `queues`, moving data through `data`.
    /// It first has the driver forget any previous client (a restarted
    /// file server's predecessor: its requests still on the ring are
    /// dropped, those in the device finish before this returns), then
    /// joins the driver's generation.
    pub fn new(queues: Queues, data: crate::interface::SharedBuffer, bell: B) -> Self {
        let asked = queues.ask_reset();
        bell.notify_driver();
        let info = loop {
            if let Some(info) = queues.info() {
                if queues.reset_acked() == asked || queues.held() {
                    break info;
                }
            }
            bell.wait_for_driver();
        };
        let mut client = Self {
            queues,
            data,
            flight: InFlight::with_ids_from(asked << 32 | 1),
            bell,
            capacity: info.capacity,
            parts: [None; RING_CAPACITY as usize],
        };
        let _ = client.rejoin();
        client
    }

    /// Joins a new generation of the driver, if there is one (see
    /// [`InFlight::rejoin`]), and signals it.
    fn rejoin(&mut self) -> Result<(), BlkError> {
        let parts = &mut self.parts;
        match self.flight.rejoin(&self.queues, |r, c| mark(parts, r, c)) {
            Ok(None) => Ok(()),
            Ok(Some(_)) => {
                self.bell.notify_driver();
                Ok(())
            }
            Err(_) => Err(BlkError::Ring),
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
            if self.queues.held() {
                // Nobody will carry these out: forget them.
                for p in self.parts.iter_mut() {
                    *p = None;
                }
                return Err(BlkError::Held);
            }
            if self.rejoin().is_err() {
                ring_broken = true;
                break;
            }
            let parts = &mut self.parts;
            let taken = self.flight.complete(&self.queues, |r, c| mark(parts, r, c));
            if taken.is_err() {
                ring_broken = true;
                break;
            }
            if self.parts.iter().flatten().all(|p| p.done) {
                break;
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
        self.rejoin()?;
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
        self.rejoin()?;
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
        self.rejoin()?;
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

    /// A doorbell whose waits do nothing: the test plays the driver.
    struct Quiet;

    impl Doorbell for Quiet {
        fn notify_driver(&self) {}
        fn wait_for_driver(&self) {}
    }

    #[test]
    fn a_held_driver_fails_what_waits_and_what_comes_instead_of_hanging() {
        let q = leaked_queues();
        let session = DriverSession::start(&q, 1000, FLAG_FLUSH);
        assert!(!q.held());
        // The driver serves a generation, then is held before it completes
        // anything: a client waiting for its write gets Held.
        q.publish_held();
        assert!(q.held());
        let _ = session;
        let mut client = Client::new(q, leaked_data(4096), Quiet);
        assert_eq!(client.write(&[(0, &[7u8; 512][..])]), Err(BlkError::Held));
        let mut out = [0u8; 512];
        assert_eq!(client.read(0, &mut out), Err(BlkError::Held));
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
        /// client's point of view, none lost, and none pushed again once
        /// its completion was on the ring.
        #[test]
        fn restarted_driver_loses_nothing(n in 1usize..40, done_first in 0usize..40, read_completions in any::<bool>()) {
            let q = leaked_queues();
            let session = DriverSession::start(&q, 1000, FLAG_FLUSH);
            let mut flight = InFlight::new();
            let mut completed: BTreeMap<u64, usize> = BTreeMap::new();
            prop_assert_eq!(flight.rejoin(&q, |_, _| ()), Ok(Some(0)));
            prop_assert!(session.serving(&q));
            let mut ids = Vec::new();
            for i in 0..n {
                ids.push(flight.submit(&q, Op::Write, i as u64, 1, (i * 512) as u64).unwrap());
            }
            let done_first = done_first.min(n);
            drive(&q, done_first);
            if read_completions {
                flight.complete(&q, |r, _| *completed.entry(r.id).or_default() += 1).unwrap();
            }
            // The driver dies; a new one starts and serves nothing until
            // the client joins.
            let session = DriverSession::start(&q, 1000, FLAG_FLUSH);
            prop_assert!(!session.serving(&q));
            let reissued = flight
                .rejoin(&q, |r, _| *completed.entry(r.id).or_default() += 1)
                .unwrap();
            prop_assert_eq!(reissued, Some(n - done_first));
            prop_assert!(session.serving(&q));
            drive(&q, usize::MAX);
            flight.complete(&q, |r, _| *completed.entry(r.id).or_default() += 1).unwrap();
            prop_assert!(flight.is_empty());
            prop_assert_eq!(completed.keys().copied().collect::<Vec<_>>(), ids);
            prop_assert!(completed.values().all(|&k| k == 1));
        }
    }

    /// A driver and its device simulated on the host, one small step at a
    /// time, which can die before any step: a request's life is popped
    /// (taken from the ring), submitted (in the device), completed by the
    /// device, its completion pushed, the client signalled. At a death the
    /// device is reset: each request it holds is carried out or not (as
    /// `coin` says), and everything the driver held privately is lost.
    struct Steps {
        session: DriverSession,
        stalled: Option<Request>,
        device: std::collections::VecDeque<Request>,
        done: std::collections::VecDeque<(Request, Status)>,
        unsignalled: bool,
        draining: bool,
        step: u64,
        deaths: std::collections::BTreeSet<u64>,
        rng: u64,
        /// (request id, the number of resets acknowledged when it ran).
        log: Vec<(u64, u64)>,
        resets: u64,
    }

    struct Sim {
        queues: Queues,
        data: crate::interface::SharedBuffer,
        disk: core::cell::RefCell<Vec<u8>>,
        st: core::cell::RefCell<Steps>,
        /// The client dies (panics) at this many waits.
        client_dies_at: core::cell::Cell<Option<u32>>,
    }

    const SIM_SECTORS: u64 = 256;

    impl Sim {
        fn new(deaths: &[u64], seed: u64, data_bytes: usize) -> Sim {
            let queues = leaked_queues();
            let session = DriverSession::start(&queues, SIM_SECTORS, FLAG_FLUSH);
            Sim {
                queues,
                data: leaked_data(data_bytes),
                disk: core::cell::RefCell::new(std::vec![0u8; SIM_SECTORS as usize * SECTOR_SIZE]),
                st: core::cell::RefCell::new(Steps {
                    session,
                    stalled: None,
                    device: Default::default(),
                    done: Default::default(),
                    unsignalled: false,
                    draining: false,
                    step: 0,
                    deaths: deaths.iter().copied().collect(),
                    rng: seed | 1,
                    log: Vec::new(),
                    resets: 0,
                }),
                client_dies_at: core::cell::Cell::new(None),
            }
        }

        fn coin(st: &mut Steps) -> bool {
            st.rng ^= st.rng << 13;
            st.rng ^= st.rng >> 7;
            st.rng ^= st.rng << 17;
            st.rng & 1 == 1
        }

        /// The device carries out `r`.
        fn execute(&self, st: &mut Steps, r: &Request) -> Status {
            st.log.push((r.id, st.resets));
            let mut disk = self.disk.borrow_mut();
            let at = r.sector as usize * SECTOR_SIZE;
            let len = r.bytes();
            match Op::from_word(r.op) {
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
                Some(Op::Flush) => Status::Ok,
                None => Status::BadRequest,
            }
        }

        /// One step of the driver; true when it signalled the client.
        fn step(&self) -> bool {
            let mut st = self.st.borrow_mut();
            let st = &mut *st;
            st.step += 1;
            if st.deaths.remove(&st.step) {
                // The driver dies; its successor resets the device.
                for r in core::mem::take(&mut st.device) {
                    if Self::coin(st) {
                        self.execute(st, &r);
                    }
                }
                st.stalled = None;
                st.done.clear();
                st.unsignalled = false;
                st.draining = false;
                st.session = DriverSession::start(&self.queues, SIM_SECTORS, FLAG_FLUSH);
                // Its signal may reach the client at once, or only after it
                // ran on for a while (a busy client).
                st.unsignalled = true;
                return Self::coin(st);
            }
            if st.session.poll_reset(&self.queues) {
                if !st.draining {
                    st.draining = true;
                    st.stalled = None;
                    st.done.clear();
                }
                if let Some(r) = st.device.pop_front() {
                    self.execute(st, &r);
                    return false;
                }
                if st.session.finish_reset(&self.queues, true) {
                    st.draining = false;
                    st.resets += 1;
                    return true;
                }
                return false;
            }
            // Pick one of the things that can be done now.
            let serving = st.session.serving(&self.queues);
            let mut choices = Vec::new();
            if serving && st.stalled.is_none() && !self.queues.requests.is_empty() {
                choices.push(0);
            }
            if st.stalled.is_some() && st.device.len() < 6 {
                choices.push(1);
            }
            if !st.device.is_empty() {
                choices.push(2);
            }
            if !st.done.is_empty() {
                choices.push(3);
            }
            if st.unsignalled {
                choices.push(4);
            }
            let Some(&first) = choices.first() else {
                return false;
            };
            let pick = if Self::coin(st) {
                *choices.last().unwrap()
            } else {
                first
            };
            match pick {
                0 => st.stalled = self.queues.requests.pop().unwrap(),
                1 => st.device.push_back(st.stalled.take().unwrap()),
                2 => {
                    let r = st.device.pop_front().unwrap();
                    let status = self.execute(st, &r);
                    st.done.push_back((r, status));
                }
                3 => {
                    let (r, status) = st.done.pop_front().unwrap();
                    self.queues
                        .completions
                        .push(&Completion {
                            id: r.id,
                            status: status as u32,
                            sectors: r.sectors,
                        })
                        .unwrap();
                    st.unsignalled = true;
                }
                _ => {
                    st.unsignalled = false;
                    return true;
                }
            }
            false
        }
    }

    impl Doorbell for &Sim {
        fn notify_driver(&self) {}
        fn wait_for_driver(&self) {
            if let Some(n) = self.client_dies_at.get() {
                if n == 0 {
                    self.client_dies_at.set(None);
                    std::panic::panic_any("the client dies");
                }
                self.client_dies_at.set(Some(n - 1));
            }
            for _ in 0..100_000 {
                if self.step() {
                    return;
                }
            }
            panic!("the driver never signalled: a hang");
        }
    }

    /// A workload of batches of writes (distinct sectors in a batch),
    /// reads checked against a model, and flushes; returns the model.
    fn workload(client: &mut Client<&Sim>, model: &mut [u8], seed: u64, batches: usize) {
        let mut x = seed | 1;
        let mut next = move |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        for b in 0..batches {
            let n = 1 + next(5) as usize;
            let mut writes: Vec<(u64, Vec<u8>)> = Vec::new();
            for _ in 0..n {
                let len = 1 + next(4);
                let sector = next(SIM_SECTORS - len);
                if writes
                    .iter()
                    .any(|(s, d)| sector < s + (d.len() / SECTOR_SIZE) as u64 && *s < sector + len)
                {
                    continue;
                }
                let fill = (b * 7 + writes.len()) as u8 ^ next(256) as u8;
                let data: Vec<u8> = (0..len as usize * SECTOR_SIZE)
                    .map(|i| fill.wrapping_add(i as u8))
                    .collect();
                writes.push((sector, data));
            }
            let batch: Vec<(u64, &[u8])> = writes.iter().map(|(s, d)| (*s, d.as_slice())).collect();
            client.write(&batch).unwrap();
            for (s, d) in &writes {
                let at = *s as usize * SECTOR_SIZE;
                model[at..at + d.len()].copy_from_slice(d);
            }
            if next(3) == 0 {
                client.flush().unwrap();
            }
            let len = 1 + next(8);
            let sector = next(SIM_SECTORS - len);
            let mut back = std::vec![0u8; len as usize * SECTOR_SIZE];
            client.read(sector, &mut back).unwrap();
            let at = sector as usize * SECTOR_SIZE;
            assert_eq!(
                back,
                model[at..at + back.len()],
                "read of sector {sector} after batch {b}"
            );
        }
    }

    /// Steps one workload takes with a driver that never dies.
    fn steps_of(seed: u64) -> u64 {
        let sim = Sim::new(&[], seed, 4 * SECTOR_SIZE);
        let mut client = Client::new(sim.queues, sim.data, &sim);
        let mut model = std::vec![0u8; SIM_SECTORS as usize * SECTOR_SIZE];
        workload(&mut client, &mut model, seed, 12);
        let steps = sim.st.borrow().step;
        steps
    }

    /// The driver dies before each step of a whole workload in turn (every
    /// point of every request's life, for a few schedules): every write
    /// lands exactly as issued, every read is right. The data region holds
    /// only four sectors, so it is reused by almost every wave, and a
    /// request carried out after its completion was taken would write the
    /// next wave's data: the disk would differ from the model.
    #[test]
    fn a_driver_that_dies_at_any_step_loses_and_repeats_nothing_harmful() {
        for seed in [3u64, 17, 99] {
            let total = steps_of(seed);
            for die in 1..=total {
                let sim = Sim::new(&[die, die + 7, die * 3], seed ^ die, 4 * SECTOR_SIZE);
                let mut client = Client::new(sim.queues, sim.data, &sim);
                let mut model = std::vec![0u8; SIM_SECTORS as usize * SECTOR_SIZE];
                workload(&mut client, &mut model, seed, 12);
                assert!(
                    *sim.disk.borrow() == model,
                    "seed {seed}, death at step {die}"
                );
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Random deaths of the driver, random schedules.
        #[test]
        fn random_driver_deaths(seed in 1u64.., deaths in proptest::collection::vec(1u64..400, 0..6)) {
            let sim = Sim::new(&deaths, seed, 4 * SECTOR_SIZE);
            let mut client = Client::new(sim.queues, sim.data, &sim);
            let mut model = std::vec![0u8; SIM_SECTORS as usize * SECTOR_SIZE];
            workload(&mut client, &mut model, seed, 16);
            prop_assert!(*sim.disk.borrow() == model);
        }

        /// The client dies in the middle of a wave (a restarted file server)
        /// and a new one starts: nothing of the old client runs after the
        /// driver acknowledged the new one's reset, and the new client's
        /// writes and reads are exactly right.
        #[test]
        fn a_new_client_is_never_hit_by_the_old_ones_requests(seed in 1u64.., waits in 0u32..12, deaths in proptest::collection::vec(1u64..300, 0..3)) {
            let sim = Sim::new(&deaths, seed, 4 * SECTOR_SIZE);
            let mut model = std::vec![0u8; SIM_SECTORS as usize * SECTOR_SIZE];
            sim.client_dies_at.set(Some(waits));
            let died = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut old = Client::new(sim.queues, sim.data, &sim);
                workload(&mut old, &mut model, seed, 8);
            }));
            sim.client_dies_at.set(None);
            let resets_before = sim.st.borrow().resets;
            let mut client = Client::new(sim.queues, sim.data, &sim);
            let first_own_id = client.flight.next_id;
            // The new client cannot know what the old one left: it starts
            // from what is on the disk now.
            let mut model = sim.disk.borrow().clone();
            workload(&mut client, &mut model, seed ^ 0x55, 10);
            prop_assert!(*sim.disk.borrow() == model);
            if died.is_err() {
                let st = sim.st.borrow();
                for &(id, resets) in &st.log {
                    if id < first_own_id {
                        prop_assert!(resets <= resets_before, "request {} of the old client ran after the reset", id);
                    }
                }
            }
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
        session: core::cell::Cell<DriverSession>,
    }

    impl Doorbell for &SimDriver {
        fn notify_driver(&self) {}
        fn wait_for_driver(&self) {
            self.waits.set(self.waits.get() + 1);
            let mut session = self.session.get();
            if session.poll_reset(&self.queues) {
                session.finish_reset(&self.queues, true);
            }
            self.session.set(session);
            if !session.serving(&self.queues) {
                return;
            }
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
        let session = DriverSession::start(&queues, 4096, FLAG_FLUSH);
        let sim = SimDriver {
            session: core::cell::Cell::new(session),
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
