//! The library's error type: every variant names what was being done and to what.

use crate::sys::Errno;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("bundle {path}: {source}")]
    Bundle {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: malformed config: {msg}")]
    Config { path: PathBuf, msg: String },
    #[error("invalid config: {field}: {msg}")]
    Invalid { field: String, msg: String },
    #[error("invalid container id {id:?}: {msg}")]
    BadId { id: String, msg: &'static str },
    #[error("container {0:?} already exists")]
    Exists(String),
    #[error("container {0:?} does not exist")]
    NotFound(String),
    #[error("container {id:?} is {status}: {msg}")]
    WrongState {
        id: String,
        status: &'static str,
        msg: &'static str,
    },
    #[error("{what}: {syscall}: {errno}")]
    Sys {
        what: String,
        syscall: &'static str,
        errno: Errno,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("container init failed: {0}")]
    Init(String),
    #[error("exec'd process setup failed: {0}")]
    Exec(String),
    #[error("hook {0}")]
    Hook(String),
    #[error("cgroup {0}")]
    Cgroup(String),
    #[error("cgroup {field}: writing {value:?} to {}: {errno}", path.display())]
    CgroupWrite {
        field: String,
        value: String,
        path: PathBuf,
        errno: Errno,
    },
    #[error("network: {0}")]
    Net(String),
    #[error("not supported: {0}")]
    Unsupported(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn invalid(field: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            msg: msg.into(),
        }
    }

    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            what: what.into(),
            source,
        }
    }
}

/// Attaches "what was being done" and the syscall's name to a raw errno.
pub trait SysContext<T> {
    fn sys(self, syscall: &'static str, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> SysContext<T> for std::result::Result<T, Errno> {
    fn sys(self, syscall: &'static str, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|errno| Error::Sys {
            what: what(),
            syscall,
            errno,
        })
    }
}

/// Attaches context to std I/O errors.
pub trait IoContext<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Io {
            what: what(),
            source,
        })
    }
}
