//! How the child reports a failed step: a fixed-size code the parent turns into a sentence.

use crate::sys::{Errno, SysResult};

macro_rules! steps {
    ($($name:ident),* $(,)?) => {
        /// Each step of the child's setup that can fail. `index` in `Fail` says which item of a
        /// list (which mount, device, hook …) the step was working on.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u32)]
        pub enum Step { $($name),* }

        const ALL_STEPS: &[Step] = &[$(Step::$name),*];

        impl Step {
            /// The step's name, for messages written without allocating.
            pub fn name(self) -> &'static str {
                match self { $(Step::$name => stringify!($name)),* }
            }
        }
    };
}

steps! {
    Protocol,
    JoinCgroup,
    JoinNamespace,
    Unshare,
    BecomeRoot,
    Hostname,
    Domainname,
    RootPropagation,
    RootfsBind,
    RootfsOpen,
    MountTarget,
    MountSymlinkTarget,
    MountSource,
    MountFsopen,
    MountFsconfig,
    MountCreate,
    MountAttach,
    MountAttrs,
    MountPropagation,
    DeviceCreate,
    DeviceOwner,
    DevSymlink,
    CreateContainerHook,
    StartContainerHook,
    PivotRoot,
    Sysctl,
    MaskPath,
    ReadonlyPath,
    ReadonlyRoot,
    FinalPropagation,
    Console,
    DevConsole,
    Stdio,
    ExecLookup,
    ExecOpen,
    ExecFifo,
    Keyring,
    Rlimit,
    Personality,
    IoPriority,
    Scheduler,
    Cwd,
    Groups,
    Gid,
    Uid,
    Capabilities,
    NoNewPrivs,
    Execve,
    PreserveFds,
    CpuAffinity,
    MemoryPolicy,
    Seccomp,
    ExecName,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fail {
    pub step: Step,
    pub index: u32,
    pub errno: i32,
}

impl Fail {
    pub fn new(step: Step, index: u32, errno: Errno) -> Fail {
        Fail {
            step,
            index,
            errno: errno.0,
        }
    }

    pub fn from_raw(step: u32, index: u32, errno: i32) -> Option<Fail> {
        let step = *ALL_STEPS.get(step as usize)?;
        Some(Fail { step, index, errno })
    }
}

/// Tags a syscall result with the step (and list index) it belongs to.
pub trait At<T> {
    fn at(self, step: Step, index: usize) -> Result<T, Fail>;
}

impl<T> At<T> for SysResult<T> {
    fn at(self, step: Step, index: usize) -> Result<T, Fail> {
        self.map_err(|e| Fail::new(step, index as u32, e))
    }
}
