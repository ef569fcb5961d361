//! CPU and NUMA-node lists ("0-3,7") for `process.execCPUAffinity` and `linux.memoryPolicy`.

use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxMemoryPolicy, MemoryPolicyFlagType, MemoryPolicyModeType};

/// A bit mask of up to 1024 CPUs or nodes, as sched_setaffinity and set_mempolicy take it.
pub type Mask = [u64; 16];

pub fn parse_list(s: &str, field: &str) -> Result<Mask> {
    let mut mask = [0u64; 16];
    let bad = || Error::invalid(field, format!("{s:?} is not a list like 0-3,7 (0..1023)"));
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (
                a.trim().parse::<usize>().map_err(|_| bad())?,
                b.trim().parse::<usize>().map_err(|_| bad())?,
            ),
            None => {
                let n = part.parse::<usize>().map_err(|_| bad())?;
                (n, n)
            }
        };
        if a > b || b >= 1024 {
            return Err(bad());
        }
        for i in a..=b {
            mask[i / 64] |= 1 << (i % 64);
        }
    }
    Ok(mask)
}

/// `linux.memoryPolicy` as set_mempolicy(2) arguments: mode with flags, and the node mask.
#[derive(Debug, Clone, Copy)]
pub struct MemPolicy {
    pub mode: i32,
    pub nodes: Mask,
}

pub fn mem_policy(p: &LinuxMemoryPolicy) -> Result<MemPolicy> {
    use MemoryPolicyModeType::*;
    let field = "linux.memoryPolicy";
    let mode = match p.mode() {
        MpolDefault => 0,
        MpolPreferred => 1,
        MpolBind => 2,
        MpolInterleave => 3,
        MpolLocal => 4,
        MpolPreferredMany => 5,
        MpolWeightedInterleave => 6,
    };
    let nodes = match p.nodes().as_deref() {
        Some(n) => parse_list(n, &format!("{field}.nodes"))?,
        None => [0; 16],
    };
    let empty = nodes.iter().all(|w| *w == 0);
    if matches!(p.mode(), MpolDefault | MpolLocal) != empty {
        return Err(Error::invalid(
            field,
            "nodes must be given for bind, interleave and preferred, and only for them",
        ));
    }
    let flags = p.flags().iter().flatten().fold(0, |acc, f| {
        acc | match f {
            MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
            MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
            MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
        }
    });
    Ok(MemPolicy {
        mode: mode | flags,
        nodes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        let m = parse_list("0-2,5", "f").unwrap();
        assert_eq!(m[0], 0b100111);
        assert_eq!(parse_list("64", "f").unwrap()[1], 1);
        assert!(parse_list("3-1", "f").is_err());
        assert!(parse_list("x", "f").is_err());
        assert!(parse_list("2000", "f").is_err());
    }
}
