//! berth-probe: makes raw syscalls and prints what the kernel answered, one line per probe,
//! so seccomp filters can be compared exactly. Built by the tests with plain `rustc` as a
//! static binary (no crates) and copied into the test rootfs as /bin/probe.
//!
//! Usage: probe SPEC...   where SPEC is ABI:NR[:ARG,...]
//!   ABI  64  (x86_64 `syscall`), 32 (i386 `int 0x80`, up to 5 args), x32 (NR | 0x40000000)
//!   ARG  decimal or 0x-hex, up to 6
//! Output per SPEC: "SPEC => RET" or "SPEC => errno N". A successful clone/fork child exits
//! at once with status 0. The SPEC `comm` prints the process's own name instead.
//!
//! `no_main`: Rust's runtime start-up makes syscalls of its own (rt_sigaction for SIGPIPE,
//! poll on the std fds) that a profile under test may deny; from C's main only the probes run.

#![no_main]

use std::io::Write;

extern "C" {
    fn syscall(nr: i64, ...) -> i64;
    fn getpid() -> i32;
    fn _exit(code: i32) -> !;
}

fn parse(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Returns the raw kernel result (negative errno on failure).
fn call(abi: &str, nr: u64, a: [u64; 6]) -> Option<i64> {
    let raw = |nr: u64| unsafe {
        let r = syscall(nr as i64, a[0], a[1], a[2], a[3], a[4], a[5]);
        if r == -1 {
            -(std::io::Error::last_os_error().raw_os_error().unwrap_or(0) as i64)
        } else {
            r
        }
    };
    match abi {
        "64" => Some(raw(nr)),
        "x32" => Some(raw(nr | 0x4000_0000)),
        "32" => Some(int80(nr as u32, a)),
        _ => None,
    }
}

#[cfg(target_arch = "x86_64")]
fn int80(nr: u32, a: [u64; 6]) -> i64 {
    let ret: u32;
    // ebx is reserved by LLVM: swap the first argument in around the call.
    unsafe {
        std::arch::asm!(
            "xchg {a0:r}, rbx",
            "int 0x80",
            "xchg {a0:r}, rbx",
            a0 = inout(reg) a[0] => _,
            inlateout("eax") nr => ret,
            in("ecx") a[1] as u32,
            in("edx") a[2] as u32,
            in("esi") a[3] as u32,
            in("edi") a[4] as u32,
        );
    }
    ret as i32 as i64
}

#[cfg(not(target_arch = "x86_64"))]
fn int80(_: u32, _: [u64; 6]) -> i64 {
    -38
}

#[no_mangle]
extern "C" fn main(argc: i32, argv: *const *const std::ffi::c_char) -> i32 {
    let args = (1..argc.max(1) as usize).map(|i| {
        // SAFETY: the kernel passes argc valid C strings in argv.
        let arg = unsafe { std::ffi::CStr::from_ptr(*argv.add(i)) };
        arg.to_string_lossy().into_owned()
    });
    probe_all(args);
    0
}

fn probe_all(args: impl Iterator<Item = String>) {
    let me = unsafe { getpid() };
    let mut out = std::io::stdout().lock();
    for spec in args {
        if spec == "comm" {
            let name = std::fs::read_to_string("/proc/self/comm").unwrap_or_default();
            let _ = write!(out, "{name}");
            continue;
        }
        let mut parts = spec.split(':');
        let abi = parts.next().unwrap_or("");
        let nr = parts.next().and_then(parse);
        let mut args = [0u64; 6];
        let list = parts.next().unwrap_or("");
        let parsed = list.split(',').filter(|s| !s.is_empty()).map(parse);
        let mut ok = nr.is_some();
        for (slot, v) in args.iter_mut().zip(parsed) {
            ok &= v.is_some();
            *slot = v.unwrap_or(0);
        }
        let ret = if ok { call(abi, nr.unwrap_or(0), args) } else { None };
        if unsafe { getpid() } != me {
            unsafe { _exit(0) }
        }
        let _ = match ret {
            None => writeln!(out, "{spec} => bad probe"),
            Some(r) if r < 0 && r > -4096 => writeln!(out, "{spec} => errno {}", -r),
            Some(r) => writeln!(out, "{spec} => {r}"),
        };
        let _ = out.flush();
    }
}
