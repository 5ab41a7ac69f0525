//! The echo client: prints through the console driver, echoes every byte
//! typed, and reports each whole line it received.
#![no_std]
#![no_main]

use core::fmt::Write;

include!(concat!(env!("OUT_DIR"), "/echo.rs"));

fn main(_arg: usize, cycles_at_entry: u64) -> ! {
    let mut console = libcerne::console!();
    let _ = writeln!(console, "[echo] ready: type a line and it comes back");
    if cfg!(feature = "boot-bench") {
        let _ = writeln!(
            console,
            "[echo] first instruction at cycle {cycles_at_entry}"
        );
    }
    let mut line = [0u8; 128];
    let mut len = 0;
    let mut lines = 0u64;
    loop {
        let mut chunk = [0u8; 128];
        let n = match console.read(&mut chunk) {
            Ok(n) => n,
            Err(e) => {
                let _ = writeln!(console, "[echo] the console refused a read ({e:?})");
                continue;
            }
        };
        for &b in &chunk[..n] {
            if b == b'\r' || b == b'\n' {
                console.write(b"\n");
                lines += 1;
                let text = core::str::from_utf8(&line[..len]).unwrap_or("<not UTF-8>");
                let _ = writeln!(console, "[echo] line {lines}: {text:?}");
                len = 0;
            } else {
                console.write(&[b]);
                if len < line.len() {
                    line[len] = b;
                    len += 1;
                }
            }
        }
    }
}

// The spec gives the stack (the description's `stack`): no static one.
libcerne::entry!(main, static_stack = 0);
