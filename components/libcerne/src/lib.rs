//! User runtime.
#![no_std]
