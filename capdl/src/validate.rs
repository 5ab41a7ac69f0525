//! The validator: the checks a spec must pass before it is encoded and
//! booted. Each failure is a [`Diagnostic`] naming the place (the line and
//! column the item was parsed from) and what is wrong.
//!
//! It rejects undefined and duplicate names, caps of the wrong type for
//! their slot, illegal sizes, overlapping mappings, slots outside their
//! CNode or table, rights and attributes a cap type does not have, and IRQs
//! out of range. It never panics, whatever the model holds.

use std::collections::{HashMap, HashSet};

use cerne_abi::ipc_buffer::IPC_BUFFER_SIZE_BITS;
use cerne_abi::lookup::{GUARD_BITS, GUARD_SIZE_BITS};
use cerne_abi::object::{MAX_UNTYPED_BITS, MIN_UNTYPED_BITS, SLOT_BITS};
use cerne_abi::rights::CapRights;
use cerne_abi::vm::{NUM_ASID_POOLS, PT_INDEX_BITS, USER_TOP};

use crate::diagnostic::Diagnostic;
use crate::model::{
    Cap, CapSlot, CapTarget, Frame, Object, ObjectKind, ObjectName, Origin, PageTableLevel, Spec,
    TcbCapKind, TCB_SLOT_BOUND_NOTIFICATION, TCB_SLOT_CALLER, TCB_SLOT_CSPACE, TCB_SLOT_FAULT_EP,
    TCB_SLOT_IPC_BUFFER, TCB_SLOT_NAMES, TCB_SLOT_REPLY, TCB_SLOT_VSPACE,
};
use crate::parser::article;

/// Platform and configuration numbers the checks use. The defaults are
/// this kernel's (docs/sel4-abi.md §1: qemu-arm-virt, non-MCS, uniprocessor).
#[derive(Clone, Debug)]
pub struct Limits {
    /// The highest IRQ number (maxIRQ).
    pub max_irq: u64,
    /// NUM_PRIORITIES: priorities are 0 to this minus one.
    pub num_priorities: u64,
    /// NUM_DOMAINS.
    pub num_domains: u64,
    /// Cores (affinity and IRQ targets are below it).
    pub num_cores: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_irq: crate::MAX_IRQ,
            num_priorities: 256,
            num_domains: 1,
            num_cores: 1,
        }
    }
}

/// Entries of a table: 512 (9 index bits).
const TABLE_ENTRIES: u64 = 1 << PT_INDEX_BITS;

/// Checks `spec`; `file` names the source in diagnostics. Returns every
/// problem found, in the order the checks met them.
pub fn validate(spec: &Spec, file: &str, limits: &Limits) -> Result<(), Vec<Diagnostic>> {
    let mut v = Validator {
        spec,
        file,
        limits,
        errors: Vec::new(),
        by_name: HashMap::new(),
    };
    v.names();
    for object in &spec.objects {
        v.object_params(object);
    }
    for object in &spec.objects {
        v.slots(object);
    }
    v.mappings();
    v.irqs();
    v.cdt();
    v.covers();
    if v.errors.is_empty() {
        Ok(())
    } else {
        // In source order; items without a position (built by a tool) last.
        v.errors.sort_by_key(|d| (d.line == 0, d.line, d.column));
        Err(v.errors)
    }
}

struct Validator<'a> {
    spec: &'a Spec,
    file: &'a str,
    limits: &'a Limits,
    errors: Vec<Diagnostic>,
    by_name: HashMap<&'a ObjectName, usize>,
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic())
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '@' | '.'))
}

/// How a message names a cap's type.
fn cap_type(kind: &ObjectKind, cap: &Cap) -> String {
    match (kind, cap.tcb_kind) {
        (ObjectKind::Tcb(_), TcbCapKind::Reply) => "reply cap".to_string(),
        (ObjectKind::Tcb(_), TcbCapKind::MasterReply) => "master reply cap".to_string(),
        (ObjectKind::Frame(f), _) => format!("{} frame cap", size_text(f.size)),
        (ObjectKind::Irq { .. }, _) => "IRQ handler cap".to_string(),
        (ObjectKind::SgiSignal { .. }, _) => "SGI signal cap".to_string(),
        (ObjectKind::Untyped(_), _) => "untyped cap".to_string(),
        (k, _) => format!("{} cap", k.keyword()),
    }
}

fn size_text(size: u64) -> String {
    match size {
        s if s >= 1 << 30 && s % (1 << 30) == 0 => format!("{} GiB", s >> 30),
        s if s >= 1 << 20 && s % (1 << 20) == 0 => format!("{} MiB", s >> 20),
        s if s >= 1 << 10 && s % (1 << 10) == 0 => format!("{} KiB", s >> 10),
        s => format!("{s}-byte"),
    }
}

fn parse_number(word: &str) -> Option<u64> {
    if let Some(hex) = word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else {
        word.parse().ok()
    }
}

/// Bytes mapped by one entry of a table at this level (0 = VSpace).
fn entry_span(level: u8) -> u64 {
    1u64 << (12 + PT_INDEX_BITS as u64 * (3 - level as u64))
}

impl<'a> Validator<'a> {
    fn error(&mut self, origin: Origin, message: impl Into<String>) {
        self.errors.push(Diagnostic::at(self.file, origin, message));
    }

    fn lookup(&self, name: &ObjectName) -> Option<&'a Object> {
        self.by_name.get(name).map(|&i| &self.spec.objects[i])
    }

    // ---- names -----------------------------------------------------------

    fn names(&mut self) {
        let spec = self.spec;
        let mut plain: HashSet<&str> = HashSet::new();
        let mut arrays: HashMap<&str, (u64, usize)> = HashMap::new();
        for (i, object) in spec.objects.iter().enumerate() {
            let name = &object.name;
            if !is_identifier(&name.base) {
                self.error(object.origin, format!("'{}' is not a capDL name (a letter, then letters, digits, '_', '-', '@' or '.')", name.base));
            }
            if matches!(
                name.base.as_str(),
                "irq_control" | "asid_control" | "domain" | "sched_control" | "io_space_master"
            ) {
                self.error(
                    object.origin,
                    format!(
                        "'{}' names a kernel cap in capDL and cannot name an object",
                        name.base
                    ),
                );
            }
            if let Some(&first) = self.by_name.get(name) {
                let at = spec.objects[first].origin;
                self.error(
                    object.origin,
                    format!(
                        "duplicate object name '{name}' (first declared at {}:{})",
                        at.line, at.column
                    ),
                );
                continue;
            }
            self.by_name.insert(name, i);
            match name.index {
                None => {
                    if arrays.contains_key(name.base.as_str()) {
                        self.error(
                            object.origin,
                            format!(
                                "'{}' is declared both as an array and as a single object",
                                name.base
                            ),
                        );
                    }
                    plain.insert(&name.base);
                }
                Some(index) => {
                    if plain.contains(name.base.as_str()) {
                        self.error(
                            object.origin,
                            format!(
                                "'{}' is declared both as an array and as a single object",
                                name.base
                            ),
                        );
                        continue;
                    }
                    match arrays.get(name.base.as_str()) {
                        None if index != 0 => self.error(
                            object.origin,
                            format!("array '{}' must start at element 0, not {index}", name.base),
                        ),
                        None => {
                            arrays.insert(&name.base, (1, i));
                        }
                        Some(&(next, first)) => {
                            if index != next || i != first + next as usize {
                                self.error(object.origin, format!("element '{name}' is out of place: the elements of an array are declared together, in order"));
                            }
                            let mut a = spec.objects[first].kind.clone();
                            let mut b = object.kind.clone();
                            for k in [&mut a, &mut b] {
                                if let ObjectKind::Untyped(u) = k {
                                    u.covers.clear();
                                }
                            }
                            if a != b {
                                self.error(object.origin, format!("element '{name}' is {} {} but '{}' is {} {}: the elements of an array have one type and parameters", article(b.keyword()), b.keyword(), spec.objects[first].name, article(a.keyword()), a.keyword()));
                            }
                            arrays.insert(&name.base, (next + 1, first));
                        }
                    }
                }
            }
        }
    }

    // ---- objects ---------------------------------------------------------

    fn object_params(&mut self, object: &Object) {
        let at = object.origin;
        let name = &object.name;
        match &object.kind {
            ObjectKind::Untyped(u) => {
                if let Some(bits) = u.size_bits {
                    if !(MIN_UNTYPED_BITS as u64..=MAX_UNTYPED_BITS as u64).contains(&bits) {
                        self.error(at, format!("untyped '{name}' has {bits} bits; an untyped has {MIN_UNTYPED_BITS} to {MAX_UNTYPED_BITS} bits"));
                    } else if let Some(paddr) = u.paddr {
                        if paddr % (1u64 << bits) != 0 {
                            self.error(at, format!("untyped '{name}' at paddr {paddr:#x} is not aligned to its size (2^{bits} bytes)"));
                        }
                    }
                }
            }
            ObjectKind::CNode { size_bits } => {
                let max = MAX_UNTYPED_BITS as u64 - SLOT_BITS as u64;
                if *size_bits == 0 || *size_bits > max {
                    self.error(
                        at,
                        format!("cnode '{name}' has {size_bits} bits; a CNode has 1 to {max} bits"),
                    );
                }
            }
            ObjectKind::Frame(f) => self.frame_params(at, name, f),
            ObjectKind::Tcb(t) => {
                for (what, value) in [("prio", t.prio), ("max_prio", t.max_prio)] {
                    if let Some(p) = value {
                        if p >= self.limits.num_priorities {
                            self.error(
                                at,
                                format!(
                                    "tcb '{name}' has {what} {p}; priorities are 0 to {}",
                                    self.limits.num_priorities - 1
                                ),
                            );
                        }
                    }
                }
                if let Some(d) = t.dom {
                    if d >= self.limits.num_domains {
                        self.error(at, format!("tcb '{name}' is in domain {d}; this kernel has {} domain(s), numbered from 0", self.limits.num_domains));
                    }
                }
                if let Some(a) = t.affinity {
                    if a >= self.limits.num_cores {
                        self.error(
                            at,
                            format!(
                                "tcb '{name}' has affinity {a}; this kernel has {} core(s)",
                                self.limits.num_cores
                            ),
                        );
                    }
                }
                if let Some(addr) = t.ipc_buffer_addr {
                    if addr % (1 << IPC_BUFFER_SIZE_BITS) != 0 || addr > USER_TOP {
                        self.error(at, format!("tcb '{name}' has its IPC buffer at {addr:#x}; it must be a user address aligned to {} bytes", 1 << IPC_BUFFER_SIZE_BITS));
                    }
                }
                for (what, value) in [("ip", t.ip), ("sp", t.sp)] {
                    if let Some(v) = value {
                        if v > USER_TOP {
                            self.error(at, format!("tcb '{name}' has {what} {v:#x}, above the last user address {USER_TOP:#x}"));
                        }
                    }
                }
            }
            ObjectKind::AsidPool { asid_high: Some(h) } if *h >= NUM_ASID_POOLS as u64 => {
                self.error(at, format!("asid_pool '{name}' has asid_high {h:#x}; there are {NUM_ASID_POOLS} pools, 0 to {:#x}", NUM_ASID_POOLS - 1));
            }
            ObjectKind::Irq { arm: Some(a) } if a.target >= self.limits.num_cores => {
                self.error(
                    at,
                    format!(
                        "arm_irq '{name}' targets core {}; this kernel has {} core(s)",
                        a.target, self.limits.num_cores
                    ),
                );
            }
            ObjectKind::SgiSignal { irq, target } => {
                if *irq >= 16 {
                    self.error(
                        at,
                        format!("arm_sgi_signal '{name}' has irq {irq}; SGIs are 0 to 15"),
                    );
                }
                if *target >= self.limits.num_cores {
                    self.error(at, format!("arm_sgi_signal '{name}' targets core {target}; this kernel has {} core(s)", self.limits.num_cores));
                }
            }
            _ => {}
        }
    }

    fn frame_params(&mut self, at: Origin, name: &ObjectName, f: &Frame) {
        let Some(bits) = f.size_bits() else {
            self.error(
                at,
                format!(
                    "frame '{name}' is {} bytes; frames are 4k, 2M or 1024M (4 KiB, 2 MiB, 1 GiB)",
                    f.size
                ),
            );
            return;
        };
        if let Some(paddr) = f.paddr {
            if paddr % f.size != 0 || paddr.checked_add(f.size).is_none() {
                self.error(
                    at,
                    format!(
                        "frame '{name}' at paddr {paddr:#x} is not aligned to its size ({})",
                        size_text(1 << bits)
                    ),
                );
            }
        }
        for (k, entry) in f.fill.iter().enumerate() {
            let numbers: Vec<Option<u64>> = entry.iter().take(2).map(|w| parse_number(w)).collect();
            match numbers.as_slice() {
                [Some(offset), Some(length)] => {
                    if offset.checked_add(*length).is_none_or(|end| end > f.size) {
                        self.error(at, format!("fill entry {} of frame '{name}' covers bytes {offset:#x}..+{length:#x}, beyond the frame's {} bytes", k + 1, f.size));
                    }
                }
                _ => self.error(
                    at,
                    format!(
                        "fill entry {} of frame '{name}' must start with an offset and a length",
                        k + 1
                    ),
                ),
            }
        }
    }

    // ---- slots -----------------------------------------------------------

    fn slots(&mut self, container: &Object) {
        let name = &container.name;
        let mut previous: Option<&CapSlot> = None;
        for entry in &container.slots {
            if let Some(prev) = previous.filter(|p| p.slot == entry.slot) {
                let what = |s: &CapSlot| match &s.cap.target {
                    CapTarget::Object(n) => format!("'{n}'"),
                    CapTarget::IrqControl => "irq_control".to_string(),
                    CapTarget::AsidControl => "asid_control".to_string(),
                    CapTarget::Domain => "domain".to_string(),
                };
                if matches!(
                    container.kind,
                    ObjectKind::VSpace | ObjectKind::PageTable { .. }
                ) {
                    let vaddr = self.slot_vaddr(container, entry.slot);
                    self.error(
                        entry.origin,
                        format!(
                            "overlapping mappings: slot {} of '{name}'{} holds both {} and {}",
                            entry.slot,
                            vaddr
                                .map(|v| format!(" (vaddr {v:#x})"))
                                .unwrap_or_default(),
                            what(prev),
                            what(entry)
                        ),
                    );
                } else {
                    self.error(
                        entry.origin,
                        format!(
                            "slot {} of '{name}' is filled twice ({} and {})",
                            entry.slot,
                            what(prev),
                            what(entry)
                        ),
                    );
                }
            }
            previous = Some(entry);
            self.slot(container, entry);
        }
    }

    fn slot(&mut self, container: &Object, entry: &CapSlot) {
        let name = &container.name;
        let at = entry.origin;
        let slot = entry.slot;
        let cap = &entry.cap;
        // The object the cap points at, if any.
        let target = match &cap.target {
            CapTarget::Object(t) => match self.lookup(t) {
                Some(o) => Some(o),
                None => {
                    self.error(
                        at,
                        format!("slot {slot} of '{name}' names '{t}', which is not declared"),
                    );
                    return;
                }
            },
            _ => None,
        };
        self.cap_attributes(name, slot, at, cap, target.map(|o| &o.kind));
        let cap_text = match (target, &cap.target) {
            (Some(o), _) => {
                let t = cap_type(&o.kind, cap);
                format!("{} {t} to '{}'", article(&t), o.name)
            }
            (None, CapTarget::IrqControl) => "the IRQ control cap".to_string(),
            (None, CapTarget::AsidControl) => "the ASID control cap".to_string(),
            (None, _) => "the domain cap".to_string(),
        };
        let kind = target.map(|o| &o.kind);
        match &container.kind {
            ObjectKind::CNode { size_bits } => {
                if *size_bits < 64 && slot >= 1u64 << size_bits {
                    self.error(at, format!("slot {slot} is outside cnode '{name}' ({size_bits} bits: slots 0 to {})", (1u64 << size_bits) - 1));
                }
            }
            ObjectKind::Tcb(_) => {
                let (slot_name, ok, wanted) = match slot {
                    TCB_SLOT_CSPACE => (
                        "cspace",
                        matches!(kind, Some(ObjectKind::CNode { .. })),
                        "a cnode cap",
                    ),
                    TCB_SLOT_VSPACE => (
                        "vspace",
                        matches!(kind, Some(ObjectKind::VSpace)),
                        "a pgd (VSpace) cap",
                    ),
                    TCB_SLOT_REPLY => (
                        "reply_slot",
                        matches!(kind, Some(ObjectKind::Tcb(_)))
                            && cap.tcb_kind == TcbCapKind::MasterReply,
                        "a master reply cap",
                    ),
                    TCB_SLOT_CALLER => (
                        "caller_slot",
                        matches!(kind, Some(ObjectKind::Tcb(_)))
                            && cap.tcb_kind == TcbCapKind::Reply,
                        "a reply cap",
                    ),
                    TCB_SLOT_IPC_BUFFER => (
                        "ipc_buffer_slot",
                        matches!(kind, Some(ObjectKind::Frame(_))),
                        "a frame cap (the IPC buffer)",
                    ),
                    TCB_SLOT_FAULT_EP => (
                        "fault_ep_slot",
                        matches!(kind, Some(ObjectKind::Endpoint)),
                        "an endpoint cap",
                    ),
                    TCB_SLOT_BOUND_NOTIFICATION => (
                        "bound_notification",
                        matches!(kind, Some(ObjectKind::Notification)),
                        "a notification cap",
                    ),
                    _ => {
                        let known = TCB_SLOT_NAMES
                            .iter()
                            .find(|(_, s)| *s == slot)
                            .map(|(n, _)| format!(" ({n})"))
                            .unwrap_or_default();
                        self.error(at, format!("tcb '{name}' has no slot {slot}{known} in this subset (slots: 0 cspace, 1 vspace, 2 reply_slot, 3 caller_slot, 4 ipc_buffer_slot, 5 fault_ep_slot, 8 bound_notification)"));
                        return;
                    }
                };
                if !ok {
                    self.error(at, format!("slot {slot} ({slot_name}) of tcb '{name}' must hold {wanted}, not {cap_text}"));
                }
            }
            ObjectKind::VSpace | ObjectKind::PageTable { .. } => {
                let level = match container.kind {
                    ObjectKind::PageTable { level } => level.number(),
                    _ => 0,
                };
                let table_kind = container.kind.keyword();
                if slot >= TABLE_ENTRIES {
                    self.error(at, format!("slot {slot} is outside {table_kind} '{name}' (a table has {TABLE_ENTRIES} entries: 0 to {})", TABLE_ENTRIES - 1));
                    return;
                }
                let (ok, wanted) = match level {
                    0 => (
                        matches!(
                            kind,
                            Some(ObjectKind::PageTable {
                                level: PageTableLevel::Pud
                            })
                        ),
                        "a pud cap".to_string(),
                    ),
                    1 => (
                        matches!(
                            kind,
                            Some(ObjectKind::PageTable {
                                level: PageTableLevel::Pd
                            })
                        ) || self.frame_of_span(kind, 1),
                        "a pd cap or a 1 GiB frame cap".to_string(),
                    ),
                    2 => (
                        matches!(
                            kind,
                            Some(ObjectKind::PageTable {
                                level: PageTableLevel::Pt
                            })
                        ) || self.frame_of_span(kind, 2),
                        "a pt cap or a 2 MiB frame cap".to_string(),
                    ),
                    _ => (self.frame_of_span(kind, 3), "a 4 KiB frame cap".to_string()),
                };
                if !ok {
                    self.error(at, format!("slot {slot} of {table_kind} '{name}' must hold {wanted}, not {cap_text}"));
                }
                if level == 0 && slot * entry_span(0) > USER_TOP {
                    self.error(at, format!("slot {slot} of pgd '{name}' maps vaddr {:#x}, above the last user address {USER_TOP:#x}", slot * entry_span(0)));
                }
            }
            ObjectKind::AsidPool { .. } => {
                if slot >= 1 << cerne_abi::vm::ASID_POOL_INDEX_BITS {
                    self.error(
                        at,
                        format!(
                            "slot {slot} is outside asid_pool '{name}' (slots 0 to {})",
                            (1u64 << cerne_abi::vm::ASID_POOL_INDEX_BITS) - 1
                        ),
                    );
                } else if !matches!(kind, Some(ObjectKind::VSpace)) {
                    self.error(at, format!("slot {slot} of asid_pool '{name}' must hold a pgd (VSpace) cap, not {cap_text}"));
                }
            }
            ObjectKind::Irq { .. } => {
                if slot != 0 {
                    self.error(
                        at,
                        format!("irq '{name}' has one slot, 0 (its notification), not {slot}"),
                    );
                } else if !matches!(kind, Some(ObjectKind::Notification)) {
                    self.error(
                        at,
                        format!(
                            "slot 0 of irq '{name}' must hold a notification cap, not {cap_text}"
                        ),
                    );
                }
            }
            other => {
                self.error(
                    at,
                    format!(
                        "'{name}' is {} {} object, which holds no caps",
                        article(other.keyword()),
                        other.keyword()
                    ),
                );
            }
        }
    }

    fn frame_of_span(&self, kind: Option<&ObjectKind>, level: u8) -> bool {
        matches!(kind, Some(ObjectKind::Frame(f)) if f.size == entry_span(level))
    }

    /// Rights and attributes: each cap type has its own.
    fn cap_attributes(
        &mut self,
        name: &ObjectName,
        slot: u64,
        at: Origin,
        cap: &Cap,
        kind: Option<&ObjectKind>,
    ) {
        let place = format!("the cap in slot {slot} of '{name}'");
        let type_text = kind
            .map(|k| cap_type(k, cap))
            .unwrap_or_else(|| "kernel cap".to_string());
        let is_a = format!("{place} is {} {type_text}", article(&type_text));
        let allowed_rights = match kind {
            Some(ObjectKind::Endpoint) => CapRights::ALL,
            Some(ObjectKind::Notification) => CapRights::READ_WRITE,
            Some(ObjectKind::Frame(_)) => {
                CapRights::from_word(CapRights::READ_WRITE.word() | CapRights::GRANT.word())
            }
            _ => CapRights::NONE,
        };
        if !allowed_rights.contains(cap.rights) {
            let extra = CapRights::from_word(cap.rights.word() & !allowed_rights.word());
            let letters: String = [
                (extra.read(), 'R'),
                (extra.write(), 'W'),
                (extra.grant(), 'G'),
                (extra.grant_reply(), 'P'),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, c)| *c)
            .collect();
            let allowed = match kind {
                Some(ObjectKind::Notification) => "R and W",
                Some(ObjectKind::Frame(_)) => "R, W and X (G)",
                _ => "none",
            };
            self.error(
                at,
                format!("{is_a}, which cannot have right(s) {letters} (allowed: {allowed})"),
            );
        }
        let is = |pred: fn(&ObjectKind) -> bool| kind.is_some_and(pred);
        if cap.badge != 0 && !is(|k| matches!(k, ObjectKind::Endpoint | ObjectKind::Notification)) {
            self.error(
                at,
                format!("{is_a}; only endpoint and notification caps have a badge"),
            );
        }
        if cap.guard != 0 || cap.guard_size != 0 {
            match kind {
                Some(ObjectKind::CNode { size_bits }) => {
                    if cap.guard_size >= 1 << GUARD_SIZE_BITS
                        || cap.guard_size.saturating_add(*size_bits) > 64
                    {
                        self.error(at, format!("{place} has guard_size {} with a {size_bits}-bit cnode; guard_size + radix must be at most 64", cap.guard_size));
                    } else if cap.guard_size < 64
                        && cap.guard >= 1u64 << cap.guard_size.min(GUARD_BITS as u64)
                    {
                        self.error(
                            at,
                            format!(
                                "{place} has guard {:#x}, which does not fit in guard_size {} bits",
                                cap.guard, cap.guard_size
                            ),
                        );
                    }
                }
                _ => self.error(at, format!("{is_a}; only cnode caps have a guard")),
            }
        }
        if (!cap.cached || cap.mapping.is_some()) && !is(|k| matches!(k, ObjectKind::Frame(_))) {
            self.error(
                at,
                format!("{is_a}; only frame caps are uncached or have a mapping"),
            );
        }
        if cap.asid.is_some()
            && !is(|k| {
                matches!(
                    k,
                    ObjectKind::Frame(_) | ObjectKind::PageTable { .. } | ObjectKind::VSpace
                )
            })
        {
            self.error(
                at,
                format!("{is_a}; only frame, page table and pgd caps have an asid"),
            );
        }
        if let Some((high, low)) = cap.asid {
            if high >= NUM_ASID_POOLS as u64 || low >= cerne_abi::vm::ASID_POOL_SIZE as u64 {
                self.error(at, format!("{place} has asid ({high:#x}, {low:#x}); pools are 0 to {:#x}, entries 0 to {:#x}", NUM_ASID_POOLS - 1, cerne_abi::vm::ASID_POOL_SIZE - 1));
            }
        }
        if cap.tcb_kind != TcbCapKind::Thread && !is(|k| matches!(k, ObjectKind::Tcb(_))) {
            self.error(
                at,
                format!("{is_a}; only tcb caps can be reply or master_reply caps"),
            );
        }
    }

    // ---- mappings --------------------------------------------------------

    /// The vaddr a slot of a table maps, when the table hangs in a VSpace.
    fn slot_vaddr(&self, table: &Object, slot: u64) -> Option<u64> {
        let (level, base) = self.table_base(table, 0)?;
        base.checked_add(slot.checked_mul(entry_span(level))?)
    }

    /// (level, base vaddr) of a table, found by walking up through the first
    /// table that holds a cap to it.
    fn table_base(&self, table: &Object, depth: u8) -> Option<(u8, u64)> {
        match table.kind {
            ObjectKind::VSpace => Some((0, 0)),
            ObjectKind::PageTable { level } if depth < 4 => {
                let (parent, slot) = self.spec.objects.iter().find_map(|o| {
                    if !matches!(o.kind, ObjectKind::VSpace | ObjectKind::PageTable { .. }) {
                        return None;
                    }
                    o.slots
                        .iter()
                        .find(|s| s.cap.target == CapTarget::Object(table.name.clone()))
                        .map(|s| (o, s.slot))
                })?;
                let (parent_level, parent_base) = self.table_base(parent, depth + 1)?;
                Some((
                    level.number(),
                    parent_base.checked_add(slot.checked_mul(entry_span(parent_level))?)?,
                ))
            }
            _ => None,
        }
    }

    fn mappings(&mut self) {
        let spec = self.spec;
        // Each table hangs in at most one place.
        let mut placed: HashMap<&ObjectName, (&ObjectName, u64)> = HashMap::new();
        for container in &spec.objects {
            if !matches!(
                container.kind,
                ObjectKind::VSpace | ObjectKind::PageTable { .. }
            ) {
                continue;
            }
            for entry in &container.slots {
                let CapTarget::Object(t) = &entry.cap.target else {
                    continue;
                };
                if !matches!(
                    self.lookup(t).map(|o| &o.kind),
                    Some(ObjectKind::PageTable { .. })
                ) {
                    continue;
                }
                if let Some((first, first_slot)) = placed.get(t) {
                    self.error(entry.origin, format!("overlapping mappings: page table '{t}' is mapped twice, in slot {first_slot} of '{first}' and in slot {} of '{}'", entry.slot, container.name));
                } else {
                    placed.insert(t, (&container.name, entry.slot));
                }
            }
        }
        // `mapping: (table, slot)` must name the slot that maps this frame.
        for container in &spec.objects {
            for entry in &container.slots {
                let Some((table, slot)) = &entry.cap.mapping else {
                    continue;
                };
                let Some(table_object) = self.lookup(&table.name) else {
                    self.error(table.origin, format!("the mapping of the cap in slot {} of '{}' names '{}', which is not declared", entry.slot, container.name, table.name));
                    continue;
                };
                let holds_it = matches!(
                    table_object.kind,
                    ObjectKind::VSpace | ObjectKind::PageTable { .. }
                ) && table_object
                    .slots
                    .iter()
                    .any(|s| s.slot == *slot && s.cap.target == entry.cap.target);
                if !holds_it {
                    self.error(table.origin, format!("the cap in slot {} of '{}' says it is mapped at slot {slot} of '{}', which does not map that frame", entry.slot, container.name, table.name));
                }
            }
        }
    }

    // ---- irqs, cdt, covers -----------------------------------------------

    fn irqs(&mut self) {
        let spec = self.spec;
        let mut numbers: HashMap<u64, &ObjectName> = HashMap::new();
        let mut mapped: HashSet<&ObjectName> = HashSet::new();
        for line in &spec.irqs {
            let at = line.object.origin;
            if line.irq > self.limits.max_irq {
                self.error(
                    at,
                    format!(
                        "IRQ {} is out of range: this platform's IRQs are 0 to {}",
                        line.irq, self.limits.max_irq
                    ),
                );
            }
            if line.irq == crate::KERNEL_TIMER_IRQ {
                self.error(
                    at,
                    format!(
                        "IRQ {} is the kernel's timer and cannot be mapped",
                        line.irq
                    ),
                );
            }
            if let Some(first) = numbers.insert(line.irq, &line.object.name) {
                self.error(
                    at,
                    format!(
                        "IRQ {} is mapped twice ('{first}' and '{}')",
                        line.irq, line.object.name
                    ),
                );
            }
            match self.lookup(&line.object.name) {
                None => self.error(
                    at,
                    format!(
                        "IRQ {} names '{}', which is not declared",
                        line.irq, line.object.name
                    ),
                ),
                Some(o) if !matches!(o.kind, ObjectKind::Irq { .. }) => self.error(
                    at,
                    format!(
                        "IRQ {} names '{}', {} {} object, not an irq object",
                        line.irq,
                        o.name,
                        article(o.kind.keyword()),
                        o.kind.keyword()
                    ),
                ),
                Some(o) => {
                    if !mapped.insert(&o.name) {
                        self.error(at, format!("irq object '{}' has two IRQ numbers", o.name));
                    }
                }
            }
        }
        for object in &spec.objects {
            if matches!(object.kind, ObjectKind::Irq { .. }) && !mapped.contains(&object.name) {
                self.error(
                    object.origin,
                    format!(
                        "irq object '{}' is not in 'irq maps', so it has no IRQ number",
                        object.name
                    ),
                );
            }
        }
    }

    fn cdt(&mut self) {
        let spec = self.spec;
        let mut parents: HashMap<(&ObjectName, u64), ()> = HashMap::new();
        for edge in &spec.cdt {
            for end in [&edge.parent, &edge.child] {
                match self.lookup(&end.object.name) {
                    None => self.error(
                        end.object.origin,
                        format!("cdt: '{}' is not declared", end.object.name),
                    ),
                    Some(o) if !o.slots.iter().any(|s| s.slot == end.slot) => self.error(
                        end.object.origin,
                        format!("cdt: slot {} of '{}' holds no cap", end.slot, o.name),
                    ),
                    _ => {}
                }
            }
            if edge.parent == edge.child {
                self.error(
                    edge.child.object.origin,
                    format!(
                        "cdt: slot {} of '{}' is its own parent",
                        edge.child.slot, edge.child.object.name
                    ),
                );
            }
            if parents
                .insert((&edge.child.object.name, edge.child.slot), ())
                .is_some()
            {
                self.error(
                    edge.child.object.origin,
                    format!(
                        "cdt: slot {} of '{}' has two parents",
                        edge.child.slot, edge.child.object.name
                    ),
                );
            }
        }
    }

    fn covers(&mut self) {
        let spec = self.spec;
        let mut covered_by: HashMap<&ObjectName, &ObjectName> = HashMap::new();
        for object in &spec.objects {
            let ObjectKind::Untyped(u) = &object.kind else {
                continue;
            };
            for child in &u.covers {
                if self.lookup(&child.name).is_none() {
                    self.error(
                        child.origin,
                        format!(
                            "untyped '{}' covers '{}', which is not declared",
                            object.name, child.name
                        ),
                    );
                    continue;
                }
                if child.name == object.name {
                    self.error(
                        child.origin,
                        format!("untyped '{}' covers itself", object.name),
                    );
                }
                if let Some(first) = covered_by.insert(&child.name, &object.name) {
                    if first != &object.name {
                        self.error(
                            child.origin,
                            format!(
                                "'{}' is covered by two untypeds, '{first}' and '{}'",
                                child.name, object.name
                            ),
                        );
                    }
                }
            }
        }
    }
}
