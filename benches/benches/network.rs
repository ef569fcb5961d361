//! What joining a network costs: `create` + `delete` of one container with
//! `berth.network=bridge` against the same without it (the difference is attach + detach:
//! the veth pair, addresses, route, lease), interleaved; then 50 containers created at once
//! and deleted at once, both ways. Everything happens in a network namespace of the
//! benchmark's own. runc, crun and youki leave networking to other tools, so there is no
//! peer column.
//!
//! Run: cargo build --release && cargo bench -p berth-benches --bench network

use berth_tests::net::Host;
use berth_tests::{ok, Bundle};
use serde_json::json;
use std::time::{Duration, Instant};

const ROUNDS: usize = 30;
const AT_ONCE: usize = 50;

fn bundle(name: &str, network: bool) -> Bundle {
    let mut b = Bundle::new(name);
    b.config["process"]["args"] = json!(["sleep", "30"]);
    if network {
        b.config["annotations"] = json!({"berth.network": "bridge"});
    }
    b.write();
    b
}

fn cycle(h: &Host, b: &Bundle) -> Duration {
    let start = Instant::now();
    ok(h.berth(&["create", "--bundle", &b.bundle_arg(), b.id()]));
    ok(h.berth(&["delete", "--force", b.id()]));
    start.elapsed()
}

/// Creates every bundle at once, then deletes them at once: (create wall time, delete).
fn at_once(h: &Host, list: &[Bundle]) -> (Duration, Duration) {
    let start = Instant::now();
    std::thread::scope(|s| {
        for b in list {
            s.spawn(move || ok(h.berth(&["create", "--bundle", &b.bundle_arg(), b.id()])));
        }
    });
    let created = start.elapsed();
    let start = Instant::now();
    std::thread::scope(|s| {
        for b in list {
            s.spawn(move || ok(h.berth(&["delete", "--force", b.id()])));
        }
    });
    (created, start.elapsed())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let h = Host::new("berth-bench-net");
    let (plain, joined) = (
        bundle("bench-net-plain", false),
        bundle("bench-net-bridge", true),
    );
    // The first join makes the bridge and the NAT table: measure it once, apart.
    let first = cycle(&h, &joined);
    cycle(&h, &plain);
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        without.push(cycle(&h, &plain));
        with.push(cycle(&h, &joined));
    }
    let (without, with) = (median(without), median(with));
    println!("\ncreate + delete of one container, {ROUNDS} rounds interleaved, medians");
    println!("{:<44}{:>10}", "", "ms");
    println!("{:<44}{:>10.1}", "without a network", ms(without));
    println!("{:<44}{:>10.1}", "on the bridge network", ms(with));
    println!(
        "{:<44}{:>10.1}",
        "attach + detach (the difference)",
        ms(with.saturating_sub(without))
    );
    println!(
        "{:<44}{:>10.1}",
        "first join (makes bridge and NAT table)",
        ms(first)
    );
    let plain: Vec<Bundle> = (0..AT_ONCE)
        .map(|i| bundle(&format!("bench-net-p{i}"), false))
        .collect();
    let joined: Vec<Bundle> = (0..AT_ONCE)
        .map(|i| bundle(&format!("bench-net-j{i}"), true))
        .collect();
    let (pc, pd) = at_once(&h, &plain);
    let (jc, jd) = at_once(&h, &joined);
    println!("\n{AT_ONCE} containers at once, wall time");
    println!("{:<44}{:>10}{:>10}", "", "create", "delete");
    println!(
        "{:<44}{:>10.1}{:>10.1}",
        "without a network, ms",
        ms(pc),
        ms(pd)
    );
    println!(
        "{:<44}{:>10.1}{:>10.1}",
        "on the bridge network, ms",
        ms(jc),
        ms(jd)
    );
    let leases = h.leases("bridge");
    assert_eq!(leases, json!({}), "addresses left after the benchmark");
}
