//! The OCI lifecycle, one file per operation. A `Container` is a locked state directory plus
//! what is stored in it; every operation takes the lock first, so two commands racing on one
//! id are serialised.

mod create;
mod delete;
mod describe;
mod exec;
mod kill;
mod pause;
mod start;
pub mod state;
mod update;

pub use create::{check, load_spec, ConsoleSocket, CreateOptions};
pub use exec::{ExecOptions, ExecProcess};
pub use kill::parse_signal;
pub use state::FIFO_NAME;

use crate::error::{Error, Result};
use crate::process::parent::Spawned;
use serde::Serialize;
use state::{proc_stat, StateDir, Status, Stored};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The OCI runtime-spec version berth implements.
pub const OCI_VERSION: &str = "1.2.0";

/// The state of a container as `berth state` prints it (runc's fields and names).
#[derive(Debug, Clone, Serialize)]
pub struct State {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
}

/// Where containers' state lives (`--root`).
#[derive(Debug, Clone)]
pub struct Runtime {
    root: PathBuf,
}

pub struct Container {
    dir: StateDir,
    stored: Stored,
    /// Set when this process cloned the init (`create` / `run`): it may wait for it.
    init: Option<Spawned>,
}

impl Runtime {
    pub fn new(root: impl Into<PathBuf>) -> Runtime {
        Runtime { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn create(&self, id: &str, opts: CreateOptions) -> Result<Container> {
        create::create(self, id, opts)
    }

    pub fn load(&self, id: &str) -> Result<Container> {
        let dir = StateDir::open(&self.root, id)?;
        let stored = dir.load()?;
        Ok(Container {
            dir,
            stored,
            init: None,
        })
    }

    /// For `delete --force`: the container, however busy. A command holding the lock while
    /// its setup is stuck (an exec whose child is stopped or held by a seccomp agent, say)
    /// would make force wait for ever; the container's processes, that child among them (it
    /// joins the cgroup first), are killed first, so that command fails and lets go. The
    /// directory of a create killed before it saved any state is removed.
    pub fn load_forced(&self, id: &str) -> Result<Container> {
        let free = match StateDir::open_unless_busy(&self.root, id, false) {
            Err(Error::NotFound(_)) if StateDir::remove_abandoned(&self.root, id)? => {
                return Err(Error::NotFound(id.to_string()))
            }
            other => other?,
        };
        if let Some(dir) = free {
            let stored = dir.load()?;
            return Ok(Container {
                dir,
                stored,
                init: None,
            });
        }
        let busy = self.observe(id)?;
        let _ = busy.stored.cgroup.signal_all(libc::SIGKILL);
        let _ = busy.signal_init(libc::SIGKILL);
        let _ = busy.stored.cgroup.freeze(false);
        self.load(id)
    }

    /// Every container under the root, in id order. Entries that vanish meanwhile are skipped.
    pub fn list(&self) -> Result<Vec<State>> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(format!("reading {}", self.root.display()), e)),
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join(state::STATE_FILE).exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        ids.sort();
        Ok(ids.iter().filter_map(|id| self.state(id).ok()).collect())
    }

    /// A container to watch (state, stats), read without taking its lock: for long-running
    /// readers like `events`, which must not block the commands that change the container.
    pub fn observe(&self, id: &str) -> Result<Container> {
        let dir = StateDir::peek(&self.root, id)?;
        let stored = dir.load()?;
        Ok(Container {
            dir,
            stored,
            init: None,
        })
    }

    /// The state of one container, read without waiting for its lock.
    pub fn state(&self, id: &str) -> Result<State> {
        let dir = StateDir::peek(&self.root, id)?;
        let stored = dir.load().map_err(|e| match e {
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Error::NotFound(id.to_string())
            }
            e => e,
        })?;
        let c = Container {
            dir,
            stored,
            init: None,
        };
        Ok(c.state())
    }
}

impl Container {
    pub fn id(&self) -> &str {
        &self.stored.id
    }

    pub fn pid(&self) -> i32 {
        self.stored.pid
    }

    pub fn bundle(&self) -> &Path {
        &self.stored.bundle
    }

    pub fn spec(&self) -> &oci_spec::runtime::Spec {
        &self.stored.spec
    }

    pub fn cgroup(&self) -> &crate::cgroups::Cgroup {
        &self.stored.cgroup
    }

    /// The status, read from the kernel: a dead (or reused) init pid is `stopped`, a waiting
    /// exec fifo `created`, a frozen cgroup `paused`.
    pub fn status(&self) -> Status {
        if self.stored.pid == 0 {
            // Saved before the init existed: a create in progress, or one that was killed.
            return Status::Creating;
        }
        match proc_stat(self.stored.pid) {
            Some((start, true)) if start == self.stored.start_time => {}
            _ => return Status::Stopped,
        }
        if self.dir.fifo().exists() {
            Status::Created
        } else if self.stored.cgroup.is_frozen() {
            Status::Paused
        } else {
            Status::Running
        }
    }

    pub fn state(&self) -> State {
        let status = self.status();
        self.state_as(status)
    }

    fn state_as(&self, status: Status) -> State {
        let s = &self.stored;
        State {
            oci_version: OCI_VERSION.to_string(),
            id: s.id.clone(),
            pid: if status == Status::Stopped { 0 } else { s.pid },
            status: status.as_str().to_string(),
            bundle: s.bundle.clone(),
            rootfs: s.rootfs.clone(),
            created: s.created.clone(),
            owner: s.owner.clone(),
            annotations: s.annotations.clone(),
        }
    }

    /// The pids in the container's cgroup.
    pub fn pids(&self) -> Result<Vec<i32>> {
        self.stored.cgroup.pids()
    }

    /// Waits for the init to exit and returns its exit code (128+N for signal N). Only for a
    /// container this process created.
    pub fn wait(&mut self) -> Result<i32> {
        let init = self
            .init
            .as_ref()
            .ok_or_else(|| Error::Init("this process did not start the container".into()))?;
        match crate::sys::process::waitpid(init.pid, false) {
            Ok(Some(exit)) => Ok(exit.code()),
            Ok(None) => Err(Error::Init("waitpid returned nothing".into())),
            Err(errno) => Err(Error::Sys {
                what: "waiting for the container init".into(),
                syscall: "waitpid",
                errno,
            }),
        }
    }

    /// poststart and poststop hooks: per the runtime-spec a failure is a warning, and the
    /// lifecycle goes on.
    fn run_late_hooks(
        &self,
        hooks: Option<&Vec<oci_spec::runtime::Hook>>,
        kind: &str,
        status: Status,
    ) {
        let plans = match crate::hooks::plan(hooks, kind) {
            Ok(p) if !p.is_empty() => p,
            _ => return,
        };
        let json = serde_json::to_vec(&self.state_as(status)).unwrap_or_default();
        if let Err(e) = crate::hooks::run_all(&plans, &[&json]) {
            eprintln!("berth: warning: {e}");
        }
    }

    fn wrong_state(&self, status: Status, msg: &'static str) -> Error {
        Error::WrongState {
            id: self.stored.id.clone(),
            status: status.as_str(),
            msg,
        }
    }
}
