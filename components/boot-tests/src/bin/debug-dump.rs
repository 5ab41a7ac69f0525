//! A root task that makes a few objects and asks the kernel to describe
//! them: DebugDumpScheduler (the current thread and the ready queues) and
//! DebugSnapshot (a capDL description of what its CSpace reaches, including
//! a second CNode holding a badged endpoint cap).
#![no_std]
#![no_main]

use cerne_abi::object::ObjectType;
use cerne_abi::rights::CapRights;
use cerne_abi::slots::{CAP_INIT_THREAD_CNODE, CAP_INIT_THREAD_TCB};
use libcerne::sel4::{self, CNode, Cap, Tcb, Untyped};
use libcerne::{bootinfo, println};

/// The badge the snapshot must show.
const BADGE: u64 = 7;

fn main(bootinfo_addr: usize, _cycles: u64) -> ! {
    // SAFETY: the address the kernel passed in x0.
    let bi = unsafe { bootinfo::from_entry_arg(bootinfo_addr) };
    // SAFETY: BootInfo names this thread's IPC buffer.
    unsafe { sel4::ipc_buffer::set_ipc_buffer(bi.ipc_buffer as *mut _) };
    let root = Cap::<CNode>::from_cptr(CAP_INIT_THREAD_CNODE as u64);
    let (ram, _) = bootinfo::untypeds(bi)
        .iter()
        .enumerate()
        .find(|(_, u)| u.is_device == 0 && u.size_bits >= 16)
        .expect("a RAM untyped");
    let ram = Cap::<Untyped>::from_cptr(bi.untyped.start + ram as u64);
    let free = bi.empty.start;
    let (ep, tcb, cnode) = (free, free + 1, free + 2);
    ram.retype(ObjectType::Endpoint, 0, root, 0, 0, ep, 1)
        .expect("endpoint");
    ram.retype(ObjectType::Tcb, 0, root, 0, 0, tcb, 1)
        .expect("tcb");
    ram.retype(ObjectType::CapTable, 4, root, 0, 0, cnode, 1)
        .expect("cnode");
    // A badged copy of the endpoint in slot 3 of the new CNode.
    let inner = Cap::<CNode>::from_cptr(cnode);
    inner
        .mint(3, 4, root, ep, 64, CapRights::ALL, BADGE)
        .expect("mint badged endpoint");
    let thread = Cap::<Tcb>::from_cptr(tcb);
    thread
        .set_priority(Cap::from_cptr(CAP_INIT_THREAD_TCB as u64), 10)
        .expect("priority");
    sel4::syscall::debug_name_thread(tcb, "sleeper");
    println!("[debug-dump] made ep, tcb and a 2^4 cnode holding a badge-{BADGE} cap");
    sel4::syscall::debug_dump_scheduler();
    sel4::syscall::debug_snapshot();
    println!("[debug-dump] done");
    libcerne::syscalls::debug_halt()
}

libcerne::entry!(main);
