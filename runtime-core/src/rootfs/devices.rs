//! /dev inside the container: the default device nodes, `linux.devices`, and the standard
//! symlinks. Nodes are made with mknod in the container's own /dev (never touching the host's
//! nodes); in a user namespace, where mknod is not allowed, the host node is bind-mounted onto
//! an empty file instead, read-only for anyone unmapped.

use super::resolve::{cstring, open_parent, InPath};
use crate::error::{Error, Result};
use crate::process::fail::{At, Fail, Step};
use crate::sys::{fs, mount as m, Errno};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;

#[derive(Debug)]
pub struct DevicePlan {
    pub path: InPath,
    /// `S_IFCHR`/`S_IFBLK`/`S_IFIFO` and permission bits.
    pub mode: u32,
    pub dev: u64,
    pub uid: u32,
    pub gid: u32,
    /// In a user namespace: the host node to bind instead of mknod.
    pub bind_from: Option<CString>,
}

/// The devices every container gets (runtime-spec config-linux.md, "Default Devices").
const DEFAULTS: &[(&str, u32, u32)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// Symlinks every container gets when the runtime sets up /dev.
pub const LINKS: &[(&CStr, &CStr)] = &[
    (c"/proc/self/fd", c"fd"),
    (c"/proc/self/fd/0", c"stdin"),
    (c"/proc/self/fd/1", c"stdout"),
    (c"/proc/self/fd/2", c"stderr"),
    (c"pts/ptmx", c"ptmx"),
    (c"/proc/kcore", c"core"),
];

pub fn plan(devices: &[LinuxDevice], default_dev: bool, userns: bool) -> Result<Vec<DevicePlan>> {
    let mut out = Vec::new();
    if default_dev {
        for (path, major, minor) in DEFAULTS {
            if devices.iter().any(|d| d.path() == Path::new(path)) {
                continue;
            }
            let dev = libc::makedev(*major, *minor);
            out.push(node(
                Path::new(path),
                libc::S_IFCHR | 0o666,
                dev,
                0,
                0,
                userns,
                "default device",
            )?);
        }
    }
    for (i, d) in devices.iter().enumerate() {
        let field = format!("linux.devices[{i}] ({})", d.path().display());
        if !d.path().starts_with("/dev/") {
            return Err(Error::invalid(field, "a device path must be under /dev"));
        }
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
            LinuxDeviceType::B => libc::S_IFBLK,
            LinuxDeviceType::P => libc::S_IFIFO,
            LinuxDeviceType::A => {
                return Err(Error::invalid(
                    field,
                    "type \"a\" is not a device node type",
                ))
            }
        };
        let (major, minor) = (d.major(), d.minor());
        if kind != libc::S_IFIFO && !(0..=0xfff).contains(&major) || !(0..=0xfffff).contains(&minor)
        {
            return Err(Error::invalid(
                field,
                format!("device number {major}:{minor} is out of range"),
            ));
        }
        let perm = d.file_mode().unwrap_or(0o666);
        if perm & !0o7777 != 0 {
            return Err(Error::invalid(
                field,
                format!("fileMode {perm:o} has bits beyond 07777"),
            ));
        }
        let dev = libc::makedev(major as u32, minor as u32);
        let (uid, gid) = (d.uid().unwrap_or(0), d.gid().unwrap_or(0));
        out.push(node(d.path(), kind | perm, dev, uid, gid, userns, &field)?);
    }
    Ok(out)
}

fn node(
    path: &Path,
    mode: u32,
    dev: u64,
    uid: u32,
    gid: u32,
    userns: bool,
    field: &str,
) -> Result<DevicePlan> {
    Ok(DevicePlan {
        path: InPath::new(path, field)?,
        mode,
        dev,
        uid,
        gid,
        bind_from: if userns {
            Some(cstring(path, field)?)
        } else {
            None
        },
    })
}

/// Creates device `i` inside the rootfs (container init; no allocation).
pub fn create(root: RawFd, i: usize, d: &DevicePlan) -> std::result::Result<(), Fail> {
    let (dir, name) = open_parent(root, &d.path).at(Step::DeviceCreate, i)?;
    let dir = dir.as_raw_fd();
    match fs::unlinkat(dir, name, 0) {
        Ok(()) | Err(Errno(libc::ENOENT)) => {}
        Err(e) => return Err(Fail::new(Step::DeviceCreate, i as u32, e)),
    }
    if let Some(host) = &d.bind_from {
        let flags = libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_WRONLY;
        let file = fs::openat(dir, name, flags, 0o644).at(Step::DeviceCreate, i)?;
        let mnt = m::clone_tree(libc::AT_FDCWD, host, false).at(Step::DeviceCreate, i)?;
        return m::move_mount_fd(mnt.as_raw_fd(), file.as_raw_fd()).at(Step::DeviceCreate, i);
    }
    fs::mknodat(dir, name, d.mode, d.dev).at(Step::DeviceCreate, i)?;
    let node =
        fs::openat(dir, name, libc::O_PATH | libc::O_NOFOLLOW, 0).at(Step::DeviceOwner, i)?;
    fs::fchown_empty(node.as_raw_fd(), d.uid, d.gid).at(Step::DeviceOwner, i)
}

/// Creates the standard /dev symlinks, keeping whatever the image or a mount put there.
pub fn links(root: RawFd) -> std::result::Result<(), Fail> {
    let dev = fs::openat2(
        root,
        c"dev",
        libc::O_PATH | libc::O_DIRECTORY,
        0,
        fs::RESOLVE_IN_ROOT | fs::RESOLVE_NO_MAGICLINKS,
    )
    .at(Step::DevSymlink, 0)?;
    for (i, (target, name)) in LINKS.iter().enumerate() {
        match fs::symlinkat(target, dev.as_raw_fd(), name) {
            Ok(()) | Err(Errno(libc::EEXIST)) => {}
            Err(e) => return Err(Fail::new(Step::DevSymlink, i as u32, e)),
        }
    }
    Ok(())
}

/// Binds the container's pty onto /dev/console, as runtime-spec asks of a container with a
/// terminal. The source is the pty's own fd, never a path. The target is looked up once,
/// without following a symlink, inside the container's root: an existing file or device is
/// covered (in the container's mount namespace only), a missing one is made with `O_EXCL`, a
/// symlink is refused, and nothing on procfs or sysfs is used. So neither end can be raced to a
/// host path or a procfs file (CVE-2025-52565). Container init, after pivot_root.
pub fn bind_console(peer: RawFd) -> crate::sys::SysResult<()> {
    let root = fs::openat(libc::AT_FDCWD, c"/", libc::O_PATH | libc::O_DIRECTORY, 0)?;
    let resolve = fs::RESOLVE_IN_ROOT | fs::RESOLVE_NO_MAGICLINKS;
    let flags = libc::O_PATH | libc::O_DIRECTORY;
    let dev = fs::openat2(root.as_raw_fd(), c"dev", flags, 0, resolve)?;
    not_kernel_fs(dev.as_raw_fd())?;
    let target = match fs::openat(
        dev.as_raw_fd(),
        c"console",
        libc::O_PATH | libc::O_NOFOLLOW,
        0,
    ) {
        Err(Errno(libc::ENOENT)) => {
            let flags = libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_WRONLY;
            fs::openat(dev.as_raw_fd(), c"console", flags, 0o666)?
        }
        other => other?,
    };
    let kind = fs::fstat(target.as_raw_fd())?.st_mode & libc::S_IFMT;
    if kind != libc::S_IFREG && kind != libc::S_IFCHR {
        return Err(Errno(libc::ELOOP));
    }
    not_kernel_fs(target.as_raw_fd())?;
    let mnt = m::clone_tree(peer, c"", false)?;
    m::move_mount_fd(mnt.as_raw_fd(), target.as_raw_fd())
}

fn not_kernel_fs(fd: RawFd) -> crate::sys::SysResult<()> {
    let fstype = fs::fs_type(fd)?;
    if fstype == libc::PROC_SUPER_MAGIC || fstype == libc::SYSFS_MAGIC {
        return Err(Errno(libc::EXDEV));
    }
    Ok(())
}
