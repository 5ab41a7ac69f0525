//! Single-producer, single-consumer rings in memory shared by two
//! components (the sDDF pattern, docs/block.md): one side only pushes, the
//! other only pops, and a notification tells the other side to look.
//!
//! Layout of a ring of `capacity` entries of `T` at `base`:
//!
//! | offset | what | written by |
//! |---|---|---|
//! | 0 | `head`: entries pushed so far (u32, wrapping) | producer |
//! | 64 | `tail`: entries popped so far (u32, wrapping) | consumer |
//! | 128 | `capacity` entries of `T` | producer |
//!
//! The producer writes an entry, then publishes it with a Release store of
//! `head`; the consumer reads `head` with Acquire, reads the entry, then
//! frees it with a Release store of `tail`. Each counter has its own cache
//! line. The other side may be faulty or hostile: a counter that claims
//! more entries than the ring holds is reported as [`RingError::Corrupt`],
//! and every index is taken modulo the capacity, so a bad counter can never
//! make this side touch memory outside the ring.

use core::marker::PhantomData;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::interface::Wire;

/// Bytes before the first entry.
pub const HEADER_BYTES: usize = 128;

/// What went wrong with a ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingError {
    /// No room: the consumer has not freed enough entries.
    Full,
    /// The other side's counter is impossible (more than `capacity` apart).
    Corrupt,
}

/// The bytes a ring of `capacity` entries of `T` takes.
pub const fn ring_bytes<T>(capacity: u32) -> usize {
    HEADER_BYTES + capacity as usize * core::mem::size_of::<T>()
}

/// A ring of `T`s at a fixed address; see the module documentation.
pub struct Ring<T> {
    base: usize,
    capacity: u32,
    _entries: PhantomData<T>,
}

impl<T> Clone for Ring<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Ring<T> {}

impl<T: Wire + Copy> Ring<T> {
    /// The ring of `capacity` entries at `base`.
    ///
    /// # Safety
    ///
    /// `base` is 64-aligned, `base..base + ring_bytes::<T>(capacity)` stays
    /// mapped read-write while the ring is used and is accessed by this
    /// program only through this ring; `capacity` is a power of two and
    /// `size_of::<T>()` a multiple of 8.
    pub const unsafe fn new(base: usize, capacity: u32) -> Self {
        Self {
            base,
            capacity,
            _entries: PhantomData,
        }
    }

    /// How many entries it holds.
    pub const fn capacity(&self) -> u32 {
        self.capacity
    }

    fn head(&self) -> &AtomicU32 {
        // SAFETY: `new`'s contract: the header is mapped, aligned, and only
        // accessed atomically.
        unsafe { &*(self.base as *const AtomicU32) }
    }

    fn tail(&self) -> &AtomicU32 {
        // SAFETY: as in `head`; offset 64 is inside the header.
        unsafe { &*((self.base + 64) as *const AtomicU32) }
    }

    fn slot_word(&self, index: u32, word: usize) -> &AtomicU64 {
        let slot = (index & (self.capacity - 1)) as usize;
        let offset = HEADER_BYTES + slot * core::mem::size_of::<T>() + word * 8;
        // SAFETY: slot < capacity and word < size_of::<T>() / 8, so the
        // address is inside the ring; 8-aligned because base is and T's
        // size is a multiple of 8.
        unsafe { &*((self.base + offset) as *const AtomicU64) }
    }

    /// Empties the ring: both counters to 0. Only while the other side is
    /// not using it (at start, or after it was restarted).
    pub fn reset(&self) {
        self.head().store(0, Ordering::Release);
        self.tail().store(0, Ordering::Release);
    }

    /// Entries waiting, as the producer's and consumer's counters say.
    pub fn len(&self) -> Result<u32, RingError> {
        let head = self.head().load(Ordering::Acquire);
        let tail = self.tail().load(Ordering::Acquire);
        let len = head.wrapping_sub(tail);
        if len > self.capacity {
            return Err(RingError::Corrupt);
        }
        Ok(len)
    }

    /// True when nothing waits (a corrupt ring counts as not empty).
    pub fn is_empty(&self) -> bool {
        self.len() == Ok(0)
    }

    /// Producer: appends `value`.
    pub fn push(&self, value: &T) -> Result<(), RingError> {
        let head = self.head().load(Ordering::Relaxed);
        let tail = self.tail().load(Ordering::Acquire);
        let len = head.wrapping_sub(tail);
        if len > self.capacity {
            return Err(RingError::Corrupt);
        }
        if len == self.capacity {
            return Err(RingError::Full);
        }
        let bytes = value.as_bytes();
        for (w, chunk) in bytes.chunks(8).enumerate() {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.slot_word(head, w)
                .store(u64::from_le_bytes(word), Ordering::Relaxed);
        }
        self.head().store(head.wrapping_add(1), Ordering::Release);
        Ok(())
    }

    /// Consumer: takes the oldest entry, if any.
    pub fn pop(&self) -> Result<Option<T>, RingError> {
        let tail = self.tail().load(Ordering::Relaxed);
        let head = self.head().load(Ordering::Acquire);
        let len = head.wrapping_sub(tail);
        if len > self.capacity {
            return Err(RingError::Corrupt);
        }
        if len == 0 {
            return Ok(None);
        }
        let mut bytes = [0u8; 256];
        let size = core::mem::size_of::<T>().min(bytes.len());
        for w in 0..size / 8 {
            let word = self.slot_word(tail, w).load(Ordering::Relaxed);
            bytes[w * 8..w * 8 + 8].copy_from_slice(&word.to_le_bytes());
        }
        self.tail().store(tail.wrapping_add(1), Ordering::Release);
        Ok(T::read_from_bytes(&bytes[..size]).ok())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::collections::VecDeque;
    use std::vec::Vec;

    use proptest::prelude::*;
    use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    #[repr(C)]
    struct Entry {
        id: u64,
        check: u64,
    }

    fn entry(id: u64) -> Entry {
        Entry {
            id,
            check: id.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        }
    }

    fn leaked_ring(capacity: u32) -> (Ring<Entry>, &'static mut [u64]) {
        let words = ring_bytes::<Entry>(capacity).div_ceil(8) + 8;
        let memory: &'static mut [u64] = std::vec![0u64; words].leak();
        let base = (memory.as_mut_ptr() as usize).next_multiple_of(64);
        // SAFETY: leaked memory, 64-aligned, large enough, used only by
        // the ring (the slice is only used to corrupt counters on purpose).
        (unsafe { Ring::new(base, capacity) }, memory)
    }

    #[test]
    fn fills_then_refuses_then_drains_in_order() {
        let (ring, _) = leaked_ring(4);
        for id in 0..4 {
            ring.push(&entry(id)).unwrap();
        }
        assert_eq!(ring.push(&entry(9)), Err(RingError::Full));
        assert_eq!(ring.len(), Ok(4));
        for id in 0..4 {
            assert_eq!(ring.pop(), Ok(Some(entry(id))));
        }
        assert_eq!(ring.pop(), Ok(None));
    }

    #[test]
    fn a_corrupt_counter_is_reported_not_followed() {
        let (ring, _) = leaked_ring(8);
        ring.push(&entry(1)).unwrap();
        ring.head().store(1000, Ordering::Release);
        assert_eq!(ring.pop(), Err(RingError::Corrupt));
        assert_eq!(ring.push(&entry(2)), Err(RingError::Corrupt));
        ring.reset();
        assert_eq!(ring.pop(), Ok(None));
    }

    #[test]
    fn counters_wrap_around() {
        let (ring, _) = leaked_ring(2);
        ring.head().store(u32::MAX, Ordering::Release);
        ring.tail().store(u32::MAX, Ordering::Release);
        for id in 0..10 {
            ring.push(&entry(id)).unwrap();
            assert_eq!(ring.pop(), Ok(Some(entry(id))));
        }
    }

    #[test]
    fn two_threads_lose_and_repeat_nothing() {
        let (ring, _) = leaked_ring(16);
        const N: u64 = 200_000;
        let producer = std::thread::spawn(move || {
            let mut id = 0;
            while id < N {
                match ring.push(&entry(id)) {
                    Ok(()) => id += 1,
                    Err(RingError::Full) => std::thread::yield_now(),
                    Err(e) => panic!("{e:?}"),
                }
            }
        });
        let mut expected = 0;
        while expected < N {
            match ring.pop().unwrap() {
                Some(e) => {
                    assert_eq!(e, entry(expected));
                    expected += 1;
                }
                None => std::thread::yield_now(),
            }
        }
        producer.join().unwrap();
        assert_eq!(ring.pop(), Ok(None));
    }

    fn cases() -> u32 {
        std::env::var("CERNE_PROOF_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(500)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]

        /// Random interleavings of pushes and pops behave like a bounded
        /// FIFO queue: same order, nothing lost or repeated, Full exactly
        /// when the model is full.
        #[test]
        fn behaves_like_a_bounded_queue(bits in 0u32..5, steps in proptest::collection::vec(any::<bool>(), 0..400)) {
            let capacity = 1u32 << bits;
            let (ring, _) = leaked_ring(capacity);
            let mut model: VecDeque<u64> = VecDeque::new();
            let mut next = 0u64;
            let mut popped: Vec<u64> = Vec::new();
            for push in steps {
                if push {
                    let r = ring.push(&entry(next));
                    if model.len() as u32 == capacity {
                        prop_assert_eq!(r, Err(RingError::Full));
                    } else {
                        prop_assert_eq!(r, Ok(()));
                        model.push_back(next);
                        next += 1;
                    }
                } else {
                    let got = ring.pop().unwrap().map(|e| e.id);
                    prop_assert_eq!(got, model.pop_front());
                    popped.extend(got);
                }
                prop_assert_eq!(ring.len(), Ok(model.len() as u32));
            }
            // What was popped is a prefix of 0, 1, 2, ...
            prop_assert!(popped.iter().enumerate().all(|(i, id)| *id == i as u64));
        }
    }
}
