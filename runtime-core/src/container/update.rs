//! `update`: new resource limits for a running (or created, or paused) container, written to
//! its cgroups and kept in its state — all of it or, when any value is wrong or any write
//! fails, none of it.

use super::state::Status;
use super::Container;
use crate::cgroups::writes::Keep;
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxResources;
use serde_json::Value;

impl Container {
    pub fn update(&mut self, r: &LinuxResources) -> Result<()> {
        let status = self.status();
        if status == Status::Stopped {
            return Err(self.wrong_state(status, "container not running"));
        }
        let linux = self.stored.spec.linux().as_ref();
        // Device rules are rewritten whole: keep the stored ones unless new ones were given.
        let nodes = linux.and_then(|l| l.devices().clone()).unwrap_or_default();
        let old = linux.and_then(|l| l.resources().clone());
        let merged = merge(old, r)?;
        let tx = self.stored.cgroup.apply(r, &nodes, Keep::OldValues)?;
        let mut stored = self.stored.clone();
        if let Some(linux) = stored.spec.linux_mut() {
            linux.set_resources(Some(merged));
        }
        if let Err(e) = self.dir.save(&stored) {
            tx.rollback();
            return Err(e);
        }
        tx.finish();
        self.stored = stored;
        Ok(())
    }
}

/// The stored resources with every field `update` set replaced, field by field. A field
/// left at zero ("not set", as runc reads it) keeps its stored value.
fn merge(old: Option<LinuxResources>, new: &LinuxResources) -> Result<LinuxResources> {
    let encode = |what: &str, e: serde_json::Error| Error::io(what.to_string(), e.into());
    let mut base = serde_json::to_value(old.unwrap_or_default())
        .map_err(|e| encode("encoding the stored resources", e))?;
    let mut patch = serde_json::to_value(new).map_err(|e| encode("encoding the update", e))?;
    drop_unset(&mut patch);
    merge_values(&mut base, patch);
    serde_json::from_value(base).map_err(|e| encode("merging resources", e))
}

/// The fields runc reads as "leave it as it is" when they are zero or empty.
const UNSET_WHEN_ZERO: &[(&str, &[&str])] = &[
    (
        "memory",
        &["limit", "reservation", "swap", "kernel", "kernelTCP"],
    ),
    (
        "cpu",
        &[
            "shares",
            "quota",
            "period",
            "realtimeRuntime",
            "realtimePeriod",
            "cpus",
            "mems",
        ],
    ),
    ("pids", &["limit"]),
    ("blockIO", &["weight"]),
];

fn drop_unset(patch: &mut Value) {
    for (section, keys) in UNSET_WHEN_ZERO {
        let Some(obj) = patch.get_mut(*section).and_then(Value::as_object_mut) else {
            continue;
        };
        obj.retain(|k, v| {
            let zero = v.as_i64() == Some(0) || v.as_u64() == Some(0) || v.as_str() == Some("");
            !(keys.contains(&k.as_str()) && zero)
        });
        // -1 as an unsigned number: runc's "swappiness not set".
        if obj.get("swappiness").and_then(Value::as_u64) == Some(u64::MAX) {
            obj.remove("swappiness");
        }
    }
}

fn merge_values(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge_values(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_keep_what_is_stored() {
        let old: LinuxResources = serde_json::from_str(
            r#"{"memory": {"limit": 67108864}, "cpu": {"shares": 512, "cpus": "0"}, "pids": {"limit": 10}}"#,
        )
        .unwrap();
        // What `docker update --cpus 1` sends.
        let new: LinuxResources = serde_json::from_str(
            r#"{"memory": {"limit": 0, "reservation": 0, "kernel": 0},
                "cpu": {"shares": 0, "cpus": "", "mems": "", "period": 100000, "quota": 100000}}"#,
        )
        .unwrap();
        let m = serde_json::to_value(merge(Some(old), &new).unwrap()).unwrap();
        assert_eq!(m["memory"]["limit"], 67108864);
        assert_eq!(m["cpu"]["shares"], 512);
        assert_eq!(m["cpu"]["cpus"], "0");
        assert_eq!(m["cpu"]["quota"], 100000);
        assert_eq!(m["pids"]["limit"], 10);
    }
}
