//! Scheduling (docs/sel4-abi.md §11): priorities and preemption on wake-up,
//! Yield, round robin and timer preemption at equal priority, priority
//! changes, Suspend, MCP, and the DomainSet with one domain (§5.7).

use crate::framework::*;
use crate::runner::DRIVER_PRIORITY;
use crate::{check, check_eq, check_err, check_ok, tests};
use cerne_abi::invocation::InvocationLabel as L;
use cerne_abi::rights::CapRights;
use cerne_abi::Word;
use libcerne::sel4::syscall::yield_now;
use libcerne::sel4::*;

/// Iterations after which a busy loop gives up (far more than a time slice
/// of TCG, far less than the suite's time budget).
const SPIN_LIMIT: Word = 20_000_000;

fn mark(i: Word) {
    set_shared(i as usize, 1);
}

fn higher_priority_runs_at_once(env: &mut Env) -> TestResult {
    env.spawn(mark, 0, DRIVER_PRIORITY + 1)?;
    check_eq!(shared(0), 1);
    Ok(())
}

fn lower_priority_waits(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    set_shared(10, n.cptr());
    env.spawn(
        |_| {
            set_shared(0, 1);
            Cap::<Notification>::from_cptr(shared(10)).signal();
        },
        0,
        DRIVER_PRIORITY - 1,
    )?;
    check_eq!(shared(0), 0);
    yield_now();
    check_eq!(shared(0), 0);
    n.wait();
    check_eq!(shared(0), 1);
    Ok(())
}

/// How often a test that a timer tick can disturb is tried: a tick that
/// ends the driver's time slice between two of its steps lets an
/// equal-priority thread run early, which is not the kernel's fault.
const ATTEMPTS: usize = 3;

fn equal_priority_runs_after_yield(env: &mut Env) -> TestResult {
    for _ in 0..ATTEMPTS {
        set_shared(0, 0);
        let t = env.spawn(mark, 0, DRIVER_PRIORITY)?;
        if shared(0) == 0 {
            yield_now();
            check_eq!(shared(0), 1);
            return Ok(());
        }
        check_ok!(t.tcb.suspend());
    }
    check!(
        false,
        "an equal-priority thread ran at once on Resume, {ATTEMPTS} times"
    );
    Ok(())
}

fn yield_alternates(env: &mut Env) -> TestResult {
    // A thread at the driver's priority: each yield of the driver lets it
    // run one step (it counts, then yields back), in queue order.
    'attempt: for _ in 0..ATTEMPTS {
        set_shared(0, 0);
        let t = env.spawn(
            |_| {
                for _ in 0..3 {
                    add_shared(0, 1);
                    yield_now();
                }
            },
            0,
            DRIVER_PRIORITY,
        )?;
        for i in 1..=3 {
            yield_now();
            if shared(0) != i {
                check_ok!(t.tcb.suspend());
                continue 'attempt;
            }
        }
        return Ok(());
    }
    check!(
        false,
        "yields did not alternate the two threads, {ATTEMPTS} times"
    );
    Ok(())
}

fn waiter(n: Word) {
    Cap::<Notification>::from_cptr(n).wait();
    set_shared(0, 1);
}

fn woken_higher_priority_preempts(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    env.spawn(waiter, n.cptr(), DRIVER_PRIORITY + 50)?;
    n.signal();
    check_eq!(shared(0), 1);
    Ok(())
}

fn woken_equal_priority_waits_its_turn(env: &mut Env) -> TestResult {
    for _ in 0..ATTEMPTS {
        set_shared(0, 0);
        let n = env.notification()?;
        let t = env.spawn(waiter, n.cptr(), DRIVER_PRIORITY)?;
        yield_now(); // it runs and blocks
        n.signal();
        if shared(0) == 0 {
            yield_now();
            check_eq!(shared(0), 1);
            return Ok(());
        }
        check_ok!(t.tcb.suspend());
    }
    check!(
        false,
        "a woken equal-priority thread preempted the signaller, {ATTEMPTS} times"
    );
    Ok(())
}

fn raise_priority_preempts(env: &mut Env) -> TestResult {
    let t = env.spawn(mark, 0, DRIVER_PRIORITY - 10)?;
    check_eq!(shared(0), 0);
    check_ok!(t.tcb.set_priority(env.boot.tcb, DRIVER_PRIORITY + 10));
    check_eq!(shared(0), 1);
    Ok(())
}

fn lower_own_priority(env: &mut Env) -> TestResult {
    env.spawn(mark, 0, DRIVER_PRIORITY - 10)?;
    check_ok!(env.me.set_priority(env.boot.tcb, DRIVER_PRIORITY - 20));
    check_eq!(shared(0), 1);
    check_ok!(env.me.set_priority(env.boot.tcb, DRIVER_PRIORITY));
    Ok(())
}

fn suspended_thread_does_not_run(env: &mut Env) -> TestResult {
    let t = env.spawn(mark, 0, DRIVER_PRIORITY - 10)?;
    check_ok!(t.tcb.suspend());
    check_ok!(env.me.set_priority(env.boot.tcb, DRIVER_PRIORITY - 20));
    check_eq!(shared(0), 0);
    check_ok!(t.tcb.resume());
    check_eq!(shared(0), 1);
    check_ok!(env.me.set_priority(env.boot.tcb, DRIVER_PRIORITY));
    Ok(())
}

fn own_mcp_bounds_own_priority(env: &mut Env) -> TestResult {
    check_err!(
        env.me.set_priority(env.me, 255),
        RangeError,
        [0, crate::runner::DRIVER_MCP]
    );
    check_ok!(env.me.set_priority(env.me, DRIVER_PRIORITY));
    Ok(())
}

/// Counts in `shared(arg)` until the partner's counter (`shared(arg ^ 1)`)
/// is non-zero and it has counted a while, or the limit; then signals.
fn busy(arg: Word) {
    let (me, other) = (arg as usize, (arg ^ 1) as usize);
    let mut i = 0;
    while i < SPIN_LIMIT {
        add_shared(me, 1);
        i += 1;
        if shared(other) > 0 && i > 1000 {
            break;
        }
    }
    set_shared(me + 2, i);
    Cap::<Notification>::from_cptr(shared(10)).signal();
}

fn round_robin_equal_priority(env: &mut Env) -> TestResult {
    let n = env.notification()?;
    set_shared(10, n.cptr());
    // Two busy threads at the driver's priority, queued behind it; once it
    // blocks, only the timer lets the second run while the first spins.
    env.spawn(busy, 0, DRIVER_PRIORITY)?;
    env.spawn(busy, 1, DRIVER_PRIORITY)?;
    n.wait();
    if shared(2) == 0 || shared(3) == 0 {
        n.wait();
    }
    check!(
        shared(0) > 0 && shared(1) > 0,
        "counters {} {}",
        shared(0),
        shared(1)
    );
    check!(
        shared(2) < SPIN_LIMIT && shared(3) < SPIN_LIMIT,
        "a thread spun to the limit: {} {}",
        shared(2),
        shared(3)
    );
    Ok(())
}

fn timer_preempts_the_driver(env: &mut Env) -> TestResult {
    let t = env.spawn(
        |_| {
            let mut i = 0;
            while i < SPIN_LIMIT {
                add_shared(0, 1);
                i += 1;
            }
        },
        0,
        DRIVER_PRIORITY,
    )?;
    let mut i = 0;
    while shared(0) == 0 && i < SPIN_LIMIT {
        i += 1;
        core::hint::spin_loop();
    }
    check_ok!(t.tcb.suspend());
    check!(
        shared(0) > 0,
        "the equal-priority thread never ran while the driver spun"
    );
    Ok(())
}

fn lower_priority_starves_while_busy(env: &mut Env) -> TestResult {
    let t = env.spawn(mark, 0, DRIVER_PRIORITY - 1)?;
    // Spin through several ticks: the timer must not run a lower thread.
    let mut x = 0u64;
    for i in 0..2_000_000u64 {
        x = x.wrapping_add(core::hint::black_box(i));
    }
    core::hint::black_box(x);
    check_eq!(shared(0), 0);
    check_ok!(t.tcb.suspend());
    Ok(())
}

fn domain_set(env: &mut Env) -> TestResult {
    let t = env.tcb()?;
    let ep = env.endpoint()?;
    let d = env.boot.domain;
    check_ok!(d.set(0, t));
    check_err!(d.set(1, t), InvalidArgument, [0]);
    check_err!(d.set(0, ep.cast()), InvalidArgument, [1]);
    check_err!(
        ipc::invoke(d.cptr(), L::DomainSetSet, &[], &[t.cptr()]),
        TruncatedMessage
    );
    check_err!(
        ipc::invoke(d.cptr(), L::DomainSetSet, &[0], &[]),
        TruncatedMessage
    );
    check_err!(
        ipc::invoke(d.cptr(), L::TcbSuspend, &[0], &[t.cptr()]),
        IllegalOperation
    );
    Ok(())
}

fn domain_set_running_thread(env: &mut Env) -> TestResult {
    // Moving a thread to domain 0 (the only one) keeps it schedulable.
    let n = env.notification()?;
    let t = env.spawn(waiter, n.cptr(), DRIVER_PRIORITY + 5)?;
    check_ok!(env.boot.domain.set(0, t.tcb));
    n.signal();
    check_eq!(shared(0), 1);
    Ok(())
}

fn priorities_order_wakeups(env: &mut Env) -> TestResult {
    // Three waiters of different priorities woken by one broadcast-like
    // sequence run highest first once the driver blocks.
    let n = env.notification()?;
    let done = env.notification()?;
    set_shared(10, done.cptr());
    for (p, tag) in [(90, 1), (95, 2), (80, 3)] {
        env.spawn(
            |tag| {
                let order = add_shared(20, 1);
                set_shared(tag as usize, order + 1);
                Cap::<Notification>::from_cptr(shared(10)).signal();
            },
            tag,
            p,
        )?;
    }
    let _ = n;
    check_ok!(env.me.set_priority(env.boot.tcb, 50));
    done.poll();
    check_eq!([shared(2), shared(1), shared(3)], [1, 2, 3]);
    check_ok!(env.me.set_priority(env.boot.tcb, DRIVER_PRIORITY));
    Ok(())
}

fn mint_keeps_priority_authority(env: &mut Env) -> TestResult {
    // A copy of a TCB cap is as good an authority as the original.
    let auth = env.tcb()?;
    check_ok!(auth.set_mc_priority(env.boot.tcb, 30));
    let copy = env.copy(auth, CapRights::READ)?;
    let t = env.tcb()?;
    check_ok!(t.set_priority(copy, 30));
    check_err!(t.set_priority(copy, 31), RangeError, [0, 30]);
    Ok(())
}

/// The boot schedule's only entry: domain 0 for 2^56 - 1 ticks.
const FOREVER: Word = (1 << 56) - 1;

fn domain_schedule_configure(env: &mut Env) -> TestResult {
    let d = env.boot.domain;
    check_err!(d.schedule_configure(1, 0, 5), RangeError, [0, 0]);
    check_err!(d.schedule_configure(0, 1, 5), RangeError, [0, 0]);
    check_err!(d.schedule_configure(0, 0, 1 << 56), InvalidArgument, [2]);
    // Entry 0 is where the schedule starts: it cannot become an end marker.
    check_err!(d.schedule_configure(0, 0, 0), InvalidArgument, [2]);
    check_err!(
        ipc::invoke(d.cptr(), L::DomainScheduleConfigure, &[0, 0], &[]),
        TruncatedMessage
    );
    check_ok!(d.schedule_configure(0, 0, FOREVER));
    Ok(())
}

fn domain_schedule_set_start(env: &mut Env) -> TestResult {
    let d = env.boot.domain;
    check_err!(d.schedule_set_start(2), RangeError, [0, 1]);
    // Entry 1 is the end marker.
    check_err!(d.schedule_set_start(1), InvalidArgument, [0]);
    check_err!(
        ipc::invoke(d.cptr(), L::DomainScheduleSetStart, &[], &[]),
        TruncatedMessage
    );
    check_ok!(d.schedule_set_start(0));
    // Still scheduled: a higher thread runs at once.
    env.spawn(mark, 0, DRIVER_PRIORITY + 1)?;
    check_eq!(shared(0), 1);
    Ok(())
}

fn woken_lower_priority_receiver_waits(env: &mut Env) -> TestResult {
    // A message to a waiting lower-priority thread does not let it run
    // before the sender blocks.
    let ep = env.endpoint()?;
    env.spawn(
        |ep| {
            ipc::recv(ep);
            set_shared(0, 1);
        },
        ep.cptr(),
        DRIVER_PRIORITY - 10,
    )?;
    // Let it reach its Recv.
    check_ok!(env.me.set_priority(env.boot.tcb, DRIVER_PRIORITY - 20));
    check_ok!(env.me.set_priority(env.boot.tcb, DRIVER_PRIORITY));
    ep.send(0, &[], &[]);
    check_eq!(shared(0), 0);
    check_ok!(env.me.set_priority(env.boot.tcb, DRIVER_PRIORITY - 20));
    check_eq!(shared(0), 1);
    check_ok!(env.me.set_priority(env.boot.tcb, DRIVER_PRIORITY));
    Ok(())
}

tests![
    higher_priority_runs_at_once,
    lower_priority_waits,
    equal_priority_runs_after_yield,
    yield_alternates,
    woken_higher_priority_preempts,
    woken_equal_priority_waits_its_turn,
    raise_priority_preempts,
    lower_own_priority,
    suspended_thread_does_not_run,
    own_mcp_bounds_own_priority,
    round_robin_equal_priority,
    timer_preempts_the_driver,
    lower_priority_starves_while_busy,
    domain_set,
    domain_set_running_thread,
    priorities_order_wakeups,
    mint_keeps_priority_authority,
    domain_schedule_configure,
    domain_schedule_set_start,
    woken_lower_priority_receiver_waits,
];
