//! Properties of [`plan`]: no input makes it panic, and every plan it
//! accepts keeps the promises of the module doc. Inputs are random bytes,
//! random valid programs, and those programs with bytes flipped, cut
//! short, or header and program header fields overwritten.

use super::writer::{header, patch, patch_phdr, phdr, ElfSpec, SegmentSpec, PHDR_SIZE, PHDR_TABLE};
use super::writer::{PF_R, PF_W, PF_X, PT_GNU_STACK, PT_LOAD};
use super::*;
use alloc::format;
use alloc::string::ToString;
use alloc::vec;
use proptest::prelude::*;

/// A stack between the first two segments' regions, so that mutations
/// can move a segment onto it.
const RESERVED: [Range<u64>; 2] = [0x48_0000..0x48_2000, 0x7fff_f000..0x8000_0000];
const LIMITS: Limits<'static> = Limits {
    user_base: 0x1000,
    user_end: 0x8000_0000,
    reserved: &RESERVED,
    max_bytes: 40 * PAGE_SIZE,
};
/// Each generated segment gets a region of its own this far apart.
const REGION: u64 = 0x10_0000;
const FIRST_REGION: u64 = 0x40_0000;

fn load_segment(region: u64, first: bool) -> impl Strategy<Value = SegmentSpec> {
    let flags = if first {
        Just(PF_R | PF_X).boxed()
    } else {
        prop_oneof![Just(PF_R), Just(PF_R | PF_X), Just(PF_R | PF_W)].boxed()
    };
    (
        flags,
        0u64..16,
        0u64..PAGE_SIZE,
        1u64..0x3000,
        0usize..0x1200,
    )
        .prop_map(move |(flags, page, offset, memsz, filesz)| {
            let filesz = filesz.min(memsz as usize);
            let vaddr = FIRST_REGION + region * REGION + page * PAGE_SIZE + offset;
            let bytes = (0..filesz)
                .map(|i| (i as u8) ^ (region as u8).wrapping_mul(31))
                .collect();
            SegmentSpec::load(flags, vaddr, memsz, bytes)
        })
}

/// A valid program of 1 to 6 load segments, the first executable and
/// holding the entry point, sometimes with a `PT_GNU_STACK`.
fn valid_spec() -> impl Strategy<Value = ElfSpec> {
    (1u64..=6, any::<bool>(), any::<u64>()).prop_flat_map(|(count, stack, entry_seed)| {
        let segments: Vec<_> = (0..count)
            .map(|region| load_segment(region, region == 0))
            .collect();
        segments.prop_map(move |mut segments| {
            let text = &segments[0];
            let entry = text.vaddr + entry_seed % text.memsz;
            if stack {
                let stack = SegmentSpec {
                    kind: PT_GNU_STACK,
                    flags: PF_R | PF_W,
                    vaddr: 0,
                    memsz: 0,
                    bytes: vec![],
                };
                segments.insert(entry_seed as usize % (segments.len() + 1), stack);
            }
            ElfSpec { entry, segments }
        })
    })
}

/// One way to damage a file.
#[derive(Clone, Debug)]
enum Mutation {
    FlipBit {
        at: usize,
        bit: u8,
    },
    Truncate {
        len: usize,
    },
    /// Overwrite a file header field (offset, width) with a value.
    Header {
        field: (usize, usize),
        value: u64,
    },
    /// Overwrite a field of a program header.
    ProgramHeader {
        index: usize,
        field: (usize, usize),
        value: u64,
    },
    /// Move a segment to start `delta` bytes after another one ends, so
    /// that pages are shared or only just not.
    MoveNextTo {
        index: usize,
        other: usize,
        delta: i64,
    },
    /// Move a segment to end `delta` bytes after a reserved range starts.
    MoveOntoReserved {
        index: usize,
        reserved: usize,
        delta: i64,
    },
}

const HEADER_FIELDS: [(usize, usize); 8] = [
    (header::CLASS, 1),
    (header::DATA, 1),
    (header::TYPE, 2),
    (header::MACHINE, 2),
    (header::ENTRY, 8),
    (header::PHOFF, 8),
    (header::PHENTSIZE, 2),
    (header::PHNUM, 2),
];

const PHDR_FIELDS: [(usize, usize); 6] = [
    (phdr::TYPE, 4),
    (phdr::FLAGS, 4),
    (phdr::OFFSET, 8),
    (phdr::VADDR, 8),
    (phdr::FILESZ, 8),
    (phdr::MEMSZ, 8),
];

/// Values that sit on the edges the checks care about, and random ones.
fn interesting_value() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        0u64..0x40,
        Just(u64::MAX),
        (0u64..0x2000).prop_map(|k| u64::MAX - k),
        (0u64..0x3000).prop_map(|k| FIRST_REGION + k),
        (0u64..0x2000).prop_map(|k| RESERVED[0].start - 0x1000 + k),
        (0u64..0x2000).prop_map(|k| LIMITS.user_end - 0x1000 + k),
        Just(u64::from(PT_LOAD)),
        Just(u64::from(PF_R | PF_W | PF_X)),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        any::<usize>().prop_map(|len| Mutation::Truncate { len }),
        (
            proptest::sample::select(&HEADER_FIELDS[..]),
            interesting_value()
        )
            .prop_map(|(field, value)| Mutation::Header { field, value }),
        (
            0usize..8,
            proptest::sample::select(&PHDR_FIELDS[..]),
            interesting_value()
        )
            .prop_map(|(index, field, value)| Mutation::ProgramHeader {
                index,
                field,
                value
            }),
        (0usize..7, 0usize..7, -0x1800i64..0x1800).prop_map(|(index, other, delta)| {
            Mutation::MoveNextTo {
                index,
                other,
                delta,
            }
        }),
        (0usize..7, 0..RESERVED.len(), -0x1800i64..0x1800).prop_map(|(index, reserved, delta)| {
            Mutation::MoveOntoReserved {
                index,
                reserved,
                delta,
            }
        }),
    ]
}

fn mutate(file: &mut Vec<u8>, mutation: &Mutation) {
    if file.is_empty() {
        return;
    }
    let phdr_field = |file: &[u8], index: usize, field: usize| {
        let at = PHDR_TABLE + index * PHDR_SIZE + field;
        (at + 8 <= file.len()).then(|| le_u64(file, at, 8))
    };
    match *mutation {
        Mutation::MoveNextTo {
            index,
            other,
            delta,
        } => {
            let other_end = phdr_field(file, other, phdr::VADDR)
                .zip(phdr_field(file, other, phdr::MEMSZ))
                .map(|(vaddr, memsz)| vaddr.wrapping_add(memsz).wrapping_add_signed(delta));
            if let (Some(vaddr), Some(_)) = (other_end, phdr_field(file, index, phdr::VADDR)) {
                patch_phdr(file, index, phdr::VADDR, &vaddr.to_le_bytes());
            }
        }
        Mutation::MoveOntoReserved {
            index,
            reserved,
            delta,
        } => {
            if let Some(memsz) = phdr_field(file, index, phdr::MEMSZ) {
                let vaddr = RESERVED[reserved]
                    .start
                    .wrapping_sub(memsz)
                    .wrapping_add_signed(delta);
                patch_phdr(file, index, phdr::VADDR, &vaddr.to_le_bytes());
            }
        }
        Mutation::FlipBit { at, bit } => {
            let at = at % file.len();
            file[at] ^= 1 << bit;
        }
        Mutation::Truncate { len } => file.truncate(len % file.len()),
        Mutation::Header {
            field: (at, width),
            value,
        } => {
            if at + width <= file.len() {
                patch(file, at, &value.to_le_bytes()[..width]);
            }
        }
        Mutation::ProgramHeader {
            index,
            field: (at, width),
            value,
        } => {
            if PHDR_TABLE + index * PHDR_SIZE + at + width <= file.len() {
                patch_phdr(file, index, at, &value.to_le_bytes()[..width]);
            }
        }
    }
}

fn le_u64(file: &[u8], at: usize, width: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes[..width].copy_from_slice(&file[at..at + width]);
    u64::from_le_bytes(bytes)
}

/// The non-empty `PT_LOAD` segments as the file states them, read without
/// xmas-elf, for a file that `plan` accepted.
fn stated_segments(file: &[u8]) -> Vec<Segment> {
    let table = le_u64(file, header::PHOFF, 8) as usize;
    let count = le_u64(file, header::PHNUM, 2) as usize;
    let mut segments: Vec<Segment> = (0..count)
        .map(|index| table + index * PHDR_SIZE)
        .filter(|&at| le_u64(file, at + phdr::TYPE, 4) == u64::from(PT_LOAD))
        .map(|at| {
            let flags = le_u64(file, at + phdr::FLAGS, 4) as u32;
            Segment {
                vaddr: le_u64(file, at + phdr::VADDR, 8),
                memsz: le_u64(file, at + phdr::MEMSZ, 8),
                file_offset: le_u64(file, at + phdr::OFFSET, 8),
                filesz: le_u64(file, at + phdr::FILESZ, 8),
                perms: Perms {
                    write: flags & PF_W != 0,
                    execute: flags & PF_X != 0,
                },
            }
        })
        .filter(|segment| segment.memsz > 0)
        .collect();
    segments.sort_by_key(|segment| segment.vaddr);
    segments
}

/// Every promise an accepted plan makes about `file` under `limits`.
fn check_plan(file: &[u8], limits: &Limits, load_plan: &LoadPlan) -> Result<(), TestCaseError> {
    let segments = &load_plan.segments;
    prop_assert!(!segments.is_empty() && segments.len() <= MAX_LOAD_SEGMENTS);
    prop_assert_eq!(segments, &stated_segments(file));
    for segment in segments {
        let pages = segment.mapped_range();
        prop_assert!(segment.memsz > 0 && segment.filesz <= segment.memsz);
        prop_assert!(segment.file_offset + segment.filesz <= file.len() as u64);
        prop_assert!(pages.start >= limits.user_base && pages.end <= limits.user_end);
        prop_assert!(pages.start % PAGE_SIZE == 0 && pages.end % PAGE_SIZE == 0);
        prop_assert!(pages.start <= segment.vaddr && segment.vaddr + segment.memsz <= pages.end);
        for reserved in limits.reserved {
            prop_assert!(pages.end <= reserved.start || reserved.end <= pages.start);
        }
        prop_assert!(!(segment.perms.write && segment.perms.execute));
    }
    for (i, a) in segments.iter().enumerate() {
        for b in &segments[i + 1..] {
            let (a, b) = (a.mapped_range(), b.mapped_range());
            prop_assert!(
                a.end <= b.start || b.end <= a.start,
                "{:x?} and {:x?} share a page",
                a,
                b
            );
        }
    }
    prop_assert!(segments.iter().any(|s| s.perms.execute
        && s.vaddr <= load_plan.entry
        && load_plan.entry < s.vaddr + s.memsz));
    let page_count: u64 = segments
        .iter()
        .map(|s| (s.mapped_range().end - s.mapped_range().start) / PAGE_SIZE)
        .sum();
    prop_assert_eq!(load_plan.bytes(), page_count * PAGE_SIZE);
    prop_assert!(load_plan.bytes() <= limits.max_bytes);

    let pages: Vec<Page> = load_plan.pages().collect();
    prop_assert_eq!(pages.len() as u64, page_count);
    for pair in pages.windows(2) {
        prop_assert!(pair[0].vaddr < pair[1].vaddr);
    }
    for page in &pages {
        prop_assert_eq!(page.vaddr % PAGE_SIZE, 0);
        let owner = segments
            .iter()
            .find(|s| s.mapped_range().contains(&page.vaddr));
        let Some(segment) = owner else {
            return Err(TestCaseError::fail(format!(
                "page {:#x} is in no segment",
                page.vaddr
            )));
        };
        prop_assert_eq!(page.perms, segment.perms);
        let mut contents = vec![0u8; PAGE_SIZE as usize];
        if let Some((offset, range)) = &page.copy {
            prop_assert!(!range.is_empty() && range.end <= file.len());
            prop_assert!(offset + range.len() <= PAGE_SIZE as usize);
            contents[*offset..offset + range.len()].copy_from_slice(&file[range.clone()]);
        }
        let expected: Vec<u8> = (page.vaddr..page.vaddr + PAGE_SIZE)
            .map(|address| {
                if (segment.vaddr..segment.vaddr + segment.filesz).contains(&address) {
                    file[(segment.file_offset + address - segment.vaddr) as usize]
                } else {
                    0
                }
            })
            .collect();
        prop_assert!(
            contents == expected,
            "page {:#x} has the wrong bytes",
            page.vaddr
        );
    }
    Ok(())
}

/// Plans `file` from an aligned and a misaligned buffer (both must agree)
/// and checks the plan if there is one.
fn plan_and_check(file: &[u8], limits: &Limits) -> Result<Option<LoadError>, TestCaseError> {
    let result = plan(file, limits);
    let mut shifted = vec![0u8];
    shifted.extend_from_slice(file);
    prop_assert_eq!(&plan(&shifted[1..], limits), &result);
    match result {
        Ok(load_plan) => check_plan(file, limits, &load_plan).map(|()| None),
        Err(err) => {
            prop_assert!(!err.to_string().is_empty());
            Ok(Some(err))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        plan_and_check(&bytes, &LIMITS)?;
    }

    #[test]
    fn random_bytes_after_an_elf64_identity_never_panic(
        rest in proptest::collection::vec(any::<u8>(), 0..600),
        phnum in 0u16..8,
    ) {
        let mut file = vec![0x7f, b'E', b'L', b'F', 2, 1];
        file.extend_from_slice(&rest);
        if file.len() >= 64 {
            // A plausible header, so the program headers are reached.
            patch(&mut file, header::TYPE, &2u16.to_le_bytes());
            patch(&mut file, header::MACHINE, &183u16.to_le_bytes());
            patch(&mut file, header::PHOFF, &64u64.to_le_bytes());
            patch(&mut file, header::PHENTSIZE, &56u16.to_le_bytes());
            patch(&mut file, header::PHNUM, &phnum.to_le_bytes());
        }
        plan_and_check(&file, &LIMITS)?;
    }

    #[test]
    fn valid_programs_are_planned_as_written(spec in valid_spec()) {
        let (file, offsets) = spec.write();
        let load_plan = plan(&file, &LIMITS).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let expected: Vec<Segment> = spec
            .segments
            .iter()
            .zip(&offsets)
            .filter(|(s, _)| s.kind == PT_LOAD)
            .map(|(s, &file_offset)| Segment {
                vaddr: s.vaddr,
                memsz: s.memsz,
                file_offset,
                filesz: s.bytes.len() as u64,
                perms: Perms { write: s.flags & PF_W != 0, execute: s.flags & PF_X != 0 },
            })
            .collect();
        prop_assert_eq!(&load_plan.segments, &expected);
        prop_assert_eq!(load_plan.entry, spec.entry);
        plan_and_check(&file, &LIMITS)?;
    }

    #[test]
    fn mutated_programs_never_panic_and_accepted_ones_keep_the_invariants(
        spec in valid_spec(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let (mut file, _) = spec.write();
        for mutation in &mutations {
            mutate(&mut file, mutation);
        }
        plan_and_check(&file, &LIMITS)?;
    }
}
