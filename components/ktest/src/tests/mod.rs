//! The tests, one module per area; [`AREAS`] is the order they run in.
//!
//! A test is `fn(&mut Env) -> TestResult`, listed in its module's
//! `tests![...]`. It takes objects from `env` (retyped from the pool, in
//! fresh slots; all reclaimed after it), may start helper threads with
//! `env.spawn` / `env.thread` / `env.faulter` (they share the root CSpace
//! and VSpace; [`crate::framework::shared`] words carry their results), maps
//! only inside its own window `env.va()`, and asserts with `check!`,
//! `check_eq!`, `check_ok!` and `check_err!(expr, Error, [mrs])`, which print
//! `file:line` and what differed. A test that blocks for good is reported
//! stuck by the watchdog; one that panics or faults is reported through its
//! fault message. Helper threads run at priority 2 or above (the watchdog
//! has 1).

use crate::framework::Test;

pub mod cnode;
pub mod el0_timer;
pub mod fastpath;
pub mod fault;
pub mod fpu;
pub mod ipc;
pub mod irq;
pub mod misc;
pub mod notification;
pub mod sched;
pub mod tcb;
pub mod untyped;
pub mod utilisation;
pub mod vspace;

/// Every area's tests.
pub const AREAS: &[&[Test]] = &[
    untyped::TESTS,
    cnode::TESTS,
    tcb::TESTS,
    ipc::TESTS,
    fastpath::TESTS,
    notification::TESTS,
    sched::TESTS,
    fault::TESTS,
    fpu::TESTS,
    vspace::TESTS,
    irq::TESTS,
    el0_timer::TESTS,
    utilisation::TESTS,
    misc::TESTS,
];
