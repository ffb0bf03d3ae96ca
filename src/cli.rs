//! The command line (clap). Raw arguments only; `main` turns them into work.

use std::net::IpAddr;
use std::path::PathBuf;

use std::ffi::OsStr;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use clap::{ArgAction, Parser, Subcommand};

use crate::config::{DEFAULT_PATH, check_interface};
use crate::policy;

#[derive(Parser, Debug)]
#[command(
    name = "dynhost",
    version,
    about = "Keeps OVH DynHost records pointed at this router's WAN address, \
             driven by netlink events instead of polling.",
    after_help = "Exit codes: 0 success, 1 failure (e.g. a record could not be published), \
                  2 usage error, 3 no enabled record follows the interface given to update, \
                  78 configuration error.\n\
                  Signals (run): SIGHUP reloads the config, SIGTERM/SIGINT stop."
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
    Update(UpdateArgs),
    /// Validate the config and print the effective settings, secrets redacted.
    Check,
    /// Show what was last published, per record and family.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Create the DynHost login and record through the OVH API and add them to the config.
    Setup(crate::setup::SetupArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct UpdateArgs {
    /// Only the records that follow this interface.
    #[arg(short, long, value_name = "IF", value_parser = Checked(interface))]
    pub interface: Option<String>,

    /// Publish this address instead of reading the interface (must be a global address).
    #[arg(long, value_name = "ADDR", value_parser = Checked(publishable_ip))]
    pub ip: Option<IpAddr>,

    /// Send even when the address is unchanged, waiting to retry, or blocked.
    #[arg(long)]
    pub force: bool,
}

/// A value parser whose errors never echo the raw argument (which may be huge or
/// hostile); the check's own message quotes a bounded excerpt.
#[derive(Clone)]
struct Checked<T>(fn(&str) -> Result<T, String>);

impl<T: Clone + Send + Sync + 'static> TypedValueParser for Checked<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<T, clap::Error> {
        let name = arg.map_or_else(|| "value".to_string(), ToString::to_string);
        let fail =
            |kind, msg: String| clap::Error::raw(kind, format!("{name}: {msg}\n")).with_cmd(cmd);
        let s = value
            .to_str()
            .ok_or_else(|| fail(ErrorKind::InvalidUtf8, "not valid UTF-8".into()))?;
        (self.0)(s).map_err(|e| fail(ErrorKind::ValueValidation, e))
    }
}

fn interface(s: &str) -> Result<String, String> {
    check_interface(s).map(|()| s.to_string())
}

fn publishable_ip(s: &str) -> Result<IpAddr, String> {
    let shown: String = s.chars().take(64).collect();
    let addr: IpAddr = s
        .parse()
        .map_err(|_| format!("{shown:?} is not an IPv4 or IPv6 address"))?;
    policy::classify(&addr).map_err(|why| {
        format!("{addr} is {why}; dynhost publishes only global unicast addresses")
    })?;
    Ok(addr)
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
    fn ip_arguments_are_checked() {
        assert!(publishable_ip("203.0.113.5").is_ok());
        assert!(publishable_ip("2001:db8::5").is_ok());
        for bad in [
            "10.0.0.1",
            "100.64.0.1",
            "fe80::1",
            "1.2.3",
            "$(reboot)",
            "203.0.113.5;id",
        ] {
            assert!(publishable_ip(bad).is_err(), "{bad}");
        }
        let long = "9".repeat(10_000);
        assert!(publishable_ip(&long).unwrap_err().len() < 200);
        assert!(interface("ppp0").is_ok());
        assert!(interface("ppp0; rm -rf /").is_err());
    }
}
