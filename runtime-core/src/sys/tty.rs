//! Pseudo-terminal calls for containers with `process.terminal`.

use super::{check, SysResult};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

const TIOCSPTLCK: u64 = 0x4004_5431;
const TIOCGPTPEER: u64 = 0x5441;

/// Opens the peer (slave) of a pty master without a path lookup: nothing can swap it.
pub fn open_peer(master: RawFd) -> SysResult<OwnedFd> {
    unsafe {
        let unlock: i32 = 0;
        check(libc::ioctl(master, TIOCSPTLCK as _, &unlock) as libc::c_long)?;
        let fd = check(libc::ioctl(
            master,
            TIOCGPTPEER as _,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        ) as libc::c_long)?;
        Ok(OwnedFd::from_raw_fd(fd as RawFd))
    }
}

pub fn set_controlling(fd: RawFd) -> SysResult<()> {
    check(unsafe { libc::ioctl(fd, libc::TIOCSCTTY as _, 0) as libc::c_long }).map(drop)
}

pub fn set_winsize(fd: RawFd, rows: u16, cols: u16) -> SysResult<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    check(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ as _, &ws) as libc::c_long }).map(drop)
}

pub fn get_winsize(fd: RawFd) -> SysResult<(u16, u16)> {
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    check(unsafe { libc::ioctl(fd, libc::TIOCGWINSZ as _, &mut ws) as libc::c_long })?;
    Ok((ws.ws_row, ws.ws_col))
}

pub fn is_tty(fd: RawFd) -> bool {
    unsafe { libc::isatty(fd) == 1 }
}

/// Puts a terminal into raw mode; returns the previous settings for `restore`.
pub fn make_raw(fd: RawFd) -> SysResult<libc::termios> {
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        check(libc::tcgetattr(fd, &mut t) as libc::c_long)?;
        let old = t;
        libc::cfmakeraw(&mut t);
        check(libc::tcsetattr(fd, libc::TCSANOW, &t) as libc::c_long)?;
        Ok(old)
    }
}

pub fn restore(fd: RawFd, t: &libc::termios) {
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, t) };
}
