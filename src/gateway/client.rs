//! Asking the gateway, once per call: NAT-PMP, PCP and UPnP IGD over tokio, each
//! bounded in time (see the constants) and in what it reads. Logs only at debug: the
//! caller writes the one line an operator sees, from the returned error.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use reqwest::Url;
use tokio::net::UdpSocket;
use tokio::time::Instant;
use tracing::debug;

use super::ssdp::{self, MAX_ANSWER, SEARCH_TARGETS};
use super::{GatewayError, Protocol, igd, judge_reported, most_telling, natpmp, pcp, sock};

/// How long to wait after each NAT-PMP or PCP send before sending again (RFC 6886:
/// from 250 ms, doubling; four tries, 3.75 s in all, so a silent gateway cannot hang
/// the daemon).
pub const RETRANSMIT: [Duration; 4] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_millis(1000),
    Duration::from_millis(2000),
];
/// The same for the PCP delete, whose loss only leaves a short-lived mapping.
pub const DELETE_RETRANSMIT: [Duration; 3] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_millis(1000),
];
/// The lifetime asked for the PCP MAP (the gateway may raise it: miniupnpd grants 120 s).
pub const PCP_LIFETIME: u32 = 60;
/// SSDP: M-SEARCH is sent twice; the waits after each send (2 s in all).
pub const SSDP_WAVES: [Duration; 2] = [Duration::from_millis(700), Duration::from_millis(1300)];
pub const HTTP_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Per HTTP request, body included.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(3);
/// All of UPnP: discovery, description, and up to [`MAX_CONTROLS`] SOAP calls.
pub const UPNP_BOUND: Duration = Duration::from_secs(10);
/// How many WAN connection services are tried.
pub const MAX_CONTROLS: usize = 3;

fn total(waits: &[Duration]) -> Duration {
    waits.iter().sum()
}

/// The upper bound of [`natpmp_external`].
pub fn natpmp_bound() -> Duration {
    total(&RETRANSMIT)
}

/// The upper bound of [`pcp_external`].
pub fn pcp_bound() -> Duration {
    total(&RETRANSMIT) + total(&DELETE_RETRANSMIT)
}

/// The upper bound of [`external`].
pub fn external_bound() -> Duration {
    natpmp_bound() + pcp_bound() + UPNP_BOUND
}

fn local(protocol: Protocol, what: String) -> impl FnOnce(std::io::Error) -> GatewayError {
    move |e| GatewayError::Local {
        protocol,
        detail: format!("{what}: {e}"),
    }
}

/// The next datagram before `deadline`, or `None` once it passes (or the socket fails,
/// which ends this wave like silence would).
async fn recv_until(
    sock: &UdpSocket,
    deadline: Instant,
    buf: &mut [u8],
    protocol: Protocol,
) -> Option<(usize, SocketAddr)> {
    match tokio::time::timeout_at(deadline, sock.recv_from(buf)).await {
        Ok(Ok(got)) => Some(got),
        Ok(Err(e)) => {
            debug!("{protocol}: receiving failed: {e}");
            None
        }
        Err(_) => None,
    }
}

/// Sends `packet` to `to` on the `waits` schedule and returns the first datagram from
/// exactly `to` that `judge` accepts. `judge` returns `Ok(None)` for a datagram to
/// ignore; a malformed one is remembered and waiting goes on; any other error is the
/// gateway's answer and returned at once.
async fn exchange<T>(
    sock: &UdpSocket,
    to: SocketAddrV4,
    packet: &[u8],
    waits: &[Duration],
    protocol: Protocol,
    mut judge: impl FnMut(&[u8]) -> Result<Option<T>, GatewayError>,
) -> Result<T, GatewayError> {
    let mut buf = [0u8; pcp::MAX_LEN + 1];
    let mut bad: Option<GatewayError> = None;
    let mut stray: Option<SocketAddr> = None;
    for wait in waits {
        sock.send_to(packet, to)
            .await
            .map_err(local(protocol, format!("cannot send to {to}")))?;
        let deadline = Instant::now() + *wait;
        while let Some((n, from)) = recv_until(sock, deadline, &mut buf, protocol).await {
            if from != SocketAddr::V4(to) {
                debug!("{protocol}: ignored a datagram from {from}, expecting {to}");
                stray.get_or_insert(from);
                continue;
            }
            let judged = if n > pcp::MAX_LEN {
                Err(GatewayError::Malformed {
                    protocol,
                    detail: format!("a datagram over {} bytes", pcp::MAX_LEN),
                })
            } else {
                judge(&buf[..n])
            };
            match judged {
                Ok(Some(t)) => return Ok(t),
                Ok(None) => {}
                Err(e @ GatewayError::Malformed { .. }) => {
                    debug!("{protocol}: {e}");
                    bad.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
    }
    Err(bad.unwrap_or_else(|| match stray {
        Some(from) => GatewayError::WrongSource {
            protocol,
            detail: format!("the only answers came from {from}, not from {to}"),
        },
        None => GatewayError::NoAnswer {
            protocol,
            detail: format!(
                "nothing from {to} within {} ms: the gateway is down, or {protocol} is off on it",
                total(waits).as_millis()
            ),
        },
    }))
}

/// The gateway's public address by NAT-PMP: at most [`natpmp_bound`].
pub async fn natpmp_external(gateway: Ipv4Addr) -> Result<Ipv4Addr, GatewayError> {
    let p = Protocol::NatPmp;
    let sock = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
        .await
        .map_err(local(p, "cannot open a UDP socket".into()))?;
    let to = SocketAddrV4::new(gateway, natpmp::SERVER_PORT);
    let answer = exchange(&sock, to, &natpmp::REQUEST, &RETRANSMIT, p, |d| {
        natpmp::parse(d).map(Some)
    })
    .await?;
    debug!(
        "NAT-PMP: {to} reports {} (epoch {})",
        answer.addr, answer.epoch
    );
    judge_reported(p, answer.addr)
}

/// The gateway's public address by PCP: a MAP of one UDP port of ours with a short
/// lifetime, deleted right after. `client` is our LAN address (the packets' source).
/// At most [`pcp_bound`].
pub async fn pcp_external(gateway: Ipv4Addr, client: Ipv4Addr) -> Result<Ipv4Addr, GatewayError> {
    let p = Protocol::Pcp;
    let sock = UdpSocket::bind((client, 0))
        .await
        .map_err(local(p, format!("cannot open a UDP socket on {client}")))?;
    let port = sock
        .local_addr()
        .map_err(local(p, "cannot read the socket's port".into()))?
        .port();
    let nonce = sock::random_nonce().map_err(local(p, "no random nonce".into()))?;
    let to = SocketAddrV4::new(gateway, natpmp::SERVER_PORT);
    let map = pcp::MapRequest {
        nonce,
        client,
        internal_port: port,
        lifetime: PCP_LIFETIME,
    };
    let granted = exchange(&sock, to, &map.encode(), &RETRANSMIT, p, |d| {
        pcp::parse_map_response(d, &map)
    })
    .await?;
    debug!(
        "PCP: {to} reports {} (UDP {port} mapped to port {} for {} s, epoch {})",
        granted.external, granted.external_port, granted.lifetime, granted.epoch
    );
    // The mapping was only a question: delete it now.
    let delete = map.delete();
    let deleted = exchange(&sock, to, &delete.encode(), &DELETE_RETRANSMIT, p, |d| {
        pcp::parse_map_response(d, &delete)
    })
    .await;
    match deleted {
        Ok(_) => debug!("PCP: mapping of UDP {port} deleted"),
        Err(e) => debug!(
            "PCP: the delete of UDP {port} was not confirmed ({e}); the mapping expires in {} s",
            granted.lifetime
        ),
    }
    judge_reported(p, granted.external)
}

/// The gateway's public address by UPnP IGD: M-SEARCH from `interface_addr` (our LAN
/// address), the device description, then `GetExternalIPAddress`. Only plain http to
/// `gateway` itself, no redirects, bounded bodies; at most [`UPNP_BOUND`].
pub async fn upnp_external(
    interface_addr: Ipv4Addr,
    gateway: Ipv4Addr,
) -> Result<Ipv4Addr, GatewayError> {
    match tokio::time::timeout(UPNP_BOUND, upnp(interface_addr, gateway)).await {
        Ok(r) => r,
        Err(_) => Err(GatewayError::NoAnswer {
            protocol: Protocol::Upnp,
            detail: format!(
                "discovery, description and SOAP took over {} s",
                UPNP_BOUND.as_secs()
            ),
        }),
    }
}

async fn upnp(interface_addr: Ipv4Addr, gateway: Ipv4Addr) -> Result<Ipv4Addr, GatewayError> {
    let p = Protocol::Upnp;
    let location = discover(interface_addr, gateway).await?;
    debug!("UPnP: {gateway} describes itself at {location}");
    let client = http_client(interface_addr)?;
    let (status, description) = fetch(
        client.get(location.clone()),
        igd::MAX_DESCRIPTION,
        "device description",
    )
    .await?;
    if status != 200 {
        let redirect = if (300..400).contains(&status) {
            " (redirects are not followed)"
        } else {
            ""
        };
        return Err(GatewayError::Malformed {
            protocol: p,
            detail: format!(
                "the device description at {location} answered HTTP {status}{redirect}"
            ),
        });
    }
    let controls = igd::controls(&description, &location, gateway)?;
    let mut errors = Vec::new();
    for c in controls.iter().take(MAX_CONTROLS) {
        let (action, body) = igd::soap_request(c.service_type);
        let request = client
            .post(c.url.clone())
            .header("Content-Type", "text/xml; charset=\"utf-8\"")
            .header("SOAPAction", action)
            .body(body);
        let answer = fetch(request, igd::MAX_SOAP, "SOAP answer")
            .await
            .and_then(|(status, body)| igd::parse_soap(status, &body));
        match answer {
            Ok(addr) => {
                debug!("UPnP: {} at {} reports {addr}", c.service_type, c.url);
                return judge_reported(p, addr);
            }
            Err(e) => {
                debug!("UPnP: {} at {}: {e}", c.service_type, c.url);
                errors.push(e);
            }
        }
    }
    Err(
        most_telling(errors).unwrap_or_else(|| GatewayError::Unsupported {
            protocol: p,
            detail: "no WAN connection service to ask".into(),
        }),
    )
}

/// Sends M-SEARCH for each of [`SEARCH_TARGETS`] and returns the first valid
/// `LOCATION` from the gateway. Answers from other hosts are ignored.
async fn discover(interface_addr: Ipv4Addr, gateway: Ipv4Addr) -> Result<Url, GatewayError> {
    let p = Protocol::Upnp;
    let sock = UdpSocket::bind((interface_addr, 0)).await.map_err(local(
        p,
        format!("cannot open a UDP socket on {interface_addr}"),
    ))?;
    sock::set_multicast_if(&sock, interface_addr).map_err(local(
        p,
        format!("cannot send multicast from {interface_addr}"),
    ))?;
    // UDA: TTL 2 by default; it only has to reach the LAN.
    sock.set_multicast_ttl_v4(2)
        .map_err(local(p, "cannot set the multicast TTL".into()))?;
    let searches = SEARCH_TARGETS.map(ssdp::msearch);
    let mut buf = vec![0u8; MAX_ANSWER + 1];
    let mut bad: Option<GatewayError> = None;
    for wait in SSDP_WAVES {
        for m in &searches {
            sock.send_to(m.as_bytes(), ssdp::MULTICAST)
                .await
                .map_err(local(
                    p,
                    format!("cannot send M-SEARCH to {}", ssdp::MULTICAST),
                ))?;
        }
        let deadline = Instant::now() + wait;
        while let Some((n, from)) = recv_until(&sock, deadline, &mut buf, p).await {
            if from.ip() != IpAddr::V4(gateway) {
                debug!("UPnP: ignored an SSDP answer from {from}, not the gateway");
                continue;
            }
            match ssdp::parse_answer(&buf[..n], gateway) {
                Ok(Some(url)) => return Ok(url),
                Ok(None) => {}
                Err(e) => {
                    debug!("UPnP: {e}");
                    bad.get_or_insert(e);
                }
            }
        }
    }
    Err(bad.unwrap_or_else(|| GatewayError::NoAnswer {
        protocol: p,
        detail: format!(
            "no SSDP answer from {gateway} within {} ms: the gateway is down, or UPnP is off on it",
            total(&SSDP_WAVES).as_millis()
        ),
    }))
}

fn http_client(interface_addr: Ipv4Addr) -> Result<reqwest::Client, GatewayError> {
    crate::provider::init_tls();
    reqwest::Client::builder()
        .user_agent(crate::provider::USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(HTTP_CONNECT_TIMEOUT)
        .timeout(HTTP_TIMEOUT)
        .pool_max_idle_per_host(0)
        .no_proxy()
        .http1_only()
        .local_address(IpAddr::V4(interface_addr))
        .build()
        .map_err(|e| GatewayError::Local {
            protocol: Protocol::Upnp,
            detail: format!(
                "cannot set up the HTTP client: {}",
                crate::provider::http::chain(&e)
            ),
        })
}

fn transport(e: reqwest::Error, what: &str) -> GatewayError {
    let protocol = Protocol::Upnp;
    if e.is_timeout() {
        GatewayError::NoAnswer {
            protocol,
            detail: format!(
                "the {what} did not arrive within {} s",
                HTTP_TIMEOUT.as_secs()
            ),
        }
    } else if e.is_connect() {
        GatewayError::NoAnswer {
            protocol,
            detail: format!(
                "cannot connect for the {what}: {}",
                crate::provider::http::chain(&e)
            ),
        }
    } else {
        GatewayError::Malformed {
            protocol,
            detail: format!("the {what}: {}", crate::provider::http::chain(&e)),
        }
    }
}

/// Sends `request`; returns the status and at most `limit` bytes of body (more is an
/// error, announced by Content-Length or not).
async fn fetch(
    request: reqwest::RequestBuilder,
    limit: usize,
    what: &str,
) -> Result<(u16, Vec<u8>), GatewayError> {
    let too_big = || GatewayError::Malformed {
        protocol: Protocol::Upnp,
        detail: format!("the {what} is over {} KiB", limit / 1024),
    };
    let mut resp = request.send().await.map_err(|e| transport(e, what))?;
    let status = resp.status().as_u16();
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| transport(e, what))? {
        if body.len() + chunk.len() > limit {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

/// Asks the gateway with PCP, then UPnP IGD, then NAT-PMP, and says which answered.
/// An answer about the upstream itself (no public address, CGNAT) ends the search:
/// the other protocols ask the same box. Otherwise, when all fail, what each did is
/// returned. At most [`external_bound`].
pub async fn external(
    gateway: Ipv4Addr,
    client: Ipv4Addr,
) -> Result<(Protocol, Ipv4Addr), GatewayError> {
    external_preferring(gateway, client, None).await
}

/// The order the protocols are asked in: `known` (the one that answered last time)
/// first; then those whose answer carries proof that it comes from the gateway (PCP
/// echoes our random nonce, UPnP answers over TCP) before NAT-PMP, whose answer any
/// LAN host can forge with the gateway's source address.
pub fn order(known: Option<Protocol>) -> Vec<Protocol> {
    let mut order = vec![Protocol::Pcp, Protocol::Upnp, Protocol::NatPmp];
    if let Some(p) = known {
        order.retain(|o| *o != p);
        order.insert(0, p);
    }
    order
}

/// `external`, asking `known` before the others: the protocol that answered last time,
/// so that a gateway that speaks only UPnP does not cost the other bounds at every
/// change. A NAT-PMP answer from a gateway known to answer PCP or UPnP is refused as
/// [`GatewayError::Suspect`]: another LAN host may have forged it.
pub async fn external_preferring(
    gateway: Ipv4Addr,
    client: Ipv4Addr,
    known: Option<Protocol>,
) -> Result<(Protocol, Ipv4Addr), GatewayError> {
    let start = Instant::now();
    let mut errors = Vec::new();
    let order = order(known);
    for protocol in order {
        let got = match protocol {
            Protocol::NatPmp => natpmp_external(gateway).await,
            Protocol::Pcp => pcp_external(gateway, client).await,
            Protocol::Upnp => upnp_external(client, gateway).await,
        };
        match got {
            Ok(addr) => match known {
                Some(k) if protocol == Protocol::NatPmp && k != Protocol::NatPmp => {
                    return Err(GatewayError::Suspect {
                        known: k,
                        addr,
                        before: errors,
                    });
                }
                _ => return Ok((protocol, addr)),
            },
            Err(e) if e.is_about_upstream() => return Err(e),
            Err(e) => {
                debug!("gateway {gateway}: {e}; trying the next protocol");
                errors.push(e);
            }
        }
    }
    // Every protocol failed: say what each did (which timed out, which refused), not
    // only the most telling one.
    match errors.len() {
        0 => Err(GatewayError::NoAnswer {
            protocol: Protocol::NatPmp,
            detail: "no protocol was tried".into(),
        }),
        1 => Err(errors.remove(0)),
        _ => Err(GatewayError::AllFailed {
            errors,
            took_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
        }),
    }
}
