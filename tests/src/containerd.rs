//! A private containerd per test (its own config, socket, root, state and namespace; the
//! CRI plugin off), with a two-layer busybox image imported, driven through `ctr`. Drop stops
//! it and removes every task, shim, mount and file it made.

use super::{runtime, BASE};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

pub const IMAGE: &str = "docker.io/library/berth-busybox:latest";

/// How the container reaches berth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// Berth's own shim, linking berth-core.
    Shim,
    /// containerd's runc shim calling the `berth` binary in place of runc.
    RuncShim,
}

pub struct Containerd {
    pub dir: PathBuf,
    /// The containerd namespace, one per test: ctr puts containers in the cgroup /NS/ID, and
    /// a parent of the test's own can be removed when the test ends without racing another.
    pub ns: String,
    daemon: Child,
}

static IMAGE_TAR: Once = Once::new();

pub fn image_tar() -> PathBuf {
    let tar = PathBuf::from(BASE).join("busybox-oci.tar");
    IMAGE_TAR.call_once(|| {
        std::fs::create_dir_all(BASE).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("images/busybox-oci.sh");
        let st = Command::new(script).arg(&tar).status().unwrap();
        assert!(st.success(), "building the busybox image failed");
    });
    tar
}

impl Containerd {
    /// `name` must be unique in the suite and short: socket paths are limited.
    pub fn start(name: &str) -> Containerd {
        let dir = PathBuf::from(BASE).join(format!("ctrd-{name}"));
        cleanup_dir(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.display().to_string();
        let config = format!(
            "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{d}/c.sock\"\n[ttrpc]\n  address = \"{d}/c.sock.ttrpc\"\n\
             [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{d}/opt\"\n"
        );
        std::fs::write(dir.join("config.toml"), config).unwrap();
        // containerd finds containerd-shim-berth-v2 on its PATH: next to the berth binary.
        let bin_dir = runtime().parent().unwrap().to_path_buf();
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let log = std::fs::File::create(dir.join("containerd.log")).unwrap();
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(dir.join("config.toml"))
            .current_dir(&dir)
            .env("PATH", path)
            .env("BERTH_SHIM_ROOT", dir.join("berth"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("containerd is not installed: scripts/setup.sh installs it");
        let c = Containerd {
            dir,
            ns: format!("berth-test-{name}"),
            daemon,
        };
        let end = Instant::now() + Duration::from_secs(20);
        while !c.ctr(&["version"]).status.success() {
            assert!(
                Instant::now() < end,
                "containerd did not come up: see {d}/containerd.log"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let tar = image_tar();
        let out = c.ctr(&["images", "import", tar.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        c
    }

    pub fn address(&self) -> PathBuf {
        self.dir.join("c.sock")
    }

    pub fn ctr_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ctr");
        c.arg("--address")
            .arg(self.address())
            .args(["--namespace", &self.ns]);
        c.args(args).stdin(Stdio::null());
        c
    }

    pub fn ctr(&self, args: &[&str]) -> Output {
        self.ctr_cmd(args).output().unwrap()
    }

    /// `ctr run` arguments that pick the runtime path under test.
    pub fn runtime_args(via: Via) -> Vec<String> {
        match via {
            Via::Shim => vec!["--runtime".into(), "io.containerd.berth.v2".into()],
            Via::RuncShim => vec![
                "--runtime".into(),
                "io.containerd.runc.v2".into(),
                "--runc-binary".into(),
                runtime().display().to_string(),
            ],
        }
    }

    /// `ctr run [flags] --runtime … IMAGE ID ARGS…` of the busybox image.
    pub fn run(&self, via: Via, flags: &[&str], id: &str, args: &[&str]) -> Output {
        self.run_image(via, flags, IMAGE, id, args)
    }

    /// `ctr run [flags] --runtime … IMAGE ID ARGS…`
    pub fn run_image(
        &self,
        via: Via,
        flags: &[&str],
        image: &str,
        id: &str,
        args: &[&str],
    ) -> Output {
        let rt = Self::runtime_args(via);
        let mut all: Vec<&str> = vec!["run"];
        all.extend(flags);
        all.extend(rt.iter().map(String::as_str));
        all.extend([image, id]);
        all.extend(args);
        self.ctr(&all)
    }

    /// `fs/NAME` in every overlay snapshot (image layers and containers' upper directories)
    /// where that file exists.
    pub fn snapshot_files(&self, name: &str) -> Vec<PathBuf> {
        let snaps = self
            .dir
            .join("root/io.containerd.snapshotter.v1.overlayfs/snapshots");
        let mut hits = Vec::new();
        for s in std::fs::read_dir(&snaps).into_iter().flatten().flatten() {
            let p = s.path().join("fs").join(name);
            if p.exists() {
                hits.push(p);
            }
        }
        hits.sort();
        hits
    }

    /// The pids of the shim processes serving this containerd.
    pub fn shims(&self) -> Vec<i32> {
        let addr = self.address().display().to_string();
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.contains("containerd-shim") && text.contains(&addr) {
                out.push(pid);
            }
        }
        out
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let tasks = self.ctr(&["tasks", "ls", "-q"]);
        for id in String::from_utf8_lossy(&tasks.stdout).lines() {
            let _ = self.ctr(&["tasks", "kill", "-s", "KILL", id]);
            let end = Instant::now() + Duration::from_secs(5);
            while !self.ctr(&["tasks", "delete", id]).status.success() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let containers = self.ctr(&["containers", "ls", "-q"]);
        for id in String::from_utf8_lossy(&containers.stdout).lines() {
            let _ = self.ctr(&["containers", "rm", id]);
        }
        let shims = self.shims();
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        for pid in shims {
            // SAFETY: plain kill(2) of a shim of this test's containerd.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        cleanup_dir(&self.dir);
        // ctr puts containers in /NAMESPACE/ID. Each container removes its own cgroup; the
        // namespace's parent can stay behind when its containers were deleted concurrently
        // (runc leaves it too). The namespace is this test's alone, so it goes here.
        super::remove_cgroup_tree(&self.ns);
    }
}

/// Unmounts whatever is mounted under `dir` (deepest first), then removes it.
pub fn cleanup_dir(dir: &Path) {
    let prefix = format!("{}/", dir.display());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<String> = mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|p| p.starts_with(&prefix))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let c = std::ffi::CString::new(p).unwrap();
        // SAFETY: a NUL-terminated path.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
    let _ = std::fs::remove_dir_all(dir);
}
