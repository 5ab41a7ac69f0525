//! `cargo xtask reliability`: the fault-injection campaign of the default
//! system (components/system/src/bin/campaign.rs) booted under `-icount`
//! on a fresh disk, its transcript read injection by injection, and the
//! disk checked on the host afterwards.
//!
//! The campaign is configured when it is built: `CERNE_CAMPAIGN_SEED` and
//! `CERNE_CAMPAIGN_INJECTIONS` are passed to the component programs' cargo
//! (crate::sysimage::set_program_env), so that a seed names a run exactly.
//! Under `-icount shift=0` one guest instruction is 1 ns; the generic timer
//! counts at 62.5 MHz, so a tick is 16 instructions and 62,500 ticks are a
//! millisecond of guest time.
//!
//! A boot that hangs does not end the campaign: the host stops it (at the
//! supervisor's REQUEST_LOST_MARK line, or when the time left runs out),
//! counts the injection in progress as a hang, checks that boot's disk, and
//! boots again on a fresh disk from the next injection (the campaign reads
//! the number from `/campaign/start`), so that every injection asked for is
//! made and reported, as MINIX 3's and the SWIFI campaigns reboot after a
//! system failure.
//!
//! Figures that must be zero: kernel failures (a kernel panic or exception,
//! a failure halt, an unhandled user fault: something no supervisor caught),
//! hangs (an injection with outcome `unknown`, one that ended its boot),
//! injections not accounted for, acknowledged data lost (the guest's
//! `lost` lines and every `acked` file the host finds otherwise on the
//! image), and a FAT check that fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cerne_abi::console::{REQUEST_LOST_MARK, USER_FAULT_PREFIX};

use crate::cargo;
use crate::console::{Outcome, Transcript, FAILURE_MARKERS};
use crate::error::{Context, Result};
use crate::image::{self, Image};
use crate::qemu::Machine;
use crate::runner::{self, Options, Run};
use crate::systems;

/// The system that runs the campaign.
pub const SYSTEM: &str = "reliability";
/// The seed when none is given.
pub const DEFAULT_SEED: u64 = 1;
/// Injections of a run.
pub const DEFAULT_INJECTIONS: u64 = 200;
/// Injections of a `--long` run.
pub const LONG_INJECTIONS: u64 = 10_000;
/// The campaign's build-time settings (components/system/build.rs).
pub const SEED_ENV: &str = "CERNE_CAMPAIGN_SEED";
/// See [`SEED_ENV`].
pub const INJECTIONS_ENV: &str = "CERNE_CAMPAIGN_INJECTIONS";
/// Generic-timer ticks per millisecond (62.5 MHz).
pub const TICKS_PER_MS: u64 = 62_500;
/// Guest instructions per tick under `-icount shift=0` (1 ns each).
pub const INSTRUCTIONS_PER_TICK: u64 = 16;
/// The disk image a campaign boots with: `target/disk/<this>.img`, made
/// afresh for every run.
pub const DISK_NAME: &str = "reliability-campaign";
/// The campaign's `-icount`: one instruction a nanosecond while the guest
/// runs, but real time while it is idle (`sleep=on`). With `sleep=off`
/// the virtual clock jumps to the next timer deadline whenever the guest
/// waits, so a disk request that takes the host a few milliseconds (a
/// loaded host) passes as seconds of guest time, and the supervisor's
/// watchdog takes a file server waiting for its disk for a stuck one.
pub const ICOUNT_SLEEPING: &str = "shift=0,align=off,sleep=on";
/// The file that tells a campaign booted again where to start
/// (components/system/src/bin/campaign.rs).
pub const START_FILE: &str = "/campaign/start";
/// Most boots of one campaign (each after a hang).
pub const MAX_BOOTS: u64 = 64;

/// The outcomes the campaign prints.
pub const OUTCOMES: [&str; 6] = [
    "restarted",
    "stuck-restarted",
    "no-effect",
    "held",
    "skipped",
    "unknown",
];

/// What a campaign run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Campaign {
    /// The seed of every choice.
    pub seed: u64,
    /// How many injections.
    pub injections: u64,
}

impl Campaign {
    /// The bound on the run: boot, then about 0.3 s per injection under
    /// TCG where it was measured (40 in 21 s with the boot), with room for
    /// a loaded machine.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(120 + self.injections.saturating_mul(2))
    }

    /// The command that runs this campaign again.
    pub fn command(&self) -> String {
        let mut line = String::from("cargo xtask reliability");
        if self.injections == LONG_INJECTIONS {
            line.push_str(" --long");
        } else if self.injections != DEFAULT_INJECTIONS {
            line.push_str(&format!(" --injections {}", self.injections));
        }
        line.push_str(&format!(" --seed {}", self.seed));
        line
    }
}

/// One `[campaign] inj ...` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injection {
    /// Its number, from 0.
    pub k: u64,
    /// The component injected into.
    pub target: String,
    /// How (fault, panic, hang, ...).
    pub how: String,
    /// The injection's own seed.
    pub seed: u64,
    /// restarted, no-effect, held, skipped or unknown.
    pub outcome: String,
    /// Ticks from the failure to the restarted component's first heartbeat
    /// answer (0 unless restarted).
    pub recovery_ticks: u64,
    /// Workload operations during it.
    pub ops: u64,
    /// The line as printed.
    pub line: String,
}

/// Reads one `[campaign] inj` line.
pub fn parse_injection(line: &str) -> Option<Injection> {
    let rest = &line[line.find("[campaign] inj ")? + "[campaign] inj ".len()..];
    let w: Vec<&str> = rest.split_whitespace().collect();
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok();
    let (k, target, how, seed, outcome, more) = match w.as_slice() {
        [k, "target", t, "how", h, "seed", s, "outcome", o, more @ ..] => (k, t, h, s, o, more),
        _ => return None,
    };
    let (recovery_ticks, ops) = match more {
        ["recovery_ticks", r, "ops", n] => (r.parse().ok()?, n.parse().ok()?),
        [] => (0, 0),
        _ => return None,
    };
    Some(Injection {
        k: k.parse().ok()?,
        target: target.to_string(),
        how: how.to_string(),
        seed: hex(seed)?,
        outcome: outcome.to_string(),
        recovery_ticks,
        ops,
        line: line.trim().to_string(),
    })
}

/// A line that says the kernel (or supervision) failed, with the injection
/// in progress when it was printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelFailure {
    /// The line.
    pub line: String,
    /// The injection then: number, target, how (from the supervisor's
    /// `injecting` line), if any had started.
    pub during: Option<(u64, String, String)>,
}

/// Everything a campaign's console said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// `[campaign] start: seed S, N injections` (of the first boot).
    pub start: Option<(u64, u64)>,
    /// `... from injection K` of the start line (of the last boot).
    pub from: u64,
    /// Boots read.
    pub boots: u64,
    /// The injections in progress when a boot ended without its `done`
    /// line (number, target, how; `?` when unknown): hangs.
    pub hung: Vec<(u64, String, String)>,
    /// Every injection line, in order.
    pub injections: Vec<Injection>,
    /// `[campaign] inject <target>: <error>`: an injection the supervisor
    /// refused for another reason than a stopped target.
    pub refused: Vec<String>,
    /// What must read back on the disk of each boot: the last
    /// `[campaign] acked <path> <len> <crc>` of each path not followed by
    /// `[campaign] unacked <path>` (a write begun).
    pub acked: Vec<(String, u64, u32)>,
    /// `[campaign] lost <path>`.
    pub lost: Vec<String>,
    /// `[campaign] done: N injections, W operations, E errors, L lost`.
    pub done: Option<[u64; 4]>,
    /// Kernel panics, exceptions, failure halts, unhandled user faults.
    pub kernel_failures: Vec<KernelFailure>,
    /// The injection in progress when the console ended, if it never got
    /// its line (`[super] injecting` seen after the last `inj` line).
    pub unfinished: Option<(u64, String, String)>,
}

/// Reads a campaign's console.
pub fn parse(t: &Transcript) -> Parsed {
    let mut p = Parsed {
        boots: 1,
        ..Parsed::default()
    };
    let mut promised: BTreeMap<String, Option<(u64, u32)>> = BTreeMap::new();
    let mut during: Option<(u64, String, String)> = None;
    // A campaign line another component's output cut in two (the console
    // takes each component's writes whole, but not whole lines): its
    // start, joined to the next line that completes it.
    let mut cut: Option<String> = None;
    for whole in &t.console {
        let joined = cut
            .as_ref()
            .map(|start| format!("{start}{whole}"))
            .filter(|j| parse_injection(j).is_some());
        if joined.is_some() {
            cut = None;
        }
        let line = joined.as_ref().unwrap_or(whole);
        if parse_injection(line).is_none() {
            if let Some(at) = line.find("[campaign] inj ") {
                // The campaign's part ends where the other's `[name]` starts.
                let rest = &line[at + "[campaign] inj ".len()..];
                let end = rest.find('[').unwrap_or(rest.len());
                cut = Some(format!("[campaign] inj {}", &rest[..end]));
                continue;
            }
        }
        if let Some(rest) = line.split("[campaign] start: seed ").nth(1) {
            let seed = rest.split(',').next().unwrap_or("");
            let n = rest.split(", ").nth(1).and_then(|s| s.split(' ').next());
            if let (Some(seed), Some(n)) = (
                u64::from_str_radix(seed.trim_start_matches("0x"), 16).ok(),
                n.and_then(|n| n.parse().ok()),
            ) {
                p.start = Some((seed, n));
            }
            p.from = rest
                .split(" from injection ")
                .nth(1)
                .and_then(|k| k.trim().parse().ok())
                .unwrap_or(0);
        } else if let Some(inj) = parse_injection(line) {
            p.injections.push(inj);
            during = None;
        } else if let Some(rest) = line.split("[super] injecting ").nth(1) {
            // The campaign's own clean restart after a no-effect injection
            // (seed 0) belongs to the injection already started.
            if during.is_none() {
                let w: Vec<&str> = rest.split_whitespace().collect();
                if let [how, "into", target, ..] = w.as_slice() {
                    let next = p.injections.last().map_or(p.from, |i| i.k + 1);
                    during = Some((
                        next,
                        target.to_string(),
                        how.to_string(),
                    ));
                }
            }
        } else if line.contains("[campaign] inject ") {
            p.refused.push(line.trim().to_string());
            during = None;
        } else if let Some(rest) = line.split("[campaign] acked ").nth(1) {
            let w: Vec<&str> = rest.split_whitespace().collect();
            if let [path, len, crc] = w.as_slice() {
                if let (Ok(len), Ok(crc)) = (
                    len.parse(),
                    u32::from_str_radix(crc.trim_start_matches("0x"), 16),
                ) {
                    promised.insert(path.to_string(), Some((len, crc)));
                }
            }
        } else if let Some(rest) = line.split("[campaign] unacked ").nth(1) {
            promised.insert(rest.trim().to_string(), None);
        } else if let Some(rest) = line.split("[campaign] lost ").nth(1) {
            p.lost.push(rest.trim().to_string());
        } else if let Some(n) = crate::expect::match_numbers(
            line,
            "[campaign] done: {} injections, {} workload operations, {} errors recovered, {} acknowledged files lost",
        ) {
            if let [a, b, c, d] = n[..] {
                p.done = Some([a, b, c, d]);
            }
        }
        if FAILURE_MARKERS.iter().any(|m| line.contains(m)) || line.contains(USER_FAULT_PREFIX) {
            p.kernel_failures.push(KernelFailure {
                line: line.trim().to_string(),
                during: during.clone(),
            });
        }
    }
    p.acked = promised
        .into_iter()
        .filter_map(|(path, v)| v.map(|(len, crc)| (path, len, crc)))
        .collect();
    if p.done.is_none() {
        let next = p.injections.last().map_or(p.from, |i| i.k + 1);
        p.hung
            .push(during.clone().unwrap_or((next, "?".into(), "?".into())));
    }
    p.unfinished = during;
    p
}

impl Parsed {
    /// Adds the transcript of the next boot of the same campaign.
    pub fn absorb(&mut self, boot: Parsed) {
        if self.boots == 0 {
            *self = boot;
            return;
        }
        let earlier_lost = self.lost.len() as u64;
        self.boots += boot.boots;
        self.from = boot.from;
        self.hung.extend(boot.hung);
        self.injections.extend(boot.injections);
        self.refused.extend(boot.refused);
        self.acked.extend(boot.acked);
        self.lost.extend(boot.lost);
        self.kernel_failures.extend(boot.kernel_failures);
        self.done = boot
            .done
            .map(|[n, ops, errors, lost]| [n, ops, errors, lost + earlier_lost]);
        self.unfinished = boot.unfinished;
    }

    /// Where the next boot starts after this one hung: the injection after
    /// the one that hung.
    pub fn resume_at(&self) -> Option<u64> {
        self.hung.last().map(|h| h.0 + 1)
    }
}

/// The figures of one group of injections (one way of failing, one
/// target, or all).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// Injections (every line, skipped ones too).
    pub injections: u64,
    /// Kernel failures while one of these was in progress.
    pub kernel_failures: u64,
    /// Outcome `unknown`, or in progress when the run ended.
    pub hangs: u64,
    /// Outcome `restarted` or `stuck-restarted`.
    pub restarted: u64,
    /// Outcome `stuck-restarted`: the target stopped serving though it
    /// answered heartbeats; the injection's watchdog found it, and it was
    /// restarted.
    pub stuck: u64,
    /// Outcome `no-effect`.
    pub no_effect: u64,
    /// Outcome `held`.
    pub held: u64,
    /// Outcome `skipped` (the target was held or restarting).
    pub skipped: u64,
    /// Recovery times of the restarts, in ticks, sorted.
    pub recovery_ticks: Vec<u64>,
    /// Workload operations.
    pub ops: u64,
}

impl Figures {
    fn add(&mut self, inj: &Injection) {
        self.injections += 1;
        self.ops += inj.ops;
        match inj.outcome.as_str() {
            "restarted" => {
                self.restarted += 1;
                self.recovery_ticks.push(inj.recovery_ticks);
            }
            "stuck-restarted" => {
                self.restarted += 1;
                self.stuck += 1;
                self.recovery_ticks.push(inj.recovery_ticks);
            }
            "no-effect" => self.no_effect += 1,
            "held" => self.held += 1,
            "skipped" => self.skipped += 1,
            _ => self.hangs += 1,
        }
    }

    fn sort(&mut self) {
        self.recovery_ticks.sort_unstable();
    }

    /// The median recovery, in ticks (nearest rank).
    pub fn median_ticks(&self) -> Option<u64> {
        percentile(&self.recovery_ticks, 50)
    }

    /// The 99th percentile recovery, in ticks (nearest rank).
    pub fn p99_ticks(&self) -> Option<u64> {
        percentile(&self.recovery_ticks, 99)
    }
}

/// The `pct`th percentile of sorted `v` by nearest rank.
pub fn percentile(v: &[u64], pct: u64) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    let rank = (v.len() as u64 * pct).div_ceil(100).max(1) as usize;
    v.get(rank - 1).copied()
}

/// A campaign's verdict and figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// The campaign.
    pub seed: u64,
    /// Injections asked for.
    pub asked: u64,
    /// What the console said.
    pub parsed: Parsed,
    /// Per way of failing.
    pub by_how: BTreeMap<String, Figures>,
    /// Per target.
    pub by_target: BTreeMap<String, Figures>,
    /// All injections.
    pub total: Figures,
    /// Acknowledged files the host found otherwise on the image.
    pub host_lost: Vec<String>,
    /// The host's FAT check, when it failed.
    pub fat: Option<String>,
    /// How the run ended, when not with the campaign's halt.
    pub run_problem: Option<String>,
    /// Wall-clock seconds of the run.
    pub seconds: f64,
}

impl Report {
    /// Builds the figures from the console and the host's findings.
    pub fn new(campaign: &Campaign, parsed: Parsed) -> Report {
        let mut r = Report {
            seed: campaign.seed,
            asked: campaign.injections,
            ..Report::default()
        };
        for inj in &parsed.injections {
            r.by_how.entry(inj.how.clone()).or_default().add(inj);
            r.by_target.entry(inj.target.clone()).or_default().add(inj);
            r.total.add(inj);
        }
        for f in &parsed.kernel_failures {
            r.total.kernel_failures += 1;
            if let Some((_, target, how)) = &f.during {
                r.by_how.entry(how.clone()).or_default().kernel_failures += 1;
                r.by_target
                    .entry(target.clone())
                    .or_default()
                    .kernel_failures += 1;
            }
        }
        for (_, target, how) in &parsed.hung {
            // A boot that never finished: the injection in progress hung it.
            r.total.hangs += 1;
            if how != "?" {
                r.by_how.entry(how.clone()).or_default().hangs += 1;
                r.by_target.entry(target.clone()).or_default().hangs += 1;
            }
        }
        for f in r
            .by_how
            .values_mut()
            .chain(r.by_target.values_mut())
            .chain([&mut r.total])
        {
            f.sort();
        }
        r.parsed = parsed;
        r
    }

    /// Acknowledged files lost: the guest's `lost` lines and the host's
    /// mismatches.
    pub fn data_lost(&self) -> u64 {
        (self.parsed.lost.len() + self.host_lost.len()) as u64
    }

    /// Injection numbers with no line, or with more than one.
    pub fn unaccounted(&self) -> Vec<u64> {
        let mut seen = vec![0u32; self.asked as usize];
        let mut bad = Vec::new();
        let hung = self.parsed.hung.iter().map(|h| h.0);
        for k in self.parsed.injections.iter().map(|i| i.k).chain(hung) {
            match seen.get_mut(k as usize) {
                Some(n) => *n += 1,
                None => bad.push(k),
            }
        }
        bad.extend(
            seen.iter()
                .enumerate()
                .filter(|(_, n)| **n != 1)
                .map(|(k, _)| k as u64),
        );
        bad.sort_unstable();
        bad.dedup();
        bad
    }

    /// Everything that must be zero and is not, each with the lines that
    /// show it; empty for a good run.
    pub fn problems(&self, campaign: &Campaign) -> Vec<String> {
        let mut out = Vec::new();
        let again = campaign.command();
        if let Some(why) = &self.run_problem {
            out.push(format!("the run: {why}"));
        }
        match self.parsed.start {
            Some((seed, n)) if seed == campaign.seed && n == campaign.injections => {}
            other => out.push(format!(
                "the campaign should start with seed {:#x} and {} injections; its start line said {other:?} (was it built with {SEED_ENV} and {INJECTIONS_ENV}?)",
                campaign.seed, campaign.injections
            )),
        }
        for f in &self.parsed.kernel_failures {
            let during = match &f.during {
                Some((k, target, how)) => format!("during injection {k} ({how} into {target})"),
                None => "outside any injection".into(),
            };
            out.push(format!(
                "kernel failure {during}: `{}`; reproduce: {again}",
                f.line
            ));
        }
        for inj in &self.parsed.injections {
            if !OUTCOMES[..5].contains(&inj.outcome.as_str()) {
                out.push(format!(
                    "injection {} did not recover: `{}`; reproduce: {again}",
                    inj.k, inj.line
                ));
            }
        }
        for (k, target, how) in &self.parsed.hung {
            out.push(format!(
                "injection {k} ({how} into {target}) hung the workload: its boot had no `[campaign] done` line; reproduce: {again}"
            ));
        }
        if self.parsed.done.is_none() && self.parsed.hung.is_empty() {
            out.push(format!(
                "no `[campaign] done` line: the run ended early; reproduce: {again}"
            ));
        }
        for line in &self.parsed.refused {
            out.push(format!(
                "an injection the supervisor refused: `{line}`; reproduce: {again}"
            ));
        }
        let unaccounted = self.unaccounted();
        if !unaccounted.is_empty() {
            out.push(format!(
                "{} injections not accounted for (no line, or more than one): {:?}{}",
                unaccounted.len(),
                &unaccounted[..unaccounted.len().min(20)],
                if unaccounted.len() > 20 { " ..." } else { "" }
            ));
        }
        if let Some([n, _, _, lost]) = self.parsed.done {
            if n != campaign.injections {
                out.push(format!(
                    "the campaign made {n} injections, {} were asked for",
                    campaign.injections
                ));
            }
            if lost as usize != self.parsed.lost.len() {
                out.push(format!(
                    "the campaign counted {lost} acknowledged files lost but named {}",
                    self.parsed.lost.len()
                ));
            }
        }
        for path in &self.parsed.lost {
            out.push(format!(
                "acknowledged data lost (read back wrong in the guest): {path}; reproduce: {again}"
            ));
        }
        for what in &self.host_lost {
            out.push(format!(
                "acknowledged data lost (on the host's image): {what}; reproduce: {again}"
            ));
        }
        if let Some(fat) = &self.fat {
            out.push(format!("the host's FAT check: {fat}"));
        }
        out
    }

    /// The table of figures, per way of failing and per target.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let header =
            format!(
            "{:<15} {:>6} {:>7} {:>6} {:>6} {:>9} {:>9} {:>5} {:>7} {:>12} {:>12} {:>9} {:>9} {:>7}\n",
            "", "inj", "kernel", "hangs", "stuck", "restarted", "no-effect", "held", "skipped",
            "median ins", "p99 ins", "median ms", "p99 ms", "ops"
        );
        let row = |name: &str, f: &Figures| {
            let ins = |t: Option<u64>| {
                t.map(|t| (t * INSTRUCTIONS_PER_TICK).to_string())
                    .unwrap_or_else(|| "-".into())
            };
            let ms = |t: Option<u64>| {
                t.map(|t| format!("{:.3}", t as f64 / TICKS_PER_MS as f64))
                    .unwrap_or_else(|| "-".into())
            };
            format!(
                "{:<15} {:>6} {:>7} {:>6} {:>6} {:>9} {:>9} {:>5} {:>7} {:>12} {:>12} {:>9} {:>9} {:>7}\n",
                name,
                f.injections,
                f.kernel_failures,
                f.hangs,
                f.stuck,
                f.restarted,
                f.no_effect,
                f.held,
                f.skipped,
                ins(f.median_ticks()),
                ins(f.p99_ticks()),
                ms(f.median_ticks()),
                ms(f.p99_ticks()),
                f.ops
            )
        };
        out.push_str("per way of failing:\n");
        out.push_str(&header);
        for (how, f) in &self.by_how {
            out.push_str(&row(how, f));
        }
        out.push_str("per target:\n");
        out.push_str(&header);
        for (target, f) in &self.by_target {
            out.push_str(&row(target, f));
        }
        out.push_str(&row("all", &self.total));
        let errors = self.parsed.done.map(|d| d[2]).unwrap_or(0);
        out.push_str(&format!(
            "boots: {} ({} hung); acknowledged files: {} at the end of the boots, checked on the host; acknowledged data lost: {}; errors the workload recovered from: {errors}; FAT check: {}\n",
            self.parsed.boots,
            self.parsed.hung.len(),
            self.parsed.acked.len(),
            self.data_lost(),
            if self.fat.is_some() { "FAILED" } else { "clean" }
        ));
        out.push_str("(kernel: kernel panics, kernel exceptions, failure halts and unhandled user faults during the injection; recovery: from the failure to the restarted component's first heartbeat answer, guest instructions under -icount shift=0)\n");
        out
    }

    /// The figures as JSON.
    pub fn json(&self) -> String {
        let figures = |f: &Figures| {
            let opt = |t: Option<u64>, scale: u64| {
                t.map(|t| (t * scale).to_string())
                    .unwrap_or_else(|| "null".into())
            };
            let ms = |t: Option<u64>| {
                t.map(|t| format!("{:.3}", t as f64 / TICKS_PER_MS as f64))
                    .unwrap_or_else(|| "null".into())
            };
            format!(
                "{{\"injections\": {}, \"kernel_failures\": {}, \"hangs\": {}, \"stuck\": {}, \"restarted\": {}, \"no_effect\": {}, \"held\": {}, \"skipped\": {}, \"recovery_median_instructions\": {}, \"recovery_p99_instructions\": {}, \"recovery_median_ms\": {}, \"recovery_p99_ms\": {}, \"ops\": {}}}",
                f.injections,
                f.kernel_failures,
                f.hangs,
                f.stuck,
                f.restarted,
                f.no_effect,
                f.held,
                f.skipped,
                opt(f.median_ticks(), INSTRUCTIONS_PER_TICK),
                opt(f.p99_ticks(), INSTRUCTIONS_PER_TICK),
                ms(f.median_ticks()),
                ms(f.p99_ticks()),
                f.ops
            )
        };
        let group = |m: &BTreeMap<String, Figures>| {
            m.iter()
                .map(|(k, f)| format!("    \"{k}\": {}", figures(f)))
                .collect::<Vec<_>>()
                .join(",\n")
        };
        let done = self.parsed.done.unwrap_or_default();
        format!(
            "{{\n  \"seed\": {},\n  \"injections_asked\": {},\n  \"unit\": \"recovery in guest instructions under qemu -icount shift=0 (16 per 62.5 MHz timer tick) and guest ms\",\n  \"total\": {},\n  \"by_how\": {{\n{}\n  }},\n  \"by_target\": {{\n{}\n  }},\n  \"boots\": {},\n  \"workload_operations\": {},\n  \"errors_recovered\": {},\n  \"acknowledged_files\": {},\n  \"acknowledged_data_lost\": {},\n  \"unaccounted\": {},\n  \"fat_clean\": {},\n  \"finished\": {},\n  \"wall_seconds\": {:.1}\n}}\n",
            self.seed,
            self.asked,
            figures(&self.total),
            group(&self.by_how),
            group(&self.by_target),
            self.parsed.boots,
            self.total.ops,
            done[2],
            self.parsed.acked.len(),
            self.data_lost(),
            self.unaccounted().len(),
            self.fat.is_none(),
            self.parsed.done.is_some(),
            self.seconds
        )
    }
}

/// Builds the reliability system with the campaign's seed and size.
pub fn build(campaign: &Campaign) -> Result<Image> {
    let system = systems::find(SYSTEM)?;
    crate::sysimage::set_program_env(vec![
        (SEED_ENV.to_owned(), campaign.seed.to_string()),
        (INJECTIONS_ENV.to_owned(), campaign.injections.to_string()),
    ]);
    let built = image::build(system);
    crate::sysimage::set_program_env(Vec::new());
    built
}

/// The host's side of one boot: every file `acked` promises, with its
/// length and CRC-32, on the image (each difference is data lost), and
/// the FAT check. Returns the differences and the check's failure.
pub fn check_disk(disk: &Path, acked: &[(String, u64, u32)]) -> (Vec<String>, Option<String>) {
    let mut lost = Vec::new();
    let mut fat = None;
    match crate::disk::list_image(disk) {
        Ok(entries) => {
            let have: BTreeMap<&str, &crate::disk::ImageEntry> =
                entries.iter().map(|e| (e.path.as_str(), e)).collect();
            for (path, len, crc) in acked {
                match have.get(path.as_str()) {
                    Some(e) if e.size == *len && e.crc32 == Some(*crc) => {}
                    Some(e) => lost.push(format!(
                        "{path}: {} bytes crc32 {:#010x} on the image, acknowledged {len} bytes crc32 {crc:#010x}",
                        e.size,
                        e.crc32.unwrap_or(0)
                    )),
                    None => lost.push(format!("{path}: not on the image ({len} bytes acknowledged)")),
                }
            }
        }
        Err(e) => {
            for (path, _, _) in acked {
                lost.push(format!("{path}: the image cannot be listed"));
            }
            fat = Some(e.0);
        }
    }
    if fat.is_none() {
        if let Err(e) = crate::disk::check_image(disk) {
            fat = Some(e.0);
        }
    }
    (lost, fat)
}

/// Builds and boots `campaign` under icount, bounded by its timeout, and
/// reads the result; the console goes to `log`.
pub fn run(campaign: &Campaign, log: &Path, echo: bool) -> Result<(Report, Run)> {
    let image = build(campaign)?;
    run_image(campaign, &image, log, echo)
}

/// The console of boot `boot` (from 1): `log`, then `<log>.boot2.log`, ...
pub fn boot_log(log: &Path, boot: u64) -> PathBuf {
    if boot <= 1 {
        log.to_path_buf()
    } else {
        log.with_extension(format!("boot{boot}.log"))
    }
}

/// Boots an image already built for `campaign` (see [`run`]), on a fresh
/// disk each boot: again after each boot that hangs, from the injection
/// after the one that hung, until every injection is made or the time is
/// up. Returns the figures of all boots and the last boot's run.
pub fn run_image(
    campaign: &Campaign,
    image: &Image,
    log: &Path,
    echo: bool,
) -> Result<(Report, Run)> {
    let started = std::time::Instant::now();
    let budget = campaign.timeout();
    // A private copy: a build of the same system during a long campaign
    // (with other settings) must not change what its later boots run.
    let private = image.path.with_file_name(format!("{DISK_NAME}.elf"));
    std::fs::copy(&image.path, &private).context(|| {
        format!(
            "cannot copy {} to {}",
            image.path.display(),
            private.display()
        )
    })?;
    let mut all = Parsed::default();
    let mut host_lost = Vec::new();
    let mut fat = None;
    let mut run_problem = None;
    let mut from = 0;
    let mut boot = 1;
    // Consoles of an earlier campaign's later boots would be taken for
    // this one's.
    for n in 2..=MAX_BOOTS {
        let _ = std::fs::remove_file(boot_log(log, n));
    }
    let last = loop {
        let start_file = format!("{from}\n").into_bytes();
        let extra: Vec<(String, Vec<u8>)> = if from > 0 {
            vec![(START_FILE.to_owned(), start_file)]
        } else {
            Vec::new()
        };
        let (disk, _) = crate::disk::fresh_image_with(DISK_NAME, "default", &extra)?;
        let timeout = budget.saturating_sub(started.elapsed());
        let log = boot_log(log, boot);
        eprintln!(
            "[xtask] campaign: seed {}, {} injections from injection {from} (boot {boot}), under icount on a fresh {} (bound {} s; console: {})",
            campaign.seed,
            campaign.injections,
            disk.display(),
            timeout.as_secs(),
            log.display()
        );
        let run = boot_once(campaign, &private, &disk, &log, timeout, echo, started)?;
        let parsed = parse(&run.transcript);
        let (lost, bad_fat) = check_disk(&disk, &parsed.acked);
        host_lost.extend(lost.into_iter().map(|l| format!("boot {boot}: {l}")));
        if fat.is_none() {
            fat = bad_fat.map(|f| format!("boot {boot}: {f}"));
        }
        if parsed.from != from {
            run_problem = Some(format!(
                "boot {boot} was to start from injection {from}, its start line said {}",
                parsed.from
            ));
        }
        let finished = parsed.done.is_some();
        let resume = parsed.resume_at();
        if let Some((k, target, how)) = parsed.hung.last() {
            eprintln!(
                "[xtask] campaign: injection {k} ({how} into {target}) hung boot {boot}: {}",
                run.outcome.describe()
            );
        }
        all.absorb(parsed);
        match &run.outcome {
            Outcome::Halted | Outcome::Stopped => {}
            Outcome::StillRunning => {
                run_problem.get_or_insert(format!(
                    "no halt within {} s (a hung guest)",
                    budget.as_secs()
                ));
            }
            other => {
                run_problem.get_or_insert(other.describe());
            }
        }
        match resume {
            Some(next)
                if !finished
                    && next < campaign.injections
                    && run.outcome == Outcome::Stopped
                    && boot < MAX_BOOTS =>
            {
                from = next;
                boot += 1;
            }
            _ => break run,
        }
    };
    let mut report = Report::new(campaign, all);
    report.seconds = started.elapsed().as_secs_f64();
    report.host_lost = host_lost;
    report.fat = fat;
    report.run_problem = run_problem;
    Ok((report, last))
}

/// One boot of the campaign on `disk`; stops at the supervisor's
/// REQUEST_LOST_MARK (that boot's workload can never go on).
fn boot_once(
    campaign: &Campaign,
    image: &Path,
    disk: &Path,
    log: &Path,
    timeout: Duration,
    echo: bool,
    started: std::time::Instant,
) -> Result<Run> {
    // Progress on stderr: every tenth of the injections, and every line
    // that must not be there, as it comes (a long run is hours).
    let step = (campaign.injections / 10).max(1);
    let progress = |line: &str| {
        if let Some(inj) = parse_injection(line) {
            if (inj.k + 1) % step == 0 {
                eprintln!(
                    "[xtask] campaign: {} of {} injections done ({:.0} s)",
                    inj.k + 1,
                    campaign.injections,
                    started.elapsed().as_secs_f64()
                );
            }
        } else if FAILURE_MARKERS.iter().any(|m| line.contains(m))
            || line.contains(USER_FAULT_PREFIX)
            || line.contains("[campaign] lost ")
            || line.contains(REQUEST_LOST_MARK)
        {
            eprintln!("[xtask] campaign: {}", line.trim());
        }
        line.contains(REQUEST_LOST_MARK)
    };
    runner::run(
        image,
        &Options {
            machine: Machine {
                disk: Some(disk.to_path_buf()),
                extra: vec!["-icount".into(), ICOUNT_SLEEPING.into()],
                ..Machine::default()
            },
            timeout: Some(timeout),
            interactive: false,
            echo,
            log: Some(log.to_path_buf()),
            stop_when: Some(&progress),
            input: None,
        },
    )
}

/// Where the figures go as JSON.
pub fn json_path() -> PathBuf {
    cargo::target_dir().join("bench").join("reliability.json")
}

/// Writes the figures as JSON.
pub fn write_json(report: &Report) -> Result<PathBuf> {
    let path = json_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&path, report.json()).context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// `cargo xtask reliability`: true when every must-be-zero figure is 0.
pub fn command(campaign: &Campaign) -> Result<bool> {
    crate::setup::ensure_qemu()?;
    let log = image::images_dir().join("reliability.log");
    let (report, run) = run(campaign, &log, false)?;
    println!(
        "== reliability: seed {}, {} injections into blk, fs, pong ({:.1} s)",
        campaign.seed, campaign.injections, report.seconds
    );
    print!("{}", report.table());
    let path = write_json(&report)?;
    println!("figures as JSON: {}", path.display());
    let problems = report.problems(campaign);
    if problems.is_empty() {
        println!("every must-be-zero figure is 0");
        Ok(true)
    } else {
        println!("\nFAILED:\n  - {}", problems.join("\n  - "));
        println!(
            "--- console: {}; last lines:\n{}",
            log.display(),
            run.transcript.tail(20)
        );
        println!(
            "{} problems; reproduce the run: {}",
            problems.len(),
            campaign.command()
        );
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcript(lines: &[&str]) -> Transcript {
        Transcript {
            console: lines.iter().map(|s| s.to_string()).collect(),
            stderr: vec![],
        }
    }

    const GOOD: [&str; 11] = [
        "[campaign] start: seed 0x7, 3 injections into [\"blk\", \"fs\", \"pong\"]",
        "[super] injecting flip-text into blk (seed 0xe6, at 0x4059c0)",
        "[super] injecting fault into blk (seed 0x0, at 0x10)",
        "[campaign] inj 0 target blk how flip-text seed 0xe6 outcome no-effect recovery_ticks 0 ops 2",
        "[super] injecting hang into fs (seed 0x22, at 0x40b9ac)",
        "[campaign] inj 1 target fs how hang seed 0x22 outcome restarted recovery_ticks 340712 ops 2",
        "[campaign] inj 2 target pong how fault seed 0x9 outcome skipped",
        "[campaign] acked /rel/f0.bin 21000 0x0000beef",
        "[campaign] acked /rel/f1.bin 20000 0xdeadbeef",
        "[campaign] done: 3 injections, 40 workload operations, 2 errors recovered, 0 acknowledged files lost",
        "[cerne] system halted: success",
    ];

    #[test]
    fn a_good_run_parses_and_passes() {
        let c = Campaign {
            seed: 7,
            injections: 3,
        };
        let p = parse(&transcript(&GOOD));
        assert_eq!(p.start, Some((7, 3)));
        assert_eq!(p.injections.len(), 3);
        assert_eq!(p.injections[2].outcome, "skipped");
        assert_eq!(p.acked[1], ("/rel/f1.bin".into(), 20000, 0xdead_beef));
        assert_eq!(p.done, Some([3, 40, 2, 0]));
        let r = Report::new(&c, p);
        assert_eq!(r.total.restarted, 1);
        assert_eq!(r.by_how["hang"].median_ticks(), Some(340712));
        assert_eq!(r.by_target["blk"].no_effect, 1);
        assert!(r.problems(&c).is_empty(), "{:?}", r.problems(&c));
        let json = r.json();
        assert!(json.contains("\"recovery_median_instructions\": 5451392"));
        assert_eq!(json.matches('{').count(), json.matches('}').count());
        assert!(r.table().contains("hang"));
    }

    #[test]
    fn failures_are_counted_and_named_with_the_command() {
        let c = Campaign {
            seed: 7,
            injections: 4,
        };
        let mut lines: Vec<&str> = GOOD[..6].to_vec();
        lines.push("[super] injecting panic into pong (seed 0x5, at 0x1)");
        lines.push("[cerne] KERNEL PANIC at kernel/src/x.rs:1");
        lines.push("[campaign] lost /rel/f2.bin");
        let mut r = Report::new(&c, parse(&transcript(&lines)));
        r.host_lost.push("/rel/f0.bin: differs".into());
        assert_eq!(r.total.kernel_failures, 1);
        assert_eq!(r.by_target["pong"].kernel_failures, 1);
        assert_eq!(r.by_how["panic"].hangs, 1, "the unfinished injection");
        assert_eq!(r.data_lost(), 2);
        assert_eq!(r.unaccounted(), vec![3], "2 hung, 3 was never made");
        let problems = r.problems(&c).join("\n");
        assert!(problems.contains("during injection 2 (panic into pong)"));
        assert!(problems.contains("reproduce: cargo xtask reliability --injections 4 --seed 7"));
        assert!(problems.contains("injection 2 (panic into pong) hung the workload"));
        assert!(problems.contains("/rel/f2.bin"));
        assert!(problems.contains("start with seed 0x7 and 4"));
    }

    #[test]
    fn a_hung_boot_is_counted_and_the_next_boot_merged() {
        let c = Campaign {
            seed: 7,
            injections: 3,
        };
        let first = parse(&transcript(&[
            "[campaign] start: seed 0x7, 3 injections into [\"blk\", \"fs\", \"pong\"] from injection 0",
            "[campaign] unacked /rel/f0.bin",
            "[campaign] acked /rel/f0.bin 100 0x00000001",
            "[campaign] inj 0 target blk how fault seed 0x1 outcome restarted recovery_ticks 10 ops 2",
            "[campaign] unacked /rel/f1.bin",
            "[campaign] acked /rel/f1.bin 200 0x00000002",
            "[campaign] unacked /rel/f1.bin",
            "[super] injecting registers into fs (seed 0x2, at 0x40a920)",
            "[super] fs: its clients got no answer for 2000 ms, 1000 ms after its restart too: a request it had taken was dropped (incarnation 3)",
        ]));
        assert_eq!(first.hung, vec![(1, "fs".into(), "registers".into())]);
        assert_eq!(first.resume_at(), Some(2));
        assert_eq!(
            first.acked,
            vec![("/rel/f0.bin".into(), 100, 1)],
            "f1 was being written again when the boot ended: nothing promised"
        );
        let second = parse(&transcript(&[
            "[campaign] start: seed 0x7, 3 injections into [\"blk\", \"fs\", \"pong\"] from injection 2",
            "[campaign] inj 2 target pong how hang seed 0x3 outcome restarted recovery_ticks 30 ops 2",
            "[campaign] acked /rel/f2.bin 300 0x00000003",
            "[campaign] done: 3 injections, 2 workload operations, 0 errors recovered, 0 acknowledged files lost",
        ]));
        assert_eq!(second.from, 2);
        assert!(second.hung.is_empty());
        let mut all = Parsed::default();
        all.absorb(first);
        all.absorb(second);
        assert_eq!(
            (all.boots, all.start, all.acked.len()),
            (2, Some((7, 3)), 2)
        );
        let r = Report::new(&c, all);
        assert_eq!((r.total.hangs, r.by_how["registers"].hangs), (1, 1));
        assert_eq!(r.total.restarted, 2);
        assert!(r.unaccounted().is_empty());
        let problems = r.problems(&c);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("injection 1 (registers into fs) hung the workload"));
        assert!(r.table().contains("boots: 2 (1 hung)"));
    }

    #[test]
    fn a_line_cut_by_other_output_is_joined() {
        let p = parse(&transcript(&[
            "[campaign] inj [fs] volume repaired after an unclean stop",
            "[fs] FAT32 volume mounted: 64 MiB",
            "24 target fs how flip-data seed 0x9 outcome no-effect recovery_ticks 0 ops 2",
        ]));
        assert_eq!(p.injections.len(), 1, "{p:?}");
        assert_eq!(
            (p.injections[0].k, p.injections[0].outcome.as_str()),
            (24, "no-effect")
        );
    }

    #[test]
    fn unknown_outcomes_are_hangs() {
        let inj = parse_injection(
            "[campaign] inj 5 target fs how hang seed 0x1 outcome unknown recovery_ticks 0 ops 3",
        )
        .unwrap();
        let mut f = Figures::default();
        f.add(&inj);
        assert_eq!((f.hangs, f.ops), (1, 3));
        assert!(parse_injection("[campaign] inj x target").is_none());
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), Some(50));
        assert_eq!(percentile(&v, 99), Some(99));
        assert_eq!(percentile(&[3], 99), Some(3));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn the_command_reproduces_the_campaign() {
        let c = |seed, injections| Campaign { seed, injections }.command();
        assert_eq!(c(1, DEFAULT_INJECTIONS), "cargo xtask reliability --seed 1");
        assert_eq!(
            c(9, LONG_INJECTIONS),
            "cargo xtask reliability --long --seed 9"
        );
        assert_eq!(c(2, 30), "cargo xtask reliability --injections 30 --seed 2");
    }
}
