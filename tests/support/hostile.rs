//! Small scripted servers standing in for a misbehaving gateway: a UDP responder (for
//! NAT-PMP and PCP), an SSDP responder and an HTTP server (for UPnP). Each binds in a
//! namespace of the test's and serves from threads until dropped.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use super::miniupnpd::Netns;

/// One datagram to send back.
#[derive(Clone, Debug)]
pub struct Datagram {
    pub delay: Duration,
    /// Send from a socket bound here instead of the one the request reached.
    pub from: Option<SocketAddr>,
    pub bytes: Vec<u8>,
}

impl Datagram {
    pub fn now(bytes: Vec<u8>) -> Datagram {
        Datagram {
            delay: Duration::ZERO,
            from: None,
            bytes,
        }
    }
    pub fn after(delay: Duration, bytes: Vec<u8>) -> Datagram {
        Datagram {
            delay,
            ..Datagram::now(bytes)
        }
    }
    pub fn from(from: SocketAddr, bytes: Vec<u8>) -> Datagram {
        Datagram {
            from: Some(from),
            ..Datagram::now(bytes)
        }
    }
}

/// The script: (request number from 1, request bytes) -> what to send back.
pub type UdpScript = dyn Fn(usize, &[u8]) -> Vec<Datagram> + Send + Sync;

/// Every request received, with its arrival time.
type Received = Arc<Mutex<Vec<(Instant, Vec<u8>)>>>;

pub struct UdpServer {
    stop: Arc<AtomicBool>,
    requests: Received,
}

impl UdpServer {
    /// Binds `bind` in `ns` and answers each datagram as `script` says.
    pub fn start(ns: &Netns, bind: SocketAddr, script: Box<UdpScript>) -> UdpServer {
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (ready, bound) = mpsc::channel();
        let (s, r) = (stop.clone(), requests.clone());
        let script: Arc<UdpScript> = Arc::from(script);
        ns.spawn(move || {
            let sock = match UdpSocket::bind(bind) {
                Ok(sock) => sock,
                Err(e) => {
                    let _ = ready.send(Err(e.to_string()));
                    return;
                }
            };
            sock.set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            let _ = ready.send(Ok(()));
            let mut buf = vec![0u8; 65536];
            while !s.load(Ordering::Relaxed) {
                let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let nth = {
                    let mut r = r.lock().unwrap();
                    r.push((Instant::now(), buf[..n].to_vec()));
                    r.len()
                };
                for d in script(nth, &buf[..n]) {
                    let main = sock.try_clone().unwrap();
                    // Each reply on its own thread, so a delay does not hold the next request.
                    std::thread::spawn(move || {
                        std::thread::sleep(d.delay);
                        let _ = match d.from {
                            Some(from) => {
                                UdpSocket::bind(from).and_then(|s| s.send_to(&d.bytes, peer))
                            }
                            None => main.send_to(&d.bytes, peer),
                        };
                    });
                }
            }
        });
        bound
            .recv_timeout(Duration::from_secs(5))
            .expect("UDP server thread")
            .unwrap_or_else(|e| panic!("UDP server cannot bind {bind}: {e}"));
        UdpServer { stop, requests }
    }

    /// The requests received so far, with their arrival time.
    pub fn requests(&self) -> Vec<(Instant, Vec<u8>)> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for UdpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One SSDP answer: to M-SEARCHes from `to`, send `bytes` from `from`.
#[derive(Clone, Debug)]
pub struct SsdpAnswer {
    pub to: Ipv4Addr,
    pub from: Ipv4Addr,
    pub bytes: Vec<u8>,
}

/// Answers each M-SEARCH with the answers meant for its sender.
pub struct SsdpServer {
    stop: Arc<AtomicBool>,
    searches: Arc<Mutex<usize>>,
}

impl SsdpServer {
    pub fn start(ns: &Netns, iface: Ipv4Addr, answers: Vec<SsdpAnswer>) -> SsdpServer {
        let stop = Arc::new(AtomicBool::new(false));
        let searches = Arc::new(Mutex::new(0));
        let (ready, bound) = mpsc::channel();
        let (s, count) = (stop.clone(), searches.clone());
        ns.spawn(move || {
            let sock = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 1900)).expect("bind 0.0.0.0:1900");
            sock.join_multicast_v4(&Ipv4Addr::new(239, 255, 255, 250), &iface)
                .expect("join 239.255.255.250");
            sock.set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            let senders: Vec<(UdpSocket, SsdpAnswer)> = answers
                .into_iter()
                .map(|a| {
                    (
                        UdpSocket::bind((a.from, 0)).expect("bind an SSDP answer source"),
                        a,
                    )
                })
                .collect();
            let _ = ready.send(());
            let mut buf = [0u8; 2048];
            while !s.load(Ordering::Relaxed) {
                let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                if !buf[..n].starts_with(b"M-SEARCH") {
                    continue;
                }
                *count.lock().unwrap() += 1;
                for (sender, a) in &senders {
                    if peer.ip() == a.to {
                        let _ = sender.send_to(&a.bytes, peer);
                    }
                }
            }
        });
        bound
            .recv_timeout(Duration::from_secs(5))
            .expect("SSDP server thread");
        SsdpServer { stop, searches }
    }

    pub fn searches(&self) -> usize {
        *self.searches.lock().unwrap()
    }
}

impl Drop for SsdpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// What the HTTP server does with one request.
#[derive(Clone, Debug)]
pub enum Http {
    /// Writes these bytes, then closes.
    Raw(Vec<u8>),
    /// Writes the head, then `total` bytes of body in chunks (no Content-Length unless
    /// the head has one), then closes.
    Stream { head: String, total: usize },
    /// Writes the head and the body one byte every `every`.
    Drip {
        head: String,
        body: Vec<u8>,
        every: Duration,
    },
    /// Writes the head (if any), then holds the connection open without a byte more.
    Hang(Option<String>),
}

impl Http {
    /// 200 with a body and its Content-Length.
    pub fn ok(content_type: &str, body: &str) -> Http {
        Http::status(200, content_type, body)
    }
    pub fn status(code: u16, content_type: &str, body: &str) -> Http {
        Http::Raw(
            format!(
                "HTTP/1.1 {code} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
        )
    }
}

/// The router: (method, path) -> what to do.
pub type Route = dyn Fn(&str, &str) -> Http + Send + Sync;

pub struct HttpServer {
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<String>>>,
}

const HOLD: Duration = Duration::from_secs(30);

impl HttpServer {
    pub fn start(ns: &Netns, bind: SocketAddr, route: Box<Route>) -> HttpServer {
        Self::start_with(|f| drop(ns.spawn(f)), bind, route)
    }

    /// The same, in the calling thread's network namespace.
    pub fn start_here(bind: SocketAddr, route: Box<Route>) -> HttpServer {
        Self::start_with(|f| drop(std::thread::spawn(f)), bind, route)
    }

    fn start_with(
        spawn: impl FnOnce(Box<dyn FnOnce() + Send>),
        bind: SocketAddr,
        route: Box<Route>,
    ) -> HttpServer {
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (ready, bound) = mpsc::channel();
        let (s, reqs) = (stop.clone(), requests.clone());
        let route: Arc<Route> = Arc::from(route);
        spawn(Box::new(move || {
            let listener = TcpListener::bind(bind).expect("bind the HTTP server");
            listener.set_nonblocking(true).unwrap();
            let _ = ready.send(());
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (s, reqs, route) = (s.clone(), reqs.clone(), route.clone());
                        std::thread::spawn(move || serve(conn, &s, &reqs, &*route));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        }));
        bound
            .recv_timeout(Duration::from_secs(5))
            .expect("HTTP server thread");
        HttpServer { stop, requests }
    }

    /// "METHOD /path" of every request received.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn hold(stop: &AtomicBool) {
    let start = Instant::now();
    while !stop.load(Ordering::Relaxed) && start.elapsed() < HOLD {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn serve(mut conn: TcpStream, stop: &AtomicBool, reqs: &Mutex<Vec<String>>, route: &Route) {
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16384 {
        match conn.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let line = head.lines().next().unwrap_or_default().to_string();
    let mut parts = line.split(' ');
    let (method, path) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length.min(65536)];
    if conn.read_exact(&mut body).is_err() {
        return;
    }
    reqs.lock().unwrap().push(format!("{method} {path}"));
    match route(method, path) {
        Http::Raw(bytes) => {
            let _ = conn.write_all(&bytes);
        }
        Http::Stream { head, total } => {
            if conn.write_all(head.as_bytes()).is_err() {
                return;
            }
            let chunk = vec![b'x'; 8192];
            let mut sent = 0;
            while sent < total && !stop.load(Ordering::Relaxed) {
                let n = chunk.len().min(total - sent);
                if conn.write_all(&chunk[..n]).is_err() {
                    return;
                }
                sent += n;
            }
        }
        Http::Drip { head, body, every } => {
            if conn.write_all(head.as_bytes()).is_err() {
                return;
            }
            for b in body {
                if stop.load(Ordering::Relaxed) || conn.write_all(&[b]).is_err() {
                    return;
                }
                std::thread::sleep(every);
            }
        }
        Http::Hang(head) => {
            if let Some(h) = head {
                let _ = conn.write_all(h.as_bytes());
            }
            hold(stop);
        }
    }
    let _ = conn.shutdown(std::net::Shutdown::Write);
}
