//! tracing set-up: stderr, a target filter from -v/-q or DYNHOST_LOG; or the system
//! log with each event's own priority when DYNHOST_SYSLOG is set.
//!
//! Why the system log: procd (OpenWrt) turns a service's stderr into log lines at one
//! priority, LOG_ERR, so every line of ours showed as `daemon.err` in `logread`. The
//! OpenWrt init script sets DYNHOST_SYSLOG=1: each event then goes to /dev/log (logd)
//! as `daemon.err`, `daemon.warn`, `daemon.info` or `daemon.debug`, as its level says.

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;

use tracing::level_filters::LevelFilter;
use tracing::{Level, Metadata};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;

/// `verbose`/`quiet` counts win over `env` (DYNHOST_LOG, e.g. "debug" or
/// "dynhost=debug,warn"). Libraries log at warn and above unless asked for more.
pub fn init(verbose: u8, quiet: u8, env: Option<&str>) -> Result<(), String> {
    let level = match (verbose, quiet) {
        (0, 0) => None,
        (1, _) => Some(LevelFilter::DEBUG),
        (v, _) if v >= 2 => Some(LevelFilter::TRACE),
        (_, 1) => Some(LevelFilter::WARN),
        _ => Some(LevelFilter::ERROR),
    };
    let filter = match (level, env.map(str::trim).filter(|s| !s.is_empty())) {
        (Some(l), _) => own(l),
        (None, Some(spec)) => spec_filter(spec)?,
        (None, None) => own(LevelFilter::INFO),
    };
    let registry = tracing_subscriber::registry().with(filter);
    let (syslog, unreachable) = match std::env::var_os("DYNHOST_SYSLOG") {
        Some(v) if !v.is_empty() => {
            let path = syslog_path(&v.to_string_lossy());
            match Syslog::connect(path.clone()) {
                Ok(s) => (Some(s), None),
                Err(e) => (None, Some(format!("{}: {e}", path.display()))),
            }
        }
        _ => (None, None),
    };
    let fmt = tracing_subscriber::fmt::layer().with_target(false);
    // journald and logd stamp every line themselves.
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let result = match syslog {
        Some(s) => registry
            .with(
                fmt.with_writer(s)
                    .with_ansi(false)
                    .without_time()
                    .with_level(false),
            )
            .try_init(),
        None if journald => registry
            .with(fmt.with_writer(std::io::stderr).without_time())
            .try_init(),
        None => registry.with(fmt.with_writer(std::io::stderr)).try_init(),
    };
    result.map_err(|e| format!("cannot set up logging: {e}"))?;
    if let Some(why) = unreachable {
        tracing::warn!("cannot reach the system log ({why}): logging to stderr");
    }
    Ok(())
}

/// DYNHOST_SYSLOG: a socket path, or any other value for /dev/log.
fn syslog_path(value: &str) -> PathBuf {
    if value.starts_with('/') {
        PathBuf::from(value)
    } else {
        PathBuf::from("/dev/log")
    }
}

/// The syslog priority (facility daemon) of an event at `level`.
fn priority(level: &Level) -> u8 {
    const DAEMON: u8 = 3 << 3;
    DAEMON
        + match *level {
            Level::ERROR => 3, // LOG_ERR
            Level::WARN => 4,  // LOG_WARNING
            Level::INFO => 6,  // LOG_INFO
            _ => 7,            // LOG_DEBUG
        }
}

/// One syslog datagram as logd and syslogd read it: `<PRI>dynhost[PID]: MESSAGE`.
fn datagram(pri: u8, pid: u32, message: &[u8]) -> Vec<u8> {
    let message = message.strip_suffix(b"\n").unwrap_or(message);
    let mut out = format!("<{pri}>dynhost[{pid}]: ").into_bytes();
    out.extend_from_slice(message);
    out
}

/// The system log's socket; each event's writer sends one datagram when dropped.
struct Syslog {
    path: PathBuf,
    sock: std::sync::Mutex<UnixDatagram>,
}

impl Syslog {
    fn connect(path: PathBuf) -> std::io::Result<Syslog> {
        let sock = UnixDatagram::unbound()?;
        sock.connect(&path)?;
        Ok(Syslog {
            path,
            sock: std::sync::Mutex::new(sock),
        })
    }

    /// Sends one datagram; reconnects once (logd restarted); else stderr has it.
    fn send(&self, bytes: &[u8]) {
        let mut sock = self.sock.lock().unwrap_or_else(|e| e.into_inner());
        if sock.send(bytes).is_ok() {
            return;
        }
        if let Ok(fresh) = UnixDatagram::unbound()
            && fresh.connect(&self.path).is_ok()
            && fresh.send(bytes).is_ok()
        {
            *sock = fresh;
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(bytes);
        let _ = err.write_all(b"\n");
    }
}

struct SyslogLine<'a> {
    to: &'a Syslog,
    pri: u8,
    buf: Vec<u8>,
}

impl Write for SyslogLine<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for SyslogLine<'_> {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            self.to
                .send(&datagram(self.pri, std::process::id(), &self.buf));
        }
    }
}

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = SyslogLine<'a>;
    fn make_writer(&'a self) -> SyslogLine<'a> {
        SyslogLine {
            to: self,
            pri: priority(&Level::INFO),
            buf: Vec::new(),
        }
    }
    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> SyslogLine<'a> {
        SyslogLine {
            to: self,
            pri: priority(meta.level()),
            buf: Vec::new(),
        }
    }
}

fn own(level: LevelFilter) -> Targets {
    // Trace means everything, libraries included; otherwise they stay at warn.
    let others = if level == LevelFilter::TRACE {
        level
    } else {
        LevelFilter::WARN.min(level)
    };
    Targets::new()
        .with_target("dynhost", level)
        .with_default(others)
}

/// A bare level applies to dynhost only; anything else is a full target list.
fn spec_filter(spec: &str) -> Result<Targets, String> {
    if let Ok(level) = spec.parse::<LevelFilter>() {
        return Ok(own(level));
    }
    spec.parse::<Targets>()
        .map_err(|e| format!("DYNHOST_LOG={spec:?} is not a log filter: {e}"))
}

/// The operator messages logged (by this thread) while `f` runs, one string per event:
/// `LEVEL message field=value ...`, as an operator reads them. For tests of what the
/// engine and the driver say, without a daemon or a namespace (the binary never calls
/// it, so it is not linked in).
///
/// One global subscriber writes into a per-thread buffer: a scoped one
/// (`with_default`) races with tests on other threads over tracing's callsite cache
/// and can miss events. A process that installed its own subscriber captures nothing.
pub fn capture(f: impl FnOnce()) -> Vec<String> {
    use std::cell::RefCell;
    thread_local! {
        static LINES: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    struct ThisThread;
    impl std::io::Write for ThisThread {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            LINES.with(|l| l.borrow_mut().extend_from_slice(buf));
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_writer(|| ThisThread)
            .with_ansi(false)
            .without_time()
            .with_target(false)
            .with_max_level(tracing::Level::DEBUG)
            .try_init();
    });
    LINES.with(|l| l.borrow_mut().clear());
    f();
    let bytes = LINES.with(RefCell::take);
    String::from_utf8_lossy(&bytes)
        .lines()
        .map(|l| l.trim().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn filters() {
        let t = spec_filter("debug").unwrap();
        assert!(t.would_enable("dynhost::engine", &Level::DEBUG));
        assert!(!t.would_enable("hyper", &Level::DEBUG));
        let t = spec_filter("dynhost=trace,hyper=debug").unwrap();
        assert!(t.would_enable("hyper::proto", &Level::DEBUG));
        assert!(spec_filter("dynhost=loud").is_err());
        let t = own(LevelFilter::ERROR);
        assert!(!t.would_enable("rustls", &Level::WARN));
        let t = spec_filter("trace").unwrap();
        assert!(t.would_enable("hyper", &Level::TRACE));
    }

    #[test]
    fn syslog_priorities_and_datagrams() {
        // daemon.err, daemon.warn, daemon.info, daemon.debug.
        assert_eq!(priority(&Level::ERROR), 27);
        assert_eq!(priority(&Level::WARN), 28);
        assert_eq!(priority(&Level::INFO), 30);
        assert_eq!(priority(&Level::DEBUG), 31);
        assert_eq!(priority(&Level::TRACE), 31);
        assert_eq!(
            datagram(30, 42, b"published 203.0.113.7\n"),
            b"<30>dynhost[42]: published 203.0.113.7".to_vec()
        );
        assert_eq!(syslog_path("1"), PathBuf::from("/dev/log"));
        assert_eq!(syslog_path("/run/x.sock"), PathBuf::from("/run/x.sock"));
    }

    #[test]
    fn syslog_writer_sends_one_datagram_per_event_at_its_priority() {
        let dir = std::env::temp_dir().join(format!("dynhost-syslog-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log");
        let server = UnixDatagram::bind(&path).unwrap();
        let log = Syslog::connect(path.clone()).unwrap();
        {
            let mut w = log.make_writer();
            w.write_all(b"one ").unwrap();
            w.write_all(b"event\n").unwrap();
        }
        let mut buf = [0u8; 256];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(
            &buf[..n],
            format!("<30>dynhost[{}]: one event", std::process::id()).as_bytes()
        );
        // logd restarted: a new socket at the same path; the next event reconnects.
        drop(server);
        std::fs::remove_file(&path).unwrap();
        let server = UnixDatagram::bind(&path).unwrap();
        log.send(b"<27>dynhost[1]: again");
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"<27>dynhost[1]: again");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
