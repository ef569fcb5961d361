//! OCI capability names to kernel capability bits.

use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities};

/// The five capability sets as bit masks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapSets {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

/// The highest capability number the running kernel knows, from /proc.
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

pub fn bit(cap: Capability) -> u32 {
    use Capability::*;
    match cap {
        Chown => 0,
        DacOverride => 1,
        DacReadSearch => 2,
        Fowner => 3,
        Fsetid => 4,
        Kill => 5,
        Setgid => 6,
        Setuid => 7,
        Setpcap => 8,
        LinuxImmutable => 9,
        NetBindService => 10,
        NetBroadcast => 11,
        NetAdmin => 12,
        NetRaw => 13,
        IpcLock => 14,
        IpcOwner => 15,
        SysModule => 16,
        SysRawio => 17,
        SysChroot => 18,
        SysPtrace => 19,
        SysPacct => 20,
        SysAdmin => 21,
        SysBoot => 22,
        SysNice => 23,
        SysResource => 24,
        SysTime => 25,
        SysTtyConfig => 26,
        Mknod => 27,
        Lease => 28,
        AuditWrite => 29,
        AuditControl => 30,
        Setfcap => 31,
        MacOverride => 32,
        MacAdmin => 33,
        Syslog => 34,
        WakeAlarm => 35,
        BlockSuspend => 36,
        AuditRead => 37,
        Perfmon => 38,
        Bpf => 39,
        CheckpointRestore => 40,
    }
}

fn mask(set: &Option<Capabilities>, last: u32) -> u64 {
    set.iter()
        .flatten()
        .map(|c| bit(*c))
        .filter(|b| *b <= last)
        .fold(0u64, |m, b| m | (1u64 << b))
}

impl CapSets {
    /// Capabilities the running kernel does not know are dropped, as runc does.
    pub fn from_spec(caps: Option<&LinuxCapabilities>) -> CapSets {
        let last = last_cap();
        let Some(c) = caps else {
            return CapSets::default();
        };
        CapSets {
            bounding: mask(c.bounding(), last),
            effective: mask(c.effective(), last),
            permitted: mask(c.permitted(), last),
            inheritable: mask(c.inheritable(), last),
            ambient: mask(c.ambient(), last),
        }
    }
}
