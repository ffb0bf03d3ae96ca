//! A setting's value: from TOML (or UCI translated to TOML) or from a default's text,
//! checked against its kind and range. Pure.

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::de::DeValue;

use super::checks::{check_echo_url, check_password, check_url};
use super::settings::{Kind, Value};
use crate::duration;
use crate::model::Source;
use crate::secret::Secret;

/// Reads `v` as a value of `kind`; relative paths are taken from `base`.
pub(super) fn read(kind: &Kind, v: &DeValue<'_>, base: &Path) -> Result<Value, String> {
    let string = |v: &DeValue<'_>| match v {
        DeValue::String(s) => Ok(s.to_string()),
        other => Err(format!("expected a string, found {}", other.type_str())),
    };
    match (kind, v) {
        (Kind::Duration { min, max }, value) => {
            let d = match value {
                DeValue::String(s) => duration::parse(s)?,
                DeValue::Integer(i) => i
                    .as_str()
                    .parse::<u64>()
                    .map(Duration::from_secs)
                    .map_err(|_| format!("{} is not a number of seconds", i.as_str()))?,
                other => {
                    return Err(format!(
                        "expected a duration such as \"1s\", found {}",
                        other.type_str()
                    ));
                }
            };
            if d < *min || d > *max {
                return Err(format!(
                    "{} is out of range ({} to {})",
                    duration::format(d),
                    duration::format(*min),
                    duration::format(*max)
                ));
            }
            Ok(Value::Duration(d))
        }
        (Kind::Count { min, max }, value) => {
            let n = match value {
                DeValue::Integer(i) => i.as_str().parse::<u32>().ok(),
                DeValue::String(s) => s.parse::<u32>().ok(),
                other => return Err(format!("expected a number, found {}", other.type_str())),
            };
            match n {
                Some(n) if (*min..=*max).contains(&n) => Ok(Value::Count(n)),
                _ => Err(format!("expected a number from {min} to {max}")),
            }
        }
        (Kind::Bool, DeValue::Boolean(b)) => Ok(Value::Bool(*b)),
        (Kind::Bool, other) => Err(format!(
            "expected true or false, found {}",
            other.type_str()
        )),
        (Kind::Path, v) => {
            let s = string(v)?;
            if s.is_empty() {
                Err("must not be empty".to_string())
            } else {
                Ok(Value::Path(base.join(s)))
            }
        }
        (Kind::Url, v) => check_url(&string(v)?).map(Value::Url),
        (Kind::Name(check), v) => {
            let s = string(v)?;
            check(&s).map(|()| Value::Text(s))
        }
        (Kind::Secret, v) => {
            let s = string(v)?;
            check_password(&s).map(|()| Value::Secret(Secret::new(s)))
        }
        (Kind::Sources(allowed), v) => {
            let names = strings(v, "a source such as \"gateway\", or a list of them")?;
            sources(&names, allowed).map(Value::Sources)
        }
        (Kind::Suffix, v) => suffix(&string(v)?).map(Value::Suffix),
        (Kind::Interval { min, max }, DeValue::String(s)) if s.as_ref() == "off" => {
            let _ = (min, max);
            Ok(Value::Interval(None))
        }
        (Kind::Interval { min, max }, v) => {
            match read(
                &Kind::Duration {
                    min: *min,
                    max: *max,
                },
                v,
                base,
            ) {
                Ok(Value::Duration(d)) => Ok(Value::Interval(Some(d))),
                Ok(_) => unreachable!("a duration reads as a duration"),
                Err(e) => Err(format!("{e}; or \"off\"")),
            }
        }
        (Kind::Hosts { many }, v) => {
            let hosts = if *many {
                strings(v, "a list of servers such as \"ns1.example.net\"")?
            } else {
                vec![string(v)?]
            };
            if hosts.len() > MAX_URLS {
                return Err(format!("at most {MAX_URLS} servers"));
            }
            hosts
                .iter()
                .map(|h| host(h))
                .collect::<Result<_, _>>()
                .map(Value::Hosts)
        }
        (Kind::Strings { check, many }, v) => {
            let list = if *many {
                strings(v, "a list of strings")?
            } else {
                vec![string(v)?]
            };
            check(&list).map(|()| Value::Strings(list))
        }
        (Kind::Urls, v) => {
            let urls = strings(v, "a list of URLs")?;
            if urls.is_empty() {
                return Err("the list is empty".into());
            }
            if urls.len() > MAX_URLS {
                return Err(format!("at most {MAX_URLS} URLs"));
            }
            urls.iter()
                .map(|u| check_echo_url(u))
                .collect::<Result<_, _>>()
                .map(Value::Urls)
        }
    }
}

/// A DNS server as `verify.servers` and `verify.resolver` take it.
fn host(s: &str) -> Result<String, String> {
    // Interface names of scope ids are resolved when the server is asked.
    crate::server::parse_server(s, |_| Some(0))?;
    Ok(s.to_string())
}

/// Echo services tried in turn, at most.
const MAX_URLS: usize = 8;

/// A string, or an array of strings.
fn strings(v: &DeValue<'_>, what: &str) -> Result<Vec<String>, String> {
    match v {
        DeValue::String(s) => Ok(vec![s.to_string()]),
        DeValue::Array(items) => items
            .iter()
            .map(|i| match i.get_ref() {
                DeValue::String(s) => Ok(s.to_string()),
                other => Err(format!(
                    "expected {what}, found {} in the list",
                    other.type_str()
                )),
            })
            .collect(),
        other => Err(format!("expected {what}, found {}", other.type_str())),
    }
}

fn sources(names: &[String], allowed: &[Source]) -> Result<Vec<Source>, String> {
    if names.is_empty() {
        return Err("the list is empty".into());
    }
    let mut out = Vec::new();
    for n in names {
        let shown: String = n.chars().take(32).collect();
        let source = Source::parse(n)
            .filter(|s| allowed.contains(s))
            .ok_or_else(|| {
                let names: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
                format!(
                    "{shown:?} is not a source here (one of: {})",
                    names.join(", ")
                )
            })?;
        if out.contains(&source) {
            return Err(format!("{shown:?} is listed twice"));
        }
        out.push(source);
    }
    Ok(out)
}

/// An interface identifier: an IPv6 address whose high 64 bits are zero.
fn suffix(s: &str) -> Result<Ipv6Addr, String> {
    let shown: String = s.chars().take(48).collect();
    let a: Ipv6Addr = s
        .parse()
        .map_err(|_| format!("{shown:?} is not an interface identifier such as \"::1234\""))?;
    let v = u128::from(a);
    if v >> 64 != 0 || v == 0 {
        return Err(format!(
            "{shown:?} is not an interface identifier: only the low 64 bits may be set, \
             as in \"::1234\" or \"::211:32ff:fe12:3456\""
        ));
    }
    Ok(a)
}

/// Parses a setting's text form: defaults are read exactly as if written in a file.
pub(super) fn from_text(kind: &Kind, text: &str) -> Result<Value, String> {
    Ok(match kind {
        Kind::Duration { .. } => Value::Duration(duration::parse(text)?),
        Kind::Count { .. } => Value::Count(text.parse().map_err(|_| format!("{text:?}"))?),
        Kind::Bool => Value::Bool(text.parse().map_err(|_| format!("{text:?}"))?),
        Kind::Path => Value::Path(PathBuf::from(text)),
        Kind::Url => Value::Url(check_url(text)?),
        Kind::Name(check) => {
            check(text)?;
            Value::Text(text.to_string())
        }
        Kind::Secret => Value::Secret(Secret::new(text.to_string())),
        Kind::Sources(allowed) => Value::Sources(sources(&[text.to_string()], allowed)?),
        Kind::Suffix => Value::Suffix(suffix(text)?),
        Kind::Interval { .. } if text == "off" => Value::Interval(None),
        Kind::Interval { .. } => Value::Interval(Some(duration::parse(text)?)),
        Kind::Urls => Value::Urls(vec![check_echo_url(text)?]),
        Kind::Hosts { .. } => Value::Hosts(vec![host(text)?]),
        Kind::Strings { check, .. } => {
            let list: Vec<String> = text.split(',').map(String::from).collect();
            check(&list)?;
            Value::Strings(list)
        }
    })
}
