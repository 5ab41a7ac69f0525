//! Expanding the good systems: object counts, CSpace slots, fills, vaddrs,
//! and that the spec validates and survives print -> parse.

mod common;

use capdl::model::{CapTarget, IrqTrigger, Object, ObjectKind, ObjectName, PageTableLevel};
use capdl::{Limits, Spec};
use cerne_abi::rights::CapRights;
use common::{loader, program, Seg, DATA, ENTRY, TEXT};
use sysdesc::{expand, parse, Expanded};

fn expanded(file: &str) -> Expanded {
    let sys = parse(file, &common::good(file)).expect("good system parses");
    let mut asked = Vec::new();
    let e = expand(&sys, &mut loader(&mut asked)).unwrap_or_else(|d| {
        panic!(
            "{}",
            d.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    // Each program is loaded once, in the order components first name it.
    let mut programs: Vec<&str> = Vec::new();
    for c in &sys.components {
        if !programs.contains(&c.program.as_str()) {
            programs.push(&c.program);
        }
    }
    assert_eq!(asked, programs);
    let names: Vec<&str> = e.files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, programs);
    assert!(e.files.iter().all(|(_, bytes)| *bytes == program()));
    e
}

fn obj<'a>(spec: &'a Spec, name: &str) -> &'a Object {
    let name = match name.split_once('[') {
        Some((base, i)) => ObjectName::element(base, i.trim_end_matches(']').parse().unwrap()),
        None => ObjectName::plain(name),
    };
    spec.object(&name)
        .unwrap_or_else(|| panic!("no object {name}"))
}

/// (slot, target name, rights word, badge) of every cap in `object`.
fn caps(spec: &Spec, object: &str) -> Vec<(u64, String, u64, u64)> {
    obj(spec, object)
        .slots
        .iter()
        .map(|s| {
            let target = match &s.cap.target {
                CapTarget::Object(n) => n.to_string(),
                other => format!("{other:?}"),
            };
            (s.slot, target, s.cap.rights.word(), s.cap.badge)
        })
        .collect()
}

const R: u64 = 2;
const W: u64 = 1;
const X: u64 = 4;
const P: u64 = 8;

/// Every 4 KiB mapping of `component`: vaddr -> (frame, rights, cached).
fn mappings(spec: &Spec, component: &str) -> Vec<(u64, String, u64, bool)> {
    let mut out = Vec::new();
    let pgd = obj(spec, &format!("{component}_pgd"));
    assert_eq!(pgd.slots.len(), 1);
    assert_eq!(pgd.slots[0].slot, 0);
    let pud = obj(spec, &format!("{component}_pud"));
    assert_eq!(pud.slots.len(), 1);
    let pd = obj(spec, &format!("{component}_pd"));
    for pd_slot in &pd.slots {
        let CapTarget::Object(pt_name) = &pd_slot.cap.target else {
            panic!()
        };
        assert_eq!(
            pt_name.to_string(),
            format!("{component}_pt_{:x}", pd_slot.slot)
        );
        let pt = spec.object(pt_name).unwrap();
        assert_eq!(
            pt.kind,
            ObjectKind::PageTable {
                level: PageTableLevel::Pt
            }
        );
        for s in &pt.slots {
            let CapTarget::Object(frame) = &s.cap.target else {
                panic!()
            };
            out.push((
                pd_slot.slot * (2 << 20) + s.slot * 4096,
                frame.to_string(),
                s.cap.rights.word(),
                s.cap.cached,
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn example_validates_and_round_trips() {
    let e = expanded("example.toml");
    capdl::validate(&e.spec, "example.cdl", &Limits::default()).expect("validates");
    let text = capdl::print(&e.spec);
    let again = capdl::parse("printed.cdl", &text).expect("printed spec parses");
    assert_eq!(again, e.spec);
    // And through the compact form the root task reads.
    let bytes = capdl::encode(&e.spec).expect("encodes");
    assert_eq!(capdl::decode(&bytes).expect("decodes"), e.spec);
}

#[test]
fn example_object_counts() {
    let spec = expanded("example.toml").spec;
    let count = |kw: &str| {
        spec.objects
            .iter()
            .filter(|o| o.kind.keyword() == kw)
            .count()
    };
    // console 20 (tcb, cnode, pgd, pud, pd, 4 pts, 5 image + 4 stack + 1 ipc
    // frames, ntfn); echo, ping, pong 18 each (3 pts, no ntfn); 2 endpoints,
    // 1 IRQ, 1 device frame.
    assert_eq!(spec.objects.len(), 20 + 3 * 18 + 4);
    assert_eq!(count("tcb"), 4);
    assert_eq!(count("cnode"), 4);
    assert_eq!(count("pgd"), 4);
    assert_eq!(count("pud"), 4);
    assert_eq!(count("pd"), 4);
    assert_eq!(count("pt"), 4 + 3 * 3);
    assert_eq!(count("frame"), 4 * 10 + 1);
    assert_eq!(count("notification"), 1);
    assert_eq!(count("ep"), 2);
    assert_eq!(count("arm_irq"), 1);
    assert_eq!(spec.irqs.len(), 1);
    assert_eq!(spec.irqs[0].irq, 33);
    assert_eq!(spec.irqs[0].object.name, ObjectName::plain("uart_irq"));
    assert!(spec.cdt.is_empty());
}

#[test]
fn example_cspaces() {
    let spec = expanded("example.toml").spec;
    let own = |c: &str| {
        vec![
            (1, format!("{c}_tcb"), 0, 0),
            (2, format!("{c}_cnode"), 0, 0),
            (3, format!("{c}_pgd"), 0, 0),
        ]
    };
    let mut console = own("console");
    console.extend([
        (4, "console_ep".to_string(), R, 0),
        (5, "uart_irq".to_string(), 0, 0),
        (6, "uart_0".to_string(), R | W, 0),
        (7, "console_ntfn".to_string(), R, 0),
    ]);
    assert_eq!(caps(&spec, "console_cnode"), console);
    let mut echo = own("echo");
    echo.push((4, "console_ep".to_string(), W | P, 1));
    assert_eq!(caps(&spec, "echo_cnode"), echo);
    let mut ping = own("ping");
    ping.extend([
        (4, "console_ep".to_string(), W | P, 2),
        (5, "pingpong_ep".to_string(), W | P, 1),
    ]);
    assert_eq!(caps(&spec, "ping_cnode"), ping);
    let mut pong = own("pong");
    pong.push((4, "pingpong_ep".to_string(), R, 0));
    assert_eq!(caps(&spec, "pong_cnode"), pong);

    // The CNode caps: guard 0 of 64 - 8 bits, in the TCB and in slot 2.
    for c in ["console", "echo", "ping", "pong"] {
        let cnode = obj(&spec, &format!("{c}_cnode"));
        assert_eq!(cnode.kind, ObjectKind::CNode { size_bits: 8 });
        let tcb = obj(&spec, &format!("{c}_tcb"));
        for cap in [&cnode.slots[1].cap, &tcb.slots[0].cap] {
            assert_eq!((cap.guard, cap.guard_size), (0, 56));
        }
    }
    // The device frame's CNode cap is uncached too.
    assert!(!obj(&spec, "console_cnode").slots[5].cap.cached);
    // The IRQ signals bit 63 of the console's notification.
    assert_eq!(
        caps(&spec, "uart_irq"),
        vec![(0, "console_ntfn".to_string(), W, 1 << 63)]
    );
    assert_eq!(
        obj(&spec, "uart_irq").kind,
        ObjectKind::Irq {
            arm: Some(capdl::model::ArmIrq {
                trigger: IrqTrigger::Level,
                target: 0
            })
        }
    );
}

#[test]
fn example_tcbs() {
    let spec = expanded("example.toml").spec;
    for (c, prio) in [("console", 200), ("echo", 100), ("ping", 90), ("pong", 95)] {
        let tcb = obj(&spec, &format!("{c}_tcb"));
        let ObjectKind::Tcb(t) = &tcb.kind else {
            panic!()
        };
        assert_eq!(t.ip, Some(ENTRY));
        assert_eq!(t.sp, Some(0x1000_0000));
        assert_eq!(t.ipc_buffer_addr, Some(0x1000_1000));
        assert_eq!(t.prio, Some(prio));
        assert_eq!(t.max_prio, Some(prio));
        assert_eq!(t.resume, Some(true));
        assert_eq!(t.fault_ep, None);
        assert!(t.init.is_empty());
        let slots: Vec<u64> = tcb.slots.iter().map(|s| s.slot).collect();
        let names: Vec<String> = caps(&spec, &format!("{c}_tcb"))
            .into_iter()
            .map(|x| x.1)
            .collect();
        if c == "console" {
            assert_eq!(slots, vec![0, 1, 4, 8]);
            assert_eq!(names[3], "console_ntfn");
        } else {
            assert_eq!(slots, vec![0, 1, 4]);
        }
        assert_eq!(
            names[..3],
            [format!("{c}_cnode"), format!("{c}_pgd"), format!("{c}_ipc")]
        );
    }
}

#[test]
fn example_address_space_and_fills() {
    let spec = expanded("example.toml").spec;
    let m = mappings(&spec, "console");
    let expected: Vec<(u64, String, u64, bool)> = vec![
        (0x40_0000, "console_image_400".into(), R | X, true),
        (0x40_1000, "console_image_401".into(), R | W | X, true),
        (0x40_2000, "console_image_402".into(), R | W, true),
        (0x40_3000, "console_image_403".into(), R | W, true),
        (0x40_4000, "console_image_404".into(), R | W, true),
        (0x0fff_c000, "console_stack[0]".into(), R | W, true),
        (0x0fff_d000, "console_stack[1]".into(), R | W, true),
        (0x0fff_e000, "console_stack[2]".into(), R | W, true),
        (0x0fff_f000, "console_stack[3]".into(), R | W, true),
        (0x1000_1000, "console_ipc".into(), R | W, true),
        (0x3800_0000, "uart_0".into(), R | W, false),
    ];
    assert_eq!(m, expected);
    assert_eq!(mappings(&spec, "echo").len(), 10);

    let fill = |name: &str| match &obj(&spec, name).kind {
        ObjectKind::Frame(f) => f.fill.clone(),
        _ => panic!(),
    };
    let entry = |dest: u64, len: u64, off: u64| {
        vec![
            dest.to_string(),
            len.to_string(),
            "CDL_FrameFill_FileData".to_string(),
            "\"console-driver\"".to_string(),
            off.to_string(),
        ]
    };
    assert_eq!(
        fill("console_image_400"),
        vec![entry(0, 0x1000, TEXT.offset)]
    );
    // Text's last half page and the data segment share one frame.
    assert_eq!(
        fill("console_image_401"),
        vec![
            entry(0, 0x800, TEXT.offset + 0x1000),
            entry(0x800, DATA.filesz, DATA.offset)
        ]
    );
    // bss-only pages get no fill.
    for p in [
        "console_image_402",
        "console_image_403",
        "console_image_404",
    ] {
        assert!(fill(p).is_empty(), "{p}");
    }
    let echo = match &obj(&spec, "echo_image_400").kind {
        ObjectKind::Frame(f) => f.fill[0][3].clone(),
        _ => panic!(),
    };
    assert_eq!(echo, "\"echo\"");
    match &obj(&spec, "uart_0").kind {
        ObjectKind::Frame(f) => assert_eq!((f.size, f.paddr), (4096, Some(0x0900_0000))),
        _ => panic!(),
    }
    // Each of a component's own frames is mapped exactly once.
    let frames: Vec<&String> = m.iter().map(|x| &x.1).collect();
    let mut unique = frames.clone();
    unique.dedup();
    assert_eq!(frames, unique);
}

#[test]
fn full_system() {
    let e = expanded("full.toml");
    let spec = &e.spec;
    capdl::validate(spec, "full.cdl", &Limits::default()).expect("validates");
    assert_eq!(capdl::parse("p.cdl", &capdl::print(spec)).unwrap(), *spec);

    // blk: channel blk (server), notification wake bit 62 after its IRQ at 63,
    // IRQ, device (2 pages), dma, fault ep to the supervisor (badge 2), ntfn.
    assert_eq!(
        caps(spec, "blk_cnode")[3..],
        [
            (4, "blk_ep".to_string(), R, 0),
            (5, "fs_ntfn".to_string(), W, 1 << 63),
            (6, "virtio_irq".to_string(), 0, 0),
            (7, "virtio_0".to_string(), R | W, 0),
            (8, "virtio_1".to_string(), R | W, 0),
            (9, "dma[0]".to_string(), R | W, 0),
            (10, "dma[1]".to_string(), R | W, 0),
            (11, "dma[2]".to_string(), R | W, 0),
            (12, "dma[3]".to_string(), R | W, 0),
            (13, "supervisor_faults".to_string(), W | P, 2),
            (14, "blk_ntfn".to_string(), R, 0),
        ]
    );
    assert_eq!(
        caps(spec, "virtio_irq"),
        vec![(0, "blk_ntfn".to_string(), W, 1 << 63)]
    );
    // fs signals blk's "wake": bit 62 of blk's notification.
    assert!(caps(spec, "fs_cnode").contains(&(6, "blk_ntfn".to_string(), W, 1 << 62)));
    // The supervisor handles faults and maps the log read-only.
    let sup = caps(spec, "supervisor_cnode");
    assert!(sup.contains(&(4, "fs_ep".to_string(), W | P, 100)));
    assert!(sup.contains(&(5, "blk_ntfn".to_string(), W, 1 << 62)));
    assert!(sup.contains(&(6, "rtc_0".to_string(), R | W, 0)));
    assert!(sup.contains(&(7, "log[0]".to_string(), R, 0)));
    assert!(sup.contains(&(8, "supervisor_faults".to_string(), R, 0)));
    assert_eq!(sup.len(), 3 + 5);
    assert_eq!(
        obj(spec, "supervisor_cnode").kind,
        ObjectKind::CNode { size_bits: 6 }
    );
    assert_eq!(obj(spec, "supervisor_cnode").slots[1].cap.guard_size, 58);
    let ObjectKind::Tcb(t) = &obj(spec, "blk_tcb").kind else {
        panic!()
    };
    assert_eq!(t.fault_ep, Some(13));
    let ObjectKind::Tcb(t) = &obj(spec, "supervisor_tcb").kind else {
        panic!()
    };
    assert_eq!(
        (t.prio, t.max_prio, t.fault_ep),
        (Some(250), Some(254), None)
    );

    // Address spaces: heap, shared regions with guard pages, devices.
    let fs = mappings(spec, "fs");
    let at = |m: &[(u64, String, u64, bool)], v: u64| {
        m.iter().find(|x| x.0 == v).map(|x| (x.1.clone(), x.2, x.3))
    };
    assert_eq!(
        at(&fs, 0x2000_0000),
        Some(("fs_heap[0]".into(), R | W, true))
    );
    assert_eq!(
        at(&fs, 0x200f_f000),
        Some(("fs_heap[255]".into(), R | W, true))
    );
    assert_eq!(at(&fs, 0x2010_0000), None);
    assert_eq!(at(&fs, 0x3000_0000), Some(("dma[0]".into(), R | W, true)));
    assert_eq!(at(&fs, 0x3000_3000), Some(("dma[3]".into(), R | W, true)));
    assert_eq!(at(&fs, 0x3000_4000), None); // guard
    assert_eq!(at(&fs, 0x3000_5000), Some(("log[0]".into(), R | W, true)));
    let app = mappings(spec, "app");
    assert_eq!(at(&app, 0x3000_0000), Some(("log[0]".into(), R, true)));
    let blk = mappings(spec, "blk");
    assert_eq!(
        at(&blk, 0x0fff_8000),
        Some(("blk_stack[0]".into(), R | W, true))
    );
    assert_eq!(at(&blk, 0x0fff_7000), None); // guard below the stack
    assert_eq!(
        at(&blk, 0x3800_0000),
        Some(("virtio_0".into(), R | W, false))
    );
    assert_eq!(
        at(&blk, 0x3800_1000),
        Some(("virtio_1".into(), R | W, false))
    );
    assert_eq!(at(&blk, 0x3800_2000), None);
    match &obj(spec, "virtio_1").kind {
        ObjectKind::Frame(f) => assert_eq!(f.paddr, Some(0x0a00_4000)),
        _ => panic!(),
    }
    // An edge-triggered IRQ.
    assert!(matches!(
        obj(spec, "virtio_irq").kind,
        ObjectKind::Irq {
            arm: Some(capdl::model::ArmIrq {
                trigger: IrqTrigger::Edge,
                ..
            })
        }
    ));
    // Fault endpoint and shared programs: fs and app run one ELF, loaded once.
    assert_eq!(obj(spec, "supervisor_faults").kind, ObjectKind::Endpoint);
    assert_eq!(e.files.len(), 3);
    let _ = CapRights::NONE;
}

fn expand_errors(toml: &str, load: &mut dyn FnMut(&str) -> Result<Vec<u8>, String>) -> Vec<String> {
    let sys = parse("t.toml", toml).expect("parses");
    expand(&sys, load)
        .expect_err("expansion fails")
        .iter()
        .map(|d| d.to_string())
        .collect()
}

const ONE: &str =
    "[system]\nname = \"t\"\n[[component]]\nname = \"a\"\nprogram = \"p\"\npriority = 1\n";

#[test]
fn bad_programs() {
    let check = |bytes: Vec<u8>, expected: &str| {
        let got = expand_errors(ONE, &mut |_| Ok(bytes.clone()));
        assert_eq!(
            got,
            vec![format!(
                "t.toml:5:11: program 'p' of component 'a': {expected}"
            )]
        );
    };
    check(
        b"#!/bin/sh\n".to_vec(),
        "it is not an ELF file (no ELF magic number, or shorter than a header)",
    );
    check(
        common::elf_with(62, common::ET_EXEC, ENTRY, &[TEXT, DATA], 0x2900),
        "it is not an AArch64 ELF (e_machine X86_64, expected AArch64)",
    );
    check(
        common::elf_with(common::EM_AARCH64, 3, ENTRY, &[TEXT, DATA], 0x2900),
        "it is not an executable (e_type SharedObject, expected ET_EXEC)",
    );
    let mut elf32 = program();
    elf32[4] = 1;
    check(elf32, "it is not an ELF64 file (expected ELFCLASS64)");
    let mut big_endian = program();
    big_endian[5] = 2;
    check(big_endian, "it is not little-endian (expected ELFDATA2LSB)");
    check(
        common::elf_with(common::EM_AARCH64, common::ET_EXEC, ENTRY, &[TEXT, DATA], 0x2880),
        "its PT_LOAD segment at 0x401800 has file data (0x2800..+0x100) beyond the end of the file (0x2880 bytes)",
    );
    check(
        common::elf_with(
            common::EM_AARCH64,
            common::ET_EXEC,
            0x10,
            &[TEXT, DATA],
            0x2900,
        ),
        "its entry point 0x10 is in no PT_LOAD segment",
    );
    check(
        common::elf_with(common::EM_AARCH64, common::ET_EXEC, ENTRY, &[], 0x2900),
        "it has no PT_LOAD segment",
    );
    let overlap = Seg {
        vaddr: 0x40_1000,
        ..DATA
    };
    check(
        common::elf_with(
            common::EM_AARCH64,
            common::ET_EXEC,
            ENTRY,
            &[TEXT, overlap],
            0x2900,
        ),
        "its PT_LOAD segments at 0x400000 and 0x401000 overlap",
    );
    let mut table_outside = program();
    table_outside[33] = 0xff; // e_phoff far beyond the file
    check(
        table_outside,
        "its program header table is malformed or lies outside the file",
    );
    let low = Seg {
        vaddr: 0x800,
        ..TEXT
    };
    let got = expand_errors(ONE, &mut |_| {
        Ok(common::elf_with(
            common::EM_AARCH64,
            common::ET_EXEC,
            0x810,
            &[low],
            0x2900,
        ))
    });
    assert_eq!(got, vec!["t.toml:5:11: program 'p' of component 'a' has a PT_LOAD segment at 0x800..0x2000, outside 0x1000..0xfffb000 (below its 16K stack and the guard page under it)".to_string()]);
    // Truncations of a good file never panic.
    let good = program();
    for len in 0..good.len() {
        let _ = expand_errors(ONE, &mut |_| Ok(good[..len].to_vec()));
    }
}

#[test]
fn load_failures_and_clashes() {
    let got = expand_errors(ONE, &mut |name| Err(format!("no such file: {name}.elf")));
    assert_eq!(
        got,
        vec!["t.toml:5:11: program 'p' of component 'a': it cannot be loaded: no such file: p.elf"]
    );
    // An IRQ named like a component's own object.
    let clash = format!("{ONE}[[irq]]\nname = \"a_tcb\"\ncomponent = \"a\"\nirq = 40\n");
    let mut asked = Vec::new();
    let got = expand_errors(&clash, &mut loader(&mut asked));
    assert_eq!(
        got,
        vec!["t.toml:7:1: the capDL object 'a_tcb' made here has the name of 'a_tcb' (made at 3:1); rename one of the items"]
    );
    // Not enough memory.
    let small = ONE.replace("name = \"t\"", "name = \"t\"\nmemory = \"64K\"");
    let got = expand_errors(&small, &mut loader(&mut asked));
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("t.toml:3:10: the system's objects need "),
        "{}",
        got[0]
    );
    assert!(
        got[0].ends_with("of RAM, more than memory = 64K"),
        "{}",
        got[0]
    );
}

/// A process manager's description: `untyped` gives an untyped object and
/// an ASID pool in its CNode; `sessions` give it badged endpoint caps and
/// unmapped buffer frames to hand out, which the server maps and lists by
/// badge; `mint` gives the server every right on its endpoint.
#[test]
fn untyped_sessions_and_mint() {
    let text = r#"
[system]
name = "procs"
[[component]]
name = "srv"
program = "p"
priority = 1
[[component]]
name = "mgr"
program = "p"
priority = 1
untyped = "1M"
[[channel]]
name = "files"
server = "srv"
clients = ["mgr", { component = "mgr", badge = 100, sessions = 3 }]
buffer = "8K"
[[channel]]
name = "procs"
server = "mgr"
clients = ["srv", { component = "mgr", badge = 50, sessions = 2 }]
buffer = "4K"
mint = true
grant = true
"#;
    let sys = parse("procs.toml", text).unwrap();
    let mut asked = Vec::new();
    let e = expand(&sys, &mut loader(&mut asked)).unwrap_or_else(|d| panic!("{d:?}"));
    let spec = &e.spec;
    assert!(matches!(
        &obj(spec, "mgr_untyped").kind,
        ObjectKind::Untyped(u) if u.size_bits == Some(20)
    ));
    assert!(matches!(
        obj(spec, "mgr_asid_pool").kind,
        ObjectKind::AsidPool { .. }
    ));
    let mgr = caps(spec, "mgr_cnode");
    let wp = CapRights::WRITE.word() | CapRights::GRANT_REPLY.word();
    // Three session endpoints, badges 100..=102, then 3 x 2 frames (rw),
    // then the manager's own endpoint (all rights), untyped, ASID pool.
    // The manager also calls the server itself (badge 1).
    let sessions: Vec<_> = mgr.iter().filter(|c| c.1 == "files_ep").collect();
    assert_eq!(
        sessions.iter().map(|c| (c.2, c.3)).collect::<Vec<_>>(),
        vec![(wp, 1), (wp, 100), (wp, 101), (wp, 102)]
    );
    let frames: Vec<_> = mgr
        .iter()
        .filter(|c| c.1.starts_with("files_mgr_s"))
        .map(|c| (c.1.as_str(), c.2))
        .collect();
    assert_eq!(frames.len(), 6);
    assert_eq!(
        frames[0],
        ("files_mgr_s0_buf[0]", CapRights::READ_WRITE.word())
    );
    assert_eq!(frames[5].0, "files_mgr_s2_buf[1]");
    assert!(mgr
        .iter()
        .any(|c| c.1 == "procs_ep" && c.2 == CapRights::ALL.word()));
    // grant: the client's cap may transfer caps; without it, it may not.
    assert!(caps(spec, "srv_cnode")
        .iter()
        .any(|c| c.1 == "procs_ep" && c.2 == wp | CapRights::GRANT.word()));
    assert!(mgr.iter().filter(|c| c.1 == "files_ep").all(|c| c.2 == wp));
    assert!(mgr.iter().any(|c| c.1 == "mgr_untyped"));
    assert!(mgr.iter().any(|c| c.1 == "mgr_asid_pool"));
    // The manager maps none of the session buffers; the server maps all.
    assert!(mappings(spec, "mgr")
        .iter()
        .all(|m| !m.1.starts_with("files_mgr_s")));
    let srv_maps: Vec<_> = mappings(spec, "srv")
        .into_iter()
        .filter(|m| m.1.starts_with("files_mgr_s"))
        .collect();
    assert_eq!(srv_maps.len(), 6);

    let m = sysdesc::caps_module(&sys, "mgr").unwrap();
    for line in [
        "pub const FILES_SESSION_COUNT: u64 = 3;",
        "pub const FILES_SESSION_PAGES: u64 = 2;",
        "pub const FILES_FIRST_SESSION: u64 = 100;",
        "pub const UNTYPED_BITS: u64 = 20;",
        "pub const FILES_BUFFER: usize = 0x3000_0000;",
    ] {
        assert!(m.contains(line), "{line} not in\n{m}");
    }
    let s = sysdesc::caps_module(&sys, "srv").unwrap();
    assert!(
        s.contains("pub const FILES: &[(u64, usize)] = &[\n        (1, 0x3000_0000),\n        (100, 0x3000_3000),\n        (101, 0x3000_6000),\n        (102, 0x3000_9000),\n    ];"),
        "{s}"
    );
    assert!(
        s.contains("pub const FILES_MGR_SESSIONS: u64 = 100;"),
        "{s}"
    );
}
