//! One API call's vocabulary: its method, whether it may be sent again, its bounds, and
//! how it is shown in a dry run and in logs (passwords redacted). Pure.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

/// The most of an answer that is read; DynHost lists and records are a few KiB.
pub const MAX_BODY: usize = 256 * 1024;
/// Bound on one whole call (connect, TLS, answer).
pub const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }

    pub(super) fn http(self) -> reqwest::Method {
        match self {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Delete => reqwest::Method::DELETE,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a call may be sent again after a 5xx. Creating calls are not: the caller
/// looks first whether the first attempt took effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    Once,
    Never,
}

/// What a call sends, for `--dry-run` and logs: the body with passwords redacted.
pub fn describe(method: Method, path: &str, body: Option<&Value>) -> String {
    match body {
        None => format!("{method} {path}"),
        Some(b) => format!("{method} {path} {}", redacted(b)),
    }
}

/// The body as JSON text with every `password` value replaced.
pub fn redacted(body: &Value) -> String {
    let mut b = body.clone();
    if let Some(obj) = b.as_object_mut() {
        for (k, v) in obj.iter_mut() {
            if k.eq_ignore_ascii_case("password") {
                *v = Value::String("<redacted>".into());
            }
        }
    }
    b.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_run_descriptions_redact_passwords() {
        let body =
            serde_json::json!({"loginSuffix": "home", "password": "hunter2", "subDomain": "home"});
        let d = describe(
            Method::Post,
            "/domain/zone/example.com/dynHost/login",
            Some(&body),
        );
        assert_eq!(
            d,
            r#"POST /domain/zone/example.com/dynHost/login {"loginSuffix":"home","password":"<redacted>","subDomain":"home"}"#
        );
        // The body sent is compact and sorted, as the signature vectors are.
        assert_eq!(
            body.to_string(),
            r#"{"loginSuffix":"home","password":"hunter2","subDomain":"home"}"#
        );
    }
}
