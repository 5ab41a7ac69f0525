//! Cutting free physical ranges into the naturally aligned power-of-two
//! blocks that boot untyped capabilities describe (docs/sel4-abi.md §4.1, §8.7).

use crate::region::{Region, RegionSet, RegionSetFull};

/// Smallest untyped the kernel hands out (seL4_MinUntypedBits).
pub const MIN_UNTYPED_BITS: u32 = 4;
/// Largest untyped the kernel hands out (seL4_MaxUntypedBits).
pub const MAX_UNTYPED_BITS: u32 = 47;
/// Top of the physical address space device untypeds cover (40-bit PA).
pub const PADDR_USER_DEVICE_TOP: u64 = 1 << 40;

/// One naturally aligned block: `[base, base + 2^size_bits)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// Base address, a multiple of `2^size_bits`.
    pub base: u64,
    /// log2 of the block size.
    pub size_bits: u32,
}

/// Iterates over the blocks that cover `region`, largest-aligned first from
/// the low end. Bytes that cannot form a block of at least
/// [`MIN_UNTYPED_BITS`] are left out.
pub fn blocks(region: Region) -> impl Iterator<Item = Block> {
    let min = 1u64 << MIN_UNTYPED_BITS;
    let mut base = region.base.saturating_add(min - 1) & !(min - 1);
    let end = region.end();
    core::iter::from_fn(move || {
        if base >= end || end - base < min {
            return None;
        }
        let align_bits = if base == 0 { 63 } else { base.trailing_zeros() };
        let fit_bits = 63 - (end - base).leading_zeros();
        let size_bits = align_bits.min(fit_bits).min(MAX_UNTYPED_BITS);
        let block = Block { base, size_bits };
        base += 1u64 << size_bits;
        Some(block)
    })
}

/// The physical ranges handed out as device untypeds: all of
/// `[0, PADDR_USER_DEVICE_TOP)` except `excluded` (RAM and the kernel's own
/// devices), each excluded range widened to whole `page`s. The kernel uses
/// this at boot; the system tools use it to simulate the allocation.
pub fn device_regions<'a>(
    excluded: impl IntoIterator<Item = &'a Region>,
    page: u64,
) -> Result<RegionSet<64>, RegionSetFull> {
    let mut device = RegionSet::<64>::new();
    device.insert(Region::from_bounds(0, PADDR_USER_DEVICE_TOP))?;
    for r in excluded {
        device.remove(r.aligned_out(page))?;
    }
    Ok(device)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_cover(region: Region) {
        let mut next = None;
        let mut covered = 0u64;
        for b in blocks(region) {
            assert_eq!(
                b.base % (1 << b.size_bits),
                0,
                "{b:?} not naturally aligned"
            );
            assert!((MIN_UNTYPED_BITS..=MAX_UNTYPED_BITS).contains(&b.size_bits));
            assert!(b.base >= region.base && b.base + (1 << b.size_bits) <= region.end());
            if let Some(n) = next {
                assert_eq!(b.base, n, "blocks must be contiguous");
            }
            next = Some(b.base + (1 << b.size_bits));
            covered += 1 << b.size_bits;
        }
        assert!(
            region.size - covered < 32,
            "lost more than the unaligned edges"
        );
    }

    #[test]
    fn device_regions_leave_out_ram_and_gic() {
        let ram = Region::from_bounds(0x4000_0000, 0x6000_0000);
        let gic = Region::from_bounds(0x0800_0000, 0x0802_0000);
        let d = device_regions([&ram, &gic], 0x1000).unwrap();
        assert_eq!(
            d.as_slice(),
            &[
                Region::from_bounds(0, 0x0800_0000),
                Region::from_bounds(0x0802_0000, 0x4000_0000),
                Region::from_bounds(0x6000_0000, PADDR_USER_DEVICE_TOP),
            ]
        );
    }

    #[test]
    fn ram_bank_is_one_block_when_aligned() {
        let v: Vec<_> = blocks(Region {
            base: 0x4000_0000,
            size: 1 << 30,
        })
        .collect();
        assert_eq!(
            v,
            vec![Block {
                base: 0x4000_0000,
                size_bits: 30
            }]
        );
    }

    #[test]
    fn unaligned_ranges_are_cut_into_aligned_blocks() {
        let v: Vec<_> = blocks(Region::from_bounds(0x4012_3000, 0x4100_0000)).collect();
        assert_eq!(
            v[0],
            Block {
                base: 0x4012_3000,
                size_bits: 12
            }
        );
        check_cover(Region::from_bounds(0x4012_3000, 0x4100_0000));
        check_cover(Region::from_bounds(0x0802_0000, 0x4000_0000));
        check_cover(Region::from_bounds(0, 0x0800_0000));
        check_cover(Region::from_bounds(0xc000_0000, PADDR_USER_DEVICE_TOP));
        check_cover(Region::from_bounds(17, 1000));
    }

    #[test]
    fn no_block_exceeds_2_pow_47() {
        let v: Vec<_> = blocks(Region::from_bounds(0, 1 << 49)).collect();
        assert_eq!(v.len(), 4);
        assert!(v.iter().all(|b| b.size_bits == 47));
    }

    #[test]
    fn tiny_and_empty_regions_give_nothing() {
        assert_eq!(blocks(Region { base: 3, size: 10 }).count(), 0);
        assert_eq!(
            blocks(Region {
                base: 0x1000,
                size: 0
            })
            .count(),
            0
        );
    }
}
