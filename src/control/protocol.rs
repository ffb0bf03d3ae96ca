//! The control socket's line protocol: one request line in, report lines out.
//! Pure, and fuzzed (`tests/properties.rs`).
//!
//! ```text
//! > update interface=ppp0 ip=203.0.113.5 force
//! < report home.example.com ipv4 uptodate 203.0.113.5 good%20203.0.113.5
//! < end
//! ```

use crate::engine::{RequestError, SlotKey, SlotReport, SlotResult};
use crate::model::Family;
use crate::request::{UpdateRequest, parse_interface, parse_ip};
use crate::state::{decode, encode};

/// Longest request line accepted.
pub const MAX_REQUEST: usize = 512;

/// `update [interface=IF] [ip=ADDR] [force]`, with its newline.
pub fn render_request(req: &UpdateRequest) -> String {
    let mut line = String::from("update");
    if let Some(i) = &req.interface {
        line.push_str(&format!(" interface={i}"));
    }
    if let Some(ip) = &req.ip {
        line.push_str(&format!(" ip={ip}"));
    }
    if req.force {
        line.push_str(" force");
    }
    line.push('\n');
    line
}

/// Parses one request line (without its newline). Every field goes through the same
/// checks as on the command line; errors never echo more than a short excerpt.
pub fn parse_request(line: &str) -> Result<UpdateRequest, String> {
    if line.len() > MAX_REQUEST {
        return Err(format!("request longer than {MAX_REQUEST} bytes"));
    }
    let mut words = line.split(' ');
    match words.next() {
        Some("update") => {}
        _ => return Err(format!("unknown request {:?}", excerpt(line))),
    }
    let mut req = UpdateRequest::default();
    for w in words {
        match w.split_once('=') {
            Some(("interface", v)) if req.interface.is_none() => {
                req.interface = Some(parse_interface(v)?);
            }
            Some(("ip", v)) if req.ip.is_none() => req.ip = Some(parse_ip(v)?),
            None if w == "force" && !req.force => req.force = true,
            _ => return Err(format!("unexpected or repeated argument {:?}", excerpt(w))),
        }
    }
    Ok(req)
}

/// A request line as read from the socket: bounded, UTF-8, newline-terminated.
pub fn request_of(line: &[u8]) -> Result<UpdateRequest, String> {
    if line.len() > MAX_REQUEST {
        return Err(format!("request longer than {MAX_REQUEST} bytes"));
    }
    let text = std::str::from_utf8(line).map_err(|_| "the request is not UTF-8".to_string())?;
    let text = text
        .strip_suffix('\n')
        .ok_or("the request must end with a newline")?;
    parse_request(text)
}

fn excerpt(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Why the daemon did not run a round. Closed: each kind has its exit code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No enabled record follows the interface (or publishes the family): nothing to
    /// do, rather than something wrong. `update` exits 3 for it.
    NotFollowed(String),
    /// Anything else: a malformed request, too many clients, a peer not allowed, the
    /// daemon stopping.
    Error(String),
}

impl Refusal {
    pub fn message(&self) -> &str {
        match self {
            Refusal::NotFollowed(m) | Refusal::Error(m) => m,
        }
    }
}

impl From<RequestError> for Refusal {
    fn from(e: RequestError) -> Refusal {
        match e {
            RequestError::NoRecordFollows { .. } => Refusal::NotFollowed(e.to_string()),
        }
    }
}

/// What the daemon answers to one request.
pub type Answer = Result<Vec<SlotReport>, Refusal>;

/// The answer: one line per slot, then `end`; or one `error`/`unfollowed` line.
pub fn render_answer(answer: &Answer) -> String {
    // `-` stands for an empty field, so a field that is `-` itself is escaped.
    let field = |s: &str| match s {
        "" => "-".to_string(),
        "-" => "%2D".to_string(),
        _ => encode(s),
    };
    match answer {
        Err(Refusal::NotFollowed(m)) => format!("unfollowed {}\n", field(m)),
        Err(Refusal::Error(m)) => format!("error {}\n", field(m)),
        Ok(reports) => {
            let mut out = String::new();
            for r in reports {
                let reply = field(r.last_reply.as_deref().unwrap_or(""));
                let result = match &r.result {
                    SlotResult::UpToDate(a) => format!("uptodate {a}"),
                    SlotResult::Unavailable(why) => format!("unavailable {}", field(why)),
                    SlotResult::Retrying { reply, in_secs } => {
                        format!("retrying {in_secs} {}", field(reply))
                    }
                    SlotResult::Blocked { reply } => format!("blocked {}", field(reply)),
                    SlotResult::Pending => "pending".into(),
                };
                out.push_str(&format!(
                    "report {} {} {result} {reply}\n",
                    r.key.hostname, r.key.family
                ));
            }
            out.push_str("end\n");
            out
        }
    }
}

/// Parses what `render_answer` wrote. `Ok(Err(_))` is the daemon's refusal.
pub fn parse_answer(text: &str) -> Result<Answer, String> {
    let field = |s: &str| -> Result<String, String> {
        if s == "-" {
            Ok(String::new())
        } else {
            decode(s)
        }
    };
    let mut reports = Vec::new();
    for line in text.lines() {
        let w: Vec<&str> = line.split(' ').collect();
        match w.as_slice() {
            ["end"] => return Ok(Ok(reports)),
            ["error", msg] => return Ok(Err(Refusal::Error(field(msg)?))),
            ["unfollowed", msg] => return Ok(Err(Refusal::NotFollowed(field(msg)?))),
            ["report", host, family, rest @ ..] => {
                let family = Family::parse(family).ok_or("bad family in answer")?;
                let (result, reply) = match rest {
                    ["uptodate", a, reply] => (
                        SlotResult::UpToDate(a.parse().map_err(|_| "bad address in answer")?),
                        reply,
                    ),
                    ["unavailable", why, reply] => (SlotResult::Unavailable(field(why)?), reply),
                    ["retrying", secs, r, reply] => (
                        SlotResult::Retrying {
                            reply: field(r)?,
                            in_secs: secs.parse().map_err(|_| "bad number in answer")?,
                        },
                        reply,
                    ),
                    ["blocked", r, reply] => (SlotResult::Blocked { reply: field(r)? }, reply),
                    ["pending", reply] => (SlotResult::Pending, reply),
                    _ => return Err(format!("unexpected answer line {:?}", excerpt(line))),
                };
                let last = field(reply)?;
                reports.push(SlotReport {
                    key: SlotKey {
                        hostname: host.to_string(),
                        family,
                    },
                    result,
                    last_reply: (!last.is_empty()).then_some(last),
                });
            }
            _ => return Err(format!("unexpected answer line {:?}", excerpt(line))),
        }
    }
    Err("the daemon closed the connection before answering".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        for req in [
            UpdateRequest::default(),
            UpdateRequest {
                interface: Some("pppoe-wan".into()),
                ip: Some("203.0.113.5".parse().unwrap()),
                force: true,
            },
            UpdateRequest {
                interface: None,
                ip: Some("2001:db8::5".parse().unwrap()),
                force: false,
            },
        ] {
            let line = render_request(&req);
            assert_eq!(parse_request(line.trim_end()).unwrap(), req, "{line}");
        }
    }

    #[test]
    fn bad_requests_are_refused_with_a_reason() {
        for (line, needle) in [
            ("", "unknown request"),
            ("status", "unknown request"),
            ("update interface=a/b", "not an interface name"),
            ("update ip=10.0.0.1", "private"),
            ("update ip=nope", "not an IPv4 or IPv6 address"),
            ("update force force", "repeated"),
            ("update interface=a interface=b", "repeated"),
            ("update  force", "unexpected"),
            ("update colour=blue", "unexpected"),
        ] {
            let err = parse_request(line).unwrap_err();
            assert!(err.contains(needle), "{line:?}: {err}");
        }
        let long = format!("update interface={}", "x".repeat(1000));
        assert!(parse_request(&long).unwrap_err().contains("longer"));
        assert!(request_of(b"update").unwrap_err().contains("newline"));
        assert!(request_of(&[0xff, b'\n']).unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn answers_round_trip() {
        let key = |f| SlotKey {
            hostname: "home.example.com".into(),
            family: f,
        };
        let reports = vec![
            SlotReport {
                key: key(Family::V4),
                result: SlotResult::UpToDate("203.0.113.5".parse().unwrap()),
                last_reply: Some("good 203.0.113.5".into()),
            },
            SlotReport {
                key: key(Family::V6),
                result: SlotResult::Unavailable("fe80::1 is link-local".into()),
                last_reply: None,
            },
            SlotReport {
                key: key(Family::V4),
                result: SlotResult::Retrying {
                    reply: "HTTP 503".into(),
                    in_secs: 29,
                },
                last_reply: Some("HTTP 503".into()),
            },
            SlotReport {
                key: key(Family::V6),
                result: SlotResult::Blocked {
                    reply: "badauth".into(),
                },
                last_reply: Some("badauth".into()),
            },
            // `-` is the empty field's mark: a text that is `-` must survive.
            SlotReport {
                key: key(Family::V4),
                result: SlotResult::Unavailable("-".into()),
                last_reply: Some("-".into()),
            },
            SlotReport {
                key: key(Family::V4),
                result: SlotResult::Pending,
                last_reply: None,
            },
        ];
        let text = render_answer(&Ok(reports.clone()));
        assert_eq!(parse_answer(&text).unwrap(), Ok(reports));
        let message = "no enabled record follows interface \"eth9\"".to_string();
        for err in [
            Refusal::NotFollowed(message.clone()),
            Refusal::Error(message),
        ] {
            let err = Err(err);
            assert_eq!(parse_answer(&render_answer(&err)).unwrap(), err);
        }
        assert!(parse_answer("report x ipv4 uptodate\n").is_err());
        assert!(parse_answer("").is_err());
    }
}
