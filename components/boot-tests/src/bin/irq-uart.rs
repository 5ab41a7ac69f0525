//! A root task that takes the PL011's receive interrupt at user level, the
//! way a console driver does: it finds the UART in the DTB the kernel passed
//! as extra bootinfo, carves the UART's page out of a device untyped, maps
//! it, takes the UART's IRQ from IRQControl, binds it to a notification, and
//! echoes each line typed into QEMU's serial input until it sees `quit`.
//!
//! Binding the UART's IRQ hands the UART over: from then on the kernel logs
//! its output (DebugPutChar included) in a ring instead of printing it, so
//! this task prints through its own mapping of the UART, polling like a
//! console driver. It also writes [`KERNEL_LOG_TEXT`] with DebugPutChar
//! while it owns the UART; the harness checks that the text shows up only
//! after IRQHandler_Clear handed the UART back and the kernel replayed its
//! ring.
#![no_std]
#![no_main]

use cerne_abi::bootinfo::{BootInfo, BootInfoHeader, BootInfoHeaderId};
use cerne_abi::object::ObjectType;
use cerne_abi::rights::CapRights;
use cerne_abi::slots::{CAP_INIT_THREAD_CNODE, CAP_INIT_THREAD_VSPACE, CAP_IRQ_CONTROL};
use cerne_abi::vm::EXECUTE_NEVER;
use cerne_plat::memmap::Platform;
use libcerne::sel4::{
    self, CNode, Cap, Frame, IrqControl, IrqHandler, Notification, PageTable, Untyped, VSpace,
};
use libcerne::{bootinfo, println};

/// Where the UART's page is mapped in this task.
const UART_VADDR: u64 = 0x1000_0000;
/// PL011 registers (ARM DDI 0183): data, flags, interrupt mask, clear.
const UARTDR: u64 = 0x00;
const UARTFR: u64 = 0x18;
const UARTIMSC: u64 = 0x38;
const UARTICR: u64 = 0x44;
/// Flags: receive FIFO empty, transmit FIFO full.
const FR_RXFE: u32 = 1 << 4;
const FR_TXFF: u32 = 1 << 5;
/// Receive and receive-timeout interrupts.
const RX_INTERRUPTS: u32 = (1 << 4) | (1 << 6);
/// Depth of a full cptr.
const FULL_DEPTH: u8 = 64;
/// The line that ends the test.
const QUIT: &[u8] = b"quit";
/// Written with DebugPutChar while this task owns the UART: the kernel must
/// log it, not print it, until the UART is handed back.
const KERNEL_LOG_TEXT: &str = "[irq-uart] kernel-log-while-owned";

/// The UART as this task's own mapping reaches it: a polling transmitter,
/// as a console driver's output path.
struct OwnUart;

impl core::fmt::Write for OwnUart {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                uart_put(b'\r');
            }
            uart_put(b);
        }
        Ok(())
    }
}

/// Prints a line through [`OwnUart`] (only once the UART is mapped).
macro_rules! uart_println {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = writeln!(OwnUart, $($arg)*);
    }};
}

/// Hands out the root CNode's empty slots in order.
struct Slots {
    next: u64,
    end: u64,
}

impl Slots {
    fn take(&mut self, n: u64) -> u64 {
        assert!(self.next + n <= self.end, "out of empty slots");
        let s = self.next;
        self.next += n;
        s
    }
}

fn root_cnode() -> Cap<CNode> {
    Cap::from_cptr(CAP_INIT_THREAD_CNODE as u64)
}

/// The DTB from the extra bootinfo that follows the BootInfo frame.
fn device_tree(bootinfo_addr: usize, bi: &BootInfo) -> &'static [u8] {
    let header_addr = bootinfo_addr + 4096;
    // SAFETY: the kernel maps extra bootinfo (extra_len bytes) right after
    // the BootInfo frame for the root task's whole life.
    let header = unsafe { &*(header_addr as *const BootInfoHeader) };
    assert_eq!(
        header.id,
        BootInfoHeaderId::Fdt as u64,
        "extra bootinfo holds no DTB"
    );
    assert!(
        header.len <= bi.extra_len,
        "DTB chunk longer than extra bootinfo"
    );
    let size = (header.len as usize) - core::mem::size_of::<BootInfoHeader>();
    // SAFETY: as above; the chunk lies inside the mapped extra bootinfo.
    unsafe { core::slice::from_raw_parts((header_addr + 16) as *const u8, size) }
}

/// Carves the 4 KiB frame at `target` out of the device untyped in `slot`
/// (covering `[base, base + 2^bits)`), halving it until one page is left.
fn device_frame(
    slots: &mut Slots,
    slot: u64,
    mut base: u64,
    mut bits: u32,
    target: u64,
) -> Cap<Frame> {
    let mut untyped = Cap::<Untyped>::from_cptr(slot);
    while bits > 12 {
        let halves = slots.take(2);
        untyped
            .retype(
                ObjectType::Untyped,
                u64::from(bits - 1),
                root_cnode(),
                0,
                0,
                halves,
                2,
            )
            .expect("split device untyped");
        let upper = target >= base + (1 << (bits - 1));
        bits -= 1;
        if upper {
            base += 1 << bits;
        }
        untyped = Cap::from_cptr(halves + u64::from(upper));
    }
    let frame = slots.take(1);
    untyped
        .retype(ObjectType::SmallPage, 0, root_cnode(), 0, 0, frame, 1)
        .expect("retype UART frame");
    Cap::from_cptr(frame)
}

fn uart_read(offset: u64) -> u32 {
    // SAFETY: the UART page is mapped uncached at UART_VADDR.
    unsafe { core::ptr::read_volatile((UART_VADDR + offset) as *const u32) }
}

fn uart_write(offset: u64, value: u32) {
    // SAFETY: as in `uart_read`.
    unsafe { core::ptr::write_volatile((UART_VADDR + offset) as *mut u32, value) }
}

fn uart_put(byte: u8) {
    while uart_read(UARTFR) & FR_TXFF != 0 {
        core::hint::spin_loop();
    }
    uart_write(UARTDR, u32::from(byte));
}

/// Gives the UART back to the kernel (so its report is seen), then panics
/// with `what`: for failures once this task owns the UART.
fn fail_owned(handler: Cap<IrqHandler>, what: &str, e: impl core::fmt::Debug) -> ! {
    uart_println!("[irq-uart] FAIL {what}: {e:?}");
    let _ = handler.clear();
    panic!("{what}: {e:?}");
}

fn main(bootinfo_addr: usize, _cycles: u64) -> ! {
    // SAFETY: the address the kernel passed in x0.
    let bi = unsafe { bootinfo::from_entry_arg(bootinfo_addr) };
    // SAFETY: BootInfo names this thread's IPC buffer, used by nobody else.
    unsafe { sel4::ipc_buffer::set_ipc_buffer(bi.ipc_buffer as *mut _) };
    let platform = Platform::from_dtb(device_tree(bootinfo_addr, bi)).expect("read the DTB");
    let (uart, irq) = (platform.uart, platform.uart_irq);
    println!("[irq-uart] UART at {:#x}, interrupt {irq}", uart.base);

    let mut slots = Slots {
        next: bi.empty.start,
        end: bi.empty.end,
    };
    let list = bootinfo::untypeds(bi);
    let untyped_slot = |i: usize| bi.untyped.start + i as u64;
    let (dev_index, dev) = list
        .iter()
        .enumerate()
        .find(|(_, u)| {
            u.is_device != 0 && u.paddr <= uart.base && uart.base < u.paddr + (1 << u.size_bits)
        })
        .expect("no device untyped covers the UART");
    let (ram_index, _) = list
        .iter()
        .enumerate()
        .find(|(_, u)| u.is_device == 0 && u.size_bits >= 16)
        .expect("no RAM untyped of 64 KiB");
    let ram = Cap::<Untyped>::from_cptr(untyped_slot(ram_index));

    let frame = device_frame(
        &mut slots,
        untyped_slot(dev_index),
        dev.paddr,
        u32::from(dev.size_bits),
        uart.base,
    );
    let vspace = Cap::<VSpace>::from_cptr(CAP_INIT_THREAD_VSPACE as u64);
    let tables = slots.take(3);
    ram.retype(ObjectType::PageTable, 0, root_cnode(), 0, 0, tables, 3)
        .expect("retype page tables");
    let mut next_table = 0;
    // Map the page, adding a page table each time a level is missing.
    while let Err(e) = frame.map(vspace, UART_VADDR, CapRights::READ_WRITE, EXECUTE_NEVER) {
        assert!(next_table < 3, "mapping the UART still fails: {e:?}");
        Cap::<PageTable>::from_cptr(tables + next_table)
            .map(vspace, UART_VADDR, 0)
            .expect("map page table");
        next_table += 1;
    }

    let notification = slots.take(1);
    ram.retype(
        ObjectType::Notification,
        0,
        root_cnode(),
        0,
        0,
        notification,
        1,
    )
    .expect("retype notification");
    let notification = Cap::<Notification>::from_cptr(notification);
    let handler = slots.take(1);
    Cap::<IrqControl>::from_cptr(CAP_IRQ_CONTROL as u64)
        .get(u64::from(irq), root_cnode(), handler, FULL_DEPTH)
        .expect("IRQControl_Get");
    let handler = Cap::<IrqHandler>::from_cptr(handler);
    handler
        .set_notification(notification)
        .expect("IRQHandler_SetNotification");
    // The UART is this task's now: the kernel logs what it would print.
    if let Err(e) = handler.ack() {
        fail_owned(handler, "IRQHandler_Ack", e);
    }
    uart_write(UARTIMSC, uart_read(UARTIMSC) | RX_INTERRUPTS);
    println!("{KERNEL_LOG_TEXT}");
    uart_println!("[irq-uart] waiting for input");

    let mut line = [0u8; 80];
    let mut len = 0;
    let mut interrupts = 0u64;
    loop {
        notification.wait();
        interrupts += 1;
        while uart_read(UARTFR) & FR_RXFE == 0 {
            let c = (uart_read(UARTDR) & 0xff) as u8;
            if c == b'\r' || c == b'\n' {
                let text = core::str::from_utf8(&line[..len]).unwrap_or("<not UTF-8>");
                uart_println!("[irq-uart] line {text:?} after {interrupts} interrupts");
                if &line[..len] == QUIT {
                    uart_println!("[irq-uart] done");
                    // Hand the UART back: the kernel replays its log and
                    // prints directly again.
                    handler.clear().expect("IRQHandler_Clear");
                    println!("[irq-uart] the kernel prints again");
                    libcerne::syscalls::debug_halt();
                }
                len = 0;
            } else if len < line.len() {
                line[len] = c;
                len += 1;
            }
        }
        uart_write(UARTICR, RX_INTERRUPTS);
        if let Err(e) = handler.ack() {
            fail_owned(handler, "IRQHandler_Ack", e);
        }
    }
}

libcerne::entry!(main);
