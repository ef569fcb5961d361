//! devices: deny everything, apply the spec's rules in order, then allow what every container
//! needs and its own linux.devices — runc's order, which runc's own default spec (a single
//! "deny all") relies on. One departure: a default is left out when the spec explicitly denies
//! that very device, so `deny c 1:3 w` means what it says (runc would re-allow /dev/null).

use crate::cgroups::ebpf::Rule;
use crate::cgroups::writes::{Attached, Out, Step};
use crate::error::{Error, Result};
use crate::sys::bpf;
use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType};
use std::os::fd::AsRawFd;
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

/// v1: one step that denies everything, then writes the rules, the defaults and the nodes.
pub fn plan_v1(out: &mut Out, rules: &[LinuxDeviceCgroup], nodes: &[LinuxDevice]) -> Result<()> {
    let mut lines = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let field = format!("linux.resources.devices[{i}]");
        let file = if r.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        };
        lines.push((file, rule_line(r, &field)?, field));
    }
    for line in defaults(rules) {
        let field = "linux.resources.devices (defaults)".to_string();
        lines.push(("devices.allow", line.to_string(), field));
    }
    for (i, d) in nodes.iter().enumerate() {
        lines.push(("devices.allow", node_line(d), format!("linux.devices[{i}]")));
    }
    out.steps.push(Step::DevicesV1 {
        dir: out.dir.to_path_buf(),
        lines,
    });
    Ok(())
}

fn node_line(d: &LinuxDevice) -> String {
    let t = if d.typ() == LinuxDeviceType::B {
        'b'
    } else {
        'c'
    };
    format!("{t} {}:{} rwm", d.major(), d.minor())
}

/// The default allow rules, less those for a device the spec denies by exact number.
fn defaults(rules: &[LinuxDeviceCgroup]) -> impl Iterator<Item = &'static str> + '_ {
    DEFAULT_ALLOW.iter().copied().filter(move |line| {
        let d = parse(line, true);
        !rules.iter().any(|r| {
            !r.allow()
                && r.major()
                    .is_some_and(|m| m >= 0 && Some(m as u32) == d.major)
                && r.minor()
                    .is_some_and(|m| m >= 0 && Some(m as u32) == d.minor)
                && matches!(r.typ(), Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U))
                    == (d.kind == Some(2))
        })
    })
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

/// cgroup v2: the same rules, in the same order, compiled to a BPF_CGROUP_DEVICE program
/// that replaces the one attached to the container's cgroup.
pub fn plan_v2(out: &mut Out, rules: &[LinuxDeviceCgroup], nodes: &[LinuxDevice]) -> Result<()> {
    let mut list = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        let line = rule_line(r, &format!("linux.resources.devices[{i}]"))?;
        list.push(parse(&line, r.allow()));
    }
    list.extend(defaults(rules).map(|l| parse(l, true)));
    list.extend(nodes.iter().map(|d| parse(&node_line(d), true)));
    out.steps.push(Step::DevicesV2 {
        dir: out.dir.to_path_buf(),
        rules: list,
    });
    Ok(())
}

/// Loads the program for `rules` and attaches it beside the programs there now, which the
/// transaction detaches when it finishes (or keeps, detaching the new one, when it fails).
pub fn replace_program(dir: &Path, rules: &[Rule]) -> Result<Attached> {
    let program = crate::cgroups::ebpf::program(rules);
    let mut log = vec![0u8; 64 * 1024];
    let prog = bpf::load_device_program(&program, &mut log).map_err(|e| {
        let text = String::from_utf8_lossy(&log);
        let first = text
            .trim_matches('\0')
            .lines()
            .last()
            .unwrap_or("")
            .to_string();
        Error::Cgroup(format!(
            "linux.resources.devices: loading the device program: bpf: {e} {first}"
        ))
    })?;
    let c = crate::rootfs::resolve::cstring(dir, "cgroup")?;
    let cg = crate::sys::fs::openat(libc::AT_FDCWD, &c, libc::O_RDONLY | libc::O_DIRECTORY, 0)
        .map_err(|e| Error::Cgroup(format!("opening {}: {e}", dir.display())))?;
    let attach = |what: &str, e: crate::sys::Errno| {
        Error::Cgroup(format!(
            "linux.resources.devices: {what} {}: bpf: {e}",
            dir.display()
        ))
    };
    let old =
        bpf::attached_device_programs(&cg).map_err(|e| attach("listing the programs of", e))?;
    bpf::attach_device_program(cg.as_raw_fd(), prog.as_raw_fd())
        .map_err(|e| attach("attaching to", e))?;
    Ok(Attached {
        cgroup: cg,
        new: prog,
        old,
    })
}

/// A rule line (`c 1:3 rwm`, `a *:* m`) as an eBPF rule.
fn parse(line: &str, allow: bool) -> crate::cgroups::ebpf::Rule {
    let mut parts = line.split(' ');
    let kind = match parts.next() {
        Some("b") => Some(1),
        Some("c") => Some(2),
        _ => None,
    };
    let (major, minor) = parts
        .next()
        .and_then(|n| n.split_once(':'))
        .unwrap_or(("*", "*"));
    let num = |s: &str| s.parse::<u32>().ok();
    let access = parts.next().unwrap_or("rwm").chars().fold(0, |a, c| {
        a | match c {
            'm' => 1,
            'r' => 2,
            'w' => 4,
            _ => 0,
        }
    });
    crate::cgroups::ebpf::Rule {
        allow,
        kind,
        major: num(major),
        minor: num(minor),
        access,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exact_deny_drops_that_default() {
        let rules: Vec<LinuxDeviceCgroup> = serde_json::from_str(
            r#"[{"allow": false, "access": "rwm"}, {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "w"}]"#,
        )
        .unwrap();
        let d: Vec<&str> = defaults(&rules).collect();
        assert!(!d.contains(&"c 1:3 rwm"), "{d:?}");
        assert!(d.contains(&"c 1:5 rwm"));
    }
}
