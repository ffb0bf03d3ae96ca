//! A STUN (RFC 5389) binding responder standing in for the Internet: miniupnpd asks it
//! for its public address (`ext_perform_stun=yes`), and the test decides the answer.
//!
//! Every binding request gets a success response with XOR-MAPPED-ADDRESS = the
//! current answer and the request's own source port, from the socket it reached.
//! CHANGE-REQUEST is ignored on purpose: miniupnpd sends four requests (with and
//! without it) and calls the NAT "unrestricted" only when all four are answered with
//! one address and the right ports, and only then lets clients map ports.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

const MAGIC: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
const BINDING_REQUEST: [u8; 2] = [0x00, 0x01];
const BINDING_SUCCESS: [u8; 2] = [0x01, 0x01];
const XOR_MAPPED_ADDRESS: [u8; 2] = [0x00, 0x20];

/// The binding success response to `request` telling the client it is `mapped`, or
/// `None` if `request` is not a binding request.
pub fn binding_response(request: &[u8], mapped: SocketAddrV4) -> Option<Vec<u8>> {
    if request.len() < 20 || request[0..2] != BINDING_REQUEST || request[4..8] != MAGIC {
        return None;
    }
    let port = mapped.port() ^ 0x2112;
    let addr = u32::from(*mapped.ip()) ^ u32::from_be_bytes(MAGIC);
    let mut r = Vec::with_capacity(32);
    r.extend_from_slice(&BINDING_SUCCESS);
    r.extend_from_slice(&12u16.to_be_bytes());
    // Magic cookie and transaction id, copied.
    r.extend_from_slice(&request[4..20]);
    r.extend_from_slice(&XOR_MAPPED_ADDRESS);
    r.extend_from_slice(&8u16.to_be_bytes());
    r.extend_from_slice(&[0, 1]);
    r.extend_from_slice(&port.to_be_bytes());
    r.extend_from_slice(&addr.to_be_bytes());
    Some(r)
}

pub struct Stun {
    addr: SocketAddr,
    answer: Arc<Mutex<Ipv4Addr>>,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Stun {
    /// Binds `bind` in the calling thread's network namespace and answers from a thread.
    pub fn start(bind: SocketAddr, answer: Ipv4Addr) -> Stun {
        let sock =
            UdpSocket::bind(bind).unwrap_or_else(|e| panic!("STUN: cannot bind {bind}: {e}"));
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let addr = sock.local_addr().unwrap();
        let answer = Arc::new(Mutex::new(answer));
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (answer, requests, stop) = (answer.clone(), requests.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 1500];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((n, SocketAddr::V4(from))) = sock.recv_from(&mut buf) else {
                        continue;
                    };
                    let public = *answer.lock().unwrap();
                    if let Some(r) =
                        binding_response(&buf[..n], SocketAddrV4::new(public, from.port()))
                    {
                        requests.fetch_add(1, Ordering::Relaxed);
                        let _ = sock.send_to(&r, from);
                    }
                }
            })
        };
        Stun {
            addr,
            answer,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// The address the next answers carry.
    pub fn set(&self, public: Ipv4Addr) {
        *self.answer.lock().unwrap() = public;
    }

    /// Binding requests answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Stun {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
