//! File-descriptor level filesystem calls.

use super::{check, retry, Errno, SysResult};
use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub const RESOLVE_NO_XDEV: u64 = 0x01;
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub const RESOLVE_BENEATH: u64 = 0x08;
pub const RESOLVE_IN_ROOT: u64 = 0x10;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// openat2(2): `flags` always gains `O_CLOEXEC`.
pub fn openat2(
    dirfd: RawFd,
    path: &CStr,
    flags: i32,
    mode: u32,
    resolve: u64,
) -> SysResult<OwnedFd> {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: mode as u64,
        resolve,
    };
    let fd = retry(|| unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd,
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    })?;
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// openat(2): `flags` always gains `O_CLOEXEC`.
pub fn openat(dirfd: RawFd, path: &CStr, flags: i32, mode: u32) -> SysResult<OwnedFd> {
    let fd = retry(|| unsafe {
        libc::openat(dirfd, path.as_ptr(), flags | libc::O_CLOEXEC, mode) as libc::c_long
    })?;
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

pub fn mkdirat(dirfd: RawFd, name: &CStr, mode: u32) -> SysResult<()> {
    check(unsafe { libc::mkdirat(dirfd, name.as_ptr(), mode) as libc::c_long }).map(drop)
}

pub fn mknodat(dirfd: RawFd, name: &CStr, mode: u32, dev: u64) -> SysResult<()> {
    check(unsafe { libc::mknodat(dirfd, name.as_ptr(), mode, dev) as libc::c_long }).map(drop)
}

pub fn mkfifoat(dirfd: RawFd, name: &CStr, mode: u32) -> SysResult<()> {
    check(unsafe { libc::mkfifoat(dirfd, name.as_ptr(), mode) as libc::c_long }).map(drop)
}

pub fn symlinkat(target: &CStr, dirfd: RawFd, name: &CStr) -> SysResult<()> {
    check(unsafe { libc::symlinkat(target.as_ptr(), dirfd, name.as_ptr()) as libc::c_long })
        .map(drop)
}

pub fn unlinkat(dirfd: RawFd, name: &CStr, flags: i32) -> SysResult<()> {
    check(unsafe { libc::unlinkat(dirfd, name.as_ptr(), flags) as libc::c_long }).map(drop)
}

/// fchownat on an fd itself (`AT_EMPTY_PATH`, also for `O_PATH` fds): no path is walked, so
/// no link is followed.
pub fn fchown_empty(fd: RawFd, uid: u32, gid: u32) -> SysResult<()> {
    let flags = libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW;
    check(unsafe { libc::fchownat(fd, c"".as_ptr(), uid, gid, flags) as libc::c_long }).map(drop)
}

pub fn fchmod(fd: RawFd, mode: u32) -> SysResult<()> {
    check(unsafe { libc::fchmod(fd, mode) as libc::c_long }).map(drop)
}

/// Whether the open file is the root of a mount (statx's STATX_ATTR_MOUNT_ROOT): a file bound
/// onto another name.
pub fn is_mount_root(fd: RawFd) -> SysResult<bool> {
    // SAFETY: statx is plain old data; the kernel fills it.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: the path is NUL-terminated and `stx` is writable for the call.
    check(unsafe {
        libc::syscall(
            libc::SYS_statx,
            fd,
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_BASIC_STATS,
            &mut stx as *mut libc::statx,
        )
    })?;
    let root = libc::STATX_ATTR_MOUNT_ROOT as u64;
    Ok(stx.stx_attributes_mask & root != 0 && stx.stx_attributes & root != 0)
}

pub fn fstat(fd: RawFd) -> SysResult<libc::stat> {
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    check(unsafe { libc::fstat(fd, &mut st) as libc::c_long })?;
    Ok(st)
}

/// The filesystem magic number (`f_type`) of what `fd` refers to.
pub fn fs_type(fd: RawFd) -> SysResult<i64> {
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    check(unsafe { libc::fstatfs(fd, &mut st) as libc::c_long })?;
    Ok(st.f_type as i64)
}

/// fstatat with `AT_SYMLINK_NOFOLLOW`.
pub fn lstatat(dirfd: RawFd, name: &CStr) -> SysResult<libc::stat> {
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    check(unsafe {
        libc::fstatat(dirfd, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) as libc::c_long
    })?;
    Ok(st)
}

pub fn read(fd: RawFd, buf: &mut [u8]) -> SysResult<usize> {
    retry(|| unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) as libc::c_long })
        .map(|n| n as usize)
}

/// pread(2): fills as much of `buf` as the file has from `offset` (short only at its end).
pub fn pread(fd: RawFd, buf: &mut [u8], offset: i64) -> SysResult<usize> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        let n = retry(|| unsafe {
            libc::pread(
                fd,
                rest.as_mut_ptr().cast(),
                rest.len(),
                offset + done as i64,
            ) as libc::c_long
        })? as usize;
        if n == 0 {
            break;
        }
        done += n;
    }
    Ok(done)
}

pub fn write(fd: RawFd, buf: &[u8]) -> SysResult<usize> {
    retry(|| unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) as libc::c_long })
        .map(|n| n as usize)
}

pub fn write_all(fd: RawFd, mut buf: &[u8]) -> SysResult<()> {
    while !buf.is_empty() {
        let n = write(fd, buf)?;
        if n == 0 {
            return Err(Errno(libc::EIO));
        }
        buf = &buf[n..];
    }
    Ok(())
}

pub fn dup2(old: RawFd, new: RawFd) -> SysResult<()> {
    check(unsafe { libc::dup3(old, new, 0) as libc::c_long }).map(drop)
}

/// Duplicates `fd` to the lowest number at or above `min`, close-on-exec.
pub fn dup_cloexec(fd: RawFd, min: RawFd) -> SysResult<OwnedFd> {
    let n = check(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) as libc::c_long })?;
    Ok(unsafe { OwnedFd::from_raw_fd(n as RawFd) })
}

pub fn set_cloexec(fd: RawFd, on: bool) -> SysResult<()> {
    let flags = if on { libc::FD_CLOEXEC } else { 0 };
    check(unsafe { libc::fcntl(fd, libc::F_SETFD, flags) as libc::c_long }).map(drop)
}

pub fn fchdir(fd: RawFd) -> SysResult<()> {
    check(unsafe { libc::fchdir(fd) as libc::c_long }).map(drop)
}

pub fn chdir(path: &CStr) -> SysResult<()> {
    check(unsafe { libc::chdir(path.as_ptr()) as libc::c_long }).map(drop)
}

pub fn chroot(path: &CStr) -> SysResult<()> {
    check(unsafe { libc::chroot(path.as_ptr()) as libc::c_long }).map(drop)
}

pub fn umask(mask: u32) -> u32 {
    unsafe { libc::umask(mask) }
}

pub fn faccessat(dirfd: RawFd, path: &CStr, mode: i32) -> SysResult<()> {
    check(unsafe { libc::faccessat(dirfd, path.as_ptr(), mode, libc::AT_EACCESS) as libc::c_long })
        .map(drop)
}

pub fn pipe() -> SysResult<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) as libc::c_long })?;
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Marks every fd from `first` upwards close-on-exec, so nothing the caller inherited reaches
/// the container's process by accident.
pub fn cloexec_from(first: u32) -> SysResult<()> {
    const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;
    check(unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) })
        .map(drop)
}

/// Closes every fd from `first` on, except `keep`.
pub fn close_from_except(first: u32, keep: Option<RawFd>) -> SysResult<()> {
    let range = |lo: u32, hi: u32| {
        check(unsafe { libc::syscall(libc::SYS_close_range, lo, hi, 0u32) }).map(drop)
    };
    match keep.map(|k| k as u32).filter(|k| *k >= first) {
        Some(k) if k > first => range(first, k - 1).and_then(|_| range(k + 1, u32::MAX)),
        Some(k) => range(k + 1, u32::MAX),
        None => range(first, u32::MAX),
    }
}

/// poll(2) on one fd; returns the revents, or 0 on timeout.
pub fn poll_one(fd: RawFd, events: i16, timeout_ms: i32) -> SysResult<i16> {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let n = retry(|| unsafe { libc::poll(&mut p, 1, timeout_ms) as libc::c_long })?;
    Ok(if n == 0 { 0 } else { p.revents })
}

/// Whether an fd is a directory, a regular file or something else.
pub fn is_dir(fd: &impl AsRawFd) -> SysResult<bool> {
    Ok(fstat(fd.as_raw_fd())?.st_mode & libc::S_IFMT == libc::S_IFDIR)
}

/// poll(2) on several fds; returns how many are ready (0 on timeout).
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> SysResult<usize> {
    retry(|| unsafe {
        libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) as libc::c_long
    })
    .map(|n| n as usize)
}

/// flock(LOCK_EX), waiting for other holders.
pub fn flock_exclusive(fd: RawFd) -> SysResult<()> {
    retry(|| unsafe { libc::flock(fd, libc::LOCK_EX) as libc::c_long }).map(drop)
}

/// flock(LOCK_EX | LOCK_NB): `false` when another holds the lock.
pub fn try_flock_exclusive(fd: RawFd) -> SysResult<bool> {
    match retry(|| unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) as libc::c_long }) {
        Ok(_) => Ok(true),
        Err(Errno(libc::EWOULDBLOCK)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// close(2) of a raw fd the caller does not own as an `OwnedFd` (a copy inherited by clone).
pub fn close(fd: RawFd) {
    unsafe { libc::close(fd) };
}
