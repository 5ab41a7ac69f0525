//! The parser for seL4's capDL text syntax (capDL-tool's doc/capDL.md and its
//! Parsec grammar), producing a [`Spec`].
//!
//! Parsing has two steps. The first reads the text section by section and
//! reports any syntax error, or any feature outside the AArch64 non-MCS
//! subset, at its line and column. The second lowers what was read into the
//! model: it expands name ranges (`frame[0..3]`, `ut[]`), numbers unnumbered
//! slots, resolves cap names and cap copies (`<name>`), and gathers the
//! untyped covers, the IRQ map and the derivation tree. Names that can stay
//! unresolved in the model (a cap's target, an IRQ's object) are left for
//! [`crate::validate()`], which reports them by place.
//!
//! No input makes the parser panic: nesting depth and the number of expanded
//! items are bounded ([`MAX_NESTING`], [`MAX_ITEMS`]).

use std::collections::{HashMap, HashSet};

use cerne_abi::rights::CapRights;

use crate::diagnostic::Diagnostic;
use crate::lexer::{Cursor, LexError, Lexer, Token};
use crate::model::Spec;
use crate::model::{
    ArmIrq, Cap, CapSlot, CapTarget, CdtEdge, Frame, IrqMapping, IrqTrigger, Object, ObjectKind,
    ObjectName, Origin, PageTableLevel, Reference, SlotRef, Tcb, TcbCapKind, Untyped,
    TCB_SLOT_NAMES,
};

/// The deepest nesting of untyped children or `cdt` blocks accepted.
pub const MAX_NESTING: usize = 64;
/// The most objects, caps and IRQ lines a spec may expand to.
pub const MAX_ITEMS: usize = 1 << 18;

/// Parses capDL text. `file` is only used in diagnostics.
pub fn parse(file: &str, text: &str) -> Result<Spec, Diagnostic> {
    let mut parser = Parser {
        file,
        lexer: Lexer::new(text),
        cursor: Cursor::start(),
        state: State::default(),
    };
    parser.module()?;
    parser.state.lower(file)
}

/// `[..]` after a name.
#[derive(Clone, Debug)]
enum Range {
    Only(u64),
    FromTo(u64, u64),
    From(u64),
    To(u64),
    All,
}

/// A name with optional ranges, as written.
#[derive(Clone, Debug)]
struct NameRef {
    base: String,
    ranges: Option<Vec<Range>>,
    origin: Origin,
}

impl NameRef {
    /// The single name it denotes, if it is `x` or `x[n]`.
    fn single(&self) -> Option<ObjectName> {
        match &self.ranges {
            None => Some(ObjectName::plain(&self.base)),
            Some(r) => match r.as_slice() {
                [Range::Only(n)] => Some(ObjectName::element(&self.base, *n)),
                _ => None,
            },
        }
    }
}

/// `(container, slot)` or a cap name.
#[derive(Clone, Debug)]
enum RawSlotRef {
    Slot(NameRef, u64),
    CapName(NameRef),
}

#[derive(Clone, Debug)]
enum CapBody {
    Direct { target: NameRef, cap: Cap },
    Copy { source: NameRef, mask: CapRights },
}

#[derive(Clone, Debug)]
struct CapEntry {
    slot: Option<u64>,
    cap_name: Option<NameRef>,
    body: CapBody,
    parent: Option<RawSlotRef>,
    origin: Origin,
}

#[derive(Clone, Debug)]
struct CapDecl {
    containers: NameRef,
    entries: Vec<CapEntry>,
}

#[derive(Clone, Debug)]
enum CoverItem {
    Exact(Vec<Reference>),
    Ref(NameRef),
}

/// Everything read so far.
#[derive(Default)]
struct State {
    spec: Spec,
    /// First object of each name.
    by_name: HashMap<ObjectName, usize>,
    /// Element count of each array base name.
    array_len: HashMap<String, u64>,
    /// Untypeds made implicitly by a qualified name, not declared yet.
    implicit: HashSet<usize>,
    covers: Vec<(usize, CoverItem)>,
    cap_decls: Vec<CapDecl>,
    cap_name_decls: Vec<(NameRef, NameRef, u64)>,
    irq_lines: Vec<(Option<u64>, NameRef)>,
    cdt: Vec<(RawSlotRef, RawSlotRef)>,
    items: usize,
}

struct Parser<'a> {
    file: &'a str,
    lexer: Lexer<'a>,
    cursor: Cursor,
    state: State,
}

type PResult<T> = Result<T, Diagnostic>;

/// The object types capDL knows that the subset leaves out, and why.
const OUTSIDE_OBJECT_TYPES: [(&str, &str); 14] = [
    ("sc", "'sc' objects (scheduling contexts) are an MCS feature, outside Cerne's non-MCS subset"),
    ("rtreply", "'rtreply' objects (MCS reply objects) are an MCS feature, outside Cerne's non-MCS subset"),
    ("vcpu", "'vcpu' objects need the hypervisor configuration (ARM_HYPERVISOR_SUPPORT), outside Cerne's subset"),
    ("io_ports", "'io_ports' objects are an x86 feature (I/O ports), outside Cerne's AArch64 subset"),
    ("io_device", "'io_device' objects are an x86 IOMMU feature, outside Cerne's AArch64 subset"),
    ("io_pt", "'io_pt' objects are an x86 IOMMU feature, outside Cerne's AArch64 subset"),
    ("ioapic_irq", "'ioapic_irq' objects are an x86 feature (IOAPIC), outside Cerne's AArch64 subset"),
    ("msi_irq", "'msi_irq' objects are an x86 feature (MSI), outside Cerne's AArch64 subset"),
    ("pml4", "'pml4' objects are x86_64 page tables, outside Cerne's AArch64 subset"),
    ("pdpt", "'pdpt' objects are x86_64 page tables, outside Cerne's AArch64 subset"),
    ("arm_io_device", "'arm_io_device' objects need an SMMU (ARM_SMMU), outside Cerne's subset"),
    ("streamid", "'streamid' objects need an SMMU (ARM_SMMU), outside Cerne's subset"),
    ("contextbank", "'contextbank' objects need an SMMU (ARM_SMMU), outside Cerne's subset"),
    ("smc", "'smc' objects need SMC calls (ALLOW_SMC_CALLS), outside Cerne's subset"),
];

const OBJECT_TYPES_EXPECTED: &str = "an object type (ut, tcb, ep, notification, cnode, frame, pgd, pud, pd, pt, asid_pool, irq, arm_irq or arm_sgi_signal)";

const CAP_PARAM_EXPECTED: &str = "a cap parameter (rights such as RW, masked, badge, guard, guard_size, cached, uncached, mapping, asid, reply or master_reply)";

/// An object parameter as read, before it is checked against the type.
#[derive(Clone, Debug)]
enum ObjParam {
    Bits(u64),
    VmSize(u64),
    Number(&'static str, u64),
    Bool(&'static str, bool),
    Init(Vec<u64>),
    Fill(Vec<Vec<String>>),
    Trigger(IrqTrigger),
}

impl ObjParam {
    fn key(&self) -> &'static str {
        match self {
            ObjParam::Bits(_) => "bits",
            ObjParam::VmSize(_) => "size",
            ObjParam::Number(k, _) | ObjParam::Bool(k, _) => k,
            ObjParam::Init(_) => "init",
            ObjParam::Fill(_) => "fill",
            ObjParam::Trigger(_) => "trigger",
        }
    }
}

const NUMBER_PARAMS: [&str; 11] = [
    "addr",
    "ip",
    "sp",
    "prio",
    "max_prio",
    "affinity",
    "dom",
    "fault_ep",
    "paddr",
    "asid_high",
    "target",
];

/// Object parameters capDL has that the subset leaves out, and why.
const OUTSIDE_OBJECT_PARAMS: [(&str, &str); 14] = [
    (
        "period",
        "'period' is a scheduling-context parameter, an MCS feature outside Cerne's non-MCS subset",
    ),
    (
        "budget",
        "'budget' is a scheduling-context parameter, an MCS feature outside Cerne's non-MCS subset",
    ),
    (
        "data",
        "'data' is a scheduling-context parameter, an MCS feature outside Cerne's non-MCS subset",
    ),
    (
        "level",
        "'level' is an x86 IOMMU page-table parameter, outside Cerne's AArch64 subset",
    ),
    (
        "domainID",
        "'domainID' is an x86 IOMMU parameter, outside Cerne's AArch64 subset",
    ),
    (
        "iospace",
        "'iospace' is an SMMU parameter, outside Cerne's subset",
    ),
    (
        "ports",
        "'ports' is an x86 I/O port parameter, outside Cerne's AArch64 subset",
    ),
    (
        "bank",
        "'bank' is an SMMU context-bank parameter, outside Cerne's subset",
    ),
    (
        "ioapic_num",
        "'ioapic_num' is an x86 IOAPIC parameter, outside Cerne's AArch64 subset",
    ),
    (
        "ioapic_pin",
        "'ioapic_pin' is an x86 IOAPIC parameter, outside Cerne's AArch64 subset",
    ),
    (
        "ioapic_level",
        "'ioapic_level' is an x86 IOAPIC parameter, outside Cerne's AArch64 subset",
    ),
    (
        "ioapic_polarity",
        "'ioapic_polarity' is an x86 IOAPIC parameter, outside Cerne's AArch64 subset",
    ),
    (
        "msi_handle",
        "'msi_handle' is an x86 MSI parameter, outside Cerne's AArch64 subset",
    ),
    (
        "msi_pci_bus",
        "'msi_pci_bus' is an x86 MSI parameter, outside Cerne's AArch64 subset",
    ),
];

impl<'a> Parser<'a> {
    fn lex_error(&self, e: LexError) -> Diagnostic {
        Diagnostic::at(self.file, e.at.origin(), e.message)
    }

    fn error_at(&self, at: Origin, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(self.file, at, message)
    }

    /// The next token, its start and its end.
    fn peek(&self) -> PResult<(Token, Cursor, Cursor)> {
        self.lexer.token(self.cursor).map_err(|e| self.lex_error(e))
    }

    /// The token after the next one.
    fn peek_second(&self) -> PResult<Token> {
        let (_, _, end) = self.peek()?;
        self.lexer
            .token(end)
            .map(|(t, _, _)| t)
            .map_err(|e| self.lex_error(e))
    }

    fn bump(&mut self) -> PResult<(Token, Origin)> {
        let (token, start, end) = self.peek()?;
        self.cursor = end;
        Ok((token, start.origin()))
    }

    fn here(&self) -> PResult<Origin> {
        Ok(self.peek()?.1.origin())
    }

    fn expected(&self, what: &str) -> Diagnostic {
        match self.peek() {
            Ok((token, start, _)) => self.error_at(
                start.origin(),
                format!("expected {what}, found {}", token.describe()),
            ),
            Err(e) => e,
        }
    }

    fn is_punct(&self, c: char) -> PResult<bool> {
        Ok(self.peek()?.0 == Token::Punct(c))
    }

    fn eat_punct(&mut self, c: char) -> PResult<bool> {
        if self.is_punct(c)? {
            self.bump()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn expect_punct(&mut self, c: char, what: &str) -> PResult<Origin> {
        let (token, start, _) = self.peek()?;
        if token == Token::Punct(c) {
            self.bump()?;
            Ok(start.origin())
        } else {
            Err(self.expected(&format!("'{c}' {what}")))
        }
    }

    fn is_ident(&self, word: &str) -> PResult<bool> {
        Ok(matches!(self.peek()?.0, Token::Ident(ref w) if w == word))
    }

    fn eat_ident(&mut self, word: &str) -> PResult<bool> {
        if self.is_ident(word)? {
            self.bump()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn ident(&mut self, what: &str) -> PResult<(String, Origin)> {
        match self.peek()? {
            (Token::Ident(w), start, end) => {
                self.cursor = end;
                Ok((w, start.origin()))
            }
            _ => Err(self.expected(what)),
        }
    }

    fn number(&mut self, what: &str) -> PResult<u64> {
        match self.peek()? {
            (Token::Number(n), _, end) => {
                self.cursor = end;
                Ok(n)
            }
            _ => Err(self.expected(what)),
        }
    }

    fn count_items(&mut self, n: u64, at: Origin) -> PResult<()> {
        let total = (self.state.items as u64).saturating_add(n);
        if total > MAX_ITEMS as u64 {
            return Err(self.error_at(
                at,
                format!("the spec expands to more than {MAX_ITEMS} objects, caps and IRQs"),
            ));
        }
        self.state.items = total as usize;
        Ok(())
    }

    // ---- module ----------------------------------------------------------

    fn module(&mut self) -> PResult<()> {
        if !self.is_ident("arch")? {
            return Err(self.expected("'arch aarch64' at the start of the spec"));
        }
        self.bump()?;
        let (arch, at) = self.ident("an architecture name (aarch64)")?;
        match arch.as_str() {
            "aarch64" => {}
            "ia32" | "x86_64" | "arm11" | "riscv" => {
                return Err(self.error_at(
                    at,
                    format!(
                        "architecture '{arch}' is outside Cerne's subset: only 'arch aarch64' is accepted"
                    ),
                ))
            }
            _ => {
                return Err(self.error_at(
                    at,
                    format!("expected an architecture name (aarch64), found '{arch}'"),
                ))
            }
        }
        let mut sections = 0;
        loop {
            let (token, start, _) = self.peek()?;
            let at = start.origin();
            match token {
                Token::Eof if sections > 0 => return Ok(()),
                Token::Ident(w) if w == "objects" => {
                    self.bump()?;
                    self.objects_section()?;
                }
                Token::Ident(w) if w == "caps" => {
                    self.bump()?;
                    self.caps_section()?;
                }
                Token::Ident(w) if w == "irq" => {
                    self.bump()?;
                    if !self.eat_ident("maps")? {
                        return Err(self.expected("'maps' after 'irq'"));
                    }
                    self.irq_section()?;
                }
                Token::Ident(w) if w == "cdt" => {
                    self.bump()?;
                    self.cdt_section()?;
                }
                Token::Ident(w) if w == "domains" => {
                    return Err(self.error_at(
                        at,
                        "a 'domains' section sets a domain schedule, outside Cerne's subset: this kernel has one domain (NUM_DOMAINS 1)",
                    ))
                }
                _ => {
                    return Err(self.expected(
                        "a section ('objects', 'caps', 'irq maps' or 'cdt')",
                    ))
                }
            }
            sections += 1;
        }
    }

    // ---- names -----------------------------------------------------------

    fn name_ref(&mut self, what: &str) -> PResult<NameRef> {
        let (base, origin) = self.ident(what)?;
        let ranges = if self.is_punct('[')? {
            self.bump()?;
            let mut ranges = Vec::new();
            if self.eat_punct(']')? {
                ranges.push(Range::All);
            } else {
                loop {
                    ranges.push(self.range()?);
                    if self.eat_punct(']')? {
                        break;
                    }
                    self.expect_punct(',', "or ']' in a name's index list")?;
                }
            }
            Some(ranges)
        } else {
            None
        };
        Ok(NameRef {
            base,
            ranges,
            origin,
        })
    }

    fn range(&mut self) -> PResult<Range> {
        match self.peek()?.0 {
            Token::DotDot => {
                self.bump()?;
                Ok(Range::To(self.number("a number after '..'")?))
            }
            Token::Number(a) => {
                self.bump()?;
                if self.peek()?.0 == Token::DotDot {
                    self.bump()?;
                    if let Token::Number(b) = self.peek()?.0 {
                        self.bump()?;
                        Ok(Range::FromTo(a, b))
                    } else {
                        Ok(Range::From(a))
                    }
                } else {
                    Ok(Range::Only(a))
                }
            }
            _ => Err(self.expected("an index or range (n, a..b, ..b or a..)")),
        }
    }

    fn slot(&mut self) -> PResult<u64> {
        match self.peek()? {
            (Token::Number(n), _, end) => {
                self.cursor = end;
                Ok(n)
            }
            (Token::Ident(w), start, end) => {
                let at = start.origin();
                match w.as_str() {
                    "sc_slot" | "temp_fault_ep_slot" => Err(self.error_at(
                        at,
                        format!("TCB slot '{w}' is an MCS feature, outside Cerne's non-MCS subset"),
                    )),
                    "bound_vcpu" => Err(self.error_at(
                        at,
                        "TCB slot 'bound_vcpu' needs the hypervisor configuration, outside Cerne's subset",
                    )),
                    _ => match TCB_SLOT_NAMES.iter().find(|(n, _)| *n == w) {
                        Some((_, slot)) => {
                            self.cursor = end;
                            Ok(*slot)
                        }
                        None => Err(self.expected(
                            "a slot number or TCB slot name (cspace, vspace, reply_slot, caller_slot, ipc_buffer_slot, fault_ep_slot or bound_notification)",
                        )),
                    },
                }
            }
            _ => Err(self.expected(
                "a slot number or TCB slot name (cspace, vspace, reply_slot, caller_slot, ipc_buffer_slot, fault_ep_slot or bound_notification)",
            )),
        }
    }

    // ---- objects ---------------------------------------------------------

    fn objects_section(&mut self) -> PResult<()> {
        self.expect_punct('{', "to open the objects section")?;
        while !self.eat_punct('}')? {
            if !matches!(self.peek()?.0, Token::Ident(_)) {
                return Err(
                    self.expected("an object declaration or '}' to close the objects section")
                );
            }
            let qname = self.qname()?;
            self.object_decl(qname, &[], 0)?;
        }
        Ok(())
    }

    fn qname(&mut self) -> PResult<Vec<NameRef>> {
        let mut names = vec![self.name_ref("an object name")?];
        while self.eat_punct('/')? {
            names.push(self.name_ref("an object name after '/'")?);
        }
        Ok(names)
    }

    /// After a qualified name: `= type (params) { children }`. `outer` is
    /// the untyped chain the declaration is nested in.
    fn object_decl(
        &mut self,
        qname: Vec<NameRef>,
        outer: &[ObjectName],
        depth: usize,
    ) -> PResult<()> {
        let eq_at = self.here()?;
        self.expect_punct('=', "after the object name")?;
        if depth > MAX_NESTING {
            return Err(self.error_at(
                eq_at,
                format!("untyped children nest deeper than {MAX_NESTING} levels"),
            ));
        }
        let (type_name, type_at) = self.ident(OBJECT_TYPES_EXPECTED)?;
        if let Some((_, why)) = OUTSIDE_OBJECT_TYPES.iter().find(|(t, _)| *t == type_name) {
            return Err(self.error_at(type_at, *why));
        }
        let params = self.object_params()?;
        let kind = self.object_kind(&type_name, type_at, &params)?;

        // Parents: the outer chain, then the qualifier's names.
        let mut parents: Vec<ObjectName> = outer.to_vec();
        let (last, qualifiers) = qname.split_last().expect("qname has at least one name");
        for q in qualifiers {
            let Some(name) = q.single() else {
                return Err(self.error_at(
                    q.origin,
                    format!("untyped parent '{}' must name one object", q.base),
                ));
            };
            self.ensure_untyped_parent(&name, q.origin)?;
            if let Some(parent) = parents.last() {
                let parent_index = self.state.by_name[parent];
                self.add_cover_exact(
                    parent_index,
                    vec![Reference {
                        name: name.clone(),
                        origin: q.origin,
                    }],
                );
            }
            parents.push(name);
        }

        let declared = self.declare(last, kind, params.is_empty(), type_at)?;
        if let Some(parent) = parents.last() {
            let parent_index = self.state.by_name[parent];
            let refs = declared
                .iter()
                .map(|&i| Reference {
                    name: self.state.spec.objects[i].name.clone(),
                    origin: last.origin,
                })
                .collect();
            self.add_cover_exact(parent_index, refs);
        }

        if self.is_punct('{')? {
            let open = self.here()?;
            self.bump()?;
            let this = match declared.as_slice() {
                [one] if matches!(self.state.spec.objects[*one].kind, ObjectKind::Untyped(_)) => {
                    self.state.spec.objects[*one].name.clone()
                }
                [_] => {
                    return Err(self.error_at(
                        open,
                        format!(
                            "only untyped objects can contain objects, and '{}' is a {type_name}",
                            last.base
                        ),
                    ))
                }
                _ => {
                    return Err(self.error_at(
                        open,
                        format!(
                            "'{}' declares an array; name one element to list what it covers",
                            last.base
                        ),
                    ))
                }
            };
            let this_index = self.state.by_name[&this];
            let mut chain = parents.clone();
            chain.push(this);
            while !self.eat_punct('}')? {
                let q = self.qname()?;
                if self.is_punct('=')? {
                    self.object_decl(q, &chain, depth + 1)?;
                } else {
                    match <[NameRef; 1]>::try_from(q) {
                        Ok([child]) => self.state.covers.push((this_index, CoverItem::Ref(child))),
                        Err(q) => {
                            return Err(self.error_at(
                                q[0].origin,
                                "expected '=' after a qualified name in an untyped's children",
                            ))
                        }
                    }
                }
                self.eat_punct(',')?;
            }
        }
        Ok(())
    }

    fn add_cover_exact(&mut self, ut: usize, refs: Vec<Reference>) {
        self.state.covers.push((ut, CoverItem::Exact(refs)));
    }

    fn ensure_untyped_parent(&mut self, name: &ObjectName, at: Origin) -> PResult<()> {
        match self.state.by_name.get(name) {
            Some(&i) => match self.state.spec.objects[i].kind {
                ObjectKind::Untyped(_) => Ok(()),
                ref other => Err(self.error_at(
                    at,
                    format!(
                        "'{name}' is used as an untyped parent but is {} {}",
                        article(other.keyword()),
                        other.keyword()
                    ),
                )),
            },
            None if name.index.is_some() => {
                Err(self.error_at(at, format!("untyped parent '{name}' is not declared")))
            }
            None => {
                if self.state.array_len.contains_key(&name.base) {
                    return Err(self.error_at(
                        at,
                        format!(
                            "'{}' is an array; name one element as the untyped parent",
                            name.base
                        ),
                    ));
                }
                self.count_items(1, at)?;
                let index =
                    self.push_object(name.clone(), ObjectKind::Untyped(Untyped::default()), at);
                self.state.implicit.insert(index);
                Ok(())
            }
        }
    }

    fn push_object(&mut self, name: ObjectName, kind: ObjectKind, origin: Origin) -> usize {
        let index = self.state.spec.objects.len();
        self.state.by_name.entry(name.clone()).or_insert(index);
        self.state.spec.objects.push(Object {
            name,
            kind,
            slots: Vec::new(),
            origin,
        });
        index
    }

    /// Declares `name` or `name[n]`, or extends an untyped declared before.
    /// Returns the objects the declaration stands for.
    fn declare(
        &mut self,
        name: &NameRef,
        kind: ObjectKind,
        no_params: bool,
        at: Origin,
    ) -> PResult<Vec<usize>> {
        let count = match name.ranges.as_deref() {
            None => None,
            Some([Range::Only(n)]) => Some(*n),
            Some(_) => {
                return Err(self.error_at(
                    name.origin,
                    format!(
                        "expected '{}' or '{}[n]' in a declaration, found a range",
                        name.base, name.base
                    ),
                ))
            }
        };
        // An untyped said again: extend the one there.
        if let ObjectKind::Untyped(new) = &kind {
            let existing = match count {
                Some(n) if self.state.array_len.contains_key(&name.base) => {
                    Some(ObjectName::element(&name.base, n))
                }
                None if self
                    .state
                    .by_name
                    .contains_key(&ObjectName::plain(&name.base)) =>
                {
                    Some(ObjectName::plain(&name.base))
                }
                _ => None,
            };
            if let Some(existing) = existing {
                let Some(&i) = self.state.by_name.get(&existing) else {
                    return Err(self.error_at(
                        name.origin,
                        format!("'{existing}' is beyond the array '{}'", name.base),
                    ));
                };
                let implicit = self.state.implicit.remove(&i);
                let object = &mut self.state.spec.objects[i];
                let ObjectKind::Untyped(old) = &mut object.kind else {
                    // Same name, another type: a duplicate the validator reports.
                    return self.declare_new(name, count, kind, at);
                };
                if implicit {
                    old.size_bits = new.size_bits;
                    old.paddr = new.paddr;
                    object.origin = name.origin;
                } else if !no_params && (old.size_bits != new.size_bits || old.paddr != new.paddr) {
                    return Err(self.error_at(
                        at,
                        format!("untyped '{existing}' is declared again with other parameters"),
                    ));
                }
                return Ok(vec![i]);
            }
        }
        self.declare_new(name, count, kind, at)
    }

    fn declare_new(
        &mut self,
        name: &NameRef,
        count: Option<u64>,
        kind: ObjectKind,
        _at: Origin,
    ) -> PResult<Vec<usize>> {
        match count {
            None => {
                self.count_items(1, name.origin)?;
                Ok(vec![self.push_object(
                    ObjectName::plain(&name.base),
                    kind,
                    name.origin,
                )])
            }
            Some(n) => {
                self.count_items(n, name.origin)?;
                self.state.array_len.entry(name.base.clone()).or_insert(n);
                Ok((0..n)
                    .map(|i| {
                        self.push_object(
                            ObjectName::element(&name.base, i),
                            kind.clone(),
                            name.origin,
                        )
                    })
                    .collect())
            }
        }
    }

    fn object_params(&mut self) -> PResult<Vec<(ObjParam, Origin)>> {
        let mut params = Vec::new();
        if !self.eat_punct('(')? {
            return Ok(params);
        }
        if self.eat_punct(')')? {
            return Ok(params);
        }
        loop {
            let at = self.here()?;
            params.push((self.object_param()?, at));
            if self.eat_punct(')')? {
                return Ok(params);
            }
            self.expect_punct(',', "or ')' between object parameters")?;
        }
    }

    fn object_param(&mut self) -> PResult<ObjParam> {
        let (token, start, _) = self.peek()?;
        let at = start.origin();
        match token {
            Token::Number(n) => {
                self.bump()?;
                let (unit, unit_at) = match self.peek()? {
                    (Token::Ident(u), s, _) => (u, s.origin()),
                    (Token::Punct(':'), _, _) => {
                        return Err(self.error_at(at, "PCI device addresses (bus:dev.fun) are an x86 IOMMU feature, outside Cerne's AArch64 subset"))
                    }
                    _ => return Err(self.expected("'bits', 'k' or 'M' after a size")),
                };
                let param =
                    match unit.as_str() {
                        "bits" => ObjParam::Bits(n),
                        "k" => ObjParam::VmSize(n.checked_mul(1 << 10).ok_or_else(|| {
                            self.error_at(at, "frame size does not fit in 64 bits")
                        })?),
                        "M" => ObjParam::VmSize(n.checked_mul(1 << 20).ok_or_else(|| {
                            self.error_at(at, "frame size does not fit in 64 bits")
                        })?),
                        "ports" => return Err(self.error_at(
                            unit_at,
                            "I/O port ranges are an x86 feature, outside Cerne's AArch64 subset",
                        )),
                        other => {
                            return Err(self.error_at(
                                unit_at,
                                format!(
                                    "expected 'bits', 'k' or 'M' after a size, found '{other}'"
                                ),
                            ))
                        }
                    };
                self.bump()?;
                Ok(param)
            }
            Token::Ident(key) => {
                if let Some((_, why)) = OUTSIDE_OBJECT_PARAMS.iter().find(|(k, _)| *k == key) {
                    return Err(self.error_at(at, *why));
                }
                if key.starts_with("msi_") {
                    return Err(self.error_at(
                        at,
                        format!("'{key}' is an x86 MSI parameter, outside Cerne's AArch64 subset"),
                    ));
                }
                self.bump()?;
                self.expect_punct(':', &format!("after '{key}'"))?;
                if let Some(k) = NUMBER_PARAMS.iter().find(|k| **k == key) {
                    return Ok(ObjParam::Number(
                        k,
                        self.number(&format!("a number for '{key}'"))?,
                    ));
                }
                match key.as_str() {
                    "irq" => Ok(ObjParam::Number("irq", self.number("a number for 'irq'")?)),
                    "resume" | "fpu_disabled" => {
                        let k = if key == "resume" { "resume" } else { "fpu_disabled" };
                        let value = match self.peek()?.0 {
                            Token::Ident(w) if w == "True" => true,
                            Token::Ident(w) if w == "False" => false,
                            _ => return Err(self.expected(&format!("'True' or 'False' for '{key}'"))),
                        };
                        self.bump()?;
                        Ok(ObjParam::Bool(k, value))
                    }
                    "init" => {
                        self.expect_punct('[', "to open the init argument list")?;
                        let mut args = Vec::new();
                        if !self.eat_punct(']')? {
                            loop {
                                args.push(self.number("an init argument (a number)")?);
                                if self.eat_punct(']')? {
                                    break;
                                }
                                self.expect_punct(',', "or ']' between init arguments")?;
                            }
                        }
                        Ok(ObjParam::Init(args))
                    }
                    "fill" => self.fill(),
                    "trigger" => {
                        let trigger = match self.peek()?.0 {
                            Token::Ident(w) if w == "level" => IrqTrigger::Level,
                            Token::Ident(w) if w == "edge" => IrqTrigger::Edge,
                            _ => return Err(self.expected("'level' or 'edge' for 'trigger'")),
                        };
                        self.bump()?;
                        Ok(ObjParam::Trigger(trigger))
                    }
                    _ => Err(self.error_at(at, format!("expected an object parameter (n bits, n k, n M, paddr, fill, addr, ip, sp, prio, max_prio, affinity, resume, fpu_disabled, dom, fault_ep, init, asid_high, trigger, target or irq), found '{key}'"))),
                }
            }
            _ => Err(self.expected("an object parameter")),
        }
    }

    fn fill(&mut self) -> PResult<ObjParam> {
        self.expect_punct('[', "to open the fill list")?;
        let mut entries = Vec::new();
        if self.eat_punct(']')? {
            return Ok(ObjParam::Fill(entries));
        }
        loop {
            self.expect_punct('{', "to open a fill entry")?;
            let (words, end) = self
                .lexer
                .fill_words(self.cursor)
                .map_err(|e| self.lex_error(e))?;
            self.cursor = end;
            entries.push(words);
            if self.eat_punct(']')? {
                return Ok(ObjParam::Fill(entries));
            }
            self.expect_punct(',', "or ']' between fill entries")?;
        }
    }

    fn object_kind(
        &self,
        type_name: &str,
        at: Origin,
        params: &[(ObjParam, Origin)],
    ) -> PResult<ObjectKind> {
        if let Some((_, why)) = OUTSIDE_OBJECT_TYPES.iter().find(|(t, _)| *t == type_name) {
            return Err(self.error_at(at, *why));
        }
        let allowed: &[&str] = match type_name {
            "ut" => &["bits", "paddr"],
            "tcb" => &[
                "addr",
                "ip",
                "sp",
                "prio",
                "max_prio",
                "affinity",
                "resume",
                "fpu_disabled",
                "dom",
                "fault_ep",
                "init",
            ],
            "ep" | "notification" | "irq" | "pgd" | "pud" | "pd" | "pt" => &[],
            "cnode" => &["bits"],
            "frame" => &["size", "paddr", "fill"],
            "asid_pool" => &["asid_high"],
            "arm_irq" => &["trigger", "target"],
            "arm_sgi_signal" => &["irq", "target"],
            _ => {
                return Err(self.error_at(
                    at,
                    format!("expected {OBJECT_TYPES_EXPECTED}, found '{type_name}'"),
                ))
            }
        };
        let mut seen = HashSet::new();
        for (param, param_at) in params {
            let key = param.key();
            if !allowed.contains(&key) {
                let shown = match param {
                    ObjParam::Bits(_) => "a size in bits".to_string(),
                    ObjParam::VmSize(_) => "a frame size".to_string(),
                    _ => format!("'{key}'"),
                };
                return Err(self.error_at(
                    *param_at,
                    format!(
                        "{shown} does not apply to {} {type_name} object",
                        article(type_name)
                    ),
                ));
            }
            if !seen.insert(key) {
                return Err(self.error_at(*param_at, format!("'{key}' is given twice")));
            }
        }
        let number = |k: &str| {
            params.iter().find_map(|(p, _)| match p {
                ObjParam::Number(key, n) if *key == k => Some(*n),
                _ => None,
            })
        };
        let boolean = |k: &str| {
            params.iter().find_map(|(p, _)| match p {
                ObjParam::Bool(key, b) if *key == k => Some(*b),
                _ => None,
            })
        };
        let bits = params.iter().find_map(|(p, _)| match p {
            ObjParam::Bits(b) => Some(*b),
            _ => None,
        });
        let missing = |what: &str| {
            self.error_at(
                at,
                format!("{} {type_name} object needs {what}", article(type_name)),
            )
        };
        Ok(match type_name {
            "ut" => ObjectKind::Untyped(Untyped {
                size_bits: bits,
                paddr: number("paddr"),
                covers: Vec::new(),
            }),
            "tcb" => ObjectKind::Tcb(Tcb {
                ipc_buffer_addr: number("addr"),
                ip: number("ip"),
                sp: number("sp"),
                prio: number("prio"),
                max_prio: number("max_prio"),
                affinity: number("affinity"),
                resume: boolean("resume"),
                fpu_disabled: boolean("fpu_disabled"),
                dom: number("dom"),
                fault_ep: number("fault_ep"),
                init: params
                    .iter()
                    .find_map(|(p, _)| match p {
                        ObjParam::Init(a) => Some(a.clone()),
                        _ => None,
                    })
                    .unwrap_or_default(),
            }),
            "ep" => ObjectKind::Endpoint,
            "notification" => ObjectKind::Notification,
            "irq" => ObjectKind::Irq { arm: None },
            "pgd" => ObjectKind::VSpace,
            "pud" => ObjectKind::PageTable {
                level: PageTableLevel::Pud,
            },
            "pd" => ObjectKind::PageTable {
                level: PageTableLevel::Pd,
            },
            "pt" => ObjectKind::PageTable {
                level: PageTableLevel::Pt,
            },
            "cnode" => ObjectKind::CNode {
                size_bits: bits.ok_or_else(|| missing("its size: cnode (n bits)"))?,
            },
            "frame" => ObjectKind::Frame(Frame {
                size: params
                    .iter()
                    .find_map(|(p, _)| match p {
                        ObjParam::VmSize(s) => Some(*s),
                        _ => None,
                    })
                    .ok_or_else(|| missing("its size: frame (4k), frame (2M) or frame (1024M)"))?,
                paddr: number("paddr"),
                fill: params
                    .iter()
                    .find_map(|(p, _)| match p {
                        ObjParam::Fill(f) => Some(f.clone()),
                        _ => None,
                    })
                    .unwrap_or_default(),
            }),
            "asid_pool" => ObjectKind::AsidPool {
                asid_high: number("asid_high"),
            },
            "arm_irq" => ObjectKind::Irq {
                arm: Some(ArmIrq {
                    trigger: params
                        .iter()
                        .find_map(|(p, _)| match p {
                            ObjParam::Trigger(t) => Some(*t),
                            _ => None,
                        })
                        .ok_or_else(|| missing("'trigger: level' or 'trigger: edge'"))?,
                    target: number("target").ok_or_else(|| missing("'target: n'"))?,
                }),
            },
            _ => ObjectKind::SgiSignal {
                irq: number("irq").ok_or_else(|| missing("'irq: n'"))?,
                target: number("target").ok_or_else(|| missing("'target: n'"))?,
            },
        })
    }

    // ---- caps ------------------------------------------------------------

    fn caps_section(&mut self) -> PResult<()> {
        self.expect_punct('{', "to open the caps section")?;
        while !self.eat_punct('}')? {
            if !matches!(self.peek()?.0, Token::Ident(_)) {
                return Err(
                    self.expected("an object name (a container of caps) or a cap name declaration")
                );
            }
            if self.peek_second()? == Token::Punct('=') {
                let name = self.name_ref("a cap name")?;
                self.bump()?;
                self.expect_punct('(', "to open the (object, slot) a cap name names")?;
                let container = self.name_ref("an object name")?;
                self.expect_punct(',', "between the object and the slot")?;
                let slot = self.slot()?;
                self.expect_punct(')', "to close (object, slot)")?;
                self.state.cap_name_decls.push((name, container, slot));
                continue;
            }
            let containers = self.name_ref("an object name")?;
            self.expect_punct('{', "to open the object's cap list")?;
            let mut entries = Vec::new();
            while !self.eat_punct('}')? {
                entries.push(self.cap_entry()?);
                self.eat_punct(';')?;
            }
            self.state.cap_decls.push(CapDecl {
                containers,
                entries,
            });
        }
        Ok(())
    }

    fn cap_entry(&mut self) -> PResult<CapEntry> {
        let origin = self.here()?;
        let slot = match (self.peek()?.0, self.peek_second()?) {
            (Token::Number(_) | Token::Ident(_), Token::Punct(':')) => {
                let slot = self.slot()?;
                self.bump()?;
                Some(slot)
            }
            (Token::Number(_), _) => {
                self.bump()?;
                return Err(self.expected("':' after the slot number"));
            }
            _ => None,
        };
        let cap_name = if matches!(self.peek()?.0, Token::Ident(_))
            && self.peek_second()? == Token::Punct('=')
            || matches!(self.peek()?.0, Token::Ident(_))
                && self.peek_second()? == Token::Punct('[')
                && self.name_then_eq()?
        {
            let name = self.name_ref("a cap name")?;
            self.expect_punct('=', "after the cap name")?;
            Some(name)
        } else {
            None
        };
        let body = if self.eat_punct('<')? {
            let source = self.name_ref("a cap name to copy")?;
            self.expect_punct('>', "to close the copied cap's name")?;
            let mut mask = CapRights::ALL;
            if self.eat_punct('(')? {
                loop {
                    let at = self.here()?;
                    if self.eat_ident("masked")? {
                        self.expect_punct(':', "after 'masked'")?;
                        mask = mask.intersect(self.rights()?);
                    } else {
                        return Err(self.error_at(
                            at,
                            "expected 'masked: rights' (the only parameter of a copied cap)",
                        ));
                    }
                    if self.eat_punct(')')? {
                        break;
                    }
                    self.expect_punct(',', "or ')' between cap parameters")?;
                }
            }
            CapBody::Copy { source, mask }
        } else {
            let target = self.name_ref(
                "a cap: an object name, irq_control, asid_control, domain, or <cap name>",
            )?;
            let special = match (target.base.as_str(), &target.ranges) {
                ("irq_control", None) => Some(CapTarget::IrqControl),
                ("asid_control", None) => Some(CapTarget::AsidControl),
                ("domain", None) => Some(CapTarget::Domain),
                ("sched_control", None) => {
                    return Err(self.error_at(target.origin, "'sched_control' caps are an MCS feature, outside Cerne's non-MCS subset"))
                }
                ("io_space_master", None) => {
                    return Err(self.error_at(target.origin, "'io_space_master' caps are an x86 IOMMU feature, outside Cerne's AArch64 subset"))
                }
                _ => None,
            };
            let mut cap = Cap::to(special.clone().unwrap_or(CapTarget::IrqControl));
            if self.eat_punct('(')? {
                loop {
                    self.cap_param(&mut cap)?;
                    if self.eat_punct(')')? {
                        break;
                    }
                    self.expect_punct(',', "or ')' between cap parameters")?;
                }
            }
            if special.is_none() {
                cap.target = CapTarget::Object(ObjectName::plain(&target.base));
            }
            CapBody::Direct { target, cap }
        };
        let parent = if self.is_punct('-')? {
            self.bump()?;
            if !self.eat_ident("child_of")? {
                return Err(self.expected("'child_of' after '-'"));
            }
            Some(self.raw_slot_ref()?)
        } else {
            None
        };
        Ok(CapEntry {
            slot,
            cap_name,
            body,
            parent,
            origin,
        })
    }

    /// True when the text ahead is `name[...] =`.
    fn name_then_eq(&mut self) -> PResult<bool> {
        let saved = self.cursor;
        let result = self.name_ref("a name").is_ok() && self.is_punct('=').unwrap_or(false);
        self.cursor = saved;
        Ok(result)
    }

    fn raw_slot_ref(&mut self) -> PResult<RawSlotRef> {
        if self.eat_punct('(')? {
            let object = self.name_ref("an object name")?;
            self.expect_punct(',', "between the object and the slot")?;
            let slot = self.slot()?;
            self.expect_punct(')', "to close (object, slot)")?;
            Ok(RawSlotRef::Slot(object, slot))
        } else if matches!(self.peek()?.0, Token::Ident(_)) {
            Ok(RawSlotRef::CapName(self.name_ref("a cap name")?))
        } else {
            Err(self.expected("a slot reference: (object, slot) or a cap name"))
        }
    }

    /// A run of rights letters: R, W, G (or X, capDL's alias for Grant) and
    /// P (GrantReply).
    fn rights(&mut self) -> PResult<CapRights> {
        let mut rights = CapRights::NONE;
        let mut any = false;
        while let (Token::Ident(word), start, end) = self.peek()? {
            if !word.chars().all(|c| c.is_ascii_uppercase()) {
                break;
            }
            let mut column = start.column;
            for c in word.chars() {
                let right = match c {
                    'R' => CapRights::READ,
                    'W' => CapRights::WRITE,
                    'G' | 'X' => CapRights::GRANT,
                    'P' => CapRights::GRANT_REPLY,
                    other => {
                        return Err(self.error_at(
                            Origin {
                                line: start.line,
                                column,
                            },
                            format!("expected a cap right (R, W, G, X or P), found '{other}'"),
                        ))
                    }
                };
                rights = CapRights::from_word(rights.word() | right.word());
                column = column.saturating_add(1);
            }
            self.cursor = end;
            any = true;
        }
        if !any {
            return Err(self.expected("a cap right (R, W, G, X or P)"));
        }
        Ok(rights)
    }

    fn cap_param(&mut self, cap: &mut Cap) -> PResult<()> {
        let (token, start, _) = self.peek()?;
        let at = start.origin();
        let Token::Ident(word) = token else {
            return Err(self.expected(CAP_PARAM_EXPECTED));
        };
        if word.chars().all(|c| c.is_ascii_uppercase()) {
            let rights = self.rights()?;
            cap.rights = CapRights::from_word(cap.rights.word() | rights.word());
            return Ok(());
        }
        self.bump()?;
        fn number_after_colon(p: &mut Parser<'_>, key: &str) -> PResult<u64> {
            p.expect_punct(':', &format!("after '{key}'"))?;
            p.number(&format!("a number for '{key}'"))
        }
        match word.as_str() {
            "masked" => return Err(self.error_at(at, "'masked' applies only to a copied cap (<name>)")),
            "badge" => cap.badge = number_after_colon(self, "badge")?,
            "guard" => cap.guard = number_after_colon(self, "guard")?,
            "guard_size" => cap.guard_size = number_after_colon(self, "guard_size")?,
            "cached" => cap.cached = true,
            "uncached" => cap.cached = false,
            "reply" => cap.tcb_kind = TcbCapKind::Reply,
            "master_reply" => cap.tcb_kind = TcbCapKind::MasterReply,
            "asid" => {
                self.expect_punct(':', "after 'asid'")?;
                self.expect_punct('(', "to open (asid_high, asid_low)")?;
                let high = self.number("the ASID pool index")?;
                self.expect_punct(',', "between the two ASID halves")?;
                let low = self.number("the ASID's index in its pool")?;
                self.expect_punct(')', "to close the ASID")?;
                cap.asid = Some((high, low));
            }
            "mapping" => {
                self.expect_punct(':', "after 'mapping'")?;
                self.expect_punct('(', "to open (table, slot)")?;
                let table = self.name_ref("a page table name")?;
                let Some(name) = table.single() else {
                    return Err(self.error_at(table.origin, "a mapping names one page table"));
                };
                self.expect_punct(',', "between the table and the slot")?;
                let slot = self.slot()?;
                self.expect_punct(')', "to close (table, slot)")?;
                cap.mapping = Some((Reference { name, origin: table.origin }, slot));
            }
            "core" => return Err(self.error_at(at, "'core' belongs to sched_control caps, an MCS feature outside Cerne's non-MCS subset")),
            "ports" => return Err(self.error_at(at, "'ports' belongs to x86 I/O port caps, outside Cerne's AArch64 subset")),
            _ => return Err(self.error_at(at, format!("expected {CAP_PARAM_EXPECTED}, found '{word}'"))),
        }
        Ok(())
    }

    // ---- irq maps, cdt ---------------------------------------------------

    fn irq_section(&mut self) -> PResult<()> {
        self.expect_punct('{', "to open the irq maps section")?;
        while !self.eat_punct('}')? {
            let irq = if matches!(self.peek()?.0, Token::Number(_)) {
                let n = self.number("an IRQ number")?;
                self.expect_punct(':', "after the IRQ number")?;
                Some(n)
            } else {
                None
            };
            let object = self.name_ref("an IRQ object name")?;
            self.state.irq_lines.push((irq, object));
            self.eat_punct(';')?;
        }
        Ok(())
    }

    fn cdt_section(&mut self) -> PResult<()> {
        self.expect_punct('{', "to open the cdt section")?;
        while !self.eat_punct('}')? {
            let parent = self.raw_slot_ref()?;
            self.cdt_children(parent, 0)?;
        }
        Ok(())
    }

    fn cdt_children(&mut self, parent: RawSlotRef, depth: usize) -> PResult<()> {
        let open = self.expect_punct('{', "to open the derived caps' list")?;
        if depth > MAX_NESTING {
            return Err(self.error_at(
                open,
                format!("cdt blocks nest deeper than {MAX_NESTING} levels"),
            ));
        }
        while !self.eat_punct('}')? {
            let child = self.raw_slot_ref()?;
            self.count_items(1, open)?;
            self.state.cdt.push((parent.clone(), child.clone()));
            if self.is_punct('{')? {
                self.cdt_children(child, depth + 1)?;
            }
            self.eat_punct(';')?;
        }
        Ok(())
    }
}

// ---- lowering ------------------------------------------------------------

impl State {
    fn count_of(&self, base: &str) -> Option<u64> {
        self.array_len.get(base).copied()
    }

    /// The names a name reference stands for.
    fn expand(
        &self,
        file: &str,
        r: &NameRef,
        count: impl Fn(&str) -> Option<u64>,
    ) -> Result<Vec<ObjectName>, Diagnostic> {
        let Some(ranges) = &r.ranges else {
            return Ok(vec![ObjectName::plain(&r.base)]);
        };
        let mut names = Vec::new();
        let size = || {
            count(&r.base).ok_or_else(|| {
                Diagnostic::at(
                    file,
                    r.origin,
                    format!(
                        "'{}' is not a declared array, so an open range over it has no end",
                        r.base
                    ),
                )
            })
        };
        for range in ranges {
            let (first, last, down) = match *range {
                Range::Only(n) => (n, n, false),
                Range::FromTo(a, b) => (a.min(b), a.max(b), a > b),
                Range::To(b) => (0, b, false),
                Range::From(a) => {
                    let n = size()?;
                    if a >= n {
                        continue;
                    }
                    (a, n - 1, false)
                }
                Range::All => {
                    let n = size()?;
                    if n == 0 {
                        continue;
                    }
                    (0, n - 1, false)
                }
            };
            if last - first >= MAX_ITEMS as u64
                || names.len() + ((last - first) as usize) >= MAX_ITEMS
            {
                return Err(Diagnostic::at(
                    file,
                    r.origin,
                    format!(
                        "the range over '{}' has more than {MAX_ITEMS} elements",
                        r.base
                    ),
                ));
            }
            let mut run: Vec<ObjectName> = (first..=last)
                .map(|i| ObjectName::element(&r.base, i))
                .collect();
            if down {
                run.reverse();
            }
            names.extend(run);
        }
        Ok(names)
    }

    fn lower(mut self, file: &str) -> Result<Spec, Diagnostic> {
        // Untyped covers.
        for (ut, item) in std::mem::take(&mut self.covers) {
            let refs = match item {
                CoverItem::Exact(refs) => refs,
                CoverItem::Ref(r) => self
                    .expand(file, &r, |b| self.count_of(b))?
                    .into_iter()
                    .map(|name| Reference {
                        name,
                        origin: r.origin,
                    })
                    .collect(),
            };
            if let ObjectKind::Untyped(u) = &mut self.spec.objects[ut].kind {
                for r in refs {
                    if !u.covers.iter().any(|c| c.name == r.name) {
                        u.covers.push(r);
                    }
                }
            }
        }

        // Cap names: name -> (container, slot).
        let mut cap_names: HashMap<ObjectName, (ObjectName, u64)> = HashMap::new();
        let mut cap_name_len: HashMap<String, u64> = HashMap::new();
        for (name, container, slot) in std::mem::take(&mut self.cap_name_decls) {
            let Some(object) = container.single() else {
                return Err(Diagnostic::at(
                    file,
                    container.origin,
                    "a cap name names one object's slot",
                ));
            };
            cap_names.insert(ObjectName::plain(&name.base), (object, slot));
        }

        let mut copies = Vec::new();
        let mut parents = Vec::new();
        let mut items = self.items;
        for decl in std::mem::take(&mut self.cap_decls) {
            let containers = self.expand(file, &decl.containers, |b| self.count_of(b))?;
            for (which, container) in containers.iter().enumerate() {
                let Some(&object) = self.by_name.get(container) else {
                    return Err(Diagnostic::at(
                        file,
                        decl.containers.origin,
                        format!("caps are listed for '{container}', which is not declared"),
                    ));
                };
                let mut next_slot: u64 = 0;
                for entry in &decl.entries {
                    let slot = entry.slot.unwrap_or(next_slot);
                    let count = match &entry.body {
                        CapBody::Direct { target, cap } => {
                            let targets = match cap.target {
                                CapTarget::Object(_) => {
                                    self.expand(file, target, |b| self.count_of(b))?
                                }
                                _ => vec![ObjectName::plain(&target.base)],
                            };
                            items += targets.len();
                            if items > MAX_ITEMS {
                                return Err(Diagnostic::at(file, entry.origin, format!("the spec expands to more than {MAX_ITEMS} objects, caps and IRQs")));
                            }
                            for (k, name) in targets.iter().enumerate() {
                                let mut cap = cap.clone();
                                if let CapTarget::Object(_) = cap.target {
                                    cap.target = CapTarget::Object(name.clone());
                                }
                                let at = slot.checked_add(k as u64).ok_or_else(|| {
                                    Diagnostic::at(
                                        file,
                                        entry.origin,
                                        "slot number overflows 64 bits",
                                    )
                                })?;
                                self.spec.objects[object].slots.push(CapSlot {
                                    slot: at,
                                    cap,
                                    origin: entry.origin,
                                });
                            }
                            targets.len() as u64
                        }
                        CapBody::Copy { source, mask } => {
                            let sources =
                                self.expand(file, source, |b| cap_name_len.get(b).copied())?;
                            for (k, name) in sources.iter().enumerate() {
                                let at = slot.checked_add(k as u64).ok_or_else(|| {
                                    Diagnostic::at(
                                        file,
                                        entry.origin,
                                        "slot number overflows 64 bits",
                                    )
                                })?;
                                copies.push((object, at, name.clone(), *mask, entry.origin));
                            }
                            sources.len() as u64
                        }
                    };
                    if which == 0 {
                        if let Some(name) = &entry.cap_name {
                            match (&name.ranges, count) {
                                (None, 1) => {
                                    cap_names.insert(ObjectName::plain(&name.base), (container.clone(), slot));
                                }
                                (Some(r), _) if matches!(r.as_slice(), [Range::All]) => {
                                    for k in 0..count {
                                        cap_names.insert(ObjectName::element(&name.base, k), (container.clone(), slot + k));
                                    }
                                    cap_name_len.insert(name.base.clone(), count);
                                }
                                _ => {
                                    return Err(Diagnostic::at(file, name.origin, format!("cap name '{}' would name {count} caps; write '{}[]' to name each", name.base, name.base)))
                                }
                            }
                        }
                    }
                    if let Some(parent) = &entry.parent {
                        parents.push((
                            parent.clone(),
                            SlotRef {
                                object: Reference {
                                    name: container.clone(),
                                    origin: entry.origin,
                                },
                                slot,
                            },
                        ));
                    }
                    next_slot = slot.saturating_add(count.max(1) - 1).wrapping_add(1);
                }
            }
        }

        // Copies, in rounds, so that a copy of a copy resolves.
        while !copies.is_empty() {
            let mut left = Vec::new();
            let before = copies.len();
            for (object, slot, source, mask, origin) in copies {
                let Some((container, source_slot)) = cap_names.get(&source) else {
                    return Err(Diagnostic::at(
                        file,
                        origin,
                        format!("cap name '{source}' is not declared"),
                    ));
                };
                let found = self
                    .by_name
                    .get(container)
                    .and_then(|&i| {
                        self.spec.objects[i]
                            .slots
                            .iter()
                            .find(|s| s.slot == *source_slot)
                    })
                    .map(|s| s.cap.clone());
                match found {
                    Some(mut cap) => {
                        cap.rights = cap.rights.intersect(mask);
                        self.spec.objects[object]
                            .slots
                            .push(CapSlot { slot, cap, origin });
                    }
                    None => left.push((object, slot, source, mask, origin)),
                }
            }
            if left.len() == before {
                let (_, _, source, _, origin) = &left[0];
                let (container, slot) = &cap_names[source];
                return Err(Diagnostic::at(file, *origin, format!("cap name '{source}' names slot {slot} of '{container}', which holds no cap")));
            }
            copies = left;
        }

        for object in &mut self.spec.objects {
            object.slots.sort_by_key(|s| s.slot);
        }
        for (parent, child) in parents {
            let parent = resolve_slot_ref(file, &parent, &cap_names)?;
            self.spec.cdt.push(CdtEdge { parent, child });
        }

        // IRQ map.
        let mut next_irq: u64 = 0;
        for (irq, object) in std::mem::take(&mut self.irq_lines) {
            let first = irq.unwrap_or(next_irq);
            let names = self.expand(file, &object, |b| self.count_of(b))?;
            items += names.len();
            if items > MAX_ITEMS {
                return Err(Diagnostic::at(
                    file,
                    object.origin,
                    format!("the spec expands to more than {MAX_ITEMS} objects, caps and IRQs"),
                ));
            }
            for (k, name) in names.iter().enumerate() {
                self.spec.irqs.push(IrqMapping {
                    irq: first.saturating_add(k as u64),
                    object: Reference {
                        name: name.clone(),
                        origin: object.origin,
                    },
                });
            }
            next_irq = first.saturating_add(names.len() as u64);
        }

        // Derivation tree.
        for (parent, child) in std::mem::take(&mut self.cdt) {
            let parent = resolve_slot_ref(file, &parent, &cap_names)?;
            let child = resolve_slot_ref(file, &child, &cap_names)?;
            self.spec.cdt.push(CdtEdge { parent, child });
        }
        Ok(self.spec)
    }
}

/// "a" or "an" before a word.
pub(crate) fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u', 'A', 'E', 'I', 'O', 'U']) {
        "an"
    } else {
        "a"
    }
}

fn resolve_slot_ref(
    file: &str,
    r: &RawSlotRef,
    cap_names: &HashMap<ObjectName, (ObjectName, u64)>,
) -> Result<SlotRef, Diagnostic> {
    match r {
        RawSlotRef::Slot(object, slot) => {
            let Some(name) = object.single() else {
                return Err(Diagnostic::at(
                    file,
                    object.origin,
                    "a slot reference names one object",
                ));
            };
            Ok(SlotRef {
                object: Reference {
                    name,
                    origin: object.origin,
                },
                slot: *slot,
            })
        }
        RawSlotRef::CapName(name) => {
            let Some(key) = name.single() else {
                return Err(Diagnostic::at(
                    file,
                    name.origin,
                    "a slot reference names one cap",
                ));
            };
            match cap_names.get(&key) {
                Some((object, slot)) => Ok(SlotRef {
                    object: Reference {
                        name: object.clone(),
                        origin: name.origin,
                    },
                    slot: *slot,
                }),
                None => Err(Diagnostic::at(
                    file,
                    name.origin,
                    format!("cap name '{key}' is not declared"),
                )),
            }
        }
    }
}
