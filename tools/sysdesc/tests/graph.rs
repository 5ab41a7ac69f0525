//! The authority graph: DOT and SVG mention every component and channel,
//! and the SVG is well-formed (every tag closed, in order).

mod common;

/// Checks that `svg`'s tags nest and close; returns the element names seen.
fn balanced(svg: &str) -> Vec<String> {
    let mut stack: Vec<String> = Vec::new();
    let mut seen = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("tag closes") + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name),
                "</{name}> closes nothing open"
            );
        } else {
            let name = tag
                .split_whitespace()
                .next()
                .unwrap()
                .trim_end_matches('/')
                .to_string();
            seen.push(name.clone());
            if !tag.ends_with('/') {
                stack.push(name);
            }
        }
        // Text between tags has no stray '<' or '&' other than entities.
        let text = &rest[..rest.find('<').unwrap_or(rest.len())];
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                    .iter()
                    .any(|e| entity.starts_with(e)),
                "bare & in {text:?}"
            );
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    seen
}

#[test]
fn example_graph() {
    let sys = sysdesc::parse("example.toml", &common::good("example.toml")).unwrap();
    let dot = sysdesc::dot(&sys);
    let svg = sysdesc::svg(&sys);
    assert!(dot.starts_with("digraph \"example\" {"));
    assert!(dot.trim_end().ends_with('}'));
    for c in ["console", "echo", "ping", "pong"] {
        assert!(dot.contains(&format!("\"c_{c}\" [shape=box")), "{c}");
        assert!(svg.contains(&format!(">{c}</text>")), "{c}");
    }
    assert!(dot.contains("prio 200"));
    assert!(dot.contains("\"c_echo\" -> \"c_console\" [label=\"console (badge 1)\"]"));
    assert!(dot.contains("\"c_ping\" -> \"c_pong\" [label=\"pingpong (badge 1)\"]"));
    assert!(dot.contains("\"d_uart\" [shape=hexagon"));
    assert!(dot.contains("\"i_uart_irq\" [shape=diamond"));
    for label in [
        "console (badge 1)",
        "console (badge 2)",
        "pingpong (badge 1)",
        "uart",
        "uart_irq",
        "IRQ 33",
    ] {
        assert!(svg.contains(&format!(">{label}</text>")), "{label}");
    }
    let elements = balanced(&svg);
    assert_eq!(elements[0], "svg");
    assert_eq!(elements.iter().filter(|e| *e == "rect").count(), 1 + 4);
    assert!(svg.contains("class=\"device\""));
    assert!(svg.contains("class=\"irq\""));
}

#[test]
fn full_graph() {
    let sys = sysdesc::parse("full.toml", &common::good("full.toml")).unwrap();
    let dot = sysdesc::dot(&sys);
    let svg = sysdesc::svg(&sys);
    balanced(&svg);
    assert!(dot.contains("\"c_blk\" -> \"c_fs\" [style=dashed, label=\"blk_done\"]"));
    assert!(dot.contains("\"c_blk\" -> \"c_supervisor\" [style=dotted, label=\"faults\"]"));
    assert!(
        dot.contains("\"c_blk\" -> \"c_fs\" [dir=none, style=bold, label=\"dma (blk rw, fs rw)\"]")
    );
    for needle in [
        "blk_done",
        "wake",
        "dma (rw/rw)",
        "log (rw/r)",
        "faults",
        "virtio_irq",
        "rtc",
    ] {
        assert!(svg.contains(needle), "{needle}");
    }
    for c in &sys.components {
        assert!(svg.contains(&format!(">{}</text>", c.name)));
    }
    for ch in &sys.channels {
        assert!(svg.contains(&format!(">{} (badge", ch.name)));
        assert!(dot.contains(&format!("label=\"{} (badge", ch.name)));
    }
}

#[test]
fn names_are_escaped() {
    let text = "[system]\nname = \"a <b> & \\\"c\\\"\"\n[[component]]\nname = \"x\"\nprogram = \"x\"\npriority = 1\n";
    let sys = sysdesc::parse("t.toml", text).unwrap();
    let svg = sysdesc::svg(&sys);
    balanced(&svg);
    assert!(svg.contains("system a &lt;b&gt; &amp; &quot;c&quot;"));
    assert!(sysdesc::dot(&sys).starts_with("digraph \"a <b> & \\\"c\\\"\" {"));
}

#[test]
fn supervision_is_drawn() {
    let sys = sysdesc::parse("supervised.toml", &common::good("supervised.toml")).unwrap();
    let dot = sysdesc::dot(&sys);
    assert!(dot.contains(
        "\"c_sup\" -> \"c_fs\" [style=dashed, color=\"#6a1b9a\", penwidth=2, label=\"restarts\"];"
    ));
    assert!(dot.contains("\"c_sup\" -> \"c_app\" [style=dashed"));
    assert!(!dot.contains("\"c_sup\" -> \"c_logger\" [style=dashed"));
    let svg = sysdesc::svg(&sys);
    balanced(&svg);
    assert_eq!(svg.matches(">restarts</text>").count(), 2);
    assert!(svg.contains("the supervisor restarts the component"));
    // Systems without supervision draw no such legend row.
    let example = sysdesc::parse("example.toml", &common::good("example.toml")).unwrap();
    assert!(!sysdesc::svg(&example).contains("restarts"));
}
