//! `update`: new resource limits for a running (or created, or paused) container, written to
//! its cgroups and kept in its state.

use super::state::Status;
use super::Container;
use crate::error::Result;
use oci_spec::runtime::LinuxResources;

impl Container {
    pub fn update(&mut self, r: &LinuxResources) -> Result<()> {
        let status = self.status();
        if status == Status::Stopped {
            return Err(self.wrong_state(status, "container not running"));
        }
        // Device rules are rewritten whole: keep the stored ones unless new ones were given.
        let nodes = self
            .stored
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.devices().clone())
            .unwrap_or_default();
        self.stored.cgroup.apply(r, &nodes)?;
        let merged = merge(
            self.stored
                .spec
                .linux()
                .as_ref()
                .and_then(|l| l.resources().clone()),
            r,
        )?;
        if let Some(linux) = self.stored.spec.linux_mut() {
            linux.set_resources(Some(merged));
        }
        self.dir.save(&self.stored)
    }
}

/// The stored resources with every field `update` set replaced, field by field.
fn merge(old: Option<LinuxResources>, new: &LinuxResources) -> Result<LinuxResources> {
    let mut base = serde_json::to_value(old.unwrap_or_default()).unwrap_or_default();
    let patch = serde_json::to_value(new).unwrap_or_default();
    merge_values(&mut base, patch);
    serde_json::from_value(base).map_err(|e| crate::error::Error::io("merging resources", e.into()))
}

fn merge_values(base: &mut serde_json::Value, patch: serde_json::Value) {
    match (base, patch) {
        (serde_json::Value::Object(b), serde_json::Value::Object(p)) => {
            for (k, v) in p {
                merge_values(b.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (b, p) => *b = p,
    }
}
