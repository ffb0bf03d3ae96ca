//! tracing set-up: stderr, a target filter from -v/-q or DYNHOST_LOG.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
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
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    // journald stamps every line itself.
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let registry = tracing_subscriber::registry().with(filter);
    let result = if journald {
        registry.with(fmt.without_time()).try_init()
    } else {
        registry.with(fmt).try_init()
    };
    result.map_err(|e| format!("cannot set up logging: {e}"))
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
}
