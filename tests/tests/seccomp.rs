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

/// KILL (the thread) on a one-thread process ends it with SIGSYS too; TRACE with no tracer
/// attached fails the syscall with ENOSYS, as the kernel documents.
#[test]
fn kill_thread_and_trace_without_a_tracer() {
    let mut b = with_profile(
        "sc-kill-trace",
        json!([
            {"names": ["getppid"], "action": "SCMP_ACT_TRACE"},
            {"names": ["sched_yield"], "action": "SCMP_ACT_KILL"},
            {"names": ["getcpu"], "action": "SCMP_ACT_KILL_THREAD"}
        ]),
        // Syscalls the shell itself never makes: only the probes die.
        "probe 64:110; probe 64:24; echo kill=$?; probe 64:309; echo kill_thread=$?",
    );
    b.config["process"]["noNewPrivileges"] = json!(true);
    assert_eq!(
        b.run_ok(),
        "64:110 => errno 38\nkill=159\nkill_thread=159\n"
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
        "sc-bad-op",
        json!([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ALMOST"}]}]),
        "true",
    );
    refused(&b, &["config.json", "SCMP_CMP_ALMOST"]);
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

/// Raw syscalls through /bin/probe (tests/probe): ABI:NR[:ARGS]. x86_64 numbers first, then
/// i386 (`int 0x80`) and x32. Personality and clone test the profile's argument filters,
/// clone3 and keyctl its per-syscall errno, unshare and mount its denials, 999 its default.
const PROBES: &[&str] = &[
    "64:39",
    "64:135:0",
    "64:135:8",
    "64:135:0x20000",
    "64:135:0xffffffff",
    "64:135:4",
    "64:56:0x11",
    "64:56:0x20011",
    "64:56:0x40000011",
    "64:435",
    "64:272:0x20000",
    "64:250",
    "64:165",
    "64:169",
    "64:999",
    "32:20",
    "32:136:8",
    "32:136:4",
    "32:120:0x11",
    "32:120:0x20011",
    "32:435",
    "32:310:0x20000",
    "32:288",
    "32:21",
    "x32:39",
    "x32:135:4",
    "x32:250",
    "x32:999",
];

fn docker_like(name: &str) -> Bundle {
    let profile: Value =
        serde_json::from_str(include_str!("../data/seccomp-docker-like.json")).unwrap();
    let mut b = Bundle::new(name);
    b.config["linux"]["seccomp"] = profile;
    let mut args = vec!["probe"];
    args.extend(PROBES);
    b.config["process"]["args"] = json!(args);
    b
}

#[test]
fn a_docker_like_profile_gives_what_runc_gives() {
    let b = docker_like("sc-docker-berth");
    let ours = b.run_ok();
    for want in [
        "64:39 => ",
        "64:135:8 => 0",
        "64:135:4 => errno 1",
        "64:56:0x20011 => errno 1",
        "64:435 => errno 38",
        "64:250 => errno 38",
        "32:136:4 => errno 1",
        "32:288 => errno 38",
        "x32:135:4 => errno 1",
    ] {
        assert!(
            ours.lines().any(|l| l.starts_with(want)),
            "no {want:?} in\n{ours}"
        );
    }
    // The same bundle under runc (libseccomp).
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
    // Pids differ; everything else must be the same.
    let strip = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| match l.split_once(" => ") {
                Some((p, r)) if r.parse::<i64>().is_ok_and(|n| n > 1) => format!("{p} => pid"),
                _ => l.to_string(),
            })
            .collect()
    };
    assert_eq!(
        strip(&ours),
        strip(&theirs),
        "berth and runc disagree on the same profile"
    );
}

#[test]
fn the_log_action_lets_the_syscall_through_and_audits_it() {
    let logged = std::fs::read_to_string("/proc/sys/kernel/seccomp/actions_logged").unwrap();
    assert!(
        logged.contains("log"),
        "this kernel is set not to log SCMP_ACT_LOG"
    );
    let mut b = with_profile(
        "sc-log",
        json!([{"names": ["getppid"], "action": "SCMP_ACT_LOG"}]),
        "",
    );
    b.config["process"]["args"] = json!(["probe", "64:110"]);
    let kmsg = Kmsg::open();
    assert_eq!(b.run_ok(), "64:110 => 0\n");
    // No auditd here: the kernel prints the audit record to its log. code is SECCOMP_RET_LOG.
    let found = eventually(5, || {
        kmsg.read_new().iter().any(|l| {
            l.contains("type=1326")
                && l.contains("comm=\"probe\"")
                && l.contains("syscall=110 ")
                && l.contains("code=0x7ffc0000")
        })
    });
    assert!(found, "no audit record of the logged getppid");
}

/// The kernel log from the moment of opening on.
struct Kmsg(std::fs::File);

impl Kmsg {
    fn open() -> Kmsg {
        use std::io::{Seek, SeekFrom};
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")
            .unwrap();
        f.seek(SeekFrom::End(0)).unwrap();
        Kmsg(f)
    }

    fn read_new(&self) -> Vec<String> {
        use std::io::Read;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 8192];
        // One record per read; EAGAIN when there are no more.
        while let Ok(n) = (&self.0).read(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).to_string());
        }
        out
    }
}

#[test]
fn no_c_seccomp_library_is_linked() {
    let out = std::process::Command::new("ldd")
        .arg(runtime())
        .output()
        .unwrap();
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!text.contains("seccomp"), "{text}");
}

/// A seccomp agent on a unix socket: it takes the notify fd of each process that connects,
/// answers getpid with 4242 and mkdir with EACCES, and lets everything else continue.
struct Agent {
    path: std::path::PathBuf,
    states: std::sync::mpsc::Receiver<Value>,
}

impl Agent {
    fn start(b: &Bundle) -> Agent {
        let listener = notify::Listener::start(&b.dir.join("agent.sock"));
        let path = listener.path.clone();
        let (tx, states) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            while let Some((state, fd)) = listener.try_next(60) {
                let _ = tx.send(state);
                std::thread::spawn(move || {
                    notify::serve(fd, |n| match n.nr as i64 {
                        libc::SYS_getpid => notify::Answer::Value(4242),
                        libc::SYS_mkdir => notify::Answer::Errno(libc::EACCES),
                        _ => notify::Answer::Continue,
                    })
                });
            }
        });
        Agent { path, states }
    }

    /// The process state sent with the next fd.
    fn next_state(&self) -> Value {
        self.states
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("no fd reached the agent")
    }
}

fn with_agent(name: &str) -> (Bundle, Agent) {
    let mut b = with_profile(
        name,
        json!([{"names": ["getpid", "mkdir"], "action": "SCMP_ACT_NOTIFY"}]),
        "",
    );
    let agent = Agent::start(&b);
    b.config["linux"]["seccomp"]["listenerPath"] = json!(agent.path);
    b.config["linux"]["seccomp"]["listenerMetadata"] = json!("berth-test-metadata");
    (b, agent)
}

#[test]
fn a_notify_agent_gets_the_fd_and_answers_for_the_container() {
    let (mut b, agent) = with_agent("sc-notify");
    b.config["process"]["args"] = json!(["probe", "64:39", "64:83:0", "64:110"]);
    let out = b.run_ok();
    assert_eq!(out, "64:39 => 4242\n64:83:0 => errno 13\n64:110 => 0\n");
    let st = agent.next_state();
    assert_eq!(st["fds"], json!(["seccompFd"]), "{st}");
    assert_eq!(st["metadata"], "berth-test-metadata", "{st}");
    assert_eq!(st["state"]["id"], b.id(), "{st}");
    assert_eq!(st["state"]["status"], "creating", "{st}");
    assert!(st["pid"].as_i64().unwrap_or(0) > 0, "{st}");
}

#[test]
fn exec_hands_its_own_notify_fd_to_the_agent() {
    let (mut b, agent) = with_agent("sc-notify-exec");
    b.config["process"]["args"] = json!(["sleep", "60"]);
    b.run_detached();
    let init = agent.next_state();
    let out = ok(berth(&["exec", b.id(), "probe", "64:39"]));
    assert_eq!(out, "64:39 => 4242\n");
    let exec = agent.next_state();
    assert_eq!(exec["state"]["status"], "running", "{exec}");
    assert_ne!(
        exec["pid"], init["pid"],
        "the exec'd process has a fd of its own"
    );
}

#[test]
fn notify_profiles_that_cannot_work_are_refused() {
    let (mut b, _agent) = with_agent("sc-notify-bad");
    b.config["linux"]["seccomp"]["defaultAction"] = json!("SCMP_ACT_NOTIFY");
    refused(&b, &["linux.seccomp.defaultAction", "SCMP_ACT_NOTIFY"]);
    let (mut b, _agent) = with_agent("sc-notify-sendmsg");
    b.config["linux"]["seccomp"]["syscalls"][0]["names"] = json!(["sendmsg"]);
    refused(&b, &["linux.seccomp.syscalls[0]", "sendmsg"]);
    // Nobody listening: create fails naming the socket, and leaves nothing behind.
    let (mut b, _agent) = with_agent("sc-notify-gone");
    let gone = b.dir.join("nobody.sock");
    b.config["linux"]["seccomp"]["listenerPath"] = json!(gone);
    refused(&b, &["listenerPath", "nobody.sock", "connect"]);
}

/// berth keeps compiled filters under its root (`@seccomp`, not a container id): the second
/// container with a profile reads the program the first one compiled, and it still holds.
#[test]
fn a_profile_is_compiled_once_and_then_read_from_the_cache() {
    use std::os::unix::fs::MetadataExt;
    let cache = state_root().join("@seccomp");
    let files = || -> Vec<(std::path::PathBuf, u64)> {
        let list = std::fs::read_dir(&cache).into_iter().flatten().flatten();
        list.map(|e| (e.path(), e.metadata().unwrap().ino()))
            .collect()
    };
    // A value of this run makes the profile new to the cache, whatever ran before.
    let unique = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let profile = json!([
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77},
        {"names": ["getpid"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 0, "value": unique, "op": "SCMP_CMP_EQ"}]}
    ]);
    let mut first = with_profile("sc-cache-1", profile.clone(), "");
    first.config["process"]["args"] = json!(["probe", "64:83:0"]);
    assert_eq!(first.run_ok(), "64:83:0 => errno 77\n");
    // Other tests fill the cache meanwhile: this profile's file is the one holding its key.
    let ours = || -> Vec<(std::path::PathBuf, u64)> {
        let needle = unique.to_string();
        files()
            .into_iter()
            .filter(|(p, _)| {
                let bytes = std::fs::read(p).unwrap_or_default();
                String::from_utf8_lossy(&bytes).contains(&needle)
            })
            .collect()
    };
    let new = ours();
    assert_eq!(
        new.len(),
        1,
        "one cached program for the new profile: {new:?}"
    );
    let mut second = with_profile("sc-cache-2", profile, "");
    second.config["process"]["args"] = json!(["probe", "64:83:0"]);
    assert_eq!(second.run_ok(), "64:83:0 => errno 77\n");
    assert_eq!(ours(), new, "the cached file was rewritten instead of read");
}

/// With noNewPrivileges the filter loads last: a profile that denies the very calls the
/// runtime makes to drop privileges (and umask, signal resets) still gets a container, whose
/// process is then denied them.
#[test]
fn the_filter_does_not_block_the_runtimes_last_steps() {
    let denied = [
        "setgroups",
        "setresuid",
        "setresgid",
        "capset",
        "prctl",
        "umask",
        "rt_sigaction",
        "rt_sigprocmask",
        "close_range",
    ];
    let mut b = with_profile(
        "sc-last-steps",
        json!([{"names": denied, "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]),
        "",
    );
    b.config["process"]["noNewPrivileges"] = json!(true);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [5]});
    // prctl(PR_GET_DUMPABLE) and umask(022), from the container's process.
    b.config["process"]["args"] = json!(["probe", "64:157:3", "64:95:18"]);
    assert_eq!(b.run_ok(), "64:157:3 => errno 13\n64:95:18 => errno 13\n");
}
