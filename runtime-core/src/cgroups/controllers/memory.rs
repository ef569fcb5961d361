//! memory: limit, reservation, swap, swappiness, OOM killer.

use super::{limit, Limit, Version};
use crate::cgroups::writes::{CgroupFs, Out, Step, Undo};
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxMemory;

const LIMIT: &str = "linux.resources.memory.limit";
const SWAP: &str = "linux.resources.memory.swap";
const RESERVATION: &str = "linux.resources.memory.reservation";
const SWAPPINESS: &str = "linux.resources.memory.swappiness";

/// The three byte limits, each `None` when not set.
struct Limits {
    lim: Option<Limit>,
    res: Option<Limit>,
    swap: Option<Limit>,
}

/// Whether the section sets anything (Docker always sends one, mostly zeros).
pub fn any(m: &LinuxMemory) -> bool {
    let set = |v: Option<i64>| v.is_some_and(|v| v != 0);
    set(m.limit())
        || set(m.reservation())
        || set(m.swap())
        || m.swappiness().is_some_and(|s| s != u64::MAX)
        || m.disable_oom_killer() == Some(true)
}

pub fn plan(fs: &dyn CgroupFs, out: &mut Out, v: Version, m: &LinuxMemory) -> Result<()> {
    let l = Limits {
        lim: limit(m.limit(), LIMIT)?,
        res: limit(m.reservation(), RESERVATION)?,
        swap: limit(m.swap(), SWAP)?,
    };
    if let (Some(Limit::Bytes(l)), Some(Limit::Bytes(s))) = (l.lim, l.swap) {
        if s < l {
            return Err(Error::invalid(
                SWAP,
                format!("{s} is below the memory limit {l} (swap counts memory plus swap)"),
            ));
        }
    }
    match v {
        Version::V1 => v1(fs, out, m, l),
        Version::V2 => v2(fs, out, m, l),
    }
}

fn v1(fs: &dyn CgroupFs, out: &mut Out, m: &LinuxMemory, mut l: Limits) -> Result<()> {
    let memsw = fs.exists(out.dir, "memory.memsw.limit_in_bytes");
    // runc: an unlimited memory with no swap given means unlimited swap too; memsw may never
    // sit below the limit.
    if l.lim == Some(Limit::Unlimited) && l.swap.is_none() && memsw {
        l.swap = Some(Limit::Unlimited);
    }
    let swap = l.swap.filter(|_| memsw);
    let limit = l
        .lim
        .map(|x| out.write("memory.limit_in_bytes", x.v1(), LIMIT));
    let swap = swap.map(|x| out.write("memory.memsw.limit_in_bytes", x.v1(), SWAP));
    // The kernel checks memsw >= limit at each write: grow memsw first, shrink it last.
    let swap_first = match (&limit, l.swap) {
        (Some(_), Some(Limit::Unlimited)) => true,
        (Some(_), Some(Limit::Bytes(s))) => current(fs, out, "memory.limit_in_bytes") < Some(s),
        _ => false,
    };
    let order = if swap_first {
        [swap, limit]
    } else {
        [limit, swap]
    };
    out.steps
        .extend(order.into_iter().flatten().map(Step::File));
    if let Some(r) = l.res {
        out.value("memory.soft_limit_in_bytes", r.v1(), RESERVATION);
    }
    // -1 (as an unsigned number) is runc's "not set".
    if let Some(s) = m.swappiness().filter(|s| *s != u64::MAX) {
        if s > 100 {
            return Err(Error::invalid(SWAPPINESS, format!("{s} is above 100")));
        }
        out.value("memory.swappiness", s.to_string(), SWAPPINESS);
    }
    if m.disable_oom_killer() == Some(true) {
        let field = "linux.resources.memory.disableOOMKiller";
        let mut w = out.write("memory.oom_control", "1", field);
        w.undo = Undo::Named("oom_kill_disable");
        out.steps.push(Step::File(w));
    }
    Ok(())
}

/// The number a file holds (`max` and unreadable files give `None`).
fn current(fs: &dyn CgroupFs, out: &Out, file: &str) -> Option<u64> {
    fs.read(out.dir, file)?.trim().parse().ok()
}

/// v2 has no memory+swap total: swap.max is what runc computes, swap minus the limit.
fn v2(fs: &dyn CgroupFs, out: &mut Out, m: &LinuxMemory, l: Limits) -> Result<()> {
    let swap_max = match (l.swap, l.lim) {
        (None, Some(Limit::Unlimited)) => Some(Limit::Unlimited),
        (None, _) => None,
        (Some(Limit::Unlimited), _) => Some(Limit::Unlimited),
        (Some(Limit::Bytes(s)), lim) => {
            // An update may change swap alone: the limit it counts from is the one in place.
            let base = match lim {
                Some(Limit::Bytes(b)) => Some(b),
                Some(Limit::Unlimited) => None,
                None => current(fs, out, "memory.max"),
            };
            let base = match base {
                Some(b) => b,
                // Checked again once the limit in place can be read.
                None if !fs.reads() => s,
                None => {
                    return Err(Error::invalid(
                        SWAP,
                        "a swap limit needs a memory limit on cgroup v2",
                    ))
                }
            };
            if s < base {
                return Err(Error::invalid(
                    SWAP,
                    format!("{s} is below the memory limit {base} (swap counts memory plus swap)"),
                ));
            }
            Some(Limit::Bytes(s - base))
        }
    };
    if let Some(s) = swap_max {
        if fs.exists(out.dir, "memory.swap.max") {
            out.value("memory.swap.max", s.v2(), SWAP);
        } else if s != Limit::Unlimited {
            // runc too ignores an unlimited swap on a kernel without swap accounting.
            return Err(Error::invalid(
                SWAP,
                "this kernel does not account swap (no memory.swap.max)",
            ));
        }
    }
    if let Some(x) = l.lim {
        out.value("memory.max", x.v2(), LIMIT);
    }
    if let Some(r) = l.res {
        let low = match r {
            Limit::Unlimited => "0".to_string(),
            Limit::Bytes(n) => n.to_string(),
        };
        out.value("memory.low", low, RESERVATION);
    }
    if m.disable_oom_killer() == Some(true) {
        return Err(Error::Unsupported(
            "linux.resources.memory.disableOOMKiller on cgroup v2".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::writes::Step;
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};

    /// A cgroup directory in memory: the files it has and what they hold.
    struct Files(HashMap<&'static str, &'static str>);

    impl CgroupFs for Files {
        fn exists(&self, _: &Path, file: &str) -> bool {
            self.0.contains_key(file)
        }
        fn read(&self, _: &Path, file: &str) -> Option<String> {
            self.0.get(file).map(|s| s.to_string())
        }
    }

    fn plan_of(
        files: &[(&'static str, &'static str)],
        v: Version,
        json: &str,
    ) -> Result<Vec<(String, String)>> {
        plan_with(&Files(files.iter().copied().collect()), v, json)
    }

    fn plan_with(fs: &dyn CgroupFs, v: Version, json: &str) -> Result<Vec<(String, String)>> {
        let m: LinuxMemory = serde_json::from_str(json).unwrap();
        let dir = PathBuf::from("/cg");
        let mut steps = Vec::new();
        plan(
            fs,
            &mut Out {
                dir: &dir,
                steps: &mut steps,
            },
            v,
            &m,
        )?;
        Ok(steps
            .into_iter()
            .map(|s| match s {
                Step::File(w) => (w.file, w.value),
                other => panic!("{other:?}"),
            })
            .collect())
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    const V1: &[(&str, &str)] = &[
        ("memory.limit_in_bytes", "67108864\n"),
        ("memory.memsw.limit_in_bytes", "134217728\n"),
    ];

    #[test]
    fn zeros_are_not_set() {
        // What `docker update --cpus 1` sends for memory.
        let z = r#"{"limit": 0, "reservation": 0, "kernel": 0}"#;
        assert_eq!(plan_of(V1, Version::V1, z).unwrap(), vec![]);
        assert_eq!(plan_of(&[], Version::V2, z).unwrap(), vec![]);
    }

    #[test]
    fn memsw_never_goes_below_the_limit() {
        // Growing past the current limit: swap first.
        let grow = r#"{"limit": 268435456, "swap": 536870912}"#;
        assert_eq!(
            plan_of(V1, Version::V1, grow).unwrap(),
            pairs(&[
                ("memory.memsw.limit_in_bytes", "536870912"),
                ("memory.limit_in_bytes", "268435456")
            ])
        );
        // Shrinking below it: the limit first.
        let shrink = r#"{"limit": 16777216, "swap": 33554432}"#;
        assert_eq!(
            plan_of(V1, Version::V1, shrink).unwrap(),
            pairs(&[
                ("memory.limit_in_bytes", "16777216"),
                ("memory.memsw.limit_in_bytes", "33554432")
            ])
        );
        // Unlimited memory takes swap with it.
        assert_eq!(
            plan_of(V1, Version::V1, r#"{"limit": -1}"#).unwrap(),
            pairs(&[
                ("memory.memsw.limit_in_bytes", "-1"),
                ("memory.limit_in_bytes", "-1")
            ])
        );
    }

    #[test]
    fn v2_swap_counts_from_the_limit_in_place() {
        let files = &[("memory.max", "67108864\n"), ("memory.swap.max", "max\n")];
        assert_eq!(
            plan_of(files, Version::V2, r#"{"swap": 134217728}"#).unwrap(),
            pairs(&[("memory.swap.max", "67108864")])
        );
        let e = plan_of(files, Version::V2, r#"{"swap": 1}"#).unwrap_err();
        assert!(e.to_string().contains("linux.resources.memory.swap"), "{e}");
        // Before the files can be read (the first, values-only pass), swap alone is fine.
        let unread = &crate::cgroups::writes::Unchecked;
        assert!(plan_with(unread, Version::V2, r#"{"swap": 134217728}"#).is_ok());
        let none: &[(&str, &str)] = &[("memory.max", "max\n"), ("memory.swap.max", "max\n")];
        assert!(plan_of(none, Version::V2, r#"{"swap": 134217728}"#).is_err());
        assert!(plan_of(files, Version::V1, r#"{"swappiness": 101}"#).is_err());
        assert_eq!(
            plan_of(
                files,
                Version::V1,
                r#"{"swappiness": 18446744073709551615}"#
            )
            .unwrap(),
            vec![]
        );
    }
}
