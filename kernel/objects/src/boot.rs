//! Boot-time creation of the root task's objects and caps, at physical
//! addresses the kernel chooses (docs/sel4-abi.md §8.5–8.9). The kernel allocates
//! naturally aligned memory from free RAM, then calls these to turn it into
//! objects, write caps into the root CNode, and configure the first thread.
#![forbid(unsafe_code)]

use crate::cap::{Cap, FrameSize, Mapping};
use crate::cdt;
use crate::cspace::cnode_slot;
use crate::layout::{ASID_POOL_ENTRY_BYTES, TCB_BUFFER, TCB_CTABLE, TCB_VTABLE};
use crate::state::IRQ_NODE_BITS;
use crate::tcb::{self, tcb_slot, ThreadState};
use crate::Kernel;
use cerne_abi::object::{ASID_POOL_BITS, SLOT_BITS, TCB_BITS, VSPACE_BITS};
use cerne_abi::rights::CapRights;
use cerne_abi::vm::{VmRights, ASID_POOL_SIZE, NUM_ASID_POOLS};

impl Cap {
    /// A boot untyped, handed out "full" (free index at its size, §4.3).
    pub fn boot_untyped(paddr: u64, size_bits: u8, is_device: bool) -> Cap {
        Cap::Untyped {
            paddr,
            size_bits,
            is_device,
            free_index: 1u64 << size_bits,
        }
    }

    /// A CNode cap.
    pub fn cnode(paddr: u64, radix: u8, guard: u64, guard_size: u8) -> Cap {
        Cap::CNode {
            paddr,
            radix,
            guard_size,
            guard,
        }
    }

    /// A TCB cap.
    pub fn thread(tcb: u64) -> Cap {
        Cap::Thread { tcb }
    }

    /// A VSpace cap, assigned `asid` (or unassigned with `None`).
    pub fn vspace(paddr: u64, asid: Option<u16>) -> Cap {
        Cap::VSpace { paddr, asid }
    }

    /// A page-table cap, mapped at `asid` + `vaddr` when given.
    pub fn page_table(paddr: u64, mapping: Option<(u16, u64)>) -> Cap {
        Cap::PageTable {
            paddr,
            mapping: mapping.map(|(asid, vaddr)| Mapping { asid, vaddr }),
        }
    }

    /// A frame cap, mapped at `asid` + `vaddr` when given.
    pub fn frame(
        paddr: u64,
        size: FrameSize,
        rights: VmRights,
        is_device: bool,
        mapping: Option<(u16, u64)>,
    ) -> Cap {
        Cap::Frame {
            paddr,
            size,
            rights,
            is_device,
            mapping: mapping.map(|(asid, vaddr)| Mapping { asid, vaddr }),
        }
    }

    /// An ASID-pool cap for the pool covering ASIDs from `asid_base`.
    pub fn asid_pool(paddr: u64, asid_base: u16) -> Cap {
        Cap::AsidPool { paddr, asid_base }
    }

    /// An endpoint cap with all rights.
    pub fn endpoint(paddr: u64, badge: u64) -> Cap {
        Cap::Endpoint {
            paddr,
            badge,
            rights: CapRights::ALL,
        }
    }

    /// A notification cap with Read and Write.
    pub fn notification(paddr: u64, badge: u64) -> Cap {
        Cap::Notification {
            paddr,
            badge,
            rights: CapRights::READ_WRITE,
        }
    }
}

/// How the kernel configures a thread at boot ([`Kernel::boot_configure_tcb`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootThreadConfig {
    /// Slot holding the CSpace root cap (e.g. root CNode slot 2).
    pub cspace_slot: u64,
    /// Slot holding the VSpace cap (slot 3).
    pub vspace_slot: u64,
    /// Virtual address of the IPC buffer.
    pub ipc_buffer_vaddr: u64,
    /// Slot holding the IPC buffer frame cap (slot 10).
    pub buffer_frame_slot: u64,
    /// Priority.
    pub priority: u8,
    /// Maximum controlled priority.
    pub mcp: u8,
}

impl Kernel<'_> {
    /// Zeroes the IRQ node (one slot per IRQ, 2^13 bytes at `paddr`) and
    /// records it. Must run before any IRQ handler is configured.
    pub fn boot_init_irq_node(&mut self, paddr: u64) {
        self.mem.zero(paddr, 1 << IRQ_NODE_BITS);
        self.state.irq_node = paddr;
    }

    /// Makes an empty CNode of 2^radix slots at `paddr` (aligned to its
    /// size) and returns a cap to it with guard 0 of size 64 − radix, as
    /// the root CNode cap of §8.5.
    pub fn boot_create_cnode(&mut self, paddr: u64, radix: u8) -> Cap {
        self.mem.zero(paddr, 1 << (radix as u32 + SLOT_BITS));
        Cap::cnode(paddr, radix, 0, 64 - radix)
    }

    /// Makes a new TCB at `paddr` (2^11 bytes) in the current domain, with
    /// its master reply cap, Inactive.
    pub fn boot_create_tcb(&mut self, paddr: u64) -> Cap {
        self.mem.zero(paddr, 1 << TCB_BITS);
        tcb::init(&self.mem, paddr, self.state.current_domain);
        self.thread_list_add(paddr);
        self.setup_reply_master(paddr);
        Cap::thread(paddr)
    }

    /// Zeroes a VSpace (top-level table) at `paddr`; returns its cap,
    /// unassigned.
    pub fn boot_create_vspace(&mut self, paddr: u64) -> Cap {
        self.mem.zero(paddr, 1 << VSPACE_BITS);
        Cap::vspace(paddr, None)
    }

    /// Zeroes a page table at `paddr`.
    pub fn boot_create_page_table(&mut self, paddr: u64) {
        self.mem
            .zero(paddr, 1 << cerne_abi::object::PAGE_TABLE_BITS);
    }

    /// Zeroes an ASID pool at `paddr` and registers it as pool `index`;
    /// returns its cap.
    pub fn boot_create_asid_pool(&mut self, paddr: u64, index: usize) -> Cap {
        self.mem.zero(paddr, 1 << ASID_POOL_BITS);
        let index = index % NUM_ASID_POOLS;
        self.state.asid_table[index] = paddr;
        Cap::asid_pool(paddr, (index * ASID_POOL_SIZE) as u16)
    }

    /// Records in its pool that `asid` names the VSpace at `vspace`
    /// (ASID 1 for the root task). Returns false if the pool is missing or
    /// the ASID taken.
    pub fn boot_assign_asid(&mut self, asid: u16, vspace: u64) -> bool {
        let pool = self.state.asid_table[asid as usize / ASID_POOL_SIZE % NUM_ASID_POOLS];
        if pool == 0 || asid == 0 {
            return false;
        }
        let entry = pool + (asid as u64 % ASID_POOL_SIZE as u64) * ASID_POOL_ENTRY_BYTES;
        if self.mem.read_word(entry) != 0 {
            return false;
        }
        self.mem.write_word(entry, vspace);
        true
    }

    /// The VSpace registered for `asid`, if any.
    pub fn find_vspace_for_asid(&self, asid: u16) -> Option<u64> {
        let pool = self.state.asid_table[asid as usize / ASID_POOL_SIZE % NUM_ASID_POOLS];
        if pool == 0 {
            return None;
        }
        let v = self
            .mem
            .read_word(pool + (asid as u64 % ASID_POOL_SIZE as u64) * ASID_POOL_ENTRY_BYTES);
        (v != 0).then_some(v)
    }

    /// The address space thread `t` runs in, as seL4's `setVMRoot` finds
    /// it on every return to user mode: (root table, ASID) when its VSpace
    /// slot holds a VSpace cap with an ASID that still names that VSpace
    /// (its pool may be gone), else `None` (it runs on an empty table).
    /// Reads the slot's two words, not a decoded cap.
    pub fn user_vspace(&self, t: u64) -> Option<(u64, u16)> {
        let w = self
            .mem
            .read::<[u64; 2]>(crate::tcb::tcb_slot(t, crate::layout::TCB_VTABLE));
        let (paddr, asid) = crate::cap::raw::vspace_with_asid(w)?;
        (self.find_vspace_for_asid(asid) == Some(paddr)).then_some((paddr, asid))
    }

    /// Address of slot `index` of the CNode at `cnode`.
    pub fn cnode_slot(&self, cnode: u64, index: u64) -> u64 {
        cnode_slot(cnode, index)
    }

    /// Writes `cap` into the empty `slot` as a derivation-tree root.
    pub fn write_root_cap(&mut self, slot: u64, cap: Cap) {
        cdt::insert_root(&self.mem, slot, cap);
    }

    /// Writes `cap` into the empty `slot` as an original child of the cap
    /// in `parent` (e.g. an object carved out of a boot untyped).
    pub fn write_child_cap(&mut self, parent: u64, slot: u64, cap: Cap) {
        cdt::insert_new_child(&self.mem, parent, slot, cap);
    }

    /// The cap in `slot`.
    pub fn slot_cap(&self, slot: u64) -> Cap {
        cdt::cap(&self.mem, slot)
    }

    /// Configures a thread at boot: copies the CSpace root, VSpace root and
    /// IPC-buffer frame caps from the slots in `cfg` into the TCB (derived,
    /// as seL4 does), sets the IPC buffer address, priority and MCP.
    pub fn boot_configure_tcb(&mut self, tcb: u64, cfg: &BootThreadConfig) {
        for (src, idx) in [
            (cfg.cspace_slot, TCB_CTABLE),
            (cfg.vspace_slot, TCB_VTABLE),
            (cfg.buffer_frame_slot, TCB_BUFFER),
        ] {
            let c = cdt::cap(&self.mem, src);
            let derived = crate::cnode::frame_copy(c);
            let dest = tcb_slot(tcb, idx);
            if !derived.is_null() && cdt::cap(&self.mem, dest).is_null() {
                cdt::insert(&self.mem, derived, src, dest);
            }
        }
        tcb::update(&self.mem, tcb, |f| {
            f.ipc_buffer = cfg.ipc_buffer_vaddr;
            f.mcp = cfg.mcp as u64;
        });
        self.set_priority(tcb, cfg.priority as u64);
    }

    /// Makes `tcb` Running and the current thread (the root task at the end
    /// of boot).
    pub fn boot_start_thread(&mut self, tcb: u64) {
        self.set_thread_state(tcb, ThreadState::Running);
        self.set_current_thread(tcb);
    }

    /// Makes `tcb` Running and puts it on its ready queue.
    pub fn boot_ready_thread(&mut self, tcb: u64) {
        self.set_thread_state(tcb, ThreadState::Running);
        self.make_ready(tcb);
    }
}
