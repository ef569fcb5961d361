//! Helpers for the integration tests: a busybox rootfs, bundles with a config to edit, and a
//! driver for the runtime binary (`berth` by default; set `BERTH_RUNTIME` to run the same tests
//! against runc or crun).
//!
//! Everything a test makes lives under `/tmp/berth-tests/<test>`, uses the cgroup
//! `/berth-test-<test>`, and is removed by `Bundle`'s `Drop`, which also force-deletes any
//! container the test left.

pub mod containerd;
pub mod docker;
pub mod net;
pub mod notify;
pub mod podman;
pub mod registry;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Once;

pub const BASE: &str = "/tmp/berth-tests";

/// The runtime binary under test.
pub fn runtime() -> PathBuf {
    if let Ok(p) = std::env::var("BERTH_RUNTIME") {
        return PathBuf::from(p);
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let bin = target.join(profile).join("berth");
    assert!(
        bin.exists(),
        "{} is missing: build the workspace first (cargo build)",
        bin.display()
    );
    bin
}

pub fn state_root() -> PathBuf {
    PathBuf::from(BASE).join("root")
}

/// Runs the runtime with the tests' state root. Its stdout and stderr go to files, not pipes:
/// a container started by `create` or `run -d` inherits them and would hold a pipe open.
pub fn berth(args: &[&str]) -> Output {
    run_to_files(berth_cmd(args))
}

pub fn run_to_files(mut cmd: Command) -> Output {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = PathBuf::from(BASE).join("out");
    std::fs::create_dir_all(&dir).unwrap();
    let base = dir.join(format!("{}-{n}", std::process::id()));
    let (o, e) = (base.with_extension("out"), base.with_extension("err"));
    let status = cmd
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap())
        .status()
        .expect("running the runtime");
    let out = Output {
        status,
        stdout: std::fs::read(&o).unwrap_or_default(),
        stderr: std::fs::read(&e).unwrap_or_default(),
    };
    let _ = std::fs::remove_file(o);
    let _ = std::fs::remove_file(e);
    out
}

pub fn berth_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(runtime());
    c.arg("--root").arg(state_root()).args(args);
    c.stdin(Stdio::null());
    c
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Asserts success and returns stdout.
pub fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "runtime failed ({:?}): {}{}",
        o.status,
        stderr(&o),
        stdout(&o)
    );
    stdout(&o)
}

/// Asserts failure and returns stderr.
pub fn err(o: Output) -> String {
    assert!(
        !o.status.success(),
        "runtime should have failed, printed: {}",
        stdout(&o)
    );
    stderr(&o)
}

static ROOTFS: Once = Once::new();

/// A busybox rootfs made once per test binary and copied (hard-linked) into bundles.
fn template() -> PathBuf {
    let dir = PathBuf::from(BASE).join("rootfs-template");
    ROOTFS.call_once(|| {
        let _ = std::fs::remove_dir_all(&dir);
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let busybox = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .find(|p| Path::new(p).exists());
        let busybox = busybox.expect("busybox-static is not installed");
        std::fs::copy(busybox, bin.join("busybox")).unwrap();
        let list = Command::new(busybox).arg("--list").output().unwrap();
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            let _ = std::os::unix::fs::symlink("busybox", bin.join(applet));
        }
        // The static syscall probe (tests/probe), for exact seccomp answers.
        std::fs::copy(env!("BERTH_PROBE"), bin.join("probe")).unwrap();
        for d in ["proc", "sys", "dev", "etc", "tmp", "root", "usr"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        std::fs::write(
            dir.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(dir.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
    });
    dir
}

/// A bundle with a busybox rootfs and a config.json to edit.
pub struct Bundle {
    pub name: String,
    pub dir: PathBuf,
    pub config: Value,
}

impl Bundle {
    /// `name` must be unique across the test suite: it is the container id and the cgroup.
    pub fn new(name: &str) -> Bundle {
        let dir = PathBuf::from(BASE).join(name);
        let _ = berth(&["delete", "--force", name]);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        copy_tree(&template(), &dir.join("rootfs"));
        let config = default_config(name);
        Bundle {
            name: name.to_string(),
            dir,
            config,
        }
    }

    pub fn id(&self) -> &str {
        &self.name
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// Sets process.args to `sh -c SCRIPT`.
    pub fn sh(&mut self, script: &str) -> &mut Self {
        self.config["process"]["args"] = json!(["sh", "-c", script]);
        self
    }

    pub fn write(&self) {
        std::fs::write(
            self.dir.join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    pub fn bundle_arg(&self) -> String {
        self.dir.display().to_string()
    }

    /// `run` in the foreground; returns the output.
    pub fn run(&self) -> Output {
        self.write();
        berth(&["run", "--bundle", &self.bundle_arg(), &self.name])
    }

    /// `run` and assert it exits 0; returns stdout.
    pub fn run_ok(&self) -> String {
        ok(self.run())
    }

    /// `run -d`, asserting success: the container keeps running after the runtime exits.
    pub fn run_detached(&self) {
        self.write();
        ok(berth(&[
            "run",
            "-d",
            "--bundle",
            &self.bundle_arg(),
            &self.name,
        ]));
    }

    pub fn create(&self) -> Output {
        self.write();
        berth(&["create", "--bundle", &self.bundle_arg(), &self.name])
    }

    pub fn state(&self) -> Value {
        let out = ok(berth(&["state", &self.name]));
        serde_json::from_str(&out).unwrap()
    }

    pub fn status(&self) -> String {
        self.state()["status"].as_str().unwrap_or("").to_string()
    }

    pub fn cgroup_path(&self) -> String {
        format!("/berth-test-{}", self.name)
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let _ = berth(&["delete", "--force", &self.name]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn copy_tree(from: &Path, to: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg("-l")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success(), "copying the rootfs");
}

/// The runtime's own default spec (`spec`), made non-interactive, with the hostname the tests
/// expect and the test's own absolute cgroup.
pub fn default_config(name: &str) -> Value {
    static SPEC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    let spec = SPEC.get_or_init(|| {
        let dir = PathBuf::from(BASE).join(format!("spec-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        ok(run_to_files({
            let mut c = Command::new(runtime());
            c.args(["spec", "--bundle"]).arg(&dir);
            c
        }));
        let v = serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        v
    });
    let mut c = spec.clone();
    c["process"]["terminal"] = json!(false);
    c["process"]["args"] = json!(["true"]);
    c["hostname"] = json!("berth");
    c["linux"]["cgroupsPath"] = json!(format!("/berth-test-{name}"));
    c
}

/// Whether any cgroup directory of this test is left on the host.
pub fn cgroup_left(name: &str) -> Vec<PathBuf> {
    cgroup_dirs(&format!("berth-test-{name}"))
}

/// The existing directories for cgroup `rel` in every hierarchy: /sys/fs/cgroup/<rel> on pure
/// v2, /sys/fs/cgroup/<hierarchy>/<rel> on v1 and hybrid.
pub fn cgroup_dirs(rel: &str) -> Vec<PathBuf> {
    let rel = rel.trim_start_matches('/');
    let root = PathBuf::from("/sys/fs/cgroup");
    std::fs::read_dir(&root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|h| h.path().join(rel))
        .chain(std::iter::once(root.join(rel)))
        .filter(|p| p.is_dir())
        .collect()
}

/// Removes cgroup `rel` and what is below it in every hierarchy, children first (rmdir
/// fails on a cgroup that still has processes, which then stays for the leak check to see).
pub fn remove_cgroup_tree(rel: &str) {
    fn remove(dir: &Path) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove(&e.path());
            }
        }
        let _ = std::fs::remove_dir(dir);
    }
    cgroup_dirs(rel).iter().for_each(|d| remove(d));
}

/// Asserts nothing of container `name` is left: state directory, cgroup, process.
pub fn assert_nothing_left(name: &str) {
    assert!(
        !state_root().join(name).exists(),
        "state directory of {name} left behind"
    );
    let cg = cgroup_left(name);
    assert!(cg.is_empty(), "cgroups left behind: {cg:?}");
}

/// Asserts the test process has no child left, running or unreaped.
pub fn assert_no_child() {
    let r = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
    let errno = std::io::Error::last_os_error().raw_os_error();
    assert_eq!(
        (r, errno),
        (-1, Some(libc::ECHILD)),
        "a child of the test is left"
    );
}

/// Asserts that `create` of this bundle fails with a one-line error that mentions every
/// needle, and that nothing of the container is left; returns the error.
pub fn refused(b: &Bundle, needles: &[&str]) -> String {
    let e = err(b.create());
    for n in needles {
        assert!(e.contains(n), "error should mention {n:?}: {e}");
    }
    assert_eq!(e.trim().lines().count(), 1, "one line: {e}");
    assert_nothing_left(b.id());
    e
}

/// A test's size from the environment (the emulated cgroup v2 guest runs smaller ones).
pub fn count(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Waits up to `secs` for `f` to be true.
pub fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    f()
}

/// Receives one fd sent with SCM_RIGHTS on a connected unix socket (the console-socket
/// protocol), with the message that came with it.
pub fn recv_fd(sock: &std::os::unix::net::UnixStream) -> (String, std::fs::File) {
    use std::os::fd::{AsRawFd, FromRawFd};
    let mut buf = [0u8; 4096];
    let mut cbuf = [0u64; 16];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&cbuf);
        let n = libc::recvmsg(sock.as_raw_fd(), &mut msg, 0);
        assert!(n >= 0, "recvmsg: {}", std::io::Error::last_os_error());
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        assert!(!cmsg.is_null(), "no fd was sent");
        assert_eq!((*cmsg).cmsg_type, libc::SCM_RIGHTS);
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<i32>());
        (
            String::from_utf8_lossy(&buf[..n as usize]).to_string(),
            std::fs::File::from_raw_fd(fd),
        )
    }
}

/// Creates and starts `b` with a terminal through a console socket, writes `input` to the pty
/// and returns what the pty printed up to `until` (or 10 s); `Err(stderr)` if create failed.
pub fn run_in_terminal(b: &Bundle, input: &str, until: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    b.write();
    let sock_path = b.dir.join("console.sock");
    let _ = std::fs::remove_file(&sock_path);
    let listener = std::os::unix::net::UnixListener::bind(&sock_path).unwrap();
    listener.set_nonblocking(true).unwrap();
    let create = berth_cmd(&[
        "create",
        "--bundle",
        &b.bundle_arg(),
        "--console-socket",
        sock_path.to_str().unwrap(),
        b.id(),
    ]);
    let create = std::thread::spawn(move || run_to_files(create));
    let mut conn = None;
    eventually(10, || {
        conn = listener.accept().ok().map(|(c, _)| c);
        conn.is_some() || create.is_finished()
    });
    // The runtime connects before its child sets up the pty: a child that fails closes the
    // socket without sending. A slow create (the emulated guest, under load) is waited for.
    let sent = conn.as_ref().is_some_and(|c| {
        use std::os::fd::AsRawFd;
        c.set_nonblocking(false).unwrap();
        c.set_read_timeout(Some(std::time::Duration::from_millis(200)))
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut peek = [0u8; 1];
        loop {
            let n =
                unsafe { libc::recv(c.as_raw_fd(), peek.as_mut_ptr().cast(), 1, libc::MSG_PEEK) };
            let waiting = n < 0 && std::time::Instant::now() < deadline;
            if !waiting || create.is_finished() && n <= 0 {
                break n > 0;
            }
        }
    });
    let Some(conn) = conn.filter(|_| sent) else {
        return Err(err(create.join().unwrap()));
    };
    let (_name, mut master) = recv_fd(&conn);
    ok(create.join().unwrap());
    ok(berth(&["start", b.id()]));
    master.write_all(input.as_bytes()).unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 1024];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !seen.contains(until) && std::time::Instant::now() < deadline {
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    Ok(seen)
}
