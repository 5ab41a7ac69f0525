//! Program entry: `_start` sets up the stack and calls the program's main.
//!
//! The kernel starts a root task with x0 = BootInfo address and SP_EL0 = 0
//! (SEL4-ABI.md §8.9), so the runtime provides a stack. A component started
//! by the capDL initializer gets its stack pointer from its spec (the TOML's
//! `stack`), and `_start` keeps it: the static stack is only used when SP is
//! zero.

/// Bytes of the initial stack.
pub const STACK_SIZE: usize = 64 * 1024;

/// The initial stack.
#[repr(C, align(16))]
pub struct Stack(pub [u8; STACK_SIZE]);

/// The stack `_start` switches to.
#[unsafe(no_mangle)]
pub static mut CERNE_USER_STACK: Stack = Stack([0; STACK_SIZE]);

#[cfg(all(target_arch = "aarch64", feature = "boot-bench"))]
core::arch::global_asm!(
    r#"
    .section .text.start, "ax"
    .global _start
_start:
    mrs     x1, pmccntr_el0
    b       cerne_start_common
"#
);

#[cfg(all(target_arch = "aarch64", not(feature = "boot-bench")))]
core::arch::global_asm!(
    r#"
    .section .text.start, "ax"
    .global _start
_start:
    mov     x1, xzr
    b       cerne_start_common
"#
);

#[cfg(target_arch = "aarch64")]
core::arch::global_asm!(
    r#"
    .text
cerne_start_common:
    mov     x9, sp
    cbnz    x9, 2f
    adrp    x9, CERNE_USER_STACK
    add     x9, x9, :lo12:CERNE_USER_STACK
    add     x9, x9, #{size}
    mov     sp, x9
2:  bl      cerne_main
1:  b       1b
"#,
    size = const STACK_SIZE,
);

/// Declares the program's main: `entry!(main)` with
/// `fn main(arg: usize, cycles_at_entry: u64) -> !`. `arg` is what the kernel
/// put in x0 (the BootInfo address for a root task); `cycles_at_entry` is
/// the PMU cycle counter at the first instruction with the `boot-bench`
/// feature, else 0.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(no_mangle)]
        extern "C" fn cerne_main(arg: usize, cycles_at_entry: u64) -> ! {
            $main(arg, cycles_at_entry)
        }

        #[panic_handler]
        fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
            $crate::debug::report_panic(info)
        }
    };
}
