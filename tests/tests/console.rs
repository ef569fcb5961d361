//! process.terminal with --console-socket: the pty master arrives over SCM_RIGHTS, as runc
//! sends it, and the process has the pty as its controlling terminal.

use berth_tests::*;
use serde_json::json;
use std::io::{Read, Write};
use std::os::unix::net::UnixListener;

#[test]
fn the_pty_master_arrives_on_the_console_socket() {
    let mut b = Bundle::new("con-pty");
    b.config["process"]["terminal"] = json!(true);
    b.config["process"]["consoleSize"] = json!({"height": 30, "width": 100});
    b.sh("tty; stty size; read line; echo got:$line");
    b.write();
    let sock_path = b.dir.join("console.sock");
    let listener = UnixListener::bind(&sock_path).unwrap();
    let sock = sock_path.to_str().unwrap().to_string();
    let create = std::thread::spawn({
        let bundle = b.bundle_arg();
        let id = b.id().to_string();
        move || {
            berth(&[
                "create",
                "--bundle",
                &bundle,
                "--console-socket",
                &sock,
                &id,
            ])
        }
    });
    let (conn, _) = listener.accept().unwrap();
    let (_name, mut master) = recv_fd(&conn);
    ok(create.join().unwrap());
    ok(berth(&["start", b.id()]));
    master.write_all(b"hello\n").unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 1024];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !seen.contains("got:hello") && std::time::Instant::now() < deadline {
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    assert!(seen.contains("/dev/pts/0"), "{seen:?}");
    assert!(seen.contains("30 100"), "consoleSize: {seen:?}");
    assert!(seen.contains("got:hello"), "{seen:?}");
}

#[test]
fn a_terminal_without_a_console_socket_is_refused_for_create() {
    let mut b = Bundle::new("con-none");
    b.config["process"]["terminal"] = json!(true);
    refused(&b, &["process.terminal", "console"]);
}
