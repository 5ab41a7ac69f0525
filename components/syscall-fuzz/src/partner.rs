//! The victim's partner: a second thread in the victim's CSpace, below the
//! victim's priority and above the root task's, so that it runs exactly
//! when the victim has blocked. It gives the victim's IPC someone at the
//! other end: it receives on the victim's endpoint (with a random receive
//! slot in the victim's CNode), replies to the victim's Calls, and sends
//! to the endpoint, each time with random words and random extra caps
//! taken from the victim's slots — so cap transfer, Grant, unwrapping and
//! reply caps are exercised. Its choices come from its own PRNG stream,
//! in statics, so the run stays reproducible.
//!
//! The victim holds no cap to the partner's TCB. When the partner faults
//! (the victim deleted the endpoint, say), the root task parks it until
//! the victim's next restart.

use crate::config;
use crate::layout;
use crate::plan;
use crate::rng::Rng;
use cerne_abi::ipc_buffer::IpcBuffer;
use cerne_abi::message::{MessageInfo, MSG_MAX_EXTRA_CAPS};
use cerne_abi::syscall::Syscall;
use cerne_abi::Word;
use core::sync::atomic::{AtomicU64, Ordering::SeqCst};
use libcerne::sel4::syscall::raw_syscall;

/// The partner's PRNG state.
pub static RNG_STATE: AtomicU64 = AtomicU64::new(config::SEED ^ 0x9a27_4e72_d00d_f00d);
/// Messages the partner received.
pub static RECEIVED: AtomicU64 = AtomicU64::new(0);

const STACK_SIZE: usize = 16 * 1024;
const PAGE_SIZE: usize = 4096;

#[repr(C, align(16))]
struct Stack([u8; STACK_SIZE]);
static mut STACK: Stack = Stack([0; STACK_SIZE]);

#[repr(C, align(4096))]
struct Page([u8; PAGE_SIZE]);
static mut IPC_PAGE: Page = Page([0; PAGE_SIZE]);

/// Where the partner starts.
pub fn entry_address() -> Word {
    partner_entry as *const () as Word
}

/// Top of the partner's stack.
pub fn stack_top() -> Word {
    (&raw const STACK) as Word + STACK_SIZE as Word
}

/// The partner's IPC buffer vaddr.
pub fn ipc_buffer() -> Word {
    (&raw const IPC_PAGE) as Word
}

fn set_buffer_word(index: usize, value: Word) {
    assert!(index < core::mem::size_of::<IpcBuffer>() / 8);
    let p = ((&raw mut IPC_PAGE) as *mut Word).wrapping_add(index);
    // SAFETY: `p` lies inside the partner's IPC page, which only this
    // thread and the kernel write (hence volatile).
    unsafe { p.write_volatile(value) }
}

const MSG: usize = core::mem::offset_of!(IpcBuffer, msg) / 8;
const CAPS: usize = core::mem::offset_of!(IpcBuffer, caps_or_badges) / 8;
const RECV_CNODE: usize = core::mem::offset_of!(IpcBuffer, receive_cnode) / 8;

/// The partner's loop.
extern "C" fn partner_entry() -> ! {
    let free = layout::CNODE_SLOTS - layout::FIRST_FREE;
    loop {
        let mut rng = Rng::new(RNG_STATE.load(SeqCst));
        let ep = rng.pick(&[layout::ENDPOINT, layout::BADGED_ENDPOINT]);
        let recv = [
            layout::CNODE,
            layout::FIRST_FREE + rng.below(free),
            if rng.chance(90) { 64 } else { rng.below(70) },
        ];
        for (i, r) in recv.iter().enumerate() {
            set_buffer_word(RECV_CNODE + i, *r);
        }
        let caps = rng.below(MSG_MAX_EXTRA_CAPS as Word + 1);
        for i in 0..MSG_MAX_EXTRA_CAPS {
            set_buffer_word(CAPS + i, 1 + rng.below(layout::FIRST_FREE - 1));
        }
        let len = rng.below(9);
        let mut regs = [0; 4];
        for i in 0..len as usize {
            let w = plan::word(&mut rng);
            if let Some(r) = regs.get_mut(i) {
                *r = w;
            }
            set_buffer_word(MSG + i, w);
        }
        let info = MessageInfo::new(rng.next() >> 12, 0, caps, len).word();
        let number = if rng.chance(35) {
            Syscall::Send
        } else {
            Syscall::ReplyRecv
        };
        RNG_STATE.store(rng.state(), SeqCst);
        let r = raw_syscall(
            number.word(),
            [ep, info, regs[0], regs[1], regs[2], regs[3]],
        );
        if number == Syscall::ReplyRecv {
            RECEIVED.fetch_add(1, SeqCst);
        }
        if config::traced(crate::victim::ISSUED.load(SeqCst)) {
            libcerne::println!(
                "[syscall-fuzz]   partner: {number:?} on {ep} with info {info:#x} -> x0 {:#x} x1 {:#x} x2 {:#x}",
                r[0],
                r[1],
                r[2]
            );
        }
    }
}
