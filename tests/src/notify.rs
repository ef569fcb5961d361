//! The agent side of seccomp user notification (`SCMP_ACT_NOTIFY` with `listenerPath`): take
//! the notify fd of each process that connects, receive its notifications, answer them.

use serde_json::Value;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::time::Duration;

const SECCOMP_IOCTL_NOTIF_RECV: u64 = 0xc050_2100;
const SECCOMP_IOCTL_NOTIF_SEND: u64 = 0xc018_2101;
const SECCOMP_USER_NOTIF_FLAG_CONTINUE: u32 = 1;

/// `struct seccomp_notif`.
#[repr(C)]
#[derive(Default, Debug)]
pub struct Notif {
    pub id: u64,
    pub pid: u32,
    pub flags: u32,
    pub nr: i32,
    pub arch: u32,
    pub ip: u64,
    pub args: [u64; 6],
}

/// How to answer a notification.
pub enum Answer {
    /// Let the syscall run as if no filter had asked.
    Continue,
    /// Return this value without running it.
    Value(i64),
    /// Fail it with this errno.
    Errno(i32),
}

/// Accepts connections on a unix socket; each sends its state JSON with one notify fd.
pub struct Listener {
    pub path: PathBuf,
    fds: Receiver<(Value, std::fs::File)>,
}

impl Listener {
    pub fn start(path: &Path) -> Listener {
        let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
        let (tx, fds) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let (msg, fd) = crate::recv_fd(&conn);
                let state = serde_json::from_str(&msg).unwrap_or(Value::Null);
                if tx.send((state, fd)).is_err() {
                    return;
                }
            }
        });
        Listener {
            path: path.to_path_buf(),
            fds,
        }
    }

    /// The next process's state and notify fd (20 s at most).
    pub fn next(&self) -> (Value, std::fs::File) {
        self.try_next(20).expect("no fd reached the agent")
    }

    pub fn try_next(&self, secs: u64) -> Option<(Value, std::fs::File)> {
        self.fds.recv_timeout(Duration::from_secs(secs)).ok()
    }
}

/// The next notification on `fd`, or `None` after `timeout_ms` or once no process uses the
/// filter any more.
pub fn receive(fd: &std::fs::File, timeout_ms: i32) -> Option<Notif> {
    loop {
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        if unsafe { libc::poll(&mut p, 1, timeout_ms) } <= 0 || p.revents & libc::POLLIN == 0 {
            return None;
        }
        let mut n = Notif::default();
        if unsafe { libc::ioctl(fd.as_raw_fd(), SECCOMP_IOCTL_NOTIF_RECV as _, &mut n) } == 0 {
            return Some(n);
        }
    }
}

pub fn answer(fd: &std::fs::File, n: &Notif, a: Answer) {
    #[repr(C)]
    struct Resp {
        id: u64,
        val: i64,
        error: i32,
        flags: u32,
    }
    let mut r = Resp {
        id: n.id,
        val: 0,
        error: 0,
        flags: 0,
    };
    match a {
        Answer::Continue => r.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE,
        Answer::Value(v) => r.val = v,
        Answer::Errno(e) => r.error = -e,
    }
    unsafe { libc::ioctl(fd.as_raw_fd(), SECCOMP_IOCTL_NOTIF_SEND as _, &r) };
}

/// Answers every notification on `fd` with `decide`, until the filter has no process left.
pub fn serve(fd: std::fs::File, decide: impl Fn(&Notif) -> Answer) {
    while let Some(n) = receive(&fd, 30_000) {
        answer(&fd, &n, decide(&n));
    }
}
