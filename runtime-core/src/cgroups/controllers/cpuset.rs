//! cpuset: the CPUs and memory nodes, checked against what the parent cgroup offers.

use crate::cgroups::writes::{CgroupFs, Out};
use crate::error::{Error, Result};
use crate::security::affinity::parse_list;
use oci_spec::runtime::LinuxCpu;

pub fn plan(fs: &dyn CgroupFs, out: &mut Out, c: &LinuxCpu) -> Result<()> {
    for (value, file, field) in [
        (c.cpus(), "cpuset.cpus", "linux.resources.cpu.cpus"),
        (c.mems(), "cpuset.mems", "linux.resources.cpu.mems"),
    ] {
        let Some(v) = value.as_deref().filter(|v| !v.is_empty()) else {
            continue;
        };
        let want = parse_list(v, field)?;
        let parent = out.dir.parent().unwrap_or(out.dir);
        if let Some(have) = effective(fs, parent, file) {
            let offered = parse_list(&have, field)?;
            if want.iter().zip(offered.iter()).any(|(w, h)| w & !h != 0) {
                return Err(Error::invalid(
                    field,
                    format!("{v:?} is not within the host's {file} {have:?}"),
                ));
            }
        }
        out.value(file, v, field);
    }
    Ok(())
}

/// The parent's effective set (v2) or its own set (v1).
fn effective(fs: &dyn CgroupFs, parent: &std::path::Path, file: &str) -> Option<String> {
    fs.read(parent, &format!("{file}.effective"))
        .or_else(|| fs.read(parent, file))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}
