//! OCI capability names to kernel capability bits.

use crate::error::{Error, Result};
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

/// The highest capability number the running kernel knows, from /proc (read once: create
/// asks three times).
pub fn last_cap() -> u32 {
    static LAST: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *LAST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(40)
    })
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

/// Without a user namespace a process can only be given capabilities the runtime holds
/// itself: a set asking for more fails at capset, after `start` (runc fails at create). Named
/// now, with the first capability the runtime lacks.
pub fn check_held(caps: Option<&LinuxCapabilities>) -> Result<()> {
    let Some(c) = caps else { return Ok(()) };
    let held = crate::sys::process::capget_permitted()
        .map_err(|e| Error::invalid("process.capabilities", format!("capget: {e}")))?;
    let last = last_cap();
    for (name, set) in [("permitted", c.permitted()), ("effective", c.effective())] {
        let missing = set
            .iter()
            .flatten()
            .find(|cap| bit(**cap) <= last && held & (1u64 << bit(**cap)) == 0);
        if let Some(cap) = missing {
            let shown = serde_json::to_string(cap).unwrap_or_default();
            return Err(Error::invalid(
                format!("process.capabilities.{name}"),
                format!(
                    "{} is not held by the runtime itself (its permitted set is {held:#018x}), \
                     so no process it starts can have it",
                    shown.trim_matches('"')
                ),
            ));
        }
    }
    Ok(())
}
