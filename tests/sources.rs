//! Where the address comes from, round 2 (issue 22): a private address on purpose
//! (`allow_private`), in a private network namespace against the loopback provider.

mod support;

use std::time::Duration;

use support::agent::{Agent, record, run, settle, text};
use support::netns::{bridge, in_netns, ip};
use support::scene::Scene;

const T: Duration = Duration::from_secs(10);

/// `allow_private = true`: a VPN mesh address and a CGNAT one are published; a record
/// whose interface has only a link-local address publishes nothing, and a record
/// without the key still refuses its private address. `check` warns about the key.
#[test]
fn allow_private_publishes_private_and_cgnat_addresses_but_never_link_local() {
    in_netns(|| {
        for (dev, addr) in [
            ("wg0", "10.8.0.2/24"),
            ("cg0", "100.64.1.2/10"),
            ("ll0", "169.254.7.7/16"),
            ("br0", "10.1.1.1/24"),
        ] {
            bridge(dev);
            ip(&["addr", "add", addr, "dev", dev]);
        }
        let open = "allow_private = true";
        let body = [
            record("mesh.example.com", "wg0", open),
            record("cgnat.example.com", "cg0", open),
            record("local.example.com", "ll0", open),
            record("lan.example.com", "br0", ""),
        ]
        .concat();
        let scene = Scene::bare("allow-private", &body);

        let out = run(&scene.cfg, &["check"]);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "check: {stdout}{stderr}");
        let all = format!("{stdout}{stderr}");
        assert_eq!(
            all.matches("allow_private = true: a private or CGNAT address may be published")
                .count(),
            3,
            "check warns once per record: {all}"
        );

        let agent = Agent::start(&scene.cfg, &[]);
        scene.provider.wait_for(2, T);
        agent.wait_count("no publishable address", 2, T);
        settle(Duration::from_millis(1500));
        let mut sent: Vec<(String, String)> = scene
            .provider
            .requests()
            .iter()
            .map(|r| {
                let p = |k| r.param(k).unwrap_or_default().to_string();
                (p("hostname"), p("myip"))
            })
            .collect();
        sent.sort();
        assert_eq!(
            sent,
            vec![
                ("cgnat.example.com".into(), "100.64.1.2".into()),
                ("mesh.example.com".into(), "10.8.0.2".into()),
            ]
        );
        let log = agent.log();
        let refusal = |host: &str| {
            log.lines()
                .filter(|l| l.contains(host) && l.contains("no publishable address"))
                .count()
        };
        assert_eq!(refusal("local.example.com"), 1, "one clear line: {log}");
        assert!(log.contains("169.254.7.7 is link-local"), "{log}");
        assert_eq!(refusal("lan.example.com"), 1, "one clear line: {log}");
        assert!(log.contains("10.1.1.1 is private"), "{log}");
    });
}
