//! The block driver: a user-level virtio-blk driver on QEMU virt's
//! virtio-mmio transport (docs/block.md).
//!
//! It reaches the device only through what its capabilities name: the
//! transport's register page (a device frame mapped at `addrs::VIRTIO`),
//! the device's interrupt (the IRQ handler `caps::VIRTIO_IRQ`, signalled on
//! its bound notification), and two regions of RAM the device reads and
//! writes by DMA: its own `blk_dma` (the virtqueue and the request headers)
//! and `blk_data`, shared with its client, where the data of requests
//! lives. It learns their physical addresses with seL4_ARM_Page_GetAddress
//! on its frame caps.
//!
//! The virtqueue logic is the `virtio-drivers` crate's `VirtQueue` and
//! `MmioTransport`; the block requests are built here, because the crate's
//! `VirtIOBlk` waits for a flush by polling the used ring, and this driver
//! never polls: it sleeps on its notification until the device interrupts
//! or the client signals.
//!
//! Its client talks to it only through the rings of `libcerne::blk` in the
//! shared `blk_queues` page, and the `blk_request` / `blk_done`
//! notifications: the client never calls it.
//!
//! It may be restarted in place at any moment (docs/block.md, "Restart"):
//! it then resets the device before it builds its virtqueue again, so
//! nothing the previous incarnation gave the device is still in flight,
//! and serves a new generation of the block protocol, which the client
//! joins by pushing again what it had not seen completed.
#![no_std]
#![no_main]

use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

use core::fmt::Write;
use libcerne::blk::{
    self, Completion, DriverSession, Op, Queues, Request, Status, FLAG_FLUSH, FLAG_READ_ONLY,
};
use libcerne::supervision::Supervision;

use libcerne::console::Console;
use libcerne::sel4::{Cap, Frame, IrqHandler, Notification};
use virtio_drivers::queue::VirtQueue;
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{DeviceStatus, DeviceType, Transport};
use virtio_drivers::{BufferDirection, Hal, PhysAddr};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

include!(concat!(env!("OUT_DIR"), "/blk-driver.rs"));

/// Bytes of a page.
const PAGE: usize = 4096;
/// Descriptors of the virtqueue: a request of 64 KiB needs 16 data
/// descriptors (one per page) plus its header and status.
const QUEUE_SIZE: usize = 128;
/// Bytes of one transport's registers in the device page.
const TRANSPORT_SIZE: usize = 0x200;
/// Most pages of each DMA region this driver tracks.
const MAX_PAGES: usize = 1024;

/// The virtio-blk features this driver accepts: read-only, flush, and the
/// modern (version 1) interface.
mod features {
    bitflags::bitflags! {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct Features: u64 {
            const RO = 1 << 5;
            const FLUSH = 1 << 9;
            const VERSION_1 = 1 << 32;
        }
    }
}
use features::Features;

/// virtio-blk request types (virtio 1.2, 5.2.6).
const VIRTIO_BLK_T_IN: u32 = 0;
const VIRTIO_BLK_T_OUT: u32 = 1;
const VIRTIO_BLK_T_FLUSH: u32 = 4;
/// virtio-blk status byte: success.
const VIRTIO_BLK_S_OK: u8 = 0;
/// virtio-blk status byte: unsupported request.
const VIRTIO_BLK_S_UNSUPP: u8 = 2;

/// The header of a virtio-blk request, read by the device.
#[derive(Clone, Copy, Debug, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
struct VirtioBlkHeader {
    kind: u32,
    reserved: u32,
    sector: u64,
}

/// Where a region of DMA memory is, virtually and physically (one
/// physical address per page: the frames need not be contiguous).
struct DmaRegion {
    vaddr: usize,
    pages: usize,
    paddrs: [u64; MAX_PAGES],
}

impl DmaRegion {
    const fn empty() -> Self {
        Self {
            vaddr: 0,
            pages: 0,
            paddrs: [0; MAX_PAGES],
        }
    }

    /// The physical address of `vaddr`, when it is inside the region.
    fn translate(&self, vaddr: usize) -> Option<u64> {
        let offset = vaddr.checked_sub(self.vaddr)?;
        let page = offset / PAGE;
        (page < self.pages).then(|| self.paddrs[page] + (offset % PAGE) as u64)
    }

    /// True when pages `first..first + n` are physically contiguous.
    fn contiguous(&self, first: usize, n: usize) -> bool {
        (first + 1..first + n).all(|p| self.paddrs[p] == self.paddrs[p - 1] + PAGE as u64)
    }
}

/// The driver's two DMA regions, written once at start (before any
/// virtqueue exists) and read by the [`Hal`] functions.
struct Regions {
    own: DmaRegion,
    data: DmaRegion,
}

static mut REGIONS: Regions = Regions {
    own: DmaRegion::empty(),
    data: DmaRegion::empty(),
};

/// Pages of `blk_dma` already handed out by `dma_alloc` (the first page
/// holds the request headers).
static DMA_NEXT_PAGE: AtomicUsize = AtomicUsize::new(1);

fn regions() -> &'static Regions {
    // SAFETY: REGIONS is written only by `learn_regions`, which runs to the
    // end before the first shared reference is taken; this program has one
    // thread.
    unsafe { &*core::ptr::addr_of!(REGIONS) }
}

/// The HAL virtio-drivers needs: DMA memory from `blk_dma`, buffers
/// translated page by page.
struct CerneHal;

// SAFETY: dma_alloc returns zeroed, page-aligned memory of blk_dma that no
// one else uses (pages are handed out once, never reused), with its true
// physical address; share returns the true physical address of a buffer
// inside one page of a DMA region.
unsafe impl Hal for CerneHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let own = &regions().own;
        let first = DMA_NEXT_PAGE.fetch_add(pages, Ordering::Relaxed);
        if pages == 0 || first + pages > own.pages || !own.contiguous(first, pages) {
            // virtio-drivers reports a zero address as a DMA error.
            return (0, NonNull::dangling());
        }
        let vaddr = own.vaddr + first * PAGE;
        // SAFETY: the pages are inside blk_dma (checked above), mapped
        // read-write, and handed out only now.
        unsafe { core::ptr::write_bytes(vaddr as *mut u8, 0, pages * PAGE) };
        let ptr = NonNull::new(vaddr as *mut u8).unwrap_or(NonNull::dangling());
        (own.paddrs[first], ptr)
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, _vaddr: NonNull<u8>, _pages: usize) -> i32 {
        // The queue lives as long as the driver.
        0
    }

    unsafe fn mmio_phys_to_virt(_paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        // Only the PCI transport asks this.
        NonNull::dangling()
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        let vaddr = buffer.as_ptr().cast::<u8>() as usize;
        let r = regions();
        r.own
            .translate(vaddr)
            .or_else(|| r.data.translate(vaddr))
            // Every buffer this driver queues is inside one page of a DMA
            // region; anything else is a bug, and a fault is what the
            // supervisor should see.
            .unwrap_or_else(|| panic!("buffer {vaddr:#x} is in no DMA region"))
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {
        // Coherent DMA (QEMU's virtio-mmio is dma-coherent): nothing to copy.
    }
}

/// Reads the physical address of every frame of a region.
fn learn(region: &mut DmaRegion, first_cap: u64, vaddr: usize, size: usize) -> Result<(), u64> {
    region.vaddr = vaddr;
    region.pages = (size / PAGE).min(MAX_PAGES);
    for page in 0..region.pages {
        let frame: Cap<Frame> = Cap::from_cptr(first_cap + page as u64);
        region.paddrs[page] = frame.get_address().map_err(|_| first_cap + page as u64)?;
    }
    Ok(())
}

/// Fills REGIONS from the frame caps; the only writer of REGIONS.
fn learn_regions() -> Result<(), u64> {
    // SAFETY: runs once, first thing in main, before any reference to
    // REGIONS exists.
    let r = unsafe { &mut *core::ptr::addr_of_mut!(REGIONS) };
    learn(
        &mut r.own,
        caps::BLK_DMA,
        addrs::BLK_DMA,
        addrs::BLK_DMA_SIZE,
    )?;
    learn(
        &mut r.data,
        caps::BLK_DATA,
        addrs::BLK_DATA,
        addrs::BLK_DATA_SIZE,
    )
}

/// Finds the virtio-blk transport among the eight in the device page.
fn probe() -> Option<MmioTransport<'static>> {
    for slot in 0..PAGE / TRANSPORT_SIZE {
        let base = addrs::VIRTIO + slot * TRANSPORT_SIZE;
        let header = NonNull::new(base as *mut VirtIOHeader)?;
        // SAFETY: base..base+0x200 is one transport's register block inside
        // the device page mapped uncached at addrs::VIRTIO for the whole
        // run; this driver is its only user.
        let Ok(transport) = (unsafe { MmioTransport::new(header, TRANSPORT_SIZE) }) else {
            continue;
        };
        if transport.device_type() == DeviceType::Block {
            return Some(transport);
        }
    }
    None
}

/// One request on the virtqueue: the client's request and the buffers
/// given to the device.
#[derive(Clone, Copy)]
struct Pending {
    request: Request,
    slot: usize,
    /// Data pages: (vaddr, len) inside blk_data.
    pieces: [(usize, usize); blk::MAX_REQUEST_BYTES / PAGE + 1],
    count: usize,
}

/// Per-request header and status bytes in the first page of blk_dma.
const HEADER_SLOT: usize = 32;
const SLOTS: usize = PAGE / HEADER_SLOT;

struct Driver {
    transport: MmioTransport<'static>,
    queue: VirtQueue<CerneHal, QUEUE_SIZE>,
    queues: Queues,
    capacity: u64,
    read_only: bool,
    flush: bool,
    /// By virtqueue token.
    pending: [Option<Pending>; QUEUE_SIZE],
    free_slots: [bool; SLOTS],
    /// A request taken from the ring that did not fit in the virtqueue yet.
    stalled: Option<Request>,
    completed: u64,
    /// A new client's reset is under way: requests of the previous one
    /// that the device still finishes complete to no one.
    draining: bool,
    console: Console,
}

/// The header of request slot `slot` in blk_dma's first page.
fn header_of(slot: usize) -> *mut VirtioBlkHeader {
    (regions().own.vaddr + slot * HEADER_SLOT) as *mut VirtioBlkHeader
}

/// Its status byte, which the device writes.
fn status(slot: usize) -> *mut u8 {
    (regions().own.vaddr + slot * HEADER_SLOT + 16) as *mut u8
}

/// The device's view of a request's buffers, in the order virtio-blk
/// wants: header (device reads), data, status (device writes). Data is read
/// by the device for a write and written by it for a read.
struct Buffers<'x> {
    inputs: [&'x [u8]; 18],
    n_in: usize,
    outputs: [&'x mut [u8]; 18],
    n_out: usize,
}

fn buffers<'x>(p: &Pending) -> Buffers<'x> {
    let is_read = Op::from_word(p.request.op) == Some(Op::Read);
    // SAFETY: the header, status and data pieces are inside DMA regions
    // mapped read-write for the whole run; this driver never reads or writes
    // them through these slices (only the device does), and the client does
    // not touch a request's data until its completion.
    let header = unsafe { core::slice::from_raw_parts(header_of(p.slot).cast::<u8>(), 16) };
    // SAFETY: as above.
    let status = unsafe { core::slice::from_raw_parts_mut(status(p.slot), 1) };
    let mut b = Buffers {
        inputs: [&[]; 18],
        n_in: 1,
        outputs: Default::default(),
        n_out: 0,
    };
    b.inputs[0] = header;
    for &(vaddr, len) in &p.pieces[..p.count] {
        if is_read {
            // SAFETY: as above.
            b.outputs[b.n_out] = unsafe { core::slice::from_raw_parts_mut(vaddr as *mut u8, len) };
            b.n_out += 1;
        } else {
            // SAFETY: as above.
            b.inputs[b.n_in] = unsafe { core::slice::from_raw_parts(vaddr as *const u8, len) };
            b.n_in += 1;
        }
    }
    b.outputs[b.n_out] = status;
    b.n_out += 1;
    b
}

impl Driver {
    /// The data pieces of a request, one per page of blk_data, or why not.
    fn pieces(&self, r: &Request) -> Result<Pending, Status> {
        let op = Op::from_word(r.op).ok_or(Status::BadRequest)?;
        let mut p = Pending {
            request: *r,
            slot: 0,
            pieces: [(0, 0); blk::MAX_REQUEST_BYTES / PAGE + 1],
            count: 0,
        };
        if op == Op::Flush {
            return if self.flush {
                Ok(p)
            } else {
                Err(Status::Unsupported)
            };
        }
        if op == Op::Write && self.read_only {
            return Err(Status::Unsupported);
        }
        let bytes = r.bytes();
        let end_sector = r.sector.checked_add(u64::from(r.sectors));
        if bytes == 0
            || bytes > blk::MAX_REQUEST_BYTES
            || end_sector.is_none_or(|e| e > self.capacity)
        {
            return Err(Status::BadRequest);
        }
        let start = usize::try_from(r.offset).map_err(|_| Status::BadRequest)?;
        if start
            .checked_add(bytes)
            .is_none_or(|e| e > addrs::BLK_DATA_SIZE)
        {
            return Err(Status::BadRequest);
        }
        let mut at = addrs::BLK_DATA + start;
        let mut left = bytes;
        while left > 0 {
            let len = (PAGE - at % PAGE).min(left);
            p.pieces[p.count] = (at, len);
            p.count += 1;
            at += len;
            left -= len;
        }
        Ok(p)
    }

    /// Puts `r` on the virtqueue; `Err(r)` when the queue has no room now.
    fn submit(&mut self, r: Request) -> Result<(), Request> {
        let mut p = match self.pieces(&r) {
            Ok(p) => p,
            Err(status) => {
                self.complete(r.id, status, 0);
                return Ok(());
            }
        };
        let Some(slot) = self.free_slots.iter().position(|f| *f) else {
            return Err(r);
        };
        if self.queue.available_desc() < p.count + 2 {
            return Err(r);
        }
        p.slot = slot;
        let kind = match Op::from_word(r.op) {
            Some(Op::Read) => VIRTIO_BLK_T_IN,
            Some(Op::Write) => VIRTIO_BLK_T_OUT,
            _ => VIRTIO_BLK_T_FLUSH,
        };
        let request_header = VirtioBlkHeader {
            kind,
            reserved: 0,
            sector: if kind == VIRTIO_BLK_T_FLUSH {
                0
            } else {
                r.sector
            },
        };
        // SAFETY: the header and status of `slot` are in blk_dma's first
        // page, which no other request uses while the slot is taken.
        unsafe {
            header_of(slot).write_volatile(request_header);
            status(slot).write_volatile(0xff);
        }
        let token = match self.add(&p) {
            Ok(t) => t,
            Err(()) => return Err(r),
        };
        self.free_slots[slot] = false;
        self.pending[usize::from(token) % QUEUE_SIZE] = Some(p);
        Ok(())
    }

    fn add(&mut self, p: &Pending) -> Result<u16, ()> {
        let mut b = buffers(p);
        // SAFETY: the buffers stay valid and untouched by this driver until
        // `pop_used` gives them back (see `buffers`).
        unsafe {
            self.queue
                .add(&b.inputs[..b.n_in], &mut b.outputs[..b.n_out])
        }
        .map_err(|_| ())
    }

    /// Takes every request the device finished and completes it.
    fn reap(&mut self) {
        while let Some(token) = self.queue.peek_used() {
            let Some(p) = self.pending[usize::from(token) % QUEUE_SIZE].take() else {
                break;
            };
            let mut b = buffers(&p);
            // SAFETY: the same buffers as were added under `token`.
            let popped = unsafe {
                self.queue
                    .pop_used(token, &b.inputs[..b.n_in], &mut b.outputs[..b.n_out])
            };
            // SAFETY: the slot's status byte, written by the device.
            let device_status = unsafe { status(p.slot).read_volatile() };
            self.free_slots[p.slot] = true;
            let status = match (popped, device_status) {
                (Ok(_), VIRTIO_BLK_S_OK) => Status::Ok,
                (Ok(_), VIRTIO_BLK_S_UNSUPP) => Status::Unsupported,
                _ => Status::IoError,
            };
            let sectors = if status == Status::Ok {
                p.request.sectors
            } else {
                0
            };
            self.complete(p.request.id, status, sectors);
        }
    }

    fn complete(&mut self, id: u64, status: Status, sectors: u32) {
        self.completed += 1;
        if self.draining {
            return;
        }
        let c = Completion {
            id,
            status: status as u32,
            sectors,
        };
        // The completion ring holds as many entries as the request ring, and
        // the client keeps no more requests in flight than that: a full
        // completion ring means a client that broke the protocol.
        if self.queues.completions.push(&c).is_err() {
            let _ = writeln!(
                self.console,
                "[blk] completion ring full or corrupt: completion of request {id} dropped"
            );
        }
    }

    /// Whether the device holds none of this driver's requests.
    fn idle(&self) -> bool {
        self.pending.iter().all(Option::is_none)
    }

    /// Moves requests from the ring to the virtqueue while there is room.
    fn take_requests(&mut self) {
        loop {
            let next = match self.stalled.take() {
                Some(r) => r,
                None => match self.queues.requests.pop() {
                    Ok(Some(r)) => r,
                    Ok(None) => return,
                    Err(_) => {
                        let _ = writeln!(
                            self.console,
                            "[blk] request ring corrupt: ignoring it until the client resets it"
                        );
                        return;
                    }
                },
            };
            if let Err(r) = self.submit(next) {
                self.stalled = Some(r);
                return;
            }
        }
    }
}

/// This component's side of supervision, from its generated constants.
fn supervision(arg: usize) -> Supervision {
    libcerne::supervision!(arg)
}

/// Most reads of the status register while waiting for a reset to finish
/// (QEMU finishes it within the write).
const RESET_POLLS: usize = 1 << 20;

/// Resets the device (virtio 1.2, 4.2.3.1: write 0 to the status, then
/// wait until it reads back 0): after it, the device has finished or
/// dropped every request an earlier incarnation of this driver gave it and
/// no longer reads or writes its queues, which this incarnation reuses.
fn reset(transport: &mut MmioTransport<'static>) -> bool {
    transport.set_status(DeviceStatus::empty());
    (0..RESET_POLLS).any(|_| transport.get_status().is_empty())
}

fn main(arg: usize, cycles_at_entry: u64) -> ! {
    if arg as u64 == libcerne::supervision::HELD {
        // Started once more only to stop for good: tell the client, whose
        // requests would otherwise wait for ever (supervision! then
        // answers any caller and suspends this thread).
        // SAFETY: as below: blk_queues is mapped read-write here and in the
        // client only, reached only through the queues.
        if let Some(q) = unsafe { Queues::new(addrs::BLK_QUEUES, addrs::BLK_QUEUES_SIZE) } {
            q.publish_held();
            Cap::<Notification>::from_cptr(caps::BLK_DONE).signal();
        }
    }
    let sup = supervision(arg);
    let irq: Cap<IrqHandler> = Cap::from_cptr(caps::VIRTIO_IRQ);
    let wake: Cap<Notification> = Cap::from_cptr(caps::NOTIFICATION);
    let done: Cap<Notification> = Cap::from_cptr(caps::BLK_DONE);
    if let Err(cap) = learn_regions() {
        panic!("[blk] no physical address for the frame in slot {cap}");
    }
    // SAFETY: blk_queues is mapped read-write here and in the client only,
    // and this driver reaches it only through the queues.
    let Some(queues) = (unsafe { Queues::new(addrs::BLK_QUEUES, addrs::BLK_QUEUES_SIZE) }) else {
        panic!("[blk] the queue region is too small for the block protocol");
    };
    let Some(mut transport) = probe() else {
        panic!("[blk] no virtio-blk device in the transport page");
    };
    if !reset(&mut transport) {
        panic!("[blk] the device does not finish its reset");
    }
    let negotiated = transport.begin_init(Features::RO | Features::FLUSH | Features::VERSION_1);
    let low: u32 = transport.read_config_space(0).unwrap_or(0);
    let high: u32 = transport.read_config_space(4).unwrap_or(0);
    let capacity = u64::from(low) | (u64::from(high) << 32);
    let queue = match VirtQueue::<CerneHal, QUEUE_SIZE>::new(&mut transport, 0, false, false) {
        Ok(q) => q,
        Err(e) => panic!(
            "[blk] cannot set up the virtqueue ({e:?}): a legacy transport needs physically contiguous DMA pages"
        ),
    };
    transport.finish_init();
    let read_only = negotiated.contains(Features::RO);
    let flush = negotiated.contains(Features::FLUSH);
    let mut driver = Driver {
        transport,
        queue,
        queues,
        capacity,
        read_only,
        flush,
        pending: [None; QUEUE_SIZE],
        free_slots: [true; SLOTS],
        stalled: None,
        completed: 0,
        draining: false,
        console: libcerne::console!(),
    };
    let flags = if read_only { FLAG_READ_ONLY } else { 0 } | if flush { FLAG_FLUSH } else { 0 };
    let mut session = DriverSession::start(&queues, capacity, flags);
    let _ = writeln!(
        driver.console,
        "[blk] virtio-blk up: {} sectors ({} MiB){}{}, transport v{:?}, DMA {} + {} pages, generation {} (incarnation {})",
        capacity,
        capacity / 2048,
        if read_only { ", read-only" } else { "" },
        if flush { ", flush" } else { "" },
        driver.transport.version(),
        regions().own.pages,
        regions().data.pages,
        session.generation(),
        sup.incarnation(),
    );
    if cfg!(feature = "boot-bench") {
        let _ = writeln!(
            driver.console,
            "[blk] first instruction at cycle {cycles_at_entry}"
        );
    }
    let _ = irq.ack();
    done.signal();
    // Busy cycles, measured in the benchmark build only (pmu-user kernel).
    let measure = cfg!(feature = "storage-bench");
    let mut busy = 0u64;
    loop {
        // The heartbeat is answered here; a wake-up for it alone changes
        // nothing else.
        let word = sup.on_signal(wake.wait());
        if word == 0 {
            continue;
        }
        let woke = if measure { libcerne::pmu::cycles() } else { 0 };
        let mut signal = false;
        if word & badges::VIRTIO_IRQ != 0 {
            driver.transport.ack_interrupt();
            driver.reap();
            let _ = irq.ack();
            signal = !driver.draining;
        }
        // A new client (a restarted file server) asked to start afresh:
        // take nothing more of the old one's, let the device finish what it
        // has, then acknowledge under a new generation.
        if session.poll_reset(&queues) && !driver.draining {
            driver.draining = true;
            driver.stalled = None;
        }
        if session.finish_reset(&queues, driver.idle()) {
            driver.draining = false;
            signal = true;
        }
        let before = driver.completed;
        if session.serving(&queues) {
            driver.take_requests();
        }
        if driver.queue.should_notify() {
            driver.transport.notify(0);
        }
        // Completions from reap, and any refused outright by take_requests.
        if signal || driver.completed != before {
            done.signal();
        }
        if measure {
            busy += libcerne::pmu::cycles().wrapping_sub(woke);
            queues.set_driver_cycles(busy);
        }
    }
}

// The spec gives the stack (the description's `stack`): no static one.
libcerne::entry!(main, static_stack = 0);
