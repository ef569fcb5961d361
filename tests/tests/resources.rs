//! linux.resources: limits the kernel really enforces, on v1 (this host) and v2 (the guest).

use berth_tests::*;
use serde_json::json;

/// The container's own view of a cgroup file, whichever layout the host has.
fn cg_file(v1_hierarchy: &str, file: &str) -> String {
    format!("$( [ -e /sys/fs/cgroup/{v1_hierarchy}/{file} ] && echo /sys/fs/cgroup/{v1_hierarchy}/{file} || echo /sys/fs/cgroup/{file} )")
}

#[test]
fn a_memory_hog_is_oom_killed_at_the_limit() {
    let mut b = Bundle::new("res-memory");
    b.config["linux"]["resources"] = json!({"memory": {"limit": 33554432, "swap": 33554432}});
    let oom = cg_file("memory", "memory.oom_control");
    let events = cg_file("memory", "memory.events");
    b.sh(&format!("dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo dd=$?; cat {oom} {events} 2>/dev/null | grep oom_kill"));
    let out = b.run_ok();
    assert!(out.starts_with("dd=137\n"), "the hog was killed: {out}");
    let kills: u64 = out
        .lines()
        .find(|l| l.starts_with("oom_kill "))
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(kills >= 1, "{out}");
}

#[test]
fn a_fork_loop_stops_at_pids_max() {
    let mut b = Bundle::new("res-pids");
    b.config["linux"]["resources"] = json!({"pids": {"limit": 10}});
    // The loop runs in a subshell, which ash abandons at the first refused fork; after it
    // only builtins, since at the limit not even the shell can fork any more.
    b.sh("(for i in $(seq 30); do sleep 30 & done) 2>/dev/null; \
          f=/sys/fs/cgroup/pids; [ -d $f ] || f=/sys/fs/cgroup; \
          read n < $f/pids.current; echo current=$n; \
          while read k v; do [ $k = max ] && echo refused=$v; done < $f/pids.events; true");
    let out = b.run_ok();
    let field = |k: &str| -> u64 {
        out.lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!((2..=10).contains(&field("current=")), "{out}");
    assert!(field("refused=") > 0, "the kernel refused forks: {out}");
}

#[test]
fn cpu_quota_throttles() {
    let mut b = Bundle::new("res-cpu");
    b.config["linux"]["resources"] =
        json!({"cpu": {"quota": 10000, "period": 100000, "shares": 512}});
    let stat = cg_file("cpu", "cpu.stat");
    b.sh(&format!(
        "timeout 1 sh -c 'while :; do :; done'; grep nr_throttled {stat}"
    ));
    let out = b.run_ok();
    let n: u64 = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(n > 0, "cpu.max was not enforced: {out}");
}

/// /dev/kmsg (1:11) bound in from the host's devtmpfs: a device every kernel has that the
/// default rules do not allow, and that anyone may open for writing; opening is all the
/// tests do.
fn kmsg_node(_b: &Bundle) -> serde_json::Value {
    json!({"destination": "/dev/kmsgtest", "source": "/dev/kmsg", "options": ["bind"]})
}

#[test]
fn device_rules_deny_what_they_do_not_allow() {
    let probe = "if true > /dev/kmsgtest; then echo open; else echo denied; fi 2>/dev/null";
    let mut b = Bundle::new("res-devices");
    let m = kmsg_node(&b);
    b.config["mounts"].as_array_mut().unwrap().push(m);
    b.config["linux"]["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    b.sh(&format!("{probe}; echo x > /dev/null && echo null-ok"));
    assert_eq!(b.run_ok(), "denied\nnull-ok\n");
    let mut b = Bundle::new("res-devices-allow");
    let m = kmsg_node(&b);
    b.config["mounts"].as_array_mut().unwrap().push(m);
    b.config["linux"]["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}]});
    b.sh(probe);
    assert_eq!(b.run_ok(), "open\n");
    // Without any device rules nothing is filtered.
    let mut b = Bundle::new("res-devices-none");
    let m = kmsg_node(&b);
    b.config["mounts"].as_array_mut().unwrap().push(m);
    b.config["linux"]["resources"] = json!({});
    b.sh(probe);
    assert_eq!(b.run_ok(), "open\n");
}

#[test]
fn an_update_replaces_the_device_rules() {
    // On cgroup v2 the rules are a BPF program: an update must replace it, not add another
    // beside it (every attached program must allow an access, so the old one would still deny).
    let probe = "if true > /dev/kmsgtest; then echo open; else echo denied; fi 2>/dev/null";
    let mut b = Bundle::new("res-devices-update");
    let m = kmsg_node(&b);
    b.config["mounts"].as_array_mut().unwrap().push(m);
    b.config["linux"]["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    b.sh("sleep 60");
    b.run_detached();
    assert_eq!(ok(berth(&["exec", b.id(), "sh", "-c", probe])), "denied\n");
    let file = b.dir.join("devices.json");
    let rules = json!({"devices": [{"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}]});
    std::fs::write(&file, rules.to_string()).unwrap();
    ok(berth(&[
        "update",
        "--resources",
        file.to_str().unwrap(),
        b.id(),
    ]));
    assert_eq!(ok(berth(&["exec", b.id(), "sh", "-c", probe])), "open\n");
}

#[test]
fn bad_values_name_the_field_and_leave_no_cgroup() {
    let cases = [
        (
            "res-bad-mem",
            json!({"memory": {"limit": -5}}),
            "linux.resources.memory.limit",
        ),
        (
            "res-bad-cpuset",
            json!({"cpu": {"cpus": "999"}}),
            "linux.resources.cpu.cpus",
        ),
        (
            "res-bad-period",
            json!({"cpu": {"period": 10}}),
            "linux.resources.cpu.period",
        ),
        (
            "res-bad-huge",
            json!({"hugepageLimits": [{"pageSize": "3MB", "limit": 1}]}),
            "hugepageLimits[0]",
        ),
        (
            "res-bad-unified",
            json!({"unified": {"../evil": "1"}}),
            "linux.resources.unified",
        ),
        (
            "res-bad-weight",
            json!({"blockIO": {"weight": 5}}),
            "linux.resources.blockIO.weight",
        ),
        (
            "res-bad-blkdev",
            json!({"blockIO": {"throttleReadBpsDevice": [{"major": 250, "minor": 250, "rate": 1000}]}}),
            "throttleReadBpsDevice[0]",
        ),
    ];
    for (name, res, field) in cases {
        let mut b = Bundle::new(name);
        b.config["linux"]["resources"] = res;
        refused(&b, &[field]);
    }
}

#[test]
fn update_raises_limits_on_a_running_container() {
    let mut b = Bundle::new("res-update");
    b.config["linux"]["resources"] = json!({"memory": {"limit": 67108864}, "pids": {"limit": 4}});
    b.sh("sleep 60");
    b.run_detached();
    let forks = "(for i in $(seq 8); do sleep 30 & done) 2>/dev/null; f=/sys/fs/cgroup/pids; [ -d $f ] || f=/sys/fs/cgroup; read n < $f/pids.current; echo $n";
    let before: u32 = ok(berth(&["exec", b.id(), "sh", "-c", forks]))
        .trim()
        .parse()
        .unwrap();
    assert!(before <= 4, "pids.max 4: {before}");
    ok(berth(&["kill", "--all", b.id(), "KILL"]));
    assert!(eventually(5, || b.status() == "stopped"));

    let mut b = Bundle::new("res-update2");
    b.config["linux"]["resources"] = json!({"memory": {"limit": 67108864}, "pids": {"limit": 4}});
    b.sh("sleep 60");
    b.run_detached();
    ok(berth(&[
        "update",
        "--memory",
        "128m",
        "--pids-limit",
        "50",
        b.id(),
    ]));
    let file = b.dir.join("cpu.json");
    std::fs::write(&file, r#"{"cpu": {"quota": 20000, "period": 100000}}"#).unwrap();
    ok(berth(&[
        "update",
        "--resources",
        file.to_str().unwrap(),
        b.id(),
    ]));
    let out = ok(berth(&["exec", b.id(), "sh", "-c", &format!("{forks}; cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null; cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu.max 2>/dev/null; true")]));
    let lines: Vec<&str> = out.lines().collect();
    let after: u32 = lines[0].parse().unwrap();
    assert!(after > 4, "the raised pids limit lets more run: {out}");
    assert_eq!(lines[1], "134217728", "{out}");
    assert!(lines[2] == "20000" || lines[2] == "20000 100000", "{out}");
    // The new limits are kept: state still loads, and a bad update names the field.
    let e = err(berth(&["update", "--memory", "lots", b.id()]));
    assert!(e.contains("--memory"), "{e}");
    let e = err(berth(&["update", "--cpuset-cpus", "999", b.id()]));
    assert!(e.contains("linux.resources.cpu.cpus"), "{e}");
}

/// memory limit, pids.max and cpu shares (weight on v2) as the container sees them, one per line.
const LIMITS: &str = "for f in memory/memory.limit_in_bytes memory.max pids/pids.max pids.max \
    cpu/cpu.shares cpu.weight cpu/cpu.cfs_quota_us cpu.max; do \
    [ -f /sys/fs/cgroup/$f ] && cat /sys/fs/cgroup/$f; done; true";

fn stored_resources(b: &Bundle) -> serde_json::Value {
    let state = std::fs::read(state_root().join(b.id()).join("state.json")).unwrap();
    let state: serde_json::Value = serde_json::from_slice(&state).unwrap();
    state["spec"]["linux"]["resources"].clone()
}

#[test]
fn a_failed_update_changes_no_limit_and_no_state() {
    // This is berth's own guarantee: runc writes memory before it finds the bad quota.
    let mut b = Bundle::new("res-update-atomic");
    b.config["linux"]["resources"] = json!({"memory": {"limit": 67108864},
        "pids": {"limit": 10}, "cpu": {"shares": 512}});
    b.sh("sleep 60");
    b.run_detached();
    let before = ok(berth(&["exec", b.id(), "sh", "-c", LIMITS]));
    let stored = stored_resources(&b);
    let update = |json: serde_json::Value| {
        let file = b.dir.join("update.json");
        std::fs::write(&file, json.to_string()).unwrap();
        berth(&["update", "--resources", file.to_str().unwrap(), b.id()])
    };
    // A value that is wrong on its face is found before anything is written...
    let e = err(update(
        json!({"memory": {"limit": 134217728}, "blockIO": {"weight": 5}}),
    ));
    assert!(e.contains("linux.resources.blockIO.weight"), "{e}");
    // ...and one only the kernel refuses (a quota under 1 ms) after the memory limit was
    // written: that write is put back.
    let e = err(update(json!({"memory": {"limit": 134217728},
        "cpu": {"quota": 500, "period": 100000}, "pids": {"limit": 50}})));
    assert!(
        e.contains("linux.resources.cpu.quota") && e.contains("EINVAL"),
        "{e}"
    );
    assert_eq!(ok(berth(&["exec", b.id(), "sh", "-c", LIMITS])), before);
    assert_eq!(stored_resources(&b), stored);
}

#[test]
fn an_update_of_zeros_keeps_every_limit() {
    // What `docker update --cpu-shares 256` sends: zero for every limit it leaves alone.
    let mut b = Bundle::new("res-update-zeros");
    b.config["linux"]["resources"] = json!({"memory": {"limit": 67108864},
        "pids": {"limit": 10}, "cpu": {"shares": 512}});
    b.sh("sleep 60");
    b.run_detached();
    let before = ok(berth(&["exec", b.id(), "sh", "-c", LIMITS]));
    let file = b.dir.join("update.json");
    let docker = json!({"memory": {"limit": 0, "reservation": 0, "kernel": 0},
        "cpu": {"shares": 256, "cpus": "", "mems": "", "period": 0, "quota": 0},
        "blockIO": {"weight": 0}});
    std::fs::write(&file, docker.to_string()).unwrap();
    ok(berth(&[
        "update",
        "--resources",
        file.to_str().unwrap(),
        b.id(),
    ]));
    let after = ok(berth(&["exec", b.id(), "sh", "-c", LIMITS]));
    let (b4, af): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    assert_eq!(
        (b4[0], b4[1]),
        (af[0], af[1]),
        "memory and pids kept: {after}"
    );
    // v1 shares as given; v2 weight by runc's conversion of 256.
    assert!(af[2] == "256" || af[2] == "10", "{after}");
    assert_eq!(b4[3], af[3], "the quota kept: {after}");
    let stored = stored_resources(&b);
    assert_eq!(stored["memory"]["limit"], 67108864, "{stored}");
    assert_eq!(stored["cpu"]["shares"], 256, "{stored}");
}

#[test]
fn events_report_stats_and_oom_kills() {
    let mut b = Bundle::new("res-events");
    b.config["linux"]["resources"] =
        json!({"memory": {"limit": 33554432, "swap": 33554432}, "pids": {"limit": 20}});
    b.sh("sleep 3; dd if=/dev/zero of=/dev/null bs=64M count=1; sleep 60");
    b.run_detached();
    let log = b.dir.join("events.log");
    let mut events = berth_cmd(&["events", "--interval", "1s", b.id()])
        .stdout(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let st: serde_json::Value =
        serde_json::from_str(&ok(berth(&["events", "--stats", b.id()]))).unwrap();
    assert_eq!(st["type"], "stats");
    assert_eq!(st["id"], "res-events");
    assert!(st["data"]["pids"]["current"].as_u64().unwrap() >= 1, "{st}");
    assert_eq!(st["data"]["pids"]["limit"], 20);
    assert_eq!(st["data"]["memory"]["usage"]["limit"], 33554432);
    assert!(
        st["data"]["memory"]["usage"]["usage"].as_u64().unwrap() > 0,
        "{st}"
    );
    let oom = eventually(30, || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains(r#""type":"oom""#))
    });
    let _ = events.kill();
    let _ = events.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(oom, "no oom event in:\n{text}");
    assert!(
        text.lines().any(|l| l.contains(r#""type":"stats""#)),
        "{text}"
    );
}

#[test]
fn hugetlb_limits_land_where_the_host_has_the_controller() {
    // On this hybrid host hugetlb lives on cgroup2 (enabled on the way down); on a pure v2
    // host too; on a v1 host in its own hierarchy.
    let mut b = Bundle::new("res-hugetlb");
    b.config["linux"]["resources"] =
        json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]});
    b.sh("cat /sys/fs/cgroup/hugetlb/hugetlb.2MB.limit_in_bytes /sys/fs/cgroup/unified/hugetlb.2MB.max /sys/fs/cgroup/hugetlb.2MB.max 2>/dev/null; true");
    assert_eq!(b.run_ok(), "4194304\n");
}

#[test]
fn a_device_rule_makes_writing_dev_null_fail_with_eperm() {
    let mut b = Bundle::new("res-devnull");
    b.config["linux"]["resources"] = json!({"devices": [
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "r"},
        {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "w"}
    ]});
    b.sh("cat /dev/null && echo read-ok; echo x > /dev/null 2>/tmp/e || true; echo x > /dev/null 2>&1 || echo write-denied; echo x > /dev/zero && echo zero-ok");
    b.config["root"]["readonly"] = json!(false);
    let out = b.run_ok();
    assert_eq!(out, "read-ok\nwrite-denied\nzero-ok\n");
    let mut e = Bundle::new("res-devnull-errno");
    e.config["linux"]["resources"] = b.config["linux"]["resources"].clone();
    e.sh("echo x > /dev/null");
    let msg = err(e.run());
    assert!(msg.contains("Operation not permitted"), "EPERM: {msg}");
}
