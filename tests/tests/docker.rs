//! Docker (Debian's docker.io 20.10) on berth: the workflows Docker's users run every day,
//! each done with Docker's own runc and then with berth (`--runtime`), on a private dockerd the
//! test starts and takes down again (tests/src/docker.rs). A case that fails on runc is a
//! broken test, not a pass: runc goes first.

use berth_tests::docker::{Docker, CLIENT, IMAGE, RUNTIMES};
use berth_tests::eventually;
use std::process::{Command, Output};

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn errtext(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// `docker run -d --name NAME` on runtime `rt`.
fn detached(d: &Docker, rt: &str, name: &str, flags: &[&str], args: &[&str]) {
    let mut all = vec!["-d", "--name", name];
    all.extend(flags);
    let o = d.run(rt, &all, args);
    assert!(o.status.success(), "{rt}: run -d {name}: {}", errtext(&o));
}

/// A cgroup file as the container sees it, on cgroup v1 (`/sys/fs/cgroup/CTRL/FILE`) or v2.
fn cg(v1: &str, v2: &str) -> String {
    format!(
        "$( [ -e /sys/fs/cgroup/{v1} ] && echo /sys/fs/cgroup/{v1} || echo /sys/fs/cgroup/{v2} )"
    )
}

#[test]
fn run_exit_codes_output_and_a_terminal() {
    let d = Docker::start("run");
    for rt in RUNTIMES {
        let o = d.run(
            rt,
            &["--rm"],
            &["sh", "-c", "echo out; echo err >&2; exit 3"],
        );
        assert_eq!(o.status.code(), Some(3), "{rt}: {}", errtext(&o));
        assert_eq!(out(&o), "out\n", "{rt}");
        assert!(errtext(&o).contains("err"), "{rt}: {}", errtext(&o));
        // -it: the client wants a terminal of its own, which `script` gives it.
        let cmd = format!(
            "{CLIENT} run --rm -it --runtime {rt} --pull never {IMAGE} \
             sh -c 'tty; [ -t 0 ] && echo stdin-is-a-tty'"
        );
        let o = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .envs(d.env())
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let seen = out(&o);
        assert!(
            seen.contains("/dev/pts/0") && seen.contains("stdin-is-a-tty"),
            "{rt}: {seen:?} {}",
            errtext(&o)
        );
    }
}

#[test]
fn detached_logs_exec_top_stats_pause_stop_rm() {
    let d = Docker::start("ops");
    for rt in RUNTIMES {
        let n = format!("ops-{rt}");
        // The count is renamed into place: a reader never sees the file truncated but not yet written.
        let counter = "echo started; i=0; \
            while :; do i=$((i+1)); echo $i > /tmp/c.new; mv /tmp/c.new /tmp/c; sleep 0.1; done";
        detached(&d, rt, &n, &[], &["sh", "-c", counter]);
        assert!(
            eventually(10, || d.ok(&["logs", &n]) == "started\n"),
            "{rt}"
        );
        let o = d.docker(&["exec", &n, "sh", "-c", "echo in-exec; exit 5"]);
        assert_eq!(
            (o.status.code(), out(&o).as_str()),
            (Some(5), "in-exec\n"),
            "{rt}"
        );
        let top = d.ok(&["top", &n]);
        assert!(
            top.contains("sleep 0.1") || top.contains("while"),
            "{rt}: {top}"
        );
        let stats = d.ok(&[
            "stats",
            "--no-stream",
            "--format",
            "{{.MemUsage}}|{{.PIDs}}",
            &n,
        ]);
        let (mem, pids) = stats.trim().split_once('|').unwrap();
        assert!(
            !mem.starts_with("0B") && pids.parse::<u32>().unwrap() >= 1,
            "{rt}: {stats}"
        );
        // Paused, the counter stands still and exec is refused; resumed, it counts again.
        let value = || -> u64 { d.ok(&["exec", &n, "cat", "/tmp/c"]).trim().parse().unwrap() };
        let before = value();
        d.ok(&["pause", &n]);
        assert_eq!(d.inspect(&n, "{{.State.Status}}"), "paused", "{rt}");
        assert!(
            !d.docker(&["exec", &n, "true"]).status.success(),
            "{rt}: exec while paused"
        );
        std::thread::sleep(std::time::Duration::from_secs(2));
        d.ok(&["unpause", &n]);
        let after = value();
        assert!(
            after - before <= 5,
            "{rt}: counted while paused: {before} -> {after}"
        );
        assert!(
            eventually(5, || value() > after),
            "{rt}: not counting after unpause"
        );
        // The shell as pid 1 ignores SIGTERM: stop ends it with SIGKILL after the timeout.
        d.ok(&["stop", "-t", "1", &n]);
        assert_eq!(d.inspect(&n, "{{.State.ExitCode}}"), "137", "{rt}");
        d.ok(&["rm", &n]);
        assert!(
            !d.docker(&["inspect", &n]).status.success(),
            "{rt}: still there"
        );
    }
}

#[test]
fn signals_restart_policy_healthcheck_and_init() {
    let d = Docker::start("life");
    for rt in RUNTIMES {
        let n = format!("sig-{rt}");
        let trap = "trap 'echo got-usr1; exit 7' USR1; while :; do sleep 0.1; done";
        detached(&d, rt, &n, &[], &["sh", "-c", trap]);
        std::thread::sleep(std::time::Duration::from_millis(300));
        d.ok(&["kill", "-s", "USR1", &n]);
        assert!(
            eventually(10, || d.inspect(&n, "{{.State.Status}}") == "exited"),
            "{rt}"
        );
        assert_eq!(d.inspect(&n, "{{.State.ExitCode}}"), "7", "{rt}");
        assert_eq!(d.ok(&["logs", &n]), "got-usr1\n", "{rt}");
        let k = format!("kill-{rt}");
        detached(&d, rt, &k, &[], &["sleep", "1000"]);
        d.ok(&["kill", &k]);
        assert!(
            eventually(10, || d.inspect(&k, "{{.State.ExitCode}}") == "137"),
            "{rt}"
        );

        let r = format!("restart-{rt}");
        detached(
            &d,
            rt,
            &r,
            &["--restart", "on-failure:2"],
            &["sh", "-c", "echo run; exit 1"],
        );
        let settled = || d.inspect(&r, "{{.RestartCount}} {{.State.Status}}") == "2 exited";
        assert!(
            eventually(30, settled),
            "{rt}: {}",
            d.inspect(&r, "{{.RestartCount}}")
        );
        assert_eq!(d.ok(&["logs", &r]), "run\nrun\nrun\n", "{rt}");

        let h = format!("health-{rt}");
        let health = ["--health-cmd", "test -f /tmp/ok", "--health-interval", "1s"];
        detached(
            &d,
            rt,
            &h,
            &health,
            &["sh", "-c", "touch /tmp/ok; sleep 1000"],
        );
        let healthy = || d.inspect(&h, "{{.State.Health.Status}}") == "healthy";
        assert!(
            eventually(20, healthy),
            "{rt}: {}",
            d.inspect(&h, "{{.State.Health.Status}}")
        );

        // --init: Docker's tini is pid 1, named as runc names it, and reaps for the program.
        let o = d.run(
            rt,
            &["--rm", "--init"],
            &["sh", "-c", "cat /proc/1/comm; cat /proc/$$/comm; true"],
        );
        assert_eq!(out(&o), "docker-init\nsh\n", "{rt}: {}", errtext(&o));
    }
}

#[test]
fn cp_diff_commit_and_copy_on_write() {
    let d = Docker::start("files");
    let host = d.dir.join("host.txt");
    std::fs::write(&host, "from the host\n").unwrap();
    for rt in RUNTIMES {
        let n = format!("files-{rt}");
        let script = "echo changed >> /etc/group; echo made > /tmp/made; sleep 1000";
        detached(&d, rt, &n, &[], &["sh", "-c", script]);
        assert!(eventually(10, || d
            .docker(&["exec", &n, "test", "-f", "/tmp/made"])
            .status
            .success()));
        d.ok(&["cp", host.to_str().unwrap(), &format!("{n}:/tmp/host.txt")]);
        assert_eq!(
            d.ok(&["exec", &n, "cat", "/tmp/host.txt"]),
            "from the host\n",
            "{rt}"
        );
        let back = d.dir.join(format!("made-{rt}"));
        d.ok(&["cp", &format!("{n}:/tmp/made"), back.to_str().unwrap()]);
        assert_eq!(std::fs::read_to_string(&back).unwrap(), "made\n", "{rt}");
        let diff = d.ok(&["diff", &n]);
        for line in ["C /etc/group", "A /tmp/made", "A /tmp/host.txt"] {
            assert!(
                diff.lines().any(|l| l == line),
                "{rt}: {line} not in {diff}"
            );
        }
        // The write went to the container's upper layer: the image is as it was.
        let o = d.run(rt, &["--rm"], &["cat", "/etc/group"]);
        assert!(!out(&o).contains("changed"), "{rt}: {}", out(&o));
        let img = format!("committed-{rt}");
        d.ok(&["commit", &n, &img]);
        let o = d.docker(&[
            "run",
            "--rm",
            "--runtime",
            rt,
            &img,
            "cat",
            "/tmp/made",
            "/tmp/host.txt",
        ]);
        assert_eq!(out(&o), "made\nfrom the host\n", "{rt}: {}", errtext(&o));
        d.ok(&["rm", "-f", &n]);
    }
}

#[test]
fn build_a_dockerfile_with_stages_and_run_the_image() {
    let d = Docker::start("build");
    let ctx = d.dir.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("hello.txt"), "copied in\n").unwrap();
    let dockerfile = "FROM busybox AS base\n\
        RUN echo built in stage one > /built.txt\n\
        FROM busybox\n\
        ENV GREETING=hello\n\
        WORKDIR /app\n\
        COPY --from=base /built.txt /app/\n\
        COPY hello.txt .\n\
        RUN echo \"$GREETING from RUN\" > greeting.txt && cat /proc/$$/comm > runner.txt; true\n\
        ENTRYPOINT [\"sh\", \"-c\"]\n\
        CMD [\"cat built.txt hello.txt greeting.txt runner.txt; pwd\"]\n";
    std::fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
    for rt in RUNTIMES {
        // The classic builder runs RUN steps on the daemon's default runtime.
        d.set_default_runtime(rt);
        let tag = format!("built-{rt}");
        let args = [
            "build",
            "--no-cache",
            "--rm=false",
            "-t",
            &tag,
            ctx.to_str().unwrap(),
        ];
        let o = d.docker(&args);
        assert!(o.status.success(), "{rt}: {}{}", out(&o), errtext(&o));
        // The RUN steps' containers are kept (--rm=false): they ran on `rt`.
        let ids = d.ok(&["ps", "-aq", "--filter", "status=exited"]);
        let ids: Vec<&str> = ids.split_whitespace().collect();
        assert!(ids.len() >= 2, "{rt}: {ids:?}");
        for id in &ids {
            assert_eq!(
                d.inspect(id, "{{.HostConfig.Runtime}}"),
                rt,
                "{rt}: step {id}"
            );
        }
        let mut rm = vec!["rm"];
        rm.extend(&ids);
        d.ok(&rm);
        let o = d.docker(&["run", "--rm", "--runtime", rt, &tag]);
        assert_eq!(
            out(&o),
            "built in stage one\ncopied in\nhello from RUN\nsh\n/app\n",
            "{rt}: {}",
            errtext(&o)
        );
        // One layer per step that changes files, on top of the base.
        let history = d.ok(&["history", "-q", &tag]);
        assert!(history.lines().count() >= 6, "{rt}: {history}");
    }
    d.set_default_runtime("runc");
}

#[test]
fn networks_bridge_ports_names_host_none_and_macvlan() {
    let d = Docker::start("net");
    let peer = MacvlanPeer::new();
    for rt in RUNTIMES {
        // The default bridge, a port published on 127.0.0.1 and fetched from the host.
        let port = free_port();
        let web = format!("web-{rt}");
        let publish = format!("127.0.0.1:{port}:80");
        let serve = "mkdir /www; echo hello-from-docker > /www/index.html; httpd -f -p 80 -h /www";
        detached(&d, rt, &web, &["-p", &publish], &["sh", "-c", serve]);
        let page = || http_get(port).is_some_and(|p| p.contains("hello-from-docker"));
        assert!(eventually(15, page), "{rt}: {:?}", http_get(port));
        d.ok(&["rm", "-f", &web]);

        // A network of the user's, where containers find each other by name.
        let net = format!("net-{rt}");
        d.ok(&["network", "create", &net]);
        let srv = format!("srv-{rt}");
        detached(
            &d,
            rt,
            &srv,
            &["--network", &net],
            &["sh", "-c", "echo pong | nc -l -p 7000"],
        );
        let talk = || {
            let o = d.run(rt, &["--rm", "--network", &net], &["nc", &srv, "7000"]);
            out(&o) == "pong\n"
        };
        assert!(eventually(15, talk), "{rt}: no answer from {srv} by name");
        d.ok(&["rm", "-f", &srv]);
        d.ok(&["network", "rm", &net]);

        // host: the host's own interfaces; none: loopback alone.
        let o = d.run(
            rt,
            &["--rm", "--network", "host"],
            &["ls", "/sys/class/net"],
        );
        let mut inside: Vec<String> = out(&o).split_whitespace().map(str::to_string).collect();
        let mut here: Vec<String> = std::fs::read_dir("/sys/class/net")
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        inside.sort();
        here.sort();
        assert_eq!(inside, here, "{rt}");
        let o = d.run(
            rt,
            &["--rm", "--network", "none"],
            &["ls", "/sys/class/net"],
        );
        assert_eq!(out(&o), "lo\n", "{rt}: {}", errtext(&o));

        // macvlan: the container is on the parent link's LAN, where the peer answers.
        let mv = format!("mv-{rt}");
        let parent = format!("parent={}", MacvlanPeer::PARENT);
        d.ok(&[
            "network",
            "create",
            "-d",
            "macvlan",
            "--subnet",
            "10.197.0.0/24",
            "-o",
            &parent,
            &mv,
        ]);
        let o = d.run(
            rt,
            &["--rm", "--network", &mv],
            &["ping", "-c", "1", "-W", "5", MacvlanPeer::ADDR],
        );
        assert!(
            out(&o).contains("1 packets received"),
            "{rt}: {}{}",
            out(&o),
            errtext(&o)
        );
        d.ok(&["network", "rm", &mv]);
    }
    drop(peer);
}

#[test]
fn containers_share_network_pid_and_ipc_namespaces() {
    // Sidecars: `--network/--pid/--ipc container:NAME` reach berth as namespace paths
    // (/proc/PID/ns/…) of the other container's init.
    let d = Docker::start("share");
    for rt in RUNTIMES {
        let main = format!("main-{rt}");
        let serve = "echo shared > /dev/shm/mark; echo pong | nc -l -p 7100; sleep 1000";
        detached(&d, rt, &main, &["--ipc", "shareable"], &["sh", "-c", serve]);
        let net = format!("container:{main}");
        let talk = || {
            let o = d.run(
                rt,
                &["--rm", "--network", &net],
                &["nc", "127.0.0.1", "7100"],
            );
            out(&o) == "pong\n"
        };
        assert!(
            eventually(15, talk),
            "{rt}: no answer on the shared loopback"
        );
        let pid = format!("container:{main}");
        let o = d.run(
            rt,
            &["--rm", "--pid", &pid],
            &["sh", "-c", "cat /proc/1/comm; true"],
        );
        assert_eq!(
            out(&o),
            "sleep\n",
            "{rt}: pid 1 is the other container's: {}",
            errtext(&o)
        );
        let ipc = format!("container:{main}");
        let o = d.run(rt, &["--rm", "--ipc", &ipc], &["cat", "/dev/shm/mark"]);
        assert_eq!(out(&o), "shared\n", "{rt}: {}", errtext(&o));
        d.ok(&["rm", "-f", &main]);
    }
}

#[test]
fn volumes_binds_tmpfs_and_read_only() {
    let d = Docker::start("store");
    let bind = d.dir.join("bind");
    std::fs::create_dir_all(&bind).unwrap();
    std::fs::write(bind.join("in"), "from the host\n").unwrap();
    for rt in RUNTIMES {
        let vol = format!("vol-{rt}");
        d.ok(&["volume", "create", &vol]);
        let at = format!("{vol}:/data");
        let o = d.run(
            rt,
            &["--rm", "-v", &at],
            &["sh", "-c", "echo kept > /data/k"],
        );
        assert!(o.status.success(), "{rt}: {}", errtext(&o));
        let o = d.run(rt, &["--rm", "-v", &at], &["cat", "/data/k"]);
        assert_eq!(
            out(&o),
            "kept\n",
            "{rt}: a second container sees the volume"
        );
        d.ok(&["volume", "rm", &vol]);

        let b = format!("{}:/b", bind.display());
        let o = d.run(
            rt,
            &["--rm", "-v", &b],
            &["sh", "-c", "cat /b/in; echo back > /b/out"],
        );
        assert_eq!(out(&o), "from the host\n", "{rt}: {}", errtext(&o));
        assert_eq!(
            std::fs::read_to_string(bind.join("out")).unwrap(),
            "back\n",
            "{rt}"
        );
        std::fs::remove_file(bind.join("out")).unwrap();

        let fill = "grep ' /scratch ' /proc/mounts | cut -d' ' -f3; \
                    dd if=/dev/zero of=/scratch/f bs=1M count=2 2>/dev/null || echo full";
        let o = d.run(
            rt,
            &["--rm", "--tmpfs", "/scratch:size=1m"],
            &["sh", "-c", fill],
        );
        assert_eq!(out(&o), "tmpfs\nfull\n", "{rt}: {}", errtext(&o));

        let o = d.run(
            rt,
            &["--rm", "--read-only"],
            &["sh", "-c", "touch /x 2>&1; touch /tmp/x 2>&1; true"],
        );
        assert_eq!(
            out(&o).matches("Read-only file system").count(),
            2,
            "{rt}: {}",
            out(&o)
        );
    }
}

#[test]
fn memory_pids_cpu_limits_and_update() {
    let d = Docker::start("limits");
    for rt in RUNTIMES {
        // A hog at the memory limit is OOM-killed: 137, and Docker knows why.
        let n = format!("oom-{rt}");
        let hog = "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived";
        let o = d.run(
            rt,
            &["--name", &n, "--memory", "32m", "--memory-swap", "32m"],
            &["sh", "-c", hog],
        );
        assert_eq!(
            o.status.code(),
            Some(137),
            "{rt}: {}{}",
            out(&o),
            errtext(&o)
        );
        assert_eq!(d.inspect(&n, "{{.State.OOMKilled}}"), "true", "{rt}");
        d.ok(&["rm", &n]);

        // Forks stop at the pids limit, refused by the kernel.
        let current = cg("pids/pids.current", "pids.current");
        let events = cg("pids/pids.events", "pids.events");
        let forks = format!(
            "(for i in $(seq 30); do sleep 30 & done) 2>/dev/null; read n < {current}; \
             echo current=$n; while read k v; do [ $k = max ] && echo refused=$v; done < {events}; true"
        );
        let o = d.run(rt, &["--rm", "--pids-limit", "10"], &["sh", "-c", &forks]);
        let seen = out(&o);
        let field = |k: &str| -> u64 {
            seen.lines()
                .find_map(|l| l.strip_prefix(k))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        assert!(
            (2..=10).contains(&field("current=")),
            "{rt}: {seen}{}",
            errtext(&o)
        );
        assert!(field("refused=") > 0, "{rt}: {seen}");

        // --cpus 0.5 is a CFS quota the kernel throttles a busy loop at.
        let quota = cg("cpu/cpu.cfs_quota_us", "cpu.max");
        let stat = cg("cpu/cpu.stat", "cpu.stat");
        let spin =
            format!("cat {quota}; timeout 1 sh -c 'while :; do :; done'; grep nr_throttled {stat}");
        let o = d.run(rt, &["--rm", "--cpus", "0.5"], &["sh", "-c", &spin]);
        let seen = out(&o);
        assert!(
            seen.starts_with("50000\n") || seen.starts_with("50000 100000\n"),
            "{rt}: {seen}"
        );
        let throttled: u64 = seen
            .lines()
            .last()
            .and_then(|l| l.split(' ').nth(1)?.parse().ok())
            .unwrap_or(0);
        assert!(throttled > 0, "{rt}: {seen}");

        // docker update changes a running container's limits; a later update of one limit
        // (zeros for the others) leaves the others as they are.
        let u = format!("upd-{rt}");
        detached(&d, rt, &u, &["--memory", "64m"], &["sleep", "1000"]);
        d.ok(&[
            "update",
            "--memory",
            "128m",
            "--memory-swap",
            "256m",
            "--cpus",
            "1",
            "--pids-limit",
            "50",
            &u,
        ]);
        let files = format!(
            "cat {} {} {}",
            cg("memory/memory.limit_in_bytes", "memory.max"),
            cg("pids/pids.max", "pids.max"),
            cg("cpu/cpu.cfs_quota_us", "cpu.max")
        );
        let read = || d.ok(&["exec", &u, "sh", "-c", &files]);
        let first = read();
        let lines: Vec<&str> = first.lines().collect();
        assert_eq!(&lines[..2], ["134217728", "50"], "{rt}: {first}");
        assert!(
            lines[2] == "100000" || lines[2] == "100000 100000",
            "{rt}: {first}"
        );
        d.ok(&["update", "--cpu-shares", "512", &u]);
        assert_eq!(read(), first, "{rt}: the other limits are kept");
        let shares = cg("cpu/cpu.shares", "cpu.weight");
        let s = d.ok(&["exec", &u, "sh", "-c", &format!("cat {shares}")]);
        assert!(s.trim() == "512" || s.trim() == "20", "{rt}: {s}");
        d.ok(&["rm", "-f", &u]);
    }
}

/// The other end of a macvlan's parent link: a veth pair whose far end sits, with an address
/// on the macvlan's subnet, in a network namespace of the test's own.
struct MacvlanPeer;

impl MacvlanPeer {
    const PARENT: &'static str = "bt-dkmv0";
    const NETNS: &'static str = "bt-dkmvpeer";
    const ADDR: &'static str = "10.197.0.100";

    fn new() -> MacvlanPeer {
        let p = MacvlanPeer;
        p.remove();
        let steps: [&[&str]; 5] = [
            &[
                "link",
                "add",
                Self::PARENT,
                "type",
                "veth",
                "peer",
                "name",
                "bt-dkmv1",
            ],
            &["link", "set", Self::PARENT, "up"],
            &["netns", "add", Self::NETNS],
            &["link", "set", "bt-dkmv1", "netns", Self::NETNS],
            &[
                "-n",
                Self::NETNS,
                "addr",
                "add",
                "10.197.0.100/24",
                "dev",
                "bt-dkmv1",
            ],
        ];
        for s in steps {
            assert!(
                Command::new("ip").args(s).status().unwrap().success(),
                "ip {s:?}"
            );
        }
        let up = ["-n", Self::NETNS, "link", "set", "bt-dkmv1", "up"];
        assert!(Command::new("ip").args(up).status().unwrap().success());
        p
    }

    fn remove(&self) {
        for args in [["link", "del", Self::PARENT], ["netns", "del", Self::NETNS]] {
            let quiet = std::process::Stdio::null();
            let _ = Command::new("ip").args(args).stderr(quiet).status();
        }
    }
}

impl Drop for MacvlanPeer {
    fn drop(&mut self) {
        self.remove();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

/// GET / from 127.0.0.1:PORT; the whole response.
fn http_get(port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .ok()?;
    s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(text)
}
