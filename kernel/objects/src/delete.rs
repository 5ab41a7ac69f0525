//! Deleting caps and destroying objects: seL4's `cteDelete`,
//! `cteDeleteOne`, `finaliseCap`, `emptySlot` and `cteRevoke`.
//!
//! When the last cap to an object goes, the object is finalised: queued
//! threads are restarted (endpoint, notification), bound threads unbound,
//! a thread is suspended, an IRQ handler is cleared, an ASID or ASID pool is
//! invalidated (with the TLB entries of its ASIDs). Every unmapping and
//! every freed ASID adds to the entry's TLB invalidation set, so a Revoke
//! or Delete that reaches several address spaces invalidates all of them.
//! CNodes and TCBs hold slots, so their destruction deletes every cap
//! inside them. That is done without recursion: the slot being
//! deleted holds a Zombie cap that counts the object's slots still to
//! empty, and a zombie found inside a dying object's slots continues the
//! chain, so the kernel stack stays flat however deep CNodes nest.
#![forbid(unsafe_code)]

use crate::cap::{Cap, ZombieKind};
use crate::cdt;
use crate::cspace::cnode_slot;
use crate::layout::{ASID_POOL_ENTRY_BYTES, TCB_SLOT_COUNT};
use crate::state::IrqState;
use crate::tcb::tcb_slot;
use crate::Kernel;
use cerne_abi::vm::{ASID_POOL_SIZE, NUM_ASID_POOLS};

/// What finalising a cap leaves to do.
enum Finalised {
    /// The slot can be emptied; then clear this IRQ (if any).
    Done(Option<u16>),
    /// The slot becomes this zombie; its object's slots must be emptied.
    Zombie(Cap),
}

fn zombie_slot_count(kind: ZombieKind) -> u64 {
    match kind {
        ZombieKind::Tcb => TCB_SLOT_COUNT,
        ZombieKind::CNode { radix } => 1u64 << radix,
    }
}

fn zombie_slot(paddr: u64, kind: ZombieKind, i: u64) -> u64 {
    match kind {
        ZombieKind::Tcb => tcb_slot(paddr, i),
        ZombieKind::CNode { .. } => cnode_slot(paddr, i),
    }
}

impl Kernel<'_> {
    /// seL4 `finaliseCap`: side effects of deleting `c`; `fin` says whether
    /// it is the last cap to its object.
    fn finalise_cap(&mut self, c: Cap, fin: bool) -> Finalised {
        match c {
            Cap::Endpoint { paddr, .. } if fin => self.cancel_all_ipc(paddr),
            Cap::Notification { paddr, .. } if fin => {
                self.unbind_maybe_notification(paddr);
                self.cancel_all_signals(paddr);
            }
            Cap::CNode { paddr, radix, .. } if fin => {
                let kind = ZombieKind::CNode { radix };
                return Finalised::Zombie(Cap::Zombie {
                    paddr,
                    kind,
                    remaining: zombie_slot_count(kind),
                });
            }
            Cap::Thread { tcb } if fin => {
                self.unbind_notification(tcb);
                self.suspend(tcb);
                self.thread_list_remove(tcb);
                // seL4's fpuRelease: the registers of a thread that is going
                // away belong to no one (nothing to save), and the TCB's
                // memory may become another object.
                if self.state.fpu_owner == tcb {
                    self.state.fpu_owner = 0;
                }
                return Finalised::Zombie(Cap::Zombie {
                    paddr: tcb,
                    kind: ZombieKind::Tcb,
                    remaining: TCB_SLOT_COUNT,
                });
            }
            Cap::Zombie { .. } => return Finalised::Zombie(c),
            Cap::IrqHandler { irq } if fin => {
                if let Some(s) = self.irq_slot(irq) {
                    self.delete_one(s);
                }
                return Finalised::Done(Some(irq));
            }
            Cap::VSpace {
                paddr,
                asid: Some(asid),
            } if fin => self.delete_asid(asid, paddr),
            Cap::PageTable {
                paddr,
                mapping: Some(m),
            } if fin => self.unmap_page_table(m.asid, m.vaddr, paddr),
            Cap::Frame {
                paddr,
                size,
                mapping: Some(m),
                ..
            } => self.unmap_page(size, m.asid, m.vaddr, paddr),
            Cap::AsidPool { paddr, asid_base } if fin => self.delete_asid_pool(asid_base, paddr),
            _ => {}
        }
        Finalised::Done(None)
    }

    /// Slot of the IRQ node that holds IRQ `irq`'s notification cap.
    pub fn irq_slot(&self, irq: u16) -> Option<u64> {
        (self.state.irq_node != 0 && (irq as usize) < crate::state::NUM_IRQS)
            .then(|| cnode_slot(self.state.irq_node, irq as u64))
    }

    /// seL4 `deleteASID`: forgets `asid` if it still names `vspace`, and
    /// has its TLB entries invalidated: the pool hands the lowest free ASID
    /// out again, and a VSpace assigned it later must not meet translations
    /// of this one.
    pub fn delete_asid(&mut self, asid: u16, vspace: u64) {
        let pool = self.state.asid_table[asid as usize / ASID_POOL_SIZE % NUM_ASID_POOLS];
        if pool != 0 {
            let e = pool + (asid as u64 % ASID_POOL_SIZE as u64) * ASID_POOL_ENTRY_BYTES;
            if self.mem.read_word(e) == vspace {
                self.mem.write_word(e, 0);
                self.flush_asid(asid);
            }
        }
    }

    /// seL4 `deleteASIDPool`: unregisters the pool at `paddr` (ASIDs from
    /// `asid_base`) if it is still registered, invalidating the TLB entries
    /// of every ASID it had assigned (a new pool reuses the same ASIDs).
    fn delete_asid_pool(&mut self, asid_base: u16, paddr: u64) {
        let i = asid_base as usize / ASID_POOL_SIZE % NUM_ASID_POOLS;
        if self.state.asid_table[i] != paddr {
            return;
        }
        for n in 0..ASID_POOL_SIZE as u64 {
            if self.state.tlb_flushes.is_all() {
                break;
            }
            if self.mem.read_word(paddr + n * ASID_POOL_ENTRY_BYTES) != 0 {
                self.flush_asid(asid_base + n as u16);
            }
        }
        self.state.asid_table[i] = 0;
    }

    /// seL4 `emptySlot` + `postCapDeletion`.
    fn empty_slot(&mut self, s: u64, irq: Option<u16>) {
        if !cdt::cap(&self.mem, s).is_null() {
            cdt::unlink_and_clear(&self.mem, s);
            if let Some(irq) = irq {
                self.state.irq_state[irq as usize] = IrqState::Inactive;
            }
        }
    }

    /// seL4 `cteDeleteOne`: deletes a cap whose object holds no slots
    /// (reply caps, notification caps in the IRQ node).
    pub fn delete_one(&mut self, s: u64) {
        let c = cdt::cap(&self.mem, s);
        if c.is_null() {
            return;
        }
        let fin = cdt::is_final(&self.mem, s);
        if let Finalised::Done(irq) = self.finalise_cap(c, fin) {
            self.empty_slot(s, irq);
        }
    }

    /// seL4 `cteDelete(slot, exposed = true)`: deletes the cap in `s`,
    /// destroying its object (and, for CNodes and TCBs, every cap inside)
    /// when it was the last cap.
    pub fn delete_slot(&mut self, s: u64) {
        if !self.delete_step(s) {
            return;
        }
        // `s` now holds a zombie: empty the objects of the zombie chain.
        let mut cur = s;
        loop {
            let Cap::Zombie {
                paddr,
                kind,
                remaining,
            } = cdt::cap(&self.mem, cur)
            else {
                return;
            };
            if remaining == 0 {
                self.empty_slot(cur, None);
                if cur == s {
                    return;
                }
                cur = s;
                continue;
            }
            let e = zombie_slot(paddr, kind, remaining - 1);
            let ec = cdt::cap(&self.mem, e);
            if e == s || ec.is_null() {
                cdt::set_cap(
                    &self.mem,
                    cur,
                    Cap::Zombie {
                        paddr,
                        kind,
                        remaining: remaining - 1,
                    },
                );
                continue;
            }
            if matches!(ec, Cap::Zombie { .. }) || self.delete_step(e) {
                cur = e;
            }
        }
    }

    /// Deletes the cap in `s` unless it is the last cap to a CNode or TCB,
    /// which it turns into a zombie instead (returning true).
    fn delete_step(&mut self, s: u64) -> bool {
        let c = cdt::cap(&self.mem, s);
        if c.is_null() {
            return false;
        }
        let fin = cdt::is_final(&self.mem, s);
        match self.finalise_cap(c, fin) {
            Finalised::Done(irq) => {
                self.empty_slot(s, irq);
                false
            }
            Finalised::Zombie(z) => {
                cdt::set_cap(&self.mem, s, z);
                true
            }
        }
    }

    /// seL4 `cteRevoke`: deletes every derivation-tree descendant of `s`,
    /// stopping at a preemption point if an interrupt is pending (the
    /// remaining descendants are deleted when the thread re-executes).
    pub fn revoke_slot(&mut self, s: u64) {
        loop {
            let next = cdt::mdb(&self.mem, s).next;
            if next == 0
                || cdt::cap(&self.mem, s).is_null()
                || !cdt::is_parent_of(&self.mem, s, next)
            {
                return;
            }
            self.delete_slot(next);
            if self.preemption_point(1) {
                return;
            }
        }
    }
}
