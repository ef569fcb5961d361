//! The reference for Berth's seccomp compiler: a profile built into a filter by libseccomp
//! the way runc's `libcontainer/seccomp` does it (its `matchCall`), exported as BPF.
//!
//! Not part of the `berth_tests` library (that would link libseccomp into every test);
//! `tests/tests/seccomp_differential.rs` and the `seccomp_differential` fuzz target include
//! it with `#[path]`.

use berth_core::oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};
use berth_core::seccomp::Program;
use std::ffi::{c_char, c_int, c_uint, c_void, CString};
use std::io::{Read, Seek};
use std::os::fd::{AsRawFd, FromRawFd};

#[repr(C)]
struct ArgCmp {
    arg: c_uint,
    op: c_int,
    datum_a: u64,
    datum_b: u64,
}

#[link(name = "seccomp")]
extern "C" {
    fn seccomp_init(def_action: u32) -> *mut c_void;
    fn seccomp_release(ctx: *mut c_void);
    fn seccomp_arch_add(ctx: *mut c_void, arch_token: u32) -> c_int;
    fn seccomp_syscall_resolve_name(name: *const c_char) -> c_int;
    fn seccomp_rule_add_array(
        ctx: *mut c_void,
        action: u32,
        syscall: c_int,
        arg_cnt: c_uint,
        arg_array: *const ArgCmp,
    ) -> c_int;
    fn seccomp_export_bpf(ctx: *mut c_void, fd: c_int) -> c_int;
    fn seccomp_export_pfc(ctx: *mut c_void, fd: c_int) -> c_int;
}

/// libseccomp's arch tokens for the x86 family (x32's is not its audit arch).
fn token(name: &str) -> Option<u32> {
    match name {
        "SCMP_ARCH_X86_64" => Some(0xc000_003e),
        "SCMP_ARCH_X86" => Some(0x4000_0003),
        "SCMP_ARCH_X32" => Some(0x4000_003e),
        _ => None,
    }
}

/// The action word, as runc's `getAction` makes it (ERRNO and TRACE default to EPERM).
pub fn action(a: LinuxSeccompAction, errno: Option<u32>) -> u32 {
    use LinuxSeccompAction::*;
    match a {
        ScmpActKill | ScmpActKillThread => 0,
        ScmpActKillProcess => 0x8000_0000,
        ScmpActTrap => 0x0003_0000,
        ScmpActErrno => 0x0005_0000 | (errno.unwrap_or(1) & 0xffff),
        ScmpActTrace => 0x7ff0_0000 | (errno.unwrap_or(1) & 0xffff),
        ScmpActLog => 0x7ffc_0000,
        ScmpActAllow => 0x7fff_0000,
        ScmpActNotify => 0x7fc0_0000,
    }
}

fn op(o: LinuxSeccompOperator) -> c_int {
    use LinuxSeccompOperator::*;
    match o {
        ScmpCmpNe => 1,
        ScmpCmpLt => 2,
        ScmpCmpLe => 3,
        ScmpCmpEq => 4,
        ScmpCmpGe => 5,
        ScmpCmpGt => 6,
        ScmpCmpMaskedEq => 7,
    }
}

/// Whether libseccomp knows `name` at all (runc skips a name it does not).
pub fn knows(name: &str) -> bool {
    let Ok(c) = CString::new(name) else {
        return false;
    };
    // SAFETY: a NUL-terminated string that outlives the call.
    unsafe { seccomp_syscall_resolve_name(c.as_ptr()) != -1 }
}

/// The filter libseccomp builds for `s` on x86 (the other families' ABIs are left out, as
/// Berth leaves them out on this machine), or the rule it refused with its errno.
pub fn build(s: &LinuxSeccomp) -> Result<Program, String> {
    with_filter(s, |ctx| {
        let bytes = export(ctx, seccomp_export_bpf)?;
        let insns = bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        Ok(Program { insns, flags: 0 })
    })
}

/// The same filter as libseccomp's pseudo filter code: its rule database, printed.
pub fn pfc(s: &LinuxSeccomp) -> Result<String, String> {
    with_filter(s, |ctx| {
        let bytes = export(ctx, seccomp_export_pfc)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    })
}

fn with_filter<T>(
    s: &LinuxSeccomp,
    f: impl FnOnce(*mut c_void) -> Result<T, String>,
) -> Result<T, String> {
    let default = action(s.default_action(), s.default_errno_ret());
    // SAFETY: every call gets the context seccomp_init returned, released once at the end.
    unsafe {
        let ctx = seccomp_init(default);
        assert!(!ctx.is_null(), "seccomp_init");
        let out = fill(ctx, s, default).and_then(|()| f(ctx));
        seccomp_release(ctx);
        out
    }
}

unsafe fn fill(ctx: *mut c_void, s: &LinuxSeccomp, default: u32) -> Result<(), String> {
    for a in s.architectures().iter().flatten() {
        let name = serde_json::to_value(a).unwrap();
        if let Some(t) = name.as_str().and_then(token) {
            seccomp_arch_add(ctx, t); // -EEXIST for the native one
        }
    }
    for (i, r) in s.syscalls().iter().flatten().enumerate() {
        let act = action(r.action(), r.errno_ret());
        if act == default {
            continue;
        }
        let conds: Vec<ArgCmp> = r
            .args()
            .iter()
            .flatten()
            .map(|a| ArgCmp {
                arg: a.index() as c_uint,
                op: op(a.op()),
                datum_a: a.value(),
                datum_b: a.value_two().unwrap_or(0),
            })
            .collect();
        let mut counts = [0; 6];
        for c in &conds {
            counts[c.arg as usize] += 1;
        }
        for name in r.names() {
            let c = CString::new(name.as_str()).unwrap();
            let nr = seccomp_syscall_resolve_name(c.as_ptr());
            if nr == -1 {
                continue;
            }
            let add = |cs: &[ArgCmp]| {
                let rc = seccomp_rule_add_array(ctx, act, nr, cs.len() as c_uint, cs.as_ptr());
                if rc == 0 {
                    Ok(())
                } else {
                    Err(format!("syscalls[{i}] {name}: errno {}", -rc))
                }
            };
            if counts.iter().any(|n| *n > 1) {
                for cond in &conds {
                    add(std::slice::from_ref(cond))?;
                }
            } else {
                add(&conds)?;
            }
        }
    }
    Ok(())
}

type Exporter = unsafe extern "C" fn(*mut c_void, c_int) -> c_int;

fn export(ctx: *mut c_void, how: Exporter) -> Result<Vec<u8>, String> {
    // SAFETY: a fresh memfd, owned by the File at once; ctx is live (see with_filter).
    unsafe {
        let fd = libc::memfd_create(c"seccomp".as_ptr(), libc::MFD_CLOEXEC);
        assert!(fd >= 0, "memfd_create");
        let mut f = std::fs::File::from_raw_fd(fd);
        let rc = how(ctx, f.as_raw_fd());
        if rc != 0 {
            return Err(format!("exporting the filter: errno {}", -rc));
        }
        f.rewind().unwrap();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        Ok(bytes)
    }
}

/// libseccomp's rule database as its pseudo filter code prints it, to be evaluated: the
/// decisions libseccomp means, apart from the BPF it generates from them (libseccomp 2.5.4's
/// generator reuses an accumulator across a fall-through now and then, and so answers what
/// its own database does not say).
pub struct Pfc {
    /// Per arch section: its name, audit arch, and body.
    arches: Vec<(String, u32, Vec<Stmt>)>,
    badarch: u32,
}

enum Stmt {
    If(Cond, Vec<Stmt>, Vec<Stmt>),
    Action(u32),
}

enum Cond {
    Syscall(u32),
    SyscallAbove(u32),
    /// Argument, word (None: the 32-bit argument), operator, mask, value.
    Arg(usize, Option<bool>, &'static str, u32, u32),
}

impl Pfc {
    pub fn parse(text: &str) -> Pfc {
        let lines: Vec<(usize, &str)> = text
            .lines()
            .map(|l| ((l.len() - l.trim_start().len()) / 2, l.trim()))
            .collect();
        let mut arches = Vec::new();
        let mut badarch = 0;
        let mut i = 0;
        let mut name = String::new();
        while i < lines.len() {
            let (_, l) = lines[i];
            if let Some(rest) = l.strip_prefix("# filter for arch ") {
                name = rest.split(' ').next().unwrap_or("").to_string();
            } else if let Some(rest) = l.strip_prefix("if ($arch == ") {
                let audit: u32 = rest.trim_end_matches(')').parse().unwrap();
                let (body, next) = block(&lines, i + 1, 1);
                arches.push((name.clone(), audit, body));
                i = next;
                continue;
            } else if l.starts_with("action ") {
                badarch = action_word(l);
            }
            i += 1;
        }
        Pfc { arches, badarch }
    }

    /// The action for one syscall, as the kernel would see it under this database.
    pub fn decide(&self, audit: u32, nr: u32, args: [u64; 6]) -> u32 {
        let section = |n: &str| {
            self.arches
                .iter()
                .find(|(name, a, _)| name == n && *a == audit)
        };
        let body = if audit == 0xc000_003e && nr >= 0x4000_0000 {
            match (section("x32"), nr) {
                (Some(s), _) => Some(s),
                (None, u32::MAX) => section("x86_64"),
                (None, _) => None,
            }
        } else {
            self.arches
                .iter()
                .find(|(name, a, _)| *a == audit && name != "x32")
        };
        body.and_then(|(_, _, b)| run(b, nr, &args))
            .unwrap_or(self.badarch)
    }
}

/// The statements at `depth` from line `i`; returns them and the first line after.
fn block(lines: &[(usize, &str)], mut i: usize, depth: usize) -> (Vec<Stmt>, usize) {
    let mut out = Vec::new();
    while i < lines.len() && lines[i].0 >= depth {
        let (d, l) = lines[i];
        if l.starts_with('#') || d > depth {
            i += 1;
            continue;
        }
        if l.starts_with("action ") {
            out.push(Stmt::Action(action_word(l)));
            i += 1;
        } else if let Some(c) = l.strip_prefix("if (").and_then(|c| c.strip_suffix(')')) {
            let (then, next) = block(lines, i + 1, depth + 1);
            i = next;
            let mut els = Vec::new();
            if i < lines.len() && lines[i].0 == depth && lines[i].1.starts_with("else") {
                let (e, next) = block(lines, i + 1, depth + 1);
                els = e;
                i = next;
            }
            out.push(Stmt::If(cond(c), then, els));
        } else {
            break; // an "else" of the level above
        }
    }
    (out, i)
}

fn cond(c: &str) -> Cond {
    if let Some(n) = c.strip_prefix("$syscall == ") {
        return Cond::Syscall(n.parse().unwrap());
    }
    if let Some(n) = c.strip_prefix("$syscall > ") {
        return Cond::SyscallAbove(n.parse().unwrap());
    }
    let (lhs, rest) = c.split_once(' ').unwrap();
    let arg: usize = lhs[2..3].parse().unwrap();
    let word = match &lhs[3..] {
        ".hi32" => Some(true),
        ".lo32" => Some(false),
        _ => None,
    };
    let num = |s: &str| -> u32 {
        match s.strip_prefix("0x") {
            Some(h) => u32::from_str_radix(h, 16).unwrap(),
            None => s.parse().unwrap(),
        }
    };
    let parts: Vec<&str> = rest.split(' ').collect();
    match parts.as_slice() {
        ["&", mask, "==", v] => Cond::Arg(arg, word, "==", num(mask), num(v)),
        [op, v] => {
            let op = match *op {
                "==" => "==",
                ">=" => ">=",
                ">" => ">",
                other => panic!("pfc operator {other}"),
            };
            Cond::Arg(arg, word, op, u32::MAX, num(v))
        }
        _ => panic!("pfc condition {c}"),
    }
}

fn action_word(l: &str) -> u32 {
    let a = l.trim_start_matches("action ").trim_end_matches(';');
    let code = |s: &str| -> u32 {
        let inner = s.split_once('(').unwrap().1.trim_end_matches(')');
        inner.parse::<u32>().unwrap() & 0xffff
    };
    match a {
        "KILL_PROCESS" => 0x8000_0000,
        "KILL" => 0,
        "TRAP" => 0x0003_0000,
        "LOG" => 0x7ffc_0000,
        "ALLOW" => 0x7fff_0000,
        _ if a.starts_with("ERRNO(") => 0x0005_0000 | code(a),
        _ if a.starts_with("TRACE(") => 0x7ff0_0000 | code(a),
        _ => u32::from_str_radix(a.trim_start_matches("0x"), 16).unwrap(),
    }
}

fn run(stmts: &[Stmt], nr: u32, args: &[u64; 6]) -> Option<u32> {
    for s in stmts {
        let r = match s {
            Stmt::Action(a) => return Some(*a),
            Stmt::If(c, then, els) => {
                if holds(c, nr, args) {
                    run(then, nr, args)
                } else {
                    run(els, nr, args)
                }
            }
        };
        if r.is_some() {
            return r;
        }
    }
    None
}

fn holds(c: &Cond, nr: u32, args: &[u64; 6]) -> bool {
    match c {
        Cond::Syscall(n) => nr == *n,
        Cond::SyscallAbove(n) => nr > *n,
        Cond::Arg(i, word, op, mask, v) => {
            let a = args[*i];
            let w = if *word == Some(true) {
                (a >> 32) as u32
            } else {
                a as u32
            } & mask;
            match *op {
                "==" => w == *v,
                ">=" => w >= *v,
                _ => w > *v,
            }
        }
    }
}
