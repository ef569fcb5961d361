//! The user process, planned before clone: every string, number and path the child needs to
//! finish the process and exec it, so the child itself only issues syscalls.

use crate::error::{Error, Result};
use crate::rootfs::resolve::InPath;
use crate::security::affinity::{self, Mask, MemPolicy};
use crate::security::caps::{self, CapSets};
use crate::security::rlimits;
use crate::sys::process::SchedAttr;
use oci_spec::runtime::{
    IOPriorityClass, LinuxPersonalityDomain, LinuxSchedulerFlag, LinuxSchedulerPolicy, Process,
};
use std::cell::UnsafeCell;
use std::ffi::{c_char, CString};
use std::path::Path;

/// A NULL-terminated `char *[]` and the strings it points into, with room in front for the
/// interpreters of a `#!` chain (see `execute`).
#[derive(Debug, Default)]
pub struct CStrings {
    strs: Vec<CString>,
    ptrs: Vec<*const c_char>,
    /// `ROOM` free slots, then a copy of `ptrs`: written only by a forked child about to exec.
    room: UnsafeCell<Vec<*const c_char>>,
}

// The pointers only ever point into `strs`, which this struct owns and never changes. `room`
// is written only in a child process after clone, in its own copy of this memory.
unsafe impl Send for CStrings {}
unsafe impl Sync for CStrings {}

impl CStrings {
    pub fn new<S: AsRef<str>>(items: &[S], field: &str) -> Result<CStrings> {
        let strs = items
            .iter()
            .map(|s| CString::new(s.as_ref()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| Error::invalid(field, "a string contains a NUL byte"))?;
        let mut ptrs: Vec<*const c_char> = strs.iter().map(|s| s.as_ptr()).collect();
        ptrs.push(std::ptr::null());
        let mut room = vec![std::ptr::null(); super::execute::ROOM];
        room.extend_from_slice(&ptrs);
        Ok(CStrings {
            strs,
            ptrs,
            room: UnsafeCell::new(room),
        })
    }

    pub fn ptrs(&self) -> &[*const c_char] {
        &self.ptrs
    }

    /// The argument vector with its free slots in front.
    ///
    /// # Safety
    /// Only for a process that was cloned from the owner and is about to exec: nothing else
    /// may look at this `CStrings` while the slice lives.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn room(&self) -> &mut [*const c_char] {
        unsafe { &mut *self.room.get() }
    }

    pub fn first(&self) -> Option<&CString> {
        self.strs.first()
    }
}

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug)]
pub struct ProcessPlan {
    pub argv: CStrings,
    pub envp: CStrings,
    /// Where `args[0]` may be: itself if it has a slash, else each `$PATH` entry joined to it.
    pub candidates: Vec<CString>,
    pub cwd: InPath,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub umask: u32,
    pub caps: CapSets,
    pub last_cap: u32,
    pub no_new_privs: bool,
    pub rlimits: Vec<(u32, u64, u64)>,
    pub oom_score_adj: Option<CString>,
    pub personality: Option<u64>,
    pub ioprio: Option<(i32, i32)>,
    pub sched: Option<SchedAttr>,
    pub terminal: bool,
    pub console_size: Option<(u16, u16)>,
    pub preserve_fds: u32,
    /// `process.execCPUAffinity`: the CPUs the process ends up on.
    pub affinity: Option<Mask>,
    /// `linux.memoryPolicy`.
    pub mem_policy: Option<MemPolicy>,
    /// `linux.seccomp`, compiled (shared with the cache).
    pub seccomp: Option<std::sync::Arc<crate::seccomp::Program>>,
    /// How the final exec is made, decided once from the filter.
    pub exec_via: super::execute::Via,
    /// Whether the kernel already names a process exec'd by fd after its file (see `comm`).
    pub named_by_file: bool,
}

impl ProcessPlan {
    pub fn new(p: &Process, preserve_fds: u32) -> Result<ProcessPlan> {
        let args = p.args().as_deref().unwrap_or(&[]);
        if args.is_empty() || args[0].is_empty() {
            return Err(Error::invalid("process.args", "must name a program to run"));
        }
        let env = p.env().as_deref().unwrap_or(&[]);
        if let Some(bad) = env.iter().find(|e| !e.contains('=')) {
            return Err(Error::invalid(
                "process.env",
                format!("{bad:?} is not NAME=value"),
            ));
        }
        let cwd = p.cwd();
        if !cwd.is_absolute() {
            return Err(Error::invalid(
                "process.cwd",
                format!("{:?} is not absolute", cwd),
            ));
        }
        let user = p.user();
        check_ids(user)?;
        Ok(ProcessPlan {
            argv: CStrings::new(args, "process.args")?,
            envp: CStrings::new(env, "process.env")?,
            candidates: candidates(&args[0], env)?,
            cwd: InPath::new(cwd, "process.cwd")?,
            uid: user.uid(),
            gid: user.gid(),
            groups: user.additional_gids().clone().unwrap_or_default(),
            umask: user.umask().unwrap_or(0o022),
            caps: CapSets::from_spec(p.capabilities().as_ref()),
            last_cap: caps::last_cap(),
            no_new_privs: p.no_new_privileges().unwrap_or(false),
            rlimits: rlimit_list(p)?,
            oom_score_adj: oom(p.oom_score_adj())?,
            personality: None,
            ioprio: ioprio(p)?,
            sched: sched(p)?,
            terminal: p.terminal().unwrap_or(false),
            console_size: p
                .console_size()
                .map(|b| (b.height() as u16, b.width() as u16)),
            preserve_fds,
            affinity: affinity(p)?,
            mem_policy: None,
            seccomp: None,
            exec_via: super::execute::Via::Execveat,
            named_by_file: super::comm::kernel_names_by_file(),
        })
    }

    /// Adds what the spec's `linux` section says about every process: personality and the
    /// memory policy.
    pub fn with_linux(
        mut self,
        linux: Option<&oci_spec::runtime::Linux>,
        seccomp_cache: Option<&Path>,
    ) -> Result<Self> {
        let Some(linux) = linux else { return Ok(self) };
        self = self.with_personality(linux.personality().as_ref().map(|p| p.domain()));
        if let Some(mp) = linux.memory_policy() {
            self.mem_policy = Some(affinity::mem_policy(mp)?);
        }
        if let Some(s) = linux.seccomp() {
            let prog = crate::seccomp::cache::compiled(s, seccomp_cache)?;
            self.exec_via = via_for(&prog);
            self.seccomp = Some(prog);
        }
        Ok(self)
    }

    /// Whether the seccomp filter hands a notify fd to an agent.
    pub fn seccomp_agent(&self) -> bool {
        self.seccomp
            .as_ref()
            .is_some_and(|p| p.flags & crate::seccomp::compile::FLAG_NEW_LISTENER != 0)
    }

    pub fn with_personality(mut self, domain: Option<LinuxPersonalityDomain>) -> Self {
        self.personality = domain.map(|d| match d {
            LinuxPersonalityDomain::PerLinux => 0x0000,
            LinuxPersonalityDomain::PerLinux32 => 0x0008,
        });
        self
    }
}

fn candidates(arg0: &str, env: &[String]) -> Result<Vec<CString>> {
    let bad = |_| Error::invalid("process.args[0]", "contains a NUL byte");
    if arg0.contains('/') {
        return Ok(vec![CString::new(arg0).map_err(bad)?]);
    }
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    path.split(':')
        .map(|dir| if dir.is_empty() { "." } else { dir })
        .map(|dir| {
            CString::new(Path::new(dir).join(arg0).to_string_lossy().as_bytes()).map_err(bad)
        })
        .collect()
}

/// The final affinity if given, else the initial one: the process is born in its cgroup, so
/// there is no moment before the transition for `initial` alone to matter.
fn affinity(p: &Process) -> Result<Option<Mask>> {
    let Some(a) = p.exec_cpu_affinity() else {
        return Ok(None);
    };
    let list = a
        .cpu_affinity_final()
        .as_deref()
        .or(a.initial().as_deref())
        .filter(|s| !s.is_empty());
    list.map(|l| affinity::parse_list(l, "process.execCPUAffinity"))
        .transpose()
}

fn rlimit_list(p: &Process) -> Result<Vec<(u32, u64, u64)>> {
    let mut out = Vec::new();
    for (i, r) in p.rlimits().iter().flatten().enumerate() {
        if r.soft() > r.hard() {
            return Err(Error::invalid(
                format!("process.rlimits[{i}] ({})", r.typ()),
                format!("soft limit {} is above hard limit {}", r.soft(), r.hard()),
            ));
        }
        let res = rlimits::resource(r.typ());
        if out.iter().any(|(x, _, _)| *x == res) {
            return Err(Error::invalid(
                format!("process.rlimits[{i}]"),
                format!("{} given twice", r.typ()),
            ));
        }
        out.push((res, r.soft(), r.hard()));
    }
    Ok(out)
}

fn oom(v: Option<i32>) -> Result<Option<CString>> {
    match v {
        None => Ok(None),
        Some(v) if !(-1000..=1000).contains(&v) => Err(Error::invalid(
            "process.oomScoreAdj",
            format!("{v} is outside -1000..1000"),
        )),
        Some(v) => Ok(CString::new(v.to_string()).ok()),
    }
}

fn ioprio(p: &Process) -> Result<Option<(i32, i32)>> {
    let Some(io) = p.io_priority() else {
        return Ok(None);
    };
    let class = match io.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    if !(0..=7).contains(&io.priority()) {
        return Err(Error::invalid(
            "process.ioPriority.priority",
            "must be 0..7",
        ));
    }
    Ok(Some((class, io.priority() as i32)))
}

fn sched(p: &Process) -> Result<Option<SchedAttr>> {
    let Some(s) = p.scheduler() else {
        return Ok(None);
    };
    use LinuxSchedulerPolicy::*;
    let policy = match s.policy() {
        SchedOther => 0,
        SchedFifo => 1,
        SchedRr => 2,
        SchedBatch => 3,
        SchedIso => 4,
        SchedIdle => 5,
        SchedDeadline => 6,
    };
    let nice = s.nice().unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        return Err(Error::invalid("process.scheduler.nice", "must be -20..19"));
    }
    let flags = s.flags().iter().flatten().fold(0u64, |acc, f| {
        acc | match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        }
    });
    Ok(Some(SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy,
        flags,
        nice,
        priority: s.priority().unwrap_or(0).max(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
    }))
}

/// How the final exec is made under `prog`: by fd, unless the filter would refuse execveat.
/// An id of -1 (4294967295) means "leave unchanged" to setresuid and friends: a process
/// meant to run as that id would keep running as root.
fn check_ids(user: &oci_spec::runtime::User) -> Result<()> {
    let bad = u32::MAX;
    let groups = user.additional_gids().as_deref().unwrap_or(&[]);
    for (field, id) in [
        ("process.user.uid", user.uid()),
        ("process.user.gid", user.gid()),
    ]
    .into_iter()
    .chain(groups.iter().map(|g| ("process.user.additionalGids", *g)))
    {
        if id == bad {
            return Err(Error::invalid(
                field,
                format!(
                    "{id} is not a valid id (it is -1, which the kernel reads as \"unchanged\")"
                ),
            ));
        }
    }
    Ok(())
}

fn via_for(prog: &crate::seccomp::Program) -> super::execute::Via {
    use super::execute::Via;
    let Some(abi) = crate::seccomp::Family::native().map(|f| f.native_abi()) else {
        return Via::ProcFd;
    };
    let Some(nr) = abi.number("execveat") else {
        return Via::ProcFd;
    };
    let args = [3, 0, 0, 0, libc::AT_EMPTY_PATH as u64, 0];
    let ret = crate::seccomp::interp::run(prog, abi.audit(), nr, args) & 0xffff_0000;
    if ret == libc::SECCOMP_RET_ALLOW || ret == libc::SECCOMP_RET_LOG {
        Via::Execveat
    } else {
        Via::ProcFd
    }
}
