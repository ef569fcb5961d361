//! config.json as create reads it: parsed, then checked and planned (mounts, devices,
//! namespaces, cgroups, process, seccomp, hooks) by `berth_core::container::check`, which
//! creates nothing. The rootfs is the fuzzer's own, with the symlinks images use to attack.

#![no_main]

use berth_core::oci_spec::runtime::Spec;
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

fn bundle() -> &'static PathBuf {
    static BUNDLE: OnceLock<PathBuf> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("berth-fuzz-{}", std::process::id()));
        let root = dir.join("rootfs");
        for d in ["proc", "sys", "dev/pts", "etc", "tmp", "bin"] {
            std::fs::create_dir_all(root.join(d)).expect("making the fuzz rootfs");
        }
        let links = [
            ("/etc", "abs"),
            ("../../../..", "up"),
            ("/proc/self/exe", "self"),
        ];
        for (target, name) in links {
            let _ = std::os::unix::fs::symlink(target, root.join(name));
        }
        std::fs::canonicalize(&dir).expect("canonical bundle path")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(mut spec) = serde_json::from_slice::<Spec>(data) else {
        return;
    };
    // Whatever root.path says, the rootfs is ours: the planner reads it (symlinks).
    if let Some(root) = spec.root().clone() {
        let mut root = root;
        root.set_path("rootfs".into());
        spec.set_root(Some(root));
    }
    let _ = berth_core::container::check(bundle(), &spec);
});
