//! The engine's DNS events end to end: the real daemon, Debian's real BIND serving the
//! zone (tests/support/bind.rs) and the loopback provider applying each accepted update
//! by nsupdate, as tests/verify.rs drives them. The events reach a `command` hook that
//! writes what it got (`DYNHOST_EVENT`, `DYNHOST_ADDRESS`, `DYNHOST_PREVIOUS`,
//! `DYNHOST_DNS`) to a file.

mod support;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dynhost::model::Family;
use support::agent::{Agent, Scratch, record, settle, wait_until, write_config};
use support::bind::Bind;
use support::netns::{bridge, in_netns, ip};
use support::provider::Provider;

const T: Duration = Duration::from_secs(15);
const ABSOLUTE: &str = "home.example.com.";

struct Stage {
    bind: Arc<Bind>,
    provider: Provider,
    _dir: Scratch,
    cfg: PathBuf,
    events: PathBuf,
}

/// br0 holding 203.0.113.5, BIND, a provider that applies each update at once, and a
/// config whose resolver is BIND's and whose hook records `events`.
fn stage(name: &str, events: &str) -> Stage {
    stage_with(name, events, "")
}

/// As [`stage`], with more `[notify]` lines.
fn stage_with(name: &str, events: &str, notify: &str) -> Stage {
    bridge("br0");
    ip(&["addr", "add", "203.0.113.5/24", "dev", "br0"]);
    let bind = Arc::new(Bind::start());
    let provider = Provider::start();
    let b = bind.clone();
    provider.on_request(Box::new(move |req| {
        if let Some(addr) = req.param("myip").and_then(|a| a.parse::<IpAddr>().ok()) {
            b.set(ABSOLUTE, Family::of(&addr), &[addr], 60);
        }
    }));
    let dir = Scratch::new(name);
    let out = dir.join("events.out");
    let body = format!(
        "[verify]\nresolver = \"{}\"\n{}\n[notify]\nevents = [{events}]\n\
         command = ['/bin/sh', '-c', 'printf \"%s|%s|%s|%s\\n\" \"$DYNHOST_EVENT\" \
         \"$DYNHOST_ADDRESS\" \"$DYNHOST_PREVIOUS\" \"$DYNHOST_DNS\" >> {}']\n{notify}\n",
        bind.resolver(),
        record("home.example.com", "br0", ""),
        out.display()
    );
    let cfg = write_config(&dir, &provider.url(), &body);
    Stage {
        bind,
        provider,
        _dir: dir,
        cfg,
        events: out,
    }
}

/// What the hook got so far, one event per line split at `|`.
fn got(s: &Stage) -> Vec<Vec<String>> {
    std::fs::read_to_string(&s.events)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

#[test]
fn an_update_the_servers_answer_is_told_as_visible() {
    in_netns(|| {
        let s = stage("events-visible", "\"published\", \"visible\"");
        let agent = Agent::start(&s.cfg, &[]);
        s.provider.nth(1, T, "the update");
        wait_until("published, then visible", T, || got(&s).len() == 2);
        let evs = got(&s);
        assert_eq!(evs[0][..3], ["published", "203.0.113.5", ""]);
        assert_eq!(evs[1][..3], ["visible", "203.0.113.5", ""]);
        assert!(
            evs[1][3].contains("answers 203.0.113.5 (TTL 60)"),
            "DYNHOST_DNS: {:?}",
            evs[1]
        );
        agent.stop();
    });
}

#[test]
fn a_record_changed_elsewhere_is_told_as_drift_with_what_the_servers_answered() {
    in_netns(|| {
        let s = stage("events-drift", "\"published\", \"drift\"");
        let agent = Agent::start(&s.cfg, &[]);
        s.provider.nth(1, T, "the update");
        agent.wait_log("visible in DNS", T);
        // The control panel changes the record; a reconnect makes dynhost look again.
        s.bind
            .set(ABSOLUTE, Family::V4, &["198.51.100.9".parse().unwrap()], 60);
        ip(&["link", "set", "br0", "down"]);
        settle(Duration::from_millis(200));
        ip(&["link", "set", "br0", "up"]);
        let r = s.provider.nth(2, T, "the update that puts it back");
        assert_eq!(r.param("myip"), Some("203.0.113.5"));
        wait_until("drift, then published", T, || got(&s).len() == 3);
        let evs = got(&s);
        assert_eq!(evs[1][..3], ["drift", "203.0.113.5", "198.51.100.9"]);
        assert!(
            evs[1][3].contains("198.51.100.9"),
            "DYNHOST_DNS: {:?}",
            evs[1]
        );
        assert_eq!(evs[2][..2], ["published", "203.0.113.5"]);
        agent.stop();
    });
}

#[test]
fn the_heartbeat_asks_the_servers_at_its_interval_and_fails_with_the_reason() {
    in_netns(|| {
        // An Uptime Kuma push URL: the status and the reason travel in the query.
        let kuma = Provider::start();
        let url = kuma.url().replace("/nic/update", "/api/push/kuma-token");
        let s = stage_with(
            "events-heartbeat",
            "\"published\"",
            &format!("heartbeat_url = \"{url}\"\nheartbeat = \"1m\"\n"),
        );
        let agent = Agent::start(&s.cfg, &[]);
        s.provider.nth(1, T, "the update");
        // After each publish, at once.
        let ping = kuma.nth(1, T, "the ping after the publish");
        assert_eq!(
            (ping.path.as_str(), ping.param("status")),
            ("/api/push/kuma-token", Some("up"))
        );
        agent.wait_log("visible in DNS", T);
        // Changed elsewhere: nothing looks until the heartbeat's interval.
        s.bind
            .set(ABSOLUTE, Family::V4, &["198.51.100.9".parse().unwrap()], 60);
        settle(Duration::from_secs(2));
        assert_eq!(kuma.count(), 1, "no ping before the interval");
        let down = kuma.nth(2, Duration::from_secs(75), "the heartbeat's check");
        assert_eq!(down.param("status"), Some("down"), "{:?}", down.query);
        assert!(
            down.param("msg").unwrap().contains("198.51.100.9"),
            "{:?}",
            down.query
        );
        // Put back, published again: the next ping is up.
        s.provider.nth(2, T, "the update that puts it back");
        wait_until("an up ping after the put-back", T, || {
            kuma.requests()
                .iter()
                .skip(2)
                .any(|r| r.param("status") == Some("up"))
        });
        agent.stop();
    });
}
