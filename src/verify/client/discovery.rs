//! Finding a zone's authoritative servers through a resolver: the NS records of the
//! name or its nearest parent, then their addresses. Every step bounded in time.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use domain::base::iana::OptRcode;
use domain::base::name::ToName;

use super::{Budget, exchange, join_all, random_id};
use crate::verify::message::{BadName, EDNS_UDP_SIZE, Qtype, Query};
use crate::verify::servers::DNS_PORT;
use crate::verify::sort_dedup;

/// Discovery keeps at most this many NS names of a zone...
pub const MAX_NS_NAMES: usize = 4;
/// ... and at most this many addresses of each family per name.
pub const MAX_ADDRS_PER_FAMILY: usize = 2;
/// Discovery asks about at most this many names while walking up the labels.
pub const MAX_WALK: usize = 10;
/// CNAME links followed inside one resolver answer when resolving a server's name.
const MAX_CHAIN: usize = 8;

/// Why the zone's servers could not be found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiscoverError {
    BadName(BadName),
    /// The resolver gave no usable answer to `question`.
    Resolver {
        resolver: SocketAddr,
        question: String,
        problem: String,
    },
    /// Walking up the labels found no zone cut.
    NoZone {
        name: String,
    },
    /// The zone's NS names resolve to no address.
    NoAddresses {
        zone: String,
        ns: Vec<String>,
        problem: String,
    },
}

impl fmt::Display for DiscoverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiscoverError::BadName(e) => e.fmt(f),
            DiscoverError::Resolver {
                resolver,
                question,
                problem,
            } => write!(
                f,
                "the resolver {resolver} gave no usable answer for {question}: {problem}; \
                 check verify.resolver (or /etc/resolv.conf), or list the zone's servers in verify.servers"
            ),
            DiscoverError::NoZone { name } => write!(
                f,
                "no zone found for {name}: the resolver knows no NS records for it or any parent; \
                 check the hostname, or list the zone's servers in verify.servers"
            ),
            DiscoverError::NoAddresses { zone, ns, problem } => write!(
                f,
                "zone {zone}: its servers {} resolve to no address ({problem}); list them in verify.servers",
                ns.join(", ")
            ),
        }
    }
}

impl std::error::Error for DiscoverError {}

/// A zone's authoritative servers, as found through a resolver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discovery {
    /// The zone apex.
    pub zone: String,
    /// Each NS name with one of its addresses (port 53), NS names sorted, IPv4 first.
    pub servers: Vec<(String, SocketAddr)>,
    /// NS names that gave no address, with the reason.
    pub unresolved: Vec<String>,
}

/// Finds the authoritative servers of the zone holding `name`: asks `resolver` (RD=1)
/// for the NS records of `name`, then of each parent, until a zone cut answers (the SOA
/// of a negative answer skips straight to the zone), then resolves each NS name (A and
/// AAAA, all at once). Each question is bounded by `timeout`; there are at most
/// [`MAX_WALK`] of them in a row, then one concurrent round.
pub async fn discover(
    resolver: SocketAddr,
    name: &str,
    timeout: Duration,
) -> Result<Discovery, DiscoverError> {
    let (zone, ns) = find_zone(resolver, name, timeout).await?;
    let mut ns: Vec<String> = ns
        .iter()
        .map(|n| n.to_string().to_ascii_lowercase())
        .collect();
    sort_dedup(&mut ns);
    ns.truncate(MAX_NS_NAMES);
    let lookups = ns.iter().map(|n| lookup_addrs(resolver, n, timeout));
    let results = join_all(lookups.collect()).await;
    let mut servers = Vec::new();
    let mut unresolved = Vec::new();
    for (n, result) in ns.iter().zip(results) {
        match result {
            Ok(addrs) if !addrs.is_empty() => servers.extend(
                addrs
                    .into_iter()
                    .map(|a| (n.clone(), SocketAddr::new(a, DNS_PORT))),
            ),
            Ok(_) => unresolved.push(format!("{n}: no A or AAAA record")),
            Err(e) => unresolved.push(format!("{n}: {e}")),
        }
    }
    if servers.is_empty() {
        return Err(DiscoverError::NoAddresses {
            zone,
            ns,
            problem: unresolved.join("; "),
        });
    }
    Ok(Discovery {
        zone,
        servers,
        unresolved,
    })
}

type WireName = domain::base::name::Name<Vec<u8>>;

async fn find_zone(
    resolver: SocketAddr,
    name: &str,
    timeout: Duration,
) -> Result<(String, Vec<WireName>), DiscoverError> {
    let first = Query::new(0, name, Qtype::Ns, true, Some(EDNS_UDP_SIZE))
        .map_err(DiscoverError::BadName)?;
    let mut candidate: WireName = first.wire_name().clone();
    for _ in 0..MAX_WALK {
        if candidate.is_root() {
            break;
        }
        let q = first.rename(random_id(), &candidate);
        let question = format!("{candidate} NS");
        let fail = |problem: String| DiscoverError::Resolver {
            resolver,
            question: question.clone(),
            problem,
        };
        let reply = exchange(resolver, &q, Budget::new(timeout))
            .await
            .map_err(|e| fail(e.to_string()))?
            .map_err(|answer| fail(answer.to_string()))?;
        if reply.tc {
            return Err(fail("the answer was truncated, over TCP too".into()));
        }
        if reply.rcode != OptRcode::NOERROR && reply.rcode != OptRcode::NXDOMAIN {
            return Err(fail(format!("it answered {}", reply.rcode)));
        }
        if reply.rcode == OptRcode::NOERROR {
            let ns = reply.ns_at(&candidate);
            if !ns.is_empty() {
                return Ok((candidate.to_string(), ns));
            }
        }
        // Not a zone apex. A negative answer's SOA names the zone: go there directly if
        // it is a proper ancestor, else one label up.
        let next = match reply.soa_owner() {
            Some(owner) if candidate.ends_with(owner) && !owner.name_eq(&candidate) => {
                owner.clone()
            }
            _ => match candidate.parent() {
                Some(p) => p.to_vec(),
                None => break,
            },
        };
        candidate = next;
    }
    Err(DiscoverError::NoZone { name: first.name() })
}

/// The addresses of `name` through `resolver` (RD=1): A and AAAA asked at once, at most
/// [`MAX_ADDRS_PER_FAMILY`] of each, IPv4 first. A CNAME chain inside the resolver's
/// answer is followed. Fails only if both questions fail.
pub async fn lookup_addrs(
    resolver: SocketAddr,
    name: &str,
    timeout: Duration,
) -> Result<Vec<IpAddr>, DiscoverError> {
    let budget = Budget::new(timeout);
    let ask_one = |qtype: Qtype| async move {
        let q = Query::new(random_id(), name, qtype, true, Some(EDNS_UDP_SIZE))
            .map_err(DiscoverError::BadName)?;
        let fail = |problem: String| DiscoverError::Resolver {
            resolver,
            question: format!("{} {qtype}", q.name()),
            problem,
        };
        let reply = exchange(resolver, &q, budget)
            .await
            .map_err(|e| fail(e.to_string()))?
            .map_err(|answer| fail(answer.to_string()))?;
        if reply.rcode != OptRcode::NOERROR && reply.rcode != OptRcode::NXDOMAIN {
            return Err(fail(format!("it answered {}", reply.rcode)));
        }
        let mut owner = q.wire_name().clone();
        for _ in 0..MAX_CHAIN {
            match reply.cname_at(&owner) {
                Some(target) => owner = target.clone(),
                None => break,
            }
        }
        let mut addrs: Vec<IpAddr> = reply
            .addrs_at(&owner, qtype)
            .into_iter()
            .map(|(a, _)| a)
            .collect();
        sort_dedup(&mut addrs);
        addrs.truncate(MAX_ADDRS_PER_FAMILY);
        Ok(addrs)
    };
    let (v4, v6) = futures::future::join(ask_one(Qtype::A), ask_one(Qtype::Aaaa)).await;
    match (v4, v6) {
        (Err(e), Err(_)) => Err(e),
        (v4, v6) => {
            let mut all = v4.unwrap_or_default();
            all.extend(v6.unwrap_or_default());
            Ok(all)
        }
    }
}
