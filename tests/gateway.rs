//! The gateway address sources against the real miniupnpd (Debian's package) as the
//! upstream router, and against scripted hostile gateways, each in network namespaces
//! of its own (see `support/miniupnpd.rs`). The code under test runs on a tokio
//! runtime on a thread in the "client" namespace, a LAN host behind the router.

mod support;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

use dynhost::gateway::client::{self, RETRANSMIT};
use dynhost::gateway::{
    self, Announced, GatewayError, Listener, Membership, Protocol, accept, natpmp_external,
    pcp_external, upnp_external,
};
use dynhost::policy::Skip;

use support::hostile::{Datagram, Http, HttpServer, SsdpServer, UdpServer};
use support::miniupnpd::{CLIENT, GATEWAY, LAN_IF, Options, PUBLIC, ROGUE, Upstream};

/// The bound of one scenario run in the client (nat.md: about 20 s each).
const SCENARIO: Duration = Duration::from_secs(30);
/// What a shared, loaded machine may add to a timing (the lower bounds are exact).
const SLACK: Duration = Duration::from_secs(1);

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// Runs `body()` on a current-thread runtime in the client namespace, bounded by `limit`.
fn in_client<T, F>(up: &Upstream, limit: Duration, body: impl FnOnce() -> F + Send + 'static) -> T
where
    T: Send + 'static,
    F: Future<Output = T>,
{
    up.in_client(move || runtime().block_on(bounded(limit, body())))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn bounded<T>(limit: Duration, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, f)
        .await
        .unwrap_or_else(|_| panic!("the scenario took over {limit:?}"))
}

/// `f()` and how long it took.
async fn timed<T>(f: impl Future<Output = T>) -> (T, Duration) {
    let start = Instant::now();
    let r = f.await;
    (r, start.elapsed())
}

fn natpmp_bound() -> Duration {
    client::natpmp_bound()
}

fn assert_no_answer<T: std::fmt::Debug>(got: &Result<T, GatewayError>, protocol: Protocol) {
    assert!(
        matches!(got, Err(GatewayError::NoAnswer { protocol: p, .. }) if *p == protocol),
        "want NoAnswer from {protocol}, got {got:?}"
    );
}

// --- The real miniupnpd, one protocol at a time -------------------------------------

#[test]
fn natpmp_reads_the_public_address_from_miniupnpd() {
    let up = Upstream::start(Options::natpmp_only());
    let ((natpmp, took), pcp) = in_client(&up, SCENARIO, || async {
        let natpmp = timed(natpmp_external(GATEWAY)).await;
        (natpmp, pcp_external(GATEWAY, CLIENT).await)
    });
    assert_eq!(natpmp, Ok(PUBLIC));
    assert!(took < SLACK, "took {took:?}");
    assert!(
        up.log().contains("NAT-PMP public address request"),
        "{}",
        up.log()
    );
    // PCP is filtered out in this configuration: the NAT-PMP answer did not come from it.
    assert_no_answer(&pcp, Protocol::Pcp);
}

#[test]
fn pcp_maps_reads_and_deletes() {
    let mut up = Upstream::start(Options::pcp_only());
    let ((pcp, took), natpmp) = in_client(&up, SCENARIO, || async {
        let pcp = timed(pcp_external(GATEWAY, CLIENT)).await;
        (pcp, natpmp_external(GATEWAY).await)
    });
    assert_eq!(pcp, Ok(PUBLIC));
    assert!(took < SLACK, "took {took:?}");
    assert_no_answer(&natpmp, Protocol::NatPmp);
    // The MAP made a forwarding, and the delete removed it.
    up.wait_log("PCP MAP: added mapping", Duration::from_secs(2));
    up.wait_log("mapping removed", Duration::from_secs(2));
    let mappings = up.mappings();
    assert!(!mappings.contains("dnat"), "a mapping is left:\n{mappings}");
}

#[test]
fn upnp_reads_the_public_address_from_miniupnpd() {
    let up = Upstream::start(Options::upnp_only());
    let ((upnp, took), natpmp) = in_client(&up, SCENARIO, || async {
        let upnp = timed(upnp_external(CLIENT, GATEWAY)).await;
        (upnp, natpmp_external(GATEWAY).await)
    });
    assert_eq!(upnp, Ok(PUBLIC));
    assert!(took < SLACK + SLACK, "took {took:?}");
    assert_no_answer(&natpmp, Protocol::NatPmp);
}

// --- external(): PCP, then UPnP, then NAT-PMP (proof first) --------------------------

#[test]
fn external_prefers_pcp() {
    let mut up = Upstream::start(Options::all());
    let (got, took) = in_client(&up, SCENARIO, || timed(gateway::external(GATEWAY, CLIENT)));
    assert_eq!(got, Ok((Protocol::Pcp, PUBLIC)));
    assert!(took < SLACK, "took {took:?}");
    eprintln!("external() answered by PCP in {took:?}");
    up.wait_log("mapping removed", Duration::from_secs(2));
}

#[test]
fn external_falls_through_to_upnp() {
    let up = Upstream::start(Options::upnp_only());
    let (got, took) = in_client(&up, SCENARIO, || timed(gateway::external(GATEWAY, CLIENT)));
    assert_eq!(got, Ok((Protocol::Upnp, PUBLIC)));
    // PCP was given its whole bound first.
    assert!(took >= natpmp_bound(), "took {took:?}");
    assert!(
        took < natpmp_bound() + Duration::from_secs(2),
        "took {took:?}"
    );
}

#[test]
fn external_asks_natpmp_last_and_a_known_protocol_first() {
    let up = Upstream::start(Options::natpmp_only());
    let (got, took) = in_client(&up, SCENARIO, || timed(gateway::external(GATEWAY, CLIENT)));
    assert_eq!(got, Ok((Protocol::NatPmp, PUBLIC)));
    assert!(took >= natpmp_bound(), "PCP and UPnP first: took {took:?}");
    // Known to answer NAT-PMP: asked first, at once.
    let (got, took) = in_client(&up, SCENARIO, || {
        timed(gateway::external_preferring(
            GATEWAY,
            CLIENT,
            Some(Protocol::NatPmp),
        ))
    });
    assert_eq!(got, Ok((Protocol::NatPmp, PUBLIC)));
    assert!(took < SLACK, "took {took:?}");
    // Known to answer PCP: a NAT-PMP answer is suspect, not taken.
    let got = in_client(&up, SCENARIO, || {
        gateway::external_preferring(GATEWAY, CLIENT, Some(Protocol::Pcp))
    });
    match got {
        Err(e @ GatewayError::Suspect { .. }) => {
            assert!(e.to_string().contains("this gateway answers PCP"), "{e}")
        }
        other => panic!("want Suspect, got {other:?}"),
    }
}

// --- Announcements -------------------------------------------------------------------

#[test]
fn set_public_is_announced_by_natpmp_and_pcp() {
    let up = Upstream::start(Options::all());
    let new = ip("198.51.100.23");
    let ifindex = up.client.ifindex(LAN_IF);
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let listener = up.client.spawn(move || {
        runtime().block_on(bounded(SCENARIO, async move {
            let mut l = Listener::bind(Membership::Index(ifindex)).unwrap();
            ready_tx.send(()).unwrap();
            let mut got = Vec::new();
            // Both kinds, then a second more to see whether anything else comes.
            let both = |got: &Vec<(Instant, gateway::Announcement)>| {
                got.iter()
                    .any(|(_, a)| matches!(a.announced, Announced::NatPmp { .. }))
                    && got
                        .iter()
                        .any(|(_, a)| matches!(a.announced, Announced::Pcp { .. }))
            };
            while !both(&got) {
                let a = bounded(Duration::from_secs(10), l.next()).await;
                got.push((Instant::now(), a));
            }
            while let Ok(a) = tokio::time::timeout(Duration::from_secs(1), l.next()).await {
                got.push((Instant::now(), a));
            }
            let asked = natpmp_external(GATEWAY).await;
            (got, l.dropped(), asked)
        }))
    });
    // A plain socket on 5351 too: miniupnpd also sends the NAT-PMP packet there (the
    // 2006 draft's port), but not the PCP ANNOUNCE.
    let old_port = up
        .client
        .run(|| UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 5351)).unwrap());
    ready.recv_timeout(Duration::from_secs(5)).unwrap();
    let sent = Instant::now();
    up.set_public(new);
    let (got, dropped, asked) = listener.join().unwrap();
    old_port.set_nonblocking(true).unwrap();
    let mut on_5351 = Vec::new();
    let mut buf = [0u8; 1500];
    while let Ok((n, from)) = old_port.recv_from(&mut buf) {
        on_5351.push((from, buf[..n].to_vec()));
    }
    let mut want_5351 = vec![0, 128, 0, 0, 0, 0, 0, 0];
    want_5351.extend(new.octets());
    assert_eq!(on_5351.len(), 1, "{on_5351:?}");
    assert_eq!(on_5351[0].0, SocketAddr::from((GATEWAY, 5351)));
    // (The epoch bytes 4..8 are seconds since miniupnpd started.)
    assert_eq!(
        (&on_5351[0].1[..4], &on_5351[0].1[8..]),
        (&want_5351[..4], &want_5351[8..])
    );
    for (at, a) in &got {
        eprintln!(
            "SIGUSR1 -> {:?} from {} after {:?}",
            a.announced,
            a.src,
            *at - sent
        );
    }
    let from_gateway = SocketAddr::from((GATEWAY, 5351));
    let natpmp: Vec<_> = got
        .iter()
        .filter(|(_, a)| matches!(a.announced, Announced::NatPmp { .. }))
        .collect();
    let pcp: Vec<_> = got
        .iter()
        .filter(|(_, a)| matches!(a.announced, Announced::Pcp { .. }))
        .collect();
    // miniupnpd sends one of each per change (not the RFC's ten), from its port 5351.
    assert_eq!(natpmp.len(), 1, "{got:?}");
    assert_eq!(pcp.len(), 1, "{got:?}");
    let (_, n) = natpmp[0];
    assert!(
        matches!(n.announced, Announced::NatPmp { addr, .. } if addr == new),
        "{n:?}"
    );
    assert_eq!(n.src, from_gateway);
    assert!(accept(n.src, GATEWAY));
    let (_, p) = pcp[0];
    assert_eq!(p.src, from_gateway);
    assert!(accept(p.src, GATEWAY));
    assert_eq!(dropped, 0);
    assert_eq!(asked, Ok(new));
    assert!(
        up.stun_requests() >= 8,
        "STUN asked at start and after SIGUSR1"
    );
}

#[test]
fn a_restarted_miniupnpd_sends_a_pcp_announce() {
    let mut up = Upstream::start(Options::all());
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let listener = up.client.spawn(move || {
        runtime().block_on(bounded(SCENARIO, async move {
            let mut l = Listener::bind(Membership::Addr(CLIENT)).unwrap();
            ready_tx.send(()).unwrap();
            let mut got = Vec::new();
            let start = Instant::now();
            while let Ok(a) = tokio::time::timeout(Duration::from_secs(4), l.next()).await {
                got.push((start.elapsed(), a));
            }
            got
        }))
    });
    ready.recv_timeout(Duration::from_secs(5)).unwrap();
    up.restart();
    let got = listener.join().unwrap();
    eprintln!("after a restart: {got:?}");
    // miniupnpd 2.3.1 announces its start with a PCP ANNOUNCE only; the NAT-PMP
    // address announcement comes with changes (SIGUSR1, its WAN address).
    let pcp = got
        .iter()
        .filter(|(_, a)| a.announced == Announced::Pcp { epoch: 0 } && accept(a.src, GATEWAY))
        .count();
    assert_eq!(pcp, 1, "{got:?}");
}

#[test]
fn announcements_from_another_lan_host_are_rejected() {
    let up = Upstream::start(Options::no_daemon());
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let listener = up.client.spawn(move || {
        runtime().block_on(bounded(SCENARIO, async move {
            let mut l = Listener::bind(Membership::Addr(CLIENT)).unwrap();
            ready_tx.send(()).unwrap();
            let first = l.next().await;
            let second = l.next().await;
            (first, second, l.dropped())
        }))
    });
    ready.recv_timeout(Duration::from_secs(5)).unwrap();
    let all_hosts = SocketAddrV4::new(ip("224.0.0.1"), 5350);
    let spoof = [0, 128, 0, 0, 0, 0, 0, 9, 198, 51, 100, 66];
    // The other LAN host: garbage (dropped and counted), then a well-formed announcement.
    up.rogue.run(move || {
        let s = UdpSocket::bind((ROGUE, 5351)).unwrap();
        s.send_to(b"\x00\x80garbage", all_hosts).unwrap();
        s.send_to(&spoof, all_hosts).unwrap();
    });
    std::thread::sleep(Duration::from_millis(300));
    // Then the gateway itself, over the same path.
    up.router.run(move || {
        let s = UdpSocket::bind((GATEWAY, 5351)).unwrap();
        s.send_to(&[0, 128, 0, 0, 0, 0, 0, 10, 203, 0, 113, 9], all_hosts)
            .unwrap();
    });
    let (first, second, dropped) = listener.join().unwrap();
    assert_eq!(first.src, SocketAddr::from((ROGUE, 5351)));
    assert_eq!(
        first.announced,
        Announced::NatPmp {
            epoch: 9,
            addr: ip("198.51.100.66")
        }
    );
    assert!(
        !accept(first.src, GATEWAY),
        "the rogue's announcement was accepted"
    );
    assert_eq!(second.src, SocketAddr::from((GATEWAY, 5351)));
    assert!(accept(second.src, GATEWAY));
    assert_eq!(dropped, 1);
}

// --- Faults of the real miniupnpd --------------------------------------------------

#[test]
fn a_stopped_miniupnpd_gives_no_answer_within_the_bound() {
    let mut up = Upstream::start(Options::all());
    let before = in_client(&up, SCENARIO, || natpmp_external(GATEWAY));
    assert_eq!(before, Ok(PUBLIC));
    up.stop();
    let ((natpmp, took), (all, took_all)) = in_client(&up, SCENARIO, || async {
        (
            timed(natpmp_external(GATEWAY)).await,
            timed(gateway::external(GATEWAY, CLIENT)).await,
        )
    });
    assert_no_answer(&natpmp, Protocol::NatPmp);
    let bound = natpmp_bound();
    assert!(took >= bound && took < bound + SLACK, "took {took:?}");
    let e = all.unwrap_err();
    assert!(matches!(e, GatewayError::AllFailed { .. }), "{e:?}");
    for p in ["PCP", "UPnP IGD", "NAT-PMP"] {
        assert!(
            e.to_string()
                .contains(&format!("{p}: no answer from the gateway")),
            "{e}"
        );
    }
    assert!(took_all < client::external_bound(), "took {took_all:?}");
    eprintln!("external() on a silent gateway: {took_all:?}: {e}");
}

#[test]
fn result_3_is_no_public_address() {
    // No STUN: miniupnpd reads wan0, a documentation address 2.3.1 refuses.
    let mut up = Upstream::start(Options::all().without_stun());
    up.wait_log(
        "Reserved / private IP address 192.0.2.2",
        Duration::from_secs(1),
    );
    let (natpmp, (all, took), pcp, upnp) = in_client(&up, SCENARIO, || async {
        (
            natpmp_external(GATEWAY).await,
            timed(gateway::external(GATEWAY, CLIENT)).await,
            pcp_external(GATEWAY, CLIENT).await,
            upnp_external(CLIENT, GATEWAY).await,
        )
    });
    let e = natpmp.unwrap_err();
    assert!(
        matches!(
            e,
            GatewayError::NoPublicAddress {
                protocol: Protocol::NatPmp,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .contains("the gateway has no public address (NAT-PMP result 3"),
        "{e}"
    );
    // external() asks PCP (refused), then UPnP, and stops at its "no public address":
    // NAT-PMP would ask the same box.
    assert_eq!(all.map(|(_, a)| a), upnp.clone());
    assert!(took < SLACK, "took {took:?}");
    // miniupnpd's PCP says NO_RESOURCES in this state; its SOAP, an empty address.
    assert!(
        matches!(
            pcp,
            Err(GatewayError::ResultCode {
                protocol: Protocol::Pcp,
                code: 8,
                ..
            })
        ),
        "{pcp:?}"
    );
    assert!(
        matches!(
            upnp,
            Err(GatewayError::NoPublicAddress {
                protocol: Protocol::Upnp,
                ..
            })
        ),
        "{upnp:?}"
    );
}

#[test]
fn a_cgnat_address_is_reported_as_cgnat() {
    let cgnat = ip("100.64.1.2");
    let up = Upstream::start(Options::all().public(cgnat));
    let got = in_client(&up, SCENARIO, || async {
        vec![
            natpmp_external(GATEWAY).await,
            pcp_external(GATEWAY, CLIENT).await,
            upnp_external(CLIENT, GATEWAY).await,
            gateway::external(GATEWAY, CLIENT).await.map(|(_, a)| a),
        ]
    });
    let want = [
        Protocol::NatPmp,
        Protocol::Pcp,
        Protocol::Upnp,
        // external() asks PCP first and stops at its answer about the upstream.
        Protocol::Pcp,
    ];
    for (got, protocol) in got.into_iter().zip(want) {
        let e = got.unwrap_err();
        assert_eq!(
            e,
            GatewayError::NotPublic {
                protocol,
                addr: cgnat,
                reason: Skip::SharedCgnat
            }
        );
        assert!(
            e.to_string()
                .ends_with("the upstream is behind CGNAT; use IPv6 or the web source"),
            "{e}"
        );
    }
    // The PCP mapping behind the answer was still deleted.
    assert!(!up.mappings().contains("dnat"), "{}", up.mappings());
}

// --- Hostile gateways: servers of our own in the router namespace ------------------

/// The expected outcome of one hostile scenario: the address, or an error whose text
/// contains the needle; and how long it may take.
struct Case {
    what: &'static str,
    want: Result<Ipv4Addr, &'static str>,
    took: std::ops::Range<Duration>,
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn check(case: &Case, got: &Result<Ipv4Addr, GatewayError>, took: Duration) {
    match (&case.want, got) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{}", case.what),
        (Err(needle), Err(e)) => {
            assert!(e.to_string().contains(needle), "{}: {e}", case.what)
        }
        (want, got) => panic!("{}: want {want:?}, got {got:?}", case.what),
    }
    assert!(
        case.took.contains(&took),
        "{}: took {took:?}, expected {:?}",
        case.what,
        case.took
    );
}

/// Addresses 192.168.77.<first + i> for `n` scenarios, added to `dev` in `ns`.
fn addresses(ns: &support::miniupnpd::Netns, dev: &str, first: u8, n: usize) -> Vec<Ipv4Addr> {
    let addrs: Vec<Ipv4Addr> = (0..n)
        .map(|i| Ipv4Addr::new(192, 168, 77, first + i as u8))
        .collect();
    ns.ip_batch(
        &addrs
            .iter()
            .map(|a| format!("addr add {a}/24 dev {dev}"))
            .collect::<Vec<_>>(),
    );
    addrs
}

fn natpmp_answer(result: u16, addr: Ipv4Addr) -> Vec<u8> {
    let mut p = vec![0, 128];
    p.extend(result.to_be_bytes());
    p.extend(5u32.to_be_bytes());
    p.extend(addr.octets());
    p
}

#[test]
fn hostile_natpmp_gateways() {
    let up = Upstream::start(Options::no_daemon());
    let bound = natpmp_bound();
    let third = RETRANSMIT[0] + RETRANSMIT[1];
    let elsewhere = Ipv4Addr::new(192, 168, 77, 99);
    up.router
        .ip(&["addr", "add", "192.168.77.99/24", "dev", "br-lan"]);
    let good = natpmp_answer(0, PUBLIC);
    type Script = Box<support::hostile::UdpScript>;
    let only =
        |bytes: Vec<u8>| -> Script { Box::new(move |_, _| vec![Datagram::now(bytes.clone())]) };
    let mut trailing = good.clone();
    trailing.push(0);
    let scenarios: Vec<(Case, Script)> = vec![
        (
            Case {
                what: "answers only the third request",
                want: Ok(PUBLIC),
                took: third..third + SLACK,
            },
            {
                let g = good.clone();
                Box::new(move |n, _| {
                    if n >= 3 {
                        vec![Datagram::now(g.clone())]
                    } else {
                        vec![]
                    }
                })
            },
        ),
        (
            Case {
                what: "answers 1.2 s late",
                want: Ok(PUBLIC),
                took: ms(1200)..ms(1200) + SLACK,
            },
            {
                let g = good.clone();
                Box::new(move |n, _| {
                    if n == 1 {
                        vec![Datagram::after(ms(1200), g.clone())]
                    } else {
                        vec![]
                    }
                })
            },
        ),
        (
            Case {
                what: "garbage, then a good answer",
                want: Ok(PUBLIC),
                took: RETRANSMIT[0]..third,
            },
            {
                let g = good.clone();
                Box::new(move |n, _| {
                    vec![Datagram::now(if n == 1 {
                        b"\xde\xad\xbe\xef".to_vec()
                    } else {
                        g.clone()
                    })]
                })
            },
        ),
        (
            Case {
                what: "garbage",
                want: Err("malformed answer from the gateway: version 222"),
                took: bound..bound + SLACK,
            },
            only(b"\xde\xad\xbe\xefgarbage".to_vec()),
        ),
        (
            Case {
                what: "wrong opcode",
                want: Err("opcode 129, expected 128"),
                took: bound..bound + SLACK,
            },
            only({
                let mut p = good.clone();
                p[1] = 129;
                p
            }),
        ),
        (
            Case {
                what: "wrong version",
                want: Err("version 1, expected 0"),
                took: bound..bound + SLACK,
            },
            only({
                let mut p = good.clone();
                p[0] = 1;
                p
            }),
        ),
        (
            Case {
                what: "trailing bytes",
                want: Err("13 bytes, expected 12"),
                took: bound..bound + SLACK,
            },
            only(trailing),
        ),
        (
            Case {
                what: "a huge datagram",
                want: Err("a datagram over 1100 bytes"),
                took: bound..bound + SLACK,
            },
            only(vec![0u8; 60000]),
        ),
        (
            Case {
                what: "answers from another address",
                want: Err("the only answers came from 192.168.77.99:5351"),
                took: bound..bound + SLACK,
            },
            {
                let g = good.clone();
                Box::new(move |_, _| {
                    vec![Datagram::from(
                        SocketAddr::from((elsewhere, 5351)),
                        g.clone(),
                    )]
                })
            },
        ),
        (
            Case {
                what: "silent",
                want: Err("nothing from 192.168.77.19:5351 within 3750 ms"),
                took: bound..bound + SLACK,
            },
            Box::new(|_, _| vec![]),
        ),
        (
            Case {
                what: "result 3",
                want: Err("no public address (NAT-PMP result 3"),
                took: ms(0)..SLACK,
            },
            only(natpmp_answer(3, Ipv4Addr::UNSPECIFIED)),
        ),
        (
            Case {
                what: "result 2",
                want: Err("result code 2 (not authorized"),
                took: ms(0)..SLACK,
            },
            only(natpmp_answer(2, Ipv4Addr::UNSPECIFIED)),
        ),
        (
            Case {
                what: "a private address",
                want: Err("10.0.0.1, which is private (RFC 1918): the upstream is behind CGNAT"),
                took: ms(0)..SLACK,
            },
            only(natpmp_answer(0, ip("10.0.0.1"))),
        ),
        (
            Case {
                what: "0.0.0.0",
                want: Err("no public address (it reports 0.0.0.0)"),
                took: ms(0)..SLACK,
            },
            only(natpmp_answer(0, Ipv4Addr::UNSPECIFIED)),
        ),
        (
            Case {
                what: "a PCP-only server",
                want: Err("answered in PCP"),
                took: ms(0)..SLACK,
            },
            only([2, 0x80, 0, 1].iter().copied().chain([0; 20]).collect()),
        ),
    ];
    let addrs = addresses(&up.router, "br-lan", 10, scenarios.len() + 1);
    // One more: answers from the right address but another port.
    let port_gw = addrs[scenarios.len()];
    let mut servers: Vec<UdpServer> = Vec::new();
    let mut cases = Vec::new();
    for ((case, script), addr) in scenarios.into_iter().zip(&addrs) {
        servers.push(UdpServer::start(
            &up.router,
            SocketAddr::from((*addr, 5351)),
            script,
        ));
        cases.push((case, *addr));
    }
    let g = good.clone();
    servers.push(UdpServer::start(
        &up.router,
        SocketAddr::from((port_gw, 5351)),
        Box::new(move |_, _| vec![Datagram::from(SocketAddr::from((port_gw, 5352)), g.clone())]),
    ));
    cases.push((
        Case {
            what: "answers from another port",
            want: Err("came from 192.168.77.25:5352, not from 192.168.77.25:5351"),
            took: bound..bound + SLACK,
        },
        port_gw,
    ));
    let gws: Vec<Ipv4Addr> = cases.iter().map(|(_, a)| *a).collect();
    let results = in_client(&up, SCENARIO, move || {
        futures::future::join_all(gws.into_iter().map(|gw| timed(natpmp_external(gw))))
    });
    for ((case, _), (got, took)) in cases.iter().zip(&results) {
        check(case, got, *took);
    }
    // The request was the two bytes 00 00, and retransmitted on schedule.
    let silent = &servers[9].requests();
    assert_eq!(
        silent.len(),
        RETRANSMIT.len(),
        "the silent gateway got {silent:?}"
    );
    assert!(silent.iter().all(|(_, r)| r == &[0, 0]));
    for (i, pair) in silent.windows(2).enumerate() {
        let gap = pair[1].0 - pair[0].0;
        assert!(
            gap >= RETRANSMIT[i] && gap < RETRANSMIT[i] + ms(250),
            "gap {i}: {gap:?}"
        );
    }
    assert_eq!(servers[0].requests().len(), 3);
}

/// A PCP MAP response to `req` (a 60-byte MAP request): `result`, external address
/// `ext` (16 bytes), lifetime as asked but at least 120 s (0 stays 0), like miniupnpd.
fn pcp_answer(req: &[u8], result: u8, ext: [u8; 16]) -> Vec<u8> {
    let mut r = vec![0u8; 60];
    if req.len() < 60 {
        return r;
    }
    r[0] = 2;
    r[1] = 0x81;
    r[3] = result;
    let asked = u32::from_be_bytes([req[4], req[5], req[6], req[7]]);
    let granted = if asked == 0 { 0 } else { asked.max(120) };
    r[4..8].copy_from_slice(&granted.to_be_bytes());
    r[8..12].copy_from_slice(&7u32.to_be_bytes());
    r[24..60].copy_from_slice(&req[24..60]);
    r[42..44].copy_from_slice(&req[40..42]);
    r[44..60].copy_from_slice(&ext);
    r
}

fn mapped(a: Ipv4Addr) -> [u8; 16] {
    a.to_ipv6_mapped().octets()
}

#[test]
fn hostile_pcp_gateways() {
    let up = Upstream::start(Options::no_daemon());
    let bound = natpmp_bound();
    let delete_bound: Duration = client::DELETE_RETRANSMIT.iter().sum();
    type Script = Box<support::hostile::UdpScript>;
    let answer = |edit: fn(&mut Vec<u8>)| -> Script {
        Box::new(move |_, req| {
            let mut r = pcp_answer(req, 0, mapped(PUBLIC));
            edit(&mut r);
            vec![Datagram::now(r)]
        })
    };
    let scenarios: Vec<(Case, Script)> = vec![
        (
            Case {
                what: "a good server",
                want: Ok(PUBLIC),
                took: ms(0)..SLACK,
            },
            answer(|_| {}),
        ),
        (
            Case {
                what: "never confirms the delete",
                want: Ok(PUBLIC),
                took: delete_bound..delete_bound + SLACK,
            },
            Box::new(|n, req| {
                if n == 1 {
                    vec![Datagram::now(pcp_answer(req, 0, mapped(PUBLIC)))]
                } else {
                    vec![]
                }
            }),
        ),
        (
            Case {
                what: "another nonce",
                want: Err("nothing from 192.168.77.32:5351"),
                took: bound..bound + SLACK,
            },
            answer(|r| r[24] ^= 0xff),
        ),
        (
            Case {
                what: "R bit clear",
                want: Err("R bit clear"),
                took: bound..bound + SLACK,
            },
            answer(|r| r[1] = 0x01),
        ),
        (
            Case {
                what: "a PEER answer",
                want: Err("opcode 2, expected 1"),
                took: bound..bound + SLACK,
            },
            answer(|r| r[1] = 0x82),
        ),
        (
            Case {
                what: "an odd length",
                want: Err("61 bytes"),
                took: bound..bound + SLACK,
            },
            answer(|r| r.push(0)),
        ),
        (
            Case {
                what: "a NAT-PMP-only server",
                want: Err("answered in NAT-PMP (version 0)"),
                took: ms(0)..SLACK,
            },
            Box::new(|_, _| vec![Datagram::now(vec![0, 129, 0, 1, 0, 0, 0, 5])]),
        ),
        (
            Case {
                what: "NOT_AUTHORIZED",
                want: Err("result code 2 (not authorized"),
                took: ms(0)..SLACK,
            },
            Box::new(|_, req| vec![Datagram::now(pcp_answer(req, 2, mapped(PUBLIC)))]),
        ),
        (
            Case {
                what: "NETWORK_FAILURE",
                want: Err("no public address (PCP result 7"),
                took: ms(0)..SLACK,
            },
            Box::new(|_, req| vec![Datagram::now(pcp_answer(req, 7, mapped(PUBLIC)))]),
        ),
        (
            Case {
                what: "an IPv6 external address",
                want: Err("2001:db8::1 is not IPv4"),
                took: bound..bound + SLACK,
            },
            Box::new(|_, req| {
                vec![Datagram::now(pcp_answer(
                    req,
                    0,
                    "2001:db8::1"
                        .parse::<std::net::Ipv6Addr>()
                        .unwrap()
                        .octets(),
                ))]
            }),
        ),
        (
            Case {
                what: "a header-only success",
                want: Err("24 bytes, a MAP response has 60"),
                took: bound..bound + SLACK,
            },
            answer(|r| r.truncate(24)),
        ),
        (
            Case {
                what: "a CGNAT address",
                want: Err("the upstream is behind CGNAT"),
                took: ms(0)..SLACK,
            },
            Box::new(|_, req| vec![Datagram::now(pcp_answer(req, 0, mapped(ip("100.100.1.1"))))]),
        ),
    ];
    let addrs = addresses(&up.router, "br-lan", 30, scenarios.len());
    let mut servers = Vec::new();
    let mut cases = Vec::new();
    for ((case, script), addr) in scenarios.into_iter().zip(&addrs) {
        servers.push(UdpServer::start(
            &up.router,
            SocketAddr::from((*addr, 5351)),
            script,
        ));
        cases.push(case);
    }
    let gws = addrs.clone();
    let results = in_client(&up, SCENARIO, move || {
        futures::future::join_all(gws.into_iter().map(|gw| timed(pcp_external(gw, CLIENT))))
    });
    for (case, (got, took)) in cases.iter().zip(&results) {
        check(case, got, *took);
    }
    // The good server saw the MAP, then its delete: same nonce, protocol and port,
    // lifetime 0, from our own address.
    let reqs = servers[0].requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    let (map, del) = (&reqs[0].1, &reqs[1].1);
    assert_eq!((map.len(), map[0], map[1]), (60, 2, 1));
    assert_eq!(&map[4..8], &client::PCP_LIFETIME.to_be_bytes());
    assert_eq!(&map[8..24], &mapped(CLIENT));
    assert_eq!(&del[4..8], &[0, 0, 0, 0]);
    assert_eq!(&del[8..], &map[8..]);
    // A CGNAT answer still gets its mapping deleted.
    assert_eq!(servers[11].requests().len(), 2);
    // Nonces are fresh per query.
    assert_ne!(
        &servers[0].requests()[0].1[24..36],
        &servers[1].requests()[0].1[24..36]
    );
}

const IGD: &str = "urn:schemas-upnp-org:device:InternetGatewayDevice:1";
const WAN_IP1: &str = "urn:schemas-upnp-org:service:WANIPConnection:1";

fn ssdp_answer(location: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: {IGD}\r\nUSN: uuid:1::{IGD}\r\n\
         EXT:\r\nSERVER: hostile/1 UPnP/1.1\r\nLOCATION: {location}\r\n\r\n"
    )
    .into_bytes()
}

fn description(control: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><root xmlns=\"urn:schemas-upnp-org:device-1-0\"><device>\
         <deviceType>{IGD}</deviceType><deviceList><device><deviceList><device><serviceList>\
         <service><serviceType>{WAN_IP1}</serviceType><controlURL>{control}</controlURL></service>\
         </serviceList></device></deviceList></device></deviceList></device></root>"
    )
}

fn soap(addr: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">\
         <s:Body><u:GetExternalIPAddressResponse xmlns:u=\"{WAN_IP1}\"><NewExternalIPAddress>{addr}\
         </NewExternalIPAddress></u:GetExternalIPAddressResponse></s:Body></s:Envelope>"
    )
}

const XML: &str = "text/xml; charset=\"utf-8\"";

/// What one hostile UPnP gateway does: its SSDP answer (`None`: silent; the location
/// `{gw}` is replaced by its address), and its HTTP description and SOAP answers.
struct Igd {
    case: Case,
    ssdp: Option<Vec<u8>>,
    desc: Http,
    soap: Http,
}

fn igd(case: Case, desc: Http, soap: Http) -> Igd {
    Igd {
        case,
        ssdp: Some(ssdp_answer("http://{gw}:8000/desc.xml")),
        desc,
        soap,
    }
}

#[test]
fn hostile_upnp_gateways() {
    let up = Upstream::start(Options::no_daemon());
    let good_desc = || Http::ok(XML, &description("/ctl"));
    let good_soap = || Http::ok(XML, &soap("203.0.113.7"));
    let http_timeout = client::HTTP_TIMEOUT;
    let ssdp_wait: Duration = client::SSDP_WAVES.iter().sum();
    let fast = ms(0)..ms(1000);
    let big = 1 << 20;
    let mut huge_ssdp = ssdp_answer("http://{gw}:8000/desc.xml");
    huge_ssdp.truncate(huge_ssdp.len() - 2);
    huge_ssdp.extend(format!("X-PAD: {}\r\n\r\n", "a".repeat(5000)).into_bytes());
    let scenarios: Vec<Igd> = vec![
        igd(
            Case {
                what: "a good IGD",
                want: Ok(PUBLIC),
                took: fast.clone(),
            },
            good_desc(),
            good_soap(),
        ),
        Igd {
            ssdp: Some(huge_ssdp),
            ..igd(
                Case {
                    what: "a huge SSDP answer",
                    want: Err("SSDP answer over 4096 bytes"),
                    took: ssdp_wait..ssdp_wait + SLACK,
                },
                good_desc(),
                good_soap(),
            )
        },
        Igd {
            ssdp: Some(ssdp_answer("http://192.0.2.9:8000/desc.xml")),
            ..igd(
                Case {
                    what: "a LOCATION elsewhere",
                    want: Err("points to another host than the gateway"),
                    took: ssdp_wait..ssdp_wait + SLACK,
                },
                good_desc(),
                good_soap(),
            )
        },
        Igd {
            ssdp: Some(ssdp_answer("https://{gw}:8000/desc.xml")),
            ..igd(
                Case {
                    what: "an https LOCATION",
                    want: Err("is not plain http"),
                    took: ssdp_wait..ssdp_wait + SLACK,
                },
                good_desc(),
                good_soap(),
            )
        },
        Igd {
            ssdp: Some(format!("HTTP/1.1 200 OK\r\nST: {IGD}\r\n\r\n").into_bytes()),
            ..igd(
                Case {
                    what: "no LOCATION",
                    want: Err("SSDP answer without LOCATION"),
                    took: ssdp_wait..ssdp_wait + SLACK,
                },
                good_desc(),
                good_soap(),
            )
        },
        Igd {
            ssdp: None,
            ..igd(
                Case {
                    what: "no SSDP answer",
                    want: Err("no SSDP answer from 192.168.77.55 within 2000 ms"),
                    took: ssdp_wait..ssdp_wait + SLACK,
                },
                good_desc(),
                good_soap(),
            )
        },
        igd(
            Case {
                what: "a description announced as 1 MiB",
                want: Err("the device description is over 64 KiB"),
                took: fast.clone(),
            },
            Http::Stream {
                head: format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {big}\r\n\r\n"
                ),
                total: big,
            },
            good_soap(),
        ),
        igd(
            Case {
                what: "a description streamed past 64 KiB",
                want: Err("the device description is over 64 KiB"),
                took: fast.clone(),
            },
            Http::Stream {
                head: "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nConnection: close\r\n\r\n"
                    .into(),
                total: big,
            },
            good_soap(),
        ),
        igd(
            Case {
                what: "a description that never comes",
                want: Err("the device description did not arrive within 3 s"),
                took: http_timeout..http_timeout + SLACK,
            },
            Http::Hang(None),
            good_soap(),
        ),
        igd(
            Case {
                what: "a description that drips",
                want: Err("did not arrive within 3 s"),
                took: http_timeout..http_timeout + SLACK,
            },
            Http::Drip {
                head: "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n".into(),
                body: description("/ctl").into_bytes(),
                every: ms(50),
            },
            good_soap(),
        ),
        igd(
            Case {
                what: "a redirected description",
                want: Err("answered HTTP 302 (redirects are not followed)"),
                took: fast.clone(),
            },
            Http::Raw(
                b"HTTP/1.1 302 Found\r\nLocation: /moved.xml\r\nContent-Length: 0\r\n\r\n".to_vec(),
            ),
            good_soap(),
        ),
        igd(
            Case {
                what: "an HTML page",
                want: Err("the root element is <html>, not <root>"),
                took: fast.clone(),
            },
            Http::ok("text/html", "<html><body>Welcome</body></html>"),
            good_soap(),
        ),
        igd(
            Case {
                what: "a control URL elsewhere",
                want: Err("the control URL http://192.0.2.9/ctl points to another host"),
                took: fast.clone(),
            },
            Http::ok(XML, &description("http://192.0.2.9/ctl")),
            good_soap(),
        ),
        igd(
            Case {
                what: "a huge SOAP answer",
                want: Err("the SOAP answer is over 16 KiB"),
                took: fast.clone(),
            },
            good_desc(),
            Http::Stream {
                head: "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".into(),
                total: big,
            },
        ),
        igd(
            Case {
                what: "a SOAP answer that never comes",
                want: Err("the SOAP answer did not arrive within 3 s"),
                took: http_timeout..http_timeout + SLACK,
            },
            good_desc(),
            Http::Hang(Some(
                "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n<s:Envelope".into(),
            )),
        ),
        igd(
            Case {
                what: "a SOAP fault",
                want: Err(
                    "does not offer it (GetExternalIPAddress: UPnP error 401 Invalid Action)",
                ),
                took: fast.clone(),
            },
            good_desc(),
            Http::status(
                500,
                XML,
                "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError><errorCode>401</errorCode><errorDescription>Invalid Action</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>",
            ),
        ),
        igd(
            Case {
                what: "garbage SOAP",
                want: Err("the SOAP answer is not usable XML"),
                took: fast.clone(),
            },
            good_desc(),
            Http::ok(XML, "<s:Envelope><unclosed>"),
        ),
        igd(
            Case {
                what: "a private address",
                want: Err("10.1.2.3, which is private (RFC 1918): the upstream is behind CGNAT"),
                took: fast.clone(),
            },
            good_desc(),
            Http::ok(XML, &soap("10.1.2.3")),
        ),
        igd(
            Case {
                what: "0.0.0.0",
                want: Err("no public address (it reports 0.0.0.0)"),
                took: fast.clone(),
            },
            good_desc(),
            Http::ok(XML, &soap("0.0.0.0")),
        ),
    ];
    let gws = addresses(&up.router, "br-lan", 50, scenarios.len());
    let clients = addresses(&up.client, LAN_IF, 100, scenarios.len());
    let mut answers = Vec::new();
    let mut http = Vec::new();
    let mut cases = Vec::new();
    for ((s, gw), client) in scenarios.into_iter().zip(&gws).zip(&clients) {
        if let Some(bytes) = s.ssdp {
            let text = String::from_utf8(bytes)
                .unwrap()
                .replace("{gw}", &gw.to_string());
            answers.push(support::hostile::SsdpAnswer {
                to: *client,
                from: *gw,
                bytes: text.into_bytes(),
            });
        }
        let (desc, soap) = (s.desc, s.soap);
        http.push(HttpServer::start(
            &up.router,
            SocketAddr::from((*gw, 8000)),
            Box::new(move |_, path| match path {
                "/desc.xml" => desc.clone(),
                "/ctl" => soap.clone(),
                _ => Http::status(404, "text/plain", "no"),
            }),
        ));
        cases.push(s.case);
    }
    let ssdp = SsdpServer::start(&up.router, GATEWAY, answers);
    let pairs: Vec<(Ipv4Addr, Ipv4Addr)> =
        clients.iter().copied().zip(gws.iter().copied()).collect();
    let results = in_client(&up, SCENARIO, move || {
        futures::future::join_all(pairs.into_iter().map(|(c, g)| timed(upnp_external(c, g))))
    });
    for (case, (got, took)) in cases.iter().zip(&results) {
        check(case, got, *took);
        assert!(*took < client::UPNP_BOUND, "{}: {took:?}", case.what);
    }
    assert!(ssdp.searches() > 0);
    // The good IGD got the description, then one SOAP POST.
    assert_eq!(http[0].requests(), ["GET /desc.xml", "POST /ctl"]);
    // The redirect was not followed.
    assert_eq!(http[10].requests(), ["GET /desc.xml"]);
}

/// Every protocol fails, each its own way: the error names what each did (which
/// refused, which stayed silent, which answered too slowly), not "no answer" for all.
#[test]
fn when_every_protocol_fails_each_one_s_failure_is_named() {
    let up = Upstream::start(Options::no_daemon());
    // NAT-PMP refuses (result 2, not authorized); PCP requests get nothing.
    let _natpmp = UdpServer::start(
        &up.router,
        SocketAddr::from((GATEWAY, 5351)),
        Box::new(|_, req| match req.first() {
            Some(0) => vec![Datagram::now(natpmp_answer(2, Ipv4Addr::UNSPECIFIED))],
            _ => Vec::new(),
        }),
    );
    // A UPnP IGD whose SOAP answer never finishes.
    let location = format!("http://{GATEWAY}:8000/desc.xml");
    let _ssdp = SsdpServer::start(
        &up.router,
        GATEWAY,
        vec![support::hostile::SsdpAnswer {
            to: CLIENT,
            from: GATEWAY,
            bytes: ssdp_answer(&location),
        }],
    );
    let _http = HttpServer::start(
        &up.router,
        SocketAddr::from((GATEWAY, 8000)),
        Box::new(|_, path| match path {
            "/desc.xml" => Http::ok(XML, &description("/ctl")),
            _ => Http::Hang(Some(
                "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n<s:Envelope".into(),
            )),
        }),
    );
    let got = in_client(&up, SCENARIO, || gateway::external(GATEWAY, CLIENT));
    let text = got.unwrap_err().to_string();
    for needle in [
        "NAT-PMP: the gateway refused the request with result code 2",
        "PCP: no answer from the gateway",
        "UPnP IGD: no answer from the gateway (the SOAP answer did not arrive within 3 s)",
        "s in all",
    ] {
        assert!(text.contains(needle), "{needle:?} in {text}");
    }
    assert!(!text.contains('\n'), "{text}");
}
