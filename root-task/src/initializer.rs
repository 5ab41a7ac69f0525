//! The capDL initializer: builds the system the embedded bundle describes
//! (DESIGN.md §6, docs/systems.md), with no heap.
//!
//! 1. Creates every object from untyped memory following
//!    [`capdl::plan`] (fixed-address objects placed exactly, the rest
//!    largest first), each original cap in root-CNode slot
//!    `first_empty + object index`; takes IRQ handlers from IRQControl.
//! 2. Fills frames with the bundle's files (component ELF segments) through
//!    a scratch mapping in its own VSpace.
//! 3. Assigns each VSpace an ASID and maps its tables and frames.
//! 4. Mints every CNode slot (rights, badges, guards).
//! 5. Configures every TCB: CSpace, VSpace, IPC buffer, fault endpoint,
//!    priority and MCP, bound notification, registers (pc, sp, x0.. = init
//!    arguments, TPIDR_EL0 = IPC buffer, where libcerne finds it).
//! 6. Prints the summary, binds IRQs to their notifications (which hands the
//!    console UART to its user-level driver), starts the threads.
//!
//! Any failure names the object and the seL4 error, then stops the machine:
//! nothing half-built ever runs.

// The error type carries an seL4 error reply (nine words); with no heap to
// box it into, and at most one error per boot, returning it by value is right.
#![allow(clippy::result_large_err)]

use core::fmt;

use capdl::bundle::Bundle;
use capdl::compact::{
    cap_flags, object_flags, tcb_fields, CapRecord, CapTargetCode, ObjectKindCode, ObjectView,
    SpecView,
};
use capdl::plan::{self, PlanError, Step, UntypedRegion, MAX_UNTYPEDS};
use cerne_abi::bootinfo::BootInfo;
use cerne_abi::object::{ObjectType, PAGE_BITS};
use cerne_abi::rights::CapRights;
use cerne_abi::slots::*;
use cerne_abi::tcb::TCB_FLAG_FPU_DISABLED;
use cerne_abi::vm::{DEFAULT_VM_ATTRIBUTES, EXECUTE_NEVER};
use cerne_abi::Word;
use libcerne::println;
use libcerne::sel4::{
    AsidControl, AsidPool, CNode, Cap, Frame, InvocationError, IrqControl, IrqHandler,
    Notification, PageTable, Tcb, Untyped, UserContext, VSpace,
};

/// Where the initializer maps a frame it fills: the last 2 MiB of the first
/// GiB of its own address space, under a page table of its own.
const SCRATCH_VADDR: Word = 0x3FE0_0000;
/// Page size.
const PAGE: usize = 1 << PAGE_BITS;
/// Largest spec the initializer takes (bits of its mapped-frame set).
pub const MAX_OBJECTS: usize = 1 << 14;
/// Depth that resolves a CPtr in the root CNode (its guard fills 64 bits).
const ROOT_DEPTH: u8 = 64;

const ROOT: Cap<CNode> = Cap::from_cptr(CAP_INIT_THREAD_CNODE as Word);
const ROOT_VSPACE: Cap<VSpace> = Cap::from_cptr(CAP_INIT_THREAD_VSPACE as Word);
const ROOT_TCB: Cap<Tcb> = Cap::from_cptr(CAP_INIT_THREAD_TCB as Word);

/// What went wrong, with enough to name the object.
pub enum InitError {
    /// The bundle or spec is malformed.
    Bundle(capdl::bundle::BundleError),
    /// A plan step failed or no plan exists.
    Plan(PlanError<()>),
    /// Retyping untyped `untyped` (list index) into `object` failed.
    Retype {
        /// Index in BootInfo's untyped list.
        untyped: usize,
        /// The spec object, `None` for a filler or the initializer's table.
        object: Option<usize>,
        /// The seL4 error.
        error: InvocationError,
    },
    /// An invocation on an object failed.
    Invocation {
        /// What was being done.
        doing: &'static str,
        /// The object (spec index).
        object: usize,
        /// The seL4 error.
        error: InvocationError,
    },
    /// The spec asks for something this initializer does not do.
    Unsupported {
        /// The object.
        object: usize,
        /// What.
        what: &'static str,
    },
    /// The root CNode has too few empty slots.
    OutOfSlots {
        /// Slots needed so far.
        needed: u64,
        /// Empty slots BootInfo lists.
        available: u64,
    },
    /// A fill entry is malformed or names data that does not exist.
    BadFill {
        /// The frame.
        object: usize,
        /// What is wrong.
        what: &'static str,
    },
}

/// An [`InitError`] with the spec, to print names.
pub struct Report<'a>(pub &'a InitError, pub Option<SpecView<'a>>);

struct Name<'a>(Option<SpecView<'a>>, usize);

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.and_then(|s| s.object(self.1)) {
            Some(o) => match o.index_in_array() {
                Some(i) => write!(f, "'{}[{i}]' ({:?})", o.name(), o.kind()),
                None => write!(f, "'{}' ({:?})", o.name(), o.kind()),
            },
            None => write!(f, "object #{}", self.1),
        }
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let spec = self.1;
        match self.0 {
            InitError::Bundle(e) => write!(f, "{e}"),
            InitError::Plan(p) => match *p {
                PlanError::TooManyUntypeds(n) => {
                    write!(
                        f,
                        "{n} untypeds, more than the {MAX_UNTYPEDS} the plan tracks"
                    )
                }
                PlanError::Unmakeable { object, why } => {
                    write!(f, "cannot make {}: {why:?}", Name(spec, object))
                }
                PlanError::NoUntypedAt { object, paddr } => write!(
                    f,
                    "no untyped covers {:#x}, the address of {}",
                    paddr,
                    Name(spec, object)
                ),
                PlanError::AddressTaken { object, paddr } => write!(
                    f,
                    "{:#x}, the address of {}, is already used by another object",
                    paddr,
                    Name(spec, object)
                ),
                PlanError::NoRoom {
                    object: Some(object),
                    bits,
                } => write!(
                    f,
                    "out of memory: no untyped has 2^{bits} bytes left for {}",
                    Name(spec, object)
                ),
                PlanError::NoRoom { object: None, bits } => {
                    write!(f, "out of memory: no untyped has 2^{bits} bytes left for the initializer's page table")
                }
                PlanError::Sink(()) => write!(f, "a plan step failed"),
            },
            InitError::Retype {
                untyped,
                object,
                error,
            } => match object {
                Some(o) => write!(
                    f,
                    "retyping untyped #{untyped} into {} failed: {error:?}",
                    Name(spec, *o)
                ),
                None => write!(f, "retyping untyped #{untyped} failed: {error:?}"),
            },
            InitError::Invocation {
                doing,
                object,
                error,
            } => write!(f, "{doing} {} failed: {error:?}", Name(spec, *object)),
            InitError::Unsupported { object, what } => {
                write!(f, "{}: {what} is not supported", Name(spec, *object))
            }
            InitError::OutOfSlots { needed, available } => write!(
                f,
                "the root CNode has {available} empty slots; this spec needs more than {needed}"
            ),
            InitError::BadFill { object, what } => {
                write!(f, "fill of {}: {what}", Name(spec, *object))
            }
        }
    }
}

/// What the initializer built.
#[derive(Default)]
pub struct Summary {
    /// Objects made from untyped memory or IRQControl.
    pub objects: u64,
    /// Caps the spec places (CNode slots, mappings, TCB and IRQ slots).
    pub caps: u64,
    /// Bytes of memory the objects take.
    pub bytes: u64,
    /// Bytes copied into frames.
    pub filled: u64,
    /// Threads started.
    pub threads: u64,
}

/// The root task's CSpace bookkeeping.
struct Slots {
    first: Word,
    next_spare: Word,
    end: Word,
}

impl Slots {
    fn object(&self, index: usize) -> Word {
        self.first + index as Word
    }
    fn spare(&mut self) -> Result<Word, InitError> {
        if self.next_spare >= self.end {
            return Err(InitError::OutOfSlots {
                needed: self.next_spare - self.first + 1,
                available: self.end - self.first,
            });
        }
        self.next_spare += 1;
        Ok(self.next_spare - 1)
    }
}

fn invocation(doing: &'static str, object: usize) -> impl FnOnce(InvocationError) -> InitError {
    move |error| InitError::Invocation {
        doing,
        object,
        error,
    }
}

/// The cap data word of a CNode cap: seL4_CNode_CapData (guard, guard size).
fn cnode_cap_data(cap: &CapRecord) -> Word {
    (cap.guard.get() << 6) | Word::from(cap.guard_size & 0x3f)
}

/// The mint data word for a cap to `target`.
fn mint_data(target: Option<ObjectView<'_>>, cap: &CapRecord) -> Word {
    match target.map(|t| t.kind()) {
        Some(ObjectKindCode::CNode) => cnode_cap_data(cap),
        Some(ObjectKindCode::Endpoint | ObjectKindCode::Notification) => cap.badge.get(),
        _ => 0,
    }
}

/// Builds the system in `bundle_bytes`.
pub fn build(
    bi: &BootInfo,
    bundle_bytes: &'static [u8],
) -> Result<Summary, (InitError, Option<SpecView<'static>>)> {
    let bundle = Bundle::new(bundle_bytes).map_err(|e| (InitError::Bundle(e), None))?;
    let spec = bundle.spec;
    run(bi, &bundle).map_err(|e| (e, Some(spec)))
}

fn run(bi: &BootInfo, bundle: &Bundle<'static>) -> Result<Summary, InitError> {
    let spec = bundle.spec;
    let n = spec.object_count();
    let mut slots = Slots {
        first: bi.empty.start,
        next_spare: bi.empty.start + n as Word,
        end: bi.empty.end,
    };
    if slots.next_spare > slots.end || n > MAX_OBJECTS {
        return Err(InitError::OutOfSlots {
            needed: n as u64,
            available: (slots.end - slots.first).min(MAX_OBJECTS as u64),
        });
    }
    let mut summary = Summary::default();

    // 1. Objects.
    let descs = libcerne::bootinfo::untypeds(bi);
    let mut untypeds = [UntypedRegion {
        paddr: 0,
        size_bits: 0,
        is_device: false,
    }; MAX_UNTYPEDS];
    let count = descs.len().min(MAX_UNTYPEDS);
    for (u, d) in untypeds.iter_mut().zip(descs) {
        *u = UntypedRegion {
            paddr: d.paddr,
            size_bits: d.size_bits,
            is_device: d.is_device != 0,
        };
    }
    let mut scratch_table = None;
    let mut failure = None;
    let planned = plan::plan(&spec, &untypeds[..count], 1, |step| {
        step_once(&spec, bi, &mut slots, step, &mut scratch_table).map_err(|e| failure = Some(e))
    });
    let totals = match (planned, failure) {
        (Ok(t), _) => t,
        (Err(_), Some(e)) => return Err(e),
        (Err(e), None) => return Err(InitError::Plan(e)),
    };

    summary.objects = totals.objects;
    summary.bytes = totals.bytes;

    let irq_control: Cap<IrqControl> = Cap::from_cptr(CAP_IRQ_CONTROL as Word);
    for irq in spec.irqs {
        let object = irq.object.get() as usize;
        let Some(view) = spec.object(object) else {
            continue;
        };
        let flags = view.record.flags;
        let result = if flags & object_flags::ARM_IRQ != 0 {
            let edge = Word::from(flags & object_flags::EDGE_TRIGGERED != 0);
            irq_control.get_trigger(irq.irq.get(), edge, ROOT, slots.object(object), ROOT_DEPTH)
        } else {
            irq_control.get(irq.irq.get(), ROOT, slots.object(object), ROOT_DEPTH)
        };
        result.map_err(invocation("taking the IRQ handler for", object))?;
        summary.objects += 1;
    }
    for o in spec.iter_objects() {
        if o.kind() == ObjectKindCode::SgiSignal {
            return Err(InitError::Unsupported {
                object: o.index,
                what: "an SGI signal object",
            });
        }
    }

    // 2. Fills.
    let scratch: Cap<PageTable> = Cap::from_cptr(scratch_table.unwrap_or(0));
    scratch
        .map(ROOT_VSPACE, SCRATCH_VADDR, DEFAULT_VM_ATTRIBUTES)
        .map_err(invocation(
            "mapping the initializer's page table next to",
            0,
        ))?;
    for o in spec.iter_objects().filter(|o| !o.fills().is_empty()) {
        summary.filled += fill(bundle, &o, Cap::from_cptr(slots.object(o.index)))?;
    }

    // 3. VSpaces.
    let mut mapped = [0u64; MAX_OBJECTS / 64];
    let pool: Cap<AsidPool> = Cap::from_cptr(CAP_INIT_THREAD_ASID_POOL as Word);
    for v in spec
        .iter_objects()
        .filter(|o| o.kind() == ObjectKindCode::VSpace)
    {
        let vspace: Cap<VSpace> = Cap::from_cptr(slots.object(v.index));
        pool.assign(vspace)
            .map_err(invocation("assigning an ASID to", v.index))?;
        for m in spec.mappings(v.index) {
            summary.caps += 1;
            let Some(target) = spec.object(m.target) else {
                continue;
            };
            match target.kind() {
                ObjectKindCode::PageTable => Cap::<PageTable>::from_cptr(slots.object(m.target))
                    .map(vspace, m.vaddr, DEFAULT_VM_ATTRIBUTES)
                    .map_err(invocation("mapping the page table", m.target))?,
                ObjectKindCode::Frame => {
                    let word = &mut mapped[m.target / 64];
                    let bit = 1u64 << (m.target % 64);
                    let frame_slot = if *word & bit == 0 {
                        *word |= bit;
                        slots.object(m.target)
                    } else {
                        // A frame mapped a second time needs a cap of its own.
                        let copy = slots.spare()?;
                        ROOT.copy(
                            copy,
                            ROOT_DEPTH,
                            ROOT,
                            slots.object(m.target),
                            ROOT_DEPTH,
                            CapRights::ALL,
                        )
                        .map_err(invocation("copying a cap to", m.target))?;
                        copy
                    };
                    let rights = CapRights::from_word(Word::from(m.cap.rights));
                    let attributes = if m.cap.flags & cap_flags::UNCACHED != 0 {
                        EXECUTE_NEVER
                    } else if rights.write() && !rights.grant() {
                        // Writable and not marked executable (capDL's X): W^X.
                        DEFAULT_VM_ATTRIBUTES | EXECUTE_NEVER
                    } else {
                        DEFAULT_VM_ATTRIBUTES
                    };
                    Cap::<Frame>::from_cptr(frame_slot)
                        .map(vspace, m.vaddr, rights, attributes)
                        .map_err(invocation("mapping the frame", m.target))?;
                }
                _ => {
                    return Err(InitError::Unsupported {
                        object: m.target,
                        what: "a cap in a page table that is neither a table nor a frame",
                    })
                }
            }
        }
    }

    // 4. CSpaces.
    for c in spec
        .iter_objects()
        .filter(|o| o.kind() == ObjectKindCode::CNode)
    {
        let cnode: Cap<CNode> = Cap::from_cptr(slots.object(c.index));
        let radix = c.record.size_bits;
        for cap in c.caps() {
            summary.caps += 1;
            let src = source_slot(&spec, &slots, c.index, cap)?;
            let rights = CapRights::from_word(Word::from(cap.rights));
            let result = match src {
                Source::Control(slot) => cnode.copy(
                    cap.slot.get(),
                    radix,
                    ROOT,
                    slot,
                    ROOT_DEPTH,
                    CapRights::ALL,
                ),
                Source::Object(slot, target) => cnode.mint(
                    cap.slot.get(),
                    radix,
                    ROOT,
                    slot,
                    ROOT_DEPTH,
                    rights_or_all(target, rights),
                    mint_data(Some(target), cap),
                ),
            };
            result.map_err(invocation("filling a slot of", c.index))?;
        }
    }

    // 5. TCBs.
    let mut threads = 0;
    for t in spec
        .iter_objects()
        .filter(|o| o.kind() == ObjectKindCode::Tcb)
    {
        configure(&spec, &slots, &t, &mut summary)?;
        threads += 1;
    }
    for irq in spec
        .iter_objects()
        .filter(|o| o.kind() == ObjectKindCode::Irq)
    {
        summary.caps += irq.caps().len() as u64;
    }

    // 6. Summary, IRQs, start.
    let resumed = spec
        .iter_objects()
        .filter(|t| t.kind() == ObjectKindCode::Tcb && resumes(t))
        .count() as u64;
    summary.threads = resumed;
    println!(
        "[capdl] built {} objects, {} caps, {} bytes ({} filled from {} files); starting {} of {} threads",
        summary.objects,
        summary.caps,
        summary.bytes,
        summary.filled,
        bundle.files().count(),
        resumed,
        threads
    );
    for irq in spec
        .iter_objects()
        .filter(|o| o.kind() == ObjectKindCode::Irq)
    {
        let Some(cap) = irq.caps().iter().find(|c| c.slot.get() == 0) else {
            continue;
        };
        let Some(target) = spec.target(cap) else {
            continue;
        };
        let copy = slots.spare()?;
        ROOT.mint(
            copy,
            ROOT_DEPTH,
            ROOT,
            slots.object(target.index),
            ROOT_DEPTH,
            CapRights::ALL,
            cap.badge.get(),
        )
        .map_err(invocation("minting the notification of", irq.index))?;
        Cap::<IrqHandler>::from_cptr(slots.object(irq.index))
            .set_notification(Cap::<Notification>::from_cptr(copy))
            .map_err(invocation("binding a notification to", irq.index))?;
    }
    for t in spec
        .iter_objects()
        .filter(|t| t.kind() == ObjectKindCode::Tcb)
    {
        // Name every thread after its object (a description's `C_tcb` is
        // component `C`), those the supervisor starts too, so that fault
        // reports and the shell's `threads` name the component and the
        // host tools can find its program (docs/debugging.md).
        let name = t.name();
        let name = name.strip_suffix("_tcb").unwrap_or(name);
        libcerne::sel4::syscall::debug_name_thread(slots.object(t.index), name);
        if !resumes(&t) {
            continue;
        }
        Cap::<Tcb>::from_cptr(slots.object(t.index))
            .resume()
            .map_err(invocation("starting", t.index))?;
    }
    Ok(summary)
}

/// Carries out one plan step: Untyped_Retype into the object's slot (or a
/// spare slot for fillers, the scratch table and ASID pools' untypeds).
fn step_once(
    spec: &SpecView<'_>,
    bi: &BootInfo,
    slots: &mut Slots,
    step: Step,
    scratch_table: &mut Option<Word>,
) -> Result<(), InitError> {
    let (untyped, object, object_type, size_arg) = match step {
        Step::Filler { untyped, bits, .. } => {
            (untyped, None, ObjectType::Untyped, Word::from(bits))
        }
        Step::Create {
            untyped,
            object,
            retype,
            ..
        } => (untyped, object, retype.object_type, retype.size_arg),
    };
    let slot = match (step, object) {
        (Step::Create { .. }, Some(o))
            if spec.object(o).map(|v| v.kind()) != Some(ObjectKindCode::AsidPool) =>
        {
            slots.object(o)
        }
        _ => slots.spare()?,
    };
    let untyped_cap: Cap<Untyped> = Cap::from_cptr(bi.untyped.start + untyped as Word);
    untyped_cap
        .retype(object_type, size_arg, ROOT, 0, 0, slot, 1)
        .map_err(|error| InitError::Retype {
            untyped,
            object,
            error,
        })?;
    match (step, object) {
        (Step::Create { .. }, None) => *scratch_table = Some(slot),
        (Step::Create { .. }, Some(o))
            if spec.object(o).map(|v| v.kind()) == Some(ObjectKindCode::AsidPool) =>
        {
            let control: Cap<AsidControl> = Cap::from_cptr(CAP_ASID_CONTROL as Word);
            control
                .make_pool(Cap::from_cptr(slot), ROOT, slots.object(o), ROOT_DEPTH)
                .map_err(|error| InitError::Retype {
                    untyped,
                    object,
                    error,
                })?;
        }
        _ => {}
    }
    Ok(())
}

/// Rights for minting a cap to `target`: the spec's for the types that have
/// rights, all for the others (whose caps carry none).
fn rights_or_all(target: ObjectView<'_>, rights: CapRights) -> CapRights {
    match target.kind() {
        ObjectKindCode::Endpoint | ObjectKindCode::Notification | ObjectKindCode::Frame => rights,
        _ => CapRights::ALL,
    }
}

fn resumes(t: &ObjectView<'_>) -> bool {
    t.tcb()
        .is_none_or(|r| r.present.get() & tcb_fields::RESUME == 0 || r.resume != 0)
}

enum Source<'a> {
    /// A kernel control cap in the root CNode.
    Control(Word),
    /// An object's original cap.
    Object(Word, ObjectView<'a>),
}

fn source_slot<'a>(
    spec: &SpecView<'a>,
    slots: &Slots,
    container: usize,
    cap: &CapRecord,
) -> Result<Source<'a>, InitError> {
    if cap.flags & (cap_flags::REPLY | cap_flags::MASTER_REPLY) != 0 {
        return Err(InitError::Unsupported {
            object: container,
            what: "a reply cap (non-MCS seL4 makes those only by Call)",
        });
    }
    Ok(match CapTargetCode::from_u8(cap.target_kind) {
        Some(CapTargetCode::IrqControl) => Source::Control(CAP_IRQ_CONTROL as Word),
        Some(CapTargetCode::AsidControl) => Source::Control(CAP_ASID_CONTROL as Word),
        Some(CapTargetCode::Domain) => Source::Control(CAP_DOMAIN as Word),
        _ => {
            let target = spec.target(cap).ok_or(InitError::Unsupported {
                object: container,
                what: "a cap without a target",
            })?;
            Source::Object(slots.object(target.index), target)
        }
    })
}

fn configure(
    spec: &SpecView<'_>,
    slots: &Slots,
    t: &ObjectView<'_>,
    summary: &mut Summary,
) -> Result<(), InitError> {
    let tcb: Cap<Tcb> = Cap::from_cptr(slots.object(t.index));
    let record = t.tcb().copied().unwrap_or_default();
    let has = |bit: u16| record.present.get() & bit != 0;
    let slot = |n: u64| t.caps().iter().find(|c| c.slot.get() == n);
    let object_of = |n: u64| slot(n).and_then(|c| spec.target(c));
    summary.caps += t.caps().len() as u64;

    let cspace = slot(0);
    let cspace_root = object_of(0).map_or(0, |o| slots.object(o.index));
    let vspace_root = object_of(1).map_or(0, |o| slots.object(o.index));
    let buffer_frame = object_of(4).map_or(0, |o| slots.object(o.index));
    let buffer = if has(tcb_fields::IPC_BUFFER_ADDR) {
        record.ipc_buffer_addr.get()
    } else {
        0
    };
    let fault_ep = if has(tcb_fields::FAULT_EP) {
        record.fault_ep.get()
    } else {
        0
    };
    tcb.configure(
        fault_ep,
        Cap::from_cptr(cspace_root),
        cspace.map_or(0, cnode_cap_data),
        Cap::from_cptr(vspace_root),
        0,
        buffer,
        Cap::from_cptr(buffer_frame),
    )
    .map_err(invocation("configuring", t.index))?;
    let prio = if has(tcb_fields::PRIO) {
        record.prio.get()
    } else {
        0
    };
    let mcp = if has(tcb_fields::MAX_PRIO) {
        record.max_prio.get()
    } else {
        0
    };
    tcb.set_sched_params(ROOT_TCB, mcp, prio)
        .map_err(invocation("setting the priority of", t.index))?;
    if let Some(n) = object_of(8) {
        tcb.bind_notification(Cap::from_cptr(slots.object(n.index)))
            .map_err(invocation("binding a notification to", t.index))?;
    }
    if has(tcb_fields::FPU_DISABLED) && record.fpu_disabled != 0 {
        tcb.set_flags(0, TCB_FLAG_FPU_DISABLED)
            .map_err(invocation("disabling the FPU of", t.index))?;
    }
    let mut regs = UserContext::default();
    regs.set_pc(if has(tcb_fields::IP) {
        record.ip.get()
    } else {
        0
    });
    regs.set_sp(if has(tcb_fields::SP) {
        record.sp.get()
    } else {
        0
    });
    regs.0[UserContext::TPIDR_EL0] = buffer;
    for (i, word) in t.init_arguments().iter().enumerate().take(8) {
        regs.set_x(i as u8, word.get());
    }
    if t.init_arguments().len() > 8 {
        return Err(InitError::Unsupported {
            object: t.index,
            what: "more than 8 init arguments (x0..x7)",
        });
    }
    tcb.write_registers(false, 0, regs.0.len() as Word, &regs)
        .map_err(invocation("writing the registers of", t.index))
}

/// Parses a capDL number: decimal, `0x` hex or `0o` octal.
fn number(word: &str) -> Option<usize> {
    let (digits, radix) = if let Some(h) = word.strip_prefix("0x") {
        (h, 16)
    } else if let Some(o) = word.strip_prefix("0o") {
        (o, 8)
    } else {
        (word, 10)
    };
    usize::from_str_radix(digits, radix).ok()
}

/// Copies a frame's fill entries in through the scratch mapping; returns
/// the bytes copied.
fn fill(bundle: &Bundle<'static>, o: &ObjectView<'_>, frame: Cap<Frame>) -> Result<u64, InitError> {
    let bad = |what| InitError::BadFill {
        object: o.index,
        what,
    };
    if o.record.size_bits as u32 != PAGE_BITS {
        return Err(InitError::Unsupported {
            object: o.index,
            what: "filling a frame larger than 4 KiB",
        });
    }
    frame
        .map(
            ROOT_VSPACE,
            SCRATCH_VADDR,
            CapRights::READ_WRITE,
            DEFAULT_VM_ATTRIBUTES,
        )
        .map_err(invocation("mapping for filling", o.index))?;
    let mut copied = 0;
    for entry in o.fills() {
        let mut words = bundle.spec.fill_words(entry);
        let dest = words
            .next()
            .and_then(number)
            .ok_or_else(|| bad("no destination offset"))?;
        let len = words
            .next()
            .and_then(number)
            .ok_or_else(|| bad("no length"))?;
        if words.next() != Some("CDL_FrameFill_FileData") {
            return Err(bad("only CDL_FrameFill_FileData fills are supported"));
        }
        let name = words
            .next()
            .map(|w| w.trim_matches('"'))
            .ok_or_else(|| bad("no file name"))?;
        let offset = words
            .next()
            .and_then(number)
            .ok_or_else(|| bad("no file offset"))?;
        let file = bundle
            .file(name)
            .ok_or_else(|| bad("names a file the image does not carry"))?;
        let source = offset
            .checked_add(len)
            .and_then(|end| file.get(offset..end))
            .ok_or_else(|| bad("reads past the end of its file"))?;
        if dest.checked_add(len).is_none_or(|end| end > PAGE) {
            return Err(bad("writes past the end of the frame"));
        }
        // SAFETY: the frame is mapped read-write at SCRATCH_VADDR for one
        // page, `dest + len <= PAGE` was checked, and nothing else in this
        // program refers to that address.
        unsafe {
            core::ptr::copy_nonoverlapping(
                source.as_ptr(),
                (SCRATCH_VADDR as usize + dest) as *mut u8,
                len,
            );
        }
        copied += len as u64;
    }
    // Code in this frame must be visible to instruction fetch.
    frame
        .unify_instruction(0, PAGE as Word)
        .map_err(invocation("cleaning the caches of", o.index))?;
    frame
        .unmap()
        .map_err(invocation("unmapping after filling", o.index))?;
    Ok(copied)
}
