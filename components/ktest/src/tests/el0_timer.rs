//! The generic timer at EL0 (docs/kernel.md): both counters readable and
//! increasing, and the EL1 physical timer programmed from EL0, its
//! interrupt (INTID 30) delivered through IRQControl_Get, a notification
//! and IRQHandler_Ack, expiry after expiry.

use crate::framework::*;
use crate::{check, check_err, check_ok, tests};
use cerne_abi::Word;
use libcerne::generic_timer::*;
use libcerne::sel4::*;

/// The kernel's own timer PPI (the virtual timer), which stays refused.
const KERNEL_TIMER_IRQ: Word = 27;

fn counters_increase_at_el0(_env: &mut Env) -> TestResult {
    check!(frequency() > 0);
    let (p1, v1) = (physical_count(), virtual_count());
    let mut spins = 0u64;
    while (physical_count() == p1 || virtual_count() == v1) && spins < 10_000_000 {
        spins += 1;
    }
    check!(physical_count() > p1);
    check!(virtual_count() > v1);
    Ok(())
}

fn physical_timer_interrupt_reaches_el0(env: &mut Env) -> TestResult {
    let s = env.slot();
    check_err!(
        env.boot
            .irq_control
            .get(KERNEL_TIMER_IRQ, env.root(), env.slot(), 64),
        RevokeFirst
    );
    check_ok!(env
        .boot
        .irq_control
        .get(PHYSICAL_TIMER_IRQ, env.root(), s, 64));
    let h: Cap<IrqHandler> = Cap::from_cptr(s);
    let n = env.notification()?;
    check_ok!(h.set_notification(n));
    check_ok!(h.ack());
    // Keep the CPU busy below the driver while it waits, or the watchdog
    // would take the wait for a hang.
    set_shared(0, 0);
    env.spawn(busy_until_done, 0, 2)?;
    // A millisecond ahead, twice: the second expiry arrives only because
    // the first was acknowledged.
    let step = (frequency() / 1000).max(1);
    for _ in 0..2 {
        let deadline = physical_count() + step;
        arm_physical_timer(deadline);
        n.wait();
        check!(physical_count() >= deadline);
        check!(physical_timer_expired());
        stop_physical_timer();
        check_ok!(h.ack());
    }
    set_shared(0, 1);
    check_ok!(h.clear());
    Ok(())
}

/// Spins until the test is done, or for at most a second of the counter
/// (then the watchdog sees a real hang).
fn busy_until_done(_: Word) {
    let give_up = virtual_count() + frequency();
    while shared(0) == 0 && virtual_count() < give_up {
        core::hint::spin_loop();
    }
}

tests![
    counters_increase_at_el0,
    physical_timer_interrupt_reaches_el0
];
