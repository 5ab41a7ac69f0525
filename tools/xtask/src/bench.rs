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

/// Builds and runs the benchmarks and prints their figures; with
/// `ipc_only`, only the IPC round trips (and the IPC kernel's size), the
/// quick loop for work on the IPC paths.
pub fn run(ipc_only: bool) -> Result<()> {
    if !ipc_only {
        boot()?;
        system_boot()?;
    }
    for (system, what) in IPC_SYSTEMS {
        ipc(system, what)?;
    }
    if !ipc_only {
        storage()?;
    }
    Ok(())
}

/// The storage benchmark's system.
const STORAGE_SYSTEM: &str = "storage-bench";
/// Its phases.
const STORAGE_PHASES: [&str; 3] = ["seq-write", "seq-read", "rand-read-4k"];
/// A phase's figures: bytes, requests, instructions in all, in the file
/// server, in the driver, and the rest.
const STORAGE_DONE: &str = " done: {} bytes in {} requests; instructions total {} fs {} driver {} client+kernel {}; cache hits {} misses {}";
/// The benchmark's last line.
const STORAGE_END: &str = "[fsbench] done: {} failures";

/// One boot of the storage benchmark on a fresh disk: its console, and
/// when (host time) each phase started and ended.
fn storage_run(
    icount: bool,
) -> Result<(
    Vec<String>,
    std::collections::HashMap<String, std::time::Instant>,
)> {
    let system = systems::find(STORAGE_SYSTEM)?;
    let image = image::build(system)?;
    let (disk, _) = crate::disk::fresh_image(STORAGE_SYSTEM, "default")?;
    let marks = std::cell::RefCell::new(std::collections::HashMap::new());
    let stop = |line: &str| {
        if let Some(rest) = line.strip_prefix("[fsbench] ") {
            let key = rest.split(':').next().unwrap_or(rest).to_string();
            marks.borrow_mut().insert(key, std::time::Instant::now());
        }
        expect::match_numbers(line, STORAGE_END).is_some()
    };
    let run = runner::run(
        &image.path,
        &Options {
            machine: Machine {
                icount,
                disk: Some(disk),
                ..Machine::default()
            },
            timeout: Some(Duration::from_secs(600)),
            interactive: false,
            echo: false,
            log: Some(image::images_dir().join(if icount {
                "storage-bench.log"
            } else {
                "storage-bench-wall.log"
            })),
            stop_when: Some(&stop),
            input: None,
        },
    )?;
    if !run
        .transcript
        .console
        .iter()
        .any(|l| expect::match_numbers(l, STORAGE_END) == Some(vec![0]))
    {
        return Err(Error::new(format!(
            "the storage benchmark did not finish cleanly ({}); see target/images/storage-bench*.log",
            run.outcome.describe()
        )));
    }
    Ok((run.transcript.console, marks.into_inner()))
}

/// Runs the storage benchmark twice (under icount for instructions, then
/// without for wall-clock time) and prints its figures.
fn storage() -> Result<()> {
    let (counted, _) = storage_run(true)?;
    let (_, marks) = storage_run(false)?;
    println!();
    println!("== storage (virtio-blk driver, file server on FAT32, fs-check as client; 64 KiB requests, 2 MiB cache)");
    println!(
        "{:<13} {:>9} {:>8} {:>12} {:>10} {:>10} {:>8} {:>8} {:>8} {:>8}",
        "phase",
        "KiB",
        "requests",
        "instr/KiB",
        "instr/req",
        "MiB/s",
        "fs %",
        "driver %",
        "rest %",
        "misses"
    );
    for phase in STORAGE_PHASES {
        let pattern = format!("[fsbench] {phase}{STORAGE_DONE}");
        let Some(n) = counted
            .iter()
            .find_map(|l| expect::match_numbers(l, &pattern))
        else {
            return Err(Error::new(format!(
                "the storage benchmark printed no `{phase}` figures"
            )));
        };
        let [bytes, requests, total, fs, driver, rest, _hits, misses] = n[..] else {
            continue;
        };
        let seconds = match (
            marks.get(&format!("{phase} start")),
            marks.get(&format!("{phase} done")),
        ) {
            (Some(a), Some(b)) => b.duration_since(*a).as_secs_f64(),
            _ => 0.0,
        };
        let mib = bytes as f64 / (1 << 20) as f64;
        let pct = |x: u64| 100.0 * x as f64 / total.max(1) as f64;
        println!(
            "{:<13} {:>9} {:>8} {:>12} {:>10} {:>10.1} {:>7.1}% {:>7.1}% {:>7.1}% {:>8}",
            phase,
            bytes / 1024,
            requests,
            total / (bytes / 1024).max(1),
            total / requests.max(1),
            if seconds > 0.0 { mib / seconds } else { 0.0 },
            pct(fs),
            pct(driver),
            pct(rest),
            misses
        );
    }
    println!("(instructions under -icount shift=0; MiB/s from a second run without icount, timed on the host between the phase's lines; fs and driver count their own busy cycles, the rest is fs-check and the kernel)");
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
const COMPONENTS: [&str; 8] = [
    "console", "blk", "fs", "echo", "pong", "ping", "fsabuse", "fscheck",
];

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
    let (disk, _) = crate::disk::fresh_image(SYSTEM_BENCH, "default")?;
    let run = runner::run(
        &image.path,
        &Options {
            machine: Machine {
                icount: true,
                disk: Some(disk),
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
