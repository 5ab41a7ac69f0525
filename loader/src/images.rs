//! The kernel and root-task ELF images, embedded at build time from the
//! files `CERNE_KERNEL_ELF` and `CERNE_ROOTTASK_ELF` name (see build.rs).

/// Aligns embedded bytes so the ELF parser reads headers in place.
#[repr(C, align(4096))]
struct Aligned<Bytes: ?Sized>(Bytes);

static KERNEL: &Aligned<[u8]> = &Aligned(*include_bytes!(env!("CERNE_LOADER_KERNEL_PATH")));
static ROOT_TASK: &Aligned<[u8]> = &Aligned(*include_bytes!(env!("CERNE_LOADER_ROOTTASK_PATH")));

/// The kernel ELF.
pub fn kernel() -> &'static [u8] {
    &KERNEL.0
}

/// The root-task ELF.
pub fn root_task() -> &'static [u8] {
    &ROOT_TASK.0
}
