//! The root task's side of the victim's world: the memory it carves at
//! start, the objects of each epoch (victim and partner TCBs, their CNode
//! and the caps in it, all from one arena untyped), the restart that puts
//! a thread back on its feet, and the teardown that revokes the arena.

use crate::layout;
use crate::partner;
use crate::victim;
use cerne_abi::bootinfo::BootInfo;
use cerne_abi::fault::USER_CONTEXT_WORDS;
use cerne_abi::object::ObjectType;
use cerne_abi::rights::CapRights;
use cerne_abi::slots::{
    CAP_ASID_CONTROL, CAP_INIT_THREAD_ASID_POOL, CAP_INIT_THREAD_CNODE, CAP_INIT_THREAD_TCB,
    CAP_INIT_THREAD_VSPACE,
};
use cerne_abi::Word;
use core::sync::atomic::Ordering::SeqCst;
use libcerne::println;
use libcerne::sel4::*;

/// Depth of a full cptr in the root CNode.
pub const FULL_DEPTH: u8 = 64;
/// Depth of a slot index in the victim's CNode through the root task's
/// (guardless) cap to it.
pub const VICTIM_DEPTH: u8 = layout::CNODE_BITS as u8;
/// log2 of the arena the victim's objects come from, and of the root
/// task's private untyped.
const ARENA_BITS: Word = 20;
const PAGE_SIZE: Word = 4096;

/// Prints why the run cannot go on and halts: the check then misses the
/// final line and fails.
pub fn fatal(what: &str, e: &dyn core::fmt::Debug) -> ! {
    println!("\n[syscall-fuzz] FAIL: {what}: {e:?}");
    libcerne::sel4::syscall::debug_halt()
}

/// Unwraps the result of a root-task invocation that must succeed.
pub fn must<T>(what: &str, r: Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => fatal(what, &e),
    }
}

/// The root CNode.
pub fn root_cnode() -> Cap<CNode> {
    Cap::from_cptr(CAP_INIT_THREAD_CNODE as Word)
}

/// The root task's TCB (MCP 255).
pub fn root_tcb() -> Cap<Tcb> {
    Cap::from_cptr(CAP_INIT_THREAD_TCB as Word)
}

unsafe extern "C" {
    fn _start();
}

/// The frame cap (in BootInfo's userImageFrames) of the image page at
/// `vaddr`.
pub fn image_frame(bi: &BootInfo, vaddr: Word) -> Cap<Frame> {
    let image_base = (_start as *const () as Word) & !(PAGE_SIZE - 1);
    Cap::from_cptr(bi.user_image_frames.start + (vaddr - image_base) / PAGE_SIZE)
}

/// What the root task keeps for the whole run.
pub struct Root {
    /// BootInfo.
    pub bi: &'static BootInfo,
    /// Next free slot of the root CNode.
    next_slot: Word,
    /// The untyped every epoch's objects come from (revoked after each).
    pub arena: Cap<Untyped>,
    /// Its physical address.
    pub arena_paddr: Word,
    /// An untyped for the root task's own objects.
    pub private: Cap<Untyped>,
    /// The endpoint the victim's faults arrive on (all rights).
    pub fault_ep: Cap<Endpoint>,
    /// An empty slot the audit moves the victim's caps through.
    pub scratch: Word,
    /// First of the slots an epoch's objects take.
    epoch_base: Word,
    /// Whether the kernel could make the victim an ASID pool last time.
    pub pools: bool,
    /// A device untyped the victim gets a copy of each epoch (revoked
    /// after), and the physical range it covers.
    pub device: Cap<Untyped>,
    /// The physical range of [`Root::device`].
    pub device_range: (Word, Word),
}

/// Slots of an epoch's objects, relative to `epoch_base`.
mod slot {
    pub const TCB: u64 = 0;
    pub const CNODE: u64 = 1;
    pub const VSPACE: u64 = 2;
    pub const ENDPOINT: u64 = 3;
    pub const NOTIFICATION: u64 = 4;
    pub const FRAME: u64 = 5;
    pub const UNTYPED: u64 = 6;
    pub const POOL_UNTYPED: u64 = 7;
    pub const POOL: u64 = 8;
    pub const PARTNER: u64 = 9;
    pub const COUNT: u64 = 10;
}

/// How a thread of the victim's CSpace starts.
struct Thread {
    fault_ep: Word,
    badge: Word,
    entry: Word,
    stack_top: Word,
    buffer: Word,
    priority: Word,
}

/// One epoch's objects, as the root task holds them.
pub struct World {
    /// The victim's TCB.
    pub tcb: Cap<Tcb>,
    /// The partner's TCB.
    pub partner: Cap<Tcb>,
    /// The victim's CNode (no guard; index it at depth [`VICTIM_DEPTH`]).
    pub cnode: Cap<CNode>,
    /// The physical address of the victim's frame.
    pub frame_paddr: Word,
    /// The physical range of the victim's untyped.
    pub untyped_range: (Word, Word),
    /// The physical range of its device untyped.
    pub device_range: (Word, Word),
}

impl Root {
    /// Carves the arena and the private untyped out of a RAM untyped and
    /// makes the fault endpoint.
    pub fn new(bi: &'static BootInfo) -> Self {
        let mut next_slot = bi.empty.start;
        let list = libcerne::bootinfo::untypeds(bi);
        let Some(index) = list
            .iter()
            .position(|u| u.is_device == 0 && Word::from(u.size_bits) >= ARENA_BITS + 2)
        else {
            fatal("no RAM untyped of 4 MiB", &list.len())
        };
        let ram = Cap::<Untyped>::from_cptr(bi.untyped.start + index as Word);
        let arena = next_slot;
        next_slot += 2;
        must(
            "retype the arena and private untypeds",
            ram.retype(
                ObjectType::Untyped,
                ARENA_BITS,
                root_cnode(),
                0,
                0,
                arena,
                2,
            ),
        );
        let fault_ep = next_slot;
        let scratch = next_slot + 1;
        next_slot += 2;
        let private = Cap::<Untyped>::from_cptr(arena + 1);
        must(
            "retype the fault endpoint",
            private.retype(ObjectType::Endpoint, 0, root_cnode(), 0, 0, fault_ep, 1),
        );
        // The device untyped: 64 KiB at the start of the highest device
        // untyped, far from every device QEMU's virt board has.
        let Some((dev_index, dev)) = list
            .iter()
            .enumerate()
            .filter(|(_, u)| u.is_device != 0 && Word::from(u.size_bits) >= layout::UNTYPED_BITS)
            .max_by_key(|(_, u)| u.paddr)
        else {
            fatal("no device untyped of 64 KiB", &list.len())
        };
        let device = next_slot;
        next_slot += 1;
        must(
            "retype the device untyped",
            Cap::<Untyped>::from_cptr(bi.untyped.start + dev_index as Word).retype(
                ObjectType::Untyped,
                layout::UNTYPED_BITS,
                root_cnode(),
                0,
                0,
                device,
                1,
            ),
        );
        let epoch_base = next_slot;
        next_slot += slot::COUNT;
        let mut root = Root {
            bi,
            next_slot,
            arena: Cap::from_cptr(arena),
            arena_paddr: 0,
            private,
            fault_ep: Cap::from_cptr(fault_ep),
            scratch,
            epoch_base,
            pools: true,
            device: Cap::from_cptr(device),
            device_range: (dev.paddr, dev.paddr + (1 << layout::UNTYPED_BITS)),
        };
        // The arena's address: a frame retyped first from it sits at its
        // start.
        let probe = root.epoch_slot(slot::FRAME);
        must(
            "retype a probe frame",
            root.arena
                .retype(ObjectType::SmallPage, 0, root_cnode(), 0, 0, probe, 1),
        );
        root.arena_paddr = must(
            "GetAddress of the probe frame",
            Cap::<Frame>::from_cptr(probe).get_address(),
        );
        root.teardown();
        root
    }

    /// Hands out `n` consecutive free slots of the root CNode.
    pub fn take_slots(&mut self, n: Word) -> Word {
        let s = self.next_slot;
        if s + n > self.bi.empty.end {
            fatal("out of root CNode slots", &s);
        }
        self.next_slot += n;
        s
    }

    /// One past the last slot the root task has used.
    pub fn used_end(&self) -> Word {
        self.next_slot
    }

    fn epoch_slot(&self, s: Word) -> Word {
        self.epoch_base + s
    }

    fn retype(&self, t: ObjectType, bits: Word, s: Word) {
        must(
            "retype an epoch object",
            self.arena
                .retype(t, bits, root_cnode(), 0, 0, self.epoch_slot(s), 1),
        );
    }

    /// Makes a new epoch's objects and caps; [`Root::restart`] starts the
    /// victim.
    pub fn setup(&mut self) -> World {
        // The untyped first, so that it sits at the start of the arena.
        self.retype(ObjectType::Untyped, layout::UNTYPED_BITS, slot::UNTYPED);
        self.retype(ObjectType::Tcb, 0, slot::TCB);
        self.retype(ObjectType::Tcb, 0, slot::PARTNER);
        self.retype(ObjectType::CapTable, layout::CNODE_BITS, slot::CNODE);
        self.retype(ObjectType::VSpace, 0, slot::VSPACE);
        self.retype(ObjectType::Endpoint, 0, slot::ENDPOINT);
        self.retype(ObjectType::Notification, 0, slot::NOTIFICATION);
        self.retype(ObjectType::SmallPage, 0, slot::FRAME);
        self.retype(ObjectType::Untyped, 12, slot::POOL_UNTYPED);
        let cnode = Cap::<CNode>::from_cptr(self.epoch_slot(slot::CNODE));
        let tcb = Cap::<Tcb>::from_cptr(self.epoch_slot(slot::TCB));
        let vspace = Cap::<VSpace>::from_cptr(self.epoch_slot(slot::VSPACE));
        let frame = Cap::<Frame>::from_cptr(self.epoch_slot(slot::FRAME));

        let pool = Cap::<AsidPool>::from_cptr(self.epoch_slot(slot::POOL));
        let made_pool = Cap::<AsidControl>::from_cptr(CAP_ASID_CONTROL as Word).make_pool(
            Cap::from_cptr(self.epoch_slot(slot::POOL_UNTYPED)),
            root_cnode(),
            pool.cptr(),
            FULL_DEPTH,
        );
        if let Err(e) = made_pool {
            if self.pools {
                println!("[syscall-fuzz] note: ASIDControl_MakePool failed ({e:?}); the victim gets no ASID pool from now on");
            }
            self.pools = false;
        }
        let assign_from = if made_pool.is_ok() {
            pool
        } else {
            Cap::from_cptr(CAP_INIT_THREAD_ASID_POOL as Word)
        };
        must("assign the scratch VSpace", assign_from.assign(vspace));

        let copy = |dest: Word, src: Word, rights: CapRights, badge: Option<Word>| {
            let r = match badge {
                None => cnode.copy(dest, VICTIM_DEPTH, root_cnode(), src, FULL_DEPTH, rights),
                Some(b) => cnode.mint(dest, VICTIM_DEPTH, root_cnode(), src, FULL_DEPTH, rights, b),
            };
            must("fill the victim's CNode", r);
        };
        let all = CapRights::ALL;
        copy(layout::TCB, tcb.cptr(), all, None);
        copy(
            layout::CNODE,
            cnode.cptr(),
            all,
            Some(layout::CNODE_GUARD_DATA),
        );
        copy(layout::VSPACE, vspace.cptr(), all, None);
        copy(layout::ENDPOINT, self.epoch_slot(slot::ENDPOINT), all, None);
        copy(
            layout::NOTIFICATION,
            self.epoch_slot(slot::NOTIFICATION),
            all,
            None,
        );
        copy(layout::FRAME, frame.cptr(), all, None);
        copy(layout::UNTYPED, self.epoch_slot(slot::UNTYPED), all, None);
        copy(layout::DEVICE_UNTYPED, self.device.cptr(), all, None);
        copy(
            layout::BADGED_ENDPOINT,
            self.epoch_slot(slot::ENDPOINT),
            all,
            Some(layout::ENDPOINT_BADGE),
        );
        if made_pool.is_ok() {
            copy(layout::ASID_POOL, pool.cptr(), all, None);
        }
        for (slot, n) in [(layout::PAGE_TABLE, 1), (layout::MORE_PAGE_TABLES, 2)] {
            must(
                "retype the victim's page tables",
                self.arena
                    .retype(ObjectType::PageTable, 0, cnode, 0, 0, slot, n),
            );
        }

        World {
            tcb,
            partner: Cap::from_cptr(self.epoch_slot(slot::PARTNER)),
            cnode,
            frame_paddr: must("GetAddress of the victim's frame", frame.get_address()),
            untyped_range: (
                self.arena_paddr,
                self.arena_paddr + (1 << layout::UNTYPED_BITS),
            ),
            device_range: self.device_range,
        }
    }

    /// Puts the victim back at [`victim::victim_entry`] with the
    /// configuration the epoch gave it: its CSpace, the shared VSpace, its
    /// IPC buffer, its fault endpoint cap, its priority. Whatever it was
    /// doing (blocked, faulted, suspended) is cancelled first.
    pub fn restart(&self, w: &World) {
        self.start_thread(
            w,
            w.tcb,
            &Thread {
                fault_ep: layout::FAULT_EP,
                badge: layout::FAULT_BADGE,
                entry: victim::entry_address(),
                stack_top: victim::stack_top(),
                buffer: victim::ipc_buffer(),
                priority: layout::VICTIM_PRIORITY,
            },
        );
    }

    /// Puts the partner back at its entry, as [`Root::restart`] does the
    /// victim; it runs at once, until it blocks.
    pub fn restart_partner(&self, w: &World) {
        self.start_thread(
            w,
            w.partner,
            &Thread {
                fault_ep: layout::PARTNER_FAULT_EP,
                badge: layout::PARTNER_FAULT_BADGE,
                entry: partner::entry_address(),
                stack_top: partner::stack_top(),
                buffer: partner::ipc_buffer(),
                priority: layout::PARTNER_PRIORITY,
            },
        );
    }

    fn start_thread(&self, w: &World, tcb: Cap<Tcb>, t: &Thread) {
        must("suspend a thread", tcb.suspend());
        must(
            "configure a thread",
            tcb.configure(
                t.fault_ep,
                w.cnode,
                layout::CNODE_GUARD_DATA,
                Cap::from_cptr(CAP_INIT_THREAD_VSPACE as Word),
                0,
                t.buffer,
                image_frame(self.bi, t.buffer),
            ),
        );
        // The victim may have deleted or replaced the fault endpoint cap.
        let _ = w.cnode.delete(t.fault_ep, VICTIM_DEPTH);
        must(
            "mint a fault endpoint",
            w.cnode.mint(
                t.fault_ep,
                VICTIM_DEPTH,
                root_cnode(),
                self.fault_ep.cptr(),
                FULL_DEPTH,
                CapRights::from_word(CapRights::WRITE.word() | CapRights::GRANT_REPLY.word()),
                t.badge,
            ),
        );
        let mut ctx = UserContext::default();
        ctx.set_pc(t.entry);
        ctx.set_sp(t.stack_top);
        ctx.0[UserContext::TPIDR_EL0] = t.buffer;
        must(
            "write a thread's registers",
            tcb.write_registers(false, 0, USER_CONTEXT_WORDS as Word, &ctx),
        );
        must(
            "set a thread's priority",
            tcb.set_sched_params(root_tcb(), layout::VICTIM_MCP, t.priority),
        );
        if tcb == w.tcb {
            victim::BUFFER_PRISTINE.store(true, SeqCst);
        }
        must("resume a thread", tcb.resume());
    }

    /// Ends an epoch: revokes the arena, which deletes every object of the
    /// epoch and everything the victim made from its untyped, and the
    /// device untyped (its copy and what the victim made from it).
    pub fn teardown(&self) {
        must(
            "revoke the arena",
            root_cnode().revoke(self.arena.cptr(), FULL_DEPTH),
        );
        must(
            "revoke the device untyped",
            root_cnode().revoke(self.device.cptr(), FULL_DEPTH),
        );
        for s in 0..slot::COUNT {
            let tag = self.epoch_slot(s);
            if Cap::<Unknown>::from_cptr(tag).identify() != 0 {
                fatal("an epoch slot is not empty after revoking the arena", &tag);
            }
        }
    }
}
