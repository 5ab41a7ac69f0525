//! The client of the call / reply pair: calls `pong` a thousand times,
//! checks every answer (argument plus one, and its own badge as pong saw
//! it), and reports through the console.
#![no_std]
#![no_main]

use core::fmt::Write;

use libcerne::sel4::{Cap, Endpoint, Tcb};

include!(concat!(env!("OUT_DIR"), "/ping.rs"));

/// Calls made.
const CALLS: u64 = 1000;

fn main(_arg: usize, cycles_at_entry: u64) -> ! {
    let mut console = libcerne::console!();
    if cfg!(feature = "boot-bench") {
        let _ = writeln!(
            console,
            "[ping] first instruction at cycle {cycles_at_entry}"
        );
    }
    let pong: Cap<Endpoint> = Cap::from_cptr(caps::PINGPONG);
    let mut wrong = 0;
    let mut badge = 0;
    for i in 0..CALLS {
        let reply = pong.call(0, &[i * 3], &[]);
        if let Some(e) = libcerne::interface::ProtocolError::from_code(reply.label()) {
            // The supervisor answers for a pong it holds: stop asking.
            let _ = writeln!(
                console,
                "[ping] call {i} to pong answered {e:?}; no more calls"
            );
            let _ = Cap::<Tcb>::from_cptr(caps::TCB).suspend();
        }
        badge = reply.mr(1);
        if reply.label() != 0 || reply.mr(0) != i * 3 + 1 {
            wrong += 1;
        }
    }
    let _ = writeln!(
        console,
        "[ping] {CALLS} calls to pong, {wrong} wrong answers; pong saw badge {badge}"
    );
    // Done: stop this thread (its TCB cap is in its own CSpace).
    let _ = Cap::<Tcb>::from_cptr(caps::TCB).suspend();
    unreachable!("a suspended thread does not run")
}

// The spec gives the stack (the description's `stack`): no static one.
libcerne::entry!(main, static_stack = 0);
