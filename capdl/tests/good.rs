//! A well-formed Cerne-style spec (tests/good/console.cdl) goes through the
//! whole chain: parse, validate, print and reparse, encode, walk the compact
//! form as the root task does, decode.

use capdl::compact::{CapTargetCode, ObjectKindCode, SpecView};
use capdl::model::{CapTarget, ObjectKind, ObjectName};

fn console() -> capdl::Spec {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/good/console.cdl");
    let text = std::fs::read_to_string(path).unwrap();
    capdl::parse_and_validate("console.cdl", &text).unwrap_or_else(|d| panic!("{d:?}"))
}

#[test]
fn parses_with_every_form_resolved() {
    let spec = console();
    let cnode = spec.object(&ObjectName::plain("console_cnode")).unwrap();
    let slots: Vec<u64> = cnode.slots.iter().map(|s| s.slot).collect();
    assert_eq!(slots, [1, 2, 3, 4, 5, 7, 8, 9]);
    // Unnumbered entries follow the previous slot; the copy took RW of RWGP.
    assert_eq!(cnode.slots[3].cap.target, CapTarget::IrqControl);
    let copy = &cnode.slots[5].cap;
    assert_eq!(
        copy.target,
        CapTarget::Object(ObjectName::plain("console_ep"))
    );
    assert_eq!((copy.rights.word(), copy.badge), (0x3, 7));
    // A qualified name made an untyped covering the array.
    let ObjectKind::Untyped(mem) = &spec.object(&ObjectName::plain("mem")).unwrap().kind else {
        panic!("mem is not an untyped")
    };
    assert_eq!(mem.covers.len(), 4);
    assert_eq!(spec.irqs[0].irq, 33);
    assert_eq!(spec.cdt.len(), 1);
}

#[test]
fn prints_and_reparses_to_the_same_spec() {
    let spec = console();
    let text = capdl::print(&spec);
    let again =
        capdl::parse_and_validate("printed.cdl", &text).unwrap_or_else(|d| panic!("{d:?}\n{text}"));
    assert_eq!(again, spec);
    assert_eq!(capdl::print(&again), text);
}

#[test]
fn encodes_and_the_heap_free_reader_walks_it() {
    let spec = console();
    let bytes = capdl::encode(&spec).unwrap();
    let view = SpecView::new(&bytes).unwrap();
    assert_eq!(view.object_count(), spec.objects.len());
    let pt = view
        .iter_objects()
        .find(|o| o.name() == "console_pt")
        .unwrap();
    assert_eq!(pt.kind(), ObjectKindCode::PageTable);
    assert_eq!(pt.record.level, 3);
    let mmio = pt.caps().iter().find(|c| c.slot.get() == 9).unwrap();
    assert_eq!(mmio.target_kind, CapTargetCode::Object as u8);
    let frame = view.target(mmio).unwrap();
    assert_eq!(frame.name(), "uart_mmio");
    assert_eq!(frame.record.paddr.get(), 0x900_0000);
    assert_eq!(
        frame.kind().object_type(frame.record.size_bits),
        Some(cerne_abi::object::ObjectType::SmallPage)
    );
    let tcb = view
        .iter_objects()
        .find(|o| o.kind() == ObjectKindCode::Tcb)
        .unwrap();
    assert_eq!(tcb.tcb().unwrap().prio.get(), 200);
    let init: Vec<u64> = tcb.init_arguments().iter().map(|w| w.get()).collect();
    assert_eq!(init, [1, 2]);
    let text = view
        .iter_objects()
        .find(|o| o.name() == "console_text")
        .unwrap();
    let words: Vec<&str> = view.fill_words(&text.fills()[0]).collect();
    assert_eq!(
        words,
        [
            "0",
            "4096",
            "CDL_FrameFill_FileData",
            "\"console.elf\"",
            "0"
        ]
    );
    let irq = &view.irqs[0];
    assert_eq!(
        (
            irq.irq.get(),
            view.object(irq.object.get() as usize).unwrap().name()
        ),
        (33, "uart_irq")
    );
    assert_eq!(capdl::decode(&bytes).unwrap(), spec);
}

#[test]
fn the_vspace_walk_gives_each_mapping_its_vaddr() {
    let spec = console();
    let bytes = capdl::encode(&spec).unwrap();
    let view = SpecView::new(&bytes).unwrap();
    let vspace = view
        .iter_objects()
        .find(|o| o.name() == "console_vspace")
        .unwrap();
    let walk: Vec<(String, u8, u64)> = view
        .mappings(vspace.index)
        .map(|m| {
            let o = view.object(m.target).unwrap();
            let name = match o.index_in_array() {
                Some(i) => format!("{}[{i}]", o.name()),
                None => o.name().to_string(),
            };
            (name, m.level, m.vaddr)
        })
        .collect();
    let expected: Vec<(String, u8, u64)> = [
        ("console_pud", 0, 0),
        ("console_pd", 1, 0),
        ("console_pt", 2, 0x20_0000),
        ("console_text[0]", 3, 0x20_0000),
        ("console_text[1]", 3, 0x20_1000),
        ("uart_mmio", 3, 0x20_9000),
        ("console_stack", 3, 0x2f_f000),
        ("console_ipc", 3, 0x30_0000),
        ("big", 2, 0x40_0000),
    ]
    .iter()
    .map(|(n, l, v)| (n.to_string(), *l, *v))
    .collect();
    assert_eq!(walk, expected);
    // Not a VSpace: nothing to walk.
    assert_eq!(view.mappings(0).count(), 0);
}

#[test]
fn every_truncation_and_bit_flip_of_the_encoding_is_read_without_panic() {
    let bytes = capdl::encode(&console()).unwrap();
    for len in 0..bytes.len() {
        let _ = SpecView::new(&bytes[..len]);
    }
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut b = bytes.clone();
            b[i] ^= bit;
            let _ = capdl::decode(&b);
            if let Ok(view) = SpecView::new(&b) {
                for o in view.iter_objects() {
                    let _ = (
                        o.name(),
                        o.caps(),
                        o.tcb(),
                        o.init_arguments(),
                        o.fills(),
                        o.covers(),
                    );
                    let _ = view.mappings(o.index).count();
                }
            }
        }
    }
}
