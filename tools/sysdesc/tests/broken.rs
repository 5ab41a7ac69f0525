//! The corpus of broken system descriptions: each `broken/NAME.toml` must
//! fail with exactly the diagnostics in `broken/NAME.expected`, one a line.
//! `SYSDESC_BLESS=1 cargo test -p sysdesc --test broken` rewrites the
//! expected files (review the diff).

mod common;

#[test]
fn every_broken_file_gives_its_diagnostics() {
    let bless = std::env::var_os("SYSDESC_BLESS").is_some();
    let mut files: Vec<_> = std::fs::read_dir(common::dir("broken"))
        .expect("broken/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "only {} broken files", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).unwrap();
        let got = match sysdesc::parse(&name, &text) {
            Ok(_) => "(parses without error)\n".to_string(),
            Err(d) => d.iter().map(|d| format!("{d}\n")).collect(),
        };
        let expected_path = path.with_extension("expected");
        if bless {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if got != expected {
            failures.push(format!("{name}:\n--- expected\n{expected}--- got\n{got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn load_names_the_path() {
    let path = common::dir("broken").join("unknown_key.toml");
    let errors = sysdesc::load(&path).expect_err("broken");
    assert!(errors[0].file.ends_with("unknown_key.toml"));
    assert_eq!((errors[1].line, errors[1].column), (6, 1));
    let missing = sysdesc::load(&common::dir("broken").join("no-such-file.toml")).unwrap_err();
    assert_eq!(missing.len(), 1);
    assert!(missing[0]
        .to_string()
        .contains("no-such-file.toml: cannot read the system description:"));
    let good = sysdesc::load(&common::dir("good").join("example.toml")).expect("good");
    assert_eq!(good.components.len(), 4);
}
