//! The device controller of cgroup v2 is a BPF program: this builds one from the same ordered
//! rules the v1 controller takes. The program checks the rules from last to first and the
//! first that matches decides (what writing them in order to v1 means); nothing matching is
//! denied.

/// One rule: `None` is a wildcard. `access` bits: m=1, r=2, w=4 (BPF_DEVCG_ACC_*).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    /// 1 block, 2 char (BPF_DEVCG_DEV_*), `None` for both.
    pub kind: Option<u32>,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u32,
}

/// One eBPF instruction as the kernel's `struct bpf_insn`, packed into a u64.
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    let regs = (src << 4) | (dst & 0x0f);
    u64::from(code)
        | (u64::from(regs) << 8)
        | ((off as u16 as u64) << 16)
        | ((imm as u32 as u64) << 32)
}

const LDX_W: u8 = 0x61; // r_dst = *(u32 *)(r_src + off)
const MOV64_REG: u8 = 0xbf;
const MOV64_IMM: u8 = 0xb7;
const AND64_IMM: u8 = 0x57;
const RSH64_IMM: u8 = 0x77;
const JNE_IMM: u8 = 0x55;
const JEQ_IMM: u8 = 0x15;
const EXIT: u8 = 0x95;

/// The program: load type (r3), access (r4), major (r5), minor (r6) from the context, then one
/// block per rule.
pub fn program(rules: &[Rule]) -> Vec<u64> {
    let mut p = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(MOV64_REG, 3, 2, 0, 0),
        insn(AND64_IMM, 3, 0, 0, 0xffff),
        insn(MOV64_REG, 4, 2, 0, 0),
        insn(RSH64_IMM, 4, 0, 0, 16),
        insn(LDX_W, 5, 1, 4, 0),
        insn(LDX_W, 6, 1, 8, 0),
    ];
    for r in rules.iter().rev() {
        let b = block(r);
        let unconditional = b.len() == 2;
        p.extend(b);
        // A rule that matches everything decides alone; the verifier refuses code after it
        // as unreachable.
        if unconditional {
            return p;
        }
    }
    p.push(insn(MOV64_IMM, 0, 0, 0, 0));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

/// `if matches(rule) { return allow }`; every failed test jumps past the block.
fn block(r: &Rule) -> Vec<u64> {
    // Tests as (code, reg, imm), with the jump offset filled in once the block's length is known.
    let mut tests: Vec<(u8, u8, i32)> = Vec::new();
    if let Some(k) = r.kind {
        tests.push((JNE_IMM, 3, k as i32));
    }
    // Allow: every requested bit must be in the rule. Deny: any requested bit in the rule.
    let mut pre = Vec::new();
    if r.allow && r.access != 7 {
        pre.push(insn(MOV64_REG, 7, 4, 0, 0));
        pre.push(insn(AND64_IMM, 7, 0, 0, (!r.access & 7) as i32));
        tests.push((JNE_IMM, 7, 0));
    } else if !r.allow && r.access != 7 {
        pre.push(insn(MOV64_REG, 7, 4, 0, 0));
        pre.push(insn(AND64_IMM, 7, 0, 0, r.access as i32));
        tests.push((JEQ_IMM, 7, 0));
    }
    if let Some(m) = r.major {
        tests.push((JNE_IMM, 5, m as i32));
    }
    if let Some(m) = r.minor {
        tests.push((JNE_IMM, 6, m as i32));
    }
    let len = pre.len() + tests.len() + 2;
    let mut out = pre;
    for (i, (code, reg, imm)) in tests.iter().enumerate() {
        let here = out.len();
        debug_assert!(i < tests.len());
        out.push(insn(*code, *reg, 0, (len - here - 1) as i16, *imm));
    }
    out.push(insn(MOV64_IMM, 0, 0, 0, i32::from(r.allow)));
    out.push(insn(EXIT, 0, 0, 0, 0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_land_after_their_block() {
        let r = Rule {
            allow: true,
            kind: Some(2),
            major: Some(1),
            minor: Some(3),
            access: 6,
        };
        let b = block(&r);
        // mov, and, jne type, jne access, jne major, jne minor, mov r0, exit
        assert_eq!(b.len(), 8);
        for (i, ins) in b.iter().enumerate() {
            let code = (*ins & 0xff) as u8;
            if code == JNE_IMM || code == JEQ_IMM {
                let off = ((*ins >> 16) & 0xffff) as i16 as usize;
                assert_eq!(
                    i + off + 1,
                    b.len(),
                    "jump at {i} must land right after the block"
                );
            }
        }
    }

    #[test]
    fn nothing_follows_a_rule_that_matches_everything() {
        let all = Rule {
            allow: false,
            kind: None,
            major: None,
            minor: None,
            access: 7,
        };
        let null = Rule {
            allow: true,
            kind: Some(2),
            major: Some(1),
            minor: Some(3),
            access: 7,
        };
        let p = program(&[all.clone(), null]);
        // prologue (7) + null's block (5: type, major, minor, mov, exit) + deny-all (2)
        assert_eq!(p.len(), 7 + 5 + 2);
        assert_eq!(p[p.len() - 2], insn(MOV64_IMM, 0, 0, 0, 0));
    }

    #[test]
    fn empty_rules_deny_everything() {
        let p = program(&[]);
        assert_eq!(p[p.len() - 2], insn(MOV64_IMM, 0, 0, 0, 0));
    }
}
