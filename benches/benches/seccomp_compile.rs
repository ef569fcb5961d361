//! Compiling a Docker-like seccomp profile (tests/data/seccomp-docker-like.json): cold, from
//! the on-disk cache (what a new `berth` process gets), and from the memory cache (what the
//! shim gets for its second container). Run: cargo bench -p berth-benches --bench seccomp_compile

use berth_core::oci_spec::runtime::LinuxSeccomp;
use berth_core::seccomp::{cache, compile};
use std::time::{Duration, Instant};

const RUNS: usize = 300;

fn main() {
    let text = include_str!("../../tests/data/seccomp-docker-like.json");
    let profile: LinuxSeccomp = serde_json::from_str(text).expect("the test profile parses");
    let root = std::env::temp_dir().join(format!("berth-bench-seccomp-{}", std::process::id()));
    let insns = compile(&profile).expect("compiles").insns.len();
    println!(
        "profile: {} rules, {insns} BPF instructions",
        profile.syscalls().iter().flatten().count()
    );

    let cold = measure(|| {
        compile(&profile).expect("compiles");
    });
    cache::compiled(&profile, Some(&root)).expect("fills the cache");
    let disk = measure(|| {
        cache::forget_memory();
        cache::compiled(&profile, Some(&root)).expect("from disk");
    });
    let memory = measure(|| {
        cache::compiled(&profile, Some(&root)).expect("from memory");
    });
    let _ = std::fs::remove_dir_all(&root);

    println!(
        "{:<28}{:>12}{:>12}{:>12}{:>10}",
        "case", "median", "min", "max", "vs cold"
    );
    for (name, t) in [
        ("cold compile", &cold),
        ("disk cache (new process)", &disk),
        ("memory cache (shim)", &memory),
    ] {
        println!(
            "{name:<28}{:>12}{:>12}{:>12}{:>9.1}x",
            us(t[t.len() / 2]),
            us(t[0]),
            us(t[t.len() - 1]),
            cold[cold.len() / 2].as_secs_f64() / t[t.len() / 2].as_secs_f64()
        );
    }
}

/// Sorted durations of RUNS calls after a few warm-up calls.
fn measure(mut f: impl FnMut()) -> Vec<Duration> {
    (0..10).for_each(|_| f());
    let mut t: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    t.sort();
    t
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}
