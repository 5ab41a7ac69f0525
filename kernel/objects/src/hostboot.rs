//! The kernel's boot sequence (docs/sel4-abi.md §8.5–8.9) on a host arena, for
//! tests and proofs (host only, like `invariants`). It lays out the root
//! task's objects the way the kernel binary does: root CNode, TCB, VSpace
//! with ASID 1 in pool 0, IPC buffer and BootInfo frames, page tables, a
//! user image frame, the IRQ node, and the remaining memory as boot
//! untypeds, then starts the root thread.
#![forbid(unsafe_code)]

use crate::boot::BootThreadConfig;
use crate::cap::{Cap, FrameSize};
use crate::cspace::cnode_slot;
use crate::Kernel;
use cerne_abi::slots::*;
use cerne_abi::vm::{VmRights, INIT_THREAD_ASID};
use std::vec::Vec;

/// Physical base of the simulated RAM.
pub const ARENA_BASE: u64 = 0x4000_0000;
/// Virtual address of the root task's image.
pub const IMAGE_VADDR: u64 = 0x40_0000;

/// Where boot put things.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootLayout {
    /// Root CNode object.
    pub root_cnode: u64,
    /// log2 of its slot count.
    pub radix: u8,
    /// Root TCB.
    pub tcb: u64,
    /// Root VSpace.
    pub vspace: u64,
    /// IPC buffer frame and its vaddr.
    pub ipc_buffer: (u64, u64),
    /// BootInfo frame and its vaddr.
    pub bootinfo: (u64, u64),
    /// Slots holding boot untypeds, with (paddr, size_bits).
    pub untypeds: Vec<(u64, u64, u8)>,
    /// First empty slot.
    pub first_free_slot: u64,
}

struct Bump {
    next: u64,
    end: u64,
}

impl Bump {
    fn take(&mut self, bits: u32) -> u64 {
        let p = self.next.next_multiple_of(1 << bits);
        self.next = p + (1 << bits);
        assert!(self.next <= self.end, "arena too small for boot");
        p
    }
}

/// Boots the root task in `k` (whose memory covers `ARENA_BASE ..
/// ARENA_BASE + size`) with a root CNode of 2^`radix` slots. Untypeds are
/// carved from what is left, largest aligned blocks first, at most
/// `max_untyped_bits` each.
pub fn boot(k: &mut Kernel<'_>, radix: u8, max_untyped_bits: u32) -> BootLayout {
    let mut bump = Bump {
        next: k.mem.phys_base(),
        end: k.mem.phys_end(),
    };
    let root_cnode = bump.take(radix as u32 + 5);
    let irq_node = bump.take(crate::state::IRQ_NODE_BITS);
    let vspace = bump.take(12);
    let pt1 = bump.take(12);
    let pt2 = bump.take(12);
    let pt3 = bump.take(12);
    let pool = bump.take(12);
    let image = bump.take(12);
    let ipc = bump.take(12);
    let bi = bump.take(12);
    let tcb = bump.take(11);

    k.boot_init_irq_node(irq_node);
    let cnode_cap = k.boot_create_cnode(root_cnode, radix);
    let slot = |i: usize| cnode_slot(root_cnode, i as u64);
    k.write_root_cap(slot(CAP_INIT_THREAD_CNODE), cnode_cap);
    let tcb_cap = k.boot_create_tcb(tcb);
    k.write_root_cap(slot(CAP_INIT_THREAD_TCB), tcb_cap);
    let pool_cap = k.boot_create_asid_pool(pool, 0);
    k.boot_create_vspace(vspace);
    assert!(k.boot_assign_asid(INIT_THREAD_ASID, vspace));
    k.write_root_cap(
        slot(CAP_INIT_THREAD_VSPACE),
        Cap::vspace(vspace, Some(INIT_THREAD_ASID)),
    );
    k.write_root_cap(slot(CAP_IRQ_CONTROL), Cap::IrqControl);
    k.write_root_cap(slot(CAP_ASID_CONTROL), Cap::AsidControl);
    k.write_root_cap(slot(CAP_INIT_THREAD_ASID_POOL), pool_cap);
    let ipc_vaddr = IMAGE_VADDR + 0x1000;
    let bi_vaddr = ipc_vaddr + 0x1000;
    let mapped = |p, v| {
        Cap::frame(
            p,
            FrameSize::Small,
            VmRights::ReadWrite,
            false,
            Some((INIT_THREAD_ASID, v)),
        )
    };
    k.write_root_cap(slot(CAP_BOOT_INFO_FRAME), mapped(bi, bi_vaddr));
    k.write_root_cap(slot(CAP_INIT_THREAD_IPC_BUFFER), mapped(ipc, ipc_vaddr));
    k.write_root_cap(slot(CAP_DOMAIN), Cap::Domain);
    let mut next = NUM_INITIAL_CAPS as u64;
    // Paging structures of the image (the kernel's arch code fills them).
    for (pt, v) in [(pt1, 0), (pt2, 0), (pt3, IMAGE_VADDR)] {
        k.boot_create_page_table(pt);
        k.write_root_cap(
            cnode_slot(root_cnode, next),
            Cap::page_table(pt, Some((INIT_THREAD_ASID, v))),
        );
        next += 1;
    }
    k.mem.zero(image, 1 << 12);
    k.write_root_cap(cnode_slot(root_cnode, next), mapped(image, IMAGE_VADDR));
    next += 1;
    // The rest of RAM as boot untypeds, handed out full.
    let mut untypeds = Vec::new();
    let mut p = bump.next.next_multiple_of(16);
    while p < bump.end && next < (1u64 << radix) {
        let mut bits = max_untyped_bits.min(p.trailing_zeros());
        while bits >= 4 && p + (1u64 << bits) > bump.end {
            bits -= 1;
        }
        if bits < 4 {
            break;
        }
        let s = cnode_slot(root_cnode, next);
        k.write_root_cap(s, Cap::boot_untyped(p, bits as u8, false));
        untypeds.push((s, p, bits as u8));
        next += 1;
        p += 1 << bits;
    }
    let cfg = BootThreadConfig {
        cspace_slot: slot(CAP_INIT_THREAD_CNODE),
        vspace_slot: slot(CAP_INIT_THREAD_VSPACE),
        ipc_buffer_vaddr: ipc_vaddr,
        buffer_frame_slot: slot(CAP_INIT_THREAD_IPC_BUFFER),
        priority: 255,
        mcp: 255,
    };
    k.boot_configure_tcb(tcb, &cfg);
    k.set_thread_name(tcb, b"rootserver");
    {
        let ctx = k.user_context_mut(tcb);
        ctx.elr_el1 = IMAGE_VADDR;
        ctx.x[0] = bi_vaddr;
    }
    k.boot_start_thread(tcb);
    BootLayout {
        root_cnode,
        radix,
        tcb,
        vspace,
        ipc_buffer: (ipc, ipc_vaddr),
        bootinfo: (bi, bi_vaddr),
        untypeds,
        first_free_slot: next,
    }
}

/// Every slot of the root CNode (roots for the invariant checker).
pub fn root_slots(l: &BootLayout) -> Vec<u64> {
    (0..1u64 << l.radix)
        .map(|i| cnode_slot(l.root_cnode, i))
        .collect()
}
