//! Berth's containerd shim next to containerd's runc shim, in one run against one private
//! containerd: `ctr run --rm IMAGE true` latency (interleaved), and the resident memory of the
//! shim processes with 10 idle containers each.
//!
//! Run: scripts/build-release.sh && cargo bench -p berth-benches --bench shim
//! (the shim and berth binaries are taken from target/release; the script builds the shim
//! static and size-optimised, as it is meant to be installed).

use berth_tests::containerd::{Containerd, IMAGE};
use std::time::{Duration, Instant};

const RUNS: usize = 25;
const IDLE: usize = 10;

#[derive(Clone, Copy)]
enum Shim {
    Berth,
    Runc,
}

impl Shim {
    fn name(self) -> &'static str {
        match self {
            Shim::Berth => "containerd-shim-berth-v2",
            Shim::Runc => "containerd-shim-runc-v2 (runc)",
        }
    }
    fn runtime(self) -> &'static str {
        match self {
            Shim::Berth => "io.containerd.berth.v2",
            Shim::Runc => "io.containerd.runc.v2",
        }
    }
}

fn main() {
    let c = Containerd::start("bench");
    let shims = [Shim::Berth, Shim::Runc];
    // Warm both paths once (binary lookup, page cache).
    for s in shims {
        run(&c, s, "warm");
    }
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(), Vec::new()];
    for i in 0..RUNS {
        for (k, s) in shims.iter().enumerate() {
            let start = Instant::now();
            run(&c, *s, &format!("l{k}-{i}"));
            times[k].push(start.elapsed());
        }
    }
    let mut memory: Vec<Memory> = Vec::new();
    for (k, s) in shims.iter().enumerate() {
        memory.push(idle_memory(&c, *s, k));
    }
    println!("\n`ctr run --rm {IMAGE} true`, {RUNS} runs each, interleaved");
    println!("{:<34}{:>10}{:>10}{:>10}", "shim", "median", "min", "max");
    for (k, s) in shims.iter().enumerate() {
        let t = &mut times[k];
        t.sort();
        println!(
            "{:<34}{:>10}{:>10}{:>10}",
            s.name(),
            ms(t[t.len() / 2]),
            ms(t[0]),
            ms(t[t.len() - 1])
        );
    }
    let ratio = times[0][RUNS / 2].as_secs_f64() / times[1][RUNS / 2].as_secs_f64();
    println!("latency berth/runc: {ratio:.2}");
    println!("\nshim memory with {IDLE} idle containers (sum over shim processes)");
    println!(
        "{:<34}{:>10}{:>12}{:>12}{:>12}",
        "shim", "processes", "VmRSS", "Pss", "USS"
    );
    for (k, s) in shims.iter().enumerate() {
        let m = &memory[k];
        println!(
            "{:<34}{:>10}{:>8} MiB{:>8} MiB{:>8} MiB",
            s.name(),
            m.processes,
            mib(m.rss),
            mib(m.pss),
            mib(m.uss)
        );
    }
    let r = |f: fn(&Memory) -> u64| f(&memory[0]) as f64 / f(&memory[1]) as f64;
    println!(
        "memory berth/runc: VmRSS {:.2}, Pss {:.2}, USS {:.2}",
        r(|m| m.rss),
        r(|m| m.pss),
        r(|m| m.uss)
    );
}

fn run(c: &Containerd, s: Shim, id: &str) {
    let o = c.ctr(&["run", "--rm", "--runtime", s.runtime(), IMAGE, id, "true"]);
    assert!(
        o.status.success(),
        "{}: {}",
        s.name(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// KiB summed over a shim kind's processes. USS (private pages) is what each more shim
/// really costs; VmRSS also counts the binary and library pages every shim shares.
struct Memory {
    processes: usize,
    rss: u64,
    pss: u64,
    uss: u64,
}

/// Starts IDLE sleeping containers on one shim kind, sums its shims' memory, removes them.
fn idle_memory(c: &Containerd, s: Shim, k: usize) -> Memory {
    let before = c.shims();
    let ids: Vec<String> = (0..IDLE).map(|i| format!("idle{k}-{i}")).collect();
    for id in &ids {
        let o = c.ctr(&[
            "run",
            "-d",
            "--runtime",
            s.runtime(),
            IMAGE,
            id,
            "sleep",
            "1000",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    std::thread::sleep(Duration::from_millis(500));
    let pids: Vec<i32> = c
        .shims()
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    let mut m = Memory {
        processes: pids.len(),
        rss: 0,
        pss: 0,
        uss: 0,
    };
    for pid in &pids {
        let rollup = format!("/proc/{pid}/smaps_rollup");
        m.rss += kib(&format!("/proc/{pid}/status"), "VmRSS:");
        m.pss += kib(&rollup, "Pss:");
        m.uss += kib(&rollup, "Private_Clean:") + kib(&rollup, "Private_Dirty:");
    }
    for id in &ids {
        let _ = c.ctr(&["task", "kill", "-s", "KILL", id]);
    }
    std::thread::sleep(Duration::from_millis(300));
    for id in &ids {
        let _ = c.ctr(&["task", "delete", id]);
        let _ = c.ctr(&["container", "rm", id]);
    }
    m
}

fn kib(file: &str, key: &str) -> u64 {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}
