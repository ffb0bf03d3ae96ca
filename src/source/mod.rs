//! The real sources outside the kernel, behind `driver::Outside`: the default gateway
//! (`crate::gateway`: PCP, UPnP IGD, NAT-PMP; the protocol that answered last asked
//! first, remembered across restarts in `answered`), its announcements (`listen`) and
//! the configured web echo services (`web`).
//!
//! The facade of the optional parts: without the `gateway` feature the gateway and web
//! questions are answered with an error and nothing listens; without `verify` a DNS
//! check is `Unknown` (`absent`). `check` refuses configs that would ask them.

#[cfg(not(all(feature = "gateway", feature = "verify")))]
mod absent;
#[cfg(feature = "gateway")]
pub mod answered;
#[cfg(feature = "gateway")]
pub mod listen;
#[cfg(feature = "gateway")]
pub mod web;

use std::future::Future;
use std::io;
use std::net::IpAddr;
#[cfg(feature = "gateway")]
use std::{cell::RefCell, collections::HashMap, rc::Rc};

#[cfg(feature = "gateway")]
use reqwest::Url;
#[cfg(feature = "gateway")]
use tracing::warn;

use crate::config::Config;
use crate::driver::Outside;
use crate::engine::{Checked, Found, Query};
#[cfg(feature = "gateway")]
use crate::gateway::{self, GatewayError};
use crate::model::Family;
#[cfg(feature = "verify")]
use crate::verify::Verifier;
#[cfg(not(feature = "verify"))]
use absent::Verifier;
#[cfg(not(feature = "gateway"))]
pub use absent::{GatewayListener, Gateways};
#[cfg(feature = "gateway")]
pub use answered::Answered;
#[cfg(feature = "gateway")]
pub use listen::{GatewayListener, Gateways};

/// The gateway and the echo services, as the config names them.
pub struct Sources {
    #[cfg(feature = "gateway")]
    gw: Outer,
    /// The gateways asked, for the announcement listener's filter.
    gateways: Gateways,
    dns: Verifier,
}

/// The gateway and web halves.
#[cfg(feature = "gateway")]
struct Outer {
    web: Option<web::Web>,
    urls: Rc<Vec<Url>>,
    /// The protocol each gateway answered last (kept in the state directory).
    answered: Rc<RefCell<Answered>>,
    /// What each echo URL said last time it failed: said once, not at every check.
    failed: Rc<RefCell<HashMap<(Url, Family), String>>>,
}

impl Sources {
    pub fn new(config: &Config) -> Result<Sources, String> {
        let mut s = Sources {
            #[cfg(feature = "gateway")]
            gw: Outer {
                web: None,
                urls: Rc::new(Vec::new()),
                answered: Rc::new(RefCell::new(Answered::load(&config.state_dir))),
                failed: Rc::new(RefCell::new(HashMap::new())),
            },
            gateways: Gateways::default(),
            dns: Verifier::new(&config.verify),
        };
        s.reconfigure(config)?;
        Ok(s)
    }

    /// Writes nothing to the state directory (a dry run, `verify`).
    pub fn in_memory(self) -> Sources {
        #[cfg(feature = "gateway")]
        self.gw.answered.borrow_mut().in_memory();
        self
    }
}

impl Outside for Sources {
    type Listen = GatewayListener;

    #[cfg(not(feature = "gateway"))]
    fn find(&self, q: &Query) -> impl Future<Output = Result<Found, String>> + 'static {
        std::future::ready(Err(absent::find(q)))
    }

    #[cfg(feature = "gateway")]
    fn find(&self, q: &Query) -> impl Future<Output = Result<Found, String>> + 'static {
        let q = q.clone();
        let web = self.gw.web.clone();
        let urls = self.gw.urls.clone();
        let answered = self.gw.answered.clone();
        let gateways = self.gateways.clone();
        let failed = self.gw.failed.clone();
        async move {
            match q {
                Query::Gateway {
                    gateway, client, ..
                } => {
                    gateways.asked(gateway);
                    let known = answered.borrow().get(gateway);
                    let got = gateway::external_preferring(gateway, client, known).await;
                    let (protocol, addr) = match got {
                        Ok(found) => found,
                        Err(e @ GatewayError::Suspect { .. }) => {
                            if answered.borrow_mut().suspect_first(gateway) {
                                warn!(%gateway, "{e}; said once");
                            }
                            return Err(e.to_string());
                        }
                        Err(e) => return Err(e.to_string()),
                    };
                    answered.borrow_mut().set(gateway, protocol);
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
        if links.is_empty() {
            return Err(io::Error::other("no link to listen on"));
        }
        Ok(GatewayListener::new(links.to_vec(), self.gateways.clone()))
    }

    fn reconfigure(&mut self, config: &Config) -> Result<(), String> {
        #[cfg(feature = "gateway")]
        {
            let uses_web = config
                .records
                .iter()
                .any(|r| r.uses(crate::model::Source::Web));
            self.gw.web = if uses_web {
                Some(web::Web::new(config.provider.ca_pem.as_deref())?)
            } else {
                None
            };
            self.gw.urls = Rc::new(config.web.urls.clone());
        }
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
