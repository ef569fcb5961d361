//! `berth`: runc's command line on top of berth-core. Parses, calls the library, prints.

mod cli;
mod commands;
mod log;

use clap::Parser;

fn main() {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let mut log = log::Log::open(cli.log.as_deref(), &cli.log_format);
    match commands::dispatch(cli, &mut log) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            log.error(&e.to_string());
            std::process::exit(1);
        }
    }
}
