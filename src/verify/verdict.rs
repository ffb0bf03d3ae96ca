//! What the zone's servers say, together, about one expected address. Pure.
//!
//! Only authoritative answers (addresses, NODATA, NXDOMAIN) count; the rest (silence,
//! refusals, referrals, garbage) is reported but never decides. A verdict other than
//! [`Verdict::Unknown`] needs at least one authoritative answer, and all authoritative
//! answers must say the same thing: drift may only be concluded from that.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use super::client::DnsError;
use super::message::Answer;

/// The verdict for one record and family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every authoritative answer holds exactly the expected address (`servers` gave them).
    Visible { servers: Vec<SocketAddr> },
    /// The servers agree that the name has no address of this family (NODATA or
    /// NXDOMAIN): an update not applied yet, or a record deleted.
    NotYet { servers: Vec<SocketAddr> },
    /// The servers agree on one other address.
    Differs {
        addr: IpAddr,
        servers: Vec<SocketAddr>,
    },
    /// Nothing can be concluded: why, naming each server and what it said.
    Unknown(String),
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Visible { servers } => write!(f, "visible at {}", list(servers)),
            Verdict::NotYet { servers } => {
                write!(f, "not visible yet: {} have no such record", list(servers))
            }
            Verdict::Differs { addr, servers } => {
                write!(f, "{} answer {addr} instead", list(servers))
            }
            Verdict::Unknown(why) => write!(f, "unknown: {why}"),
        }
    }
}

fn list(servers: &[SocketAddr]) -> String {
    servers
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line per server: `127.0.0.1:53 answers 192.0.2.1 (TTL 60)`.
pub fn describe(server: &SocketAddr, result: &Result<Answer, DnsError>) -> String {
    match result {
        Ok(answer) => format!("{server} {answer}"),
        Err(e) => format!("{server}: {e}"),
    }
}

/// The verdict for `expected` from each server's result (the output of
/// [`check`](super::client::check)).
pub fn verdict(expected: IpAddr, results: &[(SocketAddr, Result<Answer, DnsError>)]) -> Verdict {
    if results.is_empty() {
        return Verdict::Unknown("no servers to ask".into());
    }
    // What each authoritative server says: its set of addresses (empty: none).
    let mut said: Vec<(SocketAddr, Vec<IpAddr>)> = Vec::new();
    for (server, result) in results {
        let addrs = match result {
            Ok(Answer::Authoritative { addrs }) => {
                let mut set: Vec<IpAddr> = addrs.iter().map(|(a, _)| *a).collect();
                super::sort_dedup(&mut set);
                set
            }
            Ok(Answer::NoData { .. } | Answer::NxDomain { .. }) => Vec::new(),
            Ok(Answer::Cname(_)) => {
                return Verdict::Unknown(describe(server, result));
            }
            _ => continue,
        };
        if addrs.len() > 1 {
            return Verdict::Unknown(format!(
                "{}: a DynHost record holds one address, this name has {}",
                describe(server, result),
                addrs.len()
            ));
        }
        if let Some(a) = addrs.first() {
            if a.is_ipv4() != expected.is_ipv4() {
                return Verdict::Unknown(format!(
                    "{}, which is not of the family of {expected}",
                    describe(server, result)
                ));
            }
        }
        said.push((*server, addrs));
    }
    let Some((_, first)) = said.first() else {
        let each: Vec<String> = results.iter().map(|(s, r)| describe(s, r)).collect();
        return Verdict::Unknown(format!(
            "no server answered authoritatively: {}",
            each.join("; ")
        ));
    };
    if said.iter().any(|(_, a)| a != first) {
        let each: Vec<String> = results
            .iter()
            .filter(|(s, _)| said.iter().any(|(t, _)| t == s))
            .map(|(s, r)| describe(s, r))
            .collect();
        return Verdict::Unknown(format!("the servers disagree: {}", each.join("; ")));
    }
    let servers: Vec<SocketAddr> = said.iter().map(|(s, _)| *s).collect();
    match first.first() {
        None => Verdict::NotYet { servers },
        Some(a) if *a == expected => Verdict::Visible { servers },
        Some(a) => Verdict::Differs { addr: *a, servers },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::client::Transport;
    use crate::verify::message::Soa;
    use std::time::Duration;

    const E: &str = "192.0.2.1";

    type Results = Vec<(SocketAddr, Result<Answer, DnsError>)>;

    fn s(n: u8) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, n], 53))
    }

    fn auth(addrs: &[&str]) -> Result<Answer, DnsError> {
        Ok(Answer::Authoritative {
            addrs: addrs.iter().map(|a| (a.parse().unwrap(), 60)).collect(),
        })
    }

    fn nodata() -> Result<Answer, DnsError> {
        Ok(Answer::NoData {
            soa: Some(Soa {
                zone: "example.com".into(),
                serial: 1,
                negative_ttl: 60,
            }),
        })
    }

    fn timeout() -> Result<Answer, DnsError> {
        Err(DnsError::Timeout {
            after: Duration::from_secs(2),
            transport: Transport::Udp,
        })
    }

    fn visible(n: &[u8]) -> Verdict {
        Verdict::Visible {
            servers: n.iter().map(|&n| s(n)).collect(),
        }
    }

    #[test]
    fn verdicts() {
        let other = || auth(&["198.51.100.7"]);
        let table: Vec<(&str, Results, Result<Verdict, &str>)> = vec![
            (
                "one server, expected",
                vec![(s(1), auth(&[E]))],
                Ok(visible(&[1])),
            ),
            (
                "two servers, expected",
                vec![(s(1), auth(&[E])), (s(2), auth(&[E]))],
                Ok(visible(&[1, 2])),
            ),
            (
                "duplicates count once",
                vec![(s(1), auth(&[E, E]))],
                Ok(visible(&[1])),
            ),
            (
                "one silent, one expected",
                vec![(s(1), timeout()), (s(2), auth(&[E]))],
                Ok(visible(&[2])),
            ),
            (
                "one lame, one expected",
                vec![(s(1), Ok(Answer::Refused)), (s(2), auth(&[E]))],
                Ok(visible(&[2])),
            ),
            (
                "nodata everywhere",
                vec![(s(1), nodata()), (s(2), Ok(Answer::NxDomain { soa: None }))],
                Ok(Verdict::NotYet {
                    servers: vec![s(1), s(2)],
                }),
            ),
            (
                "another address everywhere",
                vec![(s(1), other()), (s(2), other())],
                Ok(Verdict::Differs {
                    addr: "198.51.100.7".parse().unwrap(),
                    servers: vec![s(1), s(2)],
                }),
            ),
            (
                "another address, one silent",
                vec![(s(1), other()), (s(2), timeout())],
                Ok(Verdict::Differs {
                    addr: "198.51.100.7".parse().unwrap(),
                    servers: vec![s(1)],
                }),
            ),
            ("no servers", vec![], Err("no servers to ask")),
            (
                "all silent",
                vec![(s(1), timeout()), (s(2), timeout())],
                Err(
                    "no server answered authoritatively: 127.0.0.1:53: no answer within 2s over UDP",
                ),
            ),
            (
                "not authoritative",
                vec![(s(1), Ok(Answer::NotAuthoritative { referral: vec![] }))],
                Err("no server answered authoritatively: 127.0.0.1:53 is not authoritative"),
            ),
            (
                "refused, servfail, malformed",
                vec![
                    (s(1), Ok(Answer::Refused)),
                    (s(2), Ok(Answer::ServFail)),
                    (s(3), Ok(Answer::Malformed("x".into()))),
                    (s(4), Ok(Answer::Mismatch("y".into()))),
                    (s(5), Ok(Answer::Truncated)),
                ],
                Err("no server answered authoritatively"),
            ),
            (
                "old and new",
                vec![(s(1), auth(&[E])), (s(2), other())],
                Err(
                    "the servers disagree: 127.0.0.1:53 answers 192.0.2.1 (TTL 60); 127.0.0.2:53 answers 198.51.100.7",
                ),
            ),
            (
                "new and none",
                vec![(s(1), auth(&[E])), (s(2), nodata())],
                Err("the servers disagree"),
            ),
            (
                "several addresses",
                vec![(s(1), auth(&[E, "192.0.2.2"]))],
                Err("this name has 2"),
            ),
            (
                "several addresses beside a good one",
                vec![(s(1), auth(&[E])), (s(2), auth(&[E, "192.0.2.2"]))],
                Err("this name has 2"),
            ),
            (
                "a cname",
                vec![
                    (s(1), auth(&[E])),
                    (s(2), Ok(Answer::Cname("x.example.net".into()))),
                ],
                Err("127.0.0.2:53 answers that the name is an alias"),
            ),
            (
                "the wrong family",
                vec![(s(1), auth(&["2001:db8::1"]))],
                Err("not of the family of 192.0.2.1"),
            ),
        ];
        for (what, results, want) in table {
            let got = verdict(E.parse().unwrap(), &results);
            match (want, &got) {
                (Ok(v), _) => assert_eq!(got, v, "{what}"),
                (Err(needle), Verdict::Unknown(why)) => {
                    assert!(why.contains(needle), "{what}: {why}")
                }
                (Err(_), _) => panic!("{what}: {got:?}"),
            }
        }
    }

    #[test]
    fn verdict_text() {
        assert_eq!(
            visible(&[1, 2]).to_string(),
            "visible at 127.0.0.1:53, 127.0.0.2:53"
        );
        let d = Verdict::Differs {
            addr: "198.51.100.7".parse().unwrap(),
            servers: vec![s(1)],
        };
        assert_eq!(d.to_string(), "127.0.0.1:53 answer 198.51.100.7 instead");
        assert!(
            Verdict::NotYet {
                servers: vec![s(1)]
            }
            .to_string()
            .starts_with("not visible yet")
        );
        assert_eq!(Verdict::Unknown("x".into()).to_string(), "unknown: x");
    }
}
