//! Property tests: random specs survive print → parse and encode → decode
//! unchanged; and the parser, validator and compact reader never panic on
//! arbitrary bytes, on random token sequences, or on mutations of a good
//! spec.

use capdl::compact::SpecView;
use capdl::model::{
    ArmIrq, Cap, CapSlot, CapTarget, CdtEdge, Frame, IrqMapping, IrqTrigger, Object, ObjectKind,
    ObjectName, Origin, PageTableLevel, Reference, SlotRef, Spec, Tcb, TcbCapKind, Untyped,
};
use cerne_abi::rights::CapRights;
use proptest::prelude::*;
use proptest::sample::Index;

fn word() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.\"]{1,6}"
}

fn kind() -> impl Strategy<Value = ObjectKind> {
    let opt = || proptest::option::of(any::<u64>());
    prop_oneof![
        (proptest::option::of(0u64..64), opt()).prop_map(|(size_bits, paddr)| ObjectKind::Untyped(
            Untyped {
                size_bits,
                paddr,
                covers: vec![]
            }
        )),
        (
            (opt(), opt(), opt(), opt(), opt(), opt()),
            (
                proptest::option::of(any::<bool>()),
                proptest::option::of(any::<bool>()),
                opt(),
                opt()
            ),
            proptest::collection::vec(any::<u64>(), 0..3)
        )
            .prop_map(
                |(
                    (a, ip, sp, prio, max_prio, affinity),
                    (resume, fpu_disabled, dom, fault_ep),
                    init,
                )| {
                    ObjectKind::Tcb(Tcb {
                        ipc_buffer_addr: a,
                        ip,
                        sp,
                        prio,
                        max_prio,
                        affinity,
                        resume,
                        fpu_disabled,
                        dom,
                        fault_ep,
                        init,
                    })
                }
            ),
        Just(ObjectKind::Endpoint),
        Just(ObjectKind::Notification),
        (0u64..64).prop_map(|size_bits| ObjectKind::CNode { size_bits }),
        (
            prop::sample::select(Frame::SIZES.to_vec()),
            opt(),
            proptest::collection::vec(proptest::collection::vec(word(), 0..4), 0..3)
        )
            .prop_map(|(size, paddr, fill)| ObjectKind::Frame(Frame { size, paddr, fill })),
        prop::sample::select(vec![
            PageTableLevel::Pud,
            PageTableLevel::Pd,
            PageTableLevel::Pt
        ])
        .prop_map(|level| ObjectKind::PageTable { level }),
        Just(ObjectKind::VSpace),
        opt().prop_map(|asid_high| ObjectKind::AsidPool { asid_high }),
        proptest::option::of((any::<bool>(), any::<u64>())).prop_map(|a| ObjectKind::Irq {
            arm: a.map(|(edge, target)| ArmIrq {
                trigger: if edge {
                    IrqTrigger::Edge
                } else {
                    IrqTrigger::Level
                },
                target
            })
        }),
        (any::<u64>(), any::<u64>())
            .prop_map(|(irq, target)| ObjectKind::SgiSignal { irq, target }),
    ]
}

#[derive(Clone, Debug)]
struct CapPlan {
    container: Index,
    slot: u64,
    target: (u8, Index),
    rights: u8,
    badge: u64,
    guard: u64,
    guard_size: u64,
    cached: bool,
    mapping: Option<(Index, u64)>,
    asid: Option<(u64, u64)>,
    tcb_kind: u8,
}

fn cap_plan() -> impl Strategy<Value = CapPlan> {
    (
        (
            any::<Index>(),
            any::<u64>(),
            (0u8..6, any::<Index>()),
            0u8..16,
        ),
        (any::<u64>(), any::<u64>(), 0u64..64, any::<bool>()),
        (
            proptest::option::of((any::<Index>(), any::<u64>())),
            proptest::option::of((0u64..128, 0u64..512)),
            0u8..3,
        ),
    )
        .prop_map(
            |(
                (container, slot, target, rights),
                (badge, guard, guard_size, cached),
                (mapping, asid, tcb_kind),
            )| CapPlan {
                container,
                slot,
                target,
                rights,
                badge,
                guard,
                guard_size,
                cached,
                mapping,
                asid,
                tcb_kind,
            },
        )
}

/// A random spec whose names all resolve (so it also encodes), in the shape
/// the parser produces: arrays are consecutive elements of one kind, slots
/// ascend, covers are unique.
fn spec() -> impl Strategy<Value = Spec> {
    (
        proptest::collection::vec((kind(), proptest::option::of(1u64..4)), 1..10),
        proptest::collection::vec(cap_plan(), 0..20),
        proptest::collection::vec((any::<Index>(), any::<Index>()), 0..8),
        proptest::collection::vec((any::<u64>(), any::<Index>()), 0..4),
        proptest::collection::vec(
            (any::<Index>(), any::<u64>(), any::<Index>(), any::<u64>()),
            0..4,
        ),
    )
        .prop_map(|(objects, caps, covers, irqs, cdt)| {
            let mut spec = Spec::default();
            for (i, (kind, count)) in objects.into_iter().enumerate() {
                let base = format!("o{i}");
                let names = match count {
                    None => vec![ObjectName::plain(&base)],
                    Some(n) => (0..n).map(|k| ObjectName::element(&base, k)).collect(),
                };
                for name in names {
                    spec.objects.push(Object {
                        name,
                        kind: kind.clone(),
                        slots: vec![],
                        origin: Origin::default(),
                    });
                }
            }
            let n = spec.objects.len();
            let names: Vec<ObjectName> = spec.objects.iter().map(|o| o.name.clone()).collect();
            let name = |i: &Index| names[i.index(n)].clone();
            let reference = |i: &Index| Reference {
                name: name(i),
                origin: Origin::default(),
            };
            let mut slots: Vec<(usize, CapSlot)> = Vec::new();
            for c in &caps {
                let target = match c.target.0 {
                    0 => CapTarget::IrqControl,
                    1 => CapTarget::AsidControl,
                    2 => CapTarget::Domain,
                    _ => CapTarget::Object(name(&c.target.1)),
                };
                let mut cap = Cap::to(target);
                cap.rights = CapRights::from_word(c.rights as u64);
                cap.badge = c.badge;
                cap.guard = c.guard;
                cap.guard_size = c.guard_size;
                cap.cached = c.cached;
                cap.mapping = c.mapping.as_ref().map(|(t, s)| (reference(t), *s));
                cap.asid = c.asid;
                cap.tcb_kind = [
                    TcbCapKind::Thread,
                    TcbCapKind::Reply,
                    TcbCapKind::MasterReply,
                ][c.tcb_kind as usize];
                slots.push((
                    c.container.index(n),
                    CapSlot {
                        slot: c.slot,
                        cap,
                        origin: Origin::default(),
                    },
                ));
            }
            for (container, slot) in slots {
                let object = &mut spec.objects[container];
                if !object.slots.iter().any(|s| s.slot == slot.slot) {
                    object.slots.push(slot);
                    object.slots.sort_by_key(|s| s.slot);
                }
            }
            for (ut, child) in &covers {
                let child = reference(child);
                if let ObjectKind::Untyped(u) = &mut spec.objects[ut.index(n)].kind {
                    if !u.covers.iter().any(|c| c.name == child.name) {
                        u.covers.push(child);
                    }
                }
            }
            for (irq, object) in &irqs {
                spec.irqs.push(IrqMapping {
                    irq: *irq,
                    object: reference(object),
                });
            }
            for (a, sa, b, sb) in &cdt {
                spec.cdt.push(CdtEdge {
                    parent: SlotRef {
                        object: reference(a),
                        slot: *sa,
                    },
                    child: SlotRef {
                        object: reference(b),
                        slot: *sb,
                    },
                });
            }
            spec
        })
}

const GOOD: &str = include_str!("good/console.cdl");

/// capDL's vocabulary, for random token sequences.
const TOKENS: &[&str] = &[
    "arch",
    "aarch64",
    "objects",
    "caps",
    "irq",
    "maps",
    "cdt",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ";",
    ":",
    "=",
    "/",
    "<",
    ">",
    "-",
    "child_of",
    "..",
    "0",
    "1",
    "7",
    "0x1000",
    "4096",
    "99999999999999999999",
    "ut",
    "tcb",
    "ep",
    "notification",
    "cnode",
    "frame",
    "pgd",
    "pud",
    "pd",
    "pt",
    "asid_pool",
    "arm_irq",
    "arm_sgi_signal",
    "bits",
    "k",
    "M",
    "paddr",
    "fill",
    "{0 4096 x}",
    "prio",
    "init",
    "trigger",
    "level",
    "target",
    "RWGP",
    "RQ",
    "badge",
    "guard",
    "guard_size",
    "masked",
    "mapping",
    "asid",
    "uncached",
    "reply",
    "cspace",
    "vspace",
    "irq_control",
    "a",
    "b",
    "a[]",
    "b[0..3]",
    "c[2..]",
    "--x\n",
    "/*",
    "*/",
    "\n",
    "sc",
    "domains",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn print_then_parse_gives_the_same_spec(spec in spec()) {
        let text = capdl::print(&spec);
        let again = capdl::parse("printed.cdl", &text).map_err(|d| TestCaseError::fail(format!("{d}\n{text}")))?;
        prop_assert_eq!(again, spec);
    }

    #[test]
    fn encode_then_decode_gives_the_same_spec(spec in spec()) {
        let bytes = capdl::encode(&spec).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let view = SpecView::new(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(view.object_count(), spec.objects.len());
        prop_assert_eq!(capdl::decode(&bytes).unwrap(), spec);
    }

    #[test]
    fn damaged_encodings_never_panic_the_reader(spec in spec(), flips in proptest::collection::vec((any::<Index>(), any::<u8>()), 1..6), cut in any::<Index>()) {
        let mut bytes = capdl::encode(&spec).unwrap();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= value;
        }
        let keep = cut.index(bytes.len() + 1).max(bytes.len() / 2);
        bytes.truncate(keep);
        if let Ok(view) = SpecView::new(&bytes) {
            for o in view.iter_objects() {
                let _ = (o.name(), o.caps(), o.tcb(), o.init_arguments(), o.fills(), o.covers());
                let _ = view.mappings(o.index).count();
                for c in o.caps() {
                    let _ = view.target(c);
                }
            }
        }
        let _ = capdl::decode(&bytes);
    }

    #[test]
    fn validator_never_panics_on_random_models(spec in spec()) {
        let _ = capdl::validate(&spec, "random", &capdl::Limits::default());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(spec) = capdl::parse("bytes", &text) {
            let _ = capdl::validate(&spec, "bytes", &capdl::Limits::default());
        }
        let _ = SpecView::new(&bytes);
        let _ = capdl::decode(&bytes);
    }

    #[test]
    fn token_soup_never_panics(tokens in proptest::collection::vec(prop::sample::select(TOKENS), 0..80)) {
        let text = format!("arch aarch64 {}", tokens.join(" "));
        if let Ok(spec) = capdl::parse("soup", &text) {
            if capdl::validate(&spec, "soup", &capdl::Limits::default()).is_ok() {
                let again = capdl::parse("soup", &capdl::print(&spec)).unwrap();
                prop_assert_eq!(again, spec);
            }
        }
    }

    #[test]
    fn mutated_good_spec_never_panics(edits in proptest::collection::vec((any::<Index>(), 0usize..12, prop::sample::select(TOKENS)), 1..4)) {
        let mut text = GOOD.to_string();
        for (at, cut, insert) in edits {
            let mut start = at.index(text.len() + 1);
            while !text.is_char_boundary(start) { start -= 1; }
            let mut end = (start + cut).min(text.len());
            while !text.is_char_boundary(end) { end -= 1; }
            text.replace_range(start..end, insert);
        }
        match capdl::parse("mutant", &text) {
            Ok(spec) => {
                if capdl::validate(&spec, "mutant", &capdl::Limits::default()).is_ok() {
                    let again = capdl::parse("mutant", &capdl::print(&spec)).unwrap();
                    prop_assert_eq!(&again, &spec);
                    let bytes = capdl::encode(&spec).unwrap();
                    prop_assert_eq!(capdl::decode(&bytes).unwrap(), spec);
                }
            }
            Err(d) => prop_assert!(d.line > 0 && d.column > 0, "{}", d),
        }
    }
}
