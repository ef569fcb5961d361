//! Which namespaces the container gets, and how: created by clone3, joined by path (setns), or
//! — for pid and time, which only affect children — set up by the runtime for its child.

use crate::error::{Error, Result};
use crate::process::fail::{At, Fail, Step};
use crate::sys::{fs, process as p};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::fd::{AsRawFd, OwnedFd};

#[derive(Debug)]
pub struct Joined {
    pub fd: OwnedFd,
    pub nstype: i32,
}

#[derive(Debug, Default)]
pub struct NsPlan {
    /// Namespaces created by clone3 itself.
    pub clone_flags: u64,
    /// Namespaces the child creates with unshare after joining others (the cgroup namespace
    /// always, so that its root is the container's cgroup on v1 too).
    pub unshare_flags: i32,
    /// Namespaces the child joins, the user namespace first.
    pub join: Vec<Joined>,
    /// pid and time namespaces to join: the runtime sets them for its children before clone.
    pub pid_for_child: Option<OwnedFd>,
    pub time_for_child: Option<OwnedFd>,
    /// A new time namespace: `/proc/self/timens_offsets` text, set by the runtime before clone.
    pub new_time: Option<String>,
    pub new_user: bool,
    pub in_user: bool,
    pub uid_map: String,
    pub gid_map: String,
    /// Every namespace type the container has of its own (created, not shared with the host).
    pub owned: i32,
}

fn flag(t: LinuxNamespaceType) -> i32 {
    match t {
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Time => libc::CLONE_NEWTIME,
    }
}

pub fn plan(spec: &Spec) -> Result<NsPlan> {
    let linux = spec.linux().as_ref();
    let list = linux
        .and_then(|l| l.namespaces().as_ref())
        .cloned()
        .unwrap_or_default();
    let mut ns = NsPlan::default();
    let mut seen = 0;
    let mut new = 0;
    for (i, n) in list.iter().enumerate() {
        let f = flag(n.typ());
        let field = format!("linux.namespaces[{i}] ({})", n.typ());
        if seen & f != 0 {
            return Err(Error::invalid(field, "namespace type given twice"));
        }
        seen |= f;
        let Some(path) = n.path() else {
            new |= f;
            continue;
        };
        let fd = open_joined(path, f, &field)?;
        match f {
            libc::CLONE_NEWPID => ns.pid_for_child = Some(fd),
            libc::CLONE_NEWTIME => ns.time_for_child = Some(fd),
            _ => ns.join.push(Joined { fd, nstype: f }),
        }
    }
    if new & libc::CLONE_NEWNS == 0 {
        return Err(Error::invalid(
            "linux.namespaces",
            "berth needs a new mount namespace for the container",
        ));
    }
    ns.join.sort_by_key(|j| j.nstype != libc::CLONE_NEWUSER);
    ns.new_user = new & libc::CLONE_NEWUSER != 0;
    ns.in_user = seen & libc::CLONE_NEWUSER != 0;
    ns.owned = new;
    plan_user(spec, &mut ns)?;
    plan_time(spec, &mut ns, new)?;
    choose_flags(&mut ns, new)?;
    Ok(ns)
}

/// Opens a namespace given by path and checks it is of the type the config says. The path
/// is first opened `O_PATH` and must be on nsfs: a FIFO would block a real open for ever and
/// a device (a watchdog, a tape) would act on it. The namespace is then reopened through that
/// fd, so the file checked is the file opened.
fn open_joined(path: &std::path::Path, want: i32, field: &str) -> Result<OwnedFd> {
    let c = crate::rootfs::resolve::cstring(path, field)?;
    let bad = |e: crate::sys::Errno| Error::invalid(field, format!("path {:?}: {e}", path));
    let pathfd = fs::openat(libc::AT_FDCWD, &c, libc::O_PATH, 0).map_err(bad)?;
    if fs::fs_type(pathfd.as_raw_fd()).map_err(bad)? != libc::NSFS_MAGIC {
        return Err(Error::invalid(
            field,
            format!("path {:?} is not a namespace file (not on nsfs)", path),
        ));
    }
    let again = std::ffi::CString::new(format!("/proc/self/fd/{}", pathfd.as_raw_fd()))
        .map_err(|_| Error::invalid(field, "fd path"))?;
    let fd = fs::openat(libc::AT_FDCWD, &again, libc::O_RDONLY, 0).map_err(bad)?;
    match p::ns_type(fd.as_raw_fd()) {
        Ok(t) if t == want => Ok(fd),
        _ => Err(Error::invalid(
            field,
            format!("path {:?} is not a namespace of that type", path),
        )),
    }
}

/// Which new namespaces clone3 makes and which the child unshares. clone3 makes them all,
/// except: the cgroup namespace (unshared once the init sits in its v1 cgroups, so that they
/// are its root), time (set up by the runtime for its children), and everything when a user
/// namespace is joined (the child must enter it first, so the rest belong to it).
fn choose_flags(ns: &mut NsPlan, new: i32) -> Result<()> {
    let joined_user = ns.in_user && !ns.new_user;
    if ns.new_user && ns.join.iter().any(|j| j.nstype != libc::CLONE_NEWUSER) {
        return Err(Error::Unsupported(
            "joining a namespace by path together with a new user namespace".into(),
        ));
    }
    if joined_user && new & libc::CLONE_NEWPID != 0 {
        return Err(Error::Unsupported(
            "a new pid namespace inside a joined user namespace".into(),
        ));
    }
    let by_clone = new & !(libc::CLONE_NEWCGROUP | libc::CLONE_NEWTIME);
    if joined_user {
        ns.clone_flags = 0;
        ns.unshare_flags = by_clone | (new & libc::CLONE_NEWCGROUP);
    } else {
        ns.clone_flags = by_clone as u64;
        ns.unshare_flags = new & libc::CLONE_NEWCGROUP;
    }
    Ok(())
}

fn plan_user(spec: &Spec, ns: &mut NsPlan) -> Result<()> {
    let linux = spec.linux().as_ref();
    let uids = linux
        .and_then(|l| l.uid_mappings().as_ref())
        .cloned()
        .unwrap_or_default();
    let gids = linux
        .and_then(|l| l.gid_mappings().as_ref())
        .cloned()
        .unwrap_or_default();
    if !ns.new_user {
        if !uids.is_empty() || !gids.is_empty() {
            return Err(Error::invalid(
                "linux.uidMappings",
                "mappings need a new user namespace",
            ));
        }
        return Ok(());
    }
    if uids.is_empty() || gids.is_empty() {
        return Err(Error::invalid(
            "linux.uidMappings",
            "a new user namespace needs both uidMappings and gidMappings",
        ));
    }
    check_mappings(&uids, "linux.uidMappings")?;
    check_mappings(&gids, "linux.gidMappings")?;
    let text = |m: &[oci_spec::runtime::LinuxIdMapping]| {
        m.iter()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect::<String>()
    };
    ns.uid_map = text(&uids);
    ns.gid_map = text(&gids);
    Ok(())
}

/// What the kernel would refuse when the map is written, said before anything is made:
/// empty or overflowing ranges, ranges that overlap on either side, more than 340 lines.
fn check_mappings(m: &[oci_spec::runtime::LinuxIdMapping], field: &str) -> Result<()> {
    const MAX_LINES: usize = 340;
    if m.len() > MAX_LINES {
        return Err(Error::invalid(
            field,
            format!("{} ranges; the kernel takes at most {MAX_LINES}", m.len()),
        ));
    }
    let range = |start: u32, size: u32| (start as u64, start as u64 + size as u64);
    for (i, a) in m.iter().enumerate() {
        let field = format!("{field}[{i}]");
        let (inside, outside) = (
            range(a.container_id(), a.size()),
            range(a.host_id(), a.size()),
        );
        if a.size() == 0 {
            return Err(Error::invalid(field, "size is 0"));
        }
        if inside.1 > u32::MAX as u64 || outside.1 > u32::MAX as u64 {
            return Err(Error::invalid(
                field,
                "the range runs past the last id (4294967294)",
            ));
        }
        let overlaps = |x: (u64, u64), y: (u64, u64)| x.0 < y.1 && y.0 < x.1;
        for b in &m[..i] {
            let (b_in, b_out) = (
                range(b.container_id(), b.size()),
                range(b.host_id(), b.size()),
            );
            if overlaps(inside, b_in) || overlaps(outside, b_out) {
                return Err(Error::invalid(field, "overlaps an earlier range"));
            }
        }
    }
    Ok(())
}

fn plan_time(spec: &Spec, ns: &mut NsPlan, new: i32) -> Result<()> {
    let offsets = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref());
    if new & libc::CLONE_NEWTIME == 0 {
        if offsets.is_some_and(|o| !o.is_empty()) {
            return Err(Error::invalid(
                "linux.timeOffsets",
                "offsets need a new time namespace",
            ));
        }
        return Ok(());
    }
    let mut text = String::new();
    for (clock, off) in offsets.into_iter().flatten() {
        if clock != "monotonic" && clock != "boottime" {
            return Err(Error::invalid(
                format!("linux.timeOffsets[{clock:?}]"),
                "clock must be monotonic or boottime",
            ));
        }
        text.push_str(&format!(
            "{clock} {} {}\n",
            off.secs().unwrap_or(0),
            off.nanosecs().unwrap_or(0)
        ));
    }
    ns.new_time = Some(text);
    Ok(())
}

impl NsPlan {
    pub fn owns(&self, flag: i32) -> bool {
        self.owned & flag != 0
    }

    /// Child side, after the runtime's `Continue`: join, unshare, and become root of a user
    /// namespace.
    pub fn enter(&self) -> std::result::Result<(), Fail> {
        for (i, j) in self.join.iter().enumerate() {
            p::setns(j.fd.as_raw_fd(), j.nstype).at(Step::JoinNamespace, i)?;
        }
        if self.unshare_flags != 0 {
            p::unshare(self.unshare_flags).at(Step::Unshare, 0)?;
        }
        if self.in_user {
            p::setresgid(0).at(Step::BecomeRoot, 0)?;
            p::setresuid(0).at(Step::BecomeRoot, 1)?;
        }
        Ok(())
    }
}

/// The runtime's own pid and time namespaces, kept to return to after clone: these two
/// namespaces only apply to children, so the runtime points its namespace-for-children at the
/// container's and the one clone3 lands there without a second process.
pub struct ForChildren {
    own: Vec<(OwnedFd, i32)>,
}

impl ForChildren {
    /// For a new container: join the pid/time namespaces given by path, or make a new time
    /// namespace with the configured offsets.
    pub fn set(ns: &NsPlan) -> Result<ForChildren> {
        use crate::error::SysContext;
        let mut keep = ForChildren { own: Vec::new() };
        if let Some(fd) = &ns.pid_for_child {
            keep.save(libc::CLONE_NEWPID)?;
            p::setns(fd.as_raw_fd(), libc::CLONE_NEWPID)
                .sys("setns", || "joining the pid namespace".into())?;
        }
        if ns.time_for_child.is_some() || ns.new_time.is_some() {
            keep.save(libc::CLONE_NEWTIME)?;
        }
        if let Some(fd) = &ns.time_for_child {
            p::setns(fd.as_raw_fd(), libc::CLONE_NEWTIME)
                .sys("setns", || "joining the time namespace".into())?;
        }
        if let Some(offsets) = &ns.new_time {
            p::unshare(libc::CLONE_NEWTIME).sys("unshare", || "a new time namespace".into())?;
            std::fs::write("/proc/self/timens_offsets", offsets)
                .map_err(|e| Error::invalid("linux.timeOffsets", e.to_string()))?;
        }
        Ok(keep)
    }

    /// For `exec`: the pid/time namespaces (`flags`) of a running process, by its pidfd.
    pub fn join(pidfd: &OwnedFd, flags: i32) -> Result<ForChildren> {
        use crate::error::SysContext;
        let mut keep = ForChildren { own: Vec::new() };
        for flag in [libc::CLONE_NEWPID, libc::CLONE_NEWTIME] {
            if flags & flag != 0 {
                keep.save(flag)?;
            }
        }
        if flags != 0 {
            p::setns(pidfd.as_raw_fd(), flags)
                .sys("setns", || "entering the container's pid namespace".into())?;
        }
        Ok(keep)
    }

    fn save(&mut self, flag: i32) -> Result<()> {
        let path = if flag == libc::CLONE_NEWPID {
            c"/proc/self/ns/pid"
        } else {
            c"/proc/self/ns/time"
        };
        self.own.push((open_own(path)?, flag));
        Ok(())
    }

    /// Back to the runtime's own namespaces. Only ever in the parent: in the child it would
    /// undo the container's time namespace.
    pub fn restore(self) {
        for (fd, flag) in self.own {
            let _ = p::setns(fd.as_raw_fd(), flag);
        }
    }
}

fn open_own(path: &std::ffi::CStr) -> Result<OwnedFd> {
    use crate::error::SysContext;
    fs::openat(libc::AT_FDCWD, path, libc::O_RDONLY, 0).sys("open", || format!("{:?}", path))
}
