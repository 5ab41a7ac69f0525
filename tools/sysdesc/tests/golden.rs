//! The printed capDL of the good systems equals its golden file in
//! `good/cdl/`: a change to the expansion shows as a diff there.
//! `SYSDESC_BLESS=1` rewrites them (review the diff). Systems without
//! supervision must expand exactly as before supervision existed.

mod common;

use common::loader;

fn printed(text: &str, file: &str) -> String {
    let sys = sysdesc::parse(file, text).expect("parses");
    let mut asked = Vec::new();
    let e = sysdesc::expand(&sys, &mut loader(&mut asked)).expect("expands");
    capdl::print(&e.spec)
}

#[test]
fn good_systems_expand_to_their_golden_specs() {
    for name in ["example", "full"] {
        let text = common::good(&format!("{name}.toml"));
        let got = printed(&text, &format!("{name}.toml"));
        let path = common::dir("good/cdl").join(format!("{name}.cdl"));
        if std::env::var_os("SYSDESC_BLESS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &got).unwrap();
        }
        let want = std::fs::read_to_string(&path).unwrap();
        assert!(
            got == want,
            "{name}: the expansion differs from good/cdl/{name}.cdl"
        );
    }
}

/// `SYSDESC_DUMP=<toml> SYSDESC_DUMP_TO=<file>`: print a system's expansion
/// (with the test program for every component), to compare by hand.
#[test]
fn dump_on_request() {
    let (Some(from), Some(to)) = (
        std::env::var_os("SYSDESC_DUMP"),
        std::env::var_os("SYSDESC_DUMP_TO"),
    ) else {
        return;
    };
    let text = std::fs::read_to_string(&from).unwrap();
    std::fs::write(&to, printed(&text, "dump.toml")).unwrap();
    let sys = sysdesc::parse("dump.toml", &text).unwrap();
    let modules: String = sys
        .components
        .iter()
        .map(|c| sysdesc::caps_module(&sys, &c.name).unwrap())
        .collect();
    let mut caps = to;
    caps.push(".caps.rs");
    std::fs::write(caps, modules).unwrap();
}
