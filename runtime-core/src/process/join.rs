//! The child side of `exec`: join the running container's namespaces in one `setns` on the
//! init's pidfd, then finish the process exactly as the init does. On success execve closes
//! the channel (`O_CLOEXEC`), which the runtime reads as "started".

use super::channel::{Channel, Msg};
use super::fail::{At, Fail, Step};
use super::plan::ProcessPlan;
use super::setup;
use crate::cgroups::CgroupTasks;
use crate::sys::process as p;
use std::os::fd::{AsRawFd, OwnedFd};

#[derive(Debug)]
pub struct JoinPlan {
    pub process: ProcessPlan,
    /// The init's pidfd: the namespaces to join are read from it.
    pub init: OwnedFd,
    /// CLONE_NEW* of every namespace the container has, except pid and time, which the
    /// runtime set for its child before clone.
    pub ns_flags: i32,
    pub in_user: bool,
    pub console_socket: Option<OwnedFd>,
    /// fds to become stdin, stdout and stderr; `None` keeps the runtime's own.
    pub stdio: Option<[i32; 3]>,
    /// The runtime's fds that must not live on in the child (the state directory's lock).
    pub close_fds: Vec<i32>,
    /// The container's v1 cgroups, joined by the child itself.
    pub cgroup_tasks: CgroupTasks,
}

pub fn run(plan: &JoinPlan, chan: &Channel) -> ! {
    // This copy of the runtime is about to enter a running container, whose processes must
    // not reach the runtime binary through /proc/PID/exe (CVE-2019-5736) nor our fds.
    let _ = p::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    plan.close_fds
        .iter()
        .for_each(|fd| crate::sys::fs::close(*fd));
    let fail = match prepare(plan, chan) {
        Ok(which) => setup::exec(&plan.process, which, || {
            setup::credentials(&plan.process)?;
            setup::fds(&plan.process)
        }),
        Err(f) => f,
    };
    let _ = chan.send(Msg::Failed(fail));
    p::exit_now(127)
}

fn prepare(plan: &JoinPlan, chan: &Channel) -> Result<usize, Fail> {
    setup::join_cgroups(&plan.cgroup_tasks)?;
    chan.expect_continue().at(Step::Protocol, 0)?;
    setup::stdio(plan.stdio)?;
    if plan.ns_flags != 0 {
        p::setns(plan.init.as_raw_fd(), plan.ns_flags).at(Step::JoinNamespace, 0)?;
    }
    if plan.in_user {
        p::setresgid(0).at(Step::BecomeRoot, 0)?;
        p::setresuid(0).at(Step::BecomeRoot, 1)?;
    }
    let sock = plan.console_socket.as_ref().map(|s| s.as_raw_fd());
    setup::console(&plan.process, sock, false)?;
    setup::own_dev_null()?;
    setup::limits(&plan.process)?;
    setup::cwd(&plan.process)?;
    let which = setup::lookup(&plan.process)?;
    setup::seccomp_for_agent(&plan.process, chan)?;
    Ok(which)
}
