//! Composition root: parse the arguments, set up logging, run the command, exit.

use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};

use dynhost::app::{self, Exit};
use dynhost::cli::Cli;
use dynhost::logging;

fn main() -> ExitCode {
    app::install_panic_hook();
    let matches = Cli::command().get_matches();
    let config_given = matches.value_source("config") != Some(ValueSource::DefaultValue);
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // A container's PID 1: an init stays behind to forward signals and reap.
    app::init::become_init_if_pid1();
    let log_env = std::env::var("DYNHOST_LOG").ok();
    if let Err(e) = logging::init(cli.verbose, cli.quiet, log_env.as_deref()) {
        eprintln!("dynhost: {e}");
        return ExitCode::from(Exit::Failure.code());
    }
    let exit = match app::main(&cli, config_given) {
        Ok(exit) => exit,
        Err(e) => {
            eprintln!("dynhost: {e}");
            e.exit()
        }
    };
    ExitCode::from(exit.code())
}
