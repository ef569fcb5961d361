//! The compiler: profile → sock_filter instructions.

use super::arch::{self, Arch, Family, X32_SYSCALL_BIT};
use super::db::{self, Db};
use super::rules;
use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSyscall};

/// A compiled filter: `struct sock_filter` entries packed as u64, and the seccomp(2) flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub insns: Vec<u64>,
    pub flags: u32,
}

const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_KILL_THREAD: u32 = 0;
const RET_TRAP: u32 = 0x0003_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_TRACE: u32 = 0x7ff0_0000;
const RET_USER_NOTIF: u32 = 0x7fc0_0000;
const RET_LOG: u32 = 0x7ffc_0000;
/// SECCOMP_FILTER_FLAG_NEW_LISTENER: seccomp(2) returns the notify fd.
pub const FLAG_NEW_LISTENER: u32 = 8;
const FLAG_TSYNC_ESRCH: u32 = 16;
const RET_ALLOW: u32 = 0x7fff_0000;

const LD_W_ABS: u16 = 0x20;
const JEQ_K: u16 = 0x15;
const JGT_K: u16 = 0x25;
const JGE_K: u16 = 0x35;
const JA: u16 = 0x05;
const AND_K: u16 = 0x54;
const RET_K: u16 = 0x06;

const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARGS: u32 = 16;

/// The action word for an OCI action; ERRNO takes `errno` (EPERM when the profile gives none).
pub(super) fn action(a: LinuxSeccompAction, errno: Option<u32>) -> u32 {
    use LinuxSeccompAction::*;
    match a {
        ScmpActKill | ScmpActKillThread => RET_KILL_THREAD,
        ScmpActKillProcess => RET_KILL_PROCESS,
        ScmpActTrap => RET_TRAP,
        ScmpActErrno => RET_ERRNO | (errno.unwrap_or(libc::EPERM as u32) & 0xffff),
        ScmpActTrace => RET_TRACE | (errno.unwrap_or(libc::EPERM as u32) & 0xffff),
        ScmpActLog => RET_LOG,
        ScmpActAllow => RET_ALLOW,
        ScmpActNotify => RET_USER_NOTIF,
    }
}

/// A small assembler: jumps name the instruction index they go to; offsets are resolved when
/// the program is finished.
#[derive(Default)]
struct Asm {
    code: Vec<(u16, Option<usize>, Option<usize>, u32)>,
}

impl Asm {
    fn here(&self) -> usize {
        self.code.len()
    }
    fn ld(&mut self, off: u32) {
        self.code.push((LD_W_ABS, None, None, off));
    }
    fn and(&mut self, k: u32) {
        self.code.push((AND_K, None, None, k));
    }
    fn ret(&mut self, k: u32) {
        self.code.push((RET_K, None, None, k));
    }
    /// A conditional jump; `None` targets mean "the next instruction".
    fn jmp(&mut self, op: u16, k: u32, jt: Option<usize>, jf: Option<usize>) -> usize {
        self.code.push((op, jt, jf, k));
        self.code.len() - 1
    }
    fn ja(&mut self, to: Option<usize>) -> usize {
        self.code.push((JA, to, None, 0));
        self.code.len() - 1
    }
    fn patch_jt(&mut self, at: usize, to: usize) {
        self.code[at].1 = Some(to);
    }

    fn finish(self) -> Result<Vec<u64>> {
        let mut out = Vec::with_capacity(self.code.len());
        for (i, (op, jt, jf, k)) in self.code.iter().enumerate() {
            let rel = |t: &Option<usize>| -> Result<u32> {
                let t = t.unwrap_or(i + 1);
                t.checked_sub(i + 1)
                    .map(|d| d as u32)
                    .ok_or_else(|| Error::invalid("linux.seccomp", "internal: backward jump"))
            };
            let (jt8, jf8, k) = if *op == JA {
                (0, 0, rel(jt)?)
            } else {
                let (a, b) = (rel(jt)?, rel(jf)?);
                if a > 255 || b > 255 {
                    return Err(Error::invalid(
                        "linux.seccomp",
                        "a rule is too long to compile (jump over 255 instructions)",
                    ));
                }
                (a as u8, b as u8, *k)
            };
            out.push(
                u64::from(*op)
                    | (u64::from(jt8) << 16)
                    | (u64::from(jf8) << 24)
                    | (u64::from(k) << 32),
            );
        }
        if out.len() > 4096 {
            return Err(Error::invalid(
                "linux.seccomp",
                format!(
                    "the profile compiles to {} instructions; the kernel takes 4096",
                    out.len()
                ),
            ));
        }
        Ok(out)
    }
}

/// Compiles for the machine Berth runs on.
pub fn compile(s: &LinuxSeccomp) -> Result<Program> {
    compile_for(s, native_family()?)
}

/// The machine family Berth was built for, or an error where it has no syscall tables.
pub fn native_family() -> Result<Family> {
    Family::native().ok_or_else(|| {
        Error::Unsupported("linux.seccomp: Berth has no syscall tables for this machine".into())
    })
}

/// Compiles for the ABIs of one machine family.
pub fn compile_for(s: &LinuxSeccomp, family: Family) -> Result<Program> {
    if s.default_action() == LinuxSeccompAction::ScmpActNotify {
        return Err(Error::invalid(
            "linux.seccomp.defaultAction",
            "SCMP_ACT_NOTIFY cannot be the default action: every syscall of the runtime's last \
             steps would wait for the agent",
        ));
    }
    let default = action(s.default_action(), s.default_errno_ret());
    let listed = listed_archs(s)?;
    let archs = family_archs(&listed, family);
    let syscalls = s.syscalls().as_deref().unwrap_or(&[]);
    let notify = check_notify(s, syscalls)?;
    let mut asm = Asm::default();
    asm.ld(OFF_ARCH);
    // Conditional jumps reach 255 instructions at most: each test jumps over one `ja`, which
    // carries the long distance.
    let mut entry_jumps = Vec::new();
    for a in archs.iter().filter(|a| **a != Arch::X32) {
        let here = asm.here();
        asm.jmp(JEQ_K, a.audit(), None, Some(here + 2));
        entry_jumps.push((asm.ja(None), *a));
    }
    // An ABI the profile does not list is refused outright with libseccomp's default
    // bad-arch action, SCMP_ACT_KILL (the thread), which runc and crun keep.
    asm.ret(RET_KILL_THREAD);
    let ctx = Ctx {
        rules: syscalls,
        default,
        enosys_stub: !matches!(
            s.default_action(),
            LinuxSeccompAction::ScmpActAllow
                | LinuxSeccompAction::ScmpActLog
                | LinuxSeccompAction::ScmpActTrace
        ),
        listed: &listed,
    };
    for (ja, a) in entry_jumps {
        let start = asm.here();
        asm.code[ja].1 = Some(start);
        asm.ld(OFF_NR);
        if a == Arch::X86_64 {
            x86_64_and_x32(&mut asm, archs.contains(&Arch::X32), &ctx)?;
        } else {
            section(&mut asm, a, &ctx)?;
        }
    }
    let mut flags = flags(s);
    if notify {
        // With a listener the kernel takes TSYNC only as TSYNC_ESRCH.
        flags |= FLAG_NEW_LISTENER | if flags & 1 != 0 { FLAG_TSYNC_ESRCH } else { 0 };
    }
    Ok(Program {
        insns: asm.finish()?,
        flags,
    })
}

/// x32 numbers arrive under the x86_64 audit arch with X32_SYSCALL_BIT set: they get their
/// own section, or the bad-arch kill when the profile does not list x32. Number -1, which a
/// tracer uses to skip a syscall, gets the default action there, as in libseccomp.
fn x86_64_and_x32(asm: &mut Asm, x32: bool, ctx: &Ctx) -> Result<()> {
    let here = asm.here();
    asm.jmp(JGE_K, X32_SYSCALL_BIT, None, Some(here + 2));
    let to_x32 = asm.ja(None);
    section(asm, Arch::X86_64, ctx)?;
    let start = asm.here();
    asm.code[to_x32].1 = Some(start);
    if x32 {
        return section(asm, Arch::X32, ctx);
    }
    let here = asm.here();
    asm.jmp(JEQ_K, u32::MAX, None, Some(here + 2));
    asm.ret(ctx.default);
    asm.ret(RET_KILL_THREAD);
    Ok(())
}

/// The ABIs `architectures` names, in order; an unknown name is an error naming its index.
/// Real architectures without tables here (mips, s390x …) never reach a filter on this
/// machine and are left out.
fn listed_archs(s: &LinuxSeccomp) -> Result<Vec<Arch>> {
    let mut out = Vec::new();
    for (i, a) in s.architectures().iter().flatten().enumerate() {
        let name = serde_json::to_value(a)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        match arch::from_oci(&name) {
            arch::Known::Abi(a) => out.push(a),
            arch::Known::Other => {}
            arch::Known::Unknown => {
                return Err(Error::invalid(
                    format!("linux.seccomp.architectures[{i}]"),
                    format!("{name:?} is not an architecture"),
                ))
            }
        }
    }
    Ok(out)
}

/// The listed ABIs of `family`, native first; the native one is always filtered (as with
/// libseccomp, whose filters start with it), whether listed or not.
fn family_archs(listed: &[Arch], family: Family) -> Vec<Arch> {
    let mut out = vec![family.native_abi()];
    for a in listed.iter().filter(|a| a.family() == family) {
        if !out.contains(a) {
            out.push(*a);
        }
    }
    out
}

/// Whether any rule notifies an agent; such a profile needs `listenerPath`, and must leave
/// alone the one syscall that carries the notify fd out of the container.
fn check_notify(s: &LinuxSeccomp, rules: &[LinuxSyscall]) -> Result<bool> {
    let mut any = false;
    for (i, r) in rules.iter().enumerate() {
        if r.action() != LinuxSeccompAction::ScmpActNotify {
            continue;
        }
        any = true;
        let field = format!("linux.seccomp.syscalls[{i}]");
        if s.listener_path().is_none() {
            return Err(Error::invalid(
                field,
                "SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath (the agent's socket)",
            ));
        }
        if r.names().iter().any(|n| n == "sendmsg") {
            return Err(Error::invalid(
                field,
                "SCMP_ACT_NOTIFY cannot apply to sendmsg: the runtime sends the notify fd to the \
                 agent with it",
            ));
        }
    }
    Ok(any)
}

fn flags(s: &LinuxSeccomp) -> u32 {
    s.flags().iter().flatten().fold(0, |acc, f| {
        acc | match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => 1,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => 2,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => 4,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => 32,
        }
    })
}

/// What every ABI section needs to know of the profile.
struct Ctx<'a> {
    rules: &'a [LinuxSyscall],
    default: u32,
    /// Whether syscalls newer than the profile get ENOSYS (the default action denies).
    enosys_stub: bool,
    /// The ABIs the profile names itself.
    listed: &'a [Arch],
}

/// Like runc: a syscall numbered above every syscall the profile names (on an ABI it lists)
/// is newer than the profile, and gets ENOSYS instead of the default errno, so that programs
/// fall back to the older call (glibc does so for clone3, for instance).
fn enosys_stub(asm: &mut Asm, a: Arch, ctx: &Ctx) {
    if !ctx.enosys_stub || !ctx.listed.contains(&a) {
        return;
    }
    let names = ctx.rules.iter().flat_map(|r| r.names());
    let Some(last) = names.filter_map(|n| a.number(n)).max() else {
        return;
    };
    let here = asm.here();
    asm.jmp(JGT_K, last, None, Some(here + 2));
    asm.ret(RET_ERRNO | libc::ENOSYS as u32);
}

/// The checks for one ABI (the syscall number is in A), ending with the default action.
fn section(asm: &mut Asm, a: Arch, ctx: &Ctx) -> Result<()> {
    let default = ctx.default;
    enosys_stub(asm, a, ctx);
    let db = rules::database(a, ctx.rules, default)?;
    let mut plain = Vec::new();
    for sys in &db.syscalls {
        let Some(chains) = sys.chains else {
            if sys.action != default {
                plain.push((sys.num, sys.action));
            }
            continue;
        };
        let here = asm.here();
        asm.jmp(JEQ_K, sys.num, Some(here + 2), None);
        let over = asm.ja(None);
        let fell = level(asm, &db, chains);
        let end = asm.here();
        asm.ret(default);
        patch(asm, &fell, end);
        let next = asm.here();
        asm.code[over].1 = Some(next);
        // The argument loads overwrote A: load the syscall number again.
        asm.ld(OFF_NR);
    }
    // In chunks, so every jump to a chunk's returns stays within 255 instructions.
    for chunk in plain.chunks(200) {
        let jumps: Vec<(usize, u32)> = chunk
            .iter()
            .map(|(nr, act)| (asm.jmp(JEQ_K, *nr, None, None), *act))
            .collect();
        let over = asm.ja(None);
        let mut rets: Vec<(u32, usize)> = Vec::new();
        for (at, act) in jumps {
            let to = match rets.iter().find(|(a, _)| *a == act) {
                Some((_, to)) => *to,
                None => {
                    let to = asm.here();
                    asm.ret(act);
                    rets.push((act, to));
                    to
                }
            };
            asm.patch_jt(at, to);
        }
        let after = asm.here();
        asm.code[over].1 = Some(after);
    }
    asm.ret(default);
    Ok(())
}

/// One level of a syscall's tree: its nodes are alternatives, tried in order; each returns
/// its action or goes on to the next. Returns the jumps taken when every node fell through,
/// for the caller to point at what comes after (the parent's next alternative, or the
/// default action), as libseccomp's generated code does.
fn level(asm: &mut Asm, db: &Db, first: db::Id) -> Vec<usize> {
    let mut next = Some(db.level_start(first));
    let mut fell: Vec<usize> = Vec::new();
    while let Some(id) = next {
        let here = asm.here();
        patch(asm, &fell, here);
        fell = node(asm, db, id);
        next = db.node(id).lvl_nxt;
    }
    fell
}

/// One comparison: `(A & mask) op datum`, then the true and the false branch.
fn node(asm: &mut Asm, db: &Db, id: db::Id) -> Vec<usize> {
    let n = db.node(id);
    let word = OFF_ARGS + 8 * n.arg + if n.hi { 4 } else { 0 };
    asm.ld(word);
    if n.mask != u32::MAX {
        asm.and(n.mask);
    }
    let op = match n.op {
        db::Op::Gt => JGT_K,
        db::Op::Ge => JGE_K,
        _ => JEQ_K,
    };
    let here = asm.here();
    asm.jmp(op, n.datum, Some(here + 1), Some(here + 2));
    let to_true = asm.ja(None);
    let to_false = asm.ja(None);
    let mut fell = Vec::new();
    for (ja, sub, act) in [(to_true, n.nxt_t, n.act_t), (to_false, n.nxt_f, n.act_f)] {
        let start = asm.here();
        asm.code[ja].1 = Some(start);
        match (sub, act) {
            (Some(sub), _) => fell.extend(level(asm, db, sub)),
            (None, Some(act)) => asm.ret(act),
            (None, None) => fell.push(asm.ja(None)),
        }
    }
    fell
}

/// Points every `ja` in `jumps` at `to`.
fn patch(asm: &mut Asm, jumps: &[usize], to: usize) {
    for j in jumps {
        asm.code[*j].1 = Some(to);
    }
}

#[cfg(test)]
mod tests {
    use super::super::interp;
    use super::*;

    fn docker_like() -> LinuxSeccomp {
        serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/data/seccomp-docker-like.json"
        )))
        .unwrap()
    }

    fn profile(json: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(json).unwrap()
    }

    const ERRNO_ENOSYS: u32 = RET_ERRNO | 38;

    /// One profile naming every ABI; each family's program must answer for its own ABIs by
    /// their own numbers, and kill any other.
    #[test]
    fn each_family_filters_its_own_abis_by_their_numbers() {
        let prof = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
                "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390X"],
            "syscalls": [
                {"names": ["read", "cacheflush", "riscv_flush_icache"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                {"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
            ]
        }));
        for family in [Family::X86, Family::Arm, Family::Riscv] {
            let p = compile_for(&prof, family).unwrap();
            for abi in family.abis() {
                let run = |name: &str, a0: u64| {
                    let nr = abi.number(name).unwrap();
                    interp::run(&p, abi.audit(), nr, [a0, 0, 0, 0, 0, 0])
                };
                assert_eq!(run("read", 0), RET_ALLOW, "{abi:?} read");
                assert_eq!(run("personality", 8), RET_ALLOW, "{abi:?} personality(8)");
                assert_eq!(
                    run("personality", 9),
                    ERRNO_ENOSYS,
                    "{abi:?} personality(9)"
                );
                assert_eq!(run("mkdirat", 0), RET_ERRNO | 13, "{abi:?} mkdirat");
                assert_eq!(run("getpid", 0), ERRNO_ENOSYS, "{abi:?} getpid");
            }
            for other in Arch::ALL.iter().filter(|a| a.family() != family) {
                let got = interp::run(&p, other.audit(), 0, [0; 6]);
                assert_eq!(got, RET_KILL_THREAD, "{other:?} under {family:?}");
            }
        }
        let arm = compile_for(&prof, Family::Arm).unwrap();
        let cacheflush = Arch::Arm.number("cacheflush").unwrap();
        assert_eq!(
            interp::run(&arm, Arch::Arm.audit(), cacheflush, [0; 6]),
            RET_ALLOW
        );
        let riscv = compile_for(&prof, Family::Riscv).unwrap();
        let flush = Arch::Riscv64.number("riscv_flush_icache").unwrap();
        assert_eq!(
            interp::run(&riscv, Arch::Riscv64.audit(), flush, [0; 6]),
            RET_ALLOW
        );
    }

    #[test]
    fn x32_numbers_get_the_x32_section_or_the_kill() {
        let with = |archs: serde_json::Value| {
            let prof = profile(serde_json::json!({
                "defaultAction": "SCMP_ACT_ERRNO", "architectures": archs,
                "syscalls": [{"names": ["read", "close"], "action": "SCMP_ACT_ALLOW"}]
            }));
            compile_for(&prof, Family::X86).unwrap()
        };
        let read_x32 = Arch::X32.number("read").unwrap();
        assert_eq!(read_x32, X32_SYSCALL_BIT);
        let listed = with(serde_json::json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"]));
        assert_eq!(
            interp::run(&listed, AUDIT_X86_64, read_x32, [0; 6]),
            RET_ALLOW
        );
        let write_x32 = Arch::X32.number("write").unwrap();
        let denied = interp::run(&listed, AUDIT_X86_64, write_x32, [0; 6]);
        assert_eq!(denied, RET_ERRNO | 1);
        let unlisted = with(serde_json::json!(["SCMP_ARCH_X86_64"]));
        let got = interp::run(&unlisted, AUDIT_X86_64, read_x32, [0; 6]);
        assert_eq!(got, RET_KILL_THREAD);
        // -1, a tracer's "skip this syscall", gets the default action, as in libseccomp.
        let got = interp::run(&unlisted, AUDIT_X86_64, u32::MAX, [0; 6]);
        assert_eq!(got, RET_ERRNO | 1);
        // The native ABI is filtered even when the profile lists only another one.
        let only_i386 = with(serde_json::json!(["SCMP_ARCH_X86"]));
        assert_eq!(interp::run(&only_i386, AUDIT_X86_64, 0, [0; 6]), RET_ALLOW);
    }

    const AUDIT_X86_64: u32 = super::arch::AUDIT_ARCH_X86_64;

    /// runc's -ENOSYS stub: numbers above the profile's last get ENOSYS, per listed ABI, and
    /// only when the default action denies.
    #[test]
    fn syscalls_newer_than_the_profile_get_enosys() {
        let with = |default: &str| {
            let prof = profile(serde_json::json!({
                "defaultAction": default, "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
                "syscalls": [{"names": ["read", "getpid"], "action": "SCMP_ACT_ALLOW"},
                             {"names": ["mkdir"], "action": "SCMP_ACT_KILL"}]
            }));
            compile_for(&prof, Family::X86).unwrap()
        };
        let deny = with("SCMP_ACT_ERRNO");
        let run = |p: &Program, nr| interp::run(p, AUDIT_X86_64, nr, [0; 6]);
        let mkdir = Arch::X86_64.number("mkdir").unwrap();
        assert_eq!(
            run(&deny, mkdir),
            RET_KILL_THREAD,
            "the last named syscall keeps its rule"
        );
        assert_eq!(
            run(&deny, mkdir - 1),
            RET_ERRNO | 1,
            "below the last: the default"
        );
        assert_eq!(
            run(&deny, mkdir + 1),
            ERRNO_ENOSYS,
            "above the last: ENOSYS"
        );
        assert_eq!(run(&deny, X32_SYSCALL_BIT | (mkdir + 1)), ERRNO_ENOSYS);
        let allow = with("SCMP_ACT_ALLOW");
        assert_eq!(
            run(&allow, mkdir + 1),
            RET_ALLOW,
            "no stub when the default allows"
        );
    }

    /// Every operator against Rust's own comparison, on values around the 32-bit halves.
    #[test]
    fn every_operator_compares_full_64_bit_values() {
        let edges: [u64; 12] = [
            0,
            1,
            0x7fff_ffff,
            0xffff_ffff,
            0x1_0000_0000,
            0x1_0000_0001,
            0x1_ffff_ffff,
            0x2_0000_0000,
            0x8000_0000_0000_0000,
            0xdead_beef_0000_0005,
            u64::MAX - 1,
            u64::MAX,
        ];
        type Reference = fn(u64, u64) -> bool;
        let ops: [(&str, Reference); 6] = [
            ("SCMP_CMP_EQ", |a, v| a == v),
            ("SCMP_CMP_NE", |a, v| a != v),
            ("SCMP_CMP_LT", |a, v| a < v),
            ("SCMP_CMP_LE", |a, v| a <= v),
            ("SCMP_CMP_GT", |a, v| a > v),
            ("SCMP_CMP_GE", |a, v| a >= v),
        ];
        let nr = Arch::X86_64.number("ioctl").unwrap();
        for (op, want) in ops {
            for v in edges {
                let prof = profile(serde_json::json!({
                    "defaultAction": "SCMP_ACT_ERRNO",
                    "syscalls": [{"names": ["ioctl"], "action": "SCMP_ACT_ALLOW",
                        "args": [{"index": 3, "value": v, "op": op}]}]
                }));
                let p = compile_for(&prof, Family::X86).unwrap();
                for a in edges {
                    let got = interp::run(&p, AUDIT_X86_64, nr, [0, 0, 0, a, 0, 0]) == RET_ALLOW;
                    assert_eq!(got, want(a, v), "{a:#x} {op} {v:#x}");
                }
            }
        }
        for mask in edges {
            let want = 0x1_0000_0001 & mask;
            let prof = profile(serde_json::json!({
                "defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [{"names": ["ioctl"], "action": "SCMP_ACT_ALLOW",
                    "args": [{"index": 5, "value": mask, "valueTwo": want,
                              "op": "SCMP_CMP_MASKED_EQ"}]}]
            }));
            let p = compile_for(&prof, Family::X86).unwrap();
            for a in edges {
                let got = interp::run(&p, AUDIT_X86_64, nr, [0, 0, 0, 0, 0, a]) == RET_ALLOW;
                assert_eq!(got, a & mask == want, "{a:#x} & {mask:#x} == {want:#x}");
            }
        }
    }

    /// libseccomp's rules for one syscall, which runc and crun follow: conditions of one rule
    /// are ANDed unless an argument repeats (then each is a rule of its own); alternatives
    /// are tried by argument, not by profile order; an unconditional rule wins over every
    /// conditional one; on 32-bit ABIs only the low word of a value is compared.
    #[test]
    fn rules_combine_as_libseccomp_combines_them() {
        let with = |rules: serde_json::Value| {
            let prof = profile(serde_json::json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": rules
            }));
            compile_for(&prof, Family::X86).unwrap()
        };
        let kill = Arch::X86_64.number("kill").unwrap();
        let run = |p: &Program, a0, a1| interp::run(p, AUDIT_X86_64, kill, [a0, a1, 0, 0, 0, 0]);
        let p = with(serde_json::json!([
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                      {"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]},
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 2,
             "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]}
        ]));
        assert_eq!(
            run(&p, 1, 9),
            RET_ERRNO | 2,
            "argument 1's test comes first"
        );
        assert_eq!(run(&p, 2, 9), RET_ERRNO | 2);
        assert_eq!(run(&p, 1, 15), RET_ALLOW);
        let repeated = with(serde_json::json!([
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"},
                      {"index": 1, "value": 12, "op": "SCMP_CMP_EQ"}]}
        ]));
        assert_eq!(run(&repeated, 1, 10), RET_ERRNO | 1);
        assert_eq!(run(&repeated, 1, 12), RET_ERRNO | 1);
        assert_eq!(run(&repeated, 1, 15), RET_ALLOW);
        let unconditional_last = with(serde_json::json!([
            {"names": ["kill"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]},
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO"}
        ]));
        assert_eq!(run(&unconditional_last, 1, 0), RET_ERRNO | 1);
        let negative = with(serde_json::json!([
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "value": u64::MAX, "op": "SCMP_CMP_EQ"}]}
        ]));
        let kill32 = Arch::I386.number("kill").unwrap();
        let i386 = |a0| {
            interp::run(
                &negative,
                arch::AUDIT_ARCH_I386,
                kill32,
                [a0, 0, 0, 0, 0, 0],
            )
        };
        assert_eq!(
            i386(0xffff_ffff),
            RET_ERRNO | 1,
            "i386 passes -1 as 0xffffffff"
        );
        assert_eq!(
            run(&negative, 0xffff_ffff, 0),
            RET_ALLOW,
            "x86_64 compares 64 bits"
        );
    }

    #[test]
    fn conflicting_rules_are_refused_as_libseccomp_refuses_them() {
        let prof = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
                {"names": ["kill"], "action": "SCMP_ACT_LOG",
                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}
            ]
        }));
        let e = compile_for(&prof, Family::X86).unwrap_err().to_string();
        assert!(e.contains("syscalls[1]") && e.contains("kill"), "{e}");
    }

    #[test]
    fn notify_sets_the_listener_flag_and_needs_a_listener() {
        let rule = serde_json::json!([{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]);
        let with = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock",
            "syscalls": rule
        }));
        let p = compile_for(&with, Family::X86).unwrap();
        assert_eq!(p.flags & FLAG_NEW_LISTENER, FLAG_NEW_LISTENER);
        let nr = Arch::X86_64.number("mkdir").unwrap();
        assert_eq!(interp::run(&p, AUDIT_X86_64, nr, [0; 6]), RET_USER_NOTIF);
        let without = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW", "syscalls": rule
        }));
        let e = compile_for(&without, Family::X86).unwrap_err().to_string();
        assert!(
            e.contains("syscalls[0]") && e.contains("listenerPath"),
            "{e}"
        );
    }

    #[test]
    fn a_docker_sized_profile_fits_the_kernel_limit() {
        let p = compile(&docker_like()).unwrap();
        assert!(p.insns.len() < 1500, "{} instructions", p.insns.len());
        eprintln!("docker-like profile: {} instructions", p.insns.len());
    }

    #[test]
    fn every_jump_lands_inside_the_program() {
        let p = compile(&docker_like()).unwrap();
        for (i, ins) in p.insns.iter().enumerate() {
            let code = (*ins & 0xffff) as u16;
            let (jt, jf, k) = (
                ((*ins >> 16) & 0xff) as usize,
                ((*ins >> 24) & 0xff) as usize,
                (*ins >> 32) as usize,
            );
            let targets = if code == JA {
                vec![k]
            } else if code & 0x07 == 0x05 {
                vec![jt, jf]
            } else {
                vec![]
            };
            for t in targets {
                assert!(
                    i + 1 + t < p.insns.len(),
                    "instruction {i} jumps out of the program"
                );
            }
        }
        let last = p.insns.last().unwrap();
        assert_eq!(
            (*last & 0xffff) as u16,
            RET_K,
            "the program ends with a return"
        );
    }
}
