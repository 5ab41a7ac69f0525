//! Generates each program's capability-slot constants from the system
//! description (`CERNE_SYSTEM`, default `systems/default.toml`), so the code
//! names `caps::CONSOLE`, never a slot number, and links the programs with
//! libcerne's linker script.
use std::path::PathBuf;

/// The programs this crate builds.
const PROGRAMS: [&str; 14] = [
    "console-driver",
    "shell",
    "ping",
    "pong",
    "blk-driver",
    "fileserver",
    "fs-check",
    "fs-abuse",
    "procman",
    "policy",
    "supervisor",
    "campaign",
    // The tutorial's (systems/tutorial.toml).
    "tally",
    "adder",
];

/// Channels whose protocols carry bytes in the shared buffer
/// (libcerne::console, libcerne::files).
const BUFFERED_CHANNELS: [&str; 4] = ["console", "files", "procs", "supervisor"];

/// A buffered channel that `component` uses but the description gives no
/// `buffer`.
fn unbuffered<'a>(system: &'a sysdesc::System, component: &str) -> Option<&'a str> {
    system
        .channels
        .iter()
        .filter(|ch| BUFFERED_CHANNELS.contains(&ch.name.as_str()) && ch.buffer == 0)
        .find(|ch| ch.server == component || ch.clients.iter().any(|k| k.component == component))
        .map(|ch| ch.name.as_str())
}

fn main() {
    if std::env::var("TARGET").is_ok_and(|t| t.ends_with("-none")) {
        println!("cargo:rustc-link-arg-bins=-Tcerne-user.ld");
    }
    println!("cargo:rerun-if-env-changed=CERNE_SYSTEM");
    // The fault-injection campaign's seed and size (campaign.rs).
    println!("cargo:rerun-if-env-changed=CERNE_CAMPAIGN_SEED");
    println!("cargo:rerun-if-env-changed=CERNE_CAMPAIGN_INJECTIONS");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"));
    let path = std::env::var_os("CERNE_SYSTEM")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../systems/default.toml"));
    println!("cargo:rerun-if-changed={}", path.display());
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let system = match sysdesc::load(&path) {
        Ok(s) => s,
        Err(diagnostics) => {
            for d in &diagnostics {
                eprintln!("{d}");
            }
            panic!("{} has errors", path.display());
        }
    };
    for program in PROGRAMS {
        let component = system.components.iter().find(|c| c.program == program);
        let text = match component {
            Some(c) => match unbuffered(&system, &c.name) {
                Some(channel) => format!(
                    "compile_error!(\"{}: channel '{channel}' needs a `buffer`: component '{}' (program '{program}') moves its bytes through the buffer it shares with the other side\");",
                    path.display(),
                    c.name
                ),
                None => {
                    let mut text =
                        sysdesc::caps_module(&system, &c.name).unwrap_or_else(|d| panic!("{d}"));
                    // The supervisor's table of what it supervises; empty
                    // for every other component.
                    text.push_str(
                        &sysdesc::supervisor_module(&system, &c.name)
                            .unwrap_or_else(|d| panic!("{d}")),
                    );
                    text
                }
            },
            None => format!(
                "compile_error!(\"{} runs no component with program '{program}'\");",
                path.display()
            ),
        };
        std::fs::write(out.join(format!("{program}.rs")), text).expect("write the caps module");
    }
}
