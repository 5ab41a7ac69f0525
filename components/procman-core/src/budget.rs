//! How many bytes of untyped memory a set of kernel objects takes.
//!
//! `seL4_Untyped_Retype` places each object at the untyped's watermark
//! rounded up to the object's own size, so objects retyped in ascending
//! size order can leave gaps (a 4 KiB page then a 2 MiB page wastes almost
//! 2 MiB). Retyped in descending size order from a fresh untyped whose
//! size is at least the largest object, every object lands exactly at the
//! watermark: each size divides the sizes before it, so the watermark is
//! always a multiple of the next object's size. The budget is then the sum
//! of the objects' sizes.

/// The untyped bytes needed to retype objects of the given size bits (each
/// object takes `2^bits` bytes) from a fresh, aligned untyped, when they are
/// retyped in descending size order, which leaves no alignment gap.
///
/// The sum saturates at `u64::MAX`, as does an object of 64 bits or more:
/// no untyped is that large, so the caller's check against its pool fails.
pub fn bytes_for(object_bits: &[u8]) -> u64 {
    object_bits
        .iter()
        .map(|&bits| 1u64.checked_shl(u32::from(bits)).unwrap_or(u64::MAX))
        .fold(0u64, u64::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Where `seL4_Untyped_Retype` leaves the watermark of a fresh untyped
    /// after retyping objects of these size bits one after the other.
    fn watermark_after(object_bits: &[u8]) -> u64 {
        object_bits.iter().fold(0u64, |watermark, &bits| {
            let size = 1u64 << bits;
            watermark.next_multiple_of(size) + size
        })
    }

    #[test]
    fn examples() {
        assert_eq!(bytes_for(&[]), 0);
        // A TCB (11 bits), a page (12) and an endpoint (4).
        assert_eq!(bytes_for(&[11, 12, 4]), 2048 + 4096 + 16);
        assert_eq!(bytes_for(&[64]), u64::MAX);
        assert_eq!(bytes_for(&[63, 63]), u64::MAX);
    }

    #[test]
    fn ascending_order_leaves_a_gap_and_descending_does_not() {
        let ascending = [12, 21];
        assert_eq!(watermark_after(&ascending), 2 << 21);
        assert_eq!(watermark_after(&[21, 12]), (1 << 21) + (1 << 12));
        assert_eq!(bytes_for(&ascending), (1 << 21) + (1 << 12));
    }

    proptest! {
        #[test]
        fn descending_order_is_gap_free(mut bits in proptest::collection::vec(4u8..=30, 0..40)) {
            bits.sort_unstable_by(|a, b| b.cmp(a));
            let sum: u64 = bits.iter().map(|&b| 1u64 << b).sum();
            prop_assert_eq!(watermark_after(&bits), sum);
            prop_assert_eq!(bytes_for(&bits), sum);
        }

        #[test]
        fn any_order_needs_at_least_the_budget(bits in proptest::collection::vec(4u8..=30, 0..40)) {
            let sum: u64 = bits.iter().map(|&b| 1u64 << b).sum();
            prop_assert_eq!(bytes_for(&bits), sum);
            prop_assert!(watermark_after(&bits) >= sum);
        }
    }
}
