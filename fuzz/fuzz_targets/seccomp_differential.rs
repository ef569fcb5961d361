//! Berth's seccomp compiler against libseccomp's rule database (see
//! tests/tests/seccomp_differential.rs) on arbitrary profiles: a profile libseccomp refuses
//! for conflicting rules must be refused, one Berth refuses for that reason must be refused
//! by libseccomp, and where both build a filter, each ABI's answers for the named syscalls
//! must agree.

#![no_main]

#[path = "../../tests/src/libseccomp.rs"]
mod libseccomp;

use berth_core::oci_spec::runtime::LinuxSeccomp;
use berth_core::seccomp::{compile_for, interp, Arch, Family};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(profile) = serde_json::from_slice::<LinuxSeccomp>(data) else {
        return;
    };
    // Berth's own refusals (a notify rule without an agent, an unknown arch …) are not
    // libseccomp's to judge; a conflict is.
    let ours = match compile_for(&profile, Family::X86) {
        Ok(p) => p,
        Err(e) => {
            if e.to_string().contains("refuse such a profile") {
                assert!(
                    libseccomp::build(&profile).is_err(),
                    "only Berth refused: {e}"
                );
            }
            return;
        }
    };
    let pfc = match libseccomp::pfc(&profile) {
        Ok(t) => libseccomp::Pfc::parse(&t),
        Err(e) => {
            assert!(!e.contains("errno 17"), "only libseccomp refused: {e}");
            return;
        }
    };
    let values: Vec<u64> = profile
        .syscalls()
        .iter()
        .flatten()
        .flat_map(|r| r.args().iter().flatten())
        .flat_map(|a| {
            [
                a.value(),
                a.value().wrapping_add(1),
                a.value_two().unwrap_or(0),
            ]
        })
        .chain([0, u64::MAX])
        .collect();
    for abi in [Arch::X86_64, Arch::I386, Arch::X32] {
        let audit = if abi == Arch::I386 {
            0x4000_0003
        } else {
            0xc000_003e
        };
        let names = profile
            .syscalls()
            .iter()
            .flatten()
            .flat_map(|r| r.names().iter());
        let last = names
            .clone()
            .filter_map(|n| abi.number(n))
            .max()
            .unwrap_or(0);
        for nr in names
            .filter(|n| libseccomp::knows(n))
            .filter_map(|n| abi.number(n))
        {
            for (i, v) in values.iter().enumerate() {
                let mut args = [0u64; 6];
                args[i % 3] = *v;
                let (o, t) = (
                    interp::run(&ours, audit, nr, args),
                    pfc.decide(audit, nr, args),
                );
                // Above the last named number both runtimes answer by their ENOSYS stubs.
                assert!(
                    o == t || nr > last,
                    "{abi:?} nr {nr} {args:x?}: {o:#x} vs {t:#x}"
                );
            }
        }
    }
});
