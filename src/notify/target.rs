//! Where notifications go: service URLs in shoutrrr's syntax, parsed into the request
//! each service documents (see /work/shared/docs/notify.md, and the README's
//! "Notifications"). Pure: parsing, redaction and building requests; sending is in
//! `send`.
//!
//! Every token (ntfy topic and password, Gotify app token, Discord webhook token,
//! Slack webhook parts, Telegram bot token, generic URL path and query) is a secret:
//! [`Target::label`] is the only way a target is named in logs, errors, `check` and
//! `status`.

use serde_json::{Value, json};

use super::event::Event;
pub use crate::config::notify::{Service, Target, parse};

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
