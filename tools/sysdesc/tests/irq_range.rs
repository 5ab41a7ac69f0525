//! The IRQ numbers a `[[irq]]` may name: the GIC's PPIs (16..=31) and SPIs
//! (32..=159), except the kernel's timer (27); e.g. 30, the EL1 physical
//! timer, for a user-level timer driver.

mod common;

use common::program;
use sysdesc::{expand, parse};

fn with_irq(irq: u64) -> String {
    format!(
        "[system]\nname = \"t\"\n[[component]]\nname = \"timer\"\nprogram = \"p\"\npriority = 1\n\
         [[irq]]\nname = \"tick\"\ncomponent = \"timer\"\nirq = {irq}\n"
    )
}

#[test]
fn the_physical_timer_ppi_expands_to_an_irq_mapping() {
    let sys = parse("t.toml", &with_irq(30)).expect("IRQ 30 is accepted");
    let out = expand(&sys, &mut |_| Ok(program())).expect("expands");
    assert!(out.spec.irqs.iter().any(|m| m.irq == 30));
    capdl::validate(&out.spec, "t.cdl", &capdl::Limits::default()).expect("validates");
}

#[test]
fn sgis_and_the_kernel_timer_are_refused_at_the_value() {
    for (irq, why) in [(15, ""), (27, ": IRQ 27 is the kernel's timer"), (160, "")] {
        let errors: Vec<String> = parse("t.toml", &with_irq(irq))
            .expect_err("refused")
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(
            errors,
            vec![format!(
                "t.toml:10:7: expected an IRQ number 16..=159 (a GIC PPI or SPI) other than 27, found {irq}{why}"
            )]
        );
    }
}
