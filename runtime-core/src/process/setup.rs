//! The last steps of a container process, shared by the init and by `exec`: limits, terminal,
//! working directory, program lookup, credentials, exec. Runs in the child: no allocation.

use super::channel::{Channel, Msg};
use super::execute;
use super::fail::{At, Fail, Step};
use super::plan::ProcessPlan;
use crate::cgroups::CgroupTasks;
use crate::rootfs::devices;
use crate::rootfs::resolve::{open_in_root, Create};
use crate::sys::{fs, process as p, socket, tty, Errno};
use std::os::fd::{AsRawFd, RawFd};

/// Makes the caller's chosen fds the process's stdin, stdout and stderr (the shim passes
/// containerd's FIFOs this way). Sources below 3 are first moved out of the way, so one
/// `dup3` cannot clobber the source of the next.
pub fn stdio(fds: Option<[RawFd; 3]>) -> Result<(), Fail> {
    let Some(mut fds) = fds else { return Ok(()) };
    for (i, fd) in fds.iter_mut().enumerate() {
        if *fd < 3 {
            let high = fs::dup_cloexec(*fd, 3).at(Step::Stdio, i)?;
            *fd = std::os::fd::IntoRawFd::into_raw_fd(high);
        }
    }
    for (i, fd) in fds.iter().enumerate() {
        fs::dup2(*fd, i as RawFd).at(Step::Stdio, i)?;
    }
    Ok(())
}

/// Points fds 0-2 that are a null device of another root (the host's /dev/null, which the
/// container's root could chmod through /proc/self/fd and so break for the whole host) at the
/// container's own /dev/null, as runc does for its init. Runs once the process is in the
/// container's root; a container without a /dev/null node of its own keeps what it got.
pub fn own_dev_null() -> Result<(), Fail> {
    let flags = libc::O_RDWR | libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NOCTTY;
    let Ok(null) = fs::openat(libc::AT_FDCWD, c"/dev/null", flags, 0) else {
        return Ok(());
    };
    let ours = match fs::fstat(null.as_raw_fd()) {
        Ok(st) if is_null_device(&st) => st,
        _ => return Ok(()),
    };
    for fd in 0..3 {
        let Ok(st) = fs::fstat(fd) else { continue };
        if is_null_device(&st) && (st.st_dev, st.st_ino) != (ours.st_dev, ours.st_ino) {
            fs::dup2(null.as_raw_fd(), fd).at(Step::Stdio, fd as usize)?;
        }
    }
    Ok(())
}

fn is_null_device(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == libc::makedev(1, 3)
}

/// Moves this process into the container's v1 cgroups (cgroup2 was joined by clone3 itself).
pub fn join_cgroups(tasks: &CgroupTasks) -> Result<(), Fail> {
    tasks
        .join()
        .map_err(|(i, e)| Fail::new(Step::JoinCgroup, i as u32, e))
}

/// rlimits, personality, I/O priority, scheduler, CPU affinity and memory policy.
/// (oomScoreAdj is written by the runtime: /proc/self of a non-dumpable process is not ours
/// to write in a user namespace.)
pub fn limits(pl: &ProcessPlan) -> Result<(), Fail> {
    for (i, (res, soft, hard)) in pl.rlimits.iter().enumerate() {
        p::setrlimit(*res, *soft, *hard).at(Step::Rlimit, i)?;
    }
    if let Some(persona) = pl.personality {
        p::personality(persona).at(Step::Personality, 0)?;
    }
    if let Some((class, level)) = pl.ioprio {
        p::ioprio_set(class, level).at(Step::IoPriority, 0)?;
    }
    if let Some(attr) = &pl.sched {
        p::sched_setattr(attr).at(Step::Scheduler, 0)?;
    }
    if let Some(mask) = &pl.affinity {
        p::set_affinity(mask).at(Step::CpuAffinity, 0)?;
    }
    if let Some(mp) = &pl.mem_policy {
        p::set_mempolicy(mp.mode, &mp.nodes).at(Step::MemoryPolicy, 0)?;
    }
    Ok(())
}

/// Makes the process a session leader and, with a terminal, gives it a new pty of the
/// container's devpts as stdio and controlling terminal; the master goes to `socket`. The
/// init (`bind_console`) also binds the pty onto /dev/console.
pub fn console(pl: &ProcessPlan, socket_fd: Option<RawFd>, bind_console: bool) -> Result<(), Fail> {
    let _ = p::setsid();
    if !pl.terminal {
        return Ok(());
    }
    let sock = socket_fd.ok_or(Fail::new(Step::Console, 0, Errno(libc::EBADF)))?;
    let master = fs::openat(
        libc::AT_FDCWD,
        c"/dev/pts/ptmx",
        libc::O_RDWR | libc::O_NOCTTY,
        0,
    )
    .at(Step::Console, 1)?;
    let peer = tty::open_peer(master.as_raw_fd()).at(Step::Console, 2)?;
    if let Some((rows, cols)) = pl.console_size {
        tty::set_winsize(master.as_raw_fd(), rows, cols).at(Step::Console, 3)?;
    }
    if bind_console {
        devices::bind_console(peer.as_raw_fd()).at(Step::DevConsole, 0)?;
    }
    tty::set_controlling(peer.as_raw_fd()).at(Step::Console, 4)?;
    for fd in 0..3 {
        fs::dup2(peer.as_raw_fd(), fd).at(Step::Console, 5)?;
    }
    socket::send_fd(sock, b"/dev/ptmx", master.as_raw_fd()).at(Step::Console, 6)
}

/// Enters the working directory, resolved inside the container's root (creating it as runc
/// does). `RESOLVE_NO_MAGICLINKS` stops `cwd: /proc/self/fd/N` from reaching a leaked fd.
pub fn cwd(pl: &ProcessPlan) -> Result<(), Fail> {
    let root =
        fs::openat(libc::AT_FDCWD, c"/", libc::O_PATH | libc::O_DIRECTORY, 0).at(Step::Cwd, 0)?;
    let dir = open_in_root(root.as_raw_fd(), &pl.cwd, Create::Dir).at(Step::Cwd, 0)?;
    fs::fchdir(dir.as_raw_fd()).at(Step::Cwd, 0)
}

/// Finds the program to run; the index of the first executable candidate.
pub fn lookup(pl: &ProcessPlan) -> Result<usize, Fail> {
    let mut last = Errno(libc::ENOENT);
    for (i, c) in pl.candidates.iter().enumerate() {
        match fs::faccessat(libc::AT_FDCWD, c, libc::X_OK) {
            Ok(()) => {
                match fs::openat(libc::AT_FDCWD, c, libc::O_PATH, 0).and_then(|f| fs::is_dir(&f)) {
                    Ok(false) => return Ok(i),
                    Ok(true) => last = Errno(libc::EACCES),
                    Err(e) => last = e,
                }
            }
            Err(Errno(libc::ENOENT)) | Err(Errno(libc::ENOTDIR)) => {}
            Err(e) => last = e,
        }
    }
    Err(Fail::new(Step::ExecLookup, 0, last))
}

/// Groups, gid, uid, the configured capability sets and no_new_privs, with the seccomp filter
/// loaded at the one moment it can be: last when no_new_privs is set (so the filter never sees
/// the runtime's own steps), else first, while the process still holds CAP_SYS_ADMIN. A filter
/// with an agent was loaded earlier, by `seccomp_for_agent`.
pub fn credentials(pl: &ProcessPlan) -> Result<(), Fail> {
    let own = pl.seccomp.as_deref().filter(|_| !pl.seccomp_agent());
    if !pl.no_new_privs {
        seccomp(own)?;
    }
    ids_and_caps(pl)?;
    if pl.no_new_privs {
        seccomp(own)?;
    }
    Ok(())
}

fn seccomp(prog: Option<&crate::seccomp::Program>) -> Result<(), Fail> {
    match prog {
        Some(prog) => p::seccomp_set_filter(prog.flags, &prog.insns)
            .at(Step::Seccomp, 0)
            .map(drop),
        None => Ok(()),
    }
}

/// A filter that notifies an agent loads while the setup channel is still open, so its notify
/// fd can travel to the runtime, which hands it to the agent (as runc does). From here on the
/// process's own syscalls pass the filter too; the agent answers those it is asked about.
pub fn seccomp_for_agent(pl: &ProcessPlan, chan: &Channel) -> Result<(), Fail> {
    let Some(prog) = pl.seccomp.as_ref().filter(|_| pl.seccomp_agent()) else {
        return Ok(());
    };
    let fd = p::seccomp_set_filter(prog.flags, &prog.insns).at(Step::Seccomp, 0)?;
    let Some(fd) = fd else {
        return Err(Fail::new(Step::Seccomp, 1, Errno(libc::EBADF)));
    };
    chan.send_with_fd(Msg::SeccompFd, fd.as_raw_fd())
        .at(Step::Seccomp, 2)
}

fn ids_and_caps(pl: &ProcessPlan) -> Result<(), Fail> {
    p::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0).at(Step::Capabilities, 0)?;
    for cap in 0..=pl.last_cap {
        if pl.caps.bounding & (1u64 << cap) == 0 {
            match p::prctl(libc::PR_CAPBSET_DROP, cap as u64, 0, 0, 0) {
                Ok(_) | Err(Errno(libc::EINVAL)) => {}
                Err(e) => return Err(Fail::new(Step::Capabilities, cap, e)),
            }
        }
    }
    match p::setgroups(&pl.groups) {
        // A user namespace with setgroups denied: only an empty list was asked for.
        Err(Errno(libc::EPERM)) if pl.groups.is_empty() => {}
        r => r.at(Step::Groups, 0)?,
    }
    p::setresgid(pl.gid).at(Step::Gid, 0)?;
    p::setresuid(pl.uid).at(Step::Uid, 0)?;
    let c = &pl.caps;
    p::capset(c.effective, c.permitted, c.inheritable).at(Step::Capabilities, 1)?;
    let _ = p::prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as u64,
        0,
        0,
        0,
    );
    // An ambient capability also needs the inheritable one; like runc, a spec that asks for
    // ambient without inheritable (runc's own default spec does) gets none rather than an error.
    for cap in 0..=pl.last_cap {
        if c.ambient & (1u64 << cap) != 0 {
            let _ = p::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE as u64,
                cap as u64,
                0,
                0,
            );
        }
    }
    p::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0).at(Step::Capabilities, 3)?;
    if pl.no_new_privs {
        p::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0).at(Step::NoNewPrivs, 0)?;
    }
    Ok(())
}

/// Passes `--preserve-fds` on and closes everything else at exec.
pub fn fds(pl: &ProcessPlan) -> Result<(), Fail> {
    for fd in 3..3 + pl.preserve_fds as i32 {
        fs::set_cloexec(fd, false).at(Step::PreserveFds, fd as usize)?;
    }
    fs::cloexec_from(3 + pl.preserve_fds).at(Step::PreserveFds, 0)
}

/// Opens the program found as it will be opened for exec, so that an image that leads it to
/// /proc/self/exe fails `create` with the reason rather than the process after `start`.
pub fn probe_exec(pl: &ProcessPlan, which: usize) -> Result<(), Fail> {
    let Some(path) = pl.candidates.get(which) else {
        return Err(Fail::new(Step::ExecLookup, 0, Errno(libc::ENOENT)));
    };
    let mut lines = [[0u8; 256]; execute::MAX_DEPTH];
    execute::prepare(path, &pl.argv, &mut lines)
        .map(drop)
        .map_err(|e| Fail::new(Step::ExecOpen, which as u32, e))
}

/// Opens candidate `which` (and its `#!` interpreters) for exec while the process may still
/// open anything, readies the name runc would give it (see `comm`), runs `last_steps`
/// (credentials, seccomp), then resets signals, sets the umask and execs the opened file.
/// Returns only on failure.
pub fn exec(pl: &ProcessPlan, which: usize, last_steps: impl FnOnce() -> Result<(), Fail>) -> Fail {
    let Some(path) = pl.candidates.get(which) else {
        return Fail::new(Step::Execve, 0, Errno(libc::ENOENT));
    };
    let mut lines = [[0u8; 256]; execute::MAX_DEPTH];
    let mut ready = match execute::prepare(path, &pl.argv, &mut lines) {
        Ok(r) => r,
        Err(e) => return Fail::new(Step::ExecOpen, which as u32, e),
    };
    // A filter loaded early for its agent would see (and be asked about) the mounts.
    if !pl.seccomp_agent() {
        if let Err(e) = ready.name_it(pl.named_by_file) {
            return Fail::new(Step::ExecName, 0, e);
        }
    }
    if let Err(f) = last_steps() {
        return f;
    }
    p::reset_signal_dispositions();
    let _ = p::sigmask(libc::SIG_SETMASK, &[]);
    fs::umask(pl.umask);
    let e = execute::exec(ready, pl.envp.ptrs(), pl.exec_via);
    Fail::new(Step::Execve, which as u32, e)
}
