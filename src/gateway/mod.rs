//! The upstream gateway as an address source, for a host behind another router: ask it
//! for its public IPv4 address with NAT-PMP (RFC 6886), PCP (RFC 6887) or UPnP IGD, and
//! hear its change announcements.
//!
//! Pure codecs (no I/O): [`natpmp`], [`pcp`], [`ssdp`], [`igd`] (with the small XML
//! reader in [`xml`]). Thin async edges over tokio: [`client`] (one query per protocol,
//! each bounded in time and size) and [`announce`] (the 224.0.0.1:5350 listener).
//! Every failure is one [`GatewayError`], whose `Display` is one log line.
//!
//! For the wiring, as measured against miniupnpd 2.3.1 (tests/gateway.rs):
//! - [`external`] asks PCP, UPnP IGD, then NAT-PMP (proof first: [`client::order`]);
//!   it takes 1 to 2 ms when the first answers, 3.75 s more per protocol
//!   that stays silent before it, 9.5 s when the gateway is gone (bound:
//!   [`client::external_bound`]). Remember the protocol that answered and ask it first.
//! - An address change is announced with one NAT-PMP packet (to 5350 and 5351) and
//!   one PCP ANNOUNCE (5350), 5 to 50 ms after the change; a start with a PCP
//!   ANNOUNCE only. One datagram, no repeats: keep the safety query.
//! - Announced addresses are hints: re-query (PCP's carries none) and judge the answer.

pub mod announce;
pub mod client;
pub mod igd;
pub mod natpmp;
pub mod pcp;
pub mod sock;
pub mod ssdp;
pub mod xml;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use crate::policy::{self, Skip};

pub use announce::{Announced, Announcement, Listener, Membership, accept};
pub use client::{external, external_preferring, natpmp_external, pcp_external, upnp_external};

/// The protocol a gateway answered (or failed) with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    NatPmp,
    Pcp,
    Upnp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::NatPmp => "NAT-PMP",
            Protocol::Pcp => "PCP",
            Protocol::Upnp => "UPnP IGD",
        })
    }
}

/// Why the gateway gave no usable public address. Closed: the wiring matches on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GatewayError {
    /// Nothing usable came back within the bound (silent, down, or port closed).
    NoAnswer { protocol: Protocol, detail: String },
    /// The gateway answered that it does not offer this (version, opcode, action, service).
    Unsupported { protocol: Protocol, detail: String },
    /// The gateway answered with a failure code (other than "no public address").
    ResultCode {
        protocol: Protocol,
        code: u16,
        meaning: &'static str,
    },
    /// The gateway has no public address itself (NAT-PMP result 3, PCP NETWORK_FAILURE,
    /// an empty or 0.0.0.0 `NewExternalIPAddress`).
    NoPublicAddress {
        protocol: Protocol,
        detail: &'static str,
    },
    /// The gateway reported an address that cannot be published (private, CGNAT, ...).
    NotPublic {
        protocol: Protocol,
        addr: Ipv4Addr,
        reason: Skip,
    },
    /// The answer does not follow the protocol: short, long, wrong version, oversized, ...
    Malformed { protocol: Protocol, detail: String },
    /// The answer came from, or points to, another host than the gateway.
    WrongSource { protocol: Protocol, detail: String },
    /// A local failure before anything reached the gateway (socket, route, randomness).
    Local { protocol: Protocol, detail: String },
    /// NAT-PMP answered for a gateway known to answer `known` (which failed this time,
    /// as `before` says): NAT-PMP carries no proof of origin, so the answer may be a
    /// LAN host's forgery and is not taken.
    Suspect {
        known: Protocol,
        addr: Ipv4Addr,
        before: Vec<GatewayError>,
    },
    /// Every protocol failed: what each did (timed out, refused...), in the order
    /// asked, and the time it all took.
    AllFailed {
        errors: Vec<GatewayError>,
        took_ms: u64,
    },
}

impl GatewayError {
    pub fn protocol(&self) -> Protocol {
        match self {
            GatewayError::NoAnswer { protocol, .. }
            | GatewayError::Unsupported { protocol, .. }
            | GatewayError::ResultCode { protocol, .. }
            | GatewayError::NoPublicAddress { protocol, .. }
            | GatewayError::NotPublic { protocol, .. }
            | GatewayError::Malformed { protocol, .. }
            | GatewayError::WrongSource { protocol, .. }
            | GatewayError::Local { protocol, .. } => *protocol,
            GatewayError::AllFailed { errors, .. } => errors
                .first()
                .map_or(Protocol::NatPmp, GatewayError::protocol),
            GatewayError::Suspect { .. } => Protocol::NatPmp,
        }
    }

    /// True when the error describes the upstream itself (no public address, or one
    /// behind CGNAT): another protocol asks the same box and would say the same.
    pub fn is_about_upstream(&self) -> bool {
        matches!(
            self,
            GatewayError::NoPublicAddress { .. } | GatewayError::NotPublic { .. }
        )
    }

    /// How much an error tells an operator, to pick one when every protocol failed.
    fn weight(&self) -> u8 {
        match self {
            GatewayError::NoPublicAddress { .. } | GatewayError::NotPublic { .. } => 7,
            GatewayError::ResultCode { .. } => 6,
            GatewayError::Unsupported { .. } => 5,
            GatewayError::Malformed { .. } => 4,
            GatewayError::WrongSource { .. } => 3,
            GatewayError::Local { .. } => 2,
            GatewayError::NoAnswer { .. } => 1,
            GatewayError::AllFailed { errors, .. } => {
                errors.iter().map(GatewayError::weight).max().unwrap_or(0)
            }
            GatewayError::Suspect { .. } => 8,
        }
    }
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GatewayError::NoAnswer { protocol, detail } => {
                write!(f, "{protocol}: no answer from the gateway ({detail})")
            }
            GatewayError::Unsupported { protocol, detail } => {
                write!(f, "{protocol}: the gateway does not offer it ({detail})")
            }
            GatewayError::ResultCode {
                protocol,
                code,
                meaning,
            } => write!(
                f,
                "{protocol}: the gateway refused the request with result code {code} ({meaning})"
            ),
            GatewayError::NoPublicAddress { protocol, detail } => write!(
                f,
                "{protocol}: the gateway has no public address ({detail}): its Internet \
                 connection is down, or it is not the router that connects to the Internet"
            ),
            GatewayError::NotPublic {
                protocol,
                addr,
                reason,
            } => match reason {
                Skip::Private | Skip::SharedCgnat => write!(
                    f,
                    "{protocol}: the gateway's public address is {addr}, which is {reason}: \
                     the upstream is behind CGNAT; use IPv6 or the web source"
                ),
                _ => write!(
                    f,
                    "{protocol}: the gateway reports {addr} as its public address, which is \
                     {reason}; nothing is published from it"
                ),
            },
            GatewayError::Malformed { protocol, detail } => {
                write!(f, "{protocol}: malformed answer from the gateway: {detail}")
            }
            GatewayError::WrongSource { protocol, detail } => {
                write!(
                    f,
                    "{protocol}: {detail}; only the gateway itself is trusted"
                )
            }
            GatewayError::Local { protocol, detail } => {
                write!(f, "{protocol}: cannot ask the gateway: {detail}")
            }
            GatewayError::Suspect {
                known,
                addr,
                before,
            } => {
                write!(
                    f,
                    "NAT-PMP: an answer of {addr} is not taken: this gateway answers {known}, \
                     and a NAT-PMP answer carries no proof that it comes from the gateway (any \
                     LAN host can forge one)"
                )?;
                for e in before {
                    write!(f, "; {e}")?;
                }
                Ok(())
            }
            GatewayError::AllFailed { errors, took_ms } => {
                for e in errors {
                    write!(f, "{e}; ")?;
                }
                write!(f, "{:.1} s in all", *took_ms as f64 / 1000.0)
            }
        }
    }
}

impl std::error::Error for GatewayError {}

/// Judges an address the gateway reported as its public one: 0.0.0.0 means it has none,
/// and what [`policy::classify`] refuses (private, CGNAT, reserved...) is not published.
pub fn judge_reported(protocol: Protocol, addr: Ipv4Addr) -> Result<Ipv4Addr, GatewayError> {
    if addr.is_unspecified() {
        return Err(GatewayError::NoPublicAddress {
            protocol,
            detail: "it reports 0.0.0.0",
        });
    }
    match policy::classify(&IpAddr::V4(addr)) {
        Ok(()) => Ok(addr),
        Err(reason) => Err(GatewayError::NotPublic {
            protocol,
            addr,
            reason,
        }),
    }
}

/// Picks the error to report when every protocol failed: the most informative one,
/// the earliest among equals.
pub fn most_telling(errors: Vec<GatewayError>) -> Option<GatewayError> {
    let mut best: Option<GatewayError> = None;
    for e in errors {
        if best.as_ref().is_none_or(|b| e.weight() > b.weight()) {
            best = Some(e);
        }
    }
    best
}

/// Text from the network made safe for one log line: printable ASCII only, at most
/// `max` characters, the rest cut with an ellipsis.
pub(crate) fn sanitize(raw: &str, max: usize) -> String {
    let mut out = String::new();
    for (i, c) in raw.chars().enumerate() {
        if i == max {
            out.push_str("...");
            break;
        }
        out.push(if c == ' ' || c.is_ascii_graphic() {
            c
        } else {
            '?'
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn reported_addresses_are_judged() {
        let p = Protocol::NatPmp;
        let table: &[(&str, Result<(), &str>)] = &[
            ("203.0.113.7", Ok(())),
            ("81.2.69.160", Ok(())),
            ("0.0.0.0", Err("no public address")),
            ("100.64.1.2", Err("behind CGNAT")),
            ("10.1.2.3", Err("behind CGNAT")),
            ("192.168.1.1", Err("behind CGNAT")),
            ("127.0.0.1", Err("loopback; nothing is published")),
            ("224.0.0.1", Err("multicast; nothing is published")),
            ("255.255.255.255", Err("reserved")),
        ];
        for (addr, want) in table {
            let got = judge_reported(p, v4(addr));
            match (want, got) {
                (Ok(()), Ok(a)) => assert_eq!(a, v4(addr)),
                (Err(needle), Err(e)) => {
                    assert!(e.is_about_upstream(), "{addr}: {e}");
                    assert!(e.to_string().contains(needle), "{addr}: {e}");
                }
                (want, got) => panic!("{addr}: want {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn cgnat_text_tells_what_to_do() {
        let e = judge_reported(Protocol::Pcp, v4("100.64.1.2")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "PCP: the gateway's public address is 100.64.1.2, which is carrier-grade NAT \
             (100.64.0.0/10): the upstream is behind CGNAT; use IPv6 or the web source"
        );
    }

    #[test]
    fn the_most_telling_error_wins() {
        let no = |p| GatewayError::NoAnswer {
            protocol: p,
            detail: "nothing within 3750 ms".into(),
        };
        let bad = GatewayError::Malformed {
            protocol: Protocol::Upnp,
            detail: "x".into(),
        };
        let refused = GatewayError::ResultCode {
            protocol: Protocol::Pcp,
            code: 8,
            meaning: "m",
        };
        assert_eq!(most_telling(vec![]), None);
        assert_eq!(
            most_telling(vec![no(Protocol::NatPmp), no(Protocol::Pcp)]),
            Some(no(Protocol::NatPmp))
        );
        assert_eq!(
            most_telling(vec![no(Protocol::NatPmp), bad.clone(), no(Protocol::Pcp)]),
            Some(bad.clone())
        );
        assert_eq!(
            most_telling(vec![bad, refused.clone(), no(Protocol::Upnp)]),
            Some(refused)
        );
    }

    #[test]
    fn network_text_is_sanitized() {
        assert_eq!(sanitize("Invalid Action", 40), "Invalid Action");
        assert_eq!(sanitize("a\nb\x1b[31mc", 40), "a?b?[31mc");
        assert_eq!(sanitize("abcdef", 3), "abc...");
        assert_eq!(sanitize("é", 3), "?");
    }

    #[test]
    fn every_error_names_its_protocol() {
        let all = [
            GatewayError::NoAnswer {
                protocol: Protocol::NatPmp,
                detail: "nothing within 3750 ms".into(),
            },
            GatewayError::Unsupported {
                protocol: Protocol::Pcp,
                detail: "x".into(),
            },
            GatewayError::ResultCode {
                protocol: Protocol::NatPmp,
                code: 2,
                meaning: "not authorized",
            },
            GatewayError::NoPublicAddress {
                protocol: Protocol::NatPmp,
                detail: "result 3",
            },
            GatewayError::Malformed {
                protocol: Protocol::Upnp,
                detail: "x".into(),
            },
            GatewayError::WrongSource {
                protocol: Protocol::Upnp,
                detail: "x".into(),
            },
            GatewayError::Local {
                protocol: Protocol::Pcp,
                detail: "x".into(),
            },
        ];
        for e in all {
            let text = e.to_string();
            assert!(text.starts_with(&e.protocol().to_string()), "{text}");
            assert!(!text.contains('\n'), "{text}");
        }
    }
}
