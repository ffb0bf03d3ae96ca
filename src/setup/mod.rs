//! `dynhost setup`: the seed guide's control-panel steps in one command, through the OVH
//! API. From API credentials to a DynHost login, a DynHost record holding the address
//! the daemon would publish now, the password file and the config record, checked.
//!
//! - [`flow`]: `setup` itself, in order: local checks, the reads, the plan; then
//!   [`execute`] makes the changes and [`report`] checks the config and says what
//!   was done (or, in a dry run, what would be).
//! - [`plan`] (pure): what to change, every refusal decided before anything changes.
//! - [`api`]: the OVH API as setup uses it (dry-run aware) and the answers' shapes.
//! - [`progress`]: what exists after a failure half-way, and what is left.
//! - [`files`]: the password file and the config edit, atomic and validated.
//! - [`token`], [`list`], [`remove`]: the `--request-token`, `--list` and `--remove`
//!   modes; [`rules`] (pure) holds the API rights setup needs (docs/setup.md).
//! - `error`: how the OVH API's errors map to the application's [`Error`] (why setup stopped).
//! - [`api_record`]: `--api-record`, a record in API mode (`provider = "ovh-api"`).

pub mod api;
pub mod api_record;
pub mod error;
pub mod execute;
pub mod files;
pub mod flow;
pub mod list;
pub mod plan;
pub mod progress;
pub mod remove;
pub mod report;
pub mod rules;
pub mod token;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::{ArgAction, Args};

use crate::config::check_hostname;
use crate::request::{Checked, parse_interface as interface, parse_ip as publishable_ip};

pub use crate::exit::Error;

#[derive(Args, Debug, Clone)]
#[command(
    about = "Create the DynHost login and record through the OVH API, then add the record \
             to the config",
    after_help = "Credentials are read as OVH's own clients read them: OVH_ENDPOINT, \
                  OVH_APPLICATION_KEY, OVH_APPLICATION_SECRET, OVH_CONSUMER_KEY (or \
                  OVH_CLIENT_ID and OVH_CLIENT_SECRET for an OAuth2 service account), then \
                  ./ovh.conf, ~/.ovh.conf and /etc/ovh.conf. Never pass them as arguments.\n\
                  A second identical run changes nothing. With the global --dry-run, every \
                  API call is printed (passwords redacted) and only reads are made.\n\
                  Exit codes: 0 done (or nothing to change), 1 the API or the network failed \
                  (what exists is printed; running the same command again completes it), 2 \
                  usage error, 78 configuration or credentials problem (the table in \
                  `dynhost --help`)."
)]
pub struct SetupArgs {
    /// The DNS zone at OVH (the domain), e.g. example.com.
    #[arg(long, value_name = "ZONE", value_parser = Checked(zone),
          required_unless_present = "request_token")]
    pub zone: Option<String>,

    /// The name in the zone to publish, e.g. home for home.example.com.
    #[arg(long, value_name = "NAME", value_parser = Checked(subdomain),
          required_unless_present_any = ["request_token", "list"])]
    pub subdomain: Option<String>,

    /// The DynHost login is <zone>-<SUFFIX> [default: the subdomain, or the login that
    /// already serves it].
    #[arg(long, value_name = "SUFFIX", value_parser = Checked(suffix))]
    pub login_suffix: Option<String>,

    /// The interface whose address is published [default: the default route's].
    #[arg(short, long, value_name = "IF", value_parser = Checked(interface))]
    pub interface: Option<String>,

    /// Publish the interface's IPv6 address too (a second DynHost record).
    #[arg(long)]
    pub ipv6: bool,

    /// Publish this address now instead of reading the interface (once per family;
    /// it must be a global address).
    #[arg(long, value_name = "ADDR", value_parser = Checked(publishable_ip),
          action = ArgAction::Append)]
    pub ip: Vec<IpAddr>,

    /// Where the DynHost password is written (mode 0600) [default: <hostname>.secret
    /// next to the config; /etc/dynhost/ for OpenWrt's UCI config].
    #[arg(long, value_name = "PATH")]
    pub password_file: Option<PathBuf>,

    /// ovh-eu, ovh-ca, ovh-us, or an API base URL [default: OVH_ENDPOINT, then
    /// endpoint= in ovh.conf].
    #[arg(long, value_name = "ENDPOINT")]
    pub endpoint: Option<String>,

    /// Extra trusted root certificates (PEM) for the API's certificate.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,

    /// Set a new password on the existing login (changePassword) and rewrite the
    /// password file.
    #[arg(long)]
    pub rotate_password: bool,

    /// Delete ordinary A/AAAA records that hold the name: a DynHost name must not have
    /// them.
    #[arg(long)]
    pub replace_record: bool,

    /// Ask OVH for a consumer key with exactly the rights setup needs (for --zone, or
    /// every zone), and print the URL that validates it.
    #[arg(long, conflicts_with_all = ["list", "remove", "subdomain", "login_suffix",
          "interface", "ipv6", "ip", "password_file", "rotate_password", "replace_record",
          "yes"])]
    pub request_token: bool,

    /// List the zone's DynHost logins and records.
    #[arg(long, conflicts_with_all = ["remove", "subdomain", "login_suffix", "interface",
          "ipv6", "ip", "password_file", "rotate_password", "replace_record", "yes"])]
    pub list: bool,

    /// Delete the subdomain's DynHost records, then its logins (asks first, unless
    /// --yes).
    #[arg(long, conflicts_with_all = ["interface", "ipv6", "ip", "password_file",
          "rotate_password", "replace_record"])]
    pub remove: bool,

    /// Set up a record published through the OVH API rather than DynHost: a consumer
    /// key with exactly API mode's rights on --zone, and the record (provider =
    /// "ovh-api"). --subdomain may then be a wildcard (`*`, `*.home`) or `@` (the apex).
    #[arg(long, conflicts_with_all = ["request_token", "list", "remove", "login_suffix",
          "ip", "password_file", "rotate_password", "replace_record"])]
    pub api_record: bool,

    /// Do not ask before --remove deletes.
    #[arg(short = 'y', long, requires = "remove")]
    pub yes: bool,
}

/// Runs `dynhost setup`. `config` is the global `--config` (`given`: set explicitly),
/// `dry_run` the global `--dry-run`.
pub async fn run(args: &SetupArgs, config: &Path, given: bool, dry_run: bool) -> Result<(), Error> {
    let special = args
        .subdomain
        .as_deref()
        .is_some_and(|s| s == "@" || s.starts_with('*'));
    if special && !args.api_record {
        return Err(Error::Usage(
            "a wildcard or the apex (@) cannot be a DynHost record: add --api-record to              publish it through the OVH API"
                .into(),
        ));
    }
    if args.api_record {
        api_record::api_record(args, config, given, dry_run).await
    } else if args.request_token {
        token::request_token(args, dry_run).await
    } else if args.list {
        list::list(args).await
    } else if args.remove {
        remove::remove(args, config, given, dry_run).await
    } else {
        flow::setup(args, config, given, dry_run).await
    }
}

fn shown(s: &str) -> String {
    s.chars().take(64).collect()
}

/// DNS labels: letters, digits, `-`, `_`; no leading or trailing `-`.
fn labels_ok(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn zone(s: &str) -> Result<String, String> {
    let z = s.trim_end_matches('.').to_ascii_lowercase();
    check_hostname(&z)?;
    Ok(z)
}

fn subdomain(s: &str) -> Result<String, String> {
    let sub = s.to_ascii_lowercase();
    // A wildcard or the apex, for --api-record only (`run` says so).
    if sub == "@" || sub == "*" {
        return Ok(sub);
    }
    let plain = sub.strip_prefix("*.").unwrap_or(&sub);
    if s.len() > 190 || !labels_ok(plain) {
        return Err(format!(
            "{:?} is not a subdomain: labels of letters, digits, '-' and '_', such as home \
             or home.v4 (no wildcard, no zone)",
            shown(s)
        ));
    }
    Ok(sub)
}

fn suffix(s: &str) -> Result<String, String> {
    if s.is_empty()
        || s.len() > 63
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(format!(
            "{:?} is not a login suffix: 1 to 63 letters, digits, '-', '_' or '.'",
            shown(s)
        ));
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Parser, Debug)]
    struct T {
        #[command(flatten)]
        a: SetupArgs,
    }

    #[test]
    fn arguments_are_well_formed_and_checked() {
        T::command().debug_assert();
        let ok = T::try_parse_from(["t", "--zone", "Example.COM.", "--subdomain", "Home"]).unwrap();
        assert_eq!(ok.a.zone.as_deref(), Some("example.com"));
        assert_eq!(ok.a.subdomain.as_deref(), Some("home"));
        for bad in [
            vec!["t", "--zone", "example.com"],
            vec!["t", "--subdomain", "home"],
            vec!["t", "--zone", "example", "--subdomain", "home"],
            vec!["t", "--zone", "example.com", "--subdomain", "**"],
            vec!["t", "--zone", "example.com", "--subdomain", "a;reboot"],
            vec![
                "t",
                "--zone",
                "example.com",
                "--subdomain",
                "h",
                "--login-suffix",
                "a b",
            ],
            vec![
                "t",
                "--zone",
                "example.com",
                "--subdomain",
                "h",
                "--ip",
                "10.0.0.1",
            ],
            vec!["t", "--list", "--zone", "example.com", "--subdomain", "h"],
            vec!["t", "--request-token", "--list"],
            vec!["t", "--zone", "example.com", "--subdomain", "h", "--yes"],
        ] {
            assert!(T::try_parse_from(&bad).is_err(), "{bad:?}");
        }
        for good in [
            vec!["t", "--request-token"],
            vec!["t", "--request-token", "--zone", "example.com"],
            vec!["t", "--list", "--zone", "example.com"],
            vec![
                "t",
                "--remove",
                "--zone",
                "example.com",
                "--subdomain",
                "h",
                "--yes",
            ],
            vec![
                "t",
                "--zone",
                "example.com",
                "--subdomain",
                "h",
                "--ipv6",
                "--ip",
                "203.0.113.7",
                "--ip",
                "2001:db8::7",
            ],
        ] {
            assert!(T::try_parse_from(&good).is_ok(), "{good:?}");
        }
        let long = "x".repeat(100_000);
        let e = T::try_parse_from(["t", "--zone", "example.com", "--subdomain", &long])
            .unwrap_err()
            .to_string();
        assert!(e.len() < 1000, "{e}");
    }
}
