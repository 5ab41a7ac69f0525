//! Endpoint IPC (docs/sel4-abi.md §2.3, §3, §11): message lengths, badges, the
//! NB variants, queues, cap transfer and unwrapping, Grant and GrantReply,
//! reply caps, call chains, and what the registers hold afterwards.

use crate::framework::*;
use crate::{check, check_eq, check_ok, tests};
use cerne_abi::error::Error;
use cerne_abi::message::MessageInfo;
use cerne_abi::object::CapTag;
use cerne_abi::rights::CapRights;
use cerne_abi::syscall::Syscall;
use cerne_abi::Word;
use libcerne::sel4::ipc_buffer;
use libcerne::sel4::syscall::raw_syscall;
use libcerne::sel4::*;

// Shared words of the helpers below.
const EP: usize = 10;
const LEN: usize = 11;
const LABEL: usize = 12;
const CAP: usize = 13;
const RECV_SLOT: usize = 14;
const CAP2: usize = 15;

const R_BADGE: usize = 0;
const R_LABEL: usize = 1;
const R_LEN: usize = 2;
const R_EXTRA: usize = 3;
const R_UNWRAPPED: usize = 4;
const R_BADGE0: usize = 5;
const R_WORDS_OK: usize = 6;
const R_DONE: usize = 7;

fn word(i: usize) -> Word {
    0x100 + i as Word
}

fn caps_from_shared() -> ([Word; 2], usize) {
    let (c1, c2) = (shared(CAP), shared(CAP2));
    match (c1, c2) {
        (0, _) => ([0, 0], 0),
        (c, 0) => ([c, 0], 1),
        (a, b) => ([a, b], 2),
    }
}

/// Sends the message the shared words describe on `shared(EP)`.
fn sender(_: Word) {
    let n = shared(LEN) as usize;
    let words: [Word; 120] = core::array::from_fn(word);
    let (caps, nc) = caps_from_shared();
    ipc::send(shared(EP), shared(LABEL), &words[..n], &caps[..nc]);
    set_shared(R_DONE, 1);
}

fn record(m: &Message) {
    set_shared(R_BADGE, m.badge);
    set_shared(R_LABEL, m.label());
    set_shared(R_LEN, m.len() as Word);
    set_shared(R_EXTRA, m.info.extra_caps());
    set_shared(R_UNWRAPPED, m.info.caps_unwrapped());
    set_shared(R_BADGE0, ipc_buffer::badge(0));
    let ok = (0..m.len()).filter(|i| m.mr(*i) == word(*i)).count();
    set_shared(R_WORDS_OK, ok as Word);
    set_shared(R_DONE, 1);
}

/// Receives one message on `ep` into `shared(RECV_SLOT)` and records it.
fn receiver(ep: Word) {
    ipc_buffer::set_receive_path(
        cerne_abi::slots::CAP_INIT_THREAD_CNODE as Word,
        shared(RECV_SLOT),
        64,
    );
    let m = ipc::recv(ep);
    record(&m);
}

fn message_of_length(env: &mut Env, n: usize) -> TestResult {
    let ep = env.endpoint()?;
    set_shared(EP, ep.cptr());
    set_shared(LEN, n as Word);
    set_shared(LABEL, 0x42);
    env.spawn(sender, 0, 150)?;
    let m = ep.recv();
    check_eq!(m.label(), 0x42);
    check_eq!(m.len(), n);
    for i in 0..n {
        check_eq!(m.mr(i), word(i));
    }
    check_eq!(m.badge, 0);
    Ok(())
}

fn message_0_words(env: &mut Env) -> TestResult {
    message_of_length(env, 0)
}
fn message_4_words(env: &mut Env) -> TestResult {
    message_of_length(env, 4)
}
fn message_5_words(env: &mut Env) -> TestResult {
    message_of_length(env, 5)
}
fn message_120_words(env: &mut Env) -> TestResult {
    message_of_length(env, 120)
}

fn receive_into_waiting_thread(env: &mut Env, n: usize) -> TestResult {
    let ep = env.endpoint()?;
    set_shared(RECV_SLOT, env.slot());
    env.spawn(receiver, ep.cptr(), 150)?;
    let words: [Word; 120] = core::array::from_fn(word);
    ep.send(9, &words[..n], &[]);
    check_eq!(shared(R_DONE), 1);
    check_eq!(shared(R_LABEL), 9);
    check_eq!(shared(R_LEN), n as Word);
    check_eq!(shared(R_WORDS_OK), n as Word);
    Ok(())
}

fn send_120_to_waiting_receiver(env: &mut Env) -> TestResult {
    receive_into_waiting_thread(env, 120)
}

fn send_5_to_waiting_receiver(env: &mut Env) -> TestResult {
    receive_into_waiting_thread(env, 5)
}

fn length_above_120_is_clamped(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    set_shared(RECV_SLOT, env.slot());
    env.spawn(receiver, ep.cptr(), 150)?;
    for i in 4..120 {
        ipc_buffer::set_mr(i, word(i));
    }
    let info = MessageInfo::new(3, 0, 0, 127);
    libcerne::sel4::syscall::send(ep.cptr(), info, [word(0), word(1), word(2), word(3)]);
    check_eq!(shared(R_LEN), 120);
    check_eq!(shared(R_WORDS_OK), 120);
    Ok(())
}

fn badge_delivered(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let b = env.mint(ep, CapRights::ALL, 0xfeed_f00d)?;
    set_shared(EP, b.cptr());
    env.spawn(sender, 0, 150)?;
    check_eq!(ep.recv().badge, 0xfeed_f00d);
    set_shared(EP, ep.cptr());
    env.spawn(sender, 0, 150)?;
    check_eq!(ep.recv().badge, 0);
    Ok(())
}

fn echo_server(ep: Word) {
    let ep = Cap::<Endpoint>::from_cptr(ep);
    let mut m = ep.recv();
    loop {
        let n = m.len();
        let mut words = [0; 120];
        for (i, w) in words.iter_mut().enumerate().take(n) {
            *w = m.mr(i) + 1;
        }
        add_shared(R_DONE, 1);
        m = ep.reply_recv(m.label() + 1, &words[..n], &[]);
    }
}

fn call_reply(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    env.spawn(echo_server, ep.cptr(), 150)?;
    let r = ep.call(4, &[1, 2, 3, 4, 5, 6], &[]);
    check_eq!(r.label(), 5);
    check_eq!(r.len(), 6);
    check_eq!((r.mr(0), r.mr(3), r.mr(4), r.mr(5)), (2, 5, 6, 7));
    check_eq!(r.badge, 0);
    Ok(())
}

fn reply_recv_serves_many(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    env.spawn(echo_server, ep.cptr(), 150)?;
    for i in 0..10 {
        let r = ep.call(i, &[i * 2], &[]);
        check_eq!(r.label(), i + 1);
        check_eq!(r.mr(0), i * 2 + 1);
    }
    check_eq!(shared(R_DONE), 10);
    Ok(())
}

fn call_fast_and_slow_agree(env: &mut Env) -> TestResult {
    // Short calls (the fast path's case) and long or cap-carrying ones (the
    // slow path) give the same results.
    let ep = env.endpoint()?;
    let b = env.mint(ep, CapRights::ALL, 3)?;
    env.spawn(echo_server, ep.cptr(), 150)?;
    let short = b.call(7, &[10, 20], &[]);
    let long = b.call(7, &[10, 20, 0, 0, 0, 0], &[]);
    check_eq!(short.label(), long.label());
    check_eq!((short.mr(0), short.mr(1)), (long.mr(0), long.mr(1)));
    check_eq!(short.badge, long.badge);
    check_eq!(short.len(), 2);
    check_eq!(long.len(), 6);
    Ok(())
}

fn nb_send_without_receiver_is_dropped(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    ep.nb_send(1, &[1], &[]);
    set_shared(RECV_SLOT, env.slot());
    env.spawn(receiver, ep.cptr(), 150)?;
    check_eq!(shared(R_DONE), 0);
    ep.nb_send(2, &[], &[]);
    check_eq!(shared(R_DONE), 1);
    check_eq!(shared(R_LABEL), 2);
    Ok(())
}

fn nb_recv_without_sender(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let m = ep.nb_recv();
    check_eq!(m.badge, 0);
    Ok(())
}

fn nb_recv_with_sender(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let b = env.mint(ep, CapRights::ALL, 8)?;
    set_shared(EP, b.cptr());
    set_shared(LEN, 5);
    set_shared(LABEL, 6);
    env.spawn(sender, 0, 150)?;
    let m = ep.nb_recv();
    check_eq!(m.badge, 8);
    check_eq!(m.label(), 6);
    check_eq!(m.mr(4), word(4));
    check_eq!(shared(R_DONE), 1);
    Ok(())
}

fn nb_recv_leaves_registers(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let r = raw_syscall(Syscall::NBRecv.word(), [ep.cptr(), 11, 12, 13, 14, 15]);
    check_eq!(r, [0, 11, 12, 13, 14, 15]);
    Ok(())
}

fn short_message_leaves_other_registers(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    set_shared(EP, ep.cptr());
    set_shared(LEN, 1);
    set_shared(LABEL, 1);
    env.spawn(sender, 0, 150)?;
    let r = raw_syscall(Syscall::Recv.word(), [ep.cptr(), 0, 0xa, 0xb, 0xc, 0xd]);
    check_eq!(r[1], MessageInfo::new(1, 0, 0, 1).word());
    check_eq!(r[2..], [word(0), 0xb, 0xc, 0xd]);
    Ok(())
}

fn queued(label: Word) {
    ipc::send(shared(EP), label, &[], &[]);
}

fn senders_queue_fifo(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    set_shared(EP, ep.cptr());
    env.spawn(queued, 1, 110)?;
    env.spawn(queued, 2, 200)?;
    env.spawn(queued, 3, 150)?;
    // Each ran at once (all above the driver) and queued in that order:
    // the queue is FIFO whatever the senders' priorities.
    check_eq!(ep.recv().label(), 1);
    check_eq!(ep.recv().label(), 2);
    check_eq!(ep.recv().label(), 3);
    Ok(())
}

fn tagged_receiver(tag: Word) {
    let m = ipc::recv(shared(EP));
    set_shared(20 + tag as usize, m.label());
}

fn receivers_queue_fifo(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    set_shared(EP, ep.cptr());
    env.spawn(tagged_receiver, 0, 120)?;
    env.spawn(tagged_receiver, 1, 200)?;
    ep.send(5, &[], &[]);
    ep.send(6, &[], &[]);
    check_eq!(shared(20), 5);
    check_eq!(shared(21), 6);
    Ok(())
}

fn transfer(env: &mut Env, send_rights: CapRights, caps: [Word; 2], occupied: bool) -> TestResult {
    let ep = env.endpoint()?;
    let slot = env.slot();
    if occupied {
        let _ = env
            .root()
            .copy(slot, 64, env.root(), ep.cptr(), 64, CapRights::ALL);
    }
    set_shared(RECV_SLOT, slot);
    set_shared(CAP, caps[0]);
    set_shared(CAP2, caps[1]);
    env.spawn(receiver, ep.cptr(), 150)?;
    let s = env.copy(ep, send_rights)?;
    set_shared(EP, s.cptr());
    set_shared(LABEL, 1);
    sender(0);
    check_eq!(shared(R_DONE), 1);
    Ok(())
}

fn cap_transfer_with_grant(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    transfer(env, CapRights::ALL, [n.cptr(), 0], false)?;
    check_eq!(shared(R_EXTRA), 1);
    check_eq!(shared(R_UNWRAPPED), 0);
    check_eq!(
        Cap::<Unknown>::from_cptr(shared(RECV_SLOT)).identify(),
        CapTag::Notification.word()
    );
    Ok(())
}

fn no_transfer_without_grant(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    transfer(
        env,
        union(&[CapRights::WRITE, CapRights::READ, CapRights::GRANT_REPLY]),
        [n.cptr(), 0],
        false,
    )?;
    check_eq!(shared(R_EXTRA), 0);
    check_eq!(shared(R_LABEL), 1);
    check_eq!(Cap::<Unknown>::from_cptr(shared(RECV_SLOT)).identify(), 0);
    Ok(())
}

fn no_transfer_into_occupied_slot(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    transfer(env, CapRights::ALL, [n.cptr(), 0], true)?;
    check_eq!(shared(R_EXTRA), 0);
    check_eq!(
        Cap::<Unknown>::from_cptr(shared(RECV_SLOT)).identify(),
        CapTag::Endpoint.word()
    );
    Ok(())
}

fn one_cap_per_message(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    let other = env.endpoint()?;
    transfer(env, CapRights::ALL, [n.cptr(), other.cptr()], false)?;
    check_eq!(shared(R_EXTRA), 1);
    check_eq!(
        Cap::<Unknown>::from_cptr(shared(RECV_SLOT)).identify(),
        CapTag::Notification.word()
    );
    Ok(())
}

fn unwrap_same_endpoint(env: &mut Env) -> TestResult {
    // The badged cap of the endpoint the message goes through arrives as
    // its badge.
    let ep = env.endpoint()?;
    let b = env.mint(ep, CapRights::ALL, 0x55)?;
    let slot = env.slot();
    set_shared(RECV_SLOT, slot);
    env.spawn(receiver, ep.cptr(), 150)?;
    ep.send(1, &[], &[b.cptr()]);
    check_eq!(shared(R_EXTRA), 1);
    check_eq!(shared(R_UNWRAPPED), 1);
    check_eq!(shared(R_BADGE0), 0x55);
    check_eq!(Cap::<Unknown>::from_cptr(slot).identify(), 0);
    Ok(())
}

fn unwrap_then_transfer(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let b = env.mint(ep, CapRights::ALL, 0x66)?;
    let n = env.notification()?;
    let slot = env.slot();
    set_shared(RECV_SLOT, slot);
    env.spawn(receiver, ep.cptr(), 150)?;
    ep.send(1, &[], &[b.cptr(), n.cptr()]);
    check_eq!(shared(R_EXTRA), 2);
    check_eq!(shared(R_UNWRAPPED), 0b01);
    check_eq!(shared(R_BADGE0), 0x66);
    check_eq!(
        Cap::<Unknown>::from_cptr(slot).identify(),
        CapTag::Notification.word()
    );
    Ok(())
}

fn transfer_untyped_with_children_stops(env: &mut Env) -> TestResult {
    let ut = env.untyped(12)?;
    let _child: Cap<Endpoint> = env.alloc_from(ut, cerne_abi::object::ObjectType::Endpoint, 0)?;
    transfer(env, CapRights::ALL, [ut.cptr(), 0], false)?;
    check_eq!(shared(R_EXTRA), 0);
    check_eq!(shared(R_LABEL), 1);
    Ok(())
}

fn nb_send_bad_extra_cap_dropped(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    set_shared(RECV_SLOT, env.slot());
    env.spawn(receiver, ep.cptr(), 150)?;
    // An extra cptr that cannot resolve (root guard mismatch).
    ep.nb_send(1, &[], &[1 << 60]);
    check_eq!(shared(R_DONE), 0);
    ep.nb_send(2, &[], &[]);
    check_eq!(shared(R_LABEL), 2);
    Ok(())
}

fn caller(ep: Word) {
    let r = ipc::call(ep, 1, &[2], &[]);
    set_shared(R_LABEL, r.label());
    set_shared(R_LEN, r.len() as Word);
    set_shared(R_EXTRA, r.info.extra_caps());
    set_shared(R_DONE, 1);
}

fn call_without_grant_or_grant_reply(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let w = env.copy(ep, CapRights::READ_WRITE)?;
    env.spawn(caller, w.cptr(), 150)?;
    let m = ep.recv();
    check_eq!(m.label(), 1);
    check_eq!(m.mr(0), 2);
    ipc::reply(0, &[], &[]);
    check_eq!(shared(R_DONE), 0);
    Ok(())
}

fn call_with_grant_reply_only(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let w = env.copy(ep, union(&[CapRights::WRITE, CapRights::GRANT_REPLY]))?;
    env.spawn(caller, w.cptr(), 150)?;
    ep.recv();
    ipc::reply(3, &[], &[]);
    check_eq!(shared(R_DONE), 1);
    check_eq!(shared(R_LABEL), 3);
    Ok(())
}

fn grant_caller(ep: Word) {
    ipc_buffer::set_receive_path(
        cerne_abi::slots::CAP_INIT_THREAD_CNODE as Word,
        shared(RECV_SLOT),
        64,
    );
    caller(ep);
}

fn reply_grant(env: &mut Env, server_rights: CapRights) -> TestResult {
    let ep = env.endpoint()?;
    let server = env.copy(ep, server_rights)?;
    let n = env.notification()?;
    set_shared(RECV_SLOT, env.slot());
    env.spawn(grant_caller, ep.cptr(), 150)?;
    server.recv();
    ipc::reply(0, &[], &[n.cptr()]);
    check_eq!(shared(R_DONE), 1);
    Ok(())
}

fn reply_carries_cap_with_grant(env: &mut Env) -> TestResult {
    reply_grant(env, CapRights::ALL)?;
    check_eq!(shared(R_EXTRA), 1);
    check_eq!(
        Cap::<Unknown>::from_cptr(shared(RECV_SLOT)).identify(),
        CapTag::Notification.word()
    );
    Ok(())
}

fn reply_without_grant_drops_cap(env: &mut Env) -> TestResult {
    reply_grant(
        env,
        union(&[CapRights::READ, CapRights::WRITE, CapRights::GRANT_REPLY]),
    )?;
    check_eq!(shared(R_EXTRA), 0);
    check_eq!(Cap::<Unknown>::from_cptr(shared(RECV_SLOT)).identify(), 0);
    Ok(())
}

fn flagged_caller(flag: Word) {
    ipc::call(shared(EP), flag, &[], &[]);
    set_shared(flag as usize, 1);
}

fn new_recv_drops_reply_cap(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    set_shared(EP, ep.cptr());
    env.spawn(flagged_caller, 20, 150)?;
    env.spawn(flagged_caller, 21, 150)?;
    check_eq!(ep.recv().label(), 20);
    // Receive again without replying: the first caller's reply cap goes.
    check_eq!(ep.recv().label(), 21);
    ipc::reply(0, &[], &[]);
    check_eq!(shared(21), 1);
    ipc::reply(0, &[], &[]);
    check_eq!(shared(20), 0);
    Ok(())
}

fn deleted_reply_cap(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    set_shared(EP, ep.cptr());
    env.spawn(flagged_caller, 20, 150)?;
    ep.recv();
    let s = env.slot();
    check_ok!(env.root().save_caller(s, 64));
    check_ok!(env.root().delete(s, 64));
    // Nothing left to reply through: the caller stays blocked.
    ipc::reply(0, &[], &[]);
    check_eq!(shared(20), 0);
    Ok(())
}

fn reply_without_caller_is_noop(_env: &mut Env) -> TestResult {
    ipc::reply(0, &[1, 2, 3, 4, 5], &[]);
    Ok(())
}

fn chain_middle(ep1: Word) {
    let ep1 = Cap::<Endpoint>::from_cptr(ep1);
    let m = ep1.recv();
    let r = ipc::call(shared(EP), 0, &[m.mr(0) + 10], &[]);
    ipc::reply(0, &[r.mr(0) + 100], &[]);
}

fn chain_end(ep2: Word) {
    let m = ipc::recv(ep2);
    ipc::reply(0, &[m.mr(0) + 1000], &[]);
}

fn call_chain(env: &mut Env) -> TestResult {
    let ep1 = env.endpoint()?;
    let ep2 = env.endpoint()?;
    set_shared(EP, ep2.cptr());
    env.spawn(chain_middle, ep1.cptr(), 150)?;
    env.spawn(chain_end, ep2.cptr(), 140)?;
    let r = ep1.call(0, &[1], &[]);
    check_eq!(r.mr(0), 1111);
    Ok(())
}

fn call_notification_returns(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    let b = env.mint(n, CapRights::ALL, 0x10)?;
    let r = ipc::call(b.cptr(), 0, &[], &[]);
    check_eq!(r.label(), 0);
    check_eq!(r.len(), 0);
    check_eq!(n.poll(), 0x10);
    Ok(())
}

fn call_empty_slot(env: &mut Env) -> TestResult {
    let s = env.slot();
    let r = ipc::call(s, 0, &[], &[]);
    check_eq!(r.label(), Error::InvalidCapability.word());
    check_eq!(r.len(), 1);
    check_eq!(r.mr(0), 0);
    Ok(())
}

fn send_to_empty_slot_is_ignored(env: &mut Env) -> TestResult {
    let s = env.slot();
    ipc::send(s, 0, &[], &[]);
    ipc::nb_send(s, 0, &[], &[]);
    Ok(())
}

fn delete_endpoint_restarts_sender(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let copy = env.copy(ep, CapRights::ALL)?;
    set_shared(EP, copy.cptr());
    env.spawn(sender, 0, 150)?;
    check_eq!(shared(R_DONE), 0);
    check_ok!(env.root().revoke(ep.cptr(), 64));
    check_ok!(env.root().delete(ep.cptr(), 64));
    // The sender re-ran its Send on an empty slot (an error nobody sees)
    // and went on.
    check_eq!(shared(R_DONE), 1);
    Ok(())
}

/// A thread without an IPC buffer sends 6 words: only 4 arrive.
fn bufferless_sender(ep: Word) {
    let info = MessageInfo::new(1, 0, 0, 6);
    libcerne::sel4::syscall::send(ep, info, [1, 2, 3, 4]);
}

fn no_ipc_buffer_truncates_to_4(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let t = env.thread(bufferless_sender, ep.cptr(), 150, 0)?;
    check_ok!(t.tcb.set_ipc_buffer(0, Cap::from_cptr(0)));
    check_ok!(t.tcb.resume());
    let m = ep.recv();
    check_eq!(m.len(), 4);
    check_eq!(m.mr(3), 4);
    Ok(())
}

fn recv_with_badge_and_words_together(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let b = env.mint(ep, CapRights::ALL, 77)?;
    set_shared(EP, b.cptr());
    set_shared(LEN, 120);
    set_shared(LABEL, 0xfffff);
    env.spawn(sender, 0, 150)?;
    let m = ep.recv();
    check_eq!((m.badge, m.label(), m.len()), (77, 0xfffff, 120));
    check!((0..120).all(|i| m.mr(i) == word(i)));
    Ok(())
}

fn suspend_caller_drops_reply(env: &mut Env) -> TestResult {
    // Suspending a thread blocked on its reply removes the reply cap: the
    // reply goes nowhere, and resumed the caller re-issues its Call.
    let ep = env.endpoint()?;
    let t = env.spawn(caller, ep.cptr(), 150)?;
    check_eq!(ep.recv().label(), 1);
    check_ok!(t.tcb.suspend());
    ipc::reply(0, &[], &[]);
    check_eq!(shared(R_DONE), 0);
    check_ok!(t.tcb.resume());
    let again = ep.recv();
    check_eq!((again.label(), again.mr(0)), (1, 2));
    ipc::reply(4, &[], &[]);
    check_eq!(shared(R_DONE), 1);
    check_eq!(shared(R_LABEL), 4);
    Ok(())
}

fn delete_blocked_sender(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    set_shared(EP, ep.cptr());
    set_shared(LABEL, 1);
    let t = env.spawn(sender, 0, 150)?;
    check_ok!(env.root().delete(t.tcb.cptr(), 64));
    check_eq!(ep.nb_recv().badge, 0);
    set_shared(LABEL, 2);
    env.spawn(sender, 0, 150)?;
    check_eq!(ep.recv().label(), 2);
    Ok(())
}

fn badged_sender(cptr: Word) {
    ipc::send(cptr, 0, &[cptr], &[]);
}

fn badges_identify_senders(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let mut sent = [(0, 0); 3];
    for (i, badge) in [11, 22, 33].into_iter().enumerate() {
        let b = env.mint(ep, CapRights::ALL, badge)?;
        env.spawn(badged_sender, b.cptr(), 150)?;
        sent[i] = (badge, b.cptr());
    }
    for (badge, cptr) in sent {
        let m = ep.recv();
        check_eq!((m.badge, m.mr(0)), (badge, cptr));
    }
    Ok(())
}

fn saved_reply_cap_in_other_thread(env: &mut Env) -> TestResult {
    // The driver saves a reply cap; a helper thread replies through it.
    let ep = env.endpoint()?;
    env.spawn(caller, ep.cptr(), 150)?;
    ep.recv();
    let s = env.slot();
    check_ok!(env.root().save_caller(s, 64));
    env.spawn(|s| Cap::<Reply>::from_cptr(s).send(9, &[], &[]), s, 120)?;
    check_eq!(shared(R_DONE), 1);
    check_eq!(shared(R_LABEL), 9);
    Ok(())
}

fn copy_reply_cap_is_null(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    env.spawn(caller, ep.cptr(), 150)?;
    ep.recv();
    let s = env.slot();
    check_ok!(env.root().save_caller(s, 64));
    let d = env.slot();
    crate::check_err!(
        env.root().copy(d, 64, env.root(), s, 64, CapRights::ALL),
        IllegalOperation
    );
    check_ok!(env.root().move_(d, 64, env.root(), s, 64));
    Cap::<Reply>::from_cptr(d).send(0, &[], &[]);
    check_eq!(shared(R_DONE), 1);
    Ok(())
}

/// Runs with a 16-slot CSpace of its own (guard 60): slot 1 an endpoint,
/// slot 2 its own CNode, slot 3 a notification. Receives a cap into its
/// slot 5 and reports.
fn foreign_receiver(_: Word) {
    ipc_buffer::set_receive_path(2, 5, 4);
    let m = ipc::recv(1);
    set_shared(R_EXTRA, m.info.extra_caps());
    set_shared(R_LABEL, libcerne::sel4::syscall::debug_cap_identify(5));
    set_shared(R_DONE, 1);
    Cap::<Notification>::from_cptr(3).wait();
}

fn transfer_into_other_cspace(env: &mut Env) -> TestResult {
    let cn = env.cnode(4)?;
    let ep = env.endpoint()?;
    let n = env.notification()?;
    check_ok!(cn.copy(1, 4, env.root(), ep.cptr(), 64, CapRights::ALL));
    check_ok!(cn.copy(2, 4, env.root(), cn.cptr(), 64, CapRights::ALL));
    check_ok!(cn.copy(3, 4, env.root(), n.cptr(), 64, CapRights::ALL));
    let t = env.thread(foreign_receiver, 0, 150, 0)?;
    let buf = crate::threads::ipc_buffer_addr(t.index);
    let frame = crate::threads::image_frame(env.bi, buf);
    check_ok!(t.tcb.configure(0, cn, 60, env.boot.vspace, 0, buf, frame));
    check_ok!(t.tcb.resume());
    let gift = env.notification()?;
    ep.send(0, &[], &[gift.cptr()]);
    check_eq!(shared(R_DONE), 1);
    check_eq!(shared(R_EXTRA), 1);
    check_eq!(shared(R_LABEL), CapTag::Notification.word());
    // It landed in slot 5 of cn, not of the root CNode.
    let out = env.slot();
    check_ok!(env.root().move_(out, 64, cn, 5, 4));
    check_eq!(
        Cap::<Unknown>::from_cptr(out).identify(),
        CapTag::Notification.word()
    );
    Ok(())
}

/// Bound: Recv on the endpoint with a sender queued and a signal pending.
fn bound_recv_with_both(ep: Word) {
    let m = ipc::recv(ep);
    set_shared(R_BADGE, m.badge);
    set_shared(R_DONE, 1);
}

fn pending_signal_beats_queued_sender(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let n = env.notification()?;
    let b = env.mint(n, CapRights::ALL, 0x41)?;
    let s = env.mint(ep, CapRights::ALL, 0x99)?;
    env.spawn(|s| ipc::send(s, 1, &[], &[]), s.cptr(), 150)?;
    b.signal();
    let t = env.thread(bound_recv_with_both, ep.cptr(), 150, 0)?;
    check_ok!(t.tcb.bind_notification(n));
    check_ok!(t.tcb.resume());
    check_eq!(shared(R_DONE), 1);
    check_eq!(shared(R_BADGE), 0x41);
    // The sender still waits.
    check_eq!(ep.nb_recv().badge, 0x99);
    Ok(())
}

fn suspending_caller_removes_saved_reply_cap(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let t = env.spawn(caller, ep.cptr(), 150)?;
    ep.recv();
    let s = env.slot();
    check_ok!(env.root().save_caller(s, 64));
    check_eq!(
        Cap::<Unknown>::from_cptr(s).identify(),
        CapTag::Reply.word()
    );
    check_ok!(t.tcb.suspend());
    check_eq!(Cap::<Unknown>::from_cptr(s).identify(), 0);
    Ok(())
}

fn deleting_caller_removes_saved_reply_cap(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let t = env.spawn(caller, ep.cptr(), 150)?;
    ep.recv();
    let s = env.slot();
    check_ok!(env.root().save_caller(s, 64));
    check_ok!(env.root().delete(t.tcb.cptr(), 64));
    check_eq!(Cap::<Unknown>::from_cptr(s).identify(), 0);
    Ok(())
}

fn revoked_ipc_buffer_truncates_to_4(env: &mut Env) -> TestResult {
    // The thread's IPC buffer cap (a copy in its TCB) is revoked: it has no
    // buffer any more, and its 6-word message arrives as 4 words.
    let ep = env.endpoint()?;
    let t = env.thread(bufferless_sender, ep.cptr(), 150, 0)?;
    let frame = crate::threads::image_frame(env.bi, crate::threads::ipc_buffer_addr(t.index));
    check_ok!(env.root().revoke(frame.cptr(), 64));
    check_ok!(t.tcb.resume());
    let m = ep.recv();
    check_eq!(m.len(), 4);
    Ok(())
}

/// Ring member: receives the token on endpoint `shared(20 + i)`, passes it
/// on to `shared(20 + i + 1)` (the driver's endpoint for the last).
fn ring_member(i: Word) {
    let i = i as usize;
    loop {
        let m = ipc::recv(shared(20 + i));
        add_shared(1, 1);
        ipc::send(shared(21 + i), 0, &[m.mr(0) + 1], &[]);
    }
}

fn token_ring(env: &mut Env) -> TestResult {
    // Eight threads at several priorities pass a counter round a ring of
    // endpoints ten times.
    let n = crate::threads::HELPERS;
    for i in 0..=n {
        set_shared(20 + i, env.endpoint()?.cptr());
    }
    for i in 0..n {
        env.spawn(ring_member, i as Word, 110 + (i as Word % 3) * 20)?;
    }
    let first = Cap::<Endpoint>::from_cptr(shared(20));
    let last = Cap::<Endpoint>::from_cptr(shared(20 + n));
    let mut token = 0;
    for _ in 0..10 {
        first.send(0, &[token], &[]);
        token = last.recv().mr(0);
    }
    check_eq!(token, 10 * n as Word);
    check_eq!(shared(1), 10 * n as Word);
    Ok(())
}

/// Receives on `ep` into `shared(RECV_SLOT)` and records the unwrapped
/// badges 0..3 in shared 24..27.
fn receiver3(ep: Word) {
    ipc_buffer::set_receive_path(
        cerne_abi::slots::CAP_INIT_THREAD_CNODE as Word,
        shared(RECV_SLOT),
        64,
    );
    let m = ipc::recv(ep);
    for i in 0..3 {
        set_shared(24 + i, ipc_buffer::badge(i));
    }
    record(&m);
}

fn three_caps_in_order(env: &mut Env) -> TestResult {
    // [notification, same endpoint, another notification]: the first takes
    // the receive slot, the second is unwrapped, the third finds no slot
    // and ends the transfer.
    let ep = env.endpoint()?;
    let b = env.mint(ep, CapRights::ALL, 0x21)?;
    let n1 = env.notification()?;
    let n2 = env.notification()?;
    let slot = env.slot();
    set_shared(RECV_SLOT, slot);
    env.spawn(receiver3, ep.cptr(), 150)?;
    ep.send(1, &[], &[n1.cptr(), b.cptr(), n2.cptr()]);
    check_eq!(shared(R_DONE), 1);
    check_eq!(shared(R_EXTRA), 2);
    check_eq!(shared(R_UNWRAPPED), 0b010);
    check_eq!(shared(25), 0x21);
    check_eq!(
        Cap::<Unknown>::from_cptr(slot).identify(),
        CapTag::Notification.word()
    );
    Ok(())
}

fn two_unwrapped_badges(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let b1 = env.mint(ep, CapRights::ALL, 0x31)?;
    let b2 = env.mint(ep, CapRights::ALL, 0x32)?;
    let n = env.notification()?;
    set_shared(RECV_SLOT, env.slot());
    env.spawn(receiver3, ep.cptr(), 150)?;
    ep.send(1, &[], &[b1.cptr(), b2.cptr(), n.cptr()]);
    check_eq!(shared(R_EXTRA), 3);
    check_eq!(shared(R_UNWRAPPED), 0b011);
    check_eq!([shared(24), shared(25)], [0x31, 0x32]);
    Ok(())
}

fn suspended_sender_leaves_queue(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    let b = env.mint(ep, CapRights::ALL, 0x5)?;
    set_shared(EP, b.cptr());
    set_shared(LABEL, 3);
    let t = env.spawn(sender, 0, 150)?;
    check_ok!(t.tcb.suspend());
    check_eq!(ep.nb_recv().badge, 0);
    check_eq!(shared(R_DONE), 0);
    // Resumed, it sends again.
    check_ok!(t.tcb.resume());
    let m = ep.recv();
    check_eq!((m.label(), m.badge), (3, 0x5));
    check_eq!(shared(R_DONE), 1);
    Ok(())
}

/// A thread whose IPC buffer cap (in its TCB) is a read-only copy.
fn thread_with_read_only_buffer(
    env: &mut Env,
    entry: fn(Word),
    arg: Word,
) -> core::result::Result<crate::threads::Thread, Fail> {
    let t = env.thread(entry, arg, 150, 0)?;
    let buf = crate::threads::ipc_buffer_addr(t.index);
    let frame = crate::threads::image_frame(env.bi, buf);
    let ro = env.copy(frame, CapRights::READ)?;
    check_ok!(t.tcb.set_ipc_buffer(buf, ro));
    check_ok!(t.tcb.resume());
    Ok(t)
}

fn read_only_buffer_can_send(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    set_shared(EP, ep.cptr());
    set_shared(LEN, 6);
    set_shared(LABEL, 2);
    thread_with_read_only_buffer(env, sender, 0)?;
    let m = ep.recv();
    check_eq!(m.len(), 6);
    check_eq!(m.mr(5), word(5));
    Ok(())
}

fn read_only_buffer_cannot_receive(env: &mut Env) -> TestResult {
    // Receiving needs a read-write buffer: without one only MR0..MR3 come.
    let ep = env.endpoint()?;
    set_shared(RECV_SLOT, env.slot());
    thread_with_read_only_buffer(
        env,
        |ep| {
            let r = libcerne::sel4::syscall::recv(ep, [0; 4]);
            set_shared(R_LEN, r.info.length());
            set_shared(R_DONE, 1);
        },
        ep.cptr(),
    )?;
    let words: [Word; 6] = core::array::from_fn(word);
    ep.send(1, &words, &[]);
    check_eq!(shared(R_DONE), 1);
    check_eq!(shared(R_LEN), 4);
    Ok(())
}

fn extra_cap_resolved_again_at_transfer(env: &mut Env) -> TestResult {
    // The sender blocks with a valid extra cap, which is deleted before
    // the receiver comes: the message arrives without it.
    let ep = env.endpoint()?;
    let n = env.notification()?;
    let gift = env.copy(n, CapRights::ALL)?;
    set_shared(EP, ep.cptr());
    set_shared(LABEL, 4);
    set_shared(CAP, gift.cptr());
    env.spawn(sender, 0, 150)?;
    check_ok!(env.root().delete(gift.cptr(), 64));
    let slot = env.slot();
    ipc_buffer::set_receive_path(env.root().cptr(), slot, 64);
    let m = ep.recv();
    ipc_buffer::set_receive_path(0, 0, 0);
    check_eq!(m.label(), 4);
    check_eq!(m.info.extra_caps(), 0);
    check_eq!(Cap::<Unknown>::from_cptr(slot).identify(), 0);
    Ok(())
}

fn reply_does_not_unwrap(env: &mut Env) -> TestResult {
    // A reply carrying a cap to the very endpoint of the call transfers
    // it: replies never unwrap.
    let ep = env.endpoint()?;
    set_shared(RECV_SLOT, env.slot());
    env.spawn(grant_caller, ep.cptr(), 150)?;
    ep.recv();
    let b = env.mint(ep, CapRights::ALL, 0x12)?;
    ipc::reply(0, &[], &[b.cptr()]);
    check_eq!(shared(R_DONE), 1);
    check_eq!(shared(R_EXTRA), 1);
    check_eq!(
        Cap::<Unknown>::from_cptr(shared(RECV_SLOT)).identify(),
        CapTag::Endpoint.word()
    );
    Ok(())
}

tests![
    message_0_words,
    message_4_words,
    message_5_words,
    message_120_words,
    send_5_to_waiting_receiver,
    send_120_to_waiting_receiver,
    length_above_120_is_clamped,
    badge_delivered,
    call_reply,
    reply_recv_serves_many,
    call_fast_and_slow_agree,
    nb_send_without_receiver_is_dropped,
    nb_recv_without_sender,
    nb_recv_with_sender,
    nb_recv_leaves_registers,
    short_message_leaves_other_registers,
    senders_queue_fifo,
    receivers_queue_fifo,
    cap_transfer_with_grant,
    no_transfer_without_grant,
    no_transfer_into_occupied_slot,
    one_cap_per_message,
    unwrap_same_endpoint,
    unwrap_then_transfer,
    transfer_untyped_with_children_stops,
    nb_send_bad_extra_cap_dropped,
    call_without_grant_or_grant_reply,
    call_with_grant_reply_only,
    reply_carries_cap_with_grant,
    reply_without_grant_drops_cap,
    new_recv_drops_reply_cap,
    deleted_reply_cap,
    reply_without_caller_is_noop,
    call_chain,
    call_notification_returns,
    call_empty_slot,
    send_to_empty_slot_is_ignored,
    delete_endpoint_restarts_sender,
    no_ipc_buffer_truncates_to_4,
    recv_with_badge_and_words_together,
    suspend_caller_drops_reply,
    delete_blocked_sender,
    badges_identify_senders,
    saved_reply_cap_in_other_thread,
    copy_reply_cap_is_null,
    transfer_into_other_cspace,
    pending_signal_beats_queued_sender,
    suspending_caller_removes_saved_reply_cap,
    deleting_caller_removes_saved_reply_cap,
    revoked_ipc_buffer_truncates_to_4,
    token_ring,
    three_caps_in_order,
    two_unwrapped_badges,
    suspended_sender_leaves_queue,
    read_only_buffer_can_send,
    read_only_buffer_cannot_receive,
    extra_cap_resolved_again_at_transfer,
    reply_does_not_unwrap,
];
