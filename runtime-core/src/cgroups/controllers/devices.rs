//! devices (v1): deny everything, apply the spec's rules in order, then allow what every
//! container needs and its own linux.devices — runc's order, which runc's own default spec
//! (a single "deny all") relies on.

use super::write;
use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType};
use std::path::Path;

/// runc's default allow list: the default devices, the console and ptys, tun, and mknod of any
/// node (opening one still needs a rule).
const DEFAULT_ALLOW: &[&str] = &[
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",
    "c 1:5 rwm",
    "c 1:7 rwm",
    "c 1:8 rwm",
    "c 1:9 rwm",
    "c 5:0 rwm",
    "c 5:1 rwm",
    "c 5:2 rwm",
    "c 136:* rwm",
    "c 10:200 rwm",
];

pub fn apply_v1(dir: &Path, rules: &[LinuxDeviceCgroup], nodes: &[LinuxDevice]) -> Result<()> {
    let lines = rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            rule_line(r, &format!("linux.resources.devices[{i}]")).map(|l| (r.allow(), l, i))
        })
        .collect::<Result<Vec<_>>>()?;
    write(dir, "devices.deny", "a", "linux.resources.devices")?;
    for (allow, line, i) in lines {
        let file = if allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        write(dir, file, &line, &format!("linux.resources.devices[{i}]"))?;
    }
    for line in DEFAULT_ALLOW {
        write(
            dir,
            "devices.allow",
            line,
            "linux.resources.devices (defaults)",
        )?;
    }
    for (i, d) in nodes.iter().enumerate() {
        let t = if d.typ() == LinuxDeviceType::B {
            'b'
        } else {
            'c'
        };
        let line = format!("{t} {}:{} rwm", d.major(), d.minor());
        write(dir, "devices.allow", &line, &format!("linux.devices[{i}]"))?;
    }
    Ok(())
}

/// `TYPE MAJOR:MINOR ACCESS` as the v1 devices controller reads it.
pub fn rule_line(r: &LinuxDeviceCgroup, field: &str) -> Result<String> {
    let t = match r.typ() {
        None | Some(LinuxDeviceType::A) => 'a',
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => 'c',
        Some(LinuxDeviceType::B) => 'b',
        Some(LinuxDeviceType::P) => {
            return Err(Error::invalid(
                field,
                "type \"p\" cannot be a device cgroup rule",
            ))
        }
    };
    let num = |n: Option<i64>| match n {
        None | Some(-1) => Ok("*".to_string()),
        Some(n) if n >= 0 => Ok(n.to_string()),
        Some(n) => Err(Error::invalid(
            field,
            format!("device number {n} is negative"),
        )),
    };
    let access = r.access().clone().unwrap_or_else(|| "rwm".into());
    if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
        return Err(Error::invalid(
            field,
            format!("access {access:?} must be made of r, w and m"),
        ));
    }
    if t == 'a' {
        return Ok(format!("a *:* {access}"));
    }
    Ok(format!(
        "{t} {}:{} {access}",
        num(r.major())?,
        num(r.minor())?
    ))
}
