//! The asking half: `dynhost update` (and the hooks through it) reach the daemon.

use std::io;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use super::protocol::{Answer, parse_answer, render_request};
use crate::request::UpdateRequest;

/// Longest answer a client reads.
const MAX_ANSWER: usize = 64 * 1024;

/// The result of asking the daemon.
#[derive(Debug)]
pub enum Reach {
    /// No daemon listens: do the work here.
    NoDaemon,
    /// The daemon's answer (its refusal in `Err`).
    Answer(Answer),
}

/// Sends `req` to the daemon at `path` and waits up to `wait` for the round to finish.
pub async fn ask(path: &Path, req: &UpdateRequest, wait: Duration) -> Result<Reach, String> {
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
        stream.write_all(render_request(req).as_bytes()).await?;
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
