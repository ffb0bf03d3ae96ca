//! Trust, then verify, end to end: the real daemon, Debian's real BIND serving the zone
//! (authoritative on 127.0.0.1/127.0.0.2/::1, a recursive resolver on 127.0.0.53 that
//! follows the delegation; tests/support/bind.rs), and the loopback provider applying
//! each accepted update to the zone by RFC 2136 (nsupdate): at once, late, or not at all.

mod support;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use dynhost::model::Family;
use support::agent::{Agent, Scratch, record, run, settle, text, wait_until, write_config};
use support::bind::Bind;
use support::netns::{bridge, in_netns, ip};
use support::provider::Provider;

const T: Duration = Duration::from_secs(15);
const HOST: &str = "home.example.com";
/// The name as nsupdate takes it (a relative one is under the zone).
const ABSOLUTE: &str = "home.example.com.";

/// How the fake provider applies an accepted update to the zone.
#[derive(Clone, Copy)]
enum Apply {
    AtOnce,
    After(Duration),
    Never,
}

struct Stage {
    bind: Arc<Bind>,
    provider: Provider,
    dir: Scratch,
    cfg: PathBuf,
}

/// br0 holding 203.0.113.5, BIND, a provider that applies updates as `apply` says, and
/// a config whose resolver is BIND's.
fn stage(name: &str, apply: Apply) -> Stage {
    bridge("br0");
    ip(&["addr", "add", "203.0.113.5/24", "dev", "br0"]);
    let bind = Arc::new(Bind::start());
    let provider = Provider::start();
    let b = bind.clone();
    provider.on_request(Box::new(move |req| {
        let Some(addr) = req.param("myip").and_then(|a| a.parse::<IpAddr>().ok()) else {
            return;
        };
        match apply {
            Apply::AtOnce => {
                b.set(ABSOLUTE, Family::of(&addr), &[addr], 60);
            }
            Apply::After(d) => {
                let b = b.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(d);
                    b.set(ABSOLUTE, Family::of(&addr), &[addr], 60);
                });
            }
            Apply::Never => {}
        }
    }));
    let dir = Scratch::new(name);
    let body = format!(
        "[verify]\nresolver = \"{}\"\n{}",
        bind.resolver(),
        record(HOST, "br0", "")
    );
    let cfg = write_config(&dir, &provider.url(), &body);
    Stage {
        bind,
        provider,
        dir,
        cfg,
    }
}

fn status_json(cfg: &Path) -> serde_json::Value {
    let out = run(cfg, &["status", "--json"]);
    serde_json::from_slice(&out.stdout).expect("status --json is JSON")
}

fn dns_of(cfg: &Path) -> serde_json::Value {
    status_json(cfg)["records"][0]["dns"].clone()
}

#[test]
fn an_update_applied_at_once_is_visible_at_once_and_status_says_so() {
    in_netns(|| {
        let s = stage("verify-once", Apply::AtOnce);
        let agent = Agent::start(&s.cfg, &[]);
        s.provider.nth(1, T, "the update");
        agent.wait_log("visible in DNS", T);
        wait_until("the state file to say visible", T, || {
            dns_of(&s.cfg)["visible"] == true
        });
        let dns = dns_of(&s.cfg);
        assert_eq!(dns["addr"], "203.0.113.5");
        assert!(
            dns["server"]
                .as_str()
                .unwrap()
                .contains("answers 203.0.113.5 (TTL 60)")
        );
        let after = dns["visible_after_ms"]
            .as_u64()
            .expect("the time to visible");
        assert!(after < 3_000, "{after} ms");
        assert!(dns["checked_at"].as_u64().unwrap() > 1_700_000_000);
        let out = run(&s.cfg, &["verify"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out).0);
        let (stdout, _) = text(&out);
        assert!(stdout.contains("would publish 203.0.113.5"), "{stdout}");
        assert!(
            stdout.contains("127.0.0.1:53 answers 203.0.113.5 (TTL 60)"),
            "{stdout}"
        );
        agent.stop();
    });
}

#[test]
fn an_update_applied_late_shows_not_yet_then_the_time_it_took() {
    in_netns(|| {
        let s = stage("verify-late", Apply::After(Duration::from_secs(3)));
        let agent = Agent::start(&s.cfg, &[]);
        s.provider.nth(1, T, "the update");
        wait_until("the first DNS check", T, || !dns_of(&s.cfg).is_null());
        let dns = dns_of(&s.cfg);
        assert_eq!(dns["visible"], false, "{dns}");
        let text_status = text(&run(&s.cfg, &["status"])).0;
        assert!(text_status.contains("not yet"), "{text_status}");
        agent.wait_log("visible in DNS", T);
        wait_until("the state file to say visible", T, || {
            dns_of(&s.cfg)["visible"] == true
        });
        let dns = dns_of(&s.cfg);
        let after = dns["visible_after_ms"].as_u64().unwrap();
        assert!((3_000..10_000).contains(&after), "{after} ms");
        assert_eq!(
            s.provider.count(),
            1,
            "slow DNS is never a reason to send again"
        );
        agent.stop();
    });
}

#[test]
fn an_update_never_applied_is_not_sent_again() {
    in_netns(|| {
        let s = stage("verify-never", Apply::Never);
        let agent = Agent::start(&s.cfg, &[]);
        s.provider.nth(1, T, "the update");
        // Checks at 1 s and 6 s: both say the name has no address yet.
        settle(Duration::from_secs(8));
        let dns = dns_of(&s.cfg);
        assert_eq!(dns["visible"], false, "{dns}");
        assert!(dns["addr"].is_null(), "{dns}");
        assert_eq!(s.provider.count(), 1, "no resend");
        let out = run(&s.cfg, &["verify"]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out).0);
        assert!(text(&out).0.contains("no ipv4 address"), "{}", text(&out).0);
        agent.stop();
    });
}

#[test]
fn a_record_changed_while_dynhost_was_stopped_is_published_again_at_start() {
    in_netns(|| {
        let s = stage("verify-stopped", Apply::AtOnce);
        let agent = Agent::start(&s.cfg, &[]);
        s.provider.nth(1, T, "the update");
        agent.wait_log("visible in DNS", T);
        agent.stop();
        // The control panel, a second client, a restored zone...
        s.bind
            .set(ABSOLUTE, Family::V4, &["198.51.100.9".parse().unwrap()], 60);
        let out = run(&s.cfg, &["verify"]);
        assert_eq!(out.status.code(), Some(1), "a mismatch: {}", text(&out).0);
        assert!(
            text(&out)
                .0
                .contains("answer 198.51.100.9, not 203.0.113.5")
        );
        let agent = Agent::start(&s.cfg, &[]);
        agent.wait_log("the record was changed elsewhere", T);
        let r = s.provider.nth(2, T, "the update that puts it back");
        assert_eq!(r.param("myip"), Some("203.0.113.5"));
        agent.wait_log("visible in DNS", T);
        settle(Duration::from_secs(1));
        assert_eq!(s.provider.count(), 2, "once");
        assert_eq!(run(&s.cfg, &["verify"]).status.code(), Some(0));
        agent.stop();
    });
}

#[test]
fn a_record_changed_while_dynhost_runs_is_published_again_at_the_next_reconnect() {
    in_netns(|| {
        let s = stage("verify-reconnect", Apply::AtOnce);
        let agent = Agent::start(&s.cfg, &[]);
        s.provider.nth(1, T, "the update");
        agent.wait_log("visible in DNS", T);
        s.bind
            .set(ABSOLUTE, Family::V4, &["198.51.100.9".parse().unwrap()], 60);
        settle(Duration::from_secs(2));
        assert_eq!(s.provider.count(), 1, "no periodic check by default");
        // A reconnect: the link goes down and up again with the same address.
        ip(&["link", "set", "br0", "down"]);
        settle(Duration::from_millis(200));
        ip(&["link", "set", "br0", "up"]);
        agent.wait_log("the record was changed elsewhere", T);
        let r = s.provider.nth(2, T, "the update after the reconnect");
        assert_eq!(r.param("myip"), Some("203.0.113.5"));
        agent.stop();
    });
}

#[test]
fn servers_that_cannot_be_reached_are_unknown_and_publish_nothing() {
    in_netns(|| {
        let s = stage("verify-down", Apply::AtOnce);
        let agent = Agent::start(&s.cfg, &[]);
        s.provider.nth(1, T, "the update");
        agent.wait_log("visible in DNS", T);
        agent.stop();
        // BIND goes away; the state file says published.
        s.provider.on_request(Box::new(|_| {}));
        let Stage {
            bind,
            provider,
            dir: _dir,
            cfg,
        } = s;
        Arc::try_unwrap(bind).ok().expect("no other owner").stop();
        let agent = Agent::start(&cfg, &[]);
        agent.wait_log("could not tell what DNS answers", T);
        settle(Duration::from_secs(1));
        assert_eq!(provider.count(), 1, "unknown is never drift");
        let out = run(&cfg, &["verify"]);
        assert_eq!(out.status.code(), Some(1));
        agent.stop();
    });
}
