//! linux.sysctl: validated at plan time against the namespaced sysctls (as runc allows), written
//! through /proc/sys of the container's own procfs with no symlink or mount crossing allowed.

use crate::error::{Error, Result};
use crate::process::fail::{At, Fail, Step};
use crate::sys::fs;
use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::AsRawFd;

#[derive(Debug)]
pub struct SysctlPlan {
    pub key: String,
    /// Relative to /proc/sys: `net/ipv4/ip_forward`.
    pub rel: CString,
    pub value: CString,
}

/// Which namespaces the container has of its own, to decide which sysctls are its to set.
pub struct Owned {
    pub ipc: bool,
    pub net: bool,
    pub uts: bool,
}

pub fn plan(sysctl: &HashMap<String, String>, owned: &Owned) -> Result<Vec<SysctlPlan>> {
    let mut keys: Vec<&String> = sysctl.keys().collect();
    keys.sort();
    keys.into_iter()
        .map(|key| {
            let field = format!("linux.sysctl[{key:?}]");
            let bad = key.is_empty()
                || key
                    .split(['.', '/'])
                    .any(|c| c.is_empty() || c == ".." || c == ".");
            if bad {
                return Err(Error::invalid(field, "not a valid sysctl name"));
            }
            check_namespaced(key, owned, &field)?;
            let rel = key.replace('.', "/");
            let value = &sysctl[key];
            Ok(SysctlPlan {
                key: key.clone(),
                rel: CString::new(rel).map_err(|_| Error::invalid(&field, "NUL byte"))?,
                value: CString::new(value.as_str())
                    .map_err(|_| Error::invalid(&field, "NUL byte"))?,
            })
        })
        .collect()
}

fn check_namespaced(key: &str, owned: &Owned, field: &str) -> Result<()> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let (ns, ok) = if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        ("ipc", owned.ipc)
    } else if key.starts_with("net.") {
        ("network", owned.net)
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        ("uts", owned.uts)
    } else {
        return Err(Error::invalid(
            field,
            "not a namespaced sysctl: it would change the host",
        ));
    };
    if !ok {
        return Err(Error::invalid(
            field,
            format!("needs a {ns} namespace of the container's own"),
        ));
    }
    Ok(())
}

/// Writes each sysctl (container init, after pivot_root; no allocation).
pub fn apply(list: &[SysctlPlan]) -> std::result::Result<(), Fail> {
    if list.is_empty() {
        return Ok(());
    }
    let flags = libc::O_PATH | libc::O_DIRECTORY;
    let sys = fs::openat2(
        libc::AT_FDCWD,
        c"/proc/sys",
        flags,
        0,
        fs::RESOLVE_NO_SYMLINKS,
    )
    .at(Step::Sysctl, 0)?;
    let resolve = fs::RESOLVE_BENEATH | fs::RESOLVE_NO_SYMLINKS | fs::RESOLVE_NO_XDEV;
    for (i, s) in list.iter().enumerate() {
        let f =
            fs::openat2(sys.as_raw_fd(), &s.rel, libc::O_WRONLY, 0, resolve).at(Step::Sysctl, i)?;
        fs::write_all(f.as_raw_fd(), s.value.as_bytes()).at(Step::Sysctl, i)?;
    }
    Ok(())
}
