//! The fault matrix: every provider, network, kernel and process fault from the
//! reliability issue, each against the real daemon in a private network namespace.
//! Each case checks the class (retry or block), that nothing crashes or grows, and
//! that the published state is never written after a failure.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::agent::{
    Agent, BIN, PASSWORD, Scratch, assert_no_secret, record, run, settle, text, wait_until,
    write_config,
};
use support::netns::{bridge, in_netns, ip, ip_batch, move_addr};
use support::provider::{Provider, Reply};
use support::scene::Scene;

const T: Duration = Duration::from_secs(15);

/// Fast retries and a short request bound, so that faults play out in seconds.
fn config_body(records: &str) -> String {
    format!("[retry]\ninitial = \"1s\"\nmax = \"2s\"\n\n{records}",)
}

/// A config for `records` with fast retries and a 2 s request bound.
fn with_timeout(dir: &Scratch, url: &str, records: &str) -> PathBuf {
    let path = write_config(dir, url, &config_body(records));
    add_request_timeout(&path);
    path
}

fn add_request_timeout(cfg: &Path) {
    let text = std::fs::read_to_string(cfg).unwrap().replacen(
        "[provider]\n",
        "[provider]\ntimeout = \"2s\"\n",
        1,
    );
    std::fs::write(cfg, text).unwrap();
}

/// `br0` with 203.0.113.5/24, a provider, and `records` with fast retries and a 2 s
/// request bound.
fn fault_scene(name: &str, records: &str) -> Scene {
    let scene = Scene::new(name, Some("203.0.113.5/24"), &config_body(records));
    add_request_timeout(&scene.cfg);
    scene
}

/// `br0` with 203.0.113.5/24 and a TLS provider whose CA is written to `ca_dir`
/// (`tls` is where write_config looks for it), with fast retries.
fn tls_scene(name: &str, ca_dir: &str) -> Scene {
    bridge("br0");
    ip(&["addr", "add", "203.0.113.5/24", "dev", "br0"]);
    let dir = Scratch::new(name);
    let provider = Provider::start_tls(&dir.join(ca_dir));
    let cfg = with_timeout(
        &dir,
        &provider.url(),
        &record("home.example.com", "br0", ""),
    );
    Scene { provider, dir, cfg }
}

fn state(dir: &Scratch) -> String {
    std::fs::read_to_string(dir.join("state/state")).unwrap_or_default()
}

/// Waits for the state file to say `needle` (it is written just after the log line).
fn wait_state(dir: &Scratch, needle: &str) {
    wait_until(&format!("{needle:?} in the state file"), T, || {
        state(dir).contains(needle)
    });
}

fn vm_hwm_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    Transient,
    Fatal,
}

/// Publishes 203.0.113.5, then meets `fault` when the address moves to 198.51.100.6.
/// Checks the class, the state file, memory, and (for transient faults) recovery.
/// Returns the daemon's log.
fn fault_case(name: &str, fault: Reply, class: Class) -> String {
    let name = name.to_string();
    in_netns(move || fault_body(&name, fault, class))
}

/// The body of `fault_case`, in the caller's namespace.
fn fault_body(name: &str, fault: Reply, class: Class) -> String {
    let Scene { provider, dir, cfg } = fault_scene(name, &record("home.example.com", "br0", ""));
    let agent = Agent::start(&cfg, &[]);
    wait_state(&dir, "published=203.0.113.5@");

    provider.set_default(fault);
    let before = provider.count();
    let started = Instant::now();
    move_addr("br0", "203.0.113.5/24", "198.51.100.6/24");
    let verdict = match class {
        Class::Transient => "will retry",
        Class::Fatal => "blocked until the config is reloaded",
    };
    agent.wait_log(verdict, T);
    wait_until("the failure in the state file", T, || {
        !state(&dir).contains("reply=good@")
    });
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the fault was settled within the request bound: {:?}",
        started.elapsed()
    );
    let st = state(&dir);
    assert!(
        st.contains("published=203.0.113.5@") && !st.contains("published=198.51.100.6"),
        "a failure never writes the published address: {st}"
    );
    let hwm = vm_hwm_kib(agent.pid());
    assert!(hwm < 24 * 1024, "memory stays bounded: VmHWM {hwm} KiB");
    match class {
        Class::Fatal => {
            settle(Duration::from_secs(3));
            assert_eq!(
                provider.count(),
                before + 1,
                "blocked: nothing more is sent"
            );
            let (out, _) = text(&run(&cfg, &["status"]));
            assert!(out.contains("blocked since"), "{out}");
        }
        Class::Transient => {
            provider.set_default(Reply::GoodEcho);
            wait_state(&dir, "published=198.51.100.6@");
        }
    }
    let log = agent.log();
    assert!(agent.stop().success(), "no crash");
    log
}

#[test]
fn http_500_is_retried() {
    fault_case(
        "f500",
        Reply::Text(500, "Internal Server Error".into()),
        Class::Transient,
    );
}

#[test]
fn http_503_is_retried() {
    fault_case(
        "f503",
        Reply::Text(503, "Service Unavailable".into()),
        Class::Transient,
    );
}

#[test]
fn a_server_that_never_answers_is_retried() {
    fault_case("fhang", Reply::Hang, Class::Transient);
}

#[test]
fn a_reply_that_stalls_after_the_headers_is_retried() {
    fault_case(
        "fstall",
        Reply::StallBody(200, "good 198.51.100.6\n".into()),
        Class::Transient,
    );
}

#[test]
fn a_connection_reset_mid_reply_is_retried() {
    fault_case("freset", Reply::ResetMidBody(200), Class::Transient);
}

#[test]
fn a_reply_of_several_megabytes_is_cut_and_retried() {
    let log = fault_case("fhuge", Reply::Huge(200, 8_000_000), Class::Transient);
    // Only the first 4 KiB were read, and the reply was classed unrecognised.
    assert!(log.contains("4096 bytes or more"), "{log}");
}

#[test]
fn garbage_bytes_are_retried() {
    fault_case(
        "fgarbage",
        Reply::Raw(b"\x00\xff\xfeNOT HTTP AT ALL\r\n\r\n\x1b[2J".to_vec()),
        Class::Transient,
    );
}

#[test]
fn an_html_error_page_is_retried() {
    fault_case(
        "fhtml",
        Reply::Html(
            200,
            "<!DOCTYPE html><html><head><title>Maintenance</title></head><body>Back soon</body></html>"
                .into(),
        ),
        Class::Transient,
    );
}

#[test]
fn ovh_json_bad_request_blocks() {
    fault_case(
        "fjson",
        Reply::Json(
            400,
            r#"{"class":"Client::BadRequest","message":"{'system': ['Missing data for required field.']}"}"#
                .into(),
        ),
        Class::Fatal,
    );
}

#[test]
fn a_401_without_body_blocks() {
    fault_case("f401", Reply::Text(401, String::new()), Class::Fatal);
}

#[test]
fn a_redirect_is_not_followed_and_blocks() {
    in_netns(|| {
        // The redirect target must never hear from us.
        let elsewhere = Provider::start();
        fault_body(
            "fredirect",
            Reply::Redirect(302, elsewhere.url()),
            Class::Fatal,
        );
        assert_eq!(elsewhere.count(), 0, "the redirect was not followed");
        assert_eq!(elsewhere.connections(), 0);
    });
}

#[test]
fn a_certificate_that_does_not_verify_sends_nothing_and_is_retried() {
    in_netns(|| {
        // Its CA is written under dir/untrusted, not where write_config looks.
        let Scene { provider, dir, cfg } = tls_scene("ftls", "untrusted");
        let agent = Agent::start(&cfg, &[]);
        agent.wait_log("will retry", T);
        assert!(agent.log().contains("not sent"), "classified as never sent");
        assert!(provider.connections() >= 1, "the handshake was tried");
        assert_eq!(provider.count(), 0, "no request (and no password) crossed");
        assert!(!state(&dir).contains("published="));
        // The operator installs the right CA and reloads: the next round verifies.
        std::fs::create_dir_all(dir.join("tls")).unwrap();
        std::fs::copy(dir.join("untrusted/ca.pem"), dir.join("tls/ca.pem")).unwrap();
        let fixed = with_timeout(
            &dir,
            &provider.url(),
            &record("home.example.com", "br0", ""),
        );
        assert!(std::fs::read_to_string(&fixed).unwrap().contains("ca_file"));
        agent.signal(libc::SIGHUP);
        assert!(provider.nth(1, T, "the request over verified TLS").tls);
        wait_state(&dir, "published=203.0.113.5@");
        assert!(agent.stop().success());
    });
}

#[test]
fn a_trusted_certificate_works() {
    in_netns(|| {
        let Scene {
            provider,
            dir: _dir,
            cfg,
        } = tls_scene("ftlsok", "tls");
        assert!(std::fs::read_to_string(&cfg).unwrap().contains("ca_file"));
        let agent = Agent::start(&cfg, &[]);
        assert!(provider.nth(1, T, "the request over TLS").tls);
        agent.wait_log("published", T);
    });
}

#[test]
fn a_provider_name_that_does_not_resolve_is_retried() {
    in_netns(|| {
        bridge("br0");
        ip(&["addr", "add", "203.0.113.5/24", "dev", "br0"]);
        let dir = Scratch::new("fdns");
        let cfg = with_timeout(
            &dir,
            "https://provider.invalid/nic/update",
            &record("home.example.com", "br0", ""),
        );
        let agent = Agent::start(&cfg, &[]);
        agent.wait_log("will retry", T);
        assert!(agent.log().contains("not sent"), "{}", agent.log());
        assert!(!state(&dir).contains("published="));
    });
}

// ---- retry policy with the real daemon ------------------------------------------

#[test]
fn after_911_nothing_is_sent_for_30_minutes() {
    in_netns(|| {
        let Scene { provider, dir, cfg } =
            fault_scene("r911", &record("home.example.com", "br0", ""));
        provider.set_default(Reply::Text(200, "911".into()));
        let agent = Agent::start(&cfg, &[]);
        agent.wait_log("will retry", T);
        wait_state(&dir, "retry_at=");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let st = state(&dir);
        let retry_at: u64 = st
            .split_whitespace()
            .find_map(|w| w.strip_prefix("retry_at="))
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("{st}"));
        assert!(
            retry_at >= now + 29 * 60,
            "not before 30 minutes: {}",
            retry_at - now
        );
        // Even a new address waits.
        move_addr("br0", "203.0.113.5/24", "198.51.100.6/24");
        settle(Duration::from_secs(3));
        assert_eq!(provider.count(), 1);
        // A restart does not get around it either.
        assert!(agent.stop().success());
        let _agent = Agent::start(&cfg, &[]);
        settle(Duration::from_secs(2));
        assert_eq!(provider.count(), 1);
        let (out, _) = text(&run(&cfg, &["status"]));
        assert!(out.contains("retry at"), "{out}");
    });
}

#[test]
fn the_newest_address_wins_while_a_retry_waits() {
    in_netns(|| {
        let body = "[retry]\ninitial = \"3s\"\nmax = \"3s\"\n\n".to_string()
            + &record("home.example.com", "br0", "");
        let scene = Scene::new("rnewest", Some("203.0.113.5/24"), &body);
        let provider = &scene.provider;
        let agent = Agent::start(&scene.cfg, &[]);
        agent.wait_log("published", T);
        provider.set_default(Reply::Text(503, "busy".into()));
        move_addr("br0", "203.0.113.5/24", "198.51.100.6/24");
        agent.wait_log("will retry", T);
        // While the retry waits, the address moves on.
        move_addr("br0", "198.51.100.6/24", "198.51.100.7/24");
        provider.set_default(Reply::GoodEcho);
        let failed = provider.nth(2, T, "the update that fails");
        assert_eq!(failed.param("myip"), Some("198.51.100.6"));
        let retry = provider.nth(3, T, "the retry");
        assert_eq!(
            retry.param("myip"),
            Some("198.51.100.7"),
            "the retry carries the newest"
        );
        settle(Duration::from_secs(4));
        let later: Vec<_> = provider.requests()[3..]
            .iter()
            .map(|r| r.param("myip").unwrap().to_string())
            .collect();
        assert!(later.is_empty(), "nothing after: {later:?}");
    });
}

#[test]
fn a_hanging_record_does_not_delay_another() {
    in_netns(|| {
        let records =
            record("slow.example.com", "br0", "") + &record("fast.example.com", "br0", "");
        let Scene { provider, dir, cfg } = fault_scene("rindep", &records);
        provider.set_default_for("slow.example.com", Reply::Hang);
        let agent = Agent::start(&cfg, &[]);
        let reqs = provider.wait_for(2, T);
        let fast = reqs
            .iter()
            .find(|r| r.param("hostname") == Some("fast.example.com"))
            .unwrap();
        let slow = reqs
            .iter()
            .find(|r| r.param("hostname") == Some("slow.example.com"))
            .unwrap();
        let gap = fast.at.max(slow.at) - fast.at.min(slow.at);
        assert!(gap < Duration::from_millis(500), "sent together: {gap:?}");
        agent.wait_log("published record=fast.example.com", T);
        wait_state(&dir, "fast.example.com ipv4 published=203.0.113.5@");
        agent.wait_log("will retry record=slow.example.com", T);
    });
}

// ---- kernel and process faults --------------------------------------------------

#[test]
fn a_netlink_overrun_resyncs_to_the_final_address() {
    in_netns(|| {
        let Scene {
            provider,
            dir: _dir,
            cfg,
        } = Scene::home("overrun", Some("203.0.113.5/24"));
        bridge("storm0");
        let mut cmd = Command::new(BIN);
        cmd.args(["-c", cfg.to_str().unwrap(), "run"])
            .env("DYNHOST_NETLINK_RCVBUF", "4096");
        let agent = Agent::spawn(cmd);
        agent.wait_log("published", T);
        // Freeze the daemon so that its small buffer overflows for sure.
        agent.signal(libc::SIGSTOP);
        let mut lines = Vec::new();
        for i in 1..=200 {
            lines.push(format!("addr add 192.0.2.{}/32 dev storm0", i % 250 + 1));
        }
        for i in 1..=100 {
            lines.push(format!("addr add 198.51.100.{i}/32 dev br0"));
            lines.push(format!("addr del 198.51.100.{i}/32 dev br0"));
        }
        lines.push("addr del 203.0.113.5/24 dev br0".into());
        lines.push("addr add 203.0.113.99/24 dev br0".into());
        ip_batch(&lines);
        agent.signal(libc::SIGCONT);
        let r = provider.nth(2, T, "the update after the storm");
        assert_eq!(r.param("myip"), Some("203.0.113.99"));
        agent.wait_log("overrun", T);
        settle(Duration::from_secs(2));
        assert_eq!(provider.count(), 2, "one update for the whole storm");
    });
}

#[test]
fn sigterm_during_a_request_exits_promptly() {
    in_netns(|| {
        let Scene { provider, dir, cfg } = Scene::home("term", Some("203.0.113.5/24"));
        provider.set_default(Reply::Hang);
        let agent = Agent::start(&cfg, &[]);
        provider.nth(1, T, "the request that hangs");
        let t = Instant::now();
        assert!(agent.stop().success());
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        assert!(!state(&dir).contains("published="));
    });
}

#[test]
fn kill_9_at_any_moment_leaves_the_old_or_the_new_state() {
    in_netns(|| {
        let body = "debounce = \"0s\"\ndebounce_max = \"0s\"\nmax_updates_per_hour = 3600\n"
            .to_string()
            + &record("home.example.com", "br0", "");
        let Scene { provider, dir, cfg } = Scene::new("kill9", None, &body);
        let mut seed = 0x2545_f491_u64;
        let mut addr = String::from("203.0.113.1");
        ip(&["addr", "add", &format!("{addr}/32"), "dev", "br0"]);
        for round in 0..25 {
            let agent = Agent::start(&cfg, &[]);
            // Change the address a few times, then kill at a random moment, which
            // may be in the middle of a state write.
            for step in 0..3 {
                let next = format!("198.51.100.{}", round * 3 + step + 1);
                ip_batch(&[
                    format!("addr del {addr}/32 dev br0"),
                    format!("addr add {next}/32 dev br0"),
                ]);
                addr = next;
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                std::thread::sleep(Duration::from_micros(seed % 4000));
            }
            agent.signal(libc::SIGKILL);
            drop(agent);
            let st = std::fs::read_to_string(dir.join("state/state")).unwrap_or_default();
            if !st.is_empty() {
                assert!(
                    st.contains("dynhost-state 1"),
                    "round {round}: torn state: {st:?}"
                );
                let out = run(&cfg, &["status"]);
                assert_eq!(
                    out.status.code(),
                    Some(0),
                    "round {round}: {:?}",
                    text(&out)
                );
            }
        }
        // After the last kill: a restart sends only if the state is behind.
        let st = std::fs::read_to_string(dir.join("state/state")).unwrap();
        let up_to_date = st.contains(&format!("published={addr}@"));
        let before = provider.count();
        let agent = Agent::start(&cfg, &[]);
        settle(Duration::from_secs(2));
        let sent = provider.count() - before;
        assert_eq!(sent, usize::from(!up_to_date), "state said {st:?}");
        drop(agent);
        let leftovers: Vec<_> = std::fs::read_dir(dir.join("state"))
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(
            leftovers.is_empty(),
            "temporary files are cleaned up: {leftovers:?}"
        );
    });
}

#[test]
fn two_updates_at_once_send_one_request() {
    in_netns(|| {
        let Scene {
            provider,
            dir: _dir,
            cfg,
        } = Scene::home("twice", Some("203.0.113.5/24"));
        provider.set_default(Reply::Delay(
            Duration::from_millis(800),
            Box::new(Reply::GoodEcho),
        ));
        let spawn = || {
            Command::new(BIN)
                .args(["-c", cfg.to_str().unwrap(), "update"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        assert!(a.status.success() && b.status.success(), "{a:?} {b:?}");
        assert_eq!(
            provider.count(),
            1,
            "the lock serialises them; the second is up to date"
        );
        let outs = format!(
            "{}{}",
            String::from_utf8_lossy(&a.stdout),
            String::from_utf8_lossy(&b.stdout)
        );
        assert!(
            outs.contains("published 203.0.113.5") && outs.contains("up to date"),
            "{outs}"
        );
    });
}

// ---- secrets and access ---------------------------------------------------------

#[test]
fn the_password_stays_out_of_logs_files_process_lists_and_errors() {
    in_netns(|| {
        let rec = "[[record]]\nhostname = \"home.example.com\"\nusername = \"example.com-test\"\n\
                   password_file = \"home.secret\"\ninterface = \"br0\"\n";
        let Scene { provider, dir, cfg } = fault_scene("secret", rec);
        provider.push(Reply::Text(503, "busy".into()));
        let secret = dir.join("home.secret");
        std::fs::write(&secret, format!("{PASSWORD}\n")).unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        let agent = Agent::start(&cfg, &["-vv"]);
        // It was sent, so it was read, and it is still nowhere else.
        let retried = provider.nth(2, T, "the retried update");
        assert_eq!(retried.basic_auth.as_ref().unwrap().1, PASSWORD);
        agent.wait_log("published", T);
        assert!(
            agent.log().contains(&format!(
                "password file {} is readable by group or others (mode 0644); run: chmod 600 {}",
                secret.display(),
                secret.display()
            )),
            "{}",
            agent.log()
        );
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
                assert_no_secret("a process command line", &String::from_utf8_lossy(&cmdline));
            }
        }
        let environ = std::fs::read(format!("/proc/{}/environ", agent.pid())).unwrap();
        assert_no_secret(
            "the daemon's environment",
            &String::from_utf8_lossy(&environ),
        );
        for out in [
            run(&cfg, &["status", "--json"]),
            run(&cfg, &["check"]),
            run(&cfg, &["-vv", "update"]),
        ] {
            assert_no_secret("command output", &String::from_utf8_lossy(&out.stdout));
        }
        for entry in std::fs::read_dir(dir.join("state")).unwrap().flatten() {
            let content = std::fs::read(entry.path()).unwrap();
            assert_no_secret("the state directory", &String::from_utf8_lossy(&content));
        }
        // A password with a second line is an error that does not quote it.
        std::fs::write(&secret, format!("{PASSWORD}\nsecond line\n")).unwrap();
        let out = run(&cfg, &["check"]);
        assert_eq!(out.status.code(), Some(78));
        assert!(text(&out).1.contains("control character"));
        assert!(agent.stop().success());
    });
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let dir = Scratch::new("plainhttp");
    let cfg = write_config(
        &dir,
        "http://dns.eu.ovhapis.com/nic/update",
        &record("home.example.com", "br0", ""),
    );
    let out = run(&cfg, &["check"]);
    assert_eq!(out.status.code(), Some(78));
    assert!(text(&out).1.contains("plain http to a non-loopback host"));
}
