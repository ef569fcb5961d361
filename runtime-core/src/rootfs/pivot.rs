//! Switching the container init's root to the rootfs.

use crate::process::fail::{At, Fail, Step};
use crate::sys::{fs, mount as m};
use std::os::fd::RawFd;

/// pivot_root with both arguments ".", then a lazy unmount of the old root stacked beneath:
/// no directory for the old root is ever created in the image.
pub fn pivot(root: RawFd) -> std::result::Result<(), Fail> {
    fs::fchdir(root).at(Step::PivotRoot, 0)?;
    m::pivot_root(c".", c".").at(Step::PivotRoot, 0)?;
    m::umount2(c".", libc::MNT_DETACH).at(Step::PivotRoot, 1)?;
    fs::chdir(c"/").at(Step::PivotRoot, 2)
}

/// `--no-pivot`: move the rootfs over / and chroot into it, for roots on ramfs.
pub fn move_root(root: RawFd) -> std::result::Result<(), Fail> {
    fs::fchdir(root).at(Step::PivotRoot, 3)?;
    m::mount(Some(c"."), c"/", None, libc::MS_MOVE, None).at(Step::PivotRoot, 3)?;
    fs::chroot(c".").at(Step::PivotRoot, 4)?;
    fs::chdir(c"/").at(Step::PivotRoot, 2)
}
