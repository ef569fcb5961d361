//! linux.seccomp compiled by berth: each action and operator observed from inside.

use berth_tests::*;
use serde_json::{json, Value};

fn with_profile(name: &str, syscalls: Value, script: &str) -> Bundle {
    let mut b = Bundle::new(name);
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": syscalls
    });
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
    b.sh(script);
    b
}

#[test]
fn errno_actions_with_default_and_custom_errno() {
    let b = with_profile(
        "sc-errno",
        json!([
            {"names": ["mkdir", "mkdirat", "no_such_syscall"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["symlink", "symlinkat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
        ]),
        "mkdir /tmp/d 2>&1; ln -s x /tmp/l 2>&1; touch /tmp/f && echo touch-ok",
    );
    let out = b.run_ok();
    assert!(out.contains("Operation not permitted"), "{out}");
    assert!(out.contains("Function not implemented"), "{out}");
    assert!(out.ends_with("touch-ok\n"), "{out}");
}

#[test]
fn kill_process_and_trap_end_the_process_with_sigsys() {
    let b = with_profile(
        "sc-kill",
        json!([
            {"names": ["setsid"], "action": "SCMP_ACT_KILL_PROCESS"},
            {"names": ["sync"], "action": "SCMP_ACT_TRAP"}
        ]),
        // In a child shell each: busybox runs some applets inside the shell itself.
        "sh -c 'setsid true'; echo setsid=$?; sh -c sync; echo sync=$?; echo after",
    );
    let out = b.run_ok();
    assert!(
        out.contains("setsid=159\n") && out.contains("sync=159\n") && out.ends_with("after\n"),
        "{out}"
    );
}

#[test]
fn argument_filters_with_every_operator() {
    let b = with_profile(
        "sc-args",
        json!([
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 20, "op": "SCMP_CMP_GT"}]},
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 4294967296u64, "op": "SCMP_CMP_GE"}]},
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "args": [{"index": 1, "value": 16, "valueTwo": 16, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["setpgid"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_NE"}, {"index": 1, "value": 100, "op": "SCMP_CMP_LT"}]}
        ]),
        "linux32 true 2>/dev/null && echo p32-ok || echo p32-denied; linux64 true && echo p64-ok; \
         kill -0 1 && echo k0-ok; kill -22 1 2>/dev/null && echo k22-ok || echo k22-denied; \
         kill -0 -1 2>/dev/null && echo neg-ok || echo neg-denied; \
         kill -17 1 2>&1 | grep -q 'not implemented' && echo k17-enosys; kill -15 1 && echo k15-ok",
    );
    let out = b.run_ok();
    for want in [
        "p32-denied",
        "p64-ok",
        "k0-ok",
        "k22-denied",
        "neg-denied",
        "k17-enosys",
        "k15-ok",
    ] {
        assert!(out.lines().any(|l| l == want), "missing {want} in\n{out}");
    }
}

#[test]
fn the_filter_loads_without_no_new_privileges() {
    let mut b = with_profile(
        "sc-nnp",
        json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]),
        "grep -E 'Seccomp:|NoNewPrivs' /proc/self/status; mkdir /tmp/x 2>/dev/null || echo denied",
    );
    b.config["process"]["noNewPrivileges"] = json!(false);
    assert_eq!(b.run_ok(), "NoNewPrivs:\t0\nSeccomp:\t2\ndenied\n");
}

#[test]
fn exec_gets_the_containers_filter() {
    let b = with_profile(
        "sc-exec",
        json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]),
        "sleep 60",
    );
    b.run_detached();
    let out = ok(berth(&[
        "exec",
        b.id(),
        "sh",
        "-c",
        "mkdir /tmp/x 2>/dev/null || echo denied",
    ]));
    assert_eq!(out, "denied\n");
}

#[test]
fn bad_profiles_are_refused_by_name() {
    let mut b = with_profile("sc-bad-arch", json!([]), "true");
    b.config["linux"]["seccomp"]["architectures"] = json!(["SCMP_ARCH_Z80"]);
    refused(&b, &["config.json", "SCMP_ARCH_Z80"]);
    let b = with_profile(
        "sc-bad-action",
        json!([{"names": ["mkdir"], "action": "SCMP_ACT_BOGUS"}]),
        "true",
    );
    refused(&b, &["config.json", "SCMP_ACT_BOGUS"]);
    let b = with_profile(
        "sc-bad-notify",
        json!([{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]),
        "true",
    );
    refused(&b, &["linux.seccomp.syscalls[0]", "NOTIFY"]);
    let b = with_profile(
        "sc-bad-index",
        json!([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]),
        "true",
    );
    refused(&b, &["linux.seccomp.syscalls[0].args[0]", "index"]);
}

/// Each line: a probe and what the kernel answered, so two runtimes can be compared.
const PROBES: &str = "for p in 'ls /' 'sh -c true' 'linux32 true' 'linux64 true' 'unshare -n true' \
    'nsenter -t 1 -n true' 'dmesg' 'date -s 2000-01-01' 'mount -t tmpfs none /mnt' 'sync' 'hostname x'; do \
    out=$($p 2>&1 >/dev/null); echo \"$p => $? ${out##*: }\"; done";

fn docker_like(name: &str) -> Bundle {
    let profile: Value =
        serde_json::from_str(include_str!("../data/seccomp-docker-like.json")).unwrap();
    let mut b = Bundle::new(name);
    b.config["linux"]["seccomp"] = profile;
    b.config["process"]["args"] = json!(["sh", "-c", PROBES]);
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs"}));
    b
}

#[test]
fn a_docker_like_profile_gives_what_runc_gives() {
    let b = docker_like("sc-docker-berth");
    let ours = b.run_ok();
    assert!(
        ours.contains("unshare -n true => 1 Operation not permitted"),
        "{ours}"
    );
    assert!(ours.contains("ls / => 0"), "{ours}");
    assert!(ours.contains("linux32 true => 0"), "{ours}");
    // The same bundle under runc (libseccomp), if this machine has it.
    let Some(runc) = ["/usr/sbin/runc", "/usr/bin/runc"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        panic!("runc is not installed: scripts/setup.sh installs it for this comparison");
    };
    let r = docker_like("sc-docker-runc");
    r.write();
    let root = std::path::PathBuf::from(BASE).join("runc-root");
    let out = run_to_files({
        let mut c = std::process::Command::new(runc);
        c.arg("--root")
            .arg(&root)
            .args(["run", "--bundle", &r.bundle_arg(), "sc-docker-runc"]);
        c.stdin(std::process::Stdio::null());
        c
    });
    let theirs = ok(out);
    assert_eq!(ours, theirs, "berth and runc disagree on the same profile");
}
