//! Thread CPU-time accounting through seL4's thread-utilisation calls
//! (docs/sel4-abi.md §2.1 −23, −24, −26; docs/kernel.md): a running thread is
//! charged and a blocked one is not, resets, seL4's silence on a cap that
//! is not a TCB, and the totals bound every thread's share.

use crate::framework::*;
use crate::runner::DRIVER_PRIORITY;
use crate::{check, check_eq, check_ok, tests};
use cerne_abi::error::Error;
use cerne_abi::Word;
use libcerne::sel4::benchmark::*;
use libcerne::sel4::syscall::yield_now;
use libcerne::sel4::*;

fn spin(_: Word) {
    loop {
        add_shared(0, 1);
    }
}

fn wait_for_good(n: Word) {
    Cap::<Notification>::from_cptr(n).wait();
}

/// Gives the CPU to equal-priority threads until `spinner` has been
/// switched away from at least once more (its time is charged then).
fn let_run(spinner: Cap<Tcb>) -> core::result::Result<ThreadUtilisation, Fail> {
    let before = check_ok!(benchmark_get_thread_utilisation(spinner));
    for _ in 0..1000 {
        yield_now();
        let now = check_ok!(benchmark_get_thread_utilisation(spinner));
        if now.thread_time > before.thread_time {
            return Ok(now);
        }
    }
    Err(fail(
        file!(),
        line!(),
        format_args!("the spinning thread was never charged"),
    ))
}

fn running_thread_is_charged_blocked_is_not(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    let blocked = env.spawn(wait_for_good, n.cptr(), DRIVER_PRIORITY + 1)?;
    let spinner = env.spawn(spin, 0, DRIVER_PRIORITY)?;
    let b1 = check_ok!(benchmark_get_thread_utilisation(blocked.tcb));
    check!(b1.thread_schedules >= 1, "the waiter ran before it blocked");
    let s1 = let_run(spinner.tcb)?;
    let s2 = let_run(spinner.tcb)?;
    check!(s2.thread_time > s1.thread_time);
    check!(s2.thread_schedules > s1.thread_schedules);
    check!(s2.total_time > s1.total_time);
    let b2 = check_ok!(benchmark_get_thread_utilisation(blocked.tcb));
    check_eq!(b2.thread_time, b1.thread_time);
    check_eq!(b2.thread_schedules, b1.thread_schedules);
    check_eq!(b2.thread_kernel_entries, b1.thread_kernel_entries);
    check!(shared(0) > 0);
    check_ok!(spinner.tcb.suspend());
    Ok(())
}

fn reset_zeroes_one_thread(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    let a = env.spawn(wait_for_good, n.cptr(), DRIVER_PRIORITY + 1)?;
    let b = env.spawn(wait_for_good, n.cptr(), DRIVER_PRIORITY + 1)?;
    let before = check_ok!(benchmark_get_thread_utilisation(a.tcb));
    check!(before.thread_schedules >= 1);
    benchmark_reset_thread_utilisation(a.tcb);
    let after = check_ok!(benchmark_get_thread_utilisation(a.tcb));
    check_eq!(after.thread_time, 0);
    check_eq!(after.thread_schedules, 0);
    check_eq!(after.thread_kernel_time, 0);
    check_eq!(after.thread_kernel_entries, 0);
    // The other thread and the totals are untouched.
    let other = check_ok!(benchmark_get_thread_utilisation(b.tcb));
    check!(other.thread_schedules >= 1);
    check!(after.total_time >= before.total_time);
    Ok(())
}

fn reset_all_zeroes_every_thread_and_the_totals(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    let a = env.spawn(wait_for_good, n.cptr(), DRIVER_PRIORITY + 1)?;
    let before = check_ok!(benchmark_get_thread_utilisation(a.tcb));
    check!(before.thread_schedules >= 1);
    benchmark_reset_all_threads_utilisation();
    let after = check_ok!(benchmark_get_thread_utilisation(a.tcb));
    check_eq!(after.thread_time, 0);
    check_eq!(after.thread_schedules, 0);
    check_eq!(after.thread_kernel_entries, 0);
    check!(after.total_time < before.total_time);
    check!(after.total_kernel_entries < before.total_kernel_entries);
    let me = check_ok!(benchmark_get_thread_utilisation(env.me));
    check!(me.thread_time <= me.total_time);
    Ok(())
}

fn not_a_tcb_is_ignored_as_in_sel4(env: &mut Env) -> TestResult {
    let ep = env.endpoint()?;
    // seL4 writes nothing and raises no error or fault for a cap that is
    // not a TCB (nor for an empty slot); the wrapper sees the untouched
    // buffer word.
    check_eq!(
        benchmark_get_thread_utilisation(Cap::from_cptr(ep.cptr())),
        Err(Error::InvalidCapability)
    );
    let empty = env.slot();
    check_eq!(
        benchmark_get_thread_utilisation(Cap::from_cptr(empty)),
        Err(Error::InvalidCapability)
    );
    let n = env.notification()?;
    let a = env.spawn(wait_for_good, n.cptr(), DRIVER_PRIORITY + 1)?;
    let before = check_ok!(benchmark_get_thread_utilisation(a.tcb));
    benchmark_reset_thread_utilisation(Cap::from_cptr(ep.cptr()));
    benchmark_reset_thread_utilisation(Cap::from_cptr(empty));
    let after = check_ok!(benchmark_get_thread_utilisation(a.tcb));
    check_eq!(after.thread_schedules, before.thread_schedules);
    check_eq!(after.thread_time, before.thread_time);
    Ok(())
}

fn totals_bound_every_share(env: &mut Env) -> TestResult {
    let spinner = env.spawn(spin, 0, DRIVER_PRIORITY)?;
    let s = let_run(spinner.tcb)?;
    check_ok!(spinner.tcb.suspend());
    let me = check_ok!(benchmark_get_thread_utilisation(env.me));
    for u in [s, me] {
        check!(u.thread_time <= u.total_time, "{u:?}");
        check!(u.idle_time <= u.total_time, "{u:?}");
        check!(u.thread_kernel_time <= u.total_kernel_time, "{u:?}");
        check!(u.thread_kernel_entries <= u.total_kernel_entries, "{u:?}");
        check!(u.thread_schedules <= u.total_schedules, "{u:?}");
        check!(u.total_kernel_time <= u.total_time, "{u:?}");
    }
    check!(s.thread_time + me.thread_time <= me.total_time);
    check!(me.total_time >= s.total_time);
    Ok(())
}

tests![
    running_thread_is_charged_blocked_is_not,
    reset_zeroes_one_thread,
    reset_all_zeroes_every_thread_and_the_totals,
    not_a_tcb_is_ignored_as_in_sel4,
    totals_bound_every_share,
];
