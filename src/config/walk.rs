//! The config text to a validated `Config`, with every error at once, each naming the
//! file, the line and the key. Pure but for what it asks through `Files`.
//!
//! The file is walked over toml's spanned tree rather than deserialised with serde:
//! serde stops at the first error, and we want them all, with their locations. Which
//! keys exist, their kinds, ranges and defaults all come from `table::SETTINGS`.

use std::collections::HashSet;
use std::ops::Range;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::checks::{self, suggest};
use super::files::{CONFIG_LIMIT, Files, System};
use super::settings::{Default, Kind, Setting, Target, Value};
use super::table::{self, SETTINGS};
use super::{Config, ConfigError, Loaded, Problem, Publisher, Record, uci, value};
use crate::model::{Family, Source};
use crate::{bounded, duration};

type Spanned_<'a> = Spanned<DeValue<'a>>;

/// Reads config text: TOML, or UCI when it looks like UCI.
pub fn read(text: &str, path: Option<&Path>, files: &dyn Files) -> Result<Loaded, ConfigError> {
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
        line_starts: None,
        dropped: 0,
        base,
        files,
        problems: Vec::new(),
        warnings: Vec::new(),
    };
    let config_time = path.and_then(|p| files.modified(p));
    let config = if uci::looks_like_uci(text) {
        let (sections, syntax) = uci::parse(text);
        let network = path
            .and_then(|p| files.network(p))
            .map(|n| uci::parse(&n).0)
            .unwrap_or_default();
        let mut aliases = Vec::new();
        let netifd = |name: &str| files.l3_device(name);
        let mut notes = Vec::new();
        let (root, problems) =
            uci::to_table_asking(&sections, &network, &netifd, &mut aliases, &mut notes);
        w.warnings.extend(notes);
        for (span, msg) in syntax.into_iter().chain(problems) {
            w.problem(span, "", msg);
        }
        let mut config = w.root(&root, true, config_time);
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
        w.root(root.get_ref(), false, config_time)
    };
    let mut config = config;
    config.source = path.map(Path::to_path_buf);
    w.problems.sort_by_key(|p| (p.line, p.column));
    w.problems.dedup();
    let omitted = w.problems.len().saturating_sub(SHOWN_PROBLEMS) + w.dropped;
    w.problems.truncate(SHOWN_PROBLEMS);
    if w.problems.is_empty() {
        Ok(Loaded {
            config,
            warnings: w.warnings,
        })
    } else {
        Err(ConfigError {
            origin,
            problems: w.problems,
            omitted,
        })
    }
}

/// The value a setting takes when its key is absent (`Required` and `Absent` ones
/// have none).
/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let origin = path.display().to_string();
    let text = bounded::read_text(path, CONFIG_LIMIT).map_err(|e| ConfigError {
        origin: origin.clone(),
        problems: vec![Problem {
            offset: 0,
            line: 0,
            column: 0,
            key: String::new(),
            message: format!("cannot read the config file: {e}"),
        }],
        omitted: 0,
    })?;
    // A byte order mark from a Windows editor is not part of the config.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut loaded = parse(text, Some(path))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let inline = loaded
            .config
            .records
            .iter()
            .any(|r| r.password_file.is_none() && r.provider == Publisher::DynDns);
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

/// Parses config text (TOML, or OpenWrt UCI) against the real filesystem. `path`
/// locates relative paths and names the origin in errors.
pub fn parse(text: &str, path: Option<&Path>) -> Result<Loaded, ConfigError> {
    read(text, path, &System::new())
}

fn default_text(s: &Setting, uci: bool) -> Option<&'static str> {
    match (s.default, s.uci_default) {
        (_, Some(u)) if uci => Some(u),
        (Default::Value(v) | Default::Derived { value: v, .. }, _) => Some(v),
        _ => None,
    }
}

impl Config {
    /// Every setting at its default; `uci` for a UCI config.
    pub fn defaults(uci: bool) -> Config {
        let mut c = Config::empty();
        for s in SETTINGS {
            if let (Target::Global { set, .. }, Some(t)) = (s.target, default_text(s, uci)) {
                set(
                    &mut c,
                    value::from_text(&s.kind, t).expect("the table's defaults are valid"),
                );
            }
        }
        c
    }
}

impl Record {
    /// A record with every optional setting at its default.
    fn defaults() -> Record {
        let mut r = Record::empty();
        for s in SETTINGS {
            if let (Target::Record { set, .. }, Some(t)) = (s.target, default_text(s, false)) {
                set(
                    &mut r,
                    value::from_text(&s.kind, t).expect("the table's defaults are valid"),
                );
            }
        }
        r
    }
}

/// Problems collected at most (the rest are only counted), and shown at most.
const KEPT_PROBLEMS: usize = 100;
const SHOWN_PROBLEMS: usize = 50;

/// Where each line of `text` starts.
fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

struct Walker<'t> {
    text: &'t str,
    line_starts: Option<Vec<usize>>,
    dropped: usize,
    base: PathBuf,
    files: &'t dyn Files,
    problems: Vec<Problem>,
    warnings: Vec<String>,
}

impl Walker<'_> {
    fn problem(&mut self, span: Range<usize>, key: &str, message: impl Into<String>) {
        let start = span.start.min(self.text.len());
        // The first problems of the file are kept (a bounded set), the others counted.
        if self.problems.len() >= KEPT_PROBLEMS {
            let (max, i) = self
                .problems
                .iter()
                .enumerate()
                .map(|(i, p)| (p.offset, i))
                .max()
                .expect("kept problems");
            self.dropped += 1;
            if start >= max {
                return;
            }
            self.problems.swap_remove(i);
        }
        // The lines start where the index says: locating is a binary search, not a
        // scan of the text for each problem.
        let starts = self
            .line_starts
            .get_or_insert_with(|| line_starts(self.text));
        let line = starts.partition_point(|&s| s <= start);
        let column = self.text[starts[line - 1]..start].len() + 1;
        self.problems.push(Problem {
            offset: start,
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

    fn table<'v, 'a>(&mut self, v: &'v Spanned_<'a>, key: &str) -> Option<&'v DeTable<'a>> {
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

    /// One value, checked against its setting's kind and range.
    fn value(&mut self, v: &Spanned_<'_>, key: &str, kind: &Kind) -> Option<Value> {
        match value::read(kind, v.get_ref(), &self.base) {
            Ok(value) => Some(value),
            Err(e) => {
                self.problem(v.span(), key, e);
                None
            }
        }
    }

    /// Applies the settings of `section` found in `table`; `prefix` names keys in errors.
    fn apply(
        &mut self,
        table: &DeTable<'_>,
        section: &str,
        prefix: &str,
        config: &mut Config,
        record: &mut Record,
    ) {
        for s in table::in_section(section) {
            let Some(v) = table.get(s.leaf()) else {
                continue;
            };
            let key = format!("{prefix}{}", s.leaf());
            let Some(value) = self.value(v, &key, &s.kind) else {
                continue;
            };
            match s.target {
                Target::Global { set, .. } => set(config, value),
                Target::Record { set, .. } => set(record, value),
            }
        }
    }

    fn root(&mut self, root: &DeTable<'_>, uci: bool, config_time: Option<u64>) -> Config {
        let sections = table::sections();
        let mut known: Vec<&str> = table::in_section("").map(Setting::leaf).collect();
        known.extend(&sections);
        self.unknown_keys(root, "", &known);
        let mut c = Config::defaults(uci);
        let mut scratch = Record::empty();
        self.apply(root, "", "", &mut c, &mut scratch);
        for section in sections.iter().filter(|s| **s != "record") {
            let Some(v) = root.get(*section) else {
                continue;
            };
            let Some(t) = self.table(v, section) else {
                continue;
            };
            let prefix = format!("{section}.");
            let names: Vec<&str> = table::in_section(section).map(Setting::leaf).collect();
            self.unknown_keys(t, &prefix, &names);
            self.apply(t, section, &prefix, &mut c, &mut scratch);
        }
        self.derived(root, &mut c);
        // Without the `verify` feature the check is off, an error only if asked for.
        if let Err(e) = checks::built_with("verify") {
            let asked = match root.get("verify").map(Spanned::get_ref) {
                Some(DeValue::Table(t)) => t.get("enabled").map(Spanned::span),
                _ => None,
            };
            match asked {
                // (Unless its value was already refused.)
                Some(span)
                    if c.verify.enabled
                        && !self.problems.iter().any(|p| p.key == "verify.enabled") =>
                {
                    self.problem(span, "verify.enabled", e)
                }
                _ => c.verify.enabled = false,
            }
        }
        if let Some(ca) = &c.provider.ca_file {
            match self.files.ca(ca) {
                Ok(pem) => c.provider.ca_pem = Some(pem),
                Err(e) => {
                    let span = match root.get("provider").map(Spanned::get_ref) {
                        Some(DeValue::Table(t)) => t.get("ca_file").map_or(0..0, Spanned::span),
                        _ => 0..0,
                    };
                    self.problem(span, "provider.ca_file", e);
                }
            }
        }
        c.records = self.records(root.get("record"), config_time, !c.web.urls.is_empty());
        c
    }

    /// Defaults that depend on another setting, and the orderings between settings.
    fn derived(&mut self, root: &DeTable<'_>, c: &mut Config) {
        let at = |table: Option<&str>, key: &str| {
            let t = match table {
                None => Some(root),
                Some(name) => match root.get(name).map(Spanned::get_ref) {
                    Some(DeValue::Table(t)) => Some(t),
                    _ => None,
                },
            };
            t.and_then(|t| t.get(key)).map(Spanned::span)
        };
        match at(None, "debounce_max") {
            None => c.debounce_max = c.debounce.max(Duration::from_secs(10)),
            Some(span) if c.debounce_max < c.debounce => {
                let msg = format!(
                    "{} is shorter than debounce ({})",
                    duration::format(c.debounce_max),
                    duration::format(c.debounce)
                );
                self.problem(span, "debounce_max", msg);
            }
            Some(_) => {}
        }
        match at(Some("retry"), "max") {
            None => c.retry.max = c.retry.max.max(c.retry.initial),
            Some(span) if c.retry.max < c.retry.initial => {
                let msg = format!(
                    "{} is shorter than retry.initial ({})",
                    duration::format(c.retry.max),
                    duration::format(c.retry.initial)
                );
                self.problem(span, "retry.max", msg);
            }
            Some(_) => {}
        }
    }

    fn records(
        &mut self,
        v: Option<&Spanned_<'_>>,
        config_time: Option<u64>,
        web_urls: bool,
    ) -> Vec<Record> {
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
            let Some(mut r) = self.record(t, item.span(), &key) else {
                continue;
            };
            self.sources(t, item.span(), &key, &r, web_urls);
            r.changed_at = match (&r.password_file, config_time) {
                (Some(p), Some(c)) => self.files.modified(p).map(|t| t.max(c)),
                (None, c) => c,
                (Some(_), None) => None,
            };
            for family in Family::ALL {
                if r.enabled && r.publishes(family) && !seen.insert((r.hostname.clone(), family)) {
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
        records
    }

    fn record(&mut self, t: &DeTable<'_>, span: Range<usize>, key: &str) -> Option<Record> {
        let prefix = format!("{key}.");
        let names: Vec<&str> = table::in_section("record").map(Setting::leaf).collect();
        self.unknown_keys(t, &prefix, &names);
        let before = self.problems.len();
        for s in table::in_section("record") {
            if matches!(s.default, Default::Required) && t.get(s.leaf()).is_none() {
                let k = format!("{prefix}{}", s.leaf());
                self.problem(span.clone(), &k, "missing (required)");
            }
        }
        let mut r = Record::defaults();
        let mut scratch = Config::empty();
        self.apply(t, "record", &prefix, &mut scratch, &mut r);
        if r.provider == Publisher::DynDns {
            self.dyndns_only(t, span.clone(), key, &r);
            self.password(t, span.clone(), key, &mut r);
        } else {
            for k in ["username", "password", "password_file"] {
                if let Some(v) = t.get(k) {
                    self.problem(
                        v.span(),
                        &format!("{key}.{k}"),
                        "is not used with provider = \"ovh-api\": the [ovh] credentials sign \
                         its calls; remove it",
                    );
                }
            }
        }
        if !r.ipv4 && !r.ipv6 {
            self.problem(
                span,
                key,
                "publishes neither ipv4 nor ipv6: set ipv4 = true or ipv6 = true, \
                 or enabled = false to keep the record without sending",
            );
        }
        (self.problems.len() == before).then_some(r)
    }

    /// What a DynHost record needs and cannot be: a login; no wildcard, no apex.
    fn dyndns_only(&mut self, t: &DeTable<'_>, span: Range<usize>, key: &str, r: &Record) {
        if t.get("username").is_none() {
            self.problem(
                span.clone(),
                &format!("{key}.username"),
                "missing (required)",
            );
        }
        let at = t.get("hostname").map_or(span, Spanned::span);
        if r.hostname.starts_with("*.") {
            self.problem(
                at,
                &format!("{key}.hostname"),
                "is a wildcard: DynHost records name one host (OVH refuses wildcards); \
                 use provider = \"ovh-api\" to publish it through the zone's own records",
            );
        } else if r.hostname.split('.').count() == 2 {
            self.problem(
                at,
                &format!("{key}.hostname"),
                "is a zone apex: DynHost cannot publish it; use provider = \"ovh-api\"",
            );
        }
    }

    /// The sources a record names fit together with the rest of the config.
    fn sources(&mut self, t: &DeTable<'_>, span: Range<usize>, key: &str, r: &Record, web: bool) {
        let at = |k: &str| t.get(k).map_or(span.clone(), Spanned::span);
        for (family, field) in [(Family::V4, "ipv4_source"), (Family::V6, "ipv6_source")] {
            let built = r
                .sources(family)
                .iter()
                .try_for_each(|s| checks::source_built(*s));
            if let (true, Err(e)) = (r.publishes(family), built) {
                self.problem(at(field), &format!("{key}.{field}"), e);
                continue;
            }
            if r.publishes(family) && r.sources(family).contains(&Source::Web) && !web {
                self.problem(
                    at(field),
                    &format!("{key}.{field}"),
                    "uses the web source, but no echo service is configured: set [web] urls \
                     (README, \"Behind another router\", lists some and what each learns)",
                );
            }
        }
        if r.allow_private {
            self.warnings.push(format!(
                "{key}.allow_private = true: a private or CGNAT address may be published \
                 (reachable only from the LAN or the VPN); link-local and loopback never are"
            ));
        }
        if r.ipv6_suffix.is_some() {
            if !r.ipv6 {
                self.problem(
                    at("ipv6_suffix"),
                    &format!("{key}.ipv6_suffix"),
                    "is set but the record does not publish ipv6: set ipv6 = true",
                );
            } else if r.ipv6_source.first() != Some(&Source::Interface) {
                self.problem(
                    at("ipv6_suffix"),
                    &format!("{key}.ipv6_suffix"),
                    "needs ipv6_source = \"interface\": the prefix comes from the interface",
                );
            }
        }
    }

    /// `password` or `password_file`, exactly one; the file is read here.
    fn password(&mut self, t: &DeTable<'_>, span: Range<usize>, key: &str, r: &mut Record) {
        match (t.get("password"), t.get("password_file")) {
            (Some(_), Some(f)) => self.problem(
                f.span(),
                &format!("{key}.password_file"),
                "give either password or password_file, not both",
            ),
            (None, None) => self.problem(
                span,
                &format!("{key}.password"),
                "missing: set password_file (recommended) or password",
            ),
            (Some(_), None) => {}
            (None, Some(v)) => {
                let (Some(path), Some(DeValue::String(raw))) =
                    (&r.password_file, Some(v.get_ref()))
                else {
                    return;
                };
                let mut path = path.clone();
                // systemd's LoadCredential=NAME:... puts the file at $CREDENTIALS_DIRECTORY/NAME.
                if Path::new(raw.as_ref()).is_relative()
                    && let Some(cred) = self.files.credential(raw)
                {
                    path = cred;
                }
                match self.files.password(&path) {
                    Ok((secret, warning)) => {
                        self.warnings.extend(warning);
                        r.password = secret;
                    }
                    // A disabled record sends nothing: its password may be missing
                    // (OpenWrt's default config ships a disabled example).
                    Err(e) if !r.enabled => self.warnings.push(format!(
                        "{key} is disabled; its password is not usable: {e}"
                    )),
                    Err(e) => self.problem(v.span(), &format!("{key}.password_file"), e),
                }
                r.password_file = Some(path);
            }
        }
    }
}
