//! The kernel's answers to DebugDumpScheduler, DebugSnapshot and
//! BenchmarkDumpAllThreadsUtilisation: the scheduler's view of the
//! threads, a capDL description of everything reachable from the calling
//! thread's CSpace, and the CPU-time counters of the threads it reaches,
//! printed on the console.
//!
//! The kernel keeps no list of all objects (seL4 debug builds keep one of
//! TCBs), so both start from what is reachable: the current thread, the ready
//! queues, and the caps of the calling thread's CSpace followed into nested
//! CNodes and into the CSpaces of the threads found there.

use crate::{kprint, kprintln};
use cerne_abi::vm::{VmRights, ASID_POOL_INDEX_BITS as ASID_LOW_BITS};
use cerne_objects::cap::{Cap, FrameSize};
use cerne_objects::cspace::cnode_slot;
use cerne_objects::layout::{TCB_CTABLE, TCB_VTABLE};
use cerne_objects::state::NUM_PRIORITIES;
use cerne_objects::{Kernel, ThreadState};

/// A slot number as capDL writes it (hex), without a heap.
struct HexSlot(u64);

impl HexSlot {
    fn to_str(&self) -> HexBuf {
        let mut b = HexBuf {
            bytes: [0; 18],
            len: 0,
        };
        let _ = core::fmt::write(&mut b, format_args!("{:#x}", self.0));
        b
    }
}

/// Up to 18 bytes of text.
struct HexBuf {
    bytes: [u8; 18],
    len: usize,
}

impl core::fmt::Write for HexBuf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(core::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl core::ops::Deref for HexBuf {
    type Target = str;
    fn deref(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("?")
    }
}

/// Most CNodes a snapshot walks (more are reported as left out).
const MAX_CNODES: usize = 128;
/// Most distinct objects a snapshot lists.
const MAX_OBJECTS: usize = 2048;

/// A snapshot's bookkeeping: too big for the kernel stack, so static.
struct Scratch {
    cnodes: [(u64, u8); MAX_CNODES],
    listed: [(u64, &'static str); MAX_OBJECTS],
}

static SCRATCH: spin::Mutex<Scratch> = spin::Mutex::new(Scratch {
    cnodes: [(0, 0); MAX_CNODES],
    listed: [(0, ""); MAX_OBJECTS],
});

fn print_thread(k: &Kernel<'_>, t: u64, what: &str) {
    let mut name = [0u8; 64];
    let n = k.thread_name(t, &mut name);
    let f = k.tcb_fields(t);
    kprintln!(
        "    {what} tcb {t:#x} '{}' prio {} mcp {} state {:?}",
        core::str::from_utf8(&name[..n]).unwrap_or("?"),
        f.priority,
        f.mcp,
        ThreadState::from_code(f.state)
    );
}

/// DebugDumpScheduler: the current thread, then every ready queue from the
/// highest priority down.
pub fn dump_scheduler(k: &Kernel<'_>) {
    kprintln!("[cerne] scheduler (domain {}):", k.state.current_domain);
    match k.current_thread() {
        Some(t) => print_thread(k, t, "current"),
        None => kprintln!("    current: idle"),
    }
    for p in (0..NUM_PRIORITIES).rev() {
        let mut t = k.state.ready_head[p];
        let mut seen = 0;
        while t != 0 && seen < 4096 {
            print_thread(k, t, "ready  ");
            t = k.tcb_fields(t).sched_next;
            seen += 1;
        }
    }
}

/// One thread's line of a utilisation dump.
fn print_utilisation(k: &Kernel<'_>, t: u64) {
    let mut name = [0u8; 64];
    let n = k.thread_name(t, &mut name);
    let c = k.utilisation_counters(t);
    kprintln!(
        "    tcb {t:#x} '{}': time {} schedules {} kernel time {} kernel entries {}",
        core::str::from_utf8(&name[..n]).unwrap_or("?"),
        c.cpu_time,
        c.schedules,
        c.kernel_time,
        c.kernel_entries
    );
}

/// BenchmarkDumpAllThreadsUtilisation: the period's totals, the idle
/// thread, and every thread whose TCB cap `caller`'s CSpace reaches (seL4
/// walks its list of all TCBs, which Cerne does not keep), in counter
/// ticks.
pub fn dump_utilisation(k: &Kernel<'_>, caller: u64) {
    use cerne_abi::benchmark::*;
    let mut scratch = SCRATCH.lock();
    let Scratch { cnodes, listed } = &mut *scratch;
    let (n, truncated) = reachable_cnodes(k, k.cspace_root(caller), cnodes);
    let w = k.utilisation_words(caller);
    kprintln!(
        "[cerne] utilisation (counter ticks): total {} schedules {} kernel time {} kernel entries {}",
        w[TOTAL_UTILISATION],
        w[TOTAL_NUMBER_SCHEDULES],
        w[TOTAL_KERNEL_UTILISATION],
        w[TOTAL_NUMBER_KERNEL_ENTRIES]
    );
    kprintln!(
        "    idle: time {} schedules {} kernel time {} kernel entries {}",
        w[IDLE_LOCALCPU_UTILISATION],
        w[IDLE_NUMBER_SCHEDULES],
        w[IDLE_KERNEL_UTILISATION],
        w[IDLE_NUMBER_KERNEL_ENTRIES]
    );
    let mut n_listed = 0;
    for &(paddr, radix) in &cnodes[..n] {
        for s in 0..1u64 << radix {
            let Cap::Thread { tcb } = k.slot_cap(cnode_slot(paddr, s)) else {
                continue;
            };
            if listed[..n_listed].contains(&(tcb, "tcb")) || n_listed == MAX_OBJECTS {
                continue;
            }
            listed[n_listed] = (tcb, "tcb");
            n_listed += 1;
            print_utilisation(k, tcb);
        }
    }
    if truncated {
        kprintln!("-- cut short: more than {MAX_CNODES} CNodes");
    }
}

/// The capDL name of an object: its kind and physical address.
fn object_name(cap: &Cap) -> Option<(&'static str, u64)> {
    Some(match *cap {
        Cap::Untyped { paddr, .. } => ("ut", paddr),
        Cap::Endpoint { paddr, .. } => ("ep", paddr),
        Cap::Notification { paddr, .. } => ("notification", paddr),
        Cap::CNode { paddr, .. } => ("cnode", paddr),
        Cap::Thread { tcb } => ("tcb", tcb),
        Cap::Frame { paddr, .. } => ("frame", paddr),
        Cap::PageTable { paddr, .. } => ("pt", paddr),
        Cap::VSpace { paddr, .. } => ("pgd", paddr),
        Cap::AsidPool { paddr, .. } => ("asid_pool", paddr),
        Cap::IrqHandler { irq } => ("irq", u64::from(irq)),
        _ => return None,
    })
}

fn frame_size_name(size: FrameSize) -> &'static str {
    match size {
        FrameSize::Small => "4k",
        FrameSize::Large => "2M",
        FrameSize::Huge => "1G",
    }
}

/// The capDL type of a page table: its level found by walking the VSpace
/// its mapping names (`pt` when unmapped or not found).
fn page_table_kind(k: &Kernel<'_>, cap: &Cap) -> &'static str {
    const NAMES: [&str; 4] = ["pgd", "pud", "pd", "pt"];
    let Cap::PageTable {
        paddr,
        mapping: Some(m),
    } = *cap
    else {
        return "pt";
    };
    let Some(mut table) = k.find_vspace_for_asid(m.asid) else {
        return "pt";
    };
    for level in 0..3usize {
        let shift = 39 - 9 * level as u64;
        let entry = k.mem.read_word(table + 8 * ((m.vaddr >> shift) & 511));
        if entry & 0b11 != 0b11 {
            return "pt";
        }
        table = entry & 0x0000_ffff_ffff_f000;
        if table == paddr {
            return NAMES[level + 1];
        }
    }
    "pt"
}

/// The object declaration of the object `cap` names.
fn print_object(k: &Kernel<'_>, cap: &Cap) {
    let Some((kind, addr)) = object_name(cap) else {
        return;
    };
    kprint!("  {kind}_{addr:x} = ");
    match *cap {
        Cap::Untyped {
            paddr,
            size_bits,
            is_device,
            ..
        } => {
            kprintln!(
                "ut ({size_bits} bits, paddr: {paddr:#x}){}",
                if is_device { " -- device" } else { "" }
            )
        }
        Cap::Endpoint { .. } => kprintln!("ep"),
        Cap::Notification { .. } => kprintln!("notification"),
        Cap::CNode { radix, .. } => kprintln!("cnode ({radix} bits)"),
        Cap::Thread { .. } => kprintln!("tcb"),
        Cap::Frame { paddr, size, .. } => {
            kprintln!("frame ({}, paddr: {paddr:#x})", frame_size_name(size))
        }
        Cap::PageTable { .. } => kprintln!("{}", page_table_kind(k, cap)),
        Cap::VSpace { .. } => kprintln!("pgd"),
        Cap::AsidPool { asid_base, .. } => {
            kprintln!("asid_pool (asid_high: {})", asid_base >> ASID_LOW_BITS)
        }
        Cap::IrqHandler { .. } => kprintln!("irq"),
        _ => kprintln!("-- ?"),
    }
}

/// Rights as capDL letters (R, W, G, P = GrantReply).
fn print_rights(read: bool, write: bool, grant: bool, grant_reply: bool) {
    for (has, letter) in [(read, "R"), (write, "W"), (grant, "G"), (grant_reply, "P")] {
        if has {
            kprint!("{letter}");
        }
    }
}

/// A cap in capDL syntax: object name, then rights, badge, guard or ASID;
/// mappings, which capDL gives as table slots, follow as a comment.
fn print_cap(slot: &str, cap: &Cap) {
    kprint!("    {slot}: ");
    match object_name(cap) {
        Some((kind, addr)) => kprint!("{kind}_{addr:x}"),
        None => match cap {
            Cap::IrqControl => kprint!("irq_control"),
            Cap::AsidControl => kprint!("asid_control"),
            Cap::Domain => kprint!("domain"),
            Cap::Reply { tcb, .. } => kprint!("tcb_{tcb:x} (reply)"),
            other => kprint!("-- {other:?}"),
        },
    }
    match *cap {
        Cap::Endpoint { badge, rights, .. } | Cap::Notification { badge, rights, .. } => {
            kprint!(" (");
            print_rights(
                rights.read(),
                rights.write(),
                rights.grant(),
                rights.grant_reply(),
            );
            if badge != 0 {
                kprint!(", badge: {badge}");
            }
            kprint!(")");
        }
        Cap::CNode {
            guard, guard_size, ..
        } => kprint!(" (guard: {guard}, guard_size: {guard_size})"),
        Cap::Frame {
            rights, mapping, ..
        } => {
            kprint!(" (");
            match rights {
                VmRights::ReadWrite => print_rights(true, true, false, false),
                VmRights::ReadOnly => print_rights(true, false, false, false),
                VmRights::KernelOnly => {}
            }
            kprint!(")");
            if let Some(m) = mapping {
                kprint!(" -- mapped at ASID {} vaddr {:#x}", m.asid, m.vaddr);
            }
        }
        Cap::PageTable {
            mapping: Some(m), ..
        } => kprint!(" -- mapped at ASID {} vaddr {:#x}", m.asid, m.vaddr),
        Cap::VSpace {
            asid: Some(asid), ..
        } => {
            kprint!(
                " (asid: ({}, {}))",
                asid >> ASID_LOW_BITS,
                asid & ((1 << ASID_LOW_BITS) - 1)
            )
        }
        _ => {}
    }
    kprintln!();
}

/// The CNodes reachable from `root`: nested CNode caps and the CSpace roots
/// of the threads found, breadth first.
fn reachable_cnodes(k: &Kernel<'_>, root: Cap, out: &mut [(u64, u8); MAX_CNODES]) -> (usize, bool) {
    let mut n = 0;
    let mut truncated = false;
    let mut push = |c: Cap, out: &mut [(u64, u8); MAX_CNODES], n: &mut usize| {
        if let Cap::CNode { paddr, radix, .. } = c {
            if out[..*n].iter().any(|(p, _)| *p == paddr) {
                return;
            }
            if *n == MAX_CNODES {
                truncated = true;
                return;
            }
            out[*n] = (paddr, radix);
            *n += 1;
        }
    };
    push(root, out, &mut n);
    let mut i = 0;
    while i < n {
        let (paddr, radix) = out[i];
        for s in 0..1u64 << radix {
            match k.slot_cap(cnode_slot(paddr, s)) {
                c @ Cap::CNode { .. } => push(c, out, &mut n),
                Cap::Thread { tcb } => push(k.tcb_cap(tcb, TCB_CTABLE), out, &mut n),
                _ => {}
            }
        }
        i += 1;
    }
    (n, truncated)
}

/// DebugSnapshot: a capDL description of what `caller`'s CSpace reaches.
pub fn snapshot(k: &Kernel<'_>, caller: u64) {
    let mut scratch = SCRATCH.lock();
    let Scratch { cnodes, listed } = &mut *scratch;
    let (n, truncated) = reachable_cnodes(k, k.cspace_root(caller), cnodes);
    kprintln!("[cerne] DebugSnapshot: capDL of the CSpace of tcb_{caller:x}");
    kprintln!("arch aarch64");
    kprintln!();
    kprintln!("objects {{");
    let mut n_listed = 0;
    let mut more = false;
    for &(paddr, radix) in &cnodes[..n] {
        for s in 0..1u64 << radix {
            let cap = k.slot_cap(cnode_slot(paddr, s));
            let Some((kind, addr)) = object_name(&cap) else {
                continue;
            };
            if listed[..n_listed].contains(&(addr, kind)) {
                continue;
            }
            if n_listed == MAX_OBJECTS {
                more = true;
                continue;
            }
            listed[n_listed] = (addr, kind);
            n_listed += 1;
            print_object(k, &cap);
        }
    }
    kprintln!("}}");
    kprintln!("caps {{");
    for &(paddr, radix) in &cnodes[..n] {
        kprintln!("  cnode_{paddr:x} {{");
        for s in 0..1u64 << radix {
            let cap = k.slot_cap(cnode_slot(paddr, s));
            if !cap.is_null() {
                print_cap(&HexSlot(s).to_str(), &cap);
            }
        }
        kprintln!("  }}");
    }
    for &(addr, kind) in &listed[..n_listed] {
        if kind == "tcb" {
            kprintln!("  tcb_{addr:x} {{");
            for (slot, which) in [("cspace", TCB_CTABLE), ("vspace", TCB_VTABLE)] {
                let cap = k.tcb_cap(addr, which);
                if !cap.is_null() {
                    print_cap(slot, &cap);
                }
            }
            kprintln!("  }}");
        }
    }
    kprintln!("}}");
    kprintln!("irq maps {{");
    for &(addr, kind) in &listed[..n_listed] {
        if kind == "irq" {
            kprintln!("  {addr}: irq_{addr:x}");
        }
    }
    kprintln!("}}");
    if truncated || more {
        kprintln!(
            "-- the snapshot was cut short: more than {MAX_CNODES} CNodes or {MAX_OBJECTS} objects"
        );
    }
    kprintln!("[cerne] DebugSnapshot: {n_listed} objects in {n} CNodes");
}
