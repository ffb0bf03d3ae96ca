//! The daemon end to end: real kernel (a private network namespace), real netlink,
//! the real binary, and a loopback HTTP server standing in for OVH.

mod support;

use std::time::Duration;

use support::agent::{Agent, PASSWORD, record, run, settle, text, write_config};
use support::netns::{in_netns, ip, ip_batch, move_addr, ppp};
use support::provider::Reply;
use support::scene::Scene;

const T: Duration = Duration::from_secs(10);

#[test]
fn start_with_an_address_sends_one_update() {
    in_netns(|| {
        let Scene { provider, dir, cfg } = Scene::home("start", Some("203.0.113.5/24"));
        let agent = Agent::start(&cfg, &[]);
        let r = provider.nth(1, T, "the first update");
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/nic/update");
        assert_eq!(
            r.query,
            vec![
                ("system".to_string(), "dyndns".to_string()),
                ("hostname".to_string(), "home.example.com".to_string()),
                ("myip".to_string(), "203.0.113.5".to_string()),
            ]
        );
        assert_eq!(
            r.basic_auth,
            Some(("example.com-test".to_string(), PASSWORD.to_string()))
        );
        assert!(r.header("user-agent").unwrap().starts_with("dynhost/"));
        agent.wait_log("published", T);
        settle(Duration::from_secs(2));
        assert_eq!(provider.count(), 1, "exactly one request");
        assert!(agent.stop().success());
        let state = std::fs::read_to_string(dir.join("state/state")).unwrap();
        assert!(state.contains("published=203.0.113.5@"), "{state}");
    });
}

#[test]
fn an_address_change_sends_exactly_one_update_with_the_new_address() {
    in_netns(|| {
        let scene = Scene::home("change", Some("203.0.113.5/24"));
        let _agent = scene.start_published(T);
        move_addr("br0", "203.0.113.5/24", "198.51.100.20/24");
        let r = scene.provider.nth(2, T, "the new address");
        assert_eq!(r.param("myip"), Some("198.51.100.20"));
        settle(Duration::from_secs(2));
        assert_eq!(scene.provider.count(), 2);
    });
}

#[test]
fn twenty_changes_within_a_second_give_one_update_carrying_the_last_address() {
    in_netns(|| {
        let scene = Scene::home("flap", Some("203.0.113.100/24"));
        let _agent = scene.start_published(T);
        let mut prev = "203.0.113.100".to_string();
        for i in 1..=20 {
            let next = format!("203.0.113.{i}");
            ip_batch(&[
                format!("addr del {prev}/24 dev br0"),
                format!("addr add {next}/24 dev br0"),
            ]);
            prev = next;
            settle(Duration::from_millis(40));
        }
        let r = scene.provider.nth(2, T, "the update after the burst");
        assert_eq!(r.param("myip"), Some("203.0.113.20"));
        settle(Duration::from_secs(3));
        assert_eq!(scene.provider.count(), 2, "one request for the whole burst");
    });
}

#[test]
fn a_ppp_link_recreated_with_a_new_address_gives_one_update_with_the_local_address() {
    in_netns(|| {
        ppp("ppp0", "192.0.2.1", "192.0.2.2");
        let scene = Scene::home_on("ppp", "ppp0");
        let _agent = scene.start_published(T);
        let first = &scene.provider.requests()[0];
        assert_eq!(
            first.param("myip"),
            Some("192.0.2.1"),
            "local, not the peer"
        );
        // A reconnect: pppd deletes the link and creates it again with a new ifindex.
        ip(&["link", "del", "ppp0"]);
        ppp("ppp0", "198.51.100.7", "198.51.100.1");
        let r = scene.provider.nth(2, T, "the update after the reconnect");
        assert_eq!(r.param("myip"), Some("198.51.100.7"));
        settle(Duration::from_secs(2));
        assert_eq!(scene.provider.count(), 2);
    });
}

#[test]
fn a_restart_with_an_unchanged_address_sends_nothing() {
    in_netns(|| {
        let scene = Scene::home("restart", Some("203.0.113.5/24"));
        assert!(scene.start_published(T).stop().success());
        let agent = Agent::start(&scene.cfg, &[]);
        settle(Duration::from_secs(2));
        assert_eq!(scene.provider.count(), 1, "restart sent nothing");
        // The state survives too, as `status` shows.
        let (out, _) = text(&run(&scene.cfg, &["status"]));
        assert!(out.contains("203.0.113.5") && out.contains("ok"), "{out}");
        drop(agent);
    });
}

#[test]
fn badauth_stops_all_further_requests() {
    in_netns(|| {
        let Scene {
            provider,
            dir: _dir,
            cfg,
        } = Scene::new(
            "badauth",
            Some("203.0.113.5/24"),
            &record("home.example.com", "br0", "ipv6 = true"),
        );
        provider.set_default(Reply::Text(200, "badauth".into()));
        let agent = Agent::start(&cfg, &[]);
        provider.nth(1, T, "the first update");
        agent.wait_log("blocked", T);
        move_addr("br0", "203.0.113.5/24", "203.0.113.6/24");
        ip(&["-6", "addr", "add", "2001:db8::6/64", "dev", "br0", "nodad"]);
        settle(Duration::from_secs(3));
        // A new IPv4 address and a first IPv6 one: the login is wrong for both.
        assert_eq!(
            provider.count(),
            1,
            "nothing after badauth, in either family"
        );
        let (out, _) = text(&run(&cfg, &["status"]));
        assert!(out.contains("blocked since"), "{out}");
    });
}

#[test]
fn a_503_is_retried_and_then_published() {
    in_netns(|| {
        let body = format!(
            "[retry]\ninitial = \"1s\"\n\n{}",
            record("home.example.com", "br0", "")
        );
        let Scene { provider, dir, cfg } = Scene::new("retry", Some("203.0.113.5/24"), &body);
        provider.push(Reply::Text(503, "Service Unavailable".into()));
        let agent = Agent::start(&cfg, &[]);
        let reqs = provider.wait_for(2, T);
        assert_eq!(reqs.len(), 2, "the retry did not come");
        let gap = reqs[1].at - reqs[0].at;
        assert!(
            gap >= Duration::from_millis(750) && gap <= Duration::from_secs(3),
            "retried after the backoff: {gap:?}"
        );
        assert_eq!(reqs[1].param("myip"), Some("203.0.113.5"));
        agent.wait_log("published", T);
        settle(Duration::from_secs(2));
        assert_eq!(provider.count(), 2);
        let state = std::fs::read_to_string(dir.join("state/state")).unwrap();
        assert!(state.contains("published=203.0.113.5@"), "{state}");
    });
}

#[test]
fn only_a_private_address_sends_nothing() {
    in_netns(|| {
        let scene = Scene::home("private", Some("10.0.0.2/24"));
        ip(&["addr", "add", "100.64.0.9/10", "dev", "br0"]);
        let agent = Agent::start(&scene.cfg, &[]);
        agent.wait_log("is private (RFC 1918)", T);
        settle(Duration::from_secs(2));
        assert_eq!(scene.provider.count(), 0);
        assert_eq!(scene.provider.connections(), 0);
        assert_eq!(agent.count("no publishable address"), 1, "said once");
    });
}

#[test]
fn sighup_reloads_and_a_broken_config_keeps_the_old_one_running() {
    in_netns(|| {
        let Scene { provider, dir, cfg } = Scene::home("reload", Some("203.0.113.5/24"));
        let agent = Agent::start(&cfg, &[]);
        provider.nth(1, T, "the first update");
        std::fs::write(&cfg, "this is = not [valid toml\n").unwrap();
        agent.signal(libc::SIGHUP);
        agent.wait_log("reload failed, keeping the running config", T);
        agent.wait_log("config.toml:1:", T); // says why, and where
        // The old config still works.
        move_addr("br0", "203.0.113.5/24", "203.0.113.6/24");
        let r = provider.nth(2, T, "the update under the old config");
        assert_eq!(r.param("myip"), Some("203.0.113.6"));
        // A good new config with one more record: the new record is published, the old
        // one is not re-sent.
        let body = format!(
            "{}{}",
            record("home.example.com", "br0", ""),
            record("new.example.com", "br0", "")
        );
        write_config(&dir, &provider.url(), &body);
        agent.signal(libc::SIGHUP);
        let r = provider.nth(3, T, "the new record");
        assert_eq!(r.param("hostname"), Some("new.example.com"));
        settle(Duration::from_secs(2));
        assert_eq!(provider.count(), 3);
        assert!(agent.stop().success());
    });
}
