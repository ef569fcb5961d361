//! linux.seccomp compiled to a classic BPF program in Rust, without libseccomp.
//!
//! The program checks the architecture, then the syscall number, then each rule's argument
//! conditions (full 64-bit comparisons on the two 32-bit halves), and returns the first
//! matching rule's action, else the default action.

pub mod agent;
pub mod arch;
pub mod cache;
pub mod compile;
mod db;
mod rules;
mod tables;

pub use arch::{Arch, Family};
pub use compile::{compile, compile_for, Program};
pub mod interp;

/// What the compiler really supports, for `berth features`.
pub const ACTIONS: &[&str] = &[
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];
pub const OPERATORS: &[&str] = &[
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];
pub const FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

/// The architecture names a profile may use with effect: those with syscall tables.
pub fn archs() -> impl Iterator<Item = &'static str> {
    Arch::ALL.iter().map(|a| a.name())
}
