//! Process credentials: capability sets and resource limits, as numbers the kernel takes.

pub mod affinity;
pub mod caps;
pub mod rlimits;
