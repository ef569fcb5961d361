//! berth-core linked into a threaded program, the way the shim uses it: containers created,
//! started, waited for and deleted from several threads at once, after which the program
//! holds no more fds than before and has no child left unreaped. (The CLI exits after each
//! command, so this is where a leaked fd of the runtime would show.)

use berth_core::{CreateOptions, Runtime};
use berth_tests::*;
use std::os::fd::OwnedFd;
use std::path::Path;

/// The tests here count and watch the whole program's fds: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn devnull() -> OwnedFd {
    std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .unwrap()
        .into()
}

#[test]
fn threads_running_containers_leak_no_fd_and_leave_no_child() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let root = Path::new(BASE).join("lib-root");
    let bundles: Vec<Bundle> = (0..4)
        .map(|t| {
            let mut b = Bundle::new(&format!("lib-cycles-{t}"));
            b.sh("exit 3");
            b.write();
            b
        })
        .collect();
    let rt = Runtime::new(&root);
    let before = fd_count();
    std::thread::scope(|s| {
        for b in &bundles {
            let rt = &rt;
            s.spawn(move || {
                for i in 0..25 {
                    let id = format!("{}-{i}", b.id());
                    let opts = CreateOptions {
                        bundle: b.dir.clone(),
                        console_socket: None,
                        pid_file: None,
                        preserve_fds: 0,
                        no_pivot: false,
                        no_new_keyring: false,
                        stdio: Some([devnull(), devnull(), devnull()]),
                    };
                    let mut c = rt.create(&id, opts).unwrap();
                    c.start().unwrap();
                    assert_eq!(c.wait().unwrap(), 3);
                    c.delete(false).unwrap();
                }
            });
        }
    });
    assert_eq!(fd_count(), before, "fds left open in the program");
    assert_no_child();
    let left: Vec<_> = std::fs::read_dir(&root).unwrap().flatten().collect();
    assert!(left.is_empty(), "state left: {left:?}");
    for b in &bundles {
        assert!(cgroup_left(b.id()).is_empty());
    }
    let _ = std::fs::remove_dir(&root);
}

/// A created container, waiting for `start`, holds none of the program's own fds. The init is
/// a clone of the program: a shim's pipes and FIFOs of other processes stayed open in it, so
/// their readers saw no end-of-file until this container started. Here the program closes a
/// pipe's only write end while a container waits: the read end must hang up at once.
#[test]
fn a_created_container_holds_none_of_the_programs_fds() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let root = Path::new(BASE).join("lib-root-fds");
    let mut b = Bundle::new("lib-fds");
    b.sh("true");
    b.write();
    let rt = Runtime::new(&root);
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two new fds, owned below.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both fds are new and ours.
    let (r, w) = unsafe {
        use std::os::fd::FromRawFd;
        (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]))
    };
    let opts = CreateOptions {
        bundle: b.dir.clone(),
        console_socket: None,
        pid_file: None,
        preserve_fds: 0,
        no_pivot: false,
        no_new_keyring: false,
        stdio: Some([devnull(), devnull(), devnull()]),
    };
    let c = rt.create(b.id(), opts).unwrap();
    drop(w);
    let mut p = libc::pollfd {
        fd: std::os::fd::AsRawFd::as_raw_fd(&r),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd.
    let n = unsafe { libc::poll(&mut p, 1, 3000) };
    let pid = c.pid();
    c.delete(true).unwrap();
    // The program reaps its children itself (the shim's reaper does).
    // SAFETY: waitpid on our own child.
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    let _ = std::fs::remove_dir(&root);
    assert!(
        n == 1 && p.revents & libc::POLLHUP != 0,
        "the pipe's write end lives on in the created container (poll {n}, revents {:#x})",
        p.revents
    );
}
