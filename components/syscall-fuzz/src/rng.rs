//! The fuzzer's pseudo-random numbers: splitmix64 (Steele, Lea and Flood,
//! "Fast splittable pseudorandom number generators", 2014), one word of
//! state, so a run is reproduced exactly from its seed.

use cerne_abi::Word;

/// A splitmix64 generator.
#[derive(Clone, Copy, Debug)]
pub struct Rng(Word);

impl Rng {
    /// A generator seeded with `seed`.
    pub const fn new(seed: Word) -> Self {
        Self(seed)
    }

    /// The state word (to store it and carry on later with [`Rng::new`]).
    pub const fn state(&self) -> Word {
        self.0
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> Word {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`; the slight modulo bias does not matter
    /// here).
    pub fn below(&mut self, n: Word) -> Word {
        self.next() % n
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: Word) -> bool {
        self.below(100) < percent
    }

    /// One of `items`, uniformly.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as Word) as usize]
    }
}
