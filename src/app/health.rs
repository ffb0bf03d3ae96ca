//! `dynhost status --health`: one verdict for a container's `HEALTHCHECK` or a
//! monitoring probe. Exit 0 while every enabled record and family is published (or has
//! had nothing to publish yet) and its DNS agrees or is still being checked; exit 1
//! otherwise, with one line saying why. Read from the state file only: no socket, no
//! network, so that it works under a read-only root and with a stopped daemon too.

use super::Exit;
use super::status::{self, Row};
use crate::config::Config;

/// Prints the verdict in one line; the exit code is the verdict.
pub fn show(config: &Config) -> super::Result<Exit> {
    let (rows, now) = status::load(config)?;
    let (line, exit) = match verdict(&rows, now) {
        Ok(line) => (line, Exit::Success),
        Err(line) => (format!("unhealthy: {line}"), Exit::Failure),
    };
    crate::outln!("{line}");
    Ok(exit)
}

/// How long after an update DNS may still disagree while checks go on (the verify
/// schedule's last check is a day after the update).
pub const DNS_GRACE: u64 = 86_400 + 3_600;

/// The verdict: `Ok` with a summary, or `Err` with the first reason it is not healthy.
pub fn verdict(rows: &[Row], now: u64) -> Result<String, String> {
    let mut published = 0;
    let mut waiting = 0;
    for r in rows.iter().filter(|r| r.enabled) {
        let name = format!("{} {}", r.hostname, r.family);
        let reply = r
            .last_reply
            .as_ref()
            .map_or(String::new(), |l| format!(": {}", l.detail));
        if r.blocked_since.is_some() {
            return Err(format!("{name} is blocked by the provider's answer{reply}"));
        }
        if r.retry_at.is_some_and(|t| t > now) {
            return Err(format!("{name} is not published, retrying{reply}"));
        }
        let Some(p) = &r.published else {
            // Nothing sent yet: no address seen, or the first round is under way.
            waiting += 1;
            continue;
        };
        published += 1;
        if let Some(d) = r.dns.as_ref().filter(|d| !d.visible && d.at >= p.at)
            && now.saturating_sub(p.at) > DNS_GRACE
        {
            let seen = d.addr.map_or("nothing".into(), |a| a.to_string());
            return Err(format!(
                "{name}: DNS answers {seen}, not the published {}",
                p.addr
            ));
        }
    }
    Ok(format!(
        "healthy: {published} published, {waiting} with nothing published yet"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{DnsSeen, LastReply, Published};
    use crate::model::Family;

    const NOW: u64 = 1_800_000_000;

    fn row() -> Row {
        Row {
            hostname: "home.example.com".into(),
            family: Family::V4,
            interface: "ppp0".into(),
            enabled: true,
            published: Some(Published {
                addr: "203.0.113.5".parse().unwrap(),
                at: NOW - 100,
            }),
            last_reply: Some(LastReply {
                token: "good".into(),
                detail: "good 203.0.113.5".into(),
                at: NOW - 100,
            }),
            retry_at: None,
            blocked_since: None,
            pending: None,
            dns: None,
        }
    }

    fn dns(visible: bool, at: u64) -> Option<DnsSeen> {
        Some(DnsSeen {
            addr: Some("198.51.100.7".parse().unwrap()),
            visible,
            at,
            server: "ns1.example.com".into(),
            after_ms: None,
        })
    }

    #[test]
    fn published_and_unpublished_yet_are_healthy() {
        let fresh = Row {
            published: None,
            last_reply: None,
            ..row()
        };
        let out = verdict(&[row(), fresh], NOW).unwrap();
        assert_eq!(out, "healthy: 1 published, 1 with nothing published yet");
        assert!(verdict(&[], NOW).is_ok());
    }

    #[test]
    fn a_blocked_record_is_unhealthy_and_says_why() {
        let r = Row {
            published: None,
            blocked_since: Some(NOW - 5),
            last_reply: Some(LastReply {
                token: "badauth".into(),
                detail: "badauth: the username or password was refused".into(),
                at: NOW - 5,
            }),
            ..row()
        };
        let e = verdict(&[row(), r], NOW).unwrap_err();
        assert!(e.starts_with("home.example.com ipv4 is blocked"), "{e}");
        assert!(e.contains("badauth"), "{e}");
        assert!(!e.contains('\n'), "one line: {e}");
    }

    #[test]
    fn a_pending_retry_is_unhealthy_a_past_one_is_not() {
        let later = Row {
            retry_at: Some(NOW + 30),
            ..row()
        };
        assert!(verdict(&[later], NOW).unwrap_err().contains("retrying"));
        let past = Row {
            retry_at: Some(NOW - 30),
            ..row()
        };
        assert!(verdict(&[past], NOW).is_ok());
    }

    #[test]
    fn dns_disagreeing_is_healthy_while_checked_then_not() {
        let checking = Row {
            dns: dns(false, NOW - 50),
            ..row()
        };
        assert!(verdict(std::slice::from_ref(&checking), NOW).is_ok());
        let later = NOW - 100 + DNS_GRACE + 1;
        let e = verdict(&[checking], later).unwrap_err();
        assert!(e.contains("DNS answers 198.51.100.7"), "{e}");
        let agrees = Row {
            dns: dns(true, NOW - 50),
            ..row()
        };
        assert!(verdict(&[agrees], later).is_ok());
    }

    #[test]
    fn disabled_records_do_not_count() {
        let r = Row {
            enabled: false,
            blocked_since: Some(NOW),
            ..row()
        };
        assert!(verdict(&[r], NOW).is_ok());
    }
}
