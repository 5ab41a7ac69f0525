//! The parser's handling of capDL's name forms, slot numbering, copies and
//! limits, one case each.

use capdl::model::{CapTarget, ObjectKind, ObjectName, TcbCapKind};
use capdl::parse;

fn names_in_slots(text: &str, container: &str) -> Vec<(u64, String)> {
    let spec = parse("t.cdl", text).unwrap_or_else(|d| panic!("{d}"));
    spec.object(&ObjectName::plain(container))
        .unwrap()
        .slots
        .iter()
        .map(|s| {
            let target = match &s.cap.target {
                CapTarget::Object(n) => n.to_string(),
                other => format!("{other:?}"),
            };
            (s.slot, target)
        })
        .collect()
}

#[test]
fn ranges_expand_to_consecutive_slots() {
    let text = "arch aarch64 objects { c = cnode (8 bits) e[6] = ep } caps { c { 10: e[..1, 4..]; e[3..2]; e[] } }";
    let got = names_in_slots(text, "c");
    let want: Vec<(u64, String)> = [
        (10, "e[0]"),
        (11, "e[1]"),
        (12, "e[4]"),
        (13, "e[5]"),
        (14, "e[3]"),
        (15, "e[2]"),
    ]
    .iter()
    .map(|(s, n)| (*s, n.to_string()))
    .chain((0..6).map(|i| (16 + i, format!("e[{i}]"))))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn numbers_in_every_base_and_symbolic_slots() {
    let text = "arch aarch64 objects { t = tcb (prio: 0o17, max_prio: 0x10, init: [007, 0]) c = cnode (2 bits) v = pgd }
                caps { t { cspace: c; vspace: v } }";
    let spec = parse("t.cdl", text).unwrap();
    let ObjectKind::Tcb(t) = &spec.objects[0].kind else {
        panic!()
    };
    assert_eq!(
        (t.prio, t.max_prio, t.init.as_slice()),
        (Some(15), Some(16), &[7, 0][..])
    );
    assert_eq!(
        names_in_slots(text, "t"),
        [(0, "c".to_string()), (1, "v".to_string())]
    );
}

#[test]
fn copies_follow_cap_names_through_chains_and_mask_rights() {
    let text = "arch aarch64 objects { c = cnode (4 bits) e = ep }
        caps {
          first = (c, 1)
          c { 1: e (RWGP, badge: 9); 2: second = <first> (masked: RWG); 3: <second> (masked: R) }
        }";
    let spec = parse("t.cdl", text).unwrap();
    let caps: Vec<(u64, u64)> = spec.objects[0]
        .slots
        .iter()
        .map(|s| (s.cap.rights.word(), s.cap.badge))
        .collect();
    assert_eq!(caps, [(0xf, 9), (0x7, 9), (0x2, 9)]);
}

#[test]
fn a_copy_of_an_empty_slot_is_an_error_at_the_copy() {
    let text = "arch aarch64 objects { c = cnode (4 bits) }\ncaps { n = (c, 5)\n c { 1: <n> } }";
    assert_eq!(
        parse("t.cdl", text).unwrap_err().to_string(),
        "t.cdl:3:6: cap name 'n' names slot 5 of 'c', which holds no cap"
    );
}

#[test]
fn qualified_names_and_children_make_untyped_covers() {
    let text = "arch aarch64 objects {
        big/mid[1]/leaf = ep
        mid[2] = ut (12 bits)
        big = ut (20 bits) { other, inner = ut { deep = tcb } }
        other = notification
    }";
    // 'mid[1]' names an element of an array not declared yet: an error.
    assert_eq!(
        parse("t.cdl", text).unwrap_err().to_string(),
        "t.cdl:2:13: untyped parent 'mid[1]' is not declared"
    );
    let text_ok = "arch aarch64 objects {
        mid[2] = ut (12 bits)
        big/mid[1]/leaf = ep
        big = ut (20 bits) { other, inner = ut { deep = tcb } }
        other = notification
    }";
    let spec = parse("t.cdl", text_ok).unwrap_or_else(|d| panic!("{d}"));
    let covers = |name: ObjectName| match &spec.object(&name).unwrap().kind {
        ObjectKind::Untyped(u) => (
            u.size_bits,
            u.covers
                .iter()
                .map(|c| c.name.to_string())
                .collect::<Vec<_>>(),
        ),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        covers(ObjectName::plain("big")),
        (
            Some(20),
            vec![
                "mid[1]".to_string(),
                "other".to_string(),
                "inner".to_string()
            ]
        )
    );
    assert_eq!(
        covers(ObjectName::element("mid", 1)),
        (Some(12), vec!["leaf".to_string()])
    );
    assert_eq!(
        covers(ObjectName::plain("inner")),
        (None, vec!["deep".to_string()])
    );
}

#[test]
fn an_untyped_said_twice_with_other_sizes_is_an_error() {
    let text = "arch aarch64 objects { u = ut (12 bits) u = ut (13 bits) }";
    assert_eq!(
        parse("t.cdl", text).unwrap_err().to_string(),
        "t.cdl:1:45: untyped 'u' is declared again with other parameters"
    );
}

#[test]
fn reply_caps_cdt_and_irq_numbering() {
    let text = "arch aarch64 objects { t = tcb c = cnode (2 bits) i[3] = irq n = notification }
        caps { c { 0: t (reply); 1: n - child_of (c, 2); 2: n (W) } }
        irq maps { 40: i[0..1]; i[2] }
        cdt { (c, 2) { (c, 3) { (c, 0) } } }";
    let spec = parse("t.cdl", text).unwrap();
    assert_eq!(spec.objects[1].slots[0].cap.tcb_kind, TcbCapKind::Reply);
    let irqs: Vec<(u64, String)> = spec
        .irqs
        .iter()
        .map(|m| (m.irq, m.object.name.to_string()))
        .collect();
    assert_eq!(
        irqs,
        [
            (40, "i[0]".to_string()),
            (41, "i[1]".to_string()),
            (42, "i[2]".to_string())
        ]
    );
    let cdt: Vec<(u64, u64)> = spec
        .cdt
        .iter()
        .map(|e| (e.parent.slot, e.child.slot))
        .collect();
    assert_eq!(cdt, [(2, 1), (2, 3), (3, 0)]);
}

#[test]
fn comments_nest_and_dashes_belong_to_names() {
    let text =
        "arch aarch64 /* a /* nested */ comment */ objects { -- line comment\n a-b.c@d = ep }";
    let spec = parse("t.cdl", text).unwrap();
    assert_eq!(spec.objects[0].name.base, "a-b.c@d");
}

#[test]
fn limits_stop_hostile_input_with_a_message() {
    let big = "arch aarch64 objects { e[1000000] = ep }";
    assert!(parse("t.cdl", big)
        .unwrap_err()
        .message
        .contains("more than"));
    let range =
        "arch aarch64 objects { c = cnode (2 bits) } caps { c { 0: e[0..18446744073709551615] } }";
    assert!(parse("t.cdl", range)
        .unwrap_err()
        .message
        .contains("more than"));
    let deep = format!(
        "arch aarch64 objects {{ c = cnode (2 bits) }} cdt {{ (c, 0) {} }}",
        "{ (c, 0) ".repeat(200)
    );
    assert!(parse("t.cdl", &deep)
        .unwrap_err()
        .message
        .contains("nest deeper"));
    let number = "arch aarch64 objects { c = cnode (99999999999999999999 bits) }";
    assert_eq!(
        parse("t.cdl", number).unwrap_err().to_string(),
        "t.cdl:1:35: number '99999999999999999999' does not fit in 64 bits"
    );
}
