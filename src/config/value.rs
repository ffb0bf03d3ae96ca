//! A setting's value: from TOML (or UCI translated to TOML) or from a default's text,
//! checked against its kind and range. Pure.

use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::de::DeValue;

use super::checks::{check_password, check_url};
use super::settings::{Kind, Value};
use crate::duration;
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
    }
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
    })
}
