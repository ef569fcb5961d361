//! Simulated hosts for the network tests: each is a network namespace of the test's own in
//! which berth runs (its bridges, veths, nftables table and forwarding switch live there and
//! vanish with it), with a state root of its own. Traffic only ever flows between such
//! namespaces. Interfaces and addresses of the world around them are set up with iproute2;
//! berth itself never calls it.

use crate::{run_to_files, runtime, BASE};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// A network namespace, `/run/netns/<name>`, deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(name: &str) -> Netns {
        let _ = ip(&["netns", "del", name]);
        ip_ok(&["netns", "add", name]);
        ip_ok(&["-n", name, "link", "set", "lo", "up"]);
        Netns {
            name: name.to_string(),
        }
    }

    pub fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }

    /// Runs `f` on a thread that has entered this namespace.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = self.path();
        std::thread::scope(|s| {
            s.spawn(move || {
                let ns = std::fs::File::open(&path).unwrap();
                let r = unsafe {
                    libc::setns(std::os::fd::AsRawFd::as_raw_fd(&ns), libc::CLONE_NEWNET)
                };
                assert_eq!(r, 0, "setns {path}: {}", std::io::Error::last_os_error());
                f()
            })
            .join()
            .unwrap()
        })
    }

    /// `ip -n NAME ARGS…`, asserting success.
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        ip_ok(&all);
    }

    /// What `ip -n NAME ARGS…` prints.
    pub fn ip_out(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", &self.name];
        all.extend_from_slice(args);
        String::from_utf8_lossy(&ip(&all).stdout).to_string()
    }

    /// What `nft list …` prints in this namespace ("" if it fails).
    pub fn nft(&self, args: &[&str]) -> String {
        let out = Command::new("nsenter")
            .arg(format!("--net={}", self.path()))
            .arg("nft")
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// A simulated host: a namespace where berth runs with a state root of its own.
pub struct Host {
    pub ns: Netns,
    pub root: PathBuf,
}

impl Host {
    pub fn new(name: &str) -> Host {
        let root = PathBuf::from(BASE).join(format!("netroot-{name}"));
        let _ = std::fs::remove_dir_all(&root);
        Host {
            ns: Netns::new(name),
            root,
        }
    }

    /// `berth --root ROOT ARGS…` inside the host's namespace.
    pub fn berth(&self, args: &[&str]) -> Output {
        run_to_files(self.command(args))
    }

    /// The same, left running with its output dropped (for a test that kills it).
    pub fn spawn_berth(&self, args: &[&str], env: &[(&str, &str)]) -> Child {
        let mut c = self.command(args);
        c.envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c.spawn().expect("running nsenter")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", self.ns.path()))
            .arg(runtime())
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null());
        c
    }

    /// The addresses held on network `name`, from `network inspect`.
    pub fn leases(&self, name: &str) -> serde_json::Value {
        let out = self.berth(&["network", "inspect", name]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v["containers"].clone()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // Containers first (their veths and cgroups), then the namespace takes the rest.
        let ids = self.berth(&["list", "--quiet"]);
        for id in String::from_utf8_lossy(&ids.stdout).lines() {
            let _ = self.berth(&["delete", "--force", id]);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A veth pair between two namespaces with an address on each end.
pub fn wire(a: &Netns, a_if: &str, a_addr: &str, b: &Netns, b_if: &str, b_addr: &str) {
    a.ip(&[
        "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", &b.name,
    ]);
    a.ip(&["addr", "add", a_addr, "dev", a_if]);
    a.ip(&["link", "set", a_if, "up"]);
    b.ip(&["addr", "add", b_addr, "dev", b_if]);
    b.ip(&["link", "set", b_if, "up"]);
}

/// Serves one HTTP-ish exchange on `addr` inside `ns`, on a thread: answers with a line and
/// returns the address the client came from.
pub fn serve_once(ns: &Netns, addr: &str) -> std::thread::JoinHandle<Option<SocketAddr>> {
    let path = ns.path();
    let addr = addr.to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        let f = std::fs::File::open(&path).unwrap();
        let r = unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&f), libc::CLONE_NEWNET) };
        assert_eq!(r, 0);
        let l = TcpListener::bind(&addr).unwrap();
        tx.send(()).unwrap();
        l.set_nonblocking(false).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        l.set_nonblocking(true).unwrap();
        while std::time::Instant::now() < deadline {
            match l.accept() {
                Ok((mut s, peer)) => {
                    use std::io::{Read, Write};
                    s.set_nonblocking(false).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    let mut buf = [0u8; 1024];
                    let _ = s.read(&mut buf);
                    let body = "hello from outside\n";
                    let _ = write!(
                        s,
                        "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    return Some(peer);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        None
    });
    rx.recv_timeout(Duration::from_secs(5)).unwrap();
    h
}

/// An HTTP GET of `/` at `addr` from inside `ns`; the body, or the error. A refused
/// connection is tried again for up to `patience` (a server just started may not listen yet).
pub fn get_within(ns: &Netns, addr: &str, patience: Duration) -> Result<String, String> {
    let addr: SocketAddr = addr.parse().unwrap();
    ns.run(move || {
        use std::io::{Read, Write};
        let deadline = std::time::Instant::now() + patience;
        let mut s = loop {
            match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
                Ok(s) => break s,
                Err(e) if std::time::Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(format!("connect {addr}: {e}")),
            }
        };
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(s, "GET / HTTP/1.0\r\n\r\n").map_err(|e| e.to_string())?;
        let mut text = String::new();
        s.read_to_string(&mut text).map_err(|e| e.to_string())?;
        Ok(text.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
    })
}

/// `get_within` with five seconds of patience.
pub fn get(ns: &Netns, addr: &str) -> Result<String, String> {
    get_within(ns, addr, Duration::from_secs(5))
}

fn ip(args: &[&str]) -> Output {
    Command::new("ip").args(args).output().expect("running ip")
}

fn ip_ok(args: &[&str]) {
    let out = ip(args);
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}
