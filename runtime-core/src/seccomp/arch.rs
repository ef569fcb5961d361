//! The ABIs a profile can name, grouped by the machines that run them.
//!
//! A filter is checked against the audit arch of each syscall, so one machine sees only the
//! ABIs of its own family: x86_64 with i386 and x32, aarch64 with 32-bit arm, riscv64 alone.
//! A profile's ABI of another family never reaches the filter and is left out of it.

use super::tables;

pub const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
pub const AUDIT_ARCH_AARCH64: u32 = 0xC000_00B7;
pub const AUDIT_ARCH_ARM: u32 = 0x4000_0028;
pub const AUDIT_ARCH_RISCV64: u32 = 0xC000_00F3;
/// x32 syscalls arrive with AUDIT_ARCH_X86_64 and this bit set in the number.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arch {
    X86_64,
    I386,
    X32,
    Aarch64,
    Arm,
    Riscv64,
}

/// The ABIs one kernel can run side by side; the first is the native one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    X86,
    Arm,
    Riscv,
}

impl Family {
    /// The family of the machine Berth was built for.
    pub fn native() -> Option<Family> {
        if cfg!(target_arch = "x86_64") {
            Some(Family::X86)
        } else if cfg!(target_arch = "aarch64") {
            Some(Family::Arm)
        } else if cfg!(target_arch = "riscv64") {
            Some(Family::Riscv)
        } else {
            None
        }
    }

    pub fn abis(self) -> &'static [Arch] {
        match self {
            Family::X86 => &[Arch::X86_64, Arch::I386, Arch::X32],
            Family::Arm => &[Arch::Aarch64, Arch::Arm],
            Family::Riscv => &[Arch::Riscv64],
        }
    }

    pub fn native_abi(self) -> Arch {
        self.abis()[0]
    }
}

impl Arch {
    pub fn number(self, name: &str) -> Option<u32> {
        let t = match self {
            Arch::X86_64 => tables::X86_64,
            Arch::I386 => tables::I386,
            Arch::X32 => tables::X32,
            Arch::Aarch64 => tables::AARCH64,
            Arch::Arm => tables::ARM,
            Arch::Riscv64 => tables::RISCV64,
        };
        t.binary_search_by(|(n, _)| n.cmp(&name))
            .ok()
            .map(|i| t[i].1)
    }

    /// The audit arch the kernel reports for this ABI's syscalls.
    pub fn audit(self) -> u32 {
        match self {
            Arch::X86_64 | Arch::X32 => AUDIT_ARCH_X86_64,
            Arch::I386 => AUDIT_ARCH_I386,
            Arch::Aarch64 => AUDIT_ARCH_AARCH64,
            Arch::Arm => AUDIT_ARCH_ARM,
            Arch::Riscv64 => AUDIT_ARCH_RISCV64,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "SCMP_ARCH_X86_64",
            Arch::I386 => "SCMP_ARCH_X86",
            Arch::X32 => "SCMP_ARCH_X32",
            Arch::Aarch64 => "SCMP_ARCH_AARCH64",
            Arch::Arm => "SCMP_ARCH_ARM",
            Arch::Riscv64 => "SCMP_ARCH_RISCV64",
        }
    }

    /// Whether the ABI passes 64-bit arguments; on the others libseccomp compares only the
    /// low 32 bits of a value, whatever the profile gives.
    pub fn wide(self) -> bool {
        matches!(self, Arch::X86_64 | Arch::Aarch64 | Arch::Riscv64)
    }

    pub fn family(self) -> Family {
        match self {
            Arch::X86_64 | Arch::I386 | Arch::X32 => Family::X86,
            Arch::Aarch64 | Arch::Arm => Family::Arm,
            Arch::Riscv64 => Family::Riscv,
        }
    }

    pub const ALL: [Arch; 6] = [
        Arch::X86_64,
        Arch::I386,
        Arch::X32,
        Arch::Aarch64,
        Arch::Arm,
        Arch::Riscv64,
    ];
}

/// What an OCI architecture name means.
pub enum Known {
    /// An ABI the compiler has syscall tables for.
    Abi(Arch),
    /// A real architecture without tables here: Berth does not run on it, so a profile may
    /// name it (Docker's default profile does) but it never needs a filter.
    Other,
    Unknown,
}

pub fn from_oci(name: &str) -> Known {
    if let Some(a) = Arch::ALL.iter().find(|a| a.name() == name) {
        return Known::Abi(*a);
    }
    match name {
        "SCMP_ARCH_MIPS"
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
        | "SCMP_ARCH_SHEB" => Known::Other,
        _ => Known::Unknown,
    }
}
