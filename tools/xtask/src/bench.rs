//! `cargo xtask bench`: boots the benchmark systems under `-icount` and
//! reports guest instructions: from reset to the root task's first
//! instruction (boot-bench), from reset until every component of the
//! default system has started (default-bench), and per IPC round trip with and without the
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
    system_boot()?;
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

/// The system that measures the default system's start.
pub const SYSTEM_BENCH: &str = "default-bench";
/// What each component prints with `boot-bench`: its name, then the count.
const FIRST_INSTRUCTION: &str = "] first instruction at cycle {}";
/// The default system's components.
const COMPONENTS: [&str; 4] = ["console", "echo", "pong", "ping"];

/// Boots the default system under icount and reports its size and the
/// instructions from reset until every component has run its first
/// instruction.
fn system_boot() -> Result<()> {
    let system = systems::find(SYSTEM_BENCH)?;
    let image = image::build(system)?;
    let firsts = |lines: &[String]| -> Vec<(String, u64)> {
        lines
            .iter()
            .filter_map(|l| {
                let n = expect::match_numbers(l, FIRST_INSTRUCTION)?;
                let name = l.split(']').next()?.trim_start_matches('[').to_string();
                Some((name, n[0]))
            })
            .collect()
    };
    let seen = std::cell::Cell::new(0usize);
    let stop = |line: &str| {
        if expect::match_numbers(line, FIRST_INSTRUCTION).is_some() {
            seen.set(seen.get() + 1);
        }
        seen.get() == COMPONENTS.len()
    };
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
            log: Some(image::images_dir().join("default-bench.log")),
            stop_when: Some(&stop),
            input: None,
        },
    )?;
    let firsts = firsts(&run.transcript.console);
    let summary = run
        .transcript
        .console
        .iter()
        .find_map(|l| expect::match_numbers(l, expect::CAPDL_SUMMARY));
    let root = expect::find_numbers(&run.transcript, BOOT_PMCCNTR).map(|(_, n)| n[0]);
    let (Some(summary), Some(root), true) = (summary, root, firsts.len() == COMPONENTS.len())
    else {
        return Err(Error::new(format!(
            "the {SYSTEM_BENCH} system did not report every component ({})",
            run.outcome.describe()
        )));
    };
    let boot = elf::sizes(&image.path)?;
    let root_task = elf::sizes(&image.root_task)?;
    println!();
    println!("== default system (systems/default.toml through capDL; qemu -icount shift=0)");
    println!(
        "objects and caps:   {} objects, {} caps, {} bytes of objects; {} bytes filled from {} programs",
        summary[0], summary[1], summary[2], summary[3], summary[4]
    );
    println!(
        "image size:         {} bytes loaded ({} bytes ELF file); root task with bundle {} bytes loaded",
        boot.loaded, boot.file, root_task.loaded
    );
    println!("reset to root task: {root} guest instructions");
    for (name, n) in &firsts {
        println!("first instruction:  {name:<8} {n}");
    }
    let last = firsts.iter().map(|(_, n)| *n).max().unwrap_or(0);
    println!(
        "reset to all components running: {last} guest instructions (initializer: {})",
        last - root
    );
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
