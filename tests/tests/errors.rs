//! Bad input: each gets a clear error naming what is wrong, a non-zero exit, and leaves no
//! state directory, cgroup, mount or process behind.

use berth_tests::*;
use serde_json::json;

#[test]
fn missing_bundle() {
    let out = berth(&[
        "create",
        "--bundle",
        "/tmp/berth-tests/no-such-bundle",
        "err-nobundle",
    ]);
    let e = err(out);
    assert!(
        e.contains("no-such-bundle") && e.contains("No such file"),
        "{e}"
    );
    assert_nothing_left("err-nobundle");
}

#[test]
fn malformed_config_json() {
    let b = Bundle::new("err-json");
    b.write();
    std::fs::write(
        b.dir.join("config.json"),
        "{\"ociVersion\": \"1.2.0\", \"process\": {",
    )
    .unwrap();
    let e = err(berth(&["create", "--bundle", &b.bundle_arg(), b.id()]));
    assert!(e.contains("config.json") && e.contains("line 1"), "{e}");
    assert_nothing_left(b.id());
}

#[test]
fn unknown_namespace_type() {
    let mut b = Bundle::new("err-ns");
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "bogus"}));
    refused(&b, &["config.json", "bogus"]);
}

#[test]
fn mount_destination_escaping_through_a_symlink() {
    let mut b = Bundle::new("err-symlink");
    let victim = b.dir.join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    std::os::unix::fs::symlink(
        "../../../../../../../../tmp/berth-tests/err-symlink/victim",
        b.rootfs().join("evil"),
    )
    .unwrap();
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/evil", "type": "tmpfs", "source": "tmpfs"}));
    refused(&b, &["mounts[7]", "/evil", "escapes"]);
    assert!(std::fs::read_dir(&victim).unwrap().next().is_none());
}

#[test]
fn an_absolute_symlink_stays_inside_the_rootfs() {
    // An image's absolute symlink means a path inside the image: the mount must land there,
    // never on the host path of the same name.
    let mut b = Bundle::new("err-abs-symlink");
    let host_dir = b.dir.join("host-target");
    std::fs::create_dir_all(&host_dir).unwrap();
    std::os::unix::fs::symlink(&host_dir, b.rootfs().join("link")).unwrap();
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/link", "type": "tmpfs", "source": "tmpfs"}));
    b.config["root"]["readonly"] = json!(false);
    b.sh(
        "touch /link/made-inside && ls -d /tmp/berth-tests/err-abs-symlink/host-target/made-inside",
    );
    let out = b.run_ok();
    assert!(out.contains("made-inside"));
    assert!(
        !host_dir.join("made-inside").exists(),
        "the mount escaped to the host"
    );
    let inner = b.rootfs().join(host_dir.strip_prefix("/").unwrap());
    assert!(inner.is_dir(), "the target was created inside the rootfs");
}

#[test]
fn mount_destination_with_dot_dot() {
    let mut b = Bundle::new("err-dotdot");
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/tmp/../../etc", "type": "tmpfs", "source": "tmpfs"}));
    refused(&b, &["mounts[7]", ".."]);
}

#[test]
fn unknown_filesystem_type_fails_at_the_mount_and_cleans_up() {
    let mut b = Bundle::new("err-fstype");
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/x", "type": "nosuchfs", "source": "none"}));
    refused(&b, &["/x", "fsopen", "nosuchfs", "ENODEV"]);
}

#[test]
fn a_bad_filesystem_option_is_named() {
    let mut b = Bundle::new("err-fsopt");
    b.config["mounts"].as_array_mut().unwrap().push(
        json!({"destination": "/x", "type": "tmpfs", "source": "tmpfs", "options": ["size=lots"]}),
    );
    refused(&b, &["/x", "size=lots", "EINVAL"]);
}

#[test]
fn duplicate_id() {
    let mut b = Bundle::new("err-dup");
    b.sh("sleep 60");
    ok(b.create());
    let e = err(b.create());
    assert!(e.contains("already exists"), "{e}");
    assert_eq!(b.status(), "created", "the first container is untouched");
}

#[test]
fn bad_ids_and_missing_containers() {
    let b = Bundle::new("err-id");
    b.write();
    let e = err(berth(&["create", "--bundle", &b.bundle_arg(), "../escape"]));
    assert!(e.contains("invalid container id"), "{e}");
    let e = err(berth(&["start", "no-such-container"]));
    assert!(e.contains("does not exist"), "{e}");
    ok(berth(&["delete", "--force", "no-such-container"]));
}

#[test]
fn missing_rootfs_and_relative_cwd() {
    let mut b = Bundle::new("err-rootfs");
    b.config["root"]["path"] = json!("nope");
    refused(&b, &["root.path", "nope"]);
    let mut b = Bundle::new("err-cwd");
    b.config["process"]["cwd"] = json!("relative");
    refused(&b, &["process.cwd", "relative"]);
}

#[test]
fn user_namespace_without_mappings() {
    let mut b = Bundle::new("err-userns");
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    refused(&b, &["uidMappings"]);
}

#[test]
fn cgroups_path_for_systemd_is_refused_clearly() {
    let mut b = Bundle::new("err-systemd");
    b.config["linux"]["cgroupsPath"] = json!("system.slice:berth:err-systemd");
    refused(&b, &["cgroupsPath", "systemd"]);
}

#[test]
fn device_outside_dev_is_refused() {
    let mut b = Bundle::new("err-device");
    b.config["linux"]["devices"] =
        json!([{"path": "/etc/evil", "type": "c", "major": 1, "minor": 3}]);
    refused(&b, &["linux.devices[0]", "/dev"]);
}

#[test]
fn errors_go_to_the_json_log() {
    let log = std::path::PathBuf::from(BASE).join("err-log.json");
    let _ = std::fs::remove_file(&log);
    let out = run_to_files({
        let mut c = std::process::Command::new(runtime());
        c.args([
            "--root",
            state_root().to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
            "--log-format=json",
            "start",
            "err-log-missing",
        ]);
        c
    });
    assert!(!out.status.success());
    let line = std::fs::read_to_string(&log).unwrap();
    let v: serde_json::Value = serde_json::from_str(line.lines().last().unwrap()).unwrap();
    assert_eq!(v["level"], "error");
    assert!(v["msg"].as_str().unwrap().contains("does not exist"));
    assert!(v["time"].as_str().unwrap().ends_with('Z'));
    let _ = std::fs::remove_file(&log);
}

#[test]
fn proc_over_a_symlink_is_refused() {
    // The shape of CVE-2019-16884: an image makes /proc a symlink so procfs lands elsewhere
    // and the masked paths miss it.
    let mut b = Bundle::new("err-proc-link");
    let root = b.rootfs();
    std::fs::remove_dir(root.join("proc")).unwrap();
    std::fs::create_dir_all(root.join("fakeproc")).unwrap();
    std::os::unix::fs::symlink("/fakeproc", root.join("proc")).unwrap();
    refused(&b, &["mounts[0]", "proc", "real directory"]);
    let _ = &mut b;
}

#[test]
fn a_namespace_path_that_is_not_a_namespace_is_refused_without_opening_it() {
    // A FIFO would block a plain open for ever; a device would act on being opened.
    let mut b = Bundle::new("err-ns-fifo");
    let fifo = b.dir.join("not-a-namespace");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    for ns in b.config["linux"]["namespaces"].as_array_mut().unwrap() {
        if ns["type"] == "network" {
            ns["path"] = serde_json::json!(fifo);
        }
    }
    refused(
        &b,
        &[
            "linux.namespaces",
            "not-a-namespace",
            "not a namespace file",
        ],
    );
}
