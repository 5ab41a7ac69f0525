//! Threads of the suite: the driver that runs a test, the watchdog, and the
//! tests' helper threads. All run in the root task's CSpace and VSpace;
//! each has its own stack and its own IPC buffer page in the root task's
//! image (so its frame cap is one of BootInfo's userImageFrames).

use crate::framework::BootCaps;
use cerne_abi::bootinfo::BootInfo;
use cerne_abi::{CPtr, Word};
use libcerne::sel4::{Cap, Frame, Result, Tcb, UserContext};

/// Thread index of the test driver.
pub const DRIVER: usize = 0;
/// Thread index of the watchdog.
pub const WATCHDOG: usize = 1;
/// First thread index of the helpers.
pub const HELPER_BASE: usize = 2;
/// Most helper threads one test may have.
pub const HELPERS: usize = 8;
/// Thread indices in all.
pub const THREADS: usize = HELPER_BASE + HELPERS;

const STACK_SIZE: usize = 32 * 1024;
const PAGE_SIZE: usize = 1 << cerne_abi::object::PAGE_BITS;

#[repr(C, align(16))]
struct Stacks([[u8; STACK_SIZE]; THREADS]);
static mut STACKS: Stacks = Stacks([[0; STACK_SIZE]; THREADS]);

#[repr(C, align(4096))]
struct Page([u8; PAGE_SIZE]);
static mut IPC_PAGES: [Page; THREADS] = [const { Page([0; PAGE_SIZE]) }; THREADS];

unsafe extern "C" {
    fn _start();
}

/// Top of thread `i`'s stack.
pub fn stack_top(i: usize) -> Word {
    let base = (&raw const STACKS) as usize;
    (base + (i + 1) * STACK_SIZE) as Word
}

/// Thread `i`'s IPC buffer (the start of its page).
pub fn ipc_buffer_addr(i: usize) -> Word {
    let base = (&raw const IPC_PAGES) as usize;
    (base + i * PAGE_SIZE) as Word
}

/// The frame cap (in BootInfo's userImageFrames) of the image page holding
/// `vaddr`.
pub fn image_frame(bi: &BootInfo, vaddr: Word) -> Cap<Frame> {
    let image_base = (_start as *const () as usize as Word) & !(PAGE_SIZE as Word - 1);
    Cap::from_cptr(bi.user_image_frames.start + (vaddr - image_base) / PAGE_SIZE as Word)
}

/// The vaddr of the image page whose frame cap is `slot` (the inverse of
/// [`image_frame`]).
pub fn image_frame_vaddr(bi: &BootInfo, slot: CPtr) -> Word {
    let image_base = (_start as *const () as usize as Word) & !(PAGE_SIZE as Word - 1);
    image_base + (slot - bi.user_image_frames.start) * PAGE_SIZE as Word
}

/// A thread of the suite: its TCB and its index (stack and IPC buffer).
#[derive(Clone, Copy, Debug)]
pub struct Thread {
    /// Its TCB.
    pub tcb: Cap<Tcb>,
    /// Its index.
    pub index: usize,
}

impl Thread {
    /// Thread `index` on `tcb`.
    pub fn new(tcb: Cap<Tcb>, index: usize) -> Self {
        Self { tcb, index }
    }

    /// Configures the TCB: root CSpace and VSpace, its IPC buffer, fault
    /// endpoint cptr `fault_ep`.
    pub fn configure(&self, bi: &BootInfo, boot: &BootCaps, fault_ep: CPtr) -> Result<()> {
        let buf = ipc_buffer_addr(self.index);
        self.tcb.configure(
            fault_ep,
            boot.cnode,
            0,
            boot.vspace,
            0,
            buf,
            image_frame(bi, buf),
        )
    }

    /// The registers that make the thread run `entry(arg)` from the top of
    /// its stack.
    pub fn context(&self, entry: fn(Word), arg: Word) -> UserContext {
        let mut ctx = UserContext::default();
        ctx.set_pc(trampoline as *const () as usize as Word);
        ctx.set_sp(stack_top(self.index));
        ctx.set_x(0, entry as usize as Word);
        ctx.set_x(1, arg);
        ctx.set_x(2, self.tcb.cptr());
        ctx.0[UserContext::TPIDR_EL0] = ipc_buffer_addr(self.index);
        ctx
    }

    /// Writes the registers that run `entry(arg)`; `resume` starts it.
    pub fn prepare(&self, entry: fn(Word), arg: Word, resume: bool) -> Result<()> {
        let ctx = self.context(entry, arg);
        self.tcb
            .write_registers(resume, 0, ctx.0.len() as Word, &ctx)
    }
}

/// Where every thread of the suite starts: x0 = its entry function, x1 =
/// the argument, x2 = its TCB cptr. When the entry returns the thread
/// suspends itself.
extern "C" fn trampoline(entry: usize, arg: Word, tcb: CPtr) -> ! {
    // SAFETY: `Thread::context` put a `fn(Word)` in x0, converted with `as`
    // from that very type; fn pointers and usize have the same size.
    let f = unsafe { core::mem::transmute::<usize, fn(Word)>(entry) };
    f(arg);
    let _ = Cap::<Tcb>::from_cptr(tcb).suspend();
    // Only a thread whose CSpace is not the root's gets here: it blocks for
    // good (a Recv on cptr 0 is a cap fault, which stops it).
    loop {
        libcerne::sel4::ipc::recv(0);
    }
}
