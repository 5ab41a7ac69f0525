//! System registers, cache maintenance, the MMU switch and the jump into
//! the kernel.
//!
//! Cache maintenance is by address range, not by set/way: the loader knows
//! exactly what it wrote, and the range operations cost a few thousand
//! instructions where a set/way sweep of QEMU's cortex-a53 caches costs
//! about 100 000 (they count in the boot-to-root-task figure).

use core::arch::asm;

use aarch64_cpu::asm::barrier;
use aarch64_cpu::registers::{
    Readable, Writeable, ID_AA64MMFR0_EL1, MAIR_EL1, SCTLR_EL1, TCR_EL1, TTBR0_EL1, TTBR1_EL1,
    VBAR_EL1,
};
use cerne_plat::pagetable::{tcr_value, MAIR_VALUE, SCTLR_C, SCTLR_I, SCTLR_M};
use cerne_plat::region::Region;

/// Points VBAR_EL1 at the loader's vector table.
pub fn install_vectors() {
    extern "C" {
        static loader_vectors: u8;
    }
    let vectors = core::ptr::addr_of!(loader_vectors) as u64;
    VBAR_EL1.set(vectors);
    barrier::isb(barrier::SY);
}

/// PMCCNTR_EL0: instructions since reset under `-icount shift=0` (the entry
/// code enables the counter first thing).
pub fn cycle_counter() -> u64 {
    let value: u64;
    // SAFETY: reading PMCCNTR_EL0 has no side effects; EL1 may read it.
    unsafe { asm!("mrs {}, pmccntr_el0", out(reg) value, options(nomem, nostack)) };
    value
}

/// ID_AA64MMFR0_EL1.PARange.
pub fn pa_range() -> u64 {
    ID_AA64MMFR0_EL1.read(ID_AA64MMFR0_EL1::PARange)
}

/// Data-cache operation by virtual address (to the point of coherency).
#[derive(Clone, Copy)]
enum CacheOp {
    /// DC IVAC: invalidate.
    Invalidate,
    /// DC CIVAC: clean and invalidate.
    CleanInvalidate,
}

/// Smallest data-cache line in bytes (CTR_EL0.DminLine).
fn dcache_line() -> u64 {
    let ctr: u64;
    // SAFETY: reading CTR_EL0 has no side effects.
    unsafe { asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack)) };
    4 << ((ctr >> 16) & 0xF)
}

/// Applies `op` to every data-cache line holding part of `ranges`
/// (identity-mapped, or physical with the MMU off).
fn dcache_ranges(op: CacheOp, ranges: &[Region]) {
    let line = dcache_line();
    barrier::dsb(barrier::SY);
    for range in ranges {
        let mut address = range.base & !(line - 1);
        while address < range.end() {
            match op {
                // SAFETY: invalidation discards cached copies; the loader
                // writes these ranges with the data cache off, so memory
                // holds the data and no line has anything newer.
                CacheOp::Invalidate => unsafe {
                    asm!("dc ivac, {}", in(reg) address, options(nostack))
                },
                // SAFETY: clean and invalidate writes dirty lines back and
                // drops them; memory contents are unchanged.
                CacheOp::CleanInvalidate => unsafe {
                    asm!("dc civac, {}", in(reg) address, options(nostack))
                },
            }
            address += line;
        }
    }
    barrier::dsb(barrier::SY);
}

/// Invalidates the whole instruction cache to the point of unification.
fn invalidate_icache() {
    // SAFETY: IC IALLU only drops instruction-cache contents.
    unsafe { asm!("ic iallu", "dsb sy", "isb", options(nostack)) };
}

/// Programs MAIR_EL1, TCR_EL1 (IPS from ID_AA64MMFR0_EL1.PARange) and both
/// TTBRs, invalidates the TLB, the instruction cache and the data-cache
/// lines of `written` (everything written with the caches off that is read
/// afterwards: placed images, tables, the loader's data and stack, so no
/// stale line from an earlier stage shadows it), and turns on the MMU and
/// the caches (SCTLR_EL1.M, C, I). The identity map in `ttbr0` must cover
/// the loader's code, stack and everything it touches afterwards.
pub fn enable_mmu(ttbr0: u64, ttbr1: u64, written: &[Region]) {
    MAIR_EL1.set(MAIR_VALUE);
    TCR_EL1.set(tcr_value(pa_range()));
    TTBR0_EL1.set(ttbr0);
    TTBR1_EL1.set(ttbr1);
    dcache_ranges(CacheOp::Invalidate, written);
    invalidate_icache();
    // SAFETY: drops all EL1&0 TLB entries; nothing is translated yet.
    unsafe { asm!("tlbi vmalle1", "dsb sy", "isb", options(nostack)) };
    let sctlr = SCTLR_EL1.get() | SCTLR_M | SCTLR_C | SCTLR_I;
    // SAFETY: the identity map in TTBR0 covers the code executing now, its
    // stack and statics, so execution continues at the same addresses.
    unsafe { asm!("msr sctlr_el1, {}", "isb", in(reg) sctlr, options(nostack)) };
}

/// Cleans to the point of coherency what the kernel is handed (`handed`:
/// its image, the DTB, the root task, the boot tables) and invalidates the
/// instruction cache (the state §10.2 promises at kernel entry), then calls
/// the kernel's entry point with the hand-off registers x0..x5, at EL1h
/// with DAIF masked.
pub fn enter_kernel(entry: u64, args: [u64; 6], handed: &[Region]) -> ! {
    dcache_ranges(CacheOp::CleanInvalidate, handed);
    invalidate_icache();
    // SAFETY: the kernel image is loaded and mapped at `entry` through
    // TTBR1, and this is the last thing the loader does.
    unsafe {
        asm!(
            "msr daifset, #0xf",
            "br {entry}",
            entry = in(reg) entry,
            in("x0") args[0],
            in("x1") args[1],
            in("x2") args[2],
            in("x3") args[3],
            in("x4") args[4],
            in("x5") args[5],
            options(noreturn),
        )
    }
}

/// Stops this CPU for good.
pub fn halt() -> ! {
    loop {
        aarch64_cpu::asm::wfe();
    }
}
