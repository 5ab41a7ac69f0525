//! Pure boot-time platform logic.
#![no_std]
