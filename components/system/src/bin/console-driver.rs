//! The console driver: a user-level PL011 driver that owns the UART's
//! registers (a device frame mapped at `addrs::UART`) and its interrupt (the
//! IRQ handler cap `caps::UART_IRQ`, signalled on the notification bound to
//! this thread), and serves clients over the `console` endpoint with the
//! protocol of `libcerne::console`: WRITE prints, READ returns typed bytes,
//! waiting (with the reply cap saved) until some arrive.
#![no_std]
#![no_main]

use core::fmt::Write;

use libcerne::console::{self, CHUNK_BYTES, CHUNK_WORDS};
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
struct Typed {
    bytes: [u8; 512],
    len: usize,
    dropped: u64,
}

impl Typed {
    fn push(&mut self, b: u8) {
        if self.len < self.bytes.len() {
            self.bytes[self.len] = b;
            self.len += 1;
        } else {
            self.dropped += 1;
        }
    }
    /// Packs up to a message's worth into `words`; returns the words used.
    fn take(&mut self, words: &mut [u64; 1 + CHUNK_WORDS]) -> usize {
        let (n, used) = console::pack(&self.bytes[..self.len.min(CHUNK_BYTES)], words);
        self.bytes.copy_within(n..self.len, 0);
        self.len -= n;
        used
    }
}

/// Clears the receive interrupts, then empties the FIFO: a byte arriving
/// after the clear raises the interrupt again, so none is left unnoticed.
fn receive(uart: &Uart, typed: &mut Typed) {
    uart.write(pl011::ICR, pl011::RX_INTERRUPTS);
    while let Some(b) = uart.get() {
        typed.push(b);
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
    let mut typed = Typed {
        bytes: [0; 512],
        len: 0,
        dropped: 0,
    };
    // Bytes typed before the driver started wait in the receive FIFO: take
    // them now, since their interrupt may have been raised (and missed)
    // before this thread ran.
    uart.write(pl011::IMSC, uart.read(pl011::IMSC) | pl011::RX_INTERRUPTS);
    receive(&uart, &mut typed);
    let _ = irq.ack();
    let mut reader_waiting = false;
    let mut words = [0u64; 1 + CHUNK_WORDS];
    let mut message = endpoint.recv();
    loop {
        if message.badge & badges::UART_IRQ != 0 {
            receive(&uart, &mut typed);
            let _ = irq.ack();
            if reader_waiting && typed.len > 0 {
                let used = typed.take(&mut words);
                // The saved reply cap: sending on it answers the reader.
                ipc::send(caps::FIRST_FREE, 0, &words[..used], &[]);
                reader_waiting = false;
            }
            message = endpoint.recv();
            continue;
        }
        let (label, used) = match message.label() {
            console::WRITE => {
                let mut bytes = [0u8; CHUNK_BYTES];
                let n = console::unpack(|i| message.mr(i), &mut bytes);
                uart.put_all(&bytes[..n]);
                words[0] = n as u64;
                (0, 1)
            }
            console::READ if typed.len > 0 => (0, typed.take(&mut words)),
            console::READ if reader_waiting => (console::BUSY, 0),
            console::READ => {
                // Answer later, when bytes arrive: keep the reply cap.
                if cnode.save_caller(caps::FIRST_FREE, 64).is_ok() {
                    reader_waiting = true;
                    message = endpoint.recv();
                    continue;
                }
                (console::BUSY, 0)
            }
            _ => (console::INVALID, 0),
        };
        message = endpoint.reply_recv(label, &words[..used], &[]);
    }
}

// The spec gives the stack (the description's `stack`): no static one.
libcerne::entry!(main, static_stack = 0);
