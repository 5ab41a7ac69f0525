//! `cargo xtask bench`: boots the benchmark systems under `-icount` and
//! reports guest instructions: from reset to the root task's first
//! instruction (boot-bench), and per IPC round trip with and without the
//! fast path (ipc-bench, ipc-bench-slowpath); and the kernel image size.
//! Figures only; never a verdict.

use std::time::Duration;

use crate::elf;
use crate::error::{Error, Result};
use crate::expect::{self, BOOT_PMCCNTR};
use crate::image;
use crate::qemu::Machine;
use crate::runner::{self, Options};
use crate::systems;

/// The system that measures boot.
pub const SYSTEM: &str = "boot-bench";
/// Bound on the measuring run.
const TIMEOUT: Duration = Duration::from_secs(120);

/// The IPC benchmark systems: (system, what its kernel does).
const IPC_SYSTEMS: [(&str, &str); 2] = [
    ("ipc-bench", "fast path"),
    ("ipc-bench-slowpath", "slow path only"),
];
/// Lines the IPC benchmark prints with its figures.
const IPC_LINE: &str = "[ipc-bench] ";
/// The benchmark's last line.
const IPC_DONE: &str = "[ipc-bench] done";

/// Builds and runs the benchmarks and prints their figures.
pub fn run() -> Result<()> {
    boot()?;
    for (system, what) in IPC_SYSTEMS {
        ipc(system, what)?;
    }
    Ok(())
}

/// Runs one IPC benchmark system and prints its figures.
fn ipc(name: &str, what: &str) -> Result<()> {
    let system = systems::find(name)?;
    let image = image::build(system)?;
    let stop = |line: &str| line.contains(IPC_DONE);
    let run = runner::run(
        &image.path,
        &Options {
            machine: Machine {
                icount: true,
                ..Machine::default()
            },
            timeout: Some(TIMEOUT),
            interactive: false,
            echo: false,
            log: Some(image::images_dir().join(format!("{name}.log"))),
            stop_when: Some(&stop),
            input: None,
        },
    )?;
    let figures: Vec<&String> = run
        .transcript
        .console
        .iter()
        .filter(|l| l.starts_with(IPC_LINE) && l.contains("instructions"))
        .collect();
    if figures.is_empty() {
        return Err(Error::new(format!(
            "the {name} system printed no figures ({})",
            run.outcome.describe()
        )));
    }
    println!();
    println!("== IPC round trips, {what} (system {name}; Call + ReplyRecv, qemu -icount shift=0)");
    for line in figures {
        println!("{}", line.trim_start_matches(IPC_LINE));
    }
    Ok(())
}

/// Runs the boot benchmark and prints its figures.
fn boot() -> Result<()> {
    let system = systems::find(SYSTEM)?;
    let image = image::build(system)?;
    let stop = |line: &str| expect::match_numbers(line, BOOT_PMCCNTR).is_some();
    let run = runner::run(
        &image.path,
        &Options {
            machine: Machine {
                icount: true,
                ..Machine::default()
            },
            timeout: Some(TIMEOUT),
            interactive: false,
            echo: true,
            log: Some(image::images_dir().join("boot-bench.log")),
            stop_when: Some(&stop),
            input: None,
        },
    )?;
    let kernel = elf::sizes(&image.kernel)?;
    println!();
    println!("== boot benchmark (qemu -icount shift=0: one count per guest instruction)");
    println!(
        "kernel image size:  {} bytes loaded (PT_LOAD memsz), {} bytes ELF file",
        kernel.loaded, kernel.file
    );
    match expect::find_numbers(&run.transcript, BOOT_PMCCNTR) {
        Some((_, n)) => {
            println!(
                "boot to root task:  {} guest instructions from reset to the root task's first instruction",
                n[0]
            );
            Ok(())
        }
        None => Err(Error::new(format!(
            "the boot-bench root task printed no `{BOOT_PMCCNTR}` line ({})",
            run.outcome.describe()
        ))),
    }
}
