//! What one server said, as a closed set of outcomes, and its operator text.

use std::fmt;
use std::net::IpAddr;

/// The zone's SOA from a negative answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Soa {
    /// The zone apex (the SOA record's owner).
    pub zone: String,
    /// Rises with each change of the zone (each dynamic update, for BIND).
    pub serial: u32,
    /// How long a resolver may cache the negative answer: min(SOA TTL, SOA minimum).
    pub negative_ttl: u32,
}

/// What one server said for one A or AAAA question. Closed: every datagram or TCP
/// message ends as exactly one of these. `Display` is operator text meant to follow the
/// server's address: `format!("{server} {answer}")`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// AA set, addresses of the asked family at the name itself, with their TTLs.
    Authoritative {
        addrs: Vec<(IpAddr, u32)>,
    },
    /// AA set, the name exists but has no record of this type.
    NoData {
        soa: Option<Soa>,
    },
    /// AA set, the name does not exist.
    NxDomain {
        soa: Option<Soa>,
    },
    /// AA clear: a referral, a cached or forwarded answer, a lame server. `referral` has
    /// the NS names of the authority section, if any.
    NotAuthoritative {
        referral: Vec<String>,
    },
    Refused,
    ServFail,
    /// TC set where no retry over TCP is possible (or over TCP itself).
    Truncated,
    /// The name is an alias. Not followed: dynhost updates the name itself.
    Cname(String),
    /// Any other RCODE (FORMERR, NOTIMP, ...), by its mnemonic.
    Rcode(String),
    /// The answer could not be read: what was wrong.
    Malformed(String),
    /// The answer does not belong to the query (ID, question, flags): what differed.
    Mismatch(String),
}

impl Answer {
    /// True for the answers that speak for the zone: addresses, NODATA, NXDOMAIN.
    pub fn is_authoritative(&self) -> bool {
        matches!(
            self,
            Answer::Authoritative { .. } | Answer::NoData { .. } | Answer::NxDomain { .. }
        )
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Authoritative { addrs } => {
                f.write_str("answers ")?;
                for (i, (addr, ttl)) in addrs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{addr} (TTL {ttl})")?;
                }
                Ok(())
            }
            Answer::NoData { soa } => {
                f.write_str("answers that the name has no record of this type (NODATA")?;
                fmt_soa(f, soa)?;
                f.write_str(")")
            }
            Answer::NxDomain { soa } => {
                f.write_str("answers that the name does not exist (NXDOMAIN")?;
                fmt_soa(f, soa)?;
                f.write_str(")")
            }
            Answer::NotAuthoritative { referral } => {
                f.write_str("is not authoritative for the name (AA flag clear")?;
                if !referral.is_empty() {
                    write!(f, "; it refers to {}", referral.join(", "))?;
                }
                f.write_str("): ask the zone's own servers (check verify.servers or the delegation)")
            }
            Answer::Refused => f.write_str(
                "refused the query: it does not serve this zone (a lame delegation, or the wrong server in verify.servers)",
            ),
            Answer::ServFail => f.write_str(
                "answered SERVFAIL: it could not serve the zone (not loaded, or broken on its side)",
            ),
            Answer::Truncated => f.write_str("sent a truncated answer (TC) that could not be retried over TCP"),
            Answer::Cname(target) => write!(
                f,
                "answers that the name is an alias (CNAME) for {target}: dynhost does not follow it; a DynHost record must be the name itself"
            ),
            Answer::Rcode(rcode) => write!(f, "answered with error {rcode}"),
            Answer::Malformed(why) => write!(f, "sent an answer that cannot be read: {why}"),
            Answer::Mismatch(why) => write!(f, "sent an answer that does not match the query: {why}"),
        }
    }
}

fn fmt_soa(f: &mut fmt::Formatter<'_>, soa: &Option<Soa>) -> fmt::Result {
    match soa {
        Some(s) => write!(f, ", zone {} serial {}", s.zone, s.serial),
        None => Ok(()),
    }
}
