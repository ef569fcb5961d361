//! podman (Debian's) runs containers on berth through `--runtime`: the commands and options
//! people use every day, each checked for what really happened.

use berth_tests::podman::Podman;
use berth_tests::*;

fn out(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn errtext(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn run_and_run_rm_with_exit_codes() {
    let p = Podman::start("run");
    let o = p.run(&["--rm"], &["sh", "-c", "echo hello; exit 42"]);
    assert_eq!(o.status.code(), Some(42), "{}", errtext(&o));
    assert_eq!(out(&o), "hello\n");
    let o = p.run(&["--name", "kept"], &["true"]);
    assert!(o.status.success(), "{}", errtext(&o));
    let ps = out(&p.podman(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]));
    assert!(ps.contains("kept Exited (0)"), "{ps}");
    assert!(p.podman(&["rm", "kept"]).status.success());
}

#[test]
fn detached_logs_exec_stop_kill_rm() {
    let p = Podman::start("ops");
    let o = p.run(
        &["-d", "--name", "d1"],
        &["sh", "-c", "echo started; sleep 1000"],
    );
    assert!(o.status.success(), "{}", errtext(&o));
    assert!(eventually(10, || out(&p.podman(&["logs", "d1"])) == "started\n"));
    let o = p.podman(&["exec", "d1", "sh", "-c", "echo in-exec; exit 5"]);
    assert_eq!((o.status.code(), out(&o).as_str()), (Some(5), "in-exec\n"));
    let o = p.podman(&["exec", "-t", "d1", "tty"]);
    assert!(
        out(&o).starts_with("/dev/pts/"),
        "{}{}",
        out(&o),
        errtext(&o)
    );
    // sleep as pid 1 ignores SIGTERM: stop ends with SIGKILL after the timeout.
    assert!(p.podman(&["stop", "-t", "1", "d1"]).status.success());
    let status = |name: &str| {
        out(&p.podman(&[
            "ps",
            "-a",
            "--filter",
            &format!("name={name}"),
            "--format",
            "{{.Status}}",
        ]))
    };
    assert!(status("d1").starts_with("Exited (137)"), "{}", status("d1"));
    assert!(p.podman(&["rm", "d1"]).status.success());
    let o = p.run(&["-d", "--name", "k1"], &["sleep", "1000"]);
    assert!(o.status.success(), "{}", errtext(&o));
    assert!(p.podman(&["kill", "k1"]).status.success());
    assert!(
        eventually(10, || status("k1").starts_with("Exited (137)")),
        "{}",
        status("k1")
    );
    assert!(p.podman(&["rm", "k1"]).status.success());
    assert!(status("k1").is_empty());
}

#[test]
fn bind_mount_named_volume_and_tmpfs() {
    let p = Podman::start("mounts");
    let host = p.dir.join("bind");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("f"), "from the host\n").unwrap();
    let bind = format!("{}:/b", host.display());
    let o = p.run(
        &["--rm", "-v", &bind],
        &["sh", "-c", "cat /b/f; echo back > /b/g"],
    );
    assert_eq!(out(&o), "from the host\n", "{}", errtext(&o));
    assert_eq!(std::fs::read_to_string(host.join("g")).unwrap(), "back\n");
    assert!(p.podman(&["volume", "create", "v1"]).status.success());
    let o = p.run(
        &["--rm", "-v", "v1:/data"],
        &["sh", "-c", "echo kept > /data/x"],
    );
    assert!(o.status.success(), "{}", errtext(&o));
    let o = p.run(&["--rm", "-v", "v1:/data"], &["cat", "/data/x"]);
    assert_eq!(out(&o), "kept\n", "{}", errtext(&o));
    let o = p.run(
        &["--rm", "--tmpfs", "/t"],
        &["sh", "-c", "grep ' /t ' /proc/mounts"],
    );
    assert!(
        out(&o).starts_with("tmpfs /t tmpfs"),
        "{}{}",
        out(&o),
        errtext(&o)
    );
}

#[test]
fn memory_and_pids_limits_are_enforced() {
    let p = Podman::start("limits");
    let o = p.run(
        &["--rm", "--memory", "32m"],
        &["sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M count=1"],
    );
    assert_eq!(
        o.status.code(),
        Some(137),
        "the OOM killer should end dd: {}",
        errtext(&o)
    );
    let o = p.run(
        &["--rm", "--pids-limit", "10"],
        &[
            "sh",
            "-c",
            "for i in $(seq 20); do sleep 5 & done; echo forked",
        ],
    );
    assert!(
        errtext(&o).contains("can't fork") || out(&o).contains("can't fork"),
        "20 processes under pids-limit 10: {}{}",
        out(&o),
        errtext(&o)
    );
}

#[test]
fn network_none_and_host_user_read_only_and_cap_drop() {
    let p = Podman::start("security");
    let o = p.run(&["--rm"], &["ls", "/sys/class/net"]);
    assert_eq!(out(&o), "lo\n", "{}", errtext(&o));
    let o = p.run(&["--rm", "--network", "host"], &["ls", "/sys/class/net"]);
    let host: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(out(&o).lines().count(), host.len(), "{}", out(&o));
    let o = p.run(&["--rm", "--user", "65534:65534"], &["id", "-u"]);
    assert_eq!(out(&o), "65534\n", "{}", errtext(&o));
    let o = p.run(
        &["--rm", "--read-only"],
        &["sh", "-c", "touch /x 2>&1; echo rc=$?"],
    );
    assert!(
        out(&o).contains("Read-only file system") && out(&o).ends_with("rc=1\n"),
        "{}",
        out(&o)
    );
    let o = p.run(
        &["--rm", "--cap-drop", "all"],
        &["grep", "CapEff", "/proc/self/status"],
    );
    assert_eq!(out(&o), "CapEff:\t0000000000000000\n", "{}", errtext(&o));
}

/// What berth does not do is refused by name, never done halfway or silently wrong: podman's
/// systemd cgroup manager makes it ask for `--systemd-cgroup`.
#[test]
fn the_systemd_cgroup_manager_is_refused_by_name() {
    let p = Podman::start("systemd");
    let o = p.podman(&[
        "--cgroup-manager",
        "systemd",
        "run",
        "--rm",
        "--network=none",
        "--cgroup-parent",
        "berthtest.slice",
        berth_tests::podman::IMAGE,
        "true",
    ]);
    assert_eq!(o.status.code(), Some(126), "{}", errtext(&o));
    let err = errtext(&o);
    assert!(
        err.contains("--systemd-cgroup: the systemd cgroup driver is not supported"),
        "{err}"
    );
    let left = out(&p.podman(&["ps", "-a", "--format", "{{.ID}}"]));
    assert_eq!(left, "", "containers left: {left}");
}
