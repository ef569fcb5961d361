//! The shim's one output thread. A container never holds a host file for its stdout or
//! stderr: it writes into a pipe the shim made, and this thread moves what arrives to where
//! containerd wants it (a FIFO, a file). Handing over the host's fd would let the container
//! reopen it through /proc/self/fd: truncate the log, change its mode, read it back.
//!
//! One epoll thread serves every stream of the shim, so a process costs no thread of its own.
//! Into a FIFO the bytes are spliced (no copy through user space); a file opened for appending
//! cannot be spliced into, so it is read and written. Each stream's ends sit behind a lock
//! that the thread holds while bytes are in flight, which lets `Stream::quiet` say exactly
//! whether anything is still on its way.

use std::collections::HashMap;
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// The thread only moves bytes: a small stack is plenty.
const STACK: usize = 64 * 1024;
/// Bytes moved for one stream before the thread turns to the others.
const TURN: usize = 1 << 20;

/// Where a stream's bytes go.
pub enum Dst {
    /// A FIFO (or any pipe): spliced into, never blocking the thread.
    Pipe(File),
    /// A regular file: written (appending, if it was opened so).
    File(File),
    /// Nobody wants them: read and dropped, so the writer never blocks.
    Discard,
}

/// One pipe's output on its way. Dropping it does not stop the copy: that ends when the
/// last writer of the pipe is gone and everything in it has been moved.
pub struct Stream {
    key: u64,
    ends: Mutex<Ends>,
}

struct Ends {
    /// Our read end of the process's pipe; None once it reported end-of-file.
    src: Option<File>,
    dst: Dst,
    /// Whether `dst` is in the epoll set (it is added only when it first filled up).
    dst_watched: bool,
}

impl Stream {
    /// Whether nothing is left to move: the pipe is empty (or closed) and no bytes are in
    /// flight. Never waits: a stream being copied right now is not quiet.
    pub fn quiet(&self) -> bool {
        match self.ends.try_lock() {
            Ok(e) => e.src.as_ref().is_none_or(|s| unread(s.as_raw_fd()) == 0),
            Err(_) => false,
        }
    }
}

/// Starts moving what arrives on `src` (a pipe's read end) to `dst`.
pub fn start(src: File, dst: Dst) -> std::io::Result<Arc<Stream>> {
    let pump = pump()?;
    set_nonblocking(src.as_raw_fd())?;
    let key = pump.next.fetch_add(1, Ordering::Relaxed);
    let fd = src.as_raw_fd();
    let stream = Arc::new(Stream {
        key,
        ends: Mutex::new(Ends {
            src: Some(src),
            dst,
            dst_watched: false,
        }),
    });
    lock(&pump.streams).insert(key, stream.clone());
    if let Err(e) = pump.ctl(
        libc::EPOLL_CTL_ADD,
        fd,
        libc::EPOLLIN,
        token(key, Side::Src),
    ) {
        lock(&pump.streams).remove(&key);
        return Err(e);
    }
    Ok(stream)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Src,
    Dst,
}

fn token(key: u64, side: Side) -> u64 {
    (key << 1) | (side == Side::Dst) as u64
}

struct Pump {
    epoll: OwnedFd,
    streams: Mutex<HashMap<u64, Arc<Stream>>>,
    next: AtomicU64,
}

/// The shim's pump, started on first use. A failure to start is kept and given to every
/// caller: the stdio of that process cannot be set up, and its create says so.
fn pump() -> std::io::Result<&'static Pump> {
    static PUMP: OnceLock<Result<&'static Pump, String>> = OnceLock::new();
    PUMP.get_or_init(|| spawn().map_err(|e| format!("starting the output thread: {e}")))
        .as_ref()
        .map(|p| *p)
        .map_err(|e| std::io::Error::other(e.clone()))
}

fn spawn() -> std::io::Result<&'static Pump> {
    // SAFETY: epoll_create1 returns a new fd or -1.
    let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let pump: &'static Pump = Box::leak(Box::new(Pump {
        // SAFETY: fd is new and ours.
        epoll: unsafe { OwnedFd::from_raw_fd(fd) },
        streams: Mutex::default(),
        next: AtomicU64::new(0),
    }));
    // Allocated here, not in the thread: glibc would give a thread that mallocs an arena.
    let buf = vec![0u8; 32 * 1024];
    std::thread::Builder::new()
        .name("output".into())
        .stack_size(STACK)
        .spawn(move || pump.run(buf))?;
    Ok(pump)
}

impl Pump {
    fn run(&self, mut buf: Vec<u8>) {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 32];
        loop {
            // SAFETY: the kernel fills at most events.len() entries of the array.
            let n =
                unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), events.as_mut_ptr(), 32, -1) };
            for ev in events.iter().take(n.max(0) as usize) {
                let key = ev.u64 >> 1;
                let stream = lock(&self.streams).get(&key).cloned();
                if let Some(s) = stream {
                    self.serve(&s, &mut buf);
                }
            }
        }
    }

    /// Moves what the stream has, then waits again for whichever side holds it up.
    fn serve(&self, s: &Stream, buf: &mut [u8]) {
        let mut e = lock(&s.ends);
        let Some(src) = e.src.as_ref().map(|f| f.as_raw_fd()) else {
            return;
        };
        match e.move_some(buf) {
            Next::Input => self.arm(src, libc::EPOLLIN, token(s.key, Side::Src)),
            Next::Output(dst) => {
                let op = if e.dst_watched {
                    libc::EPOLL_CTL_MOD
                } else {
                    libc::EPOLL_CTL_ADD
                };
                e.dst_watched = true;
                if let Err(err) = self.ctl(op, dst, libc::EPOLLOUT, token(s.key, Side::Dst)) {
                    log::warn!("output stream {}: watching its FIFO: {err}", s.key);
                    e.dst = Dst::Discard;
                    self.arm(src, libc::EPOLLIN, token(s.key, Side::Src));
                }
            }
            Next::End => {
                // Closing the fds takes them out of the epoll set.
                e.src = None;
                e.dst = Dst::Discard;
                lock(&self.streams).remove(&s.key);
            }
        }
    }

    /// Re-arms a one-shot watch. It cannot fail for an fd in the set; if it did, the
    /// stream would stall, so say so.
    fn arm(&self, fd: RawFd, events: i32, token: u64) {
        if let Err(e) = self.ctl(libc::EPOLL_CTL_MOD, fd, events, token) {
            log::warn!("output stream {}: re-arming: {e}", token >> 1);
        }
    }

    /// One-shot watches: a stream is served by one event at a time, and a side nobody waits
    /// on reports nothing (not even a FIFO's hang-up, which would spin).
    fn ctl(&self, op: i32, fd: RawFd, events: i32, token: u64) -> std::io::Result<()> {
        let mut ev = libc::epoll_event {
            events: (events | libc::EPOLLONESHOT) as u32,
            u64: token,
        };
        // SAFETY: epoll_ctl reads one epoll_event from the pointer.
        match unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut ev) } {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        }
    }
}

/// What a stream waits for next.
enum Next {
    Input,
    /// The FIFO (this fd) is full.
    Output(RawFd),
    End,
}

impl Ends {
    fn move_some(&mut self, buf: &mut [u8]) -> Next {
        let mut moved = 0;
        while moved < TURN {
            match self.move_once(buf) {
                Ok(0) => return Next::End,
                Ok(n) => moved += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return self.blocked(),
                Err(e) => {
                    log::warn!("output: dropping what follows, the destination failed: {e}");
                    self.dst = Dst::Discard;
                }
            }
        }
        Next::Input
    }

    /// One splice, or one read and its write. Errors of the destination come back as
    /// errors; end-of-file and errors of our own pipe end the stream (Ok(0)).
    fn move_once(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some(src) = self.src.as_mut() else {
            return Ok(0);
        };
        let read = |src: &mut File, buf: &mut [u8]| match src.read(buf) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => Err(e),
            Err(e) if e.kind() == ErrorKind::Interrupted => Err(e),
            other => Ok(other.unwrap_or(0)),
        };
        match &mut self.dst {
            Dst::Pipe(dst) => splice(src.as_raw_fd(), dst.as_raw_fd()),
            Dst::File(dst) => {
                let n = read(src, buf)?;
                dst.write_all(&buf[..n]).map(|_| n)
            }
            Dst::Discard => read(src, buf),
        }
    }

    /// A splice would block: on an empty pipe (wait for input) or a full FIFO (for output).
    fn blocked(&self) -> Next {
        match (&self.src, &self.dst) {
            (Some(src), Dst::Pipe(dst)) if unread(src.as_raw_fd()) > 0 => {
                Next::Output(dst.as_raw_fd())
            }
            _ => Next::Input,
        }
    }
}

fn splice(from: RawFd, to: RawFd) -> std::io::Result<usize> {
    let flags = libc::SPLICE_F_NONBLOCK | libc::SPLICE_F_MOVE;
    // SAFETY: splice between two fds we hold, no offsets.
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            TURN,
            flags,
        )
    };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Bytes in a pipe or FIFO that nobody has read yet.
pub fn unread(fd: RawFd) -> i32 {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD stores one int through the pointer.
    match unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) } {
        0 => n,
        _ => 0,
    }
}

fn set_nonblocking(fd: RawFd) -> std::io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL on an fd we hold.
    let ok = unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        fl >= 0 && libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK) == 0
    };
    match ok {
        true => Ok(()),
        false => Err(std::io::Error::last_os_error()),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn pipe() -> (File, File) {
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills two fds we then own.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: both fds are new and ours.
        unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) }
    }

    fn until(what: &str, f: impl Fn() -> bool) {
        let end = Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(Instant::now() < end, "never: {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Far more than a pipe and a FIFO hold, read slowly: the stream waits on its full
    /// destination and goes on, and every byte arrives in order, then end-of-file.
    #[test]
    fn a_slow_reader_gets_every_byte_in_order() {
        let (src_r, mut src_w) = pipe();
        let (mut dst_r, dst_w) = pipe();
        let _stream = start(src_r, Dst::Pipe(dst_w)).unwrap();
        let data: Vec<u8> = (0..4 << 20).map(|i: u32| (i * 7 % 251) as u8).collect();
        let sent = data.clone();
        let writer = std::thread::spawn(move || src_w.write_all(&sent).unwrap());
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = dst_r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            if got.len() % (256 << 10) < 4096 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        writer.join().unwrap();
        assert_eq!(got.len(), data.len());
        assert!(got == data, "bytes out of order");
    }

    /// Into a file opened for appending (which splice refuses), and into nothing: the stream
    /// is quiet once all is moved, and not while bytes wait in the pipe.
    #[test]
    fn files_are_appended_to_and_discarded_output_never_blocks() {
        let path = std::env::temp_dir().join(format!("berth-pump-{}", std::process::id()));
        std::fs::write(&path, b"before\n").unwrap();
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let (src_r, mut src_w) = pipe();
        let stream = start(src_r, Dst::File(file)).unwrap();
        src_w.write_all(b"after\n").unwrap();
        until("the file has it", || {
            std::fs::read(&path).unwrap() == b"before\nafter\n" && stream.quiet()
        });
        drop(src_w);
        let _ = std::fs::remove_file(&path);

        let (src_r, mut src_w) = pipe();
        let stream = start(src_r, Dst::Discard).unwrap();
        // Eight pipes' worth: a writer nobody read from would block.
        for _ in 0..8 {
            src_w.write_all(&[b'x'; 64 << 10]).unwrap();
        }
        until("the discarded bytes are gone", || stream.quiet());
    }
}
