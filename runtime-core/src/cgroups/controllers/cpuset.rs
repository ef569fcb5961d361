//! cpuset: the CPUs and memory nodes, checked against what the parent cgroup offers.

use super::write;
use crate::error::{Error, Result};
use crate::security::affinity::parse_list;
use oci_spec::runtime::LinuxCpu;
use std::path::Path;

pub fn apply(dir: &Path, c: &LinuxCpu) -> Result<()> {
    for (value, file, field) in [
        (c.cpus(), "cpuset.cpus", "linux.resources.cpu.cpus"),
        (c.mems(), "cpuset.mems", "linux.resources.cpu.mems"),
    ] {
        let Some(v) = value.as_deref().filter(|v| !v.is_empty()) else {
            continue;
        };
        let want = parse_list(v, field)?;
        let parent = dir.parent().unwrap_or(dir);
        let offered = effective(parent, file);
        if let Some(have) = offered {
            let have = parse_list(&have, field)?;
            if want.iter().zip(have.iter()).any(|(w, h)| w & !h != 0) {
                return Err(Error::invalid(
                    field,
                    format!(
                        "{v:?} is not within the host's {}",
                        offered_text(parent, file)
                    ),
                ));
            }
        }
        write(dir, file, v, field)?;
    }
    Ok(())
}

/// The parent's effective set (v2) or its own set (v1).
fn effective(parent: &Path, file: &str) -> Option<String> {
    let eff = parent.join(format!("{file}.effective"));
    std::fs::read_to_string(&eff)
        .or_else(|_| std::fs::read_to_string(parent.join(file)))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn offered_text(parent: &Path, file: &str) -> String {
    format!("{file} {:?}", effective(parent, file).unwrap_or_default())
}
