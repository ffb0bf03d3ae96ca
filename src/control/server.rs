//! The listening half: the socket file (owner-only), the peer's credentials, bounded
//! reads and waits, a bounded number of clients.

use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use std::os::fd::AsRawFd;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use tokio::net::unix::OwnedReadHalf;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tracing::{debug, info, warn};

use super::protocol::{Answer, MAX_REQUEST, Refusal, render_answer, render_request, request_of};
use crate::driver::Command;

/// How long a connected peer may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a refused peer may take to send its request and read the refusal.
const REFUSE_TIMEOUT: Duration = Duration::from_millis(500);
/// Connections served at once; more are told to come back later.
pub(super) const MAX_CLIENTS: usize = 16;
/// Connections open at once, served or being refused.
pub(super) const MAX_CONNECTIONS: usize = 2 * MAX_CLIENTS;

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
///
/// At most `MAX_CONNECTIONS` connections are open at once, `MAX_CLIENTS` of them
/// served, the others told to come back later with a short wait: thousands of idle
/// clients wait in the kernel's backlog rather than in our descriptor table, which the
/// daemon's own work (netlink, HTTPS, the state file) needs.
pub async fn serve(listener: Listener, commands: mpsc::UnboundedSender<Command>) {
    // SAFETY: geteuid has no preconditions.
    let own_uid = unsafe { libc::geteuid() };
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let served = Arc::new(Semaphore::new(MAX_CLIENTS));
    let mut accept_failed = false;
    loop {
        let Ok(conn) = connections.clone().acquire_owned().await else {
            return;
        };
        let (stream, _) = match listener.listener.accept().await {
            Ok(c) => {
                accept_failed = false;
                c
            }
            Err(e) => {
                // Said once per run of failures (EMFILE would repeat every 100 ms).
                if !accept_failed {
                    warn!(error = %e, "control socket accept failed");
                }
                accept_failed = true;
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
            tokio::spawn(async move {
                refuse(stream, why).await;
                drop(conn);
            });
            continue;
        }
        let Ok(permit) = served.clone().try_acquire_owned() else {
            tokio::spawn(async move {
                refuse(stream, "busy: too many requests at once, try again".into()).await;
                drop(conn);
            });
            continue;
        };
        let commands = commands.clone();
        tokio::spawn(async move {
            handle(stream, commands).await;
            drop((permit, conn));
        });
    }
}

/// Answers with an error without looking at the request. The request is read (bounded,
/// briefly) first: closing a Unix socket with unread data resets it, and the peer would
/// lose the answer.
async fn refuse(stream: UnixStream, why: String) {
    let (read, mut write) = stream.into_split();
    let mut sink = Vec::new();
    let mut reader = BufReader::with_capacity(MAX_REQUEST + 1, read.take(MAX_REQUEST as u64 + 1));
    let _ = tokio::time::timeout(REFUSE_TIMEOUT, reader.read_until(b'\n', &mut sink)).await;
    let _ = tokio::time::timeout(
        REFUSE_TIMEOUT,
        write.write_all(render_answer(&Err(Refusal::Error(why))).as_bytes()),
    )
    .await;
    let _ = write.shutdown().await;
}

async fn handle(stream: UnixStream, commands: mpsc::UnboundedSender<Command>) {
    let (read, mut write) = stream.into_split();
    let mut line = Vec::new();
    let mut reader = BufReader::with_capacity(MAX_REQUEST + 1, read.take(MAX_REQUEST as u64 + 1));
    let answer: Answer =
        match tokio::time::timeout(REQUEST_TIMEOUT, reader.read_until(b'\n', &mut line)).await {
            Err(_) => Err(Refusal::Error("no request within 5 seconds".into())),
            Ok(Err(e)) => Err(Refusal::Error(format!("cannot read the request: {e}"))),
            Ok(Ok(_)) => match request_of(&line) {
                Err(e) => Err(Refusal::Error(e)),
                Ok(req) => {
                    debug!(request = %render_request(&req).trim_end(), "control request");
                    if let Some(ip) = req.ip {
                        info!(interface = ?req.interface, hook_addr = %ip, "hook trigger");
                    }
                    let (tx, rx) = oneshot::channel();
                    let sent = commands.send(Command::Update {
                        request: req,
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
                        (Ok(()), Ok(Err(e))) => Err(Refusal::from(e)),
                        _ => Err(Refusal::Error("the daemon is shutting down".into())),
                    }
                }
            },
        };
    if let Err(e) = &answer {
        debug!(error = %e.message(), "control request refused");
    }
    let _ = write.write_all(render_answer(&answer).as_bytes()).await;
    let _ = write.shutdown().await;
}

/// Resolves when the client has gone: closed its socket, or sent more than a request.
/// End of file alone is not that: `socat` and `nc -N` half-close after their request
/// and wait for the answer. A half-closed client that gives up later is seen within a
/// second (the only timer here, and only while such a client waits).
async fn closed(reader: &mut BufReader<tokio::io::Take<OwnedReadHalf>>) {
    let mut sink = [0u8; 64];
    loop {
        match reader.read(&mut sink).await {
            Ok(0) => break,
            Ok(_) => continue,
            Err(_) => return,
        }
    }
    let fd = reader.get_ref().get_ref().as_ref().as_raw_fd();
    while !hung_up(fd) {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Whether the peer closed its socket entirely (POLLHUP), not only its sending side.
fn hung_up(fd: std::os::fd::RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    };
    // SAFETY: poll on one descriptor we own, without waiting.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n < 0 || p.revents & (libc::POLLHUP | libc::POLLERR) != 0
}

#[cfg(test)]
mod server_tests {
    use super::*;
    use crate::control::client::{Reach, ask};
    use crate::request::UpdateRequest;

    /// Runs a server at a fresh socket with `engine` answering its commands, and
    /// `client` against it; returns what `client` returns.
    fn served<T, E, C>(
        name: &str,
        engine: impl FnOnce(mpsc::UnboundedReceiver<Command>) -> E,
        client: impl FnOnce(std::path::PathBuf) -> C,
    ) -> T
    where
        E: std::future::Future<Output = ()> + 'static,
        C: std::future::Future<Output = T>,
    {
        let dir = std::env::temp_dir().join(format!("dynhost-ctl-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("control.sock");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        let out = local.block_on(&rt, async {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(serve(bind(&path).unwrap(), tx));
            tokio::task::spawn_local(engine(rx));
            client(path.clone()).await
        });
        let _ = std::fs::remove_dir_all(&dir);
        out
    }

    /// Clients that give up while their round is pending must not hold the 16 slots:
    /// the next client is served, not told "busy".
    #[test]
    fn clients_that_leave_free_their_slot() {
        // An engine whose rounds never end, except for the 17th request.
        let engine = |mut rx: mpsc::UnboundedReceiver<Command>| async move {
            let mut held = Vec::new();
            while let Some(Command::Update { reply, .. }) = rx.recv().await {
                if held.len() < MAX_CLIENTS {
                    held.push(reply);
                } else {
                    let _ = reply.send(Ok(Vec::new()));
                }
            }
        };
        let answer = served("leave", engine, |path| async move {
            for _ in 0..MAX_CLIENTS {
                let mut s = UnixStream::connect(&path).await.unwrap();
                s.write_all(b"update\n").await.unwrap();
                // Let the handler take the request, then give up.
                tokio::time::sleep(Duration::from_millis(20)).await;
                drop(s);
            }
            // Handlers notice soon; without that, the slots stay taken for good.
            let req = UpdateRequest::default();
            let mut answer = ask(&path, &req, Duration::from_secs(5)).await;
            for _ in 0..50 {
                let busy =
                    matches!(&answer, Ok(Reach::Answer(Err(r))) if r.message().starts_with("busy"));
                if !busy {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                answer = ask(&path, &req, Duration::from_secs(5)).await;
            }
            answer
        });
        match answer {
            Ok(Reach::Answer(Ok(reports))) => assert!(reports.is_empty()),
            other => panic!("the 17th client was not served: {other:?}"),
        }
    }

    /// `socat` and `nc -N` shut their sending side after the request and then wait:
    /// that end of file is not a client that left.
    #[test]
    fn a_client_that_half_closes_after_its_request_gets_its_answer() {
        // A round that takes a while.
        let engine = |mut rx: mpsc::UnboundedReceiver<Command>| async move {
            while let Some(Command::Update { reply, .. }) = rx.recv().await {
                tokio::time::sleep(Duration::from_millis(300)).await;
                let _ = reply.send(Ok(Vec::new()));
            }
        };
        let text = served("half", engine, |path| async move {
            let mut s = UnixStream::connect(&path).await.unwrap();
            s.write_all(b"update\n").await.unwrap();
            s.shutdown().await.unwrap();
            let mut text = String::new();
            tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut text))
                .await
                .expect("an answer within 5 s")
                .unwrap();
            text
        });
        assert_eq!(text, "end\n");
    }
}
