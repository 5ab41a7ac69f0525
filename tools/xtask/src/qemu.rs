//! The QEMU command line for a Cerne image on the `virt` board, and the
//! memory sizes it takes.

use std::fmt;
use std::path::Path;
use std::process::Command;
use std::str::FromStr;

use crate::setup::QEMU;

/// One mebibyte.
pub const MIB: u64 = 1 << 20;

/// The base of RAM on QEMU's virt board.
pub const VIRT_RAM_BASE: u64 = 0x4000_0000;

/// The flags that make PMCCNTR_EL0 count one per guest instruction.
pub const ICOUNT: &str = "shift=0,align=off,sleep=off";

/// A guest RAM size, a whole number of MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemSize {
    bytes: u64,
}

impl MemSize {
    /// The size used when `--mem` is not given.
    pub const DEFAULT: MemSize = MemSize::mib(512);

    /// A size of `mib` MiB.
    pub const fn mib(mib: u64) -> Self {
        MemSize { bytes: mib * MIB }
    }

    /// The size in bytes.
    pub fn bytes(self) -> u64 {
        self.bytes
    }

    /// The size in MiB.
    pub fn in_mib(self) -> u64 {
        self.bytes / MIB
    }
}

impl fmt::Display for MemSize {
    /// As QEMU's `-m` takes it: `2G` when a whole number of GiB, else `512M`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = self.in_mib();
        if mib.is_multiple_of(1024) {
            write!(f, "{}G", mib / 1024)
        } else {
            write!(f, "{mib}M")
        }
    }
}

impl FromStr for MemSize {
    type Err = String;

    /// `512M`, `512MiB`, `2G`, `2GiB`, or a bare number of MiB (as QEMU's
    /// `-m` reads one).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("bad memory size `{s}`: expected e.g. 256M, 512M or 2G");
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (digits, unit) = t.split_at(split);
        let n: u64 = digits.parse().map_err(|_| bad())?;
        let mib = match unit.to_ascii_uppercase().as_str() {
            "" | "M" | "MB" | "MIB" => Some(n),
            "G" | "GB" | "GIB" => n.checked_mul(1024),
            _ => None,
        }
        .ok_or_else(bad)?;
        if mib == 0 || mib > (1 << 20) {
            return Err(format!("memory size `{s}` is out of range"));
        }
        Ok(MemSize::mib(mib))
    }
}

/// How the virtual machine is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// Enter at EL2 (`virtualization=on`) rather than EL1.
    pub el2: bool,
    /// Guest RAM.
    pub mem: MemSize,
    /// Run under `-icount` so the cycle counter counts instructions.
    pub icount: bool,
    /// A raw disk image attached as a virtio-blk device (on the modern
    /// virtio-mmio transport, docs/block.md).
    pub disk: Option<std::path::PathBuf>,
    /// Extra flags from the user, appended last.
    pub extra: Vec<String>,
}

impl Default for Machine {
    fn default() -> Self {
        Machine {
            el2: false,
            mem: MemSize::DEFAULT,
            icount: false,
            disk: None,
            extra: Vec::new(),
        }
    }
}

/// The arguments (after the program name) that boot `image` on `machine`.
pub fn args(image: &Path, machine: &Machine) -> Vec<String> {
    let board = if machine.el2 {
        "virt,virtualization=on"
    } else {
        "virt"
    };
    let mut args: Vec<String> = [
        "-M",
        board,
        "-cpu",
        "cortex-a53",
        "-m",
        &machine.mem.to_string(),
        "-nographic",
        "-kernel",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(image.display().to_string());
    if machine.icount {
        args.push("-icount".into());
        args.push(ICOUNT.into());
    }
    if let Some(disk) = &machine.disk {
        args.extend(disk_args(disk));
    }
    args.extend(machine.extra.iter().cloned());
    args
}

/// The flags that attach `disk` as the first virtio-blk device: on QEMU
/// virt it takes the last virtio-mmio transport (0x0a003e00, INTID 79),
/// which the system descriptions give the block driver. The modern (v2)
/// transport lets the virtqueue's parts live in separate pages.
pub fn disk_args(disk: &Path) -> Vec<String> {
    vec![
        "-global".into(),
        "virtio-mmio.force-legacy=false".into(),
        "-drive".into(),
        format!("file={},if=none,format=raw,id=disk0", disk.display()),
        "-device".into(),
        "virtio-blk-device,drive=disk0".into(),
    ]
}

/// The QEMU command that boots `image` on `machine`.
pub fn command(image: &Path, machine: &Machine) -> Command {
    let mut cmd = Command::new(QEMU);
    cmd.args(args(image, machine));
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes() {
        assert_eq!("512M".parse(), Ok(MemSize::mib(512)));
        assert_eq!("256".parse(), Ok(MemSize::mib(256)));
        assert_eq!("2G".parse(), Ok(MemSize::mib(2048)));
        assert_eq!("2gib".parse(), Ok(MemSize::mib(2048)));
        assert!("".parse::<MemSize>().is_err());
        assert!("12X".parse::<MemSize>().is_err());
        assert!("0M".parse::<MemSize>().is_err());
        assert!("99999999999999999999G".parse::<MemSize>().is_err());
    }

    #[test]
    fn prints_sizes_as_qemu_takes_them() {
        assert_eq!(MemSize::mib(512).to_string(), "512M");
        assert_eq!(MemSize::mib(2048).to_string(), "2G");
    }

    #[test]
    fn command_line() {
        let machine = Machine {
            el2: true,
            icount: true,
            extra: vec!["-s".into()],
            ..Machine::default()
        };
        assert_eq!(
            args(Path::new("x.elf"), &machine).join(" "),
            "-M virt,virtualization=on -cpu cortex-a53 -m 512M -nographic -kernel x.elf \
             -icount shift=0,align=off,sleep=off -s"
        );
    }

    #[test]
    fn a_disk_is_the_first_virtio_blk_device_on_the_modern_transport() {
        let machine = Machine {
            disk: Some("d.img".into()),
            extra: vec!["-s".into()],
            ..Machine::default()
        };
        assert_eq!(
            args(Path::new("x.elf"), &machine).join(" "),
            "-M virt -cpu cortex-a53 -m 512M -nographic -kernel x.elf \
             -global virtio-mmio.force-legacy=false \
             -drive file=d.img,if=none,format=raw,id=disk0 -device virtio-blk-device,drive=disk0 -s"
        );
    }
}
