//! The conventions of the expansion in one place: capDL object names, each
//! component's CSpace slots, its virtual address map, its notification bits
//! and the badges it sees. The expansion ([`crate::expand()`]), the checks and
//! the generated constants ([`crate::caps_module()`]) all read them from here,
//! so they cannot disagree.

use capdl::model::{Cap, ObjectName};
use cerne_abi::rights::CapRights;

use crate::model::{Perms, SharedMemory, System};
use crate::parse::PAGE_SIZE;

/// One past the highest stack address; the initial `sp`.
pub const STACK_TOP: u64 = 0x1000_0000;
/// The IPC buffer's virtual address (the page above STACK_TOP is a guard).
pub const IPC_BUFFER: u64 = 0x1000_1000;
/// The lowest address an ELF segment may use (page 0 stays unmapped).
pub const IMAGE_BASE: u64 = 0x1000;
/// Where the heap starts.
pub const HEAP_BASE: u64 = 0x2000_0000;
/// Where shared memory regions start (and the heap must end).
pub const SHARED_BASE: u64 = 0x3000_0000;
/// Where device regions start (and shared memory must end).
pub const DEVICE_BASE: u64 = 0x3800_0000;
/// The end of everything a component maps: one pd covers the first 1 GiB.
pub const VSPACE_LIMIT: u64 = 0x4000_0000;
/// Bytes one page-table (`pt`) covers.
pub const PT_SPAN: u64 = 2 << 20;
/// Notification bits: a notification word has 64.
pub const NOTIFICATION_BITS: usize = 64;

/// CSpace slot of the component's own TCB.
pub const SLOT_TCB: u64 = 1;
/// CSpace slot of the component's own CNode.
pub const SLOT_CNODE: u64 = 2;
/// CSpace slot of the component's own VSpace (pgd).
pub const SLOT_VSPACE: u64 = 3;
/// The first slot of the caps the description gives.
pub const FIRST_ITEM_SLOT: u64 = 4;

/// `name_what`: the name of a component's own capDL object.
pub fn object(component: &str, what: &str) -> ObjectName {
    ObjectName::plain(&format!("{component}_{what}"))
}

/// The endpoint of channel `channel`.
pub fn channel_endpoint(channel: &str) -> ObjectName {
    ObjectName::plain(&format!("{channel}_ep"))
}

/// Frame `page` of device `device`: plain names, because each has its own
/// `paddr` and the elements of a capDL array must be alike.
pub fn device_frame(device: &str, page: u64) -> ObjectName {
    ObjectName::plain(&format!("{device}_{page}"))
}

/// Frame `page` of shared region `region`: an array named after it.
pub fn shared_frame(region: &str, page: u64) -> ObjectName {
    ObjectName::element(region, page)
}

/// Page-table `index` (covering vaddr `index * 2 MiB`) of `component`.
pub fn page_table(component: &str, index: u64) -> ObjectName {
    ObjectName::plain(&format!("{component}_pt_{index:x}"))
}

/// The UPPER_SNAKE constant name of an item name.
pub fn constant(name: &str) -> String {
    name.to_ascii_uppercase()
}

/// The CNode cap a component's TCB and its own slot 2 hold: guard 0 of
/// `64 - cnode_bits` bits, so that a CPtr is the slot number.
pub fn cnode_cap(component: &str, cnode_bits: u8) -> Cap {
    guarded_cnode_cap(object(component, "cnode"), cnode_bits)
}

/// A generated constant: name, value, doc comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Constant {
    /// UPPER_SNAKE name.
    pub name: String,
    /// Its value.
    pub value: u64,
    /// One line of documentation.
    pub doc: String,
}

/// One cap of a component's CSpace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotCap {
    /// The slot (= its CPtr).
    pub slot: u64,
    /// The cap.
    pub cap: Cap,
    /// The kind of its object: "tcb", "cnode", "vspace", "endpoint",
    /// "notification", "irq", "frame", "untyped" or "asid_pool".
    pub kind: &'static str,
}

/// What the supervisor holds for one supervised component: slots of its
/// own CSpace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SupervisedSlots {
    /// The supervised component.
    pub component: String,
    /// Its TCB (all rights).
    pub tcb: u64,
    /// Its CNode (guarded like its own `cnode_cap`).
    pub cnode: u64,
    /// Its template CNode (`<c>_template`), guarded the same way.
    pub template: u64,
    /// W to its bound notification, badged with its heartbeat bit.
    pub heartbeat: u64,
    /// R to the endpoint of each channel it serves: (channel, slot).
    pub endpoints: Vec<(String, u64)>,
}

/// The name of the heartbeat bit of a supervised component.
pub const HEARTBEAT_BIT: &str = "heartbeat";

/// The name of the supervisor's bit for `component`'s answers.
pub fn alive_bit(component: &str) -> String {
    format!("alive_{component}")
}

/// The template CNode of supervised `component`.
pub fn template(component: &str) -> ObjectName {
    object(component, "template")
}

/// A CNode cap to `name` guarded like [`cnode_cap`].
pub fn guarded_cnode_cap(name: ObjectName, cnode_bits: u8) -> Cap {
    let mut cap = Cap::to_object(name);
    cap.guard = 0;
    cap.guard_size = 64 - u64::from(cnode_bits.min(64));
    cap
}

/// The frames of a region, named without listing them (a region can be
/// large).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frames {
    /// `base[0]` .. `base[count - 1]`: stack, heap, shared memory.
    Array {
        /// The array's name.
        base: String,
        /// How many frames.
        count: u64,
    },
    /// `device_0` .. `device_<count - 1>`: device frames.
    Device {
        /// The device's name.
        device: String,
        /// How many frames.
        count: u64,
    },
    /// One plain frame: the IPC buffer.
    One(ObjectName),
}

impl Frames {
    /// How many frames.
    pub fn len(&self) -> u64 {
        match self {
            Self::Array { count, .. } | Self::Device { count, .. } => *count,
            Self::One(_) => 1,
        }
    }
    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The name of frame `k`.
    pub fn name(&self, k: u64) -> ObjectName {
        match self {
            Self::Array { base, .. } => ObjectName::element(base, k),
            Self::Device { device, .. } => device_frame(device, k),
            Self::One(name) => name.clone(),
        }
    }
}

/// A region of a component's address space other than its ELF image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// The frames, in vaddr order, one per 4 KiB page.
    pub frames: Frames,
    /// Where the first frame is mapped.
    pub vaddr: u64,
    /// Mapping rights (R or RW).
    pub rights: CapRights,
    /// False for device memory (mapped uncached).
    pub cached: bool,
}

/// The per-client buffers of one channel, as its server maps them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServedBuffers {
    /// The channel.
    pub channel: String,
    /// Bytes of each buffer.
    pub size: u64,
    /// (client badge, vaddr of its buffer), in client order.
    pub clients: Vec<(u64, u64)>,
}

/// The server of a per-client buffer: its first mapping.
fn m_server(s: &crate::model::SharedMemory) -> &str {
    s.mappings.first().map_or("", |m| m.component.as_str())
}

/// Everything the conventions fix for one component.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// The caps of its CNode, slot 1 upwards, in slot order.
    pub slots: Vec<SlotCap>,
    /// `caps::` constants (TCB, CNODE, VSPACE, one per item, FAULT_EP,
    /// FAULTS, NOTIFICATION, FIRST_FREE, CNODE_BITS).
    pub caps: Vec<Constant>,
    /// `addrs::` constants.
    pub addrs: Vec<Constant>,
    /// `badges::` constants.
    pub badges: Vec<Constant>,
    /// The first slot no cap uses.
    pub first_free: u64,
    /// The slot of its fault endpoint cap, when it has a fault handler.
    pub fault_ep: Option<u64>,
    /// Its bound notification's bits: item name (IRQ or notification) and
    /// bit number, from 63 downwards. Empty when it has no bound
    /// notification.
    pub bits: Vec<(String, u64)>,
    /// Stack, IPC buffer, heap, shared and device regions, in vaddr order.
    pub regions: Vec<Region>,
    /// Where its shared regions are: (index in `System::shared_memory`,
    /// vaddr), in file order.
    pub shared: Vec<(usize, u64)>,
    /// Where its devices are: (index in `System::devices`, vaddr).
    pub devices: Vec<(usize, u64)>,
    /// For each channel with a `buffer` that it serves: where each client's
    /// buffer is mapped.
    pub served: Vec<ServedBuffers>,
    /// The lowest stack address: ELF segments must end a guard page below.
    pub stack_bottom: u64,
    /// The slot of its `ALIVE` cap (W to the supervisor's notification),
    /// when it is supervised.
    pub alive: Option<u64>,
    /// When it is the supervisor: its caps to each supervised component,
    /// in file order.
    pub supervises: Vec<SupervisedSlots>,
}

/// The bit of notification or IRQ `item` in `waiter`'s bound notification.
pub fn bit_of(sys: &System, waiter: &str, item: &str) -> Option<u64> {
    notification_bits(sys, waiter)
        .into_iter()
        .find(|(name, _)| name == item)
        .map(|(_, bit)| bit)
}

/// The bits of `component`'s bound notification: its IRQs, then the
/// notifications it waits on, in file order, then `heartbeat` when it is
/// supervised, and for the supervisor `alive_<c>` for each component it
/// supervises, from bit 63 down. Items past the 64th get no bit (the checks
/// report them).
pub fn notification_bits(sys: &System, component: &str) -> Vec<(String, u64)> {
    let irqs = sys.irqs.iter().filter(|i| i.component == component);
    let waits = sys.notifications.iter().filter(|n| n.waiter == component);
    let me = sys.component(component);
    let heartbeat = me
        .filter(|c| c.restart.is_some())
        .map(|_| HEARTBEAT_BIT.to_string());
    let alive: Vec<String> = if me.is_some_and(|c| c.supervisor) {
        sys.supervised().map(|(_, c)| alive_bit(&c.name)).collect()
    } else {
        Vec::new()
    };
    irqs.map(|i| i.name.clone())
        .chain(waits.map(|n| n.name.clone()))
        .chain(heartbeat)
        .chain(alive)
        .enumerate()
        .filter_map(|(k, name)| 63u64.checked_sub(k as u64).map(|bit| (name, bit)))
        .collect()
}

/// How many notification bits `component` needs.
pub fn bits_needed(sys: &System, component: &str) -> usize {
    sys.irqs.iter().filter(|i| i.component == component).count()
        + sys
            .notifications
            .iter()
            .filter(|n| n.waiter == component)
            .count()
        + match sys.component(component) {
            Some(c) if c.restart.is_some() => 1,
            Some(c) if c.supervisor => sys.supervised().count(),
            _ => 0,
        }
}

fn pages(size: u64) -> u64 {
    size / PAGE_SIZE
}

impl Layout {
    /// The layout of the component at `index` (0-based) of `sys`. Never
    /// panics, even for a system that did not pass the checks.
    pub fn new(sys: &System, index: usize) -> Self {
        let mut l = Layout::default();
        let Some(c) = sys.components.get(index) else {
            return l;
        };
        let me = c.name.as_str();
        l.first_free = FIRST_ITEM_SLOT;
        let konst = |name: String, value: u64, doc: String| Constant { name, value, doc };

        let mut tcb = Cap::to_object(object(me, "tcb"));
        tcb.rights = CapRights::NONE;
        l.slots.push(SlotCap {
            slot: SLOT_TCB,
            cap: tcb,
            kind: "tcb",
        });
        l.slots.push(SlotCap {
            slot: SLOT_CNODE,
            cap: cnode_cap(me, c.cnode_bits),
            kind: "cnode",
        });
        l.slots.push(SlotCap {
            slot: SLOT_VSPACE,
            cap: Cap::to_object(object(me, "pgd")),
            kind: "vspace",
        });
        l.caps.push(konst(
            "TCB".into(),
            SLOT_TCB,
            "This component's own TCB.".into(),
        ));
        l.caps.push(konst(
            "CNODE".into(),
            SLOT_CNODE,
            "This component's own CNode (its CSpace root).".into(),
        ));
        l.caps.push(konst(
            "VSPACE".into(),
            SLOT_VSPACE,
            "This component's own VSpace (pgd).".into(),
        ));

        // Caps past the CNode's end are counted (the checks report them) but
        // not kept, so that a huge region cannot make a huge layout.
        let capacity = 1u64 << c.cnode_bits.min(crate::parse::MAX_CNODE_BITS as u8);
        let push = |l: &mut Layout, kind: &'static str, cap: Cap| {
            if l.first_free < capacity {
                l.slots.push(SlotCap {
                    slot: l.first_free,
                    cap,
                    kind,
                });
            }
            l.first_free = l.first_free.saturating_add(1);
        };

        // Channels: the endpoint, R for the server, WP and a badge for a client.
        for ch in &sys.channels {
            let ep = channel_endpoint(&ch.name);
            if ch.server == me {
                l.caps.push(konst(
                    constant(&ch.name),
                    l.first_free,
                    format!(
                        "Channel '{}': the endpoint this server receives on (R).",
                        ch.name
                    ),
                ));
                let mut cap = Cap::to_object(ep.clone());
                cap.rights = if ch.mint {
                    CapRights::ALL
                } else {
                    CapRights::READ
                };
                push(&mut l, "endpoint", cap);
                for client in &ch.clients {
                    let (doc, name) = if client.sessions > 0 {
                        (
                            format!(
                                "The badge of the first of client '{}''s {} sessions on channel '{}' (the others follow).",
                                client.component, client.sessions, ch.name
                            ),
                            format!(
                                "{}_{}_SESSIONS",
                                constant(&ch.name),
                                constant(&client.component)
                            ),
                        )
                    } else {
                        (
                            format!(
                                "The badge of client '{}' on channel '{}'.",
                                client.component, ch.name
                            ),
                            format!("{}_{}", constant(&ch.name), constant(&client.component)),
                        )
                    };
                    l.badges.push(konst(name, client.badge, doc));
                }
            }
            if let Some(client) = ch
                .clients
                .iter()
                .find(|k| k.component == me && k.sessions == 0 && ch.server != me)
            {
                l.caps.push(konst(
                    constant(&ch.name),
                    l.first_free,
                    format!(
                        "Channel '{}': the endpoint to call server '{}' on (W{}P, badge {}).",
                        ch.name,
                        ch.server,
                        if ch.grant { "G" } else { "" },
                        client.badge
                    ),
                ));
                let mut cap = Cap::to_object(ep.clone());
                let grant = if ch.grant { CapRights::GRANT.word() } else { 0 };
                cap.rights = CapRights::from_word(
                    CapRights::WRITE.word() | CapRights::GRANT_REPLY.word() | grant,
                );
                cap.badge = client.badge;
                push(&mut l, "endpoint", cap);
            }
            if let Some(client) = ch
                .clients
                .iter()
                .find(|k| k.component == me && k.sessions > 0)
            {
                // Sessions to hand out: an endpoint cap per session, then
                // each session's buffer as unmapped frame caps.
                let name = constant(&ch.name);
                l.caps.push(konst(
                    format!("{name}_SESSIONS"),
                    l.first_free,
                    format!(
                        "Channel '{}': the first of {} session endpoint caps to server '{}' (WP, badges {}..={}).",
                        ch.name,
                        client.sessions,
                        ch.server,
                        client.badge,
                        client.badge + client.sessions - 1
                    ),
                ));
                l.caps.push(konst(
                    format!("{name}_SESSION_COUNT"),
                    client.sessions,
                    format!(
                        "Channel '{}': how many sessions this component holds.",
                        ch.name
                    ),
                ));
                for session in 0..client.sessions {
                    let mut cap = Cap::to_object(ep.clone());
                    cap.rights = CapRights::from_word(
                        CapRights::WRITE.word() | CapRights::GRANT_REPLY.word(),
                    );
                    cap.badge = client.badge + session;
                    push(&mut l, "endpoint", cap);
                }
                l.badges.push(konst(
                    format!("{name}_FIRST_SESSION"),
                    client.badge,
                    format!(
                        "The badge of the first session on channel '{}'; session k has this plus k.",
                        ch.name
                    ),
                ));
                if ch.buffer > 0 {
                    l.caps.push(konst(
                        format!("{name}_SESSION_FRAMES"),
                        l.first_free,
                        format!(
                            "Channel '{}': the frame caps of the sessions' buffers (rw, unmapped), {} per session, session by session.",
                            ch.name,
                            pages(ch.buffer)
                        ),
                    ));
                    l.caps.push(konst(
                        format!("{name}_SESSION_PAGES"),
                        pages(ch.buffer),
                        format!("Channel '{}': the pages of one session's buffer.", ch.name),
                    ));
                    for session in 0..client.sessions {
                        let region = SharedMemory::session_buffer_name(&ch.name, me, session);
                        for page in 0..pages(ch.buffer) {
                            let mut cap = Cap::to_object(shared_frame(&region, page));
                            cap.rights = CapRights::READ_WRITE;
                            push(&mut l, "frame", cap);
                        }
                    }
                }
            }
        }
        // Notifications it signals: the waiter's bound notification, badged
        // with the bit.
        for n in &sys.notifications {
            if !n.signallers.iter().any(|s| s == me) {
                continue;
            }
            let bit = bit_of(sys, &n.waiter, &n.name);
            l.caps.push(konst(
                constant(&n.name),
                l.first_free,
                format!(
                    "Notification '{}': signals '{}' (W, bit {}).",
                    n.name,
                    n.waiter,
                    bit.unwrap_or(0)
                ),
            ));
            let mut cap = Cap::to_object(object(&n.waiter, "ntfn"));
            cap.rights = CapRights::WRITE;
            cap.badge = bit.map_or(0, |b| 1 << b);
            push(&mut l, "notification", cap);
        }
        // IRQ handlers.
        for irq in sys.irqs.iter().filter(|i| i.component == me) {
            l.caps.push(konst(
                constant(&irq.name),
                l.first_free,
                format!(
                    "IRQ '{}' (interrupt {}): its IRQ handler.",
                    irq.name, irq.irq
                ),
            ));
            push(&mut l, "irq", Cap::to_object(ObjectName::plain(&irq.name)));
        }
        // Device frames (RW, uncached), one per page.
        for d in sys.devices.iter().filter(|d| d.component == me) {
            l.caps.push(konst(
                constant(&d.name),
                l.first_free,
                format!(
                    "Device '{}': the first of its {} frame cap(s) (paddr {:#x}).",
                    d.name,
                    pages(d.size),
                    d.paddr
                ),
            ));
            for page in 0..pages(d.size) {
                let mut cap = Cap::to_object(device_frame(&d.name, page));
                cap.rights = CapRights::READ_WRITE;
                cap.cached = false;
                push(&mut l, "frame", cap);
            }
        }
        // Shared memory frames, rights per perms. A channel's per-client
        // buffers are only mapped: neither party needs their frame caps.
        for s in sys.shared_memory.iter().filter(|s| s.buffer_of.is_none()) {
            let Some(m) = s.mappings.iter().find(|m| m.component == me) else {
                continue;
            };
            let dma = if s.dma.as_deref() == Some(me) {
                "; its device's DMA memory: seL4_ARM_Page_GetAddress on each gives the physical address"
            } else {
                ""
            };
            l.caps.push(konst(
                constant(&s.name),
                l.first_free,
                format!(
                    "Shared memory '{}': the first of its {} frame cap(s) ({}){dma}.",
                    s.name,
                    pages(s.size),
                    m.perms.text()
                ),
            ));
            for page in 0..pages(s.size) {
                let mut cap = Cap::to_object(shared_frame(&s.name, page));
                cap.rights = perms_rights(m.perms);
                push(&mut l, "frame", cap);
            }
        }
        // Untyped memory to make objects from at run time, and an ASID
        // pool for the address spaces made of it.
        if c.untyped > 0 {
            l.caps.push(konst(
                "UNTYPED".into(),
                l.first_free,
                format!(
                    "This component's untyped memory ({} bytes, 2^{}).",
                    c.untyped,
                    c.untyped.trailing_zeros()
                ),
            ));
            push(&mut l, "untyped", Cap::to_object(object(me, "untyped")));
            l.caps.push(konst(
                "UNTYPED_BITS".into(),
                u64::from(c.untyped.trailing_zeros()),
                "log2 of the bytes of `UNTYPED`.".into(),
            ));
            l.caps.push(konst(
                "ASID_POOL".into(),
                l.first_free,
                "An ASID pool of this component's own (512 ASIDs), for the VSpaces it makes."
                    .into(),
            ));
            push(&mut l, "asid_pool", Cap::to_object(object(me, "asid_pool")));
        }
        // Its fault endpoint.
        if let Some(h) = &c.fault_handler {
            l.fault_ep = Some(l.first_free);
            l.caps.push(konst(
                "FAULT_EP".into(),
                l.first_free,
                format!("Where this component's faults go: fault handler '{h}' (WP)."),
            ));
            let mut cap = Cap::to_object(object(h, "faults"));
            cap.rights =
                CapRights::from_word(CapRights::WRITE.word() | CapRights::GRANT_REPLY.word());
            cap.badge = (index + 1) as u64;
            push(&mut l, "endpoint", cap);
        }
        // The faults it handles.
        let handled: Vec<(usize, &str)> = sys
            .components
            .iter()
            .enumerate()
            .filter(|(_, k)| k.fault_handler.as_deref() == Some(me))
            .map(|(i, k)| (i, k.name.as_str()))
            .collect();
        if !handled.is_empty() {
            l.caps.push(konst(
                "FAULTS".into(),
                l.first_free,
                "The endpoint this fault handler receives faults on (R).".into(),
            ));
            let mut cap = Cap::to_object(object(me, "faults"));
            cap.rights = CapRights::READ;
            push(&mut l, "endpoint", cap);
            for (i, name) in handled {
                l.badges.push(konst(
                    format!("FAULT_{}", constant(name)),
                    (i + 1) as u64,
                    format!("The badge of faults from component '{name}'."),
                ));
            }
        }
        // Its bound notification.
        l.bits = notification_bits(sys, me);
        if bits_needed(sys, me) > 0 {
            l.caps.push(konst(
                "NOTIFICATION".into(),
                l.first_free,
                "This component's bound notification (R): its IRQs and notifications.".into(),
            ));
            let mut cap = Cap::to_object(object(me, "ntfn"));
            cap.rights = CapRights::READ;
            push(&mut l, "notification", cap);
            for (name, bit) in &l.bits {
                l.badges.push(konst(
                    constant(name),
                    1 << bit,
                    format!("'{name}': bit {bit} of the bound notification's word."),
                ));
            }
        }
        // Supervision: a supervised component answers the supervisor's
        // heartbeat on ALIVE; the supervisor holds each supervised
        // component's TCB, CNode, template CNode, a heartbeat cap and the
        // endpoints it serves. Constants exist in every component, 0 when
        // they do not apply, so code compiles in any system.
        let supervisor = sys.supervisor().map(|s| s.name.as_str());
        match (c.restart.is_some(), supervisor) {
            (true, Some(s)) => {
                l.alive = Some(l.first_free);
                let bit = bit_of(sys, s, &alive_bit(me));
                l.caps.push(konst(
                    "ALIVE".into(),
                    l.first_free,
                    format!(
                        "Where this supervised component answers heartbeats: supervisor '{s}''s notification (W, bit {}).",
                        bit.unwrap_or(0)
                    ),
                ));
                let mut cap = Cap::to_object(object(s, "ntfn"));
                cap.rights = CapRights::WRITE;
                cap.badge = bit.map_or(0, |b| 1 << b);
                push(&mut l, "notification", cap);
            }
            _ => l.caps.push(konst(
                "ALIVE".into(),
                0,
                "0: this component is not supervised (it has no heartbeat to answer).".into(),
            )),
        }
        if c.supervisor {
            for (_, k) in sys.supervised() {
                let them = k.name.as_str();
                let tcb = l.first_free;
                push(&mut l, "tcb", Cap::to_object(object(them, "tcb")));
                let cnode = l.first_free;
                push(&mut l, "cnode", cnode_cap(them, k.cnode_bits));
                let templ = l.first_free;
                push(
                    &mut l,
                    "cnode",
                    guarded_cnode_cap(template(them), k.cnode_bits),
                );
                let heartbeat = l.first_free;
                let mut cap = Cap::to_object(object(them, "ntfn"));
                cap.rights = CapRights::WRITE;
                cap.badge = bit_of(sys, them, HEARTBEAT_BIT).map_or(0, |b| 1 << b);
                push(&mut l, "notification", cap);
                let mut endpoints = Vec::new();
                for ch in sys.channels.iter().filter(|ch| ch.server == them) {
                    endpoints.push((ch.name.clone(), l.first_free));
                    let mut cap = Cap::to_object(channel_endpoint(&ch.name));
                    cap.rights = CapRights::READ;
                    push(&mut l, "endpoint", cap);
                }
                l.supervises.push(SupervisedSlots {
                    component: them.to_string(),
                    tcb,
                    cnode,
                    template: templ,
                    heartbeat,
                    endpoints,
                });
            }
        }
        l.caps.push(konst(
            "FIRST_FREE".into(),
            l.first_free,
            "The first CSpace slot that holds no cap.".into(),
        ));
        l.caps.push(konst(
            "CNODE_BITS".into(),
            u64::from(c.cnode_bits),
            "log2 of the CNode's slots (also the depth of a CPtr).".into(),
        ));
        l.caps.push(konst(
            "SUPERVISED".into(),
            u64::from(c.restart.is_some()),
            "1 when the supervisor restarts this component (restart = \"always\"), else 0.".into(),
        ));
        if c.restart.is_none() {
            l.badges.push(konst(
                "HEARTBEAT".into(),
                0,
                "0: this component is not supervised, so no heartbeat bit.".into(),
            ));
        }

        // Address space.
        l.stack_bottom = STACK_TOP.saturating_sub(c.stack);
        l.regions.push(Region {
            frames: Frames::Array {
                base: format!("{me}_stack"),
                count: pages(c.stack),
            },
            vaddr: l.stack_bottom,
            rights: CapRights::READ_WRITE,
            cached: true,
        });
        l.regions.push(Region {
            frames: Frames::One(object(me, "ipc")),
            vaddr: IPC_BUFFER,
            rights: CapRights::READ_WRITE,
            cached: true,
        });
        l.regions.push(Region {
            frames: Frames::Array {
                base: format!("{me}_heap"),
                count: pages(c.heap),
            },
            vaddr: HEAP_BASE,
            rights: CapRights::READ_WRITE,
            cached: true,
        });
        l.addrs.push(konst(
            "IPC_BUFFER".into(),
            IPC_BUFFER,
            "The IPC buffer (one 4 KiB page).".into(),
        ));
        l.addrs.push(konst(
            "STACK_TOP".into(),
            STACK_TOP,
            format!(
                "One past the top of the stack ({} bytes below it).",
                c.stack
            ),
        ));
        l.addrs.push(konst(
            "HEAP".into(),
            HEAP_BASE,
            "The start of the heap.".into(),
        ));
        l.addrs.push(konst(
            "HEAP_SIZE".into(),
            c.heap,
            "The heap's size in bytes.".into(),
        ));
        let mut vaddr = SHARED_BASE;
        for (i, s) in sys.shared_memory.iter().enumerate() {
            let Some(m) = s.mappings.iter().find(|m| m.component == me) else {
                continue;
            };
            l.shared.push((i, vaddr));
            l.regions.push(Region {
                frames: Frames::Array {
                    base: s.name.clone(),
                    count: pages(s.size),
                },
                vaddr,
                rights: perms_rights(m.perms),
                cached: true,
            });
            match &s.buffer_of {
                None => {
                    l.addrs.push(konst(
                        constant(&s.name),
                        vaddr,
                        format!("Shared memory '{}' ({}).", s.name, m.perms.text()),
                    ));
                    l.addrs.push(konst(
                        format!("{}_SIZE", constant(&s.name)),
                        s.size,
                        format!("The size of shared memory '{}' in bytes.", s.name),
                    ));
                }
                Some(b) if b.client == me && b.session.is_none() => {
                    l.addrs.push(konst(
                        format!("{}_BUFFER", constant(&b.channel)),
                        vaddr,
                        format!(
                            "Channel '{}': the buffer shared with server '{}' alone (rw).",
                            b.channel,
                            m_server(s)
                        ),
                    ));
                    l.addrs.push(konst(
                        format!("{}_BUFFER_SIZE", constant(&b.channel)),
                        s.size,
                        format!("The size of channel '{}''s buffer in bytes.", b.channel),
                    ));
                }
                Some(b) => {
                    // Sessions' buffers are only in the table below.
                    if b.session.is_none() {
                        l.addrs.push(konst(
                        format!("{}_BUFFER_{}", constant(&b.channel), constant(&b.client)),
                        vaddr,
                        format!(
                            "Channel '{}': the buffer shared with client '{}' (badge {}) alone (rw).",
                            b.channel, b.client, b.badge
                        ),
                    ));
                    }
                    match l.served.iter_mut().find(|t| t.channel == b.channel) {
                        Some(t) => t.clients.push((b.badge, vaddr)),
                        None => l.served.push(ServedBuffers {
                            channel: b.channel.clone(),
                            size: s.size,
                            clients: vec![(b.badge, vaddr)],
                        }),
                    }
                }
            }
            vaddr = vaddr.saturating_add(s.size).saturating_add(PAGE_SIZE);
        }
        let mut vaddr = DEVICE_BASE;
        for (i, d) in sys.devices.iter().enumerate() {
            if d.component != me {
                continue;
            }
            l.devices.push((i, vaddr));
            l.regions.push(Region {
                frames: Frames::Device {
                    device: d.name.clone(),
                    count: pages(d.size),
                },
                vaddr,
                rights: CapRights::READ_WRITE,
                cached: false,
            });
            l.addrs.push(konst(
                constant(&d.name),
                vaddr,
                format!(
                    "Device '{}' (paddr {:#x}, {} bytes), mapped uncached.",
                    d.name, d.paddr, d.size
                ),
            ));
            vaddr = vaddr.saturating_add(d.size).saturating_add(PAGE_SIZE);
        }
        l
    }

    /// One past the last byte of shared memory (its guard page excluded).
    pub fn shared_end(&self, sys: &System) -> u64 {
        self.shared.last().map_or(SHARED_BASE, |&(i, v)| {
            v.saturating_add(sys.shared_memory[i].size)
        })
    }

    /// One past the last byte of device memory (its guard page excluded).
    pub fn devices_end(&self, sys: &System) -> u64 {
        self.devices
            .last()
            .map_or(DEVICE_BASE, |&(i, v)| v.saturating_add(sys.devices[i].size))
    }
}

/// A run of a supervised component's private pages, contiguous in its
/// address space with the same rights, and where the supervisor maps them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MirrorRun {
    /// The first page's address in the component.
    pub vaddr: u64,
    /// How many 4 KiB pages.
    pub pages: u64,
    /// Where the supervisor maps the same frames (read-write).
    pub mirror: u64,
    /// Where the supervisor maps the pages' original bytes (read-only), 0
    /// when they start zeroed.
    pub pristine: u64,
    /// Executable in the component.
    pub executable: bool,
    /// Writable in the component.
    pub writable: bool,
}

/// What the supervisor's window holds for one supervised component that
/// the description alone fixes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticMirror {
    /// The supervised component.
    pub component: String,
    /// Its index (0-based) in `System::components`.
    pub index: usize,
    /// Where the supervisor maps the first page of its program's file
    /// (read-only): the ELF header and program headers.
    pub elf: u64,
    /// Its stack, IPC buffer and heap (when it has one), mirrored.
    pub runs: Vec<MirrorRun>,
}

/// The supervisor's window onto the memory of the components it
/// supervises, from the end of its heap rounded up to 2 MiB: first, for
/// each supervised component in file order, the first page of its ELF file
/// and the mirror of its stack, IPC buffer and heap (each followed by a
/// guard page); then, from `images`, for each in file order, the mirror of
/// its ELF image pages and the pristine copies of the filled ones (each
/// followed by a guard page; see [`image_runs`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    /// The supervisor's index in `System::components`.
    pub supervisor: usize,
    /// Where the window starts.
    pub base: u64,
    /// The static part, per supervised component.
    pub components: Vec<StaticMirror>,
    /// Where the image mirrors start.
    pub images: u64,
}

/// The supervisor's window, when the system has a supervisor.
pub fn supervision_window(sys: &System) -> Option<Window> {
    let supervisor = sys.components.iter().position(|c| c.supervisor)?;
    let s = &sys.components[supervisor];
    let base = HEAP_BASE.saturating_add(s.heap).next_multiple_of(PT_SPAN);
    let mut v = base;
    let mut components = Vec::new();
    for (index, c) in sys.supervised() {
        let elf = v;
        v = v.saturating_add(2 * PAGE_SIZE);
        let mut runs = Vec::new();
        for (vaddr, pages) in [
            (STACK_TOP.saturating_sub(c.stack), c.stack / PAGE_SIZE),
            (IPC_BUFFER, 1),
            (HEAP_BASE, c.heap / PAGE_SIZE),
        ] {
            if pages == 0 {
                continue;
            }
            runs.push(MirrorRun {
                vaddr,
                pages,
                mirror: v,
                pristine: 0,
                executable: false,
                writable: true,
            });
            v = v.saturating_add(pages.saturating_mul(PAGE_SIZE));
        }
        v = v.saturating_add(PAGE_SIZE);
        components.push(StaticMirror {
            component: c.name.clone(),
            index,
            elf,
            runs,
        });
    }
    Some(Window {
        supervisor,
        base,
        components,
        images: v,
    })
}

/// One page of an ELF image: (vaddr, writable, executable, has file data).
pub type ImagePage = (u64, bool, bool, bool);

/// The runs of one supervised component's image pages (in vaddr order)
/// in the supervisor's window from `base`: the pages mirrored packed from
/// `base`, a guard page, the pristine copies of the filled pages packed,
/// a guard page. Returns the runs and where the next component's start.
/// The generated `supervised::image_runs` computes the same from the
/// program headers.
pub fn image_runs(pages: &[ImagePage], base: u64) -> (Vec<MirrorRun>, u64) {
    let n = pages.len() as u64;
    let filled = pages.iter().filter(|p| p.3).count() as u64;
    let pristine_base = base + (n + 1) * PAGE_SIZE;
    let next = pristine_base + (filled + 1) * PAGE_SIZE;
    let mut runs: Vec<MirrorRun> = Vec::new();
    let mut f = 0;
    for (i, &(vaddr, w, x, fill)) in pages.iter().enumerate() {
        let extends = runs.last().is_some_and(|r| {
            r.vaddr + r.pages * PAGE_SIZE == vaddr
                && r.writable == w
                && r.executable == x
                && (r.pristine != 0) == fill
        });
        if extends {
            runs.last_mut().expect("a run").pages += 1;
        } else {
            runs.push(MirrorRun {
                vaddr,
                pages: 1,
                mirror: base + i as u64 * PAGE_SIZE,
                pristine: if fill {
                    pristine_base + f * PAGE_SIZE
                } else {
                    0
                },
                executable: x,
                writable: w,
            });
        }
        if fill {
            f += 1;
        }
    }
    (runs, next)
}

/// Frame rights for shared memory perms.
pub fn perms_rights(perms: Perms) -> CapRights {
    match perms {
        Perms::Read => CapRights::READ,
        Perms::ReadWrite => CapRights::READ_WRITE,
    }
}
