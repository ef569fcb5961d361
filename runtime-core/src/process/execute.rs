//! The last exec of every process Berth starts in a container (init, `exec`, hooks), made so
//! that the kernel never resolves a path on the way.
//!
//! CVE-2019-5736: until that exec the process is a copy of the runtime, so a path that names
//! `/proc/self/exe` — the program itself, a symlink to it, or the interpreter of a `#!`
//! script — makes the kernel run the host's runtime binary as a container process, which the
//! container can then open through `/proc/PID/exe` and overwrite. runc, crun and youki answer
//! with a copy of their binary in a sealed memfd (or a re-exec); Berth opens the program with
//! `RESOLVE_NO_MAGICLINKS`, reads `#!` lines itself (as the kernel's binfmt_script would) and
//! opens each interpreter the same way, then execs the opened file by fd. The checked file is
//! the executed one: a script swapped in under the fd afterwards cannot run either, because the
//! kernel refuses a script exec'd through a close-on-exec fd.
//!
//! Exec'd by fd alone, the process would be named after the file run (`busybox` for
//! `/bin/sh` linked to it) rather than the name it was called by; `comm` gives it runc's name
//! without giving up the fd. Everything runs in a cloned child: no allocation.

use super::comm::{self, Named};
use super::plan::CStrings;
use crate::sys::{fs, process as p, Errno};
use std::ffi::{c_char, CStr};
use std::os::fd::{AsRawFd, OwnedFd};

/// Nested `#!` interpreters followed, as the kernel allows.
pub const MAX_DEPTH: usize = 5;
/// Free argument slots in front of argv: an interpreter and its argument per level.
pub const ROOM: usize = 2 * MAX_DEPTH;
/// The kernel reads this much of a file to find its `#!` line (BINPRM_BUF_SIZE).
const HEADER: usize = 256;

/// How the opened file is finally exec'd: `execveat(fd, "")`, or — when the container's
/// seccomp profile does not allow execveat — `execve("/proc/self/fd/N")`, a magic link to our
/// own fd, on the container's procfs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Execveat,
    ProcFd,
}

/// A program opened and its `#!` chain read, ready to exec; holds the strings argv points at.
pub struct Ready<'a> {
    fd: OwnedFd,
    argv: &'a [*const c_char],
    /// Whether interpreters were put in front (the path named a script).
    script: bool,
    /// The path it was found by: the process's name comes from it.
    path: &'a CStr,
    named: Option<Named<'a>>,
}

/// Opens `path` and follows its `#!` chain into `lines` (one buffer per level, which the
/// resulting argv points into). `argv` gains the interpreters in front, as the kernel does:
/// `interpreter [argument] script args[1..]`.
pub fn prepare<'a>(
    path: &'a CStr,
    argv: &'a CStrings,
    lines: &'a mut [[u8; HEADER]; MAX_DEPTH],
) -> Result<Ready<'a>, Errno> {
    // SAFETY: this is a child cloned to exec; nothing else sees its copy of `argv`.
    let room = unsafe { argv.room() };
    // An earlier call (the probe at create) may have put a script's path over args[0].
    room[ROOM] = argv.ptrs()[0];
    let mut front = ROOM;
    let mut target: &CStr = path;
    let mut lines = lines.iter_mut();
    loop {
        let fd = open(target)?;
        let Some(line) = lines.next() else {
            // One level more than the kernel follows: only a binary may come now.
            return match shebang(&mut header(&fd)?) {
                Some(_) => Err(Errno(libc::ELOOP)),
                None => Ok(Ready::new(fd, &room[front..], path, front != ROOM)),
            };
        };
        *line = header(&fd)?;
        let Some((name, arg)) = shebang(line) else {
            return Ok(Ready::new(fd, &room[front..], path, front != ROOM));
        };
        let line: &'a [u8; HEADER] = line;
        let cstr =
            |at: usize| CStr::from_bytes_until_nul(&line[at..]).map_err(|_| Errno(libc::ENOEXEC));
        room[front] = target.as_ptr();
        if let Some(a) = arg {
            front -= 1;
            room[front] = cstr(a)?.as_ptr();
        }
        let interpreter = cstr(name)?;
        front -= 1;
        room[front] = interpreter.as_ptr();
        target = interpreter;
    }
}

impl<'a> Ready<'a> {
    fn new(fd: OwnedFd, argv: &'a [*const c_char], path: &'a CStr, script: bool) -> Self {
        Ready {
            fd,
            argv,
            script,
            path,
            named: None,
        }
    }

    /// Readies the exec to give the process runc's name (see `comm`). It mounts, so it comes
    /// before the credentials are dropped; an error means the process must not run.
    pub fn name_it(&mut self, by_file: bool) -> Result<(), Errno> {
        self.named = comm::tree(self.path, self.fd.as_raw_fd(), self.script, by_file)?;
        Ok(())
    }
}

/// Execs what `prepare` opened; returns only on failure.
pub fn exec(ready: Ready<'_>, envp: &[*const c_char], via: Via) -> Errno {
    if let Some(n) = &ready.named {
        let _ = match via {
            Via::Execveat => p::execveat_at(n.dir.as_raw_fd(), n.name, ready.argv, envp),
            Via::ProcFd => via_proc(n.dir.as_raw_fd(), Some(n.name), ready.argv, envp),
        };
        // Whatever kept the named way from working, the opened file itself still can run
        // (and if it cannot, its own error is the one to report).
    }
    let fd = ready.fd.as_raw_fd();
    match via {
        Via::Execveat => p::execveat_fd(fd, ready.argv, envp),
        Via::ProcFd => via_proc(fd, None, ready.argv, envp),
    }
}

/// execve of `/proc/self/fd/FD[/NAME]`, a magic link to our own fd on the container's
/// procfs: for a seccomp profile that refuses execveat.
fn via_proc(fd: i32, name: Option<&CStr>, argv: &[*const c_char], envp: &[*const c_char]) -> Errno {
    let mut path = [0u8; 320];
    let mut digits = [0u8; 12];
    let name = name.map_or(&b""[..], |c| c.to_bytes());
    let slash: &[u8] = if name.is_empty() { b"" } else { b"/" };
    let parts = [
        &b"/proc/self/fd/"[..],
        crate::hooks::pid_digits(fd, &mut digits),
        slash,
        name,
    ];
    let mut n = 0;
    for part in parts {
        // One byte stays zero: the terminator.
        if n + part.len() >= path.len() {
            return Errno(libc::ENAMETOOLONG);
        }
        path[n..n + part.len()].copy_from_slice(part);
        n += part.len();
    }
    match CStr::from_bytes_until_nul(&path) {
        Ok(c) => p::execve(c, argv, envp),
        Err(_) => Errno(libc::EINVAL),
    }
}

/// Opens a program or interpreter for exec: no magic link anywhere on the path. A file the
/// caller may run but not read is opened `O_PATH`; the kernel can only run it if it is a
/// binary, since a script behind a close-on-exec fd never runs.
fn open(path: &CStr) -> Result<OwnedFd, Errno> {
    let flags = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY;
    match fs::openat2(libc::AT_FDCWD, path, flags, 0, fs::RESOLVE_NO_MAGICLINKS) {
        Err(Errno(libc::EACCES)) => fs::openat2(
            libc::AT_FDCWD,
            path,
            libc::O_PATH,
            0,
            fs::RESOLVE_NO_MAGICLINKS,
        ),
        r => r,
    }
}

/// The first bytes of the file, zero-filled past its end; an `O_PATH` fd reads as empty.
fn header(fd: &OwnedFd) -> Result<[u8; HEADER], Errno> {
    let mut buf = [0u8; HEADER];
    match fs::pread(fd.as_raw_fd(), &mut buf, 0) {
        Ok(_) | Err(Errno(libc::EBADF)) | Err(Errno(libc::EISDIR)) => Ok(buf),
        Err(e) => Err(e),
    }
}

fn is_space(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

fn ends_name(c: u8) -> bool {
    is_space(c) || c == 0
}

/// Where the interpreter and its optional argument start in a `#!` line, NUL-terminated in
/// place; `None` when the file is no script. The rules are binfmt_script's: one line of at
/// most 255 bytes, trailing blanks dropped, everything after the interpreter's name one
/// argument; a name that runs to the end of the buffer is not trusted to be whole.
pub fn shebang(buf: &mut [u8; HEADER]) -> Option<(usize, Option<usize>)> {
    if buf[..2] != *b"#!" {
        return None;
    }
    let last = HEADER - 1;
    let mut end = match buf.iter().position(|&c| c == b'\n') {
        Some(e) => e,
        None => {
            let start = (2..last).find(|&i| !is_space(buf[i]))?;
            (start..last).find(|&i| ends_name(buf[i]))?;
            last
        }
    };
    while end > 2 && is_space(buf[end - 1]) {
        end -= 1;
    }
    let name = (2..end).find(|&i| !is_space(buf[i]))?;
    let sep = (name..end).find(|&i| ends_name(buf[i]));
    let arg = match sep {
        Some(s) if buf[s] != 0 => (s..end).find(|&i| !is_space(buf[i])),
        _ => None,
    };
    buf[end] = 0;
    if let Some(s) = sep {
        buf[s] = 0;
    }
    Some((name, arg))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &[u8]) -> Option<(String, Option<String>)> {
        let mut buf = [0u8; HEADER];
        let n = text.len().min(HEADER);
        buf[..n].copy_from_slice(&text[..n]);
        let (name, arg) = shebang(&mut buf)?;
        let s = |i: usize| {
            let end = buf[i..].iter().position(|&c| c == 0).unwrap();
            String::from_utf8(buf[i..i + end].to_vec()).unwrap()
        };
        Some((s(name), arg.map(s)))
    }

    #[test]
    fn lines_are_read_as_the_kernel_reads_them() {
        let some = |n: &str, a: Option<&str>| Some((n.to_string(), a.map(str::to_string)));
        assert_eq!(parse(b"#!/bin/sh\necho"), some("/bin/sh", None));
        assert_eq!(parse(b"#! /bin/sh -e \t\nx"), some("/bin/sh", Some("-e")));
        assert_eq!(
            parse(b"#!/usr/bin/env  python3 -u\n"),
            some("/usr/bin/env", Some("python3 -u"))
        );
        assert_eq!(parse(b"#!/proc/self/exe"), some("/proc/self/exe", None));
        assert_eq!(parse(b"#!\t\n"), None);
        // The kernel too takes an empty name here, and fails to open it (ENOENT).
        assert_eq!(parse(b"#!"), some("", None));
        assert_eq!(parse(b"\x7fELF\x02\x01"), None);
        assert_eq!(parse(b"#/bin/sh\n"), None);
    }

    #[test]
    fn a_name_cut_off_by_the_buffer_is_no_script() {
        let mut long = b"#!/".to_vec();
        long.extend(std::iter::repeat_n(b'a', 300));
        assert_eq!(parse(&long), None);
        let mut with_arg = b"#!/bin/sh ".to_vec();
        with_arg.extend(std::iter::repeat_n(b'b', 300));
        let (name, arg) = parse(&with_arg).unwrap();
        assert_eq!(name, "/bin/sh");
        assert_eq!(arg.unwrap().len(), HEADER - 1 - 10);
    }
}
