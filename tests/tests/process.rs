//! The process: capabilities, no_new_privs, rlimits, user and groups, umask, oomScoreAdj,
//! cwd, env, personality, scheduler and I/O priority, sysctl.

use berth_tests::*;
use serde_json::json;

fn status_field(status: &str, name: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("{name} missing in\n{status}"))
        .trim()
        .to_string()
}

#[test]
fn capability_sets_are_exactly_the_configured_ones() {
    let mut b = Bundle::new("proc-caps");
    b.config["process"]["capabilities"] = json!({
        "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"],
        "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "inheritable": ["CAP_NET_BIND_SERVICE"],
        "ambient": ["CAP_NET_BIND_SERVICE"]
    });
    b.sh("cat /proc/self/status");
    let st = b.run_ok();
    let kill = 1u64 << 5;
    let nbs = 1u64 << 10;
    let chown = 1u64;
    let hex = |v: u64| format!("{v:016x}");
    assert_eq!(status_field(&st, "CapBnd"), hex(kill | nbs | chown));
    assert_eq!(status_field(&st, "CapEff"), hex(kill | nbs));
    assert_eq!(status_field(&st, "CapPrm"), hex(kill | nbs));
    assert_eq!(status_field(&st, "CapInh"), hex(nbs));
    assert_eq!(status_field(&st, "CapAmb"), hex(nbs));
}

#[test]
fn a_capability_the_runtime_lacks_fails_create_by_name() {
    // `docker run --privileged` asks for every capability; on a host whose bounding set
    // lacks one, runc fails at create. So must berth, saying which, and leave nothing.
    let mut b = Bundle::new("proc-caps-lacking");
    let caps = json!(["CAP_KILL", "CAP_SYS_TIME"]);
    b.config["process"]["capabilities"] =
        json!({"bounding": caps, "effective": caps, "permitted": caps});
    b.sh("true");
    b.write();
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args(["--bounding-set", "-sys_time"])
        .arg(runtime())
        .arg("--root")
        .arg(state_root())
        .args(["create", "--bundle", &b.bundle_arg(), b.id()]);
    let e = err(run_to_files(cmd));
    assert!(
        e.contains("process.capabilities.permitted") && e.contains("CAP_SYS_TIME"),
        "{e}"
    );
    assert_nothing_left(b.id());
}

#[test]
fn the_process_is_named_as_runc_names_it() {
    // /proc/PID/comm is what ps, top and pgrep show: runc's process is named after the path it
    // was exec'd by, not after the file at the end of it. Docker's --init binds the host's
    // docker-init (a link to tini-static) at /sbin/docker-init: runc shows `docker-init`.
    let mut b = Bundle::new("proc-comm");
    let root = b.rootfs();
    let host_init = b.dir.join("tini-static");
    std::fs::copy(root.join("bin/probe"), &host_init).unwrap();
    b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/sbin/docker-init", "source": host_init, "options": ["bind", "ro"]}));
    std::os::unix::fs::symlink("probe", root.join("bin/a-long-name-for-the-probe")).unwrap();
    std::fs::write(root.join("bin/show-name"), "#!/bin/sh\ncat /proc/$$/comm\n").unwrap();
    std::fs::set_permissions(
        root.join("bin/show-name"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    b.sh("cat /proc/$$/comm; readlink /proc/$$/exe; true");
    assert_eq!(
        b.run_ok(),
        "sh\n/bin/busybox\n",
        "the init, and its exe kept"
    );
    b.config["process"]["args"] = json!(["/sbin/docker-init", "comm"]);
    assert_eq!(b.run_ok(), "docker-init\n", "a bound file of another name");
    b.config["process"]["args"] = json!(["show-name"]);
    assert_eq!(b.run_ok(), "show-name\n", "a script is named after itself");
    b.config["process"]["args"] = json!(["a-long-name-for-the-probe", "comm"]);
    assert_eq!(
        b.run_ok(),
        "a-long-name-for\n",
        "cut at 15 bytes, as the kernel cuts"
    );
    b.sh("sleep 60");
    b.run_detached();
    let shown = ok(berth(&[
        "exec",
        b.id(),
        "sh",
        "-c",
        "cat /proc/$$/comm /proc/1/comm; true",
    ]));
    assert_eq!(shown, "sh\nsleep\n", "an exec'd process");
}

#[test]
fn no_inheritable_capabilities_unless_asked() {
    // CVE-2022-29162: nothing may be left in the inheritable set by default.
    let mut b = Bundle::new("proc-inh");
    b.sh("grep -E 'CapInh|CapAmb' /proc/self/status");
    let st = b.run_ok();
    assert_eq!(status_field(&st, "CapInh"), "0000000000000000");
    assert_eq!(status_field(&st, "CapAmb"), "0000000000000000");
}

#[test]
fn no_new_privileges_and_rlimits() {
    let mut b = Bundle::new("proc-nnp");
    b.config["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1000},
        {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}
    ]);
    b.sh("grep NoNewPrivs /proc/self/status; ulimit -n; ulimit -Hn; ulimit -u; ulimit -c");
    let out = b.run_ok();
    assert_eq!(out, "NoNewPrivs:\t1\n512\n1000\n300\n0\n");
}

#[test]
fn rlimit_above_the_hard_limit_is_an_error_naming_it() {
    let mut b = Bundle::new("proc-rlimit-bad");
    b.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}]);
    refused(&b, &["process.rlimits[0]", "soft limit"]);
}

#[test]
fn user_groups_umask_cwd_and_env() {
    let mut b = Bundle::new("proc-user");
    b.config["process"]["user"] =
        json!({"uid": 1000, "gid": 1001, "additionalGids": [2000, 2001], "umask": 0o027});
    b.config["process"]["cwd"] = json!("/work/dir");
    b.config["process"]["env"]
        .as_array_mut()
        .unwrap()
        .push(json!("GREETING=hi there"));
    b.config["root"]["readonly"] = json!(false);
    b.sh("id -u; id -g; id -G; umask; pwd; echo $GREETING; grep CapEff /proc/self/status");
    let out = b.run_ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..6],
        [
            "1000",
            "1001",
            "1001 2000 2001",
            "0027",
            "/work/dir",
            "hi there"
        ],
        "{out}"
    );
    // A non-root user keeps no effective capabilities it was not given.
    assert!(
        lines[6].ends_with("0000000000000420") || lines[6].ends_with("0000000000000000"),
        "{out}"
    );
}

#[test]
fn oom_score_adj_personality_scheduler_and_ioprio() {
    let mut b = Bundle::new("proc-misc");
    b.config["process"]["oomScoreAdj"] = json!(500);
    b.config["linux"]["personality"] = json!({"domain": "LINUX32"});
    b.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 5});
    b.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0});
    b.sh("cat /proc/self/oom_score_adj; uname -m; grep -E '^policy' /proc/self/sched | tr -d ' '; cut -d' ' -f19 /proc/self/stat; ionice");
    let out = b.run_ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "500");
    assert_eq!(lines[1], "i686");
    assert_eq!(lines[2], "policy:3", "SCHED_BATCH is policy 3");
    assert_eq!(lines[3], "5", "nice");
    assert!(lines[4].contains("idle"), "{out}");
}

#[test]
fn sysctl_in_the_containers_own_namespaces() {
    let mut b = Bundle::new("proc-sysctl");
    b.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"});
    b.sh("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni");
    assert_eq!(b.run_ok(), "1\n1234\n");
    let host = std::fs::read_to_string("/proc/sys/kernel/shmmni").unwrap();
    assert_ne!(host.trim(), "1234");
}

#[test]
fn a_sysctl_that_is_not_namespaced_is_refused() {
    let mut b = Bundle::new("proc-sysctl-bad");
    b.config["linux"]["sysctl"] = json!({"vm.swappiness": "10"});
    refused(&b, &["vm.swappiness", "namespaced"]);
}

#[test]
fn masked_paths_are_unreadable_and_readonly_paths_unwritable() {
    let mut b = Bundle::new("proc-mask");
    b.config["linux"]["maskedPaths"]
        .as_array_mut()
        .unwrap()
        .push(json!("/proc/cmdline"));
    b.config["linux"]["maskedPaths"]
        .as_array_mut()
        .unwrap()
        .push(json!("/sys/kernel"));
    b.sh("wc -c < /proc/cmdline; grep -c . /proc/timer_list; ls /sys/kernel | wc -l; \
          echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo sys-writable || echo sys-readonly; \
          echo 1 > /proc/sysrq-trigger 2>/dev/null && echo sysrq-writable || echo sysrq-readonly; \
          touch /new 2>/dev/null && echo root-writable || echo root-readonly");
    let out = b.run_ok();
    assert_eq!(
        out,
        "0\n0\n0\nsys-readonly\nsysrq-readonly\nroot-readonly\n"
    );
}

#[test]
fn exec_lookup_failure_is_reported_at_create() {
    let mut b = Bundle::new("proc-noexec");
    b.config["process"]["args"] = json!(["no-such-program"]);
    refused(&b, &["no-such-program", "not found"]);
}

#[test]
fn preserve_fds_passes_exactly_those_fds() {
    use std::os::unix::process::CommandExt;
    let mut b = Bundle::new("proc-fds");
    b.sh("ls /proc/self/fd | sort -n | tr '\\n' ' '; cat <&3");
    b.write();
    let data = b.dir.join("fd3");
    std::fs::write(&data, "passed-through").unwrap();
    let f = std::fs::File::open(&data).unwrap();
    let raw = std::os::fd::AsRawFd::as_raw_fd(&f);
    let mut cmd = berth_cmd(&[
        "run",
        "--preserve-fds",
        "1",
        "--bundle",
        &b.bundle_arg(),
        b.id(),
    ]);
    unsafe {
        // Through a spare number first: dup2 onto itself would keep O_CLOEXEC.
        cmd.pre_exec(move || {
            let spare = libc::fcntl(raw, libc::F_DUPFD, 100);
            if spare < 0 || libc::dup2(spare, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::close(spare);
            Ok(())
        });
    }
    let out = run_to_files(cmd);
    // 0-2, the preserved 3, and the fd `ls` itself opens to read the directory.
    assert_eq!(ok(out), "0 1 2 3 4 passed-through");
}

#[test]
fn cpu_affinity_and_memory_policy() {
    let mut b = Bundle::new("proc-affinity");
    b.config["process"]["execCPUAffinity"] = json!({"final": "0"});
    b.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0"});
    b.sh("grep Cpus_allowed_list /proc/self/status; grep -m1 bind /proc/self/numa_maps | cut -d' ' -f2");
    assert_eq!(b.run_ok(), "Cpus_allowed_list:\t0\nbind:0\n");
}

#[test]
fn unsupported_fields_are_refused_by_name() {
    let mut b = Bundle::new("proc-unsupported");
    b.config["process"]["apparmorProfile"] = json!("docker-default");
    refused(&b, &["process.apparmorProfile"]);
    let mut b = Bundle::new("proc-unsupported-rdt");
    b.config["linux"]["intelRdt"] = json!({"closID": "berth"});
    refused(&b, &["linux.intelRdt"]);
}

#[test]
fn a_new_session_keyring_unless_no_new_keyring() {
    let keyring_of = |id: &str| {
        std::fs::read_to_string("/proc/keys")
            .unwrap()
            .lines()
            .any(|l| l.contains(&format!(" keyring   {id}:")))
    };
    let mut b = Bundle::new("proc-keyring");
    b.sh("sleep 60");
    ok(b.create());
    assert!(
        keyring_of("proc-keyring"),
        "the init joined a keyring named after the container"
    );
    let mut n = Bundle::new("proc-nokeyring");
    n.sh("sleep 60");
    n.write();
    ok(berth(&[
        "create",
        "--no-new-keyring",
        "--bundle",
        &n.bundle_arg(),
        n.id(),
    ]));
    assert!(!keyring_of("proc-nokeyring"));
}
