//! Physical address ranges and fixed-capacity sets of them, with no heap.
//!
//! The kernel computes its free memory as "RAM minus what is reserved" and its
//! device space as "the physical address space minus RAM and kernel-owned
//! devices"; both are set differences over small lists of ranges.

/// A half-open physical range `[base, base + size)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Region {
    /// First byte.
    pub base: u64,
    /// Length in bytes.
    pub size: u64,
}

impl Region {
    /// The range `[base, end)`; empty if `end <= base`.
    pub const fn from_bounds(base: u64, end: u64) -> Self {
        Self {
            base,
            size: end.saturating_sub(base),
        }
    }
    /// One past the last byte (saturating at `u64::MAX`).
    pub const fn end(&self) -> u64 {
        self.base.saturating_add(self.size)
    }
    /// True when the range holds no byte.
    pub const fn is_empty(&self) -> bool {
        self.size == 0
    }
    /// True when the two ranges share a byte.
    pub const fn overlaps(&self, other: &Region) -> bool {
        !self.is_empty() && !other.is_empty() && self.base < other.end() && other.base < self.end()
    }
    /// True when `other` lies entirely inside `self`.
    pub const fn contains(&self, other: &Region) -> bool {
        other.base >= self.base && other.end() <= self.end()
    }
    /// The range widened outwards to multiples of `align` (a power of two).
    pub const fn aligned_out(&self, align: u64) -> Region {
        let base = self.base & !(align - 1);
        let end = match self.end().checked_add(align - 1) {
            Some(e) => e & !(align - 1),
            None => !(align - 1),
        };
        Region::from_bounds(base, end)
    }
}

/// Raised when a [`RegionSet`] would need more entries than it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegionSetFull;

/// A sorted set of disjoint, non-empty ranges, at most `N` of them.
#[derive(Clone, Debug)]
pub struct RegionSet<const N: usize> {
    regions: [Region; N],
    len: usize,
}

impl<const N: usize> Default for RegionSet<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> RegionSet<N> {
    /// An empty set.
    pub const fn new() -> Self {
        Self {
            regions: [Region { base: 0, size: 0 }; N],
            len: 0,
        }
    }

    /// The ranges, sorted by base.
    pub fn as_slice(&self) -> &[Region] {
        &self.regions[..self.len]
    }

    /// Number of ranges.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Total bytes covered.
    pub fn total_bytes(&self) -> u64 {
        self.as_slice().iter().map(|r| r.size).sum()
    }

    /// Adds a range, merging it with any range it overlaps or touches.
    pub fn insert(&mut self, region: Region) -> Result<(), RegionSetFull> {
        if region.is_empty() {
            return Ok(());
        }
        let mut merged = region;
        let mut out = [Region::default(); N];
        let mut n = 0;
        let mut placed = false;
        for r in self.as_slice() {
            if r.end() < merged.base {
                out[n] = *r;
                n += 1;
            } else if merged.end() < r.base {
                if !placed {
                    if n == N {
                        return Err(RegionSetFull);
                    }
                    out[n] = merged;
                    n += 1;
                    placed = true;
                }
                if n == N {
                    return Err(RegionSetFull);
                }
                out[n] = *r;
                n += 1;
            } else {
                let base = merged.base.min(r.base);
                let end = merged.end().max(r.end());
                merged = Region::from_bounds(base, end);
            }
        }
        if !placed {
            if n == N {
                return Err(RegionSetFull);
            }
            out[n] = merged;
            n += 1;
        }
        self.regions = out;
        self.len = n;
        Ok(())
    }

    /// Removes every byte of `cut` from the set.
    pub fn remove(&mut self, cut: Region) -> Result<(), RegionSetFull> {
        if cut.is_empty() {
            return Ok(());
        }
        let mut out = [Region::default(); N];
        let mut n = 0;
        for r in self.as_slice() {
            if !r.overlaps(&cut) {
                if n == N {
                    return Err(RegionSetFull);
                }
                out[n] = *r;
                n += 1;
                continue;
            }
            let below = Region::from_bounds(r.base, cut.base);
            let above = Region::from_bounds(cut.end(), r.end());
            for part in [below, above] {
                if !part.is_empty() && r.contains(&part) {
                    if n == N {
                        return Err(RegionSetFull);
                    }
                    out[n] = part;
                    n += 1;
                }
            }
        }
        self.regions = out;
        self.len = n;
        Ok(())
    }

    /// Takes the lowest `2^size_bits`-aligned block of `2^size_bits` bytes
    /// out of the set and returns its base, or `None` if no range holds one.
    pub fn allocate_aligned(&mut self, size_bits: u32) -> Option<u64> {
        let size = 1u64.checked_shl(size_bits)?;
        let found = self.as_slice().iter().find_map(|r| {
            let base = r.base.checked_add(size - 1)? & !(size - 1);
            (base.checked_add(size)? <= r.end()).then_some(base)
        })?;
        self.remove(Region { base: found, size }).ok()?;
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(base: u64, end: u64) -> Region {
        Region::from_bounds(base, end)
    }

    #[test]
    fn insert_merges_touching_and_overlapping() {
        let mut s = RegionSet::<4>::new();
        s.insert(r(10, 20)).unwrap();
        s.insert(r(30, 40)).unwrap();
        s.insert(r(20, 25)).unwrap();
        assert_eq!(s.as_slice(), &[r(10, 25), r(30, 40)]);
        s.insert(r(24, 31)).unwrap();
        assert_eq!(s.as_slice(), &[r(10, 40)]);
        s.insert(r(0, 5)).unwrap();
        assert_eq!(s.as_slice(), &[r(0, 5), r(10, 40)]);
    }

    #[test]
    fn remove_splits() {
        let mut s = RegionSet::<4>::new();
        s.insert(r(0, 100)).unwrap();
        s.remove(r(10, 20)).unwrap();
        s.remove(r(90, 200)).unwrap();
        assert_eq!(s.as_slice(), &[r(0, 10), r(20, 90)]);
        assert_eq!(s.total_bytes(), 80);
    }

    #[test]
    fn capacity_is_reported_not_exceeded() {
        let mut s = RegionSet::<2>::new();
        s.insert(r(0, 1)).unwrap();
        s.insert(r(2, 3)).unwrap();
        assert_eq!(s.insert(r(4, 5)), Err(RegionSetFull));
        assert_eq!(s.as_slice(), &[r(0, 1), r(2, 3)]);
    }

    #[test]
    fn allocate_aligned_takes_lowest_fit() {
        let mut s = RegionSet::<4>::new();
        s.insert(r(0x1100, 0x5000)).unwrap();
        assert_eq!(s.allocate_aligned(12), Some(0x2000));
        assert_eq!(s.as_slice(), &[r(0x1100, 0x2000), r(0x3000, 0x5000)]);
        assert_eq!(s.allocate_aligned(14), None);
    }
}
