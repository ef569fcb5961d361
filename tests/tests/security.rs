//! Escape paths closed by design (issue 8 adds one test per advisory; these cover what the
//! lifecycle itself guarantees).

use berth_tests::*;
use serde_json::json;
use std::os::unix::fs::MetadataExt;

fn userns(b: &mut Bundle) {
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
}

#[test]
fn the_waiting_init_cannot_be_opened_through_proc_exe() {
    // CVE-2019-5736: until execve the init is a copy of the runtime. A container process that
    // can see it (here: a second container sharing the host's pid namespace) must not be able
    // to open /proc/PID/exe, the way to overwrite the runtime binary.
    let mut a = Bundle::new("sec-exe-target");
    a.sh("sleep 60");
    ok(a.create());
    let pid = a.state()["pid"].as_i64().unwrap();
    let mut b = Bundle::new("sec-exe-attacker");
    b.config["linux"]["namespaces"] =
        json!([{"type": "mount"}, {"type": "uts"}, {"type": "ipc"}, {"type": "network"}]);
    b.sh(&format!("test -e /proc/{pid} && echo visible; head -c 4 /proc/{pid}/exe >/dev/null 2>&1 && echo opened || echo refused"));
    assert_eq!(b.run_ok(), "visible\nrefused\n");
}

#[test]
fn the_waiting_init_is_not_dumpable() {
    // Its /proc entries belong to the host's root, not to the container's root user.
    let mut b = Bundle::new("sec-dumpable");
    userns(&mut b);
    b.sh("sleep 60");
    ok(b.create());
    let pid = b.state()["pid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(
        uid_line.contains("200000"),
        "the init runs as the container's root: {uid_line}"
    );
    // (/proc/PID itself always shows the euid; its entries show the dump owner.)
    let exe = format!("/proc/{pid}/exe");
    assert_eq!(std::fs::symlink_metadata(&exe).unwrap().uid(), 0);
    // After start the user's program is an ordinary, dumpable process of the container.
    ok(berth(&["start", b.id()]));
    assert!(eventually(5, || std::fs::symlink_metadata(&exe)
        .is_ok_and(|m| m.uid() == 200000)));
}

#[test]
fn no_runtime_fd_reaches_the_container() {
    // CVE-2024-21626: every fd of the runtime is close-on-exec; the process sees 0, 1, 2 and
    // nothing else, in the init and in an exec'd process alike.
    let mut init = Bundle::new("sec-fds-init");
    init.sh("ls /proc/self/fd | sort -n | tr '\\n' ' '");
    assert_eq!(
        init.run_ok(),
        "0 1 2 3 ",
        "init: only stdio and ls's own directory fd"
    );
    let mut b = Bundle::new("sec-fds");
    b.sh("sleep 60");
    b.run_detached();
    let out = ok(berth(&[
        "exec",
        b.id(),
        "sh",
        "-c",
        "ls /proc/self/fd | sort -n | tr '\\n' ' '",
    ]));
    assert_eq!(
        out, "0 1 2 3 ",
        "exec'd process: only stdio and ls's own directory fd"
    );
}

#[test]
fn cwd_through_a_proc_fd_is_refused() {
    // CVE-2024-21626's other half: cwd /proc/self/fd/N must not resolve to a runtime fd.
    let mut b = Bundle::new("sec-cwd");
    b.config["process"]["cwd"] = json!("/proc/self/fd/7");
    refused(&b, &["process.cwd"]);
}
