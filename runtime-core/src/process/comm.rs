//! The name a container process goes by (/proc/PID/comm: what ps, top and pgrep show).
//!
//! The kernel names a process after the file name it was exec'd by. runc execs the path, so
//! `/bin/sh` (a link to busybox) is `sh`, Docker's `/sbin/docker-init` is `docker-init` and a
//! script is its own name. Berth execs the opened file by fd (see `execute`), which the kernel
//! names after the file found at the end of the path (`busybox`, `tini-static`; before Linux
//! 6.14, the fd's number).
//!
//! To give runc's name without a path the container could redirect, the exec goes through a
//! tree nobody else can reach: a fresh tmpfs holding one symlink, named as runc's process
//! would be, to `p/self/fd/N`, where `p` is a fresh procfs mounted inside that tmpfs and N the
//! program's fd. The kernel takes the name from the symlink and follows the magic link to the
//! very file Berth opened and checked, so /proc/PID/exe still shows the program's real path.
//!
//! Mounting one detached mount inside another needs Linux 6.15; before that the tree is put
//! together in a mount namespace of the process's own, cloned out, and the namespace left.
//! What cannot be built (no procfs allowed, say) leaves the plain exec by fd: the process
//! runs under the kernel's name. Runs in the cloned child: no allocation.

use crate::sys::{fs, mount as m, process as p, Errno};
use std::ffi::CStr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// A directory no one else can reach, holding `name`, which leads to the program.
pub struct Named<'a> {
    pub dir: OwnedFd,
    pub name: &'a CStr,
}

/// Whether this kernel names a process exec'd by fd after the file's own name (Linux 6.14
/// and later): then a program reached by its own name needs no tree. Read once, at plan time.
pub fn kernel_names_by_file() -> bool {
    static BY_FILE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *BY_FILE.get_or_init(|| {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let mut nums = release
            .split(|c: char| !c.is_ascii_digit())
            .map(|n| n.parse::<u32>().unwrap_or(0));
        let (major, minor) = (nums.next().unwrap_or(0), nums.next().unwrap_or(0));
        (major, minor) >= (6, 14)
    })
}

/// The tree for `path`, whose program (the last interpreter, for a script) is open as `fd`.
/// `None`: exec by fd as it is. An error means the process could not get back into its own
/// mount namespace and must not run.
pub fn tree<'a>(
    path: &'a CStr,
    fd: RawFd,
    script: bool,
    by_file: bool,
) -> Result<Option<Named<'a>>, Errno> {
    let Some(name) = basename(path) else {
        return Ok(None);
    };
    if by_file && !script && same_file(path, fd) {
        return Ok(None);
    }
    let (Ok(proc), Ok(tmp)) = (fresh(c"proc"), fresh(c"tmpfs")) else {
        return Ok(None);
    };
    let mut target = *b"p/self/fd/\0\0\0\0\0\0\0\0\0\0\0\0";
    let mut digits = [0u8; 12];
    let d = crate::hooks::pid_digits(fd, &mut digits);
    target[10..10 + d.len()].copy_from_slice(d);
    let Ok(target) = CStr::from_bytes_until_nul(&target) else {
        return Ok(None);
    };
    let made = fs::mkdirat(tmp.as_raw_fd(), c"p", 0o555)
        .and_then(|()| fs::symlinkat(target, tmp.as_raw_fd(), name));
    if made.is_err() {
        return Ok(None);
    }
    let named = |dir| Some(Named { dir, name });
    match m::move_mount_at(proc.as_raw_fd(), tmp.as_raw_fd(), c"p") {
        Ok(()) => Ok(named(tmp)),
        // Before 6.15 a detached mount cannot take another.
        Err(Errno(libc::EINVAL)) => Ok(in_own_namespace(&proc, &tmp)?.and_then(named)),
        Err(_) => Ok(None),
    }
}

/// The last component of `path`, if it can be a file name.
fn basename(path: &CStr) -> Option<&CStr> {
    let bytes = path.to_bytes_with_nul();
    let start = bytes.iter().rposition(|&c| c == b'/').map_or(0, |i| i + 1);
    let name = CStr::from_bytes_with_nul(&bytes[start..]).ok()?;
    match name.to_bytes() {
        b"" | b"." | b".." => None,
        _ => Some(name),
    }
}

/// Whether `path` names the opened file itself: not a link to it, not a file bound onto that
/// name (Docker's /sbin/docker-init). Then the kernel's name is already runc's.
fn same_file(path: &CStr, fd: RawFd) -> bool {
    match (fs::lstatat(libc::AT_FDCWD, path), fs::fstat(fd)) {
        (Ok(l), Ok(f)) => {
            l.st_mode & libc::S_IFMT == libc::S_IFREG
                && (l.st_dev, l.st_ino) == (f.st_dev, f.st_ino)
                && fs::is_mount_root(fd) == Ok(false)
        }
        _ => false,
    }
}

/// A new, detached mount of a filesystem that needs no source.
fn fresh(fstype: &CStr) -> Result<OwnedFd, Errno> {
    let fsfd = m::fsopen(fstype)?;
    m::fsconfig_create(fsfd.as_raw_fd())?;
    m::fsmount(fsfd.as_raw_fd(), 0)
}

/// Grafts `proc` into `tmp` in a new mount namespace and clones the result out, then goes
/// back to the namespace the process came from, with its root and working directory.
fn in_own_namespace(proc: &OwnedFd, tmp: &OwnedFd) -> Result<Option<OwnedFd>, Errno> {
    let dir = libc::O_PATH | libc::O_DIRECTORY;
    let opened = (
        fs::openat(proc.as_raw_fd(), c"self/ns/mnt", libc::O_RDONLY, 0),
        fs::openat(libc::AT_FDCWD, c"/", dir, 0),
        fs::openat(libc::AT_FDCWD, c".", dir, 0),
    );
    let (Ok(ns), Ok(root), Ok(cwd)) = opened else {
        return Ok(None);
    };
    if p::unshare(libc::CLONE_NEWNS).is_err() {
        return Ok(None);
    }
    let built = graft(proc, tmp);
    // A process that cannot get back must not run: the caller fails it.
    p::setns(ns.as_raw_fd(), libc::CLONE_NEWNS)?;
    fs::fchdir(root.as_raw_fd())?;
    fs::chroot(c".")?;
    fs::fchdir(cwd.as_raw_fd())?;
    Ok(built.ok())
}

/// In the new namespace: `tmp` on top of the root (made private first, so that nothing
/// propagates back to the container's namespace), `proc` inside it, and a copy of both. The
/// root is looked up here: an fd opened before `unshare` names the old namespace's mount.
fn graft(proc: &OwnedFd, tmp: &OwnedFd) -> Result<OwnedFd, Errno> {
    let root = fs::openat(libc::AT_FDCWD, c"/", libc::O_PATH | libc::O_DIRECTORY, 0)?;
    let private = m::MountAttr {
        attr_set: 0,
        attr_clr: 0,
        propagation: libc::MS_PRIVATE,
        userns_fd: 0,
    };
    m::mount_setattr_fd(root.as_raw_fd(), false, &private)?;
    m::move_mount_fd(tmp.as_raw_fd(), root.as_raw_fd())?;
    m::move_mount_at(proc.as_raw_fd(), tmp.as_raw_fd(), c"p")?;
    m::clone_tree(tmp.as_raw_fd(), c"", true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_is_the_last_component() {
        let b = |p: &CStr| basename(p).map(|n| n.to_str().unwrap().to_string());
        assert_eq!(b(c"/bin/sh").as_deref(), Some("sh"));
        assert_eq!(b(c"./entrypoint.sh").as_deref(), Some("entrypoint.sh"));
        assert_eq!(b(c"docker-init").as_deref(), Some("docker-init"));
        assert_eq!(b(c"/bin/"), None);
        assert_eq!(b(c"/bin/.."), None);
    }
}
