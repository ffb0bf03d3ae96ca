//! The state file's text: one line per record and family. Pure: text to map and back.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::StateMap;
use crate::model::Family;
use crate::model::{DnsSeen, LastReply, Pending, Published, SlotKey, SlotMemory};

const MAGIC: &str = "dynhost-state 1";

pub fn render(map: &StateMap) -> String {
    let mut out = String::from(
        "# dynhost: last published address per record and family. Written atomically by\n\
         # dynhost; deleting it makes the next round send every record once.\n",
    );
    out.push_str(MAGIC);
    out.push('\n');
    for (k, m) in map {
        let _ = write!(out, "{} {}", k.hostname, k.family);
        if let Some(p) = &m.published {
            let _ = write!(out, " published={}@{}", p.addr, p.at);
        }
        if let Some(r) = &m.last_reply {
            let _ = write!(
                out,
                " reply={}@{} detail={}",
                encode(&r.token),
                r.at,
                encode(&r.detail)
            );
        }
        if let Some(t) = m.retry_at {
            let _ = write!(out, " retry_at={t}");
        }
        if let Some(p) = &m.pending {
            let _ = write!(out, " pending={}@{}", p.addr, p.at);
        }
        if let Some(t) = m.blocked_since {
            let _ = write!(out, " blocked_since={t}");
        }
        if let Some((first, rest)) = m.sends.split_first() {
            let _ = write!(out, " sent={first}");
            for t in rest {
                let _ = write!(out, ",{t}");
            }
        }
        if let Some(d) = &m.dns {
            let addr = d.addr.map_or_else(|| "-".to_string(), |a| a.to_string());
            let seen = if d.visible { "visible" } else { "hidden" };
            let _ = write!(out, " dns={addr}@{} dns_seen={seen}", d.at);
            let _ = write!(out, " dns_server={}", encode(&d.server));
            if let Some(ms) = d.after_ms {
                let _ = write!(out, " dns_after_ms={ms}");
            }
        }
        out.push('\n');
    }
    out
}

/// A state file's entries, and the lines that could not be read (skipped, each with
/// its line number and why): one damaged line must not cost every other record its
/// published address, its 911 floor or its hourly budget.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    pub map: StateMap,
    pub skipped: Vec<String>,
}

/// Parses a state file. Only a file that is not a state file at all is an error.
pub fn parse(text: &str) -> Result<Parsed, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'));
    match lines.next() {
        Some((_, l)) if l.trim() == MAGIC => {}
        Some((n, _)) => return Err(format!("line {}: not a dynhost state file", n + 1)),
        None => return Ok(Parsed::default()),
    }
    let mut out = Parsed::default();
    for (n, line) in lines {
        match parse_entry(line) {
            Ok((key, mem)) => {
                out.map.insert(key, mem);
            }
            Err(e) => out.skipped.push(format!("line {}: {e}", n + 1)),
        }
    }
    Ok(out)
}

fn parse_entry(line: &str) -> Result<(SlotKey, SlotMemory), String> {
    let mut words = line.split_ascii_whitespace();
    let hostname = words.next().ok_or("empty entry")?.to_string();
    let family = words
        .next()
        .and_then(Family::parse)
        .ok_or("expected ipv4 or ipv6 after the hostname")?;
    let mut m = SlotMemory::default();
    let mut detail = None;
    let (mut dns_seen, mut dns_server, mut dns_after) = (None, None, None);
    for w in words {
        let (k, v) = w
            .split_once('=')
            .ok_or_else(|| format!("{w:?} is not key=value"))?;
        let num = |s: &str| {
            s.parse::<u64>()
                .map_err(|_| format!("{k}: bad number {s:?}"))
        };
        let stamped = |v: &str| -> Result<(String, u64), String> {
            let (a, t) = v
                .rsplit_once('@')
                .ok_or_else(|| format!("{k}: expected value@time"))?;
            Ok((a.to_string(), num(t)?))
        };
        match k {
            "published" => {
                let (a, at) = stamped(v)?;
                let addr: IpAddr = a.parse().map_err(|_| format!("bad address {a:?}"))?;
                m.published = Some(Published { addr, at });
            }
            "reply" => {
                let (token, at) = stamped(v)?;
                m.last_reply = Some(LastReply {
                    token: decode(&token)?,
                    detail: String::new(),
                    at,
                });
            }
            "detail" => detail = Some(decode(v)?),
            "retry_at" => m.retry_at = Some(num(v)?),
            "pending" => {
                let (a, at) = stamped(v)?;
                let addr: IpAddr = a.parse().map_err(|_| format!("bad address {a:?}"))?;
                m.pending = Some(Pending { addr, at });
            }
            "blocked_since" => m.blocked_since = Some(num(v)?),
            "sent" => m.sends = v.split(',').map(num).collect::<Result<_, _>>()?,
            "dns" => {
                let (a, at) = stamped(v)?;
                let addr = match a.as_str() {
                    "-" => None,
                    a => Some(a.parse().map_err(|_| format!("bad address {a:?}"))?),
                };
                m.dns = Some(DnsSeen {
                    addr,
                    visible: false,
                    at,
                    server: String::new(),
                    after_ms: None,
                });
            }
            "dns_seen" => dns_seen = Some(v == "visible"),
            "dns_server" => dns_server = Some(decode(v)?),
            "dns_after_ms" => dns_after = Some(num(v)?),
            // Written by a newer version: keep going with what we understand.
            _ => {}
        }
    }
    if let (Some(r), Some(d)) = (&mut m.last_reply, detail) {
        r.detail = d;
    }
    if let Some(d) = &mut m.dns {
        d.visible = dns_seen.unwrap_or(false);
        d.server = dns_server.unwrap_or_default();
        d.after_ms = dns_after;
    }
    Ok((SlotKey { hostname, family }, m))
}

/// Percent-encodes everything but a safe ASCII set, so that a value is one word.
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.:!/()[]<>,'".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Reverses `encode`.
pub fn decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or("truncated escape")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| "bad escape")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "bad UTF-8 in escape".to_string())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> StateMap {
        let mut map = StateMap::new();
        map.insert(
            SlotKey {
                hostname: "home.example.com".into(),
                family: Family::V4,
            },
            SlotMemory {
                published: Some(Published {
                    addr: "203.0.113.5".parse().unwrap(),
                    at: 1_800_000_000,
                }),
                last_reply: Some(LastReply {
                    token: "good".into(),
                    detail: "good 203.0.113.5".into(),
                    at: 1_800_000_000,
                }),
                retry_at: None,
                blocked_since: None,
                pending: Some(Pending {
                    addr: "203.0.113.6".parse().unwrap(),
                    at: 1_800_000_300,
                }),
                sends: vec![1_799_999_000, 1_800_000_000],
                dns: Some(DnsSeen {
                    addr: Some("203.0.113.5".parse().unwrap()),
                    visible: true,
                    at: 1_800_000_002,
                    server: "ns1.example.com 192.0.2.53:53 answers 203.0.113.5 (TTL 60)".into(),
                    after_ms: Some(1234),
                }),
            },
        );
        map.insert(
            SlotKey {
                hostname: "home.example.com".into(),
                family: Family::V6,
            },
            SlotMemory {
                published: None,
                last_reply: Some(LastReply {
                    token: "error-400".into(),
                    detail: "HTTP 400 Client::BadRequest: \"{'system': ['Missing data']}\" 100%\n"
                        .into(),
                    at: 1_800_000_100,
                }),
                retry_at: Some(1_800_001_900),
                blocked_since: Some(1_800_000_100),
                pending: None,
                sends: vec![],
                dns: Some(DnsSeen {
                    addr: None,
                    visible: false,
                    at: 1_800_000_003,
                    server: String::new(),
                    after_ms: None,
                }),
            },
        );
        map
    }

    #[test]
    fn round_trips() {
        let map = sample();
        let text = render(&map);
        assert_eq!(parse(&text).unwrap().map, map);
        for line in text.lines().filter(|l| l.starts_with("home")) {
            assert!(!line.contains('\n'));
        }
    }

    #[test]
    fn rejects_foreign_and_broken_files() {
        assert!(
            parse("hello\n")
                .unwrap_err()
                .contains("not a dynhost state file")
        );
        assert_eq!(parse("").unwrap(), Parsed::default());
    }

    #[test]
    fn a_damaged_line_costs_only_itself() {
        let good = render(&sample());
        let text = format!("{good}home.example.com ipv5\nhome.example.com ipv4 published=nope@1\n");
        let parsed = parse(&text).unwrap();
        assert_eq!(parsed.map, sample(), "every readable entry is kept");
        assert_eq!(parsed.skipped.len(), 2, "{:?}", parsed.skipped);
        let line = good.lines().count() + 1;
        assert!(
            parsed.skipped[0].starts_with(&format!("line {line}:")),
            "{:?}",
            parsed.skipped
        );
        assert!(
            parsed.skipped[1].contains("bad address"),
            "{:?}",
            parsed.skipped
        );
    }

    #[test]
    fn unknown_fields_are_skipped() {
        let text = format!("{MAGIC}\nh.example.com ipv4 future=1 retry_at=5\n");
        let map = parse(&text).unwrap().map;
        assert_eq!(map.values().next().unwrap().retry_at, Some(5));
    }
}
