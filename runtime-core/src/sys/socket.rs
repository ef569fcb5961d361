//! Unix sockets: the setup channel's socketpair and fd passing with SCM_RIGHTS.

use super::{check, retry, Errno, SysResult};
use std::ffi::CStr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// A `SOCK_SEQPACKET` pair: message boundaries are kept, and a peer's exit reads as EOF.
pub fn seqpacket_pair() -> SysResult<(OwnedFd, OwnedFd)> {
    pair(libc::SOCK_SEQPACKET)
}

pub fn stream_pair() -> SysResult<(OwnedFd, OwnedFd)> {
    pair(libc::SOCK_STREAM)
}

fn pair(kind: i32) -> SysResult<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    check(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            kind | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        ) as libc::c_long
    })?;
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

pub fn send(fd: RawFd, buf: &[u8]) -> SysResult<usize> {
    retry(|| unsafe {
        libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) as libc::c_long
    })
    .map(|n| n as usize)
}

/// Non-blocking send that never raises SIGPIPE.
pub fn send_nowait(fd: RawFd, buf: &[u8]) -> SysResult<usize> {
    retry(|| unsafe {
        libc::send(
            fd,
            buf.as_ptr().cast(),
            buf.len(),
            libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
        ) as libc::c_long
    })
    .map(|n| n as usize)
}

pub fn recv(fd: RawFd, buf: &mut [u8]) -> SysResult<usize> {
    retry(|| unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) as libc::c_long })
        .map(|n| n as usize)
}

/// Connects a `SOCK_STREAM` unix socket to `path`.
pub fn connect_unix(path: &CStr) -> SysResult<OwnedFd> {
    let bytes = path.to_bytes();
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if bytes.len() >= addr.sun_path.len() {
        return Err(Errno(libc::ENAMETOOLONG));
    }
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    let fd = check(unsafe {
        libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) as libc::c_long
    })?;
    let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    let len = std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;
    retry(|| unsafe {
        libc::connect(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            (&addr as *const libc::sockaddr_un).cast(),
            len as libc::socklen_t,
        ) as libc::c_long
    })?;
    Ok(fd)
}

const FD_SPACE: usize = 64;

/// Sends `payload` with one fd attached (SCM_RIGHTS), as runc's console-socket protocol does.
pub fn send_fd(sock: RawFd, payload: &[u8], fd: RawFd) -> SysResult<()> {
    let mut cbuf = [0u64; FD_SPACE / 8];
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr() as *mut libc::c_void,
        iov_len: payload.len(),
    };
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
        retry(|| libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) as libc::c_long).map(drop)
    }
}

/// Receives a message and at most one fd; returns the payload length and the fd.
pub fn recv_fd(sock: RawFd, payload: &mut [u8]) -> SysResult<(usize, Option<OwnedFd>)> {
    let mut cbuf = [0u64; FD_SPACE / 8];
    let mut iov = libc::iovec {
        iov_base: payload.as_mut_ptr().cast(),
        iov_len: payload.len(),
    };
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = FD_SPACE;
        let n = retry(|| libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) as libc::c_long)?;
        let mut got = None;
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>());
                got = Some(OwnedFd::from_raw_fd(fd));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        Ok((n as usize, got))
    }
}

/// A `NETLINK_ROUTE` socket.
pub fn netlink_route() -> SysResult<OwnedFd> {
    let fd = check(unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        ) as libc::c_long
    })?;
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// if_nametoindex(3); 0 when there is no such interface.
pub fn if_index(name: &CStr) -> i32 {
    unsafe { libc::if_nametoindex(name.as_ptr()) as i32 }
}
