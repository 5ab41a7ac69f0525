//! The server of the call / reply pair: answers each call on `pingpong`
//! with its argument plus one and the caller's badge. It is supervised
//! (docs/supervisor.md): it answers heartbeats between calls.
#![no_std]
#![no_main]

use core::fmt::Write;

use libcerne::sel4::{Cap, Endpoint};

include!(concat!(env!("OUT_DIR"), "/pong.rs"));

fn main(arg: usize, cycles_at_entry: u64) -> ! {
    let supervision = libcerne::supervision!(arg);
    let mut console = libcerne::console!();
    let _ = writeln!(
        console,
        "[pong] serving pingpong (incarnation {})",
        supervision.incarnation()
    );
    if cfg!(feature = "boot-bench") {
        let _ = writeln!(
            console,
            "[pong] first instruction at cycle {cycles_at_entry}"
        );
    }
    if cfg!(feature = "pong-faults-at-start") {
        // The restart-storm system: a component that fails at every start
        // (a store to an unmapped address), so its supervisor holds it.
        core::hint::black_box(libcerne::program::crash::null_read());
    }
    let endpoint: Cap<Endpoint> = Cap::from_cptr(caps::PINGPONG);
    let mut request = endpoint.recv();
    loop {
        if supervision.is_heartbeat(request.badge) {
            // A signal of the bound notification, not a call.
            supervision.on_signal(request.badge);
            request = endpoint.recv();
            continue;
        }
        let answer = [request.mr(0).wrapping_add(1), request.badge];
        request = endpoint.reply_recv(0, &answer, &[]);
    }
}

// The spec gives the stack (the description's `stack`): no static one.
libcerne::entry!(main, static_stack = 0);
