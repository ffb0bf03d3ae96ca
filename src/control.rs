//! The control socket: how hooks and `dynhost update` reach a running daemon.
//!
//! One request line in, report lines out, then the connection closes:
//!
//! ```text
//! > update interface=ppp0 ip=203.0.113.5 force
//! < report home.example.com ipv4 uptodate 203.0.113.5 good%20203.0.113.5
//! < end
//! ```
//!
//! The protocol half (parsing and rendering) is pure and fuzzed; the socket half checks
//! the peer's credentials and bounds what it reads and how long it waits.

use std::io;
use std::net::IpAddr;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::config::check_interface;
use crate::daemon::Command;
use crate::engine::{SlotKey, SlotReport, SlotResult, Trigger};
use crate::model::Family;
use crate::policy;
use crate::state::{decode, encode};

/// Longest request line accepted.
pub const MAX_REQUEST: usize = 512;
/// Longest answer a client reads.
const MAX_ANSWER: usize = 64 * 1024;
/// How long a connected peer may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once; more are told to come back later.
const MAX_CLIENTS: usize = 16;

/// `update [interface=IF] [ip=ADDR] [force]`
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub interface: Option<String>,
    pub ip: Option<IpAddr>,
    pub force: bool,
}

impl Request {
    pub fn render(&self) -> String {
        let mut line = String::from("update");
        if let Some(i) = &self.interface {
            line.push_str(&format!(" interface={i}"));
        }
        if let Some(ip) = &self.ip {
            line.push_str(&format!(" ip={ip}"));
        }
        if self.force {
            line.push_str(" force");
        }
        line.push('\n');
        line
    }

    /// Parses one request line (without its newline). Every field is validated; errors
    /// never echo more than a short excerpt of the input.
    pub fn parse(line: &str) -> Result<Request, String> {
        if line.len() > MAX_REQUEST {
            return Err(format!("request longer than {MAX_REQUEST} bytes"));
        }
        let mut words = line.split(' ');
        match words.next() {
            Some("update") => {}
            _ => return Err(format!("unknown request {:?}", excerpt(line))),
        }
        let mut req = Request::default();
        for w in words {
            match w.split_once('=') {
                Some(("interface", v)) if req.interface.is_none() => {
                    check_interface(v)?;
                    req.interface = Some(v.to_string());
                }
                Some(("ip", v)) if req.ip.is_none() => {
                    let ip: IpAddr = v
                        .parse()
                        .map_err(|_| format!("{:?} is not an IP address", excerpt(v)))?;
                    policy::classify(&ip).map_err(|why| {
                        format!("{ip} is {why}; only global addresses are published")
                    })?;
                    req.ip = Some(ip);
                }
                None if w == "force" && !req.force => req.force = true,
                _ => return Err(format!("unexpected or repeated argument {:?}", excerpt(w))),
            }
        }
        Ok(req)
    }

    pub fn trigger(&self) -> Trigger {
        Trigger {
            interface: self.interface.clone(),
            family: self.ip.as_ref().map(Family::of),
            force: self.force,
            ticket: None,
        }
    }
}

fn excerpt(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Why the daemon did not run a round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// No enabled record follows the interface (or publishes the family): nothing to
    /// do, rather than something wrong. `update` exits 3 for it.
    pub unfollowed: bool,
    pub message: String,
}

impl Refusal {
    pub fn error(message: impl Into<String>) -> Refusal {
        Refusal {
            unfollowed: false,
            message: message.into(),
        }
    }
}

/// What the daemon answers to one request.
pub type Answer = Result<Vec<SlotReport>, Refusal>;

/// The answer: one line per slot, then `end`; or one `error`/`unfollowed` line.
pub fn render_answer(answer: &Answer) -> String {
    // `-` stands for an empty field, so a field that is `-` itself is escaped.
    let field = |s: &str| match s {
        "" => "-".to_string(),
        "-" => "%2D".to_string(),
        _ => encode(s),
    };
    match answer {
        Err(r) if r.unfollowed => format!("unfollowed {}\n", field(&r.message)),
        Err(r) => format!("error {}\n", field(&r.message)),
        Ok(reports) => {
            let mut out = String::new();
            for r in reports {
                let reply = field(r.last_reply.as_deref().unwrap_or(""));
                let result = match &r.result {
                    SlotResult::UpToDate(a) => format!("uptodate {a}"),
                    SlotResult::Unavailable(why) => format!("unavailable {}", field(why)),
                    SlotResult::Retrying { reply, in_secs } => {
                        format!("retrying {in_secs} {}", field(reply))
                    }
                    SlotResult::Blocked { reply } => format!("blocked {}", field(reply)),
                    SlotResult::Pending => "pending".into(),
                };
                out.push_str(&format!(
                    "report {} {} {result} {reply}\n",
                    r.key.hostname, r.key.family
                ));
            }
            out.push_str("end\n");
            out
        }
    }
}

/// Parses what `render_answer` wrote. `Ok(Err(_))` is the daemon's refusal.
pub fn parse_answer(text: &str) -> Result<Answer, String> {
    let field = |s: &str| -> Result<String, String> {
        if s == "-" {
            Ok(String::new())
        } else {
            decode(s)
        }
    };
    let mut reports = Vec::new();
    for line in text.lines() {
        let w: Vec<&str> = line.split(' ').collect();
        match w.as_slice() {
            ["end"] => return Ok(Ok(reports)),
            ["error", msg] => return Ok(Err(Refusal::error(field(msg)?))),
            ["unfollowed", msg] => {
                return Ok(Err(Refusal {
                    unfollowed: true,
                    message: field(msg)?,
                }));
            }
            ["report", host, family, rest @ ..] => {
                let family = Family::parse(family).ok_or("bad family in answer")?;
                let (result, reply) = match rest {
                    ["uptodate", a, reply] => (
                        SlotResult::UpToDate(a.parse().map_err(|_| "bad address in answer")?),
                        reply,
                    ),
                    ["unavailable", why, reply] => (SlotResult::Unavailable(field(why)?), reply),
                    ["retrying", secs, r, reply] => (
                        SlotResult::Retrying {
                            reply: field(r)?,
                            in_secs: secs.parse().map_err(|_| "bad number in answer")?,
                        },
                        reply,
                    ),
                    ["blocked", r, reply] => (SlotResult::Blocked { reply: field(r)? }, reply),
                    ["pending", reply] => (SlotResult::Pending, reply),
                    _ => return Err(format!("unexpected answer line {:?}", excerpt(line))),
                };
                let last = field(reply)?;
                reports.push(SlotReport {
                    key: SlotKey {
                        hostname: host.to_string(),
                        family,
                    },
                    result,
                    last_reply: (!last.is_empty()).then_some(last),
                });
            }
            _ => return Err(format!("unexpected answer line {:?}", excerpt(line))),
        }
    }
    Err("the daemon closed the connection before answering".into())
}

// ---- server -----------------------------------------------------------------------

/// The listening socket; removed from the filesystem when dropped.
pub struct Listener {
    listener: UnixListener,
    path: PathBuf,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Creates the socket, owner-only. A stale socket left by a dead daemon is replaced;
/// a live one is an error.
pub fn bind(path: &Path) -> io::Result<Listener> {
    let shown = path.display();
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot create {}: {e}", dir.display()))
        })?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("another dynhost daemon is listening on {shown}"),
                ));
            }
            std::fs::remove_file(path)?;
        }
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{shown} exists and is not a socket"),
            ));
        }
        Err(_) => {}
    }
    // Owner-only from the first instant: no window in which others could connect.
    // SAFETY: umask only changes this process's file creation mask.
    let old = unsafe { libc::umask(0o177) };
    let bound = UnixListener::bind(path);
    unsafe { libc::umask(old) };
    let listener =
        bound.map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {shown}: {e}")))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(Listener {
        listener,
        path: path.to_path_buf(),
    })
}

/// Accepts requests for as long as the daemon runs. Only root and the daemon's own
/// user may ask; every message is validated before it reaches the engine.
pub async fn serve(listener: Listener, commands: mpsc::UnboundedSender<Command>) {
    let own_uid = unsafe { libc::geteuid() };
    let slots = Arc::new(Semaphore::new(MAX_CLIENTS));
    loop {
        let (stream, _) = match listener.listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "control socket accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let uid = stream.peer_cred().map(|c| c.uid()).ok();
        if !uid.is_some_and(|u| u == 0 || u == own_uid) {
            warn!(peer_uid = ?uid, "control socket: refused a peer that is neither root nor our user");
            let why = format!(
                "refused: uid {} may not control this daemon",
                uid.map_or_else(|| "?".into(), |u| u.to_string())
            );
            tokio::spawn(refuse(stream, why));
            continue;
        }
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tokio::spawn(refuse(
                stream,
                "busy: too many requests at once, try again".into(),
            ));
            continue;
        };
        let commands = commands.clone();
        tokio::spawn(async move {
            handle(stream, commands).await;
            drop(permit);
        });
    }
}

/// Answers with an error without looking at the request. The request is read (bounded)
/// first: closing a Unix socket with unread data resets it, and the peer would lose
/// the answer.
async fn refuse(stream: UnixStream, why: String) {
    let (read, mut write) = stream.into_split();
    let mut sink = Vec::new();
    let mut reader = BufReader::new(read.take(MAX_REQUEST as u64 + 1));
    let _ = tokio::time::timeout(REQUEST_TIMEOUT, reader.read_until(b'\n', &mut sink)).await;
    let _ = tokio::time::timeout(
        REQUEST_TIMEOUT,
        write.write_all(render_answer(&Err(Refusal::error(why))).as_bytes()),
    )
    .await;
    let _ = write.shutdown().await;
}

async fn handle(stream: UnixStream, commands: mpsc::UnboundedSender<Command>) {
    let (read, mut write) = stream.into_split();
    let mut line = Vec::new();
    let mut reader = BufReader::new(read.take(MAX_REQUEST as u64 + 1));
    let answer: Answer =
        match tokio::time::timeout(REQUEST_TIMEOUT, reader.read_until(b'\n', &mut line)).await {
            Err(_) => Err(Refusal::error("no request within 5 seconds")),
            Ok(Err(e)) => Err(Refusal::error(format!("cannot read the request: {e}"))),
            Ok(Ok(_)) => match request_of(&line) {
                Err(e) => Err(Refusal::error(e)),
                Ok(req) => {
                    debug!(request = %req.render().trim_end(), "control request");
                    if let Some(ip) = req.ip {
                        info!(interface = ?req.interface, hook_addr = %ip, "hook trigger");
                    }
                    let (tx, rx) = oneshot::channel();
                    let sent = commands.send(Command::Trigger {
                        trigger: req.trigger(),
                        reply: tx,
                    });
                    // A round may take long (dumps failing while netlink is down): a
                    // client that gives up frees its slot at once.
                    let reply = tokio::select! {
                        r = rx => r,
                        () = closed(&mut reader) => {
                            debug!("control client left before its round ended");
                            return;
                        }
                    };
                    match (sent, reply) {
                        (Ok(()), Ok(Ok(reports))) => Ok(reports),
                        (Ok(()), Ok(Err(e))) => Err(Refusal {
                            unfollowed: true,
                            message: e.to_string(),
                        }),
                        _ => Err(Refusal::error("the daemon is shutting down")),
                    }
                }
            },
        };
    if let Err(e) = &answer {
        debug!(error = %e.message, "control request refused");
    }
    let _ = write.write_all(render_answer(&answer).as_bytes()).await;
    let _ = write.shutdown().await;
}

/// Resolves when the client has closed its end (or anything it sends past the request
/// is over the limit).
async fn closed(reader: &mut (impl tokio::io::AsyncRead + Unpin)) {
    let mut sink = [0u8; 64];
    while let Ok(n) = reader.read(&mut sink).await {
        if n == 0 {
            return;
        }
    }
}

fn request_of(line: &[u8]) -> Result<Request, String> {
    if line.len() > MAX_REQUEST {
        return Err(format!("request longer than {MAX_REQUEST} bytes"));
    }
    let text = std::str::from_utf8(line).map_err(|_| "the request is not UTF-8".to_string())?;
    let text = text
        .strip_suffix('\n')
        .ok_or("the request must end with a newline")?;
    Request::parse(text)
}

// ---- client -----------------------------------------------------------------------

/// The result of asking the daemon.
#[derive(Debug)]
pub enum Reach {
    /// No daemon listens: do the work here.
    NoDaemon,
    /// The daemon's answer (its refusal in `Err`).
    Answer(Answer),
}

/// Sends `req` to the daemon at `path` and waits up to `wait` for the round to finish.
pub async fn ask(path: &Path, req: &Request, wait: Duration) -> Result<Reach, String> {
    let shown = path.display();
    let mut stream = match UnixStream::connect(path).await {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(Reach::NoDaemon);
        }
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return Err(format!(
                "the daemon's socket {shown} is not ours to use (permission denied); run as root"
            ));
        }
        Err(e) => return Err(format!("cannot reach the daemon at {shown}: {e}")),
    };
    let exchange = async {
        stream.write_all(req.render().as_bytes()).await?;
        let mut text = Vec::new();
        (&mut stream)
            .take(MAX_ANSWER as u64)
            .read_to_end(&mut text)
            .await?;
        Ok::<_, io::Error>(text)
    };
    let text = tokio::time::timeout(wait, exchange)
        .await
        .map_err(|_| format!("the daemon did not answer within {}s", wait.as_secs()))?
        .map_err(|e| format!("talking to the daemon at {shown}: {e}"))?;
    let text = String::from_utf8_lossy(&text);
    parse_answer(&text).map(Reach::Answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        for req in [
            Request::default(),
            Request {
                interface: Some("pppoe-wan".into()),
                ip: Some("203.0.113.5".parse().unwrap()),
                force: true,
            },
            Request {
                interface: None,
                ip: Some("2001:db8::5".parse().unwrap()),
                force: false,
            },
        ] {
            let line = req.render();
            assert_eq!(Request::parse(line.trim_end()).unwrap(), req, "{line}");
        }
    }

    #[test]
    fn bad_requests_are_refused_with_a_reason() {
        for (line, needle) in [
            ("", "unknown request"),
            ("status", "unknown request"),
            ("update interface=a/b", "not an interface name"),
            ("update ip=10.0.0.1", "private"),
            ("update ip=nope", "not an IP address"),
            ("update force force", "repeated"),
            ("update interface=a interface=b", "repeated"),
            ("update  force", "unexpected"),
            ("update colour=blue", "unexpected"),
        ] {
            let err = Request::parse(line).unwrap_err();
            assert!(err.contains(needle), "{line:?}: {err}");
        }
        let long = format!("update interface={}", "x".repeat(1000));
        assert!(Request::parse(&long).unwrap_err().contains("longer"));
        assert!(request_of(b"update").unwrap_err().contains("newline"));
        assert!(request_of(&[0xff, b'\n']).unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn answers_round_trip() {
        let key = |f| SlotKey {
            hostname: "home.example.com".into(),
            family: f,
        };
        let reports = vec![
            SlotReport {
                key: key(Family::V4),
                result: SlotResult::UpToDate("203.0.113.5".parse().unwrap()),
                last_reply: Some("good 203.0.113.5".into()),
            },
            SlotReport {
                key: key(Family::V6),
                result: SlotResult::Unavailable("fe80::1 is link-local".into()),
                last_reply: None,
            },
            SlotReport {
                key: key(Family::V4),
                result: SlotResult::Retrying {
                    reply: "HTTP 503".into(),
                    in_secs: 29,
                },
                last_reply: Some("HTTP 503".into()),
            },
            SlotReport {
                key: key(Family::V6),
                result: SlotResult::Blocked {
                    reply: "badauth".into(),
                },
                last_reply: Some("badauth".into()),
            },
            // `-` is the empty field's mark: a text that is `-` must survive.
            SlotReport {
                key: key(Family::V4),
                result: SlotResult::Unavailable("-".into()),
                last_reply: Some("-".into()),
            },
            SlotReport {
                key: key(Family::V4),
                result: SlotResult::Pending,
                last_reply: None,
            },
        ];
        let text = render_answer(&Ok(reports.clone()));
        assert_eq!(parse_answer(&text).unwrap(), Ok(reports));
        for unfollowed in [false, true] {
            let err = Err(Refusal {
                unfollowed,
                message: "no enabled record follows interface \"eth9\"".into(),
            });
            assert_eq!(parse_answer(&render_answer(&err)).unwrap(), err);
        }
        assert!(parse_answer("report x ipv4 uptodate\n").is_err());
        assert!(parse_answer("").is_err());
    }
}

#[cfg(test)]
mod server_tests {
    use super::*;

    /// Clients that give up while their round is pending must not hold the 16 slots:
    /// the next client is served, not told "busy".
    #[test]
    fn clients_that_leave_free_their_slot() {
        let dir = std::env::temp_dir().join(format!("dynhost-ctl-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("control.sock");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let answer = rt.block_on(async {
            let (tx, mut rx) = mpsc::unbounded_channel();
            tokio::spawn(serve(bind(&path).unwrap(), tx));
            // An engine whose rounds never end, except for the 17th request.
            tokio::spawn(async move {
                let mut held = Vec::new();
                while let Some(Command::Trigger { reply, .. }) = rx.recv().await {
                    if held.len() < MAX_CLIENTS {
                        held.push(reply);
                    } else {
                        let _ = reply.send(Ok(Vec::new()));
                    }
                }
            });
            for _ in 0..MAX_CLIENTS {
                let mut s = UnixStream::connect(&path).await.unwrap();
                s.write_all(b"update\n").await.unwrap();
                // Let the handler take the request, then give up.
                tokio::time::sleep(Duration::from_millis(20)).await;
                drop(s);
            }
            // Handlers notice soon; without that, the slots stay taken for good.
            let req = Request::parse("update").unwrap();
            let mut answer = ask(&path, &req, Duration::from_secs(5)).await;
            for _ in 0..50 {
                let busy =
                    matches!(&answer, Ok(Reach::Answer(Err(r))) if r.message.starts_with("busy"));
                if !busy {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                answer = ask(&path, &req, Duration::from_secs(5)).await;
            }
            answer
        });
        let _ = std::fs::remove_dir_all(&dir);
        match answer {
            Ok(Reach::Answer(Ok(reports))) => assert!(reports.is_empty()),
            other => panic!("the 17th client was not served: {other:?}"),
        }
    }
}
