//! The OpenWrt package against OpenWrt's real runtime: procd (with the real rc.common
//! and procd.sh), netifd, ubus, uci, hotplug-call, logd and logread, built from the
//! vendored sources and booted in namespaces by tests/openwrt/ (support::openwrt::rig).
//! Each test boots its own router (about 1 s) inside its own network namespace, where
//! the loopback provider runs too.

mod support;

use std::time::Duration;

use support::agent::{PASSWORD, assert_no_secret};
use support::netns::in_netns;
use support::openwrt::rig::Rig;
use support::provider::{Provider, Reply};
use support::repo::root;

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
    rig.wait("dynhost's procd instance", T, || {
        !rig.instance_pids("dynhost").is_empty()
    });
    rig.instance_pids("dynhost")[0]
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

/// `/etc/init.d/dynhost enable` and `start` with no enabled record: nothing runs (and the
/// init script says why); enabling the record in UCI then starts it through procd's
/// config trigger (`reload_config`), and it publishes wan's address once.
#[test]
fn enable_and_start_without_an_enabled_record_then_enable_it_in_uci() {
    in_netns(|| {
        let provider = Provider::start();
        let rig = router("enable", &provider, false);
        let out = rig.sh("/etc/init.d/dynhost enable && /etc/init.d/dynhost start");
        assert!(out.status.success(), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("no enabled record"),
            "{out:?}"
        );
        assert!(rig.path("etc/rc.d/S95dynhost").exists(), "enabled at boot");
        rig.ok("/etc/init.d/dynhost enabled");
        assert_eq!(rig.instance_pids("dynhost"), Vec::<u32>::new());
        no_more(&provider, 0, Duration::from_millis(500));

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
