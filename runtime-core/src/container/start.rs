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

    /// Opening the fifo's read end lets the init's blocked open for writing return; its one
    /// byte says it got there. If the init dies instead, its pidfd says so.
    fn release_init(&self) -> Result<()> {
        let fifo = self.dir.fifo();
        let path = crate::rootfs::resolve::cstring(&fifo, "exec fifo")?;
        let what = || format!("exec fifo {}", fifo.display());
        let r = fs::openat(libc::AT_FDCWD, &path, libc::O_RDONLY | libc::O_NONBLOCK, 0)
            .sys("open", what)?;
        let pidfd = p::pidfd_open(self.stored.pid)
            .sys("pidfd_open", || format!("init pid {}", self.stored.pid))?;
        loop {
            let mut fds = [
                libc::pollfd {
                    fd: r.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: pidfd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            fs::poll(&mut fds, -1).sys("poll", what)?;
            if fds[0].revents & libc::POLLIN != 0 {
                let mut b = [0u8; 1];
                if fs::read(r.as_raw_fd(), &mut b).sys("read", what)? == 1 {
                    return Ok(());
                }
            }
            if fds[1].revents != 0 {
                return Err(Error::Init(
                    "the container init exited before it could start".into(),
                ));
            }
        }
    }
}
