//! Published container escapes, replayed against berth. Each test names its advisory and what
//! a vulnerable runtime did; the README's security section lists them.

use berth_tests::*;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// A new executable file in a test rootfs (the rootfs is hard-linked to a shared template, so
/// files are only ever added, never rewritten).
fn executable(path: &Path, text: &str) {
    let _ = std::fs::remove_file(path);
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The ways an image can make the last exec name /proc/self/exe: as the interpreter of a
/// script, through a symlink, and one script deeper.
fn plant_self_exe(rootfs: &Path) {
    executable(&rootfs.join("bin/evil"), "#!/proc/self/exe\n");
    let _ = std::fs::remove_file(rootfs.join("bin/evil-link"));
    std::os::unix::fs::symlink("/proc/self/exe", rootfs.join("bin/evil-link")).unwrap();
    executable(&rootfs.join("bin/evil-nested"), "#!/bin/evil run\n");
}

/// What a run that was refused for CVE-2019-5736 prints: the refusal, and nothing of the
/// runtime's own command line (the runtime, run inside, would complain about its arguments).
fn assert_refused_5736(out: &std::process::Output) {
    let (o, e) = (stdout(out), stderr(out));
    assert!(!out.status.success(), "ran: {o} {e}");
    assert!(e.contains("CVE-2019-5736"), "{e}");
    assert!(
        !e.contains("Usage") && !o.contains("Usage"),
        "the runtime ran inside: {o} {e}"
    );
}

#[test]
fn cve_2019_5736_the_container_process_cannot_become_the_runtime_binary() {
    // runc < 1.0-rc6: an entrypoint whose `#!` interpreter is /proc/self/exe made the kernel run
    // the host's runc binary as the container process; the container reopened it through
    // /proc/PID/exe and overwrote it once runc exited — root on the host at the next run.
    for (i, prog) in ["/bin/evil", "/bin/evil-link", "/bin/evil-nested"]
        .iter()
        .enumerate()
    {
        let mut b = Bundle::new(&format!("atk-5736-init{i}"));
        plant_self_exe(&b.rootfs());
        b.config["process"]["args"] = json!([prog, "state"]);
        assert_refused_5736(&b.run());
    }
}

#[test]
fn cve_2019_5736_exec_and_hooks_cannot_become_the_runtime_binary() {
    // The same attack through `runc exec` (the admin's `docker exec`), and through a
    // startContainer hook, which runs inside the container.
    let mut b = Bundle::new("atk-5736-exec");
    plant_self_exe(&b.rootfs());
    b.sh("sleep 60");
    b.run_detached();
    for prog in ["/bin/evil", "/bin/evil-link", "/bin/evil-nested"] {
        assert_refused_5736(&berth(&["exec", b.id(), prog, "state"]));
    }
    let mut h = Bundle::new("atk-5736-hook");
    plant_self_exe(&h.rootfs());
    h.sh("echo ran");
    h.config["hooks"] =
        json!({"startContainer": [{"path": "/bin/evil", "args": ["evil", "state"]}]});
    let out = h.run();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("startContainer"), "{}", stderr(&out));
    assert!(!stdout(&out).contains("ran"));
}

#[test]
fn scripts_still_run_with_the_arguments_the_kernel_gives_them() {
    // Berth reads `#!` lines itself; the result must be what execve would have made:
    // interpreter, its one optional argument, the script's path, then args[1..].
    let mut b = Bundle::new("atk-scripts");
    let root = b.rootfs();
    executable(&root.join("bin/show"), "#!/bin/sh -e\necho \"$0|$*\"\n");
    executable(&root.join("bin/outer"), "#!/bin/show  x y \n");
    b.config["process"]["args"] = json!(["show", "a b", "c"]);
    assert_eq!(b.run_ok(), "/bin/show|a b c\n");
    b.config["process"]["args"] = json!(["outer", "z"]);
    assert_eq!(b.run_ok(), "/bin/show|x y /bin/outer z\n");
    b.sh("sleep 60");
    b.run_detached();
    let out = ok(berth(&["exec", b.id(), "/bin/outer", "w"]));
    assert_eq!(out, "/bin/show|x y /bin/outer w\n");
}

#[test]
fn a_profile_that_denies_execveat_still_gets_its_container() {
    // The opened program is exec'd through /proc/self/fd/N when the filter would refuse
    // execveat (a profile written against execve alone).
    let mut b = Bundle::new("atk-no-execveat");
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["execveat"], "action": "SCMP_ACT_ERRNO"}]
    });
    b.sh("echo started");
    assert_eq!(b.run_ok(), "started\n");
}

#[test]
fn cve_2022_29162_and_cve_2022_27650_an_exec_gets_no_inheritable_capabilities() {
    // runc < 1.1.2 and crun < 1.4.4 put the bounding set into the inheritable set, so a
    // program with file capabilities (or an ambient-raising one) gained them on exec, past
    // what the spec granted. An exec'd process must start with none (process.rs checks the
    // init).
    let mut b = Bundle::new("atk-inheritable");
    b.sh("sleep 60");
    b.run_detached();
    let exec = ok(berth(&[
        "exec",
        b.id(),
        "grep",
        "-E",
        "CapInh|CapAmb",
        "/proc/self/status",
    ]));
    for line in exec.lines() {
        assert!(line.ends_with("0000000000000000"), "exec: {line}");
    }
    assert_eq!(exec.lines().count(), 2, "{exec}");
}
