//! cpu: shares/weight, CFS quota and period, burst, realtime, idle.

use super::Version;
use crate::cgroups::writes::{CgroupFs, Out, Step};
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxCpu;

const SHARES: &str = "linux.resources.cpu.shares";
const QUOTA: &str = "linux.resources.cpu.quota";
const PERIOD: &str = "linux.resources.cpu.period";

/// runc's conversion of v1 shares (2..262144) to v2 weight (1..10000).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + ((shares.clamp(2, 262_144) - 2) * 9999) / 262_142
}

/// Whether any field of the cpu controller proper (not cpuset) is set.
pub fn any(c: &LinuxCpu) -> bool {
    let nonzero = |v: Option<i64>| v.is_some_and(|v| v != 0);
    c.shares().is_some_and(|s| s != 0)
        || nonzero(c.quota())
        || c.period().is_some_and(|p| p != 0)
        || c.burst().is_some()
        || c.realtime_period().is_some_and(|p| p != 0)
        || nonzero(c.realtime_runtime())
        || c.idle().is_some()
}

pub fn plan(fs: &dyn CgroupFs, out: &mut Out, v: Version, c: &LinuxCpu) -> Result<()> {
    if let Some(p) = c.period().filter(|p| *p != 0) {
        if !(1000..=1_000_000).contains(&p) {
            return Err(Error::invalid(
                PERIOD,
                format!("{p} is outside 1000..1000000 µs"),
            ));
        }
    }
    match v {
        Version::V1 => v1(out, c),
        Version::V2 => v2(fs, out, c),
    }
}

fn v1(out: &mut Out, c: &LinuxCpu) -> Result<()> {
    if let Some(s) = c.shares().filter(|s| *s != 0) {
        out.value("cpu.shares", s.to_string(), SHARES);
    }
    let period = c
        .period()
        .filter(|p| *p != 0)
        .map(|p| out.write("cpu.cfs_period_us", p.to_string(), PERIOD));
    // Any negative quota is the kernel's "no limit".
    let quota = c.quota().filter(|q| *q != 0).map(|q| {
        let q = if q < 0 { -1 } else { q };
        out.write("cpu.cfs_quota_us", q.to_string(), QUOTA)
    });
    // Against a parent's limit the kernel may take the period only after the quota (runc
    // retries the same way).
    match (period, quota) {
        (Some(p), Some(q)) => out.steps.push(Step::EitherOrder(p, q)),
        (p, q) => out.steps.extend(p.into_iter().chain(q).map(Step::File)),
    }
    if let Some(b) = c.burst() {
        out.value(
            "cpu.cfs_burst_us",
            b.to_string(),
            "linux.resources.cpu.burst",
        );
    }
    if let Some(p) = c.realtime_period().filter(|p| *p != 0) {
        out.value(
            "cpu.rt_period_us",
            p.to_string(),
            "linux.resources.cpu.realtimePeriod",
        );
    }
    if let Some(r) = c.realtime_runtime().filter(|r| *r != 0) {
        out.value(
            "cpu.rt_runtime_us",
            r.to_string(),
            "linux.resources.cpu.realtimeRuntime",
        );
    }
    if let Some(i) = c.idle() {
        out.value("cpu.idle", i.to_string(), "linux.resources.cpu.idle");
    }
    Ok(())
}

fn v2(fs: &dyn CgroupFs, out: &mut Out, c: &LinuxCpu) -> Result<()> {
    if let Some(s) = c.shares().filter(|s| *s != 0) {
        out.value("cpu.weight", shares_to_weight(s).to_string(), SHARES);
    }
    let quota = c.quota().filter(|q| *q != 0);
    let period = c.period().filter(|p| *p != 0);
    if quota.is_some() || period.is_some() {
        // cpu.max is "QUOTA [PERIOD]": a period given alone keeps the quota in place (runc
        // keeps the stored one), and a quota given alone keeps the period.
        let quota = match quota {
            Some(q) if q > 0 => q.to_string(),
            Some(_) => "max".to_string(),
            None => fs
                .read(out.dir, "cpu.max")
                .and_then(|s| s.split_whitespace().next().map(str::to_string))
                .unwrap_or_else(|| "max".to_string()),
        };
        let value = match period {
            Some(p) => format!("{quota} {p}"),
            None => quota,
        };
        out.value("cpu.max", value, QUOTA);
    }
    if let Some(b) = c.burst() {
        out.value("cpu.max.burst", b.to_string(), "linux.resources.cpu.burst");
    }
    let rt =
        c.realtime_period().is_some_and(|p| p != 0) || c.realtime_runtime().is_some_and(|r| r != 0);
    if rt {
        return Err(Error::Unsupported(
            "linux.resources.cpu.realtime* on cgroup v2".into(),
        ));
    }
    if let Some(i) = c.idle() {
        out.value("cpu.idle", i.to_string(), "linux.resources.cpu.idle");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::writes::Unchecked;
    use std::path::PathBuf;

    #[test]
    fn runc_weight_conversion() {
        assert_eq!(super::shares_to_weight(2), 1);
        assert_eq!(super::shares_to_weight(1024), 39);
        assert_eq!(super::shares_to_weight(262_144), 10_000);
    }

    fn steps(v: Version, json: &str) -> Result<Vec<Step>> {
        let c: LinuxCpu = serde_json::from_str(json).unwrap();
        let dir = PathBuf::from("/cg");
        let mut steps = Vec::new();
        plan(
            &Unchecked,
            &mut Out {
                dir: &dir,
                steps: &mut steps,
            },
            v,
            &c,
        )?;
        Ok(steps)
    }

    #[test]
    fn docker_update_zeros_write_nothing() {
        // `docker update --memory 128m` sends this cpu section.
        let z = r#"{"shares": 0, "cpus": "", "mems": "", "period": 0, "quota": 0}"#;
        assert!(steps(Version::V1, z).unwrap().is_empty());
        assert!(steps(Version::V2, z).unwrap().is_empty());
        assert!(!any(&serde_json::from_str(z).unwrap()));
    }

    #[test]
    fn quota_and_period_go_together() {
        let both = r#"{"quota": 50000, "period": 100000}"#;
        let s = steps(Version::V1, both).unwrap();
        assert!(matches!(&s[..], [Step::EitherOrder(p, q)]
            if p.file == "cpu.cfs_period_us" && q.value == "50000"));
        let s = steps(Version::V2, both).unwrap();
        assert!(matches!(&s[..], [Step::File(w)] if w.value == "50000 100000"));
        let s = steps(Version::V2, r#"{"quota": -1}"#).unwrap();
        assert!(matches!(&s[..], [Step::File(w)] if w.value == "max"));
        assert!(steps(Version::V1, r#"{"period": 10}"#).is_err());
    }
}
