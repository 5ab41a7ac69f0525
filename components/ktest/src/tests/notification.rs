//! Notifications (docs/sel4-abi.md §3.6, §11): signal, wait and poll, badge
//! OR-ing, waiter queues, binding to a TCB and what a bound thread sees.

use crate::framework::*;
use crate::{check_eq, check_err, check_ok, tests};
use cerne_abi::error::Error;
use cerne_abi::rights::CapRights;
use cerne_abi::syscall::Syscall;
use cerne_abi::Word;
use libcerne::sel4::syscall::raw_syscall;
use libcerne::sel4::*;

fn signal_then_poll(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    let b = env.mint(n, CapRights::ALL, 0x5)?;
    check_eq!(n.poll(), 0);
    b.signal();
    check_eq!(n.poll(), 0x5);
    check_eq!(n.poll(), 0);
    Ok(())
}

fn badges_are_ored(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    let b1 = env.mint(n, CapRights::ALL, 0b0001)?;
    let b2 = env.mint(n, CapRights::ALL, 0b0100)?;
    let b3 = env.mint(n, CapRights::ALL, 0b1100)?;
    b1.signal();
    b2.signal();
    b3.signal();
    check_eq!(n.wait(), 0b1101);
    Ok(())
}

fn waiter(n: Word) {
    let w = Cap::<Notification>::from_cptr(n).wait();
    set_shared(0, w);
    add_shared(1, 1);
}

fn signal_wakes_waiter(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    let b = env.mint(n, CapRights::ALL, 0x8)?;
    env.spawn(waiter, n.cptr(), 150)?;
    check_eq!(shared(1), 0);
    b.signal();
    check_eq!(shared(1), 1);
    check_eq!(shared(0), 0x8);
    // Delivered to the waiter directly: nothing stays pending.
    check_eq!(n.poll(), 0);
    Ok(())
}

fn waiters_are_fifo(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    let b1 = env.mint(n, CapRights::ALL, 1)?;
    let b2 = env.mint(n, CapRights::ALL, 2)?;
    env.spawn(waiter, n.cptr(), 120)?;
    env.spawn(
        |n| {
            let w = Cap::<Notification>::from_cptr(n).wait();
            set_shared(2, w);
        },
        n.cptr(),
        200,
    )?;
    b1.signal();
    check_eq!(shared(0), 1);
    b2.signal();
    check_eq!(shared(2), 2);
    Ok(())
}

fn nb_send_signals(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    let b = env.mint(n, CapRights::ALL, 0x30)?;
    ipc::nb_send(b.cptr(), 0, &[], &[]);
    check_eq!(n.poll(), 0x30);
    Ok(())
}

fn signal_without_write(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    let ro = env.copy(n, CapRights::READ)?;
    let r = ipc::call(ro.cptr(), 0, &[], &[]);
    check_eq!(r.label(), Error::InvalidCapability.word());
    check_eq!(r.mr(0), 0);
    check_eq!(n.poll(), 0);
    Ok(())
}

fn wait_leaves_message_registers(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    let b = env.mint(n, CapRights::ALL, 0x9)?;
    b.signal();
    let r = raw_syscall(
        Syscall::Recv.word(),
        [n.cptr(), 0x11, 0x22, 0x33, 0x44, 0x55],
    );
    check_eq!(r, [0x9, 0x11, 0x22, 0x33, 0x44, 0x55]);
    Ok(())
}

/// Bound to a notification, waits on an endpoint with sentinel registers
/// and records what the kernel left in x0..x5.
fn bound_receiver(ep: Word) {
    let r = raw_syscall(Syscall::Recv.word(), [ep, 0x11, 0x22, 0x33, 0x44, 0x55]);
    for (i, w) in r.iter().enumerate() {
        set_shared(i, *w);
    }
    set_shared(7, 1);
}

fn bound_signal_wakes_endpoint_receiver(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    let b = env.mint(n, CapRights::ALL, 0x40)?;
    let ep = env.endpoint()?;
    let t = env.thread(bound_receiver, ep.cptr(), 150, 0)?;
    check_ok!(t.tcb.bind_notification(n));
    check_ok!(t.tcb.resume());
    check_eq!(shared(7), 0);
    b.signal();
    check_eq!(shared(7), 1);
    check_eq!(shared(0), 0x40);
    check_eq!([shared(1), shared(2), shared(5)], [0x11, 0x22, 0x55]);
    Ok(())
}

fn bound_pending_signal_is_consumed(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    let b = env.mint(n, CapRights::ALL, 0x41)?;
    let ep = env.endpoint()?;
    let t = env.thread(bound_receiver, ep.cptr(), 150, 0)?;
    check_ok!(t.tcb.bind_notification(n));
    b.signal();
    check_ok!(t.tcb.resume());
    check_eq!(shared(7), 1);
    check_eq!(shared(0), 0x41);
    // (Only the bound thread may wait on n while it is bound.)
    check_ok!(t.tcb.unbind_notification());
    check_eq!(n.poll(), 0);
    Ok(())
}

fn bound_thread_still_gets_messages(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    let ep = env.endpoint()?;
    let t = env.thread(bound_receiver, ep.cptr(), 150, 0)?;
    check_ok!(t.tcb.bind_notification(n));
    check_ok!(t.tcb.resume());
    ep.send(3, &[0xaa], &[]);
    check_eq!(shared(7), 1);
    check_eq!(
        shared(1),
        cerne_abi::message::MessageInfo::new(3, 0, 0, 1).word()
    );
    check_eq!(shared(2), 0xaa);
    Ok(())
}

fn unbound_signal_does_not_wake(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    let b = env.mint(n, CapRights::ALL, 0x42)?;
    let ep = env.endpoint()?;
    let t = env.thread(bound_receiver, ep.cptr(), 150, 0)?;
    check_ok!(t.tcb.bind_notification(n));
    check_ok!(t.tcb.unbind_notification());
    check_ok!(t.tcb.resume());
    b.signal();
    check_eq!(shared(7), 0);
    check_eq!(n.poll(), 0x42);
    ep.send(0, &[], &[]);
    check_eq!(shared(7), 1);
    Ok(())
}

fn bind_notification_with_waiter_fails(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    env.spawn(waiter, n.cptr(), 150)?;
    let t = env.tcb()?;
    check_err!(t.bind_notification(n), IllegalOperation);
    Ok(())
}

fn deleting_notification_unbinds(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    let t = env.tcb()?;
    check_ok!(t.bind_notification(n));
    check_ok!(env.root().delete(n.cptr(), 64));
    check_err!(t.unbind_notification(), IllegalOperation);
    let n2 = env.notification()?;
    check_ok!(t.bind_notification(n2));
    Ok(())
}

/// Bound to a notification: Calls `shared(10)`, then Recvs on it.
fn bound_caller(ep: Word) {
    let r = ipc::call(ep, 1, &[], &[]);
    set_shared(3, r.badge);
    set_shared(4, 1);
    let m = ipc::recv(ep);
    set_shared(5, m.badge);
    set_shared(6, 1);
}

fn bound_signal_waits_while_calling(env: &mut Env) -> TestResult {
    // A signal to a thread waiting for its reply is only stored; its next
    // Recv collects it.
    let n = env.notification()?;
    let b = env.mint(n, CapRights::ALL, 0x70)?;
    let ep = env.endpoint()?;
    let t = env.thread(bound_caller, ep.cptr(), 150, 0)?;
    check_ok!(t.tcb.bind_notification(n));
    check_ok!(t.tcb.resume());
    check_eq!(ep.recv().label(), 1);
    b.signal();
    check_eq!(shared(4), 0);
    ipc::reply(0, &[], &[]);
    check_eq!(shared(4), 1);
    check_eq!(shared(3), 0);
    check_eq!(shared(6), 1);
    check_eq!(shared(5), 0x70);
    Ok(())
}

fn poll_does_not_block_when_bound(env: &mut Env) -> TestResult {
    // The bound thread itself may poll its notification.
    let n = env.notification()?;
    let b = env.mint(n, CapRights::ALL, 0x2)?;
    check_ok!(env.me.bind_notification(n));
    check_eq!(n.poll(), 0);
    b.signal();
    check_eq!(n.poll(), 0x2);
    check_ok!(env.me.unbind_notification());
    Ok(())
}

fn suspended_waiter_leaves_queue(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    let b = env.mint(n, CapRights::ALL, 0x9)?;
    let t = env.spawn(waiter, n.cptr(), 150)?;
    check_ok!(t.tcb.suspend());
    b.signal();
    check_eq!(shared(1), 0);
    check_eq!(n.poll(), 0x9);
    // Resumed, it waits again and the next signal wakes it.
    check_ok!(t.tcb.resume());
    check_eq!(shared(1), 0);
    b.signal();
    check_eq!(shared(1), 1);
    check_eq!(shared(0), 0x9);
    Ok(())
}

fn poll_nothing_leaves_registers(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    let r = raw_syscall(
        Syscall::NBRecv.word(),
        [n.cptr(), 0x11, 0x22, 0x33, 0x44, 0x55],
    );
    check_eq!(r, [0, 0x11, 0x22, 0x33, 0x44, 0x55]);
    Ok(())
}

fn signal_after_wakeup_is_kept(env: &mut Env) -> TestResult {
    // The first signal goes to the (lower-priority) waiter; the second finds
    // nobody waiting and stays pending for the next wait.
    let n = env.notification()?;
    let b1 = env.mint(n, CapRights::ALL, 1)?;
    let b2 = env.mint(n, CapRights::ALL, 2)?;
    env.spawn(waiter, n.cptr(), crate::runner::DRIVER_PRIORITY - 10)?;
    // Let it reach its wait.
    check_ok!(env
        .me
        .set_priority(env.boot.tcb, crate::runner::DRIVER_PRIORITY - 20));
    check_ok!(env
        .me
        .set_priority(env.boot.tcb, crate::runner::DRIVER_PRIORITY));
    b1.signal();
    b2.signal();
    check_eq!(shared(1), 0);
    check_eq!(n.poll(), 2);
    check_ok!(env
        .me
        .set_priority(env.boot.tcb, crate::runner::DRIVER_PRIORITY - 20));
    check_eq!((shared(1), shared(0)), (1, 1));
    check_ok!(env
        .me
        .set_priority(env.boot.tcb, crate::runner::DRIVER_PRIORITY));
    Ok(())
}

tests![
    signal_then_poll,
    badges_are_ored,
    signal_wakes_waiter,
    waiters_are_fifo,
    nb_send_signals,
    signal_without_write,
    wait_leaves_message_registers,
    bound_signal_wakes_endpoint_receiver,
    bound_pending_signal_is_consumed,
    bound_thread_still_gets_messages,
    unbound_signal_does_not_wake,
    bind_notification_with_waiter_fails,
    deleting_notification_unbinds,
    bound_signal_waits_while_calling,
    poll_does_not_block_when_bound,
    suspended_waiter_leaves_queue,
    poll_nothing_leaves_registers,
    signal_after_wakeup_is_kept,
];
