//! The container's filesystem view: planned from the spec by the runtime, built by the
//! container init in its new mount namespace.
//!
//! Order in the init: propagation of `/` → rootfs bound onto itself → mounts → devices and
//! /dev links → (runtime hooks) → pivot_root → sysctl → masked and readonly paths → readonly
//! root → the final propagation of `/`.

pub mod devices;
pub mod masked;
pub mod mounts;
pub mod options;
pub mod pivot;
pub mod resolve;
pub mod sysctl;

use crate::error::{Error, Result};
use crate::process::fail::{At, Fail, Step};
use crate::sys::{fs, mount as m};
use mounts::{CgroupTree, MountContext, MountPlan};
use oci_spec::runtime::Spec;
use resolve::{cstring, InPath};
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

#[derive(Debug)]
pub struct RootfsPlan {
    pub rootfs: CString,
    pub bundle: CString,
    /// The recursive propagation of `/` set first, so nothing leaks back to the host.
    initial_propagation: u64,
    final_propagation: Option<(u64, bool)>,
    pub mounts: Vec<MountPlan>,
    pub devices: Vec<devices::DevicePlan>,
    setup_dev: bool,
    pub masked: Vec<InPath>,
    pub readonly: Vec<InPath>,
    readonly_root: bool,
    no_pivot: bool,
    pub sysctl: Vec<sysctl::SysctlPlan>,
    devnull: InPath,
}

pub struct RootfsInput<'a> {
    pub spec: &'a Spec,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub userns: bool,
    pub new_netns: bool,
    pub new_ipcns: bool,
    pub new_utsns: bool,
    pub new_cgroupns: bool,
    pub no_pivot: bool,
    pub cgroups: &'a [CgroupTree],
}

pub fn plan(x: &RootfsInput) -> Result<RootfsPlan> {
    let linux = x.spec.linux().as_ref();
    let no_mounts = Vec::new();
    let spec_mounts = x.spec.mounts().as_ref().unwrap_or(&no_mounts);
    let cx = MountContext {
        bundle: x.bundle,
        rootfs: x.rootfs,
        userns: x.userns,
        new_netns: x.new_netns,
        new_ipcns: x.new_ipcns,
        new_cgroupns: x.new_cgroupns,
        cgroups: x.cgroups,
    };
    let mounts = mounts::plan(spec_mounts, &cx)?;
    // A bind-mounted /dev is the caller's business; otherwise the runtime fills /dev.
    let setup_dev = !spec_mounts.iter().any(|mnt| {
        mnt.destination() == Path::new("/dev")
            && (mnt.typ().as_deref() == Some("bind")
                || mnt
                    .options()
                    .iter()
                    .flatten()
                    .any(|o| o == "bind" || o == "rbind"))
    });
    let no_devices = Vec::new();
    let spec_devices = linux
        .and_then(|l| l.devices().as_ref())
        .unwrap_or(&no_devices);
    let devices = devices::plan(spec_devices, setup_dev, x.userns)?;
    let (initial_propagation, final_propagation) =
        propagation(linux.and_then(|l| l.rootfs_propagation().as_deref()))?;
    let paths = |list: Option<&Vec<String>>, field: &str| -> Result<Vec<InPath>> {
        list.into_iter()
            .flatten()
            .enumerate()
            .map(|(i, p)| InPath::new(Path::new(p), &format!("{field}[{i}]")))
            .collect()
    };
    let owned = sysctl::Owned {
        ipc: x.new_ipcns,
        net: x.new_netns,
        uts: x.new_utsns,
    };
    let no_sysctl = Default::default();
    Ok(RootfsPlan {
        rootfs: cstring(x.rootfs, "root.path")?,
        bundle: cstring(x.bundle, "bundle")?,
        initial_propagation,
        final_propagation,
        mounts,
        devices,
        setup_dev,
        masked: paths(
            linux.and_then(|l| l.masked_paths().as_ref()),
            "linux.maskedPaths",
        )?,
        readonly: paths(
            linux.and_then(|l| l.readonly_paths().as_ref()),
            "linux.readonlyPaths",
        )?,
        readonly_root: x
            .spec
            .root()
            .as_ref()
            .and_then(|r| r.readonly())
            .unwrap_or(false),
        no_pivot: x.no_pivot,
        sysctl: sysctl::plan(
            linux
                .and_then(|l| l.sysctl().as_ref())
                .unwrap_or(&no_sysctl),
            &owned,
        )?,
        devnull: InPath::new(Path::new("/dev/null"), "/dev/null")?,
    })
}

/// `rslave` unless the config asks for `private`; shared propagation is set only after
/// pivot_root, which refuses shared mounts.
fn propagation(value: Option<&str>) -> Result<(u64, Option<(u64, bool)>)> {
    let Some(v) = value.filter(|v| !v.is_empty()) else {
        return Ok((libc::MS_SLAVE, None));
    };
    let (flag, recursive) = options::root_propagation(v)?;
    let initial = if flag == libc::MS_PRIVATE {
        libc::MS_PRIVATE
    } else {
        libc::MS_SLAVE
    };
    Ok((initial, Some((flag, recursive))))
}

impl RootfsPlan {
    /// Everything before pivot_root. Returns an `O_PATH` fd of the rootfs.
    pub fn prepare(&self) -> std::result::Result<OwnedFd, Fail> {
        fs::chdir(&self.bundle).at(Step::RootfsOpen, 0)?;
        m::mount(
            None,
            c"/",
            None,
            libc::MS_REC | self.initial_propagation,
            None,
        )
        .at(Step::RootPropagation, 0)?;
        m::mount(
            Some(&self.rootfs),
            &self.rootfs,
            None,
            libc::MS_BIND | libc::MS_REC,
            None,
        )
        .at(Step::RootfsBind, 0)?;
        let root = fs::openat(
            libc::AT_FDCWD,
            &self.rootfs,
            libc::O_PATH | libc::O_DIRECTORY,
            0,
        )
        .at(Step::RootfsOpen, 0)?;
        let mut root = root;
        for (i, mp) in self.mounts.iter().enumerate() {
            mounts::apply(root.as_raw_fd(), i, mp)?;
            if mp.dest.is_root() {
                // A mount onto "/" itself (an overlay of image layers) covers the fd we hold:
                // look the rootfs up again so later mounts land on the topmost mount.
                root = fs::openat(
                    libc::AT_FDCWD,
                    &self.rootfs,
                    libc::O_PATH | libc::O_DIRECTORY,
                    0,
                )
                .at(Step::RootfsOpen, 1)?;
            }
        }
        for (i, d) in self.devices.iter().enumerate() {
            devices::create(root.as_raw_fd(), i, d)?;
        }
        if self.setup_dev {
            devices::links(root.as_raw_fd())?;
        }
        Ok(root)
    }

    pub fn enter(&self, root: &OwnedFd) -> std::result::Result<(), Fail> {
        if self.no_pivot {
            pivot::move_root(root.as_raw_fd())
        } else {
            pivot::pivot(root.as_raw_fd())
        }
    }

    /// Everything after pivot_root, seen from inside.
    pub fn finish(&self) -> std::result::Result<(), Fail> {
        sysctl::apply(&self.sysctl)?;
        let root = fs::openat(libc::AT_FDCWD, c"/", libc::O_PATH | libc::O_DIRECTORY, 0)
            .at(Step::MaskPath, 0)?;
        masked::mask(root.as_raw_fd(), &self.masked, &self.devnull)?;
        masked::readonly(root.as_raw_fd(), &self.readonly)?;
        if self.readonly_root {
            let attrs = options::Attrs {
                set: m::MOUNT_ATTR_RDONLY,
                clr: 0,
            };
            mounts::set_attrs(root.as_raw_fd(), false, attrs).at(Step::ReadonlyRoot, 0)?;
        }
        if let Some((flag, recursive)) = self.final_propagation {
            let attr = m::MountAttr {
                attr_set: 0,
                attr_clr: 0,
                propagation: flag,
                userns_fd: 0,
            };
            m::mount_setattr_fd(root.as_raw_fd(), recursive, &attr)
                .at(Step::FinalPropagation, 0)?;
        }
        Ok(())
    }
}

/// Checks the rootfs exists and is a directory; `field` names it for errors.
pub fn check_rootfs(rootfs: &Path) -> Result<()> {
    match std::fs::metadata(rootfs) {
        Ok(md) if md.is_dir() => Ok(()),
        Ok(_) => Err(Error::invalid(
            "root.path",
            format!("{:?} is not a directory", rootfs),
        )),
        Err(e) => Err(Error::invalid("root.path", format!("{:?}: {e}", rootfs))),
    }
}
