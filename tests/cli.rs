//! The command line: exit codes, `check`, `status`, the one-shot `update`, dry runs
//! and the embedded default. Network cases run in a private network namespace.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use support::agent::{Agent, BIN, PASSWORD, Scratch, record, run, settle, text, write_config};
use support::netns::{bridge, in_netns, ip};
use support::provider::Reply;
use support::scene::Scene;

const T: Duration = Duration::from_secs(10);

/// One record on `ppp0` and a provider URL that nothing listens on: for commands that
/// must not send.
fn offline_config(name: &str) -> (Scratch, PathBuf) {
    let dir = Scratch::new(name);
    let cfg = write_config(
        &dir,
        "http://127.0.0.1:1/nic/update",
        &record("home.example.com", "ppp0", ""),
    );
    (dir, cfg)
}

#[test]
fn check_reports_every_error_with_file_line_and_key() {
    let dir = Scratch::new("check-bad");
    let path = dir.join("config.toml");
    std::fs::write(
        &path,
        "debounce = \"soon\"\nstate_dri = \"/x\"\n\n[[record]]\nhostname = \"home\"\n\
         username = \"u\"\npassword = \"p\"\ninterface = \"ppp0\"\nipv6 = 1\n",
    )
    .unwrap();
    let out = run(&path, &["check"]);
    assert_eq!(out.status.code(), Some(78));
    let (_, err) = text(&out);
    let p = path.display();
    for needle in [
        format!("{p}:1:12: debounce:"),
        format!("{p}:2:1: state_dri: unknown key; did you mean `state_dir`?"),
        format!("{p}:5:12: record[1].hostname:"),
        format!("{p}:9:8: record[1].ipv6: expected true or false"),
    ] {
        assert!(err.contains(&needle), "missing {needle:?} in:\n{err}");
    }
    assert!(err.contains("4 errors"), "{err}");
}

#[test]
fn check_prints_the_effective_config_without_the_password() {
    let (_dir, cfg) = offline_config("check-good");
    let out = run(&cfg, &["check"]);
    assert_eq!(out.status.code(), Some(0));
    let (stdout, stderr) = text(&out);
    assert!(stdout.contains("debounce = \"1s\""), "{stdout}");
    assert!(stdout.contains("password = \"<redacted>\""), "{stdout}");
    assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD));
}

#[test]
fn a_missing_config_file_is_a_configuration_error() {
    let out = Command::new(BIN)
        .args(["check"])
        .env("DYNHOST_CONFIG", "/nonexistent/dynhost.toml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/dynhost.toml"));
}

#[test]
fn bad_arguments_are_usage_errors_and_send_nothing() {
    let (dir, cfg) = offline_config("usage");
    for (args, needle) in [
        (vec!["update", "--ip", "10.0.0.1"], "private"),
        (vec!["update", "--ip", "100.64.1.1"], "carrier-grade NAT"),
        (vec!["update", "--ip", "fe80::1"], "link-local"),
        (
            vec!["update", "--ip", "203.0.113.5; reboot"],
            "not an IPv4 or IPv6 address",
        ),
        (
            vec!["update", "--ip", "$(id)"],
            "not an IPv4 or IPv6 address",
        ),
        (
            vec!["update", "--interface", "ppp0`id`"],
            "not an interface name",
        ),
        (vec!["update", "--bogus"], "unexpected argument"),
        (vec!["frobnicate"], "unrecognized subcommand"),
    ] {
        let out = run(&cfg, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let (_, err) = text(&out);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let long = "x".repeat(100_000);
    let out = run(&cfg, &["update", "--ip", &long]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stderr.len() < 2000, "the error does not echo 100 kB");
    assert!(!dir.join("state").exists(), "nothing was written");
}

#[test]
fn one_shot_update_publishes_once_and_then_is_up_to_date() {
    in_netns(|| {
        let body = format!(
            "{}{}",
            record("home.example.com", "br0", ""),
            record("v6.example.com", "br0", "ipv4 = false\nipv6 = true")
        );
        let Scene {
            provider,
            dir: _dir,
            cfg,
        } = Scene::new("oneshot", Some("203.0.113.5/24"), &body);

        let out = run(&cfg, &["update"]);
        assert_eq!(out.status.code(), Some(0));
        let (stdout, _) = text(&out);
        assert!(
            stdout.contains("home.example.com ipv4: published 203.0.113.5 (good 203.0.113.5)"),
            "{stdout}"
        );
        assert!(
            stdout.contains("v6.example.com ipv6: nothing to publish"),
            "{stdout}"
        );
        assert_eq!(provider.count(), 1);

        let (stdout, _) = text(&run(&cfg, &["update"]));
        assert!(
            stdout.contains("up to date (203.0.113.5; last reply: good 203.0.113.5)"),
            "{stdout}"
        );
        assert_eq!(provider.count(), 1, "unchanged: nothing sent");

        let out = run(&cfg, &["update", "--force", "--interface", "br0"]);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(provider.count(), 2, "--force sends");

        let out = run(&cfg, &["update", "--ip", "198.51.100.9"]);
        assert_eq!(out.status.code(), Some(0));
        let r = provider.nth(3, T, "the update with --ip");
        assert_eq!(r.param("myip"), Some("198.51.100.9"));

        let out = run(&cfg, &["update", "--interface", "eth9"]);
        assert_eq!(out.status.code(), Some(3));
        assert!(
            text(&out)
                .1
                .contains("no enabled record follows interface \"eth9\"")
        );

        let out = run(
            &cfg,
            &["update", "--interface", "br0", "--ip", "2001:db8::9"],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "v6.example.com publishes IPv6 on br0"
        );
        let r = provider.nth(4, T, "the IPv6 update");
        assert_eq!(r.param("hostname"), Some("v6.example.com"));

        let (json, _) = text(&run(&cfg, &["status", "--json"]));
        assert!(json.contains("\"address\":\"198.51.100.9\""), "{json}");
        assert!(json.contains("\"address\":\"2001:db8::9\""), "{json}");
        assert_eq!(provider.count(), 4);
    });
}

/// Hook-only setups run one `dynhost update` per reconnect: the hourly budget must
/// hold across those processes, or a flapping link sends on every reconnect.
#[test]
fn one_shot_updates_share_the_hourly_budget() {
    in_netns(|| {
        let body = format!(
            "max_updates_per_hour = 2\n{}",
            record("home.example.com", "br0", "")
        );
        let Scene { provider, dir, cfg } = Scene::new("oneshot-budget", None, &body);
        for (i, addr) in ["203.0.113.1", "203.0.113.2"].iter().enumerate() {
            let out = run(&cfg, &["update", "--ip", addr]);
            assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
            assert_eq!(provider.count(), i + 1);
        }
        let state = std::fs::read_to_string(dir.join("state/state")).unwrap();
        assert!(state.contains(" sent="), "{state}");
        let out = run(&cfg, &["update", "--ip", "203.0.113.3"]);
        let (stdout, _) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stdout}");
        assert!(stdout.contains("throttled"), "{stdout}");
        settle(Duration::from_millis(200));
        assert_eq!(provider.count(), 2, "over the budget: nothing sent");
        let out = run(&cfg, &["update", "--ip", "203.0.113.3", "--force"]);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(provider.count(), 3, "--force goes past the budget");
    });
}

#[test]
fn one_shot_update_fails_when_the_provider_does() {
    in_netns(|| {
        let Scene { provider, dir, cfg } = Scene::home("oneshot-503", Some("203.0.113.5/24"));
        provider.set_default(Reply::Text(503, "maintenance".into()));
        let out = run(&cfg, &["update"]);
        assert_eq!(out.status.code(), Some(1));
        let (stdout, _) = text(&out);
        assert!(stdout.contains("not published: HTTP 503"), "{stdout}");
        // The retry time is kept: an immediate second call does not hammer the provider.
        let out = run(&cfg, &["update"]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(provider.count(), 1);
        let state = std::fs::read_to_string(dir.join("state/state")).unwrap();
        assert!(
            !state.contains("published="),
            "a failure publishes nothing: {state}"
        );
        // A blocked record is not retried by hooks either, until the config changes.
        provider.set_default(Reply::Text(200, "nohost".into()));
        let out = run(&cfg, &["update", "--force"]);
        assert_eq!(out.status.code(), Some(1));
        let out = run(&cfg, &["update"]);
        assert!(text(&out).0.contains("blocked after"), "{:?}", text(&out));
        assert_eq!(provider.count(), 2);
        settle(Duration::from_millis(1100));
        let _ = write_config(
            &dir,
            &provider.url(),
            &record("home.example.com", "br0", ""),
        );
        let _ = run(&cfg, &["update"]);
        assert_eq!(provider.count(), 3, "a changed config lifts the block");
    });
}

#[test]
fn dry_run_logs_the_request_and_sends_and_writes_nothing() {
    in_netns(|| {
        let Scene { provider, dir, cfg } = Scene::home("dry", Some("203.0.113.5/24"));
        let out = run(&cfg, &["--dry-run", "update"]);
        assert_eq!(out.status.code(), Some(0));
        let (stdout, stderr) = text(&out);
        assert!(
            stdout.contains("dry run: would publish 203.0.113.5"),
            "{stdout}"
        );
        assert!(
            stderr.contains("would send GET http://127.0.0.1:")
                && stderr.contains("myip=203.0.113.5")
                && stderr.contains("<example.com-test:redacted>"),
            "{stderr}"
        );
        assert!(!stderr.contains(PASSWORD));
        assert_eq!(provider.connections(), 0);
        assert!(!dir.join("state").exists());
    });
}

#[test]
fn the_embedded_default_dry_runs_on_the_default_route_interface() {
    in_netns(|| {
        bridge("br0");
        ip(&["addr", "add", "203.0.113.5/24", "dev", "br0"]);
        ip(&[
            "route",
            "add",
            "default",
            "via",
            "203.0.113.1",
            "dev",
            "br0",
        ]);
        // No config file: hide /etc/dynhost from the child, if this machine has one.
        let mut cmd = Command::new("unshare");
        cmd.args([
            "--mount",
            "sh",
            "-c",
            "mount -t tmpfs none /etc/dynhost 2>/dev/null; exec \"$0\" \"$@\"",
            BIN,
            "--dry-run",
            "run",
        ])
        .env_remove("DYNHOST_CONFIG");
        let agent = Agent::spawn(cmd);
        agent.wait_log("no config file at /etc/dynhost/config.toml", T);
        agent.wait_log(
            "would send GET https://dns.eu.ovhapis.com/nic/update?system=dyndns&hostname=dynhost.example.com&myip=203.0.113.5",
            T,
        );
        ip(&["addr", "add", "198.51.100.3/24", "dev", "br0"]);
        ip(&["addr", "del", "203.0.113.5/24", "dev", "br0"]);
        agent.wait_log("myip=198.51.100.3", T);
        assert!(agent.stop().success());
    });
}

/// `dynhost status | head`: the reader is gone before the command writes. Every command
/// that prints ends normally (exit 0, nothing on stderr about it), never with a panic.
#[test]
fn a_closed_stdout_is_a_normal_end_for_every_command_that_prints() {
    let (_dir, cfg) = offline_config("closed-pipe");
    for args in [
        vec!["check"],
        vec!["status"],
        vec!["status", "--json"],
        vec!["--dry-run", "update", "--ip", "203.0.113.9"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        // Closed before the command starts: its first write meets EPIPE.
        drop(reader);
        let out = Command::new(BIN)
            .arg("-c")
            .arg(&cfg)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stdout(writer)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {:?} {stderr}",
            out.status
        );
        assert!(
            !stderr.contains("internal error") && !stderr.contains("panicked"),
            "{args:?}: {stderr}"
        );
    }
}

/// `dynhost verify` says what would be published and what DNS answers; it sends
/// nothing and logs no "dry run: would send" line nobody asked for.
#[test]
fn verify_logs_no_dry_run_request() {
    in_netns(|| {
        bridge("br0");
        ip(&["addr", "add", "203.0.113.5/24", "dev", "br0"]);
        let dir = Scratch::new("verify-quiet");
        // A resolver nothing answers on: DNS is unknown, which is not the point here.
        let body = format!(
            "[verify]\nresolver = \"127.0.0.1:9\"\n{}",
            record("home.example.com", "br0", "")
        );
        let cfg = write_config(&dir, "http://127.0.0.1:1/nic/update", &body);
        let out = run(&cfg, &["verify"]);
        let (stdout, stderr) = text(&out);
        assert!(stdout.contains("would publish 203.0.113.5"), "{stdout}");
        assert!(!stderr.contains("would send"), "{stderr}");
    });
}

/// WARN lines about a readable password (the trace-level log repeats them at DEBUG).
fn readable_warnings(stderr: &str) -> usize {
    stderr
        .lines()
        .filter(|l| l.contains(" WARN ") && l.contains("is readable by group or others"))
        .count()
}

/// The "password readable by group or others" warning: once per file and change,
/// across commands and SIGHUPs; `check` always lists it.
#[test]
fn a_readable_password_is_warned_about_once_per_file_and_change() {
    in_netns(|| {
        let (dir, cfg) = offline_config("warn-once");
        support::agent::set_mode(&cfg, 0o644);
        let status = || text(&run(&cfg, &["status"])).1;
        assert_eq!(readable_warnings(&status()), 1);
        assert_eq!(readable_warnings(&status()), 0, "said once");
        assert_eq!(readable_warnings(&text(&run(&cfg, &["check"])).1), 1);
        // A change of the file (its mode) is said again, once.
        support::agent::set_mode(&cfg, 0o640);
        assert_eq!(readable_warnings(&status()), 1);
        assert_eq!(readable_warnings(&status()), 0);
        // The daemon and its reloads say nothing more about the same file...
        let agent = Agent::start(&cfg, &[]);
        agent.wait_log("ready", T);
        for n in 1..=2 {
            agent.signal(libc::SIGHUP);
            agent.wait_count("SIGHUP: config loaded", n, T);
        }
        assert_eq!(readable_warnings(&agent.log()), 0, "{}", agent.log());
        // ...until it changes.
        support::agent::set_mode(&cfg, 0o604);
        agent.signal(libc::SIGHUP);
        agent.wait_count("SIGHUP: config loaded", 3, T);
        agent.signal(libc::SIGHUP);
        agent.wait_count("SIGHUP: config loaded", 4, T);
        assert_eq!(readable_warnings(&agent.log()), 1, "{}", agent.log());
        agent.stop();
        drop(dir);
    });
}
