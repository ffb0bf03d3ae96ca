//! `dynhost status`: what the state file says, per configured record and family.

use std::fmt::Write as _;

use super::{Error, Exit, Result};
use crate::config::Config;
use serde_json::{Value, json};

use crate::engine::{DnsSeen, LastReply, Pending, Published, SlotKey};
use crate::model::Family;
use crate::state::{self, StateMap, Store, rfc3339};

/// Prints what the state file says of every configured record and family.
pub fn show(config: &Config, json_out: bool) -> Result<Exit> {
    let (rows, now) = load(config)?;
    if json_out {
        crate::out!("{}", json(&rows, now));
    } else {
        crate::out!("{}", text(&rows, now));
    }
    Ok(Exit::Success)
}

/// Every configured record and family as the state file has it, and the time now.
pub fn load(config: &Config) -> Result<(Vec<Row>, u64)> {
    let mut store = Store::new(&config.state_dir, true);
    let state = store.load().map_err(Error::Failed)?;
    Ok((rows(config, &state), state::wall_now()))
}

pub struct Row {
    pub hostname: String,
    pub family: Family,
    pub interface: String,
    pub enabled: bool,
    pub published: Option<Published>,
    pub last_reply: Option<LastReply>,
    pub retry_at: Option<u64>,
    pub blocked_since: Option<u64>,
    /// A newer address waiting for the hourly budget (the throttle).
    pub pending: Option<Pending>,
    pub dns: Option<DnsSeen>,
}

impl Row {
    pub fn state(&self, now: u64) -> String {
        if !self.enabled {
            "disabled".into()
        } else if let Some(t) = self.blocked_since {
            format!("blocked since {}", rfc3339(t))
        } else if let Some(t) = self.retry_at.filter(|t| *t > now) {
            format!("retry at {}", rfc3339(t))
        } else if let Some(p) = self.pending(now) {
            format!("throttled: {} waits until {}", p.addr, rfc3339(p.at))
        } else if self.published.is_some() {
            "ok".into()
        } else {
            "never published".into()
        }
    }

    /// A newer address still held back by the hourly budget at `now`.
    fn pending(&self, now: u64) -> Option<&Pending> {
        self.pending.as_ref().filter(|p| p.at > now)
    }

    /// The last DNS check, in a few words.
    fn dns_text(&self) -> String {
        let Some(d) = &self.dns else {
            return "-".into();
        };
        let when = rfc3339(d.at);
        match (d.visible, d.addr, d.after_ms) {
            (true, _, Some(ms)) => format!(
                "visible ({} s after the update; checked {when})",
                ms as f64 / 1000.0
            ),
            (true, _, None) => format!("visible (checked {when})"),
            (false, Some(a), _) => format!("not yet: DNS answers {a} (checked {when})"),
            (false, None, _) if d.server.is_empty() => format!("unknown (checked {when})"),
            (false, None, _) => format!("not yet ({}; checked {when})", d.server),
        }
    }
}

pub fn rows(config: &Config, state: &StateMap) -> Vec<Row> {
    let mut rows = Vec::new();
    for r in &config.records {
        for family in Family::ALL.into_iter().filter(|f| r.publishes(*f)) {
            let key = SlotKey {
                hostname: r.hostname.clone(),
                family,
            };
            let m = state.get(&key).cloned().unwrap_or_default();
            rows.push(Row {
                hostname: r.hostname.clone(),
                family,
                interface: r.interface.clone(),
                enabled: r.enabled,
                published: m.published,
                last_reply: m.last_reply,
                retry_at: m.retry_at,
                blocked_since: m.blocked_since,
                pending: m.pending,
                dns: m.dns,
            });
        }
    }
    rows
}

pub fn text(rows: &[Row], now: u64) -> String {
    let header = [
        "RECORD",
        "FAMILY",
        "INTERFACE",
        "PUBLISHED",
        "SINCE",
        "LAST REPLY",
        "STATE",
        "DNS",
    ];
    let mut table: Vec<[String; 8]> = vec![header.map(String::from)];
    for r in rows {
        table.push([
            r.hostname.clone(),
            r.family.to_string(),
            r.interface.clone(),
            r.published
                .as_ref()
                .map_or("-".into(), |p| p.addr.to_string()),
            r.published.as_ref().map_or("-".into(), |p| rfc3339(p.at)),
            r.last_reply
                .as_ref()
                .map_or("-".into(), |l| l.detail.clone()),
            r.state(now),
            r.dns_text(),
        ]);
    }
    let mut widths = [0usize; 8];
    for row in &table {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &table {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub fn json(rows: &[Row], now: u64) -> String {
    let records: Vec<Value> = rows
        .iter()
        .map(|r| {
            let published = r.published.as_ref().map(
                |p| json!({"address": p.addr.to_string(), "at": rfc3339(p.at), "at_unix": p.at}),
            );
            let last_reply = r
                .last_reply
                .as_ref()
                .map(|l| json!({"code": l.token, "detail": l.detail, "at": rfc3339(l.at)}));
            let dns = r.dns.as_ref().map(|d| {
                json!({
                    "addr": d.addr.map(|a| a.to_string()),
                    "visible": d.visible,
                    "checked_at": d.at,
                    "server": d.server,
                    "visible_after_ms": d.after_ms,
                })
            });
            json!({
                "hostname": r.hostname,
                "family": r.family.as_str(),
                "interface": r.interface,
                "enabled": r.enabled,
                "published": published,
                "last_reply": last_reply,
                "blocked": r.blocked_since.is_some() && r.enabled,
                "retry_at": r.retry_at.filter(|t| *t > now).map(rfc3339),
                "pending": r.pending(now).map(
                    |p| json!({"address": p.addr.to_string(), "at": rfc3339(p.at), "at_unix": p.at}),
                ),
                "state": r.state(now),
                "dns": dns,
            })
        })
        .collect();
    format!("{}\n", json!({ "records": records }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        crate::config::parse(
            "[[record]]\nhostname = \"a.example.com\"\nusername = \"u\"\npassword = \"p\"\n\
             interface = \"ppp0\"\nipv6 = true\n\
             [[record]]\nhostname = \"b.example.com\"\nusername = \"u\"\npassword = \"p\"\n\
             interface = \"eth1\"\nenabled = false\n",
            None,
        )
        .unwrap()
        .config
    }

    #[test]
    fn rows_cover_every_record_and_family() {
        let mut state = StateMap::new();
        state.insert(
            SlotKey {
                hostname: "a.example.com".into(),
                family: Family::V4,
            },
            crate::engine::SlotMemory {
                published: Some(Published {
                    addr: "203.0.113.5".parse().unwrap(),
                    at: 1_795_708_831,
                }),
                last_reply: Some(LastReply {
                    token: "good".into(),
                    detail: "good 203.0.113.5".into(),
                    at: 1_795_708_831,
                }),
                retry_at: None,
                blocked_since: None,
                pending: None,
                sends: vec![],
                dns: Some(DnsSeen {
                    addr: Some("203.0.113.5".parse().unwrap()),
                    visible: true,
                    at: 1_795_708_832,
                    server: "ns1.example.com 192.0.2.53:53 answers 203.0.113.5 (TTL 60)".into(),
                    after_ms: Some(850),
                }),
            },
        );
        state.insert(
            SlotKey {
                hostname: "a.example.com".into(),
                family: Family::V6,
            },
            crate::engine::SlotMemory {
                blocked_since: Some(1_795_708_831),
                last_reply: Some(LastReply {
                    token: "nohost".into(),
                    detail: "nohost \"quoted\"".into(),
                    at: 1_795_708_831,
                }),
                ..Default::default()
            },
        );
        let rows = rows(&config(), &state);
        assert_eq!(rows.len(), 3);
        let t = text(&rows, 1_795_708_900);
        assert!(t.lines().nth(1).unwrap().contains(" ok "), "{t}");
        assert!(t.contains("blocked since 2026-11-26T16:00:31Z"), "{t}");
        assert!(t.lines().nth(3).unwrap().contains(" disabled "), "{t}");
        let j = json(&rows, 1_795_708_900);
        assert!(j.contains("\"address\":\"203.0.113.5\""), "{j}");
        assert!(j.contains("\"detail\":\"nohost \\\"quoted\\\"\""), "{j}");
        assert!(j.contains("\"blocked\":true"), "{j}");
        assert_eq!(j.matches("\"hostname\"").count(), 3);
        let v: Value = serde_json::from_str(&j).unwrap();
        let dns = &v["records"][0]["dns"];
        assert_eq!(dns["addr"], "203.0.113.5");
        assert_eq!(dns["visible"], true);
        assert_eq!(dns["checked_at"], 1_795_708_832u64);
        assert_eq!(dns["visible_after_ms"], 850);
        assert!(v["records"][1]["dns"].is_null());
        assert!(t.contains("visible (0.85 s after the update"), "{t}");
    }

    #[test]
    fn a_throttled_address_is_said_with_when_it_goes() {
        let mut state = StateMap::new();
        let key = SlotKey {
            hostname: "a.example.com".into(),
            family: Family::V4,
        };
        let memory = crate::engine::SlotMemory {
            published: Some(Published {
                addr: "203.0.113.5".parse().unwrap(),
                at: 1_795_708_800,
            }),
            pending: Some(Pending {
                addr: "203.0.113.6".parse().unwrap(),
                at: 1_795_709_100,
            }),
            ..Default::default()
        };
        state.insert(key, memory);
        let rows = rows(&config(), &state);
        let t = text(&rows, 1_795_708_900);
        let line = t.lines().nth(1).unwrap();
        assert!(
            line.contains("throttled: 203.0.113.6 waits until 2026-11-26T16:05:00Z"),
            "{t}"
        );
        assert!(!line.contains(" ok "), "{t}");
        let v: Value = serde_json::from_str(&json(&rows, 1_795_708_900)).unwrap();
        assert_eq!(v["records"][0]["pending"]["address"], "203.0.113.6");
        assert_eq!(v["records"][0]["pending"]["at_unix"], 1_795_709_100u64);
        // Once its time has passed, it is no longer pending.
        let later = json(&rows, 1_795_709_200);
        assert!(later.contains("\"pending\":null"), "{later}");
        assert!(
            text(&rows, 1_795_709_200)
                .lines()
                .nth(1)
                .unwrap()
                .contains(" ok ")
        );
    }
}
