//! API mode end to end (`provider = "ovh-api"`): the real daemon, the loopback fake of
//! the OVH API that checks every signature and right as OVH does
//! (tests/support/ovh_api.rs), and Debian's BIND serving the zone
//! (tests/support/bind.rs). The fake applies writes to its records at once, but BIND
//! serves them only after `POST /domain/zone/example.com/refresh`, as OVH's servers
//! do: a name is visible at the authoritative server only if dynhost refreshed.

mod support;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use dynhost::model::Family;
use support::agent::{
    Agent, BIN, Scratch, assert_no_secret, run_command, set_mode, settle, text, wait_until,
};
use support::bind::{Bind, dig};
use support::netns::{bridge, in_netns, ip, move_addr};
use support::ovh_api::{Fault, OvhApi};

const T: Duration = Duration::from_secs(20);
const ZONE: &str = "example.com";
const ADDR: &str = "203.0.113.5";
const NEW: &str = "203.0.113.77";
const OLD: &str = "198.51.100.1";

/// Exactly the rights `dynhost setup --api-record` asks for (README, "API mode").
fn api_rules(zone: &str) -> Vec<(String, String)> {
    dynhost::ovh::zone::api_rules(zone)
        .into_iter()
        .map(|(m, p)| (m.as_str().to_string(), p))
        .collect()
}

struct Stage {
    bind: Arc<Bind>,
    api: OvhApi,
    dir: Scratch,
    /// The consumer key with `rules`, written to `ck`.
    ck: String,
}

/// br0 holding 203.0.113.5 (and 2001:db8::5), BIND, and the fake API, whose refreshes
/// publish the zone's A/AAAA records to BIND. The consumer key holds `rules`.
fn stage(name: &str, rules: Vec<(String, String)>, validated: bool) -> Stage {
    bridge("br0");
    ip(&["addr", "add", &format!("{ADDR}/24"), "dev", "br0"]);
    ip(&["-6", "addr", "add", "2001:db8::5/64", "dev", "br0", "nodad"]);
    let bind = Arc::new(Bind::start());
    let dir = Scratch::new(name);
    let api = OvhApi::start(&dir.join("api"), 0);
    let ck = api.add_credential(rules, validated);
    let b = bind.clone();
    api.on_refresh(Box::new(move |zone, z| {
        let mut sets: Vec<(String, Family, Vec<IpAddr>)> = Vec::new();
        for r in z.records.values() {
            let family = match r.field_type.as_str() {
                "A" => Family::V4,
                "AAAA" => Family::V6,
                _ => continue,
            };
            let owner = if r.sub_domain.is_empty() {
                format!("{zone}.")
            } else {
                format!("{}.{zone}.", r.sub_domain)
            };
            let Ok(addr) = r.target.parse() else { continue };
            match sets
                .iter_mut()
                .find(|(o, f, _)| *o == owner && *f == family)
            {
                Some(set) => set.2.push(addr),
                None => sets.push((owner, family, vec![addr])),
            }
        }
        b.set_many(&sets, 60);
    }));
    std::fs::write(
        dir.join("app-secret"),
        format!("{}\n", api.application_secret),
    )
    .unwrap();
    set_mode(&dir.join("app-secret"), 0o600);
    write_ck(&dir, &ck);
    Stage { bind, api, dir, ck }
}

fn write_ck(dir: &Scratch, ck: &str) {
    std::fs::write(dir.join("ck"), format!("{ck}\n")).unwrap();
    set_mode(&dir.join("ck"), 0o600);
}

/// One API record on br0.
fn api_record(hostname: &str, extra: &str) -> String {
    format!(
        "[[record]]\nhostname = \"{hostname}\"\nprovider = \"ovh-api\"\ninterface = \"br0\"\n{extra}\n"
    )
}

/// The config: state, socket, BIND as resolver, quick retries, `[ovh]`, the records.
fn config(s: &Stage, records: &str) -> PathBuf {
    let text = format!(
        "state_dir = \"{state}\"\ncontrol_socket = \"{sock}\"\ndebounce = \"0s\"\n\n\
         [retry]\ninitial = \"1s\"\nmax = \"2s\"\n\n\
         [verify]\nresolver = \"{resolver}\"\n\n\
         [ovh]\nendpoint = \"{url}\"\napplication_key = \"{ak}\"\n\
         application_secret_file = \"{dir}/app-secret\"\nconsumer_key_file = \"{dir}/ck\"\n\
         ca_file = \"{ca}\"\n\n{records}",
        state = s.dir.join("state").display(),
        sock = s.dir.join("control.sock").display(),
        resolver = s.bind.resolver(),
        url = s.api.url(),
        ak = s.api.application_key,
        dir = s.dir.path.display(),
        ca = s.api.ca_pem().display(),
    );
    let path = s.dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    set_mode(&path, 0o600);
    path
}

/// What the zone's primary answers for `name` (absolute) and `rtype`.
fn served(name: &str, rtype: &str) -> Vec<String> {
    let mut v: Vec<String> = dig(&["+norec", "+short", "@127.0.0.1", name, rtype])
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

fn wait_served(name: &str, rtype: &str, want: &str) {
    wait_until(
        &format!("BIND to serve {want} for {name} {rtype}"),
        T,
        || served(name, rtype) == [want],
    );
}

fn refreshes(api: &OvhApi) -> usize {
    api.zone(ZONE).refreshes
}

fn owed(s: &Stage) -> PathBuf {
    s.dir.join("state").join("ovh-refresh-owed")
}

#[test]
fn a_wildcard_the_apex_a_and_aaaa_are_published_and_visible() {
    in_netns(|| {
        let s = stage("api-names", api_rules(ZONE), true);
        // The apex already has an A record (changed in place, TTL kept); the wildcard
        // has none (created).
        let apex = s.api.add_record(ZONE, "A", "", OLD);
        let cfg = config(
            &s,
            &format!(
                "{}{}",
                api_record("*.home.example.com", "ipv4 = true\nipv6 = true"),
                api_record("example.com", "")
            ),
        );
        let agent = Agent::start(&cfg, &[]);
        wait_served("*.home.example.com.", "A", ADDR);
        wait_served("*.home.example.com.", "AAAA", "2001:db8::5");
        wait_served("example.com.", "A", ADDR);
        // Any name under the wildcard resolves.
        assert_eq!(served("nas.home.example.com.", "A"), [ADDR]);
        agent.wait_count("visible in DNS", 3, T);
        assert_eq!(s.api.targets(ZONE, "A", ""), [(apex, ADDR.to_string())]);
        assert_eq!(s.api.targets(ZONE, "A", "*.home").len(), 1);
        assert_eq!(s.api.targets(ZONE, "AAAA", "*.home").len(), 1);
        let puts: Vec<_> = s
            .api
            .calls()
            .into_iter()
            .filter(|c| c.method == "PUT")
            .collect();
        assert_eq!(puts.len(), 1, "{puts:?}");
        assert_eq!(
            puts[0].body,
            format!("{{\"target\":\"{ADDR}\"}}"),
            "TTL untouched"
        );
        assert_eq!(
            s.api.count("POST", "/record"),
            2,
            "created only where none was"
        );
        assert!(!owed(&s).exists(), "no refresh owed");
        agent.stop();
    });
}

#[test]
fn ten_names_in_one_zone_after_one_address_change_cost_one_refresh() {
    in_netns(|| {
        let s = stage("api-ten", api_rules(ZONE), true);
        let mut records = String::new();
        for i in 0..10 {
            s.api.add_record(ZONE, "A", &format!("n{i}"), OLD);
            records.push_str(&api_record(&format!("n{i}.example.com"), ""));
        }
        let cfg = config(&s, &records);
        let agent = Agent::start(&cfg, &[]);
        for i in 0..10 {
            wait_served(&format!("n{i}.example.com."), "A", ADDR);
        }
        agent.wait_count("visible in DNS", 10, T);
        settle(Duration::from_millis(500));
        let (refreshed, puts) = (refreshes(&s.api), s.api.count("PUT", ""));
        assert_eq!(puts, 10);
        // One address change.
        move_addr("br0", &format!("{ADDR}/24"), &format!("{NEW}/24"));
        for i in 0..10 {
            wait_served(&format!("n{i}.example.com."), "A", NEW);
        }
        agent.wait_count("visible in DNS", 20, T);
        settle(Duration::from_millis(500));
        assert_eq!(s.api.count("PUT", "") - puts, 10, "ten writes");
        assert_eq!(refreshes(&s.api) - refreshed, 1, "one refresh for the ten");
        agent.stop();
    });
}

#[test]
fn a_missing_refresh_right_blocks_the_record_and_names_the_right() {
    in_netns(|| {
        let rules: Vec<_> = api_rules(ZONE)
            .into_iter()
            .filter(|(_, p)| !p.ends_with("/refresh"))
            .collect();
        let s = stage("api-no-refresh", rules, true);
        s.api.add_record(ZONE, "A", "home", OLD);
        let cfg = config(&s, &api_record("home.example.com", ""));
        let agent = Agent::start(&cfg, &[]);
        agent.wait_log("this record is blocked until the config is reloaded", T);
        let log = agent.log();
        assert!(
            log.contains("OVH refused POST /domain/zone/example.com/refresh")
                && log.contains("Add the right POST /domain/zone/example.com/refresh")
                && log.contains("dynhost setup --api-record --zone example.com --subdomain 'home'"),
            "{log}"
        );
        // Written but never refreshed: not visible, and the refresh stays owed.
        assert_eq!(served("home.example.com.", "A"), Vec::<String>::new());
        assert!(owed(&s).exists());
        // A key with the right, and a reload: the owed refresh is made.
        let ck = s.api.add_credential(api_rules(ZONE), true);
        write_ck(&s.dir, &ck);
        agent.signal(libc::SIGHUP);
        wait_served("home.example.com.", "A", ADDR);
        wait_until("the owed refresh to be made", T, || !owed(&s).exists());
        agent.stop();
    });
}

#[test]
fn a_record_changed_elsewhere_is_put_back() {
    in_netns(|| {
        let s = stage("api-elsewhere", api_rules(ZONE), true);
        let id = s.api.add_record(ZONE, "A", "home", OLD);
        let cfg = config(&s, &api_record("home.example.com", ""));
        let agent = Agent::start(&cfg, &[]);
        wait_served("home.example.com.", "A", ADDR);
        agent.wait_log("visible in DNS", T);
        agent.stop();
        // The control panel: the record and what the servers serve.
        s.api.set_target(ZONE, id, "198.51.100.9");
        s.bind.set(
            "home.example.com.",
            Family::V4,
            &["198.51.100.9".parse().unwrap()],
            60,
        );
        let agent = Agent::start(&cfg, &[]);
        agent.wait_log("the record was changed elsewhere", T);
        wait_served("home.example.com.", "A", ADDR);
        assert_eq!(s.api.targets(ZONE, "A", "home"), [(id, ADDR.to_string())]);
        agent.stop();
    });
}

#[test]
fn transient_errors_are_retried_identity_errors_block() {
    in_netns(|| {
        let s = stage("api-errors", api_rules(ZONE), true);
        s.api.add_record(ZONE, "A", "home", OLD);
        let cfg = config(&s, &api_record("home.example.com", ""));
        let list = "/domain/zone/example.com/record";

        // 5xx, then 429 with Retry-After, then an answer of the wrong type: each
        // retried, then published.
        s.api.inject(
            "GET",
            list,
            Fault::Json(503, r#"{"message":"Service Unavailable"}"#.into()),
            1,
        );
        s.api.inject("GET", list, Fault::RateLimited(2), 1);
        s.api
            .inject("GET", list, Fault::Json(200, r#"{"ids":[1]}"#.into()), 1);
        let agent = Agent::start(&cfg, &[]);
        wait_served("home.example.com.", "A", ADDR);
        let log = agent.log();
        assert!(log.contains("with HTTP 503"), "{log}");
        assert!(
            log.contains("HTTP 429 (too many requests); it asks to retry after 2 s"),
            "{log}"
        );
        assert!(
            log.contains("expected a list of record ids, got an object"),
            "{log}"
        );
        assert_eq!(agent.count("will retry"), 3, "{log}");
        agent.stop();

        // A huge answer is refused (bounded), and retried.
        s.api
            .inject("GET", list, Fault::Text(200, "x".repeat(400 * 1024)), 1);
        move_addr("br0", &format!("{ADDR}/24"), &format!("{NEW}/24"));
        let agent = Agent::start(&cfg, &[]);
        wait_served("home.example.com.", "A", NEW);
        assert!(
            agent.log().contains("larger than 256 KiB"),
            "{}",
            agent.log()
        );
        agent.stop();

        // A consumer key not validated (or expired): blocked, with setup's sentence.
        let pending = s.api.add_credential(api_rules(ZONE), false);
        write_ck(&s.dir, &pending);
        move_addr("br0", &format!("{NEW}/24"), &format!("{ADDR}/24"));
        let agent = Agent::start(&cfg, &[]);
        agent.wait_log("blocked until the config is reloaded", T);
        assert!(
            agent
                .log()
                .contains("OVH does not accept the consumer key (INVALID_CREDENTIAL)"),
            "{}",
            agent.log()
        );
        agent.stop();

        // A wrong application secret: the signature, with the clock offset.
        write_ck(&s.dir, &s.ck);
        std::fs::write(s.dir.join("app-secret"), "not-the-secret\n").unwrap();
        let agent = Agent::start(&cfg, &[]);
        agent.wait_log("blocked until the config is reloaded", T);
        assert!(
            agent.log().contains("the signature is invalid")
                && agent
                    .log()
                    .contains("s from OVH's, and dynhost signs with OVH's"),
            "{}",
            agent.log()
        );
        agent.stop();
        assert_eq!(served("home.example.com.", "A"), [NEW], "nothing changed");
    });
}

#[test]
fn a_zone_not_in_the_account_and_several_records_are_refused_by_name() {
    in_netns(|| {
        let s = stage("api-refused", api_rules(ZONE), true);
        let a = s.api.add_record(ZONE, "A", "home", OLD);
        let b = s.api.add_record(ZONE, "A", "home", "198.51.100.2");
        let cfg = config(
            &s,
            &format!(
                "{}{}",
                api_record("home.example.com", ""),
                api_record("home.example.org", "")
            ),
        );
        let agent = Agent::start(&cfg, &[]);
        agent.wait_count("blocked until the config is reloaded", 2, T);
        let log = agent.log();
        assert!(
            log.contains(&format!("home.example.com has 2 A records (ids {a}, {b})")),
            "{log}"
        );
        assert!(
            log.contains("no zone of this OVH account holds home.example.org"),
            "{log}"
        );
        assert_eq!(s.api.count("PUT", ""), 0, "nothing guessed");
        agent.stop();
        // replace_all: both are changed.
        let cfg = config(&s, &api_record("home.example.com", "replace_all = true"));
        let agent = Agent::start(&cfg, &[]);
        wait_served("home.example.com.", "A", ADDR);
        assert_eq!(
            s.api.targets(ZONE, "A", "home"),
            [(a, ADDR.to_string()), (b, ADDR.to_string())]
        );
        agent.stop();
    });
}

#[test]
fn the_clock_offset_is_taken_from_ovh_and_taken_again_when_it_jumps() {
    in_netns(|| {
        let s = stage("api-clock", api_rules(ZONE), true);
        // OVH's clock is two hours ahead of ours: calls are signed with its time.
        s.api.set_clock_offset(7200);
        s.api.add_record(ZONE, "A", "home", OLD);
        let cfg = config(&s, &api_record("home.example.com", ""));
        let agent = Agent::start(&cfg, &[]);
        wait_served("home.example.com.", "A", ADDR);
        // Our clock jumps (NTP at boot) after the session began: the next call is out
        // of time; dynhost reads OVH's clock again and goes on.
        s.api.set_clock_offset(-3000);
        move_addr("br0", &format!("{ADDR}/24"), &format!("{NEW}/24"));
        wait_served("home.example.com.", "A", NEW);
        assert!(
            s.api.calls().iter().any(|c| c.status == 400),
            "a call was refused as out of time"
        );
        assert_eq!(s.api.count("GET", "/auth/time"), 2);
        assert_eq!(agent.count("blocked"), 0, "{}", agent.log());
        agent.stop();
    });
}

#[test]
fn killed_between_the_put_and_the_refresh_the_next_start_completes_it() {
    in_netns(|| {
        let s = stage("api-kill", api_rules(ZONE), true);
        let id = s.api.add_record(ZONE, "A", "home", OLD);
        s.api.inject(
            "POST",
            "/refresh",
            Fault::HoldThenReset(Duration::from_secs(15)),
            1,
        );
        let cfg = config(&s, &api_record("home.example.com", ""));
        let mut agent = Agent::start(&cfg, &[]);
        wait_until("the PUT", T, || {
            s.api.targets(ZONE, "A", "home") == [(id, ADDR.to_string())]
        });
        assert!(owed(&s).exists(), "the refresh is owed before it is sent");
        settle(Duration::from_millis(300));
        agent.signal(libc::SIGKILL);
        agent.wait(Duration::from_secs(5)).expect("killed");
        assert_no_secret("the daemon's log", &agent.log());
        assert_eq!(served("home.example.com.", "A"), Vec::<String>::new());
        // The next start: the record already holds the address, but the zone is owed
        // its refresh.
        let agent = Agent::start(&cfg, &[]);
        wait_served("home.example.com.", "A", ADDR);
        wait_until("the owed file to go", T, || !owed(&s).exists());
        assert_eq!(s.api.count("PUT", ""), 1, "no second write");
        agent.stop();
    });
}

#[test]
fn setup_api_record_asks_for_exactly_the_rights_then_the_daemon_publishes() {
    in_netns(|| {
        let s = stage("api-setup", api_rules(ZONE), true);
        let cfg = s.dir.join("config.toml");
        std::fs::write(
            &cfg,
            format!(
                "state_dir = \"{}\"\ncontrol_socket = \"{}\"\n\n[verify]\nresolver = \"{}\"\n",
                s.dir.join("state").display(),
                s.dir.join("control.sock").display(),
                s.bind.resolver()
            ),
        )
        .unwrap();
        let env = |cmd: &mut Command| {
            cmd.env("HOME", &s.dir.path)
                .env("OVH_ENDPOINT", s.api.url())
                .env("OVH_APPLICATION_KEY", &s.api.application_key)
                .env("OVH_APPLICATION_SECRET", &s.api.application_secret);
        };
        let mut cmd = Command::new(BIN);
        env(&mut cmd);
        cmd.arg("-c").arg(&cfg).args([
            "setup",
            "--api-record",
            "--zone",
            ZONE,
            "--subdomain",
            "*.home",
            "--interface",
            "br0",
            "--ca-file",
        ]);
        cmd.arg(s.api.ca_pem());
        let out = run_command(cmd, &["setup", "--api-record"]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        for (m, p) in api_rules(ZONE) {
            assert!(stdout.contains(&format!("  {m} {p}\n")), "{stdout}");
        }
        let key_file = s.dir.join("ovh-example.com.consumer-key");
        let ck = std::fs::read_to_string(&key_file)
            .unwrap()
            .trim()
            .to_string();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(
            !stdout.contains(&ck) && !stderr.contains(&ck),
            "the key is not printed"
        );
        let cred = s.api.credential(&ck).expect("the key was requested");
        assert_eq!(cred.rules, api_rules(ZONE), "exactly API mode's rights");
        assert!(!cred.validated);
        let written = std::fs::read_to_string(&cfg).unwrap();
        assert!(
            written.contains("hostname = \"*.home.example.com\"\nprovider = \"ovh-api\""),
            "{written}"
        );
        // The user opens the URL and grants; the daemon publishes the wildcard.
        s.api.validate(&ck);
        let mut cmd = Command::new(BIN);
        env(&mut cmd);
        cmd.arg("-c").arg(&cfg).arg("run");
        let agent = Agent::spawn(cmd);
        wait_served("*.home.example.com.", "A", ADDR);
        agent.stop();
        // A wildcard without --api-record is refused: DynHost cannot hold one.
        let mut cmd = Command::new(BIN);
        env(&mut cmd);
        cmd.arg("-c")
            .arg(&cfg)
            .args(["setup", "--zone", ZONE, "--subdomain", "*"]);
        let out = run_command(cmd, &["setup"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            text(&out).1.contains("add --api-record"),
            "{}",
            text(&out).1
        );
    });
}

#[test]
fn a_one_shot_update_publishes_api_records_with_one_refresh() {
    in_netns(|| {
        let s = stage("api-oneshot", api_rules(ZONE), true);
        s.api.add_record(ZONE, "A", "a", OLD);
        let cfg = config(
            &s,
            &format!(
                "{}{}",
                api_record("a.example.com", ""),
                api_record("b.example.com", "")
            ),
        );
        let out = support::agent::run(&cfg, &["update"]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        assert!(
            stdout.contains(&format!(
                "a.example.com ipv4: published {ADDR} (good {ADDR})"
            )),
            "{stdout}"
        );
        wait_served("a.example.com.", "A", ADDR);
        wait_served("b.example.com.", "A", ADDR);
        assert_eq!(refreshes(&s.api), 1, "one refresh for the two");
        // Nothing changed: nothing written, no refresh.
        let out = support::agent::run(&cfg, &["update", "--force"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
        assert!(text(&out).0.contains("nochg"), "{}", text(&out).0);
        assert_eq!(refreshes(&s.api), 1);
        assert_eq!(s.api.count("PUT", ""), 1);
    });
}
