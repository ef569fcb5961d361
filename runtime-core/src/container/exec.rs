//! `exec`: a new process inside a running container, in its cgroup and all its namespaces.

use super::create::{connect_console, ConsoleSocket};
use super::state::{proc_stat, Status};
use super::Container;
use crate::error::{Error, Result, SysContext};
use crate::process::channel::{Channel, Msg};
use crate::process::join::{self, JoinPlan};
use crate::process::namespaces::ForChildren;
use crate::process::plan::ProcessPlan;
use crate::sys::process::{self as p, Forked};
use oci_spec::runtime::{LinuxNamespaceType, Process};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

pub struct ExecOptions {
    pub console_socket: Option<ConsoleSocket>,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: u32,
    /// stdin, stdout, stderr of the new process; `None` passes the caller's own on.
    pub stdio: Option<[OwnedFd; 3]>,
}

/// A process started by `exec`, a child of the calling process.
pub struct ExecProcess {
    pub pid: i32,
    pub pidfd: OwnedFd,
}

impl ExecProcess {
    /// Waits for the process; its exit code (128+N for signal N).
    pub fn wait(&self) -> Result<i32> {
        match p::waitpid(self.pid, false) {
            Ok(Some(e)) => Ok(e.code()),
            Ok(None) => Err(Error::Init("waitpid returned nothing".into())),
            Err(e) => Err(e).sys("waitpid", || format!("exec'd process {}", self.pid)),
        }
    }
}

impl Container {
    pub fn exec(&self, process: &Process, opts: ExecOptions) -> Result<ExecProcess> {
        match self.status() {
            Status::Running | Status::Created => {}
            Status::Paused => {
                return Err(self.wrong_state(Status::Paused, "cannot exec in a paused container"))
            }
            s => return Err(self.wrong_state(s, "cannot exec in a stopped container")),
        }
        let mut plan = self.join_plan(process, opts.console_socket, opts.preserve_fds)?;
        plan.stdio = opts
            .stdio
            .as_ref()
            .map(|s| s.each_ref().map(|f| f.as_raw_fd()));
        let (ours, theirs) = Channel::pair().sys("socketpair", || "setup channel".into())?;
        let cgroup_fd = self.stored.cgroup.v2_fd()?;
        let for_children = self.for_children_flags();
        let keep = ForChildren::join(&plan.init, for_children)?;
        // SAFETY: the child runs `join::run`, which only issues syscalls from the plan.
        let forked = unsafe { p::clone3(0, cgroup_fd.as_ref().map(|f| f.as_raw_fd())) };
        // Only the parent goes back to its own namespaces.
        let (pid, pidfd) = match forked {
            Ok(Forked::Child) => {
                drop(ours);
                join::run(&plan, &theirs)
            }
            Ok(Forked::Parent { pid, pidfd }) => {
                keep.restore();
                (pid, pidfd)
            }
            Err(e) => {
                keep.restore();
                return Err(e).sys("clone3", || "starting the exec'd process".into());
            }
        };
        drop(theirs);
        let started = ExecProcess { pid, pidfd };
        let result = ours
            .send(Msg::Continue { pid })
            .sys("send", || "setup channel".into())
            .and_then(|()| self.follow_exec(&ours, pid, &plan));
        if let Err(e) = result {
            let _ = p::pidfd_send_signal(started.pidfd.as_raw_fd(), libc::SIGKILL);
            let _ = p::waitpid(pid, false);
            return Err(e);
        }
        if let Some(f) = &opts.pid_file {
            super::state::write_atomic(f, pid.to_string().as_bytes())?;
        }
        Ok(started)
    }

    /// The exec'd child's messages until execve closes the channel.
    fn follow_exec(&self, ours: &Channel, pid: i32, plan: &JoinPlan) -> Result<()> {
        loop {
            match ours.recv_with_fd() {
                Ok(None) => return Ok(()),
                Ok(Some((Msg::SeccompFd, Some(fd)))) => self.seccomp_listener(pid, fd)?,
                Ok(Some((Msg::Failed(f), _))) => return Err(Error::Exec(exec_fail_text(f, plan))),
                Ok(Some((m, _))) => return Err(Error::Init(format!("unexpected message {m:?}"))),
                Err(e) => return Err(e).sys("recv", || "setup channel".into()),
            }
        }
    }

    /// The exec'd process's notify fd goes to the agent with the container's state, as the
    /// init's did.
    fn seccomp_listener(&self, pid: i32, fd: OwnedFd) -> Result<()> {
        let linux = self.stored.spec.linux().as_ref();
        let profile = linux.and_then(|l| l.seccomp().as_ref());
        let Some((s, path)) = profile.and_then(|s| Some((s, s.listener_path().as_ref()?))) else {
            return Err(Error::Init("a seccomp fd came without listenerPath".into()));
        };
        let metadata = s.listener_metadata().as_deref();
        crate::seccomp::agent::hand_over(path, metadata, pid, &self.state(), fd)
    }

    fn join_plan(
        &self,
        process: &Process,
        console: Option<ConsoleSocket>,
        preserve_fds: u32,
    ) -> Result<JoinPlan> {
        let linux = self.stored.spec.linux().as_ref();
        let proc_plan =
            ProcessPlan::new(process, preserve_fds)?.with_linux(linux, self.dir.path.parent())?;
        if proc_plan.terminal && console.is_none() {
            return Err(Error::invalid(
                "process.terminal",
                "is true, but no console socket was given",
            ));
        }
        let init = p::pidfd_open(self.stored.pid)
            .sys("pidfd_open", || format!("init pid {}", self.stored.pid))?;
        if proc_stat(self.stored.pid).map(|s| s.0) != Some(self.stored.start_time) {
            return Err(self.wrong_state(Status::Stopped, "cannot exec in a stopped container"));
        }
        let types = self.ns_types();
        let in_user = types.contains(&LinuxNamespaceType::User);
        if !in_user {
            crate::security::caps::check_held(process.capabilities().as_ref())?;
        }
        let ns_flags = types
            .iter()
            .map(|t| *t as i32)
            .filter(|f| *f != libc::CLONE_NEWPID && *f != libc::CLONE_NEWTIME)
            .fold(0, |a, f| a | f);
        let console_socket = match console {
            Some(c) if proc_plan.terminal => Some(connect_console(c)?),
            _ => None,
        };
        Ok(JoinPlan {
            process: proc_plan,
            init,
            ns_flags,
            in_user,
            console_socket,
            stdio: None,
            close_fds: self.dir.lock_fd().into_iter().collect(),
            cgroup_tasks: self.stored.cgroup.v1_tasks()?,
        })
    }

    fn ns_types(&self) -> Vec<LinuxNamespaceType> {
        let linux = self.stored.spec.linux().as_ref();
        linux
            .and_then(|l| l.namespaces().as_ref())
            .map(|list| list.iter().map(|n| n.typ()).collect())
            .unwrap_or_default()
    }

    fn for_children_flags(&self) -> i32 {
        self.ns_types()
            .iter()
            .map(|t| *t as i32)
            .filter(|f| *f == libc::CLONE_NEWPID || *f == libc::CLONE_NEWTIME)
            .fold(0, |a, f| a | f)
    }
}

fn exec_fail_text(f: crate::process::fail::Fail, plan: &JoinPlan) -> String {
    use crate::process::fail::Step;
    let e = crate::sys::Errno(f.errno);
    let arg0 = plan
        .process
        .argv
        .first()
        .map_or("?".into(), |a| a.to_string_lossy().to_string());
    match f.step {
        Step::ExecLookup if f.errno == libc::ENOENT => {
            format!("exec: {arg0:?}: executable file not found in $PATH")
        }
        Step::ExecLookup | Step::Execve => format!("exec {arg0:?}: {e}"),
        Step::JoinNamespace => format!("joining the container's namespaces: setns: {e}"),
        Step::JoinCgroup => format!(
            "joining cgroup {}: writing tasks: {e}",
            plan.cgroup_tasks.shown(f.index as usize)
        ),
        _ => super::describe::describe_process(f, &plan.process),
    }
}
