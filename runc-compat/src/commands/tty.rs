//! Foreground supervision for `run` and `exec` without `-d`: signals to berth go on to the
//! container's process, a pty (when the process has one and no console socket was given) is
//! proxied to berth's own stdio, and the process's exit code becomes berth's.

use super::{CliError, CliResult};
use berth_core::sys::{fs, process as p, socket, tty};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// Signals berth passes on instead of acting on them.
const FORWARDED: &[i32] = &[
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
    libc::SIGTERM,
    libc::SIGCONT,
    libc::SIGTSTP,
    libc::SIGTTIN,
    libc::SIGTTOU,
    libc::SIGWINCH,
    libc::SIGPIPE,
];

/// Blocks the forwarded signals and SIGCHLD before the process exists, so none is lost.
pub fn block_signals() -> CliResult<OwnedFd> {
    let mut all = FORWARDED.to_vec();
    all.push(libc::SIGCHLD);
    p::sigmask(libc::SIG_BLOCK, &all).map_err(|e| CliError(format!("sigprocmask: {e}")))?;
    p::signalfd(&all).map_err(|e| CliError(format!("signalfd: {e}")))
}

/// A local socketpair standing in for `--console-socket`: the library sends the pty master to
/// one end, berth reads it from the other.
pub fn console_pair() -> CliResult<(OwnedFd, OwnedFd)> {
    socket::stream_pair().map_err(|e| CliError(format!("socketpair: {e}")))
}

pub fn receive_master(sock: &OwnedFd) -> CliResult<OwnedFd> {
    let mut buf = [0u8; 256];
    match socket::recv_fd(sock.as_raw_fd(), &mut buf) {
        Ok((_, Some(fd))) => Ok(fd),
        Ok((_, None)) => Err(CliError("the container sent no pty".into())),
        Err(e) => Err(CliError(format!("receiving the pty: {e}"))),
    }
}

/// Runs until `pid` exits; returns its exit code.
pub fn supervise(pid: i32, sigfd: OwnedFd, master: Option<OwnedFd>) -> CliResult<i32> {
    let raw = master.as_ref().and_then(|_| tty::make_raw(0).ok());
    if let Some(m) = &master {
        if let Ok((rows, cols)) = tty::get_winsize(0) {
            let _ = tty::set_winsize(m.as_raw_fd(), rows, cols);
        }
    }
    let result = event_loop(pid, &sigfd, master.as_ref());
    if let Some(t) = raw {
        tty::restore(0, &t);
    }
    result
}

fn event_loop(pid: i32, sigfd: &OwnedFd, master: Option<&OwnedFd>) -> CliResult<i32> {
    let mut stdin_open = master.is_some();
    let mut master_open = master.is_some();
    let mfd = master.map_or(-1, |m| m.as_raw_fd());
    loop {
        let mut fds = [
            pollfd(sigfd.as_raw_fd()),
            pollfd(if stdin_open { 0 } else { -1 }),
            pollfd(if master_open { mfd } else { -1 }),
        ];
        fs::poll(&mut fds, -1).map_err(|e| CliError(format!("poll: {e}")))?;
        if fds[2].revents != 0 && !copy(mfd, 1) {
            master_open = false;
        }
        if fds[1].revents != 0 && !copy(0, mfd) {
            stdin_open = false;
        }
        if fds[0].revents != 0 {
            let sig = p::read_signal(sigfd.as_raw_fd())
                .map_err(|e| CliError(format!("signalfd: {e}")))?;
            if sig == libc::SIGCHLD {
                if let Some(exit) =
                    p::waitpid(pid, true).map_err(|e| CliError(format!("waitpid: {e}")))?
                {
                    while master_open && copy(mfd, 1) {}
                    return Ok(exit.code());
                }
            } else if sig == libc::SIGWINCH && master_open {
                if let Ok((rows, cols)) = tty::get_winsize(0) {
                    let _ = tty::set_winsize(mfd, rows, cols);
                }
            } else {
                let _ = p::kill(pid, sig);
            }
        }
    }
}

fn pollfd(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// Copies what is readable now; false at end of file or error (a closed pty reads EIO).
fn copy(from: RawFd, to: RawFd) -> bool {
    let mut buf = [0u8; 8192];
    match fs::read(from, &mut buf) {
        Ok(0) | Err(_) => false,
        Ok(n) => fs::write_all(to, &buf[..n]).is_ok(),
    }
}
