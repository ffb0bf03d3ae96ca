//! `dynhost run`: the daemon. Binds the control socket, takes the state lock, installs
//! the signal handlers, then hands over to the daemon driver until SIGTERM.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use super::{Error, Exit, Result};
use crate::clock::ClockWatch;
use crate::config::{self, Config};
use crate::driver::{Command, Edges, Rtnetlink, daemon};
use crate::provider::Sender;
use crate::source::Sources;
use crate::state::{Lock, LockError, StateMap, Store};
use crate::{control, netlink, systemd};

pub async fn run(config: Config, dry_run: bool) -> Result<Exit> {
    let publisher = Sender::new(&config, dry_run).map_err(Error::Config)?;
    let mut outside = Sources::new(&config).map_err(Error::Config)?;
    if dry_run {
        outside = outside.in_memory();
    }
    let mut store = Store::new(&config.state_dir, dry_run);
    let (tx, rx) = mpsc::unbounded_channel();
    // Hooks reach us here; a dry run stays out of a real daemon's way. Binding first
    // also tells at once whether another daemon is already listening.
    let mut _lock = None;
    if !dry_run {
        let listener = control::bind(&config.control_socket).map_err(|e| {
            Error::Failed(format!("control socket: {e}; is dynhost already running?"))
        })?;
        // A hook's one-shot round (at boot, a PPP link often comes up first) may hold
        // the lock for one request: wait for it rather than fail.
        let wait = config.provider.timeout + Duration::from_secs(10);
        _lock = lock(&mut store, wait)?;
        tokio::spawn(control::serve(listener, tx.clone()));
    }
    let state = load_state(&mut store);
    watch_clock(tx.clone());
    let shutdown = signals(config.source.clone(), tx)?;
    let edges = Edges {
        config,
        kernel: Rtnetlink {
            // A small buffer provokes overruns in tests (the resync path).
            rcvbuf: std::env::var("DYNHOST_NETLINK_RCVBUF")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(netlink::DEFAULT_RCVBUF),
        },
        publisher,
        outside,
        store,
        state,
    };
    let ready = || {
        info!("ready");
        systemd::notify("READY=1");
    };
    daemon::run(
        edges,
        move |c: &Config| Sender::new(c, dry_run),
        rx,
        shutdown,
        ready,
    )
    .await
    .map_err(Error::Failed)?;
    systemd::notify("STOPPING=1");
    Ok(Exit::Success)
}

/// The state lock. A lock another process holds is an error; a state directory that
/// cannot be written is not: the state is then kept in memory only, and said so.
pub fn lock(store: &mut Store, wait: Duration) -> Result<Option<Lock>> {
    match store.lock(wait) {
        Ok(lock) => Ok(Some(lock)),
        Err(LockError::Held(e)) => Err(Error::Failed(format!(
            "cannot take the state lock: {e}; is dynhost already running?"
        ))),
        Err(LockError::Unwritable(e)) => {
            warn!(
                error = %e,
                "the state directory cannot be written: running from memory, without the \
                 state lock; published addresses, retry times and the hourly budget are \
                 not kept across restarts. Fix the directory's permissions or state_dir"
            );
            store.keep_in_memory();
            Ok(None)
        }
    }
}

/// The state file, or an empty state when it cannot be read (each record is then sent
/// once).
pub fn load_state(store: &mut Store) -> StateMap {
    store.load().unwrap_or_else(|e| {
        warn!(error = %e, "state file unreadable; starting without it (records are sent once)");
        StateMap::new()
    })
}

/// Tells the daemon each time the system clock is set: TLS that failed on a wrong
/// clock after boot is retried at once. Without a timerfd, retries keep their backoff.
fn watch_clock(tx: mpsc::UnboundedSender<Command>) {
    match ClockWatch::new() {
        Ok(mut watch) => {
            tokio::spawn(async move {
                while watch.changed().await.is_ok() {
                    if tx.send(Command::ClockSet).is_err() {
                        return;
                    }
                }
            });
        }
        Err(e) => warn!(error = %e, "cannot watch the system clock; retries after a clock \
                                     change keep their backoff"),
    }
}

/// SIGHUP reloads `source` into the daemon; the future returned resolves at SIGTERM or
/// SIGINT.
fn signals(
    source: Option<PathBuf>,
    tx: mpsc::UnboundedSender<Command>,
) -> Result<impl Future<Output = ()>> {
    let install = |kind| {
        signal(kind).map_err(|e| Error::Failed(format!("cannot install signal handlers: {e}")))
    };
    let mut hup = install(SignalKind::hangup())?;
    let mut term = install(SignalKind::terminate())?;
    let mut int = install(SignalKind::interrupt())?;
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            reload(source.clone(), &tx).await;
        }
    });
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

/// How long a reload may take to read its files before it is given up.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(10);

/// SIGHUP: load and validate; a broken file keeps the running config. The files are
/// read on a blocking thread, bounded in size and time: the daemon's loop never waits
/// for them (a password file that is a FIFO, say).
async fn reload(path: Option<PathBuf>, tx: &mpsc::UnboundedSender<Command>) {
    let Some(path) = path else {
        warn!("SIGHUP: running on the embedded default, there is no file to reload");
        return;
    };
    let shown = path.display().to_string();
    let read = tokio::task::spawn_blocking(move || config::load(&path));
    match tokio::time::timeout(RELOAD_TIMEOUT, read).await {
        Ok(Ok(Ok(loaded))) => {
            super::warned::tell(&loaded.warnings, &loaded.config.state_dir, false);
            info!(path = %shown, "SIGHUP: config loaded");
            let _ = tx.send(Command::Reload(Box::new(loaded.config)));
        }
        Ok(Ok(Err(e))) => error!("SIGHUP: reload failed, keeping the running config: {e}"),
        Ok(Err(e)) => error!("SIGHUP: reload failed, keeping the running config: {e}"),
        Err(_) => error!(
            path = %shown,
            "SIGHUP: reading the config took over {}s; keeping the running config",
            RELOAD_TIMEOUT.as_secs()
        ),
    }
}
