//! A private Docker daemon (Debian's docker.io 20.10) for one test, with the runtime under test
//! registered as `berth` beside Docker's own `runc`: its own data-root, exec-root, socket,
//! pidfile, configuration, client configuration, cgroup parent, and a bridge of its own with
//! an address range nothing on the machine uses. dockerd runs its own containerd under the
//! exec-root; images are made offline (`docker import` of a busybox-static tree) and nothing
//! is ever pulled.
//!
//! Docker changes machine-wide things as it goes (iptables chains, /opt/containerd, bridges for
//! user-defined networks), so one daemon runs at a time (a lock across the test binary), and
//! `Drop` stops dockerd and its containerd and puts all of it back: iptables as it was before,
//! bridges, veths, mounts, cgroups and processes.

use super::{runtime, BASE};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Debian's client for the 20.10 daemon (a newer one may come first on PATH).
pub const CLIENT: &str = "/usr/bin/docker";
pub const IMAGE: &str = "busybox:latest";
/// Each case runs on Docker's own runtime and on the one under test.
pub const RUNTIMES: [&str; 2] = ["runc", "berth"];
/// The default bridge (made by the test: Docker's docker0 is never touched) and its range;
/// user-defined networks come from the pool. Both are checked against the host's routes.
pub const BRIDGE: &str = "bt-docker0";
pub const BRIDGE_ADDR: &str = "10.198.0.1/24";
pub const POOL: &str = "10.199.0.0/16";
/// Every container's cgroup goes under this (`cgroup-parent`).
pub const CGROUP_PARENT: &str = "/berth-test-docker";

static TURN: Mutex<()> = Mutex::new(());

/// What the machine looked like before dockerd: put back by `Drop`.
struct Before {
    iptables: Vec<u8>,
    ip6tables: Vec<u8>,
    nft_tables: Vec<String>,
    links: Vec<String>,
    opt_containerd: bool,
}

pub struct Docker {
    pub dir: PathBuf,
    daemon: Option<Child>,
    before: Before,
    _turn: MutexGuard<'static, ()>,
}

impl Docker {
    /// `name` must be unique in the suite and short (socket paths are limited).
    pub fn start(name: &str) -> Docker {
        let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        assert_no_route_in(&[BRIDGE_ADDR, POOL]);
        let dir = PathBuf::from(BASE).join(format!("dk-{name}"));
        super::containerd::cleanup_dir(&dir);
        std::fs::create_dir_all(dir.join("client")).unwrap();
        let before = Before::now();
        let mut d = Docker {
            dir,
            daemon: None,
            before,
            _turn: turn,
        };
        d.make_bridge();
        d.write_config("runc");
        d.daemon = Some(d.spawn_daemon());
        d.wait_until_up();
        d.import_busybox();
        d
    }

    /// The client's environment: this daemon only, a configuration of its own, and the
    /// classic builder (which runs RUN steps with the daemon's default runtime).
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "DOCKER_HOST".into(),
                format!("unix://{}", self.dir.join("docker.sock").display()),
            ),
            (
                "DOCKER_CONFIG".into(),
                self.dir.join("client").display().to_string(),
            ),
            ("DOCKER_BUILDKIT".into(), "0".into()),
        ]
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(CLIENT);
        c.envs(self.env()).args(args).stdin(Stdio::null());
        c
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs the client, asserts success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.docker(args);
        assert!(
            o.status.success(),
            "docker {args:?} failed ({:?}): {}{}",
            o.status,
            String::from_utf8_lossy(&o.stderr),
            String::from_utf8_lossy(&o.stdout)
        );
        String::from_utf8_lossy(&o.stdout).to_string()
    }

    /// `docker run --runtime RT --pull never FLAGS… IMAGE ARGS…`.
    pub fn run(&self, rt: &str, flags: &[&str], args: &[&str]) -> Output {
        let mut all = vec!["run", "--runtime", rt, "--pull", "never"];
        all.extend(flags);
        all.push(IMAGE);
        all.extend(args);
        self.docker(&all)
    }

    /// A field of `docker inspect`, by Go template.
    pub fn inspect(&self, what: &str, format: &str) -> String {
        self.ok(&["inspect", "-f", format, what]).trim().to_string()
    }

    /// Makes `rt` the daemon's default runtime (what `docker build` uses): the configuration
    /// is rewritten and reloaded with SIGHUP.
    pub fn set_default_runtime(&self, rt: &str) {
        self.write_config(rt);
        let pid = self.daemon.as_ref().map_or(0, |c| c.id() as i32);
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid, libc::SIGHUP) };
        let want = format!("Default Runtime: {rt}");
        let end = Instant::now() + Duration::from_secs(20);
        while !self.ok(&["info"]).contains(&want) {
            assert!(Instant::now() < end, "dockerd did not take {want:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn write_config(&self, default_runtime: &str) {
        let config = serde_json::json!({
            "runtimes": {"berth": {"path": runtime()}},
            "default-runtime": default_runtime,
            "bridge": BRIDGE,
            "default-address-pools": [{"base": POOL, "size": 24}],
            "ip-forward": false,
            "cgroup-parent": CGROUP_PARENT,
            "storage-driver": "overlay2",
            "log-level": "warn",
        });
        std::fs::write(self.dir.join("daemon.json"), config.to_string()).unwrap();
    }

    fn make_bridge(&self) {
        let _ = ip(&["link", "del", BRIDGE]);
        assert!(ip(&["link", "add", BRIDGE, "type", "bridge"]));
        assert!(ip(&["addr", "add", BRIDGE_ADDR, "dev", BRIDGE]));
        assert!(ip(&["link", "set", BRIDGE, "up"]));
    }

    fn spawn_daemon(&self) -> Child {
        let d = &self.dir;
        let log = std::fs::File::create(d.join("dockerd.log")).unwrap();
        Command::new("dockerd")
            .arg("--config-file")
            .arg(d.join("daemon.json"))
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("docker.pid"))
            .arg("-H")
            .arg(format!("unix://{}", d.join("docker.sock").display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("dockerd is not installed: scripts/setup.sh installs docker.io")
    }

    fn wait_until_up(&mut self) {
        let end = Instant::now() + Duration::from_secs(60);
        while !self.docker(&["version"]).status.success() {
            let exited = self
                .daemon
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            let log = || std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default();
            assert!(exited.is_none(), "dockerd exited ({exited:?}): {}", log());
            assert!(Instant::now() < end, "dockerd did not come up: {}", log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// busybox-static and its applets, /etc/passwd and /etc/group, as image `busybox:latest`.
    fn import_busybox(&self) {
        let tree = self.dir.join("busybox-tree");
        let bin = tree.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for d in ["etc", "tmp", "root", "proc", "sys", "dev"] {
            std::fs::create_dir_all(tree.join(d)).unwrap();
        }
        let busybox = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("busybox-static is not installed");
        std::fs::copy(busybox, bin.join("busybox")).unwrap();
        let list = Command::new(busybox).arg("--list").output().unwrap();
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            if applet != "busybox" {
                std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
            }
        }
        let passwd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n";
        std::fs::write(tree.join("etc/passwd"), passwd).unwrap();
        std::fs::write(tree.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
        let tar = self.dir.join("busybox.tar");
        let st = Command::new("tar")
            .args(["--numeric-owner", "--owner=0", "--group=0", "-C"])
            .arg(&tree)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .unwrap();
        assert!(st.success());
        let t = tar.display().to_string();
        self.ok(&["import", "-c", "CMD [\"sh\"]", &t, IMAGE]);
    }

    /// Stops dockerd (it stops its containers and its containerd) and waits for it.
    fn stop(&mut self) {
        let Some(mut daemon) = self.daemon.take() else {
            return;
        };
        let running = self.ok(&["ps", "-aq"]);
        let ids: Vec<&str> = running.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(ids);
            let _ = self.docker(&args);
        }
        let _ = self.docker(&["network", "prune", "-f"]);
        // SAFETY: signalling our own child.
        unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
        let end = Instant::now() + Duration::from_secs(30);
        while daemon.try_wait().ok().flatten().is_none() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = daemon.kill();
        let _ = daemon.wait();
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        self.stop();
        kill_left_behind(&self.dir);
        self.before.restore();
        super::containerd::cleanup_dir(&self.dir);
        super::remove_cgroup_tree(CGROUP_PARENT);
    }
}

impl Before {
    fn now() -> Before {
        let save = |prog: &str| {
            Command::new(prog)
                .output()
                .map(|o| o.stdout)
                .unwrap_or_default()
        };
        Before {
            iptables: save("iptables-save"),
            ip6tables: save("ip6tables-save"),
            nft_tables: nft_tables(),
            links: links(),
            opt_containerd: Path::new("/opt/containerd").exists(),
        }
    }

    /// Tables dockerd made go; tables that were there get their old contents back.
    fn restore(&self) {
        for t in nft_tables() {
            if !self.nft_tables.contains(&t) {
                let mut args = vec!["delete", "table"];
                args.extend(t.split_whitespace());
                let _ = Command::new("nft").args(&args).status();
            }
        }
        for (prog, saved) in [
            ("iptables-restore", &self.iptables),
            ("ip6tables-restore", &self.ip6tables),
        ] {
            if !saved.is_empty() {
                restore_with(prog, saved);
            }
        }
        for l in links() {
            if !self.links.contains(&l) {
                let _ = ip(&["link", "del", &l]);
            }
        }
        if !self.opt_containerd {
            let _ = std::fs::remove_dir_all("/opt/containerd");
        }
    }
}

fn restore_with(prog: &str, saved: &[u8]) {
    use std::io::Write;
    let Ok(mut child) = Command::new(prog).stdin(Stdio::piped()).spawn() else {
        return;
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(saved);
    }
    let _ = child.wait();
}

/// `table FAMILY NAME` of every nftables table, as `FAMILY NAME`.
fn nft_tables() -> Vec<String> {
    let out = Command::new("nft").args(["list", "tables"]).output();
    let text = out.map(|o| o.stdout).unwrap_or_default();
    String::from_utf8_lossy(&text)
        .lines()
        .filter_map(|l| l.strip_prefix("table "))
        .map(str::to_string)
        .collect()
}

/// The names of the network links in this namespace.
fn links() -> Vec<String> {
    std::fs::read_dir("/sys/class/net")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect()
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A daemon of this test that outlived dockerd (a shim, a docker-proxy) is killed.
fn kill_left_behind(dir: &Path) {
    let mark = dir.display().to_string();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&mark) {
            // SAFETY: a pid of a process whose command line names this test's directory.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// Refuses to start where the machine already routes one of Docker's ranges: the test's
/// traffic must stay between the namespaces it makes.
fn assert_no_route_in(ranges: &[&str]) {
    let routes = Command::new("ip")
        .args(["-4", "route", "show", "table", "all"])
        .output();
    let routes = String::from_utf8_lossy(&routes.map(|o| o.stdout).unwrap_or_default()).to_string();
    for r in ranges {
        let prefix: String = r.split('.').take(2).collect::<Vec<_>>().join(".") + ".";
        let clash = routes
            .lines()
            .filter(|l| !l.contains(BRIDGE))
            .find(|l| l.split_whitespace().any(|w| w.starts_with(&prefix)));
        assert!(clash.is_none(), "{r} is already routed here: {clash:?}");
    }
}
