//! linux.seccomp compiled to a classic BPF program in Rust, without libseccomp.
//!
//! The program checks the architecture, then the syscall number, then each rule's argument
//! conditions (full 64-bit comparisons on the two 32-bit halves), and returns the first
//! matching rule's action, else the default action.

pub mod arch;
pub mod compile;
mod tables;

pub use compile::{compile, Program};
