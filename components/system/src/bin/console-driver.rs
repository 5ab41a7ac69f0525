//! The console driver: a user-level PL011 driver that owns the UART's
//! registers (a device frame mapped at `addrs::UART`) and its interrupt (the
//! IRQ handler cap `caps::UART_IRQ`, signalled on the notification bound to
//! this thread), and serves clients over the `console` endpoint with the
//! protocol of `libcerne::console`: `write` prints a range of the client's
//! buffer, `read` fills one with typed bytes, waiting (with the reply cap
//! saved) until some arrive. Up to [`MAX_READERS`] clients may wait at
//! once; typed bytes go to the one that has waited longest.
#![no_std]
#![no_main]

use core::fmt::Write;

use libcerne::console::{protocol, ConsoleError, Count, Typed};
use libcerne::interface::{message_words, Reply, ServerError, SharedBuffer, MAX_WORDS};
use libcerne::sel4::{ipc, CNode, Cap, Endpoint, IrqHandler};

include!(concat!(env!("OUT_DIR"), "/console-driver.rs"));

/// PL011 registers (offsets) and bits.
mod pl011 {
    pub const DR: usize = 0x00;
    pub const FR: usize = 0x18;
    pub const IMSC: usize = 0x38;
    pub const ICR: usize = 0x44;
    pub const FR_RXFE: u32 = 1 << 4;
    pub const FR_TXFF: u32 = 1 << 5;
    /// Receive and receive-timeout interrupts.
    pub const RX_INTERRUPTS: u32 = (1 << 4) | (1 << 6);
}

/// The UART, through its mapping.
struct Uart(usize);

impl Uart {
    fn read(&self, offset: usize) -> u32 {
        // SAFETY: the UART's 4 KiB register page is mapped uncached at
        // self.0 (the system description's device region); offsets are
        // PL011 registers inside it.
        unsafe { core::ptr::read_volatile((self.0 + offset) as *const u32) }
    }
    fn write(&self, offset: usize, value: u32) {
        // SAFETY: as in `read`.
        unsafe { core::ptr::write_volatile((self.0 + offset) as *mut u32, value) }
    }
    fn put(&self, b: u8) {
        while self.read(pl011::FR) & pl011::FR_TXFF != 0 {
            core::hint::spin_loop();
        }
        self.write(pl011::DR, u32::from(b));
    }
    fn put_all(&self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' {
                self.put(b'\r');
            }
            self.put(b);
        }
    }
    fn get(&self) -> Option<u8> {
        (self.read(pl011::FR) & pl011::FR_RXFE == 0).then(|| (self.read(pl011::DR) & 0xff) as u8)
    }
}

impl Write for &Uart {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.put_all(s.as_bytes());
        Ok(())
    }
}

/// Bytes typed and not yet read.
struct Input {
    bytes: [u8; 512],
    len: usize,
    dropped: u64,
    /// The virtual counter when the oldest byte still here arrived.
    first_at: u64,
}

impl Input {
    fn push(&mut self, b: u8) {
        if self.len == 0 {
            self.first_at = libcerne::generic_timer::virtual_count();
        }
        if self.len < self.bytes.len() {
            self.bytes[self.len] = b;
            self.len += 1;
        } else {
            self.dropped += 1;
        }
    }
    /// Moves up to `max` bytes into `buffer` at `offset`; returns how many.
    fn take(&mut self, buffer: &SharedBuffer, offset: usize, max: usize) -> usize {
        let n = self.len.min(max);
        if buffer.write(offset, &self.bytes[..n]).is_err() {
            return 0;
        }
        self.bytes.copy_within(n..self.len, 0);
        self.len -= n;
        n
    }
}

/// Clears the receive interrupts, then empties the FIFO: a byte arriving
/// after the clear raises the interrupt again, so none is left unnoticed.
fn receive(uart: &Uart, typed: &mut Input) {
    uart.write(pl011::ICR, pl011::RX_INTERRUPTS);
    while let Some(b) = uart.get() {
        typed.push(b);
    }
}

/// The buffer client `badge` shares with this driver, if any.
fn buffer_of(badge: u64) -> Option<SharedBuffer> {
    buffers::CONSOLE
        .iter()
        .find(|(b, _)| *b == badge)
        // SAFETY: the description maps each client's buffer read-write here
        // for the whole run; this driver reaches it only through
        // SharedBuffer.
        .map(|&(_, vaddr)| unsafe { SharedBuffer::new(vaddr, buffers::CONSOLE_SIZE) })
}

/// A read that waits for typed bytes: the client's buffer and range, and
/// the slot of its saved reply cap.
struct Reader {
    buffer: SharedBuffer,
    range: core::ops::Range<usize>,
    slot: u64,
}

/// Clients that may wait for input at once.
const MAX_READERS: usize = 8;

/// The slot of waiting reader `i`'s reply cap.
const fn reader_slot(i: usize) -> u64 {
    caps::FIRST_FREE + i as u64
}
const _: () = assert!(reader_slot(MAX_READERS) <= 1 << caps::CNODE_BITS);

/// The waiting readers, oldest first.
struct Readers {
    queue: [Option<Reader>; MAX_READERS],
}

impl Readers {
    /// Saves the caller's reply cap and queues it; false when full.
    fn wait(
        &mut self,
        cnode: Cap<CNode>,
        buffer: SharedBuffer,
        range: core::ops::Range<usize>,
    ) -> bool {
        self.forget_dead();
        let used: [bool; MAX_READERS] = core::array::from_fn(|i| {
            self.queue
                .iter()
                .flatten()
                .any(|r| r.slot == reader_slot(i))
        });
        let Some(i) = (0..MAX_READERS).find(|&i| !used[i]) else {
            return false;
        };
        let Some(place) = self.queue.iter_mut().find(|r| r.is_none()) else {
            return false;
        };
        if cnode.save_caller(reader_slot(i), 64).is_err() {
            return false;
        }
        *place = Some(Reader {
            buffer,
            range,
            slot: reader_slot(i),
        });
        true
    }

    /// Drops readers whose reply cap is gone: the kernel deletes a saved
    /// reply cap when its caller is destroyed (a killed process), and its
    /// input must go to the next reader instead.
    fn forget_dead(&mut self) {
        // Compact the live ones to the front, the oldest first.
        let mut kept = 0;
        for i in 0..MAX_READERS {
            if let Some(r) = self.queue[i].take() {
                if libcerne::sel4::syscall::debug_cap_identify(r.slot) != 0 {
                    self.queue[kept] = Some(r);
                    kept += 1;
                }
            }
        }
    }

    /// The oldest live reader, out of the queue.
    fn next(&mut self) -> Option<Reader> {
        self.forget_dead();
        let first = self.queue[0].take();
        self.queue.rotate_left(1);
        first
    }
}

/// Prints `range` of `buffer` to the UART, a chunk at a time.
fn print(uart: &Uart, buffer: &SharedBuffer, range: core::ops::Range<usize>) {
    let mut chunk = [0u8; 256];
    let mut at = range.start;
    while at < range.end {
        let n = (range.end - at).min(chunk.len());
        if buffer.read(at, &mut chunk[..n]).is_err() {
            return;
        }
        uart.put_all(&chunk[..n]);
        at += n;
    }
}

fn main(_arg: usize, cycles_at_entry: u64) -> ! {
    let uart = Uart(addrs::UART);
    let irq: Cap<IrqHandler> = Cap::from_cptr(caps::UART_IRQ);
    let endpoint: Cap<Endpoint> = Cap::from_cptr(caps::CONSOLE);
    let cnode: Cap<CNode> = Cap::from_cptr(caps::CNODE);
    let _ = writeln!(
        &uart,
        "[console] PL011 driver up: registers at {:#x}, interrupt on notification bit {:#x}",
        addrs::UART,
        badges::UART_IRQ
    );
    if cfg!(feature = "boot-bench") {
        let _ = writeln!(
            &uart,
            "[console] first instruction at cycle {cycles_at_entry}"
        );
    }
    let mut typed = Input {
        bytes: [0; 512],
        len: 0,
        dropped: 0,
        first_at: 0,
    };
    // Bytes typed before the driver started wait in the receive FIFO: take
    // them now, since their interrupt may have been raised (and missed)
    // before this thread ran.
    uart.write(pl011::IMSC, uart.read(pl011::IMSC) | pl011::RX_INTERRUPTS);
    receive(&uart, &mut typed);
    let _ = irq.ack();
    let mut readers = Readers {
        queue: core::array::from_fn(|_| None),
    };
    let mut words = [0; MAX_WORDS];
    let mut message = endpoint.recv();
    loop {
        if message.badge & badges::UART_IRQ != 0 {
            receive(&uart, &mut typed);
            let _ = irq.ack();
            if typed.len > 0 {
                if let Some(r) = readers.next() {
                    let typed_at = typed.first_at;
                    let n = typed.take(&r.buffer, r.range.start, r.range.len());
                    let reply = Reply::ok(&Typed {
                        bytes: n as u64,
                        typed_at,
                    });
                    // The saved reply cap: sending on it answers the reader.
                    // Non-blocking: should the reader have died since, the
                    // send is dropped (a blocking send to an empty slot
                    // would fault this driver).
                    ipc::nb_send(r.slot, reply.label, reply.message(), &[]);
                }
            }
            message = endpoint.recv();
            continue;
        }
        let request = message_words(&message, &mut words)
            .and_then(|len| protocol::Request::decode(message.label(), &words[..len]));
        let reply = match request {
            Err(e) => Reply::error(e.code()),
            Ok(request) => {
                let range = match request {
                    protocol::Request::Write(r) | protocol::Request::Read(r) => r,
                };
                let checked = buffer_of(message.badge)
                    .and_then(|b| b.check(range).ok().map(|range| (b, range)));
                match (request, checked) {
                    (_, None) => Reply::error(ConsoleError::BadBuffer.code()),
                    (protocol::Request::Write(_), Some((buffer, range))) => {
                        let bytes = range.len() as u64;
                        print(&uart, &buffer, range);
                        Reply::ok(&Count { bytes })
                    }
                    (protocol::Request::Read(_), Some((buffer, range))) if typed.len > 0 => {
                        let typed_at = typed.first_at;
                        let n = typed.take(&buffer, range.start, range.len());
                        Reply::ok(&Typed {
                            bytes: n as u64,
                            typed_at,
                        })
                    }
                    (protocol::Request::Read(_), Some((buffer, range))) => {
                        // Answer later, when bytes arrive: keep the reply
                        // cap, in the queue.
                        if readers.wait(cnode, buffer, range) {
                            message = endpoint.recv();
                            continue;
                        }
                        Reply::error(ConsoleError::Busy.code())
                    }
                }
            }
        };
        message = endpoint.reply_recv(reply.label, reply.message(), &[]);
    }
}

// The spec gives the stack (the description's `stack`): no static one.
libcerne::entry!(main, static_stack = 0);
