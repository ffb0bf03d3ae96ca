//! The authoritative check against the real BIND (`named`) in a private network
//! namespace, and against hostile servers of our own on loopback: what `query`,
//! `check`, `discover` and `verdict` make of each.

mod support;

use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use domain::base::iana::Rcode;
use domain::base::{Message, MessageBuilder};
use domain::rdata::A;
use dynhost::model::Family;
use dynhost::verify::{
    self, Answer, DiscoverError, DnsError, Query, Soa, Transport, Verdict, check, discover, query,
    verdict,
};
use proptest::prelude::*;
use support::bind::{Bind, NEGATIVE_TTL, dig};
use support::netns::in_netns;

const T: Duration = Duration::from_secs(2);
/// Slack allowed over a timeout before a test calls it unbounded.
const SLACK: Duration = Duration::from_millis(400);

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn auth(addrs: &[(&str, u32)]) -> Answer {
    Answer::Authoritative {
        addrs: addrs.iter().map(|(a, t)| (ip(a), *t)).collect(),
    }
}

/// Runs `body` on a tokio runtime in a fresh namespace with BIND started.
fn with_bind<F>(body: impl FnOnce(Bind) -> F + Send + 'static)
where
    F: std::future::Future<Output = ()>,
{
    in_netns(move || {
        let bind = Bind::start();
        rt().block_on(body(bind));
    })
}

#[test]
fn a_and_aaaa_answers_are_authoritative_with_their_ttl() {
    with_bind(|bind| async move {
        bind.set("host", Family::V4, &[ip("192.0.2.10")], 120);
        bind.set("host", Family::V6, &[ip("2001:db8::10")], 90);
        for server in bind.servers() {
            let a = query(server, "host.example.com", Family::V4, T).await;
            assert_eq!(a, Ok(auth(&[("192.0.2.10", 120)])), "{server}");
            let aaaa = query(server, "HOST.example.com.", Family::V6, T).await;
            assert_eq!(aaaa, Ok(auth(&[("2001:db8::10", 90)])), "{server}");
        }
        let results = check(&bind.servers(), "host.example.com", Family::V6, T).await;
        assert_eq!(results.len(), 3);
        assert_eq!(
            verdict(ip("2001:db8::10"), &results),
            Verdict::Visible {
                servers: bind.servers()
            }
        );
        bind.stop();
    });
}

#[test]
fn an_update_is_visible_at_once_and_the_old_address_differs() {
    with_bind(|bind| async move {
        bind.set("host", Family::V4, &[ip("192.0.2.10")], 60);
        let before = bind.serial();
        // nsupdate returns once named has applied the update; the first query after it
        // already sees the new data.
        let took = bind.set("host", Family::V4, &[ip("198.51.100.20")], 60);
        assert!(bind.serial() > before, "the serial rises with each update");
        assert!(took < Duration::from_secs(2), "an update took {took:?}");
        eprintln!("nsupdate to visible: {took:?}");

        // The answer changes as soon as nsupdate returns: the first query sees it.
        bind.update(&[
            "update delete host.example.com. A".into(),
            "update add host.example.com. 60 A 198.51.100.21".into(),
        ]);
        let first = query(bind.primary(), "host.example.com", Family::V4, T).await;
        assert_eq!(first, Ok(auth(&[("198.51.100.21", 60)])));
        bind.set("host", Family::V4, &[ip("198.51.100.20")], 60);

        let results = check(&bind.servers(), "host.example.com", Family::V4, T).await;
        assert_eq!(
            verdict(ip("198.51.100.20"), &results),
            Verdict::Visible {
                servers: bind.servers()
            }
        );
        assert_eq!(
            verdict(ip("192.0.2.10"), &results),
            Verdict::Differs {
                addr: ip("198.51.100.20"),
                servers: bind.servers()
            }
        );

        // Deleted behind our back: consistent NODATA, "not yet" (never drift by itself).
        bind.delete("host", Family::V4);
        let results = check(&bind.servers(), "host.example.com", Family::V4, T).await;
        assert_eq!(
            verdict(ip("198.51.100.20"), &results),
            Verdict::NotYet {
                servers: bind.servers()
            }
        );
    });
}

#[test]
fn nxdomain_and_nodata_carry_the_zone_soa() {
    with_bind(|bind| async move {
        bind.set("host", Family::V4, &[ip("192.0.2.10")], 60);
        let serial = bind.serial();
        let soa = Some(Soa {
            zone: "example.com".into(),
            serial,
            negative_ttl: NEGATIVE_TTL,
        });
        let nx = query(bind.primary(), "nothere.example.com", Family::V4, T).await;
        assert_eq!(nx, Ok(Answer::NxDomain { soa: soa.clone() }));
        let nodata = query(bind.primary(), "host.example.com", Family::V6, T).await;
        assert_eq!(nodata, Ok(Answer::NoData { soa }));

        let results = check(&bind.servers(), "nothere.example.com", Family::V4, T).await;
        assert!(matches!(
            verdict(ip("192.0.2.10"), &results),
            Verdict::NotYet { .. }
        ));
    });
}

#[test]
fn zones_the_server_does_not_serve_are_unknown() {
    with_bind(|bind| async move {
        // Another zone: BIND refuses.
        let other = query(bind.primary(), "host.example.net", Family::V4, T).await;
        assert_eq!(other, Ok(Answer::Refused));
        // A zone that failed to load: SERVFAIL.
        let broken = query(bind.primary(), "host.broken.test", Family::V4, T).await;
        assert_eq!(broken, Ok(Answer::ServFail));
        // The root server (the resolver's own zone), asked without recursion, refers.
        let referral = query(bind.resolver(), "host.example.com", Family::V4, T).await;
        match &referral {
            Ok(Answer::NotAuthoritative { referral }) => {
                let mut r = referral.clone();
                r.sort();
                assert_eq!(r, ["ns1.example.com", "ns2.example.com"]);
            }
            other => panic!("{other:?}"),
        }
        for results in [
            vec![(bind.primary(), other)],
            vec![(bind.primary(), broken)],
            vec![(bind.resolver(), referral)],
        ] {
            match verdict(ip("192.0.2.10"), &results) {
                Verdict::Unknown(why) => {
                    assert!(
                        why.starts_with("no server answered authoritatively"),
                        "{why}"
                    )
                }
                v => panic!("{v:?}"),
            }
        }
    });
}

#[test]
fn a_cname_is_reported_not_followed() {
    with_bind(|bind| async move {
        bind.set("host", Family::V4, &[ip("192.0.2.10")], 60);
        let a = query(bind.primary(), "alias.example.com", Family::V4, T).await;
        assert_eq!(a, Ok(Answer::Cname("host.example.com".into())));
        let results = check(&bind.servers(), "alias.example.com", Family::V4, T).await;
        match verdict(ip("192.0.2.10"), &results) {
            Verdict::Unknown(why) => assert!(why.contains("alias (CNAME)"), "{why}"),
            v => panic!("{v:?}"),
        }
    });
}

#[test]
fn several_addresses_are_unknown() {
    with_bind(|bind| async move {
        bind.set(
            "host",
            Family::V4,
            &[ip("192.0.2.10"), ip("192.0.2.11")],
            60,
        );
        let results = check(&bind.servers(), "host.example.com", Family::V4, T).await;
        for (_, r) in &results {
            match r {
                Ok(Answer::Authoritative { addrs }) => assert_eq!(addrs.len(), 2),
                other => panic!("{other:?}"),
            }
        }
        match verdict(ip("192.0.2.10"), &results) {
            Verdict::Unknown(why) => assert!(why.contains("this name has 2"), "{why}"),
            v => panic!("{v:?}"),
        }
    });
}

/// Sends `q` over UDP with std and says whether the answer has TC set.
fn udp_truncated(server: SocketAddr, q: &Query) -> bool {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(T)).unwrap();
    sock.send_to(q.wire(), server).unwrap();
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).unwrap();
    assert!(n >= 12);
    buf[2] & 0x02 != 0
}

#[test]
fn a_large_rrset_comes_over_tcp() {
    with_bind(|bind| async move {
        // 90 A records: 1,500 bytes, more than 512 and more than the 1232 offered.
        let addrs: Vec<IpAddr> = (1..=90).map(|i| ip(&format!("198.51.100.{i}"))).collect();
        bind.set("big", Family::V4, &addrs, 60);
        let edns =
            Query::address(verify::client::random_id(), "big.example.com", Family::V4).unwrap();
        let plain = edns.without_edns(verify::client::random_id());
        for q in [edns, plain] {
            assert!(
                udp_truncated(bind.primary(), &q),
                "UDP answer not truncated"
            );
            match verify::client::ask(bind.primary(), &q, T).await {
                Ok(Answer::Authoritative { addrs: got }) => {
                    let mut got: Vec<IpAddr> = got.into_iter().map(|(a, _)| a).collect();
                    got.sort();
                    assert_eq!(got, addrs);
                }
                other => panic!("{other:?}"),
            }
        }
        // 101 records: more than a section may hold.
        let many: Vec<IpAddr> = (1..=101).map(|i| ip(&format!("203.0.113.{i}"))).collect();
        bind.set("big", Family::V4, &many, 60);
        match query(bind.primary(), "big.example.com", Family::V4, T).await {
            Ok(Answer::Malformed(why)) => assert!(why.contains("announces 101 records"), "{why}"),
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn discovery_walks_up_to_the_zone_through_the_resolver() {
    with_bind(|bind| async move {
        let want: Vec<(String, SocketAddr)> = vec![
            ("ns1.example.com".into(), sa("127.0.0.1:53")),
            ("ns2.example.com".into(), sa("127.0.0.2:53")),
            ("ns2.example.com".into(), sa("[::1]:53")),
        ];
        // The host need not exist yet (NXDOMAIN), may be deep, or be the apex.
        for name in ["host.example.com", "a.b.c.d.example.com", "example.com"] {
            let start = Instant::now();
            let found = discover(bind.resolver(), name, T).await.unwrap();
            eprintln!("discover {name}: {:?}", start.elapsed());
            assert_eq!(found.zone, "example.com", "{name}");
            assert_eq!(found.servers, want, "{name}");
            assert!(found.unresolved.is_empty());
        }
        // From discovery to a verdict.
        bind.set("host", Family::V4, &[ip("192.0.2.10")], 60);
        let found = discover(bind.resolver(), "host.example.com", T)
            .await
            .unwrap();
        let servers: Vec<SocketAddr> = found.servers.iter().map(|(_, s)| *s).collect();
        let results = check(&servers, "host.example.com", Family::V4, T).await;
        assert!(matches!(
            verdict(ip("192.0.2.10"), &results),
            Verdict::Visible { .. }
        ));

        // A lame delegation: the resolver fails (SERVFAIL).
        match discover(bind.resolver(), "host.lame.test", T).await {
            Err(DiscoverError::Resolver { problem, .. }) => {
                assert!(problem.contains("SERVFAIL"), "{problem}")
            }
            other => panic!("{other:?}"),
        }
        // A TLD that does not exist.
        let e = discover(bind.resolver(), "host.nowhere", T)
            .await
            .unwrap_err();
        assert_eq!(
            e,
            DiscoverError::NoZone {
                name: "host.nowhere".into()
            }
        );
        assert!(e.to_string().contains("verify.servers"));
        // A resolver that is not there.
        let start = Instant::now();
        let e = discover(sa("127.0.0.99:53"), "host.example.com", T)
            .await
            .unwrap_err();
        assert!(matches!(e, DiscoverError::Resolver { .. }), "{e:?}");
        assert!(start.elapsed() < T + SLACK);
    });
}

/// A UDP relay between a client and the BIND resolver that counts the questions and
/// can strip the authority and additional sections (a resolver that hides the SOA).
struct Relay {
    addr: SocketAddr,
    questions: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    fn start(upstream: SocketAddr, strip: bool) -> Relay {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let addr = sock.local_addr().unwrap();
        let questions = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (q2, s2) = (questions.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let up = UdpSocket::bind("127.0.0.1:0").unwrap();
            up.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut buf = [0u8; 4096];
            while !s2.load(Ordering::Relaxed) {
                let Ok((n, client)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let msg = Message::from_octets(buf[..n].to_vec()).unwrap();
                let q = msg.sole_question().unwrap();
                q2.lock()
                    .unwrap()
                    .push(format!("{} {}", q.qname(), q.qtype()));
                up.send_to(&buf[..n], upstream).unwrap();
                let mut ans = [0u8; 4096];
                let Ok(m) = up.recv(&mut ans) else { continue };
                let mut ans = ans[..m].to_vec();
                if strip {
                    let msg = Message::from_octets(ans.clone()).unwrap();
                    let end = msg.authority().unwrap().pos();
                    ans.truncate(end);
                    ans[8..12].fill(0); // NSCOUNT, ARCOUNT
                }
                sock.send_to(&ans, client).unwrap();
            }
        });
        Relay {
            addr,
            questions,
            stop,
            thread: Some(thread),
        }
    }

    fn questions(&self) -> Vec<String> {
        self.questions.lock().unwrap().clone()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn discovery_costs_few_questions_and_walks_label_by_label_without_soa() {
    with_bind(|bind| async move {
        let name = "a.b.host.example.com";
        // The resolver's SOA names the zone: two NS questions, then A and AAAA for each
        // of the two NS names.
        let relay = Relay::start(bind.resolver(), false);
        let found = discover(relay.addr, name, T).await.unwrap();
        assert_eq!(found.servers.len(), 3);
        let mut asked = relay.questions();
        asked.sort();
        assert_eq!(
            asked,
            [
                "a.b.host.example.com NS",
                "example.com NS",
                "ns1.example.com A",
                "ns1.example.com AAAA",
                "ns2.example.com A",
                "ns2.example.com AAAA",
            ]
        );
        // Without the SOA, one label at a time.
        let relay = Relay::start(bind.resolver(), true);
        let found = discover(relay.addr, name, T).await.unwrap();
        assert_eq!(found.zone, "example.com");
        assert_eq!(found.servers.len(), 3);
        let ns: Vec<String> = relay
            .questions()
            .into_iter()
            .filter(|q| q.ends_with(" NS"))
            .collect();
        assert_eq!(
            ns,
            [
                "a.b.host.example.com NS",
                "b.host.example.com NS",
                "host.example.com NS",
                "example.com NS",
            ]
        );
    });
}

/// What a hostile UDP server does with each query it receives.
enum Act {
    /// Send these bytes from the server's own socket.
    Send(Vec<u8>),
    /// Send these bytes from another socket (another port).
    SendFromOther(Vec<u8>),
    /// Send these bytes from another address (127.0.0.7, the server's port).
    SendFromOtherAddr(Vec<u8>),
    Sleep(Duration),
    /// Send these bytes again and again for this long.
    Flood(Vec<u8>, Duration),
}

/// A server of our own on loopback: UDP (and TCP on the same port, if `tcp` is given)
/// answering each query as told.
struct Hostile {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    queries: Arc<AtomicUsize>,
    threads: Vec<JoinHandle<()>>,
}

type UdpPlan = Box<dyn Fn(&[u8]) -> Vec<Act> + Send>;
type TcpPlan = Box<dyn Fn(&[u8], &mut std::net::TcpStream) + Send>;

impl Hostile {
    fn start(udp: UdpPlan, tcp: Option<TcpPlan>) -> Hostile {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let addr = sock.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let queries = Arc::new(AtomicUsize::new(0));
        let mut threads = Vec::new();
        let (s, qn) = (stop.clone(), queries.clone());
        threads.push(std::thread::spawn(move || {
            let other = UdpSocket::bind("127.0.0.1:0").unwrap();
            let other_addr = UdpSocket::bind(("127.0.0.7", addr.port())).unwrap();
            let mut buf = [0u8; 4096];
            while !s.load(Ordering::Relaxed) {
                let Ok((n, client)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                qn.fetch_add(1, Ordering::Relaxed);
                for act in udp(&buf[..n]) {
                    match act {
                        Act::Send(b) => {
                            let _ = sock.send_to(&b, client);
                        }
                        Act::SendFromOther(b) => {
                            let _ = other.send_to(&b, client);
                        }
                        Act::SendFromOtherAddr(b) => {
                            let _ = other_addr.send_to(&b, client);
                        }
                        Act::Sleep(d) => std::thread::sleep(d),
                        Act::Flood(b, d) => {
                            let end = Instant::now() + d;
                            while Instant::now() < end {
                                let _ = sock.send_to(&b, client);
                            }
                        }
                    }
                }
            }
        }));
        if let Some(tcp) = tcp {
            let listener = TcpListener::bind(addr).unwrap();
            listener.set_nonblocking(true).unwrap();
            let s = stop.clone();
            threads.push(std::thread::spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    let Ok((mut conn, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    };
                    use std::io::Read;
                    conn.set_nonblocking(false).unwrap();
                    conn.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
                    let mut len = [0u8; 2];
                    if conn.read_exact(&mut len).is_err() {
                        continue;
                    }
                    let mut q = vec![0u8; usize::from(u16::from_be_bytes(len))];
                    if conn.read_exact(&mut q).is_err() {
                        continue;
                    }
                    tcp(&q, &mut conn);
                }
            }));
        }
        Hostile {
            addr,
            stop,
            queries,
            threads,
        }
    }

    fn udp(plan: impl Fn(&[u8]) -> Vec<Act> + Send + 'static) -> Hostile {
        Hostile::start(Box::new(plan), None)
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A proper authoritative answer to `query` holding `addrs` (A records).
fn answer_to(query: &[u8], aa: bool, addrs: &[&str]) -> Vec<u8> {
    let msg = Message::from_octets(query).unwrap();
    let q = msg.sole_question().unwrap();
    let mut b = MessageBuilder::new_vec()
        .start_answer(&msg, Rcode::NOERROR)
        .unwrap();
    b.header_mut().set_aa(aa);
    for a in addrs {
        b.push((q.qname(), 60, A::new(a.parse().unwrap()))).unwrap();
    }
    b.finish()
}

/// The offset just past the question (where the first answer record starts).
fn question_end(msg: &[u8]) -> usize {
    let m = Message::from_octets(msg).unwrap();
    m.answer().unwrap().pos()
}

const NAME: &str = "host.example.com";

/// Runs `query` against `server`; the result and how long it took.
fn timed(server: SocketAddr, timeout: Duration) -> (Result<Answer, DnsError>, Duration) {
    rt().block_on(async {
        let start = Instant::now();
        let r = query(server, NAME, Family::V4, timeout).await;
        (r, start.elapsed())
    })
}

#[test]
fn a_silent_server_times_out_within_the_bound() {
    in_netns(|| {
        let silent = Hostile::udp(|_| vec![]);
        let timeout = Duration::from_millis(600);
        let (r, took) = timed(silent.addr, timeout);
        assert_eq!(
            r,
            Err(DnsError::Timeout {
                after: timeout,
                transport: Transport::Udp
            })
        );
        assert!(took >= timeout && took < timeout + SLACK, "{took:?}");
        // The query is sent again halfway.
        assert_eq!(silent.queries.load(Ordering::Relaxed), 2);
        let text = r.unwrap_err().to_string();
        assert!(text.contains("no answer within 600ms over UDP"), "{text}");

        // A closed port answers with ICMP: refused at once.
        let (r, took) = timed(sa("127.0.0.1:9"), timeout);
        match r {
            Err(DnsError::Network { error, .. }) => {
                assert!(error.contains("connection refused"), "{error}")
            }
            other => panic!("{other:?}"),
        }
        assert!(took < timeout, "{took:?}");

        // A TCP side that accepts and never answers.
        let tc = Hostile::start(
            Box::new(|q| {
                let mut a = answer_to(q, true, &[]);
                a[2] |= 0x02; // TC
                vec![Act::Send(a)]
            }),
            Some(Box::new(|_, _| std::thread::sleep(Duration::from_secs(2)))),
        );
        let (r, took) = timed(tc.addr, timeout);
        assert!(
            matches!(
                r,
                Err(DnsError::Timeout {
                    transport: Transport::Tcp,
                    ..
                })
            ),
            "{r:?}"
        );
        assert!(took < timeout + SLACK, "{took:?}");
    });
}

#[test]
fn a_silent_server_does_not_hide_the_others() {
    with_bind(|bind| async move {
        bind.set("host", Family::V4, &[ip("192.0.2.10")], 60);
        let silent = Hostile::udp(|_| vec![]);
        let mut servers = bind.servers();
        servers.push(silent.addr);
        let start = Instant::now();
        let results = check(&servers, NAME, Family::V4, Duration::from_millis(500)).await;
        let took = start.elapsed();
        assert!(
            took < Duration::from_millis(500) + SLACK,
            "{took:?}: asked at once"
        );
        assert!(matches!(results[3].1, Err(DnsError::Timeout { .. })));
        assert_eq!(
            verdict(ip("192.0.2.10"), &results),
            Verdict::Visible {
                servers: bind.servers()
            }
        );
    });
}

#[test]
fn hostile_udp_answers_are_ignored_or_rejected_in_bounded_time() {
    in_netns(|| {
        let timeout = Duration::from_millis(500);
        let fast = Duration::from_millis(300);
        type Plan = fn(&[u8]) -> Vec<Act>;
        let cases: Vec<(&str, Plan, &str, bool)> = vec![
            (
                "wrong ID",
                |q| {
                    let mut a = answer_to(q, true, &["192.0.2.66"]);
                    a[0] ^= 0xff;
                    vec![Act::Send(a)]
                },
                "Mismatch(\"ID 0x",
                false,
            ),
            (
                "a flood of wrong IDs",
                |q| {
                    let mut a = answer_to(q, true, &["192.0.2.66"]);
                    a[0] ^= 0xff;
                    vec![Act::Flood(a, Duration::from_millis(800))]
                },
                "Mismatch(\"ID 0x",
                false,
            ),
            (
                "wrong question",
                |q| {
                    let mut a = answer_to(q, true, &["192.0.2.66"]);
                    a[13] = b'X'; // host -> Xost
                    vec![Act::Send(a)]
                },
                "Mismatch(\"it answers Xost.example.com IN A",
                false,
            ),
            (
                "a query, not an answer",
                |q| vec![Act::Send(q.to_vec())],
                "QR clear",
                false,
            ),
            (
                "truncated header",
                |q| vec![Act::Send(q[..5].to_vec())],
                "Malformed(\"5 bytes, shorter than a DNS header",
                false,
            ),
            (
                "compression loop in the question",
                |q| {
                    let mut a = answer_to(q, true, &["192.0.2.66"]);
                    a[12] = 0xc0;
                    a[13] = 12;
                    vec![Act::Send(a)]
                },
                "Malformed(\"the question cannot be read",
                false,
            ),
            (
                "compression loop in the answer",
                |q| {
                    let mut a = answer_to(q, true, &["192.0.2.66"]);
                    let at = question_end(&a);
                    a[at] = 0xc0;
                    a[at + 1] = at as u8;
                    vec![Act::Send(a)]
                },
                "Malformed(\"the answer section",
                true,
            ),
            (
                "records announced, not sent",
                |q| {
                    let mut a = answer_to(q, true, &[]);
                    a[7] = 3; // ANCOUNT 3, none present
                    vec![Act::Send(a)]
                },
                "Malformed(\"the answer section",
                true,
            ),
            (
                "a forged answer from another port only",
                |q| vec![Act::SendFromOther(answer_to(q, true, &["192.0.2.66"]))],
                "Timeout",
                false,
            ),
            (
                "a forged answer from another address only",
                |q| vec![Act::SendFromOtherAddr(answer_to(q, true, &["192.0.2.66"]))],
                "Timeout",
                false,
            ),
            (
                "no AA",
                |q| vec![Act::Send(answer_to(q, false, &["192.0.2.66"]))],
                "NotAuthoritative",
                true,
            ),
        ];
        for (what, plan, needle, quick) in cases {
            let server = Hostile::udp(plan);
            let (r, took) = timed(server.addr, timeout);
            let shown = format!("{r:?}");
            assert!(shown.contains(needle), "{what}: {shown}");
            assert!(took < timeout + SLACK, "{what}: {took:?}");
            if quick {
                assert!(took < fast, "{what}: final at once, took {took:?}");
            }
            if let Ok(a) = &r {
                assert!(
                    matches!(
                        verdict(ip("192.0.2.66"), &[(server.addr, r.clone())]),
                        Verdict::Unknown(_)
                    ),
                    "{what}: {a:?} must leave the verdict unknown"
                );
            }
        }
    });
}

#[test]
fn the_real_answer_wins_over_forged_and_stray_ones() {
    in_netns(|| {
        let timeout = Duration::from_secs(2);
        // Forged answers first (another port; wrong ID; wrong question), then the real one.
        let server = Hostile::udp(|q| {
            let mut wrong_id = answer_to(q, true, &["192.0.2.66"]);
            wrong_id[1] ^= 0x01;
            let mut wrong_q = answer_to(q, true, &["192.0.2.66"]);
            wrong_q[13] = b'X';
            vec![
                Act::SendFromOther(answer_to(q, true, &["192.0.2.66"])),
                Act::SendFromOtherAddr(answer_to(q, true, &["192.0.2.67"])),
                Act::Send(wrong_id),
                Act::Send(wrong_q),
                Act::Send(vec![1, 2, 3]),
                Act::Sleep(Duration::from_millis(50)),
                Act::Send(answer_to(q, true, &["192.0.2.10"])),
            ]
        });
        let (r, took) = timed(server.addr, timeout);
        assert_eq!(r, Ok(auth(&[("192.0.2.10", 60)])));
        assert!(took < Duration::from_millis(500), "{took:?}");
    });
}

#[test]
fn hostile_tcp_answers_are_rejected_at_once() {
    in_netns(|| {
        let truncated = || -> UdpPlan {
            Box::new(|q| {
                let mut a = answer_to(q, true, &[]);
                a[2] |= 0x02;
                vec![Act::Send(a)]
            })
        };
        type Tcp = fn(&[u8], &mut std::net::TcpStream);
        let cases: Vec<(&str, Tcp, &str)> = vec![
            (
                "oversized length",
                |_, conn| {
                    use std::io::Write;
                    let _ = conn.write_all(&[0xff, 0xff]);
                    let _ = conn.write_all(&[0u8; 100]);
                    std::thread::sleep(Duration::from_secs(1));
                },
                "announces 65535 bytes; at most 16384 are read",
            ),
            (
                "closes early",
                |q, conn| {
                    use std::io::Write;
                    let a = answer_to(q, true, &["192.0.2.10"]);
                    let _ = conn.write_all(&300u16.to_be_bytes());
                    let _ = conn.write_all(&a[..20]);
                },
                "closed after 20 of the 300 bytes",
            ),
            (
                "closes without answering",
                |_, _| {},
                "closed the TCP connection without answering",
            ),
            (
                "wrong ID over TCP",
                |q, conn| {
                    use std::io::Write;
                    let mut a = answer_to(q, true, &["192.0.2.10"]);
                    a[0] ^= 0xff;
                    let _ = conn.write_all(&(a.len() as u16).to_be_bytes());
                    let _ = conn.write_all(&a);
                },
                "Mismatch(\"ID 0x",
            ),
            (
                "truncated again",
                |q, conn| {
                    use std::io::Write;
                    let mut a = answer_to(q, true, &[]);
                    a[2] |= 0x02;
                    let _ = conn.write_all(&(a.len() as u16).to_be_bytes());
                    let _ = conn.write_all(&a);
                },
                "Truncated",
            ),
            (
                "a good answer",
                |q, conn| {
                    use std::io::Write;
                    let a = answer_to(q, true, &["192.0.2.10"]);
                    let _ = conn.write_all(&(a.len() as u16).to_be_bytes());
                    let _ = conn.write_all(&a);
                },
                "Authoritative { addrs: [(192.0.2.10, 60)] }",
            ),
        ];
        for (what, plan, needle) in cases {
            let server = Hostile::start(truncated(), Some(Box::new(plan)));
            let (r, took) = timed(server.addr, T);
            let shown = format!("{r:?}");
            assert!(shown.contains(needle), "{what}: {shown}");
            assert!(took < Duration::from_millis(500), "{what}: {took:?}");
        }
    });
}

#[test]
fn a_server_that_rejects_edns_is_asked_without_it() {
    in_netns(|| {
        let server = Hostile::udp(|q| {
            let msg = Message::from_octets(q).unwrap();
            if msg.header_counts().arcount() > 0 {
                let b = MessageBuilder::new_vec()
                    .start_answer(&msg, Rcode::FORMERR)
                    .unwrap();
                vec![Act::Send(b.finish())]
            } else {
                vec![Act::Send(answer_to(q, true, &["192.0.2.10"]))]
            }
        });
        let (r, _) = timed(server.addr, T);
        assert_eq!(r, Ok(auth(&[("192.0.2.10", 60)])));
        assert_eq!(server.queries.load(Ordering::Relaxed), 2);
    });
}

#[test]
fn dig_agrees_with_the_harness() {
    // The harness itself: BIND up, set and delete through nsupdate, seen by dig.
    with_bind(|bind| async move {
        bind.set("host", Family::V4, &[ip("192.0.2.10")], 60);
        let out = dig(&["+norec", "@127.0.0.1", "host.example.com", "A"]);
        assert!(out.contains("flags: qr aa;"), "{out}");
        bind.delete("host", Family::V4);
        let out = dig(&["+norec", "+short", "@127.0.0.1", "host.example.com", "A"]);
        assert_eq!(out.trim(), "");
    });
}

fn base_reply() -> (Query, Vec<u8>) {
    let q = Query::address(0x1234, NAME, Family::V4).unwrap();
    let a = answer_to(q.wire(), true, &["192.0.2.10", "192.0.2.11"]);
    (q, a)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Any bytes at all, with the query's ID and QR set so that parsing goes past the
    /// header: never a panic.
    #[test]
    fn any_bytes_parse_without_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let (q, _) = base_reply();
        let _ = verify::parse_answer(&q, &bytes);
        if bytes.len() >= 3 {
            bytes[0] = 0x12;
            bytes[1] = 0x34;
            bytes[2] |= 0x80;
        }
        let _ = verify::parse_answer(&q, &bytes);
    }

    /// A valid answer with some bytes overwritten and maybe cut: never a panic.
    #[test]
    fn mutated_answers_parse_without_panic(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let (q, mut a) = base_reply();
        for (at, b) in edits {
            let n = a.len();
            a[at % n] = b;
        }
        let keep = 2 + cut % (a.len() - 1);
        a.truncate(keep);
        let answer = verify::parse_answer(&q, &a);
        prop_assert!(!answer.to_string().is_empty());
    }

    /// Config and resolv.conf text: never a panic.
    #[test]
    fn server_text_parses_without_panic(s in "\\PC{0,80}") {
        let _ = verify::parse_server(&s, |_| Some(1));
        let _ = verify::resolv_conf_nameserver(&format!("nameserver {s}\n"), |_| None);
    }
}
