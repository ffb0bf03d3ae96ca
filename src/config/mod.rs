//! The configuration: TOML (or OpenWrt's UCI) to a validated `Config`, with every error
//! at once, each naming the file, the line and the key.
//!
//! - [`settings`]: what a setting is (key, UCI option, kind, range, default, help);
//!   `table`: the one table of them. Everything below reads it.
//! - `walk`: the reader, pure but for what it asks through [`files::Files`].
//! - [`uci`]: OpenWrt's format, translated into the tree `walk` reads.
//! - [`checks`]: checks of single values, shared with the command line and the control
//!   protocol.
//! - [`files`]: all the config's file I/O.
//! - `display`: `dynhost check`'s restatement.
//! - [`env`]: the config from `DYNHOST_*` variables (containers), read by `walk` too.

pub mod checks;
mod display;
pub mod env;
pub mod files;
pub mod notify;
pub mod settings;
mod table;
pub use table::SETTINGS;
pub mod uci;
mod value;
mod walk;
pub mod write;

use std::fmt;
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;

use crate::model::{Family, Source};
use crate::model::{SlotKey, SlotSpec, Timing};
use crate::secret::Secret;

pub use checks::{DEFAULT_URL, check_hostname, check_interface, check_url};
pub use walk::{load, parse, read};

pub const DEFAULT_PATH: &str = "/etc/dynhost/config.toml";
/// Used instead of `DEFAULT_PATH` when that does not exist and this does (OpenWrt).
pub const OPENWRT_PATH: &str = "/etc/config/dynhost";

#[derive(Clone, Debug)]
pub struct Config {
    /// Where it came from: a path, or `None` for the embedded default or the
    /// environment (`from_env`).
    pub source: Option<PathBuf>,
    /// Read from `DYNHOST_*` variables (`env`), not a file.
    pub from_env: bool,
    pub state_dir: PathBuf,
    pub control_socket: PathBuf,
    pub debounce: Duration,
    pub debounce_max: Duration,
    /// Sends per record and family in any hour before throttling to one per 5 minutes.
    pub max_updates_per_hour: u32,
    pub provider: Provider,
    pub retry: Retry,
    /// The safety-net query of gateway sources (`None`: off).
    pub gateway_check: Option<Duration>,
    pub web: Web,
    pub verify: Verify,
    /// `[notify]`: notifications, the command hook, the heartbeat.
    pub notify: notify::Settings,
    /// node_exporter textfile written at each event (`None`: off).
    pub metrics_file: Option<PathBuf>,
    /// The OVH API credentials, for records with `provider = "ovh-api"`.
    pub ovh: Ovh,
    pub records: Vec<Record>,
}

/// How a record is published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Publisher {
    /// A DynHost login, one dyndns2 GET per name and family.
    DynDns,
    /// The OVH API: the zone's A/AAAA records, then a zone refresh.
    OvhApi,
}

impl Publisher {
    pub fn parse(s: &str) -> Option<Publisher> {
        match s {
            "dyndns" => Some(Publisher::DynDns),
            "ovh-api" => Some(Publisher::OvhApi),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Publisher::DynDns => "dyndns",
            Publisher::OvhApi => "ovh-api",
        }
    }
}

/// `[ovh]`: what the API mode signs with. Secrets come from files (or the OVH_*
/// variables and ovh.conf, as `dynhost setup` reads them), never inline.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ovh {
    pub endpoint: Option<String>,
    pub application_key: Option<String>,
    pub application_secret_file: Option<PathBuf>,
    pub consumer_key_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
}

/// Checking the record as the world resolves it.
#[derive(Clone, Debug, PartialEq)]
pub struct Verify {
    pub enabled: bool,
    /// Authoritative servers to ask instead of discovering them (`host`, `host:port`).
    pub servers: Vec<String>,
    /// The resolver that finds them (`None`: the first nameserver of /etc/resolv.conf).
    pub resolver: Option<String>,
    pub interval: Option<Duration>,
}

/// The web echo source: where to ask, and how often without an event.
#[derive(Clone, Debug, PartialEq)]
pub struct Web {
    pub urls: Vec<Url>,
    pub check: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Provider {
    pub url: Url,
    pub ca_file: Option<PathBuf>,
    /// The contents of `ca_file`, read (bounded) with the config: nothing is read
    /// when the HTTPS client is built.
    pub ca_pem: Option<Vec<u8>>,
    /// Bound on one whole request (connect, TLS, answer).
    pub timeout: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Retry {
    pub initial: Duration,
    pub max: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub hostname: String,
    pub username: String,
    pub password: Secret,
    pub password_file: Option<PathBuf>,
    /// The kernel device followed.
    pub interface: String,
    /// The OpenWrt logical name it was given as (`wan`), if any.
    pub interface_alias: Option<String>,
    pub ipv4: bool,
    pub ipv6: bool,
    pub enabled: bool,
    /// Where each family's address comes from, tried in order.
    pub ipv4_source: Vec<Source>,
    pub ipv6_source: Vec<Source>,
    /// Publish the interface's IPv6 /64 with this interface identifier (a LAN host).
    pub ipv6_suffix: Option<Ipv6Addr>,
    /// Private and CGNAT addresses may be published (a LAN-only name, a VPN mesh).
    pub allow_private: bool,
    /// DynHost (dyndns2) or the OVH API.
    pub provider: Publisher,
    /// API mode: change every A (AAAA) record of the name rather than refuse several.
    pub replace_all: bool,
    /// Unix time of the last change to this record's config: the newest mtime of the
    /// config file and its password file. `None`: unknown.
    pub changed_at: Option<u64>,
}

impl Config {
    /// Nothing set; `Config::defaults` fills it from the settings table.
    fn empty() -> Config {
        Config {
            source: None,
            from_env: false,
            state_dir: PathBuf::new(),
            control_socket: PathBuf::new(),
            debounce: Duration::ZERO,
            debounce_max: Duration::ZERO,
            max_updates_per_hour: 0,
            provider: Provider {
                url: Url::parse(DEFAULT_URL).expect("the default URL parses"),
                ca_file: None,
                ca_pem: None,
                timeout: Duration::ZERO,
            },
            retry: Retry {
                initial: Duration::ZERO,
                max: Duration::ZERO,
            },
            gateway_check: None,
            web: Web {
                urls: Vec::new(),
                check: None,
            },
            verify: Verify {
                enabled: false,
                servers: Vec::new(),
                resolver: None,
                interval: None,
            },
            notify: notify::Settings::default(),
            metrics_file: None,
            ovh: Ovh::default(),
            records: Vec::new(),
        }
    }

    pub fn timing(&self) -> Timing {
        Timing {
            debounce: self.debounce,
            debounce_max: self.debounce_max,
            retry_initial: self.retry.initial,
            retry_max: self.retry.max,
            max_per_hour: self.max_updates_per_hour,
            gateway_check: self.gateway_check,
            web_check: self.web.check,
            verify: self.verify.enabled,
            verify_interval: self.verify.interval,
        }
    }

    /// One slot per enabled record and family it publishes.
    pub fn slot_specs(&self) -> Vec<SlotSpec> {
        let mut specs = Vec::new();
        for (index, r) in self.records.iter().enumerate().filter(|(_, r)| r.enabled) {
            for family in Family::ALL.into_iter().filter(|f| r.publishes(*f)) {
                specs.push(SlotSpec {
                    key: SlotKey {
                        hostname: r.hostname.clone(),
                        family,
                    },
                    record: index,
                    interface: r.interface.clone(),
                    config_changed_at: r.changed_at,
                    sources: r.sources(family).to_vec(),
                    suffix: (family == Family::V6).then_some(r.ipv6_suffix).flatten(),
                    allow_private: r.allow_private,
                    batched: r.provider == Publisher::OvhApi,
                });
            }
        }
        specs
    }

    /// The enabled record that publishes `key`.
    pub fn record_for(&self, key: &SlotKey) -> Option<&Record> {
        self.records
            .iter()
            .find(|r| r.enabled && r.hostname == key.hostname && r.publishes(key.family))
    }

    /// The interfaces enabled records follow, sorted, for log lines.
    pub fn interfaces(&self) -> String {
        let mut names: Vec<&str> = self
            .records
            .iter()
            .filter(|r| r.enabled)
            .map(|r| r.interface.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        names.join(", ")
    }
}

impl Record {
    fn empty() -> Record {
        Record {
            hostname: String::new(),
            username: String::new(),
            password: Secret::new(String::new()),
            password_file: None,
            interface: String::new(),
            interface_alias: None,
            ipv4: false,
            ipv6: false,
            enabled: false,
            ipv4_source: Vec::new(),
            ipv6_source: Vec::new(),
            ipv6_suffix: None,
            allow_private: false,
            provider: Publisher::DynDns,
            replace_all: false,
            changed_at: None,
        }
    }

    /// Where `family`'s address comes from.
    pub fn sources(&self, family: Family) -> &[Source] {
        match family {
            Family::V4 => &self.ipv4_source,
            Family::V6 => &self.ipv6_source,
        }
    }

    /// Whether some enabled family of this record uses `source`.
    pub fn uses(&self, source: Source) -> bool {
        self.enabled
            && Family::ALL
                .into_iter()
                .any(|f| self.publishes(f) && self.sources(f).contains(&source))
    }

    pub fn publishes(&self, family: Family) -> bool {
        match family {
            Family::V4 => self.ipv4,
            Family::V6 => self.ipv6,
        }
    }
}

/// One problem, where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Where it is in the text (bytes), for ordering.
    pub offset: usize,
    pub line: usize,
    pub column: usize,
    pub key: String,
    pub message: String,
}

/// Everything wrong with a config file.
#[derive(Debug)]
pub struct ConfigError {
    pub origin: String,
    pub problems: Vec<Problem>,
    /// Problems not listed (a file with thousands of errors is one of the wrong kind).
    pub omitted: usize,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len() + self.omitted;
        write!(
            f,
            "{}: {n} error{}",
            self.origin,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            if p.line == 0 {
                write!(f, "\n  {}: ", self.origin)?;
            } else {
                write!(f, "\n  {}:{}:{}: ", self.origin, p.line, p.column)?;
            }
            if !p.key.is_empty() {
                write!(f, "{}: ", p.key)?;
            }
            f.write_str(&p.message)?;
        }
        if self.omitted > 0 {
            write!(f, "\n  ... and {} more", self.omitted)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// A loaded config plus the warnings worth telling the operator (once, at load).
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
}

/// The config used when no file exists: an example record on `interface`, good for a
/// dry run only.
pub fn embedded_default(interface: &str) -> Config {
    let text = format!(
        r#"# dynhost's embedded default: a dry-run demonstration, never sent.
[[record]]
hostname = "dynhost.example.com"
username = "example.com-dynhost"
password = "not-a-real-password"
interface = "{interface}"
ipv4 = true
ipv6 = true
"#
    );
    match parse(&text, None) {
        Ok(loaded) => loaded.config,
        // The interface name came from the kernel; anything else here is our bug.
        Err(e) => panic!("embedded default config is invalid: {e}"),
    }
}

/// A TOML basic string.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests;
