//! The container init: what the process born from clone3 does until it execs the user's
//! program. It follows the plan and the channel order (see `channel`), and reports a failure
//! as a `Fail` code. Nothing here allocates, so it is safe even when the runtime that cloned it
//! has threads.

use super::channel::{Channel, Msg};
use super::fail::{At, Fail, Step};
use super::namespaces::NsPlan;
use super::plan::ProcessPlan;
use super::setup;
use crate::cgroups::CgroupTasks;
use crate::hooks::{self, HookPlan};
use crate::rootfs::RootfsPlan;
use crate::sys::{fs, process as p};
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

/// The state JSON for hooks run by the init, in pieces around the pid and the status (in
/// that order, as the state object has them).
#[derive(Debug, Default)]
pub struct StatePieces {
    pub head: Vec<u8>,
    pub mid: Vec<u8>,
    pub tail: Vec<u8>,
}

#[derive(Debug)]
pub struct InitPlan {
    pub ns: NsPlan,
    pub hostname: Option<CString>,
    pub domainname: Option<CString>,
    pub rootfs: RootfsPlan,
    pub process: ProcessPlan,
    pub create_container: Vec<HookPlan>,
    pub start_container: Vec<HookPlan>,
    /// Whether the runtime has prestart/createRuntime hooks to run mid-setup.
    pub runtime_hooks: bool,
    pub state: StatePieces,
    /// `O_PATH` fd of the state directory, where the init opens the exec fifo for writing to
    /// wait for `start`.
    pub state_dir: Option<OwnedFd>,
    pub console_socket: Option<OwnedFd>,
    /// fds to become stdin, stdout and stderr; `None` keeps the runtime's own.
    pub stdio: Option<[i32; 3]>,
    /// Name of a new session keyring, unless `--no-new-keyring`.
    pub keyring: Option<CString>,
    /// The runtime's fds that must not live on in the init (the state directory's lock).
    pub close_fds: Vec<i32>,
    /// The v1 cgroups the init moves itself into, before it makes its cgroup namespace.
    pub cgroup_tasks: CgroupTasks,
}

/// Runs the init; never returns.
pub fn run(plan: &InitPlan, chan: &Channel) -> ! {
    // Until execve this process is a copy of the runtime: nobody may open its /proc/PID/exe
    // (CVE-2019-5736) or its fds. execve makes the user's program dumpable again.
    let _ = p::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    plan.close_fds.iter().for_each(|fd| fs::close(*fd));
    if let Err(f) = setup::stdio(plan.stdio) {
        let _ = chan.send(Msg::Failed(f));
        p::exit_now(1)
    }
    match setup_all(plan, chan) {
        Ok((which, host_pid)) => report_late(wait_and_exec(plan, which, host_pid)),
        Err(f) => {
            let _ = chan.send(Msg::Failed(f));
            p::exit_now(1)
        }
    }
}

/// Everything up to `Ready`: returns which exec candidate to run, and the init's host pid.
fn setup_all(plan: &InitPlan, chan: &Channel) -> Result<(usize, i32), Fail> {
    fs::umask(0);
    setup::join_cgroups(&plan.cgroup_tasks)?;
    let host_pid = chan.expect_continue().at(Step::Protocol, 0)?;
    plan.ns.enter()?;
    if let Some(name) = &plan.keyring {
        // Kernels without keyrings, or a user namespace over quota, still run the container.
        let _ = p::join_session_keyring(name);
    }
    if let Some(h) = &plan.hostname {
        p::sethostname(h.as_bytes()).at(Step::Hostname, 0)?;
    }
    if let Some(d) = &plan.domainname {
        p::setdomainname(d.as_bytes()).at(Step::Domainname, 0)?;
    }
    let root = plan.rootfs.prepare()?;
    if plan.runtime_hooks {
        chan.send(Msg::RunHooks).at(Step::Protocol, 1)?;
        chan.expect_hooks_done().at(Step::Protocol, 2)?;
    }
    run_hooks(
        &plan.create_container,
        plan,
        host_pid,
        b"created",
        Step::CreateContainerHook,
    )?;
    plan.rootfs.enter(&root)?;
    drop(root);
    // Before finish(): /dev/console is made while the root may still be written.
    let sock = plan.console_socket.as_ref().map(|s| s.as_raw_fd());
    setup::console(&plan.process, sock, true)?;
    setup::own_dev_null()?;
    plan.rootfs.finish()?;
    setup::limits(&plan.process)?;
    setup::cwd(&plan.process)?;
    let which = setup::lookup(&plan.process)?;
    setup::probe_exec(&plan.process, which)?;
    setup::fds(&plan.process)?;
    setup::seccomp_for_agent(&plan.process, chan)?;
    chan.send(Msg::Ready).at(Step::Protocol, 3)?;
    // A clone of the runtime holds all the runtime's fds. Waiting for `start` it needs only
    // its stdio, the preserved fds and the state directory: a shim's other processes' pipes
    // and FIFOs must not stay open here (their readers would not see end-of-file). execve
    // would close them anyway (all are close-on-exec), so a failure here changes nothing.
    let keep = plan.state_dir.as_ref().map(|d| d.as_raw_fd());
    let _ = fs::close_from_except(3 + plan.process.preserve_fds, keep);
    Ok((which, host_pid))
}

/// After `Ready`: block until `start`, then the startContainer hooks, credentials, exec.
fn wait_and_exec(plan: &InitPlan, which: usize, host_pid: i32) -> Fail {
    let fifo = match wait_for_start(plan) {
        Ok(f) => f,
        Err(f) => return f,
    };
    let fail = finish_and_exec(plan, which, host_pid);
    // Still here: tell `start`, which reads the fifo until execve closes it, that we failed.
    if let Some(w) = &fifo {
        let _ = fs::write(w.as_raw_fd(), b"1");
    }
    fail
}

fn finish_and_exec(plan: &InitPlan, which: usize, host_pid: i32) -> Fail {
    let hooks = &plan.start_container;
    if let Err(f) = run_hooks(hooks, plan, host_pid, b"created", Step::StartContainerHook) {
        return f;
    }
    setup::exec(&plan.process, which, || setup::credentials(&plan.process))
}

/// Opening the fifo for writing blocks until `start` opens it for reading. The fd stays open
/// (close-on-exec): its closing at execve tells `start` the program is running.
fn wait_for_start(plan: &InitPlan) -> Result<Option<OwnedFd>, Fail> {
    let Some(dir) = &plan.state_dir else {
        return Ok(None);
    };
    let flags = libc::O_WRONLY | libc::O_NOFOLLOW;
    let w =
        fs::openat(dir.as_raw_fd(), crate::container::FIFO_NAME, flags, 0).at(Step::ExecFifo, 0)?;
    fs::write_all(w.as_raw_fd(), b"0").at(Step::ExecFifo, 1)?;
    Ok(Some(w))
}

fn run_hooks(
    list: &[HookPlan],
    plan: &InitPlan,
    pid: i32,
    status: &[u8],
    step: Step,
) -> Result<(), Fail> {
    let mut digits = [0u8; 12];
    let pid = hooks::pid_digits(pid, &mut digits);
    let pieces: [&[u8]; 5] = [
        &plan.state.head,
        pid,
        &plan.state.mid,
        status,
        &plan.state.tail,
    ];
    for (i, h) in list.iter().enumerate() {
        if let Err(e) = hooks::run(h, &pieces) {
            return Err(Fail {
                step,
                index: i as u32,
                errno: e.code(),
            });
        }
    }
    Ok(())
}

/// A failure after `Ready` has no runtime left to tell: say it on the container's stderr.
fn report_late(f: Fail) -> ! {
    let mut buf = [0u8; 128];
    let msg = b"berth: container process setup failed at step ";
    let mut n = 0;
    let errno = crate::sys::Errno(f.errno).name().as_bytes();
    for part in [&msg[..], f.step.name().as_bytes(), b": ", errno, b"\n"] {
        let take = part.len().min(buf.len() - n);
        buf[n..n + take].copy_from_slice(&part[..take]);
        n += take;
    }
    let _ = fs::write(2, &buf[..n]);
    p::exit_now(127)
}
