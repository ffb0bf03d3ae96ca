//! The kernel edge: rtnetlink link and address notifications, and full dumps, over
//! netlink-sys sockets driven by tokio.
//!
//! Thin on purpose: bytes are decoded by `wire` (pure, unit-tested) and every
//! decision is the engine's. Notifications are hints; the dump is the truth.

pub mod wire;

use std::collections::VecDeque;
use std::io;

use netlink_sys::protocols::NETLINK_ROUTE;
use netlink_sys::{AsyncSocket, AsyncSocketExt, SocketAddr, TokioSocket};
use tracing::{debug, warn};

use crate::model::{Family, Interest, NetEvent, RouteInfo, Snapshot};
use crate::once::Said;
use wire::Message;

/// A bigger receive buffer than the default makes overruns rarer; the resync on
/// overrun is what makes them harmless.
pub const DEFAULT_RCVBUF: usize = 1 << 20;

/// Larger than any rtnetlink datagram (dumps are sent in pieces of at most 32 KiB).
const DATAGRAM_MAX: usize = 64 * 1024;

/// A socket subscribed to link notifications and to address notifications of the
/// families some record publishes.
pub struct Watcher {
    socket: TokioSocket,
    buf: Vec<u8>,
    pending: VecDeque<NetEvent>,
    /// A message from another sender than the kernel was reported.
    warned_sender: Said<()>,
}

impl Watcher {
    /// Subscribes to links and to the addresses of `families`: a family nobody
    /// publishes (IPv6 lifetimes refreshed by every router advertisement, say) does not
    /// even wake the process. Dump afterwards, so that no change can fall between.
    pub fn subscribe(rcvbuf: usize, interest: &Interest) -> io::Result<Watcher> {
        let mut socket = TokioSocket::new(NETLINK_ROUTE)?;
        let s = socket.socket_mut();
        s.bind(&SocketAddr::new(0, 0))?;
        s.add_membership(wire::RTNLGRP_LINK)?;
        if interest.routes {
            s.add_membership(wire::RTNLGRP_IPV4_ROUTE)?;
        }
        for family in &interest.families {
            s.add_membership(match family {
                Family::V4 => wire::RTNLGRP_IPV4_IFADDR,
                Family::V6 => wire::RTNLGRP_IPV6_IFADDR,
            })?;
        }
        s.set_rx_buf_sz(i32::try_from(rcvbuf).unwrap_or(i32::MAX))?;
        Ok(Watcher {
            socket,
            buf: Vec::with_capacity(DATAGRAM_MAX),
            pending: VecDeque::new(),
            warned_sender: Said::new(),
        })
    }

    /// The port id the kernel knows this socket by.
    pub fn port_id(&self) -> io::Result<u32> {
        let mut addr = SocketAddr::new(0, 0);
        self.socket.socket_ref().get_address(&mut addr)?;
        Ok(addr.port_number())
    }

    /// The next hint. `None` when the socket failed and must be reopened.
    ///
    /// Cancel-safe: the only await is the receive; a datagram once received is queued
    /// whole before anything is returned.
    pub async fn next(&mut self) -> Option<NetEvent> {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                return Some(ev);
            }
            self.buf.clear();
            match self.socket.recv_from(&mut self.buf).await {
                Ok(from) if from.port_number() == 0 => self.decode(),
                // Only the kernel speaks for the kernel: a process that learnt our
                // port id could otherwise feed us made-up events.
                Ok(from) => {
                    if self.warned_sender.first(()) {
                        warn!(
                            sender = from.port_number(),
                            "netlink: dropped a message that did not come from the kernel"
                        );
                    }
                }
                // The kernel dropped notifications for us: resync from a dump.
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    debug!("netlink overrun (ENOBUFS): notifications were lost, resyncing");
                    return Some(NetEvent::Resync);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    warn!(error = %e, "netlink receive failed");
                    return None;
                }
            }
        }
    }

    fn decode(&mut self) {
        let full = self.buf.len() >= DATAGRAM_MAX;
        self.pending.extend(wire::events(&self.buf, full));
    }
}

/// Reads every link and address, each from a fresh socket's dump; with `routes`, the
/// IPv4 default routes of the main table too (records behind NAT ask their gateway).
pub async fn dump_with(routes: bool) -> Result<Snapshot, String> {
    let mut snap = dump().await?;
    if routes {
        for m in request(wire::RTM_GETROUTE, wire::AF_INET).await? {
            if let Message::DefaultRoute { oif, gateway, .. } = m {
                snap.routes.push(RouteInfo {
                    index: oif,
                    gateway,
                });
            }
        }
    }
    Ok(snap)
}

/// Reads every link and address, each from a fresh socket's dump.
pub async fn dump() -> Result<Snapshot, String> {
    let mut snap = Snapshot::default();
    for m in request(wire::RTM_GETLINK, wire::AF_UNSPEC).await? {
        if let Message::Link { info, .. } = m {
            snap.links.push(info);
        }
    }
    for m in request(wire::RTM_GETADDR, wire::AF_UNSPEC).await? {
        if let Message::Addr {
            info: Some(info), ..
        } = m
        {
            snap.addrs.push(info);
        }
    }
    Ok(snap)
}

/// The interface of the default route (IPv4 first, then IPv6), for the embedded default.
pub async fn default_route_interface() -> Result<Option<String>, String> {
    let snap = dump().await?;
    for family in [wire::AF_INET, wire::AF_INET6] {
        for m in request(wire::RTM_GETROUTE, family).await? {
            if let Message::DefaultRoute { oif, .. } = m
                && let Some(l) = snap.links.iter().find(|l| l.index == oif)
            {
                return Ok(Some(l.name.clone()));
            }
        }
    }
    Ok(None)
}

/// The next dump's sequence number: distinct per process start and per dump.
fn next_seq() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let base = std::process::id().wrapping_mul(2_654_435_761);
    base.wrapping_add(SEQ.fetch_add(1, Ordering::Relaxed)) | 1
}

/// Sends one dump request and collects the answer until NLMSG_DONE. An interrupted
/// dump (the table changed under it) is taken again, up to a few times.
async fn request(kind: u16, family: u8) -> Result<Vec<Message>, String> {
    const ATTEMPTS: usize = 4;
    for _ in 0..ATTEMPTS {
        match request_once(kind, family).await? {
            Some(msgs) => return Ok(msgs),
            None => debug!(
                kind,
                "netlink dump interrupted by a change; taking it again"
            ),
        }
    }
    Err(format!("netlink dump {kind} kept being interrupted"))
}

async fn request_once(kind: u16, family: u8) -> Result<Option<Vec<Message>>, String> {
    let fail = |what: &str, e: io::Error| format!("netlink {what}: {e}");
    let mut socket = TokioSocket::new(NETLINK_ROUTE).map_err(|e| fail("socket", e))?;
    let ours = socket
        .socket_mut()
        .bind_auto()
        .map_err(|e| fail("bind", e))?
        .port_number();
    // A fresh sequence number per dump: an answer to anything else is not this one's.
    let seq = next_seq();
    let req = wire::dump_request(kind, family, seq);
    socket
        .send_to(&req, &SocketAddr::new(0, 0))
        .await
        .map_err(|e| fail("send", e))?;
    let mut out = Vec::new();
    let mut interrupted = false;
    let mut buf = Vec::with_capacity(DATAGRAM_MAX);
    loop {
        buf.clear();
        let from = socket
            .recv_from(&mut buf)
            .await
            .map_err(|e| fail("receive", e))?;
        if from.port_number() != 0 {
            debug!(
                sender = from.port_number(),
                "netlink dump: dropped a message not from the kernel"
            );
            continue;
        }
        for m in wire::messages(&buf) {
            let (h, p) = m.map_err(|e| e.to_string())?;
            if h.seq != seq || h.port != ours {
                continue;
            }
            interrupted |= h.flags & wire::NLM_F_DUMP_INTR != 0;
            match wire::parse(h, p).map_err(|e| e.to_string())? {
                Message::Done => return Ok((!interrupted).then_some(out)),
                Message::Error(errno) => {
                    return Err(fail("dump", io::Error::from_raw_os_error(errno)));
                }
                msg => out.push(msg),
            }
        }
    }
}
