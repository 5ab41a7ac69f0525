//! The PL011 UART, the kernel's debug console.

use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};
use tock_registers::registers::{ReadOnly, ReadWrite};
use tock_registers::{register_bitfields, register_structs};

register_bitfields! [u32,
    FR [
        /// Transmit FIFO full.
        TXFF OFFSET(5) NUMBITS(1) [],
        /// Receive FIFO empty.
        RXFE OFFSET(4) NUMBITS(1) [],
        /// UART busy transmitting.
        BUSY OFFSET(3) NUMBITS(1) []
    ],
    CR [
        /// Receive enable.
        RXE OFFSET(9) NUMBITS(1) [],
        /// Transmit enable.
        TXE OFFSET(8) NUMBITS(1) [],
        /// UART enable.
        UARTEN OFFSET(0) NUMBITS(1) []
    ]
];

register_structs! {
    /// PL011 registers (ARM DDI 0183).
    Registers {
        (0x00 => dr: ReadWrite<u32>),
        (0x04 => _reserved0),
        (0x18 => fr: ReadOnly<u32, FR::Register>),
        (0x1c => _reserved1),
        (0x30 => cr: ReadWrite<u32, CR::Register>),
        (0x34 => @END),
    }
}

/// A PL011 reached through a kernel virtual address.
pub struct Pl011 {
    registers: &'static Registers,
}

// SAFETY: a Pl011 is only reached through the console's lock; the registers
// are device memory usable from any context of this single CPU.
unsafe impl Send for Pl011 {}

impl Pl011 {
    /// Takes the UART whose registers are mapped as device memory at `vaddr`.
    ///
    /// # Safety
    /// `vaddr` must map a PL011's registers for the rest of the kernel's life,
    /// and no other `Pl011` may exist for it.
    pub unsafe fn new(vaddr: u64) -> Self {
        // SAFETY: the caller guarantees a live, exclusive device mapping.
        let registers = unsafe { &*(vaddr as *const Registers) };
        let uart = Self { registers };
        uart.registers
            .cr
            .write(CR::UARTEN::SET + CR::TXE::SET + CR::RXE::SET);
        uart
    }

    /// Sends one byte, waiting for room in the FIFO.
    pub fn put_byte(&self, byte: u8) {
        while self.registers.fr.is_set(FR::TXFF) {
            core::hint::spin_loop();
        }
        self.registers.dr.set(u32::from(byte));
    }

    /// Turns the UART and its transmitter back on if a user-level driver
    /// that owned the UART left them off (the kernel taking it back).
    pub fn reenable_transmit(&self) {
        if !self
            .registers
            .cr
            .matches_all(CR::UARTEN::SET + CR::TXE::SET)
        {
            self.registers.cr.modify(CR::UARTEN::SET + CR::TXE::SET);
        }
    }

    /// Waits until every queued byte has left.
    pub fn flush(&self) {
        while self.registers.fr.is_set(FR::BUSY) {
            core::hint::spin_loop();
        }
    }
}

impl core::fmt::Write for Pl011 {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                self.put_byte(b'\r');
            }
            self.put_byte(b);
        }
        Ok(())
    }
}
