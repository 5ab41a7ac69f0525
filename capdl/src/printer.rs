//! The printer: writes a [`Spec`] as capDL text that [`crate::parse()`] reads
//! back to an equal spec.
//!
//! Objects come out in model order, arrays as one `name[n] = ...`
//! declaration (the model keeps arrays as consecutive elements `name[0]` ..
//! `name[n-1]` of one kind, as the parser makes them and the validator
//! demands). Every cap entry is written with its slot number; a run of
//! consecutive slots holding alike caps to consecutive array elements is
//! written as one range (`4: frame[0..63] (RW)`), and so are runs in an
//! untyped's covers. Ranges are closed (`a..b`), so reading them back needs no
//! array sizes.

use std::collections::HashMap;
use std::fmt::Write;

use crate::model::{
    Cap, CapTarget, IrqTrigger, Object, ObjectKind, ObjectName, SlotRef, Spec, TcbCapKind,
};

/// The capDL text of `spec`.
pub fn print(spec: &Spec) -> String {
    let mut out = String::from("arch aarch64\n\nobjects {\n");
    let frames: HashMap<&ObjectName, bool> = spec
        .objects
        .iter()
        .map(|o| (&o.name, matches!(o.kind, ObjectKind::Frame(_))))
        .collect();

    let mut i = 0;
    while i < spec.objects.len() {
        let first = &spec.objects[i];
        if first.name.index == Some(0) {
            let run = spec.objects[i..]
                .iter()
                .enumerate()
                .take_while(|(k, o)| {
                    o.name.base == first.name.base && o.name.index == Some(*k as u64)
                })
                .count();
            let _ = writeln!(
                out,
                "  {}[{}] = {}",
                first.name.base,
                run,
                kind_text(&first.kind, false)
            );
            for element in &spec.objects[i..i + run] {
                if let ObjectKind::Untyped(u) = &element.kind {
                    if !u.covers.is_empty() {
                        let _ = writeln!(out, "  {} = ut{}", element.name, covers_text(element));
                    }
                }
            }
            i += run;
        } else {
            let _ = writeln!(
                out,
                "  {} = {}{}",
                first.name,
                kind_text(&first.kind, false),
                covers_text(first)
            );
            i += 1;
        }
    }
    out.push_str("}\n\ncaps {\n");
    for object in spec.objects.iter().filter(|o| !o.slots.is_empty()) {
        let _ = writeln!(out, "  {} {{", object.name);
        let mut k = 0;
        while k < object.slots.len() {
            let run = cap_run(&object.slots[k..]);
            let first = &object.slots[k];
            let mut text = cap_text(&first.cap, &frames);
            if run > 1 {
                // `base[i]` becomes `base[i..j]`: the parser expands it back
                // into consecutive slots with the same parameters.
                if let CapTarget::Object(name) = &first.cap.target {
                    let shown = name.to_string();
                    let last = name.index.unwrap_or(0) + run as u64 - 1;
                    let range = format!("{}[{}..{last}]", name.base, name.index.unwrap_or(0));
                    text = text.replacen(&shown, &range, 1);
                }
            }
            let _ = writeln!(out, "    {}: {text}", first.slot);
            k += run;
        }
        out.push_str("  }\n");
    }
    out.push_str("}\n\nirq maps {\n");
    for irq in &spec.irqs {
        let _ = writeln!(out, "  {}: {}", irq.irq, irq.object.name);
    }
    out.push_str("}\n\ncdt {\n");
    for edge in &spec.cdt {
        let _ = writeln!(
            out,
            "  {} {{ {} }}",
            slot_text(&edge.parent),
            slot_text(&edge.child)
        );
    }
    out.push_str("}\n");
    out
}

fn slot_text(s: &SlotRef) -> String {
    format!("({}, {})", s.object.name, s.slot)
}

fn covers_text(object: &Object) -> String {
    match &object.kind {
        ObjectKind::Untyped(u) if !u.covers.is_empty() => {
            let names: Vec<&ObjectName> = u.covers.iter().map(|c| &c.name).collect();
            format!(" {{ {} }}", compress(&names).join(", "))
        }
        _ => String::new(),
    }
}

/// Names with runs of consecutive elements written as ranges:
/// `a[0], a[1], a[2], b` becomes `a[0..2], b`.
fn compress(names: &[&ObjectName]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < names.len() {
        let first = names[i];
        let mut run = 1;
        if let Some(start) = first.index {
            while names
                .get(i + run)
                .is_some_and(|n| n.base == first.base && n.index == start.checked_add(run as u64))
            {
                run += 1;
            }
        }
        match first.index {
            Some(start) if run > 1 => out.push(format!(
                "{}[{start}..{}]",
                first.base,
                start + run as u64 - 1
            )),
            _ => out.push(first.to_string()),
        }
        i += run;
    }
    out
}

/// How many slots from the first one form a run: consecutive slot numbers
/// holding caps to consecutive elements of one array, alike in every other
/// attribute.
fn cap_run(slots: &[crate::model::CapSlot]) -> usize {
    let first = &slots[0];
    let CapTarget::Object(name) = &first.cap.target else {
        return 1;
    };
    let Some(start) = name.index else { return 1 };
    let mut run = 1;
    while let Some(next) = slots.get(run) {
        let expected = ObjectName {
            base: name.base.clone(),
            index: start.checked_add(run as u64),
        };
        let same_slot = first.slot.checked_add(run as u64) == Some(next.slot);
        let mut alike = next.cap.clone();
        alike.target = first.cap.target.clone();
        if !same_slot || next.cap.target != CapTarget::Object(expected) || alike != first.cap {
            break;
        }
        run += 1;
    }
    run
}

fn with_params(keyword: &str, params: Vec<String>) -> String {
    if params.is_empty() {
        keyword.to_string()
    } else {
        format!("{keyword} ({})", params.join(", "))
    }
}

/// A frame size in capDL's units (`k` or `M`).
pub fn frame_size_text(size: u64) -> String {
    if size != 0 && size.is_multiple_of(1 << 20) {
        format!("{}M", size >> 20)
    } else {
        format!("{}k", size >> 10)
    }
}

fn kind_text(kind: &ObjectKind, _in_array: bool) -> String {
    match kind {
        ObjectKind::Untyped(u) => {
            let mut p = Vec::new();
            if let Some(b) = u.size_bits {
                p.push(format!("{b} bits"));
            }
            if let Some(a) = u.paddr {
                p.push(format!("paddr: {a:#x}"));
            }
            with_params("ut", p)
        }
        ObjectKind::Tcb(t) => {
            let mut p = Vec::new();
            let hex = [("addr", t.ipc_buffer_addr), ("ip", t.ip), ("sp", t.sp)];
            for (k, v) in hex {
                if let Some(v) = v {
                    p.push(format!("{k}: {v:#x}"));
                }
            }
            let dec = [
                ("prio", t.prio),
                ("max_prio", t.max_prio),
                ("affinity", t.affinity),
            ];
            for (k, v) in dec {
                if let Some(v) = v {
                    p.push(format!("{k}: {v}"));
                }
            }
            for (k, v) in [("resume", t.resume), ("fpu_disabled", t.fpu_disabled)] {
                if let Some(v) = v {
                    p.push(format!("{k}: {}", if v { "True" } else { "False" }));
                }
            }
            for (k, v) in [("dom", t.dom), ("fault_ep", t.fault_ep)] {
                if let Some(v) = v {
                    p.push(format!("{k}: {v}"));
                }
            }
            if !t.init.is_empty() {
                let args: Vec<String> = t.init.iter().map(|a| a.to_string()).collect();
                p.push(format!("init: [{}]", args.join(", ")));
            }
            with_params("tcb", p)
        }
        ObjectKind::CNode { size_bits } => format!("cnode ({size_bits} bits)"),
        ObjectKind::Frame(f) => {
            let mut p = vec![frame_size_text(f.size)];
            if let Some(a) = f.paddr {
                p.push(format!("paddr: {a:#x}"));
            }
            if !f.fill.is_empty() {
                let entries: Vec<String> = f
                    .fill
                    .iter()
                    .map(|e| format!("{{{}}}", e.join(" ")))
                    .collect();
                p.push(format!("fill: [{}]", entries.join(", ")));
            }
            with_params("frame", p)
        }
        ObjectKind::AsidPool { asid_high: Some(h) } => format!("asid_pool (asid_high: {h:#x})"),
        ObjectKind::Irq { arm: Some(a) } => format!(
            "arm_irq (trigger: {}, target: {})",
            match a.trigger {
                IrqTrigger::Level => "level",
                IrqTrigger::Edge => "edge",
            },
            a.target
        ),
        ObjectKind::SgiSignal { irq, target } => {
            format!("arm_sgi_signal (irq: {irq}, target: {target})")
        }
        other => other.keyword().to_string(),
    }
}

fn cap_text(cap: &Cap, frames: &HashMap<&ObjectName, bool>) -> String {
    let (target, is_frame) = match &cap.target {
        CapTarget::Object(name) => (name.to_string(), frames.get(name).copied().unwrap_or(false)),
        CapTarget::IrqControl => ("irq_control".to_string(), false),
        CapTarget::AsidControl => ("asid_control".to_string(), false),
        CapTarget::Domain => ("domain".to_string(), false),
    };
    let mut p = Vec::new();
    let r = cap.rights;
    if r.word() != 0 {
        let mut s = String::new();
        if r.read() {
            s.push('R');
        }
        if r.write() {
            s.push('W');
        }
        if r.grant() {
            s.push(if is_frame { 'X' } else { 'G' });
        }
        if r.grant_reply() {
            s.push('P');
        }
        p.push(s);
    }
    if cap.badge != 0 {
        p.push(format!("badge: {}", cap.badge));
    }
    if cap.guard != 0 {
        p.push(format!("guard: {}", cap.guard));
    }
    if cap.guard_size != 0 {
        p.push(format!("guard_size: {}", cap.guard_size));
    }
    if !cap.cached {
        p.push("uncached".to_string());
    }
    if let Some((table, slot)) = &cap.mapping {
        p.push(format!("mapping: ({}, {slot})", table.name));
    }
    if let Some((high, low)) = cap.asid {
        p.push(format!("asid: ({high:#x}, {low:#x})"));
    }
    match cap.tcb_kind {
        TcbCapKind::Thread => {}
        TcbCapKind::Reply => p.push("reply".to_string()),
        TcbCapKind::MasterReply => p.push("master_reply".to_string()),
    }
    with_params(&target, p)
}
