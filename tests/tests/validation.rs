//! Everything a crafted bundle controls is checked before anything is made: each case below
//! must be refused with the field named, and leave no state, cgroup or process behind.
//! (Accepted on purpose, as runtime-spec and runc do: a relative mount destination, which
//! means relative to "/", and options a bind mount has no use for.)

use berth_tests::*;
use serde_json::{json, Value};

/// One bad bundle: what to change in the default config, and what the error must mention.
struct Case {
    name: &'static str,
    edit: fn(&mut Value),
    needles: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "mount-nul",
        edit: |c| c["mounts"][1]["destination"] = json!("/dev\u{0}x"),
        needles: &["mounts[1]", "NUL"],
    },
    Case {
        name: "mount-source-nul",
        edit: |c| {
            let m = json!({"destination": "/x", "type": "bind", "source": "/tmp\u{0}", "options": ["bind"]});
            c["mounts"].as_array_mut().unwrap().push(m);
        },
        needles: &["mounts[", "source"],
    },
    Case {
        name: "masked-relative",
        edit: |c| c["linux"]["maskedPaths"] = json!(["proc/kcore"]),
        needles: &["linux.maskedPaths[0]", "absolute"],
    },
    Case {
        name: "hook-relative",
        edit: |c| c["hooks"] = json!({"prestart": [{"path": "true"}]}),
        needles: &["hooks.prestart[0]", "absolute"],
    },
    Case {
        name: "hook-missing",
        edit: |c| c["hooks"] = json!({"createRuntime": [{"path": "/no/such/hook"}]}),
        needles: &["hooks.createRuntime[0]", "/no/such/hook"],
    },
    Case {
        name: "hook-timeout",
        edit: |c| c["hooks"] = json!({"poststart": [{"path": "/bin/true", "timeout": 0}]}),
        needles: &["hooks.poststart[0]", "timeout"],
    },
    Case {
        name: "sysctl-dotdot",
        edit: |c| c["linux"]["sysctl"] = json!({"net/../../kernel/core_pattern": "|/x"}),
        needles: &["linux.sysctl", "sysctl name"],
    },
    Case {
        name: "sysctl-host",
        edit: |c| c["linux"]["sysctl"] = json!({"kernel.core_pattern": "|/x"}),
        needles: &["linux.sysctl", "host"],
    },
    Case {
        name: "device-major",
        edit: |c| {
            c["linux"]["devices"] =
                json!([{"path": "/dev/x", "type": "c", "major": 4096, "minor": 1}])
        },
        needles: &["linux.devices[0]", "out of range"],
    },
    Case {
        name: "device-outside",
        edit: |c| {
            c["linux"]["devices"] = json!([{"path": "/etc/x", "type": "c", "major": 1, "minor": 3}])
        },
        needles: &["linux.devices[0]", "/dev"],
    },
    Case {
        name: "device-dotdot",
        edit: |c| {
            c["linux"]["devices"] =
                json!([{"path": "/dev/../etc/x", "type": "c", "major": 1, "minor": 3}])
        },
        needles: &["linux.devices[0]", ".."],
    },
    Case {
        name: "rlimit-soft",
        edit: |c| {
            c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}])
        },
        needles: &["process.rlimits[0]", "soft"],
    },
    Case {
        name: "rlimit-twice",
        edit: |c| {
            c["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 10, "hard": 10},
            {"type": "RLIMIT_NOFILE", "soft": 20, "hard": 20}])
        },
        needles: &["process.rlimits[1]", "RLIMIT_NOFILE"],
    },
    Case {
        name: "uid-minus-one",
        edit: |c| c["process"]["user"]["uid"] = json!(4294967295u32),
        needles: &["process.user.uid", "4294967295"],
    },
    Case {
        name: "gid-minus-one",
        edit: |c| c["process"]["user"]["gid"] = json!(4294967295u32),
        needles: &["process.user.gid", "4294967295"],
    },
    Case {
        name: "extra-gid-minus-one",
        edit: |c| c["process"]["user"]["additionalGids"] = json!([4294967295u32]),
        needles: &["process.user.additionalGids", "4294967295"],
    },
    Case {
        name: "uidmap-overflow",
        edit: |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "user"}));
            c["linux"]["uidMappings"] =
                json!([{"containerID": 0, "hostID": 4294967000u32, "size": 65536}]);
            c["linux"]["gidMappings"] =
                json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        },
        needles: &["linux.uidMappings[0]", "past the last id"],
    },
    Case {
        name: "uidmap-overlap",
        edit: |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "user"}));
            c["linux"]["uidMappings"] = json!([
                {"containerID": 0, "hostID": 200000, "size": 100},
                {"containerID": 50, "hostID": 300000, "size": 100}]);
            c["linux"]["gidMappings"] =
                json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        },
        needles: &["linux.uidMappings[1]", "overlap"],
    },
    Case {
        name: "uidmap-empty",
        edit: |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "user"}));
            c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 0}]);
            c["linux"]["gidMappings"] =
                json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        },
        needles: &["linux.uidMappings[0]", "size"],
    },
    Case {
        name: "cgroups-path-dotdot",
        edit: |c| c["linux"]["cgroupsPath"] = json!("/berth-test-x/../../memory/escape"),
        needles: &["linux.cgroupsPath", ".."],
    },
    Case {
        name: "oom-score",
        edit: |c| c["process"]["oomScoreAdj"] = json!(1001),
        needles: &["process.oomScoreAdj", "1001"],
    },
    Case {
        name: "args-empty",
        edit: |c| c["process"]["args"] = json!([]),
        needles: &["process.args"],
    },
    Case {
        name: "env-nul",
        edit: |c| c["process"]["env"] = json!(["A=b\u{0}c"]),
        needles: &["process.env", "NUL"],
    },
    Case {
        name: "hostname-long",
        edit: |c| c["hostname"] = json!("h".repeat(65)),
        needles: &["hostname", "64"],
    },
    Case {
        name: "cwd-relative",
        edit: |c| c["process"]["cwd"] = json!("tmp"),
        needles: &["process.cwd", "absolute"],
    },
];

#[test]
fn every_crafted_field_is_refused_by_name_before_anything_is_made() {
    let mut failures = Vec::new();
    for case in CASES {
        let mut b = Bundle::new(&format!("val-{}", case.name));
        (case.edit)(&mut b.config);
        let out = b.create();
        let e = stderr(&out);
        let named = case.needles.iter().all(|n| e.contains(n));
        if out.status.success() || !named || e.trim().lines().count() != 1 {
            failures.push(format!("{}: {}", case.name, e.trim()));
        }
        let _ = berth(&["delete", "--force", b.id()]);
        if out.status.success() {
            continue;
        }
        assert_nothing_left(b.id());
    }
    assert!(
        failures.is_empty(),
        "not refused as expected:\n{}",
        failures.join("\n")
    );
}
