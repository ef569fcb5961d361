//! OOM events of a container's memory cgroup, as containerd's TaskOOM. The kernel wakes a
//! small thread per container (v1: an eventfd registered on memory.oom_control; v2: inotify
//! on memory.events) and the oom_kill counter says whether a kill happened. The thread ends
//! with the cgroup.

use berth_core::cgroups::controllers::Version;
use berth_core::cgroups::Cgroup;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The kill counter of one container's memory cgroup, and what to do for each new kill.
pub struct OomWatch {
    cg: Cgroup,
    seen: Mutex<u64>,
    on_oom: Box<dyn Fn() + Send + Sync>,
}

impl OomWatch {
    /// Announces a kill counted since the last look. The watcher thread calls it when the
    /// kernel signals; the exit path calls it too, so an OOM is announced before the exit
    /// even when the watcher has not run yet (or finds the cgroup already removed).
    pub fn check(&self) {
        let now = self.cg.oom_kills();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if now > *seen {
            *seen = now;
            (self.on_oom)();
        }
    }
}

/// Starts watching, before the container's process runs so that no kill is missed;
/// `on_oom` runs once for each look that finds new kills.
pub fn watch(
    cg: &Cgroup,
    on_oom: impl Fn() + Send + Sync + 'static,
) -> std::io::Result<Option<Arc<OomWatch>>> {
    let Some((dir, version)) = cg.place("memory") else {
        return Ok(None);
    };
    let events = match version {
        Version::V1 => v1_eventfd(&dir)?,
        Version::V2 => v2_inotify(&dir)?,
    };
    let w = Arc::new(OomWatch {
        cg: cg.clone(),
        seen: Mutex::new(cg.oom_kills()),
        on_oom: Box::new(on_oom),
    });
    let weak = Arc::downgrade(&w);
    std::thread::Builder::new()
        .name("oom".into())
        .stack_size(64 * 1024)
        .spawn(move || wait_loop(events, &dir, &weak))?;
    Ok(Some(w))
}

/// Wakes on every signal: an OOM, a change of memory.events, or the cgroup's removal
/// (v1 signals the eventfd, inotify reports the watch gone), which ends the loop.
fn wait_loop(mut events: File, dir: &Path, w: &std::sync::Weak<OomWatch>) {
    let mut buf = [0u8; 4096];
    while events.read(&mut buf).is_ok_and(|n| n > 0) {
        let Some(w) = w.upgrade() else { return };
        w.check();
        if !dir.exists() {
            return;
        }
    }
}

fn v1_eventfd(dir: &Path) -> std::io::Result<File> {
    // SAFETY: eventfd returns a new fd we own.
    let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if efd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: just created, owned from here on.
    let efd = unsafe { File::from_raw_fd(efd) };
    let control = File::open(dir.join("memory.oom_control"))?;
    let line = format!("{} {}", efd.as_raw_fd(), control.as_raw_fd());
    std::fs::write(dir.join("cgroup.event_control"), line)?;
    Ok(efd)
}

fn v2_inotify(dir: &Path) -> std::io::Result<File> {
    // SAFETY: inotify_init1 returns a new fd we own.
    let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: just created, owned from here on.
    let f = unsafe { File::from_raw_fd(fd) };
    let path = std::ffi::CString::new(events_path(dir).into_os_string().into_encoded_bytes())
        .map_err(std::io::Error::other)?;
    // SAFETY: a valid fd and NUL-terminated path.
    if unsafe { libc::inotify_add_watch(f.as_raw_fd(), path.as_ptr(), libc::IN_MODIFY) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(f)
}

fn events_path(dir: &Path) -> PathBuf {
    dir.join("memory.events")
}
