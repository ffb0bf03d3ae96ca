//! The gateway's change announcements: NAT-PMP's 12-byte public address packet and
//! PCP's ANNOUNCE, both multicast to 224.0.0.1:5350.
//!
//! miniupnpd (2.3.1) sends, per change, one NAT-PMP packet to 224.0.0.1:5350 and one to
//! :5351 (the 2006 draft's port), then one PCP ANNOUNCE to :5350, all from its port
//! 5351. A client receives all three; listening on 5350 gets one of each kind.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use tokio::net::UdpSocket;
use tracing::debug;

use super::{GatewayError, Protocol, natpmp, pcp, sock};

/// The group announcements go to.
pub const ALL_HOSTS: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 1);

/// Which LAN interface to join 224.0.0.1 on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Membership {
    /// By interface index (survives an address change).
    Index(u32),
    /// By the interface's IPv4 address.
    Addr(Ipv4Addr),
}

/// What an announcement says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Announced {
    /// NAT-PMP: the new public address, as reported (not judged), and the epoch.
    NatPmp { epoch: u32, addr: Ipv4Addr },
    /// PCP ANNOUNCE: something changed, no address: ask again. miniupnpd sends epoch 0.
    Pcp { epoch: u32 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Announcement {
    /// Where it came from; pass it to [`accept`].
    pub src: SocketAddr,
    pub announced: Announced,
}

/// Parses one datagram received on port 5350. NAT-PMP announcements with a failure
/// result code are refused like malformed ones (miniupnpd never sends them).
pub fn parse(packet: &[u8]) -> Result<Announced, GatewayError> {
    match packet.first() {
        Some(0) => natpmp::parse(packet).map(|a| Announced::NatPmp {
            epoch: a.epoch,
            addr: a.addr,
        }),
        Some(&pcp::VERSION) => pcp::parse_announce(packet).map(|epoch| Announced::Pcp { epoch }),
        Some(v) => Err(GatewayError::Malformed {
            protocol: Protocol::NatPmp,
            detail: format!("an announcement of version {v}"),
        }),
        None => Err(GatewayError::Malformed {
            protocol: Protocol::NatPmp,
            detail: "an empty announcement".into(),
        }),
    }
}

/// Whether an announcement from `src` is our gateway's: only its own address counts
/// (any source port: RFC 6886 does not fix it; miniupnpd uses 5351).
pub fn accept(src: SocketAddr, gateway: Ipv4Addr) -> bool {
    match src {
        SocketAddr::V4(a) => *a.ip() == gateway,
        SocketAddr::V6(a) => a.ip().to_ipv4_mapped() == Some(gateway),
    }
}

/// A socket on 0.0.0.0:5350 (shared: SO_REUSEADDR, SO_REUSEPORT) joined to 224.0.0.1 on
/// the LAN interface, yielding well-formed announcements from anyone: filter them
/// with [`accept`].
pub struct Listener {
    sock: UdpSocket,
    dropped: u64,
}

impl Listener {
    /// Binds and joins. Call it inside a tokio runtime.
    pub fn bind(on: Membership) -> io::Result<Listener> {
        let (index, addr) = match on {
            Membership::Index(i) => (i, Ipv4Addr::UNSPECIFIED),
            Membership::Addr(a) => (0, a),
        };
        let bind = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, natpmp::ANNOUNCE_PORT);
        let std = sock::shared_multicast(bind, ALL_HOSTS, index, addr).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot listen for gateway announcements on {bind} (joining {ALL_HOSTS} \
                     on {on:?}): {e}"
                ),
            )
        })?;
        Ok(Listener {
            sock: UdpSocket::from_std(std)?,
            dropped: 0,
        })
    }

    /// The next well-formed announcement. Malformed datagrams are dropped and counted
    /// (the first one is logged at debug). Cancel-safe.
    pub async fn next(&mut self) -> Announcement {
        let mut buf = [0u8; pcp::MAX_LEN + 1];
        loop {
            let (n, src) = match self.sock.recv_from(&mut buf).await {
                Ok(r) => r,
                Err(e) => {
                    debug!("receiving a gateway announcement failed: {e}");
                    // Never spin on a persistent error.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let parsed = if n > pcp::MAX_LEN {
                Err(GatewayError::Malformed {
                    protocol: Protocol::NatPmp,
                    detail: format!("an announcement over {} bytes", pcp::MAX_LEN),
                })
            } else {
                parse(&buf[..n])
            };
            match parsed {
                Ok(announced) => return Announcement { src, announced },
                Err(e) => {
                    self.dropped += 1;
                    if self.dropped == 1 {
                        debug!(
                            %src,
                            "dropped a malformed datagram on port {} (further ones are \
                             only counted): {e}",
                            natpmp::ANNOUNCE_PORT
                        );
                    }
                }
            }
        }
    }

    /// Lets the kernel drop every datagram whose source is not one of `gateways` before
    /// it is queued (a socket filter): another host's flood then costs us nothing.
    pub fn only_from(&self, gateways: &[Ipv4Addr]) -> io::Result<()> {
        sock::only_from(&self.sock, gateways)
    }

    /// Empties the queue without waiting: the well-formed announcements' sources,
    /// each once (a burst of one gateway's repeats is one hint). At most `max` read.
    pub fn drain(&mut self, max: usize) -> Vec<SocketAddr> {
        let mut buf = [0u8; pcp::MAX_LEN + 1];
        let mut from = Vec::new();
        for _ in 0..max {
            let Ok((n, src)) = self.sock.try_recv_from(&mut buf) else {
                break;
            };
            if n <= pcp::MAX_LEN && parse(&buf[..n]).is_ok() {
                if !from.contains(&src) {
                    from.push(src);
                }
            } else {
                self.dropped += 1;
            }
        }
        from
    }

    /// Also listens on the interface `on` (a second LAN with its own gateway).
    pub fn join(&self, on: Membership) -> io::Result<()> {
        let (index, addr) = match on {
            Membership::Index(i) => (i, Ipv4Addr::UNSPECIFIED),
            Membership::Addr(a) => (0, a),
        };
        sock::join(&self.sock, ALL_HOSTS, index, addr)
    }

    /// How many malformed datagrams were dropped.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_only_the_gateway() {
        let gw = Ipv4Addr::new(192, 168, 77, 1);
        let table: &[(&str, bool)] = &[
            ("192.168.77.1:5351", true),
            ("192.168.77.1:40000", true),
            ("[::ffff:192.168.77.1]:5351", true),
            ("192.168.77.3:5351", false),
            ("192.168.77.11:5351", false),
            ("127.0.0.1:5351", false),
            ("[fe80::1]:5351", false),
            ("[::ffff:192.168.77.3]:5351", false),
        ];
        for (src, want) in table {
            assert_eq!(accept(src.parse().unwrap(), gw), *want, "{src}");
        }
    }

    #[test]
    fn parse_announcements() {
        let natpmp = [0, 128, 0, 0, 0, 0, 0, 11, 203, 0, 113, 8];
        assert_eq!(
            parse(&natpmp),
            Ok(Announced::NatPmp {
                epoch: 11,
                addr: Ipv4Addr::new(203, 0, 113, 8)
            })
        );
        let mut pcp = [0u8; 24];
        pcp[0] = 2;
        pcp[1] = 0x80;
        assert_eq!(parse(&pcp), Ok(Announced::Pcp { epoch: 0 }));
        let bad: &[(&[u8], &str)] = &[
            (&[], "empty"),
            (&[1, 128, 0, 0], "version 1"),
            (&[0, 128, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0], "no public address"),
            (&[0, 129, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4], "opcode 129"),
            (&[0, 0], "opcode 0"),
            (&[2, 0x81, 0, 0], "too short"),
            (&natpmp[..8], "8 bytes, expected 12"),
        ];
        for (packet, needle) in bad {
            let e = parse(packet).unwrap_err();
            assert!(e.to_string().contains(needle), "{packet:?}: {e}");
        }
    }
}
