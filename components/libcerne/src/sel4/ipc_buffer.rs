//! The calling thread's IPC buffer (docs/sel4-abi.md §3.3): MR4 and up, extra
//! cap cptrs, unwrapped badges, and the receive path.
//!
//! Each thread keeps the address of its own buffer in its TLS register
//! TPIDR_EL0 — where libsel4 finds its `__sel4_ipc_buffer` too — set once
//! with [`set_ipc_buffer`] (a thread started with `WriteRegisters` gets it
//! through the `tpidr_el0` word of its UserContext). The kernel preserves
//! TPIDR_EL0 across system calls and context switches.

use cerne_abi::ipc_buffer::IpcBuffer;
use cerne_abi::message::{MSG_MAX_EXTRA_CAPS, MSG_MAX_LENGTH};
use cerne_abi::{CPtr, Word};

/// Records `buffer` as the calling thread's IPC buffer.
///
/// # Safety
/// `buffer` must be the thread's IPC buffer as the kernel knows it (the
/// TCB's buffer address), mapped read-write for as long as the thread uses
/// this module, and used by no other thread.
pub unsafe fn set_ipc_buffer(buffer: *mut IpcBuffer) {
    // SAFETY: writing TPIDR_EL0 at EL0 is always allowed and touches no
    // memory; the caller vouches for what the value points at.
    unsafe {
        core::arch::asm!("msr tpidr_el0, {}", in(reg) buffer as usize, options(nomem, nostack))
    };
}

/// The calling thread's IPC buffer address (null if never set).
pub fn ipc_buffer() -> *mut IpcBuffer {
    let p: usize;
    // SAFETY: reading TPIDR_EL0 at EL0 is always allowed.
    unsafe { core::arch::asm!("mrs {}, tpidr_el0", out(reg) p, options(nomem, nostack)) };
    p as *mut IpcBuffer
}

/// The buffer, asserting that this thread has one.
fn buf() -> *mut IpcBuffer {
    let p = ipc_buffer();
    assert!(
        !p.is_null(),
        "this thread has no IPC buffer (set_ipc_buffer)"
    );
    p
}

/// Reads word `index` of the buffer.
fn read(index: usize) -> Word {
    assert!(index < 128);
    let p = buf().cast::<Word>();
    // SAFETY: `set_ipc_buffer`'s contract makes the 1024-byte buffer valid
    // for this thread; index < 128 keeps the access inside it. Volatile,
    // because the kernel writes it behind the compiler's back.
    unsafe { p.add(index).read_volatile() }
}

/// Writes word `index` of the buffer.
fn write(index: usize, value: Word) {
    assert!(index < 128);
    let p = buf().cast::<Word>();
    // SAFETY: as in `read`.
    unsafe { p.add(index).write_volatile(value) }
}

const MSG: usize = core::mem::offset_of!(IpcBuffer, msg) / 8;
const CAPS: usize = core::mem::offset_of!(IpcBuffer, caps_or_badges) / 8;
const RECV_CNODE: usize = core::mem::offset_of!(IpcBuffer, receive_cnode) / 8;
const RECV_INDEX: usize = core::mem::offset_of!(IpcBuffer, receive_index) / 8;
const RECV_DEPTH: usize = core::mem::offset_of!(IpcBuffer, receive_depth) / 8;
const USER_DATA: usize = core::mem::offset_of!(IpcBuffer, user_data) / 8;

/// Message register `i` as stored in the buffer (`msg[i]`).
pub fn mr(i: usize) -> Word {
    assert!(i < MSG_MAX_LENGTH);
    read(MSG + i)
}

/// Stores message register `i` in the buffer.
pub fn set_mr(i: usize, value: Word) {
    assert!(i < MSG_MAX_LENGTH);
    write(MSG + i, value);
}

/// Extra cap cptr `i` for the next send.
pub fn set_cap(i: usize, cptr: CPtr) {
    assert!(i < MSG_MAX_EXTRA_CAPS);
    write(CAPS + i, cptr);
}

/// `caps_or_badges[i]`: an unwrapped badge after a receive.
pub fn badge(i: usize) -> Word {
    assert!(i < MSG_MAX_EXTRA_CAPS);
    read(CAPS + i)
}

/// Sets where a received cap lands: `index` at `depth` inside the CNode
/// `cnode` (itself resolved at depth 64).
pub fn set_receive_path(cnode: CPtr, index: CPtr, depth: Word) {
    write(RECV_CNODE, cnode);
    write(RECV_INDEX, index);
    write(RECV_DEPTH, depth);
}

/// The receive path as (cnode, index, depth).
pub fn receive_path() -> (CPtr, CPtr, Word) {
    (read(RECV_CNODE), read(RECV_INDEX), read(RECV_DEPTH))
}

/// The `userData` word (never touched by the kernel).
pub fn user_data() -> Word {
    read(USER_DATA)
}

/// Sets the `userData` word.
pub fn set_user_data(value: Word) {
    write(USER_DATA, value);
}

/// Writes `s` NUL-terminated from `msg[0]` (DebugNameThread's argument),
/// cut to fit the message area.
pub fn set_string(s: &str) {
    let max = MSG_MAX_LENGTH * 8 - 1;
    let bytes = &s.as_bytes()[..s.len().min(max)];
    let mut words = [0u64; MSG_MAX_LENGTH];
    for (i, b) in bytes.iter().enumerate() {
        words[i / 8] |= Word::from(*b) << (8 * (i % 8));
    }
    for (i, w) in words.iter().enumerate().take(bytes.len() / 8 + 1) {
        set_mr(i, *w);
    }
}
