//! The container's mounts: planned from `mounts` in config.json by the runtime, applied by the
//! container init with the fd-based mount API onto targets resolved inside the rootfs.

use super::options::{self, Attrs};
use super::resolve::{cstring, open_in_root, resolve_in_rootfs, Create, InPath};
use crate::error::{Error, Result};
use crate::process::fail::{At, Fail, Step};
use crate::sys::{fs, mount as m};
use oci_spec::runtime::Mount;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub enum Kind {
    /// A bind mount of a host path (absolute, already joined to the bundle if relative).
    Bind { source: CString, recursive: bool },
    /// A new filesystem instance.
    Fs {
        fstype: CString,
        source: Option<CString>,
        data: Vec<(CString, Option<CString>)>,
    },
    /// New attributes for whatever is mounted at the destination already.
    SetAttrs,
}

#[derive(Debug)]
pub struct MountPlan {
    pub dest: InPath,
    pub kind: Kind,
    pub create: Create,
    pub attrs: Attrs,
    pub rattrs: Attrs,
    pub propagation: u64,
    pub propagation_recursive: bool,
    /// proc and sysfs must land on a real directory, never through a symlink, so that no
    /// image can move them away from the paths that masking and LSMs protect.
    pub no_symlink: bool,
}

/// What the mount planner needs to know about the container and the host.
pub struct MountContext<'a> {
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub userns: bool,
    pub new_netns: bool,
    pub new_ipcns: bool,
    pub new_cgroupns: bool,
    pub cgroups: &'a [CgroupTree],
}

/// One cgroup hierarchy as the container should see it under /sys/fs/cgroup.
#[derive(Debug, Clone)]
pub struct CgroupTree {
    /// The directory name under /sys/fs/cgroup (`cpu`, `memory`, `unified`, or "" for v2).
    pub name: String,
    pub v2: bool,
    /// fsconfig flags that select this hierarchy (`cpu`, `name=systemd` …).
    pub options: Vec<String>,
    /// The container's own cgroup directory in this hierarchy on the host.
    pub host_dir: PathBuf,
}

/// Plans every mount of the spec, in order.
pub fn plan(mounts: &[Mount], cx: &MountContext) -> Result<Vec<MountPlan>> {
    let mut out = Vec::new();
    for (i, mnt) in mounts.iter().enumerate() {
        let field = format!("mounts[{i}] ({})", mnt.destination().display());
        if mnt
            .destination()
            .components()
            .any(|c| c == std::path::Component::ParentDir)
        {
            return Err(Error::invalid(
                &field,
                "the destination contains \"..\": a path must stay inside the rootfs",
            ));
        }
        let dest = resolve_in_rootfs(cx.rootfs, mnt.destination(), &field)?;
        let typ = mnt.typ().as_deref().unwrap_or("");
        if matches!(typ, "proc" | "sysfs")
            && dest
                != Path::new("/").join(
                    mnt.destination()
                        .strip_prefix("/")
                        .unwrap_or(mnt.destination()),
                )
        {
            return Err(Error::invalid(&field, format!("the destination leads through a symlink to {:?}: {typ} must be mounted on a real directory", dest)));
        }
        if typ == "cgroup" || typ == "cgroup2" {
            plan_cgroup(mnt, &dest, typ, cx, &field, &mut out)?;
        } else {
            out.push(plan_one(mnt, &dest, typ, cx, &field)?);
        }
    }
    Ok(out)
}

fn plan_one(
    mnt: &Mount,
    dest: &Path,
    typ: &str,
    cx: &MountContext,
    field: &str,
) -> Result<MountPlan> {
    let opts = options::parse(mnt.options().as_deref().unwrap_or(&[]), field)?;
    let dest = InPath::new(dest, field)?;
    let source = mnt.source().as_deref();
    let fallback_bind = match typ {
        "sysfs" if cx.userns && !cx.new_netns => Some("/sys"),
        "mqueue" if cx.userns && !cx.new_ipcns => Some("/dev/mqueue"),
        _ => None,
    };
    let kind = if opts.bind || typ == "bind" || fallback_bind.is_some() {
        let src = match (fallback_bind, source) {
            (Some(fb), _) => PathBuf::from(fb),
            (None, Some(s)) => cx.bundle.join(s),
            (None, None) => return Err(Error::invalid(field, "a bind mount needs a source")),
        };
        if !src.exists() {
            return Err(Error::invalid(
                field,
                format!("source {:?} does not exist", src),
            ));
        }
        Kind::Bind {
            source: cstring(&src, field)?,
            recursive: opts.recursive_bind || fallback_bind.is_some(),
        }
    } else {
        if typ.is_empty() {
            return Err(Error::invalid(
                field,
                "type is empty and the mount is not a bind",
            ));
        }
        Kind::Fs {
            fstype: cstring(Path::new(typ), field)?,
            source: source.map(|s| cstring(s, field)).transpose()?,
            data: data_params(&opts.data, field)?,
        }
    };
    let create = match &kind {
        Kind::Bind { .. } if source_is_file(mnt, cx.bundle) => Create::File,
        _ => Create::Dir,
    };
    let mut attrs = opts.attrs;
    let mut rattrs = opts.rattrs;
    if matches!(kind, Kind::Fs { .. }) {
        // A new filesystem has no submounts: recursive and plain attributes are the same.
        attrs.set |= rattrs.set;
        rattrs = Attrs::default();
    }
    Ok(MountPlan {
        dest,
        kind,
        create,
        attrs,
        rattrs,
        propagation: opts.propagation,
        propagation_recursive: opts.propagation_recursive,
        no_symlink: matches!(typ, "proc" | "sysfs"),
    })
}

fn source_is_file(mnt: &Mount, bundle: &Path) -> bool {
    mnt.source()
        .as_ref()
        .and_then(|s| std::fs::metadata(bundle.join(s)).ok())
        .is_some_and(|md| !md.is_dir())
}

fn data_params(
    data: &[(String, Option<String>)],
    field: &str,
) -> Result<Vec<(CString, Option<CString>)>> {
    let c = |s: &str| CString::new(s).map_err(|_| Error::invalid(field, "NUL byte in an option"));
    data.iter()
        .map(|(k, v)| Ok((c(k)?, v.as_deref().map(c).transpose()?)))
        .collect()
}

/// cgroup mounts: cgroup2 as one filesystem; v1 as a tmpfs holding one mount per hierarchy,
/// like runc. Without a cgroup namespace the container's own cgroup directories are bound, so
/// it never sees the host's tree.
fn plan_cgroup(
    mnt: &Mount,
    base: &Path,
    typ: &str,
    cx: &MountContext,
    field: &str,
    out: &mut Vec<MountPlan>,
) -> Result<()> {
    let opts = options::parse(mnt.options().as_deref().unwrap_or(&[]), field)?;
    let ro = opts.attrs.set & m::MOUNT_ATTR_RDONLY != 0;
    let sub_attrs = Attrs {
        set: opts.attrs.set | m::MOUNT_ATTR_NOSUID | m::MOUNT_ATTR_NODEV | m::MOUNT_ATTR_NOEXEC,
        clr: opts.attrs.clr,
    };
    let v2_only = cx.cgroups.iter().all(|t| t.v2 && t.name.is_empty());
    if typ == "cgroup2" || v2_only {
        let tree = cx.cgroups.iter().find(|t| t.v2).ok_or_else(|| {
            Error::Unsupported(format!("{field}: cgroup2 is not mounted on this host"))
        })?;
        out.push(cgroup_mount(
            InPath::new(base, field)?,
            tree,
            cx,
            sub_attrs,
            field,
        )?);
        return Ok(());
    }
    let tmpfs_opts = vec![("mode".to_string(), Some("755".to_string()))];
    out.push(MountPlan {
        dest: InPath::new(base, field)?,
        kind: Kind::Fs {
            fstype: c"tmpfs".into(),
            source: Some(c"tmpfs".into()),
            data: data_params(&tmpfs_opts, field)?,
        },
        create: Create::Dir,
        attrs: Attrs {
            set: m::MOUNT_ATTR_NOSUID | m::MOUNT_ATTR_NODEV | m::MOUNT_ATTR_NOEXEC,
            clr: 0,
        },
        rattrs: Attrs::default(),
        propagation: 0,
        propagation_recursive: false,
        no_symlink: false,
    });
    for tree in cx.cgroups {
        let dest = InPath::new(&base.join(&tree.name), field)?;
        out.push(cgroup_mount(dest, tree, cx, sub_attrs, field)?);
    }
    if ro {
        out.push(MountPlan {
            dest: InPath::new(base, field)?,
            kind: Kind::SetAttrs,
            create: Create::No,
            attrs: Attrs {
                set: m::MOUNT_ATTR_RDONLY,
                clr: 0,
            },
            rattrs: Attrs::default(),
            propagation: 0,
            propagation_recursive: false,
            no_symlink: false,
        });
    }
    Ok(())
}

fn cgroup_mount(
    dest: InPath,
    tree: &CgroupTree,
    cx: &MountContext,
    attrs: Attrs,
    field: &str,
) -> Result<MountPlan> {
    let kind = if cx.new_cgroupns {
        let opts: Vec<(String, Option<String>)> = tree
            .options
            .iter()
            .map(|o| match o.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (o.clone(), None),
            })
            .collect();
        Kind::Fs {
            fstype: if tree.v2 {
                c"cgroup2".into()
            } else {
                c"cgroup".into()
            },
            source: Some(c"cgroup".into()),
            data: data_params(&opts, field)?,
        }
    } else {
        Kind::Bind {
            source: cstring(&tree.host_dir, field)?,
            recursive: false,
        }
    };
    let (attrs, rattrs) = match kind {
        Kind::Bind { .. } => (Attrs::default(), attrs),
        _ => (attrs, Attrs::default()),
    };
    Ok(MountPlan {
        dest,
        kind,
        create: Create::Dir,
        attrs,
        rattrs,
        propagation: 0,
        propagation_recursive: false,
        no_symlink: false,
    })
}

/// Applies mount `i` inside the rootfs `root` (container init; no allocation).
pub fn apply(root: RawFd, i: usize, p: &MountPlan) -> std::result::Result<(), Fail> {
    let target = open_in_root(root, &p.dest, p.create).at(Step::MountTarget, i)?;
    if p.no_symlink {
        no_symlink_on_the_way(root, &p.dest, &target).at(Step::MountSymlinkTarget, i)?;
    }
    let mnt = match &p.kind {
        Kind::Bind { source, recursive } => {
            m::clone_tree(libc::AT_FDCWD, source, *recursive).at(Step::MountSource, i)?
        }
        Kind::Fs {
            fstype,
            source,
            data,
        } => new_fs(i, fstype, source.as_deref(), data, p.attrs.set)?,
        Kind::SetAttrs => {
            return set_attrs(target.as_raw_fd(), false, p.attrs).at(Step::MountAttrs, i);
        }
    };
    if matches!(p.kind, Kind::Bind { .. }) {
        set_attrs(mnt.as_raw_fd(), false, p.attrs).at(Step::MountAttrs, i)?;
    }
    set_attrs(mnt.as_raw_fd(), true, p.rattrs).at(Step::MountAttrs, i)?;
    m::move_mount_fd(mnt.as_raw_fd(), target.as_raw_fd()).at(Step::MountAttach, i)?;
    if p.propagation != 0 {
        let attr = m::MountAttr {
            attr_set: 0,
            attr_clr: 0,
            propagation: p.propagation,
            userns_fd: 0,
        };
        m::mount_setattr_fd(mnt.as_raw_fd(), p.propagation_recursive, &attr)
            .at(Step::MountPropagation, i)?;
    }
    Ok(())
}

/// Looks `dest` up again refusing every symlink, and checks it is the very inode `target`
/// is: a symlink swapped in or out between the two lookups is caught either way.
fn no_symlink_on_the_way(
    root: RawFd,
    dest: &InPath,
    target: &OwnedFd,
) -> crate::sys::SysResult<()> {
    let flags = fs::RESOLVE_IN_ROOT | fs::RESOLVE_NO_SYMLINKS | fs::RESOLVE_NO_MAGICLINKS;
    let plain = fs::openat2(root, dest.relative(), libc::O_PATH, 0, flags)?;
    let (a, b) = (
        fs::fstat(plain.as_raw_fd())?,
        fs::fstat(target.as_raw_fd())?,
    );
    if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino) {
        return Err(crate::sys::Errno(libc::ELOOP));
    }
    Ok(())
}

fn new_fs(
    i: usize,
    fstype: &std::ffi::CStr,
    source: Option<&std::ffi::CStr>,
    data: &[(CString, Option<CString>)],
    attrs: u64,
) -> std::result::Result<OwnedFd, Fail> {
    let fsfd = m::fsopen(fstype).at(Step::MountFsopen, i)?;
    let fd = fsfd.as_raw_fd();
    if let Some(src) = source {
        // Not every filesystem takes a source; the ones that do not ignore the parameter.
        let _ = m::fsconfig_set(fd, c"source", Some(src));
    }
    for (j, (k, v)) in data.iter().enumerate() {
        m::fsconfig_set(fd, k, v.as_deref()).at(Step::MountFsconfig, i | (j << 16))?;
    }
    m::fsconfig_create(fd).at(Step::MountCreate, i)?;
    m::fsmount(fd, attrs).at(Step::MountCreate, i)
}

pub fn set_attrs(fd: RawFd, recursive: bool, a: Attrs) -> crate::sys::SysResult<()> {
    if a.is_empty() {
        return Ok(());
    }
    let attr = m::MountAttr {
        attr_set: a.set,
        attr_clr: a.clr,
        propagation: 0,
        userns_fd: 0,
    };
    m::mount_setattr_fd(fd, recursive, &attr)
}
