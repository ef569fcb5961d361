//! `create`: validate and plan everything, make the state directory and cgroup, clone the init,
//! and leave it waiting on the exec fifo. Any failure removes all of it again.

use super::describe::describe;
use super::state::{self, proc_stat, StateDir, Stored};
use super::{Container, Runtime, State, OCI_VERSION};
use crate::cgroups::writes::Keep;
use crate::cgroups::{layout::Layout, Cgroup};
use crate::error::{Error, IoContext, Result, SysContext};
use crate::hooks::{self, HookPlan};
use crate::net::attach::{self, Attachment};
use crate::net::netdev::{self, NetDevicePlan};
use crate::net::rtnl::NetNs;
use crate::process::init::{InitPlan, StatePieces};
use crate::process::namespaces::{self, NsPlan};
use crate::process::parent;
use crate::process::plan::ProcessPlan;
use crate::rootfs::mounts::CgroupTree;
use crate::rootfs::{self, resolve::cstring, RootfsInput};
use crate::sys::{fs, socket};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Where the pty master of a terminal container goes.
pub enum ConsoleSocket {
    /// A unix socket path to connect to (runc's `--console-socket`).
    Path(PathBuf),
    /// An already connected socket.
    Fd(OwnedFd),
}

pub struct CreateOptions {
    pub bundle: PathBuf,
    pub console_socket: Option<ConsoleSocket>,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: u32,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// stdin, stdout, stderr of the container process; `None` passes the caller's own on.
    pub stdio: Option<[OwnedFd; 3]>,
}

/// Removes what a failed create made; disarmed on success.
struct Undo {
    dir: Option<StateDir>,
    cgroup: Option<Cgroup>,
    /// The runtime root, the id and what the container holds on a network.
    network: Option<(PathBuf, String, Attachment)>,
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some((root, id, att)) = self.network.take() {
            let _ = attach::detach(&root, &id, &att);
        }
        if let Some(cg) = self.cgroup.take() {
            let _ = cg.signal_all(libc::SIGKILL);
            let _ = cg.destroy();
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.remove();
        }
    }
}

/// The network the annotations ask for, with the spec's namespaces shaped to it.
fn network_request(spec: &Spec) -> Result<Option<attach::Request>> {
    let net = attach::request(spec.annotations().as_ref().unwrap_or(&HashMap::new()))?;
    check_network_namespace(spec, net.as_ref())?;
    Ok(net)
}

/// `berth.network=host` only says what the config already does: a config with a network
/// namespace is refused, never stripped of it (an annotation, which engines may pass
/// through from users, must not be able to put a container on the host's network). Any
/// other network needs a namespace of the container's own to put its interfaces in.
fn check_network_namespace(spec: &Spec, net: Option<&attach::Request>) -> Result<()> {
    let Some(req) = net else { return Ok(()) };
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let list = linux.namespaces().clone().unwrap_or_default();
    let own = list
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Network && n.path().is_none());
    if *req == attach::Request::Host {
        if list.iter().any(|n| n.typ() == LinuxNamespaceType::Network) {
            return Err(Error::invalid(
                format!("annotations[{:?}]", attach::NETWORK),
                "\"host\" cannot replace the network namespace that linux.namespaces gives \
                 the container; leave it out of the config to share the host's",
            ));
        }
        return Ok(());
    }
    if !own {
        return Err(Error::invalid(
            format!("annotations[{:?}]", attach::NETWORK),
            "needs a network namespace of the container's own in linux.namespaces",
        ));
    }
    Ok(())
}

pub fn load_spec(bundle: &Path) -> Result<(PathBuf, Spec)> {
    let bundle = std::fs::canonicalize(bundle).map_err(|source| Error::Bundle {
        path: bundle.to_path_buf(),
        source,
    })?;
    let path = bundle.join("config.json");
    let text = std::fs::read(&path).map_err(|source| Error::Bundle {
        path: path.clone(),
        source,
    })?;
    let spec = serde_json::from_slice(&text).map_err(|e| Error::Config {
        path,
        msg: e.to_string(),
    })?;
    Ok((bundle, spec))
}

/// Everything `create` checks and plans from a bundle's config, with nothing created: no
/// state, no cgroup, no process, no seccomp cache entry. `bundle` must be canonical. For
/// tools that want to know whether a bundle would be accepted, and for the fuzzer.
pub fn check(bundle: &Path, spec: &Spec) -> Result<()> {
    network_request(spec)?;
    let opts = CreateOptions {
        bundle: bundle.to_path_buf(),
        console_socket: None,
        pid_file: None,
        preserve_fds: 0,
        no_pivot: false,
        no_new_keyring: false,
        stdio: None,
    };
    Planned::new("check", bundle, spec, &opts, None).map(drop)
}

pub fn create(rt: &Runtime, id: &str, opts: CreateOptions) -> Result<Container> {
    state::check_id(id)?;
    let (bundle, spec) = load_spec(&opts.bundle)?;
    let net = network_request(&spec)?;
    let plan = Planned::new(id, &bundle, &spec, &opts, Some(rt.root()))?;
    let dir = StateDir::create(rt.root(), id)?;
    let mut undo = Undo {
        dir: Some(dir),
        cgroup: None,
        network: None,
    };
    let dir_path = undo
        .dir
        .as_ref()
        .map(|d| d.path.clone())
        .unwrap_or_default();
    let (mut init, side) = plan.split(&dir_path, opts.console_socket, opts.no_new_keyring)?;
    init.close_fds = undo.dir.iter().filter_map(|d| d.lock_fd()).collect();
    init.stdio = opts
        .stdio
        .as_ref()
        .map(|s| s.each_ref().map(|f| f.as_raw_fd()));
    let mut cgroup = side.cgroup.clone();
    let mut stored = Stored {
        id: id.to_string(),
        pid: 0,
        start_time: 0,
        bundle: bundle.clone(),
        rootfs: side.rootfs.clone(),
        created: state::rfc3339_now(),
        owner: String::new(),
        annotations: spec.annotations().clone().unwrap_or_default(),
        cgroup: cgroup.clone(),
        spec: spec.clone(),
        network: None,
    };
    // State "creating" (pid 0) first: a runtime killed from here on leaves a container that
    // `delete --force` finds and removes, cgroup included.
    stored.cgroup.created = cgroup.would_create();
    if let Some(dir) = &undo.dir {
        dir.save(&stored)?;
    }
    cgroup.create()?;
    undo.cgroup = Some(cgroup.clone());
    if let Some(linux) = spec.linux() {
        if let Some(r) = linux.resources() {
            // A new cgroup is removed whole if create fails: no old values to keep.
            let nodes = linux.devices().as_deref().unwrap_or(&[]);
            cgroup.apply(r, nodes, Keep::Nothing)?.finish();
        }
    }
    init.cgroup_tasks = cgroup.v1_tasks()?;
    stored.cgroup = cgroup;
    init.state = pieces(&stored)?;
    let join = net.as_ref().map(|r| NetJoin {
        root: rt.root(),
        id,
        request: r,
    });
    let (spawned, attached) = spawn(&init, &side, &stored, join)?;
    if let Some(att) = &attached {
        undo.network = Some((rt.root().to_path_buf(), id.to_string(), att.clone()));
    }
    stored.network = attached;
    stored.pid = spawned.pid;
    stored.start_time = proc_stat(spawned.pid).map(|s| s.0).unwrap_or(0);
    let dir = undo
        .dir
        .take()
        .ok_or_else(|| Error::Init("state directory lost".into()))?;
    let saved = dir
        .save(&stored)
        .and_then(|()| write_pid_file(opts.pid_file.as_deref(), spawned.pid));
    if let Err(e) = saved {
        undo.dir = Some(dir);
        return Err(e);
    }
    undo.cgroup = None;
    undo.network = None;
    Ok(Container {
        dir,
        stored,
        init: Some(spawned),
    })
}

/// Clones the init and follows it to `Ready`: network devices are moved in once it exists,
/// Clones the init and follows it to `Ready`: its network is joined as soon as it exists,
/// the prestart and createRuntime hooks run when it asks, a seccomp agent gets its fd.
fn spawn(
    init: &InitPlan,
    side: &RuntimeSide,
    stored: &Stored,
    net: Option<NetJoin>,
) -> Result<(parent::Spawned, Option<Attachment>)> {
    let mut events = Events {
        init,
        side,
        stored,
        net,
        attached: None,
    };
    match parent::spawn_init(init, &stored.cgroup, &mut events) {
        Ok(s) => Ok((s, events.attached.take())),
        Err(e) => {
            if let (Some(j), Some(att)) = (&events.net, events.attached.take()) {
                let _ = attach::detach(j.root, j.id, &att);
            }
            Err(e)
        }
    }
}

/// A network to join (annotation `berth.network`).
struct NetJoin<'a> {
    root: &'a Path,
    id: &'a str,
    request: &'a attach::Request,
}

struct Events<'a> {
    init: &'a InitPlan,
    side: &'a RuntimeSide,
    stored: &'a Stored,
    net: Option<NetJoin<'a>>,
    attached: Option<Attachment>,
}

impl parent::InitEvents for Events<'_> {
    fn prepare(&mut self, pid: i32) -> Result<()> {
        let devices = &self.side.net_devices;
        match self.side.net_target {
            Some(fd) if fd >= 0 => netdev::move_all(devices, NetNs::Fd(fd))?,
            Some(_) => netdev::move_all(devices, NetNs::Pid(pid))?,
            None => {}
        }
        if let Some(j) = &self.net {
            self.attached = attach::attach(j.root, j.id, j.request, pid)?;
        }
        Ok(())
    }

    fn runtime_hooks(&mut self, pid: i32) -> Result<()> {
        let json = hook_state(self.stored, pid, "creating")?;
        hooks::run_all(&self.side.prestart, &[&json])?;
        hooks::run_all(&self.side.create_runtime, &[&json])
    }

    fn seccomp_listener(&mut self, pid: i32, fd: OwnedFd) -> Result<()> {
        let linux = self.stored.spec.linux().as_ref();
        let Some(s) = linux.and_then(|l| l.seccomp().as_ref()) else {
            return Err(Error::Init("a seccomp fd came without a profile".into()));
        };
        let Some(path) = s.listener_path() else {
            return Err(Error::Init("a seccomp fd came without listenerPath".into()));
        };
        let state = state_of(self.stored, pid, "creating");
        let metadata = s.listener_metadata().as_deref();
        crate::seccomp::agent::hand_over(path, metadata, pid, &state, fd)
    }

    fn describe(&self, f: crate::process::fail::Fail) -> String {
        describe(f, self.init)
    }
}

/// The parts of the plan made before anything exists on the host.
struct Planned {
    id: String,
    rootfs: PathBuf,
    cgroup: Cgroup,
    ns: NsPlan,
    rootfs_plan: rootfs::RootfsPlan,
    process: ProcessPlan,
    hostname: Option<CString>,
    domainname: Option<CString>,
    hooks: HookPlans,
    net_devices: Vec<NetDevicePlan>,
    /// The host uid and gid of the container's root, who must be able to open the fifo.
    root_owner: (u32, u32),
}

/// What the runtime keeps for itself after handing the rest to the init's plan.
struct RuntimeSide {
    rootfs: PathBuf,
    cgroup: Cgroup,
    prestart: Vec<HookPlan>,
    create_runtime: Vec<HookPlan>,
    net_devices: Vec<NetDevicePlan>,
    /// Where network devices go: `Some(-1)` for the init's own new namespace, `Some(fd)` for
    /// a joined one, `None` when there are none to move.
    net_target: Option<i32>,
}

impl Planned {
    fn new(
        id: &str,
        bundle: &Path,
        spec: &Spec,
        opts: &CreateOptions,
        runtime_root: Option<&Path>,
    ) -> Result<Planned> {
        let rootfs = rootfs_path(bundle, spec)?;
        let process = spec.process().as_ref();
        let process = process
            .ok_or_else(|| Error::invalid("process", "missing: create needs a process to run"))?;
        let linux = spec
            .linux()
            .as_ref()
            .ok_or_else(|| Error::invalid("linux", "missing"))?;
        refuse_unsupported(spec)?;
        let ns = namespaces::plan(spec)?;
        let layout = Layout::detect()?;
        let cgroup = Cgroup::resolve(&layout, linux.cgroups_path().as_deref(), id)?;
        let rootfs_plan = rootfs::plan(&RootfsInput {
            spec,
            bundle,
            rootfs: &rootfs,
            userns: ns.in_user,
            new_netns: ns.owns(libc::CLONE_NEWNET),
            new_ipcns: ns.owns(libc::CLONE_NEWIPC),
            new_utsns: ns.owns(libc::CLONE_NEWUTS),
            new_cgroupns: ns.owns(libc::CLONE_NEWCGROUP),
            no_pivot: opts.no_pivot,
            cgroups: &cgroup_trees(&layout, &cgroup),
        })?;
        if !ns.in_user {
            crate::security::caps::check_held(process.capabilities().as_ref())?;
        }
        let process =
            ProcessPlan::new(process, opts.preserve_fds)?.with_linux(Some(linux), runtime_root)?;
        if process.terminal && opts.console_socket.is_none() {
            return Err(Error::invalid(
                "process.terminal",
                "is true, but no console socket was given to receive the pty (--console-socket)",
            ));
        }
        check_preserved(opts.preserve_fds)?;
        Ok(Planned {
            id: id.to_string(),
            rootfs,
            cgroup,
            hostname: uts_name(spec.hostname(), "hostname", &ns)?,
            domainname: uts_name(spec.domainname(), "domainname", &ns)?,
            net_devices: net_devices(linux, &ns)?,
            hooks: HookPlans::new(spec)?,
            root_owner: (
                host_root(linux.uid_mappings()),
                host_root(linux.gid_mappings()),
            ),
            ns,
            rootfs_plan,
            process,
        })
    }

    /// Makes the exec fifo in `dir`, connects the console, and splits the plan between the
    /// init and the runtime.
    fn split(
        self,
        dir: &Path,
        console: Option<ConsoleSocket>,
        no_keyring: bool,
    ) -> Result<(InitPlan, RuntimeSide)> {
        let fifo = make_fifo(dir, self.root_owner)?;
        let console_socket = match console {
            Some(c) if self.process.terminal => Some(connect_console(c)?),
            _ => None,
        };
        let keyring = if no_keyring {
            None
        } else {
            CString::new(self.id.as_str()).ok()
        };
        let init = InitPlan {
            ns: self.ns,
            hostname: self.hostname,
            domainname: self.domainname,
            rootfs: self.rootfs_plan,
            process: self.process,
            runtime_hooks: !self.hooks.prestart.is_empty() || !self.hooks.create_runtime.is_empty(),
            create_container: self.hooks.create_container,
            start_container: self.hooks.start_container,
            state: StatePieces::default(),
            state_dir: Some(fifo),
            console_socket,
            stdio: None,
            keyring,
            close_fds: Vec::new(),
            cgroup_tasks: Default::default(),
        };
        let net_target = match self.net_devices.is_empty() {
            true => None,
            false if init.ns.owns(libc::CLONE_NEWNET) => Some(-1),
            false => init
                .ns
                .join
                .iter()
                .find(|j| j.nstype == libc::CLONE_NEWNET)
                .map(|j| j.fd.as_raw_fd()),
        };
        let side = RuntimeSide {
            rootfs: self.rootfs,
            cgroup: self.cgroup,
            prestart: self.hooks.prestart,
            create_runtime: self.hooks.create_runtime,
            net_devices: self.net_devices,
            net_target,
        };
        Ok((init, side))
    }
}

/// The four hooks the create path runs; poststart and poststop run later from the stored
/// spec, but are checked now so a bad one fails create.
struct HookPlans {
    prestart: Vec<HookPlan>,
    create_runtime: Vec<HookPlan>,
    create_container: Vec<HookPlan>,
    start_container: Vec<HookPlan>,
}

impl HookPlans {
    fn new(spec: &Spec) -> Result<HookPlans> {
        let h = spec.hooks().as_ref();
        hooks::plan(h.and_then(|h| h.poststart().as_ref()), "poststart")?;
        hooks::plan(h.and_then(|h| h.poststop().as_ref()), "poststop")?;
        let on_host = |list, kind| {
            let plans = hooks::plan(list, kind)?;
            plans.iter().try_for_each(HookPlan::check_runnable)?;
            Ok::<_, Error>(plans)
        };
        Ok(HookPlans {
            prestart: on_host(h.and_then(|h| h.prestart().as_ref()), "prestart")?,
            create_runtime: on_host(h.and_then(|h| h.create_runtime().as_ref()), "createRuntime")?,
            create_container: on_host(
                h.and_then(|h| h.create_container().as_ref()),
                "createContainer",
            )?,
            start_container: hooks::plan(
                h.and_then(|h| h.start_container().as_ref()),
                "startContainer",
            )?,
        })
    }
}

/// root.path joined to the bundle, checked to be a directory, with symlinks resolved.
fn rootfs_path(bundle: &Path, spec: &Spec) -> Result<PathBuf> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::invalid("root", "missing"))?;
    let rootfs = bundle.join(root.path());
    rootfs::check_rootfs(&rootfs)?;
    std::fs::canonicalize(&rootfs).ctx(|| format!("resolving {}", rootfs.display()))
}

/// hostname and domainname need a uts namespace of the container's own.
fn uts_name(v: &Option<String>, field: &str, ns: &NsPlan) -> Result<Option<CString>> {
    let Some(v) = v.as_deref() else {
        return Ok(None);
    };
    if !ns.owns(libc::CLONE_NEWUTS) {
        return Err(Error::invalid(
            field,
            "needs a uts namespace of the container's own",
        ));
    }
    // The kernel's __NEW_UTS_LEN.
    if v.len() > 64 {
        return Err(Error::invalid(
            field,
            format!("is {} bytes long; the kernel takes at most 64", v.len()),
        ));
    }
    CString::new(v)
        .map(Some)
        .map_err(|_| Error::invalid(field, "NUL byte"))
}

fn net_devices(linux: &oci_spec::runtime::Linux, ns: &NsPlan) -> Result<Vec<NetDevicePlan>> {
    let Some(d) = linux.net_devices().as_ref().filter(|d| !d.is_empty()) else {
        return Ok(Vec::new());
    };
    let joined = ns.join.iter().any(|j| j.nstype == libc::CLONE_NEWNET);
    if !ns.owns(libc::CLONE_NEWNET) && !joined {
        return Err(Error::invalid(
            "linux.netDevices",
            "needs a network namespace for the container",
        ));
    }
    netdev::plan(d)
}

/// The host id that container id 0 maps to (itself without a user namespace).
fn host_root(maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>) -> u32 {
    maps.iter()
        .flatten()
        .find(|m| m.container_id() == 0)
        .map_or(0, |m| m.host_id())
}

/// Makes the exec fifo, owned by the container's root; returns an `O_PATH` fd of the state
/// directory through which the init opens it (no /proc magic link needed, so the init can stay
/// non-dumpable).
fn make_fifo(dir: &Path, owner: (u32, u32)) -> Result<OwnedFd> {
    let d = cstring(dir, "state directory")?;
    let dfd = fs::openat(libc::AT_FDCWD, &d, libc::O_PATH | libc::O_DIRECTORY, 0)
        .sys("open", || format!("{}", dir.display()))?;
    let what = || format!("exec fifo in {}", dir.display());
    fs::mkfifoat(dfd.as_raw_fd(), state::FIFO_NAME, 0o622).sys("mkfifo", what)?;
    let fifo = fs::openat(
        dfd.as_raw_fd(),
        state::FIFO_NAME,
        libc::O_PATH | libc::O_NOFOLLOW,
        0,
    )
    .sys("open", what)?;
    fs::fchown_empty(fifo.as_raw_fd(), owner.0, owner.1).sys("chown", what)?;
    Ok(dfd)
}

/// Fields berth does not implement yet are refused by name rather than ignored. SELinux labels
/// are ignored as runc ignores them on hosts without SELinux enforcing.
fn refuse_unsupported(spec: &Spec) -> Result<()> {
    let apparmor = spec
        .process()
        .as_ref()
        .and_then(|p| p.apparmor_profile().as_deref());
    if apparmor.is_some_and(|a| !a.is_empty() && a != "unconfined") {
        return Err(Error::Unsupported(
            "process.apparmorProfile: berth has no AppArmor support yet".into(),
        ));
    }
    if spec
        .linux()
        .as_ref()
        .is_some_and(|l| l.intel_rdt().is_some())
    {
        return Err(Error::Unsupported(
            "linux.intelRdt: Intel RDT is not implemented".into(),
        ));
    }
    Ok(())
}

fn cgroup_trees(layout: &Layout, cg: &Cgroup) -> Vec<CgroupTree> {
    let mut trees: Vec<CgroupTree> = layout
        .v1
        .iter()
        .zip(&cg.v1)
        .map(|(h, (name, dir))| CgroupTree {
            name: name.clone(),
            v2: false,
            options: h.options.clone(),
            host_dir: dir.clone(),
        })
        .collect();
    if let Some(dir) = &cg.v2 {
        trees.push(CgroupTree {
            name: if layout.is_pure_v2() {
                String::new()
            } else {
                "unified".into()
            },
            v2: true,
            options: Vec::new(),
            host_dir: dir.clone(),
        });
    }
    trees
}

/// `--preserve-fds N` passes fds 3..3+N: they must be open, or the runtime's own fds would
/// take their numbers and leak into the container.
fn check_preserved(n: u32) -> Result<()> {
    for fd in 3..3 + n as i32 {
        if fs::fstat(fd).is_err() {
            return Err(Error::invalid(
                "--preserve-fds",
                format!("fd {fd} is not open"),
            ));
        }
    }
    Ok(())
}

fn state_of(s: &Stored, pid: i32, status: &str) -> State {
    State {
        oci_version: OCI_VERSION.to_string(),
        id: s.id.clone(),
        pid,
        status: status.to_string(),
        bundle: s.bundle.clone(),
        rootfs: s.rootfs.clone(),
        created: s.created.clone(),
        owner: s.owner.clone(),
        annotations: s.annotations.clone(),
    }
}

fn hook_state(s: &Stored, pid: i32, status: &str) -> Result<Vec<u8>> {
    serde_json::to_vec(&state_of(s, pid, status)).map_err(|e| Error::io("encoding state", e.into()))
}

/// The state JSON split around the pid and the status, for hooks the init runs.
fn pieces(s: &Stored) -> Result<StatePieces> {
    const PID: &str = "987654321";
    const STATUS: &str = "@@status@@";
    let json = String::from_utf8(hook_state(s, PID.parse().unwrap_or(0), STATUS)?)
        .map_err(|e| Error::io("encoding state", std::io::Error::other(e)))?;
    let (head, rest) = json
        .split_once(PID)
        .ok_or_else(|| Error::Init("state layout".into()))?;
    let (mid, tail) = rest
        .split_once(STATUS)
        .ok_or_else(|| Error::Init("state layout".into()))?;
    Ok(StatePieces {
        head: head.as_bytes().to_vec(),
        mid: mid.as_bytes().to_vec(),
        tail: tail.as_bytes().to_vec(),
    })
}

fn write_pid_file(path: Option<&Path>, pid: i32) -> Result<()> {
    let Some(path) = path else { return Ok(()) };
    state::write_atomic(path, pid.to_string().as_bytes())
}

pub fn connect_console(c: ConsoleSocket) -> Result<OwnedFd> {
    match c {
        ConsoleSocket::Fd(fd) => Ok(fd),
        ConsoleSocket::Path(p) => {
            let cp = cstring(&p, "--console-socket")?;
            socket::connect_unix(&cp).sys("connect", || format!("console socket {}", p.display()))
        }
    }
}
