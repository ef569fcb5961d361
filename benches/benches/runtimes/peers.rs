//! The runtimes compared: berth (this build) and whichever peers are installed, each with a
//! state root and a cgroup parent of its own, and the bundles they run.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const BASE: &str = "/tmp/berth-bench";

pub struct Runtime {
    pub name: &'static str,
    pub bin: PathBuf,
    /// `--root` of this runtime's containers.
    pub root: PathBuf,
}

impl Runtime {
    /// berth from target/release, then crun, runc and youki where installed.
    pub fn all() -> Vec<Runtime> {
        let berth = berth_tests::runtime();
        let mut found = vec![("berth", berth)];
        for name in ["crun", "runc", "youki"] {
            if let Some(p) = which(name) {
                found.push((name, p));
            }
        }
        found
            .into_iter()
            .map(|(name, bin)| Runtime {
                name,
                bin,
                root: Path::new(BASE).join("root").join(name),
            })
            .collect()
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(&self.root).args(args);
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    /// The cgroup of container `id` (absolute, so every runtime puts it in the same place).
    pub fn cgroup(&self, id: &str) -> String {
        format!("/berth-bench/{}/{id}", self.name)
    }

    /// A bundle for container `id`: a config.json of its own over the shared rootfs.
    pub fn bundle(&self, id: &str, base: &Value, args: &[&str]) -> PathBuf {
        let dir = Path::new(BASE).join("bundles").join(self.name).join(id);
        std::fs::create_dir_all(&dir).unwrap();
        let mut c = base.clone();
        c["process"]["args"] = json!(args);
        c["linux"]["cgroupsPath"] = json!(self.cgroup(id));
        std::fs::write(dir.join("config.json"), serde_json::to_vec(&c).unwrap()).unwrap();
        dir
    }

    pub fn version(&self) -> String {
        let o = Command::new(&self.bin).arg("--version").output();
        let text = o.map(|o| String::from_utf8_lossy(&o.stdout).to_string());
        let text = text.unwrap_or_default();
        text.lines().next().unwrap_or("").to_string()
    }

    /// Removes what a scenario left: every container of this runtime, forced.
    pub fn clean(&self) {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return;
        };
        for e in entries.flatten() {
            let id = e.file_name().to_string_lossy().to_string();
            if !id.starts_with('@') && !id.starts_with('.') {
                let _ = self.cmd(&["delete", "--force", &id]).status();
            }
        }
    }
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let extra = ["/usr/local/cargo/bin", "/root/.cargo/bin"];
    let found = path
        .split(':')
        .chain(extra)
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file());
    found
}

/// The base config: the runtime-spec default (`berth spec`, as `runc spec` writes it) made
/// non-interactive, over an absolute rootfs path shared by every bundle, optionally with the
/// Docker-like seccomp profile of the tests.
pub fn base_config(rootfs: &Path, seccomp: bool) -> Value {
    let mut c = berth_tests::default_config("bench");
    // The oldest version every peer takes (crun 1.8 refuses 1.2).
    c["ociVersion"] = json!("1.0.2");
    c["root"] = json!({"path": rootfs, "readonly": true});
    c["hostname"] = json!("bench");
    if seccomp {
        let p =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/seccomp-docker-like.json");
        let profile: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        c["linux"]["seccomp"] = profile;
    }
    c
}
