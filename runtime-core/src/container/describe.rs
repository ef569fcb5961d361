//! Turns the container init's fixed-size failure codes into sentences that name the field, the
//! path and the syscall.

use crate::hooks::HookFail;
use crate::process::fail::{Fail, Step};
use crate::process::init::InitPlan;
use crate::process::plan::ProcessPlan;
use crate::rootfs::mounts::Kind;
use crate::sys::Errno;

pub fn describe(f: Fail, plan: &InitPlan) -> String {
    let i = f.index as usize;
    let e = Errno(f.errno);
    let rp = &plan.rootfs;
    let mount = |i: usize| {
        rp.mounts
            .get(i & 0xffff)
            .map(|m| format!("mount of {}", m.dest.shown))
            .unwrap_or_else(|| format!("mount #{i}"))
    };
    let fstype = |i: usize| match rp.mounts.get(i & 0xffff).map(|m| &m.kind) {
        Some(Kind::Fs { fstype, .. }) => fstype.to_string_lossy().to_string(),
        _ => "?".into(),
    };
    use Step::*;
    match f.step {
        Protocol => format!("setup channel out of order (step {i}): {e}"),
        JoinCgroup => format!(
            "joining cgroup {}: writing tasks: {e}",
            plan.cgroup_tasks.shown(i)
        ),
        JoinNamespace => format!("joining namespace #{i}: setns: {e}"),
        Unshare => format!("creating namespaces: unshare: {e}"),
        BecomeRoot => format!("becoming root in the user namespace: setresuid/setresgid: {e}"),
        Hostname => format!("hostname: sethostname: {e}"),
        Domainname => format!("domainname: setdomainname: {e}"),
        RootPropagation => format!("making the mount tree rslave (or rprivate): mount: {e}"),
        RootfsBind => format!("binding the rootfs onto itself: mount: {e}"),
        RootfsOpen => format!("opening the rootfs or bundle: {e}"),
        MountTarget => format!(
            "{}: resolving the destination inside the rootfs: {e}",
            mount(i)
        ),
        MountSymlinkTarget => format!(
            "{}: the destination is a symlink; proc and sysfs must be mounted on a real directory",
            mount(i)
        ),
        MountSource => format!("{}: opening the bind source: open_tree: {e}", mount(i)),
        MountFsopen => format!("{}: fsopen({:?}): {e}", mount(i), fstype(i)),
        MountFsconfig => format!("{}: option {}: fsconfig: {e}", mount(i), option(plan, i)),
        MountCreate => format!(
            "{}: creating the {} filesystem: fsconfig/fsmount: {e}",
            mount(i),
            fstype(i)
        ),
        MountAttach => format!("{}: move_mount: {e}", mount(i)),
        MountAttrs => format!("{}: setting mount attributes: mount_setattr: {e}", mount(i)),
        MountPropagation => format!("{}: setting propagation: mount_setattr: {e}", mount(i)),
        DeviceCreate => format!("device {}: mknod: {e}", dev(plan, i)),
        DeviceOwner => format!("device {}: chown: {e}", dev(plan, i)),
        DevSymlink => format!("creating /dev symlink #{i}: symlinkat: {e}"),
        CreateContainerHook => hook("createContainer", &plan.create_container, i, f.errno),
        StartContainerHook => hook("startContainer", &plan.start_container, i, f.errno),
        PivotRoot => format!("switching to the rootfs: pivot_root (step {i}): {e}"),
        Sysctl => format!(
            "linux.sysctl {}: writing /proc/sys: {e}{}",
            rp.sysctl.get(i).map_or("?", |s| s.key.as_str()),
            if f.errno == libc::EXDEV {
                " (/proc is not the root of a procfs, or a mount covers the path under it: \
                 refused, as a redirected write could reach another file, CVE-2025-52881)"
            } else {
                ""
            }
        ),
        MaskPath => format!(
            "linux.maskedPaths {}: {e}{}",
            rp.masked.get(i).map_or("?", |p| p.shown.as_str()),
            if f.errno == libc::ENODEV {
                " (the container's /dev/null is not the 1:3 character device, so it cannot mask: \
                 refused, as binding it could expose another file, CVE-2025-31133)"
            } else {
                ""
            }
        ),
        ReadonlyPath => format!(
            "linux.readonlyPaths {}: {e}",
            rp.readonly.get(i).map_or("?", |p| p.shown.as_str())
        ),
        ReadonlyRoot => format!("root.readonly: mount_setattr: {e}"),
        FinalPropagation => format!("linux.rootfsPropagation: mount_setattr: {e}"),
        ExecLookup => exec_lookup(plan, e),
        Execve => format!("exec {}: {e}", arg0(plan)),
        ExecFifo => format!("waiting for start on the exec fifo: {e}"),
        _ => describe_process(f, &plan.process),
    }
}

/// The steps every process berth starts goes through, the init's and an exec'd one's alike.
pub fn describe_process(f: Fail, pl: &ProcessPlan) -> String {
    let i = f.index as usize;
    let e = Errno(f.errno);
    use Step::*;
    match f.step {
        Console => format!("process.terminal: setting up the pty (step {i}): {e}"),
        DevConsole => format!(
            "process.terminal: binding the pty onto /dev/console, which must be a file or device \
             in the container's /dev, not a symlink, not on procfs or sysfs: {e}"
        ),
        ExecOpen => exec_open(&arg0_of(pl), e),
        ExecName => format!(
            "giving the process its name: getting back into the container's mount namespace: {e}"
        ),
        Keyring => format!("joining a session keyring: keyctl: {e}"),
        Rlimit => format!("process.rlimits[{i}]: setrlimit: {e}"),
        Personality => format!("linux.personality: personality: {e}"),
        IoPriority => format!("process.ioPriority: ioprio_set: {e}"),
        Scheduler => format!("process.scheduler: sched_setattr: {e}"),
        Cwd => format!("process.cwd {}: {e}", pl.cwd.shown),
        Groups => format!("process.user.additionalGids: setgroups: {e}"),
        Gid => format!("process.user.gid: setresgid: {e}"),
        Uid => format!("process.user.uid: setresuid: {e}"),
        Capabilities => format!("process.capabilities (step {i}): {e}"),
        NoNewPrivs => format!("process.noNewPrivileges: prctl: {e}"),
        PreserveFds => format!("--preserve-fds: fd {i}: {e}"),
        CpuAffinity => format!("process.execCPUAffinity: sched_setaffinity: {e}"),
        MemoryPolicy => format!("linux.memoryPolicy: set_mempolicy: {e}"),
        Stdio => format!("stdio: making fd {i} the process's own: dup3: {e}"),
        Seccomp if i == 2 => format!("linux.seccomp: passing the notify fd to the runtime: {e}"),
        Seccomp => format!("linux.seccomp: loading the filter: seccomp: {e}"),
        other => format!("{other:?} (#{i}): {e}"),
    }
}

fn option(plan: &InitPlan, i: usize) -> String {
    let (mi, oi) = (i & 0xffff, i >> 16);
    match plan.rootfs.mounts.get(mi).map(|m| &m.kind) {
        Some(Kind::Fs { data, .. }) => match data.get(oi) {
            Some((k, Some(v))) => format!("{}={}", k.to_string_lossy(), v.to_string_lossy()),
            Some((k, None)) => k.to_string_lossy().to_string(),
            None => "?".into(),
        },
        _ => "?".into(),
    }
}

fn dev(plan: &InitPlan, i: usize) -> String {
    plan.rootfs
        .devices
        .get(i)
        .map_or("?".into(), |d| d.path.shown.clone())
}

fn hook(kind: &str, list: &[crate::hooks::HookPlan], i: usize, code: i32) -> String {
    let shown = list
        .get(i)
        .map_or_else(|| format!("{kind}[{i}]"), |h| h.shown.clone());
    format!("hook {shown} {}", HookFail::describe(code))
}

fn arg0(plan: &InitPlan) -> String {
    arg0_of(&plan.process)
}

fn arg0_of(pl: &ProcessPlan) -> String {
    pl.argv
        .first()
        .map_or("?".into(), |a| format!("{:?}", a.to_string_lossy()))
}

/// Opening the program for exec failed; ELOOP is what a /proc magic link on the way gives.
pub fn exec_open(arg0: &str, e: Errno) -> String {
    if e.0 == libc::ELOOP {
        format!(
            "exec {arg0}: the program or a #! interpreter it names leads through a /proc magic link \
             (such as /proc/self/exe, refused: CVE-2019-5736) or a symlink loop"
        )
    } else {
        format!("exec {arg0}: opening the program or its #! interpreter: {e}")
    }
}

fn exec_lookup(plan: &InitPlan, e: Errno) -> String {
    if e.0 == libc::ENOENT {
        format!("exec: {}: executable file not found in $PATH", arg0(plan))
    } else {
        format!("exec: {}: {e}", arg0(plan))
    }
}
