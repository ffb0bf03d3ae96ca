//! Where notifications go: service URLs in shoutrrr's syntax, parsed into the request
//! each service documents (see /work/shared/docs/notify.md, and the README's
//! "Notifications"). Pure: parsing, redaction and building requests; sending is in
//! `send`.
//!
//! Every token (ntfy topic and password, Gotify app token, Discord webhook token,
//! Slack webhook parts, Telegram bot token, generic URL path and query) is a secret:
//! [`Target::label`] is the only way a target is named in logs, errors, `check` and
//! `status`.

use reqwest::Url;
use serde_json::{Value, json};

use super::event::Event;

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

/// One HTTP request to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: &'static str,
    /// Holds secrets (Discord, Slack, Telegram put tokens in the path): never logged.
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// Where the fixed-host services live. Tests point them at a loopback server; the
/// daemon uses [`Endpoints::REAL`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    pub discord: String,
    pub slack: String,
    pub telegram: String,
}

impl Endpoints {
    pub fn real() -> Endpoints {
        Endpoints {
            discord: "https://discord.com".into(),
            slack: "https://hooks.slack.com".into(),
            telegram: "https://api.telegram.org".into(),
        }
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

/// Discord's `content` limit, Telegram's `text` limit (characters).
const DISCORD_MAX: usize = 2000;
const TELEGRAM_MAX: usize = 4096;

fn cut(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn json_body(v: &Value) -> (Vec<(&'static str, String)>, Vec<u8>) {
    (
        vec![("Content-Type", "application/json".into())],
        v.to_string().into_bytes(),
    )
}

impl Target {
    /// The requests that deliver `event` (Telegram: one per chat). `text` is the
    /// message as sent (the event's sentence, plus a note of dropped events).
    pub fn requests(&self, event: &Event, text: &str, ends: &Endpoints) -> Vec<Request> {
        let title = event.title();
        let post = |url: String, headers, body| Request {
            method: "POST",
            url,
            headers,
            body,
        };
        match &self.service {
            Service::Ntfy {
                base,
                topic,
                auth,
                title: t,
                priority,
                tags,
            } => {
                let mut h = vec![
                    ("Content-Type", "text/plain; charset=utf-8".to_string()),
                    ("Title", t.clone().unwrap_or(title)),
                ];
                let priority = priority
                    .clone()
                    .or_else(|| event.kind.is_trouble().then(|| "high".to_string()));
                if let Some(p) = priority {
                    h.push(("Priority", p));
                }
                h.push((
                    "Tags",
                    tags.clone()
                        .unwrap_or_else(|| event.kind.as_str().to_string()),
                ));
                if let Some((u, p)) = auth {
                    h.push((
                        "Authorization",
                        format!("Basic {}", base64(&format!("{u}:{p}"))),
                    ));
                }
                vec![post(
                    format!("{base}/{}", encode_segment(topic)),
                    h,
                    text.as_bytes().to_vec(),
                )]
            }
            Service::Gotify {
                base,
                token,
                priority,
                title: t,
            } => {
                let mut body = json!({ "title": t.clone().unwrap_or(title), "message": text });
                if let Some(p) = priority {
                    body["priority"] = json!(p);
                }
                let (mut h, b) = json_body(&body);
                h.push(("X-Gotify-Key", token.clone()));
                vec![post(format!("{base}/message"), h, b)]
            }
            Service::Discord { id, token } => {
                let (h, b) = json_body(
                    &json!({ "content": cut(&format!("**{title}**\n{text}"), DISCORD_MAX) }),
                );
                vec![post(
                    format!(
                        "{}/api/webhooks/{id}/{}",
                        ends.discord,
                        encode_segment(token)
                    ),
                    h,
                    b,
                )]
            }
            Service::Slack { path } => {
                let (h, b) = json_body(&json!({ "text": format!("*{title}*\n{text}") }));
                vec![post(format!("{}{path}", ends.slack), h, b)]
            }
            Service::Telegram { token, chats } => chats
                .iter()
                .map(|chat| {
                    let (id, thread) = match chat.rsplit_once(':') {
                        Some((id, t)) if t.parse::<i64>().is_ok() => (id, t.parse::<i64>().ok()),
                        _ => (chat.as_str(), None),
                    };
                    let mut body = json!({
                        "chat_id": id.parse::<i64>().map_or_else(|_| json!(id), |n| json!(n)),
                        "text": cut(&format!("{title}\n{text}"), TELEGRAM_MAX),
                    });
                    if let Some(t) = thread {
                        body["message_thread_id"] = json!(t);
                    }
                    let (h, b) = json_body(&body);
                    post(format!("{}/bot{token}/sendMessage", ends.telegram), h, b)
                })
                .collect(),
            Service::Generic { url } => {
                let mut body = event.to_json();
                body["title"] = json!(title);
                body["message"] = json!(text);
                let (h, b) = json_body(&body);
                vec![post(url.clone(), h, b)]
            }
        }
    }

    /// Whether an answer is the service's success (Slack: 200 `ok`; Telegram: `"ok":true`).
    pub fn accepted(&self, status: u16, body: &[u8]) -> bool {
        if !(200..300).contains(&status) {
            return false;
        }
        match &self.service {
            Service::Slack { .. } => {
                let b = String::from_utf8_lossy(body);
                b.trim().is_empty() || b.trim() == "ok"
            }
            Service::Telegram { .. } => serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v.get("ok").and_then(Value::as_bool))
                .unwrap_or(false),
            _ => true,
        }
    }

    /// A stable id for the queue: which targets an event still awaits, across restarts
    /// and reloads (a hash of the URL, so no token is written beside the events).
    pub fn id_of(url: &str) -> String {
        id_of(url.as_bytes())
    }
}

pub(super) fn id_of(bytes: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, bytes);
    d.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Percent-encodes one path segment.
fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(super) fn base64(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::event::Kind;

    fn ev() -> Event {
        let mut e = Event::new(Kind::Published, "h.example.com", "now 203.0.113.7", 1);
        e.family = Some(crate::model::Family::V4);
        e.address = "203.0.113.7".into();
        e
    }

    #[test]
    fn each_scheme_parses_and_hides_its_token() {
        for (url, label) in [
            (
                "ntfy://ntfy.sh/secret-topic?title=T",
                "ntfy://ntfy.sh/<redacted>",
            ),
            (
                "gotify://g.example.net/sub/AbCdEf123456789",
                "gotify://g.example.net/<redacted>",
            ),
            ("discord://secrettok@123456", "discord://<redacted>"),
            (
                "slack://hook:T0AAAAAAA-B0BBBBBBB-cccccccccccccccccccccccc@webhook",
                "slack://<redacted>@webhook",
            ),
            (
                "telegram://123:secretAB@telegram?chats=1,@chan",
                "telegram://<redacted>@telegram",
            ),
            (
                "generic+https://h.example.net/secret",
                "generic+https://h.example.net/<redacted>",
            ),
        ] {
            let t = parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(t.label, label);
            assert_eq!(format!("{t:?}"), label);
        }
    }

    #[test]
    fn bad_urls_say_why_without_the_token() {
        for (url, why) in [
            ("mailto://x", "unknown scheme"),
            ("no-scheme", "not a URL"),
            ("ntfy://ntfy.sh/", "topic"),
            ("ntfy://ntfy.sh/t?priority=9", "priority"),
            ("gotify://g.example.net/BADTOKEN", "15 characters"),
            ("discord://@123", "TOKEN@WEBHOOK_ID"),
            ("slack://hook:short@webhook", "T…-B…-X…"),
            ("telegram://123:secretAB@telegram", "chats"),
            ("telegram://x:secretAB@telegram?chats=1", "BOTID"),
        ] {
            let e = parse(url).unwrap_err();
            assert!(e.contains(why), "{url}: {e}");
            assert!(!e.contains("secret") && !e.contains("BADTOKEN"), "{e}");
        }
    }

    #[test]
    fn requests_follow_each_service() {
        let ends = Endpoints::real();
        let r = &parse("ntfy://u:p@n.example.net:8080/topic?scheme=http&tags=a,b")
            .unwrap()
            .requests(&ev(), "msg", &ends)[0];
        assert_eq!(r.url, "http://n.example.net:8080/topic");
        assert!(r.headers.contains(&("Tags", "a,b".into())));
        assert!(
            r.headers
                .contains(&("Authorization", format!("Basic {}", base64("u:p"))))
        );
        assert_eq!(r.body, b"msg");
        let r = &parse("discord://tok@42")
            .unwrap()
            .requests(&ev(), "m", &ends)[0];
        assert_eq!(r.url, "https://discord.com/api/webhooks/42/tok");
        let rs = parse("telegram://1:ab@telegram?chats=5,@c,7:9")
            .unwrap()
            .requests(&ev(), "m", &ends);
        assert_eq!(rs.len(), 3);
        let b: Value = serde_json::from_slice(&rs[2].body).unwrap();
        assert_eq!(
            (b["chat_id"].as_i64(), b["message_thread_id"].as_i64()),
            (Some(7), Some(9))
        );
        let b: Value = serde_json::from_slice(&rs[1].body).unwrap();
        assert_eq!(b["chat_id"], "@c");
        assert_eq!(rs[0].url, "https://api.telegram.org/bot1:ab/sendMessage");
    }

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64("foobar"), "Zm9vYmFy");
        assert_eq!(base64("fooba"), "Zm9vYmE=");
        assert_eq!(base64("foob"), "Zm9vYg==");
    }
}
