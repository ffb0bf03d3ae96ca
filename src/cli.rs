//! The command line (clap). Raw arguments only; `app` turns them into work.

use std::path::PathBuf;

use clap::{ArgAction, Parser, Subcommand};

use crate::config::DEFAULT_PATH;
use crate::config::checks::FEATURES;
use crate::exit;
use crate::request::UpdateRequest;

#[derive(Parser, Debug)]
#[command(
    name = "dynhost",
    version = version(),
    about = "Keeps OVH DynHost records pointed at this router's WAN address, \
             driven by netlink events instead of polling.",
    after_help = format!(
        "{}\nSignals (run): SIGHUP reloads the config, SIGTERM/SIGINT stop.",
        exit::help()
    )
)]
pub struct Cli {
    /// Config file.
    #[arg(short, long, global = true, env = "DYNHOST_CONFIG", value_name = "PATH",
          default_value = DEFAULT_PATH)]
    pub config: PathBuf,

    /// Decide and log the exact request that would be sent (password redacted);
    /// send nothing and write no state.
    #[arg(long, global = true)]
    pub dry_run: bool,

    /// More log output (-v debug, -vv trace). Overrides DYNHOST_LOG.
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Less log output (-q warnings, -qq errors). Overrides DYNHOST_LOG.
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub quiet: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the daemon in the foreground, logging to stderr.
    Run,
    /// One update round now, then exit (for hooks and cron).
    Update(UpdateRequest),
    /// Validate the config and print the effective settings, secrets redacted.
    Check,
    #[cfg(feature = "verify")]
    /// Ask the zone's authoritative servers now: per record and family, the address
    /// dynhost would publish, the one published, and what each server answers. Exit 0
    /// when all agree, 1 otherwise.
    Verify {
        /// Machine-readable output (the LuCI app reads it).
        #[arg(long)]
        json: bool,
    },
    #[cfg(all(feature = "gateway", feature = "verify"))]
    /// Why a name is right or wrong, step by step: each address of the record's
    /// interface and whether it may be published, each source's answer, the request
    /// that would be sent (password redacted), the last reply, what each authoritative
    /// server answers, and a verdict. Sends no update and writes nothing. Exit 0 when
    /// every name explained is right, 1 otherwise.
    Explain {
        /// Only the record with this hostname (default: every record).
        hostname: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Show what was last published, per record and family.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// The last events of each record (up to 100), oldest first.
        #[arg(long)]
        history: bool,
        /// One line and an exit code: 0 while every enabled record is published (or has
        /// nothing to publish yet) and DNS agrees or is being checked, 1 otherwise. For
        /// a container's HEALTHCHECK or a monitoring probe.
        #[arg(long, conflicts_with_all = ["json", "history"])]
        health: bool,
    },
    /// Notifications: `--test` sends a test event to every target now.
    Notify {
        /// Send a `test` event to every `[notify]` target now; exit 1 if any fails.
        #[arg(long, required = true)]
        test: bool,
    },
    /// Create the DynHost login and record through the OVH API and add them to the config.
    #[cfg(feature = "setup")]
    Setup(crate::setup::SetupArgs),
}

/// `dynhost --version`: the version and the features built in, so that a router's
/// build says what it can do.
fn version() -> &'static str {
    let parts = if FEATURES.is_empty() {
        "none".to_string()
    } else {
        FEATURES.join(", ")
    };
    let line = format!("{} (features: {parts})", env!("CARGO_PKG_VERSION"));
    // Once per process, when the command line is built.
    Box::leak(line.into_boxed_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn version_lists_the_features_built_in() {
        let v = Cli::command().render_version();
        for f in ["setup", "gateway", "verify"] {
            let built = cfg!(feature = "setup") && f == "setup"
                || cfg!(feature = "gateway") && f == "gateway"
                || cfg!(feature = "verify") && f == "verify";
            assert_eq!(v.contains(f), built, "{f}: {v}");
        }
        assert!(v.contains("(features: "), "{v}");
    }

    #[test]
    fn help_prints_the_exit_code_table() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains(&exit::help()), "{help}");
    }
}
