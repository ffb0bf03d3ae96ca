//! The accept loop and one connection's course: read the head, record the request,
//! pick its reply from the script under the same lock, play the reply.

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use super::Request;
use super::conn::Conn;
use super::gauge::Gauge;
use super::http::{self, Head};
use super::script::{self, Script};

/// Read timeout while waiting for the request head (and TLS handshake).
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Write timeout for replies (a client that stops reading cannot pin a thread).
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

pub(super) struct State {
    pub(super) requests: Vec<Request>,
    pub(super) script: Script,
    /// Runs for each request before its reply (a test's DNS server applying it).
    pub(super) on_request: Option<Arc<Hook>>,
}

/// What a test does with each accepted request.
pub type Hook = dyn Fn(&Request) + Send + Sync;

pub(super) struct Shared {
    state: Mutex<State>,
    pub(super) cond: Condvar,
    pub(super) stop: AtomicBool,
    pub(super) connections: AtomicUsize,
    /// Requests open at once (recorded, reply not yet written) and their high-water mark.
    pub(super) gauge: Gauge,
    /// Clones of the sockets of live connection threads, for shutdown on drop.
    live: Mutex<HashMap<u64, TcpStream>>,
    next_id: AtomicU64,
}

impl Shared {
    pub(super) fn new() -> Shared {
        Shared {
            state: Mutex::new(State {
                requests: Vec::new(),
                script: Script::default(),
                on_request: None,
            }),
            cond: Condvar::new(),
            stop: AtomicBool::new(false),
            connections: AtomicUsize::new(0),
            gauge: Gauge::default(),
            live: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        }
    }

    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn live(&self) -> MutexGuard<'_, HashMap<u64, TcpStream>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

pub(super) fn accept_loop(
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
    let head = match http::read_head(&mut conn) {
        Head::Complete(h) => h,
        Head::Closed => return,
        Head::TooBig => {
            conn.answer(431, http::TEXT, b"request header fields too large\n");
            return;
        }
    };
    let at = Instant::now();
    let Some(req) = http::parse_head(&head, at, peer, conn.is_tls()) else {
        conn.answer(400, http::TEXT, b"bad request\n");
        return;
    };

    // Record before replying, and pick the reply under the same lock.
    let (reply, hook, open) = {
        let mut st = shared.state();
        let reply = st.script.next(req.param("hostname"));
        st.requests.push(req.clone());
        // Open before anyone can see it recorded.
        let open = shared.gauge.enter();
        shared.cond.notify_all();
        (reply, st.on_request.clone(), open)
    };
    if let Some(hook) = hook {
        hook(&req);
    }
    let echo_ip = req
        .param("myip")
        .map(str::to_string)
        .unwrap_or_else(|| peer.ip().to_string());
    script::play(reply, conn, &echo_ip, shared, open);
}
