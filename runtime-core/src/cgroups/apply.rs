//! Writing `linux.resources` into the container's cgroups: each controller where this host
//! has it (a v1 hierarchy, or cgroup2 with the controller enabled on the way down), as one
//! transaction (see `writes`).

use super::controllers::{self as c, Version};
use super::writes::{CgroupFs, Host, Keep, Out, Step, Transaction, Unchecked, Undo, Write};
use super::Cgroup;
use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxDevice, LinuxResources};
use std::path::{Path, PathBuf};

/// The writes a resources section asks for, and the cgroup2 controllers they need.
#[derive(Default)]
struct Plan {
    steps: Vec<Step>,
    enable: Vec<(String, String)>,
}

impl Plan {
    fn out<'a>(&'a mut self, dir: &'a Path) -> Out<'a> {
        Out {
            dir,
            steps: &mut self.steps,
        }
    }
}

impl Cgroup {
    /// Applies every limit `r` sets. Every value is checked before the first write; then the
    /// cgroup2 controllers are enabled on the way down and the files written in order. With
    /// `Keep::OldValues` a failure puts back every file written so far. `nodes` are the
    /// spec's linux.devices, which the device controller must let the container open.
    pub fn apply(
        &self,
        r: &LinuxResources,
        nodes: &[LinuxDevice],
        keep: Keep,
    ) -> Result<Transaction> {
        let checked = self.plan(&Unchecked, r, nodes)?;
        let enabling = self.enable_steps(&checked.enable)?;
        let mut tx = Transaction::new(keep);
        tx.run(enabling)?;
        // A cgroup2 controller's files appear once it is enabled: plan again, seeing them.
        match self.plan(&Host, r, nodes) {
            Ok(plan) => tx.run(plan.steps)?,
            Err(e) => {
                tx.rollback();
                return Err(e);
            }
        }
        Ok(tx)
    }

    fn plan(&self, fs: &dyn CgroupFs, r: &LinuxResources, nodes: &[LinuxDevice]) -> Result<Plan> {
        let mut plan = Plan::default();
        if let Some(m) = r.memory().as_ref().filter(|m| c::memory::any(m)) {
            let (d, v) = self.need("memory", "linux.resources.memory", &mut plan)?;
            c::memory::plan(fs, &mut plan.out(&d), v, m)?;
        }
        if let Some(cpu) = r.cpu() {
            if c::cpu::any(cpu) {
                let (d, v) = self.need("cpu", "linux.resources.cpu", &mut plan)?;
                c::cpu::plan(fs, &mut plan.out(&d), v, cpu)?;
            }
            let set = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
            if set(cpu.cpus()) || set(cpu.mems()) {
                let (d, _) = self.need("cpuset", "linux.resources.cpu.cpus", &mut plan)?;
                c::cpuset::plan(fs, &mut plan.out(&d), cpu)?;
            }
        }
        if let Some(p) = r.pids().as_ref().filter(|p| p.limit() != 0) {
            let (d, _) = self.need("pids", "linux.resources.pids", &mut plan)?;
            c::pids::plan(&mut plan.out(&d), p);
        }
        if let Some(b) = r.block_io().as_ref().filter(|b| c::io::any(b)) {
            let field = "linux.resources.blockIO";
            let (d, v) = match self.place("blkio") {
                Some(_) => self.need("blkio", field, &mut plan)?,
                None => self.need("io", field, &mut plan)?,
            };
            c::io::plan(fs, &mut plan.out(&d), v, b)?;
        }
        if let Some(h) = r.hugepage_limits().as_ref().filter(|h| !h.is_empty()) {
            let field = "linux.resources.hugepageLimits";
            let (d, v) = self.need("hugetlb", field, &mut plan)?;
            c::hugetlb::plan(fs, &mut plan.out(&d), v, h)?;
        }
        self.plan_rest(fs, r, nodes, &mut plan)?;
        Ok(plan)
    }

    fn plan_rest(
        &self,
        fs: &dyn CgroupFs,
        r: &LinuxResources,
        nodes: &[LinuxDevice],
        plan: &mut Plan,
    ) -> Result<()> {
        if let Some(n) = r.network() {
            if n.class_id().is_some() {
                let field = "linux.resources.network.classID";
                let (d, _) = self.need("net_cls", field, plan)?;
                c::net::plan_cls(&mut plan.out(&d), n);
            }
            if n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
                let field = "linux.resources.network.priorities";
                let (d, _) = self.need("net_prio", field, plan)?;
                c::net::plan_prio(&mut plan.out(&d), n)?;
            }
        }
        if let Some(m) = r.rdma().as_ref().filter(|m| !m.is_empty()) {
            let (d, _) = self.need("rdma", "linux.resources.rdma", plan)?;
            c::rdma::plan(&mut plan.out(&d), m)?;
        }
        if let Some(u) = r.unified().as_ref().filter(|u| !u.is_empty()) {
            c::unified::check(u)?;
            let dir = self.v2.clone().ok_or_else(|| {
                Error::invalid("linux.resources.unified", "this host has no cgroup v2")
            })?;
            for key in u.keys() {
                if let Some(ctrl) = key.split('.').next().filter(|c| *c != "cgroup") {
                    let field = format!("linux.resources.unified[{key:?}]");
                    plan.enable.push((ctrl.to_string(), field));
                }
            }
            c::unified::plan(fs, &mut plan.out(&dir), u)?;
        }
        if let Some(rules) = r.devices() {
            match (self.place("devices"), &self.v2) {
                (Some((d, Version::V1)), _) => {
                    c::devices::plan_v1(&mut plan.out(&d), rules, nodes)?
                }
                (_, Some(d)) => c::devices::plan_v2(&mut plan.out(d), rules, nodes)?,
                _ => {}
            }
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

    /// Where `controller` lives, or an error naming `field`; a cgroup2 controller is noted
    /// to be enabled on the way down.
    fn need(
        &self,
        controller: &'static str,
        field: &str,
        plan: &mut Plan,
    ) -> Result<(PathBuf, Version)> {
        let (d, v) = self.place(controller).ok_or_else(|| {
            Error::invalid(
                field,
                format!("this host has no {controller} cgroup controller"),
            )
        })?;
        if v == Version::V2 {
            plan.enable
                .push((controller.to_string(), field.to_string()));
        }
        Ok((d, v))
    }

    /// cgroup2 only hands a controller to a child whose parent lists it in
    /// cgroup.subtree_control: the writes that enable each one on every level above the
    /// container's cgroup. They are never undone: a sibling may use the controller by then,
    /// and an enabled controller limits nothing by itself (runc leaves them on too).
    fn enable_steps(&self, wanted: &[(String, String)]) -> Result<Vec<Step>> {
        let (Some(root), Some(leaf)) = (&self.v2_root, &self.v2) else {
            return Ok(Vec::new());
        };
        let offered = std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default();
        let mut ancestors: Vec<&Path> = leaf
            .ancestors()
            .skip(1)
            .take_while(|a| a.starts_with(root))
            .collect();
        ancestors.reverse();
        let mut steps = Vec::new();
        let mut seen: Vec<&String> = Vec::new();
        for (controller, field) in wanted {
            if seen.contains(&controller) {
                continue;
            }
            seen.push(controller);
            if !offered.split_whitespace().any(|c| c == controller) {
                return Err(Error::invalid(
                    field,
                    format!(
                        "needs the {controller} controller, which this host's cgroup2 hierarchy \
                         at {} does not offer (it has: {})",
                        root.display(),
                        offered.trim()
                    ),
                ));
            }
            for dir in &ancestors {
                let on = Host.read(dir, "cgroup.subtree_control").unwrap_or_default();
                if !on.split_whitespace().any(|c| c == controller) {
                    steps.push(Step::File(Write {
                        dir: dir.to_path_buf(),
                        file: "cgroup.subtree_control".into(),
                        value: format!("+{controller}"),
                        field: field.clone(),
                        undo: Undo::Never,
                    }));
                }
            }
        }
        Ok(steps)
    }
}
