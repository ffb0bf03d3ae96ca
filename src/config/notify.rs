//! The `[notify]` settings and what reading them needs: the event kinds, the service
//! URLs' parser ([`parse`], shoutrrr's syntax) and the heartbeat URL's check. They live
//! here, not in `notify`, so that reading a config never needs the notifier (no
//! `config -> notify -> provider -> config` circle); `notify` re-exports them and owns
//! the sending. Pure.

use std::time::Duration;

use reqwest::Url;

use crate::secret::Secret;

/// The `[notify]` settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Service URLs, checked by [`parse`] when read.
    pub urls: Vec<Secret>,
    /// argv of the hook; empty: none.
    pub command: Vec<String>,
    pub events: Vec<Kind>,
    pub heartbeat_url: Option<Secret>,
    pub heartbeat: Option<Duration>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            urls: Vec::new(),
            command: Vec::new(),
            events: Kind::DEFAULT.to_vec(),
            heartbeat_url: None,
            heartbeat: None,
        }
    }
}

impl Settings {
    /// Whether anything is to be sent at all.
    pub fn is_active(&self) -> bool {
        !self.urls.is_empty() || !self.command.is_empty() || self.heartbeat_url.is_some()
    }
}

/// `notify.urls`: each a URL [`parse`] takes (at most 16).
pub fn check_urls(urls: &[String]) -> Result<(), String> {
    if urls.len() > 16 {
        return Err("at most 16 URLs".into());
    }
    for (i, u) in urls.iter().enumerate() {
        parse(u).map_err(|e| format!("[{i}]: {e}"))?;
    }
    Ok(())
}

/// `notify.command`: an absolute program path, then its arguments.
pub fn check_command(argv: &[String]) -> Result<(), String> {
    match argv.first() {
        None => Err("the list is empty".into()),
        Some(p) if !p.starts_with('/') => {
            Err("the program must be an absolute path (no shell, no PATH lookup)".into())
        }
        _ if argv.iter().any(|a| a.contains('\0')) => Err("contains a NUL byte".into()),
        _ if argv.len() > 64 => Err("at most 64 arguments".into()),
        _ => Ok(()),
    }
}

/// `notify.events`: known event names, each once.
pub fn check_events(names: &[String]) -> Result<(), String> {
    for (i, n) in names.iter().enumerate() {
        if Kind::parse(n).is_none_or(|k| k == Kind::Test) {
            let all: Vec<&str> = Kind::ALL[..8].iter().map(|k| k.as_str()).collect();
            let shown: String = n.chars().take(32).collect();
            return Err(format!(
                "{shown:?} is not an event (one of: {})",
                all.join(", ")
            ));
        }
        if names[..i].contains(n) {
            return Err(format!("{n:?} is listed twice"));
        }
    }
    Ok(())
}

/// `notify.heartbeat_url`: one http(s) URL.
pub fn check_heartbeat_url(url: &[String]) -> Result<(), String> {
    url.iter().try_for_each(|u| check_heartbeat(u))
}

/// The kinds of event, by the name `events = [...]` and `DYNHOST_EVENT` use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Published,
    Visible,
    NotVisible,
    Drift,
    Failed,
    Recovered,
    Blocked,
    Unavailable,
    Test,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::Published,
        Kind::Visible,
        Kind::NotVisible,
        Kind::Drift,
        Kind::Failed,
        Kind::Recovered,
        Kind::Blocked,
        Kind::Unavailable,
        Kind::Test,
    ];

    /// What `events` holds when not set (issue 20: `visible` and `recovered` are asked for).
    pub const DEFAULT: [Kind; 6] = [
        Kind::Published,
        Kind::Failed,
        Kind::Blocked,
        Kind::NotVisible,
        Kind::Drift,
        Kind::Unavailable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Published => "published",
            Kind::Visible => "visible",
            Kind::NotVisible => "not_visible",
            Kind::Drift => "drift",
            Kind::Failed => "failed",
            Kind::Recovered => "recovered",
            Kind::Blocked => "blocked",
            Kind::Unavailable => "unavailable",
            Kind::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether this kind means something is wrong (for priorities and the heartbeat).
    pub fn is_trouble(self) -> bool {
        matches!(
            self,
            Kind::NotVisible | Kind::Failed | Kind::Blocked | Kind::Unavailable
        )
    }
}

/// One service a notification is sent to.
#[derive(Clone, PartialEq, Eq)]
pub enum Service {
    /// `POST <scheme>://host[:port]/topic`, the message as the body.
    Ntfy {
        base: String,
        topic: String,
        auth: Option<(String, String)>,
        title: Option<String>,
        priority: Option<String>,
        tags: Option<String>,
    },
    /// `POST <scheme>://host[:port][/sub]/message`, JSON, the token in `X-Gotify-Key`.
    Gotify {
        base: String,
        token: String,
        priority: Option<i64>,
        title: Option<String>,
    },
    /// `POST https://discord.com/api/webhooks/<id>/<token>`, JSON `content`.
    Discord { id: String, token: String },
    /// `POST https://hooks.slack.com/services/T/B/X`, JSON `text`.
    Slack { path: String },
    /// `POST https://api.telegram.org/bot<token>/sendMessage`, one per chat.
    Telegram { token: String, chats: Vec<String> },
    /// `POST` the URL with the event as a flat JSON object.
    Generic { url: String },
}

/// A parsed URL plus the name it may be shown by.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    pub service: Service,
    /// `ntfy://ntfy.sh/<redacted>`: scheme and host only.
    pub label: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label)
    }
}

/// The scheme as shown in errors, without anything after it.
fn scheme_of(s: &str) -> &str {
    s.split_once("://").map_or("", |(s, _)| s)
}

/// Parses one notification URL. Errors never repeat the URL (it holds the token).
pub fn parse(s: &str) -> Result<Target, String> {
    let scheme = scheme_of(s);
    if scheme.is_empty() {
        return Err("not a URL such as \"ntfy://ntfy.sh/topic\"".into());
    }
    let shown: String = scheme.chars().take(24).collect();
    let url = Url::parse(s).map_err(|e| format!("this {shown}:// URL does not parse ({e})"))?;
    let host = url.host_str().unwrap_or("").to_string();
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let q = |k: &str| {
        url.query_pairs()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.into_owned())
    };
    let user = percent_decode(url.username());
    let pass = url.password().map(percent_decode);
    let segments: Vec<String> = url
        .path_segments()
        .map(|s| s.filter(|p| !p.is_empty()).map(percent_decode).collect())
        .unwrap_or_default();
    let need = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(format!("{shown}:// URL: {what}"))
        }
    };
    let (service, label) = match scheme {
        "ntfy" => {
            let http = match q("scheme").as_deref() {
                None | Some("https") => "https",
                Some("http") => "http",
                Some(_) => return Err("ntfy:// URL: scheme= takes http or https".into()),
            };
            need(
                segments.len() == 1,
                "the path must be the topic, as in ntfy://ntfy.sh/topic",
            )?;
            let host = if host.is_empty() {
                "ntfy.sh".to_string()
            } else {
                host
            };
            if let Some(p) = q("priority") {
                let names = ["min", "low", "default", "high", "max", "urgent"];
                let ok = matches!(p.as_str(), "1" | "2" | "3" | "4" | "5")
                    || names.contains(&p.to_ascii_lowercase().as_str());
                need(
                    ok,
                    "priority= takes 1 to 5, or min, low, default, high, max, urgent",
                )?;
            }
            let auth = (!user.is_empty() || pass.is_some())
                .then(|| (user.clone(), pass.clone().unwrap_or_default()));
            (
                Service::Ntfy {
                    base: format!("{http}://{host}{port}"),
                    topic: segments[0].clone(),
                    auth,
                    title: q("title"),
                    priority: q("priority"),
                    tags: q("tags"),
                },
                format!("ntfy://{host}{port}/<redacted>"),
            )
        }
        "gotify" => {
            need(
                !host.is_empty(),
                "the server is missing, as in gotify://host/TOKEN",
            )?;
            let Some((token, sub)) = segments.split_last() else {
                return Err(
                    "gotify:// URL: the app token is missing, as in gotify://host/TOKEN".into(),
                );
            };
            let ok = token.len() == 15
                && token.starts_with('A')
                && token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            need(ok, "the app token is 15 characters starting with 'A'")?;
            let http = match q("disabletls").as_deref() {
                Some("yes" | "true" | "1") => "http",
                _ => "https",
            };
            let priority = match q("priority") {
                Some(p) => Some(
                    p.parse::<i64>()
                        .map_err(|_| "gotify:// URL: priority= takes a number".to_string())?,
                ),
                None => None,
            };
            let sub: String = sub.iter().map(|s| format!("/{s}")).collect();
            (
                Service::Gotify {
                    base: format!("{http}://{host}{port}{sub}"),
                    token: token.clone(),
                    priority,
                    title: q("title"),
                },
                format!("gotify://{host}{port}/<redacted>"),
            )
        }
        "discord" => {
            need(
                !user.is_empty() && host.bytes().all(|b| b.is_ascii_digit()) && !host.is_empty(),
                "expected discord://TOKEN@WEBHOOK_ID",
            )?;
            (
                Service::Discord {
                    id: host,
                    token: user,
                },
                "discord://<redacted>".to_string(),
            )
        }
        "slack" => {
            let token = match (user.as_str(), &pass) {
                ("hook", Some(t)) => t.clone(),
                _ => return Err("slack:// URL: expected slack://hook:T…-B…-X…@webhook".into()),
            };
            let parts: Vec<&str> = token.split(['-', '/', ',']).collect();
            let upper = |p: &str| {
                p.len() >= 9
                    && p.bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            };
            need(
                parts.len() == 3
                    && upper(parts[0])
                    && upper(parts[1])
                    && parts[2].len() >= 24
                    && parts[2].bytes().all(|b| b.is_ascii_alphanumeric()),
                "the webhook token is T…-B…-X… (from https://hooks.slack.com/services/T…/B…/X…)",
            )?;
            (
                Service::Slack {
                    path: format!("/services/{}/{}/{}", parts[0], parts[1], parts[2]),
                },
                "slack://<redacted>@webhook".to_string(),
            )
        }
        "telegram" => {
            let token = format!("{user}:{}", pass.clone().unwrap_or_default());
            let ok = !user.is_empty()
                && user.bytes().all(|b| b.is_ascii_digit())
                && pass.as_deref().is_some_and(|p| {
                    !p.is_empty()
                        && p.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                });
            need(ok, "expected telegram://BOTID:SECRET@telegram?chats=…")?;
            let chats: Vec<String> = q("chats")
                .or_else(|| q("channels"))
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect();
            need(
                !chats.is_empty(),
                "chats= is required (a comma list of chat ids)",
            )?;
            (
                Service::Telegram { token, chats },
                "telegram://<redacted>@telegram".to_string(),
            )
        }
        "generic+http" | "generic+https" => {
            need(!host.is_empty(), "the host is missing")?;
            let http = &scheme["generic+".len()..];
            (
                Service::Generic {
                    url: format!("{http}{}", &s[scheme.len()..]),
                },
                format!("{scheme}://{host}{port}/<redacted>"),
            )
        }
        _ => {
            return Err(format!(
                "unknown scheme {shown:?} (one of: ntfy, gotify, discord, slack, telegram, \
                 generic+http, generic+https)"
            ));
        }
    };
    Ok(Target { service, label })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The heartbeat URL as shown: scheme and host, the rest (the UUID or push token) hidden.
pub fn heartbeat_label(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}/<redacted>",
            u.scheme(),
            u.host_str().unwrap_or(""),
            u.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        Err(_) => "<redacted>".into(),
    }
}

/// Checks a heartbeat URL: http(s) with a host.
pub fn check_heartbeat(url: &str) -> Result<(), String> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(()),
        _ => Err("expected an http(s) URL, such as https://hc-ping.com/<uuid>".into()),
    }
}
