//! The expansion of a checked [`System`] into a capDL [`Spec`]: per
//! component a TCB, CNode, VSpace (pgd, pud, pd, page tables), its ELF image
//! as filled frames, stack, IPC buffer, heap and bound notification; per
//! channel an endpoint; per fault handler an endpoint; IRQ objects; device
//! and shared frames. The conventions (names, slots, vaddrs, badges, bits)
//! are [`crate::layout`]'s; docs/systems.md describes them.
//!
//! The result is checked with [`capdl::validate()`] before it is returned, so
//! an `Ok` spec is always one the initializer accepts.

use std::collections::{BTreeMap, HashMap};

use capdl::model::{
    ArmIrq, Cap, CapSlot, Frame, IrqMapping, Object, ObjectKind, ObjectName, Origin,
    PageTableLevel, Reference, Tcb, Untyped, TCB_SLOT_BOUND_NOTIFICATION, TCB_SLOT_CSPACE,
    TCB_SLOT_IPC_BUFFER, TCB_SLOT_VSPACE,
};
use capdl::{Diagnostic, Limits, Spec};
use cerne_abi::rights::CapRights;

use crate::elf::{self, Program};
use crate::layout::{
    channel_endpoint, cnode_cap, device_frame, image_runs, object, page_table, shared_frame,
    supervision_window, template, ImagePage, Layout, IMAGE_BASE, IPC_BUFFER, PT_SPAN, SHARED_BASE,
    STACK_TOP,
};
use crate::model::System;
use crate::parse::{size_text, PAGE_SIZE};

/// The capDL fill kind for bytes copied from a file.
pub const FILL_FILE_DATA: &str = "CDL_FrameFill_FileData";

/// A system expanded: the spec, and the files its frame fills name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expanded {
    /// The capDL spec; it passes [`capdl::validate()`] with
    /// [`Limits::default()`].
    pub spec: Spec,
    /// Each program's ELF bytes exactly as loaded, keyed by program name, in
    /// the order components first name them.
    pub files: Vec<(String, Vec<u8>)>,
}

/// Expands `sys`; `load_program` gives the ELF bytes of a program name (it
/// is called once per distinct program). Reports every problem: the
/// system's own (as [`crate::check::check`]), programs that cannot be loaded
/// or do not fit, names that clash in capDL, and not enough memory.
pub fn expand(
    sys: &System,
    load_program: &mut dyn FnMut(&str) -> Result<Vec<u8>, String>,
) -> Result<Expanded, Vec<Diagnostic>> {
    let errors = crate::check::check(sys);
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut errors = Vec::new();
    let file = sys.file.as_str();

    // Load each program once.
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut programs: HashMap<String, Result<Program, String>> = HashMap::new();
    for c in &sys.components {
        if programs.contains_key(&c.program) {
            continue;
        }
        let parsed = match load_program(&c.program) {
            Ok(bytes) => {
                let parsed = elf::read(&bytes);
                files.push((c.program.clone(), bytes));
                parsed
            }
            Err(e) => Err(format!("it cannot be loaded: {e}")),
        };
        programs.insert(c.program.clone(), parsed);
    }

    let mut b = Builder::default();
    let mut ready: Vec<(usize, Layout, &Program)> = Vec::new();
    for (index, c) in sys.components.iter().enumerate() {
        let layout = Layout::new(sys, index);
        let at = c.spans.at("program");
        let program = match &programs[&c.program] {
            Ok(p) => p,
            Err(e) => {
                errors.push(Diagnostic::at(
                    file,
                    at,
                    format!("program '{}' of component '{}': {e}", c.program, c.name),
                ));
                continue;
            }
        };
        let limit = layout.stack_bottom.saturating_sub(PAGE_SIZE);
        if let Some(s) = program
            .segments
            .iter()
            .find(|s| s.vaddr < IMAGE_BASE || s.vaddr + s.memsz > limit)
        {
            errors.push(Diagnostic::at(
                file,
                at,
                format!(
                    "program '{}' of component '{}' has a PT_LOAD segment at {:#x}..{:#x}, outside {IMAGE_BASE:#x}..{limit:#x} (below its {} stack and the guard page under it)",
                    c.program,
                    c.name,
                    s.vaddr,
                    s.vaddr + s.memsz,
                    size_text(c.stack)
                ),
            ));
            continue;
        }
        ready.push((index, layout, program));
    }
    let supervision = if errors.is_empty() {
        supervision(sys, &ready, &files, &mut errors)
    } else {
        Supervision::default()
    };
    for (index, layout, program) in &ready {
        let extra = if Some(*index) == supervision.supervisor {
            &supervision.maps
        } else {
            &supervision.none
        };
        b.component(sys, *index, layout, program, extra);
    }
    b.shared_objects(sys);
    for (name, kind, slots, origin) in supervision.objects {
        b.object(name, kind, slots, origin);
    }

    // Names the conventions made twice (an item named like another's object).
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, o) in b.spec.objects.iter().enumerate() {
        let continues_array = o.name.index.is_some()
            && i > 0
            && b.spec.objects[i - 1].name.base == o.name.base
            && b.spec.objects[i - 1].name.index.map(|k| k + 1) == o.name.index;
        match seen.get(o.name.base.as_str()) {
            Some(&first) if !continues_array => {
                let first = &b.spec.objects[first];
                errors.push(Diagnostic::at(
                    file,
                    o.origin,
                    format!(
                        "the capDL object '{}' made here has the name of '{}' (made at {}:{}); rename one of the items",
                        o.name, first.name, first.origin.line, first.origin.column
                    ),
                ));
            }
            Some(_) => {}
            None => {
                seen.insert(&o.name.base, i);
            }
        }
    }

    // Memory: every object made from RAM (device frames have a paddr).
    let needed: u64 = b
        .spec
        .objects
        .iter()
        .filter(|o| !matches!(&o.kind, ObjectKind::Frame(f) if f.paddr.is_some()))
        .filter_map(|o| o.kind.size_bits())
        .map(|bits| 1u64 << bits.min(63))
        .fold(0u64, u64::saturating_add);
    if errors.is_empty() && needed > sys.memory {
        errors.push(Diagnostic::at(
            file,
            sys.spans.at("memory"),
            format!(
                "the system's objects need {} bytes ({}) of RAM, more than memory = {}",
                needed,
                size_text(needed.div_ceil(PAGE_SIZE) * PAGE_SIZE),
                size_text(sys.memory)
            ),
        ));
    }

    if errors.is_empty() {
        if let Err(invalid) = capdl::validate(&b.spec, file, &Limits::default()) {
            errors.extend(invalid.into_iter().map(|mut d| {
                d.message = format!("the expanded capDL is invalid: {}", d.message);
                d
            }));
        }
    }
    if errors.is_empty() {
        Ok(Expanded {
            spec: b.spec,
            files,
        })
    } else {
        crate::parse::sort(&mut errors);
        Err(errors)
    }
}

/// A program's image: for each page a segment touches, its rights and the
/// fill entries of the bytes with file data.
type Image = BTreeMap<u64, (CapRights, Vec<Vec<String>>)>;

/// The image pages of `program` (named `name` in fills).
fn image_pages(name: &str, program: &Program) -> Image {
    let mut image: Image = BTreeMap::new();
    for s in &program.segments {
        let first = s.vaddr / PAGE_SIZE * PAGE_SIZE;
        let end = s.vaddr + s.memsz;
        let file_end = s.vaddr + s.filesz;
        let mut page = first;
        while page < end {
            let entry = image.entry(page).or_insert((CapRights::READ, Vec::new()));
            entry.0 = rights(entry.0, s.writable, s.executable);
            let from = s.vaddr.max(page);
            let to = file_end.min(page + PAGE_SIZE);
            if from < to {
                entry.1.push(vec![
                    (from - page).to_string(),
                    (to - from).to_string(),
                    FILL_FILE_DATA.to_string(),
                    format!("\"{name}\""),
                    (s.offset + (from - s.vaddr)).to_string(),
                ]);
            }
            page += PAGE_SIZE;
        }
    }
    image
}

/// The name of image page `page` (a vaddr) of component `me`.
fn image_frame(me: &str, page: u64) -> ObjectName {
    ObjectName::plain(&format!("{me}_image_{:x}", page / PAGE_SIZE))
}

/// What supervision adds: the supervisor's window mappings and the
/// objects it needs (template CNodes, ELF header pages, pristine frames).
#[derive(Default)]
struct Supervision {
    supervisor: Option<usize>,
    maps: BTreeMap<u64, Mapping>,
    none: BTreeMap<u64, Mapping>,
    objects: Vec<(ObjectName, ObjectKind, Vec<CapSlot>, Origin)>,
}

fn supervision(
    sys: &System,
    ready: &[(usize, Layout, &Program)],
    files: &[(String, Vec<u8>)],
    errors: &mut Vec<Diagnostic>,
) -> Supervision {
    let mut out = Supervision::default();
    let Some(w) = supervision_window(sys) else {
        return out;
    };
    out.supervisor = Some(w.supervisor);
    let s = &sys.components[w.supervisor];
    let map = |out: &mut Supervision, vaddr: u64, frame: ObjectName, rights: CapRights| {
        out.maps.insert(
            vaddr,
            Mapping {
                frame,
                rights,
                cached: true,
            },
        );
    };
    let find = |index: usize| ready.iter().find(|(i, _, _)| *i == index);
    let mut images = Vec::new();
    for m in &w.components {
        let Some((_, layout, program)) = find(m.index) else {
            continue;
        };
        let c = &sys.components[m.index];
        let origin = c.spans.header;
        // The template: exactly the caps of its CNode.
        out.objects.push((
            template(&c.name),
            ObjectKind::CNode {
                size_bits: u64::from(c.cnode_bits),
            },
            layout
                .slots
                .iter()
                .map(|s| slot(s.slot, s.cap.clone()))
                .collect(),
            origin,
        ));
        // The first page of its file: the ELF and program headers.
        if program.headers_end > PAGE_SIZE {
            errors.push(Diagnostic::at(
                &sys.file,
                c.spans.at("program"),
                format!(
                    "program '{}' of supervised component '{}' has its program headers at file bytes ..{:#x}; the supervisor reads them from the file's first 4 KiB",
                    c.program, c.name, program.headers_end
                ),
            ));
            continue;
        }
        let len = files
            .iter()
            .find(|(n, _)| *n == c.program)
            .map_or(0, |(_, b)| b.len() as u64)
            .min(PAGE_SIZE);
        let elf_frame = object(&c.name, "elf");
        out.objects.push((
            elf_frame.clone(),
            frame(
                None,
                vec![vec![
                    "0".to_string(),
                    len.to_string(),
                    FILL_FILE_DATA.to_string(),
                    format!("\"{}\"", c.program),
                    "0".to_string(),
                ]],
            ),
            Vec::new(),
            origin,
        ));
        map(&mut out, m.elf, elf_frame, CapRights::READ);
        // Stack, IPC buffer and heap: the very frames it maps.
        for r in &m.runs {
            let region = layout
                .regions
                .iter()
                .take(3)
                .find(|g| g.vaddr == r.vaddr && !g.frames.is_empty());
            let Some(region) = region else { continue };
            for k in 0..r.pages {
                map(
                    &mut out,
                    r.mirror + k * PAGE_SIZE,
                    region.frames.name(k),
                    CapRights::READ_WRITE,
                );
            }
        }
        images.push((m.index, image_pages(&c.program, program)));
    }
    let mut v = w.images;
    for (index, image) in images {
        let me = sys.components[index].name.as_str();
        let origin = sys.components[index].spans.header;
        let pages: Vec<ImagePage> = image
            .iter()
            .map(|(&p, (r, fill))| {
                let w = r.word() & CapRights::WRITE.word() != 0;
                let x = r.word() & CapRights::GRANT.word() != 0;
                (p, w, x, !fill.is_empty())
            })
            .collect();
        let (runs, next) = image_runs(&pages, v);
        for r in &runs {
            for k in 0..r.pages {
                let page = r.vaddr + k * PAGE_SIZE;
                map(
                    &mut out,
                    r.mirror + k * PAGE_SIZE,
                    image_frame(me, page),
                    CapRights::READ_WRITE,
                );
                if r.pristine != 0 {
                    let name = ObjectName::plain(&format!("{me}_pristine_{:x}", page / PAGE_SIZE));
                    out.objects.push((
                        name.clone(),
                        frame(None, image[&page].1.clone()),
                        Vec::new(),
                        origin,
                    ));
                    map(&mut out, r.pristine + k * PAGE_SIZE, name, CapRights::READ);
                }
            }
        }
        v = next;
    }
    if v > SHARED_BASE {
        errors.push(Diagnostic::at(
            &sys.file,
            s.spans.header,
            crate::check::window_too_big(&s.name, w.base, v),
        ));
    }
    out
}

/// One 4 KiB mapping of a component.
#[derive(Clone)]
struct Mapping {
    frame: ObjectName,
    rights: CapRights,
    cached: bool,
}

#[derive(Default)]
struct Builder {
    spec: Spec,
}

fn slot(slot: u64, cap: Cap) -> CapSlot {
    CapSlot {
        slot,
        cap,
        origin: Origin::default(),
    }
}

fn frame(paddr: Option<u64>, fill: Vec<Vec<String>>) -> ObjectKind {
    ObjectKind::Frame(Frame {
        size: PAGE_SIZE,
        paddr,
        fill,
    })
}

fn rights(r: CapRights, w: bool, x: bool) -> CapRights {
    let mut word = r.word();
    if w {
        word |= CapRights::WRITE.word();
    }
    if x {
        word |= CapRights::GRANT.word();
    }
    CapRights::from_word(word)
}

impl Builder {
    fn object(&mut self, name: ObjectName, kind: ObjectKind, slots: Vec<CapSlot>, origin: Origin) {
        self.spec.objects.push(Object {
            name,
            kind,
            slots,
            origin,
        });
    }

    fn component(
        &mut self,
        sys: &System,
        index: usize,
        layout: &Layout,
        program: &Program,
        extra: &BTreeMap<u64, Mapping>,
    ) {
        let c = &sys.components[index];
        let me = c.name.as_str();
        let origin = c.spans.header;
        let mut maps: BTreeMap<u64, Mapping> = BTreeMap::new();
        let image = image_pages(&c.program, program);

        let tcb = object(me, "tcb");
        let cnode = object(me, "cnode");
        let pgd = object(me, "pgd");
        let pud = object(me, "pud");
        let pd = object(me, "pd");
        let ipc = object(me, "ipc");
        let ntfn = object(me, "ntfn");
        let has_ntfn = !layout.bits.is_empty();

        let mut tcb_slots = vec![
            slot(TCB_SLOT_CSPACE, cnode_cap(me, c.cnode_bits)),
            slot(TCB_SLOT_VSPACE, Cap::to_object(pgd.clone())),
            slot(TCB_SLOT_IPC_BUFFER, {
                let mut cap = Cap::to_object(ipc.clone());
                cap.rights = CapRights::READ_WRITE;
                cap
            }),
        ];
        if has_ntfn {
            tcb_slots.push(slot(
                TCB_SLOT_BOUND_NOTIFICATION,
                Cap::to_object(ntfn.clone()),
            ));
        }
        self.object(
            tcb,
            ObjectKind::Tcb(Tcb {
                ipc_buffer_addr: Some(IPC_BUFFER),
                ip: Some(program.entry),
                sp: Some(STACK_TOP),
                prio: Some(u64::from(c.priority)),
                max_prio: Some(u64::from(c.mcp)),
                // The supervisor starts a supervised component itself,
                // after reading its initial registers.
                resume: Some(c.restart.is_none()),
                fault_ep: layout.fault_ep,
                init: Vec::new(),
                ..Tcb::default()
            }),
            tcb_slots,
            origin,
        );
        self.object(
            cnode,
            ObjectKind::CNode {
                size_bits: u64::from(c.cnode_bits),
            },
            layout
                .slots
                .iter()
                .map(|s| slot(s.slot, s.cap.clone()))
                .collect(),
            origin,
        );

        // Frames this component owns, and everything it maps.
        let mut frames = Vec::new();
        for (&page, (r, fill)) in &image {
            let name = image_frame(me, page);
            maps.insert(
                page,
                Mapping {
                    frame: name.clone(),
                    rights: *r,
                    cached: true,
                },
            );
            frames.push((name, frame(None, fill.clone())));
        }
        for region in &layout.regions {
            for k in 0..region.frames.len() {
                maps.insert(
                    region.vaddr + k * PAGE_SIZE,
                    Mapping {
                        frame: region.frames.name(k),
                        rights: region.rights,
                        cached: region.cached,
                    },
                );
            }
        }
        // Stack, IPC buffer and heap frames are this component's own; shared
        // and device frames are made once, in `shared_objects`.
        for region in layout.regions.iter().take(3) {
            for k in 0..region.frames.len() {
                frames.push((region.frames.name(k), frame(None, Vec::new())));
            }
        }

        // The supervisor's window onto the components it supervises.
        maps.extend(extra.iter().map(|(&v, m)| (v, m.clone())));

        // Page tables: one pt per 2 MiB touched.
        let mut pts: BTreeMap<u64, Vec<CapSlot>> = BTreeMap::new();
        for (&vaddr, m) in &maps {
            let mut cap = Cap::to_object(m.frame.clone());
            cap.rights = m.rights;
            cap.cached = m.cached;
            pts.entry(vaddr / PT_SPAN)
                .or_default()
                .push(slot((vaddr % PT_SPAN) / PAGE_SIZE, cap));
        }
        self.object(
            pgd.clone(),
            ObjectKind::VSpace,
            vec![slot(0, Cap::to_object(pud.clone()))],
            origin,
        );
        self.object(
            pud,
            ObjectKind::PageTable {
                level: PageTableLevel::Pud,
            },
            vec![slot(0, Cap::to_object(pd.clone()))],
            origin,
        );
        self.object(
            pd,
            ObjectKind::PageTable {
                level: PageTableLevel::Pd,
            },
            pts.keys()
                .map(|&i| slot(i, Cap::to_object(page_table(me, i))))
                .collect(),
            origin,
        );
        for (i, slots) in pts {
            self.object(
                page_table(me, i),
                ObjectKind::PageTable {
                    level: PageTableLevel::Pt,
                },
                slots,
                origin,
            );
        }
        for (name, kind) in frames {
            self.object(name, kind, Vec::new(), origin);
        }
        if has_ntfn {
            self.object(ntfn, ObjectKind::Notification, Vec::new(), origin);
        }
        if c.untyped > 0 {
            self.object(
                object(me, "untyped"),
                ObjectKind::Untyped(Untyped {
                    size_bits: Some(u64::from(c.untyped.trailing_zeros())),
                    paddr: None,
                    covers: Vec::new(),
                }),
                Vec::new(),
                c.spans.at("untyped"),
            );
            self.object(
                object(me, "asid_pool"),
                ObjectKind::AsidPool { asid_high: None },
                Vec::new(),
                c.spans.at("untyped"),
            );
        }
        if sys
            .components
            .iter()
            .any(|k| k.fault_handler.as_deref() == Some(me))
        {
            self.object(
                object(me, "faults"),
                ObjectKind::Endpoint,
                Vec::new(),
                origin,
            );
        }
    }

    /// Objects that belong to no single component: channel endpoints, IRQ
    /// objects, device and shared frames.
    fn shared_objects(&mut self, sys: &System) {
        for ch in &sys.channels {
            self.object(
                channel_endpoint(&ch.name),
                ObjectKind::Endpoint,
                Vec::new(),
                ch.spans.header,
            );
        }
        for irq in &sys.irqs {
            let bit = crate::layout::bit_of(sys, &irq.component, &irq.name).unwrap_or(0);
            let mut cap = Cap::to_object(object(&irq.component, "ntfn"));
            cap.rights = CapRights::WRITE;
            cap.badge = 1 << bit;
            let name = ObjectName::plain(&irq.name);
            self.object(
                name.clone(),
                ObjectKind::Irq {
                    arm: Some(ArmIrq {
                        trigger: irq.trigger,
                        target: 0,
                    }),
                },
                vec![slot(0, cap)],
                irq.spans.header,
            );
            self.spec.irqs.push(IrqMapping {
                irq: irq.irq,
                object: Reference {
                    name,
                    origin: irq.spans.header,
                },
            });
        }
        for d in &sys.devices {
            for page in 0..d.size / PAGE_SIZE {
                self.object(
                    device_frame(&d.name, page),
                    frame(Some(d.paddr + page * PAGE_SIZE), Vec::new()),
                    Vec::new(),
                    d.spans.header,
                );
            }
        }
        for s in &sys.shared_memory {
            for page in 0..s.size / PAGE_SIZE {
                self.object(
                    shared_frame(&s.name, page),
                    frame(None, Vec::new()),
                    Vec::new(),
                    s.spans.header,
                );
            }
        }
    }
}
