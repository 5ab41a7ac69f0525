//! IRQControl and IRQHandler (docs/sel4-abi.md §5.6): issuing handlers, the
//! range, ownership and slot checks, trigger modes, and the handler's
//! notification binding. (Delivery from a real device is tested by the
//! `irq-uart` system, not here.)

use crate::framework::*;
use crate::{check_eq, check_err, check_ok, tests};
use cerne_abi::invocation::InvocationLabel as L;
use cerne_abi::object::CapTag;
use cerne_abi::rights::CapRights;
use cerne_abi::Word;
use libcerne::sel4::*;

/// SPIs no device of the virt board raises here (the UART is 33).
const IRQ_A: Word = 60;
const IRQ_B: Word = 61;
/// The kernel's own timer PPI.
const TIMER_IRQ: Word = 27;
/// The highest IRQ number (maxIRQ).
const MAX_IRQ: Word = 159;

fn get_handler(env: &mut Env) -> TestResult {
    let s = env.slot();
    check_ok!(env.boot.irq_control.get(IRQ_A, env.root(), s, 64));
    check_eq!(
        Cap::<Unknown>::from_cptr(s).identify(),
        CapTag::IrqHandler.word()
    );
    // One handler per IRQ.
    let s2 = env.slot();
    check_err!(
        env.boot.irq_control.get(IRQ_A, env.root(), s2, 64),
        RevokeFirst
    );
    Ok(())
}

fn get_range(env: &mut Env) -> TestResult {
    let s = env.slot();
    check_err!(
        env.boot.irq_control.get(MAX_IRQ + 1, env.root(), s, 64),
        RangeError,
        [0, MAX_IRQ]
    );
    check_err!(
        env.boot.irq_control.get(u64::MAX, env.root(), s, 64),
        RangeError,
        [0, MAX_IRQ]
    );
    Ok(())
}

fn get_timer_irq(env: &mut Env) -> TestResult {
    let s = env.slot();
    check_err!(
        env.boot.irq_control.get(TIMER_IRQ, env.root(), s, 64),
        RevokeFirst
    );
    Ok(())
}

fn get_slot_errors(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    check_err!(
        env.boot.irq_control.get(IRQ_A, env.root(), ep.cptr(), 64),
        DeleteFirst
    );
    let s = env.slot();
    check_err!(
        env.boot.irq_control.get(IRQ_A, env.root(), s, 0),
        RangeError,
        [1, 64]
    );
    check_err!(
        env.boot.irq_control.get(IRQ_A, ep.cast(), s, 64),
        FailedLookup,
        [0, 1]
    );
    // None of that took the IRQ.
    check_ok!(env.boot.irq_control.get(IRQ_A, env.root(), s, 64));
    Ok(())
}

fn get_truncated(env: &mut Env) -> TestResult {
    let ctl = env.boot.irq_control.cptr();
    let s = env.slot();
    let root = env.root().cptr();
    check_err!(
        ipc::invoke(ctl, L::IrqIssueIrqHandler, &[IRQ_A, s], &[root]),
        TruncatedMessage
    );
    check_err!(
        ipc::invoke(ctl, L::IrqIssueIrqHandler, &[IRQ_A, s, 64], &[]),
        TruncatedMessage
    );
    check_err!(
        ipc::invoke(
            ctl,
            L::ArmIrqIssueIrqHandlerTrigger,
            &[IRQ_A, 1, s],
            &[root]
        ),
        TruncatedMessage
    );
    check_err!(
        ipc::invoke(
            ctl,
            L::ArmIrqIssueIrqHandlerTrigger,
            &[IRQ_A, 1, s, 64],
            &[]
        ),
        TruncatedMessage
    );
    Ok(())
}

fn get_trigger(env: &mut Env) -> TestResult {
    let (s1, s2) = (env.slot(), env.slot());
    check_ok!(env
        .boot
        .irq_control
        .get_trigger(IRQ_A, 1, env.root(), s1, 64));
    check_ok!(env
        .boot
        .irq_control
        .get_trigger(IRQ_B, 0, env.root(), s2, 64));
    check_eq!(
        Cap::<Unknown>::from_cptr(s1).identify(),
        CapTag::IrqHandler.word()
    );
    check_err!(
        env.boot
            .irq_control
            .get_trigger(IRQ_A, 0, env.root(), env.slot(), 64),
        RevokeFirst
    );
    check_err!(
        env.boot
            .irq_control
            .get_trigger(MAX_IRQ + 1, 0, env.root(), env.slot(), 64),
        RangeError,
        [0, MAX_IRQ]
    );
    Ok(())
}

fn handler_invocations(env: &mut Env) -> TestResult {
    let s = env.slot();
    check_ok!(env.boot.irq_control.get(IRQ_A, env.root(), s, 64));
    let h: Cap<IrqHandler> = Cap::from_cptr(s);
    let n = env.notification()?;
    let n2 = env.notification()?;
    check_ok!(h.ack());
    check_ok!(h.set_notification(n));
    check_ok!(h.set_notification(n2));
    check_ok!(h.clear());
    check_ok!(h.clear());
    check_ok!(h.ack());
    Ok(())
}

fn set_notification_errors(env: &mut Env) -> TestResult {
    let s = env.slot();
    check_ok!(env.boot.irq_control.get(IRQ_A, env.root(), s, 64));
    let h: Cap<IrqHandler> = Cap::from_cptr(s);
    let ep = env.endpoint()?;
    let n = env.notification()?;
    let ro = env.copy(n, CapRights::READ)?;
    check_err!(h.set_notification(ep.cast()), InvalidCapability, [0]);
    check_err!(h.set_notification(ro), InvalidCapability, [0]);
    check_err!(
        ipc::invoke(h.cptr(), L::IrqSetIrqHandler, &[], &[]),
        TruncatedMessage
    );
    Ok(())
}

fn handler_wrong_label(env: &mut Env) -> TestResult {
    let s = env.slot();
    check_ok!(env.boot.irq_control.get(IRQ_A, env.root(), s, 64));
    check_err!(ipc::invoke(s, L::TcbSuspend, &[], &[]), IllegalOperation);
    check_err!(
        ipc::invoke(env.boot.irq_control.cptr(), L::IrqAckIrq, &[], &[]),
        IllegalOperation
    );
    Ok(())
}

fn delete_handler_frees_irq(env: &mut Env) -> TestResult {
    let s = env.slot();
    check_ok!(env.boot.irq_control.get(IRQ_A, env.root(), s, 64));
    check_ok!(env.root().delete(s, 64));
    check_ok!(env.boot.irq_control.get(IRQ_A, env.root(), s, 64));
    Ok(())
}

fn handler_copies_share_irq(env: &mut Env) -> TestResult {
    // A copy of a handler cap is the same IRQ: the IRQ stays taken until
    // the last copy goes.
    let s = env.slot();
    check_ok!(env.boot.irq_control.get(IRQ_A, env.root(), s, 64));
    let c = env.copy(Cap::<IrqHandler>::from_cptr(s), CapRights::ALL)?;
    check_ok!(c.ack());
    check_ok!(env.root().delete(s, 64));
    check_err!(
        env.boot.irq_control.get(IRQ_A, env.root(), s, 64),
        RevokeFirst
    );
    check_ok!(env.root().delete(c.cptr(), 64));
    check_ok!(env.boot.irq_control.get(IRQ_A, env.root(), s, 64));
    Ok(())
}

fn notification_deleted_under_handler(env: &mut Env) -> TestResult {
    let s = env.slot();
    check_ok!(env.boot.irq_control.get(IRQ_A, env.root(), s, 64));
    let h: Cap<IrqHandler> = Cap::from_cptr(s);
    let n = env.notification()?;
    check_ok!(h.set_notification(n));
    check_ok!(env.root().delete(n.cptr(), 64));
    check_ok!(h.ack());
    check_ok!(h.clear());
    let n2 = env.notification()?;
    check_ok!(h.set_notification(n2));
    Ok(())
}

fn issue_sgi_signal(env: &mut Env) -> TestResult {
    // The cap is made (and not invoked: an SGI to this CPU is the kernel's
    // business).
    let ctl = env.boot.irq_control;
    let s = env.slot();
    check_err!(
        ctl.issue_sgi_signal(16, 0, env.root(), s, 64),
        RangeError,
        [0, 15]
    );
    check_err!(
        ctl.issue_sgi_signal(1, 8, env.root(), s, 64),
        InvalidArgument,
        [1]
    );
    check_err!(
        ipc::invoke(
            ctl.cptr(),
            L::ArmIrqIssueSgiSignal,
            &[1, 0, s],
            &[env.root().cptr()]
        ),
        TruncatedMessage
    );
    check_ok!(ctl.issue_sgi_signal(1, 0, env.root(), s, 64));
    check_eq!(
        Cap::<Unknown>::from_cptr(s).identify(),
        CapTag::SgiSignal.word()
    );
    check_err!(ctl.issue_sgi_signal(1, 0, env.root(), s, 64), DeleteFirst);
    Ok(())
}

tests![
    get_handler,
    get_range,
    get_timer_irq,
    get_slot_errors,
    get_truncated,
    get_trigger,
    handler_invocations,
    set_notification_errors,
    handler_wrong_label,
    delete_handler_frees_irq,
    handler_copies_share_irq,
    notification_deleted_under_handler,
    issue_sgi_signal,
];
