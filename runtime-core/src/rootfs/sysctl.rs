//! linux.sysctl: validated at plan time against the namespaced sysctls (as runc allows), written
//! through the container's own procfs: from the root of a procfs mount (checked by its
//! filesystem and inode number) down to the file with no symlink and no mount crossed, so a
//! mount or symlink put over /proc/sys or one of its files cannot redirect the write to a host
//! file or another procfs file (CVE-2025-52881).

use crate::error::{Error, Result};
use crate::process::fail::{At, Fail, Step};
use crate::sys::fs;
use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::AsRawFd;

#[derive(Debug)]
pub struct SysctlPlan {
    pub key: String,
    /// Relative to /proc: `sys/net/ipv4/ip_forward`.
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
            let rel = format!("sys/{}", key.replace('.', "/"));
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
    let proc = open_proc_root().at(Step::Sysctl, 0)?;
    let resolve = fs::RESOLVE_BENEATH | fs::RESOLVE_NO_SYMLINKS | fs::RESOLVE_NO_XDEV;
    for (i, s) in list.iter().enumerate() {
        let f = fs::openat2(proc.as_raw_fd(), &s.rel, libc::O_WRONLY, 0, resolve)
            .at(Step::Sysctl, i)?;
        fs::write_all(f.as_raw_fd(), s.value.as_bytes()).at(Step::Sysctl, i)?;
    }
    Ok(())
}

/// The container's /proc, which must be the root of a procfs mount: a bind of some other
/// directory (or of a part of procfs) is refused with `EXDEV`.
fn open_proc_root() -> crate::sys::SysResult<std::os::fd::OwnedFd> {
    const PROC_ROOT_INO: u64 = 1;
    let flags = libc::O_PATH | libc::O_DIRECTORY;
    let proc = fs::openat2(libc::AT_FDCWD, c"/proc", flags, 0, fs::RESOLVE_NO_SYMLINKS)?;
    let is_procfs = fs::fs_type(proc.as_raw_fd())? == libc::PROC_SUPER_MAGIC;
    if !is_procfs || fs::fstat(proc.as_raw_fd())?.st_ino != PROC_ROOT_INO {
        return Err(crate::sys::Errno(libc::EXDEV));
    }
    Ok(proc)
}
