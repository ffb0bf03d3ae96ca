//! The OpenWrt package against OpenWrt's real runtime: procd (with the real rc.common
//! and procd.sh), netifd, ubus, uci, hotplug-call, logd and logread, built from the
//! vendored sources and booted in namespaces by tests/openwrt/ (support::openwrt::rig).
//! Each test boots its own router (about 1 s) inside its own network namespace, where
//! the loopback provider runs too.

mod support;

use std::process::Command;
use std::time::Duration;

use support::agent::{PASSWORD, assert_no_secret, text as outputs};
use support::hooks::{Call, calls, run_hook_to_end};
use support::netns::in_netns;
use support::openwrt::Router;
use support::openwrt::rig::Rig;
use support::provider::{Provider, Reply};
use support::repo::{busybox, fake_dynhost, openwrt_standin, root};

const T: Duration = Duration::from_secs(15);

/// A router with one record on `wan` (enabled or not) published to `provider`.
fn router(name: &str, provider: &Provider, enabled: bool) -> Rig {
    let rig = Rig::boot(name);
    configure(&rig, provider, enabled);
    rig
}

fn configure(rig: &Rig, provider: &Provider, enabled: bool) {
    rig.write("etc/dynhost/home.secret", &format!("{PASSWORD}\n"), 0o600);
    rig.write(
        "etc/config/dynhost",
        &format!(
            "config dynhost 'global'\n\
             \toption state_dir '/var/lib/dynhost'\n\
             \toption url '{url}'\n\
             \toption debounce '500ms'\n\n\
             config record 'home'\n\
             \toption enabled '{en}'\n\
             \toption hostname 'home.example.com'\n\
             \toption username 'example.com-home'\n\
             \toption password_file '/etc/dynhost/home.secret'\n\
             \toption interface 'wan'\n\
             \toption ipv4 '1'\n\
             \toption ipv6 '0'\n",
            url = provider.url(),
            en = u8::from(enabled),
        ),
        0o600,
    );
}

/// Enables and starts the service, and waits for its instance.
fn start(rig: &Rig) -> u32 {
    rig.ok("/etc/init.d/dynhost enable && /etc/init.d/dynhost start");
    let mut pid = 0;
    rig.wait("dynhost's procd instance", T, || {
        pid = rig.instance_pids("dynhost").first().copied().unwrap_or(0);
        pid != 0
    });
    pid
}

/// No request arrives during `d` beyond the `n` already counted.
fn no_more(provider: &Provider, n: usize, d: Duration) {
    std::thread::sleep(d);
    let reqs = provider.requests();
    assert_eq!(
        reqs.len(),
        n,
        "unexpected requests: {:?}",
        reqs.iter().map(|r| r.param("myip")).collect::<Vec<_>>()
    );
}

/// netifd gives `wan` a new address (`uci set` + `ubus call network reload`).
fn set_wan_address(rig: &Rig, addr: &str) {
    rig.ok(&format!(
        "uci set network.wan.ipaddr={addr} && uci commit network && ubus call network reload"
    ));
}

/// `/etc/init.d/dynhost enable` and `start` with the shipped config (its record
/// disabled): nothing runs, the init script says why, and procd holds the service's
/// config triggers; enabling the record in UCI then starts it through them
/// (`reload_config`), and it publishes wan's address once.
#[test]
fn enable_and_start_without_an_enabled_record_then_enable_it_in_uci() {
    in_netns(|| {
        let provider = Provider::start();
        let rig = Rig::boot("enable");
        let out = rig.sh("/etc/init.d/dynhost enable && /etc/init.d/dynhost start");
        assert!(out.status.success(), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("no enabled record"),
            "{out:?}"
        );
        assert!(rig.path("etc/rc.d/S95dynhost").exists(), "enabled at boot");
        rig.ok("/etc/init.d/dynhost enabled");
        let p = procd_view(&rig);
        assert_eq!(p.command, Vec::<String>::new(), "no instance");
        assert_eq!(p.triggers, ["dynhost", "network"]);
        assert_eq!(rig.instance_pids("dynhost"), Vec::<u32>::new());

        configure(&rig, &provider, false);
        rig.ok("reload_config");
        no_more(&provider, 0, Duration::from_millis(500));
        assert_eq!(rig.instance_pids("dynhost"), Vec::<u32>::new());

        rig.ok("uci set dynhost.home.enabled=1 && uci commit dynhost && reload_config");
        rig.wait("an instance after reload_config", T, || {
            !rig.instance_pids("dynhost").is_empty()
        });
        let reqs = provider.wait_for(1, T);
        assert_eq!(reqs[0].param("hostname"), Some("home.example.com"));
        assert_eq!(reqs[0].param("myip"), Some("203.0.113.7"));
        assert_eq!(rig.ok("/etc/init.d/dynhost status").trim(), "running");
        no_more(&provider, 1, Duration::from_secs(1));
    });
}

/// A change of /etc/config/dynhost committed with UCI reaches the daemon through procd's
/// reload trigger (`reload_config` → `service dynhost reload` → `reload_signal HUP`):
/// the same process reloads (SIGHUP) and keeps its state (no new request for the
/// address it published).
#[test]
fn a_uci_change_reloads_the_daemon_with_sighup_and_keeps_its_state() {
    in_netns(|| {
        let provider = Provider::start();
        let rig = router("reload", &provider, true);
        let pid = start(&rig);
        provider.wait_for(1, T);
        rig.wait("the first round logged", T, || {
            rig.logread().contains("published")
        });

        rig.ok("uci set dynhost.global.debounce=2s && uci commit dynhost && reload_config");
        rig.wait("dynhost reloaded its config", T, || {
            rig.logread().contains("SIGHUP: config loaded")
        });
        assert_eq!(rig.instance_pids("dynhost"), vec![pid], "same process");
        assert_eq!(rig.read("etc/config/dynhost").matches("'2s'").count(), 1);
        no_more(&provider, 1, Duration::from_secs(1));

        // Nothing changed: reload_config sends no event, the daemon hears nothing.
        rig.ok("reload_config");
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(rig.logread().matches("SIGHUP: config loaded").count(), 1);
    });
}

/// netifd brings `wan` up (boot) and later changes its address (`uci set` + `ubus call
/// network reload`): the daemon publishes each address exactly once, although the
/// kernel's netlink event, netifd's hotplug event (a static interface whose address
/// changed goes down and up: ifup → `dynhost update --interface wan0`) and procd's
/// trigger for /etc/config/network (SIGHUP) all announce the change.
#[test]
fn netifd_changes_the_wan_address_and_each_address_is_published_once() {
    in_netns(|| {
        let provider = Provider::start();
        let rig = router("netifd", &provider, true);
        start(&rig);
        let reqs = provider.wait_for(1, T);
        assert_eq!(reqs[0].param("myip"), Some("203.0.113.7"));
        no_more(&provider, 1, Duration::from_secs(1));

        set_wan_address(&rig, "198.51.100.7");
        let reqs = provider.wait_for(2, T);
        assert_eq!(reqs[1].param("myip"), Some("198.51.100.7"));
        // The hotplug script ran (netifd's ifup) and found the address published.
        rig.wait("the hotplug script's log line", T, || {
            rig.logread()
                .contains("hotplug ifup wan (wan0): dynhost update --interface wan0: exit 0")
        });
        no_more(&provider, 2, Duration::from_secs(2));
    });
}

/// `ifdown wan` / `ifup wan` with the same address sends nothing (that address is
/// published); down, a new address, up sends exactly one request.
#[test]
fn wan_down_and_up() {
    in_netns(|| {
        let provider = Provider::start();
        let rig = router("downup", &provider, true);
        start(&rig);
        provider.wait_for(1, T);

        rig.ok("ifdown wan");
        rig.wait("wan down", T, || {
            !rig.ok("ip -4 addr show dev wan0").contains("203.0.113.7")
        });
        rig.ok("ifup wan");
        rig.wait("wan up again", T, || {
            rig.ok("ubus call network.interface.wan status")
                .contains("\"up\": true")
        });
        rig.wait("the hotplug script's ifup", T, || {
            rig.logread().contains("hotplug ifup wan (wan0)")
        });
        no_more(&provider, 1, Duration::from_secs(2));
        assert!(rig.instance_pids("dynhost").len() == 1);

        rig.ok("ifdown wan");
        rig.ok("uci set network.wan.ipaddr=198.51.100.9 && uci commit network");
        rig.ok("ifup wan");
        let reqs = provider.wait_for(2, T);
        assert_eq!(reqs[1].param("myip"), Some("198.51.100.9"));
        no_more(&provider, 2, Duration::from_secs(2));
    });
}

/// `/etc/init.d/dynhost disable`: the hotplug script does nothing (as ddns-scripts'),
/// even without a daemon; enabled again, the same netifd event makes it run a round
/// itself (`dynhost update`), which publishes once.
#[test]
fn disabled_the_hotplug_script_does_nothing() {
    in_netns(|| {
        let provider = Provider::start();
        let rig = router("disable", &provider, true);
        start(&rig);
        provider.wait_for(1, T);
        rig.ok("/etc/init.d/dynhost stop && /etc/init.d/dynhost disable");
        assert_eq!(rig.instance_pids("dynhost"), Vec::<u32>::new());
        assert!(rig.sh("/etc/init.d/dynhost enabled").status.code() != Some(0));

        set_wan_address(&rig, "198.51.100.7");
        rig.wait("netifd's new address", T, || {
            rig.ok("ip -4 addr show dev wan0").contains("198.51.100.7")
        });
        no_more(&provider, 1, Duration::from_secs(3));
        assert!(
            !rig.logread().contains("hotplug ifupdate"),
            "{}",
            rig.logread()
        );

        rig.ok("/etc/init.d/dynhost enable");
        set_wan_address(&rig, "198.51.100.8");
        let reqs = provider.wait_for(2, T);
        assert_eq!(reqs[1].param("myip"), Some("198.51.100.8"));
        rig.wait("the hotplug script's round", T, || {
            rig.logread().contains(
                "daemon.info dynhost: hotplug ifup wan (wan0): dynhost update --interface wan0: exit 0",
            )
        });
        assert_eq!(
            rig.instance_pids("dynhost"),
            Vec::<u32>::new(),
            "no daemon started"
        );
        no_more(&provider, 2, Duration::from_secs(1));
    });
}

/// A record on the logical interface `wan` follows the device the real netifd reports
/// in `ubus call network.interface.wan status` (`l3_device`): `dynhost check` shows the
/// mapping with no note while netifd answers, and the guess from /etc/config/network,
/// with its note, once netifd says wan is down (no `l3_device`). (Only veths can be made
/// here: netifd's bridges and VLANs need kernel modules the test machines lack, so
/// netifd's device has the name the config gives it.)
#[test]
fn a_logical_interface_maps_to_its_device_through_netifd() {
    in_netns(|| {
        let provider = Provider::start();
        let rig = router("l3dev", &provider, true);
        let status = rig.ok("ubus call network.interface.wan status");
        assert!(status.contains("\"l3_device\": \"wan0\""), "{status}");
        let out = rig.sh("dynhost -c /etc/config/dynhost check");
        let (stdout, stderr) = outputs(&out);
        assert!(out.status.success(), "{stdout}{stderr}");
        assert!(
            stdout.contains("interface = \"wan0\"  # OpenWrt interface \"wan\""),
            "{stdout}"
        );
        assert!(
            !stderr.contains("netifd"),
            "no note while netifd answers: {stderr}"
        );
        start(&rig);
        let reqs = provider.wait_for(1, T);
        assert_eq!(reqs[0].param("myip"), Some("203.0.113.7"));
        assert!(rig.logread().contains("watching interfaces: wan0"));
        assert!(!rig.logread().contains("normally gives it"));

        rig.ok("ifdown wan");
        rig.wait("wan down", T, || {
            rig.ok("ubus call network.interface.wan status")
                .contains("\"up\": false")
        });
        let out = rig.sh("dynhost -c /etc/config/dynhost check");
        let (stdout, stderr) = outputs(&out);
        assert!(
            stderr.contains("netifd reports no device for \"wan\" (it is down)"),
            "{stderr}"
        );
        assert!(stdout.contains("interface = \"wan0\""), "{stdout}");
    });
}

/// The first-boot import (uci-defaults) on ddns-scripts' own shipped config, with its
/// two services switched to OVH as LuCI's ddns page would: read with the real `uci`
/// and functions.sh, written with the real `uci`, the passwords in 0600 files, and a
/// config the daemon accepts.
#[test]
fn the_ddns_scripts_import_on_a_real_ddns_config() {
    in_netns(|| {
        let rig = Rig::boot("import");
        // At boot the import found no OVH service in the shipped config.
        assert!(rig.path("etc/config/ddns").exists());
        assert!(!rig.path("etc/uci-defaults/50-dynhost-import-ddns").exists());
        assert_eq!(rig.ok("uci show dynhost | grep -c =record"), "1\n");

        rig.ok("uci set ddns.myddns_ipv4.service_name=ovh.com && \
             uci set ddns.myddns_ipv4.password='pw-Zq8#never-log-me' && \
             uci set ddns.myddns_ipv6.service_name=ovh.com && uci commit ddns");
        // As a package install runs it: into /etc/uci-defaults, run as boot does.
        let script =
            std::fs::read_to_string(root().join("contrib/openwrt/files/dynhost.uci-defaults"))
                .unwrap();
        rig.write("etc/uci-defaults/50-dynhost-import-ddns", &script, 0o644);
        let out = rig.ok(
            "cd /etc/uci-defaults && ( . ./50-dynhost-import-ddns ) && rm -f 50-dynhost-import-ddns",
        );
        assert!(out.contains("imported ddns service 'myddns_ipv4'"), "{out}");
        let show = rig.ok("uci show dynhost");
        for line in [
            "dynhost.ddns_myddns_ipv4=record",
            "dynhost.ddns_myddns_ipv4.enabled='0'",
            "dynhost.ddns_myddns_ipv4.hostname='yourhost.example.com'",
            "dynhost.ddns_myddns_ipv4.username='your_username'",
            "dynhost.ddns_myddns_ipv4.password_file='/etc/dynhost/ddns_myddns_ipv4.secret'",
            "dynhost.ddns_myddns_ipv4.interface='wan'",
            "dynhost.ddns_myddns_ipv4.ipv4='1'",
            "dynhost.ddns_myddns_ipv6.interface='wan6'",
            "dynhost.ddns_myddns_ipv6.ipv4='0'",
            "dynhost.ddns_myddns_ipv6.ipv6='1'",
        ] {
            assert!(show.lines().any(|l| l == line), "{line} not in:\n{show}");
        }
        assert_no_secret("uci show dynhost", &show);
        assert_eq!(
            rig.ok("stat -c %a /etc/dynhost/ddns_myddns_ipv4.secret")
                .trim(),
            "600"
        );
        assert_eq!(
            rig.read("etc/dynhost/ddns_myddns_ipv4.secret"),
            format!("{PASSWORD}\n")
        );
        rig.wait("the import's log line", T, || {
            rig.logread()
                .contains("daemon.notice dynhost: imported ddns service 'myddns_ipv4'")
        });
        rig.ok("dynhost -c /etc/config/dynhost check");
        assert!(!rig.path("etc/uci-defaults/50-dynhost-import-ddns").exists());
    });
}

/// Each line at its level in the real logread: a transient failure as a warning, the
/// publication as info, a refusal as an error; and no other line of the daemon's is an
/// error (procd logs an instance's stderr as daemon.err: the daemon logs to logd
/// itself).
#[test]
fn logread_shows_each_line_at_its_level() {
    in_netns(|| {
        let provider = Provider::start();
        let rig = router("logs", &provider, true);
        provider.set_default_for("flaky.example.com", Reply::Text(200, "911".into()));
        provider.set_default_for("work.example.com", Reply::Text(200, "badauth".into()));
        for name in ["flaky", "work"] {
            rig.ok(&format!(
                "uci set dynhost.{name}=record && \
                 uci set dynhost.{name}.hostname={name}.example.com && \
                 uci set dynhost.{name}.username=example.com-{name} && \
                 uci set dynhost.{name}.password_file=/etc/dynhost/home.secret && \
                 uci set dynhost.{name}.interface=wan && uci commit dynhost"
            ));
        }
        start(&rig);
        provider.wait_for(3, T);
        rig.wait("the three outcomes logged", T, || {
            let log = rig.logread();
            ["published", "will retry", "update refused"]
                .iter()
                .all(|n| log.contains(n))
        });
        let log = rig.logread();
        let ours: Vec<&str> = log.lines().filter(|l| l.contains(" dynhost[")).collect();
        let level = |needle: &str| -> Vec<&str> {
            ours.iter()
                .filter(|l| l.contains(needle))
                .map(|l| l.split_whitespace().nth(5).unwrap_or(""))
                .collect()
        };
        assert_eq!(
            level("update failed; will retry"),
            vec!["daemon.warn"],
            "{log}"
        );
        assert!(
            level("published").iter().all(|l| *l == "daemon.info"),
            "{log}"
        );
        assert!(!level("published").is_empty(), "{log}");
        assert_eq!(level("update refused"), vec!["daemon.err"], "{log}");
        let errors: Vec<&&str> = ours.iter().filter(|l| l.contains("daemon.err")).collect();
        assert_eq!(errors.len(), 1, "only the refusal is an error:\n{log}");
        assert!(ours.iter().any(|l| l.contains("daemon.info")), "{log}");
        assert_no_secret("logread", &log);
    });
}

/// What the real procd holds for the service: the instance's command line, its
/// reload signal and environment, and the values its triggers test (config packages,
/// then interfaces), each from `ubus call service list`.
struct Procd {
    command: Vec<String>,
    reload_signal: String,
    env: String,
    triggers: Vec<String>,
}

fn procd_view(rig: &Rig) -> Procd {
    let q = |path: &str| -> Vec<String> {
        rig.ok(&format!(
            "ubus call service list '{{\"name\":\"dynhost\",\"verbose\":true}}' | \
             jsonfilter -e '{path}' || true"
        ))
        .lines()
        .map(str::to_string)
        .collect()
    };
    Procd {
        command: q("@.dynhost.instances.instance1.command[*]"),
        reload_signal: q("@.dynhost.instances.instance1.reload_signal").join(""),
        env: q("@.dynhost.instances.instance1.env").join(""),
        triggers: q("@.dynhost.triggers[*][1][1][2]"),
    }
}

const UCI_RECORDS: &str = "config dynhost 'global'
\toption debounce '1s'

config record 'home'
\toption enabled '1'
\toption hostname 'home.example.com'
\toption username 'example.com-home'
\toption password_file '/etc/dynhost/home.secret'
\toption interface 'wan'

config record 'home6'
\toption hostname 'home.example.com'
\toption username 'example.com-home'
\toption password_file '/etc/dynhost/home.secret'
\toption interface 'wan6'
\toption ipv4 '0'
\toption ipv6 '1'

config record 'office'
\toption enabled '0'
\toption hostname 'office.example.com'
\toption username 'example.com-office'
\toption password_file '/etc/dynhost/home.secret'
\toption interface 'lan'
";

/// wan, wan6 with DHCPv6 on '@wan', a lan, a VLAN interface with its own IPv6 one.
const NETWORK: &str = "config interface 'loopback'
\toption device 'lo'
\toption proto 'static'
\toption ipaddr '127.0.0.1'
\toption netmask '255.0.0.0'

config interface 'wan'
\toption device 'wan0'
\toption proto 'static'
\toption ipaddr '203.0.113.7'
\toption netmask '255.255.255.0'

config interface 'wan6'
\toption device '@wan'
\toption proto 'dhcpv6'

config interface 'lan'
\toption device 'br-lan'
\toption proto 'static'

config interface 'vlan'
\toption device 'eth0.2'
\toption proto 'dhcp'

config interface 'vlan6'
\toption device 'eth0.2'
\toption proto 'dhcpv6'
";

/// The init script under the real rc.common, procd.sh and procd: the instance runs
/// `dynhost -c /etc/config/dynhost run` with SIGHUP as its reload signal and its own
/// syslog priorities; the triggers cover both config files and every interface that
/// concerns an enabled record (wan once although two records follow it, wan6 on
/// '@wan', wan_6/wan_4 that netifd makes on top, wan6's own), not lan (its record is
/// disabled). A reload keeps the same process; `rescan` sends it SIGHUP.
#[test]
fn procd_holds_the_instance_and_a_trigger_for_every_related_interface() {
    in_netns(|| {
        let rig = Rig::boot("procd");
        rig.write("etc/config/network", NETWORK, 0o644);
        rig.write("etc/config/dynhost", UCI_RECORDS, 0o600);
        rig.write("etc/dynhost/home.secret", "pw\n", 0o600);
        let pid = start(&rig);
        let p = procd_view(&rig);
        assert_eq!(
            p.command,
            ["/usr/bin/dynhost", "-c", "/etc/config/dynhost", "run"]
        );
        assert_eq!(p.reload_signal, "1");
        assert!(p.env.contains("\"DYNHOST_SYSLOG\": \"1\""), "{}", p.env);
        assert_eq!(
            p.triggers,
            [
                "dynhost", "network", "wan", "wan6", "wan_6", "wan_4", "wan6_6", "wan6_4"
            ]
        );
        rig.ok("/etc/init.d/dynhost reload");
        assert_eq!(rig.instance_pids("dynhost"), vec![pid], "{}", rig.logread());
        rig.ok("/etc/init.d/dynhost rescan");
        rig.wait("SIGHUP from rescan", T, || {
            rig.logread().contains("SIGHUP: config loaded")
        });
        assert_eq!(rig.instance_pids("dynhost"), vec![pid]);

        // A record on a device name follows the interfaces on that device.
        rig.write(
            "etc/config/dynhost",
            "config record\n\toption hostname 'h.example.com'\n\
             \toption username 'example.com-h'\n\toption password_file '/etc/dynhost/home.secret'\n\
             \toption interface 'eth0.2'\n",
            0o600,
        );
        rig.ok("/etc/init.d/dynhost restart");
        let p = procd_view(&rig);
        assert_eq!(
            p.triggers,
            [
                "dynhost", "network", "eth0.2", "vlan", "vlan6", "vlan_6", "vlan_4", "vlan6_6",
                "vlan6_4"
            ]
        );
    });
}

/// Records as the hotplug tests need them (no login: only the scripts read them).
const HOTPLUG_RECORDS: &str = "config dynhost 'global'
\toption debounce '1s'

config record 'home'
\toption enabled '1'
\toption hostname 'home.example.com'
\toption interface 'wan'

config record 'home6'
\toption hostname 'home.example.com'
\toption interface 'wan6'
\toption ipv4 '0'
\toption ipv6 '1'

config record 'office'
\toption enabled '0'
\toption hostname 'office.example.com'
\toption interface 'lan'

config record
\toption enabled 'yes'
\toption hostname 'other.example.com'
\toption interface 'wan'
";

/// A PPPoE wan with DHCPv6 on top (wan6 on '@wan'), a lan bridge, a VLAN interface.
/// Written for the scripts to read; netifd is not asked to apply it.
const PPPOE_NETWORK: &str = "config interface 'loopback'
\toption device 'lo'
\toption proto 'static'

config interface 'lan'
\toption device 'br-lan'
\toption proto 'static'

config interface 'wan'
\toption device 'wan'
\toption proto 'pppoe'

config interface 'wan6'
\toption device '@wan'
\toption proto 'dhcpv6'

config interface 'vlan'
\toption device 'eth0.2'
\toption proto 'dhcp'

config interface 'vlan6'
\toption device 'eth0.2'
\toption proto 'dhcpv6'
";

/// The real `hotplug-call iface` with netifd's variables, the package's hotplug script
/// calling the recording fake dynhost (tests/support/fakebin/dynhost, at /tmp in the
/// router) instead of the binary; `exit` is what the fake answers ("" for 0). Runs
/// until everything it started is over; the calls it made.
fn hotplug(rig: &Rig, vars: &[(&str, &str)], exit: &str) -> Vec<Call> {
    let _ = std::fs::remove_file(rig.path("tmp/calls"));
    let mut argv: Vec<String> = vec![
        "env".into(),
        "FAKE_DYNHOST_LOG=/tmp/calls".into(),
        "DYNHOST_BIN=/tmp/fake-dynhost".into(),
    ];
    if !exit.is_empty() {
        rig.write("tmp/exit", &format!("#!/bin/sh\nexit {exit}\n"), 0o755);
        argv.push("FAKE_DYNHOST_EXEC=/tmp/exit".into());
    }
    argv.extend(vars.iter().map(|(k, v)| format!("{k}={v}")));
    argv.extend(["/sbin/hotplug-call".into(), "iface".into()]);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    run_hook_to_end(rig.command(&argv), &format!("hotplug-call iface {vars:?}"));
    calls(&rig.path("tmp/calls"))
}

fn install_fake_dynhost(rig: &Rig) {
    let fake = std::fs::read_to_string(fake_dynhost()).unwrap();
    rig.write("tmp/fake-dynhost", &fake, 0o755);
}

/// The hotplug script under the real hotplug-call (with netifd's own 00-netstate and
/// another package's script before ours), functions.sh, uci and rc.common: it acts on
/// ifup, and on ifupdate with new addresses or prefixes, of every interface that
/// concerns an enabled record (wan, wan6 on '@wan', wan_6), never while the service is
/// disabled, and never on other actions or interfaces. (netifd itself sends ifup on a
/// veth in the scenarios above; PPPoE and DHCPv6 cannot run here, so their events are
/// given as netifd would give them.)
#[test]
fn the_hotplug_script_acts_on_every_interface_of_a_followed_device_and_only_when_enabled() {
    in_netns(|| {
        let rig = Rig::boot("hotplug");
        rig.write("etc/config/dynhost", HOTPLUG_RECORDS, 0o600);
        rig.write("etc/config/network", PPPOE_NETWORK, 0o644);
        rig.write("etc/hotplug.d/iface/20-other", "exit 1\n", 0o644);
        install_fake_dynhost(&rig);
        let up = |dev: &str| Some(format!("[-q] [update] [--interface] [{dev}]"));
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<String>);
        let ppp = "pppoe-wan";
        let cases: &[Case] = &[
            (
                &[("ACTION", "ifup"), ("INTERFACE", "wan"), ("DEVICE", ppp)],
                up(ppp),
            ),
            (
                &[("ACTION", "ifup"), ("INTERFACE", "wan6"), ("DEVICE", ppp)],
                up(ppp),
            ),
            (
                &[("ACTION", "ifup"), ("INTERFACE", "wan_6"), ("DEVICE", ppp)],
                up(ppp),
            ),
            (
                &[
                    ("ACTION", "ifupdate"),
                    ("INTERFACE", "wan6"),
                    ("DEVICE", ppp),
                    ("IFUPDATE_ADDRESSES", "1"),
                ],
                up(ppp),
            ),
            (
                &[
                    ("ACTION", "ifupdate"),
                    ("INTERFACE", "wan_6"),
                    ("DEVICE", ppp),
                    ("IFUPDATE_PREFIXES", "1"),
                    ("IFUPDATE_ROUTES", "1"),
                ],
                up(ppp),
            ),
            (
                &[
                    ("ACTION", "ifupdate"),
                    ("INTERFACE", "wan"),
                    ("DEVICE", ppp),
                    ("IFUPDATE_ROUTES", "1"),
                    ("IFUPDATE_DATA", "1"),
                ],
                None,
            ),
            (
                &[
                    ("ACTION", "ifupdate"),
                    ("INTERFACE", "wan"),
                    ("DEVICE", ppp),
                ],
                None,
            ),
            (&[("ACTION", "ifdown"), ("INTERFACE", "wan")], None),
            (
                &[("ACTION", "ifdown"), ("INTERFACE", "wan"), ("DEVICE", ppp)],
                None,
            ),
            (&[("ACTION", "ifup-failed"), ("INTERFACE", "wan")], None),
            (
                &[("ACTION", "iflink"), ("INTERFACE", "wan"), ("DEVICE", ppp)],
                None,
            ),
            (
                &[
                    ("ACTION", "ifup"),
                    ("INTERFACE", "lan"),
                    ("DEVICE", "br-lan"),
                ],
                None,
            ),
            (
                &[
                    ("ACTION", "ifup"),
                    ("INTERFACE", "guest"),
                    ("DEVICE", "br-guest"),
                ],
                None,
            ),
        ];
        // Disabled (no /etc/rc.d/S95dynhost): nothing, as with ddns-scripts.
        assert_eq!(hotplug(&rig, cases[0].0, ""), vec![], "disabled");
        rig.ok("/etc/init.d/dynhost enable");
        for (vars, expect) in cases {
            let got = hotplug(&rig, vars, "");
            match expect {
                Some(argv) => {
                    assert_eq!(got.len(), 1, "{vars:?}: {got:?}");
                    assert_eq!(&got[0].argv, argv, "{vars:?}");
                    assert_eq!(got[0].config, "/etc/config/dynhost", "{vars:?}");
                }
                None => assert_eq!(got, vec![], "{vars:?}"),
            }
        }
    });
}

/// An interface that came up on a device the running daemon does not follow (its
/// device was guessed while netifd could not tell): the hotplug script asks for a
/// rescan, which procd turns into SIGHUP for the same process; when the daemon does
/// follow it (exit 0), nothing more.
#[test]
fn the_hotplug_script_asks_for_a_rescan_when_the_daemon_follows_another_device() {
    in_netns(|| {
        let provider = Provider::start();
        let rig = Rig::boot("rescan");
        rig.write(
            "etc/config/network",
            "config interface 'lte'\n\toption proto 'qmi'\n\toption device '/dev/cdc-wdm0'\n",
            0o644,
        );
        rig.write("etc/dynhost/home.secret", "pw\n", 0o600);
        rig.write(
            "etc/config/dynhost",
            &format!(
                "config dynhost 'global'\n\toption url '{}'\n\n\
                 config record\n\toption hostname 'h.example.com'\n\
                 \toption username 'example.com-h'\n\
                 \toption password_file '/etc/dynhost/home.secret'\n\toption interface 'lte'\n",
                provider.url()
            ),
            0o600,
        );
        let pid = start(&rig);
        install_fake_dynhost(&rig);
        let vars = [
            ("ACTION", "ifup"),
            ("INTERFACE", "lte_4"),
            ("DEVICE", "wwan0"),
        ];
        let got = hotplug(&rig, &vars, "3");
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].exit, Some(3));
        rig.wait("the rescan's SIGHUP", T, || {
            rig.logread().contains("SIGHUP: config loaded")
        });
        assert!(
            rig.logread()
                .contains("asked the daemon to take netifd's device for lte_4"),
            "{}",
            rig.logread()
        );
        assert_eq!(rig.instance_pids("dynhost"), vec![pid]);
        let got = hotplug(&rig, &vars, "");
        assert_eq!(got[0].exit, Some(0));
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(rig.logread().matches("SIGHUP: config loaded").count(), 1);
    });
}

/// The scripts' guess of a logical interface's device (dynhost.sh, through the real
/// config_load) and dynhost's own (src/config/uci/network.rs) agree, interface by
/// interface.
#[test]
fn the_scripts_and_dynhost_guess_the_same_devices() {
    in_netns(|| {
        let rig = Rig::boot("guess");
        let network = format!(
            "{PPPOE_NETWORK}\nconfig interface 'iot'\n\toption ifname 'eth1 eth2'\n\toption proto 'dhcp'\n\n\
             config interface 'old'\n\toption type 'bridge'\n\toption proto 'static'\n\n\
             config interface 'vpn'\n\toption proto 'wireguard'\n\n\
             config interface 'aftr'\n\toption proto 'dslite'\n\n\
             config interface 'tun'\n\toption proto '6in4'\n\n\
             config interface 'clat'\n\toption proto '464xlat'\n\n\
             config interface 'lte'\n\toption proto 'qmi'\n\toption device '/dev/cdc-wdm0'\n"
        );
        rig.write("etc/config/network", &network, 0o644);
        let (sections, problems) = dynhost::config::uci::parse(&network);
        assert!(problems.is_empty(), "{problems:?}");
        let names: Vec<String> = sections
            .iter()
            .filter(|s| s.kind == "interface")
            .filter_map(|s| s.name.clone())
            .collect();
        assert!(names.len() >= 12);
        let shell = rig.ok(&format!(
            ". /lib/functions.sh; . /usr/lib/dynhost/openwrt.sh; config_load network; \
             for i in {}; do printf '%s=%s\\n' \"$i\" \"$(dynhost_guess_device \"$i\")\"; done",
            names.join(" ")
        ));
        for name in &names {
            let rust = match dynhost::config::uci::device_of(&sections, name) {
                Some(Ok(dev)) => dev,
                _ => String::new(),
            };
            assert!(
                shell.lines().any(|l| l == format!("{name}={rust}")),
                "{name}: dynhost guesses {rust:?}; the scripts say:\n{shell}"
            );
        }
    });
}

/// What the init script sees through the real config_load (`uci -S -n export`) is what
/// dynhost reads: on valid files both count the same enabled records and procd gets an
/// instance exactly when one is enabled; where uci would silently read something else
/// (a refused section name merges into the previous section), dynhost refuses the file
/// with the line.
#[test]
fn the_init_script_and_dynhost_read_the_same_records() {
    in_netns(|| {
        let rig = Rig::boot("agree");
        let record = |name: &str, on: &str, host: &str| {
            format!(
                "config record {name}\n\toption enabled '{on}'\n\toption hostname '{host}'\n\
                 \toption username 'example.com-x'\n\toption password 'pw'\n\toption interface 'eth0'\n"
            )
        };
        let cases: Vec<(String, Option<usize>)> = vec![
            (record("'a'", "1", "a.example.com") + &record("'b'", "1", "b.example.com"), Some(2)),
            (record("", "1", "a.example.com") + &record("", "0", "b.example.com"), Some(1)),
            (record("'a'", "0", "a.example.com") + &record("'a'", "1", "a.example.com"), Some(1)),
            (record("'a'", "0", "a.example.com") + &record("'b'", "0", "b.example.com"), Some(0)),
            (
                "c record 'a'; o enabled 1\n\to hostname \"a.example\\\n.com\"\n\to username 'example.com-x'\n\
                 \to password pw\n\to interface eth0 # comment\n"
                    .into(),
                Some(1),
            ),
            (record("'a'", "0", "a.example.com") + &record("'my-home'", "1", "b.example.com"), None),
            (record("'a'", "1", "a.example.com") + "\toption x 'y' 'z'\n", None),
        ];
        for (text, want) in cases {
            rig.write("etc/config/dynhost", &text, 0o600);
            let export = rig.ok("uci -S -n -q export dynhost");
            rig.ok("/etc/init.d/dynhost stop; /etc/init.d/dynhost start");
            let started = !procd_view(&rig).command.is_empty();
            let out = rig.sh("dynhost -c /etc/config/dynhost check");
            let (o, e) = outputs(&out);
            match want {
                Some(n) => {
                    assert_eq!(out.status.code(), Some(0), "{text}\n{o}{e}");
                    assert!(o.contains(&format!("{n} enabled")), "{text}\n{o}{e}");
                    let (mine, _) = dynhost::config::uci::parse(&text);
                    for s in mine.iter().filter(|s| s.kind == "record") {
                        for opt in &s.options {
                            let v = &opt.values[0].0;
                            let quoted =
                                format!("\toption {} '{}'", opt.name, v.replace('\'', "'\\''"));
                            assert!(
                                export.contains(&quoted),
                                "{quoted:?} in uci's export:\n{export}"
                            );
                        }
                    }
                    assert_eq!(started, n > 0, "the init script starts it: {text}");
                }
                None => {
                    assert_eq!(out.status.code(), Some(78), "{text}\n{o}{e}");
                    assert!(e.contains("dynhost:"), "{e}");
                }
            }
        }
        rig.ok("/etc/init.d/dynhost stop");
        // No config file at all: nothing to start either.
        rig.ok("rm /etc/config/dynhost");
        let out = rig.sh("/etc/init.d/dynhost start");
        assert!(out.status.success());
        assert!(outputs(&out).1.contains("no enabled record"), "{out:?}");
        assert!(procd_view(&rig).command.is_empty());
    });
}

/// ddns-scripts' ovh.com services become disabled dynhost records, once, with a word
/// about each; other services are left alone; under the real uci and functions.sh.
#[test]
fn the_ddns_import_cases() {
    in_netns(|| {
        let rig = Rig::boot("import-cases");
        rig.write(
            "etc/config/ddns",
            "config ddns 'global'\n\toption upd_privateip '0'\n\n\
             config service 'myddns_ipv4'\n\toption service_name 'ovh.com'\n\toption enabled '1'\n\
             \toption domain 'home.example.com'\n\toption username 'example.com-home'\n\
             \toption password 'it'\\''s secret'\n\toption interface 'wan'\n\toption ip_source 'network'\n\
             \toption ip_network 'wan'\n\n\
             config service 'myddns_ipv6'\n\toption service_name 'ovh.com'\n\toption use_ipv6 '1'\n\
             \toption domain 'home.example.com'\n\toption username 'example.com-home6'\n\
             \toption password 'pw6'\n\toption interface 'wan6'\n\toption ip_source 'web'\n\n\
             config service 'other'\n\toption service_name 'no-ip.com'\n\toption domain 'x.example.net'\n\
             \toption username 'u'\n\toption password 'p'\n\n\
             config service 'broken'\n\toption service_name 'ovh.com'\n\toption domain 'y.example.com'\n",
            0o600,
        );
        let script =
            std::fs::read_to_string(root().join("contrib/openwrt/files/dynhost.uci-defaults"))
                .unwrap();
        let run = || {
            rig.write("etc/uci-defaults/50-dynhost-import-ddns", &script, 0o644);
            rig.ok("cd /etc/uci-defaults && ( . ./50-dynhost-import-ddns ) && \
                 rm -f 50-dynhost-import-ddns")
        };
        let said = run();
        assert!(said.contains("imported ddns service 'myddns_ipv4' as record 'ddns_myddns_ipv4' (home.example.com, IPv4, interface wan), disabled"), "{said}");
        assert!(said.contains("'myddns_ipv6' as record 'ddns_myddns_ipv6' (home.example.com, IPv6, interface wan6) (ddns-scripts took the address from ip_source 'web'"), "{said}");
        assert!(said.contains("'broken' (ovh.com) not imported"), "{said}");
        assert!(!said.contains("'other'"), "{said}");
        let out = rig.sh("dynhost -c /etc/config/dynhost check");
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        // The shipped record and the two imported ones.
        assert!(
            outputs(&out).0.contains("OK, 3 record(s), 0 enabled"),
            "{out:?}"
        );
        assert_eq!(
            rig.read("etc/dynhost/ddns_myddns_ipv4.secret"),
            "it's secret\n"
        );
        assert_eq!(
            rig.ok("stat -c %a /etc/dynhost/ddns_myddns_ipv4.secret")
                .trim(),
            "600"
        );
        // Enabled, the records are what ddns-scripts had.
        rig.ok("uci set dynhost.ddns_myddns_ipv4.enabled=1 && \
             uci set dynhost.ddns_myddns_ipv6.enabled=1 && uci commit dynhost");
        let o = rig.ok("dynhost -c /etc/config/dynhost check");
        assert!(
            o.contains("hostname = \"home.example.com\"")
                && o.contains("username = \"example.com-home6\""),
            "{o}"
        );
        // Run again (a sysupgrade runs uci-defaults again): nothing new.
        let text = rig.read("etc/config/dynhost");
        let said = run();
        assert!(!said.contains("imported ddns"), "{said}");
        assert_eq!(rig.read("etc/config/dynhost"), text);
    });
}

/// The stand-ins that tests/hooks.rs still runs the hotplug script under
/// (tests/support/openwrt: functions.sh over the `uci` stand-in) read a file as the
/// real functions.sh and uci do: list options in the _ITEMn/_LENGTH variables and the
/// joined one, anonymous sections under uci's own names, and a second config_load
/// forgetting the first one's lists. The same script, the same lines, both ways.
#[test]
fn the_uci_stand_in_reads_as_the_real_uci() {
    let network = "config device\n\toption name 'br-lan'\n\tlist ports 'lan1'\n\tlist ports 'lan 2'\n\n\
                   config interface 'lan'\n\toption device 'br-lan'\n";
    let body = "config_load network; \
         s=${CONFIG_SECTIONS%% *}; \
         config_get n \"$s\" ports_LENGTH; config_get a \"$s\" ports_ITEM1; config_get b \"$s\" ports_ITEM2; \
         config_get all \"$s\" ports; config_get t \"$s\" TYPE; \
         printf '%s|%s|%s|%s|%s|%s|%s\\n' \"$s\" \"$t\" \"$n\" \"$a\" \"$b\" \"$all\" \"$CONFIG_SECTIONS\"; \
         each() { printf '[%s]' \"$1\"; }; config_list_foreach \"$s\" ports each; echo; \
         config_load empty; config_get n \"$s\" ports_LENGTH; echo \"after: [$n] $CONFIG_SECTIONS\"";
    let standin = {
        let r = Router::new("config-load");
        r.write_config("network", network);
        r.write_config("empty", "config x 'y'\n");
        let mut cmd = Command::new(busybox());
        cmd.args([
            "ash",
            "-c",
            &format!(". {}/functions.sh; {body}", openwrt_standin("").display()),
        ]);
        r.env(&mut cmd);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        outputs(&out).0
    };
    let real = in_netns(move || {
        let rig = Rig::boot("config-load");
        rig.write("etc/config/network", network, 0o644);
        rig.write("etc/config/empty", "config x 'y'\n", 0o644);
        rig.ok(&format!(". /lib/functions.sh; {body}"))
    });
    let name = real.split('|').next().unwrap().to_string();
    assert!(name.starts_with("cfg0") && name.len() == 9, "{real}");
    assert_eq!(
        real.lines().collect::<Vec<_>>(),
        [
            format!("{name}|device|2|lan1|lan 2|lan1 lan 2|{name} lan").as_str(),
            "[lan1][lan 2]",
            "after: [] y"
        ],
        "the real uci"
    );
    assert_eq!(standin, real, "the stand-in and the real uci");
}

/// docs/install.md's table of what runs against the real runtime names tests that exist.
#[test]
fn the_install_guide_names_real_openwrt_tests() {
    let guide = std::fs::read_to_string(root().join("docs/install.md")).unwrap();
    let this = std::fs::read_to_string(root().join("tests/openwrt.rs")).unwrap();
    let table = guide
        .split("| What | Test (`tests/openwrt.rs`) |")
        .nth(1)
        .expect("the table of tests/openwrt.rs in docs/install.md");
    let mut named = 0;
    for row in table.lines().skip(1).take_while(|l| l.starts_with('|')) {
        let cell = row.rsplit('|').nth(1).unwrap();
        for name in cell.split('`').skip(1).step_by(2) {
            assert!(
                this.contains(&format!("fn {name}()")),
                "docs/install.md names {name}"
            );
            named += 1;
        }
    }
    assert!(named >= 12, "{named} tests named");
}

/// Without the vendored sources the build says where it looked and how to name them.
#[test]
fn the_build_says_where_the_sources_are_missing() {
    let dir = support::agent::Scratch::new("openwrt-nosrc");
    let out = Command::new(root().join("tests/openwrt/build"))
        .env("DYNHOST_OPENWRT_SRC", dir.join("none.tar.xz"))
        .env("DYNHOST_OPENWRT_ROOTFS", dir.join("rootfs"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let e = outputs(&out).1;
    assert!(
        e.contains("sources are missing") && e.contains("none.tar.xz"),
        "{e}"
    );
    assert!(
        e.contains("DYNHOST_OPENWRT_SRC") && e.contains("shared/vendor"),
        "{e}"
    );
    assert!(!dir.join("rootfs").exists());
}

/// The rig installs the package as contrib/openwrt/Makefile's install recipe does (run
/// under the stand-in SDK by support::openwrt::Router): the same files, modes and
/// contents, but for what the rig leaves out (the man page and completions, made at
/// build time) and the uci-defaults script, which the first boot ran and deleted.
#[test]
fn the_rig_installs_the_package_as_its_makefile_does() {
    use std::os::unix::fs::PermissionsExt;
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(root).unwrap().display().to_string());
            if p.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let r = Router::new("makefile-vs-rig");
    let mut paths = Vec::new();
    walk(&r.root, &r.root, &mut paths);
    let skip = [
        "usr/share/man",
        "usr/share/bash-completion",
        "etc/uci-defaults",
        "etc/rc.d",
        "sbin",
    ];
    paths.retain(|p| {
        !skip
            .iter()
            .any(|s| p == s || p.starts_with(&format!("{s}/")))
    });
    paths.retain(|p| {
        ![
            "usr",
            "usr/share",
            "usr/bin",
            "usr/lib",
            "etc",
            "etc/config",
            "etc/init.d",
            "etc/hotplug.d",
        ]
        .contains(&p.as_str())
    });
    paths.sort();
    assert!(paths.len() >= 7, "{paths:?}");
    let rig = in_netns(|| Rig::boot("makefile"));
    for p in &paths {
        let want = r.root.join(p);
        let got = rig.path(p);
        let mode = |f: &std::path::Path| {
            std::fs::metadata(f)
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()))
                .permissions()
                .mode()
                & 0o7777
        };
        assert_eq!(mode(&got), mode(&want), "mode of /{p}");
        if want.is_file() {
            assert!(
                std::fs::read(&got).unwrap() == std::fs::read(&want).unwrap(),
                "/{p} differs from what the Makefile installs"
            );
        }
    }
    let script = rig.read("etc/init.d/dynhost");
    assert!(script.starts_with("#!/bin/sh /etc/rc.common\n"));
}
