//! Checks of single values, shared by the config, the command line and the control
//! protocol. Pure.

use reqwest::Url;

use crate::model::Source;

/// The optional parts built in (Cargo features), for `--version` and the checks below.
pub const FEATURES: &[&str] = &[
    #[cfg(feature = "setup")]
    "setup",
    #[cfg(feature = "gateway")]
    "gateway",
    #[cfg(feature = "verify")]
    "verify",
];

/// A config that needs a part this build lacks is an error that names the feature.
pub fn built_with(feature: &str) -> Result<(), String> {
    if FEATURES.contains(&feature) {
        Ok(())
    } else {
        Err(format!(
            "this dynhost was built without the `{feature}` feature"
        ))
    }
}

/// `built_with` for an address source: the gateway and web sources are `gateway`'s.
pub fn source_built(source: Source) -> Result<(), String> {
    match source {
        Source::Interface => Ok(()),
        Source::Gateway | Source::Web => built_with("gateway"),
    }
}

/// The provider's default endpoint (the table's default; named for messages).
pub const DEFAULT_URL: &str = "https://dns.eu.ovhapis.com/nic/update";

pub fn check_password(s: &str) -> Result<(), String> {
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
    if h.parse::<std::net::IpAddr>().is_ok()
        || h.rsplit('.')
            .next()
            .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return bad("is an IP address, not a host name (no top-level domain is numeric)");
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

pub fn check_username(s: &str) -> Result<(), String> {
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

/// A web echo service: https (or http to loopback, for tests), no credentials. Unlike
/// the provider's endpoint it may carry a query (`?format=text`).
pub fn check_echo_url(s: &str) -> Result<Url, String> {
    let shown: String = s.chars().take(120).collect();
    let url = Url::parse(s).map_err(|e| format!("{shown:?} is not a URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("an echo URL must not hold credentials".into());
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback_host(&url) => Ok(url),
        "http" => Err(format!(
            "{shown:?} uses plain http: anyone on the way could answer any address. Use https"
        )),
        other => Err(format!(
            "{shown:?}: unsupported scheme {other:?}; use https"
        )),
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
pub fn suggest(name: &str, known: &[&str], prefix: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_feature_is_named() {
        for f in ["setup", "gateway", "verify"] {
            match built_with(f) {
                Ok(()) => assert!(FEATURES.contains(&f)),
                Err(e) => assert_eq!(
                    e,
                    format!("this dynhost was built without the `{f}` feature")
                ),
            }
        }
        assert_eq!(source_built(Source::Interface), Ok(()));
        assert_eq!(source_built(Source::Web), built_with("gateway"));
        assert_eq!(
            source_built(Source::Gateway).is_ok(),
            cfg!(feature = "gateway")
        );
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
            "203.0.113.5",
            "2001:db8::1",
            "home.example.123",
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
}
