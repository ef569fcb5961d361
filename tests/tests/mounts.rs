//! The mounts bundles use, seen from inside through /proc/self/mountinfo and by writing.

use berth_tests::*;
use serde_json::json;

/// The mountinfo line for `dest` as the container sees it.
fn mount_line<'a>(mountinfo: &'a str, dest: &str) -> &'a str {
    mountinfo
        .lines()
        .rfind(|l| l.split(' ').nth(4) == Some(dest))
        .unwrap_or_else(|| panic!("{dest} is not mounted:\n{mountinfo}"))
}

#[test]
fn default_mounts_are_there_with_their_types_and_options() {
    let mut b = Bundle::new("mnt-default");
    b.sh("cat /proc/self/mountinfo");
    let mi = b.run_ok();
    for (dest, fstype) in [
        ("/proc", "proc"),
        ("/dev", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
        ("/dev/mqueue", "mqueue"),
        ("/sys", "sysfs"),
    ] {
        let line = mount_line(&mi, dest);
        assert!(line.contains(&format!(" - {fstype} ")), "{dest}: {line}");
    }
    assert!(
        mount_line(&mi, "/sys")
            .split(' ')
            .nth(5)
            .unwrap()
            .starts_with("ro"),
        "sysfs must be ro"
    );
    assert!(mount_line(&mi, "/dev/shm").contains("nosuid,nodev,noexec"));
    assert!(mount_line(&mi, "/dev").contains("mode=755"));
    // root.readonly
    assert!(mount_line(&mi, "/")
        .split(' ')
        .nth(5)
        .unwrap()
        .starts_with("ro"));
    // cgroup v1 hierarchies (or cgroup2) under /sys/fs/cgroup, read-only
    assert!(mi.contains("/sys/fs/cgroup"), "{mi}");
}

#[test]
fn the_container_sees_its_own_cgroup_as_root() {
    let mut b = Bundle::new("mnt-cgroup");
    b.sh("cat /proc/self/cgroup; ls /sys/fs/cgroup");
    let out = b.run_ok();
    for line in out.lines().filter(|l| l.contains(':')) {
        assert!(
            line.ends_with(":/"),
            "cgroup namespace root should be the container's cgroup: {line}"
        );
    }
}

#[test]
fn bind_mounts_ro_and_rw() {
    let mut b = Bundle::new("mnt-bind");
    let host = b.dir.join("shared");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("in"), "from-host").unwrap();
    let ro = b.dir.join("ro");
    std::fs::create_dir_all(&ro).unwrap();
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(
        json!({"destination": "/data", "type": "bind", "source": host, "options": ["rbind", "rw"]}),
    );
    mounts.push(
        json!({"destination": "/ro", "type": "none", "source": ro, "options": ["bind", "ro"]}),
    );
    b.sh("cat /data/in; echo; echo from-container > /data/out; touch /ro/x 2>/dev/null && echo ro-writable || echo ro-refused");
    assert_eq!(b.run_ok(), "from-host\nro-refused\n");
    assert_eq!(
        std::fs::read_to_string(host.join("out")).unwrap(),
        "from-container\n"
    );
}

#[test]
fn a_file_bind_mount_creates_a_file_target() {
    let mut b = Bundle::new("mnt-file");
    let f = b.dir.join("hosts");
    std::fs::write(&f, "127.0.0.1 berth-test\n").unwrap();
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/etc/hosts", "source": "hosts", "options": ["bind", "ro"]}));
    b.config["root"]["readonly"] = json!(false);
    b.sh("cat /etc/hosts");
    assert_eq!(b.run_ok(), "127.0.0.1 berth-test\n");
}

#[test]
fn recursive_read_only_reaches_submounts() {
    let mut b = Bundle::new("mnt-rro");
    let src = b.dir.join("outer");
    std::fs::create_dir_all(src.join("inner")).unwrap();
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": "/outer", "source": src, "options": ["rbind", "rw"]}));
    mounts.push(
        json!({"destination": "/outer/inner", "type": "tmpfs", "source": "tmpfs", "options": []}),
    );
    mounts.push(json!({"destination": "/view", "source": "/tmp/berth-tests/mnt-rro/outer", "options": ["rbind", "rro"]}));
    b.sh("touch /outer/inner/a && echo tmpfs-rw; touch /view/inner/b 2>/dev/null && echo view-writable || echo view-refused");
    // /view binds the same host directory recursively read-only: writes through it fail
    // even where /outer is writable.
    let out = b.run_ok();
    assert!(
        out.contains("tmpfs-rw") && out.contains("view-refused"),
        "{out}"
    );
}

#[test]
fn tmpfs_options_and_propagation_flags() {
    let mut b = Bundle::new("mnt-tmpfs");
    b.config["mounts"].as_array_mut().unwrap().push(json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1700", "size=1m", "rprivate"]}));
    b.config["linux"]["rootfsPropagation"] = json!("rslave");
    b.sh("stat -c %a /scratch; grep ' /scratch ' /proc/self/mountinfo; dd if=/dev/zero of=/scratch/big bs=1k count=2048 2>&1; true");
    let out = b.run_ok();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("1700"));
    let mi = lines.next().unwrap();
    assert!(
        mi.contains("nosuid,nodev") && mi.contains("size=1024k"),
        "{mi}"
    );
    assert!(
        !mi.contains("shared:") && !mi.contains("master:"),
        "rprivate: {mi}"
    );
    assert!(out.contains("No space left"), "size=1m enforced: {out}");
}

#[test]
fn overlay_writes_land_in_the_upper_layer_only() {
    let mut b = Bundle::new("mnt-overlay");
    let (lower1, lower2, upper, work) = (
        b.dir.join("l1"),
        b.dir.join("l2"),
        b.dir.join("upper"),
        b.dir.join("work"),
    );
    for d in [&lower1, &lower2, &upper, &work] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(lower1.join("a"), "lower1-a").unwrap();
    std::fs::write(lower2.join("a"), "lower2-a").unwrap();
    std::fs::write(lower2.join("b"), "lower2-b").unwrap();
    let data = format!(
        "lowerdir={}:{},upperdir={},workdir={}",
        lower1.display(),
        lower2.display(),
        upper.display(),
        work.display()
    );
    b.config["mounts"].as_array_mut().unwrap().push(json!({"destination": "/layers", "type": "overlay", "source": "overlay", "options": data.split(',').collect::<Vec<_>>()}));
    b.sh("cat /layers/a /layers/b; echo new > /layers/c; echo changed > /layers/b; rm /layers/a; ls /layers");
    let out = b.run_ok();
    assert_eq!(out, "lower1-alower2-bb\nc\n");
    assert_eq!(std::fs::read_to_string(upper.join("c")).unwrap(), "new\n");
    assert_eq!(
        std::fs::read_to_string(upper.join("b")).unwrap(),
        "changed\n"
    );
    assert_eq!(
        std::fs::read_to_string(lower2.join("b")).unwrap(),
        "lower2-b",
        "lower layer changed"
    );
    assert_eq!(
        std::fs::read_to_string(lower1.join("a")).unwrap(),
        "lower1-a",
        "lower layer changed"
    );
    assert!(!lower1.join("c").exists() && !lower2.join("c").exists());
}

#[test]
fn overlay_as_the_rootfs_itself() {
    // An image: two read-only layers and a copy-on-write upper, mounted over the rootfs path.
    let mut b = Bundle::new("mnt-overlay-root");
    let (layer2, upper, work) = (
        b.dir.join("layer2"),
        b.dir.join("upper"),
        b.dir.join("work"),
    );
    for d in [&layer2, &upper, &work] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(layer2.join("etc-motd"), "from layer 2").unwrap();
    let data = format!(
        "lowerdir={}:{},upperdir={},workdir={}",
        layer2.display(),
        b.rootfs().display(),
        upper.display(),
        work.display()
    );
    b.config["mounts"].as_array_mut().unwrap().insert(0, json!({"destination": "/", "type": "overlay", "source": "overlay", "options": data.split(',').collect::<Vec<_>>()}));
    b.config["root"]["readonly"] = json!(false);
    b.sh("cat /etc-motd; echo; echo cow > /written; ls /bin/busybox");
    assert_eq!(b.run_ok(), "from layer 2\n/bin/busybox\n");
    assert_eq!(
        std::fs::read_to_string(upper.join("written")).unwrap(),
        "cow\n"
    );
    assert!(!b.rootfs().join("written").exists());
}

#[test]
fn default_devices_and_links() {
    let mut b = Bundle::new("mnt-dev");
    b.sh("for d in null zero full random urandom tty; do stat -c '%n %t:%T %a' /dev/$d; done; for l in fd stdin ptmx; do readlink /dev/$l; done; echo x > /dev/null && head -c 3 /dev/zero | wc -c");
    let out = b.run_ok();
    for want in [
        "/dev/null 1:3 666",
        "/dev/zero 1:5 666",
        "/dev/full 1:7 666",
        "/dev/random 1:8 666",
        "/dev/urandom 1:9 666",
        "/dev/tty 5:0 666",
        "/proc/self/fd\n",
        "/proc/self/fd/0\n",
        "pts/ptmx\n",
        "3\n",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
}

#[test]
fn linux_devices_are_created_with_mode_and_owner() {
    let mut b = Bundle::new("mnt-devices");
    b.config["linux"]["devices"] = json!([
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o640, "uid": 1000, "gid": 1001},
        {"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200}
    ]);
    b.sh("stat -c '%n %t:%T %a %u:%g' /dev/fuse /dev/net/tun");
    let out = b.run_ok();
    assert!(out.contains("/dev/fuse a:e5 640 1000:1001"), "{out}");
    assert!(out.contains("/dev/net/tun a:c8 666 0:0"), "{out}");
    let host = std::fs::metadata("/dev/null").unwrap();
    assert_eq!(
        std::os::unix::fs::MetadataExt::mode(&host) & 0o7777,
        0o666,
        "host /dev/null changed"
    );
}

#[test]
fn rootfs_propagation_shared_is_applied_after_pivot() {
    let mut b = Bundle::new("mnt-shared");
    b.config["linux"]["rootfsPropagation"] = json!("rshared");
    b.sh("awk '$5 == \"/\"' /proc/self/mountinfo");
    let line = b.run_ok();
    assert!(line.contains("shared:"), "{line}");
}

#[test]
fn no_pivot_still_confines_the_process_to_the_rootfs() {
    let mut b = Bundle::new("mnt-nopivot");
    b.sh("ls /; test -e /tmp/berth-tests && echo host-visible || echo confined");
    b.write();
    let out = ok(berth(&[
        "run",
        "--no-pivot",
        "--bundle",
        &b.bundle_arg(),
        b.id(),
    ]));
    assert!(out.contains("bin") && out.ends_with("confined\n"), "{out}");
}
