//! podman and buildah with `--runtime` pointing at the runtime under test, each test with
//! storage, run directories, configuration, a signature policy and a cgroup parent of its
//! own (nothing of the host's container setup is read or changed), and the two-layer busybox
//! image loaded. buildah shares podman's storage, so podman runs what buildah builds. Drop
//! resets it all.

use super::{runtime, BASE};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

pub use super::containerd::IMAGE;

pub struct Podman {
    pub dir: PathBuf,
    /// The cgroup every container of this test goes under (`--cgroup-parent`).
    pub cgroup_parent: String,
}

impl Podman {
    pub fn start(name: &str) -> Podman {
        let dir = PathBuf::from(BASE).join(format!("podman-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // This machine has no CAP_SYS_RESOURCE: podman's default rlimits (nofile 1048576,
        // nproc as high as podman's own) cannot be set by any runtime, so they are pinned low.
        let conf = "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\
                    [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n";
        std::fs::write(dir.join("containers.conf"), conf).unwrap();
        let policy = r#"{"default":[{"type":"insecureAcceptAnything"}]}"#;
        std::fs::write(dir.join("policy.json"), policy).unwrap();
        std::fs::create_dir_all(dir.join("tmp")).unwrap();
        let p = Podman {
            dir,
            cgroup_parent: format!("/berth-test-podman-{name}"),
        };
        let tar = super::containerd::image_tar();
        let o = p.podman(&["load", "-i", tar.to_str().unwrap()]);
        assert!(
            o.status.success(),
            "podman load: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        p
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            .arg("--root")
            .arg(self.dir.join("root"))
            .arg("--runroot")
            .arg(self.dir.join("run"))
            .arg("--tmpdir")
            .arg(self.dir.join("tmp"))
            .arg("--runtime")
            .arg(runtime())
            .args(args)
            .stdin(Stdio::null());
        c
    }

    pub fn podman(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// `buildah` on this test's storage; `bud` gets `--runtime` and the cgroup parent.
    pub fn buildah_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("buildah");
        c.env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            // Bundles of RUN steps go here instead of /var/tmp.
            .env("TMPDIR", self.dir.join("tmp"))
            .arg("--root")
            .arg(self.dir.join("root"))
            .arg("--runroot")
            .arg(self.dir.join("run"))
            .args(args)
            .stdin(Stdio::null());
        c
    }

    /// `buildah bud` of the context directory `ctx` into `tag`, with `runtime` doing the RUN
    /// steps, no network, and this test's cgroup parent.
    pub fn bud(&self, runtime: &std::path::Path, ctx: &std::path::Path, tag: &str) -> Output {
        let rt = runtime.display().to_string();
        let parent = format!("--cgroup-parent={}", self.cgroup_parent);
        let policy = self.policy();
        let c = ctx.display().to_string();
        let args = [
            "bud",
            "--runtime",
            &rt,
            "--isolation",
            "oci",
            "--network",
            "none",
            &parent,
            "--signature-policy",
            &policy,
            "-t",
            tag,
            &c,
        ];
        self.buildah_cmd(&args).output().unwrap()
    }

    /// The signature policy of this test (accept anything: all images are local).
    pub fn policy(&self) -> String {
        self.dir.join("policy.json").display().to_string()
    }

    /// `containers-storage:` reference of an image in this test's storage, for skopeo.
    pub fn storage_ref(&self, image: &str) -> String {
        format!(
            "containers-storage:[overlay@{}+{}]{image}",
            self.dir.join("root").display(),
            self.dir.join("run").display()
        )
    }

    /// `podman run` with this test's cgroup parent and no network unless `flags` name one.
    pub fn run(&self, flags: &[&str], args: &[&str]) -> Output {
        let parent = format!("--cgroup-parent={}", self.cgroup_parent);
        let mut all = vec!["run", parent.as_str()];
        if !flags.iter().any(|f| f.starts_with("--network")) {
            all.push("--network=none");
        }
        all.extend(flags);
        all.push(IMAGE);
        all.extend(args);
        self.podman(&all)
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.podman(&["rm", "--all", "--force", "--time", "0"]);
        let _ = self.podman(&["system", "reset", "--force"]);
        super::containerd::cleanup_dir(&self.dir);
        // The parent holds conmon's own cgroup (podman makes it, and leaves it) besides the
        // containers' (gone with them).
        super::remove_cgroup_tree(&self.cgroup_parent);
    }
}
