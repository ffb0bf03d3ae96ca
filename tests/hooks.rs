//! The trigger hooks in contrib/: PPP ip-up and ipv6-up, the OpenWrt hotplug script,
//! NetworkManager's dispatcher, dhcpcd and udhcpc. Each runs as its caller runs it, under
//! busybox ash (OpenWrt) and /bin/sh (Debian's dash): the PPP hook against the real
//! binary in a private network namespace, the others with a fake dynhost that records
//! its arguments (tests/support/fakebin/dynhost). The runner, and how it knows that
//! everything a hook started is done, is in tests/support/hooks.rs.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::agent::{Agent, Scratch, settle};
use support::hooks::{
    Call, QUICK, SHELLS, Shell, argvs, calls, dhcpcd_runner, pppd_env, pppd_link_up, redirect,
    run_hook, run_hook_to_end,
};
use support::netns::{in_netns, ip, ppp};
use support::openwrt::Router;
use support::repo::contrib;
use support::scene::Scene;

// ---- PPP ------------------------------------------------------------------------------

#[test]
fn ppp_ip_up_with_the_daemon_running_gives_one_update() {
    for shell in SHELLS {
        let what = format!("ip-up under {shell:?}, daemon running");
        in_netns(move || {
            let Scene { provider, dir, cfg } = Scene::home_on("ppp-daemon", "ppp0");
            let agent = Agent::start(&cfg, &[]);
            let log = pppd_link_up(&dir, &cfg, shell, "203.0.113.7", "198.51.100.1", &what);
            assert_eq!(
                calls(&log),
                vec![Call {
                    config: cfg.display().to_string(),
                    argv: "[-q] [update] [--interface] [ppp0] [--ip] [203.0.113.7]".into(),
                    exit: Some(0),
                }],
                "{what}"
            );
            assert!(
                agent.log().contains("hook trigger"),
                "{what}: the request went through the daemon"
            );
            // The hook's request was answered after its round: all that was sent is in.
            settle(Duration::from_millis(300));
            let reqs = provider.requests();
            assert_eq!(
                reqs.len(),
                1,
                "{what}: the hook and the netlink event give one request"
            );
            assert_eq!(reqs[0].param("myip"), Some("203.0.113.7"));
            assert_eq!(reqs[0].param("hostname"), Some("home.example.com"));
        });
    }
}

/// A PPP reconnect at the default 1 s quiet time: ip-up's address is the one netlink
/// shows, so the daemon sends it at once (issue 22, item 4), and the quiet time of the
/// netlink burst that came with it adds no second request.
#[test]
fn ppp_reconnect_with_the_hook_is_published_without_the_quiet_time() {
    for shell in SHELLS {
        let what = format!("reconnect, ip-up under {shell:?}");
        in_netns(move || {
            let scene = Scene::home_on("ppp-reconnect", "ppp0");
            ppp("ppp0", "203.0.113.7", "198.51.100.1");
            let agent = scene.start_published(Duration::from_secs(10));
            let Scene { provider, dir, cfg } = scene;
            // The link drops; pppd brings up a new one with a new address, then ip-up.
            ip(&["link", "del", "ppp0"]);
            let t0 = Instant::now();
            pppd_link_up(&dir, &cfg, shell, "203.0.113.8", "198.51.100.1", &what);
            let req = provider.nth(2, Duration::from_secs(10), "the reconnect's update");
            assert_eq!(req.param("myip"), Some("203.0.113.8"), "{what}");
            let took = req.at.saturating_duration_since(t0);
            // With the debounce, the request could not come before 1 s after the last
            // netlink event: the bound is the point here.
            assert!(
                took < Duration::from_millis(1000),
                "{what}: sent {took:?} after the new address, not before the quiet time"
            );
            settle(Duration::from_millis(1500));
            assert_eq!(provider.count(), 2, "{what}: one request for the reconnect");
            drop(agent);
        });
    }
}

#[test]
fn ppp_ip_up_without_a_daemon_publishes_the_address_itself() {
    for shell in SHELLS {
        let what = format!("ip-up under {shell:?}, no daemon");
        in_netns(move || {
            let Scene { provider, dir, cfg } = Scene::home_on("ppp-oneshot", "ppp0");
            let log = pppd_link_up(&dir, &cfg, shell, "203.0.113.7", "198.51.100.1", &what);
            let c = calls(&log);
            assert_eq!(c.len(), 1, "{what}: {c:?}");
            assert_eq!(c[0].exit, Some(0), "{what}: {c:?}");
            let reqs = provider.requests();
            assert_eq!(reqs.len(), 1, "{what}");
            assert_eq!(reqs[0].param("myip"), Some("203.0.113.7"));
            let state = std::fs::read_to_string(dir.join("state/state")).unwrap();
            assert!(state.contains("published=203.0.113.7@"), "{what}: {state}");
        });
    }
}

#[test]
fn ppp_ip_up_with_a_cgnat_address_sends_nothing_and_exits_0() {
    for shell in SHELLS {
        let what = format!("ip-up under {shell:?}, CGNAT address");
        in_netns(move || {
            let Scene { provider, dir, cfg } = Scene::home_on("ppp-cgnat", "ppp0");
            let log = pppd_link_up(&dir, &cfg, shell, "100.64.0.7", "100.64.0.1", &what);
            assert_eq!(
                calls(&log),
                vec![Call {
                    config: cfg.display().to_string(),
                    argv: "[-q] [update] [--interface] [ppp0] [--ip] [100.64.0.7]".into(),
                    exit: Some(2),
                }],
                "{what}: dynhost refuses a non-global --ip as a usage error"
            );
            assert_eq!(provider.count(), 0, "{what}: nothing sent");
        });
    }
}

/// OpenWrt: netifd's ppp6-up runs /etc/ppp/ip-up.d/* with "$@", so ip-up sees the
/// IPv6 link-local address as $4. And Debian's ipv6-up.d hook gets the same arguments.
#[test]
fn ppp_ipv6_up_never_passes_a_link_local_address() {
    for shell in SHELLS {
        for hook in ["ppp/ip-up", "ppp/ipv6-up"] {
            let what = format!("{hook} for IPv6 under {shell:?}");
            in_netns(move || {
                let Scene { provider, dir, cfg } = Scene::home_on("ppp6", "pppoe-wan");
                ppp("pppoe-wan", "203.0.113.9", "198.51.100.1");
                let log = dir.join("calls");
                let ll_local = "fe80::5054:ff:fe12:3456";
                let ll_remote = "fe80::1";
                let mut cmd = shell.script(&contrib(hook));
                cmd.args(["pppoe-wan", "eth1", "0", ll_local, ll_remote, "wan"]);
                pppd_env(&mut cmd, "pppoe-wan", "203.0.113.9", "198.51.100.1", "wan");
                cmd.env("LLLOCAL", ll_local)
                    .env("LLREMOTE", ll_remote)
                    .env("PPP_IPPARAM", "wan");
                redirect(&mut cmd, Some(&cfg), &log, true);
                run_hook_to_end(cmd, &what);
                assert_eq!(
                    calls(&log),
                    vec![Call {
                        config: cfg.display().to_string(),
                        argv: "[-q] [update] [--interface] [pppoe-wan]".into(),
                        exit: Some(0),
                    }],
                    "{what}: a round on the interface, no --ip"
                );
                // Without a daemon, that round reads the interface and publishes its
                // global address.
                let reqs = provider.requests();
                assert_eq!(reqs.len(), 1, "{what}");
                assert_eq!(reqs[0].param("myip"), Some("203.0.113.9"));
            });
        }
    }
}

/// Debian's /etc/ppp/ip-up runs an executable ip-up.local instead of ip-up.d, as
/// `exec /etc/ppp/ip-up.local "$*"`: one word. install.md tells users to call our hook
/// from there with "$@"; the hook must read that word as the six arguments.
#[test]
fn ppp_hooks_called_from_debian_ip_up_local_with_one_word_still_work() {
    for shell in SHELLS {
        for (hook, local, argv) in [
            (
                "ppp/ip-up",
                "203.0.113.7",
                "[-q] [update] [--interface] [ppp0] [--ip] [203.0.113.7]",
            ),
            (
                "ppp/ipv6-up",
                "fe80::5054:ff:fe12:3456",
                "[-q] [update] [--interface] [ppp0]",
            ),
        ] {
            let what = format!("{hook} with \"$*\" under {shell:?}");
            let dir = Scratch::new("ppp-local");
            let log = dir.join("calls");
            let mut cmd = shell.script(&contrib(hook));
            // A `*` in ipparam must not be expanded against the current directory.
            cmd.arg(format!(
                "ppp0 /dev/ttyUSB0 115200 {local} 198.51.100.1 isp*"
            ))
            .current_dir(&dir.path);
            pppd_env(&mut cmd, "ppp0", "203.0.113.7", "198.51.100.1", "isp*");
            redirect(&mut cmd, Some(&dir.join("config.toml")), &log, false);
            run_hook_to_end(cmd, &what);
            let c = calls(&log);
            assert_eq!(c.len(), 1, "{what}: {c:?}");
            assert_eq!(c[0].argv, argv, "{what}");
        }
    }
}

// ---- hooks that must not wait ----------------------------------------------------------

/// Every hook, with a dynhost that takes 2 s, returns at once and lets go of its stdout
/// and stderr; the call still happens, in the background.
#[test]
fn no_hook_waits_for_dynhost() {
    let dir = Scratch::new("slow");
    // The OpenWrt package installed, a record on wan, the service enabled.
    let router = Router::new("slow-openwrt");
    router.write_config(
        "dynhost",
        "config record 'home'\n\toption hostname 'home.example.com'\n\toption interface 'wan'\n",
    );
    router.init("enable");
    let mut runs = Vec::new();
    for shell in SHELLS {
        let mut cases: Vec<(String, Command)> = Vec::new();
        let mut c = shell.script(&contrib("ppp/ip-up"));
        c.args([
            "ppp0",
            "/dev/ttyUSB0",
            "115200",
            "203.0.113.7",
            "198.51.100.1",
        ]);
        pppd_env(&mut c, "ppp0", "203.0.113.7", "198.51.100.1", "");
        cases.push(("ppp/ip-up".into(), c));
        let mut c = shell.script(&contrib("ppp/ipv6-up"));
        c.args(["ppp0", "/dev/ttyUSB0", "115200", "fe80::2", "fe80::1"]);
        pppd_env(&mut c, "ppp0", "", "", "");
        cases.push(("ppp/ipv6-up".into(), c));
        let mut c = shell.script(&contrib("networkmanager/90-dynhost"));
        c.args(["eth0", "up"]);
        cases.push(("networkmanager".into(), c));
        let mut c = shell.script(&contrib("udhcpc/dynhost"));
        c.arg("bound")
            .env("interface", "eth0")
            .env("ip", "203.0.113.30");
        cases.push(("udhcpc".into(), c));
        let mut c = dhcpcd_runner(shell);
        c.env("reason", "BOUND")
            .env("interface", "eth0")
            .env("new_ip_address", "203.0.113.20");
        cases.push(("dhcpcd".into(), c));
        let shell_name = match shell {
            Shell::Ash => "ash",
            Shell::Sh => "sh",
        };
        let c = router.hotplug(
            shell_name,
            &[
                ("ACTION", "ifup"),
                ("INTERFACE", "wan"),
                ("DEVICE", "pppoe-wan"),
            ],
        );
        cases.push(("openwrt hotplug".into(), c));
        for (name, mut cmd) in cases {
            let what = format!("{name} under {shell:?}");
            let log = dir.join(&format!("calls-{name}-{shell:?}").replace('/', "-"));
            redirect(&mut cmd, None, &log, false);
            cmd.env("FAKE_DYNHOST_SLEEP", "2").stdin(Stdio::null());
            let ran = run_hook(cmd, &what, true);
            ran.assert_quick_success(&what);
            let (out, eof) = ran.output(&what);
            assert!(
                eof < QUICK,
                "{what}: the hook's stdout/stderr stayed open {eof:?}: the background work \
                 must not hold them ({})",
                String::from_utf8_lossy(&out)
            );
            runs.push((what, log, ran));
        }
    }
    for (what, log, ran) in runs {
        ran.wait_all(&what);
        let c = calls(&log);
        assert_eq!(c.len(), 1, "{what}: the call happened anyway: {c:?}");
        assert_eq!(c[0].exit, Some(0), "{what}: and ran to its end");
    }
}

// ---- NetworkManager ---------------------------------------------------------------------

#[test]
fn networkmanager_dispatcher_acts_on_up_and_address_changes_only() {
    let dir = Scratch::new("nm");
    for shell in SHELLS {
        for (action, expect) in [
            ("up", true),
            ("dhcp4-change", true),
            ("dhcp6-change", true),
            ("reapply", true),
            ("down", false),
            ("pre-up", false),
            ("pre-down", false),
            ("vpn-up", false),
            ("vpn-down", false),
            ("hostname", false),
            ("connectivity-change", false),
            ("dns-change", false),
            ("", false),
        ] {
            let what = format!("NetworkManager {action:?} under {shell:?}");
            let log = dir.join(&format!("calls-{action}-{shell:?}"));
            let mut cmd = shell.script(&contrib("networkmanager/90-dynhost"));
            cmd.args(["wlp2s0", action])
                .env("NM_DISPATCHER_ACTION", action)
                .env("DEVICE_IFACE", "wlp2s0")
                .env("DEVICE_IP_IFACE", "wlp2s0")
                .env("CONNECTION_ID", "home");
            redirect(&mut cmd, None, &log, false);
            run_hook_to_end(cmd, &what);
            let want: Vec<String> = if expect {
                vec!["[-q] [update] [--interface] [wlp2s0]".into()]
            } else {
                vec![]
            };
            assert_eq!(argvs(&log), want, "{what}");
        }
    }
}

// ---- dhcpcd -------------------------------------------------------------------------------

#[test]
fn dhcpcd_hook_is_sourced_returns_and_acts_on_its_reasons() {
    let dir = Scratch::new("dhcpcd");
    let v4 = "[-q] [update] [--interface] [eth0] [--ip] [203.0.113.20]";
    let v6 = "[-q] [update] [--interface] [eth0]";
    for shell in SHELLS {
        for (reason, expect) in [
            ("BOUND", Some(v4)),
            ("RENEW", Some(v4)),
            ("REBIND", Some(v4)),
            ("REBOOT", Some(v4)),
            ("BOUND6", Some(v6)),
            ("RENEW6", Some(v6)),
            ("REBIND6", Some(v6)),
            ("REBOOT6", Some(v6)),
            ("ROUTERADVERT", Some(v6)),
            ("DELEGATED6", Some(v6)),
            ("PREINIT", None),
            ("CARRIER", None),
            ("NOCARRIER", None),
            ("EXPIRE", None),
            ("EXPIRE6", None),
            ("NAK", None),
            ("STOP", None),
            ("STOP6", None),
            ("STOPPED", None),
            ("DEPARTED", None),
            ("IPV4LL", None),
            ("TIMEOUT", None),
        ] {
            let what = format!("dhcpcd {reason} under {shell:?}");
            let log = dir.join(&format!("calls-{reason}-{shell:?}"));
            let mut cmd = dhcpcd_runner(shell);
            cmd.env("reason", reason)
                .env("interface", "eth0")
                .env(
                    "protocol",
                    if reason.ends_with('6') {
                        "dhcp6"
                    } else {
                        "dhcp"
                    },
                )
                .env("new_ip_address", "203.0.113.20")
                .stdin(Stdio::null());
            redirect(&mut cmd, None, &log, false);
            let ran = run_hook(cmd, &what, true);
            ran.assert_quick_success(&what);
            let (out, _) = ran.output(&what);
            let out = String::from_utf8_lossy(&out);
            assert_eq!(
                out.trim_end(),
                "after hook: status=0 args=first second path_same=yes",
                "{what}: sourced, the hook returns, keeps the caller's arguments and PATH, \
                 and removes its function"
            );
            ran.wait_all(&what);
            let want: Vec<String> = expect.into_iter().map(String::from).collect();
            assert_eq!(argvs(&log), want, "{what}");
        }
    }
}

#[test]
fn dhcpcd_hook_without_an_ipv4_address_asks_for_a_round_on_the_interface() {
    let dir = Scratch::new("dhcpcd-noaddr");
    let log = dir.join("calls");
    let mut cmd = dhcpcd_runner(Shell::Ash);
    cmd.env("reason", "BOUND").env("interface", "eth0");
    redirect(&mut cmd, None, &log, false);
    run_hook_to_end(cmd, "dhcpcd BOUND without new_ip_address");
    assert_eq!(argvs(&log), ["[-q] [update] [--interface] [eth0]"]);
}

// ---- udhcpc ---------------------------------------------------------------------------------

#[test]
fn udhcpc_hook_acts_on_bound_and_renew_with_the_leased_address() {
    let dir = Scratch::new("udhcpc");
    for shell in SHELLS {
        for (event, expect) in [
            ("bound", true),
            ("renew", true),
            ("deconfig", false),
            ("nak", false),
            ("leasefail", false),
            ("", false),
        ] {
            let what = format!("udhcpc {event:?} under {shell:?}");
            let log = dir.join(&format!("calls-{event}-{shell:?}"));
            let mut cmd = shell.script(&contrib("udhcpc/dynhost"));
            cmd.arg(event)
                .env("interface", "eth1")
                .env("ip", "203.0.113.30")
                .env("subnet", "255.255.255.0")
                .env("router", "203.0.113.1");
            redirect(&mut cmd, None, &log, false);
            run_hook_to_end(cmd, &what);
            let want: Vec<String> = if expect {
                vec!["[-q] [update] [--interface] [eth1] [--ip] [203.0.113.30]".into()]
            } else {
                vec![]
            };
            assert_eq!(argvs(&log), want, "{what}");
        }
    }
}

// ---- OpenWrt hotplug --------------------------------------------------------------------------

// The OpenWrt hotplug script is tested as installed by the package, under the stand-ins
// of hotplug-call and rc.common: tests/packaging.rs, `openwrt_hotplug_*`.

#[test]
fn hooks_that_are_executed_are_executable() {
    for hook in [
        "ppp/ip-up",
        "ppp/ipv6-up",
        "networkmanager/90-dynhost",
        "udhcpc/dynhost",
        "openwrt/files/dynhost.init",
    ] {
        let mode = std::fs::metadata(contrib(hook))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0o111, "contrib/{hook} must be executable");
        assert_eq!(
            mode & 0o022,
            0,
            "contrib/{hook} must not be group/other-writable"
        );
    }
    let first = std::fs::read_to_string(contrib("ppp/ip-up")).unwrap();
    assert!(first.starts_with("#!/bin/sh\n"));
}
