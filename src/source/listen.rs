//! The gateway's announcements on 224.0.0.1:5350, kept heard:
//!
//! - the kernel drops every datagram that is not from a gateway we asked (a socket
//!   filter, [`crate::gateway::Listener::only_from`]), so another LAN host's flood
//!   neither wakes us nor crowds the gateway's own announcements out of the buffer;
//!   a burst is drained at once, each gateway's repeats one hint;
//! - a port another local user holds (no SO_REUSEPORT sharing across users) is said
//!   once, then the listener is retried with a doubling backoff, and at once when a
//!   new gateway is asked (a gateway change), until it binds.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::driver::Announcements;
use crate::gateway::{Listener, Membership};
use crate::once::Said;

/// The first retry of a listener that could not bind, then doubling up to [`MAX_RETRY`].
pub const FIRST_RETRY: Duration = Duration::from_secs(2);
pub const MAX_RETRY: Duration = Duration::from_secs(300);
/// At most this many gateways pass the filter (the most recently asked).
const MAX_GATEWAYS: usize = 8;
/// At most this many queued datagrams are read per wake-up.
const DRAIN: usize = 256;

/// The gateways asked, shared by the queries (which add) and the listener (which
/// filters on them); a new one wakes the listener.
#[derive(Clone, Default)]
pub struct Gateways {
    list: Rc<RefCell<Vec<Ipv4Addr>>>,
    changed: Rc<Notify>,
}

impl Gateways {
    /// `gateway` is being asked: let its announcements through.
    pub fn asked(&self, gateway: Ipv4Addr) {
        let mut list = self.list.borrow_mut();
        if list.last() == Some(&gateway) {
            return;
        }
        list.retain(|g| *g != gateway);
        list.push(gateway);
        if list.len() > MAX_GATEWAYS {
            list.remove(0);
        }
        self.changed.notify_one();
    }

    fn now(&self) -> Vec<Ipv4Addr> {
        self.list.borrow().clone()
    }
}

/// Announcements on the links records ask a gateway on.
pub struct GatewayListener {
    links: Vec<u32>,
    gateways: Gateways,
    sock: Option<Listener>,
    /// The gateways the filter lets through now.
    filtered: Option<Vec<Ipv4Addr>>,
    retry_at: Instant,
    backoff: Duration,
    /// The failure was said; the recovery is said too.
    said: Said<()>,
    pending: VecDeque<Ipv4Addr>,
}

impl GatewayListener {
    pub fn new(links: Vec<u32>, gateways: Gateways) -> GatewayListener {
        GatewayListener {
            links,
            gateways,
            sock: None,
            filtered: None,
            retry_at: Instant::now(),
            backoff: FIRST_RETRY,
            said: Said::new(),
            pending: VecDeque::new(),
        }
    }

    fn bind(&self) -> std::io::Result<Listener> {
        let (first, rest) = self
            .links
            .split_first()
            .ok_or_else(|| std::io::Error::other("no link to listen on"))?;
        let l = Listener::bind(Membership::Index(*first))?;
        for link in rest {
            l.join(Membership::Index(*link))?;
        }
        Ok(l)
    }

    /// Binds now if it is time; says the first failure and the recovery.
    fn try_bind(&mut self) {
        match self.bind() {
            Ok(l) => {
                if self.said.clear() {
                    info!("listening for the gateway's announcements now");
                } else {
                    debug!(links = ?self.links, "listening for gateway announcements");
                }
                self.backoff = FIRST_RETRY;
                self.filtered = None;
                self.sock = Some(l);
            }
            Err(e) => {
                if self.said.first(()) {
                    warn!(
                        error = %e,
                        "cannot listen for the gateway's announcements; retrying (from {} s, \
                         doubling, and at once when the gateway changes); meanwhile its \
                         address is asked at every change and by the safety-net check \
                         (gateway.check)",
                        FIRST_RETRY.as_secs()
                    );
                } else {
                    debug!(error = %e, "the announcement listener still cannot bind");
                }
                self.retry_at = Instant::now() + self.backoff;
                self.backoff = (self.backoff * 2).min(MAX_RETRY);
            }
        }
    }

    /// Lets the kernel pass only the gateways asked so far.
    fn filter(&mut self) {
        let now = self.gateways.now();
        if self.filtered.as_ref() == Some(&now) {
            return;
        }
        if let Some(sock) = &self.sock {
            match sock.only_from(&now) {
                Ok(()) => debug!(gateways = ?now, "announcements pass from these only"),
                // Without the filter the engine still checks each source.
                Err(e) => debug!("cannot filter announcements by source: {e}"),
            }
        }
        self.filtered = Some(now);
    }
}

fn v4(src: SocketAddr) -> Option<Ipv4Addr> {
    match src {
        SocketAddr::V4(a) => Some(*a.ip()),
        SocketAddr::V6(a) => a.ip().to_ipv4_mapped(),
    }
}

impl Announcements for GatewayListener {
    /// Cancel-safe: every state change happens between awaits.
    async fn next(&mut self) -> Ipv4Addr {
        loop {
            if let Some(from) = self.pending.pop_front() {
                return from;
            }
            if self.sock.is_none() {
                if Instant::now() >= self.retry_at {
                    self.try_bind();
                }
                if self.sock.is_none() {
                    tokio::select! {
                        () = tokio::time::sleep_until(self.retry_at) => {}
                        // A new gateway: retry at once.
                        () = self.gateways.changed.notified() => self.retry_at = Instant::now(),
                    }
                    continue;
                }
            }
            self.filter();
            let Some(sock) = self.sock.as_mut() else {
                continue;
            };
            tokio::select! {
                a = sock.next() => {
                    let mut from: Vec<Ipv4Addr> = v4(a.src).into_iter().collect();
                    for src in sock.drain(DRAIN).into_iter().filter_map(v4) {
                        if !from.contains(&src) {
                            from.push(src);
                        }
                    }
                    self.pending.extend(from);
                }
                () = self.gateways.changed.notified() => {}
            }
        }
    }
}
