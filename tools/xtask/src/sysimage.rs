//! From a system description (TOML, docs/systems.md) to the bundle the root
//! task carries: build the component programs (their build scripts generate
//! the cap-slot constants from the same description), expand the description
//! to capDL, validate it, check that printing and parsing it gives the same
//! spec, simulate the allocation against the untypeds the kernel will hand
//! out, and pack the compact spec with the stripped programs.
//!
//! Nothing is written unless every step passed: a description that does not
//! build, does not validate or does not fit is never booted.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use capdl::plan::{self, PlanError, UntypedRegion};
use cerne_plat::region::{Region, RegionSet};
use cerne_plat::untyped;

use crate::cargo::{self, TARGET};
use crate::cli::{SystemArgs, SystemVerb};
use crate::error::{Context, Error, Result};

/// QEMU virt's RAM base (docs/qemu-virt.md).
pub const RAM_BASE: u64 = 0x4000_0000;
/// QEMU virt's GICv2 distributor and CPU interface, which the kernel keeps
/// out of the device untypeds.
pub const GIC: Region = Region {
    base: 0x0800_0000,
    size: 0x2_0000,
};
/// RAM the simulation keeps back besides the kernel and the bundle: the root
/// task's own code, its boot objects (CNode, TCB, page tables, BootInfo,
/// IPC buffer), the DTB, and rounding. At boot the kernel keeps well under
/// this (about 0.6 MiB with a 2^12-slot root CNode), so a spec that fits the
/// simulation fits the machine.
pub const BOOT_RESERVE: u64 = 4 << 20;

/// What [`build`] made.
#[derive(Debug)]
pub struct Bundle {
    /// The packed bundle, for `CERNE_SYSTEM_BUNDLE`.
    pub path: PathBuf,
    /// The expanded spec, printed as capDL.
    pub capdl: PathBuf,
    /// The summary line.
    pub summary: String,
}

/// The system description loaded, with every diagnostic on failure.
pub fn load(description: &Path) -> Result<sysdesc::System> {
    sysdesc::load(description).map_err(|diagnostics| {
        Error::new(
            diagnostics
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })
}

/// Environment variables the component programs are built with, on top of
/// xtask's own: set by a command before it builds (`cargo xtask
/// reliability` passes the campaign's seed and size, which
/// `components/system/build.rs` watches) and cleared after.
static PROGRAM_ENV: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// Builds the component programs with `vars` in their environment from now
/// on (an empty list: none but xtask's own).
pub fn set_program_env(vars: Vec<(String, String)>) {
    *PROGRAM_ENV.lock().unwrap_or_else(|e| e.into_inner()) = vars;
}

/// Builds the programs of `system` (described in `description`) with the
/// given cargo features.
pub fn build_programs(
    description: &Path,
    system: &sysdesc::System,
    features: &[&str],
) -> Result<()> {
    let programs: BTreeSet<&str> = system
        .components
        .iter()
        .map(|c| c.program.as_str())
        .collect();
    let mut cmd = cargo::cargo();
    // The components' package only: with `--workspace`, cargo would unify
    // the programs' dependencies' features with the host tools' (xtask's
    // addr2line turns on crc32fast's `std`, which no_std programs cannot
    // build).
    cmd.args([
        "build",
        "--release",
        "--target",
        TARGET,
        "-p",
        crate::systems::COMPONENTS_PACKAGE,
    ]);
    for p in &programs {
        cmd.args(["--bin", p]);
    }
    crate::image::features(&mut cmd, features);
    cmd.env("CERNE_SYSTEM", absolute(description)?);
    cmd.envs(
        PROGRAM_ENV
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    cargo::run(&mut cmd)
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(path).context(|| format!("cannot read {}", path.display()))
}

/// A program's ELF as the bundle carries it: stripped like the loader's parts.
pub fn load_program(program: &str) -> std::result::Result<Vec<u8>, String> {
    let path = cargo::aarch64_release_dir().join(program);
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let len =
        cerne_plat::elf::stripped_len(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = bytes[..len].to_vec();
    cerne_plat::elf::clear_section_headers(&mut out);
    Ok(out)
}

/// Expands `system` (its programs already built) to a validated spec and the
/// files its fills name.
pub fn expand(description: &Path, system: &sysdesc::System) -> Result<sysdesc::Expanded> {
    let join = |d: Vec<capdl::Diagnostic>| {
        Error::new(
            d.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        )
    };
    let expanded = sysdesc::expand(system, &mut load_program).map_err(join)?;
    let file = format!("{} (expanded)", description.display());
    capdl::validate(&expanded.spec, &file, &capdl::Limits::default()).map_err(join)?;
    let text = capdl::print(&expanded.spec);
    let again = capdl::parse(&file, &text).map_err(|d| join(vec![d]))?;
    if again != expanded.spec {
        return Err(Error::new(format!(
            "{file}: printing the spec and parsing it back gave a different spec"
        )));
    }
    Ok(expanded)
}

/// The untypeds the kernel hands out on QEMU virt with `memory` bytes of RAM,
/// with `reserved` bytes at the start of RAM kept for kernel and root task.
pub fn simulated_untypeds(memory: u64, reserved: u64) -> Result<Vec<UntypedRegion>> {
    let ram = Region {
        base: RAM_BASE,
        size: memory,
    };
    let device = untyped::device_regions([&ram, &GIC], 0x1000)
        .map_err(|_| Error::new("too many device holes"))?;
    let mut free = RegionSet::<4>::new();
    let reserved = reserved.next_multiple_of(2 << 20);
    if reserved < memory {
        free.insert(Region::from_bounds(RAM_BASE + reserved, RAM_BASE + memory))
            .map_err(|_| Error::new("region set full"))?;
    }
    let mut out = Vec::new();
    for (set, is_device) in [(device.as_slice(), true), (free.as_slice(), false)] {
        for r in set {
            for b in untyped::blocks(*r) {
                out.push(UntypedRegion {
                    paddr: b.base,
                    size_bits: b.size_bits as u8,
                    is_device,
                });
            }
        }
    }
    Ok(out)
}

/// Runs the root task's allocation plan for `spec` on the simulated
/// untypeds; the error names the object that does not fit.
pub fn simulate(
    description: &Path,
    system: &sysdesc::System,
    spec: &capdl::Spec,
    encoded: &[u8],
    reserved: u64,
) -> Result<plan::Totals> {
    let view = capdl::compact::SpecView::new(encoded)
        .map_err(|e| Error::new(format!("the encoded spec does not read back: {e}")))?;
    let untypeds = simulated_untypeds(system.memory, reserved)?;
    let name = |i: usize| {
        spec.objects
            .get(i)
            .map_or_else(|| format!("object #{i}"), |o| format!("'{}'", o.name))
    };
    let mut fillers = 0u64;
    let totals = plan::plan(&view, &untypeds, 1, |step| {
        if matches!(step, plan::Step::Filler { .. }) {
            fillers += 1;
        }
        Ok::<(), ()>(())
    })
    .map_err(|e| {
        let why = match e {
            PlanError::NoRoom {
                object: Some(o),
                bits,
            } => format!("no untyped has 2^{bits} bytes left for {}", name(o)),
            PlanError::NoRoom { object: None, bits } => {
                format!("no untyped has 2^{bits} bytes left for the initializer's page table")
            }
            PlanError::NoUntypedAt { object, paddr } => {
                format!(
                    "no untyped covers {paddr:#x}, the address of {}",
                    name(object)
                )
            }
            PlanError::AddressTaken { object, paddr } => format!(
                "{paddr:#x}, the address of {}, is taken by another object",
                name(object)
            ),
            PlanError::Unmakeable { object, why } => {
                format!("{} cannot be made: {why:?}", name(object))
            }
            PlanError::TooManyUntypeds(n) => format!("{n} untypeds is too many"),
            PlanError::Sink(()) => "the simulation failed".into(),
        };
        // Point at the component the object belongs to, else at `memory`.
        let object = match e {
            PlanError::NoRoom { object, .. } => object,
            PlanError::NoUntypedAt { object, .. }
            | PlanError::AddressTaken { object, .. }
            | PlanError::Unmakeable { object, .. } => Some(object),
            _ => None,
        };
        let origin = object
            .and_then(|o| spec.objects.get(o))
            .and_then(|o| {
                system
                    .components
                    .iter()
                    .find(|c| o.name.base.starts_with(&format!("{}_", c.name)))
            })
            .map_or(system.spans.at("memory"), |c| c.spans.header);
        Error::new(format!(
            "{}:{}:{}: system `{}` does not fit in {} MiB of RAM: {why}",
            description.display(),
            origin.line,
            origin.column,
            system.name,
            system.memory >> 20
        ))
    })?;
    // The initializer keeps one root-CNode slot per object, filler, scratch
    // table, second mapping of a frame and IRQ notification copy.
    let mut mapped = std::collections::HashMap::new();
    for o in &spec.objects {
        for slot in &o.slots {
            if matches!(
                o.kind,
                capdl::model::ObjectKind::PageTable { .. } | capdl::model::ObjectKind::VSpace
            ) {
                *mapped
                    .entry(format!("{:?}", slot.cap.target))
                    .or_insert(0u64) += 1;
            }
        }
    }
    let copies: u64 = mapped.values().map(|n| n.saturating_sub(1)).sum();
    let needed = spec.objects.len() as u64 + fillers + 1 + copies + spec.irqs.len() as u64;
    let available = root_cnode_free_slots(reserved);
    if needed > available {
        let origin = system.spans.header;
        return Err(Error::new(format!(
            "{}:{}:{}: system `{}` needs {needed} slots in the root task's CNode (objects, fillers, copies), more than the {available} a 2^{ROOT_CNODE_BITS}-slot root CNode is sure to leave free",
            description.display(),
            origin.line,
            origin.column,
            system.name,
        )));
    }
    Ok(totals)
}

/// The root CNode size described systems are built with
/// (`CERNE_ROOT_CNODE_SIZE_BITS` in [`crate::systems::DESCRIBED_KERNEL_ENV`]).
pub const ROOT_CNODE_BITS: u32 = 14;

/// Free root-CNode slots the kernel leaves, estimated from below: the 16
/// initial caps, the root task's image pages (the bundle and the kernel's
/// size, both in `reserved`, plus 256 KiB of code) and page tables, and a
/// full BootInfo untyped list.
fn root_cnode_free_slots(reserved: u64) -> u64 {
    let image_pages = (reserved.saturating_sub(BOOT_RESERVE) + (256 << 10)) / 4096;
    (1u64 << ROOT_CNODE_BITS).saturating_sub(16 + image_pages + 16 + 230)
}

/// The directory of an image's parts that keeps its programs unstripped.
pub const PROGRAMS_DIR: &str = "programs";

/// Everything from description to bundle, into `out_dir`; `kernel_bytes` is
/// the kernel's loaded size (for the simulation's reservation).
pub fn build(
    description: &Path,
    out_dir: &Path,
    features: &[&str],
    kernel_bytes: u64,
) -> Result<Bundle> {
    let system = load(description)?;
    build_programs(description, &system, features)?;
    let expanded = expand(description, &system)?;
    let encoded = capdl::encode(&expanded.spec)
        .map_err(|e| Error::new(format!("{}: {e}", description.display())))?;
    let packed = capdl::bundle::pack(&encoded, &expanded.files).map_err(Error::new)?;
    let reserved = kernel_bytes + packed.len() as u64 + BOOT_RESERVE;
    let totals = simulate(description, &system, &expanded.spec, &encoded, reserved)?;

    std::fs::create_dir_all(out_dir).context(|| format!("cannot create {}", out_dir.display()))?;
    // Keep each program as built (with its symbols), for naming the
    // addresses of fault reports of this image (crate::symbolize).
    let programs = out_dir.join(PROGRAMS_DIR);
    std::fs::create_dir_all(&programs)
        .context(|| format!("cannot create {}", programs.display()))?;
    for c in &system.components {
        let from = cargo::aarch64_release_dir().join(&c.program);
        let to = programs.join(&c.program);
        std::fs::copy(&from, &to)
            .context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    }
    let capdl_path = out_dir.join("system.cdl");
    std::fs::write(&capdl_path, capdl::print(&expanded.spec))
        .context(|| format!("cannot write {}", capdl_path.display()))?;
    let path = out_dir.join("system.bundle");
    if std::fs::read(&path).ok().as_deref() != Some(packed.as_slice()) {
        std::fs::write(&path, &packed).context(|| format!("cannot write {}", path.display()))?;
    }
    let caps: usize = expanded.spec.objects.iter().map(|o| o.slots.len()).sum();
    let summary = format!(
        "system `{}`: {} components, {} objects, {} caps; {} bytes of objects ({} fillers) fit in {} MiB; bundle {} bytes",
        system.name,
        system.components.len(),
        expanded.spec.objects.len(),
        caps,
        totals.bytes,
        totals.fillers,
        system.memory >> 20,
        packed.len()
    );
    Ok(Bundle {
        path,
        capdl: capdl_path,
        summary,
    })
}

/// `target/systems/<name>`: where `system draw` writes by default.
fn system_dir(name: &str) -> PathBuf {
    cargo::target_dir().join("systems").join(name)
}

/// `cargo xtask system VERB FILE`.
pub fn command(args: &SystemArgs) -> Result<bool> {
    let file = &args.file;
    let system = load(file)?;
    match args.verb {
        SystemVerb::Draw => {
            let dir = args.out.clone().unwrap_or_else(|| system_dir(&system.name));
            std::fs::create_dir_all(&dir).context(|| format!("cannot create {}", dir.display()))?;
            for (ext, text) in [
                ("dot", sysdesc::dot(&system)),
                ("svg", sysdesc::svg(&system)),
            ] {
                let path = dir.join(format!("{}.{ext}", system.name));
                std::fs::write(&path, text)
                    .context(|| format!("cannot write {}", path.display()))?;
                println!("{}", path.display());
            }
            Ok(true)
        }
        SystemVerb::Check | SystemVerb::Capdl => {
            crate::setup::ensure_target()?;
            build_programs(file, &system, &[])?;
            let expanded = expand(file, &system)?;
            let encoded = capdl::encode(&expanded.spec)
                .map_err(|e| Error::new(format!("{}: {e}", file.display())))?;
            let packed = capdl::bundle::pack(&encoded, &expanded.files).map_err(Error::new)?;
            // The kernel image is not built here: allow the default kernel's
            // size with room to spare.
            let reserved = KERNEL_ALLOWANCE + packed.len() as u64 + BOOT_RESERVE;
            let totals = simulate(file, &system, &expanded.spec, &encoded, reserved)?;
            if args.verb == SystemVerb::Capdl {
                let text = capdl::print(&expanded.spec);
                match &args.out {
                    Some(path) => std::fs::write(path, text)
                        .context(|| format!("cannot write {}", path.display()))?,
                    None => print!("{text}"),
                }
            } else {
                let caps: usize = expanded.spec.objects.iter().map(|o| o.slots.len()).sum();
                println!(
                    "{}: system `{}` is good: {} components, {} objects, {} caps; {} bytes of objects fit in {} MiB",
                    file.display(),
                    system.name,
                    system.components.len(),
                    expanded.spec.objects.len(),
                    caps,
                    totals.bytes,
                    system.memory >> 20
                );
            }
            Ok(true)
        }
        SystemVerb::Build => {
            let absolute = absolute(file)?;
            let described: &'static crate::systems::System =
                Box::leak(Box::new(crate::systems::System {
                    name: Box::leak(system.name.clone().into_boxed_str()),
                    about: "a system description",
                    kernel_features: &[],
                    kernel_env: &[],
                    root_task: crate::systems::ROOT_TASK,
                    description: Some(Box::leak(
                        absolute.to_string_lossy().into_owned().into_boxed_str(),
                    )),
                    component_features: &[],
                    disk: None,
                }));
            let image = crate::image::build(described)?;
            println!(
                "{}\nboot it with: cargo xtask run --image {}",
                image.path.display(),
                image.path.display()
            );
            Ok(true)
        }
    }
}

/// Room left for the kernel image when no kernel was built (it is about
/// 0.4 MiB).
const KERNEL_ALLOWANCE: u64 = 2 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_untypeds_cover_ram_after_the_reserve_and_the_uart() {
        let u = simulated_untypeds(512 << 20, 5 << 20).unwrap();
        let ram: u64 = u
            .iter()
            .filter(|u| !u.is_device)
            .map(|u| 1u64 << u.size_bits)
            .sum();
        assert_eq!(ram, (512 << 20) - (6 << 20), "reserve rounded up to 2 MiB");
        assert!(u.iter().any(|u| u.is_device
            && u.paddr <= 0x0900_0000
            && 0x0900_1000 <= u.paddr + (1 << u.size_bits)));
        assert!(!u
            .iter()
            .any(|u| u.paddr < 0x0802_0000 && 0x0800_0000 < u.paddr + (1 << u.size_bits)));
    }
}
