//! Behind another router: the real daemon on a LAN address asks its gateway, Debian's
//! real miniupnpd in a "router" namespace linked by veth (tests/support/miniupnpd.rs),
//! and falls through to web echo services on loopback. Also `ipv6_suffix` across a
//! prefix change, on the real kernel.

mod support;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use support::agent::{Agent, Scratch, record, run, settle, write_config};
use support::forge;
use support::hostile::{Http, HttpServer};
use support::miniupnpd::{CLIENT, GATEWAY, LAN_IF, Netns, Options, PUBLIC, ROGUE, Upstream};
use support::netns::{bridge, in_netns, ip, move_addr};
use support::provider::Provider;

const T: Duration = Duration::from_secs(20);

/// dynhost in the client namespace: its provider, config and running daemon.
struct Client {
    provider: Provider,
    agent: Agent,
    cfg: PathBuf,
    _dir: Scratch,
}

/// Starts dynhost in `ns` with a record on the LAN interface and `extra` (global
/// tables first, then `record_extra` in the record).
fn start_client(ns: &Netns, globals: &'static str, record_extra: &'static str) -> Client {
    ns.run(move || {
        let provider = Provider::start();
        let dir = Scratch::new("nat");
        let body = format!(
            "debounce = \"0s\"\n{globals}\n{}",
            record("home.example.com", LAN_IF, record_extra)
        );
        let cfg = write_config(&dir, &provider.url(), &body);
        let agent = Agent::start(&cfg, &[]);
        Client {
            provider,
            agent,
            cfg,
            _dir: dir,
        }
    })
}

#[test]
fn the_gateway_s_address_is_published_and_each_announced_change_sends_exactly_one_request() {
    let up = Upstream::start(Options::all());
    let c = start_client(&up.client, "", "ipv4_source = \"gateway\"");
    let first = c.provider.nth(1, T, "the first update");
    assert_eq!(first.param("myip"), Some(PUBLIC.to_string().as_str()));
    c.agent.wait_log("reports our public address", T);
    // PCP first: its answer echoes our nonce (NAT-PMP's carries no proof).
    assert!(c.agent.log().contains("via=PCP"), "{}", c.agent.log());
    // The ISP box gets a new address: miniupnpd announces it, once.
    let next = Ipv4Addr::new(203, 0, 113, 8);
    up.set_public(next);
    let second = c.provider.nth(2, T, "the update after the announcement");
    assert_eq!(second.param("myip"), Some("203.0.113.8"));
    settle(Duration::from_secs(3));
    assert_eq!(c.provider.count(), 2, "exactly one request for the change");
    c.agent.stop();
}

#[test]
fn a_gateway_that_is_gone_sends_nothing_says_so_once_and_the_web_echo_is_used() {
    let mut up = Upstream::start(Options::all());
    let echo = HttpServer::start(
        &up.client,
        SocketAddr::from(([127, 0, 0, 1], 18_081)),
        Box::new(|_, _| Http::ok("text/plain", "203.0.113.50\n")),
    );
    let c = start_client(
        &up.client,
        "[web]\nurls = [\"http://127.0.0.1:18081/ip\"]\n",
        "ipv4_source = [\"gateway\", \"web\"]",
    );
    assert_eq!(
        c.provider.nth(1, T, "the first update").param("myip"),
        Some(PUBLIC.to_string().as_str()),
        "the gateway first"
    );
    assert!(
        echo.requests().is_empty(),
        "the web is not asked while the gateway answers"
    );
    up.stop();
    // A hook asks for a round: the silent gateway costs its bound, then the echo.
    let cfg = c.cfg.clone();
    let out = up.client.run(move || run(&cfg, &["update"]));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = c.provider.nth(2, T, "the update from the web source");
    assert_eq!(r.param("myip"), Some("203.0.113.50"));
    assert_eq!(echo.requests().len(), 1);
    // And a second round with the gateway still gone: nothing new to say.
    let cfg = c.cfg.clone();
    up.client.run(move || run(&cfg, &["update"]));
    assert_eq!(c.provider.count(), 2, "the same address is not sent again");
    assert_eq!(
        c.agent.count("trying the next source (web)"),
        1,
        "the silent gateway is said once:\n{}",
        c.agent.log()
    );
    c.agent.stop();
}

#[test]
fn a_gateway_without_a_public_address_publishes_nothing_and_says_why_once() {
    // No STUN: miniupnpd 2.3.1 refuses the documentation address of its WAN and
    // answers NAT-PMP result 3.
    let up = Upstream::start(Options::all().without_stun());
    let c = start_client(&up.client, "", "ipv4_source = \"gateway\"");
    c.agent.wait_log("no publishable address", T);
    let cfg = c.cfg.clone();
    up.client.run(move || run(&cfg, &["update"]));
    settle(Duration::from_secs(1));
    assert_eq!(c.provider.count(), 0);
    let log = c.agent.log();
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("no publishable address"))
            .count(),
        1,
        "said once, not at every round:\n{log}"
    );
    assert!(log.contains("no public address"), "{log}");
    c.agent.stop();
}

/// A NAT-PMP announcement of `addr`.
fn natpmp_announcement(addr: Ipv4Addr) -> Vec<u8> {
    let mut packet = vec![0u8, 128, 0, 0, 0, 0, 0, 9];
    packet.extend_from_slice(&addr.octets());
    packet
}

#[test]
fn a_flood_of_announcements_from_another_lan_host_never_reaches_us_and_changes_are_published() {
    let up = Upstream::start(Options::all());
    let c = start_client(&up.client, "", "ipv4_source = \"gateway\"");
    c.provider.nth(1, T, "the first update");
    // The rogue host floods 224.0.0.1:5350 with announcements of another address.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let flood = forge::flood(
        &up.rogue,
        SocketAddr::from((ROGUE, 5351)),
        SocketAddr::from((Ipv4Addr::new(224, 0, 0, 1), 5350)),
        natpmp_announcement(Ipv4Addr::new(198, 51, 100, 66)),
        stop.clone(),
        sent.clone(),
    );
    // Each real change is still published, from the gateway's own announcement.
    for (n, last) in [(2, 8), (3, 9), (4, 10)] {
        while sent.load(Ordering::Relaxed) < 20_000 * (n - 1) {
            settle(Duration::from_millis(50));
        }
        let next = Ipv4Addr::new(203, 0, 113, last);
        up.set_public(next);
        let r = c.provider.nth(n, T, "the update after the announcement");
        assert_eq!(r.param("myip"), Some(next.to_string().as_str()));
    }
    stop.store(true, Ordering::Relaxed);
    flood.join().unwrap();
    let log = c.agent.log();
    // The kernel dropped every rogue datagram: none woke the daemon.
    assert_eq!(
        c.agent.count("not our gateway; ignored"),
        0,
        "{} sent; log:\n{log}",
        sent.load(Ordering::Relaxed)
    );
    assert!(!log.contains("198.51.100.66"), "{log}");
    assert_eq!(c.provider.count(), 4);
    assert_ne!(GATEWAY, ROGUE);
    c.agent.stop();
}

#[test]
fn a_port_5350_held_by_another_user_is_said_once_and_the_listener_retried() {
    let up = Upstream::start(Options::all());
    // Another program holds the port without sharing it (no SO_REUSEPORT).
    let holder = up
        .client
        .run(|| UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 5350)).unwrap());
    let c = start_client(&up.client, "", "ipv4_source = \"gateway\"");
    c.provider.nth(1, T, "the first update");
    c.agent
        .wait_log("cannot listen for the gateway's announcements", T);
    drop(holder);
    c.agent
        .wait_log("listening for the gateway's announcements now", T);
    let next = Ipv4Addr::new(203, 0, 113, 8);
    up.set_public(next);
    let r = c.provider.nth(2, T, "the update after the announcement");
    assert_eq!(r.param("myip"), Some("203.0.113.8"));
    assert_eq!(
        c.agent
            .count("cannot listen for the gateway's announcements"),
        1,
        "said once"
    );
    c.agent.stop();
}

#[test]
fn a_lan_host_forging_natpmp_answers_gets_nothing_published() {
    // The gateway speaks UPnP only; the rogue host sprays NAT-PMP answers of its own
    // address, from the gateway's address and port, to every port of the client.
    let mut up = Upstream::start(Options::upnp_only());
    let forged = Ipv4Addr::new(198, 51, 100, 66);
    let mut answer = vec![0u8, 128, 0, 0, 0, 0, 0, 9];
    answer.extend_from_slice(&forged.octets());
    let stop = Arc::new(AtomicBool::new(false));
    let sweeps = Arc::new(AtomicUsize::new(0));
    let spray = forge::spray(
        &up.rogue,
        SocketAddr::from((GATEWAY, 5351)),
        CLIENT,
        answer,
        stop.clone(),
        sweeps.clone(),
    );
    support::agent::wait_until("a first sweep of the spray", T, || {
        assert!(!spray.is_finished(), "the spray stopped");
        sweeps.load(Ordering::Relaxed) > 0
    });
    let c = start_client(&up.client, "", "ipv4_source = \"gateway\"");
    let first = c.provider.nth(1, T, "the first update");
    assert_eq!(first.param("myip"), Some(PUBLIC.to_string().as_str()));
    assert!(c.agent.log().contains("via=UPnP IGD"), "{}", c.agent.log());
    // UPnP goes silent: only the forged NAT-PMP answers are left. They are suspect.
    up.stop();
    let cfg = c.cfg.clone();
    up.client.run(move || run(&cfg, &["update"]));
    c.agent
        .wait_log("is not taken: this gateway answers UPnP IGD", T);
    // A restart remembers which protocol the gateway answers.
    c.agent.stop();
    let cfg = c.cfg.clone();
    let agent = up.client.run(move || Agent::start(&cfg, &[]));
    agent.wait_log(
        "is not taken: this gateway answers UPnP IGD",
        Duration::from_secs(30),
    );
    stop.store(true, Ordering::Relaxed);
    spray.join().unwrap();
    assert_eq!(c.provider.count(), 1, "nothing forged was published");
    for r in c.provider.requests() {
        assert_ne!(r.param("myip"), Some(forged.to_string().as_str()));
    }
    agent.stop();
}

#[test]
fn every_bad_echo_answer_is_one_log_line_and_the_next_one_is_asked() {
    in_netns(|| {
        bridge("br0");
        ip(&["addr", "add", "192.168.1.2/24", "dev", "br0"]);
        let echo = HttpServer::start_here(
            SocketAddr::from(([127, 0, 0, 1], 18_082)),
            Box::new(|_, path| match path {
                "/html" => Http::ok("text/html", "<html><body>203.0.113.1</body></html>"),
                "/two" => Http::ok("text/plain", "203.0.113.1\n203.0.113.2\n"),
                "/private" => Http::ok("text/plain", "192.168.1.2"),
                "/v6" => Http::ok("text/plain", "2001:db8::1"),
                "/huge" => Http::ok("text/plain", &"9".repeat(10_000)),
                _ => Http::ok("text/plain", "ip=203.0.113.60\nts=1\n"),
            }),
        );
        let provider = Provider::start();
        let dir = Scratch::new("echo");
        let urls: Vec<String> = ["html", "two", "private", "v6", "huge", "trace"]
            .iter()
            .map(|p| format!("\"http://127.0.0.1:18082/{p}\""))
            .collect();
        let body = format!(
            "[web]\nurls = [{}]\n{}",
            urls.join(", "),
            record("home.example.com", "br0", "ipv4_source = \"web\"")
        );
        let cfg = write_config(&dir, &provider.url(), &body);
        let agent = Agent::start(&cfg, &[]);
        let r = provider.nth(1, T, "the update from the last echo");
        assert_eq!(r.param("myip"), Some("203.0.113.60"));
        for needle in [
            "an HTML page",
            "no address",
            "is private",
            "not an ipv4 address",
            "over 4096 bytes",
        ] {
            assert_eq!(agent.count(needle), 1, "{needle:?} once:\n{}", agent.log());
        }
        // Another round asks them all again; the same failures are not said again.
        run(&cfg, &["update"]);
        assert_eq!(echo.requests().len(), 12);
        assert_eq!(agent.count("an HTML page"), 1);
        assert_eq!(provider.count(), 1);
        agent.stop();
    });
}

#[test]
fn an_ipv6_suffix_record_follows_a_new_delegated_prefix() {
    in_netns(|| {
        bridge("br0");
        ip(&[
            "-6",
            "addr",
            "add",
            "2001:db8:1::a/64",
            "dev",
            "br0",
            "nodad",
        ]);
        let provider = Provider::start();
        let dir = Scratch::new("suffix");
        let body = record(
            "nas.example.com",
            "br0",
            "ipv4 = false\nipv6 = true\nipv6_suffix = \"::1234\"",
        );
        let cfg = write_config(&dir, &provider.url(), &body);
        let agent = Agent::start(&cfg, &[]);
        let r = provider.nth(1, T, "the first update");
        assert_eq!(r.param("myip"), Some("2001:db8:1::1234"));
        // The ISP delegates a new prefix: the LAN host's address moves with it.
        move_addr("br0", "2001:db8:1::a/64", "2001:db8:2::a/64");
        let r = provider.nth(2, T, "the update after the new prefix");
        assert_eq!(r.param("myip"), Some("2001:db8:2::1234"));
        agent.stop();
    });
}
