//! The optional heap (feature `heap`): a global allocator over the heap
//! region the system description gives a component (`heap = "1M"`, mapped
//! at `addrs::HEAP`). A component that uses `alloc` calls [`init`] once,
//! first thing in main; an allocation that does not fit fails, and the
//! allocation-failure handler panics, which faults the component.

use linked_list_allocator::LockedHeap;

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Hands the heap region `base..base + size` to the allocator.
///
/// # Safety
///
/// The region is mapped read-write, used by nothing else, and `init` is
/// called once.
pub unsafe fn init(base: usize, size: usize) {
    // SAFETY: the caller vouches for the region and for calling once.
    unsafe { HEAP.lock().init(base as *mut u8, size) }
}

/// Bytes of the heap in use and free.
pub fn usage() -> (usize, usize) {
    let heap = HEAP.lock();
    (heap.used(), heap.free())
}
