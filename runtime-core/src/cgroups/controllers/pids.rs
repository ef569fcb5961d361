//! pids: the most processes the container may have.

use super::{write, Version};
use crate::error::Result;
use oci_spec::runtime::LinuxPids;
use std::path::Path;

pub fn apply(dir: &Path, _v: Version, p: &LinuxPids) -> Result<()> {
    // runc: zero or negative means no limit.
    let value = if p.limit() > 0 {
        p.limit().to_string()
    } else {
        "max".to_string()
    };
    write(dir, "pids.max", &value, "linux.resources.pids.limit")
}
