//! `exec`: a process from `--process FILE`, or the container's own process with the command
//! line's changes (args, env, cwd, user, capabilities, tty), as runc builds it.

use super::{fail, tty, CliError, CliResult};
use crate::cli::ExecArgs;
use berth_core::oci_spec::runtime::{Capability, LinuxCapabilities, Process};
use berth_core::{ConsoleSocket, ExecOptions, Runtime};
use std::str::FromStr;

pub fn exec(rt: &Runtime, a: ExecArgs) -> CliResult<i32> {
    let c = rt.load(&a.id)?;
    let process = build_process(&a, c.spec().process().as_ref())?;
    let sigfd = if a.detach {
        None
    } else {
        Some(tty::block_signals()?)
    };
    let mut local = None;
    let console_socket = match (
        &a.console_socket,
        process.terminal().unwrap_or(false),
        a.detach,
    ) {
        (Some(p), _, _) => Some(ConsoleSocket::Path(p.clone())),
        (None, true, false) => {
            let (ours, theirs) = tty::console_pair()?;
            local = Some(ours);
            Some(ConsoleSocket::Fd(theirs))
        }
        (None, true, true) => {
            return fail("cannot allocate a tty for a detached process without --console-socket")
        }
        _ => None,
    };
    let opts = ExecOptions {
        console_socket,
        pid_file: a.pid_file.clone(),
        preserve_fds: a.preserve_fds,
        stdio: None,
    };
    let proc_ = c.exec(&process, opts)?;
    drop(c);
    let Some(sigfd) = sigfd else { return Ok(0) };
    let master = local.as_ref().map(tty::receive_master).transpose()?;
    tty::supervise(proc_.pid, sigfd, master)
}

fn build_process(a: &ExecArgs, base: Option<&Process>) -> CliResult<Process> {
    if let Some(path) = &a.process {
        let text = std::fs::read(path)
            .map_err(|e| CliError(format!("--process {}: {e}", path.display())))?;
        return serde_json::from_slice(&text)
            .map_err(|e| CliError(format!("--process {}: {e}", path.display())));
    }
    if a.command.is_empty() {
        return fail("exec needs a command to run, or --process");
    }
    let mut p = base.cloned().unwrap_or_default();
    p.set_args(Some(a.command.clone()));
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(a.env.iter().cloned());
    p.set_env(Some(env));
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    p.set_terminal(Some(a.tty));
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(u) = &a.user {
        let (uid, gid) = parse_user(u)?;
        p.user_mut().set_uid(uid);
        p.user_mut().set_gid(gid);
    }
    if !a.additional_gids.is_empty() {
        p.user_mut()
            .set_additional_gids(Some(a.additional_gids.clone()));
    }
    add_caps(&mut p, &a.cap)?;
    Ok(p)
}

fn parse_user(u: &str) -> CliResult<(u32, u32)> {
    let bad = || CliError(format!("--user {u:?}: expected uid[:gid] as numbers"));
    let (uid, gid) = match u.split_once(':') {
        Some((a, b)) => (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?),
        None => (u.parse().map_err(|_| bad())?, 0),
    };
    Ok((uid, gid))
}

/// `--cap` adds to bounding, effective and permitted, and to ambient only when the process
/// already has inheritable capabilities (ambient needs them), exactly as runc does.
fn add_caps(p: &mut Process, caps: &[String]) -> CliResult<()> {
    if caps.is_empty() {
        return Ok(());
    }
    let mut c: LinuxCapabilities = p.capabilities().clone().unwrap_or_default();
    for name in caps {
        let up = name.to_ascii_uppercase();
        let cap = Capability::from_str(up.strip_prefix("CAP_").unwrap_or(&up))
            .map_err(|_| CliError(format!("--cap {name:?}: unknown capability")))?;
        let add = |set: Option<&std::collections::HashSet<Capability>>| {
            let mut s = set.cloned().unwrap_or_default();
            s.insert(cap);
            Some(s)
        };
        c.set_bounding(add(c.bounding().as_ref()));
        c.set_effective(add(c.effective().as_ref()));
        c.set_permitted(add(c.permitted().as_ref()));
        if c.inheritable().as_ref().is_some_and(|s| !s.is_empty()) {
            c.set_ambient(add(c.ambient().as_ref()));
        }
    }
    p.set_capabilities(Some(c));
    Ok(())
}
