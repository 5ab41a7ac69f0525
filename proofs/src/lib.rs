//! Checks of Cerne's object model (`cerne-objects`) against an executable
//! abstract specification.
//!
//! * [`spec`]: the specification — seL4's object semantics written with
//!   maps, sets, queues and recursion, no pointers, no unsafe. Objects are
//!   named by the same physical addresses as in the implementation (the spec
//!   computes them itself from retype placement), so results can be compared
//!   word for word.
//! * [`ops`]: the operations a random sequence is made of, printed as
//!   readable steps when a failure shrinks.
//! * [`harness`]: runs one operation on the implementation (a simulated
//!   physical arena) and on the spec, compares every observable (error
//!   codes, returned words, delivered badges and messages, caps in every
//!   slot, the derivation tree, thread states, queues), runs the invariant
//!   checkers, and checks that authority is confined.
//!
//! `tests/refinement.rs` drives random sequences; `CERNE_PROOF_CASES` sets
//! how many (default 2000).
#![forbid(unsafe_code)]

pub mod harness;
pub mod ops;
pub mod spec;
