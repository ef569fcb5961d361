//! From a profile's rules to libseccomp rules for one ABI, as runc does it: a rule with the
//! default action is dropped; a rule whose conditions name one argument twice becomes one
//! rule per condition (so either condition matches, runc's long-standing reading that crun
//! shares); and on i386 a socket or SysV IPC call is also filtered where it arrives through
//! its multiplexer (`socketcall`, `ipc`), with the call's code as argument 0, as libseccomp
//! does.

use super::arch::Arch;
use super::compile::action;
use super::db::{Arg, Db, Op, Rule};
use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxSeccompArg, LinuxSeccompOperator, LinuxSyscall};

/// The database of one ABI, every rule added in profile order.
pub fn database(a: Arch, rules: &[LinuxSyscall], default: u32) -> Result<Db> {
    let mut db = Db::new(a.wide());
    for (i, r) in rules.iter().enumerate() {
        let act = action(r.action(), r.errno_ret());
        let sets = condition_sets(i, r.args().as_deref().unwrap_or(&[]))?;
        if act == default {
            continue;
        }
        for name in r.names() {
            for args in &sets {
                for rule in for_abi(a, name, act, args) {
                    db.add(&rule).map_err(|_| conflict(i, name, a))?;
                }
            }
        }
    }
    Ok(db)
}

fn conflict(i: usize, name: &str, a: Arch) -> Error {
    Error::invalid(
        format!("linux.seccomp.syscalls[{i}]"),
        format!(
            "{name} on {}: its conditions meet an earlier rule's with another action; \
             libseccomp, and so runc and crun, refuse such a profile",
            a.name()
        ),
    )
}

/// The condition sets a rule adds: one with every condition, or one per condition when an
/// argument index repeats.
fn condition_sets(i: usize, args: &[LinuxSeccompArg]) -> Result<Vec<[Option<Arg>; 6]>> {
    let mut seen = [false; 6];
    let mut repeated = false;
    for (j, a) in args.iter().enumerate() {
        let Some(slot) = seen.get_mut(a.index()) else {
            return Err(Error::invalid(
                format!("linux.seccomp.syscalls[{i}].args[{j}]"),
                format!("index {} is above 5", a.index()),
            ));
        };
        repeated |= *slot;
        *slot = true;
    }
    if !repeated {
        let mut set = [None; 6];
        for a in args {
            set[a.index()] = Some(arg(a));
        }
        return Ok(vec![set]);
    }
    Ok(args
        .iter()
        .map(|a| {
            let mut set = [None; 6];
            set[a.index()] = Some(arg(a));
            set
        })
        .collect())
}

fn arg(a: &LinuxSeccompArg) -> Arg {
    use LinuxSeccompOperator::*;
    let op = match a.op() {
        ScmpCmpNe => Op::Ne,
        ScmpCmpLt => Op::Lt,
        ScmpCmpLe => Op::Le,
        ScmpCmpEq => Op::Eq,
        ScmpCmpGe => Op::Ge,
        ScmpCmpGt => Op::Gt,
        ScmpCmpMaskedEq => Op::MaskedEq,
    };
    if op == Op::MaskedEq {
        Arg {
            op,
            mask: a.value(),
            datum: a.value_two().unwrap_or(0),
        }
    } else {
        Arg {
            op,
            mask: u64::MAX,
            datum: a.value(),
        }
    }
}

/// i386's multiplexers and the codes of the calls they carry (linux/net.h, linux/ipc.h).
const SOCKETCALL: (&str, &[(&str, u64)]) = (
    "socketcall",
    &[
        ("socket", 1),
        ("bind", 2),
        ("connect", 3),
        ("listen", 4),
        ("accept", 5),
        ("getsockname", 6),
        ("getpeername", 7),
        ("socketpair", 8),
        ("send", 9),
        ("recv", 10),
        ("sendto", 11),
        ("recvfrom", 12),
        ("shutdown", 13),
        ("setsockopt", 14),
        ("getsockopt", 15),
        ("sendmsg", 16),
        ("recvmsg", 17),
        ("accept4", 18),
        ("recvmmsg", 19),
        ("sendmmsg", 20),
    ],
);
const IPC: (&str, &[(&str, u64)]) = (
    "ipc",
    &[
        ("semop", 1),
        ("semget", 2),
        ("semctl", 3),
        ("semtimedop", 4),
        ("msgsnd", 11),
        ("msgrcv", 12),
        ("msgget", 13),
        ("msgctl", 14),
        ("shmat", 21),
        ("shmdt", 22),
        ("shmget", 23),
        ("shmctl", 24),
    ],
);

/// The rules `name` gives on ABI `a`: none where the ABI lacks it; on i386 a socket or IPC
/// call gives the multiplexer's rule first (argument 0 is then the call's code, whatever
/// the profile said of it), then the direct call's, as libseccomp's `abi_rule_add`.
fn for_abi(a: Arch, name: &str, action: u32, args: &[Option<Arg>; 6]) -> Vec<Rule> {
    let mut out = Vec::new();
    if a == Arch::I386 {
        for (mux, calls) in [SOCKETCALL, IPC] {
            let code = calls.iter().find(|(n, _)| *n == name).map(|(_, c)| *c);
            if let (Some(code), Some(nr)) = (code, a.number(mux)) {
                let mut muxed = *args;
                muxed[0] = Some(Arg {
                    op: Op::Eq,
                    mask: u64::MAX,
                    datum: code,
                });
                out.push(Rule {
                    action,
                    syscall: nr,
                    args: muxed,
                });
            }
        }
    }
    if let Some(nr) = a.number(name) {
        out.push(Rule {
            action,
            syscall: nr,
            args: *args,
        });
    }
    out
}
