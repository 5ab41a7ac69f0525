//! seL4's published capDL specs (tests/published, from seL4/capdl): each is
//! either accepted or rejected only for a feature outside Cerne's subset,
//! with a message that names the feature.

fn published(name: &str) -> (String, String) {
    let path = format!("{}/tests/published/{name}", env!("CARGO_MANIFEST_DIR"));
    (
        format!("tests/published/{name}"),
        std::fs::read_to_string(path).unwrap(),
    )
}

fn first_error(name: &str) -> String {
    let (shown, text) = published(name);
    match capdl::parse_and_validate(&shown, &text) {
        Ok(_) => panic!("{shown} was accepted"),
        Err(d) => d[0].to_string(),
    }
}

#[test]
fn example_aarch64_is_rejected_for_its_mcs_sched_control_cap() {
    assert_eq!(
        first_error("example-aarch64.cdl"),
        "tests/published/example-aarch64.cdl:108:3: 'sched_control' caps are an MCS feature, outside Cerne's non-MCS subset"
    );
}

#[test]
fn example_aarch64_without_the_mcs_line_parses_and_the_validator_names_the_rest() {
    let (shown, text) = published("example-aarch64.cdl");
    let without: String = text
        .lines()
        .map(|l| if l.contains("sched_control") { "" } else { l })
        .collect::<Vec<_>>()
        .join("\n");
    let spec = capdl::parse(&shown, &without).expect("the non-MCS part parses");
    // The example declares every kind of name form capDL has.
    assert_eq!(
        spec.objects
            .iter()
            .filter(|o| o.name.base == "rm_ut_big")
            .count(),
        100
    );
    assert_eq!(spec.irqs.len(), 3);
    assert_eq!(spec.cdt.len(), 4);
    let errors: Vec<String> = capdl::validate(&spec, &shown, &capdl::Limits::default())
        .unwrap_err()
        .iter()
        .map(|d| d.to_string())
        .collect();
    // It is a syntax showcase, not a bootable system: domain 5 on a
    // one-domain kernel, a G right on a notification, and slot 0x200 of
    // 8-bit CNodes.
    assert_eq!(
        errors,
        [
            "tests/published/example-aarch64.cdl:12:3: tcb 'rm_tcb' is in domain 5; this kernel has 1 domain(s), numbered from 0",
            "tests/published/example-aarch64.cdl:85:1: the cap in slot 301 of 'rm_cn' is a notification cap, which cannot have right(s) G (allowed: R and W)",
            "tests/published/example-aarch64.cdl:113:3: slot 512 is outside cnode 'test[2]' (8 bits: slots 0 to 255)",
            "tests/published/example-aarch64.cdl:113:3: slot 512 is outside cnode 'test[3]' (8 bits: slots 0 to 255)",
            "tests/published/example-aarch64.cdl:113:3: slot 512 is outside cnode 'test[4]' (8 bits: slots 0 to 255)",
            "tests/published/example-aarch64.cdl:119:3: slot 512 is outside cnode 'test[1]' (8 bits: slots 0 to 255)",
        ]
    );
    // And it survives printing and reparsing.
    let again = capdl::parse("printed", &capdl::print(&spec)).unwrap();
    assert_eq!(again, spec);
}

#[test]
fn other_architectures_are_rejected_at_their_arch_line() {
    for (name, line, arch) in [
        ("example-arm.cdl", 7, "arm11"),
        ("camkes-adder-arm.cdl", 9, "arm11"),
        ("hello-dump.cdl", 9, "arm11"),
        ("example-ia32.cdl", 7, "ia32"),
        ("example.cdl", 7, "ia32"),
        ("cap-dist-elf-simpleserver.cdl", 7, "ia32"),
        ("iwana-ia32.cdl", 7, "ia32"),
    ] {
        assert_eq!(
            first_error(name),
            format!("tests/published/{name}:{line}:6: architecture '{arch}' is outside Cerne's subset: only 'arch aarch64' is accepted")
        );
    }
}

#[test]
fn arm11_examples_parse_once_their_arch_line_says_aarch64() {
    // The grammar is the same on every architecture: with the arch line
    // changed, the 32-bit ARM dumps parse completely (the validator then
    // rejects their 64 KiB and 1 MiB ARMv7 frames), and example-arm stops
    // only at its MCS cap, as example-aarch64 does.
    for name in ["camkes-adder-arm.cdl", "hello-dump.cdl"] {
        let (shown, text) = published(name);
        let spec = capdl::parse(&shown, &text.replacen("arch arm11", "arch aarch64", 1))
            .unwrap_or_else(|d| panic!("{d}"));
        assert!(spec.objects.len() > 20);
        let errors = capdl::validate(&spec, &shown, &capdl::Limits::default()).unwrap_err();
        assert!(errors
            .iter()
            .any(|d| d.message.contains("frames are 4k, 2M or 1024M")));
    }
    let (shown, text) = published("example-arm.cdl");
    let d = capdl::parse(&shown, &text.replacen("arch arm11", "arch aarch64", 1)).unwrap_err();
    assert_eq!(d.to_string(), format!("{shown}:106:3: 'sched_control' caps are an MCS feature, outside Cerne's non-MCS subset"));
}
