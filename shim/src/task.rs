//! The Task service: containerd's requests for the containers of this shim, each answered by
//! calling berth-core in-process. Exits come from containerd-shim's reaper (waitpid on
//! SIGCHLD) and are matched to processes in one thread.

use crate::bundle;
use crate::io::{self, Stdio};
use crate::process::{Proc, Status};
use crate::service::state_root;
use berth_core::cgroups::Cgroup;
use berth_core::oci_spec::runtime::{LinuxResources, Process};
use berth_core::{ConsoleSocket, Container, CreateOptions, ExecOptions, Runtime};
use containerd_shim::api::Empty;
use containerd_shim::api::{self, Status as TaskStatus};
use containerd_shim::monitor::{monitor_subscribe, Subject, Topic};
use containerd_shim::protos::api::{Envelope, ForwardRequest};
use containerd_shim::protos::events::task as ev;
use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim::protos::protobuf::{Message, MessageField};
use containerd_shim::protos::shim_sync::{Client, EventsClient};
use containerd_shim::protos::topics;
use containerd_shim::protos::ttrpc::{self, Code};
use containerd_shim::{ExitSignal, TtrpcContext, TtrpcResult};
use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

pub struct Tasks {
    inner: Arc<Inner>,
}

struct Inner {
    namespace: String,
    runtime: Runtime,
    events: Option<EventsClient>,
    containers: Mutex<HashMap<String, Arc<Ctr>>>,
    book: Mutex<ExitBook>,
    exit: Arc<ExitSignal>,
}

/// Which pid is which process, and exits that came before their pid was known (an exec'd
/// process can exit before `exec` returns its pid).
#[derive(Default)]
struct ExitBook {
    by_pid: HashMap<i32, (String, Arc<Proc>)>,
    early: HashMap<i32, i32>,
}

struct Ctr {
    id: String,
    bundle: PathBuf,
    container: Mutex<Option<Container>>,
    init: Arc<Proc>,
    execs: Mutex<HashMap<String, Arc<Proc>>>,
    mounted_rootfs: bool,
    oom: Option<Arc<crate::oom::OomWatch>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn status(code: Code, msg: impl Into<String>) -> ttrpc::Error {
    ttrpc::Error::RpcStatus(ttrpc::get_status(code, msg.into()))
}

/// berth-core's errors as the gRPC codes containerd turns back into its own error kinds.
fn from_core(e: berth_core::Error) -> ttrpc::Error {
    use berth_core::Error as E;
    let code = match &e {
        E::NotFound(_) => Code::NOT_FOUND,
        E::Exists(_) => Code::ALREADY_EXISTS,
        E::Invalid { .. } | E::Config { .. } | E::Bundle { .. } | E::BadId { .. } => {
            Code::INVALID_ARGUMENT
        }
        E::Unsupported(_) => Code::UNIMPLEMENTED,
        E::WrongState { .. } => Code::FAILED_PRECONDITION,
        _ => Code::UNKNOWN,
    };
    status(code, e.to_string())
}

/// How long an exit waits for containerd to read the process's output: a reader that takes
/// longer is not coming (containerd opens its FIFO side before it asks for the process).
const DRAIN_BOUND: std::time::Duration = std::time::Duration::from_secs(2);

fn now() -> Timestamp {
    containerd_shim::util::timestamp().unwrap_or_default()
}

impl Tasks {
    /// `ttrpc_address` is containerd's event socket.
    pub fn new(namespace: &str, ttrpc_address: &str, exit: Arc<ExitSignal>) -> Tasks {
        let events = containerd_shim::util::connect(ttrpc_address)
            .map_err(|e| log::error!("cannot reach containerd for events: {e}"))
            .ok()
            .and_then(|fd| Client::new(fd).ok())
            .map(EventsClient::new);
        let inner = Arc::new(Inner {
            namespace: namespace.to_string(),
            runtime: Runtime::new(state_root(namespace)),
            events,
            containers: Mutex::default(),
            book: Mutex::default(),
            exit,
        });
        // Subscribed before any container exists, so no exit is missed.
        match monitor_subscribe(Topic::Pid) {
            Ok(sub) => {
                let weak = Arc::downgrade(&inner);
                std::thread::spawn(move || {
                    for e in sub.rx.iter() {
                        let Some(inner) = weak.upgrade() else { return };
                        if let Subject::Pid(pid) = e.subject {
                            inner.exited(pid, e.exit_code);
                        }
                    }
                });
            }
            Err(e) => log::error!("cannot watch for exits: {e}"),
        }
        Tasks { inner }
    }
}

impl Inner {
    /// Sends an event to containerd. The type is named here rather than looked up through
    /// protobuf reflection, whose descriptor tables would cost every shim ~300 KiB of heap.
    fn publish(&self, topic: &str, type_name: &str, event: &impl Message) {
        let Some(client) = &self.events else { return };
        let mut any = Any::new();
        any.type_url = format!("containerd.events.{type_name}");
        // Statically typed: write_to_bytes_dyn would build the descriptors after all.
        any.value = match event.write_to_bytes() {
            Ok(v) => v,
            Err(e) => return log::warn!("encoding {topic}: {e}"),
        };
        let mut env = Envelope::new();
        env.topic = topic.to_string();
        env.namespace = self.namespace.clone();
        env.timestamp = MessageField::some(now());
        env.event = MessageField::some(any);
        let mut req = ForwardRequest::new();
        req.envelope = MessageField::some(env);
        if let Err(e) = client.forward(ttrpc::context::Context::default(), &req) {
            log::warn!("publishing {topic}: {e}");
        }
    }

    fn ctr(&self, id: &str) -> TtrpcResult<Arc<Ctr>> {
        lock(&self.containers)
            .get(id)
            .cloned()
            .ok_or_else(|| status(Code::NOT_FOUND, format!("container {id} not found")))
    }

    /// The init (`exec_id` empty) or an exec'd process of a container.
    fn proc(&self, id: &str, exec_id: &str) -> TtrpcResult<(Arc<Ctr>, Arc<Proc>)> {
        let c = self.ctr(id)?;
        if exec_id.is_empty() {
            let p = c.init.clone();
            return Ok((c, p));
        }
        let p = lock(&c.execs).get(exec_id).cloned();
        let p =
            p.ok_or_else(|| status(Code::NOT_FOUND, format!("exec {exec_id} of {id} not found")))?;
        Ok((c, p))
    }

    /// Names `pid` as process `p` of container `cid`; an exit seen before is applied now.
    fn register(self: &Arc<Self>, cid: &str, p: &Arc<Proc>, pid: i32) {
        p.set_pid(pid);
        let early = {
            let mut b = lock(&self.book);
            match b.early.remove(&pid) {
                Some(code) => Some(code),
                None => {
                    b.by_pid.insert(pid, (cid.to_string(), p.clone()));
                    None
                }
            }
        };
        if let Some(code) = early {
            self.finish(cid, p, code);
        }
    }

    fn exited(self: &Arc<Self>, pid: i32, code: i32) {
        let found = {
            let mut b = lock(&self.book);
            let found = b.by_pid.remove(&pid);
            if found.is_none() {
                // Not ours yet (or never: a logging program). Kept a while, bounded.
                if b.early.len() > 4096 {
                    b.early.clear();
                }
                b.early.insert(pid, code);
            }
            found
        };
        if let Some((cid, p)) = found {
            self.finish(&cid, &p, code);
        }
    }

    /// Records and announces an exit once the process's output has reached containerd. That
    /// wait happens off the reaper's thread when there is anything to wait for, so one
    /// container's unread output never delays another's exit.
    fn finish(self: &Arc<Self>, cid: &str, p: &Arc<Proc>, code: i32) {
        let at = now();
        let drain = lock(&p.io).drain();
        if drain.done() {
            return self.record_exit(cid, p, code, at);
        }
        let (inner, cid2, p2, at2) = (self.clone(), cid.to_string(), p.clone(), at.clone());
        let waiter = std::thread::Builder::new()
            .name("exit".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                drain.wait(DRAIN_BOUND);
                inner.record_exit(&cid2, &p2, code, at2);
            });
        if let Err(e) = waiter {
            log::warn!("no thread to wait for the output of {cid}: {e}");
            self.record_exit(cid, p, code, at);
        }
    }

    fn record_exit(&self, cid: &str, p: &Proc, code: i32, at: Timestamp) {
        if p.exec_id.is_empty() {
            let ctr = lock(&self.containers).get(cid).cloned();
            if let Some(oom) = ctr.as_ref().and_then(|c| c.oom.as_ref()) {
                oom.check();
            }
        }
        if p.set_exited(code, at) {
            self.publish_exit(cid, p);
        }
    }

    /// TaskExit for `p`, if it exited and its start has been announced.
    fn publish_exit(&self, cid: &str, p: &Proc) {
        let Some(exit) = p.exit_to_publish() else {
            return;
        };
        let mut e = ev::TaskExit::new();
        e.container_id = cid.to_string();
        e.id = if p.exec_id.is_empty() {
            cid.to_string()
        } else {
            p.exec_id.clone()
        };
        e.pid = p.pid() as u32;
        e.exit_status = exit.code;
        e.exited_at = MessageField::some(exit.at);
        self.publish(topics::TASK_EXIT_EVENT_TOPIC, "TaskExit", &e);
    }

    fn with_container<T>(
        &self,
        c: &Ctr,
        f: impl FnOnce(&mut Container) -> berth_core::Result<T>,
    ) -> TtrpcResult<T> {
        let mut guard = lock(&c.container);
        let container = guard
            .as_mut()
            .ok_or_else(|| status(Code::NOT_FOUND, format!("container {} was deleted", c.id)))?;
        f(container).map_err(from_core)
    }
}

type StdioFds = Option<[std::os::fd::OwnedFd; 3]>;

/// A process's stdio before it exists: its fds, or the console socket berth-core sends the
/// pty on.
fn prepare_io(
    stdio: &Stdio,
    id: &str,
    ns: &str,
) -> TtrpcResult<(StdioFds, Option<ConsoleSocket>, io::Pending)> {
    io::prepare(stdio, id, ns).map_err(|e| status(Code::INVALID_ARGUMENT, format!("stdio: {e}")))
}

/// Once the process exists: its terminal, if it has one, connected to its stdio.
fn finish_io(pending: io::Pending) -> TtrpcResult<io::Io> {
    pending
        .finish()
        .map_err(|e| status(Code::UNKNOWN, format!("terminal: {e}")))
}

impl Tasks {
    fn create_inner(&self, req: &api::CreateTaskRequest, mounted: bool) -> TtrpcResult<u32> {
        let inner = &self.inner;
        let (no_pivot, no_new_keyring) = bundle::options(req)?;
        let stdio = Stdio {
            stdin: req.stdin.clone(),
            stdout: req.stdout.clone(),
            stderr: req.stderr.clone(),
            terminal: req.terminal,
        };
        let (fds, console_socket, pending) = prepare_io(&stdio, &req.id, &inner.namespace)?;
        let opts = CreateOptions {
            bundle: PathBuf::from(&req.bundle),
            console_socket,
            pid_file: None,
            preserve_fds: 0,
            no_pivot,
            no_new_keyring,
            stdio: fds,
        };
        let container = inner.runtime.create(&req.id, opts).map_err(from_core)?;
        let pid = container.pid();
        let pio = finish_io(pending)?;
        let init = Arc::new(Proc::new("", stdio, None));
        *lock(&init.io) = pio;
        let oom = self.watch_oom(&req.id, container.cgroup());
        let ctr = Arc::new(Ctr {
            id: req.id.clone(),
            bundle: PathBuf::from(&req.bundle),
            container: Mutex::new(Some(container)),
            init: init.clone(),
            execs: Mutex::default(),
            mounted_rootfs: mounted,
            oom,
        });
        lock(&inner.containers).insert(req.id.clone(), ctr);
        inner.register(&req.id, &init, pid);
        Ok(pid as u32)
    }

    fn start_exec(&self, c: &Ctr, p: &Arc<Proc>) -> TtrpcResult<i32> {
        let spec = p
            .spec
            .clone()
            .ok_or_else(|| status(Code::FAILED_PRECONDITION, "the exec has no process spec"))?;
        let (fds, console_socket, pending) = prepare_io(&p.stdio, &c.id, &self.inner.namespace)?;
        let opts = ExecOptions {
            console_socket,
            pid_file: None,
            preserve_fds: 0,
            stdio: fds,
        };
        let started = self.inner.with_container(c, |ct| ct.exec(&spec, opts))?;
        *lock(&p.io) = finish_io(pending)?;
        let pid = started.pid;
        *lock(&p.pidfd) = Some(started.pidfd);
        p.set_running();
        self.inner.register(&c.id, p, pid);
        Ok(pid)
    }
}

impl containerd_shim::Task for Tasks {
    fn create(
        &self,
        _ctx: &TtrpcContext,
        req: api::CreateTaskRequest,
    ) -> TtrpcResult<api::CreateTaskResponse> {
        if lock(&self.inner.containers).contains_key(&req.id) {
            return Err(status(
                Code::ALREADY_EXISTS,
                format!("container {} exists", req.id),
            ));
        }
        if !req.checkpoint.is_empty() {
            return Err(status(
                Code::UNIMPLEMENTED,
                "restoring a checkpoint is not implemented",
            ));
        }
        let bundle = PathBuf::from(&req.bundle);
        let mounted = bundle::mount_rootfs(&req.rootfs, &bundle)?;
        let pid = match self.create_inner(&req, mounted) {
            Ok(pid) => pid,
            Err(e) => {
                if mounted {
                    bundle::unmount_rootfs(&bundle);
                }
                return Err(e);
            }
        };
        let mut e = ev::TaskCreate::new();
        e.container_id = req.id.clone();
        e.bundle = req.bundle.clone();
        e.rootfs = req.rootfs.clone();
        let mut tio = ev::TaskIO::new();
        tio.stdin = req.stdin.clone();
        tio.stdout = req.stdout.clone();
        tio.stderr = req.stderr.clone();
        tio.terminal = req.terminal;
        e.io = MessageField::some(tio);
        e.pid = pid;
        self.inner
            .publish(topics::TASK_CREATE_EVENT_TOPIC, "TaskCreate", &e);
        let mut resp = api::CreateTaskResponse::new();
        resp.pid = pid;
        Ok(resp)
    }

    fn start(
        &self,
        _ctx: &TtrpcContext,
        req: api::StartRequest,
    ) -> TtrpcResult<api::StartResponse> {
        let (c, p) = self.inner.proc(&req.id, &req.exec_id)?;
        let pid = if req.exec_id.is_empty() {
            self.inner.with_container(&c, |ct| ct.start())?;
            p.set_running();
            let mut e = ev::TaskStart::new();
            e.container_id = c.id.clone();
            e.pid = p.pid() as u32;
            self.inner
                .publish(topics::TASK_START_EVENT_TOPIC, "TaskStart", &e);
            p.announce();
            self.inner.publish_exit(&c.id, &p);
            p.pid()
        } else {
            let pid = self.start_exec(&c, &p)?;
            let mut e = ev::TaskExecStarted::new();
            e.container_id = c.id.clone();
            e.exec_id = req.exec_id.clone();
            e.pid = pid as u32;
            self.inner
                .publish(topics::TASK_EXEC_STARTED_EVENT_TOPIC, "TaskExecStarted", &e);
            p.announce();
            self.inner.publish_exit(&c.id, &p);
            pid
        };
        let mut resp = api::StartResponse::new();
        resp.pid = pid as u32;
        Ok(resp)
    }

    fn state(
        &self,
        _ctx: &TtrpcContext,
        req: api::StateRequest,
    ) -> TtrpcResult<api::StateResponse> {
        let (c, p) = self.inner.proc(&req.id, &req.exec_id)?;
        let paused = req.exec_id.is_empty()
            && lock(&c.container)
                .as_ref()
                .is_some_and(|ct| ct.status() == berth_core::Status::Paused);
        let s = p.state();
        let mut resp = api::StateResponse::new();
        resp.id = if req.exec_id.is_empty() {
            c.id.clone()
        } else {
            req.exec_id.clone()
        };
        resp.exec_id = req.exec_id.clone();
        resp.bundle = c.bundle.display().to_string();
        resp.pid = s.pid as u32;
        resp.status = match (s.status, paused) {
            (Status::Stopped, _) => TaskStatus::STOPPED,
            (_, true) => TaskStatus::PAUSED,
            (Status::Created, _) => TaskStatus::CREATED,
            (Status::Running, _) => TaskStatus::RUNNING,
        }
        .into();
        resp.stdin = p.stdio.stdin.clone();
        resp.stdout = p.stdio.stdout.clone();
        resp.stderr = p.stdio.stderr.clone();
        resp.terminal = p.stdio.terminal;
        if let Some(e) = &s.exit {
            resp.exit_status = e.code;
            resp.exited_at = MessageField::some(e.at.clone());
        }
        Ok(resp)
    }

    fn delete(
        &self,
        _ctx: &TtrpcContext,
        req: api::DeleteRequest,
    ) -> TtrpcResult<api::DeleteResponse> {
        let (c, p) = self.inner.proc(&req.id, &req.exec_id)?;
        let exit = p.state().exit.clone();
        if !req.exec_id.is_empty() {
            if exit.is_none() && p.state().status == Status::Running {
                return Err(status(
                    Code::FAILED_PRECONDITION,
                    "the exec'd process is still running",
                ));
            }
            lock(&c.execs).remove(&req.exec_id);
        } else {
            let container = lock(&c.container).take();
            if let Some(ct) = container {
                let force = exit.is_none();
                if let Err(e) = ct.delete(force) {
                    log::warn!("deleting {}: {e}", c.id);
                }
            }
            if c.mounted_rootfs {
                bundle::unmount_rootfs(&c.bundle);
            }
            lock(&self.inner.containers).remove(&c.id);
        }
        let mut resp = api::DeleteResponse::new();
        resp.pid = p.pid() as u32;
        if let Some(e) = &exit {
            resp.exit_status = e.code;
            resp.exited_at = MessageField::some(e.at.clone());
        }
        if req.exec_id.is_empty() {
            // An init that never started still had its exit: say so before the delete.
            p.announce();
            self.inner.publish_exit(&c.id, &p);
            let mut e = ev::TaskDelete::new();
            e.container_id = c.id.clone();
            e.id = c.id.clone();
            e.pid = resp.pid;
            e.exit_status = resp.exit_status;
            e.exited_at = resp.exited_at.clone();
            self.inner
                .publish(topics::TASK_DELETE_EVENT_TOPIC, "TaskDelete", &e);
        }
        Ok(resp)
    }

    fn pids(&self, _ctx: &TtrpcContext, req: api::PidsRequest) -> TtrpcResult<api::PidsResponse> {
        let c = self.inner.ctr(&req.id)?;
        let pids = self.inner.with_container(&c, |ct| ct.pids())?;
        let mut resp = api::PidsResponse::new();
        resp.processes = pids
            .into_iter()
            .map(|pid| {
                let mut info = containerd_shim::protos::types::task::ProcessInfo::new();
                info.pid = pid as u32;
                info
            })
            .collect();
        Ok(resp)
    }

    fn pause(&self, _ctx: &TtrpcContext, req: api::PauseRequest) -> TtrpcResult<Empty> {
        let c = self.inner.ctr(&req.id)?;
        self.inner.with_container(&c, |ct| ct.pause())?;
        let mut e = ev::TaskPaused::new();
        e.container_id = c.id.clone();
        self.inner
            .publish(topics::TASK_PAUSED_EVENT_TOPIC, "TaskPaused", &e);
        Ok(Empty::new())
    }

    fn resume(&self, _ctx: &TtrpcContext, req: api::ResumeRequest) -> TtrpcResult<Empty> {
        let c = self.inner.ctr(&req.id)?;
        self.inner.with_container(&c, |ct| ct.resume())?;
        let mut e = ev::TaskResumed::new();
        e.container_id = c.id.clone();
        self.inner
            .publish(topics::TASK_RESUMED_EVENT_TOPIC, "TaskResumed", &e);
        Ok(Empty::new())
    }

    fn checkpoint(
        &self,
        _ctx: &TtrpcContext,
        _req: api::CheckpointTaskRequest,
    ) -> TtrpcResult<Empty> {
        Err(status(
            Code::UNIMPLEMENTED,
            "checkpoint is not implemented by berth",
        ))
    }

    fn kill(&self, _ctx: &TtrpcContext, req: api::KillRequest) -> TtrpcResult<Empty> {
        let (c, p) = self.inner.proc(&req.id, &req.exec_id)?;
        if p.state().exit.is_some() && !req.all {
            return Err(status(Code::NOT_FOUND, "process already finished"));
        }
        let sig = req.signal as i32;
        if req.exec_id.is_empty() {
            self.inner.with_container(&c, |ct| ct.kill(sig, req.all))?;
            // A created container killed before start exits without a start: its exit is
            // news anyway.
            p.announce();
            self.inner.publish_exit(&c.id, &p);
        } else {
            let pidfd = lock(&p.pidfd);
            let Some(fd) = pidfd.as_ref() else {
                return Err(status(
                    Code::NOT_FOUND,
                    "the exec'd process has not started",
                ));
            };
            berth_core::sys::process::pidfd_send_signal(fd.as_raw_fd(), sig)
                .map_err(|e| status(Code::NOT_FOUND, format!("kill: {e}")))?;
        }
        Ok(Empty::new())
    }

    fn exec(&self, _ctx: &TtrpcContext, req: api::ExecProcessRequest) -> TtrpcResult<Empty> {
        let c = self.inner.ctr(&req.id)?;
        let spec: Process = serde_json::from_slice(&req.spec.value)
            .map_err(|e| status(Code::INVALID_ARGUMENT, format!("exec process spec: {e}")))?;
        let stdio = Stdio {
            stdin: req.stdin.clone(),
            stdout: req.stdout.clone(),
            stderr: req.stderr.clone(),
            terminal: req.terminal,
        };
        {
            let mut execs = lock(&c.execs);
            if execs.contains_key(&req.exec_id) {
                let msg = format!("exec {} already exists", req.exec_id);
                return Err(status(Code::ALREADY_EXISTS, msg));
            }
            let p = Arc::new(Proc::new(&req.exec_id, stdio, Some(spec)));
            execs.insert(req.exec_id.clone(), p);
        }
        let mut e = ev::TaskExecAdded::new();
        e.container_id = c.id.clone();
        e.exec_id = req.exec_id.clone();
        self.inner
            .publish(topics::TASK_EXEC_ADDED_EVENT_TOPIC, "TaskExecAdded", &e);
        Ok(Empty::new())
    }

    fn resize_pty(&self, _ctx: &TtrpcContext, req: api::ResizePtyRequest) -> TtrpcResult<Empty> {
        let (_, p) = self.inner.proc(&req.id, &req.exec_id)?;
        lock(&p.io)
            .resize(req.width, req.height)
            .map_err(|e| status(Code::FAILED_PRECONDITION, format!("resize: {e}")))?;
        Ok(Empty::new())
    }

    fn close_io(&self, _ctx: &TtrpcContext, req: api::CloseIORequest) -> TtrpcResult<Empty> {
        let (_, p) = self.inner.proc(&req.id, &req.exec_id)?;
        if req.stdin {
            lock(&p.io).close_stdin();
        }
        Ok(Empty::new())
    }

    fn update(&self, _ctx: &TtrpcContext, req: api::UpdateTaskRequest) -> TtrpcResult<Empty> {
        let c = self.inner.ctr(&req.id)?;
        let r: LinuxResources = serde_json::from_slice(&req.resources.value)
            .map_err(|e| status(Code::INVALID_ARGUMENT, format!("resources: {e}")))?;
        self.inner.with_container(&c, |ct| ct.update(&r))?;
        Ok(Empty::new())
    }

    fn wait(&self, _ctx: &TtrpcContext, req: api::WaitRequest) -> TtrpcResult<api::WaitResponse> {
        let (_, p) = self.inner.proc(&req.id, &req.exec_id)?;
        let e = p.wait();
        let mut resp = api::WaitResponse::new();
        resp.exit_status = e.code;
        resp.exited_at = MessageField::some(e.at);
        Ok(resp)
    }

    fn stats(
        &self,
        _ctx: &TtrpcContext,
        req: api::StatsRequest,
    ) -> TtrpcResult<api::StatsResponse> {
        let c = self.inner.ctr(&req.id)?;
        let cg = self
            .inner
            .with_container(&c, |ct| Ok(ct.cgroup().clone()))?;
        let any = crate::metrics::collect(&cg).map_err(|e| status(Code::UNKNOWN, e))?;
        let mut resp = api::StatsResponse::new();
        resp.stats = MessageField::some(any);
        Ok(resp)
    }

    fn connect(
        &self,
        _ctx: &TtrpcContext,
        req: api::ConnectRequest,
    ) -> TtrpcResult<api::ConnectResponse> {
        let mut resp = api::ConnectResponse::new();
        resp.shim_pid = std::process::id();
        if let Ok(c) = self.inner.ctr(&req.id) {
            resp.task_pid = c.init.pid() as u32;
        }
        resp.version = env!("CARGO_PKG_VERSION").into();
        Ok(resp)
    }

    fn shutdown(&self, _ctx: &TtrpcContext, _req: api::ShutdownRequest) -> TtrpcResult<Empty> {
        if lock(&self.inner.containers).is_empty() {
            self.inner.exit.signal();
        }
        Ok(Empty::new())
    }
}

impl Tasks {
    fn watch_oom(&self, id: &str, cg: &Cgroup) -> Option<Arc<crate::oom::OomWatch>> {
        let weak = Arc::downgrade(&self.inner);
        let cid = id.to_string();
        let r = crate::oom::watch(cg, move || {
            if let Some(inner) = weak.upgrade() {
                let mut e = ev::TaskOOM::new();
                e.container_id = cid.clone();
                inner.publish(topics::TASK_OOM_EVENT_TOPIC, "TaskOOM", &e);
            }
        });
        r.unwrap_or_else(|e| {
            log::warn!("cannot watch {id} for OOM: {e}");
            None
        })
    }
}
