//! The kernel edge: rtnetlink link and address notifications, and full dumps.
//!
//! Thin on purpose: messages are converted to `model` types by the pure functions at
//! the bottom (unit-tested with constructed messages) and every decision is the
//! engine's. Notifications are hints; the dump is the truth.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use futures::channel::mpsc::UnboundedReceiver;
use futures::stream::{StreamExt, TryStreamExt};
use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
};
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use rtnetlink::packet_route::route::{RouteAttribute, RouteMessage};
use rtnetlink::sys::{AsyncSocket, SocketAddr};
use rtnetlink::{Handle, MulticastGroup, RouteMessageBuilder};
use tokio::task::JoinHandle;
use tracing::debug;

use crate::model::{AddrFlags, AddrInfo, LinkInfo, NetEvent, Scope, Snapshot};

/// A bigger receive buffer than the default makes overruns rarer; the resync on
/// overrun is what makes them harmless.
pub const DEFAULT_RCVBUF: usize = 1 << 20;

/// A subscribed rtnetlink socket.
pub struct Watcher {
    handle: Handle,
    messages: UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>,
    connection: JoinHandle<()>,
}

impl Watcher {
    /// Subscribes to link and IPv4/IPv6 address notifications. Dump afterwards, so that
    /// no change can fall between the dump and the subscription.
    pub fn subscribe(rcvbuf: usize) -> io::Result<Watcher> {
        let (mut conn, handle, messages) = rtnetlink::new_multicast_connection(&[
            MulticastGroup::Link,
            MulticastGroup::Ipv4Ifaddr,
            MulticastGroup::Ipv6Ifaddr,
        ])?;
        let size = i32::try_from(rcvbuf).unwrap_or(i32::MAX);
        conn.socket_mut().socket_mut().set_rx_buf_sz(size)?;
        let connection = tokio::spawn(conn);
        Ok(Watcher {
            handle,
            messages,
            connection,
        })
    }

    /// The next notification worth telling the engine. `None`: the socket is gone and
    /// must be reopened.
    pub async fn next(&mut self) -> Option<NetEvent> {
        loop {
            let (msg, _) = self.messages.next().await?;
            if let Some(ev) = event(msg) {
                return Some(ev);
            }
        }
    }

    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

/// Reads every link and address.
pub async fn dump(handle: Handle) -> Result<Snapshot, String> {
    let mut snap = Snapshot::default();
    let mut links = handle.link().get().execute();
    while let Some(l) = links
        .try_next()
        .await
        .map_err(|e| format!("link dump: {e}"))?
    {
        if let Some(l) = link(&l) {
            snap.links.push(l);
        }
    }
    let mut addrs = handle.address().get().execute();
    while let Some(a) = addrs
        .try_next()
        .await
        .map_err(|e| format!("address dump: {e}"))?
    {
        if let Some(a) = address(&a) {
            snap.addrs.push(a);
        }
    }
    Ok(snap)
}

/// A one-off connection for commands that read the interfaces once.
pub async fn connect() -> io::Result<(Handle, JoinHandle<()>)> {
    let (conn, handle, _) = rtnetlink::new_connection()?;
    Ok((handle, tokio::spawn(conn)))
}

/// The interface of the default route (IPv4 first, then IPv6), for the embedded default.
pub async fn default_route_interface(handle: Handle) -> Result<Option<String>, String> {
    let snap = dump(handle.clone()).await?;
    let v4 = RouteMessageBuilder::<Ipv4Addr>::new().build();
    let v6 = RouteMessageBuilder::<Ipv6Addr>::new().build();
    for query in [v4, v6] {
        let mut routes = handle.route().get(query).execute();
        while let Some(r) = routes
            .try_next()
            .await
            .map_err(|e| format!("route dump: {e}"))?
        {
            if let Some(index) = default_route_oif(&r)
                && let Some(l) = snap.links.iter().find(|l| l.index == index)
            {
                return Ok(Some(l.name.clone()));
            }
        }
    }
    Ok(None)
}

// ---- pure conversions ------------------------------------------------------------

/// A notification reduced to its hint. Other message types are not subscribed to, but
/// are ignored rather than trusted.
pub fn event(msg: NetlinkMessage<RouteNetlinkMessage>) -> Option<NetEvent> {
    match msg.payload {
        NetlinkPayload::InnerMessage(m) => match m {
            RouteNetlinkMessage::NewLink(l) => Some(link_event(&l, false)),
            RouteNetlinkMessage::DelLink(l) => Some(link_event(&l, true)),
            RouteNetlinkMessage::NewAddress(a) | RouteNetlinkMessage::DelAddress(a) => {
                Some(NetEvent::Addr {
                    index: a.header.index,
                })
            }
            _ => None,
        },
        NetlinkPayload::Overrun(_) => {
            debug!("netlink overrun: notifications were lost, resyncing");
            Some(NetEvent::Resync)
        }
        _ => None,
    }
}

fn link_event(l: &LinkMessage, removed: bool) -> NetEvent {
    NetEvent::Link {
        index: l.header.index,
        name: link_name(l),
        removed,
    }
}

fn link_name(l: &LinkMessage) -> Option<String> {
    l.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.clone()),
        _ => None,
    })
}

pub fn link(l: &LinkMessage) -> Option<LinkInfo> {
    Some(LinkInfo {
        index: l.header.index,
        name: link_name(l)?,
        up: l.header.flags.contains(LinkFlags::Up),
    })
}

/// Our side of an address: IFA_LOCAL when present (on point-to-point links such as
/// ppp0, IFA_ADDRESS is the peer), IFA_ADDRESS otherwise. Flags from IFA_FLAGS (32
/// bits) when present, else the header byte.
pub fn address(a: &AddressMessage) -> Option<AddrInfo> {
    let mut local = None;
    let mut address = None;
    let mut flags = None;
    for attr in &a.attributes {
        match attr {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => address = Some(*ip),
            AddressAttribute::Flags(f) => flags = Some(*f),
            _ => {}
        }
    }
    let addr: IpAddr = local.or(address)?;
    let f = flags.unwrap_or_else(|| header_flags(a.header.flags));
    Some(AddrInfo {
        index: a.header.index,
        addr,
        prefix_len: a.header.prefix_len,
        scope: match a.header.scope {
            AddressScope::Universe => Scope::Global,
            AddressScope::Site => Scope::Site,
            AddressScope::Link => Scope::Link,
            AddressScope::Host => Scope::Host,
            AddressScope::Nowhere => Scope::Other(255),
            AddressScope::Other(n) => Scope::Other(n),
            _ => Scope::Other(254),
        },
        flags: AddrFlags {
            tentative: f.contains(AddressFlags::Tentative),
            deprecated: f.contains(AddressFlags::Deprecated),
            dad_failed: f.contains(AddressFlags::Dadfailed),
            optimistic: f.contains(AddressFlags::Optimistic),
            secondary: f.contains(AddressFlags::Secondary),
        },
    })
}

fn header_flags(h: AddressHeaderFlags) -> AddressFlags {
    AddressFlags::from_bits_retain(u32::from(h.bits()))
}

/// The output interface of a default route in the main table.
fn default_route_oif(r: &RouteMessage) -> Option<u32> {
    const RT_TABLE_MAIN: u8 = 254;
    if r.header.destination_prefix_length != 0 || r.header.table != RT_TABLE_MAIN {
        return None;
    }
    r.attributes.iter().find_map(|a| match a {
        RouteAttribute::Oif(i) => Some(*i),
        RouteAttribute::MultiPath(hops) => hops.first().map(|h| h.interface_index),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtnetlink::packet_core::{NetlinkHeader, NetlinkPayload};
    use rtnetlink::packet_route::AddressFamily;

    fn addr_msg(index: u32, attrs: Vec<AddressAttribute>) -> AddressMessage {
        let mut m = AddressMessage::default();
        m.header.family = AddressFamily::Inet;
        m.header.index = index;
        m.header.prefix_len = 32;
        m.header.scope = AddressScope::Universe;
        m.attributes = attrs;
        m
    }

    #[test]
    fn point_to_point_uses_the_local_address() {
        let m = addr_msg(
            7,
            vec![
                AddressAttribute::Address("192.0.2.2".parse().unwrap()),
                AddressAttribute::Local("192.0.2.1".parse().unwrap()),
                AddressAttribute::Label("ppp0".into()),
            ],
        );
        let a = address(&m).unwrap();
        assert_eq!(a.addr, "192.0.2.1".parse::<IpAddr>().unwrap());
        assert_eq!(a.index, 7);
        assert_eq!(a.scope, Scope::Global);
    }

    #[test]
    fn ipv6_without_local_uses_the_address_and_full_flags() {
        let mut m = addr_msg(
            3,
            vec![
                AddressAttribute::Address("2001:db8::5".parse().unwrap()),
                AddressAttribute::Flags(
                    AddressFlags::Tentative | AddressFlags::Permanent | AddressFlags::StablePrivacy,
                ),
            ],
        );
        m.header.family = AddressFamily::Inet6;
        let a = address(&m).unwrap();
        assert_eq!(a.addr, "2001:db8::5".parse::<IpAddr>().unwrap());
        assert!(a.flags.tentative && !a.flags.secondary && !a.flags.deprecated);
    }

    #[test]
    fn header_flags_are_the_fallback() {
        let mut m = addr_msg(
            3,
            vec![AddressAttribute::Address("2001:db8::6".parse().unwrap())],
        );
        m.header.flags = AddressHeaderFlags::Secondary | AddressHeaderFlags::Deprecated;
        let a = address(&m).unwrap();
        assert!(a.flags.secondary && a.flags.deprecated);
    }

    #[test]
    fn an_address_message_without_address_is_skipped() {
        assert_eq!(address(&addr_msg(3, vec![])), None);
    }

    #[test]
    fn events() {
        let mut l = LinkMessage::default();
        l.header.index = 9;
        l.attributes.push(LinkAttribute::IfName("ppp0".into()));
        let msg =
            |p| NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::InnerMessage(p));
        assert_eq!(
            event(msg(RouteNetlinkMessage::DelLink(l.clone()))),
            Some(NetEvent::Link {
                index: 9,
                name: Some("ppp0".into()),
                removed: true
            })
        );
        assert_eq!(
            event(msg(RouteNetlinkMessage::NewAddress(addr_msg(9, vec![])))),
            Some(NetEvent::Addr { index: 9 })
        );
        l.header.flags = LinkFlags::Up | LinkFlags::Pointopoint;
        assert_eq!(
            link(&l),
            Some(LinkInfo {
                index: 9,
                name: "ppp0".into(),
                up: true
            })
        );
        let overrun: NetlinkMessage<RouteNetlinkMessage> =
            NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::Overrun(vec![]));
        assert_eq!(event(overrun), Some(NetEvent::Resync));
    }
}
