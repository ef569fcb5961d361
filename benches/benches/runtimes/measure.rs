//! How things are measured: a command's wall time and peak RSS (wait4), a container's exit
//! (the harness is a child subreaper, so every container init becomes its child), syscall
//! counts (strace -f -c), the host's idle share (/proc/stat), and the private mount namespace
//! the harness runs in.

use std::process::Command;
use std::time::{Duration, Instant};

pub struct Ran {
    pub took: Duration,
    /// Exit code, or 128 + signal; `HUNG` when the deadline passed and the harness killed it.
    pub code: i32,
    /// Peak resident set of the process (and of its children it waited for), KiB.
    pub max_rss_kib: i64,
}

/// How long any one runtime command may take before it counts as hung.
pub const DEADLINE: Duration = Duration::from_secs(10);
/// The exit code the harness records for a command it had to kill.
pub const HUNG: i32 = -1;

/// Runs `cmd` to its end, or kills it at `DEADLINE`.
pub fn run(cmd: &mut Command) -> Ran {
    let start = Instant::now();
    let child = cmd.spawn().expect("spawning a runtime");
    finish(child, start, start + DEADLINE)
}

/// Waits for a spawned runtime command until `until`, then kills it. A peer that loses track
/// of its container (youki, in the parallel scenario) must cost a row, not the whole run.
pub fn finish(child: std::process::Child, start: Instant, until: Instant) -> Ran {
    let pid = child.id() as libc::pid_t;
    let hung = !exits_by(pid, until);
    if hung {
        // SAFETY: kill on our own unreaped child's pid.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let mut status = 0;
    // SAFETY: zeroed rusage is valid; wait4 fills it and the status for our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = loop {
        // SAFETY: see above.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break r;
        }
    };
    let took = start.elapsed();
    assert_eq!(r, pid, "wait4: {}", std::io::Error::last_os_error());
    // The child is reaped: std's handle must not wait for it again.
    std::mem::forget(child);
    Ran {
        took,
        code: if hung { HUNG } else { exit_code(status) },
        max_rss_kib: ru.ru_maxrss,
    }
}

/// Whether `pid` exits before `until`: a poll on its pidfd wakes the moment it does, so the
/// deadline adds nothing to the time measured.
fn exits_by(pid: libc::pid_t, until: Instant) -> bool {
    // SAFETY: pidfd_open with a pid and no flags; the fd is closed below.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if fd < 0 {
        return true; // Cannot watch it: fall back to an unbounded wait.
    }
    let ready = loop {
        let left = until.saturating_duration_since(Instant::now());
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if r > 0 {
            break true;
        }
        if r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break false;
        }
    };
    // SAFETY: our own fd.
    unsafe { libc::close(fd) };
    ready
}

fn exit_code(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    }
}

/// Makes the harness the reaper of every orphan below it: container inits whose runtime
/// exited become its children, so it can wait for them directly.
pub fn become_subreaper() {
    // SAFETY: plain prctl with integer arguments.
    let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(r, 0, "PR_SET_CHILD_SUBREAPER");
}

/// Waits for process `pid` (a container init that is now our child) to exit.
pub fn wait_exit(pid: i32) -> i32 {
    let mut status = 0;
    loop {
        // SAFETY: waitpid on one pid with a status pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return exit_code(status);
        }
        let e = std::io::Error::last_os_error();
        assert_eq!(e.raw_os_error(), Some(libc::EINTR), "waitpid({pid}): {e}");
    }
}

/// Reaps whatever orphans have exited meanwhile.
pub fn reap() {
    let mut status = 0;
    // SAFETY: non-blocking waitpid for any child.
    while unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) } > 0 {}
}

/// Syscalls made by `args` and every process it starts, from `strace -f -c`.
pub fn syscalls(args: &[&std::ffi::OsStr]) -> Option<u64> {
    let out = std::env::temp_dir().join(format!("berth-bench-strace-{}", std::process::id()));
    let st = Command::new("strace")
        .args(["-f", "-c", "-o"])
        .arg(&out)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()?;
    let text = std::fs::read_to_string(&out).ok();
    let _ = std::fs::remove_file(&out);
    if !st.success() {
        return None;
    }
    // Columns are aligned right under "% time  seconds  usecs/call  calls  errors syscall",
    // and in the total line usecs/call and errors may be blank: cut at the header's "calls".
    let text = text?;
    let header = text.lines().find(|l| l.contains("calls"))?;
    let end = header.find("calls")? + "calls".len();
    let total = text.lines().find(|l| l.trim_end().ends_with(" total"))?;
    total.get(..end)?.split_whitespace().last()?.parse().ok()
}

/// The share of CPU time the host spent idle between two readings.
pub struct Idle {
    idle: u64,
    total: u64,
}

impl Idle {
    pub fn now() -> Idle {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let cpu: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal …
        let idle = cpu.get(3).copied().unwrap_or(0) + cpu.get(4).copied().unwrap_or(0);
        Idle {
            idle,
            total: cpu.iter().take(8).sum(),
        }
    }

    pub fn share_since(&self, before: &Idle) -> f64 {
        let total = self.total.saturating_sub(before.total).max(1);
        self.idle.saturating_sub(before.idle) as f64 / total as f64
    }
}

/// Moves the harness into a mount namespace of its own, where this hybrid host's
/// /sys/fs/cgroup/unified/cgroup.controllers (it lists hugetlb, and crun 1.8 then takes the
/// host for pure v2 and fails) is covered by an empty file. Every runtime, berth included,
/// runs under the same view; the host's mounts do not change.
pub fn private_mounts() -> Option<String> {
    let file = "/sys/fs/cgroup/unified/cgroup.controllers";
    let listed = std::fs::read_to_string(file).unwrap_or_default();
    if listed.trim().is_empty() {
        return None;
    }
    let empty = std::env::temp_dir().join(format!("berth-bench-empty-{}", std::process::id()));
    std::fs::write(&empty, "").unwrap();
    let c = |s: &str| std::ffi::CString::new(s).unwrap();
    let (root, target) = (c("/"), c(file));
    let source = c(empty.to_str().unwrap());
    // SAFETY: unshare and mount with NUL-terminated paths; this process is single-threaded
    // here (called first thing in main).
    unsafe {
        assert_eq!(libc::unshare(libc::CLONE_NEWNS), 0, "unshare(CLONE_NEWNS)");
        let flags = libc::MS_REC | libc::MS_PRIVATE;
        let r = libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            flags,
            std::ptr::null(),
        );
        assert_eq!(r, 0, "making / private");
        let r = libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        );
        assert_eq!(r, 0, "covering {file}");
    }
    let _ = std::fs::remove_file(&empty);
    Some(format!(
        "{file} (listing \"{}\") covered by an empty file",
        listed.trim()
    ))
}

pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

pub fn stats(values: &[f64]) -> Option<Stats> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some(Stats {
        median,
        min: v[0],
        max: v[n - 1],
    })
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
