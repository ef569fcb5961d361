//! OOM events of a container's memory cgroup, as containerd's TaskOOM: v1 through an eventfd
//! registered on memory.oom_control, v2 through inotify on memory.events (a change with a
//! higher oom_kill count). One small thread per container; it ends with the cgroup.

use berth_core::cgroups::controllers::Version;
use berth_core::cgroups::Cgroup;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};

/// Starts watching; `on_oom` runs for every OOM event.
pub fn watch(cg: &Cgroup, on_oom: impl Fn() + Send + 'static) -> std::io::Result<()> {
    let Some((dir, version)) = cg.place("memory") else {
        return Ok(());
    };
    let events = match version {
        Version::V1 => v1_eventfd(&dir)?,
        Version::V2 => v2_inotify(&dir)?,
    };
    let cg = cg.clone();
    std::thread::Builder::new()
        .name("oom".into())
        .stack_size(64 * 1024)
        .spawn(move || wait_loop(events, &dir, version, &cg, on_oom))?;
    Ok(())
}

fn wait_loop(mut events: File, dir: &Path, v: Version, cg: &Cgroup, on_oom: impl Fn()) {
    let mut kills = cg.oom_kills();
    let mut buf = [0u8; 4096];
    while events.read(&mut buf).is_ok_and(|n| n > 0) {
        if !dir.exists() {
            return;
        }
        match v {
            // Every eventfd wake-up on a live cgroup is an OOM.
            Version::V1 => on_oom(),
            Version::V2 => {
                let now = cg.oom_kills();
                if now > kills {
                    on_oom();
                }
                kills = now;
            }
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
