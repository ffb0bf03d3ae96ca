//! Asking DNS servers over the network: one query (UDP, then TCP if the answer is
//! truncated), several servers at once, and finding a zone's servers through a resolver.
//! Every call returns within its timeout and holds a bounded buffer.
//!
//! - here: [`query`] or [`ask`] one server (UDP, then TCP), [`check`] several at once.
//! - `discovery`: [`discover`] a zone's servers, [`lookup_addrs`] of a name, through a
//!   resolver.

mod discovery;

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use domain::base::iana::OptRcode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{Instant, timeout_at};

use super::message::{Answer, BadName, Query, Reject, Reply, classify, match_reply};
use crate::duration;
use crate::model::Family;

pub use discovery::{
    DiscoverError, Discovery, MAX_ADDRS_PER_FAMILY, MAX_NS_NAMES, MAX_WALK, discover, lookup_addrs,
};

/// The receive buffer for one UDP answer (we offer 1232; a larger datagram is cut and
/// then fails to parse).
const UDP_BUFFER: usize = 4096;
/// The largest TCP answer read. Answers to dynhost's questions are a few KB at most.
pub const MAX_TCP_ANSWER: usize = 16 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        })
    }
}

/// No answer came: the question could not be asked, or nothing came back in time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsError {
    BadName(BadName),
    Timeout {
        after: Duration,
        transport: Transport,
    },
    /// A socket operation failed: what was being done, and the system's error.
    Network {
        what: String,
        error: String,
    },
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsError::BadName(e) => e.fmt(f),
            DnsError::Timeout { after, transport } => write!(
                f,
                "no answer within {} over {transport}: the server is down, unreachable, or a firewall drops DNS",
                duration::format(*after)
            ),
            DnsError::Network { what, error } => write!(f, "cannot {what}: {error}"),
        }
    }
}

impl std::error::Error for DnsError {}

/// A call's time: when it started and when it must be over.
#[derive(Clone, Copy)]
struct Budget {
    start: Instant,
    deadline: Instant,
}

impl Budget {
    fn new(timeout: Duration) -> Budget {
        let start = Instant::now();
        Budget {
            start,
            deadline: start + timeout,
        }
    }

    fn timed_out(&self, transport: Transport) -> DnsError {
        DnsError::Timeout {
            after: self.deadline - self.start,
            transport,
        }
    }
}

fn network(what: &str) -> impl Fn(std::io::Error) -> DnsError + '_ {
    move |e| {
        let error = if e.kind() == std::io::ErrorKind::ConnectionRefused {
            "connection refused (nothing listens on that address and port)".to_string()
        } else {
            e.to_string()
        };
        DnsError::Network {
            what: what.to_string(),
            error,
        }
    }
}

/// A fresh, unpredictable query ID. std's `RandomState` is keyed from the OS's random
/// source; hashing a counter with a fresh one gives a new unguessable value each call.
pub fn random_id() -> u16 {
    use std::hash::{BuildHasher, RandomState};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    RandomState::new().hash_one(COUNTER.fetch_add(1, Ordering::Relaxed)) as u16
}

/// Asks `server` for the A (V4) or AAAA (V6) records of `name`, without recursion, and
/// classifies the answer. Returns within `timeout`, whatever the server does.
pub async fn query(
    server: SocketAddr,
    name: &str,
    family: Family,
    timeout: Duration,
) -> Result<Answer, DnsError> {
    let q = Query::address(random_id(), name, family).map_err(DnsError::BadName)?;
    ask(server, &q, timeout).await
}

/// Sends an address query built by the caller (for example without EDNS0) and classifies
/// the answer. A server that rejects EDNS0 (FORMERR, NOTIMP, BADVERS) is asked once more
/// without it, within the same `timeout`.
pub async fn ask(server: SocketAddr, query: &Query, timeout: Duration) -> Result<Answer, DnsError> {
    let budget = Budget::new(timeout);
    let reply = match exchange(server, query, budget).await? {
        Ok(reply) => reply,
        Err(answer) => return Ok(answer),
    };
    if query.uses_edns() && rejects_edns(&reply) {
        let plain = query.without_edns(random_id());
        return Ok(match exchange(server, &plain, budget).await? {
            Ok(reply) => classify(&plain, &reply),
            Err(answer) => answer,
        });
    }
    Ok(classify(query, &reply))
}

fn rejects_edns(reply: &Reply) -> bool {
    reply.rcode == OptRcode::FORMERR
        || reply.rcode == OptRcode::NOTIMP
        || reply.rcode == OptRcode::BADVERS
}

/// Asks every server in `servers` (duplicates once) at the same time; one result per
/// server, in the order given. Returns within `timeout`.
pub async fn check(
    servers: &[SocketAddr],
    name: &str,
    family: Family,
    timeout: Duration,
) -> Vec<(SocketAddr, Result<Answer, DnsError>)> {
    let mut distinct: Vec<SocketAddr> = Vec::new();
    for s in servers {
        if !distinct.contains(s) {
            distinct.push(*s);
        }
    }
    let asks = distinct
        .into_iter()
        .map(|s| async move { (s, query(s, name, family, timeout).await) });
    join_all(asks.collect()).await
}

/// Runs a few futures at once; their outputs in order. Each wake polls those not done
/// yet: cheap for the handful of servers asked, and far less code than
/// `futures::future::join_all`.
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    use std::task::Poll;
    let mut pending: Vec<Option<std::pin::Pin<Box<F>>>> =
        futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (slot, out) in pending.iter_mut().zip(outputs.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        *out = Some(v);
                        *slot = None;
                    }
                    Poll::Pending => done = false,
                }
            }
        }
        if done { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// One question to one server: UDP, then TCP if the answer is truncated. `Ok(Ok)` is a
/// reply tied to the query; `Ok(Err)` the server's unusable answer (malformed, or over
/// UDP only mismatched datagrams until the deadline).
async fn exchange(
    server: SocketAddr,
    query: &Query,
    budget: Budget,
) -> Result<Result<Reply, Answer>, DnsError> {
    match udp(server, query, budget).await? {
        Ok(reply) if reply.tc => tcp(server, query, budget).await,
        other => Ok(other),
    }
}

async fn udp(
    server: SocketAddr,
    query: &Query,
    budget: Budget,
) -> Result<Result<Reply, Answer>, DnsError> {
    let deadline = budget.deadline;
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = UdpSocket::bind(local)
        .await
        .map_err(network("open a UDP socket"))?;
    // A connected socket: the kernel drops datagrams from other sources and reports
    // ICMP port unreachable as an error. The source is checked below all the same.
    sock.connect(server)
        .await
        .map_err(network("send to the server over UDP"))?;
    sock.send(query.wire())
        .await
        .map_err(network("send the query over UDP"))?;
    // One resend halfway through the time left, in case the query or answer was lost.
    let now = Instant::now();
    let mut resend = Some(now + deadline.saturating_duration_since(now) / 2);
    let mut ignored: Option<Answer> = None;
    let mut buf = vec![0u8; UDP_BUFFER];
    loop {
        let wake = resend.unwrap_or(deadline);
        // Checked here too: a server that floods datagrams must not outlast the deadline.
        let received = if Instant::now() >= wake {
            Err(())
        } else {
            timeout_at(wake, sock.recv_from(&mut buf))
                .await
                .map_err(|_| ())
        };
        match received {
            Err(_) if resend.is_some() => {
                resend = None;
                sock.send(query.wire())
                    .await
                    .map_err(network("send the query over UDP"))?;
            }
            Err(_) => {
                return match ignored {
                    // Only answers that were not ours came: say what they were.
                    Some(answer) => Ok(Err(answer)),
                    None => Err(budget.timed_out(Transport::Udp)),
                };
            }
            Ok(Err(e)) => return Err(network("receive the answer over UDP")(e)),
            Ok(Ok((n, from))) => {
                if from.ip() != server.ip() || from.port() != server.port() {
                    continue;
                }
                let datagram = buf.get(..n).unwrap_or(&buf);
                match match_reply(query, datagram) {
                    Ok(reply) => return Ok(Ok(reply)),
                    Err(Reject::Final(answer)) => return Ok(Err(answer)),
                    // Possibly forged or a late answer to an earlier query: keep waiting.
                    Err(Reject::Unmatched(answer)) => ignored = Some(answer),
                }
            }
        }
    }
}

async fn tcp(
    server: SocketAddr,
    query: &Query,
    budget: Budget,
) -> Result<Result<Reply, Answer>, DnsError> {
    // One timeout around the whole exchange: connect, send, read.
    timeout_at(budget.deadline, tcp_exchange(server, query))
        .await
        .map_err(|_| budget.timed_out(Transport::Tcp))?
}

async fn tcp_exchange(
    server: SocketAddr,
    query: &Query,
) -> Result<Result<Reply, Answer>, DnsError> {
    let mut stream = TcpStream::connect(server)
        .await
        .map_err(network("connect over TCP (after a truncated UDP answer)"))?;
    let wire = query.wire();
    let mut msg = Vec::with_capacity(2 + wire.len());
    msg.extend_from_slice(&(wire.len() as u16).to_be_bytes());
    msg.extend_from_slice(wire);
    stream
        .write_all(&msg)
        .await
        .map_err(network("send the query over TCP"))?;

    let read = network("read the answer over TCP");
    let mut len = [0u8; 2];
    if read_full(&mut stream, &mut len).await.map_err(&read)? < 2 {
        return Ok(Err(Answer::Malformed(
            "the server closed the TCP connection without answering".into(),
        )));
    }
    let len = usize::from(u16::from_be_bytes(len));
    if len > MAX_TCP_ANSWER {
        return Ok(Err(Answer::Malformed(format!(
            "its TCP answer announces {len} bytes; at most {MAX_TCP_ANSWER} are read"
        ))));
    }
    let mut buf = vec![0u8; len];
    let got = read_full(&mut stream, &mut buf).await.map_err(&read)?;
    if got < len {
        return Ok(Err(Answer::Malformed(format!(
            "the TCP connection closed after {got} of the {len} bytes announced"
        ))));
    }
    Ok(match match_reply(query, &buf) {
        Ok(reply) => Ok(reply),
        Err(Reject::Unmatched(answer) | Reject::Final(answer)) => Err(answer),
    })
}

/// Reads until `buf` is full or the peer closes; how many bytes came.
async fn read_full(stream: &mut TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        let n = stream.read(&mut buf[got..]).await?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got)
}
