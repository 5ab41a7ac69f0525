//! Property tests: `parse` never panics, on arbitrary text and on mutations
//! of the good files; every diagnostic has a position inside the text; and
//! whatever parses can be expanded (to a spec that validates and round-trips,
//! or to diagnostics), turned into constants and drawn, without a panic.

mod common;

use proptest::prelude::*;

fn lines(text: &str) -> usize {
    text.split('\n').count()
}

/// Everything downstream of a successful parse.
fn downstream(sys: &sysdesc::System) {
    for c in &sys.components {
        sysdesc::caps_module(sys, &c.name).expect("a parsed system gives constants");
    }
    let _ = sysdesc::dot(sys);
    let _ = sysdesc::svg(sys);
    let mut asked = Vec::new();
    let mut load = common::loader(&mut asked);
    if let Ok(e) = sysdesc::expand(sys, &mut load) {
        capdl::validate(&e.spec, "p.cdl", &capdl::Limits::default()).expect("validates");
        assert_eq!(
            capdl::parse("p.cdl", &capdl::print(&e.spec)).unwrap(),
            e.spec
        );
    }
}

fn check(text: &str) {
    match sysdesc::parse("p.toml", text) {
        Ok(sys) => downstream(&sys),
        Err(diagnostics) => {
            assert!(!diagnostics.is_empty());
            for d in diagnostics {
                assert!(d.line >= 1 && d.column >= 1, "{d}");
                assert!(d.line as usize <= lines(text), "{d}");
            }
        }
    }
}

/// One edit of a good file: delete, duplicate, or replace a span, or
/// insert a TOML-ish token.
#[derive(Clone, Debug)]
enum Edit {
    Delete(usize, usize),
    Duplicate(usize, usize),
    Replace(usize, String),
    Insert(usize, String),
}

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\"".to_string()),
        Just("[[".to_string()),
        Just("]]".to_string()),
        Just("=".to_string()),
        Just("\n".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just(",".to_string()),
        Just("0x".to_string()),
        Just("-1".to_string()),
        Just("99999999999999999999".to_string()),
        Just("\"4K\"".to_string()),
        Just("\"console\"".to_string()),
        Just("[[component]]\nname = \"z\"\nprogram = \"z\"\npriority = 1\n".to_string()),
        Just("[[irq]]\nname = \"q\"\ncomponent = \"echo\"\nirq = 34\n".to_string()),
        Just("[[shared_memory]]\nname = \"s\"\nsize = \"8K\"\nmappings = [{ component = \"ping\", perms = \"rw\" }, { component = \"pong\", perms = \"r\" }]\n".to_string()),
        Just("[[notification]]\nname = \"n\"\nwaiter = \"ping\"\nsignallers = [\"pong\"]\n".to_string()),
        Just("fault_handler = \"console\"\n".to_string()),
        Just("heap = \"8K\"\n".to_string()),
        "[a-z_]{1,8}",
        "[0-9]{1,4}",
        any::<char>().prop_map(|c| c.to_string()),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(a, n)| Edit::Delete(a, n)),
        (any::<usize>(), 0usize..200).prop_map(|(a, n)| Edit::Duplicate(a, n)),
        (any::<usize>(), token()).prop_map(|(a, t)| Edit::Replace(a, t)),
        (any::<usize>(), token()).prop_map(|(a, t)| Edit::Insert(a, t)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for e in edits {
        let len = chars.len().max(1);
        match e {
            Edit::Delete(a, n) => {
                let a = a % len;
                let b = (a + n).min(chars.len());
                chars.drain(a.min(chars.len())..b);
            }
            Edit::Duplicate(a, n) => {
                let a = (a % len).min(chars.len());
                let b = (a + n).min(chars.len());
                let copy: Vec<char> = chars[a..b].to_vec();
                chars.splice(b..b, copy);
            }
            Edit::Replace(a, t) => {
                let a = (a % len).min(chars.len());
                let b = (a + t.chars().count()).min(chars.len());
                chars.splice(a..b, t.chars());
            }
            Edit::Insert(a, t) => {
                let a = (a % len).min(chars.len());
                chars.splice(a..a, t.chars());
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        check(&text);
    }

    #[test]
    fn toml_like_text_never_panics(text in "(\\[\\[?[a-z_]{0,14}\\]\\]?\n|[a-z_]{1,12} = (\"[a-z0-9_ K-]{0,10}\"|-?[0-9]{1,12}|0x[0-9a-f]{1,17}|\\[[^\\]]{0,30}\\]|\\{[^}]{0,30}\\})\n){0,20}") {
        check(&text);
    }

    #[test]
    fn mutated_example_never_panics(edits in proptest::collection::vec(edit(), 1..6)) {
        check(&apply(&common::good("example.toml"), &edits));
    }

    #[test]
    fn mutated_full_never_panics(edits in proptest::collection::vec(edit(), 1..6)) {
        check(&apply(&common::good("full.toml"), &edits));
    }
}

#[test]
fn the_good_files_go_all_the_way() {
    for f in ["example.toml", "full.toml"] {
        let sys = sysdesc::parse(f, &common::good(f)).expect("parses");
        downstream(&sys);
    }
}
