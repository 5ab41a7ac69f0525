//! Command-line parsing: turns the arguments of `cargo xtask` into a
//! [`Command`], with a message (never a panic) for anything it cannot read.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::qemu::MemSize;
use crate::systems;

/// What to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildWhat {
    /// One system, by name.
    System(String),
    /// Every system.
    All,
}

/// Arguments of `run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunArgs {
    /// The system to build and boot.
    pub system: String,
    /// Boot this ELF instead of building a system.
    pub image: Option<PathBuf>,
    /// Stop after this many seconds.
    pub timeout: Option<u64>,
    /// Enter at EL2.
    pub el2: bool,
    /// Guest RAM.
    pub mem: MemSize,
    /// Flags passed on to QEMU.
    pub qemu_args: Vec<String>,
    /// Wait for GDB on [`crate::gdb::default_port`] (`--gdb`).
    pub gdb: bool,
}

/// Arguments of `gdb`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GdbArgs {
    /// The system whose symbols to load.
    pub system: String,
    /// The port QEMU's gdbstub listens on.
    pub port: u16,
    /// Flags passed on to gdb-multiarch.
    pub gdb_args: Vec<String>,
}

/// Arguments of `test`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TestArgs {
    /// The long runs: property tests with many cases, the million-syscall fuzz.
    pub long: bool,
    /// Only list the checks.
    pub list: bool,
    /// Run only the checks whose names contain one of these.
    pub filters: Vec<String>,
}

/// What `cargo xtask system` does with a description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemVerb {
    /// Check it, expand it, and build a bootable image of it.
    Build,
    /// Print its capDL.
    Capdl,
    /// Check it: schema, references, capDL validation, allocation simulation.
    Check,
    /// Draw its authority graph (DOT and SVG).
    Draw,
}

/// Arguments of `system`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemArgs {
    /// The verb.
    pub verb: SystemVerb,
    /// The description (default `systems/default.toml`).
    pub file: PathBuf,
    /// Where `draw` and `capdl` write (default: target/systems/<name>/ or stdout).
    pub out: Option<PathBuf>,
}

/// Arguments of `disk` (docs/disk.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiskArgs {
    /// `disk build [--system NAME] [--out PATH]`
    Build {
        /// Whose `disk/<system>/` goes on the image (default `default`).
        system: String,
        /// The image (default `target/disk/<system>.img`).
        out: Option<PathBuf>,
    },
    /// `disk list [IMG]`
    List {
        /// The image (default `target/disk/default.img`).
        image: Option<PathBuf>,
    },
    /// `disk check [IMG]`
    Check {
        /// The image (default `target/disk/default.img`).
        image: Option<PathBuf>,
    },
}

/// Arguments of `reliability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReliabilityArgs {
    /// The campaign's seed.
    pub seed: u64,
    /// How many injections.
    pub injections: u64,
}

/// The description `cargo xtask system` reads when none is named.
pub const DEFAULT_DESCRIPTION: &str = "systems/default.toml";

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `build`
    Build(BuildWhat),
    /// `run`
    Run(RunArgs),
    /// `test`
    Test(TestArgs),
    /// `proofs`
    Proofs {
        /// `--long`
        long: bool,
    },
    /// `bench`
    Bench {
        /// `--ipc`: the IPC round trips only.
        ipc_only: bool,
        /// `--recovery`: the restart-recovery figure only.
        recovery_only: bool,
    },
    /// `system`
    System(SystemArgs),
    /// `disk`
    Disk(DiskArgs),
    /// `reliability`
    Reliability(ReliabilityArgs),
    /// `gdb`
    Gdb(GdbArgs),
    /// `help`, `--help`, or nothing.
    Help,
}

/// The text of `cargo xtask help`.
pub fn usage() -> String {
    let mut s = String::from(
        "cargo xtask: build, boot, test and measure Cerne

USAGE:
  cargo xtask build [--system NAME | --all]
      Build target/images/<system>.elf (default system: default).
  cargo xtask run [--system NAME] [--timeout SECS] [--el2] [--mem SIZE] [--image ELF] [--gdb] [-- QEMU-ARGS...]
      Build and boot a system in QEMU, interactively (Ctrl-A X quits).
      --gdb           QEMU waits for GDB on port 1234 (or $CERNE_GDB_PORT)
                      before the first instruction; attach with `cargo xtask gdb`
      --timeout SECS  stop after SECS seconds; exit 0 if the guest ran or halted
                      cleanly, non-zero on a kernel panic or fault
      --el2           enter at EL2 (-M virt,virtualization=on)
      --mem SIZE      guest RAM, e.g. 256M or 2G (default 512M)
      --image ELF     boot this ELF as it is, building nothing
      -- ARGS         extra flags appended to the QEMU command line
  cargo xtask gdb [--system NAME] [--port N] [-- GDB-ARGS...]
      Attach gdb-multiarch to a QEMU started by `run --gdb`, with the
      kernel's symbols and helpers for the components (cerne-component,
      cerne-break, cerne-thread, cerne-bt; docs/debugging.md); the script
      is target/gdb/<system>.gdb. It waits up to 60 s for QEMU to listen.
      --port: QEMU's gdbstub (default 1234, or $CERNE_GDB_PORT).
  cargo xtask test [--long] [--list] [CHECK...]
      Run every check (or those whose names contain a CHECK word);
      --long: property tests with CERNE_PROOF_CASES=200000, and the
      million-syscall fuzz (system syscall-fuzz-long).
  cargo xtask proofs [--long]
      The refinement property tests, in release mode.
  cargo xtask bench [--ipc | --recovery]
      Guest instructions from reset to the root task and to all components of
      the default system, IPC round trips, the kernel size, storage, and a
      supervised component's fault to its first served request after the
      restart (median per component, from a 30-injection campaign);
      --ipc: the IPC round trips and the kernel size only;
      --recovery: the restart-recovery figure only.
  cargo xtask reliability [--long] [--seed N] [--injections N]
      The fault-injection campaign (system reliability) under -icount on a
      fresh disk: faults, panics, hangs, bit flips and garbage injected one
      at a time into blk, fs and pong while a workload writes, fsyncs and
      checks files. Prints per way of failing and per target: injections,
      kernel failures, hangs, restarts, no-effect, held, recovery time
      (median, 99th percentile, guest instructions and ms), workload
      operations; the host then checks every acknowledged file and the FAT
      on the image. Exit 1 if a kernel failure, a hang, an injection not
      accounted for or acknowledged data lost; each named with the command
      that reproduces it. Figures also in target/bench/reliability.json.
      --seed N        the campaign's seed, decimal or 0x hex (default 1)
      --injections N  injections (default 200)
      --long          10,000 injections (a time limit scaled to them)
  cargo xtask system (build | capdl | check | draw) [FILE] [--out PATH]
      Work with a system description (TOML; default systems/default.toml;
      docs/systems.md). Every error names file:line:col.
      check  schema, references, capDL validation, and the root task's
             allocation simulated on the untypeds the kernel hands out
      capdl  print the expanded capDL (to PATH with --out)
      build  check, then build target/images/<name>.elf (boot it with
             `cargo xtask run --image ...`)
      draw   the authority graph: components as boxes, channels and shared
             memory as edges, devices and IRQs marked; writes <name>.dot and
             <name>.svg into PATH (default target/systems/<name>/)
  cargo xtask disk build [--system NAME] [--out PATH]
  cargo xtask disk (list | check) [IMG]
      FAT32 disk images (docs/disk.md; IMG default target/disk/default.img).
      build  disk/<system>/ (default system: default) as a 64 MiB FAT32
             image at PATH (default target/disk/<system>.img)
      list   every file with its size and CRC-32
      check  boot sector, every directory and cluster chain (cross-links,
             loops, sizes, lost clusters), FSInfo; and fsck.fat -n if present;
             exit 1 on a fault

SYSTEMS:
",
    );
    for sys in systems::SYSTEMS {
        s.push_str(&format!("  {:<12} {}\n", sys.name, sys.about));
    }
    s
}

/// Parses the arguments after `cargo xtask`.
pub fn parse(args: &[String]) -> Result<Command> {
    let Some((verb, rest)) = args.split_first() else {
        return Ok(Command::Help);
    };
    let mut p = Parser::new(rest);
    let command = match verb.as_str() {
        "build" => {
            let mut what = BuildWhat::System(systems::DEFAULT.to_owned());
            let mut named = false;
            let mut all = false;
            while let Some(flag) = p.next_flag()? {
                match flag.as_str() {
                    "--system" => {
                        what = BuildWhat::System(p.value(&flag)?);
                        named = true;
                    }
                    "--all" => all = true,
                    _ => return Err(p.unknown(verb, &flag)),
                }
            }
            if all && named {
                return Err(Error::new("give either --system or --all, not both"));
            }
            Command::Build(if all { BuildWhat::All } else { what })
        }
        "run" => {
            let mut run = RunArgs {
                system: systems::DEFAULT.to_owned(),
                image: None,
                timeout: None,
                el2: false,
                mem: MemSize::DEFAULT,
                qemu_args: Vec::new(),
                gdb: false,
            };
            while let Some(flag) = p.next_flag()? {
                match flag.as_str() {
                    "--system" => run.system = p.value(&flag)?,
                    "--image" => run.image = Some(PathBuf::from(p.value(&flag)?)),
                    "--timeout" => {
                        let v = p.value(&flag)?;
                        let secs = v.parse::<u64>().ok().filter(|&s| s > 0);
                        run.timeout = Some(secs.ok_or_else(|| {
                            Error::new(format!(
                                "--timeout takes a whole number of seconds above 0, not `{v}`"
                            ))
                        })?);
                    }
                    "--el2" => run.el2 = true,
                    "--gdb" => run.gdb = true,
                    "--mem" => run.mem = p.value(&flag)?.parse()?,
                    _ => return Err(p.unknown(verb, &flag)),
                }
            }
            if run.gdb && run.image.is_some() {
                return Err(Error::new(
                    "--gdb needs a system the xtask builds (its symbols), not --image",
                ));
            }
            run.qemu_args = p.trailing();
            Command::Run(run)
        }
        "gdb" => {
            let mut gdb = GdbArgs {
                system: systems::DEFAULT.to_owned(),
                port: crate::gdb::default_port(),
                gdb_args: Vec::new(),
            };
            while let Some(flag) = p.next_flag()? {
                match flag.as_str() {
                    "--system" => gdb.system = p.value(&flag)?,
                    "--port" => {
                        let v = p.value(&flag)?;
                        gdb.port = v.parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                            Error::new(format!("--port takes a TCP port (1..65535), not `{v}`"))
                        })?;
                    }
                    _ => return Err(p.unknown(verb, &flag)),
                }
            }
            gdb.gdb_args = p.trailing();
            Command::Gdb(gdb)
        }
        "test" => {
            let mut test = TestArgs::default();
            while let Some(arg) = p.next_any()? {
                match arg.as_str() {
                    "--long" => test.long = true,
                    "--list" => test.list = true,
                    a if a.starts_with('-') => return Err(p.unknown(verb, a)),
                    _ => test.filters.push(arg),
                }
            }
            Command::Test(test)
        }
        "proofs" => {
            let mut long = false;
            while let Some(flag) = p.next_flag()? {
                match flag.as_str() {
                    "--long" => long = true,
                    _ => return Err(p.unknown(verb, &flag)),
                }
            }
            Command::Proofs { long }
        }
        "bench" => {
            let mut ipc_only = false;
            let mut recovery_only = false;
            while let Some(flag) = p.next_flag()? {
                match flag.as_str() {
                    "--ipc" => ipc_only = true,
                    "--recovery" => recovery_only = true,
                    _ => return Err(p.unknown(verb, &flag)),
                }
            }
            if ipc_only && recovery_only {
                return Err(Error::new("give either --ipc or --recovery, not both"));
            }
            Command::Bench {
                ipc_only,
                recovery_only,
            }
        }
        "system" => {
            let mut verb = None;
            let mut file = None;
            let mut out = None;
            while let Some(arg) = p.next_any()? {
                match arg.as_str() {
                    "--out" => out = Some(PathBuf::from(p.value(&arg)?)),
                    a if a.starts_with('-') => return Err(p.unknown("system", a)),
                    a if verb.is_none() => {
                        verb = Some(match a {
                            "build" => SystemVerb::Build,
                            "capdl" => SystemVerb::Capdl,
                            "check" => SystemVerb::Check,
                            "draw" => SystemVerb::Draw,
                            other => {
                                return Err(Error::new(format!(
                                    "`system` takes build, capdl, check or draw, not `{other}`"
                                )))
                            }
                        })
                    }
                    a if file.is_none() => file = Some(PathBuf::from(a)),
                    a => {
                        return Err(Error::new(format!(
                            "`system` takes one file; `{a}` is a second"
                        )))
                    }
                }
            }
            let verb = verb
                .ok_or_else(|| Error::new("`system` needs a verb: build, capdl, check or draw"))?;
            Command::System(SystemArgs {
                verb,
                file: file.unwrap_or_else(|| PathBuf::from(DEFAULT_DESCRIPTION)),
                out,
            })
        }
        "disk" => Command::Disk(parse_disk(&mut p)?),
        "reliability" => {
            use crate::reliability::{DEFAULT_INJECTIONS, DEFAULT_SEED, LONG_INJECTIONS};
            let mut args = ReliabilityArgs {
                seed: DEFAULT_SEED,
                injections: DEFAULT_INJECTIONS,
            };
            let mut long = false;
            let mut counted = false;
            while let Some(flag) = p.next_flag()? {
                match flag.as_str() {
                    "--long" => long = true,
                    "--seed" => args.seed = number(&flag, &p.value(&flag)?)?,
                    "--injections" => {
                        args.injections = number(&flag, &p.value(&flag)?)?;
                        counted = true;
                        if args.injections == 0 {
                            return Err(Error::new("--injections takes a number above 0"));
                        }
                    }
                    _ => return Err(p.unknown(verb, &flag)),
                }
            }
            if long && counted {
                return Err(Error::new("give either --long or --injections, not both"));
            }
            if long {
                args.injections = LONG_INJECTIONS;
            }
            Command::Reliability(args)
        }
        "help" | "--help" | "-h" => Command::Help,
        other => {
            return Err(Error::new(format!(
            "unknown command `{other}`; the commands are build, run, gdb, test, proofs, bench, reliability, system, disk \
                 (see `cargo xtask help`)"
        )))
        }
    };
    if let Some(extra) = p.leftover() {
        return Err(Error::new(format!(
            "`{verb}` takes no further arguments (got `{extra}`)"
        )));
    }
    Ok(command)
}

/// A whole number, decimal or `0x` hex, for `flag`.
fn number(flag: &str, v: &str) -> Result<u64> {
    let parsed = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    };
    parsed.ok_or_else(|| {
        Error::new(format!(
            "{flag} takes a whole number (decimal or 0x hex), not `{v}`"
        ))
    })
}

/// The arguments after `disk`: a verb, then `--system`/`--out` for `build`
/// or one image for `list` and `check`.
fn parse_disk(p: &mut Parser) -> Result<DiskArgs> {
    const VERBS: &str = "`disk` takes build, list or check";
    let verb = match p.next_any()? {
        Some(v) if !v.starts_with('-') => v,
        Some(v) => return Err(Error::new(format!("{VERBS} before any flag, not `{v}`"))),
        None => return Err(Error::new(VERBS)),
    };
    match verb.as_str() {
        "build" => {
            let mut system = crate::disk::DEFAULT_SYSTEM.to_owned();
            let mut out = None;
            while let Some(flag) = p.next_flag()? {
                match flag.as_str() {
                    "--system" => system = p.value(&flag)?,
                    "--out" => out = Some(PathBuf::from(p.value(&flag)?)),
                    _ => return Err(p.unknown("disk build", &flag)),
                }
            }
            Ok(DiskArgs::Build { system, out })
        }
        "list" | "check" => {
            let mut image = None;
            while let Some(arg) = p.next_any()? {
                match arg.as_str() {
                    a if a.starts_with('-') => return Err(p.unknown(&format!("disk {verb}"), a)),
                    a if image.is_none() => image = Some(PathBuf::from(a)),
                    a => {
                        return Err(Error::new(format!(
                            "`disk {verb}` takes one image; `{a}` is a second"
                        )))
                    }
                }
            }
            Ok(if verb == "list" {
                DiskArgs::List { image }
            } else {
                DiskArgs::Check { image }
            })
        }
        other => Err(Error::new(format!("{VERBS}, not `{other}`"))),
    }
}

/// A cursor over the arguments of one verb. `--flag=value` is split into
/// flag and value; `--` ends the flags.
struct Parser {
    args: Vec<String>,
    at: usize,
    pending_value: Option<String>,
    trailing: Option<Vec<String>>,
}

impl Parser {
    fn new(args: &[String]) -> Self {
        Parser {
            args: args.to_vec(),
            at: 0,
            pending_value: None,
            trailing: None,
        }
    }

    /// The next argument, flag or not; `None` at the end or at `--`.
    fn next_any(&mut self) -> Result<Option<String>> {
        if let Some(v) = self.pending_value.take() {
            return Err(Error::new(format!("unexpected value `{v}`")));
        }
        let Some(arg) = self.args.get(self.at).cloned() else {
            return Ok(None);
        };
        self.at += 1;
        if arg == "--" {
            self.trailing = Some(self.args[self.at..].to_vec());
            self.at = self.args.len();
            return Ok(None);
        }
        if let Some((flag, value)) = arg.split_once('=').filter(|_| arg.starts_with("--")) {
            self.pending_value = Some(value.to_owned());
            return Ok(Some(flag.to_owned()));
        }
        Ok(Some(arg))
    }

    /// The next flag; a bare word is an error.
    fn next_flag(&mut self) -> Result<Option<String>> {
        match self.next_any()? {
            Some(a) if !a.starts_with('-') => Err(Error::new(format!(
                "unexpected argument `{a}` (flags start with --)"
            ))),
            other => Ok(other),
        }
    }

    /// The value of `flag`, from `--flag=value` or the next argument.
    fn value(&mut self, flag: &str) -> Result<String> {
        if let Some(v) = self.pending_value.take() {
            return Ok(v);
        }
        match self.args.get(self.at) {
            Some(v) if v != "--" => {
                self.at += 1;
                Ok(v.clone())
            }
            _ => Err(Error::new(format!("{flag} needs a value"))),
        }
    }

    /// Everything after `--`.
    fn trailing(&mut self) -> Vec<String> {
        self.trailing.take().unwrap_or_default()
    }

    /// Arguments nobody took (after `--` for a verb that takes none).
    fn leftover(&self) -> Option<String> {
        self.pending_value
            .clone()
            .or_else(|| self.trailing.as_ref().and_then(|t| t.first().cloned()))
    }

    fn unknown(&self, verb: &str, flag: &str) -> Error {
        Error::new(format!(
            "`{verb}` has no flag `{flag}` (see `cargo xtask help`)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(s: &str) -> Result<Command> {
        let args: Vec<String> = s.split_whitespace().map(String::from).collect();
        parse(&args)
    }

    #[test]
    fn run_with_everything() {
        let c = parse_str("run --system el0-fault --timeout=30 --el2 --mem 2G -- -s -S").unwrap();
        assert_eq!(
            c,
            Command::Run(RunArgs {
                system: "el0-fault".into(),
                image: None,
                timeout: Some(30),
                el2: true,
                mem: MemSize::mib(2048),
                qemu_args: vec!["-s".into(), "-S".into()],
                gdb: false,
            })
        );
    }

    #[test]
    fn gdb_flags() {
        let Command::Run(r) = parse_str("run --gdb").unwrap() else {
            panic!()
        };
        assert!(r.gdb);
        assert_eq!(
            parse_str("gdb").unwrap(),
            Command::Gdb(GdbArgs {
                system: "default".into(),
                port: 1234,
                gdb_args: vec![],
            })
        );
        assert_eq!(
            parse_str("gdb --system tutorial --port 4000 -- -batch -x f").unwrap(),
            Command::Gdb(GdbArgs {
                system: "tutorial".into(),
                port: 4000,
                gdb_args: vec!["-batch".into(), "-x".into(), "f".into()],
            })
        );
        for bad in [
            "gdb --port 0",
            "gdb --port x",
            "gdb extra",
            "run --gdb --image x.elf",
        ] {
            assert!(parse_str(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults() {
        assert_eq!(parse_str("").unwrap(), Command::Help);
        assert_eq!(
            parse_str("bench").unwrap(),
            Command::Bench {
                ipc_only: false,
                recovery_only: false
            }
        );
        assert_eq!(
            parse_str("bench --ipc").unwrap(),
            Command::Bench {
                ipc_only: true,
                recovery_only: false
            }
        );
        assert_eq!(
            parse_str("build").unwrap(),
            Command::Build(BuildWhat::System("default".into()))
        );
        assert_eq!(
            parse_str("build --all").unwrap(),
            Command::Build(BuildWhat::All)
        );
        let Command::Run(r) = parse_str("run").unwrap() else {
            panic!()
        };
        assert_eq!(
            (r.system.as_str(), r.mem, r.timeout),
            ("default", MemSize::DEFAULT, None)
        );
    }

    #[test]
    fn system_verbs() {
        assert_eq!(
            parse_str("system check").unwrap(),
            Command::System(SystemArgs {
                verb: SystemVerb::Check,
                file: PathBuf::from(DEFAULT_DESCRIPTION),
                out: None,
            })
        );
        assert_eq!(
            parse_str("system draw x.toml --out=g").unwrap(),
            Command::System(SystemArgs {
                verb: SystemVerb::Draw,
                file: PathBuf::from("x.toml"),
                out: Some(PathBuf::from("g")),
            })
        );
    }

    #[test]
    fn disk_verbs() {
        assert_eq!(
            parse_str("disk build").unwrap(),
            Command::Disk(DiskArgs::Build {
                system: "default".into(),
                out: None,
            })
        );
        assert_eq!(
            parse_str("disk build --system other --out=x.img").unwrap(),
            Command::Disk(DiskArgs::Build {
                system: "other".into(),
                out: Some(PathBuf::from("x.img")),
            })
        );
        assert_eq!(
            parse_str("disk list").unwrap(),
            Command::Disk(DiskArgs::List { image: None })
        );
        assert_eq!(
            parse_str("disk check a.img").unwrap(),
            Command::Disk(DiskArgs::Check {
                image: Some(PathBuf::from("a.img")),
            })
        );
    }

    #[test]
    fn reliability_flags() {
        let r = |s| match parse_str(s).unwrap() {
            Command::Reliability(a) => (a.seed, a.injections),
            other => panic!("{other:?}"),
        };
        assert_eq!(r("reliability"), (1, 200));
        assert_eq!(r("reliability --seed 0x10"), (16, 200));
        assert_eq!(r("reliability --long --seed=7"), (7, 10_000));
        assert_eq!(r("reliability --injections 30"), (1, 30));
    }

    #[test]
    fn test_filters() {
        assert_eq!(
            parse_str("test --long boot fmt").unwrap(),
            Command::Test(TestArgs {
                long: true,
                list: false,
                filters: vec!["boot".into(), "fmt".into()],
            })
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        for bad in [
            "frobnicate",
            "run --timeout",
            "run --timeout -1",
            "run --timeout 0",
            "run --timeout abc",
            "run --mem 12Q",
            "run --bogus",
            "run extra",
            "build --all --system default",
            "build --all=yes",
            "bench --long",
            "bench --ipc --recovery",
            "bench -- x",
            "proofs x",
            "test --nope",
            "system",
            "system frob",
            "system check a.toml b.toml",
            "system draw --out",
            "system check --bogus",
            "disk",
            "disk frob",
            "disk --system x build",
            "disk build extra",
            "disk build --system",
            "disk build --bogus",
            "disk build -- x",
            "disk list a.img b.img",
            "disk check --out x",
            "disk check a.img -- b",
            "reliability --seed",
            "reliability --seed x",
            "reliability --seed -1",
            "reliability --injections 0",
            "reliability --long --injections 5",
            "reliability extra",
            "reliability --bogus",
        ] {
            assert!(parse_str(bad).is_err(), "`{bad}` should be rejected");
        }
    }
}
