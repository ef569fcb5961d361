//! The architectures a profile names, and which of them this machine can run.

use super::tables;

pub const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// x32 syscalls arrive with AUDIT_ARCH_X86_64 and this bit set in the number.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    I386,
    X32,
}

impl Arch {
    pub fn number(self, name: &str) -> Option<u32> {
        let t = match self {
            Arch::X86_64 => tables::X86_64,
            Arch::I386 => tables::I386,
            Arch::X32 => tables::X32,
        };
        t.binary_search_by(|(n, _)| n.cmp(&name))
            .ok()
            .map(|i| t[i].1)
    }

    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "SCMP_ARCH_X86_64",
            Arch::I386 => "SCMP_ARCH_X86",
            Arch::X32 => "SCMP_ARCH_X32",
        }
    }
}

/// What an OCI architecture name means on this machine.
pub enum Known {
    /// An ABI the kernel here can run.
    Here(Arch),
    /// A foreign ABI: it can never make a syscall here, so it needs no filter.
    Foreign,
    Unknown,
}

pub fn from_oci(name: &str) -> Known {
    match name {
        "SCMP_ARCH_X86_64" => Known::Here(Arch::X86_64),
        "SCMP_ARCH_X86" => Known::Here(Arch::I386),
        "SCMP_ARCH_X32" => Known::Here(Arch::X32),
        "SCMP_ARCH_AARCH64"
        | "SCMP_ARCH_ARM"
        | "SCMP_ARCH_RISCV64"
        | "SCMP_ARCH_MIPS"
        | "SCMP_ARCH_MIPS64"
        | "SCMP_ARCH_MIPS64N32"
        | "SCMP_ARCH_MIPSEL"
        | "SCMP_ARCH_MIPSEL64"
        | "SCMP_ARCH_MIPSEL64N32"
        | "SCMP_ARCH_PPC"
        | "SCMP_ARCH_PPC64"
        | "SCMP_ARCH_PPC64LE"
        | "SCMP_ARCH_S390"
        | "SCMP_ARCH_S390X"
        | "SCMP_ARCH_PARISC"
        | "SCMP_ARCH_PARISC64"
        | "SCMP_ARCH_LOONGARCH64"
        | "SCMP_ARCH_M68K"
        | "SCMP_ARCH_SH"
        | "SCMP_ARCH_SHEB" => Known::Foreign,
        _ => Known::Unknown,
    }
}
