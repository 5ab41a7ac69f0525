//! The tutorial's client (docs/tutorial.md): adds to each of the tally
//! server's slots in turn and prints the totals it is answered, then one
//! slot more than the server has.
#![no_std]
#![no_main]

use libcerne::println;
use libcerne::sel4::{Cap, Endpoint, Tcb};

include!(concat!(env!("OUT_DIR"), "/adder.rs"));

#[path = "../tally_protocol.rs"]
mod tally_protocol;
use tally_protocol::{tally, Amount};

/// Slots the client adds to: one more than the server keeps.
const SLOTS_ASKED: u64 = 5;

fn main(_arg: usize, _cycles: u64) -> ! {
    let server = tally::Client::new(Cap::<Endpoint>::from_cptr(caps::TALLY));
    for slot in 0..SLOTS_ASKED {
        let amount = 10 * (slot + 1);
        println!("[adder] adding {amount} to slot {slot}");
        match server.add(Amount { slot, amount }) {
            Ok(answer) => println!("[adder] slot {slot}: total {}", answer.total),
            Err(e) => println!("[adder] slot {slot}: refused: {e:?}"),
        }
    }
    println!("[adder] done");
    // Its TCB cap is in its own CSpace: stop this thread.
    let _ = Cap::<Tcb>::from_cptr(caps::TCB).suspend();
    unreachable!("a suspended thread does not run")
}

// The spec gives the stack (the description's `stack`): no static one.
libcerne::entry!(main, static_stack = 0);
