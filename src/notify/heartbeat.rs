//! The heartbeat: a ping to a monitor (healthchecks.io, Uptime Kuma's push monitor) at
//! each `heartbeat` interval and after each publish. Pure: when the next ping is due
//! (time passed in) and which request a ping is.

use std::time::{Duration, Instant};

use super::target::Request;
pub use crate::config::notify::{check_heartbeat as check, heartbeat_label as label};

/// When the next scheduled ping is due: `interval` after the last one (or after start).
pub fn next_due(interval: Option<Duration>, last: Instant) -> Option<Instant> {
    interval.map(|i| last + i)
}

/// The request for one ping. `failure`: the reason something is wrong, or `None`.
///
/// - Uptime Kuma (`…/api/push/<token>`): `GET ?status=up&msg=OK`, or `status=down`
///   with the reason; the query the UI shows is replaced.
/// - Otherwise healthchecks.io's API: `POST <url>` or `POST <url>/fail`, the reason as
///   the body (POST so that checks accepting POST only record it).
pub fn ping(url: &str, failure: Option<&str>) -> Request {
    let base = url.split(['?', '#']).next().unwrap_or(url);
    if base.contains("/api/push/") {
        let (status, msg) = match failure {
            None => ("up", "OK".to_string()),
            Some(r) => ("down", r.to_string()),
        };
        return Request {
            method: "GET",
            url: format!("{base}?status={status}&msg={}", query_encode(&msg)),
            headers: Vec::new(),
            body: Vec::new(),
        };
    }
    let base = base.trim_end_matches('/');
    match failure {
        None => Request {
            method: "POST",
            url: base.to_string(),
            headers: vec![("Content-Type", "text/plain; charset=utf-8".into())],
            body: b"OK".to_vec(),
        },
        Some(r) => Request {
            method: "POST",
            url: format!("{base}/fail"),
            headers: vec![("Content-Type", "text/plain; charset=utf-8".into())],
            body: r.as_bytes().to_vec(),
        },
    }
}

fn query_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes().take(500) {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthchecks_success_and_failure() {
        let ok = ping("https://hc-ping.com/uuid", None);
        assert_eq!(
            (ok.method, ok.url.as_str()),
            ("POST", "https://hc-ping.com/uuid")
        );
        let fail = ping("https://hc-ping.com/uuid/", Some("badauth on h"));
        assert_eq!(fail.url, "https://hc-ping.com/uuid/fail");
        assert_eq!(fail.body, b"badauth on h");
    }

    #[test]
    fn uptime_kuma_gets_status_down_with_the_reason() {
        let u = "https://kuma.example.net/api/push/tok?status=up&msg=OK&ping=";
        assert_eq!(
            ping(u, None).url,
            "https://kuma.example.net/api/push/tok?status=up&msg=OK"
        );
        let d = ping(u, Some("not visible: 1.2.3.4"));
        assert_eq!(d.method, "GET");
        assert_eq!(
            d.url,
            "https://kuma.example.net/api/push/tok?status=down&msg=not%20visible%3A%201.2.3.4"
        );
    }

    #[test]
    fn schedule_is_off_or_one_interval_after_the_last_ping() {
        let t = Instant::now();
        assert_eq!(next_due(None, t), None);
        assert_eq!(
            next_due(Some(Duration::from_secs(60)), t),
            Some(t + Duration::from_secs(60))
        );
    }

    #[test]
    fn label_hides_the_token() {
        assert_eq!(
            label("https://hc-ping.com/0f0e-uuid"),
            "https://hc-ping.com/<redacted>"
        );
        assert!(check("ftp://x").is_err() && check("https://hc-ping.com/x").is_ok());
    }
}
