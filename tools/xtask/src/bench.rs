//! `cargo xtask bench`: boots the boot-bench system under `-icount` and
//! reports guest instructions from reset to the root task's first
//! instruction, and the kernel image size. Figures only; never a verdict.

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

/// Builds and runs the boot benchmark and prints its figures.
pub fn run() -> Result<()> {
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
