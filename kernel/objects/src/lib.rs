//! The kernel object model (issue 3 fills this in).
#![no_std]
