//! Fuzz target: the heap-free compact reader and the decoder never panic on
//! any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(view) = capdl::compact::SpecView::new(data) {
        for object in view.iter_objects() {
            let _ = (
                object.name(),
                object.caps(),
                object.tcb(),
                object.init_arguments(),
                object.covers(),
            );
            let _ = view.mappings(object.index).count();
            for fill in object.fills() {
                let _ = view.fill_words(fill).count();
            }
        }
    }
    let _ = capdl::decode(data);
});
