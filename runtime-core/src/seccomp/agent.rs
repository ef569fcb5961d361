//! Handing a notify fd to a seccomp agent, with runc's protocol: connect to
//! `linux.seccomp.listenerPath` (a unix stream socket) and send one message, the container
//! process state as JSON, with the fd attached (SCM_RIGHTS).

use crate::container::State;
use crate::error::{Error, Result, SysContext};
use crate::sys::socket;
use serde::Serialize;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The runtime-spec's containerProcessState: which fds ride along, whose they are, the
/// profile's listenerMetadata and the container's state.
#[derive(Serialize)]
struct ProcessState<'a> {
    #[serde(rename = "ociVersion")]
    oci_version: &'a str,
    fds: [&'static str; 1],
    pid: i32,
    metadata: &'a str,
    state: &'a State,
}

/// Sends `fd`, the listener of process `pid`, to the agent at `path`.
pub fn hand_over(
    path: &Path,
    metadata: Option<&str>,
    pid: i32,
    state: &State,
    fd: OwnedFd,
) -> Result<()> {
    let field = "linux.seccomp.listenerPath";
    let msg = serde_json::to_vec(&ProcessState {
        oci_version: &state.oci_version,
        fds: ["seccompFd"],
        pid,
        metadata: metadata.unwrap_or(""),
        state,
    })
    .map_err(|e| Error::invalid(field, format!("encoding the process state: {e}")))?;
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::invalid(field, "contains a NUL byte"))?;
    let conn =
        socket::connect_unix(&c_path).sys("connect", || format!("{field} {}", path.display()))?;
    socket::send_fd(conn.as_raw_fd(), &msg, fd.as_raw_fd())
        .sys("sendmsg", || format!("{field} {}", path.display()))
}
