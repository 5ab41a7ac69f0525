//! The authority graph of a system: who can call, signal, share memory
//! with, or receive the faults of whom, and which devices and IRQs each
//! component holds. [`dot`] writes it for Graphviz; [`svg`] draws it itself
//! (components on a circle, devices and IRQs outside their component), so
//! no external program is needed.

use std::f64::consts::PI;
use std::fmt::Write;

use crate::model::System;
use crate::parse::size_text;

/// The graph in Graphviz DOT: components are boxes (with their priority),
/// channels solid labelled edges client -> server, notifications dashed
/// edges signaller -> waiter, shared memory bold undirected edges between
/// its mappers, fault handlers dotted edges, devices hexagons and IRQs
/// diamonds attached to their component.
pub fn dot(sys: &System) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", escape_dot(&sys.name));
    out.push_str("  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n");
    for c in &sys.components {
        let _ = writeln!(
            out,
            "  \"c_{0}\" [shape=box, label=\"{0}\\n{1}\\nprio {2}\"];",
            c.name, c.program, c.priority
        );
    }
    for d in &sys.devices {
        let _ = writeln!(
            out,
            "  \"d_{0}\" [shape=hexagon, label=\"{0}\\n{1:#x} {2}\"];\n  \"d_{0}\" -> \"c_{3}\" [arrowhead=none, label=\"device\"];",
            d.name,
            d.paddr,
            size_text(d.size),
            d.component
        );
    }
    for i in &sys.irqs {
        let _ = writeln!(
            out,
            "  \"i_{0}\" [shape=diamond, label=\"{0}\\nIRQ {1}\"];\n  \"i_{0}\" -> \"c_{2}\" [label=\"irq\"];",
            i.name, i.irq, i.component
        );
    }
    for ch in &sys.channels {
        for k in &ch.clients {
            let _ = writeln!(
                out,
                "  \"c_{}\" -> \"c_{}\" [label=\"{} (badge {})\"];",
                k.component, ch.server, ch.name, k.badge
            );
        }
    }
    for n in &sys.notifications {
        for s in &n.signallers {
            let _ = writeln!(
                out,
                "  \"c_{}\" -> \"c_{}\" [style=dashed, label=\"{}\"];",
                s, n.waiter, n.name
            );
        }
    }
    for s in &sys.shared_memory {
        for (i, a) in s.mappings.iter().enumerate() {
            for b in &s.mappings[i + 1..] {
                let _ = writeln!(
                    out,
                    "  \"c_{}\" -> \"c_{}\" [dir=none, style=bold, label=\"{} ({} {}, {} {})\"];",
                    a.component,
                    b.component,
                    s.name,
                    a.component,
                    a.perms.text(),
                    b.component,
                    b.perms.text()
                );
            }
        }
    }
    for c in &sys.components {
        if let Some(h) = &c.fault_handler {
            let _ = writeln!(
                out,
                "  \"c_{}\" -> \"c_{}\" [style=dotted, label=\"faults\"];",
                c.name, h
            );
        }
    }
    if let Some(s) = sys.supervisor() {
        for (_, c) in sys.supervised() {
            let _ = writeln!(
                out,
                "  \"c_{}\" -> \"c_{}\" [style=dashed, color=\"#6a1b9a\", penwidth=2, label=\"restarts\"];",
                s.name, c.name
            );
        }
    }
    out.push_str("}\n");
    out
}

fn escape_dot(s: &str) -> String {
    s.chars()
        .flat_map(|c| match c {
            '"' => vec!['\\', '"'],
            '\\' => vec!['\\', '\\'],
            c if c.is_control() => vec![' '],
            c => vec![c],
        })
        .collect()
}

fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Kinds of edge, each drawn its own way.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EdgeKind {
    Channel,
    Notification,
    Shared,
    Fault,
    Restart,
}

impl EdgeKind {
    fn style(self) -> &'static str {
        match self {
            Self::Channel => "stroke=\"#1f4e9c\" stroke-width=\"1.6\" marker-end=\"url(#arrow-blue)\"",
            Self::Notification => {
                "stroke=\"#b35900\" stroke-width=\"1.4\" stroke-dasharray=\"6 4\" marker-end=\"url(#arrow-orange)\""
            }
            Self::Shared => "stroke=\"#2e7d32\" stroke-width=\"3\"",
            Self::Fault => {
                "stroke=\"#b00020\" stroke-width=\"1.4\" stroke-dasharray=\"2 3\" marker-end=\"url(#arrow-red)\""
            }
            Self::Restart => {
                "stroke=\"#6a1b9a\" stroke-width=\"2\" stroke-dasharray=\"10 4\" marker-end=\"url(#arrow-purple)\""
            }
        }
    }
}

const BOX_W: f64 = 130.0;
const BOX_H: f64 = 46.0;

/// The graph as a self-contained SVG document: components (boxes with
/// their priority) on a circle; channels as solid blue arrows client ->
/// server, notifications dashed orange arrows, shared memory thick green
/// lines, fault handlers dotted red arrows, each labelled; devices
/// (hexagons) and IRQs (diamonds) outside their component. A legend closes it.
pub fn svg(sys: &System) -> String {
    let n = sys.components.len().max(1);
    let radius = (n as f64 * 190.0 / (2.0 * PI)).max(170.0);
    let outer = radius + 140.0;
    let margin = 40.0;
    let width = 2.0 * (outer + 70.0 + margin);
    let supervision = sys.supervisor().is_some() && sys.supervised().next().is_some();
    let legend_h = if supervision { 130.0 } else { 110.0 };
    let legend_y = width / 2.0 + outer + 60.0;
    let height = legend_y + legend_h;
    let (cx, cy) = (width / 2.0, width / 2.0);
    let angle = |i: usize| -PI / 2.0 + 2.0 * PI * i as f64 / n as f64;
    let pos: Vec<(f64, f64)> = (0..sys.components.len())
        .map(|i| (cx + radius * angle(i).cos(), cy + radius * angle(i).sin()))
        .collect();
    let index = |name: &str| sys.components.iter().position(|c| c.name == name);

    let mut out = String::new();
    let _ = writeln!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(
        out,
        "<title>Authority graph of system {}</title>",
        escape_xml(&sys.name)
    );
    out.push_str("<defs>\n");
    for (id, colour) in [
        ("blue", "#1f4e9c"),
        ("orange", "#b35900"),
        ("red", "#b00020"),
        ("purple", "#6a1b9a"),
    ]
    .into_iter()
    .filter(|(id, _)| supervision || *id != "purple")
    {
        let _ = writeln!(
            out,
            "<marker id=\"arrow-{id}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"{colour}\"/></marker>"
        );
    }
    out.push_str("</defs>\n");
    let _ = writeln!(
        out,
        "<rect x=\"0\" y=\"0\" width=\"{width:.0}\" height=\"{height:.0}\" fill=\"white\"/>"
    );
    let _ = writeln!(
        out,
        "<text x=\"{:.0}\" y=\"24\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">system {}</text>",
        width / 2.0,
        escape_xml(&sys.name)
    );

    // Edges first, so that nodes are drawn over them.
    let mut edges: Vec<(usize, usize, EdgeKind, String)> = Vec::new();
    for ch in &sys.channels {
        for k in &ch.clients {
            if let (Some(a), Some(b)) = (index(&k.component), index(&ch.server)) {
                edges.push((
                    a,
                    b,
                    EdgeKind::Channel,
                    format!("{} (badge {})", ch.name, k.badge),
                ));
            }
        }
    }
    for nt in &sys.notifications {
        for s in &nt.signallers {
            if let (Some(a), Some(b)) = (index(s), index(&nt.waiter)) {
                edges.push((a, b, EdgeKind::Notification, nt.name.clone()));
            }
        }
    }
    for s in &sys.shared_memory {
        for (i, m) in s.mappings.iter().enumerate() {
            for o in &s.mappings[i + 1..] {
                if let (Some(a), Some(b)) = (index(&m.component), index(&o.component)) {
                    edges.push((
                        a,
                        b,
                        EdgeKind::Shared,
                        format!("{} ({}/{})", s.name, m.perms.text(), o.perms.text()),
                    ));
                }
            }
        }
    }
    for (i, c) in sys.components.iter().enumerate() {
        if let Some(h) = c.fault_handler.as_deref().and_then(index) {
            edges.push((i, h, EdgeKind::Fault, "faults".to_string()));
        }
    }
    if let Some(s) = sys.components.iter().position(|c| c.supervisor) {
        for (i, _) in sys.supervised() {
            edges.push((s, i, EdgeKind::Restart, "restarts".to_string()));
        }
    }
    out.push_str("<g id=\"edges\">\n");
    let pair = |a: usize, b: usize| (a.min(b), a.max(b));
    let mut drawn: Vec<(usize, usize)> = Vec::new();
    for (a, b, kind, label) in &edges {
        let key = pair(*a, *b);
        let parallel = drawn.iter().filter(|k| **k == key).count();
        let total = edges.iter().filter(|e| pair(e.0, e.1) == key).count();
        drawn.push(key);
        let (p, q) = (pos[*a], pos[*b]);
        if a == b {
            // A self-loop: a small circle outside the box.
            let (ox, oy) = outward(p, (cx, cy), BOX_H / 2.0 + 18.0 + 14.0 * parallel as f64);
            let _ = writeln!(
                out,
                "<circle cx=\"{ox:.1}\" cy=\"{oy:.1}\" r=\"16\" fill=\"none\" {}/>",
                kind.style()
            );
            let _ = writeln!(
                out,
                "<text x=\"{ox:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                oy - 20.0,
                escape_xml(label)
            );
            continue;
        }
        // Clip the line to the boxes, then fan the edges between one pair
        // of components out on both sides of the straight line, bending
        // each by its own amount (measured across the pair's canonical
        // direction, so that edges both ways fan out together).
        let (p, q) = (clip(p, q), clip(q, p));
        let (c0, c1) = (pos[key.0], pos[key.1]);
        let (dx, dy) = (c1.0 - c0.0, c1.1 - c0.1);
        let len = (dx * dx + dy * dy).sqrt().max(1.0);
        let bend = 64.0 * (parallel as f64 - (total as f64 - 1.0) / 2.0);
        let (nx, ny) = (-dy / len * bend, dx / len * bend);
        let (mx, my) = ((p.0 + q.0) / 2.0 + nx, (p.1 + q.1) / 2.0 + ny);
        let _ = writeln!(
            out,
            "<path d=\"M {:.1} {:.1} Q {mx:.1} {my:.1} {:.1} {:.1}\" fill=\"none\" {}/>",
            p.0,
            p.1,
            q.0,
            q.1,
            kind.style()
        );
        // The curve's midpoint is halfway to the control point.
        let (lx, ly) = ((p.0 + q.0) / 2.0 + nx / 2.0, (p.1 + q.1) / 2.0 + ny / 2.0);
        // Labels of parallel edges are also staggered vertically, so that
        // those of near-vertical edges do not overlap.
        let stagger = 13.0 * (parallel as f64 - (total as f64 - 1.0) / 2.0);
        let _ = writeln!(
            out,
            "<text x=\"{lx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#333\" stroke=\"white\" stroke-width=\"3\" paint-order=\"stroke\">{}</text>",
            ly - 3.0 + stagger,
            escape_xml(label)
        );
    }
    out.push_str("</g>\n<g id=\"attachments\">\n");

    // Devices and IRQs, fanned out beyond their component.
    for (i, c) in sys.components.iter().enumerate() {
        let attached: Vec<(bool, String, String)> = sys
            .devices
            .iter()
            .filter(|d| d.component == c.name)
            .map(|d| {
                (
                    true,
                    d.name.clone(),
                    format!("{:#x} {}", d.paddr, size_text(d.size)),
                )
            })
            .chain(
                sys.irqs
                    .iter()
                    .filter(|q| q.component == c.name)
                    .map(|q| (false, q.name.clone(), format!("IRQ {}", q.irq))),
            )
            .collect();
        let count = attached.len();
        for (k, (is_device, name, detail)) in attached.into_iter().enumerate() {
            let spread = 0.4 * (k as f64 - (count as f64 - 1.0) / 2.0);
            let a = angle(i) + spread;
            let r = outer + if k % 2 == 1 { 30.0 } else { 0.0 };
            let (x, y) = (cx + r * a.cos(), cy + r * a.sin());
            let (bx, by) = clip(pos[i], (x, y));
            let _ = writeln!(
                out,
                "<line x1=\"{x:.1}\" y1=\"{y:.1}\" x2=\"{bx:.1}\" y2=\"{by:.1}\" stroke=\"#555\" stroke-width=\"1.2\"/>"
            );
            let shape = if is_device {
                let pts: Vec<String> = (0..6)
                    .map(|j| {
                        let t = PI / 3.0 * j as f64;
                        format!("{:.1},{:.1}", x + 52.0 * t.cos(), y + 26.0 * t.sin())
                    })
                    .collect();
                format!(
                    "<polygon class=\"device\" points=\"{}\" fill=\"#fff3cd\" stroke=\"#8a6d00\"/>",
                    pts.join(" ")
                )
            } else {
                format!(
                    "<polygon class=\"irq\" points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\" fill=\"#fde0e0\" stroke=\"#b00020\"/>",
                    x,
                    y - 30.0,
                    x + 55.0,
                    y,
                    x,
                    y + 30.0,
                    x - 55.0,
                    y
                )
            };
            let _ = writeln!(
                out,
                "<g>{shape}<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"10\">{}</text></g>",
                y - 2.0,
                escape_xml(&name),
                y + 11.0,
                escape_xml(&detail)
            );
        }
    }
    out.push_str("</g>\n<g id=\"components\">\n");
    for (i, c) in sys.components.iter().enumerate() {
        let (x, y) = pos[i];
        let _ = writeln!(
            out,
            "<g class=\"component\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"6\" fill=\"#e8eef9\" stroke=\"#1f4e9c\" stroke-width=\"1.5\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"10\">{} · prio {}</text></g>",
            x - BOX_W / 2.0,
            y - BOX_H / 2.0,
            y - 4.0,
            escape_xml(&c.name),
            y + 12.0,
            escape_xml(&c.program),
            c.priority
        );
    }
    out.push_str("</g>\n");

    // Legend.
    let ly = legend_y + 10.0;
    out.push_str("<g id=\"legend\" font-size=\"11\">\n");
    let rows = [
        (EdgeKind::Channel, "channel: client calls server (badge)"),
        (EdgeKind::Notification, "notification: signaller to waiter"),
        (EdgeKind::Shared, "shared memory between mappers (perms)"),
        (EdgeKind::Fault, "faults go to the fault handler"),
        (EdgeKind::Restart, "the supervisor restarts the component"),
    ];
    let rows = &rows[..if supervision {
        rows.len()
    } else {
        rows.len() - 1
    }];
    for (k, (kind, text)) in rows.iter().enumerate() {
        let y = ly + 18.0 * k as f64;
        let _ = writeln!(
            out,
            "<line x1=\"{margin}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" {}/><text x=\"{:.1}\" y=\"{:.1}\">{text}</text>",
            margin + 50.0,
            kind.style(),
            margin + 60.0,
            y + 4.0
        );
    }
    let x2 = width / 2.0 + 20.0;
    let _ = writeln!(
        out,
        "<polygon points=\"{:.1},{ly:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\" fill=\"#fde0e0\" stroke=\"#b00020\"/><text x=\"{:.1}\" y=\"{:.1}\">IRQ (to its handler's notification)</text>",
        x2 + 15.0,
        x2 + 30.0,
        ly + 8.0,
        x2 + 15.0,
        ly + 16.0,
        x2,
        ly + 8.0,
        x2 + 40.0,
        ly + 12.0
    );
    let hy = ly + 34.0;
    let pts: Vec<String> = (0..6)
        .map(|j| {
            let t = PI / 3.0 * j as f64;
            format!(
                "{:.1},{:.1}",
                x2 + 15.0 + 15.0 * t.cos(),
                hy + 8.0 * t.sin()
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "<polygon points=\"{}\" fill=\"#fff3cd\" stroke=\"#8a6d00\"/><text x=\"{:.1}\" y=\"{:.1}\">device region (mapped uncached)</text>",
        pts.join(" "),
        x2 + 40.0,
        hy + 4.0
    );
    out.push_str("</g>\n</svg>\n");
    out
}

/// The point where the segment from the centre of the box at `from`
/// towards `to` leaves that box.
fn clip(from: (f64, f64), to: (f64, f64)) -> (f64, f64) {
    let (dx, dy) = (to.0 - from.0, to.1 - from.1);
    if dx == 0.0 && dy == 0.0 {
        return from;
    }
    let tx = if dx != 0.0 {
        (BOX_W / 2.0 + 4.0) / dx.abs()
    } else {
        f64::INFINITY
    };
    let ty = if dy != 0.0 {
        (BOX_H / 2.0 + 4.0) / dy.abs()
    } else {
        f64::INFINITY
    };
    let t = tx.min(ty).min(1.0);
    (from.0 + dx * t, from.1 + dy * t)
}

/// `p` moved `by` away from `centre`.
fn outward(p: (f64, f64), centre: (f64, f64), by: f64) -> (f64, f64) {
    let (dx, dy) = (p.0 - centre.0, p.1 - centre.1);
    let len = (dx * dx + dy * dy).sqrt();
    if len == 0.0 {
        return (p.0, p.1 - by);
    }
    (p.0 + dx / len * by, p.1 + dy / len * by)
}
