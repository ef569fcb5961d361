//! The container's cgroups, written directly to cgroupfs.
//!
//! A `Cgroup` is the container's directory in every hierarchy the host has: the cgroup2 one
//! (joined at birth with `CLONE_INTO_CGROUP`) and, on v1 and hybrid hosts, one per v1
//! hierarchy (joined by the child itself, writing "0" to each `tasks` file). It is stored in
//! the state file, so later commands never re-detect the layout.

mod apply;
pub mod controllers;
pub mod ebpf;
pub mod layout;
pub mod stats;
pub mod writes;

use crate::error::{Error, Result, SysContext};
use crate::sys::{fs, process as p};
use layout::Layout;
use serde::{Deserialize, Serialize};
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

/// The v1 `tasks` files a child joins by itself, and their directories for messages.
#[derive(Debug, Default)]
pub struct CgroupTasks {
    pub fds: Vec<OwnedFd>,
    pub dirs: Vec<PathBuf>,
}

impl CgroupTasks {
    /// Runs in the child: moves the calling (single-threaded) process into every v1 cgroup.
    /// Returns the index of the one that failed.
    pub fn join(&self) -> std::result::Result<(), (usize, crate::sys::Errno)> {
        use std::os::fd::AsRawFd;
        for (i, fd) in self.fds.iter().enumerate() {
            fs::write_all(fd.as_raw_fd(), b"0").map_err(|e| (i, e))?;
        }
        Ok(())
    }

    /// The failed directory, for the runtime's message.
    pub fn shown(&self, i: usize) -> String {
        self.dirs
            .get(i)
            .map_or_else(|| format!("#{i}"), |d| d.display().to_string())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cgroup {
    /// The container's directory in the cgroup2 hierarchy.
    pub v2: Option<PathBuf>,
    /// (hierarchy name under /sys/fs/cgroup, the container's directory there).
    pub v1: Vec<(String, PathBuf)>,
    /// Directories this container made, deepest first: exactly what delete removes.
    #[serde(default)]
    pub created: Vec<PathBuf>,
    /// Where cgroup2 is mounted, and the controllers its root offers.
    #[serde(default)]
    pub v2_root: Option<PathBuf>,
    #[serde(default)]
    pub v2_controllers: Vec<String>,
}

impl Cgroup {
    /// The directories for `cgroups_path` (runc's rules: absolute from each hierarchy's root,
    /// relative from the runtime's own cgroup; none given: `/berth/<id>`).
    pub fn resolve(layout: &Layout, cgroups_path: Option<&Path>, id: &str) -> Result<Cgroup> {
        let given = cgroups_path.filter(|p| !p.as_os_str().is_empty());
        if let Some(p) = given {
            let s = p.to_string_lossy();
            if s.contains(':') {
                return Err(Error::Unsupported(format!(
                    "linux.cgroupsPath {s:?}: systemd slice:prefix:name paths need the systemd cgroup driver, which berth does not have"
                )));
            }
            if p.components().any(|c| c == Component::ParentDir) {
                return Err(Error::invalid(
                    "linux.cgroupsPath",
                    format!("{s:?} contains \"..\""),
                ));
            }
        }
        let default = PathBuf::from("/berth").join(id);
        let rel = given.unwrap_or(&default);
        let own = if rel.is_absolute() {
            None
        } else {
            Some(own_cgroups()?)
        };
        let place = |mount: &Path, key: &str| -> PathBuf {
            let base = own
                .as_ref()
                .and_then(|o| o.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
                .unwrap_or_else(|| PathBuf::from("/"));
            let inner = base.join(rel);
            mount.join(inner.strip_prefix("/").unwrap_or(&inner))
        };
        let v2 = layout.unified.as_ref().map(|m| place(m, ""));
        let v1 = layout
            .v1
            .iter()
            .map(|h| {
                let name = h
                    .mountpoint
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                (name, place(&h.mountpoint, &h.options.join(",")))
            })
            .collect();
        let v2_controllers = layout
            .unified
            .as_ref()
            .and_then(|u| std::fs::read_to_string(u.join("cgroup.controllers")).ok())
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        Ok(Cgroup {
            v2,
            v1,
            created: Vec::new(),
            v2_root: layout.unified.clone(),
            v2_controllers,
        })
    }

    /// Makes every directory, remembering which ones are new. A cpuset directory starts empty
    /// on v1, which would make joining it fail: it inherits its parent's cpus and mems.
    pub fn create(&mut self) -> Result<()> {
        let v1 = self.v1.iter().map(|(c, d)| (d.clone(), is_cpuset(c)));
        let dirs: Vec<(PathBuf, bool)> = self
            .v2
            .iter()
            .map(|d| (d.clone(), false))
            .chain(v1)
            .collect();
        let mut created = Vec::new();
        let result = dirs
            .iter()
            .try_for_each(|(d, cpuset)| make_dirs(d, *cpuset, &mut created));
        created.reverse();
        self.created = created;
        if let Err(e) = result {
            let _ = self.destroy();
            return Err(e);
        }
        Ok(())
    }

    /// The directories `create` would make now, deepest first. Recorded in the state before
    /// they exist, so that a runtime killed in the middle of create leaves what `delete`
    /// needs to remove them.
    pub fn would_create(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        for leaf in self.v2.iter().chain(self.v1.iter().map(|(_, d)| d)) {
            let mut dir = Some(leaf.as_path());
            while let Some(d) = dir.filter(|d| !d.is_dir() && !out.iter().any(|o| o == d)) {
                out.push(d.to_path_buf());
                dir = d.parent();
            }
        }
        out
    }

    /// An fd of the cgroup2 directory for `CLONE_INTO_CGROUP`.
    pub fn v2_fd(&self) -> Result<Option<OwnedFd>> {
        let Some(d) = &self.v2 else { return Ok(None) };
        let c = crate::rootfs::resolve::cstring(d, "cgroup")?;
        fs::openat(libc::AT_FDCWD, &c, libc::O_PATH | libc::O_DIRECTORY, 0)
            .sys("open", || format!("cgroup {}", d.display()))
            .map(Some)
    }

    /// Write ends of the `tasks` file of every v1 directory, for the child to write "0" into.
    /// A thread moving itself through `tasks` is the one v1 attach that skips the kernel's
    /// global threadgroup lock, whose first taking after a quiet spell waits out an RCU grace
    /// period (7-20 ms here); a freshly cloned child is single-threaded, so the thread is the
    /// whole process. The permission check uses the opener's credentials, so a child already
    /// in its new user namespace may write them.
    pub fn v1_tasks(&self) -> Result<CgroupTasks> {
        let mut fds = Vec::with_capacity(self.v1.len());
        for (_, d) in &self.v1 {
            let path = d.join("tasks");
            let c = crate::rootfs::resolve::cstring(&path, "cgroup")?;
            let fd = fs::openat(libc::AT_FDCWD, &c, libc::O_WRONLY, 0)
                .sys("open", || format!("cgroup {}", path.display()))?;
            fds.push(fd);
        }
        let dirs = self.v1.iter().map(|(_, d)| d.clone()).collect();
        Ok(CgroupTasks { fds, dirs })
    }

    /// The processes of the container, from the cgroup2 directory when there is one.
    pub fn pids(&self) -> Result<Vec<i32>> {
        let dir = self
            .v2
            .as_ref()
            .or_else(|| self.v1_dir("pids"))
            .or(self.v1.first().map(|(_, d)| d));
        let Some(dir) = dir else {
            return Ok(Vec::new());
        };
        let text = match std::fs::read_to_string(dir.join("cgroup.procs")) {
            Ok(t) => t,
            // Never made (a create killed before it got there) or already removed.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(Error::Cgroup(format!(
                    "reading {}/cgroup.procs: {e}",
                    dir.display()
                )))
            }
        };
        Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
    }

    fn v1_dir(&self, name: &str) -> Option<&PathBuf> {
        self.v1.iter().find(|(n, _)| n == name).map(|(_, d)| d)
    }

    /// Freezes or thaws every process: the v1 freezer where the host has one, else
    /// cgroup.freeze. Waits until the kernel reports the new state.
    pub fn freeze(&self, frozen: bool) -> Result<()> {
        if let Some(d) = self.v1_dir("freezer") {
            let (want, file) = (
                if frozen { "FROZEN" } else { "THAWED" },
                d.join("freezer.state"),
            );
            return write_and_wait(&file, want, |s| s.trim() == want);
        }
        let d = self
            .v2
            .as_ref()
            .ok_or_else(|| Error::Cgroup("no freezer on this host".into()))?;
        std::fs::write(d.join("cgroup.freeze"), if frozen { "1" } else { "0" })
            .map_err(|e| Error::Cgroup(format!("writing {}/cgroup.freeze: {e}", d.display())))?;
        let want = if frozen { "frozen 1" } else { "frozen 0" };
        wait_for(&d.join("cgroup.events"), |s| s.lines().any(|l| l == want))
    }

    pub fn is_frozen(&self) -> bool {
        if let Some(d) = self.v1_dir("freezer") {
            return std::fs::read_to_string(d.join("freezer.state"))
                .is_ok_and(|s| s.trim() == "FROZEN");
        }
        self.v2.as_ref().is_some_and(|d| {
            std::fs::read_to_string(d.join("cgroup.events"))
                .is_ok_and(|s| s.lines().any(|l| l == "frozen 1"))
        })
    }

    /// Sends `sig` to every process in the container. SIGKILL uses cgroup.kill where the
    /// kernel has it: one write, no race with forks.
    pub fn signal_all(&self, sig: i32) -> Result<()> {
        if sig == libc::SIGKILL {
            if let Some(d) = &self.v2 {
                if std::fs::write(d.join("cgroup.kill"), "1").is_ok() {
                    return Ok(());
                }
            }
        }
        for pid in self.pids()? {
            match p::kill(pid, sig) {
                Ok(()) | Err(crate::sys::Errno(libc::ESRCH)) => {}
                Err(e) => return Err(e).sys("kill", || format!("signalling pid {pid}")),
            }
        }
        Ok(())
    }

    /// Removes what `create` made, deepest first. Exiting processes may keep a directory busy
    /// for a moment: retried briefly.
    pub fn destroy(&self) -> Result<()> {
        for d in &self.created {
            let deadline = Instant::now() + Duration::from_secs(2);
            loop {
                match std::fs::remove_dir(d) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(e)
                        if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline =>
                    {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    // A parent another container still uses stays.
                    Err(e)
                        if e.raw_os_error() == Some(libc::ENOTEMPTY)
                            || e.raw_os_error() == Some(libc::EBUSY) =>
                    {
                        break
                    }
                    Err(e) => return Err(Error::Cgroup(format!("removing {}: {e}", d.display()))),
                }
            }
        }
        Ok(())
    }
}

fn is_cpuset(controllers: &str) -> bool {
    controllers.split(',').any(|c| c == "cpuset")
}

/// Makes `dir` and its missing parents. On a v1 cpuset hierarchy every level is also
/// checked, not only the new ones: a parent that a concurrent create has just made may not
/// have its cpus and mems yet, and a child of an empty cpuset cannot be joined (ENOSPC).
fn make_dirs(dir: &Path, cpuset: bool, created: &mut Vec<PathBuf>) -> Result<()> {
    let ready = |dir: &Path| if cpuset { inherit_cpuset(dir) } else { Ok(()) };
    // A parent made by another container can vanish between our check and our mkdir, when
    // that container is deleted meanwhile and the parent was empty: make it again.
    for _ in 0..3 {
        if dir.is_dir() {
            return ready(dir);
        }
        if let Some(parent) = dir.parent() {
            make_dirs(parent, cpuset, created)?;
        }
        match std::fs::create_dir(dir) {
            Ok(()) => {
                created.push(dir.to_path_buf());
                return ready(dir);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return ready(dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::Cgroup(format!("creating {}: {e}", dir.display()))),
        }
    }
    Err(Error::Cgroup(format!(
        "creating {}: its parent keeps disappearing",
        dir.display()
    )))
}

fn inherit_cpuset(dir: &Path) -> Result<()> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let own = dir.join(file);
        // Only v1 cpuset directories have these files at creation, empty.
        let Ok(cur) = std::fs::read_to_string(&own) else {
            return Ok(());
        };
        if cur.trim().is_empty() {
            let from = std::fs::read_to_string(parent.join(file)).unwrap_or_default();
            std::fs::write(&own, from.trim())
                .map_err(|e| Error::Cgroup(format!("writing {}: {e}", own.display())))?;
        }
    }
    Ok(())
}

/// The runtime's own cgroup in each hierarchy (key: controllers joined by ',', "" for v2).
fn own_cgroups() -> Result<Vec<(String, PathBuf)>> {
    let text = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| Error::Cgroup(format!("reading /proc/self/cgroup: {e}")))?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let (_, ctrl, path) = (it.next()?, it.next()?, it.next()?);
            Some((ctrl.to_string(), PathBuf::from(path)))
        })
        .collect())
}

fn write_and_wait(file: &Path, value: &str, done: impl Fn(&str) -> bool) -> Result<()> {
    std::fs::write(file, value)
        .map_err(|e| Error::Cgroup(format!("writing {}: {e}", file.display())))?;
    wait_for(file, done)
}

fn wait_for(file: &Path, done: impl Fn(&str) -> bool) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = std::fs::read_to_string(file)
            .map_err(|e| Error::Cgroup(format!("reading {}: {e}", file.display())))?;
        if done(&s) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Error::Cgroup(format!(
                "{} did not settle: {}",
                file.display(),
                s.trim()
            )));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
