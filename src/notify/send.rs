//! The edges that deliver: one HTTP request (bounded in time and bytes, no redirects,
//! the URL never in an error), and the `command` (no shell, a clean environment, killed
//! after [`COMMAND_TIMEOUT`], output bounded, always reaped).

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::event::Event;
use super::target::Request;

/// One whole HTTP delivery: connect, TLS, answer.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of an answer read at most (the rest is not read).
pub const ANSWER_LIMIT: usize = 4096;
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes of the command's output kept for the log (the rest is read and dropped).
pub const OUTPUT_LIMIT: usize = 2048;
/// The PATH a command gets; nothing else of dynhost's environment is passed on.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
}

impl Http {
    pub fn new() -> Result<Http, String> {
        crate::provider::http::init_tls();
        let client = reqwest::Client::builder()
            .user_agent(crate::provider::USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(HTTP_TIMEOUT)
            .timeout(HTTP_TIMEOUT)
            .pool_max_idle_per_host(0)
            .no_proxy()
            .http1_only()
            .build()
            .map_err(|e| format!("cannot set up the HTTPS client: {}", chain(&e)))?;
        Ok(Http { client })
    }

    /// Sends `req`; `Ok` with the status and the start of the answer.
    pub async fn send(&self, req: &Request) -> Result<(u16, Vec<u8>), String> {
        let method = reqwest::Method::from_bytes(req.method.as_bytes()).expect("a method");
        let mut b = self.client.request(method, &req.url).body(req.body.clone());
        for (k, v) in &req.headers {
            b = b.header(*k, v);
        }
        let mut resp = b.send().await.map_err(|e| chain(&e))?;
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        while body.len() < ANSWER_LIMIT {
            match resp.chunk().await {
                Ok(Some(c)) => body.extend_from_slice(&c[..c.len().min(ANSWER_LIMIT - body.len())]),
                Ok(None) => break,
                Err(e) if (200..300).contains(&status) => return Err(chain(&e)),
                Err(_) => break,
            }
        }
        Ok((status, body))
    }
}

/// An error and its causes, without the URL (which holds tokens).
fn chain(e: &reqwest::Error) -> String {
    let mut out = if e.is_timeout() {
        format!("no answer within {}", crate::duration::format(HTTP_TIMEOUT))
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut cur = std::error::Error::source(e);
    while let Some(c) = cur {
        let s = c.to_string();
        if !s.contains("://") {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = c.source();
    }
    out
}

/// What a status and answer say, for the log: `HTTP 500: <first line>`.
pub fn describe(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line: String = text
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(120)
        .collect();
    if line.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {line}")
    }
}

/// Runs `argv` for `event` and waits (blocking: call it off the runtime's thread).
/// `Ok` with its output's start when it exits 0.
pub fn run_command(argv: &[String], event: &Event, timeout: Duration) -> Result<String, String> {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .env("PATH", PATH)
        .envs(event.env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so that a timeout kills what it started too.
        .process_group(0);
    // SAFETY: prctl is async-signal-safe. The command dies with the thread that waits
    // for it (so with dynhost), never outliving a stop.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", argv[0]))?;
    let pid = child.id() as i32;
    let (otx, orx) = mpsc::channel();
    for pipe in [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let otx = otx.clone();
        std::thread::spawn(move || {
            let _ = otx.send(drain(pipe));
        });
    }
    drop(otx);
    let (wtx, wrx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = wtx.send(child.wait());
    });
    let status = match wrx.recv_timeout(timeout) {
        Ok(s) => s,
        Err(_) => {
            // SAFETY: signals the process group we created; the child is not reaped yet
            // (its waiter still holds it), so the id cannot have been reused.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            let _ = wrx.recv();
            end_group(pid);
            return Err(format!(
                "{} did not finish within {}: killed",
                argv[0],
                crate::duration::format(timeout)
            ));
        }
    };
    end_group(pid);
    // The output ends when the pipes close; a background child holding them is not
    // waited for long.
    let mut output = String::new();
    for _ in 0..2 {
        match orx.recv_timeout(Duration::from_secs(1)) {
            Ok(o) => output.push_str(&o),
            Err(_) => break,
        }
    }
    let output: String = output.trim().chars().take(OUTPUT_LIMIT).collect();
    match status {
        Ok(s) if s.success() => Ok(output),
        Ok(s) => Err(format!("{} failed ({s}): {output}", argv[0])),
        Err(e) => Err(format!("{}: {e}", argv[0])),
    }
}

/// Reads a pipe to its end, keeping the first `OUTPUT_LIMIT` bytes.
fn drain(mut pipe: Box<dyn Read + Send>) -> String {
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = OUTPUT_LIMIT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// Once the command has exited (or was killed), what it left running in its process
/// group is killed too (as systemd ends a unit's control group): a hook is bounded in
/// time whatever it starts; one that means to leave a daemon behind must `setsid`.
/// As PID 1 (a container), those orphans are our children: they are reaped here, so
/// that none stays a zombie.
fn end_group(pgid: i32) {
    // SAFETY: signals the group the command led; ESRCH when it is empty.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
    if std::process::id() != 1 {
        return;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        // SAFETY: waitpid on the command's group only, non-blocking.
        let r = unsafe { libc::waitpid(-pgid, std::ptr::null_mut(), libc::WNOHANG) };
        if r < 0 || std::time::Instant::now() >= deadline {
            return; // ECHILD: none left.
        }
        if r == 0 {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::event::Kind;

    fn sh(script: &str) -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into(), script.into()]
    }

    #[test]
    fn the_command_gets_the_event_and_nothing_else() {
        let mut e = Event::new(Kind::Published, "h.example.com", "a sentence", 1);
        e.address = "203.0.113.7".into();
        let out = run_command(
            &sh("echo $DYNHOST_EVENT $DYNHOST_HOSTNAME $DYNHOST_ADDRESS \"$DYNHOST_MESSAGE\" x${HOME}x"),
            &e,
            COMMAND_TIMEOUT,
        )
        .unwrap();
        assert_eq!(out, "published h.example.com 203.0.113.7 a sentence xx");
    }

    #[test]
    fn a_failing_command_says_so_with_its_output() {
        let e = Event::new(Kind::Test, "", "", 1);
        let err = run_command(&sh("echo oops >&2; exit 3"), &e, COMMAND_TIMEOUT).unwrap_err();
        assert!(
            err.contains("exit status: 3") && err.contains("oops"),
            "{err}"
        );
    }

    #[test]
    fn a_hung_command_is_killed_and_its_flood_bounded() {
        let e = Event::new(Kind::Test, "", "", 1);
        let t = std::time::Instant::now();
        let err = run_command(
            &sh("yes flood & sleep 1000"),
            &e,
            Duration::from_millis(500),
        )
        .unwrap_err();
        assert!(err.contains("killed"), "{err}");
        assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    }

    #[test]
    fn describe_keeps_one_clean_line() {
        assert_eq!(describe(500, b"boom\nmore"), "HTTP 500: boom");
        assert_eq!(describe(204, b""), "HTTP 204");
    }
}
