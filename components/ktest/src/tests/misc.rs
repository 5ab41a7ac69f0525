//! The debug system calls (docs/sel4-abi.md §2.3), the initial CSpace and
//! BootInfo the root task was given (§8.5–8.8), invoking null and
//! ASIDControl / IRQControl / DomainSet caps with wrong labels, and Yield.

use crate::framework::*;
use crate::{check, check_eq, check_err, tests};
use cerne_abi::bootinfo::BOOTINFO_FRAME_SIZE;
use cerne_abi::error::Error;
use cerne_abi::invocation::InvocationLabel as L;
use cerne_abi::object::CapTag;
use cerne_abi::slots::*;
use cerne_abi::Word;
use libcerne::sel4::syscall;
use libcerne::sel4::*;

fn identify_boot_caps(_env: &mut Env) -> TestResult {
    for (slot, tag) in INITIAL_CAP_TAGS {
        check_eq!(
            (slot, syscall::debug_cap_identify(slot as Word)),
            (slot, tag.word())
        );
    }
    Ok(())
}

fn identify_bad_cptr(env: &mut Env) -> TestResult {
    check_eq!(syscall::debug_cap_identify(1 << 60), 0);
    check_eq!(syscall::debug_cap_identify(env.bi.empty.end - 1), 0);
    Ok(())
}

fn bootinfo_regions(env: &mut Env) -> TestResult {
    let bi = env.bi;
    check_eq!((bi.node_id, bi.num_nodes, bi.num_io_pt_levels), (0, 1, 0));
    check_eq!(
        bi.init_thread_cnode_size_bits,
        DEFAULT_ROOT_CNODE_SIZE_BITS as Word
    );
    check_eq!(bi.empty.end, 1 << bi.init_thread_cnode_size_bits);
    check_eq!(bi.user_image_paging.start, NUM_INITIAL_CAPS as Word);
    check!(bi.untyped.len() as usize == libcerne::bootinfo::untypeds(bi).len());
    for s in bi.user_image_frames.start..bi.user_image_frames.end {
        check_eq!(syscall::debug_cap_identify(s), CapTag::Frame.word());
    }
    for s in bi.untyped.start..bi.untyped.end {
        check_eq!(syscall::debug_cap_identify(s), CapTag::Untyped.word());
    }
    Ok(())
}

fn bootinfo_ipc_buffer(env: &mut Env) -> TestResult {
    // The root task's IPC buffer is where BootInfo says, right before the
    // BootInfo frame (docs/sel4-abi.md §8.9), and is that frame cap's page.
    let bi = env.bi;
    let bi_addr = bi as *const _ as Word;
    check_eq!(bi.ipc_buffer + BOOTINFO_FRAME_SIZE as Word, bi_addr);
    let pf = f_addr(env.boot.ipc_buffer_frame)?;
    let pg = f_addr(env.boot.bootinfo_frame)?;
    check!(pf != pg && pf % 4096 == 0 && pg % 4096 == 0);
    // What the driver's own buffer page is: a frame cap of the image.
    check_eq!(
        syscall::debug_cap_identify(env.boot.ipc_buffer_frame.cptr()),
        CapTag::Frame.word()
    );
    Ok(())
}

fn f_addr(f: Cap<Frame>) -> core::result::Result<Word, Fail> {
    f.get_address()
        .map_err(|e| fail(file!(), line!(), format_args!("GetAddress: {e:?}")))
}

fn extra_bootinfo_dtb(env: &mut Env) -> TestResult {
    // One chunk, id 6 (FDT), holding the device tree (magic d00dfeed,
    // big-endian).
    let bi = env.bi;
    check!(bi.extra_len > 16, "no extra bootinfo");
    let base = bi as *const _ as Word + BOOTINFO_FRAME_SIZE as Word;
    let (id, len) = (peek(base), peek(base + 8));
    check_eq!(id, 6);
    check_eq!(len, bi.extra_len);
    let magic = (peek(base + 16) as u32).swap_bytes();
    check_eq!(magic, 0xd00d_feed);
    Ok(())
}

fn invoke_null_cap(_env: &mut Env) -> TestResult {
    let r = ipc::call(CAP_NULL as Word, L::CNodeCopy.word(), &[], &[]);
    check_eq!(r.label(), Error::InvalidCapability.word());
    check_eq!(r.mr(0), 0);
    Ok(())
}

fn control_caps_wrong_labels(env: &mut Env) -> TestResult {
    check_err!(
        ipc::invoke(env.boot.asid_control.cptr(), L::ArmAsidPoolAssign, &[], &[]),
        IllegalOperation
    );
    check_err!(
        ipc::invoke(
            env.boot.asid_pool.cptr(),
            L::ArmAsidControlMakePool,
            &[0, 0],
            &[]
        ),
        IllegalOperation
    );
    check_err!(
        ipc::invoke(env.boot.irq_control.cptr(), L::UntypedRetype, &[], &[]),
        IllegalOperation
    );
    check_err!(
        ipc::invoke(env.boot.domain.cptr(), L::TcbResume, &[], &[]),
        IllegalOperation
    );
    Ok(())
}

fn invoke_reply_less_thread(env: &mut Env) -> TestResult {
    // Reply with nobody to reply to, then a normal invocation works.
    syscall::reply(cerne_abi::message::MessageInfo::new(0, 0, 0, 0), [0; 4]);
    let t = env.tcb()?;
    check!(t.set_flags(0, 0).is_ok());
    Ok(())
}

fn yield_returns(_env: &mut Env) -> TestResult {
    for _ in 0..10 {
        syscall::yield_now();
    }
    Ok(())
}

fn name_thread(env: &mut Env) -> TestResult {
    let t = env.thread(|v| set_shared(0, v), 9, 150, 0)?;
    syscall::debug_name_thread(t.tcb.cptr(), "ktest-named-thread");
    check!(t.tcb.resume().is_ok());
    check_eq!(shared(0), 9);
    Ok(())
}

fn thread_info_lists_a_new_thread(env: &mut Env) -> TestResult {
    // Cerne's DebugThreadInfo (-64): a thread made and named here is on the
    // kernel's list, Inactive at the priority it was given; the calling
    // thread is there too, Running; past the end there is nothing.
    let t = env.thread(|v| set_shared(0, v), 3, 140, 0)?;
    syscall::debug_name_thread(t.tcb.cptr(), "ktest-listed");
    let mut found = None;
    let mut running = 0;
    let mut n = 0;
    while let Some(info) = syscall::debug_thread_info(n) {
        if info.name() == "ktest-listed" {
            found = Some(info);
        }
        if info.state == 1 {
            running += 1;
        }
        n += 1;
        check!(n < 100_000);
    }
    let Some(info) = found else {
        return Err(fail(
            file!(),
            line!(),
            format_args!("not listed among {n} threads"),
        ));
    };
    check_eq!((info.state, info.priority, info.blocked_on), (0, 140, 0));
    check_eq!(running, 1);
    check!(syscall::debug_thread_info(n).is_none());
    check!(syscall::debug_thread_info(Word::MAX).is_none());
    check!(t.tcb.resume().is_ok());
    check_eq!(shared(0), 3);
    Ok(())
}

fn dump_scheduler(_env: &mut Env) -> TestResult {
    syscall::debug_dump_scheduler();
    Ok(())
}

fn snapshot(_env: &mut Env) -> TestResult {
    syscall::debug_snapshot();
    Ok(())
}

fn send_performs_invocation(env: &mut Env) -> TestResult {
    // An invocation by Send (or NBSend) is carried out, with no reply.
    let t = env.tcb()?;
    ipc::send(t.cptr(), L::TcbSetTlsBase.word(), &[0x77], &[]);
    let ctx = t
        .read_registers(false, 0, 36)
        .map_err(|e| fail(file!(), line!(), format_args!("{e:?}")))?;
    check_eq!(ctx.0[UserContext::TPIDR_EL0], 0x77);
    ipc::nb_send(t.cptr(), L::TcbSetTlsBase.word(), &[0x88], &[]);
    let ctx = t
        .read_registers(false, 0, 36)
        .map_err(|e| fail(file!(), line!(), format_args!("{e:?}")))?;
    check_eq!(ctx.0[UserContext::TPIDR_EL0], 0x88);
    Ok(())
}

fn send_discards_errors(env: &mut Env) -> TestResult {
    // A failing invocation by Send returns nothing and leaves the message
    // registers as they were.
    let slot = env.slot();
    let info = cerne_abi::message::MessageInfo::new(L::UntypedRetype.word(), 0, 0, 2);
    let r = syscall::raw_syscall(
        cerne_abi::syscall::Syscall::Send.word(),
        [env.pool.cptr(), info.word(), 99, 0, 0x33, 0x44],
    );
    check_eq!(r[1..], [info.word(), 99, 0, 0x33, 0x44]);
    check_eq!(syscall::debug_cap_identify(slot), 0);
    Ok(())
}

tests![
    identify_boot_caps,
    identify_bad_cptr,
    bootinfo_regions,
    bootinfo_ipc_buffer,
    extra_bootinfo_dtb,
    invoke_null_cap,
    control_caps_wrong_labels,
    invoke_reply_less_thread,
    yield_returns,
    name_thread,
    thread_info_lists_a_new_thread,
    dump_scheduler,
    snapshot,
    send_performs_invocation,
    send_discards_errors,
];
