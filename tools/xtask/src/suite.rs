//! `cargo xtask test`: every check of the project, each named, each ending
//! in a PASS or FAIL line, then `N passed, M failed`.
//!
//! Checks are independent: a failed one does not stop the others. Images are
//! built once per run, on first use. Each QEMU run is bounded by
//! [`BOOT_TIMEOUT`] and leaves its console in `target/test-logs/<check>.log`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cargo::{self, TARGET};
use crate::cli::TestArgs;
use crate::console::{End, Outcome, Transcript};
use crate::error::Result;
use crate::expect;
use crate::image::{self, Image};
use crate::miri;
use crate::proofs;
use crate::qemu::{Machine, MemSize};
use crate::runner::{self, Options, Run, Step};
use crate::setup;
use crate::systems::{self, KERNEL_PACKAGE};

/// Bound on every QEMU run of the suite; a guest that hangs fails.
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(60);
/// Console lines shown when a boot check fails.
const TAIL_LINES: usize = 40;

/// A check's result: a short note when it passed, the reasons when not.
type Verdict = std::result::Result<String, String>;

struct Check {
    name: String,
    about: String,
    run: Box<dyn Fn(&mut Ctx) -> Verdict>,
}

impl Check {
    fn new(name: &str, about: &str, run: impl Fn(&mut Ctx) -> Verdict + 'static) -> Self {
        Check {
            name: name.to_owned(),
            about: about.to_owned(),
            run: Box::new(run),
        }
    }
}

/// What the checks of one run share.
struct Ctx {
    long: bool,
    /// Miri, when started in the background at the beginning of the run.
    miri: Option<miri::Background>,
    images: HashMap<&'static str, std::result::Result<Image, String>>,
    log_dir: PathBuf,
}

impl Ctx {
    /// The image of `system`, built on first use in this run.
    fn image(&mut self, system: &str) -> std::result::Result<Image, String> {
        let sys = systems::find(system).map_err(|e| e.0)?;
        self.images
            .entry(sys.name)
            .or_insert_with(|| {
                image::build(sys).map_err(|e| format!("building system `{}` failed: {e}", sys.name))
            })
            .clone()
    }
}

/// The checks, in the order they run.
fn checks() -> Vec<Check> {
    let mut v = vec![
        Check::new("fmt", "cargo fmt --all -- --check", |_| {
            cargo_check(&["fmt", "--all", "--", "--check"], false)
        }),
        Check::new(
            "clippy",
            "cargo clippy --all-targets -- -D warnings (host crates)",
            |_| cargo_check(&["clippy", "--all-targets", "--", "-D", "warnings"], false),
        ),
        Check::new(
            "host-tests",
            "cargo test (host crates: unit, layout and property tests)",
            |ctx| cargo_check(&["test"], ctx.long),
        ),
        Check::new(
            "miri",
            "cargo +nightly miri test -p cerne-objects (runs in the background from the start)",
            |ctx| {
                let result = match ctx.miri.take() {
                    Some(background) => background.finish(),
                    None => miri::run(None),
                };
                result.map(|()| String::new())
            },
        ),
        Check::new("build", "build every system image", |ctx| {
            let failed: Vec<String> = systems::SYSTEMS
                .iter()
                .filter_map(|s| ctx.image(s.name).err())
                .collect();
            if failed.is_empty() {
                Ok(format!("{} images", systems::SYSTEMS.len()))
            } else {
                Err(failed.join("\n"))
            }
        }),
        Check::new(
            "clippy-aarch64",
            "cargo clippy --target aarch64-unknown-none -- -D warnings (kernel, loader, root tasks, every system's features)",
            clippy_aarch64,
        ),
    ];
    for mem in [256, 512, 2048] {
        let mem = MemSize::mib(mem);
        v.push(Check::new(
            &format!("boot-el1-{mem}"),
            &format!(
                "bootinfo system at EL1, -m {mem}: banner, memory map, untyped summary, clean halt"
            ),
            move |ctx| default_boot(ctx, &format!("boot-el1-{mem}"), false, mem),
        ));
    }
    v.push(Check::new(
        "boot-el2-512M",
        "bootinfo system entered at EL2 (virtualization=on), -m 512M",
        |ctx| default_boot(ctx, "boot-el2-512M", true, MemSize::mib(512)),
    ));
    for (el, el2) in [("el1", false), ("el2", true)] {
        let name = format!("el0-fault-{el}");
        v.push(Check::new(
            &name.clone(),
            &format!(
                "deliberate EL0 data abort at {}: decoded report, thread suspended, kernel goes on; the host names the faulting function and line",
                el.to_uppercase()
            ),
            move |ctx| el0_fault(ctx, &name, el2),
        ));
    }
    for (el, el2) in [("el1", false), ("el2", true)] {
        let name = format!("ktest-{el}");
        v.push(Check::new(
            &name.clone(),
            &format!(
                "in-guest test suite at {}, -m {KTEST_MEM}: `N passed, 0 failed` with N >= {}, clean halt",
                el.to_uppercase(),
                expect::KTEST_MIN_TESTS
            ),
            move |ctx| ktest(ctx, &name, el2),
        ));
    }
    v.push(Check::new(
        "syscall-fuzz",
        "a victim thread issues 20,000 random syscalls (1,000,000 with --long): no panic, no hang, authority checks pass, IPC and retype work after",
        syscall_fuzz,
    ));
    for system in ["cnode-13", "cnode-15"] {
        v.push(Check::new(
            system,
            &format!("the default system on a kernel built with a {system} root CNode: BootInfo says so and every boot cap checks out"),
            move |ctx| cnode_boot(ctx, system),
        ));
    }
    v.push(Check::new(
        "irq-uart",
        "type two lines into QEMU's serial port: a user-level driver gets each through the PL011 IRQ and a notification",
        irq_uart,
    ));
    v.push(Check::new(
        "default-system",
        "the default system from systems/default.toml through capDL: console driver, shell, process manager, policy, ping/pong; a typed line is echoed and answered by the shell; no kernel output on the driver's console",
        default_system,
    ));
    v.push(Check::new(
        "shell-session",
        "a scripted shell session on a fresh disk, each command typed at the prompt: ls, write, cat, run hello and wc, a background hog in ps until killed, crashme's fault reported and survived, help, an unknown command, mem with every process gone",
        shell_session,
    ));
    v.push(Check::new(
        "processes",
        "`run proctest` in the shell: 1,000 spawn/exit cycles leave the free untyped exact, 64 processes fill the slots, big processes fill the memory, bad programs refused with nothing half-built",
        processes,
    ));
    v.push(Check::new(
        "policy",
        "under icount, two hogs running: lat's answers (25 ms of work each) come within the policy's bound with the policy server on, and wait for the hogs' time slices with it off",
        policy,
    ));
    v.push(Check::new(
        "storage",
        "virtio-blk driver and file server: fs-check writes 0 B, 1 B, 4 KiB and 1 MiB+7 files, reads them back, renames, removes; the host finds exactly those bytes on the image and the FAT consistent; a second boot reads them; fs-abuse's garbage and every provokable error refused while the server carries on",
        storage,
    ));
    v.push(Check::new(
        "supervision",
        "a scripted shell session on the default system: crash pong (fault, panic, hang) restarts it each time with the cause named, `restarts` counts 3, `caps pong` shows the live caps matching the spec, `caps shell` the spec only, `crash nosuch` refused, `ls /` still answered",
        supervision,
    ));
    v.push(Check::new(
        "threads",
        "the shell's `threads` on the default system: every component listed once at the description's priority, the shell running, ping inactive, pong waiting on its endpoint, the summary counting the lines",
        threads,
    ));
    v.push(Check::new(
        "gdb",
        "gdb-multiarch in batch mode against QEMU with the generated script: cerne-break pong pong::main stops in pong's thread (not the components that run that address first), bt names pong::main, and at the next kernel entry cerne-bt shows the kernel's frames and pong's user frames",
        gdb_check,
    ));
    v.push(Check::new(
        "tutorial",
        "docs/tutorial.md as a script: every `$` command run as shown (cargo xtask gdb fed the page's (gdb) lines), each exits 0 and prints the lines the page promises; every file the page quotes still holds the quoted text",
        tutorial,
    ));
    v.push(Check::new(
        "restart-storm",
        "pong faults at every start: restarted at once, then after 10, 20 and 40 ms, held at the fifth failure; its client ping is answered Unavailable; the storage check, the shell's restarts and ls still answer",
        restart_storm,
    ));
    v.push(Check::new(
        "storage-restart",
        "on a fresh disk: bigfile writes 8 MiB while the block driver is crashed mid-write (no retry needed), then 8 MiB while the file server is crashed with the file open (written again); both verified in the guest, by wc's size, and on the host (every file, the CRC-32 of the pattern, the FAT check)",
        storage_restart,
    ));
    v.push(Check::new(
        "reliability",
        &format!(
            "the fault-injection campaign under icount on a fresh disk, seed {}, {} injections into blk, fs, pong: every injection accounted for, no kernel failure, no hang, no acknowledged data lost (guest and host), FAT clean",
            crate::reliability::DEFAULT_SEED,
            crate::reliability::DEFAULT_INJECTIONS
        ),
        reliability_check,
    ));
    v.push(Check::new(
        "capdl-boot-error",
        "a spec that cannot be built on the machine it boots on: the initializer names the object and why, nothing starts, `run` fails",
        capdl_boot_error,
    ));
    v.push(Check::new(
        "system-tools",
        "cargo xtask system check/capdl/draw on systems/default.toml; a broken, a too-big and a too-many-slots description rejected at file:line:col",
        system_tools,
    ));
    v.push(Check::new(
        "debug-dump",
        "DebugDumpScheduler names the root thread; DebugSnapshot prints capDL with the objects made and a badged cap in a second CNode",
        debug_dump,
    ));
    v.push(Check::new(
        "stack-overflow",
        "a kernel that recurses without end: the guard page below its stack turns it into a report, `run` exits non-zero",
        stack_overflow,
    ));
    v.push(Check::new(
        "kernel-fault",
        "a deliberate data abort in the kernel: decoded report with registers, failure halt, `run` exits non-zero",
        kernel_fault,
    ));
    v.push(Check::new(
        "loader-tests",
        "cargo test -p cerne-loader (the loader's host-tested library: DTB, ELF, layout)",
        |_| cargo_check(&["test", "-p", "cerne-loader"], false),
    ));
    v.push(Check::new(
        "panic-test",
        "a deliberate kernel panic: `cargo xtask run` exits non-zero and shows file:line",
        panic_test,
    ));
    v
}

/// Runs the suite; true when every selected check passed.
pub fn run(args: &TestArgs) -> Result<bool> {
    let all = checks();
    if args.list {
        for c in &all {
            println!("{:<16} {}", c.name, c.about);
        }
        return Ok(true);
    }
    let selected: Vec<&Check> = all
        .iter()
        .filter(|c| args.filters.is_empty() || args.filters.iter().any(|f| c.name.contains(f)))
        .collect();
    if selected.is_empty() {
        let names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
        return Err(format!(
            "no check matches {:?}; the checks are: {}",
            args.filters,
            names.join(", ")
        )
        .into());
    }

    let log_dir = cargo::target_dir().join("test-logs");
    // Miri is slow and single-threaded: with other checks to run, start it now
    // so that it overlaps them.
    let miri = (selected.len() > 1 && selected.iter().any(|c| c.name == "miri"))
        .then(|| miri::spawn(log_dir.join("miri.log")));
    let mut ctx = Ctx {
        long: args.long,
        miri,
        images: HashMap::new(),
        log_dir,
    };
    let started = Instant::now();
    let mut results = Vec::new();
    for (i, check) in selected.iter().enumerate() {
        println!(
            "\n=== [{}/{}] {}: {}",
            i + 1,
            selected.len(),
            check.name,
            check.about
        );
        let t = Instant::now();
        let verdict = (check.run)(&mut ctx);
        let secs = t.elapsed().as_secs_f64();
        match &verdict {
            Ok(note) if note.is_empty() => println!("PASS {} ({secs:.1} s)", check.name),
            Ok(note) => println!("PASS {} ({secs:.1} s): {note}", check.name),
            Err(why) => println!("FAIL {} ({secs:.1} s): {why}", check.name),
        }
        results.push((check.name.as_str(), verdict.is_ok(), secs));
    }

    let passed = results.iter().filter(|r| r.1).count();
    let failed = results.len() - passed;
    println!("\n=== summary ({:.0} s)", started.elapsed().as_secs_f64());
    for (name, ok, secs) in &results {
        println!(
            "{} {name:<16} {secs:>6.1} s",
            if *ok { "PASS" } else { "FAIL" }
        );
    }
    println!("{passed} passed, {failed} failed");
    Ok(failed == 0)
}

/// A cargo command at the root whose exit status is the verdict.
fn cargo_check(args: &[&str], long: bool) -> Verdict {
    let mut cmd = cargo::cargo();
    cmd.args(args);
    proofs::set_cases(&mut cmd, long);
    cargo::run(&mut cmd)
        .map(|()| String::new())
        .map_err(|e| e.0)
}

/// Clippy on every aarch64 package, with each system's features.
fn clippy_aarch64(ctx: &mut Ctx) -> Verdict {
    setup::ensure_target().map_err(|e| e.0)?;
    let lint = |package: &str, bins: &[&str], features: &[&str]| {
        let mut cmd = cargo::cargo();
        let target = if package == KERNEL_PACKAGE {
            cargo::KERNEL_TARGET
        } else {
            TARGET
        };
        cmd.args(["clippy", "--release", "--target", target, "-p", package]);
        for bin in bins {
            cmd.args(["--bin", bin]);
        }
        image::features(&mut cmd, features);
        cmd.args(["--", "-D", "warnings"]);
        cmd
    };
    let mut commands: Vec<Command> = Vec::new();
    let mut seen = Vec::new();
    let mut seen_components = Vec::new();
    let mut failures = Vec::new();
    for sys in systems::SYSTEMS {
        let root = &sys.root_task;
        for (package, bin, features) in [
            (KERNEL_PACKAGE, None, sys.kernel_features),
            (root.package, Some(root.bin), root.features),
        ] {
            if !seen.contains(&(package, bin, features)) {
                seen.push((package, bin, features));
                commands.push(lint(package, bin.as_slice(), features));
            }
        }
        // The component programs of a description, built against it (the
        // caps constants come from it; a program it does not run does not
        // compile against it).
        let Some(description) = sys.description else {
            continue;
        };
        if seen_components.contains(&(description, sys.component_features)) {
            continue;
        }
        seen_components.push((description, sys.component_features));
        let path = cargo::workspace_root().join(description);
        match sysdesc::load(&path) {
            Ok(system) => {
                let programs: std::collections::BTreeSet<&str> = system
                    .components
                    .iter()
                    .map(|c| c.program.as_str())
                    .collect();
                let programs: Vec<&str> = programs.into_iter().collect();
                let mut cmd = lint(
                    systems::COMPONENTS_PACKAGE,
                    &programs,
                    sys.component_features,
                );
                cmd.env("CERNE_SYSTEM", &path);
                commands.push(cmd);
            }
            Err(e) => failures.push(format!("{description}: {e:?}")),
        }
    }
    commands.push(lint(crate::disk::programs::PACKAGE, &[], &[]));
    // The loader's build script embeds the parts, so lint it with the default
    // system's.
    match ctx.image(systems::DEFAULT) {
        Ok(default) => {
            let mut cmd = image::loader_command(&default, &["clippy"]);
            cmd.args(["--", "-D", "warnings"]);
            commands.push(cmd);
        }
        Err(e) => failures.push(format!("loader not linted: {e}")),
    }
    for mut cmd in commands {
        if let Err(e) = cargo::run(&mut cmd) {
            failures.push(e.0);
        }
    }
    if failures.is_empty() {
        Ok(String::new())
    } else {
        Err(failures.join("\n"))
    }
}

/// Boots `system` on `machine` under the suite's time limit.
fn boot(
    ctx: &mut Ctx,
    name: &str,
    system: &str,
    machine: Machine,
) -> std::result::Result<Run, String> {
    boot_within(ctx, name, system, machine, BOOT_TIMEOUT)
}

/// Boots `system` on `machine`, bounded by `timeout`.
fn boot_within(
    ctx: &mut Ctx,
    name: &str,
    system: &str,
    machine: Machine,
    timeout: Duration,
) -> std::result::Result<Run, String> {
    boot_typing(ctx, name, system, machine, timeout, None)
}

/// Boots `system` on `machine`, bounded by `timeout`, typing `input` into
/// its serial console.
fn boot_typing(
    ctx: &mut Ctx,
    name: &str,
    system: &str,
    machine: Machine,
    timeout: Duration,
    input: Option<&[u8]>,
) -> std::result::Result<Run, String> {
    let image = ctx.image(system)?;
    let log = ctx.log_dir.join(format!("{name}.log"));
    println!("booting {} (log: {})", image.path.display(), log.display());
    runner::run(
        &image.path,
        &Options {
            machine,
            timeout: Some(timeout),
            interactive: false,
            echo: false,
            log: Some(log),
            stop_when: None,
            input,
        },
    )
    .map_err(|e| e.0)
}

/// Boots the storage system on `disk` and checks what it reported.
fn storage_boot(
    ctx: &mut Ctx,
    name: &str,
    disk: &std::path::Path,
) -> std::result::Result<(Run, expect::StorageRun, Vec<String>), String> {
    let machine = Machine {
        disk: Some(disk.to_path_buf()),
        ..Machine::default()
    };
    let run = boot(ctx, name, "storage", machine)?;
    let mut problems = clean_halt(&run);
    let found = match expect::storage(&run.transcript) {
        Ok(found) => found,
        Err(p) => {
            problems.extend(p);
            expect::StorageRun::default()
        }
    };
    Ok((run, found, problems))
}

/// The files the image must hold after a storage boot: those it was built
/// with, fs-check's, its manifest, and fs-abuse's.
fn storage_expected(
    built: &[(String, u64, u32)],
    found: &expect::StorageRun,
) -> Vec<(String, u64, u32)> {
    let mut all = built.to_vec();
    all.extend(found.files.iter().cloned());
    all.push(crate::disk::expected_file(
        expect::FSCHECK_MANIFEST,
        &found.manifest(),
    ));
    all.push(crate::disk::expected_file(
        expect::FSABUSE_FILE.0,
        expect::FSABUSE_FILE.1,
    ));
    all
}

fn storage(ctx: &mut Ctx) -> Verdict {
    let again =
        "cargo xtask disk build --system storage && cargo xtask run --system storage --timeout 60";
    let (disk, built) = crate::disk::fresh_image("storage", "default").map_err(|e| e.0)?;
    let built = built.expected();
    let mut problems = Vec::new();
    // First boot: a fresh disk.
    let (first, found, p) = storage_boot(ctx, "storage", &disk)?;
    problems.extend(p);
    if found.previous.is_some() {
        problems.push("the first boot found files of an earlier boot on a fresh disk".into());
    }
    let expected = storage_expected(&built, &found);
    let on_host = |problems: &mut Vec<String>, when: &str| {
        if let Err(e) = crate::disk::expect_exact(&disk, &expected) {
            problems.push(format!("after the {when} boot, the image: {}", e.0));
        }
        if let Err(e) = crate::disk::check_image(&disk) {
            problems.push(format!("after the {when} boot, the FAT check: {}", e.0));
        }
    };
    on_host(&mut problems, "first");
    if !problems.is_empty() {
        return Err(report(&problems, &first.transcript, ctx, "storage", again));
    }
    // Second boot on the same disk: the files are read back.
    let (second, again_found, p) = storage_boot(ctx, "storage-again", &disk)?;
    problems.extend(p);
    if again_found.previous != Some(found.files.len() as u64) {
        problems.push(format!(
            "the second boot verified {:?} files of the first, expected {}",
            again_found.previous,
            found.files.len()
        ));
    }
    if again_found.files != found.files {
        problems.push("the second boot left other files than the first".into());
    }
    on_host(&mut problems, "second");
    if !problems.is_empty() {
        return Err(report(
            &problems,
            &second.transcript,
            ctx,
            "storage-again",
            again,
        ));
    }
    let bytes: u64 = found.files.iter().map(|f| f.1).sum();
    Ok(format!(
        "{} files ({bytes} bytes) found on the image as reported, FAT clean, read back on a second boot; {} bad requests refused; {:.1} s + {:.1} s",
        found.files.len(),
        found.refused,
        first.elapsed.as_secs_f64(),
        second.elapsed.as_secs_f64()
    ))
}

/// The run must have halted cleanly: HALT_SUCCESS, then QEMU exited 0.
fn clean_halt(run: &Run) -> Vec<String> {
    match (&run.outcome, run.end) {
        (Outcome::Halted, End::Exited(Some(0))) => vec![],
        (Outcome::Halted, _) => vec!["the system halted but QEMU did not power off".into()],
        (_, End::TimedOut) => vec![format!(
            "no halt within {} s (hung guest?)",
            BOOT_TIMEOUT.as_secs()
        )],
        (o, _) => vec![o.describe()],
    }
}

/// A failure message: the problems, the command that shows the run again,
/// then the end of the console.
fn report(problems: &[String], t: &Transcript, ctx: &Ctx, name: &str, again: &str) -> String {
    format!(
        "\n  - {}\n--- to see it again: {again}\n--- last console lines ({}):\n{}",
        problems.join("\n  - "),
        ctx.log_dir.join(format!("{name}.log")).display(),
        t.tail(TAIL_LINES)
    )
}

/// The `cargo xtask run` command line that boots `system` on `machine` as a
/// check does.
fn run_command(system: &str, machine: &Machine) -> String {
    let mut line = String::from("cargo xtask run");
    if system != systems::DEFAULT {
        line.push_str(&format!(" --system {system}"));
    }
    if machine.el2 {
        line.push_str(" --el2");
    }
    if machine.mem != MemSize::DEFAULT {
        line.push_str(&format!(" --mem {}", machine.mem));
    }
    line.push_str(&format!(" --timeout {}", BOOT_TIMEOUT.as_secs()));
    line
}

fn default_boot(ctx: &mut Ctx, name: &str, el2: bool, mem: MemSize) -> Verdict {
    let machine = Machine {
        el2,
        mem,
        ..Machine::default()
    };
    let again = run_command(systems::BOOTINFO, &machine);
    let run = boot(ctx, name, systems::BOOTINFO, machine)?;
    let mut problems = clean_halt(&run);
    match expect::default_boot(&run.transcript, mem) {
        Ok(s) if problems.is_empty() => {
            return Ok(format!(
                "{} untyped caps ({} device, {} RAM = {} MiB)",
                s.caps,
                s.device_caps,
                s.ram_caps,
                s.ram_bytes >> 20,
            ))
        }
        Ok(_) => {}
        Err(more) => problems.extend(more),
    }
    Err(report(&problems, &run.transcript, ctx, name, &again))
}

fn cnode_boot(ctx: &mut Ctx, system: &str) -> Verdict {
    let machine = Machine::default();
    let again = run_command(system, &machine);
    let mem = machine.mem;
    let run = boot(ctx, system, system, machine)?;
    let mut problems = clean_halt(&run);
    if let Err(more) = expect::default_boot(&run.transcript, mem) {
        problems.extend(more);
    }
    let bits: u64 = system.trim_start_matches("cnode-").parse().unwrap_or(0);
    match expect::find_numbers(&run.transcript, expect::ROOT_CNODE) {
        Some((_, n)) if n == [bits] => {}
        other => problems.push(format!(
            "BootInfo should give a 2^{bits}-slot root CNode; the root task printed {:?}",
            other.map(|(_, n)| n)
        )),
    }
    if problems.is_empty() {
        Ok(format!("2^{bits} slots, every boot cap in place"))
    } else {
        Err(report(&problems, &run.transcript, ctx, system, &again))
    }
}

fn irq_uart(ctx: &mut Ctx) -> Verdict {
    let machine = Machine::default();
    let again = format!(
        "{} (then type lines; `quit` ends it)",
        run_command("irq-uart", &machine)
    );
    let run = boot_typing(
        ctx,
        "irq-uart",
        "irq-uart",
        machine,
        BOOT_TIMEOUT,
        Some(expect::IRQ_UART_INPUT.as_bytes()),
    )?;
    let mut problems = clean_halt(&run);
    if let Err(more) = expect::irq_uart(&run.transcript) {
        problems.extend(more);
    }
    if problems.is_empty() {
        Ok(
            "both lines arrived through IRQ 33 and a notification; the kernel logged its output while the driver owned the UART and replayed it on IRQHandler_Clear"
                .into(),
        )
    } else {
        Err(report(&problems, &run.transcript, ctx, "irq-uart", &again))
    }
}

fn default_system(ctx: &mut Ctx) -> Verdict {
    let (disk, _) = crate::disk::fresh_image("default-system", "default").map_err(|e| e.0)?;
    let machine = Machine {
        disk: Some(disk),
        ..Machine::default()
    };
    let again = format!(
        "{} (then type a line)",
        run_command(systems::DEFAULT, &machine)
    );
    let image = ctx.image(systems::DEFAULT)?;
    let log = ctx.log_dir.join("default-system.log");
    println!("booting {} (log: {})", image.path.display(), log.display());
    // Stop once the typed line came back and ping reported.
    let seen = std::cell::Cell::new(0u8);
    let stop = |line: &str| {
        if line.contains(expect::DEFAULT_SYSTEM_ECHOED) {
            seen.set(seen.get() | 1);
        }
        if line.contains(expect::DEFAULT_SYSTEM_LINES[4]) {
            seen.set(seen.get() | 2);
        }
        seen.get() == 3
    };
    let run = runner::run(
        &image.path,
        &Options {
            machine,
            timeout: Some(BOOT_TIMEOUT),
            interactive: false,
            echo: false,
            log: Some(log),
            stop_when: Some(&stop),
            input: Some(expect::DEFAULT_SYSTEM_INPUT.as_bytes()),
        },
    )
    .map_err(|e| e.0)?;
    let mut problems = Vec::new();
    if run.outcome != Outcome::Stopped {
        problems.push(format!(
            "the system should run until the harness stops it: {}",
            run.outcome.describe()
        ));
    }
    match expect::default_system(&run.transcript) {
        Ok(s) if problems.is_empty() => Ok(format!(
            "{} objects, {} caps, {} bytes; {} threads; typed line echoed in {:.1} s",
            s.objects,
            s.caps,
            s.bytes,
            s.threads,
            run.elapsed.as_secs_f64()
        )),
        Ok(_) => Err(report(
            &problems,
            &run.transcript,
            ctx,
            "default-system",
            &again,
        )),
        Err(more) => {
            problems.extend(more);
            Err(report(
                &problems,
                &run.transcript,
                ctx,
                "default-system",
                &again,
            ))
        }
    }
}

/// Bound on the shell session (boot, fs-check and fs-abuse, 13 commands).
const SHELL_SESSION_TIMEOUT: Duration = Duration::from_secs(120);
/// Bound on `run proctest` (about 20 s of it under TCG after a 15 s boot
/// where it was measured; 1,000 spawns of `true` are most of it).
const PROCESSES_TIMEOUT: Duration = Duration::from_secs(240);

/// Boots the default system on a fresh disk and types `script`, stopping
/// when `stop` says so; the run must still be going when stopped.
fn default_session(
    ctx: &mut Ctx,
    name: &str,
    script: &[Step],
    stop: &dyn Fn(&str) -> bool,
    timeout: Duration,
    icount: bool,
) -> std::result::Result<(Run, Vec<String>), String> {
    let (disk, _) = crate::disk::fresh_image(name, "default").map_err(|e| e.0)?;
    session_on(ctx, name, &disk, script, stop, timeout, icount)
}

/// [`default_session`] of another system built from the default
/// description.
fn system_session(
    ctx: &mut Ctx,
    system: &str,
    name: &str,
    script: &[Step],
    stop: &dyn Fn(&str) -> bool,
    timeout: Duration,
) -> std::result::Result<(Run, Vec<String>), String> {
    let (disk, _) = crate::disk::fresh_image(name, "default").map_err(|e| e.0)?;
    session_of(ctx, system, name, &disk, script, stop, timeout, false)
}

/// [`default_session`] on the disk image `disk`.
fn session_on(
    ctx: &mut Ctx,
    name: &str,
    disk: &std::path::Path,
    script: &[Step],
    stop: &dyn Fn(&str) -> bool,
    timeout: Duration,
    icount: bool,
) -> std::result::Result<(Run, Vec<String>), String> {
    session_of(
        ctx,
        systems::DEFAULT,
        name,
        disk,
        script,
        stop,
        timeout,
        icount,
    )
}

/// A scripted session of `system` on the disk image `disk`.
#[allow(clippy::too_many_arguments)]
fn session_of(
    ctx: &mut Ctx,
    system: &str,
    name: &str,
    disk: &std::path::Path,
    script: &[Step],
    stop: &dyn Fn(&str) -> bool,
    timeout: Duration,
    icount: bool,
) -> std::result::Result<(Run, Vec<String>), String> {
    let machine = Machine {
        disk: Some(disk.to_path_buf()),
        icount,
        ..Machine::default()
    };
    let image = ctx.image(system)?;
    let log = ctx.log_dir.join(format!("{name}.log"));
    println!("booting {} (log: {})", image.path.display(), log.display());
    let run = runner::run_scripted(
        &image.path,
        &Options {
            machine,
            timeout: Some(timeout),
            interactive: false,
            echo: false,
            log: Some(log),
            stop_when: Some(stop),
            input: None,
        },
        script,
    )
    .map_err(|e| e.0)?;
    let mut problems = Vec::new();
    if run.steps_typed < script.len() {
        problems.push(format!(
            "only {} of the {} lines were typed: the console never showed {:?} after line {}",
            run.steps_typed,
            script.len(),
            script[run.steps_typed].after,
            run.steps_typed
        ));
    }
    if run.outcome != Outcome::Stopped {
        problems.push(format!(
            "the system should run until the harness stops it: {}",
            run.outcome.describe()
        ));
    }
    Ok((run, problems))
}

/// The first step of a session: the prompt, once fs-check and fs-abuse
/// are done (fs-abuse fills the disk for a while).
/// A script of (what to wait for, line to type) commands whose first line
/// waits for `boot` instead.
fn after_boot_script(boot: &[&str], commands: &[(&[&str], &str)]) -> Vec<Step> {
    commands
        .iter()
        .enumerate()
        .map(|(i, (after, line))| Step::line(if i == 0 { boot } else { after }, line))
        .collect()
}

fn after_boot() -> Vec<&'static str> {
    let mut after = vec![expect::SHELL_PROMPT];
    after.extend(expect::SHELL_QUIET);
    after
}

fn shell_session(ctx: &mut Ctx) -> Verdict {
    const NAME: &str = "shell-session";
    let again = "cargo xtask disk build --system default && cargo xtask run (then type the commands of expect::SHELL_COMMANDS)";
    let boot = after_boot();
    let script: Vec<Step> = expect::SHELL_COMMANDS
        .iter()
        .enumerate()
        .map(|(i, command)| {
            let after: &[&str] = if i == 0 {
                &boot
            } else {
                &[expect::SHELL_PROMPT]
            };
            if i == expect::SHELL_KILL {
                // The hog's pid, from its row in what `ps` printed (the
                // text seen since `ps` was typed).
                Step::made(after, |seen| {
                    let pid = seen
                        .lines()
                        .find_map(|l| {
                            let w: Vec<&str> = l.split_whitespace().collect();
                            match w.as_slice() {
                                [pid, _, _, "hog"] => pid.parse::<u64>().ok(),
                                _ => None,
                            }
                        })
                        .unwrap_or(0);
                    format!("kill {pid}\r").into_bytes()
                })
            } else {
                Step::line(after, command)
            }
        })
        .collect();
    // fstest's verdict (its first line) ends the session.
    let stop = |line: &str| line.starts_with(expect::SHELL_FSTEST);
    let (run, mut problems) =
        default_session(ctx, NAME, &script, &stop, SHELL_SESSION_TIMEOUT, false)?;
    match expect::shell_session(&run.transcript) {
        Ok(s) if problems.is_empty() => {
            let typed = run.typed_at.first().copied().unwrap_or_default();
            Ok(format!(
                "{} commands answered; hog pid {} listed then killed, crashme pid {} faulted and reaped, {} KiB free again; booted and quiet in {:.1} s, session {:.1} s",
                script.len(),
                s.hog,
                s.crashed,
                s.procs_kib.0,
                typed.as_secs_f64(),
                (run.elapsed - typed).as_secs_f64()
            ))
        }
        Ok(_) => Err(report(&problems, &run.transcript, ctx, NAME, again)),
        Err(more) => {
            problems.extend(more);
            Err(report(&problems, &run.transcript, ctx, NAME, again))
        }
    }
}

fn processes(ctx: &mut Ctx) -> Verdict {
    const NAME: &str = "processes";
    let again = "cargo xtask disk build --system default && cargo xtask run --timeout 240 (then type `run proctest`)";
    let script = [Step::line(&after_boot(), "run proctest")];
    // The shell's `[pid N] exit C` for proctest ends it.
    let stop = |line: &str| expect::match_numbers(line, expect::SHELL_EXIT).is_some();
    let (run, mut problems) = default_session(ctx, NAME, &script, &stop, PROCESSES_TIMEOUT, false)?;
    match expect::processes(&run.transcript) {
        Ok(p) if problems.is_empty() => {
            let typed = run.typed_at.first().copied().unwrap_or_default();
            Ok(format!(
                "{} spawn/exit cycles with {} bytes free before and after, {} big processes fitted; proctest took {:.1} s (after a {:.1} s boot)",
                expect::PROCTEST_CYCLE_COUNT,
                p.free_bytes,
                p.bigs,
                (run.elapsed - typed).as_secs_f64(),
                typed.as_secs_f64()
            ))
        }
        Ok(_) => Err(report(&problems, &run.transcript, ctx, NAME, again)),
        Err(more) => {
            problems.extend(more);
            Err(report(&problems, &run.transcript, ctx, NAME, again))
        }
    }
}

/// How long the policy check may run.
const POLICY_TIMEOUT: Duration = Duration::from_secs(150);

fn policy(ctx: &mut Ctx) -> Verdict {
    const NAME: &str = "policy";
    let again = "cargo xtask disk build --system default && cargo xtask run -- -icount shift=0,align=off,sleep=off (then type the commands of expect::POLICY_COMMANDS)";
    let boot = after_boot();
    let mut script = Vec::new();
    for (i, (after, line)) in expect::POLICY_COMMANDS.iter().enumerate() {
        let after: Vec<&str> = if i == 0 { boot.clone() } else { after.to_vec() };
        script.push(Step::line(&after, line));
    }
    let stop = |line: &str| line.contains(expect::POLICY_DONE);
    let (run, mut problems) = default_session(ctx, NAME, &script, &stop, POLICY_TIMEOUT, true)?;
    match expect::policy(&run.transcript) {
        Ok(p) if problems.is_empty() => Ok(format!(
            "answers with the policy on {:?} us (bound {} us), off {:?} us (all above {} us)",
            p.on,
            expect::POLICY_ON_BOUND_US,
            p.off,
            expect::POLICY_OFF_ABOVE_US
        )),
        Ok(_) => Err(report(&problems, &run.transcript, ctx, NAME, again)),
        Err(more) => {
            problems.extend(more);
            Err(report(&problems, &run.transcript, ctx, NAME, again))
        }
    }
}

/// Bound on the supervision session (three restarts, one after a 500 ms
/// heartbeat timeout).
const SUPERVISION_TIMEOUT: Duration = Duration::from_secs(150);

fn supervision(ctx: &mut Ctx) -> Verdict {
    const NAME: &str = "supervision";
    let again = "cargo xtask disk build --system default && cargo xtask run (then type the commands of expect::SUPERVISION_COMMANDS)";
    let boot = after_boot();
    let script = after_boot_script(&boot, &expect::SUPERVISION_COMMANDS);
    // The listing of `/` after the last command ends it.
    let typed_last = std::cell::Cell::new(false);
    let stop = |line: &str| {
        if line.ends_with(expect::SUPERVISION_LAST) {
            typed_last.set(true);
        }
        typed_last.get() && line.ends_with(expect::SUPERVISION_LISTED)
    };
    let (run, mut problems) =
        default_session(ctx, NAME, &script, &stop, SUPERVISION_TIMEOUT, false)?;
    match expect::supervision(&run.transcript) {
        Ok(s) if problems.is_empty() => {
            let typed = run.typed_at.first().copied().unwrap_or_default();
            Ok(format!(
                "pong restarted after a fault, a panic and a hang, recovered in {} ms; {} live caps, as the spec; session {:.1} s after a {:.1} s boot",
                s.recovered_ms.join(", "),
                s.caps,
                (run.elapsed - typed).as_secs_f64(),
                typed.as_secs_f64()
            ))
        }
        Ok(_) => Err(report(&problems, &run.transcript, ctx, NAME, again)),
        Err(more) => {
            problems.extend(more);
            Err(report(&problems, &run.transcript, ctx, NAME, again))
        }
    }
}

/// Bound on the `threads` session (a boot and one command).
const THREADS_TIMEOUT: Duration = Duration::from_secs(90);

fn threads(ctx: &mut Ctx) -> Verdict {
    use crate::debugging::{THREADS_AFTER, THREADS_SUMMARY};
    const NAME: &str = "threads";
    let again = "cargo xtask run (then type `threads`)";
    let mut after = after_boot();
    after.push(THREADS_AFTER);
    let script = [Step::line(&after, "threads")];
    let stop = |line: &str| expect::match_numbers(line, THREADS_SUMMARY).is_some();
    let (run, mut problems) = default_session(ctx, NAME, &script, &stop, THREADS_TIMEOUT, false)?;
    let description = cargo::workspace_root().join("systems/default.toml");
    let components: Vec<(String, u64)> = match sysdesc::load(&description) {
        Ok(system) => system
            .components
            .iter()
            .map(|c| (c.name.clone(), u64::from(c.priority)))
            .collect(),
        Err(e) => return Err(format!("{}: {e:?}", description.display())),
    };
    match crate::debugging::threads(&run.transcript, &components) {
        Ok(n) if problems.is_empty() => Ok(format!(
            "{n} threads listed, each of the {} components at its priority; {:.1} s",
            components.len(),
            run.elapsed.as_secs_f64()
        )),
        Ok(_) => Err(report(&problems, &run.transcript, ctx, NAME, again)),
        Err(more) => {
            problems.extend(more);
            Err(report(&problems, &run.transcript, ctx, NAME, again))
        }
    }
}

/// Bound on the GDB session (a boot under the debugger, two stops).
const GDB_TIMEOUT: Duration = Duration::from_secs(60);

fn gdb_check(ctx: &mut Ctx) -> Verdict {
    const NAME: &str = "gdb";
    let again = "cargo xtask run --gdb, and in another terminal cargo xtask gdb (then the commands of debugging::GDB_COMMANDS)";
    let image = ctx.image(systems::DEFAULT)?;
    let (disk, _) = crate::disk::fresh_image(NAME, "default").map_err(|e| e.0)?;
    let log = ctx.log_dir.join(format!("{NAME}.log"));
    let _ = std::fs::create_dir_all(&ctx.log_dir);
    println!(
        "booting {} under GDB (log: {})",
        image.path.display(),
        log.display()
    );
    let t = Instant::now();
    let session = crate::gdb::batch_session(
        &image,
        Some(disk),
        crate::debugging::GDB_COMMANDS,
        &log,
        GDB_TIMEOUT,
    )
    .map_err(|e| e.0)?;
    let _ = std::fs::write(ctx.log_dir.join(format!("{NAME}-gdb.log")), &session.gdb);
    let mut problems = Vec::new();
    if !session.finished {
        problems.push(format!(
            "gdb-multiarch did not finish within {} s",
            GDB_TIMEOUT.as_secs()
        ));
    }
    if let Err(more) = crate::debugging::gdb_session(&session.gdb) {
        problems.extend(more);
    }
    if problems.is_empty() {
        Ok(format!(
            "breakpoint in pong::main hit in pong's thread, kernel and user frames named; {:.1} s",
            t.elapsed().as_secs_f64()
        ))
    } else {
        Err(format!(
            "\n  - {}\n--- to see it again: {again}\n--- GDB printed:\n{}\n--- last console lines ({}):\n{}",
            problems.join("\n  - "),
            session.gdb,
            log.display(),
            session
                .console
                .lines()
                .rev()
                .take(TAIL_LINES)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        ))
    }
}

/// Bound on each command of the tutorial.
const TUTORIAL_COMMAND_TIMEOUT: Duration = Duration::from_secs(180);

/// What the tutorial's commands must print whatever the page says: the
/// symbolized frame of the bug, and GDB's user frames behind a kernel
/// entry.
const TUTORIAL_MUST_SHOW: [&str; 3] = [
    "= tally::Tally::slot at components/system/src/bin/tally.rs:",
    "cerne: breakpoint 1 at ",
    "--- kernel entry from thread 'tally'",
];

/// Runs `line` with bash at the workspace root, its output into `out` and
/// `err`, in a process group of its own (so that it can be stopped whole).
fn spawn_shell(
    line: &str,
    out: &std::path::Path,
    err: &std::path::Path,
    port: u16,
) -> std::result::Result<std::process::Child, String> {
    use std::os::unix::process::CommandExt;
    let file = |p: &std::path::Path| {
        std::fs::File::create(p).map_err(|e| format!("cannot write {}: {e}", p.display()))
    };
    Command::new("bash")
        .arg("-c")
        .arg(line)
        .current_dir(cargo::workspace_root())
        .env(crate::gdb::PORT_ENV, port.to_string())
        .stdin(Stdio::null())
        .stdout(file(out)?)
        .stderr(file(err)?)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run `{line}`: {e}"))
}

/// Stops a process group this check started.
fn stop_group(child: &mut std::process::Child) {
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{}", child.id())])
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits for `child` at most `bound`; `None` when it had to be stopped.
fn wait_bounded(
    child: &mut std::process::Child,
    bound: Duration,
) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < bound {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    stop_group(child);
    None
}

fn tutorial(ctx: &mut Ctx) -> Verdict {
    use crate::debugging::{missing_lines, parse_tutorial};
    const NAME: &str = "tutorial";
    let root = cargo::workspace_root();
    let page = root.join("docs/tutorial.md");
    let text = std::fs::read_to_string(&page)
        .map_err(|e| format!("cannot read {}: {e}", page.display()))?;
    let t = parse_tutorial(&text).map_err(|e| format!("docs/tutorial.md: {e}"))?;
    let mut problems = Vec::new();
    for (path, quoted) in &t.quoted {
        let file = std::fs::read_to_string(root.join(path)).unwrap_or_default();
        if !file.contains(quoted.as_str()) {
            problems.push(format!(
                "docs/tutorial.md quotes {path}, which no longer holds:\n{quoted}"
            ));
        }
    }
    // Build first, so that a build failure is named as such.
    ctx.image("tutorial")?;
    let dir = ctx.log_dir.join(NAME);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let gdb_file = dir.join("session.gdb");
    std::fs::write(&gdb_file, t.gdb_commands.join("\n") + "\n")
        .map_err(|e| format!("cannot write {}: {e}", gdb_file.display()))?;
    let port = crate::gdb::free_port().map_err(|e| e.0)?;
    let started = Instant::now();
    let mut background = Vec::new();
    let mut everything = String::new();
    for (i, c) in t.commands.iter().enumerate() {
        let mut line = c.line.clone();
        let is_gdb = line.starts_with("cargo xtask gdb");
        if is_gdb {
            line.push_str(&format!(" -- -batch -x {}", gdb_file.display()));
        }
        println!("+ {line}{}", if c.background { " &" } else { "" });
        let (out, err) = (dir.join(format!("{i}.out")), dir.join(format!("{i}.err")));
        let mut child = spawn_shell(&line, &out, &err, port)?;
        if c.background {
            background.push((line, child, out, err));
            continue;
        }
        let status = wait_bounded(&mut child, TUTORIAL_COMMAND_TIMEOUT);
        let output = format!(
            "{}\n{}",
            std::fs::read_to_string(&out).unwrap_or_default(),
            std::fs::read_to_string(&err).unwrap_or_default()
        );
        everything.push_str(&output);
        match status {
            Some(s) if s.success() => {}
            Some(s) => problems.push(format!(
                "`{line}` ended with {s} (output: {})",
                out.display()
            )),
            None => problems.push(format!(
                "`{line}` did not end within {} s",
                TUTORIAL_COMMAND_TIMEOUT.as_secs()
            )),
        }
        let mut promised = c.expected.clone();
        if is_gdb {
            promised.push(t.gdb_expected.clone());
        }
        for block in &promised {
            let missing = missing_lines(block, &output);
            if !missing.is_empty() {
                problems.push(format!(
                    "`{line}` did not print, in this order, {missing:?} (output: {}, {})",
                    out.display(),
                    err.display()
                ));
            }
        }
    }
    for (line, mut child, out, err) in background {
        if wait_bounded(&mut child, Duration::from_secs(30)).is_none() {
            problems.push(format!(
                "`{line} &` was still running after the commands that follow it"
            ));
        }
        everything.push_str(&std::fs::read_to_string(&out).unwrap_or_default());
        everything.push_str(&std::fs::read_to_string(&err).unwrap_or_default());
    }
    for needle in TUTORIAL_MUST_SHOW {
        if !everything.contains(needle) {
            problems.push(format!("no command of the tutorial printed `{needle}`"));
        }
    }
    let svg = root.join("target/systems/tutorial/tutorial.svg");
    let drawn = std::fs::read_to_string(&svg).unwrap_or_default();
    if !(drawn.contains("tally") && drawn.contains("adder")) {
        problems.push(format!("{} does not show both components", svg.display()));
    }
    if problems.is_empty() {
        Ok(format!(
            "{} commands, {} GDB commands, {} quoted files as the page shows them; {:.1} s",
            t.commands.len(),
            t.gdb_commands.len(),
            t.quoted.len(),
            started.elapsed().as_secs_f64()
        ))
    } else {
        Err(format!(
            "\n  - {}\n--- the commands' output: {}",
            problems.join("\n  - "),
            dir.display()
        ))
    }
}

/// Bound on the restart-storm session.
const RESTART_STORM_TIMEOUT: Duration = Duration::from_secs(120);

/// pong faults at every start: the supervisor must back off (at once, then
/// 10, 20, 40 ms), hold it at the fifth failure, answer its client ping
/// `Unavailable`, and the rest of the system must carry on.
fn restart_storm(ctx: &mut Ctx) -> Verdict {
    const NAME: &str = "restart-storm";
    let again =
        "cargo xtask disk build --system restart-storm && cargo xtask run --system restart-storm";
    let script = [
        Step::line(
            &[
                "[super] pong held: 5 failures in a row",
                "[ping] call 0 to pong answered",
                // fs-abuse ends after fs-check (its last line).
                "[fsabuse] done: ",
                " 0 unexpected\n",
            ],
            "restarts",
        ),
        Step::line(&["pong       held"], "ls /"),
    ];
    let stop = |line: &str| line.ends_with("motd.txt");
    let (run, mut problems) = system_session(
        ctx,
        "restart-storm",
        NAME,
        &script,
        &stop,
        RESTART_STORM_TIMEOUT,
    )?;
    let t = &run.transcript;
    let count = |needle: &str| t.console.iter().filter(|l| l.contains(needle)).count();
    let failures = count("[super] pong failed: data fault at 0x0");
    if failures != 5 {
        problems.push(format!(
            "pong failed {failures} times, expected 5 (then held)"
        ));
    }
    for delay in [10, 20, 40] {
        let line = format!("[super] pong restarts in {delay} ms");
        if count(&line) != 1 {
            problems.push(format!("no back-off line `{line}`"));
        }
    }
    if count("[super] restarted pong") != 0 {
        problems.push("pong was reported recovered, but it faults at every start".into());
    }
    if count("[ping] call 0 to pong answered Unavailable; no more calls") != 1 {
        problems.push("ping did not get `Unavailable` for its first call to the held pong".into());
    }
    for (what, needle) in [
        ("the storage check", "[fscheck] done: 0 failures"),
        ("the shell's `restarts`", "pong       held"),
        ("the shell's `ls /`", "motd.txt"),
    ] {
        if count(needle) == 0 {
            problems.push(format!("{what} did not answer (`{needle}`)"));
        }
    }
    if !problems.is_empty() {
        return Err(report(&problems, t, ctx, NAME, again));
    }
    Ok(format!(
        "pong failed 5 times (restarted at once, then after 10, 20, 40 ms) and was held; ping got Unavailable; fscheck, restarts and ls answered; {:.1} s",
        run.elapsed.as_secs_f64()
    ))
}

/// Bound on the storage-restart session (two 8 MiB files, one written
/// twice, and their reads).
const STORAGE_RESTART_TIMEOUT: Duration = Duration::from_secs(300);

fn storage_restart(ctx: &mut Ctx) -> Verdict {
    const NAME: &str = "storage-restart";
    let again = "cargo xtask disk build --system default && cargo xtask run (then type the commands of expect::STORAGE_RESTART_COMMANDS)";
    let boot = after_boot();
    let script = after_boot_script(&boot, &expect::STORAGE_RESTART_COMMANDS);
    // The last wc's exit ends it.
    let exits = std::cell::Cell::new(0);
    let stop = |line: &str| {
        if expect::match_numbers(line, expect::SHELL_EXIT).is_some() {
            exits.set(exits.get() + 1);
        }
        exits.get() == expect::STORAGE_RESTART_RUNS
    };
    let (disk, built) = crate::disk::fresh_image(NAME, "default").map_err(|e| e.0)?;
    let (run, mut problems) = session_on(
        ctx,
        NAME,
        &disk,
        &script,
        &stop,
        STORAGE_RESTART_TIMEOUT,
        false,
    )?;
    let t = &run.transcript;
    let found = match expect::storage(t) {
        Ok(found) => found,
        Err(p) => {
            problems.extend(p);
            expect::StorageRun::default()
        }
    };
    let restart = match expect::storage_restart(t) {
        Ok(r) => r,
        Err(p) => {
            problems.extend(p);
            expect::StorageRestart::default()
        }
    };
    // The host: the image holds exactly what it was built with, fs-check's
    // files and the two big files with the pattern bigfile writes (computed
    // here, not taken from the guest), and its FAT is consistent.
    if problems.is_empty() {
        let mut expected = storage_expected(&built.expected(), &found);
        for path in expect::STORAGE_RESTART_FILES {
            expected.push(crate::disk::expected_file(
                path,
                &expect::bigfile_pattern(expect::STORAGE_RESTART_KIB * 1024),
            ));
        }
        if let Err(e) = crate::disk::expect_exact(&disk, &expected) {
            problems.push(format!("on the host, the image: {}", e.0));
        }
        if let Err(e) = crate::disk::check_image(&disk) {
            problems.push(format!("on the host, the FAT check: {}", e.0));
        }
    }
    if problems.is_empty() {
        Ok(format!(
            "blk crashed at {} KiB of {}, fs at {} KiB (the file written again); both files verified in the guest and on the host, FAT clean; {:.1} s",
            restart.blk_at_kib,
            expect::STORAGE_RESTART_KIB,
            restart.fs_at_kib,
            run.elapsed.as_secs_f64()
        ))
    } else {
        Err(report(&problems, t, ctx, NAME, again))
    }
}

fn reliability_check(ctx: &mut Ctx) -> Verdict {
    use crate::reliability::{self, Campaign, DEFAULT_INJECTIONS, DEFAULT_SEED};
    const NAME: &str = "reliability";
    let campaign = Campaign {
        seed: DEFAULT_SEED,
        injections: DEFAULT_INJECTIONS,
    };
    let log = ctx.log_dir.join(format!("{NAME}.log"));
    let (rel, run) = reliability::run(&campaign, &log, false).map_err(|e| e.0)?;
    // Built with the campaign's settings: a later check builds it afresh.
    ctx.images.remove(reliability::SYSTEM);
    let mut problems = rel.problems(&campaign);
    let made = rel.parsed.injections.len() as u64;
    if made < DEFAULT_INJECTIONS {
        problems.push(format!(
            "{made} injections accounted for, at least {DEFAULT_INJECTIONS} wanted"
        ));
    }
    if let Err(e) = reliability::write_json(&rel) {
        problems.push(e.0);
    }
    let t = &rel.total;
    if problems.is_empty() {
        Ok(format!(
            "{made} injections: {} restarted, {} no effect, {} held, {} skipped; recovery median {} / p99 {} guest instructions; {} workload operations, {} acknowledged files intact; {:.1} s",
            t.restarted,
            t.no_effect,
            t.held,
            t.skipped,
            t.median_ticks().unwrap_or(0) * reliability::INSTRUCTIONS_PER_TICK,
            t.p99_ticks().unwrap_or(0) * reliability::INSTRUCTIONS_PER_TICK,
            t.ops,
            rel.parsed.acked.len(),
            rel.seconds
        ))
    } else {
        Err(report(
            &problems,
            &run.transcript,
            ctx,
            NAME,
            &campaign.command(),
        ))
    }
}

fn capdl_boot_error(ctx: &mut Ctx) -> Verdict {
    let name = "capdl-boot-error";
    let machine = Machine {
        el2: true,
        ..Machine::default()
    };
    let again = run_command(name, &machine);
    let run = boot(ctx, name, name, machine)?;
    let mut problems = Vec::new();
    if !matches!(run.outcome, Outcome::Failed(_)) {
        problems.push(format!(
            "the run should fail on `{}`: {}",
            cerne_abi::console::CAPDL_ERROR_PREFIX,
            run.outcome.describe()
        ));
    }
    let wanted = "[capdl] error: no untyped covers 0x8030000, the address of 'gich_0' (Frame)";
    if run.transcript.find(wanted).is_none() {
        problems.push(format!("missing `{wanted}`"));
    }
    for started in ["[console] PL011 driver up", "[capdl] built"] {
        if run.transcript.find(started).is_some() {
            problems.push(format!(
                "`{started}`: something ran although the build failed"
            ));
        }
    }
    if problems.is_empty() {
        Ok("the initializer named the device frame no untyped covers, and nothing started".into())
    } else {
        Err(report(&problems, &run.transcript, ctx, name, &again))
    }
}

fn system_tools(ctx: &mut Ctx) -> Verdict {
    use crate::cli::{SystemArgs, SystemVerb, DEFAULT_DESCRIPTION};
    let root = cargo::workspace_root();
    let out = ctx.log_dir.join("system-tools");
    let run = |verb, file: &str, out: Option<PathBuf>| {
        crate::sysimage::command(&SystemArgs {
            verb,
            file: root.join(file),
            out,
        })
    };
    let mut problems = Vec::new();
    // capdl: the printed spec parses, validates, and is the spec the
    // default image's root task carries.
    let printed = out.join("default.cdl");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    match run(
        SystemVerb::Capdl,
        DEFAULT_DESCRIPTION,
        Some(printed.clone()),
    ) {
        Ok(true) => {
            let text = std::fs::read_to_string(&printed).unwrap_or_default();
            let image = ctx.image(systems::DEFAULT)?;
            let built = image::parts_dir(image.system).join("system.cdl");
            let built = std::fs::read_to_string(&built).unwrap_or_default();
            match (
                capdl::parse_and_validate("printed.cdl", &text),
                capdl::parse("built.cdl", &built),
            ) {
                (Ok(a), Ok(b)) if a == b => {}
                (Ok(_), Ok(_)) => problems
                    .push("`system capdl` printed another spec than the image carries".into()),
                (Err(e), _) => {
                    problems.push(format!("`system capdl` output does not validate: {e:?}"))
                }
                (_, Err(e)) => problems.push(format!("the image's system.cdl does not parse: {e}")),
            }
        }
        other => problems.push(format!(
            "`system capdl {DEFAULT_DESCRIPTION}` failed: {other:?}"
        )),
    }
    if !matches!(run(SystemVerb::Check, DEFAULT_DESCRIPTION, None), Ok(true)) {
        problems.push(format!("`system check {DEFAULT_DESCRIPTION}` failed"));
    }
    // draw: both files, every component and device in each.
    match run(SystemVerb::Draw, DEFAULT_DESCRIPTION, Some(out.clone())) {
        Ok(true) => {
            for ext in ["dot", "svg"] {
                let text =
                    std::fs::read_to_string(out.join(format!("default.{ext}"))).unwrap_or_default();
                for name in [
                    "console", "shell", "procs", "policy", "ping", "pong", "uart_irq", "uart",
                ] {
                    if !text.contains(name) {
                        problems.push(format!("default.{ext} does not mention `{name}`"));
                    }
                }
            }
        }
        other => problems.push(format!("`system draw` failed: {other:?}")),
    }
    // Bad input: each rejected with file:line:col and what is wrong.
    // Each message must hold every piece (the slot count moves with the
    // programs' sizes, so it is not pinned).
    for (file, wanted) in [
        ("tools/xtask/testdata/too-big.toml", ["too-big.toml:7:1: system `too-big` does not fit in 64 MiB of RAM: no untyped has 2^12 bytes left for 'hog_heap", ""]),
        ("tools/sysdesc/tests/broken/bad_sizes.toml", ["bad_sizes.toml:7:9: expected a stack size", ""]),
        ("tools/xtask/testdata/too-many-slots.toml", ["too-many-slots.toml:3:1: system `many-slots` needs ", " slots in the root task's CNode (objects, fillers, copies), more than the "]),
    ] {
        match run(SystemVerb::Check, file, None) {
            Err(e) if wanted.iter().all(|w| e.0.contains(w)) => {}
            other => problems.push(format!("`system check {file}` should fail with {wanted:?}; got {other:?}")),
        }
    }
    if problems.is_empty() {
        Ok("check, capdl (same spec as the image), draw; a broken, a too-big and a too-many-slots description rejected at file:line:col".into())
    } else {
        Err(problems.join("\n"))
    }
}

fn debug_dump(ctx: &mut Ctx) -> Verdict {
    let machine = Machine::default();
    let again = run_command("debug-dump", &machine);
    let run = boot(ctx, "debug-dump", "debug-dump", machine)?;
    let mut problems = clean_halt(&run);
    let objects = match expect::debug_dump(&run.transcript) {
        Ok(n) => n,
        Err(more) => {
            problems.extend(more);
            0
        }
    };
    if problems.is_empty() {
        Ok(format!(
            "scheduler dump printed; the snapshot is valid capDL ({objects} objects)"
        ))
    } else {
        Err(report(
            &problems,
            &run.transcript,
            ctx,
            "debug-dump",
            &again,
        ))
    }
}

fn stack_overflow(ctx: &mut Ctx) -> Verdict {
    const SYSTEM: &str = "stack-overflow-test";
    let (status, transcript) = xtask_run(ctx, "stack-overflow", SYSTEM)?;
    let mut problems = must_fail(status, "a kernel stack overflow");
    if let Err(more) = expect::stack_overflow(&transcript) {
        problems.extend(more);
    }
    if problems.is_empty() {
        Ok(format!("overflow reported, `run` ended with {status}"))
    } else {
        let again = run_command(SYSTEM, &Machine::default());
        Err(report(
            &problems,
            &transcript,
            ctx,
            "stack-overflow",
            &again,
        ))
    }
}

fn kernel_fault(ctx: &mut Ctx) -> Verdict {
    const SYSTEM: &str = "kernel-fault-test";
    let (status, transcript) = xtask_run(ctx, "kernel-fault", SYSTEM)?;
    let mut problems = must_fail(status, "a kernel exception");
    if let Err(more) = expect::kernel_fault(&transcript) {
        problems.extend(more);
    }
    // `run` names the kernel's faulting instruction from the kernel ELF:
    // the read in kernel/src/boot.rs.
    let named = transcript
        .stderr
        .iter()
        .find(|l| l.starts_with("[xtask] kernel PC "));
    if !named.is_some_and(|l| l.contains("kernel/src/boot.rs:")) {
        problems.push(format!(
            "`run` should name the kernel's PC in kernel/src/boot.rs; it printed {named:?}"
        ));
    }
    if problems.is_empty() {
        Ok(format!(
            "report printed, `run` ended with {status}; {}",
            named
                .map(|l| l.trim_start_matches("[xtask] "))
                .unwrap_or_default()
        ))
    } else {
        let again = run_command(SYSTEM, &Machine::default());
        Err(report(&problems, &transcript, ctx, "kernel-fault", &again))
    }
}

fn el0_fault(ctx: &mut Ctx, name: &str, el2: bool) -> Verdict {
    let machine = Machine {
        el2,
        ..Machine::default()
    };
    let again = run_command("el0-fault", &machine);
    let run = boot(ctx, name, "el0-fault", machine)?;
    let mut problems = clean_halt(&run);
    if let Err(more) = expect::el0_fault(&run.transcript) {
        problems.extend(more);
    }
    // The host names the faulting instruction from the image's ELFs: the
    // write in el0-fault.rs's `inner`, at its line; and the frame records
    // of the stack name its callers at their call sites: `outer`'s call of
    // `inner`, then `main`'s call of `outer`.
    let image = ctx.image("el0-fault")?;
    let named = crate::symbolize::annotate(
        &run.transcript.console,
        &crate::symbolize::Sources::of(&image),
    );
    let source = "components/boot-tests/src/bin/el0-fault.rs";
    let text = std::fs::read_to_string(cargo::workspace_root().join(source)).unwrap_or_default();
    let line_of = |needle: &str| {
        text.lines()
            .position(|l| l.contains(needle))
            .map(|i| format!("{source}:{}", i + 1))
    };
    let wanted = [
        (
            " PC ",
            "el0_fault::inner",
            line_of("write_volatile(UNMAPPED"),
        ),
        (
            " frame ",
            "el0_fault::outer",
            line_of("    inner(core::hint::black_box"),
        ),
        (
            " frame ",
            "el0_fault::main",
            line_of("    outer(0xdead_beef)"),
        ),
    ];
    for (what, function, at) in &wanted {
        let want = at.as_ref().map(|at| format!("{function} at {at}"));
        let found = named
            .iter()
            .any(|l| l.contains(what) && want.as_ref().is_some_and(|w| l.contains(w.as_str())));
        if !found {
            problems.push(format!(
                "a{}line should name `{}`; the host printed {named:?}",
                what,
                want.as_deref().unwrap_or(function)
            ));
        }
    }
    let pc = named.iter().find(|l| l.contains(" PC "));
    let frames = named.iter().filter(|l| l.contains(" frame ")).count();
    if problems.is_empty() {
        Ok(format!(
            "fault reported, thread suspended, clean halt; {frames} frame records named; {}",
            pc.map(|l| l.trim_start_matches("[xtask] "))
                .unwrap_or_default()
        ))
    } else {
        Err(report(&problems, &run.transcript, ctx, name, &again))
    }
}

/// RAM for the ktest system: 2 GiB gives it a 1 GiB-aligned untyped for
/// its 1 GiB-frame tests.
const KTEST_MEM: MemSize = MemSize::mib(2048);

fn ktest(ctx: &mut Ctx, name: &str, el2: bool) -> Verdict {
    let machine = Machine {
        el2,
        mem: KTEST_MEM,
        ..Machine::default()
    };
    let again = run_command("ktest", &machine);
    let run = boot(ctx, name, "ktest", machine)?;
    let mut problems = clean_halt(&run);
    match expect::ktest(&run.transcript) {
        Ok(n) if problems.is_empty() => return Ok(format!("{n} tests passed")),
        Ok(_) => {}
        Err(more) => problems.extend(more),
    }
    Err(report(&problems, &run.transcript, ctx, name, &again))
}

/// Bound on the million-syscall run of `--long` (40 to 90 s under TCG on
/// the machine it was measured on, depending on its load).
const SYSCALL_FUZZ_LONG_TIMEOUT: Duration = Duration::from_secs(600);

/// The hostile program: `syscall-fuzz` (or `syscall-fuzz-long` with
/// `--long`) must halt cleanly after its final line, with as many
/// syscalls issued as it announced, and the IPC and retype checks after
/// fuzzing passed.
fn syscall_fuzz(ctx: &mut Ctx) -> Verdict {
    const NAME: &str = "syscall-fuzz";
    let (system, timeout) = if ctx.long {
        ("syscall-fuzz-long", SYSCALL_FUZZ_LONG_TIMEOUT)
    } else {
        (NAME, BOOT_TIMEOUT)
    };
    let machine = Machine::default();
    let again = format!(
        "cargo xtask run --system {system} --timeout {}",
        timeout.as_secs()
    );
    let run = boot_within(ctx, NAME, system, machine, timeout)?;
    let mut problems = match (&run.outcome, run.end) {
        (Outcome::Halted, End::Exited(Some(0))) => vec![],
        (Outcome::Halted, _) => vec!["the system halted but QEMU did not power off".into()],
        (_, End::TimedOut) => vec![format!(
            "no halt within {} s (hung kernel, or a livelocked victim?)",
            timeout.as_secs()
        )],
        (o, _) => vec![o.describe()],
    };
    let t = &run.transcript;
    let announced = expect::find_numbers(t, "[syscall-fuzz] {} syscalls, seed {}, epochs of {}");
    let fin = expect::find_numbers(
        t,
        "[syscall-fuzz] {} syscalls issued, seed {}, {} faults handled, authority checks passed",
    );
    if let Some((i, _)) = t
        .console
        .iter()
        .enumerate()
        .find(|(_, l)| l.contains("[syscall-fuzz] FAIL"))
    {
        problems.push(format!("the root task reported: {}", t.console[i].trim()));
    }
    for line in [
        "[syscall-fuzz] after fuzzing: IPC round trip ok",
        "[syscall-fuzz] after fuzzing: retype ok",
    ] {
        if t.find(line).is_none() {
            problems.push(format!("no line `{line}`"));
        }
    }
    let note = match (announced, fin) {
        (Some((_, a)), Some((_, f))) if a[0] == f[0] && a[1] == f[1] => {
            format!(
                "{} syscalls, seed {:#x}, {} faults handled",
                f[0], f[1], f[2]
            )
        }
        (Some((_, a)), Some((_, f))) => {
            problems.push(format!(
                "announced {} syscalls with seed {:#x}, ended with {} and seed {:#x}",
                a[0], a[1], f[0], f[1]
            ));
            String::new()
        }
        (None, _) => {
            problems.push("no start line `[syscall-fuzz] N syscalls, seed S, ...`".into());
            String::new()
        }
        (_, None) => {
            problems.push(
                "no final line `[syscall-fuzz] N syscalls issued, seed S, M faults handled, authority checks passed`"
                    .into(),
            );
            String::new()
        }
    };
    if problems.is_empty() {
        Ok(note)
    } else {
        Err(report(&problems, t, ctx, NAME, &again))
    }
}

/// Runs `cargo xtask run --system panic-test --timeout ..` as a user would,
/// and checks that it exits non-zero and that the panic names its location.
/// Runs `cargo xtask run --system NAME --timeout ..` as a user would, and
/// returns its exit status and console. The log goes to the check's file.
fn xtask_run(
    ctx: &mut Ctx,
    name: &str,
    system: &str,
) -> std::result::Result<(std::process::ExitStatus, Transcript), String> {
    // Build first, so a build failure is reported as such.
    ctx.image(system)?;
    // Through cargo, as `cargo xtask run` does: our own executable may have
    // been rebuilt (and unlinked) since this run started.
    let timeout = BOOT_TIMEOUT.as_secs().to_string();
    let mut cmd = cargo::cargo();
    cmd.args(["run", "--quiet", "--package", "xtask", "--"])
        .args(["run", "--system", system, "--timeout", &timeout])
        .stdin(Stdio::null());
    let line = format!("cargo xtask run --system {system} --timeout {timeout}");
    println!("+ {line}");
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run `{line}`: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let transcript = Transcript {
        console: stdout
            .lines()
            .map(|l| l.trim_end_matches('\r').to_owned())
            .collect(),
        stderr: String::from_utf8_lossy(&out.stderr)
            .lines()
            .map(str::to_owned)
            .collect(),
    };
    let log = ctx.log_dir.join(format!("{name}.log"));
    let _ = std::fs::create_dir_all(&ctx.log_dir);
    let _ = std::fs::write(
        &log,
        format!(
            "+ {line}\n{stdout}\n--- stderr ---\n{}\n--- {}\n",
            String::from_utf8_lossy(&out.stderr),
            out.status
        ),
    );
    Ok((out.status, transcript))
}

/// Problems with the exit status of a run that must fail.
fn must_fail(status: std::process::ExitStatus, what: &str) -> Vec<String> {
    if status.success() {
        vec![format!("`cargo xtask run` exited 0 after {what}")]
    } else if status.code() == Some(crate::EXIT_USAGE) {
        vec![format!("`cargo xtask run` could not run ({status})")]
    } else {
        vec![]
    }
}

fn panic_test(ctx: &mut Ctx) -> Verdict {
    const NAME: &str = "panic-test";
    let (status, transcript) = xtask_run(ctx, NAME, NAME)?;
    let mut problems = must_fail(status, "a kernel panic");
    let location = match expect::kernel_panic(&transcript) {
        Ok(location) => Some(location),
        Err(more) => {
            problems.extend(more);
            None
        }
    };
    match location {
        Some(location) if problems.is_empty() => {
            Ok(format!("`run` ended with {status}, panic at {location}"))
        }
        _ => {
            let again = run_command(NAME, &Machine::default());
            Err(report(&problems, &transcript, ctx, NAME, &again))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_names_are_unique() {
        let mut names: Vec<String> = checks().into_iter().map(|c| c.name).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
    }

    #[test]
    fn run_command_reproduces_the_machine() {
        let machine = Machine {
            el2: true,
            mem: MemSize::mib(256),
            ..Machine::default()
        };
        assert_eq!(
            run_command("el0-fault", &machine),
            "cargo xtask run --system el0-fault --el2 --mem 256M --timeout 60"
        );
        assert_eq!(
            run_command("default", &Machine::default()),
            "cargo xtask run --timeout 60"
        );
    }
}
