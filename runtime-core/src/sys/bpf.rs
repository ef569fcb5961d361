//! The two bpf(2) commands the device controller needs on cgroup v2.

use super::{check, Errno, SysResult};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

const BPF_PROG_LOAD: i32 = 5;
const BPF_PROG_ATTACH: i32 = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The leading fields of the kernel's `union bpf_attr` for BPF_PROG_LOAD, zero-padded to the
/// size the kernel checks (unknown trailing bytes must be zero).
#[repr(C)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    pad: [u8; 80],
}

#[repr(C)]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
    pad: [u8; 44],
}

/// Loads a BPF_PROG_TYPE_CGROUP_DEVICE program (8-byte instructions); the verifier's log goes
/// to `log` when loading fails.
pub fn load_device_program(insns: &[u64], log: &mut [u8]) -> SysResult<OwnedFd> {
    let license = c"Apache-2.0";
    let attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        kern_version: 0,
        prog_flags: 0,
        pad: [0; 80],
    };
    let fd = check(unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const ProgLoad,
            std::mem::size_of::<ProgLoad>(),
        )
    })?;
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Attaches a device program to a cgroup directory (alongside any already there).
pub fn attach_device_program(cgroup: RawFd, prog: RawFd) -> SysResult<()> {
    if cgroup < 0 || prog < 0 {
        return Err(Errno(libc::EBADF));
    }
    let attr = ProgAttach {
        target_fd: cgroup as u32,
        attach_bpf_fd: prog as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        replace_bpf_fd: 0,
        pad: [0; 44],
    };
    check(unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_ATTACH,
            &attr as *const ProgAttach,
            std::mem::size_of::<ProgAttach>(),
        )
    })
    .map(drop)
}
