//! `update`: runc's flags (or a resources JSON) turned into LinuxResources for berth-core.

use super::{fail, CliError, CliResult};
use crate::cli::UpdateArgs;
use berth_core::oci_spec::runtime::LinuxResources;
use berth_core::Runtime;
use serde_json::{json, Map, Value};
use std::io::Read;

pub fn update(rt: &Runtime, a: UpdateArgs) -> CliResult<()> {
    if a.kernel_memory.is_some() || a.kernel_memory_tcp.is_some() {
        return fail("--kernel-memory and --kernel-memory-tcp are not supported (the kernel dropped kmem limits)");
    }
    if a.l3_cache_schema.is_some() || a.mem_bw_schema.is_some() {
        return fail(
            "--l3-cache-schema and --mem-bw-schema need Intel RDT, which berth does not implement",
        );
    }
    let mut r = match &a.resources {
        Some(src) => read_resources(src)?,
        None => Value::Object(Map::new()),
    };
    apply_flags(&mut r, &a)?;
    let resources: LinuxResources =
        serde_json::from_value(r).map_err(|e| CliError(format!("resources: {e}")))?;
    let mut c = rt.load(&a.id)?;
    c.update(&resources)?;
    Ok(())
}

fn read_resources(src: &str) -> CliResult<Value> {
    let mut text = String::new();
    if src == "-" {
        std::io::stdin().read_to_string(&mut text)?;
    } else {
        text = std::fs::read_to_string(src)
            .map_err(|e| CliError(format!("--resources {src}: {e}")))?;
    }
    serde_json::from_str(&text).map_err(|e| CliError(format!("--resources {src}: {e}")))
}

/// Each flag overrides the same field of the JSON, as runc does.
fn apply_flags(r: &mut Value, a: &UpdateArgs) -> CliResult<()> {
    let mut set = |section: &str, key: &str, v: Value| {
        if !r[section].is_object() {
            r[section] = json!({});
        }
        r[section][key] = v;
    };
    if let Some(v) = a.blkio_weight {
        set("blockIO", "weight", json!(v));
    }
    for (v, key) in [
        (a.cpu_period, "period"),
        (a.cpu_share, "shares"),
        (a.cpu_rt_period, "realtimePeriod"),
    ] {
        if let Some(v) = v {
            set("cpu", key, json!(v));
        }
    }
    for (v, key) in [
        (a.cpu_quota, "quota"),
        (a.cpu_rt_runtime, "realtimeRuntime"),
        (a.cpu_idle, "idle"),
    ] {
        if let Some(v) = v {
            set("cpu", key, json!(v));
        }
    }
    for (v, key) in [(&a.cpuset_cpus, "cpus"), (&a.cpuset_mems, "mems")] {
        if let Some(v) = v {
            set("cpu", key, json!(v));
        }
    }
    for (v, key, flag) in [
        (&a.memory, "limit", "--memory"),
        (&a.memory_reservation, "reservation", "--memory-reservation"),
        (&a.memory_swap, "swap", "--memory-swap"),
    ] {
        if let Some(v) = v {
            set("memory", key, json!(bytes(v, flag)?));
        }
    }
    if let Some(v) = a.pids_limit {
        set("pids", "limit", json!(v));
    }
    Ok(())
}

/// runc's RAMInBytes: a number with an optional binary unit (b, k, m, g, t, p); -1 unlimited.
fn bytes(s: &str, flag: &str) -> CliResult<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t
        .strip_suffix('b')
        .filter(|x| x.ends_with(|c: char| c.is_ascii_alphabetic()))
        .unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        Some('p') => (&t[..t.len() - 1], 1 << 50),
        Some('b') => (&t[..t.len() - 1], 1),
        _ => (t, 1),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| CliError(format!("{flag} {s:?}: not a size like 512m")))?;
    if n < 0.0 {
        return fail(format!("{flag} {s:?}: negative"));
    }
    Ok((n * mult as f64) as i64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::bytes("512m", "f").unwrap(), 512 << 20);
        assert_eq!(super::bytes("1G", "f").unwrap(), 1 << 30);
        assert_eq!(super::bytes("1gb", "f").unwrap(), 1 << 30);
        assert_eq!(super::bytes("4096", "f").unwrap(), 4096);
        assert_eq!(super::bytes("-1", "f").unwrap(), -1);
        assert!(super::bytes("lots", "f").is_err());
    }
}
