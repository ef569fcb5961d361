//! The typed setup channel between the runtime (parent) and the process it cloned (child).
//!
//! A `SOCK_SEQPACKET` socketpair carries fixed-size messages, so the child never allocates to
//! talk. Each side states the message it expects next; anything else is a protocol error, and
//! the peer's death reads as end-of-file. The order for `create`:
//!
//! ```text
//! parent                                   child (container init)
//!   clone3 ───────────────────────────────▶ joins its v1 cgroups, waits
//!   uid/gid maps
//!   Continue{pid} ────────────────────────▶ namespaces, mounts, devices
//!                 ◀──────────────────────── RunHooks        (only if prestart/createRuntime)
//!   prestart, createRuntime hooks
//!   HooksDone ────────────────────────────▶ createContainer hooks, pivot_root, sysctl,
//!                                           masks, console, exec lookup
//!                 ◀──────────────────────── SeccompFd + fd  (only with a seccomp agent)
//!   sends fd and state to the agent
//!                 ◀──────────────────────── Ready  (or Failed{step,index,errno} at any point)
//!   writes state, exits                     blocks on the exec fifo until `start`
//! ```
//! For `exec` the child sends nothing on success (but `SeccompFd` with an agent): execve closes
//! its end (`O_CLOEXEC`), which the parent reads as end-of-file.

use crate::sys::{socket, Errno, SysResult};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use super::fail::Fail;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Msg {
    Continue {
        pid: i32,
    },
    RunHooks,
    HooksDone,
    /// The seccomp notify fd rides along (SCM_RIGHTS).
    SeccompFd,
    Ready,
    Failed(Fail),
}

const TAG_CONTINUE: u32 = 1;
const TAG_RUN_HOOKS: u32 = 2;
const TAG_HOOKS_DONE: u32 = 3;
const TAG_READY: u32 = 4;
const TAG_FAILED: u32 = 5;
const TAG_SECCOMP_FD: u32 = 6;

impl Msg {
    fn encode(self) -> [u32; 4] {
        match self {
            Msg::Continue { pid } => [TAG_CONTINUE, pid as u32, 0, 0],
            Msg::RunHooks => [TAG_RUN_HOOKS, 0, 0, 0],
            Msg::HooksDone => [TAG_HOOKS_DONE, 0, 0, 0],
            Msg::Ready => [TAG_READY, 0, 0, 0],
            Msg::SeccompFd => [TAG_SECCOMP_FD, 0, 0, 0],
            Msg::Failed(f) => [TAG_FAILED, f.step as u32, f.index, f.errno as u32],
        }
    }

    fn bytes(self) -> [u8; 16] {
        let mut bytes = [0u8; 16];
        for (chunk, w) in bytes.chunks_exact_mut(4).zip(self.encode()) {
            chunk.copy_from_slice(&w.to_ne_bytes());
        }
        bytes
    }

    fn decode(w: [u32; 4]) -> Option<Msg> {
        Some(match w[0] {
            TAG_CONTINUE => Msg::Continue { pid: w[1] as i32 },
            TAG_RUN_HOOKS => Msg::RunHooks,
            TAG_HOOKS_DONE => Msg::HooksDone,
            TAG_READY => Msg::Ready,
            TAG_SECCOMP_FD => Msg::SeccompFd,
            TAG_FAILED => Msg::Failed(Fail::from_raw(w[1], w[2], w[3] as i32)?),
            _ => return None,
        })
    }
}

/// One end of the setup channel.
pub struct Channel {
    fd: OwnedFd,
}

impl Channel {
    pub fn pair() -> SysResult<(Channel, Channel)> {
        let (a, b) = socket::seqpacket_pair()?;
        Ok((Channel { fd: a }, Channel { fd: b }))
    }

    pub fn send(&self, msg: Msg) -> SysResult<()> {
        socket::send(self.fd.as_raw_fd(), &msg.bytes()).map(drop)
    }

    /// Sends `msg` with an fd attached.
    pub fn send_with_fd(&self, msg: Msg, fd: RawFd) -> SysResult<()> {
        socket::send_fd(self.fd.as_raw_fd(), &msg.bytes(), fd)
    }

    /// The next message, or `None` when the peer has gone (exited or exec'd). An fd sent along
    /// is closed: use `recv_with_fd` where one is expected.
    pub fn recv(&self) -> SysResult<Option<Msg>> {
        self.recv_with_fd().map(|m| m.map(|(msg, _)| msg))
    }

    /// The next message and the fd that came with it, if any.
    pub fn recv_with_fd(&self) -> SysResult<Option<(Msg, Option<OwnedFd>)>> {
        let mut bytes = [0u8; 16];
        let (n, fd) = socket::recv_fd(self.fd.as_raw_fd(), &mut bytes)?;
        if n == 0 {
            return Ok(None);
        }
        if n != bytes.len() {
            return Err(Errno(libc::EPROTO));
        }
        let mut words = [0u32; 4];
        for (w, chunk) in words.iter_mut().zip(bytes.chunks_exact(4)) {
            *w = u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        let msg = Msg::decode(words).ok_or(Errno(libc::EPROTO))?;
        Ok(Some((msg, fd)))
    }

    /// Waits for the parent's `Continue`, failing on anything else (child side).
    pub fn expect_continue(&self) -> SysResult<i32> {
        match self.recv()? {
            Some(Msg::Continue { pid }) => Ok(pid),
            _ => Err(Errno(libc::EPROTO)),
        }
    }

    pub fn expect_hooks_done(&self) -> SysResult<()> {
        match self.recv()? {
            Some(Msg::HooksDone) => Ok(()),
            _ => Err(Errno(libc::EPROTO)),
        }
    }
}
