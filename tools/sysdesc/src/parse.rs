//! Reading a system description: TOML text to a [`System`], with every key
//! checked against the schema (docs/systems.md). Semantic checks across
//! items (names that resolve, no clashes) are [`crate::check`]'s.
//!
//! TOML syntax errors stop the reading and are reported at the position the
//! TOML parser gives. Schema errors (unknown or missing keys, values of the
//! wrong type or out of range) are all collected, each at the value or key
//! it concerns.

use std::ops::Range;
use std::path::Path;

use capdl::Diagnostic;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::model::{
    Channel, ChannelBuffer, Client, Component, Device, Irq, IrqTrigger, Notification, Origin,
    Perms, RestartPolicy, SharedMapping, SharedMemory, Spans, System,
};

/// The page size every size and address is a multiple of.
pub const PAGE_SIZE: u64 = 4096;
/// The default of `[system] memory`.
pub const DEFAULT_MEMORY: u64 = 512 << 20;
/// The default of a component's `stack`.
pub const DEFAULT_STACK: u64 = 16 << 10;
/// The default of a component's `cnode_bits`.
pub const DEFAULT_CNODE_BITS: u8 = 8;
/// The smallest `cnode_bits`.
pub const MIN_CNODE_BITS: u64 = 4;
/// The largest `cnode_bits`.
pub const MAX_CNODE_BITS: u64 = 16;
/// The first IRQ a system description may name: the GIC's PPIs start here
/// (16..=31, e.g. 30, the EL1 physical timer), then the SPIs from 32.
pub const MIN_IRQ: u64 = 16;
/// The most `[system] memory` may say: bounds the work of an expansion.
pub const MAX_MEMORY: u64 = 4 << 30;
/// The largest stack (the image needs room below it).
pub const MAX_STACK: u64 = 128 << 20;
/// The largest heap: its window, 0x2000_0000..0x3000_0000.
pub const MAX_HEAP: u64 = 256 << 20;
/// The largest device or shared region: the size of their windows.
pub const MAX_REGION: u64 = 128 << 20;
/// Names are at most this many characters.
pub const MAX_NAME_LEN: usize = 64;

const SECTIONS: &str = "[system], [[component]], [[channel]], [[notification]], [[irq]], [[device]], [[shared_memory]]";
const SYSTEM_KEYS: &[&str] = &["name", "memory"];
const COMPONENT_KEYS: &[&str] = &[
    "name",
    "program",
    "priority",
    "mcp",
    "stack",
    "heap",
    "fault_handler",
    "cnode_bits",
    "untyped",
    "supervisor",
    "restart",
    "restart_backoff_ms",
    "restart_backoff_max_ms",
    "restart_limit",
    "restart_stable_ms",
    "heartbeat_ms",
];
/// The keys only a component with `restart = "always"` may have.
const RESTART_KEYS: &[&str] = &[
    "restart_backoff_ms",
    "restart_backoff_max_ms",
    "restart_limit",
    "restart_stable_ms",
    "heartbeat_ms",
];
/// The longest `restart_backoff_ms` and `restart_backoff_max_ms`: 10 minutes.
pub const MAX_BACKOFF_MS: u64 = 600_000;
/// The most `restart_limit` may say.
pub const MAX_RESTART_LIMIT: u64 = 100;
/// The longest `restart_stable_ms`: an hour.
pub const MAX_STABLE_MS: u64 = 3_600_000;
/// The shortest non-zero `heartbeat_ms`.
pub const MIN_HEARTBEAT_MS: u64 = 50;
/// The longest `heartbeat_ms`.
pub const MAX_HEARTBEAT_MS: u64 = 60_000;
const CHANNEL_KEYS: &[&str] = &["name", "server", "clients", "buffer", "mint", "grant"];
const CLIENT_KEYS: &[&str] = &["component", "badge", "sessions"];
/// The most sessions one client may hold.
pub const MAX_SESSIONS: u64 = 256;
/// The smallest `untyped`.
pub const MIN_UNTYPED: u64 = 64 << 10;
/// The largest `untyped`.
pub const MAX_UNTYPED: u64 = 1 << 30;
const NOTIFICATION_KEYS: &[&str] = &["name", "waiter", "signallers"];
const IRQ_KEYS: &[&str] = &["name", "component", "irq", "trigger"];
const DEVICE_KEYS: &[&str] = &["name", "component", "paddr", "size"];
const SHARED_KEYS: &[&str] = &["name", "size", "mappings", "dma"];
const MAPPING_KEYS: &[&str] = &["component", "perms"];

/// Reads the system description `text`; `file` names it in diagnostics.
/// Runs the schema checks and then [`crate::check::check`].
pub fn parse(file: &str, text: &str) -> Result<System, Vec<Diagnostic>> {
    let mut cx = Cx::new(file, text);
    let root = match DeTable::parse(text) {
        Ok(root) => root,
        Err(e) => {
            let at = e
                .span()
                .map(|s| cx.origin(s.start))
                .unwrap_or(Origin { line: 1, column: 1 });
            let message = e.message().trim().replace('\n', " ");
            return Err(vec![Diagnostic::at(
                file,
                at,
                format!("TOML syntax error: {message}"),
            )]);
        }
    };
    let system = cx.system(root.get_ref());
    let mut errors = cx.errors;
    let mut system = system;
    if errors.is_empty() {
        resolve_supervision(&mut system);
        errors = crate::check::check(&system);
    }
    if errors.is_empty() {
        Ok(system)
    } else {
        sort(&mut errors);
        Err(errors)
    }
}

/// A supervised component without a `fault_handler` gets the supervisor
/// as its fault handler: the supervisor learns of its failures from its
/// faults. (One that names another fault handler is reported by the checks.)
pub fn resolve_supervision(system: &mut System) {
    let Some(supervisor) = system.supervisor().map(|s| s.name.clone()) else {
        return;
    };
    for c in &mut system.components {
        if c.restart.is_some() && c.fault_handler.is_none() {
            c.fault_handler = Some(supervisor.clone());
        }
    }
}

/// Reads and parses the file at `path` (diagnostics name it as given).
pub fn load(path: &Path) -> Result<System, Vec<Diagnostic>> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&file, &text),
        Err(e) => Err(vec![Diagnostic::at(
            &file,
            Origin::default(),
            format!("cannot read the system description: {e}"),
        )]),
    }
}

/// Diagnostics in source order (line, column), stable for equal positions.
pub(crate) fn sort(errors: &mut [Diagnostic]) {
    errors.sort_by_key(|d| (d.line, d.column));
}

/// The per-client buffers of channels with a `buffer`: one region per
/// client, mapped read-write by the server and that client alone, named
/// after the channel and the client ([`SharedMemory::buffer_name`]) and
/// placed at the channel's `buffer` key for diagnostics.
fn channel_buffers(channels: &[Channel]) -> Vec<SharedMemory> {
    let mut out = Vec::new();
    for ch in channels.iter().filter(|c| c.buffer > 0) {
        let at = ch.spans.at("buffer");
        for client in &ch.clients {
            let server = SharedMapping {
                component: ch.server.clone(),
                perms: Perms::ReadWrite,
                origin: at,
            };
            let spans = Spans {
                header: at,
                keys: Default::default(),
            };
            if client.sessions > 0 {
                // Mapped by the server only: the client holds the frame
                // caps and maps each session's buffer where it hands it.
                for session in 0..client.sessions {
                    out.push(SharedMemory {
                        name: SharedMemory::session_buffer_name(
                            &ch.name,
                            &client.component,
                            session,
                        ),
                        size: ch.buffer,
                        mappings: vec![server.clone()],
                        dma: None,
                        buffer_of: Some(ChannelBuffer {
                            channel: ch.name.clone(),
                            client: client.component.clone(),
                            badge: client.badge.saturating_add(session),
                            session: Some(session),
                        }),
                        spans: spans.clone(),
                    });
                }
                continue;
            }
            out.push(SharedMemory {
                name: SharedMemory::buffer_name(&ch.name, &client.component),
                size: ch.buffer,
                mappings: vec![
                    server,
                    SharedMapping {
                        component: client.component.clone(),
                        perms: Perms::ReadWrite,
                        origin: client.origin,
                    },
                ],
                dma: None,
                buffer_of: Some(ChannelBuffer {
                    channel: ch.name.clone(),
                    client: client.component.clone(),
                    badge: client.badge,
                    session: None,
                }),
                spans,
            });
        }
    }
    out
}

/// `[a-z][a-z0-9_]*`, at most [`MAX_NAME_LEN`] characters.
pub fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= MAX_NAME_LEN
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A program name: letters, digits, `_`, `-`, `.`; it goes into capDL fill
/// entries as a quoted word and names a cargo bin.
pub fn is_program(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME_LEN
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Reads a size: an integer (bytes) or a string of digits with an optional
/// `K`, `M` or `G` suffix (binary units).
pub fn parse_size(text: &str) -> Option<u64> {
    let (digits, shift) = match text.as_bytes().last()? {
        b'K' | b'k' => (&text[..text.len() - 1], 10),
        b'M' => (&text[..text.len() - 1], 20),
        b'G' => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// A size as the schema writes it: `4K`, `2M`, `1G`, or bytes.
pub fn size_text(bytes: u64) -> String {
    match bytes {
        0 => "0".to_string(),
        b if b.is_multiple_of(1 << 30) => format!("{}G", b >> 30),
        b if b.is_multiple_of(1 << 20) => format!("{}M", b >> 20),
        b if b.is_multiple_of(1 << 10) => format!("{}K", b >> 10),
        b => b.to_string(),
    }
}

type Value<'i> = Spanned<DeValue<'i>>;

/// The reading context: file, text, and the diagnostics so far.
struct Cx<'t> {
    file: &'t str,
    text: &'t str,
    line_starts: Vec<usize>,
    errors: Vec<Diagnostic>,
}

/// One table being read: which keys were taken, so that the rest can be
/// reported as unknown.
struct Item<'a, 'i> {
    table: &'a DeTable<'i>,
    what: &'static str,
    spans: Spans,
}

impl<'t> Cx<'t> {
    fn new(file: &'t str, text: &'t str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self {
            file,
            text,
            line_starts,
            errors: Vec::new(),
        }
    }

    fn origin(&self, offset: usize) -> Origin {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_starts[line - 1];
        let column = match self.text.get(start..offset) {
            Some(s) => s.chars().count(),
            None => offset - start,
        };
        Origin {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column + 1).unwrap_or(u32::MAX),
        }
    }

    fn error(&mut self, at: Origin, message: impl Into<String>) {
        self.errors.push(Diagnostic::at(self.file, at, message));
    }

    fn error_span(&mut self, span: &Range<usize>, message: impl Into<String>) {
        let at = self.origin(span.start);
        self.error(at, message);
    }

    /// How a value looks, for "found ...".
    fn found(&self, v: &Value<'_>) -> String {
        match v.get_ref() {
            DeValue::Table(_) => "a table".to_string(),
            DeValue::Array(_) => "an array".to_string(),
            _ => {
                let text = self.text.get(v.span()).unwrap_or("a value").trim();
                let mut shown: String = text
                    .chars()
                    .take(40)
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect();
                if shown.len() < text.len() {
                    shown.push_str("...");
                }
                shown
            }
        }
    }

    // ---- sections --------------------------------------------------------

    fn system(&mut self, root: &DeTable<'_>) -> System {
        let mut system = System {
            file: self.file.to_string(),
            memory: DEFAULT_MEMORY,
            ..System::default()
        };
        let mut saw_system = false;
        for (key, value) in root {
            let section = key.get_ref().as_ref();
            if section == "system" {
                saw_system = true;
                match value.get_ref() {
                    DeValue::Table(t) => self.system_table(t, value.span(), &mut system),
                    _ => self.error_span(
                        &value.span(),
                        format!(
                            "expected [system] to be a table, found {}",
                            self.found(value)
                        ),
                    ),
                }
                continue;
            }
            let Some(tables) = self.array_of_tables(section, key, value) else {
                continue;
            };
            for (table, span) in tables {
                match section {
                    "component" => {
                        if let Some(c) = self.component(table, span) {
                            system.components.push(c);
                        }
                    }
                    "channel" => {
                        if let Some(c) = self.channel(table, span) {
                            system.channels.push(c);
                        }
                    }
                    "notification" => {
                        if let Some(n) = self.notification(table, span) {
                            system.notifications.push(n);
                        }
                    }
                    "irq" => {
                        if let Some(i) = self.irq(table, span) {
                            system.irqs.push(i);
                        }
                    }
                    "device" => {
                        if let Some(d) = self.device(table, span) {
                            system.devices.push(d);
                        }
                    }
                    _ => {
                        if let Some(s) = self.shared(table, span) {
                            system.shared_memory.push(s);
                        }
                    }
                }
            }
        }
        system
            .shared_memory
            .extend(channel_buffers(&system.channels));
        if !saw_system {
            self.error(
                Origin { line: 1, column: 1 },
                "expected a [system] table with a name, found none",
            );
        }
        system
    }

    /// The tables of `[[section]]`, or an error when `section` is unknown or
    /// not an array of tables.
    fn array_of_tables<'a, 'i>(
        &mut self,
        section: &str,
        key: &Spanned<toml::de::DeString<'i>>,
        value: &'a Value<'i>,
    ) -> Option<Vec<(&'a DeTable<'i>, Range<usize>)>> {
        const KNOWN: [&str; 6] = [
            "component",
            "channel",
            "notification",
            "irq",
            "device",
            "shared_memory",
        ];
        if !KNOWN.contains(&section) {
            self.error_span(
                &key.span(),
                format!(
                    "unknown section '{}', expected one of {SECTIONS}",
                    section.escape_debug()
                ),
            );
            return None;
        }
        let wrong = |cx: &mut Self, span: &Range<usize>, found: String| {
            cx.error_span(
                span,
                format!("expected [[{section}]] (an array of tables), found {found}"),
            );
        };
        let DeValue::Array(items) = value.get_ref() else {
            let found = self.found(value);
            wrong(self, &value.span(), found);
            return None;
        };
        let mut out = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::Table(t) => out.push((t, item.span())),
                _ => {
                    let found = self.found(item);
                    wrong(self, &item.span(), found);
                }
            }
        }
        Some(out)
    }

    fn item<'a, 'i>(
        &mut self,
        table: &'a DeTable<'i>,
        span: &Range<usize>,
        what: &'static str,
        allowed: &[&str],
    ) -> Item<'a, 'i> {
        let mut spans = Spans {
            header: self.origin(span.start),
            ..Spans::default()
        };
        for (key, value) in table {
            let name = key.get_ref().as_ref();
            if allowed.contains(&name) {
                spans
                    .keys
                    .insert(name.to_string(), self.origin(value.span().start));
            } else {
                self.error_span(
                    &key.span(),
                    format!(
                        "unknown key '{}' in {what}, expected one of {}",
                        name.escape_debug(),
                        allowed.join(", ")
                    ),
                );
            }
        }
        Item { table, what, spans }
    }

    /// The value of a required `key` of `item`, read by `parse`; a missing
    /// key is reported (with what it means) and gives `None`.
    fn required<'i, T>(
        &mut self,
        item: &Item<'_, 'i>,
        key: &str,
        meaning: &str,
        parse: impl FnOnce(&mut Self, &Value<'i>) -> Option<T>,
    ) -> Option<T> {
        match item.table.get(key) {
            Some(v) => parse(self, v),
            None => {
                self.missing(item, key, meaning);
                None
            }
        }
    }

    fn missing(&mut self, item: &Item<'_, '_>, key: &str, meaning: &str) {
        self.error(
            item.spans.header,
            format!("{} is missing '{key}' ({meaning})", item.what),
        );
    }

    // ---- values ----------------------------------------------------------

    fn string(&mut self, v: &Value<'_>, expected: &str) -> Option<String> {
        match v.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                let found = self.found(v);
                self.error_span(&v.span(), format!("expected {expected}, found {found}"));
                None
            }
        }
    }

    /// A name (`[a-z][a-z0-9_]*`) of the kind `expected` describes.
    fn name(&mut self, v: &Value<'_>, expected: &str) -> Option<String> {
        let full = format!("{expected} ([a-z][a-z0-9_]*, at most {MAX_NAME_LEN} characters)");
        let s = self.string(v, &full)?;
        if is_name(&s) {
            Some(s)
        } else {
            let found = self.found(v);
            self.error_span(&v.span(), format!("expected {full}, found {found}"));
            None
        }
    }

    /// An integer in `range` (inclusive).
    fn integer(&mut self, v: &Value<'_>, expected: &str, min: u64, max: u64) -> Option<u64> {
        let value = match v.get_ref() {
            DeValue::Integer(i) => u64::from_str_radix(&i.as_str().replace('_', ""), i.radix())
                .ok()
                .filter(|n| (min..=max).contains(n)),
            _ => None,
        };
        if value.is_none() {
            let found = self.found(v);
            self.error_span(&v.span(), format!("expected {expected}, found {found}"));
        }
        value
    }

    /// A size: bytes, or a string like "16K", a multiple of 4K in
    /// `min..=max`.
    fn size(&mut self, v: &Value<'_>, what: &str, min: u64, max: u64) -> Option<u64> {
        let value = match v.get_ref() {
            DeValue::Integer(i) => {
                u64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok()
            }
            DeValue::String(s) => parse_size(s),
            _ => None,
        };
        let limit = if min > 0 {
            format!(
                "a multiple of 4K from {} to {}",
                size_text(min),
                size_text(max)
            )
        } else {
            format!("a multiple of 4K up to {}", size_text(max))
        };
        let expected =
            format!("{what} that is {limit} (bytes, or a number with K, M or G, e.g. \"16K\")");
        match value {
            Some(n) if n.is_multiple_of(PAGE_SIZE) && (min..=max).contains(&n) => Some(n),
            _ => {
                let found = self.found(v);
                self.error_span(&v.span(), format!("expected {expected}, found {found}"));
                None
            }
        }
    }

    // ---- items -----------------------------------------------------------

    fn system_table(&mut self, table: &DeTable<'_>, span: Range<usize>, system: &mut System) {
        let item = self.item(table, &span, "[system]", SYSTEM_KEYS);
        match item.table.get("name") {
            Some(v) => {
                if let Some(n) = self.string(v, "a system name (a string)") {
                    system.name = n;
                }
            }
            None => self.missing(&item, "name", "the system's name"),
        }
        if let Some(v) = item.table.get("memory") {
            if let Some(m) = self.size(v, "a memory size", PAGE_SIZE, MAX_MEMORY) {
                system.memory = m;
            }
        }
        system.spans = item.spans;
    }

    fn component(&mut self, table: &DeTable<'_>, span: Range<usize>) -> Option<Component> {
        let item = self.item(table, &span, "[[component]]", COMPONENT_KEYS);
        let t = item.table;
        let name = self.required(&item, "name", "the component's name", |cx, v| {
            cx.name(v, "a component name")
        });
        let program = self.required(&item, "program", "the name of the ELF it runs", |cx, v| {
            let expected = "a program name (letters, digits, '_', '-' or '.')";
            match cx.string(v, expected) {
                Some(p) if is_program(&p) => Some(p),
                Some(_) => {
                    let found = cx.found(v);
                    cx.error_span(&v.span(), format!("expected {expected}, found {found}"));
                    None
                }
                None => None,
            }
        });
        let priority = self.required(&item, "priority", "0..=255", |cx, v| {
            cx.integer(v, "a priority 0..=255", 0, 255)
        });
        let mcp = t
            .get("mcp")
            .map(|v| self.integer(v, "an mcp (maximum controlled priority) 0..=255", 0, 255));
        let stack = t
            .get("stack")
            .map(|v| self.size(v, "a stack size", PAGE_SIZE, MAX_STACK));
        let heap = t
            .get("heap")
            .map(|v| self.size(v, "a heap size", 0, MAX_HEAP));
        let fault_handler = t
            .get("fault_handler")
            .map(|v| self.name(v, "the name of the fault handler component"));
        let cnode_bits = t.get("cnode_bits").map(|v| {
            self.integer(
                v,
                &format!("cnode_bits {MIN_CNODE_BITS}..={MAX_CNODE_BITS}"),
                MIN_CNODE_BITS,
                MAX_CNODE_BITS,
            )
        });
        let untyped = t.get("untyped").map(|v| {
            let size = self.size(v, "an untyped size", MIN_UNTYPED, MAX_UNTYPED)?;
            if !size.is_power_of_two() {
                let found = self.found(v);
                self.error_span(
                    &v.span(),
                    format!("expected an untyped size that is a power of two (seL4 untyped memory comes in 2^n bytes, e.g. \"64M\"), found {found}"),
                );
                return None;
            }
            Some(size)
        });
        let supervisor = self.flag(t, "supervisor");
        let restart = self.restart(t, supervisor == Some(true));
        let priority = priority? as u8;
        Some(Component {
            name: name?,
            program: program?,
            priority,
            mcp: match mcp {
                Some(m) => m? as u8,
                None => priority,
            },
            stack: stack.unwrap_or(Some(DEFAULT_STACK))?,
            heap: heap.unwrap_or(Some(0))?,
            fault_handler: match fault_handler {
                Some(f) => Some(f?),
                None => None,
            },
            cnode_bits: cnode_bits.unwrap_or(Some(u64::from(DEFAULT_CNODE_BITS)))? as u8,
            untyped: untyped.unwrap_or(Some(0))?,
            supervisor: supervisor?,
            restart: restart?,
            spans: item.spans,
        })
    }

    /// `restart` and its settings: `Some(None)` for "never", `None` after
    /// an error. The settings are allowed only with `restart = "always"`,
    /// which the supervisor itself may not have.
    fn restart(&mut self, t: &DeTable<'_>, supervisor: bool) -> Option<Option<RestartPolicy>> {
        let expected = "restart \"always\" or \"never\"";
        let always = match t.get("restart") {
            None => Some(false),
            Some(v) => match self.string(v, expected).as_deref() {
                Some("always") => {
                    if supervisor {
                        self.error_span(
                            &v.span(),
                            "expected restart \"never\" for the supervisor (supervisor = true), found \"always\": nothing restarts the supervisor",
                        );
                        None
                    } else {
                        Some(true)
                    }
                }
                Some("never") => Some(false),
                Some(_) => {
                    let found = self.found(v);
                    self.error_span(&v.span(), format!("expected {expected}, found {found}"));
                    None
                }
                None => None,
            },
        };
        let mut ok = always.is_some();
        if always == Some(false) {
            for key in RESTART_KEYS {
                if let Some((k, _)) = t.get_key_value(*key) {
                    self.error_span(
                        &k.span(),
                        format!("'{key}' is allowed only with restart = \"always\" (this component is not restarted)"),
                    );
                    ok = false;
                }
            }
        }
        let mut policy = RestartPolicy::default();
        let mut int =
            |cx: &mut Self, key: &str, expected: String, min: u64, max: u64, to: &mut u64| {
                if let Some(v) = t.get(key) {
                    match cx.integer(v, &expected, min, max) {
                        Some(n) => *to = n,
                        None => ok = false,
                    }
                }
            };
        int(
            self,
            "restart_backoff_ms",
            format!("restart_backoff_ms, milliseconds 0..={MAX_BACKOFF_MS}"),
            0,
            MAX_BACKOFF_MS,
            &mut policy.backoff_ms,
        );
        int(
            self,
            "restart_backoff_max_ms",
            format!("restart_backoff_max_ms, milliseconds 0..={MAX_BACKOFF_MS}"),
            0,
            MAX_BACKOFF_MS,
            &mut policy.backoff_max_ms,
        );
        int(
            self,
            "restart_limit",
            format!("restart_limit, quick failures in a row 1..={MAX_RESTART_LIMIT}"),
            1,
            MAX_RESTART_LIMIT,
            &mut policy.limit,
        );
        int(
            self,
            "restart_stable_ms",
            format!("restart_stable_ms, milliseconds 1..={MAX_STABLE_MS}"),
            1,
            MAX_STABLE_MS,
            &mut policy.stable_ms,
        );
        if let Some(v) = t.get("heartbeat_ms") {
            let expected = format!(
                "heartbeat_ms 0 (no heartbeat) or milliseconds {MIN_HEARTBEAT_MS}..={MAX_HEARTBEAT_MS}"
            );
            match self.integer(v, &expected, 0, MAX_HEARTBEAT_MS) {
                Some(n) if n == 0 || n >= MIN_HEARTBEAT_MS => policy.heartbeat_ms = n,
                Some(n) => {
                    self.error_span(&v.span(), format!("expected {expected}, found {n}"));
                    ok = false;
                }
                None => ok = false,
            }
        }
        if ok && always == Some(true) && policy.backoff_max_ms < policy.backoff_ms {
            let (key, v) = match t.get("restart_backoff_max_ms") {
                Some(v) => ("restart_backoff_max_ms", v),
                None => ("restart_backoff_ms", t.get("restart_backoff_ms")?),
            };
            self.error_span(
                &v.span(),
                format!(
                    "expected restart_backoff_max_ms ({}) >= restart_backoff_ms ({}), found {key} = {}",
                    policy.backoff_max_ms,
                    policy.backoff_ms,
                    self.found(v)
                ),
            );
            ok = false;
        }
        if !ok {
            return None;
        }
        Some(always.unwrap_or(false).then_some(policy))
    }

    fn channel(&mut self, table: &DeTable<'_>, span: Range<usize>) -> Option<Channel> {
        let item = self.item(table, &span, "[[channel]]", CHANNEL_KEYS);
        let name = self.required(&item, "name", "the channel's name", |cx, v| {
            cx.name(v, "a channel name")
        });
        let server = self.required(&item, "server", "the component that receives", |cx, v| {
            cx.name(v, "the server's component name")
        });
        let clients = self.required(&item, "clients", "the components that call", |cx, v| {
            cx.clients(v)
        });
        let buffer = match item.table.get("buffer") {
            Some(v) => self.size(v, "a per-client buffer size", PAGE_SIZE, MAX_REGION),
            None => Some(0),
        };
        let mint = self.flag(item.table, "mint");
        let grant = self.flag(item.table, "grant");
        Some(Channel {
            name: name?,
            server: server?,
            clients: clients?,
            buffer: buffer?,
            mint: mint?,
            grant: grant?,
            spans: item.spans,
        })
    }

    /// A `true` / `false` key (default false).
    fn flag(&mut self, table: &DeTable<'_>, key: &str) -> Option<bool> {
        match table.get(key) {
            Some(v) => match v.get_ref() {
                DeValue::Boolean(b) => Some(*b),
                _ => {
                    let found = self.found(v);
                    self.error_span(&v.span(), format!("expected true or false, found {found}"));
                    None
                }
            },
            None => Some(false),
        }
    }

    fn clients(&mut self, v: &Value<'_>) -> Option<Vec<Client>> {
        let expected =
            "a list of clients (component names, or tables { component = \"name\", badge = n })";
        let DeValue::Array(items) = v.get_ref() else {
            let found = self.found(v);
            self.error_span(&v.span(), format!("expected {expected}, found {found}"));
            return None;
        };
        let mut ok = true;
        let mut out = Vec::new();
        for (i, client) in items.iter().enumerate() {
            let origin = self.origin(client.span().start);
            let position = i as u64 + 1;
            let parsed = match client.get_ref() {
                DeValue::String(_) => {
                    self.name(client, "a client component name")
                        .map(|component| Client {
                            component,
                            badge: position,
                            sessions: 0,
                            origin,
                        })
                }
                DeValue::Table(t) => {
                    let item = self.item(t, &client.span(), "a client", CLIENT_KEYS);
                    let component =
                        self.required(&item, "component", "the calling component", |cx, c| {
                            cx.name(c, "a client component name")
                        });
                    let badge = match t.get("badge") {
                        Some(b) => self.integer(b, "a badge 1..=4294967295", 1, u32::MAX.into()),
                        None => Some(position),
                    };
                    let sessions = match t.get("sessions") {
                        Some(s) => self.integer(
                            s,
                            &format!("a number of sessions 1..={MAX_SESSIONS}"),
                            1,
                            MAX_SESSIONS,
                        ),
                        None => Some(0),
                    };
                    match (component, badge, sessions) {
                        (Some(component), Some(badge), Some(sessions)) => Some(Client {
                            component,
                            badge,
                            sessions,
                            origin,
                        }),
                        _ => None,
                    }
                }
                _ => {
                    let found = self.found(client);
                    self.error_span(
                        &client.span(),
                        format!("expected a client (a component name or a table {{ component = \"name\", badge = n }}), found {found}"),
                    );
                    None
                }
            };
            match parsed {
                Some(c) => out.push(c),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn notification(&mut self, table: &DeTable<'_>, span: Range<usize>) -> Option<Notification> {
        let mut item = self.item(table, &span, "[[notification]]", NOTIFICATION_KEYS);
        let t = item.table;
        let name = self.required(&item, "name", "the notification's name", |cx, v| {
            cx.name(v, "a notification name")
        });
        let waiter = self.required(&item, "waiter", "the component that waits", |cx, v| {
            cx.name(v, "the waiting component's name")
        });
        let signallers = match t.get("signallers") {
            Some(v) => match v.get_ref() {
                DeValue::Array(items) => {
                    let mut out = Some(Vec::new());
                    for (i, s) in items.iter().enumerate() {
                        item.spans
                            .keys
                            .insert(format!("signallers.{i}"), self.origin(s.span().start));
                        match self.name(s, "a signalling component's name") {
                            Some(n) => {
                                if let Some(o) = out.as_mut() {
                                    o.push(n);
                                }
                            }
                            None => out = None,
                        }
                    }
                    out
                }
                _ => {
                    let found = self.found(v);
                    self.error_span(
                        &v.span(),
                        format!("expected a list of signalling component names, found {found}"),
                    );
                    None
                }
            },
            None => {
                self.missing(&item, "signallers", "the components that signal");
                None
            }
        };
        Some(Notification {
            name: name?,
            waiter: waiter?,
            signallers: signallers?,
            spans: item.spans,
        })
    }

    fn irq(&mut self, table: &DeTable<'_>, span: Range<usize>) -> Option<Irq> {
        let item = self.item(table, &span, "[[irq]]", IRQ_KEYS);
        let t = item.table;
        let name = self.required(&item, "name", "the IRQ's name", |cx, v| {
            cx.name(v, "an IRQ name")
        });
        let component = self.required(
            &item,
            "component",
            "the component that handles it",
            |cx, v| cx.name(v, "the handling component's name"),
        );
        let max = capdl::MAX_IRQ;
        let timer = capdl::KERNEL_TIMER_IRQ;
        let irq = self.required(&item, "irq", "the interrupt number", |cx, v| {
            let expected =
                format!("an IRQ number {MIN_IRQ}..={max} (a GIC PPI or SPI) other than {timer}");
            let n = cx.integer(v, &expected, MIN_IRQ, max)?;
            if n == timer {
                cx.error_span(
                    &v.span(),
                    format!("expected {expected}, found {n}: IRQ {timer} is the kernel's timer"),
                );
                return None;
            }
            Some(n)
        });
        let trigger = match t.get("trigger") {
            Some(v) => {
                let expected = "a trigger \"level\" or \"edge\"";
                match self.string(v, expected).as_deref() {
                    Some("level") => Some(IrqTrigger::Level),
                    Some("edge") => Some(IrqTrigger::Edge),
                    None => None,
                    Some(_) => {
                        let found = self.found(v);
                        self.error_span(&v.span(), format!("expected {expected}, found {found}"));
                        None
                    }
                }
            }
            None => Some(IrqTrigger::Level),
        };
        Some(Irq {
            name: name?,
            component: component?,
            irq: irq?,
            trigger: trigger?,
            spans: item.spans,
        })
    }

    fn device(&mut self, table: &DeTable<'_>, span: Range<usize>) -> Option<Device> {
        let item = self.item(table, &span, "[[device]]", DEVICE_KEYS);
        let name = self.required(&item, "name", "the device's name", |cx, v| {
            cx.name(v, "a device name")
        });
        let component = self.required(
            &item,
            "component",
            "the component that drives it",
            |cx, v| cx.name(v, "the driving component's name"),
        );
        let paddr = self.required(
            &item,
            "paddr",
            "the physical address of its registers",
            |cx, v| {
                let p = cx.integer(v, "a physical address (an integer)", 0, u64::MAX);
                if p.is_none_or(|p| p.is_multiple_of(PAGE_SIZE)) {
                    p
                } else {
                    let found = cx.found(v);
                    cx.error_span(
                        &v.span(),
                        format!("expected a 4K-aligned physical address, found {found}"),
                    );
                    None
                }
            },
        );
        let size = self.required(&item, "size", "the size of its register region", |cx, v| {
            cx.size(v, "a device size", PAGE_SIZE, MAX_REGION)
        });
        Some(Device {
            name: name?,
            component: component?,
            paddr: paddr?,
            size: size?,
            spans: item.spans,
        })
    }

    fn shared(&mut self, table: &DeTable<'_>, span: Range<usize>) -> Option<SharedMemory> {
        let item = self.item(table, &span, "[[shared_memory]]", SHARED_KEYS);
        let name = self.required(&item, "name", "the region's name", |cx, v| {
            cx.name(v, "a shared memory name")
        });
        let size = self.required(&item, "size", "the region's size", |cx, v| {
            cx.size(v, "a shared memory size", PAGE_SIZE, MAX_REGION)
        });
        let mappings = self.required(&item, "mappings", "the components that map it", |cx, v| {
            cx.mappings(v)
        });
        let dma = match item.table.get("dma") {
            Some(v) => self
                .name(v, "the component whose device uses the region")
                .map(Some),
            None => Some(None),
        };
        Some(SharedMemory {
            name: name?,
            size: size?,
            mappings: mappings?,
            dma: dma?,
            buffer_of: None,
            spans: item.spans,
        })
    }

    fn mappings(&mut self, v: &Value<'_>) -> Option<Vec<SharedMapping>> {
        let expected = "a list of mappings { component = \"name\", perms = \"r\" or \"rw\" }";
        let DeValue::Array(items) = v.get_ref() else {
            let found = self.found(v);
            self.error_span(&v.span(), format!("expected {expected}, found {found}"));
            return None;
        };
        let mut ok = true;
        let mut out = Vec::new();
        for m in items.iter() {
            let DeValue::Table(t) = m.get_ref() else {
                let found = self.found(m);
                self.error_span(
                    &m.span(),
                    format!("expected a mapping {{ component = \"name\", perms = \"r\" or \"rw\" }}, found {found}"),
                );
                ok = false;
                continue;
            };
            let item = self.item(t, &m.span(), "a mapping", MAPPING_KEYS);
            let component =
                self.required(&item, "component", "the component that maps it", |cx, c| {
                    cx.name(c, "a mapping component name")
                });
            let perms = self.required(&item, "perms", "\"r\" or \"rw\"", |cx, p| {
                let expected = "perms \"r\" or \"rw\"";
                match cx.string(p, expected).as_deref() {
                    Some("r") => Some(Perms::Read),
                    Some("rw") => Some(Perms::ReadWrite),
                    Some(_) => {
                        let found = cx.found(p);
                        cx.error_span(&p.span(), format!("expected {expected}, found {found}"));
                        None
                    }
                    None => None,
                }
            });
            match component.zip(perms) {
                Some((component, perms)) => out.push(SharedMapping {
                    component,
                    perms,
                    origin: item.spans.header,
                }),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4K"), Some(4096));
        assert_eq!(parse_size("2M"), Some(2 << 20));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("8192"), Some(8192));
        assert_eq!(parse_size("K"), None);
        assert_eq!(parse_size("-4K"), None);
        assert_eq!(parse_size("99999999999999999999G"), None);
        assert_eq!(parse_size(""), None);
        assert_eq!(size_text(16 << 10), "16K");
        assert_eq!(size_text(512 << 20), "512M");
        assert_eq!(size_text(5), "5");
    }

    #[test]
    fn names() {
        assert!(is_name("a_1"));
        assert!(!is_name("1a"));
        assert!(!is_name("A"));
        assert!(!is_name(""));
        assert!(is_program("console-driver"));
        assert!(!is_program("a b"));
    }

    #[test]
    fn positions_count_characters() {
        let cx = Cx::new("f", "ab\né x\n");
        assert_eq!(cx.origin(0), Origin { line: 1, column: 1 });
        let o = cx.origin(6);
        assert_eq!((o.line, o.column), (2, 3));
    }
}
