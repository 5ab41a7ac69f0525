//! Authority checks: that the root task's boot caps are what BootInfo says
//! and stay so, that no cap appears in a root CNode slot the root task did
//! not fill, and that the victim's CNode holds only caps the victim could
//! have derived from what it was given.

use crate::layout;
use crate::world::{fatal, root_cnode, World, FULL_DEPTH, VICTIM_DEPTH};
use cerne_abi::bootinfo::BootInfo;
use cerne_abi::error::Error;
use cerne_abi::object::CapTag;
use cerne_abi::slots;
use cerne_abi::Word;
use core::sync::atomic::{AtomicU8, Ordering::Relaxed};
use libcerne::println;
use libcerne::sel4::{self, Cap, Unknown};

/// Most root CNode slots any build option allows (2^15).
const MAX_ROOT_SLOTS: usize = 1 << 15;
/// The tags of the root CNode as the root task last left it.
static SNAPSHOT: [AtomicU8; MAX_ROOT_SLOTS] = [const { AtomicU8::new(0) }; MAX_ROOT_SLOTS];

fn tag_of(cptr: Word) -> Word {
    Cap::<Unknown>::from_cptr(cptr).identify()
}

/// Slots of the root CNode.
pub fn root_slots(bi: &BootInfo) -> Word {
    (1 << bi.init_thread_cnode_size_bits).min(MAX_ROOT_SLOTS as Word)
}

/// Checks the root CNode's initial caps against docs/sel4-abi.md §8.5 and
/// BootInfo's regions; returns how many slots were checked.
pub fn check_boot_caps(bi: &BootInfo) -> Word {
    use CapTag::*;
    let fixed: [(usize, CapTag); 16] = [
        (slots::CAP_NULL, Null),
        (slots::CAP_INIT_THREAD_TCB, Thread),
        (slots::CAP_INIT_THREAD_CNODE, CNode),
        (slots::CAP_INIT_THREAD_VSPACE, VSpace),
        (slots::CAP_IRQ_CONTROL, IrqControl),
        (slots::CAP_ASID_CONTROL, AsidControl),
        (slots::CAP_INIT_THREAD_ASID_POOL, AsidPool),
        (slots::CAP_IO_PORT_CONTROL, Null),
        (slots::CAP_IO_SPACE, Null),
        (slots::CAP_BOOT_INFO_FRAME, Frame),
        (slots::CAP_INIT_THREAD_IPC_BUFFER, Frame),
        (slots::CAP_DOMAIN, Domain),
        (slots::CAP_SMMU_SID_CONTROL, Null),
        (slots::CAP_SMMU_CB_CONTROL, Null),
        (slots::CAP_INIT_THREAD_SC, Null),
        (slots::CAP_SMC, Null),
    ];
    let mut n = 0;
    let mut expect = |slot: Word, want: CapTag| {
        let got = tag_of(slot);
        if got != want.word() {
            println!("[syscall-fuzz] boot slot {slot}: tag {got}, expected {want:?}");
            fatal("boot caps are not as BootInfo describes them", &slot);
        }
        n += 1;
    };
    for (s, t) in fixed {
        expect(s as Word, t);
    }
    for s in bi.user_image_paging.start..bi.user_image_paging.end {
        expect(s, PageTable);
    }
    for s in bi.extra_bi_pages.start..bi.extra_bi_pages.end {
        expect(s, Frame);
    }
    for s in bi.user_image_frames.start..bi.user_image_frames.end {
        expect(s, Frame);
    }
    for s in bi.untyped.start..bi.untyped.end {
        expect(s, Untyped);
    }
    for s in bi.empty.start..root_slots(bi) {
        expect(s, Null);
    }
    n
}

/// Records the tags of slots `0..used_end` of the root CNode.
pub fn snapshot(used_end: Word) {
    for (s, t) in SNAPSHOT.iter().enumerate().take(used_end as usize) {
        t.store(tag_of(s as Word) as u8, Relaxed);
    }
}

/// Compares slots `0..used_end` with the snapshot, and with `full` checks
/// that every slot from `used_end` on is empty; returns the slots checked.
pub fn check_root(bi: &BootInfo, used_end: Word, full: bool) -> Word {
    for (s, t) in SNAPSHOT.iter().enumerate().take(used_end as usize) {
        let got = tag_of(s as Word);
        let want = Word::from(t.load(Relaxed));
        if got != want {
            println!("[syscall-fuzz] root slot {s}: tag {got}, expected {want}");
            fatal("a root CNode slot changed under the victim", &s);
        }
    }
    if !full {
        return used_end;
    }
    for s in used_end..root_slots(bi) {
        let got = tag_of(s);
        if got != 0 {
            println!("[syscall-fuzz] root slot {s}: tag {got}, expected empty");
            fatal("a cap appeared in an empty root CNode slot", &s);
        }
    }
    root_slots(bi)
}

/// What the victim's CNode held at an audit.
#[derive(Clone, Copy, Debug, Default)]
pub struct VictimCaps {
    /// Caps in it.
    pub caps: Word,
    /// Frames among them (each checked to lie in the victim's memory).
    pub frames: Word,
}

/// Checks every slot of the victim's CNode: each cap is moved into the
/// root task's scratch slot, identified (frames also located with
/// GetAddress) and moved back. Allowed: the types the victim's caps can
/// become by copying, minting, retyping its untyped, or receiving caps
/// from itself; never IRQControl, IRQ handlers, ASIDControl, the domain
/// cap, SGI signals, nor a frame outside its untypeds and its own frame.
pub fn check_victim(w: &World, scratch: Word) -> VictimCaps {
    use CapTag::*;
    let mut seen = VictimCaps::default();
    for s in 0..layout::CNODE_SLOTS {
        match root_cnode().move_(scratch, FULL_DEPTH, w.cnode, s, VICTIM_DEPTH) {
            Ok(()) => {}
            Err(e) if e.code() == Some(Error::FailedLookup) => continue,
            Err(e) => fatal("move a cap out of the victim's CNode", &e),
        }
        let tag = tag_of(scratch);
        seen.caps += 1;
        let allowed = match CapTag::from_word(tag) {
            Some(
                Untyped | PageTable | Endpoint | Notification | Reply | VSpace | CNode | Thread
                | AsidPool | Zombie,
            ) => true,
            Some(Frame) => {
                seen.frames += 1;
                match Cap::<sel4::Frame>::from_cptr(scratch).get_address() {
                    Ok(pa) => {
                        let within = |(lo, hi): (Word, Word)| lo <= pa && pa < hi;
                        let ok = pa == w.frame_paddr
                            || within(w.untyped_range)
                            || within(w.device_range);
                        if !ok {
                            println!(
                                "[syscall-fuzz] victim slot {s}: frame at {pa:#x}, outside its memory"
                            );
                        }
                        ok
                    }
                    Err(e) => fatal("GetAddress of a victim frame", &e),
                }
            }
            _ => false,
        };
        if !allowed {
            println!("[syscall-fuzz] victim slot {s}: cap of type {tag} it could not have derived");
            fatal("authority leaked to the victim", &s);
        }
        if let Err(e) = w
            .cnode
            .move_(s, VICTIM_DEPTH, root_cnode(), scratch, FULL_DEPTH)
        {
            fatal("move a cap back into the victim's CNode", &e);
        }
    }
    seen
}
