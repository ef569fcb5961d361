//! `containerd-shim-berth-v2`: containerd's shim v2 for runtime type `io.containerd.berth.v2`.
//!
//! It links berth-core and calls it in-process: no runtime binary is exec'd per request.
//!
//! Why clone3 from this threaded process is safe (no launcher process, no helper forked
//! before threads start): berth-core plans everything before it clones, and the children it
//! clones — the container init, an exec'd process, a hook — run only raw syscalls from that
//! plan until execve: no allocation, no locks, nothing a thread of the shim could be holding.
//! That is the rule POSIX sets for the child of a multithreaded fork, and berth-core keeps it
//! for its own CLI anyway. Two consequences the shim handles: its process-wide reaper
//! (containerd-shim's waitpid(-1) on SIGCHLD) would steal a hook's exit, so berth-core clones
//! hooks with no exit signal; and exits are matched to processes here, in one thread.

mod bundle;
mod io;
mod metrics;
mod oom;
mod process;
mod pump;
mod service;
mod task;

fn main() {
    // One malloc arena: the shim's threads mostly wait, and an arena per thread costs each
    // idle shim a few hundred KiB of resident memory for nothing.
    // SAFETY: mallopt before any thread exists.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 1) };
    containerd_shim::run::<service::Service>("io.containerd.berth.v2", None)
}
