//! `dynhost status`: what the state file says, per configured record and family.

use std::fmt::Write as _;

use super::{Error, Exit, Result};
use crate::config::Config;
use crate::engine::{LastReply, Published, SlotKey};
use crate::model::Family;
use crate::state::{self, StateMap, Store, rfc3339};

/// Prints what the state file says of every configured record and family.
pub fn show(config: &Config, json_out: bool) -> Result<Exit> {
    let mut store = Store::new(&config.state_dir, true);
    let state = store.load().map_err(Error::Failed)?;
    let rows = rows(config, &state);
    let now = state::wall_now();
    if json_out {
        print!("{}", json(&rows, now));
    } else {
        print!("{}", text(&rows, now));
    }
    Ok(Exit::Success)
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
}

impl Row {
    fn state(&self, now: u64) -> String {
        if !self.enabled {
            "disabled".into()
        } else if let Some(t) = self.blocked_since {
            format!("blocked since {}", rfc3339(t))
        } else if let Some(t) = self.retry_at.filter(|t| *t > now) {
            format!("retry at {}", rfc3339(t))
        } else if self.published.is_some() {
            "ok".into()
        } else {
            "never published".into()
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
    ];
    let mut table: Vec<[String; 7]> = vec![header.map(String::from)];
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
        ]);
    }
    let mut widths = [0usize; 7];
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
    let mut out = String::from("{\"records\":[");
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"hostname\":{},\"family\":\"{}\",\"interface\":{},\"enabled\":{},",
            quote(&r.hostname),
            r.family,
            quote(&r.interface),
            r.enabled
        );
        match &r.published {
            Some(p) => {
                let _ = write!(
                    out,
                    "\"published\":{{\"address\":\"{}\",\"at\":\"{}\",\"at_unix\":{}}},",
                    p.addr,
                    rfc3339(p.at),
                    p.at
                );
            }
            None => out.push_str("\"published\":null,"),
        }
        match &r.last_reply {
            Some(l) => {
                let _ = write!(
                    out,
                    "\"last_reply\":{{\"code\":{},\"detail\":{},\"at\":\"{}\"}},",
                    quote(&l.token),
                    quote(&l.detail),
                    rfc3339(l.at)
                );
            }
            None => out.push_str("\"last_reply\":null,"),
        }
        let stamp = |t: Option<u64>| t.map_or("null".into(), |t| format!("\"{}\"", rfc3339(t)));
        let _ = write!(
            out,
            "\"blocked\":{},\"retry_at\":{},\"state\":{}}}",
            r.blocked_since.is_some() && r.enabled,
            stamp(r.retry_at.filter(|t| *t > now)),
            quote(&r.state(now))
        );
    }
    out.push_str("]}\n");
    out
}

fn quote(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
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
                sends: vec![],
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
        assert!(t.lines().nth(1).unwrap().ends_with("ok"), "{t}");
        assert!(t.contains("blocked since 2026-11-26T16:00:31Z"), "{t}");
        assert!(t.lines().nth(3).unwrap().ends_with("disabled"), "{t}");
        let j = json(&rows, 1_795_708_900);
        assert!(j.contains("\"address\":\"203.0.113.5\""), "{j}");
        assert!(j.contains("\"detail\":\"nohost \\\"quoted\\\"\""), "{j}");
        assert!(j.contains("\"blocked\":true"), "{j}");
        assert_eq!(j.matches("\"hostname\"").count(), 3);
    }
}
