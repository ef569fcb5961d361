//! A container registry of the test's own: Debian's docker-registry serving one directory
//! on a free port of 127.0.0.1, with a config written here (no auth, no host config read).
//! Drop stops it and removes its storage.

use super::BASE;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Registry {
    pub dir: PathBuf,
    /// `127.0.0.1:PORT`, the prefix of image names in this registry.
    pub host: String,
    daemon: Child,
}

impl Registry {
    pub fn start(name: &str) -> Registry {
        let dir = PathBuf::from(BASE).join(format!("registry-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // The kernel picks a free port; the registry binds it right after (a port taken in
        // between makes the start fail loudly below, never a test talk to someone else).
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let host = format!("127.0.0.1:{port}");
        let config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: {host}\n",
            dir.join("data").display()
        );
        std::fs::write(dir.join("config.yml"), config).unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        let daemon = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("docker-registry is not installed: scripts/setup.sh installs it");
        let r = Registry { dir, host, daemon };
        let end = Instant::now() + Duration::from_secs(20);
        while !r.answers() {
            assert!(
                Instant::now() < end,
                "the registry did not come up: see {}/registry.log",
                r.dir.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        r
    }

    /// GET /v2/ answers 200: the registry is serving.
    fn answers(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(&self.host) else {
            return false;
        };
        let req = format!("GET /v2/ HTTP/1.0\r\nHost: {}\r\n\r\n", self.host);
        let mut resp = String::new();
        s.write_all(req.as_bytes()).is_ok()
            && s.read_to_string(&mut resp).is_ok()
            && resp.starts_with("HTTP/1.0 200")
    }

    /// The repositories the registry holds.
    pub fn repositories(&self) -> Vec<String> {
        let dir = self.dir.join("data/docker/registry/v2/repositories");
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
