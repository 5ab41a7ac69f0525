//! Program entry: `_start` sets up the stack and calls the program's main.
//!
//! The kernel starts a root task with x0 = BootInfo address and SP_EL0 = 0
//! (docs/sel4-abi.md §8.9), so the runtime provides a stack. A component started
//! by the capDL initializer gets its stack pointer from its spec (the TOML's
//! `stack`), and `_start` keeps it: the static stack is only used when SP is
//! zero.

/// Bytes of the static stack [`entry!`] gives a program by default.
pub const STACK_SIZE: usize = 64 * 1024;

/// A static stack of `N` bytes.
#[repr(C, align(16))]
pub struct Stack<const N: usize>(pub [u8; N]);

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
    adrp    x10, CERNE_USER_STACK_SIZE
    ldr     x10, [x10, :lo12:CERNE_USER_STACK_SIZE]
    add     x9, x9, x10
    mov     sp, x9
2:  bl      cerne_main
1:  b       1b
"#
);

/// Declares the program's main: `entry!(main)` with
/// `fn main(arg: usize, cycles_at_entry: u64) -> !`. `arg` is what the kernel
/// put in x0 (the BootInfo address for a root task); `cycles_at_entry` is
/// the PMU cycle counter at the first instruction with the `boot-bench`
/// feature, else 0.
///
/// The program gets a static stack of [`STACK_SIZE`] bytes, used when it
/// starts with SP = 0 (a root task). A component whose spec gives its stack
/// writes `entry!(main, static_stack = 0)` and carries none. A panic goes
/// to [`crate::debug::report_panic`], or to the handler named with
/// `panic = path` (what [`crate::program!`] does).
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        $crate::entry!($main, static_stack = $crate::start::STACK_SIZE);
    };
    ($main:path, static_stack = $size:expr) => {
        $crate::entry!(
            $main,
            static_stack = $size,
            panic = $crate::debug::report_panic
        );
    };
    ($main:path, static_stack = $size:expr, panic = $report:path) => {
        /// The stack `_start` switches to when the program starts with SP = 0.
        #[unsafe(no_mangle)]
        static mut CERNE_USER_STACK: $crate::start::Stack<{ $size }> =
            $crate::start::Stack([0; $size]);
        /// Its size, read by `_start`.
        #[unsafe(no_mangle)]
        static CERNE_USER_STACK_SIZE: usize = $size;

        #[unsafe(no_mangle)]
        extern "C" fn cerne_main(arg: usize, cycles_at_entry: u64) -> ! {
            $main(arg, cycles_at_entry)
        }

        #[panic_handler]
        fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
            $report(info)
        }
    };
}
