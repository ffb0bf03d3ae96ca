//! The one table of settings. Each entry names a key (as written in TOML), its UCI
//! option, its kind and range, its default and its help text, and says where its value
//! goes. The TOML reader, the UCI translation, `dynhost check`'s restatement and the
//! README's reference table all come from here: adding a setting is one entry plus the
//! field it fills.

use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;

use super::{Config, Record};
use crate::duration;
use crate::model::Source;
use crate::secret::Secret;

/// What a setting holds, and the range it accepts.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Duration {
        min: Duration,
        max: Duration,
    },
    Count {
        min: u32,
        max: u32,
    },
    Bool,
    /// A path; relative ones are taken from the config file's directory.
    Path,
    /// The provider endpoint: https, or http to loopback.
    Url,
    /// A string that must pass a check (host names, logins, interface names).
    Name(fn(&str) -> Result<(), String>),
    /// A password given inline: never shown.
    Secret,
    /// Where an address comes from: one of `allowed`, or a list of them tried in order.
    Sources(&'static [Source]),
    /// An IPv6 interface identifier, such as `::1234` (the high 64 bits zero).
    Suffix,
    /// A duration, or `"off"`.
    Interval {
        min: Duration,
        max: Duration,
    },
    /// A list of URLs: https, or http to loopback.
    Urls,
    /// DNS servers, `host` or `host:port` (one, or with `many` a list).
    Hosts {
        many: bool,
    },
    /// Strings (one, or with `many` a list) that must pass `check` together.
    Strings {
        check: fn(&[String]) -> Result<(), String>,
        many: bool,
    },
}

/// A checked value, ready to be stored.
#[derive(Clone, Debug)]
pub enum Value {
    Duration(Duration),
    Count(u32),
    Bool(bool),
    Path(PathBuf),
    Url(Url),
    Text(String),
    Secret(Secret),
    Sources(Vec<Source>),
    Suffix(Ipv6Addr),
    Interval(Option<Duration>),
    Urls(Vec<Url>),
    Hosts(Vec<String>),
    Strings(Vec<String>),
}

/// What holds when a key is absent.
#[derive(Clone, Copy, Debug)]
pub enum Default {
    /// This text, read as if it had been written in the file.
    Value(&'static str),
    /// A value derived from other settings; `doc` says how (for the README).
    Derived {
        value: &'static str,
        doc: &'static str,
    },
    /// The key must be given.
    Required,
    /// Nothing: the feature is off, or another key stands in (`doc` says so).
    Absent(&'static str),
}

/// Where a value goes, and how `check` shows it back.
#[derive(Clone, Copy)]
pub enum Target {
    Global {
        set: fn(&mut Config, Value),
        show: fn(&Config) -> Option<String>,
    },
    Record {
        set: fn(&mut Record, Value),
        show: fn(&Record) -> Option<String>,
    },
}

pub struct Setting {
    /// The TOML key: `debounce`, `provider.timeout`, `record.hostname`.
    pub key: &'static str,
    /// The option in OpenWrt's UCI format (in `config dynhost` or `config record`).
    pub uci: &'static str,
    pub kind: Kind,
    pub default: Default,
    /// A UCI config's default, where it differs (OpenWrt has no /run).
    pub uci_default: Option<&'static str>,
    pub help: &'static str,
    pub target: Target,
}

impl Setting {
    /// The table the key lives in (`""` for the top level, `"record"` for records).
    pub fn section(&self) -> &'static str {
        self.key.rsplit_once('.').map_or("", |(s, _)| s)
    }

    /// The key within its table.
    pub fn leaf(&self) -> &'static str {
        self.key.rsplit_once('.').map_or(self.key, |(_, l)| l)
    }

    pub fn is_record(&self) -> bool {
        matches!(self.target, Target::Record { .. })
    }
}

/// Each accessor is called only by the entry whose kind produced the value: the table
/// ties them together, and a unit test reads every default back through them.
macro_rules! accessors {
    ($($name:ident -> $t:ty = $variant:ident),* $(,)?) => {
        impl Value {
            $(pub(super) fn $name(self) -> $t {
                match self {
                    Value::$variant(v) => v,
                    other => unreachable!(concat!("not a ", stringify!($variant), ": {:?}"), other),
                }
            })*
        }
    };
}

accessors! {
    duration -> Duration = Duration,
    count -> u32 = Count,
    bool -> bool = Bool,
    path -> PathBuf = Path,
    url -> Url = Url,
    text -> String = Text,
    secret -> Secret = Secret,
    sources -> Vec<Source> = Sources,
    suffix -> Ipv6Addr = Suffix,
    interval -> Option<Duration> = Interval,
    urls -> Vec<Url> = Urls,
    hosts -> Vec<String> = Hosts,
    strings -> Vec<String> = Strings,
}

/// How the README shows a default.
pub fn doc_default(s: &Setting) -> String {
    let shown = |v: &str| match s.kind {
        Kind::Duration { .. } | Kind::Interval { .. } | Kind::Sources(_) => format!("`\"{v}\"`"),
        _ => format!("`{v}`"),
    };
    let base = match s.default {
        Default::Value(v) => shown(v),
        Default::Derived { doc, .. } => doc.to_string(),
        Default::Required => "required".to_string(),
        Default::Absent(doc) => doc.to_string(),
    };
    match s.uci_default {
        Some(u) => format!("{base} (UCI: `{u}`)"),
        None => base,
    }
}

/// How the README shows a range.
/// How the README and the man page show a range (with backquotes for the README's
/// Markdown; the man page's renderer takes them as code).
pub fn doc_range(kind: &Kind) -> String {
    match kind {
        Kind::Duration { min, max } => format!(
            " (`{}` to `{}`)",
            duration::format(*min),
            duration::format(*max)
        ),
        Kind::Count { min, max } => format!(" ({min} to {max})"),
        Kind::Interval { min, max } => format!(
            " (`\"off\"`, or `{}` to `{}`)",
            duration::format(*min),
            duration::format(*max)
        ),
        Kind::Sources(allowed) => {
            let names: Vec<String> = allowed.iter().map(|s| format!("`\"{s}\"`")).collect();
            format!(" ({}, or a list of them tried in order)", names.join(", "))
        }
        _ => String::new(),
    }
}
