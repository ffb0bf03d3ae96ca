//! What the provider answers: the [`Reply`] kinds (faults included), the script that
//! picks one per request, and playing a reply out on a connection.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::thread;
use std::time::Duration;

use super::conn::Conn;
use super::gauge::Open;
use super::http::{self, HTML, JSON, TEXT};
use super::server::Shared;

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
    /// Provider is dropped, the client closes, or [`super::HOLD_FOR`] passes.
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

/// Which reply the next request gets: one set for its `hostname`, else the next queued
/// one, else the default.
pub(super) struct Script {
    queue: VecDeque<Reply>,
    default: Reply,
    /// Replies by `hostname` parameter; they take precedence over the queue.
    by_host: HashMap<String, Reply>,
}

impl Default for Script {
    fn default() -> Script {
        Script {
            queue: VecDeque::new(),
            default: Reply::GoodEcho,
            by_host: HashMap::new(),
        }
    }
}

impl Script {
    pub(super) fn push(&mut self, r: Reply) {
        self.queue.push_back(r);
    }

    pub(super) fn set_default(&mut self, r: Reply) {
        self.default = r;
    }

    pub(super) fn set_for(&mut self, hostname: &str, r: Reply) {
        self.by_host.insert(hostname.to_string(), r);
    }

    pub(super) fn pending(&self) -> usize {
        self.queue.len()
    }

    /// The reply for a request with this `hostname` parameter; takes it from the queue.
    pub(super) fn next(&mut self, hostname: Option<&str>) -> Reply {
        hostname
            .and_then(|h| self.by_host.get(h))
            .cloned()
            .or_else(|| self.queue.pop_front())
            .unwrap_or_else(|| self.default.clone())
    }
}

/// Plays `reply` on `conn`; `echo_ip` is what `good <ip>` replies carry. `open` closes
/// once the reply is fully written, or when the connection ends for replies that never
/// complete.
pub(super) fn play(mut reply: Reply, mut conn: Conn, echo_ip: &str, shared: &Shared, open: Open) {
    while let Reply::Delay(wait, inner) = reply {
        thread::sleep(wait);
        reply = *inner;
    }
    match reply {
        Reply::GoodEcho => answer(conn, 200, TEXT, format!("good {echo_ip}").as_bytes(), open),
        Reply::Text(code, body) => answer(conn, code, TEXT, body.as_bytes(), open),
        Reply::Json(code, body) => answer(conn, code, JSON, body.as_bytes(), open),
        Reply::Html(code, body) => answer(conn, code, HTML, body.as_bytes(), open),
        Reply::Redirect(code, location) => {
            let headers = [("Location", location.as_str()), ("Content-Type", TEXT)];
            let _ = http::write_response(&mut conn, code, &headers, b"", None);
            drop(open);
            conn.finish();
        }
        Reply::Raw(bytes) => {
            let _ = conn.write_all(&bytes).and_then(|_| conn.flush());
            drop(open);
            conn.finish();
        }
        Reply::Hang => conn.hold(shared),
        Reply::StallBody(code, body) => {
            let bytes = body.as_bytes();
            let declared = bytes.len().max(1);
            let sent = &bytes[..bytes.len() / 2];
            let headers = [("Content-Type", TEXT)];
            let _ = http::write_response(&mut conn, code, &headers, sent, Some(declared));
            conn.hold(shared);
        }
        Reply::Reset => conn.reset(),
        // Unwrapped above.
        Reply::Delay(..) => conn.finish(),
        Reply::ResetMidBody(code) => {
            let mut part = format!("good {echo_ip}\n").into_bytes();
            part.resize(16, b'#');
            let headers = [("Content-Type", TEXT)];
            let _ = http::write_response(&mut conn, code, &headers, &part, Some(1000));
            // Give the client a moment to take the headers before the RST.
            thread::sleep(Duration::from_millis(100));
            conn.reset();
        }
        Reply::Huge(code, n) => {
            let _ = http::write_huge(&mut conn, code, n, echo_ip);
            drop(open);
            conn.finish();
        }
    }
}

/// Status, `Content-Type` and body; the request closes in the gauge; a graceful end.
fn answer(mut conn: Conn, code: u16, content_type: &str, body: &[u8], open: Open) {
    let _ = http::write_response(
        &mut conn,
        code,
        &[("Content-Type", content_type)],
        body,
        None,
    );
    drop(open);
    conn.finish();
}
