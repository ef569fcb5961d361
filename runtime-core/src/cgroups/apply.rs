//! Writing `linux.resources` into the container's cgroups: each controller where this host
//! has it (a v1 hierarchy, or cgroup2 with the controller enabled on the way down).

use super::controllers::{self as c, Version};
use super::Cgroup;
use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxDevice, LinuxResources};
use std::path::{Path, PathBuf};

impl Cgroup {
    /// Applies every limit the spec sets. `nodes` are the spec's linux.devices, which the
    /// device controller must let the container open.
    pub fn apply(&self, r: &LinuxResources, nodes: &[LinuxDevice]) -> Result<()> {
        if let Some(m) = r.memory() {
            let (d, v) = self.need("memory", "linux.resources.memory")?;
            c::memory::apply(&d, v, m)?;
        }
        if let Some(cpu) = r.cpu() {
            let sched = cpu.shares().is_some()
                || cpu.quota().is_some()
                || cpu.period().is_some()
                || cpu.burst().is_some()
                || cpu.realtime_period().is_some()
                || cpu.realtime_runtime().is_some()
                || cpu.idle().is_some();
            if sched {
                let (d, v) = self.need("cpu", "linux.resources.cpu")?;
                c::cpu::apply(&d, v, cpu)?;
            }
            if cpu.cpus().is_some() || cpu.mems().is_some() {
                let (d, _) = self.need("cpuset", "linux.resources.cpu.cpus")?;
                c::cpuset::apply(&d, cpu)?;
            }
        }
        if let Some(p) = r.pids() {
            let (d, v) = self.need("pids", "linux.resources.pids")?;
            c::pids::apply(&d, v, p)?;
        }
        if let Some(b) = r.block_io() {
            let (d, v) = self
                .need("blkio", "linux.resources.blockIO")
                .or_else(|_| self.need("io", "linux.resources.blockIO"))?;
            c::io::apply(&d, v, b)?;
        }
        if let Some(h) = r.hugepage_limits().as_ref().filter(|h| !h.is_empty()) {
            let (d, v) = self.need("hugetlb", "linux.resources.hugepageLimits")?;
            c::hugetlb::apply(&d, v, h)?;
        }
        self.apply_rest(r, nodes)
    }

    fn apply_rest(&self, r: &LinuxResources, nodes: &[LinuxDevice]) -> Result<()> {
        if let Some(rules) = r.devices() {
            match (self.place("devices"), &self.v2) {
                (Some((d, Version::V1)), _) => c::devices::apply_v1(&d, rules, nodes)?,
                (_, Some(d)) => c::devices::apply_v2(d, rules, nodes)?,
                _ => {}
            }
        }
        if r.network().is_some() {
            return Err(Error::Unsupported(
                "linux.resources.network (net_cls/net_prio) is not implemented".into(),
            ));
        }
        if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) {
            return Err(Error::Unsupported(
                "linux.resources.rdma is not implemented".into(),
            ));
        }
        if let Some(u) = r.unified().as_ref().filter(|u| !u.is_empty()) {
            c::unified::check(u)?;
            let dir = self.v2.as_ref().ok_or_else(|| {
                Error::invalid("linux.resources.unified", "this host has no cgroup v2")
            })?;
            for key in u.keys() {
                if let Some(ctrl) = key.split('.').next().filter(|c| *c != "cgroup") {
                    self.enable_v2(ctrl, &format!("linux.resources.unified[{key:?}]"))?;
                }
            }
            c::unified::apply(dir, u)?;
        }
        Ok(())
    }

    /// Where `controller` lives: its v1 hierarchy, or cgroup2 when the host offers it there.
    pub fn place(&self, controller: &str) -> Option<(PathBuf, Version)> {
        let v1 = self
            .v1
            .iter()
            .find(|(name, _)| name.split(',').any(|n| n == controller));
        if let Some((_, d)) = v1 {
            return Some((d.clone(), Version::V1));
        }
        let v2 = self.v2.as_ref()?;
        self.v2_controllers
            .iter()
            .any(|c| c == controller)
            .then(|| (v2.clone(), Version::V2))
    }

    fn need(&self, controller: &str, field: &str) -> Result<(PathBuf, Version)> {
        let (d, v) = self.place(controller).ok_or_else(|| {
            Error::invalid(
                field,
                format!("this host has no {controller} cgroup controller"),
            )
        })?;
        if v == Version::V2 {
            self.enable_v2(controller, field)?;
        }
        Ok((d, v))
    }

    /// cgroup2 only hands a controller to a child whose parent lists it in
    /// cgroup.subtree_control: enable it on every level above the container's cgroup.
    /// Enables `controller` on the way down to the container's cgroup; `field` is the spec
    /// field that needs it, for errors.
    fn enable_v2(&self, controller: &str, field: &str) -> Result<()> {
        let (Some(root), Some(leaf)) = (&self.v2_root, &self.v2) else {
            return Ok(());
        };
        let offered = std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
        if !offered.split_whitespace().any(|c| c == controller) {
            return Err(Error::invalid(
                field,
                format!(
                    "needs the {controller} controller, which this host's cgroup2 hierarchy at {} \
                     does not offer (it has: {})",
                    root.display(),
                    offered.trim()
                ),
            ));
        }
        let mut ancestors: Vec<&Path> = leaf
            .ancestors()
            .skip(1)
            .take_while(|a| a.starts_with(root))
            .collect();
        ancestors.reverse();
        for dir in ancestors {
            let file = dir.join("cgroup.subtree_control");
            let on = std::fs::read_to_string(&file).unwrap_or_default();
            if !on.split_whitespace().any(|c| c == controller) {
                c::write(
                    dir,
                    "cgroup.subtree_control",
                    &format!("+{controller}"),
                    field,
                )?;
            }
        }
        Ok(())
    }
}
