//! Call and ReplyRecv in the situations a fast path takes or must leave to
//! the slow path (docs/design.md §4, docs/sel4-abi.md §11): servers above, at and
//! below the caller's priority, queued callers, callers without GrantReply,
//! suspended callers, and the registers a short reply leaves alone. Each
//! result must be exactly what the slow path gives.

use crate::framework::*;
use crate::runner::DRIVER_PRIORITY;
use crate::{check_eq, check_ok, tests};
use cerne_abi::message::MessageInfo;
use cerne_abi::rights::CapRights;
use cerne_abi::syscall::Syscall;
use cerne_abi::Word;
use libcerne::sel4::syscall::raw_syscall;
use libcerne::sel4::*;

/// Replies to every call with label + 1, each word + 1, and the badge it
/// saw as an extra last word.
fn server(ep: Word) {
    let ep = Cap::<Endpoint>::from_cptr(ep);
    let mut m = ep.recv();
    loop {
        let n = m.len().min(4);
        let mut words = [0; 5];
        for (i, w) in words.iter_mut().enumerate().take(n) {
            *w = m.mr(i) + 1;
        }
        words[n] = m.badge;
        add_shared(0, 1);
        m = ep.reply_recv(m.label() + 1, &words[..n + 1], &[]);
    }
}

fn check_calls(ep: Cap<Endpoint>) -> TestResult {
    for n in 0..=4usize {
        let words = [10, 20, 30, 40];
        let r = ep.call(100 + n as Word, &words[..n], &[]);
        check_eq!(r.label(), 101 + n as Word);
        check_eq!(r.len(), n + 1);
        for (i, w) in words.iter().enumerate().take(n) {
            check_eq!(r.mr(i), w + 1);
        }
        check_eq!(r.badge, 0);
    }
    Ok(())
}

fn server_above_caller(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    env.spawn(server, ep.cptr(), DRIVER_PRIORITY + 50)?;
    check_calls(ep)?;
    check_eq!(shared(0), 5);
    Ok(())
}

fn server_at_caller_priority(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    env.spawn(server, ep.cptr(), DRIVER_PRIORITY)?;
    libcerne::sel4::syscall::yield_now();
    check_calls(ep)
}

fn server_below_caller(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    env.spawn(server, ep.cptr(), DRIVER_PRIORITY - 40)?;
    // Let it reach its Recv, then come back above it.
    check_ok!(env.me.set_priority(env.boot.tcb, DRIVER_PRIORITY - 50));
    check_ok!(env.me.set_priority(env.boot.tcb, DRIVER_PRIORITY));
    check_calls(ep)
}

fn badge_reaches_server(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let b = env.mint(ep, CapRights::ALL, 0xb0b)?;
    env.spawn(server, ep.cptr(), DRIVER_PRIORITY + 50)?;
    let r = b.call(1, &[5], &[]);
    check_eq!((r.label(), r.mr(0), r.mr(1), r.badge), (2, 6, 0xb0b, 0));
    Ok(())
}

fn short_reply_leaves_registers(env: &mut Env) -> TestResult {
    // The reply has 2 words (1 + the badge): x4 and x5 keep what the caller
    // had in them.
    let ep = env.endpoint()?;
    env.spawn(server, ep.cptr(), DRIVER_PRIORITY + 50)?;
    let info = MessageInfo::new(7, 0, 0, 1);
    let r = raw_syscall(
        Syscall::Call.word(),
        [ep.cptr(), info.word(), 1, 0xb, 0xc, 0xd],
    );
    check_eq!(r[0], 0);
    check_eq!(r[1], MessageInfo::new(8, 0, 0, 2).word());
    check_eq!(r[2..], [2, 0, 0xc, 0xd]);
    Ok(())
}

fn caller(ep: Word) {
    let r = ipc::call(ep, 1, &[2], &[]);
    set_shared(1, r.label());
    set_shared(2, 1);
}

fn waiting_server_and_caller_without_grant_reply(env: &mut Env) -> TestResult {
    // The server waits first; the caller's cap has neither Grant nor
    // GrantReply: the message arrives, the caller never resumes.
    let ep = env.endpoint()?;
    env.spawn(server, ep.cptr(), DRIVER_PRIORITY + 50)?;
    let w = env.copy(ep, CapRights::READ_WRITE)?;
    env.spawn(caller, w.cptr(), DRIVER_PRIORITY + 20)?;
    check_eq!(shared(0), 1);
    check_eq!(shared(2), 0);
    Ok(())
}

fn reply_recv_takes_queued_caller(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    env.spawn(caller, ep.cptr(), DRIVER_PRIORITY + 50)?;
    env.spawn(
        |ep| {
            ipc::call(ep, 5, &[], &[]);
        },
        ep.cptr(),
        DRIVER_PRIORITY + 50,
    )?;
    let first = ep.recv();
    check_eq!(first.label(), 1);
    let second = ep.reply_recv(3, &[], &[]);
    check_eq!(shared(2), 1);
    check_eq!(shared(1), 3);
    check_eq!(second.label(), 5);
    Ok(())
}

fn reply_recv_to_suspended_caller(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let t = env.spawn(caller, ep.cptr(), DRIVER_PRIORITY + 50)?;
    ep.recv();
    check_ok!(t.tcb.suspend());
    // Something to receive once the (dropped) reply is done.
    env.spawn(
        |ep| ipc::send(ep, 7, &[], &[]),
        ep.cptr(),
        DRIVER_PRIORITY - 50,
    )?;
    let m = ep.reply_recv(0, &[], &[]);
    check_eq!(m.label(), 7);
    check_eq!(shared(2), 0);
    Ok(())
}

fn reply_recv_with_long_reply(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    env.spawn(
        |ep| {
            let r = ipc::call(ep, 1, &[], &[]);
            set_shared(1, r.len() as Word);
            set_shared(3, r.mr(9));
            set_shared(2, 1);
        },
        ep.cptr(),
        DRIVER_PRIORITY + 50,
    )?;
    ep.recv();
    let words: [Word; 10] = core::array::from_fn(|i| i as Word * 3);
    env.spawn(
        |ep| ipc::send(ep, 7, &[], &[]),
        ep.cptr(),
        DRIVER_PRIORITY - 50,
    )?;
    ep.reply_recv(0, &words, &[]);
    check_eq!(shared(2), 1);
    check_eq!((shared(1), shared(3)), (10, 27));
    Ok(())
}

fn many_round_trips(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    env.spawn(server, ep.cptr(), DRIVER_PRIORITY + 50)?;
    for i in 0..200 {
        let r = ep.call(i, &[i], &[]);
        check_eq!((r.label(), r.mr(0)), (i + 1, i + 1));
    }
    check_eq!(shared(0), 200);
    Ok(())
}

tests![
    server_above_caller,
    server_at_caller_priority,
    server_below_caller,
    badge_reaches_server,
    short_reply_leaves_registers,
    waiting_server_and_caller_without_grant_reply,
    reply_recv_takes_queued_caller,
    reply_recv_to_suspended_caller,
    reply_recv_with_long_reply,
    many_round_trips,
];
