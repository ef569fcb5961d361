//! `spec` (runc's default config.json) and `features`.

use super::{fail, CliError, CliResult};
use berth_core::net::attach;
use berth_core::seccomp;
use serde_json::{json, Value};
use std::path::Path;

pub fn default_spec(rootless: bool) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let mut spec = json!({
        "ociVersion": berth_core::container::OCI_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "ambient": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "berth",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    });
    if rootless {
        make_rootless(&mut spec);
    }
    spec
}

/// runc's `spec --rootless`: a user namespace mapping the caller, no network namespace of its
/// own, /sys bound from the host, and no cgroup resources.
fn make_rootless(spec: &mut Value) {
    let (uid, gid) = caller_ids();
    {
        let linux = &mut spec["linux"];
        if let Some(ns) = linux["namespaces"].as_array_mut() {
            ns.retain(|n| n["type"] != "network");
            ns.push(json!({"type": "user"}));
        }
        linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
        linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
        if let Some(obj) = linux.as_object_mut() {
            obj.remove("resources");
        }
    }
    if let Some(mounts) = spec["mounts"].as_array_mut() {
        mounts.retain(|m| m["destination"] != "/sys/fs/cgroup");
        for m in mounts.iter_mut() {
            if m["destination"] == "/sys" {
                *m = json!({"destination": "/sys", "type": "none", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
            }
            if let Some(opts) = m["options"].as_array_mut() {
                opts.retain(|o| o != "gid=5");
            }
        }
    }
}

/// The caller's uid and gid, from /proc (no libc call needed).
fn caller_ids() -> (u32, u32) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("Uid:"), field("Gid:"))
}

pub fn spec(bundle: &Path, rootless: bool) -> CliResult<()> {
    let path = bundle.join("config.json");
    if path.exists() {
        return fail(format!("{} exists: remove it first", path.display()));
    }
    let text = serde_json::to_string_pretty(&default_spec(rootless))
        .map_err(|e| CliError(e.to_string()))?;
    std::fs::write(&path, text + "\n")
        .map_err(|e| CliError(format!("writing {}: {e}", path.display())))
}

/// What is implemented, and nothing more (runtime-spec features.md).
pub fn features() -> CliResult<()> {
    let f = json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": berth_core::container::OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": [
            "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "lazytime", "loud", "mand",
            "noatime", "nodev", "nodiratime", "noexec", "nolazytime", "nomand", "norelatime", "nostrictatime",
            "nosuid", "nosymfollow", "private", "ratime", "rbind", "rdev", "rdiratime", "relatime", "remount",
            "rexec", "rnoatime", "rnodev", "rnodiratime", "rnoexec", "rnorelatime", "rnostrictatime", "rnosuid",
            "rnosymfollow", "ro", "rprivate", "rrelatime", "rro", "rrw", "rshared", "rslave", "rstrictatime",
            "rsuid", "rsymfollow", "runbindable", "rw", "shared", "silent", "slave", "strictatime", "suid",
            "symfollow", "sync", "unbindable"
        ],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": all_caps(),
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false},
            "seccomp": {
                "enabled": true,
                "actions": seccomp::ACTIONS,
                "operators": seccomp::OPERATORS,
                "archs": seccomp::archs().collect::<Vec<_>>(),
                "knownFlags": seccomp::FLAGS,
                "supportedFlags": seccomp::FLAGS
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": false}},
            "netDevices": {"enabled": false}
        },
        // An engine that passes its users' annotations through must filter these: they
        // attach the container to host networks and publish host ports.
        "potentiallyUnsafeConfigAnnotations": [attach::NETWORK, format!("{}.", attach::NETWORK)],
        "annotations": {
            "org.opencontainers.runtime-spec.features.berth.version": env!("CARGO_PKG_VERSION"),
            "org.opencontainers.runtime-spec.features.berth.cgroup.controllers":
                "cpu,cpuacct,cpuset,memory,pids,io,blkio,hugetlb,devices,freezer,net_cls,net_prio,rdma,unified",
            "org.opencontainers.runtime-spec.features.berth.cgroup.devices.v2": "ebpf"
        }
    });
    let text = serde_json::to_string_pretty(&f).map_err(|e| CliError(e.to_string()))?;
    println!("{text}");
    Ok(())
}

fn all_caps() -> Vec<String> {
    const NAMES: &[&str] = &[
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
    ];
    let last = berth_core::security::caps::last_cap() as usize;
    NAMES
        .iter()
        .take(last + 1)
        .map(|n| format!("CAP_{n}"))
        .collect()
}
