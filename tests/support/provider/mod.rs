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
//! By concern: this file is the public API (the provider, what it recorded);
//! `script` the replies and faults it plays; `server` the accept loop and one
//! connection's course; `conn` the socket and its ways to end; `http` reading a
//! request and writing a reply; `tls` the test CA and the rustls server; `gauge` the
//! requests open at once.
//!
//! Test files get it with `mod support;`; a standalone user (the provider's
//! self-test, the benchmark) with `#[path = ".../support/provider/mod.rs"] mod provider;`.

#![allow(dead_code)]

mod conn;
mod gauge;
mod http;
mod script;
mod server;
mod tls;

use std::net::{Shutdown, SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

// The decoders are public for the provider's self-test; other users leave them unused.
#[allow(unused_imports)]
pub use http::{base64_decode, parse_query, percent_decode};
pub use script::Reply;
use server::Shared;

/// Largest request head (request line + headers) accepted; bigger gets 431.
pub const MAX_HEAD: usize = 16 * 1024;
/// How long `Hang` / `StallBody` hold a connection at most.
pub const HOLD_FOR: Duration = Duration::from_secs(600);

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
        Self::start_tls_with(dir, tls::server_config())
    }

    /// HTTPS whose certificate is valid only from 1 January of `year`.
    pub fn start_tls_valid_from(dir: &Path, year: i32) -> Provider {
        Self::start_tls_with(dir, tls::server_config_valid_from(Some(year)))
    }

    fn start_tls_with(dir: &Path, (config, ca_pem): (rustls::ServerConfig, String)) -> Provider {
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
        let shared = Arc::new(Shared::new());
        let accept_thread = {
            let shared = Arc::clone(&shared);
            let listener = Arc::clone(&listener);
            let tls = tls.clone();
            thread::Builder::new()
                .name(format!("provider-accept-{}", addr.port()))
                .spawn(move || server::accept_loop(&listener, &shared, tls))
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
    /// Runs `hook` for each request, before its reply: a test's DNS server applying
    /// each accepted update (at once, later, or not at all).
    pub fn on_request(&self, hook: Box<server::Hook>) {
        self.shared.state().on_request = Some(Arc::from(hook));
    }

    pub fn push(&self, r: Reply) {
        self.shared.state().script.push(r);
    }

    /// Every request for `hostname` gets `r` (script and default are for the others).
    pub fn set_default_for(&self, hostname: &str, r: Reply) {
        self.shared.state().script.set_for(hostname, r);
    }

    /// Reply used when the queue is empty.
    pub fn set_default(&self, r: Reply) {
        self.shared.state().script.set_default(r);
    }

    /// Queued replies not yet consumed.
    pub fn pending(&self) -> usize {
        self.shared.state().script.pending()
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

    /// Waits for request number `n` (1-based) and returns it; panics, naming `what`,
    /// with the count so far if it does not arrive within `timeout`.
    pub fn nth(&self, n: usize, timeout: Duration, what: &str) -> Request {
        let reqs = self.wait_for(n, timeout);
        assert!(
            n >= 1 && reqs.len() >= n,
            "{what}: request {n} did not arrive within {timeout:?} ({} so far)",
            reqs.len()
        );
        reqs[n - 1].clone()
    }

    /// Requests open now: recorded, their reply not yet fully written (see `gauge`).
    pub fn open_requests(&self) -> usize {
        self.shared.gauge.now()
    }

    /// The most requests open at once since the start or the last
    /// [`Provider::reset_open_max`]: how many a client had under way together.
    pub fn open_max(&self) -> usize {
        self.shared.gauge.max()
    }

    /// Starts a new high-water mark at the number open now; returns the previous one.
    pub fn reset_open_max(&self) -> usize {
        self.shared.gauge.reset_max()
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
