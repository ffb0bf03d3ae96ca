//! The configuration from the environment (`DYNHOST_*` variables) that the container
//! image relies on, through the real binary. The image itself is tested by
//! tests/container.rs (podman), in .ci/run's container step.

mod support;

use std::process::Command;

use support::agent::{BIN, PASSWORD, Scratch, assert_no_secret};
use support::netns::{bridge, in_netns, ip};

/// The environment's config through the real binary: `check` restates it, the secret
/// redacted, and an inline secret is warned about.
#[test]
fn check_restates_the_environment_config_without_its_secret() {
    let dir = Scratch::new("env-check");
    let pw = dir.join("password");
    std::fs::write(&pw, format!("{PASSWORD}\n")).unwrap();
    let run = |extra: &[(&str, &str)]| {
        let mut c = Command::new(BIN);
        c.arg("check")
            .env_remove("DYNHOST_CONFIG")
            .env("DYNHOST_RECORD_HOSTNAME", "home.example.com")
            .env("DYNHOST_RECORD_USERNAME", "example.com-test")
            .env("DYNHOST_RECORD_INTERFACE", "eth0")
            .env("DYNHOST_DEBOUNCE", "3s")
            .env("DYNHOST_STATE_DIR", dir.join("state"));
        for (k, v) in extra {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let out = run(&[("DYNHOST_RECORD_PASSWORD_FILE", pw.to_str().unwrap())]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.starts_with("# environment (DYNHOST_* variables): OK, 1 record(s)"),
        "{stdout}"
    );
    assert!(stdout.contains("debounce = \"3s\""), "{stdout}");
    assert!(stdout.contains("# read: 19 bytes"), "{stdout}");
    assert_no_secret("check's output", &format!("{stdout}{stderr}"));

    let out = run(&[("DYNHOST_RECORD_PASSWORD", PASSWORD)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("use DYNHOST_RECORD_PASSWORD_FILE").count(),
        1,
        "{stderr}"
    );
    assert_no_secret("check's output", &stderr);

    let out = run(&[("DYNHOST_VERIFY_ENABLED", "maybe")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains("environment: DYNHOST_VERIFY_ENABLED: expected true or false"),
        "{stderr}"
    );
}

/// A record following its own veth (a container on a bridge network) with the
/// interface source gets one warning pointing at the other sources.
#[test]
fn a_record_on_a_bridge_networks_veth_is_warned_about_once() {
    let dir = Scratch::new("env-veth");
    let (out, plain) = in_netns(move || {
        ip(&[
            "link", "add", "eth0", "type", "veth", "peer", "name", "host0",
        ]);
        ip(&["addr", "add", "10.88.0.5/16", "dev", "eth0"]);
        ip(&["link", "set", "eth0", "up"]);
        bridge("br0");
        ip(&["addr", "add", "10.0.0.2/24", "dev", "br0"]);
        let check = |iface: &str| {
            Command::new(BIN)
                .arg("check")
                .env_remove("DYNHOST_CONFIG")
                .env("DYNHOST_RECORD_HOSTNAME", "home.example.com")
                .env("DYNHOST_RECORD_USERNAME", "example.com-test")
                .env("DYNHOST_RECORD_PASSWORD", PASSWORD)
                .env("DYNHOST_RECORD_INTERFACE", iface)
                .env("DYNHOST_STATE_DIR", dir.join("state"))
                .output()
                .unwrap()
        };
        (check("eth0"), check("br0"))
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("is a veth with the private address").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("10.88.0.5"), "{stderr}");
    assert!(
        stderr.contains("DYNHOST_RECORD_IPV4_SOURCE=gateway,web"),
        "{stderr}"
    );
    // A bridge with a private address is not a veth: no such warning.
    let stderr = String::from_utf8_lossy(&plain.stderr);
    assert!(!stderr.contains("veth"), "{stderr}");
}
