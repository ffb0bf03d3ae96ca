//! `dynhost explain`, the real binary: an interface with a public (documentation), a
//! private and a link-local address, a state file from a real earlier publish, Debian's
//! BIND serving the zone (tests/support/bind.rs) and, for the `web` source, an echo
//! server on loopback. Explain reads only: the provider is never asked, the state
//! file never changes, and the password never shows.

mod support;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dynhost::model::Family;
use support::agent::{Scratch, record, run, text, write_config};
use support::bind::Bind;
use support::hostile::{Http, HttpServer};
use support::netns::{bridge, in_netns, ip};
use support::provider::Provider;

const T: Duration = Duration::from_secs(15);
const HOST: &str = "home.example.com";
const ABSOLUTE: &str = "home.example.com.";

struct Stage {
    bind: Arc<Bind>,
    provider: Provider,
    dir: Scratch,
    cfg: PathBuf,
}

/// br0 with `addrs` and a link-local IPv6 address, BIND, a provider that applies each
/// accepted update to the zone at once, and a config (resolver: BIND's) with `body`
/// before the record and `extra` in it.
fn stage(name: &str, addrs: &[&str], body: &str, extra: &str) -> Stage {
    bridge("br0");
    for a in addrs {
        ip(&["addr", "add", a, "dev", "br0"]);
    }
    ip(&["addr", "add", "fe80::1/64", "dev", "br0", "nodad"]);
    let bind = Arc::new(Bind::start());
    let provider = Provider::start();
    let b = bind.clone();
    provider.on_request(Box::new(move |req| {
        if let Some(addr) = req.param("myip").and_then(|a| a.parse::<IpAddr>().ok()) {
            b.set(ABSOLUTE, Family::of(&addr), &[addr], 60);
        }
    }));
    let dir = Scratch::new(name);
    let body = format!(
        "[verify]\nresolver = \"{}\"\n{body}{}",
        bind.resolver(),
        record(HOST, "br0", extra)
    );
    let cfg = write_config(&dir, &provider.url(), &body);
    Stage {
        bind,
        provider,
        dir,
        cfg,
    }
}

/// A real publish first, so that the state file holds a reply.
fn published(name: &str) -> Stage {
    let s = stage(name, &["203.0.113.5/24", "192.168.1.2/24"], "", "");
    let out = run(&s.cfg, &["update"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let r = s.provider.nth(1, T, "the first publish");
    assert_eq!(r.param("myip"), Some("203.0.113.5"));
    s
}

fn state_file(s: &Stage) -> Vec<u8> {
    let path = s.dir.join("state").join("state");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn explain_names_each_address_the_last_reply_each_server_and_a_right_verdict() {
    in_netns(|| {
        let s = published("explain-right");
        let before = state_file(&s);
        let out = run(&s.cfg, &["explain"]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
        for needle in [
            "home.example.com\n",
            "interface br0 is up",
            "203.0.113.5/24: publishable",
            "192.168.1.2/24: not publishable: private (RFC 1918)",
            "fe80::1/64: not publishable: link-local (this record does not publish ipv6)",
            "source interface: 203.0.113.5 (the address of br0)",
            "would send: nothing: the provider has 203.0.113.5 already",
            "published: 203.0.113.5 at ",
            "last reply: good 203.0.113.5 at ",
            "state: ok",
            "127.0.0.1:53 answers 203.0.113.5 (TTL 60)",
            "127.0.0.2:53 answers 203.0.113.5 (TTL 60)",
            "verdict: home.example.com (ipv4) is right: the authoritative servers answer \
             203.0.113.5, this host's public address.",
        ] {
            assert!(stdout.contains(needle), "{needle:?} in:\n{stdout}");
        }
        // In the chain's order: addresses, source, request, reply, servers, verdict.
        let at = |n: &str| stdout.find(n).unwrap();
        assert!(at("203.0.113.5/24") < at("source interface"));
        assert!(at("source interface") < at("would send"));
        assert!(at("would send") < at("last reply"));
        assert!(at("last reply") < at("127.0.0.1:53 answers"));
        assert!(at("127.0.0.1:53 answers") < at("verdict"));

        let out = run(&s.cfg, &["explain", "--json", HOST]);
        assert_eq!(out.status.code(), Some(0));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(v["right"], true, "{v}");
        let r = &v["records"][0];
        assert_eq!(r["interface"], "br0");
        assert_eq!(r["link"], "up");
        let addrs = r["addresses"].as_array().unwrap();
        let find = |a: &str| addrs.iter().find(|x| x["address"] == a).unwrap().clone();
        assert_eq!(find("203.0.113.5")["publishable"], true);
        assert_eq!(find("192.168.1.2")["reason"], "private (RFC 1918)");
        assert_eq!(find("fe80::1")["reason"], "link-local");
        let f = &r["families"][0];
        assert_eq!(f["family"], "ipv4");
        assert_eq!(f["dns"], "visible");
        assert_eq!(f["last_reply"]["code"], "good");
        assert!(f["request"].is_null(), "nothing would be sent: {f}");
        assert_eq!(f["servers"].as_array().unwrap().len(), 3, "{f}");

        // A reader that stops early (`| head`) is a normal end.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = std::process::Command::new(support::agent::BIN)
            .arg("-c")
            .arg(&s.cfg)
            .arg("explain")
            .stdout(writer)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);

        assert_eq!(s.provider.count(), 1, "explain never publishes");
        assert_eq!(state_file(&s), before, "explain never writes the state");
    });
}

#[test]
fn dns_that_disagrees_is_wrong_exit_1_and_the_verdict_says_so() {
    in_netns(|| {
        let s = published("explain-wrong");
        // The control panel, another client...
        s.bind
            .set(ABSOLUTE, Family::V4, &["198.51.100.9".parse().unwrap()], 60);
        let out = run(&s.cfg, &["explain", HOST]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
        assert!(
            stdout.contains("127.0.0.1:53 answers 198.51.100.9 (TTL 60)"),
            "{stdout}"
        );
        let verdict = stdout
            .lines()
            .find(|l| l.contains("verdict:"))
            .expect("a verdict");
        assert!(
            verdict.contains(
                "home.example.com (ipv4) is wrong: the authoritative servers answer \
                 198.51.100.9, not 203.0.113.5"
            ),
            "{verdict}"
        );
        assert!(verdict.contains("changed elsewhere"), "{verdict}");
        assert_eq!(s.provider.count(), 1, "explain never publishes");

        let out = run(&s.cfg, &["explain", "other.example.com"]);
        assert_eq!(out.status.code(), Some(2), "no such record: a usage error");
        assert!(
            text(&out).1.contains("other.example.com"),
            "{}",
            text(&out).1
        );
    });
}

#[test]
fn a_web_source_is_asked_once_and_the_request_is_shown_without_the_password() {
    in_netns(|| {
        let echo = HttpServer::start_here(
            SocketAddr::from(([127, 0, 0, 1], 18_091)),
            Box::new(|_, _| Http::ok("text/plain", "203.0.113.60\n")),
        );
        let s = stage(
            "explain-web",
            &["192.168.1.2/24"],
            "[web]\nurls = [\"http://127.0.0.1:18091/ip\"]\n",
            "ipv4_source = [\"interface\", \"web\"]",
        );
        let out = run(&s.cfg, &["explain"]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
        for needle in [
            "192.168.1.2/24: not publishable: private (RFC 1918)",
            "source interface: nothing: 192.168.1.2 is private (RFC 1918)",
            "source web: 203.0.113.60 (http://127.0.0.1:18091/ip)",
            "would send: GET ",
            "hostname=home.example.com&myip=203.0.113.60 with Authorization: Basic \
             <example.com-test:redacted>",
            "published: never",
            "last reply: none",
            "127.0.0.1:53 answers that the name does not exist (NXDOMAIN",
            "verdict: home.example.com (ipv4) is wrong: the authoritative servers have no \
             ipv4 address for it; dynhost would publish 203.0.113.60 now.",
        ] {
            assert!(stdout.contains(needle), "{needle:?} in:\n{stdout}");
        }
        assert_eq!(echo.requests().len(), 1, "the echo is asked once");
        assert_eq!(s.provider.count(), 0, "explain never publishes");
        assert!(
            !s.dir.join("state").join("state").exists(),
            "explain writes no state"
        );
    });
}
