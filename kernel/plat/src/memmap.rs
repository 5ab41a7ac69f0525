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

/// Reads entry `index` of an `interrupts` property made of three-cell GIC
/// specifiers, as an INTID.
fn interrupt_intid(interrupts: &[u8], index: usize) -> Option<u32> {
    let cell = |i: usize| -> Option<u32> {
        let bytes = interrupts.get(i * 4..i * 4 + 4)?;
        Some(u32::from_be_bytes(bytes.try_into().ok()?))
    };
    gic_intid(cell(index * 3)?, cell(index * 3 + 1)?)
}

/// Size of the header `totalsize` says the blob has, if it looks like a DTB.
pub fn dtb_total_size(header: &[u8]) -> Option<usize> {
    const FDT_MAGIC: u32 = 0xd00d_feed;
    let magic = u32::from_be_bytes(header.get(0..4)?.try_into().ok()?);
    let size = u32::from_be_bytes(header.get(4..8)?.try_into().ok()?);
    (magic == FDT_MAGIC && size >= 40).then_some(size as usize)
}

/// True if a `compatible` property (NUL-separated strings) lists one of
/// `wanted`.
fn is_compatible(compatible: Option<&[u8]>, wanted: &[&str]) -> bool {
    compatible.is_some_and(|list| {
        list.split(|&b| b == 0)
            .any(|entry| wanted.iter().any(|w| w.as_bytes() == entry))
    })
}

fn regions<'a>(node: fdt::node::FdtNode<'_, 'a>) -> impl Iterator<Item = Region> + use<'a> {
    node.reg().into_iter().flatten().map(|r| Region {
        base: r.starting_address as u64,
        size: r.size.unwrap_or(0) as u64,
    })
}

const GIC_V3_COMPATIBLE: &[&str] = &["arm,gic-v3"];
const GIC_V2_COMPATIBLE: &[&str] = &["arm,cortex-a15-gic", "arm,gic-400", "arm,cortex-a9-gic"];
const TIMER_COMPATIBLE: &[&str] = &["arm,armv8-timer", "arm,armv7-timer"];
const UART_COMPATIBLE: &[&str] = &["arm,pl011"];

impl Platform {
    /// Reads the platform from a device tree blob, in one pass over its
    /// nodes (each lookup of the `fdt` crate walks the whole tree, which
    /// costs more than the rest of boot).
    pub fn from_dtb(dtb: &[u8]) -> Result<Self, PlatformError> {
        let total = dtb_total_size(dtb).ok_or(PlatformError::NotADeviceTree)?;
        let blob = dtb.get(..total).ok_or(PlatformError::NotADeviceTree)?;
        let tree = fdt::Fdt::new(blob).map_err(|_| PlatformError::NotADeviceTree)?;

        let mut ram = RegionSet::new();
        let mut uart = None;
        let mut gic = None;
        let mut virtual_timer_irq = None;
        let mut psci = None;
        for node in tree.all_nodes() {
            let (mut device_type, mut compatible, mut method, mut interrupts) =
                (None, None, None, None);
            for property in node.properties() {
                match property.name {
                    "device_type" => device_type = property.as_str(),
                    "compatible" => compatible = Some(property.value),
                    "method" => method = property.as_str(),
                    "interrupts" => interrupts = Some(property.value),
                    _ => {}
                }
            }
            let name = node.name.split('@').next().unwrap_or("");
            if name == "memory" && device_type == Some("memory") {
                for bank in regions(node).filter(|r| !r.is_empty()) {
                    ram.insert(bank)
                        .map_err(|_| PlatformError::TooManyMemoryRegions)?;
                }
            } else if name == "psci" {
                psci = match method {
                    Some("hvc") => Some(PsciConduit::Hvc),
                    Some("smc") => Some(PsciConduit::Smc),
                    _ => None,
                };
            } else if uart.is_none() && is_compatible(compatible, UART_COMPATIBLE) {
                let registers = regions(node).next().ok_or(PlatformError::NoUart)?;
                let irq = interrupts
                    .and_then(|i| interrupt_intid(i, 0))
                    .ok_or(PlatformError::BadInterrupts("UART"))?;
                uart = Some((registers, irq));
            } else if is_compatible(compatible, TIMER_COMPATIBLE) {
                // Order fixed by the binding: secure phys, non-secure phys,
                // virtual, hyp.
                virtual_timer_irq = Some(
                    interrupts
                        .and_then(|i| interrupt_intid(i, 2))
                        .ok_or(PlatformError::BadInterrupts("timer"))?,
                );
            } else if gic.is_none() {
                let version = if is_compatible(compatible, GIC_V3_COMPATIBLE) {
                    GicVersion::V3
                } else if is_compatible(compatible, GIC_V2_COMPATIBLE) {
                    GicVersion::V2
                } else {
                    continue;
                };
                gic = Some(Self::read_gic(&node, version)?);
            }
        }
        if ram.is_empty() {
            return Err(PlatformError::NoMemory);
        }
        let (uart, uart_irq) = uart.ok_or(PlatformError::NoUart)?;
        Ok(Self {
            ram,
            uart,
            uart_irq,
            gic: gic.ok_or(PlatformError::NoInterruptController)?,
            virtual_timer_irq: virtual_timer_irq.ok_or(PlatformError::NoTimer)?,
            psci,
        })
    }

    fn read_gic(
        node: &fdt::node::FdtNode<'_, '_>,
        version: GicVersion,
    ) -> Result<Gic, PlatformError> {
        let mut regs = regions(*node);
        let distributor = regs
            .next()
            .ok_or(PlatformError::BadInterruptControllerRegs)?;
        let cpu_interface = regs
            .next()
            .ok_or(PlatformError::BadInterruptControllerRegs)?;
        let mut all_regions = RegionSet::new();
        for r in [distributor, cpu_interface].into_iter().chain(regs) {
            all_regions
                .insert(r)
                .map_err(|_| PlatformError::BadInterruptControllerRegs)?;
        }
        Ok(Gic {
            version,
            distributor,
            cpu_interface,
            all_regions,
        })
    }

    /// The RAM bank that holds all of `[base, base + size)`, if one does.
    pub fn bank_holding(&self, base: u64, size: u64) -> Option<Region> {
        let range = Region { base, size };
        self.ram
            .as_slice()
            .iter()
            .copied()
            .find(|bank| bank.contains(&range))
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
