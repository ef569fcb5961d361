//! `linux.resources.unified`: cgroup v2 files written as given, after checking the names.

use crate::cgroups::writes::{CgroupFs, Out};
use crate::error::{Error, Result};
use std::collections::HashMap;

/// Checks the names only: a controller file (`memory.high`), never a path.
pub fn check(unified: &HashMap<String, String>) -> Result<()> {
    for key in unified.keys() {
        let field = format!("linux.resources.unified[{key:?}]");
        let (ctrl, rest) = key.split_once('.').unwrap_or(("", ""));
        let ok = !ctrl.is_empty() && !rest.is_empty() && !key.contains('/') && !key.contains("..");
        if !ok
            || ctrl == "cgroup"
                && !matches!(key.as_str(), "cgroup.max.depth" | "cgroup.max.descendants")
        {
            return Err(Error::invalid(
                &field,
                "not a controller file of the container's cgroup",
            ));
        }
    }
    Ok(())
}

pub fn plan(fs: &dyn CgroupFs, out: &mut Out, unified: &HashMap<String, String>) -> Result<()> {
    let mut keys: Vec<&String> = unified.keys().collect();
    keys.sort();
    for key in keys {
        let field = format!("linux.resources.unified[{key:?}]");
        if !fs.exists(out.dir, key) {
            return Err(Error::invalid(
                &field,
                "this host's cgroup v2 has no such file (is the controller enabled?)",
            ));
        }
        out.value(key, unified[key].clone(), &field);
    }
    Ok(())
}
