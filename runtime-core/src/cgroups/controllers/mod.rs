//! One module per controller. Each turns its part of `linux.resources` into cgroupfs writes,
//! for v1 and for v2, and names the field when a value is wrong.

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
use std::path::Path;

/// Which cgroup version a controller is mounted with on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// Writes `value` to `dir/file`; the error names the config field, the file and the value.
pub fn write(dir: &Path, file: &str, value: &str, field: &str) -> Result<()> {
    let path = dir.join(file);
    std::fs::write(&path, value).map_err(|e| {
        let errno = crate::sys::Errno(e.raw_os_error().unwrap_or(libc::EIO));
        Error::Cgroup(format!(
            "{field}: writing {value:?} to {}: {errno}",
            path.display()
        ))
    })
}

/// `-1` means "no limit" in the spec; other negative numbers are an error.
pub fn limit(v: i64, field: &str) -> Result<Option<u64>> {
    match v {
        -1 => Ok(None),
        v if v < 0 => Err(Error::invalid(
            field,
            format!("{v} is negative (only -1, meaning unlimited, is allowed)"),
        )),
        v => Ok(Some(v as u64)),
    }
}

/// A v2 limit file's text: a number, or `max`.
pub fn max_or(v: Option<u64>) -> String {
    v.map_or_else(|| "max".to_string(), |n| n.to_string())
}
