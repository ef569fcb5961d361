//! io (v2) and blkio (v1): weights and per-device throttling.

use super::Version;
use crate::cgroups::writes::{CgroupFs, Out};
use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice};

const WEIGHT: &str = "linux.resources.blockIO.weight";

/// Whether the section sets anything (Docker sends `weight: 0` for every container).
pub fn any(b: &LinuxBlockIo) -> bool {
    b.weight().is_some_and(|w| w != 0)
        || b.weight_device().as_ref().is_some_and(|l| !l.is_empty())
        || throttles(b)
            .iter()
            .any(|(l, ..)| l.as_ref().is_some_and(|l| !l.is_empty()))
}

pub fn plan(fs: &dyn CgroupFs, out: &mut Out, v: Version, b: &LinuxBlockIo) -> Result<()> {
    // Zero is "not set": Docker sends it for every container.
    let weight = b.weight().filter(|w| *w != 0);
    if let Some(w) = weight {
        if !(10..=1000).contains(&w) {
            return Err(Error::invalid(WEIGHT, format!("{w} is outside 10..1000")));
        }
    }
    match v {
        Version::V1 => v1(fs, out, weight, b),
        Version::V2 => v2(out, weight, b),
    }
    Ok(())
}

type Throttles<'a> = [(
    &'a Option<Vec<LinuxThrottleDevice>>,
    &'a str,
    &'a str,
    &'a str,
); 4];

fn throttles(b: &LinuxBlockIo) -> Throttles<'_> {
    [
        (
            b.throttle_read_bps_device(),
            "blkio.throttle.read_bps_device",
            "rbps",
            "throttleReadBpsDevice",
        ),
        (
            b.throttle_write_bps_device(),
            "blkio.throttle.write_bps_device",
            "wbps",
            "throttleWriteBpsDevice",
        ),
        (
            b.throttle_read_iops_device(),
            "blkio.throttle.read_iops_device",
            "riops",
            "throttleReadIOPSDevice",
        ),
        (
            b.throttle_write_iops_device(),
            "blkio.throttle.write_iops_device",
            "wiops",
            "throttleWriteIOPSDevice",
        ),
    ]
}

/// On v1 a device line of zero removes that device's entry.
fn v1(fs: &dyn CgroupFs, out: &mut Out, weight: Option<u16>, b: &LinuxBlockIo) {
    if let Some(w) = weight {
        let file = if fs.exists(out.dir, "blkio.weight") {
            "blkio.weight"
        } else {
            "blkio.bfq.weight"
        };
        out.value(file, w.to_string(), WEIGHT);
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let field = format!("linux.resources.blockIO.weightDevice[{i}]");
        let dev = format!("{}:{}", d.major(), d.minor());
        if let Some(w) = d.weight().filter(|w| *w != 0) {
            let line = format!("{dev} {w}");
            out.line("blkio.weight_device", line, &field, format!("{dev} 0"));
        }
        if let Some(w) = d.leaf_weight().filter(|w| *w != 0) {
            let line = format!("{dev} {w}");
            out.line("blkio.leaf_weight_device", line, &field, format!("{dev} 0"));
        }
    }
    for (list, file, _, name) in throttles(b) {
        for (i, d) in list.iter().flatten().enumerate() {
            let field = format!("linux.resources.blockIO.{name}[{i}]");
            let dev = format!("{}:{}", d.major(), d.minor());
            let line = format!("{dev} {}", d.rate());
            out.line(file, line, &field, format!("{dev} 0"));
        }
    }
}

fn v2(out: &mut Out, weight: Option<u16>, b: &LinuxBlockIo) {
    if let Some(w) = weight {
        let line = format!("default {}", to_io_weight(w));
        out.line("io.weight", line, WEIGHT, "default 100".into());
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let field = format!("linux.resources.blockIO.weightDevice[{i}]");
        let dev = format!("{}:{}", d.major(), d.minor());
        if let Some(w) = d.weight().filter(|w| *w != 0) {
            let line = format!("{dev} {}", to_io_weight(w));
            out.line("io.weight", line, &field, format!("{dev} default"));
        }
    }
    for (list, _, key, name) in throttles(b) {
        for (i, d) in list.iter().flatten().enumerate() {
            let field = format!("linux.resources.blockIO.{name}[{i}]");
            let dev = format!("{}:{}", d.major(), d.minor());
            let line = format!("{dev} {key}={}", d.rate());
            let none = format!("{dev} rbps=max wbps=max riops=max wiops=max");
            out.line("io.max", line, &field, none);
        }
    }
}

/// blkio's 10..1000 weight to io.weight's 1..10000, linearly (runc's conversion).
fn to_io_weight(w: u16) -> u64 {
    1 + (u64::from(w).clamp(10, 1000) - 10) * 9999 / 990
}
