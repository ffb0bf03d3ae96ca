//! The OVH API credentials, found the way OVH's official clients find them.
//!
//! Followed: python-ovh's `ovh/config.py` and `Client.__init__` (1.2.0). Each key is
//! looked up on its own: first the environment (`OVH_ENDPOINT`, `OVH_APPLICATION_KEY`,
//! `OVH_APPLICATION_SECRET`, `OVH_CONSUMER_KEY`, `OVH_CLIENT_ID`, `OVH_CLIENT_SECRET`;
//! a variable that is set wins even when empty), then the INI files `./ovh.conf`,
//! `~/.ovh.conf` and `/etc/ovh.conf`, merged key by key with that priority (configparser
//! reads `/etc` first and later files override). The endpoint comes from `--endpoint`,
//! else `OVH_ENDPOINT`, else `endpoint` in the `[default]` section; the keys come from
//! the section named after the endpoint. An application key goes with its secret and a
//! client id with its secret, and the two kinds of credentials exclude each other.
//!
//! Parsing is pure ([`resolve`], [`Ini::parse`]); [`load`] reads the environment and
//! the files.

use std::fmt;
use std::path::{Path, PathBuf};

use reqwest::Url;

use crate::secret::Secret;

/// The INI files, from the highest priority to the lowest.
pub fn config_files(cwd: Option<&Path>, home: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(d) = cwd {
        out.push(d.join("ovh.conf"));
    }
    if let Some(h) = home {
        out.push(h.join(".ovh.conf"));
    }
    out.push(PathBuf::from("/etc/ovh.conf"));
    out
}

/// Larger INI files are refused: a credentials file is a few hundred bytes.
pub const MAX_FILE: u64 = 64 * 1024;

/// Where the API is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Eu,
    Ca,
    Us,
    /// Another base URL (tests, other regions): https, or plain http to loopback.
    Url(Url),
}

impl Endpoint {
    pub fn parse(s: &str) -> Result<Endpoint, String> {
        match s {
            "ovh-eu" => Ok(Endpoint::Eu),
            "ovh-ca" => Ok(Endpoint::Ca),
            "ovh-us" => Ok(Endpoint::Us),
            _ if s.contains("://") => check_url(s).map(Endpoint::Url),
            _ => {
                let shown: String = s.chars().take(64).collect();
                Err(format!(
                    "{shown:?} is not an OVH endpoint: use ovh-eu, ovh-ca, ovh-us or an \
                     https:// API base URL"
                ))
            }
        }
    }

    /// The name OVH's clients use, which is also the INI section of the keys.
    pub fn name(&self) -> String {
        match self {
            Endpoint::Eu => "ovh-eu".into(),
            Endpoint::Ca => "ovh-ca".into(),
            Endpoint::Us => "ovh-us".into(),
            Endpoint::Url(u) => u.as_str().trim_end_matches('/').to_string(),
        }
    }

    /// The API base, without a trailing slash: paths are appended to it.
    pub fn api_base(&self) -> String {
        match self {
            Endpoint::Eu => "https://eu.api.ovh.com/1.0".into(),
            Endpoint::Ca => "https://ca.api.ovh.com/1.0".into(),
            Endpoint::Us => "https://api.us.ovhcloud.com/1.0".into(),
            Endpoint::Url(u) => u.as_str().trim_end_matches('/').to_string(),
        }
    }

    /// The OAuth2 token endpoint. For a URL endpoint: `/auth/oauth2/token` on its host.
    pub fn token_url(&self) -> String {
        match self {
            Endpoint::Eu => "https://www.ovh.com/auth/oauth2/token".into(),
            Endpoint::Ca => "https://ca.ovh.com/auth/oauth2/token".into(),
            Endpoint::Us => "https://us.ovhcloud.com/auth/oauth2/token".into(),
            Endpoint::Url(u) => format!("{}/auth/oauth2/token", u.origin().ascii_serialization()),
        }
    }

    /// Where an operator creates application keys.
    pub fn create_app_page(&self) -> String {
        match self {
            Endpoint::Eu => "https://eu.api.ovh.com/createApp/".into(),
            Endpoint::Ca => "https://ca.api.ovh.com/createApp/".into(),
            Endpoint::Us => "https://api.us.ovhcloud.com/createApp/".into(),
            Endpoint::Url(u) => format!("{}/createApp/", u.origin().ascii_serialization()),
        }
    }

    /// Where application key, secret and consumer key are made at once.
    pub fn create_token_page(&self) -> String {
        self.create_app_page()
            .replace("/createApp/", "/createToken/")
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// The API endpoint rule, as for the provider: https, or plain http only to loopback
/// (tests); no credentials, query or fragment in it.
fn check_url(s: &str) -> Result<Url, String> {
    let shown: String = s.chars().take(200).collect();
    let url = Url::parse(s).map_err(|e| format!("{shown:?} is not a URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "the endpoint URL holds credentials; give them as OVH_* variables or in \
                    ovh.conf instead"
                .into(),
        );
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{shown:?} has a query or fragment; give the API base only, e.g. \
             https://eu.api.ovh.com/1.0"
        ));
    }
    let loopback = url.host_str().is_some_and(|h| {
        let bare = h.trim_start_matches('[').trim_end_matches(']');
        match bare.parse::<std::net::IpAddr>() {
            Ok(ip) => ip.is_loopback(),
            Err(_) => h.eq_ignore_ascii_case("localhost"),
        }
    });
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(format!(
            "{shown:?} uses plain http to a non-loopback host; the API secrets would travel \
             in clear. Use https"
        )),
        other => Err(format!(
            "{shown:?}: unsupported scheme {other:?}; use https"
        )),
    }
}

/// How calls are authenticated.
#[derive(Clone, Debug)]
pub enum Auth {
    /// Application key and secret; the consumer key is missing only before
    /// `--request-token` made one.
    Signed {
        application_key: String,
        application_secret: Secret,
        consumer_key: Option<Secret>,
    },
    /// An OAuth2 service account (client credentials).
    OAuth2 {
        client_id: String,
        client_secret: Secret,
    },
}

#[derive(Clone, Debug)]
pub struct Credentials {
    pub endpoint: Endpoint,
    pub auth: Auth,
    /// Where each value came from, for messages ("application_key from ~/.ovh.conf").
    pub sources: Vec<String>,
}

/// A parsed INI file: sections in order, keys lower-cased as configparser does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ini {
    sections: Vec<(String, Vec<(String, String)>)>,
}

impl Ini {
    /// configparser's syntax, without what credentials never need: `[section]`,
    /// `key = value` or `key: value`, full-line comments (`#`, `;`), blank lines.
    /// Continuation lines are refused rather than joined. Errors name the line only:
    /// the value may be a secret.
    pub fn parse(text: &str) -> Result<Ini, String> {
        let mut ini = Ini::default();
        let mut last_was_option = false;
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.trim();
            if line.is_empty() {
                last_was_option = false;
                continue;
            }
            if line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if raw.starts_with([' ', '\t']) && last_was_option {
                return Err(format!(
                    "line {n}: an indented line continues the previous value; write each \
                     value on one line"
                ));
            }
            if let Some(rest) = line.strip_prefix('[') {
                let Some(name) = rest.strip_suffix(']').filter(|n| !n.is_empty()) else {
                    return Err(format!("line {n}: a section header is written [name]"));
                };
                if ini.sections.iter().any(|(s, _)| s == name) {
                    return Err(format!("line {n}: section [{name}] appears twice"));
                }
                ini.sections.push((name.to_string(), Vec::new()));
                last_was_option = false;
                continue;
            }
            let Some(at) = line.find(['=', ':']) else {
                return Err(format!(
                    "line {n}: expected `key = value`, a [section] or a comment"
                ));
            };
            let key = line[..at].trim().to_ascii_lowercase();
            let value = line[at + 1..].trim().to_string();
            if key.is_empty() {
                return Err(format!("line {n}: a value without a key"));
            }
            let Some((_, options)) = ini.sections.last_mut() else {
                return Err(format!(
                    "line {n}: a key before any [section]; start with [default]"
                ));
            };
            if options.iter().any(|(k, _)| *k == key) {
                return Err(format!("line {n}: {key} appears twice in this section"));
            }
            options.push((key, value));
            last_was_option = true;
        }
        Ok(ini)
    }

    /// A key of a section, falling back to configparser's `[DEFAULT]` section.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        let find = |name: &str| {
            self.sections
                .iter()
                .find(|(s, _)| s == name)
                .and_then(|(_, opts)| opts.iter().find(|(k, _)| k == key))
                .map(|(_, v)| v.as_str())
        };
        find(section).or_else(|| find("DEFAULT"))
    }
}

/// Resolves credentials from `--endpoint`, the environment (`env`) and the INI files,
/// given from the highest priority to the lowest (as [`config_files`] orders them).
pub fn resolve(
    endpoint_flag: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    files: &[(PathBuf, Ini)],
) -> Result<Credentials, String> {
    let mut sources = Vec::new();
    let lookup = |section: &str, key: &str| -> Option<(String, String)> {
        let var = format!("OVH_{}", key.to_ascii_uppercase());
        if let Some(v) = env(&var) {
            return Some((v, format!("{key} from the environment ({var})")));
        }
        files.iter().find_map(|(path, ini)| {
            ini.get(section, key).map(|v| {
                (
                    v.to_string(),
                    format!("{key} from {} [{section}]", path.display()),
                )
            })
        })
    };
    let endpoint = match endpoint_flag {
        Some(e) => {
            sources.push("endpoint from --endpoint".to_string());
            e.to_string()
        }
        None => match lookup("default", "endpoint") {
            Some((e, from)) => {
                sources.push(from);
                e
            }
            None => {
                return Err(format!(
                    "no OVH endpoint is configured: pass --endpoint ovh-eu (or ovh-ca, \
                     ovh-us), set OVH_ENDPOINT, or write endpoint=ovh-eu in the [default] \
                     section of {}",
                    file_list(files)
                ));
            }
        },
    };
    let endpoint = Endpoint::parse(endpoint.trim())?;
    let section = endpoint.name();
    let mut get = |key: &str| {
        lookup(&section, key)
            .filter(|(v, _)| !v.is_empty())
            .map(|(v, from)| {
                sources.push(from);
                v
            })
    };
    let ak = get("application_key");
    let secret = get("application_secret");
    let ck = get("consumer_key");
    let client_id = get("client_id");
    let client_secret = get("client_secret");
    let where_ = || {
        format!(
            "the environment (OVH_*) or the [{section}] section of {}",
            file_list(files)
        )
    };
    let auth = match (ak, secret, client_id, client_secret) {
        (Some(_), _, Some(_), _) | (_, Some(_), _, Some(_)) => {
            return Err(format!(
                "both an application key and an OAuth2 client are configured in {}; \
                 keep one of the two",
                where_()
            ));
        }
        (Some(_), None, _, _) => {
            return Err(format!(
                "application_key is set but application_secret is not; set both in {}",
                where_()
            ));
        }
        (None, Some(_), _, _) => {
            return Err(format!(
                "application_secret is set but application_key is not; set both in {}",
                where_()
            ));
        }
        (Some(application_key), Some(application_secret), None, None) => Auth::Signed {
            application_key,
            application_secret: Secret::new(application_secret),
            consumer_key: ck.map(Secret::new),
        },
        (None, None, Some(client_id), Some(client_secret)) => Auth::OAuth2 {
            client_id,
            client_secret: Secret::new(client_secret),
        },
        (None, None, Some(_), None) | (None, None, None, Some(_)) => {
            return Err(format!(
                "an OAuth2 client needs both client_id and client_secret in {}",
                where_()
            ));
        }
        (None, None, None, None) => {
            return Err(format!(
                "no OVH API credentials for {section}: set application_key, \
                 application_secret and consumer_key (or client_id and client_secret for \
                 an OAuth2 service account) in {}. Create an application at {}",
                where_(),
                endpoint.create_app_page()
            ));
        }
    };
    Ok(Credentials {
        endpoint,
        auth,
        sources,
    })
}

fn file_list(files: &[(PathBuf, Ini)]) -> String {
    if files.is_empty() {
        return "./ovh.conf, ~/.ovh.conf or /etc/ovh.conf".into();
    }
    files
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads the environment and the INI files (missing ones are skipped, as OVH's clients
/// skip them), then resolves.
pub fn load(endpoint_flag: Option<&str>) -> Result<Credentials, String> {
    load_with(endpoint_flag, &|_| None)
}

/// As [`load`], with `overlay` consulted before the environment (the daemon's `[ovh]`
/// settings, by their `OVH_*` variable names).
pub fn load_with(
    endpoint_flag: Option<&str>,
    overlay: &dyn Fn(&str) -> Option<String>,
) -> Result<Credentials, String> {
    let cwd = std::env::current_dir().ok();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let mut files = Vec::new();
    for path in config_files(cwd.as_deref(), home.as_deref()) {
        if let Some(ini) = read_ini(&path)? {
            files.push((path, ini));
        }
    }
    let env = |k: &str| overlay(k).or_else(|| std::env::var(k).ok());
    let mut creds = resolve(endpoint_flag, &env, &files)?;
    if files.is_empty() {
        creds.sources.push("no ovh.conf file was found".into());
    }
    Ok(creds)
}

fn read_ini(path: &Path) -> Result<Option<Ini>, String> {
    use std::io::ErrorKind;
    let shown = path.display();
    let text = match crate::bounded::read_text(path, MAX_FILE as usize) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        // Too large, or not UTF-8.
        Err(e) if e.kind() == ErrorKind::InvalidData => {
            return Err(format!("{shown}: {e}; it is not an OVH credentials file"));
        }
        Err(e) => {
            tracing::warn!("skipping {shown}: {e}");
            return Ok(None);
        }
    };
    Ini::parse(&text)
        .map(Some)
        .map_err(|e| format!("{shown}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn ini(text: &str) -> Ini {
        Ini::parse(text).expect("valid INI")
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn signed(c: &Credentials) -> (&str, &str, Option<&str>) {
        match &c.auth {
            Auth::Signed {
                application_key,
                application_secret,
                consumer_key,
            } => (
                application_key.as_str(),
                application_secret.expose(),
                consumer_key.as_ref().map(Secret::expose),
            ),
            Auth::OAuth2 { .. } => panic!("expected signed credentials"),
        }
    }

    const LOCAL: &str = "[default]\nendpoint=ovh-ca\n[ovh-ca]\napplication_key=local-ak\n";
    const HOME: &str = "[default]\n; a comment\nendpoint = ovh-eu\n\n[ovh-eu]\napplication_key = home-ak\n\
                        application_secret = home-as\nconsumer_key: home-ck\n\
                        [ovh-ca]\napplication_secret=home-ca-as\nconsumer_key=home-ca-ck\n";
    const ETC: &str = "[default]\nendpoint=ovh-us\n[ovh-ca]\napplication_key=etc-ak\n\
                       consumer_key=etc-ck\n";

    fn files(list: &[(&str, &str)]) -> Vec<(PathBuf, Ini)> {
        list.iter()
            .map(|(p, t)| (PathBuf::from(p), ini(t)))
            .collect()
    }

    #[test]
    fn keys_merge_across_files_by_priority_and_the_environment_wins() {
        let all = files(&[
            ("./ovh.conf", LOCAL),
            ("/root/.ovh.conf", HOME),
            ("/etc/ovh.conf", ETC),
        ]);
        // (flag, environment, expected endpoint, ak, as, ck)
        type Case<'a> = (
            Option<&'a str>,
            Vec<(&'a str, &'a str)>,
            Endpoint,
            (&'a str, &'a str, Option<&'a str>),
        );
        let cases: Vec<Case> = vec![
            // ./ovh.conf names ovh-ca; its key beats ~ and /etc, the secret comes from ~.
            (
                None,
                vec![],
                Endpoint::Ca,
                ("local-ak", "home-ca-as", Some("home-ca-ck")),
            ),
            // The environment's endpoint picks the section; its keys win over every file.
            (
                None,
                vec![("OVH_ENDPOINT", "ovh-eu"), ("OVH_CONSUMER_KEY", "env-ck")],
                Endpoint::Eu,
                ("home-ak", "home-as", Some("env-ck")),
            ),
            // --endpoint beats OVH_ENDPOINT.
            (
                Some("ovh-eu"),
                vec![("OVH_ENDPOINT", "ovh-ca")],
                Endpoint::Eu,
                ("home-ak", "home-as", Some("home-ck")),
            ),
        ];
        for (flag, vars, endpoint, want) in cases {
            let c = resolve(flag, &env(&vars), &all).expect("resolves");
            assert_eq!(c.endpoint, endpoint, "{flag:?} {vars:?}");
            assert_eq!(signed(&c), want, "{flag:?} {vars:?}");
        }
    }

    #[test]
    fn sources_say_where_each_value_came_from() {
        let all = files(&[("/root/.ovh.conf", HOME)]);
        let c = resolve(None, &env(&[("OVH_CONSUMER_KEY", "x")]), &all).unwrap();
        assert!(
            c.sources
                .contains(&"application_key from /root/.ovh.conf [ovh-eu]".to_string()),
            "{:?}",
            c.sources
        );
        assert!(
            c.sources
                .contains(&"consumer_key from the environment (OVH_CONSUMER_KEY)".to_string())
        );
        assert!(
            !format!("{c:?}").contains("home-as"),
            "Debug redacts secrets"
        );
    }

    #[test]
    fn oauth2_and_incomplete_or_mixed_credentials() {
        let oauth = resolve(
            Some("ovh-eu"),
            &env(&[("OVH_CLIENT_ID", "id"), ("OVH_CLIENT_SECRET", "sec")]),
            &[],
        )
        .unwrap();
        assert!(
            matches!(&oauth.auth, Auth::OAuth2 { client_id, client_secret }
            if client_id == "id" && client_secret.expose() == "sec")
        );
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("OVH_APPLICATION_KEY", "ak")],
                "application_secret is not",
            ),
            (
                &[("OVH_APPLICATION_SECRET", "as")],
                "application_key is not",
            ),
            (
                &[("OVH_CLIENT_ID", "id")],
                "both client_id and client_secret",
            ),
            (
                &[
                    ("OVH_APPLICATION_KEY", "ak"),
                    ("OVH_APPLICATION_SECRET", "as"),
                    ("OVH_CLIENT_ID", "id"),
                    ("OVH_CLIENT_SECRET", "cs"),
                ],
                "keep one of the two",
            ),
            (&[], "no OVH API credentials for ovh-eu"),
        ];
        for (vars, needle) in cases {
            let e = resolve(Some("ovh-eu"), &env(vars), &[]).unwrap_err();
            assert!(e.contains(needle), "{vars:?}: {e}");
            assert!(!e.contains("\"as\"") && !e.contains("cs"), "{e}");
        }
        let e = resolve(None, &env(&[]), &[]).unwrap_err();
        assert!(e.contains("pass --endpoint ovh-eu"), "{e}");
        // Signed credentials without a consumer key are for --request-token.
        let c = resolve(
            Some("ovh-eu"),
            &env(&[
                ("OVH_APPLICATION_KEY", "ak"),
                ("OVH_APPLICATION_SECRET", "as"),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(signed(&c), ("ak", "as", None));
    }

    #[test]
    fn endpoints() {
        assert_eq!(
            Endpoint::parse("ovh-eu").unwrap().api_base(),
            "https://eu.api.ovh.com/1.0"
        );
        assert_eq!(
            Endpoint::parse("ovh-us").unwrap().token_url(),
            "https://us.ovhcloud.com/auth/oauth2/token"
        );
        let local = Endpoint::parse("https://127.0.0.1:8443/1.0/").unwrap();
        assert_eq!(local.api_base(), "https://127.0.0.1:8443/1.0");
        assert_eq!(
            local.token_url(),
            "https://127.0.0.1:8443/auth/oauth2/token"
        );
        assert_eq!(local.name(), "https://127.0.0.1:8443/1.0");
        assert!(Endpoint::parse("http://127.0.0.1:9/1.0").is_ok());
        assert!(Endpoint::parse("http://[::1]:9/1.0").is_ok());
        for bad in [
            "ovh-xx",
            "http://api.example.com/1.0",
            "ftp://x/",
            "https://u:p@x/1.0",
            "https://x/1.0?a=b",
        ] {
            let e = Endpoint::parse(bad).unwrap_err();
            assert!(!e.contains(":p@"), "{e}");
        }
        assert!(Endpoint::parse(&"x".repeat(100_000)).unwrap_err().len() < 300);
    }

    #[test]
    fn ini_syntax() {
        let i = ini(
            "[DEFAULT]\nconsumer_key=fallback\n[ovh-eu]\nApplication_Key = ak\n  # indented comment\n",
        );
        assert_eq!(i.get("ovh-eu", "application_key"), Some("ak"));
        assert_eq!(i.get("ovh-eu", "consumer_key"), Some("fallback"));
        assert_eq!(i.get("ovh-ca", "application_key"), None);
        for (bad, needle) in [
            ("application_key=x\n", "line 1: a key before any [section]"),
            ("[a]\nkey=1\nkey=2\n", "line 3: key appears twice"),
            ("[a]\n[a]\n", "line 2: section [a] appears twice"),
            ("[a]\njust words\n", "line 2: expected"),
            ("[a]\nk = v\n  more\n", "line 3: an indented line"),
            ("[a\n", "line 1: a section header"),
        ] {
            let e = Ini::parse(bad).unwrap_err();
            assert!(e.contains(needle), "{bad:?}: {e}");
        }
        // A value is never quoted back: it may be a secret.
        let e = Ini::parse("[a]\nsecret-value-here\n").unwrap_err();
        assert!(!e.contains("secret-value-here"), "{e}");
    }

    #[test]
    fn the_file_order_is_local_home_etc() {
        let f = config_files(Some(Path::new("/w")), Some(Path::new("/h")));
        assert_eq!(
            f,
            vec![
                PathBuf::from("/w/ovh.conf"),
                PathBuf::from("/h/.ovh.conf"),
                PathBuf::from("/etc/ovh.conf")
            ]
        );
    }
}
