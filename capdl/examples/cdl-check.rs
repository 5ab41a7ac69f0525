//! Parses and validates the capDL files named on the command line and prints
//! every diagnostic: `cargo run -p capdl --example cdl-check -- spec.cdl`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut failed = false;
    for path in std::env::args().skip(1) {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{path}: {e}");
                failed = true;
                continue;
            }
        };
        match capdl::parse_and_validate(&path, &text) {
            Ok(spec) => println!("{path}: ok, {} objects", spec.objects.len()),
            Err(diagnostics) => {
                failed = true;
                for d in diagnostics {
                    eprintln!("{d}");
                }
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
