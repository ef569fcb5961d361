//! pause and resume freeze and thaw every process through the container's cgroup.

use berth_tests::*;

fn ticks(b: &Bundle) -> usize {
    let out = ok(berth(&[
        "exec",
        b.id(),
        "sh",
        "-c",
        "wc -l < /dev/shm/ticks",
    ]));
    out.trim().parse().unwrap()
}

#[test]
fn a_paused_container_is_frozen_until_resumed() {
    let mut b = Bundle::new("pz-freeze");
    b.sh("while true; do echo t >> /dev/shm/ticks; usleep 20000; done");
    b.run_detached();
    assert!(eventually(5, || ticks(&b) > 2));
    ok(berth(&["pause", b.id()]));
    assert_eq!(b.status(), "paused");
    let frozen = [
        "freezer/berth-test-pz-freeze/freezer.state",
        "unified/berth-test-pz-freeze/cgroup.events",
        "berth-test-pz-freeze/cgroup.events",
    ]
    .iter()
    .filter_map(|f| std::fs::read_to_string(format!("/sys/fs/cgroup/{f}")).ok())
    .any(|s| s.contains("FROZEN") || s.contains("frozen 1"));
    assert!(frozen, "the kernel does not report the cgroup frozen");
    let e = err(berth(&["pause", b.id()]));
    assert!(e.contains("not running"), "{e}");
    let pid = b.state()["pid"].as_i64().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(
        stat,
        std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap(),
        "a frozen process made progress"
    );
    ok(berth(&["resume", b.id()]));
    assert_eq!(b.status(), "running");
    let before = ticks(&b);
    assert!(eventually(5, || ticks(&b) > before));
    let e = err(berth(&["resume", b.id()]));
    assert!(e.contains("not paused"), "{e}");
}

#[test]
fn delete_force_of_a_paused_container() {
    let mut b = Bundle::new("pz-delete");
    b.sh("sleep 60");
    b.run_detached();
    ok(berth(&["pause", b.id()]));
    ok(berth(&["delete", "--force", b.id()]));
    assert_nothing_left(b.id());
}
