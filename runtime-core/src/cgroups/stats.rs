//! Resource usage read from the container's cgroups, in runc's `events --stats` layout.

use super::controllers::Version;
use super::Cgroup;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Default, Serialize)]
pub struct Stats {
    pub cpu: CpuStats,
    pub memory: MemoryStats,
    pub pids: PidsStats,
}

#[derive(Debug, Default, Serialize)]
pub struct CpuStats {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

#[derive(Debug, Default, Serialize)]
pub struct CpuUsage {
    /// Nanoseconds.
    pub total: u64,
    pub percpu: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Throttling {
    pub periods: u64,
    #[serde(rename = "throttledPeriods")]
    pub throttled_periods: u64,
    #[serde(rename = "throttledTime")]
    pub throttled_time: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct MemoryStats {
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Serialize)]
pub struct MemoryEntry {
    pub limit: u64,
    pub usage: u64,
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct PidsStats {
    pub current: u64,
    pub limit: u64,
}

fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok()
}

fn num(dir: &Path, file: &str) -> u64 {
    read(dir, file)
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// `max` (v2) reads as u64::MAX, like an unset v1 limit.
fn limit(dir: &Path, file: &str) -> u64 {
    match read(dir, file) {
        Some(s) if s.trim() == "max" => u64::MAX,
        Some(s) => s.trim().parse().unwrap_or(0),
        None => 0,
    }
}

/// "key value" lines (memory.stat, cpu.stat, memory.events, memory.oom_control).
pub fn keyed(dir: &Path, file: &str) -> BTreeMap<String, u64> {
    read(dir, file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

impl Cgroup {
    pub fn stats(&self) -> Stats {
        Stats {
            cpu: self.cpu_stats(),
            memory: self.memory_stats(),
            pids: self.pids_stats(),
        }
    }

    fn cpu_stats(&self) -> CpuStats {
        let mut s = CpuStats::default();
        if let Some((d, Version::V1)) = self.place("cpuacct") {
            s.usage.total = num(&d, "cpuacct.usage");
            s.usage.percpu = read(&d, "cpuacct.usage_percpu")
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            // cpuacct.stat is in USER_HZ ticks (10 ms).
            let st = keyed(&d, "cpuacct.stat");
            s.usage.user = st.get("user").copied().unwrap_or(0) * 10_000_000;
            s.usage.kernel = st.get("system").copied().unwrap_or(0) * 10_000_000;
        }
        match self.place("cpu") {
            Some((d, Version::V1)) => {
                let st = keyed(&d, "cpu.stat");
                s.throttling.periods = st.get("nr_periods").copied().unwrap_or(0);
                s.throttling.throttled_periods = st.get("nr_throttled").copied().unwrap_or(0);
                s.throttling.throttled_time = st.get("throttled_time").copied().unwrap_or(0);
            }
            _ => {
                let Some(d) = &self.v2 else { return s };
                let st = keyed(d, "cpu.stat");
                let us = |k: &str| st.get(k).copied().unwrap_or(0) * 1000;
                if s.usage.total == 0 {
                    s.usage.total = us("usage_usec");
                    s.usage.user = us("user_usec");
                    s.usage.kernel = us("system_usec");
                }
                s.throttling.periods = st.get("nr_periods").copied().unwrap_or(0);
                s.throttling.throttled_periods = st.get("nr_throttled").copied().unwrap_or(0);
                s.throttling.throttled_time = us("throttled_usec");
            }
        }
        s
    }

    fn memory_stats(&self) -> MemoryStats {
        let mut s = MemoryStats::default();
        match self.place("memory") {
            Some((d, Version::V1)) => {
                s.usage = MemoryEntry {
                    limit: limit(&d, "memory.limit_in_bytes"),
                    usage: num(&d, "memory.usage_in_bytes"),
                    max: num(&d, "memory.max_usage_in_bytes"),
                    failcnt: num(&d, "memory.failcnt"),
                };
                s.swap = MemoryEntry {
                    limit: limit(&d, "memory.memsw.limit_in_bytes"),
                    usage: num(&d, "memory.memsw.usage_in_bytes"),
                    max: num(&d, "memory.memsw.max_usage_in_bytes"),
                    failcnt: num(&d, "memory.memsw.failcnt"),
                };
                s.raw = keyed(&d, "memory.stat");
            }
            Some((d, Version::V2)) => {
                let events = keyed(&d, "memory.events");
                s.usage = MemoryEntry {
                    limit: limit(&d, "memory.max"),
                    usage: num(&d, "memory.current"),
                    max: num(&d, "memory.peak"),
                    failcnt: events.get("max").copied().unwrap_or(0),
                };
                s.swap = MemoryEntry {
                    limit: limit(&d, "memory.swap.max"),
                    usage: num(&d, "memory.swap.current"),
                    max: num(&d, "memory.swap.peak"),
                    failcnt: 0,
                };
                s.raw = keyed(&d, "memory.stat");
            }
            None => {}
        }
        s
    }

    fn pids_stats(&self) -> PidsStats {
        let Some((d, _)) = self.place("pids") else {
            return PidsStats::default();
        };
        let max = limit(&d, "pids.max");
        PidsStats {
            current: num(&d, "pids.current"),
            // runc reports an unlimited pids.max as 0.
            limit: if max == u64::MAX { 0 } else { max },
        }
    }

    /// How many times the kernel's OOM killer has killed a process of the container.
    pub fn oom_kills(&self) -> u64 {
        match self.place("memory") {
            Some((d, Version::V1)) => keyed(&d, "memory.oom_control")
                .get("oom_kill")
                .copied()
                .unwrap_or(0),
            Some((d, Version::V2)) => keyed(&d, "memory.events")
                .get("oom_kill")
                .copied()
                .unwrap_or(0),
            None => 0,
        }
    }
}
