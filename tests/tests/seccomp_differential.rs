//! Berth's seccomp compiler against libseccomp, used as runc uses it: for a corpus of
//! profiles (Berth's Docker-like profile, podman's default profile as installed, and
//! generated ones with every operator, repeated argument indexes, negative and >2^32
//! values, conditional and unconditional rules of several actions for one syscall, and
//! subsets of x86's ABIs), both filters are asked for their answer syscall by syscall and
//! ABI by ABI (x86_64, i386 — also through socketcall and ipc — and x32), with argument
//! values around every value a condition names. Every difference is reported; there must
//! be none. Where libseccomp refuses a profile (conflicting rules), Berth must refuse it too.

#[path = "../src/libseccomp.rs"]
mod libseccomp;

use berth_core::oci_spec::runtime::LinuxSeccomp;
use berth_core::seccomp::{compile_for, interp, Arch, Family, Program};
use serde_json::{json, Value};

const AUDIT_X86_64: u32 = 0xc000_003e;
const AUDIT_I386: u32 = 0x4000_0003;

/// A small deterministic generator (xorshift), so a failure names a reproducible profile.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, of: &'a [T]) -> &'a T {
        &of[(self.next() % of.len() as u64) as usize]
    }
}

const EDGES: [u64; 12] = [
    0,
    1,
    2,
    8,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0002,
    0xffff_ffff_ffff_ff9c, // AT_FDCWD, as a 64-bit value
    0x8000_0000_0000_0000,
    u64::MAX,
];

const NAMES: [&str; 16] = [
    "kill",
    "ioctl",
    "personality",
    "socket",
    "connect",
    "sendmsg",
    "send",
    "shmget",
    "semop",
    "socketcall",
    "ipc",
    "openat",
    "clone",
    "mmap",
    "read",
    "getpid",
];

const OPS: [&str; 7] = [
    "SCMP_CMP_EQ",
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_GT",
    "SCMP_CMP_GE",
    "SCMP_CMP_MASKED_EQ",
];

fn random_action(rng: &mut Rng) -> Value {
    match rng.next() % 6 {
        0 => json!({"action": "SCMP_ACT_ALLOW"}),
        1 => json!({"action": "SCMP_ACT_ERRNO", "errnoRet": 1}),
        2 => json!({"action": "SCMP_ACT_ERRNO", "errnoRet": 38}),
        3 => json!({"action": "SCMP_ACT_KILL"}),
        4 => json!({"action": "SCMP_ACT_LOG"}),
        _ => json!({"action": "SCMP_ACT_TRAP"}),
    }
}

fn random_profile(rng: &mut Rng) -> Value {
    let mut default = random_action(rng);
    let default = default.as_object_mut().unwrap();
    let mut p = serde_json::Map::new();
    p.insert("defaultAction".into(), default["action"].clone());
    if let Some(e) = default.get("errnoRet") {
        p.insert("defaultErrnoRet".into(), e.clone());
    }
    let archs: Vec<&str> = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
        .into_iter()
        .filter(|_| rng.next() % 3 != 0)
        .collect();
    p.insert("architectures".into(), json!(archs));
    let mut rules = Vec::new();
    for _ in 0..1 + rng.next() % 7 {
        let mut r = random_action(rng);
        let names: Vec<&str> = (0..1 + rng.next() % 2).map(|_| *rng.pick(&NAMES)).collect();
        r["names"] = json!(names);
        let args: Vec<Value> = (0..rng.next() % 4)
            .map(|_| {
                json!({"index": rng.next() % 3, "op": rng.pick(&OPS),
                       "value": rng.pick(&EDGES), "valueTwo": rng.pick(&EDGES)})
            })
            .collect();
        r["args"] = json!(args);
        rules.push(r);
    }
    p.insert("syscalls".into(), json!(rules));
    Value::Object(p)
}

/// podman's profile (moby's format) as the OCI profile an engine sends on x86_64: rules
/// gated on other architectures dropped, and capability-gated rules kept or not.
fn podman_profile(with_cap_rules: bool) -> Option<Value> {
    let text = std::fs::read_to_string("/usr/share/containers/seccomp.json").ok()?;
    let p: Value = serde_json::from_str(&text).unwrap();
    let rules: Vec<Value> = p["syscalls"]
        .as_array()?
        .iter()
        .filter(|r| {
            let arches = r["includes"]["arches"].as_array();
            let arch_ok = arches.is_none_or(|a| a.iter().any(|x| x == "amd64"));
            let excluded = r["excludes"]["arches"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == "amd64"));
            let caps = r["includes"]["caps"]
                .as_array()
                .is_some_and(|c| !c.is_empty());
            arch_ok && !excluded && (with_cap_rules || !caps)
        })
        .map(|r| {
            let mut r = r.clone();
            let o = r.as_object_mut().unwrap();
            for k in ["includes", "excludes", "comment"] {
                o.remove(k);
            }
            r
        })
        .collect();
    Some(json!({
        "defaultAction": p["defaultAction"],
        "defaultErrnoRet": p["defaultErrnoRet"],
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": rules,
    }))
}

fn corpus() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let docker: Value =
        serde_json::from_str(include_str!("../data/seccomp-docker-like.json")).unwrap();
    out.push(("seccomp-docker-like.json".to_string(), docker));
    for caps in [false, true] {
        let p = podman_profile(caps).expect("podman's seccomp.json (the setup installs podman)");
        out.push((format!("podman default, cap rules {caps}"), p));
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..berth_tests::count("BERTH_SECCOMP_PROFILES", 600) {
        out.push((format!("generated #{i}"), random_profile(&mut rng)));
    }
    out
}

/// Argument vectors around every value the profile names.
fn arg_vectors(p: &LinuxSeccomp, rng: &mut Rng) -> Vec<[u64; 6]> {
    let mut values: Vec<u64> = EDGES.to_vec();
    for a in p
        .syscalls()
        .iter()
        .flatten()
        .flat_map(|r| r.args().iter().flatten())
    {
        for x in [a.value(), a.value_two().unwrap_or(0)] {
            values.extend([
                x,
                x.wrapping_sub(1),
                x.wrapping_add(1),
                x & 0xffff_ffff,
                x | 0xffff_ffff_0000_0000,
                (x & 0xffff_ffff).wrapping_add(0x1_0000_0000),
            ]);
        }
    }
    values.sort_unstable();
    values.dedup();
    let mut out = vec![[0; 6]];
    for i in 0..3 {
        for v in &values {
            let mut a = [0; 6];
            a[i] = *v;
            out.push(a);
        }
    }
    for _ in 0..64 {
        out.push(std::array::from_fn(|_| *rng.pick(&values)));
    }
    out
}

/// The syscall numbers to ask about on `abi`: every one the profile names (that libseccomp
/// knows too: runc skips the others), the multiplexers, and a sample of the rest, all at or
/// below the last named one (above it runc and Berth both answer ENOSYS by their stubs).
fn numbers(p: &LinuxSeccomp, abi: Arch) -> Vec<u32> {
    let named: Vec<u32> = p
        .syscalls()
        .iter()
        .flatten()
        .flat_map(|r| r.names().iter())
        .filter(|n| libseccomp::knows(n))
        .filter_map(|n| abi.number(n))
        .collect();
    let base = if abi == Arch::X32 { 0x4000_0000 } else { 0 };
    let last = named.iter().copied().max().unwrap_or(base + 60);
    let mut out = named.clone();
    out.extend(
        ["socketcall", "ipc", "read", "getpid"]
            .iter()
            .filter_map(|n| abi.number(n)),
    );
    out.extend((base..=last).step_by(17));
    out.retain(|n| *n <= last);
    out.sort_unstable();
    out.dedup();
    out
}

/// Compares Berth with libseccomp's database; differences between libseccomp's database
/// and its own BPF go to `theirs_wrong` (they are libseccomp's, not Berth's to copy).
fn compare(label: &str, profile: &Value, rng: &mut Rng, out: &mut Outcome) {
    let p: LinuxSeccomp = serde_json::from_value(profile.clone()).unwrap();
    let ours = compile_for(&p, Family::X86);
    let (bpf, pfc) = (libseccomp::build(&p), libseccomp::pfc(&p));
    let (ours, bpf, pfc): (Program, Program, _) = match (ours, bpf, pfc) {
        (Ok(o), Ok(b), Ok(t)) => (o, b, libseccomp::Pfc::parse(&t)),
        (Err(_), Err(_), _) => {
            out.refused += 1;
            return;
        }
        (o, b, _) => {
            out.diffs.push(format!(
                "{label}: berth {:?}, libseccomp {:?}\n  {}",
                o.err().map(|e| e.to_string()),
                b.err(),
                short(profile)
            ));
            return;
        }
    };
    let args = arg_vectors(&p, rng);
    let mut wrong = None;
    for abi in [Arch::X86_64, Arch::I386, Arch::X32] {
        let audit = if abi == Arch::I386 {
            AUDIT_I386
        } else {
            AUDIT_X86_64
        };
        for nr in numbers(&p, abi) {
            for a in &args {
                let o = interp::run(&ours, audit, nr, *a);
                let (t, b) = (pfc.decide(audit, nr, *a), interp::run(&bpf, audit, nr, *a));
                out.checked += 1;
                if o != t {
                    out.diffs.push(format!(
                        "{label}: {abi:?} nr {nr} args {a:x?}: berth {o:#x}, libseccomp {t:#x}\n  {}",
                        short(profile)
                    ));
                    return;
                }
                if b != t && wrong.is_none() {
                    wrong = Some(format!(
                        "{label}: {abi:?} nr {nr} args {a:x?}: database {t:#x}, its BPF {b:#x}"
                    ));
                }
            }
        }
    }
    out.theirs_wrong.extend(wrong);
}

/// A profile as a report shows it: the generated ones whole, the big ones cut.
fn short(p: &Value) -> String {
    let s = p.to_string();
    if s.len() <= 1500 {
        s
    } else {
        format!("{}…", &s[..1500])
    }
}

#[derive(Default)]
struct Outcome {
    diffs: Vec<String>,
    theirs_wrong: Vec<String>,
    refused: usize,
    checked: usize,
}

#[test]
fn berth_decides_every_syscall_as_libseccomp_does() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut out = Outcome::default();
    let corpus = corpus();
    for (label, profile) in &corpus {
        compare(label, profile, &mut rng, &mut out);
    }
    eprintln!(
        "{} profiles, {} refused by both, {} decisions compared; {} where libseccomp's BPF \
         departs from its own database:",
        corpus.len(),
        out.refused,
        out.checked,
        out.theirs_wrong.len()
    );
    for w in out.theirs_wrong.iter().take(3) {
        eprintln!("  {w}");
    }
    for d in out.diffs.iter().take(8) {
        eprintln!("{d}");
    }
    assert!(
        out.diffs.is_empty(),
        "{} of {} profiles decide differently",
        out.diffs.len(),
        corpus.len()
    );
}
