//! Encoding a [`Spec`] into the compact form of [`crate::compact`], and
//! decoding it back into a model (for tools and tests; the root task reads
//! the bytes with [`crate::compact::SpecView`] instead).
//!
//! Encoding turns names into object indices, so it needs every name to
//! resolve: encode a spec that [`crate::validate()`] accepted.

use std::collections::HashMap;
use std::fmt;

use cerne_abi::rights::CapRights;
use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::IntoBytes;

use crate::compact::{
    cap_flags, object_flags, tcb_fields, CapRecord, CapTargetCode, CdtRecord, CoverRecord,
    DecodeError, FillRecord, Header, IrqRecord, ObjectKindCode, ObjectRecord, Section,
    SectionDescriptor, SpecView, StrRef, TcbRecord, MAGIC, NO_OBJECT, SECTION_COUNT, VERSION,
};
use crate::model::{
    ArmIrq, Cap, CapSlot, CapTarget, CdtEdge, Frame, IrqMapping, IrqTrigger, Object, ObjectKind,
    ObjectName, Origin, PageTableLevel, Reference, SlotRef, Spec, Tcb, TcbCapKind, Untyped,
};

/// Why a spec cannot be encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// A name does not resolve to an object.
    UndefinedName(String),
    /// A value does not fit its field (what, and the value).
    TooLarge(&'static str, u64),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UndefinedName(n) => write!(f, "'{n}' is not declared (validate the spec first)"),
            Self::TooLarge(what, v) => write!(f, "{what} {v} does not fit the compact form"),
        }
    }
}

impl std::error::Error for EncodeError {}

fn u32_of(what: &'static str, v: usize) -> Result<U32, EncodeError> {
    u32::try_from(v)
        .map(U32::new)
        .map_err(|_| EncodeError::TooLarge(what, v as u64))
}

fn u8_of(what: &'static str, v: u64) -> Result<u8, EncodeError> {
    u8::try_from(v).map_err(|_| EncodeError::TooLarge(what, v))
}

#[derive(Default)]
struct Strings {
    bytes: Vec<u8>,
    seen: HashMap<String, StrRef>,
}

impl Strings {
    fn add(&mut self, s: &str) -> Result<StrRef, EncodeError> {
        if let Some(r) = self.seen.get(s) {
            return Ok(*r);
        }
        let r = StrRef {
            offset: u32_of("string offset", self.bytes.len())?,
            len: u32_of("string length", s.len())?,
        };
        self.bytes.extend_from_slice(s.as_bytes());
        self.seen.insert(s.to_string(), r);
        Ok(r)
    }
}

/// Encodes a validated spec.
pub fn encode(spec: &Spec) -> Result<Vec<u8>, EncodeError> {
    let mut index: HashMap<&ObjectName, u32> = HashMap::new();
    for (i, o) in spec.objects.iter().enumerate() {
        index
            .entry(&o.name)
            .or_insert(u32_of("object count", i)?.get());
    }
    let resolve = |n: &ObjectName| {
        index
            .get(n)
            .copied()
            .ok_or_else(|| EncodeError::UndefinedName(n.to_string()))
    };

    let mut strings = Strings::default();
    let mut objects = Vec::new();
    let mut caps = Vec::new();
    let mut tcbs = Vec::new();
    let mut fills = Vec::new();
    let mut words: Vec<U64> = Vec::new();
    let mut covers = Vec::new();
    for o in &spec.objects {
        let mut r = ObjectRecord {
            name: strings.add(&o.name.base)?,
            first_cap: u32_of("cap count", caps.len())?,
            cap_count: u32_of("cap count", o.slots.len())?,
            ..Default::default()
        };
        if let Some(i) = o.name.index {
            r.flags |= object_flags::HAS_INDEX;
            r.index = U64::new(i);
        }
        let kind = match &o.kind {
            ObjectKind::Untyped(u) => {
                if let Some(b) = u.size_bits {
                    r.flags |= object_flags::HAS_SIZE_BITS;
                    r.size_bits = u8_of("untyped size_bits", b)?;
                }
                if let Some(p) = u.paddr {
                    r.flags |= object_flags::HAS_PADDR;
                    r.paddr = U64::new(p);
                }
                r.detail = u32_of("cover count", covers.len())?;
                r.detail_count = u32_of("cover count", u.covers.len())?;
                for c in &u.covers {
                    covers.push(CoverRecord {
                        object: U32::new(resolve(&c.name)?),
                    });
                }
                ObjectKindCode::Untyped
            }
            ObjectKind::Tcb(t) => {
                r.detail = u32_of("tcb count", tcbs.len())?;
                let mut rec = TcbRecord {
                    init_first: u32_of("word count", words.len())?,
                    init_count: u32_of("word count", t.init.len())?,
                    ..Default::default()
                };
                let mut present = 0u16;
                let fields = [
                    (
                        tcb_fields::IPC_BUFFER_ADDR,
                        t.ipc_buffer_addr,
                        &mut rec.ipc_buffer_addr,
                    ),
                    (tcb_fields::IP, t.ip, &mut rec.ip),
                    (tcb_fields::SP, t.sp, &mut rec.sp),
                    (tcb_fields::PRIO, t.prio, &mut rec.prio),
                    (tcb_fields::MAX_PRIO, t.max_prio, &mut rec.max_prio),
                    (tcb_fields::AFFINITY, t.affinity, &mut rec.affinity),
                    (tcb_fields::DOM, t.dom, &mut rec.dom),
                    (tcb_fields::FAULT_EP, t.fault_ep, &mut rec.fault_ep),
                ];
                for (bit, value, field) in fields {
                    if let Some(v) = value {
                        present |= bit;
                        *field = U64::new(v);
                    }
                }
                if let Some(v) = t.resume {
                    present |= tcb_fields::RESUME;
                    rec.resume = v as u8;
                }
                if let Some(v) = t.fpu_disabled {
                    present |= tcb_fields::FPU_DISABLED;
                    rec.fpu_disabled = v as u8;
                }
                rec.present = U16::new(present);
                words.extend(t.init.iter().map(|&w| U64::new(w)));
                tcbs.push(rec);
                ObjectKindCode::Tcb
            }
            ObjectKind::Endpoint => ObjectKindCode::Endpoint,
            ObjectKind::Notification => ObjectKindCode::Notification,
            ObjectKind::CNode { size_bits } => {
                r.size_bits = u8_of("cnode size_bits", *size_bits)?;
                ObjectKindCode::CNode
            }
            ObjectKind::Frame(f) => {
                r.size_bits = f
                    .size_bits()
                    .and_then(|b| u8::try_from(b).ok())
                    .ok_or(EncodeError::TooLarge("frame size", f.size))?;
                if let Some(p) = f.paddr {
                    r.flags |= object_flags::HAS_PADDR;
                    r.paddr = U64::new(p);
                }
                r.detail = u32_of("fill count", fills.len())?;
                r.detail_count = u32_of("fill count", f.fill.len())?;
                for entry in &f.fill {
                    fills.push(FillRecord {
                        text: strings.add(&entry.join(" "))?,
                    });
                }
                ObjectKindCode::Frame
            }
            ObjectKind::PageTable { level } => {
                r.level = level.number();
                ObjectKindCode::PageTable
            }
            ObjectKind::VSpace => ObjectKindCode::VSpace,
            ObjectKind::AsidPool { asid_high } => {
                if let Some(h) = asid_high {
                    r.flags |= object_flags::HAS_ASID_HIGH;
                    r.paddr = U64::new(*h);
                }
                ObjectKindCode::AsidPool
            }
            ObjectKind::Irq { arm } => {
                if let Some(a) = arm {
                    r.flags |= object_flags::ARM_IRQ;
                    if a.trigger == IrqTrigger::Edge {
                        r.flags |= object_flags::EDGE_TRIGGERED;
                    }
                    r.extra = U64::new(a.target);
                }
                ObjectKindCode::Irq
            }
            ObjectKind::SgiSignal { irq, target } => {
                r.paddr = U64::new(*irq);
                r.extra = U64::new(*target);
                ObjectKindCode::SgiSignal
            }
        };
        r.kind = kind as u8;
        objects.push(r);
        for s in &o.slots {
            caps.push(encode_cap(s, &resolve)?);
        }
    }
    let irqs = spec
        .irqs
        .iter()
        .map(|m| {
            Ok(IrqRecord {
                irq: U64::new(m.irq),
                object: U32::new(resolve(&m.object.name)?),
            })
        })
        .collect::<Result<Vec<_>, EncodeError>>()?;
    let cdt = spec
        .cdt
        .iter()
        .map(|e| {
            Ok(CdtRecord {
                parent_object: U32::new(resolve(&e.parent.object.name)?),
                parent_slot: U64::new(e.parent.slot),
                child_object: U32::new(resolve(&e.child.object.name)?),
                child_slot: U64::new(e.child.slot),
            })
        })
        .collect::<Result<Vec<_>, EncodeError>>()?;

    let bodies: [(&[u8], usize); SECTION_COUNT] = [
        (objects.as_bytes(), objects.len()),
        (caps.as_bytes(), caps.len()),
        (tcbs.as_bytes(), tcbs.len()),
        (fills.as_bytes(), fills.len()),
        (words.as_bytes(), words.len()),
        (covers.as_bytes(), covers.len()),
        (irqs.as_bytes(), irqs.len()),
        (cdt.as_bytes(), cdt.len()),
        (strings.bytes.as_slice(), strings.bytes.len()),
    ];
    let mut header = Header {
        magic: MAGIC,
        version: U32::new(VERSION),
        header_size: u32_of("header size", core::mem::size_of::<Header>())?,
        sections: [SectionDescriptor::default(); SECTION_COUNT],
    };
    let mut out = vec![0u8; core::mem::size_of::<Header>()];
    for (k, (body, count)) in bodies.iter().enumerate() {
        header.sections[k] = SectionDescriptor {
            offset: u32_of("spec size", out.len())?,
            count: u32_of("section size", *count)?,
        };
        out.extend_from_slice(body);
    }
    out[..core::mem::size_of::<Header>()].copy_from_slice(header.as_bytes());
    Ok(out)
}

fn encode_cap(
    s: &CapSlot,
    resolve: &impl Fn(&ObjectName) -> Result<u32, EncodeError>,
) -> Result<CapRecord, EncodeError> {
    let cap = &s.cap;
    let (target_kind, target) = match &cap.target {
        CapTarget::Object(n) => (CapTargetCode::Object, resolve(n)?),
        CapTarget::IrqControl => (CapTargetCode::IrqControl, NO_OBJECT),
        CapTarget::AsidControl => (CapTargetCode::AsidControl, NO_OBJECT),
        CapTarget::Domain => (CapTargetCode::Domain, NO_OBJECT),
    };
    let mut r = CapRecord {
        slot: U64::new(s.slot),
        target: U32::new(target),
        target_kind: target_kind as u8,
        rights: cap.rights.word() as u8,
        guard_size: u8_of("guard_size", cap.guard_size)?,
        badge: U64::new(cap.badge),
        guard: U64::new(cap.guard),
        ..Default::default()
    };
    if !cap.cached {
        r.flags |= cap_flags::UNCACHED;
    }
    if let Some((table, slot)) = &cap.mapping {
        r.flags |= cap_flags::HAS_MAPPING;
        r.mapping_table = U32::new(resolve(&table.name)?);
        r.mapping_slot = U64::new(*slot);
    }
    if let Some((high, low)) = cap.asid {
        r.flags |= cap_flags::HAS_ASID;
        r.asid_high =
            U16::new(u16::try_from(high).map_err(|_| EncodeError::TooLarge("asid high", high))?);
        r.asid_low =
            U16::new(u16::try_from(low).map_err(|_| EncodeError::TooLarge("asid low", low))?);
    }
    match cap.tcb_kind {
        TcbCapKind::Thread => {}
        TcbCapKind::Reply => r.flags |= cap_flags::REPLY,
        TcbCapKind::MasterReply => r.flags |= cap_flags::MASTER_REPLY,
    }
    Ok(r)
}

/// Decodes a compact spec back into a model (origins are unknown).
pub fn decode(bytes: &[u8]) -> Result<Spec, DecodeError> {
    let view = SpecView::new(bytes)?;
    let name_of = |i: u32| -> Result<ObjectName, DecodeError> {
        let o = view
            .object(i as usize)
            .ok_or(DecodeError::BadReference(i))?;
        Ok(ObjectName {
            base: o.name().to_string(),
            index: o.index_in_array(),
        })
    };
    let reference = |i: u32| -> Result<Reference, DecodeError> {
        Ok(Reference {
            name: name_of(i)?,
            origin: Origin::default(),
        })
    };
    let mut spec = Spec::default();
    for o in view.iter_objects() {
        let r = o.record;
        let flag = |f: u8| r.flags & f != 0;
        let kind = match o.kind() {
            ObjectKindCode::Untyped => ObjectKind::Untyped(Untyped {
                size_bits: flag(object_flags::HAS_SIZE_BITS).then_some(r.size_bits as u64),
                paddr: flag(object_flags::HAS_PADDR).then_some(r.paddr.get()),
                covers: o
                    .covers()
                    .iter()
                    .map(|c| reference(c.object.get()))
                    .collect::<Result<_, _>>()?,
            }),
            ObjectKindCode::Tcb => {
                let t = o.tcb().ok_or(DecodeError::BadReference(o.index as u32))?;
                let present = t.present.get();
                let get = |bit: u16, v: U64| (present & bit != 0).then_some(v.get());
                ObjectKind::Tcb(Tcb {
                    ipc_buffer_addr: get(tcb_fields::IPC_BUFFER_ADDR, t.ipc_buffer_addr),
                    ip: get(tcb_fields::IP, t.ip),
                    sp: get(tcb_fields::SP, t.sp),
                    prio: get(tcb_fields::PRIO, t.prio),
                    max_prio: get(tcb_fields::MAX_PRIO, t.max_prio),
                    affinity: get(tcb_fields::AFFINITY, t.affinity),
                    dom: get(tcb_fields::DOM, t.dom),
                    fault_ep: get(tcb_fields::FAULT_EP, t.fault_ep),
                    resume: (present & tcb_fields::RESUME != 0).then_some(t.resume != 0),
                    fpu_disabled: (present & tcb_fields::FPU_DISABLED != 0)
                        .then_some(t.fpu_disabled != 0),
                    init: o.init_arguments().iter().map(|w| w.get()).collect(),
                })
            }
            ObjectKindCode::Endpoint => ObjectKind::Endpoint,
            ObjectKindCode::Notification => ObjectKind::Notification,
            ObjectKindCode::CNode => ObjectKind::CNode {
                size_bits: r.size_bits as u64,
            },
            ObjectKindCode::Frame => ObjectKind::Frame(Frame {
                size: 1u64
                    .checked_shl(r.size_bits as u32)
                    .ok_or(DecodeError::BadCode(o.index as u32))?,
                paddr: flag(object_flags::HAS_PADDR).then_some(r.paddr.get()),
                fill: o
                    .fills()
                    .iter()
                    .map(|f| view.fill_words(f).map(str::to_string).collect())
                    .collect(),
            }),
            ObjectKindCode::PageTable => ObjectKind::PageTable {
                level: match r.level {
                    1 => PageTableLevel::Pud,
                    2 => PageTableLevel::Pd,
                    3 => PageTableLevel::Pt,
                    _ => return Err(DecodeError::BadCode(o.index as u32)),
                },
            },
            ObjectKindCode::VSpace => ObjectKind::VSpace,
            ObjectKindCode::AsidPool => ObjectKind::AsidPool {
                asid_high: flag(object_flags::HAS_ASID_HIGH).then_some(r.paddr.get()),
            },
            ObjectKindCode::Irq => ObjectKind::Irq {
                arm: flag(object_flags::ARM_IRQ).then_some(ArmIrq {
                    trigger: if flag(object_flags::EDGE_TRIGGERED) {
                        IrqTrigger::Edge
                    } else {
                        IrqTrigger::Level
                    },
                    target: r.extra.get(),
                }),
            },
            ObjectKindCode::SgiSignal => ObjectKind::SgiSignal {
                irq: r.paddr.get(),
                target: r.extra.get(),
            },
        };
        let mut slots = Vec::new();
        for c in o.caps() {
            let target = match CapTargetCode::from_u8(c.target_kind) {
                Some(CapTargetCode::Object) => CapTarget::Object(name_of(c.target.get())?),
                Some(CapTargetCode::IrqControl) => CapTarget::IrqControl,
                Some(CapTargetCode::AsidControl) => CapTarget::AsidControl,
                Some(CapTargetCode::Domain) | None => CapTarget::Domain,
            };
            let mut cap = Cap::to(target);
            cap.rights = CapRights::from_word(c.rights as u64);
            cap.badge = c.badge.get();
            cap.guard = c.guard.get();
            cap.guard_size = c.guard_size as u64;
            cap.cached = c.flags & cap_flags::UNCACHED == 0;
            if c.flags & cap_flags::HAS_MAPPING != 0 {
                cap.mapping = Some((reference(c.mapping_table.get())?, c.mapping_slot.get()));
            }
            if c.flags & cap_flags::HAS_ASID != 0 {
                cap.asid = Some((c.asid_high.get() as u64, c.asid_low.get() as u64));
            }
            cap.tcb_kind = if c.flags & cap_flags::REPLY != 0 {
                TcbCapKind::Reply
            } else if c.flags & cap_flags::MASTER_REPLY != 0 {
                TcbCapKind::MasterReply
            } else {
                TcbCapKind::Thread
            };
            slots.push(CapSlot {
                slot: c.slot.get(),
                cap,
                origin: Origin::default(),
            });
        }
        spec.objects.push(Object {
            name: ObjectName {
                base: o.name().to_string(),
                index: o.index_in_array(),
            },
            kind,
            slots,
            origin: Origin::default(),
        });
    }
    for m in view.irqs {
        spec.irqs.push(IrqMapping {
            irq: m.irq.get(),
            object: reference(m.object.get())?,
        });
    }
    for e in view.cdt {
        spec.cdt.push(CdtEdge {
            parent: SlotRef {
                object: reference(e.parent_object.get())?,
                slot: e.parent_slot.get(),
            },
            child: SlotRef {
                object: reference(e.child_object.get())?,
                slot: e.child_slot.get(),
            },
        });
    }
    Ok(spec)
}

/// Checks the section order constant against the header layout.
const _: () = assert!(Section::Strings as usize == SECTION_COUNT - 1);
