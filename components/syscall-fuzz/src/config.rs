//! Build-time settings of a fuzzing run, in one place. Each has a default
//! and may be overridden by an environment variable at build time
//! (decimal, or hex with `0x`):
//!
//! * `CERNE_FUZZ_SYSCALLS`: system calls the victim issues (default 20,000;
//!   1,000,000 with the `long` feature);
//! * `CERNE_FUZZ_SEED`: the PRNG seed;
//! * `CERNE_FUZZ_EPOCH`: system calls per epoch (between two authority
//!   checks, after which the victim's world is rebuilt);
//! * `CERNE_FUZZ_TRACE_FROM`: print every system call from this index on
//!   (the `verbose` feature makes it 0), to reproduce a finding.

use cerne_abi::Word;

/// System calls the victim issues in all.
pub const SYSCALLS: Word = env_or(
    option_env!("CERNE_FUZZ_SYSCALLS"),
    if cfg!(feature = "long") {
        1_000_000
    } else {
        20_000
    },
);

/// The seed of the run.
pub const SEED: Word = env_or(option_env!("CERNE_FUZZ_SEED"), 0x5eed_ce4e_f022_0001);

/// System calls per epoch.
pub const EPOCH: Word = env_or(option_env!("CERNE_FUZZ_EPOCH"), 2_000);

/// Index of the first system call printed before it is issued, if any.
pub const TRACE_FROM: Option<Word> = if cfg!(feature = "verbose") {
    Some(0)
} else {
    match option_env!("CERNE_FUZZ_TRACE_FROM") {
        Some(s) => Some(parse(s)),
        None => None,
    }
};

/// Whether system call `n` is printed before it is issued.
pub fn traced(n: Word) -> bool {
    matches!(TRACE_FROM, Some(from) if n >= from)
}

/// Every this many epochs (and at the end) the whole root CNode is
/// scanned, not only its used part.
pub const FULL_SCAN_EVERY: Word = 10;

/// `value` parsed as a number, or `default` when unset.
const fn env_or(value: Option<&str>, default: Word) -> Word {
    match value {
        Some(s) => parse(s),
        None => default,
    }
}

/// Parses a decimal or `0x` hex number with optional `_` separators; a
/// malformed value stops the build.
const fn parse(s: &str) -> Word {
    let b = s.as_bytes();
    let (radix, mut i) = if b.len() > 2 && b[0] == b'0' && (b[1] == b'x' || b[1] == b'X') {
        (16, 2)
    } else {
        (10, 0)
    };
    assert!(i < b.len(), "empty number in a CERNE_FUZZ_* variable");
    let mut v: Word = 0;
    while i < b.len() {
        let c = b[i];
        i += 1;
        let d = match c {
            b'_' => continue,
            b'0'..=b'9' => (c - b'0') as Word,
            b'a'..=b'f' if radix == 16 => (c - b'a' + 10) as Word,
            b'A'..=b'F' if radix == 16 => (c - b'A' + 10) as Word,
            _ => panic!("bad digit in a CERNE_FUZZ_* variable"),
        };
        v = match v.checked_mul(radix) {
            Some(m) => match m.checked_add(d) {
                Some(a) => a,
                None => panic!("CERNE_FUZZ_* value too large"),
            },
            None => panic!("CERNE_FUZZ_* value too large"),
        };
    }
    v
}

const _: () = assert!(SYSCALLS > 0 && EPOCH > 0);
