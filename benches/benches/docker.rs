//! `docker run --rm busybox true` on a private dockerd (Debian's docker.io 20.10), with
//! Docker's runc and with berth, interleaved round by round: medians and their ratio.
//! dockerd and containerd do most of the work; the runtime's part should make the whole
//! faster, never slower (target: berth/runc <= 0.9).
//!
//! Run it with `scripts/build-release.sh && cargo bench -p berth-benches --bench docker`
//! (`BERTH_BENCH_ROUNDS`, default 30).

use berth_tests::docker::{Docker, IMAGE, RUNTIMES};
use std::time::Instant;

fn main() {
    if !std::path::Path::new("/usr/sbin/dockerd").exists() {
        eprintln!(
            "docker bench: dockerd is not installed (scripts/setup.sh installs docker.io); skipped"
        );
        return;
    }
    let rounds: usize = std::env::var("BERTH_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let d = Docker::start("bench");
    let run = |rt: &str| {
        let start = Instant::now();
        let o = d.docker(&[
            "run",
            "--rm",
            "--runtime",
            rt,
            "--pull",
            "never",
            IMAGE,
            "true",
        ]);
        assert!(
            o.status.success(),
            "{rt}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        start.elapsed().as_secs_f64() * 1000.0
    };
    // One of each first: caches warm, nothing counted.
    for rt in RUNTIMES {
        let _ = run(rt);
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); RUNTIMES.len()];
    for round in 0..rounds {
        // Alternate who goes first, so neither always runs right after the other.
        for i in 0..RUNTIMES.len() {
            let k = (i + round) % RUNTIMES.len();
            times[k].push(run(RUNTIMES[k]));
        }
    }
    report(&mut times, rounds);
}

fn report(times: &mut [Vec<f64>], rounds: usize) {
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        (v[v.len() / 2], v[0], v[v.len() - 1])
    };
    let (runc, runc_min, runc_max) = median(&mut times[0]);
    let (berth, berth_min, berth_max) = median(&mut times[1]);
    println!("\n## docker run --rm busybox true ({rounds} rounds, interleaved)\n");
    println!("| runtime | median ms (min–max) |");
    println!("|---|---|");
    println!("| runc 1.1 | {runc:.1} ({runc_min:.1}–{runc_max:.1}) |");
    println!("| berth | {berth:.1} ({berth_min:.1}–{berth_max:.1}) |");
    println!("\nberth / runc: {:.2} (target <= 0.9)", berth / runc);
}
