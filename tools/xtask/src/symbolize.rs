//! Names the addresses of fault reports (docs/debugging.md): when a
//! thread faults with no handler, the kernel prints its ELR and registers;
//! when the kernel itself takes an exception, its ELR and registers. The
//! host built every ELF of the image, so it turns the PC (ELR) and the
//! return address (x30) into function, file and line — through the
//! component's own program for a described system's thread (the root task
//! names each thread after its component), the root task for `rootserver`,
//! the kernel for a kernel exception — with the `addr2line` crate (gimli's
//! DWARF reader), inline frames included. The kernel's report of an
//! unhandled user fault also lists the frame records of the thread's stack
//! (`frame N: fp .. lr ..`, the x29 chain), and each return address is
//! named the same way; so are the PCs of the supervisor's and the process
//! manager's fault lines.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use cerne_abi::console::{
    KERNEL_EXCEPTION_PREFIX, PROCESS_FAULT_MARK, PROCESS_FAULT_PREFIX, THREAD_SUSPENDED,
    USER_FAULT_PREFIX,
};

use crate::image::{self, Image};

/// Where the ELF of each thread's program is, by thread name, and the
/// kernel's.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    /// Thread name to program ELF.
    pub threads: HashMap<String, (String, PathBuf)>,
    /// The kernel ELF.
    pub kernel: Option<PathBuf>,
    /// Where the unstripped programs of the disk's /bin are, for the
    /// process manager's fault reports.
    pub programs: Option<PathBuf>,
}

/// The name the kernel gives the root task's thread.
const ROOT_THREAD: &str = "rootserver";

impl Sources {
    /// The ELFs of `image`: the kernel, the root task, and for a described
    /// system each component's program as it was built for the image.
    pub fn of(image: &Image) -> Self {
        let mut s = Sources {
            kernel: Some(image.kernel.clone()),
            ..Sources::default()
        };
        s.threads.insert(
            ROOT_THREAD.into(),
            (image.system.root_task.bin.into(), image.root_task.clone()),
        );
        if let Some(description) = image.system.description {
            let path = crate::cargo::workspace_root().join(description);
            if let Ok(system) = sysdesc::load(&path) {
                let dir = image::parts_dir(image.system).join(crate::sysimage::PROGRAMS_DIR);
                s.programs = Some(dir.clone());
                for c in system.components {
                    let elf = dir.join(&c.program);
                    s.threads.insert(c.name, (c.program, elf));
                }
            }
        }
        s
    }
}

/// One address named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    /// The function (innermost inline frame first, `outer <- inner`).
    pub function: String,
    /// `file:line`, when the DWARF has it.
    pub location: Option<String>,
}

impl std::fmt::Display for Named {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.location {
            Some(l) => write!(f, "{} at {l}", self.function),
            None => write!(f, "{}", self.function),
        }
    }
}

/// Names `addr` in the ELF at `elf`: its frames (innermost first).
pub fn name(elf: &Path, addr: u64) -> Option<Vec<Named>> {
    let loader = addr2line::Loader::new(elf).ok()?;
    let mut out = Vec::new();
    if let Ok(mut frames) = loader.find_frames(addr) {
        while let Ok(Some(frame)) = frames.next() {
            let function = frame
                .function
                .as_ref()
                .and_then(|f| f.demangle().ok().map(|n| n.into_owned()))
                .unwrap_or_else(|| "?".into());
            let location = frame
                .location
                .as_ref()
                .and_then(|l| Some(format!("{}:{}", short_path(l.file?), l.line?)));
            out.push(Named { function, location });
        }
    }
    if out.is_empty() {
        let symbol = loader.find_symbol(addr)?;
        out.push(Named {
            function: addr2line::demangle_auto(symbol.into(), None).into_owned(),
            location: None,
        });
    }
    Some(out)
}

/// A path relative to the workspace when it is inside it; the standard
/// library's sources (`/rustc/<commit>/library/...`) without their prefix.
fn short_path(file: &str) -> String {
    if let Some(rest) = file.strip_prefix("/rustc/") {
        if let Some((_, library)) = rest.split_once("/library/") {
            return library.to_string();
        }
    }
    let root = crate::cargo::workspace_root();
    Path::new(file)
        .strip_prefix(&root)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| file.to_string())
}

/// The hex value after `key` in `line` (`ELR 0x...`, `x30 0x...`).
fn register(line: &str, key: &str) -> Option<u64> {
    let at = line.find(key)? + key.len();
    let rest = line[at..].trim_start();
    let hex = rest.strip_prefix("0x")?;
    let end = hex
        .find(|c: char| !c.is_ascii_hexdigit())
        .unwrap_or(hex.len());
    u64::from_str_radix(&hex[..end], 16).ok()
}

/// The thread name of a user-fault line: `... in thread 'NAME': ...`.
/// The program and PC of a process manager's fault report.
fn process_fault(line: &str) -> Option<(&str, u64)> {
    let rest = line.split(PROCESS_FAULT_PREFIX).nth(1)?;
    let (head, tail) = rest.split_once(PROCESS_FAULT_MARK)?;
    let program = head.split_once(" (")?.1;
    let pc = tail.split(", pc 0x").nth(1)?;
    let pc = pc.split(|c: char| !c.is_ascii_hexdigit()).next()?;
    Some((program, u64::from_str_radix(pc, 16).ok()?))
}

/// The component and PC of a supervisor's failure line:
/// `[super] NAME failed: WHAT at 0x.., pc 0x.. (incarnation N)`.
fn supervised_fault(line: &str) -> Option<(&str, u64)> {
    let rest = line.split("[super] ").nth(1)?;
    let (name, tail) = rest.split_once(" failed: ")?;
    let pc = tail.split(", pc 0x").nth(1)?;
    let pc = pc.split(|c: char| !c.is_ascii_hexdigit()).next()?;
    Some((name, u64::from_str_radix(pc, 16).ok()?))
}

/// A frame record line of a fault report: `frame N: fp 0x.. lr 0x..`.
fn frame_record(line: &str) -> Option<(u64, u64)> {
    let rest = line.trim_start().strip_prefix("frame ")?;
    let (n, rest) = rest.split_once(':')?;
    let n = n.parse().ok()?;
    Some((n, register(rest, " lr")?))
}

/// `frames` as one line: innermost inline frame first.
fn joined(frames: &[Named]) -> String {
    frames
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", inlined into ")
}

fn thread_of(line: &str) -> Option<&str> {
    let rest = line.split("in thread '").nth(1)?;
    rest.split('\'').next()
}

/// The lines that name the PC and return address of every fault report in
/// `console`: `[xtask] <who> PC 0x... = function at file:line`, and the
/// same for LR. Reports whose program is not known are named as such.
pub fn annotate(console: &[String], sources: &Sources) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < console.len() {
        let line = &console[i];
        let who: Option<(String, Option<PathBuf>)> = if line.contains(USER_FAULT_PREFIX) {
            thread_of(line).map(|t| match sources.threads.get(t) {
                Some((program, elf)) => (
                    format!("thread '{t}' (program {program})"),
                    Some(elf.clone()),
                ),
                None => (format!("thread '{t}'"), None),
            })
        } else if line.contains(KERNEL_EXCEPTION_PREFIX) {
            Some(("kernel".into(), sources.kernel.clone()))
        } else {
            None
        };
        if let Some((component, pc)) = supervised_fault(line) {
            out.push(match sources.threads.get(component) {
                Some((program, elf)) => match name(elf, pc) {
                    Some(frames) => format!(
                        "[xtask] component '{component}' (program {program}) PC {pc:#x} = {}",
                        joined(&frames)
                    ),
                    None => format!(
                        "[xtask] component '{component}' (program {program}) PC {pc:#x}: no symbols for it"
                    ),
                },
                None => format!("[xtask] component '{component}' PC {pc:#x}: no program known"),
            });
        }
        if let Some((program, pc)) = process_fault(line) {
            let elf = sources.programs.as_ref().map(|d| d.join(program));
            let named = elf.as_deref().and_then(|e| name(e, pc));
            out.push(match named {
                Some(frames) => format!(
                    "[xtask] process (program {program}) PC {pc:#x} = {}",
                    frames
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", inlined into ")
                ),
                None => {
                    format!("[xtask] process (program {program}) PC {pc:#x}: no symbols for it")
                }
            });
        }
        let Some((who, elf)) = who else {
            i += 1;
            continue;
        };
        // The registers follow within the next dozen lines, then the frame
        // records, up to the suspension line.
        let report = &console[i..console.len().min(i + 14)];
        let pc = report.iter().find_map(|l| register(l, "ELR"));
        let lr = report.iter().find_map(|l| register(l, "x30"));
        let frames: Vec<(String, Option<u64>)> = console[i + 1..]
            .iter()
            .take(40)
            .take_while(|l| !l.contains(THREAD_SUSPENDED) && !l.contains(USER_FAULT_PREFIX))
            .filter_map(|l| frame_record(l))
            .map(|(n, lr)| (format!("frame {n}"), Some(lr.saturating_sub(4))))
            .collect();
        let registers = [
            ("PC".to_string(), pc),
            ("LR".to_string(), lr.map(|a| a.saturating_sub(4))),
        ];
        for (what, addr) in registers.into_iter().chain(frames) {
            let Some(addr) = addr else { continue };
            let named = elf.as_deref().and_then(|e| name(e, addr));
            out.push(match named {
                Some(frames) => format!("[xtask] {who} {what} {addr:#x} = {}", joined(&frames)),
                None => format!("[xtask] {who} {what} {addr:#x}: no symbols for it"),
            });
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_registers_and_thread_names() {
        let l = "    ELR 0x000000000040013c  SPSR 0x0000000060000040  SP_EL0 0x0000000000412fd0";
        assert_eq!(register(l, "ELR"), Some(0x40013c));
        assert_eq!(register(l, "SP_EL0"), Some(0x412fd0));
        assert_eq!(
            register("    x28 0x0  x29 0x10    x30 0x0000000000400128", "x30"),
            Some(0x400128)
        );
        assert_eq!(register("no registers", "ELR"), None);
        assert_eq!(
            process_fault("[procs] pid 7 (crashme) faulted: data fault at 0x0, pc 0x4004c4 (seL4 fault label 5); reaped"),
            Some(("crashme", 0x4004c4))
        );
        assert_eq!(process_fault("[procs] pid 7 killed"), None);
        assert_eq!(
            supervised_fault(
                "[super] pong failed: instruction fault at 0x10, pc 0x10 (incarnation 0)"
            ),
            Some(("pong", 0x10))
        );
        assert_eq!(
            supervised_fault("[super] pong failed: panic: boom (incarnation 1)"),
            None
        );
        assert_eq!(
            frame_record("    frame 3: fp 0x0000000000412f80 lr 0x00000000004001a4"),
            Some((3, 0x4001a4))
        );
        assert_eq!(frame_record("    frame 2: fp 0x10 not readable"), None);
        assert_eq!(
            thread_of("[cerne] unhandled user fault in thread 'blk': data abort"),
            Some("blk")
        );
        assert_eq!(
            short_path("/rustc/59807616e1fa/library/core/src/ptr/mod.rs"),
            "core/src/ptr/mod.rs"
        );
    }

    #[test]
    fn names_a_function_of_this_very_program() {
        // The xtask binary itself has DWARF: name one of its own functions.
        let me = std::env::current_exe().unwrap();
        let addr = names_a_function_of_this_very_program as fn() as usize as u64;
        // The test binary is position-independent: find the address's
        // offset from the image base through /proc/self/maps.
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let exe = me.display().to_string();
        let base = maps
            .lines()
            .filter(|l| l.ends_with(&exe))
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                let range = f.next()?;
                let _perms = f.next()?;
                let offset = u64::from_str_radix(f.next()?, 16).ok()?;
                let start = u64::from_str_radix(range.split('-').next()?, 16).ok()?;
                Some(start - offset)
            })
            .min()
            .unwrap();
        let frames = name(&me, addr - base).expect("symbols for the test itself");
        assert!(
            frames[0]
                .function
                .contains("names_a_function_of_this_very_program"),
            "{frames:?}"
        );
        assert!(
            frames[0]
                .location
                .as_deref()
                .is_some_and(|l| l.starts_with("tools/xtask/src/symbolize.rs:")),
            "{frames:?}"
        );
    }
}
