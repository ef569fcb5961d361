//! `delete`: kill what still runs (a created container, or anything with `force`), run the
//! poststop hooks, remove the cgroup and the state directory.

use super::state::Status;
use super::Container;
use crate::error::Result;
use crate::sys::{fs, process as p};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

impl Container {
    pub fn delete(self, force: bool) -> Result<()> {
        let status = self.status();
        match status {
            // Processes left behind (daemons of a container without its own pid namespace)
            // would keep the cgroup from being removed.
            Status::Stopped if self.stored.cgroup.pids().is_ok_and(|p| !p.is_empty()) => {
                self.kill_and_wait(status)?
            }
            Status::Stopped => {}
            Status::Created => self.kill_and_wait(status)?,
            _ if force => self.kill_and_wait(status)?,
            s => {
                return Err(self.wrong_state(
                    s,
                    "cannot delete a container that is not stopped (use --force)",
                ))
            }
        }
        let hooks = self
            .stored
            .spec
            .hooks()
            .as_ref()
            .and_then(|h| h.poststop().as_ref());
        self.run_late_hooks(hooks, "poststop", Status::Stopped);
        if let Some(root) = self.dir.path.parent() {
            match &self.stored.network {
                Some(att) => crate::net::attach::detach(root, &self.stored.id, att)?,
                // A create killed between its network attach and its last state save: the
                // lease is only in the network store.
                None if self.stored.pid == 0 => crate::net::attach::forget(root, &self.stored.id)?,
                None => {}
            }
        }
        self.stored.cgroup.destroy()?;
        self.dir.remove()
    }

    fn kill_and_wait(&self, status: Status) -> Result<()> {
        let pidfd = p::pidfd_open(self.stored.pid).ok();
        self.stored.cgroup.signal_all(libc::SIGKILL)?;
        let _ = self.signal_init(libc::SIGKILL);
        if status == Status::Paused {
            self.stored.cgroup.freeze(false)?;
        }
        if let Some(fd) = pidfd {
            let _ = fs::poll_one(fd.as_raw_fd(), libc::POLLIN, 10_000);
        }
        // Other processes of the container die with it; give the kernel a moment to empty
        // the cgroup so it can be removed.
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.stored.cgroup.pids().is_ok_and(|p| !p.is_empty()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        Ok(())
    }
}
