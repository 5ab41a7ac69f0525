//! Supervision: what a supervised component and its supervisor get in the
//! expanded spec, the generated `supervised` module (golden files in
//! `good/supervised/`, `include!`d and compiled below; `SYSDESC_BLESS=1`
//! rewrites them), and the window that does not fit.

mod common;

use capdl::model::{CapTarget, ObjectKind, ObjectName, PageTableLevel};
use capdl::{Limits, Spec};
use common::{loader, program};

const FILE: &str = "supervised.toml";

fn system() -> sysdesc::System {
    sysdesc::parse(FILE, &common::good(FILE)).expect("parses")
}

fn spec() -> Spec {
    let mut asked = Vec::new();
    let mut load = loader(&mut asked);
    match sysdesc::expand(&system(), &mut load) {
        Ok(e) => e.spec,
        Err(d) => panic!("{d:?}"),
    }
}

fn name(text: &str) -> ObjectName {
    match text.split_once('[') {
        Some((base, i)) => ObjectName::element(base, i.trim_end_matches(']').parse().unwrap()),
        None => ObjectName::plain(text),
    }
}

fn obj<'a>(spec: &'a Spec, n: &str) -> &'a capdl::model::Object {
    spec.object(&name(n))
        .unwrap_or_else(|| panic!("no object {n}"))
}

/// (slot, target, rights word, badge, guard_size) of every cap of `object`.
fn caps(spec: &Spec, object: &str) -> Vec<(u64, String, u64, u64, u64)> {
    obj(spec, object)
        .slots
        .iter()
        .map(|s| {
            let CapTarget::Object(t) = &s.cap.target else {
                panic!()
            };
            (
                s.slot,
                t.to_string(),
                s.cap.rights.word(),
                s.cap.badge,
                s.cap.guard_size,
            )
        })
        .collect()
}

/// vaddr -> (frame, rights word) of every mapping of `component`.
fn mappings(spec: &Spec, component: &str) -> Vec<(u64, String, u64)> {
    let mut out = Vec::new();
    for pd_slot in &obj(spec, &format!("{component}_pd")).slots {
        let CapTarget::Object(pt) = &pd_slot.cap.target else {
            panic!()
        };
        let pt = spec.object(pt).unwrap();
        assert_eq!(
            pt.kind,
            ObjectKind::PageTable {
                level: PageTableLevel::Pt
            }
        );
        for s in &pt.slots {
            let CapTarget::Object(f) = &s.cap.target else {
                panic!()
            };
            out.push((
                pd_slot.slot * (2 << 20) + s.slot * 4096,
                f.to_string(),
                s.cap.rights.word(),
            ));
        }
    }
    out.sort();
    out
}

const R: u64 = 2;
const W: u64 = 1;
const ALL: u64 = 15;
const _: u64 = ALL;

#[test]
fn the_model_resolves_fault_handlers() {
    let sys = system();
    let fs = sys.component("fs").unwrap();
    assert_eq!(fs.fault_handler.as_deref(), Some("sup"));
    let policy = fs.restart.unwrap();
    assert_eq!(
        (
            policy.backoff_ms,
            policy.backoff_max_ms,
            policy.limit,
            policy.stable_ms,
            policy.heartbeat_ms
        ),
        (20, 2000, 3, 5000, 100)
    );
    assert_eq!(
        sys.component("app").unwrap().restart,
        Some(sysdesc::model::RestartPolicy::default())
    );
    assert!(sys.component("sup").unwrap().supervisor);
    assert_eq!(sys.component("logger").unwrap().restart, None);
    assert_eq!(sys.component("logger").unwrap().fault_handler, None);
}

#[test]
fn supervised_components_start_suspended_with_a_template() {
    let spec = spec();
    capdl::validate(&spec, FILE, &Limits::default()).expect("validates");
    let text = capdl::print(&spec);
    assert_eq!(capdl::parse("printed.cdl", &text).expect("parses"), spec);
    let resume = |c: &str| match &obj(&spec, &format!("{c}_tcb")).kind {
        ObjectKind::Tcb(t) => t.resume,
        _ => panic!(),
    };
    assert_eq!(resume("fs"), Some(false));
    assert_eq!(resume("app"), Some(false));
    assert_eq!(resume("sup"), Some(true));
    assert_eq!(resume("logger"), Some(true));
    for c in ["fs", "app"] {
        assert_eq!(
            caps(&spec, &format!("{c}_template")),
            caps(&spec, &format!("{c}_cnode"))
        );
        assert_eq!(
            obj(&spec, &format!("{c}_template")).kind,
            obj(&spec, &format!("{c}_cnode")).kind
        );
    }
    assert!(spec.object(&name("logger_template")).is_none());
}

#[test]
fn heartbeat_and_alive_bits() {
    let spec = spec();
    // fs: its notification `tick` is bit 63, its heartbeat 62; it answers
    // on sup's bit 62 (sup's IRQ has 63); app's heartbeat is bit 63 and it
    // answers on bit 61.
    let fs = caps(&spec, "fs_cnode");
    assert_eq!(
        fs[3..],
        [
            (4, "files_ep".into(), R, 0, 0),
            (5, "sup_faults".into(), W | 8, 2, 0),
            (6, "fs_ntfn".into(), R, 0, 0),
            (7, "sup_ntfn".into(), W, 1 << 62, 0),
        ]
    );
    let sup = caps(&spec, "sup_cnode");
    assert_eq!(
        sup[3..],
        [
            (4, "timer_irq".into(), 0, 0, 0),
            (5, "sup_faults".into(), R, 0, 0),
            (6, "sup_ntfn".into(), R, 0, 0),
            (7, "fs_tcb".into(), 0, 0, 0),
            (8, "fs_cnode".into(), 0, 0, 56),
            (9, "fs_template".into(), 0, 0, 56),
            (10, "fs_ntfn".into(), W, 1 << 62, 0),
            (11, "files_ep".into(), R, 0, 0),
            (12, "app_tcb".into(), 0, 0, 0),
            (13, "app_cnode".into(), 0, 0, 56),
            (14, "app_template".into(), 0, 0, 56),
            (15, "app_ntfn".into(), W, 1 << 63, 0),
        ]
    );
    let app = caps(&spec, "app_cnode");
    assert_eq!(app.last().unwrap(), &(7, "sup_ntfn".into(), W, 1 << 61, 0));

    let fs = sysdesc::caps_module(&system(), "fs").unwrap();
    for line in [
        "pub const ALIVE: u64 = 7;",
        "pub const SUPERVISED: u64 = 1;",
        "pub const HEARTBEAT: u64 = 0x4000_0000_0000_0000;",
        "pub const TICK: u64 = 0x8000_0000_0000_0000;",
    ] {
        assert!(fs.contains(line), "{line} in\n{fs}");
    }
    let sup = sysdesc::caps_module(&system(), "sup").unwrap();
    for line in [
        "pub const ALIVE: u64 = 0;",
        "pub const SUPERVISED: u64 = 0;",
        "pub const HEARTBEAT: u64 = 0;",
        "pub const ALIVE_FS: u64 = 0x4000_0000_0000_0000;",
        "pub const ALIVE_APP: u64 = 0x2000_0000_0000_0000;",
        "pub const FAULT_FS: u64 = 2;",
        "pub const FIRST_FREE: u64 = 16;",
    ] {
        assert!(sup.contains(line), "{line} in\n{sup}");
    }
}

#[test]
fn the_supervisor_mirrors_private_pages_with_the_same_frames() {
    let spec = spec();
    let sup = mappings(&spec, "sup");
    let window: Vec<_> = sup.iter().filter(|m| m.0 >= 0x2020_0000).collect();
    for c in ["fs", "app"] {
        let own = mappings(&spec, c);
        // Private pages: image, stack, IPC buffer, heap; not the channel.
        let private: Vec<_> = own.iter().filter(|m| m.0 < 0x3000_0000).collect();
        let mirrored: Vec<_> = window
            .iter()
            .filter(|m| m.1.starts_with(&format!("{c}_")) && !m.1.contains("pristine"))
            .filter(|m| !m.1.ends_with("_elf"))
            .collect();
        let mut names: Vec<&str> = private.iter().map(|m| m.1.as_str()).collect();
        let mut got: Vec<&str> = mirrored.iter().map(|m| m.1.as_str()).collect();
        names.sort();
        got.sort();
        assert_eq!(names, got, "{c}");
        assert!(mirrored.iter().all(|m| m.2 == R | W));
        // Pristine frames: one per filled image page, the same fills.
        for m in private.iter().filter(|m| m.1.contains("_image_")) {
            let ObjectKind::Frame(image) = &obj(&spec, &m.1).kind else {
                panic!()
            };
            let pristine = m.1.replace("_image_", "_pristine_");
            match spec.object(&name(&pristine)) {
                Some(p) => {
                    let ObjectKind::Frame(f) = &p.kind else {
                        panic!()
                    };
                    assert_eq!(f.fill, image.fill);
                    assert!(!image.fill.is_empty());
                    assert!(window.iter().any(|w| w.1 == pristine && w.2 == R));
                }
                None => assert!(image.fill.is_empty(), "{}", m.1),
            }
        }
        let ObjectKind::Frame(elf) = &obj(&spec, &format!("{c}_elf")).kind else {
            panic!()
        };
        assert_eq!(elf.fill[0][..3], ["0", "4096", "CDL_FrameFill_FileData"]);
    }
    // logger is not supervised: nothing of it in sup's window.
    assert!(!sup.iter().any(|m| m.1.starts_with("logger_")));
    // Everything below the shared window, from the end of sup's heap
    // rounded up to 2 MiB.
    assert!(window.iter().all(|m| m.0 < 0x3000_0000));
    assert_eq!(window[0].0, 0x2020_0000);
}

mod sup {
    include!("good/supervised/sup.rs");
}
mod logger {
    include!("good/supervised/logger.rs");
}

#[test]
fn modules_match_their_golden_files() {
    let sys = system();
    for c in ["sup", "logger"] {
        let text = sysdesc::supervisor_module(&sys, c).expect("module");
        let path = common::dir("good/supervised").join(format!("{c}.rs"));
        if std::env::var_os("SYSDESC_BLESS").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        assert_eq!(text, std::fs::read_to_string(&path).unwrap(), "{c}");
        assert_eq!(text, sysdesc::supervisor_module(&sys, c).unwrap());
    }
    assert!(sysdesc::supervisor_module(&sys, "nobody").is_err());
    // Works in a system without supervision too.
    let example = sysdesc::parse("example.toml", &common::good("example.toml")).unwrap();
    let text = sysdesc::supervisor_module(&example, "console").unwrap();
    assert!(text.contains("pub const COMPONENTS: &[Supervised] = &[];"));
    assert!(text.contains("(\"pong\", PONG_CAPS),"));
}

#[test]
fn the_table_agrees_with_the_spec() {
    use sup::supervised::{image_runs, Run, COMPONENTS, IMAGES, WINDOW};
    let spec = spec();
    let sys = system();
    assert_eq!(WINDOW, 0x2020_0000);
    assert_eq!(COMPONENTS.len(), 2);
    let fs = &COMPONENTS[0];
    assert_eq!(
        (
            fs.name,
            fs.index,
            fs.tcb,
            fs.cnode,
            fs.template,
            fs.heartbeat
        ),
        ("fs", 2, 7, 8, 9, 10)
    );
    assert_eq!((fs.alive, fs.cnode_bits), (1 << 62, 8));
    assert_eq!(
        (
            fs.heartbeat_ms,
            fs.backoff_ms,
            fs.backoff_max_ms,
            fs.limit,
            fs.stable_ms
        ),
        (100, 20, 2000, 3, 5000)
    );
    assert_eq!(fs.endpoints, &[("files", 11)]);
    assert_eq!(COMPONENTS[1].endpoints, &[]);
    assert_eq!(COMPONENTS[1].heartbeat_ms, 500);
    let sup_maps = mappings(&spec, "sup");
    let at = |v: u64| sup_maps.iter().find(|m| m.0 == v).map(|m| m.1.clone());
    let mut base = IMAGES;
    for (k, c) in COMPONENTS.iter().enumerate() {
        assert_eq!(at(c.elf), Some(format!("{}_elf", c.name)));
        // Stack, IPC buffer, heap: the mirror maps the frame the component
        // maps at the same page.
        let own = mappings(&spec, c.name);
        let frame_at = |v: u64| own.iter().find(|m| m.0 == v).map(|m| m.1.clone());
        let mut runs = c.runs.to_vec();
        // The image, from the program headers the supervisor reads.
        let mut out = [Run {
            vaddr: 0,
            pages: 0,
            mirror: 0,
            pristine: 0,
            executable: false,
            writable: false,
        }; 8];
        let (n, next) = image_runs(&program()[..4096], base, &mut out).expect("reads");
        base = next;
        runs.extend_from_slice(&out[..n]);
        let mut pages = 0;
        for r in &runs {
            for p in 0..r.pages {
                pages += 1;
                let frame = frame_at(r.vaddr + p * 4096).expect("mapped in the component");
                assert_eq!(at(r.mirror + p * 4096), Some(frame.clone()), "{}", c.name);
                if r.pristine != 0 {
                    assert_eq!(
                        at(r.pristine + p * 4096),
                        Some(frame.replace("_image_", "_pristine_"))
                    );
                }
                let rights = own.iter().find(|m| m.0 == r.vaddr + p * 4096).unwrap().2;
                assert_eq!(rights & W != 0, r.writable);
                assert_eq!(rights & 4 != 0, r.executable);
            }
        }
        let private = own.iter().filter(|m| m.0 < 0x3000_0000).count();
        assert_eq!(pages, private, "{}: every private page is in a run", c.name);
        let _ = (k, &sys);
    }
    // Nothing of the window is mapped past the last component's pristines.
    assert!(sup_maps.iter().all(|m| m.0 < base));
    // The spec caps are the CNode's.
    let fs_caps = sup::supervised::FS_CAPS;
    assert_eq!(fs_caps.len(), obj(&spec, "fs_cnode").slots.len());
    let alive = fs_caps.iter().find(|c| c.name == "ALIVE").unwrap();
    assert_eq!(
        (
            alive.slot,
            alive.object,
            alive.kind,
            alive.rights,
            alive.badge
        ),
        (7, "sup_ntfn", "notification", "W", 1 << 62)
    );
    let files = fs_caps.iter().find(|c| c.name == "FILES").unwrap();
    assert_eq!((files.kind, files.rights), ("endpoint", "R"));
    assert_eq!(sup::supervised::ALL.len(), 4);
    assert!(logger::supervised::COMPONENTS.is_empty());
    let logger_all: Vec<(&str, usize)> = logger::supervised::ALL
        .iter()
        .map(|(n, c)| (*n, c.len()))
        .collect();
    let sup_all: Vec<(&str, usize)> = sup::supervised::ALL
        .iter()
        .map(|(n, c)| (*n, c.len()))
        .collect();
    assert_eq!(logger_all, sup_all);
}

#[test]
fn a_window_that_does_not_fit() {
    // The static part fits exactly; the images do not.
    let text = r#"
[system]
name = "w"

[[component]]
name = "sup"
program = "supervisor"
priority = 200
supervisor = true
heap = "254M"

[[component]]
name = "a"
program = "a"
priority = 100
stack = "2032K"
restart = "always"
"#;
    let sys = sysdesc::parse("w.toml", text).expect("the description alone fits");
    let mut asked = Vec::new();
    let mut load = loader(&mut asked);
    let errors = sysdesc::expand(&sys, &mut load).unwrap_err();
    let got: Vec<String> = errors.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        got,
        ["w.toml:5:1: the memory of the components supervisor 'sup' supervises (3 MiB from 0x2fe00000, with guard pages) does not fit below 0x30000000 (2 MiB free above its heap)"]
    );
}
