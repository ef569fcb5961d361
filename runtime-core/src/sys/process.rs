//! Process, namespace, credential and signal calls.

use super::{check, retry, Errno, SysResult};
use std::ffi::{c_char, CStr};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

pub const CLONE_PIDFD: u64 = 0x1000;
pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// What clone3 returned: in the parent the child's pid and a pidfd for it.
pub enum Forked {
    Child,
    Parent { pid: i32, pidfd: OwnedFd },
}

/// clone3(2) without a new stack (fork-like), always with `CLONE_PIDFD` and `SIGCHLD`;
/// `cgroup` places the child in that cgroup v2 directory at birth.
///
/// # Safety
/// The child must only do what is safe after fork in the calling process: if the caller may
/// have threads, only async-signal-safe work until execve or _exit.
pub unsafe fn clone3(flags: u64, cgroup: Option<RawFd>) -> SysResult<Forked> {
    clone3_signal(flags, cgroup, libc::SIGCHLD)
}

/// A child that sends no SIGCHLD when it exits (`exit_signal` 0) is invisible to a reaper
/// that calls `waitpid(-1)` without `__WALL` (the shim crate's): the runtime's helpers (hooks)
/// are then waited for by the runtime alone, with `wait_helper`.
///
/// # Safety
/// As `clone3`.
pub unsafe fn clone3_quiet(flags: u64) -> SysResult<Forked> {
    clone3_signal(flags, None, 0)
}

/// Waits for a child made by `clone3_quiet`.
pub fn wait_helper(pid: i32) -> SysResult<Exit> {
    let mut status = 0;
    retry(|| unsafe { libc::waitpid(pid, &mut status, libc::__WALL) as libc::c_long })?;
    Ok(decode_status(status))
}

unsafe fn clone3_signal(flags: u64, cgroup: Option<RawFd>, signal: i32) -> SysResult<Forked> {
    let mut pidfd: RawFd = -1;
    let mut args = CloneArgs {
        flags: flags | CLONE_PIDFD,
        pidfd: &mut pidfd as *mut RawFd as u64,
        exit_signal: signal as u64,
        ..Default::default()
    };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    let ret = check(libc::syscall(
        libc::SYS_clone3,
        &mut args as *mut CloneArgs,
        std::mem::size_of::<CloneArgs>(),
    ))?;
    if ret == 0 {
        Ok(Forked::Child)
    } else {
        Ok(Forked::Parent {
            pid: ret as i32,
            pidfd: OwnedFd::from_raw_fd(pidfd),
        })
    }
}

pub fn pidfd_open(pid: i32) -> SysResult<OwnedFd> {
    let fd = check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

pub fn pidfd_send_signal(pidfd: RawFd, sig: i32) -> SysResult<()> {
    check(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd,
            sig,
            std::ptr::null::<u8>(),
            0,
        )
    })
    .map(drop)
}

pub fn kill(pid: i32, sig: i32) -> SysResult<()> {
    check(unsafe { libc::kill(pid, sig) as libc::c_long }).map(drop)
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    /// The shell's convention, which runc follows: 128+N for death by signal N.
    pub fn code(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s,
        }
    }
}

/// waitpid(2) for one child; `None` with `nohang` when it has not exited yet.
pub fn waitpid(pid: i32, nohang: bool) -> SysResult<Option<Exit>> {
    let mut status = 0;
    let flags = if nohang { libc::WNOHANG } else { 0 };
    let r = retry(|| unsafe { libc::waitpid(pid, &mut status, flags) as libc::c_long })?;
    if r == 0 {
        return Ok(None);
    }
    Ok(Some(decode_status(status)))
}

pub fn decode_status(status: i32) -> Exit {
    if libc::WIFSIGNALED(status) {
        Exit::Signal(libc::WTERMSIG(status))
    } else {
        Exit::Code(libc::WEXITSTATUS(status))
    }
}

pub fn setns(fd: RawFd, nstype: i32) -> SysResult<()> {
    check(unsafe { libc::setns(fd, nstype) as libc::c_long }).map(drop)
}

pub fn unshare(flags: i32) -> SysResult<()> {
    check(unsafe { libc::unshare(flags) as libc::c_long }).map(drop)
}

pub fn sethostname(name: &[u8]) -> SysResult<()> {
    check(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) as libc::c_long }).map(drop)
}

pub fn setdomainname(name: &[u8]) -> SysResult<()> {
    check(unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) as libc::c_long })
        .map(drop)
}

pub fn prctl(op: i32, a: u64, b: u64, c: u64, d: u64) -> SysResult<i32> {
    check(unsafe { libc::prctl(op, a, b, c, d) as libc::c_long }).map(|v| v as i32)
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// capget(2) of the calling thread: its permitted set (64-bit, version 3 layout).
pub fn capget_permitted() -> SysResult<u64> {
    let hdr = CapHeader {
        version: 0x2008_0522,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: the kernel writes two CapData entries, which `data` has room for.
    check(unsafe {
        libc::syscall(
            libc::SYS_capget,
            &hdr as *const CapHeader,
            data.as_mut_ptr(),
        )
    })?;
    Ok(u64::from(data[0].permitted) | (u64::from(data[1].permitted) << 32))
}

/// capset(2) with the 64-bit (version 3) layout.
pub fn capset(effective: u64, permitted: u64, inheritable: u64) -> SysResult<()> {
    let hdr = CapHeader {
        version: 0x2008_0522,
        pid: 0,
    };
    let data = [
        CapData {
            effective: effective as u32,
            permitted: permitted as u32,
            inheritable: inheritable as u32,
        },
        CapData {
            effective: (effective >> 32) as u32,
            permitted: (permitted >> 32) as u32,
            inheritable: (inheritable >> 32) as u32,
        },
    ];
    check(unsafe { libc::syscall(libc::SYS_capset, &hdr as *const CapHeader, data.as_ptr()) })
        .map(drop)
}

pub fn setresuid(uid: u32) -> SysResult<()> {
    check(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) }).map(drop)
}

pub fn setresgid(gid: u32) -> SysResult<()> {
    check(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) }).map(drop)
}

/// The raw syscall, not glibc's wrapper: glibc would try to signal other threads.
pub fn setgroups(groups: &[u32]) -> SysResult<()> {
    check(unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) }).map(drop)
}

pub fn setrlimit(resource: u32, soft: u64, hard: u64) -> SysResult<()> {
    let lim = libc::rlimit64 {
        rlim_cur: soft,
        rlim_max: hard,
    };
    check(unsafe { libc::prlimit64(0, resource as _, &lim, std::ptr::null_mut()) as libc::c_long })
        .map(drop)
}

pub fn personality(persona: u64) -> SysResult<()> {
    check(unsafe { libc::personality(persona as libc::c_ulong) as libc::c_long }).map(drop)
}

pub fn ioprio_set(class: i32, level: i32) -> SysResult<()> {
    const IOPRIO_WHO_PROCESS: i32 = 1;
    let prio = (class << 13) | level;
    check(unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, prio) }).map(drop)
}

/// The kernel's `struct sched_attr` (first version, 56 bytes with util clamps).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
}

pub fn sched_setattr(attr: &SchedAttr) -> SysResult<()> {
    check(unsafe { libc::syscall(libc::SYS_sched_setattr, 0, attr as *const SchedAttr, 0) })
        .map(drop)
}

/// Joins a new anonymous-named session keyring, so containers do not share the caller's keys.
pub fn join_session_keyring(name: &CStr) -> SysResult<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: i32 = 1;
    check(unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) })
        .map(drop)
}

/// execve(2); returns only on failure.
pub fn execve(path: &CStr, argv: &[*const c_char], envp: &[*const c_char]) -> Errno {
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    Errno::last()
}

/// execveat(2) of `name` under the directory fd `dir`; returns only on failure.
pub fn execveat_at(
    dir: RawFd,
    name: &CStr,
    argv: &[*const c_char],
    envp: &[*const c_char],
) -> Errno {
    // SAFETY: `name` is NUL-terminated; argv and envp are NULL-terminated arrays (CStrings).
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            dir,
            name.as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            0,
        )
    };
    Errno::last()
}

/// execveat(2) of an open file (`AT_EMPTY_PATH`); returns only on failure.
pub fn execveat_fd(fd: RawFd, argv: &[*const c_char], envp: &[*const c_char]) -> Errno {
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd,
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    Errno::last()
}

/// Ends the calling process without running atexit handlers or flushing stdio.
pub fn exit_now(code: i32) -> ! {
    unsafe { libc::_exit(code) }
}

pub fn setsid() -> SysResult<()> {
    check(unsafe { libc::setsid() as libc::c_long }).map(drop)
}

pub fn getpid() -> i32 {
    unsafe { libc::getpid() }
}

/// Blocks (or unblocks) the given signals for the calling thread; returns the previous mask.
pub fn sigmask(how: i32, signals: &[i32]) -> SysResult<libc::sigset_t> {
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in signals {
            libc::sigaddset(&mut set, *s);
        }
        let r = libc::pthread_sigmask(how, &set, &mut old);
        if r != 0 {
            return Err(Errno(r));
        }
        Ok(old)
    }
}

pub fn set_sigmask(set: &libc::sigset_t) -> SysResult<()> {
    let r = unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, set, std::ptr::null_mut()) };
    if r != 0 {
        return Err(Errno(r));
    }
    Ok(())
}

/// Resets every signal disposition to default, so the container does not inherit ignored
/// signals from whoever started the runtime.
pub fn reset_signal_dispositions() {
    for sig in 1..libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}

/// A signalfd for the signals in `signals` (which the caller must have blocked).
pub fn signalfd(signals: &[i32]) -> SysResult<OwnedFd> {
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in signals {
            libc::sigaddset(&mut set, *s);
        }
        let fd = check(libc::signalfd(-1, &set, libc::SFD_CLOEXEC) as libc::c_long)?;
        Ok(OwnedFd::from_raw_fd(fd as RawFd))
    }
}

/// Reads one signal number from a signalfd.
pub fn read_signal(fd: RawFd) -> SysResult<i32> {
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    let n = retry(|| unsafe {
        libc::read(fd, (&mut info as *mut libc::signalfd_siginfo).cast(), size) as libc::c_long
    })?;
    if n as usize != size {
        return Err(Errno(libc::EIO));
    }
    Ok(info.ssi_signo as i32)
}

/// The CLONE_NEW* type of a namespace fd (ioctl NS_GET_NSTYPE).
pub fn ns_type(fd: RawFd) -> SysResult<i32> {
    const NS_GET_NSTYPE: u64 = 0xb703;
    check(unsafe { libc::ioctl(fd, NS_GET_NSTYPE as _) as libc::c_long }).map(|v| v as i32)
}

/// sched_setaffinity(2) for the calling thread; `mask` has one bit per CPU.
pub fn set_affinity(mask: &[u64; 16]) -> SysResult<()> {
    check(unsafe {
        libc::syscall(
            libc::SYS_sched_setaffinity,
            0,
            std::mem::size_of_val(mask),
            mask.as_ptr(),
        )
    })
    .map(drop)
}

/// set_mempolicy(2); `nodes` has one bit per NUMA node.
pub fn set_mempolicy(mode: i32, nodes: &[u64; 16]) -> SysResult<()> {
    let maxnode = nodes.len() * 64;
    let ptr = if nodes.iter().all(|w| *w == 0) {
        std::ptr::null()
    } else {
        nodes.as_ptr()
    };
    check(unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) }).map(drop)
}

/// seccomp(SECCOMP_SET_MODE_FILTER): `insns` are `struct sock_filter` entries packed as u64.
/// With SECCOMP_FILTER_FLAG_NEW_LISTENER the kernel returns the notify fd (close-on-exec).
pub fn seccomp_set_filter(flags: u32, insns: &[u64]) -> SysResult<Option<OwnedFd>> {
    #[repr(C)]
    struct SockFprog {
        len: u16,
        filter: *const u64,
    }
    let prog = SockFprog {
        len: insns.len() as u16,
        filter: insns.as_ptr(),
    };
    const SECCOMP_SET_MODE_FILTER: u32 = 1;
    check(unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const SockFprog,
        )
    })
    .map(|r| (flags & NEW_LISTENER != 0).then(|| unsafe { OwnedFd::from_raw_fd(r as RawFd) }))
}

const NEW_LISTENER: u32 = 8;

/// Leaves `fd` open across the exec of `cmd`'s child (in the child only; it stays
/// close-on-exec in this process). The caller keeps `fd` open until the child is spawned.
pub fn inherit_fd(cmd: &mut std::process::Command, fd: RawFd) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure only calls fcntl, which is async-signal-safe, between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
