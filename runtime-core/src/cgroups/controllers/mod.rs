//! One module per controller. Each turns its part of `linux.resources` into planned cgroupfs
//! writes (see `writes`), for v1 and for v2, and names the field when a value is wrong.
//!
//! runc's reading of the spec holds throughout: a zero or empty value means "not set" and
//! leaves the file as it is (Docker fills every field it does not use with zero, and
//! `docker update` sends zeros for the limits it is not changing); `-1` means "no limit".

pub mod cpu;
pub mod cpuset;
pub mod devices;
pub mod hugetlb;
pub mod io;
pub mod memory;
pub mod net;
pub mod pids;
pub mod rdma;
pub mod unified;

use crate::error::{Error, Result};

/// Which cgroup version a controller is mounted with on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// A byte or count limit as the spec gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Unlimited,
    Bytes(u64),
}

/// `None` for 0 (not set), `Unlimited` for -1; other negative numbers are an error.
pub fn limit(v: Option<i64>, field: &str) -> Result<Option<Limit>> {
    match v {
        None | Some(0) => Ok(None),
        Some(-1) => Ok(Some(Limit::Unlimited)),
        Some(v) if v < 0 => Err(Error::invalid(
            field,
            format!("{v} is negative (only -1, meaning unlimited, is allowed)"),
        )),
        Some(v) => Ok(Some(Limit::Bytes(v as u64))),
    }
}

impl Limit {
    /// As v1 files take it: the number, or -1.
    pub fn v1(self) -> String {
        match self {
            Limit::Unlimited => "-1".to_string(),
            Limit::Bytes(n) => n.to_string(),
        }
    }

    /// As v2 files take it: the number, or `max`.
    pub fn v2(self) -> String {
        match self {
            Limit::Unlimited => "max".to_string(),
            Limit::Bytes(n) => n.to_string(),
        }
    }
}
