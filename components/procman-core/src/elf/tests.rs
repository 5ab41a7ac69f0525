//! Every refusal, each from a small valid program with one thing wrong, and
//! the exact plan of a program laid out as a linker lays out an AArch64
//! executable.

use super::writer::{header, patch, patch_phdr, phdr, ElfSpec, SegmentSpec};
use super::writer::{PF_R, PF_W, PF_X, PT_GNU_STACK, PT_NOTE};
use super::*;
use alloc::string::ToString;
use alloc::vec;

const TEXT: u64 = 0x40_0000;
const RODATA: u64 = 0x40_1000;
const DATA: u64 = 0x40_2010;
const ENTRY: u64 = TEXT + 0x10;
/// The stack's guard page and the stack, then the IPC buffer.
const RESERVED: [Range<u64>; 2] = [0x7fff_0000..0x8000_0000, 0x8000_0000..0x8000_1000];
const LIMITS: Limits<'static> = Limits {
    user_base: 0x1000,
    user_end: 1 << 40,
    reserved: &RESERVED,
    max_bytes: 1 << 20,
};

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
        .collect()
}

/// Text (read, execute), read-only data, data and bss (read, write), and a
/// `PT_GNU_STACK`, as `ld` writes a static AArch64 program.
fn sample() -> ElfSpec {
    ElfSpec {
        entry: ENTRY,
        segments: vec![
            SegmentSpec::load(PF_R | PF_X, TEXT, 300, pattern(300, 1)),
            SegmentSpec::load(PF_R, RODATA, 100, pattern(100, 2)),
            SegmentSpec::load(PF_R | PF_W, DATA, 0x2000, pattern(50, 3)),
            SegmentSpec {
                kind: PT_GNU_STACK,
                flags: PF_R | PF_W,
                vaddr: 0,
                memsz: 0,
                bytes: vec![],
            },
        ],
    }
}

fn sample_file() -> Vec<u8> {
    sample().write().0
}

fn plan_of(spec: &ElfSpec) -> Result<LoadPlan, LoadError> {
    plan(&spec.write().0, &LIMITS)
}

fn with_segment(index: usize, change: impl FnOnce(&mut SegmentSpec)) -> ElfSpec {
    let mut spec = sample();
    change(&mut spec.segments[index]);
    spec
}

#[test]
fn plans_a_static_aarch64_program() {
    let (file, offsets) = sample().write();
    let load_plan = plan(&file, &LIMITS).unwrap();
    let read_execute = Perms {
        write: false,
        execute: true,
    };
    let read_only = Perms::default();
    let read_write = Perms {
        write: true,
        execute: false,
    };
    assert_eq!(
        load_plan,
        LoadPlan {
            entry: ENTRY,
            segments: vec![
                Segment {
                    vaddr: TEXT,
                    memsz: 300,
                    file_offset: offsets[0],
                    filesz: 300,
                    perms: read_execute
                },
                Segment {
                    vaddr: RODATA,
                    memsz: 100,
                    file_offset: offsets[1],
                    filesz: 100,
                    perms: read_only
                },
                Segment {
                    vaddr: DATA,
                    memsz: 0x2000,
                    file_offset: offsets[2],
                    filesz: 50,
                    perms: read_write
                },
            ],
        }
    );
    let at = |offset: u64, len: usize| offset as usize..offset as usize + len;
    assert_eq!(
        load_plan.pages().collect::<Vec<_>>(),
        vec![
            Page {
                vaddr: TEXT,
                perms: read_execute,
                copy: Some((0, at(offsets[0], 300)))
            },
            Page {
                vaddr: RODATA,
                perms: read_only,
                copy: Some((0, at(offsets[1], 100)))
            },
            Page {
                vaddr: 0x40_2000,
                perms: read_write,
                copy: Some((0x10, at(offsets[2], 50)))
            },
            Page {
                vaddr: 0x40_3000,
                perms: read_write,
                copy: None
            },
            Page {
                vaddr: 0x40_4000,
                perms: read_write,
                copy: None
            },
        ]
    );
    assert_eq!(load_plan.bytes(), 5 * PAGE_SIZE);
    assert_eq!(file[at(offsets[2], 50)], pattern(50, 3));
}

#[test]
fn file_bytes_spanning_pages_are_split_at_the_boundary() {
    let spec = with_segment(2, |data| {
        data.vaddr = 0x40_2ff0;
        data.bytes = pattern(0x20, 9);
    });
    let (file, offsets) = spec.write();
    let pages: Vec<Page> = plan(&file, &LIMITS).unwrap().pages().skip(2).collect();
    let start = offsets[2] as usize;
    assert_eq!(pages[0].copy, Some((0xff0, start..start + 0x10)));
    assert_eq!(pages[1].copy, Some((0, start + 0x10..start + 0x20)));
    assert_eq!(pages[2].copy, None);
}

#[test]
fn a_misaligned_buffer_is_read_the_same() {
    let file = sample_file();
    for skip in 1..=7 {
        let mut shifted = vec![0u8; skip];
        shifted.extend_from_slice(&file);
        assert_eq!(plan(&shifted[skip..], &LIMITS), plan(&file, &LIMITS));
    }
    assert!(plan(&file, &LIMITS).is_ok());
}

#[test]
fn other_program_headers_and_empty_loads_are_ignored() {
    let mut spec = sample();
    spec.segments.push(SegmentSpec {
        kind: PT_NOTE,
        flags: PF_R,
        vaddr: 0,
        memsz: 8,
        bytes: vec![1; 8],
    });
    spec.segments.push(SegmentSpec {
        kind: 0x7000_0001,
        flags: PF_R | PF_W | PF_X,
        vaddr: 0,
        memsz: 8,
        bytes: vec![],
    });
    spec.segments.push(SegmentSpec {
        kind: 0x1234_5678,
        flags: 0,
        vaddr: 1,
        memsz: 2,
        bytes: vec![],
    });
    spec.segments
        .push(SegmentSpec::load(PF_R | PF_W | PF_X, 0, 0, vec![]));
    assert_eq!(plan_of(&spec).unwrap().segments.len(), 3);
}

#[test]
fn refuses_a_file_that_is_not_elf() {
    assert_eq!(
        plan(b"#!/bin/sh\necho hello\n", &LIMITS),
        Err(LoadError::NotElf)
    );
    let mut file = sample_file();
    file[3] = b'G';
    assert_eq!(plan(&file, &LIMITS), Err(LoadError::NotElf));
    assert_eq!(plan(b"\x7fEL!", &LIMITS), Err(LoadError::NotElf));
}

#[test]
fn refuses_a_32_bit_file() {
    let mut file = sample_file();
    file[header::CLASS] = 1;
    assert_eq!(
        plan(&file, &LIMITS),
        Err(LoadError::NotSixtyFourBit { class: 1 })
    );
    assert_eq!(
        plan(&file[..header::CLASS + 1], &LIMITS),
        Err(LoadError::NotSixtyFourBit { class: 1 })
    );
}

#[test]
fn refuses_a_big_endian_file() {
    let mut file = sample_file();
    file[header::DATA] = 2;
    assert_eq!(
        plan(&file, &LIMITS),
        Err(LoadError::NotLittleEndian { data: 2 })
    );
}

#[test]
fn refuses_what_is_not_a_fixed_address_executable() {
    let mut file = sample_file();
    patch(&mut file, header::TYPE, &3u16.to_le_bytes());
    let err = plan(&file, &LIMITS).unwrap_err();
    assert_eq!(err, LoadError::NotExecutable { file_type: 3 });
    assert!(err.to_string().contains("position-independent"), "{err}");
    patch(&mut file, header::TYPE, &1u16.to_le_bytes());
    assert_eq!(
        plan(&file, &LIMITS),
        Err(LoadError::NotExecutable { file_type: 1 })
    );
}

#[test]
fn refuses_another_machine() {
    let mut file = sample_file();
    patch(&mut file, header::MACHINE, &62u16.to_le_bytes());
    let err = plan(&file, &LIMITS).unwrap_err();
    assert_eq!(err, LoadError::WrongMachine { machine: 62 });
    assert_eq!(
        err.to_string(),
        "built for another machine: e_machine is 62, expected 183 (AArch64)"
    );
    patch(&mut file, header::MACHINE, &0x1234u16.to_le_bytes());
    assert_eq!(
        plan(&file, &LIMITS),
        Err(LoadError::WrongMachine { machine: 0x1234 })
    );
}

#[test]
fn refuses_a_truncated_header() {
    let file = sample_file();
    for len in [0, 2, 4, 5, 6, 63] {
        assert_eq!(
            plan(&file[..len], &LIMITS),
            Err(LoadError::TruncatedHeader { file_len: len })
        );
    }
}

#[test]
fn refuses_truncated_program_headers() {
    let file = sample_file();
    let cut = 64 + 56 * 4 - 1;
    assert_eq!(
        plan(&file[..cut], &LIMITS),
        Err(LoadError::TruncatedProgramHeaders {
            offset: 64,
            count: 4,
            file_len: cut
        })
    );
    let mut file = sample_file();
    patch(&mut file, header::PHNUM, &u16::MAX.to_le_bytes());
    assert!(matches!(
        plan(&file, &LIMITS),
        Err(LoadError::TruncatedProgramHeaders {
            count: u16::MAX,
            ..
        })
    ));
    patch(&mut file, header::PHNUM, &4u16.to_le_bytes());
    patch(&mut file, header::PHOFF, &(u64::MAX - 7).to_le_bytes());
    assert!(matches!(
        plan(&file, &LIMITS),
        Err(LoadError::TruncatedProgramHeaders { .. })
    ));
}

#[test]
fn refuses_a_program_header_table_it_cannot_read() {
    let mut file = sample_file();
    patch(&mut file, header::PHENTSIZE, &32u16.to_le_bytes());
    assert_eq!(
        plan(&file, &LIMITS),
        Err(LoadError::BadProgramHeaderTable {
            offset: 64,
            entry_size: 32
        })
    );
    for offset in [0u64, 8, 68] {
        let mut file = sample_file();
        patch(&mut file, header::PHOFF, &offset.to_le_bytes());
        assert_eq!(
            plan(&file, &LIMITS),
            Err(LoadError::BadProgramHeaderTable {
                offset,
                entry_size: 56
            })
        );
    }
}

#[test]
fn refuses_a_segment_past_the_end_of_the_file() {
    let (file, offsets) = sample().write();
    let cut = file.len() - 1;
    assert_eq!(
        plan(&file[..cut], &LIMITS),
        Err(LoadError::TruncatedSegment {
            vaddr: DATA,
            file_offset: offsets[2],
            filesz: 50,
            file_len: cut
        })
    );
    let mut file = sample_file();
    patch_phdr(&mut file, 0, phdr::OFFSET, &(u64::MAX - 10).to_le_bytes());
    let err = plan(&file, &LIMITS).unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::TruncatedSegment {
                vaddr: TEXT,
                filesz: 300,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn refuses_a_program_without_load_segments() {
    let mut spec = sample();
    spec.segments.drain(..3);
    assert_eq!(plan_of(&spec), Err(LoadError::NoLoadSegment));
    spec.segments
        .push(SegmentSpec::load(PF_R | PF_X, TEXT, 0, vec![]));
    assert_eq!(plan_of(&spec), Err(LoadError::NoLoadSegment));
    spec.segments.clear();
    assert_eq!(plan_of(&spec), Err(LoadError::NoLoadSegment));
}

#[test]
fn refuses_more_than_16_load_segments() {
    let segments = |count: u64| ElfSpec {
        entry: TEXT,
        segments: (0..count)
            .map(|i| SegmentSpec::load(PF_R | PF_X, TEXT + i * PAGE_SIZE, 8, vec![0; 8]))
            .collect(),
    };
    assert_eq!(plan_of(&segments(16)).unwrap().segments.len(), 16);
    assert_eq!(
        plan_of(&segments(17)),
        Err(LoadError::TooManySegments { count: 17 })
    );
}

#[test]
fn refuses_more_file_bytes_than_memory() {
    let mut file = sample_file();
    patch_phdr(&mut file, 2, phdr::MEMSZ, &10u64.to_le_bytes());
    assert_eq!(
        plan(&file, &LIMITS),
        Err(LoadError::FileSizeExceedsMemSize {
            vaddr: DATA,
            filesz: 50,
            memsz: 10
        })
    );
}

#[test]
fn refuses_a_segment_outside_the_user_range() {
    let outside = |vaddr: u64, memsz: u64| {
        let spec = with_segment(2, |data| {
            data.vaddr = vaddr;
            data.memsz = memsz;
            data.bytes.clear();
        });
        assert_eq!(
            plan_of(&spec),
            Err(LoadError::OutsideUserRange {
                vaddr,
                memsz,
                user_base: 0x1000,
                user_end: 1 << 40
            }),
            "{vaddr:#x} + {memsz:#x}"
        );
    };
    outside(0, 8);
    // Its page starts below the base.
    outside(0xfff, 8);
    outside((1 << 40) - 8, 9);
    // Its bytes are inside a range that ends mid-page, but its last page
    // is not.
    let limits = Limits {
        user_end: (1 << 40) - 0x800,
        ..LIMITS
    };
    let spec = with_segment(2, |data| {
        data.vaddr = (1 << 40) - 0x2000;
        data.memsz = 0x1400;
    });
    assert!(matches!(
        plan(&spec.write().0, &limits),
        Err(LoadError::OutsideUserRange { .. })
    ));
    // vaddr + memsz overflows, and so does rounding it up to a page.
    outside(u64::MAX - 10, 100);
    outside(u64::MAX - 100, 50);
    let err = plan_of(&with_segment(2, |data| data.vaddr = 0x10)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the segment at 0x10..0x2010 is not inside the user range 0x1000..0x10000000000"
    );
    let err = LoadError::OutsideUserRange {
        vaddr: u64::MAX,
        memsz: 2,
        user_base: 0,
        user_end: 1,
    };
    assert!(
        err.to_string()
            .contains("at 0xffffffffffffffff of 0x2 bytes"),
        "{err}"
    );
}

#[test]
fn refuses_a_segment_on_a_reserved_range() {
    // Its last page is the stack's guard page, though its bytes end before.
    let spec = with_segment(2, |data| data.vaddr = 0x7fff_0000 - 0x2000 + 1);
    let err = plan_of(&spec).unwrap_err();
    assert_eq!(
        err,
        LoadError::TouchesReserved {
            vaddr: 0x7ffe_e001,
            memsz: 0x2000,
            reserved: RESERVED[0].clone()
        }
    );
    assert_eq!(
        err.to_string(),
        "the segment at 0x7ffee001..0x7fff0001 touches the reserved range 0x7fff0000..0x80000000"
    );
    let spec = with_segment(2, |data| data.vaddr = 0x8000_0ff0);
    assert!(matches!(
        plan_of(&spec),
        Err(LoadError::TouchesReserved { .. })
    ));
    // Ending on the page before the guard page is fine.
    assert!(plan_of(&with_segment(2, |data| data.vaddr = 0x7fff_0000 - 0x2000)).is_ok());
}

#[test]
fn refuses_segments_sharing_a_page() {
    // The bytes do not overlap, but the pages do.
    let spec = with_segment(1, |rodata| rodata.vaddr = TEXT + 0x200);
    let err = plan_of(&spec).unwrap_err();
    assert_eq!(
        err,
        LoadError::SharedPage {
            first: TEXT,
            second: TEXT + 0x200,
            page: TEXT
        }
    );
    assert_eq!(
        err.to_string(),
        "the segments at 0x400000 and 0x400200 share the page at 0x400000, \
         which can have only one set of permissions"
    );
    // Listed out of order, and overlapping in bytes.
    let spec = with_segment(0, |text| text.vaddr = DATA + 0x1800);
    let err = plan_of(&spec).unwrap_err();
    assert_eq!(
        err,
        LoadError::SharedPage {
            first: DATA,
            second: DATA + 0x1800,
            page: 0x40_3000
        }
    );
}

#[test]
fn refuses_a_writable_executable_segment() {
    let spec = with_segment(0, |text| text.flags = PF_R | PF_W | PF_X);
    assert_eq!(
        plan_of(&spec),
        Err(LoadError::WritableAndExecutable { vaddr: TEXT })
    );
}

#[test]
fn refuses_an_entry_point_outside_executable_segments() {
    for entry in [0, RODATA, TEXT + 300, DATA] {
        let mut spec = sample();
        spec.entry = entry;
        let err = plan_of(&spec).unwrap_err();
        assert_eq!(err, LoadError::EntryNotExecutable { entry });
        assert!(err.to_string().contains(&alloc::format!("{entry:#x}")));
    }
    let mut spec = sample();
    spec.entry = TEXT + 299;
    assert!(plan_of(&spec).is_ok());
}

#[test]
fn refuses_a_program_over_budget() {
    let file = sample_file();
    let limits = Limits {
        max_bytes: 5 * PAGE_SIZE - 1,
        ..LIMITS
    };
    let err = plan(&file, &limits).unwrap_err();
    assert_eq!(
        err,
        LoadError::TooLarge {
            bytes: 0x5000,
            max_bytes: 0x4fff
        }
    );
    assert_eq!(
        err.to_string(),
        "the program takes 0x5000 bytes of memory, more than the 0x4fff allowed"
    );
    assert!(plan(
        &file,
        &Limits {
            max_bytes: 5 * PAGE_SIZE,
            ..LIMITS
        }
    )
    .is_ok());
}

#[test]
fn every_error_has_a_message() {
    let errors = [
        LoadError::NotElf,
        LoadError::NotSixtyFourBit { class: 1 },
        LoadError::NotLittleEndian { data: 2 },
        LoadError::NotExecutable { file_type: 1 },
        LoadError::TruncatedHeader { file_len: 3 },
        LoadError::BadProgramHeaderTable {
            offset: 3,
            entry_size: 4,
        },
        LoadError::TruncatedProgramHeaders {
            offset: 64,
            count: 2,
            file_len: 100,
        },
        LoadError::NoLoadSegment,
        LoadError::TooManySegments { count: 17 },
        LoadError::FileSizeExceedsMemSize {
            vaddr: 0x1000,
            filesz: 2,
            memsz: 1,
        },
        LoadError::WritableAndExecutable { vaddr: 0x1000 },
    ];
    for err in errors {
        assert!(err.to_string().len() > 20, "{err:?}: {err}");
    }
    assert_eq!(
        LoadError::TruncatedProgramHeaders { offset: 64, count: 2, file_len: 100 }.to_string(),
        "truncated: 2 program headers at file offset 0x40 run past the end of the file (0x64 bytes)"
    );
}
