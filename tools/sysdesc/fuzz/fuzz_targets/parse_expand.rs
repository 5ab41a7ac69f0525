//! Fuzz target: `sysdesc::parse` never panics on any bytes and every
//! diagnostic carries a line and column; a description that parses gives
//! constants for each component, draws, and expands (with a minimal
//! AArch64 ELF for every program) either to diagnostics or to a spec that
//! validates and prints back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// A minimal AArch64 ELF64 executable: one RX PT_LOAD segment at 0x400000.
fn program() -> Vec<u8> {
    let mut f = vec![0u8; 0x1100];
    let mut h = Vec::new();
    h.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    h.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    h.extend_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
    h.extend_from_slice(&1u32.to_le_bytes());
    h.extend_from_slice(&0x40_0000u64.to_le_bytes()); // entry
    h.extend_from_slice(&64u64.to_le_bytes()); // phoff
    h.extend_from_slice(&0u64.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    for v in [64u16, 56, 1, 64, 0, 0] {
        h.extend_from_slice(&v.to_le_bytes());
    }
    h.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    h.extend_from_slice(&5u32.to_le_bytes()); // R X
    for v in [0x1000u64, 0x40_0000, 0x40_0000, 0x100, 0x2000, 0x1000] {
        h.extend_from_slice(&v.to_le_bytes());
    }
    f[..h.len()].copy_from_slice(&h);
    f
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match sysdesc::parse("fuzz.toml", &text) {
        Ok(sys) => {
            for c in &sys.components {
                sysdesc::caps_module(&sys, &c.name).expect("a parsed system gives constants");
            }
            let _ = sysdesc::dot(&sys);
            let _ = sysdesc::svg(&sys);
            if let Ok(e) = sysdesc::expand(&sys, &mut |_| Ok(program())) {
                capdl::validate(&e.spec, "fuzz.cdl", &capdl::Limits::default())
                    .expect("expanded spec validates");
                let again = capdl::parse("printed.cdl", &capdl::print(&e.spec))
                    .expect("printed spec parses");
                assert_eq!(again, e.spec);
            }
        }
        Err(diagnostics) => {
            for d in diagnostics {
                assert!(d.line > 0 && d.column > 0, "{d}");
            }
        }
    }
});
