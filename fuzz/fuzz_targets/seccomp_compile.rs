//! linux.seccomp compiled to BPF, and the program run by berth's interpreter for a few
//! syscalls: no profile may panic the compiler or make a program the interpreter trips on.

#![no_main]

use berth_core::oci_spec::runtime::LinuxSeccomp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(profile) = serde_json::from_slice::<LinuxSeccomp>(data) else {
        return;
    };
    let Ok(prog) = berth_core::seccomp::compile(&profile) else {
        return;
    };
    let audit = 0xc000_003e; // AUDIT_ARCH_X86_64
    for nr in [0, 1, 59, 101, 322, 435, 1023] {
        let _ = berth_core::seccomp::interp::run(&prog, audit, nr, [0, 1, 2, 3, 4, 5]);
    }
});
