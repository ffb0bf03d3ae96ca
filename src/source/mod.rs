//! The real sources outside the kernel, behind `driver::Outside`: the default gateway
//! (`crate::gateway`: NAT-PMP, PCP, UPnP IGD, the protocol that answered last asked
//! first) and the configured web echo services (`web`).

pub mod web;

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;

use reqwest::Url;
use tracing::warn;

use crate::config::Config;
use crate::driver::{Announcements, Outside};
use crate::engine::{Checked, Found, Query};
use crate::gateway::{self, Listener, Membership, Protocol};
use crate::model::Family;
use crate::verify::Verifier;

/// The gateway and the echo services, as the config names them.
pub struct Sources {
    web: Option<web::Web>,
    urls: Rc<Vec<Url>>,
    /// The protocol each gateway answered last.
    answered: Rc<RefCell<HashMap<Ipv4Addr, Protocol>>>,
    /// What each echo URL said last time it failed: said once, not at every check.
    failed: Rc<RefCell<HashMap<(Url, Family), String>>>,
    dns: Verifier,
}

impl Sources {
    pub fn new(config: &Config) -> Result<Sources, String> {
        let mut s = Sources {
            web: None,
            urls: Rc::new(Vec::new()),
            answered: Rc::new(RefCell::new(HashMap::new())),
            failed: Rc::new(RefCell::new(HashMap::new())),
            dns: Verifier::new(&config.verify),
        };
        s.reconfigure(config)?;
        Ok(s)
    }
}

impl Outside for Sources {
    type Listen = GatewayListener;

    fn find(&self, q: &Query) -> impl Future<Output = Result<Found, String>> + 'static {
        let q = q.clone();
        let web = self.web.clone();
        let urls = self.urls.clone();
        let answered = self.answered.clone();
        let failed = self.failed.clone();
        async move {
            match q {
                Query::Gateway {
                    gateway, client, ..
                } => {
                    let first = answered.borrow().get(&gateway).copied();
                    let (protocol, addr) = gateway::external_preferring(gateway, client, first)
                        .await
                        .map_err(|e| e.to_string())?;
                    answered.borrow_mut().insert(gateway, protocol);
                    Ok(Found {
                        addr: IpAddr::V4(addr),
                        via: protocol.to_string(),
                    })
                }
                Query::Web { family } => {
                    let web = web.ok_or("no echo service is configured ([web] urls)")?;
                    let (got, errors) = web.ask(&urls, family).await;
                    let mut failed = failed.borrow_mut();
                    for (url, e) in &errors {
                        let key = (url.clone(), family);
                        if failed.get(&key) != Some(e) {
                            warn!(url = %url, %family, "echo service: {e}; nothing is taken \
                                                        from it, the next one is asked");
                            failed.insert(key, e.clone());
                        }
                    }
                    match got {
                        Some((addr, url)) => {
                            failed.remove(&(url.clone(), family));
                            Ok(Found {
                                addr,
                                via: url.to_string(),
                            })
                        }
                        None => Err(errors
                            .iter()
                            .map(|(u, e)| format!("{u}: {e}"))
                            .collect::<Vec<_>>()
                            .join("; ")),
                    }
                }
            }
        }
    }

    fn listen(&mut self, links: &[u32]) -> io::Result<GatewayListener> {
        let (first, rest) = links
            .split_first()
            .ok_or_else(|| io::Error::other("no link to listen on"))?;
        let l = Listener::bind(Membership::Index(*first))?;
        for link in rest {
            l.join(Membership::Index(*link))?;
        }
        Ok(GatewayListener(l))
    }

    fn reconfigure(&mut self, config: &Config) -> Result<(), String> {
        let uses_web = config
            .records
            .iter()
            .any(|r| r.uses(crate::model::Source::Web));
        self.web = if uses_web {
            Some(web::Web::new(config.provider.ca_pem.as_deref())?)
        } else {
            None
        };
        self.urls = Rc::new(config.web.urls.clone());
        self.dns = Verifier::new(&config.verify);
        Ok(())
    }

    fn verify(
        &self,
        hostname: &str,
        family: Family,
        expected: IpAddr,
    ) -> impl Future<Output = Checked> + 'static {
        self.dns.check(hostname, family, expected)
    }
}

/// Announcements on 224.0.0.1:5350.
pub struct GatewayListener(Listener);

impl Announcements for GatewayListener {
    async fn next(&mut self) -> Ipv4Addr {
        loop {
            let a = self.0.next().await;
            if let std::net::SocketAddr::V4(v4) = a.src {
                return *v4.ip();
            }
        }
    }
}
