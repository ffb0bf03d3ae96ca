//! The rtnetlink wire format, reduced to what dynhost reads. Pure: bytes in, `model`
//! types out, and dump requests out.
//!
//! Only the link name and flags, the address, local address, scope and flags, and a
//! route's output interface are decoded; every other attribute is skipped by length.
//! A general-purpose decoder (netlink-packet-route) is ten times the code and, by
//! decoding everything, breaks when a new kernel grows an attribute it does not know
//! (rust-netlink/netlink-packet-route#151, #54): this one cannot.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::model::{AddrFlags, AddrInfo, Family, LinkInfo, NetEvent, Scope};

pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLMSG_OVERRUN: u16 = 4;
pub const RTM_NEWLINK: u16 = 16;
pub const RTM_DELLINK: u16 = 17;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_DELADDR: u16 = 21;
pub const RTM_GETADDR: u16 = 22;
pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_DELROUTE: u16 = 25;
pub const RTM_GETROUTE: u16 = 26;

pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_MULTI: u16 = 0x2;
pub const NLM_F_DUMP_INTR: u16 = 0x10;
pub const NLM_F_DUMP: u16 = 0x300;
// Flags of a request that changes something: see `addr_request`.
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;

pub const RTNLGRP_LINK: u32 = 1;
pub const RTNLGRP_IPV4_IFADDR: u32 = 5;
pub const RTNLGRP_IPV4_ROUTE: u32 = 7;
pub const RTNLGRP_IPV6_IFADDR: u32 = 9;

pub const AF_UNSPEC: u8 = 0;
pub const AF_INET: u8 = 2;
pub const AF_INET6: u8 = 10;

const IFF_UP: u32 = 0x1;
const IFLA_IFNAME: u16 = 3;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_FLAGS: u16 = 8;
const IFA_F_SECONDARY: u32 = 0x01;
const IFA_F_OPTIMISTIC: u32 = 0x04;
const IFA_F_DADFAILED: u32 = 0x08;
const IFA_F_DEPRECATED: u32 = 0x20;
const IFA_F_TENTATIVE: u32 = 0x40;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_MULTIPATH: u16 = 9;
const RTA_TABLE: u16 = 15;
const RT_TABLE_MAIN: u32 = 254;

const HEADER_LEN: usize = 16;
const IFINFOMSG_LEN: usize = 16;
const IFADDRMSG_LEN: usize = 8;
const RTMSG_LEN: usize = 12;

/// A message that does not hold together. The datagram's remaining messages are lost
/// with it, which is why the caller resyncs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed netlink message: {}", self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    /// The port id the message is for (a dump's answers carry ours).
    pub port: u32,
}

/// Splits a datagram into messages: (header, payload).
pub fn messages(mut buf: &[u8]) -> impl Iterator<Item = Result<(Header, &[u8]), Malformed>> {
    std::iter::from_fn(move || {
        if buf.is_empty() {
            return None;
        }
        if buf.len() < HEADER_LEN {
            buf = &[];
            return Some(Err(Malformed("short header")));
        }
        let len = u32_at(buf, 0) as usize;
        if len < HEADER_LEN || len > buf.len() {
            buf = &[];
            return Some(Err(Malformed("bad message length")));
        }
        let header = Header {
            kind: u16_at(buf, 4),
            flags: u16_at(buf, 6),
            seq: u32_at(buf, 8),
            port: u32_at(buf, 12),
        };
        let payload = &buf[HEADER_LEN..len];
        buf = &buf[align(len).min(buf.len())..];
        Some(Ok((header, payload)))
    })
}

/// What one message says, for our purposes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Link {
        info: LinkInfo,
        removed: bool,
    },
    /// A link message without a name (should not happen; kept as a hint).
    NamelessLink {
        index: u32,
        removed: bool,
    },
    Addr {
        info: Option<AddrInfo>,
        index: u32,
        family: Option<Family>,
        removed: bool,
    },
    /// A default route in the main table: its output interface and next hop.
    DefaultRoute {
        oif: u32,
        gateway: Option<IpAddr>,
        removed: bool,
    },
    Done,
    /// NLMSG_ERROR with a non-zero errno (positive here).
    Error(i32),
    Overrun,
    /// Anything else: ignored.
    Other,
}

pub fn parse(header: Header, payload: &[u8]) -> Result<Message, Malformed> {
    match header.kind {
        RTM_NEWLINK | RTM_DELLINK => link(payload, header.kind == RTM_DELLINK),
        RTM_NEWADDR | RTM_DELADDR => addr(payload, header.kind == RTM_DELADDR),
        RTM_NEWROUTE | RTM_DELROUTE => route(payload, header.kind == RTM_DELROUTE),
        NLMSG_DONE => Ok(Message::Done),
        NLMSG_OVERRUN => Ok(Message::Overrun),
        NLMSG_ERROR => {
            if payload.len() < 4 {
                return Err(Malformed("short error"));
            }
            // The kernel sends -errno; wrapping keeps i32::MIN from panicking.
            let errno = (u32_at(payload, 0) as i32).wrapping_neg();
            Ok(if errno == 0 {
                Message::Other
            } else {
                Message::Error(errno)
            })
        }
        _ => Ok(Message::Other),
    }
}

/// The hint a notification carries for the engine.
pub fn event(m: Message) -> Option<NetEvent> {
    match m {
        Message::Link { info, removed } => Some(NetEvent::Link {
            index: info.index,
            name: Some(info.name),
            removed,
            up: info.up,
        }),
        Message::NamelessLink { index, removed } => Some(NetEvent::Link {
            index,
            name: None,
            removed,
            up: !removed,
        }),
        Message::Addr { index, family, .. } => Some(NetEvent::Addr { index, family }),
        Message::DefaultRoute { oif, .. } => Some(NetEvent::Route { index: oif }),
        Message::Overrun => Some(NetEvent::Resync),
        _ => None,
    }
}

/// The hints in one notification datagram. Anything unreadable, or a datagram that
/// filled the whole buffer (possibly truncated), also asks for a resync: what was lost
/// is unknown.
pub fn events(datagram: &[u8], filled_buffer: bool) -> Vec<NetEvent> {
    if filled_buffer {
        return vec![NetEvent::Resync];
    }
    let mut out = Vec::new();
    for m in messages(datagram) {
        match m.and_then(|(h, p)| parse(h, p)) {
            Ok(msg) => out.extend(event(msg)),
            Err(e) => {
                tracing::warn!(error = %e, "skipping an unreadable netlink notification; resyncing");
                out.push(NetEvent::Resync);
                break;
            }
        }
    }
    out
}

fn link(p: &[u8], removed: bool) -> Result<Message, Malformed> {
    if p.len() < IFINFOMSG_LEN {
        return Err(Malformed("short ifinfomsg"));
    }
    let index = u32_at(p, 4);
    let flags = u32_at(p, 8);
    let mut name = None;
    for attr in attrs(&p[IFINFOMSG_LEN..]) {
        let (kind, value) = attr?;
        if kind == IFLA_IFNAME {
            let bytes = value.split(|b| *b == 0).next().unwrap_or(&[]);
            name = Some(String::from_utf8_lossy(bytes).into_owned());
        }
    }
    Ok(match name {
        Some(name) => Message::Link {
            info: LinkInfo {
                index,
                name,
                up: flags & IFF_UP != 0,
            },
            removed,
        },
        None => Message::NamelessLink { index, removed },
    })
}

fn addr(p: &[u8], removed: bool) -> Result<Message, Malformed> {
    if p.len() < IFADDRMSG_LEN {
        return Err(Malformed("short ifaddrmsg"));
    }
    let family = p[0];
    let prefix_len = p[1];
    let header_flags = u32::from(p[2]);
    let scope = match p[3] {
        0 => Scope::Global,
        200 => Scope::Site,
        253 => Scope::Link,
        254 => Scope::Host,
        n => Scope::Other(n),
    };
    let index = u32_at(p, 4);
    let (mut address, mut local, mut flags) = (None, None, None);
    for attr in attrs(&p[IFADDRMSG_LEN..]) {
        let (kind, value) = attr?;
        match kind {
            IFA_ADDRESS => address = ip(family, value),
            IFA_LOCAL => local = ip(family, value),
            IFA_FLAGS if value.len() >= 4 => flags = Some(u32_at(value, 0)),
            _ => {}
        }
    }
    // Ours is IFA_LOCAL when present: on point-to-point links IFA_ADDRESS is the peer.
    let info = local.or(address).map(|addr| {
        let f = flags.unwrap_or(header_flags);
        AddrInfo {
            index,
            addr,
            prefix_len,
            scope,
            flags: AddrFlags {
                tentative: f & IFA_F_TENTATIVE != 0,
                deprecated: f & IFA_F_DEPRECATED != 0,
                dad_failed: f & IFA_F_DADFAILED != 0,
                optimistic: f & IFA_F_OPTIMISTIC != 0,
                secondary: f & IFA_F_SECONDARY != 0,
            },
        }
    });
    Ok(Message::Addr {
        info,
        index,
        family: match family {
            AF_INET => Some(Family::V4),
            AF_INET6 => Some(Family::V6),
            _ => None,
        },
        removed,
    })
}

fn route(p: &[u8], removed: bool) -> Result<Message, Malformed> {
    if p.len() < RTMSG_LEN {
        return Err(Malformed("short rtmsg"));
    }
    let family = p[0];
    let dst_len = p[1];
    let mut table = u32::from(p[4]);
    let mut oif = None;
    let mut gateway = None;
    for attr in attrs(&p[RTMSG_LEN..]) {
        let (kind, value) = attr?;
        match kind {
            RTA_OIF if value.len() >= 4 => oif = Some(u32_at(value, 0)),
            RTA_GATEWAY => gateway = ip(family, value),
            RTA_TABLE if value.len() >= 4 => table = u32_at(value, 0),
            // struct rtnexthop { u16 len; u8 flags; u8 hops; i32 ifindex; }: take the first.
            RTA_MULTIPATH if value.len() >= 8 && oif.is_none() => oif = Some(u32_at(value, 4)),
            _ => {}
        }
    }
    Ok(match oif {
        Some(oif) if dst_len == 0 && table == RT_TABLE_MAIN => Message::DefaultRoute {
            oif,
            gateway,
            removed,
        },
        _ => Message::Other,
    })
}

/// Iterates (type, value) over rtattrs; nested and byte-order flag bits are masked off.
fn attrs(mut buf: &[u8]) -> impl Iterator<Item = Result<(u16, &[u8]), Malformed>> {
    std::iter::from_fn(move || {
        if buf.len() < 4 {
            // Trailing padding shorter than a header is allowed.
            return None;
        }
        let len = usize::from(u16_at(buf, 0));
        if len < 4 || len > buf.len() {
            buf = &[];
            return Some(Err(Malformed("bad attribute length")));
        }
        let kind = u16_at(buf, 2) & 0x3fff;
        let value = &buf[4..len];
        buf = &buf[align(len).min(buf.len())..];
        Some(Ok((kind, value)))
    })
}

fn ip(family: u8, v: &[u8]) -> Option<IpAddr> {
    match family {
        AF_INET => <[u8; 4]>::try_from(v.get(..4)?)
            .ok()
            .map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        AF_INET6 => <[u8; 16]>::try_from(v.get(..16)?)
            .ok()
            .map(|b| IpAddr::V6(Ipv6Addr::from(b))),
        _ => None,
    }
}

/// A dump request: RTM_GETLINK, RTM_GETADDR or RTM_GETROUTE for `family`.
pub fn dump_request(kind: u16, family: u8, seq: u32) -> Vec<u8> {
    let body_len = match kind {
        RTM_GETLINK => IFINFOMSG_LEN,
        RTM_GETADDR => IFADDRMSG_LEN,
        _ => RTMSG_LEN,
    };
    let len = HEADER_LEN + body_len;
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.push(family);
    m.resize(len, 0);
    m
}

/// An acknowledged request to add (`RTM_NEWADDR`, failing if it exists) or delete (any
/// other `kind`: `RTM_DELADDR`) the address `local`/`prefix_len` on interface `index`,
/// scope universe. `peer` is the far end of a point-to-point link, of the same family;
/// without it IFA_ADDRESS is `local`, as `ip addr add` sends it. dynhost never changes
/// addresses: the benchmark and tests do.
pub fn addr_request(
    kind: u16,
    index: u32,
    local: IpAddr,
    prefix_len: u8,
    peer: Option<IpAddr>,
    seq: u32,
) -> Vec<u8> {
    let flags = if kind == RTM_NEWADDR {
        NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
    } else {
        NLM_F_REQUEST | NLM_F_ACK
    };
    let family = match local {
        IpAddr::V4(_) => AF_INET,
        IpAddr::V6(_) => AF_INET6,
    };
    let mut m = Vec::with_capacity(HEADER_LEN + IFADDRMSG_LEN + 2 * 20);
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    // struct ifaddrmsg: family, prefix length, flags, scope, interface index.
    m.extend_from_slice(&[family, prefix_len, 0, 0]);
    m.extend_from_slice(&index.to_ne_bytes());
    push_ip_attr(&mut m, IFA_LOCAL, local);
    push_ip_attr(&mut m, IFA_ADDRESS, peer.unwrap_or(local));
    let len = m.len() as u32;
    m[..4].copy_from_slice(&len.to_ne_bytes());
    m
}

fn push_ip_attr(m: &mut Vec<u8>, kind: u16, ip: IpAddr) {
    let octets = match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    m.extend_from_slice(&((4 + octets.len()) as u16).to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(&octets);
    m.resize(align(m.len()), 0);
}

fn align(len: usize) -> usize {
    (len + 3) & !3
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds messages the way the kernel lays them out.
    struct Msg(Vec<u8>);

    impl Msg {
        fn new(kind: u16, flags: u16, body: &[u8]) -> Msg {
            let mut v = vec![0; HEADER_LEN];
            v[4..6].copy_from_slice(&kind.to_ne_bytes());
            v[6..8].copy_from_slice(&flags.to_ne_bytes());
            v[8..12].copy_from_slice(&7u32.to_ne_bytes());
            v.extend_from_slice(body);
            Msg(v)
        }

        fn attr(mut self, kind: u16, value: &[u8]) -> Msg {
            let len = 4 + value.len();
            self.0.extend_from_slice(&(len as u16).to_ne_bytes());
            self.0.extend_from_slice(&kind.to_ne_bytes());
            self.0.extend_from_slice(value);
            self.0.resize(align(self.0.len()), 0);
            self
        }

        fn done(mut self) -> Vec<u8> {
            let len = self.0.len() as u32;
            self.0[0..4].copy_from_slice(&len.to_ne_bytes());
            self.0
        }
    }

    fn ifinfo(index: u32, flags: u32) -> Vec<u8> {
        let mut b = vec![0u8; IFINFOMSG_LEN];
        b[4..8].copy_from_slice(&index.to_ne_bytes());
        b[8..12].copy_from_slice(&flags.to_ne_bytes());
        b
    }

    fn ifaddr(family: u8, prefix: u8, flags: u8, scope: u8, index: u32) -> Vec<u8> {
        let mut b = vec![family, prefix, flags, scope];
        b.extend_from_slice(&index.to_ne_bytes());
        b
    }

    fn one(buf: &[u8]) -> Message {
        let mut it = messages(buf);
        let (h, p) = it.next().unwrap().unwrap();
        assert!(it.next().is_none());
        parse(h, p).unwrap()
    }

    #[test]
    fn a_link_with_its_name_and_state() {
        let buf = Msg::new(RTM_NEWLINK, 0, &ifinfo(9, 0x1 | 0x10 | 0x40))
            .attr(IFLA_IFNAME, b"ppp0\0")
            .attr(0x8000 | 43, &[1, 2, 3]) // a nested attribute we do not know
            .done();
        assert_eq!(
            one(&buf),
            Message::Link {
                info: LinkInfo {
                    index: 9,
                    name: "ppp0".into(),
                    up: true
                },
                removed: false
            }
        );
        let del = Msg::new(RTM_DELLINK, 0, &ifinfo(9, 0)).done();
        assert_eq!(
            event(one(&del)),
            Some(NetEvent::Link {
                index: 9,
                name: None,
                removed: true,
                up: false,
            })
        );
    }

    #[test]
    fn point_to_point_addresses_use_the_local_side() {
        let buf = Msg::new(RTM_NEWADDR, 0, &ifaddr(AF_INET, 32, 0x80, 0, 9))
            .attr(IFA_ADDRESS, &[192, 0, 2, 2])
            .attr(IFA_LOCAL, &[192, 0, 2, 1])
            .attr(3, b"ppp0\0")
            .done();
        let Message::Addr { info: Some(a), .. } = one(&buf) else {
            panic!()
        };
        assert_eq!(a.addr, "192.0.2.1".parse::<IpAddr>().unwrap());
        assert_eq!((a.index, a.prefix_len, a.scope), (9, 32, Scope::Global));
    }

    #[test]
    fn ipv6_flags_come_from_ifa_flags_when_present() {
        let v6: Ipv6Addr = "2001:db8::5".parse().unwrap();
        let buf = Msg::new(RTM_NEWADDR, 0, &ifaddr(AF_INET6, 64, 0, 0, 3))
            .attr(IFA_ADDRESS, &v6.octets())
            .attr(IFA_FLAGS, &(0x40u32 | 0x80 | 0x800).to_ne_bytes())
            .done();
        let Message::Addr { info: Some(a), .. } = one(&buf) else {
            panic!()
        };
        assert!(a.flags.tentative && !a.flags.secondary);
        assert_eq!(
            events(&buf, false),
            vec![NetEvent::Addr {
                index: 3,
                family: Some(Family::V6)
            }]
        );
        // A family we do not know is still a hint, without a family.
        let odd = Msg::new(RTM_NEWADDR, 0, &ifaddr(7, 64, 0, 0, 3)).done();
        assert_eq!(
            events(&odd, false),
            vec![NetEvent::Addr {
                index: 3,
                family: None
            }]
        );
        // Without IFA_FLAGS, the header byte: temporary (= secondary) and deprecated.
        let buf = Msg::new(RTM_NEWADDR, 0, &ifaddr(AF_INET6, 64, 0x21, 253, 3))
            .attr(IFA_ADDRESS, &v6.octets())
            .done();
        let Message::Addr { info: Some(a), .. } = one(&buf) else {
            panic!()
        };
        assert!(a.flags.secondary && a.flags.deprecated);
        assert_eq!(a.scope, Scope::Link);
    }

    #[test]
    fn default_routes() {
        let mut rt = vec![AF_INET, 0, 0, 0, 254, 3, 0, 1];
        rt.extend_from_slice(&0u32.to_ne_bytes());
        let buf = Msg::new(RTM_NEWROUTE, NLM_F_MULTI, &rt)
            .attr(RTA_TABLE, &254u32.to_ne_bytes())
            .attr(RTA_OIF, &4u32.to_ne_bytes())
            .attr(RTA_GATEWAY, &[192, 168, 1, 1])
            .done();
        assert_eq!(
            one(&buf),
            Message::DefaultRoute {
                oif: 4,
                gateway: Some("192.168.1.1".parse().unwrap()),
                removed: false
            }
        );
        // A next hop of the wrong length is no next hop.
        let buf = Msg::new(RTM_DELROUTE, 0, &rt)
            .attr(RTA_OIF, &4u32.to_ne_bytes())
            .attr(RTA_GATEWAY, &[192, 168, 1])
            .done();
        assert_eq!(
            one(&buf),
            Message::DefaultRoute {
                oif: 4,
                gateway: None,
                removed: true
            }
        );
        rt[1] = 24; // a /24, not a default route
        let buf = Msg::new(RTM_NEWROUTE, 0, &rt)
            .attr(RTA_OIF, &4u32.to_ne_bytes())
            .done();
        assert_eq!(one(&buf), Message::Other);
    }

    #[test]
    fn several_messages_per_datagram_and_done() {
        let mut buf = Msg::new(RTM_NEWLINK, NLM_F_MULTI, &ifinfo(1, 1))
            .attr(IFLA_IFNAME, b"lo\0")
            .done();
        buf.extend(Msg::new(NLMSG_DONE, NLM_F_MULTI, &0u32.to_ne_bytes()).done());
        let parsed: Vec<Message> = messages(&buf)
            .map(|m| {
                let (h, p) = m.unwrap();
                parse(h, p).unwrap()
            })
            .collect();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[1], Message::Done);
    }

    #[test]
    fn errors_and_overruns() {
        let err = Msg::new(NLMSG_ERROR, 0, &(-16i32).to_ne_bytes()).done();
        assert_eq!(one(&err), Message::Error(16));
        // i32::MIN cannot be negated: no panic (debug builds checked the overflow).
        let odd = Msg::new(NLMSG_ERROR, 0, &i32::MIN.to_ne_bytes()).done();
        assert_eq!(one(&odd), Message::Error(i32::MIN));
        assert_eq!(event(Message::Overrun), Some(NetEvent::Resync));
    }

    #[test]
    fn malformed_input_is_reported_not_panicked_on() {
        let good = Msg::new(RTM_NEWADDR, 0, &ifaddr(AF_INET, 24, 0, 0, 2))
            .attr(IFA_ADDRESS, &[203, 0, 113, 5])
            .done();
        // Every truncation and every corrupted byte of a valid message.
        for cut in 0..good.len() {
            for (h, p) in messages(&good[..cut]).flatten() {
                let _ = parse(h, p);
            }
        }
        for i in 0..good.len() {
            for byte in [0u8, 1, 3, 0x7f, 0xff] {
                let mut bad = good.clone();
                bad[i] = byte;
                for (h, p) in messages(&bad).flatten() {
                    let _ = parse(h, p);
                }
            }
        }
        let mut bad = good.clone();
        bad[HEADER_LEN + IFADDRMSG_LEN] = 200; // attribute longer than the message
        let (h, p) = messages(&bad).next().unwrap().unwrap();
        assert_eq!(parse(h, p), Err(Malformed("bad attribute length")));
        assert!(messages(&[1, 2, 3]).next().unwrap().is_err());
        // An address attribute of the wrong size is no address.
        let short = Msg::new(RTM_NEWADDR, 0, &ifaddr(AF_INET6, 64, 0, 0, 2))
            .attr(IFA_ADDRESS, &[1, 2, 3, 4])
            .done();
        assert!(matches!(one(&short), Message::Addr { info: None, .. }));
    }

    #[test]
    fn unreadable_datagrams_become_a_resync_and_the_rest_is_kept() {
        let mut buf = Msg::new(RTM_NEWADDR, 0, &ifaddr(AF_INET, 24, 0, 0, 4))
            .attr(IFA_ADDRESS, &[203, 0, 113, 9])
            .done();
        let good = events(&buf, false);
        assert_eq!(
            good,
            vec![NetEvent::Addr {
                index: 4,
                family: Some(Family::V4)
            }]
        );
        buf.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef, 1, 2, 3]);
        assert_eq!(
            events(&buf, false),
            vec![
                NetEvent::Addr {
                    index: 4,
                    family: Some(Family::V4)
                },
                NetEvent::Resync
            ]
        );
        assert_eq!(events(&buf, true), vec![NetEvent::Resync]);
        assert_eq!(events(&[], false), vec![]);
    }

    #[test]
    fn dump_requests_are_well_formed() {
        let r = dump_request(RTM_GETADDR, AF_UNSPEC, 42);
        assert_eq!(r.len(), 24);
        let (h, p) = messages(&r).next().unwrap().unwrap();
        assert_eq!(
            h,
            Header {
                kind: RTM_GETADDR,
                flags: NLM_F_REQUEST | NLM_F_DUMP,
                seq: 42,
                port: 0,
            }
        );
        assert_eq!(p.len(), IFADDRMSG_LEN);
        assert_eq!(dump_request(RTM_GETLINK, AF_UNSPEC, 1).len(), 32);
        assert_eq!(dump_request(RTM_GETROUTE, AF_INET, 1)[16], AF_INET);
    }

    /// The IFA_LOCAL and IFA_ADDRESS values of an address message.
    fn local_and_address(payload: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let (mut local, mut address) = (Vec::new(), Vec::new());
        for attr in attrs(&payload[IFADDRMSG_LEN..]) {
            match attr.unwrap() {
                (IFA_LOCAL, v) => local = v.to_vec(),
                (IFA_ADDRESS, v) => address = v.to_vec(),
                other => panic!("unexpected attribute {other:?}"),
            }
        }
        (local, address)
    }

    #[test]
    fn address_requests_read_back_as_the_address_they_add_or_delete() {
        let local: IpAddr = "198.51.100.7".parse().unwrap();
        let peer: IpAddr = "192.0.2.1".parse().unwrap();
        let v6: IpAddr = "2001:db8::7".parse().unwrap();
        for (kind, addr, prefix, peer, flags) in [
            (
                RTM_NEWADDR,
                local,
                32,
                Some(peer),
                NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            ),
            (RTM_DELADDR, local, 24, None, NLM_F_REQUEST | NLM_F_ACK),
            (
                RTM_NEWADDR,
                v6,
                64,
                None,
                NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            ),
        ] {
            let r = addr_request(kind, 9, addr, prefix, peer, 77);
            let mut it = messages(&r);
            let (h, p) = it.next().unwrap().unwrap();
            assert!(it.next().is_none(), "one message, its length in the header");
            assert_eq!(
                h,
                Header {
                    kind,
                    flags,
                    seq: 77,
                    port: 0,
                }
            );
            let Message::Addr {
                info: Some(info),
                index,
                removed,
                ..
            } = parse(h, p).unwrap()
            else {
                panic!("not an address: {r:?}")
            };
            assert_eq!((index, info.index, info.addr), (9, 9, addr));
            assert_eq!((info.prefix_len, info.scope), (prefix, Scope::Global));
            assert_eq!(removed, kind == RTM_DELADDR);
            let octets = |ip: IpAddr| match ip {
                IpAddr::V4(a) => a.octets().to_vec(),
                IpAddr::V6(a) => a.octets().to_vec(),
            };
            assert_eq!(
                local_and_address(p),
                (octets(addr), octets(peer.unwrap_or(addr))),
                "IFA_ADDRESS is the peer, else the address itself"
            );
        }
    }
}
