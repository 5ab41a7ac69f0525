//! Fuzz target: the parser and the validator never panic on any bytes, every
//! parse error carries a line and column, and a spec that parses and
//! validates prints back to itself and encodes back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match capdl::parse("fuzz.cdl", &text) {
        Ok(spec) => {
            if capdl::validate(&spec, "fuzz.cdl", &capdl::Limits::default()).is_ok() {
                let again =
                    capdl::parse("printed.cdl", &capdl::print(&spec)).expect("printed spec parses");
                assert_eq!(again, spec);
                let bytes = capdl::encode(&spec).expect("validated spec encodes");
                assert_eq!(capdl::decode(&bytes).expect("encoding decodes"), spec);
            }
        }
        Err(d) => assert!(d.line > 0 && d.column > 0, "{d}"),
    }
});
