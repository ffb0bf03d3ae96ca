//! The real `dynhost` binary under test: a scratch directory with its config and
//! state, the daemon as a child process, and its log captured line by line.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_dynhost");

/// A scratch directory, removed on drop.
pub struct Scratch {
    pub path: PathBuf,
}

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "dynhost-test-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Scratch { path }
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.path.join(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// One `[[record]]` for a config.
pub fn record(hostname: &str, interface: &str, extra: &str) -> String {
    format!(
        "[[record]]\nhostname = \"{hostname}\"\nusername = \"example.com-test\"\n\
         password = \"{PASSWORD}\"\ninterface = \"{interface}\"\n{extra}\n"
    )
}

/// The password every test record uses; tests grep for it in logs and files.
pub const PASSWORD: &str = "pw-Zq8#never-log-me";

/// Writes `config.toml` (mode 600) into `dir` with the given provider URL and body
/// (top-level keys, then tables; `[provider]` comes last).
pub fn write_config(dir: &Scratch, url: &str, body: &str) -> PathBuf {
    let text = format!(
        "state_dir = \"{}\"\ncontrol_socket = \"{}\"\n{body}\n\n[provider]\nurl = \"{url}\"\n{}\n",
        dir.join("state").display(),
        dir.join("control.sock").display(),
        ca_line(url, dir),
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    set_mode(&path, 0o600);
    path
}

fn ca_line(url: &str, dir: &Scratch) -> String {
    let ca = dir.join("tls").join("ca.pem");
    if url.starts_with("https") && ca.exists() {
        format!("ca_file = \"{}\"", ca.display())
    } else {
        String::new()
    }
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[derive(Default)]
struct Log {
    lines: Mutex<Vec<String>>,
    grew: Condvar,
}

/// Every test runs dynhost at trace level, libraries included, and fails if the
/// password shows up anywhere in what it prints.
pub const LOG_LEVEL: &str = "trace";

pub fn assert_no_secret(what: &str, text: &str) {
    for secret in secrets() {
        assert!(
            !text.contains(&secret),
            "a secret leaked into {what}:\n{}",
            text.lines()
                .filter(|l| l.contains(&secret))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// Secrets besides [`PASSWORD`] that must never show up either (API keys, generated
/// DynHost passwords). Every check from now on, in this test process, covers them.
static FORBIDDEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Adds `secret` to what [`assert_no_secret`] looks for.
pub fn forbid_secret(secret: &str) {
    assert!(secret.len() >= 8, "too short to be a distinctive secret");
    let mut list = FORBIDDEN.lock().unwrap_or_else(|e| e.into_inner());
    if !list.iter().any(|s| s == secret) {
        list.push(secret.to_string());
    }
}

/// [`PASSWORD`] and every secret given to [`forbid_secret`].
pub fn secrets() -> Vec<String> {
    let mut all = vec![PASSWORD.to_string()];
    all.extend(
        FORBIDDEN
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned(),
    );
    all
}

/// A running `dynhost ... run`.
pub struct Agent {
    child: Option<Child>,
    log: Arc<Log>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Agent {
    /// Starts `dynhost -c CONFIG ARGS... run` with debug logs and waits until it is ready.
    pub fn start(config: &Path, args: &[&str]) -> Agent {
        let mut cmd = Command::new(BIN);
        cmd.arg("-c").arg(config).args(args).arg("run");
        Agent::spawn(cmd)
    }

    /// Starts a prepared command and waits for "ready".
    pub fn spawn(mut cmd: Command) -> Agent {
        if std::env::var_os("DYNHOST_LOG").is_none() {
            cmd.env("DYNHOST_LOG", LOG_LEVEL);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("cannot start dynhost");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Log::default());
        let sink = log.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("[dynhost] {line}");
                sink.lines.lock().unwrap().push(line);
                sink.grew.notify_all();
            }
        });
        let agent = Agent {
            child: Some(child),
            log,
            reader: Some(reader),
        };
        agent.wait_log("ready", Duration::from_secs(10));
        agent
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    pub fn log(&self) -> String {
        self.log.lines.lock().unwrap().join("\n")
    }

    /// Lines containing `needle` so far.
    pub fn count(&self, needle: &str) -> usize {
        self.log
            .lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Waits until a line contains `needle`; panics with the log if none does in time.
    pub fn wait_log(&self, needle: &str, timeout: Duration) {
        self.wait_count(needle, 1, timeout);
    }

    /// Waits until `n` lines contain `needle`.
    pub fn wait_count(&self, needle: &str, n: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut lines = self.log.lines.lock().unwrap();
        loop {
            if lines.iter().filter(|l| l.contains(needle)).count() >= n {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                drop(lines);
                panic!(
                    "dynhost did not log {needle:?} {n} time(s) within {timeout:?}; log:\n{}",
                    self.log()
                );
            }
            lines = self.log.grew.wait_timeout(lines, left).unwrap().0;
        }
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: sending a signal to our own child.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// SIGTERM, then waits (at most 5 s) for the exit status.
    pub fn stop(mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        let status = self
            .wait(Duration::from_secs(5))
            .expect("dynhost did not exit within 5 s of SIGTERM");
        assert_no_secret("the daemon's log", &self.log());
        status
    }

    /// Waits for the process to exit by itself.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut().unwrap();
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                if let Some(r) = self.reader.take() {
                    let _ = r.join();
                }
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        if !std::thread::panicking() {
            assert_no_secret("the daemon's log", &self.log());
        }
    }
}

/// Runs `dynhost -c CONFIG ARGS...` to completion (one-shot commands).
pub fn run(config: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("-c").arg(config).args(args);
    run_command(cmd, args)
}

/// `dynhost -c CONFIG ARGS...` in a private mount namespace, after the shell commands
/// `setup` (mounts a test needs: a read-only or a full state directory). Fails clearly
/// without `unshare`.
pub fn in_mount_namespace(setup: &str, config: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-ec"])
        .arg(format!("{setup}\nexec \"$0\" \"$@\""))
        .arg(BIN)
        .arg("-c")
        .arg(config)
        .args(args);
    cmd
}

/// Runs a prepared dynhost command to completion, at trace level, and checks its
/// output for secrets.
pub fn run_command(mut cmd: Command, args: &[&str]) -> Output {
    let out = cmd
        .env("DYNHOST_LOG", LOG_LEVEL)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run dynhost (or unshare: install util-linux)");
    assert_no_secret("stdout", &String::from_utf8_lossy(&out.stdout));
    assert_no_secret("stderr", &String::from_utf8_lossy(&out.stderr));
    eprintln!(
        "[dynhost {}] exit {:?}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Waits until `cond` holds; panics with `what` if it does not within `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Lets time pass (for "nothing more happens" checks).
pub fn settle(d: Duration) {
    std::thread::sleep(d);
}
