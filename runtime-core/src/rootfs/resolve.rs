//! Paths inside the container's rootfs.
//!
//! Everything the container init mounts onto or creates is looked up from an fd of the rootfs
//! with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`: `..` and absolute symlinks stay
//! inside the rootfs, and `/proc/self/fd/N` tricks fail, however the image's symlinks are laid
//! out and whatever is swapped in while the init works. The mount itself then targets the fd
//! (`move_mount`), so nothing is looked up a second time.
//!
//! Before any of that, `resolve_in_rootfs` refuses a destination whose path climbs out of the
//! rootfs through `..` in a symlink: the kernel would clamp it safely, but such an image is an
//! attack, and its author deserves a clear error rather than a surprising mount.

use crate::error::{Error, Result};
use crate::sys::{fs, Errno, SysResult};
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Component, Path, PathBuf};

const IN_ROOT: u64 = fs::RESOLVE_IN_ROOT | fs::RESOLVE_NO_MAGICLINKS;

/// What to create when a path does not exist yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    No,
    Dir,
    File,
}

/// A path inside the rootfs, split at plan time so the child only walks prepared strings.
#[derive(Debug)]
pub struct InPath {
    /// For messages: the path as the config gave it.
    pub shown: String,
    /// `prefixes[i]` is the relative path of the first `i+1` components.
    prefixes: Vec<CString>,
    /// `names[i]` is component `i` alone.
    names: Vec<CString>,
}

impl InPath {
    /// Splits an absolute, `..`-free path. `field` names the config field for errors.
    pub fn new(path: &Path, field: &str) -> Result<InPath> {
        let shown = path.display().to_string();
        if !path.is_absolute() {
            return Err(Error::invalid(
                field,
                format!("{shown:?} is not an absolute path"),
            ));
        }
        let mut prefixes = Vec::new();
        let mut names = Vec::new();
        let mut acc = PathBuf::new();
        for c in path.components() {
            match c {
                Component::RootDir | Component::CurDir => {}
                Component::ParentDir => {
                    return Err(Error::invalid(
                        field,
                        format!("{shown:?} contains \"..\": a path must stay inside the rootfs"),
                    ))
                }
                Component::Normal(n) => {
                    acc.push(n);
                    prefixes.push(cstring(&acc, field)?);
                    names.push(cstring(Path::new(n), field)?);
                }
                Component::Prefix(_) => {}
            }
        }
        Ok(InPath {
            shown,
            prefixes,
            names,
        })
    }

    pub fn is_root(&self) -> bool {
        self.names.is_empty()
    }

    /// The relative path of the whole thing (`.` for the root itself).
    pub fn relative(&self) -> &std::ffi::CStr {
        self.prefixes.last().map_or(c".", |p| p.as_c_str())
    }
}

pub fn cstring(p: &Path, field: &str) -> Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| Error::invalid(field, format!("{:?} contains a NUL byte", p)))
}

/// Opens `p` inside the rootfs `root` as an `O_PATH` fd, creating what is missing.
/// Runs in the container init: no allocation.
pub fn open_in_root(root: RawFd, p: &InPath, create: Create) -> SysResult<OwnedFd> {
    if p.is_root() {
        return fs::openat2(root, c".", libc::O_PATH | libc::O_DIRECTORY, 0, IN_ROOT);
    }
    match fs::openat2(root, p.relative(), libc::O_PATH, 0, IN_ROOT) {
        Err(Errno(libc::ENOENT)) if create != Create::No => {}
        other => return other,
    }
    let (dir, name) = open_parent(root, p)?;
    make_entry(&dir, name, create == Create::Dir)?;
    fs::openat2(root, p.relative(), libc::O_PATH, 0, IN_ROOT)
}

/// Opens the directory that holds `p` (creating it) and returns it with `p`'s last name.
pub fn open_parent(root: RawFd, p: &InPath) -> SysResult<(OwnedFd, &std::ffi::CStr)> {
    let last = p.names.len().checked_sub(1).ok_or(Errno(libc::EINVAL))?;
    let name = p.names[last].as_c_str();
    Ok((open_prefix(root, p, last)?, name))
}

/// Opens (creating) the directory made of `p`'s first `upto` components.
fn open_prefix(root: RawFd, p: &InPath, upto: usize) -> SysResult<OwnedFd> {
    let mut dir = fs::openat2(root, c".", libc::O_PATH | libc::O_DIRECTORY, 0, IN_ROOT)?;
    for i in 0..upto {
        match fs::openat2(
            root,
            &p.prefixes[i],
            libc::O_PATH | libc::O_DIRECTORY,
            0,
            IN_ROOT,
        ) {
            Ok(fd) => dir = fd,
            Err(Errno(libc::ENOENT)) => {
                make_entry(&dir, &p.names[i], true)?;
                dir = fs::openat2(
                    root,
                    &p.prefixes[i],
                    libc::O_PATH | libc::O_DIRECTORY,
                    0,
                    IN_ROOT,
                )?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(dir)
}

fn make_entry(dir: &OwnedFd, name: &std::ffi::CStr, directory: bool) -> SysResult<()> {
    let r = if directory {
        fs::mkdirat(dir.as_raw_fd(), name, 0o755)
    } else {
        let flags = libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_WRONLY;
        fs::openat(dir.as_raw_fd(), name, flags, 0o644).map(drop)
    };
    match r {
        Err(Errno(libc::EEXIST)) => Ok(()),
        other => other,
    }
}

/// Resolves `dest` inside the rootfs as the kernel's `RESOLVE_IN_ROOT` would, following the
/// image's symlinks (absolute ones re-anchored at the rootfs), and returns the path without
/// symlinks. Components that do not exist yet are kept as they are: they will be created as
/// directories. A symlink whose `..` climbs above the rootfs is refused.
pub fn resolve_in_rootfs(rootfs: &Path, dest: &Path, field: &str) -> Result<PathBuf> {
    let mut stack: Vec<std::ffi::OsString> = Vec::new();
    let mut todo: Vec<std::ffi::OsString> = components(dest).into_iter().rev().collect();
    let mut links = 0;
    let mut missing = false;
    while let Some(c) = todo.pop() {
        if c == ".." {
            if stack.pop().is_none() {
                return Err(escape_error(field, dest, rootfs));
            }
            continue;
        }
        stack.push(c);
        if missing {
            continue;
        }
        let host: PathBuf = rootfs.join(stack.iter().collect::<PathBuf>());
        let Ok(target) = std::fs::read_link(&host) else {
            missing = std::fs::symlink_metadata(&host).is_err();
            continue;
        };
        links += 1;
        if links > 40 {
            return Err(Error::invalid(
                field,
                format!("{:?}: too many levels of symlinks", dest),
            ));
        }
        stack.pop();
        if target.is_absolute() {
            stack.clear();
        }
        todo.extend(components(&target).into_iter().rev());
    }
    Ok(Path::new("/").join(stack.iter().collect::<PathBuf>()))
}

fn components(p: &Path) -> Vec<std::ffi::OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

fn escape_error(field: &str, dest: &Path, rootfs: &Path) -> Error {
    Error::invalid(
        field,
        format!(
            "{:?} escapes the rootfs {:?} through a symlink with \"..\"",
            dest, rootfs
        ),
    )
}
