//! Property tests of every parser that meets outside input: the config (TOML and
//! UCI), the provider's reply, the control-socket protocol, the state file and
//! netlink datagrams. Whatever the input: no panic, located errors, and round trips.

use std::net::IpAddr;
use std::path::Path;

use proptest::prelude::*;

use dynhost::config::{self, uci};
use dynhost::control;
use dynhost::duration;
use dynhost::engine::{
    DnsSeen, Engine, LastReply, Mode, Pending, Published, SlotKey, SlotMemory, SlotReport,
    SlotResult, SlotSpec, Timing,
};
use dynhost::model::Family;
use dynhost::netlink::wire;
use dynhost::provider::reply;
use dynhost::request::UpdateRequest;
use dynhost::state;

/// Config lines built from the real vocabulary, so that inputs get past the syntax
/// and reach the checks.
fn config_line() -> impl Strategy<Value = String> {
    // Every key the settings table knows, plus near misses.
    let mut keys: Vec<&'static str> = config::SETTINGS.iter().map(|s| s.leaf()).collect();
    keys.extend(["bogus", "hostnme"]);
    let key = prop::sample::select(keys);
    let value = prop_oneof![
        "[ -~]{0,20}".prop_map(|s| format!("{:?}", s)),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        Just("\"1s\"".to_string()),
        Just("\"home.example.com\"".to_string()),
        Just("\"https://dns.eu.ovhapis.com/nic/update\"".to_string()),
        Just("[1, 2]".to_string()),
        Just("{ a = 1 }".to_string()),
        "\\PC{0,10}",
    ];
    prop_oneof![
        (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
        Just("[[record]]".to_string()),
        Just("[provider]".to_string()),
        Just("[retry]".to_string()),
        Just("[record]".to_string()),
        "\\PC{0,30}",
    ]
}

fn check_located(text: &str, result: Result<config::Loaded, config::ConfigError>) {
    if let Err(e) = result {
        let lines = text.lines().count().max(1) + 1;
        assert!(!e.problems.is_empty());
        for p in &e.problems {
            assert!(p.line >= 1 && p.line <= lines, "{p:?} in {lines} lines");
            assert!(p.column >= 1, "{p:?}");
            assert!(!p.message.is_empty());
        }
    }
}

proptest! {
    #[test]
    fn the_config_parser_never_panics_and_locates_errors(lines in prop::collection::vec(config_line(), 0..25)) {
        let text = lines.join("\n");
        check_located(&text, config::parse(&text, Some(Path::new("/nonexistent/dynhost.toml"))));
    }

    #[test]
    fn arbitrary_text_is_handled(text in "\\PC{0,300}") {
        check_located(&text, config::parse(&text, Some(Path::new("/nonexistent/x.toml"))));
    }

    #[test]
    fn uci_text_is_handled(lines in prop::collection::vec(prop_oneof![
        "config (dynhost|record|frob)( '[a-z]{1,5}')?".prop_map(String::from),
        "\t(option|list) (hostname|username|password|interface|ipv4|enabled|debounce|url|bogus) ('[ -~]{0,12}'|\"[ -~]{0,12}\"|[a-z0-9.]{0,10})".prop_map(String::from),
        "\\PC{0,20}",
    ], 0..20)) {
        let text = format!("config record\n{}", lines.join("\n"));
        let (sections, problems) = uci::parse(&text);
        for (span, _) in &problems {
            prop_assert!(span.start <= text.len() && span.end <= text.len());
        }
        let _ = uci::to_table(&sections, &[], &mut Vec::new());
        check_located(&text, config::parse(&text, Some(Path::new("/nonexistent/dynhost"))));
    }

    #[test]
    fn any_reply_parses_to_a_bounded_outcome(
        status in 100u16..600,
        body in prop::collection::vec(any::<u8>(), 0..600),
        location in proptest::option::of("\\PC{0,200}"),
        truncated in any::<bool>(),
    ) {
        let r = reply::parse(status, location.as_deref(), &body, truncated);
        let o = reply::Outcome::Reply(r.clone());
        let _ = o.class();
        let shown = o.to_string();
        prop_assert!(shown.len() < 800, "{shown}");
        prop_assert!(!o.token().contains(char::is_whitespace));
        if let reply::Reply::Unparseable { excerpt, .. } = &r {
            prop_assert!(!excerpt.chars().any(char::is_control));
        }
    }

    #[test]
    fn dyndns2_lines_with_noise_parse(code in prop::sample::select(vec![
        "good 203.0.113.5", "nochg 203.0.113.5", "badauth", "nohost", "911", "dnserr", "!yours",
    ]), noise in "[ -~\n]{0,40}") {
        let body = format!("\n{code}\n{noise}");
        let r = reply::parse(200, None, body.as_bytes(), false);
        prop_assert!(!matches!(r, reply::Reply::Unparseable { .. }), "{r:?}");
    }

    #[test]
    fn control_requests_never_panic(line in "\\PC{0,200}") {
        if let Ok(req) = control::parse_request(&line) {
            prop_assert_eq!(control::parse_request(control::render_request(&req).trim_end()).unwrap(), req);
        }
        let _ = control::parse_answer(&line);
    }

    #[test]
    fn control_requests_round_trip(
        iface in proptest::option::of("[a-z][a-z0-9.-]{0,14}"),
        v4 in proptest::option::of(any::<[u8; 4]>()),
        force in any::<bool>(),
    ) {
        let ip = v4.map(IpAddr::from).filter(|a| dynhost::policy::classify(a).is_ok());
        let req = UpdateRequest { interface: iface, ip, force };
        prop_assert_eq!(control::parse_request(control::render_request(&req).trim_end()).unwrap(), req);
    }

    #[test]
    fn control_answers_round_trip(
        texts in prop::collection::vec("\\PC{0,40}", 1..5),
        secs in any::<u64>(),
    ) {
        let reports: Vec<SlotReport> = texts.iter().enumerate().map(|(i, t)| SlotReport {
            key: SlotKey { hostname: format!("h{i}.example.com"), family: Family::V4 },
            result: match i % 4 {
                0 => SlotResult::Unavailable(t.clone()),
                1 => SlotResult::Retrying { reply: t.clone(), in_secs: secs },
                2 => SlotResult::Blocked { reply: t.clone() },
                _ => SlotResult::Pending,
            },
            last_reply: (!t.is_empty()).then(|| t.clone()),
        }).collect();
        let text = control::render_answer(&Ok(reports.clone()));
        prop_assert_eq!(control::parse_answer(&text).unwrap(), Ok(reports));
        for unfollowed in [false, true] {
            let refusal = if unfollowed {
                control::Refusal::NotFollowed(texts[0].clone())
            } else {
                control::Refusal::Error(texts[0].clone())
            };
            let err = Err(refusal);
            prop_assert_eq!(control::parse_answer(&control::render_answer(&err)).unwrap(), err);
        }
    }

    #[test]
    fn state_files_never_panic(text in "\\PC{0,400}") {
        let _ = state::parse(&text);
        let _ = state::parse(&format!("dynhost-state 1\n{text}"));
    }

    #[test]
    fn state_round_trips(
        entries in prop::collection::vec((
            "[a-z]{1,8}\\.example\\.com",
            any::<bool>(),
            proptest::option::of((any::<[u8; 4]>(), any::<u32>())),
            proptest::option::of(("[ -~]{0,12}", "\\PC{0,30}", any::<u32>())),
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u32>()),
            prop::collection::vec(any::<u64>(), 0..4),
            proptest::option::of((proptest::option::of(any::<[u8; 16]>()), any::<bool>(), any::<u32>(), "\\PC{0,30}", proptest::option::of(any::<u32>()))),
        ), 0..6),
    ) {
        let mut map = state::StateMap::new();
        for (host, v6, published, reply, retry, blocked, sends, dns) in entries {
            let key = SlotKey { hostname: host, family: if v6 { Family::V6 } else { Family::V4 } };
            map.insert(key, SlotMemory {
                published: published.map(|(a, at)| Published { addr: IpAddr::from(a), at: at.into() }),
                last_reply: reply.map(|(token, detail, at)| LastReply { token, detail, at: at.into() }),
                retry_at: retry.map(u64::from),
                blocked_since: blocked.map(u64::from),
                sends,
                // A throttled address: any address and time round-trip like `published`.
                pending: published.map(|(a, at)| Pending { addr: IpAddr::from(a), at: u64::from(at) + 1 }),
                dns: dns.map(|(addr, visible, at, server, after)| DnsSeen {
                    addr: addr.map(IpAddr::from),
                    visible,
                    at: at.into(),
                    server,
                    after_ms: after.map(u64::from),
                }),
            });
        }
        prop_assert_eq!(state::parse(&state::render(&map)).unwrap().map, map);
    }

    /// Whatever the state file says (any times, any clock), starting from it neither
    /// panics nor waits longer than the longest wait this version sets.
    #[test]
    fn any_state_restores_with_bounded_waits(
        retry_at in proptest::option::of(any::<u64>()),
        blocked in proptest::option::of(any::<u64>()),
        sends in prop::collection::vec(any::<u64>(), 0..30),
        wall in prop_oneof![any::<u64>(), Just(u64::MAX), Just(u64::MAX - 1)],
        daemon in any::<bool>(),
    ) {
        let key = SlotKey { hostname: "h.example.com".into(), family: Family::V4 };
        let memory = state::StateMap::from([(key.clone(), SlotMemory {
            retry_at,
            blocked_since: blocked,
            sends,
            ..Default::default()
        })]);
        let spec = SlotSpec {
            key,
            record: 0,
            interface: "ppp0".into(),
            config_changed_at: Some(0),
            sources: vec![dynhost::model::Source::Interface],
            suffix: None,
            allow_private: false,
            batched: false,
        };
        let s = std::time::Duration::from_secs(1);
        let timing = Timing {
            debounce: s,
            debounce_max: 10 * s,
            retry_initial: 30 * s,
            retry_max: 3600 * s,
            max_per_hour: 12,
            gateway_check: None,
            web_check: None,
            verify: false,
            verify_interval: None,
        };
        let mode = if daemon { Mode::Daemon } else { Mode::OneShot };
        let now = std::time::Instant::now();
        let e = Engine::new(mode, timing, vec![spec], &memory, now, wall, 1);
        if let Some(t) = e.poll_timeout() {
            prop_assert!(t - now <= 3600 * s);
        }
        let _ = e.memory();
        let _ = e.report(now);
    }

    #[test]
    fn netlink_datagrams_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = wire::events(&bytes, false);
        for (h, p) in wire::messages(&bytes).flatten() {
            let _ = wire::parse(h, p);
        }
    }

    #[test]
    fn durations_round_trip(ms in 0u64..10_000_000_000) {
        let d = std::time::Duration::from_millis(ms);
        prop_assert_eq!(duration::parse(&duration::format(d)).unwrap(), d);
    }

    #[test]
    fn durations_never_panic(text in "\\PC{0,30}") {
        let _ = duration::parse(&text);
    }
}
