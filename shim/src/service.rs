//! The shim's entry points as containerd calls them: `start` (launch or reuse a shim
//! process), `delete` (clean up after a shim that died), and the long-running server.

use crate::task::Tasks;
use containerd_shim::api::DeleteResponse;
use containerd_shim::publisher::RemotePublisher;
use containerd_shim::{Config, ExitSignal, Flags, StartOpts};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Annotations that put several containers in one shim: CRI's pod sandbox, and the group
/// containerd's runc shim honours.
const GROUP_ANNOTATIONS: [&str; 2] = [
    "io.kubernetes.cri.sandbox-id",
    "io.containerd.runc.v2.group",
];

pub struct Service {
    namespace: String,
    id: String,
    bundle: PathBuf,
    exit: Arc<ExitSignal>,
}

/// Where berth keeps the state of this namespace's containers.
pub fn state_root(namespace: &str) -> PathBuf {
    let base =
        std::env::var_os("BERTH_SHIM_ROOT").map_or("/run/containerd/berth".into(), PathBuf::from);
    base.join(namespace)
}

impl containerd_shim::Shim for Service {
    type T = Tasks;

    fn new(_runtime_id: &str, args: &Flags, _config: &mut Config) -> Self {
        Service {
            namespace: args.namespace.clone(),
            id: args.id.clone(),
            bundle: PathBuf::from(&args.bundle),
            exit: Arc::new(ExitSignal::default()),
        }
    }

    fn start_shim(&mut self, opts: StartOpts) -> containerd_shim::Result<String> {
        let bundle = std::env::current_dir().map_err(|e| other(format!("cwd: {e}")))?;
        let grouping = group(&bundle).unwrap_or_else(|| opts.id.clone());
        let (_pid, address) = containerd_shim::spawn(opts, &grouping, Vec::new())?;
        containerd_shim::util::write_address(&address)?;
        quiet_until_exit();
        Ok(address)
    }

    /// After a shim died: remove what it left of the container (its process, cgroup, state,
    /// rootfs mount) and report it killed.
    fn delete_shim(&mut self) -> containerd_shim::Result<DeleteResponse> {
        let bundle = if self.bundle.as_os_str().is_empty() {
            std::env::current_dir().unwrap_or_default()
        } else {
            self.bundle.clone()
        };
        let rt = berth_core::Runtime::new(state_root(&self.namespace));
        if let Ok(c) = rt.load(&self.id) {
            let _ = c.delete(true);
        }
        crate::bundle::unmount_rootfs(&bundle);
        let mut resp = DeleteResponse::new();
        resp.exit_status = 128 + libc::SIGKILL as u32;
        resp.exited_at = Some(containerd_shim::util::timestamp()?).into();
        Ok(resp)
    }

    fn wait(&mut self) {
        self.exit.wait();
    }

    /// The crate's own publisher is dropped (closing its connection): events are sent by a
    /// client of ours that names event types without protobuf reflection.
    fn create_task_service(&self, publisher: RemotePublisher) -> Tasks {
        drop(publisher);
        let address = std::env::var("TTRPC_ADDRESS").unwrap_or_default();
        Tasks::new(&self.namespace, &address, self.exit.clone())
    }
}

/// `start` has nothing to do with signals once the shim is spawned, so it blocks them until
/// it exits. The crate drops its signal socket when `start` returns but leaves the handlers
/// installed: a SIGCHLD from the spawned shim arriving then (one that finds the group's
/// socket taken exits at once) made the handler write to the closed socket, whose EPIPE
/// raised SIGPIPE, whose handler wrote again — a loop that never let `start` exit.
fn quiet_until_exit() {
    // SAFETY: a sigset_t filled by sigfillset, for this thread's own mask; `start` is
    // single-threaded at this point.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
    }
}

/// The group a container's shim belongs to, from its bundle's annotations.
fn group(bundle: &Path) -> Option<String> {
    let text = std::fs::read(bundle.join("config.json")).ok()?;
    let spec: serde_json::Value = serde_json::from_slice(&text).ok()?;
    let annotations = spec.get("annotations")?;
    GROUP_ANNOTATIONS
        .iter()
        .find_map(|k| annotations.get(k)?.as_str().filter(|v| !v.is_empty()))
        .map(str::to_string)
}

pub fn other(msg: impl Into<String>) -> containerd_shim::Error {
    containerd_shim::Error::Other(msg.into())
}
