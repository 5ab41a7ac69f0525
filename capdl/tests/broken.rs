//! The corpus of broken specs: each `tests/broken/NAME.cdl` is rejected with
//! exactly the diagnostics in `tests/broken/NAME.expected`, one per line
//! (`file:line:col: message`), in order.

use std::path::Path;

#[test]
fn every_broken_spec_gives_its_expected_messages() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken");
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "cdl"))
    {
        let name = path.file_name().unwrap().to_str().unwrap();
        let shown = format!("tests/broken/{name}");
        let text = std::fs::read_to_string(path).unwrap();
        let expected = std::fs::read_to_string(path.with_extension("expected"))
            .unwrap_or_else(|_| panic!("{shown} has no .expected file"));
        let got = match capdl::parse_and_validate(&shown, &text) {
            Ok(_) => panic!("{shown} was accepted"),
            Err(diagnostics) => diagnostics
                .iter()
                .map(|d| format!("{d}\n"))
                .collect::<String>(),
        };
        assert_eq!(got, expected, "diagnostics of {shown}");
        checked += 1;
    }
    assert!(checked >= 25, "only {checked} broken specs");
}

#[test]
fn every_diagnostic_names_a_line_and_column() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "expected") {
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                let mut parts = line.splitn(4, ':');
                let (_file, l, c) = (parts.next(), parts.next(), parts.next());
                assert!(
                    l.is_some_and(|l| l.parse::<u32>().is_ok_and(|n| n > 0))
                        && c.is_some_and(|c| c.parse::<u32>().is_ok_and(|n| n > 0)),
                    "{} has a message without line:col: {line}",
                    path.display()
                );
            }
        }
    }
}
