//! Decoding the Exception Syndrome Register into words a person can read.

/// Exception class: ESR_EL1 bits [31:26].
pub const fn exception_class(esr: u64) -> u64 {
    (esr >> 26) & 0x3f
}

/// Exception class of an SVC from AArch64.
pub const EC_SVC64: u64 = 0x15;
/// Instruction abort from a lower exception level.
pub const EC_IABT_LOWER: u64 = 0x20;
/// Data abort from a lower exception level.
pub const EC_DABT_LOWER: u64 = 0x24;

/// The exception class in words.
pub fn class_name(esr: u64) -> &'static str {
    match exception_class(esr) {
        0x00 => "unknown reason (undefined instruction)",
        0x01 => "trapped WFI/WFE",
        0x07 => "trapped SIMD/FP access",
        0x0e => "illegal execution state",
        0x11 | 0x15 => "supervisor call (SVC)",
        0x16 => "hypervisor call (HVC)",
        0x17 => "secure monitor call (SMC)",
        0x18 => "trapped system register access",
        0x20 => "instruction abort from a lower exception level",
        0x21 => "instruction abort at the current exception level",
        0x22 => "PC alignment fault",
        0x24 => "data abort from a lower exception level",
        0x25 => "data abort at the current exception level",
        0x26 => "SP alignment fault",
        0x2c => "trapped floating-point exception",
        0x2f => "SError interrupt",
        0x30 | 0x31 => "breakpoint",
        0x32 | 0x33 => "software step",
        0x34 | 0x35 => "watchpoint",
        0x3c => "BRK instruction",
        _ => "reserved or unrecognised exception class",
    }
}

/// True for instruction and data aborts (where FAR_EL1 is meaningful).
pub const fn is_abort(esr: u64) -> bool {
    matches!(exception_class(esr), 0x20 | 0x21 | 0x24 | 0x25)
}

/// The fault status code of an abort (ISS bits [5:0]) in words.
pub fn fault_status_name(esr: u64) -> &'static str {
    let dfsc = esr & 0x3f;
    match dfsc {
        0x00..=0x03 => "address size fault",
        0x04..=0x07 => "translation fault",
        0x09..=0x0b => "access flag fault",
        0x0d..=0x0f => "permission fault",
        0x10 => "synchronous external abort",
        0x21 => "alignment fault",
        0x30 => "TLB conflict abort",
        _ => "other fault",
    }
}

/// Translation level of an abort's fault status code (0..=3).
pub const fn fault_level(esr: u64) -> u64 {
    esr & 0x3
}

/// For a data abort: true if the access was a write (ISS.WnR).
pub const fn is_write(esr: u64) -> bool {
    (esr >> 6) & 1 == 1
}
