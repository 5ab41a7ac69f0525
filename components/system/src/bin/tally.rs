//! The tutorial's server (docs/tutorial.md): keeps a running total in each
//! of its slots and answers `add` with the slot's new total. It has a bug
//! on purpose: it does not check the slot a client names, so a slot past
//! the last makes it panic, and the kernel reports the fault.
#![no_std]
#![no_main]

use libcerne::interface::{message_words, Reply, MAX_WORDS};
use libcerne::println;
use libcerne::sel4::{Cap, Endpoint};

include!(concat!(env!("OUT_DIR"), "/tally.rs"));

#[path = "../tally_protocol.rs"]
mod tally_protocol;
use tally_protocol::{tally, Amount, TallyError, Total};

/// How many slots the server keeps.
const SLOTS: usize = 4;

struct Tally {
    totals: [u64; SLOTS],
}

impl Tally {
    /// The total of `slot`. The bug: `slot` is not checked against
    /// `SLOTS` (the fix is to answer `TallyError::NoSuchSlot`).
    #[inline(never)]
    fn slot(&mut self, slot: u64) -> &mut u64 {
        &mut self.totals[slot as usize]
    }
}

impl tally::Server for Tally {
    fn add(&mut self, _badge: u64, request: Amount) -> Result<Total, TallyError> {
        let total = self.slot(request.slot);
        *total = total
            .checked_add(request.amount)
            .ok_or(TallyError::Overflow)?;
        Ok(Total { total: *total })
    }
}

fn main(_arg: usize, _cycles: u64) -> ! {
    println!("[tally] serving {SLOTS} slots");
    let endpoint: Cap<Endpoint> = Cap::from_cptr(caps::TALLY);
    let mut server = Tally { totals: [0; SLOTS] };
    let mut words = [0; MAX_WORDS];
    let mut message = endpoint.recv();
    loop {
        let reply = match message_words(&message, &mut words) {
            Ok(len) => tally::dispatch(&mut server, message.badge, message.label(), &words[..len]),
            Err(e) => Reply::error(e.code()),
        };
        message = endpoint.reply_recv(reply.label, reply.message(), &[]);
    }
}

// The spec gives the stack (the description's `stack`): no static one.
libcerne::entry!(main, static_stack = 0);
