//! `run`: create and start; in the foreground, supervise and exit with the container's code.

use super::{lifecycle, tty, CliResult};
use crate::cli::RunArgs;
use crate::log::Log;
use berth_core::{ConsoleSocket, Runtime};

pub fn run(rt: &Runtime, a: RunArgs, log: &mut Log) -> CliResult<i32> {
    let id = a.create.id.clone();
    let mut opts = lifecycle::options(&a.create);
    if a.detach {
        let c = rt.create(&id, opts)?;
        return start_or_remove(c).map(|_| 0);
    }
    let sigfd = tty::block_signals()?;
    let local = match opts.console_socket {
        Some(_) => None,
        None => {
            let (ours, theirs) = tty::console_pair()?;
            opts.console_socket = Some(ConsoleSocket::Fd(theirs));
            Some(ours)
        }
    };
    let c = rt.create(&id, opts)?;
    let terminal = c
        .spec()
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let master = match (&local, terminal) {
        (Some(sock), true) => Some(tty::receive_master(sock)?),
        _ => None,
    };
    drop(local);
    let c = start_or_remove(c)?;
    let pid = c.pid();
    // Let other commands (state, kill, exec) take the lock while the container runs.
    drop(c);
    let code = tty::supervise(pid, sigfd, master)?;
    if !a.keep {
        match rt.load(&id).and_then(|c| c.delete(true)) {
            Ok(()) | Err(berth_core::Error::NotFound(_)) => {}
            Err(e) => log.warn(&format!("deleting {id} after it exited: {e}")),
        }
    }
    Ok(code)
}

/// runc removes a container whose start failed.
fn start_or_remove(mut c: berth_core::Container) -> CliResult<berth_core::Container> {
    match c.start() {
        Ok(()) => Ok(c),
        Err(e) => {
            let _ = c.delete(true);
            Err(e.into())
        }
    }
}
