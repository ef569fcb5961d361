//! One function per command; each parses nothing and decides nothing the library should.

mod events;
mod exec;
mod lifecycle;
mod list;
mod network;
mod run;
mod spec;
mod tty;
mod update;

use crate::cli::{Cli, Command};
use crate::log::Log;
use berth_core::Runtime;

/// A command's failure, printed as one line.
#[derive(Debug)]
pub struct CliError(pub String);

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<berth_core::Error> for CliError {
    fn from(e: berth_core::Error) -> Self {
        CliError(e.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError(e.to_string())
    }
}

pub type CliResult<T> = Result<T, CliError>;

pub fn fail<T>(msg: impl Into<String>) -> CliResult<T> {
    Err(CliError(msg.into()))
}

pub fn dispatch(cli: Cli, log: &mut Log) -> CliResult<i32> {
    if cli.version {
        println!(
            "berth version {}\nspec: {}",
            env!("CARGO_PKG_VERSION"),
            berth_core::container::OCI_VERSION
        );
        return Ok(0);
    }
    let Some(command) = cli.command else {
        return fail("no command given; see berth --help");
    };
    if cli.rootless.as_deref() == Some("true") {
        return fail(
            "--rootless=true: rootless containers are not supported yet; run berth as root",
        );
    }
    let makes_cgroups = matches!(
        command,
        Command::Create(_) | Command::Run(_) | Command::Exec(_)
    );
    if cli.systemd_cgroup && makes_cgroups {
        return fail("--systemd-cgroup: the systemd cgroup driver is not supported; berth writes cgroupfs directly");
    }
    let rt = Runtime::new(cli.root);
    match command {
        Command::Create(a) => lifecycle::create(&rt, a).map(|()| 0),
        Command::Start { id } => lifecycle::start(&rt, &id).map(|()| 0),
        Command::Run(a) => run::run(&rt, a, log),
        Command::State { id } => lifecycle::state(&rt, &id).map(|()| 0),
        Command::Kill { id, signal, all } => lifecycle::kill(&rt, &id, &signal, all).map(|()| 0),
        Command::Delete { id, force } => lifecycle::delete(&rt, &id, force).map(|()| 0),
        Command::List { format, quiet } => list::list(&rt, &format, quiet).map(|()| 0),
        Command::Ps {
            id,
            format,
            ps_args,
        } => list::ps(&rt, &id, &format, &ps_args).map(|()| 0),
        Command::Exec(a) => exec::exec(&rt, *a),
        Command::Pause { id } => Ok(rt.load(&id)?.pause().map(|()| 0)?),
        Command::Resume { id } => Ok(rt.load(&id)?.resume().map(|()| 0)?),
        Command::Spec { bundle, rootless } => spec::spec(&bundle, rootless).map(|()| 0),
        Command::Features => spec::features().map(|()| 0),
        Command::Update(a) => update::update(&rt, *a).map(|()| 0),
        Command::Events {
            id,
            stats,
            interval,
        } => events::events(&rt, &id, stats, &interval).map(|()| 0),
        Command::Network(n) => network::network(&rt, n).map(|()| 0),
        Command::Checkpoint { .. } | Command::Restore { .. } => {
            fail("checkpoint/restore is not implemented: berth has no CRIU support")
        }
    }
}
