//! Parses a capDL file and prints it back in the printer's form:
//! `cargo run -p capdl --example cdl-print -- spec.cdl`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: cdl-print FILE.cdl");
        return ExitCode::FAILURE;
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match capdl::parse(&path, &text) {
        Ok(spec) => {
            print!("{}", capdl::print(&spec));
            ExitCode::SUCCESS
        }
        Err(d) => {
            eprintln!("{d}");
            ExitCode::FAILURE
        }
    }
}
