//! IPC round-trip cost, in the style of sel4bench's ipc benchmark: a client
//! Calls a server that answers with ReplyRecv, in the same address space and
//! in a different one, for several message lengths. Under QEMU with
//! `-icount shift=0` the PMU cycle counter advances once per guest
//! instruction, so each figure is instructions per round trip (one Call plus
//! one ReplyRecv), with the user-side loop overhead measured and subtracted.
//! Needs a kernel built with `pmu-user`.
#![no_std]
#![no_main]

use cerne_abi::message::MessageInfo;
use cerne_abi::object::ObjectType;
use cerne_abi::rights::CapRights;
use cerne_abi::slots::*;
use cerne_abi::syscall::Syscall;
use cerne_abi::vm::{DEFAULT_VM_ATTRIBUTES, EXECUTE_NEVER, PAGE_CACHEABLE};
use libcerne::sel4::{
    self, AsidPool, CNode, Cap, Endpoint, Frame, PageTable, Tcb, Untyped, UserContext, VSpace,
};
use libcerne::{bootinfo, println};

/// Round trips per batch; the figure is the cheapest batch's average, which
/// leaves out batches a timer tick landed in.
const BATCH: u64 = 32;
const BATCHES: u64 = 16;
const STACK_SIZE: usize = 16 * 1024;
/// Where each server's IPC buffer is mapped.
const SERVER_IPC_BUFFER: [u64; 2] = [0x2000_0000, 0x2000_1000];
const PAGE: u64 = 4096;
const FULL_DEPTH: u8 = 64;

#[repr(C, align(16))]
struct Stack([u8; STACK_SIZE]);
static mut SERVER_STACKS: [Stack; 2] = [Stack([0; STACK_SIZE]), Stack([0; STACK_SIZE])];

unsafe extern "C" {
    static __cerne_image_start: u8;
}

fn pmccntr() -> u64 {
    let v: u64;
    // SAFETY: reading the cycle counter at EL0 is allowed by the kernel's
    // pmu-user option and touches no memory.
    unsafe { core::arch::asm!("isb", "mrs {0}, pmccntr_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// One Call with `info` on `ep`; `real = false` runs the same code with a
/// `nop` in place of `svc`, to measure the loop's own instructions.
#[inline(always)]
fn call(ep: u64, info: u64, real: bool) {
    let (mut x0, mut x1, mut x2, mut x3, mut x4, mut x5) = (ep, info, 1u64, 2u64, 3u64, 4u64);
    if real {
        // SAFETY: seL4_Call on the register convention: the kernel reads and
        // writes x0..x5 and this thread's IPC buffer, nothing else.
        unsafe {
            core::arch::asm!("svc #0", inout("x0") x0, inout("x1") x1, inout("x2") x2, inout("x3") x3,
                inout("x4") x4, inout("x5") x5, in("x7") Syscall::Call.word(), options(nostack));
        }
    } else {
        // SAFETY: a nop with the same register bindings as the real call.
        unsafe {
            core::arch::asm!("nop", inout("x0") x0, inout("x1") x1, inout("x2") x2, inout("x3") x3,
                inout("x4") x4, inout("x5") x5, in("x7") Syscall::Call.word(), options(nostack));
        }
    }
    core::hint::black_box((x0, x1, x2, x3, x4, x5));
}

/// Cheapest batch average of a Call loop, in instructions per iteration.
fn measure(ep: u64, length: u64, real: bool) -> u64 {
    let info = MessageInfo::new(0, 0, 0, length).word();
    let mut best = u64::MAX;
    for _ in 0..BATCHES {
        let start = pmccntr();
        for _ in 0..BATCH {
            call(ep, info, real);
        }
        let end = pmccntr();
        best = best.min((end - start) / BATCH);
    }
    best
}

/// The server: answers every Call with a reply of the same length.
extern "C" fn server(ep: u64, length: u64) -> ! {
    let info = MessageInfo::new(0, 0, 0, length);
    let mut r = sel4::syscall::recv(ep, [0; 4]);
    loop {
        r = sel4::syscall::reply_recv(ep, info, r.mrs);
    }
}

struct Slots {
    next: u64,
    end: u64,
}

impl Slots {
    fn take(&mut self, n: u64) -> u64 {
        assert!(self.next + n <= self.end, "out of slots");
        let s = self.next;
        self.next += n;
        s
    }
}

fn cnode() -> Cap<CNode> {
    Cap::from_cptr(CAP_INIT_THREAD_CNODE as u64)
}

fn retype(ram: Cap<Untyped>, slots: &mut Slots, t: ObjectType, n: u64) -> u64 {
    let s = slots.take(n);
    ram.retype(t, 0, cnode(), 0, 0, s, n).expect("retype");
    s
}

/// Maps `frame` at `vaddr` in `vspace`, adding page tables from `ram` as
/// levels turn out to be missing.
fn map(
    ram: Cap<Untyped>,
    slots: &mut Slots,
    vspace: Cap<VSpace>,
    frame: Cap<Frame>,
    vaddr: u64,
    attr: u64,
) {
    for _ in 0..4 {
        match frame.map(vspace, vaddr, CapRights::READ_WRITE, attr) {
            Ok(()) => return,
            Err(_) => {
                let pt = Cap::<PageTable>::from_cptr(retype(ram, slots, ObjectType::PageTable, 1));
                pt.map(vspace, vaddr, 0).expect("map page table");
            }
        }
    }
    panic!("could not map {vaddr:#x}");
}

/// Makes and starts a server thread at priority 255 in `vspace`.
fn start_server(
    ram: Cap<Untyped>,
    slots: &mut Slots,
    vspace: Cap<VSpace>,
    index: usize,
    ep: u64,
    length: u64,
) -> Cap<Tcb> {
    let tcb = Cap::<Tcb>::from_cptr(retype(ram, slots, ObjectType::Tcb, 1));
    let buffer = Cap::<Frame>::from_cptr(retype(ram, slots, ObjectType::SmallPage, 1));
    map(
        ram,
        slots,
        vspace,
        buffer,
        SERVER_IPC_BUFFER[index],
        PAGE_CACHEABLE | EXECUTE_NEVER,
    );
    tcb.configure(0, cnode(), 0, vspace, 0, SERVER_IPC_BUFFER[index], buffer)
        .expect("configure");
    let me = Cap::<Tcb>::from_cptr(CAP_INIT_THREAD_TCB as u64);
    tcb.set_priority(me, 255).expect("priority");
    // SAFETY: only the address of the stack is taken; each server owns one.
    let stack = unsafe { core::ptr::addr_of_mut!(SERVER_STACKS[index]) } as u64 + STACK_SIZE as u64;
    let mut regs = UserContext::default();
    regs.set_pc(server as *const () as u64);
    regs.set_sp(stack);
    regs.set_x(0, ep);
    regs.set_x(1, length);
    regs.0[UserContext::TPIDR_EL0] = SERVER_IPC_BUFFER[index];
    tcb.write_registers(true, 0, regs.0.len() as u64, &regs)
        .expect("write registers");
    tcb
}

fn report(what: &str, ep: u64) {
    let overhead = measure(ep, 0, false);
    for length in [0u64, 4, 10] {
        let total = measure(ep, length, true);
        println!(
            "[ipc-bench] {what}, length {length}: {} instructions per round trip (Call + ReplyRecv; loop overhead {overhead} subtracted)",
            total.saturating_sub(overhead)
        );
    }
}

fn main(bootinfo_addr: usize, _cycles: u64) -> ! {
    // SAFETY: the address the kernel passed in x0.
    let bi = unsafe { bootinfo::from_entry_arg(bootinfo_addr) };
    // SAFETY: BootInfo names this thread's IPC buffer.
    unsafe { sel4::ipc_buffer::set_ipc_buffer(bi.ipc_buffer as *mut _) };
    let mut slots = Slots {
        next: bi.empty.start,
        end: bi.empty.end,
    };
    let (ram_index, _) = bootinfo::untypeds(bi)
        .iter()
        .enumerate()
        .filter(|(_, u)| u.is_device == 0)
        .max_by_key(|(_, u)| u.size_bits)
        .expect("a RAM untyped");
    let ram = Cap::<Untyped>::from_cptr(bi.untyped.start + ram_index as u64);
    let my_vspace = Cap::<VSpace>::from_cptr(CAP_INIT_THREAD_VSPACE as u64);

    // Same address space.
    let ep_same = retype(ram, &mut slots, ObjectType::Endpoint, 1);
    start_server(ram, &mut slots, my_vspace, 0, ep_same, 0);
    report("same address space", ep_same);

    // A second address space holding the same image frames (copies of the
    // image frame caps, mapped at the same addresses).
    let vspace = Cap::<VSpace>::from_cptr(retype(ram, &mut slots, ObjectType::VSpace, 1));
    Cap::<AsidPool>::from_cptr(CAP_INIT_THREAD_ASID_POOL as u64)
        .assign(vspace)
        .expect("assign ASID");
    let image_start = core::ptr::addr_of!(__cerne_image_start) as u64;
    for (i, slot) in (bi.user_image_frames.start..bi.user_image_frames.end).enumerate() {
        let copy = slots.take(1);
        cnode()
            .copy(
                copy,
                FULL_DEPTH,
                cnode(),
                slot,
                FULL_DEPTH,
                CapRights::READ_WRITE,
            )
            .expect("copy frame cap");
        map(
            ram,
            &mut slots,
            vspace,
            Cap::from_cptr(copy),
            image_start + i as u64 * PAGE,
            DEFAULT_VM_ATTRIBUTES,
        );
    }
    let ep_other = retype(ram, &mut slots, ObjectType::Endpoint, 1);
    start_server(ram, &mut slots, vspace, 1, ep_other, 0);
    report("different address space", ep_other);

    let _ = Cap::<Endpoint>::from_cptr(ep_same);
    println!("[ipc-bench] done");
    libcerne::syscalls::debug_halt()
}

libcerne::entry!(main);
