//! `cargo xtask`: the host-side orchestration of Cerne. It builds the aarch64
//! crates with an explicit target and packs them into boot images, boots
//! them under QEMU while reading the console, runs every check of the
//! project, and reports benchmark figures. See `cargo xtask help`.

mod bench;
mod cargo;
mod cli;
mod console;
mod debugging;
mod disk;
mod elf;
mod error;
mod expect;
mod gdb;
mod image;
mod miri;
mod proofs;
mod qemu;
mod reliability;
mod runner;
mod setup;
mod suite;
mod symbolize;
mod sysimage;
mod systems;

use std::process::ExitCode;
use std::time::Duration;

use cli::{BuildWhat, Command, RunArgs};
use error::{Error, Result};

/// Exit status when a run, a test or a build failed.
pub const EXIT_FAILURE: u8 = 1;
/// Exit status when the xtask could not do what was asked (bad arguments,
/// missing tools).
pub const EXIT_USAGE: i32 = 2;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match cli::parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE as u8);
        }
    };
    match execute(command) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(EXIT_FAILURE),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_USAGE as u8)
        }
    }
}

/// Carries out a command; `Ok(false)` is a failed run or test.
fn execute(command: Command) -> Result<bool> {
    match command {
        Command::Help => {
            print!("{}", cli::usage());
            Ok(true)
        }
        Command::Build(what) => {
            let list = match what {
                BuildWhat::All => systems::SYSTEMS.iter().collect(),
                BuildWhat::System(name) => vec![systems::find(&name)?],
            };
            for system in list {
                image::build(system)?;
            }
            Ok(true)
        }
        Command::Run(args) => run(args),
        Command::Gdb(args) => {
            let system = systems::find(&args.system)?;
            let image = image::build(system)?;
            setup::ensure_gdb()?;
            let mut cmd = gdb::command(&image, args.port, &args.gdb_args)?;
            if !gdb::wait_for_port(args.port, Duration::from_secs(60)) {
                return Err(Error::new(format!(
                    "nothing listens on port {} (start QEMU with `cargo xtask run --gdb` first)",
                    args.port
                )));
            }
            eprintln!(
                "[xtask] attaching {} to localhost:{} (script {})",
                gdb::GDB,
                args.port,
                gdb::dir().join(format!("{}.gdb", system.name)).display()
            );
            let status = cmd
                .status()
                .map_err(|e| Error::new(format!("cannot run {}: {e}", gdb::GDB)))?;
            Ok(status.success())
        }
        Command::Test(args) => suite::run(&args),
        Command::Proofs { long } => proofs::run(long).map(|()| true),
        Command::System(args) => sysimage::command(&args),
        Command::Disk(args) => disk::command(&args),
        Command::Reliability(args) => reliability::command(&reliability::Campaign {
            seed: args.seed,
            injections: args.injections,
        }),
        Command::Bench {
            ipc_only,
            recovery_only,
        } => {
            setup::ensure_qemu()?;
            if recovery_only {
                return bench::recovery().map(|()| true);
            }
            bench::run(ipc_only).map(|()| true)
        }
    }
}

/// `cargo xtask run`: build (unless `--image`), boot interactively, judge.
fn run(args: RunArgs) -> Result<bool> {
    let system = systems::find(&args.system)?;
    if let Some(path) = args.image.as_ref().filter(|p| !p.is_file()) {
        return Err(Error::new(format!("no such file: {}", path.display())));
    }
    setup::ensure_qemu()?;
    let (image, sources) = match &args.image {
        Some(path) => (path.clone(), None),
        None => {
            let built = image::build(system)?;
            if args.gdb {
                let script = gdb::write_script(&built, gdb::default_port())?;
                eprintln!(
                    "[xtask] QEMU waits for GDB on port {}: attach with `cargo xtask gdb{}` (script {})",
                    gdb::default_port(),
                    if system.name == systems::DEFAULT {
                        String::new()
                    } else {
                        format!(" --system {}", system.name)
                    },
                    script.display()
                );
            }
            (built.path.clone(), Some(symbolize::Sources::of(&built)))
        }
    };
    let disk = match (system.disk, &args.image) {
        (Some(files), None) => Some(disk::image_of(system.name, files)?),
        _ => None,
    };
    let options = runner::Options {
        machine: qemu::Machine {
            el2: args.el2,
            mem: args.mem,
            icount: false,
            disk,
            extra: if args.gdb {
                gdb::qemu_flags(gdb::default_port())
                    .into_iter()
                    .chain(args.qemu_args)
                    .collect()
            } else {
                args.qemu_args
            },
        },
        timeout: args.timeout.map(Duration::from_secs),
        interactive: true,
        echo: true,
        log: None,
        stop_when: None,
        input: None,
    };
    match args.timeout {
        Some(secs) => {
            eprintln!("[xtask] booting; QEMU is stopped after {secs} s (Ctrl-A X quits sooner)")
        }
        None => eprintln!("[xtask] booting; Ctrl-A X quits QEMU"),
    }
    let run = runner::run(&image, &options)?;
    if let Some(sources) = &sources {
        for line in symbolize::annotate(&run.transcript.console, sources) {
            eprintln!("{line}");
        }
    }
    eprintln!("\n[xtask] {}", run.outcome.describe());
    Ok(run.outcome.is_ok())
}
