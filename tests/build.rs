//! Builds the syscall probe (probe/probe.rs) as a static binary with plain rustc, for the
//! test rootfs; the tests find it through BERTH_PROBE.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=probe/probe.rs");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let bin = out.join("berth-probe");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let status = Command::new(rustc)
        .args([
            "--edition",
            "2021",
            "-O",
            "-C",
            "panic=abort",
            "-C",
            "strip=symbols",
        ])
        .args(["-C", "target-feature=+crt-static", "probe/probe.rs", "-o"])
        .arg(&bin)
        .status()
        .expect("running rustc for the probe");
    assert!(status.success(), "building probe/probe.rs failed");
    println!("cargo:rustc-env=BERTH_PROBE={}", bin.display());
}
