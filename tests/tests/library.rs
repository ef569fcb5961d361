//! berth-core linked into a threaded program, the way the shim uses it: containers created,
//! started, waited for and deleted from several threads at once, after which the program
//! holds no more fds than before and has no child left unreaped. (The CLI exits after each
//! command, so this is where a leaked fd of the runtime would show.)

use berth_core::{CreateOptions, Runtime};
use berth_tests::*;
use std::os::fd::OwnedFd;
use std::path::Path;

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
