//! maskedPaths and readonlyPaths, applied after pivot_root inside the container's own view.
//!
//! Every path is opened with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS` and the mount targets the
//! fd. Masking a file binds the container's /dev/null, checked by fstat to be the real 1:3
//! character device before use (a racing symlink cannot turn it into a host file), read-only.

use super::mounts::set_attrs;
use super::options::Attrs;
use super::resolve::{open_in_root, Create, InPath};
use crate::process::fail::{At, Fail, Step};
use crate::sys::{fs, mount as m, Errno};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

const RO: Attrs = Attrs {
    set: m::MOUNT_ATTR_RDONLY,
    clr: 0,
};

pub fn mask(root: RawFd, paths: &[InPath], devnull: &InPath) -> std::result::Result<(), Fail> {
    let mut null: Option<OwnedFd> = None;
    for (i, p) in paths.iter().enumerate() {
        let target = match open_in_root(root, p, Create::No) {
            Ok(fd) => fd,
            Err(Errno(libc::ENOENT)) => continue,
            Err(e) => return Err(Fail::new(Step::MaskPath, i as u32, e)),
        };
        let mnt = if fs::is_dir(&target).at(Step::MaskPath, i)? {
            empty_tmpfs().at(Step::MaskPath, i)?
        } else {
            if null.is_none() {
                null = Some(open_devnull(root, devnull).at(Step::MaskPath, i)?);
            }
            let fd = null.as_ref().map_or(-1, |f| f.as_raw_fd());
            let mnt = m::clone_tree(fd, c"", false).at(Step::MaskPath, i)?;
            set_attrs(mnt.as_raw_fd(), false, RO).at(Step::MaskPath, i)?;
            mnt
        };
        m::move_mount_fd(mnt.as_raw_fd(), target.as_raw_fd()).at(Step::MaskPath, i)?;
    }
    Ok(())
}

fn open_devnull(root: RawFd, devnull: &InPath) -> crate::sys::SysResult<OwnedFd> {
    let fd = open_in_root(root, devnull, Create::No)?;
    let st = fs::fstat(fd.as_raw_fd())?;
    let want = libc::makedev(1, 3);
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR || st.st_rdev != want {
        return Err(Errno(libc::ENODEV));
    }
    Ok(fd)
}

fn empty_tmpfs() -> crate::sys::SysResult<OwnedFd> {
    let fsfd = m::fsopen(c"tmpfs")?;
    m::fsconfig_set(fsfd.as_raw_fd(), c"size", Some(c"0"))?;
    m::fsconfig_create(fsfd.as_raw_fd())?;
    m::fsmount(fsfd.as_raw_fd(), m::MOUNT_ATTR_RDONLY)
}

pub fn readonly(root: RawFd, paths: &[InPath]) -> std::result::Result<(), Fail> {
    for (i, p) in paths.iter().enumerate() {
        let target = match open_in_root(root, p, Create::No) {
            Ok(fd) => fd,
            Err(Errno(libc::ENOENT)) => continue,
            Err(e) => return Err(Fail::new(Step::ReadonlyPath, i as u32, e)),
        };
        let mnt = m::clone_tree(target.as_raw_fd(), c"", true).at(Step::ReadonlyPath, i)?;
        set_attrs(mnt.as_raw_fd(), true, RO).at(Step::ReadonlyPath, i)?;
        m::move_mount_fd(mnt.as_raw_fd(), target.as_raw_fd()).at(Step::ReadonlyPath, i)?;
    }
    Ok(())
}
