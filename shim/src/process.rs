//! One process containerd knows of: a container's init or an exec'd process, with its
//! status, its exit once the shim's reaper has seen it, and its stdio.

use crate::io::{Io, Stdio};
use containerd_shim::protos::protobuf::well_known_types::timestamp::Timestamp;
use std::sync::{Condvar, Mutex, MutexGuard};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Stopped,
}

#[derive(Clone, Debug)]
pub struct Exit {
    pub code: u32,
    pub at: Timestamp,
}

pub struct State {
    pub pid: i32,
    pub status: Status,
    pub exit: Option<Exit>,
    /// TaskStart / TaskExecStarted went out: a TaskExit may follow.
    announced: bool,
    exit_published: bool,
}

pub struct Proc {
    /// Empty for the init.
    pub exec_id: String,
    pub stdio: Stdio,
    /// An exec's process spec, kept from `Exec` until `Start`.
    pub spec: Option<berth_core::oci_spec::runtime::Process>,
    state: Mutex<State>,
    exited: Condvar,
    pub io: Mutex<Io>,
    /// An exec'd process's pidfd: signals reach it, never a process that reused its pid.
    pub pidfd: Mutex<Option<std::os::fd::OwnedFd>>,
}

impl Proc {
    pub fn new(
        exec_id: &str,
        stdio: Stdio,
        spec: Option<berth_core::oci_spec::runtime::Process>,
    ) -> Proc {
        Proc {
            exec_id: exec_id.to_string(),
            stdio,
            spec,
            state: Mutex::new(State {
                pid: 0,
                status: Status::Created,
                exit: None,
                announced: false,
                exit_published: false,
            }),
            exited: Condvar::new(),
            io: Mutex::new(Io::default()),
            pidfd: Mutex::new(None),
        }
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn pid(&self) -> i32 {
        self.state().pid
    }

    pub fn set_pid(&self, pid: i32) {
        self.state().pid = pid;
    }

    pub fn set_running(&self) {
        let mut s = self.state();
        if s.status == Status::Created {
            s.status = Status::Running;
        }
    }

    /// Records the exit (first one wins) and wakes waiters. The caller has let the output
    /// drain first.
    pub fn set_exited(&self, code: i32, at: Timestamp) -> bool {
        let mut s = self.state();
        if s.exit.is_some() {
            return false;
        }
        s.status = Status::Stopped;
        s.exit = Some(Exit {
            code: code as u32,
            at,
        });
        self.exited.notify_all();
        true
    }

    /// The exit to announce now, once: only after the start was announced, so containerd
    /// never hears of an exit before the start.
    pub fn exit_to_publish(&self) -> Option<Exit> {
        let mut s = self.state();
        if !s.announced || s.exit_published {
            return None;
        }
        let e = s.exit.clone()?;
        s.exit_published = true;
        Some(e)
    }

    /// The start was announced (or will never be: a deleted, unstarted process).
    pub fn announce(&self) {
        self.state().announced = true;
    }

    /// Blocks until the process has exited.
    pub fn wait(&self) -> Exit {
        let mut s = self.state();
        loop {
            if let Some(e) = &s.exit {
                return e.clone();
            }
            s = self.exited.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }
}
