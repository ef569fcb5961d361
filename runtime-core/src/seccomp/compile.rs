//! The compiler: profile → sock_filter instructions.

use super::arch::{self, Arch, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};
use crate::error::{Error, Result};
use oci_spec::runtime::{
    LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator, LinuxSyscall,
};

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
const RET_LOG: u32 = 0x7ffc_0000;
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
fn action(a: LinuxSeccompAction, errno: Option<u32>, field: &str) -> Result<u32> {
    use LinuxSeccompAction::*;
    Ok(match a {
        ScmpActKill | ScmpActKillThread => RET_KILL_THREAD,
        ScmpActKillProcess => RET_KILL_PROCESS,
        ScmpActTrap => RET_TRAP,
        ScmpActErrno => RET_ERRNO | (errno.unwrap_or(libc::EPERM as u32) & 0xffff),
        ScmpActTrace => RET_TRACE | (errno.unwrap_or(libc::EPERM as u32) & 0xffff),
        ScmpActLog => RET_LOG,
        ScmpActAllow => RET_ALLOW,
        ScmpActNotify => {
            return Err(Error::Unsupported(format!(
            "{field}: SCMP_ACT_NOTIFY (a seccomp agent over listenerPath) is not implemented yet"
        )))
        }
    })
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
    fn patch_jf(&mut self, at: usize, to: usize) {
        self.code[at].2 = Some(to);
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

pub fn compile(s: &LinuxSeccomp) -> Result<Program> {
    let default = action(
        s.default_action(),
        s.default_errno_ret(),
        "linux.seccomp.defaultAction",
    )?;
    let archs = archs(s)?;
    let syscalls = s.syscalls().clone().unwrap_or_default();
    let mut asm = Asm::default();
    asm.ld(OFF_ARCH);
    // Conditional jumps reach 255 instructions at most: each test jumps over one `ja`, which
    // carries the long distance.
    let mut entry_jumps = Vec::new();
    let has = |a: Arch| archs.contains(&a);
    for (audit, a) in [
        (AUDIT_ARCH_X86_64, Arch::X86_64),
        (AUDIT_ARCH_I386, Arch::I386),
    ] {
        if has(a) || (a == Arch::X86_64 && has(Arch::X32)) {
            let here = asm.here();
            asm.jmp(JEQ_K, audit, None, Some(here + 2));
            entry_jumps.push((asm.ja(None), a));
        }
    }
    // An ABI the profile does not list is refused outright, as libseccomp does.
    asm.ret(RET_KILL_PROCESS);
    for (ja, a) in entry_jumps {
        let start = asm.here();
        asm.code[ja].1 = Some(start);
        asm.ld(OFF_NR);
        if a == Arch::X86_64 {
            // x32 numbers carry X32_SYSCALL_BIT; they get their own section or the kill.
            let here = asm.here();
            asm.jmp(JGE_K, X32_SYSCALL_BIT, None, Some(here + 2));
            let to_x32 = asm.ja(None);
            if has(Arch::X86_64) {
                section(&mut asm, Arch::X86_64, &syscalls, default)?;
            } else {
                asm.ret(RET_KILL_PROCESS);
            }
            let x32 = asm.here();
            asm.code[to_x32].1 = Some(x32);
            if has(Arch::X32) {
                section(&mut asm, Arch::X32, &syscalls, default)?;
            } else {
                asm.ret(RET_KILL_PROCESS);
            }
        } else {
            section(&mut asm, a, &syscalls, default)?;
        }
    }
    Ok(Program {
        insns: asm.finish()?,
        flags: flags(s),
    })
}

/// The profile's architectures that this machine can run; none listed means the native one.
fn archs(s: &LinuxSeccomp) -> Result<Vec<Arch>> {
    let mut out = Vec::new();
    for (i, a) in s.architectures().iter().flatten().enumerate() {
        let name = serde_json::to_value(a)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        match arch::from_oci(&name) {
            arch::Known::Here(a) => out.push(a),
            arch::Known::Foreign => {}
            arch::Known::Unknown => {
                return Err(Error::invalid(
                    format!("linux.seccomp.architectures[{i}]"),
                    format!("{name:?} is not an architecture"),
                ))
            }
        }
    }
    if out.is_empty() {
        out.push(Arch::X86_64);
    }
    Ok(out)
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

/// The checks for one ABI (the syscall number is in A), ending with the default action.
fn section(asm: &mut Asm, a: Arch, rules: &[LinuxSyscall], default: u32) -> Result<()> {
    // Group rules by syscall number, keeping the profile's order within each.
    let mut groups: Vec<(u32, Vec<(usize, &LinuxSyscall)>)> = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        for name in r.names() {
            // A name this ABI does not have is skipped, as runc does.
            let Some(nr) = a.number(name) else { continue };
            match groups.iter_mut().find(|g| g.0 == nr) {
                Some(g) => g.1.push((i, r)),
                None => groups.push((nr, vec![(i, r)])),
            }
        }
    }
    // A syscall with one plain rule is one `jeq` into a shared `ret`; the rest get a block.
    let (simple, complex): (Vec<_>, Vec<_>) = groups.into_iter().partition(|(_, list)| {
        list.len() == 1 && list[0].1.args().as_ref().is_none_or(|a| a.is_empty())
    });
    for (nr, list) in complex {
        let here = asm.here();
        asm.jmp(JEQ_K, nr, Some(here + 2), None);
        let ja = asm.ja(None);
        for (i, r) in list {
            rule(asm, i, r)?;
        }
        asm.ret(default);
        let next = asm.here();
        asm.code[ja].1 = Some(next);
        // The argument loads overwrote A: load the syscall number again.
        asm.ld(OFF_NR);
    }
    let mut plain = Vec::new();
    for (nr, list) in simple {
        let (i, r) = list[0];
        let act = action(
            r.action(),
            r.errno_ret(),
            &format!("linux.seccomp.syscalls[{i}]"),
        )?;
        if act != default {
            plain.push((nr, act));
        }
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

/// One rule: every argument condition must hold; then its action. A failed condition jumps
/// past the rule's `ret`.
fn rule(asm: &mut Asm, i: usize, r: &LinuxSyscall) -> Result<()> {
    let field = format!("linux.seccomp.syscalls[{i}]");
    let act = action(r.action(), r.errno_ret(), &field)?;
    let mut fails = Vec::new();
    for (j, arg) in r.args().iter().flatten().enumerate() {
        if arg.index() > 5 {
            return Err(Error::invalid(
                format!("{field}.args[{j}]"),
                format!("index {} is above 5", arg.index()),
            ));
        }
        cond(asm, arg, &mut fails);
    }
    asm.ret(act);
    let end = asm.here();
    for f in fails {
        let (op, jt, jf, _) = asm.code[f];
        if op == JA {
            asm.code[f].1 = Some(end);
        } else {
            if jt == Some(usize::MAX) {
                asm.code[f].1 = Some(end);
            }
            if jf == Some(usize::MAX) {
                asm.code[f].2 = Some(end);
            }
        }
    }
    Ok(())
}

/// Appends a 64-bit comparison of one argument; jumps marked `usize::MAX` go to the rule's end.
fn cond(asm: &mut Asm, a: &LinuxSeccompArg, fails: &mut Vec<usize>) {
    const FAIL: Option<usize> = Some(usize::MAX);
    let hi_off = OFF_ARGS + 8 * a.index() as u32 + 4;
    let lo_off = OFF_ARGS + 8 * a.index() as u32;
    let v = a.value();
    let (vhi, vlo) = ((v >> 32) as u32, v as u32);
    use LinuxSeccompOperator::*;
    match a.op() {
        ScmpCmpEq => {
            asm.ld(hi_off);
            fails.push(asm.jmp(JEQ_K, vhi, None, FAIL));
            asm.ld(lo_off);
            fails.push(asm.jmp(JEQ_K, vlo, None, FAIL));
        }
        ScmpCmpNe => {
            // Fails only when both halves are equal.
            asm.ld(hi_off);
            let j = asm.jmp(JEQ_K, vhi, None, None);
            asm.ld(lo_off);
            fails.push(asm.jmp(JEQ_K, vlo, FAIL, None));
            let pass = asm.here();
            asm.patch_jf(j, pass);
        }
        ScmpCmpMaskedEq => {
            let want = a.value_two().unwrap_or(0);
            asm.ld(hi_off);
            asm.and((v >> 32) as u32);
            fails.push(asm.jmp(JEQ_K, (want >> 32) as u32, None, FAIL));
            asm.ld(lo_off);
            asm.and(v as u32);
            fails.push(asm.jmp(JEQ_K, want as u32, None, FAIL));
        }
        op => ordered(asm, op, vhi, vlo, hi_off, lo_off, fails),
    }
}

/// GT, GE, LT, LE: decided by the high half unless it is equal, then by the low half.
fn ordered(
    asm: &mut Asm,
    op: LinuxSeccompOperator,
    vhi: u32,
    vlo: u32,
    hi: u32,
    lo: u32,
    fails: &mut Vec<usize>,
) {
    use LinuxSeccompOperator::*;
    const FAIL: Option<usize> = Some(usize::MAX);
    // greater: does "above" pass? (GT/GE yes, LT/LE no)
    let above_passes = matches!(op, ScmpCmpGt | ScmpCmpGe);
    asm.ld(hi);
    let gt = asm.jmp(JGT_K, vhi, None, None);
    let eq = asm.jmp(JEQ_K, vhi, None, None);
    // high half below: pass for LT/LE, fail for GT/GE
    let below = if above_passes {
        asm.ja(FAIL)
    } else {
        asm.ja(None)
    };
    if above_passes {
        fails.push(below);
    }
    let low = asm.here();
    asm.patch_jt(eq, low);
    asm.patch_jf(eq, below);
    asm.ld(lo);
    let (code, pass_when_true) = match op {
        ScmpCmpGt => (JGT_K, true),
        ScmpCmpGe => (JGE_K, true),
        ScmpCmpLt => (JGE_K, false),
        _ => (JGT_K, false), // LE: fails when greater
    };
    let j = if pass_when_true {
        asm.jmp(code, vlo, None, FAIL)
    } else {
        asm.jmp(code, vlo, FAIL, None)
    };
    fails.push(j);
    let pass = asm.here();
    if above_passes {
        asm.patch_jt(gt, pass);
    } else {
        fails.push(gt);
        asm.code[gt].1 = FAIL;
    }
    if !above_passes {
        asm.code[below].1 = Some(pass);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docker_like() -> LinuxSeccomp {
        serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/data/seccomp-docker-like.json"
        )))
        .unwrap()
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
