//! The classic mount(2) calls and the fd-based mount API (open_tree, fsopen, move_mount …).

use super::{check, Errno, SysResult};
use std::ffi::CStr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::ptr;

pub const OPEN_TREE_CLONE: u32 = 1;
pub const AT_RECURSIVE: u32 = 0x8000;
pub const AT_EMPTY_PATH: u32 = 0x1000;
pub const AT_SYMLINK_NOFOLLOW: u32 = 0x100;

pub const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x04;
pub const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;

pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub const MOUNT_ATTR__ATIME: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x200000;

const FSOPEN_CLOEXEC: u32 = 1;
const FSMOUNT_CLOEXEC: u32 = 1;
const FSCONFIG_SET_FLAG: u32 = 0;
const FSCONFIG_SET_STRING: u32 = 1;
const FSCONFIG_CMD_CREATE: u32 = 6;

#[repr(C)]
pub struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    pub propagation: u64,
    pub userns_fd: u64,
}

pub fn mount(
    src: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: u64,
    data: Option<&CStr>,
) -> SysResult<()> {
    let p = |s: Option<&CStr>| s.map_or(ptr::null(), |s| s.as_ptr());
    check(unsafe {
        libc::mount(
            p(src),
            target.as_ptr(),
            p(fstype),
            flags as libc::c_ulong,
            p(data).cast(),
        ) as libc::c_long
    })
    .map(drop)
}

pub fn umount2(target: &CStr, flags: i32) -> SysResult<()> {
    check(unsafe { libc::umount2(target.as_ptr(), flags) as libc::c_long }).map(drop)
}

pub fn pivot_root(new_root: &CStr, put_old: &CStr) -> SysResult<()> {
    check(unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) })
        .map(drop)
}

/// open_tree(2) with `OPEN_TREE_CLONE`: a detached copy of the mount at `dirfd`/`path`.
pub fn clone_tree(dirfd: RawFd, path: &CStr, recursive: bool) -> SysResult<OwnedFd> {
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as u32;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    if path.is_empty() {
        flags |= AT_EMPTY_PATH;
    }
    let fd = check(unsafe { libc::syscall(libc::SYS_open_tree, dirfd, path.as_ptr(), flags) })?;
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Attaches the detached mount `from` onto the object the fd `to` refers to.
pub fn move_mount_fd(from: RawFd, to: RawFd) -> SysResult<()> {
    let empty = c"";
    check(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from,
            empty.as_ptr(),
            to,
            empty.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    })
    .map(drop)
}

/// Attaches the mount `from` onto `path` under the directory fd `to` (no symlink followed).
pub fn move_mount_at(from: RawFd, to: RawFd, path: &CStr) -> SysResult<()> {
    // SAFETY: both strings are NUL-terminated and outlive the call.
    check(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from,
            c"".as_ptr(),
            to,
            path.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    })
    .map(drop)
}

pub fn fsopen(fstype: &CStr) -> SysResult<OwnedFd> {
    let fd = check(unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) })?;
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// fsconfig(2): a `key=value` option, or a flag when `value` is `None`.
pub fn fsconfig_set(fsfd: RawFd, key: &CStr, value: Option<&CStr>) -> SysResult<()> {
    let (cmd, val) = match value {
        Some(v) => (FSCONFIG_SET_STRING, v.as_ptr()),
        None => (FSCONFIG_SET_FLAG, ptr::null()),
    };
    check(unsafe { libc::syscall(libc::SYS_fsconfig, fsfd, cmd, key.as_ptr(), val, 0) }).map(drop)
}

pub fn fsconfig_create(fsfd: RawFd) -> SysResult<()> {
    check(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fsfd,
            FSCONFIG_CMD_CREATE,
            ptr::null::<u8>(),
            ptr::null::<u8>(),
            0,
        )
    })
    .map(drop)
}

pub fn fsmount(fsfd: RawFd, attrs: u64) -> SysResult<OwnedFd> {
    let fd = check(unsafe { libc::syscall(libc::SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, attrs) })?;
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// mount_setattr(2) on the mount an fd refers to.
pub fn mount_setattr_fd(fd: RawFd, recursive: bool, attr: &MountAttr) -> SysResult<()> {
    let mut flags = AT_EMPTY_PATH;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    let empty = c"";
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd,
            empty.as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
    .map(drop)
}

/// Reads an fd's errors from a failed fsconfig into `buf` (the kernel's own explanation).
pub fn fs_log(fsfd: RawFd, buf: &mut [u8]) -> usize {
    let n = unsafe { libc::read(fsfd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        0
    } else {
        n as usize
    }
}

impl From<i32> for Errno {
    fn from(v: i32) -> Self {
        Errno(v)
    }
}
