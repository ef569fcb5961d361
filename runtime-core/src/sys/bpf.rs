//! The bpf(2) commands the device controller needs on cgroup v2: load a program, attach it,
//! and find and detach the programs it replaces.

use super::{check, Errno, SysResult};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

const BPF_PROG_LOAD: i32 = 5;
const BPF_PROG_ATTACH: i32 = 8;
const BPF_PROG_DETACH: i32 = 9;
const BPF_PROG_GET_FD_BY_ID: i32 = 13;
const BPF_PROG_QUERY: i32 = 16;
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

/// Detaches one device program from a cgroup directory.
pub fn detach_device_program(cgroup: &OwnedFd, prog: &OwnedFd) -> SysResult<()> {
    use std::os::fd::AsRawFd;
    let mut attr = ProgAttach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: 0,
        replace_bpf_fd: 0,
        pad: [0; 44],
    };
    // SAFETY: `attr` is a valid BPF_PROG_DETACH argument of the size passed.
    check(unsafe { bpf(BPF_PROG_DETACH, &mut attr) }).map(drop)
}

#[repr(C)]
struct ProgQuery {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    pad: [u8; 44],
}

#[repr(C)]
struct GetFdById {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
    pad: [u8; 52],
}

/// The device programs attached to a cgroup directory now, opened (at most 64).
pub fn attached_device_programs(cgroup: &OwnedFd) -> SysResult<Vec<OwnedFd>> {
    use std::os::fd::AsRawFd;
    let mut ids = [0u32; 64];
    let mut attr = ProgQuery {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        query_flags: 0,
        attach_flags: 0,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        pad: [0; 44],
    };
    // SAFETY: `attr` points at `ids`, whose length it gives; the kernel writes `prog_cnt`.
    check(unsafe { bpf(BPF_PROG_QUERY, &mut attr) })?;
    let count = (attr.prog_cnt as usize).min(ids.len());
    ids[..count]
        .iter()
        .map(|&id| {
            let mut get = GetFdById {
                prog_id: id,
                next_id: 0,
                open_flags: 0,
                pad: [0; 52],
            };
            // SAFETY: a valid BPF_PROG_GET_FD_BY_ID argument; the fd it returns is ours.
            let fd = check(unsafe { bpf(BPF_PROG_GET_FD_BY_ID, &mut get) })?;
            // SAFETY: the kernel just made this fd for us (bpf fds are close-on-exec).
            Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
        })
        .collect()
}

/// bpf(2) with an argument block of type `T`, which the kernel may write back into.
///
/// # Safety
/// `attr` must be a valid argument for `cmd`, and any pointers in it valid for the kernel.
unsafe fn bpf<T>(cmd: i32, attr: &mut T) -> libc::c_long {
    // SAFETY: the caller vouches for `attr`.
    unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, std::mem::size_of::<T>()) }
}
