//! Gives the seccomp cache the identity of the compiler that fills it: a hash of the
//! compiler's sources, so a changed compiler never reads programs an older one wrote.

use std::fs;

fn main() {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in ["compile.rs", "arch.rs", "db.rs", "rules.rs", "tables.rs"] {
        let path = format!("src/seccomp/{file}");
        println!("cargo:rerun-if-changed={path}");
        let bytes = fs::read(&path).unwrap_or_default();
        for b in bytes {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    println!("cargo:rustc-env=BERTH_SECCOMP_COMPILER={hash:016x}");
}
