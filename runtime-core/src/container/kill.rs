//! `kill`: a signal to the init (through a pidfd, so a reused pid is never hit), or to every
//! process of the container with `all`.

use super::state::{proc_stat, Status};
use super::Container;
use crate::error::{Error, Result, SysContext};
use crate::sys::process as p;
use std::os::fd::AsRawFd;

impl Container {
    pub fn kill(&self, sig: i32, all: bool) -> Result<()> {
        let status = self.status();
        if status == Status::Stopped {
            return Err(self.wrong_state(status, "container not running"));
        }
        if all {
            return self.stored.cgroup.signal_all(sig);
        }
        self.signal_init(sig)
    }

    pub(super) fn signal_init(&self, sig: i32) -> Result<()> {
        let pid = self.stored.pid;
        let pidfd = match p::pidfd_open(pid) {
            Ok(fd) => fd,
            Err(crate::sys::Errno(libc::ESRCH)) => {
                return Err(self.wrong_state(Status::Stopped, "container not running"))
            }
            Err(e) => return Err(e).sys("pidfd_open", || format!("init pid {pid}")),
        };
        // The pidfd pins the process: if the start time still matches, it is our init.
        match proc_stat(pid) {
            Some((start, _)) if start == self.stored.start_time => {}
            _ => return Err(self.wrong_state(Status::Stopped, "container not running")),
        }
        p::pidfd_send_signal(pidfd.as_raw_fd(), sig).map_err(|e| Error::Sys {
            what: format!("sending signal {sig} to the init (pid {pid})"),
            syscall: "pidfd_send_signal",
            errno: e,
        })
    }
}

/// Signal names and numbers as runc takes them: `KILL`, `SIGKILL`, `9`.
pub fn parse_signal(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (1..=libc::SIGRTMAX()).contains(&n).then_some(n);
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    const NAMES: &[(&str, i32)] = &[
        ("HUP", libc::SIGHUP),
        ("INT", libc::SIGINT),
        ("QUIT", libc::SIGQUIT),
        ("ILL", libc::SIGILL),
        ("TRAP", libc::SIGTRAP),
        ("ABRT", libc::SIGABRT),
        ("IOT", libc::SIGIOT),
        ("BUS", libc::SIGBUS),
        ("FPE", libc::SIGFPE),
        ("KILL", libc::SIGKILL),
        ("USR1", libc::SIGUSR1),
        ("SEGV", libc::SIGSEGV),
        ("USR2", libc::SIGUSR2),
        ("PIPE", libc::SIGPIPE),
        ("ALRM", libc::SIGALRM),
        ("TERM", libc::SIGTERM),
        ("STKFLT", libc::SIGSTKFLT),
        ("CHLD", libc::SIGCHLD),
        ("CONT", libc::SIGCONT),
        ("STOP", libc::SIGSTOP),
        ("TSTP", libc::SIGTSTP),
        ("TTIN", libc::SIGTTIN),
        ("TTOU", libc::SIGTTOU),
        ("URG", libc::SIGURG),
        ("XCPU", libc::SIGXCPU),
        ("XFSZ", libc::SIGXFSZ),
        ("VTALRM", libc::SIGVTALRM),
        ("PROF", libc::SIGPROF),
        ("WINCH", libc::SIGWINCH),
        ("IO", libc::SIGIO),
        ("POLL", libc::SIGPOLL),
        ("PWR", libc::SIGPWR),
        ("SYS", libc::SIGSYS),
    ];
    if let Some(&(_, n)) = NAMES.iter().find(|(n, _)| *n == name) {
        return Some(n);
    }
    let rt = |rest: &str, base: i32, sign: i32| rest.parse::<i32>().ok().map(|k| base + sign * k);
    let n = if name == "RTMIN" {
        Some(libc::SIGRTMIN())
    } else if name == "RTMAX" {
        Some(libc::SIGRTMAX())
    } else if let Some(r) = name.strip_prefix("RTMIN+") {
        rt(r, libc::SIGRTMIN(), 1)
    } else if let Some(r) = name.strip_prefix("RTMAX-") {
        rt(r, libc::SIGRTMAX(), -1)
    } else {
        None
    };
    n.filter(|n| (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(n))
}

#[cfg(test)]
mod tests {
    use super::parse_signal;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse_signal("KILL"), Some(9));
        assert_eq!(parse_signal("sigterm"), Some(15));
        assert_eq!(parse_signal("9"), Some(9));
        assert_eq!(parse_signal("RTMIN+1"), Some(libc::SIGRTMIN() + 1));
        assert_eq!(parse_signal("NOPE"), None);
        assert_eq!(parse_signal("0"), None);
    }
}
