//! Published container escapes, replayed against berth. Each test names its advisory and what
//! a vulnerable runtime did; the README's security section lists them.

use berth_tests::*;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// A new executable file in a test rootfs (the rootfs is hard-linked to a shared template, so
/// files are only ever added, never rewritten).
fn executable(path: &Path, text: &str) {
    let _ = std::fs::remove_file(path);
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The ways an image can make the last exec name /proc/self/exe: as the interpreter of a
/// script, through a symlink, and one script deeper.
fn plant_self_exe(rootfs: &Path) {
    executable(&rootfs.join("bin/evil"), "#!/proc/self/exe\n");
    let _ = std::fs::remove_file(rootfs.join("bin/evil-link"));
    std::os::unix::fs::symlink("/proc/self/exe", rootfs.join("bin/evil-link")).unwrap();
    executable(&rootfs.join("bin/evil-nested"), "#!/bin/evil run\n");
}

/// What a run that was refused for CVE-2019-5736 prints: the refusal, and nothing of the
/// runtime's own command line (the runtime, run inside, would complain about its arguments).
fn assert_refused_5736(out: &std::process::Output) {
    let (o, e) = (stdout(out), stderr(out));
    assert!(!out.status.success(), "ran: {o} {e}");
    assert!(e.contains("CVE-2019-5736"), "{e}");
    assert!(
        !e.contains("Usage") && !o.contains("Usage"),
        "the runtime ran inside: {o} {e}"
    );
}

#[test]
fn cve_2019_5736_the_container_process_cannot_become_the_runtime_binary() {
    // runc < 1.0-rc6: an entrypoint whose `#!` interpreter is /proc/self/exe made the kernel run
    // the host's runc binary as the container process; the container reopened it through
    // /proc/PID/exe and overwrote it once runc exited — root on the host at the next run.
    for (i, prog) in ["/bin/evil", "/bin/evil-link", "/bin/evil-nested"]
        .iter()
        .enumerate()
    {
        let mut b = Bundle::new(&format!("atk-5736-init{i}"));
        plant_self_exe(&b.rootfs());
        b.config["process"]["args"] = json!([prog, "state"]);
        assert_refused_5736(&b.run());
    }
}

#[test]
fn cve_2019_5736_exec_and_hooks_cannot_become_the_runtime_binary() {
    // The same attack through `runc exec` (the admin's `docker exec`), and through a
    // startContainer hook, which runs inside the container.
    let mut b = Bundle::new("atk-5736-exec");
    plant_self_exe(&b.rootfs());
    b.sh("sleep 60");
    b.run_detached();
    for prog in ["/bin/evil", "/bin/evil-link", "/bin/evil-nested"] {
        assert_refused_5736(&berth(&["exec", b.id(), prog, "state"]));
    }
    let mut h = Bundle::new("atk-5736-hook");
    plant_self_exe(&h.rootfs());
    h.sh("echo ran");
    h.config["hooks"] =
        json!({"startContainer": [{"path": "/bin/evil", "args": ["evil", "state"]}]});
    let out = h.run();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("startContainer"), "{}", stderr(&out));
    assert!(!stdout(&out).contains("ran"));
}

#[test]
fn cve_2019_5736_a_program_swapped_during_exec_is_never_the_runtime_binary() {
    // The exec'd process gets runc's name through a path (see process/comm.rs); that path must
    // lead only to the file berth opened and checked. The program asked for is swapped with a
    // link to /proc/self/exe as fast as the kernel allows (from the host, as a process of the
    // container could), while it is exec'd again and again: each exec runs busybox or is
    // refused, and the runtime binary never runs inside (it would print its own help).
    let mut b = Bundle::new("atk-5736-swap");
    b.sh("sleep 60");
    let bin = b.rootfs().join("bin");
    std::os::unix::fs::symlink("busybox", bin.join("sleeper")).unwrap();
    std::os::unix::fs::symlink("/proc/self/exe", bin.join("evil-link")).unwrap();
    give_the_runtime_its_libraries(&b.rootfs());
    b.run_detached();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (mut ran, mut refused) = (0, 0);
    // 60 here; the emulated guest runs the fault tests at a fifth of their size.
    let rounds = count("BERTH_KILL_ROUNDS", 15) * 4;
    std::thread::scope(|s| {
        s.spawn(|| swap_until(&bin.join("sleeper"), &bin.join("evil-link"), &stop));
        for _ in 0..rounds {
            let out = berth(&["exec", b.id(), "/bin/sleeper", "--help"]);
            let (o, e) = (stdout(&out), stderr(&out));
            if e.contains("CVE-2019-5736") {
                refused += 1;
            } else if e.contains("sleeper: applet not found") {
                ran += 1;
            } else {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                panic!("neither busybox nor a refusal: {:?} {o} {e}", out.status);
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    assert_eq!(ran + refused, rounds);
}

/// A dynamically linked runtime (a debug build) could not start inside a busybox rootfs
/// at all, which would hide a runtime that let itself be exec'd there: its loader and
/// libraries are copied in.
fn give_the_runtime_its_libraries(rootfs: &Path) {
    let ldd = std::process::Command::new("ldd")
        .arg(runtime())
        .output()
        .unwrap();
    for lib in String::from_utf8_lossy(&ldd.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
    {
        let to = rootfs.join(lib.trim_start_matches('/'));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(lib, &to).unwrap();
    }
}

#[test]
fn scripts_still_run_with_the_arguments_the_kernel_gives_them() {
    // Berth reads `#!` lines itself; the result must be what execve would have made:
    // interpreter, its one optional argument, the script's path, then args[1..].
    let mut b = Bundle::new("atk-scripts");
    let root = b.rootfs();
    executable(&root.join("bin/show"), "#!/bin/sh -e\necho \"$0|$*\"\n");
    executable(&root.join("bin/outer"), "#!/bin/show  x y \n");
    b.config["process"]["args"] = json!(["show", "a b", "c"]);
    assert_eq!(b.run_ok(), "/bin/show|a b c\n");
    b.config["process"]["args"] = json!(["outer", "z"]);
    assert_eq!(b.run_ok(), "/bin/show|x y /bin/outer z\n");
    b.sh("sleep 60");
    b.run_detached();
    let out = ok(berth(&["exec", b.id(), "/bin/outer", "w"]));
    assert_eq!(out, "/bin/show|x y /bin/outer w\n");
}

#[test]
fn a_profile_that_denies_execveat_still_gets_its_container() {
    // The opened program is exec'd through /proc/self/fd/N when the filter would refuse
    // execveat (a profile written against execve alone), and keeps runc's name that way.
    let mut b = Bundle::new("atk-no-execveat");
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["execveat"], "action": "SCMP_ACT_ERRNO"}]
    });
    b.sh("echo started; cat /proc/$$/comm; true");
    assert_eq!(b.run_ok(), "started\nsh\n");
}

#[test]
fn cve_2022_29162_and_cve_2022_27650_an_exec_gets_no_inheritable_capabilities() {
    // runc < 1.1.2 and crun < 1.4.4 put the bounding set into the inheritable set, so a
    // program with file capabilities (or an ambient-raising one) gained them on exec, past
    // what the spec granted. An exec'd process must start with none (process.rs checks the
    // init).
    let mut b = Bundle::new("atk-inheritable");
    b.sh("sleep 60");
    b.run_detached();
    let exec = ok(berth(&[
        "exec",
        b.id(),
        "grep",
        "-E",
        "CapInh|CapAmb",
        "/proc/self/status",
    ]));
    for line in exec.lines() {
        assert!(line.ends_with("0000000000000000"), "exec: {line}");
    }
    assert_eq!(exec.lines().count(), 2, "{exec}");
}

/// Removes the config's mount at `dest`.
fn drop_mount(b: &mut Bundle, dest: &str) {
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.retain(|m| m["destination"] != dest);
}

fn add_mount(b: &mut Bundle, at: Option<usize>, mount: serde_json::Value) {
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.insert(at.unwrap_or(mounts.len()), mount);
}

fn bind(source: &Path, dest: &str) -> serde_json::Value {
    json!({"destination": dest, "type": "bind", "source": source, "options": ["rbind"]})
}

fn replace_with_symlink(target: &str, link: &Path) {
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(target, link).unwrap();
}

#[test]
fn cve_2025_52565_dev_console_cannot_be_redirected() {
    // runc < 1.2.8: with a terminal, runc bound /dev/pts/N onto /dev/console by path; a container
    // that raced those paths got a procfs file such as /proc/sysrq-trigger bound writable at
    // /dev/console, or the pty bound over a file of its choosing. Berth binds the pty's own fd
    // onto a /dev/console looked up once, inside the root, without following a symlink.
    let mut b = Bundle::new("atk-52565");
    b.config["process"]["terminal"] = json!(true);
    b.sh("stat -c '%t:%T %i' /dev/console $(tty); cat /etc/victim; echo END");
    // The image's own /dev, where an attacker can plant things (no tmpfs of the runtime's).
    drop_mount(&mut b, "/dev");
    let root = b.rootfs();
    std::fs::write(root.join("etc/victim"), "precious\n").unwrap();
    for target in ["/etc/victim", "/proc/sysrq-trigger"] {
        replace_with_symlink(target, &root.join("dev/console"));
        let e = run_in_terminal(&b, "", "END").unwrap_err();
        assert!(e.contains("/dev/console") && e.contains("symlink"), "{e}");
        assert_nothing_left(b.id());
        assert_eq!(
            std::fs::read_to_string(root.join("etc/victim")).unwrap(),
            "precious\n"
        );
    }
    // A plain file there is covered by the pty in the container's view only.
    std::fs::remove_file(root.join("dev/console")).unwrap();
    std::fs::write(root.join("dev/console"), "").unwrap();
    let seen = run_in_terminal(&b, "", "END").unwrap();
    let lines: Vec<&str> = seen.lines().map(str::trim).collect();
    assert!(lines.len() >= 4 && lines[0] == lines[1], "{seen:?}");
    assert_eq!(lines[2], "precious", "{seen:?}");
    assert_eq!(std::fs::read(root.join("dev/console")).unwrap(), b"");
}

#[test]
fn cve_2025_52881_sysctl_writes_cannot_be_redirected() {
    // runc < 1.2.8: runc wrote sysctls (and LSM labels) through paths under /proc that a
    // container could cover with a mount of its choosing, sending the write to another file:
    // /proc/sysrq-trigger, or a host file. Berth starts from the root of a procfs (checked by
    // filesystem and inode) and goes down with no symlink and no mount crossed.
    let mut b = Bundle::new("atk-52881");
    b.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    let fake = b.dir.join("fake-sys");
    std::fs::create_dir_all(fake.join("net/ipv4")).unwrap();
    let fake_file = fake.join("net/ipv4/ip_forward");
    std::fs::write(&fake_file, "untouched\n").unwrap();
    let victim = b.dir.join("victim");
    std::fs::write(&victim, "untouched\n").unwrap();
    let needles = ["linux.sysctl", "net.ipv4.ip_forward", "CVE-2025-52881"];
    // A directory of the attacker's over /proc/sys, then a host file over the file itself.
    for (source, dest) in [
        (&fake, "/proc/sys"),
        (&victim, "/proc/sys/net/ipv4/ip_forward"),
    ] {
        let mut b2 = Bundle::new("atk-52881-over");
        b2.config = b.config.clone();
        add_mount(&mut b2, None, bind(source, dest));
        b2.config["linux"]["cgroupsPath"] = b.config["linux"]["cgroupsPath"].clone();
        refused(&b2, &needles);
        assert_eq!(std::fs::read_to_string(&fake_file).unwrap(), "untouched\n");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched\n");
    }
    // With nothing over it, the container's own sysctl is written.
    b.sh("cat /proc/sys/net/ipv4/ip_forward");
    assert_eq!(b.run_ok(), "1\n");
}

#[test]
fn cve_2025_31133_masking_binds_nothing_but_the_real_dev_null() {
    // runc < 1.2.8: maskedPaths were masked by binding /dev/null by path; a container that had
    // replaced /dev/null with a symlink to /proc/sys/kernel/core_pattern got that file bound,
    // writable, over /proc/kcore and the rest, and a core_pattern of its own is root on the host.
    // Berth binds the fd of a /dev/null it checked to be the 1:3 character device.
    let mut b = Bundle::new("atk-31133");
    // /dev as a bind of the container's own directory: the runtime does not fill it.
    let dev = b.dir.join("dev");
    std::fs::create_dir_all(&dev).unwrap();
    drop_mount(&mut b, "/dev");
    add_mount(&mut b, Some(1), bind(&dev, "/dev"));
    let needles = ["linux.maskedPaths", "/dev/null", "CVE-2025-31133"];
    replace_with_symlink("/proc/sys/kernel/core_pattern", &dev.join("null"));
    refused(&b, &needles);
    std::fs::remove_file(dev.join("null")).unwrap();
    std::fs::write(dev.join("null"), "a file, not a device\n").unwrap();
    refused(&b, &needles);
}

#[test]
fn cve_2023_27561_and_cve_2023_28642_a_volume_cannot_move_proc() {
    // runc 1.0.0-rc95 to 1.1.4 lost the check of CVE-2019-16884: a volume mounted before /proc
    // could put a symlink where procfs was to go, so procfs landed elsewhere and /proc escaped
    // masking and the AppArmor profile (CVE-2023-28642: the same with /proc a symlink in the
    // volume). Berth checks at plan time and again on the mount target it holds.
    let mut b = Bundle::new("atk-27561");
    let vol = b.dir.join("vol");
    std::fs::create_dir_all(vol.join("fakeproc")).unwrap();
    replace_with_symlink("/fakeproc", &vol.join("proc"));
    // The volume covers the image's root before procfs is mounted: the plan sees a real /proc.
    add_mount(&mut b, Some(0), bind(&vol, "/"));
    refused(&b, &["mount of /proc", "symlink", "real directory"]);
    assert_eq!(std::fs::read_dir(vol.join("fakeproc")).unwrap().count(), 0);
}

#[test]
fn cve_2021_30465_a_symlink_swapped_under_a_mount_destination_stays_inside() {
    // runc < 1.0.0-rc95: with a volume shared between containers, one container swapped a
    // directory of the volume for a symlink to "/" while runc mounted into it for the other;
    // runc followed the symlink on the host and mounted outside the rootfs (the advisory's
    // exploit bound the host's / into the container). Berth resolves each destination inside
    // the rootfs and mounts onto the fd it resolved. The swapping here is a host thread doing
    // what the other container did, as fast as it can.
    let mut b = Bundle::new("atk-30465");
    let vol = b.dir.join("vol");
    std::fs::create_dir_all(vol.join("d")).unwrap();
    std::os::unix::fs::symlink("/", vol.join("alt")).unwrap();
    add_mount(&mut b, None, bind(&vol, "/vol"));
    let marker = json!({"destination": "/vol/d/x", "type": "tmpfs", "source": "tmpfs",
        "options": ["size=12k"]});
    add_mount(&mut b, None, marker);
    // createContainer hooks run in the container's mount namespace before pivot_root: they
    // see every mount the runtime made, wherever it landed.
    let seen = b.dir.join("mountinfo");
    let dump = format!("cat /proc/self/mountinfo > {}", seen.display());
    b.config["hooks"] =
        json!({"createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", dump]}]});
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = std::thread::spawn({
        let (stop, vol) = (stop.clone(), vol.clone());
        move || swap_until(&vol.join("d"), &vol.join("alt"), &stop)
    });
    let rootfs = b.rootfs().display().to_string();
    let (mut landed_via_link, mut ok_runs) = (0, 0);
    for _ in 0..40 {
        let _ = std::fs::remove_file(&seen);
        let out = b.run();
        if !out.status.success() {
            // Losing the race may fail the lookup; it must fail cleanly.
            assert!(
                stderr(&out).contains("mount of /vol/d/x"),
                "{}",
                stderr(&out)
            );
            assert_nothing_left(b.id());
            continue;
        }
        ok_runs += 1;
        let info = std::fs::read_to_string(&seen).unwrap();
        let points: Vec<&str> = info
            .lines()
            .filter(|l| l.contains(" - tmpfs ") && l.contains("size=12k"))
            .filter_map(|l| l.split(' ').nth(4))
            .collect();
        assert_eq!(points.len(), 1, "{info}");
        assert!(
            points[0].starts_with(&rootfs),
            "mounted outside: {}",
            points[0]
        );
        if !points[0].contains("/vol/") {
            landed_via_link += 1;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    swapper.join().unwrap();
    assert!(
        ok_runs > 0 && landed_via_link > 0,
        "{ok_runs} runs, {landed_via_link} via the link: the race was not exercised"
    );
}

/// Exchanges two directory entries atomically, over and over, until `stop`.
fn swap_until(a: &Path, b: &Path, stop: &std::sync::atomic::AtomicBool) {
    use std::os::unix::ffi::OsStrExt;
    let a = std::ffi::CString::new(a.as_os_str().as_bytes()).unwrap();
    let b = std::ffi::CString::new(b.as_os_str().as_bytes()).unwrap();
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let r = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                a.as_ptr(),
                libc::AT_FDCWD,
                b.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        assert_eq!(r, 0, "renameat2: {}", std::io::Error::last_os_error());
    }
}

/// The attacker: waits for a pid in /xchg/go, then tries to reach an fd and the binary of
/// that process through /proc and to ptrace it, and does the same to a process of its own as
/// a control. (The names in /proc/PID/fd can be listed by any root; reaching them cannot.)
const PROBE_9962: &str = r#"
sleep 1000 & ctl=$!
while [ ! -s /xchg/go ]; do sleep 0.02; done
try() {
  readlink /proc/$1/fd/0 >/dev/null 2>&1 && echo "$2 fds readable" || echo "$2 fds refused"
  readlink /proc/$1/exe >/dev/null 2>&1 && echo "$2 exe readable" || echo "$2 exe refused"
  probe 64:101:16,$1 | sed "s/^.*=> /$2 ptrace /"
}
{ try $ctl control; try $(cat /xchg/go) runtime; } > /xchg/out.tmp
mv /xchg/out.tmp /xchg/out
kill $ctl
sleep 1000
"#;

#[test]
fn cve_2016_9962_a_joining_runtime_process_cannot_be_ptraced_or_read() {
    // runc < 1.0-rc3: `runc exec` joined the container and took on its credentials while still
    // dumpable, with host fds open and /proc/PID/exe naming the runc binary on the host; a root
    // process in the container could ptrace it or open its fds and exe from /proc. Berth's
    // exec child makes itself non-dumpable before anything else, so ptrace and those /proc
    // entries need CAP_SYS_PTRACE in the host's user namespace. The test holds the child at its
    // last step (the exec, after the container's credentials are taken) with a seccomp agent
    // that keeps the execve waiting, and runs the attack then; a process of the container's
    // own, with the same credentials, is the control that shows the attack would work.
    let mut b = Bundle::new("atk-9962");
    let xchg = b.dir.join("xchg");
    std::fs::create_dir_all(&xchg).unwrap();
    std::fs::create_dir_all(b.rootfs().join("xchg")).unwrap();
    add_mount(&mut b, None, bind(&xchg, "/xchg"));
    let agent = notify::Listener::start(&b.dir.join("agent.sock"));
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": agent.path,
        "syscalls": [{"names": ["execve", "execveat"], "action": "SCMP_ACT_NOTIFY"}]
    });
    b.sh(PROBE_9962);
    b.write();
    let (bundle, id) = (b.bundle_arg(), b.id().to_string());
    let run = std::thread::spawn(move || berth(&["run", "-d", "--bundle", &bundle, &id]));
    // Everything the container itself runs is let through.
    let (_, init_fd) = agent.next();
    std::thread::spawn(move || notify::serve(init_fd, |_| notify::Answer::Continue));
    ok(run.join().unwrap());
    let id = b.id().to_string();
    let exec = std::thread::spawn(move || berth(&["exec", &id, "true"]));
    let (_, exec_fd) = agent.next();
    let held = notify::receive(&exec_fd, 20_000).expect("the exec child never reached execve");
    assert_eq!(held.nr as i64, libc::SYS_execve);
    // Tell the attacker the child's pid as the container sees it.
    let status = std::fs::read_to_string(format!("/proc/{}/status", held.pid)).unwrap();
    let nspid = status.lines().find(|l| l.starts_with("NSpid:")).unwrap();
    let inner = nspid.split_whitespace().last().unwrap();
    std::fs::write(xchg.join("go"), inner).unwrap();
    assert!(
        eventually(10, || xchg.join("out").exists()),
        "the attacker never reported"
    );
    let report = std::fs::read_to_string(xchg.join("out")).unwrap();
    assert_eq!(
        report,
        "control fds readable\ncontrol exe readable\ncontrol ptrace 0\n\
         runtime fds refused\nruntime exe refused\nruntime ptrace errno 1\n",
    );
    // Let the execve fail: the exec ends with an error, the container lives on.
    notify::answer(&exec_fd, &held, notify::Answer::Errno(libc::EPERM));
    let e = err(exec.join().unwrap());
    assert!(e.contains("\"true\"") && e.contains("EPERM"), "{e}");
    assert_eq!(b.status(), "running");
}

/// Sends one UDP datagram as a raw Ethernet frame out of `ifname` in the network namespace
/// at `netns`, as a container process with CAP_NET_RAW can: the kernel's routing of the
/// sender is bypassed, only the receiver's rules decide.
fn send_raw_udp(netns: &str, ifname: &str, dst_mac: [u8; 6], src: [u8; 4], dst: [u8; 4]) {
    let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0];
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let payload = b"reached";
    let udp_len = 8 + payload.len() as u16;
    let total = 20 + udp_len;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    let sum = ip
        .chunks(2)
        .fold(0u32, |s, w| s + u32::from(u16::from_be_bytes([w[0], w[1]])));
    let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let mut frame = dst_mac.to_vec();
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x99, 0x08, 0x00]);
    frame.extend_from_slice(&ip);
    frame.extend_from_slice(&40000u16.to_be_bytes());
    frame.extend_from_slice(&9999u16.to_be_bytes());
    frame.extend_from_slice(&udp_len.to_be_bytes());
    frame.extend_from_slice(&[0, 0]); // no checksum: allowed on IPv4
    frame.extend_from_slice(payload);
    let (netns, ifname) = (netns.to_string(), std::ffi::CString::new(ifname).unwrap());
    std::thread::spawn(move || unsafe {
        let ns = std::fs::File::open(&netns).unwrap();
        assert_eq!(
            libc::setns(std::os::fd::AsRawFd::as_raw_fd(&ns), libc::CLONE_NEWNET),
            0
        );
        let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "{}", std::io::Error::last_os_error());
        let mut addr: libc::sockaddr_ll = std::mem::zeroed();
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_ifindex = libc::if_nametoindex(ifname.as_ptr()) as i32;
        addr.sll_halen = 6;
        addr.sll_addr[..6].copy_from_slice(&dst_mac);
        let sent = libc::sendto(
            fd,
            frame.as_ptr().cast(),
            frame.len(),
            0,
            (&addr as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        );
        assert_eq!(
            sent,
            frame.len() as isize,
            "{}",
            std::io::Error::last_os_error()
        );
        libc::close(fd);
    })
    .join()
    .unwrap();
}

/// Whether `sock` receives the crafted datagram within a second.
fn received(sock: &std::net::UdpSocket) -> bool {
    sock.set_read_timeout(Some(std::time::Duration::from_secs(1)))
        .unwrap();
    let mut buf = [0u8; 64];
    matches!(sock.recv(&mut buf), Ok(n) if &buf[..n] == b"reached")
}

/// The pattern of CVE-2020-8558: a bridge with route_localnet=1 (so that the host reaches
/// published ports on 127.0.0.1) also routes a container's packets for 127.0.0.1 to the
/// host's loopback-only services, unless they are dropped. The same frame sent to the
/// bridge's own address shows that the crafted packet would arrive.
#[test]
fn bridge_cve_2020_8558_a_container_cannot_reach_the_hosts_loopback_services() {
    use berth_tests::net::Host;
    let h = Host::new("bt-localnet");
    let mut b = Bundle::new("atk-localnet");
    b.config["annotations"] = json!({"berth.network": "bridge", "berth.network.ip": "10.77.0.9"});
    b.sh("sleep 60");
    b.write();
    ok(h.berth(&["run", "-d", "--bundle", &b.bundle_arg(), b.id()]));
    let state: serde_json::Value =
        serde_json::from_slice(&h.berth(&["state", b.id()]).stdout).unwrap();
    let netns = format!("/proc/{}/ns/net", state["pid"]);
    let link = h.ns.ip_out(&["-br", "link", "show", "berth0"]);
    let mac: Vec<u8> = link
        .split_whitespace()
        .nth(2)
        .unwrap()
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect();
    let mac: [u8; 6] = mac.try_into().unwrap();
    let (gateway, loopback) = h.ns.run(|| {
        let g = std::net::UdpSocket::bind("10.77.0.1:9999").unwrap();
        let l = std::net::UdpSocket::bind("127.0.0.1:9999").unwrap();
        (g, l)
    });
    send_raw_udp(&netns, "eth0", mac, [10, 77, 0, 9], [10, 77, 0, 1]);
    assert!(
        received(&gateway),
        "the crafted frame does not arrive at all"
    );
    send_raw_udp(&netns, "eth0", mac, [10, 77, 0, 9], [127, 0, 0, 1]);
    assert!(
        !received(&loopback),
        "a container's packet reached a service bound to the host's 127.0.0.1"
    );
    ok(h.berth(&["delete", "--force", b.id()]));
}

/// A container on the default bridge with `annotations`, serving `text` on port 80.
fn bridged_server(name: &str, annotations: serde_json::Value) -> Bundle {
    let mut b = Bundle::new(name);
    b.config["annotations"] = annotations;
    b.sh("exec httpd -f -p 80 -h /www");
    b.write();
    std::fs::create_dir_all(b.rootfs().join("www")).unwrap();
    std::fs::write(b.rootfs().join("www/index.html"), "still here\n").unwrap();
    b
}

/// Host veth names were derived from container ids, so an id could spell another
/// container's name; the failed create's undo then deleted that container's veth by name.
/// Here the second create fails after its veth is made (its port is taken) and must take
/// only what it made.
#[test]
fn bridge_a_failed_create_never_removes_another_containers_interface() {
    use berth_tests::net::{get, Host};
    let h = Host::new("bt-vethname");
    let long_id = "atk-veth-victim-with-an-id-longer-than-an-interface-name";
    let ann = json!({"berth.network": "bridge", "berth.network.ip": "10.77.0.20",
                     "berth.network.ports": "8080:80"});
    let victim = bridged_server(long_id, ann);
    ok(h.berth(&["run", "-d", "--bundle", &victim.bundle_arg(), victim.id()]));
    let links = || h.ns.ip_out(&["-br", "link"]);
    let before = links();
    let theirs = before
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .find(|n| n.starts_with("bv"))
        .unwrap()
        .split('@')
        .next()
        .unwrap()
        .to_string();
    // An id that spells the victim's veth name, and a port only the victim may have.
    let ann = json!({"berth.network": "bridge", "berth.network.ports": "8080:80"});
    let attacker = bridged_server(&theirs[2..], ann);
    let out = h.berth(&[
        "run",
        "-d",
        "--bundle",
        &attacker.bundle_arg(),
        attacker.id(),
    ]);
    assert!(
        !out.status.success(),
        "the second publish of 8080 was taken"
    );
    let after = links();
    assert!(
        after.contains(&theirs),
        "the victim's veth {theirs} is gone: {after}"
    );
    assert_eq!(
        after.lines().filter(|l| l.starts_with("bv")).count(),
        1,
        "the failed create left its veth: {after}"
    );
    assert_eq!(get(&h.ns, "10.77.0.20:80").unwrap(), "still here\n");
    ok(h.berth(&["delete", "--force", victim.id()]));
}

/// A published port that a host service holds was taken over silently: DNAT sent the
/// service's clients (on 127.0.0.1 too) to the container. Such a create is refused, naming
/// the port, and the service keeps its clients. Ports are also bounded: hundreds in one
/// config are refused, and the largest allowed set comes and goes whole.
#[test]
fn bridge_a_published_port_never_takes_a_host_services_traffic() {
    use berth_tests::net::Host;
    let h = Host::new("bt-porttake");
    let service =
        h.ns.run(|| std::net::TcpListener::bind("127.0.0.1:8081").unwrap());
    let ann = json!({"berth.network": "bridge", "berth.network.ports": "8081:80"});
    let thief = bridged_server("atk-port-thief", ann);
    let out = h.berth(&["run", "-d", "--bundle", &thief.bundle_arg(), thief.id()]);
    let e = stderr(&out);
    assert!(!out.status.success(), "published over a host service");
    assert!(e.contains("8081/tcp") && e.contains("in use"), "{e}");
    let client = h.ns.run(|| std::net::TcpStream::connect("127.0.0.1:8081"));
    assert!(client.is_ok(), "the host service lost its port");
    service.set_nonblocking(true).unwrap();
    assert!(service.accept().is_ok(), "the connection went elsewhere");
    let many = |n: u16| {
        (0..n)
            .map(|i| format!("{}:80", 20000 + i))
            .collect::<Vec<_>>()
            .join(",")
    };
    let ann = json!({"berth.network": "bridge", "berth.network.ports": many(257)});
    let greedy = bridged_server("atk-port-greedy", ann);
    let e = err(h.berth(&["run", "-d", "--bundle", &greedy.bundle_arg(), greedy.id()]));
    assert!(e.contains("257 ports") && e.contains("256"), "{e}");
    let ann = json!({"berth.network": "bridge", "berth.network.ports": many(256)});
    let full = bridged_server("atk-port-full", ann);
    ok(h.berth(&["run", "-d", "--bundle", &full.bundle_arg(), full.id()]));
    let listed = h.ns.nft(&["list", "map", "ip", "berth", "ports"]);
    assert_eq!(listed.matches("tcp . ").count(), 256, "{listed}");
    ok(h.berth(&["delete", "--force", full.id()]));
    let listed = h.ns.nft(&["list", "map", "ip", "berth", "ports"]);
    assert!(!listed.contains("tcp . "), "ports left: {listed}");
}

/// Names that reach the store and the kernel: a network named like another's lease file
/// overwrote its leases (so two containers could get one address), and a bridge name the
/// kernel rewrites (`a%d` → `a0`) made a bridge berth could never find again.
#[test]
fn bridge_names_of_networks_and_bridges_cannot_alias_anything() {
    use berth_tests::net::Host;
    let h = Host::new("bt-names");
    ok(h.berth(&["network", "create", "front", "--subnet", "10.46.0.0/24"]));
    let mut b = Bundle::new("atk-names-front");
    b.config["annotations"] = json!({"berth.network": "front"});
    b.sh("sleep 30");
    b.write();
    ok(h.berth(&["run", "-d", "--bundle", &b.bundle_arg(), b.id()]));
    let held = h.leases("front");
    assert_eq!(held.as_object().map(|m| m.len()), Some(1), "{held}");
    ok(h.berth(&[
        "network",
        "create",
        "front.leases",
        "--subnet",
        "10.47.0.0/24",
    ]));
    assert_eq!(h.leases("front"), held, "front's leases were overwritten");
    assert_eq!(h.leases("front.leases"), json!({}));
    let listed = ok(h.berth(&["network", "ls"]));
    assert!(listed.contains("front.leases"), "{listed}");
    for bad in ["a%d", "..", "has space", "sixteen-bytes-xx"] {
        let e = err(h.berth(&[
            "network",
            "create",
            "bad",
            "--subnet",
            "10.48.0.0/24",
            "--bridge",
            bad,
        ]));
        assert!(e.contains("interface name"), "{bad}: {e}");
    }
    // Whole names only: the random veth names are hex and may well contain "a0".
    let links = h.ns.ip_out(&["-br", "link"]);
    let names: Vec<&str> = links
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(!names.iter().any(|n| n.starts_with("a0")), "{links}");
    ok(h.berth(&["delete", "--force", b.id()]));
}

/// `berth.network=host` in an annotation dropped the config's own network namespace, so a
/// user of an engine that passes annotations through could put a container on the host's
/// network. It is refused, and `features` names the annotations for engines to filter.
#[test]
fn an_annotation_cannot_move_a_container_onto_the_hosts_network() {
    let mut b = Bundle::new("atk-ann-host");
    b.config["annotations"] = json!({"berth.network": "host"});
    b.sh("true");
    b.write();
    refused(&b, &["berth.network", "linux.namespaces"]);
    let f: serde_json::Value = serde_json::from_str(&ok(berth(&["features"]))).unwrap();
    let unsafe_ones = &f["potentiallyUnsafeConfigAnnotations"];
    assert_eq!(
        unsafe_ones,
        &json!(["berth.network", "berth.network."]),
        "{f}"
    );
}

/// A static x86_64 program that makes one i386 syscall through `int $0x80` (the kernel
/// takes the 32-bit ABI from a 64-bit process there, and seccomp sees AUDIT_ARCH_I386) and
/// exits with the negated result's low byte: 0 on success, 1 for EPERM. `data` is put at a
/// 32-bit address, and `ecx` points at it when given.
fn int80_probe(eax: u32, ebx: u32, data: Option<&[u32]>) -> Vec<u8> {
    const BASE: u64 = 0x40_0000;
    let mut code = vec![0xb8];
    code.extend_from_slice(&eax.to_le_bytes());
    code.push(0xbb);
    code.extend_from_slice(&ebx.to_le_bytes());
    let code_len = 28u64; // the instructions below
    let data_at = BASE + 120 + code_len;
    let ecx = if data.is_some() { data_at as u32 } else { 0 };
    code.push(0xb9);
    code.extend_from_slice(&ecx.to_le_bytes());
    code.extend_from_slice(&[
        0xcd, 0x80, 0xf7, 0xd8, 0x89, 0xc7, 0xb8, 60, 0, 0, 0, 0x0f, 0x05,
    ]);
    assert_eq!(code.len() as u64, code_len);
    for w in data.unwrap_or(&[]) {
        code.extend_from_slice(&w.to_le_bytes());
    }
    let size = 120 + code.len() as u64;
    let mut elf = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    elf.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    elf.extend_from_slice(&0x3eu16.to_le_bytes()); // x86_64
    elf.extend_from_slice(&1u32.to_le_bytes());
    elf.extend_from_slice(&(BASE + 120).to_le_bytes()); // entry
    elf.extend_from_slice(&64u64.to_le_bytes()); // program headers
    elf.extend_from_slice(&0u64.to_le_bytes());
    elf.extend_from_slice(&0u32.to_le_bytes());
    for v in [64u16, 56, 1, 0, 0, 0] {
        elf.extend_from_slice(&v.to_le_bytes());
    }
    elf.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    elf.extend_from_slice(&5u32.to_le_bytes()); // R+X
    for v in [0, BASE, BASE, size, size, 0x1000] {
        elf.extend_from_slice(&v.to_le_bytes());
    }
    elf.extend_from_slice(&code);
    elf
}

/// A bundle under `profile` (default ALLOW, x86_64 and i386 listed) running `args`.
fn under_profile(name: &str, rules: serde_json::Value, args: &[&str]) -> Bundle {
    let mut b = Bundle::new(name);
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": rules
    });
    b.config["process"]["args"] = json!(args);
    b.write();
    b
}

fn plant_probe(b: &Bundle, name: &str, elf: &[u8]) {
    let path = b.rootfs().join("bin").join(name);
    let _ = std::fs::remove_file(&path);
    std::fs::write(&path, elf).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// On i386 libseccomp compares only the low 32 bits of a rule's value: a rule on -1 (as
/// profiles write negative ints, sign-extended to 64 bits) blocks kill(-1, 0) made through
/// int 0x80, where the kernel passes -1 as 0xffffffff. Comparing the high word let it through.
#[test]
fn seccomp_a_32_bit_call_cannot_slip_past_a_rule_on_a_negative_value() {
    let rule = json!([{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                       "args": [{"index": 0, "value": u64::MAX, "op": "SCMP_CMP_EQ"}]}]);
    let b = under_profile("atk-scmp-i386", rule, &["/bin/probe"]);
    plant_probe(&b, "probe", &int80_probe(37, u32::MAX, None)); // i386 kill(-1, 0)
    assert_eq!(
        b.run().status.code(),
        Some(1),
        "kill(-1, 0) through int 0x80 was not refused"
    );
    // The native call is refused too (the rule itself works).
    let mut native = under_profile("atk-scmp-i386-native", json!([]), &[]);
    native.config = b.config.clone();
    native.sh("kill -0 -1; echo $?");
    assert_eq!(native.run_ok(), "1\n");
}

/// Two conditions on one argument are two rules for libseccomp (and so runc and crun):
/// either one refuses. Requiring both refused nothing.
#[test]
fn seccomp_two_conditions_on_one_argument_each_refuse() {
    let rule = json!([{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                       "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"},
                                {"index": 1, "value": 12, "op": "SCMP_CMP_EQ"}]}]);
    let script = "trap '' USR1 USR2; kill -USR1 $$; echo a=$?; kill -USR2 $$; echo b=$?; \
                  kill -0 $$; echo c=$?";
    let b = under_profile("atk-scmp-repeat", rule, &["sh", "-c", script]);
    assert_eq!(b.run_ok(), "a=1\nb=1\nc=0\n");
}

/// A syscall with a conditional and an unconditional rule takes the unconditional rule's
/// action in libseccomp, whatever their order; the first match let a conditional allow win.
#[test]
fn seccomp_an_unconditional_rule_is_not_undone_by_a_conditional_one() {
    let rules = json!([
        {"names": ["kill"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]},
        {"names": ["kill"], "action": "SCMP_ACT_ERRNO"}
    ]);
    let b = under_profile(
        "atk-scmp-precedence",
        rules,
        &["sh", "-c", "kill -0 $$; echo $?"],
    );
    assert_eq!(b.run_ok(), "1\n");
}

/// On i386 a socket call also arrives through socketcall(2); libseccomp filters it there
/// too. A profile refusing socket() was open through socketcall(SYS_SOCKET).
#[test]
fn seccomp_a_refused_socket_call_stays_refused_through_socketcall() {
    let rules = json!([{"names": ["socket"], "action": "SCMP_ACT_ERRNO"}]);
    let b = under_profile("atk-scmp-socketcall", rules, &["/bin/probe"]);
    // socketcall(SYS_SOCKET, {AF_UNIX, SOCK_STREAM, 0})
    plant_probe(&b, "probe", &int80_probe(102, 1, Some(&[1, 1, 0])));
    let out = b.run();
    assert_eq!(
        out.status.code(),
        Some(1),
        "socket() through socketcall was not refused"
    );
}

/// The containerd lanes an attack test runs: berth's shim, and containerd's runc shim
/// calling the runtime under test (the only lane when that runtime is not berth's).
fn shim_lanes() -> Vec<berth_tests::containerd::Via> {
    use berth_tests::containerd::Via;
    match std::env::var_os("BERTH_RUNTIME") {
        Some(_) => vec![Via::RuncShim],
        None => vec![Via::Shim, Via::RuncShim],
    }
}

/// A shim that hands the host's log file (or FIFO) to the container lets the container open
/// it again through /proc/self/fd: truncate the host's log, change its mode. containerd's runc
/// shim puts a pipe in between; so does berth's shim, and the control lane is the runc shim.
#[test]
fn a_container_cannot_truncate_or_chmod_its_host_log() {
    let c = berth_tests::containerd::Containerd::start("atk-log");
    for via in shim_lanes() {
        let id = format!("{via:?}").to_lowercase();
        let file = c.dir.join(format!("{id}.log"));
        std::fs::write(&file, "host line\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let uri = format!("file://{}", file.display());
        let script = "echo first; : >/proc/self/fd/1; chmod 777 /proc/self/fd/1; echo second";
        let o = c.run(
            via,
            &["--rm", "--log-uri", &uri],
            &id,
            &["sh", "-c", script],
        );
        assert!(o.status.success(), "{via:?}: {}", stderr(&o));
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            text, "host line\nfirst\nsecond\n",
            "{via:?}: the log was rewritten"
        );
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{via:?}: the container changed the log's mode");
    }
}

/// `stat -L` of fds 0-2 as `dev:ino` lines, for comparing with the host's /dev/null.
const STDIO_PROBE: &str = "for n in 0 1 2; do stat -L -c '%d:%i' /proc/self/fd/$n; done";

fn assert_not_host_null(seen: &str, what: &str) {
    use std::os::unix::fs::MetadataExt;
    let null = std::fs::metadata("/dev/null").unwrap();
    let host_null = format!("{}:{}", null.dev(), null.ino());
    assert_eq!(seen.lines().count(), 3, "{what}: {seen}");
    assert!(
        !seen.lines().any(|l| l == host_null),
        "{what} holds the host's /dev/null ({host_null}): {seen}"
    );
}

/// A process with no stdio at all (`ctr run --null-io`; containerd's runc shim then passes the
/// host's /dev/null) held the host's /dev/null, which the container's root could chmod through
/// /proc/self/fd and so break /dev/null for the whole host. berth's shim gives pipes, and the
/// container's init swaps a foreign /dev/null for its own, as runc does. The probe only looks.
#[test]
fn a_container_without_stdio_holds_no_host_file() {
    let c = berth_tests::containerd::Containerd::start("atk-null");
    for via in shim_lanes() {
        let id = format!("{via:?}").to_lowercase();
        let dir = c.dir.join(format!("{id}-x"));
        std::fs::create_dir_all(&dir).unwrap();
        let mount = format!("type=bind,src={},dst=/x,options=rbind:rw", dir.display());
        let flags = ["--rm", "--null-io", "--mount", &mount];
        let script = format!("{STDIO_PROBE} >/x/seen");
        let o = c.run(via, &flags, &id, &["sh", "-c", &script]);
        assert!(o.status.success(), "{via:?}: {}", stderr(&o));
        let seen = std::fs::read_to_string(dir.join("seen")).unwrap();
        assert_not_host_null(&seen, &format!("{via:?}"));
    }
}

/// The same for `exec`, run with the runtime's own stdin, stdout and stderr on /dev/null.
/// runc's exec does not swap /dev/null (only its init does), so this runs on berth only.
#[test]
fn an_exec_without_stdio_holds_no_host_file() {
    if std::env::var_os("BERTH_RUNTIME").is_some() {
        return;
    }
    let mut b = Bundle::new("atk-null-exec");
    b.config["root"]["readonly"] = json!(false);
    b.sh("sleep 100");
    b.write();
    b.run_detached();
    let script = format!("{STDIO_PROBE} >/tmp/seen");
    let mut cmd = berth_cmd(&["exec", b.id(), "sh", "-c", &script]);
    cmd.stdin(std::process::Stdio::null());
    cmd.stdout(std::process::Stdio::null());
    cmd.stderr(std::process::Stdio::null());
    let status = cmd.status().unwrap();
    let seen = std::fs::read_to_string(b.rootfs().join("tmp/seen")).unwrap_or_default();
    ok(berth(&["delete", "--force", b.id()]));
    assert!(status.success());
    assert_not_host_null(&seen, "the exec");
}
