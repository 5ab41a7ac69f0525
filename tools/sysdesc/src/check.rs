//! The semantic checks of a system description, across items: names that
//! resolve and do not clash, IRQs and device regions claimed once, badges,
//! notification bits, CSpace and address-space room, generated constants that
//! do not collide. Every problem is reported, each at the value it concerns.

use std::collections::HashMap;

use capdl::model::Origin;
use capdl::Diagnostic;

use crate::layout::{
    bits_needed, Layout, DEVICE_BASE, HEAP_BASE, IMAGE_BASE, NOTIFICATION_BITS, SHARED_BASE,
    STACK_TOP, VSPACE_LIMIT,
};
use crate::model::System;
use crate::parse::{size_text, PAGE_SIZE};

/// All semantic problems of `sys`, in source order (empty when it is sound).
pub fn check(sys: &System) -> Vec<Diagnostic> {
    let mut cx = Checker {
        sys,
        errors: Vec::new(),
    };
    cx.system();
    cx.names();
    cx.components();
    cx.supervision();
    cx.channels();
    cx.notifications();
    cx.irqs();
    cx.devices();
    cx.shared();
    cx.memory();
    cx.per_component();
    cx.window();
    let mut errors = cx.errors;
    crate::parse::sort(&mut errors);
    errors
}

struct Checker<'s> {
    sys: &'s System,
    errors: Vec<Diagnostic>,
}

/// The diagnostic for a supervisor's window from `base` to `end` that
/// does not fit below [`SHARED_BASE`].
pub(crate) fn window_too_big(supervisor: &str, base: u64, end: u64) -> String {
    format!(
        "the memory of the components supervisor '{supervisor}' supervises ({} MiB from {base:#x}, with guard pages) does not fit below {SHARED_BASE:#x} ({} MiB free above its heap)",
        (end - base).div_ceil(1 << 20),
        SHARED_BASE.saturating_sub(base) >> 20
    )
}

fn at(o: Origin) -> String {
    format!("{}:{}", o.line, o.column)
}

impl Checker<'_> {
    fn error(&mut self, origin: Origin, message: impl Into<String>) {
        self.errors
            .push(Diagnostic::at(&self.sys.file, origin, message));
    }

    /// `what 'item' names role 'name', which is not a component`, unless it is one.
    fn component_ref(&mut self, origin: Origin, what: &str, role: &str, name: &str) -> bool {
        if self.sys.component(name).is_some() {
            return true;
        }
        self.error(
            origin,
            format!("{what} names {role} '{name}', which is not a component"),
        );
        false
    }

    fn system(&mut self) {
        if self.sys.name.is_empty() {
            self.error(
                self.sys.spans.at("name"),
                "expected a system name (a non-empty string), found \"\"",
            );
        }
    }

    fn names(&mut self) {
        let sys = self.sys;
        let mut components: HashMap<&str, Origin> = HashMap::new();
        for c in &sys.components {
            let o = c.spans.at("name");
            if let Some(first) = components.get(c.name.as_str()) {
                self.error(
                    o,
                    format!(
                        "duplicate component name '{}' (first declared at {})",
                        c.name,
                        at(*first)
                    ),
                );
            } else {
                components.insert(&c.name, o);
            }
        }
        let items = sys
            .channels
            .iter()
            .map(|c| ("[[channel]]", &c.name, c.spans.at("name")))
            .chain(
                sys.notifications
                    .iter()
                    .map(|n| ("[[notification]]", &n.name, n.spans.at("name"))),
            )
            .chain(
                sys.irqs
                    .iter()
                    .map(|i| ("[[irq]]", &i.name, i.spans.at("name"))),
            )
            .chain(
                sys.devices
                    .iter()
                    .map(|d| ("[[device]]", &d.name, d.spans.at("name"))),
            )
            .chain(sys.shared_memory.iter().map(|s| {
                let kind = if s.buffer_of.is_some() {
                    "a channel's per-client buffer"
                } else {
                    "[[shared_memory]]"
                };
                (kind, &s.name, s.spans.at("name"))
            }));
        let mut seen: HashMap<&str, (&str, Origin)> = HashMap::new();
        let mut all: Vec<(&str, &String, Origin)> = items.collect();
        all.sort_by_key(|(_, _, o)| (o.line, o.column));
        for (kind, name, o) in all {
            if let Some((first_kind, first)) = seen.get(name.as_str()) {
                self.error(
                    o,
                    format!(
                        "duplicate name '{name}': {first_kind} '{name}' at {} already has it (channels, notifications, IRQs, devices and shared memory share one namespace)",
                        at(*first)
                    ),
                );
                let _ = kind;
            } else {
                seen.insert(name, (kind, o));
            }
        }
    }

    fn components(&mut self) {
        let sys = self.sys;
        for c in &sys.components {
            let Some(h) = &c.fault_handler else { continue };
            let o = c.spans.at("fault_handler");
            if h == &c.name {
                self.error(
                    o,
                    format!(
                        "component '{}' is its own fault_handler; a thread cannot handle its own faults",
                        c.name
                    ),
                );
            } else {
                self.component_ref(o, &format!("component '{}'", c.name), "fault_handler", h);
            }
        }
    }

    /// At most one supervisor; every supervised component needs it, and
    /// its faults go to it.
    fn supervision(&mut self) {
        let sys = self.sys;
        let mut supervisors = sys.components.iter().filter(|c| c.supervisor);
        let first = supervisors.next();
        for c in supervisors {
            let s = first.expect("a first supervisor");
            self.error(
                c.spans.at("supervisor"),
                format!(
                    "component '{}' is a second supervisor: component '{}' (at {}) already is; a system has at most one",
                    c.name,
                    s.name,
                    at(s.spans.at("supervisor"))
                ),
            );
        }
        for (_, c) in sys.supervised() {
            let Some(s) = first else {
                self.error(
                    c.spans.at("restart"),
                    format!(
                        "component '{}' has restart = \"always\", but no component of the system is its supervisor; expected a component with supervisor = true",
                        c.name
                    ),
                );
                continue;
            };
            match c.fault_handler.as_deref() {
                Some(h) if h != s.name => self.error(
                    c.spans.at("fault_handler"),
                    format!(
                        "component '{}' is supervised (restart = \"always\"), so its faults go to supervisor '{}', but it names fault_handler '{h}'; leave fault_handler unset or name '{}'",
                        c.name, s.name, s.name
                    ),
                ),
                _ => {}
            }
        }
    }

    fn channels(&mut self) {
        let sys = self.sys;
        for ch in &sys.channels {
            let what = format!("channel '{}'", ch.name);
            self.component_ref(ch.spans.at("server"), &what, "server", &ch.server);
            if ch.clients.is_empty() {
                self.error(
                    ch.spans.at("clients"),
                    format!("{what} has no clients, expected at least one"),
                );
            }
            let mut seen: HashMap<(&str, bool), Origin> = HashMap::new();
            let mut badges: HashMap<u64, (&str, Origin)> = HashMap::new();
            for client in &ch.clients {
                let name = client.component.as_str();
                self.component_ref(client.origin, &what, "client", name);
                // A server may hold sessions of its own channel to hand
                // out (a process manager gives each process one), but
                // never call itself.
                if name == ch.server && client.sessions == 0 {
                    self.error(
                        client.origin,
                        format!("component '{name}' is both the server and a client of {what}"),
                    );
                }
                // A component may hold sessions besides calling itself.
                let key = (name, client.sessions > 0);
                if let Some(first) = seen.get(&key) {
                    self.error(
                        client.origin,
                        format!(
                            "component '{name}' is a client of {what} twice (first at {})",
                            at(*first)
                        ),
                    );
                    continue;
                }
                seen.insert(key, client.origin);
                // A client with sessions takes one badge per session.
                let count = client.sessions.max(1);
                if client.badge + count - 1 > u64::from(u32::MAX) {
                    self.error(
                        client.origin,
                        format!(
                            "client '{name}' of {what}: badges {}..={} of its {count} sessions pass 4294967295",
                            client.badge,
                            client.badge + count - 1
                        ),
                    );
                    continue;
                }
                let clash = (client.badge..client.badge + count)
                    .find_map(|b| badges.get(&b).map(|&(other, first)| (b, other, first)));
                if let Some((badge, other, first)) = clash {
                    self.error(
                        client.origin,
                        format!(
                            "client '{name}' of {what} has badge {badge}, which client '{other}' (at {}) already has; badges are unique per channel",
                            at(first)
                        ),
                    );
                } else {
                    for b in client.badge..client.badge + count {
                        badges.insert(b, (name, client.origin));
                    }
                }
            }
        }
    }

    fn notifications(&mut self) {
        let sys = self.sys;
        for n in &sys.notifications {
            let what = format!("notification '{}'", n.name);
            self.component_ref(n.spans.at("waiter"), &what, "waiter", &n.waiter);
            if n.signallers.is_empty() {
                self.error(
                    n.spans.at("signallers"),
                    format!("{what} has no signallers, expected at least one"),
                );
            }
            let mut seen: HashMap<&str, Origin> = HashMap::new();
            for (i, s) in n.signallers.iter().enumerate() {
                let o = n.spans.at(&format!("signallers.{i}"));
                self.component_ref(o, &what, "signaller", s);
                if let Some(first) = seen.get(s.as_str()) {
                    self.error(
                        o,
                        format!(
                            "component '{s}' is a signaller of {what} twice (first at {})",
                            at(*first)
                        ),
                    );
                } else {
                    seen.insert(s, o);
                }
            }
        }
    }

    fn irqs(&mut self) {
        let sys = self.sys;
        let mut claimed: HashMap<u64, (&str, Origin)> = HashMap::new();
        for irq in &sys.irqs {
            let what = format!("irq '{}'", irq.name);
            self.component_ref(
                irq.spans.at("component"),
                &what,
                "component",
                &irq.component,
            );
            let o = irq.spans.at("irq");
            if let Some((first, first_at)) = claimed.get(&irq.irq) {
                self.error(
                    o,
                    format!(
                        "IRQ {} is claimed twice: by irq '{first}' (at {}) and by irq '{}'",
                        irq.irq,
                        at(*first_at),
                        irq.name
                    ),
                );
            } else {
                claimed.insert(irq.irq, (&irq.name, o));
            }
        }
    }

    fn devices(&mut self) {
        let sys = self.sys;
        let mut regions: Vec<(&str, u64, u64, Origin)> = Vec::new();
        for d in &sys.devices {
            let what = format!("device '{}'", d.name);
            self.component_ref(d.spans.at("component"), &what, "component", &d.component);
            let o = d.spans.at("paddr");
            let Some(end) = d.paddr.checked_add(d.size) else {
                self.error(
                    o,
                    format!(
                        "{what} at paddr {:#x} with size {} runs past the end of the physical address space",
                        d.paddr,
                        size_text(d.size)
                    ),
                );
                continue;
            };
            for &(other, start, other_end, first) in &regions {
                if d.paddr < other_end && start < end {
                    self.error(
                        o,
                        format!(
                            "{what} ({:#x}..{end:#x}) overlaps device '{other}' ({start:#x}..{other_end:#x}, at {}); a device region is claimed once",
                            d.paddr,
                            at(first)
                        ),
                    );
                }
            }
            regions.push((&d.name, d.paddr, end, o));
        }
    }

    fn shared(&mut self) {
        let sys = self.sys;
        for s in &sys.shared_memory {
            let what = format!("shared_memory '{}'", s.name);
            if s.mappings.is_empty() {
                self.error(
                    s.spans.at("mappings"),
                    format!("{what} has no mappings, expected at least one"),
                );
            }
            let mut seen: HashMap<&str, Origin> = HashMap::new();
            for m in &s.mappings {
                self.component_ref(m.origin, &what, "component", &m.component);
                if let Some(first) = seen.get(m.component.as_str()) {
                    self.error(
                        m.origin,
                        format!(
                            "component '{}' maps {what} twice (first at {})",
                            m.component,
                            at(*first)
                        ),
                    );
                } else {
                    seen.insert(&m.component, m.origin);
                }
            }
            if let Some(d) = &s.dma {
                self.dma(s, d, &what);
            }
        }
    }

    /// A region's `dma` component must map it read-write (its device writes
    /// there) and drive a device.
    fn dma(&mut self, s: &crate::model::SharedMemory, d: &str, what: &str) {
        let sys = self.sys;
        let o = s.spans.at("dma");
        if !self.component_ref(o, what, "dma", d) {
            return;
        }
        match s.mappings.iter().find(|m| m.component == d) {
            None => self.error(
                o,
                format!("{what} names dma '{d}', which does not map it; expected one of its mappings"),
            ),
            Some(m) if m.perms != crate::model::Perms::ReadWrite => self.error(
                o,
                format!("{what} names dma '{d}', which maps it \"r\"; a device's memory must be mapped \"rw\" by its driver"),
            ),
            Some(_) => {}
        }
        if !sys.devices.iter().any(|dev| dev.component == d) {
            self.error(
                o,
                format!("{what} names dma '{d}', which drives no [[device]]"),
            );
        }
    }

    /// The RAM that stacks, IPC buffers, heaps and shared memory take
    /// alone must fit in `memory` (the expansion counts every object).
    fn memory(&mut self) {
        let sys = self.sys;
        let components = sys
            .components
            .iter()
            .map(|c| c.stack.saturating_add(c.heap).saturating_add(PAGE_SIZE));
        let shared = sys.shared_memory.iter().map(|s| s.size);
        let needed = components.chain(shared).fold(0u64, u64::saturating_add);
        if needed > sys.memory {
            self.error(
                sys.spans.at("memory"),
                format!(
                    "the stacks, IPC buffers, heaps and shared memory alone need {}, more than memory = {}",
                    size_text(needed),
                    size_text(sys.memory)
                ),
            );
        }
    }

    /// The supervisor's window must hold what the description alone fixes
    /// (the expansion adds the images).
    fn window(&mut self) {
        let sys = self.sys;
        let Some(w) = crate::layout::supervision_window(sys) else {
            return;
        };
        if w.images > SHARED_BASE {
            let s = &sys.components[w.supervisor];
            self.error(s.spans.header, window_too_big(&s.name, w.base, w.images));
        }
    }

    /// Room in each component: notification bits, CSpace slots, address
    /// windows, and generated constants that do not collide.
    fn per_component(&mut self) {
        let sys = self.sys;
        let sound = self.errors.is_empty();
        for (index, c) in sys.components.iter().enumerate() {
            let header = c.spans.header;
            let what = format!("component '{}'", c.name);
            let bits = bits_needed(sys, &c.name);
            if bits > NOTIFICATION_BITS {
                self.error(
                    header,
                    format!("{what} needs {bits} notification bits (its IRQs and the notifications it waits on); a notification word has {NOTIFICATION_BITS}"),
                );
            }
            let layout = Layout::new(sys, index);
            let slots = 1u64 << c.cnode_bits.min(63);
            if layout.first_free > slots {
                self.error(
                    c.spans.at("cnode_bits"),
                    format!(
                        "{what} needs {} CSpace slots (0..={}) but cnode_bits = {} gives {slots}",
                        layout.first_free,
                        layout.first_free - 1,
                        c.cnode_bits
                    ),
                );
            }
            let max_stack = STACK_TOP - IMAGE_BASE - 2 * PAGE_SIZE;
            if c.stack > max_stack {
                self.error(
                    c.spans.at("stack"),
                    format!(
                        "{what} has a stack of {}, which leaves no room for its program below {STACK_TOP:#x}; at most {}",
                        size_text(c.stack),
                        size_text(max_stack)
                    ),
                );
            }
            if c.heap > SHARED_BASE - HEAP_BASE {
                self.error(
                    c.spans.at("heap"),
                    format!(
                        "{what} has a heap of {}; the heap window {HEAP_BASE:#x}..{SHARED_BASE:#x} holds at most {}",
                        size_text(c.heap),
                        size_text(SHARED_BASE - HEAP_BASE)
                    ),
                );
            }
            let shared_end = layout.shared_end(sys);
            if shared_end.saturating_add(PAGE_SIZE) > DEVICE_BASE {
                self.error(
                    header,
                    format!(
                        "{what}'s shared memory, with a guard page after each region, ends at {:#x}, past its shared window {SHARED_BASE:#x}..{DEVICE_BASE:#x} ({})",
                        shared_end.saturating_add(PAGE_SIZE),
                        size_text(DEVICE_BASE - SHARED_BASE)
                    ),
                );
            }
            let devices_end = layout.devices_end(sys);
            if devices_end.saturating_add(PAGE_SIZE) > VSPACE_LIMIT {
                self.error(
                    header,
                    format!(
                        "{what}'s devices, with a guard page after each region, end at {:#x}, past its device window {DEVICE_BASE:#x}..{VSPACE_LIMIT:#x} ({})",
                        devices_end.saturating_add(PAGE_SIZE),
                        size_text(VSPACE_LIMIT - DEVICE_BASE)
                    ),
                );
            }
            // Colliding constants follow from other problems (duplicate
            // names, above all): report them only for an otherwise sound system.
            if !sound {
                continue;
            }
            for (module, constants) in [
                ("caps", &layout.caps),
                ("addrs", &layout.addrs),
                ("badges", &layout.badges),
            ] {
                let mut seen: HashMap<&str, &str> = HashMap::new();
                for k in constants.iter() {
                    if let Some(first) = seen.get(k.name.as_str()) {
                        self.error(
                            header,
                            format!(
                                "{what} would get two constants named {module}::{}: \"{first}\" and \"{}\"; rename one of the items",
                                k.name, k.doc
                            ),
                        );
                    } else {
                        seen.insert(&k.name, &k.doc);
                    }
                }
            }
        }
    }
}
