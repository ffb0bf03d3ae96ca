//! `dynhost setup` end to end: the real binary, in a private network namespace where
//! `br0` holds a documentation address, against a loopback fake of the OVH API that
//! verifies every signature and keeps its own clock. Every run logs at trace level, and
//! the harness fails a test if the application secret, a consumer key, the OAuth2
//! secret or token, or a DynHost password shows up in any output or in a file other
//! than its own.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::agent::{self, Agent, BIN, Scratch, assert_no_secret, forbid_secret};
use support::netns::{bridge, in_netns, ip};
use support::ovh_api::{self, AuthKind, Fault, OvhApi};
use support::provider::Provider;

const ZONE: &str = "example.com";
const HOST: &str = "home.example.com";
const LOGIN: &str = "example.com-home";
const ADDR: &str = "203.0.113.7";
/// The fake API's clock runs two hours ahead of ours (another test has it behind).
const AHEAD: i64 = 7200;

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// One test's world: the fake API, a scratch directory with a commented config, a
/// `$HOME` and a working directory for ovh.conf files.
struct Bed {
    api: OvhApi,
    dir: Scratch,
    cfg: PathBuf,
    home: PathBuf,
    work: PathBuf,
}

const CONFIG_HEAD: &str = "# My router: setup must keep these comments, byte for byte.\n";

impl Bed {
    /// `br0` with 203.0.113.7/24 must exist (see [`wan`]).
    fn new(name: &str, clock_offset: i64, provider_url: &str) -> Bed {
        let dir = Scratch::new(name);
        let api = OvhApi::start(&dir.join("api-tls"), clock_offset);
        let home = dir.join("home");
        let work = dir.join("work");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        let cfg = dir.join("config.toml");
        let text = format!(
            "{CONFIG_HEAD}state_dir = \"{}\"   # kept on flash\ncontrol_socket = \"{}\"\n\n\
             [provider]\n# The fake dyndns2 provider.\nurl = \"{provider_url}\"\n",
            dir.join("state").display(),
            dir.join("control.sock").display()
        );
        std::fs::write(&cfg, text).unwrap();
        Bed {
            api,
            dir,
            cfg,
            home,
            work,
        }
    }

    fn config_text(&self) -> String {
        std::fs::read_to_string(&self.cfg).unwrap()
    }

    fn password_file(&self) -> PathBuf {
        self.dir.join(&format!("{HOST}.secret"))
    }

    fn password(&self) -> String {
        let text = std::fs::read_to_string(self.password_file()).unwrap();
        text.trim_end().to_string()
    }

    /// `dynhost -c CFG setup ARGS --endpoint URL --ca-file CA` with the fake's
    /// credentials in the environment.
    fn run(&self, args: &[&str]) -> Out {
        let env: Vec<(String, String)> = self
            .api
            .env()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        self.run_env(args, &env, true)
    }

    fn run_env(&self, args: &[&str], env: &[(String, String)], endpoint: bool) -> Out {
        let mut cmd = self.command(args, env, endpoint);
        let out = cmd.output().expect("cannot run dynhost");
        finish(args, out)
    }

    fn command(&self, args: &[&str], env: &[(String, String)], endpoint: bool) -> Command {
        self.command_for(&self.cfg, args, env, endpoint)
    }

    fn command_for(
        &self,
        cfg: &Path,
        args: &[&str],
        env: &[(String, String)],
        endpoint: bool,
    ) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("-c").arg(cfg).arg("setup").args(args);
        if endpoint {
            cmd.arg("--endpoint")
                .arg(self.api.url())
                .arg("--ca-file")
                .arg(self.api.ca_pem());
        }
        cmd.env_clear()
            .env("DYNHOST_LOG", agent::LOG_LEVEL)
            .env("HOME", &self.home)
            .current_dir(&self.work)
            .stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    /// No file but the password file and ovh.conf files holds a secret.
    fn assert_files_clean(&self) {
        let own: Vec<PathBuf> = vec![
            self.password_file(),
            self.home.join(".ovh.conf"),
            self.work.join("ovh.conf"),
        ];
        for f in walk(&self.dir.path) {
            if own.contains(&f) || f.extension().is_some_and(|e| e == "secret") {
                continue;
            }
            let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
            assert_no_secret(&f.display().to_string(), &text);
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let t = e.file_type().unwrap();
        if t.is_dir() {
            out.extend(walk(&p));
        } else if t.is_file() {
            out.push(p);
        }
    }
    out
}

fn finish(args: &[&str], out: std::process::Output) -> Out {
    let o = Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    eprintln!(
        "[dynhost setup {}] exit {:?}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        o.code,
        o.stdout,
        o.stderr
    );
    assert_no_secret("stdout", &o.stdout);
    assert_no_secret("stderr", &o.stderr);
    o
}

/// `br0` standing in for the WAN, holding `addr`.
fn wan(addr: &str) {
    bridge("br0");
    ip(&["addr", "add", addr, "dev", "br0"]);
}

const SETUP: &[&str] = &["--zone", ZONE, "--subdomain", "home", "--interface", "br0"];

#[test]
fn the_fake_verifies_signatures_exactly_as_the_official_client_signs() {
    // The vectors were computed by OVH's Python client; its secret is in ovh-api.md.
    let vectors = include_str!("data/ovh-api-signature-vectors.jsonl");
    let secret = "EXEgWIz07P0HYwtQDs7cNIqCiQaWSuHF";
    let mut checked = 0;
    for line in vectors.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let h = &v["headers"];
        let Some(sig) = h["X-Ovh-Signature"].as_str() else {
            continue;
        };
        let args = (
            h["X-Ovh-Consumer"].as_str().unwrap(),
            v["method"].as_str().unwrap(),
            v["url"].as_str().unwrap(),
            v["body"].as_str().unwrap(),
            h["X-Ovh-Timestamp"].as_str().unwrap(),
        );
        let got = ovh_api::expected_signature(secret, args.0, args.1, args.2, args.3, args.4);
        assert_eq!(got, sig, "{line}");
        let tampered = ovh_api::expected_signature(secret, args.0, args.1, args.2, "x", args.4);
        assert_ne!(tampered, sig);
        checked += 1;
    }
    assert_eq!(checked, 7);
    assert!(ovh_api::rule_matches(
        "/domain/zone/a/dynHost/*",
        "/domain/zone/a/dynHost/login"
    ));
    assert!(!ovh_api::rule_matches(
        "/domain/zone/a/record/*",
        "/domain/zone/a/record"
    ));
}

#[test]
fn setup_makes_login_record_and_config_then_the_daemon_publishes_it() {
    in_netns(|| {
        wan("203.0.113.7/24");
        // No --interface: the default route's is taken, as the embedded default does.
        ip(&[
            "route",
            "add",
            "default",
            "via",
            "203.0.113.1",
            "dev",
            "br0",
        ]);
        let provider = Provider::start();
        let bed = Bed::new("flow", AHEAD, &provider.url());
        let before = bed.config_text();

        let out = bed.run(&["--zone", ZONE, "--subdomain", "home"]);
        assert_eq!(out.code, Some(0), "{}", out.all());
        for needle in [
            format!("the DynHost login {LOGIN} for {HOST}"),
            format!("the DynHost record {HOST} → {ADDR}"),
            "the zone example.com was refreshed".into(),
            "check: ".into(),
            ": OK, 1 record(s), 1 enabled".into(),
            "next: ".into(),
            format!("LoadCredential={HOST}.secret:"),
        ] {
            assert!(out.stdout.contains(&needle), "{needle}: {}", out.stdout);
        }
        // The account: one login for home, its password the file's, one record.
        let zone = bed.api.zone(ZONE);
        let login = zone.logins.get(LOGIN).expect("the login was created");
        assert_eq!(login.sub_domain, "home");
        assert_eq!(login.password, bed.password());
        assert!(login.password.len() >= 20);
        let records: Vec<_> = zone.dyn_records.values().collect();
        assert_eq!(records.len(), 1);
        assert_eq!(
            (records[0].sub_domain.as_str(), records[0].ip.as_str()),
            ("home", ADDR)
        );
        assert_eq!(zone.refreshes, 1);
        // Clock: one /auth/time, and every signed call passed the fake's checks.
        let calls = bed.api.calls();
        assert_eq!(calls.iter().filter(|c| c.path == "/auth/time").count(), 1);
        assert!(calls.iter().all(|c| c.status == 200), "{calls:#?}");
        assert!(
            calls
                .iter()
                .filter(|c| c.path != "/auth/time")
                .all(|c| c.auth == AuthKind::Signed)
        );
        // The refresh goes out without a body, the creating calls with compact JSON.
        let refresh = calls.iter().find(|c| c.path.ends_with("/refresh")).unwrap();
        assert!(refresh.body.is_empty() && refresh.content_type.is_none());
        let post = calls
            .iter()
            .find(|c| c.method == "POST" && c.path.ends_with("/dynHost/record"))
            .unwrap();
        assert_eq!(
            post.body,
            format!(r#"{{"ip":"{ADDR}","subDomain":"home"}}"#)
        );
        // The password file: 0600, one line. The config: every old byte, then the record.
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(bed.password_file())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let after = bed.config_text();
        assert!(after.starts_with(&before), "the old text is kept:\n{after}");
        let added = &after[before.len()..];
        assert!(
            added.contains("[[record]]\nhostname = \"home.example.com\"\nusername = \"example.com-home\"\npassword_file = \"home.example.com.secret\"\ninterface = \"br0\"\n"),
            "{added}"
        );

        // A second identical run changes nothing and says so.
        let mark = bed.api.calls().len();
        let again = bed.run(&["--zone", ZONE, "--subdomain", "home"]);
        assert_eq!(again.code, Some(0), "{}", again.all());
        assert!(
            again.stdout.contains("nothing to change"),
            "{}",
            again.stdout
        );
        assert!(
            bed.api.changes_since(mark).is_empty(),
            "{:#?}",
            bed.api.changes_since(mark)
        );
        assert_eq!(bed.config_text(), after);
        assert_eq!(bed.api.zone(ZONE).refreshes, 1);
        bed.assert_files_clean();

        // The daemon publishes the record setup wrote, with the password setup made.
        let agent = Agent::start(&bed.cfg, &[]);
        let reqs = provider.wait_for(1, Duration::from_secs(10));
        assert_eq!(reqs.len(), 1, "{}", agent.log());
        let r = &reqs[0];
        assert_eq!(r.param("hostname"), Some(HOST));
        assert_eq!(r.param("myip"), Some(ADDR));
        assert_eq!(
            r.basic_auth,
            Some((LOGIN.to_string(), bed.password())),
            "the daemon authenticates with the login and password setup made"
        );
        agent.wait_log("published", Duration::from_secs(10));
        assert!(agent.stop().success());
        bed.assert_files_clean();
    });
}

#[test]
fn the_api_clock_behind_ours_is_followed_too_and_local_clock_signatures_fail() {
    in_netns(|| {
        wan("203.0.113.7/24");
        let bed = Bed::new("clock", -AHEAD, "http://127.0.0.1:9/nic/update");
        let out = bed.run(&["--list", "--zone", ZONE]);
        assert_eq!(out.code, Some(0), "{}", out.all());
        // /auth/time says our own clock: the signatures then carry it, and the fake,
        // two hours behind, refuses them, as OVH would.
        bed.api
            .inject("GET", "/auth/time", Fault::TimeLie(AHEAD), 1);
        let t0 = unix_now();
        let out = bed.run(SETUP);
        let t1 = unix_now();
        assert_eq!(out.code, Some(1), "{}", out.all());
        assert!(out.stderr.contains("Query out of time"), "{}", out.stderr);
        // Both clocks are shown: ours, and the fake's from its answer's Date.
        let theirs = |t: i64| format!("OVH's clock says {}", ovh_hour(t + -AHEAD));
        assert!(
            out.stderr.contains("this machine's clock says")
                && (out.stderr.contains(&theirs(t0)) || out.stderr.contains(&theirs(t1)))
                && out.stderr.contains("/auth/time"),
            "{}: {}",
            theirs(t0),
            out.stderr
        );
        assert!(out.stderr.contains("Nothing was changed"), "{}", out.stderr);
        assert!(bed.api.changes_since(0).is_empty());
    });
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `YYYY-MM-DDTHH:` of Unix time `t` (the hour is enough to tell the clocks apart).
fn ovh_hour(t: i64) -> String {
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{t}"), "+%Y-%m-%dT%H:"])
        .output()
        .expect("date(1)");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn rotate_password_sets_a_new_one_and_changes_nothing_else() {
    in_netns(|| {
        wan("203.0.113.7/24");
        let bed = Bed::new("rotate", AHEAD, "http://127.0.0.1:9/nic/update");
        assert_eq!(bed.run(SETUP).code, Some(0));
        let old = bed.password();
        let config = bed.config_text();
        let mark = bed.api.calls().len();
        let out = bed.run(&[SETUP, &["--rotate-password"]].concat());
        assert_eq!(out.code, Some(0), "{}", out.all());
        let changes = bed.api.changes_since(mark);
        assert_eq!(changes.len(), 1, "{changes:#?}");
        assert!(
            changes[0]
                .path
                .ends_with(&format!("/dynHost/login/{LOGIN}/changePassword"))
        );
        let new = bed.password();
        assert_ne!(new, old);
        assert_eq!(bed.api.zone(ZONE).logins[LOGIN].password, new);
        assert_eq!(bed.config_text(), config);
        assert!(
            out.stdout.contains("a new password on the DynHost login"),
            "{}",
            out.stdout
        );
        bed.assert_files_clean();
    });
}

#[test]
fn list_shows_the_zones_logins_and_records() {
    in_netns(|| {
        wan("203.0.113.7/24");
        let bed = Bed::new("list", AHEAD, "http://127.0.0.1:9/nic/update");
        assert_eq!(bed.run(SETUP).code, Some(0));
        let out = bed.run(&["--list", "--zone", ZONE]);
        assert_eq!(out.code, Some(0), "{}", out.all());
        assert!(
            out.stdout.contains("DynHost logins in example.com: 1"),
            "{}",
            out.stdout
        );
        assert!(
            out.stdout.contains(&format!("{LOGIN}  for {HOST}")),
            "{}",
            out.stdout
        );
        assert!(
            out.stdout.contains(&format!("{HOST} → {ADDR}")),
            "{}",
            out.stdout
        );
    });
}

#[test]
fn remove_asks_first_then_deletes_the_record_then_the_login() {
    in_netns(|| {
        wan("203.0.113.7/24");
        let bed = Bed::new("remove", AHEAD, "http://127.0.0.1:9/nic/update");
        assert_eq!(bed.run(SETUP).code, Some(0));
        let remove = ["--remove", "--zone", ZONE, "--subdomain", "home"];
        // Not a terminal and no --yes: refused, nothing deleted.
        let mark = bed.api.calls().len();
        let out = bed.run(&remove);
        assert_eq!(out.code, Some(2), "{}", out.all());
        assert!(out.stderr.contains("pass --yes"), "{}", out.stderr);
        assert!(bed.api.changes_since(mark).is_empty());
        // --dry-run shows the deletes and makes none.
        let out = bed.run(&[&remove[..], &["--dry-run"]].concat());
        assert_eq!(out.code, Some(0), "{}", out.all());
        assert!(
            out.stdout.contains(
                "dry run: would call DELETE /domain/zone/example.com/dynHost/login/example.com-home"
            ),
            "{}",
            out.stdout
        );
        assert!(bed.api.changes_since(mark).is_empty());
        let out = bed.run(&[&remove[..], &["--yes"]].concat());
        assert_eq!(out.code, Some(0), "{}", out.all());
        let order: Vec<String> = bed
            .api
            .changes_since(mark)
            .iter()
            .map(|c| format!("{} {}", c.method, c.path))
            .collect();
        assert_eq!(order.len(), 3, "{order:?}");
        assert!(order[0].starts_with("DELETE /domain/zone/example.com/dynHost/record/"));
        assert_eq!(order[1], "POST /domain/zone/example.com/refresh");
        assert_eq!(
            order[2],
            format!("DELETE /domain/zone/example.com/dynHost/login/{LOGIN}")
        );
        let zone = bed.api.zone(ZONE);
        assert!(zone.logins.is_empty() && zone.dyn_records.is_empty());
        assert!(
            out.stdout
                .contains("still has the record for home.example.com"),
            "{}",
            out.stdout
        );
    });
}

#[test]
fn dry_run_prints_every_call_and_changes_nothing() {
    in_netns(|| {
        wan("203.0.113.7/24");
        let bed = Bed::new("dry", AHEAD, "http://127.0.0.1:9/nic/update");
        let before = bed.config_text();
        let out = bed.run(&[SETUP, &["--dry-run"]].concat());
        assert_eq!(out.code, Some(0), "{}", out.all());
        for needle in [
            "dry run: GET /domain/zone/example.com (a read: made)",
            r#"dry run: would call POST /domain/zone/example.com/dynHost/login {"loginSuffix":"home","password":"<redacted>","subDomain":"home"}"#,
            r#"dry run: would call POST /domain/zone/example.com/dynHost/record {"ip":"203.0.113.7","subDomain":"home"}"#,
            "dry run: would call POST /domain/zone/example.com/refresh",
            "dry run: would write the new password to",
            "dry run: would add to",
            "[[record]]\nhostname = \"home.example.com\"",
            "check (the config as it would be)",
            "setup would make 4 change(s)",
        ] {
            assert!(out.stdout.contains(needle), "{needle}\n{}", out.stdout);
        }
        assert!(
            bed.api.changes_since(0).is_empty(),
            "{:#?}",
            bed.api.changes_since(0)
        );
        assert!(bed.api.passwords().is_empty(), "no password was sent");
        assert!(!bed.password_file().exists());
        assert_eq!(bed.config_text(), before);
    });
}

#[test]
fn a_conflicting_a_record_is_refused_with_the_fix_then_replaced() {
    in_netns(|| {
        wan("203.0.113.7/24");
        let bed = Bed::new("conflict", AHEAD, "http://127.0.0.1:9/nic/update");
        let id = bed.api.add_record(ZONE, "A", "home", "198.51.100.1");
        let out = bed.run(SETUP);
        assert_eq!(out.code, Some(1), "{}", out.all());
        assert!(
            out.stderr
                .contains(&format!("home.example.com already has an ordinary record in the zone: A record {id} (198.51.100.1)")),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("--replace-record") && out.stderr.contains("Nothing was changed")
        );
        assert!(bed.api.changes_since(0).is_empty());
        assert!(!bed.password_file().exists());

        let out = bed.run(&[SETUP, &["--replace-record"]].concat());
        assert_eq!(out.code, Some(0), "{}", out.all());
        let order: Vec<String> = bed
            .api
            .changes_since(0)
            .iter()
            .map(|c| format!("{} {}", c.method, c.path))
            .collect();
        assert_eq!(
            order,
            vec![
                "POST /domain/zone/example.com/dynHost/login".to_string(),
                format!("DELETE /domain/zone/example.com/record/{id}"),
                "POST /domain/zone/example.com/dynHost/record".to_string(),
                "POST /domain/zone/example.com/refresh".to_string(),
            ]
        );
        assert!(bed.api.zone(ZONE).records.is_empty());
    });
}

/// The environment a run gets.
type Env = Vec<(String, String)>;

/// One API fault, its expected exit code and the words that name the fix.
struct Case {
    name: &'static str,
    arrange: Box<dyn Fn(&Bed) -> Env>,
    args: Vec<&'static str>,
    code: i32,
    needles: Vec<&'static str>,
}

fn signed_env(ak: &str, secret: &str, ck: &str) -> Env {
    vec![
        ("OVH_APPLICATION_KEY".into(), ak.into()),
        ("OVH_APPLICATION_SECRET".into(), secret.into()),
        ("OVH_CONSUMER_KEY".into(), ck.into()),
    ]
}

fn default_env(bed: &Bed) -> Vec<(String, String)> {
    let a = &bed.api;
    signed_env(&a.application_key, &a.application_secret, &a.consumer_key)
}

#[test]
fn each_api_error_gets_a_sentence_that_names_the_fix() {
    in_netns(|| {
        wan("203.0.113.7/24");
        let cases: Vec<Case> = vec![
            Case {
                name: "NOT_GRANTED_CALL names the method and path",
                arrange: Box::new(|b| {
                    let rules: Vec<(String, String)> = ovh_api::setup_rules(ZONE)
                        .into_iter()
                        .filter(|(m, p)| !(m == "POST" && p.ends_with("/dynHost/*")))
                        .collect();
                    let ck = b.api.add_credential(rules, true);
                    let a = &b.api;
                    signed_env(&a.application_key, &a.application_secret, &ck)
                }),
                args: SETUP.to_vec(),
                code: 1,
                needles: vec![
                    "OVH refused POST /domain/zone/example.com/dynHost/login",
                    "NOT_GRANTED_CALL",
                    "--request-token",
                    "Nothing was changed",
                ],
            },
            Case {
                name: "an unknown consumer key",
                arrange: Box::new(|b| {
                    let ck = ovh_api::random_token(32);
                    forbid_secret(&ck);
                    let a = &b.api;
                    signed_env(&a.application_key, &a.application_secret, &ck)
                }),
                args: SETUP.to_vec(),
                code: 1,
                needles: vec!["NOT_CREDENTIAL", "--request-token"],
            },
            Case {
                name: "a consumer key not validated yet",
                arrange: Box::new(|b| {
                    let ck = b.api.add_credential(ovh_api::setup_rules(ZONE), false);
                    let a = &b.api;
                    signed_env(&a.application_key, &a.application_secret, &ck)
                }),
                args: SETUP.to_vec(),
                code: 1,
                needles: vec!["INVALID_CREDENTIAL", "not validated yet", "validation URL"],
            },
            Case {
                name: "an unknown application key",
                arrange: Box::new(|b| {
                    let a = &b.api;
                    signed_env("NoSuchAppKey0000", &a.application_secret, &a.consumer_key)
                }),
                args: SETUP.to_vec(),
                code: 1,
                needles: vec!["INVALID_KEY", "createApp"],
            },
            Case {
                name: "a wrong application secret",
                arrange: Box::new(|b| {
                    let wrong = ovh_api::random_token(32);
                    forbid_secret(&wrong);
                    let a = &b.api;
                    signed_env(&a.application_key, &wrong, &a.consumer_key)
                }),
                args: SETUP.to_vec(),
                code: 1,
                needles: vec!["signature is invalid", "application_secret"],
            },
            Case {
                name: "a zone that is not in the account",
                arrange: Box::new(|b| {
                    let ck = b
                        .api
                        .add_credential(ovh_api::setup_rules("example.org"), true);
                    let a = &b.api;
                    signed_env(&a.application_key, &a.application_secret, &ck)
                }),
                args: vec![
                    "--zone",
                    "example.org",
                    "--subdomain",
                    "home",
                    "--interface",
                    "br0",
                ],
                code: 1,
                needles: vec![
                    "the zone example.org is not in this OVH account",
                    "404",
                    "--zone",
                ],
            },
            Case {
                name: "409: the login exists",
                arrange: Box::new(|b| {
                    b.api.inject(
                        "POST",
                        "/dynHost/login",
                        Fault::Json(409, r#"{"class":"Client::Conflict::AlreadyExists","message":"This login already exists"}"#.into()),
                        1,
                    );
                    default_env(b)
                }),
                args: SETUP.to_vec(),
                code: 1,
                needles: vec![
                    "409: This login already exists",
                    "--list",
                    "Nothing was changed",
                ],
            },
            Case {
                name: "460: the service has expired",
                arrange: Box::new(|b| {
                    b.api.inject(
                        "GET",
                        "/domain/zone/example.com",
                        Fault::Json(460, r#"{"class":"Client::ServiceExpired","message":"This service is expired"}"#.into()),
                        1,
                    );
                    default_env(b)
                }),
                args: SETUP.to_vec(),
                code: 1,
                needles: vec!["460: This service is expired", "Renew the domain"],
            },
            Case {
                name: "a 5xx twice stops",
                arrange: Box::new(|b| {
                    b.api.inject(
                        "GET",
                        "/domain/zone/example.com",
                        Fault::Json(503, "{}".into()),
                        2,
                    );
                    default_env(b)
                }),
                args: SETUP.to_vec(),
                code: 1,
                needles: vec!["HTTP 503, twice", "a problem on OVH's side"],
            },
            Case {
                name: "a body that is not JSON",
                arrange: Box::new(|b| {
                    b.api.inject(
                        "GET",
                        "/domain/zone/example.com",
                        Fault::Text(200, "<html>captive portal</html>".into()),
                        1,
                    );
                    default_env(b)
                }),
                args: SETUP.to_vec(),
                code: 1,
                needles: vec!["is not JSON", "captive portal in the way"],
            },
            Case {
                name: "a redirect is not followed",
                arrange: Box::new(move |b| {
                    let to = format!("{}/elsewhere", b.api.url());
                    b.api.inject(
                        "GET",
                        "/domain/zone/example.com",
                        Fault::Redirect(302, to),
                        1,
                    );
                    default_env(b)
                }),
                args: SETUP.to_vec(),
                code: 1,
                needles: vec!["redirect (HTTP 302 to https://127.0.0.1:", "never followed"],
            },
            Case {
                name: "no credentials at all",
                arrange: Box::new(|_| vec![]),
                args: SETUP.to_vec(),
                code: 78,
                needles: vec!["no OVH API credentials", "createApp"],
            },
            Case {
                name: "no consumer key",
                arrange: Box::new(|b| {
                    let a = &b.api;
                    vec![
                        ("OVH_APPLICATION_KEY".into(), a.application_key.clone()),
                        (
                            "OVH_APPLICATION_SECRET".into(),
                            a.application_secret.clone(),
                        ),
                    ]
                }),
                args: SETUP.to_vec(),
                code: 78,
                needles: vec!["no consumer key", "--request-token"],
            },
        ];
        for case in cases {
            eprintln!("=== {}", case.name);
            let bed = Bed::new("errors", AHEAD, "http://127.0.0.1:9/nic/update");
            let env = (case.arrange)(&bed);
            let out = bed.run_env(&case.args, &env, true);
            assert_eq!(out.code, Some(case.code), "{}: {}", case.name, out.all());
            for n in &case.needles {
                assert!(
                    out.stderr.contains(n),
                    "{}: {n:?} missing in\n{}",
                    case.name,
                    out.stderr
                );
            }
            assert!(
                bed.api.changes_since(0).iter().all(|c| c.status != 200),
                "{}",
                case.name
            );
            assert!(!bed.password_file().exists(), "{}", case.name);
            assert!(
                bed.config_text().starts_with(CONFIG_HEAD)
                    && !bed.config_text().contains("[[record]]")
            );
            assert!(
                bed.api
                    .calls()
                    .iter()
                    .all(|c| !c.path.ends_with("/elsewhere")),
                "{}",
                case.name
            );
        }
    });
}

#[test]
fn a_5xx_is_retried_once_and_a_create_is_never_doubled() {
    in_netns(|| {
        wan("203.0.113.7/24");
        // A read and the refresh: retried once, then fine.
        let bed = Bed::new("retry", AHEAD, "http://127.0.0.1:9/nic/update");
        bed.api.inject(
            "GET",
            "/domain/zone/example.com",
            Fault::Json(500, "{}".into()),
            1,
        );
        bed.api
            .inject("POST", "/refresh", Fault::Json(502, "{}".into()), 1);
        // The record is created, but the answer is a 500: setup looks before sending again.
        bed.api.inject(
            "POST",
            "/dynHost/record",
            Fault::ApplyThen(500, "{}".into()),
            1,
        );
        let out = bed.run(SETUP);
        assert_eq!(out.code, Some(0), "{}", out.all());
        assert_eq!(bed.api.count("GET", "/domain/zone/example.com"), 2);
        assert_eq!(bed.api.count("POST", "/refresh"), 2);
        assert_eq!(bed.api.count("POST", "/dynHost/record"), 1);
        assert_eq!(bed.api.zone(ZONE).dyn_records.len(), 1);

        // A create that failed without effect is sent once more.
        let bed = Bed::new("retry2", AHEAD, "http://127.0.0.1:9/nic/update");
        bed.api
            .inject("POST", "/dynHost/record", Fault::Json(500, "{}".into()), 1);
        let out = bed.run(SETUP);
        assert_eq!(out.code, Some(0), "{}", out.all());
        assert_eq!(bed.api.count("POST", "/dynHost/record"), 2);
        assert_eq!(bed.api.zone(ZONE).dyn_records.len(), 1);
    });
}

#[test]
fn a_failure_half_way_says_what_exists_and_a_rerun_completes_it() {
    in_netns(|| {
        wan("203.0.113.7/24");
        let bed = Bed::new("halfway", AHEAD, "http://127.0.0.1:9/nic/update");
        let before = bed.config_text();
        bed.api
            .inject("POST", "/refresh", Fault::Json(503, "{}".into()), 2);
        let out = bed.run(SETUP);
        assert_eq!(out.code, Some(1), "{}", out.all());
        for needle in [
            "What exists now:",
            &format!("the DynHost login {LOGIN} for {HOST}; its password is in"),
            &format!("the DynHost record {HOST} → {ADDR}"),
            "Not done yet:",
            "refresh the zone example.com",
            "add the record for home.example.com to",
            "Run the same command again",
        ] {
            assert!(out.stderr.contains(needle), "{needle}\n{}", out.stderr);
        }
        // The password file depends on the login only; the config waits for everything.
        assert!(bed.password_file().exists());
        assert_eq!(bed.config_text(), before);
        let mark = bed.api.calls().len();
        let out = bed.run(SETUP);
        assert_eq!(out.code, Some(0), "{}", out.all());
        let changes: Vec<String> = bed
            .api
            .changes_since(mark)
            .iter()
            .map(|c| format!("{} {}", c.method, c.path))
            .collect();
        assert_eq!(
            changes,
            vec!["POST /domain/zone/example.com/refresh".to_string()]
        );
        assert_eq!(bed.api.zone(ZONE).refreshes, 1);
        assert!(bed.config_text().contains("[[record]]"));
        assert_eq!(bed.api.zone(ZONE).logins[LOGIN].password, bed.password());
    });
}

#[test]
fn a_login_made_whose_password_was_never_saved_gets_a_new_one_on_the_rerun() {
    in_netns(|| {
        wan("203.0.113.7/24");
        let bed = Bed::new("lost", AHEAD, "http://127.0.0.1:9/nic/update");
        // OVH makes the login, and the answer never arrives.
        bed.api
            .inject("POST", "/dynHost/login", Fault::ApplyThenReset, 1);
        let out = bed.run(SETUP);
        assert_eq!(out.code, Some(1), "{}", out.all());
        assert!(
            out.stderr
                .contains("it is not known whether OVH applied this step"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("Run the same command again"),
            "{}",
            out.stderr
        );
        assert!(bed.api.zone(ZONE).logins.contains_key(LOGIN));
        assert!(!bed.password_file().exists());
        assert!(!bed.config_text().contains("[[record]]"));

        let mark = bed.api.calls().len();
        let out = bed.run(SETUP);
        assert_eq!(out.code, Some(0), "{}", out.all());
        assert!(
            bed.api.count("POST", "/changePassword") == 1,
            "{:#?}",
            bed.api.changes_since(mark)
        );
        assert_eq!(bed.api.zone(ZONE).logins[LOGIN].password, bed.password());
        assert!(bed.config_text().contains("[[record]]"));
        assert_eq!(bed.api.zone(ZONE).dyn_records.len(), 1);
    });
}

#[test]
fn no_publishable_address_stops_before_anything_is_created() {
    in_netns(|| {
        wan("10.0.0.2/24");
        let bed = Bed::new("noaddr", AHEAD, "http://127.0.0.1:9/nic/update");
        let out = bed.run(SETUP);
        assert_eq!(out.code, Some(1), "{}", out.all());
        assert!(out.stderr.contains("there is no ipv4 address to publish for home.example.com now (br0: 10.0.0.2 is private (RFC 1918))"), "{}", out.stderr);
        assert!(out.stderr.contains("--ip ADDR") && out.stderr.contains("Nothing was changed"));
        assert!(bed.api.changes_since(0).is_empty());
        // --ip gives it.
        let out = bed.run(&[SETUP, &["--ip", "198.51.100.9"]].concat());
        assert_eq!(out.code, Some(0), "{}", out.all());
        assert_eq!(
            bed.api.zone(ZONE).dyn_records.values().next().unwrap().ip,
            "198.51.100.9"
        );
    });
}

#[test]
fn ipv6_makes_a_second_dynhost_record() {
    in_netns(|| {
        wan("203.0.113.7/24");
        ip(&["addr", "add", "2001:db8::7/64", "dev", "br0", "nodad"]);
        let bed = Bed::new("ipv6", AHEAD, "http://127.0.0.1:9/nic/update");
        let out = bed.run(&[SETUP, &["--ipv6"]].concat());
        assert_eq!(out.code, Some(0), "{}", out.all());
        let mut ips: Vec<String> = bed
            .api
            .zone(ZONE)
            .dyn_records
            .values()
            .map(|r| r.ip.clone())
            .collect();
        ips.sort();
        assert_eq!(ips, vec!["2001:db8::7".to_string(), ADDR.to_string()]);
        assert!(bed.config_text().contains("ipv6 = true\n"));
    });
}

#[test]
fn a_uci_config_gets_a_config_record_section() {
    in_netns(|| {
        wan("203.0.113.7/24");
        let bed = Bed::new("uci", AHEAD, "http://127.0.0.1:9/nic/update");
        let etc = bed.dir.join("etc");
        let config_dir = etc.join("config");
        std::fs::create_dir_all(&config_dir).unwrap();
        let uci = config_dir.join("dynhost");
        let before = format!(
            "# OpenWrt: keep me\nconfig dynhost 'global'\n\toption state_dir '{}'\n\toption url 'http://127.0.0.1:9/nic/update'\n",
            bed.dir.join("state").display()
        );
        std::fs::write(&uci, &before).unwrap();
        std::fs::write(
            config_dir.join("network"),
            "config interface 'wan'\n\toption device 'br0'\n\toption proto 'static'\n",
        )
        .unwrap();
        let env = default_env(&bed);
        let args = ["--zone", ZONE, "--subdomain", "home", "--interface", "wan"];
        let mut cmd = bed.command_for(&uci, &args, &env, true);
        let out = finish(&args, cmd.output().unwrap());
        assert_eq!(out.code, Some(0), "{}", out.all());
        let after = std::fs::read_to_string(&uci).unwrap();
        assert!(after.starts_with(&before), "{after}");
        let secret = etc.join("dynhost").join(format!("{HOST}.secret"));
        assert!(
            after.contains(&format!(
                "config record 'home_example_com'\n\toption hostname 'home.example.com'\n\toption username 'example.com-home'\n\toption password_file '{}'\n\toption interface 'wan'\n",
                secret.display()
            )),
            "{after}"
        );
        assert!(secret.exists());
        assert_eq!(
            bed.api.zone(ZONE).dyn_records.values().next().unwrap().ip,
            ADDR
        );
        let check = Command::new(BIN)
            .arg("-c")
            .arg(&uci)
            .arg("check")
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stderr)
        );
        assert!(
            String::from_utf8_lossy(&check.stdout)
                .contains("interface = \"br0\"  # OpenWrt interface \"wan\"")
        );
    });
}

#[test]
fn oauth2_client_credentials_get_a_bearer_token() {
    in_netns(|| {
        wan("203.0.113.7/24");
        let bed = Bed::new("oauth2", AHEAD, "http://127.0.0.1:9/nic/update");
        let env = vec![
            ("OVH_CLIENT_ID".to_string(), bed.api.client_id.clone()),
            (
                "OVH_CLIENT_SECRET".to_string(),
                bed.api.client_secret.clone(),
            ),
        ];
        let out = bed.run_env(SETUP, &env, true);
        assert_eq!(out.code, Some(0), "{}", out.all());
        let calls = bed.api.calls();
        assert_eq!(calls[0].path, "/auth/oauth2/token");
        assert_eq!(calls[0].body, "grant_type=client_credentials&scope=all");
        assert_eq!(calls[0].status, 200);
        assert!(
            calls.iter().all(|c| c.path != "/auth/time"),
            "no clock needed"
        );
        assert!(
            calls[1..]
                .iter()
                .all(|c| c.auth == AuthKind::Bearer && c.status == 200),
            "{calls:#?}"
        );
        assert!(bed.api.zone(ZONE).logins.contains_key(LOGIN));
        // A wrong secret is refused with the fix.
        let wrong = ovh_api::random_token(32);
        forbid_secret(&wrong);
        let env = vec![
            ("OVH_CLIENT_ID".to_string(), bed.api.client_id.clone()),
            ("OVH_CLIENT_SECRET".to_string(), wrong),
        ];
        let out = bed.run_env(&["--list", "--zone", ZONE], &env, true);
        assert_eq!(out.code, Some(1), "{}", out.all());
        assert!(
            out.stderr
                .contains("the OAuth2 token request failed: HTTP 401: invalid_client"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("client_secret"), "{}", out.stderr);
    });
}

#[test]
fn credentials_come_from_ovh_conf_files_as_the_official_client_reads_them() {
    in_netns(|| {
        wan("203.0.113.7/24");
        let bed = Bed::new("ovhconf", AHEAD, "http://127.0.0.1:9/nic/update");
        let section = bed.api.url();
        // ./ovh.conf names the endpoint and the key; ~/.ovh.conf adds the secrets, and a
        // wrong key of its own that ./ovh.conf overrides.
        std::fs::write(
            bed.work.join("ovh.conf"),
            format!("[default]\n; the fake API\nendpoint={section}\n\n[{section}]\napplication_key={}\n", bed.api.application_key),
        )
        .unwrap();
        std::fs::write(
            bed.home.join(".ovh.conf"),
            format!(
                "[{section}]\napplication_key = WrongKey00000000\napplication_secret = {}\nconsumer_key = {}\n",
                bed.api.application_secret, bed.api.consumer_key
            ),
        )
        .unwrap();
        let ca = bed.api.ca_pem().display().to_string();
        let out = bed.run_env(&["--list", "--zone", ZONE, "--ca-file", &ca], &[], false);
        assert_eq!(out.code, Some(0), "{}", out.all());
        // The environment wins over every file, key by key.
        let ck = ovh_api::random_token(32);
        forbid_secret(&ck);
        let out = bed.run_env(
            &["--list", "--zone", ZONE, "--ca-file", &ca],
            &[("OVH_CONSUMER_KEY".into(), ck)],
            false,
        );
        assert_eq!(out.code, Some(1), "{}", out.all());
        assert!(out.stderr.contains("NOT_CREDENTIAL"), "{}", out.stderr);
        // A broken file names its line, never its values.
        std::fs::write(
            bed.work.join("ovh.conf"),
            format!("application_key={}\n", bed.api.application_key),
        )
        .unwrap();
        let out = bed.run_env(&["--list", "--zone", ZONE, "--ca-file", &ca], &[], false);
        assert_eq!(out.code, Some(78), "{}", out.all());
        assert!(
            out.stderr
                .contains("ovh.conf: line 1: a key before any [section]"),
            "{}",
            out.stderr
        );
        bed.assert_files_clean();
    });
}

#[test]
fn request_token_asks_for_exactly_the_rights_setup_then_uses() {
    in_netns(|| {
        wan("203.0.113.7/24");
        let bed = Bed::new("token", AHEAD, "http://127.0.0.1:9/nic/update");
        let app = vec![
            (
                "OVH_APPLICATION_KEY".to_string(),
                bed.api.application_key.clone(),
            ),
            (
                "OVH_APPLICATION_SECRET".to_string(),
                bed.api.application_secret.clone(),
            ),
        ];
        // A dry run prints the request and sends nothing.
        let out = bed.run_env(
            &["--request-token", "--zone", ZONE, "--dry-run"],
            &app,
            true,
        );
        assert_eq!(out.code, Some(0), "{}", out.all());
        assert!(out.stdout.contains(r#"dry run: would call POST /auth/credential {"accessRules":[{"method":"GET","path":"/domain/zone/example.com"}"#), "{}", out.stdout);
        assert!(bed.api.calls().is_empty());

        let mut cmd = bed.command(&["--request-token", "--zone", ZONE], &app, true);
        let raw = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&raw.stdout).into_owned();
        assert!(
            raw.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&raw.stderr)
        );
        let ck = stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("export OVH_CONSUMER_KEY="))
            .expect("the consumer key is printed")
            .to_string();
        // The new key is printed on purpose; every other output must not show it.
        assert_no_secret("stderr", &String::from_utf8_lossy(&raw.stderr));
        assert!(!String::from_utf8_lossy(&raw.stderr).contains(&ck));
        forbid_secret(&ck);
        assert!(
            stdout.contains("https://www.example.com/auth/?credentialToken="),
            "{stdout}"
        );
        let call = bed.api.calls().pop().unwrap();
        assert_eq!(
            (call.path.as_str(), call.auth.clone()),
            ("/auth/credential", AuthKind::Application)
        );
        let cred = bed.api.credential(&ck).expect("the fake holds the request");
        let mut want = ovh_api::setup_rules(ZONE);
        let mut got = cred.rules.clone();
        want.sort();
        got.sort();
        assert_eq!(got, want, "exactly README's rights");

        let env = vec![
            app[0].clone(),
            app[1].clone(),
            ("OVH_CONSUMER_KEY".to_string(), ck.clone()),
        ];
        let out = bed.run_env(SETUP, &env, true);
        assert_eq!(out.code, Some(1));
        assert!(out.stderr.contains("not validated yet"), "{}", out.stderr);
        bed.api.validate(&ck);
        let mark = bed.api.calls().len();
        // With those rights alone: the whole flow, replacing a record, listing, removing.
        bed.api.add_record(ZONE, "AAAA", "home", "2001:db8::99");
        for args in [
            [SETUP, &["--replace-record"]].concat(),
            [SETUP, &["--rotate-password"]].concat(),
            vec!["--list", "--zone", ZONE],
            vec!["--remove", "--zone", ZONE, "--subdomain", "home", "--yes"],
        ] {
            let out = bed.run_env(&args, &env, true);
            assert_eq!(out.code, Some(0), "{args:?}: {}", out.all());
        }
        let after: Vec<_> = bed.api.calls().into_iter().skip(mark).collect();
        assert!(after.iter().all(|c| c.status == 200), "{after:#?}");
        assert!(
            after
                .iter()
                .any(|c| c.method == "DELETE" && c.path.contains("/record/")),
            "--replace-record used its right"
        );
        // OAuth2 accounts have IAM policies instead.
        let oauth = vec![
            ("OVH_CLIENT_ID".to_string(), bed.api.client_id.clone()),
            (
                "OVH_CLIENT_SECRET".to_string(),
                bed.api.client_secret.clone(),
            ),
        ];
        let out = bed.run_env(&["--request-token"], &oauth, true);
        assert_eq!(out.code, Some(78));
        assert!(
            out.stderr.contains("IAM policy")
                && out.stderr.contains("dnsZone:apiovh:dynHost/login/create"),
            "{}",
            out.stderr
        );
    });
}

#[test]
fn secrets_stay_out_of_the_process_list_and_every_file_but_their_own() {
    in_netns(|| {
        wan("203.0.113.7/24");
        let bed = Bed::new("ps", AHEAD, "http://127.0.0.1:9/nic/update");
        // Hold setup half-way for a moment, and look at it from outside meanwhile.
        bed.api.inject(
            "GET",
            "/dynHost/record",
            Fault::Delay(Duration::from_millis(1500)),
            1,
        );
        let env = default_env(&bed);
        let child = bed
            .command(SETUP, &env, true)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(700));
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", child.id())).unwrap();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(cmdline.contains("setup --zone example.com"), "{cmdline}");
        assert_no_secret("/proc/PID/cmdline", &cmdline);
        // What `ps -eo args` shows: every process's /proc/PID/cmdline.
        let mut seen = 0;
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            if e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
                && let Ok(c) = std::fs::read(e.path().join("cmdline"))
            {
                assert_no_secret("the process list", &String::from_utf8_lossy(&c));
                seen += 1;
            }
        }
        assert!(seen > 1, "read the process list");
        let out = child.wait_with_output().unwrap();
        let out = finish(SETUP, out);
        assert_eq!(out.code, Some(0), "{}", out.all());
        // Trace level shows the calls, never a secret.
        assert!(out.stderr.contains("OVH API"), "{}", out.stderr);
        bed.assert_files_clean();
    });
}

#[test]
fn an_existing_different_record_for_the_name_is_refused_before_any_change() {
    in_netns(|| {
        wan("203.0.113.7/24");
        let bed = Bed::new("differs", AHEAD, "http://127.0.0.1:9/nic/update");
        let mut text = bed.config_text();
        text.push_str(&agent::record(HOST, "eth9", ""));
        std::fs::write(&bed.cfg, &text).unwrap();
        agent::set_mode(&bed.cfg, 0o600);
        let out = bed.run(SETUP);
        assert_eq!(out.code, Some(78), "{}", out.all());
        assert!(
            out.stderr
                .contains("already has a record for home.example.com"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("interface is \"eth9\""),
            "{}",
            out.stderr
        );
        assert!(bed.api.changes_since(0).is_empty());
        assert_eq!(bed.config_text(), text);
        // A config that does not pass check is not touched, and the API is not asked.
        std::fs::write(&bed.cfg, "debounce = \"soon\"\n").unwrap();
        let out = bed.run(SETUP);
        assert_eq!(out.code, Some(78), "{}", out.all());
        assert!(out.stderr.contains("fix it first"), "{}", out.stderr);
        assert!(bed.api.calls().iter().all(|c| c.method == "GET"));
    });
}

/// Starts `dynhost setup` for `sub` without waiting for it. Its output goes to files
/// (a trace-level log would fill a pipe nobody reads yet).
fn spawn_setup(bed: &Bed, sub: &str) -> std::process::Child {
    let env = default_env(bed);
    let file = |name: &str| std::fs::File::create(bed.dir.join(&format!("{sub}.{name}"))).unwrap();
    bed.command(
        &["--zone", ZONE, "--subdomain", sub, "--interface", "br0"],
        &env,
        true,
    )
    .stdout(file("out"))
    .stderr(file("err"))
    .spawn()
    .expect("cannot run dynhost")
}

fn wait_setup(bed: &Bed, sub: &str, mut child: std::process::Child) -> Out {
    use std::os::unix::process::ExitStatusExt;
    let status = child.wait().unwrap();
    let read = |name: &str| std::fs::read(bed.dir.join(&format!("{sub}.{name}"))).unwrap();
    let out = std::process::Output {
        status: std::process::ExitStatus::from_raw(status.into_raw()),
        stdout: read("out"),
        stderr: read("err"),
    };
    finish(&["setup", sub], out)
}

/// Waits until the fake has created the DynHost record for `sub`: that run has read
/// the config long ago and now waits at its (delayed) refresh.
fn wait_record_created(bed: &Bed, sub: &str, child: &mut std::process::Child) {
    let needle = format!("\"subDomain\":\"{sub}\"");
    agent::wait_until(
        "the DynHost record to be created",
        Duration::from_secs(20),
        || {
            if let Ok(Some(st)) = child.try_wait() {
                panic!("setup {sub} ended early: {st:?}");
            }

            bed.api.calls().iter().any(|c| {
                c.method == "POST"
                    && c.path.ends_with("/dynHost/record")
                    && c.body.contains(&needle)
            })
        },
    );
}

#[test]
fn two_setups_at_once_and_a_hand_edit_during_one_lose_no_record() {
    in_netns(|| {
        wan("203.0.113.7/24");
        let provider = Provider::start();
        let bed = Bed::new("race", AHEAD, &provider.url());
        let head = bed.config_text();

        // Both runs read the config at start, then wait at the refresh: each has read
        // it before either writes.
        bed.api
            .inject("POST", "/refresh", Fault::Delay(Duration::from_secs(2)), 2);
        let home = spawn_setup(&bed, "home");
        let office = spawn_setup(&bed, "office");
        let (home, office) = (
            wait_setup(&bed, "home", home),
            wait_setup(&bed, "office", office),
        );
        assert_eq!(home.code, Some(0), "{}", home.all());
        assert_eq!(office.code, Some(0), "{}", office.all());
        let text = bed.config_text();
        assert!(text.starts_with(&head), "{text}");
        for host in ["home.example.com", "office.example.com"] {
            assert_eq!(
                text.matches(&format!("hostname = \"{host}\"")).count(),
                1,
                "{host} once:\n{text}"
            );
        }

        // A record added by hand while a run waits for the API is kept, and the run's
        // record follows it.
        bed.api
            .inject("POST", "/refresh", Fault::Delay(Duration::from_secs(3)), 1);
        let mut garage = spawn_setup(&bed, "garage");
        wait_record_created(&bed, "garage", &mut garage);
        let by_hand = "\n[[record]]\nhostname = \"cellar.example.com\"\nusername = \"u\"\n\
                       password_file = \"home.example.com.secret\"\ninterface = \"br0\"\n";
        let before = bed.config_text();
        std::fs::write(&bed.cfg, format!("{before}{by_hand}")).unwrap();
        let garage = wait_setup(&bed, "garage", garage);
        assert_eq!(garage.code, Some(0), "{}", garage.all());
        let text = bed.config_text();
        assert!(text.starts_with(&format!("{before}{by_hand}")), "{text}");
        assert!(text.contains("hostname = \"garage.example.com\""), "{text}");
        let checked = agent::run(&bed.cfg, &["check"]);
        assert_eq!(checked.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&checked.stdout).contains("4 record(s)"));

        // A hand edit that is not an append (a setting changed) is kept; the run says
        // which file changed and writes nothing.
        bed.api
            .inject("POST", "/refresh", Fault::Delay(Duration::from_secs(3)), 1);
        let mut attic = spawn_setup(&bed, "attic");
        wait_record_created(&bed, "attic", &mut attic);
        let edited = bed.config_text().replace(
            "# The fake dyndns2 provider.",
            "# The fake provider, edited.",
        );
        std::fs::write(&bed.cfg, &edited).unwrap();
        let attic = wait_setup(&bed, "attic", attic);
        assert_ne!(attic.code, Some(0), "{}", attic.all());
        let cfg = bed.cfg.canonicalize().unwrap();
        assert!(
            attic
                .stderr
                .contains(&format!("{} changed since it was read", cfg.display())),
            "{}",
            attic.stderr
        );
        assert_eq!(bed.config_text(), edited);
        bed.assert_files_clean();
    });
}
