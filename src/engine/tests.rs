//! Engine scenarios with simulated time: instants are made up, nothing sleeps.

use std::net::IpAddr;
use std::time::Duration;

use super::*;
use crate::model::{AddrFlags, AddrInfo, LinkInfo, NetEvent, Scope};
use crate::provider::reply::{Code, Outcome, Reply, Transport};
use crate::request::UpdateRequest;

const MS: Duration = Duration::from_millis(1);
const S: Duration = Duration::from_secs(1);
const WALL0: u64 = 1_800_000_000;

fn timing() -> Timing {
    Timing {
        debounce: S,
        debounce_max: 10 * S,
        retry_initial: 30 * S,
        retry_max: 3600 * S,
        max_per_hour: 12,
        gateway_check: None,
        web_check: None,
        verify: false,
        verify_interval: None,
    }
}

fn key(host: &str, family: Family) -> SlotKey {
    SlotKey {
        hostname: host.into(),
        family,
    }
}

fn spec(host: &str, family: Family, iface: &str) -> SlotSpec {
    SlotSpec {
        key: key(host, family),
        record: host.len(),
        interface: iface.into(),
        config_changed_at: Some(WALL0 - 1000),
        sources: vec![Source::Interface],
        suffix: None,
        allow_private: false,
        batched: false,
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A link with addresses, as a dump would show it.
fn snap(links: &[(&str, u32, &[&str])]) -> Snapshot {
    let mut s = Snapshot::default();
    for (name, index, addrs) in links {
        s.links.push(LinkInfo {
            index: *index,
            name: name.to_string(),
            up: true,
        });
        for a in *addrs {
            s.addrs.push(AddrInfo {
                index: *index,
                addr: ip(a),
                prefix_len: 32,
                scope: Scope::Global,
                flags: AddrFlags::default(),
            });
        }
    }
    s
}

/// `update --interface ppp0 --ip ADDR [--force]`.
fn over(addr: &str, force: bool) -> UpdateRequest {
    UpdateRequest {
        interface: Some("ppp0".into()),
        ip: Some(ip(addr)),
        force,
    }
}

fn good(addr: &str) -> Outcome {
    Outcome::Reply(Reply::Good(Some(ip(addr))))
}

struct Sim {
    e: Engine,
    t0: Instant,
    now: Instant,
}

impl Sim {
    fn new(specs: Vec<SlotSpec>) -> Sim {
        Sim::with(Mode::Daemon, specs, Memory::new())
    }

    fn with(mode: Mode, specs: Vec<SlotSpec>, memory: Memory) -> Sim {
        Sim::build(mode, timing(), specs, memory)
    }

    fn build(mode: Mode, timing: Timing, specs: Vec<SlotSpec>, memory: Memory) -> Sim {
        let t0 = Instant::now();
        Sim {
            e: Engine::new(mode, timing, specs, &memory, t0, WALL0, 7),
            t0,
            now: t0,
        }
    }

    fn wall(&self) -> u64 {
        WALL0 + (self.now - self.t0).as_secs()
    }

    /// Moves the clock, firing timeouts as the driver would.
    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.e.poll_timeout().filter(|t| *t <= end) {
            self.now = t.max(self.now);
            self.e.handle_timeout(self.now);
        }
        self.now = end;
    }

    fn actions(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.e.poll_action()).collect()
    }

    /// Actions other than writing the state file.
    fn work(&mut self) -> Vec<Action> {
        let mut a = self.actions();
        a.retain(|a| *a != Action::Persist);
        a
    }

    fn sends(&mut self) -> Vec<(SlotKey, IpAddr)> {
        self.actions()
            .into_iter()
            .filter_map(|a| match a {
                Action::Send { key, addr } => Some((key, addr)),
                _ => None,
            })
            .collect()
    }

    /// An IPv4 address event on ppp0 (index 5), then the dump shows `addrs` there.
    fn change(&mut self, addrs: &[&str]) -> Vec<(SlotKey, IpAddr)> {
        self.net(NetEvent::Addr {
            index: 5,
            family: Some(Family::V4),
        });
        self.dump_after_debounce(&snap(&[("ppp0", 5, addrs)]))
    }

    fn request(&mut self, r: UpdateRequest) {
        self.e.handle_request(self.now, &r, None).unwrap();
    }

    fn net(&mut self, ev: NetEvent) {
        self.e.handle_net(self.now, ev);
    }

    fn snapshot(&mut self, s: &Snapshot) {
        self.e.handle_snapshot(self.now, s);
    }

    fn outcome(&mut self, k: &SlotKey, addr: &str, o: Outcome) {
        let wall = self.wall();
        self.e.handle_outcome(self.now, wall, k, ip(addr), o);
    }

    /// Start-up: the first dump shows `s`.
    fn start(&mut self, s: &Snapshot) -> Vec<(SlotKey, IpAddr)> {
        assert_eq!(
            self.e.poll_action(),
            Some(Action::Dump),
            "start-up dumps first"
        );
        self.actions();
        self.snapshot(s);
        self.sends()
    }

    /// Waits for the debounce, expects exactly one dump, answers it with `s`.
    fn dump_after_debounce(&mut self, s: &Snapshot) -> Vec<(SlotKey, IpAddr)> {
        assert!(
            self.e.poll_timeout().is_some(),
            "an event must arm the debounce"
        );
        self.advance(10 * S);
        assert_eq!(self.work(), vec![Action::Dump]);
        self.snapshot(s);
        self.sends()
    }

    /// SIGHUP with `specs`, the usual timing and an empty state file.
    fn reload(&mut self, specs: Vec<SlotSpec>) {
        self.reload_with(timing(), specs, &Memory::new());
    }

    fn reload_with(&mut self, timing: Timing, specs: Vec<SlotSpec>, memory: &Memory) {
        let wall = self.wall();
        self.e.reconfigure(timing, specs, memory, self.now, wall);
    }

    fn memory(&self, k: &SlotKey) -> SlotMemory {
        self.e
            .memory()
            .into_iter()
            .find(|(key, _)| key == k)
            .unwrap()
            .1
    }
}

fn v4() -> SlotKey {
    key("home.example.com", Family::V4)
}

fn v6() -> SlotKey {
    key("home.example.com", Family::V6)
}

/// The state file of `one_spec()`'s slot.
fn remembered(m: SlotMemory) -> Memory {
    Memory::from([(v4(), m)])
}

fn one_spec() -> SlotSpec {
    spec("home.example.com", Family::V4, "ppp0")
}

fn one_record() -> Sim {
    Sim::new(vec![one_spec()])
}

/// One record whose address `addr` has been published, and nothing pending.
fn published(addr: &str) -> Sim {
    let mut sim = one_record();
    sim.start(&snap(&[("ppp0", 5, &[addr])]));
    sim.outcome(&v4(), addr, good(addr));
    sim.actions();
    sim
}

#[test]
fn start_with_an_address_sends_one_update_then_idles() {
    let mut sim = one_record();
    let sends = sim.start(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    assert_eq!(sends, vec![(v4(), ip("203.0.113.5"))]);
    sim.outcome(&v4(), "203.0.113.5", good("203.0.113.5"));
    assert_eq!(sim.actions(), vec![Action::Persist]);
    assert_eq!(sim.e.poll_timeout(), None, "idle: no timer at all");
    let m = sim.memory(&v4());
    assert_eq!(m.published.unwrap().addr, ip("203.0.113.5"));
    assert_eq!(m.last_reply.unwrap().token, "good");
}

#[test]
fn an_address_change_sends_exactly_one_update_after_the_debounce() {
    let mut sim = published("203.0.113.5");
    sim.net(NetEvent::Addr {
        index: 5,
        family: Some(Family::V4),
    });
    assert_eq!(sim.e.poll_timeout(), Some(sim.now + S));
    sim.advance(999 * MS);
    assert_eq!(sim.actions(), vec![], "nothing before the quiet second");
    let sends = sim.dump_after_debounce(&snap(&[("ppp0", 5, &["203.0.113.9"])]));
    assert_eq!(sends, vec![(v4(), ip("203.0.113.9"))]);
}

#[test]
fn twenty_changes_in_a_second_give_one_update_with_the_last_address() {
    let mut sim = published("203.0.113.5");
    for _ in 0..20 {
        sim.net(NetEvent::Addr {
            index: 5,
            family: Some(Family::V4),
        });
        sim.advance(50 * MS);
        assert!(sim.actions().is_empty());
    }
    let sends = sim.dump_after_debounce(&snap(&[("ppp0", 5, &["203.0.113.20"])]));
    assert_eq!(sends, vec![(v4(), ip("203.0.113.20"))]);
    assert_eq!(sim.e.poll_timeout(), None);
}

#[test]
fn events_on_other_interfaces_cost_nothing() {
    let mut sim = one_record();
    sim.start(&snap(&[("ppp0", 5, &[]), ("lan", 2, &["192.168.1.1"])]));
    sim.net(NetEvent::Link {
        index: 9,
        name: Some("veth9".into()),
        removed: false,
        up: true,
    });
    for _ in 0..1000 {
        sim.net(NetEvent::Addr {
            index: 2,
            family: Some(Family::V4),
        });
        sim.net(NetEvent::Addr {
            index: 9,
            family: Some(Family::V4),
        });
    }
    assert_eq!(sim.e.poll_timeout(), None, "no debounce armed");
    assert!(sim.actions().is_empty());
    // An address on a link we have never heard of might be ours: look.
    sim.net(NetEvent::Addr {
        index: 77,
        family: Some(Family::V4),
    });
    assert!(sim.e.poll_timeout().is_some());
}

#[test]
fn address_events_of_a_family_no_record_publishes_are_ignored() {
    // one_record publishes IPv4 only: IPv6 churn on ppp0 (SLAAC, privacy addresses,
    // DAD) must not delay an IPv4 update by restarting the debounce.
    let mut sim = one_record();
    sim.start(&snap(&[("ppp0", 5, &[])]));
    for _ in 0..100 {
        sim.net(NetEvent::Addr {
            index: 5,
            family: Some(Family::V6),
        });
    }
    assert_eq!(sim.e.poll_timeout(), None, "IPv6 events armed the debounce");
    sim.net(NetEvent::Addr {
        index: 5,
        family: Some(Family::V4),
    });
    let armed = sim.e.poll_timeout().expect("IPv4 event arms the debounce");
    sim.advance(500 * MS);
    sim.net(NetEvent::Addr {
        index: 5,
        family: Some(Family::V6),
    });
    assert_eq!(
        sim.e.poll_timeout(),
        Some(armed),
        "IPv6 event moved the deadline"
    );
    // A family we cannot name might matter: look.
    sim.net(NetEvent::Addr {
        index: 5,
        family: None,
    });
    assert!(sim.e.poll_timeout() > Some(armed));
}

#[test]
fn a_ppp_link_recreated_with_a_new_index_is_followed_by_name() {
    let mut sim = published("203.0.113.5");
    sim.net(NetEvent::Link {
        index: 5,
        name: Some("ppp0".into()),
        removed: true,
        up: false,
    });
    sim.net(NetEvent::Link {
        index: 6,
        name: Some("ppp0".into()),
        removed: false,
        up: true,
    });
    sim.net(NetEvent::Addr {
        index: 6,
        family: Some(Family::V4),
    });
    let sends = sim.dump_after_debounce(&snap(&[("ppp0", 6, &["198.51.100.77"])]));
    assert_eq!(sends, vec![(v4(), ip("198.51.100.77"))]);
}

#[test]
fn a_restart_with_an_unchanged_address_sends_nothing() {
    let memory = remembered(SlotMemory {
        published: Some(Published {
            addr: ip("203.0.113.5"),
            at: WALL0 - 3600,
        }),
        ..Default::default()
    });
    let mut sim = Sim::with(Mode::Daemon, vec![one_spec()], memory);
    assert!(
        sim.start(&snap(&[("ppp0", 5, &["203.0.113.5"])]))
            .is_empty()
    );
    assert_eq!(
        sim.e.report(sim.now)[0].result,
        SlotResult::UpToDate(ip("203.0.113.5"))
    );
}

#[test]
fn badauth_blocks_the_record_until_reload_and_spares_the_others() {
    let mut sim = Sim::new(vec![
        spec("home.example.com", Family::V4, "ppp0"),
        spec("other.example.com", Family::V4, "ppp0"),
    ]);
    let other = key("other.example.com", Family::V4);
    let sends = sim.start(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    assert_eq!(sends.len(), 2);
    sim.outcome(
        &v4(),
        "203.0.113.5",
        Outcome::Reply(Reply::Code(Code::BadAuth)),
    );
    sim.outcome(&other, "203.0.113.5", good("203.0.113.5"));
    sim.actions();
    assert_eq!(sim.e.poll_timeout(), None, "a block has no timer");
    sim.net(NetEvent::Addr {
        index: 5,
        family: Some(Family::V4),
    });
    let sends = sim.dump_after_debounce(&snap(&[("ppp0", 5, &["203.0.113.6"])]));
    assert_eq!(
        sends,
        vec![(other.clone(), ip("203.0.113.6"))],
        "only the healthy record"
    );
    assert!(matches!(
        sim.e.report(sim.now)[0].result,
        SlotResult::Blocked { .. }
    ));
    assert_eq!(sim.memory(&v4()).blocked_since, Some(WALL0));
    // SIGHUP: unblocked, re-read, sent.
    sim.reload(vec![
        spec("home.example.com", Family::V4, "ppp0"),
        spec("other.example.com", Family::V4, "ppp0"),
    ]);
    let actions = sim.actions();
    assert!(actions.contains(&Action::Dump), "{actions:?}");
    sim.snapshot(&snap(&[("ppp0", 5, &["203.0.113.6"])]));
    assert_eq!(sim.sends(), vec![(v4(), ip("203.0.113.6"))]);
}

#[test]
fn a_503_is_retried_with_backoff_then_published() {
    let mut sim = one_record();
    sim.start(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    sim.outcome(&v4(), "203.0.113.5", Outcome::Reply(Reply::Status(503)));
    assert_eq!(sim.actions(), vec![Action::Persist]);
    let wait = sim.e.poll_timeout().unwrap() - sim.now;
    assert!(wait >= 24 * S && wait <= 30 * S, "{wait:?}");
    assert!(
        sim.memory(&v4()).published.is_none(),
        "failure publishes nothing"
    );
    assert!(sim.memory(&v4()).retry_at.is_some());
    sim.advance(wait - MS);
    assert!(sim.sends().is_empty());
    sim.advance(MS);
    assert_eq!(sim.sends(), vec![(v4(), ip("203.0.113.5"))]);
    sim.outcome(&v4(), "203.0.113.5", Outcome::Reply(Reply::Status(503)));
    let wait2 = sim.e.poll_timeout().unwrap() - sim.now;
    assert!(wait2 >= 48 * S && wait2 <= 60 * S, "doubles: {wait2:?}");
    sim.advance(wait2);
    assert_eq!(sim.sends().len(), 1);
    sim.outcome(&v4(), "203.0.113.5", good("203.0.113.5"));
    assert_eq!(sim.memory(&v4()).retry_at, None);
    assert_eq!(sim.e.poll_timeout(), None);
}

#[test]
fn after_911_nothing_is_sent_for_30_minutes_and_then_the_newest_address() {
    let mut sim = one_record();
    sim.start(&snap(&[("ppp0", 5, &["203.0.113.1"])]));
    sim.outcome(
        &v4(),
        "203.0.113.1",
        Outcome::Reply(Reply::Code(Code::Emergency)),
    );
    sim.actions();
    let failed_at = sim.now;
    // The address moves twice while we wait.
    for addr in ["203.0.113.2", "203.0.113.3"] {
        sim.advance(5 * 60 * S);
        sim.net(NetEvent::Addr {
            index: 5,
            family: Some(Family::V4),
        });
        let sends = sim.dump_after_debounce(&snap(&[("ppp0", 5, &[addr])]));
        assert!(sends.is_empty(), "no send during the 911 floor");
    }
    let retry = sim.e.poll_timeout().unwrap();
    assert!(retry - failed_at >= 30 * 60 * S);
    sim.advance(retry - sim.now);
    assert_eq!(
        sim.sends(),
        vec![(v4(), ip("203.0.113.3"))],
        "the newest, only"
    );
}

#[test]
fn an_older_address_is_never_sent_after_a_newer_one_was_seen() {
    let mut sim = one_record();
    sim.start(&snap(&[("ppp0", 5, &["203.0.113.1"])]));
    // While 203.0.113.1 is in flight, the address changes.
    sim.net(NetEvent::Addr {
        index: 5,
        family: Some(Family::V4),
    });
    let sends = sim.dump_after_debounce(&snap(&[("ppp0", 5, &["203.0.113.2"])]));
    assert!(sends.is_empty(), "one request in flight per slot");
    sim.outcome(
        &v4(),
        "203.0.113.1",
        Outcome::Transport(Transport::Unconfirmed("timeout".into())),
    );
    sim.actions();
    let retry = sim.e.poll_timeout().unwrap();
    sim.advance(retry - sim.now);
    assert_eq!(sim.sends(), vec![(v4(), ip("203.0.113.2"))]);
}

#[test]
fn a_success_for_a_stale_address_is_followed_at_once_by_the_new_one() {
    let mut sim = one_record();
    sim.start(&snap(&[("ppp0", 5, &["203.0.113.1"])]));
    sim.net(NetEvent::Addr {
        index: 5,
        family: Some(Family::V4),
    });
    sim.dump_after_debounce(&snap(&[("ppp0", 5, &["203.0.113.2"])]));
    sim.outcome(&v4(), "203.0.113.1", good("203.0.113.1"));
    assert_eq!(sim.sends(), vec![(v4(), ip("203.0.113.2"))]);
}

#[test]
fn families_are_independent() {
    let mut sim = Sim::new(vec![
        spec("home.example.com", Family::V4, "ppp0"),
        spec("home.example.com", Family::V6, "ppp0"),
    ]);
    let sends = sim.start(&snap(&[("ppp0", 5, &["203.0.113.1", "2001:db8::1"])]));
    assert_eq!(sends.len(), 2);
    sim.outcome(&v6(), "2001:db8::1", Outcome::Reply(Reply::Status(502)));
    sim.outcome(&v4(), "203.0.113.1", good("203.0.113.1"));
    sim.actions();
    sim.net(NetEvent::Addr {
        index: 5,
        family: Some(Family::V4),
    });
    let sends = sim.dump_after_debounce(&snap(&[("ppp0", 5, &["203.0.113.2", "2001:db8::2"])]));
    assert_eq!(
        sends,
        vec![(v4(), ip("203.0.113.2"))],
        "IPv4 does not wait for IPv6's backoff"
    );
}

#[test]
fn only_a_private_address_sends_nothing_and_keeps_the_record() {
    let mut sim = one_record();
    assert!(
        sim.start(&snap(&[("ppp0", 5, &["10.0.0.2", "100.64.3.3"])]))
            .is_empty()
    );
    let r = &sim.e.report(sim.now)[0].result;
    assert!(
        matches!(r, SlotResult::Unavailable(why) if why.contains("private") && why.contains("carrier-grade")),
        "{r:?}"
    );
    assert!(!r.is_failure());
    // Reported once: the same situation again is not news.
    assert!(sim.e.slots[0].origin.said_unavailable());
    sim.net(NetEvent::Addr {
        index: 5,
        family: Some(Family::V4),
    });
    assert!(
        sim.dump_after_debounce(&snap(&[("ppp0", 5, &["10.0.0.2", "100.64.3.3"])]))
            .is_empty()
    );
    // A public address arrives later: published.
    sim.net(NetEvent::Addr {
        index: 5,
        family: Some(Family::V4),
    });
    let sends = sim.dump_after_debounce(&snap(&[("ppp0", 5, &["10.0.0.2", "198.51.100.4"])]));
    assert_eq!(sends, vec![(v4(), ip("198.51.100.4"))]);
}

#[test]
fn an_interface_that_disappears_keeps_the_record_quietly() {
    let mut sim = published("203.0.113.5");
    sim.net(NetEvent::Link {
        index: 5,
        name: Some("ppp0".into()),
        removed: true,
        up: false,
    });
    assert!(sim.dump_after_debounce(&snap(&[])).is_empty());
    assert_eq!(
        sim.memory(&v4()).published.unwrap().addr,
        ip("203.0.113.5"),
        "nothing forgotten"
    );
}

#[test]
fn a_trigger_joins_the_debounce_and_reports_when_done() {
    let mut sim = published("203.0.113.5");
    // The hook and the netlink event for the same new address.
    sim.net(NetEvent::Addr {
        index: 5,
        family: Some(Family::V4),
    });
    sim.e
        .handle_request(
            sim.now,
            &UpdateRequest {
                interface: Some("ppp0".into()),
                ..Default::default()
            },
            Some(42),
        )
        .unwrap();
    let sends = sim.dump_after_debounce(&snap(&[("ppp0", 5, &["203.0.113.8"])]));
    assert_eq!(sends.len(), 1, "one request for both");
    sim.outcome(&v4(), "203.0.113.8", good("203.0.113.8"));
    let actions = sim.actions();
    assert!(
        actions.contains(&Action::Report {
            ticket: 42,
            results: vec![SlotReport {
                key: v4(),
                result: SlotResult::UpToDate(ip("203.0.113.8")),
                last_reply: Some("good 203.0.113.8".into()),
            }]
        }),
        "{actions:?}"
    );
}

#[test]
fn a_trigger_for_an_unfollowed_interface_is_refused() {
    let mut sim = one_record();
    let err = sim.e.handle_request(
        sim.now,
        &UpdateRequest {
            interface: Some("eth9".into()),
            ..Default::default()
        },
        None,
    );
    assert_eq!(
        err,
        Err(RequestError::NoRecordFollows {
            interface: Some("eth9".into()),
            family: None
        })
    );
    let err = sim.e.handle_request(
        sim.now,
        &UpdateRequest {
            interface: Some("ppp0".into()),
            ip: Some(ip("2001:db8::1")),
            ..Default::default()
        },
        None,
    );
    assert_eq!(
        err.unwrap_err().to_string(),
        "no enabled record follows interface \"ppp0\" with ipv6"
    );
}

#[test]
fn force_resends_an_unchanged_address_once() {
    let mut sim = published("203.0.113.5");
    sim.request(UpdateRequest {
        force: true,
        ..Default::default()
    });
    let s = snap(&[("ppp0", 5, &["203.0.113.5"])]);
    assert_eq!(sim.dump_after_debounce(&s).len(), 1);
    sim.outcome(
        &v4(),
        "203.0.113.5",
        Outcome::Reply(Reply::NoChange(Some(ip("203.0.113.5")))),
    );
    sim.net(NetEvent::Addr {
        index: 5,
        family: Some(Family::V4),
    });
    assert!(sim.dump_after_debounce(&s).is_empty(), "force is spent");
}

fn blocked_memory() -> Memory {
    remembered(SlotMemory {
        blocked_since: Some(WALL0 - 100),
        last_reply: Some(LastReply {
            token: "badauth".into(),
            detail: "badauth".into(),
            at: WALL0 - 100,
        }),
        ..Default::default()
    })
}

#[test]
fn one_shot_runs_honour_a_block_under_the_same_config() {
    let mut sim = Sim::with(Mode::OneShot, vec![one_spec()], blocked_memory());
    sim.e
        .handle_request(sim.now, &UpdateRequest::default(), None)
        .unwrap();
    assert_eq!(sim.actions(), vec![Action::Dump]);
    sim.snapshot(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    assert!(sim.sends().is_empty());
    assert!(sim.e.report(sim.now)[0].result.is_failure());
    // The config changed after the block: try again.
    let mut s = spec("home.example.com", Family::V4, "ppp0");
    s.config_changed_at = Some(WALL0 - 10);
    let mut sim = Sim::with(Mode::OneShot, vec![s], blocked_memory());
    sim.e
        .handle_request(sim.now, &UpdateRequest::default(), None)
        .unwrap();
    sim.actions();
    sim.snapshot(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    assert_eq!(sim.sends().len(), 1);
}

#[test]
fn the_daemon_forgets_blocks_at_restart() {
    let mut sim = Sim::with(Mode::Daemon, vec![one_spec()], blocked_memory());
    assert_eq!(sim.start(&snap(&[("ppp0", 5, &["203.0.113.5"])])).len(), 1);
}

#[test]
fn a_persisted_retry_time_survives_a_restart() {
    let memory = remembered(SlotMemory {
        retry_at: Some(WALL0 + 600),
        ..Default::default()
    });
    let mut sim = Sim::with(Mode::Daemon, vec![one_spec()], memory);
    assert!(
        sim.start(&snap(&[("ppp0", 5, &["203.0.113.5"])]))
            .is_empty()
    );
    assert_eq!(sim.e.poll_timeout(), Some(sim.t0 + 600 * S));
    sim.advance(600 * S);
    assert_eq!(sim.sends().len(), 1);
}

#[test]
fn one_shot_override_uses_the_given_address() {
    let mut sim = Sim::with(
        Mode::OneShot,
        vec![
            spec("home.example.com", Family::V4, "ppp0"),
            spec("home.example.com", Family::V6, "ppp0"),
        ],
        Memory::new(),
    );
    assert!(sim.actions().is_empty(), "no dump unless asked");
    sim.e
        .handle_request(sim.now, &over("192.0.2.44", false), None)
        .unwrap();
    assert_eq!(sim.sends(), vec![(v4(), ip("192.0.2.44"))]);
    assert!(sim.e.busy());
    sim.outcome(&v4(), "192.0.2.44", good("192.0.2.44"));
    assert!(!sim.e.busy());
}

#[test]
fn a_failed_dump_is_retried_with_backoff() {
    let mut sim = one_record();
    assert_eq!(sim.work(), vec![Action::Dump]);
    sim.e.handle_dump_failed(sim.now, "EBUSY");
    assert_eq!(sim.e.poll_timeout(), Some(sim.now + 2 * S));
    sim.advance(2 * S);
    assert_eq!(sim.actions(), vec![Action::Dump]);
}

#[test]
fn a_dump_requested_while_one_runs_is_taken_after_it() {
    let mut sim = one_record();
    assert_eq!(sim.work(), vec![Action::Dump]);
    sim.net(NetEvent::Resync);
    sim.advance(2 * S);
    assert!(sim.actions().is_empty(), "one dump at a time");
    sim.snapshot(&snap(&[("ppp0", 5, &[])]));
    assert_eq!(sim.actions(), vec![Action::Dump]);
}

#[test]
fn a_dry_run_counts_as_published_in_memory() {
    let mut sim = one_record();
    sim.start(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    sim.outcome(&v4(), "203.0.113.5", Outcome::DryRun);
    assert!(sim.change(&["203.0.113.5"]).is_empty());
}

#[test]
fn reload_keeps_a_running_backoff() {
    let mut sim = one_record();
    sim.start(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    sim.outcome(
        &v4(),
        "203.0.113.5",
        Outcome::Reply(Reply::Code(Code::DnsErr)),
    );
    sim.actions();
    sim.reload(vec![spec("home.example.com", Family::V4, "ppp0")]);
    assert_eq!(sim.actions(), vec![Action::Dump, Action::Persist]);
    sim.snapshot(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    assert!(
        sim.sends().is_empty(),
        "a reload is no way around the 30-minute rule"
    );
}

#[test]
fn an_identity_failure_blocks_both_families_of_the_record() {
    let mut sim = Sim::new(vec![
        spec("home.example.com", Family::V4, "ppp0"),
        spec("home.example.com", Family::V6, "ppp0"),
    ]);
    let sends = sim.start(&snap(&[("ppp0", 5, &["203.0.113.1"])]));
    assert_eq!(sends, vec![(v4(), ip("203.0.113.1"))]);
    sim.outcome(
        &v4(),
        "203.0.113.1",
        Outcome::Reply(Reply::Code(Code::NoHost)),
    );
    sim.net(NetEvent::Addr {
        index: 5,
        family: Some(Family::V4),
    });
    let sends = sim.dump_after_debounce(&snap(&[("ppp0", 5, &["203.0.113.1", "2001:db8::1"])]));
    assert!(sends.is_empty(), "IPv6 would get the same nohost");
    assert!(matches!(
        sim.e.report(sim.now)[1].result,
        SlotResult::Blocked { .. }
    ));
}

#[test]
fn a_request_level_failure_blocks_only_its_family() {
    let mut sim = Sim::new(vec![
        spec("home.example.com", Family::V4, "ppp0"),
        spec("home.example.com", Family::V6, "ppp0"),
    ]);
    sim.start(&snap(&[("ppp0", 5, &["203.0.113.1"])]));
    sim.outcome(&v4(), "203.0.113.1", Outcome::Reply(Reply::Status(400)));
    sim.net(NetEvent::Addr {
        index: 5,
        family: Some(Family::V4),
    });
    let sends = sim.dump_after_debounce(&snap(&[("ppp0", 5, &["203.0.113.1", "2001:db8::1"])]));
    assert_eq!(sends, vec![(v6(), ip("2001:db8::1"))]);
}

/// Answers every action the way a healthy kernel and provider would.
fn pump(sim: &mut Sim, addr: &str, sent: &mut Vec<Instant>) {
    while let Some(a) = sim.e.poll_action() {
        match a {
            Action::Dump => sim.snapshot(&snap(&[("ppp0", 5, &[addr])])),
            Action::Send { key, addr } => {
                sent.push(sim.now);
                let a = addr.to_string();
                sim.outcome(&key, &a, good(&a));
            }
            _ => {}
        }
    }
}

/// A new address on ppp0 every 20 s for `seconds`; returns when each send went out.
fn flap(sim: &mut Sim, seconds: u32) -> Vec<Instant> {
    let mut sent = vec![];
    let mut addr = "203.0.113.1".to_string();
    for second in 0..seconds {
        if second % 20 == 0 && second > 0 {
            addr = format!("203.0.113.{}", second / 20 % 250 + 1);
            sim.net(NetEvent::Addr {
                index: 5,
                family: Some(Family::V4),
            });
        }
        pump(sim, &addr, &mut sent);
        sim.advance(S);
    }
    pump(sim, &addr, &mut sent);
    sent
}

#[test]
fn a_flapping_address_is_throttled_after_the_hourly_budget() {
    let mut sim = one_record();
    // A new address every 20 seconds for 46 minutes.
    let sent = flap(&mut sim, 46 * 60);
    // The budget goes at the change rate, then one send per 5 minutes at most.
    assert!(
        sent[11] - sent[0] < 5 * 60 * S,
        "the first 12 are not held back"
    );
    for pair in sent[12..].windows(2) {
        assert!(
            pair[1] - pair[0] >= THROTTLE_SPACING,
            "{:?}",
            pair[1] - pair[0]
        );
    }
    let total = sent.len();
    assert!(
        (18..=21).contains(&total),
        "{total} sends in 46 minutes, not 138"
    );
}

/// A budget of one send an hour, spent on 203.0.113.1; then 203.0.113.2, held back.
fn throttled() -> Sim {
    let mut timing = timing();
    timing.max_per_hour = 1;
    let mut sim = Sim::build(Mode::Daemon, timing, vec![one_spec()], Memory::new());
    sim.start(&snap(&[("ppp0", 5, &["203.0.113.1"])]));
    sim.outcome(&v4(), "203.0.113.1", good("203.0.113.1"));
    assert!(sim.change(&["203.0.113.2"]).is_empty());
    assert!(matches!(
        sim.e.report(sim.now)[0].result,
        SlotResult::Retrying { .. }
    ));
    sim
}

#[test]
fn force_goes_past_the_throttle() {
    let mut sim = throttled();
    sim.e
        .handle_request(
            sim.now,
            &UpdateRequest {
                force: true,
                ..Default::default()
            },
            None,
        )
        .unwrap();
    assert_eq!(
        sim.dump_after_debounce(&snap(&[("ppp0", 5, &["203.0.113.2"])]))
            .len(),
        1
    );
}

#[test]
fn a_trigger_waiting_across_a_reload_is_still_answered() {
    let mut sim = one_record();
    sim.start(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    sim.outcome(&v4(), "203.0.113.5", good("203.0.113.5"));
    sim.e
        .handle_request(sim.now, &UpdateRequest::default(), Some(7))
        .unwrap();
    sim.reload(vec![spec("home.example.com", Family::V4, "ppp0")]);
    assert!(sim.work().contains(&Action::Dump));
    sim.snapshot(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    assert!(
        sim.actions()
            .iter()
            .any(|a| matches!(a, Action::Report { ticket: 7, .. })),
        "the hook waiting on the daemon gets its answer"
    );
}

#[test]
fn the_hourly_budget_holds_across_restarts_and_one_shot_runs() {
    let mut sim = one_record();
    // Twelve new addresses, 20 s apart: the whole budget, all sent.
    let sent = flap(&mut sim, 240);
    assert_eq!(sent.len(), 12);
    let memory: Memory = sim.e.memory().into_iter().collect();
    let stamps = &memory[&v4()].sends;
    assert_eq!(stamps.len(), 12, "{stamps:?}");
    assert!(stamps.iter().all(|t| (WALL0..=sim.wall()).contains(t)));
    let wall = sim.wall() + 10;
    let restart = |mode, wall| {
        let t0 = Instant::now();
        let specs = vec![spec("home.example.com", Family::V4, "ppp0")];
        let e = Engine::new(mode, timing(), specs, &memory, t0, wall, 3);
        Sim { e, t0, now: t0 }
    };

    // A one-shot run (a hook without a daemon) with a new address is held back...
    let mut hook = restart(Mode::OneShot, wall);
    hook.e
        .handle_request(hook.now, &over("203.0.113.99", false), None)
        .unwrap();
    assert!(hook.sends().is_empty(), "over budget: not sent");
    assert!(matches!(
        hook.e.report(hook.now)[0].result,
        SlotResult::Retrying { .. }
    ));
    // ...unless forced.
    hook.e
        .handle_request(hook.now, &over("203.0.113.99", true), None)
        .unwrap();
    assert_eq!(hook.sends().len(), 1);

    // A restarted daemon waits out the 5-minute spacing from the last send.
    let mut daemon = restart(Mode::Daemon, wall);
    assert!(
        daemon
            .start(&snap(&[("ppp0", 5, &["203.0.113.99"])]))
            .is_empty()
    );
    daemon.advance(5 * 60 * S);
    assert_eq!(daemon.sends(), vec![(v4(), ip("203.0.113.99"))]);

    // An hour later the old sends no longer count.
    let mut later = restart(Mode::Daemon, wall + 3600);
    assert_eq!(
        later.start(&snap(&[("ppp0", 5, &["203.0.113.99"])])).len(),
        1
    );
}

#[test]
fn a_restored_retry_time_is_capped() {
    for at in [u64::MAX, WALL0 + 10 * 86_400] {
        let memory: Memory = [(
            v4(),
            SlotMemory {
                retry_at: Some(at),
                ..Default::default()
            },
        )]
        .into();
        // u64::MAX used to overflow `Instant + Duration`: a panic at every start.
        let sim = Sim::with(Mode::Daemon, vec![one_spec()], memory);
        let wait = sim.e.poll_timeout().expect("a retry is pending") - sim.now;
        assert!(wait <= 3600 * S, "{at}: waits {wait:?}");
        let m = sim.memory(&v4());
        assert!(m.retry_at.is_some_and(|t| t <= WALL0 + 3600), "{m:?}");
    }
}

#[test]
fn a_slot_added_by_a_reload_starts_from_the_state_file() {
    let mut sim = published("203.0.113.1");
    // The state file knows the IPv6 slot: published, and a 911 floor running.
    let memory: Memory = [(
        v6(),
        SlotMemory {
            published: Some(Published {
                addr: ip("2001:db8::5"),
                at: WALL0 - 600,
            }),
            retry_at: Some(WALL0 + 28 * 60),
            sends: vec![WALL0 - 600],
            ..Default::default()
        },
    )]
    .into();
    sim.reload_with(
        timing(),
        vec![one_spec(), spec("home.example.com", Family::V6, "ppp0")],
        &memory,
    );
    assert!(sim.work().contains(&Action::Dump));
    sim.snapshot(&snap(&[("ppp0", 5, &["203.0.113.1", "2001:db8::6"])]));
    assert!(sim.sends().is_empty(), "the 911 floor from the file holds");
    assert_eq!(
        sim.memory(&v6()).published.map(|p| p.addr),
        Some(ip("2001:db8::5")),
        "the published address is not forgotten"
    );
    sim.advance(29 * 60 * S);
    assert_eq!(
        sim.work(),
        vec![Action::Send {
            key: v6(),
            addr: ip("2001:db8::6")
        }]
    );
}

#[test]
fn a_reload_applies_new_retry_limits() {
    let mut sim = one_record();
    sim.start(&snap(&[("ppp0", 5, &["203.0.113.1"])]));
    let mut short = timing();
    short.retry_initial = S;
    short.retry_max = 5 * S;
    sim.reload_with(short, vec![one_spec()], &Memory::new());
    sim.actions();
    sim.outcome(&v4(), "203.0.113.1", Outcome::Reply(Reply::Status(503)));
    let wait = sim.e.poll_timeout().expect("a retry") - sim.now;
    assert!(wait <= 5 * S, "retry.max from the reload: {wait:?}");
}

#[test]
fn back_at_the_published_address_a_throttled_slot_is_up_to_date() {
    let mut sim = throttled();
    assert!(sim.change(&["203.0.113.1"]).is_empty());
    assert_eq!(
        sim.e.report(sim.now)[0].result,
        SlotResult::UpToDate(ip("203.0.113.1"))
    );
    assert_eq!(sim.e.poll_timeout(), None, "nothing left to wait for");
}

#[test]
fn a_force_that_found_nothing_to_send_does_not_linger() {
    let mut sim = published("203.0.113.1");
    // `update --force` while the link is down: nothing to publish, the round ends.
    let force = UpdateRequest {
        force: true,
        ..Default::default()
    };
    sim.e.handle_request(sim.now, &force, Some(1)).unwrap();
    sim.advance(10 * S);
    assert_eq!(sim.work(), vec![Action::Dump]);
    sim.snapshot(&snap(&[("ppp0", 5, &[])]));
    let round = sim.actions();
    assert!(
        round
            .iter()
            .any(|a| matches!(a, Action::Report { ticket: 1, .. })),
        "{round:?}"
    );
    assert!(!round.iter().any(|a| matches!(a, Action::Send { .. })));
    // The link comes back with the same address: unchanged, so nothing is sent.
    assert!(sim.change(&["203.0.113.1"]).is_empty());
}

// ---- operator messages ------------------------------------------------------------
// What the engine tells the operator, read as the operator reads it: one line per
// event, without a daemon or a namespace.

use crate::logging::capture;

/// The one line of `log` that contains `needle`: at `level`, holding every part.
fn said(log: &[String], needle: &str, level: &str, parts: &[&str]) {
    let lines: Vec<&String> = log.iter().filter(|l| l.contains(needle)).collect();
    assert_eq!(lines.len(), 1, "{needle:?} once in {log:#?}");
    let line = lines[0];
    assert!(line.starts_with(level), "{level}: {line}");
    for part in parts {
        assert!(line.contains(part), "{part:?} missing from {line}");
    }
}

/// The log of a start-up that sends 203.0.113.5 and gets `answer`.
fn answered(answer: Outcome) -> Vec<String> {
    let mut sim = one_record();
    capture(|| {
        sim.start(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
        sim.outcome(&v4(), "203.0.113.5", answer);
    })
}

#[test]
fn a_publish_is_one_info_line_with_the_record_the_address_and_the_reply() {
    let log = answered(good("203.0.113.5"));
    let parts = [
        "record=home.example.com ipv4",
        "addr=203.0.113.5",
        "reply=good 203.0.113.5",
    ];
    said(&log, "published", "INFO", &parts);
}

#[test]
fn a_transient_failure_says_it_will_retry_and_when() {
    let log = answered(Outcome::Reply(Reply::Status(503)));
    let parts = ["reply=HTTP 503", "attempt=1", "retry_in="];
    said(&log, "update failed; will retry", "WARN", &parts);
}

#[test]
fn a_refusal_is_an_error_that_names_the_fix() {
    let log = answered(Outcome::Reply(Reply::Code(Code::BadAuth)));
    said(
        &log,
        "update refused",
        "ERROR",
        &["check username and password"],
    );
}

#[test]
fn an_echo_of_another_address_is_a_warning() {
    let log = answered(good("203.0.113.9"));
    let parts = ["sent=203.0.113.5", "echoed=203.0.113.9"];
    said(&log, "echoed another address", "WARN", &parts);
}

#[test]
fn behind_nat_is_said_once_at_warning_level() {
    let mut sim = one_record();
    let private = snap(&[("ppp0", 5, &["192.168.1.2"])]);
    let log = capture(|| {
        sim.start(&private);
        // The same addresses again (a renewal): not said again.
        sim.change(&["192.168.1.2"]);
    });
    let parts = ["192.168.1.2 is private", "nothing sent, the record is kept"];
    said(&log, "is this interface behind NAT?", "WARN", &parts);
}

#[test]
fn a_throttle_is_announced_once() {
    let mut timing = timing();
    timing.max_per_hour = 1;
    let mut sim = Sim::build(Mode::Daemon, timing, vec![one_spec()], Memory::new());
    let log = capture(|| {
        sim.start(&snap(&[("ppp0", 5, &["203.0.113.1"])]));
        sim.outcome(&v4(), "203.0.113.1", good("203.0.113.1"));
        sim.change(&["203.0.113.2"]);
        sim.change(&["203.0.113.3"]);
    });
    said(&log, "throttling this record", "WARN", &["limit=1"]);
}

// ---- state from a clock that ran ahead ----------------------------------------------

/// What a router without an RTC leaves behind: its clock ran a year ahead, then NTP
/// set it right.
fn from_the_future() -> Memory {
    let year = 365 * 86_400;
    remembered(SlotMemory {
        published: Some(Published {
            addr: ip("203.0.113.1"),
            at: WALL0 + year,
        }),
        retry_at: Some(WALL0 + year),
        sends: vec![WALL0 + year; 3],
        ..Default::default()
    })
}

#[test]
fn stamps_in_the_future_are_corrected_and_written_back_even_by_a_one_shot_run() {
    let mut sim = Sim::with(Mode::OneShot, vec![one_spec()], from_the_future());
    // Written back at once, before anything else happens.
    assert_eq!(sim.actions(), vec![Action::Persist]);
    let m = sim.memory(&v4());
    assert_eq!(m.published.as_ref().map(|p| p.at), Some(WALL0));
    assert_eq!(m.sends, vec![WALL0; 3]);
    let longest = timing().longest_wait().as_secs();
    assert!(m.retry_at.is_some_and(|t| t <= WALL0 + longest), "{m:?}");
    // A block stamped in the future would outlive every later config change.
    let mut blocked = from_the_future();
    blocked.get_mut(&v4()).unwrap().blocked_since = Some(WALL0 + 86_400);
    let mut spec = one_spec();
    spec.config_changed_at = Some(WALL0 - 10);
    let mut sim = Sim::with(Mode::OneShot, vec![spec], blocked);
    sim.actions();
    assert_eq!(sim.memory(&v4()).blocked_since, Some(WALL0));
}

#[test]
fn no_stamp_makes_a_record_wait_longer_than_the_policy_allows() {
    let mut sim = Sim::with(Mode::Daemon, vec![one_spec()], from_the_future());
    sim.start(&snap(&[("ppp0", 5, &["203.0.113.2"])]));
    let deadline = sim.e.poll_timeout().expect("a retry is waiting");
    assert!(
        deadline <= sim.now + timing().longest_wait(),
        "{deadline:?}"
    );
    sim.advance(timing().longest_wait());
    assert_eq!(sim.sends(), vec![(v4(), ip("203.0.113.2"))]);
}

// ---- replies that must not count as published ---------------------------------------

#[test]
fn an_echo_of_another_address_records_what_the_provider_holds_and_retries() {
    let mut sim = one_record();
    sim.start(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    sim.outcome(&v4(), "203.0.113.5", good("203.0.113.9"));
    let m = sim.memory(&v4());
    assert_eq!(
        m.published.map(|p| p.addr),
        Some(ip("203.0.113.9")),
        "the state says what the provider holds"
    );
    assert!(m.retry_at.is_some(), "not done: a retry waits");
    assert!(sim.e.report(sim.now)[0].result.is_failure());
    sim.advance(timing().retry_initial);
    assert_eq!(
        sim.sends(),
        vec![(v4(), ip("203.0.113.5"))],
        "the sent address again"
    );
    sim.outcome(&v4(), "203.0.113.5", good("203.0.113.5"));
    assert_eq!(
        sim.e.report(sim.now)[0].result,
        SlotResult::UpToDate(ip("203.0.113.5"))
    );
}

#[test]
fn answers_that_never_make_sense_are_retried_a_bounded_number_of_times() {
    let mut sim = one_record();
    let mut sends = sim.start(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    let html = || {
        Outcome::Reply(Reply::Unparseable {
            status: 200,
            excerpt: "<html>".into(),
        })
    };
    let mut attempts = 0;
    while !sends.is_empty() {
        attempts += 1;
        assert!(attempts <= publish::MAX_UNRECOGNISED, "retried without end");
        sim.outcome(&v4(), "203.0.113.5", html());
        sim.advance(timing().retry_max);
        sends = sim.sends();
    }
    assert_eq!(attempts, publish::MAX_UNRECOGNISED);
    assert!(matches!(
        sim.e.report(sim.now)[0].result,
        SlotResult::Blocked { .. }
    ));
}

#[test]
fn a_retry_delay_is_logged_to_the_millisecond() {
    let mut t = timing();
    t.retry_initial = 2 * S;
    let mut sim = Sim::build(Mode::Daemon, t, vec![one_spec()], Memory::new());
    let log = capture(|| {
        sim.start(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
        sim.outcome(&v4(), "203.0.113.5", Outcome::Reply(Reply::Status(503)));
    });
    let line = log
        .iter()
        .find(|l| l.contains("will retry"))
        .expect("a retry line");
    // 2 s less up to 20 % jitter: between 1.6 and 2 s, never "1s".
    let shown = line
        .split("retry_in=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    let d = crate::duration::parse(shown).unwrap();
    assert!((1600 * MS..=2 * S).contains(&d), "{line}");
}

// ---- many records ---------------------------------------------------------------------

#[test]
fn never_more_than_a_few_requests_are_under_way_at_once() {
    let hosts: Vec<String> = (0..20).map(|i| format!("h{i}.example.com")).collect();
    let specs = hosts.iter().map(|h| spec(h, Family::V4, "ppp0")).collect();
    let mut sim = Sim::new(specs);
    let mut in_flight = sim.start(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    assert_eq!(in_flight.len(), decide::MAX_IN_FLIGHT);
    let mut done = 0;
    while let Some((key, addr)) = in_flight.pop() {
        sim.outcome(&key, &addr.to_string(), good(&addr.to_string()));
        done += 1;
        in_flight.extend(sim.sends());
        assert!(
            in_flight.len() <= decide::MAX_IN_FLIGHT,
            "{}",
            in_flight.len()
        );
    }
    assert_eq!(done, 20, "every record is sent once");
    assert!(
        sim.e
            .report(sim.now)
            .iter()
            .all(|r| matches!(r.result, SlotResult::UpToDate(_)))
    );
}

#[test]
fn a_certificate_date_failure_is_retried_as_soon_as_the_clock_is_set() {
    let mut sim = one_record();
    sim.start(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    let clock = Outcome::Transport(Transport::ClockWrong("not valid yet".into()));
    sim.outcome(&v4(), "203.0.113.5", clock);
    assert!(sim.sends().is_empty(), "waits for its backoff...");
    let wall = sim.wall();
    sim.e.handle_clock_set(sim.now + S, wall);
    assert_eq!(
        sim.sends(),
        vec![(v4(), ip("203.0.113.5"))],
        "...or the clock"
    );
    // Another failure is not about the clock: a clock step does not hurry it.
    sim.outcome(&v4(), "203.0.113.5", Outcome::Reply(Reply::Status(503)));
    sim.e.handle_clock_set(sim.now + 2 * S, wall);
    assert!(sim.sends().is_empty());
}

// ---- DNS checks ------------------------------------------------------------------------

/// Answers every `Verify` action with `dns` until `until` has passed; returns how many.
fn answer_checks(sim: &mut Sim, dns: Dns, until: Duration) -> usize {
    let end = sim.now + until;
    let mut n = 0;
    loop {
        for a in sim.actions() {
            if let Action::Verify {
                key,
                expected,
                purpose,
            } = a
            {
                n += 1;
                let wall = sim.wall();
                let c = Checked {
                    dns: dns.clone(),
                    server: "ns1 answers nothing (NXDOMAIN)".into(),
                };
                sim.e
                    .handle_checked(sim.now, wall, &key, expected, purpose, c);
            }
        }
        match sim.e.poll_timeout() {
            Some(t) if t <= end => {
                sim.now = t.max(sim.now);
                sim.e.handle_timeout(sim.now);
            }
            _ => return n,
        }
    }
}

#[test]
fn an_update_still_not_visible_after_ten_minutes_is_said_once_and_never_resent() {
    let mut t = timing();
    t.verify = true;
    let mut sim = Sim::build(Mode::Daemon, t, vec![one_spec()], Memory::new());
    sim.start(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    let mut asked = 0;
    let log = capture(|| {
        sim.outcome(&v4(), "203.0.113.5", good("203.0.113.5"));
        asked = answer_checks(&mut sim, Dns::Missing, Duration::from_secs(3 * 3600));
    });
    // At 1 s, 6 s, 36 s, 2m36s, 12m36s, then hourly: 7 checks in three hours.
    assert_eq!(asked, 7, "{log:#?}");
    let parts = ["12m36s after the update", "ns1 answers nothing"];
    said(&log, "nothing is sent again for it", "WARN", &parts);
    assert!(
        sim.sends().is_empty(),
        "slow DNS is never a reason to send again"
    );
    assert_eq!(sim.memory(&v4()).dns.map(|d| d.visible), Some(false));
}

// ---- sources outside the kernel -------------------------------------------------------

fn web_spec() -> SlotSpec {
    SlotSpec {
        sources: vec![Source::Web],
        ..one_spec()
    }
}

/// The tickets of the queries among `actions`.
fn queries(actions: &[Action]) -> Vec<u64> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Query { ticket, .. } => Some(*ticket),
            _ => None,
        })
        .collect()
}

#[test]
fn a_source_answer_that_arrives_after_a_reload_is_dropped() {
    let mut sim = Sim::new(vec![web_spec()]);
    assert_eq!(sim.e.poll_action(), Some(Action::Dump));
    sim.snapshot(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    let asked = queries(&sim.actions());
    assert_eq!(asked.len(), 1, "the web echo is asked");
    // SIGHUP: the record now follows its interface; the web answer is still out.
    sim.reload(vec![one_spec()]);
    assert_eq!(sim.work(), vec![Action::Dump]);
    sim.snapshot(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    assert_eq!(sim.sends(), vec![(v4(), ip("203.0.113.5"))]);
    sim.outcome(&v4(), "203.0.113.5", good("203.0.113.5"));
    sim.actions();
    // The late answer belongs to the old config: nothing is sent over the right address.
    let late = Found {
        addr: ip("198.51.100.7"),
        via: "https://echo.example/".into(),
    };
    sim.e.handle_found(sim.now, asked[0], Ok(late));
    assert_eq!(sim.work(), vec![]);
    assert_eq!(sim.memory(&v4()).published.unwrap().addr, ip("203.0.113.5"));
    assert!(!sim.e.busy());
}

#[test]
fn a_source_answer_to_an_ask_that_was_superseded_is_not_taken() {
    let mut sim = Sim::new(vec![web_spec()]);
    assert_eq!(sim.e.poll_action(), Some(Action::Dump));
    let wan = snap(&[("ppp0", 5, &["203.0.113.5"])]);
    sim.snapshot(&wan);
    let first = queries(&sim.actions());
    // An event while the question runs: it is asked again when the first answer comes.
    sim.change(&["203.0.113.5"]);
    let found = |a: &str| {
        Ok(Found {
            addr: ip(a),
            via: "https://echo.example/".into(),
        })
    };
    sim.e.handle_found(sim.now, first[0], found("198.51.100.1"));
    let again = queries(&sim.actions());
    assert_eq!(
        again.len(),
        1,
        "the answer that may predate the event is not taken"
    );
    // A duplicate of the old answer is not taken either.
    sim.e.handle_found(sim.now, first[0], found("198.51.100.1"));
    assert_eq!(sim.work(), vec![]);
    sim.e.handle_found(sim.now, again[0], found("198.51.100.2"));
    assert_eq!(sim.sends(), vec![(v4(), ip("198.51.100.2"))]);
}

#[test]
fn a_failed_source_is_asked_again_with_backoff_and_at_once_on_an_event() {
    let mut timing = timing();
    timing.web_check = Some(3600 * S);
    let mut sim = Sim::build(Mode::Daemon, timing, vec![web_spec()], Memory::new());
    assert_eq!(sim.e.poll_action(), Some(Action::Dump));
    let wan = snap(&[("ppp0", 5, &["203.0.113.5"])]);
    sim.snapshot(&wan);
    let mut asked = queries(&sim.actions());
    let mut gaps = Vec::new();
    for _ in 0..4 {
        sim.e.handle_found(
            sim.now,
            asked[0],
            Err("HTTP 503 Service Unavailable".into()),
        );
        sim.actions();
        let at = sim.e.poll_timeout().expect("a retry is scheduled");
        gaps.push((at - sim.now).as_secs());
        sim.advance(at - sim.now);
        assert_eq!(sim.work(), vec![Action::Dump], "the retry asks again");
        sim.snapshot(&wan);
        asked = queries(&sim.actions());
        assert_eq!(asked.len(), 1);
    }
    // 30 s doubling, less up to 20 % jitter: not the hour of the safety net.
    for (gap, base) in gaps.iter().zip([30, 60, 120, 240]) {
        assert!(*gap <= base && *gap >= base * 4 / 5, "{gaps:?}");
    }
    // Failing again, then an address event: asked at once (after the debounce).
    sim.e
        .handle_found(sim.now, asked[0], Err("HTTP 503".into()));
    sim.actions();
    sim.net(NetEvent::Addr {
        index: 5,
        family: Some(Family::V4),
    });
    sim.advance(S);
    assert_eq!(sim.work(), vec![Action::Dump]);
    sim.snapshot(&wan);
    asked = queries(&sim.actions());
    assert_eq!(asked.len(), 1);
    // An answer: the next question waits for the safety net again.
    let ok = Found {
        addr: ip("198.51.100.7"),
        via: "https://echo.example/".into(),
    };
    sim.e.handle_found(sim.now, asked[0], Ok(ok));
    assert_eq!(sim.sends(), vec![(v4(), ip("198.51.100.7"))]);
    sim.outcome(&v4(), "198.51.100.7", good("198.51.100.7"));
    sim.actions();
    assert_eq!(sim.e.poll_timeout(), Some(sim.now + 3600 * S));
}

#[test]
fn a_failing_source_is_a_warning_once_so_that_quiet_mode_shows_it() {
    let mut sim = Sim::new(vec![web_spec()]);
    assert_eq!(sim.e.poll_action(), Some(Action::Dump));
    let wan = snap(&[("ppp0", 5, &["203.0.113.5"])]);
    let log = capture(|| {
        sim.snapshot(&wan);
        for _ in 0..5 {
            let asked = queries(&sim.actions());
            sim.e
                .handle_found(sim.now, asked[0], Err("HTTP 503".into()));
            sim.net(NetEvent::Resync);
            sim.advance(10 * S);
            assert_eq!(sim.work(), vec![Action::Dump]);
            sim.snapshot(&wan);
        }
    });
    let warns: Vec<_> = log.iter().filter(|l| l.starts_with("WARN")).collect();
    assert_eq!(warns.len(), 1, "{log:#?}");
    assert!(warns[0].contains("HTTP 503"), "{warns:?}");
}

#[test]
fn a_newer_address_held_back_by_the_budget_is_in_the_memory_with_its_time() {
    let mut timing = timing();
    timing.max_per_hour = 1;
    let mut sim = Sim::build(Mode::Daemon, timing, vec![one_spec()], Memory::new());
    sim.start(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    sim.outcome(&v4(), "203.0.113.5", good("203.0.113.5"));
    sim.actions();
    sim.advance(60 * S);
    assert_eq!(sim.change(&["203.0.113.6"]), vec![]);
    let pending = sim
        .memory(&v4())
        .pending
        .expect("the throttled address is said");
    assert_eq!(pending.addr, ip("203.0.113.6"));
    assert_eq!(
        pending.at,
        WALL0 + 300,
        "it goes 5 minutes after the last send"
    );
    sim.advance(300 * S);
    assert_eq!(sim.sends(), vec![(v4(), ip("203.0.113.6"))]);
    assert_eq!(sim.memory(&v4()).pending, None);
}

#[test]
fn reloads_while_a_source_answers_ask_it_once_more_not_once_per_reload() {
    let mut sim = Sim::new(vec![web_spec()]);
    assert_eq!(sim.e.poll_action(), Some(Action::Dump));
    let wan = snap(&[("ppp0", 5, &["203.0.113.5"])]);
    sim.snapshot(&wan);
    let first = queries(&sim.actions());
    for _ in 0..50 {
        sim.reload(vec![web_spec()]);
        assert_eq!(sim.work(), vec![Action::Dump]);
        sim.snapshot(&wan);
        assert!(queries(&sim.actions()).is_empty(), "one question at a time");
    }
    let found = |a: &str| {
        Ok(Found {
            addr: ip(a),
            via: "https://echo.example/".into(),
        })
    };
    // The answer asked under the old config is not taken; the question goes out again.
    sim.e.handle_found(sim.now, first[0], found("198.51.100.1"));
    let again = queries(&sim.actions());
    assert_eq!(again.len(), 1);
    sim.e.handle_found(sim.now, again[0], found("198.51.100.2"));
    assert_eq!(sim.sends(), vec![(v4(), ip("198.51.100.2"))]);
}

// ---- a hook's address (issue 22, item 4) -----------------------------------------------

/// The ip-up hook and netlink agree on the new address: it is sent at once, without
/// the quiet time, and the quiet time's own dump later sends nothing more.
#[test]
fn a_hook_confirmed_address_is_sent_without_the_quiet_time() {
    let mut sim = published("203.0.113.5");
    sim.net(NetEvent::Addr {
        index: 5,
        family: Some(Family::V4),
    });
    sim.e
        .handle_request(sim.now, &over("203.0.113.8", false), Some(9))
        .unwrap();
    assert_eq!(sim.work(), vec![Action::Dump], "dumped at once");
    sim.snapshot(&snap(&[("ppp0", 5, &["203.0.113.8"])]));
    assert_eq!(
        sim.sends(),
        vec![(v4(), ip("203.0.113.8"))],
        "no quiet time"
    );
    sim.outcome(&v4(), "203.0.113.8", good("203.0.113.8"));
    assert!(
        sim.actions()
            .iter()
            .any(|a| matches!(a, Action::Report { ticket: 9, .. })),
        "the hook gets its answer"
    );
    // The netlink burst's quiet time still ends in a dump; nothing new to send.
    let later = sim.dump_after_debounce(&snap(&[("ppp0", 5, &["203.0.113.8"])]));
    assert!(later.is_empty(), "one request in all: {later:?}");
    assert_eq!(sim.e.poll_timeout(), None, "idle again");
}

/// A flap: the hook speaks of an address the link no longer has. Nothing is sent
/// early, and the quiet time gives one request with the last address.
#[test]
fn a_hook_address_the_kernel_does_not_show_keeps_the_debounce() {
    let mut sim = published("203.0.113.5");
    for _ in 0..3 {
        sim.net(NetEvent::Addr {
            index: 5,
            family: Some(Family::V4),
        });
        sim.now += 100 * MS;
    }
    sim.e
        .handle_request(sim.now, &over("203.0.113.8", false), Some(3))
        .unwrap();
    assert_eq!(sim.work(), vec![Action::Dump]);
    sim.snapshot(&snap(&[("ppp0", 5, &["203.0.113.9"])]));
    let early = sim.actions();
    assert!(early.is_empty(), "held for the quiet time: {early:?}");
    let sends = sim.dump_after_debounce(&snap(&[("ppp0", 5, &["203.0.113.9"])]));
    assert_eq!(
        sends,
        vec![(v4(), ip("203.0.113.9"))],
        "one, the last address"
    );
    sim.outcome(&v4(), "203.0.113.9", good("203.0.113.9"));
    assert!(
        sim.actions()
            .iter()
            .any(|a| matches!(a, Action::Report { ticket: 3, .. })),
        "the hook's answer comes after the round it waited for"
    );
}

/// Only the slots the hook's address confirms skip the quiet time: a record on
/// another interface changed in the same burst waits for it.
#[test]
fn a_hook_address_moves_only_the_slots_it_confirms() {
    let mut sim = Sim::new(vec![
        spec("home.example.com", Family::V4, "ppp0"),
        spec("lan.example.com", Family::V4, "eth1"),
    ]);
    let both = |a: &str, b: &str| {
        let mut s = snap(&[("ppp0", 5, &[a])]);
        s.links.extend(snap(&[("eth1", 6, &[b])]).links);
        s.addrs.extend(snap(&[("eth1", 6, &[b])]).addrs);
        s
    };
    assert_eq!(sim.start(&both("203.0.113.5", "198.51.100.5")).len(), 2);
    sim.outcome(&v4(), "203.0.113.5", good("203.0.113.5"));
    let lan = key("lan.example.com", Family::V4);
    sim.outcome(&lan, "198.51.100.5", good("198.51.100.5"));
    sim.actions();
    for index in [5, 6] {
        sim.net(NetEvent::Addr {
            index,
            family: Some(Family::V4),
        });
    }
    sim.request(over("203.0.113.8", false));
    assert_eq!(sim.work(), vec![Action::Dump]);
    sim.snapshot(&both("203.0.113.8", "198.51.100.6"));
    assert_eq!(sim.sends(), vec![(v4(), ip("203.0.113.8"))]);
    sim.outcome(&v4(), "203.0.113.8", good("203.0.113.8"));
    let later = sim.dump_after_debounce(&both("203.0.113.8", "198.51.100.6"));
    assert_eq!(later, vec![(lan, ip("198.51.100.6"))]);
}

/// Netlink alone, however fast, keeps the debounce: no dump before the quiet time.
#[test]
fn a_netlink_burst_alone_waits_for_the_quiet_time() {
    let mut sim = published("203.0.113.5");
    sim.net(NetEvent::Addr {
        index: 5,
        family: Some(Family::V4),
    });
    // A hook without an address (ipv6-up) is no word on one either.
    sim.request(UpdateRequest {
        interface: Some("ppp0".into()),
        ..Default::default()
    });
    assert!(sim.work().is_empty(), "nothing before the quiet time");
    assert_eq!(sim.e.poll_timeout(), Some(sim.now + S));
}

// ---- events for the notifier ----------------------------------------------------------

use crate::notify::{Event, Kind};

/// The events told since the last call, in order.
fn told(sim: &mut Sim) -> Vec<Event> {
    std::iter::from_fn(|| sim.e.poll_event()).collect()
}

fn kinds(evs: &[Event]) -> Vec<Kind> {
    evs.iter().map(|e| e.kind).collect()
}

/// Answers the `Verify` actions queued now with `dns`; returns how many.
fn answer_verify(sim: &mut Sim, dns: Dns) -> usize {
    let mut n = 0;
    for a in sim.actions() {
        if let Action::Verify {
            key,
            expected,
            purpose,
        } = a
        {
            n += 1;
            let (now, wall) = (sim.now, sim.wall());
            let c = Checked {
                dns: dns.clone(),
                server: "ns1.example.net answers 198.51.100.9".into(),
            };
            sim.e.handle_checked(now, wall, &key, expected, purpose, c);
        }
    }
    n
}

fn verifying() -> Sim {
    let mut t = timing();
    t.verify = true;
    Sim::build(Mode::Daemon, t, vec![one_spec()], Memory::new())
}

#[test]
fn published_names_the_new_address_and_the_one_it_replaces() {
    let mut sim = one_record();
    sim.start(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    assert!(told(&mut sim).is_empty(), "nothing before the answer");
    sim.outcome(&v4(), "203.0.113.5", good("203.0.113.5"));
    let evs = told(&mut sim);
    assert_eq!(kinds(&evs), vec![Kind::Published]);
    let e = &evs[0];
    assert_eq!(
        (e.hostname.as_str(), e.family, e.address.as_str()),
        ("home.example.com", Some(Family::V4), "203.0.113.5")
    );
    assert_eq!((e.previous.as_str(), e.time), ("", WALL0));
    assert_eq!(e.reply, "good 203.0.113.5");
    sim.change(&["203.0.113.6"]);
    sim.now += 3 * S;
    sim.outcome(&v4(), "203.0.113.6", good("203.0.113.6"));
    let evs = told(&mut sim);
    assert_eq!(kinds(&evs), vec![Kind::Published]);
    assert_eq!(
        (evs[0].address.as_str(), evs[0].previous.as_str()),
        ("203.0.113.6", "203.0.113.5")
    );
    assert_eq!(evs[0].time, sim.wall());
    assert!(
        evs[0].message.contains("was 203.0.113.5"),
        "{}",
        evs[0].message
    );
    // An unchanged address sent again (nochg) is no news.
    sim.request(UpdateRequest {
        interface: Some("ppp0".into()),
        ip: None,
        force: true,
    });
    sim.dump_after_debounce(&snap(&[("ppp0", 5, &["203.0.113.6"])]));
    let nochg = Outcome::Reply(Reply::NoChange(Some(ip("203.0.113.6"))));
    sim.outcome(&v4(), "203.0.113.6", nochg);
    assert!(told(&mut sim).is_empty());
}

#[test]
fn failed_is_told_once_after_the_third_attempt_and_recovered_at_the_next_success() {
    let mut sim = one_record();
    sim.start(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    let mut per_attempt = Vec::new();
    for n in 1..=6 {
        if n > 1 {
            let wait = sim.e.poll_timeout().unwrap() - sim.now;
            sim.advance(wait);
            assert_eq!(sim.sends().len(), 1, "attempt {n}");
        }
        sim.outcome(&v4(), "203.0.113.5", Outcome::Reply(Reply::Status(503)));
        per_attempt.push(kinds(&told(&mut sim)));
    }
    let none: Vec<Kind> = Vec::new();
    assert_eq!(
        per_attempt,
        vec![
            none.clone(),
            none.clone(),
            vec![Kind::Failed],
            none.clone(),
            none.clone(),
            none
        ],
        "once per episode, after the third attempt"
    );
    let wait = sim.e.poll_timeout().unwrap() - sim.now;
    sim.advance(wait);
    sim.sends();
    sim.outcome(&v4(), "203.0.113.5", good("203.0.113.5"));
    let evs = told(&mut sim);
    assert_eq!(kinds(&evs), vec![Kind::Published, Kind::Recovered]);
    // A new episode is told again.
    sim.change(&["203.0.113.6"]);
    for n in 1..=3 {
        if n > 1 {
            let wait = sim.e.poll_timeout().unwrap() - sim.now;
            sim.advance(wait);
            sim.sends();
        }
        sim.outcome(&v4(), "203.0.113.6", Outcome::Reply(Reply::Status(503)));
    }
    let evs = told(&mut sim);
    assert_eq!(kinds(&evs), vec![Kind::Failed]);
    assert_eq!(evs[0].reply, "HTTP 503");
    assert!(
        evs[0].message.contains("after 3 attempts"),
        "{}",
        evs[0].message
    );
}

#[test]
fn a_failure_that_ends_back_at_the_published_address_is_recovered_too() {
    let mut sim = published("203.0.113.5");
    told(&mut sim);
    sim.change(&["203.0.113.6"]);
    for n in 1..=3 {
        if n > 1 {
            let wait = sim.e.poll_timeout().unwrap() - sim.now;
            sim.advance(wait);
            sim.sends();
        }
        sim.outcome(&v4(), "203.0.113.6", Outcome::Reply(Reply::Status(503)));
    }
    assert_eq!(kinds(&told(&mut sim)), vec![Kind::Failed]);
    assert!(sim.change(&["203.0.113.5"]).is_empty());
    // Said when the wait ends and nothing is owed.
    sim.advance(3600 * S);
    assert!(sim.sends().is_empty());
    assert_eq!(kinds(&told(&mut sim)), vec![Kind::Recovered]);
}

#[test]
fn blocked_says_the_fix_in_one_sentence() {
    let mut sim = one_record();
    sim.start(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    let bad = Outcome::Reply(Reply::Code(Code::BadAuth));
    let hint = bad.hint().unwrap();
    sim.outcome(&v4(), "203.0.113.5", bad);
    let evs = told(&mut sim);
    assert_eq!(kinds(&evs), vec![Kind::Blocked]);
    assert_eq!(evs[0].reply, "badauth");
    assert!(evs[0].message.contains(hint), "{}", evs[0].message);
    assert_eq!(evs[0].message.matches(". ").count(), 0, "one sentence");
}

#[test]
fn unavailable_is_told_once_per_episode_and_recovered_when_an_address_returns() {
    let mut sim = one_record();
    sim.start(&snap(&[("ppp0", 5, &["100.64.3.3"])]));
    let evs = told(&mut sim);
    assert_eq!(kinds(&evs), vec![Kind::Unavailable]);
    assert!(
        evs[0].message.contains("carrier-grade"),
        "{}",
        evs[0].message
    );
    // Other unpublishable addresses, the interface gone: the same episode.
    sim.change(&["10.0.0.2"]);
    sim.net(NetEvent::Link {
        index: 5,
        name: Some("ppp0".into()),
        removed: true,
        up: false,
    });
    sim.dump_after_debounce(&snap(&[]));
    assert!(told(&mut sim).is_empty());
    let sends = sim.change(&["198.51.100.4"]);
    assert_eq!(sends.len(), 1);
    let evs = told(&mut sim);
    assert_eq!(kinds(&evs), vec![Kind::Recovered]);
    assert_eq!(evs[0].address, "198.51.100.4");
    sim.outcome(&v4(), "198.51.100.4", good("198.51.100.4"));
    assert_eq!(kinds(&told(&mut sim)), vec![Kind::Published]);
    // A new episode.
    sim.change(&["100.64.3.3"]);
    assert_eq!(kinds(&told(&mut sim)), vec![Kind::Unavailable]);
}

#[test]
fn a_link_without_address_or_a_wait_for_duplicate_address_detection_is_not_unavailable() {
    let mut s = snap(&[("ppp0", 5, &["2001:db8::5"])]);
    s.addrs[0].flags.tentative = true;
    let mut sim6 = Sim::new(vec![spec("home.example.com", Family::V6, "ppp0")]);
    sim6.start(&s);
    assert!(told(&mut sim6).is_empty());
    let mut sim = one_record();
    sim.start(&snap(&[("ppp0", 5, &[])]));
    assert!(told(&mut sim).is_empty(), "a reconnect is no news");
    sim.change(&["100.64.3.3"]);
    assert_eq!(kinds(&told(&mut sim)), vec![Kind::Unavailable]);
}

#[test]
fn visible_says_after_how_long() {
    let mut sim = verifying();
    sim.start(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    sim.outcome(&v4(), "203.0.113.5", good("203.0.113.5"));
    assert_eq!(kinds(&told(&mut sim)), vec![Kind::Published]);
    sim.advance(S);
    assert_eq!(answer_verify(&mut sim, Dns::Missing), 1);
    assert!(told(&mut sim).is_empty());
    sim.advance(5 * S);
    assert_eq!(answer_verify(&mut sim, Dns::Visible), 1);
    let evs = told(&mut sim);
    assert_eq!(kinds(&evs), vec![Kind::Visible]);
    assert!(
        evs[0].message.contains("6s after the update"),
        "{}",
        evs[0].message
    );
    assert_eq!(evs[0].dns, "ns1.example.net answers 198.51.100.9");
    assert_eq!(evs[0].address, "203.0.113.5");
}

#[test]
fn not_visible_is_told_once_ten_minutes_after_good() {
    let mut sim = verifying();
    sim.start(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    sim.outcome(&v4(), "203.0.113.5", good("203.0.113.5"));
    told(&mut sim);
    let other = Dns::Differs(ip("198.51.100.9"));
    answer_checks(&mut sim, other.clone(), Duration::from_secs(599));
    assert!(told(&mut sim).is_empty(), "not before ten minutes");
    answer_checks(&mut sim, other, Duration::from_secs(3 * 3600));
    let evs = told(&mut sim);
    assert_eq!(kinds(&evs), vec![Kind::NotVisible], "once");
    assert_eq!(
        (evs[0].address.as_str(), evs[0].previous.as_str()),
        ("203.0.113.5", "198.51.100.9")
    );
    assert!(!evs[0].dns.is_empty());
}

#[test]
fn drift_names_what_dns_answered_and_the_address_put_back() {
    let mut sim = verifying();
    sim.start(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    sim.outcome(&v4(), "203.0.113.5", good("203.0.113.5"));
    sim.advance(S);
    answer_verify(&mut sim, Dns::Visible);
    told(&mut sim);
    // A reload checks DNS again: someone changed the record in the control panel.
    let mut t = timing();
    t.verify = true;
    sim.reload_with(t, vec![one_spec()], &Memory::new());
    assert!(sim.actions().contains(&Action::Dump));
    sim.snapshot(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    assert_eq!(answer_verify(&mut sim, Dns::Differs(ip("198.51.100.9"))), 1);
    let evs = told(&mut sim);
    assert_eq!(kinds(&evs), vec![Kind::Drift]);
    let e = &evs[0];
    assert_eq!(
        (e.address.as_str(), e.previous.as_str()),
        ("203.0.113.5", "198.51.100.9")
    );
    assert_eq!(e.dns, "ns1.example.net answers 198.51.100.9");
    assert_eq!(sim.sends(), vec![(v4(), ip("203.0.113.5"))], "put back");
}

// ---- the heartbeat's question ----------------------------------------------------------

#[test]
fn a_heartbeat_round_asks_the_servers_and_answers_once_every_reply_is_in() {
    let mut sim = verifying();
    sim.start(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    sim.outcome(&v4(), "203.0.113.5", good("203.0.113.5"));
    sim.advance(S);
    answer_verify(&mut sim, Dns::Visible);
    assert_eq!(sim.e.poll_beat(), None, "no round yet");
    sim.e.check_dns(sim.now);
    assert_eq!(sim.e.poll_beat(), None, "the servers have not answered");
    assert_eq!(answer_verify(&mut sim, Dns::Visible), 1);
    assert_eq!(sim.e.poll_beat(), Some(None), "agreement");
    assert_eq!(sim.e.poll_beat(), None, "once");
    sim.e.check_dns(sim.now);
    answer_verify(&mut sim, Dns::Differs(ip("198.51.100.9")));
    let why = sim.e.poll_beat().unwrap().unwrap();
    assert!(
        why.starts_with("home.example.com (ipv4): the authoritative servers answer 198.51.100.9"),
        "{why}"
    );
}

#[test]
fn a_heartbeat_round_judges_a_record_that_cannot_be_checked_at_once() {
    let mut sim = one_record();
    sim.start(&snap(&[("ppp0", 5, &["203.0.113.5"])]));
    sim.outcome(&v4(), "203.0.113.5", good("203.0.113.5"));
    sim.e.check_dns(sim.now);
    assert_eq!(
        sim.e.poll_beat(),
        Some(None),
        "verify off: up to date is well"
    );
    assert!(sim.work().is_empty(), "and nothing is asked");
    sim.change(&["203.0.113.6"]);
    sim.outcome(
        &v4(),
        "203.0.113.6",
        Outcome::Reply(Reply::Code(Code::BadAuth)),
    );
    sim.e.check_dns(sim.now);
    let why = sim.e.poll_beat().unwrap().unwrap();
    assert!(why.contains("is blocked after \"badauth\""), "{why}");
}
