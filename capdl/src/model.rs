//! The data model of a capDL spec, AArch64 non-MCS subset: objects (one per
//! array element), the caps in their slots, IRQ numbers, the derivation tree.
//!
//! References between items are by name ([`ObjectName`]), exactly as a spec
//! writes them, so that a model built by a tool can carry a dangling name and
//! [`crate::validate()`] can say which. Every item carries the [`Origin`] it was
//! parsed from; origins never take part in equality, so a spec equals its own
//! printed-and-reparsed form.

use core::fmt;

use cerne_abi::object::{ObjectType, HUGE_PAGE_BITS, LARGE_PAGE_BITS, PAGE_BITS};
use cerne_abi::rights::CapRights;

/// Where an item was written: 1-based line and column, or 0:0 when the item
/// was built by a program. Always compares equal.
#[derive(Clone, Copy, Debug, Default, Eq)]
pub struct Origin {
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// 1-based column, 0 when unknown.
    pub column: u32,
}

impl PartialEq for Origin {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl core::hash::Hash for Origin {
    fn hash<H: core::hash::Hasher>(&self, _state: &mut H) {}
}

/// A whole spec: `arch aarch64` and its sections.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Spec {
    /// Every object, one per array element, in declaration order.
    pub objects: Vec<Object>,
    /// The `irq maps` section: which IRQ number each IRQ object stands for.
    pub irqs: Vec<IrqMapping>,
    /// The `cdt` section and every `- child_of`: derivation edges.
    pub cdt: Vec<CdtEdge>,
}

/// An object's name: `base` or `base[index]` for an element of an array.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectName {
    /// The declared name.
    pub base: String,
    /// The element index for an array declared `base[n]`.
    pub index: Option<u64>,
}

impl ObjectName {
    /// A plain (non-array) name.
    pub fn plain(base: &str) -> Self {
        Self {
            base: base.to_string(),
            index: None,
        }
    }
    /// Element `index` of array `base`.
    pub fn element(base: &str, index: u64) -> Self {
        Self {
            base: base.to_string(),
            index: Some(index),
        }
    }
}

impl fmt::Display for ObjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "{}[{}]", self.base, i),
            None => write!(f, "{}", self.base),
        }
    }
}

/// A use of an object's name somewhere in the spec.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    /// The object named.
    pub name: ObjectName,
    /// Where the name was written.
    pub origin: Origin,
}

/// One object and the caps it holds (for the objects that hold caps: CNodes,
/// TCBs, page tables, the VSpace, ASID pools and IRQ objects).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// Its name.
    pub name: ObjectName,
    /// Its type and parameters.
    pub kind: ObjectKind,
    /// Its slots, in ascending slot order (the parser keeps a slot written
    /// twice, so that the validator can report it).
    pub slots: Vec<CapSlot>,
    /// Where it was declared.
    pub origin: Origin,
}

/// The object types of the subset (docs/sel4-abi.md §4) and their parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    /// `ut`: untyped memory and the objects it covers.
    Untyped(Untyped),
    /// `tcb`.
    Tcb(Tcb),
    /// `ep`.
    Endpoint,
    /// `notification`.
    Notification,
    /// `cnode (n bits)`: 2^n slots.
    CNode {
        /// log2 of the number of slots.
        size_bits: u64,
    },
    /// `frame (4k | 2M | 1024M, paddr: p, fill: [...])`.
    Frame(Frame),
    /// `pud`, `pd` or `pt`: a seL4_ARM_PageTableObject at a level below the
    /// VSpace.
    PageTable {
        /// Which level of the walk it serves.
        level: PageTableLevel,
    },
    /// `pgd`: the top-level table, seL4_ARM_VSpaceObject.
    VSpace,
    /// `asid_pool (asid_high: n)`.
    AsidPool {
        /// The pool's index (the ASID's upper 7 bits), when fixed.
        asid_high: Option<u64>,
    },
    /// `irq` or `arm_irq (trigger: level|edge, target: n)`: an IRQ handler
    /// object; slot 0 holds the notification the IRQ signals.
    Irq {
        /// Trigger and target core, for `arm_irq`.
        arm: Option<ArmIrq>,
    },
    /// `arm_sgi_signal (irq: n, target: n)`: an SGI signal cap's object.
    SgiSignal {
        /// The SGI number.
        irq: u64,
        /// The target core.
        target: u64,
    },
}

/// Parameters of an untyped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Untyped {
    /// Its size (log2 bytes), when given.
    pub size_bits: Option<u64>,
    /// Its physical address, when fixed.
    pub paddr: Option<u64>,
    /// The objects made from it, in allocation order.
    pub covers: Vec<Reference>,
}

/// A TCB's configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tcb {
    /// `addr:` the IPC buffer's virtual address.
    pub ipc_buffer_addr: Option<u64>,
    /// `ip:` the initial program counter.
    pub ip: Option<u64>,
    /// `sp:` the initial stack pointer.
    pub sp: Option<u64>,
    /// `prio:` the priority.
    pub prio: Option<u64>,
    /// `max_prio:` the maximum controlled priority (MCP).
    pub max_prio: Option<u64>,
    /// `affinity:` the core (0 on this uniprocessor kernel).
    pub affinity: Option<u64>,
    /// `resume:` whether the initializer starts the thread.
    pub resume: Option<bool>,
    /// `fpu_disabled:` seL4_TCBFlag_fpuDisabled.
    pub fpu_disabled: Option<bool>,
    /// `dom:` the scheduling domain.
    pub dom: Option<u64>,
    /// `fault_ep:` the fault endpoint's CPtr in the thread's own CSpace.
    pub fault_ep: Option<u64>,
    /// `init: [..]` the initial arguments (x0, x1, ...).
    pub init: Vec<u64>,
}

/// A frame's parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Its size in bytes as written (the validator accepts 4 KiB, 2 MiB and
    /// 1 GiB).
    pub size: u64,
    /// Its physical address, when fixed (device frames).
    pub paddr: Option<u64>,
    /// `fill: [{...}, ...]`: what to copy in; each entry is its words as
    /// written (`offset length kind args...`).
    pub fill: Vec<Vec<String>>,
}

impl Frame {
    /// The sizes the subset allows: small (4 KiB), large (2 MiB) and huge
    /// (1 GiB) pages.
    pub const SIZES: [u64; 3] = [1 << PAGE_BITS, 1 << LARGE_PAGE_BITS, 1 << HUGE_PAGE_BITS];

    /// log2 of the size, when it is one of [`Frame::SIZES`].
    pub fn size_bits(&self) -> Option<u32> {
        Self::SIZES
            .contains(&self.size)
            .then(|| self.size.trailing_zeros())
    }
}

/// Levels of the AArch64 walk below the VSpace (docs/sel4-abi.md §9.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PageTableLevel {
    /// `pud`: level 1, entries of 1 GiB.
    Pud,
    /// `pd`: level 2, entries of 2 MiB.
    Pd,
    /// `pt`: level 3, entries of 4 KiB.
    Pt,
}

impl PageTableLevel {
    /// 1, 2 or 3.
    pub fn number(self) -> u8 {
        match self {
            Self::Pud => 1,
            Self::Pd => 2,
            Self::Pt => 3,
        }
    }
    /// The capDL keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Pud => "pud",
            Self::Pd => "pd",
            Self::Pt => "pt",
        }
    }
}

/// Trigger mode of an `arm_irq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IrqTrigger {
    /// Level-sensitive.
    Level,
    /// Edge-triggered.
    Edge,
}

/// The parameters of an `arm_irq` object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ArmIrq {
    /// Trigger mode.
    pub trigger: IrqTrigger,
    /// Target core.
    pub target: u64,
}

/// A cap in a slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapSlot {
    /// The slot index (TCB slots: 0 cspace, 1 vspace, 2 reply_slot,
    /// 3 caller_slot, 4 ipc_buffer_slot, 5 fault_ep_slot,
    /// 8 bound_notification).
    pub slot: u64,
    /// The cap.
    pub cap: Cap,
    /// Where the slot was written.
    pub origin: Origin,
}

/// What a cap points at.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CapTarget {
    /// An object of the spec; the cap's type is the object's.
    Object(ObjectName),
    /// `irq_control`.
    IrqControl,
    /// `asid_control`.
    AsidControl,
    /// `domain`.
    Domain,
}

/// TCB caps can stand for the thread's reply caps instead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TcbCapKind {
    /// The TCB cap itself.
    #[default]
    Thread,
    /// `reply`: a reply cap to the thread.
    Reply,
    /// `master_reply`.
    MasterReply,
}

/// A capability and its attributes. Attributes a type does not have keep
/// their defaults; the validator rejects any other value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cap {
    /// What it points at.
    pub target: CapTarget,
    /// Rights (endpoint, notification, frame caps).
    pub rights: CapRights,
    /// Badge (endpoint, notification caps).
    pub badge: u64,
    /// Guard (CNode caps).
    pub guard: u64,
    /// Guard size in bits (CNode caps).
    pub guard_size: u64,
    /// Cacheable mapping (frame caps; `uncached` clears it).
    pub cached: bool,
    /// `mapping: (table, slot)`: where this frame cap is mapped.
    pub mapping: Option<(Reference, u64)>,
    /// `asid: (high, low)` of a mapped frame, table or VSpace.
    pub asid: Option<(u64, u64)>,
    /// Thread, reply or master reply (TCB caps).
    pub tcb_kind: TcbCapKind,
}

impl Cap {
    /// A cap to `target` with every attribute at its default.
    pub fn to(target: CapTarget) -> Self {
        Self {
            target,
            rights: CapRights::NONE,
            badge: 0,
            guard: 0,
            guard_size: 0,
            cached: true,
            mapping: None,
            asid: None,
            tcb_kind: TcbCapKind::Thread,
        }
    }
    /// A cap to the object `name`.
    pub fn to_object(name: ObjectName) -> Self {
        Self::to(CapTarget::Object(name))
    }
}

/// One line of `irq maps`: IRQ `irq` is the object `object`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IrqMapping {
    /// The IRQ number.
    pub irq: u64,
    /// The IRQ object.
    pub object: Reference,
}

/// A slot of a container object.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SlotRef {
    /// The container (CNode, TCB, ...).
    pub object: Reference,
    /// The slot.
    pub slot: u64,
}

/// A derivation: the cap in `child` was derived from the cap in `parent`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CdtEdge {
    /// The original.
    pub parent: SlotRef,
    /// The derived cap.
    pub child: SlotRef,
}

/// The symbolic TCB slot names and their numbers (capDL-tool's Model.hs),
/// with whether the subset has them.
pub const TCB_SLOT_NAMES: [(&str, u64); 10] = [
    ("cspace", 0),
    ("vspace", 1),
    ("reply_slot", 2),
    ("caller_slot", 3),
    ("ipc_buffer_slot", 4),
    ("fault_ep_slot", 5),
    ("sc_slot", 6),
    ("temp_fault_ep_slot", 7),
    ("bound_notification", 8),
    ("bound_vcpu", 9),
];

/// TCB slot 0: the CSpace root CNode.
pub const TCB_SLOT_CSPACE: u64 = 0;
/// TCB slot 1: the VSpace.
pub const TCB_SLOT_VSPACE: u64 = 1;
/// TCB slot 2: the master reply cap.
pub const TCB_SLOT_REPLY: u64 = 2;
/// TCB slot 3: the caller's reply cap.
pub const TCB_SLOT_CALLER: u64 = 3;
/// TCB slot 4: the IPC buffer frame.
pub const TCB_SLOT_IPC_BUFFER: u64 = 4;
/// TCB slot 5: the fault endpoint.
pub const TCB_SLOT_FAULT_EP: u64 = 5;
/// TCB slot 8: the bound notification.
pub const TCB_SLOT_BOUND_NOTIFICATION: u64 = 8;

impl Spec {
    /// The first object called `name`.
    pub fn object(&self, name: &ObjectName) -> Option<&Object> {
        self.objects.iter().find(|o| &o.name == name)
    }
}

impl ObjectKind {
    /// The seL4 object type Untyped_Retype makes for this object, or `None`
    /// for objects made otherwise (ASID pools through ASIDControl, IRQ
    /// handlers and SGI signals through IRQControl) and for frames of a size
    /// the subset does not have.
    pub fn object_type(&self) -> Option<ObjectType> {
        Some(match self {
            Self::Untyped(_) => ObjectType::Untyped,
            Self::Tcb(_) => ObjectType::Tcb,
            Self::Endpoint => ObjectType::Endpoint,
            Self::Notification => ObjectType::Notification,
            Self::CNode { .. } => ObjectType::CapTable,
            Self::Frame(f) => match f.size_bits()? {
                PAGE_BITS => ObjectType::SmallPage,
                LARGE_PAGE_BITS => ObjectType::LargePage,
                HUGE_PAGE_BITS => ObjectType::HugePage,
                _ => return None,
            },
            Self::PageTable { .. } => ObjectType::PageTable,
            Self::VSpace => ObjectType::VSpace,
            Self::AsidPool { .. } | Self::Irq { .. } | Self::SgiSignal { .. } => return None,
        })
    }

    /// log2 of the bytes the object takes from untyped memory (an untyped
    /// without a size has none), from `cerne_abi`'s sizes.
    pub fn size_bits(&self) -> Option<u64> {
        let user_bits = match self {
            Self::Untyped(u) => u.size_bits?,
            Self::CNode { size_bits } => *size_bits,
            Self::AsidPool { .. } => return Some(cerne_abi::object::ASID_POOL_BITS as u64),
            _ => 0,
        };
        Some(self.object_type()?.size_bits(user_bits))
    }

    /// The capDL keyword of the type.
    pub fn keyword(&self) -> &'static str {
        match self {
            Self::Untyped(_) => "ut",
            Self::Tcb(_) => "tcb",
            Self::Endpoint => "ep",
            Self::Notification => "notification",
            Self::CNode { .. } => "cnode",
            Self::Frame(_) => "frame",
            Self::PageTable { level } => level.keyword(),
            Self::VSpace => "pgd",
            Self::AsidPool { .. } => "asid_pool",
            Self::Irq { arm: None } => "irq",
            Self::Irq { arm: Some(_) } => "arm_irq",
            Self::SgiSignal { .. } => "arm_sgi_signal",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_come_from_the_abi() {
        let frame = |size| {
            ObjectKind::Frame(Frame {
                size,
                paddr: None,
                fill: vec![],
            })
        };
        assert_eq!(frame(1 << 21).object_type(), Some(ObjectType::LargePage));
        assert_eq!(frame(1 << 21).size_bits(), Some(21));
        assert_eq!(frame(8192).size_bits(), None);
        assert_eq!(ObjectKind::CNode { size_bits: 4 }.size_bits(), Some(9));
        assert_eq!(ObjectKind::Tcb(Tcb::default()).size_bits(), Some(11));
        assert_eq!(ObjectKind::Untyped(Untyped::default()).size_bits(), None);
        assert_eq!(
            ObjectKind::AsidPool { asid_high: None }.size_bits(),
            Some(12)
        );
        assert_eq!(ObjectKind::Irq { arm: None }.size_bits(), None);
    }

    #[test]
    fn origins_never_decide_equality() {
        let a = Origin { line: 1, column: 2 };
        let b = Origin { line: 9, column: 9 };
        assert_eq!(a, b);
        assert_eq!(ObjectName::element("x", 3).to_string(), "x[3]");
    }
}
