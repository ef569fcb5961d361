//! process.terminal with --console-socket: the pty master arrives over SCM_RIGHTS, as runc
//! sends it, and the process has the pty as its controlling terminal.

use berth_tests::*;
use serde_json::json;

#[test]
fn the_pty_master_arrives_on_the_console_socket() {
    let mut b = Bundle::new("con-pty");
    b.config["process"]["terminal"] = json!(true);
    b.config["process"]["consoleSize"] = json!({"height": 30, "width": 100});
    b.sh("tty; stty size; read line; echo got:$line");
    let seen = run_in_terminal(&b, "hello\n", "got:hello").unwrap();
    assert!(seen.contains("/dev/pts/0"), "{seen:?}");
    assert!(seen.contains("30 100"), "consoleSize: {seen:?}");
    assert!(seen.contains("got:hello"), "{seen:?}");
}

#[test]
fn dev_console_is_the_containers_pty() {
    // runtime-spec: with a terminal, the pty is bound onto /dev/console. Both lines print the
    // device numbers and inode, so they are equal only for the very same pty.
    let mut b = Bundle::new("con-devconsole");
    b.config["process"]["terminal"] = json!(true);
    b.config["root"]["readonly"] = json!(true);
    b.sh("stat -c '%t:%T %i' /dev/console $(tty); echo END");
    let seen = run_in_terminal(&b, "", "END").unwrap();
    let lines: Vec<&str> = seen.lines().map(str::trim).collect();
    assert!(lines.len() >= 3 && lines[0] == lines[1], "{seen:?}");
    assert!(
        lines[0].starts_with("88:"),
        "a pty of devpts (major 136 = 0x88): {seen:?}"
    );
}

#[test]
fn a_terminal_without_a_console_socket_is_refused_for_create() {
    let mut b = Bundle::new("con-none");
    b.config["process"]["terminal"] = json!(true);
    refused(&b, &["process.terminal", "console"]);
}
