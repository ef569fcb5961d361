//! A minimal rtnetlink request/acknowledge exchange on one socket.

use crate::sys::{socket, Errno, SysResult};
use std::os::fd::AsRawFd;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLMSG_ERROR: u16 = 0x2;
pub const RTM_NEWLINK: u16 = 16;

/// An rtnetlink message being built: header, a fixed body, then attributes.
pub struct Message {
    buf: Vec<u8>,
}

impl Message {
    pub fn new(kind: u16, body: &[u8]) -> Message {
        let mut buf = vec![0u8; 16];
        buf[4..6].copy_from_slice(&kind.to_ne_bytes());
        buf[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        buf[8..12].copy_from_slice(&1u32.to_ne_bytes());
        buf.extend_from_slice(body);
        pad(&mut buf);
        Message { buf }
    }

    pub fn attr(mut self, kind: u16, data: &[u8]) -> Message {
        let len = (4 + data.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(data);
        pad(&mut self.buf);
        self
    }

    /// Sends the request on a new NETLINK_ROUTE socket and waits for the kernel's answer.
    pub fn send(mut self) -> SysResult<()> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        let sock = socket::netlink_route()?;
        socket::send(sock.as_raw_fd(), &self.buf)?;
        let mut reply = [0u8; 4096];
        let n = socket::recv(sock.as_raw_fd(), &mut reply)?;
        if n < 20 || u16::from_ne_bytes([reply[4], reply[5]]) != NLMSG_ERROR {
            return Err(Errno(libc::EPROTO));
        }
        let code = i32::from_ne_bytes([reply[16], reply[17], reply[18], reply[19]]);
        if code < 0 {
            return Err(Errno(-code));
        }
        Ok(())
    }
}

fn pad(buf: &mut Vec<u8>) {
    while buf.len() % 4 != 0 {
        buf.push(0);
    }
}
