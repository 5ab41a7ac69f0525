//! The tests, one module per area; [`AREAS`] is the order they run in.

use crate::framework::Test;

pub mod cnode;
pub mod fastpath;
pub mod fault;
pub mod ipc;
pub mod irq;
pub mod misc;
pub mod notification;
pub mod sched;
pub mod tcb;
pub mod untyped;
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
    vspace::TESTS,
    irq::TESTS,
    misc::TESTS,
];
