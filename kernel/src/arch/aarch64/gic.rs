//! The interrupt controller, behind one interface so that the GIC version is
//! a detail of this module.
//!
//! GICv2 (QEMU virt's default) is driven through the `arm-gic` crate. GICv3
//! boards are recognised from the DTB and refused with a clear message until
//! its driver lands here; nothing outside this module names a GIC version.

use arm_gic::gicv2::GicV2;
use arm_gic::{IntId, InterruptGroup, Trigger};
use cerne_plat::memmap::{Gic, GicVersion};

/// The board's interrupt controller.
pub struct InterruptController {
    gic: GicV2<'static>,
}

/// Why the interrupt controller could not be brought up.
#[derive(Debug)]
pub enum GicError {
    /// The DTB describes a GIC generation this kernel does not drive yet.
    Unsupported(GicVersion),
}

impl core::fmt::Display for GicError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Unsupported(v) => write!(
                f,
                "the DTB describes a {v:?} interrupt controller, which Cerne does not drive yet"
            ),
        }
    }
}

fn intid(irq: u32) -> IntId {
    match irq {
        0..=15 => IntId::sgi(irq),
        16..=31 => IntId::ppi(irq - 16),
        _ => IntId::spi(irq - 32),
    }
}

impl InterruptController {
    /// Brings the GIC up with every interrupt disabled.
    ///
    /// # Safety
    /// The distributor and CPU-interface windows of `gic` must be mapped as
    /// device memory at `paddr + window_offset`, exclusively for this driver.
    pub unsafe fn new(gic: &Gic, window_offset: u64) -> Result<Self, GicError> {
        if gic.version != GicVersion::V2 {
            return Err(GicError::Unsupported(gic.version));
        }
        let gicd = (gic.distributor.base + window_offset) as *mut arm_gic::gicv2::registers::Gicd;
        let gicc = (gic.cpu_interface.base + window_offset) as *mut arm_gic::gicv2::registers::Gicc;
        // SAFETY: the caller guarantees both windows are mapped and exclusive.
        let mut gic = unsafe { GicV2::new(gicd, gicc) };
        gic.enable_all_interrupts(false);
        gic.setup();
        gic.set_priority_mask(0xff);
        Ok(Self { gic })
    }

    /// Unmasks `irq` at the distributor.
    pub fn enable(&mut self, irq: u32) {
        self.gic.set_interrupt_priority(intid(irq), 0x80);
        // An interrupt that cannot be enabled simply never fires.
        let _ = self.gic.enable_interrupt(intid(irq), true);
    }

    /// Masks `irq` at the distributor.
    pub fn disable(&mut self, irq: u32) {
        let _ = self.gic.enable_interrupt(intid(irq), false);
    }

    /// Sets level (false) or edge (true) triggering.
    pub fn set_edge_triggered(&mut self, irq: u32, edge: bool) {
        self.gic.set_trigger(
            intid(irq),
            if edge { Trigger::Edge } else { Trigger::Level },
        );
    }

    /// Acknowledges the highest-priority pending interrupt.
    pub fn acknowledge(&mut self) -> Option<u32> {
        self.gic
            .get_and_acknowledge_interrupt(InterruptGroup::Group0)
            .map(u32::from)
    }

    /// Signals the end of handling `irq`.
    pub fn end(&mut self, irq: u32) {
        self.gic.end_interrupt(intid(irq), InterruptGroup::Group0);
    }
}
