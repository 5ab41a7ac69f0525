//! The generated constants of the example system: each component's module
//! equals its golden file in `good/caps/`, and the golden files compile
//! (they are `include!`d below) with the values the expansion uses.
//! `SYSDESC_BLESS=1` rewrites the golden files.

mod common;

const COMPONENTS: [&str; 4] = ["console", "echo", "ping", "pong"];

#[test]
fn modules_match_their_golden_files() {
    let sys = sysdesc::parse("example.toml", &common::good("example.toml")).unwrap();
    for c in COMPONENTS {
        let text = sysdesc::caps_module(&sys, c).expect("module");
        let path = common::dir("good/caps").join(format!("{c}.rs"));
        if std::env::var_os("SYSDESC_BLESS").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        assert_eq!(text, std::fs::read_to_string(&path).unwrap(), "{c}");
        // Deterministic.
        assert_eq!(text, sysdesc::caps_module(&sys, c).unwrap());
    }
    let err = sysdesc::caps_module(&sys, "nobody").unwrap_err();
    assert_eq!(
        err.to_string(),
        "example.toml: no component named 'nobody' in system 'example'"
    );
}

mod console {
    include!("good/caps/console.rs");
}
mod echo {
    include!("good/caps/echo.rs");
}
mod ping {
    include!("good/caps/ping.rs");
}
mod pong {
    include!("good/caps/pong.rs");
}

#[test]
fn constants_have_the_expansion_values() {
    assert_eq!(
        (
            console::caps::TCB,
            console::caps::CNODE,
            console::caps::VSPACE
        ),
        (1, 2, 3)
    );
    assert_eq!(console::caps::CONSOLE, 4);
    assert_eq!(console::caps::UART_IRQ, 5);
    assert_eq!(console::caps::UART, 6);
    assert_eq!(console::caps::NOTIFICATION, 7);
    assert_eq!(console::caps::FIRST_FREE, 8);
    assert_eq!(console::caps::CNODE_BITS, 8);
    assert_eq!(console::addrs::IPC_BUFFER, 0x1000_1000);
    assert_eq!(console::addrs::STACK_TOP, 0x1000_0000);
    assert_eq!(console::addrs::HEAP, 0x2000_0000);
    assert_eq!(console::addrs::HEAP_SIZE, 0);
    assert_eq!(console::addrs::UART, 0x3800_0000);
    assert_eq!(console::badges::CONSOLE_ECHO, 1);
    assert_eq!(console::badges::CONSOLE_PING, 2);
    assert_eq!(console::badges::UART_IRQ, 1 << 63);

    assert_eq!((echo::caps::CONSOLE, echo::caps::FIRST_FREE), (4, 5));
    assert_eq!(
        (
            ping::caps::CONSOLE,
            ping::caps::PINGPONG,
            ping::caps::FIRST_FREE
        ),
        (4, 5, 6)
    );
    assert_eq!((pong::caps::PINGPONG, pong::caps::FIRST_FREE), (4, 5));
    assert_eq!(pong::badges::PINGPONG_PING, 1);
}

#[test]
fn full_system_modules() {
    let sys = sysdesc::parse("full.toml", &common::good("full.toml")).unwrap();
    let blk = sysdesc::caps_module(&sys, "blk").unwrap();
    for line in [
        "pub const BLK: u64 = 4;",
        "pub const BLK_DONE: u64 = 5;",
        "pub const VIRTIO_IRQ: u64 = 6;",
        "pub const VIRTIO: u64 = 7;",
        "pub const DMA: u64 = 9;",
        "pub const FAULT_EP: u64 = 13;",
        "pub const NOTIFICATION: u64 = 14;",
        "pub const FIRST_FREE: u64 = 15;",
        "pub const HEAP_SIZE: usize = 0x1_0000;",
        "pub const DMA: usize = 0x3000_0000;",
        "pub const DMA_SIZE: usize = 0x4000;",
        "pub const VIRTIO: usize = 0x3800_0000;",
        "pub const BLK_FS: u64 = 7;",
        "pub const VIRTIO_IRQ: u64 = 0x8000_0000_0000_0000;",
        "pub const WAKE: u64 = 0x4000_0000_0000_0000;",
    ] {
        assert!(blk.contains(line), "{line} not in\n{blk}");
    }
    let sup = sysdesc::caps_module(&sys, "supervisor").unwrap();
    for line in [
        "pub const FAULTS: u64 = 8;",
        "pub const FAULT_BLK: u64 = 2;",
        "pub const FAULT_FS: u64 = 3;",
        "pub const LOG: usize = 0x3000_0000;",
        "pub const RTC: usize = 0x3800_0000;",
        "pub const CNODE_BITS: u64 = 6;",
    ] {
        assert!(sup.contains(line), "{line} not in\n{sup}");
    }
    assert!(!sup.contains("FAULT_EP"));
}

/// A channel's `buffer`: each client gets its own region, named for it in
/// the client's constants, and the server a table from badge to address.
#[test]
fn channel_buffers_give_each_client_its_own_region() {
    let text = r#"
[system]
name = "buffers"
[[component]]
name = "srv"
program = "s"
priority = 1
[[component]]
name = "one"
program = "c"
priority = 1
[[component]]
name = "two"
program = "c"
priority = 1
[[channel]]
name = "files"
server = "srv"
clients = ["one", { component = "two", badge = 9 }]
buffer = "8K"
"#;
    let sys = sysdesc::parse("buffers.toml", text).unwrap();
    let server = sysdesc::caps_module(&sys, "srv").unwrap();
    assert!(
        server.contains("pub const FILES: &[(u64, usize)] = &[\n        (1, 0x3000_0000),\n        (9, 0x3000_3000),\n    ];"),
        "{server}"
    );
    assert!(
        server.contains("pub const FILES_SIZE: usize = 0x2000;"),
        "{server}"
    );
    assert!(
        server.contains("pub const FILES_BUFFER_TWO: usize = 0x3000_3000;"),
        "{server}"
    );
    for client in ["one", "two"] {
        let m = sysdesc::caps_module(&sys, client).unwrap();
        assert!(
            m.contains("pub const FILES_BUFFER: usize = 0x3000_0000;"),
            "{m}"
        );
        assert!(
            m.contains("pub const FILES_BUFFER_SIZE: usize = 0x2000;"),
            "{m}"
        );
        assert!(!m.contains("pub mod buffers"), "{m}");
    }
    // One region per client, mapped by exactly the two parties.
    let buffers: Vec<_> = sys
        .shared_memory
        .iter()
        .filter(|s| s.buffer_of.is_some())
        .collect();
    assert_eq!(buffers.len(), 2);
    for b in buffers {
        let who: Vec<&str> = b.mappings.iter().map(|m| m.component.as_str()).collect();
        assert_eq!(who.len(), 2);
        assert_eq!(who[0], "srv");
    }
}
