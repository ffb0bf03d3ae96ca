//! A check as the daemon and `dynhost verify` make it: the configured authoritative
//! servers, or the zone's found through the resolver (kept an hour), asked at once, and
//! their answers reduced to the engine's [`Checked`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::{Answer, DnsError, Server, Verdict, check, describe, discover, lookup_addrs};
use crate::config;
use crate::engine::{Checked, Dns};
use crate::model::Family;

/// Each question gets this long.
pub const TIMEOUT: Duration = Duration::from_secs(3);
/// A zone's servers found by discovery are kept this long.
const KEEP: Duration = Duration::from_secs(3600);
const RESOLV_CONF: &str = "/etc/resolv.conf";

/// The servers of each name, as last found: (name server, address) pairs.
type Found = Rc<RefCell<HashMap<String, (Instant, Vec<(String, SocketAddr)>)>>>;

#[derive(Clone)]
pub struct Verifier {
    servers: Rc<Vec<String>>,
    resolver: Option<String>,
    found: Found,
}

/// Each server asked, with its answer, for `dynhost verify`.
pub type Answers = Vec<(String, SocketAddr, Result<Answer, DnsError>)>;

impl Verifier {
    pub fn new(verify: &config::Verify) -> Verifier {
        Verifier {
            servers: Rc::new(verify.servers.clone()),
            resolver: verify.resolver.clone(),
            found: Rc::new(RefCell::new(HashMap::new())),
        }
    }

    /// What the servers answer for `hostname`, judged against `expected`.
    pub fn check(
        &self,
        hostname: &str,
        family: Family,
        expected: IpAddr,
    ) -> impl Future<Output = Checked> + 'static {
        let me = self.clone();
        let hostname = hostname.to_string();
        async move {
            match me.ask(&hostname, family).await {
                Ok(answers) => judge(expected, &answers),
                Err(why) => Checked {
                    dns: Dns::Unknown,
                    server: why,
                },
            }
        }
    }

    /// Every server's answer for `hostname`, or why no server could be asked.
    pub async fn ask(&self, hostname: &str, family: Family) -> Result<Answers, String> {
        let servers = self.servers_of(hostname).await?;
        let addrs: Vec<SocketAddr> = servers.iter().map(|(_, a)| *a).collect();
        let results = check(&addrs, hostname, family, TIMEOUT).await;
        // Nobody answered: perhaps the zone moved; find its servers again next time.
        if results.iter().all(|(_, r)| r.is_err()) {
            self.found.borrow_mut().remove(hostname);
        }
        Ok(results
            .into_iter()
            .map(|(addr, r)| {
                let name = servers
                    .iter()
                    .find(|(_, a)| *a == addr)
                    .map_or_else(String::new, |(n, _)| n.clone());
                (name, addr, r)
            })
            .collect())
    }

    async fn servers_of(&self, hostname: &str) -> Result<Vec<(String, SocketAddr)>, String> {
        if !self.servers.is_empty() {
            return self.configured().await;
        }
        if let Some((at, servers)) = self.found.borrow().get(hostname)
            && at.elapsed() < KEEP
        {
            return Ok(servers.clone());
        }
        let resolver = self.resolver()?;
        let d = discover(resolver, hostname, TIMEOUT)
            .await
            .map_err(|e| format!("cannot find the authoritative servers of {hostname}: {e}"))?;
        if d.servers.is_empty() {
            return Err(format!(
                "no address for the servers of {} ({})",
                d.zone,
                d.unresolved.join("; ")
            ));
        }
        self.found
            .borrow_mut()
            .insert(hostname.to_string(), (Instant::now(), d.servers.clone()));
        Ok(d.servers)
    }

    async fn configured(&self) -> Result<Vec<(String, SocketAddr)>, String> {
        let mut out = Vec::new();
        for text in self.servers.iter() {
            match super::parse_server(text, super::servers::if_index)? {
                Server::Addr(a) => out.push((text.clone(), a)),
                Server::Host { name, port } => {
                    let addrs = lookup_addrs(self.resolver()?, &name, TIMEOUT)
                        .await
                        .map_err(|e| format!("verify.servers: {name}: {e}"))?;
                    out.extend(
                        addrs
                            .into_iter()
                            .map(|a| (name.clone(), SocketAddr::new(a, port))),
                    );
                }
            }
        }
        Ok(out)
    }

    fn resolver(&self) -> Result<SocketAddr, String> {
        match &self.resolver {
            Some(text) => match super::parse_server(text, super::servers::if_index)? {
                Server::Addr(a) => Ok(a),
                Server::Host { .. } => Err(format!(
                    "verify.resolver {text:?} must be an address: a name would need a \
                     resolver to find it"
                )),
            },
            None => super::read_resolv_conf(std::path::Path::new(RESOLV_CONF)),
        }
    }
}

/// The verdict, and one line naming who said what.
pub fn judge(expected: IpAddr, answers: &Answers) -> Checked {
    let results: Vec<(SocketAddr, Result<Answer, DnsError>)> =
        answers.iter().map(|(_, a, r)| (*a, r.clone())).collect();
    let named = |servers: &[SocketAddr]| -> String {
        servers
            .iter()
            .filter_map(|s| answers.iter().find(|(_, a, _)| a == s))
            .map(|(n, a, r)| {
                let d = describe(a, r);
                if n.is_empty() { d } else { format!("{n} {d}") }
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    match super::verdict(expected, &results) {
        Verdict::Visible { servers } => Checked {
            dns: Dns::Visible,
            server: named(&servers),
        },
        Verdict::NotYet { servers } => Checked {
            dns: Dns::Missing,
            server: named(&servers),
        },
        Verdict::Differs { addr, servers } => Checked {
            dns: Dns::Differs(addr),
            server: named(&servers),
        },
        Verdict::Unknown(why) => Checked {
            dns: Dns::Unknown,
            server: why,
        },
    }
}
