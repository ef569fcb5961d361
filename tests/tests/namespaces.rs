//! Namespaces: new ones (pid, uts, ipc, net, mount, cgroup, user, time) and joined by path.

use berth_tests::*;
use serde_json::json;
use std::process::{Command, Stdio};

#[test]
fn pid_1_hostname_and_domainname() {
    let mut b = Bundle::new("ns-uts");
    b.config["domainname"] = json!("example.test");
    b.sh("echo pid=$$; hostname; cat /proc/sys/kernel/domainname");
    assert_eq!(b.run_ok(), "pid=1\nberth\nexample.test\n");
}

#[test]
fn new_network_namespace_has_only_loopback() {
    let mut b = Bundle::new("ns-net");
    b.sh("ls /sys/class/net");
    assert_eq!(
        b.run_ok().split_whitespace().collect::<Vec<_>>(),
        vec!["lo"]
    );
}

#[test]
fn namespaces_differ_from_the_host() {
    let mut b = Bundle::new("ns-ids");
    b.config["namespaces"] = json!(null);
    b.sh("for n in pid net ipc uts mnt cgroup; do readlink /proc/self/ns/$n; done");
    let inside = b.run_ok();
    for n in ["pid", "net", "ipc", "uts", "mnt", "cgroup"] {
        let host = std::fs::read_link(format!("/proc/self/ns/{n}")).unwrap();
        assert!(
            !inside.contains(&host.display().to_string()),
            "{n} namespace is the host's"
        );
    }
}

#[test]
fn user_namespace_maps_ids() {
    let mut b = Bundle::new("ns-user");
    let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
    ns.push(json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    b.sh("cat /proc/self/uid_map /proc/self/gid_map; id -u; touch /dev/shm/f && stat -c %u /dev/shm/f");
    let out = b.run_ok();
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(
        words,
        vec!["0", "100000", "65536", "0", "100000", "65536", "0", "0"],
        "{out}"
    );
}

#[test]
fn time_namespace_applies_offsets() {
    let mut b = Bundle::new("ns-time");
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "time"}));
    b.config["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 86400 * 365, "nanosecs": 0}, "boottime": {"secs": 86400 * 365, "nanosecs": 0}});
    b.sh("cut -d. -f1 /proc/uptime");
    let inside: u64 = b.run_ok().trim().parse().unwrap();
    let host: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        inside >= 86400 * 365 + host as u64 - 5,
        "uptime inside {inside}, host {host}"
    );
    // The runtime itself is back in the host's time namespace.
    assert!(host < 86400.0 * 365.0);
}

#[test]
fn joins_a_network_namespace_by_path() {
    // Another container holds a fresh network namespace.
    let mut holder = Bundle::new("ns-join-holder");
    holder.sh("sleep 60");
    holder.write();
    ok(berth(&[
        "run",
        "-d",
        "--bundle",
        &holder.bundle_arg(),
        holder.id(),
    ]));
    let path = format!("/proc/{}/ns/net", holder.state()["pid"]);
    let want = std::fs::read_link(&path).unwrap();
    let mut b = Bundle::new("ns-join");
    for n in b.config["linux"]["namespaces"].as_array_mut().unwrap() {
        if n["type"] == "network" {
            n["path"] = json!(path);
        }
    }
    b.sh("readlink /proc/self/ns/net");
    assert_eq!(b.run_ok().trim(), want.display().to_string());
}

#[test]
fn a_namespace_path_of_the_wrong_type_is_refused() {
    let mut b = Bundle::new("ns-wrong");
    for n in b.config["linux"]["namespaces"].as_array_mut().unwrap() {
        if n["type"] == "network" {
            n["path"] = json!("/proc/self/ns/uts");
        }
    }
    refused(&b, &["linux.namespaces", "not a"]);
}

#[test]
fn joins_the_pid_namespace_of_another_container() {
    let mut first = Bundle::new("ns-pid-a");
    first.sh("sleep 60");
    first.write();
    ok(berth(&[
        "run",
        "-d",
        "--bundle",
        &first.bundle_arg(),
        first.id(),
    ]));
    let pid = first.state()["pid"].as_i64().unwrap();
    let mut b = Bundle::new("ns-pid-b");
    for n in b.config["linux"]["namespaces"].as_array_mut().unwrap() {
        if n["type"] == "pid" {
            n["path"] = json!(format!("/proc/{pid}/ns/pid"));
        }
    }
    b.sh("echo $$; ps -o pid,args");
    let out = b.run_ok();
    assert_ne!(out.lines().next(), Some("1"), "{out}");
    assert!(
        out.contains("sleep 60"),
        "the other container's init is visible: {out}"
    );
}

/// Deletes a host link when the test ends, however it ends.
struct Link(&'static str);

impl Drop for Link {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", self.0])
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn net_devices_are_moved_in_and_renamed() {
    let _guard = Link("berthnd1");
    let st = Command::new("ip")
        .args([
            "link", "add", "berthnd0", "type", "veth", "peer", "name", "berthnd1",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let mut b = Bundle::new("ns-netdev");
    b.config["linux"]["netDevices"] = json!({"berthnd0": {"name": "eth7"}});
    b.sh("ls /sys/class/net | tr '\\n' ' '");
    assert_eq!(b.run_ok(), "eth7 lo ");
    // The namespace died with the container, and the veth pair with it.
    assert!(eventually(5, || !std::path::Path::new(
        "/sys/class/net/berthnd1"
    )
    .exists()));
}

#[test]
fn a_missing_net_device_is_named() {
    let mut b = Bundle::new("ns-netdev-missing");
    b.config["linux"]["netDevices"] = json!({"berthnope0": {}});
    refused(&b, &["linux.netDevices", "berthnope0", "no such interface"]);
}
