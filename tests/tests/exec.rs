//! exec into a running container: same namespaces and cgroup, its own env, cwd and user.

use berth_tests::*;
use serde_json::json;

fn running(name: &str) -> Bundle {
    let mut b = Bundle::new(name);
    b.sh("echo $$ > /dev/shm/init-pid; sleep 60");
    b.run_detached();
    b
}

#[test]
fn exec_joins_the_containers_namespaces_and_cgroup() {
    let b = running("ex-join");
    let out = ok(berth(&[
        "exec",
        b.id(),
        "sh",
        "-c",
        "cat /dev/shm/init-pid; echo $$; hostname; cat /proc/self/cgroup",
    ]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1", "sees the container's /dev/shm");
    assert_ne!(lines[1], "1");
    assert_eq!(lines[2], "berth");
    assert!(
        lines[3..].iter().all(|l| l.ends_with(":/")),
        "inside the container's cgroup: {out}"
    );
    let pids: serde_json::Value =
        serde_json::from_str(&ok(berth(&["ps", "--format", "json", b.id()]))).unwrap();
    assert_eq!(
        pids.as_array().unwrap().len(),
        1,
        "the exec'd process has exited"
    );
}

#[test]
fn exec_exit_code_env_cwd_and_user() {
    let b = running("ex-opts");
    let out = berth(&[
        "exec",
        "--env",
        "X=42",
        "--cwd",
        "/tmp",
        "--user",
        "1000:1000",
        b.id(),
        "sh",
        "-c",
        "echo $X; pwd; id -u; exit 5",
    ]);
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(stdout(&out), "42\n/tmp\n1000\n");
}

#[test]
fn exec_detached_with_pid_file_and_process_json() {
    let b = running("ex-detach");
    let pid_file = b.dir.join("exec.pid");
    ok(berth(&[
        "exec",
        "-d",
        "--pid-file",
        pid_file.to_str().unwrap(),
        b.id(),
        "sleep",
        "30",
    ]));
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(cmd.starts_with(b"sleep"));
    let process = json!({
        "terminal": false, "user": {"uid": 0, "gid": 0}, "cwd": "/",
        "args": ["sh", "-c", "echo from-process-json; grep CapEff /proc/self/status"],
        "env": ["PATH=/bin"],
        "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}
    });
    let f = b.dir.join("process.json");
    std::fs::write(&f, process.to_string()).unwrap();
    let out = ok(berth(&["exec", "--process", f.to_str().unwrap(), b.id()]));
    assert_eq!(out, "from-process-json\nCapEff:\t0000000000000020\n");
}

#[test]
fn exec_with_cap_adds_to_the_sets() {
    let b = running("ex-cap");
    let out = ok(berth(&[
        "exec",
        "--cap",
        "CAP_SYS_ADMIN",
        b.id(),
        "grep",
        "CapEff",
        "/proc/self/status",
    ]));
    let eff = u64::from_str_radix(out.split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert_ne!(eff & (1 << 21), 0, "CAP_SYS_ADMIN added: {out}");
}

#[test]
fn exec_into_a_stopped_or_paused_container_is_refused() {
    let b = running("ex-refused");
    ok(berth(&["pause", b.id()]));
    let e = err(berth(&["exec", b.id(), "true"]));
    assert!(e.contains("paused"), "{e}");
    ok(berth(&["resume", b.id()]));
    ok(berth(&["kill", b.id(), "KILL"]));
    assert!(eventually(5, || b.status() == "stopped"));
    let e = err(berth(&["exec", b.id(), "true"]));
    assert!(e.contains("stopped"), "{e}");
    let e = err(berth(&["exec", "no-such-container", "true"]));
    assert!(e.contains("does not exist"), "{e}");
}

#[test]
fn exec_of_a_missing_program_is_an_error() {
    let b = running("ex-missing");
    let e = err(berth(&["exec", b.id(), "no-such-binary"]));
    assert!(
        e.contains("no-such-binary") && e.contains("not found"),
        "{e}"
    );
}
