//! What the boot tests assert about a console transcript: the default
//! system's banner, memory map and untyped summary; the decoded EL0 fault
//! report; the kernel panic's location.

use cerne_abi::console::{
    BANNER_PREFIX, HALT_FAILURE, HALT_SUCCESS, IDLE_HALT, KERNEL_EXCEPTION_PREFIX, MEMORY_PREFIX,
    PANIC_PREFIX, THREAD_SUSPENDED, USER_FAULT_PREFIX,
};

use crate::console::Transcript;
use crate::qemu::{MemSize, MIB, VIRT_RAM_BASE};

/// The root task's greeting, printed from EL0.
pub const ROOT_HELLO: &str = "[rootserver] hello from EL0";
/// The root task's untyped summary lines (`{}` stands for a number).
pub const UNTYPED_TOTAL: &str = "[rootserver] untyped: {} caps, {} bytes total";
/// The device part of the summary.
pub const UNTYPED_DEVICE: &str = "[rootserver] untyped: device {} caps, {} bytes";
/// The RAM part of the summary.
pub const UNTYPED_RAM: &str = "[rootserver] untyped: RAM {} caps, {} bytes";
/// The boot-bench root task's measurement.
/// The root task's check of every boot cap through DebugCapIdentify.
pub const ROOT_CAPS: &str = "[rootserver] caps: {} of {} slots hold the cap BootInfo names";
/// The root CNode's size as BootInfo gives it.
pub const ROOT_CNODE: &str = "[rootserver] cnode: 2^{} slots";
/// Fewest slots the cap check must cover: the 16 initial slots, the image
/// frames, the paging tables and at least one untyped.
pub const ROOT_CAPS_MIN: u64 = 20;
pub const BOOT_PMCCNTR: &str = "[rootserver] boot: PMCCNTR at first instruction = {}";
/// The kernel's RAM line, after [`MEMORY_PREFIX`].
const MEMORY_RAM: &str = "RAM {}..{} ({} MiB)";

/// How much RAM the kernel may keep for itself (image, boot structures) and
/// still pass: the RAM untypeds must cover more than `mem - SLACK`.
pub const RAM_SLACK: u64 = 64 * MIB;

/// Matches `line` against `pattern`, where each `{}` is a number (decimal,
/// or hex with `0x`; `_` separators allowed). The pattern may start anywhere
/// in the line. Returns the numbers.
pub fn match_numbers(line: &str, pattern: &str) -> Option<Vec<u64>> {
    let mut pieces = pattern.split("{}");
    let first = pieces.next().unwrap_or("");
    let start = line.find(first)?;
    let mut rest = &line[start + first.len()..];
    let mut numbers = Vec::new();
    for literal in pieces {
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        numbers.push(parse_number(&rest[..len])?);
        rest = rest[len..].strip_prefix(literal)?;
    }
    Some(numbers)
}

/// The numbers of the first console line that matches `pattern`.
pub fn find_numbers(t: &Transcript, pattern: &str) -> Option<(usize, Vec<u64>)> {
    t.console
        .iter()
        .enumerate()
        .find_map(|(i, l)| match_numbers(l, pattern).map(|n| (i, n)))
}

fn parse_number(s: &str) -> Option<u64> {
    let s = s.replace('_', "");
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        None => None,
    }
}

/// Collects the failed assertions of one check.
#[derive(Debug, Default)]
pub struct Findings(pub Vec<String>);

impl Findings {
    /// Records `problem` unless `ok`.
    pub fn expect(&mut self, ok: bool, problem: impl FnOnce() -> String) {
        if !ok {
            self.0.push(problem());
        }
    }

    /// Ok when nothing failed, else every problem.
    pub fn finish<T>(self, value: T) -> Result<T, Vec<String>> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self.0)
        }
    }
}

/// The untyped memory the root task reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UntypedSummary {
    /// All untyped caps.
    pub caps: u64,
    /// Bytes they cover.
    pub bytes: u64,
    /// Device untyped caps.
    pub device_caps: u64,
    /// Bytes of device untyped.
    pub device_bytes: u64,
    /// RAM untyped caps.
    pub ram_caps: u64,
    /// Bytes of RAM untyped.
    pub ram_bytes: u64,
}

/// The default system booted with `mem` of RAM: banner, memory map, root task
/// greeting and a consistent untyped summary.
pub fn default_boot(t: &Transcript, mem: MemSize) -> Result<UntypedSummary, Vec<String>> {
    let mut f = Findings::default();
    let banner = t.console.iter().position(|l| l.starts_with(BANNER_PREFIX));
    f.expect(banner.is_some(), || {
        format!("no line starts with the banner `{BANNER_PREFIX}`")
    });
    check_ram_line(t, mem, &mut f);

    let hello = t.find(ROOT_HELLO);
    f.expect(hello.is_some(), || format!("missing `{ROOT_HELLO}`"));
    if let (Some(b), Some(h)) = (banner, hello) {
        f.expect(b < h, || {
            "the root task spoke before the kernel banner".into()
        });
    }

    match find_numbers(t, ROOT_CAPS).map(|(_, n)| n).as_deref() {
        Some(&[ok, checked]) => f.expect(ok == checked && checked >= ROOT_CAPS_MIN, || {
            format!("only {ok} of {checked} boot caps are what BootInfo names (need all, at least {ROOT_CAPS_MIN})")
        }),
        _ => f.expect(false, || format!("missing a line `{ROOT_CAPS}`")),
    }

    let total = find_numbers(t, UNTYPED_TOTAL).map(|(_, n)| n);
    let device = find_numbers(t, UNTYPED_DEVICE).map(|(_, n)| n);
    let ram = find_numbers(t, UNTYPED_RAM).map(|(_, n)| n);
    for (found, pattern) in [
        (&total, UNTYPED_TOTAL),
        (&device, UNTYPED_DEVICE),
        (&ram, UNTYPED_RAM),
    ] {
        f.expect(found.is_some(), || format!("missing a line `{pattern}`"));
    }
    let (Some(total), Some(device), Some(ram)) = (total, device, ram) else {
        return Err(f.0);
    };
    let s = UntypedSummary {
        caps: total[0],
        bytes: total[1],
        device_caps: device[0],
        device_bytes: device[1],
        ram_caps: ram[0],
        ram_bytes: ram[1],
    };
    f.expect(s.caps == s.device_caps + s.ram_caps, || {
        format!(
            "untyped caps do not add up: {} total != {} device + {} RAM",
            s.caps, s.device_caps, s.ram_caps
        )
    });
    f.expect(s.bytes == s.device_bytes + s.ram_bytes, || {
        format!(
            "untyped bytes do not add up: {} total != {} device + {} RAM",
            s.bytes, s.device_bytes, s.ram_bytes
        )
    });
    f.expect(s.device_caps >= 1, || "no device untyped".into());
    let mem_bytes = mem.bytes();
    f.expect(
        s.ram_bytes > mem_bytes.saturating_sub(RAM_SLACK) && s.ram_bytes < mem_bytes,
        || {
            format!(
                "RAM untyped ({} bytes) is implausible for -m {mem}: expected between {} and {} bytes",
                s.ram_bytes,
                mem_bytes.saturating_sub(RAM_SLACK),
                mem_bytes
            )
        },
    );
    f.finish(s)
}

/// One memory-map line must give RAM at the virt board's base with the size
/// `-m` asked for, both as a range and in MiB.
fn check_ram_line(t: &Transcript, mem: MemSize, f: &mut Findings) {
    let lines: Vec<&String> = t
        .console
        .iter()
        .filter(|l| l.contains(MEMORY_PREFIX))
        .collect();
    f.expect(!lines.is_empty(), || {
        format!("no memory-map lines (`{MEMORY_PREFIX}`)")
    });
    let base = format!("RAM {VIRT_RAM_BASE:#x}");
    let Some(ram) = lines.iter().find(|l| l.contains(&base)) else {
        f.expect(false, || format!("no memory-map line contains `{base}`"));
        return;
    };
    match match_numbers(ram, MEMORY_RAM).as_deref() {
        Some(&[start, end, mib]) => {
            f.expect(
                start == VIRT_RAM_BASE && end.checked_sub(start) == Some(mem.bytes()),
                || format!("RAM range in `{ram}` does not match -m {mem}"),
            );
            f.expect(mib == mem.in_mib(), || {
                format!("RAM size in `{ram}` is not {} MiB", mem.in_mib())
            });
        }
        _ => f.expect(false, || {
            format!("cannot read `{ram}` as `{MEMORY_PREFIX} {MEMORY_RAM}`")
        }),
    }
}

/// The ktest suite's last line, alone on its line: tests passed, tests
/// failed.
pub const KTEST_SUMMARY: &str = "{} passed, {} failed";
/// How a failed ktest test is announced (its name follows).
pub const KTEST_FAIL: &str = "[ktest] FAIL ";
/// Fewest tests the suite must run and pass.
pub const KTEST_MIN_TESTS: u64 = 150;

/// The ktest system: the summary says `N passed, 0 failed` with N at least
/// [`KTEST_MIN_TESTS`], and the clean halt follows it. Returns N; on a
/// failure the problems name every failed test.
pub fn ktest(t: &Transcript) -> Result<u64, Vec<String>> {
    let mut f = Findings::default();
    let summary = t.console.iter().enumerate().find_map(|(i, l)| {
        let n = match_numbers(l, KTEST_SUMMARY)?;
        (l.trim() == format!("{} passed, {} failed", n[0], n[1])).then_some((i, n))
    });
    let Some((line, n)) = summary else {
        return Err(vec![format!("no line that is just `{KTEST_SUMMARY}`")]);
    };
    let (passed, failed) = (n[0], n[1]);
    f.expect(failed == 0, || {
        let names: Vec<&str> = t
            .console
            .iter()
            .filter_map(|l| l.strip_prefix(KTEST_FAIL))
            .collect();
        format!("{failed} tests failed: {}", names.join(", "))
    });
    f.expect(passed >= KTEST_MIN_TESTS, || {
        format!("only {passed} tests passed; the suite must have at least {KTEST_MIN_TESTS}")
    });
    f.expect(t.find_from(line, HALT_SUCCESS).is_some(), || {
        format!("`{HALT_SUCCESS}` does not follow the summary")
    });
    f.finish(passed)
}

/// The el0-fault system: a decoded data-abort report naming ESR, FAR, ELR,
/// SPSR and x0..x30, then the thread suspended, the idle halt, and a clean
/// halt, in that order.
pub fn el0_fault(t: &Transcript) -> Result<(), Vec<String>> {
    let mut f = Findings::default();
    let Some(fault) = t.find(USER_FAULT_PREFIX) else {
        return Err(vec![format!("no fault report (`{USER_FAULT_PREFIX}`)")]);
    };
    let suspended = t.find_from(fault, THREAD_SUSPENDED);
    let report = t.console[fault..suspended.unwrap_or(t.console.len())].join("\n");
    f.expect(report.to_lowercase().contains("data abort"), || {
        "the fault report does not name a `data abort`".into()
    });
    for word in ["ESR", "FAR", "ELR", "SPSR"] {
        f.expect(report.contains(word), || {
            format!("the fault report does not show {word}")
        });
    }
    let missing = missing_registers(&report);
    f.expect(missing.is_empty(), || {
        format!("the fault report lacks registers {missing:?}")
    });
    f.expect(suspended.is_some(), || {
        format!("`{THREAD_SUSPENDED}` does not follow the report")
    });
    let idle = suspended.and_then(|s| t.find_from(s, IDLE_HALT));
    f.expect(idle.is_some(), || {
        format!("`{IDLE_HALT}` does not follow `{THREAD_SUSPENDED}`")
    });
    let halt = idle.and_then(|i| t.find_from(i, HALT_SUCCESS));
    f.expect(halt.is_some(), || {
        format!("`{HALT_SUCCESS}` does not follow `{IDLE_HALT}`")
    });
    f.finish(())
}

/// Which of x0..x30 never appear as a word (`x7`, `x07`) in `text`.
fn missing_registers(text: &str) -> Vec<u32> {
    let mut seen = [false; 31];
    for word in text.split(|c: char| !c.is_ascii_alphanumeric()) {
        if let Some(n) = word
            .strip_prefix('x')
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse::<usize>().ok())
        {
            if let Some(s) = seen.get_mut(n) {
                *s = true;
            }
        }
    }
    (0..31).filter(|&i| !seen[i as usize]).collect()
}

/// The panic-test system: the memory map, then a panic report that names its
/// location as `file.rs:LINE`. Returns the location.
pub fn kernel_panic(t: &Transcript) -> Result<String, Vec<String>> {
    let mut f = Findings::default();
    let Some(panic) = t.find(PANIC_PREFIX) else {
        return Err(vec![format!("no panic report (`{PANIC_PREFIX}`)")]);
    };
    let map = t.find(MEMORY_PREFIX);
    f.expect(map.is_some_and(|m| m < panic), || {
        "the memory map was not printed before the panic".into()
    });
    // The location is on the panic line or shortly after it.
    let location = t.console[panic..]
        .iter()
        .take(4)
        .find_map(|l| source_location(l));
    f.expect(location.is_some(), || {
        "the panic report gives no `file.rs:LINE` location".into()
    });
    f.finish(location.unwrap_or_default())
}

/// The first `path/file.rs:LINE` in `line`.
pub fn source_location(line: &str) -> Option<String> {
    line.split(|c: char| c.is_whitespace() || "'\"`()[],".contains(c))
        .find_map(|word| {
            let (file, rest) = word.split_once(".rs:")?;
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            (!file.is_empty() && !digits.is_empty()).then(|| format!("{file}.rs:{digits}"))
        })
}

/// The kernel-fault-test system: the decoded report of a data abort the
/// kernel took itself, then the failure halt.
pub fn kernel_fault(t: &Transcript) -> Result<(), Vec<String>> {
    let mut f = Findings::default();
    let report = t.find(KERNEL_EXCEPTION_PREFIX);
    f.expect(report.is_some(), || {
        format!("no line starts with `{KERNEL_EXCEPTION_PREFIX}`")
    });
    if let Some(i) = report {
        let text = t.console[i..]
            .iter()
            .take(12)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n");
        for word in [
            "data abort at the current exception level",
            "translation fault",
            "ESR",
            "FAR 0xffff000000000000",
            "ELR",
            "SPSR",
            "x0 ",
            "x30",
        ] {
            f.expect(text.contains(word), || {
                format!("the kernel exception report does not show `{word}`")
            });
        }
    }
    f.expect(t.find(HALT_FAILURE).is_some(), || {
        format!("no `{HALT_FAILURE}` after the report")
    });
    f.expect(t.find(HALT_SUCCESS).is_none(), || {
        "the kernel claims success after faulting".into()
    });
    f.finish(())
}

/// What a kernel stack overflow must print: the exception report naming the
/// guard page, then the failure halt.
pub const STACK_OVERFLOW_LINES: [&str; 3] = [
    "data abort at the current exception level",
    "kernel stack overflow",
    HALT_FAILURE,
];

/// The stack-overflow-test system reported the overflow and halted.
pub fn stack_overflow(t: &Transcript) -> Result<(), Vec<String>> {
    in_order(t, &STACK_OVERFLOW_LINES)
}

/// What the debug-dump system's console must show, in order: the
/// scheduler dump naming the root thread, then a capDL snapshot with the
/// objects it made and the badged cap in its second CNode.
pub const DEBUG_DUMP_LINES: [&str; 9] = [
    "[cerne] scheduler (domain 0):",
    "current tcb ",
    "[cerne] DebugSnapshot: capDL of the CSpace of tcb_",
    "objects {",
    "cnode (4 bits)",
    "caps {",
    "(RWGP, badge: 7)",
    "[cerne] DebugSnapshot: ",
    "[debug-dump] done",
];

/// The debug-dump system printed its scheduler dump and snapshot, and the
/// snapshot is capDL that parses and validates. Returns its object count.
pub fn debug_dump(t: &Transcript) -> Result<usize, Vec<String>> {
    in_order(t, &DEBUG_DUMP_LINES)?;
    let start = t.find(SNAPSHOT_START).map(|i| i + 1).unwrap_or(0);
    let end = t.find_from(start, SNAPSHOT_END).unwrap_or(t.console.len());
    let text = t.console[start..end].join("\n");
    match capdl::parse_and_validate("DebugSnapshot", &text) {
        Ok(spec) => Ok(spec.objects.len()),
        Err(diagnostics) => Err(diagnostics
            .iter()
            .map(|d| format!("the snapshot is not valid capDL: {d}"))
            .collect()),
    }
}

/// The line before DebugSnapshot's capDL text.
const SNAPSHOT_START: &str = "[cerne] DebugSnapshot: capDL of";
/// The line after it.
const SNAPSHOT_END: &str = "[cerne] DebugSnapshot: ";

/// Every line of `lines` appears in the console, in this order.
fn in_order(t: &Transcript, lines: &[&str]) -> Result<(), Vec<String>> {
    let mut f = Findings::default();
    let mut from = 0;
    for line in lines {
        match t.console.iter().skip(from).position(|l| l.contains(line)) {
            Some(i) => from += i + 1,
            None => f.expect(false, || {
                format!("missing (in order) a line containing `{line}`")
            }),
        }
    }
    f.finish(())
}

/// Lines the irq-uart system must print, in order, for the input
/// [`IRQ_UART_INPUT`].
pub const IRQ_UART_LINES: [&str; 4] = [
    "[irq-uart] waiting for input",
    "[irq-uart] line \"hello cerne\"",
    "[irq-uart] line \"quit\"",
    "[irq-uart] done",
];
/// What the irq-uart check types into the guest's serial port.
pub const IRQ_UART_INPUT: &str = "hello cerne\rquit\r";

/// What the irq-uart task writes with DebugPutChar while it owns the UART.
pub const IRQ_UART_KERNEL_LOG: &str = "[irq-uart] kernel-log-while-owned";
/// The line the kernel prints when it takes the UART back (the kernel's
/// `console::CONSOLE_RETURNED`, then the count of logged bytes).
pub const CONSOLE_RETURNED: &str =
    "[cerne] console returned: {} bytes logged while a driver owned it";
/// What the irq-uart task prints with DebugPutChar after handing back.
pub const IRQ_UART_AFTER: &str = "[irq-uart] the kernel prints again";

/// The irq-uart system echoed each typed line, interrupt by interrupt,
/// through its own mapping of the UART; the kernel kept DebugPutChar out
/// of the UART while the task owned it, and replayed it once the task
/// handed the UART back.
pub fn irq_uart(t: &Transcript) -> Result<(), Vec<String>> {
    let mut f = Findings::default();
    let mut from = 0;
    for line in IRQ_UART_LINES {
        match t.console.iter().skip(from).position(|l| l.contains(line)) {
            Some(i) => from += i + 1,
            None => f.expect(false, || {
                format!("missing (in order) a line containing `{line}`")
            }),
        }
    }
    // `from` is now just past the driver's last own line (`done`).
    let returned = t
        .console
        .iter()
        .enumerate()
        .find_map(|(i, l)| match_numbers(l, CONSOLE_RETURNED).map(|n| (i, n)));
    let logged: Vec<usize> = t
        .console
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains(IRQ_UART_KERNEL_LOG))
        .map(|(i, _)| i)
        .collect();
    let Some((returned, n)) = returned else {
        f.expect(false, || {
            "the kernel never printed that it took the console back (`[cerne] console returned: N bytes ...`)".into()
        });
        return f.finish(());
    };
    f.expect(returned >= from, || {
        "the kernel took the console back before the driver's last line (`done`)".into()
    });
    let expected = IRQ_UART_KERNEL_LOG.len() as u64 + 1;
    f.expect(n == [expected], || {
        format!("the kernel logged {n:?} bytes while the driver owned the UART, expected {expected} (`{IRQ_UART_KERNEL_LOG}` and a newline)")
    });
    f.expect(logged.iter().all(|&i| i > returned), || {
        format!("`{IRQ_UART_KERNEL_LOG}` reached the UART while the driver owned it")
    });
    f.expect(logged.len() == 1, || {
        format!("`{IRQ_UART_KERNEL_LOG}` should appear once, after the console came back; seen {} times", logged.len())
    });
    let after = t.console.iter().position(|l| l.contains(IRQ_UART_AFTER));
    f.expect(
        matches!((after, logged.first()), (Some(a), Some(&k)) if a > k),
        || format!("missing `{IRQ_UART_AFTER}` after the replayed log"),
    );
    f.finish(())
}

/// The initializer's summary: objects, caps, bytes, filled bytes, files,
/// threads started, threads.
pub const CAPDL_SUMMARY: &str =
    "[capdl] built {} objects, {} caps, {} bytes ({} filled from {} files); starting {} of {} threads";
/// What the default system's components print, in the order each does.
pub const DEFAULT_SYSTEM_LINES: [&str; 6] = [
    "[console] PL011 driver up",
    "[procs] process manager up",
    "Cerne shell: type help for the commands",
    "[pong] serving pingpong",
    "[ping] 1000 calls to pong, 0 wrong answers; pong saw badge 1",
    "[policy] priority policy up",
];
/// Components (each a thread and a program) of systems/default.toml; a
/// unit test keeps the two in step.
pub const DEFAULT_SYSTEM_COMPONENTS: u64 = 12;
/// Of those, the components the supervisor starts itself (blk, fs, pong),
/// which the initializer leaves for it.
pub const DEFAULT_SYSTEM_SUPERVISED: u64 = 3;
/// What the default-system check types.
pub const DEFAULT_SYSTEM_INPUT: &str = "hello cerne\r";
/// The text the shell echoes as it is typed.
pub const DEFAULT_SYSTEM_TYPED: &str = "hello cerne";
/// The shell's answer to that line, after the echo.
pub const DEFAULT_SYSTEM_ECHOED: &str = "unknown command 'hello': type help";

/// Figures of a default-system run.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SystemSummary {
    /// Objects the initializer made.
    pub objects: u64,
    /// Caps it placed.
    pub caps: u64,
    /// Bytes of objects.
    pub bytes: u64,
    /// Threads started.
    pub threads: u64,
}

/// The default system came up through capDL: the initializer's summary,
/// each component's lines, the typed line echoed back by the shell
/// character by character and answered with its unknown-command line,
/// and no kernel line on the console once the driver owns the UART.
pub fn default_system(t: &Transcript) -> Result<SystemSummary, Vec<String>> {
    let mut f = Findings::default();
    let summary = t
        .console
        .iter()
        .find_map(|l| match_numbers(l, CAPDL_SUMMARY));
    let mut out = SystemSummary::default();
    match summary.as_deref() {
        Some(&[objects, caps, bytes, _filled, files, started, threads]) => {
            out = SystemSummary {
                objects,
                caps,
                bytes,
                threads: started,
            };
            let n = DEFAULT_SYSTEM_COMPONENTS;
            let own = n - DEFAULT_SYSTEM_SUPERVISED;
            f.expect(started == own && threads == n, || {
                format!(
                    "the initializer should start {own} of {n} threads (the supervisor the other {DEFAULT_SYSTEM_SUPERVISED}); it started {started} of {threads}"
                )
            });
            f.expect(files == n, || {
                format!("the bundle should carry {n} programs, not {files}")
            });
        }
        _ => f.expect(false, || {
            format!("missing the initializer's summary `{CAPDL_SUMMARY}`")
        }),
    }
    for line in DEFAULT_SYSTEM_LINES {
        f.expect(t.find(line).is_some(), || {
            format!("missing a line containing `{line}`")
        });
    }
    f.expect(
        !t.console.iter().any(|l| l.contains("[capdl] error")),
        || "the initializer reported an error".into(),
    );
    let driver_up = t.find(DEFAULT_SYSTEM_LINES[0]);
    if let Some(up) = driver_up {
        let kernel_lines: Vec<&String> = t.console[up..]
            .iter()
            .filter(|l| l.contains("[cerne]"))
            .collect();
        f.expect(kernel_lines.is_empty(), || {
            format!("kernel output reached the console after the driver took the UART: {kernel_lines:?}")
        });
    }
    let echoed = t.find(DEFAULT_SYSTEM_ECHOED);
    f.expect(echoed.is_some(), || {
        format!("missing `{DEFAULT_SYSTEM_ECHOED}`")
    });
    if let Some(e) = echoed {
        // The characters come back one by one before the answer.
        f.expect(
            t.console[..e]
                .iter()
                .any(|l| l.ends_with(DEFAULT_SYSTEM_TYPED)),
            || "the typed characters were not echoed back before the answer".into(),
        );
    }
    f.finish(out)
}

/// The shell's prompt.
pub const SHELL_PROMPT: &str = "cerne> ";
/// What the default system prints once fs-check and fs-abuse are done
/// (fs-abuse fills the disk for a while: a session waits for both). The
/// newline: fs-abuse's line must have ended, so that what is typed next
/// is not echoed into it.
pub const SHELL_QUIET: [&str; 2] = ["[fscheck] done:", " unexpected\n"];
/// The file the shell session writes, and its text.
pub const SHELL_FILE: (&str, &str) = ("/s.txt", "alpha beta gamma");
/// `wc`'s line for it: one line, three words, the text and its newline.
pub const SHELL_WC: &str = "1 3 17 /s.txt";
/// The commands the shell-session check types, in order; `kill {}` is
/// completed with the pid the background hog was given.
pub const SHELL_COMMANDS: [&str; 14] = [
    "ls /bin",
    "write /s.txt alpha beta gamma",
    "cat /s.txt",
    "run hello",
    "run wc /s.txt",
    "run hog &",
    "ps",
    "kill {}",
    "ps",
    "run crashme null",
    "help",
    "bogus",
    "mem",
    "run fstest",
];
/// fstest's verdict when every file operation did what it should (the
/// storage issue's test client, run as a program).
pub const SHELL_FSTEST_OK: &str = "fstest: ok";
/// The start of every line fstest prints: its verdict.
pub const SHELL_FSTEST: &str = "fstest: ";
/// The index of `kill {}` in [`SHELL_COMMANDS`].
pub const SHELL_KILL: usize = 7;
/// The shell's answer to a background run.
pub const SHELL_STARTED: &str = "[pid {}] started";
/// `mem`'s line about the process manager.
pub const SHELL_MEM_PROCS: &str = "procs: {} KiB free of {} KiB, largest {} KiB; {} processes";
/// `mem`'s line about the file server.
pub const SHELL_MEM_FILES: &str = "files: heap {} KiB free, {} KiB used; volume {} KiB free";

/// The pid of the background hog in console text (`[pid N] started`).
pub fn shell_hog_pid(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| match_numbers(l, SHELL_STARTED))
        .map(|n| n[0])
}

/// What a shell session showed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ShellSession {
    /// The background hog's pid.
    pub hog: u64,
    /// The pid crashme faulted as.
    pub crashed: u64,
    /// `mem`: KiB free and in all of the process manager.
    pub procs_kib: (u64, u64),
}

/// The line where the shell echoed `command` (on its prompt's line, or on
/// a line of its own when another program printed after the prompt), at
/// or after `from`.
fn echo_of(t: &Transcript, from: usize, command: &str) -> Option<usize> {
    (from..t.console.len()).find(|&i| {
        let l = &t.console[i];
        l.ends_with(&format!("{SHELL_PROMPT}{command}")) || l.trim() == command
    })
}

/// The shell session of [`SHELL_COMMANDS`]: each command echoed after a
/// prompt and answered — `/bin` lists hello, the written file reads back,
/// hello and wc run and exit 0 with wc's counts, the background hog shows
/// in `ps` until it is killed, crashme's fault is reported by the process
/// manager and the shell, the shell still answers `help`, an unknown
/// command gets the usage line, and `mem` finds every process gone.
pub fn shell_session(t: &Transcript) -> Result<ShellSession, Vec<String>> {
    let mut f = Findings::default();
    let mut out = ShellSession::default();
    // Each command's answer: the lines from its echo to the next one's.
    let mut at = 0;
    let mut sections: Vec<&[String]> = Vec::new();
    let mut commands: Vec<String> = Vec::new();
    for (i, command) in SHELL_COMMANDS.iter().enumerate() {
        let command = if i == SHELL_KILL {
            command.replace("{}", &out.hog.to_string())
        } else {
            command.to_string()
        };
        let Some(echo) = echo_of(t, at, &command) else {
            f.expect(false, || {
                format!(
                    "the shell never echoed `{command}` after a prompt (the session stopped there)"
                )
            });
            break;
        };
        if let Some(last) = sections.last_mut() {
            *last = &last[..echo - at];
        }
        sections.push(&t.console[echo + 1..]);
        at = echo + 1;
        commands.push(command);
        if i == SHELL_KILL - 2 {
            // `run hog &` is this one: its pid comes with its answer.
            let next = echo_of(t, at, SHELL_COMMANDS[6]).unwrap_or(t.console.len());
            out.hog = shell_hog_pid(&t.console[at..next].join("\n")).unwrap_or(0);
        }
    }
    let has = |i: usize, pred: &dyn Fn(&str) -> bool| -> bool {
        sections.get(i).is_some_and(|s| s.iter().any(|l| pred(l)))
    };
    let want = |f: &mut Findings, i: usize, what: &str, pred: &dyn Fn(&str) -> bool| {
        if i < sections.len() {
            let ok = has(i, pred);
            f.expect(ok, || format!("`{}` should answer {what}", commands[i]));
        }
    };
    want(&mut f, 0, "a line listing hello", &|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        matches!(w.as_slice(), [size, "hello"] if size.parse::<u64>().is_ok())
    });
    if has(1, &|l| l.starts_with("write:")) {
        f.expect(false, || "`write` reported an error".into());
    }
    want(&mut f, 2, &format!("`{}`", SHELL_FILE.1), &|l| {
        l == SHELL_FILE.1
    });
    want(&mut f, 3, "`hello from pid N` and `[pid N] exit 0`", &|l| {
        l.starts_with("hello from pid ")
    });
    want(&mut f, 3, "`[pid N] exit 0`", &|l| {
        match_numbers(l, "[pid {}] exit {}").is_some_and(|n| n[1] == 0)
    });
    want(&mut f, 4, &format!("`{SHELL_WC}`"), &|l| l == SHELL_WC);
    want(&mut f, 4, "`[pid N] exit 0`", &|l| {
        match_numbers(l, "[pid {}] exit {}").is_some_and(|n| n[1] == 0)
    });
    f.expect(out.hog != 0 || sections.len() <= 5, || {
        "`run hog &` should answer `[pid N] started`".into()
    });
    let hog = out.hog;
    let is_hog_row = move |l: &str| {
        let w: Vec<&str> = l.split_whitespace().collect();
        matches!(w.as_slice(), [pid, _, _, "hog"] if pid.parse() == Ok(hog))
    };
    want(&mut f, 6, "the ps header", &|l| {
        l.contains("PID PRIO") && l.ends_with("NAME")
    });
    want(&mut f, 6, "a row for the hog", &is_hog_row);
    want(&mut f, 7, &format!("`killed {hog}`"), &|l| {
        l == format!("killed {hog}")
    });
    want(&mut f, 8, "the ps header", &|l| {
        l.contains("PID PRIO") && l.ends_with("NAME")
    });
    if has(8, &is_hog_row) {
        f.expect(false, || "the killed hog is still listed by `ps`".into());
    }
    // crashme: the manager's report and the shell's, the same pid.
    if let Some(section) = sections.get(9) {
        let manager = section.iter().find_map(|l| {
            let rest = l.split("[procs] pid ").nth(1)?;
            let (pid, rest) = rest.split_once(' ')?;
            (rest.starts_with("(crashme) faulted: ") && rest.ends_with("; reaped"))
                .then(|| pid.parse::<u64>().ok())?
        });
        let shell = section
            .iter()
            .find_map(|l| match_numbers(l, "[pid {}] fault VMFault at {}"));
        match (manager, shell) {
            (Some(m), Some(s)) if s[0] == m && s[1] == 0 => out.crashed = m,
            (Some(m), Some(s)) => f.expect(false, || {
                format!("crashme faulted as pid {m} for the manager, but the shell said pid {} at {:#x} (expected address 0)", s[0], s[1])
            }),
            (m, s) => f.expect(false, || {
                format!("`run crashme null` should give the manager's `[procs] pid N (crashme) faulted: ... ; reaped` ({}) and the shell's `[pid N] fault VMFault at 0x0` ({})",
                    if m.is_some() { "seen" } else { "missing" },
                    if s.is_some() { "seen" } else { "missing" })
            }),
        }
    }
    want(&mut f, 10, "its command list", &|l| {
        l.starts_with("help ") && l.ends_with("this list")
    });
    want(&mut f, 10, "its command list", &|l| {
        l.starts_with("run <prog>")
    });
    want(&mut f, 11, "`unknown command 'bogus': type help`", &|l| {
        l == "unknown command 'bogus': type help"
    });
    want(&mut f, 13, &format!("`{SHELL_FSTEST_OK}`"), &|l| {
        l == SHELL_FSTEST_OK
    });
    want(&mut f, 12, "the files line", &|l| {
        match_numbers(l, SHELL_MEM_FILES).is_some()
    });
    if let Some(section) = sections.get(12) {
        match section
            .iter()
            .find_map(|l| match_numbers(l, SHELL_MEM_PROCS))
        {
            Some(n) => {
                out.procs_kib = (n[0], n[1]);
                f.expect(n[0] == n[1] && n[3] == 0, || {
                    format!("`mem` should find every process gone and all {} KiB free; it says {} KiB free, {} processes", n[1], n[0], n[3])
                });
            }
            None => f.expect(false, || format!("`mem` should answer `{SHELL_MEM_PROCS}`")),
        }
    }
    f.finish(out)
}

/// proctest's verdict, and its failures' prefix.
pub const PROCTEST_OK: &str = "proctest: ok";
/// The start of each proctest failure line.
pub const PROCTEST_FAIL: &str = "proctest: FAIL";
/// proctest's spawn/exit cycles.
pub const PROCTEST_CYCLES: &str =
    "proctest: {} spawn/exit cycles, free untyped {} bytes before and after";
/// How many big processes fitted.
pub const PROCTEST_BIG: &str = "proctest: {} big processes fitted, then out of memory";
/// The cycles proctest must run.
pub const PROCTEST_CYCLE_COUNT: u64 = 1000;
/// The shell's line when a waited-for program exits.
pub const SHELL_EXIT: &str = "[pid {}] exit {}";

/// What `run proctest` reported.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ProcTest {
    /// Free untyped bytes, before and after the cycles.
    pub free_bytes: u64,
    /// Big processes that fitted.
    pub bigs: u64,
}

/// `run proctest` in the shell: the cycles line with 1,000 cycles, the
/// number of bigs that fitted, `proctest: ok`, no failure line, and the
/// shell's `[pid N] exit 0` after it.
pub fn processes(t: &Transcript) -> Result<ProcTest, Vec<String>> {
    let mut f = Findings::default();
    let mut out = ProcTest::default();
    for line in t.console.iter().filter(|l| l.contains(PROCTEST_FAIL)) {
        f.expect(false, || line.trim().to_string());
    }
    match find_numbers(t, PROCTEST_CYCLES) {
        Some((_, n)) if n[0] == PROCTEST_CYCLE_COUNT => out.free_bytes = n[1],
        Some((_, n)) => f.expect(false, || {
            format!("proctest ran {} cycles, not {PROCTEST_CYCLE_COUNT}", n[0])
        }),
        None => f.expect(false, || format!("missing `{PROCTEST_CYCLES}`")),
    }
    match find_numbers(t, PROCTEST_BIG) {
        Some((_, n)) if n[0] > 0 => out.bigs = n[0],
        _ => f.expect(false, || format!("missing `{PROCTEST_BIG}` with N > 0")),
    }
    let ok = t.console.iter().position(|l| l.trim() == PROCTEST_OK);
    f.expect(ok.is_some(), || format!("missing a line `{PROCTEST_OK}`"));
    if let Some(ok) = ok {
        let exit = t.console[ok..]
            .iter()
            .find_map(|l| match_numbers(l, SHELL_EXIT));
        f.expect(exit.as_ref().is_some_and(|n| n[1] == 0), || {
            format!(
                "the shell should report `[pid N] exit 0` after `{PROCTEST_OK}`; it said {exit:?}"
            )
        });
    }
    f.finish(out)
}

/// The policy check's session: (what must have appeared since the last
/// line, the line typed). Two hogs in the background; a third for 60
/// million iterations in the foreground, long enough (about a second of
/// guest time) for the policy to sink them; `ps` shows them sunk; then
/// `lat` answers three lines with 5 million iterations (25 ms under icount)
/// each; then the same with the policy off.
pub const POLICY_COMMANDS: [(&[&str], &str); 15] = [
    (&[], "run hog &"),
    (&["[pid 1] started", SHELL_PROMPT], "run hog &"),
    (&["[pid 2] started", SHELL_PROMPT], "run hog 60"),
    (&["[pid 3] exit 0", SHELL_PROMPT], "ps"),
    (&[POLICY_PS, SHELL_PROMPT], "run lat 3 5"),
    (&["lat: pid 4 reads 3 lines\n"], "one"),
    (&["lat: line 1 answered"], "two"),
    (&["lat: line 2 answered"], "three"),
    (&["[pid 4] exit 0", SHELL_PROMPT], "ps"),
    (&[POLICY_PS, SHELL_PROMPT], "policy off"),
    (&["policy off", SHELL_PROMPT], "run lat 3 5"),
    (&["lat: pid 5 reads 3 lines\n"], "one"),
    (&["lat: line 1 answered"], "two"),
    (&["lat: line 2 answered"], "three"),
    (&["lat: line 3 answered"], "ps"),
];
/// The header of `ps`.
pub const POLICY_PS: &str = "  PID PRIO";
/// The line that ends the policy session: the second lat's exit.
pub const POLICY_DONE: &str = "[pid 5] exit 0";
/// A process's row in `ps`: pid, priority, bytes (then the name).
pub const PS_ROW: &str = "{} {} {} hog";
/// `lat`'s answer.
pub const LAT_ANSWER: &str = "lat: line {} answered after {} us";
/// With the policy on, each answer comes within this (the work alone is
/// 25 ms: the hogs have sunk below lat and never delay it).
pub const POLICY_ON_BOUND_US: u64 = 30_000;
/// With it off, each answer waits for at least one round of the hogs' 10 ms
/// time slices on top of the 25 ms of work.
pub const POLICY_OFF_ABOVE_US: u64 = 40_000;

/// The answer times of the policy session, in microseconds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PolicyTimes {
    /// With the policy on.
    pub on: Vec<u64>,
    /// With it off.
    pub off: Vec<u64>,
}

/// Both lat runs answered their three lines, within the bound with the
/// policy on and above the other bound with it off.
pub fn policy(t: &Transcript) -> Result<PolicyTimes, Vec<String>> {
    let mut f = Findings::default();
    let off_at = t.find("policy off:");
    f.expect(off_at.is_some(), || {
        "the shell never said `policy off:`".into()
    });
    let mut times = PolicyTimes::default();
    // The hogs as the first ps saw them, before lat ran: sunk below the
    // priority they were spawned at.
    let first_ps = t.find(POLICY_PS);
    let hogs: Vec<Vec<u64>> = first_ps
        .map(|at| {
            t.console[at + 1..]
                .iter()
                .take(2)
                .filter_map(|l| {
                    match_numbers(&l.split_whitespace().collect::<Vec<_>>().join(" "), PS_ROW)
                })
                .collect()
        })
        .unwrap_or_default();
    f.expect(hogs.len() == 2, || {
        format!("ps should list the two hogs before lat runs: {hogs:?}")
    });
    let spawned = u64::from(libcerne::process::DEFAULT_PRIORITY);
    f.expect(hogs.iter().all(|h| h[1] < spawned), || {
        format!("the policy should have sunk both hogs below {spawned} before lat runs: {hogs:?}")
    });
    for (i, line) in t.console.iter().enumerate() {
        if let Some(&[_, us]) = match_numbers(line, LAT_ANSWER).as_deref() {
            if off_at.is_some_and(|o| i > o) {
                times.off.push(us);
            } else {
                times.on.push(us);
            }
        }
    }
    f.expect(times.on.len() == 3 && times.off.len() == 3, || {
        format!("expected 3 answers with the policy on and 3 off, got {times:?}")
    });
    f.expect(times.on.iter().all(|&us| us < POLICY_ON_BOUND_US), || {
        format!(
            "with the policy on every answer should take under {POLICY_ON_BOUND_US} us: {:?}",
            times.on
        )
    });
    f.expect(times.off.iter().all(|&us| us > POLICY_OFF_ABOVE_US), || {
        format!("with the policy off every answer should wait for the hogs (over {POLICY_OFF_ABOVE_US} us): {:?}", times.off)
    });
    f.finish(times)
}

/// The storage stack came up (block driver and file server).
pub const STORAGE_UP: [&str; 2] = ["[blk] virtio-blk up", "[fs] FAT32 volume mounted"];
/// fs-check's report of each file it left: path, size, CRC-32.
pub const FSCHECK_FILE: &str = "[fscheck] file ";
/// fs-check on a disk no earlier boot wrote.
pub const FSCHECK_FRESH: &str = "[fscheck] no files from a previous boot";
/// fs-check's count of the files an earlier boot left that it verified.
pub const FSCHECK_PREVIOUS: &str = "[fscheck] previous boot: {} files verified";
/// fs-check's summary.
pub const FSCHECK_DONE: &str = "[fscheck] done: {} failures";
/// The start of fs-check's report of a failed step.
pub const FSCHECK_FAIL: &str = "[fscheck] FAIL";
/// fs-abuse's summary.
pub const FSABUSE_DONE: &str = "[fsabuse] done: {} refused as expected, {} unexpected";
/// Cases fs-abuse must report refused as expected: every error a client
/// can provoke, and garbage (`[fsabuse] <case>: refused with ...`).
pub const FSABUSE_CASES: [&str; 22] = [
    "an unknown label",
    "label 0",
    "a request too short",
    "a request too long",
    "a message longer than any request",
    "unknown handle",
    "path too long",
    "name with a NUL",
    "open of a missing file",
    "mkdir of an existing directory",
    "a file used as a directory",
    "a directory opened as a file",
    "unlink of a directory with files",
    "read past the end",
    "write to a read-only open",
    "read from a write-only open",
    "seek with a bad whence",
    "a path range outside the buffer",
    "too many open handles",
    "other clients' handles",
    "disk full",
    "space after the full disk",
];
/// The file fs-abuse leaves, and its bytes.
pub const FSABUSE_FILE: (&str, &[u8]) = ("/abuse/five.txt", b"12345");
/// Where fs-check lists the files it left.
pub const FSCHECK_MANIFEST: &str = "/check/manifest.txt";

/// What one boot of the storage system reported.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StorageRun {
    /// The files fs-check left: path, size, CRC-32, in its order.
    pub files: Vec<(String, u64, u32)>,
    /// Files of an earlier boot it verified (`None` on a fresh disk).
    pub previous: Option<u64>,
    /// Bad requests fs-abuse saw refused as expected.
    pub refused: u64,
}

impl StorageRun {
    /// The manifest fs-check writes for the files it left.
    pub fn manifest(&self) -> Vec<u8> {
        self.files
            .iter()
            .map(|(path, size, crc)| format!("{path} {size} {crc:#010x}\n"))
            .collect::<String>()
            .into_bytes()
    }
}

/// A boot of the storage system: driver and server up, fs-check's files
/// and summary with no failure, every fs-abuse case refused and nothing
/// unexpected.
pub fn storage(t: &Transcript) -> Result<StorageRun, Vec<String>> {
    let mut f = Findings::default();
    let mut run = StorageRun::default();
    for line in STORAGE_UP {
        f.expect(t.find(line).is_some(), || format!("missing `{line}`"));
    }
    for line in &t.console {
        if let Some(rest) = line.split(FSCHECK_FILE).nth(1) {
            let w: Vec<&str> = rest.split_whitespace().collect();
            let parsed = match w.as_slice() {
                [path, size, "bytes", "crc32", crc] => size
                    .parse()
                    .ok()
                    .zip(u32::from_str_radix(crc.trim_start_matches("0x"), 16).ok())
                    .map(|(size, crc)| (path.to_string(), size, crc)),
                _ => None,
            };
            match parsed {
                Some(file) => run.files.push(file),
                None => f.expect(false, || format!("cannot read the file line `{line}`")),
            }
        }
        if line.contains(FSCHECK_FAIL) {
            f.expect(false, || line.clone());
        }
        if line.contains("[fsabuse] UNEXPECTED") {
            f.expect(false, || line.clone());
        }
    }
    f.expect(!run.files.is_empty(), || {
        "fs-check reported no files".into()
    });
    run.previous = find_numbers(t, FSCHECK_PREVIOUS).map(|(_, n)| n[0]);
    f.expect(
        run.previous.is_some() || t.find(FSCHECK_FRESH).is_some(),
        || format!("missing `{FSCHECK_FRESH}` or `{FSCHECK_PREVIOUS}`"),
    );
    match find_numbers(t, FSCHECK_DONE)
        .as_ref()
        .map(|(_, n)| n.as_slice())
    {
        Some([0]) => {}
        Some([n]) => f.expect(false, || format!("fs-check reported {n} failures")),
        _ => f.expect(false, || format!("missing `{FSCHECK_DONE}`")),
    }
    match find_numbers(t, FSABUSE_DONE)
        .as_ref()
        .map(|(_, n)| n.as_slice())
    {
        Some([refused, 0]) => run.refused = *refused,
        Some([_, n]) => f.expect(false, || format!("fs-abuse saw {n} unexpected answers")),
        _ => f.expect(false, || format!("missing `{FSABUSE_DONE}`")),
    }
    for case in FSABUSE_CASES {
        let prefix = format!("[fsabuse] {case}:");
        f.expect(
            t.console
                .iter()
                .any(|l| l.contains(&prefix) && l.ends_with("as expected")),
            || format!("fs-abuse did not report `{case}` refused as expected"),
        );
    }
    f.finish(run)
}

/// The supervision session: what is typed, each once every text of its
/// list appeared since the line before (the first after the boot).
pub const SUPERVISION_COMMANDS: [(&[&str], &str); 8] = [
    (&[], "crash pong"),
    (
        &[
            "[super] restarted pong: cause instruction fault",
            SHELL_PROMPT,
        ],
        "crash pong panic",
    ),
    (
        &["[super] restarted pong: cause panic", SHELL_PROMPT],
        "crash pong hang",
    ),
    (
        &[
            "[super] restarted pong: cause hang (no heartbeat",
            SHELL_PROMPT,
        ],
        "restarts",
    ),
    (&[" last recovery ", SHELL_PROMPT], "caps pong"),
    (
        &[" more held now; incarnation ", SHELL_PROMPT],
        "caps shell",
    ),
    (&[SUPERVISION_SPEC_ONLY, SHELL_PROMPT], "crash nosuch"),
    (&["crash: nosuch: ", SHELL_PROMPT], "ls /"),
];
/// The echo of the session's last command.
pub const SUPERVISION_LAST: &str = "cerne> ls /";
/// A line of the listing of `/` (disk/default/motd.txt).
pub const SUPERVISION_LISTED: &str = "  motd.txt";
/// The end of `caps` for a component the supervisor holds no cap to.
pub const SUPERVISION_SPEC_ONLY: &str = "(spec only: the supervisor holds no cap to this CSpace)";

/// What the supervision session showed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Supervision {
    /// The three recovery times, as printed (ms).
    pub recovered_ms: Vec<String>,
    /// Live caps `caps pong` listed.
    pub caps: u64,
}

/// The console lines after the echo of `command` up to (not including)
/// the next prompt's echo line.
fn answer_of<'t>(t: &'t Transcript, command: &str) -> Vec<&'t str> {
    let echo = format!("{SHELL_PROMPT}{command}");
    // The echo follows the prompt, or stands alone when other output
    // came after the prompt.
    let Some(start) = t
        .console
        .iter()
        .position(|l| l.ends_with(&echo) || l.trim() == command)
    else {
        return Vec::new();
    };
    t.console[start + 1..]
        .iter()
        .take_while(|l| !l.starts_with(SHELL_PROMPT))
        .map(String::as_str)
        .collect()
}

/// The supervision session of [`SUPERVISION_COMMANDS`]: pong restarted
/// after each of a fault, a panic (the injected panic's message, with the
/// seed the supervisor injected, printed as the cause) and a hang, in
/// that order; `restarts` counts 3 restarts of a running pong; `caps pong`
/// shows every spec cap live as the spec says and no other; `caps shell`
/// the spec only; `crash nosuch` refused with nothing injected; `ls /`
/// answered after all of it; no kernel or unhandled-fault line.
pub fn supervision(t: &Transcript) -> Result<Supervision, Vec<String>> {
    let mut f = Findings::default();
    let mut out = Supervision::default();
    let mut at = 0;
    for (how, cause, restart) in [
        ("fault", "instruction fault at 0x10, pc 0x10", 1),
        ("panic", "panic", 2),
        ("hang", "hang (no heartbeat for 500 ms)", 3),
    ] {
        let injected = format!(
            "crash: {how} injected into pong (incarnation {},",
            restart - 1
        );
        let Some(i) = t.find_from(at, &injected) else {
            f.expect(false, || format!("missing `{injected}` (after line {at})"));
            continue;
        };
        let failed = format!("[super] pong failed: {cause}");
        f.expect(t.find_from(at, &failed).is_some(), || {
            format!("missing `{failed}` for the {how}")
        });
        let restarted =
            format!("[super] restarted pong: cause {cause}; restart {restart}; recovered in ");
        match t.find_from(at, &restarted) {
            Some(j) => {
                let ms = t.console[j]
                    .split(" recovered in ")
                    .nth(1)
                    .unwrap_or("")
                    .trim_end_matches(" ms");
                out.recovered_ms.push(ms.to_owned());
                at = j.max(i) + 1;
            }
            None => f.expect(false, || {
                format!("missing `{restarted}...` after the {how}")
            }),
        }
        if how == "panic" {
            // The panic's message names the seed the supervisor injected.
            let seed = t
                .console
                .iter()
                .rev()
                .find(|l| l.contains("[super] injecting panic into pong (seed "))
                .and_then(|l| l.split("(seed ").nth(1))
                .and_then(|s| s.split(',').next())
                .unwrap_or("?")
                .to_owned();
            let message = format!("injected panic (incarnation 1, seed {seed})");
            let shown = t
                .console
                .iter()
                .position(|l| l.contains("[super] pong failed: panic: "))
                .is_some_and(|p| {
                    t.console[p..(p + 3).min(t.console.len())]
                        .iter()
                        .any(|l| l.contains(&message))
                });
            f.expect(shown, || {
                format!("the panic's cause should carry its message `{message}`")
            });
        }
    }
    let restarts = answer_of(t, "restarts");
    let pong: Vec<&str> = restarts
        .iter()
        .find(|l| l.starts_with("pong "))
        .map(|l| l.split_whitespace().collect())
        .unwrap_or_default();
    f.expect(
        matches!(pong.as_slice(), ["pong", "running", "restarts", "3", ..]),
        || format!("`restarts` should show pong running with restarts 3; it printed {restarts:?}"),
    );
    let caps = answer_of(t, "caps pong");
    let live = caps.iter().filter(|l| l.contains("  live: ")).count() as u64;
    out.caps = live;
    f.expect(
        live > 0 && caps.iter().any(|l| l.contains("live: endpoint")),
        || {
            format!(
                "`caps pong` should list live caps (an endpoint among them); it printed {caps:?}"
            )
        },
    );
    for l in caps
        .iter()
        .filter(|l| l.contains("differs") || l.contains("not in the spec"))
    {
        f.expect(false, || format!("`caps pong`: {}", l.trim()));
    }
    let end = " caps in the spec, 0 more held now; incarnation 3";
    f.expect(
        caps.last().is_some_and(|l| l.ends_with(end))
            && caps
                .last()
                .and_then(|l| l.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
                == Some(live),
        || format!("`caps pong` should end `{live}{end}`; it printed {caps:?}"),
    );
    let shell = answer_of(t, "caps shell");
    f.expect(
        shell.len() > 1
            && shell.last() == Some(&SUPERVISION_SPEC_ONLY)
            && !shell.iter().any(|l| l.contains("live:")),
        || format!("`caps shell` should list the spec only, ending `{SUPERVISION_SPEC_ONLY}`; it printed {shell:?}"),
    );
    let nosuch = answer_of(t, "crash nosuch");
    f.expect(
        nosuch
            .iter()
            .any(|l| l.contains("crash: nosuch: no such component")),
        || {
            format!(
                "`crash nosuch` should be refused with `no such component`; it printed {nosuch:?}"
            )
        },
    );
    f.expect(t.find("into nosuch").is_none(), || {
        "something was injected into `nosuch`".into()
    });
    let listing = answer_of(t, "ls /");
    f.expect(
        listing.iter().any(|l| l.ends_with(SUPERVISION_LISTED)),
        || format!("`ls /` should list motd.txt after the crashes; it printed {listing:?}"),
    );
    for line in &t.console {
        if line.contains(cerne_abi::console::USER_FAULT_PREFIX)
            || crate::console::marker(line) == Some(crate::console::Marker::Failure)
        {
            f.expect(false, || format!("`{}`", line.trim()));
        }
    }
    f.finish(out)
}

/// The storage-restart session: two big files, the block driver crashed
/// while the first is written, the file server while the second is open;
/// then wc reads both.
pub const STORAGE_RESTART_COMMANDS: [(&[&str], &str); 6] = [
    (&[], "run bigfile /big1.bin 8192 &"),
    (&[BIGFILE_PROGRESS, SHELL_PROMPT], "crash blk"),
    // A background run's exit is not reported: its verdict line ends it.
    (&[" verified"], "run bigfile /big2.bin 8192 &"),
    (&[BIGFILE_PROGRESS, SHELL_PROMPT], "crash fs"),
    (&[" verified"], "run wc /big1.bin"),
    (&["] exit ", SHELL_PROMPT], "run wc /big2.bin"),
];
/// Foreground programs the storage-restart session runs (each ends in
/// `[pid N] exit C`; the last ends the session).
pub const STORAGE_RESTART_RUNS: u32 = 2;
/// The files it writes.
pub const STORAGE_RESTART_FILES: [&str; 2] = ["/big1.bin", "/big2.bin"];
/// Their size in KiB: four times the file server's 2 MiB block cache, so
/// that the writes reach the driver while bigfile writes.
pub const STORAGE_RESTART_KIB: usize = 8192;
/// The bigfile line after which a crash is typed (a quarter in; far from
/// the end, so the crash lands mid-write).
pub const BIGFILE_PROGRESS: &str = "bigfile: 2048 KiB written";

/// The bytes `bigfile` writes (components/programs/src/bin/bigfile.rs),
/// computed on the host to check the image independently of the guest.
pub fn bigfile_pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i as u64).wrapping_mul(2_654_435_761) >> 13) as u8 ^ (i as u8))
        .collect()
}

/// Where the storage-restart session's crashes landed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StorageRestart {
    /// KiB of the first file written when blk was crashed (the last
    /// progress line before the supervisor's injection).
    pub blk_at_kib: u64,
    /// The same for fs and the second file.
    pub fs_at_kib: u64,
}

/// The storage-restart session of [`STORAGE_RESTART_COMMANDS`]: the block
/// driver injected while the first file was being written (after a
/// progress line, before the last one) and restarted, bigfile none the
/// wiser (no second attempt), the file verified, exit 0; the file server
/// injected while the second file was open, restarted, bigfile writing it
/// again and verifying it, exit 0; wc reading each back at its full size;
/// both CRC-32s those of the pattern; no kernel or unhandled-fault line.
pub fn storage_restart(t: &Transcript) -> Result<StorageRestart, Vec<String>> {
    let mut f = Findings::default();
    let mut out = StorageRestart::default();
    let len = STORAGE_RESTART_KIB * 1024;
    let all = format!("bigfile: {} KiB written", STORAGE_RESTART_KIB);
    let mut at = 0;
    for (n, (path, component)) in STORAGE_RESTART_FILES.iter().zip(["blk", "fs"]).enumerate() {
        let start = format!("run bigfile {path} ");
        let Some(s) = t.find_from(at, &start) else {
            f.expect(false, || format!("bigfile {path} was never run"));
            continue;
        };
        let injecting = format!("[super] injecting fault into {component} ");
        let Some(inj) = t.find_from(s, &injecting) else {
            f.expect(false, || {
                format!("no `{injecting}` while {path} was written")
            });
            continue;
        };
        let kib = t.console[s..inj]
            .iter()
            .rev()
            .find_map(|l| match_numbers(l, "bigfile: {} KiB written"))
            .map(|n| n[0])
            .unwrap_or(0);
        if n == 0 {
            out.blk_at_kib = kib;
        } else {
            out.fs_at_kib = kib;
        }
        // Mid-write: the injection came before the file was all written
        // (for the first attempt).
        let done = t.find_from(s, &all);
        f.expect(done.is_some_and(|d| inj < d), || {
            format!("{component} was injected after {path} was all written (line {inj}, {done:?}): the crash did not land mid-write")
        });
        let restarted = format!("[super] restarted {component}: cause ");
        f.expect(t.find_from(inj, &restarted).is_some(), || {
            format!("missing `{restarted}...` after the injection")
        });
        let verified = format!("bigfile: {path} {len} bytes crc32 ");
        let crc = crc32fast::hash(&bigfile_pattern(len));
        match t.find_from(s, &verified) {
            Some(v) => {
                let line = &t.console[v];
                f.expect(
                    line.ends_with(&format!("crc32 {crc:#010x} verified")),
                    || format!("`{line}`: the pattern's CRC-32 is {crc:#010x}"),
                );
                let again = t.console[s..v]
                    .iter()
                    .any(|l| l.contains("the file server restarted; writing"));
                if component == "blk" {
                    f.expect(!again, || {
                        format!("bigfile wrote {path} again after a block-driver restart, which the file server should hide")
                    });
                } else {
                    f.expect(again, || {
                        format!("bigfile should have written {path} again after the file server's restart (its handle went stale)")
                    });
                }
                for l in &t.console[s..v] {
                    f.expect(
                        !(l.contains("bigfile: ")
                            && (l.contains(" failed: ") || l.contains("gave up"))),
                        || format!("`{l}`"),
                    );
                }
                at = v;
            }
            None => f.expect(false, || {
                format!("missing `{verified}{crc:#010x} verified`")
            }),
        }
    }
    for path in STORAGE_RESTART_FILES {
        let want = format!(" {len} {path}");
        let answer = answer_of(t, &format!("run wc {path}"));
        f.expect(answer.iter().any(|l| l.ends_with(&want)), || {
            format!("`run wc {path}` should count {len} bytes; it printed {answer:?}")
        });
    }
    for line in &t.console {
        if line.contains(cerne_abi::console::USER_FAULT_PREFIX)
            || crate::console::marker(line) == Some(crate::console::Marker::Failure)
        {
            f.expect(false, || format!("`{}`", line.trim()));
        }
    }
    f.finish(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cerne_abi::console::HALT_FAILURE;

    fn transcript(lines: &[&str]) -> Transcript {
        Transcript {
            console: lines.iter().map(|s| s.to_string()).collect(),
            stderr: Vec::new(),
        }
    }

    #[test]
    fn policy_times_are_split_at_policy_off_and_bounded() {
        let session = |on: [u64; 3], off: [u64; 3]| {
            let mut lines: Vec<String> = vec![
                "  PID PRIO      BYTES NAME".into(),
                "    1   52     131072 hog".into(),
                "    2   53     131072 hog".into(),
            ];
            lines.extend(
                on.iter()
                    .enumerate()
                    .map(|(i, us)| format!("lat: line {} answered after {us} us (0x1)", i + 1)),
            );
            lines.push("policy off: every process at its highest priority".into());
            lines.extend(
                off.iter()
                    .enumerate()
                    .map(|(i, us)| format!("lat: line {} answered after {us} us (0x1)", i + 1)),
            );
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            policy(&transcript(&refs))
        };
        assert_eq!(
            session([25_031, 25_031, 25_058], [61_043, 63_043, 85_036]),
            Ok(PolicyTimes {
                on: vec![25_031, 25_031, 25_058],
                off: vec![61_043, 63_043, 85_036],
            })
        );
        // The policy made no difference: both bounds fail.
        let why = session([25_031, 61_000, 25_000], [25_000, 61_000, 62_000]).unwrap_err();
        assert_eq!(why.len(), 2, "{why:?}");
        // No `policy off`: nothing to compare.
        assert!(policy(&transcript(&["lat: line 1 answered after 1 us"])).is_err());
    }

    #[test]
    fn ktest_summary() {
        let ok = transcript(&["151 passed, 0 failed", HALT_SUCCESS]);
        assert_eq!(ktest(&ok), Ok(151));
        let failed = transcript(&[
            "[ktest] FAIL ipc::call_chain",
            "200 passed, 1 failed",
            HALT_SUCCESS,
        ]);
        let why = ktest(&failed).unwrap_err();
        assert!(why.iter().any(|p| p.contains("ipc::call_chain")), "{why:?}");
        let few = transcript(&["20 passed, 0 failed", HALT_SUCCESS]);
        assert!(ktest(&few).is_err());
        let no_halt = transcript(&["160 passed, 0 failed", HALT_FAILURE]);
        assert!(ktest(&no_halt).is_err());
        assert!(ktest(&transcript(&["nothing"])).is_err());
        // Only a line of its own counts.
        let embedded = transcript(&["said 151 passed, 0 failed", HALT_SUCCESS]);
        assert!(ktest(&embedded).is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(
            match_numbers(
                "[rootserver] untyped: 12 caps, 0x1_000 bytes total",
                UNTYPED_TOTAL
            ),
            Some(vec![12, 4096])
        );
        assert_eq!(
            match_numbers(
                "[rootserver] untyped: device 3 caps, 5 bytes",
                UNTYPED_TOTAL
            ),
            None
        );
        assert_eq!(match_numbers("x = ", BOOT_PMCCNTR), None);
        assert_eq!(
            match_numbers(
                "[cerne] memory: RAM 0x40000000..0x60000000 (512 MiB)",
                MEMORY_RAM
            ),
            Some(vec![0x4000_0000, 0x6000_0000, 512])
        );
    }

    fn default_lines(ram_bytes: u64) -> Vec<String> {
        vec![
            "Cerne 0.1.0 (aarch64)".into(),
            format!("{MEMORY_PREFIX} RAM 0x40000000..0x60000000 (512 MiB)"),
            format!("{MEMORY_PREFIX} kernel 0x40000000..0x40100000"),
            ROOT_HELLO.into(),
            format!(
                "[rootserver] untyped: 5 caps, {} bytes total",
                ram_bytes + 0x1000_0000
            ),
            "[rootserver] untyped: device 2 caps, 268435456 bytes".into(),
            format!("[rootserver] untyped: RAM 3 caps, {ram_bytes} bytes"),
            "[rootserver] caps: 44 of 44 slots hold the cap BootInfo names".into(),
            HALT_SUCCESS.into(),
        ]
    }

    #[test]
    fn default_boot_passes_and_fails() {
        let good = default_lines(500 * MIB);
        let t = Transcript {
            console: good.clone(),
            stderr: vec![],
        };
        let s = default_boot(&t, MemSize::mib(512)).unwrap();
        assert_eq!((s.caps, s.device_caps, s.ram_caps), (5, 2, 3));

        // Wrong memory size on the command line.
        let errs = default_boot(&t, MemSize::mib(256)).unwrap_err();
        assert!(errs.iter().any(|e| e.contains("RAM range")), "{errs:?}");
        assert!(errs.iter().any(|e| e.contains("implausible")), "{errs:?}");

        // Too little RAM handed out.
        let t = Transcript {
            console: default_lines(100 * MIB),
            stderr: vec![],
        };
        assert!(default_boot(&t, MemSize::mib(512)).is_err());

        // A boot cap that is not what BootInfo names.
        let mut lines = default_lines(500 * MIB);
        lines[7] = "[rootserver] caps: 43 of 44 slots hold the cap BootInfo names".into();
        let t = Transcript {
            console: lines,
            stderr: vec![],
        };
        let errs = default_boot(&t, MemSize::mib(512)).unwrap_err();
        assert!(errs.iter().any(|e| e.contains("43 of 44")), "{errs:?}");

        // Missing root task output.
        let t = transcript(&["Cerne 0.1.0"]);
        assert!(default_boot(&t, MemSize::mib(512)).unwrap_err().len() >= 4);
    }

    #[test]
    fn irq_uart_lines_must_come_in_order() {
        let good = transcript(&[
            "[irq-uart] waiting for input",
            "[irq-uart] line \"hello cerne\" after 1 interrupts",
            "[irq-uart] line \"quit\" after 2 interrupts",
            "[irq-uart] done",
        ]);
        assert!(irq_uart(&good).is_err(), "no hand-back");
        let handed_back = |lines: &[&str]| {
            let mut v = lines.to_vec();
            v.extend([
                "[cerne] console returned: 34 bytes logged while a driver owned it",
                IRQ_UART_KERNEL_LOG,
                IRQ_UART_AFTER,
            ]);
            transcript(&v)
        };
        let lines = [
            "[irq-uart] waiting for input",
            "[irq-uart] line \"hello cerne\" after 1 interrupts",
            "[irq-uart] line \"quit\" after 2 interrupts",
            "[irq-uart] done",
        ];
        assert_eq!(irq_uart(&handed_back(&lines)), Ok(()));
        let swapped = [lines[0], lines[2], lines[1], lines[3]];
        assert!(irq_uart(&handed_back(&swapped)).is_err());
        // The kernel's text reached the UART while the driver owned it.
        let leaked = [lines[0], IRQ_UART_KERNEL_LOG, lines[1], lines[2], lines[3]];
        assert!(irq_uart(&handed_back(&leaked)).is_err());
        // The wrong count of logged bytes.
        let mut miscounted = handed_back(&lines);
        miscounted.console[4] =
            "[cerne] console returned: 7 bytes logged while a driver owned it".into();
        assert!(irq_uart(&miscounted).is_err());
        // Never handed back, or the log lost.
        let mut lost = handed_back(&lines);
        lost.console.remove(5);
        assert!(irq_uart(&lost).is_err());
    }

    #[test]
    fn kernel_fault_report_needs_its_fields() {
        let good = transcript(&[
            "[cerne] unexpected kernel exception: Synchronous from EL1: data abort at the current exception level",
            "    cause: translation fault at level 0",
            "    ESR 0x0000000096000004  FAR 0xffff000000000000  ELR 0xffffffffc0002f58  SPSR 0x00000000600003c5  SP 0xffffffffc0042d20",
            "    x0  0x0    x1  0x0    x2  0x0    x3  0x0",
            "    x28 0x0    x29 0x0    x30 0x0",
            HALT_FAILURE,
        ]);
        assert!(kernel_fault(&good).is_ok());
        let no_report = transcript(&[HALT_FAILURE]);
        assert!(kernel_fault(&no_report).is_err());
    }

    fn fault_lines() -> Vec<String> {
        let mut v = vec![
            format!("{USER_FAULT_PREFIX} in thread rootserver: data abort (lower EL)"),
            "  ESR 0x92000046 FAR 0x0 ELR 0x400123 SPSR 0x0".to_string(),
        ];
        for i in (0..31).step_by(4) {
            let regs: Vec<String> = (i..(i + 4).min(31))
                .map(|r| format!("x{r:02} 0x0000000000000000"))
                .collect();
            v.push(regs.join(" "));
        }
        v.extend([
            THREAD_SUSPENDED.to_string(),
            IDLE_HALT.to_string(),
            HALT_SUCCESS.to_string(),
        ]);
        v
    }

    #[test]
    fn el0_fault_report() {
        let lines = fault_lines();
        let t = Transcript {
            console: lines.clone(),
            stderr: vec![],
        };
        assert_eq!(el0_fault(&t), Ok(()));

        let mut short = lines.clone();
        short[2] = "x00 0 x01 0".into(); // x2, x3 gone
        let t = Transcript {
            console: short,
            stderr: vec![],
        };
        let errs = el0_fault(&t).unwrap_err();
        assert!(errs[0].contains("[2, 3]"), "{errs:?}");

        let mut out_of_order = lines;
        out_of_order.swap(10, 11); // idle halt before suspended
        let t = Transcript {
            console: out_of_order,
            stderr: vec![],
        };
        assert!(el0_fault(&t).is_err());
    }

    #[test]
    fn panic_location() {
        let t = transcript(&[
            "[cerne] memory: RAM 0x40000000..0x50000000 (256 MiB)",
            "[cerne] KERNEL PANIC at kernel/src/boot.rs:42:5: deliberate",
            HALT_FAILURE,
        ]);
        assert_eq!(kernel_panic(&t), Ok("kernel/src/boot.rs:42".to_string()));
        let t = transcript(&["[cerne] KERNEL PANIC: no location"]);
        assert_eq!(kernel_panic(&t).unwrap_err().len(), 2);
        assert_eq!(
            source_location("at 'src/a.rs:7'"),
            Some("src/a.rs:7".into())
        );
        assert_eq!(source_location("a.rs: 7"), None);
    }

    fn default_system_transcript() -> Vec<&'static str> {
        vec![
            "[cerne] root task: 112 image pages",
            "[rootserver] hello from EL0",
            "[capdl] built 140 objects, 158 caps, 565312 bytes (49808 filled from 12 files); starting 9 of 12 threads",
            "[console] PL011 driver up: registers at 0x38000000, interrupt on notification bit 0x8000000000000000",
            "[policy] priority policy up: up to 64 processes",
            "[procs] process manager up: 65536 KiB of untyped for up to 64 processes, 65536 KiB free",
            "",
            "Cerne shell: type help for the commands",
            "cerne> [pong] serving pingpong",
            "[ping] 1000 calls to pong, 0 wrong answers; pong saw badge 1",
            "hello cerne",
            "unknown command 'hello': type help",
        ]
    }

    fn storage_transcript() -> Vec<String> {
        let mut t: Vec<String> = vec![
            "[blk] virtio-blk up: 131072 sectors (64 MiB), flush, transport vModern, DMA 4 + 64 pages, generation 1".into(),
            "[fs] FAT32 volume mounted: 64 MiB, 64520 KiB free; serving 2 clients".into(),
            FSCHECK_FRESH.into(),
        ];
        for case in FSABUSE_CASES {
            t.push(format!(
                "[fsabuse] {case}: refused with Server(X), as expected"
            ));
        }
        t.push("[fsabuse] done: 22 refused as expected, 0 unexpected".into());
        t.push("[fscheck] file /check/one.bin 1 bytes crc32 0xa505df1b".into());
        t.push("[fscheck] file /check/empty.bin 0 bytes crc32 0x00000000".into());
        t.push("[fscheck] done: 0 failures, 63488 KiB free".into());
        t
    }

    #[test]
    fn storage_reads_a_good_run() {
        let t = storage_transcript();
        let t: Vec<&str> = t.iter().map(String::as_str).collect();
        let run = storage(&transcript(&t)).unwrap();
        assert_eq!(
            run.files,
            vec![
                ("/check/one.bin".to_string(), 1, 0xa505_df1b),
                ("/check/empty.bin".to_string(), 0, 0)
            ]
        );
        assert_eq!(run.previous, None);
        assert_eq!(run.refused, 22);
        assert_eq!(
            run.manifest(),
            b"/check/one.bin 1 0xa505df1b\n/check/empty.bin 0 0x00000000\n"
        );
    }

    #[test]
    fn storage_catches_each_fault() {
        type Change = Box<dyn Fn(&mut Vec<String>)>;
        let cases: [(&str, Change); 7] = [
            (
                "no driver",
                Box::new(|t| t.retain(|l| !l.starts_with("[blk]"))),
            ),
            (
                "a failure",
                Box::new(|t| t.push("[fscheck] FAIL: read /x: Io".into())),
            ),
            (
                "failures counted",
                Box::new(|t| t.retain(|l| !l.starts_with("[fscheck] done"))),
            ),
            (
                "unexpected",
                Box::new(|t| t.push("[fsabuse] UNEXPECTED path too long: Ok(3)".into())),
            ),
            (
                "a case missing",
                Box::new(|t| t.retain(|l| !l.contains("read past the end"))),
            ),
            (
                "bad file line",
                Box::new(|t| t.push("[fscheck] file /a 12 bytes".into())),
            ),
            (
                "neither fresh nor previous",
                Box::new(|t| t.retain(|l| l != FSCHECK_FRESH)),
            ),
        ];
        for (what, change) in cases {
            let mut t = storage_transcript();
            change(&mut t);
            let t: Vec<&str> = t.iter().map(String::as_str).collect();
            assert!(storage(&transcript(&t)).is_err(), "{what} was not caught");
        }
    }

    fn shell_session_transcript() -> Vec<String> {
        [
            "[fsabuse] done: 22 refused as expected, 0 unexpected",
            "cerne> ls /bin",
            "   1069056  big",
            "     20480  hello",
            "cerne> write /s.txt alpha beta gamma",
            "cerne> cat /s.txt",
            "alpha beta gamma",
            "cerne> run hello",
            "hello from pid 1",
            "  arg 0: hello",
            "[pid 1] exit 0",
            "cerne> run wc /s.txt",
            "1 3 17 /s.txt",
            "[pid 2] exit 0",
            "cerne> run hog &",
            "[pid 3] started",
            "cerne> hog: pid 3 burns forever",
            "ps",
            "  PID PRIO      BYTES NAME",
            "    3   60      65536 hog",
            "cerne> kill 3",
            "[procs] pid 3 killed",
            "killed 3",
            "cerne> ps",
            "  PID PRIO      BYTES NAME",
            "cerne> run crashme null",
            "crashme: pid 4 faults: null",
            "[procs] pid 4 (crashme) faulted: VM fault on a data read at 0x0, pc 0x1234 (seL4 fault label 5); reaped",
            "[pid 4] fault VMFault at 0x0",
            "cerne> help",
            "help                      this list",
            "run <prog> [args...] [&]  run /bin/<prog> (or a path); & runs it in the background",
            "cerne> bogus",
            "unknown command 'bogus': type help",
            "cerne> mem",
            "procs: 65536 KiB free of 65536 KiB, largest 65536 KiB; 0 processes",
            "files: heap 6032 KiB free, 2159 KiB used; volume 62283 KiB free",
            "cerne> run fstest",
            "fstest: ok",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    #[test]
    fn shell_session_passes_a_good_run() {
        let t = shell_session_transcript();
        let t: Vec<&str> = t.iter().map(String::as_str).collect();
        assert_eq!(
            shell_session(&transcript(&t)),
            Ok(ShellSession {
                hog: 3,
                crashed: 4,
                procs_kib: (65536, 65536)
            })
        );
        assert_eq!(shell_hog_pid("x\n[pid 12] started\n"), Some(12));
    }

    #[test]
    fn shell_session_catches_each_fault() {
        type Change = Box<dyn Fn(&mut Vec<String>)>;
        let drop_line = |s: &'static str| -> Change { Box::new(move |t| t.retain(|l| l != s)) };
        let cases: [(&str, Change); 14] = [
            (
                "fstest failed",
                Box::new(|t| {
                    let last = t.len() - 1;
                    t[last] = "fstest: read back failed: Io".into();
                }),
            ),
            ("no hello in /bin", drop_line("     20480  hello")),
            ("cat", drop_line("alpha beta gamma")),
            (
                "hello failed",
                Box::new(|t| t[10] = "[pid 1] exit 1".into()),
            ),
            ("wc counts", Box::new(|t| t[12] = "1 3 16 /s.txt".into())),
            ("no background pid", drop_line("[pid 3] started")),
            ("hog not listed", drop_line("    3   60      65536 hog")),
            ("hog not killed", drop_line("killed 3")),
            (
                "hog still listed",
                Box::new(|t| t.insert(25, "    3   60      65536 hog".into())),
            ),
            (
                "no manager fault line",
                Box::new(|t| t.retain(|l| !l.starts_with("[procs] pid 4"))),
            ),
            (
                "no shell fault line",
                drop_line("[pid 4] fault VMFault at 0x0"),
            ),
            ("the shell died", Box::new(|t| t.truncate(29))),
            (
                "no usage line",
                drop_line("unknown command 'bogus': type help"),
            ),
            (
                "a process left",
                Box::new(|t| {
                    t[35] =
                        "procs: 65472 KiB free of 65536 KiB, largest 32768 KiB; 1 processes".into()
                }),
            ),
        ];
        for (what, change) in cases {
            let mut t = shell_session_transcript();
            change(&mut t);
            let t: Vec<&str> = t.iter().map(String::as_str).collect();
            assert!(
                shell_session(&transcript(&t)).is_err(),
                "{what} was not caught"
            );
        }
    }

    fn proctest_transcript() -> Vec<&'static str> {
        vec![
            "cerne> run proctest",
            "proctest: 1000 spawn/exit cycles, free untyped 66846720 bytes before and after",
            "proctest: 63 hogs filled the 64 process slots; the next spawn was refused; all killed",
            "proctest: 31 big processes fitted, then out of memory",
            "proctest: ok",
            "[pid 1] exit 0",
        ]
    }

    #[test]
    fn processes_passes_a_good_run() {
        assert_eq!(
            processes(&transcript(&proctest_transcript())),
            Ok(ProcTest {
                free_bytes: 66_846_720,
                bigs: 31
            })
        );
    }

    #[test]
    fn processes_catches_each_fault() {
        type Change = Box<dyn Fn(&mut Vec<&'static str>)>;
        let cases: [(&str, Change); 6] = [
            (
                "a failure",
                Box::new(|t| t.insert(2, "proctest: FAIL list shows 3 processes")),
            ),
            ("no ok", Box::new(|t| t.retain(|l| *l != "proctest: ok"))),
            (
                "no exit",
                Box::new(|t| {
                    t.pop();
                }),
            ),
            ("exit 1", Box::new(|t| t[5] = "[pid 1] exit 1")),
            (
                "fewer cycles",
                Box::new(|t| {
                    t[1] = "proctest: 10 spawn/exit cycles, free untyped 1 bytes before and after"
                }),
            ),
            (
                "no bigs",
                Box::new(|t| {
                    t.remove(3);
                }),
            ),
        ];
        for (what, change) in cases {
            let mut t = proctest_transcript();
            change(&mut t);
            assert!(processes(&transcript(&t)).is_err(), "{what} was not caught");
        }
    }

    #[test]
    fn default_system_components_match_the_description() {
        let path = crate::cargo::workspace_root().join("systems/default.toml");
        let system = sysdesc::load(&path).unwrap();
        assert_eq!(system.components.len() as u64, DEFAULT_SYSTEM_COMPONENTS);
    }

    #[test]
    fn default_system_passes_a_good_run() {
        let s = default_system(&transcript(&default_system_transcript())).unwrap();
        assert_eq!(
            s,
            SystemSummary {
                objects: 140,
                caps: 158,
                bytes: 565312,
                threads: 9
            }
        );
    }

    #[test]
    fn default_system_catches_each_fault() {
        type Change = Box<dyn Fn(&mut Vec<&'static str>)>;
        let cases: [(&str, Change); 7] = [
            (
                "no echo of the typed text",
                Box::new(|t| {
                    t.remove(9);
                }),
            ),
            (
                "no shell",
                Box::new(|t| t.retain(|l| !l.starts_with("Cerne shell"))),
            ),
            (
                "kernel output",
                Box::new(|t| t.push("[cerne] unhandled user fault in thread 'shell'")),
            ),
            (
                "no echo",
                Box::new(|t| {
                    t.pop();
                }),
            ),
            (
                "ping wrong",
                Box::new(|t| t[8] = "[ping] 1000 calls to pong, 3 wrong answers; pong saw badge 1"),
            ),
            (
                "threads",
                Box::new(|t| {
                    t[2] = "[capdl] built 140 objects, 158 caps, 565312 bytes (49808 filled from 12 files); starting 12 of 12 threads"
                }),
            ),
            (
                "error",
                Box::new(|t| t.insert(3, "[capdl] error: out of memory")),
            ),
        ];
        for (what, change) in cases {
            let mut t = default_system_transcript();
            change(&mut t);
            assert!(
                default_system(&transcript(&t)).is_err(),
                "{what} was not caught"
            );
        }
    }
}
