//! Physical memory: the one module of the object model that uses `unsafe`.
//!
//! Every kernel object lives in physical memory and is named by its physical
//! address. [`PhysMem`] turns such an address into a typed access. In the
//! kernel it covers the kernel window (virtual = physical + a constant
//! offset); on the host it covers a word slice that a test or proof allocated
//! and placed at a chosen physical base. Accesses copy values in and out
//! (`read` / `write`), so no two references into object memory ever coexist;
//! the only reference handed out, `user_context_mut`, borrows the `PhysMem`
//! mutably for its whole life. Every access is bounds-checked against the
//! covered range: an address outside it is a kernel bug (object addresses
//! only come from caps the kernel created), so it panics rather than touching
//! memory it does not own.

use crate::layout::{UserContext, TCB_CONTEXT_OFFSET};
use core::marker::PhantomData;
use zerocopy::{FromBytes, Immutable, IntoBytes};

/// Access to a range of physical memory that holds kernel objects.
///
/// Deliberately neither `Clone` nor `Sync`: one `PhysMem` per range, used
/// from one thread, so `&mut self` excludes every other access.
pub struct PhysMem<'a> {
    /// Virtual address of `phys_base`; carries the provenance of the range.
    base: *mut u8,
    /// First physical address covered.
    phys_base: u64,
    /// Bytes covered.
    size: u64,
    _owner: PhantomData<&'a mut [u64]>,
}

/// The failure of [`PhysMem::ptr`]'s bounds check: a kernel bug (object
/// addresses only come from caps the kernel created), reported out of line.
#[cold]
#[inline(never)]
fn out_of_range(paddr: u64, len: u64) -> ! {
    panic!("object memory access outside physical memory: {paddr:#x}+{len:#x}")
}

/// The failure of the alignment check of [`PhysMem::read`] / `write`: a
/// kernel bug like an out-of-range address (every object is aligned to its
/// size, every field to a word, an IPC buffer to 512 bytes), reported out
/// of line.
#[cold]
#[inline(never)]
fn misaligned(paddr: u64, align: usize) -> ! {
    panic!("misaligned object memory access: {paddr:#x} (alignment {align})")
}

/// One kernel object's memory, checked once: `[paddr, paddr + SIZE)` lies
/// inside the [`PhysMem`] it was made from ([`PhysMem::obj`]) and `paddr` is
/// word-aligned. Word accesses at an offset the compiler knows (a field)
/// then need no check at run time: `offset + 8 <= SIZE` folds away, so a
/// field read is one load, as in seL4, where the cap vouches for the
/// address. An offset known only at run time costs one compare against
/// the constant `SIZE`. Memory safety does not rest on the caller: every
/// access stays inside the checked extent, which the `PhysMem` still
/// owns, since the handle borrows it (so `user_context_mut`, which needs
/// `&mut PhysMem`, cannot run while a handle lives).
#[derive(Clone, Copy)]
pub struct Obj<'m, const SIZE: u64> {
    /// Virtual address of `paddr`, derived from the `PhysMem`'s base.
    p: *mut u8,
    /// Physical address of the object.
    paddr: u64,
    _mem: PhantomData<&'m ()>,
}

impl<const SIZE: u64> Obj<'_, SIZE> {
    /// The object's physical address.
    #[inline(always)]
    pub fn paddr(&self) -> u64 {
        self.paddr
    }

    /// Pointer to the word at `off`, after the (usually constant-folded)
    /// check that it lies inside the object and is word-aligned.
    #[inline(always)]
    fn word_ptr(&self, off: u64) -> *mut u64 {
        if !off.is_multiple_of(8) || off >= SIZE || SIZE - off < 8 {
            out_of_object(self.paddr, off);
        }
        // `off + 8 <= SIZE` (checked above) and `[p, p + SIZE)` is inside the
        // covered range (checked when the handle was made).
        self.p.wrapping_add(off as usize).cast::<u64>()
    }

    /// Reads the word at byte offset `off` of the object.
    #[inline(always)]
    pub fn word(&self, off: u64) -> u64 {
        let p = self.word_ptr(off);
        // SAFETY: `p` is 8 bytes inside the object (checked by `word_ptr`),
        // whose extent lies in the covered range (checked by `PhysMem::obj`)
        // and is word-aligned there, so `p` is aligned; the range is owned
        // by the `PhysMem` this handle borrows, and no reference into it is
        // live (`user_context_mut` needs `&mut PhysMem`, excluded by the
        // borrow). Any bits are a valid u64.
        unsafe { p.read() }
    }

    /// Writes the word at byte offset `off` of the object.
    #[inline(always)]
    pub fn set_word(&self, off: u64, value: u64) {
        let p = self.word_ptr(off);
        // SAFETY: as in `word`; any bits are fine in object memory.
        unsafe { p.write(value) }
    }
}

/// The failure of an [`Obj`] access check: an offset outside the object, a
/// kernel bug (field offsets are constants checked against the layout).
#[cold]
#[inline(never)]
fn out_of_object(paddr: u64, off: u64) -> ! {
    panic!("object memory access outside the object at {paddr:#x}: offset {off:#x}")
}

impl PhysMem<'static> {
    /// The kernel window: physical `[phys_start, phys_end)` mapped at
    /// `phys + window_offset` (0xFFFF_FF80_0000_0000 on Cerne).
    ///
    /// # Safety
    /// The whole range must be mapped read-write at that offset for as long
    /// as the result is used, hold no Rust object, and no other `PhysMem` for
    /// an overlapping range may be in use at the same time (the kernel makes
    /// one per kernel entry, under its lock).
    pub const unsafe fn kernel_window(window_offset: u64, phys_start: u64, phys_end: u64) -> Self {
        Self {
            base: phys_start.wrapping_add(window_offset) as usize as *mut u8,
            phys_base: phys_start,
            size: phys_end.saturating_sub(phys_start),
            _owner: PhantomData,
        }
    }
}

impl<'a> PhysMem<'a> {
    /// A simulated physical memory: `words` placed at physical `phys_base`.
    /// `None` if `phys_base` is not 8-byte aligned or the range would wrap.
    pub fn from_words(words: &'a mut [u64], phys_base: u64) -> Option<Self> {
        let size = (words.len() as u64).checked_mul(8)?;
        if !phys_base.is_multiple_of(8) || phys_base.checked_add(size).is_none() {
            return None;
        }
        Some(Self {
            base: words.as_mut_ptr().cast::<u8>(),
            phys_base,
            size,
            _owner: PhantomData,
        })
    }

    /// First physical address covered.
    pub fn phys_base(&self) -> u64 {
        self.phys_base
    }

    /// One past the last physical address covered.
    pub fn phys_end(&self) -> u64 {
        self.phys_base + self.size
    }

    /// True when `[paddr, paddr + len)` lies inside the covered range.
    pub fn contains(&self, paddr: u64, len: u64) -> bool {
        paddr >= self.phys_base
            && paddr
                .checked_add(len)
                .is_some_and(|end| end <= self.phys_base + self.size)
    }

    /// The virtual address at which `paddr` is accessed (for the kernel's
    /// assembly, e.g. the register save area of the current thread).
    pub fn virt_addr(&self, paddr: u64) -> usize {
        (self.base as usize).wrapping_add(paddr.wrapping_sub(self.phys_base) as usize)
    }

    /// Pointer to `len` bytes at `paddr`, after the bounds check.
    ///
    /// The check is the whole of what keeps an access inside the range, so
    /// it stays on every access that does not go through an [`Obj`]; it is
    /// one subtraction and two compares (`paddr - phys_base + len <= size`
    /// without wrapping: an address below `phys_base` wraps to an offset
    /// above `size`), and its panic is out of line and cold, so the hot
    /// paths carry no formatting code and the copies around them can be
    /// scheduled freely.
    #[inline(always)]
    fn ptr(&self, paddr: u64, len: u64) -> *mut u8 {
        let off = paddr.wrapping_sub(self.phys_base);
        match off.checked_add(len) {
            Some(end) if end <= self.size => {}
            _ => out_of_range(paddr, len),
        }
        // `wrapping_add` keeps the provenance of `base`; the check above
        // puts `[result, result + len)` inside the covered range.
        self.base.wrapping_add(off as usize)
    }

    /// A handle on the `SIZE`-byte object at `paddr`, checked once here
    /// (in range, word-aligned); see [`Obj`].
    #[inline(always)]
    pub fn obj<const SIZE: u64>(&self, paddr: u64) -> Obj<'_, SIZE> {
        let p = self.ptr(paddr, SIZE);
        if !(p as usize).is_multiple_of(8) {
            misaligned(paddr, 8);
        }
        Obj {
            p,
            paddr,
            _mem: PhantomData,
        }
    }

    /// Copies a `T` out of physical memory.
    ///
    /// The read is a typed, aligned load (one `ldr` for a word): the target
    /// has `+strict-align`, where an unaligned-tolerant read of a `u64`
    /// costs eight byte loads. Object memory is laid out aligned (objects
    /// at multiples of their size, fields at word offsets, IPC buffers at
    /// 512 bytes), so a `T` at an address not aligned for it is a kernel
    /// bug and panics, as an address outside the range does. There is
    /// deliberately no unaligned fallback: a second way to produce the
    /// value keeps the compiler from reading only the fields a caller uses
    /// (it must then materialise the whole `T`), and an inline one is merged
    /// with the aligned load into byte loads.
    #[inline]
    pub fn read<T: FromBytes>(&self, paddr: u64) -> T {
        let p = self.ptr(paddr, size_of::<T>() as u64).cast::<T>();
        if !p.is_aligned() {
            misaligned(paddr, align_of::<T>());
        }
        // SAFETY: `p` points at size_of::<T>() bytes inside the covered
        // range (checked by `ptr`) and is aligned for `T` (checked just
        // above); the range is exclusively owned by this `PhysMem` and no
        // reference into it is live (the only one, from `user_context_mut`,
        // borrows `self` mutably). `T: FromBytes`, so any bytes are a valid
        // `T`.
        unsafe { p.read() }
    }

    /// Copies a `T` into physical memory: typed, aligned stores, under the
    /// same checks as [`read`](Self::read).
    #[inline]
    pub fn write<T: IntoBytes + Immutable>(&self, paddr: u64, value: &T) {
        let p = self.ptr(paddr, size_of::<T>() as u64).cast::<T>();
        if !p.is_aligned() {
            misaligned(paddr, align_of::<T>());
        }
        // SAFETY: size_of::<T>() bytes at `p` are in range (checked by
        // `ptr`), aligned for `T` (checked above), exclusively owned and
        // unreferenced (see `read`), and cannot overlap `value` (object
        // memory holds no Rust object). `T: IntoBytes` has no padding, and
        // any byte pattern is fine in object memory, which is only read back
        // as `FromBytes` types.
        unsafe { core::ptr::copy_nonoverlapping(value as *const T, p, 1) }
    }

    /// Reads the word at `paddr`.
    #[inline]
    pub fn read_word(&self, paddr: u64) -> u64 {
        self.read::<u64>(paddr)
    }

    /// Writes the word at `paddr`.
    #[inline]
    pub fn write_word(&self, paddr: u64, value: u64) {
        self.write(paddr, &value);
    }

    /// Zeroes `len` bytes at `paddr`.
    pub fn zero(&self, paddr: u64, len: u64) {
        let p = self.ptr(paddr, len);
        // SAFETY: in range, exclusively owned and unreferenced (see `read`);
        // bytes have no validity requirement.
        unsafe { core::ptr::write_bytes(p, 0, len as usize) }
    }

    /// True when `len` bytes at `paddr` are all zero.
    pub fn is_zero(&self, paddr: u64, len: u64) -> bool {
        let end = paddr + len;
        let mut a = paddr;
        while a < end {
            if a.is_multiple_of(8) && a + 8 <= end {
                if self.read::<u64>(a) != 0 {
                    return false;
                }
                a += 8;
            } else {
                if self.read::<u8>(a) != 0 {
                    return false;
                }
                a += 1;
            }
        }
        true
    }

    /// The register save area of the TCB at `tcb`, as a reference. Borrowing
    /// `self` mutably keeps every other access out while it lives.
    pub fn user_context_mut(&mut self, tcb: u64) -> &mut UserContext {
        let paddr = tcb + TCB_CONTEXT_OFFSET;
        let p = self.ptr(paddr, size_of::<UserContext>() as u64);
        assert!(
            (p as usize).is_multiple_of(align_of::<UserContext>()),
            "misaligned TCB"
        );
        // SAFETY: in range and aligned (checked above); the range is owned
        // by this `PhysMem` and `&mut self` guarantees no other access or
        // reference for the returned lifetime; UserContext is plain words,
        // valid for any bytes.
        unsafe { &mut *p.cast::<UserContext>() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_write_round_trip_and_bounds() {
        let mut words = [0u64; 16];
        let mem = PhysMem::from_words(&mut words, 0x1000).unwrap();
        mem.write_word(0x1008, 0xdead_beef);
        assert_eq!(mem.read_word(0x1008), 0xdead_beef);
        assert_eq!(mem.read::<u32>(0x100c), 0);
        assert!(mem.contains(0x1000, 128));
        assert!(!mem.contains(0x1000, 129));
        assert!(!mem.contains(0xfff, 1));
        assert!(!mem.contains(u64::MAX, 2));
        assert!(!mem.is_zero(0x1000, 128));
        assert!(!mem.is_zero(0x100b, 1), "byte-wise tail");
        assert!(mem.is_zero(0x1010, 0x70));
        mem.write_word(0x1018, 0xff00);
        assert!(mem.is_zero(0x1018, 1), "only the first byte is asked about");
        assert!(!mem.is_zero(0x1018, 2));
        mem.write_word(0x1018, 0);
        mem.zero(0x1008, 8);
        assert!(mem.is_zero(0x1000, 128));
        assert_eq!(mem.phys_end(), 0x1080);
        assert_eq!(mem.virt_addr(0x1010) - mem.virt_addr(0x1000), 0x10);
    }

    #[test]
    fn narrow_accesses_at_their_own_alignment() {
        let mut words = [0u64; 4];
        let mem = PhysMem::from_words(&mut words, 0x1000).unwrap();
        mem.write_word(0x1008, 0x1122_3344_5566_7788);
        assert_eq!(mem.read::<u32>(0x1008), 0x5566_7788);
        assert_eq!(mem.read::<u32>(0x100c), 0x1122_3344);
        mem.write(0x1011, &[0xabu8, 0xcd]);
        assert_eq!(mem.read::<u8>(0x1012), 0xcd);
        assert_eq!(mem.read_word(0x1010), 0xcdab00);
    }

    #[test]
    #[should_panic(expected = "misaligned")]
    fn misaligned_read_is_refused() {
        let mut words = [0u64; 4];
        let mem = PhysMem::from_words(&mut words, 0x1000).unwrap();
        mem.read_word(0x1004);
    }

    #[test]
    #[should_panic(expected = "misaligned")]
    fn misaligned_write_is_refused() {
        let mut words = [0u64; 4];
        let mem = PhysMem::from_words(&mut words, 0x1000).unwrap();
        mem.write(0x1002, &7u32);
    }

    #[test]
    fn object_handles() {
        let mut words = [0u64; 8];
        let mem = PhysMem::from_words(&mut words, 0x1000).unwrap();
        let o = mem.obj::<32>(0x1020);
        o.set_word(8, 5);
        assert_eq!(o.word(8), 5);
        assert_eq!(o.paddr(), 0x1020);
        assert_eq!(mem.read_word(0x1028), 5);
        o.set_word(24, 6);
        assert_eq!(mem.read_word(0x1038), 6);
    }

    #[test]
    #[should_panic(expected = "outside the object")]
    fn object_handle_offsets_are_checked() {
        let mut words = [0u64; 8];
        let mem = PhysMem::from_words(&mut words, 0x1000).unwrap();
        let o = mem.obj::<16>(0x1000);
        core::hint::black_box(o.word(core::hint::black_box(16)));
    }

    #[test]
    #[should_panic(expected = "outside physical memory")]
    fn object_handles_are_checked_when_made() {
        let mut words = [0u64; 8];
        let mem = PhysMem::from_words(&mut words, 0x1000).unwrap();
        mem.obj::<64>(0x1008);
    }

    #[test]
    #[should_panic(expected = "outside physical memory")]
    fn out_of_range_access_is_refused() {
        let mut words = [0u64; 4];
        let mem = PhysMem::from_words(&mut words, 0x1000).unwrap();
        mem.read_word(0x1020);
    }

    #[test]
    fn bad_bases_are_refused() {
        let mut words = [0u64; 4];
        assert!(PhysMem::from_words(&mut words, 3).is_none());
        assert!(PhysMem::from_words(&mut words, u64::MAX - 7).is_none());
    }

    #[test]
    fn kernel_window_is_const() {
        // SAFETY: never dereferenced; only address arithmetic is checked.
        const W: PhysMem<'static> =
            unsafe { PhysMem::kernel_window(0xFFFF_FF80_0000_0000, 0x4000_0000, 0x8000_0000) };
        assert_eq!(W.virt_addr(0x4000_1000), 0xFFFF_FF80_4000_1000);
        assert_eq!(W.phys_end(), 0x8000_0000);
    }
}
