//! A classic-BPF interpreter for the instructions the compiler emits, so tests can ask a
//! compiled program what it returns for any ABI — also ABIs this machine cannot run.

use super::compile::Program;

/// The program's return value for one syscall, as the kernel would compute it.
pub fn run(p: &Program, audit_arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let mut data = [0u32; 16];
    data[0] = nr;
    data[1] = audit_arch;
    for (i, a) in args.iter().enumerate() {
        data[4 + 2 * i] = *a as u32;
        data[5 + 2 * i] = (*a >> 32) as u32;
    }
    let (mut pc, mut acc) = (0usize, 0u32);
    loop {
        let ins = p.insns[pc];
        let (code, jt, jf, k) = (
            (ins & 0xffff) as u16,
            ((ins >> 16) & 0xff) as usize,
            ((ins >> 24) & 0xff) as usize,
            (ins >> 32) as u32,
        );
        pc += 1;
        match code {
            0x20 => acc = data[(k / 4) as usize],
            0x54 => acc &= k,
            0x06 => return k,
            0x05 => pc += k as usize,
            0x15 | 0x25 | 0x35 => {
                let taken = match code {
                    0x15 => acc == k,
                    0x25 => acc > k,
                    _ => acc >= k,
                };
                pc += if taken { jt } else { jf };
            }
            other => panic!(
                "instruction {other:#x} at {} is not one the compiler emits",
                pc - 1
            ),
        }
    }
}
