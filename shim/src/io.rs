//! A process's stdio as containerd names it: FIFO paths (what `ctr` gives), `binary://` (a
//! logging program fed through pipes), `file://` (a file appended to), or nothing
//! (/dev/null). Without a terminal, every fd the process gets is a pipe the shim made, never
//! a host file: the shim's output thread (`pump`) moves stdout and stderr on, and stdin is
//! fed by a thread of its own, so `CloseIO` can end it. The shim holds a read end of each
//! output FIFO that it never reads from: it keeps the FIFO alive whether or not containerd
//! has opened its side yet, and it tells (FIONREAD) when containerd has taken everything,
//! which is when an exit may be reported (see `Io::drain`). A terminal needs copies both
//! ways.

use crate::pump::{self, Dst, Stream};
use berth_core::ConsoleSocket;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio as Std};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Copy threads only move bytes: a small stack is plenty.
const COPY_STACK: usize = 64 * 1024;

#[derive(Clone, Debug, Default)]
pub struct Stdio {
    pub stdin: String,
    pub stdout: String,
    pub stderr: String,
    pub terminal: bool,
}

/// What stays with a process after it started: its stdin writer, its pty, its copiers.
#[derive(Default)]
pub struct Io {
    stdin: Arc<Mutex<Option<File>>>,
    console: Option<File>,
    output: Vec<JoinHandle<()>>,
    /// The process's stdout and stderr on their way (no terminal).
    streams: Vec<Arc<Stream>>,
    /// Our idle read ends of the output FIFOs.
    fifos: Vec<File>,
}

/// With a terminal, what is left to do once the process exists: the pty master arrives on
/// our end of the console socket and is connected to the FIFOs.
pub struct Pending {
    io: Io,
    console: Option<UnixStream>,
    stdio: Stdio,
}

impl Pending {
    pub fn finish(self) -> std::io::Result<Io> {
        let mut io = self.io;
        if let Some(sock) = &self.console {
            io.attach_console(recv_master(sock)?, &self.stdio)?;
        }
        Ok(io)
    }
}

/// The pty master berth-core sent on the console socket.
fn recv_master(sock: &UnixStream) -> std::io::Result<File> {
    let mut buf = [0u8; 256];
    match berth_core::sys::socket::recv_fd(sock.as_raw_fd(), &mut buf) {
        Ok((_, Some(fd))) => Ok(File::from(fd)),
        Ok((_, None)) => Err(std::io::Error::other(
            "no terminal came back from the container",
        )),
        Err(e) => Err(std::io::Error::other(format!(
            "receiving the terminal: {e}"
        ))),
    }
}

type Fds = Option<[OwnedFd; 3]>;

/// Stdio made ready before the process exists: its own stdin, stdout and stderr (no
/// terminal), or the console socket end berth-core sends the pty on.
pub fn prepare(
    s: &Stdio,
    id: &str,
    ns: &str,
) -> std::io::Result<(Fds, Option<ConsoleSocket>, Pending)> {
    let mut io = Io::default();
    if s.terminal {
        let (ours, theirs) = UnixStream::pair()?;
        let pending = Pending {
            io,
            console: Some(ours),
            stdio: s.clone(),
        };
        return Ok((None, Some(ConsoleSocket::Fd(theirs.into())), pending));
    }
    let stdin = match s.stdin.as_str() {
        // A pipe nobody writes to reads as end-of-file, as /dev/null would.
        "" => pipe()?.0.into(),
        path => io.feed_stdin(path)?,
    };
    let (stdout, stderr) = if let Some(url) = s.stdout.strip_prefix("binary://") {
        io.logger(url, id, ns)?
    } else if let Some(path) = s.stdout.strip_prefix("file://") {
        io.log_file(path)?
    } else {
        (io.output(&s.stdout)?, io.output(&s.stderr)?)
    };
    let pending = Pending {
        io,
        console: None,
        stdio: s.clone(),
    };
    Ok((Some([stdin, stdout, stderr]), None, pending))
}

impl Io {
    /// With a terminal, once the pty master has come back: copy it to stdout, stdin to it.
    fn attach_console(&mut self, master: File, s: &Stdio) -> std::io::Result<()> {
        if !s.stdout.is_empty() {
            let mut out = File::from(self.output(&s.stdout)?);
            let mut from = master.try_clone()?;
            self.output.push(spawn_copy(move || {
                // EIO once the last process holding the pty's other side is gone.
                let _ = copy(&mut from, &mut out);
            })?);
        }
        if !s.stdin.is_empty() {
            let path = s.stdin.clone();
            let mut to = master.try_clone()?;
            spawn_copy(move || {
                if let Ok(mut f) = File::open(&path) {
                    let _ = copy(&mut f, &mut to);
                }
            })?;
        }
        self.console = Some(master);
        Ok(())
    }

    pub fn resize(&self, width: u32, height: u32) -> std::io::Result<()> {
        let Some(c) = &self.console else {
            return Err(std::io::Error::other("the process has no terminal"));
        };
        let ws = libc::winsize {
            ws_row: height as u16,
            ws_col: width as u16,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize from the pointer.
        match unsafe { libc::ioctl(c.as_raw_fd(), libc::TIOCSWINSZ, &ws) } {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        }
    }

    /// `CloseIO`: the process reads end-of-file on stdin.
    pub fn close_stdin(&self) {
        if let Ok(mut w) = self.stdin.lock() {
            w.take();
        }
    }

    /// What to wait for before the process's exit is reported; see `Drain`.
    pub fn drain(&mut self) -> Drain {
        Drain {
            copiers: std::mem::take(&mut self.output),
            streams: self.streams.clone(),
            fifos: self
                .fifos
                .iter()
                .filter_map(|f| f.try_clone().ok())
                .collect(),
        }
    }

    /// stdin through a pipe: the FIFO is opened (blocking until its writer comes) and copied
    /// in a thread; `close_stdin` drops the pipe's writer.
    fn feed_stdin(&mut self, path: &str) -> std::io::Result<OwnedFd> {
        let (r, w) = pipe()?;
        *self
            .stdin
            .lock()
            .map_err(|_| std::io::Error::other("stdin lock"))? = Some(w);
        let writer = self.stdin.clone();
        let path = path.to_string();
        spawn_copy(move || {
            let Ok(mut fifo) = File::open(&path) else {
                return;
            };
            let mut buf = [0u8; 8192];
            while let Ok(n) = fifo.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let Ok(mut guard) = writer.lock() else { break };
                let written = guard.as_mut().map(|w| w.write_all(&buf[..n]));
                if !matches!(written, Some(Ok(()))) {
                    break;
                }
            }
            if let Ok(mut w) = writer.lock() {
                w.take();
            }
        })?;
        Ok(r.into())
    }

    /// `binary://PATH?k=v`: containerd's logging-driver protocol. The program gets the
    /// container's stdout and stderr as fds 3 and 4, closes fd 5 when it is ready, and learns
    /// whose logs these are from CONTAINER_ID and CONTAINER_NAMESPACE.
    fn logger(&mut self, url: &str, id: &str, ns: &str) -> std::io::Result<(OwnedFd, OwnedFd)> {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let mut args = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            args.push(k.to_string());
            if !v.is_empty() {
                args.push(v.to_string());
            }
        }
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let (ready_r, ready_w) = pipe()?;
        let extra = [out_r.as_raw_fd(), err_r.as_raw_fd(), ready_w.as_raw_fd()];
        let mut cmd = Command::new(path);
        cmd.args(&args)
            .env("CONTAINER_ID", id)
            .env("CONTAINER_NAMESPACE", ns)
            .stdin(Std::null())
            .stdout(Std::null())
            .stderr(Std::null());
        // SAFETY: only dup2 between fork and exec, which is async-signal-safe.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                for (i, fd) in extra.iter().enumerate() {
                    if libc::dup2(*fd, 3 + i as RawFd) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        cmd.spawn()?;
        drop((out_r, err_r, ready_w));
        // The logger is ready when it closes its end (or exits).
        let mut ready = ready_r;
        let _ = ready.read(&mut [0u8; 1]);
        Ok((out_w.into(), err_w.into()))
    }
}

/// What a process wrote that has not reached containerd yet: output copiers still running,
/// FIFOs containerd has not read empty. An exit is reported only once it is gone (or after
/// a bound): `ctr` stops waiting for a FIFO it has not finished opening as soon as it hears
/// of the exit, and the output in it would be lost.
pub struct Drain {
    copiers: Vec<JoinHandle<()>>,
    streams: Vec<Arc<Stream>>,
    fifos: Vec<File>,
}

impl Drain {
    /// The streams are asked before the FIFOs: once a stream is quiet, all it had is in its
    /// FIFO, and an empty FIFO after that means containerd has it.
    pub fn done(&self) -> bool {
        self.copiers.iter().all(|h| h.is_finished())
            && self.streams.iter().all(|s| s.quiet())
            && self.fifos.iter().all(|f| pump::unread(f.as_raw_fd()) == 0)
    }

    /// Waits until `done`, or until `within` has passed.
    pub fn wait(self, within: Duration) {
        let end = Instant::now() + within;
        while !self.done() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(1));
        }
        for h in self.copiers.into_iter().filter(|h| h.is_finished()) {
            let _ = h.join();
        }
    }
}

fn spawn_copy(f: impl FnOnce() + Send + 'static) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("io".into())
        .stack_size(COPY_STACK)
        .spawn(f)
}

fn copy(from: &mut File, to: &mut File) -> std::io::Result<()> {
    let mut buf = [0u8; 8192];
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        to.write_all(&buf[..n])?;
    }
}

impl Io {
    /// The write end of a new pipe whose bytes go to `dst`.
    fn stream(&mut self, dst: Dst) -> std::io::Result<OwnedFd> {
        let (r, w) = pipe()?;
        self.streams.push(pump::start(r, dst)?);
        Ok(w.into())
    }

    /// An output FIFO (or a plain file) for the process; nothing wanted goes nowhere. A FIFO
    /// first gets our own read end, so the write open never waits for containerd and what
    /// the process writes stays in the FIFO until containerd reads it, however late it opens.
    fn output(&mut self, path: &str) -> std::io::Result<OwnedFd> {
        if path.is_empty() {
            return self.stream(Dst::Discard);
        }
        let is_fifo = std::fs::metadata(path)
            .map(|m| std::os::unix::fs::FileTypeExt::is_fifo(&m.file_type()))
            .unwrap_or(false);
        if !is_fifo {
            let file = OpenOptions::new().write(true).open(path)?;
            return self.stream(Dst::File(file));
        }
        let ours = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)?;
        self.fifos.push(ours);
        let fifo = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)?;
        self.stream(Dst::Pipe(fifo))
    }

    /// `file://PATH`: stdout and stderr appended to one file, as containerd's runc shim
    /// does, through one pipe so that their order is kept.
    fn log_file(&mut self, path: &str) -> std::io::Result<(OwnedFd, OwnedFd)> {
        if let Some(dir) = std::path::Path::new(path).parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o644)
            .open(path)?;
        let out = self.stream(Dst::File(file))?;
        let err = out.try_clone()?;
        Ok((out, err))
    }
}

fn pipe() -> std::io::Result<(File, File)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two fds we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both fds are new and ours.
    Ok(unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) })
}
