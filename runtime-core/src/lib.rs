//! berth-core: an OCI container runtime as a library.
//!
//! # Process model
//!
//! `create` plans everything before any process exists: every path, mount, string and number
//! the container needs becomes part of an `InitPlan`. Then a single `clone3` makes the
//! container init, born in its new namespaces and — on cgroup v2 — in its cgroup
//! (`CLONE_INTO_CGROUP`). The init follows the plan with raw syscalls only, so it is safe to
//! clone even from a threaded program, and it reports failure as a fixed-size code that the
//! runtime turns into a sentence naming the field and the syscall.
//!
//! ```text
//! runtime (berth create)                 container init (pid 1 of the new pid namespace)
//!   validate spec, plan, state dir
//!   mkfifo exec.fifo, cgroup mkdir
//!   clone3(CLONE_NEW*, INTO_CGROUP) ────▶ write "0" to each v1 cgroup's `tasks`
//!   uid/gid maps                          wait for Continue
//!   Continue{pid} ──────────────────────▶ join/unshare namespaces, hostname, mounts (fd-based,
//!                                         resolved inside the rootfs), devices, /dev links
//!                 ◀──────────────────────  RunHooks       (only when there are such hooks)
//!   prestart + createRuntime hooks
//!   HooksDone ──────────────────────────▶ createContainer hooks, pivot_root, sysctl, masked
//!                                         and readonly paths, console, rlimits, cwd, lookup
//!                 ◀──────────────────────  Ready (or Failed{step, index, errno})
//!   write state.json, exit                 open exec.fifo for writing: blocks
//! berth start: open exec.fifo to read ──▶ write 1 byte, startContainer hooks, credentials
//!   poststart hooks                        (groups, uid/gid, capabilities, no_new_privs), execve
//! ```
//!
//! `exec` clones one process into the container's cgroup; the runtime first points its own
//! pid and time namespace-for-children at the container's, so the child is born in them, and
//! the child joins every other namespace with one `setns` on the init's pidfd. The runtime
//! binary is never run inside the container, so `/proc/self/exe` there never leads to it.
//!
//! Every fd the runtime opens is `O_CLOEXEC`, and everything from fd 3 up (past
//! `--preserve-fds`) is marked close-on-exec before the user program runs.

pub mod cgroups;
pub mod container;
pub mod error;
pub mod hooks;
pub mod net;
pub mod process;
pub mod rootfs;
pub mod seccomp;
pub mod security;
pub mod sys;

pub use container::state::Status;
pub use container::{
    ConsoleSocket, Container, CreateOptions, ExecOptions, ExecProcess, Runtime, State,
};
pub use error::{Error, Result};
/// The OCI spec types berth uses, re-exported so callers never mix versions.
pub use oci_spec;
