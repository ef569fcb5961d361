//! cpu: shares/weight, CFS quota and period, burst, realtime, idle.

use super::{write, Version};
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxCpu;
use std::path::Path;

/// runc's conversion of v1 shares (2..262144) to v2 weight (1..10000).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + ((shares.clamp(2, 262_144) - 2) * 9999) / 262_142
}

pub fn apply(dir: &Path, v: Version, c: &LinuxCpu) -> Result<()> {
    if let Some(p) = c.period() {
        if !(1000..=1_000_000).contains(&p) {
            return Err(Error::invalid(
                "linux.resources.cpu.period",
                format!("{p} is outside 1000..1000000 µs"),
            ));
        }
    }
    match v {
        Version::V1 => v1(dir, c),
        Version::V2 => v2(dir, c),
    }
}

fn v1(dir: &Path, c: &LinuxCpu) -> Result<()> {
    if let Some(s) = c.shares().filter(|s| *s != 0) {
        write(
            dir,
            "cpu.shares",
            &s.to_string(),
            "linux.resources.cpu.shares",
        )?;
    }
    if let Some(p) = c.period() {
        write(
            dir,
            "cpu.cfs_period_us",
            &p.to_string(),
            "linux.resources.cpu.period",
        )?;
    }
    if let Some(q) = c.quota() {
        let q = if q <= 0 { -1 } else { q };
        write(
            dir,
            "cpu.cfs_quota_us",
            &q.to_string(),
            "linux.resources.cpu.quota",
        )?;
    }
    if let Some(b) = c.burst() {
        write(
            dir,
            "cpu.cfs_burst_us",
            &b.to_string(),
            "linux.resources.cpu.burst",
        )?;
    }
    if let Some(p) = c.realtime_period() {
        write(
            dir,
            "cpu.rt_period_us",
            &p.to_string(),
            "linux.resources.cpu.realtimePeriod",
        )?;
    }
    if let Some(r) = c.realtime_runtime() {
        write(
            dir,
            "cpu.rt_runtime_us",
            &r.to_string(),
            "linux.resources.cpu.realtimeRuntime",
        )?;
    }
    if let Some(i) = c.idle() {
        write(dir, "cpu.idle", &i.to_string(), "linux.resources.cpu.idle")?;
    }
    Ok(())
}

fn v2(dir: &Path, c: &LinuxCpu) -> Result<()> {
    if let Some(s) = c.shares().filter(|s| *s != 0) {
        write(
            dir,
            "cpu.weight",
            &shares_to_weight(s).to_string(),
            "linux.resources.cpu.shares",
        )?;
    }
    if c.quota().is_some() || c.period().is_some() {
        let quota = match c.quota() {
            Some(q) if q > 0 => q.to_string(),
            _ => "max".to_string(),
        };
        let period = c.period().unwrap_or(100_000);
        write(
            dir,
            "cpu.max",
            &format!("{quota} {period}"),
            "linux.resources.cpu.quota",
        )?;
    }
    if let Some(b) = c.burst() {
        write(
            dir,
            "cpu.max.burst",
            &b.to_string(),
            "linux.resources.cpu.burst",
        )?;
    }
    if c.realtime_period().is_some() || c.realtime_runtime().is_some_and(|r| r != 0) {
        return Err(Error::Unsupported(
            "linux.resources.cpu.realtime* on cgroup v2".into(),
        ));
    }
    if let Some(i) = c.idle() {
        write(dir, "cpu.idle", &i.to_string(), "linux.resources.cpu.idle")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn runc_weight_conversion() {
        assert_eq!(super::shares_to_weight(2), 1);
        assert_eq!(super::shares_to_weight(1024), 39);
        assert_eq!(super::shares_to_weight(262_144), 10_000);
    }
}
