//! `start`: release the init waiting on the exec fifo, then run the poststart hooks.

use super::state::Status;
use super::Container;
use crate::error::{Error, Result, SysContext};
use crate::sys::{fs, process as p};
use std::os::fd::AsRawFd;

impl Container {
    pub fn start(&mut self) -> Result<()> {
        match self.status() {
            Status::Created => {}
            Status::Stopped => {
                return Err(
                    self.wrong_state(Status::Stopped, "cannot start a container that has stopped")
                )
            }
            s => return Err(self.wrong_state(s, "cannot start an already running container")),
        }
        self.release_init()?;
        let _ = std::fs::remove_file(self.dir.fifo());
        let hooks = self
            .stored
            .spec
            .hooks()
            .as_ref()
            .and_then(|h| h.poststart().as_ref());
        self.run_late_hooks(hooks, "poststart", Status::Running);
        Ok(())
    }

    /// Opening the fifo's read end lets the init's blocked open for writing return. The init
    /// writes `0` when released and keeps the fifo open (close-on-exec) through the
    /// startContainer hooks and the last setup, so end-of-file means it exec'd the program; a
    /// `1` before the end means it failed.
    fn release_init(&self) -> Result<()> {
        let fifo = self.dir.fifo();
        let path = crate::rootfs::resolve::cstring(&fifo, "exec fifo")?;
        let what = || format!("exec fifo {}", fifo.display());
        // The pidfd first: once the fifo is open the program may run, exit and be reaped by
        // a fast subreaper (containerd's shims) before we could name its pid.
        let pidfd = p::pidfd_open(self.stored.pid)
            .sys("pidfd_open", || format!("init pid {}", self.stored.pid))?;
        let r = fs::openat(libc::AT_FDCWD, &path, libc::O_RDONLY | libc::O_NONBLOCK, 0)
            .sys("open", what)?;
        let mut seen = Vec::new();
        loop {
            let mut fds = [pollin(r.as_raw_fd()), pollin(pidfd.as_raw_fd())];
            fs::poll(&mut fds, -1).sys("poll", what)?;
            let mut buf = [0u8; 16];
            match fs::read(r.as_raw_fd(), &mut buf) {
                Ok(0) if !seen.is_empty() => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
                Err(crate::sys::Errno(libc::EAGAIN)) => {}
                Err(e) => return Err(e).sys("read", what),
            }
            if fds[1].revents != 0 && seen.is_empty() {
                return Err(Error::Init(
                    "the container init exited before it could start".into(),
                ));
            }
        }
        if seen.contains(&b'1') {
            return Err(Error::Init(
                "the container's process failed before exec (a startContainer hook or the user/capability setup; its stderr has the step)".into(),
            ));
        }
        Ok(())
    }
}

fn pollin(fd: i32) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}
