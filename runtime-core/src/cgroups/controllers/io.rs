//! io (v2) and blkio (v1): weights and per-device throttling.

use super::{write, Version};
use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice};
use std::path::Path;

pub fn apply(dir: &Path, v: Version, b: &LinuxBlockIo) -> Result<()> {
    if let Some(w) = b.weight() {
        if !(10..=1000).contains(&w) {
            return Err(Error::invalid(
                "linux.resources.blockIO.weight",
                format!("{w} is outside 10..1000"),
            ));
        }
    }
    match v {
        Version::V1 => v1(dir, b),
        Version::V2 => v2(dir, b),
    }
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

fn v1(dir: &Path, b: &LinuxBlockIo) -> Result<()> {
    if let Some(w) = b.weight() {
        let file = if dir.join("blkio.weight").exists() {
            "blkio.weight"
        } else {
            "blkio.bfq.weight"
        };
        write(dir, file, &w.to_string(), "linux.resources.blockIO.weight")?;
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let field = format!("linux.resources.blockIO.weightDevice[{i}]");
        if let Some(w) = d.weight() {
            write(
                dir,
                "blkio.weight_device",
                &format!("{}:{} {w}", d.major(), d.minor()),
                &field,
            )?;
        }
        if let Some(w) = d.leaf_weight() {
            write(
                dir,
                "blkio.leaf_weight_device",
                &format!("{}:{} {w}", d.major(), d.minor()),
                &field,
            )?;
        }
    }
    for (list, file, _, name) in throttles(b) {
        for (i, d) in list.iter().flatten().enumerate() {
            let field = format!("linux.resources.blockIO.{name}[{i}]");
            write(
                dir,
                file,
                &format!("{}:{} {}", d.major(), d.minor(), d.rate()),
                &field,
            )?;
        }
    }
    Ok(())
}

fn v2(dir: &Path, b: &LinuxBlockIo) -> Result<()> {
    if let Some(w) = b.weight() {
        let weight = to_io_weight(w);
        write(
            dir,
            "io.weight",
            &format!("default {weight}"),
            "linux.resources.blockIO.weight",
        )?;
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let field = format!("linux.resources.blockIO.weightDevice[{i}]");
        if let Some(w) = d.weight() {
            let weight = to_io_weight(w);
            write(
                dir,
                "io.weight",
                &format!("{}:{} {weight}", d.major(), d.minor()),
                &field,
            )?;
        }
    }
    for (list, _, key, name) in throttles(b) {
        for (i, d) in list.iter().flatten().enumerate() {
            let field = format!("linux.resources.blockIO.{name}[{i}]");
            write(
                dir,
                "io.max",
                &format!("{}:{} {key}={}", d.major(), d.minor(), d.rate()),
                &field,
            )?;
        }
    }
    Ok(())
}

/// blkio's 10..1000 weight to io.weight's 1..10000, linearly (runc's conversion).
fn to_io_weight(w: u16) -> u64 {
    1 + (u64::from(w).clamp(10, 1000) - 10) * 9999 / 990
}
