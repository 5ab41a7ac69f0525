//! CNode slots and the capability derivation tree (seL4's "MDB").
//!
//! A slot is 32 bytes: the cap's two words, then `prev` and `next` links of
//! a doubly linked list that holds every cap in depth-first order of the
//! derivation tree. Two bits complete it: `revocable` (the cap is an
//! original: it may have children) and `first_badged` (the first cap of a
//! badge, which starts a new subtree for endpoints and notifications).
//! Parenthood is not stored; it follows from the list order, those bits and
//! [`Cap::same_region_as`] ([`is_parent_of`]). Descendants of a slot are the
//! run of list entries after it for which it is the parent.
#![forbid(unsafe_code)]

use crate::cap::Cap;
use crate::layout::RawSlot;
use crate::mem::PhysMem;
use static_assertions::const_assert_eq;

/// The derivation-list node of a slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mdb {
    /// Previous slot (0 = none).
    pub prev: u64,
    /// Next slot (0 = none).
    pub next: u64,
    /// The cap is an original (may have children).
    pub revocable: bool,
    /// First cap of its badge.
    pub first_badged: bool,
}

/// Offset of the links (`prev`, `next`) in a slot.
const MDB_OFFSET: u64 = core::mem::offset_of!(RawSlot, prev) as u64;
const_assert_eq!(MDB_OFFSET + 8, core::mem::offset_of!(RawSlot, next) as u64);

/// Reads the cap in slot `s`.
pub fn cap(mem: &PhysMem<'_>, s: u64) -> Cap {
    Cap::decode(mem.read::<[u64; 2]>(s))
}

/// Writes the cap of slot `s`, leaving its links alone.
pub fn set_cap(mem: &PhysMem<'_>, s: u64, c: Cap) {
    mem.write(s, &c.encode());
}

/// Reads the links of slot `s`.
pub fn mdb(mem: &PhysMem<'_>, s: u64) -> Mdb {
    let [prev, next] = mem.read::<[u64; 2]>(s + MDB_OFFSET);
    Mdb {
        prev: prev & !31,
        next: next & !31,
        revocable: prev & 1 != 0,
        first_badged: next & 1 != 0,
    }
}

/// Writes the links of slot `s`.
pub fn set_mdb(mem: &PhysMem<'_>, s: u64, m: Mdb) {
    mem.write(
        s + MDB_OFFSET,
        &[m.prev | m.revocable as u64, m.next | m.first_badged as u64],
    );
}

fn set_prev(mem: &PhysMem<'_>, s: u64, prev: u64) {
    if s != 0 {
        let mut m = mdb(mem, s);
        m.prev = prev;
        set_mdb(mem, s, m);
    }
}

fn set_next(mem: &PhysMem<'_>, s: u64, next: u64) {
    if s != 0 {
        let mut m = mdb(mem, s);
        m.next = next;
        set_mdb(mem, s, m);
    }
}

/// seL4 `isMDBParentOf`: is the cap in `a` the parent of the cap in `b`,
/// given that `b` follows `a` in the list?
pub fn is_parent_of(mem: &PhysMem<'_>, a: u64, b: u64) -> bool {
    let (ma, mb) = (mdb(mem, a), mdb(mem, b));
    if !ma.revocable {
        return false;
    }
    let (ca, cb) = (cap(mem, a), cap(mem, b));
    if !ca.same_region_as(&cb) {
        return false;
    }
    match ca {
        Cap::Endpoint { badge, .. } | Cap::Notification { badge, .. } if badge != 0 => {
            badge == cb.badge() && !mb.first_badged
        }
        _ => true,
    }
}

/// True when the cap in `s` has at least one child.
pub fn has_children(mem: &PhysMem<'_>, s: u64) -> bool {
    let next = mdb(mem, s).next;
    next != 0 && is_parent_of(mem, s, next)
}

/// seL4 `isCapRevocable`: does a cap derived as `new` from `src` start its
/// own subtree?
pub fn is_cap_revocable(new: &Cap, src: &Cap) -> bool {
    match *new {
        Cap::Endpoint { badge, .. } | Cap::Notification { badge, .. } => badge != src.badge(),
        Cap::IrqHandler { .. } | Cap::SgiSignal { .. } => matches!(src, Cap::IrqControl),
        Cap::Untyped { .. } => true,
        _ => false,
    }
}

/// Puts `c` into the empty slot `s` as a derivation-tree root (boot caps).
pub fn insert_root(mem: &PhysMem<'_>, s: u64, c: Cap) {
    set_cap(mem, s, c);
    set_mdb(
        mem,
        s,
        Mdb {
            prev: 0,
            next: 0,
            revocable: true,
            first_badged: true,
        },
    );
}

/// seL4 `insertNewCap`: puts the freshly created `c` into the empty slot
/// `s` as an original child of `parent` (retype, boot-time children).
pub fn insert_new_child(mem: &PhysMem<'_>, parent: u64, s: u64, c: Cap) {
    let next = mdb(mem, parent).next;
    set_cap(mem, s, c);
    set_mdb(
        mem,
        s,
        Mdb {
            prev: parent,
            next,
            revocable: true,
            first_badged: true,
        },
    );
    set_prev(mem, next, s);
    set_next(mem, parent, s);
}

/// seL4 `cteInsert`: puts `new` (derived from the cap in `src`) into the
/// empty slot `dest`, right after `src` in the list. Copying an untyped
/// marks the source full.
pub fn insert(mem: &PhysMem<'_>, new: Cap, src: u64, dest: u64) {
    let src_cap = cap(mem, src);
    let src_mdb = mdb(mem, src);
    let revocable = is_cap_revocable(&new, &src_cap);
    if let (
        Cap::Untyped {
            paddr: a,
            size_bits: sa,
            is_device,
            ..
        },
        Cap::Untyped {
            paddr: b,
            size_bits: sb,
            ..
        },
    ) = (src_cap, new)
    {
        if a == b && sa == sb {
            set_cap(
                mem,
                src,
                Cap::Untyped {
                    paddr: a,
                    size_bits: sa,
                    is_device,
                    free_index: 1u64 << sa,
                },
            );
        }
    }
    // Encoded in place (what `set_cap` does): handing `new` over by value
    // lets the compiler copy the whole cap first, which the IPC fast path
    // (one insert per Call) pays for whenever it cannot see that `encode`
    // only reads it.
    mem.write(dest, &new.encode());
    set_mdb(
        mem,
        dest,
        Mdb {
            prev: src,
            next: src_mdb.next,
            revocable,
            first_badged: revocable,
        },
    );
    set_prev(mem, src_mdb.next, dest);
    set_next(mem, src, dest);
}

/// seL4 `cteMove`: moves the cap (as `new`) and its list position from
/// `src` to the empty slot `dest`.
pub fn move_cap(mem: &PhysMem<'_>, new: Cap, src: u64, dest: u64) {
    let m = mdb(mem, src);
    set_cap(mem, dest, new);
    set_mdb(mem, dest, m);
    set_cap(mem, src, Cap::Null);
    set_mdb(mem, src, Mdb::default());
    set_next(mem, m.prev, dest);
    set_prev(mem, m.next, dest);
}

/// seL4 `cteSwap`: exchanges the caps (as `c1` now in `s2`, `c2` now in
/// `s1`) and list positions of two occupied slots.
pub fn swap(mem: &PhysMem<'_>, c1: Cap, s1: u64, c2: Cap, s2: u64) {
    let m1 = mdb(mem, s1);
    set_cap(mem, s1, c2);
    set_cap(mem, s2, c1);
    set_next(mem, m1.prev, s2);
    set_prev(mem, m1.next, s2);
    let m2 = mdb(mem, s2);
    set_mdb(mem, s2, m1);
    set_mdb(mem, s1, m2);
    set_next(mem, m2.prev, s1);
    set_prev(mem, m2.next, s1);
}

/// seL4 `emptySlot` without finalisation: unlinks `s` and clears it. The
/// next entry inherits `first_badged`, so a badge's subtree keeps its start.
pub fn unlink_and_clear(mem: &PhysMem<'_>, s: u64) {
    let m = mdb(mem, s);
    set_next(mem, m.prev, m.next);
    if m.next != 0 {
        let mut n = mdb(mem, m.next);
        n.prev = m.prev;
        n.first_badged = n.first_badged || m.first_badged;
        set_mdb(mem, m.next, n);
    }
    set_cap(mem, s, Cap::Null);
    set_mdb(mem, s, Mdb::default());
}

/// [`insert`] of `Cap::Reply { tcb, master: false, grant }` from the
/// master reply cap in `master` into the empty slot `dest`, word by word
/// (what `insert` amounts to for it: not revocable, so not first-badged,
/// right after the master). The slow path's `setupCallerCap`; the fast
/// path does the same on its TCB handles.
pub fn insert_reply(mem: &PhysMem<'_>, master: u64, dest: u64, tcb: u64, grant: bool) {
    let master_next = mem.read_word(master + MDB_OFFSET + 8);
    let next = master_next & !31;
    mem.write(
        dest,
        &[
            crate::cap::raw::reply_word0(tcb, false, grant),
            0,
            master,
            next,
        ],
    );
    if next != 0 {
        let w = mem.read_word(next + MDB_OFFSET);
        mem.write_word(next + MDB_OFFSET, dest | (w & 1));
    }
    mem.write_word(master + MDB_OFFSET + 8, dest | (master_next & 1));
}

/// [`unlink_and_clear`] word by word: what `cteDeleteOne` of a reply cap
/// amounts to (a reply cap has nothing to finalise). The next entry
/// inherits `first_badged`.
pub fn delete_reply(mem: &PhysMem<'_>, s: u64) {
    let [prev_w, next_w] = mem.read::<[u64; 2]>(s + MDB_OFFSET);
    let (prev, next) = (prev_w & !31, next_w & !31);
    if prev != 0 {
        let w = mem.read_word(prev + MDB_OFFSET + 8);
        mem.write_word(prev + MDB_OFFSET + 8, next | (w & 1));
    }
    if next != 0 {
        let [p, n] = mem.read::<[u64; 2]>(next + MDB_OFFSET);
        mem.write(
            next + MDB_OFFSET,
            &[prev | (p & 1), (n & !31) | (n & 1) | (next_w & 1)],
        );
    }
    mem.write(s, &[0u64; 4]);
}

/// seL4 `isFinalCapability`: no neighbour in the list names the same object.
pub fn is_final(mem: &PhysMem<'_>, s: u64) -> bool {
    let m = mdb(mem, s);
    let c = cap(mem, s);
    if m.prev != 0 && cap(mem, m.prev).same_object_as(&c) {
        return false;
    }
    m.next == 0 || !c.same_object_as(&cap(mem, m.next))
}

#[cfg(test)]
mod tests {
    //! The word-by-word reply-cap insert and delete leave exactly the
    //! memory the generic [`insert`] and [`unlink_and_clear`] leave, on
    //! random derivation lists (links in any order, any flag bits).
    use super::*;
    use std::vec;
    use std::vec::Vec;

    const BASE: u64 = 0x4000_0000;
    const SLOTS: u64 = 12;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z ^ (z >> 27)
        }
    }

    /// Slots 0..SLOTS: a random list through some of them (random order,
    /// random flags, endpoint caps), the rest empty; returns the slots in
    /// the list in list order and the empty ones.
    fn random_list(mem: &PhysMem<'_>, rng: &mut Rng) -> (Vec<u64>, Vec<u64>) {
        let mut order: Vec<u64> = (0..SLOTS).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.next() as usize % (i + 1));
        }
        let n = 1 + rng.next() as usize % (SLOTS as usize - 1);
        let slot = |i: u64| BASE + 32 * i;
        let (list, empty) = order.split_at(n);
        let list: Vec<u64> = list.iter().map(|i| slot(*i)).collect();
        for (k, s) in list.iter().enumerate() {
            set_cap(
                mem,
                *s,
                Cap::Endpoint {
                    paddr: 0x5000_0000 + 16 * (rng.next() % 4),
                    badge: rng.next() % 3,
                    rights: cerne_abi::rights::CapRights::ALL,
                },
            );
            set_mdb(
                mem,
                *s,
                Mdb {
                    prev: if k == 0 { 0 } else { list[k - 1] },
                    next: list.get(k + 1).copied().unwrap_or(0),
                    revocable: rng.next() & 1 != 0,
                    first_badged: rng.next() & 1 != 0,
                },
            );
        }
        (list, empty.iter().map(|i| slot(*i)).collect())
    }

    fn snapshot(words: &[u64]) -> Vec<u64> {
        words.to_vec()
    }

    #[test]
    fn reply_insert_and_delete_match_the_generic_ones() {
        let mut rng = Rng(7);
        let cases = if cfg!(miri) { 200 } else { 5_000 };
        for case in 0..cases {
            let mut a = vec![0u64; (SLOTS * 4) as usize];
            let mut b = vec![0u64; (SLOTS * 4) as usize];
            let seed = rng.next();
            let tcb = 0x6000_0800;
            let (list, inserted) = {
                let ma = PhysMem::from_words(&mut a, BASE).unwrap();
                let mb = PhysMem::from_words(&mut b, BASE).unwrap();
                let (list, empty) = random_list(&ma, &mut Rng(seed));
                random_list(&mb, &mut Rng(seed));
                // The master: a list member made a master reply cap.
                let master = list[rng.next() as usize % list.len()];
                let master_cap = Cap::Reply {
                    tcb,
                    master: true,
                    grant: true,
                };
                set_cap(&ma, master, master_cap);
                set_cap(&mb, master, master_cap);
                let inserted = empty.first().map(|&dest| {
                    let grant = rng.next() & 1 != 0;
                    let reply = Cap::Reply {
                        tcb,
                        master: false,
                        grant,
                    };
                    insert(&ma, reply, master, dest);
                    insert_reply(&mb, master, dest, tcb, grant);
                });
                (list, inserted)
            };
            if inserted.is_some() {
                assert_eq!(snapshot(&a), snapshot(&b), "case {case}: insert");
            }
            // Delete a random list member (a reply cap put there).
            {
                let ma = PhysMem::from_words(&mut a, BASE).unwrap();
                let mb = PhysMem::from_words(&mut b, BASE).unwrap();
                let victim = list[rng.next() as usize % list.len()];
                let reply = Cap::Reply {
                    tcb,
                    master: false,
                    grant: false,
                };
                set_cap(&ma, victim, reply);
                set_cap(&mb, victim, reply);
                unlink_and_clear(&ma, victim);
                delete_reply(&mb, victim);
            }
            assert_eq!(snapshot(&a), snapshot(&b), "case {case}: delete");
        }
    }
}
