//! create / start / state / kill / delete, run's exit codes, list, pid files.

use berth_tests::*;

#[test]
fn run_prints_from_inside_and_returns_the_exit_code() {
    let mut b = Bundle::new("lc-run");
    b.sh("echo hello from $(hostname); exit 7");
    let out = b.run();
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello from berth\n");
    assert_nothing_left("lc-run");
}

#[test]
fn run_reports_death_by_signal_as_128_plus_n() {
    // Without a pid namespace the shell is not an init, which ignores unhandled signals.
    let mut b = Bundle::new("lc-signal");
    b.sh("kill -USR1 $$; sleep 5");
    b.config["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}]);
    b.config.as_object_mut().unwrap().remove("hostname");
    let out = b.run();
    assert_eq!(
        out.status.code(),
        Some(128 + libc::SIGUSR1),
        "{}",
        stderr(&out)
    );
}

#[test]
fn create_start_state_kill_delete_round_trip() {
    let mut b = Bundle::new("lc-round");
    b.sh("echo started > /dev/shm/mark; sleep 60");
    let pid_file = b.dir.join("pid");
    b.write();
    ok(berth(&[
        "create",
        "--bundle",
        &b.bundle_arg(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        b.id(),
    ]));
    let st = b.state();
    assert_eq!(st["status"], "created");
    assert_eq!(st["ociVersion"], "1.2.0");
    assert_eq!(st["bundle"], b.bundle_arg());
    assert_eq!(st["rootfs"], b.rootfs().display().to_string());
    let pid = st["pid"].as_i64().unwrap();
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap(), pid.to_string());
    // Created: the init exists but the user's program has not run.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains("sleep"));

    ok(berth(&["start", b.id()]));
    assert_eq!(b.status(), "running");
    assert!(eventually(5, || std::fs::read(format!(
        "/proc/{pid}/cmdline"
    ))
    .is_ok_and(|c| c.starts_with(b"sleep"))));

    let e = err(berth(&["start", b.id()]));
    assert!(e.contains("already running"), "{e}");
    let e = err(berth(&["delete", b.id()]));
    assert!(e.contains("not stopped"), "{e}");

    ok(berth(&["kill", b.id(), "KILL"]));
    assert!(eventually(5, || b.status() == "stopped"));
    assert_eq!(b.state()["pid"], 0);
    let e = err(berth(&["kill", b.id(), "TERM"]));
    assert!(e.contains("not running"), "{e}");
    let e = err(berth(&["start", b.id()]));
    assert!(e.contains("stopped"), "{e}");
    ok(berth(&["delete", b.id()]));
    assert_nothing_left(b.id());
    let e = err(berth(&["state", b.id()]));
    assert!(e.contains("does not exist"), "{e}");
}

#[test]
fn kill_takes_names_and_numbers_and_all() {
    let mut b = Bundle::new("lc-kill");
    b.sh("trap 'echo usr1' USR1; while true; do sleep 1 & wait; done");
    b.create();
    ok(berth(&["start", b.id()]));
    ok(berth(&["kill", b.id(), "SIGUSR1"]));
    ok(berth(&["kill", b.id(), "10"]));
    assert_eq!(
        b.status(),
        "running",
        "the trapped signals must not stop it"
    );
    let e = err(berth(&["kill", b.id(), "NOSUCHSIG"]));
    assert!(e.contains("NOSUCHSIG"), "{e}");
    ok(berth(&["kill", "--all", b.id(), "KILL"]));
    assert!(eventually(5, || b.status() == "stopped"));
    ok(berth(&["delete", b.id()]));
}

#[test]
fn delete_force_kills_a_running_container() {
    let mut b = Bundle::new("lc-force");
    b.sh("sleep 60");
    b.create();
    ok(berth(&["start", b.id()]));
    let pid = b.state()["pid"].as_i64().unwrap();
    ok(berth(&["delete", "--force", b.id()]));
    assert_nothing_left(b.id());
    let alive =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z"));
    assert!(!alive, "init {pid} still alive after delete --force");
}

#[test]
fn delete_of_a_created_container_needs_no_force() {
    let b = Bundle::new("lc-created");
    ok(b.create());
    ok(berth(&["delete", b.id()]));
    assert_nothing_left(b.id());
}

#[test]
fn list_shows_containers_in_table_and_json() {
    let mut b = Bundle::new("lc-list");
    b.sh("sleep 60");
    ok(b.create());
    let table = ok(berth(&["list"]));
    let header = table.lines().next().unwrap();
    assert!(
        header.starts_with("ID") && header.contains("STATUS") && header.contains("BUNDLE"),
        "{table}"
    );
    let row = table
        .lines()
        .find(|l| l.starts_with("lc-list "))
        .expect("row for lc-list");
    assert!(
        row.contains("created") && row.contains(&b.bundle_arg()),
        "{row}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(berth(&["list", "--format", "json"]))).unwrap();
    let me = json
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "lc-list")
        .unwrap();
    assert_eq!(me["status"], "created");
    assert!(ok(berth(&["list", "-q"])).lines().any(|l| l == "lc-list"));
}

#[test]
fn run_detached_and_keep() {
    let mut b = Bundle::new("lc-detach");
    b.sh("sleep 60");
    b.run_detached();
    assert_eq!(b.status(), "running");
    ok(berth(&["delete", "-f", b.id()]));

    let mut k = Bundle::new("lc-keep");
    k.sh("exit 3");
    k.write();
    let out = berth(&["run", "--keep", "--bundle", &k.bundle_arg(), k.id()]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(k.status(), "stopped");
    ok(berth(&["delete", k.id()]));
    assert_nothing_left(k.id());
}

#[test]
fn ps_lists_the_container_processes() {
    let mut b = Bundle::new("lc-ps");
    b.sh("sleep 60 & sleep 61");
    b.run_detached();
    assert!(eventually(5, || {
        let j: serde_json::Value =
            serde_json::from_str(&ok(berth(&["ps", "--format", "json", b.id()]))).unwrap();
        j.as_array().unwrap().len() == 2
    }));
    let table = ok(berth(&["ps", b.id()]));
    assert!(table.lines().next().unwrap().contains("PID"));
    assert!(
        table.contains("sleep 60") && table.contains("sleep 61"),
        "{table}"
    );
}

#[test]
fn version_and_features_tell_the_truth() {
    let v = ok(berth(&["--version"]));
    assert!(
        v.starts_with("berth version") || v.contains("version"),
        "{v}"
    );
    let f: serde_json::Value = serde_json::from_str(&ok(berth(&["features"]))).unwrap();
    let hooks = f["hooks"].as_array().unwrap();
    assert_eq!(hooks.len(), 6);
    assert_eq!(f["linux"]["seccomp"]["enabled"], true);
    // Every seccomp action, operator and the three machine families (tests/seccomp.rs
    // exercises them).
    let sc = &f["linux"]["seccomp"];
    let count = |k: &str| sc[k].as_array().map_or(0, |a| a.len());
    assert_eq!((count("actions"), count("operators")), (9, 7), "{sc}");
    for arch in [
        "SCMP_ARCH_X86_64",
        "SCMP_ARCH_X32",
        "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_RISCV64",
    ] {
        assert!(
            sc["archs"].as_array().unwrap().iter().any(|a| a == arch),
            "{sc}"
        );
    }
    let ns: Vec<&str> = f["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(ns.contains(&"time") && ns.contains(&"user"));
}

#[test]
fn spec_writes_a_config_that_runs() {
    let b = Bundle::new("lc-spec");
    std::fs::remove_file(b.dir.join("config.json")).ok();
    ok(berth(&["spec", "--bundle", &b.bundle_arg()]));
    let e = err(berth(&["spec", "--bundle", &b.bundle_arg()]));
    assert!(e.contains("exists"), "{e}");
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["process"]["args"][0], "sh");
    cfg["process"]["terminal"] = false.into();
    cfg["process"]["args"] = serde_json::json!(["echo", "spec-ok"]);
    cfg["linux"]["cgroupsPath"] = "/berth-test-lc-spec".into();
    std::fs::write(b.dir.join("config.json"), cfg.to_string()).unwrap();
    let out = berth(&["run", "--bundle", &b.bundle_arg(), b.id()]);
    assert_eq!(stdout(&out), "spec-ok\n", "{}", stderr(&out));
}

#[test]
fn the_init_is_in_the_containers_own_cgroup_in_every_hierarchy() {
    let mut b = Bundle::new("lc-cgroup");
    b.sh("sleep 60");
    b.run_detached();
    let pid = b.state()["pid"].as_i64().unwrap();
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let want = b.cgroup_path();
    for line in cg.lines() {
        assert!(line.ends_with(&want), "{line} (want {want})");
    }
    let dirs = cgroup_left(b.id());
    assert!(!dirs.is_empty());
    ok(berth(&["delete", "--force", b.id()]));
    assert!(cgroup_left(b.id()).is_empty(), "cgroups removed on delete");
}

#[test]
fn run_in_the_foreground_with_a_terminal_proxies_the_pty() {
    let mut b = Bundle::new("lc-tty");
    b.config["process"]["terminal"] = serde_json::json!(true);
    b.sh("tty; echo done");
    let out = b.run();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("/dev/pts/0") && text.contains("done"),
        "{text:?}"
    );
}

#[test]
fn signals_to_a_foreground_run_reach_the_container() {
    let mut b = Bundle::new("lc-fwd");
    b.sh("trap 'exit 42' TERM; echo ready > /dev/shm/r; while true; do usleep 50000; done");
    b.write();
    let mut child = berth_cmd(&["run", "--bundle", &b.bundle_arg(), b.id()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let running = || stdout(&berth(&["state", "lc-fwd"])).contains("\"running\"");
    assert!(eventually(10, running));
    assert!(eventually(10, || berth(&[
        "exec",
        b.id(),
        "cat",
        "/dev/shm/r"
    ])
    .status
    .success()));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(42),
        "the container's trap decided the exit code"
    );
    assert_nothing_left(b.id());
}

#[test]
fn list_and_state_do_not_wait_for_a_slow_create() {
    let mut slow = Bundle::new("lc-slow");
    slow.config["hooks"] =
        serde_json::json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "3"]}]});
    slow.write();
    let mut other = Bundle::new("lc-other");
    other.sh("sleep 60");
    ok(other.create());
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let creator = std::thread::spawn({
        let (bundle, done) = (slow.bundle_arg(), done.clone());
        move || {
            let out = berth(&["create", "--bundle", &bundle, "lc-slow"]);
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            out
        }
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    let listed = ok(berth(&["list", "-q"]));
    assert_eq!(other.status(), "created");
    if done.load(std::sync::atomic::Ordering::SeqCst) {
        let out = creator.join().unwrap();
        panic!(
            "create should still be in its 3 s hook, but it ended ({:?}): {}",
            out.status,
            stderr(&out)
        );
    }
    assert!(listed.contains("lc-other"), "{listed}");
    ok(creator.join().unwrap());
    assert_eq!(slow.status(), "created");
}
