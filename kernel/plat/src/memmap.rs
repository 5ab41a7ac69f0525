//! The platform as the device tree describes it: RAM, the console UART, the
//! interrupt controller, the generic timer's interrupt and the PSCI conduit.
//!
//! Nothing here is hard-coded for one board: every address and interrupt
//! number is read from the DTB the loader hands over.

use crate::region::{Region, RegionSet};

/// Most RAM banks the kernel tracks.
pub const MAX_RAM_REGIONS: usize = 8;
/// Most register windows of the interrupt controller the kernel reserves.
pub const MAX_GIC_REGIONS: usize = 4;

/// Why a device tree could not be turned into a [`Platform`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlatformError {
    /// The blob is not a flattened device tree (bad magic, size or version).
    NotADeviceTree,
    /// No `/memory` node with a usable `reg`.
    NoMemory,
    /// More RAM banks than [`MAX_RAM_REGIONS`].
    TooManyMemoryRegions,
    /// No node compatible with `arm,pl011`.
    NoUart,
    /// No GICv2 or GICv3 interrupt controller node.
    NoInterruptController,
    /// The interrupt controller's `reg` is missing or short.
    BadInterruptControllerRegs,
    /// No `arm,armv8-timer` node with four interrupts.
    NoTimer,
    /// A node's `interrupts` property is missing or malformed.
    BadInterrupts(&'static str),
}

impl core::fmt::Display for PlatformError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NotADeviceTree => write!(f, "the blob is not a flattened device tree"),
            Self::NoMemory => write!(f, "the device tree has no /memory node with a reg property"),
            Self::TooManyMemoryRegions => {
                write!(
                    f,
                    "the device tree lists more than {MAX_RAM_REGIONS} RAM regions"
                )
            }
            Self::NoUart => write!(f, "the device tree has no arm,pl011 UART"),
            Self::NoInterruptController => {
                write!(
                    f,
                    "the device tree has no arm,cortex-a15-gic or arm,gic-v3 node"
                )
            }
            Self::BadInterruptControllerRegs => {
                write!(
                    f,
                    "the interrupt controller node's reg property is malformed"
                )
            }
            Self::NoTimer => write!(f, "the device tree has no arm,armv8-timer node"),
            Self::BadInterrupts(node) => write!(f, "the {node} node's interrupts are malformed"),
        }
    }
}

/// Which generation of the Arm Generic Interrupt Controller the board has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GicVersion {
    /// GICv2: distributor + CPU interface.
    V2,
    /// GICv3: distributor + redistributors.
    V3,
}

/// The interrupt controller's register windows.
#[derive(Clone, Debug)]
pub struct Gic {
    /// v2 or v3.
    pub version: GicVersion,
    /// Distributor registers.
    pub distributor: Region,
    /// GICv2: CPU interface; GICv3: redistributor range.
    pub cpu_interface: Region,
    /// Every register window the node lists (all kernel-owned).
    pub all_regions: RegionSet<MAX_GIC_REGIONS>,
}

/// How to reach PSCI firmware.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PsciConduit {
    /// `hvc #0` (plain `-M virt`).
    Hvc,
    /// `smc #0` (`-M virt,virtualization=on` and real firmware).
    Smc,
}

/// Everything the kernel needs to know about the board.
#[derive(Clone, Debug)]
pub struct Platform {
    /// RAM banks, sorted and merged.
    pub ram: RegionSet<MAX_RAM_REGIONS>,
    /// The PL011 UART's registers.
    pub uart: Region,
    /// The UART's interrupt as a GIC INTID.
    pub uart_irq: u32,
    /// The interrupt controller.
    pub gic: Gic,
    /// The EL1 virtual timer's interrupt as a GIC INTID (a PPI).
    pub virtual_timer_irq: u32,
    /// The PSCI conduit, if the tree describes PSCI.
    pub psci: Option<PsciConduit>,
}

/// GIC interrupt specifier type: shared peripheral interrupt.
const GIC_SPI: u32 = 0;
/// GIC interrupt specifier type: private peripheral interrupt.
const GIC_PPI: u32 = 1;
/// First INTID of the PPIs.
const PPI_BASE: u32 = 16;
/// First INTID of the SPIs.
const SPI_BASE: u32 = 32;

/// Converts one three-cell GIC interrupt specifier to an INTID.
fn gic_intid(kind: u32, number: u32) -> Option<u32> {
    match kind {
        GIC_SPI => number.checked_add(SPI_BASE),
        GIC_PPI => number.checked_add(PPI_BASE),
        _ => None,
    }
}

/// Reads a node's `interrupts` as three-cell GIC specifiers, returning the
/// INTID of entry `index`.
fn interrupt_intid(node: &fdt::node::FdtNode<'_, '_>, index: usize) -> Option<u32> {
    let prop = node.property("interrupts")?;
    let cell = |i: usize| -> Option<u32> {
        let bytes = prop.value.get(i * 4..i * 4 + 4)?;
        Some(u32::from_be_bytes(bytes.try_into().ok()?))
    };
    let kind = cell(index * 3)?;
    let number = cell(index * 3 + 1)?;
    gic_intid(kind, number)
}

/// Size of the header `totalsize` says the blob has, if it looks like a DTB.
pub fn dtb_total_size(header: &[u8]) -> Option<usize> {
    const FDT_MAGIC: u32 = 0xd00d_feed;
    let magic = u32::from_be_bytes(header.get(0..4)?.try_into().ok()?);
    let size = u32::from_be_bytes(header.get(4..8)?.try_into().ok()?);
    (magic == FDT_MAGIC && size >= 40).then_some(size as usize)
}

fn first_reg(node: &fdt::node::FdtNode<'_, '_>) -> Option<Region> {
    let r = node.reg()?.next()?;
    Some(Region {
        base: r.starting_address as u64,
        size: r.size? as u64,
    })
}

impl Platform {
    /// Reads the platform from a device tree blob.
    pub fn from_dtb(dtb: &[u8]) -> Result<Self, PlatformError> {
        let total = dtb_total_size(dtb).ok_or(PlatformError::NotADeviceTree)?;
        let blob = dtb.get(..total).ok_or(PlatformError::NotADeviceTree)?;
        let tree = fdt::Fdt::new(blob).map_err(|_| PlatformError::NotADeviceTree)?;

        let mut ram = RegionSet::new();
        for node in tree.all_nodes() {
            let is_memory = node.name == "memory" || node.name.starts_with("memory@");
            let typed = node
                .property("device_type")
                .and_then(|p| p.as_str())
                .is_some_and(|t| t == "memory");
            if !(is_memory && typed) {
                continue;
            }
            for r in node.reg().into_iter().flatten() {
                let region = Region {
                    base: r.starting_address as u64,
                    size: r.size.unwrap_or(0) as u64,
                };
                ram.insert(region)
                    .map_err(|_| PlatformError::TooManyMemoryRegions)?;
            }
        }
        if ram.is_empty() {
            return Err(PlatformError::NoMemory);
        }

        let uart_node = tree
            .find_compatible(&["arm,pl011"])
            .ok_or(PlatformError::NoUart)?;
        let uart = first_reg(&uart_node).ok_or(PlatformError::NoUart)?;
        let uart_irq =
            interrupt_intid(&uart_node, 0).ok_or(PlatformError::BadInterrupts("UART"))?;

        let gic = Self::read_gic(&tree)?;

        let timer = tree
            .find_compatible(&["arm,armv8-timer", "arm,armv7-timer"])
            .ok_or(PlatformError::NoTimer)?;
        // Order fixed by the binding: secure phys, non-secure phys, virtual, hyp.
        let virtual_timer_irq =
            interrupt_intid(&timer, 2).ok_or(PlatformError::BadInterrupts("timer"))?;

        let psci = tree
            .find_node("/psci")
            .and_then(|n| n.property("method"))
            .and_then(|p| p.as_str())
            .and_then(|m| match m {
                "hvc" => Some(PsciConduit::Hvc),
                "smc" => Some(PsciConduit::Smc),
                _ => None,
            });

        Ok(Self {
            ram,
            uart,
            uart_irq,
            gic,
            virtual_timer_irq,
            psci,
        })
    }

    fn read_gic(tree: &fdt::Fdt<'_>) -> Result<Gic, PlatformError> {
        let (node, version) = if let Some(n) = tree.find_compatible(&["arm,gic-v3"]) {
            (n, GicVersion::V3)
        } else if let Some(n) =
            tree.find_compatible(&["arm,cortex-a15-gic", "arm,gic-400", "arm,cortex-a9-gic"])
        {
            (n, GicVersion::V2)
        } else {
            return Err(PlatformError::NoInterruptController);
        };
        let mut regs = node
            .reg()
            .ok_or(PlatformError::BadInterruptControllerRegs)?;
        let mut next = || -> Result<Region, PlatformError> {
            let r = regs
                .next()
                .ok_or(PlatformError::BadInterruptControllerRegs)?;
            Ok(Region {
                base: r.starting_address as u64,
                size: r.size.unwrap_or(0) as u64,
            })
        };
        let distributor = next()?;
        let cpu_interface = next()?;
        let mut all_regions = RegionSet::new();
        let mut insert = |r: Region| {
            all_regions
                .insert(r)
                .map_err(|_| PlatformError::BadInterruptControllerRegs)
        };
        insert(distributor)?;
        insert(cpu_interface)?;
        while let Ok(r) = next() {
            insert(r)?;
        }
        Ok(Gic {
            version,
            distributor,
            cpu_interface,
            all_regions,
        })
    }

    /// The lowest RAM address.
    pub fn ram_base(&self) -> u64 {
        self.ram.as_slice().first().map_or(0, |r| r.base)
    }

    /// One past the highest RAM address.
    pub fn ram_end(&self) -> u64 {
        self.ram.as_slice().last().map_or(0, |r| r.end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// QEMU 7.2's own DTBs for `-M virt -cpu cortex-a53`, dumped with
    /// `-machine dumpdtb=...` (see tests/dtb/README.md).
    const VIRT_512M: &[u8] = include_bytes!("../tests/dtb/virt-512m.dtb");
    const VIRT_2G_EL2: &[u8] = include_bytes!("../tests/dtb/virt-2g-virtualization.dtb");
    const VIRT_256M_GICV3: &[u8] = include_bytes!("../tests/dtb/virt-256m-gicv3.dtb");

    #[test]
    fn qemu_virt_512m() {
        let p = Platform::from_dtb(VIRT_512M).unwrap();
        assert_eq!(
            p.ram.as_slice(),
            &[Region {
                base: 0x4000_0000,
                size: 512 << 20
            }]
        );
        assert_eq!(
            p.uart,
            Region {
                base: 0x0900_0000,
                size: 0x1000
            }
        );
        assert_eq!(p.uart_irq, 33);
        assert_eq!(p.gic.version, GicVersion::V2);
        assert_eq!(
            p.gic.distributor,
            Region {
                base: 0x0800_0000,
                size: 0x1_0000
            }
        );
        assert_eq!(
            p.gic.cpu_interface,
            Region {
                base: 0x0801_0000,
                size: 0x1_0000
            }
        );
        assert_eq!(p.virtual_timer_irq, 27);
        assert_eq!(p.psci, Some(PsciConduit::Hvc));
        assert_eq!(p.ram_end(), 0x6000_0000);
    }

    #[test]
    fn qemu_virt_2g_with_el2_uses_smc() {
        let p = Platform::from_dtb(VIRT_2G_EL2).unwrap();
        assert_eq!(p.ram.total_bytes(), 2 << 30);
        assert_eq!(p.psci, Some(PsciConduit::Smc));
        // With virtualization on, the GICv2 node also lists GICH and GICV.
        assert!(p.gic.all_regions.len() >= 2);
    }

    #[test]
    fn qemu_virt_gicv3() {
        let p = Platform::from_dtb(VIRT_256M_GICV3).unwrap();
        assert_eq!(p.gic.version, GicVersion::V3);
        assert_eq!(p.gic.distributor.base, 0x0800_0000);
        assert_eq!(p.ram.total_bytes(), 256 << 20);
    }

    #[test]
    fn rejects_what_is_not_a_dtb() {
        assert_eq!(
            Platform::from_dtb(&[0u8; 64]).unwrap_err(),
            PlatformError::NotADeviceTree
        );
        assert_eq!(
            Platform::from_dtb(&[]).unwrap_err(),
            PlatformError::NotADeviceTree
        );
        let mut truncated = VIRT_512M[..100].to_vec();
        truncated.extend_from_slice(&[0; 4]);
        assert_eq!(
            Platform::from_dtb(&truncated).unwrap_err(),
            PlatformError::NotADeviceTree
        );
    }

    #[test]
    fn dtb_size_from_header() {
        assert_eq!(dtb_total_size(VIRT_512M), Some(VIRT_512M.len()));
    }
}
