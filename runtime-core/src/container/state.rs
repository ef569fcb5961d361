//! The state directory of one container under the runtime root: `state.json` (written
//! atomically), the exec fifo, and an flock on the directory that serialises every command
//! touching the container.

use crate::cgroups::Cgroup;
use crate::error::{Error, IoContext, Result};
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
pub const FIFO: &str = "exec.fifo";
pub const FIFO_NAME: &std::ffi::CStr = c"exec.fifo";

/// What the runtime keeps about a container between commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stored {
    pub id: String,
    pub pid: i32,
    /// The init's start time in clock ticks since boot (/proc/PID/stat field 22): a reused pid
    /// never passes for the container's init.
    pub start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    pub cgroup: Cgroup,
    pub spec: Spec,
    /// What the container holds on a network of berth's (annotation `berth.network`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<crate::net::attach::Attachment>,
}

impl Stored {
    /// Reads a state file's bytes; `path` names it in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Stored> {
        serde_json::from_slice(bytes).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })
    }
}

/// The OCI status of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A container directory, locked unless it was only peeked at for reading.
pub struct StateDir {
    pub path: PathBuf,
    lock: Option<File>,
}

/// runc's rule for ids: letters, digits, `_ + - .`, and not `.` or `..`.
pub fn check_id(id: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "_+-.".contains(c);
    let msg = if id.is_empty() {
        "empty"
    } else if id == "." || id == ".." {
        "not a name"
    } else if !id.chars().all(ok_char) {
        "only letters, digits and _ + - . are allowed"
    } else if id.len() > 1024 {
        "longer than 1024 characters"
    } else {
        return Ok(());
    };
    Err(Error::BadId {
        id: id.to_string(),
        msg,
    })
}

fn lock(dir: &Path) -> Result<File> {
    lock_unless_busy(dir, true)?.ok_or_else(|| {
        Error::io(
            format!("locking {}", dir.display()),
            std::io::ErrorKind::WouldBlock.into(),
        )
    })
}

/// The lock of container `id`'s directory, which must exist (`NotFound` otherwise); with
/// `wait` false, `None` while another command holds it.
fn lock_existing(dir: &Path, id: &str, wait: bool) -> Result<Option<File>> {
    match lock_unless_busy(dir, wait) {
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Err(Error::NotFound(id.to_string()))
        }
        other => other,
    }
}

/// The directory's lock; with `wait` false, `None` when another command holds it.
fn lock_unless_busy(dir: &Path, wait: bool) -> Result<Option<File>> {
    let f = File::open(dir).ctx(|| format!("opening {}", dir.display()))?;
    let fd = f.as_raw_fd();
    let got = if wait {
        crate::sys::fs::flock_exclusive(fd).map(|()| true)
    } else {
        crate::sys::fs::try_flock_exclusive(fd)
    };
    match got.map_err(|e| Error::io(format!("locking {}", dir.display()), e.into()))? {
        true => Ok(Some(f)),
        false => Ok(None),
    }
}

impl StateDir {
    /// Makes the directory for a new container; fails if the id is taken.
    pub fn create(root: &Path, id: &str) -> Result<StateDir> {
        check_id(id)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(root)
            .ctx(|| format!("creating the state root {}", root.display()))?;
        let path = root.join(id);
        match std::fs::DirBuilder::new().mode(0o711).create(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::Exists(id.to_string()))
            }
            Err(e) => return Err(Error::io(format!("creating {}", path.display()), e)),
        }
        let lock = lock(&path)?;
        Ok(StateDir {
            path,
            lock: Some(lock),
        })
    }

    /// Locks an existing container's directory.
    pub fn open(root: &Path, id: &str) -> Result<StateDir> {
        StateDir::open_unless_busy(root, id, true)?.ok_or_else(|| Error::NotFound(id.to_string()))
    }

    /// Like `open`; with `wait` false, `None` while another command holds the lock.
    pub fn open_unless_busy(root: &Path, id: &str, wait: bool) -> Result<Option<StateDir>> {
        check_id(id)?;
        let path = root.join(id);
        let Some(lock) = lock_existing(&path, id, wait)? else {
            return Ok(None);
        };
        // A delete that held the lock before us removed the directory.
        let gone = lock.metadata().map(|m| m.nlink() == 0).unwrap_or(true);
        if gone || !path.join(STATE_FILE).exists() {
            return Err(Error::NotFound(id.to_string()));
        }
        Ok(Some(StateDir {
            path,
            lock: Some(lock),
        }))
    }

    /// The directory without the lock, for reading state only: state.json is replaced
    /// atomically, so a reader never needs to wait for a command that holds the lock (a
    /// create running slow hooks, say).
    pub fn peek(root: &Path, id: &str) -> Result<StateDir> {
        check_id(id)?;
        let path = root.join(id);
        if !path.join(STATE_FILE).exists() {
            return Err(Error::NotFound(id.to_string()));
        }
        Ok(StateDir { path, lock: None })
    }

    pub fn load(&self) -> Result<Stored> {
        let file = self.path.join(STATE_FILE);
        let text = std::fs::read(&file).ctx(|| format!("reading {}", file.display()))?;
        Stored::parse(&text, &file)
    }

    /// Writes state.json through a temporary file and rename, so readers never see half.
    pub fn save(&self, s: &Stored) -> Result<()> {
        let bytes = serde_json::to_vec(s).map_err(|e| Error::io("encoding state", e.into()))?;
        write_atomic(&self.path.join(STATE_FILE), &bytes)
    }

    /// The fd holding the lock: a child cloned while it is held must close its copy, or the
    /// lock would live as long as the child.
    pub fn lock_fd(&self) -> Option<std::os::fd::RawFd> {
        self.lock.as_ref().map(|l| l.as_raw_fd())
    }

    pub fn fifo(&self) -> PathBuf {
        self.path.join(FIFO)
    }

    /// Removes the directory of a create that died before it wrote any state: it has no
    /// state file and nobody holds its lock (a live create holds it throughout). Returns
    /// whether there was one.
    pub fn remove_abandoned(root: &Path, id: &str) -> Result<bool> {
        check_id(id)?;
        let path = root.join(id);
        let lock = match lock_existing(&path, id, false) {
            Ok(Some(l)) => l,
            Ok(None) | Err(Error::NotFound(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        let gone = lock.metadata().map(|m| m.nlink() == 0).unwrap_or(true);
        if gone || path.join(STATE_FILE).exists() {
            return Ok(false);
        }
        std::fs::remove_dir_all(&path).ctx(|| format!("removing {}", path.display()))?;
        Ok(true)
    }

    /// Removes the directory and everything in it.
    pub fn remove(self) -> Result<()> {
        std::fs::remove_dir_all(&self.path).ctx(|| format!("removing {}", self.path.display()))
    }
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    // Unique per process and per call: threads of one process (the shim) may race here too.
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}.{seq}", std::process::id()));
    let mut f = File::create(&tmp).ctx(|| format!("writing {}", tmp.display()))?;
    f.write_all(bytes)
        .ctx(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).ctx(|| format!("renaming {} to {}", tmp.display(), path.display()))
}

/// What /proc says of a pid: its start time and whether it is still alive (not a zombie).
pub fn proc_stat(pid: i32) -> Option<(u64, bool)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = text.get(text.rfind(')')? + 2..)?;
    let fields: Vec<&str> = after.split(' ').collect();
    let state = fields.first()?.chars().next()?;
    let start: u64 = fields.get(19)?.parse().ok()?;
    Some((start, state != 'Z' && state != 'X'))
}

/// RFC 3339 with nanoseconds in UTC, as runc prints `created`.
pub fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_nanos()
    )
}

/// Days since 1970-01-01 to (year, month, day): Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_785), (2026, 11, 28));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn ids() {
        assert!(check_id("abc-1_2.3+x").is_ok());
        for bad in ["", ".", "..", "a/b", "a b"] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
    }
}
