//! The kernel's answers to DebugDumpScheduler and DebugSnapshot: the
//! scheduler's view of the threads, and a capDL description of everything
//! reachable from the calling thread's CSpace, printed on the console.
//!
//! The kernel keeps no list of all objects (seL4 debug builds keep one of
//! TCBs), so both start from what is reachable: the current thread, the ready
//! queues, and the caps of the calling thread's CSpace followed into nested
//! CNodes and into the CSpaces of the threads found there.

use crate::{kprint, kprintln};
use cerne_objects::cap::{Cap, FrameSize};
use cerne_objects::cspace::cnode_slot;
use cerne_objects::layout::{TCB_CTABLE, TCB_VTABLE};
use cerne_objects::state::NUM_PRIORITIES;
use cerne_objects::{Kernel, ThreadState};

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

/// The object declaration of the object `cap` names.
fn print_object(cap: &Cap) {
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
                "ut ({size_bits} bits, paddr: {paddr:#x}{})",
                if is_device { ", device" } else { "" }
            )
        }
        Cap::Endpoint { .. } => kprintln!("ep"),
        Cap::Notification { .. } => kprintln!("notification"),
        Cap::CNode { radix, .. } => kprintln!("cnode ({radix} bits)"),
        Cap::Thread { .. } => kprintln!("tcb"),
        Cap::Frame { paddr, size, .. } => {
            kprintln!("frame ({}, paddr: {paddr:#x})", frame_size_name(size))
        }
        Cap::PageTable { .. } => kprintln!("pt"),
        Cap::VSpace { .. } => kprintln!("pgd"),
        Cap::AsidPool { .. } => kprintln!("asid_pool"),
        Cap::IrqHandler { .. } => kprintln!("irq"),
        _ => kprintln!("?"),
    }
}

/// A cap in capDL syntax: object name, then rights, badge, guard or mapping.
fn print_cap(slot: u64, cap: &Cap) {
    kprint!("    {slot:#x}: ");
    match object_name(cap) {
        Some((kind, addr)) => kprint!("{kind}_{addr:x}"),
        None => match cap {
            Cap::IrqControl => kprint!("irq_control"),
            Cap::AsidControl => kprint!("asid_control"),
            Cap::Domain => kprint!("domain"),
            Cap::Reply { tcb, .. } => kprint!("reply (tcb_{tcb:x})"),
            other => kprint!("{other:?}"),
        },
    }
    match *cap {
        Cap::Endpoint { badge, rights, .. } | Cap::Notification { badge, rights, .. } => {
            kprint!(" (");
            for (has, letter) in [
                (rights.read(), "R"),
                (rights.write(), "W"),
                (rights.grant(), "G"),
                (rights.grant_reply(), "P"),
            ] {
                if has {
                    kprint!("{letter}");
                }
            }
            if badge != 0 {
                kprint!(", badge: {badge}");
            }
            kprint!(")");
        }
        Cap::CNode {
            guard, guard_size, ..
        } => kprint!(" (guard: {guard}, guard_size: {guard_size})"),
        Cap::Frame {
            rights,
            mapping: Some(m),
            ..
        } => {
            kprint!(
                " ({rights:?}, mapped at asid {} vaddr {:#x})",
                m.asid,
                m.vaddr
            )
        }
        Cap::PageTable {
            mapping: Some(m), ..
        } => kprint!(" (mapped at asid {} vaddr {:#x})", m.asid, m.vaddr),
        Cap::VSpace {
            asid: Some(asid), ..
        } => kprint!(" (asid: {asid})"),
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
            print_object(&cap);
        }
    }
    kprintln!("}}");
    kprintln!("caps {{");
    for &(paddr, radix) in &cnodes[..n] {
        kprintln!("  cnode_{paddr:x} {{");
        for s in 0..1u64 << radix {
            let cap = k.slot_cap(cnode_slot(paddr, s));
            if !cap.is_null() {
                print_cap(s, &cap);
            }
        }
        kprintln!("  }}");
    }
    for &(addr, kind) in &listed[..n_listed] {
        if kind == "tcb" {
            kprintln!("  tcb_{addr:x} {{");
            for (slot, which) in [(0, TCB_CTABLE), (1, TCB_VTABLE)] {
                let cap = k.tcb_cap(addr, which);
                if !cap.is_null() {
                    print_cap(slot, &cap);
                }
            }
            kprintln!("  }}");
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
