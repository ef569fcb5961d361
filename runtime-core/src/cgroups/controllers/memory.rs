//! memory: limit, reservation, swap, swappiness, OOM killer.

use super::{limit, max_or, write, Version};
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxMemory;
use std::path::Path;

pub fn apply(dir: &Path, v: Version, m: &LinuxMemory) -> Result<()> {
    let lim = m
        .limit()
        .map(|l| limit(l, "linux.resources.memory.limit"))
        .transpose()?;
    let res = m
        .reservation()
        .map(|l| limit(l, "linux.resources.memory.reservation"))
        .transpose()?;
    let swap = m
        .swap()
        .map(|l| limit(l, "linux.resources.memory.swap"))
        .transpose()?;
    if let (Some(Some(l)), Some(Some(s))) = (lim, swap) {
        if s < l {
            return Err(Error::invalid(
                "linux.resources.memory.swap",
                format!("{s} is below the memory limit {l} (swap counts memory plus swap)"),
            ));
        }
    }
    let l = Limits { lim, res, swap };
    match v {
        Version::V1 => v1(dir, m, &l),
        Version::V2 => v2(dir, m, &l),
    }
}

/// The three byte limits, each `None` when not given and `Some(None)` for "unlimited".
struct Limits {
    lim: Option<Option<u64>>,
    res: Option<Option<u64>>,
    swap: Option<Option<u64>>,
}

fn v1(dir: &Path, m: &LinuxMemory, l: &Limits) -> Result<()> {
    let (lim, res, swap) = (l.lim, l.res, l.swap);
    let text = |v: Option<u64>| v.map_or_else(|| "-1".to_string(), |n| n.to_string());
    // memsw must stay at or above the limit at every moment: raise it first when growing.
    let memsw = dir.join("memory.memsw.limit_in_bytes").exists();
    if let (Some(s), true) = (swap, memsw) {
        let _ = write(
            dir,
            "memory.memsw.limit_in_bytes",
            &text(s),
            "linux.resources.memory.swap",
        );
    }
    if let Some(l) = lim {
        write(
            dir,
            "memory.limit_in_bytes",
            &text(l),
            "linux.resources.memory.limit",
        )?;
    }
    if let (Some(s), true) = (swap, memsw) {
        write(
            dir,
            "memory.memsw.limit_in_bytes",
            &text(s),
            "linux.resources.memory.swap",
        )?;
    }
    if let Some(r) = res {
        write(
            dir,
            "memory.soft_limit_in_bytes",
            &text(r),
            "linux.resources.memory.reservation",
        )?;
    }
    if let Some(s) = m.swappiness() {
        if s > 100 {
            return Err(Error::invalid(
                "linux.resources.memory.swappiness",
                format!("{s} is above 100"),
            ));
        }
        write(
            dir,
            "memory.swappiness",
            &s.to_string(),
            "linux.resources.memory.swappiness",
        )?;
    }
    if m.disable_oom_killer() == Some(true) {
        write(
            dir,
            "memory.oom_control",
            "1",
            "linux.resources.memory.disableOOMKiller",
        )?;
    }
    Ok(())
}

/// v2 has no memory+swap total: swap.max is what runc computes, swap minus the limit.
fn v2(dir: &Path, m: &LinuxMemory, l: &Limits) -> Result<()> {
    let (lim, res, swap) = (l.lim, l.res, l.swap);
    if let Some(s) = swap {
        let swap_max = match (s, lim.flatten()) {
            (None, _) => None,
            (Some(s), Some(l)) => Some(s - l),
            (Some(_), None) => {
                return Err(Error::invalid(
                    "linux.resources.memory.swap",
                    "a swap limit needs a memory limit on cgroup v2",
                ))
            }
        };
        if dir.join("memory.swap.max").exists() {
            write(
                dir,
                "memory.swap.max",
                &max_or(swap_max),
                "linux.resources.memory.swap",
            )?;
        }
    }
    if let Some(l) = lim {
        write(
            dir,
            "memory.max",
            &max_or(l),
            "linux.resources.memory.limit",
        )?;
    }
    if let Some(r) = res {
        write(
            dir,
            "memory.low",
            &r.unwrap_or(0).to_string(),
            "linux.resources.memory.reservation",
        )?;
    }
    if m.disable_oom_killer() == Some(true) {
        return Err(Error::Unsupported(
            "linux.resources.memory.disableOOMKiller on cgroup v2".into(),
        ));
    }
    Ok(())
}
