//! Notifications (issue 20): each service's request as its API documents it, against a
//! loopback server that records requests whole; `dynhost notify --test` and `check`
//! with the real binary; the command's environment; the queue surviving `kill -9`;
//! hostile targets never delaying a publish; tokens absent from logs and `ps`.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use support::agent::{self, Agent, Scratch, forbid_secret, record, text, wait_until, write_config};
use support::netns::{in_netns, move_addr};
use support::scene::Scene;

// ---- a loopback server that records whole requests ------------------------------------

#[derive(Clone, Debug)]
struct Req {
    method: String,
    /// Path and query, as sent.
    target: String,
    /// Names lower-cased.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} {}: body is not JSON ({e}): {:?}",
                self.method, self.target, self.body
            )
        })
    }
}

/// What the server does with a request.
#[derive(Clone)]
enum Answer {
    Status(u16, &'static str),
    /// Reads the request and never answers.
    Hang,
    /// 200 with 50 MB of body.
    Huge,
    /// 302 to another place.
    Redirect,
}

type Route = dyn Fn(&Req) -> Answer + Send + Sync;

struct Server {
    addr: SocketAddr,
    reqs: Arc<Mutex<Vec<Req>>>,
    stop: Arc<AtomicBool>,
}

impl Server {
    fn start(route: impl Fn(&Req) -> Answer + Send + Sync + 'static) -> Server {
        Server::start_on("127.0.0.1:0".parse().unwrap(), route)
    }

    fn start_on(
        bind: SocketAddr,
        route: impl Fn(&Req) -> Answer + Send + Sync + 'static,
    ) -> Server {
        let listener = TcpListener::bind(bind).expect("bind the notification server");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let reqs = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let route: Arc<Route> = Arc::new(route);
        let (r, s) = (reqs.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (r, s, route) = (r.clone(), s.clone(), route.clone());
                        std::thread::spawn(move || serve(conn, &r, &s, &*route));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Server { addr, reqs, stop }
    }

    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn requests(&self) -> Vec<Req> {
        self.reqs.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.reqs.lock().unwrap().len()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(mut conn: TcpStream, reqs: &Mutex<Vec<Req>>, stop: &AtomicBool, route: &Route) {
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match conn.read(&mut byte) {
            Ok(1) if head.len() < 65536 => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let (method, target) = (
        first.next().unwrap_or_default().to_string(),
        first.next().unwrap_or_default().to_string(),
    );
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len.min(1 << 20)];
    if conn.read_exact(&mut body).is_err() {
        return;
    }
    let req = Req {
        method,
        target,
        headers,
        body,
    };
    let answer = route(&req);
    reqs.lock().unwrap().push(req);
    match answer {
        Answer::Status(code, body) => {
            let ct = if body.starts_with('{') {
                "application/json"
            } else {
                "text/plain"
            };
            let _ = conn.write_all(
                format!(
                    "HTTP/1.1 {code} X\r\nContent-Type: {ct}\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
        Answer::Hang => {
            let t = Instant::now();
            while !stop.load(Ordering::Relaxed) && t.elapsed() < Duration::from_secs(120) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Answer::Huge => {
            let _ = conn.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 50000000\r\n\r\n",
            );
            let chunk = vec![b'x'; 65536];
            for _ in 0..(50_000_000 / 65536) {
                if conn.write_all(&chunk).is_err() {
                    return;
                }
            }
        }
        Answer::Redirect => {
            let _ = conn.write_all(
                b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/elsewhere\r\n\
                  Content-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    }
}

// ---- each scheme, through the library --------------------------------------------------

const NTFY_TOKEN: &str = "tk_ntfy-secret-123";
const GOTIFY_TOKEN: &str = "AbCdEf123456789";
const DISCORD_TOKEN: &str = "discord-secret-tok";
const SLACK_X: &str = "cccccccccccccSecretSlack1";
const TELEGRAM_SECRET: &str = "tgSecret_987";
const GENERIC_PATH: &str = "generic-secret-path";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn each_scheme_sends_what_its_service_documents() {
    let server = Server::start(|r| {
        if r.target.starts_with("/services/") {
            Answer::Status(200, "ok")
        } else if r.target.contains("/sendMessage") {
            Answer::Status(200, r#"{"ok":true,"result":{"message_id":1}}"#)
        } else if r.target.starts_with("/api/webhooks/") {
            Answer::Status(204, "")
        } else {
            Answer::Status(200, r#"{"id":1}"#)
        }
    });
    let host = server.addr.to_string();
    let urls = [
        format!(
            "ntfy://:{NTFY_TOKEN}@{host}/home-topic?scheme=http&title=Hello&priority=4&tags=house,warning"
        ),
        format!("gotify://{host}/sub/{GOTIFY_TOKEN}?disabletls=yes&priority=7"),
        format!("discord://{DISCORD_TOKEN}@987654321"),
        format!("slack://hook:T0AAAAAAA-B0BBBBBBB-{SLACK_X}@webhook"),
        format!("telegram://12345:{TELEGRAM_SECRET}@telegram?chats=-100123,@chan,77:9"),
        format!("generic+http://{host}/{GENERIC_PATH}?k=v"),
    ];
    let setup = dynhost::notify::Setup {
        settings: dynhost::notify::Settings {
            urls: urls
                .iter()
                .map(|u| dynhost::secret::Secret::new(u.clone()))
                .collect(),
            ..Default::default()
        },
        state_dir: std::env::temp_dir(),
        metrics_file: None,
        live: true,
        endpoints: dynhost::notify::Endpoints {
            discord: server.base(),
            slack: server.base(),
            telegram: server.base(),
        },
        command_timeout: dynhost::notify::COMMAND_TIMEOUT,
    };
    let results = runtime().block_on(dynhost::notify::test_all(&setup, 1_700_000_000));
    for r in &results {
        let line = r.as_ref().unwrap_or_else(|e| panic!("{e}"));
        for secret in [
            NTFY_TOKEN,
            GOTIFY_TOKEN,
            DISCORD_TOKEN,
            SLACK_X,
            TELEGRAM_SECRET,
            GENERIC_PATH,
        ] {
            assert!(!line.contains(secret), "{line}");
        }
    }
    assert_eq!(results.len(), 6);
    let reqs = server.requests();
    let find = |prefix: &str| -> Vec<Req> {
        reqs.iter()
            .filter(|r| r.target.starts_with(prefix))
            .cloned()
            .collect()
    };
    let message = "This is a test notification from dynhost (dynhost notify --test).";

    // ntfy publish: POST /<topic>, the message as the body, options as headers, an
    // access token as Basic auth with an empty user.
    let n = &find("/home-topic")[0];
    assert_eq!(
        (n.method.as_str(), n.target.as_str()),
        ("POST", "/home-topic")
    );
    assert_eq!(n.body, message.as_bytes());
    assert_eq!(n.header("title"), Some("Hello"));
    assert_eq!(n.header("priority"), Some("4"));
    assert_eq!(n.header("tags"), Some("house,warning"));
    let basic = n
        .header("authorization")
        .unwrap()
        .strip_prefix("Basic ")
        .unwrap();
    let decoded = support::provider::base64_decode(basic).unwrap();
    assert_eq!(decoded, format!(":{NTFY_TOKEN}").as_bytes());

    // Gotify: POST <sub>/message, JSON, the app token in X-Gotify-Key.
    let g = &find("/sub/message")[0];
    assert_eq!(g.method, "POST");
    assert_eq!(g.header("x-gotify-key"), Some(GOTIFY_TOKEN));
    assert_eq!(g.header("content-type"), Some("application/json"));
    let b = g.json();
    assert_eq!(
        (b["message"].as_str(), b["priority"].as_i64()),
        (Some(message), Some(7))
    );
    assert!(b["title"].as_str().unwrap().starts_with("dynhost: test"));

    // Discord: POST /api/webhooks/<id>/<token>, JSON content.
    let d = &find("/api/webhooks/")[0];
    assert_eq!(d.target, format!("/api/webhooks/987654321/{DISCORD_TOKEN}"));
    assert_eq!(d.header("content-type"), Some("application/json"));
    assert!(d.json()["content"].as_str().unwrap().contains(message));

    // Slack incoming webhook: POST /services/T/B/X, JSON text.
    let s = &find("/services/")[0];
    assert_eq!(s.target, format!("/services/T0AAAAAAA/B0BBBBBBB/{SLACK_X}"));
    assert!(s.json()["text"].as_str().unwrap().contains(message));

    // Telegram: POST /bot<token>/sendMessage, one per chat, chat ids as numbers where
    // they are numbers, a thread as message_thread_id.
    let t = find("/bot");
    assert_eq!(t.len(), 3);
    for r in &t {
        assert_eq!(r.target, format!("/bot12345:{TELEGRAM_SECRET}/sendMessage"));
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    let mut chats: Vec<String> = t.iter().map(|r| r.json()["chat_id"].to_string()).collect();
    chats.sort();
    assert_eq!(chats, ["\"@chan\"", "-100123", "77"]);
    let threaded = t.iter().find(|r| r.json()["chat_id"] == 77).unwrap();
    assert_eq!(threaded.json()["message_thread_id"], 9);
    assert!(t[0].json()["text"].as_str().unwrap().contains(message));

    // Generic: POST the same URL, the event's fields as JSON.
    let j = &find(&format!("/{GENERIC_PATH}"))[0];
    assert_eq!(j.target, format!("/{GENERIC_PATH}?k=v"));
    let b = j.json();
    assert_eq!(b["event"], "test");
    assert_eq!(b["message"], message);
    assert_eq!(b["time"], 1_700_000_000);
    for k in [
        "hostname", "family", "address", "previous", "reply", "dns", "title",
    ] {
        assert!(b.get(k).is_some(), "{k} missing in {b}");
    }
}

// ---- the binary: notify --test, check --------------------------------------------------

fn notify_config(dir: &Scratch, notify: &str) -> std::path::PathBuf {
    let body = format!(
        "{}\n[notify]\n{notify}\n",
        record("home.example.com", "br0", "")
    );
    write_config(dir, "http://127.0.0.1:9/nic/update", &body)
}

#[test]
fn notify_test_says_which_target_failed_and_where() {
    forbid_secret(GOTIFY_TOKEN);
    forbid_secret(GENERIC_PATH);
    let ok = Server::start(|_| Answer::Status(200, "{}"));
    let bad = Server::start(|_| Answer::Status(500, "boom"));
    let dir = Scratch::new("notify-test");
    let cfg = notify_config(
        &dir,
        &format!(
            "urls = [\"generic+http://{}/{GENERIC_PATH}\", \"gotify://{}/{GOTIFY_TOKEN}?disabletls=yes\"]\n\
             command = [\"/bin/false\"]\n",
            ok.addr, bad.addr
        ),
    );
    let out = agent::run(&cfg, &["notify", "--test"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "generic+http://{}/<redacted> (notify.urls[0]): delivered",
            ok.addr
        )),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!(
            "gotify://{}/<redacted> (notify.urls[1]): HTTP 500: boom",
            bad.addr
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("/bin/false (notify.command): /bin/false failed"),
        "{stderr}"
    );
    assert_eq!((ok.count(), bad.count()), (1, 1));
    assert_eq!(bad.requests()[0].header("x-gotify-key"), Some(GOTIFY_TOKEN));
}

#[test]
fn check_locates_a_bad_url_and_redacts_good_ones() {
    forbid_secret("topic-secret-42");
    let dir = Scratch::new("notify-check");
    let cfg = notify_config(
        &dir,
        "urls = [\"ntfy://ntfy.sh/topic-secret-42\",\n  \"mailto://topic-secret-42@x\"]\n",
    );
    let out = agent::run(&cfg, &["check"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    let written = std::fs::read_to_string(&cfg).unwrap();
    let line = written.lines().position(|l| l.starts_with("urls")).unwrap() + 1;
    assert!(stderr.contains(&format!("config.toml:{line}:")), "{stderr}");
    assert!(
        stderr.contains("notify.urls: [1]: unknown scheme \"mailto\""),
        "{stderr}"
    );

    let cfg = notify_config(
        &dir,
        "urls = [\"ntfy://ntfy.sh/topic-secret-42\"]\nheartbeat_url = \"https://hc-ping.com/topic-secret-42\"\nheartbeat = \"1d\"\n",
    );
    let out = agent::run(&cfg, &["check"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains("urls = [\"ntfy://ntfy.sh/<redacted>\"]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("heartbeat_url = \"https://hc-ping.com/<redacted>\""),
        "{stdout}"
    );
    assert!(stdout.contains("heartbeat = \"1d\""), "{stdout}");
}

#[test]
fn the_command_gets_the_event_and_no_inherited_environment() {
    let dir = Scratch::new("notify-env");
    let out_file = dir.join("env.out");
    let cfg = notify_config(
        &dir,
        &format!(
            "command = [\"/bin/sh\", \"-c\", \"env > {}\"]\n",
            out_file.display()
        ),
    );
    let mut cmd = std::process::Command::new(agent::BIN);
    cmd.arg("-c")
        .arg(&cfg)
        .args(["notify", "--test"])
        .env("INHERITED_SECRET", "must-not-pass-1234")
        .env("HOME", "/root-of-test");
    let out = agent::run_command(cmd, &["notify", "--test"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let env = std::fs::read_to_string(&out_file).unwrap();
    for want in [
        "DYNHOST_EVENT=test",
        "DYNHOST_MESSAGE=This is a test notification from dynhost (dynhost notify --test).",
        "DYNHOST_FAMILY=",
        "DYNHOST_ADDRESS=",
        "DYNHOST_PREVIOUS=",
        "DYNHOST_REPLY=",
        "DYNHOST_DNS=",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ] {
        assert!(env.lines().any(|l| l == want), "{want} missing in:\n{env}");
    }
    assert!(
        env.lines().any(|l| l.starts_with("DYNHOST_HOSTNAME=")),
        "{env}"
    );
    for absent in ["INHERITED_SECRET", "HOME=", "DYNHOST_LOG", "DYNHOST_CONFIG"] {
        assert!(
            !env.contains(absent),
            "{absent} leaked into the command:\n{env}"
        );
    }
}

// ---- the daemon ------------------------------------------------------------------------

/// The queue file in the scene's state directory.
fn queue_file(scene: &Scene) -> std::path::PathBuf {
    scene.dir.join("state").join("notify-queue")
}

#[test]
fn an_event_queued_before_kill_9_is_delivered_after_restart_once_per_target() {
    in_netns(|| {
        forbid_secret("path-a-secret");
        forbid_secret("path-b-secret");
        let a = Server::start(|_| Answer::Status(200, "{}"));
        // B is not listening yet: its port is taken and let go.
        let b_addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let body = format!(
            "{}\n[notify]\nurls = [\"generic+http://{}/path-a-secret\", \"generic+http://{b_addr}/path-b-secret\"]\n",
            record("home.example.com", "br0", ""),
            a.addr
        );
        let scene = Scene::new("notify-kill", Some("203.0.113.7/24"), &body);
        let agent = scene.start_published(Duration::from_secs(10));
        wait_until("A got the published event", Duration::from_secs(10), || {
            a.count() == 1
        });
        agent.wait_log("notification not delivered", Duration::from_secs(10));
        // A answered and dynhost took note: it must not get the event again.
        agent.wait_log("notification delivered", Duration::from_secs(10));
        assert!(queue_file(&scene).exists(), "the event for B is not queued");
        agent.signal(libc::SIGKILL);
        drop(agent);
        let b = Server::start_on(b_addr, |_| Answer::Status(200, "{}"));
        let agent = Agent::start(&scene.cfg, &[]);
        wait_until(
            "B got the event after the restart",
            Duration::from_secs(10),
            || b.count() == 1,
        );
        agent.wait_log("notification delivered", Duration::from_secs(5));
        support::agent::settle(Duration::from_secs(2));
        assert_eq!((a.count(), b.count()), (1, 1), "each target exactly once");
        let ev = b.requests()[0].json();
        assert_eq!(ev["event"], "published");
        assert_eq!(ev["hostname"], "home.example.com");
        assert_eq!(ev["address"], "203.0.113.7");
        assert_eq!(ev["family"], "ipv4");
        assert_eq!(a.requests()[0].json(), ev);
        assert!(!queue_file(&scene).exists(), "the queue is empty and gone");
        // The history kept it too.
        let out = agent::run(&scene.cfg, &["status", "--history", "--json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["records"][0]["events"][0]["event"], "published");
        agent.stop();
    });
}

#[test]
fn a_one_shot_update_delivers_its_event_pings_and_writes_the_metrics() {
    in_netns(|| {
        forbid_secret("oneshot-secret-path");
        forbid_secret("hc-uuid-secret");
        let target = Server::start(|_| Answer::Status(200, "{}"));
        let hc = Server::start(|_| Answer::Status(200, "OK"));
        let body = format!(
            "metrics_file = \"dynhost.prom\"\n{}\n[notify]\nurls = [\"generic+http://{}/oneshot-secret-path\"]\n\
             heartbeat_url = \"http://{}/hc-uuid-secret\"\n",
            record("home.example.com", "br0", ""),
            target.addr,
            hc.addr
        );
        let scene = Scene::new("notify-oneshot", Some("203.0.113.9/24"), &body);
        let out = agent::run(&scene.cfg, &["update"]);
        assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
        // Delivered before the command returned: nothing is left to wait for.
        assert_eq!(target.count(), 1);
        let ev = target.requests()[0].json();
        assert_eq!(
            (ev["event"].as_str(), ev["address"].as_str()),
            (Some("published"), Some("203.0.113.9"))
        );
        let ping = &hc.requests()[0];
        assert_eq!(
            (ping.method.as_str(), ping.target.as_str()),
            ("POST", "/hc-uuid-secret")
        );
        assert!(!queue_file(&scene).exists());
        let prom = std::fs::read_to_string(scene.dir.join("dynhost.prom")).unwrap();
        let l = "hostname=\"home.example.com\",family=\"ipv4\"";
        for line in [
            format!("dynhost_updates_total{{{l}}} 1"),
            format!("dynhost_last_reply{{{l},class=\"good\"}} 1"),
        ] {
            assert!(prom.lines().any(|x| x == line), "{line} missing:\n{prom}");
        }
        let out = agent::run(&scene.cfg, &["status", "--history"]);
        let (stdout, _) = text(&out);
        assert!(
            stdout.contains("published ipv4  home.example.com (ipv4) now points to 203.0.113.9."),
            "{stdout}"
        );
    });
}

/// A scene whose one notification target is a port nobody listens on (yet).
fn unreached_scene(name: &str, addr: &str) -> (Scene, SocketAddr) {
    let secret = format!("{name}-secret-path");
    forbid_secret(&secret);
    let target = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let body = format!(
        "{}\n[notify]\nurls = [\"generic+http://{target}/{secret}\"]\n",
        record("home.example.com", "br0", "")
    );
    (
        Scene::new(&format!("notify-{name}"), Some(addr), &body),
        target,
    )
}

#[test]
fn a_failed_delivery_of_a_one_shot_update_is_left_for_the_daemon() {
    in_netns(|| {
        let (scene, addr) = unreached_scene("later", "203.0.113.10/24");
        let out = agent::run(&scene.cfg, &["update"]);
        assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
        assert!(
            text(&out).1.contains("left queued for the daemon"),
            "{:?}",
            text(&out)
        );
        assert!(queue_file(&scene).exists());
        let target = Server::start_on(addr, |_| Answer::Status(200, "{}"));
        let agent = Agent::start(&scene.cfg, &[]);
        wait_until(
            "the daemon delivered the one-shot's event",
            Duration::from_secs(10),
            || target.count() == 1,
        );
        assert_eq!(target.requests()[0].json()["address"], "203.0.113.10");
        agent.stop();
    });
}

#[test]
fn a_link_event_retries_an_unreached_target_at_once() {
    in_netns(|| {
        let (scene, addr) = unreached_scene("back", "203.0.113.11/24");
        let agent = scene.start_published(Duration::from_secs(10));
        // Tried at once, then 5 s later: the next try is 10 s after that.
        agent.wait_count("notification not delivered", 2, Duration::from_secs(15));
        let target = Server::start_on(addr, |_| Answer::Status(200, "{}"));
        let t = Instant::now();
        support::netns::bridge("br9");
        wait_until(
            "delivery after the link event",
            Duration::from_secs(5),
            || target.count() == 1,
        );
        eprintln!("delivered {:?} after the link event", t.elapsed());
        assert_eq!(agent.count("notification not delivered"), 2);
        agent.stop();
    });
}

/// The children of `pid`, with their state letter (`Z`: a zombie) and command name.
fn children_of(pid: i32) -> Vec<(i32, char, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_string();
        let mut rest = stat[close + 2..].split(' ');
        let state = rest.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid: i32 = rest.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        if ppid == pid {
            out.push((p, state, comm));
        }
    }
    out
}

#[test]
fn as_pid_1_the_command_and_what_it_started_leave_no_zombie() {
    in_netns(|| {
        let dir_marker = Scratch::new("notify-pid1-marker");
        let ran = dir_marker.join("ran");
        let body = format!(
            "{}\n[notify]\ncommand = [\"/bin/sh\", \"-c\", \"sleep 30 & sleep 0.2 & echo $$ > {}\"]\n",
            record("home.example.com", "br0", ""),
            ran.display()
        );
        let scene = Scene::new("notify-pid1", Some("203.0.113.12/24"), &body);
        let mut cmd = std::process::Command::new("unshare");
        cmd.args(["--pid", "--fork", "--kill-child", agent::BIN, "-c"])
            .arg(&scene.cfg)
            .arg("run");
        let agent = Agent::spawn(cmd);
        scene
            .provider
            .nth(1, Duration::from_secs(10), "the first update");
        agent.wait_log("notification delivered", Duration::from_secs(10));
        assert!(ran.exists(), "the command did not run");
        let init = children_of(agent.pid());
        assert_eq!(init.len(), 1, "unshare's child: {init:?}");
        let (init, _, comm) = init[0].clone();
        assert_eq!(comm, "dynhost");
        // PID 1 stays a small init (src/app/init.rs) with the daemon as its one child;
        // the orphans (both sleeps) were ended and reaped: nothing else is left under
        // either of them.
        let only_the_daemon = || {
            let kids = children_of(init);
            kids.len() == 1 && kids[0].2 == "dynhost" && children_of(kids[0].0).is_empty()
        };
        wait_until(
            "only the daemon left under PID 1, nothing under the daemon",
            Duration::from_secs(3),
            only_the_daemon,
        );
        support::agent::settle(Duration::from_millis(500));
        assert!(
            only_the_daemon(),
            "zombies or leftovers under PID 1: {:?}",
            children_of(init)
        );
        let daemon = init;
        // unshare does not pass SIGTERM on: stop dynhost itself (PID 1 handles it).
        // SAFETY: signals the daemon this test started.
        unsafe { libc::kill(daemon, libc::SIGTERM) };
        let mut agent = agent;
        assert!(
            agent.wait(Duration::from_secs(5)).is_some(),
            "dynhost (PID 1) did not stop"
        );
    });
}

#[test]
fn a_reload_sends_later_events_to_the_new_targets() {
    in_netns(|| {
        let a = Server::start(|_| Answer::Status(200, "{}"));
        let b = Server::start(|_| Answer::Status(200, "{}"));
        let body = |t: &Server| {
            format!(
                "debounce = \"0s\"\n{}\n[notify]\nurls = [\"generic+http://{}/reload\"]\n",
                record("home.example.com", "br0", ""),
                t.addr
            )
        };
        let scene = Scene::new("notify-reload", Some("203.0.113.13/24"), &body(&a));
        let agent = scene.start_published(Duration::from_secs(10));
        wait_until("A got the first event", Duration::from_secs(10), || {
            a.count() == 1
        });
        write_config(&scene.dir, &scene.provider.url(), &body(&b));
        agent.signal(libc::SIGHUP);
        agent.wait_log("config reloaded", Duration::from_secs(5));
        move_addr("br0", "203.0.113.13/24", "203.0.113.14/24");
        wait_until("B got the second event", Duration::from_secs(10), || {
            b.count() == 1
        });
        assert_eq!(b.requests()[0].json()["address"], "203.0.113.14");
        support::agent::settle(Duration::from_millis(500));
        assert_eq!(a.count(), 1);
        agent.stop();
    });
}

#[test]
fn a_refused_update_is_told_as_blocked_and_fails_the_heartbeat() {
    in_netns(|| {
        forbid_secret("hc-blocked-uuid");
        let target = Server::start(|_| Answer::Status(200, "{}"));
        let hc = Server::start(|_| Answer::Status(200, "OK"));
        let body = format!(
            "{}\n[notify]\nurls = [\"generic+http://{}/blocked\"]\nheartbeat_url = \"http://{}/hc-blocked-uuid\"\n",
            record("home.example.com", "br0", ""),
            target.addr,
            hc.addr
        );
        let scene = Scene::new("notify-blocked", Some("203.0.113.16/24"), &body);
        scene
            .provider
            .set_default(support::provider::Reply::Text(200, "badauth".into()));
        let agent = Agent::start(&scene.cfg, &[]);
        wait_until("the blocked event", Duration::from_secs(10), || {
            target.count() == 1
        });
        let ev = target.requests()[0].json();
        assert_eq!(ev["event"], "blocked");
        assert_eq!(ev["reply"], "badauth");
        wait_until("the heartbeat's failure", Duration::from_secs(5), || {
            hc.count() == 1
        });
        let ping = &hc.requests()[0];
        assert_eq!(
            (ping.method.as_str(), ping.target.as_str()),
            ("POST", "/hc-blocked-uuid/fail")
        );
        assert_eq!(ping.body, ev["message"].as_str().unwrap().as_bytes());
        agent.stop();
    });
}

/// Publishes at start, then moves the address and measures the time until the provider
/// gets the second update.
fn publish_latency(name: &str, notify: &str) -> Duration {
    let body = format!(
        "debounce = \"0s\"\n{}\n{notify}\n",
        record("home.example.com", "br0", "")
    );
    let scene = Scene::new(name, Some("203.0.113.7/24"), &body);
    let agent = scene.start_published(Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    move_addr("br0", "203.0.113.7/24", "203.0.113.8/24");
    let second = scene
        .provider
        .nth(2, Duration::from_secs(20), "the second update");
    let took = second.at.saturating_duration_since(t);
    assert_eq!(second.param("myip"), Some("203.0.113.8"));
    // Tokens stay out of every process's command line.
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .expect("ps");
    let ps = String::from_utf8_lossy(&ps.stdout);
    for s in [
        "hang-secret",
        "err-secret",
        "huge-secret",
        "redirect-secret",
    ] {
        assert!(!ps.contains(s), "{s} in ps:\n{ps}");
    }
    agent.stop();
    took
}

/// The hostile targets (a hung server, a 500, a 50 MB answer, a redirect, a command
/// that never exits and floods its output) and the publish latency with them, in a
/// namespace of their own.
fn hostile_latency() -> (Duration, [usize; 4]) {
    let hang = Server::start(|_| Answer::Hang);
    let err = Server::start(|_| Answer::Status(500, "oops"));
    let huge = Server::start(|_| Answer::Huge);
    let redirect = Server::start(|_| Answer::Redirect);
    let took = publish_latency(
        "notify-hostile",
        &format!(
            "[notify]\nurls = [\"generic+http://{}/hang-secret\", \"generic+http://{}/err-secret\", \
             \"generic+http://{}/huge-secret\", \"generic+http://{}/redirect-secret\"]\n\
             command = [\"/bin/sh\", \"-c\", \"yes flood & sleep 1000\"]\n",
            hang.addr, err.addr, huge.addr, redirect.addr
        ),
    );
    (
        took,
        [hang.count(), err.count(), huge.count(), redirect.count()],
    )
}

#[test]
fn hostile_targets_do_not_delay_a_publish() {
    for s in [
        "hang-secret",
        "err-secret",
        "huge-secret",
        "redirect-secret",
    ] {
        forbid_secret(s);
    }
    let baseline = in_netns(|| publish_latency("notify-base", ""));
    let (hostile, counts) = in_netns(hostile_latency);
    eprintln!("publish latency: without notify {baseline:?}, with hostile targets {hostile:?}");
    assert!(
        counts.iter().all(|n| *n >= 1),
        "every hostile target was tried: {counts:?}"
    );
    // The bound is the point: a hung target holds a delivery for 10 s, the command
    // for 30 s; neither may show in the publish.
    assert!(
        hostile < baseline + Duration::from_secs(2),
        "hostile targets delayed the publish: {hostile:?} vs {baseline:?}"
    );
}

// ---- events told by the engine ---------------------------------------------------------

/// The events a target got, by name.
fn names(target: &Server) -> Vec<String> {
    target
        .requests()
        .iter()
        .map(|r| r.json()["event"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn a_failure_past_the_third_attempt_is_told_once_then_recovered() {
    in_netns(|| {
        let target = Server::start(|_| Answer::Status(200, "{}"));
        let body = format!(
            "[retry]\ninitial = \"1s\"\nmax = \"1s\"\n\n{}\n[notify]\n\
             urls = [\"generic+http://{}/episode\"]\n\
             events = [\"published\", \"failed\", \"recovered\"]\n",
            record("home.example.com", "br0", ""),
            target.addr
        );
        let scene = Scene::new("notify-failed", Some("203.0.113.17/24"), &body);
        for _ in 0..4 {
            scene
                .provider
                .push(support::provider::Reply::Text(503, "busy".into()));
        }
        let agent = Agent::start(&scene.cfg, &[]);
        scene
            .provider
            .nth(5, Duration::from_secs(20), "the update after four 503s");
        wait_until("three events", Duration::from_secs(10), || {
            target.count() == 3
        });
        support::agent::settle(Duration::from_secs(1));
        assert_eq!(names(&target), ["failed", "published", "recovered"]);
        let failed = target.requests()[0].json();
        assert_eq!(failed["reply"], "HTTP 503");
        assert_eq!(failed["address"], "203.0.113.17");
        assert!(
            failed["message"]
                .as_str()
                .unwrap()
                .contains("after 3 attempts"),
            "{failed}"
        );
        agent.stop();
    });
}

#[test]
fn a_carrier_grade_nat_address_is_unavailable_once_then_recovered() {
    in_netns(|| {
        let target = Server::start(|_| Answer::Status(200, "{}"));
        let body = format!(
            "{}\n[notify]\nurls = [\"generic+http://{}/cgnat\"]\n\
             events = [\"published\", \"unavailable\", \"recovered\"]\n",
            record("home.example.com", "br0", ""),
            target.addr
        );
        let scene = Scene::new("notify-cgnat", Some("100.64.0.5/24"), &body);
        let agent = Agent::start(&scene.cfg, &[]);
        wait_until("unavailable", Duration::from_secs(10), || {
            target.count() == 1
        });
        // Another address behind the same NAT: the same episode, nothing new.
        move_addr("br0", "100.64.0.5/24", "100.64.0.6/24");
        support::agent::settle(Duration::from_secs(2));
        assert_eq!(names(&target), ["unavailable"]);
        let ev = target.requests()[0].json();
        assert!(
            ev["message"].as_str().unwrap().contains("carrier-grade"),
            "{ev}"
        );
        move_addr("br0", "100.64.0.6/24", "203.0.113.18/24");
        wait_until("recovered and published", Duration::from_secs(10), || {
            target.count() == 3
        });
        assert_eq!(names(&target), ["unavailable", "recovered", "published"]);
        assert_eq!(target.requests()[2].json()["address"], "203.0.113.18");
        assert_eq!(scene.provider.count(), 1, "nothing sent while unavailable");
        agent.stop();
    });
}
