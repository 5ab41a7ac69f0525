//! `cargo xtask bench`: boots the benchmark systems under `-icount` and
//! reports guest instructions: from reset to the root task's first
//! instruction (boot-bench), from reset until every component of the
//! default system has started (default-bench), and per IPC round trip with and without the
//! fast path (ipc-bench, ipc-bench-slowpath); and the kernel image size;
//! and, in default-bench's shell, `run proctest bench`: a process spawned
//! and reaped (`true`, and the 1 MiB `big`). The IPC figures are printed
//! beside seL4's (issue 14) and written as JSON to
//! `<target>/bench/ipc.json`. Figures only; never a verdict.

use std::time::Duration;

use crate::cargo;
use crate::elf;
use crate::error::{Context, Error, Result};
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

/// seL4 16's figures for the same work (non-MCS, AArch64, the same QEMU
/// 7.2 under `-icount shift=0,align=off,sleep=off`, sel4bench's ipc
/// benchmark, overhead subtracted), as issue 14 quotes them: (what, guest
/// instructions).
pub const SEL4_FIGURES: [(&str, u64); 10] = [
    ("Call, length 0", 191),
    ("ReplyRecv, length 0", 215),
    ("round trip, length 0", 406),
    ("Call, length 0, FPU owner switch", 243),
    ("ReplyRecv, length 0, FPU owner switch", 267),
    ("round trip, length 0, FPU owner switch", 510),
    ("Send, slow path", 634),
    ("Call, length 10", 703),
    ("ReplyRecv, length 10", 687),
    ("round trip, length 10", 1390),
];

/// seL4's fast-path round trip (Call + ReplyRecv) at `length` words, where
/// [`SEL4_FIGURES`] has it.
pub fn sel4_round_trip(length: u64) -> Option<u64> {
    match length {
        0 => Some(406),
        10 => Some(703 + 687),
        _ => None,
    }
}

/// One IPC figure as the benchmark prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpcFigure {
    /// "same address space" or "different address space".
    pub space: String,
    /// Message length in words.
    pub length: u64,
    /// Guest instructions per round trip, loop overhead subtracted.
    pub instructions: u64,
}

/// Parses a figure line of the IPC benchmark (without its `[ipc-bench] `
/// prefix): `same address space, length 0: 2199 instructions per round
/// trip (...)`.
pub fn parse_ipc_figure(line: &str) -> Option<IpcFigure> {
    let (space, rest) = line.split_once(", length ")?;
    let (length, rest) = rest.split_once(": ")?;
    let (count, _) = rest.split_once(" instructions")?;
    Some(IpcFigure {
        space: space.trim().to_string(),
        length: length.trim().parse().ok()?,
        instructions: count.trim().parse().ok()?,
    })
}

/// The JSON document of the IPC figures: each system's figures and seL4's.
pub fn ipc_json(systems: &[(&str, &str, Vec<IpcFigure>)]) -> String {
    let mut out = String::from("{\n  \"unit\": \"guest instructions (qemu -icount shift=0), loop overhead subtracted\",\n  \"systems\": [\n");
    for (i, (name, what, figures)) in systems.iter().enumerate() {
        out +=
            &format!("    {{\"system\": \"{name}\", \"kernel\": \"{what}\", \"round_trips\": [\n");
        for (j, f) in figures.iter().enumerate() {
            let sel4 = match sel4_round_trip(f.length) {
                Some(n) if *name == IPC_SYSTEMS[0].0 => n.to_string(),
                _ => "null".to_string(),
            };
            out += &format!(
                "      {{\"space\": \"{}\", \"length\": {}, \"instructions\": {}, \"sel4\": {sel4}}}{}\n",
                f.space,
                f.length,
                f.instructions,
                if j + 1 < figures.len() { "," } else { "" }
            );
        }
        out += &format!("    ]}}{}\n", if i + 1 < systems.len() { "," } else { "" });
    }
    out += "  ],\n  \"sel4\": {\n";
    for (i, (what, n)) in SEL4_FIGURES.iter().enumerate() {
        let comma = if i + 1 < SEL4_FIGURES.len() { "," } else { "" };
        out += &format!("    \"{what}\": {n}{comma}\n");
    }
    out += "  }\n}\n";
    out
}

/// Where `cargo xtask bench` writes the IPC figures as JSON.
pub fn ipc_json_path() -> std::path::PathBuf {
    cargo::target_dir().join("bench").join("ipc.json")
}

/// Builds and runs the benchmarks and prints their figures; with
/// `ipc_only`, only the IPC round trips (and the IPC kernel's size), the
/// quick loop for work on the IPC paths.
pub fn run(ipc_only: bool) -> Result<()> {
    if !ipc_only {
        boot()?;
        system_boot()?;
        spawn()?;
    }
    let mut all = Vec::new();
    for (system, what) in IPC_SYSTEMS {
        all.push((system, what, ipc(system, what)?));
    }
    let path = ipc_json_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&path, ipc_json(&all)).context(|| format!("cannot write {}", path.display()))?;
    println!();
    println!("seL4 16 on the same QEMU (issue 14): {}", sel4_summary());
    println!("IPC figures as JSON: {}", path.display());
    if !ipc_only {
        storage()?;
        recovery()?;
    }
    Ok(())
}

/// The short campaign the recovery figure comes from.
const RECOVERY_CAMPAIGN: crate::reliability::Campaign = crate::reliability::Campaign {
    seed: 1,
    injections: 30,
};

/// From a short fault-injection campaign (`cargo xtask reliability`):
/// per supervised component, the median time from its failure to the first
/// request it served after its restart (the heartbeat the supervisor sends
/// it), in guest instructions.
pub fn recovery() -> Result<()> {
    use crate::reliability::{self, INSTRUCTIONS_PER_TICK, TICKS_PER_MS};
    let campaign = RECOVERY_CAMPAIGN;
    let log = image::images_dir().join("recovery-bench.log");
    let (report, _) = reliability::run(&campaign, &log, false)?;
    println!();
    println!(
        "== driver fault to first served request after restart (fault-injection campaign, seed {}, {} injections; `{}`)",
        campaign.seed,
        campaign.injections,
        campaign.command()
    );
    println!(
        "{:<8} {:>9} {:>18} {:>12}",
        "target", "restarts", "median instr", "median ms"
    );
    for (target, f) in &report.by_target {
        match f.median_ticks() {
            Some(t) => println!(
                "{:<8} {:>9} {:>18} {:>12.3}",
                target,
                f.restarted,
                t * INSTRUCTIONS_PER_TICK,
                t as f64 / TICKS_PER_MS as f64
            ),
            None => println!("{:<8} {:>9} {:>18} {:>12}", target, 0, "-", "-"),
        }
    }
    let problems = report.problems(&campaign);
    if !problems.is_empty() {
        println!(
            "(the campaign itself did not pass: {}; `cargo xtask reliability` judges it)",
            problems.join("; ")
        );
    }
    println!("(recovery_ticks of the `restarted` injections, 16 guest instructions per 62.5 MHz tick under -icount shift=0; the request is the supervisor's heartbeat)");
    Ok(())
}

/// seL4's figures on one line.
fn sel4_summary() -> String {
    SEL4_FIGURES
        .iter()
        .map(|(what, n)| format!("{what} {n}"))
        .collect::<Vec<_>>()
        .join("; ")
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

/// Runs one IPC benchmark system, prints its figures (seL4's beside) and
/// returns them.
fn ipc(name: &str, what: &str) -> Result<Vec<IpcFigure>> {
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
    let mut parsed = Vec::new();
    for line in figures {
        let line = line.trim_start_matches(IPC_LINE);
        let figure = parse_ipc_figure(line);
        // seL4's figure beside the fast-path ones it measures the same work as.
        let beside = figure
            .as_ref()
            .filter(|_| name == IPC_SYSTEMS[0].0)
            .and_then(|f| sel4_round_trip(f.length).map(|s| (f.instructions, s)));
        match beside {
            Some((n, s)) => println!("{line}  [seL4: {s}, Cerne/seL4 {:.2}]", n as f64 / s as f64),
            None => println!("{line}"),
        }
        parsed.extend(figure);
    }
    Ok(parsed)
}

/// The system that measures the default system's start.
pub const SYSTEM_BENCH: &str = "default-bench";
/// What each component prints with `boot-bench`: its name, then the count.
const FIRST_INSTRUCTION: &str = "] first instruction at cycle {}";
/// The default system's components, each of which prints its first
/// instruction in the boot-bench build. The run ends at fs-check's summary
/// at the latest, when every component has long started, and any silent
/// one is named.
const COMPONENTS: [&str; 10] = [
    "console", "blk", "fs", "policy", "procs", "shell", "pong", "ping", "fsabuse", "fscheck",
];

/// fs-check's summary: every component has started by then.
const FSCHECK_DONE: &str = "[fscheck] done:";

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
        seen.get() == COMPONENTS.len() || line.contains(FSCHECK_DONE)
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
    let (Some(summary), Some(root), false) = (summary, root, firsts.is_empty()) else {
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
    let silent: Vec<&str> = COMPONENTS
        .iter()
        .copied()
        .filter(|c| !firsts.iter().any(|(name, _)| name == c))
        .collect();
    if !silent.is_empty() {
        println!(
            "first instruction:  not reported by {} (no boot-bench line)",
            silent.join(", ")
        );
    }
    let last = firsts.iter().map(|(_, n)| *n).max().unwrap_or(0);
    println!(
        "reset to every reporting component running: {last} guest instructions (initializer: {})",
        last - root
    );
    Ok(())
}

/// proctest's figure for one program: instructions from the spawn call to
/// the wait reply, the median of its rounds.
const SPAWN_LINE: &str = "proctest: bench spawn+reap {} {} instructions";
/// The programs proctest measures, in its order.
const SPAWNED: [&str; 2] = ["true", "big"];
/// Bound on the spawn benchmark's run (boot, fs-check, 40 spawns, under
/// icount).
const SPAWN_TIMEOUT: Duration = Duration::from_secs(300);

/// Boots default-bench (pmu-user kernel) under icount, types
/// `run proctest bench` at the shell's prompt, and prints the two figures.
fn spawn() -> Result<()> {
    let system = systems::find(SYSTEM_BENCH)?;
    let image = image::build(system)?;
    let (disk, _) = crate::disk::fresh_image(SYSTEM_BENCH, "default")?;
    let mut after = vec![expect::SHELL_PROMPT];
    after.extend(expect::SHELL_QUIET);
    let script = [runner::Step::line(&after, "run proctest bench")];
    // The shell's `[pid N] exit C` for proctest ends it.
    let stop = |line: &str| expect::match_numbers(line, expect::SHELL_EXIT).is_some();
    let run = runner::run_scripted(
        &image.path,
        &Options {
            machine: Machine {
                icount: true,
                disk: Some(disk),
                ..Machine::default()
            },
            timeout: Some(SPAWN_TIMEOUT),
            interactive: false,
            echo: false,
            log: Some(image::images_dir().join("spawn-bench.log")),
            stop_when: Some(&stop),
            input: None,
        },
        &script,
    )?;
    let figures: Vec<(&str, u64)> = SPAWNED
        .iter()
        .filter_map(|&name| {
            let pattern = format!("proctest: bench spawn+reap {name} {{}} instructions");
            expect::find_numbers(&run.transcript, &pattern).map(|(_, n)| (name, n[0]))
        })
        .collect();
    if figures.len() != SPAWNED.len() {
        return Err(Error::new(format!(
            "`run proctest bench` printed {} of the {} figures `{SPAWN_LINE}` ({}); see target/images/spawn-bench.log",
            figures.len(),
            SPAWNED.len(),
            run.outcome.describe()
        )));
    }
    println!();
    println!("== processes (default-bench's shell: `run proctest bench`; qemu -icount shift=0)");
    for (name, n) in figures {
        println!("spawn+reap {name:<5} {n} guest instructions from the spawn call to the wait reply (median of 20)");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipc_figure_lines_parse() {
        let f = parse_ipc_figure(
            "different address space, length 10: 4811 instructions per round trip (Call + ReplyRecv; loop overhead 12 subtracted)",
        )
        .unwrap();
        assert_eq!(
            f,
            IpcFigure {
                space: "different address space".into(),
                length: 10,
                instructions: 4811
            }
        );
        assert_eq!(parse_ipc_figure("done"), None);
        assert_eq!(parse_ipc_figure("x, length y: 1 instructions"), None);
    }

    #[test]
    fn ipc_json_names_every_figure_and_sel4s() {
        let f = |space: &str, length, instructions| IpcFigure {
            space: space.into(),
            length,
            instructions,
        };
        let json = ipc_json(&[
            (
                "ipc-bench",
                "fast path",
                vec![
                    f("same address space", 0, 2199),
                    f("same address space", 4, 2222),
                ],
            ),
            (
                "ipc-bench-slowpath",
                "slow path only",
                vec![f("same address space", 0, 4096)],
            ),
        ]);
        assert!(json.contains(
            r#"{"space": "same address space", "length": 0, "instructions": 2199, "sel4": 406},"#
        ));
        assert!(json.contains(r#""length": 4, "instructions": 2222, "sel4": null}"#));
        assert!(json.contains(r#""length": 0, "instructions": 4096, "sel4": null}"#));
        assert!(json.contains(r#""round trip, length 10": 1390"#));
        assert_eq!(json.matches('{').count(), json.matches('}').count());
        assert_eq!(json.matches('[').count(), json.matches(']').count());
    }
}
