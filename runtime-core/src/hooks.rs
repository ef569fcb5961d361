//! OCI hooks: planned once, run with the container state on stdin and an optional timeout.
//!
//! The same runner serves the runtime (prestart, createRuntime, poststart, poststop) and the
//! container init (createContainer, startContainer), so it allocates nothing: the state JSON is
//! written as prepared pieces, and the init's host pid is spliced in as digits.
//!
//! A hook the runtime runs is a host program named by the config's author, exec'd by path as
//! runc does: Docker's network hook is `/proc/<dockerd pid>/exe`, a magic link to dockerd
//! itself. A hook the init runs is exec'd like the container's own process, by fd with no
//! magic link on the way (CVE-2019-5736), since it runs in the container's namespaces.

use crate::error::{Error, Result};
use crate::process::execute;
use crate::process::plan::CStrings;
use crate::sys::process::{self as p, Exit, Forked};
use crate::sys::{fs, socket, Errno};
use oci_spec::runtime::Hook;
use std::ffi::CString;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

/// Where a hook runs, which decides how it is exec'd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Runtime,
    Container,
}

impl Side {
    fn of(kind: &str) -> Side {
        match kind {
            "createContainer" | "startContainer" => Side::Container,
            _ => Side::Runtime,
        }
    }
}

#[derive(Debug)]
pub struct HookPlan {
    /// For messages: `createRuntime[0] (/usr/bin/hook)`.
    pub shown: String,
    side: Side,
    path: CString,
    argv: CStrings,
    envp: CStrings,
    timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookFail {
    Spawn(Errno),
    Exit(Exit),
    Timeout(u64),
}

impl HookFail {
    /// The errno the container init reports for this failure over its fixed-size channel.
    pub fn code(self) -> i32 {
        match self {
            HookFail::Spawn(e) => e.0,
            HookFail::Exit(e) => -(e.code().max(1)),
            HookFail::Timeout(_) => -1000,
        }
    }

    pub fn describe(code: i32) -> String {
        match code {
            -1000 => "timed out".to_string(),
            c if c < 0 => format!("exited with status {}", -c),
            c => format!("could not start: {}", Errno(c)),
        }
    }
}

impl std::fmt::Display for HookFail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HookFail::Spawn(e) => write!(f, "could not start: {e}"),
            HookFail::Exit(Exit::Code(c)) => write!(f, "exited with status {c}"),
            HookFail::Exit(Exit::Signal(s)) => write!(f, "killed by signal {s}"),
            HookFail::Timeout(ms) => write!(f, "timed out after {} s", ms / 1000),
        }
    }
}

pub fn plan(hooks: Option<&Vec<Hook>>, kind: &str) -> Result<Vec<HookPlan>> {
    hooks
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, h)| {
            let shown = format!("{kind}[{i}] ({})", h.path().display());
            let field = format!("hooks.{kind}[{i}]");
            if !h.path().is_absolute() {
                return Err(Error::invalid(field, "path must be absolute"));
            }
            let timeout_ms = match h.timeout() {
                Some(t) if t <= 0 => return Err(Error::invalid(field, "timeout must be positive")),
                Some(t) => Some(t as u64 * 1000),
                None => None,
            };
            let path = crate::rootfs::resolve::cstring(h.path(), &field)?;
            let args: Vec<String> = match h.args() {
                Some(a) if !a.is_empty() => a.clone(),
                _ => vec![h.path().display().to_string()],
            };
            Ok(HookPlan {
                shown,
                side: Side::of(kind),
                path,
                argv: CStrings::new(&args, &field)?,
                envp: CStrings::new(h.env().as_deref().unwrap_or(&[]), &field)?,
                timeout_ms,
            })
        })
        .collect()
}

impl HookPlan {
    /// For the hooks whose path is resolved on the host and whose failure fails create
    /// (prestart, createRuntime, createContainer): the program must be there and executable
    /// before anything is made, not found missing halfway through.
    pub fn check_runnable(&self) -> Result<()> {
        let field = || format!("hooks.{}", self.shown);
        match crate::sys::fs::faccessat(libc::AT_FDCWD, &self.path, libc::X_OK) {
            Ok(()) => Ok(()),
            Err(e) => Err(Error::invalid(field(), format!("cannot be run: {e}"))),
        }
    }
}

/// Runs every hook in order; stops at the first failure and says which.
pub fn run_all(hooks: &[HookPlan], state: &[&[u8]]) -> Result<()> {
    for h in hooks {
        run(h, state).map_err(|e| Error::Hook(format!("{} {e}", h.shown)))?;
    }
    Ok(())
}

/// Runs one hook with `state` (the concatenation of the pieces) on its stdin.
pub fn run(h: &HookPlan, state: &[&[u8]]) -> std::result::Result<(), HookFail> {
    let (ours, theirs) = socket::stream_pair().map_err(HookFail::Spawn)?;
    // SAFETY: the child only issues syscalls (`exec_hook`) and _exit.
    let forked = unsafe { p::clone3_quiet(0) }.map_err(HookFail::Spawn)?;
    let (pid, pidfd) = match forked {
        Forked::Child => {
            if fs::dup2(theirs.as_raw_fd(), 0).is_ok() {
                exec_hook(h);
            }
            p::exit_now(127);
        }
        Forked::Parent { pid, pidfd } => (pid, pidfd),
    };
    drop(theirs);
    let start = Instant::now();
    let left = |start: Instant| -> i32 {
        match h.timeout_ms {
            None => -1,
            Some(t) => t.saturating_sub(start.elapsed().as_millis() as u64) as i32,
        }
    };
    // A hook that never reads its stdin must not hang us: write without blocking, and give up
    // on the state once the hook has exited.
    'pieces: for piece in state {
        let mut rest: &[u8] = piece;
        while !rest.is_empty() {
            match socket::send_nowait(ours.as_raw_fd(), rest) {
                Ok(n) => rest = &rest[n..],
                Err(Errno(libc::EAGAIN)) => {
                    if !wait_writable(ours.as_raw_fd(), pidfd.as_raw_fd(), left(start)) {
                        break 'pieces;
                    }
                }
                Err(_) => break 'pieces,
            }
        }
    }
    drop(ours);
    let ready = fs::poll_one(pidfd.as_raw_fd(), libc::POLLIN, left(start)).unwrap_or(0);
    if ready == 0 {
        let _ = p::pidfd_send_signal(pidfd.as_raw_fd(), libc::SIGKILL);
        let _ = p::wait_helper(pid);
        return Err(HookFail::Timeout(h.timeout_ms.unwrap_or(0)));
    }
    match p::wait_helper(pid) {
        Ok(Exit::Code(0)) => Ok(()),
        Ok(e) => Err(HookFail::Exit(e)),
        Err(_) => Err(HookFail::Spawn(Errno(libc::ECHILD))),
    }
}

/// In the forked child: execs the hook; returns only on failure.
fn exec_hook(h: &HookPlan) {
    // The runtime may have signals blocked (it forwards them); the hook must not.
    let _ = p::sigmask(libc::SIG_SETMASK, &[]);
    match h.side {
        Side::Runtime => {
            let _ = p::execve(&h.path, h.argv.ptrs(), h.envp.ptrs());
        }
        Side::Container => {
            let mut lines = [[0u8; 256]; execute::MAX_DEPTH];
            if let Ok(ready) = execute::prepare(&h.path, &h.argv, &mut lines) {
                let _ = execute::exec(ready, h.envp.ptrs(), execute::Via::Execveat);
            }
        }
    }
}

/// Waits until `sock` is writable; false when the hook exited or time ran out first.
fn wait_writable(sock: RawFd, pidfd: RawFd, timeout_ms: i32) -> bool {
    let mut fds = [
        libc::pollfd {
            fd: sock,
            events: libc::POLLOUT,
            revents: 0,
        },
        libc::pollfd {
            fd: pidfd,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let n = crate::sys::fs::poll(&mut fds, timeout_ms).unwrap_or(0);
    n > 0 && fds[1].revents == 0 && fds[0].revents & libc::POLLOUT != 0
}

/// Formats a pid as decimal digits without allocating.
pub fn pid_digits(pid: i32, buf: &mut [u8; 12]) -> &[u8] {
    let mut n = pid.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    &buf[i..]
}
