//! `Stats`: the container's cgroup usage in the message containerd expects for the host's
//! layout: `io.containerd.cgroups.v1.Metrics` when the container has v1 hierarchies,
//! `io.containerd.cgroups.v2.Metrics` on a pure cgroup v2 host.

use berth_core::cgroups::stats::Stats;
use berth_core::cgroups::Cgroup;
use containerd_shim::protos::cgroups::metrics as v1;
use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::Message;

pub fn collect(cg: &Cgroup) -> Result<Any, String> {
    let s = cg.stats();
    let mut any = Any::new();
    if cg.v1.is_empty() {
        any.type_url = "io.containerd.cgroups.v2.Metrics".into();
        any.value = v2_bytes(&s);
    } else {
        any.type_url = "io.containerd.cgroups.v1.Metrics".into();
        any.value = v1_metrics(&s)
            .write_to_bytes()
            .map_err(|e| format!("encoding metrics: {e}"))?;
    }
    Ok(any)
}

fn v1_metrics(s: &Stats) -> v1::Metrics {
    let mut m = v1::Metrics::new();
    let mut pids = v1::PidsStat::new();
    pids.current = s.pids.current;
    pids.limit = s.pids.limit;
    m.pids = Some(pids).into();
    let mut usage = v1::CPUUsage::new();
    usage.total = s.cpu.usage.total;
    usage.kernel = s.cpu.usage.kernel;
    usage.user = s.cpu.usage.user;
    usage.per_cpu = s.cpu.usage.percpu.clone();
    let mut throttle = v1::Throttle::new();
    throttle.periods = s.cpu.throttling.periods;
    throttle.throttled_periods = s.cpu.throttling.throttled_periods;
    throttle.throttled_time = s.cpu.throttling.throttled_time;
    let mut cpu = v1::CPUStat::new();
    cpu.usage = Some(usage).into();
    cpu.throttling = Some(throttle).into();
    m.cpu = Some(cpu).into();
    let raw = |k: &str| s.memory.raw.get(k).copied().unwrap_or(0);
    let entry = |e: &berth_core::cgroups::stats::MemoryEntry| {
        let mut m = v1::MemoryEntry::new();
        m.limit = e.limit;
        m.usage = e.usage;
        m.max = e.max;
        m.failcnt = e.failcnt;
        m
    };
    let mut mem = v1::MemoryStat::new();
    mem.cache = raw("cache");
    mem.rss = raw("rss");
    mem.rss_huge = raw("rss_huge");
    mem.mapped_file = raw("mapped_file");
    mem.dirty = raw("dirty");
    mem.writeback = raw("writeback");
    mem.pg_fault = raw("pgfault");
    mem.pg_maj_fault = raw("pgmajfault");
    mem.inactive_anon = raw("inactive_anon");
    mem.active_anon = raw("active_anon");
    mem.inactive_file = raw("inactive_file");
    mem.active_file = raw("active_file");
    mem.unevictable = raw("unevictable");
    mem.hierarchical_memory_limit = raw("hierarchical_memory_limit");
    mem.total_cache = raw("total_cache");
    mem.total_rss = raw("total_rss");
    mem.usage = Some(entry(&s.memory.usage)).into();
    mem.swap = Some(entry(&s.memory.swap)).into();
    m.memory = Some(mem).into();
    m
}

/// The v2 message, encoded by hand: the shim crate ships no v2 types. Field numbers are
/// those of containerd's cgroup2/stats/metrics.proto.
fn v2_bytes(s: &Stats) -> Vec<u8> {
    let us = |ns: u64| ns / 1000;
    let raw = |k: &str| s.memory.raw.get(k).copied().unwrap_or(0);
    let pids = fields(&[(1, s.pids.current), (2, s.pids.limit)]);
    let cpu = fields(&[
        (1, us(s.cpu.usage.total)),
        (2, us(s.cpu.usage.user)),
        (3, us(s.cpu.usage.kernel)),
        (4, s.cpu.throttling.periods),
        (5, s.cpu.throttling.throttled_periods),
        (6, us(s.cpu.throttling.throttled_time)),
    ]);
    let memory = fields(&[
        (1, raw("anon")),
        (2, raw("file")),
        (3, raw("kernel_stack")),
        (4, raw("slab")),
        (5, raw("sock")),
        (6, raw("shmem")),
        (7, raw("file_mapped")),
        (11, raw("inactive_anon")),
        (12, raw("active_anon")),
        (13, raw("inactive_file")),
        (14, raw("active_file")),
        (18, raw("pgfault")),
        (19, raw("pgmajfault")),
        (32, s.memory.usage.usage),
        (33, s.memory.usage.limit),
        (34, s.memory.swap.usage),
        (35, s.memory.swap.limit),
        (36, s.memory.usage.max),
    ]);
    let mut out = Vec::new();
    for (field, body) in [(1u32, pids), (2, cpu), (4, memory)] {
        varint(&mut out, u64::from(field << 3 | 2));
        varint(&mut out, body.len() as u64);
        out.extend_from_slice(&body);
    }
    out
}

/// uint64 fields (wire type 0); zeros are left out, as proto3 does.
fn fields(list: &[(u32, u64)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (field, v) in list.iter().filter(|(_, v)| *v != 0) {
        varint(&mut out, u64::from(*field << 3));
        varint(&mut out, *v);
    }
    out
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_fields_encode_as_protobuf_does() {
        let mut v = Vec::new();
        varint(&mut v, 300);
        assert_eq!(v, [0xac, 0x02]);
        assert_eq!(fields(&[(1, 0), (2, 1)]), [0x10, 0x01]);
    }
}
