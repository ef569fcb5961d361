//! create, start, state, kill, delete.

use super::{fail, CliResult};
use crate::cli::CreateArgs;
use berth_core::{ConsoleSocket, CreateOptions, Runtime};

pub fn options(a: &CreateArgs) -> CreateOptions {
    CreateOptions {
        bundle: a.bundle.clone(),
        console_socket: a.console_socket.clone().map(ConsoleSocket::Path),
        pid_file: a.pid_file.clone(),
        preserve_fds: a.preserve_fds,
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        stdio: None,
    }
}

pub fn create(rt: &Runtime, a: CreateArgs) -> CliResult<()> {
    rt.create(&a.id, options(&a))?;
    Ok(())
}

pub fn start(rt: &Runtime, id: &str) -> CliResult<()> {
    rt.load(id)?.start()?;
    Ok(())
}

pub fn state(rt: &Runtime, id: &str) -> CliResult<()> {
    let st = rt.state(id)?;
    let text = serde_json::to_string_pretty(&st).map_err(|e| super::CliError(e.to_string()))?;
    println!("{text}");
    Ok(())
}

pub fn kill(rt: &Runtime, id: &str, signal: &str, all: bool) -> CliResult<()> {
    let Some(sig) = berth_core::container::parse_signal(signal) else {
        return fail(format!("unknown signal {signal:?}"));
    };
    rt.load(id)?.kill(sig, all)?;
    Ok(())
}

pub fn delete(rt: &Runtime, id: &str, force: bool) -> CliResult<()> {
    let loaded = if force {
        rt.load_forced(id)
    } else {
        rt.load(id)
    };
    match loaded {
        Ok(c) => Ok(c.delete(force)?),
        // runc: deleting a missing container with --force is not an error.
        Err(berth_core::Error::NotFound(_)) if force => Ok(()),
        Err(e) => Err(e.into()),
    }
}
