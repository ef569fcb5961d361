//! The runtime's side of starting a container init or an exec'd process: clone3 into the
//! cgroup and namespaces, finish what only the parent can do (id maps, v1 cgroups, runtime
//! hooks), and follow the child through the channel until it is ready or has failed.

use super::channel::{Channel, Msg};
use super::fail::Fail;
use super::init::{self, InitPlan};
use super::namespaces::ForChildren;
use crate::cgroups::Cgroup;
use crate::error::{Error, Result, SysContext};
use crate::sys::process::{self as p, Forked};
use std::os::fd::{AsRawFd, OwnedFd};

/// A child that exists and has reported ready.
pub struct Spawned {
    pub pid: i32,
    pub pidfd: OwnedFd,
}

/// Kills and reaps a child that did not make it, so no half-made container is left running.
struct Reap {
    pid: i32,
    pidfd: Option<OwnedFd>,
}

impl Drop for Reap {
    fn drop(&mut self) {
        if let Some(fd) = self.pidfd.take() {
            let _ = p::pidfd_send_signal(fd.as_raw_fd(), libc::SIGKILL);
            let _ = p::waitpid(self.pid, false);
        }
    }
}

/// What the runtime does at the init's milestones.
pub trait InitEvents {
    /// The init exists and waits: the place to move network devices into it.
    fn prepare(&mut self, pid: i32) -> Result<()>;
    /// The init asks for the prestart and createRuntime hooks.
    fn runtime_hooks(&mut self, pid: i32) -> Result<()>;
    /// The init loaded a seccomp filter that notifies an agent: `fd` is its listener.
    fn seccomp_listener(&mut self, pid: i32, fd: OwnedFd) -> Result<()>;
    /// A failure code from the init, as a sentence.
    fn describe(&self, f: Fail) -> String;
}

/// Starts the container init and follows it through the channel until it is ready.
pub fn spawn_init(
    plan: &InitPlan,
    cgroup: &Cgroup,
    events: &mut dyn InitEvents,
) -> Result<Spawned> {
    let (ours, theirs) = Channel::pair().sys("socketpair", || "setup channel".into())?;
    let cgroup_fd = cgroup.v2_fd()?;
    let keep = ForChildren::set(&plan.ns)?;
    // SAFETY: the child runs `init::run`, which only issues syscalls from the prepared plan.
    let forked = unsafe {
        p::clone3(
            plan.ns.clone_flags,
            cgroup_fd.as_ref().map(|f| f.as_raw_fd()),
        )
    };
    // Only the parent goes back to its own namespaces: the child must stay in the
    // container's time namespace.
    let (pid, pidfd) = match forked {
        Ok(Forked::Child) => {
            drop(ours);
            init::run(plan, &theirs)
        }
        Ok(Forked::Parent { pid, pidfd }) => {
            keep.restore();
            (pid, pidfd)
        }
        Err(e) => {
            keep.restore();
            return Err(e).sys("clone3", || "starting the container init".into());
        }
    };
    drop(theirs);
    let mut reap = Reap {
        pid,
        pidfd: Some(pidfd),
    };
    write_id_maps(pid, plan)?;
    write_oom_score_adj(pid, &plan.process)?;
    events.prepare(pid)?;
    ours.send(Msg::Continue { pid })
        .sys("send", || "setup channel".into())?;
    follow(&ours, pid, events, &mut reap)?;
    let pidfd = reap
        .pidfd
        .take()
        .ok_or_else(|| Error::Init("lost the init's pidfd".into()))?;
    Ok(Spawned { pid, pidfd })
}

/// The parent's side of the channel order, from `Continue` to `Ready`.
fn follow(ours: &Channel, pid: i32, events: &mut dyn InitEvents, reap: &mut Reap) -> Result<()> {
    loop {
        let got = ours.recv_with_fd().sys("recv", || "setup channel".into())?;
        match got {
            Some((Msg::RunHooks, _)) => {
                events.runtime_hooks(pid)?;
                ours.send(Msg::HooksDone)
                    .sys("send", || "setup channel".into())?;
            }
            Some((Msg::SeccompFd, Some(fd))) => events.seccomp_listener(pid, fd)?,
            Some((Msg::Ready, _)) => return Ok(()),
            Some((Msg::Failed(f), _)) => return Err(Error::Init(events.describe(f))),
            Some((other, _)) => {
                return Err(Error::Init(format!(
                    "unexpected message {other:?} from the container init"
                )))
            }
            None => return Err(Error::Init(exit_text(reap))),
        }
    }
}

/// oomScoreAdj, written from outside: the child is not dumpable, so its /proc/self is not
/// writable by it inside a user namespace.
pub fn write_oom_score_adj(pid: i32, process: &crate::process::plan::ProcessPlan) -> Result<()> {
    let Some(v) = &process.oom_score_adj else {
        return Ok(());
    };
    std::fs::write(format!("/proc/{pid}/oom_score_adj"), v.as_bytes()).map_err(|e| {
        Error::invalid(
            "process.oomScoreAdj",
            format!("writing /proc/{pid}/oom_score_adj: {e}"),
        )
    })
}

fn write_id_maps(pid: i32, plan: &InitPlan) -> Result<()> {
    if !plan.ns.new_user {
        return Ok(());
    }
    for (file, text) in [("uid_map", &plan.ns.uid_map), ("gid_map", &plan.ns.gid_map)] {
        std::fs::write(format!("/proc/{pid}/{file}"), text).map_err(|e| {
            Error::invalid(
                format!("linux.{}Mappings", &file[..3]),
                format!("writing /proc/{pid}/{file}: {e}"),
            )
        })?;
    }
    Ok(())
}

/// Why a child closed the channel without a word.
fn exit_text(reap: &mut Reap) -> String {
    reap.pidfd = None;
    match p::waitpid(reap.pid, false) {
        Ok(Some(e)) => format!("the container init exited during setup ({e:?})"),
        _ => "the container init vanished during setup".into(),
    }
}
