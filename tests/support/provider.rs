//! A blocking fake DynHost provider for integration tests and benchmarks.
//!
//! It listens on `127.0.0.1:0` (in whatever network namespace the calling
//! thread is in), answers exactly one HTTP/1.1 request per connection with a
//! scripted [`Reply`], records every fully received request, and can speak
//! TLS with a throw-away CA made by `rcgen`.
//!
//! Threads: one accept thread (blocking `accept`, no polling) and one thread
//! per accepted connection. Dropping the [`Provider`] stops the accept loop
//! and shuts down every connection still open, so held (`Hang`/`StallBody`)
//! connections end too.
//!
//! Include it with `#[path = "support/provider.rs"] mod provider;`.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Largest request head (request line + headers) accepted; bigger gets 431.
pub const MAX_HEAD: usize = 16 * 1024;
/// How long `Hang` / `StallBody` hold a connection at most.
pub const HOLD_FOR: Duration = Duration::from_secs(600);
/// Read timeout while waiting for the request head (and TLS handshake).
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Write timeout for replies (a client that stops reading cannot pin a thread).
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long we wait for the client to close after we are done writing.
const LINGER: Duration = Duration::from_secs(2);
/// Chunk size used by `Huge`.
const CHUNK: usize = 64 * 1024;

/// One request as received by the fake provider.
#[derive(Clone, Debug)]
pub struct Request {
    /// Monotonic time the request line and headers were fully received.
    pub at: Instant,
    pub method: String,
    /// Raw request target, e.g. `/nic/update?system=dyndns&hostname=...`.
    pub target: String,
    /// Target without the query, not decoded, e.g. `/nic/update`.
    pub path: String,
    /// Percent-decoded query pairs (`+` decodes to a space), in order.
    pub query: Vec<(String, String)>,
    /// Header names lowercased, values trimmed, in order.
    pub headers: Vec<(String, String)>,
    /// Decoded `user`, `password` of a `Basic` Authorization header.
    pub basic_auth: Option<(String, String)>,
    /// The HTTP version token of the request line, e.g. `HTTP/1.1`.
    pub version: String,
    /// The client's address.
    pub peer: SocketAddr,
    /// Whether the request came over TLS.
    pub tls: bool,
}

impl Request {
    /// First query value for `k` (exact, case-sensitive name).
    pub fn param(&self, k: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.as_str())
    }

    /// First header value for `k` (case-insensitive name).
    pub fn header(&self, k: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    }
}

/// What the provider answers to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// 200 with body `good <myip>`; without a `myip` parameter the peer's IP
    /// is echoed, like the real service does.
    GoodEcho,
    /// Status + body, `Content-Type: text/plain`.
    Text(u16, String),
    /// These exact bytes, then close.
    Raw(Vec<u8>),
    /// Read the request, never answer; hold the socket open until the
    /// Provider is dropped, the client closes, or [`HOLD_FOR`] passes.
    Hang,
    /// Status line and headers with `Content-Length` = body length, but only
    /// the first half of the body is sent (nothing if the body is empty,
    /// `Content-Length: 1` then), then hold like `Hang`.
    StallBody(u16, String),
    /// Read the request, then close with RST (SO_LINGER 0).
    Reset,
    /// Headers announcing a 1000-byte body, the first 16 bytes of a body,
    /// a short pause, then RST.
    ResetMidBody(u16),
    /// Status + a body of exactly N bytes: `good <myip>\n` then filler,
    /// written in chunks; write errors end it quietly.
    Huge(u16, usize),
    /// Status with a `Location` header and an empty body.
    Redirect(u16, String),
    /// Status + body, `Content-Type: application/json`.
    Json(u16, String),
    /// Status + body, `Content-Type: text/html`.
    Html(u16, String),
    /// Wait, then answer with the inner reply (a slow provider).
    Delay(Duration, Box<Reply>),
}

impl Reply {
    /// Reply `good <myip>` (HTTP 200), `<myip>` taken from the request.
    pub fn good_echo() -> Reply {
        Reply::GoodEcho
    }
}

struct State {
    requests: Vec<Request>,
    script: VecDeque<Reply>,
    default: Reply,
    /// Replies by `hostname` parameter; they take precedence over the script.
    by_host: HashMap<String, Reply>,
}

struct Shared {
    state: Mutex<State>,
    cond: Condvar,
    stop: AtomicBool,
    connections: AtomicUsize,
    /// Clones of the sockets of live connection threads, for shutdown on drop.
    live: Mutex<HashMap<u64, TcpStream>>,
    next_id: AtomicU64,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn live(&self) -> MutexGuard<'_, HashMap<u64, TcpStream>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// The fake provider. Dropping it stops accepting and ends open connections.
pub struct Provider {
    shared: Arc<Shared>,
    listener: Arc<TcpListener>,
    addr: SocketAddr,
    tls: Option<Arc<rustls::ServerConfig>>,
    ca_pem_path: Option<PathBuf>,
    ca_pem: Option<String>,
    accept_thread: Option<JoinHandle<()>>,
}

impl Provider {
    /// Plain HTTP on 127.0.0.1:0; default reply [`Reply::GoodEcho`].
    pub fn start() -> Provider {
        Self::spawn(None, None, None)
    }

    /// HTTPS on 127.0.0.1:0 with a fresh CA and a leaf for `localhost`,
    /// `127.0.0.1` and `::1`. Writes the CA certificate (only) to
    /// `dir/ca.pem`, creating `dir` if needed.
    pub fn start_tls(dir: &Path) -> Provider {
        let (config, ca_pem) = tls_config();
        std::fs::create_dir_all(dir).expect("provider: create TLS dir");
        let path = dir.join("ca.pem");
        std::fs::write(&path, &ca_pem).expect("provider: write ca.pem");
        Self::spawn(Some(Arc::new(config)), Some(path), Some(ca_pem))
    }

    /// Like [`Provider::start`] with another default reply.
    pub fn start_with(default: Reply) -> Provider {
        let p = Self::start();
        p.set_default(default);
        p
    }

    fn spawn(
        tls: Option<Arc<rustls::ServerConfig>>,
        ca_pem_path: Option<PathBuf>,
        ca_pem: Option<String>,
    ) -> Provider {
        let listener = TcpListener::bind("127.0.0.1:0").expect("provider: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("provider: local_addr");
        let listener = Arc::new(listener);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                requests: Vec::new(),
                script: VecDeque::new(),
                default: Reply::GoodEcho,
                by_host: HashMap::new(),
            }),
            cond: Condvar::new(),
            stop: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            live: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        });
        let accept_thread = {
            let shared = Arc::clone(&shared);
            let listener = Arc::clone(&listener);
            let tls = tls.clone();
            thread::Builder::new()
                .name(format!("provider-accept-{}", addr.port()))
                .spawn(move || accept_loop(&listener, &shared, tls))
                .expect("provider: spawn accept thread")
        };
        Provider {
            shared,
            listener,
            addr,
            tls,
            ca_pem_path,
            ca_pem,
            accept_thread: Some(accept_thread),
        }
    }

    /// `http://127.0.0.1:PORT/nic/update` (or `https://...`).
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}/nic/update", self.addr)
    }

    /// `https://localhost:PORT/nic/update` style URL (for name-based TLS checks).
    pub fn url_localhost(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://localhost:{}/nic/update", self.addr.port())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Path of the written `ca.pem` (TLS providers only).
    pub fn ca_pem_path(&self) -> Option<PathBuf> {
        self.ca_pem_path.clone()
    }

    /// The CA certificate in PEM (TLS providers only).
    pub fn ca_pem(&self) -> Option<String> {
        self.ca_pem.clone()
    }

    /// Queue a reply; queued replies are used one per request, in order.
    pub fn push(&self, r: Reply) {
        self.shared.state().script.push_back(r);
    }

    /// Reply used when the queue is empty.
    /// Every request for `hostname` gets `r` (script and default are for the others).
    pub fn set_default_for(&self, hostname: &str, r: Reply) {
        self.shared.state().by_host.insert(hostname.to_string(), r);
    }

    pub fn set_default(&self, r: Reply) {
        self.shared.state().default = r;
    }

    /// Queued replies not yet consumed.
    pub fn pending(&self) -> usize {
        self.shared.state().script.len()
    }

    /// Snapshot of every request recorded so far.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.state().requests.clone()
    }

    /// Number of requests recorded so far.
    pub fn count(&self) -> usize {
        self.shared.state().requests.len()
    }

    /// Wait until at least `n` requests were recorded or `timeout` passes;
    /// returns what was recorded either way.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Request> {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.state();
        while st.requests.len() < n {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            st = match self.shared.cond.wait_timeout(st, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        st.requests.clone()
    }

    /// TCP connections accepted so far (including ones that never sent a
    /// full request or failed the TLS handshake).
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Wait until at least `n` connections were accepted or `timeout` passes;
    /// returns the count either way.
    pub fn wait_for_connections(&self, n: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.state();
        loop {
            let c = self.connections();
            if c >= n {
                return c;
            }
            let now = Instant::now();
            if now >= deadline {
                return c;
            }
            st = match self.shared.cond.wait_timeout(st, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // On Linux, shutdown() on a listening socket wakes a blocked accept()
        // (it fails with EINVAL). The fd stays valid: we hold an Arc to it.
        let rc = unsafe { libc::shutdown(self.listener.as_raw_fd(), libc::SHUT_RDWR) };
        for (_, s) in self.shared.live().drain() {
            let _ = s.shutdown(Shutdown::Both);
        }
        if let Some(h) = self.accept_thread.take() {
            if rc == 0 {
                let _ = h.join();
            }
        }
    }
}

// ---------------------------------------------------------------------------
// accept loop and connection handling

fn accept_loop(
    listener: &TcpListener,
    shared: &Arc<Shared>,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    loop {
        let accepted = listener.accept();
        if shared.stopped() {
            return;
        }
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                if e.kind() != io::ErrorKind::Interrupted {
                    // e.g. EMFILE: back off instead of spinning.
                    thread::sleep(Duration::from_millis(20));
                }
                continue;
            }
        };
        shared.connections.fetch_add(1, Ordering::SeqCst);
        {
            // Wake wait_for_connections().
            let _g = shared.state();
            shared.cond.notify_all();
        }
        let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
        if let Ok(c) = stream.try_clone() {
            shared.live().insert(id, c);
        }
        // Drop sets `stop` before draining `live`: either it saw our entry, or
        // we see `stop` here.
        if shared.stopped() {
            let _ = stream.shutdown(Shutdown::Both);
            shared.live().remove(&id);
            return;
        }
        let sh = Arc::clone(shared);
        let tls = tls.clone();
        let spawned = thread::Builder::new()
            .name(format!("provider-conn-{id}"))
            .spawn(move || {
                handle_connection(stream, peer, &sh, tls);
                sh.live().remove(&id);
            });
        if spawned.is_err() {
            shared.live().remove(&id);
        }
    }
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => &s.sock,
        }
    }

    fn is_tls(&self) -> bool {
        matches!(self, Conn::Tls(_))
    }

    /// Graceful end: TLS close_notify, FIN, then wait (bounded) for the
    /// client to close so unread data never turns our close into an RST.
    fn finish(mut self) {
        if let Conn::Tls(s) = &mut self {
            s.conn.send_close_notify();
            let _ = s.flush();
        }
        let tcp = self.tcp();
        let _ = tcp.shutdown(Shutdown::Write);
        let _ = tcp.set_read_timeout(Some(LINGER));
        let deadline = Instant::now() + LINGER;
        let mut buf = [0u8; 4096];
        let mut raw = tcp;
        while Instant::now() < deadline {
            match raw.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }

    /// Close with RST.
    fn reset(self) {
        set_linger_zero(self.tcp());
        // Dropping closes the fd; with SO_LINGER 0 the kernel sends RST.
    }

    /// Keep the socket open, discarding input, until the client closes, the
    /// Provider is dropped (which shuts the socket down), or HOLD_FOR passes.
    fn hold(self, shared: &Shared) {
        let deadline = Instant::now() + HOLD_FOR;
        let mut raw = self.tcp();
        let mut buf = [0u8; 4096];
        loop {
            if shared.stopped() {
                return;
            }
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            if raw.set_read_timeout(Some(deadline - now)).is_err() {
                return;
            }
            match raw.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted
                            | io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return,
            }
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

fn set_linger_zero(s: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

enum Head {
    Complete(Vec<u8>),
    TooBig,
    Closed,
}

/// Read until the end of the request head (`\r\n\r\n`, or a bare `\n\n`).
fn read_head(conn: &mut Conn) -> Head {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        if let Some(end) = head_end(&buf) {
            if end > MAX_HEAD {
                return Head::TooBig;
            }
            buf.truncate(end);
            return Head::Complete(buf);
        }
        if buf.len() > MAX_HEAD {
            return Head::TooBig;
        }
        match conn.read(&mut chunk) {
            Ok(0) => return Head::Closed,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Head::Closed,
        }
    }
}

/// Length of the head including its terminating blank line, if complete.
fn head_end(buf: &[u8]) -> Option<usize> {
    for i in 0..buf.len() {
        if buf[i..].starts_with(b"\r\n\r\n") {
            return Some(i + 4);
        }
        if buf[i..].starts_with(b"\n\n") {
            return Some(i + 2);
        }
    }
    None
}

fn handle_connection(
    stream: TcpStream,
    peer: SocketAddr,
    shared: &Shared,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(HEAD_TIMEOUT));
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let mut conn = match tls {
        None => Conn::Plain(stream),
        Some(cfg) => match rustls::ServerConnection::new(cfg) {
            Ok(sc) => Conn::Tls(Box::new(rustls::StreamOwned::new(sc, stream))),
            Err(_) => return,
        },
    };
    // For TLS the handshake happens inside the first read; a failed
    // handshake is just an error here and ends the connection.
    let head = match read_head(&mut conn) {
        Head::Complete(h) => h,
        Head::Closed => return,
        Head::TooBig => {
            let _ = write_response(
                &mut conn,
                431,
                &[("Content-Type", "text/plain")],
                b"request header fields too large\n",
                None,
            );
            conn.finish();
            return;
        }
    };
    let at = Instant::now();
    let Some(req) = parse_head(&head, at, peer, conn.is_tls()) else {
        let _ = write_response(
            &mut conn,
            400,
            &[("Content-Type", "text/plain")],
            b"bad request\n",
            None,
        );
        conn.finish();
        return;
    };

    // Record before replying, and pick the reply under the same lock.
    let reply = {
        let mut st = shared.state();
        let by_host = req
            .param("hostname")
            .and_then(|h| st.by_host.get(h))
            .cloned();
        let reply = by_host
            .or_else(|| st.script.pop_front())
            .unwrap_or_else(|| st.default.clone());
        st.requests.push(req.clone());
        shared.cond.notify_all();
        reply
    };
    let mut reply = reply;
    while let Reply::Delay(wait, inner) = reply {
        thread::sleep(wait);
        reply = *inner;
    }
    let echo_ip = req
        .param("myip")
        .map(str::to_string)
        .unwrap_or_else(|| peer.ip().to_string());

    match reply {
        Reply::GoodEcho => {
            let body = format!("good {echo_ip}");
            let _ = write_response(
                &mut conn,
                200,
                &[("Content-Type", "text/plain")],
                body.as_bytes(),
                None,
            );
            conn.finish();
        }
        Reply::Text(code, body) => {
            let _ = write_response(
                &mut conn,
                code,
                &[("Content-Type", "text/plain")],
                body.as_bytes(),
                None,
            );
            conn.finish();
        }
        Reply::Json(code, body) => {
            let _ = write_response(
                &mut conn,
                code,
                &[("Content-Type", "application/json")],
                body.as_bytes(),
                None,
            );
            conn.finish();
        }
        Reply::Html(code, body) => {
            let _ = write_response(
                &mut conn,
                code,
                &[("Content-Type", "text/html; charset=utf-8")],
                body.as_bytes(),
                None,
            );
            conn.finish();
        }
        Reply::Redirect(code, location) => {
            let _ = write_response(
                &mut conn,
                code,
                &[
                    ("Location", location.as_str()),
                    ("Content-Type", "text/plain"),
                ],
                b"",
                None,
            );
            conn.finish();
        }
        Reply::Raw(bytes) => {
            let _ = conn.write_all(&bytes).and_then(|_| conn.flush());
            conn.finish();
        }
        Reply::Hang => conn.hold(shared),
        Reply::StallBody(code, body) => {
            let bytes = body.as_bytes();
            let declared = bytes.len().max(1);
            let sent = &bytes[..bytes.len() / 2];
            let _ = write_response(
                &mut conn,
                code,
                &[("Content-Type", "text/plain")],
                sent,
                Some(declared),
            );
            conn.hold(shared);
        }
        Reply::Reset => conn.reset(),
        // Unwrapped above.
        Reply::Delay(..) => conn.finish(),
        Reply::ResetMidBody(code) => {
            let body = format!("good {echo_ip}\n");
            let mut part = body.into_bytes();
            part.resize(16, b'#');
            let _ = write_response(
                &mut conn,
                code,
                &[("Content-Type", "text/plain")],
                &part,
                Some(1000),
            );
            // Give the client a moment to take the headers before the RST.
            thread::sleep(Duration::from_millis(100));
            conn.reset();
        }
        Reply::Huge(code, n) => {
            let _ = write_huge(&mut conn, code, n, &echo_ip);
            conn.finish();
        }
    }
}

fn write_huge(conn: &mut Conn, code: u16, n: usize, echo_ip: &str) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {code} {}\r\nContent-Type: text/plain\r\nContent-Length: {n}\r\nConnection: close\r\nServer: dynhost-fake-provider\r\n\r\n",
        reason(code)
    );
    conn.write_all(head.as_bytes())?;
    let prefix = format!("good {echo_ip}\n");
    let prefix = &prefix.as_bytes()[..prefix.len().min(n)];
    conn.write_all(prefix)?;
    let mut left = n - prefix.len();
    let mut filler = vec![b'x'; CHUNK];
    if let Some(last) = filler.last_mut() {
        *last = b'\n';
    }
    while left > 0 {
        let k = left.min(CHUNK);
        conn.write_all(&filler[..k])?;
        left -= k;
    }
    conn.flush()
}

/// Status line, headers (plus Content-Length, Connection: close), body.
/// `declared` overrides the Content-Length (for stalls / resets).
fn write_response(
    conn: &mut Conn,
    code: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    declared: Option<usize>,
) -> io::Result<()> {
    let mut out = format!("HTTP/1.1 {code} {}\r\n", reason(code));
    for (k, v) in headers {
        out.push_str(k);
        out.push_str(": ");
        out.push_str(v);
        out.push_str("\r\n");
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\nServer: dynhost-fake-provider\r\n\r\n",
        declared.unwrap_or(body.len())
    ));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    conn.write_all(&bytes)?;
    conn.flush()
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

// ---------------------------------------------------------------------------
// parsing

fn parse_head(head: &[u8], at: Instant, peer: SocketAddr, tls: bool) -> Option<Request> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next()?;
    let mut parts = request_line.split(' ').filter(|p| !p.is_empty());
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let version = parts.next()?.to_string();
    if parts.next().is_some() || !version.starts_with("HTTP/") {
        return None;
    }
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), parse_query(q)),
        None => (target.clone(), Vec::new()),
    };
    let basic_auth = headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .and_then(|(_, v)| parse_basic(v));
    Some(Request {
        at,
        method,
        target,
        path,
        query,
        headers,
        basic_auth,
        version,
        peer,
        tls,
    })
}

/// Split `a=1&b=2`, percent-decoding names and values (`+` is a space).
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    let q = q.split('#').next().unwrap_or("");
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// Percent-decode (lenient: a bad escape is kept literally), `+` -> space.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < b.len() => match (hex_val(b[i + 1]), hex_val(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h << 4) | l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// `Basic <base64(user:pass)>` -> (user, pass). Scheme is case-insensitive.
fn parse_basic(v: &str) -> Option<(String, String)> {
    let v = v.trim();
    let (scheme, rest) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64_decode(rest.trim())?;
    let text = String::from_utf8_lossy(&raw);
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// Standard-alphabet base64 decoder; padding optional, whitespace ignored.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut seen_pad = false;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                seen_pad = true;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return None,
        };
        if seen_pad {
            return None;
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // 6 leftover bits would mean a single dangling character: invalid.
    if bits >= 6 {
        return None;
    }
    Some(out)
}

// ---------------------------------------------------------------------------
// TLS material

/// A fresh CA (returned as PEM) and a server config whose leaf is signed by it.
fn tls_config() -> (rustls::ServerConfig, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    let ca_key = KeyPair::generate().expect("provider: CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("provider: CA params");
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "dynhost test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).expect("provider: CA cert");
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().expect("provider: leaf key");
    let mut leaf_params = CertificateParams::new(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ])
    .expect("provider: leaf params");
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.use_authority_key_identifier_extension = true;
    let leaf_cert = leaf_params
        .signed_by(&leaf_key, &issuer)
        .expect("provider: leaf cert");

    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let chain: Vec<CertificateDer<'static>> = vec![leaf_cert.der().clone()];

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("provider: TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .expect("provider: server cert");
    (config, ca_cert.pem())
}
