//! The configuration file: TOML text to a validated `Config`, with every error at once,
//! each naming the file, the line and the key.
//!
//! The file is walked by hand over toml's spanned tree rather than deserialised with
//! serde: serde stops at the first error, and we want them all, with their locations.

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Url;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::duration;
use crate::engine::{SlotKey, SlotSpec, Timing};
use crate::model::Family;
use crate::secret::Secret;
use crate::uci;

pub const DEFAULT_PATH: &str = "/etc/dynhost/config.toml";
/// Used instead of `DEFAULT_PATH` when that does not exist and this does (OpenWrt).
pub const OPENWRT_PATH: &str = "/etc/config/dynhost";
pub const DEFAULT_URL: &str = "https://dns.eu.ovhapis.com/nic/update";
pub const DEFAULT_STATE_DIR: &str = "/var/lib/dynhost";
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/dynhost/control.sock";
/// The default for a UCI config: OpenWrt has no /run, and /var/run is on tmpfs there.
pub const UCI_CONTROL_SOCKET: &str = "/var/run/dynhost/control.sock";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_MAX_PER_HOUR: u32 = 12;

#[derive(Clone, Debug)]
pub struct Config {
    /// Where it came from: a path, or `None` for the embedded default.
    pub source: Option<PathBuf>,
    pub state_dir: PathBuf,
    pub control_socket: PathBuf,
    pub debounce: Duration,
    pub debounce_max: Duration,
    /// Sends per record and family in any hour before throttling to one per 5 minutes.
    pub max_updates_per_hour: u32,
    pub provider: Provider,
    pub retry: Retry,
    pub records: Vec<Record>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Provider {
    pub url: Url,
    pub ca_file: Option<PathBuf>,
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
}

impl Config {
    pub fn timing(&self) -> Timing {
        Timing {
            debounce: self.debounce,
            debounce_max: self.debounce_max,
            retry_initial: self.retry.initial,
            retry_max: self.retry.max,
            max_per_hour: self.max_updates_per_hour,
        }
    }

    /// One slot per enabled record and family it publishes. The config-change time of a
    /// slot is the newest mtime of the config file and the record's password file.
    pub fn slot_specs(&self) -> Vec<SlotSpec> {
        let mtime = |p: &Path| {
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs())
        };
        let config_time = self.source.as_deref().and_then(mtime);
        let mut specs = Vec::new();
        for (index, r) in self.records.iter().enumerate().filter(|(_, r)| r.enabled) {
            let changed = match (&r.password_file, config_time) {
                (Some(p), Some(c)) => mtime(p).map(|t| t.max(c)),
                (None, c) => c,
                (Some(_), None) => None,
            };
            for family in Family::ALL.into_iter().filter(|f| r.publishes(*f)) {
                specs.push(SlotSpec {
                    key: SlotKey {
                        hostname: r.hostname.clone(),
                        family,
                    },
                    record: index,
                    interface: r.interface.clone(),
                    config_changed_at: changed,
                });
            }
        }
        specs
    }
}

impl Record {
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
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
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

/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        origin: origin.clone(),
        problems: vec![Problem {
            line: 0,
            column: 0,
            key: String::new(),
            message: format!("cannot read the config file: {e}"),
        }],
    })?;
    let mut loaded = parse(&text, Some(path))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let inline = loaded
            .config
            .records
            .iter()
            .any(|r| r.password_file.is_none());
        if inline && meta.permissions().mode() & 0o077 != 0 {
            loaded.warnings.push(format!(
                "{origin} holds a password and is readable by group or others (mode {:04o}); \
                 run: chmod 600 {origin}",
                meta.permissions().mode() & 0o7777
            ));
        }
    }
    Ok(loaded)
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

/// Parses config text (TOML, or OpenWrt UCI). `path` locates relative paths and names
/// the origin in errors. Relative password files are looked up in systemd's
/// credentials directory first, when `$CREDENTIALS_DIRECTORY` is set.
pub fn parse(text: &str, path: Option<&Path>) -> Result<Loaded, ConfigError> {
    let credentials = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
    // UCI's logical interface names are resolved with the network config next to it.
    let network = path
        .and_then(Path::parent)
        .and_then(|d| std::fs::read_to_string(d.join("network")).ok());
    parse_with(text, path, credentials, network.as_deref())
}

fn parse_with(
    text: &str,
    path: Option<&Path>,
    credentials: Option<PathBuf>,
    network: Option<&str>,
) -> Result<Loaded, ConfigError> {
    let origin = path.map_or_else(
        || "<embedded default>".to_string(),
        |p| p.display().to_string(),
    );
    let base = path
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut w = Walker {
        text,
        base,
        credentials,
        problems: Vec::new(),
        warnings: Vec::new(),
    };
    let config = if uci::looks_like_uci(text) {
        let (sections, syntax) = uci::parse(text);
        let network = network.map(|n| uci::parse(n).0).unwrap_or_default();
        let mut aliases = Vec::new();
        let (root, problems) = uci::to_table(&sections, &network, &mut aliases);
        for (span, msg) in syntax.into_iter().chain(problems) {
            w.problem(span, "", msg);
        }
        let mut config = w.root(&root, path);
        if root.get("control_socket").is_none() {
            config.control_socket = UCI_CONTROL_SOCKET.into();
        }
        for (i, logical) in aliases {
            if let Some(r) = config.records.get_mut(i) {
                r.interface_alias = Some(logical);
            }
        }
        config
    } else {
        let (root, syntax) = DeTable::parse_recoverable(text);
        for e in syntax {
            let span = e.span().unwrap_or(0..0);
            w.problem(span, "", e.message().trim().to_string());
        }
        w.root(root.get_ref(), path)
    };
    w.problems.sort_by_key(|p| (p.line, p.column));
    w.problems.dedup();
    if w.problems.is_empty() {
        Ok(Loaded {
            config,
            warnings: w.warnings,
        })
    } else {
        Err(ConfigError {
            origin,
            problems: w.problems,
        })
    }
}

type Value<'a> = Spanned<DeValue<'a>>;

struct Walker<'t> {
    text: &'t str,
    base: PathBuf,
    credentials: Option<PathBuf>,
    problems: Vec<Problem>,
    warnings: Vec<String>,
}

impl Walker<'_> {
    fn problem(&mut self, span: Range<usize>, key: &str, message: impl Into<String>) {
        let start = span.start.min(self.text.len());
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        self.problems.push(Problem {
            line,
            column,
            key: key.to_string(),
            message: message.into(),
        });
    }

    /// Reports keys of `table` that are not in `known`, with a suggestion when close.
    fn unknown_keys(&mut self, table: &DeTable<'_>, prefix: &str, known: &[&str]) {
        for (k, _) in table.iter() {
            let name = k.get_ref().as_ref();
            if known.contains(&name) {
                continue;
            }
            let full = format!("{prefix}{name}");
            let hint = suggest(name, known, prefix);
            self.problem(k.span(), &full, format!("unknown key{hint}"));
        }
    }

    fn string<'v>(&mut self, v: &'v Value<'_>, key: &str) -> Option<&'v str> {
        match v.get_ref() {
            DeValue::String(s) => Some(s.as_ref()),
            other => {
                self.problem(
                    v.span(),
                    key,
                    format!("expected a string, found {}", other.type_str()),
                );
                None
            }
        }
    }

    fn boolean(&mut self, v: &Value<'_>, key: &str) -> Option<bool> {
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            other => {
                self.problem(
                    v.span(),
                    key,
                    format!("expected true or false, found {}", other.type_str()),
                );
                None
            }
        }
    }

    fn duration(
        &mut self,
        v: &Value<'_>,
        key: &str,
        min: Duration,
        max: Duration,
    ) -> Option<Duration> {
        let d = match v.get_ref() {
            DeValue::String(s) => duration::parse(s),
            DeValue::Integer(i) => i
                .as_str()
                .parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| format!("{} is not a number of seconds", i.as_str())),
            other => Err(format!(
                "expected a duration such as \"1s\", found {}",
                other.type_str()
            )),
        };
        match d {
            Ok(d) if d < min || d > max => {
                self.problem(
                    v.span(),
                    key,
                    format!(
                        "{} is out of range ({} to {})",
                        duration::format(d),
                        duration::format(min),
                        duration::format(max)
                    ),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.problem(v.span(), key, e);
                None
            }
        }
    }

    fn count(&mut self, v: &Value<'_>, key: &str, min: u32, max: u32) -> Option<u32> {
        let n = match v.get_ref() {
            DeValue::Integer(i) => i.as_str().parse::<u32>().ok(),
            DeValue::String(s) => s.parse::<u32>().ok(),
            other => {
                self.problem(
                    v.span(),
                    key,
                    format!("expected a number, found {}", other.type_str()),
                );
                return None;
            }
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.problem(
                    v.span(),
                    key,
                    format!("expected a number from {min} to {max}"),
                );
                None
            }
        }
    }

    fn path(&mut self, v: &Value<'_>, key: &str) -> Option<PathBuf> {
        let s = self.string(v, key)?;
        if s.is_empty() {
            self.problem(v.span(), key, "must not be empty");
            return None;
        }
        Some(self.base.join(s))
    }

    fn table<'v, 'a>(&mut self, v: &'v Value<'a>, key: &str) -> Option<&'v DeTable<'a>> {
        match v.get_ref() {
            DeValue::Table(t) => Some(t),
            other => {
                self.problem(
                    v.span(),
                    key,
                    format!("expected a table, found {}", other.type_str()),
                );
                None
            }
        }
    }

    fn root(&mut self, root: &DeTable<'_>, path: Option<&Path>) -> Config {
        self.unknown_keys(
            root,
            "",
            &[
                "state_dir",
                "control_socket",
                "debounce",
                "debounce_max",
                "max_updates_per_hour",
                "provider",
                "retry",
                "record",
            ],
        );
        let get = |k: &str| root.get(k);
        let state_dir = get("state_dir")
            .and_then(|v| self.path(v, "state_dir"))
            .unwrap_or_else(|| DEFAULT_STATE_DIR.into());
        let control_socket = get("control_socket")
            .and_then(|v| self.path(v, "control_socket"))
            .unwrap_or_else(|| DEFAULT_CONTROL_SOCKET.into());
        let debounce = get("debounce")
            .and_then(|v| self.duration(v, "debounce", Duration::ZERO, Duration::from_secs(60)))
            .unwrap_or(Duration::from_secs(1));
        let debounce_max = match get("debounce_max") {
            Some(v) => {
                let d = self.duration(v, "debounce_max", Duration::ZERO, Duration::from_secs(600));
                if let Some(d) = d.filter(|d| *d < debounce) {
                    self.problem(
                        v.span(),
                        "debounce_max",
                        format!(
                            "{} is shorter than debounce ({})",
                            duration::format(d),
                            duration::format(debounce)
                        ),
                    );
                }
                d.unwrap_or(debounce)
            }
            None => debounce.max(Duration::from_secs(10)),
        };
        let max_updates_per_hour = get("max_updates_per_hour")
            .and_then(|v| self.count(v, "max_updates_per_hour", 1, 3600))
            .unwrap_or(DEFAULT_MAX_PER_HOUR);
        let provider = self.provider(get("provider"));
        let retry = self.retry(get("retry"));
        let records = self.records(get("record"));
        Config {
            source: path.map(Path::to_path_buf),
            state_dir,
            control_socket,
            debounce,
            debounce_max,
            max_updates_per_hour,
            provider,
            retry,
            records,
        }
    }

    fn provider(&mut self, v: Option<&Value<'_>>) -> Provider {
        let mut p = Provider {
            url: Url::parse(DEFAULT_URL).expect("default url"),
            ca_file: None,
            timeout: DEFAULT_TIMEOUT,
        };
        let Some(t) = v.and_then(|v| self.table(v, "provider")) else {
            return p;
        };
        self.unknown_keys(t, "provider.", &["url", "ca_file", "timeout"]);
        if let Some(v) = t.get("timeout") {
            let (min, max) = (Duration::from_secs(1), Duration::from_secs(300));
            p.timeout = self
                .duration(v, "provider.timeout", min, max)
                .unwrap_or(p.timeout);
        }
        if let Some(v) = t.get("url")
            && let Some(s) = self.string(v, "provider.url")
        {
            match check_url(s) {
                Ok(url) => p.url = url,
                Err(e) => self.problem(v.span(), "provider.url", e),
            }
        }
        if let Some(v) = t.get("ca_file") {
            p.ca_file = self.path(v, "provider.ca_file");
            if let Some(f) = &p.ca_file
                && let Err(e) = std::fs::metadata(f)
            {
                self.problem(
                    v.span(),
                    "provider.ca_file",
                    format!("{}: {e}", f.display()),
                );
            }
        }
        p
    }

    fn retry(&mut self, v: Option<&Value<'_>>) -> Retry {
        let mut r = Retry {
            initial: Duration::from_secs(30),
            max: Duration::from_secs(3600),
        };
        let Some(t) = v.and_then(|v| self.table(v, "retry")) else {
            return r;
        };
        self.unknown_keys(t, "retry.", &["initial", "max"]);
        let day = Duration::from_secs(86400);
        if let Some(v) = t.get("initial") {
            let min = Duration::from_secs(1);
            r.initial = self
                .duration(v, "retry.initial", min, Duration::from_secs(3600))
                .unwrap_or(r.initial);
        }
        if let Some(v) = t.get("max") {
            match self.duration(v, "retry.max", Duration::from_secs(1), day) {
                Some(d) if d < r.initial => self.problem(
                    v.span(),
                    "retry.max",
                    format!(
                        "{} is shorter than retry.initial ({})",
                        duration::format(d),
                        duration::format(r.initial)
                    ),
                ),
                Some(d) => r.max = d,
                None => {}
            }
        } else {
            r.max = r.max.max(r.initial);
        }
        r
    }

    fn records(&mut self, v: Option<&Value<'_>>) -> Vec<Record> {
        let Some(v) = v else {
            self.problem(
                0..0,
                "record",
                "no [[record]] is defined: there is nothing to update",
            );
            return Vec::new();
        };
        let DeValue::Array(items) = v.get_ref() else {
            self.problem(
                v.span(),
                "record",
                "expected [[record]] tables (an array of tables)",
            );
            return Vec::new();
        };
        let mut records = Vec::new();
        let mut seen: HashSet<(String, Family)> = HashSet::new();
        for (i, item) in items.iter().enumerate() {
            let key = format!("record[{}]", i + 1);
            let Some(t) = self.table(item, &key) else {
                continue;
            };
            if let Some(r) = self.record(t, item.span(), &key) {
                for family in Family::ALL {
                    if r.enabled
                        && r.publishes(family)
                        && !seen.insert((r.hostname.clone(), family))
                    {
                        let span = t.get("hostname").map_or(item.span(), |v| v.span());
                        self.problem(
                            span,
                            &format!("{key}.hostname"),
                            format!(
                                "{} {family} is already published by an earlier record; \
                                 two records would fight over it",
                                r.hostname
                            ),
                        );
                    }
                }
                records.push(r);
            }
        }
        records
    }

    fn record(&mut self, t: &DeTable<'_>, span: Range<usize>, key: &str) -> Option<Record> {
        self.unknown_keys(
            t,
            &format!("{key}."),
            &[
                "hostname",
                "username",
                "password",
                "password_file",
                "interface",
                "ipv4",
                "ipv6",
                "enabled",
            ],
        );
        let before = self.problems.len();
        let k = |f: &str| format!("{key}.{f}");
        let required =
            |w: &mut Self, field: &str, check: fn(&str) -> Result<(), String>| match t.get(field) {
                None => {
                    w.problem(span.clone(), &k(field), "missing (required)");
                    None
                }
                Some(v) => {
                    let s = w.string(v, &k(field))?;
                    match check(s) {
                        Ok(()) => Some(s.to_string()),
                        Err(e) => {
                            w.problem(v.span(), &k(field), e);
                            None
                        }
                    }
                }
            };
        let hostname = required(self, "hostname", check_hostname)
            .map(|h| h.trim_end_matches('.').to_ascii_lowercase());
        let username = required(self, "username", check_username);
        let interface = required(self, "interface", check_interface);
        let flag = |w: &mut Self, field: &str, default: bool| {
            t.get(field)
                .and_then(|v| w.boolean(v, &k(field)))
                .unwrap_or(default)
        };
        let ipv4 = flag(self, "ipv4", true);
        let ipv6 = flag(self, "ipv6", false);
        let enabled = flag(self, "enabled", true);
        let (password, password_file) = self.password(t, span.clone(), key, enabled);
        if !ipv4 && !ipv6 {
            self.problem(
                span,
                key,
                "publishes neither ipv4 nor ipv6: set ipv4 = true or ipv6 = true, \
                 or enabled = false to keep the record without sending",
            );
        }
        if self.problems.len() > before {
            return None;
        }
        Some(Record {
            hostname: hostname?,
            username: username?,
            password: password?,
            password_file,
            interface: interface?,
            interface_alias: None,
            ipv4,
            ipv6,
            enabled,
        })
    }

    fn password(
        &mut self,
        t: &DeTable<'_>,
        span: Range<usize>,
        key: &str,
        enabled: bool,
    ) -> (Option<Secret>, Option<PathBuf>) {
        let inline = t.get("password");
        let file = t.get("password_file");
        match (inline, file) {
            (Some(_), Some(f)) => {
                self.problem(
                    f.span(),
                    &format!("{key}.password_file"),
                    "give either password or password_file, not both",
                );
                (None, None)
            }
            (None, None) => {
                self.problem(
                    span,
                    &format!("{key}.password"),
                    "missing: set password_file (recommended) or password",
                );
                (None, None)
            }
            (Some(v), None) => {
                let k = format!("{key}.password");
                let s = self.string(v, &k).map(str::to_string);
                let s = s.and_then(|s| match check_password(&s) {
                    Ok(()) => Some(Secret::new(s)),
                    Err(e) => {
                        self.problem(v.span(), &k, e);
                        None
                    }
                });
                (s, None)
            }
            (None, Some(v)) => {
                let k = format!("{key}.password_file");
                let Some(raw) = self.string(v, &k).map(str::to_string) else {
                    return (None, None);
                };
                let Some(mut path) = self.path(v, &k) else {
                    return (None, None);
                };
                // systemd's LoadCredential=NAME:... puts the file at $CREDENTIALS_DIRECTORY/NAME.
                if Path::new(&raw).is_relative()
                    && let Some(dir) = &self.credentials
                    && dir.join(&raw).is_file()
                {
                    path = dir.join(&raw);
                }
                match read_password_file(&path) {
                    Ok((secret, warning)) => {
                        self.warnings.extend(warning);
                        (Some(secret), Some(path))
                    }
                    // A disabled record sends nothing: its password may be missing
                    // (OpenWrt's default config ships a disabled example).
                    Err(e) if !enabled => {
                        self.warnings.push(format!(
                            "{key} is disabled; its password is not usable: {e}"
                        ));
                        (Some(Secret::new(String::new())), Some(path))
                    }
                    Err(e) => {
                        self.problem(v.span(), &k, e);
                        (None, Some(path))
                    }
                }
            }
        }
    }
}

/// Reads a password file: one line, trailing newline removed. Warns when others can read it.
fn read_password_file(path: &Path) -> Result<(Secret, Option<String>), String> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let mut text =
        String::from_utf8(bytes).map_err(|_| format!("{shown} is not valid UTF-8 text"))?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    check_password(&text).map_err(|e| format!("{shown}: {e}"))?;
    let warning = std::fs::metadata(path).ok().and_then(|m| {
        let mode = m.permissions().mode();
        (mode & 0o077 != 0).then(|| {
            format!(
                "password file {shown} is readable by group or others (mode {:04o}); \
                 run: chmod 600 {shown}",
                mode & 0o7777
            )
        })
    });
    Ok((Secret::new(text), warning))
}

fn check_password(s: &str) -> Result<(), String> {
    if s.is_empty() {
        Err("the password is empty".into())
    } else if s.chars().any(char::is_control) {
        // Never quote the value: it is a secret.
        Err("the password contains a control character (a second line?)".into())
    } else {
        Ok(())
    }
}

/// A fully qualified host name, as DynHost wants it: no scheme, no wildcard.
pub fn check_hostname(s: &str) -> Result<(), String> {
    let h = s.strip_suffix('.').unwrap_or(s);
    let bad = |why: &str| Err(format!("{s:?} {why}"));
    if h.is_empty() {
        return bad("is empty");
    }
    if h.len() > 253 {
        return bad("is longer than 253 characters");
    }
    if h.contains("://") || h.contains('/') {
        return bad("must be a host name only, such as home.example.com, not a URL");
    }
    if h.contains('*') {
        return bad("contains a wildcard; DynHost records name one host");
    }
    let labels: Vec<&str> = h.split('.').collect();
    if labels.len() < 2 {
        return bad("is not fully qualified (expected e.g. home.example.com)");
    }
    for label in labels {
        if label.is_empty() || label.len() > 63 {
            return bad("has an empty or over-long label");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return bad(
                "may hold only letters, digits, '-' and '_' (use the punycode form for IDNs)",
            );
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad("has a label that starts or ends with '-'");
        }
    }
    Ok(())
}

fn check_username(s: &str) -> Result<(), String> {
    if s.is_empty() {
        Err("is empty".into())
    } else if s.contains(':') {
        Err(format!(
            "{s:?} contains ':', which HTTP Basic authentication cannot carry"
        ))
    } else if s.chars().any(char::is_control) || s.len() > 256 {
        Err("contains control characters or is over 256 bytes".into())
    } else {
        Ok(())
    }
}

/// A Linux interface name: 1 to 15 bytes (IFNAMSIZ - 1). The kernel allows nearly any
/// byte, but real WAN names (ppp0, pppoe-wan, eth0.2, br-lan) use letters, digits and
/// `-_.`, and accepting nothing else keeps shell metacharacters out of hooks.
pub fn check_interface(s: &str) -> Result<(), String> {
    let shown: String = s.chars().take(32).collect();
    if s.is_empty() || s.len() > 15 {
        Err(format!(
            "{shown:?} is not an interface name (1 to 15 characters)"
        ))
    } else if s == "."
        || s == ".."
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        Err(format!(
            "{shown:?} is not an interface name (letters, digits, '-', '_', '.')"
        ))
    } else {
        Ok(())
    }
}

/// The provider endpoint: https, or plain http to loopback only (for tests and local relays).
pub fn check_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s).map_err(|e| format!("{s:?} is not a URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        // Do not echo the URL: it holds credentials.
        return Err(
            "the URL holds credentials; set username and password in the record instead".into(),
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{s:?} has a query or fragment; give the endpoint only, e.g. {DEFAULT_URL}"
        ));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback_host(&url) => Ok(url),
        "http" => Err(format!(
            "{s:?} uses plain http to a non-loopback host; the password would travel in clear. \
             Use https"
        )),
        other => Err(format!("{s:?}: unsupported scheme {other:?}; use https")),
    }
}

fn is_loopback_host(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// "; did you mean `x`?" when a known name is within two edits of `name`.
pub(crate) fn suggest(name: &str, known: &[&str], prefix: &str) -> String {
    known
        .iter()
        .find(|cand| edit_distance(cand, name) <= 2)
        .map(|c| format!("; did you mean `{prefix}{c}`?"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

impl fmt::Display for Config {
    /// Restates the effective config as TOML that `parse` accepts, defaults filled in and
    /// secrets redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = |p: &Path| toml_quote(&p.display().to_string());
        writeln!(f, "state_dir = {}", q(&self.state_dir))?;
        writeln!(f, "control_socket = {}", q(&self.control_socket))?;
        writeln!(f, "debounce = \"{}\"", duration::format(self.debounce))?;
        writeln!(
            f,
            "debounce_max = \"{}\"",
            duration::format(self.debounce_max)
        )?;
        writeln!(f, "max_updates_per_hour = {}", self.max_updates_per_hour)?;
        writeln!(
            f,
            "\n[provider]\nurl = {}",
            toml_quote(self.provider.url.as_str())
        )?;
        if let Some(ca) = &self.provider.ca_file {
            writeln!(f, "ca_file = {}", q(ca))?;
        }
        writeln!(
            f,
            "timeout = \"{}\"",
            duration::format(self.provider.timeout)
        )?;
        writeln!(
            f,
            "\n[retry]\ninitial = \"{}\"\nmax = \"{}\"",
            duration::format(self.retry.initial),
            duration::format(self.retry.max)
        )?;
        for r in &self.records {
            writeln!(f, "\n[[record]]")?;
            writeln!(f, "hostname = {}", toml_quote(&r.hostname))?;
            writeln!(f, "username = {}", toml_quote(&r.username))?;
            match &r.password_file {
                Some(p) => writeln!(
                    f,
                    "password_file = {}  # read: {} bytes",
                    q(p),
                    r.password.len()
                )?,
                None => writeln!(f, "password = \"<redacted>\"  # {} bytes", r.password.len())?,
            }
            write!(f, "interface = {}", toml_quote(&r.interface))?;
            match &r.interface_alias {
                Some(logical) => writeln!(f, "  # OpenWrt interface {logical:?}")?,
                None => writeln!(f)?,
            }
            writeln!(
                f,
                "ipv4 = {}\nipv6 = {}\nenabled = {}",
                r.ipv4, r.ipv6, r.enabled
            )?;
        }
        Ok(())
    }
}

fn toml_quote(s: &str) -> String {
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
mod tests {
    use super::*;

    const GOOD: &str = r#"
state_dir = "/tmp/dynhost-state"
debounce = "2s"
max_updates_per_hour = 6

[provider]
url = "http://127.0.0.1:8080/nic/update"
timeout = "20s"

[[record]]
hostname = "home.example.com"
username = "example.com-home"
password = "s3cret"
interface = "ppp0"

[[record]]
hostname = "v6.example.com"
username = "example.com-v6"
password = "other"
interface = "eth1"
ipv4 = false
ipv6 = true
enabled = false
"#;

    #[test]
    fn a_good_file_with_defaults() {
        let c = parse(GOOD, Some(Path::new("/etc/dynhost/config.toml")))
            .unwrap()
            .config;
        assert_eq!(c.state_dir, Path::new("/tmp/dynhost-state"));
        assert_eq!(c.debounce, Duration::from_secs(2));
        assert_eq!(c.debounce_max, Duration::from_secs(10));
        assert_eq!(c.retry.initial, Duration::from_secs(30));
        assert_eq!(c.max_updates_per_hour, 6);
        assert_eq!(c.provider.timeout, Duration::from_secs(20));
        assert_eq!(c.records.len(), 2);
        let r = &c.records[0];
        assert_eq!(r.hostname, "home.example.com");
        assert!(r.ipv4 && !r.ipv6 && r.enabled);
        assert_eq!(r.password.expose(), "s3cret");
        assert!(!c.records[1].enabled && c.records[1].ipv6);
    }

    #[test]
    fn restated_config_parses_to_the_same() {
        let c = parse(GOOD, None).unwrap().config;
        let shown = c.to_string();
        assert!(!shown.contains("s3cret"), "{shown}");
        let again = parse(&shown.replace("\"<redacted>\"", "\"x\""), None)
            .unwrap()
            .config;
        assert_eq!(again.state_dir, c.state_dir);
        assert_eq!(again.debounce, c.debounce);
        assert_eq!(again.debounce_max, c.debounce_max);
        assert_eq!(again.max_updates_per_hour, c.max_updates_per_hour);
        assert_eq!(again.provider, c.provider);
        assert_eq!(again.retry, c.retry);
        for (a, b) in again.records.iter().zip(&c.records) {
            assert_eq!(
                (&a.hostname, &a.username, &a.interface),
                (&b.hostname, &b.username, &b.interface)
            );
            assert_eq!((a.ipv4, a.ipv6, a.enabled), (b.ipv4, b.ipv6, b.enabled));
        }
    }

    fn errors(text: &str) -> Vec<(usize, String, String)> {
        parse(text, Some(Path::new("/etc/dynhost/config.toml")))
            .expect_err("should fail")
            .problems
            .into_iter()
            .map(|p| (p.line, p.key, p.message))
            .collect()
    }

    #[test]
    fn all_errors_at_once_with_lines_and_keys() {
        let text = r#"debounce = "fast"
debouncemax = "1s"

[provider]
url = "http://dns.eu.ovhapis.com/nic/update"

[[record]]
hostname = "home"
username = "a:b"
password = "x"
interface = "ppp0"
ipv4 = "yes"

[[record]]
hostname = "b.example.com"
interface = "a very long interface name"
"#;
        let errs = errors(text);
        let keys: Vec<(usize, &str)> = errs.iter().map(|(l, k, _)| (*l, k.as_str())).collect();
        assert_eq!(
            keys,
            vec![
                (1, "debounce"),
                (2, "debouncemax"),
                (5, "provider.url"),
                (8, "record[1].hostname"),
                (9, "record[1].username"),
                (12, "record[1].ipv4"),
                (14, "record[2].username"),
                (14, "record[2].password"),
                (16, "record[2].interface"),
            ],
            "{errs:#?}"
        );
        assert!(errs[1].2.contains("did you mean `debounce_max`"));
        assert!(errs[2].2.contains("plain http"));
        assert!(errs[3].2.contains("not fully qualified"));
    }

    #[test]
    fn display_names_file_line_and_key() {
        let err = parse("bogus = 1\n[[record]]\n", Some(Path::new("/x/c.toml"))).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("/x/c.toml: "), "{text}");
        assert!(text.contains("/x/c.toml:1:1: bogus: unknown key"), "{text}");
    }

    #[test]
    fn syntax_errors_are_located() {
        let errs = errors("debounce = \"1s\"\n[[record]\nhostname = \n");
        assert!(errs.iter().any(|(l, _, _)| *l == 2), "{errs:#?}");
    }

    #[test]
    fn no_records_is_an_error() {
        let errs = errors("debounce = \"1s\"\n");
        assert_eq!(errs[0].1, "record");
    }

    #[test]
    fn duplicates_fight() {
        let rec = "[[record]]\nhostname = \"a.example.com\"\nusername = \"u\"\npassword = \"p\"\ninterface = \"ppp0\"\n";
        let errs = errors(&format!("{rec}{rec}"));
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].0, 7);
        assert!(errs[0].2.contains("already published"));
        // A disabled duplicate does not fight.
        let ok = format!("{rec}{rec}enabled = false\n");
        assert!(parse(&ok, None).is_ok());
    }

    #[test]
    fn url_rules() {
        assert!(check_url("https://dns.eu.ovhapis.com/nic/update").is_ok());
        assert!(check_url("http://127.0.0.1:9/nic/update").is_ok());
        assert!(check_url("http://[::1]:9/nic/update").is_ok());
        assert!(check_url("http://localhost/nic/update").is_ok());
        assert!(check_url("http://www.ovh.com/nic/update").is_err());
        assert!(check_url("ftp://x/").is_err());
        let e = check_url("https://user:hunter2@x.example/").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(check_url("https://x.example/nic/update?system=dyndns").is_err());
    }

    #[test]
    fn hostnames_and_interfaces() {
        for ok in [
            "home.example.com",
            "a.b",
            "x_y.example.com.",
            "A.EXAMPLE.COM",
        ] {
            assert!(check_hostname(ok).is_ok(), "{ok}");
        }
        for bad in [
            "home",
            "*.example.com",
            "https://a.example.com",
            "a..b",
            "-a.b",
            "a b.c",
            "",
        ] {
            assert!(check_hostname(bad).is_err(), "{bad}");
        }
        for ok in ["ppp0", "pppoe-wan", "eth0.100", "wan"] {
            assert!(check_interface(ok).is_ok(), "{ok}");
        }
        for bad in ["", "sixteen-chars-xx", "a/b", "a b", "..", "br0:1"] {
            assert!(check_interface(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn password_files() {
        let dir = std::env::temp_dir().join(format!("dynhost-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let secret = dir.join("home.secret");
        std::fs::write(&secret, "pa ss\n").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        let text = "[[record]]\nhostname = \"a.example.com\"\nusername = \"u\"\npassword_file = \"home.secret\"\ninterface = \"ppp0\"\n";
        let cfg_path = dir.join("config.toml");
        let loaded = parse(text, Some(&cfg_path)).unwrap();
        assert_eq!(loaded.config.records[0].password.expose(), "pa ss");
        assert_eq!(loaded.warnings.len(), 1);
        assert!(loaded.warnings[0].contains(&format!("chmod 600 {}", secret.display())));
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(parse(text, Some(&cfg_path)).unwrap().warnings.is_empty());
        std::fs::write(&secret, "line1\nline2\n").unwrap();
        let err = parse(text, Some(&cfg_path)).unwrap_err().to_string();
        assert!(
            err.contains("control character") && !err.contains("line1"),
            "{err}"
        );
        std::fs::remove_file(&secret).unwrap();
        let err = parse(text, Some(&cfg_path)).unwrap_err().to_string();
        assert!(err.contains("cannot read"), "{err}");
        // A disabled record only warns: it sends nothing.
        let disabled = format!("{text}enabled = false\n");
        let loaded = parse(&disabled, Some(&cfg_path)).unwrap();
        assert!(
            loaded.warnings[0].contains("is disabled"),
            "{:?}",
            loaded.warnings
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn uci_files_get_the_same_checks_and_located_errors() {
        let network = "config interface 'wan'\n\toption device 'eth1'\n\toption proto 'pppoe'\n";
        let text = "config dynhost\n\toption debounce '3s'\n\toption url 'http://127.0.0.1:9/nic/update'\n\n\
                    config record 'home'\n\toption hostname 'home.example.com'\n\
                    \toption username 'u'\n\toption password 'p'\n\toption interface 'wan'\n\
                    \toption ipv6 '1'\n";
        let c = parse_with(
            text,
            Some(Path::new("/etc/config/dynhost")),
            None,
            Some(network),
        )
        .unwrap()
        .config;
        assert_eq!(c.debounce, Duration::from_secs(3));
        assert_eq!(c.provider.url.as_str(), "http://127.0.0.1:9/nic/update");
        // OpenWrt has no /run: the UCI default socket is under /var/run (tmpfs).
        assert_eq!(c.control_socket, Path::new(UCI_CONTROL_SOCKET));
        let mine = text.replace(
            "option debounce '3s'",
            "option control_socket '/tmp/d.sock'",
        );
        let c2 = parse(&mine, Some(Path::new("/etc/config/dynhost"))).unwrap();
        assert_eq!(c2.config.control_socket, Path::new("/tmp/d.sock"));
        let r = &c.records[0];
        assert_eq!(r.interface, "pppoe-wan");
        assert_eq!(r.interface_alias.as_deref(), Some("wan"));
        assert!(r.ipv4 && r.ipv6 && r.enabled);
        assert!(
            c.to_string()
                .contains("interface = \"pppoe-wan\"  # OpenWrt interface \"wan\"")
        );

        let bad = "config record\n\toption hostname 'home'\n\toption username 'u'\n\
                   \toption password 'p'\n\toption interface 'ppp0'\n\toption ipv6 'maybe'\n";
        let err = parse_with(bad, Some(Path::new("/etc/config/dynhost")), None, None).unwrap_err();
        let found: Vec<(usize, &str)> = err
            .problems
            .iter()
            .map(|p| (p.line, p.key.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![(2, "record[1].hostname"), (6, "record[1].ipv6")],
            "{err}"
        );
    }

    #[test]
    fn relative_password_files_come_from_systemd_credentials_first() {
        let dir = std::env::temp_dir().join(format!("dynhost-cred-{}", std::process::id()));
        let creds = dir.join("creds");
        std::fs::create_dir_all(&creds).unwrap();
        std::fs::write(dir.join("home.secret"), "from-etc\n").unwrap();
        std::fs::write(creds.join("home.secret"), "from-systemd\n").unwrap();
        let text = "[[record]]\nhostname = \"a.example.com\"\nusername = \"u\"\n\
                    password_file = \"home.secret\"\ninterface = \"ppp0\"\n";
        let cfg = dir.join("config.toml");
        let with = parse_with(text, Some(&cfg), Some(creds.clone()), None).unwrap();
        assert_eq!(with.config.records[0].password.expose(), "from-systemd");
        let without = parse_with(text, Some(&cfg), None, None).unwrap();
        assert_eq!(without.config.records[0].password.expose(), "from-etc");
        std::fs::remove_file(creds.join("home.secret")).unwrap();
        let fallback = parse_with(text, Some(&cfg), Some(creds), None).unwrap();
        assert_eq!(fallback.config.records[0].password.expose(), "from-etc");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn embedded_default_is_valid() {
        let c = embedded_default("eth0");
        assert_eq!(c.records[0].interface, "eth0");
        assert!(c.source.is_none());
    }
}
