//! The six hooks: order, the state on stdin, failures and timeouts.

use berth_tests::*;
use serde_json::json;
use std::path::Path;

/// A hook script that appends "NAME status pid" to LOG (startContainer first sleeps a second,
/// so a poststart that does not wait for it would show up first), readable at the same path on the host
/// and inside the container (the log directory is bound at its own path).
fn hook_dir(b: &mut Bundle) -> std::path::PathBuf {
    let logs = b.dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let log = logs.join("hooks.log");
    let script = format!(
        "#!/bin/sh\nstate=$(cat)\n[ \"$1\" = startContainer ] && sleep 1\nst=$(echo \"$state\" | grep -o '\"status\":\"[a-z]*\"')\npid=$(echo \"$state\" | grep -o '\"pid\":[0-9]*')\nid=$(echo \"$state\" | grep -o '\"id\":\"[^\"]*\"')\necho \"$1 $st $pid $id\" >> {}\n",
        log.display()
    );
    let hook = logs.join("hook.sh");
    std::fs::write(&hook, script).unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": logs, "source": logs, "options": ["bind", "rw"]}));
    logs
}

fn hook(logs: &Path, name: &str) -> serde_json::Value {
    json!({"path": logs.join("hook.sh"), "args": ["hook.sh", name]})
}

#[test]
fn all_six_hooks_run_in_order_with_the_state() {
    let mut b = Bundle::new("hk-order");
    let logs = hook_dir(&mut b);
    let mut hooks = serde_json::Map::new();
    for name in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        hooks.insert(name.into(), json!([hook(&logs, name)]));
    }
    b.config["hooks"] = serde_json::Value::Object(hooks);
    b.sh("echo ran >> $0.out; true");
    b.run_ok();
    let log = std::fs::read_to_string(logs.join("hooks.log")).unwrap();
    let names: Vec<&str> = log.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        names,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ],
        "{log}"
    );
    for line in log.lines() {
        assert!(
            line.contains("\"id\":\"hk-order\""),
            "state on stdin: {line}"
        );
        let pid: i64 = line
            .split("\"pid\":")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        if line.starts_with("poststop") {
            assert!(line.contains("\"status\":\"stopped\""), "{line}");
        } else {
            assert!(pid > 1, "host pid of the init in {line}");
        }
    }
    assert!(log.lines().nth(4).unwrap().contains("running"), "{log}");
}

#[test]
fn a_failing_create_runtime_hook_fails_create_and_leaves_nothing() {
    let mut b = Bundle::new("hk-fail");
    b.config["hooks"] =
        json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]});
    refused(&b, &["createRuntime[0]", "status 3"]);
}

#[test]
fn a_failing_create_container_hook_is_named() {
    let mut b = Bundle::new("hk-fail-cc");
    b.config["hooks"] = json!({"createContainer": [{"path": "/bin/false"}]});
    refused(&b, &["createContainer[0]", "/bin/false"]);
}

#[test]
fn a_hook_that_runs_too_long_is_killed_at_its_timeout() {
    let mut b = Bundle::new("hk-timeout");
    b.config["hooks"] =
        json!({"prestart": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]});
    let start = std::time::Instant::now();
    let e = err(b.create());
    assert!(e.contains("timed out"), "{e}");
    assert!(
        start.elapsed().as_secs() < 20,
        "the hook was not stopped at its timeout"
    );
    assert_nothing_left(b.id());
}

#[test]
fn a_hook_path_must_be_absolute() {
    let mut b = Bundle::new("hk-relative");
    b.config["hooks"] = json!({"poststart": [{"path": "relative/hook"}]});
    refused(&b, &["hooks.poststart[0]", "absolute"]);
}

#[test]
fn a_failing_start_container_hook_fails_start() {
    let mut b = Bundle::new("hk-fail-sc");
    b.config["hooks"] = json!({"startContainer": [{"path": "/bin/false"}]});
    b.sh("sleep 60");
    ok(b.create());
    let e = err(berth(&["start", b.id()]));
    assert!(e.contains("failed before exec"), "{e}");
    assert!(eventually(5, || b.status() == "stopped"));
}

#[test]
fn a_runtime_hook_may_be_a_proc_exe_link() {
    // libnetwork's prestart hook is `/proc/<dockerd pid>/exe` with argv[0]
    // "libnetwork-setkey": dockerd runs itself. A hook the runtime runs is a host program
    // named by the config's author, exec'd by path as runc does.
    let mut helper = std::process::Command::new("/bin/busybox")
        .args(["sleep", "60"])
        .spawn()
        .unwrap();
    let mut b = Bundle::new("hk-proc-exe");
    let out = b.dir.join("hook.out");
    let exe = format!("/proc/{}/exe", helper.id());
    let script = format!("cat > {}", out.display());
    b.config["hooks"] = json!({
        "prestart": [{"path": exe, "args": ["sh", "-c", script]}],
        "poststop": [{"path": exe, "args": ["sh", "-c", format!("echo stopped >> {}", out.display())]}],
    });
    b.sh("true");
    b.run_ok();
    let _ = helper.kill();
    let _ = helper.wait();
    let got = std::fs::read_to_string(&out).unwrap();
    assert!(
        got.contains(&format!("\"id\":\"{}\"", b.id())),
        "the state reached it: {got}"
    );
    assert!(got.ends_with("stopped\n"), "{got}");
}
