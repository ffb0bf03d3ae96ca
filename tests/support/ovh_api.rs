//! A loopback fake of the OVH API (`/1.0`) for `dynhost setup`: HTTPS with a test CA,
//! an in-memory zone (DynHost logins and records, ordinary records, refreshes), its own
//! clock offset from the test's, `/auth/credential`, the OAuth2 token endpoint, and
//! signature and access-rule checks as OVH makes them. Any call can be given an error.
//! Every call is recorded (method, path, query, body, status, how it authenticated).
//!
//! Threads: one accept thread and one per connection (one request per connection).
//! Dropping the [`OvhApi`] stops them.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::agent::forbid_secret;

/// A timestamp further than this from the fake's clock is "out of time".
pub const TIME_WINDOW: i64 = 60;
const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 1024 * 1024;

/// How a call authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthKind {
    None,
    /// Application key only (`POST /auth/credential`).
    Application,
    /// Application key, consumer key, timestamp and signature.
    Signed,
    Bearer,
    /// The OAuth2 token endpoint's Basic client authentication.
    Basic,
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    /// After `/1.0`, without the query (`/domain/zone/example.com/dynHost/login`).
    pub path: String,
    pub query: String,
    pub body: String,
    pub content_type: Option<String>,
    pub auth: AuthKind,
    pub status: u16,
}

impl Call {
    pub fn is_change(&self) -> bool {
        self.method != "GET" && self.path.starts_with("/domain/")
    }
}

/// What an injected fault does to a matching call.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer this status and JSON body instead (nothing is applied).
    Json(u16, String),
    /// Answer this status with a non-JSON body.
    Text(u16, String),
    /// Answer a redirect to this location.
    Redirect(u16, String),
    /// Wait, then handle the call normally.
    Delay(Duration),
    /// Apply the call, then answer this status and JSON body.
    ApplyThen(u16, String),
    /// Apply the call, then reset the connection without answering.
    ApplyThenReset,
    /// `/auth/time` answers the clock shifted by this many seconds (the verifier keeps
    /// the true one).
    TimeLie(i64),
    /// Hold the call this long, then reset the connection without applying it (a call
    /// under way when the client is killed).
    HoldThenReset(Duration),
    /// Answer 429 with `Retry-After: N` (nothing is applied).
    RateLimited(u64),
}

/// Called on each `POST /domain/zone/{zone}/refresh`, before it is answered, with the
/// zone's name and its records: what the zone's DNS servers serve from then on.
pub type OnRefresh = Box<dyn Fn(&str, &Zone) + Send + Sync>;

struct Injected {
    method: String,
    path: String,
    fault: Fault,
    left: usize,
}

#[derive(Clone, Debug)]
pub struct FakeLogin {
    pub sub_domain: String,
    pub password: String,
}

#[derive(Clone, Debug)]
pub struct FakeDynRecord {
    pub sub_domain: String,
    pub ip: String,
}

#[derive(Clone, Debug)]
pub struct FakeRecord {
    pub field_type: String,
    pub sub_domain: String,
    pub target: String,
}

#[derive(Clone, Debug, Default)]
pub struct Zone {
    pub logins: BTreeMap<String, FakeLogin>,
    pub dyn_records: BTreeMap<u64, FakeDynRecord>,
    pub records: BTreeMap<u64, FakeRecord>,
    pub refreshes: usize,
}

#[derive(Clone, Debug)]
pub struct Credential {
    pub application_key: String,
    /// (METHOD, path pattern); `*` matches any run of characters.
    pub rules: Vec<(String, String)>,
    pub validated: bool,
}

struct State {
    clock_offset: i64,
    apps: HashMap<String, String>,
    credentials: HashMap<String, Credential>,
    oauth_clients: HashMap<String, String>,
    tokens: HashSet<String>,
    zones: BTreeMap<String, Zone>,
    calls: Vec<Call>,
    faults: Vec<Injected>,
    next_id: u64,
    passwords: Vec<String>,
}

struct Shared {
    state: Mutex<State>,
    stop: AtomicBool,
    live: Mutex<HashMap<u64, TcpStream>>,
    next_conn: AtomicU64,
    on_refresh: Mutex<Option<OnRefresh>>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The fake API. Its credentials are random per instance and registered with the
/// harness as secrets that must never appear in dynhost's output.
pub struct OvhApi {
    shared: Arc<Shared>,
    listener: Arc<TcpListener>,
    addr: SocketAddr,
    ca_pem: PathBuf,
    pub application_key: String,
    pub application_secret: String,
    pub consumer_key: String,
    pub client_id: String,
    pub client_secret: String,
    accept: Option<JoinHandle<()>>,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Random letters and digits (the fake's keys; OVH's look alike).
pub fn random_token(len: usize) -> String {
    use ring::rand::SecureRandom;
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut raw = vec![0u8; len];
    ring::rand::SystemRandom::new()
        .fill(&mut raw)
        .expect("random bytes");
    raw.iter()
        .map(|b| char::from(A[usize::from(*b) % A.len()]))
        .collect()
}

/// The signature OVH expects, computed here on its own (checked against the official
/// client's vectors in tests/setup.rs).
pub fn expected_signature(
    application_secret: &str,
    consumer_key: &str,
    method: &str,
    url: &str,
    body: &str,
    timestamp: &str,
) -> String {
    let text = [
        application_secret,
        consumer_key,
        method,
        url,
        body,
        timestamp,
    ]
    .join("+");
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, text.as_bytes());
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("$1${hex}")
}

/// `*` matches any run of characters.
pub fn rule_matches(pattern: &str, path: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == path,
        Some((head, tail)) => {
            let Some(rest) = path.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len()).any(|i| rest.is_char_boundary(i) && rule_matches(tail, &rest[i..]))
        }
    }
}

/// The rights `dynhost setup` needs on `zone`: the list in README.
pub fn setup_rules(zone: &str) -> Vec<(String, String)> {
    let b = format!("/domain/zone/{zone}");
    [
        ("GET", b.clone()),
        ("GET", format!("{b}/record")),
        ("GET", format!("{b}/record/*")),
        ("DELETE", format!("{b}/record/*")),
        ("GET", format!("{b}/dynHost/*")),
        ("POST", format!("{b}/dynHost/*")),
        ("PUT", format!("{b}/dynHost/*")),
        ("DELETE", format!("{b}/dynHost/*")),
        ("POST", format!("{b}/refresh")),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_string(), p))
    .collect()
}

impl OvhApi {
    /// Starts on 127.0.0.1 with a fresh CA (written to `dir/ca.pem`), the zone
    /// `example.com`, and a validated consumer key holding [`setup_rules`]. The fake's
    /// clock is `clock_offset` seconds from the test's.
    pub fn start(dir: &Path, clock_offset: i64) -> OvhApi {
        std::fs::create_dir_all(dir).expect("fake API: TLS dir");
        let (tls, ca) = tls_config();
        let ca_pem = dir.join("ca.pem");
        std::fs::write(&ca_pem, ca).expect("fake API: write ca.pem");
        let application_key = random_token(16);
        let application_secret = random_token(32);
        let consumer_key = random_token(32);
        let client_id = random_token(16);
        let client_secret = random_token(32);
        for s in [&application_secret, &consumer_key, &client_secret] {
            forbid_secret(s);
        }
        let mut zones = BTreeMap::new();
        zones.insert("example.com".to_string(), Zone::default());
        let mut credentials = HashMap::new();
        credentials.insert(
            consumer_key.clone(),
            Credential {
                application_key: application_key.clone(),
                rules: setup_rules("example.com"),
                validated: true,
            },
        );
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                clock_offset,
                apps: HashMap::from([(application_key.clone(), application_secret.clone())]),
                credentials,
                oauth_clients: HashMap::from([(client_id.clone(), client_secret.clone())]),
                tokens: HashSet::new(),
                zones,
                calls: Vec::new(),
                faults: Vec::new(),
                next_id: 100,
                passwords: Vec::new(),
            }),
            stop: AtomicBool::new(false),
            live: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(0),
            on_refresh: Mutex::new(None),
        });
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").expect("fake API: bind"));
        let addr = listener.local_addr().expect("fake API: addr");
        let accept = {
            let shared = shared.clone();
            let listener = listener.clone();
            let tls = Arc::new(tls);
            thread::spawn(move || accept_loop(&listener, &shared, &tls))
        };
        OvhApi {
            shared,
            listener,
            addr,
            ca_pem,
            application_key,
            application_secret,
            consumer_key,
            client_id,
            client_secret,
            accept: Some(accept),
        }
    }

    /// The API base: `https://127.0.0.1:PORT/1.0`.
    pub fn url(&self) -> String {
        format!("https://{}/1.0", self.addr)
    }

    pub fn ca_pem(&self) -> &Path {
        &self.ca_pem
    }

    /// The signed-credential environment for dynhost.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OVH_APPLICATION_KEY", self.application_key.clone()),
            ("OVH_APPLICATION_SECRET", self.application_secret.clone()),
            ("OVH_CONSUMER_KEY", self.consumer_key.clone()),
        ]
    }

    /// The fake's clock now.
    pub fn now(&self) -> i64 {
        unix_now() + self.shared.state().clock_offset
    }

    /// The next `times` calls of `method` whose path (after `/1.0`, no query) ends
    /// with `path` get `fault`.
    pub fn inject(&self, method: &str, path: &str, fault: Fault, times: usize) {
        self.shared.state().faults.push(Injected {
            method: method.into(),
            path: path.into(),
            fault,
            left: times,
        });
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.state().calls.clone()
    }

    /// Calls that would change the zone (not GET), from index `from` on.
    pub fn changes_since(&self, from: usize) -> Vec<Call> {
        self.calls()
            .into_iter()
            .skip(from)
            .filter(Call::is_change)
            .collect()
    }

    pub fn count(&self, method: &str, path_suffix: &str) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.method == method && c.path.ends_with(path_suffix))
            .count()
    }

    pub fn zone(&self, name: &str) -> Zone {
        self.shared
            .state()
            .zones
            .get(name)
            .cloned()
            .unwrap_or_default()
    }

    pub fn add_zone(&self, name: &str) {
        self.shared
            .state()
            .zones
            .insert(name.into(), Zone::default());
    }

    /// An ordinary record in `zone`; returns its id.
    pub fn add_record(&self, zone: &str, field_type: &str, sub: &str, target: &str) -> u64 {
        let mut st = self.shared.state();
        st.next_id += 1;
        let id = st.next_id;
        st.zones.entry(zone.into()).or_default().records.insert(
            id,
            FakeRecord {
                field_type: field_type.into(),
                sub_domain: sub.into(),
                target: target.into(),
            },
        );
        id
    }

    /// A consumer key of the fake's application with `rules`.
    pub fn add_credential(&self, rules: Vec<(String, String)>, validated: bool) -> String {
        let ck = random_token(32);
        forbid_secret(&ck);
        self.shared.state().credentials.insert(
            ck.clone(),
            Credential {
                application_key: self.application_key.clone(),
                rules,
                validated,
            },
        );
        ck
    }

    pub fn credential(&self, ck: &str) -> Option<Credential> {
        self.shared.state().credentials.get(ck).cloned()
    }

    /// The user opened the validation URL and granted the rights.
    pub fn validate(&self, ck: &str) {
        if let Some(c) = self.shared.state().credentials.get_mut(ck) {
            c.validated = true;
        }
    }

    /// What a refresh publishes (API mode's tests point it at BIND).
    pub fn on_refresh(&self, f: OnRefresh) {
        *self.shared.on_refresh.lock().unwrap() = Some(f);
    }

    /// Moves the fake's clock (the client's clock jumped the other way).
    pub fn set_clock_offset(&self, offset: i64) {
        self.shared.state().clock_offset = offset;
    }

    /// Changes a record's target behind the client's back (the control panel).
    pub fn set_target(&self, zone: &str, id: u64, target: &str) {
        if let Some(r) = self
            .shared
            .state()
            .zones
            .get_mut(zone)
            .and_then(|z| z.records.get_mut(&id))
        {
            r.target = target.into();
        }
    }

    /// The ids and targets of `zone`'s records of this type and subdomain.
    pub fn targets(&self, zone: &str, field_type: &str, sub: &str) -> Vec<(u64, String)> {
        self.zone(zone)
            .records
            .iter()
            .filter(|(_, r)| r.field_type == field_type && r.sub_domain == sub)
            .map(|(id, r)| (*id, r.target.clone()))
            .collect()
    }

    /// Every DynHost password the fake was sent.
    pub fn passwords(&self) -> Vec<String> {
        self.shared.state().passwords.clone()
    }
}

impl Drop for OvhApi {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // SAFETY: shutting down our own listening socket wakes the blocked accept().
        let rc = unsafe { libc::shutdown(self.listener.as_raw_fd(), libc::SHUT_RDWR) };
        for (_, s) in self
            .shared
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
        {
            let _ = s.shutdown(Shutdown::Both);
        }
        if let Some(h) = self.accept.take()
            && rc == 0
        {
            let _ = h.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, tls: &Arc<rustls::ServerConfig>) {
    loop {
        let accepted = listener.accept();
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok((stream, _)) = accepted else {
            thread::sleep(Duration::from_millis(20));
            continue;
        };
        let id = shared.next_conn.fetch_add(1, Ordering::SeqCst);
        if let Ok(c) = stream.try_clone() {
            shared
                .live
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id, c);
        }
        let sh = shared.clone();
        let tls = tls.clone();
        thread::spawn(move || {
            let _ = handle(stream, &sh, tls);
            sh.live
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
        });
    }
}

type Tls = rustls::StreamOwned<rustls::ServerConnection, TcpStream>;

struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn read_request(conn: &mut Tls) -> io::Result<Option<Request>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_string();
    let target = first.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    if len > MAX_BODY {
        return Ok(None);
    }
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(len);
    Ok(Some(Request {
        method,
        target,
        headers,
        body,
    }))
}

/// What to send back.
enum Answer {
    Json(u16, String),
    Text(u16, String),
    Redirect(u16, String),
    Reset,
    Limited(u64),
}

fn handle(stream: TcpStream, shared: &Shared, tls: Arc<rustls::ServerConfig>) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    let conn = rustls::ServerConnection::new(tls).map_err(io::Error::other)?;
    let mut conn = rustls::StreamOwned::new(conn, stream);
    let Some(req) = read_request(&mut conn)? else {
        return Ok(());
    };
    let answer = respond(shared, &req);
    let date = http_date(unix_now() + shared.state().clock_offset);
    match answer {
        Answer::Reset => {
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: setsockopt on our own socket with a properly sized struct.
            unsafe {
                libc::setsockopt(
                    conn.sock.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&linger as *const libc::linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                );
            }
            Ok(())
        }
        Answer::Json(status, body) => {
            write_answer(&mut conn, status, "application/json", &body, None, &date)
        }
        Answer::Text(status, body) => {
            write_answer(&mut conn, status, "text/html", &body, None, &date)
        }
        Answer::Redirect(status, location) => {
            write_answer(&mut conn, status, "text/plain", "", Some(&location), &date)
        }
        Answer::Limited(secs) => write_answer(
            &mut conn,
            429,
            "application/json",
            &json!({"message": "Too many requests"}).to_string(),
            Some(&format!("\r\nRetry-After: {secs}")),
            &date,
        ),
    }
}

fn write_answer(
    conn: &mut Tls,
    status: u16,
    content_type: &str,
    body: &str,
    location: Option<&str>,
    date: &str,
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Date: {date}\r\nConnection: close\r\n",
        body.len()
    );
    match location {
        // A whole extra header line rather than a Location (429's Retry-After).
        Some(raw) if raw.starts_with("\r\n") => head.push_str(&format!("{}\r\n", &raw[2..])),
        Some(l) => head.push_str(&format!("Location: {l}\r\n")),
        None => {}
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())?;
    conn.write_all(body.as_bytes())?;
    conn.flush()?;
    conn.conn.send_close_notify();
    let _ = conn.flush();
    let _ = conn.sock.shutdown(Shutdown::Write);
    Ok(())
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` for Unix seconds `t`.
fn http_date(t: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (y, m, d) = dynhost::state::civil_from_days(days);
    format!(
        "{}, {d:02} {} {y} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn err(status: u16, code: &str, message: &str) -> (u16, String) {
    let reason = match status {
        400 => "400 Bad Request",
        401 => "401 Unauthorized",
        403 => "403 Forbidden",
        404 => "404 Not Found",
        409 => "409 Conflict",
        _ => "Error",
    };
    (
        status,
        json!({"errorCode": code, "httpCode": reason, "message": message}).to_string(),
    )
}

fn class_err(status: u16, class: &str, message: &str) -> (u16, String) {
    (
        status,
        json!({"class": class, "message": message}).to_string(),
    )
}

fn respond(shared: &Shared, req: &Request) -> Answer {
    let (path_q, query) = match req.target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (req.target.clone(), String::new()),
    };
    let api_path = path_q.strip_prefix("/1.0").unwrap_or(&path_q).to_string();
    let body = String::from_utf8_lossy(&req.body).into_owned();
    let mut call = Call {
        method: req.method.clone(),
        path: api_path.clone(),
        query: query.clone(),
        body: body.clone(),
        content_type: req.header("content-type").map(str::to_string),
        auth: AuthKind::None,
        status: 0,
    };

    // The fault for this call, if any (delays are served before taking the lock again).
    let fault = {
        let mut st = shared.state();
        let found = st
            .faults
            .iter_mut()
            .find(|f| f.left > 0 && f.method == req.method && api_path.ends_with(&f.path));
        found.map(|f| {
            f.left -= 1;
            f.fault.clone()
        })
    };
    if let Some(Fault::Delay(d) | Fault::HoldThenReset(d)) = &fault {
        thread::sleep(*d);
    }

    let mut st = shared.state();
    let now = unix_now() + st.clock_offset;
    let (status, answer) = 'answer: {
        // Unauthenticated: the clock.
        if req.method == "GET" && api_path == "/auth/time" {
            let lie = match &fault {
                Some(Fault::TimeLie(d)) => *d,
                _ => 0,
            };
            break 'answer (200, Answer::Json(200, (now + lie).to_string()));
        }
        // The OAuth2 token endpoint (on the API's host, outside /1.0).
        if req.method == "POST" && path_q == "/auth/oauth2/token" {
            call.auth = AuthKind::Basic;
            let (s, b) = token(&mut st, req, &body);
            break 'answer (s, Answer::Json(s, b));
        }
        // Authentication.
        if let Some(bearer) = req
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
        {
            call.auth = AuthKind::Bearer;
            if !st.tokens.contains(bearer) {
                let (s, b) = err(401, "INVALID_CREDENTIAL", "The access token is not valid");
                break 'answer (s, Answer::Json(s, b));
            }
        } else {
            let Some(ak) = req.header("x-ovh-application") else {
                let (s, b) = class_err(401, "Client::Unauthorized", "You must login first");
                break 'answer (s, Answer::Json(s, b));
            };
            let Some(secret) = st.apps.get(ak).cloned() else {
                let (s, b) = err(403, "INVALID_KEY", "Invalid application key");
                break 'answer (s, Answer::Json(s, b));
            };
            if req.method == "POST" && api_path == "/auth/credential" {
                call.auth = AuthKind::Application;
                let (s, b) = new_credential(&mut st, ak, &body);
                break 'answer (s, Answer::Json(s, b));
            }
            call.auth = AuthKind::Signed;
            let Some(ck) = req.header("x-ovh-consumer") else {
                let (s, b) = class_err(401, "Client::Unauthorized", "You must login first");
                break 'answer (s, Answer::Json(s, b));
            };
            let Some(cred) = st.credentials.get(ck).cloned() else {
                let (s, b) = err(403, "NOT_CREDENTIAL", "This credential does not exist");
                break 'answer (s, Answer::Json(s, b));
            };
            if !cred.validated || cred.application_key != ak {
                let (s, b) = err(403, "INVALID_CREDENTIAL", "This credential is not valid");
                break 'answer (s, Answer::Json(s, b));
            }
            let ts = req.header("x-ovh-timestamp").unwrap_or("");
            match ts.parse::<i64>() {
                Ok(t) if (t - now).abs() <= TIME_WINDOW => {}
                _ => {
                    let (s, b) = err(400, "QUERY_TIME_OUT", "Query out of time");
                    break 'answer (s, Answer::Json(s, b));
                }
            }
            let host = req.header("host").unwrap_or("");
            let url = format!("https://{host}{}", req.target);
            let want = expected_signature(&secret, ck, &req.method, &url, &body, ts);
            if req.header("x-ovh-signature") != Some(want.as_str()) {
                let (s, b) = err(400, "INVALID_SIGNATURE", "Invalid signature");
                break 'answer (s, Answer::Json(s, b));
            }
            let granted = cred
                .rules
                .iter()
                .any(|(m, p)| *m == req.method && rule_matches(p, &api_path));
            if !granted {
                let (s, b) = err(403, "NOT_GRANTED_CALL", "This call has not been granted");
                break 'answer (s, Answer::Json(s, b));
            }
        }
        match fault {
            Some(Fault::HoldThenReset(_)) => break 'answer (0, Answer::Reset),
            Some(Fault::RateLimited(secs)) => break 'answer (429, Answer::Limited(secs)),
            Some(Fault::Json(s, b)) => break 'answer (s, Answer::Json(s, b)),
            Some(Fault::Text(s, b)) => break 'answer (s, Answer::Text(s, b)),
            Some(Fault::Redirect(s, l)) => break 'answer (s, Answer::Redirect(s, l)),
            _ => {}
        }
        let (s, b) = route(
            &mut st,
            &req.method,
            &api_path,
            &query,
            &body,
            call.content_type.as_deref(),
        );
        match fault {
            Some(Fault::ApplyThen(fs, fb)) => (fs, Answer::Json(fs, fb)),
            Some(Fault::ApplyThenReset) => (0, Answer::Reset),
            _ => (s, Answer::Json(s, b)),
        }
    };
    call.status = status;
    let refreshed = (call.method == "POST" && status == 200 && api_path.ends_with("/refresh"))
        .then(|| api_path.split('/').nth(3).unwrap_or("").to_string())
        .and_then(|z| st.zones.get(&z).cloned().map(|zone| (z, zone)));
    drop(st);
    // The zone's servers serve the change before the refresh is answered.
    if let Some((name, zone)) = refreshed
        && let Some(f) = shared.on_refresh.lock().unwrap().as_ref()
    {
        f(&name, &zone);
    }
    shared.state().calls.push(call);
    answer
}

fn token(st: &mut State, req: &Request, body: &str) -> (u16, String) {
    let basic = req
        .header("authorization")
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(super::provider::base64_decode)
        .map(|raw| String::from_utf8_lossy(&raw).into_owned());
    let ok_client = basic
        .as_deref()
        .and_then(|b| b.split_once(':'))
        .is_some_and(|(id, secret)| st.oauth_clients.get(id).is_some_and(|s| s == secret));
    let form: HashMap<&str, &str> = body.split('&').filter_map(|p| p.split_once('=')).collect();
    if !ok_client {
        return (
            401,
            json!({"error": "invalid_client", "error_description": "client authentication failed"})
                .to_string(),
        );
    }
    if form.get("grant_type") != Some(&"client_credentials") || form.get("scope") != Some(&"all") {
        return (
            400,
            json!({"error": "invalid_request", "error_description": "grant_type and scope"})
                .to_string(),
        );
    }
    let t = random_token(40);
    forbid_secret(&t);
    st.tokens.insert(t.clone());
    (
        200,
        json!({"access_token": t, "token_type": "Bearer", "expires_in": 3599, "scope": "all"})
            .to_string(),
    )
}

fn new_credential(st: &mut State, ak: &str, body: &str) -> (u16, String) {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return class_err(400, "Client::BadRequest", "Invalid JSON");
    };
    let Some(rules) = v.get("accessRules").and_then(Value::as_array) else {
        return class_err(400, "Client::BadRequest", "accessRules is required");
    };
    let mut list = Vec::new();
    for r in rules {
        match (
            r.get("method").and_then(Value::as_str),
            r.get("path").and_then(Value::as_str),
        ) {
            (Some(m), Some(p)) => list.push((m.to_string(), p.to_string())),
            _ => return class_err(400, "Client::BadRequest", "Invalid access rule"),
        }
    }
    let ck = random_token(32);
    st.credentials.insert(
        ck.clone(),
        Credential {
            application_key: ak.to_string(),
            rules: list,
            validated: false,
        },
    );
    (
        200,
        json!({
            "state": "pendingValidation",
            "consumerKey": ck,
            "validationUrl": format!("https://www.example.com/auth/?credentialToken={}", random_token(20)),
        })
        .to_string(),
    )
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// An A record's target is an IPv4 address, an AAAA's an IPv6 one.
fn valid_target(field_type: &str, target: &str) -> bool {
    match field_type {
        "A" => target.parse::<std::net::Ipv4Addr>().is_ok(),
        "AAAA" => target.parse::<std::net::Ipv6Addr>().is_ok(),
        _ => !target.is_empty(),
    }
}

fn not_found() -> (u16, String) {
    class_err(404, "Client::NotFound", "This service does not exist")
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The zone calls.
fn route(
    st: &mut State,
    method: &str,
    path: &str,
    query: &str,
    body: &str,
    content_type: Option<&str>,
) -> (u16, String) {
    let Some(rest) = path.strip_prefix("/domain/zone/") else {
        return not_found();
    };
    let mut parts: Vec<&str> = rest.split('/').collect();
    let zone_name = parts.remove(0).to_string();
    let json_body: Option<Value> = serde_json::from_str(body).ok();
    if !body.is_empty() && (json_body.is_none() || content_type != Some("application/json")) {
        return class_err(400, "Client::BadRequest", "Invalid JSON body");
    }
    st.next_id += 1;
    let next_id = st.next_id;
    let mut new_passwords = Vec::new();
    let Some(zone) = st.zones.get_mut(&zone_name) else {
        return not_found();
    };
    let ok = |v: Value| (200, v.to_string());
    let answer = match (method, parts.as_slice()) {
        ("GET", []) => ok(
            json!({"name": zone_name, "nameServers": ["dns1.example.net", "ns1.example.net"], "dnssecSupported": true}),
        ),
        ("POST", ["refresh"]) => {
            if !body.is_empty() || content_type.is_some() {
                class_err(400, "Client::BadRequest", "refresh takes no body")
            } else {
                zone.refreshes += 1;
                ok(Value::Null)
            }
        }
        ("GET", ["record"]) => {
            let ft = query_param(query, "fieldType");
            let sub = query_param(query, "subDomain");
            let ids: Vec<u64> = zone
                .records
                .iter()
                .filter(|(_, r)| ft.is_none_or(|f| r.field_type == f))
                .filter(|(_, r)| sub.is_none_or(|s| r.sub_domain == s))
                .map(|(id, _)| *id)
                .collect();
            ok(json!(ids))
        }
        ("GET", ["record", id]) => match id
            .parse()
            .ok()
            .and_then(|i: u64| zone.records.get(&i).map(|r| (i, r)))
        {
            Some((i, r)) => ok(
                json!({"id": i, "fieldType": r.field_type, "subDomain": r.sub_domain, "target": r.target, "ttl": 0, "zone": zone_name}),
            ),
            None => not_found(),
        },
        ("PUT", ["record", id]) => {
            let v = json_body.unwrap_or(Value::Null);
            let known = v.as_object().is_some_and(|o| {
                o.keys()
                    .all(|k| ["subDomain", "target", "ttl"].contains(&k.as_str()))
            });
            match (
                id.parse().ok().and_then(|i: u64| zone.records.get_mut(&i)),
                str_field(&v, "target"),
            ) {
                (None, _) => not_found(),
                (Some(r), Some(t)) if known && valid_target(&r.field_type, t) => {
                    r.target = t.into();
                    if let Some(sub) = str_field(&v, "subDomain") {
                        r.sub_domain = sub.into();
                    }
                    ok(Value::Null)
                }
                _ => class_err(400, "Client::BadRequest", "Invalid target for this record"),
            }
        }
        ("POST", ["record"]) => {
            let v = json_body.unwrap_or(Value::Null);
            match (str_field(&v, "fieldType"), str_field(&v, "target")) {
                (Some(ft), Some(t)) if valid_target(ft, t) => {
                    let sub = str_field(&v, "subDomain").unwrap_or("");
                    zone.records.insert(
                        next_id,
                        FakeRecord {
                            field_type: ft.into(),
                            sub_domain: sub.into(),
                            target: t.into(),
                        },
                    );
                    ok(
                        json!({"id": next_id, "fieldType": ft, "subDomain": sub, "target": t, "ttl": 0, "zone": zone_name}),
                    )
                }
                _ => class_err(
                    400,
                    "Client::BadRequest",
                    "fieldType and target are required",
                ),
            }
        }
        ("DELETE", ["record", id]) => {
            match id.parse().ok().and_then(|i: u64| zone.records.remove(&i)) {
                Some(_) => ok(Value::Null),
                None => not_found(),
            }
        }
        ("GET", ["dynHost", "login"]) => {
            let login = query_param(query, "login");
            let sub = query_param(query, "subDomain");
            let names: Vec<&String> = zone
                .logins
                .iter()
                .filter(|(n, _)| login.is_none_or(|l| *n == l))
                .filter(|(_, l)| sub.is_none_or(|s| l.sub_domain == s))
                .map(|(n, _)| n)
                .collect();
            ok(json!(names))
        }
        ("POST", ["dynHost", "login"]) => {
            let v = json_body.unwrap_or(Value::Null);
            match (
                str_field(&v, "loginSuffix"),
                str_field(&v, "password"),
                str_field(&v, "subDomain"),
            ) {
                (Some(suffix), Some(password), Some(sub)) if password.len() >= 8 => {
                    new_passwords.push(password.to_string());
                    let login = format!("{zone_name}-{suffix}");
                    if zone.logins.contains_key(&login) {
                        class_err(
                            409,
                            "Client::Conflict::AlreadyExists",
                            "This login already exists",
                        )
                    } else {
                        zone.logins.insert(
                            login.clone(),
                            FakeLogin {
                                sub_domain: sub.into(),
                                password: password.into(),
                            },
                        );
                        ok(json!({"login": login, "subDomain": sub, "zone": zone_name}))
                    }
                }
                _ => class_err(
                    400,
                    "Client::BadRequest",
                    "loginSuffix, password (8+ characters) and subDomain are required",
                ),
            }
        }
        ("GET", ["dynHost", "login", name]) => match zone.logins.get(*name) {
            Some(l) => ok(json!({"login": name, "subDomain": l.sub_domain, "zone": zone_name})),
            None => not_found(),
        },
        ("DELETE", ["dynHost", "login", name]) => match zone.logins.remove(*name) {
            Some(_) => ok(Value::Null),
            None => not_found(),
        },
        ("POST", ["dynHost", "login", name, "changePassword"]) => {
            let pw = json_body
                .as_ref()
                .and_then(|v| str_field(v, "password"))
                .map(str::to_string);
            match (zone.logins.get_mut(*name), pw) {
                (Some(l), Some(p)) if p.len() >= 8 => {
                    new_passwords.push(p.clone());
                    l.password = p;
                    ok(Value::Null)
                }
                (None, _) => not_found(),
                _ => class_err(
                    400,
                    "Client::BadRequest",
                    "password (8+ characters) is required",
                ),
            }
        }
        ("GET", ["dynHost", "record"]) => {
            let sub = query_param(query, "subDomain");
            let ids: Vec<u64> = zone
                .dyn_records
                .iter()
                .filter(|(_, r)| sub.is_none_or(|s| r.sub_domain == s))
                .map(|(id, _)| *id)
                .collect();
            ok(json!(ids))
        }
        ("POST", ["dynHost", "record"]) => {
            let v = json_body.unwrap_or(Value::Null);
            match (str_field(&v, "ip"), str_field(&v, "subDomain")) {
                (Some(ip), sub) if ip.parse::<IpAddr>().is_ok() => {
                    let sub = sub.unwrap_or("");
                    zone.dyn_records.insert(
                        next_id,
                        FakeDynRecord {
                            sub_domain: sub.into(),
                            ip: ip.into(),
                        },
                    );
                    ok(
                        json!({"id": next_id, "ip": ip, "subDomain": sub, "ttl": 60, "zone": zone_name}),
                    )
                }
                _ => class_err(400, "Client::BadRequest", "ip is required"),
            }
        }
        ("GET", ["dynHost", "record", id]) => match id
            .parse()
            .ok()
            .and_then(|i: u64| zone.dyn_records.get(&i).map(|r| (i, r)))
        {
            Some((i, r)) => ok(
                json!({"id": i, "ip": r.ip, "subDomain": r.sub_domain, "ttl": 60, "zone": zone_name}),
            ),
            None => not_found(),
        },
        ("PUT", ["dynHost", "record", id]) => {
            let ip = json_body
                .as_ref()
                .and_then(|v| str_field(v, "ip"))
                .map(str::to_string);
            match (
                id.parse()
                    .ok()
                    .and_then(|i: u64| zone.dyn_records.get_mut(&i)),
                ip,
            ) {
                (Some(r), Some(ip)) if ip.parse::<IpAddr>().is_ok() => {
                    r.ip = ip;
                    ok(Value::Null)
                }
                (None, _) => not_found(),
                _ => class_err(400, "Client::BadRequest", "ip is required"),
            }
        }
        ("DELETE", ["dynHost", "record", id]) => match id
            .parse()
            .ok()
            .and_then(|i: u64| zone.dyn_records.remove(&i))
        {
            Some(_) => ok(Value::Null),
            None => not_found(),
        },
        _ => class_err(400, "Client::BadRequest", "Unknown call"),
    };
    for p in new_passwords {
        forbid_secret(&p);
        st.passwords.push(p);
    }
    answer
}

/// A fresh CA (returned as PEM) and a server config whose leaf (127.0.0.1, localhost)
/// it signs.
fn tls_config() -> (rustls::ServerConfig, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    let ca_key = KeyPair::generate().expect("fake API: CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("fake API: CA params");
    ca.distinguished_name
        .push(DnType::CommonName, "dynhost fake OVH API CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).expect("fake API: CA cert");
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().expect("fake API: leaf key");
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("fake API: leaf params");
    leaf.distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.use_authority_key_identifier_extension = true;
    let leaf_cert = leaf
        .signed_by(&leaf_key, &issuer)
        .expect("fake API: leaf cert");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let chain: Vec<CertificateDer<'static>> = vec![leaf_cert.der().clone()];
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("fake API: TLS versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("fake API: server cert");
    (config, ca_cert.pem())
}
